"""``torch2gluon lsp``: a language server for editors, over stdio.

Built on pygls (the ``lsp`` extra: ``pip install 'torch2gluon[lsp]'``); the
server itself is ``torch2gluon.lsp.server``, the position and edit
arithmetic ``torch2gluon.lsp.convert``. What it does:

- diagnostics on open, change (debounced) and save of a Python document:
  one per torch2gluon diagnostic, ``source`` "torch2gluon", ``code`` the
  rule id (linked to ``docs/rules.md``), severity error/warning/information;
  a document without torch gets an empty list;
- code actions: "Translate to MXNet Gluon" (kind ``source``), one edit that
  replaces the document with ``translate()``'s output; per diagnostic a
  quick fix that applies its suggestion, where it has one, and one that
  adds ``# torch2gluon: ignore[RULE]``;
- ``[tool.torch2gluon]`` from the ``pyproject.toml`` above each document
  (found as the CLI finds it); an invalid one is one error diagnostic.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import List, Optional

__all__ = ["main", "DEFAULT_DEBOUNCE"]

DEFAULT_DEBOUNCE = 0.3  # seconds between the last change and the diagnostics
INSTALL_HINT = "pip install 'torch2gluon[lsp]'"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="torch2gluon lsp",
        description="Run torch2gluon's language server on stdin/stdout (LSP over stdio).",
    )
    parser.add_argument(
        "--stdio", action="store_true", help="talk LSP over stdin/stdout (the default and only transport)"
    )
    parser.add_argument(
        "--debounce",
        type=float,
        default=DEFAULT_DEBOUNCE,
        metavar="SECONDS",
        help=f"wait this long after the last change before checking a document (default {DEFAULT_DEBOUNCE})",
    )
    parser.add_argument("--log-file", metavar="PATH", help="write the server's log here (default: stderr)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Serve until the client says exit; 0 after shutdown + exit, else 1."""
    try:
        args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    if args.debounce < 0:
        print("torch2gluon lsp: error: --debounce must be 0 or more", file=sys.stderr)
        return 2
    try:
        from .server import serve
    except ImportError as exc:  # pygls is an extra
        print(f"torch2gluon lsp: error: the language server needs pygls ({exc}): {INSTALL_HINT}", file=sys.stderr)
        return 2
    handler: logging.Handler = (
        logging.FileHandler(args.log_file, encoding="utf-8") if args.log_file else logging.StreamHandler(sys.stderr)
    )
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        handlers=[handler],
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    return serve(debounce=args.debounce)
