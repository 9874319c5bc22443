"""torch's loss formulas as template code, shared by the loss-object and functional-loss rules."""

from __future__ import annotations

import libcst as cst

from typing import Dict

from ..base.syntax import Unbindable, code_of, literal, paren
from ..facts.nn import LOSS_SIGNATURES, NN


def reduced(elem: str, reduction: str, den) -> str:
    """The per-element loss ``elem`` reduced as torch reduces it (template code)."""
    elem = code_of(paren(cst.parse_expression(elem)))
    if reduction == "none":
        return elem
    if reduction == "sum":
        return f"{elem}.sum()"
    if den is None:
        return f"{elem}.mean()"
    return f"{elem}.sum() / {den}"


def loss_elements(cls: str, b, reduction: str):
    """torch's per-element loss for ``cls`` as template code over ``input`` and
    ``target``, the lambda parameters it needs (name -> script expression), and
    the denominator of its ``'mean'`` when that is not the element count."""
    short = cls[len(NN):]
    given = lambda k: k in b and not is_default(b[k], dict(LOSS_SIGNATURES[cls])[k])  # noqa: E731
    params: Dict[str, cst.BaseExpression] = {}
    den = None
    if short in ("CrossEntropyLoss", "NLLLoss"):
        logp = "ND.log_softmax(input, axis=1)" if short == "CrossEntropyLoss" else "input"
        coef = []
        if given("weight"):
            params["weight"] = b["weight"]
            coef.append("ND.take(weight, target)")
        if given("ignore_index"):
            params["ignore_index"] = b["ignore_index"]
            coef.append("(target != ignore_index).astype(input.dtype)")
        nll = f"-ND.pick({logp}, target, axis=1)" + "".join(f" * {c}" for c in coef)
        elem = nll
        if short == "CrossEntropyLoss" and given("label_smoothing"):
            params["label_smoothing"] = b["label_smoothing"]
            weighted = f"{logp} * weight.reshape((1, -1) + (1,) * (input.ndim - 2))" if "weight" in params else logp
            smooth = f"-({weighted}).sum(axis=1)"
            if "ignore_index" in params:
                smooth += " * (target != ignore_index).astype(input.dtype)"
            elem = f"(1 - label_smoothing) * {nll} + label_smoothing / input.shape[1] * {smooth}"
        if coef:
            den = "(" + " * ".join(coef) + ").sum()"
        return elem, params, den
    if short == "MSELoss":
        return "ND.square(input - target)", params, den
    if short == "L1Loss":
        return "ND.abs(input - target)", params, den
    if short in ("SmoothL1Loss", "HuberLoss"):
        key = "beta" if short == "SmoothL1Loss" else "delta"
        value = literal(b[key]) if key in b else 1.0
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise Unbindable(f"argument `{key}` is translated only as a non-negative number literal")
        if value == 0:
            if short == "HuberLoss":
                raise Unbindable("argument `delta` must be positive")
            return "ND.abs(input - target)", params, den
        v = repr(float(value))
        far = f"ND.abs(input - target) - {0.5 * value!r}" if short == "SmoothL1Loss" else f"{v} * (ND.abs(input - target) - {0.5 * value!r})"
        near = f"0.5 * ND.square(input - target) / {v}" if short == "SmoothL1Loss" else "0.5 * ND.square(input - target)"
        return f"ND.where(ND.abs(input - target) < {v}, {near}, {far})", params, den
    if short == "BCELoss":
        elem = "-(target * ND.maximum(ND.log(input), -100) + (1 - target) * ND.maximum(ND.log(1 - input), -100))"
        if given("weight"):
            params["weight"] = b["weight"]
            elem = f"weight * {elem}"
        return elem, params, den
    if short == "BCEWithLogitsLoss":
        if given("pos_weight"):
            params["pos_weight"] = b["pos_weight"]
            elem = (
                "((1 - target) * input + (1 + (pos_weight - 1) * target) * "
                "ND.Activation(-input, act_type='softrelu'))"
            )
        else:
            elem = "(ND.Activation(input, act_type='softrelu') - input * target)"
        if given("weight"):
            params["weight"] = b["weight"]
            elem = f"weight * {elem}"
        return elem, params, den
    if short == "KLDivLoss":
        log_target = literal(b["log_target"]) if "log_target" in b else False
        if log_target is True:
            elem = "ND.exp(target) * (target - input)"
        elif log_target is False:
            elem = "ND.where(target > 0, target * ND.log(target), ND.zeros_like(target)) - target * input"
        else:
            raise Unbindable("argument `log_target` is translated only as a literal True or False")
        if reduction == "batchmean":
            den = "input.shape[0]"
        return elem, params, den
    raise Unbindable("is not translated")  # pragma: no cover


def is_default(node: cst.BaseExpression, default) -> bool:
    value = literal(node)
    return value == default and type(value) is type(default)
