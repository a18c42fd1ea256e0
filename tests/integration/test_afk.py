"""The AFK loop end to end: the built daemon against fake GitHub, T3, ntfy
and Slack servers, driven over the class's private D-Bus. Each test
asserts what the fakes received."""
import datetime
import json
import os
import subprocess
import sys
import tempfile

import dbus
import dbusmock
from gi.repository import Gio, GLib

from cas_harness import DaemonTestCase, wait_for

sys.path.insert(0, os.environ.get('CAS_FAKES_SRCDIR', ''))
from fake_github import FakeGitHub  # noqa: E402
from fake_t3_helper import FakeT3  # noqa: E402

BUS_NAME = 'org.ClaudeAgentService'
OBJECT_PATH = '/org/ClaudeAgentService'
AFK = 'org.ClaudeAgentService.Afk'
REPO = 'acme/widgets'
READY = 'ready-for-agent'
IN_PROGRESS = 'agent-in-progress'
PYTHON = os.environ.get('CAS_PYTHON', '/usr/bin/python3')
FAKES_SRC = os.environ.get('CAS_FAKES_SRCDIR', '')
SLACK_PATH = '/services/T000/B000/XXXXXXXX'
# The lines proposed for the README (arm, tick, explain, disarm).


def readme_lines(prefix, needle):
    """The README's own command lines, run as written."""
    with open(os.path.join(os.environ['CAS_SRCDIR'], 'README.md'), encoding='utf-8') as f:
        return [line.strip() for line in f
                if line.startswith(prefix) and needle in line]


BUSCTL_LINES = readme_lines('busctl --user ', '.Afk ')
GDBUS_LINES = readme_lines('gdbus call --session ', '.Afk.')


def iso(delta_seconds=0):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=delta_seconds)
    return t.strftime('%Y-%m-%dT%H:%M:%SZ')


class PortFake:
    """fake_ntfy.py / fake_slack.py in a child process, on a free port."""

    def __init__(self, script, args=('--exit-with-stdin',)):
        self.dir = tempfile.TemporaryDirectory(prefix='fake-')
        port_file = os.path.join(self.dir.name, 'port')
        self.proc = subprocess.Popen([PYTHON, os.path.join(FAKES_SRC, script),
                                      '--port-file', port_file] + list(args),
                                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError('%s exited' % script)
            try:
                with open(port_file) as f:
                    return int(f.read())
            except (OSError, ValueError):
                return None
        self.port = wait_for(ready, 20, script + ' to listen')
        self.url = 'http://127.0.0.1:%d' % self.port

    def control(self, method, path, body=None):
        import http.client
        conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=30)
        try:
            conn.request(method, '/_fake/' + path,
                         body=json.dumps(body).encode() if body is not None else None,
                         headers={'Content-Type': 'application/json'})
            resp = conn.getresponse()
            body = resp.read()
            return json.loads(body) if body else None
        finally:
            conn.close()

    def messages(self):
        return self.control('GET', 'messages')

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        self.proc.stdin.close()
        self.dir.cleanup()


class AfkTestCase(DaemonTestCase):
    start_daemon = False

    def setUp(self):
        super().setUp()
        self.gh = FakeGitHub().start()
        self.addCleanup(self.gh.stop)
        self.t3 = FakeT3().start()
        self.addCleanup(self.t3.stop)
        self.ntfy = PortFake('fake_ntfy.py')
        self.addCleanup(self.ntfy.stop)
        self.slack = PortFake('fake_slack.py', ['--exit-with-stdin', '--webhook-path', SLACK_PATH])
        self.addCleanup(self.slack.stop)
        self.gh.add_repo(REPO, collaborators={'alice': 'admin', 'afk-bot': 'write',
                                              'mallory': 'read'})
        secrets = os.path.join(self.tmp, 'secrets')
        os.makedirs(secrets)
        self.ws = os.path.join(self.tmp, 'ws')
        os.makedirs(os.path.join(self.ws, 'acme__widgets'))
        files = {'github': self.gh.token, 't3': self.t3.token,
                 'slack': self.slack.url + SLACK_PATH}
        for name, value in files.items():
            with open(os.path.join(secrets, name), 'w') as f:
                f.write(value + '\n')
        self.afk_config = {
            'github': {'api-url': self.gh.url, 'token-file': os.path.join(secrets, 'github')},
            't3': {'base-url': self.t3.url, 'token-file': os.path.join(secrets, 't3'),
                   'workspace-base': self.ws},
            'notify': {'desktop': 'false', 'ntfy-url': self.ntfy.url, 'ntfy-topic': 'afk',
                       'slack-webhook-file': os.path.join(secrets, 'slack')},
        }
        self.bus = Gio.DBusConnection.new_for_address_sync(
            os.environ['DBUS_SESSION_BUS_ADDRESS'],
            Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        self.addCleanup(self.bus.close_sync, None)
        self.signals = []
        self.bus.signal_subscribe(None, None, None, OBJECT_PATH, None,
                                  Gio.DBusSignalFlags.NONE, self._on_signal)

    def _on_signal(self, conn, sender, path, iface, name, params):
        self.signals.append((iface, name, params.unpack()))

    def pump(self):
        ctx = GLib.MainContext.default()
        while ctx.iteration(False):
            pass

    # ---- the daemon and D-Bus ------------------------------------------

    def start_afk(self, afk=None, env=None, **more):
        config = json.loads(json.dumps(self.afk_config))
        config.setdefault('afk', {}).update(afk or {})
        for group, keys in more.items():
            config.setdefault(group, {}).update(keys)
        self.start(config=config, env=env)

        def owned():
            if self.daemon.poll() is not None:
                raise AssertionError('daemon exited:\n' + self.daemon_output())
            reply = self.bus.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus',
                                       'org.freedesktop.DBus', 'NameHasOwner',
                                       GLib.Variant('(s)', (BUS_NAME,)), None,
                                       Gio.DBusCallFlags.NONE, -1, None)
            return reply.unpack()[0]
        wait_for(owned, 20, 'the daemon to own its bus name')

    def call(self, method, args=None, timeout_ms=60000):
        reply = self.bus.call_sync(BUS_NAME, OBJECT_PATH, AFK, method, args, None,
                                   Gio.DBusCallFlags.NONE, timeout_ms, None)
        return reply.unpack()

    def prop(self, name):
        reply = self.bus.call_sync(BUS_NAME, OBJECT_PATH, 'org.freedesktop.DBus.Properties',
                                   'Get', GLib.Variant('(ss)', (AFK, name)), None,
                                   Gio.DBusCallFlags.NONE, -1, None)
        return reply.unpack()[0]

    def tick(self):
        return self.call('Tick')[0]

    def arm(self, repos=(REPO,)):
        self.call('SetAllowlist', GLib.Variant('(as)', (list(repos),)))
        self.call('SetKillSwitch', GLib.Variant('(b)', (False,)))
        self.assertTrue(self.prop('Armed'))

    def explain(self):
        return {v['issue']: v for v in self.call('Explain')[0]}

    # ---- what the fakes saw --------------------------------------------

    def gh_requests(self):
        return self.gh.requests()

    def t3_commands(self, kind=None):
        out = []
        for r in self.t3.requests():
            if r['path'] == '/api/orchestration/dispatch' and r['method'] == 'POST':
                body = r['body']
                if isinstance(body, str):
                    try:
                        body = json.loads(body)
                    except ValueError:
                        continue
                if kind is None or body.get('type') == kind:
                    out.append(body)
        return out

    def issue(self, number):
        for i in self.gh.state()['repos'][REPO]['issues']:
            if i['number'] == number:
                return i
        raise KeyError(number)

    def comments(self, number):
        return [c for c in self.gh.state()['repos'][REPO]['comments'] if c['issue'] == number]


class DisarmedTest(AfkTestCase):
    def test_disarmed_start_and_tick_make_no_request(self):
        self.start_afk()
        self.assertFalse(self.prop('Armed'))
        self.assertTrue(self.prop('KillSwitch'))
        report = self.tick()
        self.assertFalse(report['armed'])
        self.assertIn('disarmed', report['message'])
        self.assertEqual(report['dispatched'], [])
        self.assertGreater(self.prop('LastTick'), 0)
        self.assertEqual(self.gh_requests(), [])
        self.assertEqual(self.t3.requests(), [])
        self.assertEqual(self.ntfy.messages()['requests'], 0)
        self.assertEqual(self.slack.messages()['requests'], 0)


class ArmingTest(AfkTestCase):
    def test_both_gates_needed_and_persisted(self):
        self.start_afk()
        self.call('SetKillSwitch', GLib.Variant('(b)', (False,)))
        self.assertFalse(self.prop('KillSwitch'))
        self.assertFalse(self.prop('Armed'))
        self.call('SetAllowlist', GLib.Variant('(as)', ([REPO],)))
        self.assertTrue(self.prop('Armed'))
        self.assertEqual(self.prop('Allowlist'), [REPO])
        wait_for(lambda: self.pump() or any(
            n == 'PropertiesChanged' and p[0] == AFK and p[1].get('Armed') is True
            for _, n, p in self.signals), 10, 'PropertiesChanged with Armed')

        with self.assertRaises(GLib.Error) as caught:
            self.call('SetAllowlist', GLib.Variant('(as)', (['not a repo'],)))
        self.assertIn('org.ClaudeAgentService.Error.InvalidArgument', caught.exception.message)
        self.assertEqual(self.prop('Allowlist'), [REPO])

        self.stop_daemon()
        self.start_afk()
        self.assertTrue(self.prop('Armed'))
        self.assertEqual(self.prop('Allowlist'), [REPO])
        self.call('SetKillSwitch', GLib.Variant('(b)', (True,)))
        self.assertFalse(self.prop('Armed'))
        self.stop_daemon()
        self.start_afk()
        self.assertFalse(self.prop('Armed'))

    def test_hostile_arguments(self):
        self.start_afk()
        bad = [['owner/%d' % i for i in range(300)], [REPO, REPO.upper()], [''],
               ['../etc'], ['a/b/c'], ['x' * 5000 + '/y'], ['own\u0000er/x'], ['ö/x']]
        for entries in bad:
            with self.assertRaises(GLib.Error) as caught:
                self.call('SetAllowlist', GLib.Variant('(as)', (entries,)))
            self.assertIn('org.ClaudeAgentService.Error.InvalidArgument',
                          caught.exception.message)
        with self.assertRaises(GLib.Error) as caught:
            self.call('SetKillSwitch', GLib.Variant('(s)', ('false',)))
        self.assertIn('InvalidArgs', caught.exception.message)
        self.assertEqual(self.prop('Allowlist'), [])
        self.assertTrue(self.prop('KillSwitch'))
        self.assertIsNone(self.daemon.poll())
        self.assertEqual(self.gh_requests(), [])

    def test_busctl_lines(self):
        import shlex
        self.gh.add_issue(REPO, 6, 'the one', labels=[READY], labeled_by='alice')
        self.start_afk()
        outputs = []
        for line in BUSCTL_LINES:
            done = subprocess.run(shlex.split(line.replace('owner/repo', REPO)),
                                  capture_output=True, text=True, timeout=60)
            self.assertEqual(done.returncode, 0, '%s\n%s' % (line, done.stderr))
            outputs.append(done.stdout)
        self.assertEqual(len(outputs), 7, BUSCTL_LINES)
        self.assertEqual(outputs[2], 'b true\n')
        self.assertIn('"dispatch" b true', outputs[3])
        self.assertIn(IN_PROGRESS, self.issue(6)['labels'])
        self.assertFalse(self.prop('Armed'))
        self.assertEqual(len(GDBUS_LINES), 1)
        done = subprocess.run(shlex.split(GDBUS_LINES[0]), capture_output=True, text=True,
                              timeout=60)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("'gate'", done.stdout)

    def test_kill_switch_in_config_is_locked(self):
        self.start_afk(afk={'kill-switch': 'true', 'allowlist': REPO})
        with self.assertRaises(GLib.Error) as caught:
            self.call('SetKillSwitch', GLib.Variant('(b)', (False,)))
        self.assertIn('org.ClaudeAgentService.Error.KillSwitchLocked', caught.exception.message)
        self.assertTrue(self.prop('KillSwitch'))
        self.assertFalse(self.prop('Armed'))

    def test_error_in_bulgarian(self):
        self.start_afk(env={'LANGUAGE': 'bg', 'LC_ALL': 'C.UTF-8'})
        with self.assertRaises(GLib.Error) as caught:
            self.call('SetAllowlist', GLib.Variant('(as)', (['not a repo'],)))
        self.assertIn('org.ClaudeAgentService.Error.InvalidArgument', caught.exception.message)
        self.assertRegex(caught.exception.message, '[а-яА-Я]')


class SelectionTest(AfkTestCase):
    def seed(self):
        gh = self.gh
        gh.add_issue(REPO, 1, 'untrusted', labels=[READY], labeled_by='mallory')
        gh.add_issue(REPO, 2, 'by ourselves', labels=[READY], labeled_by='afk-bot')
        gh.add_issue(REPO, 3, 'paused', labels=[READY, 'paused'], labeled_by='alice')
        gh.add_issue(REPO, 4, 'a pull request', labels=[READY], labeled_by='alice',
                     pull_request=True)
        gh.add_issue(REPO, 5, 'blocked', body='Blocked by #20', labels=[READY],
                     labeled_by='alice')
        gh.add_issue(REPO, 6, 'the one', body='Blocked by #21', labels=[READY],
                     labeled_by='alice')
        gh.add_issue(REPO, 20, 'open blocker')
        gh.add_issue(REPO, 21, 'closed blocker', state='closed')

    def test_exactly_the_right_issue_is_dispatched(self):
        self.seed()
        self.start_afk()
        self.arm()
        verdicts = self.explain()
        self.assertEqual(verdicts[1]['gate'], 'untrusted-labeller')
        self.assertEqual(verdicts[2]['gate'], 'labelled-by-self')
        self.assertEqual(verdicts[3]['gate'], 'paused')
        self.assertNotIn(4, verdicts)
        self.assertEqual(verdicts[5]['gate'], 'blocked')
        self.assertEqual(verdicts[6]['gate'], '')
        self.assertTrue(verdicts[6]['dispatch'])
        self.assertEqual(sum(1 for v in verdicts.values() if v['dispatch']), 1)
        resp = self.request('GET', '/api/afk/plan')
        self.assertEqual(resp.status, 200)
        plan = {v['issue']: v for v in resp.json()}
        self.assertEqual({n: v['gate'] for n, v in plan.items()},
                         {n: v['gate'] for n, v in verdicts.items()})
        self.assertEqual(self.request('GET', '/api/afk/plan', token=None).status, 401)
        # Explain is a dry run.
        self.assertEqual(self.t3.requests(), [])
        self.assertNotIn(IN_PROGRESS, self.issue(6)['labels'])

        # T3 cannot be reached: nothing is labelled.
        self.t3.fault('/api/orchestration/dispatch', 'close')
        report = self.tick()
        self.assertEqual(report['dispatched'], [])
        self.assertNotIn(IN_PROGRESS, self.issue(6)['labels'])
        self.t3.clear_faults()

        report = self.tick()
        self.assertEqual([(d['repository'], d['issue']) for d in report['dispatched']],
                         [(REPO, 6)])
        turns = self.t3_commands('thread.turn.start')
        created = [c for c in self.t3_commands('thread.create')]
        self.assertEqual(turns[-1]['threadId'], created[-1]['threadId'])
        self.assertIn('AFK-Issue: %s#6' % REPO, turns[-1]['message']['text'])
        self.assertIn('Commit trailer',  # the issue-implementer's rules
                      turns[-1]['message']['text'])
        self.assertIn(IN_PROGRESS, self.issue(6)['labels'])
        for n in (1, 2, 3, 4, 5):
            self.assertNotIn(IN_PROGRESS, self.issue(n)['labels'])
        checklist = self.comments(6)
        self.assertEqual(len(checklist), 1)
        self.assertEqual(checklist[0]['user'], 'afk-bot')
        self.assertIn('claude-agent-service:afk-run', checklist[0]['body'])
        runs = self.call('ListRuns')[0]
        self.assertEqual([(r['repository'], r['issue'], r['phase']) for r in runs],
                         [(REPO, 6, 'dispatched')])

        # The repo is locked now: nothing more for it.
        self.gh.add_issue(REPO, 7, 'another', labels=[READY], labeled_by='alice')
        n_created = len(self.t3_commands('thread.create'))
        report = self.tick()
        self.assertEqual(report['dispatched'], [])
        self.assertEqual(len(self.t3_commands('thread.create')), n_created)
        self.assertEqual(self.explain()[7]['gate'], 'repo-locked')


class RunTestCase(AfkTestCase):
    """One issue, #6, dispatched; then the test plays the agent and CI."""

    def dispatch_one(self, afk=None):
        # An old commit naming the issue, from before the dispatch: never ours.
        self.gh.add_commit(REPO, 'main', 'a' * 40,
                           'Old work\n\nCloses #6\n\nAFK-Issue: #6', iso(-3600))
        self.gh.add_issue(REPO, 6, 'the one', labels=[READY], labeled_by='alice')
        self.start_afk(afk=afk)
        self.arm()
        report = self.tick()
        self.assertEqual([d['issue'] for d in report['dispatched']], [6])
        self.thread = report['dispatched'][0]['thread-id']
        self.bodies = [self.checklist()['body']]
        return self.thread

    def checklist(self):
        comments = self.comments(6)
        self.assertEqual(len(comments), 1, comments)
        return comments[0]

    def run_state(self):
        runs = [r for r in self.call('ListRuns')[0] if r['issue'] == 6]
        self.assertEqual(len(runs), 1)
        return runs[0]

    def push(self, sha, conclusion):
        self.gh.add_commit(REPO, 'main', sha, 'Do it\n\nAFK-Issue: #6', iso())
        status = 'completed' if conclusion else 'in_progress'
        self.gh.set_check_runs(REPO, sha, [{'name': 'build', 'status': status,
                                            'conclusion': conclusion}])

    def creates_for(self, number):
        return sum(1 for c in self.t3_commands('thread.create')
                   if c['title'].startswith('%s#%d ' % (REPO, number)))

    def turn_starts(self):
        return [c for c in self.t3_commands('thread.turn.start') if c['threadId'] == self.thread]

    def doorbells(self):
        ntfy = self.ntfy.messages()['messages']
        slack = self.slack.messages()['messages']
        return ntfy, slack

    def wait_doorbells(self, n):
        wait_for(lambda: tuple(len(x) for x in self.doorbells()) == (n, n), 20,
                 '%d doorbell(s) on ntfy and Slack' % n)
        return self.doorbells()

    def kill_and_restart(self):
        self.daemon.kill()
        self.daemon.wait()
        self.start_afk()
        self.assertTrue(self.prop('Armed'))

    def assert_done(self):
        self.assertEqual(self.run_state()['phase'], 'done')
        issue = self.issue(6)
        self.assertEqual(issue['state'], 'closed')
        self.assertNotIn(IN_PROGRESS, issue['labels'])
        ntfy, slack = self.wait_doorbells(1)
        self.assertIn('6', json.dumps(ntfy[0]))
        # The lock is gone: another issue of the repo may go.
        self.gh.add_issue(REPO, 8, 'next', labels=[READY], labeled_by='alice')
        self.assertTrue(self.explain()[8]['dispatch'])


class DoneTest(RunTestCase):
    def test_push_and_green_ci_close_the_issue(self):
        self.dispatch_one()
        self.t3.move_turn(self.thread, 'running')
        self.tick()
        self.assertEqual(self.run_state()['phase'], 'dispatched')

        self.push('b' * 40, None)
        self.tick()
        self.assertEqual(self.run_state()['phase'], 'pushed')
        self.bodies.append(self.checklist()['body'])

        self.gh.set_check_runs(REPO, 'b' * 40, [{'name': 'build', 'status': 'completed',
                                                 'conclusion': 'success'}])
        self.tick()
        self.bodies.append(self.checklist()['body'])
        self.assertEqual(len(set(self.bodies)), 3, 'the checklist is edited in every phase')
        self.assert_done()
        self.tick()
        self.assertEqual(tuple(len(x) for x in self.doorbells()), (1, 1))
        self.assertEqual(len(self.comments(6)), 1)

    def test_sigkill_between_steps(self):
        self.dispatch_one()
        self.t3.move_turn(self.thread, 'running')
        self.kill_and_restart()
        self.push('c' * 40, None)
        self.tick()
        self.assertEqual(self.run_state()['phase'], 'pushed')

        # The run file is lost too: rebuilt from the checklist comment.
        self.daemon.kill()
        self.daemon.wait()
        runs_dir = os.path.join(self.state_dir, 'afk', 'runs')
        for name in os.listdir(runs_dir):
            os.unlink(os.path.join(runs_dir, name))
        self.start_afk()
        self.gh.set_check_runs(REPO, 'c' * 40, [{'name': 'build', 'status': 'completed',
                                                 'conclusion': 'success'}])
        self.tick()
        self.assert_done()
        self.kill_and_restart()
        self.tick()
        self.assertEqual(tuple(len(x) for x in self.doorbells()), (1, 1))
        self.assertEqual(len(self.comments(6)), 1)
        self.assertEqual(self.creates_for(6), 1)


class EscalationTest(RunTestCase):
    def test_red_ci_fixes_forward_then_freezes(self):
        self.dispatch_one(afk={'fix-forward-max-attempts': '2'})
        self.t3.move_turn(self.thread, 'running')
        self.push('d' * 40, 'failure')
        self.tick()
        # Never steer a running turn.
        self.assertEqual(len(self.turn_starts()), 1)
        for attempt in (1, 2):
            self.t3.move_turn(self.thread, 'completed')
            self.tick()
            self.assertEqual(len(self.turn_starts()), 1 + attempt)
            self.assertIn('d' * 40, self.turn_starts()[-1]['message']['text'])
            self.assertEqual(self.run_state()['phase'], 'fixing')
            self.t3.move_turn(self.thread, 'running')
        self.t3.move_turn(self.thread, 'completed')
        self.tick()
        state = self.run_state()
        self.assertEqual(state['phase'], 'frozen')
        self.assertEqual(state['reason-code'], 'fix-forward-attempts')
        labels = self.issue(6)['labels']
        self.assertIn('ready-for-human', labels)
        self.assertNotIn(READY, labels)
        self.assertNotIn(IN_PROGRESS, labels)
        self.assertEqual(self.issue(6)['state'], 'open')
        ntfy, slack = self.wait_doorbells(1)
        self.assertEqual(len(self.turn_starts()), 3)
        wait_for(lambda: self.pump() or any(n == 'Escalated' for _, n, _p in self.signals),
                 10, 'the Escalated signal')

        # A frozen issue is not dispatched again...
        self.tick()
        self.assertEqual(self.creates_for(6), 1)
        self.assertEqual(tuple(len(x) for x in self.doorbells()), (1, 1))
        # ... until a person puts the ready label back: a new run.
        self.gh.add_issue(REPO, 6, 'the one', labels=[READY], labeled_by='alice')
        report = self.tick()
        self.assertEqual([d['issue'] for d in report['dispatched']], [6])
        self.assertEqual(self.creates_for(6), 2)

    def test_pending_user_input_needs_a_human(self):
        self.dispatch_one()
        self.t3.move_turn(self.thread, 'running')
        self.t3.add_user_input(self.thread)
        self.tick()
        state = self.run_state()
        self.assertEqual(state['phase'], 'needs-human')
        self.assertEqual(state['reason-code'], 'pending-user-input')
        self.assertIn('ready-for-human', self.issue(6)['labels'])
        self.wait_doorbells(1)
        self.tick()
        self.assertEqual(tuple(len(x) for x in self.doorbells()), (1, 1))


class DoorbellTest(RunTestCase):
    def test_ntfy_refusal_is_retried_while_slack_delivers(self):
        self.dispatch_one()
        self.ntfy.control('POST', 'fail?count=1&status=403')
        self.push('e' * 40, 'success')
        self.tick()
        self.assertEqual(self.run_state()['phase'], 'done')
        # Slack does not wait for ntfy; ntfy's 403 is retried, and lands once.
        wait_for(lambda: len(self.doorbells()[1]) == 1, 20, 'the Slack doorbell')
        self.tick()
        ntfy, slack = self.wait_doorbells(1)
        self.assertEqual(self.ntfy.messages()['requests'], 2)
        self.tick()
        self.assertEqual(tuple(len(x) for x in self.doorbells()), (1, 1))
        self.assertEqual(self.ntfy.messages()['requests'], 2)

    def test_disarm_button_on_the_desktop_notification(self):
        (mock, obj) = self.spawn_server_template('notification_daemon',
                                                 {'capabilities': 'actions body'},
                                                 stdout=subprocess.DEVNULL)
        self.addCleanup(mock.wait)
        self.addCleanup(mock.terminate)
        self.afk_config['notify']['desktop'] = 'true'
        self.dispatch_one()
        self.t3.move_turn(self.thread, 'running')
        self.t3.add_approval(self.thread)
        self.tick()
        self.assertEqual(self.run_state()['phase'], 'needs-human')
        wait_for(lambda: [c for c in obj.GetCalls() if c[1] == 'Notify'], 20,
                 'the desktop notification')
        notify = [c for c in obj.GetCalls() if c[1] == 'Notify'][0]
        self.assertIn('disarm', notify[2][5])
        self.assertTrue(self.prop('Armed'))
        obj.EmitSignal('org.freedesktop.Notifications', 'ActionInvoked', 'us',
                       [dbus.UInt32(1), 'disarm'], dbus_interface=dbusmock.MOCK_IFACE)
        wait_for(lambda: not self.prop('Armed'), 20, 'the loop to be disarmed')
        self.assertTrue(self.prop('KillSwitch'))

    def test_disarming_mid_run_stops_everything(self):
        self.dispatch_one()
        self.call('SetKillSwitch', GLib.Variant('(b)', (True,)))
        self.gh.clear_requests()
        self.t3.control('DELETE', 'requests')
        self.gh.add_issue(REPO, 9, 'another', labels=[READY], labeled_by='alice')
        self.push('f' * 40, 'success')
        self.gh.clear_requests()
        report = self.tick()
        self.assertFalse(report['armed'])
        self.assertEqual(self.gh_requests(), [])
        self.assertEqual(self.t3.requests(), [])
        self.assertEqual(self.run_state()['phase'], 'dispatched')
        # Armed again, the run goes on where it was.
        self.call('SetKillSwitch', GLib.Variant('(b)', (False,)))
        self.tick()
        self.assertEqual(self.run_state()['phase'], 'done')


class HostileNetworkTest(AfkTestCase):
    def test_garbage_from_github_is_retried_next_tick(self):
        self.gh.add_issue(REPO, 6, 'the one', labels=[READY], labeled_by='alice')
        self.start_afk()
        self.arm()
        self.gh.add_fault('/repos/%s/issues' % REPO, method='GET', status=200,
                          body='\udcff{not json', times=1)
        report = self.tick()
        self.assertEqual(report['dispatched'], [])
        self.gh.add_fault('/repos/%s/issues/6/events' % REPO, status=500, body='oops', times=1)
        report = self.tick()
        self.assertEqual(report['dispatched'], [])
        self.gh.add_fault('/repos/%s/issues' % REPO, method='GET', declare_length=100, times=1)
        report = self.tick()
        self.assertEqual(report['dispatched'], [])
        self.assertIsNone(self.daemon.poll())
        report = self.tick()
        self.assertEqual([d['issue'] for d in report['dispatched']], [6])

    def test_t3_business_rule_rejection_is_not_retried_blindly(self):
        self.gh.add_issue(REPO, 6, 'the one', labels=[READY], labeled_by='alice')
        self.start_afk()
        self.arm()
        self.t3.fault('/api/orchestration/dispatch', 'json', status=500,
                      body={'_tag': 'EnvironmentInternalError', 'code': 'internal_error',
                            'reason': 'orchestration_dispatch_failed'})
        self.tick()
        self.t3.clear_faults()
        sent = len(self.t3_commands())
        self.assertGreater(sent, 0)
        report = self.tick()
        self.assertEqual(report['dispatched'], [])
        self.assertEqual(len(self.t3_commands()), sent)
        self.assertNotIn(IN_PROGRESS, self.issue(6)['labels'])

    def test_a_thread_whose_turn_t3_refused_is_deleted(self):
        self.gh.add_issue(REPO, 6, 'the one', labels=[READY], labeled_by='alice')
        self.start_afk()
        self.arm()
        self.t3.fault('/api/orchestration/dispatch', 'json', status=500, command='thread.turn.start',
                      body={'_tag': 'EnvironmentInternalError', 'code': 'internal_error',
                            'reason': 'orchestration_dispatch_failed'})
        report = self.tick()
        self.assertEqual(report['dispatched'], [])
        [created] = self.t3_commands('thread.create')
        [deleted] = self.t3_commands('thread.delete')
        self.assertEqual(deleted['threadId'], created['threadId'])
        [thread] = self.t3.state()['threads']
        self.assertIsNotNone(thread['deletedAt'])
        self.assertNotIn(IN_PROGRESS, self.issue(6)['labels'])

    def test_timer_ticks_while_armed(self):
        self.gh.add_issue(REPO, 6, 'the one', labels=[READY], labeled_by='alice')
        self.start_afk(afk={'poll-interval-seconds': '1'})
        self.assertEqual(self.prop('LastTick'), 0)
        self.assertEqual(self.gh_requests(), [])
        self.arm()
        wait_for(lambda: IN_PROGRESS in self.issue(6)['labels'], 30, 'a timer tick to dispatch')
        # The label lands mid-tick; LastTick is set when the tick ends.
        wait_for(lambda: self.prop('LastTick') > 0, 30, 'LastTick')


class StartupTest(AfkTestCase):
    def test_bad_t3_url_stops_start_up(self):
        config = json.loads(json.dumps(self.afk_config))
        config['t3']['base-url'] = 'ftp://example.com'
        self.start(config=config, wait=False)
        self.assertNotEqual(self.daemon.wait(30), 0)
        self.assertIn('AFK', self.daemon_output())

    def test_bad_t3_url_with_locked_kill_switch_starts(self):
        config = json.loads(json.dumps(self.afk_config))
        config['t3']['base-url'] = 'ftp://example.com'
        config['afk'] = {'kill-switch': 'true'}
        self.start(config=config)
        self.assertIn('locked', self.daemon_output())


class RolloutTest(RunTestCase):
    """No GitHub check runs, no Woodpecker: the rollout command decides."""

    def test_rollout_command_decides_the_verdict(self):
        status = os.path.join(self.tmp, 'rollout-status')
        seen = os.path.join(self.tmp, 'rollout-seen')
        script = os.path.join(self.tmp, 'rollout.py')
        with open(script, 'w') as f:
            f.write('import os, sys\n'
                    'with open(%r, "a") as f:\n'
                    '    f.write(os.environ["AFK_REPOSITORY"] + " " + os.environ["AFK_COMMIT"]'
                    ' + "\\n")\n'
                    'sys.exit(int(open(%r).read()))\n' % (seen, status))
        with open(status, 'w') as f:
            f.write('75')
        self.afk_config['ci'] = {'rollout-command': '%s %s' % (PYTHON, script)}
        self.dispatch_one()
        self.gh.add_commit(REPO, 'main', '1' * 40, 'Do it\n\nAFK-Issue: #6', iso())
        self.tick()
        self.assertEqual(self.run_state()['phase'], 'pushed')
        with open(seen) as f:
            self.assertEqual(f.read(), '%s %s\n' % (REPO, '1' * 40))
        with open(status, 'w') as f:
            f.write('0')
        self.tick()
        self.assert_done()


class WoodpeckerTest(RunTestCase):
    """GitHub green is not enough while Woodpecker is configured."""

    def test_woodpecker_pipeline_after_github(self):
        wp = PortFake('fake_woodpecker.py', ())
        self.addCleanup(wp.stop)
        token = os.path.join(self.tmp, 'secrets', 'woodpecker')
        with open(token, 'w') as f:
            f.write('fake-woodpecker-token\n')
        self.afk_config['ci'] = {'woodpecker-url': wp.url, 'woodpecker-token-file': token}
        wp.control('POST', 'repos', {'full_name': REPO})
        self.dispatch_one()
        sha = '2' * 40
        self.t3.move_turn(self.thread, 'running')
        self.push(sha, None)
        self.tick()
        # GitHub pending decides: Woodpecker is not asked.
        self.assertEqual(self.run_state()['phase'], 'pushed')
        self.assertEqual(wp.control('GET', 'requests'), [])
        self.gh.set_check_runs(REPO, sha, [{'name': 'build', 'status': 'completed',
                                            'conclusion': 'success'}])
        wp.control('POST', 'pipelines', {'repo': REPO, 'commit': sha, 'status': 'running',
                                         'number': 1})
        self.tick()
        self.assertEqual(self.run_state()['phase'], 'pushed')
        self.assertEqual(self.run_state()['ci'], 'pending')
        wp.control('POST', 'pipelines', {'repo': REPO, 'commit': sha, 'status': 'failure',
                                         'number': 1})
        self.tick()
        self.assertEqual(self.run_state()['ci'], 'red')
        self.assertIn(self.run_state()['phase'], ('pushed', 'fixing'))
        self.assertNotEqual(self.issue(6)['state'], 'closed')
        self.assertTrue(all(r['authorization'] == 'Bearer fake-woodpecker-token'
                            for r in wp.control('GET', 'requests')))


class StateFileTest(AfkTestCase):
    def test_corrupt_run_file_is_set_aside(self):
        runs = os.path.join(self.state_dir, 'afk', 'runs')
        os.makedirs(runs)
        with open(os.path.join(runs, 'acme__widgets__6.json'), 'wb') as f:
            f.write(b'{"version": 1, "repo": "../../etc", \xff')
        with open(os.path.join(runs, 'acme__widgets__7.json'), 'w') as f:
            f.write('{"version": 99}')
        # A message, not a warning (that is for our own faults): the daemon starts.
        self.start_afk()
        self.assertEqual(self.call('ListRuns')[0], [])
        self.assertTrue(os.path.exists(os.path.join(runs, 'acme__widgets__6.json.corrupt')))
        self.assertTrue(os.path.exists(os.path.join(runs, 'acme__widgets__7.json.corrupt')))
        self.assertIn('set aside', self.daemon_output())

    def test_two_ticks_at_once_are_both_answered(self):
        self.gh.add_issue(REPO, 6, 'the one', labels=[READY], labeled_by='alice')
        self.start_afk()
        self.arm()
        replies = []

        def done(conn, res):
            replies.append(conn.call_finish(res).unpack()[0])
        for _ in range(3):
            self.bus.call(BUS_NAME, OBJECT_PATH, AFK, 'Tick', None, None,
                          Gio.DBusCallFlags.NONE, 60000, None, done)
        wait_for(lambda: self.pump() or len(replies) == 3, 60, 'three Tick replies')
        self.assertEqual(sum(len(r['dispatched']) for r in replies), 1)
        self.assertEqual(len(self.t3_commands('thread.create')), 1)
