"""black formats what the rules changed, and nothing else.

Statements no rule touched are kept as the same objects, with their comments
and layout. A compound statement whose header is untouched is entered, so a
change deep inside a function reformats only the statements that changed.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple, TypeVar, cast

import black
import libcst as cst

from ..base.syntax import Statement
from ..rewrite.context import Context

_NESTED = ("body", "orelse", "finalbody", "handlers")

_Node = TypeVar("_Node", bound=cst.CSTNode)


def format_changed(module: cst.Module, ctx: Context, unchanged: Set[int]) -> cst.Module:
    fmt = _Formatter(module, ctx, unchanged)
    return module.with_changes(body=fmt.run(list(module.body)))


def _same(a, b) -> bool:
    if a is b:
        return True
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(x is y for x, y in zip(a, b))
    return False


_SPLIT = "# __torch2gluon_split_{}__"


class _Formatter:
    """Two passes: find the statements to format, format them with one black
    call per line length, then rebuild the bodies with the results."""

    def __init__(self, module: cst.Module, ctx: Context, unchanged: Set[int]) -> None:
        self.module = module
        self.ctx = ctx
        self.unchanged = unchanged
        self.jobs: Dict[int, List[Tuple[Statement, cst.CSTNode]]] = {}  # line length -> jobs
        self.results: Dict[int, List[Statement]] = {}
        self.formatting = False
        self._headers: Dict[int, Statement] = {}

    def run(self, stmts: List[Statement]) -> List[Statement]:
        self.body(stmts, 0)  # pass 1: collect
        for length, jobs in self.jobs.items():
            self._format_batch(length, jobs)
        self.formatting = True
        return self.body(stmts, 0)  # pass 2: rebuild

    def body(self, stmts: Sequence[cst.BaseStatement], depth: int) -> List[Statement]:
        out: List[Statement] = []
        for stmt in cast(Sequence[Statement], stmts):  # what a block's BaseStatements are
            if id(stmt) in self.unchanged:
                out.append(stmt)
                continue
            orig = self.ctx.original(stmt)
            if orig is not stmt and isinstance(stmt, cst.BaseCompoundStatement) and type(orig) is type(stmt):
                kept = self.compound(stmt, orig, depth)
                if kept is not None:
                    if self.formatting:
                        self.ctx.origin[id(kept)] = (kept, orig)
                    out.append(kept)
                    continue
                header = self._header_only(stmt, orig)
                if header is not None:
                    # Only the header changed (a class's bases, a loop's
                    # iterable): black formats the header alone, and the body
                    # keeps its untouched statements as they are.
                    body = self.body(list(cast(cst.IndentedBlock, stmt.body).body), depth + 1)  # as _header_only checked
                    if self.formatting:
                        done = self.results.get(id(header), [header])
                        if len(done) == 1 and isinstance(done[0], type(stmt)):
                            new = done[0].with_changes(body=stmt.body.with_changes(body=body))
                            self.ctx.origin[id(new)] = (new, orig)
                            out.append(new)
                            continue
                        out.append(stmt)
                    else:
                        self.jobs.setdefault(max(40, 88 - 4 * depth), []).append((header, orig))
                    continue
            if self.formatting:
                out.extend(self.results.get(id(stmt), [stmt]))
            else:
                self.jobs.setdefault(max(40, 88 - 4 * depth), []).append((stmt, orig))
        return out

    def _header_only(self, stmt: Statement, orig: cst.CSTNode) -> Optional[Statement]:
        """``stmt`` with a one-line body, to format its header alone; None when
        more than the header and the body changed."""
        body = getattr(stmt, "body", None)
        if not isinstance(body, cst.IndentedBlock) or not isinstance(getattr(orig, "body", None), cst.IndentedBlock):
            return None
        for name in _NESTED[1:]:
            if not _same(getattr(stmt, name, None), getattr(orig, name, None)):
                return None
        cached = self._headers.get(id(stmt))
        if cached is None:
            cached = stmt.with_changes(body=cst.IndentedBlock(body=[cst.SimpleStatementLine(body=[cst.Pass()])]))
            self._headers[id(stmt)] = cached
        return cached

    def compound(self, node: _Node, orig: cst.CSTNode, depth: int) -> Optional[_Node]:
        """``node`` with its nested bodies formatted, or None if its header changed."""
        for f in fields(node):
            if f.name not in _NESTED and not _same(getattr(node, f.name), getattr(orig, f.name)):
                return None
        changes: Dict[str, Any] = {}
        for name in _NESTED:
            new: Any = getattr(node, name, None)
            old: Any = getattr(orig, name, None)
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
        return node.with_changes(**changes) if self.formatting else node

    def _code(self, stmt: Statement) -> str:
        return self.module.code_for_node(stmt.with_changes(leading_lines=()))

    def _format_batch(self, length: int, jobs: List[Tuple[Statement, cst.CSTNode]]) -> None:
        mode = black.Mode(line_length=length)
        pieces = []
        for i, (stmt, _) in enumerate(jobs):
            pieces.append(_SPLIT.format(i) + "\n" + self._code(stmt))
        try:
            formatted = black.format_str("\n".join(pieces), mode=mode)
            result = cst.parse_module(formatted)
            parsed = list(result.body)
            if parsed and result.header:  # libcst keeps a file's first comments in the header
                parsed[0] = parsed[0].with_changes(leading_lines=[*result.header, *parsed[0].leading_lines])
            groups = self._split(parsed, len(jobs))
        except Exception:  # black refused the batch: format one by one
            groups = None
        for i, (stmt, orig) in enumerate(jobs):
            if groups is not None:
                new = groups[i]
            else:
                try:
                    new = list(cst.parse_module(black.format_str(self._code(stmt), mode=mode)).body)
                except Exception:  # black refused: keep the statement as the rules made it
                    new = [stmt]
            if not new:
                new = [stmt]
            if new[0] is not stmt:
                new[0] = new[0].with_changes(leading_lines=[*stmt.leading_lines, *new[0].leading_lines])
            for n in new:
                self.ctx.origin[id(n)] = (n, orig)
            self.results[id(stmt)] = new

    @staticmethod
    def _split(parsed: List[Statement], count: int) -> List[List[Statement]]:
        groups: List[List[Statement]] = []
        for stmt in parsed:
            lines = list(stmt.leading_lines)
            marks = [k for k, line in enumerate(lines) if line.comment is not None and line.comment.value.startswith("# __torch2gluon_split_")]
            if marks:
                k = marks[-1]
                expected = _SPLIT.format(len(groups))
                if cast(cst.Comment, lines[k].comment).value != expected or len(marks) != 1:
                    raise ValueError("batch split markers out of order")
                rest = lines[k + 1 :]
                while rest and rest[0].comment is None:
                    rest = rest[1:]  # blank lines black put between the marker and the statement
                groups.append([stmt.with_changes(leading_lines=rest)])
            else:
                if not groups:
                    raise ValueError("statement before the first split marker")
                groups[-1].append(stmt)
        if len(groups) != count:
            raise ValueError("batch split lost statements")
        return groups
