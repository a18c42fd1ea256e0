#!/usr/bin/python3
"""A fake Slack incoming-webhook endpoint on 127.0.0.1, for tests.

POST <webhook path> with a JSON body carrying "text" answers 200 "ok", as
Slack does. It refuses what Slack refuses: a path that is not a known
webhook, 404 "no_service"; a body that is not JSON or has no string
"text", 400 "invalid_payload"; a method other than POST, 405. Control
paths under /_fake/: GET /_fake/messages (what was accepted),
POST /_fake/fail?count=N&status=S&body=B (answer the next N webhook
posts with S and B), POST /_fake/reset.

Stdlib only; run with /usr/bin/python3. See tests/fakes/README.md.
"""

import argparse
import json
import os
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 1024 * 1024


class State:
    def __init__(self, paths):
        self.lock = threading.Lock()
        self.paths = set(paths)
        self.messages = []
        self.fail_count = 0
        self.fail_status = 500
        self.fail_body = 'internal_error'
        self.requests = 0


class Handler(BaseHTTPRequestHandler):
    server_version = 'fake-slack/1'
    protocol_version = 'HTTP/1.1'

    def log_message(self, fmt, *args):
        sys.stderr.write('fake-slack: ' + (fmt % args) + '\n')

    def reply(self, status, text, content_type='text/html'):
        body = text.encode()
        self.send_response(status)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        state = self.server.state
        url = urllib.parse.urlsplit(self.path)
        if url.path == '/_fake/messages':
            with state.lock:
                self.reply(200, json.dumps({'messages': state.messages,
                                            'requests': state.requests}),
                           'application/json')
            return
        if url.path in state.paths:
            self.reply(405, 'invalid_method')
            return
        self.reply(404, 'no_service')

    def do_POST(self):
        state = self.server.state
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        if url.path == '/_fake/fail':
            with state.lock:
                state.fail_count = int(query.get('count', ['1'])[0])
                state.fail_status = int(query.get('status', ['500'])[0])
                state.fail_body = query.get('body', ['internal_error'])[0]
            self.reply(200, 'ok')
            return
        if url.path == '/_fake/reset':
            with state.lock:
                state.messages.clear()
                state.fail_count = 0
                state.requests = 0
            self.reply(200, 'ok')
            return

        length = self.headers.get('Content-Length')
        try:
            n = int(length) if length is not None else -1
        except ValueError:
            n = -1
        if n < 0 or n > MAX_BODY:
            self.close_connection = True
            self.reply(400, 'invalid_payload')
            return
        body = self.rfile.read(n)
        with state.lock:
            state.requests += 1
            if url.path not in state.paths:
                self.reply(404, 'no_service')
                return
            if state.fail_count > 0:
                state.fail_count -= 1
                self.reply(state.fail_status, state.fail_body)
                return
        try:
            payload = json.loads(body.decode('utf-8'))
        except (UnicodeDecodeError, ValueError):
            self.reply(400, 'invalid_payload')
            return
        if not isinstance(payload, dict) or not isinstance(payload.get('text'), str) \
                or payload['text'] == '':
            self.reply(400, 'invalid_payload')
            return
        with state.lock:
            state.messages.append({'path': url.path, 'payload': payload,
                                   'content_type': self.headers.get('Content-Type')})
        self.reply(200, 'ok')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--port-file', required=True,
                        help='where to write the port once listening')
    parser.add_argument('--webhook-path', action='append', default=[],
                        help='a webhook path that exists, e.g. /services/T0/B0/secret')
    parser.add_argument('--exit-with-stdin', action='store_true',
                        help='exit when stdin reaches EOF (the test that started it died)')
    args = parser.parse_args()

    server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    server.daemon_threads = True
    server.state = State(args.webhook_path or ['/services/T000/B000/XXXXXXXX'])
    tmp = args.port_file + '.tmp'
    with open(tmp, 'w', encoding='ascii') as f:
        f.write('%d\n' % server.server_address[1])
    os.rename(tmp, args.port_file)
    if args.exit_with_stdin:
        def watch():
            sys.stdin.buffer.read()
            os._exit(0)
        threading.Thread(target=watch, daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    main()
