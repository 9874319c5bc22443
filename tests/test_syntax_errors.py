"""T2G000: a syntax error is reported where Python's ``compile()`` reports it,
by ``translate()`` and so by the CLI (and the editor server)."""

from __future__ import annotations

import ast
import re

import pytest

from torch2gluon import Severity, translate
from torch2gluon.cli import EXIT_ERROR, main

CASES = [
    # (source, line, column) as compile() gives them
    ("import torch\n\nx = torch.ones(2\n", 3, 15),  # '(' was never closed
    ("import torch\ndef f(:\n    pass\n", 2, 7),
    ("import torch\nx = 'abc\n", 2, 5),  # tokenizer: unterminated string
    ('import torch\nx = """abc\n', 2, 5),  # tokenizer: unterminated triple quote
    ("import torch\nx = $\n", 2, 5),  # tokenizer: invalid character
    ("import torch\nif x:\n\ty = 1\n        z = 2\n", 4, 1),  # TabError
    ("import torch\nx = 1\n  y = 2\n", 3, 2),  # IndentationError (where compile() puts it)
    ("import torch\nprint 'x'\n", 2, 1),
    ("import torch\ns = 'é' + (1 +\n", 2, 11),  # columns count code points
    ("import torch\nx = 0\x00\n", 2, 6),  # a null byte (compile() gives no position)
]


def _compile_position(source):
    try:
        compile(source, "<s>", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as exc:
        return exc.lineno, exc.offset, exc.msg
    return None


@pytest.mark.parametrize("source, line, column", CASES)
def test_translate_reports_where_python_does(source, line, column):
    result = translate(source)
    assert result.code == source
    (diag,) = result.diagnostics
    assert diag.rule == "T2G000" and diag.severity is Severity.ERROR
    assert (diag.line, diag.column) == (line, column)
    assert (diag.end_line, diag.end_column) > (diag.line, diag.column)
    expected = _compile_position(source)
    if expected[0] is not None:  # everything but the null byte
        assert (diag.line, diag.column) == expected[:2]
        assert diag.message == f"cannot parse: {expected[2]}"


def test_the_end_is_pythons_when_it_gives_one():
    (diag,) = translate("import torch\nprint 'x'\n").diagnostics
    assert (diag.line, diag.column, diag.end_line, diag.end_column) == (2, 1, 2, 10)


def test_cli_prints_the_same_position(tmp_path, capsys):
    bad = tmp_path / "bad.py"
    bad.write_text("import torch\n\nx = torch.ones(2\n", encoding="utf-8")
    assert main(["--check", str(bad)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert re.search(
        rf"^{re.escape(str(bad))}:3:15: error T2G000 cannot parse: '\(' was never closed$", err, re.M
    ), err
