"""What model expressions hold, in the terms the module rules use.

Answered from the analysis (``ctx.value``): a rule never works it out itself,
so what a value is does not depend on which rules run.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from ..analysis.kinds import Kind
from ..facts.nn import LAYER_PARAMETERS, nn_class
from .context import Context

PARAMETER = "Parameter"  # a parameter member of a local class (``self.w = nn.Parameter(...)``)


def layer_kind(ctx: Context, node: Optional[cst.BaseExpression]) -> Optional[str]:
    """What an (original) expression holds: a torch.nn class name (``"Linear"``,
    ``"Sequential"``, ``"CrossEntropyLoss"``), ``"class:<Name>"`` for an
    instance of a local ``nn.Module`` subclass, ``"Parameter"`` for a
    parameter member of such a class, or ``None``."""
    if node is None:
        return None
    value = ctx.value(node)
    if value.kind in (Kind.MODULE, Kind.LOSS_FN):
        local = value.local_class()
        if local is not None:
            return "class:" + local
        return nn_class(value.cls)
    if value.kind is Kind.PARAMETER and isinstance(node, cst.Attribute) and _member_of_local_class(ctx, node):
        return PARAMETER
    return None


def _member_of_local_class(ctx: Context, node: cst.Attribute) -> bool:
    owner = ctx.value(node.value).local_class()
    return owner is not None and node.attr.value in ctx.analysis.members(owner)


def parameter_of(ctx: Context, node: Optional[cst.BaseExpression]) -> Optional[str]:
    """The Gluon attribute of the parameter an (original) ``X.weight`` names, or ``None``."""
    if not isinstance(node, cst.Attribute):
        return None
    kind = layer_kind(ctx, node)
    if kind == PARAMETER:
        # `self.w` in its own class is T2G213's
        own = isinstance(node.value, cst.Name) and node.value.value == "self"
        return None if own else node.attr.value
    owner = layer_kind(ctx, node.value)
    if owner is None:
        return None
    return LAYER_PARAMETERS.get(owner, {}).get(node.attr.value)


def is_submodule(ctx: Context, node: cst.BaseExpression) -> bool:
    """``model.features`` where ``features`` is a layer or block assigned in
    ``Net.__init__``, or ``net[0]`` of a known ``nn.Sequential``."""
    if not isinstance(node, (cst.Attribute, cst.Subscript)):
        return False
    kind = layer_kind(ctx, node)
    return kind is not None and kind != PARAMETER


def is_model_or_submodule(ctx: Context, node: cst.BaseExpression) -> bool:
    return (isinstance(node, cst.Name) and ctx.is_model(node)) or is_submodule(ctx, node)
