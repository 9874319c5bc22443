"""Reductions, sorting and cumulative ops beyond the generated checks of test_tensor_api.py.

There each entry runs on a 3x4 matrix without NaN; here: gradients (torch's
amax shares its gradient among ties, its norm's gradient at 0 is 0...), NaN and
infinities (torch sorts NaN above everything), long rows with many equal values
(the order of equal values in sort, mode, median, topk), torch's overloads
(``var_mean(x, unbiased)``), and what the analysis and the diagnostics say.
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

VALUES_ONLY = Options(disable=("T2G105",))  # 0-d results compared by value (T2G105 is tested below)

NAN, INF = float("nan"), float("inf")
RNG = np.random.RandomState(11)
TIES = RNG.randint(0, 4, size=(3, 200)).astype("float32")  # long rows, many equal values
# one NaN, no two values equal: for the ops whose order of equal values is torch's choice (they warn)
ONE_NAN = np.array([[1.0, NAN, 3.0, -INF, 0.25, 0.5, INF, 2.0], [2.5, 2.0, -1.0, 0.0, 7.0, -1.5, 3.0, 5.0]], dtype="float32")
WITH_NAN = np.array([[1.0, NAN, 3.0, -INF, NAN, 0.5, INF, 3.0], [2.0, 2.0, -1.0, 0.0, 7.0, -1.0, 2.0, 5.0]], dtype="float32")
POS = RNG.uniform(0.5, 2.0, size=(3, 5)).astype("float32")


def _same(t, m, what):
    t, m = to_numpy(t), to_numpy(m)
    if isinstance(t, tuple):
        assert isinstance(m, tuple) and len(t) == len(m), what
        for i, (a, b) in enumerate(zip(t, m)):
            _same(a, b, f"item {i} of {what}")
        return
    t, m = np.asarray(t), np.asarray(m)
    if t.shape == () and m.shape == (1,):
        m = m.reshape(())  # a full reduction: MXNet's stand-in for the 0-d result
    if t.dtype.kind == "f":
        assert t.shape == m.shape and t.dtype == m.dtype, (what, t.shape, m.shape, t.dtype, m.dtype)
        np.testing.assert_allclose(m, t, rtol=1e-5, atol=1e-6, equal_nan=True, err_msg=what)
    else:
        assert_same(t, m, what=what)


def _run(expr: str, x: np.ndarray):
    src = f"import torch\nx = torch.from_numpy(X)\nresult = {expr}\n"
    both = exec_both(src, torch_env={"X": x.copy()}, mx_env={"X": x.copy()}, options=VALUES_ONLY)
    (t,), (m,) = both.values(["result"])
    _same(t, m, f"{expr}\n{both.translation.code}")


# -- NaN, infinities and long rows of equal values -------------------------------------

@pytest.mark.parametrize("expr", [
    "torch.sort(x)", "torch.sort(x, descending=True)", "x.sort(stable=True)", "x.sort(dim=1, descending=True, stable=True)",
    "torch.argsort(x)", "x.argsort(descending=True)", "torch.argsort(x, stable=True)", "x.msort()",
    "torch.median(x, 1)", "x.median()", "torch.median(x, 0, True)", "torch.mode(x)",
    "torch.cummax(x, 1)", "torch.cummin(x, 1)", "x.cummax(0)", "torch.cumsum(x, 1)", "torch.cumprod(x, 1)",
    "torch.amax(x, 1)", "x.amin(1)", "torch.aminmax(x, dim=1)", "torch.logsumexp(x, 1)", "x.nansum(1)", "torch.nansum(x)",
    "torch.unique(x)", "torch.unique(x, return_inverse=True, return_counts=True)", "x.all(1)", "x.any()",
    "torch.count_nonzero(x, 1)", "x.norm(dim=1)", "x.norm(float('inf'), 1)",
])
def test_nan_and_infinities(expr):
    _run(expr, WITH_NAN)


@pytest.mark.parametrize("expr", ["torch.topk(x, 3)", "x.topk(2, largest=False)", "torch.kthvalue(x, 2)", "x.kthvalue(7, 1)",
                                  "x.kthvalue(8, 1)", "torch.topk(x, 1, 0)"])
def test_nan_without_equal_values(expr):
    _run(expr, ONE_NAN)


@pytest.mark.parametrize("expr", [
    "torch.sort(x)", "torch.sort(x, descending=True)", "torch.sort(x, stable=True)", "x.sort(descending=True, stable=True)",
    "torch.argsort(x, dim=1)", "x.argsort(1, True)", "torch.mode(x)", "torch.mode(x, 0)", "torch.median(x, 1)",
    "torch.topk(x, 3)", "x.topk(2, largest=False)", "torch.sort(x.t(), 0)", "torch.unique(x, dim=1, return_counts=True)",
    "torch.cummax(x, 1)", "torch.cummin(x, -1)",
])
def test_long_rows_with_equal_values(expr):
    """torch's sort and MXNet's argsort order equal values alike (both std::sort); topk with k * 64 <= n too."""
    _run(expr, TIES)


def test_long_rows_integer_and_large():
    big = RNG.randint(-3, 3, size=(2, 5000)).astype("int64")
    _run("torch.sort(x, 1)", big)
    _run("torch.argsort(x, descending=True)", big)
    _run("torch.sort(x, stable=True, descending=True)", big)
    _run("torch.mode(x)", big)
    _run("torch.median(x, 1)", big)


def test_unique_nan_and_bool():
    _run("torch.unique(x, return_inverse=True, return_counts=True)", np.array([2.0, NAN, 1.0, NAN, 2.0], dtype="float32"))
    _run("torch.unique(x, return_inverse=True)", np.array([NAN, NAN], dtype="float32"))
    _run("torch.unique(x, return_inverse=True, return_counts=True)", np.array([[True, False], [True, True]]))


# -- torch's overloads and literal arguments --------------------------------------------

@pytest.mark.parametrize("expr", [
    "torch.var_mean(x, False)", "torch.std_mean(x, True)", "torch.std_mean(x, 1, False, True)",
    "torch.var_mean(x, dim=1, correction=2)", "torch.std_mean(x, unbiased=False)",
    "torch.norm(x, p='fro', dim=(0, 1))", "torch.norm(x, 1.5, 1)", "x.norm(-float('inf'), 0)", "x.norm(p=0)",
    "torch.special.logsumexp(x, 1)", "torch.functional.norm(x)", "torch.functional.unique(x, return_counts=True)",
])
def test_overloads(expr):
    _run(expr, POS)


# -- gradients ------------------------------------------------------------------------

GRADS = [
    ("torch.amax(x, 1)", None), ("x.amax()", None), ("torch.amin(x, dim=(0, 1), keepdim=True)", None),
    ("torch.aminmax(x, dim=0)[1]", None), ("torch.norm(x, dim=1)", None), ("x.norm(float('inf'), 1)", None),
    ("x.norm(1)", None), ("x.norm(3, 0)", None), ("torch.logsumexp(x, 1)", None), ("torch.sort(x, 1)[0]", None),
    ("torch.sort(x, dim=0, descending=True, stable=True).values", None), ("x.topk(2)[0]", "distinct"),
    ("torch.median(x, 1)[0]", None), ("x.median()", None), ("torch.kthvalue(x, 2, 1)[0]", "distinct"), ("torch.mode(x, 1)[0]", None),
    ("torch.cummax(x, 1)[0]", None), ("torch.cummin(x, 0).values", None), ("torch.cumprod(x, 1)", None),
    ("torch.cumsum(x, 0)", None), ("torch.var_mean(x, 1)[0]", None), ("torch.std_mean(x, 1)[1]", None),
    ("x.nansum(1)", None), ("x.msort()", None),
]
# ties (a max reached twice, zeros) and a zero row; without ties for the ops whose order of
# equal values is torch's choice (their entries warn)
GRAD_INPUT = np.array([[1.0, 3.0, 3.0, 0.0], [0.0, 0.0, 0.0, 0.0], [2.0, -1.0, 0.0, 2.0]], dtype="float32")
DISTINCT = np.array([[1.0, 3.0, 2.5, 0.0], [0.5, -2.0, 4.0, 1.5], [2.0, -1.0, 0.25, 2.25]], dtype="float32")


@pytest.mark.parametrize("expr, inputs", GRADS, ids=[g for g, _ in GRADS])
def test_gradient_matches_torch(expr, inputs):
    import mxnet as mx
    import torch

    src = f"import torch\ndef f(x):\n    return {expr}\n"
    r = check_translation(src, VALUES_ONLY)
    ns: dict = {}
    exec(compile(r.code, "<translated>", "exec"), ns)
    tns: dict = {}
    exec(compile(src, "<torch>", "exec"), tns)
    data = DISTINCT if inputs == "distinct" else GRAD_INPUT
    xt = torch.from_numpy(data.copy()).requires_grad_()
    yt = tns["f"](xt)
    weights = np.random.RandomState(3).uniform(0.5, 1.5, size=tuple(yt.shape) or (1,)).astype("float32")
    (yt * torch.from_numpy(weights.reshape(tuple(yt.shape)))).sum().backward()
    xm = mx.nd.array(data)
    xm.attach_grad()
    with mx.autograd.record():
        ym = ns["f"](xm)
        total = (ym * mx.nd.array(weights.reshape(ym.shape))).sum()
    total.backward()
    _same(yt.detach(), ym, f"value of {expr}\n{r.code}")
    np.testing.assert_allclose(xm.grad.asnumpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6, err_msg=f"gradient of {expr}\n{r.code}")


# -- what the analysis and the diagnostics say ----------------------------------------

def _errors(source: str):
    return [d for d in translate(source).diagnostics if d.severity is Severity.ERROR]


@pytest.mark.parametrize("expr, zero_d", [
    ("x.amax()", True), ("torch.amax(x, 1)", False), ("torch.amax(x, (0, 1))", True), ("x.norm(2)", True),
    ("x.norm(2, 1)", False), ("torch.median(x)", True), ("torch.aminmax(x)[0]", True), ("torch.aminmax(x, dim=1)[0]", False),
    ("torch.var_mean(x)[1]", True), ("torch.logsumexp(x, (0, 1))", True), ("x.count_nonzero()", True), ("x.all()", True),
    ("torch.aminmax(x)", True), ("torch.var_mean(x, dim=None)", True), ("x.count_nonzero(dim=None)", True),
    ("torch.std_mean(x, 1)", False), ("x[0].kthvalue(2)", True), ("x.kthvalue(2)", False), ("torch.mode(x[0])", True),
    ("torch.median(x[0], 0)", True), ("torch.median(x, 0)", False), ("torch.aminmax(input=x)", True),
    ("torch.amax(input=x, dim=1)", False),
])
def test_zero_d_results_kept_at_module_level_are_reported(expr, zero_d):
    source = f"import torch\nx = torch.ones(2, 3)\nr = {expr}\n"
    rules = {d.rule for d in _errors(source)}
    assert rules == ({"T2G105"} if zero_d else set()), (expr, rules, translate(source).code)


def test_unpacked_zero_d_pairs():
    """(min, max) of a full reduction unpacked: names at module level are reported, local ones where they are used."""
    top = "import torch\nx = torch.ones(2, 3)\nlo, hi = torch.aminmax(x)\n"
    assert {d.rule for d in _errors(top)} == {"T2G105"}
    local = "import torch\ndef f(x):\n    lo, hi = torch.aminmax(x)\n    return (hi - lo).item()\nf(torch.ones(2, 3))\n"
    assert not _errors(local), translate(local).code


def test_named_tuple_fields():
    _run("torch.aminmax(x).max", POS)
    _run("x.aminmax(dim=0).min", POS)
    _run("torch.sort(x, 1).indices", POS)
    _run("x.topk(2).values", POS)


def test_unpacking_keeps_what_each_item_is():
    src = (
        "import torch\nx = torch.ones(3, 4)\nlo, hi = torch.aminmax(x, dim=1)\nv, m = torch.var_mean(x, 1)\n"
        "u, inv, cnt = torch.unique(torch.tensor([3, 1, 3]), return_inverse=True, return_counts=True)\n"
        "a = lo / 2\nb = inv / 2\nc = cnt.float()\n"
    )
    both = exec_both(src)
    (a, b, c), (am, bm, cm) = both.values(["a", "b", "c"])
    for t, m in ((a, am), (b, bm), (c, cm)):
        assert_same(t, m)


def test_ties_warning_and_refusals():
    r = translate("import torch\nx = torch.ones(2, 3)\nv, i = x.topk(2)\nw, j = torch.kthvalue(x, 1)\n")
    warnings = [d for d in r.diagnostics if d.severity is Severity.WARNING]
    assert len(warnings) == 2 and all("equal values" in d.message for d in warnings), r.diagnostics
    assert not _errors("import torch\nx = torch.ones(2, 3)\nv, i = x.topk(2, sorted=True)\n")
    for call, why in (("x.topk(2, sorted=False)", "sorted=False"), ("x.topk(2, 1, True, False)", "sorted=False"),
                      ("x.norm(dtype=torch.float64)", "dtype"), ("torch.cumsum(x)", "needs `dim`")):
        errors = _errors(f"import torch\nx = torch.ones(2, 3)\ny = {call}\n")
        assert errors and why in errors[0].message and errors[0].rule == "T2G104", (call, errors)
