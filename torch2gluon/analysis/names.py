"""Which torch API a name or attribute refers to, resolved through the imports.

What libcst's ``QualifiedNameProvider`` computes for a node, asked only for
the nodes whose leftmost name a torch/torchvision import binds (the full pass
costs a fifth of a translation). A name that may be torch or a local value
(``torch = object()`` in the same scope) is *ambiguous*: reported, never
translated.
"""

from __future__ import annotations

import re
from typing import Dict, Mapping, Optional, Set, Tuple

import libcst as cst
from libcst.metadata import QualifiedNameSource, Scope

TORCH_ROOTS = ("torch", "torchvision")


#: Where torch defines an API (a private module path) and where it is documented:
#: ``torch.nn.modules.linear.Linear`` is ``torch.nn.Linear``, ``torch.functional.split``
#: is ``torch.split``. The same object under both names (tests/test_analysis.py checks
#: it against torch), so the facts need only the public one.
_ALIASES = (
    (re.compile(r"torch\.nn\.modules(?:\.(?!lazy\.)[a-z][a-z0-9_]*)?\.([A-Z]\w*)"), "torch.nn"),  # (lazy's mixin is its own)
    (re.compile(r"torch\.nn\.parameter\.((?:Uninitialized)?(?:Parameter|Buffer))"), "torch.nn"),
    (re.compile(r"torch\.optim\.(?:adadelta|adafactor|adagrad|adam|adamax|adamw|asgd|lbfgs|nadam|optimizer|radam"
                r"|rmsprop|rprop|sgd|sparse_adam)\.([A-Z]\w*)"), "torch.optim"),  # (not lr_scheduler: public)
    (re.compile(r"torch\.functional\.([a-z]\w*)"), "torch"),
    (re.compile(r"torch\._tensor\.(Tensor)"), "torch"),
    (re.compile(r"torch\.utils\.data\.(?:dataloader|dataset|sampler|distributed|_utils\.collate)\.([A-Za-z]\w*)"),
     "torch.utils.data"),
)


def public_name(name: str) -> str:
    """The documented name of a torch API written through the module that defines it."""
    if name.count(".") < 2:
        return name
    for pattern, public in _ALIASES:
        m = pattern.fullmatch(name)
        if m is not None:
            return f"{public}.{m.group(1)}"
    return name


def is_torch_name(name: str) -> bool:
    root = name.split(".", 1)[0]
    return root in TORCH_ROOTS


class Names:
    """Name resolution for one module."""

    def __init__(self, scopes: "Mapping[cst.CSTNode, Optional[Scope]]", torch_roots: Set[str]) -> None:
        self.scopes = scopes
        # Local names bound by torch/torchvision imports anywhere in the module:
        # a reference whose leftmost name is not one of them cannot be torch,
        # so its qualified name is never computed.
        self.torch_roots = torch_roots
        self._names: Dict[int, Tuple[Optional[str], bool]] = {}

    def torch_name(self, node: Optional[cst.CSTNode]) -> Optional[str]:
        """The torch/torchvision qualified name ``node`` refers to, if any.

        Only names that come from an import count: a local variable called
        ``nn`` or ``F`` is not torch.
        """
        if node is None:
            return None
        if not self._may_be_torch(node):
            return None
        name, ambiguous = self._resolve(node)
        return None if ambiguous else name

    def ambiguous_torch_name(self, node: cst.CSTNode) -> Optional[str]:
        """The torch name ``node`` may refer to when it may also refer to
        something else (``torch = object()`` somewhere in the same scope)."""
        if not self._may_be_torch(node):
            return None
        name, ambiguous = self._resolve(node)
        return name if ambiguous else None

    def _may_be_torch(self, node: cst.CSTNode) -> bool:
        root = node
        while isinstance(root, cst.Attribute):
            root = root.value
        return isinstance(root, cst.Name) and root.value in self.torch_roots

    def _resolve(self, node: cst.CSTNode) -> Tuple[Optional[str], bool]:
        key = id(node)
        found = self._names.get(key)
        if found is not None:
            return found
        name, others = None, False
        scope = self.scopes.get(node)
        if scope is not None:
            # What libcst's QualifiedNameProvider computes for a node, asked
            # for only the nodes that may be torch.
            found_names = []
            for q in scope.get_qualified_names_for(node):
                if q.source is QualifiedNameSource.IMPORT and is_torch_name(q.name):
                    found_names.append(public_name(q.name))
                else:
                    others = True
            # Two torch imports may bind the name (a try/except fallback
            # between two locations of one function): libcst gives a set, so
            # choose one deterministically, whatever the hash seed.
            name = min(found_names) if found_names else None
        result = (name, name is not None and others)
        self._names[key] = result
        return result

    def imported_name(self, node: cst.CSTNode) -> Optional[str]:
        """The qualified name ``node`` refers to through an import of any
        package (``tqdm`` after ``from tqdm import tqdm``: ``tqdm.tqdm``)."""
        scope = self.scopes.get(node)
        if scope is None:
            return None
        names = {q.name for q in scope.get_qualified_names_for(node) if q.source is QualifiedNameSource.IMPORT}
        return next(iter(names)) if len(names) == 1 else None

    def call_name(self, node: cst.CSTNode) -> Optional[str]:
        """Qualified torch name of a call's callee (``torch.ones(...)`` -> ``torch.ones``)."""
        if isinstance(node, cst.Call):
            return self.torch_name(node.func)
        return None

    def is_parameter_name(self, node: cst.Name) -> bool:
        """``node`` is (may be) a function's parameter of that name."""
        scope = self.scopes.get(node)
        if scope is None:
            return False
        try:
            assignments = scope[node.value]
        except Exception:  # pragma: no cover - libcst lookups
            return False
        return any(isinstance(getattr(a, "node", None), cst.Param) for a in assignments)
