"""What any local user can do to a daemon on 127.0.0.1, mostly without
the token: hold connections open, declare huge bodies, send control
characters for the log, and read a claude child's environment."""
import json
import os
import resource
import socket
import time
import unittest

from cas_harness import (DaemonTestCase, TIMEOUT_MULTIPLIER, TOKEN, needs_plain_memory, smoke,
                         wait_for)

HUGE = b'Content-Length: 10000000000\r\n'


def connect(port, timeout=10):
    sock = socket.create_connection(('127.0.0.1', port), timeout=timeout * TIMEOUT_MULTIPLIER)
    return sock


def read_to_end(sock):
    """Everything the daemon sends until it closes the connection; a
    socket timeout (the daemon kept it open) fails the test."""
    data = b''
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        except socket.timeout:
            raise AssertionError('the daemon kept the connection open; got %r' % data)
        if not chunk:
            return data
        data += chunk


def get_health(sock):
    sock.sendall(b'GET /health HTTP/1.1\r\nHost: x\r\n\r\n')
    head = b''
    while b'\r\n\r\n' not in head:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError('connection closed before the response')
        head += chunk
    return head


class TimeoutTest(DaemonTestCase):
    # Headers get 2 s: under valgrind a daemon can be slow to read them.
    config = {'http': {'header-timeout-seconds': 2, 'body-timeout-seconds': 1,
                       'idle-timeout-seconds': 1}}

    @smoke
    def test_idle_keep_alive_connection_is_closed(self):
        sock = connect(self.port)
        self.assertTrue(get_health(sock).startswith(b'HTTP/1.1 200'))
        read_to_end(sock)
        sock.close()

    def test_connection_without_request_is_closed(self):
        sock = connect(self.port)
        self.assertEqual(read_to_end(sock), b'')
        sock.close()

    def test_unfinished_headers_are_cut_off(self):
        sock = connect(self.port)
        sock.sendall(b'GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: 1')
        self.assertNotIn(b' 200 ', read_to_end(sock))
        sock.close()

    def test_stalled_body_is_cut_off(self):
        sock = connect(self.port)
        sock.sendall(b'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n'
                     b'Authorization: Bearer ' + TOKEN.encode() + b'\r\n'
                     b'Content-Length: 100\r\n\r\n{"messages":')
        self.assertNotIn(b' 200 ', read_to_end(sock))
        sock.close()
        # Nothing was run for it, and the daemon serves the next client.
        self.assertEqual(self.fake_runs(), [])
        self.assertEqual(self.request('GET', '/health').status, 200)


class ConnectionCapTest(DaemonTestCase):
    config = {'http': {'max-connections': 4, 'header-timeout-seconds': 600,
                       'idle-timeout-seconds': 600}}

    def idle_connections(self, count):
        socks = []
        for _ in range(count):
            sock = connect(self.port)
            self.assertTrue(get_health(sock).startswith(b'HTTP/1.1 200'))
            socks.append(sock)
        self.addCleanup(lambda: [s.close() for s in socks])
        return socks

    def test_oldest_idle_connection_makes_room(self):
        socks = self.idle_connections(4)
        newcomer = connect(self.port)
        self.addCleanup(newcomer.close)
        self.assertTrue(get_health(newcomer).startswith(b'HTTP/1.1 200'))
        # The first one went, at once; the others stay.
        self.assertEqual(read_to_end(socks[0]), b'')
        self.assertTrue(get_health(socks[1]).startswith(b'HTTP/1.1 200'))

    def test_newcomer_refused_when_every_connection_is_busy(self):
        socks = self.idle_connections(4)
        # Each one starts a request, and the "100 Continue" says the daemon
        # is waiting for its body.
        for sock in socks:
            sock.sendall(b'POST /nothing HTTP/1.1\r\nHost: x\r\n'
                         b'Authorization: Bearer ' + TOKEN.encode() + b'\r\n'
                         b'Expect: 100-continue\r\nContent-Length: 2\r\n\r\n')
            self.assertTrue(sock.recv(65536).startswith(b'HTTP/1.1 100'))
        newcomer = connect(self.port)
        self.addCleanup(newcomer.close)
        answer = read_to_end(newcomer)
        self.assertTrue(answer.startswith(b'HTTP/1.1 503'), answer)
        # They finish, and are answered.
        for sock in socks:
            sock.sendall(b'{}')
            self.assertIn(b'HTTP/1.1 404', sock.recv(65536))


class ConnectionFloodTest(DaemonTestCase):
    """2,000 connections that send nothing and 200 that stop halfway
    through their headers, against a daemon held to 1,024 descriptors (a
    systemd user service's soft limit, made hard so that the daemon cannot
    raise it): /health and a streaming chat still answer, nothing runs out
    of descriptors, and the timeouts close every one of them."""
    config = {'http': {'header-timeout-seconds': 3}}
    IDLE, SLOW = 2000, 200

    def setUp(self):
        # The test's own end of 2,200 connections.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        need = self.IDLE + self.SLOW + 512
        if soft < need:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, max(hard, need)))
            self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
        super().setUp()

    def open_client_connections(self):
        """The daemon's accepted connections still holding a descriptor.
        Counting all its descriptors would race with ones it opens on its
        own after start (the D-Bus connection, GDBus's worker)."""
        listening = 0x0A
        count = 0
        for path in ('/proc/net/tcp', '/proc/net/tcp6'):
            with open(path, encoding='ascii') as f:
                next(f)
                for line in f:
                    fields = line.split()
                    local_port = int(fields[1].rsplit(':', 1)[1], 16)
                    state, inode = int(fields[3], 16), int(fields[9])
                    # Inode 0: not accepted yet, or already closed.
                    if local_port == self.port and state != listening and inode:
                        count += 1
        return count

    def test_flood_leaves_health_and_chat_answering(self):
        resource.prlimit(self.daemon.pid, resource.RLIMIT_NOFILE, (1024, 1024))
        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])
        for _ in range(self.IDLE):
            socks.append(connect(self.port))
        slow = []
        for _ in range(self.SLOW):
            sock = connect(self.port)
            sock.sendall(b'GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ')
            slow.append(sock)
        socks += slow
        self.assertGreater(self.open_client_connections(), 100)

        self.assertEqual(self.request('GET', '/health').status, 200)
        conn, resp = self.open_stream('/v1/chat/completions',
                                      {'model': 'sonnet', 'stream': True,
                                       'messages': [{'role': 'user', 'content': 'still here'}]})
        self.assertEqual(resp.status, 200)
        content = ''
        for data in self.sse_data(resp):
            if data == '[DONE]':
                break
            choices = json.loads(data).get('choices')
            if choices:
                content += choices[0]['delta'].get('content', '')
        conn.close()
        self.assertEqual(content, 'Echo: User: still here')

        # The slow ones lose their connection to the header timeout, the
        # silent ones to the cap or the same timeout.
        for sock in slow:
            self.assertNotIn(b' 200 ', read_to_end(sock))
        wait_for(lambda: self.open_client_connections() == 0, 60,
                 'every flood connection to be closed')
        self.assertNotIn('Too many open files', self.daemon_output())


class DescriptorLimitTest(DaemonTestCase):
    start_daemon = False

    def test_soft_limit_raised_to_the_hard_one(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        low = min(256, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))
        try:
            self.start()
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        with open(f'/proc/{self.daemon.pid}/limits', encoding='ascii') as f:
            line = next(l for l in f if l.startswith('Max open files'))
        self.assertEqual(line.split()[3:5], [str(hard), str(hard)])


class EarlyAnswerTest(DaemonTestCase):
    """A refused request is answered as soon as its headers are in, and its
    body (here never sent) is not waited for."""

    def answer_to(self, head):
        sock = connect(self.port)
        self.addCleanup(sock.close)
        sock.sendall(head)
        return read_to_end(sock)

    @smoke
    def test_unauthenticated_huge_body(self):
        answer = self.answer_to(b'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n' + HUGE + b'\r\n')
        self.assertTrue(answer.startswith(b'HTTP/1.1 401'), answer)
        self.assertIn(b'WWW-Authenticate: Bearer', answer)
        self.assertIn(b'"authentication_error"', answer)

    def test_unauthenticated_expect_continue_gets_no_continue(self):
        answer = self.answer_to(b'POST /execute HTTP/1.1\r\nHost: x\r\n'
                                b'Expect: 100-continue\r\nContent-Length: 20\r\n\r\n')
        self.assertTrue(answer.startswith(b'HTTP/1.1 401'), answer)
        self.assertNotIn(b'100 Continue', answer)

    def test_wrong_token_huge_chunked_body(self):
        answer = self.answer_to(b'POST /execute HTTP/1.1\r\nHost: x\r\n'
                                b'Authorization: Bearer wrong\r\n'
                                b'Transfer-Encoding: chunked\r\n\r\nffffff\r\n')
        self.assertTrue(answer.startswith(b'HTTP/1.1 401'), answer)

    def test_authenticated_huge_body(self):
        answer = self.answer_to(b'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n'
                                b'Authorization: Bearer ' + TOKEN.encode() + b'\r\n' + HUGE + b'\r\n')
        self.assertTrue(answer.startswith(b'HTTP/1.1 413'), answer)
        self.assertIn(b'"payload_too_large"', answer)

    def test_authenticated_expect_continue_still_continues(self):
        sock = connect(self.port)
        self.addCleanup(sock.close)
        sock.sendall(b'POST /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n'
                     b'Authorization: Bearer ' + TOKEN.encode() + b'\r\n'
                     b'Expect: 100-continue\r\nContent-Length: 2\r\n\r\n')
        self.assertTrue(sock.recv(65536).startswith(b'HTTP/1.1 100'))
        sock.sendall(b'{}')
        self.assertTrue(read_to_end(sock).startswith(b'HTTP/1.1 404'))

    def test_fast_sender_is_cut_off_after_its_answer(self):
        # It sends on regardless: the daemon drops what comes for a moment
        # (so the answer is not lost), serving others meanwhile, then closes.
        sock = connect(self.port)
        self.addCleanup(sock.close)
        sock.sendall(b'POST /execute HTTP/1.1\r\nHost: x\r\n' + HUGE + b'\r\n')
        chunk = b'x' * 65536
        served = False
        deadline = time.monotonic() + 20 * TIMEOUT_MULTIPLIER
        try:
            while time.monotonic() < deadline:
                sock.sendall(chunk)
                if not served:
                    self.assertEqual(self.request('GET', '/health', timeout=5).status, 200)
                    served = True
            self.fail('the daemon kept reading')
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.assertTrue(served)

    def test_daemon_is_fine_afterwards(self):
        for _ in range(20):
            self.answer_to(b'POST /execute HTTP/1.1\r\nHost: x\r\n' + HUGE + b'\r\n')
        self.assertEqual(self.request('GET', '/health').status, 200)


class AccessLogTest(DaemonTestCase):
    def log_line(self, request_id):
        line = wait_for(lambda: next((l for l in self.daemon_output().splitlines()
                                      if request_id in l), None),
                        5, 'the access log line')
        return line

    def raw_request_id(self, request):
        sock = connect(self.port)
        self.addCleanup(sock.close)
        sock.sendall(request)
        head = read_to_end(sock).split(b'\r\n\r\n')[0].decode('latin-1')
        return next(h.split(': ')[1] for h in head.split('\r\n')
                    if h.lower().startswith('x-request-id:'))

    @smoke
    def test_encoded_crlf_in_path_stays_on_its_line(self):
        resp = self.request('GET', '/health%0d%0aSet-Cookie:x%0aFAKE%20LINE')
        line = self.log_line(resp.headers['X-Request-Id'])
        self.assertIn('/health\\x0d\\x0aSet-Cookie:x\\x0aFAKE LINE', line)
        for other in self.daemon_output().splitlines():
            self.assertFalse(other.startswith(('Set-Cookie', 'FAKE')), other)

    def test_raw_control_bytes_in_path_are_escaped(self):
        request_id = self.raw_request_id(b'GET /a\x1b[2Jb\x7fc\xff HTTP/1.1\r\nHost: x\r\n'
                                         b'Connection: close\r\n\r\n')
        line = self.log_line(request_id)
        self.assertNotIn('\x1b', self.daemon_output())
        self.assertIn('\\x1b[2Jb\\x7fc', line)

    def test_long_path_is_cut(self):
        resp = self.request('GET', '/' + 'a' * 6000)
        line = self.log_line(resp.headers['X-Request-Id'])
        self.assertIn('…', line)
        self.assertLess(len(line.encode()), 600)


class SecretEnvironmentTest(DaemonTestCase):
    env = {'ANTHROPIC_API_KEY': 'sk-ant-for-claude',
           'CLAUDE_CODE_OAUTH_TOKEN': 'oauth-for-claude',
           'GIT_CRYPT_KEY': '/nonexistent/git-crypt.key'}

    def test_no_daemon_secret_reaches_claude(self):
        credentials = os.path.join(self.tmp, 'credentials')
        os.makedirs(credentials)
        self.stop_daemon()
        self.start(env={'CREDENTIALS_DIRECTORY': credentials})
        resp = self.request('POST', '/v1/chat/completions',
                            body={'messages': [{'role': 'user', 'content': 'hi'}]})
        self.assertEqual(resp.status, 200, resp.body)
        runs = [run for run in self.fake_runs() if 'environ' in run]
        self.assertTrue(runs)
        for run in runs:
            environ = run['environ']
            for name in ('API_BEARER_TOKEN', 'CREDENTIALS_DIRECTORY', 'GIT_CRYPT_KEY'):
                self.assertNotIn(name, environ)
            self.assertFalse([n for n, v in environ.items() if TOKEN in v])
            # The CLI's own credentials still reach it.
            self.assertEqual(environ['ANTHROPIC_API_KEY'], 'sk-ant-for-claude')
            self.assertEqual(environ['CLAUDE_CODE_OAUTH_TOKEN'], 'oauth-for-claude')


if __name__ == '__main__':
    unittest.main()


def unit_environment():
    """The Environment= settings of the systemd user unit we install."""
    path = os.path.join(os.environ['CAS_SRCDIR'], 'data', 'claude-agent-service.service.in')
    env = {}
    with open(path, encoding='utf-8') as f:
        for line in f:
            if line.startswith('Environment='):
                key, value = line[len('Environment='):].strip().split('=', 1)
                env[key] = value
    return env


class BurstMemoryTest(DaemonTestCase):
    """Run as the user unit runs it, the daemon gives back what a burst of
    connections held: GLib 2.74's slice caches would keep megabytes."""
    start_daemon = False
    CONNECTIONS = 1500

    def setUp(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        need = self.CONNECTIONS + 512
        if soft < need:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, max(hard, need)))
            self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
        super().setUp()

    @needs_plain_memory
    def test_rss_returns_after_a_burst_of_connections(self):
        self.start(config={'http': {'max-connections': self.CONNECTIONS + 64}},
                   env=unit_environment())
        self.request('GET', '/health')
        before = self.daemon_status_kib()
        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])
        for _ in range(self.CONNECTIONS):
            sock = connect(self.port)
            socks.append(sock)
            self.assertIn(b' 200 ', get_health(sock))
        for sock in socks:
            sock.close()
        wait_for(lambda: len(os.listdir(f'/proc/{self.daemon.pid}/fd')) <= 32, 30,
                 'the connections to be closed')
        wait_for(lambda: self.daemon_status_kib() < before + 2048, 10,
                 f'RSS to come back within 2 MiB of {before} KiB')
