"""``torch.nn.init.*_`` on a layer's weight or bias becomes that layer's initializer."""

from __future__ import annotations

import math
import re
from typing import Dict, List, Optional, Tuple, Union, cast

import libcst as cst

from ..base.syntax import arg
from ..base.syntax import children
from ..facts.nn import LAYER_PARAMETERS
from ..rewrite.models import layer_kind
from ._base import Example, Rule, Unbindable, bind, code_of, literal

# torch.nn.init function -> its parameters after the tensor
_SIGNATURES: Dict[str, Tuple[str, ...]] = {
    "normal_": ("tensor", "mean", "std", "generator"),
    "uniform_": ("tensor", "a", "b", "generator"),
    "zeros_": ("tensor",),
    "ones_": ("tensor",),
    "constant_": ("tensor", "val"),
    "xavier_uniform_": ("tensor", "gain", "generator"),
    "xavier_normal_": ("tensor", "gain", "generator"),
    "kaiming_uniform_": ("tensor", "a", "mode", "nonlinearity", "generator"),
    "kaiming_normal_": ("tensor", "a", "mode", "nonlinearity", "generator"),
}
# Gluon layers whose parameters have torch's layout (Dense/Conv (out, in, *kernel),
# transposed Conv (in, out, *kernel), Embedding (num, dim)), so MXNet's fans are
# torch's -> the constructor keyword that sets each torch parameter's initializer
_PLAIN = {"weight": "weight_initializer", "bias": "bias_initializer"}
_NORM = {"weight": "gamma_initializer", "bias": "beta_initializer"}
_LAYERS: Dict[str, Dict[str, str]] = {
    "Dense": _PLAIN,
    "Conv1D": _PLAIN,
    "Conv2D": _PLAIN,
    "Conv3D": _PLAIN,
    "Conv1DTranspose": _PLAIN,
    "Conv2DTranspose": _PLAIN,
    "Embedding": {"weight": "weight_initializer"},
    "BatchNorm": _NORM,
    "LayerNorm": _NORM,
}
_LINEAR_GAINS = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "sigmoid")


class NotExact(Exception):
    """Why a call cannot be translated exactly."""


def _number(node: Optional[cst.BaseExpression]) -> float:
    """A numeric constant: a literal, ``math.sqrt(c)`` or arithmetic of those."""
    value = literal(node)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(node, cst.BinaryOperation):
        a, b = _number(node.left), _number(node.right)
        op = type(node.operator)
        ops = {cst.Add: a + b, cst.Subtract: a - b, cst.Multiply: a * b, cst.Power: None, cst.Divide: None}
        if op is cst.Power:
            return a**b
        if op is cst.Divide and b != 0:
            return a / b
        result = ops.get(op)
        if result is not None:
            return result
    if (
        isinstance(node, cst.Call)
        and code_of(node.func) == "math.sqrt"
        and len(node.args) == 1
        and not node.args[0].keyword
        and not node.args[0].star
    ):
        return math.sqrt(_number(node.args[0].value))
    raise NotExact("its numeric arguments are not constants")


def _gain_squared(nonlinearity, param: Optional[float]) -> float:
    """torch.nn.init.calculate_gain(nonlinearity, param) ** 2."""
    if nonlinearity in _LINEAR_GAINS:
        return 1.0
    if nonlinearity == "tanh":
        return 25.0 / 9.0
    if nonlinearity == "relu":
        return 2.0
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return 2.0 / (1.0 + slope**2)
    if nonlinearity == "selu":
        return 9.0 / 16.0
    raise NotExact(f"the nonlinearity {nonlinearity!r} is not a literal torch knows")


def _tidy(x: float) -> cst.BaseExpression:
    x = float(f"{x:.15g}")
    if x < 0:
        return cst.UnaryOperation(operator=cst.Minus(), expression=cst.Float(repr(-x)))
    return cst.Float(repr(x))


class InitCalls(Rule):
    """``nn.init.xavier_uniform_(self.fc.weight)`` becomes ``weight_initializer=`` of ``self.fc``.

    ## What it does
    A statement ``nn.init.<fn>_(<layer>.weight, ...)`` (or ``.bias``), where
    ``<layer>`` (a name or ``self.name``) was built from ``nn.Linear``,
    ``nn.Conv1d/2d/3d``, ``nn.ConvTranspose1d/2d``, ``nn.Embedding`` (weight),
    ``nn.BatchNorm1d/2d`` or ``nn.LayerNorm`` (weight and bias: Gluon's
    ``gamma``/``beta``) earlier in the same block with nothing in between
    using it, is removed and the layer's constructor gets the initializer
    that draws from the same law:

    ================================  =====================================================
    torch                             MXNet initializer
    ================================  =====================================================
    ``zeros_`` / ``ones_``            ``init.Zero()`` / ``init.One()``
    ``constant_(val)``                ``init.Constant(val)``
    ``normal_(0, std)``               ``init.Normal(std)``
    ``uniform_(-a, a)``               ``init.Uniform(a)``
    ``xavier_uniform_(gain=g)``       ``Xavier("uniform", "avg", magnitude=3 g²)``
    ``xavier_normal_(gain=g)``        ``Xavier("gaussian", "avg", magnitude=g²)``
    ``kaiming_uniform_(a, mode, nl)`` ``Xavier("uniform", "in"|"out", magnitude=3 gain²)``
    ``kaiming_normal_(a, mode, nl)``  ``Xavier("gaussian", "in"|"out", magnitude=gain²)``
    ================================  =====================================================

    with ``gain² = calculate_gain(nl, a)²`` (``2 / (1 + a²)`` for
    ``leaky_relu``). ``gain``, ``a`` and ``std`` may be literals, ``math.sqrt``
    of them or ``nn.init.calculate_gain('<literal>'[, literal])``.

    ## Why
    Gluon creates a parameter's values at ``initialize()`` from its
    initializer; an initializer given to the constructor is the parameter's
    own and wins over the one passed to ``initialize``. MXNet's ``Xavier``
    draws ``U(-s, s)`` or ``N(0, s)`` with ``s = sqrt(magnitude / factor)``
    and the same fans as torch (``fan_in = shape[1] * prod(kernel)``), so
    ``magnitude = 3 g²`` over ``factor = (fan_in + fan_out) / 2`` gives
    torch's ``g * sqrt(6 / (fan_in + fan_out))``.

    ## Flags
    Every other ``nn.init`` statement is left as is with an error: a target
    that is not a ``weight``/``bias`` of such a layer built in the same block
    (in a function given to ``model.apply``, see T2G231), ``normal_`` with a
    mean other than 0, ``uniform_`` on a non-symmetric interval (MXNet's
    ``Uniform`` is symmetric), arguments that are not constants, a
    ``generator=``, ``trunc_normal_``, ``orthogonal_`` and the rest.

    ## Fix safety
    Safe: the same law for the same parameter; the random streams of the two
    frameworks differ anyway.
    """

    code = "T2G230"
    name = "init-calls"
    summary = "nn.init.*_(layer.weight/bias) -> the layer's weight_initializer/bias_initializer"
    examples = (
        Example(
            (
                "from torch import nn\n\n\n"
                "class Net(nn.Module):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.fc = nn.Linear(8, 4)\n"
                "        nn.init.xavier_uniform_(self.fc.weight, gain=nn.init.calculate_gain('relu'))\n"
                "        nn.init.zeros_(self.fc.bias)\n"
            ),
            (
                "from mxnet import gluon, init\n"
                "from mxnet.gluon import nn\n\n\n"
                "class Net(gluon.Block):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.fc = nn.Dense(\n"
                "            4,\n"
                "            in_units=8,\n"
                "            flatten=False,\n"
                "            weight_initializer=init.Xavier(\n"
                "                rnd_type=\"uniform\", factor_type=\"avg\", magnitude=6.0\n"
                "            ),\n"
                "            bias_initializer=init.Zero(),\n"
                "        )\n"
            ),
            id="xavier and zeros in __init__",
        ),
        Example(
            (
                "import math\nimport torch.nn as nn\n\n"
                "conv = nn.Conv2d(3, 8, 3)\n"
                "nn.init.kaiming_normal_(conv.weight, mode='fan_out', nonlinearity='relu')\n"
                "nn.init.constant_(conv.bias, 0.1)\n"
                "fc = nn.Linear(4, 2)\n"
                "nn.init.kaiming_uniform_(fc.weight, a=math.sqrt(5))\n"
                "nn.init.normal_(fc.bias, std=0.02)\n"
            ),
            (
                "import math\n"
                "from mxnet import init\n"
                "from mxnet.gluon import nn\n\n"
                "conv = nn.Conv2D(\n"
                "    8,\n"
                "    3,\n"
                "    in_channels=3,\n"
                "    weight_initializer=init.Xavier(\n"
                "        rnd_type=\"gaussian\", factor_type=\"out\", magnitude=2.0\n"
                "    ),\n"
                "    bias_initializer=init.Constant(0.1),\n"
                ")\n"
                "conv.initialize()\n"
                "fc = nn.Dense(\n"
                "    2,\n"
                "    in_units=4,\n"
                "    flatten=False,\n"
                "    weight_initializer=init.Xavier(rnd_type=\"uniform\", factor_type=\"in\", magnitude=1.0),\n"
                "    bias_initializer=init.Normal(0.02),\n"
                ")\n"
                "fc.initialize()\n"
            ),
            id="kaiming, constant, normal on module-level layers",
        ),
        Example(
            (
                "from torch import nn\n\n"
                "def init_weights(m):\n"
                "    if isinstance(m, nn.Linear):\n"
                "        nn.init.xavier_uniform_(m.weight)\n\n"
                "fc = nn.Linear(4, 2)\n"
                "nn.init.uniform_(fc.weight, 0.0, 1.0)\n"
            ),
            (
                "from torch import nn\n"
                "from mxnet import init\n"
                "from mxnet.gluon import nn as mx_nn\n\n\n"
                "def init_weights(m):\n"
                "    if isinstance(m, mx_nn.Dense):\n"
                "        # torch2gluon: T2G230: `torch.nn.init.xavier_uniform_` is only translated on the weight or "
                "bias of a Linear/Conv layer built earlier in the same block (`m` is not); left as is\n"
                "        nn.init.xavier_uniform_(m.weight)\n\n"
                "fc = mx_nn.Dense(\n"
                "    2,\n"
                "    in_units=4,\n"
                "    flatten=False,\n"
                "    weight_initializer=init.Uniform(4**-0.5),\n"
                "    bias_initializer=init.Uniform(4**-0.5),\n"
                ")\n"
                "fc.initialize()\n"
                "# torch2gluon: T2G230: `torch.nn.init.uniform_` is not translated exactly "
                "(MXNet's `Uniform` draws from a symmetric interval `(-a, a)`); left as is\n"
                "nn.init.uniform_(fc.weight, 0.0, 1.0)\n"
            ),
            diagnostics=("T2G230", "T2G230"),
            id="an init function not given to apply and a non-symmetric uniform are flagged",
        ),
    )

    # -- initializer for one call --------------------------------------------
    def _const(self, node: Optional[cst.BaseExpression]) -> float:
        if isinstance(node, cst.Call) and self.ctx.torch_name(node.func) == "torch.nn.init.calculate_gain":
            try:
                b = bind(node, ["nonlinearity", "param"])
            except Unbindable as e:
                raise NotExact(str(e))
            nl = literal(b.get("nonlinearity"))
            given = b.get("param")
            param = None if given is None or literal(given) is None else _number(given)
            return math.sqrt(_gain_squared(nl, param))
        return _number(node)

    def _initializer(self, fn: str, b: Dict[str, cst.BaseExpression]) -> cst.BaseExpression:
        if "generator" in b and literal(b["generator"]) is not None:
            raise NotExact("a `generator=` has no MXNet twin")
        ref = self.ctx.call
        if fn == "zeros_":
            return ref("mxnet.init.Zero")
        if fn == "ones_":
            return ref("mxnet.init.One")
        if fn == "constant_":
            if "val" not in b:
                raise NotExact("`val` is missing")
            return ref("mxnet.init.Constant", arg(b["val"]))
        if fn == "normal_":
            mean = self._const(b["mean"]) if "mean" in b else 0.0
            if mean != 0.0:
                raise NotExact("MXNet's `Normal` has mean 0")
            std = b.get("std", cst.Float("1.0"))
            self._const(std)  # a constant
            return ref("mxnet.init.Normal", arg(std))
        if fn == "uniform_":
            lo = self._const(b["a"]) if "a" in b else 0.0
            hi = self._const(b["b"]) if "b" in b else 1.0
            if lo != -hi or hi <= 0:
                raise NotExact("MXNet's `Uniform` draws from a symmetric interval `(-a, a)`")
            return ref("mxnet.init.Uniform", arg(b["b"]))
        if fn in ("xavier_uniform_", "xavier_normal_"):
            gain2 = self._const(b["gain"]) ** 2 if "gain" in b else 1.0
            uniform = fn == "xavier_uniform_"
            return self._xavier(uniform, "avg", 3 * gain2 if uniform else gain2)
        if fn in ("kaiming_uniform_", "kaiming_normal_"):
            a = self._const(b["a"]) if "a" in b else 0.0
            mode = literal(b["mode"]) if "mode" in b else "fan_in"
            if mode not in ("fan_in", "fan_out"):
                raise NotExact("`mode` is not the literal 'fan_in' or 'fan_out'")
            nl = literal(b["nonlinearity"]) if "nonlinearity" in b else "leaky_relu"
            gain2 = _gain_squared(nl, a)
            uniform = fn == "kaiming_uniform_"
            return self._xavier(uniform, mode[4:], 3 * gain2 if uniform else gain2)
        raise NotExact("it has no MXNet initializer")  # pragma: no cover

    def _xavier(self, uniform: bool, factor: str, magnitude: float) -> cst.BaseExpression:
        return self.ctx.call(
            "mxnet.init.Xavier",
            arg(cst.SimpleString('"uniform"' if uniform else '"gaussian"'), "rnd_type"),
            arg(cst.SimpleString(f'"{factor}"'), "factor_type"),
            arg(_tidy(magnitude), "magnitude"),
        )

    # -- statements -----------------------------------------------------------
    def _init_call(self, stmt: cst.BaseStatement) -> Optional[Tuple[cst.Call, str]]:
        if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
            return None
        expr = stmt.body[0]
        if not isinstance(expr, cst.Expr) or not isinstance(expr.value, cst.Call):
            return None
        name = self.ctx.torch_name(expr.value.func)
        if name and name.startswith("torch.nn.init."):
            return expr.value, name
        return None

    def _layer_call(self, stmt: cst.BaseStatement, target: str) -> Optional[cst.Call]:
        """The translated constructor in ``<target> = nn.Dense(...)``, if that is ``stmt``."""
        if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
            return None
        assign = stmt.body[0]
        if not isinstance(assign, cst.Assign) or len(assign.targets) != 1:
            return None
        if code_of(assign.targets[0].target) != target:
            return None
        call = assign.value
        if not (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute)):
            return None
        base = call.func.value
        generated = self.ctx.generated.get(base.value, []) if isinstance(base, cst.Name) else []
        if call.func.attr.value in _LAYERS and any(n is base for n in generated):
            return call
        return None

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        found = self._init_call(node)
        if found is not None:
            for a in found[0].args:
                if isinstance(a.value, cst.Attribute):
                    self.ctx.handled.add(id(a.value))  # this rule folds or reports it; T2G002 need not

    def leave_block(self, original_block, body: List[cst.BaseStatement]):
        if not any(self._init_call(s) for s in body):
            return None
        out: List[cst.BaseStatement] = []
        changed = False
        for stmt in body:
            found = self._init_call(stmt)
            if found is None:
                out.append(stmt)
                continue
            call, name = found
            fn = name.rsplit(".", 1)[-1]
            try:
                new = self._fold(call, fn, out)
            except NotExact as e:
                # reported where the source has it (the body here is the updated one)
                orig = cast(cst.BaseStatement, self.ctx.original(stmt))
                source = self._init_call(orig)
                node = source[0] if source is not None else call
                self.ctx.top_of.setdefault(id(node), self.ctx.top_of.get(id(orig)))  # its own top's positions
                self.report(node, f"`{name}` {e}; left as is")
                self.ctx.explained.add(id(call.func))
                out.append(stmt)
                continue
            if new is None:
                out.append(stmt)
                continue
            index, layer_stmt = new
            out[index] = layer_stmt
            changed = True
        return out if changed else None

    def _fold(self, call: cst.Call, fn: str, out: List[cst.BaseStatement]):
        if fn not in _SIGNATURES:
            raise NotExact("has no exact MXNet initializer here")
        try:
            b = bind(call, _SIGNATURES[fn])
        except Unbindable as e:
            raise NotExact(f"is not translated ({e})")
        tensor = b.get("tensor")
        if not (isinstance(tensor, cst.Attribute) and tensor.attr.value in ("weight", "bias")):
            raise NotExact("is only translated on the `.weight` or `.bias` of a layer")
        owner = code_of(tensor.value)
        # the law first, so a second translation reports the same reason
        imports, generated = set(self.ctx.imports), {k: list(v) for k, v in self.ctx.generated.items()}
        try:
            initializer = self._initializer(fn, b)
        except NotExact as e:
            raise NotExact(f"is not translated exactly ({e})")
        try:
            return self._apply(owner, tensor.attr.value, initializer, out)
        except NotExact:
            self.ctx.imports.clear()
            self.ctx.imports.update(imports)
            self.ctx.generated.clear()
            self.ctx.generated.update(generated)
            raise

    def _apply(self, owner: str, which: str, initializer: cst.BaseExpression, out: List[cst.BaseStatement]):
        where = (
            "is only translated on the weight or bias of a Linear/Conv layer built earlier in the same block "
            f"(`{owner}` is not)"
        )
        if not re.fullmatch(r"(self\.)?[A-Za-z_][A-Za-z_0-9]*", owner):
            raise NotExact(where)
        uses = re.compile(rf"(?<![\w.]){re.escape(owner)}\b")
        for index in range(len(out) - 1, -1, -1):
            stmt = out[index]
            layer = self._layer_call(stmt, owner)
            if layer is not None:
                break
            text = code_of(stmt)
            if uses.search(text) and text.strip() != f"{owner}.initialize()":
                raise NotExact(where)
        else:
            raise NotExact(where)
        keyword = _LAYERS[cast(cst.Attribute, layer.func).attr.value].get(which)  # as _layer_call found it
        if keyword is None:
            raise NotExact(where)
        args = list(layer.args)
        for i, a in enumerate(args):
            if a.keyword is not None and a.keyword.value == keyword:
                args[i] = a.with_changes(value=initializer)
                break
        else:
            if args:
                last = args[-1]
                args[-1] = last.with_changes(comma=cst.MaybeSentinel.DEFAULT)
            args.append(arg(initializer, keyword))
        assign = cast(cst.SimpleStatementLine, stmt).body[0]
        new_stmt = stmt.with_changes(body=[assign.with_changes(value=layer.with_changes(args=args))])
        self.ctx.origin[id(new_stmt)] = (new_stmt, self.ctx.original(stmt))
        return index, new_stmt


# -- functions given to model.apply ------------------------------------------------

# torch.nn class -> the Gluon class it is translated to, where isinstance/type
# checks on the Gluon side select the same layers (one Gluon class per torch class)
GLUON_CLASSES: Dict[str, str] = {
    "Linear": "Dense",
    "Conv1d": "Conv1D",
    "Conv2d": "Conv2D",
    "ConvTranspose1d": "Conv1DTranspose",
    "ConvTranspose2d": "Conv2DTranspose",
    "Embedding": "Embedding",
    "LayerNorm": "LayerNorm",
    "Flatten": "Flatten",
}
_BATCHNORMS = ("BatchNorm1d", "BatchNorm2d")
# in-place tensor methods in the old idiom `m.weight.data.normal_(0, 0.02)` -> nn.init function
_DATA_METHODS: Dict[str, Tuple[str, Tuple[str, ...]]] = {
    "normal_": ("normal_", ("mean", "std", "generator")),
    "uniform_": ("uniform_", ("a", "b", "generator")),
    "zero_": ("zeros_", ()),
    "fill_": ("constant_", ("val",)),
}


def gluon_class(ctx, node: cst.BaseExpression) -> Optional[str]:
    """The Gluon class a torch.nn class reference is translated to in a type check, or None."""
    from ..facts.nn import nn_class

    kind = nn_class(ctx.torch_name(node), *GLUON_CLASSES, *_BATCHNORMS)
    if kind is None:
        return None
    if kind in _BATCHNORMS:
        # both become nn.BatchNorm: the same layers only if the script uses one of them
        other = _BATCHNORMS[1 - _BATCHNORMS.index(kind)]
        if re.search(rf"\b{other}\b", ctx.source):
            return None
        return "BatchNorm"
    return GLUON_CLASSES[kind]


def _guard_kinds(ctx, test: cst.BaseExpression, param: str) -> Optional[Tuple[str, ...]]:
    """``isinstance(m, nn.Linear)``, ``isinstance(m, (A, B))``, ``type(m) == A``/``is A``/``in (A, B)``
    -> the torch class names, for the parameter ``m``."""
    from ..facts.nn import nn_class

    def classes(node) -> Optional[Tuple[str, ...]]:
        items = [e.value for e in node.elements] if isinstance(node, (cst.Tuple, cst.List)) else [node]
        names = []
        for item in items:
            kind = nn_class(ctx.torch_name(item), *GLUON_CLASSES, *_BATCHNORMS)
            if kind is None or gluon_class(ctx, item) is None:
                return None  # the check itself stays torch (reported)
            names.append(kind)
        return tuple(names)

    if isinstance(test, cst.Call) and isinstance(test.func, cst.Name) and test.func.value == "isinstance":
        if len(test.args) == 2 and code_of(test.args[0].value) == param and not any(a.keyword or a.star for a in test.args):
            return classes(test.args[1].value)
        return None
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        left = test.left
        if not (isinstance(left, cst.Call) and code_of(left) == f"type({param})"):
            return None
        comp = test.comparisons[0]
        if isinstance(comp.operator, (cst.Equal, cst.Is)) or (
            isinstance(comp.operator, cst.In) and isinstance(comp.comparator, (cst.Tuple, cst.List))
        ):
            return classes(comp.comparator)
    return None


class ApplyInit(Rule):
    """``nn.init`` in a function given to ``model.apply`` re-initialises the Gluon parameters.

    ## What it does
    In a function passed to ``model.apply(fn)`` (``model`` a translated model,
    or ``self.apply(self._init)`` in a translated ``Module`` class), under an
    ``if isinstance(m, nn.Linear):`` (a tuple of classes, ``type(m) ==
    nn.Conv2d`` and ``type(m) in (...)`` too), a statement
    ``nn.init.<fn>_(m.weight, ...)`` becomes::

        m.weight.initialize(init=<initializer>, force_reinit=True)

    with the initializer T2G230 derives (the same law), and ``m.bias`` of a
    BatchNorm/LayerNorm ``m.beta``. The old idiom ``m.weight.data.normal_(0,
    s)`` / ``.uniform_(-a, a)`` / ``.zero_()`` / ``.fill_(v)`` is translated the
    same way. Both forms are translated the same way outside such functions
    on a parameter of a layer known from its constructor that T2G230 does not
    fold into the constructor (``net[0].weight.data.normal_(0, 0.01)``,
    ``nn.init.zeros_(model.fc.bias)``, ``self.fc.bias.data.zero_()``). The
    type checks name the Gluon classes (``nn.Dense``,
    ``nn.Conv2D``, ...). ``model.apply(fn)`` itself stays: Gluon's
    ``Block.apply`` calls ``fn`` on every child block and then on the block,
    as torch's does.

    ## Why
    ``Parameter.initialize(init=..., force_reinit=True)`` draws the
    parameter's values again from the given initializer (it overrides the
    parameter's own); called in ``__init__`` (``self.apply`` there), it
    initialises the parameter then, and the model's ``initialize()`` leaves
    it as it is.

    ## Flags
    An ``nn.init`` call on a parameter of a layer whose class the guard does
    not settle, or a law T2G230 cannot give exactly, is reported by T2G230. A
    type check against ``nn.BatchNorm1d`` when the script also uses
    ``nn.BatchNorm2d`` (both become ``nn.BatchNorm``), or against a class
    several torch classes become (``nn.ReLU`` and ``nn.Tanh`` are both
    ``nn.Activation``), is left as is (T2G001).

    ## Fix safety
    Safe: the same law for the same parameters of the same layers.
    """

    code = "T2G231"
    name = "apply-init"
    summary = "nn.init.*_(m.weight) in a function given to model.apply -> m.weight.initialize(init=..., force_reinit=True)"
    examples = (
        Example(
            (
                "from torch import nn\n\n\n"
                "def init_weights(m):\n"
                "    if isinstance(m, nn.Linear):\n"
                "        nn.init.xavier_uniform_(m.weight)\n"
                "        if m.bias is not None:\n"
                "            nn.init.zeros_(m.bias)\n"
                "    elif type(m) == nn.Conv2d:\n"
                "        m.weight.data.normal_(0.0, 0.02)\n\n\n"
                "net = nn.Sequential(nn.Linear(4, 2))\n"
                "net.apply(init_weights)\n"
            ),
            (
                "from mxnet import init\n"
                "from mxnet.gluon import nn\n\n\n"
                "def init_weights(m):\n"
                "    if isinstance(m, nn.Dense):\n"
                "        m.weight.initialize(\n"
                "            init=init.Xavier(rnd_type=\"uniform\", factor_type=\"avg\", magnitude=3.0),\n"
                "            force_reinit=True,\n"
                "        )\n"
                "        if m.bias is not None:\n"
                "            m.bias.initialize(init=init.Zero(), force_reinit=True)\n"
                "    elif type(m) == nn.Conv2D:\n"
                "        m.weight.initialize(init=init.Normal(0.02), force_reinit=True)\n\n\n"
                "net = nn.Sequential()\n"
                "net.add(\n"
                "    nn.Dense(\n"
                "        2,\n"
                "        in_units=4,\n"
                "        flatten=False,\n"
                "        weight_initializer=init.Uniform(4**-0.5),\n"
                "        bias_initializer=init.Uniform(4**-0.5),\n"
                "    )\n"
                ")\n"
                "net.initialize()\n"
                "net.apply(init_weights)\n"
            ),
            id="init function given to apply",
        ),
        Example(
            (
                "from torch import nn\n\n\n"
                "class Net(nn.Module):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.bn = nn.BatchNorm2d(3)\n"
                "        self.apply(self._init)\n\n"
                "    def _init(self, m):\n"
                "        if isinstance(m, nn.BatchNorm2d):\n"
                "            nn.init.ones_(m.weight)\n"
                "        nn.init.zeros_(m.bias)\n"
            ),
            (
                "from torch import nn\n"
                "from mxnet import gluon, init\n"
                "from mxnet.gluon import nn as mx_nn\n\n\n"
                "class Net(gluon.Block):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        # torch2gluon: T2G205: MXNet's running_var is the biased batch variance (torch: unbiased); "
                "evaluation with running statistics differs slightly\n"
                "        self.bn = mx_nn.BatchNorm(momentum=0.9, in_channels=3)\n"
                "        self.apply(self._init)\n\n"
                "    def _init(self, m):\n"
                "        if isinstance(m, mx_nn.BatchNorm):\n"
                "            m.gamma.initialize(init=init.One(), force_reinit=True)\n"
                "        # torch2gluon: T2G230: `torch.nn.init.zeros_` is only translated on the weight or bias of a "
                "Linear/Conv layer built earlier in the same block (`m` is not); left as is\n"
                "        nn.init.zeros_(m.bias)\n"
            ),
            diagnostics=("T2G205", "T2G230"),
            id="a method given to self.apply; an unguarded call is flagged",
        ),
        Example(
            (
                "from torch import nn\n"
                "net = nn.Sequential(nn.Linear(2, 1))\n"
                "net[0].weight.data.normal_(0, 0.01)\n"
                "net[0].bias.data.fill_(0)\n"
            ),
            (
                "from mxnet import init\n"
                "from mxnet.gluon import nn\n\n"
                "net = nn.Sequential()\n"
                "net.add(\n"
                "    nn.Dense(\n"
                "        1,\n"
                "        in_units=2,\n"
                "        flatten=False,\n"
                "        weight_initializer=init.Uniform(2**-0.5),\n"
                "        bias_initializer=init.Uniform(2**-0.5),\n"
                "    )\n"
                ")\n"
                "net.initialize()\n"
                "net[0].weight.initialize(init=init.Normal(0.01), force_reinit=True)\n"
                "net[0].bias.initialize(init=init.Constant(0), force_reinit=True)\n"
            ),
            id="in-place init of a known layer's parameters",
        ),
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._plans: Dict[int, Tuple[str, Tuple[str, ...], str, Dict[str, cst.BaseExpression]]] = {}

    # -- finding the functions given to apply and their guarded statements -------
    def visit_Module(self, node: cst.Module) -> None:
        classes = self.ctx.analysis.module_classes()
        functions: Dict[str, List[cst.FunctionDef]] = {}
        methods: Dict[Tuple[str, str], cst.FunctionDef] = {}
        applied: List[Tuple[Optional[str], str]] = []  # (class for self.fn, function name)
        lines: List[Tuple[cst.SimpleStatementLine, Optional[str]]] = []
        stack: List[Tuple[cst.CSTNode, Optional[str]]] = [(node, None)]
        while stack:
            n, cls = stack.pop()
            if isinstance(n, cst.ClassDef):
                cls = n.name.value if n.name.value in classes else None
                for s in n.body.body:
                    if isinstance(s, cst.FunctionDef) and cls is not None:
                        methods[(cls, s.name.value)] = s
            elif isinstance(n, cst.FunctionDef):
                functions.setdefault(n.name.value, []).append(n)
            elif isinstance(n, cst.SimpleStatementLine):
                lines.append((n, cls))
            elif isinstance(n, cst.Call) and isinstance(n.func, cst.Attribute) and n.func.attr.value == "apply":
                recv = n.func.value
                model = (isinstance(recv, cst.Name) and recv.value == "self" and cls is not None) or (
                    layer_kind(self.ctx, recv) is not None
                )
                if model and len(n.args) == 1 and not n.args[0].keyword and not n.args[0].star:
                    given = n.args[0].value
                    if isinstance(given, cst.Name):
                        applied.append((None, given.value))
                    elif isinstance(given, cst.Attribute) and code_of(given.value) == "self" and cls is not None:
                        applied.append((cls, given.attr.value))
            stack.extend((c, cls) for c in children(n))
        for cls, name in applied:
            fn: Optional[cst.FunctionDef]
            if cls is None:
                defs = functions.get(name, [])
                if len(defs) != 1:
                    continue
                fn, skip = defs[0], 0
            else:
                fn = methods.get((cls, name))
                if fn is None:
                    continue
                skip = 1
            params = fn.params.params
            if len(params) != skip + 1:
                continue
            self._scan(fn.body, params[skip].name.value, None)
        # anywhere: on a parameter of a layer known from its constructor
        # (`net[0].weight.data.normal_(0, 0.01)`, `nn.init.zeros_(model.fc.bias)`)
        for stmt, cls in lines:
            if id(stmt) not in self._plans:
                self._plan(stmt, None, None, cls)


    def _scan(self, block: cst.CSTNode, param: str, kinds: Optional[Tuple[str, ...]]) -> None:
        for stmt in getattr(block, "body", ()):
            if isinstance(stmt, cst.If):
                self._scan_if(stmt, param, kinds)
            elif isinstance(stmt, (cst.For, cst.While, cst.With, cst.Try)):
                self._scan(stmt.body, param, kinds)
            elif isinstance(stmt, cst.SimpleStatementLine) and kinds is not None:
                self._plan(stmt, param, kinds)

    def _scan_if(self, stmt: cst.If, param: str, kinds: Optional[Tuple[str, ...]]) -> None:
        guard = _guard_kinds(self.ctx, stmt.test, param)
        self._scan(stmt.body, param, guard if guard is not None else kinds)
        orelse = stmt.orelse
        if isinstance(orelse, cst.If):
            self._scan_if(orelse, param, kinds)
        elif isinstance(orelse, cst.Else):
            self._scan(orelse.body, param, kinds)

    def _plan(
        self,
        stmt: cst.SimpleStatementLine,
        param: Optional[str],
        kinds: Optional[Tuple[str, ...]],
        cls: Optional[str] = None,
    ) -> None:
        """Plan a statement under an isinstance guard (``param``, ``kinds``) in a
        function given to apply, or (``param`` None) on a layer known from its constructor."""
        if len(stmt.body) != 1 or not isinstance(stmt.body[0], cst.Expr):
            return
        call = stmt.body[0].value
        if not isinstance(call, cst.Call):
            return
        name = self.ctx.torch_name(call.func)
        if name and name.startswith("torch.nn.init."):
            fn = name.rsplit(".", 1)[-1]
            if fn not in _SIGNATURES:
                return
            try:
                b = bind(call, _SIGNATURES[fn])
            except Unbindable:
                return
            tensor = b.pop("tensor", None)
        elif (
            name is None
            and isinstance(call.func, cst.Attribute)
            and call.func.attr.value in _DATA_METHODS
            and isinstance(call.func.value, cst.Attribute)
            and call.func.value.attr.value == "data"
        ):
            fn, names = _DATA_METHODS[call.func.attr.value]
            try:
                b = bind(call, list(names))
            except Unbindable:
                return
            tensor = call.func.value.value
        else:
            return
        if not isinstance(tensor, cst.Attribute):
            return
        if param is None:
            # T2G230 folds nn.init on `name.weight` / `self.name.weight` into the constructor
            folds = name is not None and re.fullmatch(r"(self\.)?[A-Za-z_][A-Za-z_0-9]*", code_of(tensor.value))
            kind = layer_kind(self.ctx, tensor.value)
            if folds or kind is None:
                return
            kinds = (kind,)
        elif code_of(tensor.value) != param:
            return
        assert kinds is not None
        gluon = {LAYER_PARAMETERS.get(k, {}).get(tensor.attr.value) for k in kinds}
        if len(gluon) != 1 or None in gluon:
            return
        self._plans[id(stmt)] = (fn, kinds, cast(str, gluon.pop()), b)  # not None: checked above
        self.ctx.handled.add(id(call))  # T2G102 leaves `.fill_` etc. alone
        for a in call.args:
            self.ctx.handled.add(id(a.value))
        self.ctx.handled.add(id(tensor))  # T2G214 leaves `m.weight` (and `.data`) alone
        self.ctx.handled.add(id(call.func))
        if isinstance(call.func, cst.Attribute):
            self.ctx.handled.add(id(call.func.value))

    # -- rewriting -------------------------------------------------------------
    def leave_Call(self, original: cst.Call, updated: cst.Call):
        func = original.func
        if isinstance(func, cst.Name) and func.value == "isinstance" and len(original.args) == 2:
            new = self._classes(original.args[1].value, updated.args[1].value)
            if new is not None:
                return updated.with_changes(args=[updated.args[0], updated.args[1].with_changes(value=new)])
        return None

    def leave_Comparison(self, original: cst.Comparison, updated: cst.Comparison):
        left = original.left
        if not (isinstance(left, cst.Call) and isinstance(left.func, cst.Name) and left.func.value == "type"):
            return None
        if len(original.comparisons) != 1:
            return None
        comp = original.comparisons[0]
        if not isinstance(comp.operator, (cst.Equal, cst.Is, cst.In, cst.NotEqual, cst.IsNot, cst.NotIn)):
            return None
        new = self._classes(comp.comparator, updated.comparisons[0].comparator)
        if new is None:
            return None
        return updated.with_changes(comparisons=[updated.comparisons[0].with_changes(comparator=new)])

    def _classes(self, original: cst.BaseExpression, updated: cst.BaseExpression) -> Optional[cst.BaseExpression]:
        """A torch.nn class, or a tuple of them, -> the Gluon classes (all or nothing)."""
        if isinstance(original, (cst.Tuple, cst.List)):
            items = [e.value for e in original.elements]
            if any(isinstance(e, cst.StarredElement) for e in original.elements):
                return None
        else:
            items = [original]
        gluon = [gluon_class(self.ctx, i) for i in items]
        if not items or None in gluon:
            return None
        refs = [self.ctx.ref("mxnet.gluon.nn." + g) for g in gluon]  # type: ignore[operator]
        if not isinstance(original, (cst.Tuple, cst.List)):
            return refs[0]
        elements = [e.with_changes(value=r) for e, r in zip(cast(Union[cst.Tuple, cst.List], updated).elements, refs)]
        return updated.with_changes(elements=elements)

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        plan = self._plans.get(id(original))
        if plan is None:
            return None
        fn, kinds, gluon, b = plan
        helper = InitCalls(self.ctx)
        call = cast(cst.Call, cast(cst.Expr, original.body[0]).value)  # as _plan found it
        try:
            initializer = helper._initializer(fn, b)
        except NotExact as e:
            self.keep(call, self.ctx.torch_name(call.func) or f".{cast(cst.Attribute, call.func).attr.value}",
                      f"is not translated exactly ({e})")
            return None
        if isinstance(call.func, cst.Attribute) and self.ctx.torch_name(call.func) is None:
            owner = cast(cst.Attribute, call.func.value).value  # m.weight.data.normal_ -> m.weight
        else:
            owner = bind(call, _SIGNATURES[fn])["tensor"]
        target = cst.Attribute(value=cast(cst.Attribute, owner).value, attr=cst.Name(gluon))  # the tensor: m.weight
        new = cst.Call(
            func=cst.Attribute(value=target, attr=cst.Name("initialize")),
            args=[arg(initializer, "init"), arg(cst.Name("True"), "force_reinit")],
        )
        return updated.with_changes(body=[cst.Expr(new)])
