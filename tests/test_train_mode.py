"""T2G506: a model called in torch's training mode outside a training step keeps that mode.

torch's modules are in training mode until ``.eval()``; Gluon's blocks only
inside ``autograd.record()``/``autograd.train_mode()``. Each case is shaped
like real code: a layer tried on a batch, samples generated after the step,
an evaluation function with and without ``.eval()``.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from numeric_helpers import assert_same, exec_both, to_numpy  # noqa: E402

from torch2gluon import Severity, translate  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

X = np.random.RandomState(5).normal(2.0, 3.0, size=(8, 3, 4, 4)).astype("float32")


def _errors(code: str, rule: str = "T2G506"):
    return [d for d in translate(code).diagnostics if d.rule == rule and d.severity is Severity.ERROR]


def test_batchnorm_tried_on_a_batch_uses_batch_statistics():
    src = "import torch\nfrom torch import nn\nbn = nn.BatchNorm2d(3)\nx = torch.from_numpy(X)\ny = bn(x)\n"
    both = exec_both(src, torch_env={"X": X}, mx_env={"X": X})
    assert "with autograd.train_mode():" in both.translation.code
    (t,), (m,) = both.values(["y"])
    assert_same(t, m, rtol=1e-4, atol=1e-5)
    # and not the running statistics (mean 0, variance 1), which give back about x
    assert np.abs(to_numpy(m) - X).max() > 1.0


def test_after_eval_the_running_statistics_are_used_as_in_torch():
    src = "import torch\nfrom torch import nn\nbn = nn.BatchNorm2d(3)\nbn.eval()\ny = bn(torch.from_numpy(X))\n"
    both = exec_both(src, torch_env={"X": X}, mx_env={"X": X})
    assert "train_mode" not in both.translation.code
    (t,), (m,) = both.values(["y"])
    assert_same(t, m, rtol=1e-4, atol=1e-5)


def test_no_grad_without_eval_keeps_training_mode():
    src = (
        "import torch\nfrom torch import nn\n"
        "net = nn.Sequential(nn.Conv2d(3, 2, 1), nn.BatchNorm2d(2))\n"
        "with torch.no_grad():\n    out = net(torch.from_numpy(X))\n"
    )
    both = exec_both(src, torch_env={"X": X}, mx_env={"X": X})
    code = both.translation.code
    assert code.index("autograd.pause()") < code.index("autograd.train_mode()")
    (t,), (m,) = both.values(["out"])
    # the convolution's weights differ (each framework's own init); the batch-normalised
    # output has mean 0 and variance 1 per channel in both
    for a in (to_numpy(t), to_numpy(m)):
        np.testing.assert_allclose(a.mean(axis=(0, 2, 3)), 0, atol=1e-4)
        np.testing.assert_allclose(a.var(axis=(0, 2, 3)), 1, atol=1e-2)


def test_samples_generated_after_the_step_are_wrapped_and_the_step_is_not():
    src = (
        "import torch\nfrom torch import nn\n"
        "G = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8))\n"
        "opt = torch.optim.SGD(G.parameters(), lr=0.1)\n"
        "noise = torch.randn(16, 4)\n"
        "for step in range(3):\n"
        "    opt.zero_grad()\n"
        "    loss = G(noise).pow(2).mean()\n"
        "    loss.backward()\n"
        "    opt.step()\n"
        "    samples = G(noise)\n"
    )
    r = translate(src)
    assert not [d for d in r.diagnostics if d.severity is Severity.ERROR], r.diagnostics
    assert r.code.count("with autograd.train_mode():") == 1
    assert "with autograd.train_mode():\n        samples = G(noise)" in r.code
    assert "with autograd.record():" in r.code


def test_a_model_passed_in_without_a_switch_is_refused():
    src = (
        "import torch\nfrom torch import nn\n"
        "def sample(model, z):\n    return model(z)\n"
        "net = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))\n"
        "net.eval()\nprint(sample(net, torch.ones(2, 4)))\n"
    )
    errors = _errors(src)
    assert len(errors) == 1 and "is not known" in errors[0].message
    assert (errors[0].line, errors[0].column) == (4, 12)


def test_evaluation_function_with_eval_is_left_to_inference_mode():
    src = (
        "import torch\nfrom torch import nn\n"
        "def evaluate(model, x):\n    model.eval()\n    with torch.no_grad():\n        return model(x)\n"
        "net = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))\nprint(evaluate(net, torch.ones(2, 4)))\n"
    )
    r = translate(src)
    assert "train_mode" not in r.code and not _errors(src)


def test_a_switch_later_in_the_loop_makes_the_mode_unknown():
    src = (
        "import torch\nfrom torch import nn\n"
        "net = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))\n"
        "for i in range(3):\n    y = net(torch.ones(2, 4))\n    net.eval()\n"
    )
    errors = _errors(src)
    assert len(errors) == 1 and (errors[0].line, errors[0].column) == (5, 9)


def test_a_part_switched_makes_the_whole_unknown():
    src = (
        "import torch\nfrom torch import nn\n"
        "net = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))\n"
        "net[1].eval()\ny = net(torch.ones(2, 4))\n"
    )
    assert len(_errors(src)) == 1


def test_a_local_function_that_switches_modes_runs_in_between():
    src = (
        "import torch\nfrom torch import nn\n"
        "net = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))\n"
        "def test():\n    net.eval()\n"
        "net.train()\ntest()\ny = net(torch.ones(2, 4))\n"
    )
    assert len(_errors(src)) == 1


def test_calls_in_a_lambda_run_later_and_are_refused():
    src = (
        "import torch\nfrom torch import nn\n"
        "bn = nn.BatchNorm1d(4)\nf = lambda t: bn(t)\n"
    )
    errors = _errors(src)
    assert len(errors) == 1 and "cannot be wrapped" in errors[0].message


def test_a_model_s_own_methods_are_left_to_the_caller_s_mode():
    src = (
        "import torch\nfrom torch import nn\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.bn = nn.BatchNorm1d(4)\n"
        "    def forward(self, x):\n        return self.bn(x)\n"
    )
    r = translate(src)
    assert "train_mode" not in r.code and not _errors(src)


def test_a_script_without_mode_dependent_layers_is_not_touched():
    src = "import torch\nfrom torch import nn\nlin = nn.Linear(4, 2)\ny = lin(torch.ones(3, 4))\n"
    r = translate(src)
    assert "train_mode" not in r.code and not _errors(src)
