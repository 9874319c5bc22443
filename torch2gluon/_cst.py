"""Small libcst helpers shared by the engine's passes."""

from __future__ import annotations

from dataclasses import fields
from typing import Dict, Iterator, List, Tuple

import libcst as cst

_FIELDS: Dict[type, Tuple[str, ...]] = {}


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

    def on_leave(self, original_node, updated_node):  # type: ignore[override]
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
