"""black formats what the rules changed, and nothing else.

Statements no rule touched are kept as the same objects, with their comments
and layout. A compound statement whose header is untouched is entered, so a
change deep inside a function reformats only the statements that changed.
"""

from __future__ import annotations

from dataclasses import fields
from typing import List, Optional, Set

import black
import libcst as cst

from .context import Context

_NESTED = ("body", "orelse", "finalbody", "handlers")


def format_changed(module: cst.Module, ctx: Context, unchanged: Set[int]) -> cst.Module:
    fmt = _Formatter(module, ctx, unchanged)
    return module.with_changes(body=fmt.body(list(module.body), 0))


def _same(a, b) -> bool:
    if a is b:
        return True
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(x is y for x, y in zip(a, b))
    return False


class _Formatter:
    def __init__(self, module: cst.Module, ctx: Context, unchanged: Set[int]) -> None:
        self.module = module
        self.ctx = ctx
        self.unchanged = unchanged

    def body(self, stmts: List[cst.BaseStatement], depth: int) -> List[cst.BaseStatement]:
        out: List[cst.BaseStatement] = []
        for stmt in stmts:
            if id(stmt) in self.unchanged:
                out.append(stmt)
                continue
            orig = self.ctx.original(stmt)
            if orig is not stmt and isinstance(stmt, cst.BaseCompoundStatement) and type(orig) is type(stmt):
                kept = self.compound(stmt, orig, depth)
                if kept is not None:
                    self.ctx.origin[id(kept)] = (kept, orig)
                    out.append(kept)
                    continue
            out.extend(self.black(stmt, orig, depth))
        return out

    def compound(self, node: cst.CSTNode, orig: cst.CSTNode, depth: int) -> Optional[cst.CSTNode]:
        """``node`` with its nested bodies formatted, or None if its header changed."""
        for f in fields(node):
            if f.name not in _NESTED and not _same(getattr(node, f.name), getattr(orig, f.name)):
                return None
        changes = {}
        for name in _NESTED:
            new, old = getattr(node, name, None), getattr(orig, name, None)
            if _same(new, old):
                continue
            if name == "body":
                if not (isinstance(new, cst.IndentedBlock) and isinstance(old, cst.IndentedBlock)):
                    return None
                if not _same(new.header, old.header) or not _same(new.footer, old.footer):
                    return None
                changes[name] = new.with_changes(body=self.body(list(new.body), depth + 1))
            elif name == "handlers":
                if len(new) != len(old):
                    return None
                handlers = []
                for h_new, h_old in zip(new, old):
                    h = h_new if h_new is h_old else self.compound(h_new, h_old, depth)
                    if h is None:
                        return None
                    handlers.append(h)
                changes[name] = handlers
            else:  # orelse / finalbody: Else, Finally, or an elif's If, at this depth
                if new is None or old is None or type(new) is not type(old):
                    return None
                sub = self.compound(new, old, depth)
                if sub is None:
                    return None
                changes[name] = sub
        return node.with_changes(**changes)

    def black(self, stmt: cst.BaseStatement, orig: cst.CSTNode, depth: int) -> List[cst.BaseStatement]:
        leading = stmt.leading_lines
        code = self.module.code_for_node(stmt.with_changes(leading_lines=()))
        try:
            mode = black.Mode(line_length=max(40, 88 - 4 * depth))
            formatted = black.format_str(code, mode=mode)
            new = list(cst.parse_module(formatted).body)
        except Exception:  # black refused: keep the statement as the rules made it
            return [stmt]
        if not new:
            return [stmt]
        new[0] = new[0].with_changes(leading_lines=[*leading, *new[0].leading_lines])
        for n in new:
            self.ctx.origin[id(n)] = (n, orig)
        return new
