"""Tensor creation and dtype casts as facts entries.

The ``torch.*`` creation functions are translated by the creation rule
(T2G101, ``rules/tensors.py``: they have no tensor argument for a template's
``X``); they are listed here so the closed world and the coverage page know
them. The methods that make a tensor from another (``x.new_ones(2, 3)``,
``x.new_tensor(data)``: the receiver's dtype unless ``dtype=`` is given) and
the casts ``bool()``/``byte()``/``char()`` are templates, checked against torch
by ``tests/test_tensor_api.py``; edge cases are in
``tests/test_numeric_create.py``.
"""

from __future__ import annotations

from typing import Dict, List, Tuple

from .ops import Form, Inputs, Op, P, Param, Result
from .ops_create_helpers import GRAD_HELPER, TENSOR_HELPER
from .runtime import CONTEXT_HELPER

F = Form.FUNCTION
M = Form.METHOD

#: torch dtypes MXNet 1.9's nd has no twin for, and why
REFUSED_DTYPES: Dict[str, str] = {
    "torch.int16": "MXNet 1.9 has no int16 arrays",
    "torch.short": "MXNet 1.9 has no int16 arrays",
    "torch.bfloat16": "MXNet 1.9's nd operators do not compute in bfloat16",
    "torch.complex64": "MXNet has no complex arrays",
    "torch.complex128": "MXNet has no complex arrays",
    "torch.cfloat": "MXNet has no complex arrays",
    "torch.cdouble": "MXNet has no complex arrays",
    "torch.uint16": "MXNet 1.9 has no uint16 arrays",
    "torch.uint32": "MXNet 1.9 has no uint32 arrays",
    "torch.uint64": "MXNet 1.9 has no uint64 arrays",
}

#: legacy constructors (``torch.FloatTensor(2, 3)``, ``torch.LongTensor([1, 2])``) -> their dtype
LEGACY_CONSTRUCTORS: Dict[str, str] = {
    "Tensor": "float32",
    "FloatTensor": "float32",
    "DoubleTensor": "float64",
    "HalfTensor": "float16",
    "LongTensor": "int64",
    "IntTensor": "int32",
    "CharTensor": "int8",
    "ByteTensor": "uint8",
    "BoolTensor": "bool",
}

#: creation functions that are refused, and why
REFUSED_CREATION: Dict[str, str] = {
    "ShortTensor": "MXNet 1.9 has no int16 arrays",
    "BFloat16Tensor": "MXNet 1.9's nd operators do not compute in bfloat16",
    "empty_strided": "MXNet's nd arrays have no strides",
    "sparse_coo_tensor": "MXNet 1.9's nd sparse arrays are CSR/row-sparse only (no COO)",
    "complex": "MXNet has no complex arrays",
    "polar": "MXNet has no complex arrays",
    "frombuffer": "not translated (reading a buffer's memory)",
    "asarray": "not translated yet (torch.as_tensor and torch.tensor are)",
}

_CREATED = ("empty", "empty_like", "randperm", "normal", "linspace", "logspace", "range", "randint_like")


def _new(name: str, params: Tuple[Param, ...], build: str, checks: Tuple[str, ...], note: str, data: bool = False) -> Op:
    """``x.new_*(...)``: ``build`` (over ``DT``, the dtype) in the receiver's dtype or ``dtype=``'s,
    on ``device=``'s context, recording gradients with ``requires_grad=True``."""
    keywords = (
        P("dtype", None, keyword_only=True),
        P("device", None, keyword_only=True),
        P("requires_grad", False, keyword_only=True, literal=True),
        P("pin_memory", False, keyword_only=True, literal=True),
    )
    alternatives: List[Tuple[frozenset, str]] = []
    for grad in ("requires_grad=True", None):
        for device in ("device=None", "device", None):
            for dtype in ("dtype", None):
                needs = frozenset(n for n in (grad, device, dtype) if n)
                t = build.replace("DT", "DTYPE(dtype)" if dtype else "X.dtype")
                if device == "device":
                    t = f"({t}).as_in_context(_t2g_context(device))"
                if grad:
                    t = f"_t2g_grad({t})"
                alternatives.append((needs, t))
    alternatives.sort(key=lambda a: -len(a[0]))
    default = alternatives.pop()
    assert not default[0]
    return Op(
        name,
        params=params + keywords,
        forms=M,
        result=Result.CREATE,
        template=default[1],
        alternatives=tuple(alternatives),
        helpers=(GRAD_HELPER, CONTEXT_HELPER) + ((TENSOR_HELPER,) if data else ()),
        refused_values=(("pin_memory=True", "pinned memory is CUDA's"),),
        refused_params=(("out", "writes into a given tensor"), ("layout", "MXNet's nd arrays are dense")),
        checks=checks,
        dtypes=("float32", "int64", "bool", "float64"),
        note=note,
    )


_SIZE = P("size", varargs=True)
_SIZE_CHECKS = ("2, 3", "(2, 3)", "[4]", "size=(1, 2)", "(2, 2), dtype=torch.int64", "3, 2, dtype=torch.float64",
                "(2,), dtype=torch.bool", "(1, 3), device='cpu'", "(2,), requires_grad=False", "(2,), device=None", "(2,), requires_grad=True")

OPS: Tuple[Op, ...] = (
    *(Op(n, forms=F, result=Result.CREATE, custom="T2G101") for n in _CREATED),
    *(Op(n, forms=F, result=Result.CREATE, custom="T2G101") for n in LEGACY_CONSTRUCTORS),
    *(Op(n, forms=F, result=Result.CREATE, refuse=why) for n, why in REFUSED_CREATION.items()),
    _new("new_zeros", (_SIZE,), "ND.zeros(size, dtype=DT)", _SIZE_CHECKS, "the receiver's dtype unless dtype= is given"),
    _new("new_ones", (_SIZE,), "ND.ones(size, dtype=DT)", _SIZE_CHECKS, "the receiver's dtype unless dtype= is given"),
    # torch's memory is uninitialised (zeros are one value it may hold): no values to compare, so
    # no generated checks; its shapes and dtypes are checked in tests/test_numeric_create.py
    _new("new_empty", (_SIZE,), "ND.zeros(size, dtype=DT)", (), "torch's memory is uninitialised: zeros"),
    _new(
        "new_full", (P("size"), P("fill_value")), "ND.full(size, fill_value, dtype=DT)",
        ("(2, 3), 1.5", "[4], 7", "(2,), 2.7, dtype=torch.int64", "size=(1, 2), fill_value=True", "(3,), -1, dtype=torch.float64"),
        "the fill value is cast to the receiver's dtype (or dtype='s), as torch casts it",
    ),
    _new(
        "new_tensor", (P("data"),), "_t2g_tensor(data, DT)",
        ("[1, 2, 3]", "[[0.5, 1.5], [2.0, 3.0]]", "[True, False]", "[1, 2], dtype=torch.int32", "[1.5, -2.7], dtype=torch.int64",
         "(1, 0), dtype=torch.bool", "[0.5], requires_grad=True"),
        "the receiver's dtype unless dtype= is given (whatever the data)", data=True,
    ),
    # casts (float/double/half/long/int, to(dtype), type(dtype) are T2G102's)
    Op("bool", forms=M, result=Result.BOOL, template='X.astype("bool")', checks=("",),
       dtypes=("float32", "int64", "bool", "float16"), refused_params=(("memory_format", "no MXNet twin"),)),
    Op("byte", forms=M, result=Result.INT, template='X.astype("uint8")', checks=("",), inputs=Inputs.POSITIVE,
       dtypes=("float32", "int64", "bool"), refused_params=(("memory_format", "no MXNet twin"),),
       note="negative values wrap around (as in torch on common platforms)"),
    Op("char", forms=M, result=Result.INT, template='X.astype("int8")', checks=("",),
       dtypes=("float32", "int64", "bool"), refused_params=(("memory_format", "no MXNet twin"),)),
    Op("short", forms=M, result=Result.INT, refuse="MXNet 1.9 has no int16 arrays"),
    Op("bfloat16", forms=M, result=Result.FLOAT, refuse="MXNet 1.9's nd operators do not compute in bfloat16"),
    Op("cfloat", forms=M, result=Result.OTHER, refuse="MXNet has no complex arrays"),
    Op("cdouble", forms=M, result=Result.OTHER, refuse="MXNet has no complex arrays"),
)
