"""Breakglass power verbs: GET /api/pve/verbs, POST /api/pve/{verb}, run
through the fake ssh (tests/fakes/fake-ssh.py), which logs its argv."""
import json
import os
import threading
import urllib.parse

from cas_harness import (DaemonTestCase, FAKES_DIR, TOKEN, close_stream, pid_alive, smoke,
                         wait_for)

VERBS = ['cycle', 'forensics', 'reset', 'start', 'status', 'stop']
MUTATING = ['cycle', 'reset', 'start', 'stop']
KEY_FILE = '/run/credentials/pve-key'


def ssh_argv(verb, destination='root@pve.example', key_file=KEY_FILE):
    argv = ['-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10',
            '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
            '-o', 'LogLevel=ERROR']
    if key_file:
        argv += ['-i', key_file, '-o', 'IdentitiesOnly=yes']
    return argv + [destination, verb]


def process_group_members(pgid):
    """PIDs whose process group is pgid (zombies included)."""
    members = []
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        try:
            with open(f'/proc/{name}/stat', encoding='utf-8', errors='replace') as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces and ')'.
        fields = stat[stat.rindex(')') + 2:].split()
        if int(fields[2]) == pgid:
            members.append(int(name))
    return members


class PowerTestCase(DaemonTestCase):
    config = {'pve': {'host': 'pve.example', 'user': 'root', 'key-file': KEY_FILE}}
    start_daemon = False

    def setUp(self):
        super().setUp()
        self.ssh_log = os.path.join(self.tmp, 'fake-ssh.log')
        self.ssh_scenario = os.path.join(self.tmp, 'fake-ssh-scenario')
        self.start_with()

    def start_with(self, config=None, env=None, wait=True):
        full_env = {'FAKE_SSH_LOG': self.ssh_log, 'FAKE_SSH_SCENARIO': self.ssh_scenario}
        full_env.update(env or {})
        return self.start(config=config, env=full_env, wait=wait)

    def restart_with(self, config=None, env=None):
        self.stop_daemon()
        self.start_with(config, env)

    def ssh_scenario_set(self, **settings):
        with open(self.ssh_scenario, 'w', encoding='utf-8') as f:
            for key, value in settings.items():
                f.write(f'{key.upper()}={value}\n')

    def ssh_runs(self):
        try:
            with open(self.ssh_log, encoding='utf-8') as f:
                return [json.loads(line) for line in f if line.endswith('\n')]  # whole lines only
        except FileNotFoundError:
            return []

    def post_verb(self, verb, **kwargs):
        return self.request('POST', '/api/pve/' + verb, **kwargs)


class PowerVerbTest(PowerTestCase):
    @smoke
    def test_list_verbs(self):
        resp = self.request('GET', '/api/pve/verbs')
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.headers['Content-Type'], 'application/json')
        self.assertEqual(resp.json(), {'verbs': VERBS, 'mutating': MUTATING})
        self.assertEqual(self.ssh_runs(), [])

    @smoke
    def test_each_verb_runs_ssh(self):
        for verb in VERBS:
            resp = self.post_verb(verb)
            self.assertEqual(resp.status, 200, resp.body)
            self.assertEqual(resp.json(), {'verb': verb, 'exit_code': 0,
                                           'stdout': f'{verb}: ok\n', 'stderr': '',
                                           'rejected': False})
        runs = self.ssh_runs()
        self.assertEqual([run['argv'] for run in runs], [ssh_argv(verb) for verb in VERBS])
        for run in runs:
            # Nothing on stdin, and the daemon's secrets stay with it.
            self.assertEqual(run['stdin'], '')
            self.assertEqual(run['secrets_in_env'], [])
            # Its own process group, which a timeout kills as a whole.
            self.assertEqual(run['pgid'], run['pid'])
        for verb in MUTATING:
            self.assertIn(f'Running power verb “{verb}” on pve.example', self.daemon_output())

    def test_failure_is_502_with_exit_code_and_stderr(self):
        self.ssh_scenario_set(exit=3, stdout='', stderr='qm: VM 102 is locked (backup)\\n')
        resp = self.post_verb('reset')
        self.assertEqual(resp.status, 502)
        self.assertEqual(resp.json(), {'verb': 'reset', 'exit_code': 3, 'stdout': '',
                                       'stderr': 'qm: VM 102 is locked (backup)\n',
                                       'rejected': False})
        self.ssh_scenario_set(exit=255, stderr='ssh: connect to host pve.example port 22: '
                                               'Connection refused\\n')
        resp = self.post_verb('status')
        self.assertEqual(resp.status, 502)
        self.assertEqual(resp.json()['exit_code'], 255)
        self.assertIn('Connection refused', resp.json()['stderr'])

    def test_timeout_is_502_and_kills_the_group(self):
        self.restart_with(config={'pve': {'verb-timeout-seconds': 1},
                                  'claude': {'kill-grace-seconds': 1}})
        self.ssh_scenario_set(hang=1)
        resp = self.post_verb('cycle')
        self.assertEqual(resp.status, 502)
        self.assertEqual(resp.json(), {'verb': 'cycle', 'exit_code': None,
                                       'stdout': 'hanging\n',
                                       'stderr': 'timeout after 1s talking to PVE host',
                                       'rejected': False})
        [run] = self.ssh_runs()
        wait_for(lambda: not pid_alive(run['pid']) and not pid_alive(run['grandchild_pid']),
                 10, 'the fake ssh and its grandchild to go')
        self.assertEqual(process_group_members(run['pgid']), [])
        self.assert_no_children()
        # The daemon goes on.
        self.ssh_scenario_set()
        self.assertEqual(self.post_verb('status').status, 200)

    def test_unknown_and_hostile_verbs_spawn_nothing(self):
        hostile = ['destroy', 'STATUS', 'Status', 'status ', ' status', 'status\n',
                   'status;reboot', 'status; reboot', 'status 103', 'status&&reboot',
                   '$(reboot)', '`reboot`', '../x', '../status', 'status/../stop',
                   '-oProxyCommand=touch /tmp/x', 'status\x00', 'stat\x00us', 'verbs',
                   'здравей', '\u202estatus', 'x' * 10240, 'status' * 2000]
        for verb in hostile:
            path = '/api/pve/' + urllib.parse.quote(verb, safe='')
            resp = self.request('POST', path)
            self.assertEqual(resp.status, 400, (verb[:40], resp.body[:200]))
            if resp.body == b'':
                # libsoup's own 400, before any handler: a NUL, or a ".."
                # once decoded.
                self.assertTrue('\x00' in verb or '/' in verb, verb)
                continue
            body = resp.json()
            self.assertEqual(body['error'], 'unknown_verb')
            self.assertTrue(body['detail'].startswith("unknown verb '"), body)
            self.assertEqual(body['rejected'], True)
            self.assertIsNone(body['exit_code'])
            self.assertEqual((body['stdout'], body['stderr']), ('', ''))
            # Echoed, but cut.
            self.assertLess(len(body['verb'].encode('utf-8')), 80)
        # Unencoded, as a client might send them.
        for raw in ['/api/pve/../x', '/api/pve/status;reboot', '/api/pve/%2E%2E%2Fstatus',
                    '/api/pve/status%3Breboot', '/api/pve/status%2F..%2Fstop',
                    '/api/pve/']:
            resp = self.request('POST', raw)
            self.assertIn(resp.status, (400, 404), raw)
        # The query string is not part of the verb.
        self.assertEqual(self.request('POST', '/api/pve/status?verb=reboot').status, 200)
        # A body is no way in either.
        resp = self.request('POST', '/api/pve/destroy', body={'verb': 'status'})
        self.assertEqual(resp.status, 400)
        # Only POST runs a verb.
        self.assertEqual(self.request('GET', '/api/pve/status').status, 405)
        self.assertEqual(self.request('DELETE', '/api/pve/status').status, 405)
        self.assertEqual([run['argv'] for run in self.ssh_runs()], [ssh_argv('status')])

    def test_needs_auth(self):
        for token in (None, 'wrong', TOKEN + 'x', ''):
            self.assertEqual(self.request('GET', '/api/pve/verbs', token=token).status, 401)
            resp = self.post_verb('status', token=token)
            self.assertEqual(resp.status, 401)
            self.assertEqual(resp.json()['error'], 'unauthorized')
            resp = self.post_verb('destroy', token=token)
            self.assertEqual(resp.status, 401)
        self.assertEqual(self.ssh_runs(), [])

    def test_output_is_bounded_and_valid_json(self):
        self.ssh_scenario_set(stdout_bytes=3 * 1024 * 1024)
        resp = self.post_verb('forensics')
        self.assertEqual(resp.status, 200)
        stdout = resp.json()['stdout']
        self.assertLessEqual(len(stdout), 1024 * 1024 + 100)
        self.assertTrue(stdout.endswith('[cut: more than 1048576 bytes]\n'), stdout[-100:])
        # Invalid UTF-8, a NUL and control characters arrive as valid JSON.
        self.ssh_scenario_set(stdout_hex='61ff00621b5b324a0a', stderr='\\x01')
        resp = self.post_verb('status')
        self.assertEqual(resp.status, 200)
        # (The line reader repairs the NUL too.)
        self.assertEqual(resp.json()['stdout'], 'a\ufffd\ufffdb\x1b[2J\n')

    def test_many_at_once_are_refused_past_the_cap(self):
        self.restart_with(config={'pve': {'verb-timeout-seconds': 2},
                                  'claude': {'kill-grace-seconds': 1}})
        self.ssh_scenario_set(hang=1)
        results = []

        def run():
            results.append(self.post_verb('status').status)

        threads = [threading.Thread(target=run) for _ in range(4)]
        for thread in threads:
            thread.start()
        wait_for(lambda: len(self.ssh_runs()) == 4, 10, 'four verbs to run')
        resp = self.post_verb('stop')
        self.assertEqual(resp.status, 429)
        self.assertEqual(resp.json()['error'], 'too_many_requests')
        for thread in threads:
            thread.join()
        self.assertEqual(results, [502] * 4)
        self.assertEqual(len(self.ssh_runs()), 4)

    def test_verb_runs_on_when_the_client_goes(self):
        self.restart_with(config={'pve': {'verb-timeout-seconds': 1},
                                  'claude': {'kill-grace-seconds': 1}})
        self.ssh_scenario_set(hang=1)
        conn, resp = None, None
        import http.client
        conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=30)
        conn.request('POST', '/api/pve/stop', headers={'Authorization': f'Bearer {TOKEN}'})
        wait_for(lambda: len(self.ssh_runs()) == 1, 10, 'the verb to start')
        conn.sock.close()
        conn.close()
        # Not stopped with the client: it ends as it would have, by its
        # timeout, and nobody is answered.
        wait_for(lambda: 'Power verb “stop” ended without an exit code: timeout after 1s'
                 in self.daemon_output(), 10, 'the verb to end')
        [run] = self.ssh_runs()
        wait_for(lambda: not pid_alive(run['pid']), 10, 'the fake ssh to go')
        self.assertEqual(self.request('GET', '/api/pve/verbs').status, 200)

    def test_daemon_stops_during_a_verb(self):
        self.ssh_scenario_set(hang=1)
        results = []
        thread = threading.Thread(
            target=lambda: results.append(self._post_ignoring_errors('reset')))
        thread.start()
        wait_for(lambda: len(self.ssh_runs()) == 1, 10, 'the verb to start')
        # stop_daemon () asserts exit status 0 (no critical on the way).
        self.stop_daemon()
        thread.join()
        [run] = self.ssh_runs()
        wait_for(lambda: not pid_alive(run['pid']) and not pid_alive(run['grandchild_pid']),
                 10, 'the fake ssh and its grandchild to go')
        self.assertIn('Power verb “reset” ended without an exit code: stopped',
                      self.daemon_output())

    def _post_ignoring_errors(self, verb):
        try:
            return self.post_verb(verb).status
        except OSError:
            return None


class PowerConfigTest(PowerTestCase):
    config = {}

    def test_unconfigured_host_is_503_and_spawns_nothing(self):
        resp = self.post_verb('status')
        self.assertEqual(resp.status, 503)
        self.assertEqual(resp.json()['error'], 'not_configured')
        self.assertIn('[pve] host', resp.json()['detail'])
        # The list needs no host; an unknown verb is still 400.
        self.assertEqual(self.request('GET', '/api/pve/verbs').status, 200)
        self.assertEqual(self.post_verb('destroy').status, 400)
        self.assertEqual(self.ssh_runs(), [])

    def test_environment_names(self):
        self.restart_with(env={'BREAKGLASS_PVE_HOST': '192.0.2.7',
                               'BREAKGLASS_PVE_USER': 'breakglass'})
        self.assertEqual(self.post_verb('status').status, 200)
        [run] = self.ssh_runs()
        self.assertEqual(run['argv'], ssh_argv('status', 'breakglass@192.0.2.7', key_file=None))

    def test_host_only_and_ssh_command(self):
        # No user: ssh's own default; ssh-command names the program.
        self.restart_with(config={'pve': {'host': 'pve.example',
                                          'ssh-command': os.path.join(FAKES_DIR, 'ssh')}},
                          env={'PATH': '/usr/bin:/bin'})
        self.assertEqual(self.post_verb('status').status, 200)
        [run] = self.ssh_runs()
        self.assertEqual(run['argv'], ssh_argv('status', 'pve.example', key_file=None))

    def test_missing_ssh_is_502(self):
        self.restart_with(config={'pve': {'host': 'pve.example', 'ssh-command': 'no-such-ssh'}})
        resp = self.post_verb('status')
        self.assertEqual(resp.status, 502)
        self.assertEqual(resp.json(), {'verb': 'status', 'exit_code': None, 'stdout': '',
                                       'stderr': 'ssh command "no-such-ssh" not found',
                                       'rejected': False})

    def test_hostile_host_or_user_stops_startup(self):
        self.stop_daemon()
        for pve in ({'host': '-oProxyCommand=touch /tmp/pwned'},
                    {'host': 'pve.example', 'user': '-oProxyCommand=x'},
                    {'host': 'pve example'},
                    {'host': 'root@pve'}):
            daemon = self.start_with(config={'pve': pve}, wait=False)
            self.assertNotEqual(daemon.wait(20), 0)
            key = 'user' if 'user' in pve else 'host'
            self.assertIn(f'for [pve] {key}', self.daemon_output())
        self.assertEqual(self.ssh_runs(), [])
