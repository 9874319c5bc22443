"""Building blocks of the training-loop rules (T2G501-T2G505)."""

from __future__ import annotations

import re
from typing import Optional

import libcst as cst


def free_name(source: str, candidates) -> str:
    """The first of ``candidates`` the source never spells as a word (for a
    loop variable the translation adds)."""
    for n in candidates:
        if not re.search(rf"\b{n}\b", source):
            return n
    return candidates[-1] + "_t2g"


def params_owner(node: Optional[cst.BaseExpression]) -> Optional[cst.BaseExpression]:
    """``model`` of ``model.parameters()`` (a name or attribute chain), else None."""
    if not (
        isinstance(node, cst.Call) and not node.args and isinstance(node.func, cst.Attribute)
        and node.func.attr.value == "parameters"
    ):
        return None
    owner = node.func.value
    inner = owner
    while isinstance(inner, (cst.Attribute, cst.Subscript)):
        if isinstance(inner, cst.Subscript) and not all(
            isinstance(e.slice, cst.Index) and isinstance(e.slice.value, (cst.Integer, cst.SimpleString, cst.Name))
            for e in inner.slice
        ):
            return None
        inner = inner.value
    return owner if isinstance(inner, cst.Name) else None
