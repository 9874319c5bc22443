"""The accelerator idiom of current scripts (``torch.accelerator``), devices passed to functions and
``device.type``: the torch script and its translation run side by side on this CPU-only machine."""

from __future__ import annotations

import types

import numpy as np
import pytest

from numeric_helpers import assert_same, check_translation, copy_params, exec_both, to_numpy

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


# a model or an array made by a class or function of another file (`from model import Net`):
# the translation cannot tell which, `_t2g_to` decides where it runs
ELSEWHERE = '''
import torch
import torch.nn.functional as F
device = torch.device("cpu")
model = Net().to(device)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
batch = make_batch().to(device)
back = make_batch().cpu()
again = model.to(device)


def step():
    optimizer.zero_grad()
    loss = F.mse_loss(model(batch), torch.zeros(4, 2))
    loss.backward()
    optimizer.step()
    return loss.item()
'''


def _elsewhere_envs():
    x = np.random.RandomState(1).randn(4, 3).astype(np.float32)
    torch_env = {"Net": lambda: torch.nn.Linear(3, 2), "make_batch": lambda: torch.from_numpy(x.copy())}
    mx_env = {
        "Net": lambda: mx.gluon.nn.Dense(2, in_units=3, flatten=False),  # a translated class: not initialised yet
        "make_batch": lambda: mx.nd.array(x),
    }
    return torch_env, mx_env


def test_a_model_or_array_from_another_file_is_moved_where_it_runs():
    torch_env, mx_env = _elsewhere_envs()
    both = exec_both(ELSEWHERE, torch_env=torch_env, mx_env=mx_env)
    assert "model = _t2g_to(Net(), device)" in both.translation.code
    t, m = both.torch_ns, both.mx_ns
    assert isinstance(m["batch"], mx.nd.NDArray) and m["batch"].context == mx.cpu()
    assert m["again"] is m["model"] and t["again"] is t["model"]  # torch's .to returns the module itself
    assert all(p.list_ctx() == [mx.cpu()] for p in m["model"].collect_params().values())
    assert_same(to_numpy(t["back"]), to_numpy(m["back"]), what="an array moved to the CPU")
    copy_params(t["model"], m["model"], initialize=False)
    for _ in range(3):
        assert_same(t["step"](), m["step"](), rtol=1e-5, atol=1e-6, dtype=False, what="loss")
    assert_same(to_numpy(t["model"].weight), to_numpy(m["model"].weight.data()), rtol=1e-5, atol=1e-6, what="weight after 3 steps")


def test_moving_an_initialised_block_keeps_its_parameters():
    ns: dict = {"make": lambda: None}
    exec(check_translation("import torch\nnet = make()\nif net is not None:\n    net = net.to(torch.device('cpu'))\n").code, ns)
    net = mx.gluon.nn.Dense(2, in_units=3)
    net.initialize(mx.init.One())
    out = ns["_t2g_to"](net, mx.cpu())
    assert out is net and (net.weight.data().asnumpy() == 1).all()  # not initialised again
    with pytest.raises(TypeError, match="only an array or a Gluon block"):
        ns["_t2g_to"]([1, 2], mx.cpu())


# a training function whose callers are in another file (pytorch/examples' hogwild shape): the
# device is a parameter, a context or a string where it runs
PARAM = '''
import torch
import torch.nn.functional as F


def train_epoch(model, device, data_loader, optimizer):
    losses = []
    for data, target in data_loader:
        optimizer.zero_grad()
        output = model(data.to(device))
        loss = F.mse_loss(output, target.to(device))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def moved(x, input_device="cpu"):
    return torch.ones(3).to(input_device) + x.to(input_device)
'''


@pytest.mark.parametrize("mx_device", ["context", "string"])
def test_a_device_parameter_from_callers_elsewhere(mx_device):
    r = check_translation(PARAM)
    assert "_t2g_to(data, _t2g_context(device))" in r.code
    tns: dict = {}
    exec(PARAM, tns)
    mns: dict = {}
    exec(r.code, mns)
    rng = np.random.RandomState(2)
    xs, ys = rng.randn(3, 4, 3).astype(np.float32), rng.randn(3, 4, 2).astype(np.float32)
    tnet = torch.nn.Linear(3, 2)
    mnet = mx.gluon.nn.Dense(2, in_units=3, flatten=False)
    mnet.initialize()
    copy_params(tnet, mnet, initialize=False)
    topt = torch.optim.SGD(tnet.parameters(), lr=0.1)
    mopt = mx.gluon.Trainer(mnet.collect_params(), "sgd", {"learning_rate": 0.1})
    tloader = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in zip(xs, ys)]
    mloader = [(mx.nd.array(x), mx.nd.array(y)) for x, y in zip(xs, ys)]
    # the caller (a translated file) passes the MXNet context; a script may pass 'cpu'
    dev = mx.cpu() if mx_device == "context" else "cpu"
    lt = tns["train_epoch"](tnet, torch.device("cpu"), tloader, topt)
    lm = mns["train_epoch"](mnet, dev, mloader, mopt)
    assert_same(np.array(lt), np.array(lm), rtol=1e-5, atol=1e-6, dtype=False, what="losses")
    assert_same(to_numpy(tns["moved"](tloader[0][0])), to_numpy(mns["moved"](mloader[0][0])), what="moved")
    with pytest.raises(ValueError, match="no MXNet context for the torch device 'mps'"):
        mns["train_epoch"](mnet, "mps", mloader, mopt)


def test_a_rebound_device_parameter_is_still_refused():
    r = translate("import torch\n\n\ndef f(device):\n    device = pick()\n    return torch.ones(2).to(device)\n")
    assert [d.rule for d in r.diagnostics if d.severity is Severity.ERROR] == ["T2G801"]
