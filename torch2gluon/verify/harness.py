"""Run training scripts in a recording child process and compare their losses.

:func:`run_script` runs ``python -m torch2gluon.verify.child ...`` (see
:mod:`torch2gluon.verify.child`) in a subprocess and returns a
:class:`RunResult` with the per-step losses and epoch boundaries recorded from
inside the process.  :func:`compare_epoch_means` compares two runs epoch by
epoch.

Only the standard library is imported here; torch / mxnet live in the child.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

__all__ = [
    "PACKAGE_ROOT",
    "StepRecord",
    "RunResult",
    "EpochComparison",
    "run_script",
    "compare_epoch_means",
    "epoch_means",
]

#: The directory holding the ``torch2gluon`` package (added to the child's PYTHONPATH).
PACKAGE_ROOT = Path(__file__).resolve().parent.parent.parent

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class StepRecord:
    """One optimizer step: its 1-based number and the last backward value before it."""

    step: int
    loss: Optional[float]
    backwards: int = 1


@dataclass
class RunResult:
    """The outcome of one :func:`run_script` call."""

    script: str
    framework: str
    returncode: int
    stdout: str
    stderr: str
    steps: List[StepRecord] = field(default_factory=list)
    #: 0-based step indices at which training epochs start (empty if no DataLoader was seen).
    epoch_starts: List[int] = field(default_factory=list)
    #: "ok", "max_steps", "exit", "error", "setup_error", "timeout" or "no_record".
    status: str = "no_record"
    error: Optional[str] = None
    stopped_early: bool = False
    timed_out: bool = False
    duration: float = 0.0
    record: Dict[str, Any] = field(default_factory=dict)
    #: a name for reports and plots
    label: str = ""

    @property
    def ok(self) -> bool:
        """Exit 0 and no error (a ``--max-steps`` stop counts as success)."""
        return self.returncode == 0 and self.error is None and not self.timed_out

    @property
    def losses(self) -> List[Optional[float]]:
        return [s.loss for s in self.steps]

    @property
    def num_steps(self) -> int:
        return len(self.steps)

    @property
    def printed(self) -> List[Tuple[int, str]]:
        """Lines the script printed, each with the number of steps done before it."""
        return [(int(n), str(line)) for n, line in self.record.get("printed", [])]

    @property
    def unaligned(self) -> List[str]:
        """Why this run could not be aligned (aligned mode), empty when it was."""
        return list(self.record.get("unaligned", []))

    def epochs(self) -> List[List[Optional[float]]]:
        """Per-epoch lists of step losses; the whole run is one epoch if none were detected."""
        return split_epochs(self.losses, self.epoch_starts)

    def describe(self) -> str:
        """A short human-readable summary (for assertion messages and logs)."""
        tail = self.stderr[-2000:] if self.stderr else ""
        return (
            f"{self.framework} run of {self.script}: status={self.status} rc={self.returncode} "
            f"steps={self.num_steps} epoch_starts={self.epoch_starts} error={self.error!r} "
            f"duration={self.duration:.1f}s\n--- stderr (tail) ---\n{tail}"
        )


def split_epochs(losses: Sequence[Optional[float]], epoch_starts: Sequence[int]) -> List[List[Optional[float]]]:
    """Cut ``losses`` at ``epoch_starts``; steps before the first start join the first epoch."""
    n = len(losses)
    cuts = sorted({s for s in epoch_starts if 0 < s < n})
    bounds = [0, *cuts, n]
    return [list(losses[a:b]) for a, b in zip(bounds, bounds[1:]) if b > a]


def epoch_means(result: RunResult) -> List[float]:
    """Mean step loss of each epoch.

    Steps without a recorded loss (no backward seen yet) are skipped; a
    non-finite loss makes the epoch's mean non-finite, so the comparison fails.
    """
    means = []
    for epoch in result.epochs():
        vals = [v for v in epoch if v is not None]
        means.append(math.fsum(vals) / len(vals) if vals else float("nan"))
    return means


def _child_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    env = dict(os.environ)
    root = str(PACKAGE_ROOT)
    parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in parts:
        parts.insert(0, root)
    env["PYTHONPATH"] = os.pathsep.join(parts)
    env.setdefault("PYTHONUNBUFFERED", "1")
    if extra:
        env.update(extra)
    return env


def _report_progress(path: str, on_progress: Callable[[int, Optional[float]], None]) -> None:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return
    on_progress(int(data.get("steps", 0)), data.get("loss"))


def _kill_group(proc: "subprocess.Popen[str]") -> None:
    """Kill the child and everything it started (it leads its own session)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.kill()
    except ProcessLookupError:
        pass


def run_script(
    path: PathLike,
    framework: str,
    *,
    offline_mnist: bool = True,
    subset: Optional[int] = None,
    max_steps: Optional[int] = None,
    seed: Optional[int] = None,
    args: Sequence[str] = (),
    cwd: Optional[PathLike] = None,
    timeout: Optional[float] = None,
    python: Optional[str] = None,
    env: Optional[Dict[str, str]] = None,
    align: Optional[PathLike] = None,
    align_seed: int = 0,
    on_progress: Optional[Callable[[int, Optional[float]], None]] = None,
) -> RunResult:
    """Run ``path`` under ``framework`` ("torch" or "mxnet") in a recording child process.

    ``subset`` keeps the first N MNIST training images; ``max_steps`` stops the
    script (successfully) after N optimizer steps; ``seed`` seeds ``random``,
    numpy and the framework before the script starts.
    ``cwd`` is the child's working directory (``None``: this process's, as with
    :mod:`subprocess`); relative data roots in the script resolve against it.
    ``timeout`` (seconds) kills the child and its workers.  ``python`` defaults
    to ``sys.executable``; ``env`` adds variables to the child's environment.
    ``align`` (a directory shared by the two runs; torch first) switches on
    aligned mode (:mod:`torch2gluon.verify.align`). ``on_progress(steps, loss)``
    is called about twice a second while the child runs.
    """
    if framework not in ("torch", "mxnet"):
        raise ValueError(f"framework must be 'torch' or 'mxnet', got {framework!r}")
    script = os.fspath(path)
    with tempfile.TemporaryDirectory(prefix="t2g-verify-") as tmp:
        record_path = os.path.join(tmp, "record.json")
        cmd = [python or sys.executable, "-m", "torch2gluon.verify.child", "--framework", framework]
        if offline_mnist:
            cmd.append("--offline-mnist")
        if subset is not None:
            cmd += ["--subset", str(int(subset))]
        if max_steps is not None:
            cmd += ["--max-steps", str(int(max_steps))]
        if seed is not None:
            cmd += ["--seed", str(int(seed))]
        progress_path = os.path.join(tmp, "progress.json")
        if align is not None:
            cmd += ["--align", os.fspath(align), "--align-seed", str(int(align_seed))]
        if on_progress is not None:
            cmd += ["--progress", progress_path]
        cmd += ["--record", record_path, "--", script, *map(str, args)]

        t0 = time.monotonic()
        proc = subprocess.Popen(
            cmd,
            cwd=None if cwd is None else os.fspath(cwd),
            env=_child_env(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,
        )
        timed_out = False
        deadline = None if timeout is None else t0 + timeout
        try:
            while True:
                wait = 0.5 if on_progress is not None else None
                if deadline is not None:
                    left = max(0.0, deadline - time.monotonic())
                    wait = left if wait is None else min(wait, left)
                try:
                    stdout, stderr = proc.communicate(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    if deadline is not None and time.monotonic() >= deadline:
                        raise
                    if on_progress is not None:
                        _report_progress(progress_path, on_progress)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
            stdout, stderr = proc.communicate()
        except BaseException:
            _kill_group(proc)
            proc.communicate()
            raise
        duration = time.monotonic() - t0

        record: Dict[str, Any] = {}
        if os.path.exists(record_path):
            try:
                with open(record_path, encoding="utf-8") as f:
                    record = json.load(f)
            except (OSError, ValueError) as e:
                record = {"status": "no_record", "error": f"unreadable record: {e}"}

    steps = [
        StepRecord(int(s["step"]), None if s.get("loss") is None else float(s["loss"]), int(s.get("backwards", 1)))
        for s in record.get("steps", [])
    ]
    error = record.get("error")
    status = record.get("status", "no_record")
    if timed_out:
        status = "timeout"
        error = f"timed out after {timeout}s" + (f" ({error})" if error else "")
    elif not record:
        error = f"child exited with {proc.returncode} without writing a record"
    elif proc.returncode != 0 and error is None:
        error = f"child exited with {proc.returncode}"
    return RunResult(
        script=script,
        framework=framework,
        returncode=proc.returncode,
        stdout=stdout,
        stderr=stderr,
        steps=steps,
        epoch_starts=[int(s) for s in record.get("epoch_starts", [])],
        status=status,
        error=error,
        stopped_early=bool(record.get("stopped_early", False)),
        timed_out=timed_out,
        duration=duration,
        record=record,
    )


@dataclass
class EpochComparison:
    """Per-epoch mean losses of two runs and their relative differences."""

    means_a: List[float]
    means_b: List[float]
    #: |a - b| / max(|a|, |b|) per compared epoch (``inf`` if not finite on either side).
    rel_diffs: List[float]
    rtol: float
    passed: bool
    reason: str = ""

    @property
    def max_rel_diff(self) -> float:
        return max(self.rel_diffs) if self.rel_diffs else float("nan")

    def describe(self) -> str:
        rows = [f"rtol={self.rtol} passed={self.passed} {self.reason}".rstrip()]
        for i, (a, b, d) in enumerate(zip(self.means_a, self.means_b, self.rel_diffs)):
            rows.append(f"  epoch {i}: {a:.4f} vs {b:.4f} rel diff {d:.3f}")
        return "\n".join(rows)


def _rel_diff(a: float, b: float) -> float:
    if not (math.isfinite(a) and math.isfinite(b)):
        return float("inf")
    scale = max(abs(a), abs(b))
    return 0.0 if scale == 0 else abs(a - b) / scale


def compare_epoch_means(a: RunResult, b: RunResult, rtol: float = 0.10) -> EpochComparison:
    """Compare the per-epoch mean losses of two runs.

    Passes when both runs recorded steps, have the same number of epochs, and
    every epoch's means differ by at most ``rtol`` relative to the larger one.
    """
    means_a, means_b = epoch_means(a), epoch_means(b)
    diffs = [_rel_diff(x, y) for x, y in zip(means_a, means_b)]
    reason = ""
    if not means_a or not means_b:
        reason = "no steps recorded" + (f" ({a.framework})" if not means_a else "") + (
            f" ({b.framework})" if not means_b else ""
        )
    elif len(means_a) != len(means_b):
        reason = f"epoch count differs: {len(means_a)} vs {len(means_b)}"
    elif any(d > rtol for d in diffs):
        worst = max(range(len(diffs)), key=diffs.__getitem__)
        reason = f"epoch {worst} differs by {diffs[worst]:.3f} > {rtol}"
    return EpochComparison(means_a, means_b, diffs, rtol, passed=not reason, reason=reason)
