"""Per-translation state that rules share: reports, generated references, helpers.

A ``Context`` lives for one call of ``translate`` and is never reused, so the
core keeps no global state.
"""

from __future__ import annotations

from typing import Callable, Dict, Iterable, List, Mapping, Optional, Set, Tuple, cast

import libcst as cst
from libcst.metadata import CodePosition, CodeRange, MetadataWrapper, PositionProvider

from ..analysis.kinds import DType, Kind, Value
from ..analysis.names import Names
from ..analysis.values import Analysis
from ..base.diagnostics import Diagnostic, Severity
from ..base.syntax import Statement
from ..facts.mxnet import MX_IMPORTS
from .plans import OptimizerPlan

class Context:
    """What rules see of the translation in progress."""

    def __init__(
        self,
        module: cst.Module,
        names: Names,
        analysis: Analysis,
        positions: "Callable[[], Mapping[cst.CSTNode, CodeRange]]",
        options,
    ) -> None:
        self.module = module
        self.source = ""  # the original text, for cheap textual checks
        self.options = options
        self.names = names
        # what every expression of the original holds, computed before the rules
        self.analysis = analysis
        # Positions cost a code generation pass over the whole module; they
        # are computed the first time a diagnostic or marker needs one.
        self._resolve_positions = positions
        self._positions_map: "Optional[Mapping[cst.CSTNode, CodeRange]]" = None
        self._by_top: Dict[int, Mapping[cst.CSTNode, CodeRange]] = {}
        self._line_offsets: Optional[Dict[int, int]] = None
        # the top-level statement being translated, and the one holding each
        # statement and torch reference (recorded by the engine)
        self.current_top: Optional[cst.CSTNode] = None
        self.top_of: Dict[int, Optional[cst.CSTNode]] = {}
        self.diagnostics: List[Diagnostic] = []
        # number of replacements made so far; the engine uses it to hand back
        # untouched subtrees as the very same objects.
        self.changes = 0
        # updated node id -> (updated node, original node), for statements
        self.origin: Dict[int, Tuple[cst.CSTNode, cst.CSTNode]] = {}
        # imports the output needs: (module, name or None, local name)
        self.imports: Set[Tuple[str, Optional[str], str]] = set()
        # generated base Name nodes by local name, so a clash can be renamed
        self.generated: Dict[str, List[cst.Name]] = {}
        # free-form facts rules share, e.g. which variables hold optimizers
        self.bindings: Dict[str, str] = {}
        # id(FunctionDef) -> parameter -> kind the callers pass, or None (flow.py)
        self.param_kinds: Dict[int, Dict[str, Optional[str]]] = {}
        # facts about the whole module that several rules derive the same way
        self.memo: Dict[str, object] = {}
        # ids of torch references a rule already reported with its own reason
        self.explained: Set[int] = set()
        # ids of original nodes a rule has taken charge of (others leave them be)
        self.handled: Set[int] = set()
        # ids of the MXNet import statements the engine added
        self.inserted_imports: Set[int] = set()
        # module-level definitions the output needs (name -> statement), put
        # after the imports by the engine: e.g. an MXNet optimizer with torch's
        # update rule where MXNet has none
        self.helpers: Dict[str, Statement] = {}
        # helpers the source defines already (a second pass over a translation): kept as they are
        self.defined_helpers: Set[str] = set()
        # Gradient code other rules wrote that the training-loop rule (T2G501)
        # makes exact at that point (backward of the batch mean, step(1)), or
        # reports: id(translated clipping node) -> original call (T2G502), and
        # id(translated for loop) -> (original loop, zeroes the gradients) (T2G504)
        self.clips: Dict[int, cst.Call] = {}
        self.updates: Dict[int, Tuple[cst.For, bool]] = {}
        # T2G501 translates the script with grad_req "add" (unfreezing restores "add")
        self.accumulates = False
        # id(original optimizer constructor or Trainer call) -> what T2G401 made of it
        self.optimizers: Dict[int, OptimizerPlan] = {}
        self.current_rule = "T2G001"

    # -- names (answered by analysis.names) ------------------------------------
    def torch_name(self, node: Optional[cst.CSTNode]) -> Optional[str]:
        return self.names.torch_name(node)

    def ambiguous_torch_name(self, node: cst.CSTNode) -> Optional[str]:
        return self.names.ambiguous_torch_name(node)

    def imported_name(self, node: cst.CSTNode) -> Optional[str]:
        return self.names.imported_name(node)

    def call_name(self, node: cst.CSTNode) -> Optional[str]:
        return self.names.call_name(node)

    # -- values (answered by analysis.values) ------------------------------------
    def value(self, node: Optional[cst.CSTNode]) -> Value:
        """What the *original* expression ``node`` holds."""
        return self.analysis.value(node)

    def kind(self, node: Optional[cst.CSTNode]) -> Kind:
        return self.analysis.value(node).kind

    def is_tensor(self, node: Optional[cst.CSTNode]) -> bool:
        """``node`` (original) holds a torch tensor (or a parameter's value)."""
        return self.analysis.value(node).is_tensor()

    def is_bool_tensor(self, node: Optional[cst.CSTNode]) -> bool:
        v = self.analysis.value(node)
        return v.is_tensor() and v.dtype is DType.BOOL

    def is_loss(self, node: Optional[cst.CSTNode]) -> bool:
        """``node`` (original) holds a loss value (a loss module's or functional loss's result)."""
        return self.analysis.value(node).loss

    def is_model(self, node: Optional[cst.CSTNode]) -> bool:
        return self.analysis.value(node).kind is Kind.MODULE

    # -- positions and reports ----------------------------------------------
    def original(self, node: cst.CSTNode) -> cst.CSTNode:
        entry = self.origin.get(id(node))
        if entry is not None and entry[0] is node:
            return entry[1]
        return node

    def position(self, node: cst.CSTNode, top: Optional[cst.CSTNode] = None) -> Optional[CodeRange]:
        """Where ``node`` (or the original it was made from) is in the source.

        Positions are computed for the top-level statement that holds the node
        (given, recorded by the engine, or the one being translated), which
        costs a fraction of computing them for the whole module.
        """
        node = self.original(node)
        if self._positions_map is not None:
            return self._positions_map.get(node)
        top = top or self.top_of.get(id(node)) or self.current_top
        if top is not None:
            # a node built by a rule or the engine is in no top-level
            # statement of the source: it has no position
            return self._top_positions(top).get(node)
        self._positions_map = self._resolve_positions()
        return self._positions_map.get(node)

    def _top_positions(self, top: cst.CSTNode) -> "Mapping[cst.CSTNode, CodeRange]":
        cached = self._by_top.get(id(top))
        if cached is not None:
            return cached
        if self._line_offsets is None:
            offsets: Dict[int, int] = {}
            line = len(self.module.header)
            for stmt in self.module.body:
                offsets[id(stmt)] = line
                line += self.module.code_for_node(stmt).count("\n")
            self._line_offsets = offsets
        offset = self._line_offsets.get(id(top))
        if offset is None:
            return {}
        statement = cast(Statement, top)  # a top-level statement
        alone = cst.Module(
            body=[statement], default_indent=self.module.default_indent, default_newline=self.module.default_newline
        )
        local = MetadataWrapper(alone, unsafe_skip_copy=True).resolve(PositionProvider)
        shifted: Dict[cst.CSTNode, CodeRange] = {}
        for n, r in local.items():
            shifted[n] = CodeRange(
                CodePosition(r.start.line + offset, r.start.column), CodePosition(r.end.line + offset, r.end.column)
            )
        self._by_top[id(top)] = shifted
        return shifted

    def report(
        self,
        node: cst.CSTNode,
        message: str,
        *,
        severity: Severity = Severity.ERROR,
        rule: Optional[str] = None,
        suggestion: Optional[str] = None,
    ) -> Diagnostic:
        pos = self.position(node)
        if pos is None:  # a node the rules built; fall back to the top
            line, col, end_line, end_col = 1, 1, 1, 1
        else:
            line, col = pos.start.line, pos.start.column + 1
            end_line, end_col = pos.end.line, pos.end.column + 1
        diag = Diagnostic(
            rule=rule or self.current_rule,
            severity=severity,
            message=message,
            line=line,
            column=col,
            end_line=end_line,
            end_column=end_col,
            suggestion=suggestion,
        )
        self.diagnostics.append(diag)
        return diag

    # -- generated code -------------------------------------------------------
    def ref(self, dotted: str) -> cst.BaseExpression:
        """An expression for the MXNet name ``dotted`` (e.g. ``mxnet.nd.ones``).

        The import it needs is recorded; the engine adds it once at the end.
        """
        for prefix, (mod, name, local) in MX_IMPORTS:
            if dotted == prefix or dotted.startswith(prefix + "."):
                rest = dotted[len(prefix) + 1 :] if dotted != prefix else ""
                self.imports.add((mod, name, local))
                base = cst.Name(local)
                self.generated.setdefault(local, []).append(base)
                expr: cst.BaseExpression = base
                for part in rest.split(".") if rest else ():
                    expr = cst.Attribute(value=expr, attr=cst.Name(part))
                return expr
        raise ValueError(f"no import plan for {dotted}")

    def plain_import(self, module: str, local: str, names: Iterable[cst.Name] = ()) -> cst.Name:
        """A reference to ``import <module> as <local>`` (e.g. numpy as np).

        ``names`` are Name nodes the rule built that refer to it. The import is
        added once at the end, unless the script already has it; a clash with a
        name the script binds renames them all.
        """
        self.imports.add((module, None, local))
        base = cst.Name(local)
        refs = self.generated.setdefault(local, [])
        refs.append(base)
        refs.extend(names)
        return base

    def helper(self, name: str, template: str) -> None:
        """Adds the module-level definition ``template`` (once per name).

        In the template, ``MX`` stands for the ``mxnet`` module and ``ND`` for
        ``mxnet.nd``; their imports are recorded as for any generated name.
        """
        if name in self.helpers or name in self.defined_helpers:
            return
        ctx = self

        class _Fill(cst.CSTTransformer):
            def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.BaseExpression:
                if updated.value == "MX":
                    return ctx.ref("mxnet")
                if updated.value == "ND":
                    return ctx.ref("mxnet.nd")
                return updated

        stmt = cast(Statement, cst.parse_statement(template).visit(_Fill()))
        self.helpers[name] = stmt.with_changes(leading_lines=[cst.EmptyLine(), cst.EmptyLine()])

    def call(self, dotted: str, *args: cst.Arg) -> cst.Call:
        return cst.Call(func=self.ref(dotted), args=list(args))
