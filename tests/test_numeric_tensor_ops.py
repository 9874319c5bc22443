"""Tensor methods (T2G102) and torch tensor functions (T2G103), checked
numerically: each snippet runs under torch, its translation under MXNet, and
values, shapes and dtypes are compared. Where an API has arguments it is
called positionally, with keywords, with shuffled keywords and with defaults
left out. The whole-script fixture ``fixtures/tensor_ops.py`` runs in two
subprocesses and must print the same numbers line by line.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from torch2gluon import Options  # noqa: E402
from numeric_helpers import assert_same, check_translation, run_both
from torch2gluon import Severity, translate

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
ROOT = Path(__file__).resolve().parents[1]

X = np.array([[1.0, -2.0, 3.0], [4.0, 5.5, -6.0]], dtype=np.float32)
Y = np.array([[0.5, 1.0, 2.0], [3.0, -1.0, 0.25]], dtype=np.float32)
A3 = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
LAB = np.array([2, 1], dtype=np.int64)
LAB32 = np.array([2, 0], dtype=np.int32)

PRELUDE = (
    "import torch\n"
    "x = torch.from_numpy(X)\ny = torch.from_numpy(Y)\na3 = torch.from_numpy(A3)\n"
    "lab = torch.from_numpy(LAB)\nlab32 = torch.from_numpy(LAB32)\n"
)
ENV = {"X": X, "Y": Y, "A3": A3, "LAB": LAB, "LAB32": LAB32}


# The values are compared here; that a 0-d result kept at module level is
# reported (its shape is (1,) in MXNet) is T2G105's, tested with that rule.
VALUES_ONLY = Options(disable=("T2G105",))


def _run(expr: str):
    src = PRELUDE + f"r = {expr}\n"
    (t,), (m,) = run_both(src, ["r"], torch_env=dict(ENV), mx_env=dict(ENV), options=VALUES_ONLY)
    return t, m


# (expression, compare dtype?) -- grouped per API, four call shapes where there are arguments
CASES = [
    # reductions: positional, keyword, shuffled, defaults
    ("x.sum(1)", True), ("x.sum(1, True)", True), ("x.sum(dim=1, keepdim=True)", True),
    ("x.sum(keepdim=True, dim=0)", True), ("x.sum(dim=(0, 1))", True),
    ("x.mean(0)", True), ("x.mean(dim=0, keepdim=False)", True), ("x.mean(keepdim=True, dim=1)", True),
    ("x.prod(1)", True), ("x.prod(dim=1, keepdim=True)", True),
    ("torch.sum(x, 1)", True), ("torch.sum(x, dim=1, keepdim=True)", True),
    ("torch.sum(keepdim=True, input=x, dim=0)", True), ("torch.mean(x, 0, True)", True),
    ("torch.mean(input=x, dim=1)", True),
    # argmax/argmin: int64 indices as in torch
    ("x.argmax(1)", True), ("x.argmax(dim=1, keepdim=True)", True), ("x.argmax(keepdim=False, dim=0)", True),
    ("x.argmin(1)", True), ("torch.argmax(x, 1)", True), ("torch.argmax(x, dim=0, keepdim=True)", True),
    ("torch.argmin(dim=1, input=x)", True),
    # shapes
    ("x.view(3, 2)", True), ("x.view((3, 2))", True), ("x.view(-1)", True), ("x.view_as(y.t())", True),
    ("x.view_as(other=y)", True),
    ("x.unsqueeze(0)", True), ("x.unsqueeze(dim=1)", True), ("x.unsqueeze(-1)", True),
    ("x.unsqueeze(1).squeeze(1)", True), ("x.unsqueeze(1).squeeze(dim=1)", True), ("x.unsqueeze(0).squeeze()", True),
    ("x.size()", False), ("x.size(1)", False), ("x.size(dim=0)", False), ("x.numel()", False), ("x.dim()", False),
    ("a3.permute(2, 0, 1)", True), ("a3.permute((2, 0, 1))", True), ("a3.permute(dims=(1, 2, 0))", True),
    ("a3.transpose(0, 2)", True), ("a3.transpose(dim0=1, dim1=2)", True), ("a3.transpose(dim1=0, dim0=2)", True),
    ("a3.flatten()", True), ("a3.flatten(1)", True), ("a3.flatten(start_dim=1)", True), ("a3.flatten(0, -1)", True),
    ("x.t()", True), ("x.repeat(2, 1)", True), ("x.repeat((1, 2))", True), ("x.unsqueeze(0).repeat(2, 1, 1)", True),
    ("torch.ones(2, 1).expand(2, 3)", True), ("torch.ones(2, 1).expand((2, 3))", True),
    ("torch.ones(1, 3).expand(size=(4, 3))", True),
    ("x.unsqueeze(1).broadcast_to((2, 4, 3))", True), ("lab.type_as(x)", True), ("x.type_as(other=lab)", True),
    ("(lab.type_as(x) / 2).sum()", True), ("x.broadcast_to(size=(5, 2, 3))", True),
    # dtypes and copies
    ("x.float()", True), ("x.double()", True), ("x.long()", True), ("x.half()", True),
    ("x.to(torch.float64)", True), ("x.to(dtype=torch.int64)", True), ("x.type(torch.int32)", True),
    ("x.clone()", True), ("x.contiguous()", True), ("x.detach()", True), ("x.numpy()", True), ("x.tolist()", False),
    ("x.new_zeros(2, 2)", True), ("x.new_zeros((3,))", True), ("x.new_zeros(size=(1, 2))", True),
    ("lab.new_zeros(2)", True),
    ("x.sum().item()", False), ("x.max().item()", False),
    # clamp
    ("x.clamp(-1, 2)", True), ("x.clamp(min=-1, max=2)", True), ("x.clamp(max=2, min=-1)", True),
    ("x.clamp(min=0)", True), ("x.clamp(max=1.5)", True), ("x.clamp(-1)", True),
    ("torch.clamp(x, -1, 1)", True), ("torch.clamp(x, min=0)", True), ("torch.clamp(max=1, input=x, min=-1)", True),
    ("x.clamp(y)", True), ("x.clamp(min=y, max=y + 1)", True),
    # max/min against another tensor
    ("torch.max(x, y)", True), ("x.max(y)", True), ("x.min(y)", True), ("torch.min(x, y)", True),
    ("torch.max(x)", False), ("x.max()", False),
    # comparisons: bool in torch, compared as numbers; their sums are int64
    ("x.eq(y)", False), ("x.gt(0)", False), ("x.le(y)", False), ("x.ne(other=y)", False),
    ("torch.eq(x, y)", False), ("torch.gt(x, 0)", False), ("torch.lt(input=x, other=y)", False),
    ("(x > y).sum()", True), ("(x > y).sum().item()", False), ("x.eq(y).tolist()", False),
    ("(x.argmax(1) == lab).sum().item()", False), ("(x.argmax(1) == lab32).sum().item()", False),
    ("x.argmax(dim=1, keepdim=True).eq(lab.view_as(x.argmax(dim=1, keepdim=True))).sum().item()", False),
    ("(lab == lab32).sum()", True), ("x.gt(0).float().mean().item()", False),
    # functions
    ("torch.cat([x, y])", True), ("torch.cat([x, y], 1)", True), ("torch.cat((x, y), dim=1)", True),
    ("torch.cat(dim=0, tensors=[x, y])", True), ("torch.cat([a3, a3], -1)", True),
    ("torch.stack([x, y])", True), ("torch.stack([x, y], 2)", True), ("torch.stack(tensors=(x, y), dim=1)", True),
    ("torch.stack(dim=0, tensors=[x, y])", True),
    ("torch.mm(x, y.t())", True), ("torch.mm(input=x, mat2=y.t())", True), ("torch.mm(mat2=y.t(), input=x)", True),
    ("torch.bmm(a3, a3.transpose(1, 2))", True), ("torch.bmm(mat2=a3.transpose(1, 2), input=a3)", True),
    ("torch.where(x > 0, x, y)", True), ("torch.where(condition=x > y, input=x, other=y)", True),
    ("torch.where(x.gt(y), y, x)", True), ("torch.where(other=y, input=x, condition=x < 0)", True),
    ("torch.exp(y)", True), ("torch.exp(input=y)", True), ("torch.log(torch.abs(x))", True),
    ("torch.sqrt(torch.abs(y))", True), ("torch.abs(x)", True),
    ("torch.pow(x, 2)", True), ("torch.pow(input=x, exponent=3)", True), ("torch.pow(exponent=2, input=y)", True),
    ("torch.pow(x, y)", True),
    # std/var: Bessel's correction by default, dims, keepdim, unbiased/correction
    ("x.std()", True), ("x.std(1)", True), ("x.std(dim=0, keepdim=True)", True), ("x.std(keepdim=True, dim=1)", True),
    ("x.var(1, False)", True), ("x.var(dim=(0, 1), unbiased=False)", True), ("x.var(0, correction=0)", True),
    ("a3.var((0, 2), keepdim=True)", True), ("torch.std(x)", True), ("torch.var(x, 1)", True),
    ("torch.std(x * 2, dim=1, keepdim=True)", True), ("x.var(correction=2)", True),
    # one_hot: int64 as in torch
    ("torch.nn.functional.one_hot(lab, 3)", True), ("torch.nn.functional.one_hot(lab, num_classes=4)", True),
    ("torch.nn.functional.one_hot(num_classes=3, input=lab).float()", True),
    # matmul/@ for every rank pairing dot and batch_dot cover
    ("x @ y.t()", True), ("torch.matmul(x, y.t())", True), ("torch.matmul(input=x, other=y.t())", True),
    ("torch.matmul(other=y.t(), input=x)", True), ("a3 @ torch.ones(4, 2)", True), ("x @ torch.ones(3)", True),
    ("torch.ones(2) @ x", True), ("a3 @ a3.permute(0, 2, 1)", True),
    ("torch.ones(2, 2, 3, 4) @ torch.ones(2, 2, 4, 5)", True),
]


@pytest.mark.parametrize("expr, dtype", CASES, ids=[c[0] for c in CASES])
def test_tensor_op(expr, dtype):
    t, m = _run(expr)
    t, m = np.asarray(t), np.asarray(m)
    if t.shape == () and m.shape == (1,):
        m = m.reshape(())  # full reductions: documented MXNet difference, () vs (1,)
    if t.dtype == np.bool_ and m.dtype != np.bool_:
        assert set(np.unique(m)) <= {0, 1}, (expr, m)  # MXNet comparisons give 0/1 numbers
        m = m.astype(np.bool_)
    assert_same(t, m, dtype=dtype, what=expr)


@pytest.mark.parametrize(
    "expr",
    ["(x > y).sum().item()", "(x.argmax(1) == lab).sum().item()", "x.size(1)", "x.numel()", "x.sum().item()"],
)
def test_python_numbers_like_torch(expr):
    """``.item()``, ``size(d)``, ``numel()`` give Python numbers of torch's kind."""
    src = PRELUDE + f"r = {expr}\n"
    tns = dict(ENV)
    import torch  # noqa: F401

    exec(src, tns)
    r = check_translation(src)
    mns = dict(ENV)
    exec(r.code, mns)
    assert type(tns["r"]) is type(mns["r"]), (expr, type(tns["r"]), type(mns["r"]))
    assert tns["r"] == mns["r"]


@pytest.mark.parametrize(
    "src, names",
    [
        ("v, i = x.max(dim=1)\n", ["v", "i"]),
        ("v, i = x.max(1)\n", ["v", "i"]),
        ("v, i = x.min(dim=0, keepdim=True)\n", ["v", "i"]),
        ("v, i = x.max(keepdim=True, dim=1)\n", ["v", "i"]),
        ("v, i = torch.max(x, 1)\n", ["v", "i"]),
        ("v, i = torch.min(x, dim=0)\n", ["v", "i"]),
        ("v, i = torch.max(dim=1, input=x, keepdim=True)\n", ["v", "i"]),
        ("_, i = torch.max(x, 1)\n", ["i"]),
        ("_, i = torch.max(x * 2 - y, 1)\n", ["i"]),  # one half used: its input is evaluated once anyway
        ("v, _ = (x + y).max(dim=0)\n", ["v"]),
        ("z = torch.zeros(2, 3)\nz.fill_(3.5)\n", ["z"]),
        ("z = torch.ones(2, 3)\nz.fill_(value=2)\n", ["z"]),
        ("z = x.clone()\nz.zero_()\n", ["z"]),
    ],
)
def test_statements(src, names):
    t, m = run_both(PRELUDE + src, names, torch_env=dict(ENV), mx_env=dict(ENV))
    for n, a, b in zip(names, t, m):
        assert_same(a, b, what=n)


@pytest.mark.parametrize(
    "src, rule",
    [
        ("r = x.max(dim=1)[0]\n", "T2G102"),
        ("r = x.std(dim=d)\n", "T2G102"),
        ("r = torch.nn.functional.one_hot(lab)\n", "T2G103"),
        ("r = x.var(1, unbiased=u)\n", "T2G102"),
        ("r = torch.matmul(x, y.t(), out=z)\n", "T2G103"),
        ("r = torch.max(x, 1)\n", "T2G103"),
        ("r = torch.ones(2, 1).expand(-1, 3)\n", "T2G102"),
        ("r = torch.ones(2, 1).broadcast_to((-1, 3))\n", "T2G102"),
        ("r = (x > 0).mean()\n", "T2G102"),
        ("r = x.eq(other)\n", "T2G102"),
        ("r = x.view(0, 6)\n", "T2G102"),
    ],
)
def test_flagged(src, rule):
    r = translate(PRELUDE + src)
    errors = [d for d in r.diagnostics if d.severity is Severity.ERROR]
    assert [d.rule for d in errors] == [rule], r.diagnostics


@pytest.mark.parametrize(
    "src",
    [
        "import torch\nimport numpy as np\na = np.ones((2, 3))\nb = a.sum(1).tolist()\nc = a.max(1)\nd = a.flatten()\ne = a.repeat(2)\nf = a.mean().item()\n",
        "import torch\nclass A:\n    pass\nself = A()\nd = self.args.device\nv = self.args.size\n",
        "import torch\ndef f(n, k):\n    return n == k, n.transpose(1, 0) if False else None\n",
    ],
    ids=["numpy", "attributes", "plain values"],
)
def test_not_tensors_left_alone(src):
    out = "\n".join(l for l in translate(src).code.splitlines() if not l.lstrip().startswith("#"))
    for frag in ("axis=", "asnumpy", "swapaxes", "astype", "asscalar", "reshape(-1)", "tile"):
        assert frag not in out, (frag, out)


def test_second_translation_changes_nothing():
    src = (ROOT / "fixtures" / "tensor_ops.py").read_text(encoding="utf-8")
    once = translate(src).code
    assert translate(once).code == once


_NUM = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?|True|False")


def _numbers(line: str):
    out = []
    for tok in _NUM.findall(line):
        out.append(1.0 if tok == "True" else 0.0 if tok == "False" else float(tok))
    return out


def test_fixture_prints_the_same(tmp_path):
    fixture = ROOT / "fixtures" / "tensor_ops.py"
    r = check_translation(fixture.read_text(encoding="utf-8"))
    translated = tmp_path / "tensor_ops_gluon.py"
    translated.write_text(r.code, encoding="utf-8")
    runs = [subprocess.run([sys.executable, str(p)], capture_output=True, text=True, timeout=300) for p in (fixture, translated)]
    for p, run in zip((fixture, translated), runs):
        assert run.returncode == 0, f"{p}:\n{run.stderr}"
    t_lines, m_lines = runs[0].stdout.splitlines(), runs[1].stdout.splitlines()
    assert len(t_lines) == len(m_lines) > 40
    for n, (a, b) in enumerate(zip(t_lines, m_lines), 1):
        assert _NUM.sub("#", a) == _NUM.sub("#", b), f"line {n}: torch {a!r} vs mxnet {b!r}"
        np.testing.assert_allclose(_numbers(b), _numbers(a), rtol=1e-5, atol=1e-5, err_msg=f"line {n}")


def test_size_with_a_dim_on_any_receiver():
    """numpy's and pandas' `size` is not callable, so `b.size(0)` is a tensor's."""
    src = "import torch\ndef rows(b):\n    return b.size(0), b.size()\nr = rows(torch.from_numpy(X))\n"
    (t,), (m,) = run_both(src, ["r"], torch_env=dict(ENV), mx_env=dict(ENV))
    assert tuple(t[1]) == tuple(m[1]) and t[0] == m[0] == 2


def test_batches_through_a_progress_bar_are_tensors():
    src = (
        "import torch\nfrom tqdm import tqdm\nloader = torch.utils.data.DataLoader(ds, batch_size=4)\n"
        "for i, (x, y) in enumerate(tqdm(loader, desc='train')):\n    ok = (x.argmax(1) == y).sum().item()\n"
    )
    code = translate(src).code
    assert 'x.argmax(axis=1).astype("float64") == y.astype("float64")' in code, code


@pytest.mark.parametrize("expr", ["x.softmax(1)", "x.softmax(dim=0)", "x.log_softmax(dim=-1)", "x.log_softmax(1)"])
def test_softmax_methods(expr):
    """dim -> axis; log-softmax of values 11 apart differs in float32 round-off (3e-6)."""
    t, m = _run(expr)
    assert_same(np.asarray(t), np.asarray(m), rtol=1e-5, atol=1e-5, what=expr)


def test_randint_draws_like_torch():
    """Same bounds ([low, high)), shape and dtype; other numbers (another generator)."""
    src = "import torch\nr = torch.randint(3, 7, (4000,))\ns = torch.randint(5, size=(2, 3))\n"
    (t, ts), (m, ms) = run_both(src, ["r", "s"])
    assert t.dtype == m.dtype == np.int64 and t.shape == m.shape and ts.shape == ms.shape
    assert set(np.unique(t)) == set(np.unique(m)) == {3, 4, 5, 6}
    assert abs(t.mean() - m.mean()) < 0.1


def test_a_progress_bar_is_known_by_its_import_not_its_spelling():
    """`tqdm` bound to something else does not make the batches tensors."""
    src = (
        "import torch\nloader = torch.utils.data.DataLoader(ds, batch_size=4)\ntqdm = list\n"
        "for x, y in tqdm(loader):\n    ok = (x.argmax(1) == y).sum().item()\n"
    )
    assert 'y.astype("float64")' not in translate(src).code
    src2 = src.replace("tqdm = list\n", "import tqdm.auto as bars\n").replace("tqdm(loader)", "bars.tqdm(loader)")
    assert 'y.astype("float64")' in translate(src2).code
