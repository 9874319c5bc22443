"""Loss objects (T2G301): the value the script sees and the gradient match torch.

Each case constructs the loss in torch and in the translation, calls both on
the same data and compares

- the value: torch's scalar against ``loss.mean().asscalar()`` (what the
  translated ``.item()`` gives), or the whole array for ``reduction='none'``;
- the gradient w.r.t. the input: torch's after ``loss.backward()`` against
  Gluon's after ``loss.backward()`` divided by ``loss.shape[0]``, which is what
  ``trainer.step(loss.shape[0])`` (T2G501) does. For ``'none'`` both sides
  backpropagate the sum.
"""

from __future__ import annotations

import numpy as np
import pytest

from numeric_helpers import assert_same, exec_both
from torch2gluon import translate

N, C, F = 6, 5, 4


def _data(kind, rng, kdim=False):
    """(input, target) as numpy arrays for a loss family."""
    shape = (N, C, 3) if kdim else (N, C)
    if kind in ("ce", "nll"):
        x = rng.normal(size=shape).astype(np.float32) * 2
        if kind == "nll":
            x = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
        y = rng.integers(0, C, size=(shape[0],) + shape[2:])
        y.flat[1] = 2  # the ignore_index used below, at least once
        return x.astype(np.float32), y
    if kind == "reg":
        x = rng.normal(size=(N, F)).astype(np.float32)
        t = (x + rng.normal(size=(N, F)) * 1.5).astype(np.float32)
        t[0, 0] = x[0, 0]  # a zero difference
        return x, t
    if kind == "bce":
        x = (1 / (1 + np.exp(-rng.normal(size=(N, F)) * 2))).astype(np.float32)
        return x, rng.uniform(size=(N, F)).astype(np.float32)
    if kind == "logits":
        x = (rng.normal(size=(N, F)) * 3).astype(np.float32)
        x[0] = 0.0  # a zero-initialised last layer gives exactly 0
        x[1, 0], x[1, 1] = 30.0, -30.0
        t = rng.uniform(size=(N, F)).astype(np.float32)
        t[2] = np.round(t[2])
        return x, t
    if kind in ("kl", "kl_log"):
        x = rng.normal(size=(N, F)).astype(np.float32)
        x = (x - np.log(np.exp(x).sum(axis=1, keepdims=True))).astype(np.float32)
        p = rng.uniform(size=(N, F)).astype(np.float32)
        p[0, 1] = 0.0  # a zero target (torch's xlogy gives 0)
        p = (p / p.sum(axis=1, keepdims=True)).astype(np.float32)
        return x, (np.log(np.maximum(p, 1e-30)).astype(np.float32) if kind == "kl_log" else p)
    raise AssertionError(kind)


W_C = np.array([0.2, 1.0, 3.0, 0.5, 1.7], dtype=np.float32)
W_F = np.array([0.5, 2.0, 1.0, 3.0], dtype=np.float32)

CASES = [
    # CrossEntropyLoss: the four call shapes and every option
    ("ce", "nn.CrossEntropyLoss(reduction='sum')"),
    ("ce", "nn.CrossEntropyLoss(reduction='none')"),
    ("ce", "nn.CrossEntropyLoss(weight=w)"),
    ("ce", "nn.CrossEntropyLoss(w)"),
    ("ce", "nn.CrossEntropyLoss(w, None, -100, None, 'sum')"),
    ("ce", "nn.CrossEntropyLoss(reduction='none', weight=w)"),
    ("ce", "nn.CrossEntropyLoss(ignore_index=2)"),
    ("ce", "nn.CrossEntropyLoss(ignore_index=2, reduction='sum')"),
    ("ce", "nn.CrossEntropyLoss(ignore_index=2, reduction='none')"),
    ("ce", "nn.CrossEntropyLoss(w, ignore_index=2)"),
    ("ce", "nn.CrossEntropyLoss(label_smoothing=0.1)"),
    ("ce", "nn.CrossEntropyLoss(label_smoothing=0.2, reduction='sum')"),
    ("ce", "nn.CrossEntropyLoss(reduction='none', label_smoothing=0.2)"),
    ("ce", "nn.CrossEntropyLoss(w, label_smoothing=0.1)"),
    ("ce", "nn.CrossEntropyLoss(label_smoothing=0.1, ignore_index=2, weight=w)"),
    ("ce", "nn.CrossEntropyLoss(label_smoothing=0.1, ignore_index=2, weight=w, reduction='sum')"),
    ("ce", "nn.CrossEntropyLoss(w, None, 2, None, 'none', 0.1)"),
    # NLLLoss after log_softmax
    ("nll", "nn.NLLLoss()"),
    ("nll", "nn.NLLLoss(reduction='sum')"),
    ("nll", "nn.NLLLoss(reduction='none')"),
    ("nll", "nn.NLLLoss(w)"),
    ("nll", "nn.NLLLoss(reduction='sum', weight=w, ignore_index=2)"),
    ("nll", "nn.NLLLoss(w, None, 2)"),
    # regression losses
    ("reg", "nn.MSELoss()"),
    ("reg", "nn.MSELoss(reduction='sum')"),
    ("reg", "nn.MSELoss(None, None, 'none')"),
    ("reg", "nn.L1Loss()"),
    ("reg", "nn.L1Loss(reduction='sum')"),
    ("reg", "nn.L1Loss(reduction='none')"),
    ("reg", "nn.SmoothL1Loss()"),
    ("reg", "nn.SmoothL1Loss(beta=0.5)"),
    ("reg", "nn.SmoothL1Loss(reduction='sum', beta=2.0)"),
    ("reg", "nn.SmoothL1Loss(None, None, 'none', 0.5)"),
    ("reg", "nn.SmoothL1Loss(beta=0.0)"),
    ("reg", "nn.HuberLoss()"),
    ("reg", "nn.HuberLoss('sum', 0.5)"),
    ("reg", "nn.HuberLoss(delta=2.0, reduction='none')"),
    # binary cross entropy
    ("bce", "nn.BCELoss()"),
    ("bce", "nn.BCELoss(reduction='sum')"),
    ("bce", "nn.BCELoss(reduction='none')"),
    ("bce", "nn.BCELoss(weight=wf)"),
    ("logits", "nn.BCEWithLogitsLoss()"),
    ("logits", "nn.BCEWithLogitsLoss(reduction='sum')"),
    ("logits", "nn.BCEWithLogitsLoss(reduction='none')"),
    ("logits", "nn.BCEWithLogitsLoss(pos_weight=wf)"),
    ("logits", "nn.BCEWithLogitsLoss(wf, None, None, 'sum', wf)"),
    ("logits", "nn.BCEWithLogitsLoss(reduction='none', pos_weight=wf, weight=wf)"),
    # KL divergence
    ("kl", "nn.KLDivLoss()"),
    ("kl", "nn.KLDivLoss(reduction='batchmean')"),
    ("kl", "nn.KLDivLoss(reduction='sum')"),
    ("kl", "nn.KLDivLoss(reduction='none')"),
    ("kl_log", "nn.KLDivLoss(reduction='batchmean', log_target=True)"),
    ("kl_log", "nn.KLDivLoss(None, None, 'mean', True)"),
]


def _run(kind, ctor, kdim=False, label_dtype="float32"):
    import mxnet as mx
    import torch
    from mxnet import autograd, nd

    src = f"import torch\nfrom torch import nn\nloss_fn = {ctor}\n"
    both = exec_both(
        src,
        torch_env={"w": torch.from_numpy(W_C), "wf": torch.from_numpy(W_F)},
        mx_env={"w": nd.array(W_C), "wf": nd.array(W_F)},
    )
    x, t = _data(kind, np.random.default_rng(0), kdim)
    xt = torch.from_numpy(x).requires_grad_()
    tt = torch.from_numpy(t.astype(np.int64) if t.dtype.kind == "i" else t)
    loss_t = both.torch_ns["loss_fn"](xt, tt)
    (loss_t.sum() if loss_t.ndim else loss_t).backward()
    xm = nd.array(x)
    xm.attach_grad()
    with autograd.record():
        loss_m = both.mx_ns["loss_fn"](xm, nd.array(t, dtype=label_dtype if t.dtype.kind == "i" else "float32"))
    loss_m.backward()
    assert isinstance(loss_m, mx.nd.NDArray)
    if "'none'" in ctor or ", 'none'" in ctor:
        assert_same(loss_t.detach().numpy(), loss_m.asnumpy(), rtol=1e-5, atol=1e-6, what="per-element loss")
        assert_same(xt.grad.numpy(), xm.grad.asnumpy(), rtol=1e-5, atol=1e-6, what="input gradient")
    else:
        assert_same(
            loss_t.detach().numpy(), np.asarray(loss_m.mean().asscalar()), rtol=1e-5, atol=1e-6, what="loss value"
        )
        assert_same(xt.grad.numpy(), xm.grad.asnumpy() / loss_m.shape[0], rtol=1e-5, atol=1e-6, what="input gradient")
    return both


@pytest.mark.parametrize("kind, ctor", [pytest.param(k, c, id=c) for k, c in CASES])
def test_value_and_gradient_match_torch(kind, ctor):
    _run(kind, ctor)


@pytest.mark.parametrize(
    "kind, ctor",
    [
        ("ce", "nn.CrossEntropyLoss(w, ignore_index=2, label_smoothing=0.1)"),
        ("ce", "nn.CrossEntropyLoss(reduction='none', weight=w, ignore_index=2)"),
        ("ce", "nn.CrossEntropyLoss(reduction='sum', label_smoothing=0.3)"),
        ("nll", "nn.NLLLoss(w, ignore_index=2)"),
    ],
)
@pytest.mark.parametrize("label_dtype", ["float32", "int32"])
def test_class_axis_1_for_kdim_input_and_label_dtypes(kind, ctor, label_dtype):
    _run(kind, ctor, kdim=True, label_dtype=label_dtype)


@pytest.mark.parametrize(
    "ctor, why",
    [
        ("nn.CrossEntropyLoss(reduction=r)", "reduction"),
        ("nn.MSELoss(size_average=False)", "size_average"),
        ("nn.NLLLoss(reduce=False)", "reduce"),
        ("nn.SmoothL1Loss(beta=b)", "beta"),
        ("nn.HuberLoss(delta=0.0)", "delta"),
        ("nn.KLDivLoss(log_target=lt)", "log_target"),
        ("nn.L1Loss(reduction='batchmean')", "reduction"),
        ("nn.MSELoss(**kw)", "`**`"),
    ],
)
def test_what_is_not_exact_is_flagged(ctor, why):
    r = translate(f"from torch import nn\nloss_fn = {ctor}\n")
    errors = [d for d in r.diagnostics if d.rule == "T2G301" and d.severity.name == "ERROR"]
    assert errors and why in errors[0].message, r.diagnostics
    assert "# torch2gluon: T2G301" in r.code and ctor in r.code


def test_item_on_a_sum_loss_is_torchs_value():
    """``.item()`` on a translated loss object's value gives torch's float."""
    src = (
        "import torch\nfrom torch import nn\n"
        "loss_fn = nn.MSELoss(reduction='sum')\n"
        "value = loss_fn(x, y).item()\n"
    )
    rng = np.random.default_rng(1)
    inputs = {"x": rng.normal(size=(3, 2)).astype(np.float32), "y": rng.normal(size=(3, 2)).astype(np.float32)}
    both = exec_both(src, inputs=inputs)
    assert ".mean().asscalar()" in both.translation.code
    assert_same(np.float64(both.torch_ns["value"]), np.float64(both.mx_ns["value"]), what="item")


def test_hyperparameters_are_read_when_the_loss_is_built():
    """A weight tensor is captured at construction, as torch does (a lambda
    default, not a closure over a name the script may rebind)."""
    src = (
        "import torch\nfrom torch import nn\n"
        "loss_fn = nn.CrossEntropyLoss(weight=w)\n"
        "w = None\n"
    )
    code = translate(src).code
    assert "weight=w:" in code, code


FUNCTIONAL = [
    ("reg", "F.mse_loss(a, b)"),
    ("reg", "F.mse_loss(a, b, reduction='sum')"),
    ("reg", "F.mse_loss(input=a, target=b, reduction='none')"),
    ("reg", "F.l1_loss(b, a) if False else F.l1_loss(a, b)"),
    ("reg", "F.smooth_l1_loss(a * 1.0, b)"),  # an expression used three times: evaluated once
    ("reg", "F.smooth_l1_loss(a, b, beta=0.5, reduction='sum')"),
    ("reg", "F.huber_loss(a, b, delta=2.0)"),
    ("bce", "F.binary_cross_entropy(a, b)"),
    ("bce", "F.binary_cross_entropy(a, b, wf, reduction='sum')"),
    ("logits", "F.binary_cross_entropy_with_logits(a, b)"),
    ("logits", "F.binary_cross_entropy_with_logits(a, b, pos_weight=wf)"),
    ("kl", "F.kl_div(a, b, reduction='batchmean')"),
    ("kl_log", "F.kl_div(a, b, None, None, 'sum', True)"),
    ("ce", "F.cross_entropy(a, b, w, ignore_index=2)"),
    ("ce", "F.cross_entropy(a, b, label_smoothing=0.2, reduction='none')"),
    ("nll", "F.nll_loss(a, b, weight=w, reduction='sum')"),
]


@pytest.mark.parametrize("kind, call", [pytest.param(k, c, id=c) for k, c in FUNCTIONAL])
def test_functional_losses_match_torch(kind, call):
    both = _run(kind, f"lambda a, b: {call.replace('F.', 'nn.functional.')}")
    assert "functional" not in both.translation.code, both.translation.code


def test_functional_loss_with_an_expression_used_twice_evaluates_it_once():
    r = translate("import torch.nn.functional as F\ndef f(model, x, y):\n    return F.smooth_l1_loss(model(x), y)\n")
    assert r.code.count("model(x)") == 1 and not r.diagnostics, r.code


def test_functional_loss_options_without_a_translation_are_flagged():
    r = translate("import torch.nn.functional as F\nloss = F.mse_loss(a, b, weight=w)\nl2 = F.l1_loss(a, b, size_average=False)\n")
    assert [d.rule for d in r.diagnostics] == ["T2G705", "T2G705"]
    assert "F.mse_loss(a, b, weight=w)" in r.code and "F.l1_loss(a, b, size_average=False)" in r.code
