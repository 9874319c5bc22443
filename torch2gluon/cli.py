"""The ``torch2gluon`` command line: translate files, directories or stdin.

Usage, modelled on black, pyupgrade and ruff::

    torch2gluon train.py                 # print the translation to stdout
    torch2gluon train.py -o train_mx.py  # write it to a file
    torch2gluon src/ -o src_mx/          # mirror a tree (files without torch are copied)
    torch2gluon src/ --in-place          # rewrite files atomically
    torch2gluon src/ --diff              # show a unified diff, change nothing
    torch2gluon src/ --check             # exit 1 if anything would be translated
    cat train.py | torch2gluon -         # stdin to stdout
    torch2gluon src/ --check --report r.json         # JSON report (docs/report.schema.json)
    torch2gluon src/ --check --report r.sarif --format sarif
    torch2gluon src/ --in-place -j 4     # four worker processes, same output as serial
    torch2gluon rules [T2G201]           # the rules reference (torch2gluon.rulesdoc)
    torch2gluon nb.ipynb -o nb_mx.ipynb  # a notebook: its code cells as one program
    torch2gluon lsp                      # a language server on stdio (torch2gluon.lsp)

Diagnostics go to stderr, one per line, as ``path:line:col: severity rule message``,
and every run ends with a summary line: files translated/unchanged/failed,
diagnostics (how many left code untranslated), torch call sites found and
translated, and the conversion rate (how they are counted: ``torch2gluon.report``).

Settings come from ``[tool.torch2gluon]`` in the nearest ``pyproject.toml``
(``torch2gluon.config``); command-line flags override them.

Exit codes (when several apply, the highest wins):

    0    done, and every translation is complete
    1    --check/--diff found files that would change, or some translation is
         incomplete (an error diagnostic: code left untranslated), or, with
         --exit-non-zero-on-fix, a file was translated (pre-commit's contract)
    2    usage error, or a file could not be read, decoded, parsed or written
    123  internal error (the translator crashed on a file)

A file with a syntax error (diagnostic T2G000), one that cannot be read or
decoded, and one the translator crashed on (an exception, or diagnostic
T2G999) counts as failed: its output is not written and the other files are
still processed. ``--in-place`` refuses read-only files (exit 2) unless
``--force``; FIFOs and devices are never opened; symlink loops are reported
(README.md, "Command line", lists every hostile input).

All I/O happens in ``main`` and the few functions it calls; ``decode_source``,
``encode_source``, ``unified_diff``, ``format_summary`` and
``iter_python_files`` are small helpers that can be tested on their own.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from dataclasses import dataclass
from typing import Iterable, Iterator, List, Optional, Sequence, Tuple, cast

from . import __version__
from .api import Options, Translation, translate
from .config import (
    DEFAULT_INCLUDE,
    Config,
    ConfigError,
    find_config,
    load_config,
    path_selected,
)
from .base.diagnostics import Diagnostic, Severity
from .base.source import SourceDecodeError, decode_source, detect_newline, encode_source
from .files import (
    Progress,
    atomic_write,
    in_workers,
    iter_python_files,
    not_regular,
    read_only,
    unified_diff,
    write_if_different,
)
from .notebook import NotebookSupportMissing, NotebookTranslation, is_notebook, notebook_diff, translate_notebook
from .report import CallCounts, FileReport, build_json_report, build_sarif, count_calls, format_summary

__all__ = [
    "main",
    "decode_source",
    "encode_source",
    "detect_newline",
    "unified_diff",
    "format_summary",
    "iter_python_files",
    "atomic_write",
    "SourceDecodeError",
    "EXIT_OK",
    "EXIT_CHANGED",
    "EXIT_ERROR",
    "EXIT_INTERNAL",
]

EXIT_OK = 0
EXIT_CHANGED = 1  # would change (--check/--diff) or translation incomplete
EXIT_ERROR = 2  # usage error, or input that cannot be read, decoded or parsed
EXIT_INTERNAL = 123  # the translator crashed

from .base.diagnostics import INTERNAL_ERROR as INTERNAL_ERROR_RULE  # noqa: E402
from .base.diagnostics import SYNTAX_ERROR as SYNTAX_ERROR_RULE  # noqa: E402
STDIN = "-"
STDIN_NAME = "<stdin>"

EXIT_CODES_HELP = """\
exit codes (when several apply, the highest wins):
  0    done, and every translation is complete
  1    --check/--diff found files that would change, or some translation
       is incomplete (an error diagnostic: code left untranslated), or,
       with --exit-non-zero-on-fix, a file was translated
  2    usage error, or a file could not be read, decoded, parsed or written
  123  internal error (the translator crashed on a file)
"""


# --------------------------------------------------------------------------
# Pure helpers
# --------------------------------------------------------------------------


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="torch2gluon",
        description="Rewrite PyTorch training scripts into MXNet Gluon scripts. "
        "Also: 'torch2gluon rules [ID]' (the rules reference), "
        "'torch2gluon verify SCRIPT' (run original and translation side by side) and "
        "'torch2gluon lsp' (a language server for editors, on stdio).",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="files and directories to translate (directories are searched for *.py and "
        "*.ipynb); "
        "'-' reads stdin and writes stdout",
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="write the translation here: a file for one input file, otherwise a "
        "directory that mirrors the input tree (files without torch are copied)",
    )
    target.add_argument(
        "--in-place", action="store_true", help="rewrite the files in place"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="with --in-place, also rewrite read-only files (they keep their "
        "permission bits); without it they are refused (exit 2)",
    )
    parser.add_argument(
        "--diff",
        action="store_true",
        help="print a unified diff of the changes; write nothing",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if any file would be translated",
    )
    parser.add_argument(
        "--stdin-filename",
        metavar="NAME",
        help="the name of stdin in messages (implies '-')",
    )
    parser.add_argument(
        "--init",
        choices=("torch", "mxnet"),
        default=None,
        help="initialise translated layers like PyTorch (default) or keep Gluon's defaults",
    )
    parser.add_argument(
        "--hybridize",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="make translated nn.Module classes gluon.HybridBlocks where forward allows "
        "(and call hybridize()); --no-hybridize overrides the configuration",
    )
    parser.add_argument(
        "--no-format",
        action="store_true",
        help="do not run black on the rewritten statements",
    )
    parser.add_argument(
        "--disable",
        action="append",
        default=[],
        metavar="RULES",
        help="comma-separated rule ids to switch off (may be repeated; replaces "
        "the configuration's `disable`)",
    )
    parser.add_argument(
        "--exit-non-zero-on-fix",
        action="store_true",
        help="exit 1 when a file was translated (written), as a pre-commit hook must",
    )
    config = parser.add_argument_group("configuration")
    config_source = config.add_mutually_exclusive_group()
    config_source.add_argument(
        "--config",
        metavar="PATH",
        help="read [tool.torch2gluon] from this pyproject.toml instead of searching "
        "upwards from the inputs",
    )
    config_source.add_argument(
        "--no-config", action="store_true", help="ignore any pyproject.toml"
    )
    config.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="GLOB",
        help="only translate files matching GLOB (may be repeated; replaces the "
        "configuration's `include`)",
    )
    config.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="skip files matching GLOB (may be repeated; replaces the "
        "configuration's `exclude`)",
    )
    report = parser.add_argument_group("report and speed")
    report.add_argument(
        "--report",
        metavar="FILE",
        help="write a machine-readable report of the run to FILE",
    )
    report.add_argument(
        "--format",
        choices=("json", "sarif"),
        default=None,
        help="the report's format: json (default; schema docs/report.schema.json) "
        "or sarif (SARIF 2.1.0)",
    )
    report.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="translate files in N processes (0: one per CPU); output is the same "
        "as a serial run's",
    )
    report.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar (it is shown only on a terminal, for several files)",
    )
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument(
        "-q", "--quiet", action="store_true", help="report errors only"
    )
    verbosity.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also list unchanged files and info diagnostics",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    return parser


@dataclass
class _Job:
    """One file to process: where to read it, how to name it, where to write."""

    source: Optional[str]  # None: stdin
    display: str
    output: Optional[str] = None


@dataclass(frozen=True)
class _Settings:
    """What processing one file needs to know; picklable for worker processes."""

    options: Options
    mode: str  # "stdout", "output", "in-place" or "check" (--check/--diff)
    quiet: bool = False
    verbose: bool = False
    diff: bool = False
    fail_on_fix: bool = False
    force: bool = False  # --in-place rewrites read-only files too


class _FileRun:
    """The outcome of processing one file, recorded rather than printed.

    Files are processed in worker processes with ``-j``; what each would have
    printed is kept here, in order, and ``_Run.absorb`` prints it in the
    order of the files, so the output is the same as a serial run's.
    """

    def __init__(self, settings: _Settings, display: str) -> None:
        self.settings = settings
        self.display = display
        self.quiet = settings.quiet
        self.verbose = settings.verbose
        self.events: List[Tuple[str, object]] = []  # ("err", str), ("out", (bytes, str))
        self.translated = 0
        self.unchanged = 0
        self.failed = 0
        self.diagnostics = 0
        self.untranslated = 0
        self.exit_code = EXIT_OK
        self.outcome: Optional[str] = None  # "changed", "unchanged" or "failed"
        self.error: Optional[str] = None
        self.all_diagnostics: Tuple[Diagnostic, ...] = ()
        self.calls = CallCounts()

    def bump(self, code: int) -> None:
        self.exit_code = max(self.exit_code, code)

    def err(self, message: str) -> None:
        self.events.append(("err", message))

    def out(self, data: bytes, text: str) -> None:
        self.events.append(("out", (data, text)))

    def text(self, text: str) -> None:
        self.events.append(("text", text))

    def fail(self, message: str, code: int = EXIT_ERROR) -> None:
        self.err(message)
        self.failed += 1
        self.outcome = "failed"
        self.error = self.error or message
        self.bump(code)

    def status(self, message: str, *, verbose_only: bool = False) -> None:
        if self.quiet or (verbose_only and not self.verbose):
            return
        self.err(message)

    def diagnostic(self, diag: Diagnostic, display: str) -> None:
        if diag.severity is Severity.INFO and not self.verbose:
            return
        if diag.severity is not Severity.ERROR and self.quiet:
            return
        self.diagnostics += 1
        if diag.severity is Severity.ERROR and diag.rule != SYNTAX_ERROR_RULE:
            self.untranslated += 1
        self.err(diag.format(display))

    def file_report(self) -> FileReport:
        return FileReport(
            path=self.display,
            status=self.outcome or "failed",
            diagnostics=self.all_diagnostics,
            calls=self.calls,
            error=self.error,
        )


class _Run:
    """Counters, reporting and the report of one invocation."""

    def __init__(self, settings: _Settings) -> None:
        self.settings = settings
        self.mode = settings.mode
        self.quiet = settings.quiet
        self.translated = 0
        self.unchanged = 0
        self.failed = 0
        self.diagnostics = 0
        self.untranslated = 0
        self.calls = CallCounts()
        self.files: List[FileReport] = []
        self.exit_code = EXIT_OK

    def bump(self, code: int) -> None:
        self.exit_code = max(self.exit_code, code)

    @staticmethod
    def err(message: str) -> None:
        print(message, file=sys.stderr)

    def fail(self, message: str, code: int = EXIT_ERROR, path: Optional[str] = None) -> None:
        """A failure outside any file's processing (a missing path)."""
        self.err(message)
        self.failed += 1
        self.bump(code)
        if path is not None:
            self.files.append(FileReport(path=path, status="failed", error=message))

    def status(self, message: str) -> None:
        if not self.quiet:
            self.err(message)

    def absorb(self, result: _FileRun) -> None:
        """Print what one file's processing recorded and add up its counts."""
        for kind, payload in result.events:
            if kind == "out":
                data, text = cast(Tuple[bytes, str], payload)  # what _FileRun.out records
                _write_stdout(data, text)
            elif kind == "text":
                sys.stdout.write(str(payload))
                sys.stdout.flush()
            else:
                self.err(str(payload))
        self.translated += result.translated
        self.unchanged += result.unchanged
        self.failed += result.failed
        self.diagnostics += result.diagnostics
        self.untranslated += result.untranslated
        self.calls.add(result.calls)
        self.files.append(result.file_report())
        self.bump(result.exit_code)


def _write_stdout(data: bytes, text: str) -> None:
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    sys.stdout.flush()
    buffer.write(data)
    buffer.flush()


def _read_stdin() -> bytes:
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is not None:
        return buffer.read()
    return sys.stdin.read().encode("utf-8")


def _process(run: _FileRun, job: _Job) -> None:
    display = job.display
    options = run.settings.options
    try:
        if job.source is None:
            data = _read_stdin()
        else:
            with open(job.source, "rb") as handle:
                data = handle.read()
    except FileNotFoundError:
        run.fail(f"{display}: error: no such file or directory")
        return
    except OSError as exc:
        run.fail(f"{display}: error: cannot read file: {exc.strerror or exc}")
        return

    try:
        text, encoding, newline, bom = decode_source(data)
    except SourceDecodeError as exc:
        run.fail(f"{display}:{exc.line}:{exc.column}: error: {exc}")
        return

    notebook = is_notebook(job.source or display)
    if notebook:  # JSON, written as nbformat writes it: UTF-8, \n, no BOM
        encoding, newline, bom = "utf-8", "\n", False
    try:
        if notebook:
            result: Translation = translate_notebook(text, options=options)
        else:
            result = translate(text, options=options)
        diagnostics = sorted(result.diagnostics, key=lambda d: (d.cell or 0, d.line, d.column))
        changed = result.changed
        code = result.code
    except NotebookSupportMissing as exc:
        run.fail(f"{display}: error: {exc}")
        return
    except Exception as exc:  # translate() promises not to raise; report if it does
        run.fail(
            f"{display}: internal error: {type(exc).__name__}: {exc}", EXIT_INTERNAL
        )
        if run.verbose:
            run.err(traceback.format_exc().rstrip("\n"))
        return
    run.all_diagnostics = tuple(diagnostics)

    crashes = [d for d in diagnostics if d.rule == INTERNAL_ERROR_RULE]
    if crashes:  # the engine reports its own crashes as T2G999 diagnostics
        for diag in crashes:
            message = diag.message
            if not message.startswith("internal error"):
                message = f"internal error: {message}"
            run.err(f"{display}: {message}")
        run.failed += 1
        run.outcome = "failed"
        run.error = crashes[0].message
        run.bump(EXIT_INTERNAL)
        return

    syntax_error = False
    for diag in diagnostics:
        syntax_error = syntax_error or diag.rule == SYNTAX_ERROR_RULE
        run.diagnostic(diag, display)
    if syntax_error:
        run.failed += 1
        run.outcome = "failed"
        run.error = "syntax error"
        run.bump(EXIT_ERROR)
        return
    if any(d.severity is Severity.ERROR for d in diagnostics):
        run.bump(EXIT_CHANGED)
    run.calls = count_calls(result)

    if run.settings.mode == "check":
        if changed:
            if run.settings.diff:
                if isinstance(result, NotebookTranslation):
                    run.text(notebook_diff(result, display))
                else:
                    run.text(unified_diff(text, code, display))
            run.bump(EXIT_CHANGED)
            run.translated += 1
            run.outcome = "changed"
            run.status(f"would translate {display}")
        else:
            run.unchanged += 1
            run.outcome = "unchanged"
            run.status(f"would leave {display} unchanged", verbose_only=True)
        return

    if changed:
        try:
            out = encode_source(code, encoding, newline, bom)
        except UnicodeEncodeError as exc:
            run.fail(
                f"{display}: error: cannot encode translation as {encoding}: {exc.reason}"
            )
            return
    else:
        out = data

    try:
        if run.settings.mode == "stdout":
            run.out(
                out,
                code.replace("\n", newline) if changed else text.replace("\n", newline),
            )
        elif run.settings.mode == "in-place":
            if changed:
                assert job.source is not None
                real = os.path.realpath(job.source)
                bits = os.stat(real).st_mode & 0o7777
                if not run.settings.force and read_only(real, bits):
                    run.fail(
                        f"{display}: error: read-only file, not rewritten "
                        "(--force rewrites it)"
                    )
                    return
                atomic_write(real, out, bits)
        else:  # "output"
            assert job.output is not None
            mode = None
            if job.source is not None:
                mode = os.stat(job.source).st_mode & 0o777
            write_if_different(job.output, out, mode)
    except OSError as exc:
        target = job.output or display
        run.fail(f"{display}: error: cannot write {target}: {exc.strerror or exc}")
        return

    if changed:
        run.translated += 1
        run.outcome = "changed"
        if run.settings.fail_on_fix:
            run.bump(EXIT_CHANGED)
        run.status(f"translated {display}")
    else:
        run.unchanged += 1
        run.outcome = "unchanged"
        run.status(f"unchanged {display}", verbose_only=True)


def _process_job(settings: _Settings, job: _Job) -> _FileRun:
    """Process one file and return what happened; never raises."""
    run = _FileRun(settings, job.display)
    try:
        _process(run, job)
    except Exception as exc:  # a bug in the CLI itself: report, keep going
        run.fail(
            f"{job.display}: internal error: {type(exc).__name__}: {exc}",
            EXIT_INTERNAL,
        )
        if run.verbose:
            run.err(traceback.format_exc().rstrip("\n"))
    return run


def _split_rules(values: Iterable[str]) -> Tuple[str, ...]:
    return tuple(
        rule.strip() for value in values for rule in value.split(",") if rule.strip()
    )


def _options(args: argparse.Namespace, config: Optional[Config] = None) -> Options:
    """Options from the command line, falling back on the configuration."""
    disable = _split_rules(args.disable)
    if not args.disable and config is not None:
        disable = config.disable
    init = args.init or (config.init if config is not None else None) or "torch"
    hybridize = args.hybridize
    if hybridize is None:
        hybridize = bool(config is not None and config.hybridize)
    return Options(init=init, format=not args.no_format, disable=disable, hybridize=hybridize)


@dataclass(frozen=True)
class _Selection:
    """Which files to translate: include/exclude globs relative to ``root``."""

    include: Tuple[str, ...] = DEFAULT_INCLUDE
    exclude: Tuple[str, ...] = ()
    root: str = "."
    explicit_include: bool = False  # include was set: it filters named files too

    def walked(self, path: str) -> bool:
        return path_selected(path, self.include, self.exclude, self.root)

    def named(self, path: str) -> bool:
        include = self.include if self.explicit_include else ("*",)
        return path_selected(path, include, self.exclude, self.root)


def _selection(args: argparse.Namespace, config: Optional[Config]) -> _Selection:
    root = config.root if config is not None else os.getcwd()
    include: Tuple[str, ...] = DEFAULT_INCLUDE
    explicit = False
    if args.include:
        include, explicit = tuple(args.include), True
    elif config is not None and "include" in config.keys:
        include, explicit = config.include, True
    exclude: Tuple[str, ...] = tuple(args.exclude) if args.exclude else (
        config.exclude if config is not None else ()
    )
    return _Selection(include=include, exclude=exclude, root=root, explicit_include=explicit)


def _collect(
    run: _Run,
    paths: Sequence[str],
    output: Optional[str],
    selection: Optional[_Selection] = None,
) -> Optional[List[_Job]]:
    """Expand the paths into jobs; report missing paths. None on a usage error."""
    selection = selection or _Selection(root=os.getcwd())
    existing = []
    for path in paths:
        odd = not_regular(path)
        if odd is not None:  # named on the command line: always an error
            run.fail(f"{path}: error: {odd[0]}; skipped", path=path)
        elif os.path.exists(path):
            existing.append(path)
        else:
            run.fail(f"{path}: error: no such file or directory", path=path)

    # Where each file goes with -o: one file to a file (or into a directory),
    # otherwise a mirror of the tree below the inputs' common directory.
    single_file = len(paths) == 1 and existing and not os.path.isdir(existing[0])
    base = None
    exclude: List[str] = []
    if output is not None and existing and not single_file:
        if os.path.exists(output) and not os.path.isdir(output):
            return None
        roots = [
            os.path.abspath(p if os.path.isdir(p) else os.path.dirname(p) or ".")
            for p in existing
        ]
        try:
            base = os.path.commonpath(roots)
        except ValueError:
            return None
        exclude.append(output)

    jobs: List[_Job] = []
    seen = set()
    for path in existing:
        if os.path.isdir(path):
            files = [f for f in iter_python_files(path, exclude) if selection.walked(f)]
        else:
            files = [path] if selection.named(path) else []
        for file in files:
            odd = not_regular(file) if file != path else None
            if odd is not None:  # found in a tree: a loop fails, a FIFO is skipped
                if odd[1]:
                    run.fail(f"{file}: error: {odd[0]}", path=file)
                else:
                    run.status(f"{file}: skipped: {odd[0]}")
                continue
            key = os.path.realpath(file)
            if key in seen:
                continue
            seen.add(key)
            job = _Job(source=file, display=file)
            if output is not None:
                if base is not None:
                    job.output = os.path.join(
                        output, os.path.relpath(os.path.abspath(file), base)
                    )
                elif os.path.isdir(output) or output.endswith(("/", os.sep)):
                    job.output = os.path.join(output, os.path.basename(file))
                else:
                    job.output = output
            jobs.append(job)
    return jobs


def _results(settings: _Settings, jobs: Sequence[_Job], workers: int) -> Iterator[_FileRun]:
    """Each job's outcome, in the order of ``jobs``, from ``workers`` processes;
    a file whose process dies is reported as an internal error (``files.in_workers``)."""

    def died(job: _Job, how: str) -> _FileRun:
        run = _FileRun(settings, job.display)
        run.fail(
            f"{job.display}: internal error: the translator's process died on this file ({how})",
            EXIT_INTERNAL,
        )
        return run

    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield _process_job(settings, job)
        return
    yield from in_workers(_process_job, settings, jobs, workers, died)


def _write_report(path: str, fmt: str, run: _Run) -> None:
    if fmt == "sarif":
        data = build_sarif(run.files)
    else:
        data = build_json_report(run.files, mode=run.mode)
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    atomic_write(path, text.encode("utf-8"))


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line; returns the exit code instead of exiting."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["verify"]:
        from .verify.cli import main as verify_main

        return verify_main(argv[1:])
    if argv[:1] == ["lsp"]:
        from .lsp import main as lsp_main

        return lsp_main(argv[1:])
    if argv[:1] == ["rules"]:
        from .rulesdoc import main as rules_main

        return rules_main(argv[1:])
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR

    def usage(message: str) -> int:
        parser.print_usage(sys.stderr)
        print(f"{parser.prog}: error: {message}", file=sys.stderr)
        return EXIT_ERROR

    paths: List[str] = list(args.paths)
    if args.stdin_filename is not None and not paths:
        paths = [STDIN]
    if not paths:
        return usage("no paths given (use '-' to read stdin)")
    use_stdin = STDIN in paths
    if use_stdin and len(paths) > 1:
        return usage("'-' (stdin) must be the only path")
    if args.stdin_filename is not None and not use_stdin:
        return usage("--stdin-filename only applies when reading stdin ('-')")
    reporting = args.check or args.diff
    if reporting and (args.output is not None or args.in_place):
        return usage(
            "--check and --diff write nothing; they cannot be combined with -o or --in-place"
        )
    if args.force and not args.in_place:
        return usage("--force applies to --in-place")
    if use_stdin and args.in_place:
        return usage("--in-place cannot rewrite stdin")
    if args.format is not None and args.report is None:
        return usage("--format applies to --report FILE")
    if args.jobs is not None and args.jobs < 0:
        return usage("-j/--jobs must be 0 (one per CPU) or more")

    if reporting:
        mode = "check"
    elif args.in_place:
        mode = "in-place"
    elif args.output is not None:
        mode = "output"
    else:
        mode = "stdout"
        if len(paths) > 1 or os.path.isdir(paths[0]):
            what = "several files" if len(paths) > 1 else f"{paths[0]} is a directory"
            return usage(f"{what}: use -o DIR, --in-place, --diff or --check")

    from .rules import all_rules

    known = [rule.code for rule in all_rules()]
    config: Optional[Config] = None
    try:
        if args.config is not None:
            config = load_config(args.config, known)
            if config is None:
                return usage(f"--config {args.config}: no [tool.torch2gluon] table")
        elif not args.no_config:
            config = find_config(paths, known)
    except ConfigError as exc:
        return usage(str(exc))
    if config is not None and args.verbose:
        print(f"using configuration from {config.path}", file=sys.stderr)

    settings = _Settings(
        options=_options(args, config),
        mode=mode,
        quiet=args.quiet,
        verbose=args.verbose,
        diff=args.diff,
        fail_on_fix=args.exit_non_zero_on_fix,
        force=args.force,
    )
    run = _Run(settings)
    jobs: Optional[List[_Job]]
    if use_stdin:
        name = args.stdin_filename or STDIN_NAME
        jobs = [
            _Job(source=None, display=name, output=args.output)
        ]
    else:
        jobs = _collect(run, paths, args.output, _selection(args, config))
        if jobs is None:
            return usage(
                f"-o {args.output}: with a directory or several inputs, -o must name a directory"
            )

    if not jobs and run.failed == 0:
        run.status("no Python files to translate")
        if args.report is not None:
            try:
                _write_report(args.report, args.format or "json", run)
            except OSError as exc:
                run.err(f"{args.report}: error: cannot write report: {exc.strerror or exc}")
                run.bump(EXIT_ERROR)
        return run.exit_code

    workers = 1 if args.jobs is None else (args.jobs or os.cpu_count() or 1)
    progress = Progress(
        len(jobs),
        enabled=len(jobs) > 1
        and not args.quiet
        and not args.no_progress
        and sys.stderr.isatty(),
    )
    progress.update(0)
    for done, result in enumerate(_results(settings, jobs, workers), start=1):
        progress.clear()
        run.absorb(result)
        progress.update(done)
    progress.clear()

    run.status(
        format_summary(
            run.translated,
            run.unchanged,
            run.failed,
            run.diagnostics,
            run.untranslated,
            check=mode == "check",
            calls=run.calls,
        )
    )
    if args.report is not None:
        try:
            _write_report(args.report, args.format or "json", run)
        except OSError as exc:
            run.err(f"{args.report}: error: cannot write report: {exc.strerror or exc}")
            run.bump(EXIT_ERROR)
    return run.exit_code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
