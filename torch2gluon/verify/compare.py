"""Comparing two recorded runs: step by step (aligned mode) and printed metrics.

Only the standard library; works on :class:`~torch2gluon.verify.harness.RunResult`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

from .harness import RunResult

__all__ = ["StepComparison", "compare_steps", "Metric", "MetricComparison", "printed_metrics", "compare_metrics"]


@dataclass
class StepComparison:
    """Per-step losses of two aligned runs."""

    compared: int
    rtol: float
    atol: float
    #: (1-based step, value a, value b) of the first step outside the tolerance
    first_divergence: Optional[Tuple[int, float, float]] = None
    max_rel_diff: float = 0.0
    max_rel_step: int = 0
    reason: str = ""

    @property
    def passed(self) -> bool:
        return not self.reason

    def describe(self) -> str:
        if self.first_divergence is not None:
            step, a, b = self.first_divergence
            return f"step {step} is the first to differ: {a:.6g} vs {b:.6g} (rtol {self.rtol:g})"
        if self.reason:
            return self.reason
        return (
            f"all {self.compared} steps agree within rtol {self.rtol:g} "
            f"(largest relative difference {self.max_rel_diff:.2g}, at step {self.max_rel_step})"
        )


def _rel(a: float, b: float) -> float:
    scale = max(abs(a), abs(b))
    return 0.0 if scale == 0 else abs(a - b) / scale


def compare_steps(a: RunResult, b: RunResult, rtol: float = 1e-3, atol: float = 1e-6) -> StepComparison:
    """Passes when both runs took the same number of steps and every step's
    loss agrees: ``|a - b| <= atol + rtol * max(|a|, |b|)``."""
    la, lb = a.losses, b.losses
    n = min(len(la), len(lb))
    result = StepComparison(compared=n, rtol=rtol, atol=atol)
    for i in range(n):
        x, y = la[i], lb[i]
        if x is None or y is None:
            continue
        if not (math.isfinite(x) and math.isfinite(y)) or abs(x - y) > atol + rtol * max(abs(x), abs(y)):
            result.first_divergence = (i + 1, x, y)
            result.reason = result.describe()
            return result
        r = _rel(x, y)
        if r > result.max_rel_diff:
            result.max_rel_diff, result.max_rel_step = r, i + 1
    if n == 0:
        result.reason = "no steps recorded"
    elif len(la) != len(lb):
        result.reason = f"step count differs: {len(la)} vs {len(lb)}"
    return result


_METRIC = re.compile(
    r"(?i)(?:\b([a-z]+)[ _-])?\b(loss|acc(?:uracy)?|err(?:or)?|perplexity|ppl|precision|recall|f1)\b"
    r"[^0-9\n]{0,20}?([-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)"
)


@dataclass(frozen=True)
class Metric:
    name: str
    value: float
    decimals: int  # digits after the point as printed
    step: int  # steps done when it was printed
    line: str


def printed_metrics(run: RunResult) -> List[Metric]:
    """Numbers the script printed after a metric word (loss, acc, accuracy, error, ...)."""
    out = []
    for step, line in run.printed:
        for m in _METRIC.finditer(line):
            text = m.group(3)
            mantissa = text.lower().split("e")[0]
            decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
            name = m.group(2).lower()
            name = {"acc": "accuracy", "err": "error", "ppl": "perplexity"}.get(name, name)
            if m.group(1):  # "test loss" and "train loss" are different metrics
                name = f"{m.group(1).lower()} {name}"
            out.append(Metric(name, float(text), decimals, step, line.strip()))
    return out


@dataclass
class MetricComparison:
    compared: int = 0
    rtol: float = 0.1
    #: (metric of a, metric of b) of the first pair outside the tolerance
    first_divergence: Optional[Tuple[Metric, Metric]] = None
    notes: List[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.first_divergence is None

    def describe(self) -> str:
        if self.first_divergence is not None:
            x, y = self.first_divergence
            return f"printed {x.name} differs after step {x.step}: {x.value:g} vs {y.value:g} ({x.line!r} vs {y.line!r})"
        return f"{self.compared} printed metrics agree within rtol {self.rtol:g}" if self.compared else "no printed metrics to compare"


def compare_metrics(a: RunResult, b: RunResult, rtol: float, last_only: bool = False) -> MetricComparison:
    """Pairs the k-th printed value of each metric name in both runs and compares them.

    A printed value is rounded, so half a unit in its last printed digit is
    allowed on top of ``rtol``. With ``last_only`` (natural mode, where the
    runs see different samples in a different order, so single-batch values
    are not comparable) only the last value of each metric is compared, and
    for a metric printed more than ``SMOOTHED`` times (a running batch loss)
    the mean of its last ``SMOOTHED`` values.
    """
    ma, mb = printed_metrics(a), printed_metrics(b)
    if last_only:
        ma, mb = _last_of_each(ma), _last_of_each(mb)
    result = MetricComparison(rtol=rtol)
    by_name_b: dict = {}
    for m in mb:
        by_name_b.setdefault(m.name, []).append(m)
    seen: dict = {}
    for x in ma:
        k = seen.get(x.name, 0)
        seen[x.name] = k + 1
        ys = by_name_b.get(x.name, [])
        if k >= len(ys):
            continue
        y = ys[k]
        rounding = 0.5 * 10.0 ** -min(x.decimals, y.decimals)
        result.compared += 1
        if abs(x.value - y.value) > rounding + rtol * max(abs(x.value), abs(y.value)):
            result.first_divergence = (x, y)
            return result
    counts_a = {n: c for n, c in seen.items()}
    counts_b = {n: len(v) for n, v in by_name_b.items()}
    if counts_a != counts_b:
        result.notes.append(f"printed metric counts differ: {counts_a} vs {counts_b}")
    return result


SMOOTHED = 10


def _last_of_each(metrics: List[Metric]) -> List[Metric]:
    by_name: dict = {}
    for m in metrics:
        by_name.setdefault(m.name, []).append(m)
    out = []
    for m in metrics:
        values = by_name[m.name]
        if values[-1] is not m:
            continue
        if len(values) > SMOOTHED:
            tail = values[-SMOOTHED:]
            mean = sum(v.value for v in tail) / len(tail)
            m = Metric(m.name, mean, max(v.decimals for v in tail), m.step,
                       f"mean of the last {len(tail)} printed {m.name} values, up to: {m.line}")
        out.append(m)
    return out


def table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.rjust(w) if j else c.ljust(w) for j, (c, w) in enumerate(zip(r, widths))) for r in rows)
