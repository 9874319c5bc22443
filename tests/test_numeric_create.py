"""Tensor creation and dtype casts, against torch (values, shapes and dtypes).

The creation functions (T2G101) have no tensor argument, so test_tensor_api.py's
generated checks do not reach them: each call shape here (sizes as varargs, a
tuple, a list, a torch.Size, ``size=``; every dtype; data written out or known
only at run time) runs under torch and, translated, under MXNet. Random ones
compare shapes and dtypes (and ranges); ``torch.empty``'s values are whatever
memory holds, so only its shape and dtype are compared.
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

NO_0D = Options(disable=("T2G105",))
SETUP = (
    "import torch\nimport numpy as np\n"
    "x = torch.tensor([[1.5, -2.0, 0.25], [3.0, 0.0, -0.75]])\n"
    "xi = torch.tensor([[1, -2, 3], [0, 5, -6]])\n"
    "xb = torch.tensor([True, False, True])\n"
    "n = 4\nv = 1.5\nk = 3\nflag = True\n"
    "ints = [1, 2, 3]\nfloats = [[0.5, 1.0], [2.0, -3.0]]\nbools = [True, False]\n"
    "a64 = np.array([1.5, 2.5])\na32 = np.array([1, 2], dtype=np.int32)\n"
)
DTYPES = ["float16", "float32", "float64", "int8", "int32", "int64", "uint8", "bool"]


def _run(expr: str, what: str = "value"):
    src = SETUP + f"result = {expr}\n"
    both = exec_both(src, options=NO_0D)
    (t,), (m,) = both.values(["result"])
    t, m = np.asarray(t), np.asarray(m)
    info = f"{expr}\n--- translation ---\n{both.translation.code}"
    if t.shape == () and m.shape == (1,):
        m = m.reshape(())  # a number given to torch.tensor: MXNet's (1,) stand-in for the 0-d tensor
    if what == "value":
        if t.dtype.kind in "biu":
            assert t.shape == m.shape and t.dtype == m.dtype, info
            np.testing.assert_array_equal(m, t, err_msg=info)
        else:
            assert_same(t, m, rtol=1e-5, atol=1e-6, what=info)
    else:
        assert t.shape == m.shape and t.dtype == m.dtype, (info, t.shape, m.shape, t.dtype, m.dtype)
    return t, m


def _errors(src: str):
    r = translate("import torch\n" + src)
    return [d for d in r.diagnostics if d.severity is Severity.ERROR]


# -- torch.tensor and friends: torch's dtypes -------------------------------------------

@pytest.mark.parametrize("expr", [
    "torch.tensor([1, 2])", "torch.tensor([1.5, 2])", "torch.tensor([True, False])", "torch.tensor([[1, 2], [3, 4]])",
    "torch.tensor(3)", "torch.tensor(2.5)", "torch.tensor(True)", "torch.tensor([1.7, -1.7], dtype=torch.int64)",
    "torch.tensor(ints)", "torch.tensor(floats)", "torch.tensor(bools)", "torch.tensor(a64)", "torch.tensor(a32)",
    "torch.tensor(x.shape)", "torch.tensor(xi)", "torch.tensor(n)", "torch.tensor(v)", "torch.tensor(ints, dtype=torch.float64)",
    "torch.tensor(data=[1, 2], dtype=torch.int32)", "torch.tensor([1, 2], dtype=None)", "torch.tensor([1, 2], dtype=float)",
    "torch.tensor([1.5], dtype=int)", "torch.tensor([0, 2], dtype=bool)", "torch.tensor([[1, 2]], device='cpu')",
    "torch.tensor([1.0], requires_grad=True)", "torch.tensor([1, 2], device=torch.device('cpu'))",
    "torch.as_tensor([1, 2, 3])", "torch.as_tensor(a64)", "torch.as_tensor(ints, dtype=torch.float32)",
    "torch.as_tensor(data=[1, 2, 3], dtype=torch.int64, device='cpu')", "torch.from_numpy(a32)",
    "torch.tensor([])",
])
def test_tensor_dtypes(expr):
    _run(expr)


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_dtype(dtype):
    _run(f"torch.tensor([[0, 1], [2, 3]], dtype=torch.{dtype})")
    _run(f"torch.zeros(2, 3, dtype=torch.{dtype})")
    _run(f"torch.ones((2,), dtype=torch.{dtype})")
    _run(f"torch.full((2, 2), 1, dtype=torch.{dtype})")
    _run(f"torch.eye(3, dtype=torch.{dtype})")
    _run(f"torch.arange(5, dtype=torch.{dtype})" if dtype != "bool" else "torch.tensor([0, 1]).bool()")
    _run(f"xi.to(torch.{dtype})")
    _run(f"x.type(torch.{dtype})" if dtype != "uint8" else "x.abs().type(torch.uint8)")
    _run(f"torch.empty(2, dtype=torch.{dtype})", "shape")


# -- sizes in every spelling ---------------------------------------------------------------

@pytest.mark.parametrize("fn", ["zeros", "ones"])
@pytest.mark.parametrize("sizes", ["2, 3", "(2, 3)", "[2, 3]", "x.shape", "size=(2, 3)", "4", "n", "*x.shape", "torch.Size([2, 1])"])
def test_sizes(fn, sizes):
    _run(f"torch.{fn}({sizes})")


@pytest.mark.parametrize("expr", [
    "torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)", "torch.ones(2, device='cpu')",
    "torch.zeros(2, layout=torch.strided)", "torch.ones(2, requires_grad=flag)", "torch.rand(2, requires_grad=flag).shape",
    "torch.full_like(x + 1, 2)", "torch.full_like(xi * 2, 2.5, dtype=torch.float64)", "torch.Tensor(xi)", "torch.FloatTensor(x)",
    "torch.LongTensor(xi)", "torch.Size([2, 1])", "torch.zeros(torch.Size([2, 1]))", "torch.ones(3, pin_memory=False)", "torch.zeros([6, 6], dtype=torch.float64, requires_grad=False)",
])
def test_placement_keywords(expr):
    _run(expr)


def test_requires_grad_attaches_a_gradient():
    both = exec_both("import torch\nw = torch.ones(2, 3, requires_grad=True)\nz = torch.tensor([1.0, 2.0], requires_grad=True)\n")
    assert both.mx_ns["w"].grad is not None and both.mx_ns["z"].grad is not None


@pytest.mark.parametrize("expr", [
    "torch.empty(3)", "torch.empty(2, 3)", "torch.empty((2, 3), dtype=torch.int32)", "torch.empty(size=[1, 2])",
    "torch.empty_like(x)", "torch.empty_like(xi, dtype=torch.float64)", "torch.empty_like(x, memory_format=torch.preserve_format)",
    "torch.Tensor(2, 3)", "torch.FloatTensor(3)", "torch.LongTensor(2, 2)", "torch.DoubleTensor(x.shape)", "torch.Tensor()",
    "torch.IntTensor(n)", "x.new_empty((2, 3))", "xi.new_empty(3, dtype=torch.bool)",
])
def test_uninitialised_shapes_and_dtypes(expr):
    _run(expr, "shape")


# -- full, arange, range, linspace, logspace, eye --------------------------------------------

@pytest.mark.parametrize("expr", [
    "torch.full((2, 3), 7)", "torch.full((2,), True)", "torch.full((2,), 2.5)", "torch.full([2, 2], -1.25)",
    "torch.full(x.shape, n)", "torch.full((2,), v)", "torch.full((3,), flag)", "torch.full((2,), 2.5, dtype=torch.int64)",
    "torch.full(size=(1, 2), fill_value=3)", "torch.full((2,), k, dtype=torch.float16)",
])
def test_full(expr):
    _run(expr)


@pytest.mark.parametrize("expr", [
    "torch.arange(5)", "torch.arange(1, 10, 3)", "torch.arange(0, 1, 0.1)", "torch.arange(5, 0, -1)", "torch.arange(-1, 1, 0.3)",
    "torch.arange(n)", "torch.arange(1, n)", "torch.arange(0, v, 0.5)", "torch.arange(n, dtype=torch.float64)",
    "torch.arange(1, 2.5, 0.5, dtype=torch.float64)", "torch.arange(start=1, end=4)", "torch.arange(end=5)",
    "torch.arange(0, 10, step=2)", "torch.arange(10, 0, -3)", "torch.arange(5.0)", "torch.arange(x.shape[1])",
    "torch.range(1, 4)", "torch.range(0, 1, 0.25)", "torch.range(1, 4, dtype=torch.float64)", "torch.range(5, 1, -2)", "torch.range(0, 1, 0.1)", "torch.range(-1, 1, 0.2)",
])
def test_arange_and_range(expr):
    _run(expr)


@pytest.mark.parametrize("expr", [
    "torch.linspace(3, 10, 5)", "torch.linspace(0, 1, 1)", "torch.linspace(-1, 1, 5, dtype=torch.int32)",
    "torch.linspace(0, 10, 4, dtype=torch.int64)", "torch.linspace(start=0, end=1, steps=3)", "torch.linspace(-2.5, 2.5, 11)",
    "torch.linspace(0, 1, 7, dtype=torch.float64)", "torch.linspace(10, 0, n)",
    "torch.logspace(0, 3, 4)", "torch.logspace(0, 2, 3, dtype=torch.int64)", "torch.logspace(0, 1, 3, base=2)",
    "torch.logspace(0, 1, 3, dtype=torch.int64)", "torch.logspace(start=-1, end=1, steps=5, base=3.0)",
    "torch.logspace(3, 10, 5, dtype=torch.float64)",
    "torch.eye(3)", "torch.eye(3, 5)", "torch.eye(2, dtype=torch.int64)", "torch.eye(n=3, m=2)", "torch.eye(3, dtype=torch.bool)",
    "torch.eye(n)", "torch.eye(3, 5, layout=torch.strided, requires_grad=True)",
])
def test_linspace_logspace_eye(expr):
    _run(expr)


# -- *_like, legacy constructors, new_* ---------------------------------------------------------

@pytest.mark.parametrize("expr", [
    "torch.zeros_like(x)", "torch.ones_like(xi)", "torch.ones_like(x, dtype=torch.int32)", "torch.zeros_like(xb)",
    "torch.full_like(xi, 2.7)", "torch.full_like(xi, 2.7, dtype=torch.float64)", "torch.full_like(x, 3)",
    "torch.full_like(xb, 0)", "torch.zeros_like(x, dtype=torch.bool)", "torch.ones_like(input=x)",
])
def test_like(expr):
    _run(expr)


@pytest.mark.parametrize("expr", [
    "torch.FloatTensor([1, 2])", "torch.LongTensor([1.5, 2.7])", "torch.IntTensor([[1, 2]])", "torch.BoolTensor([1, 0])",
    "torch.ByteTensor([1, 255])", "torch.CharTensor([-1, 2])", "torch.DoubleTensor([[1, 2], [3, 4]])", "torch.HalfTensor([0.5])",
    "torch.Tensor([1, 2, 3])", "torch.Tensor((2, 3))", "torch.LongTensor(ints)", "torch.FloatTensor(floats)",
    "torch.LongTensor(a32)", "torch.Tensor(a64)",
])
def test_legacy_constructors_of_data(expr):
    _run(expr)


@pytest.mark.parametrize("expr", [
    "x.new_tensor(3)", "xi.new_tensor([1.5, 2.5])", "xb.new_full((2,), 5)", "x.new_ones(n)", "xi.new_zeros(x.shape)",
    "x.new_full((2, 2), k)", "xi.new_tensor(floats, dtype=torch.float64)",
])
def test_new(expr):
    _run(expr)


@pytest.mark.parametrize("expr", [
    "x.bool()", "xi.bool()", "x.byte()", "xi.char()", "xb.int()", "x.long()", "xi.double()", "xi.half()", "xb.float()",
    "x.to(torch.int8)", "x.to(dtype=torch.float64)", "xi.type(torch.float16)", "x.type(torch.int8, True)",
    "xi.type(dtype=torch.float64, non_blocking=True)", "x.type(non_blocking=False, dtype=torch.int32)", "xi.type('torch.FloatTensor')",
    "x.type('torch.LongTensor')", "x.type(torch.FloatTensor)", "x.int()", "xb.long()", "(x > 0).byte()",
])
def test_casts(expr):
    _run(expr)


# -- random: shapes and dtypes (and ranges) ---------------------------------------------------

@pytest.mark.parametrize("expr", [
    "torch.rand(2, 3)", "torch.rand((2, 3))", "torch.rand([2, 3])", "torch.rand(size=(2, 3))", "torch.rand(2, 3, dtype=torch.float64)",
    "torch.randn(x.shape)", "torch.randn(4)", "torch.randn(2, 2, dtype=torch.float16)", "torch.rand(n)",
    "torch.randint(0, 10, (8,))", "torch.randint(5, (2, 2), dtype=torch.int32)", "torch.randint(3, 10, (2, 2), dtype=torch.float32)",
    "torch.randint(low=1, high=4, size=(3,))", "torch.randint(high=4, size=[2, 2])", "torch.randint(2, (3,), dtype=torch.uint8)",
    "torch.randperm(5)", "torch.randperm(n, dtype=torch.int32)", "torch.randperm(6, dtype=torch.float64)",
    "torch.normal(0., 1., size=(2, 3))", "torch.normal(2, 3, (4,))", "torch.normal(x, 1.0)", "torch.normal(x, x.abs())",
    "torch.normal(torch.arange(1., 11.), torch.arange(1, 11))", "torch.normal(0.0, x.abs())",
    "torch.rand_like(x)", "torch.randn_like(x, dtype=torch.float64)", "torch.randint_like(x, 0, 3)", "torch.randint_like(xi, 5)",
    "torch.randint_like(x, low=2, high=5)", "torch.randint_like(x * 2, 3)", "torch.randint_like(xi + 1, 1, high=4)",
    "torch.randint(3, 10, size=(2, 2))", "torch.randint(3, high=10, size=(2,))", "torch.randint(10, size=(2,))", "torch.rand_like(x, requires_grad=True)", "torch.randn_like(x, memory_format=torch.preserve_format)",
])
def test_random_shapes_and_dtypes(expr):
    t, m = _run(expr, "shape")
    if "randint" in expr:
        assert m.min() >= (2 if "low=2" in expr or "low=1" in expr and False else 0) and m.max() <= t.max() + 10
    if "randperm" in expr:
        np.testing.assert_array_equal(np.sort(m), np.sort(t))  # a permutation of 0..n-1


# -- refusals: an error diagnostic, never a silent translation -------------------------------------

@pytest.mark.parametrize("src", [
    "y = torch.ones(3, dtype=torch.int16)", "y = torch.tensor([1, 2], dtype=torch.bfloat16)", "y = torch.zeros(2, dtype=torch.complex64)",
    "y = torch.zeros(0, 3)", "y = torch.ones((2, 0))", "y = torch.ShortTensor(2)", "o = torch.ones(2)\ny = torch.zeros(2, out=o)",
    "g = torch.Generator()\ny = torch.rand(2, generator=g)", "y = torch.linspace(0, 1, 0)", "x = torch.ones(2)\ny = x.short()",
"y = torch.arange(5, 0)",
    "y = torch.rand(2, dtype=torch.int64)", "y = torch.empty(2, 3, memory_format=torch.channels_last)",
    "y = torch.ones(2, layout=torch.sparse_coo)", "y = torch.randperm(0)", "y = torch.normal(0.0, 1.0)",
    "y = torch.arange(0, 1, 0)", "x = torch.ones(2)\ny = x.bfloat16()", "y = torch.full((0,), 1.0)",
])
def test_refused(src):
    assert _errors(src), translate("import torch\n" + src).code


def test_legacy_constructor_of_a_tensor_is_that_tensor():
    both = exec_both(SETUP + "y = torch.Tensor(xi)\nz = torch.FloatTensor(x)\n")
    assert both.mx_ns["y"] is both.mx_ns["xi"] and both.mx_ns["z"] is both.mx_ns["x"]  # as torch's share memory


def test_legacy_constructor_of_another_dtype_fails_as_in_torch():
    code = translate(SETUP + "z = torch.LongTensor(x)\n").code
    with pytest.raises(TypeError):
        exec(compile(code, "<translated>", "exec"), {})


def test_tensor_annotations():
    src = "import torch\ndef f(x: torch.Tensor, y: torch.FloatTensor) -> torch.Tensor:\n    return x\n"
    r = translate(src)
    assert not _errors(src) and "torch" not in r.code.replace("torch2gluon", ""), r.code
    assert "nd.NDArray" in r.code


def test_run_time_dtype_helpers_are_torch_s():
    """The helpers decide at run time what torch decides: int64 for integers, float32 for Python floats."""
    src = SETUP + "def f(data, end, value):\n    return torch.tensor(data), torch.arange(end), torch.full((2,), value)\n" \
        "r1 = f([1, 2], 3, 4)\nr2 = f([1.5], 2.5, 0.5)\nr3 = f([True], 1, False)\n"
    both = exec_both(src)
    for name in ("r1", "r2", "r3"):
        for t, m in zip(to_numpy(both.torch_ns[name]), to_numpy(both.mx_ns[name])):
            assert_same(t, m, what=f"{name}\n{both.translation.code}")
