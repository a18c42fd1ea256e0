#!/usr/bin/python3
"""A fake of the GitHub REST API v3, for the parts the AFK loop uses.

Run it as a program (tests/fakes/README.md, "fake GitHub"), or import it
and use FakeGitHub to start, seed, inspect and stop one. It serves on
127.0.0.1 only, and refuses what GitHub refuses: no token, a wrong token,
no User-Agent, unknown repos and issues, bodies of the wrong shape.
"""
import argparse
import copy
import datetime
import http.client
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import zlib

DOCS = 'https://docs.github.com/rest'
DEFAULT_TOKENS = {'test-github-token': 'afk-bot'}
NAME_RE = r'[A-Za-z0-9._-]+'
MAX_BODY = 1 << 20


def empty_state():
    return {
        'tokens': dict(DEFAULT_TOKENS),
        'per_page': 2,
        'max_per_page': 100,
        'repos': {},
        'rate_limit': None,
        'faults': [],
    }


def empty_repo():
    return {
        'default_branch': 'main',
        'issues': [],
        'events': {},
        'comments': [],
        'collaborators': {},
        'commits': {},
        'check_runs': {},
    }


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def parse_iso(value):
    """GitHub's ISO 8601 timestamp (YYYY-MM-DDTHH:MM:SSZ or an offset), or None."""
    if not isinstance(value, str) or not re.fullmatch(
            r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)', value):
        return None
    try:
        return datetime.datetime.fromisoformat(value.replace('Z', '+00:00'))
    except ValueError:
        return None


class Fake:
    """The state, shared by the handler threads under one lock."""

    def __init__(self, state):
        self.lock = threading.Lock()
        self.state = empty_state()
        self.load(state)
        self.requests = []
        self.next_id = 1000
        self.rate_remaining = 5000

    def load(self, state):
        fresh = empty_state()
        fresh.update(copy.deepcopy(state or {}))
        repos = {}
        for name, repo in fresh['repos'].items():
            full = empty_repo()
            full.update(repo)
            repos[name] = full
        fresh['repos'] = repos
        self.state = fresh

    def new_id(self):
        self.next_id += 1
        return self.next_id


def error_body(message, **extra):
    body = {'message': message, 'documentation_url': DOCS}
    body.update(extra)
    return body


def validation_failed(field, code='invalid'):
    return error_body('Validation Failed',
                      errors=[{'resource': 'Issue', 'field': field, 'code': code}],
                      status='422')


class Reply(Exception):
    """Raised to answer at once."""

    def __init__(self, status, body, headers=None, rate=True):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.rate = rate


def issue_json(base, repo_name, issue):
    out = {
        'id': issue['number'] * 1000 + 1,
        'number': issue['number'],
        'title': issue.get('title', ''),
        'body': issue.get('body'),
        'state': issue.get('state', 'open'),
        'labels': [{'id': zlib.crc32(n.encode()), 'name': n, 'color': 'ededed'}
                   for n in issue.get('labels', [])],
        'user': {'login': issue.get('author', 'someone')},
        'url': f'{base}/repos/{repo_name}/issues/{issue["number"]}',
        'html_url': f'https://github.com/{repo_name}/issues/{issue["number"]}',
        'created_at': issue.get('created_at', '2026-01-01T00:00:00Z'),
    }
    if issue.get('pull_request'):
        out['pull_request'] = {'url': f'{base}/repos/{repo_name}/pulls/{issue["number"]}'}
    return out


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'GitHub.com'
    sys_version = ''

    def setup(self):
        super().setup()
        # Headers and body go out in two writes: without this, Nagle and
        # delayed ACKs stall every keep-alive answer by 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write('fake_github: ' + (fmt % args) + '\n')

    # -- plumbing ---------------------------------------------------------

    def send_json(self, status, body, headers=None, rate=True):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json; charset=utf-8')
        self.send_header('Content-Length', str(len(data)))
        if rate:
            fake = self.server.fake
            self.send_header('X-RateLimit-Limit', '5000')
            self.send_header('X-RateLimit-Remaining', str(max(fake.rate_remaining, 0)))
            self.send_header('X-RateLimit-Reset', str(int(time.time()) + 3600))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(data)

    def read_body(self):
        length = self.headers.get('Content-Length')
        if length is None:
            return b''
        try:
            n = int(length)
        except ValueError:
            raise Reply(400, error_body('Bad Content-Length'))
        if n < 0 or n > MAX_BODY:
            raise Reply(413, error_body('Body too large'))
        return self.rfile.read(n)

    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        try:
            raw = self.read_body()
        except Reply as r:
            self.send_json(r.status, r.body)
            return
        if path.startswith('/_fake/'):
            self.control(path, raw)
            return
        fake = self.server.fake
        entry = {
            'method': self.command,
            'path': path,
            'query': {k: v[-1] for k, v in query.items()},
            'authorization': self.headers.get('Authorization'),
            'user_agent': self.headers.get('User-Agent'),
            'accept': self.headers.get('Accept'),
            'api_version': self.headers.get('X-GitHub-Api-Version'),
            'content_type': self.headers.get('Content-Type'),
            'body': raw.decode('utf-8', 'replace') if raw else None,
        }
        with fake.lock:
            fake.requests.append(entry)
            fault = self.take_fault(path)
        if fault is not None:
            self.answer_fault(fault)
            return
        try:
            self.check_access()
            with fake.lock:
                status, body, headers = self.route(path, query, raw)
            self.send_json(status, body, headers)
        except Reply as r:
            self.send_json(r.status, r.body, r.headers, rate=r.rate)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = handle_any

    def take_fault(self, path):
        faults = self.server.fake.state['faults']
        for fault in faults:
            if fault.get('method', self.command) != self.command:
                continue
            if fault.get('path') != path:
                continue
            times = fault.get('times')
            if times is not None:
                if times <= 0:
                    continue
                fault['times'] = times - 1
            return dict(fault)
        return None

    def answer_fault(self, fault):
        status = fault.get('status', 200)
        headers = fault.get('headers', {})
        if 'stream_bytes' in fault:
            # No length: the body ends when the connection does.
            self.send_response(status)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Connection', 'close')
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.close_connection = True
            chunk = b'[' + b' ' * 65534 + b'\n'
            left = fault['stream_bytes']
            try:
                while left > 0:
                    self.wfile.write(chunk[:left])
                    left -= len(chunk)
                self.wfile.flush()
                time.sleep(fault.get('hang_seconds', 0))
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        if 'declare_length' in fault:
            # Announces a huge body and sends only the start of it.
            self.send_response(status)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(fault['declare_length']))
            self.end_headers()
            self.close_connection = True
            try:
                self.wfile.write(b'[')
                self.wfile.flush()
                # Then, if asked, hold the connection open without a word.
                time.sleep(fault.get('hang_seconds', 0))
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        body = fault.get('body', '')
        data = body.encode('utf-8', 'surrogateescape') if isinstance(body, str) else json.dumps(body).encode()
        self.send_json(status, data, headers, rate=fault.get('rate_headers', True))

    def check_access(self):
        fake = self.server.fake
        if not self.headers.get('User-Agent'):
            # GitHub answers this in plain text, not JSON.
            raise Reply(403, b'Request forbidden by administrative rules. '
                        b'Please make sure your request has a User-Agent header '
                        b'(https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). '
                        b'Check https://developer.github.com for other possible causes.\n')
        auth = self.headers.get('Authorization')
        if auth is None:
            raise Reply(401, error_body('Requires authentication'))
        m = re.fullmatch(r'(?i:bearer|token) (\S+)', auth)
        if m is None or m.group(1) not in fake.state['tokens']:
            raise Reply(401, error_body('Bad credentials'))
        self.login = fake.state['tokens'][m.group(1)]
        limit = fake.state.get('rate_limit')
        if limit:
            headers = {
                'X-RateLimit-Limit': '5000',
                'X-RateLimit-Remaining': '0',
                'X-RateLimit-Reset': str(limit.get('reset', int(time.time()) + 60)),
            }
            if 'retry_after' in limit:
                headers['Retry-After'] = str(limit['retry_after'])
            raise Reply(limit.get('status', 403),
                        error_body('API rate limit exceeded for user ID 1.'),
                        headers, rate=False)
        with fake.lock:
            fake.rate_remaining -= 1

    # -- the API ------------------------------------------------------------

    def base(self):
        return f'http://{self.headers.get("Host", "127.0.0.1")}'

    def page(self, items, query):
        """One page of @items, with GitHub's Link header."""
        state = self.server.fake.state
        try:
            per_page = int(query.get('per_page', [state['per_page']])[-1])
            page = int(query.get('page', ['1'])[-1])
        except ValueError:
            raise Reply(422, validation_failed('per_page'))
        per_page = max(1, min(per_page, state['max_per_page'], 100))
        page = max(page, 1)
        last = max(1, (len(items) + per_page - 1) // per_page)
        chunk = items[(page - 1) * per_page:page * per_page]
        links = []
        url = urllib.parse.urlsplit(self.path)

        def link(n, rel):
            q = {k: v[-1] for k, v in query.items()}
            q['page'] = str(n)
            q.setdefault('per_page', str(per_page))
            return f'<{self.base()}{url.path}?{urllib.parse.urlencode(q)}>; rel="{rel}"'
        if page < last:
            links += [link(page + 1, 'next'), link(last, 'last')]
        if page > 1:
            links += [link(1, 'first'), link(page - 1, 'prev')]
        return chunk, ({'Link': ', '.join(links)} if links else {})

    def json_body(self, raw):
        try:
            body = json.loads(raw.decode('utf-8'))
        except (UnicodeDecodeError, ValueError):
            raise Reply(400, error_body('Problems parsing JSON'))
        return body

    def repo(self, owner, name):
        repo = self.server.fake.state['repos'].get(f'{owner}/{name}')
        if repo is None:
            raise Reply(404, error_body('Not Found'))
        return repo

    def issue(self, repo, number):
        for issue in repo['issues']:
            if issue['number'] == number:
                return issue
        raise Reply(404, error_body('Not Found'))

    def route(self, path, query, raw):
        m = self.command
        if path == '/user' and m == 'GET':
            return 200, {'login': self.login, 'id': 1, 'type': 'Bot'}, {}
        parts = re.fullmatch(rf'/repos/({NAME_RE})/({NAME_RE})(/.*)?', path)
        if parts is None:
            raise Reply(404, error_body('Not Found'))
        owner, name, rest = parts.group(1), parts.group(2), parts.group(3) or ''
        repo = self.repo(owner, name)
        full = f'{owner}/{name}'
        base = self.base()

        if rest == '' and m == 'GET':
            return 200, {'full_name': full, 'name': name, 'owner': {'login': owner},
                         'default_branch': repo['default_branch'], 'private': False}, {}

        if rest == '/issues' and m == 'GET':
            state = query.get('state', ['open'])[-1]
            if state not in ('open', 'closed', 'all'):
                raise Reply(422, validation_failed('state'))
            wanted = [x for x in query.get('labels', [''])[-1].split(',') if x]
            items = [i for i in repo['issues']
                     if (state == 'all' or i.get('state', 'open') == state)
                     and all(w in i.get('labels', []) for w in wanted)]
            items.sort(key=lambda i: -i['number'])
            chunk, headers = self.page([issue_json(base, full, i) for i in items], query)
            return 200, chunk, headers

        mi = re.fullmatch(r'/issues/(\d+)(/.*)?', rest)
        if mi is not None:
            issue = self.issue(repo, int(mi.group(1)))
            sub = mi.group(2) or ''
            return self.issue_route(repo, full, issue, sub, query, raw)

        mc = re.fullmatch(r'/issues/comments/(\d+)', rest)
        if mc is not None and m == 'PATCH':
            body = self.json_body(raw)
            if not isinstance(body, dict) or not isinstance(body.get('body'), str):
                raise Reply(422, validation_failed('body', 'missing_field'))
            for comment in repo['comments']:
                if comment['id'] == int(mc.group(1)):
                    comment['body'] = body['body']
                    comment['updated_at'] = now_iso()
                    return 200, self.comment_json(full, comment), {}
            raise Reply(404, error_body('Not Found'))

        mp = re.fullmatch(r'/collaborators/([A-Za-z0-9-]+(?:\[bot\])?)/permission', rest)
        if mp is not None and m == 'GET':
            perm = repo['collaborators'].get(mp.group(1))
            if perm is None:
                raise Reply(404, error_body(f'{mp.group(1)} is not a user'))
            legacy = {'maintain': 'write', 'triage': 'read'}.get(perm, perm)
            return 200, {'permission': legacy, 'role_name': perm,
                         'user': {'login': mp.group(1)}}, {}

        if rest == '/commits' and m == 'GET':
            branch = query.get('sha', [repo['default_branch']])[-1]
            if branch not in repo['commits'] and branch != repo['default_branch']:
                raise Reply(404, error_body(f'No commit found for SHA: {branch}'))
            since = None
            if 'since' in query:
                since = parse_iso(query['since'][-1])
                if since is None:
                    raise Reply(422, error_body('Invalid value for since'))
            commits = list(repo['commits'].get(branch, []))
            if since is not None:
                commits = [c for c in commits if parse_iso(c['date']) >= since]
            commits.sort(key=lambda c: parse_iso(c['date']), reverse=True)
            out = [{
                'sha': c['sha'],
                'commit': {
                    'message': c.get('message', ''),
                    'author': {'name': 'dev', 'date': c['date']},
                    'committer': {'name': 'dev', 'date': c['date']},
                },
                'html_url': f'https://github.com/{full}/commit/{c["sha"]}',
            } for c in commits]
            chunk, headers = self.page(out, query)
            return 200, chunk, headers

        mr = re.fullmatch(r'/commits/([0-9a-fA-F]{4,40}|[A-Za-z0-9._/-]+)/check-runs', rest)
        if mr is not None and m == 'GET':
            runs = repo['check_runs'].get(mr.group(1))
            if runs is None:
                known = any(c['sha'] == mr.group(1) for cs in repo['commits'].values() for c in cs)
                if not known:
                    raise Reply(422, error_body(f'No commit found for SHA: {mr.group(1)}'))
                runs = []
            out = [{'id': 500 + i, 'name': r['name'], 'head_sha': mr.group(1),
                    'status': r.get('status', 'completed'),
                    'conclusion': r.get('conclusion')} for i, r in enumerate(runs)]
            chunk, headers = self.page(out, query)
            return 200, {'total_count': len(out), 'check_runs': chunk}, headers

        raise Reply(404, error_body('Not Found'))

    def comment_json(self, full, comment):
        return {
            'id': comment['id'],
            'body': comment['body'],
            'user': {'login': comment['user']},
            'created_at': comment['created_at'],
            'updated_at': comment['updated_at'],
            'html_url': f'https://github.com/{full}/issues/{comment["issue"]}#issuecomment-{comment["id"]}',
        }

    def issue_route(self, repo, full, issue, sub, query, raw):
        m = self.command
        fake = self.server.fake
        number = issue['number']
        events = repo['events'].setdefault(str(number), [])
        if sub == '' and m == 'GET':
            return 200, issue_json(self.base(), full, issue), {}
        if sub == '' and m == 'PATCH':
            body = self.json_body(raw)
            if not isinstance(body, dict):
                raise Reply(422, validation_failed('body'))
            if 'state' in body:
                if body['state'] not in ('open', 'closed'):
                    raise Reply(422, validation_failed('state'))
                if body['state'] != issue.get('state', 'open'):
                    events.append({'event': body['state'] if body['state'] == 'closed' else 'reopened',
                                   'actor': self.login})
                issue['state'] = body['state']
            if 'title' in body:
                if not isinstance(body['title'], str):
                    raise Reply(422, validation_failed('title'))
                issue['title'] = body['title']
            return 200, issue_json(self.base(), full, issue), {}
        if sub == '/events' and m == 'GET':
            out = []
            for i, e in enumerate(events):
                item = {'id': number * 10000 + i, 'event': e['event'],
                        'actor': {'login': e.get('actor', 'someone')},
                        'created_at': e.get('created_at', '2026-01-01T00:00:00Z')}
                if 'label' in e:
                    item['label'] = {'name': e['label'], 'color': 'ededed'}
                out.append(item)
            chunk, headers = self.page(out, query)
            return 200, chunk, headers
        if sub == '/labels' and m == 'POST':
            body = self.json_body(raw)
            labels = body.get('labels') if isinstance(body, dict) else None
            if not isinstance(labels, list) or not labels or \
                    not all(isinstance(x, str) and x for x in labels):
                raise Reply(422, validation_failed('labels'))
            have = issue.setdefault('labels', [])
            for label in labels:
                if label not in have:
                    have.append(label)
                    events.append({'event': 'labeled', 'actor': self.login, 'label': label,
                                   'created_at': now_iso()})
            return 200, [{'name': n, 'color': 'ededed'} for n in have], {}
        ml = re.fullmatch(r'/labels/(.+)', sub)
        if ml is not None and m == 'DELETE':
            have = issue.setdefault('labels', [])
            if ml.group(1) not in have:
                raise Reply(404, error_body('Label does not exist'))
            have.remove(ml.group(1))
            events.append({'event': 'unlabeled', 'actor': self.login, 'label': ml.group(1),
                           'created_at': now_iso()})
            return 200, [{'name': n, 'color': 'ededed'} for n in have], {}
        if sub == '/comments' and m == 'GET':
            out = [self.comment_json(full, c) for c in repo['comments'] if c['issue'] == number]
            chunk, headers = self.page(out, query)
            return 200, chunk, headers
        if sub == '/comments' and m == 'POST':
            body = self.json_body(raw)
            if not isinstance(body, dict) or not isinstance(body.get('body'), str) or not body['body']:
                raise Reply(422, validation_failed('body', 'missing_field'))
            comment = {'id': fake.new_id(), 'issue': number, 'body': body['body'],
                       'user': self.login, 'created_at': now_iso(), 'updated_at': now_iso()}
            repo['comments'].append(comment)
            return 201, self.comment_json(full, comment), {}
        raise Reply(404, error_body('Not Found'))

    # -- control ------------------------------------------------------------

    def control(self, path, raw):
        fake = self.server.fake
        try:
            body = json.loads(raw.decode('utf-8')) if raw else None
        except ValueError:
            self.send_json(400, {'error': 'control body is not JSON'}, rate=False)
            return
        with fake.lock:
            if path == '/_fake/state' and self.command == 'GET':
                out = fake.state
            elif path == '/_fake/state' and self.command == 'PUT':
                fake.load(body)
                out = fake.state
            elif path == '/_fake/requests' and self.command == 'GET':
                out = fake.requests
            elif path == '/_fake/requests' and self.command == 'DELETE':
                fake.requests = []
                out = []
            elif path == '/_fake/faults' and self.command == 'POST':
                fake.state['faults'].append(body)
                out = fake.state['faults']
            elif path == '/_fake/rate-limit' and self.command == 'PUT':
                fake.state['rate_limit'] = body
                out = body
            else:
                self.send_json(404, {'error': 'unknown control path'}, rate=False)
                return
            data = json.dumps(out).encode()
        self.send_json(200, data, rate=False)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that hangs up mid-answer is normal in hostile tests.
        pass


def serve(port_file, state, verbose=False, exit_with_stdin=False):
    server = Server(('127.0.0.1', 0), Handler)
    server.fake = Fake(state)
    server.verbose = verbose
    port = server.server_address[1]
    if port_file:
        tmp = port_file + '.tmp'
        with open(tmp, 'w') as f:
            f.write(f'{port}\n')
        os.rename(tmp, port_file)
    # SIGTERM keeps its default action: there is nothing to save, and a
    # handler that starts a thread can deadlock on the lock of a handler
    # thread being started when the signal lands.
    if exit_with_stdin:
        # The test holds the other end: when it dies, even by a crash,
        # stdin ends and so does the fake.
        def watch():
            while sys.stdin.buffer.read(4096):
                pass
            os._exit(0)
        threading.Thread(target=watch, daemon=True).start()
    sys.stdout.write(f'ready {port}\n')
    sys.stdout.flush()
    server.serve_forever()
    server.server_close()


class FakeGitHub:
    """Starts the fake in a child process, for integration tests:

        with FakeGitHub(state) as gh:
            gh.url, gh.token, gh.add_issue('o/r', 1, labels=['ready-for-agent'])
    """

    def __init__(self, state=None, per_page=2):
        self.initial = state or {}
        self.initial.setdefault('per_page', per_page)
        self.initial.setdefault('max_per_page', per_page)
        self.token = next(iter(self.initial.get('tokens', DEFAULT_TOKENS)))
        self.proc = None
        self.url = None

    def start(self):
        self.dir = tempfile.TemporaryDirectory(prefix='fake-github-')
        state_file = os.path.join(self.dir.name, 'state.json')
        port_file = os.path.join(self.dir.name, 'port')
        with open(state_file, 'w') as f:
            json.dump(self.initial, f)
        self.proc = subprocess.Popen(
            ['/usr/bin/python3', os.path.abspath(__file__),
             '--port-file', port_file, '--state', state_file, '--exit-with-stdin'],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = self.proc.stdout.readline().decode()
        if not line.startswith('ready '):
            self.stop()
            raise RuntimeError('fake GitHub did not start')
        self.port = int(line.split()[1])
        self.url = f'http://127.0.0.1:{self.port}'
        return self

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait()
            self.proc.stdin.close()
            self.proc.stdout.close()
            self.proc = None
        self.dir.cleanup()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def control(self, method, path, body=None):
        conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=30)
        try:
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, '/_fake/' + path, body=data,
                         headers={'Content-Type': 'application/json'})
            resp = conn.getresponse()
            out = resp.read()
            if resp.status != 200:
                raise RuntimeError(f'fake GitHub control {path}: {resp.status} {out!r}')
            return json.loads(out)
        finally:
            conn.close()

    def state(self):
        return self.control('GET', 'state')

    def set_state(self, state):
        return self.control('PUT', 'state', state)

    def update(self, fn):
        """Reads the state, lets fn change it, writes it back."""
        state = self.state()
        fn(state)
        return self.set_state(state)

    def repo(self, state, name):
        return state['repos'].setdefault(name, empty_repo())

    def add_repo(self, name, default_branch='main', collaborators=None):
        def fn(s):
            r = self.repo(s, name)
            r['default_branch'] = default_branch
            r['collaborators'].update(collaborators or {})
        self.update(fn)

    def add_issue(self, name, number, title='', body='', labels=(), state='open',
                  pull_request=False, labeled_by=None):
        """labeled_by: the login of a 'labeled' event for each label."""
        def fn(s):
            r = self.repo(s, name)
            r['issues'] = [i for i in r['issues'] if i['number'] != number]
            r['issues'].append({'number': number, 'title': title, 'body': body,
                                'labels': list(labels), 'state': state,
                                'pull_request': pull_request})
            if labeled_by:
                ev = r['events'].setdefault(str(number), [])
                ev += [{'event': 'labeled', 'actor': labeled_by, 'label': x} for x in labels]
        self.update(fn)

    def add_commit(self, name, branch, sha, message, date):
        self.update(lambda s: self.repo(s, name)['commits'].setdefault(branch, []).append(
            {'sha': sha, 'message': message, 'date': date}))

    def set_check_runs(self, name, sha, runs):
        self.update(lambda s: self.repo(s, name)['check_runs'].__setitem__(sha, runs))

    def add_fault(self, path, method=None, status=200, body='', times=None, **extra):
        fault = {'path': path, 'status': status, 'body': body}
        if method:
            fault['method'] = method
        if times is not None:
            fault['times'] = times
        fault.update(extra)
        return self.control('POST', 'faults', fault)

    def set_rate_limit(self, limit):
        return self.control('PUT', 'rate-limit', limit)

    def requests(self):
        return self.control('GET', 'requests')

    def clear_requests(self):
        return self.control('DELETE', 'requests')


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--port-file', help='write the port here once listening')
    parser.add_argument('--state', help='JSON file with the initial state')
    parser.add_argument('--per-page', type=int,
                        help='default and largest page size (GitHub: 30 and 100)')
    parser.add_argument('--verbose', action='store_true')
    parser.add_argument('--exit-with-stdin', action='store_true',
                        help='stop when stdin ends (when the test that started it is gone)')
    args = parser.parse_args()
    state = {}
    if args.state:
        with open(args.state, encoding='utf-8') as f:
            state = json.load(f)
    if args.per_page:
        state['per_page'] = state['max_per_page'] = args.per_page
    serve(args.port_file, state, args.verbose, args.exit_with_stdin)


if __name__ == '__main__':
    main()
