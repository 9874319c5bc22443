"""Files for the command line: finding Python files and notebooks in trees,
diffs, atomic writes, the progress bar."""

from __future__ import annotations

import contextlib
import difflib
import errno
import os
import stat
import sys
import tempfile
from typing import TYPE_CHECKING, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, TypeVar

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

S = TypeVar("S")
J = TypeVar("J")
R = TypeVar("R")


SKIP_DIRS = frozenset({"__pycache__", ".venv", "venv", "build", "dist"})
#: what a tree is searched for: Python files and Jupyter notebooks
SUFFIXES = (".py", ".ipynb")


def _split_lines(text: str) -> List[str]:
    """Lines with their ``\\n`` kept, split on ``\\n`` only (not on form feeds)."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def unified_diff(old: str, new: str, path: str) -> str:
    """A unified diff from ``a/path`` to ``b/path``; empty when nothing changed."""
    name = path.replace(os.sep, "/").lstrip("/")
    out = []
    for line in difflib.unified_diff(
        _split_lines(old), _split_lines(new), f"a/{name}", f"b/{name}"
    ):
        if not line.endswith("\n"):
            line += "\n\\ No newline at end of file\n"
        out.append(line)
    return "".join(out)


def _skip_dir(name: str) -> bool:
    return name.startswith(".") or name in SKIP_DIRS


def iter_python_files(
    root: str, exclude: Iterable[str] = (), suffixes: Iterable[str] = SUFFIXES
) -> Iterator[str]:
    """``*.py`` files and ``*.ipynb`` notebooks under ``root`` (``suffixes``),
    recursively and in sorted order.

    Hidden directories (``.ipynb_checkpoints`` too), ``__pycache__``,
    ``venv``/``.venv``, ``build`` and ``dist`` are skipped, as are the
    directories in ``exclude`` (real paths). Symbolic links to directories
    are not followed.
    """
    suffixes = tuple(suffixes)
    excluded = {os.path.realpath(path) for path in exclude}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            name
            for name in dirnames
            if not _skip_dir(name)
            and os.path.realpath(os.path.join(dirpath, name)) not in excluded
        )
        for name in sorted(filenames):
            if name.endswith(suffixes):
                yield os.path.normpath(os.path.join(dirpath, name))


def read_only(path: str, bits: int) -> bool:
    """Whether ``--in-place`` must leave ``path`` alone: no write permission
    for us, or no write bit at all (root may write anything, but a 0444 file
    says it is not to be changed, as black and ruff read it)."""
    return not bits & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(path, os.W_OK)


def not_regular(path: str) -> Optional[Tuple[str, bool]]:
    """Why ``path`` is not read as a source file, and whether that is an
    error (a symlink loop) rather than a skip (a FIFO, a device, a socket);
    None for a regular file, a directory, or one that reading will report."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symlink loop (too many levels of symbolic links)", True
        return None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    if stat.S_ISFIFO(mode):
        kind = "a FIFO"
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        kind = "a device"
    elif stat.S_ISSOCK(mode):
        kind = "a socket"
    else:  # pragma: no cover - door files and the like
        kind = "not a file"
    return f"not a regular file ({kind})", False


def in_workers(
    work: Callable[[S, J], R],
    settings: S,
    jobs: Sequence[J],
    workers: int,
    died: Callable[[J, str], R],
) -> Iterator[R]:
    """``work(settings, job)`` for each job in ``workers`` processes, yielded
    in the order of ``jobs``; ``died(job, how)`` for a job whose process dies.

    A worker that dies (a crash in native code, a kill) breaks the whole
    pool: every job it had not finished fails with BrokenProcessPool. The
    first of those is run again alone, in a process of its own, which tells
    whether it was the culprit; the others go to a new pool. Jobs finished
    before the break keep their results (with --in-place they are written).
    """
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    queue = list(range(len(jobs)))
    done: Dict[int, R] = {}
    shown = 0
    while queue:
        retry: List[int] = []
        with ProcessPoolExecutor(
            max_workers=min(workers, len(queue)),
            initializer=watch_parent,
            initargs=(os.getpid(),),
        ) as pool:
            futures = {i: pool.submit(work, settings, jobs[i]) for i in queue}
            for i in queue:
                try:
                    done[i] = futures[i].result()
                except BrokenProcessPool:
                    if retry:
                        retry.append(i)
                    else:
                        done[i] = _isolated(work, settings, jobs[i], died)
                        retry.append(-1)  # marks: one was isolated this round
                while shown in done:
                    yield done.pop(shown)
                    shown += 1
        queue = [i for i in retry if i >= 0]


def _isolated(work: Callable[[S, J], R], settings: S, job: J, died: Callable[[J, str], R]) -> R:
    """``work(settings, job)`` in a process of its own; ``died`` if that dies."""
    import multiprocessing

    context = multiprocessing.get_context()
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(work, settings, job, send), daemon=True)
    process.start()
    send.close()
    result: Optional[Tuple[R]] = None
    try:
        result = receive.recv()
    except EOFError:
        pass
    finally:
        receive.close()
    process.join()
    if result is not None:
        return result[0]
    code = process.exitcode
    how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
    return died(job, how)


def watch_parent(parent: int) -> None:
    """In a worker process: stop when ``parent`` (the command line) dies.

    A thread polls the parent's pid; when the worker is orphaned it sends its
    main thread SIGINT, so a write in progress removes its temporary file
    (``atomic_write``), and exits two seconds later whatever happens.
    """
    import signal
    import threading
    import time

    main = threading.main_thread().ident

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        with contextlib.suppress(OSError, ValueError):
            if main is not None:
                signal.pthread_kill(main, signal.SIGINT)
        time.sleep(2)
        os._exit(1)

    threading.Thread(target=watch, name="torch2gluon-watch-parent", daemon=True).start()


def _child(work: Callable[[S, J], R], settings: S, job: J, send: Connection) -> None:
    watch_parent(os.getppid())
    send.send((work(settings, job),))
    send.close()


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: str, data: bytes, mode: Optional[int] = None) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same
    directory and ``os.replace``, so readers never see a partial file.
    ``mode`` gives the permission bits (default: a new file's, per umask)."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(
        dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".t2g.tmp"
    )
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _default_mode() if mode is None else mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_if_different(path: str, data: bytes, mode: Optional[int]) -> bool:
    """Atomically write ``data`` unless ``path`` already holds exactly it."""
    try:
        with open(path, "rb") as handle:
            if handle.read() == data:
                return False
    except OSError:
        pass
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    if os.path.exists(path):
        mode = os.stat(path).st_mode & 0o7777  # an existing file keeps its bits
    atomic_write(path, data, mode)
    return True


class Progress:
    """A one-line progress bar on stderr, only on a terminal."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total = total
        self.enabled = enabled
        self.shown = False

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self.shown = False

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        width = 30
        filled = width * done // self.total if self.total else width
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} files"
        )
        sys.stderr.flush()
        self.shown = True
