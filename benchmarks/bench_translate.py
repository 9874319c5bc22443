"""Translation throughput of torch2gluon, in lines per second, on one core.

Run from the repository root::

    .venv/bin/python benchmarks/bench_translate.py            # best of 3
    .venv/bin/python benchmarks/bench_translate.py --quick    # best of 1
    .venv/bin/python benchmarks/bench_translate.py --profile  # + phase timers, cProfile of translate()
    .venv/bin/python benchmarks/bench_translate.py --profile-only
    .venv/bin/python benchmarks/bench_translate.py --extra ~/src/scripts

For every corpus, on the same files in the same run, it times:

``translate``
    ``torch2gluon.translate(src)`` end to end (parse, metadata, rules,
    imports, black on the changed statements, markers, the final
    ``ast.parse`` check), with the default options.
``round-trip``
    libcst's bare ``parse_module(src).code``: the floor for any libcst tool.
``+qualnames``
    ``parse_module`` + ``MetadataWrapper(module, unsafe_skip_copy=True)
    .resolve(QualifiedNameProvider)``, for context: libcst's name resolution
    over the whole file (expression contexts, scopes, then a qualified-name
    pass over every node). The engine resolves scopes the same way but asks
    for qualified names only where a torch import could be meant, so this
    bounds its name resolution from above.
``black``
    ``black.format_str(src)`` on the whole file, for context.

Each number is the best of N repeats (N=3, or 1 with --quick) of the summed
per-file ``time.perf_counter`` times, after one warm-up run of every operation
(imports, rule discovery, caches). Within a repeat the four operations take
turns file by file, so a load that comes and goes slows them alike and the
ratio stays meaningful; the CPU/wall line says whether the run had a core to
itself. Nothing is asserted: this reports numbers.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import black  # noqa: E402
import libcst as cst  # noqa: E402
from libcst.metadata import MetadataWrapper, QualifiedNameProvider  # noqa: E402

import corpus as corpus_mod  # noqa: E402
from torch2gluon import translate  # noqa: E402

BLACK_MODE = black.Mode()


# ---------------------------------------------------------------------------
# What is timed
# ---------------------------------------------------------------------------


def op_translate(src: str):
    return translate(src)


def op_roundtrip(src: str):
    try:
        return cst.parse_module(src).code
    except cst.ParserSyntaxError:  # an --extra file that does not parse
        return None


def op_qualnames(src: str):
    try:
        module = cst.parse_module(src)
    except cst.ParserSyntaxError:
        return None
    return MetadataWrapper(module, unsafe_skip_copy=True).resolve(QualifiedNameProvider)


def op_black(src: str):
    try:
        return black.format_str(src, mode=BLACK_MODE)
    except Exception:  # black refuses some inputs; the time spent still counts
        return None


OPS: List[Tuple[str, Callable[[str], object]]] = [
    ("translate", op_translate),
    ("round-trip", op_roundtrip),
    ("+qualnames", op_qualnames),
    ("black", op_black),
]


# ---------------------------------------------------------------------------
# Corpora
# ---------------------------------------------------------------------------


@dataclass
class Source:
    name: str
    text: str
    groups: Tuple[str, ...]  # the table rows this file counts in

    @property
    def lines(self) -> int:
        return len(self.text.splitlines())


@dataclass
class Row:
    name: str
    files: int = 0
    lines: int = 0
    # op -> list of per-repeat wall times (seconds)
    times: Dict[str, List[float]] = field(default_factory=dict)

    def best(self, op: str) -> float:
        return min(self.times[op])


def read_dir(directory: Path, recursive: bool) -> List[Tuple[str, str]]:
    paths = sorted(directory.rglob("*.py") if recursive else directory.glob("*.py"))
    out = []
    for p in paths:
        if not p.is_file():
            continue
        try:
            out.append((str(p.relative_to(directory)), p.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as e:
            print(f"skipping {p}: {e}", file=sys.stderr)
    return out


def collect(extra_dirs: Sequence[str], seed: int, n_files: int) -> Tuple[List[Source], List[str], List[corpus_mod.CorpusFile]]:
    sources: List[Source] = []
    rows: List[str] = []

    fixtures = REPO / "fixtures"
    found = read_dir(fixtures, recursive=False) if fixtures.is_dir() else []
    if found:
        rows.append("fixtures")
        sources += [Source(f"fixtures/{n}", t, ("fixtures",)) for n, t in found]

    generated = corpus_mod.generate(seed=seed, n_files=n_files)
    sub = {
        corpus_mod.KIND_TORCH: "  uses torch",
        corpus_mod.KIND_PLAIN: "  no torch",
        corpus_mod.KIND_MENTIONS: "  no torch, says 'torch'",
    }
    rows.append("generated")
    rows += [sub[k] for k in (corpus_mod.KIND_TORCH, corpus_mod.KIND_PLAIN, corpus_mod.KIND_MENTIONS)
             if any(f.kind == k for f in generated)]
    sources += [Source(f"generated/{f.name}", f.source, ("generated", sub[f.kind])) for f in generated]

    for d in extra_dirs:
        path = Path(d).expanduser()
        if not path.is_dir():
            print(f"--extra {d}: not a directory, skipped", file=sys.stderr)
            continue
        found = read_dir(path, recursive=True)
        if not found:
            print(f"--extra {d}: no .py files, skipped", file=sys.stderr)
            continue
        label = f"extra: {path.name or d}"
        rows.append(label)
        sources += [Source(f"{label}/{n}", t, (label,)) for n, t in found]
    return sources, rows, generated


# ---------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------


def warm_up(sources: List[Source]) -> None:
    """Every operation once on a few files of every kind: imports, rule
    discovery, libcst/black lazy initialisation."""
    picked: Dict[Tuple[str, ...], int] = {}
    sample = []
    for s in sources:
        if picked.get(s.groups, 0) < 3:
            picked[s.groups] = picked.get(s.groups, 0) + 1
            sample.append(s)
    for _, fn in OPS:
        for s in sample:
            fn(s.text)


def run_timed(sources: List[Source], row_names: List[str], repeats: int) -> Tuple[Dict[str, Row], Dict[str, float]]:
    """Best of ``repeats``. Within a repeat the operations take turns file by
    file, so a load that comes and goes hits all of them alike and the ratio
    between them stays meaningful on a shared machine."""
    rows = {name: Row(name) for name in row_names}
    for s in sources:
        for g in s.groups:
            rows[g].files += 1
            rows[g].lines += s.lines
    cpu_wall = {"cpu": 0.0, "wall": 0.0}
    perf = time.perf_counter
    for rep in range(repeats):
        acc = {op: collections.defaultdict(float) for op, _ in OPS}
        gc.collect()
        c0, w0 = time.process_time(), perf()
        for s in sources:
            for op, fn in OPS:
                t0 = perf()
                fn(s.text)
                dt = perf() - t0
                for g in s.groups:
                    acc[op][g] += dt
        cpu_wall["cpu"] += time.process_time() - c0
        cpu_wall["wall"] += perf() - w0
        for op, _ in OPS:
            for name, row in rows.items():
                row.times.setdefault(op, []).append(acc[op][name])
        top = [n for n in row_names if not n.startswith(" ")]
        print(f"  repeat {rep + 1}/{repeats}: " + ", ".join(f"{op} {sum(acc[op][n] for n in top):.2f} s" for op, _ in OPS),
              file=sys.stderr, flush=True)
    return rows, cpu_wall


def format_table(rows: Dict[str, Row], row_names: List[str]) -> str:
    head = ["corpus", "files", "lines"] + [f"{op} l/s" for op, _ in OPS] + ["translate/round-trip"]
    table = [head]
    for name in row_names:
        r = rows[name]
        cells = [name, str(r.files), str(r.lines)]
        for op, _ in OPS:
            best = r.best(op)
            cells.append(f"{r.lines / best:,.0f}" if best > 0 else "-")
        rt = r.best("round-trip")
        ratio = r.best("translate") / rt if rt > 0 else None
        cells.append("-" if ratio is None else f"{ratio:.1f}x" if ratio >= 1 else f"{ratio:.3f}x")
        table.append(cells)
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    lines = []
    for i, row in enumerate(table):
        lines.append("  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths))))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_times(rows: Dict[str, Row], row_names: List[str]) -> str:
    """Best total seconds and ms per file, for the record."""
    out = []
    for name in row_names:
        r = rows[name]
        parts = []
        for op, _ in OPS:
            best = r.best(op)
            parts.append(f"{op} {best:.3f}s ({1000 * best / max(1, r.files):.1f} ms/file)")
        out.append(f"{name.strip():<24s} " + ", ".join(parts))
    return "\n".join(out)


# ---------------------------------------------------------------------------
# What the translator did with the corpus (a sanity check on the corpus)
# ---------------------------------------------------------------------------


def translation_summary(sources: List[Source], row_names: List[str]) -> str:
    out = []
    for name in row_names:
        if name.startswith(" "):
            continue
        group = [s for s in sources if name in s.groups]
        changed = 0
        rules: collections.Counter = collections.Counter()
        failed = 0
        for s in group:
            t = translate(s.text)
            changed += t.changed
            rules.update(d.rule for d in t.diagnostics)
            failed += any(d.rule in ("T2G000", "T2G999") for d in t.diagnostics)
        diag = ", ".join(f"{k} x{v}" for k, v in sorted(rules.items())) or "none"
        out.append(f"{name}: {changed}/{len(group)} files changed, {failed} failed (T2G000/T2G999); diagnostics: {diag}")
    return "\n".join(out)


# ---------------------------------------------------------------------------
# Profile
# ---------------------------------------------------------------------------

class _Phases:
    """Exclusive CPU time per phase path ("translate > imports.finish > ...")."""

    def __init__(self) -> None:
        self.acc: Dict[str, float] = collections.defaultdict(float)
        self.calls: Dict[str, int] = collections.defaultdict(int)
        self.stack: List[List] = []  # [path, start, time spent in child phases]
        self.clock = time.process_time

    def begin(self, name: str) -> None:
        path = f"{self.stack[-1][0]} > {name}" if self.stack else name
        self.stack.append([path, self.clock(), 0.0])

    def end(self) -> None:
        path, start, child = self.stack.pop()
        elapsed = self.clock() - start
        self.acc[path] += elapsed - child
        self.calls[path] += 1
        if self.stack:
            self.stack[-1][2] += elapsed

    def wrap(self, name: str, fn: Callable) -> Callable:
        def timed(*args, **kwargs):
            self.begin(name)
            try:
                return fn(*args, **kwargs)
            finally:
                self.end()

        timed.__wrapped__ = fn  # type: ignore[attr-defined]
        return timed


class _Proxy:
    """A module stand-in: one attribute replaced, everything else passed through."""

    def __init__(self, module, **replaced) -> None:
        self._module = module
        self.__dict__.update(replaced)

    def __getattr__(self, name: str):
        return getattr(self._module, name)


def phase_breakdown(files: List[corpus_mod.CorpusFile]) -> str:
    """Time the engine's phases with timers patched into its module globals.

    Cheaper and more faithful than cProfile (a few hundred timer calls per
    file instead of millions of hooks), but it depends on the engine's
    internal names: a name that no longer exists is skipped and listed.
    """
    import ast as ast_mod

    import torch2gluon.engine as engine
    from torch2gluon.engine import formatting, imports, markers

    ph = _Phases()
    patches: List[Tuple[object, str, object]] = []  # (owner, attribute, original)
    missing: List[str] = []

    def patch(owner, attr: str, label: str, make=None) -> None:
        if not hasattr(owner, attr):
            missing.append(f"{getattr(owner, '__name__', owner)}.{attr}")
            return
        original = getattr(owner, attr)
        patches.append((owner, attr, original))
        setattr(owner, attr, make(original) if make else ph.wrap(label, original))

    def timed_walk(original):
        def walk(node):
            ph.begin("engine._walk (presence walk over the output tree)")
            try:
                nodes = list(original(node))
            finally:
                ph.end()
            return iter(nodes)

        return walk

    def timed_wrapper_class(original):
        class TimedMetadataWrapper(original):  # type: ignore[misc, valid-type]
            def resolve(self, provider):
                ph.begin(f"metadata: resolve({provider.__name__})")
                try:
                    return super().resolve(provider)
                finally:
                    ph.end()

        return TimedMetadataWrapper

    def timed_engine_class(original):
        class TimedEngine(original):  # type: ignore[misc, valid-type]
            def on_visit(self, node):
                if type(node) is cst.Module:
                    ph.begin("rules pass: module.visit(_Engine)")
                return super().on_visit(node)

            def on_leave(self, original_node, updated_node):
                result = super().on_leave(original_node, updated_node)
                if type(original_node) is cst.Module:
                    ph.end()
                return result

        return TimedEngine

    def timed_property(original):
        return property(ph.wrap("Module.code (codegen)", original.fget))

    patch(cst, "parse_module", "libcst.parse_module")
    # MetadataWrapper and black wherever a torch2gluon module imported them
    package = [m for name, m in sorted(sys.modules.items()) if name.split(".")[0] == "torch2gluon" and m is not None]
    timed_wrapper = None
    for module in package:
        if vars(module).get("MetadataWrapper") is MetadataWrapper:
            if timed_wrapper is None:
                timed_wrapper = timed_wrapper_class(MetadataWrapper)
            patch(module, "MetadataWrapper", "", lambda _original: timed_wrapper)
        if vars(module).get("black") is black:
            patch(module, "black", "", lambda b: _Proxy(b, format_str=ph.wrap("black.format_str", b.format_str)))
    patch(engine, "_Engine", "", timed_engine_class)
    patch(engine, "_walk", "", timed_walk)
    patch(engine, "_report_untranslated", "engine._report_untranslated")
    patch(imports, "find_torch_imports", "imports.find_torch_imports")
    patch(imports, "finish", "imports.finish")
    patch(imports, "separate", "imports.separate")
    patch(formatting, "format_changed", "formatting.format_changed")
    patch(markers, "attach", "markers.attach")
    patch(engine, "ast", "", lambda a: _Proxy(a, parse=ph.wrap("ast.parse (output check)", a.parse)))
    # Module.code is a property on the class
    original_code = cst.Module.__dict__.get("code")
    if isinstance(original_code, property):
        cst.Module.code = timed_property(original_code)  # type: ignore[misc]
    else:
        missing.append("libcst.Module.code")
    try:
        texts = [f.source for f in files]
        for t in texts[:5]:  # the patched code paths once, untimed
            translate(t)
        ph.acc.clear()
        ph.calls.clear()
        gc.collect()
        timed_translate = ph.wrap("translate", translate)
        for t in texts:
            timed_translate(t)
    finally:
        for owner, attr, original in reversed(patches):
            setattr(owner, attr, original)
        if isinstance(original_code, property):
            cst.Module.code = original_code  # type: ignore[misc]

    total = sum(ph.acc.values())
    n_torch = sum(1 for f in files if f.kind == corpus_mod.KIND_TORCH)
    lines = sum(f.lines for f in files)
    out = [
        f"Phases of translate() over the generated corpus ({len(files)} files, {lines} lines, "
        f"{n_torch} use torch): {total:.2f} s CPU, {lines / total:,.0f} lines/s with the timers in place.",
        "Exclusive CPU time (a phase's sub-phases are listed under it, not counted in it);",
        "'translate' alone is the glue: fast path, Context, rule set-up, the set comprehensions.",
        "",
    ]
    width = max([len("phase")] + [2 * p.count(" > ") + len(p.split(" > ")[-1]) for p in ph.acc])
    out.append(f"  {'phase':<{width}s} {'CPU s':>7s} {'share':>6s} {'ms/torch file':>13s} {'calls':>6s}")

    def order(path: str):
        # parents before children, then by time
        parts = path.split(" > ")
        keys = []
        for i in range(1, len(parts) + 1):
            prefix = " > ".join(parts[:i])
            keys.append(-sum(v for k, v in ph.acc.items() if k == prefix or k.startswith(prefix + " > ")))
        return keys

    for path in sorted(ph.acc, key=order):
        depth = path.count(" > ")
        name = "  " * depth + path.split(" > ")[-1]
        secs = ph.acc[path]
        out.append(
            f"  {name:<{width}s} {secs:7.3f} {100 * secs / total:5.1f}% {1000 * secs / max(1, n_torch):13.1f} {ph.calls[path]:6d}"
        )
    if missing:
        out.append(f"  (not found, so not timed: {', '.join(missing)})")
    return "\n".join(out)


def profile(files: List[corpus_mod.CorpusFile], top: int = 25) -> str:
    texts = [f.source for f in files]
    # The default (wall-clock) timer: a CPU-time timer is a system call on Linux,
    # and millions of them would swamp the profile.
    prof = cProfile.Profile()
    gc.collect()
    prof.enable()
    for t in texts:
        translate(t)
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    total = sum(tt for (_cc, _nc, tt, _ct, _c) in stats.stats.values())  # type: ignore[attr-defined]
    lines = sum(f.lines for f in files)
    out.write(f"cProfile of translate() over the generated corpus: {len(files)} files, {lines} lines, "
              f"{total:.2f} s profiled (profiling slows everything down, so compare shares, not seconds)\n\n")
    for key, title in (("cumulative", "cumulative time"), ("tottime", "total (own) time")):
        out.write(f"Top {top} functions by {title}:\n")
        stats.sort_stats(key).print_stats(top)
    out.write("Top functions inside torch2gluon by cumulative time:\n")
    stats.sort_stats("cumulative").print_stats(r"torch2gluon", top)
    return out.getvalue()


# ---------------------------------------------------------------------------


def environment() -> str:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10).stdout.strip()
        except Exception:
            return "?"

    commit = git("rev-parse", "--short", "HEAD") or "?"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    try:
        cpus = len(os.sched_getaffinity(0))  # type: ignore[attr-defined]
    except AttributeError:
        cpus = os.cpu_count() or 0
    import libcst

    libcst_version = getattr(libcst, "__version__", None)
    if libcst_version is None:
        from importlib.metadata import version

        libcst_version = version("libcst")
    return (
        f"python {platform.python_version()} ({platform.machine()}), libcst {libcst_version}, "
        f"black {black.__version__} ({'compiled' if black.__file__.endswith(('.so', '.pyd')) else 'pure Python'}), "
        f"{cpus} CPUs available, load average {load}\n"
        f"torch2gluon at {commit}{' + uncommitted changes' if dirty else ''}"
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="one repeat instead of three")
    p.add_argument("--repeats", type=int, default=None, help="repeats (best of N); default 3, 1 with --quick")
    p.add_argument("--profile", action="store_true", help="also time the engine's phases and cProfile translate() over the generated corpus")
    p.add_argument("--profile-only", action="store_true", help="--profile without the throughput table")
    p.add_argument("--extra", action="append", default=[], metavar="DIR", help="add the .py files under DIR as a corpus")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated corpus (default 0)")
    p.add_argument("--files", type=int, default=50, help="files in the generated corpus (default 50)")
    p.add_argument("--pin", type=int, default=None, metavar="CPU", help="pin the process to this CPU (Linux)")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = p.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 3)

    if args.pin is not None:
        os.sched_setaffinity(0, {args.pin})  # type: ignore[attr-defined]

    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(environment())
    sources, row_names, generated = collect(args.extra, args.seed, args.files)
    if not any(s.groups[0] == "fixtures" for s in sources):
        print("fixtures/: no .py files yet, so no fixtures row")
    print(corpus_mod.describe(generated))
    if not args.profile_only:
        print(f"warming up, then best of {repeats} repeat(s) ...", flush=True)

    warm_up(sources)
    if args.profile_only:
        print()
        print(phase_breakdown(generated))
        print()
        print(profile(generated))
        return 0
    rows, cpu_wall = run_timed(sources, row_names, repeats)

    print()
    print(format_table(rows, row_names))
    print()
    print("best times:")
    print(format_times(rows, row_names))
    print()
    ratio = cpu_wall["cpu"] / cpu_wall["wall"] if cpu_wall["wall"] else float("nan")
    load_after = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"CPU time / wall time over the timed runs: {ratio:.3f} "
          "(near 1.0: the benchmark had a core to itself; lower: it waited for the CPU)")
    if load_before and load_after:
        print(f"load average (1 min) before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    print()
    print("what translate() did:")
    print(translation_summary(sources, row_names))

    if args.json:
        data = {
            "environment": environment(),
            "repeats": repeats,
            "cpu_over_wall": ratio,
            "rows": [
                {
                    "corpus": name.strip(),
                    "files": rows[name].files,
                    "lines": rows[name].lines,
                    "best_seconds": {op: rows[name].best(op) for op, _ in OPS},
                    "lines_per_second": {op: rows[name].lines / rows[name].best(op) for op, _ in OPS if rows[name].best(op) > 0},
                    "all_seconds": rows[name].times,
                }
                for name in row_names
            ],
        }
        Path(args.json).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

    if args.profile:
        print()
        print(phase_breakdown(generated))
        print()
        print(profile(generated))
    return 0


if __name__ == "__main__":
    sys.exit(main())
