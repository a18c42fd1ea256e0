"""bench_client.py: the benchmark's HTTP/1.1 load client.

Raw sockets on one epoll loop: every socket that epoll reports readable is
read and stamped with time.time_ns() first, and only then is anything
parsed, so a timestamp is late by at most the reads before it in the same
wake-up. Each wake-up's own cost (epoll return -> back in epoll) is kept in
ClientStats so the report can say how much the client itself adds.

Responses are parsed incrementally (chunked, Content-Length or
close-delimited bodies); text/event-stream bodies are split into SSE events
as they arrive, and the fake claude's `[t=<CLOCK_REALTIME us>]` stamps in
delta.content give the per-delta relay latency.
"""
import json
import re
import select
import socket
import time

STAMP = re.compile(r'\[t=(\d+)\]')
RECV_BYTES = 256 * 1024


def http_request(method, path, token=None, body=None, headers=None):
    """The bytes of one HTTP/1.1 request; body (a dict) is sent as JSON."""
    payload = b'' if body is None else json.dumps(body).encode('utf-8')
    lines = [f'{method} {path} HTTP/1.1', 'Host: 127.0.0.1',
             'Accept: application/json', 'User-Agent: cas-bench']
    if token is not None:
        lines.append(f'Authorization: Bearer {token}')
    if body is not None:
        lines.append('Content-Type: application/json')
    lines.append(f'Content-Length: {len(payload)}')
    lines += [f'{k}: {v}' for k, v in (headers or {}).items()]
    return ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1') + payload


class Exchange:
    """One request on its own connection, and its response as it arrives."""

    def __init__(self, request):
        self.request = request
        self.sock = None
        self.t_sent = None            # time.time_ns() right before the send
        self.t_first_content = None   # first SSE chunk with non-empty delta.content
        self.t_done = None
        self.status = None
        self.headers = {}
        self.body = bytearray()       # the whole body, unless it is SSE
        self.relay_us = []            # receive time minus the fake's stamp, per delta
        self.content = []             # every delta.content, in order
        self.saw_done = False         # `data: [DONE]` arrived
        self.events = 0
        self.done = False
        self._raw = bytearray()       # bytes not yet parsed
        self._state = 'head'
        self._left = 0                # bytes left in this chunk / the body
        self._sse = None              # bytearray of undelivered SSE text, if SSE

    @property
    def ttft_ms(self):
        if self.t_first_content is None:
            return None
        return (self.t_first_content - self.t_sent) / 1e6

    @property
    def total_ms(self):
        return None if self.t_done is None else (self.t_done - self.t_sent) / 1e6

    def json(self):
        return json.loads(self.body.decode('utf-8'))

    def feed(self, data, t_ns):
        """Parses newly received bytes; t_ns is when they were received."""
        self._raw += data
        while not self.done and self._step(t_ns):
            pass

    def feed_eof(self, t_ns):
        if not self.done:
            if self._state != 'eof':
                raise ConnectionError(f'connection closed mid-response ({self._state})')
            self._finish(t_ns)

    def _step(self, t_ns):
        """One parsing step; False when more bytes are needed."""
        raw = self._raw
        if self._state == 'head':
            end = raw.find(b'\r\n\r\n')
            if end < 0:
                return False
            head = bytes(raw[:end]).decode('latin-1').split('\r\n')
            del raw[:end + 4]
            self.status = int(head[0].split()[1])
            for line in head[1:]:
                key, _, value = line.partition(':')
                self.headers[key.strip().lower()] = value.strip()
            if self.headers.get('content-type', '').startswith('text/event-stream'):
                self._sse = bytearray()
            if 'chunked' in self.headers.get('transfer-encoding', '').lower():
                self._state = 'chunk-size'
            elif 'content-length' in self.headers:
                self._left = int(self.headers['content-length'])
                self._state = 'length'
                if self._left == 0:
                    self._finish(t_ns)
            else:
                self._state = 'eof'
            return True
        if self._state == 'chunk-size':
            end = raw.find(b'\r\n')
            if end < 0:
                return False
            size = int(bytes(raw[:end]).split(b';')[0], 16)
            del raw[:end + 2]
            self._left = size
            self._state = 'chunk-data' if size else 'trailer'
            return True
        if self._state == 'chunk-data':
            if not raw:
                return False
            take = min(len(raw), self._left)
            self._body(raw[:take], t_ns)
            del raw[:take]
            self._left -= take
            if self._left == 0:
                self._state = 'chunk-end'
            return True
        if self._state == 'chunk-end':
            if len(raw) < 2:
                return False
            del raw[:2]
            self._state = 'chunk-size'
            return True
        if self._state == 'trailer':
            end = raw.find(b'\r\n')
            if end < 0:
                return False
            del raw[:end + 2]
            if end == 0:
                self._finish(t_ns)
            return True
        if self._state == 'length':
            if not raw:
                return False
            take = min(len(raw), self._left)
            self._body(raw[:take], t_ns)
            del raw[:take]
            self._left -= take
            if self._left == 0:
                self._finish(t_ns)
            return True
        # 'eof': the body runs until the server closes
        if not raw:
            return False
        self._body(raw, t_ns)
        del raw[:]
        return False

    def _body(self, data, t_ns):
        if self._sse is None:
            self.body += data
            return
        self._sse += data
        while True:
            end = self._sse.find(b'\n\n')
            if end < 0:
                return
            event = bytes(self._sse[:end])
            del self._sse[:end + 2]
            self._event(event, t_ns)

    def _event(self, event, t_ns):
        self.events += 1
        for line in event.split(b'\n'):
            if not line.startswith(b'data:'):
                continue               # comments (`: ping`), event:, id:
            payload = line[5:].strip()
            if payload == b'[DONE]':
                self.saw_done = True
                continue
            try:
                chunk = json.loads(payload)
                text = chunk['choices'][0]['delta'].get('content')
            except (ValueError, KeyError, IndexError, TypeError, AttributeError):
                continue               # error chunks, usage chunks
            if not text:
                continue
            if self.t_first_content is None:
                self.t_first_content = t_ns
            self.content.append(text)
            t_us = t_ns / 1000
            self.relay_us += [t_us - int(m.group(1)) for m in STAMP.finditer(text)]

    def _finish(self, t_ns):
        self.done = True
        self.t_done = t_ns


class ClientStats:
    """What the client itself costs, per epoll wake-up."""

    def __init__(self):
        self.wakeup_us = []   # epoll return -> everything read and parsed
        self.read_lag_us = []  # epoll return -> the last socket of the wake-up read

    def as_dict(self):
        return {'wakeup_us': self.wakeup_us, 'read_lag_us': self.read_lag_us}


def run(port, make_request, concurrency, per_slot, timeout=120, stats=None, on_done=None):
    """Keeps `concurrency` requests in flight, each slot sending `per_slot`
    requests one after another, every one on a new connection (connected
    before its send time is taken). make_request() gives the request bytes.
    Returns the finished Exchanges in completion order, or hands each to
    on_done(exchange) instead when that is given."""
    ep = select.epoll()
    live = {}                  # fd -> (slot, Exchange)
    remaining = [per_slot] * concurrency
    finished = []
    deadline = time.monotonic() + timeout

    def start(slot):
        remaining[slot] -= 1
        ex = Exchange(make_request())
        sock = socket.create_connection(('127.0.0.1', port), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ex.sock = sock
        ex.t_sent = time.time_ns()
        sock.sendall(ex.request)
        sock.setblocking(False)
        live[sock.fileno()] = (slot, ex)
        ep.register(sock.fileno(), select.EPOLLIN | select.EPOLLRDHUP)

    def close(fd, ex):
        ep.unregister(fd)
        del live[fd]
        ex.sock.close()
        ex.sock = None

    try:
        for slot in range(concurrency):
            if remaining[slot] > 0:
                start(slot)
        while live:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f'{len(live)} responses still open after {timeout} s')
            events = ep.poll(min(left, 1.0))
            t_wake = time.time_ns()
            arrived = []
            for fd, _ in events:
                slot, ex = live[fd]
                try:
                    data = ex.sock.recv(RECV_BYTES)
                except BlockingIOError:
                    continue
                arrived.append((fd, ex, data, time.time_ns()))
            for fd, ex, data, t_ns in arrived:
                if data:
                    ex.feed(data, t_ns)
                else:
                    ex.feed_eof(t_ns)
                if ex.done or not data:
                    slot = live[fd][0]
                    close(fd, ex)
                    if on_done is None:
                        finished.append(ex)
                    else:
                        on_done(ex)
                    if remaining[slot] > 0:
                        start(slot)
            if stats is not None and arrived:
                stats.read_lag_us.append((arrived[-1][3] - t_wake) / 1000)
                stats.wakeup_us.append((time.time_ns() - t_wake) / 1000)
    finally:
        for fd, (_, ex) in list(live.items()):
            close(fd, ex)
        ep.close()
    return finished


def one(port, request, timeout=60):
    """Sends one request and returns its finished Exchange."""
    return run(port, lambda: request, 1, 1, timeout)[0]
