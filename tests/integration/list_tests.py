#!/usr/bin/python3
"""Print "module.Class.test_method [smoke]" for each test in a file.

Reads the source with ast, so listing needs none of the test's imports.
"""
import ast
import os
import sys


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
                smoke = ' smoke' if 'smoke' in decorator_names(item) else ''
                print(f'{module}.{node.name}.{item.name}{smoke}')


if __name__ == '__main__':
    main(sys.argv[1])
