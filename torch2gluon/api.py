"""The pure library API: ``translate(source) -> Translation``.

No I/O, no global state, never raises on bad input, and never imports torch or
mxnet. The CLI, the pre-commit hook and editor plugins are thin wrappers.
"""

from __future__ import annotations

from typing import Optional

from .base.options import Options, Translation

__all__ = ["Options", "Translation", "translate"]


def translate(source: str, *, options: Optional[Options] = None) -> Translation:
    """Translate PyTorch source code into MXNet Gluon source code.

    A source that does not use torch or torchvision comes back unchanged with
    no diagnostics. A syntax error comes back as one ``T2G000`` error
    diagnostic at the offending position, with the code unchanged.
    """
    from .engine import run  # local import keeps `import torch2gluon` cheap

    return run(source, options or Options())
