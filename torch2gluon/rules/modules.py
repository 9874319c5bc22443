"""``nn.Module`` subclasses become ``nn.Block`` subclasses."""

from __future__ import annotations

from typing import Dict, List, Optional, Set, Tuple

import libcst as cst

from ..base.syntax import children
from ..facts.mxnet import PREFIX_OF_LOCAL
from ..base.diagnostics import Severity
from ._base import Example, Rule, Unbindable, bind, code_of, literal
from .layers import torch_nn_name

_MODULE_NAMES = ("torch.nn.Module", "torch.nn.modules.Module", "torch.nn.modules.module.Module")


def _class_defs(module: cst.Module):
    """Every class statement, walking statements only (expressions hold none)."""
    stack: List[cst.CSTNode] = [module]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.ClassDef):
            yield n
        if isinstance(n, (cst.SimpleStatementLine, cst.BaseExpression)):
            continue
        stack.extend(c for c in children(n) if not isinstance(c, cst.BaseExpression))


def _instantiation(stmt: cst.BaseStatement, classes: Set[str]) -> Optional[str]:
    """``name = Cls(...)`` with ``Cls`` one of ``classes`` -> ``name``."""
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return None
    assign = stmt.body[0]
    if not isinstance(assign, cst.Assign) or len(assign.targets) != 1:
        return None
    target = assign.targets[0].target
    value = assign.value
    if (
        isinstance(target, cst.Name)
        and isinstance(value, cst.Call)
        and isinstance(value.func, cst.Name)
        and value.func.value in classes
    ):
        return target.value
    return None


def _instantiated(stmt: cst.SimpleStatementLine) -> str:
    """The class of an instantiation ``_instantiation`` found."""
    return stmt.body[0].value.func.value  # type: ignore[union-attr, attr-defined]


def _is_module(ctx, node: cst.BaseExpression) -> bool:
    return ctx.torch_name(node) in _MODULE_NAMES


def module_classes(ctx, module: cst.Module) -> Set[str]:
    """Names of the classes deriving from nn.Module, directly or through a local class.

    Several rules ask; it is worked out once per translation.
    """
    cached = ctx.memo.get("module_classes")
    if cached is not None:
        return cached
    classes: Set[str] = set()
    defs = list(_class_defs(module))
    changed = True
    while changed:
        changed = False
        for d in defs:
            if d.name.value in classes:
                continue
            for base in d.bases:
                value = base.value
                if base.keyword is None and (
                    _is_module(ctx, value) or (isinstance(value, cst.Name) and value.value in classes)
                ):
                    classes.add(d.name.value)
                    changed = True
                    break
    ctx.memo["module_classes"] = classes
    return classes


class ModuleSubclass(Rule):
    """``class Net(nn.Module)`` becomes ``class Net(nn.Block)``; instances get ``initialize()``.

    ## What it does
    A class whose base resolves to ``torch.nn.Module`` (any import spelling)
    gets ``gluon.Block`` (the same class as ``gluon.nn.Block``) as that base. ``__init__``, ``super()``
    calls and ``forward`` stay; the layers assigned to attributes are
    translated by the layer rules. Where such a class (or a subclass of it
    defined in the same file) is instantiated as a plain statement
    ``model = Net(...)``, ``model.initialize()`` follows it, and ``model`` is
    known as a model to the other rules (T2G002, T2G501).

    ## Why
    A Gluon ``Block`` registers child blocks assigned to attributes and calls
    ``forward`` from ``__call__``, like a torch ``Module``; parameters are
    collected in the order the layers are assigned, as in torch. Its
    parameters exist only after ``initialize()`` (the explicit initializers
    the layer rules write keep torch's initial distributions). The spelling
    ``gluon.Block`` does not clash with torch's ``nn`` when that is still
    imported for code left untranslated.

    ## Options
    ``hybridize`` (``--hybridize``, ``hybridize = true``; off by default): a
    class deriving directly from ``nn.Module`` becomes a ``gluon.HybridBlock``
    when its translated ``forward`` (and the helper methods it calls) can run
    on Symbols: ``forward(self, x)`` becomes ``hybrid_forward(self, F, x,
    w, ...)``, the ``nd.`` functions the translation wrote become ``F.``, an
    operator between two arrays becomes ``F.broadcast_*`` (NDArray operators
    broadcast, Symbol operators do not), a parameter ``self.w.data()``
    (T2G213) becomes the keyword argument ``w`` Gluon passes, a helper that
    calls ``nd`` gets ``F`` as its first argument, and ``model.hybridize()``
    follows ``model.initialize()``. Its children must
    be Gluon layers that are HybridBlocks (``nn.Dense``, ``nn.Conv2D``,
    ``nn.BatchNorm``, ``nn.Dropout``...; see ``HYBRID_LAYERS``) or local
    classes made HybridBlocks before it. Otherwise the class stays a
    ``gluon.Block`` (a faithful translation) and an info diagnostic says why:
    ``forward`` reads ``.shape``/``.size``/``.asnumpy()`` or another attribute a
    Symbol lacks, reads a module-level name that may hold an array, indexes
    a value (on a Symbol that selects an output), has an ``if``/``for``/
    ``while`` that may depend on an array, changes a value in place, calls an ``nd`` function without a Symbol twin (creation,
    random) or anything not known to take Symbols, has more than one input
    (a hybridised block takes arrays only), or the class holds an
    ``nn.Sequential``/``ModuleList`` (Gluon ``Sequential`` is a Block), a
    recurrent layer, a child class that stays a Block, is subclassed in the
    file, or has code left untranslated (``self.training``).

    ## Flags
    See T2G211 for the ``Module`` API Gluon lacks. An instance created
    elsewhere (``return Net()``, an argument) is not initialised here; Gluon
    raises on its first forward pass until ``initialize()`` is called (nor
    hybridised: it then runs the same ``hybrid_forward`` imperatively).

    ## Fix safety
    Safe: same structure; parameters are registered in the same order. With
    ``hybridize``, the hybridised graph computes the same operators
    (tests/test_hybrid.py compares outputs, input gradients and training
    steps with the Block translation and torch).
    """

    code = "T2G210"
    name = "module-subclass"
    summary = "class Net(nn.Module) -> class Net(gluon.Block); net = Net() + net.initialize()"
    examples = (
        Example(
            (
                "import torch.nn as nn\n"
                "import torch.nn.functional as F\n\n\n"
                "class Net(nn.Module):\n"
                "    def __init__(self):\n"
                "        super(Net, self).__init__()\n"
                "        self.fc = nn.Linear(4, 2)\n\n"
                "    def forward(self, x):\n"
                "        # the only layer\n"
                "        return F.relu(self.fc(x))\n\n\n"
                "model = Net()\n"
            ),
            (
                "from mxnet import gluon, init, nd\n"
                "from mxnet.gluon import nn\n\n\n"
                "class Net(gluon.Block):\n"
                "    def __init__(self):\n"
                "        super(Net, self).__init__()\n"
                "        self.fc = nn.Dense(\n"
                "            2,\n"
                "            in_units=4,\n"
                "            flatten=False,\n"
                "            weight_initializer=init.Uniform(4**-0.5),\n"
                "            bias_initializer=init.Uniform(4**-0.5),\n"
                "        )\n\n"
                "    def forward(self, x):\n"
                "        # the only layer\n"
                "        return nd.relu(self.fc(x))\n\n\n"
                "model = Net()\n"
                "model.initialize()\n"
            ),
            id="module subclass and its instance",
        ),
        Example(
            (
                "from torch.nn import Module\n\n\n"
                "class Base(Module):\n"
                "    pass\n\n\n"
                "class Head(Base):\n"
                "    pass\n\n\n"
                "def build():\n"
                "    head = Head()\n"
                "    return head\n"
            ),
            (
                "from mxnet import gluon\n\n\n"
                "class Base(gluon.Block):\n"
                "    pass\n\n\n"
                "class Head(Base):\n"
                "    pass\n\n\n"
                "def build():\n"
                "    head = Head()\n"
                "    head.initialize()\n"
                "    return head\n"
            ),
            id="subclass of a translated class, in a function",
        ),
        Example(
            (
                "import torch\n\n\n"
                "class Net(torch.nn.Module):\n"
                "    pass\n\n\n"
                "net = Net()\n"
                "state = net.state_dict()\n"
            ),
            (
                "from mxnet import gluon\n\n\n"
                "class Net(gluon.Block):\n"
                "    pass\n\n\n"
                "net = Net()\n"
                "net.initialize()\n"
                "# torch2gluon: T2G002: `net.state_dict` (a torch model method) has no translation yet; left as is\n"
                "state = net.state_dict()\n"
            ),
            diagnostics=("T2G002",),
            id="the instance is a model for T2G002",
        ),
    )
    # translated with Options(hybridize=True); tests/test_hybrid.py checks them further
    hybrid_examples = (
        Example(
            (
                "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n\n"
                "class Net(nn.Module):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.fc = nn.Linear(4, 2)\n"
                "        self.scale = nn.Parameter(torch.ones(2))\n\n"
                "    def forward(self, x):\n"
                "        x = x.view(-1, 4)\n"
                "        return F.relu(self.fc(x)) * self.scale\n\n\n"
                "net = Net()\n"
            ),
            (
                "from mxnet import gluon, init\n"
                "from mxnet.gluon import nn\n\n\n"
                "class Net(gluon.HybridBlock):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.fc = nn.Dense(\n"
                "            2,\n"
                "            in_units=4,\n"
                "            flatten=False,\n"
                "            weight_initializer=init.Uniform(4**-0.5),\n"
                "            bias_initializer=init.Uniform(4**-0.5),\n"
                "        )\n"
                "        self.scale = self.params.get(\"scale\", shape=(2,), init=init.One())\n\n"
                "    def hybrid_forward(self, F, x, scale):\n"
                "        x = x.reshape((-1, 4))\n"
                "        return F.broadcast_mul(F.relu(self.fc(x)), scale)\n\n\n"
                "net = Net()\n"
                "net.initialize()\n"
                "net.hybridize()\n"
            ),
            id="hybridize: a HybridBlock with F, its parameter as an argument, a broadcasting product",
            options=(("hybridize", True),),
        ),
        Example(
            (
                "import torch.nn as nn\nimport torch.nn.functional as F\n\n\n"
                "class Net(nn.Module):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.fc = nn.Linear(4, 2)\n\n"
                "    def forward(self, x):\n"
                "        x = x.view(x.size(0), -1)\n"
                "        return F.relu(self.fc(x))\n\n\n"
                "net = Net()\n"
            ),
            (
                "from mxnet import gluon, init, nd\n"
                "from mxnet.gluon import nn\n\n\n"
                "class Net(gluon.Block):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.fc = nn.Dense(\n"
                "            2,\n"
                "            in_units=4,\n"
                "            flatten=False,\n"
                "            weight_initializer=init.Uniform(4**-0.5),\n"
                "            bias_initializer=init.Uniform(4**-0.5),\n"
                "        )\n\n"
                "    def forward(self, x):\n"
                "        x = x.reshape((x.shape[0], -1))\n"
                "        return nd.relu(self.fc(x))\n\n\n"
                "net = Net()\n"
                "net.initialize()\n"
            ),
            id="hybridize: forward reads x.shape, the class stays a Block (info note)",
            options=(("hybridize", True),),
        ),
    )
    examples = examples + hybrid_examples

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.classes: Set[str] = set()
        self.hybridize = bool(getattr(ctx.options, "hybridize", False))
        # with Options(hybridize=True): the classes made HybridBlocks so far
        self.hybrid: Set[str] = set()
        self.decided: Set[str] = set()  # the classes T2G210 has left so far
        self._errors: Dict[int, int] = {}  # class -> error count when it was entered
        self._derived: Dict[str, str] = {}  # class -> a local class deriving from it

    def visit_Module(self, node: cst.Module) -> None:
        # known before any statement that instantiates them is left
        self.classes = module_classes(self.ctx, node)
        if self.hybridize:
            for d in _class_defs(node):
                for base in d.bases:
                    if isinstance(base.value, cst.Name) and base.value.value in self.classes:
                        self._derived.setdefault(base.value.value, d.name.value)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        if self.hybridize:
            self._errors[id(node)] = sum(1 for d in self.ctx.diagnostics if d.severity is Severity.ERROR)

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef) -> Optional[cst.ClassDef]:
        errors = self._errors.pop(id(original), 0)
        bases = list(updated.bases)
        hit = False
        for i, base in enumerate(original.bases):
            if base.keyword is None and _is_module(self.ctx, base.value):
                bases[i] = bases[i].with_changes(value=self.ctx.ref("mxnet.gluon.Block"))
                hit = True
        if not hit:
            if self.hybridize and original.name.value in self.classes:
                self.decided.add(original.name.value)
                self._stays_block(original, "it derives from a translated class (only direct `nn.Module` "
                                  "subclasses are hybridised)")
            return None
        out = updated.with_changes(bases=bases)
        if self.hybridize:
            return self._hybridized(original, out, errors)
        return out

    def _stays_block(self, original: cst.ClassDef, why: str) -> None:
        self.report(
            original.name,
            f"`{original.name.value}` stays a gluon.Block, not a HybridBlock: {why}",
            severity=Severity.INFO,
        )

    def _hybridized(self, original: cst.ClassDef, block: cst.ClassDef, errors: int) -> cst.ClassDef:
        """``block`` as a HybridBlock with ``hybrid_forward`` when that is safe, else ``block`` and a note."""
        name = original.name.value
        self.decided.add(name)
        try:
            if len(original.bases) != 1 or original.keywords:
                raise _NotHybrid("it has other base classes or class keywords")
            if name in self._derived:
                raise _NotHybrid(f"`{self._derived[name]}` derives from it in this file")
            if sum(1 for d in self.ctx.diagnostics if d.severity is Severity.ERROR) != errors:
                raise _NotHybrid("part of it is left untranslated")
            plan = _HybridPlan(self.ctx, block, self.hybrid, self.decided, self.ctx.names.torch_roots)
            plan.collect()
            plan.check()
            hybrid = plan.rewrite(self.ctx)
        except _NotHybrid as why:
            self._stays_block(original, str(why))
            return block
        self.hybrid.add(name)
        base = hybrid.bases[0].with_changes(value=self.ctx.ref("mxnet.gluon.HybridBlock"))
        return hybrid.with_changes(bases=[base])

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        target = _instantiation(original, self.classes)
        if target is None:
            return None
        self.ctx.bindings[target] = "model"
        out: List[cst.BaseStatement] = [updated]
        for method in ("initialize", "hybridize")[: 2 if _instantiated(original) in self.hybrid else 1]:
            out.append(
                cst.SimpleStatementLine(
                    body=[cst.Expr(cst.Call(func=cst.Attribute(value=cst.Name(target), attr=cst.Name(method))))]
                )
            )
        return out


# -- opt-in HybridBlock (Options.hybridize) -------------------------------------
#
# With ``Options(hybridize=True)`` T2G210 makes a translated class a
# ``gluon.HybridBlock`` when the translated ``forward`` builds the same graph
# from a Symbol as from an NDArray. The checks below run on the *translated*
# class (the other rules have already rewritten its body) and accept only what
# is known to behave the same way; anything else keeps the Block with an INFO
# note saying why. tests/test_hybrid.py checks every name listed here against
# MXNet (both twins exist, the layers are HybridBlocks).

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
_BROADCAST = {
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
        return found  # type: ignore[return-value]
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
            for x in _walk_all(n.target):
                if isinstance(x, cst.Name):
                    out[x.value] = False
        elif isinstance(n, (cst.AsName, cst.NamedExpr)):
            for x in _walk_all(n.name if isinstance(n, cst.AsName) else n.target):
                if isinstance(x, cst.Name):
                    out[x.value] = False
        elif isinstance(n, (cst.Import, cst.ImportFrom)) and not isinstance(n.names, cst.ImportStar):
            for alias in n.names:
                out[(alias.evaluated_alias or alias.evaluated_name).split(".")[0]] = False
    for n in _walk_all(ctx.module):  # `global K` in a function may rebind K to anything
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


class _NotHybrid(Exception):
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


class _HybridPlan:
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
                    raise _NotHybrid(f"it defines `{stmt.name.value}` twice")
                self.methods[stmt.name.value] = stmt
        for bad in ("hybrid_forward", "__call__", "__setattr__"):
            if bad in self.methods:
                raise _NotHybrid(f"it defines `{bad}`")
        forward = self.methods.get("forward")
        if forward is None:
            raise _NotHybrid("it defines no `forward`")
        if forward.decorators or forward.asynchronous:
            raise _NotHybrid("its `forward` is decorated or async")
        names = _simple_params(forward)
        if names is None or len(names) != 2:
            raise _NotHybrid(
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
                    or (_self_attr(n.func) in ("register_child", "register_forward_hook", "register_forward_pre_hook"))
                ):
                    raise _NotHybrid(f"`{code_of(n.func)}` registers blocks a HybridBlock cannot check")

    def _target(self, fn: cst.FunctionDef, target: cst.BaseExpression, value) -> None:
        targets = [e.value for e in target.elements] if isinstance(target, (cst.Tuple, cst.List)) else [target]
        for t in targets:
            attr = _self_attr(t)
            if attr is None:
                continue
            if fn.name.value != "__init__":
                raise _NotHybrid(f"`self.{attr}` is assigned in `{fn.name.value}`")
            if len(targets) > 1 or value is None:
                self.consts.add(attr)
                continue
            self._member(attr, value)

    def _member(self, attr: str, value: cst.BaseExpression) -> None:
        if attr in self.children or attr in self.params or attr in self.consts:
            raise _NotHybrid(f"`self.{attr}` is assigned more than once in `__init__`")
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
                    raise _NotHybrid(
                        f"`self.{attr}` is a `{short}` (recurrent layers and their states are not hybridised)"
                    )
                if short in ("nn.Sequential", "nn.Lambda"):
                    raise _NotHybrid(f"`self.{attr}` is a `{short}`, which is a Block, not a HybridBlock")
                raise _NotHybrid(f"`self.{attr}` is a `{short}`, not one of the layers known to be HybridBlocks")
            if isinstance(func, cst.Name) and func.value in self.hybrid:
                self.children.add(attr)
                return
            if isinstance(func, cst.Name) and func.value in module_classes(self.ctx, self.ctx.module):
                if func.value in self.decided:
                    raise _NotHybrid(f"its child `self.{attr}` is a `{func.value}`, which stays a Block")
                raise _NotHybrid(
                    f"its child `self.{attr}` is a `{func.value}`, which is defined after it (children are "
                    "hybridised first)"
                )
            if isinstance(func, cst.Name) and func.value in _NOT_BLOCKS:
                self.consts.add(attr)
                return
            raise _NotHybrid(f"`self.{attr} = {code_of(value)}` may be a block that is not a HybridBlock")
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
                raise _NotHybrid(f"its helper `self.{name}` is decorated or has defaults or star arguments")
            params = _simple_params(fn) or []
            self._fn = name
            self._locals = set(params[1:])
            values: Dict[str, List[Optional[cst.BaseExpression]]] = {}
            for n in _walk_all(fn.body):  # every name the function binds, and to what
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
                            raise _NotHybrid(f"its `{self._fn}` assigns `{code_of(t.target)}`")
                    self._expr(small.value)
                elif isinstance(small, cst.Return):
                    if small.value is not None:
                        self._expr(small.value)
                elif isinstance(small, cst.Expr):
                    self._expr(small.value)
                elif isinstance(small, cst.Pass):
                    pass
                elif isinstance(small, cst.AugAssign):
                    raise _NotHybrid(f"its `{self._fn}` changes a value in place (`{code_of(small).strip()}`)")
                else:
                    raise _NotHybrid(f"its `{self._fn}` has a `{code_of(small).strip().split()[0]}` statement")
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
                raise _NotHybrid(f"its `{self._fn}` has a `for ... else` loop")
            it = stmt.iter
            if not (isinstance(it, cst.Call) and isinstance(it.func, cst.Name) and it.func.value == "range"):
                raise _NotHybrid(
                    f"its `{self._fn}` loops over `{code_of(it)}` (only `range` of constants is hybridised)"
                )
            for a in it.args:
                self._static(a.value, "for")
            for s in _body_statements(stmt.body):
                self._statement(s)
        else:
            first = code_of(stmt).strip().split()[0] if code_of(stmt).strip() else type(stmt).__name__
            raise _NotHybrid(f"its `{self._fn}` has a `{first}` statement")

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
            return _self_attr(node) in self.consts
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
        for n in _walk_all(node):
            if isinstance(n, cst.Name) and (
                n.value in self._locals or id(n) in self.gen or n.value in self.torch_roots
            ):
                raise _NotHybrid(why)
            if isinstance(n, cst.Call) and not (isinstance(n.func, cst.Name) and n.func.value == "range"):
                raise _NotHybrid(why)
            if isinstance(n, cst.Attribute) and isinstance(n.value, cst.Name) and n.value.value == "self":
                if n.attr.value not in self.consts:
                    raise _NotHybrid(why)

    def _expr(self, node: cst.BaseExpression) -> None:
        if isinstance(node, cst.Name):
            if node.value == "self" or id(node) in self.gen:
                raise _NotHybrid(f"its `{self._fn}` uses `{node.value}` as a value")
            if node.value in self.torch_roots:
                raise _NotHybrid(f"its `{self._fn}` still refers to `{node.value}`")
            if node.value not in self._locals and node.value not in ("True", "False", "None"):
                if not self._is_number(node):
                    raise _NotHybrid(
                        f"its `{self._fn}` reads `{node.value}`, which is not a local nor a module-level number "
                        "(it may be an array, which a Symbol graph cannot mix in)"
                    )
            return
        if isinstance(node, (cst.Integer, cst.Float, cst.SimpleString, cst.ConcatenatedString)):
            return
        if isinstance(node, cst.Attribute):
            attr = _self_attr(node)
            if attr is not None and attr in self.consts:
                return
            symbol_lacks = attr is None and _generated_name(self.gen, node) is None
            why = f" (a Symbol has no `{node.attr.value}`)" if symbol_lacks else ""
            raise _NotHybrid(f"its `{self._fn}` reads `{code_of(node)}`{why}")
        if isinstance(node, cst.Call):
            self._call(node)
            for a in node.args:
                self._expr(a.value)
            return
        if isinstance(node, cst.BinaryOperation):
            if not isinstance(node.operator, _SYMBOL_BINARY):
                raise _NotHybrid(f"its `{self._fn}` computes `{code_of(node)}` (no Symbol twin of that operator)")
            self._expr(node.left)
            self._expr(node.right)
            self._broadcast(node, node.operator, node.left, node.right)
            return
        if isinstance(node, cst.UnaryOperation):
            if not isinstance(node.operator, (cst.Minus, cst.Plus)):
                raise _NotHybrid(f"its `{self._fn}` computes `{code_of(node)}`")
            self._expr(node.expression)
            return
        if isinstance(node, cst.Comparison):
            if not all(isinstance(c.operator, _SYMBOL_COMPARE) for c in node.comparisons) or len(node.comparisons) != 1:
                raise _NotHybrid(f"its `{self._fn}` computes `{code_of(node)}`")
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
            raise _NotHybrid(f"its `{self._fn}` indexes `{code_of(node)}` (indexing a Symbol selects an output)")
        raise _NotHybrid(f"its `{self._fn}` computes `{code_of(node)}`")

    def _call(self, node: cst.Call) -> None:
        func = node.func
        dotted = _generated_name(self.gen, func)
        if dotted is not None:
            op = dotted[len("mxnet.nd."):] if dotted.startswith("mxnet.nd.") else None
            if op not in SYMBOL_FUNCTIONS:
                short = dotted.replace("mxnet.", "")
                raise _NotHybrid(f"its `{self._fn}` calls `{short}`, which has no Symbol twin it can use")
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
        attr = _self_attr(func)
        if attr is not None:
            if attr in self.children:
                return
            if attr in self.methods and attr not in ("__init__", "forward"):
                self.calls.setdefault(attr, []).append(id(node))
                self.callers.setdefault(attr, set()).add(self._fn)
                return
            raise _NotHybrid(f"its `{self._fn}` calls `self.{attr}`, which is not a HybridBlock child")
        if (
            isinstance(func, cst.Attribute)
            and func.attr.value == "data"
            and not node.args
            and _self_attr(func.value) in self.params
        ):
            if self._fn != "forward":
                raise _NotHybrid(f"its helper `self.{self._fn}` reads the parameter `{code_of(func.value)}`")
            self.param_reads[id(node)] = _self_attr(func.value)  # type: ignore[assignment]
            return
        if isinstance(func, cst.Attribute) and func.attr.value in SYMBOL_METHODS:
            if any(a.star for a in node.args):
                raise _NotHybrid(f"its `{self._fn}` calls `{code_of(func)}` with `*` arguments")
            positional = [a for a in node.args if a.keyword is None]
            if func.attr.value == "reshape" and len(positional) > 1:
                # NDArray.reshape(2, 3) is reshape((2, 3)); Symbol.reshape(2, 3) is reshape((2,), reverse=3)
                self.reshapes.add(id(node))
            self._expr(func.value)
            return
        raise _NotHybrid(f"its `{self._fn}` calls `{code_of(func)}`")

    # -- the rewrite ---------------------------------------------------------
    def rewrite(self, ctx) -> cst.ClassDef:
        used: Set[str] = set(self.params)
        for name in self.closure:
            used.update(n.value for n in _walk_all(self.methods[name]) if isinstance(n, cst.Name))
        f_name = next(c for c in ("F", "F_", "F__", "F___", "mx_F") if c not in used)
        for name in self.closure:
            if name != "forward" and name in self.uses_nd:
                # F is passed to the helpers: they must be called from the closure only
                outside = sum(
                    1
                    for n in _walk_all(ctx.module)
                    if isinstance(n, cst.Attribute) and n.attr.value == name
                )
                if outside != len(self.calls.get(name, ())):
                    raise _NotHybrid(f"its helper `self.{name}` calls `nd` and is used outside `forward` too")
        forward_params = _simple_params(self.methods["forward"]) or []
        clash = set(self.params) & (self._all_names("forward") | {forward_params[1]})
        if clash:
            raise _NotHybrid(f"its `forward` uses the name of its parameter `{sorted(clash)[0]}` for something else")
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
                stmt = stmt.visit(_Rewrite())
                if name == "forward":
                    stmt = with_f(stmt, self.params, "hybrid_forward")
                elif name in self.uses_nd:
                    stmt = with_f(stmt, [], None)
            body.append(stmt)
        return self.cls.with_changes(body=self.cls.body.with_changes(body=body))

    def _all_names(self, method: str) -> Set[str]:
        """Names the method binds or reads (not attribute or keyword names)."""
        skip: Set[int] = set()
        out: Set[str] = set()
        for n in _walk_all(self.methods[method].body):
            if isinstance(n, cst.Attribute):
                skip.add(id(n.attr))
            elif isinstance(n, cst.Arg) and n.keyword is not None:
                skip.add(id(n.keyword))
            elif isinstance(n, cst.Name) and id(n) not in skip:
                out.add(n.value)
        return out - {"self"}


# torch.nn.Module API that gluon.nn.Block lacks or gives another meaning
_MODULE_ONLY = {
    "add_module": "use `self.register_child(block, name)` or an attribute",
    "register_module": "use `self.register_child(block, name)` or an attribute",
    "register_buffer": "a buffer is a Gluon parameter with `grad_req='null'`",
    "register_parameter": "use `self.params.get(...)`",
    "parameters": "use `self.collect_params()`",
    "named_parameters": "use `self.collect_params()`",
    "buffers": "Gluon has no buffers",
    "named_buffers": "Gluon has no buffers",
    "children": "Gluon has no `children()`",
    "named_children": "Gluon has no `named_children()`",
    "modules": "Gluon has no `modules()`",
    "named_modules": "Gluon has no `named_modules()`",
    "state_dict": "use `save_parameters`",
    "load_state_dict": "use `load_parameters`",
    "train": "Gluon's mode is `autograd.record()`",
    "eval": "Gluon's mode is `autograd.record()`",
    "training": "Gluon's mode is `autograd.is_training()`",
    "to": "devices are not translated yet",
    "cuda": "devices are not translated yet",
    "cpu": "devices are not translated yet",
    "float": "use `self.cast('float32')`",
    "double": "use `self.cast('float64')`",
    "half": "use `self.cast('float16')`",
    "requires_grad_": "set `grad_req` on the parameters",
    "zero_grad": "gradients are overwritten on each backward",
}
# read-only properties of a Gluon Block: a torch attribute of that name clashes
_BLOCK_PROPERTIES = ("name", "prefix", "params")
_CONTAINERS = ("ModuleList", "ModuleDict", "Parameter", "ParameterList", "ParameterDict", "Module")


class ModuleInternals(Rule):
    """torch ``Module`` API without a Gluon ``Block`` twin is reported.

    ## What it does
    ``nn.ModuleList``, ``nn.ModuleDict``, ``nn.Parameter``,
    ``nn.ParameterList``/``ParameterDict`` and a bare ``nn.Module()`` that
    T2G212/T2G213/T2G215 do not translate are left as is with an error. Inside a class translated to ``nn.Block`` (T2G210),
    ``self.add_module``, ``self.register_buffer``, ``self.parameters()``,
    ``self.training`` and the other ``Module`` methods Gluon lacks are
    reported with an error too, and so are attributes called ``name``,
    ``prefix`` or ``params`` (read-only properties of a Gluon ``Block``).

    ## Why
    A Gluon ``Block`` does not register blocks held in a Python list or dict,
    and has no buffers, named module iterators or ``training`` flag: such code
    would fail at run time or, worse, train fewer parameters than torch.

    ## Fix safety
    Nothing is changed.
    """

    code = "T2G211"
    name = "module-internals"
    summary = "nn.ModuleList/ModuleDict/Parameter, self.add_module/register_buffer/...: reported"
    examples = (
        Example(
            (
                "from torch import nn\n\n\n"
                "class Net(nn.Module):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.layers = nn.ModuleDict(dict(a=nn.ReLU()))\n"
                "        self.register_buffer('steps', None)\n\n"
                "    def forward(self, x):\n"
                "        return x\n"
            ),
            (
                "from torch import nn\n"
                "from mxnet import gluon\n"
                "from mxnet.gluon import nn as mx_nn\n\n\n"
                "class Net(gluon.Block):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        # torch2gluon: T2G211: `torch.nn.ModuleDict` is not translated yet "
                "(Gluon does not register blocks held in a dict; T2G215 translates only "
                "`self.x = nn.ModuleDict({'name': layer, ...})` with string keys in a Block's `__init__`); left as is\n"
                "        self.layers = nn.ModuleDict(dict(a=mx_nn.Activation(\"relu\")))\n"
                "        # torch2gluon: T2G211: `self.register_buffer` is torch `Module` API that Gluon's `Block` lacks "
                "(a buffer is a Gluon parameter with `grad_req='null'`); left as is\n"
                "        self.register_buffer('steps', None)\n\n"
                "    def forward(self, x):\n"
                "        return x\n"
            ),
            diagnostics=("T2G211", "T2G211"),
            id="module dict and buffers are flagged",
        ),
        Example(
            (
                "import torch\nfrom torch import nn\n\n\n"
                "class Scale(nn.Module):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.w = nn.Parameter(torch.ones(3))\n\n"
                "    def forward(self, x):\n"
                "        if self.training:\n"
                "            return x * self.w\n"
                "        return x\n"
            ),
            (
                "from mxnet import gluon, init\n\n\n"
                "class Scale(gluon.Block):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.w = self.params.get(\"w\", shape=(3,), init=init.One())\n\n"
                "    def forward(self, x):\n"
                "        # torch2gluon: T2G211: `self.training` is torch `Module` API that Gluon's `Block` lacks "
                "(Gluon's mode is `autograd.is_training()`); left as is\n"
                "        if self.training:\n"
                "            return x * self.w.data()\n"
                "        return x\n"
            ),
            diagnostics=("T2G211",),
            id="training flag is flagged, the parameter is translated (T2G213)",
        ),
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._stack: List[bool] = []
        self.classes: Set[str] = set()

    def visit_Module(self, node: cst.Module) -> None:
        self.classes = module_classes(self.ctx, node)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._stack.append(node.name.value in self.classes)

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef) -> None:
        self._stack.pop()
        return None

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> None:
        if id(original) in self.ctx.handled:
            return None  # translated by T2G212/T2G213, or reported there
        name = self.ctx.call_name(original)
        kind = torch_nn_name(name, *_CONTAINERS)
        if kind is None:
            return None
        why = {
            "ModuleList": "Gluon does not register blocks held in a list: use `nn.Sequential` or attributes",
            "ModuleDict": "Gluon does not register blocks held in a dict; T2G215 translates only "
            "`self.x = nn.ModuleDict({'name': layer, ...})` with string keys in a Block's `__init__`",
            "Parameter": "T2G213 translates only `self.x = nn.Parameter(torch.randn/zeros/ones(shape))` "
            "in a Block's `__init__`; use `self.params.get(...)` in Gluon",
            "ParameterList": "use `self.params.get(...)` in Gluon",
            "ParameterDict": "use `self.params.get(...)` in Gluon",
            "Module": "use `nn.Block()`",
        }[kind]
        return self.keep(original, name, f"is not translated yet ({why})")

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> None:
        if not (self._stack and self._stack[-1]):
            return None
        if id(original) in self.ctx.handled:
            return None  # translated by T2G215
        value = original.value
        attr = original.attr.value
        if not (isinstance(value, cst.Name) and value.value == "self"):
            return None
        if attr in _MODULE_ONLY:
            self.report(
                original,
                f"`self.{attr}` is torch `Module` API that Gluon's `Block` lacks ({_MODULE_ONLY[attr]}); left as is",
            )
        elif attr in _BLOCK_PROPERTIES:
            self.report(
                original,
                f"`self.{attr}` is a read-only property of Gluon's `Block`; rename the attribute; left as is",
            )
        return None


# -- helpers shared by T2G212/T2G213 -------------------------------------------


def _self_attr(node: cst.CSTNode) -> Optional[str]:
    """``self.x`` -> ``"x"``."""
    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == "self":
        return node.attr.value
    return None


def _self_assign(stmt: cst.CSTNode) -> Optional[Tuple[str, cst.Assign]]:
    """``self.x = <value>`` as the only statement of a line -> ``("x", assign)``."""
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return None
    assign = stmt.body[0]
    if not isinstance(assign, cst.Assign) or len(assign.targets) != 1:
        return None
    attr = _self_attr(assign.targets[0].target)
    return (attr, assign) if attr is not None else None


def _methods(cls: cst.ClassDef):
    for stmt in cls.body.body:
        if isinstance(stmt, cst.FunctionDef):
            yield stmt


def _line(*exprs: cst.BaseExpression) -> cst.SimpleStatementLine:
    return cst.SimpleStatementLine(body=[cst.Expr(e) for e in exprs])


class _ClassRule(Rule):
    """Tracks whether the class being visited is translated by T2G210."""

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.classes: Set[str] = set()
        self._stack: List[Optional[Dict[str, object]]] = []

    def visit_Module(self, node: cst.Module) -> None:
        self.classes = module_classes(self.ctx, node)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._stack.append(self.scan(node) if node.name.value in self.classes else None)

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef) -> None:
        self._stack.pop()
        return None

    @property
    def current(self) -> Optional[Dict[str, object]]:
        return self._stack[-1] if self._stack else None

    def scan(self, node: cst.ClassDef) -> Dict[str, object]:  # pragma: no cover - overridden
        return {}


class ModuleList(_ClassRule):
    """``self.x = nn.ModuleList([...])`` becomes a Gluon ``nn.Sequential`` used as a container.

    ## What it does
    In a method of a class translated by T2G210, ``self.x = nn.ModuleList(blocks)``
    becomes::

        self.x = nn.Sequential()
        self.x.add(a, b)          # a list literal
        self.x.add(*blocks)       # any other iterable

    and ``self.x.append(m)`` / ``self.x.extend(ms)`` become ``self.x.add(m)`` /
    ``self.x.add(*ms)``.

    ## Why
    A Gluon ``Block`` registers a child ``Sequential`` and, through it, every
    block added to it, with the structural keys torch uses (``x.0.weight``).
    In MXNet 1.9.1 ``Sequential`` supports ``len``, ``x[i]`` (negative indices,
    slices) and ``for b in x`` (through ``__getitem__``), as ``ModuleList``
    does. Nothing calls the container itself in working torch code (a
    ``ModuleList`` has no ``forward``).

    ## Flags
    ``self.x.insert(...)`` (Gluon's ``Sequential`` cannot insert), a
    ``ModuleList`` anywhere else (a local variable, nested in another call)
    and ``nn.ModuleDict`` (Gluon has no dict container that registers its
    blocks) are reported and left as is (T2G211).

    ## Fix safety
    Safe: the same blocks are registered in the same order under the same keys.
    """

    code = "T2G212"
    name = "module-list"
    summary = "self.x = nn.ModuleList([...]) -> nn.Sequential() + add; append/extend -> add"
    examples = (
        Example(
            (
                "from torch import nn\n\n\n"
                "class Net(nn.Module):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.layers = nn.ModuleList([nn.Linear(4, 4), nn.ReLU()])\n"
                "        self.layers.append(nn.ReLU())\n\n"
                "    def forward(self, x):\n"
                "        for layer in self.layers:\n"
                "            x = layer(x)\n"
                "        return self.layers[0](x)\n"
            ),
            (
                "from mxnet import gluon, init\n"
                "from mxnet.gluon import nn\n\n\n"
                "class Net(gluon.Block):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.layers = nn.Sequential()\n"
                "        self.layers.add(\n"
                "            nn.Dense(\n"
                "                4,\n"
                "                in_units=4,\n"
                "                flatten=False,\n"
                "                weight_initializer=init.Uniform(4**-0.5),\n"
                "                bias_initializer=init.Uniform(4**-0.5),\n"
                "            ),\n"
                "            nn.Activation(\"relu\"),\n"
                "        )\n"
                "        self.layers.add(nn.Activation(\"relu\"))\n\n"
                "    def forward(self, x):\n"
                "        for layer in self.layers:\n"
                "            x = layer(x)\n"
                "        return self.layers[0](x)\n"
            ),
            id="module list from a list literal, append",
        ),
        Example(
            (
                "from torch import nn\n\n\n"
                "class Net(nn.Module):\n"
                "    def __init__(self, n):\n"
                "        super().__init__()\n"
                "        self.acts = nn.ModuleList(nn.ReLU() for _ in range(n))\n"
                "        self.acts.extend([nn.Tanh()])\n"
                "        self.acts.insert(0, nn.ReLU())\n"
            ),
            (
                "from mxnet import gluon\n"
                "from mxnet.gluon import nn\n\n\n"
                "class Net(gluon.Block):\n"
                "    def __init__(self, n):\n"
                "        super().__init__()\n"
                "        self.acts = nn.Sequential()\n"
                "        self.acts.add(*(nn.Activation(\"relu\") for _ in range(n)))\n"
                "        self.acts.add(*[nn.Activation(\"tanh\")])\n"
                "        # torch2gluon: T2G212: `self.acts.insert` has no Gluon `Sequential` twin "
                "(it cannot insert); left as is\n"
                "        self.acts.insert(0, nn.Activation(\"relu\"))\n"
            ),
            diagnostics=("T2G212",),
            id="module list from a generator, extend, insert is flagged",
        ),
        Example(
            (
                "from torch import nn\n\n\n"
                "class Net(nn.Module):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.heads = nn.ModuleDict([('a', nn.ReLU())])\n"
            ),
            (
                "from torch import nn\n"
                "from mxnet import gluon\n"
                "from mxnet.gluon import nn as mx_nn\n\n\n"
                "class Net(gluon.Block):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        # torch2gluon: T2G211: `torch.nn.ModuleDict` is not translated yet "
                "(Gluon does not register blocks held in a dict; T2G215 translates only "
                "`self.x = nn.ModuleDict({'name': layer, ...})` with string keys in a Block's `__init__`); left as is\n"
                "        self.heads = nn.ModuleDict([(\"a\", mx_nn.Activation(\"relu\"))])\n"
            ),
            diagnostics=("T2G211",),
            id="module dict stays flagged",
        ),
    )

    def scan(self, node: cst.ClassDef) -> Dict[str, object]:
        found: Dict[str, object] = {}
        for method in _methods(node):
            for stmt in method.body.body:
                hit = _self_assign(stmt)
                if hit is None:
                    continue
                attr, assign = hit
                call = assign.value
                if not (isinstance(call, cst.Call) and torch_nn_name(self.ctx.call_name(call), "ModuleList")):
                    continue
                try:
                    bind(call, ["modules"])
                except Unbindable:
                    continue
                self.ctx.handled.add(id(call))
                found[attr] = id(stmt)
        return found

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        cur = self.current
        if not cur:
            return None
        hit = _self_assign(original)
        if hit is None or cur.get(hit[0]) != id(original):
            return None
        target = updated.body[0].targets[0].target
        call = updated.body[0].value
        first = updated.with_changes(
            body=[updated.body[0].with_changes(value=cst.Call(func=self.ctx.ref("mxnet.gluon.nn.Sequential")))]
        )
        args = list(call.args)
        if not args:
            return first
        value = args[0].value
        if isinstance(value, (cst.List, cst.Tuple)) and not any(
            isinstance(e, cst.StarredElement) for e in value.elements
        ):
            add_args = [cst.Arg(value=e.value) for e in value.elements]
        else:
            if isinstance(value, cst.GeneratorExp) and not value.lpar:
                value = value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
            add_args = [cst.Arg(value=value, star="*")]
        if not add_args:
            return first
        add = cst.Call(func=cst.Attribute(value=target, attr=cst.Name("add")), args=add_args)
        return [first, _line(add)]

    def leave_Call(self, original: cst.Call, updated: cst.Call):
        cur = self.current
        func = original.func
        if not cur or not isinstance(func, cst.Attribute):
            return None
        attr = _self_attr(func.value)
        if attr not in cur:
            return None
        method = func.attr.value
        if method == "append" and len(updated.args) == 1 and not updated.args[0].star and not updated.args[0].keyword:
            return updated.with_changes(func=updated.func.with_changes(attr=cst.Name("add")))
        if method == "extend" and len(updated.args) == 1 and not updated.args[0].star and not updated.args[0].keyword:
            return updated.with_changes(
                func=updated.func.with_changes(attr=cst.Name("add")),
                args=[cst.Arg(value=updated.args[0].value, star="*")],
            )
        if method in ("insert", "append", "extend", "__iadd__"):
            self.report(original, f"`self.{attr}.{method}` has no Gluon `Sequential` twin (it cannot insert); left as is"
                        if method == "insert" else f"`self.{attr}.{method}` with these arguments is not translated; left as is")
        return None


# torch factory -> MXNet initializer giving the same values
_PARAM_INITS = {"torch.randn": "mxnet.init.Normal", "torch.zeros": "mxnet.init.Zero", "torch.ones": "mxnet.init.One"}


class ParameterAttribute(_ClassRule):
    """``self.w = nn.Parameter(torch.randn(3, 4))`` becomes ``self.params.get("w", ...)``.

    ## What it does
    In the ``__init__`` of a class translated by T2G210, a statement
    ``self.w = nn.Parameter(<factory>(shape))`` becomes::

        self.w = self.params.get("w", shape=(3, 4), init=init.Normal(1.0))

    where ``<factory>`` is ``torch.randn`` (``init.Normal(1.0)``: N(0, 1)),
    ``torch.zeros`` (``init.Zero()``) or ``torch.ones`` (``init.One()``);
    ``requires_grad=False`` becomes ``grad_req="null"``. In the class's other
    methods ``self.w`` becomes ``self.w.data()``.

    ## Why
    A Gluon ``Parameter`` is not an array: its value is ``data()``, created at
    ``initialize()`` from the parameter's own initializer (which wins over the
    one given to ``initialize``). Assigned to an attribute, the parameter is
    registered and collected before the children, as torch's own parameters
    come before its children's.

    ## Flags
    Any other initial value (``torch.rand``, a scaled ``randn``, a tensor
    built elsewhere, a ``dtype=``), a parameter created outside ``__init__``
    or inside a nested block, and uses of ``self.w`` that ``data()`` would
    change (``self.w.grad``, ``self.w.data``, assigning ``self.w``, reading
    it in ``__init__``) are reported and left as is.

    ## Fix safety
    Safe: same shape, same initial law, same gradient flag.
    """

    code = "T2G213"
    name = "parameter-attribute"
    summary = "self.w = nn.Parameter(torch.randn(...)) -> self.params.get('w', shape, init); self.w -> self.w.data()"
    examples = (
        Example(
            (
                "import torch\nfrom torch import nn\n\n\n"
                "class Affine(nn.Module):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.w = nn.Parameter(torch.randn(3, 4))\n"
                "        self.b = nn.Parameter(torch.zeros(4), requires_grad=False)\n\n"
                "    def forward(self, x):\n"
                "        return torch.mm(x, self.w) + self.b\n"
            ),
            (
                "from mxnet import gluon, init, nd\n\n\n"
                "class Affine(gluon.Block):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.w = self.params.get(\"w\", shape=(3, 4), init=init.Normal(1.0))\n"
                "        self.b = self.params.get(\"b\", shape=(4,), init=init.Zero(), grad_req=\"null\")\n\n"
                "    def forward(self, x):\n"
                "        return nd.dot(x, self.w.data()) + self.b.data()\n"
            ),
            id="randn and zeros parameters, used in forward",
        ),
        Example(
            (
                "import torch\nfrom torch import nn\n\n\n"
                "class Scale(nn.Module):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.s = nn.Parameter(torch.ones((2, 2)))\n"
                "        self.r = nn.Parameter(torch.rand(2))\n\n"
                "    def forward(self, x):\n"
                "        print(self.s.grad)\n"
                "        return x * self.s\n"
            ),
            (
                "from mxnet import gluon, init, nd\nfrom torch import nn\n\n\n"
                "class Scale(gluon.Block):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.s = self.params.get(\"s\", shape=(2, 2), init=init.One())\n"
                "        # torch2gluon: T2G211: `torch.nn.Parameter` is not translated yet (T2G213 translates only "
                "`self.x = nn.Parameter(torch.randn/zeros/ones(shape))` in a Block's `__init__`; "
                "use `self.params.get(...)` in Gluon); left as is\n"
                "        self.r = nn.Parameter(nd.random.uniform(shape=2))\n\n"
                "    def forward(self, x):\n"
                "        # torch2gluon: T2G213: `self.s.grad` reads an attribute of a torch parameter; "
                "a Gluon parameter's value is `self.s.data()`; left as is\n"
                "        print(self.s.grad)\n"
                "        return x * self.s.data()\n"
            ),
            diagnostics=("T2G211", "T2G213"),
            id="rand and grad access are flagged",
        ),
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._rewrite: Set[int] = set()
        self._bad: Dict[int, str] = {}

    def _plan(self, call: cst.Call) -> Optional[Tuple[cst.BaseExpression, str, Optional[cst.BaseExpression], bool]]:
        """(shape, initializer name, initializer argument, frozen) or None."""
        try:
            bound = bind(call, ["data", "requires_grad"])
        except Unbindable:
            return None
        rg = literal(bound.get("requires_grad", cst.Name("True")))
        if rg not in (True, False):
            return None
        data = bound.get("data")
        if not isinstance(data, cst.Call) or self.ctx.call_name(data) not in _PARAM_INITS:
            return None
        if not data.args or any(a.star or a.keyword for a in data.args):
            return None
        if len(data.args) == 1 and isinstance(data.args[0].value, (cst.Tuple, cst.List)):
            elems = data.args[0].value.elements
            if any(isinstance(e, cst.StarredElement) for e in elems):
                return None
            values = [e.value for e in elems]
        else:
            values = [a.value for a in data.args]
        if not values:
            return None
        shape = cst.Tuple(
            elements=[cst.Element(value=v) for v in values],
            lpar=[cst.LeftParen()],
            rpar=[cst.RightParen()],
        )
        name = _PARAM_INITS[self.ctx.call_name(data)]
        return shape, name, cst.Float("1.0") if name.endswith("Normal") else None, rg is False

    def scan(self, node: cst.ClassDef) -> Dict[str, object]:
        plans: Dict[str, object] = {}
        defining: Set[int] = set()
        for method in _methods(node):
            if method.name.value != "__init__":
                continue
            for stmt in method.body.body:
                hit = _self_assign(stmt)
                if hit is None:
                    continue
                attr, assign = hit
                call = assign.value
                if not (isinstance(call, cst.Call) and torch_nn_name(self.ctx.call_name(call), "Parameter")):
                    continue
                plan = self._plan(call)
                if plan is None or attr in plans:
                    continue  # T2G211 reports it
                self.ctx.handled.add(id(call))  # T2G211 leaves it to this rule
                plans[attr] = (id(stmt), plan)
                defining.add(id(assign.targets[0].target))
        if not plans:
            return plans
        # every other use of self.<param> in the class: rewrite or flag
        stack: List[Tuple[cst.CSTNode, Optional[cst.CSTNode], bool]] = [(node.body, None, False)]
        while stack:
            n, parent, in_init = stack.pop()
            attr = _self_attr(n)
            if attr in plans and id(n) not in defining:
                if in_init:
                    self._bad[id(n)] = f"`self.{attr}` is read in `__init__`, before Gluon initialises it"
                elif isinstance(parent, cst.Attribute) and parent.value is n:
                    self._bad[id(n)] = (
                        f"`self.{attr}.{parent.attr.value}` reads an attribute of a torch parameter; "
                        f"a Gluon parameter's value is `self.{attr}.data()`"
                    )
                elif isinstance(parent, (cst.AssignTarget, cst.AugAssign, cst.AnnAssign, cst.Del)) and (
                    getattr(parent, "target", None) is n
                ):
                    self._bad[id(n)] = f"`self.{attr}` is reassigned; a Gluon parameter is set with `set_data`"
                else:
                    self._rewrite.add(id(n))
                continue
            if isinstance(n, cst.FunctionDef) and parent is node.body:  # a method
                in_init = n.name.value == "__init__"
            for c in children(n):
                stack.append((c, n, in_init))
        return plans

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute):
        key = id(original)
        if key in self._bad:
            self.report(original, self._bad.pop(key) + "; left as is")
            return None
        if key in self._rewrite:
            return cst.Call(func=cst.Attribute(value=updated, attr=cst.Name("data")))
        return None

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        cur = self.current
        if not cur:
            return None
        hit = _self_assign(original)
        if hit is None or hit[0] not in cur or cur[hit[0]][0] != id(original):
            return None
        attr = hit[0]
        shape, init_name, init_arg, frozen = cur[attr][1]
        init = self.ctx.call(init_name, *([cst.Arg(init_arg)] if init_arg is not None else []))
        args = [
            cst.Arg(cst.SimpleString(f'"{attr}"')),
            _kw(shape, "shape"),
            _kw(init, "init"),
        ]
        if frozen:
            args.append(_kw(cst.SimpleString('"null"'), "grad_req"))
        get = cst.Call(func=cst.parse_expression("self.params.get"), args=args)
        return updated.with_changes(body=[updated.body[0].with_changes(value=get)])


def _kw(value: cst.BaseExpression, keyword: str) -> cst.Arg:
    from ..base.syntax import arg

    return arg(value, keyword)


# -- what the attributes of models and layers hold ------------------------------

# torch layer class -> {torch parameter (or buffer) attribute: Gluon parameter attribute};
# the Gluon parameter has torch's layout (checked in tests/test_numeric_modules.py)
_SAME = {"weight": "weight", "bias": "bias"}
LAYER_PARAMETERS: Dict[str, Dict[str, str]] = {
    "Linear": _SAME,
    "LazyLinear": _SAME,
    "Conv1d": _SAME,
    "Conv2d": _SAME,
    "ConvTranspose1d": _SAME,
    "ConvTranspose2d": _SAME,
    "Embedding": {"weight": "weight"},
    "BatchNorm1d": {"weight": "gamma", "bias": "beta", "running_mean": "running_mean", "running_var": "running_var"},
    "BatchNorm2d": {"weight": "gamma", "bias": "beta", "running_mean": "running_mean", "running_var": "running_var"},
    "LayerNorm": {"weight": "gamma", "bias": "beta"},
}
PARAMETER = "Parameter"  # an attribute set to nn.Parameter(...) (T2G213)
_UNWRAP = ("to", "cuda", "cpu", "float", "double", "train", "eval")


def _value_kind(ctx, value: cst.BaseExpression, classes: Set[str]) -> Optional[str]:
    """What a constructor call builds: a torch.nn class name, or ``class:<Name>``."""
    # `Net().to(device)`, `nn.Linear(2, 1).cuda()`: the same object
    while (
        isinstance(value, cst.Call)
        and isinstance(value.func, cst.Attribute)
        and value.func.attr.value in _UNWRAP
        and ctx.call_name(value) is None
    ):
        value = value.func.value
    if not isinstance(value, cst.Call):
        return None
    if isinstance(value.func, cst.Name) and value.func.value in classes:
        return "class:" + value.func.value
    name = ctx.call_name(value)
    if name and name.startswith("torch.nn.") and name.count(".") == 2 and name[9:10].isupper():
        return name[9:]
    return None


def model_structure(ctx, module: cst.Module) -> Tuple[Dict[str, Dict[str, str]], Dict[str, str]]:
    """(class -> {attribute -> kind}, variable -> kind) for the whole module.

    A kind is a torch.nn class name (``"Linear"``), ``"Parameter"`` or
    ``"class:<Name>"`` of a class deriving from ``nn.Module``. Members are the
    ``self.x = <constructor>(...)`` statements of ``__init__`` (a base class's
    included); variables are names assigned a constructor call. A name or
    attribute assigned two different kinds is left out.
    """
    cached = ctx.memo.get("model_structure")
    if cached is not None:
        return cached  # type: ignore[return-value]
    classes = module_classes(ctx, module)
    own: Dict[str, Dict[str, str]] = {}
    bases: Dict[str, List[str]] = {}
    conflict = object()
    # (class or "", attribute or variable) -> kinds of the items of a Sequential/ModuleList
    items: Dict[Tuple[str, str], object] = {}
    ctx.memo["container_items"] = items
    for d in _class_defs(module):
        if d.name.value not in classes:
            continue
        found: Dict[str, object] = {}
        for method in _methods(d):
            if method.name.value != "__init__":
                continue
            for n in _statements(method.body):
                hit = _self_assign(n)
                if hit is None:
                    continue
                kind = _value_kind(ctx, hit[1].value, classes)
                if kind is None or found.get(hit[0], kind) != kind:
                    found[hit[0]] = conflict
                else:
                    found[hit[0]] = kind
                    _remember_items(ctx, items, (d.name.value, hit[0]), hit[1].value, classes)
        own[d.name.value] = {k: v for k, v in found.items() if v is not conflict}  # type: ignore[misc]
        bases[d.name.value] = [b.value.value for b in d.bases if isinstance(b.value, cst.Name) and b.value.value in classes]
    members: Dict[str, Dict[str, str]] = {}

    def collect(name: str, seen: Set[str]) -> Dict[str, str]:
        if name in members:
            return members[name]
        out: Dict[str, str] = {}
        for b in bases.get(name, ()):
            if b not in seen:
                out.update(collect(b, seen | {name}))
        out.update(own.get(name, {}))
        members[name] = out
        return out

    for name in own:
        collect(name, set())
    variables: Dict[str, object] = {}
    for n in _statements(module):
        if not (isinstance(n, cst.SimpleStatementLine) and len(n.body) == 1 and isinstance(n.body[0], cst.Assign)):
            continue
        assign = n.body[0]
        for t in assign.targets:
            if not isinstance(t.target, cst.Name):
                continue
            kind = _value_kind(ctx, assign.value, classes)
            moved_self = (  # net = net.to(device) keeps what net is
                isinstance(assign.value, cst.Call)
                and isinstance(assign.value.func, cst.Attribute)
                and assign.value.func.attr.value in _UNWRAP
                and isinstance(assign.value.func.value, cst.Name)
                and assign.value.func.value.value == t.target.value
            )
            if moved_self:
                continue
            key = t.target.value
            if kind is None or variables.get(key, kind) != kind:
                variables[key] = conflict
            else:
                variables[key] = kind
                _remember_items(ctx, items, ("", key), assign.value, classes)
    result = (members, {k: v for k, v in variables.items() if v is not conflict})
    ctx.memo["model_structure"] = result
    return result  # type: ignore[return-value]


def _remember_items(ctx, items: Dict[Tuple[str, str], object], key: Tuple[str, str], value, classes) -> None:
    """The item kinds of ``nn.Sequential(a, b)`` / ``nn.ModuleList([a, b])``; None if not all known."""
    kind = _value_kind(ctx, value, classes)
    if kind not in ("Sequential", "ModuleList") or not isinstance(value, cst.Call):
        return
    if kind == "Sequential":
        elements = [a.value for a in value.args if not a.star and a.keyword is None]
        if len(elements) != len(value.args):
            elements = None
    else:
        arg0 = value.args[0].value if len(value.args) == 1 and not value.args[0].keyword else None
        elements = [e.value for e in arg0.elements] if isinstance(arg0, (cst.List, cst.Tuple)) else None
        if elements is not None and any(isinstance(e, cst.StarredElement) for e in arg0.elements):  # type: ignore[union-attr]
            elements = None
    found = tuple(_value_kind(ctx, e, classes) for e in elements) if elements is not None else None
    if key in items and items[key] != found:
        found = None  # assigned twice, differently
    items[key] = found


def _item_kind(ctx, node: cst.Subscript, current_class: Optional[str]) -> Optional[str]:
    """``net[0]`` of a known ``nn.Sequential(...)`` (or ModuleList), for a literal index."""
    if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
        return None
    index = literal(node.slice[0].slice.value)
    if not isinstance(index, int) or isinstance(index, bool):
        return None
    value = node.value
    key: Optional[Tuple[str, str]] = None
    if isinstance(value, cst.Name) and kind_of(ctx, value, current_class) in ("Sequential", "ModuleList"):
        key = ("", value.value)
    elif isinstance(value, cst.Attribute) and kind_of(ctx, value, current_class) in ("Sequential", "ModuleList"):
        owner = kind_of(ctx, value.value, current_class)
        if owner is not None and owner.startswith("class:"):
            key = _member_owner(ctx, owner[6:], value.attr.value)
    if key is None:
        return None
    kinds = ctx.memo.get("container_items", {}).get(key)
    if not kinds or not -len(kinds) <= index < len(kinds):
        return None
    return kinds[index]


def _member_owner(ctx, cls: str, attr: str) -> Optional[Tuple[str, str]]:
    """The (class, attribute) key under which ``cls`` (or a base class) assigned ``attr``."""
    items = ctx.memo.get("container_items", {})
    if (cls, attr) in items:
        return (cls, attr)
    # inherited: any class whose key holds the attribute (only if unique)
    keys = [k for k in items if k[1] == attr and k[0]]
    return keys[0] if len(keys) == 1 else None


def _statements(node: cst.CSTNode):
    """Every simple statement line under ``node``, in any block."""
    stack: List[cst.CSTNode] = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.SimpleStatementLine):
            yield n
            continue
        if isinstance(n, cst.BaseExpression):
            continue
        stack.extend(reversed([c for c in children(n) if not isinstance(c, cst.BaseExpression)]))


def kind_of(ctx, node: cst.BaseExpression, current_class: Optional[str] = None) -> Optional[str]:
    """What an (original) expression holds: ``net``, ``self.fc``, ``model.features``...

    ``current_class`` is the translated ``Module`` class whose method holds
    ``node`` (so ``self`` is one of its instances).
    """
    structure = ctx.memo.get("model_structure")
    if structure is None:
        return None
    members, variables = structure  # type: ignore[misc]
    if isinstance(node, cst.Name):
        if node.value == "self" and current_class is not None:
            return "class:" + current_class
        kind = variables.get(node.value)
        if kind is not None and _is_parameter_name(ctx, node):
            return None  # `def f(net): net.weight`: not the module-level `net`
        return kind
    if isinstance(node, cst.Attribute):
        owner = kind_of(ctx, node.value, current_class)
        if owner is not None and owner.startswith("class:"):
            return members.get(owner[6:], {}).get(node.attr.value)
    if isinstance(node, cst.Subscript):
        return _item_kind(ctx, node, current_class)
    return None


def _is_parameter_name(ctx, node: cst.Name) -> bool:
    """``node`` is (may be) a function's parameter of that name."""
    return ctx.names.is_parameter_name(node)
    scope = None
    if scope is None:
        return False
    try:
        assignments = scope[node.value]
    except Exception:  # pragma: no cover - libcst lookups
        return False
    return any(isinstance(getattr(a, "node", None), cst.Param) for a in assignments)


def parameter_of(ctx, node: cst.BaseExpression, current_class: Optional[str] = None) -> Optional[str]:
    """The Gluon attribute of the parameter an (original) ``X.weight`` names, or ``None``."""
    if not isinstance(node, cst.Attribute):
        return None
    kind = kind_of(ctx, node, current_class)
    if kind == PARAMETER:
        # `self.w` in its own class is T2G213's
        own = isinstance(node.value, cst.Name) and node.value.value == "self"
        return None if own else node.attr.value
    owner = kind_of(ctx, node.value, current_class)
    if owner is None:
        return None
    return LAYER_PARAMETERS.get(owner, {}).get(node.attr.value)


def _tensor_nodes(ctx) -> Set[int]:
    """Ids of original nodes T2G214 turns into NDArrays (``net.weight``, ``net.weight.data``),
    for rules that ask whether a receiver is a tensor."""
    return ctx.memo.setdefault("tensor_nodes", set())  # type: ignore[return-value]


# what stays a tensor when applied to a parameter's value (`w.detach()`)
_TENSOR_KEEPING = ("detach", "clone", "contiguous")
# methods of a torch tensor with a Gluon twin on a parameter's value
_VALUE_METHODS = {"item": ("asscalar", "item"), "tolist": ("asnumpy", "tolist"), "numpy": ("asnumpy",)}


class ParameterAccess(Rule):
    """``net.weight`` of a layer (or ``model.fc.weight``) becomes the Gluon parameter's value.

    ## What it does
    Where ``net`` is known to hold a torch layer (``net = nn.Linear(2, 1)``),
    or an attribute assigned a layer in the ``__init__`` of a translated
    ``Module`` class (``model.fc``, ``self.fc``, ``model.features`` when
    ``model = Net()``), a parameter read through it becomes the Gluon
    parameter's ``data()``, with Gluon's name for it:

    ==============================  ======================================
    torch                           Gluon
    ==============================  ======================================
    ``net.weight``                  ``net.weight.data()``
    ``net.weight.data``             ``net.weight.data()``
    ``net.weight.grad``             ``net.weight.grad()``
    ``bn.weight`` / ``bn.bias``     ``bn.gamma.data()`` / ``bn.beta.data()``
    ``bn.running_mean``             ``bn.running_mean.data()``
    ``<value>.item()``              ``<value>.asscalar().item()``
    ``<value>.numpy()``/``tolist``  ``<value>.asnumpy()``/``.asnumpy().tolist()``
    ==============================  ======================================

    for Linear, Conv1d/2d, ConvTranspose1d/2d, Embedding, BatchNorm1d/2d and
    LayerNorm, and ``model.w`` for a parameter made by T2G213. A submodule
    attribute (``model.features``) is itself a Gluon block, so
    ``model.features.parameters()`` in an optimizer becomes
    ``model.features.collect_params()`` (T2G401).

    ## Why
    A Gluon layer's parameters are ``Parameter`` objects, not arrays: the
    value is ``data()``, the gradient ``grad()``. Gluon's weights have torch's
    layout for these layers (Dense ``(out, in)``, Conv ``(out, in/groups,
    *k)``, transposed conv ``(in, out/groups, *k)``), so the numbers read are
    the same.

    ## Flags
    Assigning a parameter or its ``.data`` (``net.weight.data = t``), an
    in-place method on its value (``net.weight.data.copy_(t)``, except the
    init idioms T2G231 translates), ``requires_grad``, and reading a parameter in ``__init__`` (it does not
    exist before ``initialize()``, unless T2G230 folds an ``nn.init`` call)
    are reported and left as is.

    ## Fix safety
    Safe: the same numbers; ``grad()`` is zeros where torch's ``.grad`` is
    still ``None`` (before the first backward).
    """

    code = "T2G214"
    name = "parameter-access"
    summary = "net.weight / model.fc.bias.data / .grad -> net.weight.data() / model.fc.bias.data() / .grad()"
    examples = (
        Example(
            (
                "from torch import nn\n"
                "net = nn.Linear(2, 1)\n"
                "print(net.weight.data.numpy(), net.bias.data.item(), net.weight.grad)\n"
            ),
            (
                "from mxnet import init\nfrom mxnet.gluon import nn\n\n"
                "net = nn.Dense(\n    1,\n    in_units=2,\n    flatten=False,\n"
                "    weight_initializer=init.Uniform(2**-0.5),\n    bias_initializer=init.Uniform(2**-0.5),\n)\n"
                "net.initialize()\n"
                "print(net.weight.data().asnumpy(), net.bias.data().asscalar().item(), net.weight.grad())\n"
            ),
            id="a layer's parameters",
        ),
        Example(
            (
                "import torch\nfrom torch import nn\n\n\n"
                "class Net(nn.Module):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.bn = nn.BatchNorm1d(4)\n"
                "        self.fc = nn.Linear(4, 4)\n\n"
                "    def forward(self, x):\n"
                "        return self.fc(self.bn(x)) - self.fc.bias\n\n\n"
                "model = Net()\n"
                "g = model.bn.weight.detach().tolist()\n"
                "m = model.bn.running_mean\n"
            ),
            (
                "from mxnet import gluon, init\nfrom mxnet.gluon import nn\n\n\n"
                "class Net(gluon.Block):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        # torch2gluon: T2G205: MXNet's running_var is the biased batch variance (torch: unbiased); "
                "evaluation with running statistics differs slightly\n"
                "        self.bn = nn.BatchNorm(momentum=0.9, in_channels=4)\n"
                "        self.fc = nn.Dense(\n"
                "            4,\n"
                "            in_units=4,\n"
                "            flatten=False,\n"
                "            weight_initializer=init.Uniform(4**-0.5),\n"
                "            bias_initializer=init.Uniform(4**-0.5),\n"
                "        )\n\n"
                "    def forward(self, x):\n"
                "        return self.fc(self.bn(x)) - self.fc.bias.data()\n\n\n"
                "model = Net()\n"
                "model.initialize()\n"
                "g = model.bn.gamma.data().detach().asnumpy().tolist()\n"
                "m = model.bn.running_mean.data()\n"
            ),
            diagnostics=("T2G205",),
            id="submodule parameters, BatchNorm's gamma",
        ),
        Example(
            (
                "from torch import nn\n"
                "net = nn.Linear(2, 1)\n"
                "net.weight.data = net.weight.data * 2\n"
                "net.bias.requires_grad = False\n"
            ),
            (
                "from mxnet import init\nfrom mxnet.gluon import nn\n\n"
                "net = nn.Dense(\n    1,\n    in_units=2,\n    flatten=False,\n"
                "    weight_initializer=init.Uniform(2**-0.5),\n    bias_initializer=init.Uniform(2**-0.5),\n)\n"
                "net.initialize()\n"
                "# torch2gluon: T2G214: `net.weight.data` is assigned; a Gluon parameter is set with "
                "`net.weight.set_data(value)`; left as is\n"
                "net.weight.data = net.weight.data() * 2\n"
                "# torch2gluon: T2G214: `net.bias.requires_grad` has no Gluon twin (a frozen Gluon parameter has "
                "`grad_req = \"null\"`); left as is\n"
                "net.bias.requires_grad = False\n"
            ),
            diagnostics=("T2G214", "T2G214"),
            id="assignments and requires_grad are flagged",
        ),
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.classes: Set[str] = set()
        self._class: List[Optional[str]] = []
        self._method: List[str] = []
        self._targets: Set[int] = set()
        self._bad: Dict[int, str] = {}
        self._inner: Set[int] = set()  # parameters read through `.data`/`.grad`
        self._values: Set[int] = set()  # original nodes whose value is a parameter's array

    def visit_Module(self, node: cst.Module) -> None:
        self.classes = module_classes(self.ctx, node)
        model_structure(self.ctx, node)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._class.append(node.name.value if node.name.value in self.classes else None)

    def leave_ClassDef(self, original, updated) -> None:
        self._class.pop()
        return None

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._method.append(node.name.value)

    def leave_FunctionDef(self, original, updated) -> None:
        self._method.pop()
        return None

    @property
    def _current(self) -> Optional[str]:
        return self._class[-1] if self._class else None

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._targets.add(id(node.target))

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._targets.add(id(node.target))

    def visit_Attribute(self, node: cst.Attribute) -> None:
        value = node.value
        gluon = parameter_of(self.ctx, node, self._current)
        if gluon is not None:
            where = code_of(node)
            if id(node) in self._targets:
                self._bad[id(node)] = f"`{where}` is assigned; a Gluon parameter is set with `set_data`"
            elif self._current is not None and self._method[-1:] == ["__init__"]:
                self._bad[id(node)] = f"`{where}` is read in `__init__`, before Gluon initialises it"
            elif id(node) not in self._inner:
                _tensor_nodes(self.ctx).add(id(node))  # its translation is an NDArray
            return
        if parameter_of(self.ctx, value, self._current) is None:
            return
        where = code_of(node)
        attr = node.attr.value
        if attr in ("data", "grad"):
            self._inner.add(id(value))
            if id(node) in self._targets:
                self._bad[id(node)] = (
                    f"`{where}` is assigned; a Gluon parameter is set with `{code_of(value)}.set_data(value)`"
                )
            else:
                self._values.add(id(node))
                _tensor_nodes(self.ctx).add(id(node))
        elif attr == "requires_grad":
            self._inner.add(id(value))
            self._bad[id(node)] = (
                f"`{where}` has no Gluon twin (a frozen Gluon parameter has `grad_req = \"null\"`)"
            )

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute):
        key = id(original)
        if key in self.ctx.handled:
            return None  # an nn.init call folded (or reported) by T2G230
        if key in self._bad:
            self.report(original, self._bad.pop(key) + "; left as is")
            self.ctx.handled.add(key)
            return None
        if key in self._values:  # X.weight.data / X.weight.grad
            return cst.Call(func=updated)
        gluon = parameter_of(self.ctx, original, self._current)
        if gluon is None:
            return None
        self.ctx.handled.add(key)  # T2G002 leaves `net.weight` alone
        renamed = updated.with_changes(attr=cst.Name(gluon)) if gluon != original.attr.value else updated
        if key in self._inner:
            return renamed
        self._values.add(key)
        return cst.Call(func=cst.Attribute(value=renamed, attr=cst.Name("data")))

    def _is_value(self, node: cst.BaseExpression) -> bool:
        if id(node) in self._values:
            return True
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and not node.args:
            return node.func.attr.value in _TENSOR_KEEPING and self._is_value(node.func.value)
        return False

    def leave_Call(self, original: cst.Call, updated: cst.Call):
        func = original.func
        if not (isinstance(func, cst.Attribute) and self._is_value(func.value)):
            return None
        if func.attr.value.endswith("_") and id(original) not in self.ctx.handled:
            self.ctx.handled.add(id(original))
            return self.keep(
                original,
                code_of(func),
                "changes a parameter in place; a Gluon parameter is set with `set_data` "
                "(T2G231 translates the init idioms `normal_`/`uniform_`/`zero_`/`fill_`)",
            )
        if original.args:
            return None
        if func.attr.value in _TENSOR_KEEPING:
            self._values.add(id(original))
            return None
        chain = _VALUE_METHODS.get(func.attr.value)
        new_func = updated.func
        if chain is None or not isinstance(new_func, cst.Attribute) or new_func.attr.value != func.attr.value:
            return None  # another rule translated it already
        inner = new_func.value
        if isinstance(inner, cst.Call) and isinstance(inner.func, cst.Attribute) and inner.func.attr.value in ("asnumpy", "asscalar"):
            return None  # T2G102 already made it `.asnumpy().tolist()`
        self.ctx.handled.add(id(original))  # T2G301 leaves `.item()` alone
        out: cst.BaseExpression = new_func.value
        for m in chain:
            out = cst.Call(func=cst.Attribute(value=out, attr=cst.Name(m)))
        return out


class ModuleDictAndAddModule(_ClassRule):
    """``self.x = nn.ModuleDict({...})`` and ``self.add_module(name, m)`` register Gluon children.

    ## What it does
    In the ``__init__`` of a class translated by T2G210,
    ``self.heads = nn.ModuleDict({"a": layer_a, "b": layer_b})`` (a dict
    literal with string keys) becomes a plain dict and one
    ``register_child`` per entry::

        self.heads = {"a": layer_a, "b": layer_b}
        self.register_child(self.heads["a"], "heads.a")
        self.register_child(self.heads["b"], "heads.b")

    and, in any method of such a class, ``self.add_module(name, module)`` (or
    ``register_module``) becomes ``setattr(self, name, module)``.

    ## Why
    Gluon 1.9 has no dict container. A block registered with
    ``register_child(block, "heads.a")`` is collected, initialised and saved
    with its parent under torch's structural key (``heads.a.weight``), in
    registration order; the dict keeps ``self.heads["a"]``, ``items()``,
    ``keys()``, ``len`` and iteration working as on a ``ModuleDict``. A
    ``Block`` registers a block assigned to an attribute under the
    attribute's name, so ``setattr`` is ``add_module``.

    ## Flags
    A ``ModuleDict`` built from anything but a dict literal with string keys,
    or changed later (``self.heads["c"] = ...``, ``update``, ``pop``), stays
    reported (T2G211 for the constructor, this rule for the changes).

    ## Fix safety
    Safe: the same blocks are registered in the same order under the same keys.
    """

    code = "T2G215"
    name = "module-dict"
    summary = "self.x = nn.ModuleDict({...}) -> dict + register_child; self.add_module(n, m) -> setattr(self, n, m)"
    examples = (
        Example(
            (
                "from torch import nn\n\n\n"
                "class Net(nn.Module):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.heads = nn.ModuleDict({'a': nn.ReLU(), 'b': nn.Tanh()})\n"
                "        self.add_module('act', nn.ReLU())\n\n"
                "    def forward(self, x, key):\n"
                "        return self.act(self.heads[key](x))\n"
            ),
            (
                "from mxnet import gluon\n"
                "from mxnet.gluon import nn\n\n\n"
                "class Net(gluon.Block):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.heads = {\"a\": nn.Activation(\"relu\"), \"b\": nn.Activation(\"tanh\")}\n"
                "        self.register_child(self.heads[\"a\"], \"heads.a\")\n"
                "        self.register_child(self.heads[\"b\"], \"heads.b\")\n"
                "        setattr(self, \"act\", nn.Activation(\"relu\"))\n\n"
                "    def forward(self, x, key):\n"
                "        return self.act(self.heads[key](x))\n"
            ),
            id="module dict literal and add_module",
        ),
        Example(
            (
                "from torch import nn\n\n\n"
                "class Net(nn.Module):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.heads = nn.ModuleDict({'a': nn.ReLU()})\n"
                "        self.heads['b'] = nn.Tanh()\n"
            ),
            (
                "from mxnet import gluon\n"
                "from mxnet.gluon import nn\n\n\n"
                "class Net(gluon.Block):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.heads = {\"a\": nn.Activation(\"relu\")}\n"
                "        self.register_child(self.heads[\"a\"], \"heads.a\")\n"
                "        # torch2gluon: T2G215: `self.heads` (a ModuleDict) is changed after it is built; "
                "the Gluon dict would not register the block; left as is\n"
                "        self.heads[\"b\"] = nn.Activation(\"tanh\")\n"
            ),
            diagnostics=("T2G215",),
            id="a module dict changed later is flagged",
        ),
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._changes: Dict[int, str] = {}

    def scan(self, node: cst.ClassDef) -> Dict[str, object]:
        found: Dict[str, object] = {}
        for method in _methods(node):
            for stmt in _statements(method.body):
                hit = _self_assign(stmt)
                if hit is None:
                    continue
                attr, assign = hit
                call = assign.value
                if method.name.value != "__init__" or not (
                    isinstance(call, cst.Call) and torch_nn_name(self.ctx.call_name(call), "ModuleDict")
                ):
                    continue
                try:
                    b = bind(call, ["modules"])
                except Unbindable:
                    continue
                d = b.get("modules")
                keys = []
                if isinstance(d, cst.Dict):
                    for e in d.elements:
                        key = literal(e.key) if isinstance(e, cst.DictElement) else None
                        if not isinstance(key, str) or not key.isidentifier():
                            keys = None
                            break
                        keys.append(key)
                elif d is not None:
                    keys = None
                if keys is None or len(set(keys)) != len(keys) or attr in found:
                    continue
                self.ctx.handled.add(id(call))
                found[attr] = (id(stmt), keys)
        # later changes of a translated dict: not registered in Gluon
        for n in _walk_all(node.body):
            target = None
            if isinstance(n, (cst.AssignTarget, cst.AugAssign)):
                target = n.target
            elif isinstance(n, cst.Del):
                target = n.target
            if isinstance(target, cst.Subscript) and _self_attr(target.value) in found:
                self._changes[id(n)] = _self_attr(target.value)  # type: ignore[assignment]
            if (
                isinstance(n, cst.Call)
                and isinstance(n.func, cst.Attribute)
                and _self_attr(n.func.value) in found
                and n.func.attr.value in ("update", "pop", "clear", "setdefault", "popitem")
            ):
                self._changes[id(n)] = _self_attr(n.func.value)  # type: ignore[assignment]
        return found

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if (
            self._stack
            and self._stack[-1] is not None
            and isinstance(func, cst.Attribute)
            and func.attr.value in ("add_module", "register_module")
            and _self_attr(func) is not None
        ):
            try:
                b = bind(node, ["name", "module"])
            except Unbindable:
                return
            if len(b) == 2:
                self.ctx.handled.add(id(func))  # T2G211 leaves it to this rule
                self.ctx.handled.add(id(node))

    def _report_change(self, original: cst.CSTNode) -> None:
        attr = self._changes.pop(id(original), None)
        if attr is not None:
            self.report(
                original,
                f"`self.{attr}` (a ModuleDict) is changed after it is built; the Gluon dict would not register "
                "the block; left as is",
            )

    def leave_AssignTarget(self, original, updated):
        self._report_change(original)
        return None

    def leave_AugAssign(self, original, updated):
        self._report_change(original)
        return None

    def leave_Del(self, original, updated):
        self._report_change(original)
        return None

    def leave_Call(self, original: cst.Call, updated: cst.Call):
        self._report_change(original)
        func = original.func
        if id(original) in self.ctx.handled and isinstance(func, cst.Attribute) and func.attr.value in (
            "add_module",
            "register_module",
        ) and id(func) in self.ctx.handled:
            b = bind(updated, ["name", "module"])
            return cst.Call(
                func=cst.Name("setattr"),
                args=[cst.Arg(cst.Name("self")), cst.Arg(b["name"]), cst.Arg(b["module"])],
            )
        return None

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        cur = self.current
        if not cur:
            return None
        hit = _self_assign(original)
        if hit is None or hit[0] not in cur or cur[hit[0]][0] != id(original):  # type: ignore[index]
            return None
        attr, keys = hit[0], cur[hit[0]][1]  # type: ignore[index]
        call = updated.body[0].value  # type: ignore[union-attr]
        value = call.args[0].value if call.args else cst.Dict(elements=[])
        first = updated.with_changes(body=[updated.body[0].with_changes(value=value)])  # type: ignore[union-attr]
        out: List[cst.BaseStatement] = [first]
        for key in keys:
            item = cst.parse_expression(f'self.{attr}["{key}"]')
            register = cst.Call(
                func=cst.parse_expression("self.register_child"),
                args=[cst.Arg(item), cst.Arg(cst.SimpleString(f'"{attr}.{key}"'))],
            )
            out.append(_line(register))
        return out if len(out) > 1 else first


def _walk_all(node: cst.CSTNode):
    stack: List[cst.CSTNode] = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(children(n))
