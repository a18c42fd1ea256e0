"""`build-aux/cas-dev run`, the README's first command, as a new user runs
it: from their own directory, with a relative --config, on a machine with
no session bus, stopped by a signal to its PID."""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import unittest

from cas_harness import (FAKES_DIR, TIMEOUT_MULTIPLIER, TOKEN, children_of, free_port,
                         pid_alive, wait_for, write_ini)

SRCDIR = os.environ.get('CAS_SRCDIR')
BUILDDIR = os.environ.get('CAS_BUILDDIR')


def command_of(pid):
    try:
        with open(f'/proc/{pid}/cmdline', 'rb') as f:
            return f.read().split(b'\0')[0].decode()
    except FileNotFoundError:
        return ''


def port_open(port):
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=1):
            return True
    except OSError:
        return False


class DevRunTest(unittest.TestCase):

    def setUp(self):
        if not SRCDIR or not BUILDDIR:
            raise unittest.SkipTest('run through meson test')
        self.tmp = tempfile.mkdtemp(prefix='cas-dev-test-')
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.work = os.path.join(self.tmp, 'work')
        self.log_path = os.path.join(self.tmp, 'run.log')
        os.makedirs(self.work)
        os.makedirs(os.path.join(self.tmp, 'runtime'), mode=0o700)
        self.script = None

    @staticmethod
    def kill_run(script):
        # A failed test must not leave the daemon or its bus behind, even
        # when the script itself is gone: each run is its own session.
        try:
            os.killpg(script.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        script.wait()

    def output(self):
        with open(self.log_path, encoding='utf-8', errors='replace') as f:
            return f.read()

    def start_run(self, config='daemon.ini'):
        """Runs `cas-dev run --config CONFIG` from the user's own directory
        (where a relative CONFIG is), without a session bus; returns the
        daemon's port."""
        port = free_port()
        write_ini(os.path.join(self.work, 'daemon.ini'),
                  {'http': {'address': '127.0.0.1', 'port': port}})
        env = {k: v for k, v in os.environ.items() if k != 'DBUS_SESSION_BUS_ADDRESS'}
        env.update({
            'HOME': os.path.join(self.tmp, 'home'),
            'XDG_CONFIG_HOME': os.path.join(self.tmp, 'config'),
            'XDG_STATE_HOME': os.path.join(self.tmp, 'state'),
            'XDG_RUNTIME_DIR': os.path.join(self.tmp, 'runtime'),
            'TMPDIR': self.tmp,
            'PATH': FAKES_DIR + ':' + os.environ.get('PATH', '/usr/bin:/bin'),
            'API_BEARER_TOKEN': TOKEN,
            'CAS_BUILD_DIR': BUILDDIR,
        })
        with open(self.log_path, 'wb') as log:
            self.script = subprocess.Popen(
                [os.path.join(SRCDIR, 'build-aux', 'cas-dev'), 'run', '--config', config],
                cwd=self.work, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
                # A suite run under nohup would hand down an ignored SIGHUP,
                # which a shell can neither trap nor reset.
                preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL))
        self.addCleanup(self.kill_run, self.script)

        def up():
            if self.script.poll() is not None:
                raise AssertionError('cas-dev run exited with %d:\n%s' %
                                     (self.script.returncode, self.output()))
            return port_open(port)
        wait_for(up, 60, 'the daemon started by cas-dev run to listen')
        return port

    def test_relative_config_is_found_where_the_command_was_typed(self):
        port = self.start_run(config='daemon.ini')
        # Logged just after the port opens, so possibly just after we saw it.
        wait_for(lambda: f'Listening on http://127.0.0.1:{port}' in self.output(), 10,
                 'the line saying where it listens')

    def test_private_bus_is_printed_and_usable(self):
        self.start_run(config=os.path.join(self.work, 'daemon.ini'))
        match = wait_for(lambda: re.search(
            r'check it with: (DBUS_SESSION_BUS_ADDRESS=(\S+)) busctl --user status '
            r'org\.ClaudeAgentService', self.output()), 10, 'the line to check the bus')
        address = match.group(2)
        daemons = [p for p in children_of(self.script.pid)
                   if command_of(p).endswith('claude-agent-service')]
        self.assertEqual(len(daemons), 1, self.output())

        def owned():
            done = subprocess.run(['busctl', '--user', 'status', 'org.ClaudeAgentService'],
                                  env=dict(os.environ, DBUS_SESSION_BUS_ADDRESS=address),
                                  capture_output=True, text=True)
            return done.returncode == 0 and f'PID={daemons[0]}' in done.stdout
        wait_for(owned, 10, 'busctl --user status to find the daemon')
        self.assertNotIn('Failed to set fd limit', self.output())

    def test_signal_to_the_script_stops_everything(self):
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            with self.subTest(signal=signum.name):
                port = self.start_run(config=os.path.join(self.work, 'daemon.ini'))
                started = children_of(self.script.pid)
                self.assertEqual(len(started), 2, self.output())   # the daemon and its bus
                os.kill(self.script.pid, signum)
                try:
                    status = self.script.wait(20 * TIMEOUT_MULTIPLIER)
                except subprocess.TimeoutExpired:
                    processes = subprocess.run(['ps', '-o', 'pid,ppid,stat,wchan:24,args',
                                                '--ppid', str(self.script.pid),
                                                '-p', str(self.script.pid)],
                                               capture_output=True, text=True).stdout
                    self.fail('cas-dev run did not stop on %s:\n%s\n%s' %
                              (signum.name, self.output(), processes))
                self.assertEqual(status, 0, self.output())
                for pid in started:
                    wait_for(lambda: not pid_alive(pid), 5, f'{command_of(pid)} to stop')
                self.assertFalse(port_open(port))
                self.assertEqual([n for n in os.listdir(self.tmp) if n.startswith('cas-dev-bus')],
                                 [])
                # Stopping is quiet: the bus outlives the daemon.
                after = self.output().split('Stopping', 1)
                self.assertEqual(len(after), 2, self.output())
                for word in ('WARNING', 'CRITICAL', 'rror'):
                    self.assertNotIn(word, after[1])


if __name__ == '__main__':
    unittest.main()
