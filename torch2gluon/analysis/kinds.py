"""What a value is: a closed set of kinds, with "unknown" as a first-class answer.

The analysis (``values.py``) gives every expression that matters a ``Value``;
rules ask for it and never work it out themselves. A ``Value`` is immutable,
so two places holding the same kind of thing compare equal, and joining the
values of two branches (``join``) keeps what both agree on.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import Optional, Tuple

import libcst as cst


class Kind(enum.Enum):
    """What a Python value holds, as far as the translation cares."""

    UNKNOWN = "unknown"
    TENSOR = "tensor"  # a torch.Tensor (a loader's batch counts as one)
    PARAMETER = "parameter"  # an nn.Parameter (a layer's weight, self.w = nn.Parameter(...))
    MODULE = "module"  # an nn.Module: a torch layer, nn.Sequential, an instance of a local subclass
    LOSS_FN = "loss_fn"  # a loss module (nn.CrossEntropyLoss()): calling it gives a loss value
    OPTIMIZER = "optimizer"
    SCHEDULER = "scheduler"
    DATASET = "dataset"
    LOADER = "loader"  # a DataLoader: iterating it yields tensors
    SAMPLER = "sampler"  # a data sampler given to a DataLoader (torch's DistributedSampler)
    DEVICE = "device"  # a torch.device
    DTYPE = "dtype"  # torch.float32, ...
    SIZE = "size"  # a torch.Size (x.shape, x.size())
    PARAMETERS = "parameters"  # model.parameters(): an iterator of parameters
    NUMBER = "number"  # a Python int or float
    STR = "str"
    BOOL = "bool"  # a Python bool
    NONE = "none"
    TUPLE = "tuple"  # a tuple or list with known items (``Value.items``)
    SEQUENCE = "sequence"  # something to iterate over whose items are ``Value.element``
    CLASS = "class"  # a local class (``cls`` names it)
    IMPORTED = "imported"  # a module or name an import binds (not torch's: those are resolved by name)
    FUNCTION = "function"  # a local function


class DType(enum.Enum):
    """The class of a tensor's dtype, where it is known."""

    BOOL = "bool"
    INT = "int"
    FLOAT = "float"


@dataclass(frozen=True)
class Value:
    """One value's kind and what is known about it.

    ``cls``: for modules, optimizers, schedulers, datasets, loss functions: the
    torch class's qualified name (``torch.nn.Linear``) or ``class:<Name>`` for
    a local subclass of ``nn.Module``.
    ``dtype``: for tensors, the class of the dtype when known.
    ``ndim``: for tensors, the number of dimensions when known (0: a 0-d
    tensor, which MXNet's NDArray stands in for with shape (1,)).
    ``loss``: a tensor that is the value of a loss (a loss module's or a
    functional loss's result).
    ``items``: the items of a tuple/list, or of an ``nn.Sequential``/
    ``nn.ModuleList`` built from a literal list of layers.
    ``element``: what iterating over it yields, where that is known.
    ``origin``: the constructor call that made the object (an original node).
    ``source``: for a name, the expression it was assigned from, when a single
    assignment reaches the place where it is read (``device = "cuda" if ...``).
    """

    kind: Kind
    cls: Optional[str] = None
    dtype: Optional[DType] = None
    ndim: Optional[int] = None
    loss: bool = False
    items: Optional[Tuple["Value", ...]] = None
    element: Optional["Value"] = None
    origin: Optional[cst.CSTNode] = None
    source: Optional[cst.BaseExpression] = None

    @property
    def known(self) -> bool:
        return self.kind is not Kind.UNKNOWN

    def is_tensor(self) -> bool:
        """A tensor or a parameter's value (both answer to tensor methods)."""
        return self.kind is Kind.TENSOR or self.kind is Kind.PARAMETER

    def is_module(self) -> bool:
        return self.kind is Kind.MODULE

    def local_class(self) -> Optional[str]:
        """``Net`` for an instance of the local ``nn.Module`` subclass ``Net``."""
        if self.cls is not None and self.cls.startswith("class:"):
            return self.cls[6:]
        return None

    def torch_class(self) -> Optional[str]:
        """``Linear`` for an instance of ``torch.nn.Linear`` (the last part of its name)."""
        if self.cls is None or self.cls.startswith("class:"):
            return None
        return self.cls.rsplit(".", 1)[-1]

    def with_kind(self, kind: Kind) -> "Value":
        return replace(self, kind=kind)


UNKNOWN = Value(Kind.UNKNOWN)
NUMBER = Value(Kind.NUMBER)
STR = Value(Kind.STR)
BOOL = Value(Kind.BOOL)
NONE = Value(Kind.NONE)
TENSOR = Value(Kind.TENSOR)
BOOL_TENSOR = Value(Kind.TENSOR, dtype=DType.BOOL)
INT_TENSOR = Value(Kind.TENSOR, dtype=DType.INT)
FLOAT_TENSOR = Value(Kind.TENSOR, dtype=DType.FLOAT)
SIZE = Value(Kind.SIZE)
DTYPE = Value(Kind.DTYPE)
DEVICE = Value(Kind.DEVICE)


def tensor(dtype: Optional[DType] = None, loss: bool = False, ndim: Optional[int] = None) -> Value:
    return Value(Kind.TENSOR, dtype=dtype, loss=loss, ndim=ndim)


def join(a: Value, b: Value) -> Value:
    """What is true of a value that is ``a`` on one path and ``b`` on another."""
    if a == b:
        return a
    if a.kind is not b.kind:
        return UNKNOWN
    items: Optional[Tuple[Value, ...]] = None
    if a.items is not None and b.items is not None and len(a.items) == len(b.items):
        items = tuple(join(x, y) for x, y in zip(a.items, b.items))
    return Value(
        a.kind,
        cls=a.cls if a.cls == b.cls else None,
        dtype=a.dtype if a.dtype == b.dtype else None,
        ndim=a.ndim if a.ndim == b.ndim else None,
        loss=a.loss and b.loss,
        items=items,
        element=join(a.element, b.element) if a.element is not None and b.element is not None else None,
        origin=a.origin if a.origin is b.origin else None,
        source=a.source if a.source is b.source else None,
    )


def sequence(element: Value) -> Value:
    """An iterable (a list, a generator, ``enumerate(...)``) whose items are ``element``."""
    return Value(Kind.SEQUENCE, element=element)
