"""Optimizers become a ``gluon.Trainer``."""

from __future__ import annotations

from typing import List, Optional

import libcst as cst

from ..context import arg
from ._base import Example, Rule, Unbindable, bind, literal

_SGD_PARAMS = [
    "params", "lr", "momentum", "dampening", "weight_decay", "nesterov",
    "maximize", "foreach", "differentiable", "fused",
]
# Arguments that change how fast the update is computed, not what it is.
_SPEED_ONLY = ("foreach", "differentiable", "fused")
TORCH_SGD_DEFAULT_LR = "0.001"


class Optimizers(Rule):
    """``torch.optim.SGD(net.parameters(), lr=...)`` becomes ``gluon.Trainer``.

    ## What it does
    ``torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)``
    becomes ``gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1,
    "momentum": 0.9, "wd": 0.0001})``; ``nesterov=True`` becomes ``"nag"``.

    ## Why
    The hyper-parameters have other names, and the defaults differ (torch's SGD
    learning rate defaults to 0.001, MXNet's to 0.01), so the learning rate is
    always written out.

    ## Flags
    ``dampening``, ``maximize``, Nesterov momentum together with weight decay
    (MXNet's ``"nag"`` applies the decay inside its momentum differently, so
    parameters drift from the second step on), parameter groups and parameters that are not
    ``model.parameters()`` are left as is with an error for now.

    ## Fix safety
    Safe for a fixed learning rate: updates match to float precision. MXNet's
    momentum buffer holds lr·grad, so changing the learning rate later is not
    neutral (see the schedules rule).
    """

    code = "T2G401"
    name = "optimizers"
    summary = "torch.optim.SGD -> gluon.Trainer(..., 'sgd', {...})"
    examples = (
        Example(
            "import torch\ntrainer = torch.optim.SGD(net.parameters(), lr=0.1)\n",
            'from mxnet import gluon\n\ntrainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})\n',
            id="reference sgd",
        ),
        Example(
            "from torch import optim\nopt = optim.SGD(model.parameters(), 0.05, 0.9, 0, 5e-4)\n",
            'from mxnet import gluon\n\nopt = gluon.Trainer(\n    model.collect_params(), "sgd", {"learning_rate": 0.05, "momentum": 0.9, "wd": 5e-4}\n)\n',
            id="momentum and weight decay, positional",
        ),
        Example(
            "from torch import optim\nopt = optim.SGD(nesterov=True, momentum=0.9, params=model.parameters(), lr=0.05)\n",
            'from mxnet import gluon\n\nopt = gluon.Trainer(\n    model.collect_params(), "nag", {"learning_rate": 0.05, "momentum": 0.9}\n)\n',
            id="nesterov, shuffled keywords",
        ),
        Example(
            "from torch import optim\nopt = optim.SGD(model.parameters(), 0.05, 0.9, weight_decay=5e-4, nesterov=True)\n",
            "from torch import optim\n# torch2gluon: T2G401: `torch.optim.SGD` with `nesterov=True` and `weight_decay` has no exact MXNet equivalent; left as is\nopt = optim.SGD(model.parameters(), 0.05, 0.9, weight_decay=5e-4, nesterov=True)\n",
            diagnostics=("T2G401",),
            id="nesterov with weight decay is flagged",
        ),
        Example(
            "import torch\nopt = torch.optim.SGD(model.parameters())\n",
            'from mxnet import gluon\n\nopt = gluon.Trainer(model.collect_params(), "sgd", {"learning_rate": 0.001})\n',
            id="torch default learning rate written out",
        ),
        Example(
            "import torch\nopt = torch.optim.SGD(model.parameters(), lr=0.1, dampening=0.5)\n",
            "import torch\n# torch2gluon: T2G401: `torch.optim.SGD` argument `dampening` has no MXNet equivalent; left as is\nopt = torch.optim.SGD(model.parameters(), lr=0.1, dampening=0.5)\n",
            diagnostics=("T2G401",),
            id="dampening is flagged",
        ),
    )

    def visit_Call(self, node: cst.Call) -> None:
        # `net.parameters()` inside an optimizer call is this rule's to translate
        if (self.ctx.call_name(node) or "").startswith("torch.optim."):
            for a in node.args:
                value = a.value
                if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute):
                    self.ctx.handled.add(id(value.func))

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        # Remember which names hold optimizers, for the training-loop rule.
        for small in original.body:
            if isinstance(small, cst.Assign) and isinstance(small.value, cst.Call):
                if (self.ctx.call_name(small.value) or "").startswith("torch.optim."):
                    for t in small.targets:
                        if isinstance(t.target, cst.Name):
                            self.ctx.bindings[t.target.value] = "optimizer"
        return None

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        name = self.ctx.call_name(original)
        if name != "torch.optim.SGD":
            return None
        try:
            b = bind(updated, _SGD_PARAMS)
            params = b.get("params")
            if not (
                isinstance(params, cst.Call)
                and isinstance(params.func, cst.Attribute)
                and params.func.attr.value == "parameters"
                and not params.args
            ):
                raise Unbindable("parameters other than `model.parameters()` are not translated yet")
            dampening = b.get("dampening")
            if dampening is not None and literal(dampening) not in (0, 0.0):
                raise Unbindable("argument `dampening` has no MXNet equivalent")
            maximize = b.get("maximize")
            if maximize is not None and literal(maximize) is not False:
                raise Unbindable("argument `maximize` is not translated yet")
            nesterov = b.get("nesterov")
            nesterov_value = literal(nesterov) if nesterov is not None else False
            if nesterov_value not in (True, False):
                raise Unbindable("a `nesterov` flag decided at run time is not translated")
            wd_arg = b.get("weight_decay")
            if nesterov_value and wd_arg is not None and literal(wd_arg) not in (0, 0.0):
                # measured: MXNet's "nag" folds weight decay into its momentum
                # differently; parameters drift from step 2 on
                raise Unbindable("with `nesterov=True` and `weight_decay` has no exact MXNet equivalent")
        except Unbindable as e:
            return self.keep(original, name, str(e))

        entries: List[cst.DictElement] = []

        def put(key: str, value: cst.BaseExpression) -> None:
            entries.append(cst.DictElement(key=cst.SimpleString(f'"{key}"'), value=value))

        put("learning_rate", b.get("lr") or cst.Float(TORCH_SGD_DEFAULT_LR))
        momentum = b.get("momentum")
        if momentum is not None and literal(momentum) not in (0, 0.0):
            put("momentum", momentum)
        wd = b.get("weight_decay")
        if wd is not None and literal(wd) not in (0, 0.0):
            put("wd", wd)
        algo = "nag" if nesterov_value else "sgd"
        collect = params.with_changes(func=params.func.with_changes(attr=cst.Name("collect_params")))  # type: ignore[union-attr]
        return self.ctx.call(
            "mxnet.gluon.Trainer",
            arg(collect),
            arg(cst.SimpleString(f'"{algo}"')),
            arg(cst.Dict(elements=entries)),
        )
