"""Breakglass sessions (SPEC 5): /api/session routes, durable event logs,
detached turns on a warm claude process, and the SSE fan-out, against the
built daemon and the fake claude."""
import json
import os
import re
import selectors
import signal
import socket
import time

from cas_harness import (DaemonTestCase, TIMEOUT_MULTIPLIER, TOKEN, pid_alive, smoke,
                         wait_for)

UUID_RE = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
UNKNOWN = '11111111-2222-3333-4444-555555555555'


def flag_value(argv, flag):
    for arg in argv:
        if arg.startswith(flag + '='):
            return arg[len(flag) + 1:]
    return None


class Sse:
    """One SSE client on a raw socket, parsed as bytes arrive."""

    def __init__(self, port, path, headers=None, rcvbuf=None, token=TOKEN):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect(('127.0.0.1', port))
        lines = [f'GET {path} HTTP/1.1', f'Host: 127.0.0.1:{port}']
        if token is not None:
            lines.append(f'Authorization: Bearer {token}')
        for key, value in (headers or {}).items():
            lines.append(f'{key}: {value}')
        self.sock.sendall(('\r\n'.join(lines) + '\r\n\r\n').encode())
        self.buf = b''
        self.status = None
        self.head = b''
        self.events = []          # (id, event dict)
        self.caught_up_at = None  # how many events came before caught-up
        self.keepalives = 0
        self.eof = False

    def feed(self, data):
        if not data:
            self.eof = True
            return
        self.buf += data
        if self.status is None:
            end = self.buf.find(b'\r\n\r\n')
            if end < 0:
                return
            self.head = self.buf[:end]
            self.status = int(self.head.split(b' ', 2)[1])
            self.buf = self.buf[end + 4:]
        while True:
            end = self.buf.find(b'\n\n')
            if end < 0:
                return
            frame, self.buf = self.buf[:end].decode('utf-8'), self.buf[end + 2:]
            fields = {}
            for line in frame.split('\n'):
                if line.startswith(':'):
                    if line.strip() == ': keepalive':
                        self.keepalives += 1
                    continue
                key, _, value = line.partition(': ')
                fields[key] = value
            if fields.get('event') == 'caught-up':
                assert self.caught_up_at is None, 'caught-up twice'
                self.caught_up_at = len(self.events)
            elif 'data' in fields:
                event = json.loads(fields['data'])
                assert int(fields['id']) == event['id'], frame
                self.events.append((event['id'], event))

    def pump(self, timeout):
        self.sock.settimeout(timeout)
        try:
            self.feed(self.sock.recv(65536))
        except socket.timeout:
            pass
        except ConnectionResetError:
            self.eof = True

    def read_until(self, predicate, timeout=20, what='the stream'):
        deadline = time.monotonic() + timeout * TIMEOUT_MULTIPLIER
        while not predicate(self):
            if self.eof:
                raise AssertionError(f'stream ended before {what}: {self.kinds()}')
            if time.monotonic() > deadline:
                raise AssertionError(f'timed out waiting for {what}: {self.kinds()}')
            self.pump(0.2)

    def read_to_eof(self, timeout=20):
        deadline = time.monotonic() + timeout * TIMEOUT_MULTIPLIER
        while not self.eof:
            if time.monotonic() > deadline:
                raise AssertionError('the stream did not end')
            self.pump(0.2)

    def kinds(self):
        return [e['kind'] for _, e in self.events]

    def ids(self):
        return [i for i, _ in self.events]

    def turn_ends(self):
        return self.kinds().count('turn_end')

    def close(self):
        self.sock.close()


class BreakglassTestCase(DaemonTestCase):

    def create(self):
        resp = self.request('POST', '/api/session')
        self.assertEqual(resp.status, 200, resp.body)
        sid = resp.json()['session_id']
        self.assertRegex(sid, UUID_RE)
        return sid

    def prompt(self, sid, text, **extra):
        body = {'prompt': text}
        body.update(extra)
        return self.request('POST', f'/api/session/{sid}/prompt', body)

    def start_turn(self, sid, text, **extra):
        resp = self.prompt(sid, text, **extra)
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual(resp.json(), {'status': 'started'})

    def stream(self, sid, last_id=None, **kwargs):
        headers = {} if last_id is None else {'Last-Event-ID': str(last_id)}
        client = Sse(self.port, f'/api/session/{sid}/stream', headers=headers, **kwargs)
        self.addCleanup(client.close)
        return client

    def info(self, sid):
        resp = self.request('GET', '/api/sessions')
        self.assertEqual(resp.status, 200, resp.body)
        for entry in resp.json()['sessions']:
            if entry['id'] == sid:
                return entry
        return None

    def wait_turn_over(self, sid, turns=1):
        wait_for(lambda: not self.info(sid)['turn_active'] and
                 self.log_kinds(sid).count('turn_end') >= turns, 20, 'the turn to end')

    def session_dir(self, sid):
        return os.path.join(self.state_dir, 'sessions', sid)

    def log_lines(self, sid):
        with open(os.path.join(self.session_dir(sid), 'events.jsonl'), 'rb') as f:
            data = f.read()
        self.assertTrue(data == b'' or data.endswith(b'\n'))
        return [json.loads(line) for line in data.decode('utf-8').splitlines()]

    def log_kinds(self, sid):
        return [e['kind'] for e in self.log_lines(sid)]

    def turn_pids(self, text):
        """PIDs of the fake processes that got @text as a turn."""
        return [r['pid'] for r in self.fake_runs() if r.get('turn_input') == text]

    def process_runs(self, sid):
        return [r for r in self.fake_runs() if 'argv' in r and
                (flag_value(r['argv'], '--session-id') == sid or
                 flag_value(r['argv'], '--resume') == sid)]

    def assert_error(self, resp, status, words):
        self.assertEqual(resp.status, status, resp.body)
        body = resp.json()
        self.assertIn(words, body['detail'])

    def assert_gap_free(self, ids, start=0):
        self.assertEqual(ids, list(range(start, start + len(ids))))


class RoutesTest(BreakglassTestCase):

    @smoke
    def test_create_list_delete(self):
        sid = self.create()
        entry = self.info(sid)
        self.assertEqual(set(entry), {'id', 'created', 'last_activity', 'turn_active',
                                      'event_count'})
        self.assertFalse(entry['turn_active'])
        self.assertEqual(entry['event_count'], 0)
        self.assertLessEqual(abs(entry['created'] - time.time()), 60)
        self.assertTrue(os.path.isdir(os.path.join(self.session_dir(sid), 'work')))

        resp = self.request('DELETE', f'/api/session/{sid}')
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual(resp.json(), {'deleted': True})
        self.assertIsNone(self.info(sid))
        wait_for(lambda: not os.path.exists(self.session_dir(sid)), 10, 'the files to go')
        for method, path in (('DELETE', ''), ('POST', '/prompt'), ('POST', '/cancel'),
                             ('GET', '/stream')):
            body = {'prompt': 'x'} if path == '/prompt' else None
            resp = self.request(method, f'/api/session/{sid}{path}', body)
            self.assert_error(resp, 404, 'session not found')

    def test_delete_takes_the_cli_transcript_along(self):
        doomed, other = self.create(), self.create()
        projects = os.path.join(self.home, '.claude', 'projects')
        for sid in (doomed, other):
            self.start_turn(sid, 'remember me')
            self.wait_turn_over(sid)

        def transcripts():
            return {name for _, _, files in os.walk(projects) for name in files
                    if name.endswith('.jsonl')}
        self.assertEqual(transcripts(), {f'{doomed}.jsonl', f'{other}.jsonl'})
        self.assertEqual(self.request('DELETE', f'/api/session/{doomed}').status, 200)
        wait_for(lambda: transcripts() == {f'{other}.jsonl'}, 10,
                 "the deleted session's transcript to go")
        wait_for(lambda: not os.path.exists(self.session_dir(doomed)), 10, 'its files to go')

    def test_delete_during_turn(self):
        self.stop_daemon()
        self.start(config={'breakglass': {'max-concurrent-turns': 1}})
        doomed, other = self.create(), self.create()
        self.set_scenario(hang=1)
        self.start_turn(doomed, 'hanging')
        wait_for(lambda: self.turn_pids('hanging'), 10, 'the turn to reach claude')
        client = self.stream(doomed)
        client.read_until(lambda c: c.caught_up_at is not None, what='caught-up')
        self.assertEqual(self.request('DELETE', f'/api/session/{doomed}').status, 200)
        client.read_to_eof()   # its streams end
        wait_for(lambda: not pid_alive(self.turn_pids('hanging')[0]), 10, 'its claude to stop')
        wait_for(lambda: not os.path.exists(self.session_dir(doomed)), 10, 'its files to go')
        # its turn no longer counts against max-concurrent-turns
        self.set_scenario()
        self.start_turn(other, 'next')
        self.wait_turn_over(other)

    def test_auth_required(self):
        sid = self.create()
        for method, path in (('POST', '/api/session'), ('GET', '/api/sessions'),
                             ('GET', f'/api/session/{sid}/stream'),
                             ('POST', f'/api/session/{sid}/prompt'),
                             ('POST', f'/api/session/{sid}/cancel'),
                             ('DELETE', f'/api/session/{sid}')):
            self.assertEqual(self.request(method, path, token=None).status, 401, path)
            self.assertEqual(self.request(method, path, token='wrong').status, 401, path)
        self.assertIsNotNone(self.info(sid))

    def test_unknown_and_hostile_ids(self):
        sid = self.create()
        before = sorted(os.listdir(os.path.join(self.state_dir, 'sessions')))
        hostile = [UNKNOWN, '..', '../x', '..%2F..%2Fetc', '%2e%2e', sid.upper(), sid + 'x',
                   sid[:-1], 'a' * 10240, sid + '%00', '%00', '.' * 36,
                   '../../../../../../../../../../../../../etc/passwd']
        for bad in hostile:
            for method, suffix in (('GET', '/stream'), ('POST', '/prompt'),
                                   ('POST', '/cancel'), ('DELETE', '')):
                resp = self.request(method, f'/api/session/{bad}{suffix}',
                                    {'prompt': 'x'} if suffix == '/prompt' else None)
                self.assertIn(resp.status, (400, 404), (bad[:50], suffix, resp.body))
        self.assertEqual(self.request('GET', '/api/session/').status, 404)
        self.assertEqual(sorted(os.listdir(os.path.join(self.state_dir, 'sessions'))), before)
        self.assertEqual(self.fake_runs(), [])
        self.assertIsNotNone(self.info(sid))

    def test_unknown_paths_and_methods(self):
        sid = self.create()
        base = f'/api/session/{sid}'
        self.assertEqual(self.request('GET', base + '/nothing').status, 404)
        self.assertEqual(self.request('GET', base + '/stream/more').status, 404)
        self.assertEqual(self.request('GET', '/api/sessionsx').status, 404)
        for method, path in (('GET', '/api/session'), ('DELETE', '/api/sessions'),
                             ('PUT', base), ('PATCH', base + '/prompt'), ('GET', base),
                             ('POST', base), ('POST', base + '/stream'),
                             ('DELETE', base + '/stream'), ('GET', base + '/prompt'),
                             ('GET', base + '/cancel'), ('DELETE', base + '/cancel')):
            resp = self.request(method, path)
            self.assertEqual(resp.status, 405, (method, path, resp.body))
            self.assertTrue(resp.headers.get('Allow'), (method, path))

    def test_prompt_validation(self):
        sid = self.create()
        path = f'/api/session/{sid}/prompt'
        cases = [
            (b'', 'empty'), (b'not json', None), (b'[1,2]', None), (b'"prompt"', None),
            ({}, 'prompt must be a non-empty string'),
            ({'prompt': 5}, 'prompt must be a non-empty string'),
            ({'prompt': None}, 'prompt must be a non-empty string'),
            ({'prompt': ['a']}, 'prompt must be a non-empty string'),
            ({'prompt': ''}, 'prompt must be a non-empty string'),
            ({'prompt': 'x' * (256 * 1024 + 1)}, 'longer than'),
            ({'prompt': 'hi', 'model': 'gpt-4'}, 'unsupported model'),
            ({'prompt': 'hi', 'model': 7}, 'model must be a string'),
            ({'prompt': 'hi', 'model': '--dangerously-skip-permissions'}, 'unsupported model'),
            (b'{"prompt":"\xff\xfe"}', None),
            (b'{"prompt":"a"' + b'}' * 3, None),
        ]
        for body, words in cases:
            resp = self.request('POST', path, body)
            self.assertEqual(resp.status, 400, (body if len(str(body)) < 100 else 'long', resp.body))
            if words:
                self.assertIn(words, resp.json()['detail'])
        self.assertEqual(self.info(sid)['event_count'], 0)
        self.assertEqual(self.fake_runs(), [])
        # null model means the default
        self.start_turn(sid, 'hello', model=None)
        self.wait_turn_over(sid)
        run = self.process_runs(sid)[0]
        self.assertEqual(flag_value(run['argv'], '--model'), 'sonnet')

    def test_bad_last_event_id(self):
        sid = self.create()
        for bad in ('-1', 'abc', '1.5', '9' * 30, ''):
            client = self.stream(sid, last_id=bad)
            client.read_until(lambda c: c.status is not None or c.eof, what='a status')
            if bad != '':
                self.assertEqual(client.status, 400, bad)
        resp = self.request('GET', f'/api/session/{sid}/stream?last_event_id=x')
        self.assertEqual(resp.status, 400)


class TurnTest(BreakglassTestCase):

    @smoke
    def test_turn_stream_and_replay(self):
        sid = self.create()
        live = self.stream(sid)
        live.read_until(lambda c: c.caught_up_at is not None, what='caught-up')
        self.assertEqual(live.status, 200)
        self.assertIn(b'text/event-stream', live.head)
        self.assertEqual(live.caught_up_at, 0)
        self.set_scenario(reply='Здравей, свят!', tokens=4)
        self.start_turn(sid, 'диагноза')
        live.read_until(lambda c: c.turn_ends() == 1, what='turn_end')
        kinds = live.kinds()
        self.assertEqual(kinds[0], 'user')
        self.assertEqual(live.events[0][1]['text'], 'диагноза')
        self.assertEqual(kinds[1], 'session')
        self.assertEqual(live.events[1][1]['session_id'], sid)
        self.assertEqual(kinds[-2:], ['result', 'turn_end'])
        self.assertEqual(''.join(e['text'] for _, e in live.events if e['kind'] == 'text'),
                         'Здравей, свят!')
        self.assertFalse(live.events[-2][1]['is_error'])
        self.assert_gap_free(live.ids())
        # the log holds exactly what was broadcast
        self.assertEqual(self.log_lines(sid), [e for _, e in live.events])
        self.assertEqual(self.info(sid)['event_count'], len(live.events))

        # replay: all, after an id (header and query), after the last
        full = self.stream(sid)
        full.read_until(lambda c: c.caught_up_at is not None, what='caught-up')
        self.assertEqual(full.events, live.events)
        self.assertEqual(full.caught_up_at, len(live.events))
        part = self.stream(sid, last_id=2)
        part.read_until(lambda c: c.caught_up_at is not None, what='caught-up')
        self.assertEqual(part.events, live.events[3:])
        query = Sse(self.port, f'/api/session/{sid}/stream?last_event_id=4')
        self.addCleanup(query.close)
        query.read_until(lambda c: c.caught_up_at is not None, what='caught-up')
        self.assertEqual(query.events, live.events[5:])
        end = self.stream(sid, last_id=len(live.events) - 1)
        end.read_until(lambda c: c.caught_up_at is not None, what='caught-up')
        self.assertEqual(end.events, [])
        beyond = self.stream(sid, last_id=10 ** 6)
        beyond.read_until(lambda c: c.caught_up_at is not None, what='caught-up')
        self.assertEqual(beyond.events, [])

        # a second turn continues the ids; every client hears it
        self.start_turn(sid, 'again')
        self.wait_turn_over(sid, 2)
        last = len(self.log_lines(sid)) - 1
        for client in (live, full, part, end):
            client.read_until(lambda c: c.ids() and c.ids()[-1] == last,
                              what='the second turn_end')
            self.assertEqual(client.kinds()[-1], 'turn_end')
        self.assert_gap_free(live.ids())
        self.assertEqual(end.ids(), list(range(len(live.events) - len(end.events), last + 1)))

    def test_turn_runs_without_client(self):
        sid = self.create()
        self.set_scenario(tokens=20, token_interval_ms=50)
        client = self.stream(sid)
        client.read_until(lambda c: c.caught_up_at is not None, what='caught-up')
        self.start_turn(sid, 'detached')
        client.read_until(lambda c: 'text' in c.kinds(), what='the first text')
        client.close()
        self.assertTrue(self.info(sid)['turn_active'])
        self.wait_turn_over(sid)
        kinds = self.log_kinds(sid)
        self.assertEqual(kinds[-2:], ['result', 'turn_end'])
        self.assertGreaterEqual(kinds.count('text'), 10)
        again = self.stream(sid, last_id=client.ids()[-1])
        again.read_until(lambda c: c.caught_up_at is not None, what='caught-up')
        self.assert_gap_free(client.ids() + again.ids())
        self.assertEqual(again.kinds()[-1], 'turn_end')

    def test_conflict_cancel_keeps_process(self):
        sid = self.create()
        self.set_scenario(hang=1)
        self.start_turn(sid, 'first')
        wait_for(lambda: self.turn_pids('first'), 10, 'the turn to reach claude')
        self.assertTrue(self.info(sid)['turn_active'])
        self.assert_error(self.prompt(sid, 'second'), 409, 'a turn is already running')

        client = self.stream(sid)
        client.read_until(lambda c: 'session' in c.kinds(), what='the session event')
        resp = self.request('POST', f'/api/session/{sid}/cancel')
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual(resp.json(), {'cancelled': True})
        client.read_until(lambda c: c.turn_ends() == 1, what='turn_end')
        self.assertEqual(client.kinds()[-2:], ['cancelled', 'turn_end'])
        self.assertNotIn('result', client.kinds())
        self.assertEqual(self.request('POST', f'/api/session/{sid}/cancel').json(),
                         {'cancelled': False})

        # the next turn runs on the same process
        self.set_scenario()
        self.start_turn(sid, 'after cancel')
        client.read_until(lambda c: c.turn_ends() == 2, what='the second turn_end')
        self.assertEqual(client.kinds()[-2:], ['result', 'turn_end'])
        self.assertEqual(self.turn_pids('after cancel'), self.turn_pids('first'))
        self.assertTrue(pid_alive(self.turn_pids('first')[0]))
        self.assertEqual(len(self.process_runs(sid)), 1)

    def test_cancel_right_after_prompt(self):
        """The interrupt waits for the CLI to take the turn: the process is
        kept even when cancel comes before its first line."""
        sid = self.create()
        self.start_turn(sid, 'warm up')
        self.wait_turn_over(sid)
        self.set_scenario(hang=1)
        self.start_turn(sid, 'cancel me')
        self.assertEqual(self.request('POST', f'/api/session/{sid}/cancel').json(),
                         {'cancelled': True})
        self.wait_turn_over(sid, 2)
        self.assertEqual(self.log_kinds(sid)[-2:], ['cancelled', 'turn_end'])
        self.set_scenario()
        self.start_turn(sid, 'still here')
        self.wait_turn_over(sid, 3)
        self.assertEqual(self.turn_pids('still here'), self.turn_pids('warm up'))

    def test_too_many_turns(self):
        self.stop_daemon()
        self.start(config={'breakglass': {'max-concurrent-turns': 1}})
        first, second = self.create(), self.create()
        self.set_scenario(hang=1)
        self.start_turn(first, 'one')
        self.assert_error(self.prompt(second, 'two'), 429, 'max-concurrent-turns')
        # the session's own refusal comes first
        self.assert_error(self.prompt(first, 'again'), 409, 'already running')
        self.assertEqual(self.request('POST', f'/api/session/{first}/cancel').json(),
                         {'cancelled': True})
        self.wait_turn_over(first)
        self.set_scenario()
        self.start_turn(second, 'two')
        self.wait_turn_over(second)
        self.assertEqual(self.log_kinds(second)[-2:], ['result', 'turn_end'])

    def test_warm_process_and_resume_after_restart(self):
        sid = self.create()
        self.start_turn(sid, 'turn one')
        self.wait_turn_over(sid, 1)
        self.start_turn(sid, 'turn two')
        self.wait_turn_over(sid, 2)
        runs = self.process_runs(sid)
        self.assertEqual(len(runs), 1)
        argv = runs[0]['argv']
        self.assertEqual(flag_value(argv, '--session-id'), sid)
        self.assertIn('--input-format=stream-json', argv)
        self.assertIn('--include-partial-messages', argv)
        self.assertEqual(flag_value(argv, '--agent'), 'breakglass')
        self.assertEqual(runs[0]['stdin_bytes'] if 'stdin_bytes' in runs[0] else 0, 0)
        self.assertEqual(self.turn_pids('turn one'), self.turn_pids('turn two'))
        self.assertEqual(os.path.realpath(runs[0]['cwd']),
                         os.path.realpath(os.path.join(self.session_dir(sid), 'work')))

        self.stop_daemon()
        self.start()
        self.assertEqual(self.info(sid)['event_count'], len(self.log_lines(sid)))
        self.start_turn(sid, 'turn three')
        self.wait_turn_over(sid, 3)
        runs = self.process_runs(sid)
        self.assertEqual(len(runs), 2)
        self.assertEqual(flag_value(runs[1]['argv'], '--resume'), sid)
        self.assertNotEqual(self.turn_pids('turn three'), self.turn_pids('turn one'))
        kinds = self.log_kinds(sid)
        self.assertEqual(kinds.count('turn_end'), 3)
        self.assertNotIn('error', kinds)
        self.assert_gap_free([e['id'] for e in self.log_lines(sid)])

    def test_wrong_guess_about_the_transcript(self):
        """--resume for a transcript that is gone, --session-id for one that
        exists: the CLI refuses, and the turn runs once more the other way."""
        gone, kept = self.create(), self.create()
        for sid in (gone, kept):
            self.start_turn(sid, 'first ' + sid)
            self.wait_turn_over(sid)
        self.stop_daemon()
        for root, dirs, files in os.walk(os.path.join(self.home, '.claude', 'projects')):
            for name in files:
                if name == gone + '.jsonl':
                    os.unlink(os.path.join(root, name))
        meta = os.path.join(self.session_dir(kept), 'session.json')
        with open(meta, encoding='utf-8') as f:
            state = json.load(f)
        self.assertTrue(state['cli_started'])
        state['cli_started'] = False
        with open(meta, 'w', encoding='utf-8') as f:
            json.dump(state, f)
        self.start()
        for sid, flags in ((gone, ['--resume', '--session-id']),
                           (kept, ['--session-id', '--resume'])):
            self.start_turn(sid, 'second ' + sid)
            self.wait_turn_over(sid, 2)
            kinds = self.log_kinds(sid)
            self.assertEqual(kinds[-2:], ['result', 'turn_end'], sid)
            self.assertEqual(kinds.count('user'), 2)
            self.assertNotIn('error', kinds)
            runs = self.process_runs(sid)[-2:]
            self.assertEqual([flag for run in runs for flag in ('--resume', '--session-id')
                              if flag_value(run['argv'], flag) == sid], flags)

    def test_model_change_and_idle_process(self):
        self.stop_daemon()
        self.start(config={'claude': {'conversation-idle-seconds': 1}})
        sid = self.create()
        self.start_turn(sid, 'on sonnet')
        self.wait_turn_over(sid)
        # another model: another process, resuming the same CLI session
        self.start_turn(sid, 'on haiku', model='haiku')
        self.wait_turn_over(sid, 2)
        runs = self.process_runs(sid)
        self.assertEqual(len(runs), 2)
        self.assertEqual(flag_value(runs[0]['argv'], '--model'), 'sonnet')
        self.assertEqual(flag_value(runs[1]['argv'], '--model'), 'haiku')
        self.assertEqual(flag_value(runs[1]['argv'], '--resume'), sid)
        wait_for(lambda: not pid_alive(self.turn_pids('on sonnet')[0]), 10,
                 'the sonnet process to be retired')
        # an idle process goes; the next turn resumes in a new one
        wait_for(lambda: not pid_alive(self.turn_pids('on haiku')[0]), 10,
                 'the idle process to be retired')
        self.start_turn(sid, 'later', model='haiku')
        self.wait_turn_over(sid, 3)
        self.assertEqual(len(self.process_runs(sid)), 3)
        self.assertEqual(flag_value(self.process_runs(sid)[2]['argv'], '--resume'), sid)
        self.assertEqual(self.log_kinds(sid).count('result'), 3)

    def test_turn_timeout_keeps_process(self):
        self.stop_daemon()
        self.start(config={'breakglass': {'turn-timeout-seconds': 1}})
        sid = self.create()
        self.set_scenario(hang=1)
        self.start_turn(sid, 'slow')
        self.wait_turn_over(sid)
        events = self.log_lines(sid)
        self.assertEqual([e['kind'] for e in events][-2:], ['error', 'turn_end'])
        self.assertEqual(events[-2]['error'], 'turn timed out after 1s')
        self.set_scenario()
        self.start_turn(sid, 'fast')
        self.wait_turn_over(sid, 2)
        self.assertEqual(self.turn_pids('fast'), self.turn_pids('slow'))

    def test_cli_failure_and_crash(self):
        sid = self.create()
        # the process dies mid-turn: an error, turn_end, and a resume next time
        self.set_scenario(exit_code=3)
        self.start_turn(sid, 'crash')
        self.wait_turn_over(sid)
        kinds = self.log_kinds(sid)
        self.assertEqual(kinds[-1], 'turn_end')
        self.set_scenario()
        wait_for(lambda: not pid_alive(self.turn_pids('crash')[0]), 10, 'the crashed claude')
        self.start_turn(sid, 'recovered')
        self.wait_turn_over(sid, 2)
        self.assertEqual(self.log_kinds(sid)[-2:], ['result', 'turn_end'])
        self.assertEqual(flag_value(self.process_runs(sid)[-1]['argv'], '--resume'), sid)

    def test_cli_killed_mid_turn(self):
        sid = self.create()
        self.set_scenario(hang=1)
        self.start_turn(sid, 'doomed')
        wait_for(lambda: self.turn_pids('doomed'), 10, 'the turn to reach claude')
        wait_for(lambda: 'session' in self.log_kinds(sid), 10, 'the session event')
        os.kill(self.turn_pids('doomed')[0], signal.SIGKILL)
        self.wait_turn_over(sid)
        events = self.log_lines(sid)
        self.assertEqual([e['kind'] for e in events][-2:], ['error', 'turn_end'])
        self.assertTrue(events[-2]['error'], events[-2])
        self.set_scenario()
        self.start_turn(sid, 'next')
        self.wait_turn_over(sid, 2)
        self.assertEqual(self.log_kinds(sid)[-2:], ['result', 'turn_end'])
        self.assertEqual(flag_value(self.process_runs(sid)[-1]['argv'], '--resume'), sid)

    def test_cli_missing(self):
        self.stop_daemon()
        self.start(config={'claude': {'command': '/nonexistent/claude'}})
        sid = self.create()
        self.start_turn(sid, 'hello')
        self.wait_turn_over(sid)
        events = self.log_lines(sid)
        self.assertEqual([e['kind'] for e in events], ['user', 'error', 'turn_end'])
        self.assertIn('could not start agent', events[1]['error'])

    def test_keepalive(self):
        self.stop_daemon()
        self.start(config={'breakglass': {'sse-keepalive-seconds': 1}})
        sid = self.create()
        client = self.stream(sid)
        client.read_until(lambda c: c.keepalives >= 2, what='two keepalives')
        self.assertEqual(client.events, [])


class PrewarmTest(BreakglassTestCase):
    """With warm processes on ([claude] pool-size), a new session's claude
    starts as the session is created: its first turn skips the start-up."""
    config = {'claude': {'pool-size': 1, 'conversation-spare': False}}

    def test_first_turn_runs_on_the_process_started_at_create(self):
        sid = self.create()
        [started] = wait_for(lambda: self.process_runs(sid), 10, 'the session\'s claude')
        self.assertEqual(flag_value(started['argv'], '--session-id'), sid)
        self.assertEqual(self.turn_pids('first'), [])
        self.start_turn(sid, 'first')
        self.wait_turn_over(sid)
        self.assertEqual(self.turn_pids('first'), [started['pid']])
        self.assertEqual(len(self.process_runs(sid)), 1)
        self.assertIn('Echo: first', ''.join(e.get('text', '') for e in self.log_lines(sid)))

    def test_attaching_starts_the_claude_an_idle_session_let_go(self):
        self.stop_daemon()
        self.start(config={'claude': {'conversation-idle-seconds': 1}})
        sid = self.create()
        self.start_turn(sid, 'first')
        self.wait_turn_over(sid)
        [first_pid] = self.turn_pids('first')
        wait_for(lambda: not pid_alive(first_pid), 10, 'the idle claude to end')
        client = self.stream(sid)
        client.read_until(lambda c: c.caught_up_at is not None, what='caught-up')
        resumed = wait_for(lambda: [r for r in self.process_runs(sid)
                                    if flag_value(r['argv'], '--resume') == sid], 10,
                           'a claude resuming the session')
        self.start_turn(sid, 'second')
        self.wait_turn_over(sid, turns=2)
        self.assertEqual(self.turn_pids('second'), [resumed[0]['pid']])


class DurabilityTest(BreakglassTestCase):

    def test_sigkill_mid_turn_then_reattach(self):
        sid = self.create()
        self.set_scenario(tokens=200, token_interval_ms=20)
        client = self.stream(sid)
        self.start_turn(sid, 'long turn')
        client.read_until(lambda c: c.kinds().count('text') >= 10, what='ten text events')
        seen = list(client.events)
        self.daemon.send_signal(signal.SIGKILL)
        self.daemon.wait()
        client.read_to_eof()
        seen = list(client.events)
        pid = self.turn_pids('long turn')[0]
        # the claude child dies with the daemon (parent-death signal)
        wait_for(lambda: not pid_alive(pid), 10, 'claude to die with the daemon')

        self.start()
        again = self.stream(sid, last_id=seen[-1][0])
        again.read_until(lambda c: c.caught_up_at is not None, what='caught-up')
        self.assert_gap_free(again.ids(), seen[-1][0] + 1)
        self.assertEqual(again.kinds()[-2:], ['error', 'turn_end'])
        self.assertEqual(again.events[-2][1]['error'], 'service restarted during turn')
        everything = self.log_lines(sid)
        self.assertEqual([e for _, e in seen] + [e for _, e in again.events], everything)
        self.assertEqual(self.info(sid)['event_count'], len(everything))
        self.assertFalse(self.info(sid)['turn_active'])
        # and the session goes on
        self.set_scenario()
        self.start_turn(sid, 'after the crash')
        again.read_until(lambda c: c.turn_ends() == 2, what='the next turn')
        self.assertEqual(again.kinds()[-2], 'result')

    def test_torn_and_damaged_logs(self):
        good, torn, damaged = self.create(), self.create(), self.create()
        for sid in (good, torn, damaged):
            self.start_turn(sid, 'fill')
            self.wait_turn_over(sid)
        counts = {sid: len(self.log_lines(sid)) for sid in (good, torn, damaged)}
        self.stop_daemon()
        with open(os.path.join(self.session_dir(torn), 'events.jsonl'), 'ab') as f:
            f.write(b'{"id":%d,"kind":"text","te' % counts[torn])
        path = os.path.join(self.session_dir(damaged), 'events.jsonl')
        with open(path, 'rb') as f:
            lines = f.read().split(b'\n')
        lines[1] = b'{"id":1,"kind":"text","text":"edited by hand'
        with open(path, 'wb') as f:
            f.write(b'\n'.join(lines))
        sessions = os.path.join(self.state_dir, 'sessions')
        # things in the sessions folder that are not sessions
        os.symlink('/etc', os.path.join(sessions, UNKNOWN))
        os.makedirs(os.path.join(sessions, 'not-a-session'))
        with open(os.path.join(sessions, '22222222-2222-3333-4444-555555555555'), 'w') as f:
            f.write('a file')
        with open(os.path.join(self.session_dir(good), 'session.json'), 'w') as f:
            f.write('{"created": "yesterday", "cli_started": 5')

        self.start()
        self.assertEqual(self.info(torn)['event_count'], counts[torn])
        self.assertEqual(len(self.log_lines(torn)), counts[torn])   # cut back to whole lines
        self.assertIsNone(self.info(damaged))
        self.assertIn(damaged, self.daemon_output())
        self.assertTrue(os.path.exists(path))                       # left for a person to see
        self.assertIsNone(self.info(UNKNOWN))
        self.assertEqual(self.info(good)['event_count'], counts[good])
        for sid in (good, torn):
            self.start_turn(sid, 'more')
            self.wait_turn_over(sid, 2)
            self.assert_gap_free([e['id'] for e in self.log_lines(sid)])

    def test_sigterm_ends_streams(self):
        idle, busy = self.create(), self.create()
        self.set_scenario(hang=1)
        self.start_turn(busy, 'hanging')
        wait_for(lambda: self.turn_pids('hanging'), 10, 'the turn to reach claude')
        clients = [self.stream(idle), self.stream(busy), self.stream(busy, last_id=0)]
        for client in clients:
            client.read_until(lambda c: c.caught_up_at is not None, what='caught-up')
        self.stop_daemon()
        for client in clients:
            client.read_to_eof()
        for client in clients[1:]:
            self.assertEqual(client.kinds()[-2:], ['error', 'turn_end'])
            self.assertEqual(client.events[-2][1]['error'], 'service stopped during turn')
        self.assertEqual(self.log_kinds(busy)[-2:], ['error', 'turn_end'])
        # closed in the log: a restart has nothing to add
        self.start()
        self.assertEqual(self.log_kinds(busy).count('turn_end'), 1)


class BoundsTest(BreakglassTestCase):
    config = {'breakglass': {'max-sessions': 2, 'max-log-bytes': 4096}}

    def test_max_sessions(self):
        first = self.create()
        self.create()
        resp = self.request('POST', '/api/session')
        self.assert_error(resp, 429, 'max-sessions')
        self.assertEqual(len(self.request('GET', '/api/sessions').json()['sessions']), 2)
        self.assertEqual(self.request('DELETE', f'/api/session/{first}').status, 200)
        self.create()

    def test_max_log_bytes(self):
        sid = self.create()
        # a turn that writes past the bound is stopped, never cut
        self.set_scenario(reply_bytes=20000, tokens=200, token_interval_ms=5)
        self.start_turn(sid, 'big')
        self.wait_turn_over(sid)
        events = self.log_lines(sid)
        self.assertEqual(events[-1]['kind'], 'turn_end')
        self.assertIn('error', [e['kind'] for e in events])
        self.assert_gap_free([e['id'] for e in events])
        self.assert_error(self.prompt(sid, 'more'), 409, 'session log is full')
        self.assertEqual(len(self.log_lines(sid)), len(events))


class FanOutTest(BreakglassTestCase):
    config = {'http': {'max-connections': 1024}}

    def test_200_clients_get_every_event_in_order(self):
        sid = self.create()
        clients = [Sse(self.port, f'/api/session/{sid}/stream') for _ in range(200)]
        for client in clients:
            self.addCleanup(client.close)
        sel = selectors.DefaultSelector()
        for client in clients:
            client.sock.setblocking(False)
            sel.register(client.sock, selectors.EVENT_READ, client)

        def pump_until(predicate, what):
            deadline = time.monotonic() + 60 * TIMEOUT_MULTIPLIER
            while not all(predicate(c) for c in clients):
                if time.monotonic() > deadline:
                    raise AssertionError('timed out waiting for ' + what)
                for key, _ in sel.select(0.2):
                    try:
                        key.data.feed(key.fileobj.recv(65536))
                    except BlockingIOError:
                        pass
                    if key.data.eof:
                        raise AssertionError('a client was dropped')
        pump_until(lambda c: c.caught_up_at is not None, 'every client to catch up')
        self.set_scenario(reply_bytes=2000, tokens=100)
        self.start_turn(sid, 'fan out')
        pump_until(lambda c: c.turn_ends() == 1, 'every client to get turn_end')
        expected = self.log_lines(sid)
        self.assertGreaterEqual(len(expected), 100)
        for client in clients:
            self.assertEqual([e for _, e in client.events], expected)

    def test_slow_client_dropped_others_keep_up(self):
        sid = self.create()
        slow = self.stream(sid, rcvbuf=4096)
        fast = self.stream(sid)
        for client in (slow, fast):
            client.read_until(lambda c: c.caught_up_at is not None, what='caught-up')
        # about 4 MB of events; the slow client stops reading
        self.set_scenario(reply_bytes=4 * 1024 * 1024, tokens=500)
        self.start_turn(sid, 'flood')
        fast.read_until(lambda c: c.turn_ends() == 1, timeout=60, what='turn_end')
        self.assertEqual([e for _, e in fast.events], self.log_lines(sid))
        # the slow one was dropped: reading it now ends before the turn did
        slow.read_to_eof(timeout=60)
        self.assertEqual(slow.turn_ends(), 0)
        self.assertLess(len(slow.events), len(fast.events))
        self.assert_gap_free(slow.ids())
        # it can re-attach where it stopped and miss nothing
        again = self.stream(sid, last_id=slow.ids()[-1] if slow.events else None)
        again.read_until(lambda c: c.caught_up_at is not None, timeout=60, what='caught-up')
        self.assertEqual(slow.ids() + again.ids(), fast.ids())
