"""``torch2gluon verify``: translate a script, run both, say whether they train alike.

::

    torch2gluon verify SCRIPT.py [--aligned] [--max-steps N] [--subset N]
        [--tolerance X] [--seed N] [--plot FILE.png] [--download]
        [--keep-translation PATH] [--timeout S] [--nproc N] [-- script args...]

The PyTorch script runs under torch and its translation under MXNet, each in
its own process, with the same arguments and working directory. The harness
records every optimizer step's loss from inside the process.

Natural mode (default): both run as written (own initialisation, own
shuffling); per-epoch mean losses and the last value of each metric both
print (loss, accuracy, ...) must agree within ``--tolerance`` (default 0.10,
relative).

Aligned mode (``--aligned``): both start from the same parameters (torch's
initial values copied into the Gluon parameters by order and shape), see the
same samples in the same order, with dropout off; every step's loss must
agree within ``--tolerance`` (default 1e-3), and printed metrics within
``--metric-tolerance`` (default 0.01, for BatchNorm's biased running variance
in MXNet). A script whose randomness cannot be aligned is reported as such.

Exit codes: 0 the runs agree; 1 they do not; 2 a run failed, the translation
is incomplete, or a usage error; 3 the runs could not be aligned.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from ..api import Options, translate
from .compare import compare_metrics, compare_steps, table
from .harness import RunResult, compare_epoch_means, epoch_means, run_script

# Float32 round-off differs between the frameworks and grows as training goes
# on. Measured on the reference MLP, aligned, full MNIST epoch: largest
# relative step-loss difference 6e-7 over steps 1-10, 1e-4 by step 100, first
# above 1e-3 at step 174, 8e-3 by step 469.
DRIFT_STEPS = 100
DRIFT_NOTE = (
    "float32 round-off between the frameworks grows during training (reference MLP: 1e-6 by step 10, "
    "1e-4 by step 100, 1e-3 near step 170); a late first difference may be that drift: compare fewer "
    "steps (--max-steps 100) or raise --tolerance"
)

# Printed evaluation metrics in aligned mode: MXNet's BatchNorm keeps the biased
# running variance (torch: unbiased), which cannot be configured away. Measured
# on fixtures/mlp_bn_eval.py (batch 64): test loss 0.4055 vs 0.4047 (0.2%) at
# step 30 while every training step agreed to 4e-6.
ALIGNED_METRIC_TOLERANCE = 0.01

EXIT_AGREE = 0
EXIT_DIFFER = 1
EXIT_FAILED = 2
EXIT_UNALIGNED = 3


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="torch2gluon verify",
        description="Translate a PyTorch training script, run the original under torch and the "
        "translation under MXNet, and compare how they train.",
        epilog="exit codes: 0 the runs agree, 1 they differ, 2 a run failed or the translation is "
        "incomplete (or a usage error), 3 the runs could not be aligned",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("script", help="the PyTorch script")
    p.add_argument("script_args", nargs="*", help="arguments for the script (after --)")
    p.add_argument("--aligned", action="store_true", help="same start, same sample order, no dropout; compare every step")
    p.add_argument("--max-steps", type=int, metavar="N", help="stop both runs after N optimizer steps")
    p.add_argument("--subset", type=int, metavar="N", help="give both runs only the first N MNIST training images")
    p.add_argument("--tolerance", type=float, metavar="X",
                   help="relative tolerance (default: 0.10 natural, 1e-3 aligned)")
    p.add_argument("--metric-tolerance", type=float, metavar="X",
                   help="relative tolerance for printed metrics (default: --tolerance in natural mode, "
                   "0.01 in aligned mode: MXNet's BatchNorm keeps a biased running variance, so "
                   "evaluation metrics differ a little even when every step agrees)")
    p.add_argument("--seed", type=int, default=0, help="seed both runs' generators before they start (default 0)")
    p.add_argument("--plot", metavar="FILE.png", help="write both loss curves to a PNG (needs matplotlib)")
    p.add_argument("--download", action="store_true",
                   help="let the scripts download their datasets as usual instead of the offline MNIST")
    p.add_argument("--keep-translation", metavar="PATH", help="also write the translation here")
    p.add_argument("--hybridize", action="store_true",
                   help="translate with --hybridize (HybridBlocks, hybridised after initialize)")
    p.add_argument("--timeout", type=float, default=3600.0, metavar="S", help="per run, in seconds (default 3600)")
    p.add_argument("--nproc", type=int, metavar="N",
                   help="a distributed script: run the original under torchrun --standalone --nproc_per_node=N "
                   "and the translation under python -m torch2gluon.launch -n N; compare rank 0")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the verdict")
    return p


class _Progress:
    """One updating line on a terminal; start and end lines otherwise."""

    def __init__(self, label: str, total: Optional[int], stream=sys.stderr, quiet: bool = False) -> None:
        self.label = label
        self.total = total
        self.stream = stream
        self.quiet = quiet
        self.tty = hasattr(stream, "isatty") and stream.isatty()

    def start(self) -> None:
        if not self.quiet and not self.tty:
            print(f"running {self.label} ...", file=self.stream, flush=True)

    def __call__(self, steps: int, loss: Optional[float]) -> None:
        if self.quiet or not self.tty:
            return
        of = f"/{self.total}" if self.total else ""
        value = f"  loss {loss:.4f}" if isinstance(loss, (int, float)) else ""
        self.stream.write(f"\r  {self.label}: step {steps}{of}{value}   ")
        self.stream.flush()

    def done(self, run: RunResult) -> None:
        if self.quiet:
            return
        if self.tty:
            self.stream.write("\r")
        state = "ok" if run.ok else f"FAILED ({run.error})"
        print(f"  {self.label}: {run.num_steps} steps in {run.duration:.1f}s, {state}" + " " * 10,
              file=self.stream, flush=True)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    # everything after `--` is the script's, wherever the options before it are
    # (argparse alone rejects `SCRIPT --option X -- args`)
    after: List[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, after = argv[:at], argv[at + 1:]
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else EXIT_FAILED
    args.script_args = [*args.script_args, *after]
    out = sys.stdout
    script = Path(args.script)
    if not script.is_file():
        print(f"{script}: error: no such file", file=sys.stderr)
        return EXIT_FAILED
    from ..base.source import SourceDecodeError, decode_source

    try:
        source, _, _, _ = decode_source(script.read_bytes())
    except SourceDecodeError as e:
        print(f"{script}:{e.line}:{e.column}: error: {e}", file=sys.stderr)
        return EXIT_FAILED
    result = translate(source, options=Options(hybridize=args.hybridize))
    for d in result.diagnostics:
        print(d.format(str(script)), file=sys.stderr)
    if not result.complete:
        print(f"{script}: the translation is incomplete ({len(result.errors)} untranslated); "
              "fix or translate those parts first", file=sys.stderr)
        return EXIT_FAILED
    if args.keep_translation:
        Path(args.keep_translation).write_text(result.code, encoding="utf-8")

    tolerance = args.tolerance if args.tolerance is not None else (1e-3 if args.aligned else 0.10)
    # The translation sits next to the original, so imports and relative paths behave the same.
    fd, translated = tempfile.mkstemp(prefix=f".{script.stem}.", suffix=".t2g.py", dir=script.resolve().parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(result.code)
    if args.nproc:
        return _distributed(args, script, translated, tolerance, out)
    try:
        runs = run_pair(
            script, translated, aligned=args.aligned, offline_mnist=not args.download, subset=args.subset,
            max_steps=args.max_steps, seed=args.seed, args=args.script_args, timeout=args.timeout,
            quiet=args.quiet,
        )
    finally:
        os.unlink(translated)
    if runs is None:
        return EXIT_FAILED
    a, b = runs
    metric_tolerance = args.metric_tolerance
    if metric_tolerance is None:
        metric_tolerance = ALIGNED_METRIC_TOLERANCE if args.aligned else tolerance
    code = report(a, b, args.aligned, tolerance, out, quiet=args.quiet, metric_tolerance=metric_tolerance)
    if args.plot:
        try:
            _plot(a, b, args.plot, args.aligned)
            if not args.quiet:
                print(f"loss curves written to {args.plot}", file=out)
        except ImportError:
            print("--plot needs matplotlib: pip install 'torch2gluon[verify]'", file=sys.stderr)
            return max(code, EXIT_FAILED)
    return code


def _distributed(args, script: Path, translated: str, tolerance: float, out) -> int:
    """``--nproc N``: both runs with N workers, rank 0 compared (torch2gluon.verify.distributed)."""
    from . import distributed

    try:
        runs = distributed.run_pair(
            script, translated, args.nproc, aligned=args.aligned, offline_mnist=not args.download,
            subset=args.subset, max_steps=args.max_steps, seed=args.seed, args=args.script_args,
            timeout=args.timeout, quiet=args.quiet,
        )
    finally:
        os.unlink(translated)
    if runs is None:
        return EXIT_FAILED
    a, b = runs
    metric_tolerance = args.metric_tolerance
    if metric_tolerance is None:
        metric_tolerance = ALIGNED_METRIC_TOLERANCE if args.aligned else tolerance
    code = distributed.report(a, b, args.aligned, tolerance, out, quiet=args.quiet, metric_tolerance=metric_tolerance)
    if args.plot and a.rank0 is not None and b.rank0 is not None:
        try:
            _plot(a.rank0, b.rank0, args.plot, args.aligned)
        except ImportError:
            print("--plot needs matplotlib: pip install 'torch2gluon[verify]'", file=sys.stderr)
            return max(code, EXIT_FAILED)
    return code


def run_pair(
    original: "os.PathLike[str] | str",
    translated: "os.PathLike[str] | str",
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
):
    """Run ``original`` under torch, then ``translated`` under MXNet.

    Returns the two RunResults, or None (after printing why) when a run failed.
    """
    with tempfile.TemporaryDirectory(prefix="t2g-align-") as align_dir:
        common: Dict[str, Any] = dict(
            offline_mnist=offline_mnist, subset=subset, max_steps=max_steps, seed=seed, args=list(args),
            cwd=cwd or os.getcwd(), timeout=timeout, align=align_dir if aligned else None,
        )
        runs: List[RunResult] = []
        for framework, path in (("torch", str(original)), ("mxnet", str(translated))):
            progress = _Progress(framework, max_steps, quiet=quiet)
            progress.start()
            run = run_script(path, framework, on_progress=progress, **common)
            run.label = Path(original).name if framework == "torch" else "translation"
            progress.done(run)
            runs.append(run)
            if not run.ok:
                print(f"the {framework} run failed: {run.error}", file=sys.stderr)
                tail = "\n".join(run.stderr.strip().splitlines()[-15:])
                if tail:
                    print(tail, file=sys.stderr)
                return None
    return runs[0], runs[1]


def _fmt(x: float) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4f}"


def report(
    a: RunResult,
    b: RunResult,
    aligned: bool,
    tolerance: float,
    out,
    quiet: bool = False,
    metric_tolerance: Optional[float] = None,
) -> int:
    means_a, means_b = epoch_means(a), epoch_means(b)
    rows = [("epoch", "steps", "torch", "mxnet", "rel. diff")]
    sizes = [len(e) for e in a.epochs()]
    for i in range(max(len(means_a), len(means_b))):
        x = means_a[i] if i < len(means_a) else float("nan")
        y = means_b[i] if i < len(means_b) else float("nan")
        rel = abs(x - y) / max(abs(x), abs(y)) if max(abs(x), abs(y)) > 0 else 0.0
        rows.append((str(i), str(sizes[i]) if i < len(sizes) else "-", _fmt(x), _fmt(y),
                     "-" if math.isnan(rel) else f"{100 * rel:.2f}%"))
    if not quiet:
        print(table(rows), file=out)

    metrics = compare_metrics(
        a, b, rtol=tolerance if metric_tolerance is None else metric_tolerance, last_only=not aligned
    )
    if aligned:
        reasons = a.unaligned + b.unaligned
        if reasons:
            print(f"NOT ALIGNABLE: {'; '.join(reasons)}", file=out)
            return EXIT_UNALIGNED
        steps = compare_steps(a, b, rtol=tolerance)
        verdict = steps.passed and metrics.passed
        print(("AGREE: " if verdict else "DIFFER: ") + steps.describe(), file=out)
        if steps.first_divergence is not None and steps.first_divergence[0] > DRIFT_STEPS:
            print(f"  note: {DRIFT_NOTE}", file=out)
    else:
        epochs = compare_epoch_means(a, b, rtol=tolerance)
        verdict = epochs.passed and metrics.passed
        if epochs.passed:
            print(f"{'AGREE' if verdict else 'DIFFER'}: epoch mean losses agree within {tolerance:g} "
                  f"(largest difference {100 * epochs.max_rel_diff:.2f}%)", file=out)
        else:
            print(f"DIFFER: {epochs.reason}", file=out)
    if not quiet or not metrics.passed:
        print(("  " if metrics.passed else "DIFFER: ") + metrics.describe(), file=out)
    for note in metrics.notes:
        print(f"  note: {note}", file=out)
    return EXIT_AGREE if verdict else EXIT_DIFFER


def _plot(a: RunResult, b: RunResult, path: str, aligned: bool) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for run, style in ((a, "-"), (b, "--")):
        xs = [i + 1 for i, v in enumerate(run.losses) if v is not None]
        ys = [v for v in run.losses if v is not None]
        ax.plot(xs, ys, style, linewidth=1, label=f"{run.framework}: {run.label or Path(run.script).name}", alpha=0.8)
    for s in a.epoch_starts[1:]:
        ax.axvline(s + 0.5, color="grey", linewidth=0.5, linestyle=":")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss")
    ax.set_yscale("log")
    ax.set_title(f"torch vs MXNet translation ({'aligned' if aligned else 'natural'} mode)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
