"""One parse, one pass over all rules, then imports, formatting and markers.

``run(source, options)`` is the pure core behind ``translate``. It never
raises: a syntax error or an internal failure comes back as a diagnostic with
the source unchanged.
"""

from __future__ import annotations

import ast
from typing import Dict, List, Optional, Sequence, Set, Tuple

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider, QualifiedNameProvider, ScopeProvider

from . import formatting, imports, markers
from .api import Options, Translation
from .context import Context
from .diagnostics import INTERNAL_ERROR, SYNTAX_ERROR, Diagnostic, Severity
from .rules import all_rules

UNSUPPORTED = "T2G001"

_STATEMENT_TYPES = (cst.SimpleStatementLine, cst.BaseCompoundStatement)


def run(source: str, options: Options) -> Translation:
    # Fast path: a file that never says "torch" cannot import it.
    if "torch" not in source:
        return Translation(source=source, code=source)
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as e:
        diag = Diagnostic(
            rule=SYNTAX_ERROR,
            severity=Severity.ERROR,
            message=f"cannot parse: {e.message}",
            line=e.raw_line,
            column=e.raw_column + 1,
            end_line=e.raw_line,
            end_column=e.raw_column + 1,
        )
        return Translation(source=source, code=source, diagnostics=(diag,))
    try:
        return _translate_module(source, module, options)
    except Exception as e:  # pragma: no cover - reported, never raised
        diag = Diagnostic(
            rule=INTERNAL_ERROR,
            severity=Severity.ERROR,
            message=f"internal error: {type(e).__name__}: {e}",
            line=1,
            column=1,
            end_line=1,
            end_column=1,
        )
        return Translation(source=source, code=source, diagnostics=(diag,))


def _translate_module(source: str, module: cst.Module, options: Options) -> Translation:
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    qualnames = wrapper.resolve(QualifiedNameProvider)
    positions = lambda: wrapper.resolve(PositionProvider)  # noqa: E731 - lazy, see Context
    scopes = wrapper.resolve(ScopeProvider)
    ctx = Context(module, qualnames, positions, options)
    ctx.source = source

    torch_imports = imports.find_torch_imports(scopes)
    if not torch_imports:
        return Translation(source=source, code=source)

    rules = [cls(ctx) for cls in all_rules() if cls.code not in options.disable]
    engine = _Engine(ctx, rules)
    out = module.visit(engine)

    # Anything that still refers to torch after the rules ran is reported.
    present = {id(n) for n in _walk(out)}
    _report_untranslated(ctx, engine.torch_refs, present)

    out = imports.finish(out, ctx, torch_imports, scopes, present)
    if options.format:
        out = formatting.format_changed(out, ctx, engine.unchanged | ctx.inserted_imports)
    out = markers.attach(out, ctx)
    out = imports.separate(out, ctx)
    code = out.code
    diagnostics = tuple(sorted(ctx.diagnostics, key=lambda d: (d.line, d.column, d.rule)))
    if code != source:
        try:
            ast.parse(code)
        except SyntaxError as e:  # never hand out code that does not parse
            diag = Diagnostic(
                rule=INTERNAL_ERROR,
                severity=Severity.ERROR,
                message=f"internal error: translated code does not parse ({e.msg}, output line {e.lineno})",
                line=1,
                column=1,
                end_line=1,
                end_column=1,
            )
            return Translation(source=source, code=source, diagnostics=(diag,))
    return Translation(source=source, code=code, diagnostics=diagnostics)


def _walk(node: cst.CSTNode):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(n.children)


def _report_untranslated(ctx: Context, refs: List[Tuple[cst.CSTNode, str]], present: Set[int]) -> None:
    left = []
    for node, name in refs:
        if id(node) in present:
            pos = ctx.position(node)
            if pos is not None:
                left.append((pos.start.line, pos.start.column, -pos.end.line, -pos.end.column, node, name))
    left.sort(key=lambda t: t[:4])
    outer_end = (0, 0)
    for line, col, neg_end_line, neg_end_col, node, name in left:
        end = (-neg_end_line, -neg_end_col)
        if (line, col) < outer_end or ((line, col) == outer_end and end <= outer_end):
            continue  # inside a reference already reported (torch.nn inside torch.nn.Foo)
        outer_end = end
        if id(node) in ctx.explained:
            continue
        ctx.report(
            node,
            f"`{name}` has no translation; left as is",
            rule=UNSUPPORTED,
            severity=Severity.ERROR,
        )


class _Engine(cst.CSTTransformer):
    """Dispatches leave hooks to the rules and keeps untouched subtrees identical."""

    def __init__(self, ctx: Context, rules: Sequence) -> None:
        super().__init__()
        self.ctx = ctx
        self.marks: List[int] = []
        self.hooks: Dict[type, List] = {}
        self.visit_hooks: Dict[type, List] = {}
        self.block_hooks: List = []
        self.torch_refs: List[Tuple[cst.CSTNode, str]] = []
        self.unchanged: Set[int] = set()
        self.in_import = 0
        for rule in rules:
            for attr in dir(type(rule)):
                if attr == "leave_block":
                    self.block_hooks.append((rule, getattr(rule, attr)))
                elif attr.startswith(("leave_", "visit_")):
                    kind, _, type_name = attr.partition("_")
                    node_type = getattr(cst, type_name, None)
                    if isinstance(node_type, type):
                        table = self.hooks if kind == "leave" else self.visit_hooks
                        table.setdefault(node_type, []).append((rule, getattr(rule, attr)))

    def on_visit(self, node: cst.CSTNode) -> bool:
        self.marks.append(self.ctx.changes)
        t = type(node)
        if t is cst.Import or t is cst.ImportFrom:
            self.in_import += 1
        for rule, hook in self.visit_hooks.get(t, ()):
            hook(node)
        return True

    def on_leave(self, original: cst.CSTNode, updated: cst.CSTNode):
        ctx = self.ctx
        mark = self.marks.pop()
        t = type(original)
        if t is cst.Import or t is cst.ImportFrom:
            self.in_import -= 1
        elif (t is cst.Name or t is cst.Attribute) and not self.in_import:
            name = ctx.torch_name(original)
            if name is not None:
                self.torch_refs.append((original, name))

        result = updated
        for rule, hook in self.hooks.get(t, ()):
            ctx.current_rule = rule.code
            new = hook(original, result)
            if new is not None and new is not result:
                ctx.changes += 1
                if isinstance(new, list):
                    result = cst.FlattenSentinel(new) if len(new) != 1 else new[0]
                    if isinstance(result, cst.FlattenSentinel):
                        for stmt in new:
                            self._remember(stmt, original)
                        return result
                else:
                    result = new
                if type(result) is not t:
                    break
        if self.block_hooks and (t is cst.IndentedBlock or t is cst.Module):
            body = list(result.body)
            for rule, hook in self.block_hooks:
                ctx.current_rule = rule.code
                new_body = hook(original, body)
                if new_body is not None:
                    ctx.changes += 1
                    body = new_body
            if ctx.changes != mark:
                result = result.with_changes(body=body)

        if ctx.changes == mark:
            if isinstance(original, _STATEMENT_TYPES):
                self.unchanged.add(id(original))
                self._remember(original, original)
            return original
        if isinstance(result, _STATEMENT_TYPES):
            self._remember(result, original)
        return result

    def _remember(self, new: cst.CSTNode, original: cst.CSTNode) -> None:
        self.ctx.origin[id(new)] = (new, original)
