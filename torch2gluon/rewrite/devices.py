"""Devices as MXNet contexts: what a device expression becomes, and moves of values to one."""

from __future__ import annotations

from typing import Optional, cast

import libcst as cst

from ..analysis.kinds import Kind
from ..base.syntax import Unbindable, arg, bind, literal, walk
from ..facts.runtime import CONTEXT_HELPER
from .context import Context


AVAILABLE = ("torch.cuda.is_available", "torch.accelerator.is_available")


CURRENT = "torch.accelerator.current_accelerator"


def gpu_count(ctx: Context) -> cst.Call:
    return ctx.call("mxnet.context.num_gpus")


def has_gpu(ctx: Context) -> cst.Comparison:
    return cst.Comparison(
        left=gpu_count(ctx),
        comparisons=[cst.ComparisonTarget(operator=cst.GreaterThan(), comparator=cst.Integer("0"))],
    )


def string_device(ctx: Context, text: str, index: Optional[cst.BaseExpression] = None) -> Optional[cst.BaseExpression]:
    """``'cpu'`` / ``'cuda'`` / ``'cuda:1'`` -> ``mx.cpu()`` / ``mx.gpu(0)`` / ``mx.gpu(1)``."""
    kind, _, number = text.partition(":")
    if number and index is not None:
        return None
    if kind == "cpu":
        return ctx.call("mxnet.cpu")
    if kind == "cuda":
        if number:
            if not number.isdigit():
                return None
            index = cst.Integer(str(int(number)))
        return ctx.call("mxnet.gpu", arg(index if index is not None else cst.Integer("0")))
    return None


def is_accelerator_type(ctx: Context, node: cst.BaseExpression) -> bool:
    """``torch.accelerator.current_accelerator()`` or its ``.type``."""
    if isinstance(node, cst.Attribute) and node.attr.value == "type":
        node = node.value
    return isinstance(node, cst.Call) and ctx.call_name(node) == CURRENT and not node.args


def is_current_accelerator(ctx: Context, node: cst.BaseExpression) -> bool:
    """``torch.accelerator.current_accelerator()`` (or with ``check_available=False``)."""
    if not (isinstance(node, cst.Call) and ctx.call_name(node) == CURRENT):
        return False
    try:
        b = bind(node, ["check_available"])
    except Unbindable:
        return False
    return "check_available" not in b or literal(b["check_available"]) is False


def current_accelerator(ctx: Context) -> cst.IfExp:
    """MXNet's accelerator where there is one, else the CPU: ``mx.gpu(0) if mx.context.num_gpus() > 0 else mx.cpu()``.

    torch's ``current_accelerator()`` is the build's accelerator (``cuda``) even
    where none is usable, and scripts call it after ``is_available()``: where
    that check is false (``mx.context.num_gpus() == 0``) the translation's
    moves stay on the CPU, which is where torch's tensors are.
    """
    return cst.IfExp(
        test=has_gpu(ctx),
        body=ctx.call("mxnet.gpu", arg(cst.Integer("0"))),
        orelse=ctx.call("mxnet.cpu"),
    )


def device_of(ctx: Context, node: cst.BaseExpression) -> Optional[cst.BaseExpression]:
    """The MXNet context for an *original* device expression, or ``None``.

    Device expressions: a name bound to a device, a string such as ``'cuda:0'``,
    ``torch.device(...)`` of those, the accelerator idiom, and a conditional
    ``a if torch.cuda.is_available() else b`` of them.
    """
    if isinstance(node, cst.Name):
        if not is_device_name(ctx, node):
            return None
        if ctx.value(node).kind is Kind.DEVICE:
            return node  # a torch.device: an MXNet context where it was made
        # a string that names a device ("cuda" if ... else "cpu"): it stays a
        # string (printing it shows what torch's shows) and becomes a context here
        ctx.helper(*CONTEXT_HELPER)
        return cst.Call(func=cst.Name("_t2g_context"), args=[arg(node)])
    if (
        isinstance(node, cst.Attribute) and node.attr.value == "device"
        and isinstance(node.value, cst.Name) and ctx.is_tensor(node.value)
    ):
        return cst.Attribute(value=node.value, attr=cst.Name("context"))  # `x.to(y.device)`: y's context
    value = literal(node)
    if isinstance(value, str):
        return string_device(ctx, value)
    if is_current_accelerator(ctx, node):
        return current_accelerator(ctx).with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    if isinstance(node, cst.IfExp):
        test = node.test
        if isinstance(test, cst.Call) and ctx.call_name(test) in AVAILABLE and not test.args:
            new_test: cst.BaseExpression = has_gpu(ctx)
        elif not any(isinstance(n, (cst.Name, cst.Attribute)) and ctx.torch_name(n) for n in walk(test)):
            # `"cuda" if use_cuda else "cpu"`: the script's own flag (its
            # `torch.cuda.is_available()` part is translated where it is set)
            new_test = test
        else:
            # `"cuda" if args.gpu and torch.cuda.is_available() else "cpu"`: the checks
            # become MXNet's, and nothing else of torch may be in the test
            checks = {
                id(n) for n in walk(test)
                if isinstance(n, cst.Call) and ctx.call_name(n) in AVAILABLE and not n.args
            }
            inside = {id(c) for n in walk(test) if id(n) in checks for c in walk(n) if c is not n}
            if not checks or any(
                isinstance(n, (cst.Name, cst.Attribute)) and ctx.torch_name(n) and id(n) not in inside
                for n in walk(test)
            ):
                return None
            new_test = cast(cst.BaseExpression, test.visit(_Checks(ctx, checks)))
        body, orelse = _branch(ctx, node.body, _checks_available(ctx, test)), _branch(ctx, node.orelse, False)
        if body is None or orelse is None:
            return None
        return cst.IfExp(test=new_test, body=body, orelse=orelse)
    if isinstance(node, cst.Call) and ctx.call_name(node) == "torch.device":
        try:
            b = bind(node, ["type", "index"])
        except Unbindable:
            return None
        if "type" not in b:
            return None
        kind = literal(b["type"])
        if "index" in b:
            if not isinstance(kind, str) or ":" in kind:
                return None
            return string_device(ctx, kind, b["index"])
        return device_of(ctx, b["type"])
    return None


def _checks_available(ctx: Context, test: cst.BaseExpression) -> bool:
    """``torch.cuda.is_available()`` itself, or one operand of a chain of ``and``: true only where it holds."""
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
        return _checks_available(ctx, test.left) or _checks_available(ctx, test.right)
    return isinstance(test, cst.Call) and ctx.call_name(test) in AVAILABLE and not test.args


def _branch(ctx: Context, node: cst.BaseExpression, guarded: bool) -> Optional[cst.BaseExpression]:
    if is_accelerator_type(ctx, node):
        if guarded:
            # `current_accelerator().type if torch.accelerator.is_available() else "cpu"`:
            # reached where the check holds, in MXNet `mx.context.num_gpus() > 0`: the first GPU
            return ctx.call("mxnet.gpu", arg(cst.Integer("0")))
        return current_accelerator(ctx).with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return device_of(ctx, node)


def is_model_name(ctx: Context, node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and ctx.is_model(node)


def is_device_name(ctx: Context, node: cst.Name, depth: int = 0) -> bool:
    """A name that holds a device: a ``torch.device``, or assigned (on every path
    that reaches ``node``) one device expression ``device_of`` translates."""
    value = ctx.value(node)
    if value.kind is Kind.DEVICE:
        return True
    source = value.source
    if source is None or depth > 8:
        return False
    if isinstance(source, cst.Name):
        return is_device_name(ctx, source, depth + 1)
    return device_of(ctx, source) is not None


def move_call(ctx: Context, call: cst.BaseExpression):
    """``recv.to(dev)`` / ``recv.cuda()`` / ``recv.cpu()`` (original) -> (receiver, MXNet context) or None."""
    if not (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute)):
        return None
    if ctx.call_name(call) is not None:
        return None
    m = call.func.attr.value
    try:
        if m == "to":
            b = bind(call, ["device", "non_blocking", "copy", "memory_format"])
            if "device" not in b or set(b) - {"device", "non_blocking"}:
                return None
            dev = device_of(ctx, b["device"])
        elif m == "cuda":
            b = bind(call, ["device", "non_blocking", "memory_format"])
            if set(b) - {"device", "non_blocking"}:
                return None
            index = b.get("device")
            if index is not None and not isinstance(literal(index), int):
                return None
            dev = ctx.call("mxnet.gpu", arg(index if index is not None else cst.Integer("0")))
        elif m == "cpu":
            if call.args:
                return None
            dev = ctx.call("mxnet.cpu")
        else:
            return None
    except Unbindable:
        return None
    if dev is None:
        return None
    return call.func.value, dev


class _Checks(cst.CSTTransformer):
    """``torch.cuda.is_available()`` (the calls listed) as MXNet's GPU check."""

    def __init__(self, ctx, ids) -> None:
        super().__init__()
        self.ctx, self.ids = ctx, ids

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        if id(original) in self.ids:
            return has_gpu(self.ctx).with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        return updated
