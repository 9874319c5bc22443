"""What the module rules share: finding classes, `self.x = ...` statements, a base for per-class rules."""

from __future__ import annotations

from typing import Dict, List, Optional, Set, Tuple, cast

import libcst as cst

from ...base.syntax import arg, children
from .._base import Rule


MODULE_NAMES = ("torch.nn.Module", "torch.nn.modules.Module", "torch.nn.modules.module.Module")


def class_defs(module: cst.Module):
    """Every class statement, walking statements only (expressions hold none)."""
    stack: List[cst.CSTNode] = [module]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.ClassDef):
            yield n
        if isinstance(n, (cst.SimpleStatementLine, cst.BaseExpression)):
            continue
        stack.extend(c for c in children(n) if not isinstance(c, cst.BaseExpression))


def instantiation(stmt: cst.BaseStatement, classes: Set[str]) -> Optional[str]:
    """``name = Cls(...)`` with ``Cls`` one of ``classes`` -> ``name``."""
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return None
    assign = stmt.body[0]
    if not isinstance(assign, cst.Assign) or len(assign.targets) != 1:
        return None
    target = assign.targets[0].target
    value = assign.value
    if (
        isinstance(target, cst.Name)
        and isinstance(value, cst.Call)
        and isinstance(value.func, cst.Name)
        and value.func.value in classes
    ):
        return target.value
    return None


def instantiated(stmt: cst.SimpleStatementLine) -> str:
    """The class of an instantiation ``instantiation`` found."""
    call = cast(cst.Call, cast(cst.Assign, stmt.body[0]).value)  # `name = Cls(...)`
    return cast(cst.Name, call.func).value


def is_module(ctx, node: cst.BaseExpression) -> bool:
    return ctx.torch_name(node) in MODULE_NAMES


def self_attr(node: cst.CSTNode) -> Optional[str]:
    """``self.x`` -> ``"x"``."""
    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == "self":
        return node.attr.value
    return None


def self_assign(stmt: cst.CSTNode) -> Optional[Tuple[str, cst.Assign]]:
    """``self.x = <value>`` as the only statement of a line -> ``("x", assign)``."""
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return None
    assign = stmt.body[0]
    if not isinstance(assign, cst.Assign) or len(assign.targets) != 1:
        return None
    attr = self_attr(assign.targets[0].target)
    return (attr, assign) if attr is not None else None


def methods_of(cls: cst.ClassDef):
    for stmt in cls.body.body:
        if isinstance(stmt, cst.FunctionDef):
            yield stmt


def line_of(*exprs: cst.BaseExpression) -> cst.SimpleStatementLine:
    return cst.SimpleStatementLine(body=[cst.Expr(e) for e in exprs])


class ClassRule(Rule):
    """Tracks whether the class being visited is translated by T2G210."""

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.classes: Set[str] = set()
        self._stack: List[Optional[Dict[str, object]]] = []

    def visit_Module(self, node: cst.Module) -> None:
        self.classes = self.ctx.analysis.module_classes()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._stack.append(self.scan(node) if node.name.value in self.classes else None)

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef) -> None:
        self._stack.pop()
        return None

    @property
    def current(self) -> Optional[Dict[str, object]]:
        return self._stack[-1] if self._stack else None

    def scan(self, node: cst.ClassDef) -> Dict[str, object]:  # pragma: no cover - overridden
        return {}


def keyword_arg(value: cst.BaseExpression, keyword: str) -> cst.Arg:
    return arg(value, keyword)


def statements_in(node: cst.CSTNode):
    """Every simple statement line under ``node``, in any block."""
    stack: List[cst.CSTNode] = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.SimpleStatementLine):
            yield n
            continue
        if isinstance(n, cst.BaseExpression):
            continue
        stack.extend(reversed([c for c in children(n) if not isinstance(c, cst.BaseExpression)]))


def walk_all(node: cst.CSTNode):
    stack: List[cst.CSTNode] = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(children(n))
