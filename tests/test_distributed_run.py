"""Distributed scripts and their translations, each run with two workers on loopback.

The original runs under ``torchrun --standalone --nproc_per_node=2`` (gloo,
CPU), the translation under ``python -m torch2gluon.launch -n 2`` (MXNet's
dist_sync KVStore: a scheduler, a server, two workers). Every worker is a
recording child of ``torch2gluon.verify`` and its printed lines are kept
per process (torch2gluon.verify.distributed).

- fixtures/ddp_semantics.py: every worker starts from rank 0's parameters,
  three momentum-SGD steps of DDP (gradients averaged) give torch's
  weights, all_reduce/broadcast give torch's values; a translation whose
  DistributedTrainer sums instead of averaging, and broadcasts lazily,
  is caught on both counts.
- fixtures/ddp_mnist.py (real MNIST, 600 images, 2 epochs): the per-epoch
  losses rank 0 prints agree within 20% in natural mode and every step
  within 1e-3 in aligned mode (``torch2gluon verify --nproc 2
  --aligned``); only rank 0 prints them; one checkpoint is written.
- the launcher: a failing worker stops everything with its status, a
  timeout stops everything, two launchers on one host act as two hosts,
  a translation started without the launcher says how to start it.

No process outlives a test: every one started carries a tag that is
looked for at the end.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from torch2gluon import translate
from torch2gluon.cli import main
from torch2gluon.launch import free_port
from torch2gluon.verify.distributed import TAG_ENV, kill_tagged, report, run_distributed, tagged_processes

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
TIMEOUT = 240.0

pytestmark = [
    pytest.mark.skipif(not os.path.isdir("/proc"), reason="the leftover-process check reads /proc"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


def _translation(tmp: Path, name: str, edits=()) -> Path:
    code = translate((ROOT / "fixtures" / name).read_text(encoding="utf-8")).code
    for old, new in edits:
        assert old in code, old
        code = code.replace(old, new)
    path = tmp / name.replace(".py", "_gluon.py")
    path.write_text(code, encoding="utf-8")
    return path


def _run(path: Path, framework: str, **kw):
    run = run_distributed(path, framework, 2, cwd=path.parent, timeout=TIMEOUT, **kw)
    assert not tagged_processes(run.tag), "a process of the run outlived it"
    assert run.ok, run.describe()
    assert sorted(run.ranks()) == [0, 1]
    return run


def _lines(run, word: str):
    """rank -> the values of the line `rank R <word> ...` that worker printed."""
    out = {}
    for w in run.workers:
        for _, line in w.printed:
            m = re.match(rf"rank (\d) {word} (.*)$", line)
            if m:
                assert int(m.group(1)) == w.record["rank"]
                out[int(m.group(1))] = m.group(2)
    return out


# ---------------------------------------------------------------------------
# fixtures/ddp_semantics.py
# ---------------------------------------------------------------------------

# A DistributedTrainer that sums the gradients (no 1/num_workers) and leaves
# the initial broadcast to the Trainer's first step.
BROKEN = (
    ('optimizer_params["rescale_grad"] = scale / kv.num_workers', 'optimizer_params["rescale_grad"] = scale'),
    ("        self._init_kvstore()\n        self._init_params()\n", ""),
)


# Gradient clipping by norm on each worker's own gradients, before step() sums them.
LOCAL_CLIP = (
    ("    opt.allreduce_grads()\n", ""),
    (" * KVStoreGroup.get_world_size(),", ","),
    ("    opt.update(1)\n", "    opt.step(1)\n"),
)


def _close(a: str, b: str, atol: float) -> bool:
    x, y = [float(v) for v in a.split()], [float(v) for v in b.split()]
    return len(x) == len(y) and max(abs(p - q) for p, q in zip(x, y)) <= atol


@pytest.fixture(scope="module")
def semantics(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("semantics")
    original = tmp / "ddp_semantics.py"
    original.write_text((ROOT / "fixtures" / "ddp_semantics.py").read_text(encoding="utf-8"), encoding="utf-8")
    good = _translation(tmp, "ddp_semantics.py")
    broken_dir = tmp / "broken"
    broken_dir.mkdir()
    broken = _translation(broken_dir, "ddp_semantics.py", BROKEN)
    local_dir = tmp / "local"
    local_dir.mkdir()
    local_clip = _translation(local_dir, "ddp_semantics.py", LOCAL_CLIP)
    return {
        "torch": _run(original, "torch", offline_mnist=False),
        "mxnet": _run(good, "mxnet", offline_mnist=False),
        "broken": _run(broken, "mxnet", offline_mnist=False),
        "local clip": _run(local_clip, "mxnet", offline_mnist=False),
    }


def test_every_worker_starts_from_rank_0s_parameters(semantics):
    for framework in ("torch", "mxnet"):
        before, start = _lines(semantics[framework], "before"), _lines(semantics[framework], "start")
        assert before[0] != before[1], "the workers were seeded alike: the check would prove nothing"
        assert start[0] == start[1] == before[0], framework


def test_ddp_averages_the_gradients_and_so_does_the_translation(semantics):
    torch_w, mx_w = _lines(semantics["torch"], "trained"), _lines(semantics["mxnet"], "trained")
    assert torch_w[0] == torch_w[1] and mx_w[0] == mx_w[1]
    assert _close(torch_w[0], mx_w[0], 5e-6), (torch_w[0], mx_w[0])


def test_clipping_acts_on_the_averaged_gradients(semantics):
    """clip_grad_norm_ under DDP: the translation sums the gradients first, clips the
    sum to max_norm * num_workers and updates without summing again."""
    torch_c, mx_c = _lines(semantics["torch"], "clipped"), _lines(semantics["mxnet"], "clipped")
    assert torch_c[0] == torch_c[1] and mx_c[0] == mx_c[1]
    assert _close(torch_c[0], mx_c[0], 5e-6), (torch_c[0], mx_c[0])
    local = _lines(semantics["local clip"], "clipped")
    assert not _close(torch_c[0], local[0], 1e-3), local[0]  # measured 0.026 apart


def test_collectives_give_torchs_values(semantics):
    torch_c, mx_c = _lines(semantics["torch"], "sum"), _lines(semantics["mxnet"], "sum")
    expected = "[3.0, 5.0] avg [1.5, 2.5] int [34359738369, -14, 6] broadcast [11.0, -1.0]"
    assert torch_c == {0: expected, 1: expected}
    assert mx_c == torch_c


def test_a_summing_lazily_broadcasting_trainer_is_caught(semantics):
    start = _lines(semantics["broken"], "start")
    assert start[0] != start[1], "without the broadcast at creation, rank 1 starts from its own parameters"
    a = [float(v) for v in _lines(semantics["torch"], "trained")[0].split()]
    b = [float(v) for v in _lines(semantics["broken"], "trained")[0].split()]
    assert max(abs(x - y) for x, y in zip(a, b)) > 1e-2


# ---------------------------------------------------------------------------
# fixtures/ddp_mnist.py
# ---------------------------------------------------------------------------

MNIST_ARGS = ["--epochs", "2"]
SUBSET = 600


def _epoch_losses(run):
    return [float(m.group(1)) for _, line in run.rank0.printed for m in [re.match(r"epoch \d+ train loss ([\d.]+)$", line)] if m]


def test_ddp_mnist_trains_alike_under_torchrun_and_the_launcher(tmp_path):
    torch_dir, mx_dir = tmp_path / "torch", tmp_path / "mxnet"
    torch_dir.mkdir()
    mx_dir.mkdir()
    original = torch_dir / "ddp_mnist.py"
    original.write_text((ROOT / "fixtures" / "ddp_mnist.py").read_text(encoding="utf-8"), encoding="utf-8")
    translated = _translation(mx_dir, "ddp_mnist.py")
    a = _run(original, "torch", subset=SUBSET, seed=0, args=MNIST_ARGS)
    b = _run(translated, "mxnet", subset=SUBSET, seed=0, args=MNIST_ARGS)

    # the per-epoch losses rank 0 printed (all_reduce'd over both workers)
    la, lb = _epoch_losses(a), _epoch_losses(b)
    assert len(la) == len(lb) == 2
    for x, y in zip(la, lb):
        assert abs(x - y) <= 0.2 * max(x, y), (la, lb)
    assert lb[1] < lb[0]
    # printed by one process only
    assert a.printing_ranks() == b.printing_ranks() == [0]
    assert sum(bool(w.printed) for w in b.workers) == 1
    # one checkpoint each, written by rank 0 (the rank-1 worker writes none)
    assert sorted(p.name for p in torch_dir.glob("*.pt")) == ["ddp_mnist.pt"]
    assert sorted(p.name for p in mx_dir.glob("*.pt")) == ["ddp_mnist.pt"]
    import mxnet as mx
    import torch

    saved = mx.nd.load(str(mx_dir / "ddp_mnist.pt"))
    state = torch.load(torch_dir / "ddp_mnist.pt")
    assert sorted(v.shape for v in saved.values()) == sorted(tuple(v.shape) for v in state.values())
    # and verify's comparison of rank 0 agrees
    out = _Out()
    assert report(a, b, aligned=False, tolerance=0.2, out=out) == 0, out.text
    assert "metrics printed by ranks [0] (torch) and [0] (mxnet)" in out.text


class _Out:
    def __init__(self) -> None:
        self.text = ""

    def write(self, s: str) -> int:
        self.text += s
        return len(s)

    def flush(self) -> None:
        pass


def test_verify_nproc_aligned_agrees_step_by_step(tmp_path, monkeypatch, capsys):
    script = tmp_path / "ddp_mnist.py"
    script.write_text((ROOT / "fixtures" / "ddp_mnist.py").read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code = main(["verify", str(script), "--nproc", "2", "--aligned", "--subset", str(SUBSET),
                 "--timeout", str(TIMEOUT), "--", *MNIST_ARGS])
    captured = capsys.readouterr()
    out = captured.out
    assert code == 0, out + captured.err
    assert re.search(r"AGREE: rank 0: all 20 steps agree within rtol 0.001", out), out
    assert "2 printed metrics agree within rtol 0.01" in out
    assert "metrics printed by ranks [0] (torch) and [0] (mxnet)" in out
    assert sorted(p.name for p in tmp_path.glob("*.py")) == ["ddp_mnist.py"]  # the translation was removed


# ---------------------------------------------------------------------------
# the launcher
# ---------------------------------------------------------------------------


def _launch(tmp_path: Path, script: str, *options: str, timeout: float = 120.0):
    path = tmp_path / f"worker_{uuid.uuid4().hex[:6]}.py"
    path.write_text(script, encoding="utf-8")
    tag = uuid.uuid4().hex
    env = {**os.environ, TAG_ENV: tag, "PYTHONPATH": str(ROOT)}
    t0 = time.monotonic()
    try:
        proc = subprocess.run(
            [PYTHON, "-m", "torch2gluon.launch", *options, str(path)], env=env, cwd=tmp_path,
            capture_output=True, text=True, timeout=timeout,
        )
    finally:
        left = kill_tagged(tag)
    assert not left, "the launcher left processes behind"
    return proc, time.monotonic() - t0


def test_a_failing_worker_stops_everything_with_its_status(tmp_path):
    script = (
        "import os\nimport mxnet as mx\n"
        "kv = mx.kv.create('dist_sync')\n"
        "if kv.rank == 1:\n    os._exit(3)  # dies\n"
        "kv._barrier()  # waits for rank 1 forever\n"
    )
    proc, took = _launch(tmp_path, script, "-n", "2")
    assert proc.returncode == 3, proc.stderr
    assert "a worker exited with status 3" in proc.stderr
    assert took < 60


def test_a_translation_that_raises_on_one_worker_stops_everything(tmp_path):
    """KVStoreGroup ends a worker that raises at once (the kvstore would wait at exit for
    the other worker, itself waiting in all_reduce for this one)."""
    source = (
        "import torch\nimport torch.distributed as dist\n"
        "dist.init_process_group('gloo')\n"
        "if dist.get_rank() == 1:\n    raise ValueError('worker 1 fails')\n"
        "t = torch.ones(2)\ndist.all_reduce(t)\n"
    )
    proc, took = _launch(tmp_path, translate(source).code, "-n", "2")
    assert proc.returncode == 1, proc.stderr
    assert "ValueError: worker 1 fails" in proc.stderr
    assert took < 60


def test_verify_reports_a_failing_distributed_translation(tmp_path):
    """In verify's recording child too: the run fails, fast, with the error."""
    source = (
        "import torch\nimport torch.distributed as dist\n"
        "dist.init_process_group('gloo')\n"
        "if dist.get_rank() == 1:\n    raise ValueError('worker 1 fails')\n"
        "t = torch.ones(2)\ndist.all_reduce(t)\n"
    )
    path = tmp_path / "fails_gluon.py"
    path.write_text(translate(source).code, encoding="utf-8")
    run = run_distributed(path, "mxnet", 2, cwd=tmp_path, timeout=TIMEOUT, offline_mnist=False)
    assert not tagged_processes(run.tag)
    assert not run.ok and not run.timed_out and run.duration < 60
    assert "ValueError: worker 1 fails" in run.error


def test_a_timeout_stops_everything(tmp_path):
    proc, took = _launch(tmp_path, "import time\ntime.sleep(600)\n", "-n", "2", "--timeout", "3")
    assert proc.returncode == 124 and "timed out" in proc.stderr
    assert took < 30


SUM_SCRIPT = (
    "import os\nimport mxnet as mx\n"
    "kv = mx.kv.create('dist_sync')\n"
    "x = mx.nd.array([kv.rank + 1.0])\n"
    "kv.init(7, mx.nd.zeros(1))\n"
    "kv.pushpull(7, x, out=x)\n"
    "print(f'rank {kv.rank} of {kv.num_workers} sum {x.asscalar()} local {os.environ[\"LOCAL_RANK\"]} "
    "world {os.environ[\"WORLD_SIZE\"]}', flush=True)\n"
)


def test_two_launchers_act_as_two_hosts(tmp_path):
    """Host A runs the scheduler, a server and a worker; host B (the same machine here) one worker."""
    port = free_port()
    common = ["-n", "2", "-s", "1", "--scheduler", f"127.0.0.1:{port}", "--local-workers", "1"]
    path = tmp_path / "sum.py"
    path.write_text(SUM_SCRIPT, encoding="utf-8")
    tag = uuid.uuid4().hex
    env = {**os.environ, TAG_ENV: tag, "PYTHONPATH": str(ROOT)}
    cmd = [PYTHON, "-m", "torch2gluon.launch", *common]
    try:
        host_a = subprocess.Popen([*cmd, str(path)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        host_b = subprocess.Popen([*cmd, "--no-scheduler", "--local-servers", "0", str(path)], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out_a, err_a = host_a.communicate(timeout=120)
        out_b, err_b = host_b.communicate(timeout=120)
    finally:
        left = kill_tagged(tag)
    assert not left
    assert host_a.returncode == 0 and host_b.returncode == 0, err_a + err_b
    lines = sorted(out_a.splitlines() + out_b.splitlines())
    # unprefixed worker output; LOCAL_RANK per host, WORLD_SIZE in all
    assert lines == ["rank 0 of 2 sum 3.0 local 0 world 2", "rank 1 of 2 sum 3.0 local 0 world 2"]


def test_one_launcher_gives_local_ranks_and_unprefixed_output(tmp_path):
    proc, _ = _launch(tmp_path, SUM_SCRIPT, "-n", "2")
    assert proc.returncode == 0, proc.stderr
    lines = sorted(proc.stdout.splitlines())
    assert [line[:21] for line in lines] == ["rank 0 of 2 sum 3.0 l", "rank 1 of 2 sum 3.0 l"]
    assert sorted(line.split(" local ")[1] for line in lines) == ["0 world 2", "1 world 2"]


def test_a_translation_started_without_the_launcher_says_how(tmp_path):
    translated = _translation(tmp_path, "ddp_semantics.py")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DMLC_")}
    proc = subprocess.run([PYTHON, str(translated)], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "start it with `python -m torch2gluon.launch -n NUM_WORKERS script.py [args]`" in proc.stderr
