"""Verifying distributed scripts: N workers on each side, rank 0's records compared.

The PyTorch script runs under ``torchrun --standalone --nproc_per_node=N``
(``python -m torch.distributed.run``), its translation under
``python -m torch2gluon.launch -n N``; every worker is a recording child
(:mod:`torch2gluon.verify.child` with ``--distributed``) that writes its own
record, with the rank it had (torch: ``RANK``; MXNet: the rank its
distributed kvstore was given by the scheduler). What is compared is rank
0's: its per-step losses (epoch means, or every step in aligned mode) and
the metrics it printed. How many processes printed metrics is reported too:
a DDP script prints from rank 0 only, and so must its translation.

Aligned mode works as for one process (:mod:`torch2gluon.verify.align`),
and torch's ``DistributedSampler`` draws its permutation the way the
translation's ``DistributedSampler`` does (numpy's ``RandomState(seed +
epoch)``), with torch's own padding and sharding.

Every process started is tagged with an environment variable
(``T2G_RUN_TAG``) and, when the run ends (or times out, or fails), any
process still carrying the tag is killed: torchrun starts its workers in
sessions of their own, so killing its process group is not enough.

Only the standard library is imported here at module level.
"""

from __future__ import annotations

import functools
import math
import glob
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

from .harness import PACKAGE_ROOT, RunResult, StepRecord

__all__ = [
    "TAG_ENV",
    "DistributedRun",
    "run_distributed",
    "tagged_processes",
    "kill_tagged",
    "install_rank_probe",
    "install_torch_aligned_sampler",
]

TAG_ENV = "T2G_RUN_TAG"
#: seconds between SIGTERM and SIGKILL when a run is stopped
TERM_WAIT = 5.0


@dataclass
class DistributedRun:
    """The outcome of one :func:`run_distributed` call: every worker's record."""

    script: str
    framework: str
    nproc: int
    returncode: int
    stdout: str
    stderr: str
    #: one per worker that wrote a record, sorted by rank
    workers: List[RunResult] = field(default_factory=list)
    duration: float = 0.0
    timed_out: bool = False
    error: Optional[str] = None
    label: str = ""
    #: the T2G_RUN_TAG every process of the run carried
    tag: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def rank0(self) -> Optional[RunResult]:
        return next((w for w in self.workers if w.record.get("rank") == 0), None)

    def ranks(self) -> List[Optional[int]]:
        return [w.record.get("rank") for w in self.workers]

    def printing_ranks(self) -> List[Optional[int]]:
        """The ranks of the workers that printed a metric (loss, accuracy, ...)."""
        from .compare import printed_metrics

        return [w.record.get("rank") for w in self.workers if printed_metrics(w)]

    def describe(self) -> str:
        tail = self.stderr[-3000:] if self.stderr else ""
        return (
            f"{self.framework} run of {self.script} with {self.nproc} workers: rc={self.returncode} "
            f"ranks={self.ranks()} error={self.error!r} duration={self.duration:.1f}s\n--- stderr (tail) ---\n{tail}"
        )


# ---------------------------------------------------------------------------
# processes
# ---------------------------------------------------------------------------


def tagged_processes(tag: str) -> List[int]:
    """pids of the processes (of this user, readable under /proc) whose environment holds ``T2G_RUN_TAG=tag``."""
    needle = f"{TAG_ENV}={tag}".encode()
    found = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return found


def kill_tagged(tag: str, sig: int = signal.SIGKILL) -> List[int]:
    """Send ``sig`` to every process carrying ``tag``; the pids signalled."""
    pids = tagged_processes(tag)
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
    return pids


def _env(extra: Optional[Dict[str, str]], tag: str) -> Dict[str, str]:
    env = dict(os.environ)
    root = str(PACKAGE_ROOT)
    parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in parts:
        parts.insert(0, root)
    env["PYTHONPATH"] = os.pathsep.join(parts)
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.setdefault("OMP_NUM_THREADS", "1")  # as torchrun sets it: N workers share the cores
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "DMLC_ROLE"):
        env.pop(name, None)  # this process's own, if it is itself a worker
    if extra:
        env.update(extra)
    env[TAG_ENV] = tag
    return env


def _stop(proc: "subprocess.Popen[str]", tag: str) -> None:
    """SIGTERM the group (torchrun and the launcher stop their workers), then kill what is left."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=TERM_WAIT)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    kill_tagged(tag)


def _result(record: Dict[str, Any], script: str, framework: str, stdout: str, stderr: str) -> RunResult:
    steps = [
        StepRecord(int(s["step"]), None if s.get("loss") is None else float(s["loss"]), int(s.get("backwards", 1)))
        for s in record.get("steps", [])
    ]
    code = int(record.get("exit_code", 1))
    return RunResult(
        script=script, framework=framework, returncode=code, stdout=stdout, stderr=stderr, steps=steps,
        epoch_starts=[int(s) for s in record.get("epoch_starts", [])], status=record.get("status", "no_record"),
        error=record.get("error"), stopped_early=bool(record.get("stopped_early", False)), record=record,
    )


def run_distributed(
    path: "os.PathLike[str] | str",
    framework: str,
    nproc: int,
    *,
    offline_mnist: bool = True,
    subset: Optional[int] = None,
    max_steps: Optional[int] = None,
    seed: Optional[int] = None,
    args: Sequence[str] = (),
    cwd: "Optional[os.PathLike[str] | str]" = None,
    timeout: float = 3600.0,
    python: Optional[str] = None,
    env: Optional[Dict[str, str]] = None,
    align: "Optional[os.PathLike[str] | str]" = None,
    align_seed: int = 0,
) -> DistributedRun:
    """Run ``path`` with ``nproc`` workers: torch under torchrun, mxnet under torch2gluon.launch.

    The options mean what they mean for :func:`torch2gluon.verify.harness.run_script`;
    ``timeout`` covers the whole group. No process of the run outlives it.
    """
    if framework not in ("torch", "mxnet"):
        raise ValueError(f"framework must be 'torch' or 'mxnet', got {framework!r}")
    script = os.fspath(path)
    python = python or sys.executable
    tag = uuid.uuid4().hex
    with tempfile.TemporaryDirectory(prefix="t2g-dist-") as tmp:
        child = ["-m", "torch2gluon.verify.child", "--framework", framework, "--distributed",
                 "--record", os.path.join(tmp, "record.{pid}.json")]
        if offline_mnist:
            child.append("--offline-mnist")
        if subset is not None:
            child += ["--subset", str(int(subset))]
        if max_steps is not None:
            child += ["--max-steps", str(int(max_steps))]
        if seed is not None:
            child += ["--seed", str(int(seed))]
        if align is not None:
            child += ["--align", os.fspath(align), "--align-seed", str(int(align_seed))]
        child += ["--", script, *map(str, args)]
        if framework == "torch":
            cmd = [python, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", *child]
        else:
            cmd = [python, "-m", "torch2gluon.launch", "-n", str(nproc), "--timeout", str(timeout), *child]
        t0 = time.monotonic()
        proc = subprocess.Popen(
            cmd, cwd=None if cwd is None else os.fspath(cwd), env=_env(env, tag), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True,
        )
        timed_out = False
        try:
            stdout, stderr = proc.communicate(timeout=timeout + 2 * TERM_WAIT)
        except subprocess.TimeoutExpired:
            timed_out = True
            _stop(proc, tag)
            stdout, stderr = proc.communicate()
        except BaseException:
            _stop(proc, tag)
            proc.communicate()
            raise
        finally:
            kill_tagged(tag)  # a server or worker that outlived its launcher
        duration = time.monotonic() - t0
        records = []
        for name in sorted(glob.glob(os.path.join(tmp, "record.*.json"))):
            try:
                with open(name, encoding="utf-8") as f:
                    records.append(json.load(f))
            except (OSError, ValueError):
                continue
    workers = sorted(
        (_result(r, script, framework, "", "") for r in records),
        key=lambda w: (w.record.get("rank") is None, w.record.get("rank") or 0),
    )
    run = DistributedRun(
        script, framework, nproc, proc.returncode, stdout, stderr, workers, duration, timed_out, tag=tag
    )
    launcher = "torchrun" if framework == "torch" else "torch2gluon.launch"
    if timed_out or proc.returncode == 124 and framework == "mxnet":
        run.error = f"timed out after {timeout:g}s"
    elif proc.returncode != 0:
        failed = [w for w in workers if w.error]
        run.error = f"{launcher} exited with {proc.returncode}" + (f" ({failed[0].error})" if failed else "")
    elif len(workers) != nproc:
        run.error = f"{len(workers)} of {nproc} workers wrote a record"
    elif sorted(r for r in run.ranks() if r is not None) != list(range(nproc)):
        run.error = f"the workers' ranks are {run.ranks()}, not 0..{nproc - 1}"
    return run


# ---------------------------------------------------------------------------
# inside the child (--distributed)
# ---------------------------------------------------------------------------


def install_rank_probe(framework: str):
    """A function giving this worker's rank once the script has made its process group.

    torch: torchrun's ``RANK``. mxnet: the rank the scheduler gave the
    distributed kvstore the script made (``mx.kv.create`` is watched).
    """
    if framework == "torch":
        return lambda: int(os.environ["RANK"]) if "RANK" in os.environ else None
    import mxnet.kvstore

    made: List[Any] = []
    create = mxnet.kvstore.create

    @functools.wraps(create)
    def watched(name: str = "local") -> Any:
        kv = create(name)
        if "dist" in str(name):
            made.append(kv)
        return kv

    mxnet.kvstore.create = watched

    def rank() -> Optional[int]:
        return int(made[0].rank) if made else None

    return rank


def install_torch_aligned_sampler() -> None:
    """torch's DistributedSampler shuffles with numpy's ``RandomState(seed + epoch)``
    (what the translation's DistributedSampler draws), padded and sharded by
    torch's own code: the shuffled positions are mapped through the permutation."""
    import numpy as np
    from torch.utils.data.distributed import DistributedSampler

    original = DistributedSampler.__iter__

    @functools.wraps(original)
    def aligned(self: Any) -> Any:
        if not self.shuffle:
            return original(self)
        perm = np.random.RandomState(self.seed + self.epoch).permutation(len(self.dataset))
        self.shuffle = False
        try:
            positions = list(original(self))
        finally:
            self.shuffle = True
        return iter(int(perm[i]) for i in positions)

    DistributedSampler.__iter__ = aligned  # type: ignore[method-assign]



# ---------------------------------------------------------------------------
# a pair of runs and the verdict
# ---------------------------------------------------------------------------


def run_pair(
    original: "os.PathLike[str] | str",
    translated: "os.PathLike[str] | str",
    nproc: int,
    *,
    aligned: bool = False,
    offline_mnist: bool = True,
    subset: Optional[int] = None,
    max_steps: Optional[int] = None,
    seed: int = 0,
    args: Sequence[str] = (),
    cwd: Optional[str] = None,
    timeout: float = 3600.0,
    quiet: bool = False,
    stream: Any = None,
):
    """Run ``original`` with torchrun, then ``translated`` with torch2gluon.launch, ``nproc`` workers each.

    Returns the two DistributedRuns, or None (after printing why) when a run failed.
    """
    stream = stream or sys.stderr
    with tempfile.TemporaryDirectory(prefix="t2g-align-") as align_dir:
        runs: List[DistributedRun] = []
        for framework, path, how in (("torch", original, "torchrun"), ("mxnet", translated, "torch2gluon.launch")):
            if not quiet:
                print(f"running {framework} ({nproc} workers, {how}) ...", file=stream, flush=True)
            run = run_distributed(
                path, framework, nproc, offline_mnist=offline_mnist, subset=subset, max_steps=max_steps, seed=seed,
                args=args, cwd=cwd or os.getcwd(), timeout=timeout, align=align_dir if aligned else None,
            )
            run.label = os.path.basename(os.fspath(original)) if framework == "torch" else "translation"
            rank0 = run.rank0
            if not quiet:
                steps = f"{rank0.num_steps} steps on rank 0" if rank0 is not None else "no record from rank 0"
                state = "ok" if run.ok else f"FAILED ({run.error})"
                print(f"  {framework}: {steps} in {run.duration:.1f}s, {state}", file=stream, flush=True)
            runs.append(run)
            if not run.ok or rank0 is None:
                print(f"the {framework} run failed: {run.error or 'rank 0 wrote no record'}", file=stream)
                tail = "\n".join(run.stderr.strip().splitlines()[-15:])
                if tail:
                    print(tail, file=stream)
                return None
    return runs[0], runs[1]


def _each_epoch(a: RunResult, b: RunResult) -> bool:
    """Every metric both printed was printed at most once per epoch, as often by both."""
    from .compare import printed_metrics

    epochs = max(len(a.epochs()), 1)
    counts_a: Dict[str, int] = {}
    counts_b: Dict[str, int] = {}
    for m in printed_metrics(a):
        counts_a[m.name] = counts_a.get(m.name, 0) + 1
    for m in printed_metrics(b):
        counts_b[m.name] = counts_b.get(m.name, 0) + 1
    return bool(counts_a) and counts_a == counts_b and max(counts_a.values()) <= epochs


def report(
    a: DistributedRun,
    b: DistributedRun,
    aligned: bool,
    tolerance: float,
    out: Any,
    quiet: bool = False,
    metric_tolerance: Optional[float] = None,
) -> int:
    """Compare rank 0 of both runs; the exit code of ``torch2gluon verify`` (0 agree, 1 differ, 3 not alignable)."""
    from .compare import compare_metrics, compare_steps, table
    from .harness import compare_epoch_means, epoch_means

    ra, rb = a.rank0, b.rank0
    assert ra is not None and rb is not None
    means_a, means_b = epoch_means(ra), epoch_means(rb)
    if not quiet:
        sizes = [len(e) for e in ra.epochs()]
        rows = [("epoch", "steps", "torch", "mxnet", "rel. diff")]
        for i in range(max(len(means_a), len(means_b))):
            x = means_a[i] if i < len(means_a) else float("nan")
            y = means_b[i] if i < len(means_b) else float("nan")
            scale = max(abs(x), abs(y))
            rel = abs(x - y) / scale if scale > 0 else 0.0
            rows.append((str(i), str(sizes[i]) if i < len(sizes) else "-", f"{x:.4f}", f"{y:.4f}",
                         "-" if math.isnan(rel) else f"{100 * rel:.2f}%"))
        print(f"rank 0 of {a.nproc} workers each (step losses of rank 0's own batches):", file=out)
        print(table(rows), file=out)
    verdict = True
    if aligned:
        reasons = [r for w in (*a.workers, *b.workers) for r in w.unaligned]
        if reasons:
            print(f"NOT ALIGNABLE: {'; '.join(sorted(set(reasons)))}", file=out)
            return 3
        steps = compare_steps(ra, rb, rtol=tolerance)
        verdict = steps.passed
        print(("AGREE: " if verdict else "DIFFER: ") + f"rank 0: {steps.describe()}", file=out)
    else:
        epochs = compare_epoch_means(ra, rb, rtol=tolerance)
        verdict = epochs.passed
        if epochs.passed:
            print(f"AGREE: rank 0's epoch mean losses agree within {tolerance:g} "
                  f"(largest difference {100 * epochs.max_rel_diff:.2f}%)", file=out)
        else:
            print(f"DIFFER: rank 0: {epochs.reason}", file=out)
    mtol = tolerance if metric_tolerance is None else metric_tolerance
    # epoch-level prints (an all_reduce'd epoch loss) are compared one by one in both modes
    each_epoch = _each_epoch(ra, rb)
    if each_epoch and not quiet:
        from .compare import printed_metrics

        pairs: Dict[str, List[str]] = {}
        values_b: Dict[str, List[float]] = {}
        for m in printed_metrics(rb):
            values_b.setdefault(m.name, []).append(m.value)
        for m in printed_metrics(ra):
            y = values_b[m.name][len(pairs.get(m.name, []))]
            rel = abs(m.value - y) / max(abs(m.value), abs(y)) if max(abs(m.value), abs(y)) > 0 else 0.0
            pairs.setdefault(m.name, []).append(f"{m.value:g} vs {y:g} ({100 * rel:.2f}%)")
        for name, shown in pairs.items():
            print(f"  printed by rank 0, {name} (torch vs mxnet): {', '.join(shown)}", file=out)
    metrics = compare_metrics(ra, rb, rtol=mtol, last_only=not aligned and not each_epoch)
    verdict = verdict and metrics.passed
    print(("  " if metrics.passed else "DIFFER: ") + f"rank 0: {metrics.describe()}", file=out)
    for note in metrics.notes:
        print(f"  note: {note}", file=out)
    printers_a, printers_b = a.printing_ranks(), b.printing_ranks()
    print(f"  metrics printed by ranks {printers_a} (torch) and {printers_b} (mxnet)", file=out)
    if len(printers_a) != len(printers_b):
        print(f"DIFFER: {len(printers_a)} torch process(es) printed metrics, {len(printers_b)} MXNet one(s)", file=out)
        verdict = False
    return 0 if verdict else 1
