"""POST /v1/conversational: multi-turn conversations in the CLI's own
session (SPEC 3.2), against the built daemon and the fake claude, which
enforces the real CLI's session-id rules."""
import json
import os
import re
import socket
import stat
import threading
import time

from cas_harness import (DaemonTestCase, TIMEOUT_MULTIPLIER, close_stream, pid_alive,
                         smoke, wait_for)

ROUTE = '/v1/conversational'
SID = '8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a'
SID2 = '3b0c9d2a-7e41-4f8b-9c55-0a1d2e3f4b6c'
BULGARIAN = 'Здравей! Днес е хубав ден, нали?'
STAMP_RE = re.compile(r'\[t=(\d+)\]')


def sanitize(path):
    """The CLI's project directory name for a cwd (claude-cli.md 7)."""
    return re.sub(r'[^A-Za-z0-9]', '-', path)


def flag_value(argv, flag):
    for arg in argv:
        if arg.startswith(flag + '='):
            return arg[len(flag) + 1:]
    return None



class ConversationalTestCase(DaemonTestCase):

    def pinned_cwd(self):
        return os.path.realpath(os.path.join(self.state_dir, 'conversational'))

    def transcript(self, sid):
        return os.path.join(self.home, '.claude', 'projects',
                            sanitize(self.pinned_cwd()), sid + '.jsonl')

    def record_path(self, sid):
        return os.path.join(self.state_dir, 'conversations', sid + '.json')

    def turn(self, sid, message, **extra):
        body = {'session_id': sid, 'message': message}
        body.update(extra)
        return self.request('POST', ROUTE, body)

    def runs_for(self, sid):
        return [r for r in self.fake_runs() if r.get('session_id') == sid or
                flag_value(r['argv'], '--session-id') == sid or
                flag_value(r['argv'], '--resume') == sid]

    def assert_error(self, resp, status, words):
        self.assertEqual(resp.status, status, resp.body)
        err = resp.json()['error']
        self.assertIsInstance(err, dict)
        self.assertIn(words, err['message'])
        self.assertIn('type', err)
        self.assertIn('code', err)
        self.assertIn('param', err)
        return err

    def read_stream(self, resp):
        """(chunks, saw_done): the JSON chunks up to [DONE]."""
        chunks = []
        for data in self.sse_data(resp):
            if data == '[DONE]':
                return chunks, True
            chunks.append(json.loads(data))
        return chunks, False

    @staticmethod
    def content_of(chunks):
        return ''.join(c['choices'][0]['delta'].get('content', '')
                       for c in chunks if c.get('choices'))

    def wait_for_run(self, count=1, what='the fake to start'):
        return wait_for(lambda: len(self.fake_runs()) >= count and self.fake_runs(), 10, what)


class ConversationalErrorTest(ConversationalTestCase):
    """One test per error row: status, body, and no child left behind."""

    def test_session_id_not_a_uuid(self):
        resp = self.turn('not-a-uuid', 'hi')
        self.assert_error(resp, 400, 'session_id')
        self.assertEqual(self.fake_runs(), [])
        self.assert_no_children()

    def test_session_id_missing(self):
        resp = self.request('POST', ROUTE, {'message': 'hi'})
        self.assert_error(resp, 400, 'session_id')
        self.assert_no_children()

    def test_session_id_wrong_types(self):
        for value in (12345, None, True, ['a'], {'id': SID}, 1.5):
            with self.subTest(value=value):
                resp = self.request('POST', ROUTE, {'session_id': value, 'message': 'hi'})
                self.assert_error(resp, 400, 'session_id')
        self.assertEqual(self.fake_runs(), [])
        self.assert_no_children()

    def test_message_missing(self):
        resp = self.request('POST', ROUTE, {'session_id': SID})
        self.assert_error(resp, 400, 'message')
        self.assert_no_children()

    def test_message_empty(self):
        resp = self.turn(SID, '')
        self.assert_error(resp, 400, 'message')
        self.assert_no_children()

    def test_message_wrong_types(self):
        for value in (None, 7, ['hi'], {'text': 'hi'}, False):
            with self.subTest(value=value):
                resp = self.request('POST', ROUTE, {'session_id': SID, 'message': value})
                self.assert_error(resp, 400, 'message')
        self.assertEqual(self.fake_runs(), [])
        self.assert_no_children()

    def test_unsupported_model(self):
        resp = self.turn(SID, 'hi', model='gpt-4o')
        err = self.assert_error(resp, 400, 'unsupported model')
        self.assertEqual(err['type'], 'invalid_request_error')
        for model in ('haiku', 'sonnet', 'opus'):
            self.assertIn(model, err['message'])
        self.assertEqual(self.fake_runs(), [])
        self.assertFalse(os.path.exists(self.record_path(SID)))
        self.assert_no_children()

    def test_model_wrong_type(self):
        resp = self.turn(SID, 'hi', model=['haiku'])
        self.assert_error(resp, 400, 'model')
        self.assert_no_children()

    def test_stream_wrong_type(self):
        resp = self.turn(SID, 'hi', stream='yes')
        self.assert_error(resp, 400, 'stream')
        self.assert_no_children()

    def test_malformed_json(self):
        for body in (b'{"session_id": ', b'', b'[1,2]', b'"text"', b'\xff\xfe{}'):
            with self.subTest(body=body):
                resp = self.request('POST', ROUTE, body,
                                    headers={'Content-Type': 'application/json'})
                self.assertEqual(resp.status, 400)
                self.assertIn('error', resp.json())
        self.assertEqual(self.fake_runs(), [])
        self.assert_no_children()

    def test_unauthorized(self):
        resp = self.request('POST', ROUTE, {'session_id': SID, 'message': 'hi'}, token='wrong')
        self.assertEqual(resp.status, 401)
        self.assertEqual(resp.json()['error']['type'], 'authentication_error')
        self.assertEqual(self.fake_runs(), [])
        self.assert_no_children()

    def test_wrong_method(self):
        resp = self.request('GET', ROUTE)
        self.assertEqual(resp.status, 405)
        self.assert_no_children()

    def test_queue_full(self):
        self.stop_daemon()
        self.start(config={'claude': {'max-concurrency': 1, 'max-queue-depth': 1}})
        self.set_scenario(hang=1)
        conn, resp = self.open_stream(ROUTE, {'session_id': SID, 'message': 'hold',
                                              'stream': True})
        self.addCleanup(conn.close)
        self.assertEqual(resp.status, 200)
        self.wait_for_run()
        full = self.turn(SID2, 'hi')
        self.assert_error(full, 503, 'queue full')
        streamed = self.request('POST', ROUTE, {'session_id': SID2, 'message': 'hi',
                                                'stream': True})
        self.assert_error(streamed, 503, 'queue full')
        close_stream(conn, resp)
        self.assert_no_children()
        self.assertEqual(len(self.fake_runs()), 1)

    def test_timeout(self):
        self.stop_daemon()
        self.start(config={'conversational': {'timeout-seconds': 1}})
        self.set_scenario(hang=1)
        resp = self.turn(SID, 'hi')
        self.assert_error(resp, 503, 'agent timed out after 1 s')
        self.assertFalse(os.path.exists(self.record_path(SID)))
        self.assert_no_children()

    def test_timeout_streaming(self):
        self.stop_daemon()
        self.start(config={'conversational': {'timeout-seconds': 1}})
        self.set_scenario(hang=1)
        conn, resp = self.open_stream(ROUTE, {'session_id': SID, 'message': 'hi',
                                              'stream': True})
        self.addCleanup(conn.close)
        self.assertEqual(resp.status, 200)
        chunks, done = self.read_stream(resp)
        self.assertTrue(done)
        self.assertEqual(chunks[0]['choices'][0]['delta'], {'role': 'assistant'})
        self.assertIn('error', chunks[-1])
        self.assertIn('agent timed out after 1 s', chunks[-1]['error']['message'])
        self.assert_no_children()

    def test_cli_missing(self):
        self.stop_daemon()
        self.start(config={'claude': {'command': os.path.join(self.tmp, 'no-such-claude')}})
        resp = self.turn(SID, 'hi')
        self.assert_error(resp, 503, 'claude CLI not found')
        streamed = self.request('POST', ROUTE, {'session_id': SID, 'message': 'hi',
                                                'stream': True})
        self.assert_error(streamed, 503, 'claude CLI not found')
        self.assertFalse(os.path.exists(self.record_path(SID)))
        self.assert_no_children()

    def test_not_logged_in(self):
        self.set_scenario(not_logged_in=1)
        resp = self.turn(SID, 'hi')
        err = self.assert_error(resp, 503, 'Not logged in')
        self.assertEqual(err['type'], 'server_error')
        self.assertFalse(os.path.exists(self.record_path(SID)))
        self.assert_no_children()

    def test_not_logged_in_streaming(self):
        self.set_scenario(not_logged_in=1)
        conn, resp = self.open_stream(ROUTE, {'session_id': SID, 'message': 'hi',
                                              'stream': True})
        self.addCleanup(conn.close)
        self.assertEqual(resp.status, 200)
        chunks, done = self.read_stream(resp)
        self.assertTrue(done)
        self.assertIn('Not logged in', chunks[-1]['error']['message'])
        self.assertFalse(os.path.exists(self.record_path(SID)))
        self.assert_no_children()

    def test_cli_fails(self):
        self.set_scenario(exit_code=1)
        resp = self.turn(SID, 'hi')
        self.assert_error(resp, 503, 'execution failed')
        self.assertFalse(os.path.exists(self.record_path(SID)))
        self.assert_no_children()
        # The failed turn still left a transcript: the next one resumes.
        self.set_scenario()
        resp = self.turn(SID, 'again')
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual(flag_value(self.fake_runs()[-1]['argv'], '--resume'), SID)
        self.assert_no_children()

    def test_cli_exits_before_output(self):
        self.set_scenario(exit_before_output=2, stderr='boom: something broke')
        resp = self.turn(SID, 'hi')
        err = self.assert_error(resp, 503, 'execution failed')
        self.assertIn('boom: something broke', err['message'])
        self.assert_no_children()


class ConversationalTest(ConversationalTestCase):

    @smoke
    def test_three_turns_survive_restart(self):
        resp = self.turn(SID, 'first')
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual(resp.headers['Content-Type'], 'application/json')
        self.assertEqual(resp.json(), {'session_id': SID, 'reply': 'Echo: first'})
        resp = self.turn(SID, 'second', model='haiku')
        self.assertEqual(resp.json(), {'session_id': SID, 'reply': 'Echo: second'})

        self.stop_daemon()
        self.start()
        resp = self.turn(SID, 'third')
        self.assertEqual(resp.json(), {'session_id': SID, 'reply': 'Echo: third'})

        runs = self.fake_runs()
        self.assertEqual(len(runs), 3)
        self.assertEqual(flag_value(runs[0]['argv'], '--session-id'), SID)
        self.assertIsNone(flag_value(runs[0]['argv'], '--resume'))
        for run in runs[1:]:
            self.assertEqual(flag_value(run['argv'], '--resume'), SID)
            self.assertIsNone(flag_value(run['argv'], '--session-id'))
        for run, message in zip(runs, ('first', 'second', 'third')):
            self.assertEqual(run['cwd'], self.pinned_cwd())
            # The prompt goes on stdin, never in argv.
            self.assertEqual(run['stdin'], message)
            self.assertNotIn(message, run['argv'])
            self.assertIn('--agent=conversational', run['argv'])
            self.assertIn('--setting-sources=user', run['argv'])
            self.assertIn('--exclude-dynamic-system-prompt-sections', run['argv'])
            self.assertNotIn('--dangerously-skip-permissions', run['argv'])
        self.assertEqual(flag_value(runs[0]['argv'], '--model'), 'sonnet')
        self.assertEqual(flag_value(runs[1]['argv'], '--model'), 'haiku')

        mode = stat.S_IMODE(os.stat(self.pinned_cwd()).st_mode)
        self.assertEqual(mode, 0o700)
        record_path = self.record_path(SID)
        self.assertEqual(stat.S_IMODE(os.stat(record_path).st_mode), 0o600)
        with open(record_path, encoding='utf-8') as f:
            record = json.load(f)
        self.assertEqual(record['session_id'], SID)
        self.assertEqual(record['started'], True)
        self.assertEqual(record['turns'], 3)
        self.assertTrue(os.path.exists(self.transcript(SID)))
        self.assert_no_children()

    def test_record_deleted_transcript_present_resumes(self):
        self.assertEqual(self.turn(SID, 'one').status, 200)
        self.stop_daemon()
        os.unlink(self.record_path(SID))
        self.start()
        resp = self.turn(SID, 'two')
        self.assertEqual(resp.json(), {'session_id': SID, 'reply': 'Echo: two'})
        runs = self.fake_runs()
        self.assertEqual(len(runs), 2)
        self.assertEqual(flag_value(runs[1]['argv'], '--resume'), SID)
        self.assertTrue(os.path.exists(self.record_path(SID)))
        self.assert_no_children()

    def test_transcript_deleted_record_present_recovers(self):
        self.assertEqual(self.turn(SID, 'one').status, 200)
        self.stop_daemon()
        os.unlink(self.transcript(SID))
        self.start()
        resp = self.turn(SID, 'two')
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual(resp.json(), {'session_id': SID, 'reply': 'Echo: two'})
        runs = self.fake_runs()
        self.assertEqual(len(runs), 3)
        # Resumed from the record, refused ("No conversation found"), then
        # opened afresh: the refusal never reached the client.
        self.assertEqual(flag_value(runs[1]['argv'], '--resume'), SID)
        self.assertEqual(flag_value(runs[2]['argv'], '--session-id'), SID)
        self.assertEqual(runs[2]['stdin'], 'two')
        self.assertEqual(runs[2]['cwd'], self.pinned_cwd())
        with open(self.record_path(SID), encoding='utf-8') as f:
            self.assertEqual(json.load(f)['turns'], 2)
        # And the conversation goes on from there.
        self.assertEqual(self.turn(SID, 'three').status, 200)
        self.assertEqual(flag_value(self.fake_runs()[-1]['argv'], '--resume'), SID)
        self.assert_no_children()

    def test_transcript_deleted_while_running_recovers(self):
        # The real CLI (2.1.332) refuses an unknown --resume on stdout too:
        # an error result before anything else. It must stay unseen.
        self.assertEqual(self.turn(SID, 'one').status, 200)
        os.unlink(self.transcript(SID))
        resp = self.turn(SID, 'two')
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual(resp.json(), {'session_id': SID, 'reply': 'Echo: two'})
        os.unlink(self.transcript(SID))
        conn, resp = self.open_stream(ROUTE, {'session_id': SID, 'message': 'three',
                                              'stream': True})
        self.assertEqual(resp.status, 200)
        chunks, done = self.read_stream(resp)
        conn.close()
        self.assertTrue(done)
        self.assertEqual(self.content_of(chunks), 'Echo: three')
        self.assertFalse([c for c in chunks if 'error' in c], chunks)
        runs = self.fake_runs()
        self.assertEqual([bool(flag_value(r['argv'], '--resume')) for r in runs],
                         [False, True, False, True, False])
        self.assertEqual(self.daemon_output().count(
            f'Conversation {SID} has no transcript any more: starting it afresh'), 2)
        self.assertEqual(self.turn(SID, 'four').status, 200)
        self.assert_no_children()

    def test_corrupt_record_is_ignored(self):
        self.assertEqual(self.turn(SID, 'one').status, 200)
        for garbage in (b'{"session_id": tru', b'\xff\xfe\x00', b'[]',
                        json.dumps({'session_id': SID2, 'started': True}).encode()):
            with open(self.record_path(SID), 'wb') as f:
                f.write(garbage)
            resp = self.turn(SID, 'again')
            self.assertEqual(resp.status, 200, resp.body)
            # The transcript still says the session exists.
            self.assertEqual(flag_value(self.fake_runs()[-1]['argv'], '--resume'), SID)
            with open(self.record_path(SID), encoding='utf-8') as f:
                record = json.load(f)
            self.assertEqual((record['session_id'], record['started']), (SID, True))
        self.assertIn('Ignoring the corrupt conversation record', self.daemon_output())
        self.assert_no_children()

    def write_record(self, sid, last_used, turns):
        os.makedirs(os.path.dirname(self.record_path(sid)), mode=0o700, exist_ok=True)
        with open(self.record_path(sid), 'w', encoding='utf-8') as f:
            json.dump({'session_id': sid, 'started': True, 'turns': turns,
                       'created_at': last_used, 'last_used': last_used,
                       'model': 'sonnet'}, f)

    def test_expired_records_go_at_start(self):
        self.assertEqual(self.turn(SID, 'one').status, 200)
        self.stop_daemon()
        # Past record-ttl-days (30) and young: only the old one goes.
        self.write_record(SID, '2020-01-02T00:00:00Z', 7)
        young = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(time.time() - 86400))
        self.write_record(SID2, young, 3)
        self.start()
        wait_for(lambda: not os.path.exists(self.record_path(SID)), 10,
                 'the expired record to go')
        self.assertTrue(os.path.exists(self.record_path(SID2)))

        # The expired conversation goes on: its transcript still resumes it.
        resp = self.turn(SID, 'two')
        self.assertEqual(resp.json(), {'session_id': SID, 'reply': 'Echo: two'})
        self.assertEqual(flag_value(self.fake_runs()[-1]['argv'], '--resume'), SID)
        with open(self.record_path(SID), encoding='utf-8') as f:
            self.assertEqual(json.load(f)['turns'], 1)
        # The young record was kept and read.
        self.assertEqual(self.turn(SID2, 'hi').status, 200)
        with open(self.record_path(SID2), encoding='utf-8') as f:
            self.assertEqual(json.load(f)['turns'], 4)
        self.assert_no_children()

    def test_id_spellings_are_one_conversation(self):
        # The CLI would take either spelling as another session: the daemon
        # keeps one, lower case, for the lane, the record and the transcript.
        upper = SID.upper()
        resp = self.turn(upper, 'hi')
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual(resp.json()['session_id'], SID)
        self.assertEqual(flag_value(self.fake_runs()[0]['argv'], '--session-id'), SID)
        self.assertTrue(os.path.exists(self.record_path(SID)))
        self.assertTrue(os.path.exists(self.transcript(SID)))
        self.assertEqual(self.turn(SID, 'again').status, 200)
        self.assertEqual(flag_value(self.fake_runs()[1]['argv'], '--resume'), SID)
        self.assertFalse(os.path.exists(self.record_path(upper)))
        self.assert_no_children()

    def test_long_message_goes_on_stdin(self):
        message = 'дълго ' * 40000  # about 440 KB: far past one argv string
        resp = self.turn(SID, message.strip())
        self.assertEqual(resp.status, 200, resp.body)
        run = self.fake_runs()[0]
        self.assertEqual(run['stdin_bytes'], len(message.strip().encode('utf-8')))
        self.assertLess(sum(len(a) for a in run['argv']), 100000)
        self.assert_no_children()

    def test_hostile_session_ids(self):
        before = set(os.listdir(self.tmp))
        hostile = ['../../x', '../../../../tmp/evil', '/etc/passwd', SID + '/../../x',
                   ' ' + SID, SID + '\n', '{' + SID + '}', SID.replace('-', ''),
                   'a' * 10240, SID + 'a' * 10240, '', '..', '.']
        for sid in hostile:
            with self.subTest(sid=sid[:40]):
                self.assert_error(self.turn(sid, 'hi'), 400, 'session_id')
                self.assert_error(self.turn(sid, 'hi', stream=True), 400, 'session_id')
        self.assertEqual(self.fake_runs(), [])
        self.assertEqual(set(os.listdir(self.tmp)), before)
        conversations = os.path.join(self.state_dir, 'conversations')
        self.assertEqual(os.listdir(conversations), [])
        self.assertFalse(os.path.exists(os.path.join(self.home, '.claude')))
        self.assert_no_children()

    def test_stream_bulgarian(self):
        self.set_scenario(reply=BULGARIAN, tokens=6)
        conn, resp = self.open_stream(ROUTE, {'session_id': SID, 'message': 'Как си?',
                                              'stream': True})
        self.addCleanup(conn.close)
        self.assertEqual(resp.status, 200)
        self.assertTrue(resp.headers['Content-Type'].startswith('text/event-stream'))
        chunks, done = self.read_stream(resp)
        self.assertTrue(done)
        self.assertEqual(chunks[0]['choices'][0]['delta'], {'role': 'assistant'})
        self.assertEqual(chunks[0]['object'], 'chat.completion.chunk')
        self.assertGreater(len(chunks), 3)
        self.assertEqual(self.content_of(chunks), BULGARIAN)
        finish = [c for c in chunks if c.get('choices') and
                  c['choices'][0].get('finish_reason')]
        self.assertEqual(len(finish), 1)
        self.assertEqual(finish[0]['choices'][0]['finish_reason'], 'stop')
        ids = {c['id'] for c in chunks}
        self.assertEqual(len(ids), 1)
        self.assertEqual(flag_value(self.fake_runs()[0]['argv'], '--session-id'), SID)
        # A streamed turn counts: the next one resumes.
        wait_for(lambda: os.path.exists(self.record_path(SID)), 5, 'the record')
        resp = self.turn(SID, 'И после?')
        self.assertEqual(resp.json(), {'session_id': SID, 'reply': BULGARIAN})
        self.assertEqual(flag_value(self.fake_runs()[1]['argv'], '--resume'), SID)
        self.assert_no_children()

    def test_disconnect_mid_stream_stops_child(self):
        self.set_scenario(reply='one two three four five six', tokens=6,
                          token_interval_ms=100000)
        conn, resp = self.open_stream(ROUTE, {'session_id': SID, 'message': 'hi',
                                              'stream': True})
        self.assertEqual(resp.status, 200)
        data = self.sse_data(resp)
        self.assertEqual(json.loads(next(data))['choices'][0]['delta'], {'role': 'assistant'})
        content = json.loads(next(data))
        self.assertTrue(content['choices'][0]['delta']['content'])
        pid = self.fake_runs()[0]['pid']
        self.assertTrue(pid_alive(pid))
        start = time.monotonic()
        close_stream(conn, resp)
        wait_for(lambda: not pid_alive(pid), 1.5, 'the CLI to stop after the disconnect')
        self.assertLess(time.monotonic() - start, 1.5 * TIMEOUT_MULTIPLIER)
        self.assert_no_children()
        # A turn the client abandoned is not a completed turn.
        self.assertFalse(os.path.exists(self.record_path(SID)))

    def test_same_conversation_turns_run_one_after_the_other(self):
        self.set_scenario(stamp=1, tokens=4, token_interval_ms=150)
        results = {}

        def stream(name, message, sid):
            conn, resp = self.open_stream(ROUTE, {'session_id': sid, 'message': message,
                                                  'stream': True})
            try:
                results[name] = (resp.status,) + self.read_stream(resp)
            finally:
                conn.close()

        # Two spellings of one id are one conversation.
        first = threading.Thread(target=stream, args=('a', 'first', SID.upper()))
        first.start()
        self.wait_for_run(1, 'the first turn to start')
        second = threading.Thread(target=stream, args=('b', 'second', SID))
        second.start()
        first.join(30 * TIMEOUT_MULTIPLIER)
        second.join(30 * TIMEOUT_MULTIPLIER)

        stamps = {}
        for name in ('a', 'b'):
            status, chunks, done = results[name]
            self.assertEqual(status, 200)
            self.assertTrue(done)
            stamps[name] = [int(t) for t in STAMP_RE.findall(self.content_of(chunks))]
            self.assertEqual(len(stamps[name]), 4)
        # Every delta of the second turn came after the first turn's last.
        self.assertGreater(min(stamps['b']), max(stamps['a']))
        runs = self.fake_runs()
        self.assertEqual([r['stdin'] for r in runs], ['first', 'second'])
        # The second decided after the first had made the session exist.
        self.assertEqual(flag_value(runs[0]['argv'], '--session-id'), SID)
        self.assertEqual(flag_value(runs[1]['argv'], '--resume'), SID)
        self.assert_no_children()

    def test_different_conversations_run_at_once(self):
        self.set_scenario(hang=1)
        streams = []
        for sid in (SID, SID2):
            conn, resp = self.open_stream(ROUTE, {'session_id': sid, 'message': 'hi',
                                                  'stream': True})
            self.addCleanup(conn.close)
            self.assertEqual(resp.status, 200)
            streams.append((conn, resp))
        runs = self.wait_for_run(2, 'both conversations to run')
        self.assertEqual({r['session_id'] for r in runs}, {SID, SID2})
        self.assertTrue(all(pid_alive(r['pid']) for r in runs))
        for conn, resp in streams:
            close_stream(conn, resp)
        self.assert_no_children()

    def test_waiting_turn_whose_client_leaves_is_dropped(self):
        self.stop_daemon()
        self.start(env={'G_MESSAGES_DEBUG': 'cas-conversation'})
        self.set_scenario(hang=1)
        conn_a, resp_a = self.open_stream(ROUTE, {'session_id': SID, 'message': 'first',
                                                  'stream': True})
        self.assertEqual(resp_a.status, 200)
        self.wait_for_run(1, 'the first turn to start')

        # The second turn waits behind the first; its client gives up.
        sock = socket.create_connection(('127.0.0.1', self.port))
        body = json.dumps({'session_id': SID, 'message': 'abandoned'}).encode()
        sock.sendall(b'POST ' + ROUTE.encode() + b' HTTP/1.1\r\nHost: x\r\n'
                     b'Authorization: Bearer test-token-0123456789abcdef\r\n'
                     b'Content-Type: application/json\r\n'
                     b'Content-Length: ' + str(len(body)).encode() + b'\r\n\r\n' + body)
        wait_for(lambda: 'waits for its conversation' in self.daemon_output(), 10,
                 'the second turn to queue')
        sock.close()
        wait_for(lambda: 'left the queue' in self.daemon_output(), 10,
                 'the abandoned turn to leave the queue')

        # A third turn queues behind the first; end the first.
        self.set_scenario()
        results = {}
        third = threading.Thread(target=lambda: results.update(c=self.turn(SID, 'third')))
        third.start()
        wait_for(lambda: self.daemon_output().count('waits for its conversation') >= 2, 10,
                 'the third turn to queue')
        close_stream(conn_a, resp_a)
        third.join(30 * TIMEOUT_MULTIPLIER)
        self.assertEqual(results['c'].status, 200, results['c'].body)
        self.assertEqual(results['c'].json()['reply'], 'Echo: third')
        self.assertEqual([r['stdin'] for r in self.fake_runs()], ['first', 'third'])
        self.assert_no_children()

    def test_daemon_stops_cleanly_mid_conversation(self):
        # One turn streaming, one running plain, one queued behind it.
        self.stop_daemon()
        self.start(env={'G_MESSAGES_DEBUG': 'cas-conversation'})
        self.set_scenario(hang=1)
        conn, resp = self.open_stream(ROUTE, {'session_id': SID, 'message': 'a',
                                              'stream': True})
        self.addCleanup(conn.close)
        self.assertEqual(resp.status, 200)
        self.wait_for_run(1)
        results = []

        def plain(message):
            try:
                results.append(self.turn(SID2, message).status)
            except OSError:
                results.append('closed')

        threads = [threading.Thread(target=plain, args=(m,)) for m in ('b', 'c')]
        threads[0].start()
        self.wait_for_run(2, 'the plain turn to start')
        threads[1].start()
        wait_for(lambda: 'waits for its conversation' in self.daemon_output(), 10,
                 'the third turn to queue')
        status, elapsed = self.stop_daemon()
        self.assertEqual(status, 0)
        for t in threads:
            t.join(10 * TIMEOUT_MULTIPLIER)
        self.assertEqual(len(results), 2)
        self.assertEqual(len(self.fake_runs()), 2)
        for run in self.fake_runs():
            wait_for(lambda: not pid_alive(run['pid']), 5, 'the CLI to go with the daemon')

    def test_already_in_use_recovers(self):
        # Past 200 characters the real CLI names a cwd's project directory
        # "<first 200>-<its own hash>", which the daemon finds by prefix;
        # the fake does not shorten it at all. With such a cwd and the
        # record gone, the daemon cannot see the transcript, opens with
        # --session-id, and the CLI's "already in use" must send it to
        # --resume without the client noticing.
        suffix = '/claude-agent-service/conversational'
        base = os.path.realpath(self.tmp)
        state_home = os.path.join(base, 's' * (240 - len(base) - 1 - len(suffix)))
        self.stop_daemon()
        self.state_dir = os.path.join(state_home, 'claude-agent-service')
        self.start(env={'XDG_STATE_HOME': state_home})
        cwd = self.pinned_cwd()
        self.assertEqual(len(cwd), 240)
        self.assertTrue(sanitize(cwd)[200].isalnum())

        self.assertEqual(self.turn(SID, 'one').status, 200)
        self.assertTrue(os.path.exists(self.transcript(SID)))
        os.unlink(self.record_path(SID))
        resp = self.turn(SID, 'two')
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual(resp.json(), {'session_id': SID, 'reply': 'Echo: two'})
        argv = [r['argv'] for r in self.fake_runs()]
        self.assertEqual(len(argv), 3)
        self.assertEqual(flag_value(argv[1], '--session-id'), SID)
        self.assertEqual(flag_value(argv[2], '--resume'), SID)
        self.assertEqual(self.fake_runs()[2]['stdin'], 'two')
        self.assert_no_children()
