"""All tensor ops of the facts layer, in one registry (see ``ops.py``)."""

from __future__ import annotations

from . import ops_create, ops_custom, ops_elementwise, ops_index, ops_reduce, ops_shape
from .ops import Registry

REGISTRY = Registry()
REGISTRY.add(ops_custom.OPS)
REGISTRY.add(ops_elementwise.OPS)
REGISTRY.add(ops_reduce.OPS)
REGISTRY.add(ops_create.OPS)
REGISTRY.add(ops_shape.OPS)
REGISTRY.add(ops_index.OPS)
