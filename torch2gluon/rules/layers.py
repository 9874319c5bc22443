"""Layers and ``nn.Sequential`` models."""

from __future__ import annotations

from typing import List, Optional, cast

import libcst as cst

from ..base.syntax import arg
from ..base.diagnostics import Severity
from ..base.syntax import is_literal, literal_pair
from ..facts.nn import WITH_PARAMETERS
from ..facts.runtime import DROPOUT2D_HELPER
from ..rewrite.devices import move_call
from ..rewrite.layers import ceil_mode_matches, initialize_standalone, translate_conv, with_parens
from ._base import Example, Rule, Unbindable, bind, code_of, literal


class Layers(Rule):
    """``torch.nn`` layers become ``mxnet.gluon.nn`` layers with the same semantics.

    ## What it does
    ``nn.Linear(in, out)`` becomes ``nn.Dense(out, in_units=in, flatten=False)``
    and ``nn.ReLU()`` becomes ``nn.Activation("relu")``.

    ## Why
    ``Dense`` flattens every axis after the first by default, ``Linear`` acts
    on the last axis only: ``flatten=False`` keeps torch's meaning for inputs of
    any rank (for 2-D inputs both are the same). Giving ``in_units`` lets the
    weights exist before the first forward pass, like torch's.

    PyTorch initialises a Linear layer's weight and bias from
    U(-1/sqrt(in), 1/sqrt(in)); Gluon's default is U(-0.07, 0.07) with zero
    biases. With the default option ``init="torch"`` the layer gets torch's
    distributions as explicit initializers, so the translated model starts from
    the same distribution. ``init="mxnet"`` keeps Gluon's and warns.

    ## Flags
    ``device=``/``dtype=`` arguments are left untranslated.

    ## Fix safety
    Safe: outputs and gradients match when the weights are copied across.
    """

    code = "T2G201"
    name = "layers"
    summary = "nn.Linear -> nn.Dense, nn.ReLU -> nn.Activation"
    examples = (
        Example(
            "from torch import nn\nfc = nn.Linear(784, 256)\nact = nn.ReLU()\n",
            "from mxnet import init\nfrom mxnet.gluon import nn\n\nfc = nn.Dense(\n    256,\n    in_units=784,\n    flatten=False,\n    weight_initializer=init.Uniform(784**-0.5),\n    bias_initializer=init.Uniform(784**-0.5),\n)\nfc.initialize()\nact = nn.Activation(\"relu\")\n",
            id="linear keeps torch's initial distribution",
        ),
        Example(
            "from torch.nn import Linear as L\nfc = L(in_features=4, out_features=2, bias=False)\n",
            "from mxnet import init\nfrom mxnet.gluon import nn\n\nfc = nn.Dense(\n    2,\n    in_units=4,\n    flatten=False,\n    use_bias=False,\n    weight_initializer=init.Uniform(4**-0.5),\n)\nfc.initialize()\n",
            id="aliased import and keywords",
        ),
    )

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        name = self.ctx.call_name(original)
        if name == "torch.nn.Linear":
            try:
                b = bind(updated, ["in_features", "out_features", "bias", "device", "dtype"])
                if "device" in b or "dtype" in b:
                    raise Unbindable("arguments `device`/`dtype` are not translated yet")
                if "in_features" not in b or "out_features" not in b:
                    raise Unbindable("needs in_features and out_features")
            except Unbindable as e:
                self.keep(original, name, str(e))
                return None
            args = [arg(b["out_features"]), arg(b["in_features"], "in_units"), arg(cst.Name("False"), "flatten")]
            bias = b.get("bias")
            if bias is not None and literal(bias) is not True:
                args.append(arg(bias, "use_bias"))
            if self.ctx.options.init == "torch":
                bound = cst.BinaryOperation(
                    left=with_parens(b["in_features"]),
                    operator=cst.Power(),
                    right=cst.UnaryOperation(operator=cst.Minus(), expression=cst.Float("0.5")),
                )
                args.append(arg(self.ctx.call("mxnet.init.Uniform", arg(bound)), "weight_initializer"))
                if bias is None or literal(bias) is not False:
                    args.append(arg(self.ctx.call("mxnet.init.Uniform", arg(bound)), "bias_initializer"))
            else:
                self.report(
                    original,
                    "Gluon's default initialisation (uniform ±0.07, zero bias) differs from torch's",
                    severity=Severity.WARNING,
                )
            return self.ctx.call("mxnet.gluon.nn.Dense", *args)
        if name == "torch.nn.ReLU":
            try:
                bind(updated, ["inplace"])
            except Unbindable as e:
                self.keep(original, name, str(e))
                return None
            return self.ctx.call("mxnet.gluon.nn.Activation", arg(cst.SimpleString('"relu"')))
        return None


    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        """``lin = nn.Linear(...)`` (or Conv2d, BatchNorm) on its own: Gluon needs ``lin.initialize()``.

        (Inside ``nn.Sequential`` the Sequential's initialize covers it; a layer
        initialised here and added to a Sequential later is not initialised
        twice: Gluon skips parameters that already have values.)
        """
        return initialize_standalone(
            self.ctx, original, updated, {k: (v,) for k, v in WITH_PARAMETERS.items()}
        )


class Sequential(Rule):
    """``net = nn.Sequential(a, b)`` becomes ``Sequential()``, ``add`` and ``initialize``.

    ## What it does
    ``net = nn.Sequential(layers...)`` becomes three statements::

        net = nn.Sequential()
        net.add(layers...)
        net.initialize()

    ## Why
    Gluon's ``Sequential`` takes no layers in its constructor, and its
    parameters exist only after ``initialize()``. ``net =
    nn.Sequential(...).to(device)`` (or ``.cuda()``) adds
    ``net.collect_params().reset_ctx(device)``.

    In a method of a class translated to a Gluon ``Block`` (T2G210),
    ``self.x = nn.Sequential(layers...)`` becomes ``self.x = nn.Sequential()``
    and ``self.x.add(layers...)``: assigned to an attribute, the
    ``Sequential`` is a child of the block, so its layers' parameters are
    collected, initialised and saved with the block's (``x.0.weight``, as in
    torch), and the block's ``initialize()`` covers them.

    ## Flags
    ``nn.Sequential(...)`` anywhere else (nested in another call, assigned to
    an attribute of an object that is not a translated ``Module``), an empty
    Sequential, or one built from an ``OrderedDict``, is left as is with an
    error.

    ## Fix safety
    Safe: same layers in the same order, so parameter keys keep their indices.
    """

    code = "T2G202"
    name = "sequential"
    summary = "nn.Sequential(...) -> Sequential() + add + initialize"
    examples = (
        Example(
            "from torch import nn\n\nnet = nn.Sequential(\n    nn.ReLU(),\n    nn.ReLU()\n)\n",
            "from mxnet.gluon import nn\n\nnet = nn.Sequential()\nnet.add(nn.Activation(\"relu\"), nn.Activation(\"relu\"))\nnet.initialize()\n",
            id="sequential add initialize",
        ),
        Example(
            "import torch\nfrom torch import nn\nmodel = nn.Sequential(nn.ReLU()).to(torch.device('cpu'))\n",
            'import mxnet as mx\nfrom mxnet.gluon import nn\n\nmodel = nn.Sequential()\nmodel.add(nn.Activation("relu"))\n'
            "model.initialize()\nmodel.collect_params().reset_ctx(mx.cpu())\n",
            id="built and moved in one statement",
        ),
        Example(
            "import torch.nn as nn\nclass M:\n    def __init__(self):\n        self.body = nn.Sequential(nn.ReLU())\n",
            "import torch.nn as nn\nfrom mxnet.gluon import nn as mx_nn\n\n\nclass M:\n    def __init__(self):\n        # torch2gluon: T2G202: `nn.Sequential(...)` is only translated as `name = nn.Sequential(...)`; left as is\n        self.body = nn.Sequential(mx_nn.Activation(\"relu\"))\n",
            diagnostics=("T2G202",),
            id="sequential in an attribute is flagged",
        ),
        Example(
            (
                "from torch import nn\n\n\n"
                "class Net(nn.Module):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.features = nn.Sequential(nn.Flatten(), nn.ReLU())\n\n"
                "    def forward(self, x):\n"
                "        return self.features(x)\n"
            ),
            (
                "from mxnet import gluon\n"
                "from mxnet.gluon import nn\n\n\n"
                "class Net(gluon.Block):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.features = nn.Sequential()\n"
                "        self.features.add(nn.Flatten(), nn.Activation(\"relu\"))\n\n"
                "    def forward(self, x):\n"
                "        return self.features(x)\n"
            ),
            id="sequential assigned to an attribute of a module",
        ),
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._statement_form: set = set()
        self._classes: set = set()
        self._in_module: List[bool] = []  # per enclosing class: translated by T2G210?

    def visit_Module(self, node: cst.Module) -> None:
        self._classes = self.ctx.analysis.module_classes()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._in_module.append(node.name.value in self._classes)

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef) -> None:
        self._in_module.pop()
        return None

    def _target_ok(self, target: cst.BaseExpression) -> bool:
        if isinstance(target, cst.Name):
            return True
        # self.x = nn.Sequential(...) in a class that becomes a gluon Block
        return (
            isinstance(target, cst.Attribute)
            and isinstance(target.value, cst.Name)
            and target.value.value == "self"
            and bool(self._in_module)
            and self._in_module[-1]
        )

    def _statement_call(self, stmt: cst.SimpleStatementLine) -> Optional[cst.Call]:
        if len(stmt.body) != 1 or not isinstance(stmt.body[0], cst.Assign):
            return None
        assign = stmt.body[0]
        if len(assign.targets) != 1 or not self._target_ok(assign.targets[0].target):
            return None
        value = assign.value
        if _moved_sequential(self.ctx, value) is not None:
            value = _receiver(value)  # `nn.Sequential(...).to(device)`
        if isinstance(value, cst.Call) and self.ctx.call_name(value) == "torch.nn.Sequential":
            return value
        return None

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        call = self._statement_call(node)
        if call is not None:
            self._statement_form.add(id(call))
            move = cast(cst.Assign, node.body[0]).value  # as _statement_call found it
            if move is not call:
                self.ctx.handled.add(id(move))  # T2G801 leaves the move to this statement

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        if self.ctx.call_name(original) == "torch.nn.Sequential" and id(original) not in self._statement_form:
            self.report(original, "`nn.Sequential(...)` is only translated as `name = nn.Sequential(...)`; left as is")
            self.ctx.explained.add(id(original.func))
        return None

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        call = self._statement_call(original)
        if call is None:
            return None
        assign = cast(cst.Assign, updated.body[0])  # as _statement_call found it
        target_node = assign.targets[0].target
        attribute = isinstance(target_node, cst.Attribute)
        new_call = assign.value
        moved = _moved_sequential(self.ctx, cast(cst.Assign, original.body[0]).value)
        if moved is not None:
            new_call = _receiver(new_call)
        if not isinstance(new_call, cst.Call):
            return None
        args = list(new_call.args)
        why = None
        if not args:
            why = "an empty `nn.Sequential()` filled later is not translated yet"
        elif any(a.keyword is not None or a.star for a in args):
            why = "`nn.Sequential` with keyword or starred arguments is not translated yet"
        elif any(isinstance(a.value, cst.Call) and (self.ctx.torch_name(a.value.func) or "").endswith("OrderedDict") for a in args):
            why = "`nn.Sequential(OrderedDict(...))` is not translated yet"
        if why:
            self.report(call, why + "; left as is")
            self.ctx.explained.add(id(call.func))
            return None
        args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        ctor = cst.Call(func=self.ctx.ref("mxnet.gluon.nn.Sequential"))
        first = updated.with_changes(body=[updated.body[0].with_changes(value=ctor)])
        add = cst.SimpleStatementLine(
            body=[cst.Expr(cst.Call(func=cst.Attribute(value=target_node, attr=cst.Name("add")), args=args))]
        )
        if attribute:  # a child of the block: initialised with it
            return [first, add]
        init = cst.SimpleStatementLine(
            body=[cst.Expr(cst.Call(func=cst.Attribute(value=target_node, attr=cst.Name("initialize"))))]
        )
        if moved is None:
            return [first, add, init]
        params = cst.Call(func=cst.Attribute(value=target_node, attr=cst.Name("collect_params")))
        reset = cst.Call(func=cst.Attribute(value=params, attr=cst.Name("reset_ctx")), args=[cst.Arg(value=moved)])
        return [first, add, init, cst.SimpleStatementLine(body=[cst.Expr(reset)])]


def _moved_sequential(ctx, value: cst.BaseExpression) -> Optional[cst.BaseExpression]:
    """``nn.Sequential(...).to(device)`` / ``.cuda()`` / ``.cpu()`` (original) -> the MXNet context."""
    if not (
        isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute)
        and value.func.attr.value in ("to", "cuda", "cpu")
        and isinstance(value.func.value, cst.Call) and ctx.call_name(value.func.value) == "torch.nn.Sequential"
    ):
        return None
    moved = move_call(ctx, value)
    return moved[1] if moved is not None else None


def _receiver(moved: cst.BaseExpression) -> cst.BaseExpression:
    """``recv`` of ``recv.to(...)``: a call ``_moved_sequential`` matched."""
    return cast(cst.Attribute, cast(cst.Call, moved).func).value


# ---------------------------------------------------------------------------
# Shared helpers for the layer, module and functional rules
# ---------------------------------------------------------------------------

def torch_nn_name(name: Optional[str], *classes: str) -> Optional[str]:
    """The class name if ``name`` is ``torch.nn.<cls>`` (or its defining module's path)."""
    if not name:
        return None
    last = name.rsplit(".", 1)[-1]
    if last not in classes:
        return None
    if name == f"torch.nn.{last}" or (name.startswith("torch.nn.modules.") and name.count(".") == 4):
        return last
    return None


class Convolution(Rule):
    """``nn.Conv2d`` becomes ``nn.Conv2D`` with torch's initial distribution.

    ## What it does
    ``nn.Conv2d(in, out, k, stride, padding, dilation, groups, bias)`` becomes
    ``nn.Conv2D(out, k, strides=stride, padding=padding, dilation=dilation,
    groups=groups, use_bias=bias, in_channels=in)``. Arguments equal to the
    (shared) defaults are left out; ``padding='valid'`` is padding 0.

    ## Why
    Gluon names the output channels first and calls the input channels
    ``in_channels``; giving them creates the weights before the first forward
    pass, as in torch. Both frameworks store the weight as (out, in/groups,
    kh, kw) and compute NCHW cross-correlations, so copied weights give the
    same outputs (measured ≤ 1e-6, grouped and dilated convolutions included).

    torch starts the weight *and* the bias from U(±1/sqrt(fan_in)) with
    ``fan_in = in/groups·kh·kw``; Gluon's default is U(±0.07) and zero
    biases. With ``init="torch"`` (the default) both get torch's distribution
    as explicit initializers.

    ## Flags
    ``padding='same'`` (MXNet has no such mode and torch pads asymmetrically
    for even kernels), ``padding_mode`` other than ``'zeros'``, ``device``/
    ``dtype``. A kernel size that is not a literal keeps Gluon's initial
    distribution, with a warning.

    ## Fix safety
    Safe: outputs and gradients match when the weights are copied.
    """

    code = "T2G203"
    name = "conv2d"
    summary = "nn.Conv2d -> nn.Conv2D(out, k, ..., in_channels=in) with torch's init"
    examples = (
        Example(
            "from torch import nn\nconv = nn.Conv2d(1, 32, 3, 1)\n",
            "from mxnet import init\nfrom mxnet.gluon import nn\n\n"
            "conv = nn.Conv2D(\n    32,\n    3,\n    in_channels=1,\n"
            "    weight_initializer=init.Uniform((1 * 3 * 3) ** -0.5),\n"
            "    bias_initializer=init.Uniform((1 * 3 * 3) ** -0.5),\n)\nconv.initialize()\n",
            id="canonical mnist conv",
        ),
        Example(
            "import torch.nn as nn\nconv = nn.Conv2d(groups=4, kernel_size=(3, 5), out_channels=8, in_channels=16, "
            "padding=(1, 2), stride=2, bias=False, dilation=1)\n",
            "from mxnet import init\nfrom mxnet.gluon import nn\n\n"
            "conv = nn.Conv2D(\n    8,\n    (3, 5),\n    strides=2,\n    padding=(1, 2),\n    groups=4,\n"
            "    use_bias=False,\n    in_channels=16,\n"
            "    weight_initializer=init.Uniform((16 // 4 * 3 * 5) ** -0.5),\n)\nconv.initialize()\n",
            id="shuffled keywords, groups, no bias",
        ),
        Example(
            "from torch import nn\nconv = nn.Conv2d(3, 8, 3, padding='same')\n",
            "from torch import nn\n# torch2gluon: T2G203: `torch.nn.Conv2d` with `padding='same'` is not translated "
            "(MXNet has no 'same' padding); left as is\nconv = nn.Conv2d(3, 8, 3, padding='same')\n",
            diagnostics=("T2G203",),
            id="same padding is flagged",
        ),
        Example(
            "from torch import nn\nconv = nn.Conv2d(3, 8, 3, padding_mode='reflect')\n",
            "from torch import nn\n# torch2gluon: T2G203: `torch.nn.Conv2d` with `padding_mode='reflect'` is not translated yet; "
            "left as is\nconv = nn.Conv2d(3, 8, 3, padding_mode='reflect')\n",
            diagnostics=("T2G203",),
            id="padding mode is flagged",
        ),
    )

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        name = self.ctx.call_name(original)
        if name is None or torch_nn_name(name, "Conv2d") is None:
            return None
        return translate_conv(self, original, updated, name, "Conv2D", 2, False)


class Pooling(Rule):
    """``nn.MaxPool2d``/``nn.AvgPool2d``/``nn.AdaptiveAvgPool2d(1)`` become Gluon pooling layers.

    ## What it does
    ``nn.MaxPool2d(k, stride, padding)`` becomes ``nn.MaxPool2D(k, strides=stride,
    padding=padding)``; ``nn.AvgPool2d`` becomes ``nn.AvgPool2D`` (with
    ``count_include_pad``); ``nn.AdaptiveAvgPool2d(1)`` becomes
    ``nn.GlobalAvgPool2D()`` and ``nn.AdaptiveMaxPool2d(1)``
    ``nn.GlobalMaxPool2D()``.

    ## Why
    In both layer APIs the stride defaults to the kernel size, max pooling pads
    with -inf and average pooling counts the padding by default (measured:
    identical for kernels 2-3, strides 1-4, padding 0-1). ``ceil_mode=True``
    differs where torch drops a last window that would start in the padding:
    the rule translates it only when that cannot happen
    (``stride <= kernel - padding`` in both dimensions, literal sizes).

    ## Flags
    ``dilation``, ``return_indices``, ``divisor_override``, other adaptive
    output sizes, and ``ceil_mode=True`` where the output shapes could differ.

    ## Fix safety
    Safe: same outputs and gradients.
    """

    code = "T2G204"
    name = "pooling"
    summary = "nn.MaxPool2d/AvgPool2d/AdaptiveAvgPool2d(1) -> MaxPool2D/AvgPool2D/GlobalAvgPool2D"
    examples = (
        Example(
            "from torch import nn\npool = nn.MaxPool2d(2)\navg = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)\n"
            "gap = nn.AdaptiveAvgPool2d((1, 1))\n",
            "from mxnet.gluon import nn\n\npool = nn.MaxPool2D(2)\n"
            "avg = nn.AvgPool2D(3, strides=1, padding=1, count_include_pad=False)\ngap = nn.GlobalAvgPool2D()\n",
            id="max, avg, global",
        ),
        Example(
            "from torch import nn\npool = nn.MaxPool2d(ceil_mode=True, kernel_size=3, stride=2)\n",
            "from mxnet.gluon import nn\n\npool = nn.MaxPool2D(3, strides=2, ceil_mode=True)\n",
            id="ceil mode where it matches",
        ),
        Example(
            "from torch import nn\npool = nn.MaxPool2d(2, 2, 1, ceil_mode=True)\n",
            "from torch import nn\n# torch2gluon: T2G204: `torch.nn.MaxPool2d` with `ceil_mode=True` gives other output "
            "sizes in MXNet when stride > kernel - padding; left as is\npool = nn.MaxPool2d(2, 2, 1, ceil_mode=True)\n",
            diagnostics=("T2G204",),
            id="ceil mode that differs is flagged",
        ),
        Example(
            "from torch import nn\npool = nn.AdaptiveAvgPool2d(7)\n",
            "from torch import nn\n# torch2gluon: T2G204: `torch.nn.AdaptiveAvgPool2d` with an output size other than 1 "
            "is not translated yet; left as is\npool = nn.AdaptiveAvgPool2d(7)\n",
            diagnostics=("T2G204",),
            id="adaptive pooling to other sizes is flagged",
        ),
    )

    MAX = ["kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode"]
    AVG = ["kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"]

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        name = self.ctx.call_name(original)
        kind = torch_nn_name(name, "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d")
        if name is None or kind is None:
            return None
        try:
            if kind.startswith("Adaptive"):
                b = bind(updated, ["output_size"])
                if literal_pair(b.get("output_size")) != (1, 1):
                    raise Unbindable("with an output size other than 1 is not translated yet")
                target = "GlobalAvgPool2D" if kind == "AdaptiveAvgPool2d" else "GlobalMaxPool2D"
                return self.ctx.call(f"mxnet.gluon.nn.{target}")
            b = bind(updated, self.MAX if kind == "MaxPool2d" else self.AVG)
            if "kernel_size" not in b:
                raise Unbindable("needs `kernel_size`")
            if "dilation" in b and not is_literal(b["dilation"], 1):
                raise Unbindable("with `dilation` is not translated (Gluon's pooling has no dilation)")
            if "return_indices" in b and not is_literal(b["return_indices"], False):
                raise Unbindable("with `return_indices` is not translated")
            if "divisor_override" in b and not is_literal(b["divisor_override"], None):
                raise Unbindable("with `divisor_override` is not translated")
            ceil = b.get("ceil_mode")
            ceil_true = False
            if ceil is not None and not is_literal(ceil, False):
                if not is_literal(ceil, True):
                    raise Unbindable("with a `ceil_mode` decided at run time is not translated")
                if not ceil_mode_matches(b["kernel_size"], b.get("stride"), b.get("padding")):
                    raise Unbindable(
                        "with `ceil_mode=True` gives other output sizes in MXNet when stride > kernel - padding"
                    )
                ceil_true = True
        except Unbindable as e:
            self.keep(original, name, str(e))
            return None
        args = [arg(b["kernel_size"])]
        stride = b.get("stride")
        if stride is not None and not is_literal(stride, None):
            args.append(arg(stride, "strides"))
        padding = b.get("padding")
        if padding is not None and not is_literal(padding, 0):
            args.append(arg(padding, "padding"))
        if ceil_true:
            args.append(arg(cst.Name("True"), "ceil_mode"))
        cip = b.get("count_include_pad")
        if cip is not None and not is_literal(cip, True):
            args.append(arg(cip, "count_include_pad"))
        target = "MaxPool2D" if kind == "MaxPool2d" else "AvgPool2D"
        return self.ctx.call(f"mxnet.gluon.nn.{target}", *args)


class BatchNorm(Rule):
    """``nn.BatchNorm1d/2d(C)`` becomes ``nn.BatchNorm(momentum=0.9, in_channels=C)``.

    ## What it does
    ``nn.BatchNorm2d(C, eps, momentum, affine)`` becomes
    ``nn.BatchNorm(momentum=1 - momentum, epsilon=eps, in_channels=C)``; the
    momentum is always written out (0.9 for torch's default 0.1).
    ``affine=False`` becomes ``center=False, scale=False`` and ``bias=False``
    ``center=False``.

    ## Why
    The two frameworks weight the running statistics the other way round:
    torch's ``momentum`` is the weight of the new batch, Gluon's the weight of
    the old value. Both normalise over axis 1 with ``eps = 1e-5`` and start
    from gamma = 1, beta = 0. Outputs and gradients in training mode match
    (measured ≤ 1e-6). Gluon updates the running statistics only on
    ``backward()`` (torch: on every forward in training mode), and uses batch
    statistics only inside ``autograd.record()`` or ``autograd.train_mode()``:
    a torch model called in training mode outside a training step has its
    call wrapped in ``autograd.train_mode()`` (T2G506).

    ## Flags
    ``momentum=None`` (a cumulative average), ``track_running_stats=False``
    and ``device``/``dtype`` are left as is. Every translation carries a
    warning: MXNet keeps the *biased* batch variance in ``running_var``
    (torch: unbiased), so evaluation with running statistics differs by the
    factor n/(n-1) in the variance (n = batch size × spatial size).

    ## Fix safety
    Training-mode outputs, gradients and the running mean match; the running
    variance differs by n/(n-1) per update.
    """

    code = "T2G205"
    name = "batchnorm"
    summary = "nn.BatchNorm1d/2d -> nn.BatchNorm(momentum=1-m, in_channels=C)"
    examples = (
        Example(
            "from torch import nn\nbn = nn.BatchNorm2d(64)\n",
            "from mxnet.gluon import nn\n\n"
            "# torch2gluon: T2G205: MXNet's running_var is the biased batch variance (torch: unbiased); "
            "evaluation with running statistics differs slightly\n"
            "bn = nn.BatchNorm(momentum=0.9, in_channels=64)\nbn.initialize()\n",
            diagnostics=("T2G205",),
            id="momentum written out",
        ),
        Example(
            "import torch\nbn = torch.nn.BatchNorm1d(momentum=0.01, num_features=128, eps=1e-3, affine=False)\n",
            "from mxnet.gluon import nn\n\n"
            "# torch2gluon: T2G205: MXNet's running_var is the biased batch variance (torch: unbiased); "
            "evaluation with running statistics differs slightly\n"
            "bn = nn.BatchNorm(\n    momentum=0.99, epsilon=1e-3, center=False, scale=False, in_channels=128\n)\nbn.initialize()\n",
            diagnostics=("T2G205",),
            id="shuffled keywords, affine=False",
        ),
        Example(
            "from torch import nn\nbn = nn.BatchNorm2d(64, momentum=None)\n",
            "from torch import nn\n# torch2gluon: T2G205: `torch.nn.BatchNorm2d` with `momentum=None` (a cumulative average) "
            "is not translated; left as is\nbn = nn.BatchNorm2d(64, momentum=None)\n",
            diagnostics=("T2G205",),
            id="cumulative average is flagged",
        ),
    )

    PARAMS = ["num_features", "eps", "momentum", "affine", "track_running_stats", "device", "dtype", "bias"]

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        name = self.ctx.call_name(original)
        if name is None or torch_nn_name(name, "BatchNorm1d", "BatchNorm2d") is None:
            return None
        try:
            if sum(1 for a in updated.args if a.keyword is None) > 7:
                raise Unbindable("too many positional arguments")
            b = bind(updated, self.PARAMS)
            if "num_features" not in b:
                raise Unbindable("needs `num_features`")
            for key in ("device", "dtype"):
                if key in b and not is_literal(b[key], None):
                    raise Unbindable(f"argument `{key}` is not translated yet")
            momentum = b.get("momentum")
            if momentum is not None and is_literal(momentum, None):
                raise Unbindable("with `momentum=None` (a cumulative average) is not translated")
            track = b.get("track_running_stats")
            if track is not None and not is_literal(track, True):
                raise Unbindable("with `track_running_stats=False` is not translated (batch statistics in evaluation too)")
            affine = b.get("affine")
            if affine is not None and not (is_literal(affine, True) or is_literal(affine, False)):
                raise Unbindable("with an `affine` flag decided at run time is not translated")
            bias = b.get("bias")
            if bias is not None and not (is_literal(bias, True) or is_literal(bias, False)):
                raise Unbindable("with a `bias` flag decided at run time is not translated")
        except Unbindable as e:
            self.keep(original, name, str(e))
            return None
        if momentum is None:
            mx_momentum: cst.BaseExpression = cst.Float("0.9")
        else:
            value = literal(momentum)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                mx_momentum = cst.parse_expression(repr(round(1 - value, 12)))
            else:
                mx_momentum = cst.parse_expression(f"1 - {code_of(with_parens(momentum))}")
        args = [arg(mx_momentum, "momentum")]
        eps = b.get("eps")
        if eps is not None and not is_literal(eps, 1e-5):
            args.append(arg(eps, "epsilon"))
        no_affine = affine is not None and is_literal(affine, False)
        if no_affine or (bias is not None and is_literal(bias, False)):
            args.append(arg(cst.Name("False"), "center"))
        if no_affine:
            args.append(arg(cst.Name("False"), "scale"))
        args.append(arg(b["num_features"], "in_channels"))
        self.report(
            original,
            "MXNet's running_var is the biased batch variance (torch: unbiased); "
            "evaluation with running statistics differs slightly",
            severity=Severity.WARNING,
        )
        return self.ctx.call("mxnet.gluon.nn.BatchNorm", *args)


class Dropout(Rule):
    """``nn.Dropout(p)`` becomes ``nn.Dropout(rate=p)``; ``nn.Dropout2d`` drops whole channels.

    ## What it does
    ``nn.Dropout(p)`` becomes ``nn.Dropout(rate=p)`` (torch's default 0.5 is
    written out: Gluon's rate has no default). ``nn.Dropout2d(p)`` becomes
    ``_T2GDropout2d(p)``, a small block defined in the translation: the mask
    is shared along H and W of an (N, C, H, W) input, so whole channels are
    dropped, along L of a 3-D input (torch reads it as (N, C, L)), and drawn
    per element of a 2-D input (torch's deprecated behaviour), as torch does.

    ## Why
    Both scale the kept values by 1/(1-p). Gluon's dropout is active only
    inside ``autograd.record()`` (training mode), torch's whenever the module
    is in training mode: the training step behaves the same, and a call in
    training mode outside it is wrapped in ``autograd.train_mode()`` (T2G506). ``inplace`` only saves memory and is dropped.

    ## Flags
    Nothing else.

    ## Fix safety
    Safe for the training step (different random masks, same distribution).
    """

    code = "T2G206"
    name = "dropout"
    summary = "nn.Dropout(p) -> nn.Dropout(rate=p); Dropout2d -> a block whose mask follows the input's rank"
    examples = (
        Example(
            "from torch import nn\nd1 = nn.Dropout(0.25)\nd2 = nn.Dropout(inplace=True)\n",
            "from mxnet.gluon import nn\n\nd1 = nn.Dropout(rate=0.25)\nd2 = nn.Dropout(rate=0.5)\n",
            id="dropout",
        ),
        Example(
            "from torch import nn\nd3 = nn.Dropout2d(p=0.1)\n",
            "import mxnet as mx\nfrom mxnet import nd\n\n\nclass _T2GDropout2d(mx.gluon.Block):\n"
            "    \"\"\"torch's nn.Dropout2d: the mask is shared over H and W of an (N, C, H, W) input, over L of an\n"
            "    (N, C, L) one (torch's reading of 3-D inputs), and drawn per element of a 2-D one.\"\"\"\n\n"
            "    def __init__(self, rate):\n        super().__init__()\n        self._rate = rate\n\n"
            "    def forward(self, x):\n        axes = {4: (2, 3), 3: (2,), 2: ()}.get(x.ndim)\n        if axes is None:\n"
            "            raise ValueError(\"torch2gluon: Dropout2d of a %d-D input is not translated\" % x.ndim)\n"
            "        return nd.Dropout(x, p=self._rate, axes=axes) if self._rate > 0 else x\n\n\n"
            "d3 = _T2GDropout2d(rate=0.1)\n",
            id="channel dropout",
        ),
    )

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        name = self.ctx.call_name(original)
        kind = torch_nn_name(name, "Dropout", "Dropout2d")
        if name is None or kind is None:
            return None
        try:
            b = bind(updated, ["p", "inplace"])
        except Unbindable as e:
            self.keep(original, name, str(e))
            return None
        args = [arg(b.get("p") or cst.Float("0.5"), "rate")]
        if kind == "Dropout2d":
            self.ctx.helper(*DROPOUT2D_HELPER)
            return cst.Call(func=cst.Name("_T2GDropout2d"), args=args)
        return self.ctx.call("mxnet.gluon.nn.Dropout", *args)


class Activations(Rule):
    """``nn.Sigmoid``/``nn.Tanh``/``nn.LeakyReLU`` become Gluon activation layers.

    ## What it does
    ``nn.Sigmoid()`` and ``nn.Tanh()`` become ``nn.Activation("sigmoid")`` and
    ``nn.Activation("tanh")``; ``nn.LeakyReLU(slope)`` becomes
    ``nn.LeakyReLU(slope)`` with torch's default 0.01 written out.

    ## Why
    Gluon 1.9 has no ``Sigmoid``/``Tanh`` classes, and its ``LeakyReLU``
    requires the slope.

    ## Flags
    Nothing: ``inplace`` only saves memory.

    ## Fix safety
    Safe: same outputs and gradients.
    """

    code = "T2G207"
    name = "activations"
    summary = "nn.Sigmoid/Tanh -> nn.Activation, nn.LeakyReLU -> nn.LeakyReLU(alpha)"
    examples = (
        Example(
            "from torch import nn\na = nn.Sigmoid()\nb = nn.Tanh()\nc = nn.LeakyReLU()\nd = nn.LeakyReLU(negative_slope=0.2)\n",
            'from mxnet.gluon import nn\n\na = nn.Activation("sigmoid")\nb = nn.Activation("tanh")\n'
            "c = nn.LeakyReLU(0.01)\nd = nn.LeakyReLU(0.2)\n",
            id="activations",
        ),
    )

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        name = self.ctx.call_name(original)
        kind = torch_nn_name(name, "Sigmoid", "Tanh", "LeakyReLU")
        if name is None or kind is None:
            return None
        try:
            if kind == "LeakyReLU":
                b = bind(updated, ["negative_slope", "inplace"])
                return self.ctx.call("mxnet.gluon.nn.LeakyReLU", arg(b.get("negative_slope") or cst.Float("0.01")))
            bind(updated, [])
        except Unbindable as e:
            self.keep(original, name, str(e))
            return None
        return self.ctx.call("mxnet.gluon.nn.Activation", arg(cst.SimpleString(f'"{kind.lower()}"')))


class Flatten(Rule):
    """``nn.Flatten()`` becomes ``nn.Flatten()``.

    ## What it does
    Keeps the layer, in Gluon.

    ## Why
    torch's default ``start_dim=1, end_dim=-1`` is what Gluon's ``Flatten``
    does: (N, ...) -> (N, prod(...)).

    ## Flags
    Other ``start_dim``/``end_dim`` values.

    ## Fix safety
    Safe.
    """

    code = "T2G208"
    name = "flatten"
    summary = "nn.Flatten() -> nn.Flatten()"
    examples = (
        Example(
            "from torch import nn\nf = nn.Flatten()\ng = nn.Flatten(1, -1)\n",
            "from mxnet.gluon import nn\n\nf = nn.Flatten()\ng = nn.Flatten()\n",
            id="flatten",
        ),
        Example(
            "from torch import nn\nf = nn.Flatten(0)\n",
            "from torch import nn\n# torch2gluon: T2G208: `torch.nn.Flatten` with dimensions other than "
            "`start_dim=1, end_dim=-1` is not translated yet; left as is\nf = nn.Flatten(0)\n",
            diagnostics=("T2G208",),
            id="other dimensions are flagged",
        ),
    )

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        name = self.ctx.call_name(original)
        if name is None or torch_nn_name(name, "Flatten") is None:
            return None
        try:
            b = bind(updated, ["start_dim", "end_dim"])
            if ("start_dim" in b and not is_literal(b["start_dim"], 1)) or (
                "end_dim" in b and not is_literal(b["end_dim"], -1)
            ):
                raise Unbindable("with dimensions other than `start_dim=1, end_dim=-1` is not translated yet")
        except Unbindable as e:
            self.keep(original, name, str(e))
            return None
        return self.ctx.call("mxnet.gluon.nn.Flatten")
