"""hostile_bench.py: what a hostile local client costs the daemon.

Figures for "no local user can take it down or fill it up": the daemon's
RSS and open descriptors at idle, during each load and after it, and how
fast /health and a streaming chat answer while a load is held:

- 20 requests with 8 MiB bodies, one after the other, first, from idle;
- a flood: 2,000 connections that send nothing and 200 that stop halfway
  through their headers, with the daemon held to 1,024 descriptors;
- 100 unauthenticated requests declaring a 10 GB body;
- 1,000 conversational turns of 1 MiB each on as many conversations, while
  every run hangs (they are refused past max-queue-depth and
  max-queued-bytes).

Run by hand (tests/bench/README.md):

    /usr/bin/python3 tests/bench/hostile_bench.py --builddir BUILD [--json out.json]
"""
import argparse
import json
import os
import resource
import shutil
import socket
import sys
import tempfile
import time
import uuid

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_client as client                                  # noqa: E402
from bench_services import TOKEN, OurDaemon, PrivateBus, read_status_kib  # noqa: E402
from cas_bench import CHAT_BODY, machine, pct                  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))


def snapshot(svc):
    """RSS (KiB) and open descriptors of the daemon."""
    status = read_status_kib(svc.pid)
    return {'rss_kib': status['VmRSS'], 'anon_kib': status['RssAnon'],
            'threads': status['Threads'], 'fds': len(os.listdir(f'/proc/{svc.pid}/fd'))}


def wait_until(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def health_ms(svc, n=20):
    times = []
    for _ in range(n):
        ex = client.one(svc.port, client.http_request('GET', '/health'), timeout=30)
        if ex.status != 200:
            raise RuntimeError(f'/health answered {ex.status}')
        times.append(ex.total_ms)
    # The first one may wait behind a load's connections in the accept queue.
    return {'first': times[0], 'p50': pct(times, 50), 'max': max(times),
            'max_after_first': max(times[1:])}


def chat_ttft_ms(svc, n=5):
    times = []
    for _ in range(n):
        ex = client.one(svc.port, client.http_request('POST', '/v1/chat/completions', TOKEN,
                                                      CHAT_BODY), timeout=30)
        if ex.status != 200 or ex.t_first_content is None:
            raise RuntimeError(f'a stream answered {ex.status}')
        times.append(ex.ttft_ms)
    return {'p50': pct(times, 50), 'max': max(times)}


def connect(port):
    return socket.create_connection(('127.0.0.1', port), timeout=30)


def flood(svc, idle_fds):
    socks = []
    try:
        for _ in range(2000):
            socks.append(connect(svc.port))
        for _ in range(200):
            sock = connect(svc.port)
            sock.sendall(b'GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ')
            socks.append(sock)
        during = dict(snapshot(svc), health_ms=health_ms(svc), chat_ttft_ms=chat_ttft_ms(svc))
        t0 = time.monotonic()
        closed = wait_until(lambda: snapshot(svc)['fds'] <= idle_fds, 60)
        closed_after_s = round(time.monotonic() - t0, 1)
        time.sleep(1)   # the allocator's trim runs from an idle
        after = dict(snapshot(svc), all_closed=closed, closed_after_s=closed_after_s)
    finally:
        for sock in socks:
            sock.close()
    return {'during': during, 'after': after}


def huge_bodies(svc):
    times = []
    for _ in range(100):
        sock = connect(svc.port)
        t0 = time.monotonic()
        sock.sendall(b'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n'
                     b'Content-Length: 10000000000\r\n\r\n')
        answer = sock.recv(4096)
        times.append((time.monotonic() - t0) * 1000)
        sock.close()
        if not answer.startswith(b'HTTP/1.1 401'):
            raise RuntimeError(f'a 10 GB body got {answer[:40]!r}')
    return dict(snapshot(svc), answer_ms={'p50': pct(times, 50), 'max': max(times)})


def waiting_turns(svc, scenario_path):
    with open(scenario_path, 'w', encoding='utf-8') as f:
        f.write('FAKE_CLAUDE_HANG=1\n')
    message = 'x' * (1024 * 1024)
    socks, statuses = [], {}
    try:
        for _ in range(1000):
            body = json.dumps({'session_id': str(uuid.uuid4()), 'message': message}).encode()
            sock = connect(svc.port)
            sock.sendall(b'POST /v1/conversational HTTP/1.1\r\nHost: x\r\n'
                         b'Authorization: Bearer ' + TOKEN.encode() + b'\r\n'
                         b'Content-Type: application/json\r\n'
                         b'Content-Length: %d\r\n\r\n' % len(body) + body)
            socks.append(sock)
        # Refusals come at once; what waits says nothing.
        for sock in socks:
            sock.settimeout(0.2)
            try:
                head = sock.recv(64)
            except socket.timeout:
                head = b'waiting'
            key = head.split(b'\r\n')[0].decode(errors='replace')
            statuses[key] = statuses.get(key, 0) + 1
        health = json.loads(client.one(svc.port, client.http_request('GET', '/health')).body)
        during = dict(snapshot(svc), answers=statuses, queued=health.get('queued'),
                      active=health.get('active'))
    finally:
        for sock in socks:
            sock.close()
        os.unlink(scenario_path)
    wait_until(lambda: json.loads(client.one(svc.port, client.http_request(
        'GET', '/health')).body).get('active') == 0, 60)
    time.sleep(1)   # the allocator's trim runs from an idle
    return {'during': during, 'after': snapshot(svc)}


def big_bodies(svc):
    before = snapshot(svc)
    body = {'model': 'no-such-model', 'messages': [{'role': 'user', 'content': 'x' * ((8 << 20) - 4096)}]}
    peak = 0
    for _ in range(20):
        ex = client.one(svc.port, client.http_request('POST', '/v1/chat/completions', TOKEN, body),
                        timeout=60)
        if ex.status != 400:
            raise RuntimeError(f'an 8 MiB body got {ex.status}')
        peak = max(peak, snapshot(svc)['rss_kib'])
    time.sleep(1)   # the allocator's trim runs from an idle
    return {'before': before, 'peak_rss_kib': peak, 'after': snapshot(svc)}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--builddir', required=True)
    ap.add_argument('--json')
    args = ap.parse_args()
    builddir = os.path.abspath(args.builddir)
    daemon = os.path.join(builddir, 'src', 'claude-agent-service')
    fakes = os.path.join(builddir, 'tests', 'fakes')
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 8192:
        resource.setrlimit(resource.RLIMIT_NOFILE, (8192, max(hard, 8192)))

    tmp = tempfile.mkdtemp(prefix='cas-hostile-bench-')
    bus = PrivateBus()
    os.makedirs(os.path.join(tmp, 'ours'))
    svc = OurDaemon(os.path.join(tmp, 'ours'), {}, daemon, fakes, os.path.join(SRC, 'agents'),
                    bus.address, claude_config={'pool-size': 0, 'max-queue-depth': 100})
    result = {'machine': machine(daemon), 'figures': {}}
    figures = result['figures']
    try:
        svc.wait_until_up()
        time.sleep(1)
        resource.prlimit(svc.pid, resource.RLIMIT_NOFILE, (1024, 1024))
        figures['idle'] = dict(snapshot(svc), health_ms=health_ms(svc),
                               chat_ttft_ms=chat_ttft_ms(svc))
        idle_fds = figures['idle']['fds']
        # The 8 MiB bodies first: their "before" is idle.
        for name, run in (('8 MiB bodies', lambda: big_bodies(svc)),
                          ('flood', lambda: flood(svc, idle_fds)),
                          ('10 GB bodies', lambda: huge_bodies(svc)),
                          ('waiting turns', lambda: waiting_turns(svc, svc.scenario))):
            print(f'[{time.strftime("%H:%M:%S")}] {name}', flush=True)
            figures[name] = run()
    finally:
        svc.stop()
        bus.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(figures, indent=1))
    if args.json:
        with open(args.json, 'w', encoding='utf-8') as f:
            json.dump(result, f, indent=1)


if __name__ == '__main__':
    main()
