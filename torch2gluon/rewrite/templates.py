"""Templates: MXNet code written over placeholders, with the script's expressions put in."""

from __future__ import annotations

from typing import Dict, cast

import libcst as cst

from ..base.syntax import arg, paren, walk


def inline(template: cst.BaseExpression, values: Dict[str, cst.BaseExpression], nd) -> cst.BaseExpression:
    """``template`` (over ``ND`` and the names in ``values``) with the script's expressions put in.

    An expression is put in where its name stands when it is a plain name or
    attribute, or when the template uses it once (an expression that is not
    a primary gets parentheses); otherwise the template becomes a lambda
    called on the expressions, so each is evaluated once, as in torch.
    """
    uses: Dict[str, int] = {}
    keywords = {id(n.keyword) for n in walk(template) if isinstance(n, cst.Arg) and n.keyword is not None}
    for node in walk(template):
        if isinstance(node, cst.Name) and node.value in values and id(node) not in keywords:
            uses[node.value] = uses.get(node.value, 0) + 1
    simple = all(
        uses.get(k, 0) <= 1 or isinstance(v, (cst.Name, cst.Integer, cst.Float, cst.SimpleString))
        or (isinstance(v, cst.Attribute) and isinstance(v.value, cst.Name))
        for k, v in values.items()
    )
    if simple:
        put = {k: paren(v) for k, v in values.items()}
        return cast(cst.BaseExpression, template.visit(_Put(nd, put)))
    lam = cst.parse_expression(f"lambda {', '.join(values)}: 0").with_changes(body=template.visit(_Put(nd, {})))
    lam = lam.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return cst.Call(func=lam, args=[arg(v) for v in values.values()])


class _Put(cst.CSTTransformer):
    def __init__(self, nd, values) -> None:
        self.nd, self.values = nd, values
        self._keywords: set = set()

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.keyword is not None:
            self._keywords.add(id(node.keyword))  # a keyword's name is not a placeholder

    def leave_Name(self, original: cst.Name, updated: cst.Name):
        if id(original) in self._keywords:
            return updated
        if updated.value == "ND":
            return self.nd()
        return self.values.get(updated.value, updated)

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute):
        return updated.with_changes(attr=original.attr)  # `.dtype` of a put-in value stays an attribute name
