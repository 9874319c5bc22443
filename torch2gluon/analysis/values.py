"""What every expression holds, worked out once before any rule runs.

``analyze(module, names, catalog)`` walks the module the way Python runs it
and gives each expression that matters a ``Value`` (``kinds.py``): a tensor
(with its dtype class where known), a parameter, a module (with its torch
class or its local ``nn.Module`` subclass), an optimizer, a scheduler, a loss
function and the loss values it gives, a dataset, a loader and the batches
iterating it yields, a device, a dtype, a size, a Python number/str/bool, or
unknown.

Where the values come from:

* constructor and factory calls and torch functions: the *catalog* (the
  facts layer, passed in by the engine, so this layer does not import it);
* methods of known values (``x.float()``, ``model.to(device)``,
  ``model.parameters()``) and calling them (``model(x)``, ``loss_fn(a, b)``):
  the catalog again;
* Python's own structure: assignments and tuple unpacking, ``for`` targets
  (``for x, y in loader``, ``enumerate``, ``zip``, ``tqdm(loader)``),
  comprehensions, ``with ... as``, the walrus, ``if``/``else`` branches
  (joined), loops (run until their names settle), ``isinstance`` guards,
  ``self.x = ...`` in any method of a class (the class's members, inherited
  by subclasses), the parameters of a function from what every caller in the
  module passes, and a function's return value at its call sites.

Names are looked up the way Python does: a function's locals, then the
enclosing functions', then the module's. A global read inside a function
gets what every module-level assignment of that name agrees on (the function
may run at any point). Unknown is an honest answer: rules that need to know
refuse on it.

The result is keyed by the identity of the *original* nodes; rules ask with
the original node they are rewriting (``Analysis.value``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Dict, List, Optional, Sequence, Set, Tuple

import libcst as cst

from ..base.syntax import children
from .expressions import Catalog, Expressions, binary, with_number
from .kinds import NONE, UNKNOWN, Kind, Value, join

IMPORTED = Value(Kind.IMPORTED)
from .names import Names
from .scopes import (
    UNBOUND,
    ClassInfo,
    FunctionInfo,
    assigned_in,
    assigned_names,
    backward_names,
    body_of,
    called_names,
    functions_with_parents,
    is_classmethod,
    GLUON_BLOCKS,
    is_module_class,
    is_static,
    param_names,
    pattern_names,
    statements_of_kind,
    target_names,
)

__all__ = ["Analysis", "Catalog", "analyze"]


_MAX_ROUNDS = 4  # module + functions, until parameters and returns settle
_MAX_LOOP_DEPTH = 4  # deeper loops are run once, their names joined with unknown


class Analysis(Expressions):
    """The values of one module's expressions (see the module docstring)."""

    def __init__(self, module: cst.Module, names: Names, catalog: Catalog) -> None:
        self.module = module
        self.names = names
        self.catalog = catalog
        self._values: Dict[int, Value] = {}
        # id(Name or Attribute target) -> the value assigned to it there
        self._targets: Dict[int, Value] = {}
        self.classes: Dict[str, ClassInfo] = {}
        self._gluon_classes: Set[str] = set()  # local classes deriving from a Gluon block
        self.functions: Dict[int, FunctionInfo] = {}  # id(FunctionDef) -> info
        self._by_name: Dict[str, FunctionInfo] = {}  # module-level/nested functions by name (unique only)
        self._module_assigned: Dict[str, Value] = {}  # join of every module-level binding
        self._globals_declared: Set[str] = set()
        # the class whose method is being analysed, and the function chain
        self._class_stack: List[ClassInfo] = []
        self._scope_stack: List[Tuple[FunctionInfo, Dict[str, Value]]] = []
        self._loop_depth = 0
        self._recording = True
        self._round = 0
        self._pessimistic = False
        # per scope being analysed (module, function): the names it calls .backward() on
        self._backward: List[Set[str]] = []

    # -- queries -------------------------------------------------------------
    def value(self, node: Optional[cst.CSTNode]) -> Value:
        """What the (original) expression ``node`` holds; ``UNKNOWN`` if not known."""
        if node is None:
            return UNKNOWN
        found = self._values.get(id(node))
        return found if found is not None else UNKNOWN

    def kind(self, node: Optional[cst.CSTNode]) -> Kind:
        return self.value(node).kind

    def assigned(self, target: cst.CSTNode) -> Value:
        """The value given to an assignment target (a Name or ``self.x``) there."""
        found = self._targets.get(id(target))
        return found if found is not None else UNKNOWN

    def module_classes(self) -> Set[str]:
        """Names of the local classes deriving from ``nn.Module`` (directly or through a local
        class): the rules translate them. Gluon blocks (a second pass) are models too, but
        translated already."""
        return {n for n, c in self.classes.items() if c.is_module and n not in self._gluon_classes}

    def members(self, cls: str) -> Dict[str, Value]:
        """The attributes a local class (and its local bases) assign to ``self``."""
        out: Dict[str, Value] = {}
        seen: Set[str] = set()

        def collect(name: str) -> None:
            if name in seen or name not in self.classes:
                return
            seen.add(name)
            info = self.classes[name]
            for b in info.bases:
                collect(b)
            out.update(info.last_members)
            out.update(info.members)  # this round's, where the methods ran already

        collect(cls)
        return out

    def function(self, node: cst.FunctionDef) -> Optional[FunctionInfo]:
        return self.functions.get(id(node))

    # -- the walk --------------------------------------------------------------
    def run(self) -> "Analysis":
        self._collect_classes()
        self._order = self._caller_first()
        previous: Optional[Tuple] = None
        for self._round in range(_MAX_ROUNDS + 1):
            if self._round == _MAX_ROUNDS:
                self._pessimistic = True  # not settled: what recursion passes is unknown
            for info in self.functions.values():
                info.last_calls, info.calls = info.calls, []
                info.last_star, info.star_called = info.star_called, False
            for c in self.classes.values():
                c.last_members, c.members = c.members, {}
            self._module_assigned = {}
            env: Dict[str, Value] = {}
            self._backward = [backward_names(self.module)]
            self._block(self.module.body, env)
            self._analyze_functions()
            state = (
                tuple((id(f.node), tuple(f.param_values.items()), f.returns) for f in self.functions.values()),
                tuple((c.name, tuple(sorted(c.members.items(), key=lambda kv: kv[0]))) for c in self.classes.values()),
            )
            if state == previous:
                break
            previous = state
        return self

    def _caller_first(self) -> List[FunctionInfo]:
        """Methods (``__init__`` first, for the members), then functions, each after
        the functions that call it where the calls allow; a function called from
        one that comes after it (or from itself) takes its parameters from the
        previous round's calls (``back_called``)."""
        methods = sorted(
            (f for f in self.functions.values() if f.owner is not None),
            key=lambda f: (f.owner.name if f.owner else "", f.node.name.value != "__init__"),
        )
        plain = [f for f in self.functions.values() if f.owner is None]
        callers: Dict[int, Set[int]] = {id(f): set() for f in plain}
        for f in self.functions.values():
            for name in called_names(f.node):
                g = self._by_name.get(name)
                if g is not None:
                    callers[id(g)].add(id(f))
        infos = {id(f): f for f in self.functions.values()}
        order: List[FunctionInfo] = []
        placed: Set[int] = set()
        # Kahn's algorithm on plain functions; a cycle is broken in source order
        remaining = list(plain)
        while remaining:
            ready = [f for f in remaining if all(c in placed or infos[c].owner is not None for c in callers[id(f)])]
            pick = ready[0] if ready else remaining[0]
            order.append(pick)
            placed.add(id(pick))
            remaining.remove(pick)
        position = {id(f): i for i, f in enumerate(order)}
        for f in order:
            f.back_called = any(
                c == id(f) or (c in position and position[c] >= position[id(f)]) for c in callers[id(f)]
            )
        return methods + order

    def _collect_classes(self) -> None:
        """Classes, their bases and methods; which derive from nn.Module (or a Gluon block)."""
        gluon: Set[str] = set()
        for node in statements_of_kind(self.module, cst.ClassDef):
            assert isinstance(node, cst.ClassDef)
            local, torch_bases = [], []
            for base in node.bases:
                if base.keyword is not None:
                    continue
                qual = self.names.torch_name(base.value)
                if qual is not None:
                    torch_bases.append(qual)
                elif (self.names.imported_name(base.value) or "").startswith(GLUON_BLOCKS):
                    gluon.add(node.name.value)  # a Gluon block: a model already (a second pass)
                elif isinstance(base.value, cst.Name):
                    local.append(base.value.value)
            info = ClassInfo(node, node.name.value, local, torch_bases)
            if node.name.value in self.classes:
                continue  # defined twice: the first one counts
            self.classes[node.name.value] = info
        modules = {c.name for c in self.classes.values() if any(is_module_class(t) for t in c.torch_bases)}
        for found in (modules, gluon):
            changed = True
            while changed:
                changed = False
                for c in self.classes.values():
                    if c.name not in found and any(b in found for b in c.bases):
                        found.add(c.name)
                        changed = True
        for name in modules | gluon:
            self.classes[name].is_module = True
        self._gluon_classes = gluon - modules
        for fn, parent in functions_with_parents(self.module):
            fn_info = FunctionInfo(fn, None, param_names(fn), assigned_names(fn))
            fn_info.parent = self.functions.get(id(parent)) if parent is not None else None
            self.functions[id(fn)] = fn_info
        seen: Set[str] = set()
        twice: Set[str] = set()
        for stmt in statements_of_kind(self.module, cst.ClassDef):
            assert isinstance(stmt, cst.ClassDef)
            owner = self.classes.get(stmt.name.value)
            if owner is None or owner.node is not stmt:
                continue
            for m in stmt.body.body:
                if isinstance(m, cst.FunctionDef):
                    f = self.functions[id(m)]
                    f.owner = owner
                    owner.methods[m.name.value] = f
        for f in self.functions.values():
            if f.owner is not None:
                continue
            name = f.node.name.value
            if name in seen:
                twice.add(name)
            seen.add(name)
        self._by_name = {
            f.node.name.value: f for f in self.functions.values() if f.owner is None and f.node.name.value not in twice
        }

    def _analyze_functions(self) -> None:
        for info in self._order:
            params: Dict[str, Value] = {}
            for i, p in enumerate(info.params):
                params[p] = self._param_value(info, i, p)
            info.param_values = params
            self._run_function(info, params)

    def _param_value(self, info: FunctionInfo, index: int, param: str) -> Value:
        if info.owner is not None:
            if index == 0 and not is_static(info.node):
                if is_classmethod(info.node):
                    return Value(Kind.CLASS, cls=info.owner.name)
                if info.owner.is_module:
                    return Value(Kind.MODULE, cls="class:" + info.owner.name)
            return UNKNOWN  # what callers pass to a method is not followed
        if info.back_called and self._pessimistic:
            return UNKNOWN
        # a function called after its analysis (recursion, a later function)
        # starts from the calls made before it and takes the previous round's
        # calls, all of them, from then on
        late = info.back_called and self._round > 0
        calls, star = (info.last_calls, info.last_star) if late else (info.calls, info.star_called)
        if star or not calls:
            return UNKNOWN
        found: Optional[Value] = None
        for positional, keywords in calls:
            if index < len(positional):
                v = positional[index]
            elif param in keywords:
                v = keywords[param]
            else:
                v = UNKNOWN  # left to its default
            if v.kind is Kind.PARAMETER:
                # a layer's parameter passed on is its value: the call site reads it with `.data()`
                v = v.with_kind(Kind.TENSOR)
            found = v if found is None else join(found, v)
        return found or UNKNOWN

    def _run_function(self, info: FunctionInfo, params: Dict[str, Value]) -> None:
        env: Dict[str, Value] = {name: UNBOUND for name in info.locals}
        env.update(params)
        if info.owner is not None:
            self._class_stack.append(info.owner)
        self._scope_stack.append((info, env))
        self._backward.append(backward_names(info.node.body))
        returns_before = info.returns
        info.returns = UNBOUND
        try:
            self._visit_params(info.node.params)
            self._block(info.node.body.body if isinstance(info.node.body, cst.IndentedBlock) else [info.node.body], env)
        finally:
            self._scope_stack.pop()
            self._backward.pop()
            if info.owner is not None:
                self._class_stack.pop()
        info.final_env = env
        if info.returns is UNBOUND:
            info.returns = NONE if not info.is_generator else UNKNOWN
        if info.is_generator:
            info.returns = UNKNOWN
        del returns_before

    def _visit_params(self, params: cst.Parameters) -> None:
        for p in (*params.posonly_params, *params.params, *params.kwonly_params):
            if p.default is not None:
                self._eval(p.default, {})

    # -- statements ------------------------------------------------------------
    def _block(self, body: Sequence[cst.CSTNode], env: Dict[str, Value]) -> None:
        for stmt in body:
            self._statement(stmt, env)

    def _statement(self, stmt: cst.CSTNode, env: Dict[str, Value]) -> None:
        if isinstance(stmt, cst.BaseSmallStatement):
            self._small(stmt, env)
        elif isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                self._small(small, env)
        elif isinstance(stmt, cst.If):
            self._if(stmt, env)
        elif isinstance(stmt, (cst.For, cst.While)):
            self._loop(stmt, env)
        elif isinstance(stmt, cst.With):
            for item in stmt.items:
                self._eval(item.item, env)
                if item.asname is not None:
                    self._bind(item.asname.name, UNKNOWN, env)  # what __enter__ returns is not followed
            self._block(body_of(stmt.body), env)
        elif isinstance(stmt, cst.Try) or type(stmt).__name__ == "TryStar":
            self._try(stmt, env)
        elif isinstance(stmt, cst.FunctionDef):
            for d in stmt.decorators:
                self._eval(d.decorator, env)
            self._bind_name(stmt.name.value, Value(Kind.FUNCTION, cls=stmt.name.value, origin=stmt), env)
        elif isinstance(stmt, cst.ClassDef):
            for b in stmt.bases:
                self._eval(b.value, env)
            self._bind_name(stmt.name.value, Value(Kind.CLASS, cls=stmt.name.value, origin=stmt), env)
            # class-level statements (not methods) run in the class body
            inner = dict(env)
            for s in body_of(stmt.body):
                if not isinstance(s, cst.FunctionDef):
                    self._statement(s, inner)
        elif isinstance(stmt, cst.Match):
            self._match(stmt, env)
        else:
            for c in children(stmt):
                if isinstance(c, cst.BaseExpression):
                    self._eval(c, env)

    def _small(self, small: cst.CSTNode, env: Dict[str, Value]) -> None:
        if isinstance(small, cst.Assign):
            v = self._eval(small.value, env)
            for t in small.targets:
                self._bind(t.target, replace(v, source=small.value) if isinstance(t.target, cst.Name) else v, env)
        elif isinstance(small, cst.AnnAssign):
            self._eval(small.annotation.annotation, env)
            if small.value is not None:
                self._bind(small.target, self._eval(small.value, env), env)
        elif isinstance(small, cst.AugAssign):
            left = self._eval(small.target, env)
            right = self._eval(small.value, env)
            out = binary(left, small.operator, right)
            if out.is_tensor() and out.dtype is None and not isinstance(small.operator, cst.DivideAssign):
                out = replace(out, dtype=with_number(left, small.target, right, small.value))
            self._bind(small.target, out, env, evaluate=False)
        elif isinstance(small, cst.Expr):
            self._eval(small.value, env)
        elif isinstance(small, cst.Return):
            v = self._eval(small.value, env) if small.value is not None else NONE
            if self._scope_stack:
                info = self._scope_stack[-1][0]
                info.returns = v if info.returns is UNBOUND else join(info.returns, v)
        elif isinstance(small, cst.Del):
            for gone in target_names(small.target):
                env.pop(gone, None)
        elif isinstance(small, cst.Global):
            for n in small.names:
                self._globals_declared.add(n.name.value)
        elif isinstance(small, (cst.Import, cst.ImportFrom)):
            for alias in small.names if not isinstance(small.names, cst.ImportStar) else ():
                bound = alias.asname.name if alias.asname is not None else alias.name
                if isinstance(bound, cst.Name):
                    self._bind_name(bound.value, IMPORTED, env)
                elif isinstance(bound, cst.Attribute):
                    root = bound
                    while isinstance(root, cst.Attribute):
                        root = root.value  # type: ignore[assignment]
                    if isinstance(root, cst.Name):
                        self._bind_name(root.value, IMPORTED, env)
        else:
            for c in children(small):
                if isinstance(c, cst.BaseExpression):
                    self._eval(c, env)

    def _if(self, stmt: cst.If, env: Dict[str, Value]) -> None:
        self._eval(stmt.test, env)
        body_env = dict(env)
        body_env.update(self._refine(stmt.test, env))
        self._block(body_of(stmt.body), body_env)
        else_env = dict(env)
        orelse = stmt.orelse
        if isinstance(orelse, cst.If):
            self._if(orelse, else_env)
        elif isinstance(orelse, cst.Else):
            self._block(body_of(orelse.body), else_env)
        _merge_into(env, body_env, else_env)

    def _refine(self, test: cst.BaseExpression, env: Dict[str, Value]) -> Dict[str, Value]:
        """``isinstance(m, nn.Conv2d)``: inside the branch ``m`` is a Conv2d."""
        if not (isinstance(test, cst.Call) and isinstance(test.func, cst.Name) and test.func.value == "isinstance"):
            return {}
        if len(test.args) != 2 or not isinstance(test.args[0].value, cst.Name):
            return {}
        cls = test.args[1].value
        qual = self.names.torch_name(cls)
        if qual is None:
            return {}
        made = self.catalog.call(qual, cst.Call(func=cls), lambda e: UNKNOWN)
        if made is None or made.kind not in (Kind.MODULE, Kind.LOSS_FN):
            return {}
        return {test.args[0].value.value: Value(made.kind, cls=made.cls)}

    def _loop(self, stmt, env: Dict[str, Value]) -> None:
        before = dict(env)
        deep = self._loop_depth >= _MAX_LOOP_DEPTH
        self._loop_depth += 1
        try:
            if isinstance(stmt, cst.For):
                it = self._eval(stmt.iter, env)
                element = self._element(it)
            else:
                element = UNKNOWN
            assigned = assigned_in(stmt)
            if deep:
                for n in assigned:
                    if n in env:
                        env[n] = join(env[n], UNKNOWN) if env[n] is not UNBOUND else UNKNOWN
                self._one_iteration(stmt, element, env)
            else:
                recording = self._recording
                self._recording = False
                trial = dict(env)
                self._one_iteration(stmt, element, trial)
                self._recording = recording
                _merge_into(env, dict(before), trial)
                after = dict(env)
                self._one_iteration(stmt, element, after)
                _merge_into(env, dict(env), after)
        finally:
            self._loop_depth -= 1
        if isinstance(stmt, cst.While):
            self._eval(stmt.test, env)
        if stmt.orelse is not None:
            self._block(body_of(stmt.orelse.body), env)

    def _one_iteration(self, stmt, element: Value, env: Dict[str, Value]) -> None:
        if isinstance(stmt, cst.For):
            self._bind(stmt.target, element, env)
        else:
            self._eval(stmt.test, env)
        self._block(body_of(stmt.body), env)

    def _try(self, stmt, env: Dict[str, Value]) -> None:
        before = dict(env)
        self._block(body_of(stmt.body), env)
        after_body = dict(env)
        outcomes = [after_body]
        for handler in stmt.handlers:
            h_env = dict(before)
            _merge_into(h_env, dict(before), after_body)
            if handler.type is not None:
                self._eval(handler.type, h_env)
            if handler.name is not None:
                self._bind(handler.name.name, UNKNOWN, h_env)
            self._block(body_of(handler.body), h_env)
            outcomes.append(h_env)
        if stmt.orelse is not None:
            self._block(body_of(stmt.orelse.body), after_body)
        merged = outcomes[0]
        for o in outcomes[1:]:
            m = dict(merged)
            _merge_into(m, merged, o)
            merged = m
        env.clear()
        env.update(merged)
        if stmt.finalbody is not None:
            self._block(body_of(stmt.finalbody.body), env)

    def _match(self, stmt, env: Dict[str, Value]) -> None:
        self._eval(stmt.subject, env)
        outcomes = []
        for case in stmt.cases:
            c_env = dict(env)
            for n in pattern_names(case.pattern):
                self._bind_name(n, UNKNOWN, c_env)
            if case.guard is not None:
                self._eval(case.guard, c_env)
            self._block(body_of(case.body), c_env)
            outcomes.append(c_env)
        outcomes.append(dict(env))  # no case matched
        merged = outcomes[0]
        for o in outcomes[1:]:
            m = dict(merged)
            _merge_into(m, merged, o)
            merged = m
        env.clear()
        env.update(merged)


# -- helpers -------------------------------------------------------------------


def _merge_into(env: Dict[str, Value], a: Dict[str, Value], b: Dict[str, Value]) -> None:
    """``env`` becomes what holds after either ``a`` or ``b`` ran (an unbound name takes the other's value)."""
    for name in set(a) | set(b):
        va, vb = a.get(name, UNBOUND), b.get(name, UNBOUND)
        if va is UNBOUND:
            env[name] = vb
        elif vb is UNBOUND:
            env[name] = va
        else:
            env[name] = join(va, vb)


def analyze(module: cst.Module, names: Names, catalog: Catalog) -> Analysis:
    return Analysis(module, names, catalog).run()
