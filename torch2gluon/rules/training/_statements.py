"""T2G501's small matchers: method-call statements, receivers, assignments."""

from __future__ import annotations

from typing import List, Optional, Set, cast

import libcst as cst

from ...base.syntax import names_in


VARIABLE = ("torch.autograd.Variable", "torch.autograd.variable.Variable")


def method_call(stmt: cst.BaseStatement, method: str) -> Optional[cst.Call]:
    """``recv.method(...)`` as a whole statement -> the Call, else None."""
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return None
    small = stmt.body[0]
    if not isinstance(small, cst.Expr) or not isinstance(small.value, cst.Call):
        return None
    call = small.value
    if isinstance(call.func, cst.Attribute) and call.func.attr.value == method:
        return call
    return None


def receiver_name(call: cst.Call) -> Optional[str]:
    value = cast(cst.Attribute, call.func).value  # a method call, as method_call found it
    return value.value if isinstance(value, cst.Name) else None


def assigned_names(stmt: cst.BaseStatement) -> Set[str]:
    out: Set[str] = set()
    if not isinstance(stmt, cst.SimpleStatementLine):
        return out
    for small in stmt.body:
        targets: List[cst.BaseExpression] = []
        if isinstance(small, cst.Assign):
            targets = [t.target for t in small.targets]
        elif isinstance(small, (cst.AugAssign, cst.AnnAssign)):
            targets = [small.target]
        for t in targets:
            out.update(names_in(t))
    return out


def is_self_assignment(stmt: cst.BaseStatement) -> bool:
    """``X, y = X, y`` (what Variable removal leaves behind) is a no-op."""
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return False
    small = stmt.body[0]
    if not isinstance(small, cst.Assign) or len(small.targets) != 1:
        return False

    def names(node):
        if isinstance(node, cst.Name):
            return [node.value]
        if isinstance(node, cst.Tuple) and all(isinstance(e.value, cst.Name) for e in node.elements):
            return [cast(cst.Name, e.value).value for e in node.elements]
        return None

    target, value = small.targets[0].target, small.value
    if isinstance(target, cst.Tuple) != isinstance(value, cst.Tuple):
        return False  # `dims = (dims,)` makes a tuple: not a no-op
    left, right = names(target), names(value)
    return left is not None and left == right


def is_dotted(node: cst.BaseExpression) -> bool:
    """``model`` or ``self.model``: a plain name or attribute chain."""
    while isinstance(node, cst.Attribute):
        node = node.value
    return isinstance(node, cst.Name)


def statement_like(like: Optional[cst.BaseStatement], code: str) -> cst.SimpleStatementLine:
    """``code`` as a statement line, with ``like``'s comments and trailing whitespace."""
    new = cst.parse_statement(code)
    assert isinstance(new, cst.SimpleStatementLine)
    if like is not None and isinstance(like, cst.SimpleStatementLine):
        new = new.with_changes(leading_lines=like.leading_lines, trailing_whitespace=like.trailing_whitespace)
    return new


def is_trainer_assignment(stmt: cst.BaseStatement, name: str) -> bool:
    """``name = gluon.Trainer(...)`` (what T2G401 made of the optimizer; T2G902 makes
    it a ``DistributedTrainer(...)``, a Trainer subclass)."""
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return False
    small = stmt.body[0]
    if not (
        isinstance(small, cst.Assign) and len(small.targets) == 1
        and isinstance(small.targets[0].target, cst.Name) and small.targets[0].target.value == name
        and isinstance(small.value, cst.Call)
    ):
        return False
    func = small.value.func
    return (isinstance(func, cst.Attribute) and func.attr.value == "Trainer") or (
        isinstance(func, cst.Name) and func.value.endswith("Trainer")
    )


def is_record(stmt: cst.BaseStatement) -> bool:
    if not isinstance(stmt, cst.With) or len(stmt.items) != 1:
        return False
    item = stmt.items[0].item
    return (
        isinstance(item, cst.Call)
        and isinstance(item.func, cst.Attribute)
        and item.func.attr.value == "record"
    )
