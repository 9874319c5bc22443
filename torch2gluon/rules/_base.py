"""What a rule is: an id, documentation, examples, and hooks the engine calls.

A rule module defines one or more ``Rule`` subclasses. The engine makes one
instance per translation and calls, for every node it leaves, the hooks named
after that node's type:

``leave_Call(original, updated)``
    return a replacement expression, or ``None`` to leave it alone.
``leave_SimpleStatementLine(original, updated)``
    return a statement, a list of statements (to expand one into several),
    or ``None``.
``leave_block(original_block, body)``
    called for every block (a module, or an indented block) with the list of
    its already translated statements; return a new list or ``None``.

Rules never touch imports: they build MXNet references with ``ctx.ref`` and
the engine adds the imports once at the end; torch imports nobody uses any
more are removed there too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, List, Optional, Sequence, Tuple, Union

import libcst as cst

from ..base.syntax import ATOMIC, NotLiteral, Unbindable, bind, code_of, literal, paren
from ..rewrite.context import Context
from ..base.diagnostics import Severity

__all__ = [
    "ATOMIC", "Example", "NotLiteral", "Rule", "StatementResult", "Unbindable",
    "bind", "code_of", "literal", "paren",
]


@dataclass(frozen=True)
class Example:
    """A before/after pair; ``diagnostics`` lists the rule ids reported;
    ``options`` are ``Options`` fields the translation runs with (e.g.
    ``{"hybridize": True}``)."""

    before: str
    after: str
    diagnostics: Tuple[str, ...] = ()
    id: str = ""
    options: Tuple[Tuple[str, object], ...] = ()


class Rule:
    code: ClassVar[str] = ""
    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    examples: ClassVar[Sequence[Example]] = ()

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def report(
        self,
        node: cst.CSTNode,
        message: str,
        *,
        severity: Severity = Severity.ERROR,
        suggestion: Optional[str] = None,
    ) -> None:
        self.ctx.report(node, message, severity=severity, rule=self.code, suggestion=suggestion)


    def keep(self, original: cst.Call, name: str, why: str) -> None:
        """Report a torch call left untranslated, with the reason (not also as T2G001)."""
        self.report(original, f"`{name}` {why}; left as is")
        self.ctx.explained.add(id(original.func))
        return None


StatementResult = Union[None, cst.BaseStatement, List[cst.BaseStatement]]
