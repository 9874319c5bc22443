"""What a translation takes and gives: ``Options`` and ``Translation``.

Shared by every layer above (the engine builds a ``Translation``, the API
returns it, the CLI and editor servers read it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Tuple

from .diagnostics import Diagnostic, Severity


@dataclass(frozen=True)
class Options:
    """Translation options.

    ``init``: ``"torch"`` (default) gives each translated layer the initial
    distribution PyTorch would have used, so the translated model starts from
    the same place; ``"mxnet"`` keeps Gluon's own defaults (uniform ±0.07
    weights, zero biases) and reports that as a warning.
    ``format``: run black on the statements the rules changed.
    ``disable``: rule ids to switch off (their constructs are then reported as
    untranslated, never passed through silently).
    ``hybridize``: make a translated ``nn.Module`` class a ``gluon.HybridBlock``
    (``hybrid_forward(self, F, x, ...)``, ``net.hybridize()`` after
    ``net.initialize()``) when its ``forward`` can run on Symbols; a class that
    cannot stays a ``gluon.Block``, with an info diagnostic saying why (T2G210).
    """

    init: str = "torch"
    format: bool = True
    disable: Tuple[str, ...] = ()
    hybridize: bool = False


@dataclass(frozen=True)
class Translation:
    source: str
    code: str
    diagnostics: Tuple[Diagnostic, ...] = field(default_factory=tuple)
    #: counts of references to torch/torchvision names in the source (outside
    #: import statements; ``torch.nn.Linear`` counts once): ``torch_references``,
    #: ``translated`` (gone from the output) and ``untranslated`` (still there,
    #: each reported). Empty when the source has no torch import.
    stats: Mapping[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return self.code != self.source

    @property
    def complete(self) -> bool:
        """True when nothing was left untranslated (no error diagnostics)."""
        return not any(d.severity is Severity.ERROR for d in self.diagnostics)

    @property
    def errors(self) -> Tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is Severity.ERROR)
