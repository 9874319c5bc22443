"""Devices, checkpoints, seeds and data: the torch snippet and its translation run side by side (CPU)."""

from __future__ import annotations

import numpy as np
import pytest

from numeric_helpers import assert_same, check_translation, copy_params, exec_both, to_numpy

import mxnet as mx  # noqa: E402

from torch2gluon import Severity, translate  # noqa: E402

TRAIN = '''
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
net = net.to(device)
opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
loss_fn = nn.CrossEntropyLoss()
loader = DataLoader(TensorDataset(X, Y), batch_size=4)
on_gpu = torch.cuda.is_available()


def train(epochs):
    for _ in range(epochs):
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            opt.zero_grad()
            loss = loss_fn(net(x), y)
            loss.backward()
            opt.step()


def save(p, q):
    torch.save(net.state_dict(), p)
    torch.save(opt.state_dict(), q)


def load(p, q):
    net.load_state_dict(torch.load(p))
    opt.load_state_dict(torch.load(q))
'''


def _data():
    rng = np.random.RandomState(0)
    return {"X": rng.randn(10, 4).astype(np.float32), "Y": rng.randint(0, 3, size=10).astype(np.int64)}


def _params(ns):
    import mxnet as mx

    net = ns["net"]
    if isinstance(net, mx.gluon.Block):
        return [p.data().asnumpy() for p in net.collect_params().values()]
    return [p.detach().numpy().copy() for p in net.parameters()]


def _both():
    both = exec_both(TRAIN, inputs=_data())
    copy_params(both.torch_ns["net"], both.mx_ns["net"], initialize=False)
    return both


def test_device_idiom_moves_model_and_batches_to_cpu():
    import mxnet as mx

    both = _both()
    assert both.mx_ns["device"] == mx.cpu()
    assert both.mx_ns["on_gpu"] is False and both.torch_ns["on_gpu"] is False
    assert all(p.list_ctx() == [mx.cpu()] for p in both.mx_ns["net"].collect_params().values())


def test_training_after_device_moves_matches_torch():
    both = _both()
    both.torch_ns["train"](2)
    both.mx_ns["train"](2)
    for t, m in zip(_params(both.torch_ns), _params(both.mx_ns)):
        assert_same(t, m, rtol=1e-4, atol=1e-5, what="params after 2 epochs")


def test_checkpoint_round_trip_continues_training_identically(tmp_path):
    both = _both()
    for side, ns in (("torch", both.torch_ns), ("mx", both.mx_ns)):
        p, q = str(tmp_path / f"{side}_net"), str(tmp_path / f"{side}_opt")
        ns["train"](1)
        ns["save"](p, q)
        saved = _params(ns)
        ns["train"](2)
        straight = _params(ns)
        ns["load"](p, q)
        for a, b in zip(saved, _params(ns)):
            np.testing.assert_array_equal(a, b)  # the parameters are restored
        ns["train"](2)  # the momentum state is restored too
        for a, b in zip(straight, _params(ns)):
            np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)
    for t, m in zip(_params(both.torch_ns), _params(both.mx_ns)):
        assert_same(t, m, rtol=1e-4, atol=1e-5, what="params after save, load and more training")


def test_model_to_device_before_shapes_are_known():
    """``reset_ctx`` also moves deferred parameters (shapes not known yet)."""
    import mxnet as mx

    r = check_translation("import torch\nfrom torch import nn\nnet = nn.Linear(4, 3)\nnet.to(torch.device('cpu'))\n")
    assert "net.collect_params().reset_ctx(mx.cpu())" in r.code
    net = mx.gluon.nn.Dense(3)
    net.initialize()
    net.collect_params().reset_ctx(mx.cpu())
    assert net(mx.nd.ones((2, 4))).shape == (2, 3)


SEEDED = '''
import torch
from torch.utils.data import DataLoader, TensorDataset
loader = DataLoader(TensorDataset(X, Y), batch_size=3, shuffle=True)
torch.manual_seed(7)
first = [y for _, y in loader]
noise1 = torch.rand(3)
torch.manual_seed(7)
second = [y for _, y in loader]
noise2 = torch.rand(3)
'''


def test_manual_seed_makes_shuffles_and_draws_repeat():
    both = exec_both(SEEDED, inputs=_data())
    assert "np.random.seed(7)" in both.translation.code
    for ns in (both.torch_ns, both.mx_ns):
        first, second = to_numpy(ns["first"]), to_numpy(ns["second"])
        assert all(np.array_equal(a, b) for a, b in zip(first, second))
        np.testing.assert_array_equal(to_numpy(ns["noise1"]), to_numpy(ns["noise2"]))
    # and the shuffle really shuffles
    assert not np.array_equal(np.concatenate(to_numpy(both.mx_ns["first"])), _data()["Y"])


DATASETS = '''
import torch
from torch.utils.data import DataLoader, Subset, TensorDataset
ds = TensorDataset(X, Y)
sub = Subset(ds, [4, 0, 7])
n = len(sub)
x2, y2 = sub[1]
loader = DataLoader(sub, batch_size=2)
batches = [(x, y) for x, y in loader]
'''


def test_tensor_dataset_and_subset():
    both = exec_both(DATASETS, inputs=_data())
    assert both.torch_ns["n"] == both.mx_ns["n"] == 3
    for name in ("x2", "y2"):
        t, m = both.values([name])
        assert_same(t[0], m[0], what=name)
    tb, mb = both.torch_ns["batches"], both.mx_ns["batches"]
    assert len(tb) == len(mb) == 2
    for (tx, ty), (mx_, my) in zip(tb, mb):
        assert_same(to_numpy(tx), to_numpy(mx_), what="batch x")
        assert_same(to_numpy(ty), to_numpy(my), what="batch y")


def _image(h, w, c=3):
    return np.random.RandomState(1).randint(0, 256, size=(h, w, c)).astype(np.uint8)


def _transform_both(src, img):
    """Run the snippet's ``t`` on a PIL image (torch) and an HWC NDArray (gluon)."""
    import mxnet as mx
    from PIL import Image

    both = exec_both(src)
    pil = Image.fromarray(img if img.shape[2] == 3 else img[:, :, 0])
    return to_numpy(both.torch_ns["t"](pil)), both.mx_ns["t"](mx.nd.array(img, dtype=np.uint8)).asnumpy()


TRANSFORM = "from torchvision import transforms\nt = transforms.Compose([{}, transforms.ToTensor()])\n"


@pytest.mark.parametrize(
    "call, hw",
    [
        pytest.param("transforms.CenterCrop((4, 6))", (8, 10), id="center crop (h, w), even margins"),
        pytest.param("transforms.CenterCrop(4)", (8, 8), id="center crop int"),
        pytest.param("transforms.CenterCrop(4)", (7, 11), id="center crop, margins torch rounds up"),
        pytest.param("transforms.CenterCrop([3, 5])", (10, 9), id="center crop list, odd sizes"),
        pytest.param("transforms.Resize((4, 6))", (8, 12), id="resize (h, w), exact halving"),
        pytest.param("transforms.Resize(4)", (8, 12), id="resize int keeps the aspect ratio"),
        pytest.param("transforms.Resize(5)", (13, 7), id="resize int, portrait, uneven ratio"),
    ],
)
def test_image_transforms_shapes_and_values(call, hw):
    t, m = _transform_both(TRANSFORM.format(call), _image(*hw))
    assert t.shape == m.shape
    assert t.dtype == m.dtype == np.float32
    if "CenterCrop" in call:
        np.testing.assert_array_equal(t, m)  # a crop copies pixels
    else:
        # PIL's antialiased bilinear vs OpenCV's bilinear: same shape, close values
        assert np.abs(t - m).mean() < 0.1


@pytest.mark.parametrize("width", [4, 5], ids=["even width", "odd width"])
def test_random_horizontal_flip_flips_or_keeps(width):
    """Gluon's RandomFlipLeftRight garbles the middle column of odd widths; the translation does not."""
    import mxnet as mx

    both = exec_both(
        "import torch\nfrom torchvision import transforms\ntorch.manual_seed(3)\n"
        "t = transforms.Compose([transforms.RandomHorizontalFlip(), transforms.ToTensor()])\n"
    )
    img = _image(4, width)
    ref = img.transpose(2, 0, 1).astype(np.float32) / 255
    seen = set()
    for _ in range(20):
        m = both.mx_ns["t"](mx.nd.array(img, dtype=np.uint8)).asnumpy()
        flipped = np.array_equal(m, ref[:, :, ::-1])
        assert flipped or np.array_equal(m, ref)
        seen.add(flipped)
    assert seen == {True, False}


def test_random_horizontal_flip_probability():
    import mxnet as mx

    both = exec_both("from torchvision import transforms\nt = transforms.RandomHorizontalFlip(p=0.0)\n")
    img = mx.nd.array(_image(2, 3), dtype=np.uint8)
    assert all(np.array_equal(both.mx_ns["t"](img).asnumpy(), img.asnumpy()) for _ in range(10))


def test_lambda_runs_on_the_image():
    t, m = _transform_both(
        "from torchvision import transforms\n"
        "t = transforms.Compose([transforms.ToTensor(), transforms.Lambda(lambda x: x * 2)])\n",
        _image(3, 4),
    )
    assert_same(t, m, what="lambda")


def test_device_from_a_flag_and_the_gpu_check_is_translated():
    # language_translation's idiom: a flag of the script's own and torch's check, in one test
    src = (
        "import argparse\nimport torch\nargs = argparse.Namespace(backend='gpu')\n"
        "DEVICE = torch.device('cuda' if args.backend == 'gpu' and torch.cuda.is_available() else 'cpu')\n"
        "x = torch.ones(2, 3).to(DEVICE)\ny = (x * 2).sum().item()\n"
    )
    r = translate(src)
    assert not [d for d in r.diagnostics if d.severity is Severity.ERROR], r.diagnostics
    assert "torch" not in r.code and "mx.context.num_gpus() > 0" in r.code
    ns: dict = {}
    exec(compile(r.code, "<translated>", "exec"), ns)
    assert ns["y"] == 12.0 and ns["x"].context == mx.cpu()
    # a test with other torch calls in it is still refused
    other = src.replace("torch.cuda.is_available()", "torch.cuda.device_count() > 1")
    assert any(d.rule == "T2G801" for d in translate(other).diagnostics)


@pytest.mark.parametrize(
    "line",
    [
        "        self.enc = self.enc.to(torch.device('cpu'))\n",  # a model's part moved (pytorch/examples rpc/rnn)
        "        self.head = nn.Linear(2, 2).to(dev)\n",  # a layer moved where it is made
    ],
)
def test_moving_a_model_s_part_is_refused_not_passed_through(line):
    # a Gluon block has no `.to`: passed through, the translation would crash
    src = (
        "import torch\nfrom torch import nn\nclass E(nn.Module):\n    def __init__(self, dev):\n"
        "        super().__init__()\n        self.enc = nn.Linear(2, 2)\n" + line
        + "    def forward(self, x):\n        return self.enc(x)\n"
    )
    r = translate(src)
    errors = [d for d in r.diagnostics if d.rule == "T2G801" and d.severity is Severity.ERROR]
    assert len(errors) == 1 and errors[0].line == 7, r.diagnostics


def test_a_model_moved_to_an_unknown_device_is_refused():
    src = "import torch\nfrom torch import nn\nnet = nn.Linear(2, 2)\nnet = net.to(pick_device())\n"
    r = translate(src)
    assert [d.line for d in r.diagnostics if d.severity is Severity.ERROR] == [4]
