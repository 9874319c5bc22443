"""Rule modules, one per family, found by walking this package.

Adding a rule is adding a module here that defines a ``Rule`` subclass with a
``code``; no central list is kept.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache
from typing import Tuple, Type

from ._base import Example, Rule

__all__ = ["Example", "Rule", "all_rules"]


@lru_cache(maxsize=1)
def all_rules() -> Tuple[Type[Rule], ...]:
    found = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, Rule) and obj.code and obj.__module__ == module.__name__:
                if obj.code in found and found[obj.code] is not obj:
                    raise RuntimeError(f"rule id {obj.code} defined twice")
                found[obj.code] = obj
    return tuple(found[k] for k in sorted(found))
