"""Strings the rules put inside an f-string's expressions get the other quote.

``f"{x.item()}"`` becomes ``f"{x.argmax(0).astype("int64")...}"`` if a rule
writes a double-quoted string where the f-string is double-quoted: valid on
Python 3.12, a syntax error before. Such strings are rewritten with the
f-string's other quote (``'int64'``), so the output parses on every Python
the project supports.
"""

from __future__ import annotations

from typing import List

import libcst as cst

from ..base.syntax import PreservingTransformer


def _quote_of(node: cst.FormattedString) -> str:
    start = node.start.lstrip("fFrRbBuU")
    return start


class _Requote(PreservingTransformer):
    def __init__(self) -> None:
        super().__init__()
        self._outer: List[str] = []

    def visit_FormattedString(self, node: cst.FormattedString) -> None:
        self._outer.append(_quote_of(node))

    def leave_FormattedString(self, original: cst.FormattedString, updated: cst.FormattedString) -> cst.FormattedString:
        self._outer.pop()
        return updated

    def leave_SimpleString(self, original: cst.SimpleString, updated: cst.SimpleString) -> cst.BaseExpression:
        if not self._outer:
            return updated
        outer = self._outer[-1]
        if len(outer) == 3:
            return updated  # a triple-quoted f-string holds single quotes of either kind
        prefix = updated.prefix
        quote = updated.quote
        if quote != outer:
            return updated
        other = "'" if outer == '"' else '"'
        try:
            value = updated.evaluated_value
        except Exception:  # pragma: no cover - a literal libcst cannot evaluate
            return updated
        if not isinstance(value, str) or other in value or "\\" in value or "\n" in value:
            return updated  # left for the parse check to report
        return updated.with_changes(value=f"{prefix}{other}{value}{other}")


def requote(module: cst.Module, source: str) -> cst.Module:
    """``module`` with strings inside f-string expressions quoted unlike their
    f-string (rules write no f-strings: only a source with some needs the walk)."""
    if not any(p in source for p in ("f'", 'f"', "F'", 'F"')):
        return module
    return module.visit(_Requote())
