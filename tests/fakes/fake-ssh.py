#!/usr/bin/python3
"""A fake `ssh` for the power-verb tests (built into the fakes directory
as `ssh`, which the tests put first on PATH).

It logs each run as one JSON line to $FAKE_SSH_LOG: its argv, what it
read on stdin, its pid and process group, a grandchild's pid when it
hangs, and whether the daemon's secrets reached its environment. What it
does comes from $FAKE_SSH_SCENARIO, a file of KEY=VALUE lines read at
each start (so a test can change it while the daemon runs):

  EXIT=N      exit with N (default 0)
  STDOUT=...  written to stdout ("\\n" becomes a newline; default
              "<verb>: ok\\n", the verb being the last argument)
  STDERR=...  written to stderr, likewise
  STDOUT_HEX=...    raw bytes for stdout instead, in hex (invalid UTF-8, NULs)
  STDOUT_BYTES=N    N bytes of "x" in lines of 100 instead
  HANG=1      start a grandchild in the same process group, then sleep
              until killed
"""
import json
import os
import subprocess
import sys
import time


def scenario():
    settings = {}
    path = os.environ.get('FAKE_SSH_SCENARIO')
    if path:
        try:
            with open(path, encoding='utf-8') as f:
                for line in f:
                    key, sep, value = line.rstrip('\n').partition('=')
                    if sep:
                        settings[key] = value
        except FileNotFoundError:
            pass
    return settings


def unescape(text):
    return text.replace('\\n', '\n')


def log(entry):
    path = os.environ.get('FAKE_SSH_LOG')
    if not path:
        return
    with open(path, 'a', encoding='utf-8') as f:
        f.write(json.dumps(entry) + '\n')


def main():
    settings = scenario()
    stdin = sys.stdin.buffer.read().decode('utf-8', 'replace')
    entry = {
        'argv': sys.argv[1:],
        'stdin': stdin,
        'pid': os.getpid(),
        'pgid': os.getpgid(0),
        'secrets_in_env': [name for name in ('API_BEARER_TOKEN', 'CREDENTIALS_DIRECTORY')
                           if name in os.environ],
    }
    if settings.get('HANG') == '1':
        child = subprocess.Popen(['sleep', '3600'])
        entry['grandchild_pid'] = child.pid
        log(entry)
        sys.stdout.write('hanging\n')
        sys.stdout.flush()
        while True:
            time.sleep(3600)
    log(entry)
    verb = sys.argv[-1] if len(sys.argv) > 1 else ''
    if 'STDOUT_HEX' in settings:
        sys.stdout.buffer.write(bytes.fromhex(settings['STDOUT_HEX']))
    elif 'STDOUT_BYTES' in settings:
        left = int(settings['STDOUT_BYTES'])
        while left > 0:
            chunk = min(left, 100)
            sys.stdout.write('x' * (chunk - 1) + '\n')
            left -= chunk
    else:
        sys.stdout.write(unescape(settings.get('STDOUT', f'{verb}: ok\\n')))
    sys.stdout.flush()
    sys.stderr.write(unescape(settings.get('STDERR', '')))
    sys.stderr.flush()
    sys.exit(int(settings.get('EXIT', '0')))


if __name__ == '__main__':
    main()
