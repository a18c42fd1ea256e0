"""A stand-in for the breakglass API (SPEC 5) in front of the daemon, for
the browser tests while the real session and login routes are built on
other branches: /api/* is answered here, to the contract, and everything
else is passed to the daemon, so the page, its headers and its CSP are
the real ones, from one origin.

Tests steer it: hang turns until Stop, drop every stream (a network
that goes away), refuse new streams for a while, fail the session list,
or misbehave on
purpose and replay everything from the start whatever Last-Event-ID
says (the page must fold events by id and show nothing twice).
"""
import http.client
import json
import socket
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COOKIE = 'cas_stub_session'
VERBS = ['cycle', 'forensics', 'reset', 'start', 'status', 'stop']
MUTATING = ['cycle', 'reset', 'start', 'stop']
PASSED_HEADERS = ('Content-Type', 'Content-Length', 'ETag', 'Cache-Control',
                  'Content-Security-Policy', 'X-Content-Type-Options', 'Referrer-Policy',
                  'X-Frame-Options')


class Session:
    def __init__(self):
        self.id = str(uuid.uuid4())
        self.created = time.time()
        self.events = []
        self.turn_active = False


class StubApi:
    def __init__(self, daemon_port, token):
        self.daemon_port = daemon_port
        self.token = token
        self.cookie_value = uuid.uuid4().hex
        self.lock = threading.Condition()
        self.sessions = {}
        self.reply_chunks = ['Hello', ' from', ' the stub.']
        self.hang = False
        self.replay_from_zero = False
        self.refuse_streams = False
        self.sessions_broken = False
        self.stream_requests = []     # (path with query, Last-Event-ID header)
        self.verb_calls = []
        self.streams = set()
        handler = type('Handler', (_Handler,), {'stub': self})
        self.server = ThreadingHTTPServer(('127.0.0.1', 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.drop_streams()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    # --- what tests call ---

    def drop_streams(self):
        """Closes every open stream, as a network that goes away would."""
        with self.lock:
            streams = list(self.streams)
            self.streams.clear()
            self.lock.notify_all()
        for sock in streams:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def open_streams(self):
        with self.lock:
            return len(self.streams)

    def add_event(self, session, event):
        with self.lock:
            event = dict(event, id=len(session.events))
            session.events.append(event)
            self.lock.notify_all()

    def finish_turn(self, session, cancelled=False):
        if cancelled:
            self.add_event(session, {'kind': 'cancelled'})
        else:
            self.add_event(session, {'kind': 'result', 'is_error': False,
                                     'result': ''.join(self.reply_chunks), 'duration_ms': 1234})
        session.turn_active = False
        self.add_event(session, {'kind': 'turn_end'})

    def run_turn(self, session, prompt):
        session.turn_active = True
        self.add_event(session, {'kind': 'user', 'text': prompt})
        self.add_event(session, {'kind': 'session', 'session_id': session.id})
        if self.hang:
            self.add_event(session, {'kind': 'tool', 'name': 'Bash',
                                     'input': {'command': 'journalctl -p err -n 50'}})
            return
        for chunk in self.reply_chunks:
            self.add_event(session, {'kind': 'text', 'text': chunk})
        self.finish_turn(session)


class _Handler(BaseHTTPRequestHandler):
    stub = None

    def log_message(self, *args):
        pass

    def reply(self, status, body=None, headers=()):
        data = json.dumps(body if body is not None else {}).encode('utf-8')
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(data)

    def body(self):
        length = int(self.headers.get('Content-Length') or 0)
        raw = self.rfile.read(length) if length else b''
        try:
            return json.loads(raw.decode('utf-8')) if raw else {}
        except ValueError:
            return None

    def logged_in(self):
        cookies = self.headers.get('Cookie') or ''
        return f'{COOKIE}={self.stub.cookie_value}' in [c.strip() for c in cookies.split(';')]

    def pass_to_daemon(self):
        conn = http.client.HTTPConnection('127.0.0.1', self.stub.daemon_port, timeout=30)
        try:
            headers = {}
            if self.headers.get('If-None-Match'):
                headers['If-None-Match'] = self.headers['If-None-Match']
            conn.request(self.command, self.path, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            self.send_response(resp.status)
            for name in PASSED_HEADERS:
                if resp.getheader(name) is not None:
                    self.send_header(name, resp.getheader(name))
            self.end_headers()
            self.wfile.write(data)
        finally:
            conn.close()

    def do_HEAD(self):
        self.pass_to_daemon()

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if not url.path.startswith('/api/'):
            self.pass_to_daemon()
            return
        if not self.logged_in():
            self.reply(401, {'error': 'unauthorized', 'detail': 'not logged in'})
            return
        stub = self.stub
        if url.path == '/api/sessions' and stub.sessions_broken:
            self.reply(500, {'error': 'internal_error', 'detail': 'session store unreadable'})
        elif url.path == '/api/sessions':
            with stub.lock:
                # The daemon's shape (cas-session-routes.c), newest first.
                sessions = [{'id': s.id, 'created': int(s.created),
                             'last_activity': int(s.created), 'turn_active': s.turn_active,
                             'event_count': len(s.events)}
                            for s in sorted(stub.sessions.values(), key=lambda s: -s.created)]
            self.reply(200, {'sessions': sessions})
        elif url.path == '/api/pve/verbs':
            self.reply(200, {'verbs': VERBS, 'mutating': MUTATING})
        elif url.path.startswith('/api/session/') and url.path.endswith('/stream'):
            self.stream(url.path[len('/api/session/'):-len('/stream')], url.query)
        else:
            self.reply(404, {'error': 'not_found', 'detail': 'no such route'})

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        stub = self.stub
        body = self.body()
        if url.path == '/api/login':
            if isinstance(body, dict) and body.get('token') == stub.token:
                self.reply(200, {}, [('Set-Cookie', f'{COOKIE}={stub.cookie_value}; HttpOnly; '
                                                    'SameSite=Strict; Path=/api')])
            else:
                self.reply(401, {'error': 'unauthorized', 'detail': 'invalid token'})
            return
        if not self.logged_in():
            self.reply(401, {'error': 'unauthorized', 'detail': 'not logged in'})
            return
        if url.path == '/api/logout':
            self.reply(200, {}, [('Set-Cookie', f'{COOKIE}=; Max-Age=0; Path=/api')])
        elif url.path == '/api/session':
            session = Session()
            with stub.lock:
                stub.sessions[session.id] = session
            self.reply(200, {'session_id': session.id})
        elif url.path.startswith('/api/pve/'):
            verb = url.path[len('/api/pve/'):]
            if verb not in VERBS:
                self.reply(400, {'error': 'bad_request', 'detail': f"unknown verb '{verb}'"})
                return
            stub.verb_calls.append(verb)
            self.reply(200, {'verb': verb, 'exit_code': 0, 'stdout': f'{verb}: VM 102 ok\n',
                             'stderr': '', 'rejected': False})
        elif url.path.startswith('/api/session/'):
            sid, _, action = url.path[len('/api/session/'):].partition('/')
            session = stub.sessions.get(sid)
            if session is None:
                self.reply(404, {'error': 'not_found', 'detail': 'session not found'})
            elif action == 'prompt':
                if not isinstance(body, dict) or not isinstance(body.get('prompt'), str) \
                        or not body['prompt'].strip():
                    self.reply(400, {'error': 'bad_request', 'detail': 'prompt must be a string'})
                elif session.turn_active:
                    self.reply(409, {'error': 'conflict', 'detail': 'a turn is already running'})
                else:
                    self.reply(200, {'status': 'started'})
                    stub.run_turn(session, body['prompt'])
            elif action == 'cancel':
                running = session.turn_active
                if running:
                    stub.finish_turn(session, cancelled=True)
                self.reply(200, {'cancelled': running})
            else:
                self.reply(404, {'error': 'not_found', 'detail': 'no such route'})
        else:
            self.reply(404, {'error': 'not_found', 'detail': 'no such route'})

    def stream(self, sid, query):
        stub = self.stub
        header = self.headers.get('Last-Event-ID')
        stub.stream_requests.append((self.path, header))
        session = stub.sessions.get(sid)
        if session is None:
            self.reply(404, {'error': 'not_found', 'detail': 'session not found'})
            return
        if stub.refuse_streams:
            self.reply(503, {'error': 'busy', 'detail': 'try again later'})
            return
        after = -1
        params = urllib.parse.parse_qs(query)
        for value in (header, (params.get('last_event_id') or [None])[0]):
            if value is not None and value.strip().lstrip('-').isdigit():
                after = int(value)
                break
        if stub.replay_from_zero:
            after = -1
        self.send_response(200)
        self.send_header('Content-Type', 'text/event-stream')
        self.send_header('Cache-Control', 'no-cache')
        self.end_headers()
        sock = self.connection
        with stub.lock:
            stub.streams.add(sock)
        sent = after
        try:
            self.wfile.write(b'retry: 500\n\n')
            caught_up = False
            while True:
                with stub.lock:
                    if sock not in stub.streams:
                        return
                    pending = session.events[sent + 1:]
                    if not pending and caught_up:
                        stub.lock.wait(1.0)
                        pending = session.events[sent + 1:]
                for event in pending:
                    frame = f'id: {event["id"]}\ndata: {json.dumps(event, ensure_ascii=False)}\n\n'
                    self.wfile.write(frame.encode('utf-8'))
                    sent = event['id']
                if not caught_up:
                    self.wfile.write(b'event: caught-up\ndata: {}\n\n')
                    caught_up = True
                elif not pending:
                    self.wfile.write(b': keepalive\n\n')
                self.wfile.flush()
        except OSError:
            pass
        finally:
            with stub.lock:
                stub.streams.discard(sock)
