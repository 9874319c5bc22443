"""Syntax errors where Python reports them.

libcst's parser places some errors away from where the interpreter does (an
unclosed ``(`` at the start of the next line, a tokenizer error at 1:1).
``syntax_error`` asks ``compile()`` (parse only, nothing is run) and turns
its ``SyntaxError`` into a ``T2G000`` diagnostic at the same line and column,
so the CLI, the editor server and a traceback all point at one place.
"""

from __future__ import annotations

import ast
from typing import Optional, Tuple

from .diagnostics import SYNTAX_ERROR, Diagnostic, Severity

__all__ = ["syntax_error", "PARSE_FLAGS"]

#: parse only; top-level ``await`` is valid in notebook cells (IPython runs them)
PARSE_FLAGS = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


def _null_byte(source: str) -> Optional[Tuple[int, int]]:
    at = source.find("\x00")
    if at < 0:
        return None
    before = source[:at]
    line = before.count("\n") + 1
    return line, at - (before.rfind("\n") + 1) + 1


def syntax_error(
    source: str, fallback: Optional[Tuple[str, int, int]] = None
) -> Optional[Diagnostic]:
    """The ``T2G000`` diagnostic for ``source``, or ``None`` when it compiles.

    Positions are ``compile()``'s: 1-based lines, 1-based columns in code
    points; the end is the one Python gives when it lies after the start,
    else one character after it. ``fallback`` (message, line, column) is
    used when Python accepts the source (a parser that disagrees with the
    running interpreter) or gives no position.
    """
    try:
        compile(source, "<unknown>", "exec", PARSE_FLAGS, dont_inherit=True)
    except SyntaxError as exc:  # IndentationError and TabError included
        message = exc.msg or "invalid syntax"
        line, column = exc.lineno, exc.offset
        if line is None and "\x00" in source:  # "cannot contain null bytes" (3.11)
            line, column = _null_byte(source) or (1, 1)
        if line is None:
            if fallback is None:
                line, column = 1, 1
            else:
                line, column = fallback[1], fallback[2]
        column = max(column or 1, 1)
        end_line, end_column = exc.end_lineno, exc.end_offset
        if end_line is None or end_column is None or (end_line, end_column) <= (line, column):
            end_line, end_column = line, column + 1
        return Diagnostic(
            rule=SYNTAX_ERROR,
            severity=Severity.ERROR,
            message=f"cannot parse: {message}",
            line=line,
            column=column,
            end_line=end_line,
            end_column=end_column,
        )
    except (ValueError, OverflowError, MemoryError, RecursionError):  # pragma: no cover - odd inputs
        pass
    if fallback is None:
        return None
    message, line, column = fallback
    return Diagnostic(
        rule=SYNTAX_ERROR,
        severity=Severity.ERROR,
        message=f"cannot parse: {message}",
        line=line,
        column=column,
        end_line=line,
        end_column=column,
    )
