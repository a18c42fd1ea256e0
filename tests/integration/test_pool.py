"""Warm claude processes for /v1/chat/completions: started ahead of need,
one caller each, a clean fallback to the cold path, bounded."""
import http.client
import json
import os
import signal
import threading

from cas_harness import TOKEN, DaemonTestCase, close_stream, pid_alive, smoke, wait_for

ROUTE = '/v1/chat/completions'


def chat_body(text, stream=True):
    return {'model': 'sonnet', 'stream': stream, 'messages': [{'role': 'user', 'content': text}]}


class PoolTestCase(DaemonTestCase):
    # The chat pool on its own: the conversations' spare process has its
    # own tests below.
    config = {'claude': {'pool-size': 1, 'conversation-spare': False}}

    def pool(self):
        return self.request('GET', '/health').json()['pool']

    def wait_warm(self, count=1):
        wait_for(lambda: self.pool()['warm'] >= count, 10, f'{count} warm process(es)')

    def warm_starts(self):
        """The fake's start lines of long-lived processes."""
        return [r for r in self.fake_runs()
                if 'argv' in r and '--input-format=stream-json' in r['argv']]

    def turn_inputs(self):
        return [r for r in self.fake_runs() if 'turn_input' in r]

    def stream(self, text):
        """(content, chunks) of one streamed request read to [DONE]."""
        conn, resp = self.open_stream(ROUTE, chat_body(text))
        self.assertEqual(resp.status, 200)
        chunks = []
        for data in self.sse_data(resp):
            if data == '[DONE]':
                break
            chunks.append(json.loads(data))
        conn.close()
        content = ''.join(c['choices'][0]['delta'].get('content', '')
                          for c in chunks if c.get('choices'))
        return content, chunks

    def shape(self, chunks):
        """What a client sees of a stream, ids and times aside."""
        return [(c['object'], c['model'], c['choices'][0]['delta'] if c.get('choices') else None,
                 c['choices'][0]['finish_reason'] if c.get('choices') else None)
                for c in chunks]

    def children_in_use(self, warm_pids):
        """The daemon's children but those on their way out: a retired warm
        process (stdin closed: it exits after its last turn, and the next
        request need not wait for that). A cold process counts until it is
        reaped: it holds its request's slot so long. @warm_pids remembers
        the warm ones across calls, as a zombie's command line is empty."""
        daemon_pipes = set()
        for fd in os.listdir(f'/proc/{self.daemon.pid}/fd'):
            try:
                daemon_pipes.add(os.readlink(f'/proc/{self.daemon.pid}/fd/{fd}'))
            except FileNotFoundError:
                pass
        in_use = []
        for pid in self.daemon_children():
            try:
                with open(f'/proc/{pid}/cmdline', 'rb') as f:
                    if b'--input-format=stream-json' in f.read().split(b'\0'):
                        warm_pids.add(pid)
                if pid in warm_pids and os.readlink(f'/proc/{pid}/fd/0') not in daemon_pipes:
                    continue
            except FileNotFoundError:  # gone, or a zombie's descriptors
                if pid in warm_pids:
                    continue
            in_use.append(pid)
        return in_use

    def assert_only_warm_children(self):
        """Nothing but idle warm processes is left."""
        wait_for(lambda: len(self.daemon_children()) == self.pool()['warm'], 10,
                 'only warm processes to be left')


class PoolTest(PoolTestCase):

    @smoke
    def test_warm_stream_equals_cold(self):
        self.wait_warm()
        warm_content, warm_chunks = self.stream('Здравей, "свят"\nред две')
        self.assertEqual(self.pool()['fallbacks'], 0)
        [turn] = self.turn_inputs()
        # The dialogue, flattened as on the cold path.
        self.assertEqual(turn['turn_input'], 'User: Здравей, "свят"\nред две')

        self.stop_daemon()
        self.start(config={'claude': {'pool-size': 0}})
        cold_content, cold_chunks = self.stream('Здравей, "свят"\nред две')
        self.assertEqual(warm_content, cold_content)
        self.assertEqual(self.shape(warm_chunks), self.shape(cold_chunks))
        cold = self.fake_runs()[-1]
        self.assertEqual(cold['stdin'], turn['turn_input'])
        # The same flags but the input format.
        warm_argv = [a for a in self.warm_starts()[0]['argv'] if a != '--input-format=stream-json']
        self.assertEqual(warm_argv[1:], cold['argv'][1:])

    def test_non_streaming_uses_a_warm_process_too(self):
        self.wait_warm()
        resp = self.request('POST', ROUTE, chat_body('plain', stream=False))
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual(resp.json()['choices'][0]['message']['content'], 'Echo: User: plain')
        self.assertEqual([t['turn_input'] for t in self.turn_inputs()], ['User: plain'])

    def test_no_context_crosses_callers(self):
        for n in range(4):
            self.wait_warm()
            content, _ = self.stream(f'caller {n}')
            self.assertEqual(content, f'Echo: User: caller {n}')
        turns = self.turn_inputs()
        self.assertEqual([t['turn_input'] for t in turns], [f'User: caller {n}' for n in range(4)])
        # Each process served one caller: four processes, one turn each.
        self.assertEqual(len({t['pid'] for t in turns}), 4)
        wait_for(lambda: self.pool()['retired'] == 4, 10, 'four processes retired')
        # Busy until a retired process has exited.
        wait_for(lambda: self.pool()['busy'] == 0, 10, 'no process busy')
        self.assert_only_warm_children()

    def test_health_reports_the_pool(self):
        self.wait_warm()
        self.assertEqual(self.pool(), {'warm': 1, 'busy': 0, 'retired': 0, 'fallbacks': 0})
        self.set_scenario(hang=1)
        conn, resp = self.open_stream(ROUTE, chat_body('wait'))
        self.assertEqual(resp.status, 200)
        wait_for(lambda: self.pool()['busy'] == 1, 10, 'the process to count as busy')
        close_stream(conn, resp)
        wait_for(lambda: self.pool()['busy'] == 0 and self.pool()['retired'] == 1, 10,
                 'the process to be retired')

    def test_client_gone_ends_the_warm_process_and_the_pool_refills(self):
        self.wait_warm()
        [warm_pid] = self.daemon_children()
        self.set_scenario(hang=1)
        conn, resp = self.open_stream(ROUTE, chat_body('wait'))
        self.assertEqual(resp.status, 200)
        next(self.sse_data(resp))
        close_stream(conn, resp)
        wait_for(lambda: not pid_alive(warm_pid), 10, 'the warm process to end')
        self.set_scenario()
        self.wait_warm()
        self.assertNotIn(warm_pid, self.daemon_children())
        self.assertEqual(self.stream('next')[0], 'Echo: User: next')



class PoolOffTest(PoolTestCase):
    config = {'claude': {'pool-size': 0}}

    def test_off(self):
        self.assertEqual(self.stream('cold')[0], 'Echo: User: cold')
        self.assertEqual(self.pool(), {'warm': 0, 'busy': 0, 'retired': 0, 'fallbacks': 0})
        self.assertEqual(self.warm_starts(), [])
        self.assert_no_children()


def in_startup_delay(pid):
    """Whether the fake is sleeping out FAKE_CLAUDE_STARTUP_DELAY_MS: in
    poll(2), syscall 7 on x86_64 (it reads stdin once it is up). Before
    that it may not have read the scenario yet."""
    try:
        with open(f'/proc/{pid}/syscall', encoding='ascii') as f:
            return f.read().split()[0] == '7'
    except (FileNotFoundError, IndexError):
        return False


class FaultTest(PoolTestCase):
    """A warm process that fails before its first line: the request runs
    cold, and the client cannot tell."""

    def test_died_while_idle(self):
        self.wait_warm()
        [warm_pid] = self.daemon_children()
        os.kill(warm_pid, signal.SIGKILL)
        wait_for(lambda: self.pool()['warm'] == 0, 10, 'the dead process to leave the pool')
        self.assertEqual(self.stream('after')[0], 'Echo: User: after')
        # Counted when the turn has ended, which may be just after [DONE].
        wait_for(lambda: self.pool()['fallbacks'] == 1, 10, 'the fallback to be counted')

    def test_garbage_before_its_first_line(self):
        self.wait_warm()
        [warm_pid] = self.daemon_children()
        self.set_scenario(garbage_first=1)
        # The cold run writes the same garbage first; the relay skips it there.
        self.assertEqual(self.stream('tidy')[0], 'Echo: User: tidy')
        wait_for(lambda: self.pool()['fallbacks'] == 1, 10, 'the fallback to be counted')
        self.assertIn('it wrote garbage', self.daemon_output())
        wait_for(lambda: not pid_alive(warm_pid), 10, 'the faulty process to be ended')

    def test_died_mid_turn_before_its_first_line(self):
        # A warm process still in its start-up when the request comes, and
        # killed before it says a word.
        self.stop_daemon()
        self.set_scenario(startup_delay_ms=5000)
        self.start()
        wait_for(lambda: self.pool()['warm'] == 1, 10, 'the slow warm process')
        [warm_pid] = self.daemon_children()
        wait_for(lambda: in_startup_delay(warm_pid), 10, 'the warm process to sleep')
        self.set_scenario()
        conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=30)
        conn.request('POST', ROUTE, body=json.dumps(chat_body('rescue me')),
                     headers={'Authorization': f'Bearer {TOKEN}',
                              'Content-Type': 'application/json'})
        wait_for(lambda: self.pool()['busy'] == 1, 10, 'the warm process to be taken')
        os.kill(warm_pid, signal.SIGKILL)
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        content = ''.join(json.loads(d)['choices'][0]['delta'].get('content', '')
                          for d in self.sse_data(resp) if d != '[DONE]' and '"choices":[{' in d)
        conn.close()
        self.assertEqual(content, 'Echo: User: rescue me')
        # Counted when the turn has ended, which may be just after [DONE].
        wait_for(lambda: self.pool()['fallbacks'] == 1, 10, 'the fallback to be counted')
        self.assertIn('running the request cold', self.daemon_output())

    def test_killed_after_its_first_line_ends_the_stream_with_an_error(self):
        self.wait_warm()
        [warm_pid] = self.daemon_children()
        self.set_scenario(tokens=40, token_interval_ms=100)
        conn, resp = self.open_stream(ROUTE, chat_body('a long answer, please ' * 10))
        self.assertEqual(resp.status, 200)
        events = self.sse_data(resp)
        for data in events:
            if '"content"' in data:
                break
        os.kill(warm_pid, signal.SIGKILL)
        # No cold retry once words went out: an error chunk, then [DONE].
        rest = list(events)
        conn.close()
        self.assertEqual(rest[-1], '[DONE]')
        self.assertIn('"error"', rest[-2])
        self.assertEqual(self.pool()['fallbacks'], 0)

    def test_no_answer_in_time(self):
        # Started with a start-up longer than the relay's deadline (10 s).
        self.stop_daemon()
        self.set_scenario(startup_delay_ms=60000)
        self.start()
        wait_for(lambda: len(self.daemon_children()) == 1, 10, 'the slow warm process')
        [warm_pid] = self.daemon_children()
        wait_for(lambda: in_startup_delay(warm_pid), 10, 'the warm process to sleep')
        self.set_scenario()
        content, _ = self.stream('too slow')
        self.assertEqual(content, 'Echo: User: too slow')
        # Counted when the turn has ended, which may be just after [DONE].
        wait_for(lambda: self.pool()['fallbacks'] == 1, 10, 'the fallback to be counted')
        wait_for(lambda: not pid_alive(warm_pid), 10, 'the silent process to be ended')


class CapTest(PoolTestCase):
    config = {'claude': {'pool-size': 2, 'max-concurrency': 3, 'max-queue-depth': 100,
                         'max-processes': 4, 'conversation-spare': False}}

    def test_fifty_concurrent_requests(self):
        self.wait_warm(2)
        self.set_scenario(tokens=3, token_interval_ms=20)
        results = {}
        most = [0]
        warm_pids = set()
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                most[0] = max(most[0], len(self.children_in_use(warm_pids)))
                stop.wait(0.005)

        def one(n):
            try:
                results[n] = self.stream(f'request {n}')[0]
            except Exception as e:  # reported below
                results[n] = repr(e)

        sampler = threading.Thread(target=sample)
        sampler.start()
        threads = [threading.Thread(target=one, args=(n,)) for n in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        stop.set()
        sampler.join()

        self.assertEqual(results, {n: f'Echo: User: request {n}' for n in range(50)})
        # At most max-concurrency running plus pool-size idle; warm ones
        # start only while fewer than max-processes live.
        self.assertLessEqual(most[0], 3 + 2)
        turns = self.turn_inputs()
        self.assertEqual(len({t['pid'] for t in turns}), len(turns))
        wait_for(lambda: self.pool()['busy'] == 0, 10, 'every process to be given back')
        self.assertLessEqual(self.pool()['warm'], 2)
        self.assert_only_warm_children()


class ConversationProcessTest(PoolTestCase):
    """A /v1/conversational conversation keeps its own process between
    turns: a follow-up is one line to a running CLI. A new conversation
    starts on the spare process, under the id the spare was started with."""
    config = {'claude': {'pool-size': 1}}
    SID = '3f2a9c1e-7b4d-4e8a-9c6f-1d2e3f4a5b6c'

    def turn(self, message, **extra):
        body = dict({'session_id': self.SID, 'message': message}, **extra)
        resp = self.request('POST', '/v1/conversational', body)
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual(resp.json()['session_id'], self.SID)
        return resp.json()['reply']

    def record(self):
        path = os.path.join(self.state_dir, 'conversations', self.SID + '.json')
        with open(path, encoding='utf-8') as f:
            return json.load(f)

    def cli_id(self):
        """The id the CLI knows the conversation by."""
        return self.record().get('cli_session_id', self.SID)

    def spare_pid(self):
        """The live spare: a long-lived process started with --session-id."""
        def find():
            for r in self.warm_starts():
                if any(a.startswith('--session-id=') for a in r['argv']) and \
                        pid_alive(r['pid']) and not self.turns_of(r['pid']):
                    return r['pid']
            return None
        return wait_for(find, 10, 'the spare process')

    def conversation_pid(self):
        """The conversation's long-lived process, once it is up."""
        cli = self.cli_id()

        def find():
            for r in self.warm_starts():
                if (f'--resume={cli}' in r['argv'] or f'--session-id={cli}' in r['argv']) \
                        and pid_alive(r['pid']):
                    return r['pid']
            return None
        return wait_for(find, 10, "the conversation's process")

    def turns_of(self, pid):
        return [t['turn_input'] for t in self.turn_inputs() if t['pid'] == pid]

    def cold_runs(self):
        return [r for r in self.fake_runs() if 'argv' in r and
                '--input-format=stream-json' not in r['argv']]

    @smoke
    def test_a_new_conversation_takes_the_spare_and_keeps_it(self):
        spare = self.spare_pid()
        self.assertEqual(self.turn('one'), 'Echo: one')
        self.assertEqual(self.turn('two'), 'Echo: two')
        self.assertEqual(self.turn('three'), 'Echo: three')
        # Every turn on the spare; no cold run at all.
        self.assertEqual(self.turns_of(spare), ['one', 'two', 'three'])
        self.assertEqual(self.cold_runs(), [])
        # The record keeps the id the spare was started with.
        [start] = [r for r in self.warm_starts() if r['pid'] == spare]
        self.assertIn(f'--session-id={self.cli_id()}', start['argv'])
        self.assertNotEqual(self.cli_id(), self.SID)
        self.assertEqual(self.record()['turns'], 3)
        # And a new spare is ready for the next conversation.
        self.assertNotEqual(self.spare_pid(), spare)

    def test_two_new_conversations_get_their_own_sessions(self):
        other = '0b1c2d3e-4f50-4617-8283-94a5b6c7d8e9'
        self.spare_pid()
        self.assertEqual(self.turn('mine'), 'Echo: mine')
        self.spare_pid()
        resp = self.request('POST', '/v1/conversational', {'session_id': other, 'message': 'theirs'})
        self.assertEqual(resp.status, 200, resp.body)
        with open(os.path.join(self.state_dir, 'conversations', other + '.json'),
                  encoding='utf-8') as f:
            theirs = json.load(f)['cli_session_id']
        self.assertNotEqual(theirs, self.cli_id())
        self.assertEqual(self.turn('mine again'), 'Echo: mine again')
        self.assertEqual(self.turns_of(self.conversation_pid()), ['mine', 'mine again'])

    def test_without_a_spare_the_first_turn_runs_cold(self):
        self.stop_daemon()
        self.start(config={'claude': {'pool-size': 1, 'conversation-spare': False}})
        self.assertEqual(self.turn('one'), 'Echo: one')
        pid = self.conversation_pid()
        self.assertEqual(self.turn('two'), 'Echo: two')
        self.assertEqual(self.turns_of(pid), ['two'])
        # The first turn ran cold and opened the session under its own id.
        cold = self.cold_runs()
        self.assertEqual([flag for r in cold for flag in r['argv']
                          if flag.startswith('--session-id=')], [f'--session-id={self.SID}'])
        self.assertNotIn('cli_session_id', self.record())

    def test_barge_in_interrupts_and_keeps_the_process(self):
        self.turn('one')
        pid = self.conversation_pid()
        self.set_scenario(tokens=40, token_interval_ms=100)
        conn, resp = self.open_stream('/v1/conversational',
                                      {'session_id': self.SID, 'message': 'long answer',
                                       'stream': True})
        self.assertEqual(resp.status, 200)
        for data in self.sse_data(resp):
            if '"content"' in data:
                break
        close_stream(conn, resp)
        # The turn ends (an error_during_execution result); the process stays.
        self.set_scenario()
        self.assertEqual(self.turn('after'), 'Echo: after')
        self.assertTrue(pid_alive(pid))
        self.assertEqual(self.turns_of(pid), ['one', 'long answer', 'after'])

    def test_timeout_interrupts_and_keeps_the_process(self):
        self.stop_daemon()
        self.start(config={'claude': {'pool-size': 1},
                           'conversational': {'timeout-seconds': 1}})
        self.turn('one')
        pid = self.conversation_pid()
        # 40 deltas 100 ms apart: a reply of 4 s, past the 1 s limit.
        long_message = 'a long answer, please ' * 10
        self.set_scenario(tokens=40, token_interval_ms=100)
        resp = self.request('POST', '/v1/conversational',
                            {'session_id': self.SID, 'message': long_message})
        self.assertEqual(resp.status, 503, resp.body)
        self.assertIn('timed out', resp.body.decode())
        # Interrupted, not ended: the next turn runs on the same process.
        self.set_scenario()
        self.assertEqual(self.turn('after'), 'Echo: after')
        self.assertTrue(pid_alive(pid))
        self.assertEqual(self.turns_of(pid), ['one', long_message, 'after'])

    def test_process_gone_between_turns_resumes_cold(self):
        self.turn('one')
        pid = self.conversation_pid()
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not pid_alive(pid), 5, 'the process to die')
        self.assertEqual(self.turn('two'), 'Echo: two')
        # Through the record: the id the spare was started with.
        self.assertIn(f'--resume={self.cli_id()}', self.cold_runs()[-1]['argv'])
        # And it gets a process again.
        self.assertNotEqual(self.conversation_pid(), pid)

    def test_another_model_runs_cold(self):
        self.turn('one')
        pid = self.conversation_pid()
        self.assertEqual(self.turn('in opus', model='opus'), 'Echo: in opus')
        self.assertEqual(self.turns_of(pid), ['one'])
        self.assertIn(f'--resume={self.cli_id()}', self.cold_runs()[-1]['argv'])
        wait_for(lambda: not pid_alive(pid), 10, 'the old process to be ended')

    def test_idle_process_is_ended(self):
        self.stop_daemon()
        self.start(config={'claude': {'pool-size': 1, 'conversation-idle-seconds': 1}})
        self.turn('one')
        pid = self.conversation_pid()
        wait_for(lambda: not pid_alive(pid), 10, 'the idle process to be ended')
        self.assertEqual(self.turn('two'), 'Echo: two')

    def test_restart_then_warm_again(self):
        self.turn('one')
        self.conversation_pid()
        self.stop_daemon()
        self.start()
        self.assertEqual(self.turn('two'), 'Echo: two')
        # Cold, through the record, then on its own process again.
        self.assertIn(f'--resume={self.cli_id()}', self.cold_runs()[-1]['argv'])
        pid = self.conversation_pid()
        self.assertEqual(self.turn('three'), 'Echo: three')
        self.assertEqual(self.turns_of(pid), ['three'])
