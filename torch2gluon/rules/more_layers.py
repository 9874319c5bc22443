"""More ``torch.nn`` layers: Embedding, LayerNorm, 1-D and transposed convolutions,
GELU/Softmax/LogSoftmax/Identity, LazyLinear.

Also the ``layer = nn.X(...)`` statement form for every layer of this module
and of ``recurrent``: Gluon needs ``layer.initialize()`` after it.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from ..base.syntax import arg
from ..base.diagnostics import Severity
from ._base import Example, NotLiteral, Rule, Unbindable, bind, code_of, literal
from ..base.syntax import is_literal
from ..facts.nn import STANDALONE, nn_class
from ..rewrite.layers import default_init_warning, initialize_standalone, translate_conv


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _shown(node: cst.BaseExpression) -> str:
    value = literal(node)
    return repr(value) if value is not NotLiteral else code_of(node)


# ---------------------------------------------------------------------------
# Embedding
# ---------------------------------------------------------------------------


class Embedding(Rule):
    """``nn.Embedding(num, dim)`` becomes ``nn.Embedding(num, dim)`` with torch's N(0, 1) start.

    ## What it does
    ``nn.Embedding(num_embeddings, embedding_dim)`` becomes
    ``nn.Embedding(num_embeddings, embedding_dim,
    weight_initializer=init.Normal(1.0))``.

    ## Why
    Both store the table as (num, dim) and look rows up the same way. torch
    starts the table from N(0, 1); Gluon's default is U(±0.07). ``mx.init.Normal``
    takes the standard deviation, so ``Normal(1.0)`` is N(0, 1).

    ## Flags
    ``padding_idx`` (torch keeps that row at zero and gives it no gradient),
    ``max_norm``, ``scale_grad_by_freq``, ``sparse``, ``_weight``/``_freeze``
    and ``device``/``dtype`` are left as is with an error. Every translation
    carries a warning: MXNet does not check indices; an index out of range
    silently reads a row (measured: 12 in a table of 10 read row 9, -1 read
    row 0), where torch raises ``IndexError``.

    ## Fix safety
    Safe for valid indices: same outputs and gradients with the same table.
    """

    code = "T2G222"
    name = "embedding"
    summary = "nn.Embedding(num, dim) -> nn.Embedding(num, dim, weight_initializer=init.Normal(1.0))"
    examples = (
        Example(
            "from torch import nn\nemb = nn.Embedding(1000, 64)\n",
            "from mxnet import init\nfrom mxnet.gluon import nn\n\n"
            "# torch2gluon: T2G222: MXNet does not check indices: an index out of range silently reads "
            "a row (torch raises IndexError)\n"
            "emb = nn.Embedding(1000, 64, weight_initializer=init.Normal(1.0))\nemb.initialize()\n",
            diagnostics=("T2G222",),
            id="embedding with torch's start",
        ),
        Example(
            "from torch import nn\nemb = nn.Embedding(1000, 64, padding_idx=0)\n",
            "from torch import nn\n"
            "# torch2gluon: T2G222: `torch.nn.Embedding` with `padding_idx` is not translated "
            "(Gluon has no padding row); left as is\n"
            "emb = nn.Embedding(1000, 64, padding_idx=0)\n",
            diagnostics=("T2G222",),
            id="padding index is flagged",
        ),
    )

    PARAMS = ["num_embeddings", "embedding_dim", "padding_idx", "max_norm", "norm_type", "scale_grad_by_freq",
              "sparse", "_weight", "_freeze", "device", "dtype"]

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        name = self.ctx.call_name(original)
        if name is None or nn_class(name, "Embedding") is None:
            return None
        try:
            b = bind(updated, self.PARAMS)
            for key in ("num_embeddings", "embedding_dim"):
                if key not in b:
                    raise Unbindable(f"needs `{key}`")
            for key, default, why in (
                ("padding_idx", None, "(Gluon has no padding row)"),
                ("max_norm", None, "(Gluon does not renormalise rows)"),
                ("scale_grad_by_freq", False, "(Gluon does not scale gradients by frequency)"),
                ("sparse", False, "(sparse gradients are not translated yet)"),
                ("_weight", None, "(a given table is not translated yet)"),
                ("_freeze", False, "(a frozen table is not translated yet)"),
                ("device", None, "(not translated yet)"),
                ("dtype", None, "(not translated yet)"),
            ):
                if key in b and not is_literal(b[key], default):
                    raise Unbindable(f"with `{key}` is not translated {why}")
        except Unbindable as e:
            self.keep(original, name, str(e))
            return None
        args = [arg(b["num_embeddings"]), arg(b["embedding_dim"])]
        if self.ctx.options.init == "torch":
            args.append(arg(self.ctx.call("mxnet.init.Normal", arg(cst.Float("1.0"))), "weight_initializer"))
        else:
            self.report(original, "Gluon's default initialisation (uniform ±0.07) differs from torch's N(0, 1)",
                        severity=Severity.WARNING)
        self.report(
            original,
            "MXNet does not check indices: an index out of range silently reads a row (torch raises IndexError)",
            severity=Severity.WARNING,
        )
        return self.ctx.call("mxnet.gluon.nn.Embedding", *args)


# ---------------------------------------------------------------------------
# LayerNorm
# ---------------------------------------------------------------------------


class LayerNorm(Rule):
    """``nn.LayerNorm(d)`` becomes ``nn.LayerNorm(axis=-1, in_channels=d)``.

    ## What it does
    ``nn.LayerNorm(normalized_shape, eps, elementwise_affine, bias)`` with one
    normalised axis (an int, or a 1-element tuple/list) becomes
    ``nn.LayerNorm(axis=-1, epsilon=eps, in_channels=d)``;
    ``elementwise_affine=False`` becomes ``center=False, scale=False`` and
    ``bias=False`` ``center=False``.

    ## Why
    Both normalise over the last axis with the biased variance, eps 1e-5 by
    default, and start from gamma = 1, beta = 0.

    ## Flags
    More than one normalised axis (Gluon normalises over one axis only), a
    literal that is not an int, and ``device``/``dtype`` are left as is with
    an error. A ``normalized_shape`` that is not a literal (``d_model``) is
    assumed to be an int, with a warning (a tuple there makes Gluon raise a
    ``TypeError`` at construction).

    ## Fix safety
    Safe: same outputs and gradients (measured ≤ 1e-6).
    """

    code = "T2G223"
    name = "layernorm"
    summary = "nn.LayerNorm(d) -> nn.LayerNorm(axis=-1, in_channels=d)"
    examples = (
        Example(
            "from torch import nn\nln = nn.LayerNorm(64)\nln2 = nn.LayerNorm((32,), eps=1e-6, elementwise_affine=False)\n",
            "from mxnet.gluon import nn\n\nln = nn.LayerNorm(axis=-1, in_channels=64)\nln.initialize()\n"
            "ln2 = nn.LayerNorm(axis=-1, epsilon=1e-6, center=False, scale=False, in_channels=32)\n"
            "ln2.initialize()\n",
            id="layer norm over the last axis",
        ),
        Example(
            "from torch import nn\nln = nn.LayerNorm([4, 5])\n",
            "from torch import nn\n# torch2gluon: T2G223: `torch.nn.LayerNorm` over more than one axis is not "
            "translated (Gluon normalises over one axis); left as is\nln = nn.LayerNorm([4, 5])\n",
            diagnostics=("T2G223",),
            id="several axes are flagged",
        ),
    )

    PARAMS = ["normalized_shape", "eps", "elementwise_affine", "bias", "device", "dtype"]

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        name = self.ctx.call_name(original)
        if name is None or nn_class(name, "LayerNorm") is None:
            return None
        try:
            b = bind(updated, self.PARAMS)
            if "normalized_shape" not in b:
                raise Unbindable("needs `normalized_shape`")
            for key in ("device", "dtype"):
                if key in b and not is_literal(b[key], None):
                    raise Unbindable(f"argument `{key}` is not translated yet")
            for key in ("elementwise_affine", "bias"):
                if key in b and not (is_literal(b[key], True) or is_literal(b[key], False)):
                    raise Unbindable(f"with a `{key}` flag decided at run time is not translated")
            shape = b["normalized_shape"]
            value = literal(shape)
            channels: cst.BaseExpression = shape
            if isinstance(shape, (cst.Tuple, cst.List)):
                if len(shape.elements) != 1:
                    raise Unbindable("over more than one axis is not translated (Gluon normalises over one axis)")
                element = shape.elements[0]
                if isinstance(element, cst.StarredElement):
                    raise Unbindable("with a starred shape is not translated")
                channels = element.value
            elif value is not NotLiteral and not _is_int(value):
                raise Unbindable(f"with `normalized_shape={value!r}` is not valid")
            elif value is NotLiteral:
                self.report(
                    original,
                    f"`{code_of(shape)}` is assumed to be an int (one normalised axis)",
                    severity=Severity.WARNING,
                )
        except Unbindable as e:
            self.keep(original, name, str(e))
            return None
        args = [arg(cst.parse_expression("-1"), "axis")]
        eps = b.get("eps")
        if eps is not None and not is_literal(eps, 1e-5):
            args.append(arg(eps, "epsilon"))
        no_affine = is_literal(b.get("elementwise_affine"), False)
        if no_affine or is_literal(b.get("bias"), False):
            args.append(arg(cst.Name("False"), "center"))
        if no_affine:
            args.append(arg(cst.Name("False"), "scale"))
        args.append(arg(channels, "in_channels"))
        return self.ctx.call("mxnet.gluon.nn.LayerNorm", *args)


# ---------------------------------------------------------------------------
# Conv1d, ConvTranspose1d/2d
# ---------------------------------------------------------------------------

_CONV_KINDS = {
    # torch class -> (Gluon class, spatial dims, transposed)
    "Conv1d": ("Conv1D", 1, False),
    "ConvTranspose1d": ("Conv1DTranspose", 1, True),
    "ConvTranspose2d": ("Conv2DTranspose", 2, True),
}


class MoreConvolutions(Rule):
    """``nn.Conv1d``/``nn.ConvTranspose1d``/``nn.ConvTranspose2d`` become Gluon's, with torch's start.

    ## What it does
    ``nn.Conv1d(in, out, k, stride, padding, dilation, groups, bias)`` becomes
    ``nn.Conv1D(out, k, strides=, padding=, dilation=, groups=, use_bias=,
    in_channels=in)``. ``nn.ConvTranspose2d(in, out, k, stride, padding,
    output_padding, groups, bias, dilation)`` becomes
    ``nn.Conv2DTranspose(out, k, strides=, padding=, output_padding=,
    dilation=, groups=, use_bias=, in_channels=in)`` (``ConvTranspose1d``:
    ``Conv1DTranspose``). Arguments equal to the shared defaults are left out.

    ## Why
    The weight layouts are the same: (out, in/groups, k...) for convolutions
    and (in, out/groups, k...) for transposed ones, so copied weights give the
    same outputs. torch starts weight and bias from U(±1/sqrt(fan_in)), where
    ``fan_in`` is ``weight.size(1)`` times the kernel size: in/groups·k for a
    convolution, **out/groups·k** for a transposed one. With ``init="torch"``
    (the default) that distribution is written out.

    ## Flags
    ``padding='same'``, a ``padding_mode`` other than ``'zeros'``,
    ``device``/``dtype`` (errors). A kernel size that is not a literal keeps
    Gluon's initial distribution, with a warning.

    ## Fix safety
    Safe: same outputs and gradients with the same weights.
    """

    code = "T2G224"
    name = "more-convolutions"
    summary = "nn.Conv1d -> nn.Conv1D, nn.ConvTranspose2d -> nn.Conv2DTranspose"
    examples = (
        Example(
            "from torch import nn\nconv = nn.Conv1d(16, 32, 5, padding=2)\n",
            "from mxnet import init\nfrom mxnet.gluon import nn\n\n"
            "conv = nn.Conv1D(\n    32,\n    5,\n    padding=2,\n    in_channels=16,\n"
            "    weight_initializer=init.Uniform((16 * 5) ** -0.5),\n"
            "    bias_initializer=init.Uniform((16 * 5) ** -0.5),\n)\nconv.initialize()\n",
            id="conv1d",
        ),
        Example(
            "from torch import nn\nup = nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1, bias=False)\n",
            "from mxnet import init\nfrom mxnet.gluon import nn\n\n"
            "up = nn.Conv2DTranspose(\n    32,\n    4,\n    strides=2,\n    padding=1,\n    use_bias=False,\n"
            "    in_channels=64,\n    weight_initializer=init.Uniform((32 * 4 * 4) ** -0.5),\n)\nup.initialize()\n",
            id="transposed conv: fan_in from the output channels",
        ),
        Example(
            "from torch import nn\nconv = nn.Conv1d(16, 32, 4, padding='same')\n",
            "from torch import nn\n# torch2gluon: T2G224: `torch.nn.Conv1d` with `padding='same'` is not translated "
            "(MXNet has no 'same' padding); left as is\nconv = nn.Conv1d(16, 32, 4, padding='same')\n",
            diagnostics=("T2G224",),
            id="same padding is flagged",
        ),
    )

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        name = self.ctx.call_name(original)
        kind = nn_class(name, *_CONV_KINDS)
        if name is None or kind is None:
            return None
        target, dims, transposed = _CONV_KINDS[kind]
        return translate_conv(self, original, updated, name, target, dims, transposed)


# ---------------------------------------------------------------------------
# GELU, Softmax, LogSoftmax, Identity
# ---------------------------------------------------------------------------

# torch's tanh approximation of GELU, written with the Gluon ``F`` namespace
_GELU_TANH = "lambda F, x: 0.5 * x * (1 + F.tanh(0.7978845608028654 * (x + 0.044715 * x**3)))"


class ParameterFreeLayers(Rule):
    """``nn.GELU``, ``nn.Softmax(dim)``, ``nn.LogSoftmax(dim)`` and ``nn.Identity`` become Gluon blocks.

    ## What it does
    ``nn.GELU()`` becomes ``nn.GELU()``; ``nn.GELU(approximate='tanh')``
    becomes a ``nn.HybridLambda`` with torch's tanh formula.
    ``nn.Softmax(dim=d)``/``nn.LogSoftmax(dim=d)`` become
    ``nn.HybridLambda(lambda F, x: F.softmax(x, axis=d))`` (``log_softmax``).
    ``nn.Identity(...)`` becomes ``gluon.contrib.nn.Identity()``.

    ## Why
    Gluon 1.9's ``GELU`` is the exact erf form, torch's default (measured
    ≤ 5e-7; against torch's tanh approximation it differs by up to 4.4e-4).
    Gluon 1.9 has no softmax layers and no ``Identity`` in ``gluon.nn``.
    ``F.softmax`` defaults to the last axis, so the axis is always written.

    ## Flags
    ``nn.Softmax()``/``nn.LogSoftmax()`` without ``dim`` (torch then picks the
    axis from the input's rank), and an ``approximate`` that is not a literal,
    are left as is with an error.

    ## Fix safety
    Safe: same outputs and gradients.
    """

    code = "T2G225"
    name = "parameter-free-layers"
    summary = "nn.GELU/Softmax/LogSoftmax/Identity -> nn.GELU / HybridLambda / contrib Identity"
    examples = (
        Example(
            "from torch import nn\na = nn.GELU()\nb = nn.Softmax(dim=1)\nc = nn.LogSoftmax(-1)\nd = nn.Identity()\n",
            "from mxnet import gluon\nfrom mxnet.gluon import nn\n\na = nn.GELU()\n"
            "b = nn.HybridLambda(lambda F, x: F.softmax(x, axis=1))\n"
            "c = nn.HybridLambda(lambda F, x: F.log_softmax(x, axis=-1))\n"
            "d = gluon.contrib.nn.Identity()\n",
            id="gelu, softmax, log-softmax, identity",
        ),
        Example(
            "from torch import nn\na = nn.GELU(approximate='tanh')\n",
            "from mxnet.gluon import nn\n\n"
            "a = nn.HybridLambda(\n"
            "    lambda F, x: 0.5 * x * (1 + F.tanh(0.7978845608028654 * (x + 0.044715 * x**3)))\n)\n",
            id="gelu with the tanh approximation",
        ),
        Example(
            "from torch import nn\ns = nn.Softmax()\n",
            "from torch import nn\n# torch2gluon: T2G225: `torch.nn.Softmax` without `dim` is not translated "
            "(torch picks the axis from the input's rank); left as is\ns = nn.Softmax()\n",
            diagnostics=("T2G225",),
            id="softmax without dim is flagged",
        ),
    )

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        name = self.ctx.call_name(original)
        kind = nn_class(name, "GELU", "Softmax", "LogSoftmax", "Identity")
        if name is None or kind is None:
            return None
        if kind == "Identity":  # torch ignores every argument
            return self.ctx.call("mxnet.gluon.contrib.nn.Identity")
        try:
            if kind == "GELU":
                b = bind(updated, ["approximate"])
                approx = b.get("approximate")
                if approx is None or is_literal(approx, "none"):
                    return self.ctx.call("mxnet.gluon.nn.GELU")
                if is_literal(approx, "tanh"):
                    return self.ctx.call("mxnet.gluon.nn.HybridLambda", arg(cst.parse_expression(_GELU_TANH)))
                raise Unbindable(f"with `approximate={_shown(approx)}` is not translated")
            b = bind(updated, ["dim"])
            dim = b.get("dim")
            if dim is None or is_literal(dim, None):
                raise Unbindable("without `dim` is not translated (torch picks the axis from the input's rank)")
        except Unbindable as e:
            self.keep(original, name, str(e))
            return None
        fn = "softmax" if kind == "Softmax" else "log_softmax"
        body = cst.parse_expression(f"lambda F, x: F.{fn}(x, axis=_)")
        assert isinstance(body, cst.Lambda) and isinstance(body.body, cst.Call)
        call = body.body
        call = call.with_changes(args=[call.args[0], call.args[1].with_changes(value=dim)])
        return self.ctx.call("mxnet.gluon.nn.HybridLambda", arg(body.with_changes(body=call)))


# ---------------------------------------------------------------------------
# LazyLinear
# ---------------------------------------------------------------------------


class LazyLinear(Rule):
    """``nn.LazyLinear(out)`` becomes ``nn.Dense(out, flatten=False)`` with in_units inferred.

    ## What it does
    ``nn.LazyLinear(out_features, bias)`` becomes ``nn.Dense(out_features,
    flatten=False, use_bias=bias, weight_initializer=init.Xavier(
    rnd_type="uniform", factor_type="in", magnitude=1))``.

    ## Why
    Both infer the input size at the first call. torch then starts the weight
    from U(±1/sqrt(in)); MXNet's ``Xavier(uniform, factor_type="in",
    magnitude=1)`` draws from U(±sqrt(1/fan_in)) with ``fan_in`` read from
    the weight's (out, in) shape: the same distribution, known only when the
    shape is.

    ## Flags
    A warning on every translation with a bias: torch starts the bias from
    U(±1/sqrt(in)) too, but a Gluon bias initializer never sees ``in``, so the
    bias starts at zero. ``device``/``dtype``: error.

    ## Fix safety
    Same outputs and gradients with the same weights; the initial bias differs.
    """

    code = "T2G226"
    name = "lazy-linear"
    summary = "nn.LazyLinear(out) -> nn.Dense(out, flatten=False) with a fan-in initializer"
    examples = (
        Example(
            "from torch import nn\nfc = nn.LazyLinear(10)\n",
            "from mxnet import init\nfrom mxnet.gluon import nn\n\n"
            "# torch2gluon: T2G226: torch starts the bias from U(±1/sqrt(in_features)), known only at the first "
            "call; the Gluon bias starts at zero\n"
            "fc = nn.Dense(\n    10,\n    flatten=False,\n"
            "    weight_initializer=init.Xavier(rnd_type=\"uniform\", factor_type=\"in\", magnitude=1),\n)\n"
            "fc.initialize()\n",
            diagnostics=("T2G226",),
            id="lazy linear",
        ),
        Example(
            "from torch import nn\nfc = nn.LazyLinear(10, bias=False)\n",
            "from mxnet import init\nfrom mxnet.gluon import nn\n\n"
            "fc = nn.Dense(\n    10,\n    flatten=False,\n    use_bias=False,\n"
            "    weight_initializer=init.Xavier(rnd_type=\"uniform\", factor_type=\"in\", magnitude=1),\n)\n"
            "fc.initialize()\n",
            id="lazy linear without bias: exact",
        ),
    )

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        name = self.ctx.call_name(original)
        if name is None or nn_class(name, "LazyLinear") is None:
            return None
        try:
            b = bind(updated, ["out_features", "bias", "device", "dtype"])
            if "out_features" not in b:
                raise Unbindable("needs `out_features`")
            for key in ("device", "dtype"):
                if key in b and not is_literal(b[key], None):
                    raise Unbindable(f"argument `{key}` is not translated yet")
            bias = b.get("bias")
            if bias is not None and not (is_literal(bias, True) or is_literal(bias, False)):
                raise Unbindable("with a `bias` flag decided at run time is not translated")
        except Unbindable as e:
            self.keep(original, name, str(e))
            return None
        args = [arg(b["out_features"]), arg(cst.Name("False"), "flatten")]
        no_bias = is_literal(bias, False)
        if no_bias:
            args.append(arg(cst.Name("False"), "use_bias"))
        if self.ctx.options.init == "torch":
            xavier = self.ctx.call(
                "mxnet.init.Xavier",
                arg(cst.SimpleString('"uniform"'), "rnd_type"),
                arg(cst.SimpleString('"in"'), "factor_type"),
                arg(cst.Integer("1"), "magnitude"),
            )
            args.append(arg(xavier, "weight_initializer"))
            if not no_bias:
                self.report(
                    original,
                    "torch starts the bias from U(±1/sqrt(in_features)), known only at the first call; "
                    "the Gluon bias starts at zero",
                    severity=Severity.WARNING,
                )
        else:
            default_init_warning(self, original)
        return self.ctx.call("mxnet.gluon.nn.Dense", *args)


# ---------------------------------------------------------------------------
# ``layer = nn.X(...)`` on its own: initialize()
# ---------------------------------------------------------------------------


class InitializeStandalone(Rule):
    """``layer = nn.X(...)`` for the layers above (and LSTM/GRU/RNN) is followed by ``layer.initialize()``.

    ## What it does
    Where one of these layers is assigned to a plain name as a statement of
    its own, ``name.initialize()`` follows, and the name is known as a model
    to the other rules. Layers inside a ``Sequential`` or assigned to
    attributes of a ``Block`` are initialised with their container.

    ## Why
    Gluon parameters exist only after ``initialize()``; torch's exist at
    construction.

    ## Fix safety
    Safe (Gluon skips parameters that already have values).
    """

    code = "T2G227"
    name = "initialize-standalone"
    summary = "layer = nn.Embedding/LayerNorm/Conv1d/LSTM/...(...) -> + layer.initialize()"
    examples = (
        Example(
            "import torch\nln = torch.nn.LayerNorm(8)\n",
            "from mxnet.gluon import nn\n\nln = nn.LayerNorm(axis=-1, in_channels=8)\nln.initialize()\n",
            id="standalone layer is initialised",
        ),
    )

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        return initialize_standalone(self.ctx, original, updated, STANDALONE)
