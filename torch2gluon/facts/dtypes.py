"""torch dtypes and their MXNet spelling."""

from __future__ import annotations

from typing import Dict, Optional

from ..analysis.kinds import DType

# torch dtype -> MXNet dtype string
DTYPES: Dict[str, str] = {
    "torch.float32": "float32",
    "torch.float": "float32",
    "torch.float64": "float64",
    "torch.double": "float64",
    "torch.float16": "float16",
    "torch.half": "float16",
    "torch.int64": "int64",
    "torch.long": "int64",
    "torch.int32": "int32",
    "torch.int": "int32",
    "torch.int8": "int8",
    "torch.uint8": "uint8",
    "torch.bool": "bool",
}

# tensor methods that cast -> the MXNet dtype they give
CAST_METHODS: Dict[str, str] = {"float": "float32", "double": "float64", "long": "int64", "half": "float16", "int": "int32"}


def dtype_class(mxnet_dtype: Optional[str]) -> Optional[DType]:
    """The class (bool/int/float) of an MXNet dtype string."""
    if mxnet_dtype is None:
        return None
    if mxnet_dtype == "bool":
        return DType.BOOL
    if mxnet_dtype.startswith(("int", "uint")):
        return DType.INT
    if mxnet_dtype.startswith("float"):
        return DType.FLOAT
    return None
