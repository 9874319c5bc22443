"""The program's shape: functions and classes, what each scope binds, calls and loss names.

Syntactic facts the analysis (``values.py``) works from; no values here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

import libcst as cst

from ..base.syntax import children
from .kinds import Kind, Value


UNBOUND = Value(Kind.UNKNOWN, cls="<unbound>")  # a local not assigned yet on this path


@dataclass
class FunctionInfo:
    node: cst.FunctionDef
    owner: Optional["ClassInfo"]  # the class of a method
    params: List[str]
    locals: Set[str]  # names the function assigns (so they are its own)
    param_values: Dict[str, Value] = field(default_factory=dict)
    returns: Value = UNBOUND
    # (positional values, keyword values) of every call in the module
    calls: List[Tuple[List[Value], Dict[str, Value]]] = field(default_factory=list)
    star_called: bool = False  # some call passes *args/**kwargs: parameters unknown
    is_generator: bool = False
    # the calls of the previous round, for a function called after its analysis
    last_calls: List[Tuple[List[Value], Dict[str, Value]]] = field(default_factory=list)
    last_star: bool = False
    back_called: bool = False
    parent: Optional["FunctionInfo"] = None  # the function this one is defined in
    final_env: Dict[str, Value] = field(default_factory=dict)  # its names at the end (for closures)


@dataclass
class ClassInfo:
    node: cst.ClassDef
    name: str
    bases: List[str]  # local base class names
    torch_bases: List[str]  # torch classes it derives from directly
    is_module: bool = False
    members: Dict[str, Value] = field(default_factory=dict)
    last_members: Dict[str, Value] = field(default_factory=dict)  # the previous round's
    methods: Dict[str, FunctionInfo] = field(default_factory=dict)


def body_of(suite: cst.BaseSuite) -> Sequence[cst.CSTNode]:
    """The statements of a block; a one-line suite (``if x: a = 1; b = 2``) gives its small statements."""
    if isinstance(suite, cst.IndentedBlock):
        return suite.body
    if isinstance(suite, cst.SimpleStatementSuite):
        return suite.body
    return []


def functions_with_parents(module: cst.Module) -> Iterator[Tuple[cst.FunctionDef, Optional[cst.FunctionDef]]]:
    """Every function definition with the function it is defined in (None at module or class level)."""
    stack: List[Tuple[cst.CSTNode, Optional[cst.FunctionDef]]] = [(module, None)]
    while stack:
        n, parent = stack.pop()
        if isinstance(n, cst.FunctionDef):
            yield n, parent
            stack.extend((c, n) for c in reversed(children(n.body)))
            continue
        if isinstance(n, (cst.SimpleStatementLine, cst.BaseExpression)):
            continue
        stack.extend((c, parent) for c in reversed([c for c in children(n) if not isinstance(c, cst.BaseExpression)]))


def called_names(fn: cst.FunctionDef) -> Set[str]:
    """Names called as ``name(...)`` in a function's body (its inner functions' included)."""
    out: Set[str] = set()
    for n in _walk_nodes(fn.body):
        if isinstance(n, cst.Call) and isinstance(n.func, cst.Name):
            out.add(n.func.value)
    return out


def backward_names(scope: cst.CSTNode) -> Set[str]:
    """Names ``X`` of the statements ``X.backward()`` anywhere in a function's
    body or the module (not in the functions and classes defined there)."""
    out: Set[str] = set()
    stack: List[cst.CSTNode] = [scope]
    while stack:
        n = stack.pop()
        if n is not scope and isinstance(n, (cst.FunctionDef, cst.ClassDef)):
            continue
        if isinstance(n, cst.SimpleStatementLine):
            for small in n.body:
                if (
                    isinstance(small, cst.Expr)
                    and isinstance(small.value, cst.Call)
                    and isinstance(small.value.func, cst.Attribute)
                    and small.value.func.attr.value == "backward"
                    and isinstance(small.value.func.value, cst.Name)
                ):
                    out.add(small.value.func.value.value)
            continue
        if isinstance(n, cst.BaseExpression):
            continue
        stack.extend(children(n))
    return out


def statements_of_kind(root: cst.CSTNode, kind: type) -> Iterator[cst.CSTNode]:
    """Every statement of type ``kind`` under ``root``, in source order (expressions are not entered)."""
    stack: List[cst.CSTNode] = [root]
    while stack:
        n = stack.pop()
        if isinstance(n, kind):
            yield n
        if isinstance(n, (cst.SimpleStatementLine, cst.BaseExpression)):
            continue
        stack.extend(reversed([c for c in children(n) if not isinstance(c, cst.BaseExpression)]))


def param_names(fn: cst.FunctionDef) -> List[str]:
    p = fn.params
    return [x.name.value for x in (*p.posonly_params, *p.params, *p.kwonly_params)]


def assigned_names(fn: cst.FunctionDef) -> Set[str]:
    """The names a function binds itself (parameters, assignments, loops, imports...), not its inner scopes'."""
    out: Set[str] = set(param_names(fn))
    for extra in (fn.params.star_arg, fn.params.star_kwarg):
        if isinstance(extra, cst.Param):
            out.add(extra.name.value)
    declared: Set[str] = set()
    stack: List[cst.CSTNode] = list(children(fn.body))
    while stack:
        n = stack.pop()
        if isinstance(n, (cst.FunctionDef, cst.ClassDef)):
            out.add(n.name.value)
            continue
        if isinstance(n, (cst.Lambda, cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)):
            continue
        if isinstance(n, (cst.Global, cst.Nonlocal)):
            declared.update(x.name.value for x in n.names)
        elif isinstance(n, cst.AssignTarget):
            out.update(target_names(n.target))
        elif isinstance(n, (cst.AugAssign, cst.AnnAssign)):
            out.update(target_names(n.target))
        elif isinstance(n, (cst.For,)):
            out.update(target_names(n.target))
        elif isinstance(n, cst.AsName):
            out.update(target_names(n.name))
        elif isinstance(n, cst.NamedExpr):
            out.update(target_names(n.target))
        elif isinstance(n, cst.ExceptHandler) and n.name is not None:
            out.update(target_names(n.name.name))
        elif isinstance(n, cst.ImportAlias):
            bound = n.asname.name if n.asname is not None else n.name
            while isinstance(bound, cst.Attribute):
                bound = bound.value  # type: ignore[assignment]
            if isinstance(bound, cst.Name):
                out.add(bound.value)
        stack.extend(children(n))
    return out - declared


def assigned_in(stmt: cst.CSTNode) -> Set[str]:
    out: Set[str] = set()
    stack: List[cst.CSTNode] = [stmt]
    while stack:
        n = stack.pop()
        if isinstance(n, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        if isinstance(n, cst.AssignTarget):
            out.update(target_names(n.target))
        elif isinstance(n, (cst.AugAssign, cst.AnnAssign, cst.For)):
            out.update(target_names(n.target))
        elif isinstance(n, cst.NamedExpr):
            out.update(target_names(n.target))
        stack.extend(children(n))
    return out


def target_names(target: cst.CSTNode) -> Iterable[str]:
    if isinstance(target, cst.Name):
        yield target.value
    elif isinstance(target, (cst.Tuple, cst.List)):
        for e in target.elements:
            yield from target_names(e.value)
    elif isinstance(target, cst.StarredElement):
        yield from target_names(target.value)
    elif isinstance(target, cst.Del):
        yield from target_names(target.target)


def pattern_names(pattern: cst.CSTNode) -> Iterable[str]:
    for n in _walk_nodes(pattern):
        if isinstance(n, cst.MatchAs) and n.name is not None:
            yield n.name.value
        elif isinstance(n, cst.MatchStar) and n.name is not None:
            yield n.name.value


def _walk_nodes(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(children(n))


def _decorator_names(fn: cst.FunctionDef) -> Set[str]:
    out = set()
    for d in fn.decorators:
        dec = d.decorator
        if isinstance(dec, cst.Name):
            out.add(dec.value)
    return out


def is_static(fn: cst.FunctionDef) -> bool:
    return "staticmethod" in _decorator_names(fn)


def is_classmethod(fn: cst.FunctionDef) -> bool:
    return "classmethod" in _decorator_names(fn)


# qualified-name prefixes of Gluon's block classes (a class deriving from one is
# a model already: a second pass over a translation reads it as the first did)
GLUON_BLOCKS = ("mxnet.gluon.Block", "mxnet.gluon.HybridBlock", "mxnet.gluon.block.", "mxnet.gluon.nn.")


def is_module_class(name: str) -> bool:
    """A torch base class whose subclasses are modules (``nn.Module`` or any torch layer)."""
    return name.startswith("torch.nn.") and name.rsplit(".", 1)[-1][:1].isupper() and ".functional." not in name
