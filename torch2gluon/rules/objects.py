"""Methods of objects the translation turned into Gluon objects."""

from __future__ import annotations

from typing import Dict, FrozenSet, Optional

import libcst as cst

from ..analysis.kinds import Kind
from ..rewrite.models import is_submodule, layer_kind, parameter_of
from ._base import Example, Rule, code_of

# What each kind of translated object still answers to after translation:
# Gluon methods with the same meaning as torch's, and the calls other rules
# rewrite themselves (zero_grad/step: the training-loop rule).
_SAME_MEANING: Dict[str, FrozenSet[str]] = {
    "model": frozenset(
        {"add", "initialize", "collect_params", "hybridize", "save_parameters", "load_parameters",
         "forward", "summary", "cast", "apply", "zero_grad"}
    ),
    "optimizer": frozenset({"step", "zero_grad"}),
    # T2G402 rewrites these two; anything else on a scheduler has no translation
    "scheduler": frozenset({"step", "get_last_lr"}),
}
_KIND_NAMES = {"model": "model", "optimizer": "optimizer", "scheduler": "scheduler"}
_KINDS = {Kind.MODULE: "model", Kind.OPTIMIZER: "optimizer", Kind.SCHEDULER: "scheduler"}


class TorchObjectMethods(Rule):
    """Methods of translated models and optimizers that Gluon lacks are reported.

    ## What it does
    After ``net = nn.Sequential(...)`` or ``opt = torch.optim.SGD(...)`` is
    translated, ``net`` is a Gluon ``Sequential`` and ``opt`` a
    ``gluon.Trainer``. A torch method used on them that Gluon does not have
    with the same meaning (``net.state_dict()``, ``net.to(device)``,
    ``opt.param_groups``, ...) is reported with an error and left as is.

    ## Why
    Such a call would fail at run time, or, worse, mean something else. The
    report lists it up front, with its position.

    ## Fix safety
    Nothing is changed.
    """

    code = "T2G002"
    name = "torch-object-methods"
    summary = "methods of translated models/optimizers without a Gluon twin: reported"
    examples = (
        Example(
            "from torch import nn\nnet = nn.Sequential(nn.ReLU())\nsd = net.state_dict()\n",
            'from mxnet.gluon import nn\n\nnet = nn.Sequential()\nnet.add(nn.Activation("relu"))\nnet.initialize()\n'
            "# torch2gluon: T2G002: `net.state_dict` (a torch model method) has no translation yet; left as is\nsd = net.state_dict()\n",
            diagnostics=("T2G002",),
            id="model.state_dict is reported",
        ),
        Example(
            "import torch\nopt = torch.optim.SGD(net.parameters(), lr=0.1)\nwd = opt.param_groups[0]['weight_decay']\n",
            'from mxnet import gluon\n\nopt = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})\n'
            "# torch2gluon: T2G002: `opt.param_groups` (a torch optimizer method) has no translation yet; left as is\nwd = opt.param_groups[0]['weight_decay']\n",
            diagnostics=("T2G002",),
            id="optimizer attribute is reported",
        ),
        Example(
            "import torch\nopt = torch.optim.SGD(net.parameters(), lr=0.1)\n"
            "sched = torch.optim.lr_scheduler.ExponentialLR(opt, 0.9)\nn = sched.last_epoch\n",
            'from mxnet import gluon\n\nopt = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})\n'
            'sched = {"trainer": opt, "base_lr": opt.learning_rate, "last_epoch": 0, "gamma": 0.9}\n'
            "# torch2gluon: T2G002: `sched.last_epoch` (a torch scheduler method) has no translation yet; left as is\n"
            "n = sched.last_epoch\n",
            diagnostics=("T2G002",),
            id="scheduler attribute is reported",
        ),
    )

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> Optional[cst.BaseExpression]:
        value = original.value
        root = value
        while isinstance(root, (cst.Attribute, cst.Subscript)):
            root = root.value
        if isinstance(root, cst.Name) and root.value == "self":
            return None  # a class's own attributes and members: T2G211/T2G212 (module internals)
        if isinstance(value, cst.Name):
            kind = _KINDS.get(self.ctx.kind(value))
        elif is_submodule(self.ctx, value):
            kind = "model"  # model.features: a Gluon block too
        elif (
            isinstance(value, cst.Call) and self.ctx.kind(value) is Kind.MODULE and self.ctx.call_name(value) is not None
            and original.attr.value not in ("to", "cuda", "cpu")  # moves: T2G801's (nn.Sequential(...).to(dev))
        ):
            kind = "model"  # nn.Conv2d(4, 5, 3).double(): a method of the layer just built
            if original.attr.value in ("weight", "bias"):
                # its parameters before any initialize(): Gluon has not made them yet
                self.report(original, f"`{code_of(original)}` reads a parameter of a layer built in place, which "
                            "Gluon creates only in `initialize()`: assign the layer to a name and initialize it first")
                return None
        else:
            return None
        if kind not in _SAME_MEANING or original.attr.value in _SAME_MEANING[kind]:
            return None
        if id(original) in self.ctx.handled:
            return None
        if kind == "model" and _is_member(self.ctx, original):
            return None  # a submodule or a parameter (T2G214)
        self.report(
            original,
            f"`{code_of(original)}` (a torch {_KIND_NAMES[kind]} method) has no translation yet; left as is",
        )
        return None


def _is_member(ctx, node: cst.Attribute) -> bool:
    """``model.fc`` (a layer assigned in ``Net.__init__``) or ``net.weight`` (a layer's parameter)."""
    if layer_kind(ctx, node) is not None or parameter_of(ctx, node) is not None:
        return True
    owner = ctx.value(node.value).local_class()  # anything the class assigns or defines
    return owner is not None and node.attr.value in ctx.analysis.members(owner)
