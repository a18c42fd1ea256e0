#!/usr/bin/python3
"""cas_bench.py: our daemon and the Python service it replaces, measured in
the same run on the same fake claude (SPEC section 10, issue 10).

Run by hand (tests/bench/README.md): `meson test -C <builddir> --benchmark
--verbose`, or directly with `--builddir <builddir>`. Prints one table and
writes every raw sample as JSON.
"""
import argparse
import datetime
import json
import math
import os
import platform
import re
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
from bench_services import (TOKEN, OurDaemon, PrivateBus, PythonSeed,   # noqa: E402
                            fake_spawn_to_first_delta, PYTHON)

HERE = os.path.dirname(os.path.abspath(__file__))
MIB = 1024.0

# 200 ASCII characters: the fake cuts it into 50 deltas of 4.
REPLY = ('The quick brown fox jumps over the lazy dog while the cat watches from '
         'the warm windowsill, and the kettle sings in the kitchen as rain taps '
         'softly on the old tin roof of the garden shed nearby.')[:200].ljust(200, '.')

FAKE_ENV = {
    'FAKE_CLAUDE_STARTUP_DELAY_MS': '0',
    'FAKE_CLAUDE_TOKENS': '50',
    'FAKE_CLAUDE_TOKEN_INTERVAL_MS': '10',
    'FAKE_CLAUDE_STAMP': '1',
    'FAKE_CLAUDE_REPLY': REPLY,
}

CHAT_BODY = {
    'model': 'sonnet',
    'stream': True,
    'messages': [
        {'role': 'system', 'content': 'You are a helpful voice assistant.'},
        {'role': 'user', 'content': 'Tell me a short story about a fox.'},
    ],
}

# Settling time before each memory sample: lets freed memory and closing
# connections finish; it waits for nothing in particular.
SETTLE_SECONDS = 1.0
# "No growth": what allocator and page noise can move VmRSS by.
GROWTH_TOLERANCE_KIB = 256


# ---- statistics -----------------------------------------------------------

def pct(values, p):
    """Nearest-rank percentile; None for no samples."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[rank - 1]


def summary(values):
    return {'n': len(values), 'p50': pct(values, 50), 'p99': pct(values, 99),
            'min': min(values) if values else None, 'max': max(values) if values else None}


# ---- machine --------------------------------------------------------------

def machine(daemon):
    model = '?'
    with open('/proc/cpuinfo', encoding='utf-8') as f:
        for line in f:
            if line.startswith('model name'):
                model = line.split(':', 1)[1].strip()
                break
    buildtype = '?'
    builddir = os.path.dirname(os.path.dirname(daemon))
    try:
        with open(os.path.join(builddir, 'meson-info', 'intro-buildoptions.json'),
                  encoding='utf-8') as f:
            buildtype = next(o['value'] for o in json.load(f) if o['name'] == 'buildtype')
    except (OSError, StopIteration, ValueError):
        pass
    return {
        'nproc': len(os.sched_getaffinity(0)),
        'cpu': model,
        'kernel': platform.release(),
        'date': datetime.datetime.now().astimezone().isoformat(timespec='seconds'),
        'daemon': daemon,
        'daemon_buildtype': buildtype,
        'python': subprocess.run([PYTHON, '--version'], capture_output=True,
                                 text=True).stdout.strip(),
        'clock_resolution_ns': time.get_clock_info('time').resolution * 1e9,
        'loadavg_start': os.getloadavg(),
    }


# ---- the phases -----------------------------------------------------------

def chat_request():
    return client.http_request('POST', '/v1/chat/completions', TOKEN, CHAT_BODY)


def check_stream(ex, who):
    if ex.status != 200 or not ex.saw_done or ex.t_first_content is None:
        raise RuntimeError(f'{who}: a stream failed: status {ex.status}, done {ex.saw_done}, '
                           f'{len(ex.content)} content chunks')


def capture_run(svc, tmp):
    """One streaming request with the fake's log on: returns (exchange, the
    fake's log entry for it). It doubles as the first warm-up."""
    log = os.path.join(tmp, f'fake-log-{svc.name}.jsonl')
    svc.set_scenario(log=log)
    try:
        ex = client.one(svc.port, chat_request())
    finally:
        svc.set_scenario()
    runs = []
    if os.path.exists(log):
        with open(log, encoding='utf-8') as f:
            runs = [json.loads(line) for line in f if line.strip()]
    starts = [r for r in runs if 'argv' in r]
    turns = [r for r in runs if 'turn_input' in r]
    if not starts:
        return ex, None
    run = starts[-1]
    if '--input-format=stream-json' in run['argv']:
        # A warm process served it (started before the log was on); the
        # one that replaced it has the same argv. The baseline runs it cold.
        run = dict(run, argv=[a for a in run['argv'] if a != '--input-format=stream-json'],
                   stdin=turns[-1]['turn_input'] if turns else '')
    return ex, run


def phase_fake_baseline(run, env, n, warmup, tmp):
    """The fake's own spawn -> first text_delta line, with the captured
    argv/cwd/stdin (a per-request cwd that is gone by now becomes a new one)."""
    cwd = run['cwd']
    if not os.path.isdir(cwd):
        cwd = tempfile.mkdtemp(dir=tmp)
    samples = []
    for i in range(warmup + n):
        ms = fake_spawn_to_first_delta(run['argv'], cwd, env, run.get('stdin', ''))
        if i >= warmup:
            samples.append(ms)
    return samples


def phase_one_stream(services, n, warmup, stats):
    """Sequential streams, the services alternating request by request."""
    out = {s.name: {'ttft_ms': [], 'relay_ms': [], 'stream_ms': []} for s in services}
    for i in range(warmup + n):
        for svc in services:
            ex = client.run(svc.port, chat_request, 1, 1, stats=stats[svc.name])[0]
            check_stream(ex, svc.name)
            if i >= warmup:
                out[svc.name]['ttft_ms'].append(ex.ttft_ms)
                out[svc.name]['relay_ms'] += [us / 1000 for us in ex.relay_us]
                out[svc.name]['stream_ms'].append(ex.total_ms)
    return out


def phase_concurrent(services, streams, per_slot, rounds, stats):
    """`streams` streams in flight at once; the services take turns by round."""
    out = {s.name: {'ttft_ms': [], 'relay_ms': [], 'cpu_ms': 0.0, 'requests': 0}
           for s in services}
    for _ in range(rounds):
        for svc in services:
            cpu0 = svc.cpu_ms()
            done = client.run(svc.port, chat_request, streams, per_slot, timeout=300,
                              stats=stats[svc.name])
            out[svc.name]['cpu_ms'] += svc.cpu_ms() - cpu0
            out[svc.name]['requests'] += len(done)
            for ex in done:
                check_stream(ex, svc.name)
                out[svc.name]['ttft_ms'].append(ex.ttft_ms)
                out[svc.name]['relay_ms'] += [us / 1000 for us in ex.relay_us]
    return out


def phase_conversational(services, turns):
    """Plain turns on one session per service, alternating by turn."""
    sessions = {s.name: str(uuid.uuid4()) for s in services}
    out = {s.name: {'turn_ms': [], 'session_id': sessions[s.name]} for s in services}
    for i in range(turns):
        for svc in services:
            body = {'session_id': sessions[svc.name], 'message': f'Turn {i}: how are you?'}
            ex = client.one(svc.port, client.http_request('POST', '/v1/conversational',
                                                          TOKEN, body))
            if ex.status != 200 or not ex.json().get('reply'):
                raise RuntimeError(f'{svc.name}: conversational turn {i} answered '
                                   f'{ex.status}: {bytes(ex.body[:300])!r}')
            out[svc.name]['turn_ms'].append(ex.total_ms)
    return out


def wrk(port, seconds):
    argv = ['wrk', '-t1', '-c20', f'-d{seconds}s', f'http://127.0.0.1:{port}/health']
    res = subprocess.run(argv, capture_output=True, text=True, check=True)
    text = res.stdout
    m_rps = re.search(r'Requests/sec:\s+([\d.]+)', text)
    m_n = re.search(r'(\d+) requests in ([\d.]+)(\w+)', text)
    m_err = re.search(r'Socket errors: (.*)', text)
    m_non2xx = re.search(r'Non-2xx or 3xx responses: (\d+)', text)
    return {'argv': argv, 'req_per_s': float(m_rps.group(1)) if m_rps else None,
            'requests': int(m_n.group(1)) if m_n else None,
            'socket_errors': m_err.group(1) if m_err else None,
            'non_2xx': int(m_non2xx.group(1)) if m_non2xx else 0,
            'output': text}


def phase_short_connections(svc, count, server_closes, concurrency=20):
    """`count` connections of one GET /health each, `concurrency` at a time.
    The client reads the whole response and closes. With server_closes it
    sends `Connection: close`, so the server closes first; without, the
    connection is a keep-alive one that the client gives up, as clients do.
    (wrk cannot stop after a count: it always runs its whole duration.)"""
    statuses = {}

    def done(ex):
        statuses[ex.status] = statuses.get(ex.status, 0) + 1

    request = client.http_request('GET', '/health',
                                  headers={'Connection': 'close'} if server_closes else None)
    per_slot = -(-count // concurrency)
    t0 = time.monotonic()
    client.run(svc.port, lambda: request, concurrency, per_slot, timeout=900, on_done=done)
    elapsed = time.monotonic() - t0
    total = sum(statuses.values())
    return {'requests': total, 'seconds': elapsed, 'req_per_s': total / elapsed,
            'statuses': {str(k): v for k, v in statuses.items()}}


def sample_rss(svc):
    time.sleep(SETTLE_SECONDS)
    return svc.rss()


# ---- the report -----------------------------------------------------------

def fmt(value, unit='ms'):
    if value is None:
        return 'n/a'
    if unit == 'req/s':
        return f'{value:,.0f}'
    if unit == 'KiB':
        return f'{value:+,d}'
    if unit == 'count':
        return f'{value:,d}'
    return f'{value:.2f}'


def get(d, *keys):
    """d[k1][k2]..., or None where a level is missing (a phase left out)."""
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def target_cell(text, ours, bound, check='<=', show_bound=True):
    """`text (bound): met|MISSED`, or just text when a figure is missing."""
    if ours is None or bound is None:
        return text
    ok = {'<=': ours <= bound, '<': ours < bound, '>=': ours >= bound}[check]
    shown = f' ({bound:,.2f})' if show_bound else ''
    return f'{text}{shown}: ' + ('met' if ok else 'MISSED')


def build_rows(r):
    """(metric, ours, python, ratio, target) rows from the results dict."""
    o, p = r['ours'], r['python']
    rows = []

    def row(label, ours, python, target='', unit='ms', with_ratio=True):
        rat = ''
        if with_ratio:
            rat = 'n/a' if ours is None or not python else f'{ours / python:.2f}x'
        rows.append((label, fmt(ours, unit), fmt(python, unit), rat, target))

    fake = {q: get(r['fake'], 'spawn_to_first_delta_ms', q) for q in ('p50', 'p99')}
    for q in ('p50', 'p99'):
        row(f'fake spawn->first delta {q} (ms)', fake[q], fake[q],
            'baseline: the fake run directly with our argv', with_ratio=False)
    for q in ('p50', 'p99'):
        ours, py = get(o, 'one_stream', 'ttft_ms', q), get(p, 'one_stream', 'ttft_ms', q)
        target = ''
        if q == 'p50':
            target = target_cell('<= fake p50 + 1.5', ours,
                                 None if fake[q] is None else fake[q] + 1.5)
            target += '; ' + target_cell('<= python/3', ours, None if py is None else py / 3)
        row(f'TTFT 1 stream {q} (ms)', ours, py, target)
    for q in ('p50', 'p99'):
        ours, py = get(o, 'one_stream', 'ttft_ms', q), get(p, 'one_stream', 'ttft_ms', q)
        minus = [None if v is None or fake[q] is None else v - fake[q] for v in (ours, py)]
        row(f'TTFT minus fake, {q} (ms)', *minus, with_ratio=False)
    for q in ('p50', 'p99'):
        row(f'relay 1 stream {q} (ms)', get(o, 'one_stream', 'relay_ms', q),
            get(p, 'one_stream', 'relay_ms', q))
    n = r['settings']['streams']
    for q, share, text in (('p50', 1, '<= python'), ('p99', 4, '<= python/4')):
        ours, py = get(o, 'concurrent', 'relay_ms', q), get(p, 'concurrent', 'relay_ms', q)
        row(f'relay {n} streams {q} (ms)', ours, py,
            target_cell(text, ours, None if py is None else py / share))
    for q in ('p50', 'p99'):
        row(f'TTFT {n} streams {q} (ms)', get(o, 'concurrent', 'ttft_ms', q),
            get(p, 'concurrent', 'ttft_ms', q))
    row(f'service CPU per stream at {n} streams (ms)', get(o, 'concurrent', 'cpu_ms_per_stream'),
        get(p, 'concurrent', 'cpu_ms_per_stream'), 'info: the process itself, fakes not counted')
    env = r['settings']['fake_env']
    cadence = (int(env['FAKE_CLAUDE_TOKENS']) - 1) * int(env['FAKE_CLAUDE_TOKEN_INTERVAL_MS'])
    for q in ('p50', 'p99'):
        row(f'conversational turn {q} (ms)', get(o, 'conversational', 'turn_ms', q),
            get(p, 'conversational', 'turn_ms', q),
            f'info: the fake alone spends {cadence} ms between deltas' if q == 'p50' else '')
    ours, py = get(o, 'health', 'req_per_s'), get(p, 'health', 'req_per_s')
    row('/health wrk -t1 -c20 (req/s)', ours, py,
        target_cell('>= 1.3x python', ours, None if py is None else 1.3 * py, '>='), 'req/s')
    row('service CPU per /health request (us)', get(o, 'health', 'cpu_us_per_request'),
        get(p, 'health', 'cpu_us_per_request'), 'info')
    row(f'{r["settings"]["short_connections"]:,} short connections (req/s)',
        get(o, 'short_connections', 'req_per_s'), get(p, 'short_connections', 'req_per_s'),
        'info: Connection: close, the server closes first', unit='req/s')
    for stage, label, limit in (('idle', 'idle', 8),
                                ('after_stream_load', 'after stream load', 10),
                                ('after_short_connections', 'after short connections', None)):
        for key in ('VmRSS', 'RssAnon'):
            ours, py = [None if v is None else v / MIB
                        for v in (get(o, 'rss', stage, key), get(p, 'rss', stage, key))]
            target = ''
            if key == 'VmRSS' and limit is not None:
                target = target_cell(f'< {limit} MiB', ours, limit, '<', show_bound=False)
            row(f'{key} {label} (MiB)', ours, py, target)
    for key in ('VmRSS', 'RssAnon'):
        growth = []
        for d in (o, p):
            before = get(d, 'rss', 'before_short_connections', key)
            after = get(d, 'rss', 'after_short_connections', key)
            growth.append(None if before is None or after is None else after - before)
        target = ''
        if key == 'VmRSS':
            target = target_cell(f'no growth (<= {GROWTH_TOLERANCE_KIB} KiB)', growth[0],
                                 GROWTH_TOLERANCE_KIB, show_bound=False)
        row(f'{key} growth over short connections (KiB)', *growth, target, unit='KiB',
            with_ratio=False)
    for stage, label in (('idle', 'idle'), ('after_stream_load', 'after stream load'),
                         ('after_short_connections', 'after short connections'),
                         ('after_client_closes', 'after client-closed connections')):
        row(f'open fds {label}', get(o, 'rss', stage, 'fds'), get(p, 'rss', stage, 'fds'),
            unit='count', with_ratio=False)
    n = r['settings']['client_closes']

    def growth_between(first, second, key):
        values = []
        for d in (o, p):
            before = get(d, 'rss', first, key)
            after = get(d, 'rss', second, key)
            values.append(None if before is None or after is None else after - before)
        return values

    first = growth_between('after_short_connections', 'after_first_client_closes', 'VmRSS')
    row(f'VmRSS high-water over the first {n:,} client-closed connections (KiB)', *first,
        'info: allocator high-water, see the next rows', unit='KiB', with_ratio=False)
    for key, unit in (('fds', 'count'), ('VmRSS', 'KiB')):
        growth = growth_between('after_first_client_closes', 'after_client_closes', key)
        target = target_cell('no growth', growth[0], 0 if key == 'fds' else GROWTH_TOLERANCE_KIB,
                             show_bound=False)
        row(f'{key} growth over {n:,} more client-closed connections'
            + (' (KiB)' if unit == 'KiB' else ''), *growth, target, unit='KiB',
            with_ratio=False)
    return rows


def render(r):
    m = r['machine']
    lines = [f'claude-agent-service benchmark, {m["date"]}',
             f'machine: {m["nproc"]} CPUs, {m["cpu"]}, Linux {m["kernel"]}; '
             f'daemon build: {m["daemon_buildtype"]}; {m["python"]}; load average '
             f'{m["loadavg_start"][0]:.2f} at start, {m.get("loadavg_end", (0,))[0]:.2f} at end',
             'fake claude: ' + ', '.join(f'{k[12:]}={v}' for k, v in FAKE_ENV.items()
                                         if k != 'FAKE_CLAUDE_REPLY')
             + f', {len(REPLY)}-byte reply; admission 64 / queue 1000 on both']
    c = r.get('client', {})
    if c:
        lines.append(f'client: time.time_ns() (resolution {m["clock_resolution_ns"]:.0f} ns); '
                     f'its own cost per epoll wake-up p50/p99 '
                     f'{fmt(c.get("wakeup_us_p50"))}/{fmt(c.get("wakeup_us_p99"))} us '
                     f'(bounds how late a receive time can be)')
    for note in r['notes']:
        lines.append('note: ' + note)
    rows = [('metric', 'ours', 'python', 'ratio', 'target (issue 10)')] + build_rows(r)
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines.append('')
    for i, row in enumerate(rows):
        lines.append(' | '.join(cell.ljust(widths[j]) if j < 4 else cell
                                for j, cell in enumerate(row)).rstrip())
        if i == 0:
            lines.append('-+-'.join('-' * w for w in widths) + '-+-' + '-' * 17)
    return '\n'.join(lines)


# ---- main -----------------------------------------------------------------

def parse_args():
    src = os.environ.get('CAS_SRCDIR') or os.path.dirname(os.path.dirname(HERE))
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--builddir', help='take the daemon and the fake from this build dir')
    ap.add_argument('--daemon', default=os.environ.get('CAS_DAEMON'))
    ap.add_argument('--fakes-dir', default=os.environ.get('CAS_FAKES_DIR'))
    ap.add_argument('--agents-dir', default=os.environ.get('CAS_AGENTS_DIR',
                                                           os.path.join(src, 'agents')))
    ap.add_argument('--seed-dir', default=os.path.normpath(
        os.path.join(src, '..', 'shared', 'peers', 'seed-python')))
    ap.add_argument('--json', help='write the raw numbers here '
                    '(default: bench-results.json beside the build\'s tests/bench)')
    ap.add_argument('--requests', type=int, default=50, help='sequential streams (TTFT)')
    ap.add_argument('--warmup', type=int, default=5)
    ap.add_argument('--streams', type=int, default=20, help='concurrent streams')
    ap.add_argument('--per-slot', type=int, default=2,
                    help='streams each concurrent slot runs back to back, per round')
    ap.add_argument('--rounds', type=int, default=3, help='concurrent rounds per service')
    ap.add_argument('--turns', type=int, default=20, help='conversational turns')
    ap.add_argument('--wrk-seconds', type=int, default=10)
    ap.add_argument('--short-connections', type=int, default=100000,
                    help='connections the server closes (Connection: close)')
    ap.add_argument('--client-closes', type=int, default=1000,
                    help='keep-alive connections the client closes')
    ap.add_argument('--no-bus', action='store_true', help='run our daemon without a bus')
    ap.add_argument('--access-log', action='store_true',
                    help='keep our access log on (the Python service runs --no-access-log)')
    ap.add_argument('--quick', action='store_true', help='tiny counts, to check the harness')
    args = ap.parse_args()
    if args.builddir:
        args.daemon = os.path.join(args.builddir, 'src', 'claude-agent-service')
        args.fakes_dir = os.path.join(args.builddir, 'tests', 'fakes')
    if not args.daemon or not args.fakes_dir:
        ap.error('give --builddir (or run through meson test --benchmark)')
    if args.json is None:
        args.json = os.path.join(os.path.dirname(os.path.dirname(args.daemon)),
                                 'tests', 'bench', 'bench-results.json')
    if args.quick:
        args.requests, args.warmup, args.rounds, args.per_slot = 5, 1, 1, 1
        args.turns, args.wrk_seconds, args.short_connections = 3, 2, 5000
        args.client_closes = 200
    return args


def main():
    args = parse_args()
    # SIGTERM (a timeout, meson) still runs the cleanup below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    r = {
        'machine': machine(args.daemon),
        'settings': {'fake_env': FAKE_ENV, 'requests': args.requests, 'warmup': args.warmup,
                     'streams': args.streams, 'per_slot': args.per_slot, 'rounds': args.rounds,
                     'turns': args.turns, 'wrk_seconds': args.wrk_seconds,
                     'short_connections': args.short_connections,
                     'client_closes': args.client_closes,
                     'settle_seconds': SETTLE_SECONDS, 'access_log': args.access_log,
                     'percentile': 'nearest rank'},
        'ours': {'rss': {}}, 'python': {'rss': {}}, 'fake': {}, 'client': {}, 'notes': [],
    }
    tmp = tempfile.mkdtemp(prefix='cas-bench-')
    started = []
    try:
        bus = None
        if not args.no_bus:
            bus = PrivateBus()
            started.append(bus)
        os.makedirs(os.path.join(tmp, 'ours'))
        os.makedirs(os.path.join(tmp, 'python'))
        ours = OurDaemon(os.path.join(tmp, 'ours'), FAKE_ENV, args.daemon, args.fakes_dir,
                         args.agents_dir, bus.address if bus else None, args.access_log)
        started.append(ours)
        py = PythonSeed(os.path.join(tmp, 'python'), FAKE_ENV, args.seed_dir, args.fakes_dir,
                        args.agents_dir)
        started.append(py)
        ours.wait_until_up()
        py.wait_until_up()
        both = [ours, py]
        for svc in both:
            r[svc.name]['pid'] = svc.pid
            r[svc.name]['rss']['idle'] = sample_rss(svc)
        log = lambda msg: print(f'[{time.strftime("%H:%M:%S")}] {msg}', flush=True)  # noqa: E731
        log(f'up: ours pid {ours.pid} port {ours.port}, python pid {py.pid} port {py.port}')

        # Which of our routes exist yet (the others are reported n/a).
        streaming = []
        for svc in both:
            ex, run = capture_run(svc, tmp)
            r[svc.name]['captured_fake_run'] = run
            if ex.status == 200 and ex.saw_done and run is not None:
                streaming.append(svc)
            else:
                r['notes'].append(f'{svc.name}: POST /v1/chat/completions answered {ex.status}; '
                                  'streaming figures left out')
        # A bad session id: 400 once the route exists (the Python service
        # runs the CLI, which refuses it).
        bad_turn = client.http_request('POST', '/v1/conversational', TOKEN,
                                       {'session_id': 'not-a-uuid', 'message': 'x'})
        conv_ok = [svc for svc in both if client.one(svc.port, bad_turn).status != 404]
        for svc in both:
            if svc not in conv_ok:
                r['notes'].append(f'{svc.name}: POST /v1/conversational answered 404; '
                                  'turn figures left out')

        stats = {s.name: client.ClientStats() for s in both}
        baseline_run = (r['ours'].get('captured_fake_run') if ours in streaming
                        else r['python'].get('captured_fake_run'))
        if baseline_run is not None:
            source = 'ours' if ours in streaming else 'python (ours not streaming yet)'
            log(f'fake baseline: {args.requests} direct runs with the argv of {source}')
            # The captured argv runs in the service's env: same HOME, same scenario file.
            env = (ours if ours in streaming else py).env
            samples = phase_fake_baseline(baseline_run, env, args.requests, args.warmup, tmp)
            r['fake'] = {'spawn_to_first_delta_ms': summary(samples), 'argv_of': source,
                         'samples_ms': samples}
        if streaming:
            log(f'1 stream: {args.warmup}+{args.requests} sequential requests each')
            res = phase_one_stream(streaming, args.requests, args.warmup, stats)
            for name, d in res.items():
                r[name]['one_stream'] = {k: summary(v) for k, v in d.items()}
                r[name]['one_stream']['samples'] = d
            log(f'{args.streams} streams: {args.rounds} rounds of {args.per_slot} per slot each')
            res = phase_concurrent(streaming, args.streams, args.per_slot, args.rounds, stats)
            for name, d in res.items():
                r[name]['concurrent'] = {
                    'ttft_ms': summary(d['ttft_ms']), 'relay_ms': summary(d['relay_ms']),
                    'cpu_ms_per_stream': d['cpu_ms'] / max(1, d['requests']),
                    'samples': d}
        for svc in both:
            r[svc.name]['rss']['after_stream_load'] = sample_rss(svc)
        if conv_ok:
            log(f'conversational: {args.turns} turns each')
            res = phase_conversational(conv_ok, args.turns)
            for name, d in res.items():
                r[name]['conversational'] = {'turn_ms': summary(d['turn_ms']), 'samples': d}
        for svc in both:
            log(f'/health: wrk {args.wrk_seconds} s on {svc.name}')
            cpu0 = svc.cpu_ms()
            health = wrk(svc.port, args.wrk_seconds)
            health['cpu_us_per_request'] = ((svc.cpu_ms() - cpu0) * 1000
                                            / max(1, health['requests'] or 0))
            r[svc.name]['health'] = health
        for svc in both:
            log(f'{args.short_connections} short connections on {svc.name}')
            r[svc.name]['rss']['before_short_connections'] = sample_rss(svc)
            r[svc.name]['short_connections'] = phase_short_connections(
                svc, args.short_connections, server_closes=True)
            r[svc.name]['rss']['after_short_connections'] = sample_rss(svc)
            done = r[svc.name]['short_connections']['requests'] or 0
            if done < args.short_connections:
                r['notes'].append(f'{svc.name}: only {done} short connections completed')
        for svc in both:
            # Twice: the first round sets the allocator's high-water mark
            # (connections pile up while the client races ahead); growth
            # over the second is what a leak would show.
            log(f'2 x {args.client_closes} keep-alive connections closed by the client on {svc.name}')
            phase_short_connections(svc, args.client_closes, server_closes=False)
            r[svc.name]['rss']['after_first_client_closes'] = sample_rss(svc)
            r[svc.name]['client_closes'] = phase_short_connections(
                svc, args.client_closes, server_closes=False)
            r[svc.name]['rss']['after_client_closes'] = sample_rss(svc)
        all_wakeups = [x for s in stats.values() for x in s.wakeup_us]
        r['client'] = {'wakeup_us_p50': pct(all_wakeups, 50),
                       'wakeup_us_p99': pct(all_wakeups, 99),
                       'read_lag_us_p99': pct([x for s in stats.values() for x in s.read_lag_us],
                                              99),
                       'per_service': {k: s.as_dict() for k, s in stats.items()}}
    finally:
        r['machine']['loadavg_end'] = os.getloadavg()
        for svc in reversed(started):
            status = svc.stop()
            if isinstance(svc, OurDaemon):
                if status not in (0, None):
                    r['notes'].append(f'ours exited with {status} on SIGTERM:\n{svc.output()}')
                for line in svc.complaints()[:5]:
                    r['notes'].append('ours logged: ' + line)
        shutil.rmtree(tmp, ignore_errors=True)

    table = render(r)
    r['table'] = table
    print()
    print(table)
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, 'w', encoding='utf-8') as f:
        json.dump(r, f, indent=1)
    print(f'\nraw numbers: {args.json}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
