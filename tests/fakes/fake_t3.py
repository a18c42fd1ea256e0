#!/usr/bin/python3
"""A fake T3 Code server for tests: the orchestration HTTP API of
/work/shared/reference/t3-contract.md (sections 1-5), on 127.0.0.1.

Two API shapes (--shape):
  shell     v0.0.33-like: /snapshot (lightweight), /dispatch, /shell and
            /threads/:id; commandId reuse for another aggregate is a 500.
  snapshot  v0.0.27-like: only /snapshot (full: messages and activities)
            and /dispatch; client createdAt becomes latestTurn.requestedAt.

Turns never run by themselves: tests move them with the control API under
/_fake/ (no auth; see tests/fakes/README.md). Standard library only.
"""

import argparse
import ctypes
import datetime
import json
import os
import re
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ALL_SCOPES = ['orchestration:read', 'orchestration:operate', 'terminal:operate',
              'review:write', 'access:read', 'access:write', 'relay:read', 'relay:write']
MAX_BODY = 16 * 1024 * 1024
SLUG = re.compile(r'^[A-Za-z][A-Za-z0-9_-]*$')
TURN_STATES = ('running', 'interrupted', 'completed', 'error')
SESSION_STATES = ('idle', 'starting', 'running', 'ready', 'interrupted', 'stopped', 'error')
DECISIONS = ('accept', 'acceptForSession', 'decline', 'cancel')


_last_ms = 0


def now_iso():
    """The time in T3's form (milliseconds), strictly increasing so that
    tests can tell two updates apart."""
    global _last_ms
    ms = max(int(time.time() * 1000), _last_ms + 1)
    _last_ms = ms
    t = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)
    return t.strftime('%Y-%m-%dT%H:%M:%S.') + '%03dZ' % (ms % 1000)


class Reject(Exception):
    """An error answer: status and JSON body."""

    def __init__(self, status, body):
        super().__init__(status)
        self.status = status
        self.body = body


def schema_error(message):
    return Reject(400, {'_tag': 'HttpApiSchemaError', 'message': message})


def env_error(status, tag, code, **extra):
    body = {'_tag': tag, 'code': code}
    body.update(extra)
    body['traceId'] = '%032x' % (int(time.time() * 1e6) & ((1 << 128) - 1))
    return Reject(status, body)


def business_error(why):
    # The real server keeps the reason in its log only; so does the fake.
    print('fake-t3: dispatch rejected: %s' % why, file=sys.stderr)
    return env_error(500, 'EnvironmentInternalError', 'internal_error',
                     reason='orchestration_dispatch_failed')


def invalid_command(why):
    print('fake-t3: invalid command: %s' % why, file=sys.stderr)
    return env_error(400, 'EnvironmentRequestInvalidError', 'invalid_request',
                     reason='invalid_command')


# ---------------------------------------------------------------- schema

def need_str(cmd, key):
    v = cmd.get(key)
    if not isinstance(v, str) or not v.strip():
        raise schema_error('%s: expected a non-empty string, got %r' % (key, v))
    return v


def need_iso(cmd, key):
    if not isinstance(cmd.get(key), str):
        raise schema_error('%s: expected a string' % key)


def need_nullable_str(cmd, key):
    if key not in cmd:
        raise schema_error('%s: is missing' % key)
    v = cmd[key]
    if v is not None and (not isinstance(v, str) or not v.strip()):
        raise schema_error('%s: expected null or a non-empty string' % key)


def need_enum(cmd, key, values, optional=False):
    if optional and key not in cmd:
        return
    if cmd.get(key) not in values:
        raise schema_error('%s: expected one of %s' % (key, ', '.join(values)))


def need_model_selection(v, key):
    if not isinstance(v, dict):
        raise schema_error('%s: expected an object' % key)
    instance = v.get('instanceId', v.get('provider'))
    if not isinstance(instance, str) or not SLUG.match(instance) or len(instance) > 64:
        raise schema_error('%s.instanceId: expected a slug' % key)
    need_str(v, 'model')


class Server:
    def __init__(self, shape, tokens):
        self.lock = threading.RLock()
        self.shape = shape
        self.tokens = tokens          # token -> list of scopes
        self.sequence = 0
        self.projects = {}            # id -> project (dict, wire shape)
        self.threads = {}             # id -> thread (full wire shape)
        self.pending_starts = {}      # thread id -> pending turn starts
        self.receipts = {}            # commandId -> (aggregate id, sequence or None)
        self.requests = []
        self.faults = {}              # path -> fault dict
        self.release = threading.Event()
        self.turn_counter = 0
        self.request_counter = 0

    # ------------------------------------------------------------ views

    def runtime_modes(self):
        modes = ['approval-required', 'auto-accept-edits', 'full-access']
        return modes + ['auto'] if self.shape == 'shell' else modes

    def open_requests(self, thread, kind):
        opened = []
        closed = set()
        for a in thread['activities']:
            rid = a.get('payload', {}).get('requestId')
            if a['kind'] == kind + '.requested':
                opened.append(rid)
            elif a['kind'] == kind + '.resolved':
                closed.add(rid)
        return [r for r in opened if r not in closed]

    def snapshot(self):
        threads = []
        for t in self.threads.values():
            t = json.loads(json.dumps(t))
            if self.shape == 'shell':
                # v0.0.32+: the snapshot is lightweight.
                t['messages'] = []
                t['activities'] = []
                t['checkpoints'] = []
            threads.append(t)
        return {'snapshotSequence': self.sequence,
                'projects': list(self.projects.values()),
                'threads': threads, 'updatedAt': now_iso()}

    def thread_shell(self, t):
        shell = {k: v for k, v in t.items()
                 if k not in ('messages', 'activities', 'checkpoints', 'proposedPlans', 'deletedAt')}
        users = [m['createdAt'] for m in t['messages'] if m['role'] == 'user']
        shell['latestUserMessageAt'] = users[-1] if users else None
        shell['hasPendingApprovals'] = bool(self.open_requests(t, 'approval'))
        shell['hasPendingUserInput'] = bool(self.open_requests(t, 'user-input'))
        shell['hasActionableProposedPlan'] = False
        shell['backgroundLiveness'] = None
        return shell

    def shell(self):
        projects = [p for p in self.projects.values() if p['deletedAt'] is None]
        threads = [self.thread_shell(t) for t in self.threads.values()
                   if t['deletedAt'] is None and t['archivedAt'] is None]
        return {'snapshotSequence': self.sequence, 'projects': projects,
                'threads': threads, 'updatedAt': now_iso()}

    # ------------------------------------------------------------ dispatch

    def live_project(self, pid):
        p = self.projects.get(pid)
        if p is None or p['deletedAt'] is not None:
            raise business_error('project %s does not exist' % pid)
        return p

    def live_thread(self, tid):
        t = self.threads.get(tid)
        if t is None or t['deletedAt'] is not None:
            raise business_error('thread %s does not exist' % tid)
        return t

    def normalise_root(self, root, create):
        path = os.path.normpath(os.path.abspath(os.path.expanduser(root.strip())))
        if not os.path.exists(path):
            if not create:
                raise invalid_command('workspace root %s does not exist' % path)
            try:
                os.makedirs(path)
            except OSError as e:
                raise invalid_command('cannot create %s: %s' % (path, e))
        if not os.path.isdir(path):
            raise invalid_command('workspace root %s is not a directory' % path)
        return path

    def check_root_unique(self, root, except_id):
        for p in self.projects.values():
            if p['deletedAt'] is None and p['id'] != except_id and p['workspaceRoot'] == root:
                raise business_error('project %s already has workspace root %s' % (p['id'], root))

    def validate(self, cmd):
        """The schema check: a 400 on any shape problem."""
        if not isinstance(cmd, dict):
            raise schema_error('expected a command object')
        kind = cmd.get('type')
        if not isinstance(kind, str):
            raise schema_error('type: is missing')
        need_str(cmd, 'commandId')
        modes = self.runtime_modes()
        if kind == 'project.create':
            for k in ('projectId', 'title', 'workspaceRoot'):
                need_str(cmd, k)
            need_iso(cmd, 'createdAt')
            if 'createWorkspaceRootIfMissing' in cmd and not isinstance(cmd['createWorkspaceRootIfMissing'], bool):
                raise schema_error('createWorkspaceRootIfMissing: expected a boolean')
            if cmd.get('defaultModelSelection') is not None:
                need_model_selection(cmd['defaultModelSelection'], 'defaultModelSelection')
        elif kind in ('project.meta.update', 'project.delete'):
            need_str(cmd, 'projectId')
        elif kind == 'thread.create':
            for k in ('threadId', 'projectId', 'title'):
                need_str(cmd, k)
            need_model_selection(cmd.get('modelSelection'), 'modelSelection')
            need_enum(cmd, 'runtimeMode', modes)
            need_enum(cmd, 'interactionMode', ('default', 'plan'), optional=True)
            need_nullable_str(cmd, 'branch')
            need_nullable_str(cmd, 'worktreePath')
            need_iso(cmd, 'createdAt')
        elif kind in ('thread.delete', 'thread.archive', 'thread.unarchive', 'thread.meta.update'):
            need_str(cmd, 'threadId')
        elif kind == 'thread.runtime-mode.set':
            need_str(cmd, 'threadId')
            need_enum(cmd, 'runtimeMode', modes)
            need_iso(cmd, 'createdAt')
        elif kind == 'thread.interaction-mode.set':
            need_str(cmd, 'threadId')
            need_enum(cmd, 'interactionMode', ('default', 'plan'))
            need_iso(cmd, 'createdAt')
        elif kind == 'thread.turn.start':
            need_str(cmd, 'threadId')
            msg = cmd.get('message')
            if not isinstance(msg, dict):
                raise schema_error('message: expected an object')
            need_str(msg, 'messageId')
            if msg.get('role') != 'user':
                raise schema_error('message.role: expected "user"')
            if not isinstance(msg.get('text'), str):
                raise schema_error('message.text: expected a string')
            if not isinstance(msg.get('attachments'), list):
                raise schema_error('message.attachments: expected an array')
            need_enum(cmd, 'runtimeMode', modes)
            need_enum(cmd, 'interactionMode', ('default', 'plan'))
            need_iso(cmd, 'createdAt')
            if 'modelSelection' in cmd:
                need_model_selection(cmd['modelSelection'], 'modelSelection')
        elif kind in ('thread.turn.interrupt', 'thread.session.stop'):
            need_str(cmd, 'threadId')
            need_iso(cmd, 'createdAt')
        elif kind == 'thread.approval.respond':
            need_str(cmd, 'threadId')
            need_str(cmd, 'requestId')
            need_enum(cmd, 'decision', DECISIONS)
            need_iso(cmd, 'createdAt')
        elif kind == 'thread.user-input.respond':
            need_str(cmd, 'threadId')
            need_str(cmd, 'requestId')
            if not isinstance(cmd.get('answers'), dict):
                raise schema_error('answers: expected an object')
            need_iso(cmd, 'createdAt')
        elif kind == 'thread.checkpoint.revert':
            need_str(cmd, 'threadId')
            n = cmd.get('turnCount')
            if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                raise schema_error('turnCount: expected an integer >= 0')
            need_iso(cmd, 'createdAt')
        elif self.shape == 'shell' and kind in ('thread.settle', 'thread.unsettle', 'thread.snooze',
                                                'thread.unsnooze', 'thread.pin', 'thread.unpin',
                                                'thread.pin.reorder'):
            need_str(cmd, 'threadId')
        else:
            raise schema_error('type: unknown command type %r' % kind)
        return kind

    def aggregate_of(self, cmd):
        return cmd.get('threadId') or cmd.get('projectId')

    def dispatch(self, cmd):
        kind = self.validate(cmd)
        cid = cmd['commandId']
        receipt = self.receipts.get(cid)
        if receipt is not None:
            aggregate, seq = receipt
            if seq is None:
                raise business_error('command %s was rejected before' % cid)
            if self.shape == 'shell' and aggregate != self.aggregate_of(cmd):
                raise business_error('command %s was used for %s' % (cid, aggregate))
            return seq
        try:
            events = self.apply(kind, cmd)
        except Reject as r:
            if r.status == 500:
                self.receipts[cid] = (self.aggregate_of(cmd), None)
            raise
        self.sequence += events
        self.receipts[cid] = (self.aggregate_of(cmd), self.sequence)
        return self.sequence

    def event_time(self, cmd):
        # v0.0.27 trusts the client's createdAt; v0.0.29+ overwrites it.
        if self.shape == 'snapshot' and isinstance(cmd.get('createdAt'), str):
            return cmd['createdAt']
        return now_iso()

    def apply(self, kind, cmd):
        at = self.event_time(cmd)
        if kind == 'project.create':
            pid = cmd['projectId']
            if pid in self.projects:
                raise business_error('project %s exists' % pid)
            root = self.normalise_root(cmd['workspaceRoot'], cmd.get('createWorkspaceRootIfMissing') is True)
            self.check_root_unique(root, None)
            self.projects[pid] = {
                'id': pid, 'title': cmd['title'], 'workspaceRoot': root,
                'repositoryIdentity': None,
                'defaultModelSelection': cmd.get('defaultModelSelection'),
                'scripts': [], 'createdAt': at, 'updatedAt': at, 'deletedAt': None}
            return 1
        if kind == 'project.meta.update':
            p = self.live_project(cmd['projectId'])
            if isinstance(cmd.get('workspaceRoot'), str):
                root = self.normalise_root(cmd['workspaceRoot'], False)
                self.check_root_unique(root, p['id'])
                p['workspaceRoot'] = root
            if isinstance(cmd.get('title'), str):
                p['title'] = cmd['title']
            p['updatedAt'] = at
            return 1
        if kind == 'project.delete':
            p = self.live_project(cmd['projectId'])
            active = [t for t in self.threads.values()
                      if t['projectId'] == p['id'] and t['deletedAt'] is None]
            if active and cmd.get('force') is not True:
                raise business_error('project %s has active threads' % p['id'])
            p['deletedAt'] = at
            return 1
        if kind == 'thread.create':
            self.live_project(cmd['projectId'])
            tid = cmd['threadId']
            if tid in self.threads:
                raise business_error('thread %s exists' % tid)
            ms = dict(cmd['modelSelection'])
            if 'instanceId' not in ms:
                ms['instanceId'] = ms.pop('provider')
            self.threads[tid] = {
                'id': tid, 'projectId': cmd['projectId'], 'title': cmd['title'],
                'modelSelection': ms, 'runtimeMode': cmd['runtimeMode'],
                'interactionMode': cmd.get('interactionMode', 'default'),
                'branch': cmd['branch'], 'worktreePath': cmd['worktreePath'],
                'latestTurn': None, 'createdAt': at, 'updatedAt': at,
                'archivedAt': None, 'deletedAt': None, 'messages': [],
                'proposedPlans': [], 'activities': [], 'checkpoints': [], 'session': None}
            self.pending_starts[tid] = []
            return 1
        t = self.live_thread(cmd['threadId'])
        t['updatedAt'] = at
        if kind == 'thread.delete':
            t['deletedAt'] = at
        elif kind == 'thread.archive':
            if t['archivedAt'] is not None:
                raise business_error('thread %s is archived' % t['id'])
            t['archivedAt'] = at
        elif kind == 'thread.unarchive':
            if t['archivedAt'] is None:
                raise business_error('thread %s is not archived' % t['id'])
            t['archivedAt'] = None
        elif kind == 'thread.meta.update':
            for k in ('title', 'branch', 'worktreePath'):
                if k in cmd:
                    t[k] = cmd[k]
        elif kind == 'thread.runtime-mode.set':
            t['runtimeMode'] = cmd['runtimeMode']
        elif kind == 'thread.interaction-mode.set':
            t['interactionMode'] = cmd['interactionMode']
        elif kind == 'thread.turn.start':
            if t['archivedAt'] is not None:
                raise business_error('thread %s is archived' % t['id'])
            msg = cmd['message']
            t['messages'].append({'id': msg['messageId'], 'role': 'user', 'text': msg['text'],
                                  'attachments': msg['attachments'], 'turnId': None,
                                  'streaming': False, 'createdAt': at, 'updatedAt': at})
            self.pending_starts[t['id']].append({'messageId': msg['messageId'], 'requestedAt': at})
            return 2
        elif kind == 'thread.turn.interrupt':
            lt = t['latestTurn']
            if lt is not None and lt['state'] == 'running':
                self.settle(t, 'interrupted', 'interrupted')
        elif kind == 'thread.approval.respond':
            self.resolve(t, 'approval', cmd['requestId'], {'decision': cmd['decision']})
        elif kind == 'thread.user-input.respond':
            self.resolve(t, 'user-input', cmd['requestId'], {'answers': cmd['answers']})
        elif kind == 'thread.session.stop':
            if t['session'] is not None:
                t['session']['status'] = 'stopped'
                t['session']['activeTurnId'] = None
        return 1

    def resolve(self, t, kind, rid, payload):
        if rid in self.open_requests(t, kind):
            payload = dict(payload, requestId=rid)
            self.add_activity(t, 'approval' if kind == 'approval' else 'info',
                              kind + '.resolved', payload)

    def add_activity(self, t, tone, kind, payload):
        self.sequence += 1
        lt = t['latestTurn']
        t['activities'].append({'id': 'activity-%d' % self.sequence, 'tone': tone, 'kind': kind,
                                'summary': kind, 'payload': payload,
                                'turnId': lt['turnId'] if lt else None,
                                'sequence': self.sequence, 'createdAt': now_iso()})

    # ------------------------------------------------------------ control

    def set_session(self, t, status, active=None, last_error=None):
        if status is None:
            t['session'] = None
            return
        t['session'] = {'threadId': t['id'], 'status': status, 'providerName': 'claudeAgent',
                        'providerInstanceId': 'claudeAgent', 'runtimeMode': t['runtimeMode'],
                        'activeTurnId': active, 'lastError': last_error, 'updatedAt': now_iso()}

    def settle(self, t, state, session_status):
        lt = t['latestTurn']
        lt['state'] = state
        lt['completedAt'] = now_iso()
        self.set_session(t, session_status, None,
                         'the agent failed' if state == 'error' else None)

    def control_turn(self, t, req):
        state = req.get('state')
        if state not in TURN_STATES:
            raise Reject(400, {'error': 'state must be one of %s' % ', '.join(TURN_STATES)})
        if state == 'running':
            pending = self.pending_starts.get(t['id'])
            if not pending and not req.get('force'):
                raise Reject(409, {'error': 'no turn start is pending on this thread'})
            start = pending.pop(0) if pending else {'messageId': None, 'requestedAt': now_iso()}
            self.turn_counter += 1
            turn_id = 'turn-%d-%s' % (self.turn_counter, os.urandom(4).hex())
            at = now_iso()
            t['latestTurn'] = {'turnId': turn_id, 'state': 'running',
                               'requestedAt': start['requestedAt'], 'startedAt': at,
                               'completedAt': None, 'assistantMessageId': None}
            for m in t['messages']:
                if m['id'] == start['messageId']:
                    m['turnId'] = turn_id
            self.set_session(t, req.get('sessionStatus', 'running'), turn_id)
        else:
            if t['latestTurn'] is None:
                raise Reject(409, {'error': 'the thread has no turn'})
            default_session = {'completed': 'ready', 'error': 'error',
                               'interrupted': 'interrupted'}[state]
            self.settle(t, state, req.get('sessionStatus', default_session))
        self.sequence += 1
        return {'turnId': t['latestTurn']['turnId'], 'state': state}

    def control_thread(self, tid, action, req):
        t = self.threads.get(tid)
        if t is None:
            raise Reject(404, {'error': 'no such thread'})
        if action == 'turn':
            return self.control_turn(t, req)
        if action == 'session':
            status = req.get('status')
            if status is not None and status not in SESSION_STATES:
                raise Reject(400, {'error': 'status must be one of %s' % ', '.join(SESSION_STATES)})
            self.set_session(t, status, req.get('activeTurnId'), req.get('lastError'))
            self.sequence += 1
            return {'session': t['session']}
        if action == 'turn-start-failed':
            # Contract 5.2 step 4: no new latestTurn ever appears.
            if self.pending_starts.get(tid):
                self.pending_starts[tid].pop(0)
            detail = req.get('detail', 'provider failed to start')
            self.set_session(t, 'error', None, detail)
            self.add_activity(t, 'error', 'provider.turn.start.failed', {'detail': detail})
            return {'session': t['session']}
        if action in ('approval', 'user-input'):
            self.request_counter += 1
            rid = req.get('requestId') or 'req-%d' % self.request_counter
            if action == 'approval':
                payload = {'requestId': rid, 'requestKind': 'command',
                           'requestType': 'command_execution_approval', 'detail': 'rm -rf build'}
                self.add_activity(t, 'approval', 'approval.requested', payload)
            else:
                payload = {'requestId': rid, 'questions': req.get('questions') or [
                    {'id': 'q-1', 'header': 'Scope', 'question': 'Which part?',
                     'options': [{'label': 'parser', 'description': 'only the parser'}]}]}
                self.add_activity(t, 'info', 'user-input.requested', payload)
            return {'requestId': rid}
        raise Reject(404, {'error': 'unknown thread action'})


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'fake-t3'
    sys_version = ''

    @property
    def fake(self):
        return self.server.fake

    def log_message(self, fmt, *args):
        if os.environ.get('FAKE_T3_VERBOSE'):
            super().log_message(fmt, *args)

    def send_json(self, status, body, extra_headers=()):
        data = json.dumps(body).encode()
        self.send_raw(status, data, 'application/json', extra_headers)

    def send_raw(self, status, data, ctype='application/json', extra_headers=()):
        self.send_response(status)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(data)))
        for k, v in extra_headers:
            self.send_header(k, v)
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
            n = -1
        if n < 0 or n > MAX_BODY:
            raise Reject(413, {'error': 'body too large'})
        return self.rfile.read(n)

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def do_DELETE(self):
        self.handle_any()

    def do_PUT(self):
        self.handle_any()

    def handle_any(self):
        path, _, query = self.path.partition('?')
        try:
            body = self.read_body()
        except Reject as r:
            self.close_connection = True
            self.send_json(r.status, r.body)
            return
        if path.startswith('/_fake/'):
            self.handle_control(path, body)
            return
        with self.fake.lock:
            self.fake.requests.append({
                'method': self.command, 'path': path, 'query': query,
                'headers': {k: v for k, v in self.headers.items()},
                'body': body.decode('utf-8', 'replace')})
            fault = self.fake.faults.get(path)
            # A fault may be for one kind of command only.
            if fault is not None and fault.get('command') is not None:
                try:
                    kind = json.loads(body).get('type')
                except (ValueError, AttributeError):
                    kind = None
                if kind != fault['command']:
                    fault = None
            if fault is not None:
                if fault.get('times') is not None:
                    fault['times'] -= 1
                    if fault['times'] <= 0:
                        del self.fake.faults[path]
        if fault is not None and self.apply_fault(fault):
            return
        try:
            with self.fake.lock:
                status, answer = self.route(path, query, body)
            self.send_json(status, answer)
        except Reject as r:
            self.send_json(r.status, r.body)

    def apply_fault(self, fault):
        mode = fault['mode']
        status = fault.get('status', 200)
        if mode == 'hang':
            # Never answers; a release (or stop) lets the thread go.
            self.fake.release.wait(600)
            self.close_connection = True
            return True
        if mode == 'close':
            self.close_connection = True
            return True
        if mode == 'garbage':
            self.send_raw(status, b'<html>\x00\xff not json {"', 'text/html')
            return True
        if mode == 'raw':
            self.send_raw(status, fault.get('body', '').encode(), fault.get('contentType', 'application/json'))
            return True
        if mode == 'json':
            self.send_json(status, fault.get('body'))
            return True
        if mode == 'huge':
            # A syntactically fine JSON object of about @bytes bytes.
            size = int(fault.get('bytes', 16 * 1024 * 1024))
            head, tail = b'{"snapshotSequence":1,"pad":"', b'","projects":[],"threads":[]}'
            pad = max(0, size - len(head) - len(tail))
            chunked = bool(fault.get('chunked'))
            self.send_response(status)
            self.send_header('Content-Type', 'application/json')
            if chunked:
                # No length up front: the client must count as it reads.
                self.send_header('Transfer-Encoding', 'chunked')
            else:
                self.send_header('Content-Length', str(len(head) + pad + len(tail)))
            self.end_headers()

            def write(data):
                if chunked:
                    self.wfile.write(b'%x\r\n%s\r\n' % (len(data), data))
                else:
                    self.wfile.write(data)
            try:
                write(head)
                chunk = b'x' * 65536
                left = pad
                while left > 0:
                    write(chunk[:min(left, len(chunk))])
                    left -= min(left, len(chunk))
                write(tail)
                if chunked:
                    self.wfile.write(b'0\r\n\r\n')
            except OSError:
                self.close_connection = True
            return True
        return False

    def auth(self, scope):
        header = self.headers.get('Authorization')
        token = None
        if header is not None:
            if header.startswith('Bearer '):
                token = header[len('Bearer '):]
            elif header.startswith('DPoP '):
                token = header[len('DPoP '):]
        cookie = self.headers.get('Cookie') or ''
        m = re.search(r'(?:^|;\s*)t3_session=([^;]+)', cookie)
        if m:
            token = m.group(1)
        if token is None:
            raise env_error(401, 'EnvironmentAuthInvalidError', 'auth_invalid',
                            reason='missing_credential')
        scopes = self.fake.tokens.get(token)
        if scopes is None:
            raise env_error(401, 'EnvironmentAuthInvalidError', 'auth_invalid',
                            reason='invalid_credential')
        if scope not in scopes:
            raise env_error(403, 'EnvironmentScopeRequiredError', 'insufficient_scope',
                            requiredScope=scope)

    def route(self, path, query, body):
        fake = self.fake
        method = self.command
        if path == '/.well-known/t3/environment' and method == 'GET':
            version = '0.0.33' if fake.shape == 'shell' else '0.0.27'
            return 200, {'environmentId': 'fake-environment', 'label': 'fake-t3',
                         'platform': sys.platform, 'serverVersion': version, 'capabilities': {}}
        if path == '/api/orchestration/snapshot' and method == 'GET':
            self.auth('orchestration:read')
            return 200, fake.snapshot()
        if path == '/api/orchestration/dispatch' and method == 'POST':
            self.auth('orchestration:operate')
            try:
                cmd = json.loads(body.decode('utf-8'))
            except (UnicodeDecodeError, ValueError) as e:
                raise schema_error('the body is not JSON: %s' % e)
            return 200, {'sequence': fake.dispatch(cmd)}
        if fake.shape == 'shell':
            if path == '/api/orchestration/shell' and method == 'GET':
                self.auth('orchestration:read')
                return 200, fake.shell()
            if path.startswith('/api/orchestration/threads/') and method == 'GET':
                self.auth('orchestration:read')
                tid = path[len('/api/orchestration/threads/'):]
                t = fake.threads.get(tid)
                if t is None or t['deletedAt'] is not None:
                    raise env_error(404, 'EnvironmentResourceNotFoundError', 'not_found',
                                    reason='thread_not_found')
                return 200, {'snapshotSequence': fake.sequence, 'thread': t}
        return 404, {'_tag': 'RouteNotFound', 'message': 'Not Found'}

    def handle_control(self, path, body):
        fake = self.fake
        try:
            req = json.loads(body.decode('utf-8')) if body else {}
            if not isinstance(req, dict):
                raise ValueError('expected an object')
        except ValueError as e:
            self.send_json(400, {'error': 'control body: %s' % e})
            return
        parts = path.split('/')[2:]
        try:
            with fake.lock:
                answer = self.control(parts, req)
            self.send_json(200, answer)
        except Reject as r:
            self.send_json(r.status, r.body)

    def control(self, parts, req):
        fake = self.fake
        method = self.command
        if parts == ['requests']:
            if method == 'DELETE':
                fake.requests.clear()
                return {}
            return {'requests': fake.requests}
        if parts == ['state']:
            return {'sequence': fake.sequence, 'shape': fake.shape,
                    'projects': list(fake.projects.values()),
                    'threads': list(fake.threads.values()),
                    'pendingTurnStarts': {k: len(v) for k, v in fake.pending_starts.items()}}
        if parts == ['shape'] and method == 'POST':
            if req.get('shape') not in ('shell', 'snapshot'):
                raise Reject(400, {'error': 'shape must be shell or snapshot'})
            fake.shape = req['shape']
            return {'shape': fake.shape}
        if parts == ['tokens'] and method == 'POST':
            tokens = req.get('tokens')
            if isinstance(tokens, list):
                tokens = {t: ALL_SCOPES for t in tokens}
            if not isinstance(tokens, dict):
                raise Reject(400, {'error': 'tokens: a list or an object of scope lists'})
            fake.tokens = tokens
            return {}
        if parts == ['faults']:
            if method == 'DELETE':
                fake.faults.clear()
                fake.release.set()
                fake.release = threading.Event()
                return {}
            if method == 'POST':
                if not isinstance(req.get('path'), str) or req.get('mode') not in (
                        'hang', 'close', 'garbage', 'raw', 'json', 'huge'):
                    raise Reject(400, {'error': 'path and mode (hang, close, garbage, raw, json, huge)'})
                fake.faults[req['path']] = dict(req)
                return {}
            return {'faults': fake.faults}
        if len(parts) == 3 and parts[0] == 'threads' and method == 'POST':
            return fake.control_thread(parts[1], parts[2], req)
        raise Reject(404, {'error': 'unknown control path'})


def die_with_parent():
    """A test that aborts must not leave the fake running (and holding the
    test's output pipes open): SIGTERM when the parent goes."""
    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:
        sys.exit(0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--port', type=int, default=0)
    parser.add_argument('--port-file', help='write the port here once listening')
    parser.add_argument('--shape', choices=('shell', 'snapshot'), default='shell')
    parser.add_argument('--token', action='append', default=[],
                        help='an accepted bearer token with every scope (repeatable)')
    args = parser.parse_args()
    die_with_parent()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))

    tokens = {t: ALL_SCOPES for t in (args.token or ['fake-t3-token'])}
    httpd = ThreadingHTTPServer(('127.0.0.1', args.port), Handler)
    httpd.daemon_threads = True
    httpd.fake = Server(args.shape, tokens)
    port = httpd.server_address[1]
    if args.port_file:
        tmp = args.port_file + '.tmp'
        with open(tmp, 'w') as f:
            f.write('%d\n' % port)
        os.rename(tmp, args.port_file)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    main()
