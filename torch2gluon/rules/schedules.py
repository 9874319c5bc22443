"""Learning-rate schedulers become a dict of their state plus ``set_learning_rate``."""

from __future__ import annotations

from typing import Dict, List, Optional

import libcst as cst

from .._cst import walk
from ..context import expr
from ._base import Example, Rule, Unbindable, bind, code_of
from .optim import LR_KIND

_PARAMS = {
    "StepLR": ["optimizer", "step_size", "gamma", "last_epoch"],
    "MultiStepLR": ["optimizer", "milestones", "gamma", "last_epoch"],
    "ExponentialLR": ["optimizer", "gamma", "last_epoch"],
    "CosineAnnealingLR": ["optimizer", "T_max", "eta_min", "last_epoch"],
    "LambdaLR": ["optimizer", "lr_lambda", "last_epoch"],
}
_DEFAULTS = {"gamma": "0.1", "eta_min": "0.0"}
_REQUIRED = {"StepLR": ("step_size",), "MultiStepLR": ("milestones",), "ExponentialLR": ("gamma",),
             "CosineAnnealingLR": ("T_max",), "LambdaLR": ("lr_lambda",)}

# torch's closed forms of the learning rate after `e` calls of step(); `s` is the dict
_CLOSED_FORM = {
    "StepLR": 's["base_lr"] * s["gamma"] ** (s["last_epoch"] // s["step_size"])',
    "MultiStepLR": 's["base_lr"] * s["gamma"] ** sum(1 for m in s["milestones"] if m <= s["last_epoch"])',
    "ExponentialLR": 's["base_lr"] * s["gamma"] ** s["last_epoch"]',
    "CosineAnnealingLR": 's["eta_min"] + (s["base_lr"] - s["eta_min"]) * (1 + np.cos(np.pi * s["last_epoch"] / s["T_max"])) / 2',
    "LambdaLR": 's["base_lr"] * s["lr_lambda"](s["last_epoch"])',
}


class Schedules(Rule):
    """``torch.optim.lr_scheduler.StepLR(opt, ...)`` and its ``step()`` calls.

    ## What it does
    ``sched = StepLR(opt, step_size=2, gamma=0.5)`` becomes a dict holding the
    trainer, the base learning rate, the number of ``step()`` calls so far and
    the scheduler's arguments; ``sched.step()`` becomes
    ``sched["last_epoch"] += 1`` and ``sched["trainer"].set_learning_rate(...)``
    with torch's closed form of the learning rate. ``sched.get_last_lr()``
    becomes ``[sched["trainer"].learning_rate]``. Covered: ``StepLR``,
    ``MultiStepLR``, ``ExponentialLR``, ``CosineAnnealingLR``, ``LambdaLR``.

    ## Why
    torch counts ``scheduler.step()`` calls (usually one per epoch), MXNet's
    ``lr_scheduler`` objects count updates (one per batch): mapping
    ``StepLR(2)`` to ``FactorScheduler(step=2)`` decays IPE times too fast, and
    ``CosineScheduler`` is per update. Keeping torch's count gives the same
    learning rate at every step.

    ## Flags
    An optimizer whose MXNet state holds lr-scaled values (SGD with momentum,
    centered RMSprop with momentum: a learning-rate change is not neutral, the
    parameters drift, measured 0.121 after one drop), AdaDelta (MXNet ignores
    the learning rate), an optimizer not created by a translated
    ``torch.optim`` call in this file, ``last_epoch``, a list of
    ``lr_lambda``, ``step(epoch)``, other schedulers, and a scheduler not
    assigned to a plain name are left as is with an error.

    ## Fix safety
    Exact for plain SGD, Adam, RMSprop without momentum and Adagrad: the
    learning rate equals torch's at every step.
    """

    code = "T2G402"
    name = "lr-schedules"
    summary = "torch.optim.lr_scheduler.* -> dict + trainer.set_learning_rate at each step()"
    examples = (
        Example(
            "import torch\nopt = torch.optim.SGD(net.parameters(), lr=0.1)\n"
            "sched = torch.optim.lr_scheduler.StepLR(opt, 2, 0.5)\nfor epoch in range(5):\n    sched.step()\n",
            'from mxnet import gluon\n\nopt = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})\n'
            'sched = {\n    "trainer": opt,\n    "base_lr": opt.learning_rate,\n    "last_epoch": 0,\n'
            '    "step_size": 2,\n    "gamma": 0.5,\n}\n'
            "for epoch in range(5):\n"
            '    sched["last_epoch"] += 1\n'
            '    sched["trainer"].set_learning_rate(\n'
            '        sched["base_lr"] * sched["gamma"] ** (sched["last_epoch"] // sched["step_size"])\n    )\n',
            id="step lr, positional",
        ),
        Example(
            "from torch import optim\nfrom torch.optim.lr_scheduler import CosineAnnealingLR\n"
            "opt = optim.Adam(net.parameters())\nsched = CosineAnnealingLR(opt, T_max=10)\nsched.step()\n",
            'import numpy as np\nfrom mxnet import gluon\n\nopt = gluon.Trainer(\n    net.collect_params(),\n    "adam",\n'
            '    {"learning_rate": 0.001, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-08},\n)\n'
            'sched = {\n    "trainer": opt,\n    "base_lr": opt.learning_rate,\n    "last_epoch": 0,\n'
            '    "T_max": 10,\n    "eta_min": 0.0,\n}\n'
            'sched["last_epoch"] += 1\n'
            'sched["trainer"].set_learning_rate(\n    sched["eta_min"]\n    + (sched["base_lr"] - sched["eta_min"])\n'
            '    * (1 + np.cos(np.pi * sched["last_epoch"] / sched["T_max"]))\n    / 2\n)\n',
            id="cosine, eta_min default written out",
        ),
        Example(
            "import torch\nopt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)\n"
            "sched = torch.optim.lr_scheduler.ExponentialLR(opt, 0.9)\n",
            "import torch\nfrom mxnet import gluon\n\n"
            'opt = gluon.Trainer(\n    net.collect_params(), "sgd", {"learning_rate": 0.1, "momentum": 0.9}\n)\n'
            "# torch2gluon: T2G402: `torch.optim.lr_scheduler.ExponentialLR` on an optimizer whose MXNet state holds lr-scaled values (momentum): a learning-rate change is not neutral; left as is\n"
            "sched = torch.optim.lr_scheduler.ExponentialLR(opt, 0.9)\n",
            diagnostics=("T2G402",),
            id="momentum sgd is flagged",
        ),
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._mine: Dict[int, str] = {}  # id of the assigned call -> target name
        self._kinds: Dict[str, str] = {}  # scheduler variable -> class name

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        if len(node.body) == 1 and isinstance(node.body[0], cst.Assign):
            a = node.body[0]
            if len(a.targets) == 1 and isinstance(a.targets[0].target, cst.Name) and isinstance(a.value, cst.Call):
                self._mine[id(a.value)] = a.targets[0].target.value

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        name = self.ctx.call_name(original) or ""
        if name.startswith("torch.optim.lr_scheduler."):
            if id(original) not in self._mine:
                return self.keep(original, name, "is translated only when assigned to a plain name")
            return None
        f = original.func
        if isinstance(f, cst.Attribute) and isinstance(f.value, cst.Name) and f.value.value in self._kinds:
            if f.attr.value == "get_last_lr" and not original.args:
                return cst.List([cst.Element(expr(f'{f.value.value}["trainer"].learning_rate'))])
        return None

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        if len(original.body) != 1:
            return None
        small = original.body[0]
        if isinstance(small, cst.Assign) and id(small.value) in self._mine:
            name = self.ctx.call_name(small.value) or ""
            if name.startswith("torch.optim.lr_scheduler."):
                return self._construct(original, updated, small.value, name, self._mine[id(small.value)])
        if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            call = small.value
            f = call.func
            if (
                isinstance(f, cst.Attribute)
                and f.attr.value == "step"
                and isinstance(f.value, cst.Name)
                and f.value.value in self._kinds
            ):
                var = f.value.value
                if call.args:
                    self.report(original, f"`{var}.step(epoch)` is not translated; left as is")
                    return None
                form = _CLOSED_FORM[self._kinds[var]].replace('s["', f'{var}["')
                setter = cst.parse_statement(f'{var}["trainer"].set_learning_rate({form})\n')
                if "np." in form:
                    self._numpy(setter)
                return [
                    cst.parse_statement(f'{var}["last_epoch"] += 1\n').with_changes(leading_lines=updated.leading_lines),
                    setter,
                ]
        return None

    def _numpy(self, stmt: cst.CSTNode) -> None:
        """numpy gives cos and pi (float64, like torch's Python math); its
        import is added unless the script already has ``import numpy as np``."""
        names = [n for n in walk(stmt) if isinstance(n, cst.Name) and n.value == "np"]
        self.ctx.plain_import("numpy", "np", names)

    def _construct(self, original, updated, call: cst.Call, name: str, target: str):
        cls = name.rsplit(".", 1)[1]
        new_call = updated.body[0].value
        try:
            if cls not in _PARAMS:
                raise Unbindable("is not translated yet")
            b = bind(new_call, _PARAMS[cls])
            for req in ("optimizer",) + _REQUIRED[cls]:
                if req not in b:
                    raise Unbindable(f"needs `{req}`")
            if "last_epoch" in b:
                raise Unbindable("argument `last_epoch` is not translated yet")
            if cls == "LambdaLR" and isinstance(b["lr_lambda"], (cst.List, cst.Tuple)):
                raise Unbindable("with a list of `lr_lambda` (parameter groups) is not translated yet")
            opt = b["optimizer"]
            if not isinstance(opt, cst.Name) or LR_KIND + opt.value not in self.ctx.bindings:
                raise Unbindable("on an optimizer not created by a translated `torch.optim` call is not translated")
            kind = self.ctx.bindings.get(LR_KIND + opt.value, "unknown")
            if kind == "in-state":
                raise Unbindable(
                    "on an optimizer whose MXNet state holds lr-scaled values (momentum): a learning-rate change is not neutral"
                )
            if kind == "ignored":
                raise Unbindable("on AdaDelta: MXNet's AdaDelta ignores the learning rate")
            if kind != "neutral":
                raise Unbindable("on an optimizer that was not translated")
        except Unbindable as e:
            self.keep(call, name, str(e))
            return None
        self._kinds[target] = cls
        self.ctx.bindings[target] = "scheduler"
        parts = [f'"trainer": {opt.value}', f'"base_lr": {opt.value}.learning_rate', '"last_epoch": 0']
        for p in _PARAMS[cls][1:-1]:
            value = b.get(p)
            parts.append(f'"{p}": {code_of(value) if value is not None else _DEFAULTS[p]}')
        stmt = cst.parse_statement(f"{target} = {{{', '.join(parts)}}}\n").with_changes(
            leading_lines=updated.leading_lines, trailing_whitespace=updated.trailing_whitespace
        )
        out: List[cst.BaseStatement] = [stmt]
        if cls == "LambdaLR":  # torch sets base_lr * lr_lambda(0) at construction
            form = _CLOSED_FORM[cls].replace('s["', f'{target}["')
            out.append(cst.parse_statement(f'{target}["trainer"].set_learning_rate({form})\n'))
        return out
