"""The catch-all: torch left in the output is always reported."""

from __future__ import annotations

from ._base import Example, Rule


class Unsupported(Rule):
    """Any torch or torchvision name still in the output is reported.

    ## What it does
    After every rule has run, each remaining reference to a name imported from
    ``torch`` or ``torchvision`` gets an error diagnostic and an inline marker,
    and the torch import it needs is kept.

    ## Why
    A translation that silently keeps torch code would run with the wrong
    framework, or not at all. The report says exactly what is left to do, and
    the CLI's exit code says the translation is incomplete.

    ## Fix safety
    Nothing is changed.
    """

    code = "T2G001"
    name = "unsupported-api"
    summary = "torch API without a translation: reported, left as is"
    examples = (
        Example(
            "import torch\nx = torch.ones(2)\ny = torch.fft.fft(x)\n",
            "import torch\nfrom mxnet import nd\n\nx = nd.ones(2)\n# torch2gluon: T2G001: `torch.fft.fft` has no translation; left as is\ny = torch.fft.fft(x)\n",
            diagnostics=("T2G001",),
            id="unknown torch function keeps its import",
        ),
        Example(
            "import torch.nn as nn\n\nclass Net(nn.Bilinear):\n    pass\n",
            "import torch.nn as nn\n\n# torch2gluon: T2G001: `torch.nn.Bilinear` has no translation; left as is\nclass Net(nn.Bilinear):\n    pass\n",
            diagnostics=("T2G001",),
            id="subclass of an untranslated torch class is reported",
        ),
        Example(
            "import torch\nnn = make_network()\nout = nn.Linear(3)\n",
            "nn = make_network()\nout = nn.Linear(3)\n",
            id="a local variable called nn is not torch",
        ),
    )
