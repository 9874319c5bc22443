"""``torch.nn.functional`` (and the ``torch.*`` twins) become ``mxnet.nd`` operators."""

from __future__ import annotations

from typing import Dict, Optional, Set

import libcst as cst

from ..base.syntax import arg
from ..base.diagnostics import Severity
from ._base import Example, Rule, Unbindable, bind, code_of, literal
from ..base.syntax import is_literal
from ..rewrite.layers import ceil_mode_matches, with_parens
from ..rewrite.losses import loss_elements, reduced
from ..rewrite.templates import inline

F = "torch.nn.functional."


def _pair_expr(node: cst.BaseExpression, what: str) -> cst.BaseExpression:
    """An int literal ``k`` -> ``(k, k)``; a 2-element tuple/list -> a tuple; else Unbindable."""
    value = literal(node)
    if isinstance(value, int) and not isinstance(value, bool):
        return cst.Tuple(elements=[cst.Element(value=node), cst.Element(value=node)])
    if isinstance(node, (cst.Tuple, cst.List)) and len(node.elements) == 2 and not any(
        isinstance(e, cst.StarredElement) for e in node.elements
    ):
        return cst.Tuple(elements=[cst.Element(value=e.value) for e in node.elements])
    raise Unbindable(f"with a {what} that is not an int or a pair written out is not translated yet")


_SIMPLE = {
    F + "relu": ("mxnet.nd.relu", ["input", "inplace"]),
    "torch.relu": ("mxnet.nd.relu", ["input"]),
    F + "sigmoid": ("mxnet.nd.sigmoid", ["input"]),
    "torch.sigmoid": ("mxnet.nd.sigmoid", ["input"]),
    F + "tanh": ("mxnet.nd.tanh", ["input"]),
    "torch.tanh": ("mxnet.nd.tanh", ["input"]),
}
_SOFTMAX = {
    F + "softmax": ("mxnet.nd.softmax", ["input", "dim", "_stacklevel", "dtype"]),
    F + "log_softmax": ("mxnet.nd.log_softmax", ["input", "dim", "_stacklevel", "dtype"]),
    "torch.softmax": ("mxnet.nd.softmax", ["input", "dim", "dtype"]),
    "torch.log_softmax": ("mxnet.nd.log_softmax", ["input", "dim", "dtype"]),
}


class FunctionalActivations(Rule):
    """``F.relu``/``sigmoid``/``tanh``/``softmax``/``log_softmax``/``leaky_relu`` become ``nd`` operators.

    ## What it does
    ``F.relu(x)`` becomes ``nd.relu(x)`` (also ``torch.relu``, ``sigmoid``,
    ``tanh``); ``F.softmax(x, dim=d)`` and ``F.log_softmax(x, dim=d)`` become
    ``nd.softmax(x, axis=d)`` and ``nd.log_softmax(x, axis=d)``;
    ``F.leaky_relu(x, s)`` becomes ``nd.LeakyReLU(x, act_type="leaky", slope=s)``.

    ## Why
    ``nd.softmax`` reduces over the last axis by default; torch's implicit
    dimension depends on the input's rank, so the axis is always written and a
    call without ``dim`` is not guessed.

    ## Flags
    ``softmax``/``log_softmax`` without ``dim`` or with ``dtype``;
    ``inplace=True`` where the call is a statement of its own (a warning where
    the result is assigned to another name than the input).

    ## Fix safety
    Safe: same values and gradients.
    """

    code = "T2G701"
    name = "functional-activations"
    summary = "F.relu/sigmoid/tanh/softmax/log_softmax/leaky_relu -> nd operators"
    examples = (
        Example(
            "import torch\nimport torch.nn.functional as F\n"
            "def forward(x):\n    x = F.relu(x)\n    x = torch.tanh(F.sigmoid(x))\n    return F.log_softmax(x, dim=1)\n",
            "from mxnet import nd\n\n\n"
            "def forward(x):\n    x = nd.relu(x)\n    x = nd.tanh(nd.sigmoid(x))\n    return nd.log_softmax(x, axis=1)\n",
            id="activations",
        ),
        Example(
            "from torch.nn import functional as F\np = F.softmax(dim=-1, input=z)\nq = F.leaky_relu(z, 0.2)\n"
            "z = F.relu(z, inplace=True)\n",
            "from mxnet import nd\n\np = nd.softmax(z, axis=-1)\nq = nd.LeakyReLU(z, act_type=\"leaky\", slope=0.2)\n"
            "z = nd.relu(z)\n",
            id="keywords, leaky relu, inplace assigned back",
        ),
        Example(
            "import torch.nn.functional as F\np = F.softmax(z)\n",
            "import torch.nn.functional as F\n# torch2gluon: T2G701: `torch.nn.functional.softmax` without `dim` "
            "(torch picks the axis from the input's rank) is not translated; left as is\np = F.softmax(z)\n",
            diagnostics=("T2G701",),
            id="implicit dim is flagged",
        ),
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._uses: Dict[int, str] = {}  # id(call) -> the name it is assigned to, "" if thrown away

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        for small in node.body:
            if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
                self._uses[id(small.value)] = ""
            elif (
                isinstance(small, cst.Assign)
                and isinstance(small.value, cst.Call)
                and len(small.targets) == 1
                and isinstance(small.targets[0].target, cst.Name)
            ):
                self._uses[id(small.value)] = small.targets[0].target.value

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        name = self.ctx.call_name(original)
        if name is None:
            return None
        try:
            if name in _SIMPLE:
                target, params = _SIMPLE[name]
                b = bind(updated, params)
                if "input" not in b:
                    raise Unbindable("needs `input`")
                self._inplace(original, b, name)
                return self.ctx.call(target, arg(b["input"]))
            if name in _SOFTMAX:
                target, params = _SOFTMAX[name]
                b = bind(updated, params)
                if "input" not in b:
                    raise Unbindable("needs `input`")
                if "dim" not in b or is_literal(b["dim"], None):
                    raise Unbindable("without `dim` (torch picks the axis from the input's rank) is not translated")
                if "dtype" in b and not is_literal(b["dtype"], None):
                    raise Unbindable("with `dtype` is not translated yet")
                return self.ctx.call(target, arg(b["input"]), arg(b["dim"], "axis"))
            if name == F + "leaky_relu":
                b = bind(updated, ["input", "negative_slope", "inplace"])
                if "input" not in b:
                    raise Unbindable("needs `input`")
                self._inplace(original, b, name)
                return self.ctx.call(
                    "mxnet.nd.LeakyReLU",
                    arg(b["input"]),
                    arg(cst.SimpleString('"leaky"'), "act_type"),
                    arg(b.get("negative_slope") or cst.Float("0.01"), "slope"),
                )
        except Unbindable as e:
            self.keep(original, name, str(e))
            return None
        return None

    def _inplace(self, original, b, name) -> None:
        inplace = b.get("inplace")
        if inplace is None or is_literal(inplace, False):
            return
        if not is_literal(inplace, True):
            raise Unbindable("with an `inplace` flag decided at run time is not translated")
        use = self._uses.get(id(original))
        if use == "":
            raise Unbindable("with `inplace=True` as a statement of its own is not translated (its effect is the write)")
        x = b.get("input")
        if not (isinstance(x, cst.Name) and use == x.value):
            self.report(
                original,
                f"`{name}(..., inplace=True)` also overwrites its input in torch; the MXNet operator returns a new array",
                severity=Severity.WARNING,
            )


class FunctionalPooling(Rule):
    """``F.max_pool2d``/``F.avg_pool2d`` become ``nd.Pooling`` with torch's stride.

    ## What it does
    ``F.max_pool2d(x, k)`` becomes
    ``nd.Pooling(x, kernel=(k, k), pool_type="max", stride=(k, k))``; a given
    stride and padding become ``stride=``/``pad=`` pairs; ``F.avg_pool2d``
    becomes ``pool_type="avg"`` with ``count_include_pad``.

    ## Why
    ``nd.Pooling``'s stride defaults to 1 (torch's to the kernel size), so the
    stride is always written out (measured: a 5×5 output instead of 3×3
    without it). ``nd.Pooling`` takes pairs, not ints. ``ceil_mode=True``
    becomes ``pooling_convention="full"`` where that gives torch's output size
    (see T2G204).

    ## Flags
    Kernel, stride or padding held in a variable (an int or a pair: unknown),
    ``dilation``, ``return_indices``, ``divisor_override``, and
    ``ceil_mode=True`` where the output sizes could differ.

    ## Fix safety
    Safe: same outputs and gradients.
    """

    code = "T2G702"
    name = "functional-pooling"
    summary = "F.max_pool2d/avg_pool2d -> nd.Pooling(kernel, stride=kernel, ...)"
    examples = (
        Example(
            "import torch.nn.functional as F\ny = F.max_pool2d(x, 2)\nz = F.avg_pool2d(x, (3, 3), stride=1, padding=1)\n",
            "from mxnet import nd\n\ny = nd.Pooling(x, kernel=(2, 2), pool_type=\"max\", stride=(2, 2))\n"
            "z = nd.Pooling(x, kernel=(3, 3), pool_type=\"avg\", stride=(1, 1), pad=(1, 1))\n",
            id="stride defaults to the kernel",
        ),
        Example(
            "import torch.nn.functional as F\ny = F.max_pool2d(x, k)\n",
            "import torch.nn.functional as F\n# torch2gluon: T2G702: `torch.nn.functional.max_pool2d` with a kernel size "
            "that is not an int or a pair written out is not translated yet; left as is\ny = F.max_pool2d(x, k)\n",
            diagnostics=("T2G702",),
            id="kernel in a variable is flagged",
        ),
    )

    MAX = ["input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"]
    AVG = ["input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"]

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        name = self.ctx.call_name(original)
        if name not in (F + "max_pool2d", F + "avg_pool2d"):
            return None
        kind = "max" if name.endswith("max_pool2d") else "avg"
        try:
            b = bind(updated, self.MAX if kind == "max" else self.AVG)
            if "input" not in b or "kernel_size" not in b:
                raise Unbindable("needs `input` and `kernel_size`")
            if "dilation" in b and not is_literal(b["dilation"], 1):
                raise Unbindable("with `dilation` is not translated (MXNet's pooling has no dilation)")
            if "return_indices" in b and not is_literal(b["return_indices"], False):
                raise Unbindable("with `return_indices` is not translated")
            if "divisor_override" in b and not is_literal(b["divisor_override"], None):
                raise Unbindable("with `divisor_override` is not translated")
            kernel = _pair_expr(b["kernel_size"], "kernel size")
            stride_node = b.get("stride")
            if stride_node is None or is_literal(stride_node, None):
                stride = _pair_expr(b["kernel_size"], "kernel size")
            else:
                stride = _pair_expr(stride_node, "stride")
            padding = b.get("padding")
            pad = None if padding is None or is_literal(padding, 0) else _pair_expr(padding, "padding")
            ceil = b.get("ceil_mode")
            full = False
            if ceil is not None and not is_literal(ceil, False):
                if not is_literal(ceil, True):
                    raise Unbindable("with a `ceil_mode` decided at run time is not translated")
                if not ceil_mode_matches(b["kernel_size"], stride_node, padding):
                    raise Unbindable(
                        "with `ceil_mode=True` gives other output sizes in MXNet when stride > kernel - padding"
                    )
                full = True
        except Unbindable as e:
            self.keep(original, name, str(e))
            return None
        args = [
            arg(b["input"]),
            arg(kernel, "kernel"),
            arg(cst.SimpleString(f'"{kind}"'), "pool_type"),
            arg(stride, "stride"),
        ]
        if pad is not None:
            args.append(arg(pad, "pad"))
        if full:
            args.append(arg(cst.SimpleString('"full"'), "pooling_convention"))
        cip = b.get("count_include_pad")
        if cip is not None and not is_literal(cip, True):
            args.append(arg(cip, "count_include_pad"))
        return self.ctx.call("mxnet.nd.Pooling", *args)


class FunctionalDropout(Rule):
    """``F.dropout(x, p)`` becomes ``nd.Dropout(x, p=p, mode="always")``.

    ## What it does
    ``F.dropout(x, p)`` and ``F.dropout(x, p, training=True)`` become
    ``nd.Dropout(x, p=p, mode="always")``; with ``training=False`` the call
    becomes its input.

    ## Why
    torch's functional dropout is active unless ``training=False`` is passed
    (its default is True, whatever mode the model is in). ``nd.Dropout`` with
    its default mode is active only inside ``autograd.record()``;
    ``mode="always"`` makes it active everywhere, like torch's.

    ## Flags
    ``training=`` decided at run time (``training=self.training``: Gluon's
    mode follows ``autograd.record()``, see T2G211) and ``inplace=True``.

    ## Fix safety
    Safe (different random masks, same distribution and scaling 1/(1-p)).
    """

    code = "T2G703"
    name = "functional-dropout"
    summary = "F.dropout(x, p) -> nd.Dropout(x, p=p, mode='always')"
    examples = (
        Example(
            "import torch.nn.functional as F\na = F.dropout(x, 0.2)\nb = F.dropout(x)\nc = F.dropout(x, p=0.3, training=False)\n",
            "from mxnet import nd\n\na = nd.Dropout(x, p=0.2, mode=\"always\")\nb = nd.Dropout(x, p=0.5, mode=\"always\")\nc = x\n",
            id="dropout is on unless training=False",
        ),
        Example(
            "import torch.nn.functional as F\ndef f(self, x):\n    return F.dropout(x, 0.5, training=self.training)\n",
            "import torch.nn.functional as F\ndef f(self, x):\n"
            "    # torch2gluon: T2G703: `torch.nn.functional.dropout` with `training` decided at run time is not translated yet "
            "(Gluon's mode follows `autograd.record()`); left as is\n"
            "    return F.dropout(x, 0.5, training=self.training)\n",
            diagnostics=("T2G703",),
            id="training flag at run time is flagged",
        ),
    )

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        name = self.ctx.call_name(original)
        if name != F + "dropout":
            return None
        try:
            b = bind(updated, ["input", "p", "training", "inplace"])
            if "input" not in b:
                raise Unbindable("needs `input`")
            if "inplace" in b and not is_literal(b["inplace"], False):
                raise Unbindable("with `inplace` is not translated yet")
            training = b.get("training")
            if training is not None and not (is_literal(training, True) or is_literal(training, False)):
                raise Unbindable(
                    "with `training` decided at run time is not translated yet (Gluon's mode follows `autograd.record()`)"
                )
        except Unbindable as e:
            self.keep(original, name, str(e))
            return None
        if training is not None and is_literal(training, False):
            return with_parens(b["input"])  # the identity: the input itself
        return self.ctx.call(
            "mxnet.nd.Dropout",
            arg(b["input"]),
            arg(b.get("p") or cst.Float("0.5"), "p"),
            arg(cst.SimpleString('"always"'), "mode"),
        )


class Flatten(Rule):
    """``torch.flatten(x, 1)`` becomes ``nd.flatten(x)``.

    ## What it does
    ``torch.flatten(x, 1)`` becomes ``nd.flatten(x)``; ``torch.flatten(x)``
    (start_dim 0) becomes ``nd.reshape(x, shape=(-1,))``.

    ## Why
    ``nd.flatten`` keeps the first axis and joins all the others, which is
    torch's ``start_dim=1, end_dim=-1``.

    ## Flags
    Other ``start_dim``/``end_dim`` values.

    ## Fix safety
    Safe.
    """

    code = "T2G704"
    name = "flatten-function"
    summary = "torch.flatten(x, 1) -> nd.flatten(x)"
    examples = (
        Example(
            "import torch\ny = torch.flatten(x, 1)\nz = torch.flatten(x)\n",
            "from mxnet import nd\n\ny = nd.flatten(x)\nz = nd.reshape(x, shape=(-1,))\n",
            id="flatten",
        ),
        Example(
            "import torch\ny = torch.flatten(x, 2)\n",
            "import torch\n# torch2gluon: T2G704: `torch.flatten` from dimension 2 is not translated yet; left as is\n"
            "y = torch.flatten(x, 2)\n",
            diagnostics=("T2G704",),
            id="other start dimension is flagged",
        ),
    )

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        name = self.ctx.call_name(original)
        if name != "torch.flatten":
            return None
        try:
            b = bind(updated, ["input", "start_dim", "end_dim"])
            if "input" not in b:
                raise Unbindable("needs `input`")
            if "end_dim" in b and not is_literal(b["end_dim"], -1):
                raise Unbindable("with `end_dim` other than -1 is not translated yet")
            start = b.get("start_dim")
            start_value = 0 if start is None else literal(start)
            if start_value not in (0, 1) or isinstance(start_value, bool):
                shown = code_of(start) if start is not None else "0"
                raise Unbindable(f"from dimension {shown} is not translated yet")
        except Unbindable as e:
            self.keep(original, name, str(e))
            return None
        if start_value == 1:
            return self.ctx.call("mxnet.nd.flatten", arg(b["input"]))
        return self.ctx.call("mxnet.nd.reshape", arg(b["input"]), arg(cst.parse_expression("(-1,)"), "shape"))


_REG = ["input", "target", "size_average", "reduce", "reduction"]
# functional loss -> (the loss class whose per-element formula it shares, its parameters)
FUNCTIONAL_LOSSES = {
    F + "nll_loss": ("torch.nn.NLLLoss", ["input", "target", "weight", "size_average", "ignore_index", "reduce", "reduction"]),
    F + "cross_entropy": (
        "torch.nn.CrossEntropyLoss",
        ["input", "target", "weight", "size_average", "ignore_index", "reduce", "reduction", "label_smoothing"],
    ),
    F + "mse_loss": ("torch.nn.MSELoss", _REG + ["weight"]),
    F + "l1_loss": ("torch.nn.L1Loss", _REG + ["weight"]),
    F + "smooth_l1_loss": ("torch.nn.SmoothL1Loss", _REG + ["beta"]),
    F + "huber_loss": ("torch.nn.HuberLoss", ["input", "target", "reduction", "delta", "weight"]),
    F + "binary_cross_entropy": ("torch.nn.BCELoss", ["input", "target", "weight", "size_average", "reduce", "reduction"]),
    F + "binary_cross_entropy_with_logits": (
        "torch.nn.BCEWithLogitsLoss",
        ["input", "target", "weight", "size_average", "reduce", "reduction", "pos_weight"],
    ),
    F + "kl_div": ("torch.nn.KLDivLoss", _REG + ["log_target"]),
}


_LOSS_DEFAULTS = {
    "weight": None,
    "size_average": None,
    "ignore_index": -100,
    "reduce": None,
    "label_smoothing": 0.0,
}


class FunctionalLosses(Rule):
    """Functional losses become ``nd`` expressions that give torch's value and gradient.

    ## What it does
    ``F.nll_loss(logp, y)`` becomes ``-nd.pick(logp, y, axis=1).mean()`` and
    ``F.cross_entropy(x, y)`` becomes
    ``-nd.pick(nd.log_softmax(x, axis=1), y, axis=1).mean()``;
    ``reduction='sum'`` ends in ``.sum()`` and ``reduction='none'`` keeps the
    per-element values.

    ``F.mse_loss``, ``F.l1_loss``, ``F.smooth_l1_loss``, ``F.huber_loss``,
    ``F.binary_cross_entropy``, ``F.binary_cross_entropy_with_logits``,
    ``F.kl_div``, and ``nll_loss``/``cross_entropy`` with class weights,
    ``ignore_index`` or ``label_smoothing`` become the same per-element
    formula the loss objects get (T2G301), reduced as torch reduces it. The
    script's expressions are put in where they stand; when the formula needs
    one several times and it is not a plain name, the formula becomes a
    lambda called on them, so ``model(x)`` still runs once.

    ## Why
    The result is torch's value: the mean over all elements (or the sum, or
    the batch mean for ``kl_div``'s ``'batchmean'``), as a shape-(1,) array.
    The training-loop rule steps the trainer with ``loss.shape[0]``, which is
    then 1, so the update uses the mean gradient, as in torch (values and
    input gradients measured equal to 1e-5 for every loss and reduction).

    ## Flags
    The deprecated ``size_average``/``reduce``, reductions that are not
    literals, ``weight`` of ``mse_loss``/``l1_loss``/``huber_loss``.
    Labels are class indices: torch's probability targets for
    ``cross_entropy`` (a float tensor shaped like the input) are not
    recognised, and MXNet's ``pick`` clips an out-of-range label where torch
    raises.

    ## Fix safety
    Safe for class-index labels in range.
    """

    code = "T2G705"
    name = "functional-losses"
    summary = "F.nll_loss/cross_entropy/mse_loss/... -> nd expressions with torch's reduction"
    examples = (
        Example(
            "import torch.nn.functional as F\ndef evaluate(output, logits, target):\n"
            "    loss = F.nll_loss(output, target)\n"
            "    total = F.cross_entropy(logits, target, reduction='sum').item()\n"
            "    return loss.item() + total\n",
            "from mxnet import nd\n\n\ndef evaluate(output, logits, target):\n"
            "    loss = -nd.pick(output, target, axis=1).mean()\n"
            "    total = (\n"
            "        (-nd.pick(nd.log_softmax(logits, axis=1), target, axis=1).sum())\n"
            "        .mean()\n"
            "        .asscalar()\n"
            "    )\n"
            "    return loss.mean().asscalar() + total\n",
            id="nll and cross entropy",
        ),
        Example(
            "import torch.nn.functional as F\ndef weighted(output, target, w):\n"
            "    return F.nll_loss(output, target, weight=w)\n",
            "from mxnet import nd\n\n\ndef weighted(output, target, w):\n"
            "    return (-nd.pick(output, target, axis=1) * nd.take(w, target)).sum() / (\n"
            "        nd.take(w, target)\n    ).sum()\n",
            id="class weights divide by the targets' weights",
        ),
        Example(
            "import torch.nn.functional as F\ndef losses(model, x, y):\n"
            "    loss = F.mse_loss(model(x), y)\n"
            "    l1 = F.smooth_l1_loss(model(x), y, reduction='sum')\n"
            "    return loss + l1\n",
            "from mxnet import nd\n\n\ndef losses(model, x, y):\n"
            "    loss = nd.square(model(x) - y).mean()\n    l1 = (\n"
            "        lambda input, target: nd.where(\n            nd.abs(input - target) < 1.0,\n"
            "            0.5 * nd.square(input - target) / 1.0,\n            nd.abs(input - target) - 0.5,\n"
            "        ).sum()\n    )(model(x), y)\n    return loss + l1\n",
            id="regression losses; an expression needed three times is evaluated once",
        ),
        Example(
            "import torch.nn.functional as F\nloss = F.mse_loss(a, b, weight=w)\n",
            "import torch.nn.functional as F\n# torch2gluon: T2G705: `torch.nn.functional.mse_loss` argument `weight` "
            "is not translated yet; left as is\nloss = F.mse_loss(a, b, weight=w)\n",
            diagnostics=("T2G705",),
            id="mse_loss weights are flagged",
        ),
    )

    NLL = ["input", "target", "weight", "size_average", "ignore_index", "reduce", "reduction"]
    CE = NLL + ["label_smoothing"]

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._negations: Set[int] = set()

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        name = self.ctx.call_name(original)
        if name not in FUNCTIONAL_LOSSES:
            return None
        cls, params_list = FUNCTIONAL_LOSSES[name]
        try:
            b = bind(updated, params_list)
            if "input" not in b or "target" not in b:
                raise Unbindable("needs `input` and `target`")
            for key in ("size_average", "reduce"):
                if key in b and not is_literal(b[key], None):
                    raise Unbindable(f"argument `{key}` (deprecated) is not translated; use `reduction`")
            if cls not in ("torch.nn.CrossEntropyLoss", "torch.nn.NLLLoss", "torch.nn.BCELoss",
                           "torch.nn.BCEWithLogitsLoss") and "weight" in b and not is_literal(b["weight"], None):
                raise Unbindable("argument `weight` is not translated yet")
            reduction = literal(b["reduction"]) if "reduction" in b else "mean"
            allowed = ("mean", "sum", "none") + (("batchmean",) if name == F + "kl_div" else ())
            if reduction not in allowed:
                raise Unbindable("is translated only with a literal `reduction` of " + ", ".join(map(repr, allowed)))
            plain = all(is_literal(b[k], d) for k, d in _LOSS_DEFAULTS.items() if k in b)
            if name in (F + "nll_loss", F + "cross_entropy") and plain:
                return self._pick(name, b, reduction)
            elem, params, den = loss_elements(cls, b, reduction)
        except Unbindable as e:
            self.keep(original, name, str(e))
            return None
        body = reduced(elem, reduction, den)
        values = {"input": b["input"], "target": b["target"], **params}
        return inline(cst.parse_expression(body), values, lambda: self.ctx.ref("mxnet.nd"))

    def _pick(self, name: str, b, reduction: str) -> cst.BaseExpression:
        scores = b["input"]
        if name.endswith("cross_entropy"):
            scores = self.ctx.call("mxnet.nd.log_softmax", arg(scores), arg(cst.Integer("1"), "axis"))
        picked: cst.BaseExpression = self.ctx.call(
            "mxnet.nd.pick", arg(scores), arg(b["target"]), arg(cst.Integer("1"), "axis")
        )
        if reduction != "none":
            picked = cst.Call(func=cst.Attribute(value=picked, attr=cst.Name(reduction)))
        negated = cst.UnaryOperation(operator=cst.Minus(), expression=picked)
        self._negations.add(id(negated))
        return negated

    # A negation must be parenthesised where it is the object of an attribute,
    # a subscript or the base of a power: `(-a).item()`, `(-a) ** 2`.
    def _parenthesize(self, node, field: str):
        inner = getattr(node, field)
        if id(inner) in self._negations and not inner.lpar:
            return node.with_changes(**{field: inner.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])})
        return None

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute):
        return self._parenthesize(updated, "value")

    def leave_Subscript(self, original: cst.Subscript, updated: cst.Subscript):
        return self._parenthesize(updated, "value")

    def leave_BinaryOperation(self, original: cst.BinaryOperation, updated: cst.BinaryOperation):
        if isinstance(updated.operator, cst.Power):
            return self._parenthesize(updated, "left")
        return None


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge"}


def _int_pair(node: Optional[cst.BaseExpression]):
    """An int literal k -> (k, k); a 2-tuple/list of int literals -> the pair; else None."""
    if node is None:
        return None
    v = literal(node)
    if isinstance(v, int) and not isinstance(v, bool):
        return (v, v)
    if isinstance(node, (cst.Tuple, cst.List)) and len(node.elements) == 2:
        pair = tuple(literal(e.value) for e in node.elements)
        if all(isinstance(p, int) and not isinstance(p, bool) for p in pair):
            return pair
    return None


class FunctionalResize(Rule):
    """``F.pad`` and ``F.interpolate`` become ``nd.pad``, ``nd.UpSampling`` and ``nd.contrib.BilinearResize2D``.

    ## What it does
    ``F.pad(x, (l, r, t, b), mode, value)`` becomes
    ``nd.pad(x, mode=..., pad_width=(0, 0, 0, 0, t, b, l, r), constant_value=value)``:
    torch lists the pads from the last axis backwards, MXNet lists
    (before, after) for every axis from the first; ``'replicate'`` is
    MXNet's ``'edge'``. Two pads (last axis) or four (last two axes) give
    the ``pad_width`` of a 4-D input, six that of a 5-D one.

    ``F.interpolate(x, scale_factor=k)`` (``mode='nearest'``, ``k`` an integer
    or a pair of equal integers) becomes
    ``nd.UpSampling(x, scale=k, sample_type="nearest")``;
    ``mode='bilinear'`` becomes ``nd.contrib.BilinearResize2D`` with
    ``height``/``width`` for ``size`` or ``scale_height``/``scale_width``
    for ``scale_factor``, and ``align_corners`` written out (MXNet's default
    is True, torch's False).

    ## Why
    Same values and input gradients (measured equal to 5e-7 for every pad
    mode, nearest upsampling and bilinear resizing). MXNet's ``pad`` works
    on 4-D and 5-D inputs only and pads only the axes after the first two,
    as torch's image padding does; another rank is an MXNet error at run
    time, not a different result.

    ## Flags
    ``'circular'`` padding, negative or non-literal pad tuples, other
    interpolation modes, ``nearest`` with ``size`` or a non-integer scale,
    ``bilinear`` with a non-integer ``scale_factor`` and
    ``align_corners=False`` (torch maps coordinates with the given factor,
    MXNet with the size ratio: up to 1.57 apart), ``antialias=True``,
    ``recompute_scale_factor``.

    ## Fix safety
    Safe for 4-D (and, for ``pad``, 5-D) inputs.
    """

    code = "T2G706"
    name = "functional-pad-interpolate"
    summary = "F.pad/F.interpolate -> nd.pad/nd.UpSampling/nd.contrib.BilinearResize2D"
    examples = (
        Example(
            "import torch.nn.functional as F\ny = F.pad(x, (1, 2), value=0.5)\nz = F.pad(x, [1, 1, 2, 0], mode='replicate')\n",
            'from mxnet import nd\n\ny = nd.pad(x, mode="constant", pad_width=(0, 0, 0, 0, 0, 0, 1, 2), constant_value=0.5)\n'
            'z = nd.pad(x, mode="edge", pad_width=(0, 0, 0, 0, 2, 0, 1, 1))\n',
            id="pad: torch's last-axis-first pairs become MXNet's per-axis pad_width",
        ),
        Example(
            "import torch.nn.functional as F\nu = F.interpolate(x, scale_factor=2)\n"
            "v = F.interpolate(x, size=(7, 9), mode='bilinear', align_corners=False)\n",
            'from mxnet import nd\n\nu = nd.UpSampling(x, scale=2, sample_type="nearest")\n'
            "v = nd.contrib.BilinearResize2D(x, height=7, width=9, align_corners=False)\n",
            id="interpolate: nearest by an integer factor, bilinear to a size",
        ),
        Example(
            "import torch.nn.functional as F\nv = F.interpolate(x, scale_factor=1.5, mode='bilinear')\n",
            "import torch.nn.functional as F\n# torch2gluon: T2G706: `torch.nn.functional.interpolate` bilinear with a "
            "non-integer `scale_factor` and `align_corners=False` maps coordinates differently in MXNet; left as is\n"
            "v = F.interpolate(x, scale_factor=1.5, mode='bilinear')\n",
            diagnostics=("T2G706",),
            id="a fractional bilinear scale is flagged",
        ),
    )

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        name = self.ctx.call_name(original)
        if name not in (F + "pad", F + "interpolate"):
            return None
        try:
            if name == F + "pad":
                return self._pad(original, updated)
            return self._interpolate(updated)
        except Unbindable as e:
            self.keep(original, name, str(e))
            return None

    def _pad(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        b = bind(updated, ["input", "pad", "mode", "value"])
        if "input" not in b or "pad" not in b:
            raise Unbindable("needs `input` and `pad`")
        mode = literal(b["mode"]) if "mode" in b else "constant"
        if mode not in _PAD_MODES:
            raise Unbindable(f"with mode {code_of(b['mode'])} is not translated (MXNet pads constant, edge, reflect)")
        pad = b["pad"]
        if not isinstance(pad, (cst.Tuple, cst.List)) or len(pad.elements) not in (2, 4, 6) or any(
            isinstance(e, cst.StarredElement) for e in pad.elements
        ):
            raise Unbindable("with a pad that is not a tuple of 2, 4 or 6 values written out is not translated")
        values = [e.value for e in pad.elements]
        for v in values:
            lit = literal(v)
            if isinstance(lit, (int, float)) and lit < 0 or isinstance(v, cst.UnaryOperation):
                raise Unbindable("with a negative pad (a crop) is not translated")
        pairs = [values[i:i + 2] for i in range(0, len(values), 2)][::-1]
        ndim = 5 if len(values) == 6 else 4
        given = self.ctx.value(bind(original, ["input", "pad", "mode", "value"]).get("input")).ndim
        if given is not None and given not in (4, 5):
            raise Unbindable(f"of a {given}-D tensor is not translated (MXNet's pad takes 4-D and 5-D inputs only)")
        width = [cst.Integer("0")] * (2 * (ndim - len(pairs))) + [v for p in pairs for v in p]
        args = [
            arg(b["input"]),
            arg(cst.SimpleString(f'"{_PAD_MODES[mode]}"'), "mode"),
            arg(cst.Tuple(elements=[cst.Element(value=v) for v in width]), "pad_width"),
        ]
        if mode == "constant" and "value" in b and literal(b["value"]) not in (None, 0):
            args.append(arg(b["value"], "constant_value"))
        return self.ctx.call("mxnet.nd.pad", *args)

    def _interpolate(self, updated: cst.Call) -> cst.BaseExpression:
        b = bind(updated, ["input", "size", "scale_factor", "mode", "align_corners", "recompute_scale_factor", "antialias"])
        if "input" not in b:
            raise Unbindable("needs `input`")
        mode = literal(b["mode"]) if "mode" in b else "nearest"
        if "antialias" in b and literal(b["antialias"]) is not False:
            raise Unbindable("with `antialias` is not translated")
        if "recompute_scale_factor" in b and literal(b["recompute_scale_factor"]) is not None:
            raise Unbindable("with `recompute_scale_factor` is not translated")
        size = b.get("size")
        scale = b.get("scale_factor")
        size_given = size is not None and not (isinstance(size, cst.Name) and size.value == "None")
        if mode == "nearest":
            pair = _int_pair(scale)
            if size_given or pair is None or pair[0] != pair[1] or pair[0] < 1:
                raise Unbindable("nearest is translated only with an integer `scale_factor` (nd.UpSampling)")
            return self.ctx.call(
                "mxnet.nd.UpSampling", arg(b["input"]), arg(cst.Integer(str(pair[0])), "scale"),
                arg(cst.SimpleString('"nearest"'), "sample_type"),
            )
        if mode != "bilinear":
            raise Unbindable(f"with mode {code_of(b['mode'])} is not translated")
        corners = literal(b["align_corners"]) if "align_corners" in b else False
        if corners is None:
            corners = False
        if not isinstance(corners, bool):
            raise Unbindable("with `align_corners` that is not a literal True/False is not translated")
        args = [arg(b["input"])]
        if size_given:
            if isinstance(size, (cst.Tuple, cst.List)) and len(size.elements) == 2:
                h, w = size.elements[0].value, size.elements[1].value
            elif size is not None and isinstance(literal(size), int):
                h = w = size
            else:
                raise Unbindable("with a `size` that is not an int or a pair written out is not translated")
            args += [arg(h, "height"), arg(w, "width")]
        elif scale is not None:
            if isinstance(scale, (cst.Tuple, cst.List)) and len(scale.elements) == 2:
                sh, sw = scale.elements[0].value, scale.elements[1].value
            else:
                sh = sw = scale
            whole = all(isinstance(literal(s), int) and not isinstance(literal(s), bool) for s in (sh, sw))
            if not corners and not whole:
                raise Unbindable(
                    "bilinear with a non-integer `scale_factor` and `align_corners=False` maps coordinates "
                    "differently in MXNet"
                )
            args += [arg(sh, "scale_height"), arg(sw, "scale_width")]
        else:
            raise Unbindable("needs `size` or `scale_factor`")
        args.append(arg(cst.Name(str(corners)), "align_corners"))
        return self.ctx.call("mxnet.nd.contrib.BilinearResize2D", *args)
