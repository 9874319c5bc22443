"""Inline markers: a comment above each statement that carries a diagnostic.

``# torch2gluon: T2G001: `torch.foo` has no translation; left as is``

A marker that is already there is not added again, so translating the output
once more changes nothing: a statement that carries markers of a rule already
gets that rule's new ones only past their number (a second pass names the code
it reads, which the first pass may have rewritten around the refused call).
"""

from __future__ import annotations

from typing import Dict, List, Tuple

import libcst as cst

from ..base.syntax import PreservingTransformer, children
from ..rewrite.context import Context

_STATEMENTS = (cst.SimpleStatementLine, cst.BaseCompoundStatement)


def _header_range(ctx: Context, orig: cst.CSTNode) -> Tuple[int, int]:
    pos = ctx.position(orig)
    if pos is None:
        return (0, -1)
    start, end = pos.start.line, pos.end.line
    body = getattr(orig, "body", None)
    if isinstance(orig, cst.BaseCompoundStatement) and isinstance(body, cst.IndentedBlock) and body.body:
        first = ctx.position(body.body[0])
        if first is not None:
            end = max(start, first.start.line - 1)
    return start, end


def attach(module: cst.Module, ctx: Context) -> cst.Module:
    diags = [d for d in ctx.diagnostics if d.marked]
    if not diags:
        return module
    spans: List[Tuple[int, int, int, cst.CSTNode]] = []  # (start, end, order, node)
    stack: List[cst.CSTNode] = [module]
    order = 0
    while stack:
        node = stack.pop()
        if isinstance(node, _STATEMENTS):
            orig = ctx.original(node)
            # statements that are not from the source (inserted imports, code
            # a rule built) have no range of their own
            start, end = _header_range(ctx, orig) if id(orig) in ctx.top_of else (0, -1)
            if start:
                spans.append((start, end, order, node))
                order += 1
        if isinstance(node, (cst.SimpleStatementLine, cst.BaseExpression)):
            continue
        stack.extend(reversed(children(node)))
    if not spans:
        return module
    targets: Dict[int, List[str]] = {}
    for d in diags:
        covering = [s for s in spans if s[0] <= d.line <= s[1]]
        if covering:
            # the innermost statement; of statements made from one (an
            # expanded nn.Sequential), the first
            target = max(covering, key=lambda s: (s[0], isinstance(s[3], cst.SimpleStatementLine), -s[2]))
        else:
            after = [s for s in spans if s[0] > d.line]
            target = min(after, key=lambda s: (s[0], s[2])) if after else spans[-1]
        texts = targets.setdefault(id(target[3]), [])
        text = " ".join(d.marker().split())
        if text not in texts:
            texts.append(text)
    return module.visit(_AddMarkers(targets))


def _rule_of(comment: str) -> str:
    """``T2G104`` for ``# torch2gluon: T2G104: ...``; "" for any other comment."""
    head, sep, rest = comment.partition(": ")
    if head != "# torch2gluon" or not sep:
        return ""
    return rest.split(":", 1)[0]


class _AddMarkers(PreservingTransformer):
    def __init__(self, targets: Dict[int, List[str]]) -> None:
        super().__init__()
        self.targets = targets

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> bool:
        return False

    def on_leave(self, original_node, updated_node):
        result = super().on_leave(original_node, updated_node)
        texts = self.targets.get(id(original_node))
        if texts:
            have = [line.comment.value for line in result.leading_lines if line.comment is not None]
            counts: Dict[str, int] = {}
            for c in have:
                code = _rule_of(c)
                if code:
                    counts[code] = counts.get(code, 0) + 1
            new = []
            for t in sorted(texts, key=lambda t: t not in have):  # exact matches first
                if t in have:
                    counts[_rule_of(t)] = counts.get(_rule_of(t), 1) - 1
                    continue
                code = _rule_of(t)
                if code and counts.get(code, 0) > 0:
                    counts[code] -= 1  # one of this rule's markers is there already
                    continue
                new.append(cst.EmptyLine(comment=cst.Comment(t)))
            if new:
                self.changes += 1
                result = result.with_changes(leading_lines=[*result.leading_lines, *new])
        return result
