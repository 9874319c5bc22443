"""One parse, one pass over all rules, then imports, formatting and markers.

``run(source, options)`` is the pure core behind ``translate``. It never
raises: a syntax error or an internal failure comes back as a diagnostic with
the source unchanged.
"""

from __future__ import annotations

import ast
import re
from typing import Dict, List, Optional, Sequence, Set, Tuple, Union, cast

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider, ScopeProvider

from . import formatting, fstrings, imports, markers
from ..analysis.names import Names
from ..analysis.values import analyze
from ..facts.catalog import catalog
from ..base.syntax import children as _children
from ..base.syntax import walk as _walk
from ..base.options import Options, Translation
from ..rewrite.context import Context
from ..base.diagnostics import INTERNAL_ERROR, SYNTAX_ERROR, Diagnostic, Severity
from ..base.parse_errors import PARSE_FLAGS, syntax_error
from ..rules import all_rules

UNSUPPORTED = "T2G001"

_STATEMENT_TYPES = (cst.SimpleStatementLine, cst.BaseCompoundStatement)


def run(source: str, options: Options) -> Translation:
    # Fast path: a file that never says "torch" cannot import it.
    if "torch" not in source:
        return Translation(source=source, code=source)
    too_deep = _too_deep(source)
    if too_deep is not None:
        return Translation(source=source, code=source, diagnostics=(too_deep,))
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as e:
        # at the line and column Python itself reports (libcst's may differ)
        diag = syntax_error(source, (e.message, e.raw_line, e.raw_column + 1))
        assert diag is not None  # a fallback is given
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


#: what CPython says of code nested deeper than it accepts
_NESTING = re.compile(r"too many nested|too complex|too many statically nested|too many levels|recursion")


def _too_deep(source: str) -> Optional[Diagnostic]:
    """``T2G000`` for code nested deeper than CPython accepts, else None.

    libcst's parser and the rules recurse on such code (1,500 nested
    parentheses) until the stack overflows, so it is refused first, at the
    position ``compile()`` gives. Other syntax errors are left to the parse.
    """
    try:
        compile(source, "<unknown>", "exec", PARSE_FLAGS, dont_inherit=True)
    except SyntaxError as exc:
        if _NESTING.search(exc.msg or ""):
            return syntax_error(source, (exc.msg or "too deeply nested", exc.lineno or 1, exc.offset or 1))
    except (RecursionError, MemoryError) as exc:
        return Diagnostic(
            rule=SYNTAX_ERROR,
            severity=Severity.ERROR,
            message=f"cannot parse: nested too deeply for Python ({type(exc).__name__})",
            line=1,
            column=1,
            end_line=1,
            end_column=2,
        )
    except ValueError:  # pragma: no cover - null bytes before 3.11.?: the parse reports them
        pass
    return None


def _translate_module(source: str, module: cst.Module, options: Options) -> Translation:
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    scopes = wrapper.resolve(ScopeProvider)
    positions = lambda: wrapper.resolve(PositionProvider)  # noqa: E731 - lazy, see Context
    torch_imports = imports.find_torch_imports(scopes)
    if not torch_imports:
        return Translation(source=source, code=source)
    names = Names(scopes, {b.name.split(".")[0] for b in torch_imports})
    analysis = analyze(module, names, catalog(names.torch_name))
    ctx = Context(module, names, analysis, positions, options)
    ctx.source = source

    rules = [cls(ctx) for cls in all_rules() if cls.code not in options.disable]
    engine = _Engine(ctx, rules)
    # a translation's own runtime helpers (a second pass): no rule reads or rewrites them
    for stmt in module.body:
        if isinstance(stmt, cst.FunctionDef) and stmt.name.value.startswith(HELPER_PREFIX):
            ctx.defined_helpers.add(stmt.name.value)
            engine.helper_defs.add(id(stmt))
    if SUPPRESS_TEXT in source:
        engine.suppressed = suppressions(module, ctx)
    out = module.visit(engine)
    ctx.current_top = None  # from here on, positions come through ctx.top_of
    if ctx.helpers:
        out = _insert_helpers(out, ctx, {id(b.statement) for b in torch_imports}, engine.unchanged)

    # Anything that still refers to torch after the rules ran is reported.
    present = {id(n) for n in _walk(out)}
    _report_untranslated(ctx, engine.torch_refs, present, engine.ambiguous)
    outer = [node for node, _ in engine.torch_refs if id(node) not in engine.inner_refs]
    left = sum(1 for node in outer if id(node) in present)
    stats = {"torch_references": len(outer), "translated": len(outer) - left, "untranslated": left}
    if engine.suppressed:
        ctx.diagnostics[:] = [d for d in ctx.diagnostics if not _is_suppressed(engine.suppressed, d.line, d.rule)]

    out = imports.finish(out, ctx, torch_imports, scopes, present)
    out = fstrings.requote(out, source)
    if options.format:
        # helper definitions are written black-formatted already
        preformatted = {id(h) for h in ctx.helpers.values()}
        out = formatting.format_changed(out, ctx, engine.unchanged | ctx.inserted_imports | preformatted)
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
    return Translation(source=source, code=code, diagnostics=diagnostics, stats=stats)




def _imports_only(stmt: cst.BaseStatement) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and all(
        isinstance(small, (cst.Import, cst.ImportFrom)) for small in stmt.body
    )


def _insert_helpers(module: cst.Module, ctx: Context, torch_statements: Set[int], unchanged: Set[int]) -> cst.Module:
    """Puts the helper definitions after the run of imports that holds the
    first torch import (where the MXNet imports will go)."""
    body = list(module.body)
    at = next((i for i, s in enumerate(body) if imports.has_import(s, torch_statements)), None)
    if at is None:  # torch imported only inside functions: after the header
        at = imports.after_header(body)
    while at < len(body) and _imports_only(body[at]):
        at += 1
    helpers = list(ctx.helpers.values())
    if at < len(body) and isinstance(body[at], (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
        stmt = body[at]
        blank = sum(1 for line in stmt.leading_lines if line.comment is None)
        if blank < 2:
            spaced = stmt.with_changes(leading_lines=[cst.EmptyLine()] * (2 - blank) + list(stmt.leading_lines))
            # still the source's statement: its layout is kept and markers find it
            ctx.origin[id(spaced)] = (spaced, ctx.original(stmt))
            if id(stmt) in unchanged:
                unchanged.add(id(spaced))
            body[at] = spaced
    body[at:at] = helpers
    return module.with_changes(body=body)


def _report_untranslated(
    ctx: Context, refs: List[Tuple[cst.CSTNode, str]], present: Set[int], ambiguous: Set[int]
) -> None:
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
        if id(node) in ambiguous:
            message = f"`{name}` may be torch or a value assigned to the same name here; left as is"
        else:
            message = f"`{name}` has no translation; left as is"
        ctx.report(
            node,
            message,
            rule=UNSUPPORTED,
            severity=Severity.ERROR,
        )


SUPPRESS_TEXT = "torch2gluon: ignore"
_SUPPRESS = re.compile(r"#\s*torch2gluon:\s*ignore(?:\[([^\]]*)\])?")
ALL_RULES = None  # a suppression without a list of rule ids


def suppressions(module: cst.Module, ctx: Context) -> Dict[int, Optional[frozenset]]:
    """Lines covered by ``# torch2gluon: ignore`` / ``# torch2gluon: ignore[T2G101, ...]``.

    The comment applies to the statement it ends (a simple statement, or a
    compound statement's header line): every line of that statement maps to
    the rule ids it names, or to ``ALL_RULES``.
    """
    found: Dict[int, Optional[frozenset]] = {}
    stack: List[Tuple[cst.CSTNode, Optional[cst.CSTNode]]] = [(module, None)]
    while stack:
        node, top = stack.pop()
        if top is None and isinstance(node, _STATEMENT_TYPES):
            top = node
        comment = None
        if isinstance(node, cst.SimpleStatementLine):
            comment = node.trailing_whitespace.comment
        elif isinstance(node, cst.BaseCompoundStatement) and isinstance(block := getattr(node, "body", None), cst.IndentedBlock):
            comment = block.header.comment
        if comment is not None:
            m = _SUPPRESS.search(comment.value)
            pos = ctx.position(node, top) if m else None
            if m and pos is not None:
                codes = ALL_RULES if m.group(1) is None else frozenset(c.strip() for c in m.group(1).split(",") if c.strip())
                last = pos.end.line
                if isinstance(node, cst.BaseCompoundStatement):
                    first_body = ctx.position(node.body.body[0], top) if node.body.body else None
                    last = first_body.start.line - 1 if first_body is not None else pos.start.line
                for line in range(pos.start.line, last + 1):
                    found[line] = codes
        if isinstance(node, (cst.SimpleStatementLine, cst.BaseExpression)):
            continue
        stack.extend((c, top) for c in _children(node) if not isinstance(c, cst.BaseExpression))
    return found


# the names of the runtime helpers a translation defines (facts/runtime.py and the ops helpers)
HELPER_PREFIX = "_t2g_"


def _is_suppressed(suppressed: Dict[int, Optional[frozenset]], line: int, rule: str) -> bool:
    if line not in suppressed:
        return False
    codes = suppressed[line]
    return codes is ALL_RULES or rule in codes


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
        self.inner_refs: Set[int] = set()  # torch.nn inside torch.nn.Linear
        self.ambiguous: Set[int] = set()  # may be torch, may be a local value
        self.unchanged: Set[int] = set()
        self.helper_defs: Set[int] = set()  # top-level `def _t2g_...` of a translation read again
        self.in_import = 0
        self.stmt_depth = 0
        # line -> rule ids (or ALL_RULES) switched off by a suppression comment
        self.suppressed: Dict[int, Optional[frozenset]] = {}
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
        if id(node) in self.helper_defs:
            return False  # on_leave hands it back as it is
        self.marks.append(self.ctx.changes)
        t = type(node)
        if isinstance(node, _STATEMENT_TYPES):
            if self.stmt_depth == 0:
                self.ctx.current_top = node
            self.stmt_depth += 1
        if t is cst.Import or t is cst.ImportFrom:
            self.in_import += 1
        for rule, hook in self.visit_hooks.get(t, ()):
            hook(node)
        return True

    def on_leave(self, original: cst.CSTNode, updated: cst.CSTNode):
        if id(original) in self.helper_defs:
            self.unchanged.add(id(original))
            self._remember(original, original)
            self.ctx.top_of[id(original)] = original
            return original
        ctx = self.ctx
        mark = self.marks.pop()
        t = type(original)
        if isinstance(original, _STATEMENT_TYPES):
            self.stmt_depth -= 1
            ctx.top_of[id(original)] = ctx.current_top
        if t is cst.Import or t is cst.ImportFrom:
            self.in_import -= 1
        elif (t is cst.Name or t is cst.Attribute) and not self.in_import:
            name = ctx.torch_name(original)
            if name is None:
                maybe = ctx.ambiguous_torch_name(original)
                if maybe is not None:
                    self.ambiguous.add(id(original))
                    name = maybe
            if name is not None:
                self.torch_refs.append((original, name))
                ctx.top_of[id(original)] = ctx.current_top
                if t is cst.Attribute:
                    self.inner_refs.add(id(cast(cst.Attribute, original).value))

        result = updated
        hooks = self.hooks.get(t, ())
        line = 0
        if self.suppressed and hooks:
            pos = ctx.position(original)
            line = pos.start.line if pos is not None else 0
        for rule, hook in hooks:
            if line and _is_suppressed(self.suppressed, line, rule.code):
                continue
            ctx.current_rule = rule.code
            new = hook(original, result)
            if new is not None and new is not result:
                ctx.changes += 1
                if isinstance(new, list):
                    flat = cst.FlattenSentinel(new) if len(new) != 1 else new[0]
                    if isinstance(flat, cst.FlattenSentinel):
                        for stmt in new:
                            self._remember(stmt, original)
                        return flat
                    result = flat
                else:
                    result = new
                if type(result) is not t:
                    break
        if self.block_hooks and (t is cst.IndentedBlock or t is cst.Module):
            body = list(cast(Union[cst.IndentedBlock, cst.Module], result).body)
            for rule, hook in self.block_hooks:
                if self.suppressed and self._block_suppressed(body, rule.code):
                    continue
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

    def _block_suppressed(self, body: List[cst.BaseStatement], code: str) -> bool:
        """A block rule leaves a block alone if one of its statements suppresses it."""
        for stmt in body:
            pos = self.ctx.position(stmt)
            if pos is not None and any(
                _is_suppressed(self.suppressed, line, code) for line in range(pos.start.line, pos.end.line + 1)
            ):
                return True
        return False

    def _remember(self, new: cst.CSTNode, original: cst.CSTNode) -> None:
        self.ctx.origin[id(new)] = (new, original)
