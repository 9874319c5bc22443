"""The pure library API: ``translate(source) -> Translation``.

No I/O, no global state, never raises on bad input, and never imports torch or
mxnet. The CLI, the pre-commit hook and editor plugins are thin wrappers.

Deeply nested code (hundreds of nested lists, a sum of a thousand terms, a long
``elif`` chain) makes libcst's parser, its visitors and the rules recurse once
or more per level; with the interpreter's default recursion limit and a
thread's default stack that ends in ``RecursionError`` long before CPython's
own parser gives up. So ``translate`` runs the engine in a thread of its own
with a large stack (``STACK_SIZE``) and a raised recursion limit
(``RECURSION_LIMIT``), which covers everything CPython compiles; code nested
deeper than CPython accepts is reported as a syntax error (``T2G000``) by the
engine before libcst sees it.
"""

from __future__ import annotations

import sys
import threading
from typing import List, Optional

from .base.options import Options, Translation

__all__ = ["Options", "Translation", "translate", "STACK_SIZE", "RECURSION_LIMIT"]

#: the stack of the thread a translation runs in (virtual memory: pages are
#: only used as deep as the recursion goes)
STACK_SIZE = 512 * 1024 * 1024
#: the recursion limit while a translation runs (restored when none runs)
RECURSION_LIMIT = 200_000

_lock = threading.Lock()
_running = 0  # translations in deep threads now (the LSP runs several)
_saved_limit = 0


def _raise_limit() -> None:
    global _running, _saved_limit
    with _lock:
        if _running == 0:
            _saved_limit = sys.getrecursionlimit()
            if _saved_limit < RECURSION_LIMIT:
                sys.setrecursionlimit(RECURSION_LIMIT)
        _running += 1


def _restore_limit() -> None:
    global _running
    with _lock:
        _running -= 1
        if _running == 0 and _saved_limit and sys.getrecursionlimit() == RECURSION_LIMIT:
            sys.setrecursionlimit(_saved_limit)


def _start_deep(thread: threading.Thread) -> bool:
    """Start ``thread`` with a ``STACK_SIZE`` stack; False if the platform refuses."""
    with _lock:
        try:
            previous = threading.stack_size(STACK_SIZE)
        except (ValueError, RuntimeError):  # pragma: no cover - platforms without it
            return False
        try:
            thread.start()
        except RuntimeError:  # pragma: no cover - cannot create a thread that large
            return False
        finally:
            threading.stack_size(previous)
    return True


def translate(source: str, *, options: Optional[Options] = None) -> Translation:
    """Translate PyTorch source code into MXNet Gluon source code.

    A source that does not use torch or torchvision comes back unchanged with
    no diagnostics. A syntax error comes back as one ``T2G000`` error
    diagnostic at the offending position, with the code unchanged.
    """
    from .engine import run  # local import keeps `import torch2gluon` cheap

    options = options or Options()
    if "torch" not in source:  # the engine's own fast path, without a thread
        return run(source, options)
    box: List[object] = []

    def work() -> None:
        try:
            box.append(run(source, options))
        except BaseException as exc:  # pragma: no cover - run() never raises
            box.append(exc)

    thread = threading.Thread(target=work, name="torch2gluon-translate", daemon=True)
    _raise_limit()
    try:
        if not _start_deep(thread):  # pragma: no cover
            return run(source, options)
        thread.join()
    finally:
        _restore_limit()
    result = box[0] if box else None
    if isinstance(result, BaseException):  # pragma: no cover
        raise result
    assert isinstance(result, Translation)
    return result
