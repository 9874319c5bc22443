"""Saved and random state: checkpoints (``torch.save``/``torch.load``) and seeds."""

from __future__ import annotations

from typing import Optional, Set, Tuple

import libcst as cst

from ..rewrite.context import Context
from ..base.syntax import arg
from ..base.diagnostics import Severity
from ..analysis.kinds import Kind
from ._base import Example, Rule, Unbindable, bind, literal, NotLiteral

_SAVE = "torch.save"
_LOAD = "torch.load"
_SAVE_PARAMS = ["obj", "f", "pickle_module", "pickle_protocol", "_use_new_zipfile_serialization"]
_LOAD_PARAMS = ["f", "map_location", "pickle_module", "weights_only", "mmap"]


def _kind(ctx: Context, node: cst.BaseExpression) -> Optional[str]:
    # a name, or an attribute the analysis knows (``ddp.module``: DDP's wrapped model)
    if isinstance(node, (cst.Name, cst.Attribute)):
        return {Kind.MODULE: "model", Kind.OPTIMIZER: "optimizer"}.get(ctx.kind(node))
    return None


def _state_dict_of(ctx: Context, node: cst.BaseExpression) -> Optional[Tuple[cst.Name, str]]:
    """``net.state_dict()`` (original) -> (``net``, kind)."""
    if (
        isinstance(node, cst.Call)
        and not node.args
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value == "state_dict"
    ):
        kind = _kind(ctx, node.func.value)
        if kind is not None:
            return node.func.value, kind  # type: ignore[return-value]
    return None


def _save(ctx: Context, small: cst.BaseSmallStatement):
    """``torch.save(net.state_dict(), path)`` -> (call, receiver, kind, path)."""
    if not isinstance(small, cst.Expr) or ctx.call_name(small.value) != _SAVE:
        return None
    call = small.value
    try:
        b = bind(call, _SAVE_PARAMS)  # type: ignore[arg-type]
    except Unbindable:
        return None
    if set(b) != {"obj", "f"}:
        return None
    found = _state_dict_of(ctx, b["obj"])
    if found is None:
        return None
    return call, found[0], found[1], b["f"]


def _load(ctx: Context, small: cst.BaseSmallStatement):
    """``net.load_state_dict(torch.load(path, ...)[, strict])`` -> (call, receiver, kind, path, strict)."""
    if not isinstance(small, cst.Expr):
        return None
    call = small.value
    if not (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and call.func.attr.value == "load_state_dict"):
        return None
    kind = _kind(ctx, call.func.value)
    if kind is None:
        return None
    try:
        b = bind(call, ["state_dict", "strict", "assign"])
        if "assign" in b or "state_dict" not in b or (kind == "optimizer" and "strict" in b):
            return None
        inner = b["state_dict"]
        if ctx.call_name(inner) != _LOAD:
            return None
        lb = bind(inner, _LOAD_PARAMS)  # type: ignore[arg-type]
    except Unbindable:
        return None
    if "f" not in lb or set(lb) - {"f", "map_location", "weights_only"}:
        return None
    return call, call.func.value, kind, lb["f"], b.get("strict")


class Checkpoints(Rule):
    """Saving and loading a model's or optimizer's state becomes Gluon's parameter and trainer files.

    ## What it does
    ``torch.save(net.state_dict(), path)`` -> ``net.save_parameters(path)``;
    ``net.load_state_dict(torch.load(path))`` -> ``net.load_parameters(path)``
    (``strict=False`` -> ``allow_missing=True, ignore_extra=True``);
    ``torch.save(opt.state_dict(), path)`` -> ``opt.save_states(path)`` and
    ``opt.load_state_dict(torch.load(path))`` -> ``opt.load_states(path)``
    (``opt`` is the translated ``gluon.Trainer``). Each only as a statement
    of its own, on a name known to hold a translated model or optimizer.

    ## Why
    Gluon saves parameters under the same structural names torch uses
    (``0.weight``), and a trainer's optimizer states (momentum, Adam moments,
    update counts) with ``save_states``. ``load_parameters`` without ``ctx=``
    keeps the parameters where the model already is, as ``load_state_dict``
    does; ``map_location`` only says where torch puts the loaded tensors
    first, so it is dropped.

    ## Flags
    Every other use of ``torch.save``/``torch.load`` (whole checkpoint
    dictionaries, tensors, pickled models) is left as is with an error: the
    files are not interchangeable.

    ## Fix safety
    Safe within MXNet: a round trip restores the same parameters and training
    continues as it would have. Files written by torch cannot be read.
    """

    code = "T2G802"
    name = "checkpoints"
    summary = "torch.save(net.state_dict())/load_state_dict(torch.load()) -> save_/load_parameters, save_/load_states"
    examples = (
        Example(
            (
                "import torch\nfrom torch import nn\n"
                "net = nn.Linear(2, 3)\n"
                "opt = torch.optim.SGD(net.parameters(), lr=0.1)\n"
                "torch.save(net.state_dict(), 'net.pt')\n"
                "torch.save(opt.state_dict(), 'opt.pt')\n"
                "net.load_state_dict(torch.load('net.pt', map_location='cpu'))\n"
                "opt.load_state_dict(torch.load('opt.pt'))\n"
            ),
            (
                "from mxnet import gluon, init\nfrom mxnet.gluon import nn\n\n"
                "net = nn.Dense(\n    3,\n    in_units=2,\n    flatten=False,\n"
                "    weight_initializer=init.Uniform(2**-0.5),\n    bias_initializer=init.Uniform(2**-0.5),\n)\n"
                "net.initialize()\n"
                'opt = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})\n'
                "net.save_parameters(\"net.pt\")\n"
                "opt.save_states(\"opt.pt\")\n"
                "net.load_parameters(\"net.pt\")\n"
                "opt.load_states(\"opt.pt\")\n"
            ),
            id="model and optimizer round trip",
        ),
        Example(
            (
                "import torch\n"
                "ckpt = torch.load('ckpt.pt')\n"
            ),
            (
                "import torch\n"
                "# torch2gluon: T2G802: `torch.load` is only translated as `net.load_state_dict(torch.load(path))` "
                "on a translated model or optimizer (the files are not interchangeable); left as is\n"
                "ckpt = torch.load('ckpt.pt')\n"
            ),
            diagnostics=("T2G802",),
            id="other torch.load flagged",
        ),
    )

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._mine: Set[int] = set()

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        if len(node.body) != 1:
            return
        small = node.body[0]
        saved = _save(self.ctx, small)
        if saved is not None:
            call, recv, kind, path = saved
            self._mine.update((id(node), id(call)))
            state = bind(call, _SAVE_PARAMS)["obj"]
            self.ctx.handled.add(id(state.func))  # type: ignore[attr-defined]
            return
        loaded = _load(self.ctx, small)
        if loaded is not None:
            call = loaded[0]
            self._mine.update((id(node), id(bind(call, ["state_dict", "strict"])["state_dict"])))
            self.ctx.handled.add(id(call.func))

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        name = self.ctx.call_name(original)
        if name in (_SAVE, _LOAD) and id(original) not in self._mine:
            self.keep(
                original,
                name,
                f"is only translated as `{'torch.save(net.state_dict(), path)' if name == _SAVE else 'net.load_state_dict(torch.load(path))'}` "
                "on a translated model or optimizer (the files are not interchangeable)",
            )
            return None
        return None

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        if id(original) not in self._mine:
            return None
        small = original.body[0]
        saved = _save(self.ctx, small)
        if saved is not None:
            _, recv, kind, path = saved
            method = "save_parameters" if kind == "model" else "save_states"
            new = cst.Call(func=cst.Attribute(value=recv, attr=cst.Name(method)), args=[arg(path)])
            return updated.with_changes(body=[cst.Expr(new)])
        loaded = _load(self.ctx, small)
        if loaded is None:
            return None
        _, recv, kind, path, strict = loaded
        args = [arg(path)]
        if strict is not None:
            value = literal(strict)
            if value is False:
                args += [arg(cst.Name("True"), "allow_missing"), arg(cst.Name("True"), "ignore_extra")]
            elif value is not True:
                code = cst.Module([]).code_for_node(strict)
                args += [arg(cst.parse_expression(f"not ({code})"), "allow_missing"),
                         arg(cst.parse_expression(f"not ({code})"), "ignore_extra")]
        method = "load_parameters" if kind == "model" else "load_states"
        new = cst.Call(func=cst.Attribute(value=recv, attr=cst.Name(method)), args=args)
        return updated.with_changes(body=[cst.Expr(new)])


def _numpy_name(ctx: Context) -> cst.BaseExpression:
    """``np`` for numpy: the script's own module-level ``import numpy as X``, or a new import.

    """
    for stmt in ctx.module.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, cst.Import):
                    for alias in small.names:
                        if alias.evaluated_name == "numpy":
                            return cst.Name(alias.evaluated_alias or "numpy")
    return ctx.plain_import("numpy", "np")


def _simple(node: cst.BaseExpression) -> bool:
    while isinstance(node, cst.Attribute):
        node = node.value
    return isinstance(node, (cst.Name, cst.Integer)) or literal(node) is not NotLiteral


_CUDA_SEEDS = ("torch.cuda.manual_seed", "torch.cuda.manual_seed_all", "torch.cuda.random.manual_seed",
               "torch.cuda.random.manual_seed_all")
_CUDNN_FLAGS = ("torch.backends.cudnn.benchmark", "torch.backends.cudnn.deterministic")


class Seeds(Rule):
    """``torch.manual_seed(s)`` seeds both MXNet's and numpy's random generators.

    ## What it does
    The statement ``torch.manual_seed(s)`` becomes ``mx.random.seed(s)``
    followed by ``np.random.seed(s)`` (``import numpy as np`` is added unless
    the script imports numpy already).

    ## Why
    Gluon's ``DataLoader`` shuffles with numpy's global generator; with the
    MXNet seed alone two runs shuffled differently. ``torch.cuda.manual_seed``
    / ``manual_seed_all`` statements go (``mx.random.seed`` seeds every
    device), and so do ``torch.backends.cudnn.benchmark``/``deterministic``
    assignments (MXNet tunes cuDNN itself; determinism is the environment
    variable ``MXNET_ENFORCE_DETERMINISM``), each with a note. The numbers drawn differ
    from torch's either way: the seed makes a run repeatable, not equal to
    torch's.

    ## Flags
    ``torch.manual_seed`` used as a value, or with an argument that is not a
    name, attribute or literal (it would be evaluated twice), is left as is
    with an error.

    ## Fix safety
    Safe.
    """

    code = "T2G803"
    name = "seeds"
    summary = "torch.manual_seed(s) -> mx.random.seed(s); np.random.seed(s)"
    examples = (
        Example(
            "import torch\ntorch.manual_seed(0)\nx = torch.rand(2)\n",
            "import mxnet as mx\nimport numpy as np\nfrom mxnet import nd\n\nmx.random.seed(0)\nnp.random.seed(0)\n"
            "x = nd.random.uniform(shape=2)\n",
            id="both generators seeded",
        ),
        Example(
            "import numpy\nimport torch\ntorch.manual_seed(args.seed)\n",
            "import numpy\nimport mxnet as mx\n\nmx.random.seed(args.seed)\nnumpy.random.seed(args.seed)\n",
            id="the script's numpy import is used",
        ),
        Example(
            "import torch\ntorch.manual_seed(0)\ntorch.cuda.manual_seed_all(0)\ntorch.backends.cudnn.benchmark = True\n",
            "import mxnet as mx\nimport numpy as np\n\nmx.random.seed(0)\nnp.random.seed(0)\n",
            id="CUDA seeds and cuDNN tuning go (with a note)",
        ),
    )

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._mine: Set[int] = set()

    def _seed_of(self, stmt: cst.SimpleStatementLine) -> Optional[cst.BaseExpression]:
        if len(stmt.body) != 1 or not isinstance(stmt.body[0], cst.Expr):
            return None
        call = stmt.body[0].value
        if self.ctx.call_name(call) != "torch.manual_seed":
            return None
        try:
            b = bind(call, ["seed"])  # type: ignore[arg-type]
        except Unbindable:
            return None
        seed = b.get("seed")
        return seed if seed is not None and _simple(seed) else None

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        if self._seed_of(node) is not None:
            self._mine.add(id(node.body[0].value))  # type: ignore[attr-defined]

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        if self.ctx.call_name(original) == "torch.manual_seed" and id(original) not in self._mine:
            self.keep(original, "torch.manual_seed", "is only translated as a statement with a simple argument")
            return None
        return None

    def _gpu_knob(self, stmt: cst.SimpleStatementLine) -> Optional[Tuple[str, Severity]]:
        """A statement that only seeds or tunes CUDA: the note to leave when it goes."""
        if len(stmt.body) != 1:
            return None
        small = stmt.body[0]
        if isinstance(small, cst.Expr) and self.ctx.call_name(small.value) in _CUDA_SEEDS:
            return (
                f"`{self.ctx.call_name(small.value)}` removed: `mx.random.seed` (from `torch.manual_seed`) "
                "seeds every device",
                Severity.INFO,
            )
        if isinstance(small, cst.Assign) and len(small.targets) == 1:
            name = self.ctx.torch_name(small.targets[0].target)
            if name == "torch.backends.cudnn.benchmark":
                return (
                    "`torch.backends.cudnn.benchmark` removed: MXNet tunes cuDNN itself (MXNET_CUDNN_AUTOTUNE_DEFAULT)",
                    Severity.INFO,
                )
            if name == "torch.backends.cudnn.deterministic":
                return (
                    "`torch.backends.cudnn.deterministic` removed: for deterministic GPU kernels set the "
                    "environment variable MXNET_ENFORCE_DETERMINISM=1",
                    Severity.WARNING,
                )
        return None

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) == 1 and self.ctx.torch_name(node.targets[0].target) in _CUDNN_FLAGS:
            self.ctx.explained.add(id(node.targets[0].target))

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        knob = self._gpu_knob(original)
        if knob is not None:
            self.report(original, knob[0], severity=knob[1])
            return cst.RemovalSentinel.REMOVE
        seed = self._seed_of(original)
        if seed is None:
            return None
        mx_seed = cst.Expr(self.ctx.call("mxnet.random.seed", arg(seed)))
        np_random = cst.Attribute(value=cst.Attribute(value=_numpy_name(self.ctx), attr=cst.Name("random")), attr=cst.Name("seed"))
        np_seed = cst.SimpleStatementLine(body=[cst.Expr(cst.Call(func=np_random, args=[arg(seed)]))])
        return [updated.with_changes(body=[mx_seed]), np_seed]
