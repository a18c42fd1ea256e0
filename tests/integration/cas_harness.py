"""Shared harness: start the built daemon on a free loopback port, with a
private session bus, a temporary state dir and the fake claude first on
PATH. Run with /usr/bin/python3 (it has dbusmock and gi).
"""
import http.client
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import dbusmock

TIMEOUT_MULTIPLIER = float(os.environ.get('CAS_TEST_TIMEOUT_MULTIPLIER', '1'))
DAEMON = os.environ.get('CAS_DAEMON')
FAKES_DIR = os.environ.get('CAS_FAKES_DIR')
WRAPPER = shlex.split(os.environ.get('CAS_TEST_WRAPPER', ''))
TOKEN = 'test-token-0123456789abcdef'


def smoke(func):
    """Marks a test for the smoke suite that CI also runs under valgrind."""
    func.cas_smoke = True
    return func


def needs_root(func):
    """The test is registered only when the suite runs as root (list_tests.py
    and meson.build): it is never skipped, so it can never pass unseen."""
    return func


def needs_plain_memory(func):
    """The test measures the daemon's memory, which sanitizers and valgrind
    keep: it is registered in builds without sanitizers and left out of the
    valgrind setup."""
    return func


def wait_for(predicate, timeout, what):
    """Polls predicate until it returns a true value; fails after timeout."""
    deadline = time.monotonic() + timeout * TIMEOUT_MULTIPLIER
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f'timed out waiting for {what}')
        time.sleep(0.02)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def write_ini(path, config):
    with open(path, 'w', encoding='utf-8') as f:
        for group, keys in config.items():
            f.write(f'[{group}]\n')
            for key, value in keys.items():
                f.write(f'{key}={value}\n')


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body.decode('utf-8'))


class DaemonTestCase(dbusmock.DBusTestCase):
    """Each test gets its own daemon, state and config; the bus is per class."""

    # Overridden by tests: extra [group] key=value settings and environment.
    config = {}
    env = {}
    start_daemon = True

    @classmethod
    def setUpClass(cls):
        if not DAEMON or not FAKES_DIR:
            raise unittest.SkipTest('run through meson test')
        cls.start_session_bus()

    @classmethod
    def tearDownClass(cls):
        # python-dbusmock 0.28 clears its data directory's name before it
        # reads it, so the directory stayed in /tmp (one per test
        # process): remove it here.
        datadir = dbusmock.DBusTestCase._DBusTestCase__datadir
        super().tearDownClass()
        if datadir:
            shutil.rmtree(datadir, ignore_errors=True)
            dbusmock.DBusTestCase._DBusTestCase__datadir = None

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='cas-test-')
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.home = os.path.join(self.tmp, 'home')
        self.state_dir = os.path.join(self.tmp, 'state', 'claude-agent-service')
        self.fake_log = os.path.join(self.tmp, 'fake-claude.log')
        self.daemon_log_path = os.path.join(self.tmp, 'daemon.log')
        self.scenario_path = os.path.join(self.tmp, 'fake-scenario')
        os.makedirs(self.home)
        self.port = None
        self.daemon = None
        if self.start_daemon:
            self.start()

    def tearDown(self):
        if self.daemon is not None and self.daemon.poll() is None:
            self.stop_daemon()
        self.assert_no_fake_left()

    def _outcome_failed(self):
        outcome = getattr(self, '_outcome', None)
        result = getattr(outcome, 'result', None)
        return result is not None and (result.failures or result.errors)

    def daemon_output(self):
        try:
            with open(self.daemon_log_path, encoding='utf-8', errors='replace') as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def make_env(self, env=None):
        full = dict(os.environ)
        full.update({
            'HOME': self.home,
            'XDG_CONFIG_HOME': os.path.join(self.tmp, 'config'),
            'XDG_STATE_HOME': os.path.join(self.tmp, 'state'),
            'XDG_RUNTIME_DIR': os.path.join(self.tmp, 'runtime'),
            'PATH': FAKES_DIR + ':' + os.environ.get('PATH', '/usr/bin:/bin'),
            'API_BEARER_TOKEN': TOKEN,
            'FAKE_CLAUDE_LOG': self.fake_log,
            'FAKE_CLAUDE_SCENARIO': self.scenario_path,
        })
        os.makedirs(full['XDG_RUNTIME_DIR'], mode=0o700, exist_ok=True)
        full.update(self.env)
        if env:
            full.update(env)
        return {k: v for k, v in full.items() if v is not None}

    def start(self, config=None, env=None, args=None, wait=True):
        """Starts the daemon; config/env add to the class's settings."""
        self.port = free_port()
        # Most tests are about one request and its own claude process: no
        # warm processes unless a test asks for them (test_pool.py).
        merged = {'http': {'address': '127.0.0.1', 'port': self.port},
                  'claude': {'pool-size': 0}}
        for source in (self.config, config or {}):
            for group, keys in source.items():
                merged.setdefault(group, {}).update(keys)
        self.config_path = os.path.join(self.tmp, 'config.ini')
        write_ini(self.config_path, merged)
        argv = WRAPPER + [DAEMON, '--config', self.config_path] + (args or [])
        self.daemon_log = open(self.daemon_log_path, 'ab')
        self.addCleanup(self.daemon_log.close)
        self.daemon = subprocess.Popen(argv, env=self.make_env(env),
                                       stdout=self.daemon_log,
                                       stderr=subprocess.STDOUT)
        if wait:
            self.wait_until_up()
        return self.daemon

    def wait_until_up(self):
        def up():
            if self.daemon.poll() is not None:
                raise AssertionError('daemon exited with %d:\n%s' %
                                     (self.daemon.returncode, self.daemon_output()))
            try:
                return self.request('GET', '/health', token=None).status == 200
            except OSError:
                return False
        wait_for(up, 20, 'the daemon to answer /health')

    def stop_daemon(self, timeout=10):
        """SIGTERM; returns the exit status and how long it took."""
        start = time.monotonic()
        self.daemon.send_signal(signal.SIGTERM)
        try:
            status = self.daemon.wait(timeout * TIMEOUT_MULTIPLIER)
        except subprocess.TimeoutExpired:
            self.daemon.kill()
            self.daemon.wait()
            raise AssertionError('daemon did not stop on SIGTERM:\n' + self.daemon_output())
        elapsed = time.monotonic() - start
        if status != 0:
            raise AssertionError('daemon exited with %d:\n%s' % (status, self.daemon_output()))
        return status, elapsed

    def request(self, method, path, body=None, token=TOKEN, headers=None, timeout=30):
        conn = http.client.HTTPConnection('127.0.0.1', self.port,
                                          timeout=timeout * TIMEOUT_MULTIPLIER)
        try:
            all_headers = dict(headers or {})
            if token is not None:
                all_headers['Authorization'] = f'Bearer {token}'
            if body is not None and not isinstance(body, (bytes, str)):
                body = json.dumps(body)
                all_headers.setdefault('Content-Type', 'application/json')
            conn.request(method, path, body=body, headers=all_headers)
            resp = conn.getresponse()
            return Response(resp.status, resp.headers, resp.read())
        finally:
            conn.close()

    def set_scenario(self, **settings):
        """Tells the fake claude how to behave from its next start on:
        set_scenario(hang=1, reply='Здравей') writes FAKE_CLAUDE_HANG=1 and
        FAKE_CLAUDE_REPLY=Здравей (tests/fakes/README.md lists the keys)."""
        with open(self.scenario_path, 'w', encoding='utf-8') as f:
            for key, value in settings.items():
                f.write(f'FAKE_CLAUDE_{key.upper()}={value}\n')

    def daemon_children(self):
        """PIDs of the daemon's child processes, zombies included."""
        return children_of(self.daemon.pid)

    def daemon_status_kib(self, field='VmRSS'):
        """A memory figure of the daemon from /proc/<pid>/status, in KiB."""
        with open(f'/proc/{self.daemon.pid}/status', encoding='ascii') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1])
        raise AssertionError(f'no {field}')

    def assert_no_children(self, timeout=5):
        """Waits until the daemon has no child left, not even a zombie."""
        wait_for(lambda: not self.daemon_children(), timeout, 'the daemon to have no children')

    def open_stream(self, path, body, token=TOKEN, headers=None, timeout=30):
        """POSTs and returns (connection, response) without reading the body."""
        conn = http.client.HTTPConnection('127.0.0.1', self.port,
                                          timeout=timeout * TIMEOUT_MULTIPLIER)
        all_headers = {'Content-Type': 'application/json'}
        if token is not None:
            all_headers['Authorization'] = f'Bearer {token}'
        all_headers.update(headers or {})
        conn.request('POST', path, body=json.dumps(body), headers=all_headers)
        return conn, conn.getresponse()

    @staticmethod
    def sse_lines(resp):
        """Yields each SSE line (without its newline) as it arrives."""
        while True:
            line = resp.readline()
            if not line:
                return
            yield line.decode('utf-8').rstrip('\r\n')

    def sse_data(self, resp):
        """Yields the payload of each `data:` line; comments are skipped."""
        for line in self.sse_lines(resp):
            if line.startswith('data: '):
                yield line[len('data: '):]

    def fake_runs(self):
        """The fake claude's log: one dict per process it ran as. A last
        line without its newline is still being written: it is left for
        the next read."""
        try:
            with open(self.fake_log, encoding='utf-8') as f:
                return [json.loads(line) for line in f
                        if line.endswith('\n') and line.strip()]
        except FileNotFoundError:
            return []

    def assert_no_fake_left(self):
        """No process the fake logged (nor its grandchild) is still alive."""
        for run in self.fake_runs():
            for key in ('pid', 'grandchild_pid'):
                pid = run.get(key)
                if pid:
                    wait_for(lambda: not pid_alive(pid), 5, f'fake process {pid} to go')


def close_stream(conn, resp):
    """Hangs up like a client that goes away (FIN), without reading on."""
    sock = conn.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    resp.close()
    conn.close()


def children_of(pid):
    """PIDs of a process's children (of all its threads), zombies included."""
    pids = []
    task_dir = f'/proc/{pid}/task'
    try:
        tasks = os.listdir(task_dir)
    except FileNotFoundError:
        return pids
    for tid in tasks:
        try:
            with open(f'{task_dir}/{tid}/children', encoding='utf-8') as f:
                pids += [int(p) for p in f.read().split()]
        except FileNotFoundError:
            pass
    return pids


def pid_alive(pid):
    """True for a live process; a zombie counts as alive (nobody reaped it)."""
    try:
        with open(f'/proc/{pid}/stat', encoding='utf-8'):
            return True
    except FileNotFoundError:
        return False
