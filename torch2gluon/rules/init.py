"""``torch.nn.init.*_`` on a layer's weight or bias becomes that layer's initializer."""

from __future__ import annotations

import math
import re
from typing import Dict, List, Optional, Tuple

import libcst as cst

from ..context import arg
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
# Gluon layers whose weight has torch's layout (out, in, *kernel) and whose
# constructor takes weight_initializer / bias_initializer
_LAYERS = ("Dense", "Conv1D", "Conv2D", "Conv3D")
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
        if ops.get(op) is not None:
            return ops[op]
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
    ``<layer>`` (a name or ``self.name``) was built from ``nn.Linear`` or
    ``nn.Conv1d/2d/3d`` earlier in the same block with nothing in between
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
    (e.g. inside a function given to ``model.apply``), ``normal_`` with a
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
                "    # torch2gluon: T2G001: `torch.nn.Linear` has no translation; left as is\n"
                "    if isinstance(m, nn.Linear):\n"
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
            diagnostics=("T2G001", "T2G230", "T2G230"),
            id="an init function and a non-symmetric uniform are flagged",
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
                self.report(call, f"`{name}` {e}; left as is")
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
        keyword = f"{which}_initializer"
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
        assign = stmt.body[0]
        new_stmt = stmt.with_changes(body=[assign.with_changes(value=layer.with_changes(args=args))])
        self.ctx.origin[id(new_stmt)] = (new_stmt, self.ctx.original(stmt))
        return index, new_stmt
