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
def test_reference_mlp_five_epochs_natural_with_verify(tmp_path, monkeypatch, capsys):
    """The reference's full run through `torch2gluon verify`: 5 epochs each, as
    written (slow: about 3 minutes). Measured: epoch means 0.3253/0.3269 ...
    0.0672/0.0686, at most 2.6% apart."""
    from torch2gluon.cli import main

    script = tmp_path / "reference_mlp.py"
    shutil.copy(ROOT / "fixtures" / "reference_mlp.py", script)
    monkeypatch.chdir(tmp_path)
    code = main(["verify", str(script)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert re.search(r"^4\s+469\s", out, re.M), out  # five epochs of 469 steps each
    print(out)
