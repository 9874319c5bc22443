"""torch2gluon: rewrite PyTorch training scripts into MXNet Gluon scripts."""

from .api import Options, Translation, translate
from .base.diagnostics import Diagnostic, Severity

__all__ = ["translate", "Translation", "Options", "Diagnostic", "Severity", "__version__"]
__version__ = "0.1.0"
