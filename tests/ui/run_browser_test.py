#!/usr/bin/python3
"""tests/integration/run_test.py for the browser tests: the same exit
codes (a skip is 77, which fails the README's test command)."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, '..', 'integration')]
import run_test  # noqa: E402

if __name__ == '__main__':
    sys.exit(run_test.main(sys.argv[1]))
