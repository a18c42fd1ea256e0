"""The web UI's login: POST /api/login sets a session cookie that then
authenticates /api/ routes (an EventSource cannot send a header), POST
/api/logout ends it, and wrong tokens are logged and answered late."""
import json
import os
import re

from cas_harness import DaemonTestCase, TOKEN, smoke, wait_for

COOKIE = 'cas_session'


def parse_set_cookie(header):
    parts = [part.strip() for part in header.split(';')]
    name, _, value = parts[0].partition('=')
    attributes = {}
    for part in parts[1:]:
        key, _, val = part.partition('=')
        attributes[key.lower()] = val
    return name, value, attributes


class LoginTestCase(DaemonTestCase):
    def login(self, token=TOKEN, **kwargs):
        return self.request('POST', '/api/login', body={'token': token}, token=None, **kwargs)

    def session_cookie(self):
        resp = self.login()
        self.assertEqual(resp.status, 200, resp.body)
        name, value, _ = parse_set_cookie(resp.headers['Set-Cookie'])
        self.assertEqual(name, COOKIE)
        return value

    def with_cookie(self, method, path, cookie, **kwargs):
        return self.request(method, path, token=None,
                            headers={'Cookie': cookie}, **kwargs)

    def failed_login_lines(self):
        return re.findall(r'Failed login from (\S+) \((\d+) in a row\): answering in (\d+) ms',
                          self.daemon_output())


class LoginTest(LoginTestCase):
    @smoke
    def test_login_sets_cookie(self):
        resp = self.login()
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.json(), {'ok': True, 'expires_in': 43200})
        self.assertEqual(resp.headers['Cache-Control'], 'no-store')
        name, value, attributes = parse_set_cookie(resp.headers['Set-Cookie'])
        self.assertEqual(name, COOKIE)
        # Opaque and random: not the token, nor made from it.
        self.assertRegex(value, r'^[0-9a-f]{64}$')
        self.assertNotIn(TOKEN, resp.headers['Set-Cookie'])
        self.assertEqual(attributes, {'path': '/api', 'max-age': '43200', 'httponly': '',
                                      'samesite': 'Strict'})
        # Another login, another session.
        self.assertNotEqual(self.session_cookie(), value)

    @smoke
    def test_cookie_works_on_api_routes_only(self):
        cookie = f'{COOKIE}={self.session_cookie()}'
        resp = self.with_cookie('GET', '/api/pve/verbs', cookie)
        self.assertEqual(resp.status, 200)
        # With a body too: checked before the body is read. (No [pve]
        # host here: 503 says auth passed.)
        resp = self.with_cookie('POST', '/api/pve/status', cookie, body={'x': 1})
        self.assertEqual(resp.status, 503)
        # Among other cookies, as browsers send them.
        resp = self.with_cookie('GET', '/api/pve/verbs', f'theme=dark; {cookie}; lang=bg')
        self.assertEqual(resp.status, 200)
        # Nothing outside /api/ takes it.
        self.assertEqual(self.with_cookie('GET', '/v1/models', cookie).status, 401)
        self.assertEqual(self.with_cookie('GET', '/jobs/abc', cookie).status, 401)
        resp = self.with_cookie('POST', '/execute', cookie, body={'prompt': 'x', 'agent': 'a'})
        self.assertEqual(resp.status, 401)
        resp = self.with_cookie('POST', '/v1/chat/completions', cookie,
                                body={'model': 'sonnet', 'messages': []})
        self.assertEqual(resp.status, 401)
        self.assertNotIn('path', self.with_cookie('GET', '/health', cookie).json()['claude'])
        self.assertEqual(self.with_cookie('GET', '/api', cookie).status, 401)
        self.assertEqual(self.with_cookie('GET', '/apix/pve/verbs', cookie).status, 401)

    def test_logout_ends_the_session(self):
        value = self.session_cookie()
        other = self.session_cookie()
        cookie = f'{COOKIE}={value}'
        resp = self.with_cookie('POST', '/api/logout', cookie)
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.json(), {'ok': True, 'closed': True})
        name, cleared, attributes = parse_set_cookie(resp.headers['Set-Cookie'])
        self.assertEqual((name, cleared), (COOKIE, ''))
        self.assertEqual(attributes['max-age'], '0')
        self.assertEqual(attributes['path'], '/api')
        resp = self.with_cookie('GET', '/api/pve/verbs', cookie)
        self.assertEqual(resp.status, 401)
        self.assertEqual(resp.json()['detail'], 'invalid or expired session cookie')
        # Only that session ended.
        self.assertEqual(self.with_cookie('GET', '/api/pve/verbs', f'{COOKIE}={other}').status,
                         200)
        # Again, or without a cookie: still fine, nothing closed.
        self.assertEqual(self.with_cookie('POST', '/api/logout', cookie).json()['closed'], False)
        self.assertEqual(self.request('POST', '/api/logout', token=None).status, 200)

    def test_wrong_token_is_logged_and_slowed(self):
        guesses = ['guess-Zebra-1', TOKEN[:-1], TOKEN + 'x']
        for guess in guesses:
            resp = self.login(guess)
            self.assertEqual(resp.status, 401)
            self.assertEqual(resp.json(), {'error': 'unauthorized', 'detail': 'invalid token'})
        wait_for(lambda: len(self.failed_login_lines()) == 3, 5, 'three failure log lines')
        lines = self.failed_login_lines()
        self.assertEqual([(peer, int(n)) for peer, n, _ in lines],
                         [('127.0.0.1', 1), ('127.0.0.1', 2), ('127.0.0.1', 3)])
        delays = [int(ms) for _, _, ms in lines]
        self.assertGreater(delays[0], 0)
        self.assertLess(delays[0], delays[1])
        self.assertLess(delays[1], delays[2])
        # What was given is never logged.
        output = self.daemon_output()
        self.assertNotIn('guess-Zebra-1', output)
        self.assertNotIn(TOKEN[:-1], output)
        # The right token still works, and starts the count again.
        self.assertEqual(self.login().status, 200)
        self.assertEqual(self.login('guess-Zebra-2').status, 401)
        wait_for(lambda: len(self.failed_login_lines()) == 4, 5, 'the fourth line')
        self.assertEqual(self.failed_login_lines()[3][1:], ('1', str(delays[0])))

    def test_guesses_at_once_wait_in_line_and_the_daemon_still_stops(self):
        import threading
        statuses = []

        def guess(n):
            try:
                statuses.append(self.login(f'guess-{n}').status)
            except OSError:
                statuses.append(None)

        threads = [threading.Thread(target=guess, args=(n,)) for n in range(5)]
        for thread in threads:
            thread.start()
        wait_for(lambda: len(self.failed_login_lines()) == 5, 10, 'five failure lines')
        # Sent together, each is answered after those before it.
        delays = [int(ms) for _, _, ms in self.failed_login_lines()]
        self.assertEqual(delays, sorted(delays))
        self.assertEqual(len(set(delays)), 5)
        # Answers still waiting do not hold up a stop (nor trip libsoup).
        self.stop_daemon()
        for thread in threads:
            thread.join()
        self.assertNotIn(200, statuses)

    def test_bad_login_bodies(self):
        for body in (b'', b'not json', b'[]', b'"token"', b'{"token": 5}', b'{"token": null}',
                     b'{"token": ["' + TOKEN.encode() + b'"]}', b'{"tok": "x"}',
                     b'{"token": "' + TOKEN.encode() + b'\\u0000x"}',
                     b'{"token": "\xff\xfe"}', b'{"token": "' + TOKEN.encode() + b'"',
                     b'{' * 100000):
            resp = self.request('POST', '/api/login', body=body, token=None,
                                headers={'Content-Type': 'application/json'})
            self.assertIn(resp.status, (400, 413), body[:40])
            self.assertNotIn('Set-Cookie', resp.headers)
        resp = self.request('POST', '/api/login', body={'token': 'x' * 10000}, token=None)
        self.assertEqual(resp.status, 413)
        # The bearer header alone is no login: the body carries the token.
        resp = self.request('POST', '/api/login')
        self.assertEqual(resp.status, 400)
        # None of these counted as a failed guess.
        self.assertEqual(self.failed_login_lines(), [])
        self.assertEqual(self.request('GET', '/health').status, 200)

    def test_forged_cookies_are_refused(self):
        value = self.session_cookie()
        forged = [f'{COOKIE}=' + '0' * 64, f'{COOKIE}={value.upper()}', f'{COOKIE}={value}0',
                  f'{COOKIE}={value[:-1]}', f'{COOKIE}={TOKEN}', f'{COOKIE}="{value}"',
                  f'{COOKIE.upper()}={value}', f'x{COOKIE}={value}', f'{COOKIE}',
                  f'{COOKIE}=', '=;;;=', ';' * 5000, f'{COOKIE}=' + 'a' * 9000,
                  'a=b; ' * 2000 + f'{COOKIE}={value}',
                  f'{COOKIE}=%{value[1:]}', f'{COOKIE}={value[:32]}\x7f{value[33:]}']
        for cookie in forged:
            resp = self.with_cookie('GET', '/api/pve/verbs', cookie)
            self.assertEqual(resp.status, 401, cookie[:80])
        # The real one still works, and the daemon is fine.
        self.assertEqual(self.with_cookie('GET', '/api/pve/verbs', f'{COOKIE}={value}').status,
                         200)
        # A bad cookie does not spoil a right bearer token.
        resp = self.request('GET', '/api/pve/verbs', headers={'Cookie': f'{COOKIE}=' + '0' * 64})
        self.assertEqual(resp.status, 200)


class LoginAcrossRestartsTest(LoginTestCase):
    """A phone logged in during an incident stays logged in when the
    daemon restarts (systemd restarts it on failure)."""

    def sessions_file(self):
        return os.path.join(self.state_dir, 'login-sessions.json')

    def wait_saved(self, count):
        def saved():
            try:
                with open(self.sessions_file(), encoding='utf-8') as f:
                    return len(json.load(f)['sessions']) == count
            except (FileNotFoundError, ValueError):
                return False
        wait_for(saved, 10, f'{count} saved session(s)')

    def test_a_session_outlives_a_restart_and_a_logout_does_too(self):
        kept, ended = self.session_cookie(), self.session_cookie()
        self.assertEqual(self.with_cookie('POST', '/api/logout', f'{COOKIE}={ended}').status,
                         200)
        self.wait_saved(1)
        with open(self.sessions_file(), encoding='utf-8') as f:
            saved = f.read()
        # The hash is kept, never the cookie.
        self.assertNotIn(kept, saved)
        self.assertEqual(os.stat(self.sessions_file()).st_mode & 0o777, 0o600)

        self.stop_daemon()
        self.start()
        self.assertEqual(self.with_cookie('GET', '/api/pve/verbs', f'{COOKIE}={kept}').status, 200)
        self.assertEqual(self.with_cookie('GET', '/api/pve/verbs', f'{COOKIE}={ended}').status,
                         401)

    def test_unreadable_sessions_file(self):
        self.stop_daemon()
        for contents in (b'\xff{', b'{"sessions":[{"hash":"../x","expires_us":"soon"}]}',
                         b' ' * (300 * 1024), b'{"sessions":[]}' + b' ' * (1 << 20)):
            with open(self.sessions_file(), 'wb') as f:
                f.write(contents)
            self.start()
            # Everyone logs in again; the daemon is fine and the next
            # login replaces the file.
            self.assertEqual(self.with_cookie('GET', '/api/pve/verbs',
                                              f'{COOKIE}={"0" * 64}').status, 401)
            self.session_cookie()
            self.wait_saved(1)
            self.stop_daemon()
        self.assertIn("logins in", self.daemon_output())


class LoginBehindProxyTest(LoginTestCase):
    config = {'http': {'trusted-proxies': '127.0.0.1'}}

    def test_secure_only_from_a_trusted_proxy_saying_https(self):
        resp = self.login(headers={'X-Forwarded-Proto': 'https'})
        self.assertIn('secure', parse_set_cookie(resp.headers['Set-Cookie'])[2])
        resp = self.login(headers={'X-Forwarded-Proto': 'http'})
        self.assertNotIn('secure', parse_set_cookie(resp.headers['Set-Cookie'])[2])
        self.stop_daemon()
        self.start(config={'http': {'trusted-proxies': '192.0.2.1'}})
        resp = self.login(headers={'X-Forwarded-Proto': 'https'})
        self.assertNotIn('secure', parse_set_cookie(resp.headers['Set-Cookie'])[2])
