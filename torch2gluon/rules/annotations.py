"""Type annotations that name torch classes: the Gluon classes the translation makes."""

from __future__ import annotations

from typing import Dict, Optional

import libcst as cst

from ..facts.ops_create import LEGACY_CONSTRUCTORS
from ._base import Example, Rule

#: torch class -> the class of what the translation makes of its values
TYPES: Dict[str, str] = {
    **{f"torch.{n}": "mxnet.nd.NDArray" for n in (*LEGACY_CONSTRUCTORS, "ShortTensor")},
    "torch.nn.Module": "mxnet.gluon.Block",  # a translated subclass is a Block (or a HybridBlock, a Block too)
    "torch.utils.data.DataLoader": "mxnet.gluon.data.DataLoader",
    "torch.utils.data.Dataset": "mxnet.gluon.data.Dataset",
    "torch.optim.Optimizer": "mxnet.gluon.Trainer",  # a translated optimizer is a Trainer
    "torch.device": "mxnet.Context",
}


class Annotations(Rule):
    """``x: torch.Tensor``, ``model: nn.Module``, ``-> DataLoader``: annotations name Gluon's classes.

    ## What it does
    In a type annotation (a parameter's, a return's, an annotated
    assignment's, anywhere inside ``Optional[...]`` or ``List[...]``), a torch
    class whose values the translation turns into Gluon's is replaced by that
    class: ``torch.Tensor`` and the legacy tensor types by ``nd.NDArray``,
    ``nn.Module`` by ``gluon.Block`` (translated models are Blocks or
    HybridBlocks), ``DataLoader`` and
    ``Dataset`` by Gluon's, ``torch.optim.Optimizer`` by ``gluon.Trainer``
    (what the optimizers become) and ``torch.device`` by ``mx.Context``.

    ## Flags
    Any other torch name in an annotation (a layer class, ``torch.dtype``, a
    scheduler, ``nn.Parameter``: what a function is passed of a translated
    parameter is its array, read with ``.data()``) is left and reported as
    every torch name the translation leaves. Annotations in strings are not read.

    ## Fix safety
    Annotations do not change what the script computes; type checkers see
    the types the translated values have.
    """

    code = "T2G108"
    name = "annotations"
    summary = "torch classes in type annotations become the Gluon classes of the translated values"
    examples = (
        Example(
            "import torch\nfrom torch import nn\n\n\ndef step(model: nn.Module, x: torch.Tensor) -> torch.Tensor:\n    return x\n",
            "from mxnet import gluon, nd\n\n\ndef step(model: gluon.Block, x: nd.NDArray) -> nd.NDArray:\n    return x\n",
            id="parameter and return annotations",
        ),
    )

    _depth = 0

    def visit_Annotation(self, node: cst.Annotation) -> None:
        self._depth += 1

    def leave_Annotation(self, original: cst.Annotation, updated: cst.Annotation) -> cst.Annotation:
        self._depth -= 1
        return updated

    def _gluon(self, original: cst.BaseExpression) -> Optional[cst.BaseExpression]:
        if not self._depth:
            return None
        target = TYPES.get(self.ctx.torch_name(original) or "")
        return self.ctx.ref(target) if target is not None else None

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.BaseExpression:
        return self._gluon(original) or updated

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.BaseExpression:
        return self._gluon(original) or updated
