"""Tensor ops translated by code in a rule of their own (see each rule's docs).

They are facts entries all the same: the closed world knows them, the
coverage page lists them, and their numeric tests live with their rules
(tests/test_numeric_tensor_ops.py, test_numeric_mappings.py, test_numeric_layers.py...).
"""

from __future__ import annotations

from typing import Tuple

from .ops import Form, Op, Result

M = Form.METHOD
F = Form.FUNCTION
B = Form.BOTH


def _custom(rule: str, forms: Form, result: Result, names: str) -> Tuple[Op, ...]:
    return tuple(Op(n, forms=forms, result=result, custom=rule) for n in names.split())


OPS: Tuple[Op, ...] = (
    # T2G101: creation
    *_custom(
        "T2G101",
        F,
        Result.CREATE,
        "tensor as_tensor ones zeros full eye arange rand randn randint from_numpy "
        "ones_like zeros_like full_like rand_like randn_like",
    ),
    # T2G102: methods with their own spellings in MXNet
    *_custom(
        "T2G102",
        M,
        Result.SAME,
        "view view_as reshape unsqueeze permute contiguous t expand broadcast_to fill_ zero_ clone detach "
        "squeeze transpose repeat to type type_as cpu cuda",
    ),
    *_custom("T2G102", M, Result.FLOAT, "float double half"),
    *_custom("T2G102", M, Result.INT, "long int"),
    *_custom("T2G102", M, Result.NUMBER, "item numel dim"),
    *_custom("T2G102", M, Result.SIZE, "size"),
    *_custom("T2G102", M, Result.OTHER, "numpy tolist"),
    *_custom("T2G102", M, Result.NONE, "backward"),
    # T2G102 (methods) and T2G103 (functions)
    *_custom("T2G102", M, Result.BOOL, "eq ne gt lt ge le"),
    *_custom("T2G103", F, Result.BOOL, "eq ne gt lt ge le"),
    *_custom("T2G102", M, Result.REDUCE, "sum prod"),
    *_custom("T2G103", F, Result.REDUCE, "sum"),
    *_custom("T2G102", M, Result.FLOAT, "mean std var"),
    *_custom("T2G103", F, Result.FLOAT, "mean std var"),
    *_custom("T2G102", M, Result.INT, "argmax argmin"),
    *_custom("T2G103", F, Result.INT, "argmax argmin"),
    *_custom("T2G102", M, Result.VALUES_INDICES, "max min"),
    *_custom("T2G103", F, Result.VALUES_INDICES, "max min"),
    *_custom("T2G102", M, Result.SAME, "clamp flatten softmax log_softmax"),
    *_custom("T2G103", F, Result.SAME, "clamp"),
    *_custom("T2G103", F, Result.PROMOTE, "cat concat stack mm bmm matmul where"),
    # T2G701: activations as torch.* functions
    *_custom("T2G701", F, Result.SAME, "softmax log_softmax"),
    # T2G704: torch.flatten
    *_custom("T2G704", F, Result.SAME, "flatten"),
)
