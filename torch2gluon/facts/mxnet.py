"""Facts about MXNet itself: how generated code imports and spells its names."""

from __future__ import annotations

from typing import Dict, Optional, Tuple

# How generated code spells MXNet names: the longest matching module prefix
# decides the import and the local base name.
#   dotted prefix               -> (import module, imported name, local name)
MX_IMPORTS: Tuple[Tuple[str, Tuple[str, Optional[str], str]], ...] = (
    ("mxnet.gluon.data.vision.datasets", ("mxnet.gluon.data.vision", "datasets", "datasets")),
    ("mxnet.gluon.data.vision.transforms", ("mxnet.gluon.data.vision", "transforms", "transforms")),
    ("mxnet.gluon.nn", ("mxnet.gluon", "nn", "nn")),
    ("mxnet.gluon", ("mxnet", "gluon", "gluon")),
    ("mxnet.autograd", ("mxnet", "autograd", "autograd")),
    ("mxnet.nd", ("mxnet", "nd", "nd")),
    ("mxnet.init", ("mxnet", "init", "init")),
    ("mxnet", ("mxnet", None, "mx")),
)

# local base name -> the dotted prefix it stands for ("nd" -> "mxnet.nd")
PREFIX_OF_LOCAL: Dict[str, str] = {local: prefix for prefix, (_, _, local) in MX_IMPORTS}


# qualified-name prefixes of Gluon's block classes (kept with the analysis, which reads them)
from ..analysis.scopes import GLUON_BLOCKS  # noqa: E402,F401
