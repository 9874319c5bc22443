"""What rules decided, recorded for the rules that build on it (see ``optimizers.py``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OptimizerPlan:
    """How one optimizer was translated.

    ``torch_class``: the torch optimizer (``torch.optim.SGD``); ``algo``: the
    Trainer's algorithm (``sgd``, ``torchsgd``...); ``lr_kind``: how it reacts
    to a learning-rate change: ``neutral`` (the rate only scales the step),
    ``in-state`` (MXNet's state holds lr-scaled values, so a change is not
    neutral), ``ignored`` (MXNet ignores the rate), ``unknown``; ``grouped``:
    its parameter groups have different learning rates (``lr_mult``), so a
    schedule that does not scale every group by one factor is not exact.
    """

    torch_class: str
    algo: str
    lr_kind: str
    grouped: bool = False
