"""Indexing ops, in-place forms and elementwise math beyond the generated checks of test_tensor_api.py.

There each entry runs on a 3x4 matrix; here: negative dims, integer and boolean
dtypes, duplicate indices, broadcasting, Python numbers in torch.where, the sign
conventions of fmod/remainder/floor_divide, NaN and infinities, results that
would be empty (they raise at run time), the random fills (shape, dtype and
range only), in-place statements, and what is refused.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from numeric_helpers import assert_same, check_translation, exec_both, to_numpy  # noqa: E402

from torch2gluon import Options, Severity, translate  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

VALUES_ONLY = Options(disable=("T2G105",))  # 0-d operands kept at module level
NAN, INF = float("nan"), float("inf")
ENV = {"torch_env": {"NAN": NAN, "INF": INF}, "mx_env": {"NAN": NAN, "INF": INF}}

PRELUDE = (
    "import torch\n"
    "x = torch.tensor([[1.5, -2.0, 0.0, 3.25], [-0.5, 4.0, -7.5, 2.0], [6.0, -1.0, 0.25, -3.0]])\n"
    "i = torch.tensor([[7, -7, 0, 5], [-5, 9, -3, 2], [4, -1, 8, -6]])\n"
    "b = torch.tensor([[True, False, True, False], [False, False, True, True], [True, True, False, False]])\n"
    "d = torch.tensor([[3, 3, -3, -3]])\n"
    "f = torch.tensor([[3.0, -3.0, 2.5, -0.75]])\n"
    "n = torch.tensor([[NAN, INF, -INF, 1.0]])\n"
)


def _same(t, m, what):
    t, m = to_numpy(t), to_numpy(m)
    if isinstance(t, tuple):
        assert isinstance(m, tuple) and len(t) == len(m), what
        for k, (a, c) in enumerate(zip(t, m)):
            _same(a, c, f"item {k} of {what}")
        return
    t, m = np.asarray(t), np.asarray(m)
    if t.shape == () and m.shape == (1,):
        m = m.reshape(())  # a full reduction or a 0-d index: MXNet's stand-in for the 0-d result
    assert t.shape == m.shape and t.dtype == m.dtype, (what, t.shape, m.shape, t.dtype, m.dtype)
    if t.dtype.kind == "f":
        np.testing.assert_allclose(m, t, rtol=1e-5, atol=1e-6, equal_nan=True, err_msg=what)
    else:
        assert_same(t, m, what=what)


def _run(expr: str, setup: str = ""):
    src = PRELUDE + setup + f"result = {expr}\n"
    both = exec_both(src, options=VALUES_ONLY, **ENV)
    (t,), (m,) = both.values(["result"])
    _same(t, m, f"{expr}\n{both.translation.code}")


@pytest.mark.parametrize("expr", [
    # gather / scatter: negative dims, ints and booleans, a smaller index, duplicates
    "torch.gather(i, -1, torch.tensor([[3], [0], [1]]))", "b.gather(0, torch.tensor([[2, 0, 1, 1]]))",
    "x.gather(-2, torch.tensor([[2, 2], [0, 1]]))",
    "torch.scatter(i, -1, torch.tensor([[1], [3], [0]]), torch.full((3, 4), 99))",
    "x.scatter(0, torch.tensor([[2, 1, 0, 2]]), -9.5)", "x.scatter(1, torch.tensor([[0], [2], [3]]), value=7)",
    "torch.scatter_add(x, 1, torch.tensor([[0, 0, 0], [3, 3, 1], [2, 2, 2]]), torch.ones(3, 3))",
    "i.scatter_add(-2, torch.tensor([[0, 0, 0, 0], [0, 1, 0, 1]]), torch.ones(2, 4, dtype=torch.int64))",
    "x.scatter(1, torch.tensor([[1, 1], [0, 2], [3, 3]]), torch.ones(3, 2), reduce='add')",
    # index_*: negative dims, duplicates, ints
    "torch.index_select(i, -1, torch.tensor([3, 3, 0]))", "b.index_select(0, torch.tensor([2]))",
    "x.index_select(0, torch.tensor(1))",
    "torch.index_add(x, 0, torch.tensor([2, 2, 0]), torch.ones(3, 4), alpha=-0.5)",
    "i.index_add(-1, torch.tensor([1, 1]), torch.ones(3, 2, dtype=torch.int64))",
    "x.index_copy(-2, torch.tensor([2, 0]), torch.zeros(2, 4))",
    "i.index_fill(-1, torch.tensor([0, 3]), -1)", "x.index_fill(0, torch.tensor([1]), torch.tensor(2.5))",
    # masks: broadcast masks, integer tensors, a 0-d value tensor
    "x.masked_fill(b, -1.0)", "i.masked_fill(torch.tensor([True, False, False, True]), 0)",
    "x.masked_fill(x > 0, torch.tensor(9.0))", "torch.masked_select(i, b)", "x.masked_select(torch.tensor([False, True, False, True]))",
    "torch.masked_select(b, b)", "x.masked_scatter(b, torch.arange(100.0, 112.0))",
    "i.masked_scatter(torch.tensor([True, False, False, True]), torch.arange(12).reshape(3, 4) * 10)",
    # flat indices, take_along_dim with broadcasting
    "torch.take(i, torch.tensor([-1, 0, 11, -12]))", "x.take(torch.tensor(5))",
    "torch.take_along_dim(x, torch.tensor([[3, 0]]), 1)", "torch.take_along_dim(i, torch.tensor([[0], [2], [1]]), dim=-1)",
    "x.take_along_dim(torch.tensor([11, 0, 4]))", "torch.take_along_dim(x, torch.argsort(x, dim=1), dim=1)",
    # nonzero / argwhere / where
    "torch.nonzero(i)", "torch.nonzero(b, as_tuple=True)", "x.nonzero()", "torch.argwhere(torch.tensor([0, 3, 0, 1]))",
    "torch.nonzero(torch.tensor([0.0, 2.0]), as_tuple=True)",
    "torch.where(b)", "torch.where(x > 0, x, 0.0)", "torch.where(b, 1.0, 0.0)", "torch.where(b, 1, 0)",
    "torch.where(x > 0, i, 0.5)", "torch.where(b, i, -1)",
"torch.where(x.gt(0), x, -x)", "torch.where(b, i, i * 2)", "x.where(b, -x)", "i.where(x > 0, 2.5)",
    # fmod follows the dividend, remainder the divisor; floor_divide rounds down
    "torch.fmod(i, d)", "torch.remainder(i, d)", "torch.fmod(x, f)", "torch.remainder(x, f)", "x.fmod(-2)", "x.remainder(-2)",
    "i.fmod(2.5)", "torch.remainder(i, -4)", "torch.floor_divide(i, d)", "torch.floor_divide(x, f)", "i.floor_divide(-2)",
    "torch.div(i, d)", "torch.div(i, d, rounding_mode='floor')", "torch.div(i, d, rounding_mode='trunc')",
    "i.div(-4, rounding_mode='floor')", "x.div(f, rounding_mode='floor')", "torch.true_divide(i, 4)", "i.div(d.float())",
    "torch.div(x, i)",
    # logical and bitwise: bool results, bool and integer inputs
    "torch.logical_and(x, b)", "torch.logical_or(i, x)", "x.logical_xor(i)", "torch.logical_not(n)", "torch.logical_and(n, n)",
    "torch.logical_or(b, b).sum()", "torch.bitwise_and(i, d)", "torch.bitwise_or(b, b)", "b.bitwise_xor(b.logical_not())",
    "torch.bitwise_not(b)", "i.bitwise_not()", "torch.bitwise_xor(i, 5)", "torch.bitwise_and(b, 1)",
    # NaN and infinities
    "torch.isnan(n)", "torch.isinf(n)", "n.isfinite()", "torch.isnan(i)", "torch.isinf(b)", "torch.isnan(n).sum()",
    "torch.logaddexp(n, n)", "torch.logaddexp(torch.tensor([-INF, 0.0, 100.0]), torch.tensor([-INF, -INF, 100.0]))",
    "torch.logaddexp2(x, f)", "torch.xlogy(torch.tensor([0.0, 0.0, 2.0, 0.0]), torch.tensor([0.0, NAN, 3.0, INF]))",
    "torch.xlogy(i, 3.0)", "x.xlogy(f.abs())",
    # atan2 in all four quadrants, clip with tensor bounds, with ints
    "torch.atan2(x, f)", "torch.atan2(torch.tensor([1.0, 1.0, -1.0, -1.0]), torch.tensor([1.0, -1.0, 1.0, -1.0]))",
    "torch.arctan2(i, d)", "torch.clip(x, f, 2.0 * f.abs())", "x.clip(max=f)", "torch.clip(i, -2, 3)", "torch.clip(i, -0.5, 0.5)",
    "torch.addcmul(x, f, x, value=-2)", "x.addcdiv(x, f)", "torch.sgn(i)", "x.sgn()",
    # comparisons give bool, compared in the promoted dtype, broadcast
    "x.eq(f)", "torch.ne(i, 7)", "torch.gt(x, 0.5)", "i.le(x)", "x.greater(f)", "torch.less_equal(i, d)",
    "torch.not_equal(n, n)", "x.less(2)", "torch.greater_equal(b, 0.5)", "x.eq(f).sum()", "torch.lt(x, f).float().mean()",
])
def test_against_torch(expr):
    _run(expr)


@pytest.mark.parametrize("stmt", [
    "r.add_(x)", "r.sub_(x, alpha=2)", "r.mul_(f)", "r.div_(2)", "r.clamp_(-1, 1)", "r.clamp_(min=f)", "r.clip_(max=0.5)",
    "r.pow_(2)", "r.abs_()", "r.neg_()", "r.exp_()", "r.sqrt_()", "r.fill_(3)", "r.zero_()", "r.copy_(f)",
    "r.masked_fill_(b, -1)", "r.scatter_(1, torch.tensor([[0], [1], [2]]), 5.0)", "r.index_fill_(0, torch.tensor([2]), 0.5)",
    "r.index_add_(1, torch.tensor([0, 0]), torch.ones(3, 2))", "r.put_(torch.tensor([0, -1]), torch.tensor([8.0, 9.0]))",
    "r.put_(torch.tensor([0, 0]), torch.tensor([8.0, 9.0]), accumulate=True)", "r.masked_scatter_(b, torch.arange(12.0))",
    "r.fmod_(-2)", "r.remainder_(f)", "r.floor_divide_(f)", "r.xlogy_(f.abs())", "r.lerp_(f, 0.5)", "r.addcmul_(f, f)",
    "r.round_()", "r.sgn_()", "r.eq_(f)", "r.gt_(1.0)", "r.less_equal_(f)", "r.not_equal_(x)",
])
def test_in_place(stmt):
    src = PRELUDE + f"r = x.abs() + 0.5\n{stmt}\nresult = r\n"
    both = exec_both(src, options=VALUES_ONLY, **ENV)
    (t,), (m,) = both.values(["result"])
    _same(t, m, f"{stmt}\n{both.translation.code}")


def test_in_place_int_bitwise():
    src = PRELUDE + "r = i.clone()\nr.bitwise_and_(d)\nq = i.clone()\nq.bitwise_not_()\ne = i.clone()\ne.ge_(x)\n"
    both = exec_both(src, **ENV)
    t, m = both.values(["r", "q", "e"])
    for a, c in zip(t, m):
        _same(a, c, both.translation.code)


@pytest.mark.parametrize("stmt, low, high", [
    ("r.uniform_(-2.0, 3.0)", -2.0, 3.0), ("r.uniform_()", 0.0, 1.0), ("r.normal_(5.0, 0.001)", 4.9, 5.1),
    ("r.normal_(std=0.0)", 0.0, 0.0), ("r.bernoulli_(0.5)", 0.0, 1.0), ("r.bernoulli_(p=0.0)", 0.0, 0.0),
])
def test_random_fills(stmt, low, high):
    """Random: MXNet's stream is not torch's, so shape, dtype and range only."""
    for dtype in ("float32", "float64"):
        src = f"import torch\nr = torch.zeros(40, 50, dtype=torch.{dtype})\n{stmt}\n"
        both = exec_both(src)
        (t,), (m,) = both.values(["r"])
        assert t.shape == m.shape and t.dtype == m.dtype, both.translation.code
        assert m.min() >= low and m.max() <= high, both.translation.code
        if "bernoulli_(0.5)" in stmt:
            assert set(np.unique(m)) == {0.0, 1.0}


def test_gradients_flow():
    """gather, scatter_add, index_add and masked_fill are differentiable in their tensor inputs, as torch's."""
    import mxnet as mx
    import torch

    src = (
        "import torch\n"
        "def f(x, s):\n"
        "    a = torch.gather(x, 1, torch.tensor([[2, 2], [0, 1]])).sum() * 2\n"
        "    b = x.scatter_add(0, torch.tensor([[1, 0, 1]]), s).pow(2).sum()\n"
        "    c = x.index_add(1, torch.tensor([0, 0]), s.reshape(3, 1)[:2] * torch.ones(2, 2)).pow(2).sum()\n"
        "    return a + b + c + (x.masked_fill(x > 3, 0.0) * 3).sum()\n"
    )
    r = check_translation(src, VALUES_ONLY)
    x0 = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype="float32")
    s0 = np.array([[10.0, 20.0, 30.0]], dtype="float32")
    tns: dict = {}
    exec(compile(src, "<torch>", "exec"), tns)
    tx, ts = torch.tensor(x0, requires_grad=True), torch.tensor(s0, requires_grad=True)
    tns["f"](tx, ts).backward()
    mns: dict = {}
    exec(compile(r.code, "<translated>", "exec"), mns)
    mx_x, mx_s = mx.nd.array(x0), mx.nd.array(s0)
    mx_x.attach_grad()
    mx_s.attach_grad()
    with mx.autograd.record():
        out = mns["f"](mx_x, mx_s)
    out.backward()
    _same(tx.grad, mx_x.grad, r.code)
    _same(ts.grad, mx_s.grad, r.code)


@pytest.mark.parametrize("expr", ["torch.nonzero(torch.zeros(3))", "torch.masked_select(x, x > 100)", "torch.argwhere(torch.zeros(2, 2))"])
def test_empty_results_raise(expr):
    """MXNet 1.9's NDArray has no zero-size arrays: an empty result raises at run time (not a wrong value)."""
    r = check_translation(PRELUDE + f"result = {expr}\n", VALUES_ONLY)
    ns = {"NAN": NAN, "INF": INF}
    with pytest.raises(ValueError, match="MXNet 1.9's NDArray has no empty arrays"):
        exec(compile(r.code, "<translated>", "exec"), ns)


def test_builtins_rebound_by_the_script():
    """The helpers do not call min/max: scripts bind those names (`min, max = -0.5, 0.5`)."""
    _run("torch.clip(x, min, max)", setup="min, max = -0.5, 0.5\n")


@pytest.mark.parametrize("src, says", [
    ("r = x.scatter(1, torch.tensor([[0], [1], [2]]), f, reduce='multiply')\n", "scatter of products"),
    ("r = torch.scatter_reduce(x, 1, torch.tensor([[0], [1], [2]]), f, 'amax')\n", "no scatter with a reduction"),
    ("r = x.index_put((torch.tensor([0]),), torch.tensor(1.0))\n", "advanced indexing"),
    ("r = x.uniform_(0, 1) + 1\n", "in place inside an expression"),
    ("r = torch.gather(x, 1, torch.tensor([[0]]), out=x)\n", "out="),
    ("r = x.nonzero(as_tuple=t)\n", "not a literal"),
    ("x.uniform_(0, 1, generator=g)\n", "random state is global"),
])
def test_refused(src, says):
    r = translate(PRELUDE + "t = True\ng = None\n" + src)
    errors = [d for d in r.diagnostics if d.severity is Severity.ERROR]
    assert errors and any(says in d.message for d in errors), (r.code, [d.message for d in errors])


def test_comparison_result_is_summed_as_int64():
    """A boolean result summed: torch counts in int64 (MXNet's sum of a bool array is a bool)."""
    _run("torch.logical_and(x > 0, b).sum()")
    _run("torch.isfinite(n).sum(0)")


def test_in_place_result_assigned():
    """`y = x.op_(...)`: x changes and y is x; on a fresh tensor y is the result."""
    src = PRELUDE + (
        "r = x.clone()\n"
        "y = r.mul_(2)\n"
        "z = torch.zeros(3, 5).scatter_(1, torch.tensor([[0], [1], [4]]), 2.5)\n"
        "q = torch.ones(3, 4).index_fill_(1, torch.tensor([0, 2]), -1.0)\n"
    )
    both = exec_both(src, **ENV)
    t, m = both.values(["r", "y", "z", "q"])
    for a, c in zip(t, m):
        _same(a, c, both.translation.code)
    assert both.mx_ns["y"] is both.mx_ns["r"]
