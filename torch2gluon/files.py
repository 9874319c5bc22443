"""Files for the command line: finding Python files and notebooks in trees,
diffs, atomic writes, the progress bar."""

from __future__ import annotations

import contextlib
import difflib
import os
import sys
import tempfile
from typing import Iterable, Iterator, List, Optional


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
