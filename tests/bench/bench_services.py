"""bench_services.py: start and stop the two services the benchmark compares,
read their memory, and run the fake claude directly for its own baseline.

OurDaemon starts the built daemon the way tests/integration/cas_harness.py
does (temporary HOME and XDG dirs, a config file, API_BEARER_TOKEN,
IS_SANDBOX=1, the fake first on PATH) with a private dbus-daemon of its own.
PythonSeed starts the Python service exactly as its README says. Everything
started here is stopped by PID.
"""
import http.client
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid

TOKEN = 'bench-token-0123456789abcdef'
PYTHON = '/usr/bin/python3'


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def read_status_kib(pid):
    """VmRSS and RssAnon (KiB) from /proc/<pid>/status."""
    values = {}
    with open(f'/proc/{pid}/status', encoding='ascii') as f:
        for line in f:
            key, _, rest = line.partition(':')
            if key in ('VmRSS', 'RssAnon', 'RssFile', 'RssShmem', 'Threads'):
                values[key] = int(rest.split()[0])
    return values


def cpu_ms(pid):
    """CPU time (user + system, ms) the process itself has used, children
    (the fakes) not counted. The kernel counts it in clock ticks (10 ms)."""
    with open(f'/proc/{pid}/stat', encoding='ascii') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000.0 / os.sysconf('SC_CLK_TCK')


def stop_pid(proc, timeout=10):
    """SIGTERM, then SIGKILL after timeout; returns the exit status."""
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


class Service:
    """A server on 127.0.0.1:port that the benchmark drives."""

    name = '?'

    def __init__(self, tmp, fake_env):
        self.tmp = tmp
        self.fake_env = fake_env
        self.port = free_port()
        self.proc = None
        self.scenario = os.path.join(tmp, 'fake-scenario')
        self.log_path = os.path.join(tmp, 'service.log')
        self._log = None

    @property
    def pid(self):
        return self.proc.pid

    def _spawn(self, argv, env, cwd=None):
        self._log = open(self.log_path, 'ab')
        self.proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT)

    def wait_until_up(self, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f'{self.name} exited with {self.proc.returncode}:\n'
                                   + self.output())
            try:
                conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=5)
                conn.request('GET', '/health')
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f'{self.name} did not answer /health in {timeout} s')
            time.sleep(0.05)

    def rss(self):
        """VmRSS, RssAnon... (KiB) and `fds`, the open file descriptors."""
        values = read_status_kib(self.pid)
        values['fds'] = len(os.listdir(f'/proc/{self.pid}/fd'))
        return values

    def cpu_ms(self):
        return cpu_ms(self.pid)

    def set_scenario(self, **settings):
        """Lines the fake reads at the start of each turn (they win over env)."""
        with open(self.scenario, 'w', encoding='utf-8') as f:
            for key, value in settings.items():
                f.write(f'FAKE_CLAUDE_{key.upper()}={value}\n')

    def output(self, tail=4000):
        try:
            with open(self.log_path, encoding='utf-8', errors='replace') as f:
                return f.read()[-tail:] if tail else f.read()
        except FileNotFoundError:
            return ''

    def complaints(self):
        """Warning and critical lines the service logged."""
        return [line for line in self.output(tail=None).splitlines()
                if 'WARNING' in line or 'CRITICAL' in line or 'Traceback' in line]

    def stop(self):
        status = None
        if self.proc is not None:
            status = stop_pid(self.proc)
        if self._log is not None:
            self._log.close()
        return status

    def base_env(self, fakes_dir, extra_env=None):
        """The environment of a service: the fake first on PATH, unless
        @extra_env puts another claude (the real one) first."""
        extra_env = dict(extra_env or {})
        first = extra_env.pop('PATH', fakes_dir)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(('G_DEBUG', 'G_MESSAGES', 'FAKE_CLAUDE_', 'CLAUDE'))}
        env.update(self.fake_env)
        env.update(extra_env)
        env.update({
            'PATH': first + ':' + os.environ.get('PATH', '/usr/bin:/bin'),
            'API_BEARER_TOKEN': TOKEN,
            'IS_SANDBOX': '1',
            'FAKE_CLAUDE_SCENARIO': self.scenario,
            'TMPDIR': self.tmp,
        })
        return env


class PrivateBus:
    """A session dbus-daemon of our own, so the daemon never meets a real bus."""

    def __init__(self):
        self.proc = subprocess.Popen(['dbus-daemon', '--session', '--nofork', '--nopidfile',
                                      '--print-address=1'],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        self.address = self.proc.stdout.readline().decode().strip()
        if not self.address:
            stop_pid(self.proc)
            raise RuntimeError('dbus-daemon gave no address')

    def stop(self):
        stop_pid(self.proc)
        self.proc.stdout.close()


class OurDaemon(Service):
    name = 'ours'

    def __init__(self, tmp, fake_env, daemon, fakes_dir, agents_dir, bus_address,
                 access_log=False, claude_config=None, extra_env=None):
        super().__init__(tmp, fake_env)
        self.home = os.path.join(tmp, 'home')
        os.makedirs(self.home)
        config = os.path.join(tmp, 'config.ini')
        with open(config, 'w', encoding='utf-8') as f:
            f.write('[http]\naddress=127.0.0.1\nport=%d\naccess-log=%s\n'
                    '[claude]\nmax-concurrency=64\nmax-queue-depth=1000\n'
                    % (self.port, 'true' if access_log else 'false'))
            for key, value in (claude_config or {}).items():
                f.write(f'{key}={value}\n')
        self.env = self.base_env(fakes_dir, extra_env)
        self.env.update({
            'HOME': self.home,
            'XDG_CONFIG_HOME': os.path.join(tmp, 'config'),
            'XDG_STATE_HOME': os.path.join(tmp, 'state'),
            'XDG_RUNTIME_DIR': os.path.join(tmp, 'runtime'),
        })
        if bus_address:
            self.env['DBUS_SESSION_BUS_ADDRESS'] = bus_address
        else:
            self.env.pop('DBUS_SESSION_BUS_ADDRESS', None)
        os.makedirs(self.env['XDG_RUNTIME_DIR'], mode=0o700)
        # its cwd (and so the CLI's, unless it pins one) is the temporary dir
        self._spawn([daemon, '--config', config], self.env, cwd=tmp)


class PythonSeed(Service):
    """The Python service we replace, run as its README says."""

    name = 'python'

    def __init__(self, tmp, fake_env, seed_dir, fakes_dir, agents_dir, extra_env=None):
        super().__init__(tmp, fake_env)
        # The seed passes --agent conversational; the fake (like the real CLI)
        # finds user agents in ~/.claude/agents.
        self.home = os.path.join(tmp, 'home')
        agent_dir = os.path.join(self.home, '.claude', 'agents')
        os.makedirs(agent_dir)
        shutil.copy(os.path.join(agents_dir, 'conversational.md'), agent_dir)
        self.env = self.base_env(fakes_dir, extra_env)
        self.env.update({
            'HOME': self.home,
            'MAX_CONCURRENCY': '64',
            'MAX_QUEUE_DEPTH': '1000',
            'BREAKGLASS_SESSIONS_DIR': os.path.join(tmp, 'breakglass'),
        })
        self._spawn([PYTHON, '-m', 'uvicorn', 'app.main:app', '--host', '127.0.0.1',
                     '--port', str(self.port), '--loop', 'uvloop', '--http', 'httptools',
                     '--no-access-log'], self.env, cwd=seed_dir)


def fresh_session_ids(argv):
    """argv with any --session-id value replaced by a new UUID (the fake, like
    the CLI, refuses an id already in use)."""
    out = []
    replace_next = False
    for arg in argv:
        if replace_next:
            arg = str(uuid.uuid4())
            replace_next = False
        elif arg == '--session-id':
            replace_next = True
        elif arg.startswith('--session-id='):
            arg = '--session-id=' + str(uuid.uuid4())
        out.append(arg)
    return out


def fake_spawn_to_first_delta(argv, cwd, env, stdin_text):
    """Runs the fake directly with argv (argv[0] looked up on env's PATH):
    milliseconds from just before posix_spawn to reading the first stdout
    line that holds a text_delta. The rest is drained and the child reaped."""
    stdin_r, stdin_w = os.pipe()
    stdout_r, stdout_w = os.pipe()
    actions = [(os.POSIX_SPAWN_DUP2, stdin_r, 0),
               (os.POSIX_SPAWN_DUP2, stdout_w, 1),
               (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)]
    # posix_spawnp would search the caller's PATH, not env's
    path = shutil.which(argv[0], path=env['PATH'])
    old_cwd = os.getcwd()
    os.chdir(cwd)
    try:
        t0 = time.perf_counter_ns()
        pid = os.posix_spawn(path, fresh_session_ids(argv), env, file_actions=actions,
                             setpgroup=0)
    finally:
        os.chdir(old_cwd)
        os.close(stdin_r)
        os.close(stdout_w)
    with os.fdopen(stdin_w, 'wb') as f:
        f.write(stdin_text.encode('utf-8'))
    t_first = None
    pending = b''
    while True:
        data = os.read(stdout_r, 65536)
        if not data:
            break
        if t_first is None:
            pending += data
            lines = pending.split(b'\n')
            pending = lines.pop()
            if any(b'"text_delta"' in line for line in lines):
                t_first = time.perf_counter_ns()
    os.close(stdout_r)
    _, status = os.waitpid(pid, 0)
    if t_first is None:
        raise RuntimeError(f'the fake wrote no text_delta (wait status {status})')
    return (t_first - t0) / 1e6
