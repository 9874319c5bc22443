"""F.pad and F.interpolate (T2G706): values and input gradients against torch,
in the four call shapes (positional, keyword, shuffled keywords, defaults)."""

from __future__ import annotations

import numpy as np
import pytest

from numeric_helpers import assert_same
from torch2gluon import Severity, translate

X = np.random.RandomState(0).randn(2, 3, 5, 7).astype(np.float32)
X5 = np.random.RandomState(1).randn(1, 2, 3, 4, 5).astype(np.float32)


def _both(call: str, data: np.ndarray = X):
    """torch's value and input gradient of ``call`` (over ``x``) and the translation's."""
    import mxnet as mx
    import torch
    import torch.nn.functional as F  # noqa: F401 - used by the snippet

    src = f"import torch\nimport torch.nn.functional as F\ndef f(x):\n    return {call}\n"
    r = translate(src)
    assert not [d for d in r.diagnostics if d.severity is Severity.ERROR], r.diagnostics
    assert "torch" not in r.code, r.code
    ns_t: dict = {}
    exec(src, ns_t)
    xt = torch.from_numpy(data.copy()).requires_grad_()
    yt = ns_t["f"](xt)
    (yt * yt).sum().backward()
    ns_m: dict = {}
    exec(r.code, ns_m)
    xm = mx.nd.array(data)
    xm.attach_grad()
    with mx.autograd.record():
        ym = ns_m["f"](xm)
        s = (ym * ym).sum()
    s.backward()
    assert_same(yt.detach().numpy(), ym.asnumpy(), what=f"{call} value")
    assert_same(xt.grad.numpy(), xm.grad.asnumpy(), rtol=1e-5, atol=1e-5, what=f"{call} input gradient")


@pytest.mark.parametrize(
    "call",
    [
        "F.pad(x, (1, 2))",
        "F.pad(x, (1, 2, 2, 0), 'constant', 0.5)",
        "F.pad(input=x, pad=[1, 1, 2, 2], mode='reflect')",
        "F.pad(mode='replicate', pad=(2, 1, 0, 3), input=x)",
        "F.pad(x, (0, 1), value=-1.0)",
        "F.interpolate(x, scale_factor=2)",
        "F.interpolate(x, None, 3, 'nearest')",
        "F.interpolate(input=x, scale_factor=(2, 2), mode='nearest')",
        "F.interpolate(x, size=(9, 4), mode='bilinear', align_corners=False)",
        "F.interpolate(x, (9, 4), None, 'bilinear', True)",
        "F.interpolate(mode='bilinear', scale_factor=2, input=x)",
        "F.interpolate(x, scale_factor=(2, 3), mode='bilinear')",
        "F.interpolate(x, scale_factor=1.5, mode='bilinear', align_corners=True)",
        "F.interpolate(x, size=6, mode='bilinear')",
    ],
)
def test_matches_torch(call):
    _both(call)


def test_pad_of_a_5d_input():
    _both("F.pad(x, (1, 0, 0, 2, 1, 1))", X5)


@pytest.mark.parametrize(
    "call, why",
    [
        ("F.pad(x, (1, 1), mode='circular')", "circular"),
        ("F.pad(x, (-1, 1))", "negative"),
        ("F.pad(x, p)", "written out"),
        ("F.interpolate(x, size=(9, 4))", "nearest"),
        ("F.interpolate(x, scale_factor=1.5)", "nearest"),
        ("F.interpolate(x, scale_factor=1.5, mode='bilinear')", "maps coordinates"),
        ("F.interpolate(x, scale_factor=2, mode='bicubic')", "bicubic"),
        ("F.interpolate(x, scale_factor=2, mode='bilinear', antialias=True)", "antialias"),
        ("F.interpolate(x, scale_factor=2, recompute_scale_factor=True)", "recompute_scale_factor"),
    ],
)
def test_flagged(call, why):
    r = translate(f"import torch.nn.functional as F\ny = {call}\n")
    errors = [d for d in r.diagnostics if d.severity is Severity.ERROR]
    assert [d.rule for d in errors] == ["T2G706"] and why in errors[0].message, r.diagnostics
    assert call in r.code


@pytest.mark.parametrize("shape", ["2, 3", "4", "2, 3, 5"])
def test_pad_of_a_tensor_of_another_rank_is_refused(shape):
    # MXNet's pad raises on anything but 4-D and 5-D inputs: refused where the rank is known
    src = f"import torch\nimport torch.nn.functional as F\nx = torch.randn({shape})\ny = F.pad(x, (1, 1), value=-99)\n"
    errors = [d for d in translate(src).diagnostics if d.severity is Severity.ERROR]
    assert len(errors) == 1 and errors[0].line == 4 and "4-D and 5-D" in errors[0].message, errors
