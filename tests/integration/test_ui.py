"""The breakglass web UI's files (src/http/cas-ui-routes.c): each on its
exact path with its type, an ETag and 304, the security headers, HEAD;
nothing else routed (no shadowing of API routes, no traversal)."""
import http.client
import json
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from cas_harness import DaemonTestCase, TOKEN, smoke  # noqa: E402

UI_DIR = os.path.join(os.environ.get('CAS_SRCDIR', os.path.join(os.path.dirname(__file__), '..', '..')),
                      'data', 'ui')

FILES = {
    '/': ('index.html', 'text/html; charset=utf-8'),
    '/index.html': ('index.html', 'text/html; charset=utf-8'),
    '/app.css': ('app.css', 'text/css; charset=utf-8'),
    '/app.js': ('app.js', 'text/javascript; charset=utf-8'),
    '/manifest.webmanifest': ('manifest.webmanifest', 'application/manifest+json'),
    '/icon.svg': ('icon.svg', 'image/svg+xml'),
    '/icon-192.png': ('icon-192.png', 'image/png'),
    '/icon-512.png': ('icon-512.png', 'image/png'),
}


class UiTest(DaemonTestCase):

    def raw(self, request_line, headers=()):
        """Sends the request line as given (no client-side normalising)."""
        conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=30)
        try:
            method, path = request_line.split(' ', 1)
            conn.putrequest(method, path, skip_accept_encoding=True)
            for name, value in headers:
                conn.putheader(name, value)
            conn.endheaders()
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def assert_security_headers(self, resp):
        csp = resp.headers['Content-Security-Policy']
        self.assertIsNotNone(csp)
        self.assertIn("default-src 'self'", csp)
        self.assertIn("frame-ancestors 'none'", csp)
        self.assertNotIn('unsafe-inline', csp)
        self.assertNotIn('unsafe-eval', csp)
        self.assertNotIn('*', csp)
        self.assertEqual(resp.headers['X-Content-Type-Options'], 'nosniff')
        self.assertEqual(resp.headers['Referrer-Policy'], 'no-referrer')

    @smoke
    def test_each_file_served_with_its_type(self):
        for path, (name, content_type) in FILES.items():
            with self.subTest(path=path):
                resp = self.request('GET', path, token=None)
                self.assertEqual(resp.status, 200)
                self.assertEqual(resp.headers['Content-Type'], content_type)
                with open(os.path.join(UI_DIR, name), 'rb') as f:
                    self.assertEqual(resp.body, f.read())
                self.assert_security_headers(resp)
                self.assertEqual(resp.headers['Cache-Control'], 'no-cache')

    def test_etag_and_not_modified(self):
        for path in FILES:
            with self.subTest(path=path):
                first = self.request('GET', path, token=None)
                etag = first.headers['ETag']
                self.assertRegex(etag, r'^"[0-9a-f]{32}"$')
                again = self.request('GET', path, token=None, headers={'If-None-Match': etag})
                self.assertEqual(again.status, 304)
                self.assertEqual(again.body, b'')
                self.assertEqual(again.headers['ETag'], etag)
                self.assertIsNone(again.headers['Content-Length'])
                self.assert_security_headers(again)
                # A list, a weak form and "*" match too (RFC 9110 13.1.2).
                for value in (f'"nope", {etag}', f'W/{etag}', '*'):
                    resp = self.request('GET', path, token=None, headers={'If-None-Match': value})
                    self.assertEqual(resp.status, 304, value)
        # Files differ, and so do their tags; "/" is index.html.
        tags = {p: self.request('GET', p, token=None).headers['ETag'] for p in FILES}
        self.assertEqual(tags['/'], tags['/index.html'])
        self.assertEqual(len(set(tags.values())), len(FILES) - 1)

    def test_stale_or_hostile_if_none_match_gets_the_file(self):
        etag = self.request('GET', '/app.js', token=None).headers['ETag']
        for value in ('"0123"', etag.strip('"'), etag[:-2] + '"', '', ',,,', 'W/', '"' * 500,
                      'x' * 6000, etag + 'x', '\u00e9'.encode('utf-8').decode('latin-1')):
            with self.subTest(value=value[:40]):
                resp = self.request('GET', '/app.js', token=None, headers={'If-None-Match': value})
                self.assertEqual(resp.status, 200)
                self.assertEqual(resp.headers['ETag'], etag)

    def test_head(self):
        for path, (name, content_type) in FILES.items():
            with self.subTest(path=path):
                resp = self.request('HEAD', path, token=None)
                self.assertEqual(resp.status, 200)
                self.assertEqual(resp.body, b'')
                self.assertEqual(resp.headers['Content-Type'], content_type)
                size = os.path.getsize(os.path.join(UI_DIR, name))
                self.assertEqual(int(resp.headers['Content-Length']), size)
                self.assert_security_headers(resp)
        # The connection is still good after a HEAD: the next answer is whole.
        self.assertEqual(self.request('GET', '/health', token=None).status, 200)

    def test_unknown_paths_are_not_found(self):
        # With a token, so the answer is about the route, not about auth.
        for path in ('/nonexistent', '/api/nonexistent', '/api/', '/api', '/app.js/',
                     '/app.js/x', '/ui.gresource.xml', '/meson.build', '/APP.JS',
                     '/index.htm', '//', '//app.js'):
            with self.subTest(path=path):
                resp = self.request('GET', path)
                self.assertEqual(resp.status, 404)
                self.assertEqual(resp.headers['Content-Type'], 'application/json')
                self.assertEqual(resp.json()['error'], 'not_found')

    def test_unknown_paths_without_a_token_are_not_served(self):
        for path in ('/nonexistent', '/api/nonexistent', '/api/sessions'):
            with self.subTest(path=path):
                resp = self.request('GET', path, token=None)
                self.assertIn(resp.status, (401, 404))
                self.assertNotIn(b'<html', resp.body)

    def test_traversal_is_not_found(self):
        auth = [('Authorization', f'Bearer {TOKEN}')]
        for path in ('/index.html/../x', '/index.html/../../etc/passwd', '/../etc/passwd',
                     '/%2e%2e/etc/passwd', '/%2E%2E/%2E%2E/etc/passwd', '/%2fetc%2fpasswd',
                     '/org/ClaudeAgentService/ui/app.js', '/..\\app.js',
                     '/resource:///org/ClaudeAgentService/ui/app.js', '/%252e%252e/etc/passwd'):
            with self.subTest(path=path):
                status, body = self.raw(f'GET {path}', auth)
                self.assertEqual(status, 404, path)
                self.assertNotIn(b'root:', body)
        # libsoup itself refuses these as malformed (400) before any route.
        for path in ('/%2e%2e%2fetc%2fpasswd', '/..%2f..%2fetc%2fpasswd', '/app.js%00.png',
                     '/app.js%2f..%2findex.html'):
            with self.subTest(path=path):
                status, body = self.raw(f'GET {path}', auth)
                self.assertIn(status, (400, 404), path)
                self.assertNotIn(b'root:', body)
                self.assertNotIn(b'<html', body)
        # Dot segments are folded before routing: what is left is a file
        # we serve anyway, whole.
        for path, name in (('/.', 'index.html'), ('/icon.svg/..', 'index.html'),
                           ('/x/../app.js', 'app.js')):
            with self.subTest(path=path):
                status, body = self.raw(f'GET {path}', auth)
                self.assertEqual(status, 200, path)
                with open(os.path.join(UI_DIR, name), 'rb') as f:
                    self.assertEqual(body, f.read())

    def test_wrong_methods(self):
        for method in ('POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'):
            for path in ('/', '/app.js', '/manifest.webmanifest'):
                with self.subTest(method=method, path=path):
                    resp = self.request(method, path)
                    self.assertEqual(resp.status, 405)
                    self.assertEqual(resp.headers['Allow'], 'GET, HEAD')

    def test_post_root_without_token_is_refused(self):
        resp = self.request('POST', '/', body={'x': 1}, token=None)
        self.assertEqual(resp.status, 401)

    def test_manifest_names_served_icons(self):
        resp = self.request('GET', '/manifest.webmanifest', token=None)
        manifest = json.loads(resp.body.decode('utf-8'))
        self.assertEqual(manifest['start_url'], '/')
        self.assertEqual(manifest['display'], 'standalone')
        for key in ('name', 'short_name', 'theme_color', 'background_color'):
            self.assertTrue(manifest[key], key)
        sizes = set()
        for icon in manifest['icons']:
            with self.subTest(icon=icon['src']):
                served = self.request('GET', icon['src'], token=None)
                self.assertEqual(served.status, 200)
                self.assertEqual(served.headers['Content-Type'], icon['type'])
                if icon['type'] == 'image/png':
                    self.assertEqual(served.body[:8], b'\x89PNG\r\n\x1a\n')
                    width = int.from_bytes(served.body[16:20], 'big')
                    height = int.from_bytes(served.body[20:24], 'big')
                    self.assertEqual(icon['sizes'], f'{width}x{height}')
                sizes.add(icon['sizes'])
        self.assertIn('192x192', sizes)
        self.assertIn('512x512', sizes)

    def test_index_links_only_served_files(self):
        html = self.request('GET', '/', token=None).body.decode('utf-8')
        self.assertIn('<link rel="manifest" href="/manifest.webmanifest">', html)
        self.assertIn('viewport-fit=cover', html)
        # No inline script or style: the CSP would block them.
        self.assertNotIn('<script>', html)
        self.assertNotIn('<style', html)
        self.assertNotIn(' style=', html)
        self.assertNotIn(' onclick=', html)
        for ref in re.findall(r'(?:href|src)="(/[^"]*)"', html):
            with self.subTest(ref=ref):
                self.assertEqual(self.request('GET', ref, token=None).status, 200)

    def test_api_routes_not_shadowed(self):
        # The UI does not answer for what the API owns.
        health = self.request('GET', '/health', token=None)
        self.assertEqual(health.status, 200)
        self.assertEqual(health.headers['Content-Type'], 'application/json')
        models = self.request('GET', '/v1/models')
        self.assertEqual(models.status, 200)
        self.assertIsNone(models.headers['Content-Security-Policy'])


if __name__ == '__main__':
    unittest.main()
