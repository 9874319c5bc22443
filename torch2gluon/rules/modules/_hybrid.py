"""Opt-in HybridBlock (Options.hybridize): when a translated class's forward can run on Symbols."""

from __future__ import annotations

from typing import Dict, List, Optional, Set, cast

import libcst as cst

from ...base.syntax import children
from ...facts.mxnet import PREFIX_OF_LOCAL
from .._base import code_of
from ._shared import self_attr, walk_all


# Gluon layers the rules generate that are HybridBlocks (children a HybridBlock may hold)
HYBRID_LAYERS = frozenset(
    ["mxnet.gluon.contrib.nn.Identity"]
    + [
        "mxnet.gluon.nn." + n
        for n in (
            "Activation", "AvgPool1D", "AvgPool2D", "AvgPool3D", "BatchNorm", "Conv1D", "Conv1DTranspose",
            "Conv2D", "Conv2DTranspose", "Conv3D", "Conv3DTranspose", "Dense", "Dropout", "ELU", "Embedding",
            "Flatten", "GELU", "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalAvgPool3D", "GlobalMaxPool1D",
            "GlobalMaxPool2D", "GlobalMaxPool3D", "GroupNorm", "HybridLambda", "InstanceNorm", "LayerNorm",
            "LeakyReLU", "MaxPool1D", "MaxPool2D", "MaxPool3D", "PReLU", "ReflectionPad2D", "SELU", "Swish",
        )
    ]
)


# ``mxnet.nd`` functions the rules generate whose ``mxnet.sym`` twin takes the same
# arguments (creation and random functions are left out: their shapes or
# random streams are not the forward's inputs)
SYMBOL_FUNCTIONS = frozenset(
    (
        "relu", "sigmoid", "tanh", "softmax", "log_softmax", "LeakyReLU", "Pooling", "Dropout", "flatten",
        "dot", "batch_dot", "concat", "stack", "pad", "UpSampling", "contrib.BilinearResize2D", "clip", "exp",
        "log", "sqrt", "abs", "power", "maximum", "minimum", "where", "sum", "mean", "reshape", "pick",
        "zeros_like", "ones_like",
    )
)


# methods an NDArray and a Symbol both have, with the same meaning
SYMBOL_METHODS = frozenset(
    (
        "reshape", "flatten", "transpose", "expand_dims", "squeeze", "sum", "mean", "max", "min", "prod",
        "exp", "log", "sqrt", "square", "abs", "relu", "sigmoid", "tanh", "softmax", "log_softmax", "clip",
        "astype", "swapaxes", "slice_axis", "reshape_like", "broadcast_to", "broadcast_like", "sign",
        "zeros_like", "ones_like", "tile", "repeat", "argmax", "argmin", "one_hot", "pick",
    )
)


_SYMBOL_BINARY = (cst.Add, cst.Subtract, cst.Multiply, cst.Divide, cst.Power)


_SYMBOL_COMPARE = (cst.LessThan, cst.GreaterThan, cst.LessThanEqual, cst.GreaterThanEqual, cst.Equal, cst.NotEqual)


_BROADCAST: Dict[type, str] = {
    cst.Add: "broadcast_add", cst.Subtract: "broadcast_sub", cst.Multiply: "broadcast_mul",
    cst.Divide: "broadcast_div", cst.Power: "broadcast_power", cst.LessThan: "broadcast_lesser",
    cst.GreaterThan: "broadcast_greater", cst.LessThanEqual: "broadcast_lesser_equal",
    cst.GreaterThanEqual: "broadcast_greater_equal", cst.Equal: "broadcast_equal", cst.NotEqual: "broadcast_not_equal",
}


_NOT_BLOCKS = ("int", "float", "bool", "str", "tuple", "list", "dict", "range", "len", "max", "min", "abs", "round")


def _target_names(target: cst.BaseExpression) -> Optional[List[str]]:
    """Names an assignment target binds, or None if it is not made of plain names."""
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)):
        out: List[str] = []
        for e in target.elements:
            inner = _target_names(e.value) if isinstance(e, cst.Element) else None
            if inner is None:
                return None
            out += inner
        return out
    return None


def _literal_value(node: cst.BaseExpression) -> bool:
    """A number, string or tuple of them, possibly computed (``28 * 28``, ``-1``)."""
    if isinstance(node, (cst.Integer, cst.Float, cst.SimpleString, cst.ConcatenatedString)):
        return True
    if isinstance(node, cst.UnaryOperation):
        return _literal_value(node.expression)
    if isinstance(node, cst.BinaryOperation):
        return _literal_value(node.left) and _literal_value(node.right)
    if isinstance(node, cst.Tuple):
        return all(isinstance(e, cst.Element) and _literal_value(e.value) for e in node.elements)
    return False


def _module_constants(ctx) -> Dict[str, bool]:
    """Module-level names -> whether every assignment binds a literal value."""
    found = ctx.memo.get("hybrid_constants")
    if found is not None:
        return found
    out: Dict[str, bool] = {}
    stack: List[cst.CSTNode] = list(ctx.module.body)
    while stack:  # module-level statements, not function or class bodies
        n = stack.pop()
        if isinstance(n, (cst.FunctionDef, cst.ClassDef)):
            out[n.name.value] = False
            continue
        stack.extend(children(n))
        if isinstance(n, cst.Assign):
            for t in n.targets:
                for name in _target_names(t.target) or ():
                    out[name] = out.get(name, True) and isinstance(t.target, cst.Name) and _literal_value(n.value)
        elif isinstance(n, (cst.AugAssign, cst.AnnAssign, cst.For, cst.CompFor)):
            for x in walk_all(n.target):
                if isinstance(x, cst.Name):
                    out[x.value] = False
        elif isinstance(n, (cst.AsName, cst.NamedExpr)):
            for x in walk_all(n.name if isinstance(n, cst.AsName) else n.target):
                if isinstance(x, cst.Name):
                    out[x.value] = False
        elif isinstance(n, (cst.Import, cst.ImportFrom)) and not isinstance(n.names, cst.ImportStar):
            for alias in n.names:
                out[(alias.evaluated_alias or alias.evaluated_name).split(".")[0]] = False
    for n in walk_all(ctx.module):  # `global K` in a function may rebind K to anything
        if isinstance(n, cst.Global):
            for item in n.names:
                out[item.name.value] = False
    ctx.memo["hybrid_constants"] = out
    return out


def _walk_in_order(node: cst.CSTNode):
    stack: List[cst.CSTNode] = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(children(n)))


class NotHybrid(Exception):
    """Why a class stays a Block."""


def _generated_ids(ctx) -> Dict[int, str]:
    return {id(n): local for local, nodes in ctx.generated.items() if local in PREFIX_OF_LOCAL for n in nodes}


def _generated_name(gen: Dict[int, str], node: cst.BaseExpression) -> Optional[str]:
    """The MXNet dotted name of a reference a rule generated (``nd.relu`` -> ``mxnet.nd.relu``)."""
    parts: List[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name) or id(node) not in gen:
        return None
    return ".".join([PREFIX_OF_LOCAL[gen[id(node)]]] + parts[::-1])


def _body_statements(body: cst.BaseSuite) -> List[cst.CSTNode]:
    if isinstance(body, cst.SimpleStatementSuite):
        return [cst.SimpleStatementLine(body=body.body)]
    return list(body.body)


def _simple_params(fn: cst.FunctionDef) -> Optional[List[str]]:
    """Parameter names of a plain method (no defaults, no star, no keyword-only), or None."""
    p = fn.params
    if p.star_arg is not cst.MaybeSentinel.DEFAULT or p.kwonly_params or p.star_kwarg or p.posonly_params:
        return None
    if any(q.default is not None for q in p.params):
        return None
    return [q.name.value for q in p.params]


class HybridPlan:
    """Checks one translated class and, when it can be hybridised, rewrites it."""

    def __init__(
        self, ctx, updated: cst.ClassDef, hybrid: Set[str], decided: Set[str], torch_roots: Set[str]
    ) -> None:
        self.ctx = ctx
        self.cls = updated
        self.hybrid = hybrid
        self.decided = decided
        self.torch_roots = torch_roots
        self.gen = _generated_ids(ctx)
        self.methods: Dict[str, cst.FunctionDef] = {}
        self.children: Set[str] = set()
        self.params: List[str] = []
        self.consts: Set[str] = set()
        self.nd_roots: Set[int] = set()  # generated `nd` Names to spell `F`
        self.param_reads: Dict[int, str] = {}  # `self.w.data()` calls -> `w`
        self.closure: List[str] = []  # forward and the helper methods it calls
        self.calls: Dict[str, List[int]] = {}  # helper -> ids of its call sites
        self.callers: Dict[str, Set[str]] = {}  # helper -> the methods calling it
        self.uses_nd: Set[str] = set()
        self.broadcasts: Dict[int, str] = {}  # array-array operations -> F.broadcast_*
        self.reshapes: Set[int] = set()  # x.reshape(a, b) -> x.reshape((a, b))
        self.broadcast_calls: Dict[int, str] = {}  # F.power(a, b) of two arrays -> F.broadcast_power

    # -- what the class holds ------------------------------------------------
    def collect(self) -> None:
        for stmt in self.cls.body.body:
            if isinstance(stmt, cst.FunctionDef):
                if stmt.name.value in self.methods:
                    raise NotHybrid(f"it defines `{stmt.name.value}` twice")
                self.methods[stmt.name.value] = stmt
        for bad in ("hybrid_forward", "__call__", "__setattr__"):
            if bad in self.methods:
                raise NotHybrid(f"it defines `{bad}`")
        forward = self.methods.get("forward")
        if forward is None:
            raise NotHybrid("it defines no `forward`")
        if forward.decorators or forward.asynchronous:
            raise NotHybrid("its `forward` is decorated or async")
        names = _simple_params(forward)
        if names is None or len(names) != 2:
            raise NotHybrid(
                "only `forward(self, x)` with one input is hybridised (a hybridised block accepts arrays only)"
            )
        for fn in self.methods.values():
            for n in _walk_in_order(fn):
                if isinstance(n, cst.Assign):
                    for t in n.targets:
                        self._target(fn, t.target, n.value)
                elif isinstance(n, (cst.AugAssign, cst.AnnAssign)):
                    self._target(fn, n.target, getattr(n, "value", None))
                elif isinstance(n, cst.Call) and (
                    (isinstance(n.func, cst.Name) and n.func.value == "setattr")
                    or (self_attr(n.func) in ("register_child", "register_forward_hook", "register_forward_pre_hook"))
                ):
                    raise NotHybrid(f"`{code_of(n.func)}` registers blocks a HybridBlock cannot check")

    def _target(self, fn: cst.FunctionDef, target: cst.BaseExpression, value) -> None:
        targets = [e.value for e in target.elements] if isinstance(target, (cst.Tuple, cst.List)) else [target]
        for t in targets:
            attr = self_attr(t)
            if attr is None:
                continue
            if fn.name.value != "__init__":
                raise NotHybrid(f"`self.{attr}` is assigned in `{fn.name.value}`")
            if len(targets) > 1 or value is None:
                self.consts.add(attr)
                continue
            self._member(attr, value)

    def _member(self, attr: str, value: cst.BaseExpression) -> None:
        if attr in self.children or attr in self.params or attr in self.consts:
            raise NotHybrid(f"`self.{attr}` is assigned more than once in `__init__`")
        if isinstance(value, cst.Call):
            func = value.func
            if code_of(func) == "self.params.get":
                self.params.append(attr)
                return
            dotted = _generated_name(self.gen, func)
            if dotted is not None:
                if dotted in HYBRID_LAYERS:
                    self.children.add(attr)
                    return
                short = dotted.replace("mxnet.gluon.", "").replace("mxnet.", "")
                if short.startswith("rnn."):
                    raise NotHybrid(
                        f"`self.{attr}` is a `{short}` (recurrent layers and their states are not hybridised)"
                    )
                if short in ("nn.Sequential", "nn.Lambda"):
                    raise NotHybrid(f"`self.{attr}` is a `{short}`, which is a Block, not a HybridBlock")
                raise NotHybrid(f"`self.{attr}` is a `{short}`, not one of the layers known to be HybridBlocks")
            if isinstance(func, cst.Name) and func.value in self.hybrid:
                self.children.add(attr)
                return
            if isinstance(func, cst.Name) and func.value in self.ctx.analysis.module_classes():
                if func.value in self.decided:
                    raise NotHybrid(f"its child `self.{attr}` is a `{func.value}`, which stays a Block")
                raise NotHybrid(
                    f"its child `self.{attr}` is a `{func.value}`, which is defined after it (children are "
                    "hybridised first)"
                )
            if isinstance(func, cst.Name) and func.value in _NOT_BLOCKS:
                self.consts.add(attr)
                return
            raise NotHybrid(f"`self.{attr} = {code_of(value)}` may be a block that is not a HybridBlock")
        self.consts.add(attr)

    # -- forward and its helpers ---------------------------------------------
    def check(self) -> None:
        todo = ["forward"]
        while todo:
            name = todo.pop()
            if name in self.closure:
                continue
            self.closure.append(name)
            fn = self.methods[name]
            if name != "forward" and (fn.decorators or fn.asynchronous or _simple_params(fn) is None):
                raise NotHybrid(f"its helper `self.{name}` is decorated or has defaults or star arguments")
            params = _simple_params(fn) or []
            self._fn = name
            self._locals = set(params[1:])
            values: Dict[str, List[Optional[cst.BaseExpression]]] = {}
            for n in walk_all(fn.body):  # every name the function binds, and to what
                if isinstance(n, cst.Assign):
                    for t in n.targets:
                        single = isinstance(t.target, cst.Name)
                        for local in _target_names(t.target) or ():
                            values.setdefault(local, []).append(n.value if single else None)
            self._locals.update(values)
            self._numbers: Set[str] = set()
            # locals only ever bound to numbers (`n = 2`) are not arrays
            changed = True
            while changed:
                changed = False
                for local, vals in values.items():
                    if local in self._locals and local not in params and all(
                        v is not None and self._is_number(v) for v in vals
                    ):
                        self._locals.discard(local)
                        self._numbers.add(local)
                        changed = True
            for stmt in _body_statements(fn.body):
                self._statement(stmt)
            todo.extend(m for m in self.calls if m not in self.closure)
        # a method calling a helper that needs F needs F too
        changed = True
        while changed:
            changed = False
            for helper in list(self.uses_nd):
                for caller in self.callers.get(helper, ()):
                    if caller not in self.uses_nd:
                        self.uses_nd.add(caller)
                        changed = True

    def _statement(self, stmt: cst.CSTNode) -> None:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, cst.Assign):
                    for t in small.targets:
                        if _target_names(t.target) is None:
                            raise NotHybrid(f"its `{self._fn}` assigns `{code_of(t.target)}`")
                    self._expr(small.value)
                elif isinstance(small, cst.Return):
                    if small.value is not None:
                        self._expr(small.value)
                elif isinstance(small, cst.Expr):
                    self._expr(small.value)
                elif isinstance(small, cst.Pass):
                    pass
                elif isinstance(small, cst.AugAssign):
                    raise NotHybrid(f"its `{self._fn}` changes a value in place (`{code_of(small).strip()}`)")
                else:
                    raise NotHybrid(f"its `{self._fn}` has a `{code_of(small).strip().split()[0]}` statement")
        elif isinstance(stmt, cst.If):
            self._static(stmt.test, "if")
            for s in _body_statements(stmt.body):
                self._statement(s)
            if stmt.orelse is not None:
                orelse = stmt.orelse
                if isinstance(orelse, cst.If):
                    self._statement(orelse)
                else:
                    for s in _body_statements(orelse.body):
                        self._statement(s)
        elif isinstance(stmt, cst.For):
            if stmt.orelse is not None or stmt.asynchronous:
                raise NotHybrid(f"its `{self._fn}` has a `for ... else` loop")
            it = stmt.iter
            if not (isinstance(it, cst.Call) and isinstance(it.func, cst.Name) and it.func.value == "range"):
                raise NotHybrid(
                    f"its `{self._fn}` loops over `{code_of(it)}` (only `range` of constants is hybridised)"
                )
            for a in it.args:
                self._static(a.value, "for")
            for s in _body_statements(stmt.body):
                self._statement(s)
        else:
            first = code_of(stmt).strip().split()[0] if code_of(stmt).strip() else type(stmt).__name__
            raise NotHybrid(f"its `{self._fn}` has a `{first}` statement")

    def _broadcast(self, node, operator, left, right) -> None:
        """``a * b`` of two arrays: NDArray operators broadcast, Symbol operators
        do not, so it becomes ``F.broadcast_mul(a, b)`` (a number on either side
        stays an operator: both scalar operators are the same)."""
        if self._is_number(left) or self._is_number(right):
            return  # a Python number on one side, not an array
        self.broadcasts[id(node)] = _BROADCAST[type(operator)]

    def _is_number(self, node: cst.BaseExpression) -> bool:
        """A Python number (or string, tuple of them), never an array."""
        if _literal_value(node):
            return True
        if isinstance(node, cst.Name):
            return node.value in self._numbers or (
                node.value not in self._locals and _module_constants(self.ctx).get(node.value, False)
            )
        if isinstance(node, cst.Attribute):
            return self_attr(node) in self.consts
        if isinstance(node, cst.UnaryOperation):
            return self._is_number(node.expression)
        if isinstance(node, cst.BinaryOperation):
            return self._is_number(node.left) and self._is_number(node.right)
        if isinstance(node, cst.Tuple):
            return all(isinstance(e, cst.Element) and self._is_number(e.value) for e in node.elements)
        return False

    def _static(self, node: cst.BaseExpression, what: str) -> None:
        """A value known when the graph is built: no array may flow into it."""
        why = (
            f"its `{self._fn}` has a Python `{what}` on `{code_of(node)}`, which may depend on an array "
            "(a Symbol has no values)"
        )
        for n in walk_all(node):
            if isinstance(n, cst.Name) and (
                n.value in self._locals or id(n) in self.gen or n.value in self.torch_roots
            ):
                raise NotHybrid(why)
            if isinstance(n, cst.Call) and not (isinstance(n.func, cst.Name) and n.func.value == "range"):
                raise NotHybrid(why)
            if isinstance(n, cst.Attribute) and isinstance(n.value, cst.Name) and n.value.value == "self":
                if n.attr.value not in self.consts:
                    raise NotHybrid(why)

    def _expr(self, node: cst.BaseExpression) -> None:
        if isinstance(node, cst.Name):
            if node.value == "self" or id(node) in self.gen:
                raise NotHybrid(f"its `{self._fn}` uses `{node.value}` as a value")
            if node.value in self.torch_roots:
                raise NotHybrid(f"its `{self._fn}` still refers to `{node.value}`")
            if node.value not in self._locals and node.value not in ("True", "False", "None"):
                if not self._is_number(node):
                    raise NotHybrid(
                        f"its `{self._fn}` reads `{node.value}`, which is not a local nor a module-level number "
                        "(it may be an array, which a Symbol graph cannot mix in)"
                    )
            return
        if isinstance(node, (cst.Integer, cst.Float, cst.SimpleString, cst.ConcatenatedString)):
            return
        if isinstance(node, cst.Attribute):
            attr = self_attr(node)
            if attr is not None and attr in self.consts:
                return
            symbol_lacks = attr is None and _generated_name(self.gen, node) is None
            why = f" (a Symbol has no `{node.attr.value}`)" if symbol_lacks else ""
            raise NotHybrid(f"its `{self._fn}` reads `{code_of(node)}`{why}")
        if isinstance(node, cst.Call):
            self._call(node)
            for a in node.args:
                self._expr(a.value)
            return
        if isinstance(node, cst.BinaryOperation):
            if not isinstance(node.operator, _SYMBOL_BINARY):
                raise NotHybrid(f"its `{self._fn}` computes `{code_of(node)}` (no Symbol twin of that operator)")
            self._expr(node.left)
            self._expr(node.right)
            self._broadcast(node, node.operator, node.left, node.right)
            return
        if isinstance(node, cst.UnaryOperation):
            if not isinstance(node.operator, (cst.Minus, cst.Plus)):
                raise NotHybrid(f"its `{self._fn}` computes `{code_of(node)}`")
            self._expr(node.expression)
            return
        if isinstance(node, cst.Comparison):
            if not all(isinstance(c.operator, _SYMBOL_COMPARE) for c in node.comparisons) or len(node.comparisons) != 1:
                raise NotHybrid(f"its `{self._fn}` computes `{code_of(node)}`")
            self._expr(node.left)
            self._expr(node.comparisons[0].comparator)
            self._broadcast(node, node.comparisons[0].operator, node.left, node.comparisons[0].comparator)
            return
        if isinstance(node, (cst.Tuple, cst.List)):
            for e in node.elements:
                self._expr(e.value)
            return
        if isinstance(node, cst.IfExp):
            self._static(node.test, "if")
            self._expr(node.body)
            self._expr(node.orelse)
            return
        if isinstance(node, cst.Subscript):
            self._expr(node.value)
            raise NotHybrid(f"its `{self._fn}` indexes `{code_of(node)}` (indexing a Symbol selects an output)")
        raise NotHybrid(f"its `{self._fn}` computes `{code_of(node)}`")

    def _call(self, node: cst.Call) -> None:
        func = node.func
        dotted = _generated_name(self.gen, func)
        if dotted is not None:
            op = dotted[len("mxnet.nd."):] if dotted.startswith("mxnet.nd.") else None
            if op not in SYMBOL_FUNCTIONS:
                short = dotted.replace("mxnet.", "")
                raise NotHybrid(f"its `{self._fn}` calls `{short}`, which has no Symbol twin it can use")
            root = func
            while isinstance(root, cst.Attribute):
                root = root.value
            self.nd_roots.add(id(root))
            self.uses_nd.add(self._fn)
            positional = [a.value for a in node.args if a.keyword is None and not a.star]
            if op in ("power", "maximum", "minimum") and len(positional) >= 2 and not any(
                self._is_number(v) for v in positional[:2]
            ):
                # nd.power of two arrays broadcasts, sym.power does not
                self.broadcast_calls[id(node)] = "broadcast_" + op
            return
        attr = self_attr(func)
        if attr is not None:
            if attr in self.children:
                return
            if attr in self.methods and attr not in ("__init__", "forward"):
                self.calls.setdefault(attr, []).append(id(node))
                self.callers.setdefault(attr, set()).add(self._fn)
                return
            raise NotHybrid(f"its `{self._fn}` calls `self.{attr}`, which is not a HybridBlock child")
        if (
            isinstance(func, cst.Attribute)
            and func.attr.value == "data"
            and not node.args
            and self_attr(func.value) in self.params
        ):
            if self._fn != "forward":
                raise NotHybrid(f"its helper `self.{self._fn}` reads the parameter `{code_of(func.value)}`")
            self.param_reads[id(node)] = self_attr(func.value)  # type: ignore[assignment]
            return
        if isinstance(func, cst.Attribute) and func.attr.value in SYMBOL_METHODS:
            if any(a.star for a in node.args):
                raise NotHybrid(f"its `{self._fn}` calls `{code_of(func)}` with `*` arguments")
            positional_args = [a for a in node.args if a.keyword is None]
            if func.attr.value == "reshape" and len(positional_args) > 1:
                # NDArray.reshape(2, 3) is reshape((2, 3)); Symbol.reshape(2, 3) is reshape((2,), reverse=3)
                self.reshapes.add(id(node))
            self._expr(func.value)
            return
        raise NotHybrid(f"its `{self._fn}` calls `{code_of(func)}`")

    # -- the rewrite ---------------------------------------------------------
    def rewrite(self, ctx) -> cst.ClassDef:
        used: Set[str] = set(self.params)
        for name in self.closure:
            used.update(n.value for n in walk_all(self.methods[name]) if isinstance(n, cst.Name))
        f_name = next(c for c in ("F", "F_", "F__", "F___", "mx_F") if c not in used)
        for name in self.closure:
            if name != "forward" and name in self.uses_nd:
                # F is passed to the helpers: they must be called from the closure only
                outside = sum(
                    1
                    for n in walk_all(ctx.module)
                    if isinstance(n, cst.Attribute) and n.attr.value == name
                )
                if outside != len(self.calls.get(name, ())):
                    raise NotHybrid(f"its helper `self.{name}` calls `nd` and is used outside `forward` too")
        forward_params = _simple_params(self.methods["forward"]) or []
        clash = set(self.params) & (self._all_names("forward") | {forward_params[1]})
        if clash:
            raise NotHybrid(f"its `forward` uses the name of its parameter `{sorted(clash)[0]}` for something else")
        plan = self
        helper_sites = {i for h in self.uses_nd if h != "forward" for i in self.calls.get(h, ())}

        class _Rewrite(cst.CSTTransformer):
            def leave_Name(self, original, updated):
                if id(original) in plan.nd_roots:
                    return cst.Name(f_name)
                return updated

            def leave_BinaryOperation(self, original, updated):
                return self._broadcast(original, updated, updated.left, updated.right)

            def leave_Comparison(self, original, updated):
                return self._broadcast(original, updated, updated.left, updated.comparisons[0].comparator)

            def _broadcast(self, original, updated, left, right):
                op = plan.broadcasts.get(id(original))
                if op is None:
                    return updated
                return cst.Call(
                    func=cst.Attribute(value=cst.Name(f_name), attr=cst.Name(op)),
                    args=[cst.Arg(left), cst.Arg(right)],
                )

            def leave_Call(self, original, updated):
                if id(original) in plan.param_reads:
                    return cst.Name(plan.param_reads[id(original)])
                if id(original) in helper_sites:
                    return updated.with_changes(args=[cst.Arg(cst.Name(f_name))] + list(updated.args))
                if id(original) in plan.broadcast_calls:
                    func = updated.func.with_changes(attr=cst.Name(plan.broadcast_calls[id(original)]))
                    return updated.with_changes(func=func)
                if id(original) in plan.reshapes:
                    positional = [a for a in updated.args if a.keyword is None]
                    shape = cst.Tuple(elements=[cst.Element(a.value) for a in positional])
                    rest = [a for a in updated.args if a.keyword is not None]
                    return updated.with_changes(args=[cst.Arg(shape)] + rest)
                return updated

        def with_f(fn: cst.FunctionDef, extra: List[str], rename: Optional[str]) -> cst.FunctionDef:
            params = list(fn.params.params)
            new = [params[0], cst.Param(cst.Name(f_name))] + params[1:] + [cst.Param(cst.Name(p)) for p in extra]
            fn = fn.with_changes(params=fn.params.with_changes(params=new))
            return fn.with_changes(name=cst.Name(rename)) if rename else fn

        body = []
        for stmt in self.cls.body.body:
            if isinstance(stmt, cst.FunctionDef) and stmt.name.value in self.closure:
                name = stmt.name.value
                fn = cast(cst.FunctionDef, stmt.visit(_Rewrite()))
                if name == "forward":
                    fn = with_f(fn, self.params, "hybrid_forward")
                elif name in self.uses_nd:
                    fn = with_f(fn, [], None)
                stmt = fn
            body.append(stmt)
        return self.cls.with_changes(body=self.cls.body.with_changes(body=body))

    def _all_names(self, method: str) -> Set[str]:
        """Names the method binds or reads (not attribute or keyword names)."""
        skip: Set[int] = set()
        out: Set[str] = set()
        for n in walk_all(self.methods[method].body):
            if isinstance(n, cst.Attribute):
                skip.add(id(n.attr))
            elif isinstance(n, cst.Arg) and n.keyword is not None:
                skip.add(id(n.keyword))
            elif isinstance(n, cst.Name) and id(n) not in skip:
                out.add(n.value)
        return out - {"self"}
