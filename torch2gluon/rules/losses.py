"""Loss functions."""

from __future__ import annotations

from typing import Optional, cast

import libcst as cst
import libcst.matchers as m

from ..base.syntax import arg
from ..base.diagnostics import Severity
from ..facts.nn import LOSS_SIGNATURES, NN
from ..rewrite.losses import is_default, loss_elements, reduced
from ._base import Example, Rule, Unbindable, bind, literal


class _Fill(cst.CSTTransformer):
    """Replaces the placeholder names of a template: ``ND`` by the ``nd``
    reference, and ``__<param>`` by the script's own argument expression."""

    def __init__(self, nd, args) -> None:
        self.nd, self.args = nd, args

    def leave_Name(self, original: cst.Name, updated: cst.Name):
        if updated.value == "ND":
            return self.nd()
        if updated.value.startswith("__") and updated.value[2:] in self.args:
            return self.args[updated.value[2:]]
        return updated


class Losses(Rule):
    """Loss objects become callables that give torch's value and gradient.

    ## What it does
    ``nn.CrossEntropyLoss()`` (mean, no options) becomes
    ``gluon.loss.SoftmaxCrossEntropyLoss(axis=1)``: one value per sample; the
    training-loop rule (T2G501) hands ``loss.shape[0]`` (the batch's actual
    size) to ``trainer.step``, so the gradient is torch's mean gradient.

    Every other loss object (``CrossEntropyLoss`` with ``weight``,
    ``ignore_index``, ``label_smoothing`` or another reduction, ``NLLLoss``,
    ``MSELoss``, ``L1Loss``, ``SmoothL1Loss``, ``HuberLoss``, ``BCELoss``,
    ``BCEWithLogitsLoss``, ``KLDivLoss``) becomes a ``lambda input, target:``
    over ``nd`` operations that computes torch's per-element loss and reduces
    it as torch does:

    - ``'mean'``/``'sum'``/``'batchmean'``: a shape-(1,) array holding torch's
      value, so ``trainer.step(loss.shape[0])`` divides by 1 and the gradient
      is torch's; ``'mean'`` with class weights or ``ignore_index`` divides
      by the sum of the targets' weights (and counts only kept targets), as
      torch does;
    - ``'none'``: torch's per-element array, same shape.

    Tensor hyperparameters (``weight``, ``pos_weight``, ``ignore_index``,
    ``label_smoothing``) are lambda defaults, so they are read when the loss
    is built, as in torch.

    ``.item()`` on a loss value (the result of a loss object or of
    ``F.nll_loss``/``F.cross_entropy``, or a name holding one) becomes
    ``.mean().asscalar()``: torch's value as a Python float.

    ## Why
    Gluon's own losses reduce differently: every one returns the mean over
    the non-batch axes per sample, ``L2Loss`` carries a factor ½ (torch's
    ``MSELoss`` would train at half the learning rate), ``HuberLoss`` is
    torch's ``SmoothL1Loss``, none has class weights, ``ignore_index`` or a
    sum. ``SoftmaxCrossEntropyLoss`` reads classes from the last axis by
    default: ``axis=1`` keeps torch's meaning for (N, C, d...) inputs (with
    C == d the default gave 1.136 where torch gives 1.880); the lambdas pick
    on axis 1 too. ``BCELoss`` clamps each log at -100 like torch (Gluon adds
    1e-12 instead); ``BCEWithLogitsLoss`` uses ``softrelu`` so the gradient at
    a logit of exactly 0 is torch's ``sigmoid(0) - t`` (an ``abs``/``relu``
    form gives ``1 - t`` there).

    ## Flags
    ``.item()`` on anything else is a warning (NDArray has no ``.item()``;
    it may be numpy's). Errors, code left as is: a reduction that is not a
    literal of the loss's allowed values, the deprecated
    ``size_average``/``reduce``, ``beta``/``delta`` that are not number
    literals (``beta=0`` is torch's L1; ``delta`` must be positive),
    ``log_target`` that is not a literal, ``*args``/``**kwargs``.

    ## Fix safety
    Safe for class-index targets (CrossEntropy/NLL) in range or equal to
    ``ignore_index``; torch's probability targets for ``CrossEntropyLoss``
    are not recognised, torch's default ``ignore_index=-100`` is applied
    only when written out, and ``pick``/``take`` clip an out-of-range label
    where torch raises. ``BCELoss`` at a probability of exactly 0 or 1 has
    an infinite/NaN gradient where torch clamps it.
    """

    code = "T2G301"
    name = "losses"
    summary = "nn.CrossEntropyLoss -> gluon.loss.SoftmaxCrossEntropyLoss"
    examples = (
        Example(
            "from torch import nn\nloss_fn = nn.CrossEntropyLoss()\n",
            "from mxnet import gluon\n\nloss_fn = gluon.loss.SoftmaxCrossEntropyLoss(axis=1)\n",
            id="cross entropy",
        ),
        Example(
            "import torch\nloss_fn = torch.nn.CrossEntropyLoss(reduction='mean')\n",
            "from mxnet import gluon\n\nloss_fn = gluon.loss.SoftmaxCrossEntropyLoss(axis=1)\n",
            id="explicit mean reduction",
        ),
        Example(
            "from torch import nn\nloss_fn = nn.CrossEntropyLoss(None, None, -100, None, 'mean', 0.0)\n",
            "from mxnet import gluon\n\nloss_fn = gluon.loss.SoftmaxCrossEntropyLoss(axis=1)\n",
            id="torch defaults written out",
        ),
        Example(
            (
                "import torch\nimport torch.nn.functional as F\nfrom torch import nn\n"
                "criterion = nn.CrossEntropyLoss()\n"
                "def evaluate(model, x, y):\n"
                "    test_loss = criterion(model(x), y)\n"
                "    total = F.nll_loss(model(x), y, reduction='sum').item()\n"
                "    return test_loss.item(), total\n"
            ),
            (
                "from mxnet import gluon, nd\n\n"
                "criterion = gluon.loss.SoftmaxCrossEntropyLoss(axis=1)\n"
                "def evaluate(model, x, y):\n"
                "    test_loss = criterion(model(x), y)\n"
                "    total = (-nd.pick(model(x), y, axis=1).sum()).mean().asscalar()\n"
                "    return test_loss.mean().asscalar(), total\n"
            ),
            id="item on loss values",
        ),
        Example(
            "from torch import nn\nloss_fn = nn.MSELoss(reduction='sum')\n",
            "from mxnet import nd\n\nloss_fn = lambda input, target: nd.square(input - target).sum()\n",
            id="sum reduction is a shape-(1,) sum",
        ),
        Example(
            "from torch import nn\nloss_fn = nn.NLLLoss(w, ignore_index=0)\n",
            "from mxnet import nd\n\nloss_fn = (\n"
            "    lambda input, target, weight=w, ignore_index=0: (\n"
            "        -nd.pick(input, target, axis=1)\n"
            "        * nd.take(weight, target)\n"
            "        * (target != ignore_index).astype(input.dtype)\n"
            "    ).sum()\n"
            "    / (nd.take(weight, target) * (target != ignore_index).astype(input.dtype)).sum()\n"
            ")\n",
            id="class weights divide by the targets' weights",
        ),
        Example(
            "import torch\nloss_fn = torch.nn.SmoothL1Loss(beta=b)\n",
            "import torch\n# torch2gluon: T2G301: `torch.nn.SmoothL1Loss` argument `beta` is translated only as a "
            "non-negative number literal; left as is\nloss_fn = torch.nn.SmoothL1Loss(beta=b)\n",
            diagnostics=("T2G301",),
            id="a beta that is not a literal is flagged",
        ),
    )

    def _item(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        """``<loss>.item()`` -> ``<loss>.mean().asscalar()``: torch's batch mean as a float."""
        if id(original) in self.ctx.handled:
            return None  # a tensor's .item(), translated by T2G102
        recv = cast(cst.Attribute, original.func).value  # leave_Call checked: `<recv>.item()`
        if m.matches(recv, m.Call(func=m.Attribute(attr=m.Name("asscalar")), args=[])):
            return None  # numpy's scalar .item(): a Python number, as torch's (our own output)
        known = self.ctx.is_loss(recv)
        if not known:
            self.report(
                original,
                "`.item()` on a value torch2gluon cannot identify: an NDArray has no `.item()` "
                "(use `.asscalar()` on a one-element array)",
                severity=Severity.WARNING,
            )
            return None
        value = cast(cst.Attribute, updated.func).value
        if isinstance(value, (cst.UnaryOperation, cst.BinaryOperation)) and not value.lpar:
            value = value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        mean = cst.Call(func=cst.Attribute(value=value, attr=cst.Name("mean")))
        return cst.Call(func=cst.Attribute(value=mean, attr=cst.Name("asscalar")))

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        func = original.func
        if isinstance(func, cst.Attribute) and func.attr.value == "item" and not original.args:
            return self._item(original, updated)
        name = self.ctx.call_name(original)
        if name not in LOSS_SIGNATURES:
            return None
        try:
            b = bind(updated, [k for k, _ in LOSS_SIGNATURES[name]])
            for key in ("size_average", "reduce"):
                if key in b and not is_default(b[key], None):
                    raise Unbindable(f"argument `{key}` (deprecated) is not translated; use `reduction`")
            reduction = literal(b["reduction"]) if "reduction" in b else "mean"
            allowed = ("mean", "sum", "none") + (("batchmean",) if name == NN + "KLDivLoss" else ())
            if reduction not in allowed:
                raise Unbindable("is translated only with a literal `reduction` of " + ", ".join(map(repr, allowed)))
            plain = all(is_default(v, dict(LOSS_SIGNATURES[name])[k]) for k, v in b.items() if k != "reduction")
            if name == NN + "CrossEntropyLoss" and plain and reduction == "mean":
                # torch's classes are on axis 1 for inputs of any rank; Gluon's default
                # is the last axis, which is the same only for (N, C) inputs
                return self.ctx.call("mxnet.gluon.loss.SoftmaxCrossEntropyLoss", arg(cst.Integer("1"), "axis"))
            elem, params, den = loss_elements(name, b, reduction)
        except Unbindable as e:
            self.keep(original, name, str(e))
            return None
        body = reduced(elem, reduction, den)
        defaults = "".join(f", {k}=__{k}" for k in params)
        template = cst.parse_expression(f"lambda input, target{defaults}: {body}")
        return cast(cst.BaseExpression, template.visit(_Fill(lambda: self.ctx.ref("mxnet.nd"), params)))
