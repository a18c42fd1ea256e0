"""The OpenAI-compatible gateway (SPEC 3, 3.1): GET /v1/models and
POST /v1/chat/completions, against the built daemon and the fake claude.

The voice path is the streaming one: every chunk must reach the client
the moment the CLI writes its line, errors must never look like an empty
reply, and a client that hangs up must stop the CLI at once."""
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time

from cas_harness import (DaemonTestCase, TIMEOUT_MULTIPLIER, TOKEN, close_stream,
                         pid_alive, smoke, wait_for)

ROUTE = '/v1/chat/completions'
BULGARIAN = 'Здравей! Днес е хубав ден, нали? Hello, world.'
DEFAULT_MODELS = ['haiku', 'sonnet', 'opus', 'claude-haiku-4-5',
                  'claude-sonnet-4-6', 'claude-opus-4-7']
ID_RE = re.compile(r'^chatcmpl-[0-9a-f]{24}$')
HERE = os.path.dirname(os.path.abspath(__file__))
# How long a client that hung up may keep its CLI alive.
GONE_WITHIN = 1.5


def user(text):
    return {'messages': [{'role': 'user', 'content': text}]}


def streaming(body, usage=False):
    body = dict(body, stream=True)
    if usage:
        body['stream_options'] = {'include_usage': True}
    return body


def parse_sse(raw):
    """Splits a whole SSE body into ('data', payload) / ('comment', text)."""
    events = []
    for frame in raw.split(b'\n\n'):
        for line in frame.split(b'\n'):
            if line.startswith(b'data: '):
                payload = line[len(b'data: '):].decode('utf-8')
                events.append(('data', payload if payload == '[DONE]' else json.loads(payload)))
            elif line.startswith(b':'):
                events.append(('comment', line[1:].decode('utf-8').strip()))
            elif line:
                raise AssertionError(f'unexpected SSE line {line!r}')
    return events



class ChatTestCase(DaemonTestCase):

    def chat(self, body, **kwargs):
        return self.request('POST', ROUTE, body, **kwargs)

    def stream_all(self, body, headers=None):
        """Runs one streamed request to its end: (response, events, raw)."""
        conn, resp = self.open_stream(ROUTE, body, headers=headers)
        try:
            raw = resp.read()
        finally:
            conn.close()
        return resp, parse_sse(raw), raw

    @staticmethod
    def data(events):
        return [payload for kind, payload in events if kind == 'data']

    def assert_chunk_stream(self, events, model='sonnet', usage=False):
        """Checks the order and shape of a successful stream and returns
        the reassembled content."""
        data = self.data(events)
        self.assertEqual(data[-1], '[DONE]')
        chunks = data[:-1]
        for chunk in chunks:
            self.assertNotIn('error', chunk)
            self.assertEqual(chunk['object'], 'chat.completion.chunk')
            self.assertEqual(chunk['model'], model)
            self.assertEqual(chunk['id'], chunks[0]['id'])
            self.assertEqual(chunk['created'], chunks[0]['created'])
        self.assertRegex(chunks[0]['id'], ID_RE)
        self.assertIsInstance(chunks[0]['created'], int)
        self.assertEqual(chunks[0]['choices'],
                         [{'index': 0, 'delta': {'role': 'assistant'}, 'finish_reason': None}])
        if usage:
            usage_chunk = chunks.pop()
            self.assertEqual(usage_chunk['choices'], [])
            u = usage_chunk['usage']
            self.assertEqual(u['total_tokens'], u['prompt_tokens'] + u['completion_tokens'])
        finish = chunks.pop()
        self.assertEqual(finish['choices'], [{'index': 0, 'delta': {}, 'finish_reason': 'stop'}])
        content = ''
        for chunk in chunks[1:]:
            self.assertNotIn('usage', chunk)
            (choice,) = chunk['choices']
            self.assertIsNone(choice['finish_reason'])
            self.assertEqual(list(choice['delta']), ['content'])
            content += choice['delta']['content']
        return content

    def assert_error_stream(self, events, words):
        """A stream that started and then failed: an error chunk, then
        [DONE], never a silent stop. Returns the content sent before."""
        data = self.data(events)
        self.assertEqual(data[-1], '[DONE]')
        error = data[-2]['error']
        self.assertIn('execution failed', error['message'])
        self.assertIn(words, error['message'])
        self.assertEqual(error['type'], 'server_error')
        self.assertIsNone(error['param'])
        self.assertIsInstance(error['code'], str)
        self.assertEqual(data[0]['choices'][0]['delta'], {'role': 'assistant'})
        for chunk in data[1:-2]:
            self.assertIsNone(chunk['choices'][0]['finish_reason'])
        return ''.join(c['choices'][0]['delta'].get('content', '') for c in data[1:-2])

    def assert_openai_error(self, resp, status, words, type_=None):
        self.assertEqual(resp.status, status, resp.body)
        self.assertEqual(resp.headers['Content-Type'], 'application/json')
        error = resp.json()['error']
        self.assertEqual(set(error), {'message', 'type', 'param', 'code'})
        self.assertIn(words, error['message'])
        if type_ is not None:
            self.assertEqual(error['type'], type_)
        return error

    def fake_pid_when_running(self):
        run = wait_for(lambda: self.fake_runs() and self.fake_runs()[-1], 10, 'the fake to start')
        return run['pid']

    def queue_and_leave(self, body):
        """Sends @body while every slot is taken, and hangs up once it is
        queued: it must leave the queue at once."""
        conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=30)
        conn.request('POST', ROUTE, body=json.dumps(body),
                     headers={'Authorization': f'Bearer {TOKEN}',
                              'Content-Type': 'application/json'})
        wait_for(lambda: self.request('GET', '/health').json()['queued'] == 1, 5,
                 'a queued request')
        conn.sock.shutdown(socket.SHUT_RDWR)
        conn.close()
        wait_for(lambda: self.request('GET', '/health').json()['queued'] == 0, 5,
                 'the queue to let it go')

    def assert_gone_quickly(self, pid, since):
        wait_for(lambda: not pid_alive(pid), 10, f'fake {pid} to go')
        elapsed = time.monotonic() - since
        self.assertLess(elapsed, GONE_WITHIN * max(1.0, TIMEOUT_MULTIPLIER / 5),
                        f'the CLI outlived its client by {elapsed:.2f} s')
        self.assert_no_children()


class ModelsTest(ChatTestCase):

    @smoke
    def test_models_list(self):
        resp = self.request('GET', '/v1/models')
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.headers['Content-Type'], 'application/json')
        body = resp.json()
        self.assertEqual(body['object'], 'list')
        self.assertEqual([m['id'] for m in body['data']], DEFAULT_MODELS)
        for model in body['data']:
            self.assertEqual(model['object'], 'model')
            self.assertEqual(model['owned_by'], 'anthropic')
            self.assertIsInstance(model['created'], int)
        # Stable: the list does not change between calls.
        self.assertEqual(self.request('GET', '/v1/models').body, resp.body)

    def test_models_from_config(self):
        self.stop_daemon()
        self.start(config={'claude': {'models': 'haiku;opus', 'default-model': 'opus'}})
        body = self.request('GET', '/v1/models').json()
        self.assertEqual([m['id'] for m in body['data']], ['haiku', 'opus'])

    def test_models_needs_auth(self):
        resp = self.request('GET', '/v1/models', token='wrong')
        self.assert_openai_error(resp, 401, 'invalid', 'authentication_error')

    def test_models_wrong_method(self):
        resp = self.request('POST', '/v1/models', {})
        self.assertEqual(resp.status, 405)


class StreamTest(ChatTestCase):

    @smoke
    def test_stream_relays_reply(self):
        self.set_scenario(reply=BULGARIAN, tokens=9)
        resp, events, raw = self.stream_all(streaming(user('Кажи здравей')))
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.headers['Content-Type'], 'text/event-stream')
        self.assertEqual(resp.headers['Cache-Control'], 'no-cache')
        # Close-delimited: the stream ends with the connection.
        self.assertEqual(resp.headers['Connection'], 'close')
        content = self.assert_chunk_stream(events)
        self.assertEqual(content, BULGARIAN)
        # One chunk per delta the CLI wrote (about 9), not one lump.
        self.assertGreaterEqual(len(self.data(events)), 1 + 5 + 2)
        self.assert_no_children()

    def test_bulgarian_is_raw_on_the_wire(self):
        self.set_scenario(reply=BULGARIAN, tokens=1)
        _, events, raw = self.stream_all(streaming(user('здрасти')))
        self.assertIn(BULGARIAN.encode('utf-8'), raw)
        self.assertNotIn(b'\\u04', raw)
        self.assertEqual(self.assert_chunk_stream(events), BULGARIAN)

    def test_usage_chunk_when_asked(self):
        self.set_scenario(reply='Four score and seven', tokens=3)
        _, events, _ = self.stream_all(streaming(user('Count'), usage=True))
        self.assertEqual(self.assert_chunk_stream(events, usage=True), 'Four score and seven')
        usage = self.data(events)[-2]['usage']
        run = self.fake_runs()[-1]
        # The fake counts tokens as bytes/4 (tests/fakes/README.md).
        self.assertEqual(usage['prompt_tokens'], max(1, run['stdin_bytes'] // 4))
        self.assertEqual(usage['completion_tokens'], (len('Four score and seven') + 3) // 4)

    def test_no_usage_chunk_unless_asked(self):
        for options in (None, {'include_usage': False}, {}):
            body = streaming(user('hi'))
            if options is not None:
                body['stream_options'] = options
            _, events, _ = self.stream_all(body)
            for payload in self.data(events)[:-1]:
                self.assertNotIn('usage', payload)
                self.assertEqual(len(payload['choices']), 1)

    def test_accept_json_still_streams(self):
        resp, events, _ = self.stream_all(streaming(user('hi')),
                                          headers={'Accept': 'application/json'})
        self.assertEqual(resp.headers['Content-Type'], 'text/event-stream')
        self.assertEqual(self.assert_chunk_stream(events), 'Echo: User: hi')

    def test_model_echoed_and_passed(self):
        body = streaming(user('hi'))
        body['model'] = 'claude-opus-4-7'
        _, events, _ = self.stream_all(body)
        self.assert_chunk_stream(events, model='claude-opus-4-7')
        self.assertIn('--model=claude-opus-4-7', self.fake_runs()[-1]['argv'])

    def test_conversational_stateless_argv(self):
        self.stream_all(streaming(user('hi')))
        run = self.fake_runs()[-1]
        argv = run['argv']
        for flag in ('-p', '--output-format=stream-json', '--verbose',
                     '--include-partial-messages', '--setting-sources=user',
                     '--exclude-dynamic-system-prompt-sections', '--agent=conversational',
                     '--model=sonnet', '--no-session-persistence'):
            self.assertIn(flag, argv)
        self.assertTrue(any(a.startswith('--agents={"conversational"') for a in argv))
        self.assertNotIn('--dangerously-skip-permissions', argv)
        self.assertFalse(any(a.startswith(('--session-id', '--resume')) for a in argv))
        # The prompt is on stdin, never in argv.
        self.assertFalse(any('User: hi' in a for a in argv))
        self.assertEqual(run['stdin'], 'User: hi')
        # Stateless: no transcript left in ~/.claude.
        projects = os.path.join(self.home, '.claude', 'projects')
        leftovers = [f for _, _, files in os.walk(projects) for f in files if f.endswith('.jsonl')]
        self.assertEqual(leftovers, [])

    def test_control_characters_in_reply(self):
        reply = 'tab\there \x01\x1f "quoted" back\\slash \u2028 end'
        self.set_scenario(reply=reply, tokens=4)
        _, events, raw = self.stream_all(streaming(user('hi')))
        self.assertEqual(self.assert_chunk_stream(events), reply)
        self.assertNotIn(b'\x1f', raw)
        self.assertNotIn(b'\x01', raw)

    def test_many_small_deltas(self):
        reply = 'один два три четири пет шест седем осем девет десет ' * 8
        self.set_scenario(reply=reply.strip(), tokens=200)
        _, events, _ = self.stream_all(streaming(user('count')))
        self.assertEqual(self.assert_chunk_stream(events), reply.strip())

    def test_garbage_lines_do_not_break_the_stream(self):
        self.set_scenario(reply='Still here', garbage=1)
        _, events, _ = self.stream_all(streaming(user('hi')))
        self.assertEqual(self.assert_chunk_stream(events), 'Still here')
        self.assert_no_children()

    def test_huge_line_within_limit(self):
        self.set_scenario(reply='After a big line', huge_line_bytes=2 * 1024 * 1024)
        _, events, _ = self.stream_all(streaming(user('hi')))
        self.assertEqual(self.assert_chunk_stream(events), 'After a big line')

    def test_huge_line_over_limit_is_skipped(self):
        self.stop_daemon()
        self.start(config={'claude': {'max-line-bytes': '65536'}})
        self.set_scenario(reply='After a skipped line', huge_line_bytes=300000)
        _, events, _ = self.stream_all(streaming(user('hi')))
        self.assertEqual(self.assert_chunk_stream(events), 'After a skipped line')
        self.assert_no_children()

    def test_slot_released_after_stream(self):
        self.stream_all(streaming(user('hi')))
        wait_for(lambda: self.request('GET', '/health').json()['active'] == 0, 5,
                 'the slot to be released')


class PromptTest(ChatTestCase):

    def test_roles_parts_and_tools_flattened_in_order(self):
        body = {
            'model': 'haiku',
            'stream': True,
            'stream_options': {'include_usage': True},
            'temperature': 0.3, 'max_tokens': 100, 'max_completion_tokens': 100,
            'parallel_tool_calls': False, 'response_format': {'type': 'text'},
            'user': 'caller-1', 'tool_choice': 'auto', 'some_new_field': [1, {'a': None}],
            'tools': [{'type': 'function', 'function': {
                'name': 'get_weather', 'parameters': {'type': 'object'}}}],
            'messages': [
                {'role': 'system', 'content': 'You are a voice assistant.'},
                {'role': 'developer', 'content': [{'type': 'text', 'text': 'Answer in Bulgarian.'}]},
                {'role': 'user', 'name': 'ivan', 'content': [
                    {'type': 'text', 'text': 'Какво е времето'},
                    {'type': 'image_url', 'image_url': {'url': 'data:image/png;base64,AAAA'}},
                    {'type': 'text', 'text': 'в София?'}]},
                {'role': 'assistant', 'content': None, 'tool_calls': [
                    {'id': 'call_1', 'type': 'function',
                     'function': {'name': 'get_weather', 'arguments': '{"city":"Sofia"}'}}]},
                {'role': 'tool', 'tool_call_id': 'call_1', 'content': '22 градуса'},
                {'role': 'assistant', 'content': 'Двадесет и два градуса.'},
                {'role': 'user', 'content': 'А утре?'},
            ],
        }
        _, events, _ = self.stream_all(body)
        self.assert_chunk_stream(events, model='haiku', usage=True)
        self.assertEqual(self.fake_runs()[-1]['stdin'],
                         'You are a voice assistant.\n\nAnswer in Bulgarian.\n\n'
                         'User: Какво е времето\nв София?\n'
                         'Assistant called tool get_weather with arguments: {"city":"Sofia"}\n'
                         'Tool: 22 градуса\n'
                         'Assistant: Двадесет и два градуса.\n'
                         'User: А утре?')

    def test_ends_on_tool_result(self):
        body = streaming({'messages': [
            {'role': 'user', 'content': 'time?'},
            {'role': 'assistant', 'content': 'Checking.', 'tool_calls': [
                {'id': 'c', 'type': 'function', 'function': {'name': 'now', 'arguments': '{}'}}]},
            {'role': 'tool', 'tool_call_id': 'c', 'content': [{'type': 'text', 'text': 'noon'}]},
        ]})
        _, events, _ = self.stream_all(body)
        self.assert_chunk_stream(events)
        self.assertEqual(self.fake_runs()[-1]['stdin'],
                         'User: time?\nAssistant: Checking.\n'
                         'Assistant called tool now with arguments: {}\nTool: noon')

    def test_megabyte_history_reaches_stdin(self):
        messages = []
        expected = []
        for i in range(1100):
            text = f'{i:05d} ' + ('абвгд' if i % 2 else 'abcde') * 190
            role = 'assistant' if i % 2 else 'user'
            messages.append({'role': role, 'content': text})
            expected.append(('Assistant: ' if i % 2 else 'User: ') + text)
        prompt = '\n'.join(expected)
        self.assertGreater(len(prompt.encode('utf-8')), 1024 * 1024)
        _, events, _ = self.stream_all(streaming({'messages': messages}))
        self.assert_chunk_stream(events)
        run = self.fake_runs()[-1]
        self.assertEqual(run['stdin_bytes'], len(prompt.encode('utf-8')))
        self.assertEqual(run['stdin'], prompt)
        self.assertLess(max(len(a) for a in run['argv']), 128 * 1024)

    def test_non_streaming_uses_the_same_prompt(self):
        resp = self.chat({'messages': [
            {'role': 'system', 'content': 'Be brief.'},
            {'role': 'user', 'content': 'Hi'},
            {'role': 'assistant', 'content': 'Hello'},
            {'role': 'user', 'content': 'Bye'}]})
        self.assertEqual(resp.status, 200)
        self.assertEqual(self.fake_runs()[-1]['stdin'],
                         'Be brief.\n\nUser: Hi\nAssistant: Hello\nUser: Bye')


class NonStreamTest(ChatTestCase):

    def test_completion(self):
        self.set_scenario(reply=BULGARIAN, tokens=6)
        for stream in (False, None):
            body = user('Кажи здравей')
            if stream is not None:
                body['stream'] = stream
            resp = self.chat(body)
            self.assertEqual(resp.status, 200)
            self.assertEqual(resp.headers['Content-Type'], 'application/json')
            self.assertIn(BULGARIAN.encode('utf-8'), resp.body)
            body = resp.json()
            self.assertRegex(body['id'], ID_RE)
            self.assertEqual(body['object'], 'chat.completion')
            self.assertIsInstance(body['created'], int)
            self.assertEqual(body['model'], 'sonnet')
            (choice,) = body['choices']
            self.assertEqual(choice['index'], 0)
            self.assertEqual(choice['finish_reason'], 'stop')
            self.assertEqual(choice['message'], {'role': 'assistant', 'content': BULGARIAN})
            usage = body['usage']
            run = self.fake_runs()[-1]
            self.assertEqual(usage['prompt_tokens'], max(1, run['stdin_bytes'] // 4))
            self.assertEqual(usage['completion_tokens'], (len(BULGARIAN.encode('utf-8')) + 3) // 4)
            self.assertEqual(usage['total_tokens'], usage['prompt_tokens'] + usage['completion_tokens'])
            self.assertIn('--agent=conversational', run['argv'])
            self.assertIn('--no-session-persistence', run['argv'])
        self.assert_no_children()

    def test_not_logged_in(self):
        self.set_scenario(not_logged_in=1)
        resp = self.chat(user('hi'))
        error = self.assert_openai_error(resp, 503, 'execution failed: Not logged in', 'server_error')
        self.assertEqual(error['code'], 'not_logged_in')
        self.assert_no_children()

    def test_timeout(self):
        self.stop_daemon()
        self.start(config={'conversational': {'timeout-seconds': '1'}})
        self.set_scenario(hang=1)
        resp = self.chat(user('hi'))
        self.assert_openai_error(resp, 503, 'execution failed: agent timed out after 1 s')
        self.assert_no_children()

    def test_error_exit(self):
        self.set_scenario(exit_code=3)
        resp = self.chat(user('hi'))
        self.assert_openai_error(resp, 503, 'execution failed: API Error: fake failure')
        self.assert_no_children()

    def test_exit_before_output(self):
        self.set_scenario(exit_before_output=2, stderr='fatal: cannot start')
        resp = self.chat(user('hi'))
        self.assert_openai_error(resp, 503, 'execution failed: exit 2: fatal: cannot start')
        self.assert_no_children()

    def test_cli_missing(self):
        self.stop_daemon()
        self.start(config={'claude': {'command': 'claude-is-not-installed'}})
        resp = self.chat(user('hi'))
        self.assert_openai_error(resp, 503, 'execution failed: claude CLI not found')
        self.assert_no_children()


class StreamFailureTest(ChatTestCase):

    def test_not_logged_in_mid_stream(self):
        self.set_scenario(not_logged_in=1)
        resp, events, _ = self.stream_all(streaming(user('hi'), usage=True))
        self.assertEqual(resp.status, 200)
        self.assert_error_stream(events, 'Not logged in')
        self.assertEqual(self.data(events)[-2]['error']['code'], 'not_logged_in')
        self.assert_no_children()

    def test_error_result_after_reply(self):
        self.set_scenario(reply='Partial answer', exit_code=3)
        _, events, _ = self.stream_all(streaming(user('hi')))
        content = self.assert_error_stream(events, 'API Error: fake failure')
        self.assertEqual(content, 'Partial answer')
        self.assert_no_children()

    def test_error_result_without_text(self):
        self.set_scenario(error_result='max_turns')
        _, events, _ = self.stream_all(streaming(user('hi')))
        self.assert_error_stream(events, 'Reached maximum number of turns')
        self.assert_no_children()

    def test_timeout_after_start(self):
        self.stop_daemon()
        self.start(config={'conversational': {'timeout-seconds': '1'}})
        self.set_scenario(hang=1)
        resp, events, _ = self.stream_all(streaming(user('hi')))
        self.assertEqual(resp.status, 200)
        self.assert_error_stream(events, 'agent timed out after 1 s')
        self.assertEqual(self.data(events)[-2]['error']['code'], 'timeout')
        self.assert_no_children()

    def test_cli_missing_is_503_json(self):
        self.stop_daemon()
        self.start(config={'claude': {'command': '/nonexistent/claude'}})
        conn, resp = self.open_stream(ROUTE, streaming(user('hi')))
        body = resp.read()
        conn.close()
        self.assertEqual(resp.status, 503)
        self.assertEqual(resp.headers['Content-Type'], 'application/json')
        error = json.loads(body)['error']
        self.assertIn('execution failed: claude CLI not found '
                      '(install @anthropic-ai/claude-code and log in)', error['message'])
        self.assertEqual(error['type'], 'server_error')
        self.assert_no_children()

    def test_exit_before_output_is_503_json(self):
        self.set_scenario(exit_before_output=7, stderr='Error: something broke')
        conn, resp = self.open_stream(ROUTE, streaming(user('hi')))
        body = resp.read()
        conn.close()
        self.assertEqual(resp.status, 503)
        self.assertEqual(resp.headers['Content-Type'], 'application/json')
        error = json.loads(body)['error']
        self.assertEqual(error['message'], 'execution failed: exit 7: Error: something broke')
        self.assert_no_children()

    def test_refused_agent_is_503_json(self):
        # The CLI's own validation error (stderr, exit 1, no stdout).
        self.stop_daemon()
        self.start(config={'conversational': {'agent': 'nosuchagent'}})
        conn, resp = self.open_stream(ROUTE, streaming(user('hi')))
        body = resp.read()
        conn.close()
        self.assertEqual(resp.status, 503)
        self.assertIn("execution failed: exit 1: --agent 'nosuchagent' not found",
                      json.loads(body)['error']['message'])
        self.assert_no_children()


class DisconnectTest(ChatTestCase):

    def test_disconnect_mid_stream_stops_cli(self):
        self.set_scenario(reply='word ' * 100, tokens=100, token_interval_ms=200)
        conn, resp = self.open_stream(ROUTE, streaming(user('talk')))
        lines = self.sse_data(resp)
        next(lines)  # role
        first = json.loads(next(lines))
        self.assertIn('content', first['choices'][0]['delta'])
        pid = self.fake_pid_when_running()
        self.assertTrue(pid_alive(pid))
        since = time.monotonic()
        close_stream(conn, resp)
        self.assert_gone_quickly(pid, since)
        wait_for(lambda: self.request('GET', '/health').json()['active'] == 0, 5,
                 'the slot to be released')

    def test_disconnect_while_cli_is_silent(self):
        self.set_scenario(hang=1)
        conn, resp = self.open_stream(ROUTE, streaming(user('hi')))
        lines = self.sse_data(resp)
        self.assertEqual(json.loads(next(lines))['choices'][0]['delta'], {'role': 'assistant'})
        pid = self.fake_pid_when_running()
        since = time.monotonic()
        close_stream(conn, resp)
        self.assert_gone_quickly(pid, since)

    def test_disconnect_after_a_silent_while(self):
        self.set_scenario(hang=1)
        conn, resp = self.open_stream(ROUTE, streaming(user('hi')))
        lines = self.sse_lines(resp)
        # Wait through a ping or two, then go.
        pings = 0
        for line in lines:
            if line == ': ping':
                pings += 1
                if pings == 2:
                    break
        pid = self.fake_pid_when_running()
        since = time.monotonic()
        close_stream(conn, resp)
        self.assert_gone_quickly(pid, since)

    def test_ping_while_silent(self):
        self.set_scenario(hang=1)
        conn, resp = self.open_stream(ROUTE, streaming(user('hi')))
        started = time.monotonic()
        seen = []
        for line in self.sse_lines(resp):
            seen.append(line)
            if line == ': ping':
                break
        elapsed = time.monotonic() - started
        close_stream(conn, resp)
        self.assertIn(': ping', seen)
        # About once a second: the first one well before 2 s.
        self.assertLess(elapsed, 2.0 * TIMEOUT_MULTIPLIER)
        self.assert_no_children()

    def test_no_ping_while_deltas_flow(self):
        self.set_scenario(reply='x' * 60, tokens=30, token_interval_ms=100)
        _, events, _ = self.stream_all(streaming(user('hi')))
        self.assertEqual([e for e in events if e[0] == 'comment'], [])

    def test_client_that_stops_reading_is_dropped(self):
        # A client that stops reading must not make the daemon hold the whole
        # reply: past its backlog it is dropped, its CLI stopped and its slot
        # freed. It then finds a stream cut short, without [DONE].
        reply = ('слово ' * 100000)[:500000]
        self.set_scenario(reply=reply * 12, tokens=120, token_interval_ms=20)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(('127.0.0.1', self.port))
        body = json.dumps(streaming(user('talk a lot'))).encode()
        sock.sendall(b'POST ' + ROUTE.encode() + b' HTTP/1.1\r\nHost: x\r\n'
                     b'Authorization: Bearer ' + TOKEN.encode() + b'\r\n'
                     b'Content-Type: application/json\r\n'
                     b'Content-Length: ' + str(len(body)).encode() + b'\r\n\r\n' + body)
        try:
            pid = self.fake_pid_when_running()
            wait_for(lambda: not pid_alive(pid), 60, 'the CLI to stop or finish')
            wait_for(lambda: self.request('GET', '/health').json()['active'] == 0, 10,
                     'the slot to be released')
            sock.settimeout(30 * TIMEOUT_MULTIPLIER)
            received = bytearray()
            while True:
                data = sock.recv(1 << 20)
                if not data:
                    break
                received += data
        finally:
            sock.close()
        self.assertIn(b'text/event-stream', bytes(received[:2000]))
        self.assertNotIn(b'[DONE]', bytes(received))
        # The reply is about 12 MB as JSON: far from all of it arrived.
        self.assertLess(len(received), 8 << 20)
        self.assert_no_children()

    def test_disconnect_non_streaming(self):
        # libsoup sees nothing until it writes; the daemon watches the
        # socket itself. The run's timeout is far beyond the wait below, so
        # only that watch can stop the CLI in time.
        self.stop_daemon()
        self.start(config={'conversational': {'timeout-seconds': '120'}})
        self.set_scenario(hang=1)
        conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=30)
        conn.request('POST', ROUTE, body=json.dumps(user('hi')),
                     headers={'Authorization': f'Bearer {TOKEN}',
                              'Content-Type': 'application/json'})
        pid = self.fake_pid_when_running()
        conn.sock.shutdown(socket.SHUT_RDWR)
        conn.close()
        wait_for(lambda: not pid_alive(pid), 5, 'the CLI to stop')
        self.assert_no_children()
        self.assertEqual(self.request('GET', '/health').status, 200)


class AdmissionTest(ChatTestCase):
    config = {'claude': {'max-concurrency': '1', 'max-queue-depth': '1'}}

    def test_queue_full(self):
        self.set_scenario(hang=1)
        conn, resp = self.open_stream(ROUTE, streaming(user('first')))
        lines = self.sse_data(resp)
        next(lines)
        for body in (user('second'), streaming(user('second'))):
            refused = self.chat(body)
            error = self.assert_openai_error(refused, 503, 'queue full', 'server_error')
            self.assertEqual(error['message'], 'queue full')
            self.assertEqual(error['code'], 'queue_full')
        self.assertEqual(len(self.fake_runs()), 1)
        close_stream(conn, resp)
        self.assert_no_children()

    def test_health_while_streaming(self):
        self.set_scenario(hang=1)
        conn, resp = self.open_stream(ROUTE, streaming(user('hi')))
        next(self.sse_data(resp))
        health = self.request('GET', '/health', token=None).json()
        self.assertEqual(health['active'], 1)
        self.assertEqual(health['capacity'], 1)
        self.assertTrue(health['busy'])
        close_stream(conn, resp)
        self.assert_no_children()
        wait_for(lambda: self.request('GET', '/health').json()['active'] == 0, 5,
                 'the slot to be released')
        self.assertFalse(self.request('GET', '/health').json()['busy'])


class QueueWaitTest(ChatTestCase):
    config = {'claude': {'max-concurrency': '1', 'max-queue-depth': '5'}}

    def test_second_request_waits_for_a_slot(self):
        self.set_scenario(reply='first', tokens=2, token_interval_ms=300)
        first_conn, first = self.open_stream(ROUTE, streaming(user('a')))
        wait_for(lambda: len(self.fake_runs()) == 1, 10, 'the first run')
        # Sent, but its headers cannot come before a slot is free.
        second_conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=30)
        second_conn.request('POST', ROUTE, body=json.dumps(streaming(user('b'))),
                            headers={'Authorization': f'Bearer {TOKEN}',
                                     'Content-Type': 'application/json'})
        wait_for(lambda: self.request('GET', '/health').json()['queued'] == 1, 5, 'a queued request')
        self.assertEqual(len(self.fake_runs()), 1)
        self.assertEqual(self.assert_chunk_stream(parse_sse(first.read())), 'first')
        second = second_conn.getresponse()
        self.assertEqual(self.assert_chunk_stream(parse_sse(second.read())), 'first')
        first_conn.close()
        second_conn.close()
        self.assertEqual(len(self.fake_runs()), 2)
        self.assert_no_children()

    def test_queued_client_that_leaves_gives_up_its_place(self):
        self.set_scenario(hang=1)
        first_conn, first = self.open_stream(ROUTE, streaming(user('a')))
        next(self.sse_data(first))
        for body in (streaming(user('b')), user('c')):
            self.queue_and_leave(body)
        close_stream(first_conn, first)
        self.assert_no_children()
        self.assertEqual(len(self.fake_runs()), 1)

    def test_daemon_stops_cleanly_with_streams_open(self):
        self.set_scenario(hang=1)
        first_conn, first = self.open_stream(ROUTE, streaming(user('a')))
        next(self.sse_data(first))
        queued = []
        for body in (user('b'), streaming(user('c'))):
            conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=30)
            conn.request('POST', ROUTE, body=json.dumps(body),
                         headers={'Authorization': f'Bearer {TOKEN}',
                                  'Content-Type': 'application/json'})
            queued.append(conn)
        wait_for(lambda: self.request('GET', '/health').json()['queued'] == 2, 5, 'two queued')
        _, elapsed = self.stop_daemon()
        self.assertLess(elapsed, 5 * TIMEOUT_MULTIPLIER)
        # The open stream ends (or is cut); nobody is left hanging.
        try:
            first.read()
        except (http.client.IncompleteRead, ConnectionError):
            pass
        for conn in [first_conn] + queued:
            conn.close()


class ConnectionTest(ChatTestCase):

    def test_consecutive_requests_on_one_client(self):
        # A plain response keeps the connection; a stream closes it (it is
        # close-delimited), and http.client reconnects, as the SDKs do.
        self.set_scenario(reply='Same socket', tokens=3)
        conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=30)
        headers = {'Authorization': f'Bearer {TOKEN}', 'Content-Type': 'application/json',
                   'Accept': 'application/json'}
        socks = []
        try:
            for body in (streaming(user('one'), usage=True), user('two'),
                         streaming(user('three'))):
                conn.request('POST', ROUTE, body=json.dumps(body), headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
                self.assertEqual(resp.status, 200, raw)
                socks.append(conn.sock)
                self.assertEqual(resp.getheader('Connection'),
                                 'close' if body.get('stream') else None)
                if body.get('stream'):
                    self.assertEqual(self.assert_chunk_stream(
                        parse_sse(raw), usage=body.get('stream_options') is not None), 'Same socket')
                else:
                    self.assertEqual(json.loads(raw)['choices'][0]['message']['content'], 'Same socket')
            conn.request('GET', '/v1/models', headers=headers)
            self.assertEqual(conn.getresponse().read()[:9], b'{"object"')
        finally:
            conn.close()
        self.assertEqual(len(socks), 3)

    def test_concurrent_streams(self):
        self.set_scenario(reply='Параллельно', tokens=4, token_interval_ms=50)
        opened = [self.open_stream(ROUTE, streaming(user(str(i)))) for i in range(5)]
        for conn, resp in opened:
            self.assertEqual(self.assert_chunk_stream(parse_sse(resp.read())), 'Параллельно')
            conn.close()
        self.assert_no_children()


class BadRequestTest(ChatTestCase):

    def assert_bad(self, body, words, status=400, headers=None):
        resp = self.request('POST', ROUTE, body, headers=headers)
        error = self.assert_openai_error(resp, status, words)
        if status == 400:
            self.assertEqual(error['type'], 'invalid_request_error')
        return error

    def test_malformed_bodies(self):
        for raw, words in (
                (b'{', 'not valid JSON'),
                (b'', 'not valid JSON'),
                (b'   ', 'not valid JSON'),
                (b'{"messages": [}', 'not valid JSON'),
                (b"{'messages': []}", 'not valid JSON'),
                (b'{"messages":[{"role":"user","content":"x"}]} trailing', 'not valid JSON'),
                (b'\xff\xfe{}', 'invalid UTF-8'),
                (b'[' * 5000 + b']' * 5000, 'not valid JSON'),
                (b'[]', 'must be a JSON object'),
                (b'"hello"', 'must be a JSON object'),
                (b'42', 'must be a JSON object'),
                (b'null', 'must be a JSON object')):
            with self.subTest(raw=raw[:20]):
                self.assert_bad(raw, words)
        self.assertEqual(self.fake_runs(), [])
        self.assert_no_children()

    def test_wrong_shapes(self):
        for body, words in (
                ({}, 'messages is required'),
                ({'messages': None}, 'messages is required'),
                ({'messages': []}, 'messages must not be empty'),
                ({'messages': 'hi'}, 'messages must be an array'),
                ({'messages': {'role': 'user'}}, 'messages must be an array'),
                ({'messages': ['hi']}, 'messages[0] must be an object'),
                ({'messages': [{'role': 'user', 'content': 'a'}, 7]}, 'messages[1] must be an object'),
                ({'messages': [{'content': 'x'}]}, 'messages[0].role is required'),
                ({'messages': [{'role': 'wizard', 'content': 'x'}]},
                 'messages[0].role "wizard" is not one of system, developer, user, assistant, tool'),
                ({'messages': [{'role': 'user', 'content': 42}]},
                 'messages[0].content must be a string, an array of content parts or null'),
                ({'messages': [{'role': 'user', 'content': {'text': 'x'}}]}, 'content must be'),
                ({'messages': [{'role': 'user', 'content': ['x']}]},
                 'messages[0].content[0] must be an object'),
                ({'messages': [{'role': 'user', 'content': [{'type': 'text', 'text': 1}]}]},
                 'messages[0].content[0].text must be a string'),
                ({'messages': [{'role': 'assistant', 'tool_calls': 'x'}]},
                 'messages[0].tool_calls must be an array'),
                ({'stream': 'true', 'messages': [{'role': 'user', 'content': 'x'}]},
                 'stream must be a boolean, not a string'),
                ({'stream_options': {'include_usage': 'yes'}, 'messages': [{'role': 'user', 'content': 'x'}]},
                 'stream_options.include_usage must be a boolean'),
                ({'max_tokens': 'many', 'messages': [{'role': 'user', 'content': 'x'}]},
                 'max_tokens must be an integer'),
                ({'temperature': [], 'messages': [{'role': 'user', 'content': 'x'}]},
                 'temperature must be a number'),
                ({'model': 5, 'messages': [{'role': 'user', 'content': 'x'}]},
                 'model must be a string')):
            with self.subTest(body=body):
                self.assert_bad(body, words)
        self.assertEqual(self.fake_runs(), [])
        self.assert_no_children()

    def test_unsupported_model(self):
        for stream in (False, True):
            error = self.assert_bad({'model': 'gpt-4o', 'stream': stream,
                                     'messages': [{'role': 'user', 'content': 'x'}]},
                                    'unsupported model')
            self.assertEqual(error['message'],
                             'unsupported model "gpt-4o"; supported models: ' + ', '.join(DEFAULT_MODELS))
        self.assertEqual(self.fake_runs(), [])
        self.assert_no_children()

    def test_hostile_values(self):
        hostile = '$(touch /tmp/pwned); `id` --dangerously-skip-permissions\n\x00'
        body = streaming({'messages': [{'role': 'user', 'content': hostile}], 'user': hostile})
        _, events, _ = self.stream_all(body)
        self.assert_chunk_stream(events)
        run = self.fake_runs()[-1]
        self.assertNotIn('--dangerously-skip-permissions', run['argv'])
        self.assertFalse(any('touch' in a for a in run['argv']))
        self.assert_bad({'model': hostile, 'messages': [{'role': 'user', 'content': 'x'}]},
                        'unsupported model')
        self.assert_no_children()

    def test_body_too_large(self):
        self.stop_daemon()
        self.start(config={'http': {'max-body-bytes': '4096'}})
        self.assert_bad(user('x' * 10000), 'larger than 4096 bytes', status=413)
        self.assertEqual(self.fake_runs(), [])

    def test_wrong_method_and_auth(self):
        self.assertEqual(self.request('GET', ROUTE).status, 405)
        resp = self.request('POST', ROUTE, user('hi'), token=None)
        self.assert_openai_error(resp, 401, 'missing', 'authentication_error')
        resp = self.request('POST', ROUTE, user('hi'), token='nope')
        self.assert_openai_error(resp, 401, 'invalid', 'authentication_error')
        self.assertEqual(self.fake_runs(), [])


class WorkspaceAgentTest(ChatTestCase):
    config = {'chat': {'agent': 'workspace', 'budget-usd': '1.5', 'timeout-seconds': '30'}}

    def test_non_streaming_runs_workspace_agent(self):
        self.set_scenario(reply='Done in the workspace')
        resp = self.chat(user('fix it'))
        self.assertEqual(resp.status, 200, resp.body)
        body = resp.json()
        self.assertEqual(body['choices'][0]['message']['content'], 'Done in the workspace')
        self.assertGreater(body['usage']['completion_tokens'], 0)
        run = self.fake_runs()[-1]
        argv = run['argv']
        for flag in ('--output-format=json', '--dangerously-skip-permissions',
                     '--agent=workspace', '--max-budget-usd=1.5', '--model=sonnet'):
            self.assertIn(flag, argv)
        self.assertTrue(any(a.startswith('--agents={"workspace"') for a in argv))
        self.assertNotIn('--include-partial-messages', argv)
        self.assertEqual(run['stdin'], 'User: fix it')
        # A throwaway directory, removed afterwards.
        self.assertNotEqual(os.path.realpath(run['cwd']), os.path.realpath(os.getcwd()))
        wait_for(lambda: not os.path.exists(run['cwd']), 5, 'the workspace to be removed')
        self.assert_no_children()

    def test_queued_client_that_leaves_gets_no_clone(self):
        workspaces = os.path.join(self.tmp, 'workspaces')
        self.stop_daemon()
        self.start(config={'claude': {'max-concurrency': '1'}, 'jobs': {'jobs-dir': workspaces}})
        self.set_scenario(hang=1)
        first_conn, first = self.open_stream(ROUTE, streaming(user('a')))
        next(self.sse_data(first))
        self.queue_and_leave(user('fix it'))
        close_stream(first_conn, first)
        wait_for(lambda: self.request('GET', '/health').json()['active'] == 0, 10,
                 'the first run to end')
        self.assertEqual(os.listdir(workspaces) if os.path.isdir(workspaces) else [], [])
        self.assertEqual(len(self.fake_runs()), 1)

    def test_streaming_stays_conversational(self):
        _, events, _ = self.stream_all(streaming(user('hi')))
        self.assert_chunk_stream(events)
        argv = self.fake_runs()[-1]['argv']
        self.assertIn('--agent=conversational', argv)
        self.assertNotIn('--dangerously-skip-permissions', argv)

    def test_workspace_failure(self):
        self.set_scenario(not_logged_in=1)
        resp = self.chat(user('fix it'))
        self.assert_openai_error(resp, 503, 'execution failed: Not logged in')
        cwd = self.fake_runs()[-1]['cwd']
        wait_for(lambda: not os.path.exists(cwd), 5, 'the workspace to be removed')
        self.assert_no_children()

    def test_workspace_timeout(self):
        self.stop_daemon()
        self.start(config={'chat': {'timeout-seconds': '1'}})
        self.set_scenario(hang=1)
        resp = self.chat(user('fix it'))
        self.assert_openai_error(resp, 503, 'execution failed: agent timed out after 1 s')
        self.assert_no_children()

    def test_workspace_is_a_clone_of_the_repo(self):
        if shutil.which('git') is None:
            self.fail('git is needed for this test')
        repo = os.path.join(self.tmp, 'repo')
        git_env = dict(os.environ, GIT_AUTHOR_NAME='t', GIT_AUTHOR_EMAIL='t@example.com',
                       GIT_COMMITTER_NAME='t', GIT_COMMITTER_EMAIL='t@example.com',
                       HOME=self.home)
        os.makedirs(repo)
        with open(os.path.join(repo, 'MARKER'), 'w', encoding='utf-8') as f:
            f.write('here\n')
        for cmd in (['git', 'init', '-q', '-b', 'master'], ['git', 'add', 'MARKER'],
                    ['git', 'commit', '-q', '-m', 'init']):
            subprocess.run(cmd, cwd=repo, env=git_env, check=True)
        self.stop_daemon()
        self.start(config={'chat': {'workspace-repo': repo, 'timeout-seconds': '3'}})
        # Hung, so the workspace can be looked at while the agent runs.
        self.set_scenario(hang=1)
        result = {}
        request = threading.Thread(target=lambda: result.setdefault('resp', self.chat(user('look'))))
        request.start()
        try:
            run = wait_for(lambda: self.fake_runs() and self.fake_runs()[-1], 10, 'the agent to start')
            self.assertTrue(os.path.isfile(os.path.join(run['cwd'], 'MARKER')))
            self.assertNotEqual(os.path.realpath(run['cwd']), os.path.realpath(repo))
        finally:
            request.join(30 * TIMEOUT_MULTIPLIER)
        self.assert_openai_error(result['resp'], 503, 'agent timed out after 3 s')
        wait_for(lambda: not os.path.exists(run['cwd']), 5, 'the workspace to be removed')
        self.assertTrue(os.path.isfile(os.path.join(repo, 'MARKER')))
        self.assert_no_children()


class OpenAIClientTest(ChatTestCase):
    """The official `openai` npm package as a real client."""

    def run_client(self, scenario='all'):
        node = shutil.which('node')
        module = os.path.join(HERE, 'node_modules', 'openai')
        if node is None or not os.path.isdir(module):
            self.fail('the openai npm client is not installed: run '
                      '`npm ci --prefix tests/integration` (Node.js 18 or later)')
        env = dict(os.environ, CAS_PORT=str(self.port), CAS_TOKEN=TOKEN)
        done = subprocess.run([node, os.path.join(HERE, 'openai_client.mjs'), scenario],
                              env=env, capture_output=True, text=True,
                              timeout=60 * TIMEOUT_MULTIPLIER)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        return json.loads(done.stdout)

    def test_openai_sdk(self):
        self.set_scenario(reply=BULGARIAN, tokens=6)
        out = self.run_client()
        self.assertEqual(out['models'], DEFAULT_MODELS)

        stream = out['stream']
        self.assertEqual(stream['content'], BULGARIAN)
        self.assertEqual(stream['roles'], ['assistant'])
        self.assertEqual(stream['finish'], ['stop'])
        self.assertEqual(len(stream['ids']), 1)
        self.assertRegex(stream['ids'][0], ID_RE)
        self.assertEqual(stream['objects'], ['chat.completion.chunk'])
        self.assertEqual(stream['models'], ['haiku'])
        self.assertGreater(stream['usage']['prompt_tokens'], 0)
        self.assertEqual(stream['usage']['total_tokens'],
                         stream['usage']['prompt_tokens'] + stream['usage']['completion_tokens'])

        complete = out['complete']
        self.assertEqual(complete['content'], BULGARIAN)
        self.assertEqual(complete['role'], 'assistant')
        self.assertEqual(complete['finish'], 'stop')
        self.assertEqual(complete['object'], 'chat.completion')

        unknown = out['unknownModel']['error']
        self.assertTrue(unknown['isBadRequest'], unknown)
        self.assertEqual(unknown['status'], 400)
        self.assertIn('unsupported model', unknown['message'])

        bad_token = out['badToken']['error']
        self.assertTrue(bad_token['isAuthentication'], bad_token)
        self.assertEqual(bad_token['status'], 401)

        # The dialogue the SDK sent, flattened in order.
        stdins = [run['stdin'] for run in self.fake_runs()]
        self.assertEqual(len(stdins), 2)
        expected = ('You are a voice assistant.\n\nAnswer briefly.\n\n'
                    'User: What is the weather in Sofia?\n'
                    'Assistant called tool get_weather with arguments: {"city":"Sofia"}\n'
                    'Tool: 22 degrees')
        self.assertEqual(stdins, [expected, expected])
        self.assert_no_children()

    def test_openai_sdk_sees_stream_errors(self):
        self.set_scenario(not_logged_in=1)
        out = self.run_client('stream-error')
        error = out['streamError']['error']
        self.assertIsNotNone(error)
        self.assertTrue(error['isAPIError'], error)
        self.assertIn('Not logged in', error['message'])
        self.assert_no_children()
