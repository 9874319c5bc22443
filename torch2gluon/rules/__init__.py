"""Rule modules, one per family, found by walking this package.

Adding a rule is adding a module here (or in a package here, such as
``modules/``) that defines a ``Rule`` subclass with a ``code``; no central
list is kept. Modules whose name starts with ``_`` hold what the rules of a
package share and define no rules.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache
from typing import Dict, Tuple, Type

from ._base import Example, Rule

__all__ = ["Example", "Rule", "all_rules"]


@lru_cache(maxsize=1)
def all_rules() -> Tuple[Type[Rule], ...]:
    found: Dict[str, Type[Rule]] = {}
    for info in pkgutil.walk_packages(__path__, prefix=__name__ + "."):
        if info.name.rsplit(".", 1)[-1].startswith("_"):
            continue
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, Rule) and obj.code and obj.__module__ == module.__name__:
                if obj.code in found and found[obj.code] is not obj:
                    raise RuntimeError(f"rule id {obj.code} defined twice")
                found[obj.code] = obj
    return tuple(found[k] for k in sorted(found))
