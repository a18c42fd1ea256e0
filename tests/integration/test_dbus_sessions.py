"""org.ClaudeAgentService.Sessions on the harness's private bus: the
same sessions as the HTTP routes, the named errors, TurnEnded, and the
README's busctl lines run as written."""

import os
import re
import shlex
import subprocess

from gi.repository import Gio, GLib

from cas_harness import wait_for
from test_breakglass import BreakglassTestCase, UUID_RE

BUS_NAME = 'org.ClaudeAgentService'
OBJECT_PATH = '/org/ClaudeAgentService'
INTERFACE = 'org.ClaudeAgentService.Sessions'


class SessionsBusTest(BreakglassTestCase):

    def setUp(self):
        super().setUp()
        self.bus = Gio.DBusConnection.new_for_address_sync(
            os.environ['DBUS_SESSION_BUS_ADDRESS'],
            Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        self.addCleanup(self.bus.close_sync, None)
        self.turns_ended = []
        self.bus.signal_subscribe(BUS_NAME, INTERFACE, 'TurnEnded', OBJECT_PATH, None,
                                  Gio.DBusSignalFlags.NONE, self.on_turn_ended)
        wait_for(self.name_owned, 20, 'the daemon to own its bus name')

    def on_turn_ended(self, connection, sender, path, interface, signal, parameters):
        self.turns_ended.append(parameters.unpack())

    def name_owned(self):
        reply = self.bus.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus',
                                   'org.freedesktop.DBus', 'NameHasOwner',
                                   GLib.Variant('(s)', (BUS_NAME,)), None,
                                   Gio.DBusCallFlags.NONE, -1, None)
        return reply.unpack()[0]

    def call(self, method, signature=None, *args):
        parameters = GLib.Variant(signature, args) if signature else None
        return self.bus.call_sync(BUS_NAME, OBJECT_PATH, INTERFACE, method, parameters,
                                  None, Gio.DBusCallFlags.NONE, 30000, None).unpack()

    def assert_dbus_error(self, name, method, signature=None, *args):
        with self.assertRaises(GLib.Error) as caught:
            self.call(method, signature, *args)
        self.assertEqual(Gio.DBusError.get_remote_error(caught.exception), name,
                         caught.exception.message)
        return caught.exception.message

    def pump_until(self, predicate, what):
        context = GLib.MainContext.default()

        def done():
            while context.iteration(False):
                pass
            return predicate()
        return wait_for(done, 20, what)

    def test_create_prompt_turn_ended_list(self):
        (sid,) = self.call('CreateSession')
        self.assertRegex(sid, UUID_RE)
        # The HTTP side sees the same session.
        self.assertIsNotNone(self.info(sid))

        self.call('Prompt', '(ss)', sid, 'hello over the bus')
        self.pump_until(lambda: self.turns_ended, 'TurnEnded')
        ended_sid, outcome, last_event = self.turns_ended[0]
        self.assertEqual((ended_sid, outcome), (sid, 'completed'))
        kinds = self.log_kinds(sid)
        self.assertEqual(kinds[-1], 'turn_end')
        self.assertEqual(last_event, len(kinds) - 1)

        (sessions,) = self.call('ListSessions')
        entry = next(s for s in sessions if s['id'] == sid)
        self.assertEqual(set(entry), {'id', 'created', 'last-activity', 'turn-active', 'events'})
        self.assertFalse(entry['turn-active'])
        self.assertEqual(entry['events'], len(kinds))
        self.assertGreater(entry['created'], 0)

    def test_cancel_over_the_bus(self):
        (sid,) = self.call('CreateSession')
        self.assertEqual(self.call('Cancel', '(s)', sid), (False,))
        self.set_scenario(hang=1)
        self.call('Prompt', '(ss)', sid, 'a long one')
        wait_for(lambda: self.turn_pids('a long one'), 10, 'the turn to reach claude')
        self.assertEqual(self.call('Cancel', '(s)', sid), (True,))
        self.pump_until(lambda: self.turns_ended, 'TurnEnded')
        self.assertEqual(self.turns_ended[0][:2], (sid, 'cancelled'))
        self.assertEqual(self.log_kinds(sid)[-2:], ['cancelled', 'turn_end'])

    def test_named_errors(self):
        unknown = '00000000-0000-4000-8000-000000000000'
        prefix = 'org.ClaudeAgentService.Error.'
        for sid in (unknown, '../../etc', 'x' * 10000, ''):
            self.assert_dbus_error(prefix + 'NotFound', 'Prompt', '(ss)', sid, 'hi')
            self.assert_dbus_error(prefix + 'NotFound', 'Cancel', '(s)', sid)
        (sid,) = self.call('CreateSession')
        self.assert_dbus_error(prefix + 'InvalidArgument', 'Prompt', '(ss)', sid, '')
        self.assert_dbus_error(prefix + 'InvalidArgument', 'Prompt', '(ss)', sid,
                               'x' * (256 * 1024 + 1))
        self.set_scenario(hang=1)
        self.call('Prompt', '(ss)', sid, 'busy')
        self.assert_dbus_error(prefix + 'Conflict', 'Prompt', '(ss)', sid, 'again')
        # Wrong argument types never reach the daemon's code.
        with self.assertRaises(GLib.Error):
            self.call('Prompt', '(s)', sid)
        self.assertEqual(self.call('Cancel', '(s)', sid), (True,))

    def test_readme_busctl_lines(self):
        with open(os.path.join(os.environ['CAS_SRCDIR'], 'README.md'), encoding='utf-8') as f:
            lines = [line.strip() for line in f
                     if line.strip().startswith('busctl --user call org.ClaudeAgentService')
                     and '.Sessions ' in line]
        self.assertGreaterEqual(len(lines), 4, lines)
        env = dict(os.environ)
        sid = None
        for line in lines:
            if sid is not None:
                line = line.replace('SESSION_ID', sid)
            self.assertNotIn('SESSION_ID', line, 'CreateSession comes first in the README')
            done = subprocess.run(shlex.split(line), env=env, capture_output=True, text=True,
                                  timeout=30)
            self.assertEqual(done.returncode, 0, f'{line}\n{done.stderr}')
            if 'CreateSession' in line:
                sid = re.fullmatch(r's "([0-9a-f-]+)"\n', done.stdout).group(1)
        self.pump_until(lambda: self.turns_ended, 'TurnEnded after the README prompt')
