#!/usr/bin/python3
# check-against-real-cli.py: run the real Claude Code CLI and the fake
# `claude` side by side and compare what a driver sees.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Run by hand (never from meson: CI must not depend on the npm package):
#
#   mkdir -p /tmp/realcli && (cd /tmp/realcli && npm install @anthropic-ai/claude-code)
#   meson compile -C BUILD tests/fakes/claude
#   tests/fakes/check-against-real-cli.py --real /tmp/realcli/node_modules/.bin/claude \
#       --fake BUILD/tests/fakes/claude
#
# Each scenario runs once per binary, in a fresh empty HOME, from the same
# working directory, with `env -i`-like surroundings (HOME, PATH, TERM=dumb).
# Compared: the exit code, the first line of stderr (uuids and paths
# normalised), and stdout: for JSON lines the type/subtype sequence, every
# object's key set (recursively, with the JSON type of each value) and a few
# values a driver acts on (is_error, subtype, result text, stop_reason, the
# session id, agent names, the init model). Ids, timings, costs and token
# counts are not compared.
#
# The real CLI has no credentials here, so a turn ends "Not logged in"
# (claude-cli.md 5.1); the fake is told to do the same. Scenarios marked
# "mock" instead point the real CLI at a loopback fake of the Messages API
# started by this script (scripted SSE), and give the fake the same reply text.
# Nothing leaves 127.0.0.1.

import argparse
import difflib
import http.server
import json
import os
import re
import shutil
import signal
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import uuid

HERE = os.path.dirname (os.path.abspath (__file__))
ROOT = os.path.dirname (os.path.dirname (HERE))

MOCK_REPLY = 'Hello from the mock API. How can I help you today?'
MOCK_CHUNKS = 3
TIMEOUT = 90

UUID_RE = re.compile (r'[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}')


# ---- our agents, as the daemon passes them (src/core/cas-agents.c) ---------

def parse_agent_file (path):
    """Frontmatter name/description/tools/model, body as prompt."""
    with open (path, encoding='utf-8') as f:
        text = f.read ()
    if not text.startswith ('---\n'):
        return None
    end = text.find ('\n---', 3)
    if end < 0:
        return None
    fields = {}
    for line in text[4:end].splitlines ():
        m = re.match (r'^([A-Za-z]+):\s*(.*?)\s*$', line)
        if m:
            value = m.group (2)
            if len (value) >= 2 and value[0] == value[-1] and value[0] in '"\'':
                value = value[1:-1]
            fields[m.group (1)] = value
    body = text[end + 4:]
    body = body[body.find ('\n') + 1:] if '\n' in body else ''
    if 'name' not in fields or 'description' not in fields:
        return None
    agent = {'description': fields['description'], 'prompt': body.strip ('\n').rstrip ()}
    if 'tools' in fields:
        agent['tools'] = split_tools (fields['tools'])
    if fields.get ('model'):
        agent['model'] = fields['model']
    return fields['name'], agent


def split_tools (tools):
    """Commas inside Bash(a, b) do not separate tools."""
    out, depth, start = [], 0, 0
    for i, c in enumerate (tools + ','):
        if c == '(':
            depth += 1
        elif c == ')' and depth > 0:
            depth -= 1
        elif c == ',' and depth == 0:
            item = tools[start:i].strip ()
            if item:
                out.append (item)
            start = i + 1
    return out


def load_agents (directory):
    agents = {}
    for name in sorted (os.listdir (directory)):
        if name.endswith ('.md'):
            parsed = parse_agent_file (os.path.join (directory, name))
            if parsed:
                agents[parsed[0]] = parsed[1]
    return agents


def compact (obj):
    return json.dumps (obj, ensure_ascii=False, separators=(',', ':'))


# ---- a loopback fake of the Anthropic Messages API -------------------------

class MockApi (socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__ (self):
        super ().__init__ (('127.0.0.1', 0), MockHandler)
        self.requests = []
        self.thread = threading.Thread (target=self.serve_forever, daemon=True)
        self.thread.start ()

    @property
    def url (self):
        return 'http://127.0.0.1:%d' % self.server_address[1]

    def stop (self):
        self.shutdown ()
        self.server_close ()


class MockHandler (http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message (self, *args):
        pass

    def do_HEAD (self):
        self.server.requests.append (('HEAD', self.path, None))
        self.send_response (200)
        self.send_header ('Content-Length', '0')
        self.end_headers ()

    def do_GET (self):
        self.server.requests.append (('GET', self.path, None))
        self.send_error_json (404, 'not_found_error', 'not found')

    def send_error_json (self, status, kind, message):
        body = compact ({'type': 'error', 'error': {'type': kind, 'message': message}}).encode ()
        self.send_response (status)
        self.send_header ('Content-Type', 'application/json')
        self.send_header ('Content-Length', str (len (body)))
        self.end_headers ()
        self.wfile.write (body)

    def do_POST (self):
        length = int (self.headers.get ('Content-Length') or 0)
        raw = self.rfile.read (length) if length else b''
        try:
            req = json.loads (raw or b'{}')
        except ValueError:
            req = {}
        self.server.requests.append (('POST', self.path, req))
        if not self.path.startswith ('/v1/messages') or 'count_tokens' in self.path:
            self.send_error_json (404, 'not_found_error', 'not found')
            return
        # markers in the prompt pick a behaviour
        prompt = json.dumps (req.get ('messages'))
        if '[500]' in prompt:
            self.send_error_json (500, 'api_error', 'Internal server error')
            return
        if '[529]' in prompt:
            self.send_error_json (529, 'overloaded_error', 'Overloaded')
            return
        if '[401]' in prompt:
            self.send_error_json (401, 'authentication_error', 'invalid x-api-key')
            return
        delay = 0.5 if '[slow]' in prompt else 0
        model = req.get ('model', 'claude-mock')
        usage = {'input_tokens': 12, 'cache_creation_input_tokens': 0,
                 'cache_read_input_tokens': 0,
                 'cache_creation': {'ephemeral_5m_input_tokens': 0, 'ephemeral_1h_input_tokens': 0},
                 'output_tokens': 1, 'service_tier': 'standard'}
        msg_id = 'msg_01' + uuid.uuid4 ().hex[:22]
        if not req.get ('stream'):
            body = compact ({'id': msg_id, 'type': 'message', 'role': 'assistant', 'model': model,
                             'content': [{'type': 'text', 'text': MOCK_REPLY}],
                             'stop_reason': 'end_turn', 'stop_sequence': None,
                             'usage': dict (usage, output_tokens=13)}).encode ()
            self.send_response (200)
            self.send_header ('Content-Type', 'application/json')
            self.send_header ('request-id', 'req_011Cmock' + uuid.uuid4 ().hex[:12])
            self.send_header ('Content-Length', str (len (body)))
            self.end_headers ()
            self.wfile.write (body)
            return
        n = len (MOCK_REPLY)
        chunks = [MOCK_REPLY[n * i // MOCK_CHUNKS:n * (i + 1) // MOCK_CHUNKS] for i in range (MOCK_CHUNKS)]
        events = [('message_start', {'type': 'message_start', 'message': {
                      'id': msg_id, 'type': 'message', 'role': 'assistant', 'model': model,
                      'content': [], 'stop_reason': None, 'stop_sequence': None, 'usage': usage}}),
                  ('content_block_start', {'type': 'content_block_start', 'index': 0,
                                           'content_block': {'type': 'text', 'text': ''}}),
                  ('ping', {'type': 'ping'})]
        events += [('content_block_delta', {'type': 'content_block_delta', 'index': 0,
                                            'delta': {'type': 'text_delta', 'text': c}})
                   for c in chunks]
        events += [('content_block_stop', {'type': 'content_block_stop', 'index': 0}),
                   ('message_delta', {'type': 'message_delta',
                                      'delta': {'stop_reason': 'end_turn', 'stop_sequence': None},
                                      'usage': {'output_tokens': 13}}),
                   ('message_stop', {'type': 'message_stop'})]
        self.send_response (200)
        self.send_header ('Content-Type', 'text/event-stream')
        self.send_header ('Cache-Control', 'no-cache')
        self.send_header ('request-id', 'req_011Cmock' + uuid.uuid4 ().hex[:12])
        self.send_header ('Connection', 'close')
        self.end_headers ()
        for name, data in events:
            try:
                self.wfile.write (('event: %s\ndata: %s\n\n' % (name, compact (data))).encode ())
                self.wfile.flush ()
            except OSError:
                break
            if delay and name == 'content_block_delta':
                time.sleep (delay)
        self.close_connection = True


# ---- running one binary ------------------------------------------------------

class Run:
    """One invocation: argv after `claude`, stdin bytes (None: /dev/null)."""

    def __init__ (self, args, stdin=None, env=None, compare=True, text=False, stderr='first',
                  home_files=None, signal=None, interrupt=None, then=None, subdir=None,
                  tree=False):
        self.args = args
        self.signal = signal        # sent after the first text delta on stdout
        self.interrupt = interrupt  # written to stdin after the first text delta ...
        self.then = then            # ... and this after the first result, then EOF
        self.subdir = subdir        # run in this directory below the shared cwd
        self.tree = tree            # compare what HOME/.claude/projects holds afterwards
        self.stderr = stderr        # 'first': first lines equal; 'contains': fake's is in real's
        self.home_files = home_files or {}  # files to create under HOME first
        self.stdin = stdin
        self.env = env or {}
        self.compare = compare      # False: a setup step whose output is not compared
        self.text = text            # compare non-JSON stdout lines verbatim


class Scenario:
    def __init__ (self, name, runs, mock=False, fake_env=None, root_only=False, note='',
                  session_id=None, known=None, env=None):
        self.name = name
        self.runs = runs if isinstance (runs, list) else [runs]
        self.env = env or {}          # for both binaries, every run
        self.mock = mock
        self.fake_env = fake_env or {}
        self.root_only = root_only
        self.note = note
        self.session_id = session_id  # init.session_id must equal this (verbatim)
        self.known = known            # a difference the daemon never meets, and why


class Outcome:
    def __init__ (self, rc, stdout, stderr):
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr


def run_binary (binary, run, home, cwd, extra_env, timeout=TIMEOUT):
    for rel, content in run.home_files.items ():
        path = os.path.join (home, rel)
        os.makedirs (os.path.dirname (path), exist_ok=True)
        with open (path, 'w', encoding='utf-8') as f:
            f.write (content)
    env = {'HOME': home, 'PATH': '/usr/local/bin:/usr/bin:/bin', 'TERM': 'dumb',
           'CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC': '1'}
    env.update (extra_env)
    env.update (run.env)
    if run.subdir:
        cwd = os.path.join (cwd, run.subdir)
        os.makedirs (cwd, exist_ok=True)
    if run.signal or run.interrupt:
        return run_and_signal (binary, run, cwd, env, timeout)
    try:
        p = subprocess.run ([binary] + run.args, cwd=cwd, env=env,
                            input=run.stdin if run.stdin is not None else None,
                            stdin=subprocess.DEVNULL if run.stdin is None else None,
                            capture_output=True, timeout=timeout)
        return Outcome (p.returncode, p.stdout.decode ('utf-8', 'replace'),
                        p.stderr.decode ('utf-8', 'replace'))
    except subprocess.TimeoutExpired as e:
        return Outcome ('timeout', (e.stdout or b'').decode ('utf-8', 'replace'),
                        (e.stderr or b'').decode ('utf-8', 'replace'))


def run_and_signal (binary, run, cwd, env, timeout):
    p = subprocess.Popen ([binary] + run.args, cwd=cwd, env=env, stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    killer = threading.Timer (timeout, p.kill)
    killer.start ()
    try:
        p.stdin.write (run.stdin or b'')
        p.stdin.flush ()
        if not run.interrupt:
            p.stdin.close ()
        out, sent, ended = [], False, False
        for line in p.stdout:
            out.append (line)
            if not sent and b'"content_block_delta"' in line:
                if run.interrupt:
                    p.stdin.write (run.interrupt)
                    p.stdin.flush ()
                else:
                    p.send_signal (run.signal)
                sent = True
            elif run.interrupt and not ended and line.startswith (b'{') and b'"result"' in line:
                try:
                    is_result = json.loads (line).get ('type') == 'result'
                except ValueError:
                    is_result = False
                if is_result:
                    ended = True
                    p.stdin.write (run.then or b'')
                    p.stdin.close ()
        rc = p.wait ()
        return Outcome (rc, b''.join (out).decode ('utf-8', 'replace'),
                        p.stderr.read ().decode ('utf-8', 'replace'))
    finally:
        killer.cancel ()


# ---- comparing -----------------------------------------------------------------

def jtype (v):
    if v is None:
        return 'null'
    if isinstance (v, bool):
        return 'bool'
    if isinstance (v, (int, float)):
        return 'number'
    if isinstance (v, str):
        return 'string'
    if isinstance (v, list):
        return 'array'
    return 'object'


def diff_shape (a, b, path, out):
    """Key sets (recursively) and JSON types; values are not compared."""
    ta, tb = jtype (a), jtype (b)
    if ta != tb:
        out.append ('%s: real %s, fake %s' % (path or '.', ta, tb))
        return
    if ta == 'object':
        if path.endswith ('modelUsage'):
            # keys are model names: compare the shape of the entries
            a = {'<model>': next (iter (a.values ()))} if a else {}
            b = {'<model>': next (iter (b.values ()))} if b else {}
        only_a = [k for k in a if k not in b]
        only_b = [k for k in b if k not in a]
        if only_a:
            out.append ('%s: keys only in real: %s' % (path or '.', ', '.join (only_a)))
        if only_b:
            out.append ('%s: keys only in fake: %s' % (path or '.', ', '.join (only_b)))
        for k in a:
            if k in b:
                diff_shape (a[k], b[k], '%s.%s' % (path, k) if path else k, out)
    elif ta == 'array':
        # arrays of objects (content blocks, a json --verbose array) pairwise
        objs_a = [x for x in a if isinstance (x, dict)]
        objs_b = [x for x in b if isinstance (x, dict)]
        if objs_a or objs_b:
            if len (objs_a) != len (objs_b):
                out.append ('%s: real has %d objects, fake %d' % (path, len (objs_a), len (objs_b)))
            for i, (x, y) in enumerate (zip (objs_a, objs_b)):
                diff_shape (x, y, '%s[%d]' % (path, i), out)


def label (obj):
    if not isinstance (obj, dict):
        return jtype (obj)
    parts = [str (obj.get ('type'))]
    if 'subtype' in obj:
        parts.append (str (obj['subtype']))
    if isinstance (obj.get ('event'), dict):
        parts.append (str (obj['event'].get ('type')))
    return '/'.join (parts)


def parse_lines (text, literal):
    items = []
    for line in text.split ('\n')[:-1] if text.endswith ('\n') else text.split ('\n'):
        try:
            obj = json.loads (line)
        except ValueError:
            items.append (('text', line if literal else '<text>'))
            continue
        if isinstance (obj, list):
            items.append (('array', obj))
        else:
            items.append (('json', obj))
    if text == '':
        items = []
    return items


def item_label (item):
    kind, v = item
    if kind == 'json':
        return label (v)
    if kind == 'array':
        return '[' + ','.join (label (x) for x in v) + ']'
    return 'text:' + (v if len (v) < 60 else v[:57] + '...')


def values_of (obj):
    """The values a driver acts on."""
    t = obj.get ('type')
    keep = {}
    if t == 'system' and obj.get ('subtype') == 'init':
        keep['init.permissionMode'] = obj.get ('permissionMode')
        keep['init.model'] = obj.get ('model')
        for k in ('agents', 'tools', 'slash_commands', 'skills', 'apiKeySource',
                  'analytics_disabled', 'product_feedback_disabled', 'mcp_servers', 'plugins',
                  'claude_code_version', 'output_style', 'fast_mode_state',
                  'terminal_slash_commands', 'capabilities', 'served_by_anthropic',
                  'sandbox_enabled', 'additional_directories', 'view_mode'):
            keep['init.' + k] = obj.get (k)
    elif t == 'assistant':
        msg = obj.get ('message') or {}
        keep['assistant.text'] = [b.get ('text') for b in msg.get ('content') or [] if isinstance (b, dict)]
        for k in ('error', 'is_api_error_message', 'api_error_status', 'api_error_type', 'api_error',
                  'aborted'):
            keep['assistant.' + k] = obj.get (k)
        keep['assistant.model'] = msg.get ('model')
    elif t == 'result':
        for k in ('subtype', 'is_error', 'result', 'stop_reason', 'num_turns', 'api_error_status',
                  'terminal_reason', 'errors', 'api_error_type', 'api_error', 'result_index'):
            keep['result.' + k] = obj.get (k)
    elif t == 'control_response':
        keep['control_response'] = obj.get ('response')
    elif t == 'stream_event':
        ev = obj.get ('event') or {}
        if ev.get ('type') == 'content_block_delta':
            keep['delta.text'] = (ev.get ('delta') or {}).get ('text')
    return keep


def normalise_stderr (line, home):
    line = line.replace (home, '<HOME>')
    return UUID_RE.sub ('<uuid>', line)


def project_tree (home):
    """What .claude/projects holds, uuids normalised; None if it is missing."""
    top = os.path.join (home, '.claude', 'projects')
    if not os.path.isdir (top):
        return None
    found = []
    for dirpath, dirnames, filenames in os.walk (top):
        for name in dirnames + filenames:
            found.append (UUID_RE.sub ('<uuid>', os.path.relpath (os.path.join (dirpath, name), top)))
    return sorted (found)


def compare (scenario, run, real, fake, real_home, fake_home):
    problems = []
    if real.rc != fake.rc:
        problems.append ('exit: real %s, fake %s' % (real.rc, fake.rc))
    r_err = normalise_stderr (real.stderr.split ('\n', 1)[0], real_home)
    f_err = normalise_stderr (fake.stderr.split ('\n', 1)[0], fake_home)
    if run.stderr == 'contains':
        if not f_err or f_err not in normalise_stderr (real.stderr, real_home):
            problems.append ('stderr: fake %r is not in the real stderr' % f_err[:300])
    elif r_err != f_err:
        problems.append ('stderr: real %r, fake %r' % (r_err[:300], f_err[:300]))
    r_items = parse_lines (real.stdout, run.text)
    f_items = parse_lines (fake.stdout, run.text)
    r_labels = [item_label (i) for i in r_items]
    f_labels = [item_label (i) for i in f_items]
    if r_labels != f_labels:
        diff = list (difflib.unified_diff (r_labels, f_labels, 'real', 'fake', lineterm='', n=1))
        problems.append ('stdout lines differ:\n      ' + '\n      '.join (diff[2:]))
        return problems
    for n, (ri, fi) in enumerate (zip (r_items, f_items), 1):
        where = 'line %d (%s)' % (n, item_label (ri))
        if ri[0] in ('json', 'array'):
            shape = []
            diff_shape (ri[1], fi[1], '', shape)
            problems += ['%s: %s' % (where, s) for s in shape]
            r_objs = ri[1] if ri[0] == 'array' else [ri[1]]
            f_objs = fi[1] if fi[0] == 'array' else [fi[1]]
            for ro, fo in zip (r_objs, f_objs):
                if not isinstance (ro, dict) or not isinstance (fo, dict):
                    continue
                rv, fv = values_of (ro), values_of (fo)
                for k in rv:
                    if rv[k] != fv.get (k):
                        problems.append ('%s: %s: real %s, fake %s'
                                         % (where, k, compact (rv[k])[:200], compact (fv.get (k))[:200]))
                if scenario.session_id and 'session_id' in ro:
                    for side, o in (('real', ro), ('fake', fo)):
                        if o.get ('session_id') != scenario.session_id:
                            problems.append ('%s: %s session_id %s, expected %s'
                                             % (where, side, o.get ('session_id'), scenario.session_id))
        elif ri != fi:
            problems.append ('%s: real %r, fake %r' % (where, ri[1], fi[1]))
    if run.tree:
        trees = [project_tree (h) for h in (real_home, fake_home)]
        if trees[0] != trees[1]:
            problems.append ('~/.claude/projects: real %s, fake %s' % tuple (trees))
    # lines of one output must share one session id
    for side, items in (('real', r_items), ('fake', f_items)):
        ids = {o.get ('session_id') for k, o in items if k == 'json' and 'session_id' in o}
        if len (ids) > 1:
            problems.append ('%s: several session ids in one run: %s' % (side, sorted (ids)))
    return problems


# ---- the scenarios ---------------------------------------------------------------

def scenarios (agents, is_root):
    sid = lambda: str (uuid.uuid4 ())
    all_agents = compact (agents)
    conv = compact ({'conversational': agents['conversational']})
    work = compact ({'workspace': agents['workspace']})
    glass = compact ({'breakglass': agents['breakglass']}) if 'breakglass' in agents else work
    prompt = 'Say hello in one short sentence.'.encode ()

    def conv_argv (session, resume=False):
        # cas_cli_argv_build (CAS_CLI_KIND_CONVERSATIONAL), prompt on stdin
        return ['-p', '--output-format=stream-json', '--verbose', '--include-partial-messages',
                '--setting-sources=user', '--exclude-dynamic-system-prompt-sections',
                '--agents=' + conv, '--agent=conversational', '--model=sonnet',
                ('--resume=' if resume else '--session-id=') + session]

    def job_argv (session):
        return ['-p', '--output-format=json', '--dangerously-skip-permissions',
                '--max-budget-usd=5', '--agents=' + work, '--agent=workspace',
                '--model=sonnet', '--session-id=' + session]

    def glass_argv (session):
        return ['-p', '--output-format=stream-json', '--verbose', '--dangerously-skip-permissions',
                '--max-budget-usd=2.5', '--agents=' + glass, '--agent=breakglass',
                '--session-id=' + session]

    nli = {'FAKE_CLAUDE_NOT_LOGGED_IN': '1'}
    sandbox = {'IS_SANDBOX': '1'}
    S = []
    add = lambda *a, **k: S.append (Scenario (*a, **k))

    add ('version', Run (['--version'], text=True))
    add ('no-prompt', Run (['-p']))
    add ('no-prompt-blank-stdin', Run (['-p'], stdin=b'  \n'))
    add ('stream-json-without-verbose', Run (['-p', '--output-format=stream-json', 'hi']))
    add ('stream-json-without-verbose-spaced', Run (['-p', '--output-format', 'stream-json', 'hi']))
    add ('bad-output-format', Run (['-p', '--output-format', 'xml', 'hi']))
    add ('bad-output-format-eq', Run (['-p', '--output-format=xml', 'hi']))
    add ('bad-permission-mode', Run (['-p', '--permission-mode', 'bogus', 'hi']))
    # "default" is accepted though no longer listed; "manual" shows as "default"
    for mode in ('default', 'manual'):
        add ('permission-mode-' + mode,
             Run (['-p', '--output-format=stream-json', '--verbose', '--permission-mode', mode, 'hi']),
             fake_env=nli)
    add ('bad-setting-sources', Run (['-p', '--setting-sources', 'bogus', 'hi']))
    add ('bad-setting-sources-mixed', Run (['-p', '--setting-sources=user,bogus', 'hi']))
    add ('partial-without-stream-json', Run (['-p', '--include-partial-messages', 'hi']))
    add ('stream-input-with-text-output', Run (['-p', '--input-format', 'stream-json', 'hi']))
    add ('replay-without-stream-input',
         Run (['-p', '--output-format=stream-json', '--verbose', '--replay-user-messages', 'hi']))
    add ('unknown-option', Run (['-p', '--no-such-flag', 'hi']))
    add ('session-id-not-uuid', Run (['-p', '--session-id', 'not-a-uuid', 'hi']))
    add ('session-id-no-dashes', Run (['-p', '--session-id', uuid.uuid4 ().hex, 'hi']))
    add ('session-id-braces', Run (['-p', '--session-id', '{%s}' % sid (), 'hi']))
    upper = sid ().upper ()
    add ('session-id-uppercase-accepted',
         Run (['-p', '--output-format=stream-json', '--verbose', '--session-id', upper, 'hi']),
         fake_env=nli, session_id=upper)
    nil = '00000000-0000-0000-0000-000000000000'
    add ('session-id-nil-accepted',
         Run (['-p', '--output-format=stream-json', '--verbose', '--session-id', nil, 'hi']),
         fake_env=nli, session_id=nil)
    add ('session-id-with-resume-no-fork',
         Run (['-p', '--session-id', sid (), '--resume', sid (), 'hi']))
    add ('session-id-with-continue-no-fork', Run (['-p', '--session-id', sid (), '--continue', 'hi']))
    add ('resume-unknown-id', Run (['-p', '--resume', sid (), 'hi']))
    # 2.1.332 also writes an error result on stdout, before any init line
    s = sid ()
    add ('resume-unknown-id-stream-json',
         Run (['-p', '--output-format=stream-json', '--verbose', '--resume', s, 'hi']), session_id=s)
    add ('resume-not-uuid', Run (['-p', '--resume', 'not-a-uuid', 'hi']))
    add ('unknown-agent', Run (['-p', '--agent', 'nosuchagent', 'hi']))
    add ('unknown-agent-with-our-agents',
         Run (['-p', '--agents=' + all_agents, '--agent=nosuchagent', 'hi']))
    add ('agents-json-not-json', Run (['-p', '--agents', '{not json', 'hi']), fake_env=nli)
    add ('agents-json-conversational-accepted',
         Run (['-p', '--output-format=stream-json', '--verbose', '--agents=' + all_agents,
               '--agent=conversational', 'hi']), fake_env=nli)
    add ('max-budget-not-a-number', Run (['-p', '--max-budget-usd', 'abc', 'hi']))
    add ('max-budget-zero', Run (['-p', '--max-budget-usd=0', 'hi']))
    add ('variadic-eats-prompt', Run (['-p', '--disallowedTools', 'WebFetch', 'hi']),
         known='the fake does not check permission rules against tool names; '
               'the daemon passes no --allowedTools/--disallowedTools')
    add ('blank-prompt-stream-json', Run (['-p', '--output-format=stream-json', '--verbose'], stdin=b' \n\n'),
         fake_env=nli)
    add ('blank-prompt-json', Run (['-p', '--output-format=json', '   ']), fake_env=nli)
    s = sid ()
    add ('blank-prompt-leaves-session-unused',
         [Run (conv_argv (s), stdin=b'\n'), Run (conv_argv (s), stdin=prompt)], fake_env=nli, session_id=s)
    bad_entry = dict (agents, broken={'description': 'no prompt'})
    add ('agents-json-one-bad-entry-hides-all',
         Run (['-p', '--agents=' + compact (bad_entry), '--agent=conversational', 'hi']))
    for label_, entry in (('empty-description', {'description': '', 'prompt': 'p'}),
                          ('tools-string', {'description': 'd', 'prompt': 'p', 'tools': 'Read'}),
                          ('model-number', {'description': 'd', 'prompt': 'p', 'model': 5}),
                          ('not-object', 'x')):
        add ('agents-json-invalid-' + label_,
             Run (['-p', '--agents=' + compact ({'a': entry}), '--agent=a', 'hi']))
    add ('agents-json-array', Run (['-p', '--agents=[]', '--agent=a', 'hi']))
    add ('agent-tools-filtered-and-model',
         Run (['-p', '--output-format=stream-json', '--verbose', '--agents=' + compact (
             {'a': {'description': 'd', 'prompt': 'p', 'tools': ['Read', 'Bash', 'Grep', 'Glob', 'WebFetch'],
                    'model': 'haiku'}}), '--agent=a', 'hi']), fake_env=nli)
    add ('agent-model-inherit-and-star-tools',
         Run (['-p', '--output-format=stream-json', '--verbose', '--agents=' + compact (
             {'a': {'description': 'd', 'prompt': 'p', 'tools': ['*'], 'model': 'inherit'}}),
               '--agent=a', 'hi']), fake_env=nli)
    add ('agent-model-overridden-by-model-flag',
         Run (['-p', '--output-format=stream-json', '--verbose', '--model=opus[1m]', '--agents=' + compact (
             {'a': {'description': 'd', 'prompt': 'p', 'model': 'haiku'}}), '--agent=a', 'hi']), fake_env=nli)
    for m in ('opus', 'sonnet', 'haiku', 'fable', 'sonnet[1m]', 'default', 'claude-made-up-9'):
        add ('model-alias-' + m,
             Run (['-p', '--output-format=stream-json', '--verbose', '--model=' + m, 'hi']), fake_env=nli)
    user_md = {'.claude/agents/file-name.md': '---\nname: mine\ndescription: d\ntools: Read, Bash, Grep\n'
                                              'model: sonnet\n---\nbody\n',
               '.claude/agents/no-tools.md': '---\nname: Quiet\ndescription: d\ntools: ""\n---\n'}
    add ('user-agent-md', Run (['-p', '--output-format=stream-json', '--verbose', '--agent=mine', 'hi'],
                              home_files=user_md), fake_env=nli)
    add ('user-agent-md-empty-tools',
         Run (['-p', '--output-format=stream-json', '--verbose', '--setting-sources=user', '--agent=Quiet',
               'hi'], home_files=user_md), fake_env=nli)
    add ('user-agent-md-not-read-without-user-source',
         Run (['-p', '--setting-sources=project', '--agent=mine', 'hi'], home_files=user_md))
    add ('user-agent-overridden-by-agents-json',
         Run (['-p', '--output-format=stream-json', '--verbose', '--agents=' + compact (
             {'mine': {'description': 'd', 'prompt': 'p', 'tools': ['Bash']}}), '--agent=mine', 'hi'],
             home_files=user_md), fake_env=nli)
    add ('nli-without-nonessential-traffic-flag',
         Run (['-p', '--output-format=stream-json', '--verbose', 'hi'],
              env={'CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC': ''}), fake_env=nli)
    add ('nli-disable-telemetry',
         Run (['-p', '--output-format=stream-json', '--verbose', 'hi'],
              env={'CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC': '', 'DISABLE_TELEMETRY': '1'}), fake_env=nli)
    if is_root:
        add ('root-skip-permissions', Run (['-p', '--dangerously-skip-permissions', 'hi']),
             root_only=True)
        add ('root-bypass-permission-mode', Run (['-p', '--permission-mode', 'bypassPermissions', 'hi']),
             root_only=True)
        add ('root-skip-permissions-is-sandbox',
             Run (['-p', '--output-format=stream-json', '--verbose', '--dangerously-skip-permissions',
                   'hi'], env=sandbox), fake_env=nli, root_only=True)
        add ('root-job-argv-refused', Run (job_argv (sid ()), stdin=prompt), root_only=True)

    # full turns without credentials (claude-cli.md 5.1)
    add ('nli-stream-json', Run (['-p', '--output-format=stream-json', '--verbose', 'hi']), fake_env=nli)
    add ('nli-stream-json-partial',
         Run (['-p', '--output-format=stream-json', '--verbose', '--include-partial-messages', 'hi']),
         fake_env=nli)
    add ('nli-json', Run (['-p', '--output-format=json', 'hi']), fake_env=nli)
    add ('nli-json-verbose', Run (['-p', '--output-format=json', '--verbose', 'hi']), fake_env=nli)
    add ('nli-text', Run (['-p', 'hi'], text=True), fake_env=nli)
    add ('nli-text-prompt-on-stdin', Run (['-p'], stdin=prompt, text=True), fake_env=nli)
    s = sid ()
    add ('nli-daemon-conversational-argv', Run (conv_argv (s), stdin=prompt), fake_env=nli,
         session_id=s)
    s = sid ()
    add ('nli-daemon-job-argv', Run (job_argv (s), stdin=prompt, env=sandbox), fake_env=nli,
         session_id=s)
    # jobs run without a transcript (src/http/cas-jobs.c); compare what is
    # left under ~/.claude/projects
    add ('nli-daemon-job-argv-no-session-persistence',
         Run (job_argv (sid ()) + ['--no-session-persistence'], stdin=prompt, env=sandbox, tree=True),
         fake_env=nli, known='2.1.332 makes projects/<cwd>/memory/ only with the default system '
         'prompt (not under --agent); the fake always makes it, as '
         'tests/integration/test_jobs.py expects')
    add ('nli-no-session-persistence-makes-memory-folder',
         Run (['-p', '--output-format=json', '--no-session-persistence', 'hi'], tree=True), fake_env=nli)
    s = sid ()
    add ('nli-daemon-breakglass-argv', Run (glass_argv (s), stdin=prompt, env=sandbox), fake_env=nli,
         session_id=s)
    s = sid ()
    add ('nli-session-id-reused-in-use',
         [Run (conv_argv (s), stdin=prompt), Run (conv_argv (s), stdin=prompt)], fake_env=nli)
    s = sid ()
    add ('nli-resume-after-failed-turn',
         [Run (conv_argv (s), stdin=prompt), Run (conv_argv (s, resume=True), stdin=prompt)],
         fake_env=nli, session_id=s)
    s, f = sid (), sid ()
    add ('nli-resume-fork-with-session-id',
         [Run (conv_argv (s), stdin=prompt, compare=False),
          Run (['-p', '--output-format=stream-json', '--verbose', '--resume', s, '--fork-session',
                '--session-id', f, 'hi'])], fake_env=nli, session_id=f)
    add ('nli-stream-input-empty',
         Run (['-p', '--input-format=stream-json', '--output-format=stream-json', '--verbose'], stdin=b''),
         fake_env=nli)
    add ('nli-stream-input-one-turn',
         Run (['-p', '--input-format=stream-json', '--output-format=stream-json', '--verbose'],
              stdin=b'{"type":"user","message":{"role":"user","content":"hi"}}\n'), fake_env=nli)
    add ('stream-input-bad-line',
         Run (['-p', '--input-format=stream-json', '--output-format=stream-json', '--verbose'],
              stdin=b'this is not json\n'))

    # full turns against the loopback Messages API
    add ('mock-stream-json-partial',
         Run (['-p', '--output-format=stream-json', '--verbose', '--include-partial-messages', 'hi']),
         mock=True)
    add ('mock-stream-json', Run (['-p', '--output-format=stream-json', '--verbose', 'hi']), mock=True)
    add ('mock-json', Run (['-p', '--output-format=json', 'hi']), mock=True)
    add ('mock-json-verbose', Run (['-p', '--output-format=json', '--verbose', 'hi']), mock=True)
    add ('mock-text', Run (['-p', 'hi'], text=True), mock=True)
    s = sid ()
    add ('mock-daemon-conversational-then-resume',
         [Run (conv_argv (s), stdin=prompt), Run (conv_argv (s, resume=True), stdin=prompt)],
         mock=True, session_id=s)
    s = sid ()
    add ('mock-session-id-reused-in-use',
         [Run (conv_argv (s), stdin=prompt), Run (conv_argv (s), stdin=prompt)], mock=True)
    s = sid ()
    add ('mock-daemon-job-argv', Run (job_argv (s), stdin=prompt, env=sandbox), mock=True,
         session_id=s)
    s = sid ()
    add ('mock-daemon-breakglass-argv', Run (glass_argv (s), stdin=prompt, env=sandbox), mock=True,
         session_id=s)
    slow = b'Say hello slowly. [slow]'
    stream = ['-p', '--output-format=stream-json', '--verbose', '--include-partial-messages']
    add ('mock-sigterm-mid-turn', Run (stream, stdin=slow, signal=signal.SIGTERM), mock=True,
         fake_env={'FAKE_CLAUDE_TOKEN_INTERVAL_MS': '500'})
    add ('mock-sigint-mid-turn', Run (stream, stdin=slow, signal=signal.SIGINT), mock=True,
         fake_env={'FAKE_CLAUDE_TOKEN_INTERVAL_MS': '500'})
    s = sid ()
    add ('mock-daemon-conversational-sigterm-then-resume',
         [Run (conv_argv (s), stdin=slow, signal=signal.SIGTERM),
          Run (conv_argv (s, resume=True), stdin=prompt)], mock=True, session_id=s,
         fake_env={'FAKE_CLAUDE_TOKEN_INTERVAL_MS': '500'})
    for code, retries in (('500', '0'), ('500', '1'), ('529', '1'), ('529', '2'), ('401', '1')):
        for fmt in ('stream-json', 'json', 'text'):
            argv = ['-p', '--output-format=' + fmt] + (
                ['--verbose', '--include-partial-messages'] if fmt == 'stream-json' else [])
            add ('mock-api-%s-retries-%s-%s' % (code, retries, fmt),
                 Run (argv, stdin=('hi [%s]' % code).encode (), env={'CLAUDE_CODE_MAX_RETRIES': retries},
                      text=True), mock=True, fake_env={'FAKE_CLAUDE_API_ERROR': code})
            if fmt != 'stream-json' and code != '500':
                break
    for fmt in ('stream-json', 'text'):
        argv = ['-p', '--output-format=' + fmt] + (['--verbose'] if fmt == 'stream-json' else [])
        add ('api-unreachable-' + fmt,
             Run (argv + ['hi'], env={'ANTHROPIC_BASE_URL': 'http://127.0.0.1:9', 'ANTHROPIC_API_KEY': 'placeholder',
                                      'CLAUDE_CODE_MAX_RETRIES': '1'}, text=True),
             fake_env={'FAKE_CLAUDE_API_ERROR': 'refused'})
    s = sid ()
    add ('mock-resume-from-another-cwd',
         [Run (conv_argv (s), stdin=prompt, compare=False),
          Run (conv_argv (s, resume=True), stdin=prompt, subdir='elsewhere', tree=True)],
         mock=True, session_id=s, env={'CLAUDE_CODE_DISABLE_AUTO_MEMORY': '1'})
    user_line = b'{"type":"user","message":{"role":"user","content":"%s"}}\n'
    add ('mock-stream-input-control-interrupt',
         Run (['-p', '--input-format=stream-json', '--output-format=stream-json', '--verbose',
               '--include-partial-messages'],
              stdin=user_line % b'Say hello slowly. [slow]',
              interrupt=b'{"type":"control_request","request_id":"int-1","request":{"subtype":"interrupt"}}\n',
              then=user_line % b'again'),
         mock=True, fake_env={'FAKE_CLAUDE_TOKEN_INTERVAL_MS': '500'})
    add ('mock-stream-input-two-turns',
         Run (['-p', '--input-format=stream-json', '--output-format=stream-json', '--verbose',
               '--include-partial-messages'],
              stdin=b'{"type":"user","message":{"role":"user","content":"hi"}}\n'
                    b'{"type":"user","message":{"role":"user","content":[{"type":"text","text":"again"}]}}\n'),
         mock=True)
    return S


def save_outcomes (directory, name, real, fake):
    os.makedirs (directory, exist_ok=True)
    for side, o in (('real', real), ('fake', fake)):
        base = os.path.join (directory, '%s.%s' % (name, side))
        with open (base + '.out', 'w', encoding='utf-8') as f:
            f.write (o.stdout)
        with open (base + '.err', 'w', encoding='utf-8') as f:
            f.write ('exit %s\n%s' % (o.rc, o.stderr))


def main ():
    ap = argparse.ArgumentParser (description='Compare the fake claude with the real CLI.')
    ap.add_argument ('--real', default=os.environ.get ('REAL_CLAUDE', '/tmp/realcli/node_modules/.bin/claude'))
    ap.add_argument ('--fake', default=os.environ.get ('FAKE_CLAUDE'), required='FAKE_CLAUDE' not in os.environ)
    ap.add_argument ('--agents-dir', default=os.path.join (ROOT, 'agents'))
    ap.add_argument ('-k', dest='only', action='append', help='run scenarios whose name contains this')
    ap.add_argument ('--no-mock', action='store_true', help='skip the loopback API scenarios')
    ap.add_argument ('-v', '--verbose', action='store_true', help='print both outputs of a mismatch')
    ap.add_argument ('--keep', action='store_true', help='keep the temporary directories')
    ap.add_argument ('--save', metavar='DIR', help='write every run\'s exit code, stdout and stderr to DIR')
    opts = ap.parse_args ()

    for path in (opts.real, opts.fake):
        if not os.access (path, os.X_OK):
            sys.exit ('not executable: %s' % path)
    version = subprocess.run ([opts.real, '--version'], capture_output=True, text=True,
                              env={'HOME': tempfile.gettempdir (), 'PATH': '/usr/bin:/bin'}).stdout.strip ()
    print ('real CLI: %s (%s)' % (version, os.path.realpath (opts.real)))
    print ('fake:     %s' % os.path.realpath (opts.fake))

    agents = load_agents (opts.agents_dir)
    top = tempfile.mkdtemp (prefix='cas-cli-check-')
    cwd = os.path.join (top, 'work')
    os.mkdir (cwd)
    mock = None if opts.no_mock else MockApi ()
    results = []
    try:
        for sc in scenarios (agents, os.geteuid () == 0):
            if opts.only and not any (o in sc.name for o in opts.only):
                continue
            if sc.mock and mock is None:
                continue
            real_home = os.path.join (top, sc.name + '-real')
            fake_home = os.path.join (top, sc.name + '-fake')
            os.mkdir (real_home)
            os.mkdir (fake_home)
            real_env, fake_env = dict (sc.env), dict (sc.env, **sc.fake_env)
            if sc.mock:
                # both get it: the fake only reads ANTHROPIC_BASE_URL and CLAUDE_CODE_MAX_RETRIES
                real_env = dict (sc.env, ANTHROPIC_BASE_URL=mock.url,
                                 ANTHROPIC_API_KEY='placeholder-not-a-key', CLAUDE_CODE_MAX_RETRIES='0')
                fake_env = dict (real_env, FAKE_CLAUDE_REPLY=MOCK_REPLY, FAKE_CLAUDE_TOKENS=str (MOCK_CHUNKS),
                                 **sc.fake_env)
            problems = []
            for i, run in enumerate (sc.runs, 1):
                real = run_binary (opts.real, run, real_home, cwd, real_env)
                fake = run_binary (opts.fake, run, fake_home, cwd, fake_env)
                if opts.save:
                    save_outcomes (opts.save, '%s.%d' % (sc.name, i), real, fake)
                if not run.compare:
                    continue
                tag = 'run %d: ' % i if len (sc.runs) > 1 else ''
                found = compare (sc, run, real, fake, real_home, fake_home)
                problems += [tag + p for p in found]
                if found and opts.verbose:
                    for side, o in (('real', real), ('fake', fake)):
                        print ('  --- %s %s%s exit %s' % (sc.name, tag, side, o.rc))
                        print ('  stderr: ' + o.stderr[:2000].replace ('\n', '\n          '))
                        print ('  stdout: ' + o.stdout[:6000].replace ('\n', '\n          '))
            results.append ((sc, problems))
            verdict = 'match' if not problems else 'known' if sc.known else 'MISMATCH'
            print ('%-45s %s' % (sc.name, verdict), flush=True)
            if problems and sc.known:
                print ('    (known: %s)' % sc.known)
            for p in problems:
                print ('    ' + p.replace ('\n', '\n    '))
    finally:
        if mock:
            mock.stop ()
        if not opts.keep:
            shutil.rmtree (top, ignore_errors=True)
        else:
            print ('kept %s' % top)
    bad = sum (1 for sc, p in results if p and not sc.known)
    known = sum (1 for sc, p in results if p and sc.known)
    print ('%d scenarios: %d match, %d known difference(s), %d mismatch'
           % (len (results), len (results) - bad - known, known, bad))
    if mock is not None and opts.verbose:
        print ('mock API requests: %s' % ', '.join ('%s %s' % (m, p) for m, p, _ in mock.requests))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit (main ())
