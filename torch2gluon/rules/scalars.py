"""0-d tensors, and tensors used as Python numbers."""

from __future__ import annotations

from typing import Dict, List, Optional, Set

import libcst as cst

from ..analysis.kinds import Kind, Value
from ..base.syntax import children, code_of, paren
from ..facts.ops_table import REGISTRY
from ..facts.tensor import REDUCTIONS, RESHAPING
from ._base import Example, Rule

# uses of a 0-d value whose (1,)-shaped MXNet stand-in behaves the same
_SAFE_METHODS = frozenset({"item", "backward", "asscalar"})
# calls a value may be passed to without its shape showing
_SAFE_CALLS = frozenset({"print", "float", "int", "bool", "round", "isinstance"})
# ways to observe a shape
_SHAPE_READS = frozenset({"shape", "ndim", "dim", "size", "numel", "ndimension", "tolist", "numpy", "__len__"})


def _method(node: cst.CSTNode) -> Optional[str]:
    return node.func.attr.value if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) else None


class ZeroDim(Rule):
    """A 0-d tensor whose shape can be observed is reported (MXNet's stands in with shape (1,)).

    ## What it does
    torch's full reductions (``x.sum()``, ``x.max()``, ``x.mean()`` without a
    dim), indexing every axis with an integer (``x[1, 2]`` of a matrix) and
    ``torch.tensor(3.0)`` give 0-d tensors. MXNet 1.9's NDArray has no 0-d
    arrays: the translation computes the same value with shape (1,). That is
    exact wherever the shape cannot be seen: the value's ``.item()``, its
    ``.backward()``, arithmetic and comparisons with numbers, other 0-d values
    or tensors of rank 1 and more (broadcasting gives the same shapes), tests
    (``if``, ``while``, ``assert``), ``float()``/``int()``/``print()``, and a
    local name whose every use is one of those. Where it can be seen, the
    use is reported: a value kept at module level (a notebook, an importer or
    a test reads it), one returned from a function nothing in the file calls,
    stored in a list, dict or attribute, passed to other functions, stacked,
    or asked for its ``shape``/``dim()``/``tolist()``/``numpy()``.

    ## Why
    ``torch.stack([a.sum(), b.sum()])`` has shape (2,), its translation (2, 1);
    ``x.sum().tolist()`` is a number in torch and a list in MXNet.

    ## Fix safety
    Nothing is changed; a diagnostic says where the shape shows.
    """

    code = "T2G105"
    name = "zero-dim"
    summary = "0-d torch results whose shape can be observed (MXNet's are shape (1,)) are reported"
    examples = (
        Example(
            "import torch\nx = torch.ones(2, 3)\nprint(x.sum().item(), float(x.mean()))\nif x.max() > 0:\n    x = x / x.sum()\n",
            "from mxnet import nd\n\nx = nd.ones((2, 3))\nprint(x.sum().asscalar().item(), float(x.mean().asscalar()))\nif x.max() > 0:\n    x = x / x.sum()\n",
            id="uses where the shape does not show",
        ),
        Example(
            "import torch\nx = torch.ones(2, 3)\ntotal = x.sum()\n",
            "from mxnet import nd\n\nx = nd.ones((2, 3))\n# torch2gluon: T2G105: `total` holds a 0-d tensor at module level, where its shape can be read; "
            "MXNet's stands in with shape (1,); left as is\ntotal = x.sum()\n",
            diagnostics=("T2G105",),
            id="a 0-d value kept at module level is reported",
        ),
        Example(
            "import torch\ndef f():\n    a = torch.ones(2, 2)\n    return torch.stack([a.sum(), a.mean()])\nf()\n",
            "from mxnet import nd\n\n\ndef f():\n    a = nd.ones((2, 2))\n    # torch2gluon: T2G105: `a.sum()` is a 0-d tensor put in a container, where its shape shows; "
            "MXNet's stands in with shape (1,); left as is\n    return nd.stack(a.sum(), a.mean(), axis=0)\nf()\n",
            diagnostics=("T2G105",),
            id="stacking 0-d values is reported",
        ),
    )

    def visit_Module(self, node: cst.Module) -> None:
        self._parents: Dict[int, cst.CSTNode] = {}
        self._scope_of: Dict[int, Optional[cst.FunctionDef]] = {}
        self._in_loop: Set[int] = set()  # module-level statements inside a for/while body
        self._called: Set[str] = set()  # names called as functions anywhere
        self._reported: Set[int] = set()
        zero: List[cst.CSTNode] = []
        losses: List[cst.CSTNode] = []
        stack: List[tuple] = [(node, None, False)]
        while stack:
            n, fn, loop = stack.pop()
            if isinstance(n, cst.FunctionDef):
                fn = n
            if isinstance(n, (cst.For, cst.While)) and fn is None:
                loop = True
            if isinstance(n, cst.BaseStatement) and loop and fn is None:
                self._in_loop.add(id(n))
            if isinstance(n, cst.Call) and isinstance(n.func, cst.Name):
                self._called.add(n.func.value)
            if isinstance(n, cst.BaseExpression):
                v = self.ctx.value(n)
                if v.kind is Kind.TENSOR and v.loss:
                    losses.append(n)
                elif v.kind is Kind.TENSOR and v.ndim == 0 or isinstance(n, cst.Call) and _zero_d_items(v):
                    zero.append(n)  # (a call's tuple: the reduction's (values, indices), (min, max)...)
            for c in reversed(children(n)):  # popped in source order
                self._parents[id(c)] = n
                self._scope_of[id(c)] = fn
                stack.append((c, fn, loop))
        self._zero = zero
        self._losses = losses

    def leave_Module(self, original: cst.Module, updated: cst.Module) -> None:
        # at the end of the pass: a statement another rule reported is not reported again
        errors = {(d.line) for d in self.ctx.diagnostics if d.severity.value == "error"}
        for n in self._zero:
            why = self._observed(n)
            if why is None:
                continue
            top = self._top(n)
            if top is not None:
                self.ctx.top_of[id(n)] = top  # where its position is found
            pos = self.ctx.position(n)
            if pos is not None and pos.start.line in errors:
                continue
            self._report(n, why)
        for n in self._losses:
            # a loss is the batch's per-sample losses in Gluon (or a (1,) mean):
            # exact for backward() and .item(), which T2G301 sees to; kept at
            # module level, it is read as it is
            parent = self._parents.get(id(n))
            if not (isinstance(parent, cst.Assign) and parent.value is n and self._module_level(parent)):
                continue
            top = self._top(n)
            if top is not None:
                self.ctx.top_of[id(n)] = top
            pos = self.ctx.position(n)
            if pos is not None and pos.start.line in errors:
                continue
            names = ", ".join(f"`{code_of(t.target)}`" for t in parent.targets)
            self._report(n, f"{names} holds a torch loss (0-d) at module level, where its shape can be read; Gluon's is per sample or shape (1,); left as is", full=True)
        return None

    def _module_level(self, node: cst.CSTNode) -> bool:
        stmt = self._statement(node)
        return self._scope_of.get(id(node)) is None and stmt is not None and id(stmt) not in self._in_loop

    def _report(self, node: cst.CSTNode, why: str, full: bool = False) -> None:
        stmt = self._statement(node)
        key = id(stmt) if stmt is not None else id(node)
        if key in self._reported:
            return
        self._reported.add(key)
        self.report(node, why if full else f"{why}; MXNet's stands in with shape (1,); left as is")

    def _top(self, node: cst.CSTNode) -> Optional[cst.CSTNode]:
        """The top-level statement holding ``node``."""
        n: Optional[cst.CSTNode] = node
        while n is not None and not isinstance(self._parents.get(id(n)), cst.Module):
            n = self._parents.get(id(n))
        return n

    def _statement(self, node: cst.CSTNode) -> Optional[cst.CSTNode]:
        n: Optional[cst.CSTNode] = node
        while n is not None and not isinstance(n, cst.BaseStatement):
            n = self._parents.get(id(n))
        return n

    def _observed(self, node: cst.CSTNode, depth: int = 0) -> Optional[str]:
        """Why the shape of the 0-d value ``node`` shows where it is used, or None."""
        if depth > 20:
            return f"`{_short(node)}` is a 0-d tensor used where its shape may show"
        parent = self._parents.get(id(node))
        if parent is None:
            return None
        shown = f"`{_short(node)}` is a 0-d tensor"
        if isinstance(parent, cst.Attribute) and parent.value is node:
            call = self._parents.get(id(parent))
            attr = parent.attr.value
            if isinstance(call, cst.Call) and call.func is parent:
                if attr in _SAFE_METHODS:
                    return None
                if attr == "astype":
                    return self._observed(call, depth + 1)  # MXNet's cast (a second pass): 0-d again
                if attr in _SHAPE_READS:
                    return f"{shown} whose `.{attr}()` shows its shape"
                op = REGISTRY.methods.get(attr) or REGISTRY.inplace.get(attr)
                if op is not None and attr not in RESHAPING and (attr in REDUCTIONS or self._keeps_rank(call)):
                    return self._observed(call, depth + 1)  # a 0-d result again
                return f"{shown} whose `.{attr}()` may show its shape"
            if attr in _SHAPE_READS or attr in ("shape", "ndim", "size"):
                return f"{shown} whose `.{attr}` shows its shape"
            if attr in ("T", "data", "grad"):
                return self._observed(parent, depth + 1)
            return None
        if isinstance(parent, cst.Arg):
            call = self._parents.get(id(parent))
            if not isinstance(call, cst.Call):
                return None
            callee = call.func
            qual = self.ctx.call_name(call)
            if isinstance(callee, cst.Name) and callee.value in _SAFE_CALLS and not qual:
                return None
            if (
                isinstance(callee, cst.Attribute) and callee.attr.value == "format"
                and isinstance(callee.value, (cst.SimpleString, cst.ConcatenatedString))
            ):
                return None  # "{:.4f}".format(t): T2G106 reads the number
            if qual is not None:
                op = REGISTRY.functions.get(qual)
                short = qual.rsplit(".", 1)[-1]
                if op is not None and short not in RESHAPING and self._keeps_rank(call):
                    return self._observed(call, depth + 1)
                return f"{shown} passed to `{code_of(callee)}`, where its shape shows"
            if isinstance(callee, cst.Attribute) and callee.value is not None and self.ctx.value(callee.value).is_tensor():
                if self._keeps_rank(call):
                    return self._observed(call, depth + 1)  # x.add(s) of a 0-d x
                return None  # an argument of a tensor method of higher rank broadcasts alike
            return f"{shown} passed to `{code_of(callee)}`, where its shape may show"
        if isinstance(parent, (cst.BinaryOperation, cst.UnaryOperation, cst.Comparison, cst.ComparisonTarget)):
            owner = parent if not isinstance(parent, cst.ComparisonTarget) else self._parents.get(id(parent))
            if owner is None:
                return None
            v = self.ctx.value(owner)
            if v.is_tensor() and v.ndim is not None and v.ndim >= 1:
                return None  # broadcast with a tensor of rank >= 1: the same shape
            if isinstance(owner, cst.UnaryOperation) and isinstance(owner.operator, cst.Not):
                return None
            if not v.is_tensor() and v.kind is not Kind.UNKNOWN:
                return None
            return self._observed(owner, depth + 1)
        if isinstance(parent, (cst.If, cst.While, cst.Assert, cst.IfExp)) and getattr(parent, "test", None) is node:
            return None
        if isinstance(parent, cst.BooleanOperation):
            return None
        if isinstance(parent, cst.IfExp):
            return self._observed(parent, depth + 1)
        if isinstance(parent, cst.Expr):
            return None  # a statement of its own: discarded
        if isinstance(parent, (cst.Assign, cst.AnnAssign, cst.AugAssign)) and parent.value is node:
            targets = [t.target for t in parent.targets] if isinstance(parent, cst.Assign) else [parent.target]
            if _zero_d_items(self.ctx.value(node)) and all(isinstance(t, (cst.Tuple, cst.List)) for t in targets):
                # (values, indices) of a reduction unpacked: local names are checked where they are used
                stmt = self._statement(parent)
                if self._scope_of.get(id(parent)) is None and stmt is not None and id(stmt) not in self._in_loop:
                    return f"`{code_of(targets[0])}` hold 0-d tensors at module level, where their shape can be read"
                return None
            for t in targets:
                if not isinstance(t, cst.Name):
                    return f"{shown} stored in `{code_of(t)}`, where its shape may show"
            if self._module_level(parent):
                name = code_of(targets[0])
                return f"`{name}` holds a 0-d tensor at module level, where its shape can be read"
            return None  # a local: its uses are checked where they are
        if isinstance(parent, cst.Return):
            fn = self._scope_of.get(id(parent))
            if fn is not None and fn.name.value in self._called:
                return None  # the calls in this file are checked where they are
            return f"{shown} returned from `{fn.name.value if fn else '?'}`, which nothing in this file calls"
        if isinstance(parent, cst.FormattedStringExpression):
            return None  # T2G106's
        if isinstance(parent, (cst.Element, cst.DictElement)):
            owner = self._parents.get(id(parent))
            if isinstance(self._parents.get(id(owner)), cst.AssignTarget):
                return None  # a name an unpacking binds: its uses are checked
            return f"{shown} put in a container, where its shape shows"
        return None

    def _keeps_rank(self, call: cst.Call) -> bool:
        v = self.ctx.value(call)
        return v.is_tensor() and v.ndim == 0


class TensorAsNumber(Rule):
    """A tensor used as a Python number gets ``.asscalar()``: ``float(t)``, ``f"{t:.4f}"``, ``"%.2f" % t``.

    ## What it does
    ``float(t)``/``int(t)``/``round(t)`` -> ``float(t.asscalar())``...;
    a format spec on a tensor (``f"{loss:.4f}"``, ``"{:.4f}".format(loss)``)
    -> ``f"{loss.asscalar():.4f}"``; ``"%.3f" % t`` / ``"%d/%d" % (a, b)`` ->
    the tensors with ``.asscalar()``.

    ## Why
    torch converts a one-element tensor to a number in all of these; MXNet's
    NDArray has no ``__float__``, ``__int__``, ``__round__`` or format specs
    (``TypeError: unsupported format string passed to NDArray.__format__``).

    ## Fix safety
    Safe: torch itself only allows these for one-element tensors, which
    ``asscalar()`` reads.
    """

    code = "T2G106"
    name = "tensor-as-number"
    summary = "float(t), f\"{t:.4f}\", \"%.2f\" % t on tensors -> .asscalar()"
    examples = (
        Example(
            "import torch\ndef report(x):\n    total = x.sum()\n    print(f\"total {total:.4f}\", \"{:.2f}\".format(total), \"%.1f\" % total, int(total))\nreport(torch.ones(3))\n",
            "from mxnet import nd\n\n\ndef report(x):\n    total = x.sum()\n    print(\n        f\"total {total.asscalar():.4f}\",\n        \"{:.2f}\".format(total.asscalar()),\n"
            "        \"%.1f\" % total.asscalar(),\n        int(total.asscalar()),\n    )\nreport(nd.ones(3))\n",
            id="numbers from tensors",
        ),
    )

    def _tensor(self, node: cst.BaseExpression) -> bool:
        v: Value = self.ctx.value(node)
        return v.kind is Kind.TENSOR and not v.loss

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        func = original.func
        if isinstance(func, cst.Name) and func.value in ("float", "int", "round") and self.ctx.call_name(original) is None:
            if len(original.args) >= 1 and not original.args[0].keyword and self._tensor(original.args[0].value):
                first = updated.args[0].with_changes(value=_scalar(updated.args[0].value))
                return updated.with_changes(args=[first, *updated.args[1:]])
            return None
        # "{:.2f}".format(t)
        if (
            isinstance(func, cst.Attribute) and func.attr.value == "format"
            and isinstance(func.value, (cst.SimpleString, cst.ConcatenatedString))
            and any(not a.keyword and self._tensor(a.value) for a in original.args)
        ):
            args = [
                u.with_changes(value=_scalar(u.value)) if not o.keyword and self._tensor(o.value) else u
                for o, u in zip(original.args, updated.args)
            ]
            return updated.with_changes(args=args)
        return None

    def leave_FormattedStringExpression(self, original, updated):
        if original.format_spec and self._tensor(original.expression):
            return updated.with_changes(expression=_scalar(updated.expression))
        return None

    def leave_BinaryOperation(self, original: cst.BinaryOperation, updated: cst.BinaryOperation):
        if not (isinstance(original.operator, cst.Modulo) and isinstance(original.left, (cst.SimpleString, cst.ConcatenatedString))):
            return None
        right_o, right_u = original.right, updated.right
        if isinstance(right_o, cst.Tuple) and isinstance(right_u, cst.Tuple):
            if not any(self._tensor(e.value) for e in right_o.elements):
                return None
            elements = [
                u.with_changes(value=_scalar(u.value)) if self._tensor(o.value) else u
                for o, u in zip(right_o.elements, right_u.elements)
            ]
            return updated.with_changes(right=right_u.with_changes(elements=elements))
        if self._tensor(right_o):
            return updated.with_changes(right=_scalar(right_u))
        return None


def _scalar(expr: cst.BaseExpression) -> cst.BaseExpression:
    return cst.Call(func=cst.Attribute(value=paren(expr), attr=cst.Name("asscalar")))


def _zero_d_items(value: Value) -> bool:
    """A tuple holding 0-d tensors: (values, indices), (min, max), (var, mean) of a full reduction."""
    return value.kind is Kind.TUPLE and value.items is not None and any(
        i.kind is Kind.TENSOR and i.ndim == 0 and not i.loss for i in value.items
    )


def _short(node: cst.CSTNode) -> str:
    text = " ".join(code_of(node).split())
    return text if len(text) <= 40 else text[:37] + "..."
