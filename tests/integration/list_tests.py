#!/usr/bin/python3
"""Print "module.Class.test_method [tag...]" for each test in a file; the
tags are the names of the harness's decorators it carries (smoke,
needs_root, needs_plain_memory), which tests/integration/meson.build acts on.

Reads the source with ast, so listing needs none of the test's imports.
"""
import ast
import os
import sys

TAGS = ('smoke', 'needs_root', 'needs_plain_memory')


def decorator_names(func):
    for dec in func.decorator_list:
        if isinstance(dec, ast.Name):
            yield dec.id
        elif isinstance(dec, ast.Attribute):
            yield dec.attr


def main(path):
    module = os.path.splitext(os.path.basename(path))[0]
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read(), path)
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        for item in node.body:
            if isinstance(item, ast.FunctionDef) and item.name.startswith('test'):
                tags = [name for name in decorator_names(item) if name in TAGS]
                print(' '.join([f'{module}.{node.name}.{item.name}'] + tags))


if __name__ == '__main__':
    main(sys.argv[1])
