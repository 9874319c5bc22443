"""Loss functions."""

from __future__ import annotations

from typing import Dict, Optional

import libcst as cst

from ..base.syntax import arg
from ..base.diagnostics import Severity
from ._base import Example, Rule, Unbindable, bind, code_of, literal, paren

_N = "torch.nn."
# torch's constructor signatures (after the deprecated size_average/reduce);
# each class maps to its parameters and their defaults.
_SIGNATURES = {
    _N + "CrossEntropyLoss": (
        ("weight", None), ("size_average", None), ("ignore_index", -100), ("reduce", None),
        ("reduction", "mean"), ("label_smoothing", 0.0),
    ),
    _N + "NLLLoss": (
        ("weight", None), ("size_average", None), ("ignore_index", -100), ("reduce", None), ("reduction", "mean"),
    ),
    _N + "MSELoss": (("size_average", None), ("reduce", None), ("reduction", "mean")),
    _N + "L1Loss": (("size_average", None), ("reduce", None), ("reduction", "mean")),
    _N + "BCELoss": (("weight", None), ("size_average", None), ("reduce", None), ("reduction", "mean")),
    _N + "BCEWithLogitsLoss": (
        ("weight", None), ("size_average", None), ("reduce", None), ("reduction", "mean"), ("pos_weight", None),
    ),
    _N + "SmoothL1Loss": (("size_average", None), ("reduce", None), ("reduction", "mean"), ("beta", 1.0)),
    _N + "HuberLoss": (("reduction", "mean"), ("delta", 1.0)),
    _N + "KLDivLoss": (("size_average", None), ("reduce", None), ("reduction", "mean"), ("log_target", False)),
}
_LOSS_CLASSES = tuple(_SIGNATURES)
# the functional losses (translated by T2G705); their results are loss values too
FUNCTIONAL_LOSS_NAMES = tuple(
    "torch.nn.functional." + n
    for n in ("nll_loss", "cross_entropy", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
              "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div")
)
def _is_default(node: cst.BaseExpression, default) -> bool:
    value = literal(node)
    return value == default and type(value) is type(default)


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


def reduced(elem: str, reduction: str, den) -> str:
    """The per-element loss ``elem`` reduced as torch reduces it (template code)."""
    elem = code_of(paren(cst.parse_expression(elem)))
    if reduction == "none":
        return elem
    if reduction == "sum":
        return f"{elem}.sum()"
    if den is None:
        return f"{elem}.mean()"
    return f"{elem}.sum() / {den}"


def loss_elements(cls: str, b, reduction: str):
    """torch's per-element loss for ``cls`` as template code over ``input`` and
    ``target``, the lambda parameters it needs (name -> script expression), and
    the denominator of its ``'mean'`` when that is not the element count."""
    short = cls[len(_N):]
    given = lambda k: k in b and not _is_default(b[k], dict(_SIGNATURES[cls])[k])  # noqa: E731
    params: Dict[str, cst.BaseExpression] = {}
    den = None
    if short in ("CrossEntropyLoss", "NLLLoss"):
        logp = "ND.log_softmax(input, axis=1)" if short == "CrossEntropyLoss" else "input"
        coef = []
        if given("weight"):
            params["weight"] = b["weight"]
            coef.append("ND.take(weight, target)")
        if given("ignore_index"):
            params["ignore_index"] = b["ignore_index"]
            coef.append("(target != ignore_index).astype(input.dtype)")
        nll = f"-ND.pick({logp}, target, axis=1)" + "".join(f" * {c}" for c in coef)
        elem = nll
        if short == "CrossEntropyLoss" and given("label_smoothing"):
            params["label_smoothing"] = b["label_smoothing"]
            weighted = f"{logp} * weight.reshape((1, -1) + (1,) * (input.ndim - 2))" if "weight" in params else logp
            smooth = f"-({weighted}).sum(axis=1)"
            if "ignore_index" in params:
                smooth += " * (target != ignore_index).astype(input.dtype)"
            elem = f"(1 - label_smoothing) * {nll} + label_smoothing / input.shape[1] * {smooth}"
        if coef:
            den = "(" + " * ".join(coef) + ").sum()"
        return elem, params, den
    if short == "MSELoss":
        return "ND.square(input - target)", params, den
    if short == "L1Loss":
        return "ND.abs(input - target)", params, den
    if short in ("SmoothL1Loss", "HuberLoss"):
        key = "beta" if short == "SmoothL1Loss" else "delta"
        value = literal(b[key]) if key in b else 1.0
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise Unbindable(f"argument `{key}` is translated only as a non-negative number literal")
        if value == 0:
            if short == "HuberLoss":
                raise Unbindable("argument `delta` must be positive")
            return "ND.abs(input - target)", params, den
        v = repr(float(value))
        far = f"ND.abs(input - target) - {0.5 * value!r}" if short == "SmoothL1Loss" else f"{v} * (ND.abs(input - target) - {0.5 * value!r})"
        near = f"0.5 * ND.square(input - target) / {v}" if short == "SmoothL1Loss" else "0.5 * ND.square(input - target)"
        return f"ND.where(ND.abs(input - target) < {v}, {near}, {far})", params, den
    if short == "BCELoss":
        elem = "-(target * ND.maximum(ND.log(input), -100) + (1 - target) * ND.maximum(ND.log(1 - input), -100))"
        if given("weight"):
            params["weight"] = b["weight"]
            elem = f"weight * {elem}"
        return elem, params, den
    if short == "BCEWithLogitsLoss":
        if given("pos_weight"):
            params["pos_weight"] = b["pos_weight"]
            elem = (
                "((1 - target) * input + (1 + (pos_weight - 1) * target) * "
                "ND.Activation(-input, act_type='softrelu'))"
            )
        else:
            elem = "(ND.Activation(input, act_type='softrelu') - input * target)"
        if given("weight"):
            params["weight"] = b["weight"]
            elem = f"weight * {elem}"
        return elem, params, den
    if short == "KLDivLoss":
        log_target = literal(b["log_target"]) if "log_target" in b else False
        if log_target is True:
            elem = "ND.exp(target) * (target - input)"
        elif log_target is False:
            elem = "ND.where(target > 0, target * ND.log(target), ND.zeros_like(target)) - target * input"
        else:
            raise Unbindable("argument `log_target` is translated only as a literal True or False")
        if reduction == "batchmean":
            den = "input.shape[0]"
        return elem, params, den
    raise Unbindable("is not translated")  # pragma: no cover



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

    # -- which names hold loss objects and loss values ---------------------
    def _is_loss_call(self, node: cst.BaseExpression) -> bool:
        """A call whose result is a loss value: a loss object's call or F.nll_loss-like."""
        if not isinstance(node, cst.Call):
            return False
        if isinstance(node.func, cst.Name) and self.ctx.bindings.get(node.func.value) == "loss_fn":
            return True
        if self.ctx.call_name(node) in FUNCTIONAL_LOSS_NAMES:
            for a in node.args:
                if a.keyword is not None and a.keyword.value == "reduction" and literal(a.value) == "none":
                    return False
            return True
        return False

    def _backward_names(self, body) -> None:
        """Whatever a block calls ``.backward()`` on is a loss value."""
        for stmt in body:
            if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1:
                small = stmt.body[0]
                if (
                    isinstance(small, cst.Expr)
                    and isinstance(small.value, cst.Call)
                    and isinstance(small.value.func, cst.Attribute)
                    and small.value.func.attr.value == "backward"
                    and isinstance(small.value.func.value, cst.Name)
                ):
                    self.ctx.bindings.setdefault(small.value.func.value.value, "loss_value")

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self._backward_names(node.body)

    def visit_Module(self, node: cst.Module) -> None:
        self._backward_names(node.body)

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        for small in node.body:
            if not isinstance(small, cst.Assign) or len(small.targets) != 1:
                continue
            target = small.targets[0].target
            if not isinstance(target, cst.Name):
                continue
            if self.ctx.call_name(small.value) in _LOSS_CLASSES:
                self.ctx.bindings[target.value] = "loss_fn"
            elif self._is_loss_call(small.value):
                self.ctx.bindings[target.value] = "loss_value"

    def _item(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        """``<loss>.item()`` -> ``<loss>.mean().asscalar()``: torch's batch mean as a float."""
        if id(original) in self.ctx.handled:
            return None  # a tensor's .item(), translated by T2G102
        recv = original.func.value  # type: ignore[union-attr]
        known = (isinstance(recv, cst.Name) and self.ctx.bindings.get(recv.value) == "loss_value") or self._is_loss_call(recv)
        if not known:
            self.report(
                original,
                "`.item()` on a value torch2gluon cannot identify: an NDArray has no `.item()` "
                "(use `.asscalar()` on a one-element array)",
                severity=Severity.WARNING,
            )
            return None
        value = updated.func.value  # type: ignore[union-attr]
        if isinstance(value, (cst.UnaryOperation, cst.BinaryOperation)) and not value.lpar:
            value = value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        mean = cst.Call(func=cst.Attribute(value=value, attr=cst.Name("mean")))
        return cst.Call(func=cst.Attribute(value=mean, attr=cst.Name("asscalar")))

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        func = original.func
        if isinstance(func, cst.Attribute) and func.attr.value == "item" and not original.args:
            return self._item(original, updated)
        name = self.ctx.call_name(original)
        if name not in _SIGNATURES:
            return None
        try:
            b = bind(updated, [k for k, _ in _SIGNATURES[name]])
            for key in ("size_average", "reduce"):
                if key in b and not _is_default(b[key], None):
                    raise Unbindable(f"argument `{key}` (deprecated) is not translated; use `reduction`")
            reduction = literal(b["reduction"]) if "reduction" in b else "mean"
            allowed = ("mean", "sum", "none") + (("batchmean",) if name == _N + "KLDivLoss" else ())
            if reduction not in allowed:
                raise Unbindable("is translated only with a literal `reduction` of " + ", ".join(map(repr, allowed)))
            plain = all(_is_default(v, dict(_SIGNATURES[name])[k]) for k, v in b.items() if k != "reduction")
            if name == _N + "CrossEntropyLoss" and plain and reduction == "mean":
                # torch's classes are on axis 1 for inputs of any rank; Gluon's default
                # is the last axis, which is the same only for (N, C) inputs
                return self.ctx.call("mxnet.gluon.loss.SoftmaxCrossEntropyLoss", arg(cst.Integer("1"), "axis"))
            elem, params, den = loss_elements(name, b, reduction)
        except Unbindable as e:
            return self.keep(original, name, str(e))
        body = reduced(elem, reduction, den)
        defaults = "".join(f", {k}=__{k}" for k in params)
        template = cst.parse_expression(f"lambda input, target{defaults}: {body}")
        return template.visit(_Fill(lambda: self.ctx.ref("mxnet.nd"), params))
