"""The accelerator idiom of current scripts (``torch.accelerator``), devices passed to functions and
``device.type``: the torch script and its translation run side by side on this CPU-only machine."""

from __future__ import annotations

import types

import numpy as np
import pytest

from numeric_helpers import assert_same, check_translation, copy_params, exec_both

import mxnet as mx  # noqa: E402
import torch  # noqa: E402

from torch2gluon import Severity, translate  # noqa: E402

# the shape of a current example script: a flag and the accelerator check decide the
# device in an if/else, the model is built and moved at once, and the training
# function receives the device as a parameter
SCRIPT = '''
import torch
from torch import nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x):
        return F.log_softmax(self.fc2(F.relu(self.fc1(x))), dim=1)


def train(args, model, device, loader, optimizer):
    model.train()
    for data, target in loader:
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        loss = F.nll_loss(model(data), target)
        loss.backward()
        optimizer.step()
    return loss.item()


def evaluate(model, device, loader):
    model.eval()
    total = 0.0
    with torch.no_grad():
        for data, target in loader:
            data, target = data.to(device), target.to(device)
            total += F.nll_loss(model(data), target, reduction="sum").item()
    return total


use_accel = not args.no_accel and torch.accelerator.is_available()
if use_accel:
    device = torch.accelerator.current_accelerator()
else:
    device = torch.device("cpu")
kind = device.type
on_accel = device.type != "cpu"
loader = DataLoader(TensorDataset(X, Y), batch_size=4)
model = Net().to(device)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
base = torch.zeros(2)
extra = torch.ones(3).to(base.device)


def run(epochs):
    losses = [train(args, model, device, loader, optimizer) for _ in range(epochs)]
    return losses, evaluate(model, device, loader)
'''


def _data():
    rng = np.random.RandomState(0)
    return {"X": rng.randn(12, 4).astype(np.float32), "Y": rng.randint(0, 3, size=12).astype(np.int64)}


@pytest.mark.parametrize("no_accel", [False, True])
def test_accelerator_idiom_trains_like_torch_on_the_cpu(no_accel):
    args = types.SimpleNamespace(no_accel=no_accel)
    both = exec_both(SCRIPT, inputs=_data(), torch_env={"args": args}, mx_env={"args": args})
    code = both.translation.code
    assert "mx.gpu(0) if mx.context.num_gpus() > 0 else mx.cpu()" in code
    assert not torch.accelerator.is_available()  # this machine: torch takes the CPU branch, so does MXNet
    t, m = both.torch_ns, both.mx_ns
    assert m["use_accel"] is False and t["use_accel"] is False
    assert m["device"] == mx.cpu() and str(t["device"]) == "cpu"
    assert m["kind"] == t["kind"] == "cpu" and m["on_accel"] is t["on_accel"] is False
    assert all(p.list_ctx() == [mx.cpu()] for p in m["model"].collect_params().values())
    assert m["extra"].context == mx.cpu()
    copy_params(t["model"], m["model"], initialize=False)
    (lt, et), (lm, em) = t["run"](2), m["run"](2)
    assert_same(np.array(lt), np.array(lm), rtol=1e-4, atol=1e-5, dtype=False, what="last loss of each epoch")
    assert_same(et, em, rtol=1e-4, atol=1e-5, dtype=False, what="evaluation loss")


def test_current_accelerator_anywhere_is_the_gpu_or_else_the_cpu():
    src = "import torch\nacc = torch.accelerator.current_accelerator()\nx = torch.ones(2).to(acc)\n"
    both = exec_both(src.replace("x = torch.ones(2).to(acc)\n", ""))  # torch's `acc` is `cuda` here, unusable
    assert both.mx_ns["acc"] == mx.cpu()  # MXNet: no GPU, the CPU (where a guarded script's tensors are)
    r = check_translation(src)
    ns: dict = {}
    exec(r.code, ns)
    assert ns["x"].context == mx.cpu()


def test_guarded_accelerator_type_in_a_conditional_is_the_first_gpu():
    src = (
        "import torch\n"
        "d = torch.device(torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else 'cpu')\n"
    )
    r = check_translation(src)
    assert "d = mx.gpu(0) if mx.context.num_gpus() > 0 else mx.cpu()" in r.code
    both = exec_both(src)
    assert both.mx_ns["d"] == mx.cpu() and str(both.torch_ns["d"]) == "cpu"


@pytest.mark.parametrize("text", ["cpu", "cuda", "cuda:1"])
def test_device_type_matches_torch(text):
    src = f"import torch\nd = torch.device('{text}')\nkind = d.type\n"
    r = check_translation(src)
    assert "_t2g_device_type" in r.code
    ns: dict = {}
    exec(r.code, ns)  # building a GPU context needs no GPU
    assert ns["kind"] == torch.device(text).type


@pytest.mark.parametrize(
    "src, what",
    [
        ("import torch\nd = torch.accelerator.current_accelerator(check_available=True)\n", "check_available"),
        ("import torch\nd = torch.device('cuda:1')\ni = d.index\n", "`.index` of a device"),
    ],
)
def test_what_cannot_be_exact_is_refused(src, what):
    r = translate(src)
    errors = [d for d in r.diagnostics if d.severity is Severity.ERROR]
    assert errors and all(d.rule == "T2G801" for d in errors), r.diagnostics
    assert what in errors[0].message and "# torch2gluon: T2G801" in r.code
