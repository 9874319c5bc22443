"""The reference MLP and its translation train the same way on real MNIST.

Both scripts run unchanged in child processes (torch2gluon.verify.child): the
harness hands both frameworks the real MNIST offline and records the loss of
every optimizer step from inside the process.
"""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import pytest

from torch2gluon import translate
from torch2gluon.verify.harness import compare_epoch_means, epoch_means, run_script

ROOT = Path(__file__).resolve().parents[1]
STEPS_PER_EPOCH = math.ceil(60000 / 128)


def _prepare(tmp_path: Path, name: str = "reference_mlp.py"):
    source = (ROOT / "fixtures" / name).read_text(encoding="utf-8")
    result = translate(source)
    assert result.complete, [d.format(name) for d in result.diagnostics]
    original = tmp_path / name
    translated = tmp_path / (Path(name).stem + "_gluon.py")
    shutil.copy(ROOT / "fixtures" / name, original)
    translated.write_text(result.code, encoding="utf-8")
    return original, translated


def test_reference_mlp_trains_like_the_original_for_one_epoch(tmp_path):
    original, translated = _prepare(tmp_path)
    torch_run = run_script(original, "torch", max_steps=STEPS_PER_EPOCH, seed=0, cwd=tmp_path, timeout=600)
    mx_run = run_script(translated, "mxnet", max_steps=STEPS_PER_EPOCH, seed=0, cwd=tmp_path, timeout=600)
    assert torch_run.ok, torch_run.describe()
    assert mx_run.ok, mx_run.describe()
    # every step of the full epoch ran, the last (96-sample) batch included
    assert torch_run.num_steps == mx_run.num_steps == STEPS_PER_EPOCH
    comparison = compare_epoch_means(torch_run, mx_run, rtol=0.15)
    assert comparison.passed, comparison.describe()
    # and it learned: the last 50 steps are far below the first 50
    for run in (torch_run, mx_run):
        losses = run.losses
        assert sum(losses[-50:]) < 0.4 * sum(losses[:50]), run.framework


@pytest.mark.slow
def test_reference_mlp_five_epochs_natural(tmp_path):
    """The reference's full run: 5 epochs each, as written (slow: ~2 minutes)."""
    original, translated = _prepare(tmp_path)
    torch_run = run_script(original, "torch", cwd=tmp_path, timeout=1800)
    mx_run = run_script(translated, "mxnet", cwd=tmp_path, timeout=1800)
    assert torch_run.ok and mx_run.ok, (torch_run.describe(), mx_run.describe())
    comparison = compare_epoch_means(torch_run, mx_run, rtol=0.10)
    assert comparison.passed, comparison.describe()
    # the scripts' own printed averages agree too
    printed = [
        [float(v) for v in re.findall(r"avg loss ([0-9.]+)", run.stdout)] for run in (torch_run, mx_run)
    ]
    assert len(printed[0]) == len(printed[1]) == 5
    for a, b in zip(*printed):
        assert abs(a - b) <= 0.10 * max(a, b)
    print(comparison.describe())
