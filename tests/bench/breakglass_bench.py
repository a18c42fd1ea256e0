"""breakglass_bench.py: the breakglass console's fan-out, measured.

One session, the fake claude writing --deltas text deltas per turn (each
stamped with its CLOCK_MONOTONIC write time), --clients SSE clients
attached to the session. It reports:

- that every client got every event, in order, gap-free (it fails if not);
- the delay from the fake's write of a delta to a client's read of its
  event (p50/p99/max over every client and delta), through the daemon
  (each event appended to the session's log before it is broadcast);
- the same delay for one client alone, and the baseline: the same fake,
  the same argv, read directly from its stdout by this script, without
  the daemon;
- the daemon's RSS idle, with the clients attached, and after the turn.

Run by hand, not part of `meson test` (tests/bench/README.md):

    /usr/bin/python3 tests/bench/breakglass_bench.py --builddir BUILD [--json out.json]

Use a release build: `meson setup BUILD --buildtype=release`.
"""
import argparse
import json
import math
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

TOKEN = 'bench-token-0123456789abcdef'
STAMP_RE = re.compile(rb'\[m=(\d+)\]')


def pct(values, p):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100.0 * len(ordered))) - 1]


def summary(values):
    return {'n': len(values), 'p50': pct(values, 50), 'p99': pct(values, 99),
            'max': max(values) if values else None}


def fmt(s, unit='ms', scale=1000.0):
    if not s['n']:
        return 'no samples'
    return (f"p50 {s['p50'] / scale:.2f} {unit}  p99 {s['p99'] / scale:.2f} {unit}  "
            f"max {s['max'] / scale:.2f} {unit}  (n={s['n']})")


def now_us():
    return time.monotonic_ns() // 1000


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def rss_kib(pid):
    with open(f'/proc/{pid}/status', encoding='utf-8') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return None


def cpu_seconds(pid):
    """User + system CPU time of @pid so far."""
    with open(f'/proc/{pid}/stat', encoding='utf-8') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def fake_env(args, tmp):
    return {
        'FAKE_CLAUDE_REPLY_BYTES': str(args.deltas * args.delta_bytes),
        'FAKE_CLAUDE_TOKENS': str(args.deltas),
        'FAKE_CLAUDE_TOKEN_INTERVAL_MS': str(args.interval_ms),
        'FAKE_CLAUDE_STAMP_MONOTONIC': '1',
        'FAKE_CLAUDE_LOG': os.path.join(tmp, 'fake.log'),
        'IS_SANDBOX': '1',
    }


class Daemon:
    def __init__(self, args, tmp):
        self.port = free_port()
        self.tmp = tmp
        config = os.path.join(tmp, 'config.ini')
        with open(config, 'w', encoding='utf-8') as f:
            f.write(f'[http]\naddress=127.0.0.1\nport={self.port}\naccess-log=false\n'
                    f'max-connections={args.clients + 64}\n[claude]\npool-size=0\n')
        env = dict(os.environ)
        env.update(fake_env(args, tmp))
        env.update({
            'HOME': os.path.join(tmp, 'home'),
            'XDG_CONFIG_HOME': os.path.join(tmp, 'config'),
            'XDG_STATE_HOME': os.path.join(tmp, 'state'),
            'XDG_RUNTIME_DIR': os.path.join(tmp, 'runtime'),
            'PATH': args.fakes + ':' + os.environ.get('PATH', '/usr/bin:/bin'),
            'API_BEARER_TOKEN': TOKEN,
        })
        env.pop('DBUS_SESSION_BUS_ADDRESS', None)
        for key in ('home', 'runtime'):
            os.makedirs(os.path.join(tmp, key), mode=0o700)
        self.log = open(os.path.join(tmp, 'daemon.log'), 'wb')
        self.proc = subprocess.Popen([args.daemon, '--config', config], env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            try:
                if self.request('GET', '/health')[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit('the daemon did not start')
            time.sleep(0.05)

    def request(self, method, path, body=None):
        req = urllib.request.Request(f'http://127.0.0.1:{self.port}{path}', method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={'Authorization': f'Bearer {TOKEN}'})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b'null')

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Client:
    """One raw SSE connection. Reads are stamped when they return and
    parsed after the turn, so parsing never delays a later read."""

    def __init__(self, port, sid):
        self.sock = socket.create_connection(('127.0.0.1', port))
        self.sock.sendall((f'GET /api/session/{sid}/stream HTTP/1.1\r\nHost: x\r\n'
                           f'Authorization: Bearer {TOKEN}\r\n\r\n').encode())
        self.sock.setblocking(False)
        self.reads = []          # (monotonic µs, bytes)
        self.tail = b''
        self.caught_up = False
        self.done = False

    def on_read(self, t_us, data):
        self.reads.append((t_us, data))
        # cheap checks only: the frames are parsed after the turn
        window = self.tail + data
        if not self.caught_up:
            at = window.find(b'event: caught-up')
            if at < 0:
                self.tail = window[-64:]
                return
            self.caught_up = True
            window = window[at:]   # earlier turns' turn_end is not this one's
        if b'"kind":"turn_end"' in window:
            self.done = True
        self.tail = window[-64:]

    def events(self):
        """[(id, kind, read time µs, stamp µs or None)] in arrival order."""
        out = []
        buf = b''
        live = False   # what came before caught-up is the replay of earlier turns
        headers = True
        for t_us, data in self.reads:
            buf += data
            if headers:
                end = buf.find(b'\r\n\r\n')
                if end < 0:
                    continue
                buf, headers = buf[end + 4:], False
            while True:
                end = buf.find(b'\n\n')
                if end < 0:
                    break
                frame, buf = buf[:end], buf[end + 2:]
                if frame.startswith(b'event: caught-up'):
                    live = True
                    continue
                if not live:
                    continue
                data_line = next((l for l in frame.split(b'\n') if l.startswith(b'data: {')), None)
                if data_line is None:
                    continue
                event = json.loads(data_line[6:])
                stamp = None
                if event['kind'] == 'text':
                    m = STAMP_RE.match(event['text'].encode())
                    stamp = int(m.group(1)) if m else None
                out.append((event['id'], event['kind'], t_us, stamp))
        return out


def pump(clients, until, timeout):
    sel = selectors.DefaultSelector()
    for c in clients:
        sel.register(c.sock, selectors.EVENT_READ, c)
    wakeups = []
    deadline = time.monotonic() + timeout
    try:
        while not all(until(c) for c in clients):
            if time.monotonic() > deadline:
                raise SystemExit('timed out waiting for the clients')
            ready = sel.select(1.0)
            t0 = time.monotonic_ns()
            for key, _ in ready:
                t_us = time.monotonic_ns() // 1000
                try:
                    data = key.fileobj.recv(1 << 20)
                except BlockingIOError:
                    continue
                if not data:
                    raise SystemExit('a client was dropped')
                key.data.on_read(t_us, data)
            if ready:
                wakeups.append((time.monotonic_ns() - t0) // 1000)
    finally:
        sel.close()
    return wakeups


def run_turn(daemon, sid, n_clients, args, label):
    clients = [Client(daemon.port, sid) for _ in range(n_clients)]
    pump(clients, lambda c: c.caught_up, 60)
    rss_attached = rss_kib(daemon.proc.pid)
    cpu0 = cpu_seconds(daemon.proc.pid)
    start_ids = None
    status, body = daemon.request('POST', f'/api/session/{sid}/prompt', {'prompt': label})
    assert status == 200, body
    wakeups = pump(clients, lambda c: c.done, 300)
    rss_after = rss_kib(daemon.proc.pid)
    cpu = cpu_seconds(daemon.proc.pid) - cpu0
    delays = []
    reference = None
    for c in clients:
        events = c.events()
        ids = [e[0] for e in events]
        if start_ids is None:
            start_ids = ids
        if ids != list(range(ids[0], ids[0] + len(ids))) or ids != start_ids:
            raise SystemExit(f'{label}: a client did not get every event in order')
        texts = [e for e in events if e[1] == 'text']
        if len(texts) != args.deltas:
            raise SystemExit(f'{label}: {len(texts)} text events, expected {args.deltas}')
        kinds = [e[1] for e in events]
        reference = reference or kinds
        delays += [t - stamp for _, kind, t, stamp in texts if stamp is not None]
        c.sock.close()
    return {'clients': n_clients, 'events_per_client': len(start_ids),
            'delay_us': summary(delays), 'client_wakeup_us': summary(wakeups),
            'rss_attached_kib': rss_attached, 'rss_after_kib': rss_after,
            'daemon_cpu_s': cpu}


def follow_in_worker(port, sid, n_clients, ready_w, go_r, out_w):
    """A child process's share of the clients: attach, wait for the go,
    follow the turn, write back what each client saw."""
    clients = [Client(port, sid) for _ in range(n_clients)]
    pump(clients, lambda c: c.caught_up, 60)
    os.write(ready_w, b'r')
    os.read(go_r, 1)
    wakeups = pump(clients, lambda c: c.done, 300)
    result = {'ids': [], 'texts': [], 'delays': [], 'wakeups': wakeups}
    for c in clients:
        events = c.events()
        texts = [e for e in events if e[1] == 'text']
        result['ids'].append([e[0] for e in events])
        result['texts'].append(len(texts))
        result['delays'] += [t - stamp for _, kind, t, stamp in texts if stamp is not None]
        c.sock.close()
    with os.fdopen(out_w, 'wb') as out:
        out.write(json.dumps(result).encode())


def run_turn_in_processes(daemon, sid, n_clients, args, label):
    """run_turn with the clients shared among --client-procs processes, so
    that one Python loop reading 200 sockets does not set the figure."""
    procs = args.client_procs
    workers = []
    for i in range(procs):
        share = n_clients // procs + (1 if i < n_clients % procs else 0)
        ready_r, ready_w = os.pipe()
        go_r, go_w = os.pipe()
        out_r, out_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                for fd in (ready_r, go_w, out_r):
                    os.close(fd)
                follow_in_worker(daemon.port, sid, share, ready_w, go_r, out_w)
            finally:
                os._exit(0)
        for fd in (ready_w, go_r, out_w):
            os.close(fd)
        workers.append((pid, ready_r, go_w, out_r))
    for _, ready_r, _, _ in workers:
        if os.read(ready_r, 1) != b'r':
            raise SystemExit(f'{label}: a client process failed to attach')
    rss_attached = rss_kib(daemon.proc.pid)
    cpu0 = cpu_seconds(daemon.proc.pid)
    for _, _, go_w, _ in workers:
        os.write(go_w, b'g')
    status, body = daemon.request('POST', f'/api/session/{sid}/prompt', {'prompt': label})
    assert status == 200, body
    results = []
    for pid, ready_r, go_w, out_r in workers:
        with os.fdopen(out_r, 'rb') as out:
            data = out.read()
        os.waitpid(pid, 0)
        os.close(ready_r)
        os.close(go_w)
        if not data:
            raise SystemExit(f'{label}: a client process failed')
        results.append(json.loads(data))
    rss_after = rss_kib(daemon.proc.pid)
    cpu = cpu_seconds(daemon.proc.pid) - cpu0
    all_ids = [ids for r in results for ids in r['ids']]
    first = all_ids[0]
    for ids in all_ids:
        if ids != first or ids != list(range(first[0], first[0] + len(first))):
            raise SystemExit(f'{label}: a client did not get every event in order')
    if any(n != args.deltas for r in results for n in r['texts']):
        raise SystemExit(f'{label}: a client missed text events')
    return {'clients': n_clients, 'events_per_client': len(first),
            'delay_us': summary([d for r in results for d in r['delays']]),
            'client_wakeup_us': summary([w for r in results for w in r['wakeups']]),
            'rss_attached_kib': rss_attached, 'rss_after_kib': rss_after,
            'daemon_cpu_s': cpu}


def run_turn_native(daemon, sid, n_clients, args, label):
    """run_turn with the clients in sse-follow, a small C reader: what the
    daemon delivers, with the readers' own cost mostly out of the figure."""
    follow = subprocess.Popen([args.sse_follow, str(daemon.port), sid, str(n_clients), TOKEN,
                               str(args.deltas)], stdout=subprocess.PIPE)
    try:
        if follow.stdout.readline() != b'ready\n':
            raise SystemExit(f'{label}: the clients could not attach')
        rss_attached = rss_kib(daemon.proc.pid)
        cpu0 = cpu_seconds(daemon.proc.pid)
        status, body = daemon.request('POST', f'/api/session/{sid}/prompt', {'prompt': label})
        assert status == 200, body
        result = json.loads(follow.stdout.read())
    finally:
        follow.wait(300)
    if follow.returncode != 0 or not result['in_order']:
        raise SystemExit(f'{label}: a client did not get every event in order')
    return {'clients': n_clients, 'events_per_client': result['events_per_client'],
            'delay_us': summary(result['delays_us']),
            'client_wakeup_us': summary(result['wakeups_us']),
            'rss_attached_kib': rss_attached, 'rss_after_kib': rss_kib(daemon.proc.pid),
            'daemon_cpu_s': cpu_seconds(daemon.proc.pid) - cpu0}


def baseline(args, tmp, sid_dir):
    """The same fake and argv, read here directly: what the CLI costs."""
    runs = [json.loads(l) for l in open(os.path.join(tmp, 'fake.log'), encoding='utf-8')
            if '"argv"' in l]
    argv = [a for a in runs[0]['argv']]
    argv = [a if not a.startswith('--resume=') and not a.startswith('--session-id=')
            else '--session-id=' + str(__import__('uuid').uuid4()) for a in argv]
    env = dict(os.environ)
    env.update(fake_env(args, tmp))
    env['HOME'] = os.path.join(tmp, 'home')
    env['PATH'] = args.fakes + ':' + os.environ.get('PATH', '')
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            env=env, cwd=sid_dir)
    proc.stdin.write(json.dumps({'type': 'user', 'message': {'role': 'user',
                                 'content': 'baseline'}}).encode() + b'\n')
    proc.stdin.flush()
    delays = []
    fd = proc.stdout.fileno()
    buf = b''
    done = False
    while not done:
        data = os.read(fd, 1 << 20)
        t_us = now_us()
        if not data:
            break
        buf += data
        while b'\n' in buf:
            line, buf = buf.split(b'\n', 1)
            if b'text_delta' in line:
                m = STAMP_RE.search(line)
                if m:
                    delays.append(t_us - int(m.group(1)))
            elif line.startswith(b'{') and b'"type":"result"' in line:
                done = True
    proc.stdin.close()
    proc.wait(10)
    return summary(delays)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--builddir', required=True)
    parser.add_argument('--clients', type=int, default=200)
    parser.add_argument('--deltas', type=int, default=1000)
    parser.add_argument('--delta-bytes', type=int, default=16)
    parser.add_argument('--interval-ms', type=int, default=2,
                        help='between deltas (0: as fast as the fake writes)')
    parser.add_argument('--client-procs', type=int, default=1,
                        help='share the clients among this many processes')
    parser.add_argument('--native-clients', action='store_true',
                        help='read with the C clients of tests/bench/sse-follow.c')
    parser.add_argument('--json')
    args = parser.parse_args()
    args.daemon = os.path.join(args.builddir, 'src', 'claude-agent-service')
    args.fakes = os.path.join(args.builddir, 'tests', 'fakes')
    args.sse_follow = os.path.join(args.builddir, 'tests', 'bench', 'sse-follow')

    tmp = tempfile.mkdtemp(prefix='cas-bg-bench-')
    daemon = None
    try:
        load0 = os.getloadavg()[0]
        daemon = Daemon(args, tmp)
        rss_idle = rss_kib(daemon.proc.pid)
        status, body = daemon.request('POST', '/api/session')
        sid = body['session_id']
        # a warm-up turn starts the session's claude process
        warm = run_turn(daemon, sid, 1, args, 'warm-up')
        one = (run_turn_native if args.native_clients else run_turn)(daemon, sid, 1, args,
                                                                     'one client')
        if args.native_clients:
            many = run_turn_native(daemon, sid, args.clients, args, f'{args.clients} clients')
        elif args.client_procs > 1:
            many = run_turn_in_processes(daemon, sid, args.clients, args,
                                         f'{args.clients} clients')
        else:
            many = run_turn(daemon, sid, args.clients, args, f'{args.clients} clients')
        base = baseline(args, tmp, os.path.join(tmp, 'home'))
        load1 = os.getloadavg()[0]
        result = {'deltas': args.deltas, 'interval_ms': args.interval_ms,
                  'load': [load0, load1], 'rss_idle_kib': rss_idle,
                  'baseline_delay_us': base, 'one_client': one, 'many_clients': many,
                  'warm_up': warm}
        print(f'breakglass fan-out: {args.deltas} deltas/turn, {args.interval_ms} ms apart; '
              f'load {load0:.2f} -> {load1:.2f}')
        print(f'  baseline (fake read directly): write->read {fmt(base)}')
        print(f'  daemon, 1 client:              write->read {fmt(one["delay_us"])}')
        readers = ('C readers in one process' if args.native_clients
                   else f'{args.client_procs} Python client processes')
        print(f'  daemon, {args.clients} clients ({readers}): '
              f'write->read {fmt(many["delay_us"])}')
        print(f'  daemon CPU per turn: 1 client {one["daemon_cpu_s"]:.2f} s, '
              f'{args.clients} clients {many["daemon_cpu_s"]:.2f} s')
        print(f'  every client got all {many["events_per_client"]} events in order')
        print(f'  client wake-up cost ({args.clients} clients): {fmt(many["client_wakeup_us"])}')
        print(f'  daemon RSS: idle {rss_idle} KiB, {args.clients} clients attached '
              f'{many["rss_attached_kib"]} KiB, after the turn {many["rss_after_kib"]} KiB')
        if args.json:
            with open(args.json, 'w', encoding='utf-8') as f:
                json.dump(result, f, indent=2)
    finally:
        if daemon is not None:
            daemon.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    sys.dont_write_bytecode = True
    main()
