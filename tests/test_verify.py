"""`torch2gluon verify`: aligned mode agrees on a correct translation and
catches deliberately broken ones at the step where the break first matters."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from torch2gluon import translate
from torch2gluon.cli import main
from torch2gluon.verify.cli import EXIT_AGREE, EXIT_DIFFER, EXIT_UNALIGNED, run_pair
from torch2gluon.verify.compare import compare_metrics, compare_steps

ROOT = Path(__file__).resolve().parents[1]
SUBSET = 1000  # 7 full batches of 128 and one of 104 per epoch
STEPS = 12


def _copy(tmp_path: Path, name: str) -> Path:
    dst = tmp_path / name
    shutil.copy(ROOT / "fixtures" / name, dst)
    return dst


def _broken(tmp_path: Path, name: str, edits) -> Path:
    code = translate((ROOT / "fixtures" / name).read_text(encoding="utf-8")).code
    for old, new in edits:
        assert old in code, old
        code = code.replace(old, new)
    path = tmp_path / f"broken_{name}"
    path.write_text(code, encoding="utf-8")
    return path


def test_verify_aligned_passes_on_the_reference_mlp(tmp_path, monkeypatch, capsys):
    script = _copy(tmp_path, "reference_mlp.py")
    monkeypatch.chdir(tmp_path)
    plot = tmp_path / "curves.png"
    code = main(["verify", str(script), "--aligned", "--subset", str(SUBSET), "--max-steps", str(STEPS),
                 "--plot", str(plot)])
    out = capsys.readouterr().out
    assert code == EXIT_AGREE, out
    assert re.search(rf"AGREE: all {STEPS} steps agree within rtol 0.001", out)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the translation was written next to the script for the run, then removed
    assert sorted(p.name for p in tmp_path.glob("*.py")) == ["reference_mlp.py"]


@pytest.mark.parametrize(
    "edits, first_bad_step",
    [
        pytest.param([('"learning_rate": 0.1', '"learning_rate": 0.105')], 2, id="learning rate x1.05"),
        pytest.param(
            [("loss = loss_fn(net(X.reshape((-1, 28 * 28))), y)", "loss = loss_fn(net(X.reshape((-1, 28 * 28))), y).mean()"),
             ("trainer.step(loss.shape[0])", "trainer.step(128)")],
            2,
            id="loss averaged twice",
        ),
        # the first epoch's last batch (step 8) has 104 samples; its update is
        # scaled by 104/128, which shows in the loss of step 9
        pytest.param([("trainer.step(loss.shape[0])", "trainer.step(128)")], 9, id="fixed step(128) on the last batch"),
    ],
)
def test_aligned_mode_catches_a_broken_translation(tmp_path, edits, first_bad_step):
    original = _copy(tmp_path, "reference_mlp.py")
    broken = _broken(tmp_path, "reference_mlp.py", edits)
    runs = run_pair(original, broken, aligned=True, subset=SUBSET, max_steps=STEPS, cwd=str(tmp_path), quiet=True)
    assert runs is not None
    a, b = runs
    assert not a.unaligned and not b.unaligned
    result = compare_steps(a, b, rtol=1e-3)
    assert not result.passed
    assert result.first_divergence is not None
    assert result.first_divergence[0] == first_bad_step, result.describe()


def test_randomness_in_the_training_step_is_reported_as_not_alignable(tmp_path, monkeypatch, capsys):
    source = (ROOT / "fixtures" / "reference_mlp.py").read_text(encoding="utf-8")
    noisy = source.replace(
        "        trainer.zero_grad()\n",
        "        trainer.zero_grad()\n        X = X + 0.01 * torch.randn_like(X)\n",
    )
    assert noisy != source
    script = tmp_path / "noisy_mlp.py"
    script.write_text(noisy, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code = main(["verify", str(script), "--aligned", "--subset", "500", "--max-steps", "5"])
    out = capsys.readouterr().out
    assert code == EXIT_UNALIGNED, out
    assert "NOT ALIGNABLE" in out and "randn_like" in out


def test_verify_reports_an_incomplete_translation(tmp_path, capsys):
    script = tmp_path / "fft.py"
    script.write_text("import torch\nx = torch.fft.fft(torch.ones(4))\n", encoding="utf-8")
    assert main(["verify", str(script)]) == 2
    err = capsys.readouterr().err
    assert "fft.py:2:5: error T2G001" in err and "incomplete" in err


def test_verify_missing_script(tmp_path, capsys):
    assert main(["verify", str(tmp_path / "nope.py")]) == 2
    assert "no such file" in capsys.readouterr().err
