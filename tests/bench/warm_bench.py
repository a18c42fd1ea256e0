"""warm_bench.py: what a person waits for when the CLI's start-up is real.

Issue 17's figures, our daemon next to the Python service in one run:

- with the fake claude taking FAKE_CLAUDE_STARTUP_DELAY_MS=500 to start (50
  deltas 10 ms apart), sequential streams spaced so the pool can refill:
  time to the first content chunk, for our daemon with warm processes, our
  daemon with the pool off (pool-size=0), and the Python service;
- with --real-cli PATH, the real claude against the loopback Messages API
  fake of ../shared/tools/mock-anthropic: the same three;
- either way, the time of whole plain conversational follow-up turns,
  `--gap` apart, ours and the Python service's, and of the first turn of
  new conversations (ours on the spare process, ours cold, Python's).

Run by hand (tests/bench/README.md):

    /usr/bin/python3 tests/bench/warm_bench.py --builddir BUILD [--real-cli PATH] [--json out.json]
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_client as client                    # noqa: E402
from bench_services import TOKEN, OurDaemon, PrivateBus, PythonSeed, stop_pid  # noqa: E402
from cas_bench import CHAT_BODY, machine, pct     # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
MOCK_API = os.path.normpath(os.path.join(SRC, '..', 'shared', 'tools', 'mock-anthropic',
                                         'mock_api.py'))
MOCK_KEY = 'sk-ant-placeholder-not-a-real-key'

FAKE_ENV = {
    'FAKE_CLAUDE_STARTUP_DELAY_MS': '500',
    'FAKE_CLAUDE_TOKENS': '50',
    'FAKE_CLAUDE_TOKEN_INTERVAL_MS': '10',
}



def chat_request():
    return client.http_request('POST', '/v1/chat/completions', TOKEN, CHAT_BODY)


class MockApi:
    """The loopback Messages API for the real CLI."""

    def __init__(self, tmp, deltas, interval_ms):
        port_file = os.path.join(tmp, 'mock.port')
        self.proc = subprocess.Popen(['/usr/bin/python3', MOCK_API, '--port-file', port_file,
                                      '--log', os.path.join(tmp, 'mock.jsonl'),
                                      '--api-key', MOCK_KEY, '--deltas', str(deltas),
                                      '--interval-ms', str(interval_ms)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not (os.path.exists(port_file) and open(port_file).read().strip()):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError('the mock Messages API did not start')
            time.sleep(0.05)
        self.env = {
            'ANTHROPIC_BASE_URL': 'http://127.0.0.1:' + open(port_file).read().strip(),
            'ANTHROPIC_API_KEY': MOCK_KEY,
            'CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC': '1',
        }

    def stop(self):
        stop_pid(self.proc)


def ttft_series(svc, n, gap_s, warmup):
    """Sequential streams `gap_s` apart: time to the first content chunk
    and to the end, in ms."""
    out = {'ttft_ms': [], 'total_ms': []}
    for i in range(warmup + n):
        time.sleep(gap_s)
        ex = client.one(svc.port, chat_request(), timeout=120)
        if ex.status != 200 or not ex.saw_done or ex.t_first_content is None:
            raise RuntimeError(f'{svc.name}: a stream failed: status {ex.status}: '
                               f'{bytes(ex.body[:300])!r}')
        if i >= warmup:
            out['ttft_ms'].append(ex.ttft_ms)
            out['total_ms'].append(ex.total_ms)
    return out


def follow_up_turns(svc, n, gap_s):
    """One conversation: a first turn, then `n` plain follow-ups `gap_s`
    apart, as a person takes turns (whole reply, ms each)."""
    session = str(uuid.uuid4())
    times = []
    for i in range(n + 1):
        if i > 0:
            time.sleep(gap_s)
        body = {'session_id': session, 'message': f'Turn {i}: say something short.'}
        ex = client.one(svc.port, client.http_request('POST', '/v1/conversational', TOKEN, body),
                        timeout=120)
        if ex.status != 200:
            raise RuntimeError(f'{svc.name}: turn {i} answered {ex.status}: '
                               f'{bytes(ex.body[:300])!r}')
        if i > 0:
            times.append(ex.total_ms)
    return times


def first_turns(svc, n, gap_s):
    """`n` new conversations, `gap_s` apart so a spare can be started
    again: the whole first turn of each (ms)."""
    times = []
    for i in range(n):
        time.sleep(gap_s)
        body = {'session_id': str(uuid.uuid4()), 'message': f'Hello {i}: say something short.'}
        ex = client.one(svc.port, client.http_request('POST', '/v1/conversational', TOKEN, body),
                        timeout=120)
        if ex.status != 200:
            raise RuntimeError(f'{svc.name}: a first turn answered {ex.status}: '
                               f'{bytes(ex.body[:300])!r}')
        times.append(ex.total_ms)
    return times


def stats(values):
    return {'n': len(values), 'p50': pct(values, 50), 'p90': pct(values, 90),
            'max': max(values) if values else None}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--builddir', required=True)
    ap.add_argument('--seed-dir', default=os.path.normpath(
        os.path.join(SRC, '..', 'shared', 'peers', 'seed-python')))
    ap.add_argument('--real-cli', help='the real claude (npm @anthropic-ai/claude-code)')
    ap.add_argument('--requests', type=int, default=20)
    ap.add_argument('--warmup', type=int, default=2)
    ap.add_argument('--gap', type=float, default=1.5,
                    help='seconds between requests, so the pool can refill')
    ap.add_argument('--turns', type=int, default=5, help='conversational follow-ups')
    ap.add_argument('--mock-deltas', type=int, default=20,
                    help='text deltas per reply of the mock Messages API (its default)')
    ap.add_argument('--mock-interval-ms', type=int, default=10)
    ap.add_argument('--json')
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))

    daemon = os.path.join(args.builddir, 'src', 'claude-agent-service')
    fakes = os.path.join(args.builddir, 'tests', 'fakes')
    agents = os.path.join(SRC, 'agents')
    tmp = tempfile.mkdtemp(prefix='cas-warm-bench-')
    started = []
    result = {'machine': machine(daemon), 'mode': 'real-cli' if args.real_cli else 'fake',
              'settings': vars(args), 'figures': {}}
    try:
        if args.real_cli:
            mock = MockApi(tmp, deltas=args.mock_deltas, interval_ms=args.mock_interval_ms)
            started.append(mock)
            env = dict(mock.env, PATH=os.path.dirname(os.path.abspath(args.real_cli)))
            fake_env = {}
        else:
            env, fake_env = {}, FAKE_ENV

        def our(name, pool_size):
            d = os.path.join(tmp, name)
            os.makedirs(d)
            bus = PrivateBus()   # one bus name each
            started.append(bus)
            svc = OurDaemon(d, fake_env, daemon, fakes, agents, bus.address,
                            claude_config={'pool-size': pool_size}, extra_env=env)
            svc.name = name
            started.append(svc)
            svc.wait_until_up()
            return svc

        os.makedirs(os.path.join(tmp, 'python'))
        py = PythonSeed(os.path.join(tmp, 'python'), fake_env, args.seed_dir, fakes, agents,
                        extra_env=env)
        started.append(py)
        py.wait_until_up()
        warm = our('ours-warm', 1)
        cold = our('ours-cold', 0)
        time.sleep(3)   # let the first warm process finish its start-up

        for svc in (warm, cold, py):
            print(f'[{time.strftime("%H:%M:%S")}] {svc.name}: {args.requests} streams, '
                  f'{args.gap} s apart', flush=True)
            result['figures'][svc.name] = {'stream': ttft_series(svc, args.requests, args.gap,
                                                                 args.warmup)}
        health = json.loads(client.one(warm.port, client.http_request(
            'GET', '/health', TOKEN)).body)
        result['figures']['ours-warm']['pool'] = health['pool']
        for svc in (warm, py):
            print(f'[{time.strftime("%H:%M:%S")}] {svc.name}: {args.turns} follow-ups',
                  flush=True)
            result['figures'][svc.name]['follow_up_ms'] = follow_up_turns(svc, args.turns, args.gap)
        for svc in (warm, cold, py):
            print(f'[{time.strftime("%H:%M:%S")}] {svc.name}: {args.turns} new conversations',
                  flush=True)
            result['figures'][svc.name]['first_turn_ms'] = first_turns(svc, args.turns, args.gap)
    finally:
        for svc in reversed(started):
            svc.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(f"mode: {result['mode']}; load average {result['machine'].get('loadavg_start')} → {os.getloadavg()}")
    print(f"{'':12} {'TTFT p50':>10} {'TTFT p90':>10} {'TTFT max':>10} {'whole p50':>10}")
    for name, fig in result['figures'].items():
        t = stats(fig['stream']['ttft_ms'])
        w = stats(fig['stream']['total_ms'])
        print(f"{name:12} {t['p50']:10.1f} {t['p90']:10.1f} {t['max']:10.1f} {w['p50']:10.1f}")
    print(f"pool after the run: {result['figures']['ours-warm']['pool']}")
    for name, fig in result['figures'].items():
        if 'follow_up_ms' in fig:
            f = stats(fig['follow_up_ms'])
            print(f"{name:12} conversational follow-up p50 {f['p50']:.1f} ms "
                  f"(max {f['max']:.1f}, n={f['n']})")
    for name, fig in result['figures'].items():
        if 'first_turn_ms' in fig:
            f = stats(fig['first_turn_ms'])
            print(f"{name:12} first turn of a new conversation p50 {f['p50']:.1f} ms "
                  f"(max {f['max']:.1f}, n={f['n']})")
    if args.json:
        with open(args.json, 'w', encoding='utf-8') as f:
            json.dump(result, f, indent=1)


if __name__ == '__main__':
    main()
