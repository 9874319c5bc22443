"""Building blocks of the layer rules: convolutions, standalone initialisation, init warnings."""

from __future__ import annotations

from typing import Any, Optional, cast

import libcst as cst

from ..base.diagnostics import Severity
from ..base.syntax import NotLiteral, Unbindable, arg, bind, code_of, is_literal, literal, literal_ints, literal_pair
from ..facts.nn import nn_class


def initialize_standalone(ctx, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine, table):
    """``name = nn.<Layer>(...)`` translated to a Gluon layer -> also ``name.initialize()``.

    ``table`` maps a torch.nn class name to the Gluon class names it may
    become.
    """
    if len(original.body) != 1 or not isinstance(original.body[0], cst.Assign):
        return None
    assign = original.body[0]
    if len(assign.targets) != 1 or not isinstance(assign.targets[0].target, cst.Name):
        return None
    kind = nn_class(ctx.call_name(assign.value), *table)
    if kind is None:
        return None
    new_value = cast(cst.Assign, updated.body[0]).value
    if not (
        isinstance(new_value, cst.Call)
        and ctx.call_name(new_value) is None
        and isinstance(new_value.func, cst.Attribute)
        and new_value.func.attr.value in table[kind]
    ):
        return None  # left untranslated (and reported)
    target = assign.targets[0].target.value
    init = cst.SimpleStatementLine(
        body=[cst.Expr(cst.Call(func=cst.Attribute(value=cst.Name(target), attr=cst.Name("initialize"))))]
    )
    return [updated, init]


def with_parens(node: cst.BaseExpression) -> cst.BaseExpression:
    if isinstance(node, (cst.Name, cst.Integer, cst.Attribute, cst.Call, cst.Subscript)):
        return node
    return node.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


def default_init_warning(rule: Any, node: cst.CSTNode) -> None:
    rule.report(
        node,
        "Gluon's default initialisation (uniform ±0.07, zero bias) differs from torch's",
        severity=Severity.WARNING,
    )


CONV_PARAMS = ["in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias",
               "padding_mode", "device", "dtype"]


CONV_TRANSPOSE_PARAMS = ["in_channels", "out_channels", "kernel_size", "stride", "padding", "output_padding",
                         "groups", "bias", "dilation", "padding_mode", "device", "dtype"]


def translate_conv(
    rule: Any, original: cst.Call, updated: cst.Call, name: str, target: str, dims: int, transposed: bool
) -> Optional[cst.BaseExpression]:
    """Any torch ``Conv{1,2}d``/``ConvTranspose{1,2}d`` -> the Gluon layer ``target``.

    Same weight layout in both; torch's initial distribution U(±1/sqrt(fan_in))
    is written out, with fan_in from the input channels (the output channels
    for a transposed convolution) per group times the kernel.
    """
    try:
        b = bind(updated, CONV_TRANSPOSE_PARAMS if transposed else CONV_PARAMS)
        for key in ("in_channels", "out_channels", "kernel_size"):
            if key not in b:
                raise Unbindable(f"needs `{key}`")
        for key in ("device", "dtype"):
            if key in b and not is_literal(b[key], None):
                raise Unbindable(f"argument `{key}` is not translated yet")
        mode = b.get("padding_mode")
        if mode is not None and not is_literal(mode, "zeros"):
            shown = repr(literal(mode)) if literal(mode) is not NotLiteral else code_of(mode)
            raise Unbindable(f"with `padding_mode={shown}` is not translated yet")
        padding = b.get("padding")
        pad_value = literal(padding) if padding is not None else 0
        if isinstance(pad_value, str):
            if pad_value == "valid" and not transposed:
                padding = None
            elif pad_value == "same":
                raise Unbindable("with `padding='same'` is not translated (MXNet has no 'same' padding)")
            else:
                raise Unbindable(f"with `padding={pad_value!r}` is not valid")
    except Unbindable as e:
        return rule.keep(original, name, str(e))
    args = [arg(b["out_channels"]), arg(b["kernel_size"])]
    keys = [("stride", "strides", 1), ("padding", "padding", 0)]
    if transposed:
        keys.append(("output_padding", "output_padding", 0))
    keys += [("dilation", "dilation", 1), ("groups", "groups", 1)]
    for torch_key, mx_key, default in keys:
        value = padding if torch_key == "padding" else b.get(torch_key)
        if value is not None and not is_literal(value, default):
            args.append(arg(value, mx_key))
    bias = b.get("bias")
    if bias is not None and not is_literal(bias, True):
        args.append(arg(bias, "use_bias"))
    args.append(arg(b["in_channels"], "in_channels"))
    if rule.ctx.options.init != "torch":
        default_init_warning(rule, original)
        return rule.ctx.call(f"mxnet.gluon.nn.{target}", *args)
    kernel = literal_ints(b["kernel_size"], dims)
    if kernel is None:
        rule.report(
            original,
            "the kernel size is not a literal, so torch's initial distribution "
            "U(±1/sqrt(fan_in)) is not written out; Gluon's default (uniform ±0.07, zero bias) is used",
            severity=Severity.WARNING,
        )
        return rule.ctx.call(f"mxnet.gluon.nn.{target}", *args)
    fan_in = code_of(with_parens(b["out_channels" if transposed else "in_channels"]))
    groups = b.get("groups")
    if groups is not None and not is_literal(groups, 1):
        fan_in += " // " + code_of(with_parens(groups))
    fan_in += "".join(f" * {k}" for k in kernel)
    for key in ("weight", "bias"):
        if key == "bias" and is_literal(bias, False):
            continue
        bound = cst.parse_expression(f"({fan_in}) ** -0.5")
        args.append(arg(rule.ctx.call("mxnet.init.Uniform", arg(bound)), f"{key}_initializer"))
    return rule.ctx.call(f"mxnet.gluon.nn.{target}", *args)


def ceil_mode_matches(kernel, stride, padding) -> bool:
    """torch's ``ceil_mode`` equals MXNet's "full" convention for these sizes.

    torch drops a last window that would start in the right padding (or past
    the input); MXNet keeps it. That can happen only when
    ``stride > kernel - padding`` in some dimension (measured: 36 mismatching
    shapes, all of this kind; none otherwise).
    """
    k = literal_pair(kernel)
    s = k if stride is None or is_literal(stride, None) else literal_pair(stride)
    p = (0, 0) if padding is None else literal_pair(padding)
    if k is None or s is None or p is None:
        return False
    return all(s[i] <= k[i] - p[i] for i in range(2))



