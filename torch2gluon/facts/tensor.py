"""Facts about the tensor API that the analysis reads: what each call gives.

Derived from the ops registry (``ops_table.py``: one entry per op), so the
analysis and the rules read the same table.
"""

from __future__ import annotations

from typing import Dict

from .ops import Op, Result
from .ops_shape import RESHAPING as SHAPE_RESHAPING, ZERO_D
from .ops_table import REGISTRY
from .tensor_names import TENSOR_ONLY

__all__ = ["FUNCTIONS", "METHODS", "REDUCTIONS", "RESHAPING", "Result", "TENSOR_FUNCTIONS", "TENSOR_ONLY", "TENSOR_RESULT", "TORCH_KEYWORDS"]

#: method name -> entry (tensor methods, in-place forms included)
METHODS: Dict[str, Op] = {**REGISTRY.inplace, **REGISTRY.methods}
#: ``torch.<name>`` -> entry (tensor functions)
FUNCTIONS: Dict[str, Op] = dict(REGISTRY.functions)
#: methods that give a tensor when called on a tensor
TENSOR_RESULT = frozenset(
    n for n, e in METHODS.items() if e.result not in (Result.NUMBER, Result.SIZE, Result.NONE, Result.OTHER)
)
#: ``torch.*`` functions whose result is a tensor
TENSOR_FUNCTIONS = frozenset(FUNCTIONS)
#: ops that reduce over ``dim`` (all dims when it is not given: a 0-d result)
REDUCTIONS = frozenset(
    "sum mean prod std var max min argmax argmin amax amin all any norm logsumexp median nansum count_nonzero "
    "aminmax var_mean std_mean special.logsumexp functional.norm kthvalue mode".split()
) | ZERO_D
#: ops whose result has another rank than their input (what it is depends on the arguments)
RESHAPING = frozenset(
    "view view_as reshape flatten squeeze unsqueeze expand broadcast_to expand_as repeat new_zeros mm bmm matmul cat concat "
    "stack where t permute transpose size tolist numpy item dim numel ndimension nelement unique functional.unique".split()
) | SHAPE_RESHAPING
#: keywords only torch's tensor methods take (numpy says axis/keepdims)
TORCH_KEYWORDS = frozenset({"dim", "keepdim"})


# T2G102's methods on a known tensor that no verified form took are refused, except these:
#: another rule's (devices: T2G801, ``backward``: T2G501, a statement's ``fill_``/``zero_``)
OTHER_RULES_METHODS = frozenset("to cpu cuda backward fill_ zero_".split())
#: an NDArray's own method with torch's meaning, without arguments
SAME_WITHOUT_ARGUMENTS = frozenset("detach squeeze clone".split())
#: ... and with one positional shape (MXNet's spelling, as a first pass wrote it)
SAME_WITH_ONE_SHAPE = frozenset("reshape transpose broadcast_to".split())
