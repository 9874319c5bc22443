"""What a function's parameters hold, from the calls that pass them.

``def train(model, loader, optimizer): ...`` says nothing about ``model``;
``train(net, train_loader, opt)`` with ``net = Net()`` does. Rules learn what
a name holds from ``ctx.bindings`` (filled as the pass meets assignments), so
without this a function defined before its callers would see unknown
parameters, and a parameter that happens to share a global's name would
borrow the global's meaning whatever is passed.

``parameter_kinds`` works this out once, before the pass: a parameter gets a
kind when every call of its function in the module passes a value of that
kind (a model: an instance of an ``nn.Module`` subclass or of a torch layer;
an optimizer; a scheduler; a loss function; a DataLoader; a torch.device). The engine binds the kinds on
entering the function and restores the outer bindings on leaving it; every
other parameter shadows whatever the same name meant outside.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Set

import libcst as cst

from ..base.syntax import children
from ..rules.modules import _UNWRAP, _value_kind

MODEL = "model"
OPTIMIZER = "optimizer"
SCHEDULER = "scheduler"
LOSS_FN = "loss_fn"
LOADER = "loader"  # tensor_methods.LOADER: iterating it yields tensors
DEVICE = "device"  # devices.DEVICE

# methods of a model that return the model itself
_SELF_RETURNING = _UNWRAP

_UNKNOWN = "?"


def parameter_kinds(ctx, module: cst.Module, module_classes: Set[str]) -> Dict[int, Dict[str, Optional[str]]]:
    """``id(FunctionDef)`` -> {parameter name: kind or None (shadows the outer meaning)}."""
    walker = _Collect()
    walker.run(module)
    if not walker.defs:
        return {}
    kinds: Dict[int, Dict[str, Optional[str]]] = {id(d): {} for d in walker.all_defs}
    for d in walker.all_defs:
        for p in _params(d):
            kinds[id(d)][p] = None

    def classify(expr: cst.BaseExpression, owner: int, depth: int = 0) -> Optional[str]:
        if depth > 8:
            return None
        if isinstance(expr, cst.Name):
            return name_kind(expr.value, owner, depth + 1)
        if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name) and expr.value.value == "self":
            return None
        if isinstance(expr, cst.IfExp):
            both = {classify(expr.body, owner, depth + 1), classify(expr.orelse, owner, depth + 1)}
            return both.pop() if len(both) == 1 else None
        if not isinstance(expr, cst.Call):
            return None
        func = expr.func
        if isinstance(func, cst.Attribute) and func.attr.value in _SELF_RETURNING and ctx.call_name(expr) is None:
            inner = classify(func.value, owner, depth + 1)  # `model.to(device)` of a name too
            if inner in (MODEL, _UNKNOWN):
                return inner
        built = _value_kind(ctx, expr, module_classes)  # what T2G214's lookups say it builds
        if built is not None:
            if built.startswith("class:"):
                return MODEL
            if built.endswith("Loss"):
                return LOSS_FN
            return None if built.startswith("Parameter") or built in ("ModuleDict", "ModuleList") else MODEL
        name = ctx.call_name(expr)
        if name == "torch.device":
            return DEVICE
        if name in ("torch.utils.data.DataLoader", "torch.utils.data.dataloader.DataLoader"):
            return LOADER
        if name and name.rsplit(".", 1)[-1][:1].isupper():
            if name.startswith("torch.optim.lr_scheduler."):
                return SCHEDULER
            if name.startswith("torch.optim."):
                return OPTIMIZER
        return None

    visiting: Set[tuple] = set()

    def name_kind(name: str, owner: int, depth: int) -> Optional[str]:
        scope = walker.assigned.get(owner, {})
        is_param = owner in walker.params_of and name in walker.params_of[owner]
        if name in scope:
            values = scope[name]
        elif is_param:
            return kinds[owner].get(name)
        elif owner != 0:
            # a name a function only reads is the module's
            return name_kind(name, 0, depth)
        else:
            return None
        key = (owner, name)
        if key in visiting:  # `model = model.to(device)`: the other values decide
            return _UNKNOWN
        visiting.add(key)
        try:
            found = {classify(v, owner, depth) if v is not None else None for v in values}
        finally:
            visiting.discard(key)
        if is_param:
            found.add(kinds[owner].get(name))
        found.discard(_UNKNOWN)
        if len(found) != 1:
            return None
        return found.pop()

    # Callers may pass their own parameters on: repeat until nothing changes.
    for _ in range(4):
        changed = False
        for fname, d in walker.defs.items():
            params = _params(d)
            sites = walker.calls.get(fname, [])
            if not sites:
                continue
            for i, p in enumerate(params):
                seen: Set[Optional[str]] = set()
                for call, owner in sites:
                    seen.add(_passed_kind(call, i, p, owner, classify))
                kind = seen.pop() if len(seen) == 1 else None
                if kinds[id(d)].get(p) != kind:
                    kinds[id(d)][p] = kind
                    changed = True
        if not changed:
            break
    return kinds


def _passed_kind(call: cst.Call, index: int, param: str, owner: int, classify) -> Optional[str]:
    for a in call.args:
        if a.star:
            return None
    positional = [a for a in call.args if a.keyword is None]
    if index < len(positional):
        return classify(positional[index].value, owner)
    for a in call.args:
        if a.keyword is not None and a.keyword.value == param:
            return classify(a.value, owner)
    return None  # left to its default


def _params(d: cst.FunctionDef) -> List[str]:
    p = d.params
    return [x.name.value for x in (*p.posonly_params, *p.params, *p.kwonly_params)]


class _Collect:
    """One walk: function definitions, calls to them, and what each scope assigns."""

    def __init__(self) -> None:
        # module-level and nested functions (not methods) by name; a name
        # defined twice is left out
        self.defs: Dict[str, cst.FunctionDef] = {}
        self.all_defs: List[cst.FunctionDef] = []
        self._twice: Set[str] = set()
        # function name -> [(call, id of the scope the call is in)]
        self.calls: Dict[str, List] = {}
        # scope id (0 for the module) -> name -> assigned values (None: not a plain assignment)
        self.assigned: Dict[int, Dict[str, List[Optional[cst.BaseExpression]]]] = {}
        self.params_of: Dict[int, Set[str]] = {}

    def run(self, module: cst.Module) -> None:
        stack = [(module, 0, False)]
        while stack:
            node, owner, in_class = stack.pop()
            if isinstance(node, cst.FunctionDef):
                self._assign(owner, node.name.value, None)
                self.all_defs.append(node)
                if not in_class:
                    name = node.name.value
                    if name in self.defs or name in self._twice:
                        self.defs.pop(name, None)
                        self._twice.add(name)
                    else:
                        self.defs[name] = node
                self.params_of[id(node)] = set(_params(node))
                stack.extend((c, id(node), False) for c in children(node.body))
                continue
            if isinstance(node, cst.ClassDef):
                self._assign(owner, node.name.value, None)
                stack.extend((c, owner, True) for c in children(node.body))
                continue
            if isinstance(node, cst.Lambda):
                continue
            if isinstance(node, cst.Assign):
                for t in node.targets:
                    if isinstance(t.target, cst.Name):
                        self._assign(owner, t.target.value, node.value if len(node.targets) == 1 else None)
                    else:
                        self._unknown_targets(t.target, owner)
            elif isinstance(node, (cst.AugAssign, cst.AnnAssign)):
                self._unknown_targets(node.target, owner)
            elif isinstance(node, (cst.For, cst.CompFor)):
                self._unknown_targets(node.target, owner)
            elif isinstance(node, cst.AsName):
                self._unknown_targets(node.name, owner)
            elif isinstance(node, cst.NamedExpr):
                self._unknown_targets(node.target, owner)
            elif isinstance(node, cst.Call) and isinstance(node.func, cst.Name):
                self.calls.setdefault(node.func.value, []).append((node, owner))
            stack.extend((c, owner, in_class) for c in children(node))
        for name in self._twice:
            self.calls.pop(name, None)

    def _assign(self, owner: int, name: str, value: Optional[cst.BaseExpression]) -> None:
        self.assigned.setdefault(owner, {}).setdefault(name, []).append(value)

    def _unknown_targets(self, target: cst.CSTNode, owner: int) -> None:
        if isinstance(target, cst.Name):
            self._assign(owner, target.value, None)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for e in target.elements:
                self._unknown_targets(e.value, owner)
        elif isinstance(target, cst.StarredElement):
            self._unknown_targets(target.value, owner)
