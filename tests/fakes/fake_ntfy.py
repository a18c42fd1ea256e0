#!/usr/bin/python3
"""A fake ntfy server (https://ntfy.sh) on 127.0.0.1, for tests.

POST /<topic> publishes: the body is the message, the Title, Priority,
Tags, Click and Authorization headers what ntfy reads. It answers as ntfy
does: 200 and the message as JSON, 400 for a bad topic or priority, 403
for a protected topic without the right token, 413 for a message over
4096 bytes (this fake has no attachments). Control paths under /_fake/:
GET /_fake/messages (what was accepted), POST /_fake/fail?count=N&status=S
(answer the next N publishes with S), POST /_fake/reset.

Stdlib only; run with /usr/bin/python3. See tests/fakes/README.md.
"""

import argparse
import email.header
import json
import os
import re
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOPIC = re.compile(r'^[-_A-Za-z0-9]{1,64}$')
PRIORITIES = {'1': 1, 'min': 1, '2': 2, 'low': 2, '3': 3, 'default': 3,
              '4': 4, 'high': 4, '5': 5, 'max': 5, 'urgent': 5}
MAX_MESSAGE = 4096
MAX_BODY = 1024 * 1024


def decode_header(value):
    """ntfy reads RFC 2047 encoded words in any header."""
    if value is None:
        return None
    parts = []
    for data, charset in email.header.decode_header(value):
        if isinstance(data, bytes):
            parts.append(data.decode(charset or 'ascii', errors='replace'))
        else:
            parts.append(data)
    return ''.join(parts)


class State:
    def __init__(self, tokens, protected):
        self.lock = threading.Lock()
        self.tokens = set(tokens)
        self.protected = protected
        self.messages = []
        self.fail_count = 0
        self.fail_status = 500
        self.requests = 0


class Handler(BaseHTTPRequestHandler):
    server_version = 'fake-ntfy/1'
    protocol_version = 'HTTP/1.1'

    def log_message(self, fmt, *args):
        sys.stderr.write('fake-ntfy: ' + (fmt % args) + '\n')

    def reply(self, status, obj):
        body = (json.dumps(obj) + '\n').encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def error(self, status, code, text):
        self.reply(status, {'code': code, 'http': status, 'error': text})

    def read_body(self):
        length = self.headers.get('Content-Length')
        if length is None:
            return None
        try:
            n = int(length)
        except ValueError:
            return None
        if n < 0 or n > MAX_BODY:
            return None
        return self.rfile.read(n)

    def do_GET(self):
        state = self.server.state
        url = urllib.parse.urlsplit(self.path)
        if url.path == '/_fake/messages':
            with state.lock:
                self.reply(200, {'messages': state.messages, 'requests': state.requests})
            return
        self.error(404, 40401, 'page not found')

    def do_POST(self):
        state = self.server.state
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        if url.path == '/_fake/fail':
            with state.lock:
                state.fail_count = int(query.get('count', ['1'])[0])
                state.fail_status = int(query.get('status', ['500'])[0])
            self.reply(200, {'ok': True})
            return
        if url.path == '/_fake/reset':
            with state.lock:
                state.messages.clear()
                state.fail_count = 0
                state.requests = 0
            self.reply(200, {'ok': True})
            return

        body = self.read_body()
        with state.lock:
            state.requests += 1
            if state.fail_count > 0:
                state.fail_count -= 1
                status = state.fail_status
                self.error(status, status * 100 + 1, 'told to fail')
                return
        if body is None:
            self.error(400, 40001, 'invalid request: a Content-Length of at most 1 MiB is needed')
            return
        topic = url.path[1:]
        if not TOPIC.match(topic):
            self.error(400, 40009, 'invalid topic')
            return
        auth = self.headers.get('Authorization')
        if state.protected:
            token = auth[len('Bearer '):] if auth and auth.startswith('Bearer ') else None
            if token not in state.tokens:
                self.error(403, 40301, 'forbidden')
                return
        priority_text = (self.headers.get('Priority') or 'default').strip().lower()
        if priority_text not in PRIORITIES:
            self.error(400, 40007, 'invalid priority')
            return
        try:
            message = body.decode('utf-8')
        except UnicodeDecodeError:
            self.error(400, 40001, 'message is not UTF-8')
            return
        if len(body) > MAX_MESSAGE:
            self.error(413, 41301, 'message too large, and attachments are not allowed')
            return
        tags = decode_header(self.headers.get('Tags'))
        record = {
            'id': '%08x' % (len(state.messages) + 1),
            'time': int(time.time()),
            'event': 'message',
            'topic': topic,
            'title': decode_header(self.headers.get('Title')),
            'title_raw': self.headers.get('Title'),
            'priority': PRIORITIES[priority_text],
            'tags': [t.strip() for t in tags.split(',')] if tags else [],
            'click': self.headers.get('Click'),
            'authorized': auth is not None,
            'message': message,
        }
        with state.lock:
            state.messages.append(record)
        self.reply(200, {k: v for k, v in record.items()
                         if k not in ('title_raw', 'authorized')})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--port-file', required=True,
                        help='where to write the port once listening')
    parser.add_argument('--token', action='append', default=[],
                        help='an access token; with any, every topic is protected')
    parser.add_argument('--exit-with-stdin', action='store_true',
                        help='exit when stdin reaches EOF (the test that started it died)')
    args = parser.parse_args()

    server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    server.daemon_threads = True
    server.state = State(args.token, protected=bool(args.token))
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
