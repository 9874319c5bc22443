"""Devices: ``torch.device``, ``torch.cuda.is_available()``, ``.to(device)``."""

from __future__ import annotations

from typing import List, Optional, Set, Union, cast

import libcst as cst


from ..analysis.kinds import Kind
from ..analysis.scopes import assigned_names
from ..rewrite.context import Context
from ..base.syntax import arg
from ._base import Example, Rule, bind
from ..facts.dtypes import DTYPES
from ..facts.nn import STANDALONE, WITH_PARAMETERS
from ..facts.runtime import CONTEXT_HELPER, DEVICE_TYPE_HELPER, INITIALIZED_HELPER, TO_HELPER
from ..rewrite.build import meth
from ..rewrite.devices import (
    AVAILABLE, CURRENT, current_accelerator, device_of, gpu_count, has_gpu, is_accelerator_type,
    is_current_accelerator, is_device_name, is_model_name, move_call,
)


def _with_cpu(call: cst.Call) -> cst.Call:
    """``x.to(device, ...)`` with ``'cpu'`` for the device: whether the rest is a move ``move_call`` takes."""
    first = call.args[0].with_changes(value=cst.SimpleString("'cpu'"))
    return call.with_changes(args=[first, *call.args[1:]])


def _names_a_device(name: str) -> bool:
    return name in ("device", "dev") or name.endswith("_device")


class Devices(Rule):
    """Devices become MXNet contexts; moving tensors and models becomes ``as_in_context``/``reset_ctx``.

    ## What it does
    ``torch.device('cpu')`` -> ``mx.cpu()``, ``torch.device('cuda')`` /
    ``'cuda:1'`` -> ``mx.gpu(0)`` / ``mx.gpu(1)``;
    ``torch.cuda.is_available()`` and ``torch.accelerator.is_available()`` ->
    ``mx.context.num_gpus() > 0``; ``torch.cuda.device_count()`` ->
    ``mx.context.num_gpus()``; the idioms
    ``torch.device("cuda" if torch.cuda.is_available() else "cpu")`` and
    ``torch.accelerator.current_accelerator().type if
    torch.accelerator.is_available() else "cpu"`` -> ``mx.gpu(0) if
    mx.context.num_gpus() > 0 else mx.cpu()``; ``torch.accelerator.current_accelerator()``
    anywhere else -> ``mx.gpu(0) if mx.context.num_gpus() > 0 else mx.cpu()``;
    ``device.type`` -> ``'cuda'``/``'cpu'`` from the context (``_t2g_device_type``);
    ``x.to(y.device)`` -> ``x.as_in_context(y.context)``. On a tensor (a known tensor or
    a DataLoader batch), ``x.to(device)``/``x.cuda()``/``x.cpu()`` ->
    ``x.as_in_context(device)``. On a model, the statements ``net.to(device)``
    and ``net = net.to(device)`` -> ``net.collect_params().reset_ctx(device)``;
    a model built and moved in one statement, ``net = Net().to(device)`` (a
    translated ``Module`` class, or a torch layer with parameters), -> ``net =
    Net()``, ``net.initialize()``, ``net.collect_params().reset_ctx(device)``.
    On a value made by a class or function of another file (``model =
    Net(...).to(device)`` with ``from model import Net``), which the
    translation cannot tell is a model or an array, the move becomes
    ``_t2g_to(value, context)``: an NDArray is copied there, a Gluon block is
    initialised where it is not yet and moved there (anything else raises).
    A parameter named as a device (``device``, ``dev``, ``*_device``) of the
    function the move is in, not rebound there, whose callers the file does not
    show (``def train_epoch(model, device, loader)`` called from another file):
    ``_t2g_context(device)``, which takes an MXNet context or a string naming a
    CPU/CUDA device and raises on anything else (``'mps'``).

    ## Why
    MXNet places arrays and parameters on a ``Context``. Translated models are
    initialised where they are built, so their parameters exist (or are
    deferred) and ``reset_ctx`` moves them, as ``Module.to`` does.

    The accelerator: MXNet's only accelerator is the CUDA GPU, and its check is
    ``mx.context.num_gpus() > 0``. torch's ``current_accelerator()`` is the
    build's accelerator (``cuda`` on a CUDA build) even where none is usable;
    scripts use it only after ``torch.accelerator.is_available()`` (``if
    use_accel: device = torch.accelerator.current_accelerator() else:
    torch.device("cpu")``). The translation is the first GPU where MXNet has
    one and the CPU where it has none. Where torch's check is false (a machine
    without a GPU, as for the translation's), both run on the CPU, the same
    numbers; on a GPU machine both use the first GPU. Called where no check
    guards it on a machine without a usable accelerator, torch names a device
    that any move fails on, and the translation uses the CPU. An accelerator of
    another kind (``mps``, ``xpu``) named explicitly is refused: MXNet has none.

    ## Flags
    A device that is not a literal, a ``torch.device(...)`` or a name bound to
    one (``.to(args.device)``), ``.to`` on a model inside any other
    expression (``f(Net().to(device))``), ``current_accelerator(check_available=True)``
    (torch's is ``None`` without an accelerator), ``device.index`` (torch's is
    ``None`` for ``torch.device('cuda')``, MXNet's ``device_id`` 0), and
    ``torch.cuda``/``torch.accelerator`` API not listed above are left as is with an error.

    ## Fix safety
    Safe: the same numbers on the same kind of device.
    """

    code = "T2G801"
    name = "devices"
    summary = "torch.device, cuda.is_available, .to(device) -> mx contexts, as_in_context, reset_ctx"
    examples = (
        Example(
            (
                "import torch\n"
                "device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')\n"
                "x = torch.ones(2).to(device)\n"
            ),
            (
                "import mxnet as mx\nfrom mxnet import nd\n\n"
                "device = mx.gpu(0) if mx.context.num_gpus() > 0 else mx.cpu()\n"
                "x = nd.ones(2).as_in_context(device)\n"
            ),
            id="device idiom and a tensor moved",
        ),
        Example(
            (
                "import torch\n"
                "use_accel = not args.no_accel and torch.accelerator.is_available()\n"
                "if use_accel:\n"
                "    device = torch.accelerator.current_accelerator()\n"
                "else:\n"
                "    device = torch.device('cpu')\n"
                "x = torch.ones(2).to(device)\n"
                "pin = device.type == 'cuda'\n"
            ),
            (
                "import mxnet as mx\nfrom mxnet import nd\n\n\n"
                "def _t2g_device_type(context):\n"
                "    \"\"\"torch's `device.type` of the MXNet context standing for the device: 'cuda' for a GPU, else 'cpu'.\"\"\"\n"
                "    return \"cuda\" if context.device_type == \"gpu\" else \"cpu\"\n\n\n"
                "use_accel = not args.no_accel and mx.context.num_gpus() > 0\n"
                "if use_accel:\n"
                "    device = mx.gpu(0) if mx.context.num_gpus() > 0 else mx.cpu()\n"
                "else:\n"
                "    device = mx.cpu()\n"
                "x = nd.ones(2).as_in_context(device)\n"
                "pin = _t2g_device_type(device) == \"cuda\"\n"
            ),
            id="the accelerator idiom",
        ),
        Example(
            (
                "import torch\nfrom torch import nn\n"
                "device = torch.device('cuda:1')\n"
                "net = nn.Linear(2, 3)\n"
                "net = net.to(device)\n"
                "use_gpu = not torch.cuda.is_available() or torch.cuda.device_count() > 1\n"
            ),
            (
                "import mxnet as mx\nfrom mxnet import init\nfrom mxnet.gluon import nn\n\n"
                "device = mx.gpu(1)\n"
                "net = nn.Dense(\n    3,\n    in_units=2,\n    flatten=False,\n"
                "    weight_initializer=init.Uniform(2**-0.5),\n    bias_initializer=init.Uniform(2**-0.5),\n)\n"
                "net.initialize()\n"
                "net.collect_params().reset_ctx(device)\n"
                "use_gpu = not mx.context.num_gpus() > 0 or mx.context.num_gpus() > 1\n"
            ),
            id="model moved as a statement",
        ),
        Example(
            (
                "import torch\nfrom torch import nn\n\n\n"
                "class Net(nn.Module):\n"
                "    pass\n\n\n"
                "device = torch.device('cpu')\n"
                "model = Net().to(device)\n"
                "fc = nn.Linear(2, 1).cuda()\n"
            ),
            (
                "import mxnet as mx\nfrom mxnet import gluon, init\nfrom mxnet.gluon import nn\n\n\n"
                "class Net(gluon.Block):\n"
                "    pass\n\n\n"
                "device = mx.cpu()\n"
                "model = Net()\n"
                "model.initialize()\n"
                "model.collect_params().reset_ctx(device)\n"
                "fc = nn.Dense(\n    1,\n    in_units=2,\n    flatten=False,\n"
                "    weight_initializer=init.Uniform(2**-0.5),\n    bias_initializer=init.Uniform(2**-0.5),\n)\n"
                "fc.initialize()\n"
                "fc.collect_params().reset_ctx(mx.gpu(0))\n"
            ),
            id="model built and moved in one statement",
        ),
        Example(
            (
                "import torch\n"
                "x = torch.ones(2)\n"
                "y = x.to(args.device), torch.cuda.is_available() == True\n"
            ),
            (
                "import mxnet as mx\nfrom mxnet import nd\n\n"
                "x = nd.ones(2)\n"
                "# torch2gluon: T2G801: `.to` with a device that is not a literal, `torch.device(...)` or a name bound to one; left as is\n"
                "y = x.to(args.device), (mx.context.num_gpus() > 0) == True\n"
            ),
            diagnostics=("T2G801",),
            id="unknown device flagged",
        ),
    )

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._bare: Set[int] = set()  # calls that need no parentheses as a comparison
        self._model_moves: Set[int] = set()
        self._built_moves: Set[int] = set()  # net = Net().to(device)
        self._skip: Set[int] = set()  # their `.to` calls
        self._device_params: List[Set[str]] = []  # per enclosing function

    # -- device parameters: `def train(model, device, loader)` called from another file --
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        rebound = assigned_names(node.with_changes(params=cst.Parameters()))
        p = node.params
        self._device_params.append({
            x.name.value for x in (*p.posonly_params, *p.params, *p.kwonly_params)
            if _names_a_device(x.name.value) and x.name.value not in rebound
            and (x.default is None or device_of(self.ctx, x.default) is not None)
        })

    def leave_FunctionDef(self, original: cst.FunctionDef, updated: cst.FunctionDef) -> None:
        self._device_params.pop()

    def _device_param(self, node: cst.BaseExpression) -> bool:
        """A parameter named as a device (``device``, ``dev``, ``input_device``) of the function
        the move is in, not rebound there, whose callers this file does not show."""
        return (
            isinstance(node, cst.Name) and bool(self._device_params) and node.value in self._device_params[-1]
            and not self.ctx.value(node).known
        )

    # -- where a comparison may stand without parentheses --------------------
    def _bare_ok(self, node: Optional[cst.CSTNode]) -> None:
        if isinstance(node, cst.Call):
            self._bare.add(id(node))

    def visit_IfExp(self, node: cst.IfExp) -> None:
        for n in (node.test, node.body, node.orelse):
            self._bare_ok(n)

    def visit_If(self, node: cst.If) -> None:
        self._bare_ok(node.test)

    def visit_While(self, node: cst.While) -> None:
        self._bare_ok(node.test)

    def visit_Assign(self, node: cst.Assign) -> None:
        self._bare_ok(node.value)

    def visit_Arg(self, node: cst.Arg) -> None:
        self._bare_ok(node.value)

    def visit_Return(self, node: cst.Return) -> None:
        self._bare_ok(node.value)

    def visit_BooleanOperation(self, node: cst.BooleanOperation) -> None:
        self._bare_ok(node.left)
        self._bare_ok(node.right)

    def visit_UnaryOperation(self, node: cst.UnaryOperation) -> None:
        if isinstance(node.operator, cst.Not):
            self._bare_ok(node.expression)

    # -- bindings and model moves --------------------------------------------
    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        if len(node.body) != 1:
            return
        small = node.body[0]
        value = None
        if isinstance(small, cst.Expr):
            value = small.value
        elif isinstance(small, cst.Assign) and len(small.targets) == 1:
            value = small.value
        moved = move_call(self.ctx, value) if value is not None else None
        if moved is not None and isinstance(small, cst.Assign) and isinstance(small.targets[0].target, cst.Name):
            if self._built_model(moved[0]):  # net = Net().to(device)
                self.ctx.handled.add(id(cast(cst.Call, value).func))  # what move_call matches
                self._built_moves.add(id(node))
                self._skip.add(id(value))
                return
        if moved is None or not is_model_name(self.ctx, moved[0]):
            return
        if isinstance(small, cst.Assign):
            target = small.targets[0].target
            if not (isinstance(target, cst.Name) and target.value == moved[0].value):
                return
        self.ctx.handled.add(id(cast(cst.Call, value).func))  # T2G002 leaves `net.to` alone
        self._model_moves.add(id(node))

    def _built_model(self, node: cst.BaseExpression) -> bool:
        """``Net(...)`` of a translated Module class, or a torch layer with parameters."""
        if not isinstance(node, cst.Call):
            return False
        if isinstance(node.func, cst.Name) and self.ctx.value(node).local_class() is not None:
            return True
        name = self.ctx.call_name(node) or ""
        return name.startswith("torch.nn.") and name.count(".") == 2 and (
            name[9:] in WITH_PARAMETERS or name[9:] in STANDALONE
        )

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        if id(original) in self._built_moves:
            return self._built(original, updated)
        if id(original) not in self._model_moves:
            return None
        small = cast(Union[cst.Expr, cst.Assign], original.body[0])  # as visit_SimpleStatementLine found it
        moved = move_call(self.ctx, small.value)
        if moved is None:
            if isinstance(small.value, cst.Call) and isinstance(small.value.func, cst.Attribute):
                self.keep(
                    small.value,
                    f".{small.value.func.attr.value}",
                    "of a model, with a device that is not a literal, `torch.device(...)` or a name bound to one",
                )
            return None
        recv, dev = moved
        params = cst.Call(func=cst.Attribute(value=recv, attr=cst.Name("collect_params")))
        reset = meth(params, "reset_ctx", arg(dev))
        return updated.with_changes(body=[cst.Expr(reset)])

    def _built(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        """``net = Net().to(device)`` -> ``net = Net()``, ``net.initialize()``, ``reset_ctx``."""
        assign = cast(cst.Assign, original.body[0])  # `name = ...`, as visit_SimpleStatementLine found it
        moved = move_call(self.ctx, assign.value)
        new_value = cast(cst.Assign, updated.body[0]).value
        if moved is None or not (isinstance(new_value, cst.Call) and isinstance(new_value.func, cst.Attribute)):
            return None
        ctor = new_value.func.value
        if not isinstance(ctor, cst.Call) or self.ctx.call_name(ctor) is not None:
            return None  # the layer was left untranslated (and reported)
        target = cast(cst.Name, assign.targets[0].target)
        first = updated.with_changes(body=[updated.body[0].with_changes(value=ctor)])
        init = cst.SimpleStatementLine(body=[cst.Expr(meth(cst.Name(target.value), "initialize"))])
        params = meth(cst.Name(target.value), "collect_params")
        reset = cst.SimpleStatementLine(body=[cst.Expr(meth(params, "reset_ctx", arg(moved[1])))])
        return [first, init, reset]

    # -- expressions ---------------------------------------------------------------
    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        ctx = self.ctx
        name = ctx.call_name(original)
        if name is None:
            return self._method(original, updated)
        if name in AVAILABLE:
            if original.args:
                self.keep(original, name, "with arguments is not translated")
                return None
            out = has_gpu(ctx)
            if id(original) not in self._bare:
                out = out.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
            return out
        if name == CURRENT:
            if not is_current_accelerator(ctx, original):
                self.keep(original, name, "with `check_available=True` is not translated (torch's is `None` where no "
                          "accelerator is usable; MXNet's: `mx.gpu(0) if mx.context.num_gpus() > 0 else None`)")
                return None
            acc = current_accelerator(ctx)
            if id(original) not in self._bare:
                acc = acc.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
            return acc
        if name in ("torch.cuda.device_count", "torch.accelerator.device_count") and not original.args:
            return gpu_count(ctx)
        if name == "torch.device":
            dev = device_of(ctx, original)
            if dev is None:
                b = bind(original, ["type", "index"]) if not any(a.star for a in original.args) else {}
                inner = b.get("type")
                if isinstance(inner, cst.Name) and is_device_name(ctx, inner) and "index" not in b:
                    return updated.args[0].value  # torch.device(device): already a context
                self.keep(original, name, "with a device that is not a literal `'cpu'`/`'cuda[:n]'` is not translated")
                return None
            return dev  # built from the original nodes, which hold no other torch code
        return None

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> Optional[cst.BaseExpression]:
        # `device.type`: torch's device kind as a string, from the MXNet context
        if self.ctx.kind(original.value) is not Kind.DEVICE or id(original) in self.ctx.handled:
            return None
        if original.attr.value == "type":
            self.ctx.helper(*DEVICE_TYPE_HELPER)
            return cst.Call(func=cst.Name("_t2g_device_type"), args=[arg(updated.value.with_changes(lpar=[], rpar=[]))])
        if original.attr.value == "index":
            # torch's is None for `torch.device('cuda')` and for the CPU; MXNet's `device_id` is 0 there
            self.ctx.explained.add(id(original))
            self.report(original, "`.index` of a device is not translated (MXNet's `device_id` is 0 where torch's is None); left as is")
        return None

    def leave_IfExp(self, original: cst.IfExp, updated: cst.IfExp) -> Optional[cst.BaseExpression]:
        # the accelerator idiom: `current_accelerator().type if is_available() else "cpu"`
        if not (is_accelerator_type(self.ctx, original.body) or is_accelerator_type(self.ctx, original.orelse)):
            return None
        dev = device_of(self.ctx, original)
        if dev is None:
            return None
        return dev

    def _method(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        if not isinstance(original.func, cst.Attribute) or original.func.attr.value not in ("to", "cuda", "cpu"):
            return None
        if id(original) in self._skip or id(original) in self.ctx.handled:
            return None  # a model built and moved: the statement is rewritten
        recv_o = original.func.value
        m = original.func.attr.value
        if not self.ctx.is_tensor(recv_o):
            if (
                self.ctx.kind(recv_o) is Kind.MODULE and id(original.func) not in self.ctx.handled
                and m == "to" and original.args and not is_model_name(self.ctx, recv_o)
            ):
                # a Gluon block has no `.to`: `net.to(dev)` as a statement of its own is
                # `reset_ctx`; a layer moved where it is made (`self.fc = nn.Linear(..).to(dev)`)
                # or a model's part (`self.enc = self.enc.to(dev)`) is not translated
                self.keep(original, f".{m}", "of a model is only translated as a statement `net.to(device)` or "
                          "`net = net.to(device)` (Gluon: `net.collect_params().reset_ctx(ctx)`)")
                return None
            if is_model_name(self.ctx, recv_o) or (isinstance(recv_o, cst.Name) and recv_o.value == "self"):
                return None  # T2G801's statements, T2G002 and T2G211 report the rest
            if self.ctx.value(recv_o).known:
                return None  # a module's function (`mx.cpu()`), a string's... not a tensor's move
            if m == "to" and original.args and self._device_param(original.args[0].value) and move_call(
                self.ctx, _with_cpu(original)
            ) is not None:
                self.ctx.helper(*CONTEXT_HELPER)
                self.ctx.helper(*INITIALIZED_HELPER)
                self.ctx.helper(*TO_HELPER)
                dev = cst.Call(func=cst.Name("_t2g_context"), args=[arg(original.args[0].value)])
                return cst.Call(func=cst.Name("_t2g_to"), args=[arg(cast(cst.Attribute, updated.func).value), arg(dev)])
            if m == "to" and not (len(original.args) >= 1 and device_of(self.ctx, original.args[0].value) is not None):
                return None  # not evidently a device move
            if m != "to" and original.args:
                return None
            moved = move_call(self.ctx, original)
            if moved is None:
                self.keep(original, f".{m}", "on a value not known to be a tensor or a model is not translated "
                          "(a tensor: `.as_in_context(ctx)`, a model: `.collect_params().reset_ctx(ctx)`)")
                return None
            # a model or an array made in another file (`model = Net(...).to(device)` with
            # `from model import Net`): which one is decided where it runs
            self.ctx.helper(*INITIALIZED_HELPER)
            self.ctx.helper(*TO_HELPER)
            recv = cast(cst.Attribute, updated.func).value
            return cst.Call(func=cst.Name("_t2g_to"), args=[arg(recv), arg(moved[1])])
        if m == "to":
            args = original.args
            if len(args) == 1 and not args[0].star:
                if self.ctx.torch_name(args[0].value) in DTYPES:
                    return None  # a cast: T2G102's
        moved = move_call(self.ctx, original)
        if moved is None and m == "to" and len(original.args) >= 1 and not original.args[0].keyword:
            if self._device_param(original.args[0].value) and move_call(self.ctx, _with_cpu(original)) is not None:
                # the device comes from a caller elsewhere: a context, or a string naming one
                # (anything else raises where it runs: `_t2g_context`)
                self.ctx.helper(*CONTEXT_HELPER)
                dev = cst.Call(func=cst.Name("_t2g_context"), args=[arg(original.args[0].value)])
                return meth(cast(cst.Attribute, updated.func).value, "as_in_context", arg(dev))
        if moved is None:
            self.keep(
                original,
                f".{m}",
                "with a device that is not a literal, `torch.device(...)` or a name bound to one",
            )
            return None
        _, dev = moved
        recv = cast(cst.Attribute, updated.func).value
        return meth(recv, "as_in_context", arg(dev))
