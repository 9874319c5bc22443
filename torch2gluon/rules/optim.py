"""Optimizers become a ``gluon.Trainer``."""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple, cast

import libcst as cst

from ..analysis.kinds import Kind
from ..base.syntax import arg, walk
from ..facts.runtime import INITIALIZED_HELPER, PARAMS_HELPER
from ..facts.optimizers import (
    HELPERS,
    TORCH_ADADELTA,
    TORCH_ADADELTA_CLASS,
    TORCH_ADAGRAD,
    TORCH_ADAM,
    TORCH_ADAM_CLASS,
    TORCH_CLASS_OF_ALGO,
    TORCH_RMSPROP,
    TORCH_RMSPROP_CLASS,
    TORCH_SGD,
    TORCH_SGD_CLASS,
    shown,
)
from ..rewrite.optimizers import OptimizerPlan, is_trainer, is_zero, scheduled_optimizers, trainer_kind
from ._base import Example, Rule, Unbindable, bind, code_of, literal

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
    The parameters of a model that a class or function of another file
    builds (``from model import Net``, ``net = Net()``) are taken through
    ``_t2g_params(net)``, which initialises those not initialised yet (torch's
    exist once the module is built, Gluon's after ``initialize()``).
    Where MXNet has no optimizer with torch's exact update, the translation
    defines one after its imports (an ``MX.optimizer.Optimizer`` subclass,
    registered under the name the Trainer is given):

    - ``"torchsgd"`` (``TorchSGD``) for momentum SGD whose optimizer variable
      a ``torch.optim.lr_scheduler`` steps anywhere in the file, for
      ``dampening`` with momentum, and for Nesterov momentum with weight
      decay. Its buffer holds gradients and the learning rate is applied at
      each step, as in torch; without a scheduler, plain and momentum SGD and
      Nesterov SGD without decay stay MXNet's ``"sgd"``/``"nag"``.
    - ``"torchadam"`` (``TorchAdam``) for Adam and AdamW (``"decoupled":
      True``: ``w *= 1 - lr * wd`` before the step; AdamW's default decay
      0.01 is written out), ``amsgrad`` and Adam's
      ``decoupled_weight_decay`` included. It calls MXNet's fused
      ``adam_update`` kernel with torch's epsilon scaled by
      sqrt(1 - beta2**t) and the gradient and learning rate rescaled for the
      kernel's float32 ``1 - beta`` (same speed as ``"adam"``); amsgrad runs
      torch's update in NDArray operations.
    - ``"torchrmsprop"`` (``TorchRMSprop``) for RMSprop (``alpha``, ``eps``,
      ``momentum``, ``centered``, ``weight_decay`` under torch's names, torch's
      defaults lr=0.01, alpha=0.99 written out).
    - ``"torchadadelta"`` (``TorchAdadelta``) for Adadelta.
    - ``"torchadagrad"`` (``TorchAdagrad``) for Adagrad (``lr_decay``,
      ``initial_accumulator_value``, ``weight_decay`` included).

    ## Why
    The hyper-parameters have other names, and the defaults differ (torch's SGD
    learning rate defaults to 0.001, MXNet's to 0.01), so the learning rate is
    always written out. MXNet's own optimizers differ from torch's where a
    helper is used: its momentum buffer holds lr·grad (a learning-rate change
    is not neutral: measured 1.98 apart after a drop), it has no dampening,
    ``"nag"`` leaves weight decay out of the step (0.21 apart after 20
    steps); ``"adam"`` adds epsilon before the bias correction (9.6e-3 apart
    after 20 steps of small gradients) and has no decoupled decay;
    ``"rmsprop"`` adds epsilon inside the square root, has no momentum unless
    centered, and its centered momentum holds lr-scaled steps; its AdaDelta
    ignores the learning rate and subtracts weight decay outside the step;
    its AdaGrad adds epsilon inside the square root, subtracts weight decay
    after the adaptive step and has no lr_decay or initial accumulator.
    The helpers match torch to float32 rounding (1e-7 after 20 updates with
    a learning-rate change, measured against torch for each case). Measured
    on an MNIST MLP step (784-256-10, batch 128, 2 shared CPU cores): the
    fused TorchAdam is as fast as ``"adam"`` (2.3 ms a step, 0.8 ms of it the
    update); TorchSGD, TorchRMSprop and amsgrad run several NDArray
    operations per parameter: their update takes 2.0 ms (MXNet's momentum
    "sgd" 1.3 ms), 3.2-5.5 ms (MXNet's "rmsprop" 0.5-0.7 ms) and 5.3-6.4 ms,
    which matters less on a network whose forward pass dominates.

    ## Parameter groups and several modules
    ``SGD([{'params': m.base.parameters()}, {'params': m.head.parameters(),
    'lr': 1e-3}], lr=1e-2)`` becomes one Trainer over
    ``[*m.base.collect_params().values(), *m.head.collect_params().values()]``
    with the first group's learning rate and weight decay, preceded by
    ``m.head.collect_params().setattr("lr_mult", 1e-3 / 1e-2)`` (and
    ``"wd_mult"``) for each group whose value differs: MXNet multiplies them in
    per parameter at every update (the helpers too), so a schedule that
    scales every group by one factor stays exact, and momentum SGD with a
    constant per-group rate matches torch (measured, 1e-5 after 10 steps).
    ``itertools.chain(a.parameters(), b.parameters())`` and
    ``list(a.parameters()) + list(b.parameters())`` become the same list
    without multipliers.

    ## Flags
    ``maximize``, ``capturable``, a ``nesterov``, ``centered``, ``amsgrad``
    or ``decoupled_weight_decay`` flag known only at run time, parameter
    groups that differ in any hyper-parameter other than ``lr`` and
    ``weight_decay`` (momentum, betas, eps, ... are one value per Trainer),
    groups whose ``params`` is not ``module.parameters()``, groups not
    assigned in a statement of their own, and other parameter expressions
    are left as is with an error. So are LBFGS, SparseAdam and the other
    optimizers. ``dampening`` without momentum is dropped (torch ignores it).

    ## Fix safety
    Exact to float32 rounding for every translated optimizer, with a fixed or
    a scheduled learning rate. MXNet's builtin momentum SGD (neither a
    scheduler nor ``param_groups`` learning-rate changes in the file) holds
    lr·grad: a learning rate changed by other means (``set_learning_rate``
    written by hand after translation) is not neutral for it.
    """

    code = "T2G401"
    name = "optimizers"
    summary = "torch.optim.SGD/Adam/RMSprop/Adagrad/Adadelta (and parameter groups) -> gluon.Trainer(..., algo, {...})"
    examples = (
        Example(
            "import torch\nopt = torch.optim.Adadelta(net.parameters(), lr=0.5, weight_decay=1e-4)\n",
            "import mxnet as mx\nfrom mxnet import gluon, nd\n\n\n"
            + shown(TORCH_ADADELTA_CLASS)
            + '\n\nopt = gluon.Trainer(\n    net.collect_params(),\n    "torchadadelta",\n'
            '    {"learning_rate": 0.5, "rho": 0.9, "epsilon": 1e-06, "wd": 1e-4},\n)\n',
            id="Adadelta: torch's update rule as an MXNet optimizer defined after the imports",
        ),
        Example(
            "import torch\ntrainer = torch.optim.SGD(net.parameters(), lr=0.1)\n",
            'from mxnet import gluon\n\ntrainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})\n',
            id="reference sgd",
        ),
        Example(
            "from torch import optim\nopt = optim.SGD(model.parameters(), 0.05, 0.9, 0, 5e-4)\n",
            'from mxnet import gluon\n\nopt = gluon.Trainer(\n    model.collect_params(), "sgd", {"learning_rate": 0.05, "momentum": 0.9, "wd": 5e-4}\n)\n',
            id="momentum and weight decay, positional: MXNet's sgd (no scheduler)",
        ),
        Example(
            "import torch\nopt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)\n"
            "sched = torch.optim.lr_scheduler.StepLR(opt, 30)\n",
            "import mxnet as mx\nfrom mxnet import gluon, nd\n\n\n"
            + shown(TORCH_SGD_CLASS)
            + '\n\nopt = gluon.Trainer(\n    net.collect_params(), "torchsgd", {"learning_rate": 0.1, "momentum": 0.9}\n)\n'
            'sched = {\n    "trainer": opt,\n    "base_lr": opt.learning_rate,\n    "last_epoch": 0,\n'
            '    "step_size": 30,\n    "gamma": 0.1,\n}\n',
            id="momentum SGD stepped by a scheduler: TorchSGD (its buffer holds gradients, not lr * gradients)",
        ),
        Example(
            "from torch import optim\nopt = optim.SGD(nesterov=True, momentum=0.9, params=model.parameters(), lr=0.05)\n",
            'from mxnet import gluon\n\nopt = gluon.Trainer(\n    model.collect_params(), "nag", {"learning_rate": 0.05, "momentum": 0.9}\n)\n',
            id="nesterov, shuffled keywords",
        ),
        Example(
            "from torch import optim\nopt = optim.SGD(model.parameters(), 0.05, 0.9, weight_decay=5e-4, nesterov=True)\n",
            "import mxnet as mx\nfrom mxnet import gluon, nd\n\n\n"
            + shown(TORCH_SGD_CLASS)
            + '\n\nopt = gluon.Trainer(\n    model.collect_params(),\n    "torchsgd",\n'
            '    {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True, "wd": 5e-4},\n)\n',
            id="nesterov with weight decay: TorchSGD (MXNet's nag leaves the decay out of the step)",
        ),
        Example(
            "import torch\nopt = torch.optim.SGD(model.parameters())\n",
            'from mxnet import gluon\n\nopt = gluon.Trainer(model.collect_params(), "sgd", {"learning_rate": 0.001})\n',
            id="torch default learning rate written out",
        ),
        Example(
            "import torch\nopt = torch.optim.SGD(\n    [{'params': model.base.parameters()}, {'params': model.head.parameters(), 'lr': 1e-3}],\n    lr=1e-2,\n    momentum=0.9,\n)\n",
            'from mxnet import gluon\n\nmodel.head.collect_params().setattr("lr_mult", 1e-3 / 1e-2)\nopt = gluon.Trainer(\n    [*model.base.collect_params().values(), *model.head.collect_params().values()],\n    "sgd",\n    {"learning_rate": 1e-2, "momentum": 0.9},\n)\n',
            id='parameter groups: lr_mult relative to the first group',
        ),
        Example(
            "import torch\nopt = torch.optim.SGD([{'params': a.parameters(), 'weight_decay': 0}, {'params': b.parameters()}], lr=0.01, momentum=0.9, weight_decay=1e-4)\n",
            'from mxnet import gluon\n\na.collect_params().setattr("wd_mult", 0.0)\nopt = gluon.Trainer(\n    [*a.collect_params().values(), *b.collect_params().values()],\n    "sgd",\n    {"learning_rate": 0.01, "momentum": 0.9, "wd": 1e-4},\n)\n',
            id='parameter group without weight decay: wd_mult',
        ),
        Example(
            "import torch\nopt = torch.optim.SGD([{'params': a.parameters(), 'momentum': 0.5}, {'params': b.parameters()}], lr=0.1, momentum=0.9)\n",
            "import torch\n# torch2gluon: T2G401: `torch.optim.SGD` with parameter groups that differ in `momentum`: a Gluon Trainer sets it for all parameters (only the learning rate and weight decay have per-parameter multipliers); left as is\nopt = torch.optim.SGD([{'params': a.parameters(), 'momentum': 0.5}, {'params': b.parameters()}], lr=0.1, momentum=0.9)\n",
            diagnostics=('T2G401',),
            id='groups differing in momentum are flagged',
        ),
        Example(
            'import itertools\nimport torch\nopt = torch.optim.SGD(itertools.chain(encoder.parameters(), decoder.parameters()), lr=1e-3)\n',
            'import itertools\nfrom mxnet import gluon\n\nopt = gluon.Trainer(\n    [*encoder.collect_params().values(), *decoder.collect_params().values()],\n    "sgd",\n    {"learning_rate": 1e-3},\n)\n',
            id="itertools.chain of two modules' parameters",
        ),
        Example(
            'import torch\nopt = torch.optim.SGD(list(a.parameters()) + list(b.parameters()), lr=0.1)\n',
            'from mxnet import gluon\n\nopt = gluon.Trainer(\n    [*a.collect_params().values(), *b.collect_params().values()],\n    "sgd",\n    {"learning_rate": 0.1},\n)\n',
            id="list + list of two modules' parameters",
        ),
        Example(
            "import torch\nopt = torch.optim.Adam(net.parameters(), lr=1e-3)\n",
            "import mxnet as mx\nfrom mxnet import gluon, nd\n\n\n"
            + shown(TORCH_ADAM_CLASS)
            + '\n\nopt = gluon.Trainer(\n    net.collect_params(),\n    "torchadam",\n'
            '    {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-08},\n)\n',
            id="Adam: TorchAdam (MXNet's adam adds epsilon before the bias correction)",
        ),
        Example(
            "import torch\nopt = torch.optim.AdamW(net.parameters(), lr=1e-3)\n",
            "import mxnet as mx\nfrom mxnet import gluon, nd\n\n\n"
            + shown(TORCH_ADAM_CLASS)
            + '\n\nopt = gluon.Trainer(\n    net.collect_params(),\n    "torchadam",\n    {\n'
            '        "learning_rate": 1e-3,\n        "beta1": 0.9,\n        "beta2": 0.999,\n'
            '        "epsilon": 1e-08,\n        "wd": 0.01,\n        "decoupled": True,\n    },\n)\n',
            id="AdamW: decoupled weight decay, torch's default 0.01 written out",
        ),
        Example(
            "import torch\nopt = torch.optim.RMSprop(net.parameters(), momentum=0.9)\n",
            "import mxnet as mx\nfrom mxnet import gluon, nd\n\n\n"
            + shown(TORCH_RMSPROP_CLASS)
            + '\n\nopt = gluon.Trainer(\n    net.collect_params(),\n    "torchrmsprop",\n'
            '    {"learning_rate": 0.01, "alpha": 0.99, "epsilon": 1e-08, "momentum": 0.9},\n)\n',
            id="RMSprop: TorchRMSprop, torch's defaults written out",
        ),
        Example(
            'import torch\nopt = torch.optim.SGD(model.parameters(), lr=0.1, dampening=0.5)\n',
            'from mxnet import gluon\n\nopt = gluon.Trainer(model.collect_params(), "sgd", {"learning_rate": 0.1})\n',
            id='dampening without momentum has no effect',
        ),
        Example(
            "import torch\nopt = torch.optim.Adam(net.parameters(), maximize=True)\n",
            "import torch\n# torch2gluon: T2G401: `torch.optim.Adam` argument `maximize` is not translated yet; left as is\nopt = torch.optim.Adam(net.parameters(), maximize=True)\n",
            diagnostics=("T2G401",),
            id="maximize is flagged",
        ),
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._lr_kind: Dict[int, str] = {}
        self._statement_values: set = set()
        self._pre: Dict[int, List[cst.BaseStatement]] = {}  # optimizer call -> statements to put before it
        self._grouped: set = set()  # optimizer calls whose groups differ in learning rate
        self._lr_mult_seen = False
        self._targets: Dict[int, set] = {}  # optimizer call -> the names it is assigned to
        self._algo: Dict[int, str] = {}  # optimizer call -> the Trainer's algorithm

    def visit_Call(self, node: cst.Call) -> None:
        # `net.parameters()` inside an optimizer call (also inside parameter
        # groups, `itertools.chain(...)`, `list(...) + list(...)`) is this
        # rule's to translate
        if (self.ctx.call_name(node) or "").startswith("torch.optim."):
            for a in node.args:
                if isinstance(a.value, cst.Call) and isinstance(a.value.func, cst.Attribute):
                    self.ctx.handled.add(id(a.value.func))
                for sub in _walk_expr(a.value):
                    if isinstance(sub, cst.Call) and isinstance(sub.func, cst.Attribute) and sub.func.attr.value == "parameters":
                        self.ctx.handled.add(id(sub.func))

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        # optimizer calls that are a whole statement's value: statements that
        # set per-parameter multipliers can go right before them
        if len(node.body) == 1 and isinstance(node.body[0], (cst.Assign, cst.Expr)):
            value = node.body[0].value
            if isinstance(value, cst.Call):
                self._statement_values.add(id(value))
        for small in node.body:
            if isinstance(small, cst.Assign) and isinstance(small.value, cst.Call):
                self._targets[id(small.value)] = {
                    t.target.value for t in small.targets if isinstance(t.target, cst.Name)
                }

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        # Remember which names hold optimizers, for the training-loop rule, and
        # how a learning-rate change affects each (for the schedules rule).
        pre: List[cst.BaseStatement] = []
        for small in original.body:
            if isinstance(small, (cst.Assign, cst.Expr)) and isinstance(small.value, cst.Call):
                pre += self._pre.pop(id(small.value), [])
            if isinstance(small, cst.Expr) and _is_lr_mult(small.value):
                self._lr_mult_seen = True  # a translated parameter group (a second pass)
            if isinstance(small, cst.Assign) and isinstance(small.value, cst.Call):
                name = self.ctx.call_name(small.value) or ""
                torch_optimizer = name.startswith("torch.optim.") and not name.startswith("torch.optim.lr_scheduler")
                grouped = id(small.value) in self._grouped
                if torch_optimizer:
                    kind = self._lr_kind.get(id(small.value), "unknown")
                    algo = self._algo.get(id(small.value), "")
                elif is_trainer(small.value):  # already Gluon (a second pass)
                    kind = trainer_kind(small.value)
                    algo = literal(small.value.args[1].value) if len(small.value.args) > 1 else ""
                    name = TORCH_CLASS_OF_ALGO.get(algo, "")
                    grouped = self._lr_mult_seen and bool(small.value.args) and isinstance(small.value.args[0].value, cst.List)
                    self._lr_mult_seen = False
                else:
                    continue
                self.ctx.optimizers[id(small.value)] = OptimizerPlan(
                    name, algo if isinstance(algo, str) else "", kind, grouped
                )
        if pre:
            first = pre[0].with_changes(leading_lines=updated.leading_lines)
            return [first, *pre[1:], updated.with_changes(leading_lines=())]
        return None

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        name = self.ctx.call_name(original)
        if name is None or not name.startswith("torch.optim.") or name.startswith("torch.optim.lr_scheduler"):
            return None
        build = _BUILDERS.get(name)
        if build is None:
            if name in _REFUSED:
                self.keep(original, name, _REFUSED[name])
                return None
            return None  # not an optimizer class (reported as untranslated)
        try:
            params_list = _PARAMS[name]
            b = bind(updated, params_list)
            b_orig = bind(original, params_list)
            if "params" not in b:
                raise Unbindable("needs `params`")
            pre: List[cst.BaseStatement] = []
            if isinstance(b["params"], cst.List) and any(isinstance(e.value, cst.Dict) for e in b["params"].elements):
                if id(original) not in self._statement_values:
                    raise Unbindable("with parameter groups is translated only as a statement of its own (`opt = torch.optim.X([...], ...)`)")
                collect, pre, lr_differs = self._groups(name, b, cast(cst.List, b_orig["params"]), b["params"])
                if lr_differs:
                    self._grouped.add(id(original))
            else:
                collect = self._params(b_orig["params"], b["params"])
            for flag in ("maximize", "capturable"):
                v = b.get(flag)
                if v is not None and literal(v) is not False:
                    raise Unbindable(f"argument `{flag}` is not translated yet")
            found = scheduled_optimizers(self.ctx)
            names = self._targets.get(id(original), set())
            scheduled = "momentum" if any(found.get(n) for n in names) else "lr" if names & found.keys() else ""
            algo, entries, kind = build(b, scheduled)
            if algo in HELPERS:
                self.ctx.helper(*HELPERS[algo])
        except Unbindable as e:
            self.keep(original, name, str(e))
            return None
        self._lr_kind[id(original)] = kind
        self._algo[id(original)] = algo
        if pre:
            self._pre[id(original)] = pre
        return self.ctx.call(
            "mxnet.gluon.Trainer",
            arg(collect),
            arg(cst.SimpleString(f'"{algo}"')),
            arg(cst.Dict(elements=[cst.DictElement(key=cst.SimpleString(f'"{k}"'), value=v) for k, v in entries])),
        )

    # -- what the optimizer updates -------------------------------------------
    def _params(self, orig: cst.BaseExpression, upd: cst.BaseExpression) -> cst.BaseExpression:
        """``m.parameters()`` -> ``m.collect_params()``; several modules'
        parameters (``itertools.chain``, ``list(a) + list(b)``) -> one list."""
        single = _collect(upd)
        if single is not None:
            model = cast(cst.Attribute, cast(cst.Call, orig).func).value
            if self.ctx.kind(model) is Kind.UNKNOWN and isinstance(model, cst.Name) and self._built_elsewhere(model):
                # a model built by a class or function of another file: initialised where it is not yet
                self.ctx.helper(*INITIALIZED_HELPER)
                self.ctx.helper(*PARAMS_HELPER)
                return cst.Call(func=cst.Name("_t2g_params"), args=[arg(cast(cst.Attribute, cast(cst.Call, upd).func).value)])
            return single
        parts = self._several(orig, upd)
        if parts is None:
            raise Unbindable(
                "parameters other than `model.parameters()`, `itertools.chain(a.parameters(), ...)`, "
                "`list(a.parameters()) + ...` or parameter groups are not translated"
            )
        return _values_list(parts)

    def _built_elsewhere(self, model: cst.Name) -> bool:
        """Every assignment of ``model`` in its scope calls a class or function another file defines
        (``from model import Net``, ``model = Net(...)``, maybe ``.to(device)``): its parameters may wait for
        ``initialize()``."""
        scope = self.ctx.names.scopes.get(model)
        values = [
            node.value for node in walk(self.ctx.module)
            if isinstance(node, cst.Assign) and len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name)
            and node.targets[0].target.value == model.value and self.ctx.names.scopes.get(node.targets[0].target) is scope
        ]
        for value in values:
            while isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value in ("to", "cuda", "cpu"):
                value = value.func.value
            if not isinstance(value, cst.Call):
                return False
            name = self.ctx.names.imported_name(value.func)
            if name is None or name.split(".")[0] in ("torch", "torchvision", "mxnet", "builtins"):
                return False
        return bool(values)

    def _several(self, orig: cst.BaseExpression, upd: cst.BaseExpression) -> Optional[List[cst.BaseExpression]]:
        """The modules whose parameters ``itertools.chain(...)`` or
        ``list(a.parameters()) + list(b.parameters())`` joins, else None."""
        if isinstance(orig, cst.Call) and isinstance(upd, cst.Call) and "itertools.chain" in self._qualified(orig.func):
            if not orig.args or any(a.star or a.keyword for a in orig.args):
                return None
            out = [_collect(a.value) for a in upd.args]
            return None if any(c is None for c in out) else out  # type: ignore[return-value]
        if isinstance(orig, cst.BinaryOperation) and isinstance(orig.operator, cst.Add) and isinstance(upd, cst.BinaryOperation):
            left = self._several(orig.left, upd.left)
            right = self._several(orig.right, upd.right)
            return None if left is None or right is None else left + right
        if (
            isinstance(orig, cst.Call) and isinstance(upd, cst.Call) and "builtins.list" in self._qualified(orig.func)
            and len(upd.args) == 1 and not upd.args[0].star and not upd.args[0].keyword
        ):
            c = _collect(upd.args[0].value)
            return None if c is None else [c]
        return None

    def _qualified(self, node: cst.CSTNode) -> set:
        scope = self.ctx.names.scopes.get(node)
        if scope is None:
            return set()
        return {q.name for q in scope.get_qualified_names_for(node)}

    def _groups(self, name: str, b: Dict, orig: cst.List, upd: cst.List) -> Tuple[cst.BaseExpression, List[cst.BaseStatement], bool]:
        """Parameter groups: one Trainer over all groups' parameters, the
        groups' own learning rate and weight decay as ``lr_mult``/``wd_mult``
        relative to the first group's (MXNet multiplies them in per parameter);
        any other hyper-parameter must be the same for every group."""
        groups: List[Dict[str, cst.BaseExpression]] = []
        modules: List[cst.BaseExpression] = []
        for e_orig, e in zip(orig.elements, upd.elements):
            if not isinstance(e.value, cst.Dict) or isinstance(e, cst.StarredElement):
                raise Unbindable("with parameter groups that are not all `{'params': ..., ...}` dicts is not translated")
            g: Dict[str, cst.BaseExpression] = {}
            for el in e.value.elements:
                key = literal(el.key) if isinstance(el, cst.DictElement) else None
                if not isinstance(key, str):
                    raise Unbindable("with a parameter group whose keys are not plain strings is not translated")
                g[key] = el.value
            if "params" not in g:
                raise Unbindable("with a parameter group without 'params' is not translated")
            c = _collect(g.pop("params"))
            if c is None:
                raise Unbindable("with a parameter group whose 'params' is not `module.parameters()` is not translated")
            modules.append(c)
            groups.append(g)
        if not groups:
            raise Unbindable("with no parameter groups is not translated")
        params = _PARAMS[name]
        for key in sorted({k for g in groups for k in g}):
            if key not in params or key == "params":
                raise Unbindable(f"with a parameter group setting `{key}` is not translated")
            if key in ("lr", "weight_decay"):
                continue
            distinct = {code_of(v) if v is not None else None for v in (g.get(key, b.get(key)) for g in groups)}
            if len(distinct) != 1:
                raise Unbindable(
                    f"with parameter groups that differ in `{key}`: a Gluon Trainer sets it for all parameters "
                    "(only the learning rate and weight decay have per-parameter multipliers)"
                )
            b[key] = groups[0].get(key, b.get(key))
        pre: List[cst.BaseStatement] = []
        lr_differs = False
        wd_default = "0.01" if name == "torch.optim.AdamW" else "0"
        for key, mult, default in (("lr", "lr_mult", _LR_DEFAULT[name]), ("weight_decay", "wd_mult", wd_default)):
            values = [g.get(key, b.get(key)) for g in groups]
            codes = [code_of(v) if v is not None else default for v in values]
            if len(set(codes)) == 1:
                if values[0] is not None:
                    b[key] = values[0]
                continue
            ref = next((i for i, c in enumerate(codes) if literal(cst.parse_expression(c)) not in (0, 0.0)), None)
            if ref is None:
                raise Unbindable(f"with parameter groups whose `{key}` is zero in every group is not translated")
            b[key] = values[ref] if values[ref] is not None else cst.parse_expression(default)
            for _, module, code in zip(groups, modules, codes):
                if code == codes[ref]:
                    continue
                ratio = "0.0" if literal(cst.parse_expression(code)) in (0, 0.0) else f"{code} / {codes[ref]}"
                pre.append(cst.parse_statement(f'{code_of(module)}.setattr("{mult}", {ratio})\n'))
            if key == "lr":
                lr_differs = True
        return _values_list(modules), pre, lr_differs


def _is_lr_mult(call: cst.BaseExpression) -> bool:
    """``m.collect_params().setattr("lr_mult", ...)``, what a parameter group becomes."""
    return (
        isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and call.func.attr.value == "setattr"
        and bool(call.args) and literal(call.args[0].value) == "lr_mult"
    )


def _walk_expr(node: cst.CSTNode):
    yield node
    for child in node.children:
        yield from _walk_expr(child)


def _collect(node: cst.BaseExpression) -> Optional[cst.BaseExpression]:
    """``m.parameters()`` -> ``m.collect_params()``, else None."""
    if (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value == "parameters"
        and not node.args
    ):
        return node.with_changes(func=node.func.with_changes(attr=cst.Name("collect_params")))
    return None


def _values_list(parts: List[cst.BaseExpression]) -> cst.BaseExpression:
    """``[*a.collect_params().values(), *b.collect_params().values()]``: a
    Trainer takes a list of Parameters."""
    return cst.List([
        cst.StarredElement(cst.Call(func=cst.Attribute(value=p, attr=cst.Name("values")))) for p in parts
    ])

Entries = List[Tuple[str, cst.BaseExpression]]


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


def _sgd(b, scheduled: str = "") -> Tuple[str, Entries, str]:
    momentum = b.get("momentum")
    dampening = b.get("dampening")
    nesterov = b.get("nesterov")
    nesterov_value = literal(nesterov) if nesterov is not None else False
    if nesterov_value not in (True, False):
        raise Unbindable("a `nesterov` flag decided at run time is not translated")
    wd_arg = b.get("weight_decay")
    lr = b.get("lr") or cst.Float(TORCH_SGD_DEFAULT_LR)
    if scheduled == "momentum" or not is_zero(momentum) and (
        scheduled or not is_zero(dampening) or (nesterov_value and not is_zero(wd_arg))
    ):
        # TorchSGD: MXNet's momentum buffer holds lr * grad (a learning-rate
        # or momentum change is not neutral), it has no dampening, and its
        # "nag" leaves weight decay out of the step (drift from step 2 on)
        entries: Entries = [("learning_rate", lr)]
        if not is_zero(momentum):
            entries.append(("momentum", momentum))
        if not is_zero(dampening):
            entries.append(("dampening", dampening))
        if nesterov_value:
            entries.append(("nesterov", cst.Name("True")))
        if not is_zero(wd_arg):
            entries.append(("wd", wd_arg))
        return TORCH_SGD, entries, "neutral"
    # without momentum torch ignores dampening (and nesterov needs momentum)
    entries = [("learning_rate", lr)]
    if not is_zero(momentum):
        entries.append(("momentum", momentum))
    if not is_zero(wd_arg):
        entries.append(("wd", wd_arg))
    return ("nag" if nesterov_value else "sgd"), entries, ("neutral" if is_zero(momentum) else "in-state")


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


def _adam(b, scheduled: str = "", decoupled: bool = False) -> Tuple[str, Entries, str]:
    """TorchAdam: MXNet's adam adds epsilon before the bias correction
    (measured 9.6e-3 apart after 20 steps of small gradients, 1.3e-4 on a
    small net), TorchAdam is torch's update to float precision."""
    beta1, beta2 = _pair(b.get("betas"), ("0.9", "0.999"))
    entries: Entries = [
        ("learning_rate", b.get("lr") or cst.Float("0.001")),
        ("beta1", beta1),
        ("beta2", beta2),
        ("epsilon", b.get("eps") or cst.Float("1e-08")),
    ]
    dwd = b.get("decoupled_weight_decay")
    dwd_value = False if dwd is None else literal(dwd)
    if dwd_value not in (True, False):
        raise Unbindable("a `decoupled_weight_decay` flag decided at run time is not translated")
    wd = b.get("weight_decay")
    if not is_zero(wd):
        entries.append(("wd", wd))
        if decoupled or dwd_value:
            entries.append(("decoupled", cst.Name("True")))
    amsgrad = b.get("amsgrad")
    amsgrad_value = False if amsgrad is None else literal(amsgrad)
    if amsgrad_value not in (True, False):
        raise Unbindable("an `amsgrad` flag decided at run time is not translated")
    if amsgrad_value:
        entries.append(("amsgrad", cst.Name("True")))
    return TORCH_ADAM, entries, "neutral"


def _adamw(b, scheduled: str = "") -> Tuple[str, Entries, str]:
    """AdamW is Adam with decoupled weight decay (torch's default 0.01)."""
    b = dict(b)
    if b.get("weight_decay") is None:
        b["weight_decay"] = cst.Float("0.01")
    return _adam(b, scheduled, decoupled=True)


def _rmsprop(b, scheduled: str = "") -> Tuple[str, Entries, str]:
    """TorchRMSprop: MXNet's RMSProp adds epsilon inside the square root,
    has no momentum unless centered, and its centered momentum holds
    lr-scaled steps."""
    centered = b.get("centered")
    centered_value = False if centered is None else literal(centered)
    if centered_value not in (True, False):
        raise Unbindable("a `centered` flag decided at run time is not translated")
    entries: Entries = [
        ("learning_rate", b.get("lr") or cst.Float("0.01")),
        ("alpha", b.get("alpha") or cst.Float("0.99")),
        ("epsilon", b.get("eps") or cst.Float("1e-08")),
    ]
    momentum = b.get("momentum")
    if not is_zero(momentum):
        entries.append(("momentum", momentum))
    if centered_value:
        entries.append(("centered", cst.Name("True")))
    if not is_zero(b.get("weight_decay")):
        entries.append(("wd", b["weight_decay"]))
    return TORCH_RMSPROP, entries, "neutral"


def _adagrad(b, scheduled: str = "") -> Tuple[str, Entries, str]:
    """TorchAdagrad: MXNet's AdaGrad adds epsilon inside the square root,
    applies weight decay after the adaptive step and has no lr_decay or
    initial accumulator value."""
    entries: Entries = [
        ("learning_rate", b.get("lr") or cst.Float("0.01")),
        ("epsilon", b.get("eps") or cst.Float("1e-10")),
    ]
    for key in ("lr_decay", "initial_accumulator_value"):
        if not is_zero(b.get(key)):
            entries.append((key, b[key]))
    if not is_zero(b.get("weight_decay")):
        entries.append(("wd", b["weight_decay"]))
    return TORCH_ADAGRAD, entries, "neutral"


def _adadelta(b, scheduled: str = "") -> Tuple[str, Entries, str]:
    lr = b.get("lr")
    entries: Entries = [
        ("rho", b.get("rho") or cst.Float("0.9")),
        ("epsilon", b.get("eps") or cst.Float("1e-06")),
    ]
    # MXNet's AdaDelta ignores the learning rate (so a schedule or lr != 1
    # would be lost) and subtracts weight decay outside the adaptive step:
    # torch's rule, as an MXNet optimizer
    entries = [("learning_rate", lr or cst.Float("1.0")), *entries]
    if not is_zero(b.get("weight_decay")):
        entries.append(("wd", b["weight_decay"]))
    return TORCH_ADADELTA, entries, "neutral"


_BUILDERS = {
    "torch.optim.SGD": _sgd,
    "torch.optim.Adam": _adam,
    "torch.optim.AdamW": _adamw,
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
    "torch.optim.AdamW": [
        "params", "lr", "betas", "eps", "weight_decay", "amsgrad",
        "maximize", "foreach", "capturable", "differentiable", "fused",
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
_LR_DEFAULT = {
    "torch.optim.SGD": TORCH_SGD_DEFAULT_LR,
    "torch.optim.Adam": "0.001",
    "torch.optim.AdamW": "0.001",
    "torch.optim.RMSprop": "0.01",
    "torch.optim.Adagrad": "0.01",
    "torch.optim.Adadelta": "1.0",
}
_REFUSED = {
    "torch.optim.LBFGS": "needs a closure and a line search; MXNet has no such optimizer",
    "torch.optim.SparseAdam": "has no MXNet equivalent",
    "torch.optim.Adamax": "is not translated yet",
    "torch.optim.NAdam": "is not translated yet (MXNet's 'nadam' uses another momentum schedule)",
    "torch.optim.RAdam": "has no MXNet optimizer",
    "torch.optim.ASGD": "has no MXNet optimizer",
    "torch.optim.Rprop": "has no MXNet optimizer",
}
