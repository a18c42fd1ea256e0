"""The breakglass web UI in headless Chromium, as a 390x844 phone, in
English and in Bulgarian (chosen by --accept-lang).

Run through meson like the integration tests (tests/ui/meson.build): each
test gets its own daemon (DaemonTestCase) and its own browser profile.
Screenshots land in the build's meson-logs/ as ui-<what>-<lang>.png.

ConsoleFlowTest and RealLoginAndPowerTest drive the daemon's own API
(login, sessions and their event stream, Stop, power verbs through the
fake ssh). StubConsoleTest runs the same flows against stub_api.py, a
stand-in for that API in front of the daemon's real UI files that can
misbehave on purpose (replays that ignore Last-Event-ID, refused streams).
"""
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'integration'))
from cas_harness import DaemonTestCase, TOKEN, wait_for  # noqa: E402
from stub_api import StubApi  # noqa: E402

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

CHROMIUM = os.environ.get('CAS_CHROMIUM', '/usr/bin/chromium')
CHROMEDRIVER = os.environ.get('CAS_CHROMEDRIVER', '/usr/bin/chromedriver')
WIDTH, HEIGHT = 390, 844
MIN_TAP = 44

# What the page must say in each language (data/ui/app.js STRINGS).
EXPECTED = {
    'en': {'title': 'Breakglass', 'login': 'Log in', 'token': 'API token',
           'bad_token': 'Wrong token.', 'live': 'Live', 'stopped': 'Stopped.',
           'preset': 'What is using the disk?', 'preset2': 'Why is the VM slow?',
           'reset': 'Reset'},
    'bg': {'title': 'Аварийна конзола', 'login': 'Вход', 'token': 'API токен',
           'bad_token': 'Грешен токен.', 'live': 'На живо', 'stopped': 'Спряно.',
           'preset': 'Какво заема диска?', 'preset2': 'Защо виртуалната машина е бавна?',
           'reset': 'Рестарт'},
}


class BrowserTestCase(DaemonTestCase):
    """A daemon, and a fresh headless Chromium emulating a phone."""

    def open_browser(self, lang):
        profile = tempfile.mkdtemp(prefix='cas-chromium-', dir=self.tmp)
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ('--headless=new', '--no-sandbox', '--disable-gpu',
                    '--disable-background-networking', '--disable-dev-shm-usage',
                    '--disable-extensions', '--no-first-run', '--no-default-browser-check',
                    f'--user-data-dir={profile}', f'--accept-lang={lang}', f'--lang={lang}'):
            options.add_argument(arg)
        options.add_experimental_option('prefs', {'intl.accept_languages': lang})
        options.add_experimental_option('mobileEmulation', {
            'deviceMetrics': {'width': WIDTH, 'height': HEIGHT, 'pixelRatio': 3.0, 'touch': True},
            'userAgent': ('Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 '
                          '(KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36'),
        })
        options.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
        service = Service(CHROMEDRIVER, log_path=os.path.join(self.tmp, 'chromedriver.log'))
        driver = webdriver.Chrome(service=service, options=options)
        self.addCleanup(driver.quit)
        driver.set_page_load_timeout(60)
        self.lang = lang
        self.driver = driver
        self.console = []
        return driver

    def url(self, path='/'):
        return f'http://127.0.0.1:{self.port}{path}'

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def wait_js(self, script, what, timeout=20):
        return wait_for(lambda: self.js(script), timeout, what)

    def visible(self, element_id):
        return self.js(f"const e = document.getElementById('{element_id}');"
                       "return !!e && e.getClientRects().length > 0 && !e.closest('[hidden]');")

    def wait_visible(self, element_id, timeout=20):
        wait_for(lambda: self.visible(element_id), timeout, f'#{element_id} to show')

    def text(self, selector):
        return self.js('const e = document.querySelector(arguments[0]); return e ? e.textContent : null;',
                       selector)

    def collect_console(self):
        self.console += self.driver.get_log('browser')
        return self.console

    def console_errors(self, allow=()):
        return [entry for entry in self.collect_console()
                if entry.get('level') == 'SEVERE'
                and not any(a in entry.get('message', '') for a in allow)]

    def screenshot(self, name):
        build = os.environ.get('CAS_BUILDDIR', self.tmp)
        directory = os.path.join(build, 'meson-logs')
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, f'ui-{name}-{self.lang}.png')
        self.assertTrue(self.driver.save_screenshot(path), path)
        return path

    def tap_targets(self):
        """Every visible control, with its size in CSS pixels."""
        return self.js('''
            const controls = document.querySelectorAll(
              'button, a[href], input, select, textarea, summary, [role="button"]');
            const out = [];
            for (const e of controls) {
              if (e.closest('[hidden]') || e.closest('dialog:not([open])')) continue;
              const r = e.getBoundingClientRect();
              if (r.width === 0 || r.height === 0) continue;
              if (getComputedStyle(e).visibility === 'hidden') continue;
              out.push({what: e.id || e.className || e.tagName, text: e.textContent.trim(),
                        width: r.width, height: r.height});
            }
            return out;''')

    def assert_tap_targets(self, at_least):
        targets = self.tap_targets()
        self.assertGreaterEqual(len(targets), at_least, targets)
        for target in targets:
            with self.subTest(target=target['what'], text=target['text'][:30]):
                self.assertGreaterEqual(target['height'], MIN_TAP, target)
                self.assertGreaterEqual(target['width'], MIN_TAP, target)

    def assert_fits_the_phone(self):
        width = self.js('return window.innerWidth')
        self.assertEqual(width, WIDTH)
        # Readable without zoom: nothing wider than the screen.
        self.assertLessEqual(self.js('return document.documentElement.scrollWidth'), WIDTH)
        font = self.js('return parseFloat(getComputedStyle(document.body).fontSize)')
        self.assertGreaterEqual(font, 16)

    # --- the console ---

    def log_in(self):
        self.driver.get(self.url())
        self.wait_visible('login-view')
        self.driver.find_element(By.ID, 'token').send_keys(TOKEN)
        self.driver.find_element(By.ID, 'login-button').click()
        self.wait_visible('console-view')

    def transcript(self):
        """The transcript as the user sees it: (class, text) per message."""
        return self.js('''return [...document.querySelectorAll('#turns .msg, #turns .tool summary')]
                          .map(e => [e.className, e.textContent]);''')

    def click_preset(self, text):
        def find():
            for button in self.driver.find_elements(By.CSS_SELECTOR, '#presets button'):
                try:
                    if button.text == text and button.is_enabled():
                        return button
                except StaleElementReferenceException:
                    return None
            return None
        wait_for(find, 20, f'preset {text!r}').click()

    def wait_live(self):
        self.wait_js("return document.getElementById('conn').dataset.state === 'live'",
                     'the connection to be live')
        self.assertEqual(self.text('#conn-text'), EXPECTED[self.lang]['live'])


class LoginPageTest(BrowserTestCase):
    """What this branch serves: the page, its language, its layout."""

    def check_login_page(self, lang):
        self.open_browser(lang)
        self.driver.get(self.url())
        self.wait_visible('login-view')
        expected = EXPECTED[lang]
        self.assertEqual(self.js('return document.documentElement.lang'), lang)
        self.assertEqual(self.driver.title, expected['title'])
        self.assertEqual(self.text('#login-button'), expected['login'])
        self.assertEqual(self.text('label[for="token"]'), expected['token'])
        self.assertFalse(self.visible('console-view'))
        # A first visit asks nothing of the API: not logged in, nothing to try.
        self.assertEqual(self.js("return document.getElementById('conn').dataset.state"), 'idle')
        self.assert_fits_the_phone()
        self.assert_tap_targets(at_least=2)
        self.screenshot('login')
        # Dark when the phone is: the colours follow prefers-color-scheme.
        light = self.js('return getComputedStyle(document.body).backgroundColor')
        self.driver.execute_cdp_cmd('Emulation.setEmulatedMedia', {
            'features': [{'name': 'prefers-color-scheme', 'value': 'dark'}]})
        self.wait_js(f"return getComputedStyle(document.body).backgroundColor !== {json.dumps(light)}",
                     'the dark colours')
        self.screenshot('login-dark')
        self.assertEqual(self.console_errors(), [])

    def test_login_page_en(self):
        self.check_login_page('en')

    def test_login_page_bg(self):
        self.check_login_page('bg')

    def check_manifest_linked(self, lang):
        self.open_browser(lang)
        self.driver.get(self.url())
        self.wait_visible('login-view')
        manifest = self.driver.execute_async_script('''
            const done = arguments[arguments.length - 1];
            const link = document.querySelector('link[rel="manifest"]');
            fetch(link.href).then(r => r.json()).then(m => done({manifest: m, href: link.href}),
                                                       e => done({error: String(e)}));''')
        self.assertNotIn('error', manifest)
        self.assertEqual(manifest['href'], self.url('/manifest.webmanifest'))
        self.assertEqual(manifest['manifest']['start_url'], '/')
        self.assertEqual(manifest['manifest']['display'], 'standalone')
        theme = self.js("return document.querySelector('meta[name=\"theme-color\"]').content")
        self.assertEqual(theme, manifest['manifest']['theme_color'])
        # Every icon the manifest names loads as an image.
        for icon in manifest['manifest']['icons']:
            with self.subTest(icon=icon['src']):
                size = self.driver.execute_async_script('''
                    const done = arguments[arguments.length - 1];
                    const img = new Image();
                    img.onload = () => done([img.naturalWidth, img.naturalHeight]);
                    img.onerror = () => done(null);
                    img.src = arguments[0];''', icon['src'])
                self.assertIsNotNone(size)
                if icon['sizes'] != 'any':
                    self.assertEqual(f'{size[0]}x{size[1]}', icon['sizes'])
        # Chromium's own verdict: the page can be installed as an app.
        def verdict():
            errors = self.driver.execute_cdp_cmd('Page.getInstallabilityErrors', {})
            return errors.get('installabilityErrors')
        self.assertEqual(verdict(), [])
        self.assertEqual(self.console_errors(), [])

    def test_manifest_linked_en(self):
        self.check_manifest_linked('en')

    def test_manifest_linked_bg(self):
        self.check_manifest_linked('bg')

    def check_wrong_token(self, lang):
        # A wrong token is 401 from POST /api/login; on a branch without
        # the login route every unauthenticated /api/ request is 401 too.
        self.open_browser(lang)
        self.driver.get(self.url())
        self.wait_visible('login-view')
        self.driver.find_element(By.ID, 'token').send_keys('not-the-token')
        self.driver.find_element(By.ID, 'login-button').click()
        self.wait_js("return document.getElementById('login-error').textContent !== ''",
                     'the login error')
        self.assertEqual(self.text('#login-error'), EXPECTED[lang]['bad_token'])
        self.assertFalse(self.visible('console-view'))
        self.assertEqual(self.js("return localStorage.getItem('cas.breakglass.loggedIn')"), None)
        self.screenshot('wrong-token')
        # The 401 itself is logged by Chromium as a failed resource; nothing else.
        self.assertEqual(self.console_errors(allow=('/api/login',)), [])

    def test_wrong_token_en(self):
        self.check_wrong_token('en')

    def test_wrong_token_bg(self):
        self.check_wrong_token('bg')

    def test_language_fallback_is_english(self):
        self.open_browser('de')
        self.driver.get(self.url())
        self.wait_visible('login-view')
        self.assertEqual(self.js('return document.documentElement.lang'), 'en')
        self.assertEqual(self.text('#login-button'), EXPECTED['en']['login'])


class RealLoginAndPowerTest(BrowserTestCase):
    """The daemon's own POST /api/login and power verbs (through the fake
    ssh): what the phone needs when the VM is down, with no AI in the way."""

    config = {'pve': {'host': 'pve.example', 'user': 'root', 'key-file': '/run/credentials/pve-key'}}
    start_daemon = False
    def setUp(self):
        super().setUp()
        self.ssh_log = os.path.join(self.tmp, 'fake-ssh.log')
        self.ssh_scenario = os.path.join(self.tmp, 'fake-ssh-scenario')
        self.start(env={'FAKE_SSH_LOG': self.ssh_log, 'FAKE_SSH_SCENARIO': self.ssh_scenario})

    def ssh_verbs(self):
        try:
            with open(self.ssh_log, encoding='utf-8') as f:
                return [json.loads(line)['argv'][-1] for line in f if line.endswith('\n')]
        except FileNotFoundError:
            return []

    def verb_button(self, verb):
        return self.driver.find_element(By.CSS_SELECTOR, f'#power-verbs [data-verb="{verb}"]')

    def power_result(self):
        return self.js("return [...document.querySelectorAll('#power-result > *')]"
                       ".map(e => e.textContent)")

    def check_login_power_logout(self, lang):
        self.open_browser(lang)
        self.log_in()
        # The session cookie is the browser's alone.
        self.assertNotIn('cas', self.js('return document.cookie'))
        self.driver.find_element(By.ID, 'power-open').click()
        self.wait_js("return document.querySelectorAll('#power-verbs button').length === 6",
                     'the verbs')
        # Read-only first.
        order = self.js("return [...document.querySelectorAll('#power-verbs button')]"
                        ".map(b => b.dataset.verb)")
        self.assertEqual(order[:2], ['forensics', 'status'])

        self.verb_button('status').click()
        wait_for(lambda: 'status: ok\n' in self.power_result(), 20, 'the status output')
        self.assertEqual(self.ssh_verbs(), ['status'])

        # Mutating: nothing runs until confirmed.
        self.verb_button('reset').click()
        self.wait_visible('power-confirm')
        self.assertIn(EXPECTED[lang]['reset'], self.text('#power-confirm-text'))
        self.driver.find_element(By.ID, 'power-cancel').click()
        self.assertEqual(self.ssh_verbs(), ['status'])
        self.verb_button('reset').click()
        self.wait_visible('power-confirm')
        self.driver.find_element(By.ID, 'power-go').click()
        wait_for(lambda: 'reset: ok\n' in self.power_result(), 20, 'the reset output')
        self.assertEqual(self.ssh_verbs(), ['status', 'reset'])

        # A failure (502) says so, with the host's words.
        with open(self.ssh_scenario, 'w', encoding='utf-8') as f:
            f.write('EXIT=3\nSTDOUT=\nSTDERR=qm: VM 102 is locked (backup)\\n\n')
        self.verb_button('stop').click()
        self.wait_visible('power-confirm')
        self.driver.find_element(By.ID, 'power-go').click()
        wait_for(lambda: 'qm: VM 102 is locked (backup)\n' in self.power_result(), 20,
                 'the failure')
        self.assertIn('3', self.text('#power-result .status'))
        self.assertIn('bad', self.js("return document.querySelector('#power-result .status').className"))
        self.assert_tap_targets(at_least=9)
        self.screenshot('real-power')

        # Logged out for real: the cookie no longer opens the API.
        self.driver.find_element(By.ID, 'power-close').click()
        self.driver.find_element(By.ID, 'logout').click()
        self.wait_visible('login-view')
        status = self.driver.execute_async_script('''
            const done = arguments[arguments.length - 1];
            fetch('/api/pve/verbs').then(r => done(r.status), e => done(String(e)));''')
        self.assertEqual(status, 401)
        self.driver.refresh()
        self.wait_visible('login-view')
        self.assertEqual(self.console_errors(allow=('/api/pve/',)), [])

    def test_login_power_logout_en(self):
        self.check_login_power_logout('en')

    def test_login_power_logout_bg(self):
        self.check_login_power_logout('bg')


class ConsoleChecks:
    """The console's flows; prepare_turn() says how the next turn goes."""

    def check_full_flow(self, lang):
        expected = EXPECTED[lang]
        reply = 'Диск: 93 % зает от /var/log' if lang == 'bg' else 'Disk: 93% used by /var/log'
        self.prepare_turn(reply=reply)
        self.open_browser(lang)
        self.log_in()
        self.assertEqual(self.text('#logout'), 'Изход' if lang == 'bg' else 'Log out')

        # A preset on a fresh console opens a session and asks.
        self.click_preset(expected['preset'])
        self.wait_live()
        self.wait_js("return [...document.querySelectorAll('#turns .msg.user')]"
                     f".some(e => e.textContent === {json.dumps(expected['preset'])})",
                     'the prompt in the transcript')
        self.wait_js(f"return [...document.querySelectorAll('#turns .msg.text')]"
                     f".some(e => e.textContent.includes({json.dumps(reply)}))",
                     'the streamed reply')
        self.wait_visible('send')
        self.screenshot('reply')

        # A turn that hangs: Stop shows while it runs, and stops it.
        self.prepare_turn(hang=True)
        self.click_preset(expected['preset2'])
        self.wait_visible('stop')
        self.assertFalse(self.visible('send'))
        self.screenshot('running')
        self.driver.find_element(By.ID, 'stop').click()
        self.wait_js("return [...document.querySelectorAll('#turns .msg.note')]"
                     f".some(e => e.textContent === {json.dumps(expected['stopped'])})",
                     'the turn to be stopped')
        self.wait_visible('send')
        self.assertFalse(self.visible('stop'))
        before = self.transcript()
        self.assertEqual(sum(1 for cls, _ in before if 'user' in cls), 2, before)

        # A reload replays the session: the same transcript, nothing twice.
        self.driver.refresh()
        self.wait_visible('console-view')
        self.wait_live()
        self.assertEqual(self.transcript(), before)
        self.assert_fits_the_phone()
        self.assert_tap_targets(at_least=8)
        self.screenshot('reloaded')
        self.assertEqual(self.console_errors(), [])

    def first_turn(self, lang, reply):
        self.prepare_turn(reply=reply)
        self.open_browser(lang)
        self.log_in()
        self.click_preset(EXPECTED[lang]['preset'])
        self.wait_live()
        self.wait_js("return [...document.querySelectorAll('#turns .msg.text')]"
                     f".some(e => e.textContent.includes({json.dumps(reply)}))", 'the first reply')
        self.wait_visible('send')
        return self.transcript()

    def check_next_turn_once(self, lang, before):
        self.prepare_turn(reply='second')
        self.click_preset(EXPECTED[lang]['preset2'])
        self.wait_js("return [...document.querySelectorAll('#turns .msg.text')]"
                     ".some(e => e.textContent.includes('second'))", 'the second reply')
        self.wait_visible('send')
        after = self.transcript()
        self.assertEqual(after[:len(before)], before)
        self.assertEqual(sum(1 for cls, _ in after if 'user' in cls), 2, after)
        self.assertEqual(sum(1 for _, text in after if 'second' in text), 1, after)
        return after

    def check_reconnect_without_duplicates(self, lang):
        before = self.first_turn(lang, 'first')
        # The network goes away and comes back (a phone in a tunnel).
        self.driver.execute_cdp_cmd('Network.enable', {})
        self.driver.execute_cdp_cmd('Network.emulateNetworkConditions', {
            'offline': True, 'latency': 0, 'downloadThroughput': -1, 'uploadThroughput': -1})
        self.wait_js("return document.getElementById('conn').dataset.state !== 'live'",
                     'the page to notice')
        self.driver.execute_cdp_cmd('Network.emulateNetworkConditions', {
            'offline': False, 'latency': 0, 'downloadThroughput': -1, 'uploadThroughput': -1})
        self.wait_live()
        self.assertEqual(self.transcript(), before)
        self.check_next_turn_once(lang, before)
        self.screenshot('reconnected')


class ConsoleFlowTest(ConsoleChecks, BrowserTestCase):
    """The whole console against the daemon's session API."""

    def prepare_turn(self, reply=None, hang=False):
        if hang:
            self.set_scenario(hang=1)
        else:
            self.set_scenario(reply=reply, tokens=8, token_interval_ms=50)

    def test_full_flow_en(self):
        self.check_full_flow('en')

    def test_full_flow_bg(self):
        self.check_full_flow('bg')

    def test_reconnect_without_duplicates_en(self):
        self.check_reconnect_without_duplicates('en')

    def test_reconnect_without_duplicates_bg(self):
        self.check_reconnect_without_duplicates('bg')


class StubConsoleTest(ConsoleChecks, BrowserTestCase):
    """The whole console against stub_api.py: the API's contract in front
    of the daemon's real UI files. It runs on this branch, and it can
    misbehave on purpose."""

    def setUp(self):
        super().setUp()
        self.stub = StubApi(self.port, TOKEN)
        self.addCleanup(self.stub.stop)

    def url(self, path='/'):
        return f'http://127.0.0.1:{self.stub.port}{path}'

    def prepare_turn(self, reply=None, hang=False):
        self.stub.hang = hang
        if reply is not None:
            # Streamed in pieces: the page merges them into one message.
            self.stub.reply_chunks = [reply[i:i + 5] for i in range(0, len(reply), 5)]

    def test_console_flow_en(self):
        self.check_full_flow('en')

    def test_console_flow_bg(self):
        self.check_full_flow('bg')

    def test_reconnect_without_duplicates_en(self):
        self.check_reconnect_without_duplicates('en')

    def test_replay_from_the_start_never_duplicates(self):
        # A service that ignores Last-Event-ID and replays everything.
        self.stub.replay_from_zero = True
        before = self.first_turn('en', 'replayed')
        for _ in range(3):
            requests = len(self.stub.stream_requests)
            self.stub.drop_streams()
            wait_for(lambda: len(self.stub.stream_requests) > requests and self.stub.open_streams(),
                     20, 'the page to reconnect')
            self.wait_live()
            self.assertEqual(self.transcript(), before)
        self.check_next_turn_once('en', before)
        self.assertEqual(self.console_errors(), [])

    def test_reconnect_after_the_browser_gives_up(self):
        before = self.first_turn('en', 'steady')
        last_id = self.js('return state.lastId')
        self.assertGreater(last_id, 0)
        # The browser's own retry sends Last-Event-ID.
        requests = len(self.stub.stream_requests)
        self.stub.drop_streams()
        wait_for(lambda: self.stub.open_streams(), 20, 'the browser to reconnect')
        self.wait_live()
        self.assertIn(str(last_id), [h for _, h in self.stub.stream_requests[requests:]])
        # Refused (an error status), the browser gives up; the page retries
        # itself, with ?last_event_id=, until the service is back.
        self.stub.refuse_streams = True
        requests = len(self.stub.stream_requests)
        self.stub.drop_streams()
        self.wait_js("return document.getElementById('conn').dataset.state === 'reconnecting'",
                     'the page to say it is reconnecting')
        self.assertEqual(self.text('#conn-text'), 'Reconnecting…')
        self.screenshot('reconnecting')
        wait_for(lambda: any(f'last_event_id={last_id}' in path
                             for path, _ in self.stub.stream_requests[requests:]),
                 20, 'a reconnect with last_event_id')
        self.stub.refuse_streams = False
        self.wait_live()
        self.assertEqual(self.transcript(), before)
        self.check_next_turn_once('en', before)

    def test_typed_prompt_and_a_turn_from_elsewhere(self):
        before = self.first_turn('bg', 'едно')
        # Typed, and sent with the keyboard's Enter.
        self.prepare_turn(reply='две')
        box = self.driver.find_element(By.ID, 'prompt')
        box.send_keys('Колко е свободната памет?')
        box.send_keys(Keys.ENTER)
        self.wait_js("return [...document.querySelectorAll('#turns .msg.text')]"
                     ".some(e => e.textContent.includes('две'))", 'the reply')
        self.assertEqual(box.get_attribute('value'), '')
        after = self.transcript()
        self.assertEqual(after[:len(before)], before)
        self.assertIn(['msg user', 'Колко е свободната памет?'], after)
        # Another client starts a turn: it shows here, live, with Stop.
        self.prepare_turn(hang=True)
        session = next(iter(self.stub.sessions.values()))
        self.stub.run_turn(session, 'от друг клиент')
        self.wait_visible('stop')
        self.wait_js("return [...document.querySelectorAll('#turns .msg.user')]"
                     ".some(e => e.textContent === 'от друг клиент')", 'the other turn')
        self.driver.find_element(By.ID, 'stop').click()
        self.wait_visible('send')
        self.assertFalse(session.turn_active)
        self.assertEqual(self.console_errors(), [])

    def test_wake_from_sleep_rechecks(self):
        before = self.first_turn('en', 'awake')
        last_id = self.js('return state.lastId')
        # The phone sleeps a minute: hidden, then shown again. (Headless
        # Chromium is never hidden, so the page is told so.)
        requests = len(self.stub.stream_requests)
        self.js('''
            const set = (value) => Object.defineProperty(document, 'visibilityState',
                                                         {value, configurable: true});
            set('hidden');
            document.dispatchEvent(new Event('visibilitychange'));
            state.hiddenSince = Date.now() - 60000;
            set('visible');
            document.dispatchEvent(new Event('visibilitychange'));''')
        wait_for(lambda: any(f'last_event_id={last_id}' in path
                             for path, _ in self.stub.stream_requests[requests:]),
                 20, 'a new stream after what was folded')
        self.wait_live()
        # The old stream is closed, not left beside the new one (the stub
        # sees that at its next keepalive).
        wait_for(lambda: self.stub.open_streams() == 1, 20, 'one stream')
        self.assertEqual(self.transcript(), before)
        self.check_next_turn_once('en', before)

    def check_power(self, lang):
        self.open_browser(lang)
        self.log_in()
        self.driver.find_element(By.ID, 'power-open').click()
        self.wait_js("return document.querySelectorAll('#power-verbs button').length === 6",
                     'the verbs')
        verb = lambda v: self.driver.find_element(By.CSS_SELECTOR, f'#power-verbs [data-verb="{v}"]')
        # A read-only verb runs at once, and says how it went.
        verb('status').click()
        self.wait_js("return document.querySelector('#power-result pre') !== null", 'the result')
        self.assertEqual(self.stub.verb_calls, ['status'])
        self.assertIn('status: VM 102 ok', self.text('#power-result pre'))
        # A mutating one asks first; Cancel runs nothing.
        verb('reset').click()
        self.wait_visible('power-confirm')
        self.assertIn(EXPECTED[lang]['reset'], self.text('#power-confirm-text'))
        self.assert_tap_targets(at_least=9)
        self.screenshot('power-confirm')
        self.driver.find_element(By.ID, 'power-cancel').click()
        self.assertFalse(self.visible('power-confirm'))
        self.assertEqual(self.stub.verb_calls, ['status'])
        verb('reset').click()
        self.wait_visible('power-confirm')
        self.driver.find_element(By.ID, 'power-go').click()
        wait_for(lambda: self.stub.verb_calls == ['status', 'reset'], 20, 'the reset')
        self.wait_js("return (document.querySelector('#power-result pre') || {}).textContent"
                     " === 'reset: VM 102 ok\\n'", 'the reset result')
        self.screenshot('power')
        self.assertEqual(self.console_errors(), [])

    def test_power_en(self):
        self.check_power('en')

    def test_power_bg(self):
        self.check_power('bg')

    def test_power_without_sessions(self):
        # The session side is broken (it happens during an incident): the
        # console says so and keeps the power buttons.
        self.stub.sessions_broken = True
        self.open_browser('en')
        self.log_in()
        self.wait_visible('notice')
        self.assertIn('session store unreadable', self.text('#notice'))
        self.driver.find_element(By.ID, 'power-open').click()
        self.wait_js("return document.querySelectorAll('#power-verbs button').length === 6",
                     'the verbs')
        self.driver.find_element(By.CSS_SELECTOR, '#power-verbs [data-verb="status"]').click()
        wait_for(lambda: self.stub.verb_calls == ['status'], 20, 'the status verb')
        self.assertEqual(self.console_errors(allow=('/api/sessions',)), [])

    def test_logout(self):
        self.open_browser('en')
        self.log_in()
        self.driver.find_element(By.ID, 'logout').click()
        self.wait_visible('login-view')
        self.assertFalse(self.visible('console-view'))
        # Logged out for real: a reload asks for the token again.
        self.driver.refresh()
        self.wait_visible('login-view')
        self.assertEqual(self.console_errors(), [])


if __name__ == '__main__':
    unittest.main()
