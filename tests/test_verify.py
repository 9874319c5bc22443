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


BN_STEPS = 30


def test_aligned_mode_agrees_on_the_batchnorm_fixture(tmp_path, monkeypatch, capsys):
    script = _copy(tmp_path, "mlp_bn_eval.py")
    monkeypatch.chdir(tmp_path)
    code = main(["verify", str(script), "--aligned", "--subset", "2000", "--max-steps", str(BN_STEPS), "-q"])
    out = capsys.readouterr().out
    assert code == EXIT_AGREE, out


def test_aligned_mode_catches_batchnorm_momentum_copied_literally(tmp_path):
    """Training steps use batch statistics, so they still agree; evaluations
    use the running statistics. Measured test losses (torch / correct
    translation / momentum 0.1): step 10 0.6360 / 0.6356 / 0.6341, step 20
    0.4279 / 0.4278 / 0.4501. At step 10 the broken run is 0.3% off, inside
    the 1% allowed for MXNet's biased running variance (the correct
    translation drifts 0.06% to 0.6% by step 50); at step 20 it is 5% off."""
    original = _copy(tmp_path, "mlp_bn_eval.py")
    broken = _broken(tmp_path, "mlp_bn_eval.py", [("nn.BatchNorm(momentum=0.9,", "nn.BatchNorm(momentum=0.1,")])
    runs = run_pair(original, broken, aligned=True, subset=2000, max_steps=BN_STEPS, cwd=str(tmp_path), quiet=True)
    assert runs is not None
    a, b = runs
    assert compare_steps(a, b, rtol=1e-3).passed
    metrics = compare_metrics(a, b, rtol=0.01)
    assert not metrics.passed
    first_a, first_b = metrics.first_divergence
    assert first_a.step == 20 and "test loss" in first_a.line, metrics.describe()


def test_aligned_mode_catches_dropped_weight_decay(tmp_path):
    original = _copy(tmp_path, "mlp_bn_eval.py")
    broken = _broken(tmp_path, "mlp_bn_eval.py", [(', "wd": 0.01', "")])
    runs = run_pair(original, broken, aligned=True, subset=2000, max_steps=BN_STEPS, cwd=str(tmp_path), quiet=True)
    assert runs is not None
    a, b = runs
    result = compare_steps(a, b, rtol=1e-3)
    assert not result.passed
    # The first update without decay changes the loss of step 2 already, by
    # more than float32 drift (< 1e-6 this early) but less than rtol; from
    # step 3 on it is past the tolerance.
    x, y = a.losses[1], b.losses[1]
    assert 1e-5 < abs(x - y) / max(abs(x), abs(y)) < 1e-3
    assert result.first_divergence[0] == 3, result.describe()


def test_aligned_mode_catches_accumulation_that_overwrites_gradients(tmp_path):
    """With grad_req "write" each update sees only the last micro-batch's
    gradient (a quarter of it): the second update's loss shows it."""
    original = _copy(tmp_path, "grad_accumulation.py")
    broken = _broken(tmp_path, "grad_accumulation.py", [('p.grad_req = "add"', 'p.grad_req = "write"')])
    runs = run_pair(original, broken, aligned=True, subset=SUBSET, max_steps=6, cwd=str(tmp_path), quiet=True)
    assert runs is not None
    a, b = runs
    assert not a.unaligned and not b.unaligned
    result = compare_steps(a, b, rtol=1e-3)
    assert not result.passed and result.first_divergence[0] == 2, result.describe()


TRAINING_FIXTURES = ["reference_mlp.py", "mnist_cnn.py", "mlp_bn_dropout.py", "mlp_bn_eval.py", "lstm_model.py"]
ALIGNED = ["--aligned", "--subset", "1000", "--max-steps", "20"]
NATURAL = ["--subset", "6000", "--max-steps", "100"]
# Training semantics (issue 5), aligned only: from different starts, 100
# steps of Adam are too few for single-run noise to settle under 10%.
# adam_steplr_checkpoint: 16 steps per epoch on 1000 images, so 18 steps
# cover the first epoch's evaluation, the checkpoint round trip and two
# steps at the halved learning rate.
SEMANTICS_FIXTURES = [
    ("adam_steplr_checkpoint.py", ["--aligned", "--subset", "1000", "--max-steps", "18"]),
    ("two_optimizers.py", ALIGNED),
    ("grad_accumulation.py", ALIGNED),  # 20 updates of 4 micro-batches of 16
    ("linear_regression.py", ["--aligned"]),  # synthetic data, all 3 epochs (300 steps, seconds)
    # pytorch/examples' mnist/main.py structure: argparse, train()/test()
    # functions, Adadelta(lr=1.0) + StepLR(gamma=0.7) per epoch, the device
    # picked in main(); 16 steps per epoch, so the lr change is covered
    ("mnist_main.py", ALIGNED),
]


@pytest.mark.parametrize(
    "name, mode",
    # the reference MLP's aligned run is test_verify_aligned_passes_on_the_reference_mlp
    [pytest.param(n, ALIGNED, id=f"{n}-aligned") for n in TRAINING_FIXTURES if n != "reference_mlp.py"]
    + [pytest.param(n, NATURAL, id=f"{n}-natural") for n in TRAINING_FIXTURES]
    + [pytest.param(n, mode, id=f"{n}-aligned") for n, mode in SEMANTICS_FIXTURES],
)
def test_every_training_fixture_passes_both_modes(tmp_path, monkeypatch, capsys, name, mode):
    script = _copy(tmp_path, name)
    monkeypatch.chdir(tmp_path)
    code = main(["verify", str(script), *mode, "-q"])
    out = capsys.readouterr().out
    assert code == EXIT_AGREE, out
    assert "AGREE" in out


def test_hybridised_translation_with_dropout_aligns(tmp_path, monkeypatch, capsys):
    """--hybridize: the model runs as a symbol graph, whose Dropout aligned mode switches off too."""
    script = _copy(tmp_path, "mlp_bn_dropout.py")
    monkeypatch.chdir(tmp_path)
    kept = tmp_path / "kept.py"
    code = main(["verify", str(script), *ALIGNED, "--hybridize", "--keep-translation", str(kept), "-q"])
    out = capsys.readouterr().out
    assert code == EXIT_AGREE, out
    assert "HybridBlock" in kept.read_text() and ".hybridize()" in kept.read_text()
