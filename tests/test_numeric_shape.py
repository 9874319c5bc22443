"""Shape and linear-algebra ops (facts/ops_shape.py) beyond the generated checks of test_tensor_api.py.

There each entry runs on a 3x4 matrix; here: other ranks (3-d batches, 1-d
vectors), sequences of tensors (hstack, einsum), square matrices (det,
inverse), sizes that do not divide, negative dims, int and bool dtypes,
torch's keyword names (``torch.split(tensor=...)``), and the cases where
torch's result would be empty (MXNet has no empty arrays: they raise).
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from numeric_helpers import assert_same, exec_both, to_numpy  # noqa: E402

from torch2gluon import Options, Severity, translate  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

VALUES_ONLY = Options(disable=("T2G105",))
RNG = np.random.RandomState(5)
A3 = RNG.randn(2, 3, 4).astype("float32")
V5 = RNG.randn(5).astype("float32")
M7 = RNG.randn(7, 3).astype("float32")
I3 = RNG.randint(-4, 5, size=(2, 3, 4)).astype("int64")
B3 = RNG.rand(2, 3, 4) > 0.5
SQ = (RNG.randn(3, 3) + 3 * np.eye(3)).astype("float32")
BSQ = (RNG.randn(2, 3, 3) + 3 * np.eye(3)).astype("float32")


def _same(t, m, what, zero_d=False):
    t, m = to_numpy(t), to_numpy(m)
    if isinstance(t, (tuple, list)):
        assert isinstance(m, (tuple, list)) and len(t) == len(m), (what, len(t), m)
        for i, (a, b) in enumerate(zip(t, m)):
            _same(a, b, f"item {i} of {what}", zero_d)
        return
    t, m = np.asarray(t), np.asarray(m)
    if zero_d and t.shape == () and m.shape == (1,):
        m = m.reshape(())  # MXNet's stand-in for torch's 0-d result
    assert_same(t, m, rtol=1e-4, atol=1e-5, what=what)


def _run(expr: str, zero_d: bool = False, **arrays: np.ndarray):
    lines = ["import torch"] + [f"{k} = torch.from_numpy({k.upper()}_)" for k in arrays] + [f"result = {expr}"]
    src = "\n".join(lines) + "\n"
    env = {f"{k.upper()}_": v.copy() for k, v in arrays.items()}
    import mxnet as mx

    mx_env = {f"{k.upper()}_": v.copy() for k, v in arrays.items()}
    # (torch.from_numpy becomes nd.array of the numpy array in the translation)
    both = exec_both(src, torch_env=env, mx_env=mx_env, options=VALUES_ONLY if zero_d else None)
    (t,), (m,) = both.values(["result"])
    assert not isinstance(m, mx.nd.NDArray)
    _same(t, m, f"{src}\n{both.translation.code}", zero_d)


PIECES = [
    "torch.chunk(a, 2, dim=2)", "a.chunk(3, -1)", "torch.chunk(a, 4, 2)", "a.chunk(5, dim=1)", "torch.chunk(v, 3)",
    "torch.split(a, 3, dim=2)", "torch.split(tensor=a, split_size_or_sections=[1, 3], dim=-1)",
    "torch.split(dim=1, split_size_or_sections=2, tensor=a)", "a.split(2, 1)", "a.split([2, 1], dim=1)", "torch.split(v, 2)",
    "torch.split(a, 4, dim=2)", "torch.tensor_split(a, 3, dim=2)", "a.tensor_split([1, 2], dim=1)", "torch.tensor_split(v, 2)",
    "torch.tensor_split(v, (1, -2))", "torch.unbind(a, dim=1)", "a.unbind(-1)", "torch.unbind(a)",
    "torch.narrow(a, 2, 1, 2)", "a.narrow(-1, -2, 2)", "torch.narrow(v, 0, 0, 5)", "a.narrow(1, torch.tensor(-2), 2)",
]


@pytest.mark.parametrize("expr", PIECES)
@pytest.mark.parametrize("dtype", ["float32", "int64", "bool"])
def test_pieces(expr, dtype):
    arrays = {"a": {"float32": A3, "int64": I3, "bool": B3}[dtype], "v": V5.astype(dtype) if dtype != "bool" else V5 > 0}
    _run(expr, **{k: v for k, v in arrays.items() if k in expr})


DIMS = [
    "torch.flip(a, [0, -1])", "a.flip(1, 2)", "torch.fliplr(a)", "a.flipud()", "torch.roll(a, 1)", "a.roll(-5, 2)",
    "torch.roll(a, (1, -1), (0, 2))", "torch.roll(a, shifts=7, dims=-1)",
    "torch.repeat_interleave(a, 2)", "a.repeat_interleave(2, dim=-1)", "torch.repeat_interleave(a, torch.tensor([1, 0, 3]), dim=1)",
    "torch.tile(a, (2,))", "a.tile(2, 1, 1, 2)", "a[0, 0].tile(2)", "torch.tile(a[0], dims=(3, 3, 2, 2))", "torch.movedim(a, 0, -1)", "a.moveaxis((0, 1), (2, 0))",
    "torch.swapaxes(a, 0, 2)", "a.swapdims(-1, 0)", "torch.transpose(a, 1, -1)", "torch.permute(a, (2, 0, 1))",
    "torch.permute(a, (-1, -3, -2))", "torch.squeeze(a[:, :1], 1)", "torch.squeeze(a, 1)", "torch.squeeze(a[:1, :, :1])",
    "torch.squeeze(a[:1], -3)", "torch.unsqueeze(a, -1)", "torch.unsqueeze(a, 1)", "a.unflatten(-1, (2, 2))",
    "torch.unflatten(a, 1, (3, 1))", "torch.reshape(a, (4, -1))", "torch.reshape(a, (-1,))", "a.reshape_as(a[0].reshape(4, 3).repeat(2, 1))",
    "a[0].expand_as(a)", "a[:, :1].expand_as(a)", "torch.t(a[0])", "torch.t(a[0, 0])",
]


@pytest.mark.parametrize("expr", DIMS)
@pytest.mark.parametrize("dtype", ["float32", "int64", "bool"])
def test_dims(expr, dtype):
    _run(expr, a={"float32": A3, "int64": I3, "bool": B3}[dtype])


STACKS = [
    "torch.hstack([a, a])", "torch.vstack(tensors=(a[0], a[1]))", "torch.hstack((v, v))", "torch.vstack([a[0], a[1]])", "torch.vstack((v, v))", "torch.row_stack((v, v))",
    "torch.dstack([a[0], a[1]])", "torch.dstack((v, v))", "torch.dstack([a, a])", "torch.column_stack((v, v))",
    "torch.column_stack([a[0], a[1]])",
]


@pytest.mark.parametrize("expr", STACKS)
@pytest.mark.parametrize("dtype", ["float32", "int64"])
def test_stacks(expr, dtype):
    _run(expr, a=A3.astype(dtype), v=V5.astype(dtype))


PRODUCTS = [
    "a.bmm(a.transpose(1, 2))", "a[0].mm(a[1].t())", "a.matmul(a.transpose(1, 2))", "a[0].matmul(a.transpose(1, 2))",
    "a.matmul(a[0].t())", "a.unsqueeze(0).matmul(a.unsqueeze(1).transpose(2, 3))", "v[:4].matmul(a.transpose(1, 2))", "a.matmul(v[:4])",
    "torch.mv(a[0], v[:4])", "a[1].mv(v[:4])", "torch.outer(v, v)", "v.ger(v[:3])", "torch.kron(a[0], a[1])", "torch.kron(a, v)",
    "torch.einsum('bij,bkj->bik', a, a)", "torch.einsum('ij,jk', [a[0], a[1].t()])", "torch.einsum('bij->bji', a)", "torch.einsum('ii->i', a[0, :, :3])",
    "torch.einsum('...j,...j->...', a, a)", "torch.cross(a[:, :, :3], a[:, :, 1:], dim=2)", "torch.linalg.cross(a[:, :, :3], a[:, :, 1:])",
    "torch.cross(a[:, :, :3], a[:1, :, 1:])", "a[:, :, :3].cross(a[:, :, 1:])",
]


@pytest.mark.parametrize("expr", PRODUCTS)
def test_products(expr):
    _run(expr, a=A3, v=V5)


@pytest.mark.parametrize("expr", ["a[0].matmul(a[0, 0])", "torch.dot(v, v)", "v.dot(tensor=v)", "torch.dot(input=v, tensor=v)", "torch.einsum('i,i', v, v)", "torch.trace(a[0])"])
def test_zero_d_products(expr):
    _run(expr, zero_d=True, a=A3, v=V5)


@pytest.mark.parametrize("dtype", ["float32", "int64"])
@pytest.mark.parametrize(
    "expr",
    [
        "torch.diag(v)", "torch.diag(v, 2)", "v.diag(-1)", "torch.diag(m)", "m.diag(1)", "torch.diag(m, diagonal=-6)",
        "torch.diagonal(a, 0, 1, 2)", "a.diagonal(offset=1, dim1=-1, dim2=0)", "torch.diagonal(m, -2)",
        "torch.diag_embed(m)", "m.diag_embed(1)", "torch.diag_embed(a, -1, 0, 2)", "torch.diag_embed(v, dim1=1, dim2=0)",
        "torch.tril(a)", "a.triu(1)", "torch.triu(a, diagonal=-1)", "torch.tril(m, -2)",
    ],
)
def test_diagonals(expr, dtype):
    _run(expr, a=A3.astype(dtype), v=V5.astype(dtype), m=M7.astype(dtype))


def test_trace_of_integers_is_int64():
    _run("torch.trace(a[0])", zero_d=True, a=A3.astype("int32"))
    _run("a[0].trace()", zero_d=True, a=I3)


@pytest.mark.parametrize(
    "expr",
    ["torch.det(s)", "s.det()", "torch.linalg.det(b)", "torch.inverse(s)", "b.inverse()", "torch.linalg.inv(b)", "torch.linalg.det(s.double())"],
)
def test_matrices(expr):
    _run(expr, zero_d=True, s=SQ, b=BSQ)


def test_in_place_triangle():
    src = "import torch\na = torch.from_numpy(A_)\na.tril_(-1)\nb = torch.from_numpy(B_)\nb.triu_()\n"
    env = {"A_": A3.copy(), "B_": A3.copy()}
    both = exec_both(src, torch_env=env, mx_env={k: v.copy() for k, v in env.items()})
    (ta, tb), (ma, mb) = both.values(["a", "b"])
    _same(ta, ma, both.translation.code)
    _same(tb, mb, both.translation.code)


def test_squeeze_keeps_a_dim_that_is_not_one():
    # MXNet's squeeze(axis=d) raises where d is not 1; torch leaves the tensor as it is
    _run("torch.squeeze(a, 0)", a=A3)
    _run("torch.squeeze(a, (0, 1))", a=A3[:, :1])


# -- what MXNet cannot give: empty results raise, other values are refused --------------------


@pytest.mark.parametrize(
    "expr",
    [
        "torch.split(a, s, dim=2)", "a.tensor_split(5, dim=1)", "torch.narrow(a, 0, 1, n)", "torch.diag(a[0], 5)",
        "torch.repeat_interleave(a, torch.tensor([0, 0]), dim=0)",
    ],
)
def test_empty_results_raise(expr):
    src = f"import torch\na = torch.from_numpy(A_)\ns = [0, 4]\nn = 0\nresult = {expr}\n"
    import torch

    ns = {"A_": A3.copy()}
    exec(compile(src, "<torch>", "exec"), ns)
    pieces = ns["result"] if isinstance(ns["result"], tuple) else (ns["result"],)
    assert any(0 in r.shape for r in pieces)  # torch: an empty piece
    r = translate(src)
    assert not [d for d in r.diagnostics if d.severity is Severity.ERROR], r.code
    with pytest.raises(ValueError, match="empty"):
        exec(compile(r.code, "<mx>", "exec"), {"A_": A3.copy()})
    del torch


@pytest.mark.parametrize(
    "src, words",
    [
        ("import torch\na = torch.ones(2, 3)\nb = a.chunk(2, out=a)\n", "out"),
        ("import torch\na = torch.ones(2, 3)\nb = torch.roll(a, *s)\n", "`*`"),
        ("import torch\na = torch.ones(2, 3)\nb = torch.split(a, [0, 2], 0)\n", "`split_size_or_sections` holding `0`"),
        ("import torch\na = torch.ones(2, 3)\nb = a.split(split_size=(1, 0, 1))\n", "empty tensor"),
        ("import torch\na = torch.ones(2, 3)\nb = torch.narrow(a, 0, 1, 0)\n", "`length=0`"),
        ("import torch\na = torch.ones(2, 3)\nb = a.repeat_interleave(0)\n", "empty tensor"),
        # (the analysis reads a 0-d result's rank from `input`: with `A=` T2G105 would not see it)
        ("import torch\na = torch.eye(3)\nb = torch.linalg.det(A=a)\n", "`A`"),
    ],
)
def test_refused(src, words):
    r = translate(src)
    errors = [d for d in r.diagnostics if d.severity is Severity.ERROR]
    assert errors and any(words in d.message for d in errors), r.diagnostics


# -- the methods of the other rule (T2G102) where nd's op differs ------------------------------


@pytest.mark.parametrize("expr", ["a.squeeze(0)", "a[:, :1].squeeze(1)", "a.squeeze(dim=-1)", "a.permute(0, -1, 1)", "a.permute(dims=(-1, 0, 1))"])
@pytest.mark.parametrize("dtype", ["float32", "int64"])
def test_methods_of_t2g102(expr, dtype):
    _run(expr, a=A3.astype(dtype))
