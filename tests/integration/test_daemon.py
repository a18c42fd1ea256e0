"""Process-level behaviour: signals, options, config errors, the bus name."""
import json
import os
import subprocess
import time
import unittest

import dbus

from cas_harness import DAEMON, DaemonTestCase, smoke, wait_for


class LifecycleTest(DaemonTestCase):
    @smoke
    def test_sigterm_stops_within_five_seconds(self):
        status, elapsed = self.stop_daemon()
        self.assertEqual(status, 0)
        self.assertLess(elapsed, 5)

    def test_sigint_stops(self):
        self.daemon.send_signal(2)
        self.assertEqual(self.daemon.wait(20), 0)

    def test_owns_bus_name(self):
        bus = dbus.SessionBus()
        wait_for(lambda: bus.name_has_owner('org.ClaudeAgentService'), 10, 'the bus name')

    def test_second_instance_needs_replace(self):
        bus = dbus.SessionBus()
        wait_for(lambda: bus.name_has_owner('org.ClaudeAgentService'), 10, 'the bus name')
        first = self.daemon
        other_port = self.port
        second = subprocess.run([DAEMON, '--config', self.config_path],
                                env=self.make_env({'G_DEBUG': ''}),
                                capture_output=True, text=True, timeout=20,
                                input='')
        # The config names the first one's port, so either the port or the
        # bus name stops it: both must be a clean failure with words.
        self.assertEqual(second.returncode, 1)
        self.assertTrue(second.stderr.strip())
        self.assertIsNone(first.poll())
        self.assertEqual(self.request('GET', '/health').status, 200)
        del other_port

    def test_replace_takes_over_the_name(self):
        bus = dbus.SessionBus()
        wait_for(lambda: bus.name_has_owner('org.ClaudeAgentService'), 10, 'the bus name')
        first = self.daemon
        first_owner = bus.get_name_owner('org.ClaudeAgentService')
        self.start(args=['--replace'])
        self.assertEqual(first.wait(20), 1)
        wait_for(lambda: bus.get_name_owner('org.ClaudeAgentService') != first_owner,
                 10, 'the new owner')


class NoBusTest(DaemonTestCase):
    start_daemon = False

    def test_http_works_without_a_bus(self):
        self.start(env={'DBUS_SESSION_BUS_ADDRESS': 'unix:path=/nonexistent/bus',
                        'G_DEBUG': 'fatal-criticals'})
        self.assertEqual(self.request('GET', '/health').status, 200)
        wait_for(lambda: 'No session bus' in self.daemon_output(), 10, 'the warning')


class OptionsTest(DaemonTestCase):
    start_daemon = False

    def run_daemon(self, *args, env=None):
        return subprocess.run([DAEMON, *args], env=self.make_env(env),
                              capture_output=True, text=True, timeout=30)

    @smoke
    def test_version(self):
        out = self.run_daemon('--version')
        self.assertEqual(out.returncode, 0)
        self.assertRegex(out.stdout, r'^claude-agent-service \d+\.\d+\.\d+\n$')

    def test_help_lists_options(self):
        out = self.run_daemon('--help')
        self.assertEqual(out.returncode, 0)
        for option in ('--config', '--replace', '--verbose', '--version'):
            self.assertIn(option, out.stdout)

    def test_help_in_bulgarian(self):
        # Only C and C.UTF-8 exist here: LANGUAGE needs a non-C LC_ALL.
        out = self.run_daemon('--help', env={'LC_ALL': 'C.UTF-8', 'LANGUAGE': 'bg'})
        self.assertEqual(out.returncode, 0)
        self.assertIn('Извежда версията и излиза', out.stdout)

    def test_config_error_in_bulgarian(self):
        path = self.write_config('[afk]\nkill-switch=maybe\n')
        out = self.run_daemon('--config', path, env={'LC_ALL': 'C.UTF-8', 'LANGUAGE': 'bg'})
        self.assertEqual(out.returncode, 1)
        self.assertIn('Невалидна стойност „maybe“ за [afk] kill-switch', out.stderr)

    def test_unknown_option(self):
        out = self.run_daemon('--frobnicate')
        self.assertEqual(out.returncode, 1)
        self.assertIn('frobnicate', out.stderr)

    def test_missing_config_file(self):
        out = self.run_daemon('--config', os.path.join(self.tmp, 'nope.ini'))
        self.assertEqual(out.returncode, 1)
        self.assertIn('nope.ini', out.stderr)

    def write_config(self, text):
        path = os.path.join(self.tmp, 'bad.ini')
        with open(path, 'w', encoding='utf-8') as f:
            f.write(text)
        return path

    def test_bad_boolean_names_key_value_and_forms(self):
        path = self.write_config('[afk]\nkill-switch=maybe\n')
        out = self.run_daemon('--config', path)
        self.assertEqual(out.returncode, 1)
        for word in ('kill-switch', 'maybe', '[afk]', 'true', 'off'):
            self.assertIn(word, out.stderr)

    def test_bad_port(self):
        path = self.write_config('[http]\nport=99999\n')
        out = self.run_daemon('--config', path)
        self.assertEqual(out.returncode, 1)
        self.assertIn('port', out.stderr)
        self.assertIn('65535', out.stderr)

    def test_bad_environment_value_names_variable(self):
        out = self.run_daemon('--config', self.write_config(''),
                              env={'MAX_CONCURRENCY': 'lots'})
        self.assertEqual(out.returncode, 1)
        self.assertIn('MAX_CONCURRENCY', out.stderr)
        self.assertIn('lots', out.stderr)

    def test_garbage_config_file(self):
        out = self.run_daemon('--config', self.write_config('\x00\xff not ini ['))
        self.assertEqual(out.returncode, 1)
        self.assertIn('bad.ini', out.stderr)

    def test_address_must_be_an_ip(self):
        out = self.run_daemon('--config', self.write_config('[http]\naddress=example.com\n'))
        self.assertEqual(out.returncode, 1)
        self.assertIn('example.com', out.stderr)

    def test_default_config_location_is_optional(self):
        # No --config and no file: built-in defaults (port 8080 may be
        # taken on a shared machine, so only check it gets past config).
        proc = subprocess.Popen([DAEMON], env=self.make_env({'G_DEBUG': ''}),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 20
            seen = ''
            while time.monotonic() < deadline and 'Listening' not in seen and proc.poll() is None:
                seen += proc.stdout.readline()
            if proc.poll() is None:
                self.assertIn('http://127.0.0.1:8080', seen)
            else:
                self.assertIn('8080', proc.stdout.read() + seen)
        finally:
            if proc.poll() is None:
                proc.terminate()
            proc.wait(20)
            proc.stdout.close()


if __name__ == '__main__':
    unittest.main()


class AgentsTest(DaemonTestCase):
    """Our agents are built in: a daemon started from anywhere has them, and
    ~/.config/claude-agent-service/agents/NAME.md overrides one."""
    start_daemon = False
    # No variable points the daemon at the source tree.
    env = {'CAS_AGENTS_DIR': None}

    def chat_agents(self):
        resp = self.request('POST', '/v1/chat/completions',
                            {'model': 'sonnet', 'messages': [{'role': 'user', 'content': 'Hi'}]})
        self.assertEqual(resp.status, 200, resp.body)
        argv = self.fake_runs()[-1]['argv']
        self.assertIn('--agent=conversational', argv)
        given = [a for a in argv if a.startswith('--agents=')]
        self.assertEqual(len(given), 1, argv)
        return json.loads(given[0][len('--agents='):])

    def override_dir(self):
        path = os.path.join(self.tmp, 'config', 'claude-agent-service', 'agents')
        os.makedirs(path, exist_ok=True)
        return path

    @smoke
    def test_uninstalled_daemon_passes_its_agents(self):
        self.start()
        agents = self.chat_agents()
        self.assertEqual(list(agents), ['conversational'])
        self.assertEqual(agents['conversational']['tools'], [])
        self.assertTrue(agents['conversational']['prompt'])
        self.assertNotIn('built-in agent', self.daemon_output())

    def test_override_by_name(self):
        with open(os.path.join(self.override_dir(), 'conversational.md'), 'w',
                  encoding='utf-8') as f:
            f.write('---\nname: conversational\ndescription: Mine\ntools: ""\n---\n'
                    'Отговаряй на български.\n')
        self.start()
        self.assertEqual(self.chat_agents()['conversational']['prompt'], 'Отговаряй на български.')

    def test_bad_override_keeps_the_builtin(self):
        path = os.path.join(self.override_dir(), 'conversational.md')
        with open(path, 'w', encoding='utf-8') as f:
            f.write('---\nname: conversational\n---\nno description\n')
        self.start()
        self.assertIn(f'Using the built-in agent instead of {path}', self.daemon_output())
        self.assertNotEqual(self.chat_agents()['conversational']['prompt'], 'no description')
