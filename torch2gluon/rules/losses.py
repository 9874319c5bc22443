"""Loss functions."""

from __future__ import annotations

from typing import Optional

import libcst as cst

from ..context import arg
from ..diagnostics import Severity
from ._base import Example, Rule, Unbindable, bind, literal

_LOSS_CLASSES = ("torch.nn.CrossEntropyLoss",)
_FUNCTIONAL_LOSSES = ("torch.nn.functional.nll_loss", "torch.nn.functional.cross_entropy")
_CE_PARAMS = ["weight", "size_average", "ignore_index", "reduce", "reduction", "label_smoothing"]
_CE_DEFAULTS = {
    "weight": None,
    "size_average": None,
    "ignore_index": -100,
    "reduce": None,
    "reduction": "mean",
    "label_smoothing": 0.0,
}


class Losses(Rule):
    """``nn.CrossEntropyLoss()`` becomes ``gluon.loss.SoftmaxCrossEntropyLoss()``.

    ## What it does
    Translates the loss object. Gluon losses return one value per sample; the
    training-loop rule (T2G501) turns that back into torch's batch mean where
    the script looks at the value, and hands the batch's actual size to
    ``trainer.step``, so the gradient is the same mean gradient.

    ## Why
    ``SoftmaxCrossEntropyLoss`` takes logits and integer class labels like
    ``CrossEntropyLoss``; only the reduction moves. torch reads the classes
    from axis 1 whatever the input's rank, Gluon from the last axis by
    default: ``axis=1`` keeps torch's meaning for (N, C, d...) inputs too
    (measured: with C == d the default gave 1.136 where torch gives 1.880).

    ``.item()`` on a loss value (the result of a loss object or of
    ``F.nll_loss``/``F.cross_entropy``, or a name holding one) becomes
    ``.mean().asscalar()``: the batch mean as a Python float, as torch gives.

    ## Flags
    ``.item()`` on anything else is a warning (NDArray has no ``.item()``;
    it may be numpy's). Class weights, ``ignore_index``, ``label_smoothing`` and reductions other
    than ``'mean'`` are left as is with an error for now.

    ## Fix safety
    Safe: the per-sample values equal torch's ``reduction='none'`` values.
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
            "import torch\nloss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)\n",
            "import torch\n# torch2gluon: T2G301: `torch.nn.CrossEntropyLoss` argument `label_smoothing` is not translated yet; left as is\nloss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)\n",
            diagnostics=("T2G301",),
            id="label smoothing is flagged",
        ),
    )

    # -- which names hold loss objects and loss values ---------------------
    def _is_loss_call(self, node: cst.BaseExpression) -> bool:
        """A call whose result is a loss value: a loss object's call or F.nll_loss-like."""
        if not isinstance(node, cst.Call):
            return False
        if isinstance(node.func, cst.Name) and self.ctx.bindings.get(node.func.value) == "loss_fn":
            return True
        if self.ctx.call_name(node) in _FUNCTIONAL_LOSSES:
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
        if name != "torch.nn.CrossEntropyLoss":
            return None
        try:
            b = bind(updated, _CE_PARAMS)
            for key, value in b.items():
                if literal(value) == _CE_DEFAULTS[key] and type(literal(value)) is type(_CE_DEFAULTS[key]):
                    continue  # torch's own default, written out
                raise Unbindable(f"argument `{key}` is not translated yet")
        except Unbindable as e:
            return self.keep(original, name, str(e))
        # torch's classes are on axis 1 for inputs of any rank; Gluon's default
        # is the last axis, which is the same only for (N, C) inputs
        return self.ctx.call("mxnet.gluon.loss.SoftmaxCrossEntropyLoss", arg(cst.Integer("1"), "axis"))
