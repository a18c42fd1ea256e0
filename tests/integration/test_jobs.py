"""POST /execute and GET /jobs/{id} against the built daemon and the fake
claude: the job lifecycle, its argv, its errors, its records on disk and
its workspace."""
import json
import os
import signal
import subprocess
import time
from datetime import datetime, timezone

from cas_harness import DaemonTestCase, needs_root, pid_alive, smoke, wait_for

FINISHED = ('completed', 'failed', 'timeout', 'error')


class JobsTestCase(DaemonTestCase):
    """Helpers shared by the job tests."""

    def execute(self, body, status=202):
        resp = self.request('POST', '/execute', body)
        self.assertEqual(resp.status, status, resp.body)
        return resp

    def submit(self, **fields):
        body = {'prompt': 'Hello', 'agent': 'workspace'}
        body.update(fields)
        reply = self.execute(body).json()
        self.assertEqual(reply['status'], 'queued')
        self.assertRegex(reply['job_id'], r'^[0-9a-f]{12}$')
        return reply['job_id']

    def job(self, job_id):
        resp = self.request('GET', f'/jobs/{job_id}')
        self.assertEqual(resp.status, 200, resp.body)
        return resp.json()

    def wait_status(self, job_id, statuses=FINISHED, timeout=20):
        def reached():
            record = self.job(job_id)
            return record if record['status'] in statuses else None
        return wait_for(reached, timeout, f'job {job_id} to reach {statuses}')

    def wait_running(self, job_id, runs=1):
        """Waits until the job runs and the fake has logged its start."""
        self.wait_status(job_id, ('running',))
        wait_for(lambda: len(self.fake_runs()) >= runs, 10, 'the fake to start')
        return self.fake_runs()[runs - 1]

    def records_dir(self):
        return os.path.join(self.state_dir, 'jobs')

    def record_files(self):
        try:
            return sorted(os.listdir(self.records_dir()))
        except FileNotFoundError:
            return []

    def assert_bad_request(self, body, words):
        resp = self.request('POST', '/execute', body,
                            headers={'Content-Type': 'application/json'})
        self.assertEqual(resp.status, 400, (body, resp.body))
        err = resp.json()
        self.assertEqual(err['error'], 'invalid_request', body)
        self.assertIn(words, err['detail'], body)


class ExecuteTest(JobsTestCase):
    @smoke
    def test_job_completes(self):
        prompt = 'Здравей, свят: кажи 2+2'
        job_id = self.submit(prompt=prompt, metadata={'flow': 'n8n', 'n': [1, 2.5]})
        record = self.wait_status(job_id)
        self.assertEqual(record['status'], 'completed', record)
        self.assertEqual(record['job_id'], job_id)
        self.assertEqual(record['prompt'], prompt)
        self.assertEqual(record['agent'], 'workspace')
        self.assertEqual(record['exit_code'], 0)
        self.assertIsNone(record['error'])
        self.assertEqual(record['metadata'], {'flow': 'n8n', 'n': [1, 2.5]})
        # Callers parse output[0], the CLI's own result object.
        self.assertEqual(len(record['output']), 1)
        result = json.loads(record['output'][0])
        self.assertEqual(result['type'], 'result')
        self.assertEqual(result['result'], 'Echo: ' + prompt)
        self.assertEqual(record['result'], 'Echo: ' + prompt)
        self.assertEqual(record['usage'], result['usage'])
        self.assertGreater(record['usage']['output_tokens'], 0)
        self.assertAlmostEqual(record['total_cost_usd'], result['total_cost_usd'])
        self.assertGreater(record['total_cost_usd'], 0)
        created = datetime.fromisoformat(record['created_at'])
        started = datetime.fromisoformat(record['started_at'])
        finished = datetime.fromisoformat(record['finished_at'])
        self.assertEqual(created.utcoffset().total_seconds(), 0)
        self.assertLessEqual(created, started)
        self.assertLessEqual(started, finished)
        self.assertAlmostEqual(record['finished_epoch'], finished.timestamp(), places=3)
        self.assertEqual(record['stderr'], '')
        self.assertNotIn('workspace', record)
        self.assert_no_children()

    def test_argv_and_stdin(self):
        prompt = 'line one\nline two --agent=evil'
        job_id = self.submit(prompt=prompt, max_budget_usd=0.5, timeout_seconds=120)
        self.assertEqual(self.wait_status(job_id)['status'], 'completed')
        run = self.fake_runs()[-1]
        argv = run['argv']
        self.assertIn('-p', argv)
        self.assertIn('--output-format=json', argv)
        self.assertIn('--dangerously-skip-permissions', argv)
        self.assertIn('--max-budget-usd=0.5', argv)
        self.assertIn('--agent=workspace', argv)
        agents = [a for a in argv if a.startswith('--agents=')]
        self.assertEqual(len(agents), 1)
        self.assertEqual(list(json.loads(agents[0][len('--agents='):])), ['workspace'])
        # The prompt goes on stdin, never in argv.
        self.assertEqual(run['stdin'], prompt)
        for arg in argv:
            self.assertNotIn('line one', arg)
        self.assertNotIn('--verbose', argv)
        self.assertNotIn('--setting-sources=user', argv)

    def test_leaves_nothing_under_dot_claude(self):
        # Each job runs in its own directory, and the CLI keeps a folder per
        # directory under ~/.claude/projects: they used to pile up.
        projects = os.path.join(self.home, '.claude', 'projects')
        for _ in range(3):
            job_id = self.submit()
            self.assertEqual(self.wait_status(job_id)['status'], 'completed')
            cwd = self.fake_runs()[-1]['cwd']
            wait_for(lambda: not os.path.exists(cwd), 10, 'the workspace to go')
            wait_for(lambda: not os.path.isdir(projects) or not os.listdir(projects), 10,
                     'the CLI project folder to go')
        # No transcript was written in the first place.
        for run in self.fake_runs():
            self.assertIn('--no-session-persistence', run['argv'])
        # Without a workspace-repo a job works in an empty directory of its own
        # under the state directory (the README says so).
        self.assertEqual(os.path.dirname(cwd), os.path.join(self.state_dir, 'job-workspaces'))

    def test_default_budget(self):
        job_id = self.submit()
        self.assertEqual(self.wait_status(job_id)['status'], 'completed')
        self.assertIn('--max-budget-usd=5', self.fake_runs()[-1]['argv'])
        record = self.job(job_id)
        self.assertEqual(record['max_budget_usd'], 5)
        self.assertEqual(record['timeout_seconds'], 2700)

    def test_user_agent(self):
        agents_dir = os.path.join(self.home, '.claude', 'agents')
        os.makedirs(agents_dir)
        with open(os.path.join(agents_dir, 'helper.md'), 'w', encoding='utf-8') as f:
            f.write('---\nname: My_Helper-2\ndescription: "A helper"\n---\nHelp.\n')
        # Files the lookup must step over without tripping.
        with open(os.path.join(agents_dir, 'garbage.md'), 'wb') as f:
            f.write(b'\xff\xfe\x00---\nname: \xff\n')
        with open(os.path.join(agents_dir, 'nofront.md'), 'w', encoding='utf-8') as f:
            f.write('name: My_Helper-3\n')
        os.makedirs(os.path.join(agents_dir, 'dir.md'))
        os.symlink('/nonexistent', os.path.join(agents_dir, 'dangling.md'))
        with open(os.path.join(agents_dir, 'big.md'), 'w', encoding='utf-8') as f:
            f.write('---\nname: big\ndescription: d\n---\n' + 'x' * (300 * 1024))

        # A FIFO must not block the lookup (the fake would block on it, so
        # it goes before any job runs).
        fifo = os.path.join(agents_dir, 'fifo.md')
        os.mkfifo(fifo)
        resp = self.execute({'prompt': 'x', 'agent': 'fifo'}, status=400)
        self.assertIn('unknown agent', resp.json()['detail'])
        os.unlink(fifo)

        job_id = self.submit(agent='My_Helper-2')
        record = self.wait_status(job_id)
        self.assertEqual(record['status'], 'completed', record)
        argv = self.fake_runs()[-1]['argv']
        self.assertIn('--agent=My_Helper-2', argv)
        self.assertFalse([a for a in argv if a.startswith('--agents')])

        for name in ('My_Helper-3', 'garbage', 'dangling', 'dir'):
            resp = self.execute({'prompt': 'x', 'agent': name}, status=400)
            self.assertIn('unknown agent', resp.json()['detail'])
        # Only the head is read, so a long prompt body is fine.
        self.assertEqual(self.wait_status(self.submit(agent='big'))['status'], 'completed')

    def test_user_agent_in_claude_config_dir(self):
        config_dir = os.path.join(self.tmp, 'claude-config')
        os.makedirs(os.path.join(config_dir, 'agents'))
        with open(os.path.join(config_dir, 'agents', 'a.md'), 'w', encoding='utf-8') as f:
            f.write('---\ndescription: d\nname: configured\n---\nBody\n')
        self.stop_daemon()
        self.start(env={'CLAUDE_CONFIG_DIR': config_dir})
        job_id = self.submit(agent='configured')
        self.assertEqual(self.wait_status(job_id)['status'], 'completed')
        self.assertIn('--agent=configured', self.fake_runs()[-1]['argv'])

    def test_unknown_agent(self):
        resp = self.execute({'prompt': 'x', 'agent': 'no-such-agent'}, status=400)
        self.assertEqual(resp.json(), {'error': 'invalid_request',
                                       'detail': 'unknown agent: no-such-agent'})
        self.assertEqual(self.fake_runs(), [])
        self.assertEqual(self.record_files(), [])
        self.assert_no_children()

    def test_bad_requests(self):
        cases = [
            ('', 'empty'),
            ('not json', 'not valid JSON'),
            ('{"prompt": "x", "agent": "workspace"', 'not valid JSON'),
            ('[1, 2]', 'JSON object'),
            ('"just a string"', 'JSON object'),
            ({'agent': 'workspace'}, 'prompt is required'),
            ({'prompt': None, 'agent': 'workspace'}, 'prompt is required'),
            ({'prompt': '', 'agent': 'workspace'}, 'prompt must not be empty'),
            ({'prompt': ' \n\t ', 'agent': 'workspace'}, 'prompt must not be empty'),
            ({'prompt': 42, 'agent': 'workspace'}, 'prompt must be a string'),
            ({'prompt': ['x'], 'agent': 'workspace'}, 'prompt must be a string'),
            ({'prompt': {'text': 'x'}, 'agent': 'workspace'}, 'prompt must be a string'),
            ({'prompt': 'x'}, 'agent is required'),
            ({'prompt': 'x', 'agent': 7}, 'agent must be a string'),
            ({'prompt': 'x', 'agent': ['workspace']}, 'agent must be a string'),
            ({'prompt': 'x', 'agent': True}, 'agent must be a string'),
            ({'prompt': 'x', 'agent': 'workspace', 'max_budget_usd': 0}, 'max_budget_usd'),
            ({'prompt': 'x', 'agent': 'workspace', 'max_budget_usd': -1}, 'max_budget_usd'),
            ({'prompt': 'x', 'agent': 'workspace', 'max_budget_usd': '5'}, 'max_budget_usd'),
            ({'prompt': 'x', 'agent': 'workspace', 'max_budget_usd': True}, 'max_budget_usd'),
            ({'prompt': 'x', 'agent': 'workspace', 'max_budget_usd': [5]}, 'max_budget_usd'),
            ({'prompt': 'x', 'agent': 'workspace', 'max_budget_usd': 1e12}, 'max_budget_usd'),
            ({'prompt': 'x', 'agent': 'workspace', 'timeout_seconds': 0}, 'timeout_seconds'),
            ({'prompt': 'x', 'agent': 'workspace', 'timeout_seconds': -10}, 'timeout_seconds'),
            ({'prompt': 'x', 'agent': 'workspace', 'timeout_seconds': 1.5}, 'timeout_seconds'),
            ({'prompt': 'x', 'agent': 'workspace', 'timeout_seconds': '60'}, 'timeout_seconds'),
            ({'prompt': 'x', 'agent': 'workspace', 'timeout_seconds': 86401}, 'timeout_seconds'),
            ({'prompt': 'x', 'agent': 'workspace', 'timeout_seconds': 2 ** 63 - 1},
             'timeout_seconds'),
            ({'prompt': 'x', 'agent': 'workspace', 'metadata': []}, 'metadata'),
            ({'prompt': 'x', 'agent': 'workspace', 'metadata': 'tag'}, 'metadata'),
            ({'prompt': 'x', 'agent': 'workspace', 'metadata': 3}, 'metadata'),
        ]
        hostile_agents = ['../x', '../../etc/passwd', 'a/b', '..', '.', '-rf', '--agents',
                          'x y', 'a.md', '/abs', 'a\\b', 'агент', 'a\nb', '', '_x',
                          'a' * 129, '~root', '$HOME', 'a;rm -rf /']
        for name in hostile_agents:
            cases.append(({'prompt': 'x', 'agent': name}, 'agent must be a name'))
        for body, words in cases:
            raw = body if isinstance(body, str) else json.dumps(body)
            self.assert_bad_request(raw, words)
        # Nested too deep, and not UTF-8.
        self.assert_bad_request('{"prompt":"x","agent":"workspace","metadata":' +
                                '[' * 200 + ']' * 200 + '}', 'nested')
        resp = self.request('POST', '/execute', b'{"prompt":"\xff","agent":"workspace"}')
        self.assertEqual(resp.status, 400)
        self.assertIn('UTF-8', resp.json()['detail'])
        self.assertEqual(self.fake_runs(), [])
        self.assertEqual(self.record_files(), [])
        self.assert_no_children()
        self.assertEqual(self.request('GET', '/health').status, 200)

    def test_wrong_methods(self):
        self.assertEqual(self.request('GET', '/execute').status, 405)
        self.assertEqual(self.request('POST', '/jobs/0123456789ab', {}).status, 405)

    def test_needs_auth(self):
        resp = self.request('POST', '/execute', {'prompt': 'x', 'agent': 'workspace'},
                            token=None)
        self.assertEqual(resp.status, 401)
        self.assertEqual(self.request('GET', '/jobs/0123456789ab', token=None).status, 401)
        self.assertEqual(self.fake_runs(), [])


class GetJobTest(JobsTestCase):
    @smoke
    def test_unknown_job(self):
        resp = self.request('GET', '/jobs/0123456789ab')
        self.assertEqual(resp.status, 404)
        self.assertEqual(resp.json(), {'error': 'not_found', 'detail': 'Job not found'})

    def test_malformed_ids(self):
        # A file an id must never reach.
        os.makedirs(self.records_dir(), exist_ok=True)
        # libsoup itself refuses or resolves these (encoded dot segments, a
        # NUL) before any route sees them: "/jobs/%2e%2e" is "/", the web
        # console's page, which is public.
        for bad in ['..%2F..%2Fetc%2Fpasswd', '..%2Fapi-token', '0123456789ab%00',
                    '%2e%2e', '%2e%2e/%2e%2e/api-token']:
            resp = self.request('GET', '/jobs/' + bad)
            if resp.status == 200:
                self.assertTrue(resp.headers['Content-Type'].startswith('text/html'), bad)
            else:
                self.assertIn(resp.status, (400, 404), bad)
            self.assertNotIn(b'test-token', resp.body)
            self.assertNotIn(b'"job_id"', resp.body)
        for bad in ['0123456789abc', '0123456789AB', '0123456789a', '0123456789ag', '',
                    '0123456789ab%2Fx', '0123456789ab/x', '0123456789ab.json',
                    '%30123456789a', 'x' * 5000]:
            resp = self.request('GET', '/jobs/' + bad)
            self.assertEqual(resp.status, 400, (bad, resp.body))
            self.assertEqual(resp.json()['error'], 'invalid_request')
            self.assertIn('12 lowercase hexadecimal', resp.json()['detail'])
        # Dot segments are resolved before routing: never a file.
        resp = self.request('GET', '/jobs/../../etc/passwd')
        self.assertIn(resp.status, (400, 404))
        self.assertNotIn(b'root:', resp.body)

    def test_corrupt_record_is_not_served(self):
        job_id = self.submit()
        self.wait_status(job_id)
        path = os.path.join(self.records_dir(), job_id + '.json')
        with open(path, 'w', encoding='utf-8') as f:
            f.write('{"job_id": "0123')
        resp = self.request('GET', f'/jobs/{job_id}')
        self.assertEqual(resp.status, 404)


class AdmissionTest(JobsTestCase):
    config = {'claude': {'max-concurrency': '1', 'max-queue-depth': '1'}}

    @smoke
    def test_queue_full(self):
        self.set_scenario(hang=1)
        first = self.submit()
        self.wait_running(first)
        resp = self.request('POST', '/execute', {'prompt': 'x', 'agent': 'workspace'})
        self.assertEqual(resp.status, 429)
        err = resp.json()
        self.assertEqual(err['error'], 'too_many_requests')
        self.assertIn('Queue full', err['detail'])
        # One record (a write of it may be in progress beside it).
        self.assertEqual([n for n in self.record_files() if n.endswith('.json')],
                         [first + '.json'])
        health = self.request('GET', '/health').json()
        self.assertTrue(health['busy'])
        self.assertEqual(health['active'], 1)
        self.assertEqual(len(self.fake_runs()), 1)


class QueueTest(JobsTestCase):
    config = {'claude': {'max-concurrency': '1', 'max-queue-depth': '3'}}

    def test_waits_for_admission(self):
        self.set_scenario(hang=1)
        first = self.submit()
        run = self.wait_running(first)
        second = self.submit(timeout_seconds=2)
        record = self.job(second)
        self.assertEqual(record['status'], 'queued')
        self.assertIsNone(record['started_at'])
        health = self.request('GET', '/health').json()
        self.assertEqual(health['queued'], 1)
        self.assertTrue(health['busy'])
        # Longer in the queue than its timeout: the timeout counts from
        # its start, not from the queue.
        time.sleep(3)
        self.set_scenario()
        os.kill(run['pid'], signal.SIGTERM)
        self.assertEqual(self.wait_status(first)['status'], 'failed')
        record = self.wait_status(second)
        self.assertEqual(record['status'], 'completed', record)
        self.assertEqual(self.request('GET', '/health').json()['queued'], 0)
        self.assert_no_children()


class FailureTest(JobsTestCase):
    def test_timeout(self):
        self.set_scenario(hang=1)
        job_id = self.submit(timeout_seconds=1)
        run = self.wait_running(job_id)
        record = self.wait_status(job_id)
        self.assertEqual(record['status'], 'timeout', record)
        self.assertEqual(record['error'], 'agent timed out after 1 s')
        self.assertIsNone(record['exit_code'])
        wait_for(lambda: not pid_alive(run['pid']), 10, 'the timed-out fake to go')
        self.assert_no_children()

    @smoke
    def test_failing_exit(self):
        self.set_scenario(exit_code=3, stderr='boom: disk on fire')
        job_id = self.submit()
        record = self.wait_status(job_id)
        self.assertEqual(record['status'], 'failed', record)
        self.assertEqual(record['exit_code'], 3)
        self.assertIn('boom: disk on fire', record['stderr'])
        self.assertEqual(record['error'], 'exit 3: boom: disk on fire')
        self.assertTrue(json.loads(record['output'][0])['is_error'])
        self.assertEqual(record['result'], 'API Error: fake failure')
        self.assert_no_children()

    def test_not_logged_in(self):
        self.set_scenario(not_logged_in=1)
        record = self.wait_status(self.submit())
        self.assertEqual(record['status'], 'failed', record)
        self.assertEqual(record['exit_code'], 1)
        self.assertIn('Not logged in', record['error'])
        self.assertIn('Not logged in', record['result'])

    @needs_root
    def test_refused_as_root_without_sandbox(self):
        # The CLI refuses the flag only as root.
        self.stop_daemon()
        self.start(env={'IS_SANDBOX': None})
        record = self.wait_status(self.submit())
        self.assertEqual(record['status'], 'failed', record)
        self.assertIn('IS_SANDBOX=1', record['error'])

    def test_cli_missing(self):
        self.stop_daemon()
        self.start(config={'claude': {'command': '/nonexistent/claude'}})
        record = self.wait_status(self.submit())
        self.assertEqual(record['status'], 'error', record)
        self.assertEqual(record['error'],
                         'claude CLI not found (install @anthropic-ai/claude-code and log in)')
        self.assertIsNone(record['exit_code'])
        self.assertEqual(record['output'], [])
        self.assert_no_children()
        # Its workspace went too.
        parent = os.path.join(self.state_dir, 'job-workspaces')
        wait_for(lambda: not os.listdir(parent), 10, 'the workspace to go')

    def test_large_result(self):
        self.set_scenario(reply='ж' * 300000)
        record = self.wait_status(self.submit())
        self.assertEqual(record['status'], 'completed')
        self.assertEqual(len(record['result']), 300000)


class PersistenceTest(JobsTestCase):
    def test_record_file(self):
        job_id = self.submit(metadata={'k': 'Здравей'})
        self.wait_status(job_id)
        path = os.path.join(self.records_dir(), job_id + '.json')
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        self.assertEqual(os.stat(self.records_dir()).st_mode & 0o777, 0o700)
        with open(path, encoding='utf-8') as f:
            stored = json.load(f)
        self.assertEqual(stored['status'], 'completed')
        self.assertEqual(stored['metadata'], {'k': 'Здравей'})
        self.assertEqual(self.record_files(), [job_id + '.json'])

    def test_records_survive_a_clean_restart(self):
        job_id = self.submit(prompt='Запомни')
        before = self.wait_status(job_id)
        self.stop_daemon()
        self.start()
        self.assertEqual(self.job(job_id), before)

    def test_job_running_at_a_crash_is_an_error(self):
        self.set_scenario(hang=1)
        job_id = self.submit()
        run = self.wait_running(job_id)
        self.assertTrue(os.path.isdir(run['cwd']))
        self.daemon.send_signal(signal.SIGKILL)
        self.daemon.wait()
        # The fake dies with the daemon (PR_SET_PDEATHSIG).
        wait_for(lambda: not pid_alive(run['pid']), 10, 'the fake to die with the daemon')
        self.set_scenario()
        self.start()
        record = self.job(job_id)
        self.assertEqual(record['status'], 'error')
        self.assertEqual(record['error'], 'service restarted during job')
        self.assertIsNotNone(record['finished_at'])
        self.assertIsNone(record['exit_code'])
        # Its workspace is swept at start.
        wait_for(lambda: not os.path.exists(run['cwd']), 10, 'the old workspace to go')
        # And the service goes on.
        self.assertEqual(self.wait_status(self.submit())['status'], 'completed')

    def test_job_running_at_a_clean_stop(self):
        self.set_scenario(hang=1)
        job_id = self.submit()
        run = self.wait_running(job_id)
        _, elapsed = self.stop_daemon()
        self.assertLess(elapsed, 10)
        self.assertFalse(pid_alive(run['pid']))
        self.start()
        record = self.job(job_id)
        self.assertEqual(record['status'], 'error')
        self.assertEqual(record['error'], 'service stopped during job')
        wait_for(lambda: not os.path.exists(run['cwd']), 10, 'the old workspace to go')

    def test_queued_job_at_a_crash_is_an_error(self):
        self.stop_daemon()
        self.start(config={'claude': {'max-concurrency': '1'}})
        self.set_scenario(hang=1)
        first = self.submit()
        self.wait_running(first)
        second = self.submit()
        self.assertEqual(self.job(second)['status'], 'queued')
        self.daemon.send_signal(signal.SIGKILL)
        self.daemon.wait()
        self.set_scenario()
        self.start()
        for job_id in (first, second):
            record = self.job(job_id)
            self.assertEqual(record['status'], 'error')
            self.assertEqual(record['error'], 'service restarted during job')

    def test_stray_files_in_the_records_dir(self):
        self.stop_daemon()
        os.makedirs(self.records_dir(), exist_ok=True)
        strays = {
            'aaaaaaaaaaaa.json': '{"job_id": "bbbbbbbbbbbb", "status": "completed"}',
            'cccccccccccc.json': 'not json',
            'notes.txt': 'hello',
            'dddddddddddd.json.ABC123': '{}',
        }
        for name, text in strays.items():
            with open(os.path.join(self.records_dir(), name), 'w', encoding='utf-8') as f:
                f.write(text)
        os.symlink('/etc/passwd', os.path.join(self.records_dir(), 'eeeeeeeeeeee.json'))
        self.start()
        for job_id in ('aaaaaaaaaaaa', 'bbbbbbbbbbbb', 'cccccccccccc', 'eeeeeeeeeeee'):
            self.assertEqual(self.request('GET', f'/jobs/{job_id}').status, 404)
        # The interrupted write is cleaned up; nothing else is deleted.
        self.assertNotIn('dddddddddddd.json.ABC123', self.record_files())
        self.assertIn('notes.txt', self.record_files())
        self.assertEqual(self.wait_status(self.submit())['status'], 'completed')


class TtlTest(JobsTestCase):
    config = {'jobs': {'job-ttl-seconds': '1'}}

    def test_finished_records_expire(self):
        job_id = self.submit()
        self.wait_status(job_id)
        wait_for(lambda: self.request('GET', f'/jobs/{job_id}').status == 404, 10,
                 'the record to expire')
        wait_for(lambda: not self.record_files(), 10, 'the record file to go')

    def test_expired_at_start(self):
        job_id = self.submit()
        self.wait_status(job_id)
        self.stop_daemon()
        time.sleep(1.1)  # the TTL itself, not a wait for an event
        self.start()
        self.assertEqual(self.request('GET', f'/jobs/{job_id}').status, 404)
        self.assertEqual(self.record_files(), [])


class RecordBoundsTest(JobsTestCase):
    config = {'jobs': {'max-record-output-bytes': '65536'}}

    def test_big_prompt_and_output_are_cut(self):
        prompt = 'п' * 100000
        reply = 'ж' * 100000
        self.set_scenario(reply=reply)
        record = self.wait_status(self.submit(prompt=prompt))
        self.assertEqual(record['status'], 'completed', record)
        # The CLI got all of the prompt; the record keeps its head.
        self.assertEqual(self.fake_runs()[0]['stdin'], prompt)
        self.assertTrue(record['prompt_truncated'])
        self.assertTrue(prompt.startswith(record['prompt']))
        self.assertLessEqual(len(record['prompt'].encode()), 65536)
        self.assertGreater(len(record['prompt'].encode()), 60000)
        # output[0] is still the CLI's result object, with its text cut.
        self.assertTrue(record['output_truncated'])
        self.assertEqual(len(record['output']), 1)
        self.assertLessEqual(len(record['output'][0].encode()), 65536)
        first = json.loads(record['output'][0])
        self.assertEqual(first['type'], 'result')
        self.assertTrue(reply.startswith(first['result']))
        self.assertEqual(record['result'], first['result'])
        self.assertGreater(len(record['result']), 20000)
        path = os.path.join(self.records_dir(), record['job_id'] + '.json')
        self.assertLess(os.path.getsize(path), 4 * 65536)

    def test_small_job_is_whole(self):
        record = self.wait_status(self.submit(prompt='малко'))
        self.assertFalse(record['prompt_truncated'])
        self.assertFalse(record['output_truncated'])
        self.assertEqual(record['prompt'], 'малко')
        self.assertEqual(record['result'], 'Echo: малко')


class RecordsBudgetTest(JobsTestCase):
    # A live job holds 3 * 256 KiB + 128 KiB: one fits in 1 MiB, two do not.
    config = {'jobs': {'max-records-bytes': '1048576', 'max-record-output-bytes': '262144'}}
    start_daemon = False

    def write_finished(self, count, size):
        """count finished records of about size bytes each, a minute apart,
        the oldest first; returns their ids."""
        os.makedirs(self.records_dir(), mode=0o700, exist_ok=True)
        now = time.time()
        ids = []
        for i in range(count):
            job_id = '%012x' % (0xa00000000000 + i)
            finished = datetime.fromtimestamp(now - 60 * (count - i), timezone.utc)
            record = {'job_id': job_id, 'status': 'completed', 'agent': 'workspace',
                      'prompt': 'x' * size, 'created_at': finished.isoformat(),
                      'started_at': finished.isoformat(),
                      'finished_at': finished.isoformat(), 'exit_code': 0,
                      'output': [], 'result': 'ok'}
            with open(os.path.join(self.records_dir(), job_id + '.json'), 'w') as f:
                json.dump(record, f)
            ids.append(job_id)
        return ids

    def records_size(self):
        return sum(os.path.getsize(os.path.join(self.records_dir(), name))
                   for name in self.record_files())

    def test_oldest_finished_go_first(self):
        ids = self.write_finished(30, 40000)
        self.start()
        # 1.2 MB at start: the oldest go until the rest fit.
        self.assertLessEqual(self.records_size(), 1048576)
        kept = [i for i in ids if i + '.json' in self.record_files()]
        self.assertEqual(kept, ids[len(ids) - len(kept):])
        self.assertGreater(len(kept), 20)
        self.assertEqual(self.request('GET', f'/jobs/{ids[0]}').status, 404)
        self.assertEqual(self.job(ids[-1])['status'], 'completed')

        # A new job holds its room: older records make way, newest kept.
        job_id = self.submit()
        self.assertEqual(self.wait_status(job_id)['status'], 'completed')
        wait_for(lambda: self.records_size() <= 1048576 - 900000 + 4096, 10,
                 'old records to make room')
        kept = [i for i in ids if i + '.json' in self.record_files()]
        self.assertEqual(kept, ids[len(ids) - len(kept):])
        self.assertIn(job_id + '.json', self.record_files())
        self.assertEqual(self.job(ids[-1])['status'], 'completed')

    def test_live_jobs_over_budget_are_refused(self):
        self.start()
        self.set_scenario(hang=1)
        first = self.submit()
        self.wait_running(first)
        resp = self.request('POST', '/execute', {'prompt': 'x', 'agent': 'workspace'})
        self.assertEqual(resp.status, 429, resp.body)
        err = resp.json()
        self.assertEqual(err['error'], 'too_many_requests')
        self.assertIn('max-records-bytes', err['detail'])
        self.assertEqual([n for n in self.record_files() if n.endswith('.json')],
                         [first + '.json'])


def git(*args, cwd=None):
    env = dict(os.environ, GIT_AUTHOR_NAME='Test', GIT_AUTHOR_EMAIL='test@example.com',
               GIT_COMMITTER_NAME='Test', GIT_COMMITTER_EMAIL='test@example.com',
               GIT_CONFIG_GLOBAL='/dev/null', GIT_CONFIG_NOSYSTEM='1')
    return subprocess.run(['git', *args], cwd=cwd, env=env, check=True,
                          capture_output=True, text=True).stdout.strip()


class WorkspaceTest(JobsTestCase):
    start_daemon = False

    def make_repos(self):
        """An upstream with one commit, and a base cloned from it."""
        self.upstream = os.path.join(self.tmp, 'upstream')
        self.base = os.path.join(self.tmp, 'base')
        os.makedirs(self.upstream)
        git('init', '--quiet', '-b', 'main', cwd=self.upstream)
        with open(os.path.join(self.upstream, 'README.md'), 'w', encoding='utf-8') as f:
            f.write('Здравей\n')
        git('add', 'README.md', cwd=self.upstream)
        git('commit', '--quiet', '-m', 'first', cwd=self.upstream)
        git('clone', '--quiet', self.upstream, self.base)

    def commit_upstream(self, name):
        with open(os.path.join(self.upstream, name), 'w', encoding='utf-8') as f:
            f.write(name + '\n')
        git('add', name, cwd=self.upstream)
        git('commit', '--quiet', '-m', name, cwd=self.upstream)

    def test_job_runs_in_a_clone(self):
        self.make_repos()
        jobs_dir = os.path.join(self.tmp, 'jobs-dir')
        self.start(config={'jobs': {'workspace-repo': self.base, 'jobs-dir': jobs_dir,
                                    'fetch-debounce-seconds': '3600'}})
        # A commit the base has not fetched yet: the job's refresh gets it.
        self.commit_upstream('NEW.md')
        self.set_scenario(hang=1)
        job_id = self.submit()
        run = self.wait_running(job_id)
        cwd = run['cwd']
        self.assertEqual(os.path.dirname(cwd), jobs_dir)
        self.assertNotEqual(os.path.realpath(cwd), os.path.realpath(self.base))
        with open(os.path.join(cwd, 'README.md'), encoding='utf-8') as f:
            self.assertEqual(f.read(), 'Здравей\n')
        self.assertTrue(os.path.exists(os.path.join(cwd, 'NEW.md')))
        self.assertTrue(os.path.exists(os.path.join(self.base, 'NEW.md')))
        # origin is the base's origin, not the base.
        self.assertEqual(git('remote', 'get-url', 'origin', cwd=cwd), self.upstream)
        self.assertEqual(os.stat(cwd).st_mode & 0o777, 0o700)

        # Finishing removes the clone.
        self.set_scenario()
        os.kill(run['pid'], signal.SIGTERM)
        record = self.wait_status(job_id)
        self.assertEqual(record['status'], 'failed')
        self.assertEqual(record['exit_code'], 143)
        wait_for(lambda: not os.path.exists(cwd), 10, 'the clone to go')

        # The next job within the debounce does not fetch again.
        self.commit_upstream('LATER.md')
        job_id = self.submit()
        self.assertEqual(self.wait_status(job_id)['status'], 'completed')
        self.assertFalse(os.path.exists(os.path.join(self.base, 'LATER.md')))
        cwd = self.fake_runs()[-1]['cwd']
        wait_for(lambda: not os.path.exists(cwd), 10, 'the second clone to go')
        self.assertEqual(os.listdir(jobs_dir), [])
        self.assert_no_children()

    def test_refresh_failure_is_tolerated(self):
        self.make_repos()
        git('remote', 'set-url', 'origin', os.path.join(self.tmp, 'gone'), cwd=self.base)
        self.start(config={'jobs': {'workspace-repo': self.base}})
        job_id = self.submit()
        record = self.wait_status(job_id)
        self.assertEqual(record['status'], 'completed', record)
        self.assertIn('git fetch', self.daemon_output())

    def test_repo_without_origin(self):
        base = os.path.join(self.tmp, 'plain')
        os.makedirs(base)
        git('init', '--quiet', '-b', 'main', cwd=base)
        with open(os.path.join(base, 'file.txt'), 'w', encoding='utf-8') as f:
            f.write('x\n')
        git('add', 'file.txt', cwd=base)
        git('commit', '--quiet', '-m', 'one', cwd=base)
        self.start(config={'jobs': {'workspace-repo': base}})
        self.set_scenario(hang=1)
        job_id = self.submit()
        run = self.wait_running(job_id)
        self.assertTrue(os.path.exists(os.path.join(run['cwd'], 'file.txt')))
        self.assertTrue(os.path.isdir(os.path.join(run['cwd'], '.git')))

    def test_missing_repo_is_a_job_error(self):
        self.start(config={'jobs': {'workspace-repo': os.path.join(self.tmp, 'nothing')}})
        record = self.wait_status(self.submit())
        self.assertEqual(record['status'], 'error')
        self.assertIn('cannot prepare the workspace', record['error'])
        self.assertEqual(self.fake_runs(), [])
        self.assert_no_children()

    def test_not_a_repo_is_a_job_error(self):
        not_repo = os.path.join(self.tmp, 'not-a-repo')
        os.makedirs(not_repo)
        self.start(config={'jobs': {'workspace-repo': not_repo}})
        record = self.wait_status(self.submit())
        self.assertEqual(record['status'], 'error')
        self.assertIn('git clone failed', record['error'])
        self.assertEqual(self.fake_runs(), [])
        parent = os.path.join(self.state_dir, 'job-workspaces')
        wait_for(lambda: not os.listdir(parent), 10, 'the failed clone to go')

    @smoke
    def test_empty_directory_without_a_repo(self):
        self.start()
        self.set_scenario(hang=1)
        job_id = self.submit()
        run = self.wait_running(job_id)
        cwd = run['cwd']
        self.assertEqual(os.listdir(cwd), [])
        self.assertEqual(os.path.dirname(cwd), os.path.join(self.state_dir, 'job-workspaces'))
        self.assertEqual(os.stat(cwd).st_mode & 0o777, 0o700)
        self.set_scenario()
        second = self.submit()
        self.assertEqual(self.wait_status(second)['status'], 'completed')
        other = self.fake_runs()[-1]['cwd']
        self.assertNotEqual(other, cwd)
        wait_for(lambda: not os.path.exists(other), 10, 'the directory to go')

    def test_removal_stays_inside(self):
        """Whatever the agent leaves behind, removal never follows a symlink
        out of the workspace and copes with read-only directories."""
        outside = os.path.join(self.tmp, 'outside')
        os.makedirs(os.path.join(outside, 'keep'))
        with open(os.path.join(outside, 'keep', 'file'), 'w', encoding='utf-8') as f:
            f.write('keep me\n')
        self.start()
        self.set_scenario(hang=1)
        job_id = self.submit()
        run = self.wait_running(job_id)
        cwd = run['cwd']
        os.symlink(outside, os.path.join(cwd, 'link'))
        os.symlink(os.path.join(outside, 'keep', 'file'), os.path.join(cwd, 'file-link'))
        deep = cwd
        for i in range(40):
            deep = os.path.join(deep, f'd{i}')
        os.makedirs(deep)
        with open(os.path.join(deep, 'x'), 'w', encoding='utf-8') as f:
            f.write('x')
        locked = os.path.join(cwd, 'locked')
        os.makedirs(os.path.join(locked, 'inner'))
        os.chmod(os.path.join(locked, 'inner'), 0o500)
        os.chmod(locked, 0o000)
        os.kill(run['pid'], signal.SIGTERM)
        self.assertEqual(self.wait_status(job_id)['status'], 'failed')
        wait_for(lambda: not os.path.lexists(cwd), 10, 'the workspace to go')
        with open(os.path.join(outside, 'keep', 'file'), encoding='utf-8') as f:
            self.assertEqual(f.read(), 'keep me\n')


if __name__ == '__main__':
    import unittest
    unittest.main()
