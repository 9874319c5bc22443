"""Facts about ``torch.nn``: layers, containers, losses, and what their objects hold."""

from __future__ import annotations

from typing import Dict, Optional, Tuple

NN = "torch.nn."

# the classes every module derives from
MODULE_BASES = ("torch.nn.Module", "torch.nn.modules.Module", "torch.nn.modules.module.Module")


def nn_class(name: Optional[str], *classes: str) -> Optional[str]:
    """``Linear`` if ``name`` is ``torch.nn.Linear`` (or its defining module's
    path, ``torch.nn.modules.linear.Linear``) and ``Linear`` is one of ``classes``
    (any class when none are given)."""
    if not name:
        return None
    last = name.rsplit(".", 1)[-1]
    if classes and last not in classes:
        return None
    if name == NN + last or (name.startswith("torch.nn.modules.") and name.count(".") == 4):
        return last
    return None


def is_layer_class(name: Optional[str]) -> bool:
    """``torch.nn.<Upper>``: a module class (a layer, a container, a loss)."""
    cls = nn_class(name)
    return cls is not None and cls[:1].isupper() and cls not in ("Parameter", "ParameterList", "ParameterDict")


# torch layer class -> {torch parameter (or buffer) attribute: Gluon parameter attribute};
# the Gluon parameter has torch's layout (checked in tests/test_numeric_modules.py)
_SAME = {"weight": "weight", "bias": "bias"}
LAYER_PARAMETERS: Dict[str, Dict[str, str]] = {
    "Linear": _SAME,
    "LazyLinear": _SAME,
    "Conv1d": _SAME,
    "Conv2d": _SAME,
    "ConvTranspose1d": _SAME,
    "ConvTranspose2d": _SAME,
    "Embedding": {"weight": "weight"},
    "BatchNorm1d": {"weight": "gamma", "bias": "beta", "running_mean": "running_mean", "running_var": "running_var"},
    "BatchNorm2d": {"weight": "gamma", "bias": "beta", "running_mean": "running_mean", "running_var": "running_var"},
    "LayerNorm": {"weight": "gamma", "bias": "beta"},
}

# torch layers with parameters that T2G201/T2G203/T2G205 translate -> their Gluon class
WITH_PARAMETERS: Dict[str, str] = {"Linear": "Dense", "Conv2d": "Conv2D", "BatchNorm1d": "BatchNorm", "BatchNorm2d": "BatchNorm"}

# torch layers T2G227 initialises when assigned on their own -> the Gluon class(es) their translation calls
STANDALONE: Dict[str, Tuple[str, ...]] = {
    "Embedding": ("Embedding",),
    "LayerNorm": ("LayerNorm",),
    "Conv1d": ("Conv1D",),
    "ConvTranspose1d": ("Conv1DTranspose",),
    "ConvTranspose2d": ("Conv2DTranspose",),
    "LazyLinear": ("Dense",),
    "LSTM": ("LSTM",),
    "GRU": ("GRU",),
    "RNN": ("RNN",),
}

RECURRENT = ("LSTM", "GRU", "RNN")

# module methods that return the module itself
SELF_RETURNING = ("to", "cuda", "cpu", "float", "double", "half", "train", "eval", "requires_grad_", "type", "apply")

# torch's loss constructors T2G301 knows (after the deprecated size_average/reduce):
# each class maps to its parameters and their defaults.
LOSS_SIGNATURES: Dict[str, Tuple[Tuple[str, object], ...]] = {
    NN + "CrossEntropyLoss": (
        ("weight", None), ("size_average", None), ("ignore_index", -100), ("reduce", None),
        ("reduction", "mean"), ("label_smoothing", 0.0),
    ),
    NN + "NLLLoss": (
        ("weight", None), ("size_average", None), ("ignore_index", -100), ("reduce", None), ("reduction", "mean"),
    ),
    NN + "MSELoss": (("size_average", None), ("reduce", None), ("reduction", "mean")),
    NN + "L1Loss": (("size_average", None), ("reduce", None), ("reduction", "mean")),
    NN + "BCELoss": (("weight", None), ("size_average", None), ("reduce", None), ("reduction", "mean")),
    NN + "BCEWithLogitsLoss": (
        ("weight", None), ("size_average", None), ("reduce", None), ("reduction", "mean"), ("pos_weight", None),
    ),
    NN + "SmoothL1Loss": (("size_average", None), ("reduce", None), ("reduction", "mean"), ("beta", 1.0)),
    NN + "HuberLoss": (("reduction", "mean"), ("delta", 1.0)),
    NN + "KLDivLoss": (("size_average", None), ("reduce", None), ("reduction", "mean"), ("log_target", False)),
}
LOSS_CLASSES = tuple(LOSS_SIGNATURES)

# the functional losses (T2G705); their results are loss values too
FUNCTIONAL_LOSSES = tuple(
    "torch.nn.functional." + n
    for n in ("nll_loss", "cross_entropy", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
              "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div")
)


def is_loss_class(name: Optional[str]) -> bool:
    """Any ``torch.nn.*Loss`` class (known to T2G301 or not): its objects compute losses."""
    cls = nn_class(name)
    return cls is not None and cls.endswith("Loss")
