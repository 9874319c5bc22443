"""Imports are handled once, at the end: torch imports nobody uses any more go,
the MXNet imports the generated code needs come in, and a generated name that
would clash with a name the script still binds gets an alias.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Set, Tuple, Union, cast

import libcst as cst
from libcst.metadata import BaseAssignment, Scope

from ..analysis.names import is_torch_name
from ..base.syntax import PreservingTransformer, Statement
from ..rewrite.context import Context
from ..base.syntax import code_of


@dataclass
class TorchBinding:
    statement: Union[cst.Import, cst.ImportFrom]
    alias: cst.ImportAlias
    name: str  # the local name it binds
    assignment: Optional[BaseAssignment]


def _dotted(node: cst.BaseExpression) -> str:
    return code_of(node).strip()


def _module_name(node: Union[cst.Import, cst.ImportFrom], alias: cst.ImportAlias) -> str:
    if isinstance(node, cst.Import):
        return _dotted(alias.name)
    if node.relative or node.module is None:
        return ""
    return _dotted(node.module)


def find_torch_imports(scopes: Mapping[cst.CSTNode, Optional[Scope]]) -> List[TorchBinding]:
    """Every alias of every import of torch/torchvision, with its scope assignment."""
    found: List[TorchBinding] = []
    seen: Set[int] = set()
    for scope in {s for s in scopes.values() if s is not None}:
        for a in scope.assignments:
            node = getattr(a, "node", None)
            if not isinstance(node, (cst.Import, cst.ImportFrom)) or isinstance(node.names, cst.ImportStar):
                continue
            for alias in node.names:
                if not is_torch_name(_module_name(node, alias)):
                    continue
                bound = alias.evaluated_alias or alias.evaluated_name
                if a.name != bound and not (isinstance(node, cst.Import) and bound.startswith(a.name + ".")):
                    continue
                if id(alias) in seen:
                    continue
                seen.add(id(alias))
                found.append(TorchBinding(node, alias, a.name, a))
    return found


def finish(
    module: cst.Module,
    ctx: Context,
    torch_imports: List[TorchBinding],
    scopes: Mapping[cst.CSTNode, Optional[Scope]],
    present: Set[int],
) -> cst.Module:
    unused_aliases: Set[int] = set()
    removed_names: Set[str] = set()
    for b in torch_imports:
        refs = b.assignment.references if b.assignment is not None else ()
        if not any(id(r.node) in present for r in refs):
            unused_aliases.add(id(b.alias))
            removed_names.add(b.name)

    # Names the output still binds, so generated names do not clash with them.
    bound: Set[str] = set()
    for scope in {s for s in scopes.values() if s is not None}:
        for a in scope.assignments:
            node = getattr(a, "node", None)
            if isinstance(node, (cst.Import, cst.ImportFrom)) and not isinstance(node.names, cst.ImportStar):
                if any(id(al) in unused_aliases for al in node.names if (al.evaluated_alias or al.evaluated_name).split(".")[0] == a.name.split(".")[0]):
                    continue
            bound.add(a.name.split(".")[0])

    existing = _existing_imports(scopes)
    # An import is needed when a reference built for it is still in the output
    # (a suppressed statement drops what the rules built in it).
    used = {local for local, nodes in ctx.generated.items() if any(id(n) in present for n in nodes)}
    needed = {imp for imp in ctx.imports if imp not in existing and imp[2] in used}
    renames: Dict[str, str] = {}
    for mod, name, local in needed:
        if local in bound:
            alias = f"mx_{local}" if local != "mx" else "mxnet"
            n = 2
            while alias in bound:
                alias = f"mx_{local}{n}"
                n += 1
            renames[local] = alias
    if renames:
        ids = {id(n): renames[local] for local, nodes in ctx.generated.items() if local in renames for n in nodes}
        module = module.visit(_Rename(ids, ctx))

    new_imports = _import_statements(needed, renames)
    torch_nodes = {id(b.statement) for b in torch_imports}
    return module.visit(_ImportRewriter(unused_aliases, torch_nodes, new_imports, ctx))


def _existing_imports(scopes) -> Set[Tuple[str, Optional[str], str]]:
    """MXNet imports the module already has, as (module, name, local)."""
    out: Set[Tuple[str, Optional[str], str]] = set()
    for scope in {s for s in scopes.values() if s is not None}:
        for a in scope.assignments:
            node = getattr(a, "node", None)
            if not isinstance(node, (cst.Import, cst.ImportFrom)) or isinstance(node.names, cst.ImportStar):
                continue
            for alias in node.names:
                module = _module_name(node, alias)
                if not (module.startswith("mxnet") or module == "numpy"):
                    continue
                local = alias.evaluated_alias or alias.evaluated_name
                if isinstance(node, cst.Import):
                    out.add((alias.evaluated_name, None, local))
                else:
                    out.add((module, alias.evaluated_name, local))
    return out


def _import_line(stmt: cst.BaseStatement) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and isinstance(stmt.body[0], (cst.Import, cst.ImportFrom))


def separate(module: cst.Module, ctx: Context) -> cst.Module:
    """Blank lines between the MXNet imports and the code after them, as black would."""
    body = list(module.body)
    inserted = [i for i, s in enumerate(body) if id(s) in ctx.inserted_imports]
    if not inserted:
        return module
    i = inserted[-1] + 1
    while i < len(body) and _import_line(body[i]):
        i += 1
    if i >= len(body):
        return module
    stmt = body[i]
    want = 2 if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)) else 1
    lines = list(stmt.leading_lines)
    have = 0
    while have < len(lines) and lines[have].comment is None:
        have += 1
    if have >= want:
        return module
    body[i] = stmt.with_changes(leading_lines=[cst.EmptyLine()] * (want - have) + lines)
    return module.with_changes(body=body)


def _import_statements(needed, renames) -> List[cst.SimpleStatementLine]:
    plain: List[str] = []
    from_groups: Dict[str, List[str]] = {}
    for mod, name, local in sorted(needed, key=lambda t: (t[0], t[1] or "")):
        alias = renames.get(local)
        if name is None:
            plain.append(f"import {mod} as {alias or local}")
        else:
            from_groups.setdefault(mod, []).append(f"{name} as {alias}" if alias else name)
    lines = plain + [f"from {mod} import {', '.join(sorted(names))}" for mod, names in sorted(from_groups.items())]
    return [cst.parse_statement(line + "\n") for line in lines]  # type: ignore[misc]


class _Rename(PreservingTransformer):
    def __init__(self, ids: Dict[int, str], ctx: Context) -> None:
        super().__init__(ctx)
        self.ids = ids

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.Name:
        new = self.ids.get(id(original))
        return cst.Name(new) if new else updated


def _merge(carry: Sequence[cst.EmptyLine], lines: Sequence[cst.EmptyLine]) -> List[cst.EmptyLine]:
    """Lines of a removed statement above the next one: comments are kept; blank
    lines only where the next statement has none of its own."""
    if any(line.comment is not None for line in carry):
        return [*carry, *lines]
    return list(lines) if lines else list(carry[:1])


def has_import(stmt: cst.CSTNode, nodes: Set[int]) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and any(id(s) in nodes for s in stmt.body)


class _ImportRewriter(PreservingTransformer):
    """Drops unused torch aliases and puts the MXNet imports where torch's were."""

    def __init__(
        self,
        unused: Set[int],
        torch_nodes: Set[int],
        new_imports: List[cst.SimpleStatementLine],
        ctx: Context,
    ) -> None:
        super().__init__(ctx)
        self.unused = unused
        self.torch_nodes = torch_nodes
        self.new_imports = new_imports
        self.ctx = ctx

    # Only statements hold imports; skip expressions entirely for speed.
    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> bool:
        return False

    def _insert(self, out: List[Statement], at: int, above: List[cst.EmptyLine]) -> None:
        new = list(self.new_imports)
        if above:
            new[0] = new[0].with_changes(leading_lines=above)
        self.ctx.inserted_imports.update(id(n) for n in new)
        out[at:at] = new

    def _rewrite_body(
        self, body: List[Statement], top: bool
    ) -> Tuple[List[Statement], List[cst.EmptyLine]]:
        """Returns the new body and comment lines left over at its end."""
        out: List[Statement] = []
        carry: List[cst.EmptyLine] = []
        inserted = not (top and self.new_imports)
        for stmt in body:
            if isinstance(stmt, cst.SimpleStatementLine) and has_import(stmt, self.torch_nodes):
                kept = self._strip(stmt)
                if kept is None:
                    if not inserted:
                        # MXNet imports take the place of the first torch
                        # import, under the comments that were above it.
                        self._insert(out, len(out), [*carry, *stmt.leading_lines])
                        carry = []
                        inserted = True
                    else:
                        carry.extend(stmt.leading_lines)
                    comment = stmt.trailing_whitespace.comment
                    if comment is not None:
                        carry.append(cst.EmptyLine(comment=comment))
                    continue
                stmt = kept
                if carry:
                    stmt = stmt.with_changes(leading_lines=_merge(carry, stmt.leading_lines))
                    carry = []
                out.append(stmt)
                if not inserted:  # the torch import stays: MXNet's go right after it
                    self._insert(out, len(out), [])
                    inserted = True
                continue
            if carry:
                stmt = stmt.with_changes(leading_lines=_merge(carry, stmt.leading_lines))
                carry = []
            out.append(stmt)
        if not inserted:
            at = after_header(out)
            above: List[cst.EmptyLine] = []
            if at == 0 and out:
                above = list(out[0].leading_lines)
                out[0] = out[0].with_changes(leading_lines=[])
            self._insert(out, at, above)
        return out, carry

    def _strip(self, stmt: cst.SimpleStatementLine) -> Optional[cst.SimpleStatementLine]:
        small = []
        for s in stmt.body:
            if isinstance(s, (cst.Import, cst.ImportFrom)) and not isinstance(s.names, cst.ImportStar):
                names = [a for a in s.names if id(a) not in self.unused]
                if not names:
                    continue
                if len(names) != len(s.names):
                    names[-1] = names[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
                    s = s.with_changes(names=names)
            small.append(s)
        if not small:
            return None
        small[-1] = small[-1].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
        return stmt.with_changes(body=small)

    def leave_IndentedBlock(self, original: cst.IndentedBlock, updated: cst.IndentedBlock) -> cst.IndentedBlock:
        if not any(has_import(s, self.torch_nodes) for s in updated.body):
            return updated
        body, carry = self._rewrite_body(cast(List[Statement], list(updated.body)), top=False)
        if not body:
            body = [cst.SimpleStatementLine(body=[cst.Pass()], leading_lines=carry)]
            carry = []
        return updated.with_changes(body=body, footer=[*carry, *updated.footer])

    def leave_Module(self, original: cst.Module, updated: cst.Module) -> cst.Module:
        body, carry = self._rewrite_body(list(updated.body), top=True)
        return updated.with_changes(body=body, footer=[*carry, *updated.footer])


def after_header(body: Sequence[cst.BaseStatement]) -> int:
    """Index after a module docstring and ``from __future__`` imports."""
    i = 0
    if body and isinstance(body[0], cst.SimpleStatementLine) and isinstance(body[0].body[0], cst.Expr):
        if isinstance(body[0].body[0].value, (cst.SimpleString, cst.ConcatenatedString)):
            i = 1
    while i < len(body):
        s = body[i]
        if (
            isinstance(s, cst.SimpleStatementLine)
            and isinstance(s.body[0], cst.ImportFrom)
            and s.body[0].module is not None
            and code_of(s.body[0].module).strip() == "__future__"
        ):
            i += 1
        else:
            break
    return i
