"""What the optimizer rule decided for each optimizer, for the rules that build on it.

T2G401 translates ``torch.optim.X(...)`` into a ``gluon.Trainer`` and records
an ``OptimizerPlan`` for the constructor call (``Context.optimizers``); the
schedule rules (T2G402, T2G403) read it through the analysis: the optimizer a
name holds has that call as its origin. An optimizer T2G401 did not translate
has no plan, and a schedule on it is refused.
"""

from __future__ import annotations

from typing import Dict, Optional

import libcst as cst

from ..analysis.kinds import Kind
from ..base.syntax import Unbindable, bind, literal, walk
from ..facts.optimizers import HELPERS
from .context import Context
from .plans import OptimizerPlan

__all__ = ["OptimizerPlan", "optimizer_plan", "scheduled_optimizers", "trainer_kind", "is_trainer", "is_zero"]


def optimizer_plan(ctx: Context, node: Optional[cst.BaseExpression]) -> Optional[OptimizerPlan]:
    """The plan of the optimizer an (original) expression holds, if T2G401 translated it."""
    if node is None:
        return None
    value = ctx.value(node)
    call = value.origin if value.kind is Kind.OPTIMIZER else value.source
    if call is None:
        return None
    return ctx.optimizers.get(id(call))


def is_trainer(call: cst.Call) -> bool:
    f = call.func
    return (
        isinstance(f, cst.Attribute) and f.attr.value == "Trainer"
        and isinstance(f.value, cst.Name) and f.value.value == "gluon"
    )


# ctx.memo[SCHEDULED]: optimizer name -> whether a torch lr_scheduler steps it
# (False) or a OneCycleLR also cycles its momentum (True)
SCHEDULED = "optim:scheduled"


ONE_CYCLE_HEAD = [
    "optimizer", "max_lr", "total_steps", "epochs", "steps_per_epoch", "pct_start", "anneal_strategy",
    "cycle_momentum", "base_momentum", "max_momentum", "div_factor", "final_div_factor", "three_phase",
    "last_epoch",
]


def scheduled_optimizers(ctx) -> Dict[str, bool]:
    """The names passed as the optimizer of a ``torch.optim.lr_scheduler.*``
    call anywhere in the module (computed once), each with whether a
    OneCycleLR cycles its momentum: the optimizer must then follow a
    learning-rate (and momentum) change exactly, which the optimizer call,
    translated first, needs to know."""
    found = ctx.memo.get(SCHEDULED)
    if found is None:
        found = {}
        if "lr_scheduler" in (ctx.source or "lr_scheduler"):
            for node in walk(ctx.module):
                if not isinstance(node, cst.Call):
                    continue
                name = ctx.call_name(node)
                if not name or not name.startswith("torch.optim.lr_scheduler."):
                    continue
                opt = next(
                    (
                        a.value
                        for i, a in enumerate(node.args)
                        if (i == 0 and a.keyword is None and not a.star)
                        or (a.keyword is not None and a.keyword.value == "optimizer")
                    ),
                    None,
                )
                if not isinstance(opt, cst.Name):
                    continue
                cycled = False
                if name == "torch.optim.lr_scheduler.OneCycleLR":
                    try:
                        cycled = literal(bind(node, ONE_CYCLE_HEAD).get("cycle_momentum", cst.Name("True"))) is not False
                    except Unbindable:
                        cycled = True  # TorchSGD either way: exact for both
                found[opt.value] = found.get(opt.value, False) or cycled
        if "param_groups" in (ctx.source or "param_groups"):
            # the learning rate set by hand (`g["lr"] = ...`, T2G403) changes it too
            for node in walk(ctx.module):
                if isinstance(node, cst.Attribute) and node.attr.value == "param_groups" and isinstance(node.value, cst.Name):
                    found.setdefault(node.value.value, False)
        ctx.memo[SCHEDULED] = found
    return found


def trainer_kind(call: cst.Call) -> str:
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
        return "neutral" if is_zero(opts.get("momentum")) else "in-state"
    if algo == "rmsprop":
        centered = literal(opts["centered"]) if "centered" in opts else False
        return "in-state" if centered is not False and not is_zero(opts.get("gamma2", cst.Float("0.9"))) else "neutral"
    if algo == "adadelta":
        return "ignored"
    if algo in HELPERS:  # torch's update: the learning rate is applied at each step
        return "neutral"
    if algo in ("adam", "adagrad"):  # (an older translation's; now TorchAdam/TorchAdagrad)
        return "neutral"
    return "unknown"










def is_zero(node: Optional[cst.BaseExpression]) -> bool:
    return node is None or literal(node) in (0, 0.0)
