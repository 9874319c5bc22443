"""Optimizers become a ``gluon.Trainer``."""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

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

    Adam (``betas`` -> ``beta1``/``beta2``, ``eps`` -> ``epsilon``, L2
    ``weight_decay`` -> ``wd``), RMSprop (torch defaults lr=0.01, alpha=0.99
    written out; ``alpha`` -> ``gamma1``; ``centered=True`` sets ``gamma2`` to
    torch's ``momentum``, 0 by default, since MXNet's defaults to 0.9), Adagrad
    and Adadelta (``rho``, ``epsilon`` 1e-6 written out) are translated too.
    MXNet adds epsilon inside the square root for RMSprop and Adagrad, so
    ``eps**2`` is passed: sqrt(v + eps**2) equals torch's sqrt(v) + eps
    wherever sqrt(v) is far from eps and stays within a factor sqrt(2) of it.
    Adam's epsilon is added before the bias correction in MXNet: exact to
    ~1e-7 for the default eps, not for large eps or tiny gradients.
    Flagged: AdamW (no 'adamw' in MXNet 1.9; 'adam' with wd is L2), LBFGS,
    SparseAdam and other optimizers, non-centered RMSprop with momentum,
    Adadelta with lr != 1 (MXNet ignores the learning rate) or weight decay,
    Adagrad with lr_decay, initial_accumulator_value or weight decay,
    amsgrad, maximize, capturable.

    ## Fix safety
    Safe for a fixed learning rate: updates match to float precision. MXNet's
    momentum buffer holds lr·grad, so changing the learning rate later is not
    neutral (see the schedules rule).
    """

    code = "T2G401"
    name = "optimizers"
    summary = "torch.optim.SGD/Adam/RMSprop/Adagrad/Adadelta -> gluon.Trainer(..., algo, {...})"
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

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._lr_kind: Dict[int, str] = {}

    def visit_Call(self, node: cst.Call) -> None:
        # `net.parameters()` inside an optimizer call is this rule's to translate
        if (self.ctx.call_name(node) or "").startswith("torch.optim."):
            for a in node.args:
                value = a.value
                if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute):
                    self.ctx.handled.add(id(value.func))

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        # Remember which names hold optimizers, for the training-loop rule, and
        # how a learning-rate change affects each (for the schedules rule).
        for small in original.body:
            if isinstance(small, cst.Assign) and isinstance(small.value, cst.Call):
                name = self.ctx.call_name(small.value) or ""
                torch_optimizer = name.startswith("torch.optim.") and not name.startswith("torch.optim.lr_scheduler")
                if torch_optimizer:
                    kind = self._lr_kind.get(id(small.value), "unknown")
                elif _is_trainer(small.value):  # already Gluon (a second pass)
                    kind = _trainer_kind(small.value)
                else:
                    continue
                for t in small.targets:
                    if isinstance(t.target, cst.Name):
                        if torch_optimizer:
                            self.ctx.bindings[t.target.value] = "optimizer"
                        self.ctx.bindings[LR_KIND + t.target.value] = kind
        return None

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        name = self.ctx.call_name(original)
        if name is None or not name.startswith("torch.optim.") or name.startswith("torch.optim.lr_scheduler"):
            return None
        build = _BUILDERS.get(name)
        if build is None:
            if name in _REFUSED:
                return self.keep(original, name, _REFUSED[name])
            return None  # not an optimizer class (reported as untranslated)
        try:
            params_list = _PARAMS[name]
            b = bind(updated, params_list)
            params = b.get("params")
            if not (
                isinstance(params, cst.Call)
                and isinstance(params.func, cst.Attribute)
                and params.func.attr.value == "parameters"
                and not params.args
            ):
                raise Unbindable("parameters other than `model.parameters()` are not translated yet")
            for flag in ("maximize", "amsgrad", "capturable", "decoupled_weight_decay"):
                v = b.get(flag)
                if v is not None and literal(v) is not False:
                    raise Unbindable(f"argument `{flag}` is not translated yet")
            algo, entries, kind = build(b)
        except Unbindable as e:
            return self.keep(original, name, str(e))
        self._lr_kind[id(original)] = kind
        collect = params.with_changes(func=params.func.with_changes(attr=cst.Name("collect_params")))  # type: ignore[union-attr]
        return self.ctx.call(
            "mxnet.gluon.Trainer",
            arg(collect),
            arg(cst.SimpleString(f'"{algo}"')),
            arg(cst.Dict(elements=[cst.DictElement(key=cst.SimpleString(f'"{k}"'), value=v) for k, v in entries])),
        )


def _is_trainer(call: cst.Call) -> bool:
    f = call.func
    return (
        isinstance(f, cst.Attribute) and f.attr.value == "Trainer"
        and isinstance(f.value, cst.Name) and f.value.value == "gluon"
    )


def _trainer_kind(call: cst.Call) -> str:
    """How a literal ``gluon.Trainer(params, "algo", {...})`` reacts to an lr change."""
    if len(call.args) < 2:
        return "unknown"
    algo = literal(call.args[1].value)
    opts = {}
    if len(call.args) > 2 and isinstance(call.args[2].value, cst.Dict):
        for e in call.args[2].value.elements:
            if isinstance(e, cst.DictElement):
                opts[literal(e.key)] = e.value
    if algo in ("sgd", "nag"):
        return "neutral" if _zero(opts.get("momentum")) else "in-state"
    if algo == "rmsprop":
        centered = literal(opts["centered"]) if "centered" in opts else False
        return "in-state" if centered is not False and not _zero(opts.get("gamma2", cst.Float("0.9"))) else "neutral"
    if algo == "adadelta":
        return "ignored"
    if algo in ("adam", "adagrad"):
        return "neutral"
    return "unknown"


# ctx.bindings[LR_KIND + name]: how the optimizer bound to `name` reacts to a
# learning-rate change: "neutral" (lr only scales the step), "in-state" (the
# MXNet state holds lr-scaled values, so a change is not neutral), "ignored"
# (MXNet ignores the learning rate), "unknown".
LR_KIND = "lr-kind:"

Entries = List[Tuple[str, cst.BaseExpression]]


def _zero(node: Optional[cst.BaseExpression]) -> bool:
    return node is None or literal(node) in (0, 0.0)


def _num(value: float) -> cst.BaseExpression:
    return cst.parse_expression(format(float(value), ".12g"))


def _squared(node: Optional[cst.BaseExpression], default: float) -> cst.BaseExpression:
    """MXNet adds epsilon inside the square root: eps**2 keeps the denominator
    sqrt(v + eps**2), within a factor sqrt(2) of torch's sqrt(v) + eps everywhere
    and equal to it wherever sqrt(v) is far from eps (see the docstring)."""
    value = default if node is None else literal(node)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _num(float(value) ** 2)
    return cst.BinaryOperation(left=node, operator=cst.Power(), right=cst.Integer("2"))  # type: ignore[arg-type]


def _sgd(b) -> Tuple[str, Entries, str]:
    dampening = b.get("dampening")
    if not _zero(dampening):
        raise Unbindable("argument `dampening` has no MXNet equivalent")
    nesterov = b.get("nesterov")
    nesterov_value = literal(nesterov) if nesterov is not None else False
    if nesterov_value not in (True, False):
        raise Unbindable("a `nesterov` flag decided at run time is not translated")
    wd_arg = b.get("weight_decay")
    if nesterov_value and not _zero(wd_arg):
        # measured: MXNet's "nag" folds weight decay into its momentum
        # differently; parameters drift from step 2 on
        raise Unbindable("with `nesterov=True` and `weight_decay` has no exact MXNet equivalent")
    entries: Entries = [("learning_rate", b.get("lr") or cst.Float(TORCH_SGD_DEFAULT_LR))]
    momentum = b.get("momentum")
    if not _zero(momentum):
        entries.append(("momentum", momentum))  # type: ignore[arg-type]
    if not _zero(wd_arg):
        entries.append(("wd", wd_arg))  # type: ignore[arg-type]
    return ("nag" if nesterov_value else "sgd"), entries, ("neutral" if _zero(momentum) else "in-state")


def _pair(node: Optional[cst.BaseExpression], default: Tuple[str, str]) -> Tuple[cst.BaseExpression, cst.BaseExpression]:
    if node is None:
        return cst.Float(default[0]), cst.Float(default[1])
    if isinstance(node, (cst.Tuple, cst.List)):
        if len(node.elements) != 2 or any(isinstance(e, cst.StarredElement) for e in node.elements):
            raise Unbindable("`betas` must hold two values")
        return node.elements[0].value, node.elements[1].value
    if isinstance(node, (cst.Name, cst.Attribute)):
        return tuple(  # type: ignore[return-value]
            cst.Subscript(value=node, slice=[cst.SubscriptElement(cst.Index(cst.Integer(str(i))))]) for i in (0, 1)
        )
    raise Unbindable("`betas` given as an expression is not translated")


def _adam(b) -> Tuple[str, Entries, str]:
    beta1, beta2 = _pair(b.get("betas"), ("0.9", "0.999"))
    entries: Entries = [
        ("learning_rate", b.get("lr") or cst.Float("0.001")),
        ("beta1", beta1),
        ("beta2", beta2),
        ("epsilon", b.get("eps") or cst.Float("1e-08")),
    ]
    if not _zero(b.get("weight_decay")):
        entries.append(("wd", b["weight_decay"]))
    return "adam", entries, "neutral"


def _rmsprop(b) -> Tuple[str, Entries, str]:
    centered = b.get("centered")
    centered_value = False if centered is None else literal(centered)
    if centered_value not in (True, False):
        raise Unbindable("a `centered` flag decided at run time is not translated")
    momentum = b.get("momentum")
    if not centered_value and not _zero(momentum):
        raise Unbindable("with `momentum` but not `centered=True` has no MXNet equivalent (MXNet's non-centered RMSProp has no momentum)")
    entries: Entries = [
        ("learning_rate", b.get("lr") or cst.Float("0.01")),
        ("gamma1", b.get("alpha") or cst.Float("0.99")),
        ("epsilon", _squared(b.get("eps"), 1e-8)),
    ]
    kind = "neutral"
    if centered_value:
        entries.append(("centered", cst.Name("True")))
        entries.append(("gamma2", momentum if momentum is not None else cst.Float("0.0")))
        if not _zero(momentum):
            kind = "in-state"  # MXNet's delta holds lr * (momentum buffer)
    if not _zero(b.get("weight_decay")):
        entries.append(("wd", b["weight_decay"]))
    return "rmsprop", entries, kind


def _adagrad(b) -> Tuple[str, Entries, str]:
    if not _zero(b.get("lr_decay")):
        raise Unbindable("argument `lr_decay` has no MXNet equivalent")
    if not _zero(b.get("initial_accumulator_value")):
        raise Unbindable("argument `initial_accumulator_value` has no MXNet equivalent")
    if not _zero(b.get("weight_decay")):
        # MXNet adds wd * weight after the division by the history (decoupled);
        # torch adds it to the gradient before
        raise Unbindable("argument `weight_decay` differs in MXNet (applied after the adaptive scaling)")
    entries: Entries = [
        ("learning_rate", b.get("lr") or cst.Float("0.01")),
        ("eps", _squared(b.get("eps"), 1e-10)),
    ]
    return "adagrad", entries, "neutral"


def _adadelta(b) -> Tuple[str, Entries, str]:
    lr = b.get("lr")
    if lr is not None and literal(lr) not in (1, 1.0):
        raise Unbindable("with `lr` other than 1.0 has no MXNet equivalent (MXNet's AdaDelta ignores the learning rate)")
    if not _zero(b.get("weight_decay")):
        raise Unbindable("argument `weight_decay` differs in MXNet (subtracted without the adaptive scaling)")
    entries: Entries = [
        ("rho", b.get("rho") or cst.Float("0.9")),
        ("epsilon", b.get("eps") or cst.Float("1e-06")),
    ]
    return "adadelta", entries, "ignored"


_BUILDERS = {
    "torch.optim.SGD": _sgd,
    "torch.optim.Adam": _adam,
    "torch.optim.RMSprop": _rmsprop,
    "torch.optim.Adagrad": _adagrad,
    "torch.optim.Adadelta": _adadelta,
}
_PARAMS = {
    "torch.optim.SGD": _SGD_PARAMS,
    "torch.optim.Adam": [
        "params", "lr", "betas", "eps", "weight_decay", "amsgrad",
        "foreach", "maximize", "capturable", "differentiable", "fused", "decoupled_weight_decay",
    ],
    "torch.optim.RMSprop": [
        "params", "lr", "alpha", "eps", "weight_decay", "momentum", "centered",
        "capturable", "foreach", "maximize", "differentiable",
    ],
    "torch.optim.Adagrad": [
        "params", "lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps",
        "foreach", "maximize", "differentiable", "fused",
    ],
    "torch.optim.Adadelta": [
        "params", "lr", "rho", "eps", "weight_decay", "foreach", "capturable", "maximize", "differentiable",
    ],
}
_REFUSED = {
    "torch.optim.AdamW": "has no MXNet optimizer (none is registered as 'adamw' in MXNet 1.9, and 'adam' with `wd` is L2, not decoupled decay)",
    "torch.optim.LBFGS": "needs a closure and a line search; MXNet has no such optimizer",
    "torch.optim.SparseAdam": "has no MXNet equivalent",
    "torch.optim.Adamax": "is not translated yet",
    "torch.optim.NAdam": "is not translated yet (MXNet's 'nadam' uses another momentum schedule)",
    "torch.optim.RAdam": "has no MXNet optimizer",
    "torch.optim.ASGD": "has no MXNet optimizer",
    "torch.optim.Rprop": "has no MXNet optimizer",
}
