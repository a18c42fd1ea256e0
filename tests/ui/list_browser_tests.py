#!/usr/bin/python3
"""tests/integration/list_tests.py for the browser tests, with one more
tag: needs_sessions (the test drives the login and session API), which
tests/ui/meson.build acts on."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'integration'))
import list_tests  # noqa: E402

list_tests.TAGS = list_tests.TAGS + ('needs_sessions',)

if __name__ == '__main__':
    list_tests.main(sys.argv[1])
