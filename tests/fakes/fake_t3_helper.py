"""Start, seed, drive and stop tests/fakes/fake_t3.py from Python tests.

    with FakeT3(shape='snapshot', token='tok') as t3:
        project = t3.create_project('/tmp/ws')
        thread = t3.create_thread(project)
        t3.start_turn(thread, 'hello')
        turn = t3.move_turn(thread, 'running')['turnId']
        t3.move_turn(thread, 'completed')
"""

import json
import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid

FAKE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fake_t3.py')


class FakeT3:
    def __init__(self, shape='shell', token='fake-t3-token', python='/usr/bin/python3'):
        self.shape = shape
        self.token = token
        self.python = python
        self.proc = None
        self.port = None
        self._dir = None

    def start(self, timeout=20):
        self._dir = tempfile.TemporaryDirectory(prefix='fake-t3-')
        port_file = os.path.join(self._dir.name, 'port')
        self.proc = subprocess.Popen([self.python, FAKE, '--port-file', port_file,
                                      '--shape', self.shape, '--token', self.token])
        deadline = time.monotonic() + timeout
        # Wait for the event (the port file appears), not for a fixed time.
        while not os.path.exists(port_file):
            if self.proc.poll() is not None:
                raise RuntimeError('fake_t3.py exited with %s' % self.proc.returncode)
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError('fake_t3.py did not start')
            time.sleep(0.02)
        with open(port_file) as f:
            self.port = int(f.read())
        return self

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self.port

    def request(self, method, path, body=None, token=None, headers=None):
        """(status, parsed JSON or None) of one request; token=False sends
        none, headers= replaces the usual ones."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header('Content-Type', 'application/json')
        if headers is not None:
            for name, value in headers.items():
                req.add_header(name, value)
        elif token is not False and not path.startswith('/_fake/'):
            req.add_header('Authorization', 'Bearer ' + (token or self.token))
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, None

    def control(self, method, path, body=None):
        status, answer = self.request(method, '/_fake/' + path, body)
        if status != 200:
            raise RuntimeError('fake control %s %s: %s %s' % (method, path, status, answer))
        return answer

    # -------------------------------------------------------------- seeding

    def dispatch(self, command):
        command.setdefault('commandId', str(uuid.uuid4()))
        command.setdefault('createdAt', '2026-01-01T00:00:00.000Z')
        return self.request('POST', '/api/orchestration/dispatch', command)

    def create_project(self, root, title='project'):
        pid = str(uuid.uuid4())
        status, answer = self.dispatch({'type': 'project.create', 'projectId': pid,
                                        'title': title, 'workspaceRoot': root,
                                        'createWorkspaceRootIfMissing': True})
        assert status == 200, answer
        return pid

    def create_thread(self, project_id, title='thread'):
        tid = str(uuid.uuid4())
        status, answer = self.dispatch({
            'type': 'thread.create', 'threadId': tid, 'projectId': project_id,
            'title': title, 'modelSelection': {'instanceId': 'claudeAgent', 'model': 'sonnet'},
            'runtimeMode': 'full-access', 'interactionMode': 'default',
            'branch': None, 'worktreePath': None})
        assert status == 200, answer
        return tid

    def start_turn(self, thread_id, text):
        return self.dispatch({
            'type': 'thread.turn.start', 'threadId': thread_id,
            'message': {'messageId': str(uuid.uuid4()), 'role': 'user', 'text': text,
                        'attachments': []},
            'runtimeMode': 'full-access', 'interactionMode': 'default'})

    # -------------------------------------------------------------- driving

    def move_turn(self, thread_id, state, **extra):
        return self.control('POST', 'threads/%s/turn' % thread_id, dict(extra, state=state))

    def set_session(self, thread_id, status, **extra):
        return self.control('POST', 'threads/%s/session' % thread_id, dict(extra, status=status))

    def add_approval(self, thread_id, request_id=None):
        return self.control('POST', 'threads/%s/approval' % thread_id,
                            {'requestId': request_id} if request_id else {})['requestId']

    def add_user_input(self, thread_id, request_id=None):
        return self.control('POST', 'threads/%s/user-input' % thread_id,
                            {'requestId': request_id} if request_id else {})['requestId']

    def fault(self, path, mode, **extra):
        self.control('POST', 'faults', dict(extra, path=path, mode=mode))

    def clear_faults(self):
        self.control('DELETE', 'faults')

    def requests(self):
        return self.control('GET', 'requests')['requests']

    def state(self):
        return self.control('GET', 'state')
