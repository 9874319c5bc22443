"""Facts about the tensor API: ``torch.*`` tensor functions and ``Tensor`` methods.

One ``TensorApi`` entry per name: whether it exists as a ``torch`` function
and/or as a method, what its result is (``Result``), and whether the method
name is torch's alone (numpy arrays have no method of that name, so the
receiver of such a call in a torch script is a tensor whatever else is known
about it). The analysis reads the results; the tensor rules read the same
entries for what they translate.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Dict, Tuple


class Result(enum.Enum):
    """What a tensor API call gives, in terms of its inputs."""

    SAME = "same"  # a tensor of the (first) input's dtype class
    FLOAT = "float"  # a floating-point tensor whatever the input (exp, mean, std...)
    INT = "int"  # an integer tensor (argmax, long())
    BOOL = "bool"  # a boolean tensor (comparisons)
    PROMOTE = "promote"  # torch's promotion of the tensor inputs (mm, where, cat)
    CREATE = "create"  # a new tensor whose dtype the creation rules decide
    REDUCE = "reduce"  # sum/prod: a bool input gives int64, else the input's class
    VALUES_INDICES = "values_indices"  # (values, indices) with a dim, else SAME
    NUMBER = "number"  # a Python number (item, dim, numel)
    SIZE = "size"  # a torch.Size (size() without a dim; size(d) is a number)
    NONE = "none"  # nothing (backward)
    OTHER = "other"  # a value of another kind (numpy(), tolist())


@dataclass(frozen=True)
class TensorApi:
    name: str
    result: Result
    function: bool = True  # ``torch.<name>(x, ...)`` exists
    method: bool = True  # ``x.<name>(...)`` exists
    torch_only: bool = False  # no numpy array has a method of this name


def _entries(result: Result, names: str, **flags: bool) -> Tuple[TensorApi, ...]:
    return tuple(TensorApi(n, result, **flags) for n in names.split())


_ALL: Tuple[TensorApi, ...] = (
    # creation functions (no method form)
    *_entries(
        Result.CREATE,
        "tensor as_tensor ones zeros full eye arange rand randn randint from_numpy "
        "ones_like zeros_like full_like rand_like randn_like",
        method=False,
    ),
    # shape and layout: the input's dtype
    *_entries(Result.SAME, "view view_as unsqueeze permute contiguous t expand new_zeros fill_ zero_", function=False, torch_only=True),
    TensorApi("clamp", Result.SAME, torch_only=True),
    *_entries(Result.SAME, "reshape squeeze transpose clone detach repeat", function=False),
    TensorApi("flatten", Result.SAME),
    *_entries(Result.SAME, "to cpu cuda type", function=False),
    *_entries(Result.SAME, "abs pow relu sigmoid tanh softmax log_softmax"),
    # casts
    *_entries(Result.FLOAT, "float double half", function=False, torch_only=True),
    TensorApi("long", Result.INT, function=False, torch_only=True),
    TensorApi("int", Result.INT, function=False),
    # elementwise math that gives floats
    *_entries(Result.FLOAT, "exp log sqrt"),
    *_entries(Result.FLOAT, "mean std var"),
    # reductions
    *_entries(Result.REDUCE, "sum prod"),
    *_entries(Result.VALUES_INDICES, "max min"),
    *_entries(Result.INT, "argmax argmin"),
    # comparisons
    *_entries(Result.BOOL, "eq ne gt lt ge le", torch_only=True),
    # two tensors in, torch's promotion out
    *_entries(Result.PROMOTE, "cat concat stack mm bmm matmul where", method=False),
    # values of other kinds
    TensorApi("item", Result.NUMBER, function=False),
    TensorApi("size", Result.SIZE, function=False),
    *_entries(Result.NUMBER, "dim ndimension numel nelement", function=False),
    TensorApi("backward", Result.NONE, function=False),
    *_entries(Result.OTHER, "numpy tolist", function=False),
)

#: method name -> entry (tensor methods)
METHODS: Dict[str, TensorApi] = {e.name: e for e in _ALL if e.method}
#: ``torch.<name>`` -> entry (tensor functions)
FUNCTIONS: Dict[str, TensorApi] = {"torch." + e.name: e for e in _ALL if e.function}

#: methods only torch tensors have: their receiver is a tensor, and so is their result
TORCH_ONLY = frozenset(n for n, e in METHODS.items() if e.torch_only)
#: methods that give a tensor when called on a tensor
TENSOR_RESULT = frozenset(
    n for n, e in METHODS.items() if e.result not in (Result.NUMBER, Result.SIZE, Result.NONE, Result.OTHER)
)
#: ``torch.*`` functions whose result is a tensor
TENSOR_FUNCTIONS = frozenset(FUNCTIONS)
#: keywords only torch's tensor methods take (numpy says axis/keepdims)
TORCH_KEYWORDS = frozenset({"dim", "keepdim"})
