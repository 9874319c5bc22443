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
from typing import ClassVar, Dict, List, Optional, Sequence, Tuple, Union

import libcst as cst

from ..context import Context
from ..diagnostics import Severity


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


class Unbindable(Exception):
    """A call whose arguments cannot be matched to the signature statically."""


def bind(call: cst.Call, params: Sequence[str]) -> Dict[str, cst.BaseExpression]:
    """Match a call's arguments to parameter names, like Python would.

    Handles the four call shapes (positional, keyword, shuffled keywords,
    defaults left out). ``*args``/``**kwargs`` or unknown keywords raise
    ``Unbindable`` with the reason.
    """
    bound: Dict[str, cst.BaseExpression] = {}
    for i, a in enumerate(call.args):
        if a.star:
            raise Unbindable(f"`{a.star}` arguments cannot be matched statically")
        if a.keyword is None:
            if i >= len(params):
                raise Unbindable("too many positional arguments")
            bound[params[i]] = a.value
        else:
            key = a.keyword.value
            if key not in params:
                raise Unbindable(f"unknown keyword argument `{key}`")
            if key in bound:
                raise Unbindable(f"argument `{key}` given twice")
            bound[key] = a.value
    return bound


def literal(node: Optional[cst.BaseExpression]):
    """The Python value of a simple literal node, or ``NotLiteral``."""
    if node is None:
        return NotLiteral
    if isinstance(node, cst.Integer):
        return node.evaluated_value
    if isinstance(node, cst.Float):
        return node.evaluated_value
    if isinstance(node, cst.Name) and node.value in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[node.value]
    if isinstance(node, cst.SimpleString):
        return node.evaluated_value
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        inner = literal(node.expression)
        if isinstance(inner, (int, float)) and not isinstance(inner, bool):
            return -inner
    return NotLiteral


class _NotLiteral:
    def __repr__(self) -> str:
        return "NotLiteral"


NotLiteral = _NotLiteral()


def code_of(node: cst.CSTNode) -> str:
    return cst.Module(body=[]).code_for_node(node)


# expressions that need no parentheses as an operand or an attribute's object
ATOMIC = (cst.Name, cst.Attribute, cst.Call, cst.Subscript, cst.Integer, cst.Float, cst.SimpleString,
          cst.List, cst.Tuple)


def paren(node: cst.BaseExpression) -> cst.BaseExpression:
    """``node`` in parentheses unless it is atomic or has them already."""
    if isinstance(node, ATOMIC) or node.lpar:
        return node
    return node.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


StatementResult = Union[None, cst.BaseStatement, List[cst.BaseStatement]]
