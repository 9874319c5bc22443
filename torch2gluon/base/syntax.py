"""libcst helpers every layer uses: walking trees, reading literals and calls, building code."""

from __future__ import annotations

from dataclasses import fields
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union, cast

import libcst as cst

_FIELDS: Dict[type, Tuple[str, ...]] = {}

# What every libcst statement is (a module's body holds these; a block's
# ``Sequence[BaseStatement]`` too, though its type does not say so): unlike
# ``cst.BaseStatement``, both declare ``leading_lines``.
Statement = Union[cst.SimpleStatementLine, cst.BaseCompoundStatement]


def children(node: cst.CSTNode) -> List[cst.CSTNode]:
    """A node's child nodes, read from its fields.

    libcst's ``node.children`` runs a visitor to collect them, which costs
    more than everything else a walk does; the order here is field order,
    which is all a walk needs.
    """
    names = _FIELDS.get(type(node))
    if names is None:
        names = _FIELDS[type(node)] = tuple(f.name for f in fields(node))
    out: List[cst.CSTNode] = []
    for name in names:
        value = getattr(node, name)
        if isinstance(value, cst.CSTNode):
            out.append(value)
        elif isinstance(value, (tuple, list)):
            out.extend(v for v in value if isinstance(v, cst.CSTNode))
    return out


def walk(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Every node of the tree under ``node`` (``node`` included)."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(children(n))


class PreservingTransformer(cst.CSTTransformer):
    """A transformer that hands back untouched subtrees as the same objects.

    libcst rebuilds every node it visits; the later passes (formatting,
    markers) tell changed statements from untouched ones by identity, so every
    pass after the rules keeps identity wherever nothing changed.
    """

    def __init__(self, ctx=None) -> None:
        super().__init__()
        self._marks: List[int] = []
        self.changes = 0
        # with a Context, a rebuilt statement keeps pointing at its original
        self._origin = ctx.origin if ctx is not None else None

    def on_visit(self, node: cst.CSTNode) -> bool:
        self._marks.append(self.changes)
        return super().on_visit(node)

    def on_leave(self, original_node, updated_node):
        mark = self._marks.pop()
        result = super().on_leave(original_node, updated_node)
        if result is not updated_node:
            self.changes += 1
        elif self.changes == mark:
            return original_node
        if self._origin is not None and isinstance(result, cst.CSTNode):
            entry = self._origin.get(id(original_node))
            if entry is not None and entry[0] is original_node:
                self._origin[id(result)] = (result, entry[1])
        return result


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


def arg(value: cst.BaseExpression, keyword: Optional[str] = None) -> cst.Arg:
    if keyword is None:
        return cst.Arg(value=value)
    return cst.Arg(
        value=value,
        keyword=cst.Name(keyword),
        equal=cst.AssignEqual(
            whitespace_before=cst.SimpleWhitespace(""),
            whitespace_after=cst.SimpleWhitespace(""),
        ),
    )


def expr(code: str) -> cst.BaseExpression:
    return cst.parse_expression(code)


def names_in(node: cst.CSTNode) -> Iterable[str]:
    """Every plain Name used inside ``node`` (a cheap, syntactic walk)."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.Name):
            yield n.value
        stack.extend(children(n))


def is_literal(node: Optional[cst.BaseExpression], value) -> bool:
    """``node`` is the literal ``value`` (``1`` does not match ``True``)."""
    got = literal(node)
    if got is NotLiteral:
        return False
    return got == value and isinstance(got, bool) == isinstance(value, bool)


def literal_ints(node: Optional[cst.BaseExpression], n: int) -> Optional[Tuple[int, ...]]:
    """``3`` -> (3,)*n, a tuple/list of n int literals -> that tuple, else None."""
    if node is None:
        return None
    value = literal(node)
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,) * n
    if isinstance(node, (cst.Tuple, cst.List)) and len(node.elements) == n:
        items = [literal(e.value) if not isinstance(e, cst.StarredElement) else NotLiteral for e in node.elements]
        if all(isinstance(v, int) and not isinstance(v, bool) for v in items):
            return tuple(cast(List[int], items))
    return None


def literal_pair(node: Optional[cst.BaseExpression]) -> Optional[Tuple[int, ...]]:
    """``3`` -> (3, 3), ``(3, 2)``/``[3, 2]`` -> (3, 2) for int literals, else None."""
    return literal_ints(node, 2)
