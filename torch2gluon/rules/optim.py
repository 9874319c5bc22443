"""Optimizers become a ``gluon.Trainer``."""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import libcst as cst

from ..context import arg
from ._base import Example, Rule, Unbindable, bind, code_of, literal

_SGD_PARAMS = [
    "params", "lr", "momentum", "dampening", "weight_decay", "nesterov",
    "maximize", "foreach", "differentiable", "fused",
]
# Arguments that change how fast the update is computed, not what it is.
_SPEED_ONLY = ("foreach", "differentiable", "fused")
TORCH_SGD_DEFAULT_LR = "0.001"


# the registered name of TorchAdadelta (_TORCH_ADADELTA_CLASS)
TORCH_ADADELTA = "torchadadelta"
# torch's Adadelta update as an MXNet optimizer (MX: mxnet, ND: mxnet.nd)
_TORCH_ADADELTA_CLASS = '''
@MX.optimizer.register
class TorchAdadelta(MX.optimizer.Optimizer):
    """torch.optim.Adadelta's update (added by torch2gluon): MXNet's AdaDelta
    ignores the learning rate and applies weight decay outside the step."""

    def __init__(self, rho=0.9, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.rho = rho
        self.epsilon = epsilon

    def create_state(self, index, weight):
        return (
            ND.zeros(weight.shape, weight.context),
            ND.zeros(weight.shape, weight.context),
        )

    def update(self, index, weight, grad, state):
        self._update_count(index)
        lr, wd = self._get_lr(index), self._get_wd(index)
        grad = grad * self.rescale_grad
        if self.clip_gradient is not None:
            grad = ND.clip(grad, -self.clip_gradient, self.clip_gradient)
        grad = grad + wd * weight
        square_avg, acc_delta = state
        square_avg[:] = self.rho * square_avg + (1 - self.rho) * grad * grad
        delta = (
            ND.sqrt(acc_delta + self.epsilon)
            / ND.sqrt(square_avg + self.epsilon)
            * grad
        )
        acc_delta[:] = self.rho * acc_delta + (1 - self.rho) * delta * delta
        weight[:] -= lr * delta
'''.lstrip()


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

    ## Parameter groups and several modules
    ``SGD([{'params': m.base.parameters()}, {'params': m.head.parameters(),
    'lr': 1e-3}], lr=1e-2)`` becomes one Trainer over
    ``[*m.base.collect_params().values(), *m.head.collect_params().values()]``
    with the first group's learning rate and weight decay, preceded by
    ``m.head.collect_params().setattr("lr_mult", 1e-3 / 1e-2)`` (and
    ``"wd_mult"``) for each group whose value differs: MXNet multiplies them in
    per parameter at every update, so a schedule that scales every group by
    one factor stays exact, and momentum SGD with a constant per-group rate
    matches torch (measured, 1e-5 after 10 steps). ``itertools.chain(a.parameters(),
    b.parameters())`` and ``list(a.parameters()) + list(b.parameters())``
    become the same list without multipliers.

    ## Flags
    ``dampening`` with momentum, ``maximize``, Nesterov momentum together with
    weight decay (MXNet's ``"nag"`` applies the decay inside its momentum
    differently, so parameters drift from the second step on), parameter
    groups that differ in any hyper-parameter other than ``lr`` and
    ``weight_decay`` (momentum, betas, eps, ... are one value per Trainer),
    groups whose ``params`` is not ``module.parameters()``, groups not
    assigned in a statement of their own, and other parameter expressions
    are left as is with an error. ``dampening`` without momentum is dropped
    (torch ignores it).

    Adam (``betas`` -> ``beta1``/``beta2``, ``eps`` -> ``epsilon``, L2
    ``weight_decay`` -> ``wd``), RMSprop (torch defaults lr=0.01, alpha=0.99
    written out; ``alpha`` -> ``gamma1``; ``centered=True`` sets ``gamma2`` to
    torch's ``momentum``, 0 by default, since MXNet's defaults to 0.9) and
    Adagrad are translated too. Adadelta becomes ``"torchadadelta"``, an MXNet
    optimizer with torch's update that the translation defines after its
    imports (``TorchAdadelta``): MXNet's own AdaDelta ignores the learning
    rate (lr 1.0 only, and a schedule would be lost) and subtracts weight
    decay outside the adaptive step.
    MXNet adds epsilon inside the square root for RMSprop and Adagrad, so
    ``eps**2`` is passed: sqrt(v + eps**2) equals torch's sqrt(v) + eps
    wherever sqrt(v) is far from eps and stays within a factor sqrt(2) of it.
    Adam's epsilon is added before the bias correction in MXNet: exact to
    ~1e-7 for the default eps, not for large eps or tiny gradients.
    ``AdamW`` with ``weight_decay=0`` is Adam. Flagged: AdamW with weight
    decay (its decay is decoupled; no 'adamw' in MXNet 1.9, and 'adam' with wd
    is L2 -- measured apart after 3 steps), LBFGS,
    SparseAdam and other optimizers, non-centered RMSprop with momentum,
    Adagrad with lr_decay, initial_accumulator_value or weight decay,
    amsgrad, maximize, capturable.

    ## Fix safety
    Safe for a fixed learning rate: updates match to float precision. MXNet's
    momentum buffer holds lr·grad, so changing the learning rate later is not
    neutral (see the schedules rule).
    """

    code = "T2G401"
    name = "optimizers"
    summary = "torch.optim.SGD/Adam/RMSprop/Adagrad/Adadelta (and parameter groups) -> gluon.Trainer(..., algo, {...})"
    examples = (
        Example(
            "import torch\nopt = torch.optim.Adadelta(net.parameters(), lr=0.5, weight_decay=1e-4)\n",
            "import mxnet as mx\nfrom mxnet import gluon, nd\n\n\n"
            + _TORCH_ADADELTA_CLASS.replace("MX.", "mx.").replace("ND.", "nd.")
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
            "import torch\nopt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, dampening=0.5)\n",
            "import torch\n# torch2gluon: T2G401: `torch.optim.SGD` argument `dampening` has no MXNet equivalent; left as is\nopt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, dampening=0.5)\n",
            diagnostics=("T2G401",),
            id="dampening is flagged",
        ),
        Example(
            "import torch\nopt = torch.optim.SGD(\n    [{'params': model.base.parameters()}, {'params': model.head.parameters(), 'lr': 1e-3}],\n    lr=1e-2,\n    momentum=0.9,\n)\n",
            'from mxnet import gluon\n\nmodel.head.collect_params().setattr("lr_mult", 1e-3 / 1e-2)\nopt = gluon.Trainer(\n    [*model.base.collect_params().values(), *model.head.collect_params().values()],\n    "sgd",\n    {"learning_rate": 1e-2, "momentum": 0.9},\n)\n',
            id='parameter groups: lr_mult relative to the first group',
        ),
        Example(
            "import torch\nopt = torch.optim.Adam([{'params': a.parameters(), 'weight_decay': 0}, {'params': b.parameters()}], lr=0.01, weight_decay=1e-4)\n",
            'from mxnet import gluon\n\na.collect_params().setattr("wd_mult", 0.0)\nopt = gluon.Trainer(\n    [*a.collect_params().values(), *b.collect_params().values()],\n    "adam",\n    {"learning_rate": 0.01, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-08, "wd": 1e-4},\n)\n',
            id='parameter group without weight decay: wd_mult',
        ),
        Example(
            "import torch\nopt = torch.optim.SGD([{'params': a.parameters(), 'momentum': 0.5}, {'params': b.parameters()}], lr=0.1, momentum=0.9)\n",
            "import torch\n# torch2gluon: T2G401: `torch.optim.SGD` with parameter groups that differ in `momentum`: a Gluon Trainer sets it for all parameters (only the learning rate and weight decay have per-parameter multipliers); left as is\nopt = torch.optim.SGD([{'params': a.parameters(), 'momentum': 0.5}, {'params': b.parameters()}], lr=0.1, momentum=0.9)\n",
            diagnostics=('T2G401',),
            id='groups differing in momentum are flagged',
        ),
        Example(
            'import itertools\nimport torch\nopt = torch.optim.Adam(itertools.chain(encoder.parameters(), decoder.parameters()), lr=1e-3)\n',
            'import itertools\nfrom mxnet import gluon\n\nopt = gluon.Trainer(\n    [*encoder.collect_params().values(), *decoder.collect_params().values()],\n    "adam",\n    {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-08},\n)\n',
            id="itertools.chain of two modules' parameters",
        ),
        Example(
            'import torch\nopt = torch.optim.SGD(list(a.parameters()) + list(b.parameters()), lr=0.1)\n',
            'from mxnet import gluon\n\nopt = gluon.Trainer(\n    [*a.collect_params().values(), *b.collect_params().values()],\n    "sgd",\n    {"learning_rate": 0.1},\n)\n',
            id="list + list of two modules' parameters",
        ),
        Example(
            'import torch\nopt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0)\n',
            'from mxnet import gluon\n\nopt = gluon.Trainer(\n    net.collect_params(),\n    "adam",\n    {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-08},\n)\n',
            id='AdamW without weight decay is Adam',
        ),
        Example(
            'import torch\nopt = torch.optim.AdamW(net.parameters(), lr=1e-3)\n',
            "import torch\n# torch2gluon: T2G401: `torch.optim.AdamW` with weight decay (default 0.01) has no MXNet optimizer: its decay is decoupled (none is registered as 'adamw' in MXNet 1.9, and 'adam' with `wd` is L2); only `weight_decay=0`, which is Adam, is translated; left as is\nopt = torch.optim.AdamW(net.parameters(), lr=1e-3)\n",
            diagnostics=('T2G401',),
            id='AdamW with weight decay is flagged',
        ),
        Example(
            'import torch\nopt = torch.optim.SGD(model.parameters(), lr=0.1, dampening=0.5)\n',
            'from mxnet import gluon\n\nopt = gluon.Trainer(model.collect_params(), "sgd", {"learning_rate": 0.1})\n',
            id='dampening without momentum has no effect',
        ),
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._lr_kind: Dict[int, str] = {}
        self._statement_values: set = set()
        self._pre: Dict[int, List[cst.BaseStatement]] = {}  # optimizer call -> statements to put before it
        self._grouped: set = set()  # optimizer calls whose groups differ in learning rate
        self._lr_mult_seen = False

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
                elif _is_trainer(small.value):  # already Gluon (a second pass)
                    kind = _trainer_kind(small.value)
                    name = _TORCH_CLASS.get(literal(small.value.args[1].value) if len(small.value.args) > 1 else None, "")
                    grouped = self._lr_mult_seen and bool(small.value.args) and isinstance(small.value.args[0].value, cst.List)
                    self._lr_mult_seen = False
                else:
                    continue
                for t in small.targets:
                    if isinstance(t.target, cst.Name):
                        if torch_optimizer:
                            self.ctx.bindings[t.target.value] = "optimizer"
                        self.ctx.bindings[OPTIMIZER_CLASS + t.target.value] = name
                        self.ctx.bindings[LR_KIND + t.target.value] = kind
                        if grouped:
                            self.ctx.bindings[LR_GROUPS + t.target.value] = "yes"
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
                return self.keep(original, name, _REFUSED[name])
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
                collect, pre, lr_differs = self._groups(name, b, b_orig["params"], b["params"])
                if lr_differs:
                    self._grouped.add(id(original))
            else:
                collect = self._params(b_orig["params"], b["params"])
            for flag in ("maximize", "amsgrad", "capturable", "decoupled_weight_decay"):
                v = b.get(flag)
                if v is not None and literal(v) is not False:
                    raise Unbindable(f"argument `{flag}` is not translated yet")
            algo, entries, kind = build(b)
            if algo == TORCH_ADADELTA:
                self.ctx.helper("TorchAdadelta", _TORCH_ADADELTA_CLASS)
        except Unbindable as e:
            return self.keep(original, name, str(e))
        self._lr_kind[id(original)] = kind
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
            return single
        parts = self._several(orig, upd)
        if parts is None:
            raise Unbindable(
                "parameters other than `model.parameters()`, `itertools.chain(a.parameters(), ...)`, "
                "`list(a.parameters()) + ...` or parameter groups are not translated"
            )
        return _values_list(parts)

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
        scope = self.ctx._scopes.get(node)  # noqa: SLF001 (read-only use of the scope analysis)
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
            values = {code_of(g.get(key, b.get(key))) if g.get(key, b.get(key)) is not None else None for g in groups}
            if len(values) != 1:
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
            for c, module, code in zip(groups, modules, codes):
                if code == codes[ref]:
                    continue
                ratio = "0.0" if literal(cst.parse_expression(code)) in (0, 0.0) else f"{code} / {codes[ref]}"
                pre.append(cst.parse_statement(f'{code_of(module)}.setattr("{mult}", {ratio})\n'))
            if key == "lr":
                lr_differs = True
        return _values_list(modules), pre, lr_differs

def _is_trainer(call: cst.Call) -> bool:
    f = call.func
    return (
        isinstance(f, cst.Attribute) and f.attr.value == "Trainer"
        and isinstance(f.value, cst.Name) and f.value.value == "gluon"
    )


def _is_lr_mult(call: cst.BaseExpression) -> bool:
    """``m.collect_params().setattr("lr_mult", ...)``, what a parameter group becomes."""
    return (
        isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and call.func.attr.value == "setattr"
        and bool(call.args) and literal(call.args[0].value) == "lr_mult"
    )


# a Trainer's algorithm -> the torch optimizer translated into it (second pass)
_TORCH_CLASS = {
    "sgd": "torch.optim.SGD", "nag": "torch.optim.SGD", "adam": "torch.optim.Adam",
    "rmsprop": "torch.optim.RMSprop", "adagrad": "torch.optim.Adagrad", "adadelta": "torch.optim.Adadelta",
    TORCH_ADADELTA: "torch.optim.Adadelta",
}


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
    if algo == TORCH_ADADELTA:
        return "neutral"
    if algo in ("adam", "adagrad"):
        return "neutral"
    return "unknown"


# ctx.bindings[LR_KIND + name]: how the optimizer bound to `name` reacts to a
# learning-rate change: "neutral" (lr only scales the step), "in-state" (the
# MXNet state holds lr-scaled values, so a change is not neutral), "ignored"
# (MXNet ignores the learning rate), "unknown".
LR_KIND = "lr-kind:"
# ctx.bindings[LR_GROUPS + name] is set when the optimizer's parameter groups
# have different learning rates (lr_mult): schedules that do not scale every
# group by the same factor are not exact then.
LR_GROUPS = "lr-groups:"
# ctx.bindings[OPTIMIZER_CLASS + name]: the torch optimizer class translated
# into the Trainer bound to `name` (OneCycleLR's momentum cycling depends on it).
OPTIMIZER_CLASS = "optimizer-class:"


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
    if not _zero(dampening) and not _zero(b.get("momentum")):
        # torch: buf = g on the first step, then momentum * buf + (1 - dampening) * g;
        # MXNet's momentum has no such factor (without momentum torch ignores it)
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


def _adamw(b) -> Tuple[str, Entries, str]:
    wd = b.get("weight_decay")
    if wd is None or not _zero(wd):
        raise Unbindable(
            "with weight decay (default 0.01) has no MXNet optimizer: its decay is decoupled "
            "(none is registered as 'adamw' in MXNet 1.9, and 'adam' with `wd` is L2); "
            "only `weight_decay=0`, which is Adam, is translated"
        )
    return _adam({k: v for k, v in b.items() if k != "weight_decay"})


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
    entries: Entries = [
        ("rho", b.get("rho") or cst.Float("0.9")),
        ("epsilon", b.get("eps") or cst.Float("1e-06")),
    ]
    # MXNet's AdaDelta ignores the learning rate (so a schedule or lr != 1
    # would be lost) and subtracts weight decay outside the adaptive step:
    # torch's rule, as an MXNet optimizer
    entries = [("learning_rate", lr or cst.Float("1.0")), *entries]
    if not _zero(b.get("weight_decay")):
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
