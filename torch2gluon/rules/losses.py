"""Loss functions."""

from __future__ import annotations

from typing import Optional

import libcst as cst

from ..context import arg
from ._base import Example, Rule, Unbindable, bind, literal

_CE_PARAMS = ["weight", "size_average", "ignore_index", "reduce", "reduction", "label_smoothing"]
_CE_DEFAULTS = {
    "weight": None,
    "size_average": None,
    "ignore_index": -100,
    "reduce": None,
    "reduction": "mean",
    "label_smoothing": 0.0,
}


class Losses(Rule):
    """``nn.CrossEntropyLoss()`` becomes ``gluon.loss.SoftmaxCrossEntropyLoss()``.

    ## What it does
    Translates the loss object. Gluon losses return one value per sample; the
    training-loop rule (T2G501) turns that back into torch's batch mean where
    the script looks at the value, and hands the batch's actual size to
    ``trainer.step``, so the gradient is the same mean gradient.

    ## Why
    ``SoftmaxCrossEntropyLoss`` takes logits and integer class labels like
    ``CrossEntropyLoss``; only the reduction moves. torch reads the classes
    from axis 1 whatever the input's rank, Gluon from the last axis by
    default: ``axis=1`` keeps torch's meaning for (N, C, d...) inputs too
    (measured: with C == d the default gave 1.136 where torch gives 1.880).

    ## Flags
    Class weights, ``ignore_index``, ``label_smoothing`` and reductions other
    than ``'mean'`` are left as is with an error for now.

    ## Fix safety
    Safe: the per-sample values equal torch's ``reduction='none'`` values.
    """

    code = "T2G301"
    name = "losses"
    summary = "nn.CrossEntropyLoss -> gluon.loss.SoftmaxCrossEntropyLoss"
    examples = (
        Example(
            "from torch import nn\nloss_fn = nn.CrossEntropyLoss()\n",
            "from mxnet import gluon\n\nloss_fn = gluon.loss.SoftmaxCrossEntropyLoss(axis=1)\n",
            id="cross entropy",
        ),
        Example(
            "import torch\nloss_fn = torch.nn.CrossEntropyLoss(reduction='mean')\n",
            "from mxnet import gluon\n\nloss_fn = gluon.loss.SoftmaxCrossEntropyLoss(axis=1)\n",
            id="explicit mean reduction",
        ),
        Example(
            "from torch import nn\nloss_fn = nn.CrossEntropyLoss(None, None, -100, None, 'mean', 0.0)\n",
            "from mxnet import gluon\n\nloss_fn = gluon.loss.SoftmaxCrossEntropyLoss(axis=1)\n",
            id="torch defaults written out",
        ),
        Example(
            "import torch\nloss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)\n",
            "import torch\n# torch2gluon: T2G301: `torch.nn.CrossEntropyLoss` argument `label_smoothing` is not translated yet; left as is\nloss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)\n",
            diagnostics=("T2G301",),
            id="label smoothing is flagged",
        ),
    )

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        name = self.ctx.call_name(original)
        if name != "torch.nn.CrossEntropyLoss":
            return None
        try:
            b = bind(updated, _CE_PARAMS)
            for key, value in b.items():
                if literal(value) == _CE_DEFAULTS[key] and type(literal(value)) is type(_CE_DEFAULTS[key]):
                    continue  # torch's own default, written out
                raise Unbindable(f"argument `{key}` is not translated yet")
        except Unbindable as e:
            return self.keep(original, name, str(e))
        # torch's classes are on axis 1 for inputs of any rank; Gluon's default
        # is the last axis, which is the same only for (N, C) inputs
        return self.ctx.call("mxnet.gluon.loss.SoftmaxCrossEntropyLoss", arg(cst.Integer("1"), "axis"))
