"""HTTP basics against the built daemon: /health, auth, limits, routing."""
import os
import stat
import time
import unittest

from cas_harness import DaemonTestCase, TOKEN, needs_plain_memory, smoke, wait_for


class HealthTest(DaemonTestCase):
    @smoke
    def test_health_without_auth(self):
        resp = self.request('GET', '/health', token=None)
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.headers['Content-Type'], 'application/json')
        body = resp.json()
        self.assertEqual(body['status'], 'ok')
        self.assertEqual(body['service'], 'claude-agent-service')
        self.assertRegex(body['version'], r'^\d+\.\d+\.\d+')
        self.assertEqual(body['busy'], False)
        self.assertEqual(body['active'], 0)
        self.assertEqual(body['queued'], 0)
        self.assertEqual(body['capacity'], 10)
        # Where the CLI is (and so the user's home) is for token holders.
        self.assertEqual(body['claude'], {'available': True})

    def test_health_path_only_with_token(self):
        body = self.request('GET', '/health').json()
        self.assertTrue(body['claude']['path'].endswith('/claude'))
        self.assertNotIn('path', self.request('GET', '/health', token='wrong').json()['claude'])

    @smoke
    def test_head_health_without_auth(self):
        resp = self.request('HEAD', '/health', token=None)
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.headers['Content-Type'], 'application/json')
        self.assertEqual(resp.body, b'')

    def test_health_reports_missing_claude(self):
        self.stop_daemon()
        self.start(env={'PATH': '/usr/bin:/bin'})
        body = self.request('GET', '/health', token=None).json()
        self.assertEqual(body['claude'], {'available': False})
        body = self.request('GET', '/health').json()
        self.assertEqual(body['claude'], {'available': False, 'path': None})

    def test_health_capacity_from_environment(self):
        self.stop_daemon()
        self.start(env={'MAX_CONCURRENCY': '3'})
        self.assertEqual(self.request('GET', '/health').json()['capacity'], 3)

    def test_request_id_header(self):
        first = self.request('GET', '/health').headers['X-Request-Id']
        second = self.request('GET', '/v1/models').headers['X-Request-Id']
        self.assertTrue(first)
        self.assertNotEqual(first, second)
        # Logged when the response is done, which may be just after we read it.
        wait_for(lambda: f'{second} GET /v1/models 200' in self.daemon_output(), 5,
                 'the access log line')

    def test_health_is_logged_at_debug_level_only(self):
        # A scheduler polling /health must not fill the journal; every
        # API request still gets its line.
        for _ in range(20):
            self.assertEqual(self.request('GET', '/health', token=None).status, 200)
        models = self.request('GET', '/v1/models').headers['X-Request-Id']
        wait_for(lambda: models in self.daemon_output(), 5, 'the access log line')
        self.assertNotIn('/health', self.daemon_output())

        self.stop_daemon()
        self.start(env={'G_MESSAGES_DEBUG': 'cas-http'})
        health = self.request('GET', '/health').headers['X-Request-Id']
        wait_for(lambda: f'{health} GET /health 200' in self.daemon_output(), 5,
                 'the debug line for /health')


class AuthTest(DaemonTestCase):
    @smoke
    def test_missing_token(self):
        resp = self.request('GET', '/v1/models', token=None)
        self.assertEqual(resp.status, 401)
        self.assertEqual(resp.headers['WWW-Authenticate'], 'Bearer')
        err = resp.json()['error']
        self.assertEqual(err['type'], 'authentication_error')
        self.assertIn('missing', err['message'])

    def test_wrong_token(self):
        resp = self.request('GET', '/jobs/abc', token='wrong')
        self.assertEqual(resp.status, 401)
        self.assertEqual(resp.json(), {'error': 'unauthorized', 'detail': 'invalid bearer token'})

    def test_token_prefix_is_not_enough(self):
        self.assertEqual(self.request('GET', '/nothing', token=TOKEN[:-1]).status, 401)
        self.assertEqual(self.request('GET', '/nothing', token=TOKEN + 'x').status, 401)

    def test_not_bearer_scheme(self):
        resp = self.request('GET', '/nothing', token=None,
                            headers={'Authorization': 'Basic ' + TOKEN})
        self.assertEqual(resp.status, 401)
        self.assertIn('missing', resp.json()['detail'])

    def test_proxy_header_ignored_by_default(self):
        resp = self.request('GET', '/nothing', token=None,
                            headers={'X-authentik-username': 'owner'})
        self.assertEqual(resp.status, 401)

    def test_proxy_header_when_trusted(self):
        self.stop_daemon()
        self.start(config={'http': {'trust-proxy-user-header': 'true',
                                    'trusted-proxies': '10.1.2.3, 127.0.0.1'}})
        resp = self.request('GET', '/nothing', token=None,
                            headers={'X-authentik-username': 'owner'})
        self.assertEqual(resp.status, 404)
        resp = self.request('GET', '/nothing', token=None,
                            headers={'X-authentik-username': ''})
        self.assertEqual(resp.status, 401)

    def test_proxy_header_only_from_trusted_proxies(self):
        # Every local process reaches 127.0.0.1: the header alone, from a
        # peer that is not the proxy, must not authenticate.
        for proxies in ('', '10.1.2.3'):
            self.stop_daemon()
            self.start(config={'http': {'trust-proxy-user-header': 'true',
                                        'trusted-proxies': proxies}})
            resp = self.request('GET', '/nothing', token=None,
                                headers={'X-authentik-username': 'owner'})
            self.assertEqual(resp.status, 401, proxies)
        self.assertIn('trusted-proxies is empty', self.daemon_output())

    def test_trusted_proxies_must_be_addresses(self):
        self.stop_daemon()
        daemon = self.start(config={'http': {'trusted-proxies': '127.0.0.1, proxy.lan'}},
                            wait=False)
        self.assertEqual(daemon.wait(10), 1)
        self.assertIn('Invalid value “127.0.0.1, proxy.lan” for [http] trusted-proxies',
                      self.daemon_output())


class GeneratedTokenTest(DaemonTestCase):
    env = {'API_BEARER_TOKEN': None}

    def test_token_generated_on_first_start(self):
        path = os.path.join(self.state_dir, 'api-token')
        mode = stat.S_IMODE(os.stat(path).st_mode)
        self.assertEqual(mode, 0o600)
        with open(path, encoding='utf-8') as f:
            token = f.read().strip()
        self.assertGreaterEqual(len(token), 32)
        self.assertEqual(self.request('GET', '/nothing', token=token).status, 404)
        self.assertEqual(self.request('GET', '/nothing', token=TOKEN).status, 401)
        self.assertIn(path, self.daemon_output())
        self.assertNotIn(token, self.daemon_output())
        # The same token after a restart.
        self.stop_daemon()
        self.start()
        self.assertEqual(self.request('GET', '/nothing', token=token).status, 404)

    def test_token_from_file(self):
        self.stop_daemon()
        path = os.path.join(self.tmp, 'token')
        with open(path, 'w', encoding='utf-8') as f:
            f.write('from-a-file\n')
        self.start(config={'http': {'api-token-file': path}})
        self.assertEqual(self.request('GET', '/nothing', token='from-a-file').status, 404)

    def test_token_from_credentials_directory(self):
        self.stop_daemon()
        creds = os.path.join(self.tmp, 'creds')
        os.makedirs(creds)
        with open(os.path.join(creds, 'api-token'), 'w', encoding='utf-8') as f:
            f.write('from-systemd')
        self.start(env={'CREDENTIALS_DIRECTORY': creds})
        self.assertEqual(self.request('GET', '/nothing', token='from-systemd').status, 404)

    def test_empty_token_file_is_an_error(self):
        self.stop_daemon()
        path = os.path.join(self.tmp, 'token')
        open(path, 'w', encoding='utf-8').close()
        self.start(config={'http': {'api-token-file': path}}, wait=False)
        self.assertEqual(self.daemon.wait(20), 1)
        self.assertIn('empty', self.daemon_output())


class RoutingTest(DaemonTestCase):
    @smoke
    def test_unknown_route(self):
        resp = self.request('GET', '/no/such/route')
        self.assertEqual(resp.status, 404)
        self.assertEqual(resp.json()['error'], 'not_found')

    def test_unknown_v1_route_has_openai_shape(self):
        resp = self.request('GET', '/v1/nothing')
        self.assertEqual(resp.status, 404)
        err = resp.json()['error']
        self.assertEqual(set(err), {'message', 'type', 'param', 'code'})
        self.assertEqual(err['type'], 'not_found_error')

    @smoke
    def test_wrong_method(self):
        resp = self.request('POST', '/health', body={})
        self.assertEqual(resp.status, 405)
        self.assertEqual(resp.headers['Allow'], 'GET, HEAD')
        self.assertEqual(resp.json()['error'], 'method_not_allowed')

    def test_percent_encoded_path(self):
        self.assertEqual(self.request('GET', '/%2e%2e/%2Fetc/passwd').status, 404)
        # libsoup itself refuses a NUL in the path.
        self.assertIn(self.request('GET', '/health%00').status, (400, 404))
        self.assertEqual(self.request('GET', '/health').status, 200)


class ConnectionLeakTest(DaemonTestCase):
    def open_fds(self):
        return len(os.listdir(f'/proc/{self.daemon.pid}/fd'))

    @smoke
    def test_keep_alive(self):
        import http.client
        conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=10)
        socks = []
        try:
            for path in ('/health', '/no/such/route', '/health'):
                conn.request('GET', path)
                resp = conn.getresponse()
                resp.read()
                self.assertIsNone(resp.getheader('Connection'))
                socks.append(conn.sock)
        finally:
            conn.close()
        # One connection carried all three.
        self.assertEqual(len(set(map(id, socks))), 1)

    def test_client_closed_connections_leave_nothing(self):
        # libsoup 3.2 keeps every idle kept-alive connection a client
        # closed (a descriptor in CLOSE-WAIT each); the daemon must not.
        import http.client
        self.request('GET', '/health')
        baseline = self.open_fds()
        for _ in range(300):
            conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=10)
            conn.request('GET', '/health')
            conn.getresponse().read()
            conn.close()
        wait_for(lambda: self.open_fds() <= baseline + 2, 10, 'descriptors to be released')

    @needs_plain_memory
    def test_client_closed_connections_free_their_memory(self):
        # libsoup 3.2 also keeps the objects and buffers of each one,
        # about 2 KiB (cas-client-input-stream.c): 900 would be ~1.9 MiB.
        import http.client

        def one_round():
            for _ in range(300):
                conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=10)
                conn.request('GET', '/health')
                conn.getresponse().read()
                conn.close()
        one_round()
        time.sleep(0.5)
        before = self.daemon_status_kib('RssAnon')
        for _ in range(3):
            one_round()
        time.sleep(0.5)
        self.assertLess(self.daemon_status_kib('RssAnon') - before, 512)

    def test_half_closed_client_reads_one_response_then_the_end(self):
        # A client that shuts down its sending side after its request
        # still reads its response to the end, then nothing more.
        import json
        import socket
        sock = socket.create_connection(('127.0.0.1', self.port), timeout=10)
        sock.sendall(b'GET /health HTTP/1.1\r\nHost: x\r\n\r\n')
        sock.shutdown(socket.SHUT_WR)
        data = b''
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        sock.close()
        head, body = data.split(b'\r\n\r\n', 1)
        self.assertTrue(head.startswith(b'HTTP/1.1 200'), head)
        self.assertEqual(data.count(b'HTTP/1.'), 1)
        self.assertEqual(json.loads(body)['status'], 'ok')

    def test_reset_connections_leave_nothing(self):
        # A client that quits with a request in flight resets the
        # connection (wrk does at the end of every run).
        import socket
        import struct
        self.request('GET', '/health')
        baseline = self.open_fds()
        linger_zero = struct.pack('ii', 1, 0)
        for i in range(100):
            sock = socket.create_connection(('127.0.0.1', self.port), timeout=10)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger_zero)
            sock.sendall(b'GET /health HTTP/1.1\r\nHost: x\r\n\r\n')
            if i % 2:
                sock.recv(4096)  # after the response, or before it
            sock.close()
        wait_for(lambda: self.open_fds() <= baseline + 2, 10, 'descriptors to be released')
        self.assertEqual(self.request('GET', '/health').status, 200)


class BodyLimitTest(DaemonTestCase):
    @smoke
    def test_nine_mib_body(self):
        body = b'{"x":"' + b'a' * (9 * 1024 * 1024) + b'"}'
        resp = self.request('POST', '/v1/chat/completions', body=body,
                            headers={'Content-Type': 'application/json'})
        self.assertEqual(resp.status, 413)
        self.assertEqual(resp.json()['error']['code'], 'payload_too_large')
        # The daemon is fine afterwards.
        self.assertEqual(self.request('GET', '/health').status, 200)

    def test_chunked_body_over_limit(self):
        self.stop_daemon()
        self.start(config={'http': {'max-body-bytes': '4096'}})

        def chunks():
            for _ in range(10):
                yield b'x' * 1000
        import http.client
        conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=10)
        conn.request('POST', '/execute', body=chunks(),
                     headers={'Authorization': f'Bearer {TOKEN}'},
                     encode_chunked=True)
        resp = conn.getresponse()
        self.assertEqual(resp.status, 413)
        self.assertEqual(resp.read()[:1], b'{')
        conn.close()

    def test_body_at_limit_is_not_refused(self):
        self.stop_daemon()
        self.start(config={'http': {'max-body-bytes': '4096'}})
        resp = self.request('POST', '/nothing', body=b'x' * 4096)
        self.assertEqual(resp.status, 404)


if __name__ == '__main__':
    unittest.main()
