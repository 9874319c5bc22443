"""Learning-rate schedulers become a dict of their state plus ``set_learning_rate``."""

from __future__ import annotations

from typing import Dict, List, Optional, Union, cast

import libcst as cst

from ..base.syntax import walk
from ..base.syntax import expr
from ._base import Example, Rule, Unbindable, bind, code_of, literal
from ..analysis.kinds import Kind
from ..facts.optimizers import TORCH_ADAM_CLASS, TORCH_RMSPROP, TORCH_SGD, TORCH_SGD_CLASS, shown
from ..rewrite.optimizers import optimizer_plan

_PARAMS = {
    "StepLR": ["optimizer", "step_size", "gamma", "last_epoch"],
    "MultiStepLR": ["optimizer", "milestones", "gamma", "last_epoch"],
    "ExponentialLR": ["optimizer", "gamma", "last_epoch"],
    "CosineAnnealingLR": ["optimizer", "T_max", "eta_min", "last_epoch"],
    "LambdaLR": ["optimizer", "lr_lambda", "last_epoch"],
    "OneCycleLR": [
        "optimizer", "max_lr", "total_steps", "epochs", "steps_per_epoch", "pct_start", "anneal_strategy",
        "cycle_momentum", "base_momentum", "max_momentum", "div_factor", "final_div_factor", "three_phase",
        "last_epoch",
    ],
}
_DEFAULTS = {"gamma": "0.1", "eta_min": "0.0"}
_REQUIRED = {"StepLR": ("step_size",), "MultiStepLR": ("milestones",), "ExponentialLR": ("gamma",),
             "CosineAnnealingLR": ("T_max",), "LambdaLR": ("lr_lambda",), "OneCycleLR": ("max_lr",)}

# torch's closed forms of the learning rate after `e` calls of step(); `s` is the dict
_CLOSED_FORM = {
    "StepLR": 's["base_lr"] * s["gamma"] ** (s["last_epoch"] // s["step_size"])',
    "MultiStepLR": 's["base_lr"] * s["gamma"] ** sum(1 for m in s["milestones"] if m <= s["last_epoch"])',
    "ExponentialLR": 's["base_lr"] * s["gamma"] ** s["last_epoch"]',
    "CosineAnnealingLR": 's["eta_min"] + (s["base_lr"] - s["eta_min"]) * (1 + np.cos(np.pi * s["last_epoch"] / s["T_max"])) / 2',
    "LambdaLR": 's["base_lr"] * s["lr_lambda"](s["last_epoch"])',
}

# OneCycleLR: torch's phase loop (get_lr) over the phases stored in the dict,
# each (start_step, end_step, lr from, lr to, momentum from, momentum to)
_ONE_CYCLE_VALUE = (
    'lambda s, what: next(s["anneal"](s[p[i]], s[p[i + 1]], (s["last_epoch"] - p[0]) / (p[1] - p[0])) '
    'for i in [2 if what == "lr" else 4] for n, p in enumerate(s["phases"]) '
    'if s["last_epoch"] <= p[1] or n == len(s["phases"]) - 1)'
)
_ANNEAL = {
    "cos": "lambda start, end, pct: end + (start - end) / 2.0 * (np.cos(np.pi * pct) + 1)",
    "linear": "lambda start, end, pct: (end - start) * pct + start",
}
_ONE_CYCLE_DEFAULTS = {
    "pct_start": "0.3", "anneal_strategy": "'cos'", "cycle_momentum": "True", "base_momentum": "0.85",
    "max_momentum": "0.95", "div_factor": "25.0", "final_div_factor": "10000.0", "three_phase": "False",
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
    ``MultiStepLR``, ``ExponentialLR``, ``CosineAnnealingLR``, ``LambdaLR``,
    ``OneCycleLR``.

    ``OneCycleLR`` (stepped after every batch) keeps torch's defaults written
    out in the dict (``pct_start`` 0.3, ``div_factor`` 25, ``final_div_factor``
    1e4, cosine annealing) and its phases (two, or three with
    ``three_phase=True``); a ``"value"`` function repeats torch's phase loop,
    so the learning rate equals torch's at every step. With
    ``cycle_momentum=True`` (the default) the momentum is cycled too, as
    torch does: Adam's beta1 through ``trainer.optimizer.beta1`` (TorchAdam
    reads beta1 and its bias correction at every update), SGD's and
    RMSprop's momentum through ``trainer.optimizer.momentum`` (the T2G401
    rule makes such an SGD a TorchSGD, even without momentum of its own:
    torch's OneCycleLR turns it into momentum SGD).

    An optimizer stepped by a scheduler whose MXNet update would not follow
    a learning-rate change (momentum SGD: MXNet's buffer holds lr·grad) is
    translated by the T2G401 rule into one with torch's update (TorchSGD),
    so ``set_learning_rate`` is exact.

    On parameter groups (``lr_mult``), StepLR, MultiStepLR, ExponentialLR,
    CosineAnnealingLR with ``eta_min=0`` and a single ``lr_lambda`` scale every
    group by the same factor, so one Trainer learning rate is exact.

    ## Why
    torch counts ``scheduler.step()`` calls (usually one per epoch), MXNet's
    ``lr_scheduler`` objects count updates (one per batch): mapping
    ``StepLR(2)`` to ``FactorScheduler(step=2)`` decays IPE times too fast, and
    ``CosineScheduler`` is per update. Keeping torch's count gives the same
    learning rate at every step.

    ## Flags
    An optimizer whose MXNet state holds lr-scaled values (a Trainer written
    by hand with ``"sgd"`` and momentum, seen on a second pass: a
    learning-rate change is not neutral, the parameters drift, measured 0.121
    after one drop), MXNet's AdaDelta (it ignores the learning rate), an
    optimizer not created by a translated ``torch.optim`` call in this file,
    ``last_epoch``, a list of ``lr_lambda``, ``step(epoch)``, other
    schedulers, and a scheduler not assigned to a plain name are left as is
    with an error. So are ``CosineAnnealingLR`` with ``eta_min`` and
    ``OneCycleLR`` on parameter groups with different learning rates (not
    one common factor), ``OneCycleLR`` with ``cycle_momentum=True`` on an
    optimizer without momentum/betas (torch raises), lists of
    ``max_lr``/momenta, or a strategy or phase flag known only at run time.

    ## Fix safety
    Exact for every optimizer the T2G401 rule translates (SGD, momentum SGD
    through TorchSGD, Adam/AdamW, RMSprop, Adagrad, Adadelta): the learning
    rate (and a cycled momentum) equals torch's at every step and the update
    follows it as torch's does.
    """

    code = "T2G402"
    name = "lr-schedules"
    summary = "torch.optim.lr_scheduler.* (incl. OneCycleLR) -> dict + trainer.set_learning_rate at each step()"
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
            "opt = optim.SGD(net.parameters(), lr=0.1)\nsched = CosineAnnealingLR(opt, T_max=10)\nsched.step()\n",
            'import numpy as np\nfrom mxnet import gluon\n\nopt = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})\n'
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
            "import mxnet as mx\nfrom mxnet import gluon, nd\n\n\n"
            + shown(TORCH_SGD_CLASS)
            + '\n\nopt = gluon.Trainer(\n    net.collect_params(), "torchsgd", {"learning_rate": 0.1, "momentum": 0.9}\n)\n'
            'sched = {"trainer": opt, "base_lr": opt.learning_rate, "last_epoch": 0, "gamma": 0.9}\n',
            id="momentum sgd: the optimizer becomes TorchSGD (torch's momentum buffer), so set_learning_rate is exact",
        ),
        Example(
            "import torch\nopt = make_optimizer(net)\nsched = torch.optim.lr_scheduler.ExponentialLR(opt, 0.9)\n",
            "import torch\nopt = make_optimizer(net)\n# torch2gluon: T2G402: `torch.optim.lr_scheduler.ExponentialLR` on an optimizer not created by a translated `torch.optim` call is not translated; left as is\nsched = torch.optim.lr_scheduler.ExponentialLR(opt, 0.9)\n",
            diagnostics=("T2G402",),
            id="an optimizer from elsewhere is flagged",
        ),
        Example(
            'import torch\nopt = torch.optim.SGD(net.parameters(), lr=0.1)\nsched = torch.optim.lr_scheduler.OneCycleLR(opt, 0.1, total_steps=100, cycle_momentum=False)\nsched.step()\n',
            'import numpy as np\nfrom mxnet import gluon\n\nopt = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})\nsched = {\n    "trainer": opt,\n    "last_epoch": 0,\n    "total_steps": 100,\n    "pct_start": 0.3,\n    "initial_lr": 0.1 / 25.0,\n    "max_lr": 0.1,\n    "min_lr": 0.1 / 25.0 / 10000.0,\n    "anneal": lambda start, end, pct: end\n    + (start - end) / 2.0 * (np.cos(np.pi * pct) + 1),\n    "value": lambda s, what: next(\n        s["anneal"](s[p[i]], s[p[i + 1]], (s["last_epoch"] - p[0]) / (p[1] - p[0]))\n        for i in [2 if what == "lr" else 4]\n        for n, p in enumerate(s["phases"])\n        if s["last_epoch"] <= p[1] or n == len(s["phases"]) - 1\n    ),\n}\nsched["phases"] = [\n    (\n        0.0,\n        float(sched["pct_start"] * sched["total_steps"]) - 1,\n        "initial_lr",\n        "max_lr",\n        "max_momentum",\n        "base_momentum",\n    ),\n    (\n        float(sched["pct_start"] * sched["total_steps"]) - 1,\n        sched["total_steps"] - 1,\n        "max_lr",\n        "min_lr",\n        "base_momentum",\n        "max_momentum",\n    ),\n]\nsched["trainer"].set_learning_rate(sched["value"](sched, "lr"))\nsched["last_epoch"] += 1\nsched["trainer"].set_learning_rate(sched["value"](sched, "lr"))\n',
            id='one cycle, plain SGD without momentum cycling',
        ),
        Example(
            'import torch\nopt = torch.optim.Adam(net.parameters())\nsched = torch.optim.lr_scheduler.OneCycleLR(opt, 0.01, epochs=10, steps_per_epoch=50)\nsched.step()\n',
            "import mxnet as mx\nimport numpy as np\nfrom mxnet import gluon, nd\n\n\n"
            + shown(TORCH_ADAM_CLASS)
            + '\n\nopt = gluon.Trainer(\n    net.collect_params(),\n    "torchadam",\n    {"learning_rate": 0.001, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-08},\n)\nsched = {\n    "trainer": opt,\n    "last_epoch": 0,\n    "total_steps": 10 * 50,\n    "pct_start": 0.3,\n    "initial_lr": 0.01 / 25.0,\n    "max_lr": 0.01,\n    "min_lr": 0.01 / 25.0 / 10000.0,\n    "base_momentum": 0.85,\n    "max_momentum": 0.95,\n    "anneal": lambda start, end, pct: end\n    + (start - end) / 2.0 * (np.cos(np.pi * pct) + 1),\n    "value": lambda s, what: next(\n        s["anneal"](s[p[i]], s[p[i + 1]], (s["last_epoch"] - p[0]) / (p[1] - p[0]))\n        for i in [2 if what == "lr" else 4]\n        for n, p in enumerate(s["phases"])\n        if s["last_epoch"] <= p[1] or n == len(s["phases"]) - 1\n    ),\n}\nsched["phases"] = [\n    (\n        0.0,\n        float(sched["pct_start"] * sched["total_steps"]) - 1,\n        "initial_lr",\n        "max_lr",\n        "max_momentum",\n        "base_momentum",\n    ),\n    (\n        float(sched["pct_start"] * sched["total_steps"]) - 1,\n        sched["total_steps"] - 1,\n        "max_lr",\n        "min_lr",\n        "base_momentum",\n        "max_momentum",\n    ),\n]\nsched["trainer"].set_learning_rate(sched["value"](sched, "lr"))\nsched["trainer"].optimizer.beta1 = sched["value"](sched, "momentum")\nsched["last_epoch"] += 1\nsched["trainer"].set_learning_rate(sched["value"](sched, "lr"))\nsched["trainer"].optimizer.beta1 = sched["value"](sched, "momentum")\n',
            id='one cycle on Adam cycles beta1',
        ),
        Example(
            'import torch\nopt = torch.optim.SGD(net.parameters(), lr=0.1)\nsched = torch.optim.lr_scheduler.OneCycleLR(opt, 0.1, total_steps=100)\n',
            "import mxnet as mx\nimport numpy as np\nfrom mxnet import gluon, nd\n\n\n"
            + shown(TORCH_SGD_CLASS)
            + '\n\nopt = gluon.Trainer(net.collect_params(), "torchsgd", {"learning_rate": 0.1})\nsched = {\n    "trainer": opt,\n    "last_epoch": 0,\n    "total_steps": 100,\n    "pct_start": 0.3,\n    "initial_lr": 0.1 / 25.0,\n    "max_lr": 0.1,\n    "min_lr": 0.1 / 25.0 / 10000.0,\n    "base_momentum": 0.85,\n    "max_momentum": 0.95,\n    "anneal": lambda start, end, pct: end\n    + (start - end) / 2.0 * (np.cos(np.pi * pct) + 1),\n    "value": lambda s, what: next(\n        s["anneal"](s[p[i]], s[p[i + 1]], (s["last_epoch"] - p[0]) / (p[1] - p[0]))\n        for i in [2 if what == "lr" else 4]\n        for n, p in enumerate(s["phases"])\n        if s["last_epoch"] <= p[1] or n == len(s["phases"]) - 1\n    ),\n}\nsched["phases"] = [\n    (\n        0.0,\n        float(sched["pct_start"] * sched["total_steps"]) - 1,\n        "initial_lr",\n        "max_lr",\n        "max_momentum",\n        "base_momentum",\n    ),\n    (\n        float(sched["pct_start"] * sched["total_steps"]) - 1,\n        sched["total_steps"] - 1,\n        "max_lr",\n        "min_lr",\n        "base_momentum",\n        "max_momentum",\n    ),\n]\nsched["trainer"].set_learning_rate(sched["value"](sched, "lr"))\nsched["trainer"].optimizer.momentum = sched["value"](sched, "momentum")\n',
            id="one cycle cycling SGD's momentum: TorchSGD reads `momentum` at every update",
        ),
        Example(
            "import torch\nopt = torch.optim.SGD([{'params': a.parameters()}, {'params': b.parameters(), 'lr': 0.01}], lr=0.1)\nsched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 10, eta_min=1e-4)\n",
            'import torch\nfrom mxnet import gluon\n\nb.collect_params().setattr("lr_mult", 0.01 / 0.1)\nopt = gluon.Trainer(\n    [*a.collect_params().values(), *b.collect_params().values()],\n    "sgd",\n    {"learning_rate": 0.1},\n)\n# torch2gluon: T2G402: `torch.optim.lr_scheduler.CosineAnnealingLR` with `eta_min` on parameter groups with different learning rates is not translated (torch anneals each group towards eta_min, not by one common factor); left as is\nsched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 10, eta_min=1e-4)\n',
            diagnostics=('T2G402',),
            id='cosine with eta_min on groups with different lr is flagged',
        ),
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._mine: Dict[int, str] = {}  # id of the assigned call -> target name
        self._kinds: Dict[str, str] = {}  # scheduler variable -> class name
        self._cycle_attr: Dict[str, str] = {}  # OneCycleLR variable -> the optimizer attribute it cycles

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        if len(node.body) == 1 and isinstance(node.body[0], cst.Assign):
            a = node.body[0]
            if len(a.targets) == 1 and isinstance(a.targets[0].target, cst.Name) and isinstance(a.value, cst.Call):
                self._mine[id(a.value)] = a.targets[0].target.value

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        name = self.ctx.call_name(original) or ""
        if name.startswith("torch.optim.lr_scheduler."):
            if id(original) not in self._mine:
                self.keep(original, name, "is translated only when assigned to a plain name")
                return None
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
                return self._construct(original, updated, cast(cst.Call, small.value), name, self._mine[id(small.value)])
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
                return [
                    cst.parse_statement(f'{var}["last_epoch"] += 1\n').with_changes(leading_lines=updated.leading_lines),
                    *self._setters(var),
                ]
        return None

    def _setters(self, var: str) -> List[cst.BaseStatement]:
        """The statements that set torch's learning rate (and OneCycleLR's beta1) for ``var["last_epoch"]``."""
        kind = self._kinds[var]
        if kind == "OneCycleLR":
            out: List[cst.BaseStatement] = [cst.parse_statement(f'{var}["trainer"].set_learning_rate({var}["value"]({var}, "lr"))\n')]
            if var in self._cycle_attr:
                attr = self._cycle_attr[var]
                out.append(cst.parse_statement(f'{var}["trainer"].optimizer.{attr} = {var}["value"]({var}, "momentum")\n'))
            return out
        form = _CLOSED_FORM[kind].replace('s["', f'{var}["')
        setter = cst.parse_statement(f'{var}["trainer"].set_learning_rate({form})\n')
        if "np." in form:
            self._numpy(setter)
        return [setter]

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
            opt_original = bind(call, _PARAMS[cls])["optimizer"]
            plan = optimizer_plan(self.ctx, opt_original) if isinstance(opt, cst.Name) else None
            if plan is None:
                raise Unbindable("on an optimizer not created by a translated `torch.optim` call is not translated")
            assert isinstance(opt, cst.Name)
            kind = plan.lr_kind
            grouped = plan.grouped
            if grouped and cls == "CosineAnnealingLR" and b.get("eta_min") is not None and literal(b["eta_min"]) not in (0, 0.0):
                raise Unbindable(
                    "with `eta_min` on parameter groups with different learning rates is not translated "
                    "(torch anneals each group towards eta_min, not by one common factor)"
                )
            if grouped and cls == "OneCycleLR":
                raise Unbindable("on parameter groups with different learning rates is not translated (OneCycleLR sets every group's own max_lr)")
            cycle_attr = None
            if cls == "OneCycleLR":
                cycle_attr = self._check_one_cycle(
                    b,
                    plan.torch_class,
                    plan.algo,
                )
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
        if cls == "OneCycleLR":
            if cycle_attr:
                self._cycle_attr[target] = cycle_attr
            return self._one_cycle(updated, b, opt.value, target)
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

    def _check_one_cycle(self, b: Dict[str, cst.BaseExpression], optimizer_class: str, algo: str) -> Optional[str]:
        """Raise for what OneCycleLR cannot follow; the optimizer attribute it
        cycles (Adam's ``beta1``, TorchSGD's or TorchRMSprop's ``momentum``), if any."""
        for key in ("total_steps", "epochs", "steps_per_epoch"):
            if key in b and literal(b[key]) is None:
                del b[key]
        if "total_steps" not in b and not ("epochs" in b and "steps_per_epoch" in b):
            raise Unbindable("needs `total_steps` or `epochs` and `steps_per_epoch`")
        if "total_steps" in b and ("epochs" in b or "steps_per_epoch" in b):
            raise Unbindable("with `total_steps` and `epochs`/`steps_per_epoch` is not translated")
        for key in ("max_lr", "base_momentum", "max_momentum"):
            if isinstance(b.get(key), (cst.List, cst.Tuple)):
                raise Unbindable(f"with a list of `{key}` (parameter groups) is not translated")
        strategy = literal(b["anneal_strategy"]) if "anneal_strategy" in b else "cos"
        if strategy not in _ANNEAL:
            raise Unbindable("with an `anneal_strategy` other than a literal 'cos' or 'linear' is not translated")
        three = literal(b["three_phase"]) if "three_phase" in b else False
        if three not in (True, False):
            raise Unbindable("with a `three_phase` flag decided at run time is not translated")
        cycle = literal(b["cycle_momentum"]) if "cycle_momentum" in b else True
        if cycle not in (True, False):
            raise Unbindable("with a `cycle_momentum` flag decided at run time is not translated")
        if not cycle:
            return None
        if optimizer_class in ("torch.optim.Adam", "torch.optim.AdamW"):
            return "beta1"  # TorchAdam (and MXNet's adam) read beta1 and its bias correction at every update
        if optimizer_class in ("torch.optim.SGD", "torch.optim.RMSprop") and algo in (TORCH_SGD, TORCH_RMSPROP):
            return "momentum"  # torch's update, reading momentum at every update
        if optimizer_class == "torch.optim.SGD":
            raise Unbindable(
                "with `cycle_momentum=True` (the default) makes SGD a momentum SGD with a changing learning rate, "
                "which MXNet's momentum state (lr-scaled) does not follow; pass `cycle_momentum=False` for plain SGD"
            )
        if optimizer_class == "torch.optim.RMSprop":
            raise Unbindable("with `cycle_momentum=True` (the default) cycles RMSprop's momentum, which MXNet's RMSProp cannot follow")
        raise Unbindable("with `cycle_momentum=True` needs an optimizer with momentum or betas (torch raises a ValueError here)")

    def _one_cycle(self, updated, b: Dict[str, cst.BaseExpression], opt: str, target: str) -> List[cst.BaseStatement]:
        def get(key: str) -> str:
            return code_of(b[key]) if key in b else _ONE_CYCLE_DEFAULTS[key]

        total = code_of(b["total_steps"]) if "total_steps" in b else f"{code_of(b['epochs'])} * {code_of(b['steps_per_epoch'])}"
        strategy = literal(b["anneal_strategy"]) if "anneal_strategy" in b else "cos"
        cycle = target in self._cycle_attr
        parts = [
            f'"trainer": {opt}', '"last_epoch": 0', f'"total_steps": {total}', f'"pct_start": {get("pct_start")}',
            f'"initial_lr": {code_of(b["max_lr"])} / {get("div_factor")}', f'"max_lr": {code_of(b["max_lr"])}',
            f'"min_lr": {code_of(b["max_lr"])} / {get("div_factor")} / {get("final_div_factor")}',
        ]
        if cycle:
            parts += [f'"base_momentum": {get("base_momentum")}', f'"max_momentum": {get("max_momentum")}']
        parts.append(f'"anneal": {_ANNEAL[strategy]}')
        parts.append(f'"value": {_ONE_CYCLE_VALUE}')
        v = target
        end1 = f'float({v}["pct_start"] * {v}["total_steps"]) - 1'
        last = f'{v}["total_steps"] - 1'
        if (literal(b["three_phase"]) if "three_phase" in b else False):
            end2 = f'float(2 * {v}["pct_start"] * {v}["total_steps"]) - 2'
            phases = [
                f'(0.0, {end1}, "initial_lr", "max_lr", "max_momentum", "base_momentum")',
                f'({end1}, {end2}, "max_lr", "initial_lr", "base_momentum", "max_momentum")',
                f'({end2}, {last}, "initial_lr", "min_lr", "max_momentum", "max_momentum")',
            ]
        else:
            phases = [
                f'(0.0, {end1}, "initial_lr", "max_lr", "max_momentum", "base_momentum")',
                f'({end1}, {last}, "max_lr", "min_lr", "base_momentum", "max_momentum")',
            ]
        stmt = cst.parse_statement(f"{target} = {{{', '.join(parts)}}}\n").with_changes(
            leading_lines=updated.leading_lines, trailing_whitespace=updated.trailing_whitespace
        )
        out: List[cst.BaseStatement] = [stmt, cst.parse_statement(f'{v}["phases"] = [{", ".join(phases)}]\n')]
        # torch's constructor takes the first step: the learning rate (and beta1) of step 0
        out += self._setters(target)
        if strategy == "cos":
            self._numpy(stmt)
        return out


def _group_lr(node: cst.BaseExpression) -> Optional[cst.Name]:
    """``opt.param_groups[0]["lr"]`` (first group, literal key) -> ``opt``."""
    if not (isinstance(node, cst.Subscript) and len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index)):
        return None
    if literal(node.slice[0].slice.value) != "lr":
        return None
    inner = node.value
    if not (isinstance(inner, cst.Subscript) and len(inner.slice) == 1 and isinstance(inner.slice[0].slice, cst.Index)):
        return None
    if literal(inner.slice[0].slice.value) != 0:
        return None
    groups = inner.value
    if isinstance(groups, cst.Attribute) and groups.attr.value == "param_groups" and isinstance(groups.value, cst.Name):
        return groups.value
    return None


def _lr_loop(node: cst.For) -> Optional[cst.Name]:
    """``for g in opt.param_groups:`` whose body only sets ``g["lr"]`` -> ``opt``."""
    it = node.iter
    if not (isinstance(it, cst.Attribute) and it.attr.value == "param_groups" and isinstance(it.value, cst.Name)):
        return None
    if not isinstance(node.target, cst.Name) or not isinstance(node.body, cst.IndentedBlock) or node.orelse:
        return None
    g = node.target.value
    for stmt in node.body.body:
        if not (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1):
            return None
        small = stmt.body[0]
        target = small.targets[0].target if isinstance(small, cst.Assign) and len(small.targets) == 1 else (
            small.target if isinstance(small, cst.AugAssign) else None
        )
        if not (
            isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name) and target.value.value == g
            and len(target.slice) == 1 and isinstance(target.slice[0].slice, cst.Index)
            and literal(target.slice[0].slice.value) == "lr"
        ):
            return None
        value = cast(Union[cst.Assign, cst.AugAssign], small).value  # it has a target
        if any(isinstance(n, cst.Name) and n.value == g for n in walk(value)):
            return None
    return it.value


class ManualLearningRate(Rule):
    """Learning rates read and set by hand through ``param_groups`` use the Trainer's.

    ## What it does
    ``opt.param_groups[0]["lr"]`` (read) becomes ``opt.learning_rate``;
    ``for g in opt.param_groups: g["lr"] = v`` (or ``*= f``, ``/= f``, ...)
    and ``opt.param_groups[0]["lr"] = v`` become
    ``opt.set_learning_rate(v)`` (``opt.set_learning_rate(opt.learning_rate
    * f)``).

    ## Why
    A translated optimizer is a ``gluon.Trainer`` with one learning rate, as
    a torch optimizer with one parameter group has. An optimizer whose
    learning rate the script changes is translated with torch's update rule
    where MXNet's would keep lr-scaled momentum (T2G401's TorchSGD), so the
    change is exact.

    ## Flags
    Optimizers with parameter groups of different learning rates (one rate
    per group is ``lr_mult`` in Gluon; setting them all to one value is not
    translated), loops that do anything else with a group, and other uses of
    ``param_groups`` (T2G002) are left as is and reported.

    ## Fix safety
    Safe for optimizers with one learning rate.
    """

    code = "T2G403"
    name = "manual-learning-rate"
    summary = "opt.param_groups[0]['lr'] / for g in opt.param_groups: g['lr'] = v -> learning_rate / set_learning_rate"
    examples = (
        Example(
            (
                "import torch\nopt = torch.optim.SGD(net.parameters(), lr=0.1)\n"
                "for epoch in range(10):\n"
                "    if epoch == 5:\n"
                "        for g in opt.param_groups:\n"
                "            g['lr'] *= 0.1\n"
                "    print(opt.param_groups[0]['lr'])\n"
            ),
            (
                'from mxnet import gluon\n\nopt = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})\n'
                "for epoch in range(10):\n"
                "    if epoch == 5:\n"
                "        opt.set_learning_rate(opt.learning_rate * 0.1)\n"
                "    print(opt.learning_rate)\n"
            ),
            id="decay by hand and read it back",
        ),
    )

    def _known(self, name: Optional[cst.Name]) -> bool:
        if name is None or self.ctx.kind(name) is not Kind.OPTIMIZER:
            return False
        plan = optimizer_plan(self.ctx, name)
        return plan is None or not plan.grouped

    def visit_For(self, node: cst.For) -> None:
        if self._known(_lr_loop(node)):
            self.ctx.handled.add(id(node.iter))

    def visit_Subscript(self, node: cst.Subscript) -> None:
        opt = _group_lr(node)
        if self._known(opt):
            self.ctx.handled.add(id(cast(cst.Subscript, node.value).value))  # the `opt.param_groups`

    def leave_For(self, original: cst.For, updated: cst.For):
        opt = _lr_loop(original)
        if opt is None or not self._known(opt):
            return None
        stmts: List[cst.SimpleStatementLine] = []
        for stmt in updated.body.body:
            line = cast(cst.SimpleStatementLine, stmt)  # `g["lr"] = ...` lines, as _lr_loop found them
            small = line.body[0]
            stmts.append(line.with_changes(body=[cst.Expr(self._set(opt, small))]))
        first = stmts[0].with_changes(leading_lines=[*original.leading_lines, *stmts[0].leading_lines])
        return [first, *stmts[1:]]

    def _set(self, opt: cst.Name, small) -> cst.Call:
        value = small.value
        if isinstance(small, cst.AugAssign):
            op = code_of(small.operator).strip()[:-1]
            value = cst.parse_expression(f"{opt.value}.learning_rate {op} ({code_of(value)})")
            if isinstance(small.value, (cst.Name, cst.Integer, cst.Float, cst.Attribute)):
                value = cst.parse_expression(f"{opt.value}.learning_rate {op} {code_of(small.value)}")
        return cst.Call(func=cst.Attribute(value=cst.Name(opt.value), attr=cst.Name("set_learning_rate")), args=[cst.Arg(value=value)])

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        if len(original.body) != 1:
            return None
        small = original.body[0]
        target = small.targets[0].target if isinstance(small, cst.Assign) and len(small.targets) == 1 else (
            small.target if isinstance(small, cst.AugAssign) else None
        )
        if target is None:
            return None
        opt = _group_lr(target)
        if not self._known(opt):
            return None
        new_small = updated.body[0]
        return updated.with_changes(body=[cst.Expr(self._set(opt, new_small))])  # type: ignore[arg-type]

    def leave_Subscript(self, original: cst.Subscript, updated: cst.Subscript):
        opt = _group_lr(original)
        if not self._known(opt):
            return None
        return cst.Attribute(value=cst.Name(opt.value), attr=cst.Name("learning_rate"))  # type: ignore[union-attr]
