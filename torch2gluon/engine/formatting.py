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
                rebuilt = self._with_header(stmt, orig, depth)
                if rebuilt is not None:
                    # Only the header changed (a class's bases, a loop's
                    # iterable, an if's test), perhaps with statements inside:
                    # black formats the header alone, and the bodies keep their
                    # untouched statements as they are.
                    out.append(rebuilt)
                    continue
            if orig is not stmt and isinstance(stmt, cst.With) and not isinstance(orig, cst.With):
                # a block a rule wrapped around statements (autograd.record()): its
                # header formatted alone, its statements entered, so that they keep
                # their sources (and their markers)
                out.append(self._wrapper(stmt, orig, depth))
                continue
            if self.formatting:
                out.extend(self.results.get(id(stmt), [stmt]))
            else:
                self.jobs.setdefault(max(40, 88 - 4 * depth), []).append((stmt, orig))
        return out

    def _wrapper(self, stmt: cst.With, orig: cst.CSTNode, depth: int) -> Statement:
        if not isinstance(stmt.body, cst.IndentedBlock):
            return stmt
        header = self._headers.get(id(stmt))
        if header is None:
            header = stmt.with_changes(body=cst.IndentedBlock(body=[cst.SimpleStatementLine(body=[cst.Pass()])]))
            self._headers[id(stmt)] = header
        body = self.body(list(stmt.body.body), depth + 1)
        if not self.formatting:
            self.jobs.setdefault(max(40, 88 - 4 * depth), []).append((header, orig))
            return stmt
        done = self.results.get(id(header), [header])
        if len(done) != 1 or not isinstance(done[0], cst.With):
            return stmt
        new = done[0].with_changes(body=stmt.body.with_changes(body=body))
        self.ctx.origin[id(new)] = (new, orig)
        return new

    def _header_only(self, stmt: Statement, orig: cst.CSTNode) -> Optional[Statement]:
        """``stmt`` with a one-line body (and no else), to format its header
        alone; None when it has no indented body or a try's parts changed."""
        body = getattr(stmt, "body", None)
        if not isinstance(body, cst.IndentedBlock) or not isinstance(getattr(orig, "body", None), cst.IndentedBlock):
            return None
        for name in _NESTED[2:]:
            if not _same(getattr(stmt, name, None), getattr(orig, name, None)):
                return None
        cached = self._headers.get(id(stmt))
        if cached is None:
            changes: Dict[str, Any] = {"body": cst.IndentedBlock(body=[cst.SimpleStatementLine(body=[cst.Pass()])])}
            if getattr(stmt, "orelse", None) is not None:
                changes["orelse"] = None
            cached = stmt.with_changes(**changes)
            self._headers[id(stmt)] = cached
        return cached

    def _with_header(self, stmt: Statement, orig: cst.CSTNode, depth: int) -> Optional[Statement]:
        """``stmt`` with its header formatted alone and its bodies entered (in
        the first pass: None, having asked for the header's formatting)."""
        header = self._header_only(stmt, orig)
        if header is None:
            return None
        orelse = self._orelse(getattr(stmt, "orelse", None), getattr(orig, "orelse", None), depth)
        if orelse is False:
            return None
        block = cast(cst.IndentedBlock, getattr(stmt, "body"))  # as _header_only checked
        body = self.body(list(block.body), depth + 1)
        if not self.formatting:
            self.jobs.setdefault(max(40, 88 - 4 * depth), []).append((header, orig))
            return stmt
        done = self.results.get(id(header), [header])
        if len(done) != 1 or not isinstance(done[0], type(stmt)):
            return stmt
        changes: Dict[str, Any] = {"body": block.with_changes(body=body)}
        if orelse is not None:
            changes["orelse"] = orelse
        new = done[0].with_changes(**changes)
        self.ctx.origin[id(new)] = (new, orig)
        return new

    def _orelse(self, new: Any, old: Any, depth: int) -> Any:
        """An if's or a loop's ``else`` (or ``elif``) entered; False when it
        cannot be, None when there is none."""
        if new is None:
            return None if old is None else False
        if _same(new, old):
            return new
        if old is None or type(new) is not type(old):
            return False
        if isinstance(new, cst.If):  # an elif: a header of its own
            kept = self.compound(new, old, depth)
            if kept is not None:
                if self.formatting:
                    self.ctx.origin[id(kept)] = (kept, old)  # its markers stay on it
                return kept
            rebuilt = self._with_header(new, old, depth)
            return False if rebuilt is None else rebuilt
        if isinstance(new, cst.Else) and isinstance(new.body, cst.IndentedBlock) and isinstance(old.body, cst.IndentedBlock):
            return new.with_changes(body=new.body.with_changes(body=self.body(list(new.body.body), depth + 1)))
        return False

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
