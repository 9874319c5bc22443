"""Tensor methods and ``torch.*`` tensor functions.

Methods are only rewritten where the spelling cannot mean anything else: a
torch-only method name (``view``, ``unsqueeze``, ``permute``, ``size()``,
...), torch-only keywords (``dim=``, ``keepdim=``), or a receiver that is
evidently a tensor (the result of a torch function, of a model, of a
torch-only method, a data loader's batch, or a name assigned one of those).
Names numpy shares with torch (``sum``, ``max``, ``tolist``, ``item``,
``transpose``, ``flatten``...) are left alone on anything else.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Set, cast

import libcst as cst

from ..rewrite.context import Context
from ..base.syntax import arg
from ..base.diagnostics import Severity
from ._base import Example, NotLiteral, Rule, Unbindable, bind, code_of, literal, paren
from ..analysis.kinds import DType
from ..facts import ops_index_helpers as H
from ..facts.catalog import literal_dtype
from ..facts.dtypes import CAST_METHODS, DTYPES
from ..facts.ops_create import LEGACY_CONSTRUCTORS
from ..facts.ops_shape_helpers import AXES, SQUEEZE, TRANSPOSE
from ..facts.tensor import METHODS, OTHER_RULES_METHODS, SAME_WITH_ONE_SHAPE, SAME_WITHOUT_ARGUMENTS, TENSOR_RESULT
from ..rewrite.build import astype, meth, minus_one
from ..rewrite.templates import inline


COMPARE_METHODS = {"eq": cst.Equal, "ne": cst.NotEqual, "gt": cst.GreaterThan, "lt": cst.LessThan,
                   "ge": cst.GreaterThanEqual, "le": cst.LessThanEqual}
COMPARE_OPS = (cst.Equal, cst.NotEqual, cst.GreaterThan, cst.LessThan, cst.GreaterThanEqual, cst.LessThanEqual)


# -- what is evidently a tensor -------------------------------------------------

def _kwargs(call: cst.Call) -> Set[str]:
    return {a.keyword.value for a in call.args if a.keyword is not None}


# methods this rule translates only when called without arguments
_WITHOUT_ARGUMENTS = frozenset({"numel", "dim", "contiguous", "t", "numpy", "item", "tolist", "clone"})

# reductions whose MXNet spelling (axis=, keepdims=) a second pass leaves as it is
_REDUCING = ("sum", "mean", "prod", "max", "min", "argmax", "argmin")


def _array_call(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value in TENSOR_RESULT


# -- building code ------------------------------------------------------------------


def _to_float64(node: cst.BaseExpression) -> cst.Call:
    # x.argmax(...).astype("int64") holds integers: cast the argmax itself
    if (
        isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "astype"
        and len(node.args) == 1 and literal(node.args[0].value) == "int64"
        and isinstance(node.func.value, cst.Call) and isinstance(node.func.value.func, cst.Attribute)
        and node.func.value.func.attr.value in ("argmax", "argmin")
        and not node.lpar
    ):
        node = node.func.value
    return astype(node, "float64")


def compare(left: cst.BaseExpression, op: type, right: cst.BaseExpression, cast: bool) -> cst.Comparison:
    if cast:
        left, right = _to_float64(left), _to_float64(right)
    return cst.Comparison(
        left=paren(left),
        comparisons=[cst.ComparisonTarget(operator=op(), comparator=paren(right))],
        lpar=[cst.LeftParen()],
        rpar=[cst.RightParen()],
    )


def axis_args(b: Dict[str, cst.BaseExpression]) -> List[cst.Arg]:
    out = []
    if "dim" in b and literal(b["dim"]) is not None:
        out.append(arg(b["dim"], "axis"))
    if "keepdim" in b and literal(b["keepdim"]) is not False:
        out.append(arg(b["keepdim"], "keepdims"))
    return out


def matmul(ctx: Context, a: cst.BaseExpression, b: cst.BaseExpression) -> cst.BaseExpression:
    """torch's matmul: ``nd.dot`` when the right operand has at most two axes
    (any left rank: dot contracts a's last axis with b's first), else
    ``nd.batch_dot`` (equal batch axes; torch's broadcasting of batch axes is
    an error there, not a different result)."""
    expr = inline(
        cst.parse_expression("ND.dot(A, B) if B.ndim <= 2 else ND.batch_dot(A, B)"),
        {"A": a, "B": b},
        lambda: ctx.ref("mxnet.nd"),
    )
    return expr.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()]) if not expr.lpar else expr


def variance(ctx: Context, x: cst.BaseExpression, call: cst.Call, params: List[str], which: str) -> cst.BaseExpression:
    """torch's ``x.var``/``x.std`` (Bessel's correction by default) from NDArray sums.

    MXNet 1.9's NDArray has no std/var (``nd.moments`` is the biased one).
    """
    b = bind(call, params + ["correction"])
    correction: float = 1
    if "unbiased" in b:
        u = literal(b["unbiased"])
        if not isinstance(u, bool):
            raise Unbindable("with `unbiased` that is not a literal True/False is not translated")
        correction = int(u)
    if "correction" in b:
        c = literal(b["correction"])
        if not isinstance(c, (int, float)) or isinstance(c, bool):
            raise Unbindable("with `correction` that is not a number literal is not translated")
        correction = c
    keep = literal(b["keepdim"]) if "keepdim" in b else False
    if not isinstance(keep, bool):
        raise Unbindable("with `keepdim` that is not a literal True/False is not translated")
    dims = literal(b["dim"]) if "dim" in b else None
    dim_node = b.get("dim")
    if isinstance(dim_node, (cst.Tuple, cst.List)):
        dims = tuple(literal(e.value) for e in dim_node.elements)
    if isinstance(dims, int) and not isinstance(dims, bool):
        dims = (dims,)
    if dims is not None and not (isinstance(dims, (tuple, list)) and all(isinstance(d, int) and not isinstance(d, bool) for d in dims)):
        raise Unbindable("with a `dim` that is not an int or a tuple of ints written out is not translated")
    if dims is None:
        axis, n = "", "X.size"
    else:
        axis = f"axis={dims[0]}" if len(dims) == 1 else f"axis={tuple(dims)!r}"
        n = " * ".join(f"X.shape[{d}]" for d in dims)
    mean = f"X.mean({axis}{', ' if axis else ''}keepdims=True)"
    reduce_args = ", ".join(a for a in (axis, "keepdims=True" if keep else "") if a)
    count = f"({n} - {correction!r})" if correction else (f"({n})" if " * " in n else n)
    template = f"ND.square(X - {mean}).sum({reduce_args}) / {count}"
    if which == "std":
        template = f"ND.sqrt({template})"
    return inline(cst.parse_expression(template), {"X": x}, lambda: ctx.ref("mxnet.nd"))


def is_number(node: cst.BaseExpression) -> bool:
    v = literal(node)
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def sizes(call: cst.Call, keyword: str) -> cst.BaseExpression:
    """torch's ``*sizes`` (or one sequence, or ``keyword=``) as one tuple expression."""
    pos = [a for a in call.args if a.keyword is None]
    kw = [a for a in call.args if a.keyword is not None]
    if kw:
        if pos or len(kw) != 1 or cast(cst.Name, kw[0].keyword).value != keyword:
            raise Unbindable("its arguments cannot be matched")
        return kw[0].value
    if not pos:
        raise Unbindable("no sizes given")
    if len(pos) == 1 and not pos[0].star:
        v = pos[0].value
        if literal_dtype(v) is DType.INT and not isinstance(v, (cst.Tuple, cst.List)):
            return cst.Tuple(elements=[cst.Element(value=v)])
        return v
    if len(pos) == 1 and pos[0].star == "*":
        return cst.Call(func=cst.Name("tuple"), args=[arg(pos[0].value)])
    if any(a.star for a in pos):
        raise Unbindable("starred sizes mixed with other sizes cannot be matched")
    return cst.Tuple(elements=[cst.Element(value=a.value) for a in pos])


def clamp(ctx: Context, x: cst.BaseExpression, lo, hi) -> cst.BaseExpression:
    if lo is not None and literal(lo) is None:
        lo = None
    if hi is not None and literal(hi) is None:
        hi = None
    if lo is not None and hi is not None and is_number(lo) and is_number(hi):
        return meth(x, "clip", arg(lo), arg(hi))
    if lo is None and hi is None:
        raise Unbindable("needs `min` or `max`")
    out = x
    if lo is not None:
        out = ctx.call("mxnet.nd.maximum", arg(out), arg(lo))
    if hi is not None:
        out = ctx.call("mxnet.nd.minimum", arg(out), arg(hi))
    return out


def max_pair(ctx: Context, value: cst.BaseExpression, function: Optional[bool] = None):
    """``x.max(dim=1)`` / ``torch.max(x, 1)`` (values and indices): (kind, x, dim, keepdim) or None.

    ``function`` says which form an already rewritten node has (its names no longer resolve).
    """
    if not isinstance(value, cst.Call):
        return None
    if function is not None:
        if not isinstance(value.func, cst.Attribute):
            return None
        kind = value.func.attr.value
        try:
            b = bind(value, ["input", "dim", "keepdim"] if function else ["dim", "keepdim"])
        except Unbindable:
            return None
        if "dim" not in b or (function and "input" not in b):
            return None
        x = b["input"] if function else value.func.value
        return kind, x, b["dim"], b.get("keepdim")
    name = ctx.call_name(value)
    try:
        if name in ("torch.max", "torch.min"):
            b = bind(value, ["input", "dim", "keepdim"])
            if "dim" not in b:
                return None
            return name[6:], b["input"], b["dim"], b.get("keepdim")
        if name is None and isinstance(value.func, cst.Attribute) and value.func.attr.value in ("max", "min"):
            b = bind(value, ["dim", "keepdim"])
            if "dim" not in b or not (isinstance(literal(b["dim"]), int) or "dim" in _kwargs(value)):
                return None
            if "dim" not in _kwargs(value) and not ctx.is_tensor(value.func.value):
                return None
            return value.func.attr.value, value.func.value, b["dim"], b.get("keepdim")
    except Unbindable:
        return None
    return None


def _simple(node: cst.BaseExpression) -> bool:
    """Cheap to evaluate twice, no side effects."""
    while isinstance(node, (cst.Attribute, cst.Subscript)):
        if isinstance(node, cst.Subscript) and not all(
            isinstance(e.slice, cst.Index) and isinstance(e.slice.value, (cst.Name, cst.Integer)) for e in node.slice
        ):
            return False
        node = node.value
    return isinstance(node, cst.Name)


class _Split(Rule):
    """Statement-level rewrites shared by both rules."""

    def _max_statement(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        if len(original.body) != 1 or not isinstance(original.body[0], cst.Assign):
            return None
        a_o, a_u = original.body[0], updated.body[0]
        if len(a_o.targets) != 1 or not isinstance(a_o.targets[0].target, (cst.Tuple, cst.List)):
            return None
        if not isinstance(a_u, cst.Assign) or not isinstance(a_u.targets[0].target, (cst.Tuple, cst.List)):
            return None  # already split by the other rule
        pair = max_pair(self.ctx, a_o.value)
        if pair is None:
            return None
        targets = a_o.targets[0].target.elements
        if len(targets) != 2 or any(isinstance(e, cst.StarredElement) for e in targets):
            return None
        kind, _, _, _ = pair
        is_function = self.ctx.call_name(a_o.value) is not None
        pair_u = max_pair(self.ctx, a_u.value, is_function) if isinstance(a_u, cst.Assign) else None
        if pair_u is None:
            return None
        _, x, dim, keep = pair_u
        used = [e for e in targets if not (isinstance(e.value, cst.Name) and e.value.value == "_")]
        if not _simple(x) and len(used) > 1:
            if is_function == (self.code == "T2G103"):  # one report, by the rule of this form
                self.ctx.explained.add(id(cast(cst.Call, a_o.value).func))
                self.report(original, f"`{kind}(dim)` returns values and indices; its input is not a plain name, so it is not split; left as is")
            return None
        extra = axis_args({"dim": dim, **({"keepdim": keep} if keep is not None else {})})
        values = meth(x, kind, *extra)
        indices = astype(meth(x, "arg" + kind, *extra), "int64")
        out = []
        for target, value in zip(targets, (values, indices)):
            t = target.value
            if isinstance(t, cst.Name) and t.value == "_":
                continue
            out.append(original.with_changes(body=[cst.Assign(targets=[cst.AssignTarget(target=cast(cst.BaseAssignTargetExpression, t))], value=value)]))
        self.ctx.handled.add(id(a_o.value))
        return out

    def _max_unsplit(self, original: cst.Call, name: str) -> None:
        if id(original) not in self.ctx.handled:
            self.keep(original, name, "with a dim returns (values, indices) in torch and values only in MXNet; "
                      "write `v, i = x.max(dim=d)` (translated to two calls)")


class TensorMethods(_Split, Rule):
    """Tensor methods whose Gluon spelling differs.

    ## What it does
    ``x.view(a, b)`` -> ``x.reshape((a, b))``, ``view_as`` -> ``reshape_like``,
    ``unsqueeze(d)`` -> ``expand_dims(axis=d)``, ``size()``/``size(d)`` ->
    ``shape``/``shape[d]``, ``numel()`` -> ``size``, ``dim()`` -> ``ndim``,
    ``float()/double()/long()/half()``, ``to(dtype)``, ``type(dtype)`` ->
    ``astype``, ``permute`` -> ``transpose((...))``, ``contiguous()`` is
    dropped, ``clone()`` -> ``copy()``, ``numpy()`` -> ``asnumpy()``,
    ``tolist()`` -> ``asnumpy().tolist()``, ``item()`` -> ``asscalar().item()``,
    ``t()`` -> ``T``, ``fill_(v)``/``zero_()`` statements -> ``x[:] = v``,
    ``repeat`` -> ``tile``,
    ``expand`` -> ``broadcast_to``, ``eq/ne/gt/lt/ge/le`` and comparison
    operators, ``clamp`` -> ``clip``/``nd.maximum``/``nd.minimum``,
    ``sum/mean/prod/argmax/argmin/squeeze(dim=, keepdim=)`` -> ``axis=,
    keepdims=``, ``v, i = x.max(dim=d)`` -> two statements (``max`` and
    ``argmax``), ``flatten()`` -> ``reshape(-1)``, ``flatten(1)`` ->
    ``flatten()``, ``transpose(a, b)`` -> ``swapaxes(a, b)``.

    ## Why
    NDArray spells these differently, refuses ``dim=``/``keepdim=``, and its
    ``flatten()`` keeps the first axis. Comparisons: MXNet returns 0/1 in the
    operands' dtype and refuses operands of different dtypes (``argmax`` gives
    float indices, labels are integers), so a comparison of two tensors casts
    both to float64 (exact for float32 values and for integers below 2**53,
    which is torch's own type promotion); a ``.sum()`` of a comparison is cast
    to int64 as torch's is, and ``.item()`` gives a Python number as torch's.
    ``argmax``/``argmin`` and the indices of ``max(dim)`` are cast to int64.

    Methods numpy shares (``sum``, ``max``, ``tolist``, ``item``,
    ``transpose``, ``flatten``, ``repeat``...) are only rewritten on a
    receiver that is evidently a tensor, or with torch's ``dim=``/``keepdim=``.

    ## Flags
    ``view`` with a dtype argument or MXNet's special reshape codes;
    ``std``/``var`` (MXNet 1.9 NDArray has neither); ``x.max(dim)`` other than
    as ``v, i = ...``; ``expand`` with -1; ``.transpose(a, b)`` on a value not
    known to be a tensor (a warning); ``@`` between tensors (NDArray has no
    ``@``: ``nd.dot`` or ``nd.batch_dot`` depending on the ranks).

    ## Fix safety
    Values match. Full reductions (``x.sum()``) have shape (1,) in MXNet where
    torch's is (); ``squeeze(d)`` on an axis that is not 1 is a no-op in torch
    and an error in ``nd.squeeze``: outside a class it goes through the
    ``_t2g_squeeze`` helper, which keeps torch's meaning (inside one, a
    forward that may be hybridized has no shapes to read, and it stays
    ``squeeze(axis=d)``); ``permute`` with negative dims likewise (outside a
    class) through ``_t2g_transpose``.
    """

    _in_class = 0  # inside a class body (a model's forward may be hybridized: no shapes there)
    code = "T2G102"
    name = "tensor-methods"
    summary = "tensor.view(...) -> reshape((...))"
    examples = (
        Example(
            "import torch\ndef f(X):\n    return X.view(-1, 28*28)\n",
            "def f(X):\n    return X.reshape((-1, 28 * 28))\n",
            id="view to reshape",
        ),
        Example(
            "import torch\nimport numpy as np\na = np.zeros(4).view(np.int64)\n",
            "import numpy as np\n# torch2gluon: T2G102: `.view` with a dtype argument is not a reshape; left as is\na = np.zeros(4).view(np.int64)\n",
            diagnostics=("T2G102",),
            id="dtype view is flagged",
        ),
        Example(
            "import torch\ndef f(x):\n    return x.sum(dim=1, keepdim=True), x.unsqueeze(0).size(1), x.permute(1, 0)\n",
            "def f(x):\n    return (\n        x.sum(axis=1, keepdims=True),\n        x.expand_dims(axis=0).shape[1],\n        x.transpose((1, 0)),\n    )\n",
            id="torch-only spellings",
        ),
        Example(
            "import torch\nimport numpy as np\na = np.ones((2, 3))\nb = a.sum(1).tolist()\nc = a.transpose(1, 0)\n",
            "import numpy as np\na = np.ones((2, 3))\nb = a.sum(1).tolist()\n"
            "# torch2gluon: T2G102: `.transpose(a, b)` swaps two axes on a tensor but permutes all axes on a numpy array; not known to be a tensor, left as is (use `.swapaxes(a, b)` for a tensor)\n"
            "c = a.transpose(1, 0)\n",
            diagnostics=("T2G102",),
            id="numpy methods are left alone",
        ),
        Example(
            "import torch\nx = torch.ones(2, 3)\nv, i = x.max(dim=1)\nt = x.transpose(0, 1).tolist()\n",
            'from mxnet import nd\n\nx = nd.ones((2, 3))\nv = x.max(axis=1)\ni = x.argmax(axis=1).astype("int64")\nt = x.swapaxes(0, 1).asnumpy().tolist()\n',
            id="max with dim, methods on a known tensor",
        ),
        Example(
            "import torch\nfrom torch.utils.data import DataLoader\nloader = DataLoader(data, batch_size=2)\n"
            "def acc(net):\n    correct = 0\n    for x, y in loader:\n        out = net(x)\n"
            "        pred = out.argmax(dim=1, keepdim=True)\n"
            "        correct += pred.eq(y.view_as(pred)).sum().item()\n"
            "        correct += (out.argmax(1) == y).sum().item()\n    return correct\n",
            'from mxnet import gluon\n\nloader = gluon.data.DataLoader(data, batch_size=2)\ndef acc(net):\n    correct = 0\n    for x, y in loader:\n        out = net(x)\n        pred = out.argmax(axis=1, keepdims=True).astype("int64")\n'
            '        correct += (\n            (pred.astype("float64") == y.reshape_like(pred).astype("float64"))\n            .astype("int64")\n            .sum()\n            .asscalar()\n            .item()\n        )\n'
            '        correct += (\n            (out.argmax(1).astype("float64") == y.astype("float64"))\n            .astype("int64")\n            .sum()\n            .asscalar()\n            .item()\n        )\n    return correct\n',
            id="accuracy idioms",
        ),
    )

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        for small in node.body:
            if (
                isinstance(small, cst.Assign) and len(small.targets) == 1
                and isinstance(small.targets[0].target, (cst.Tuple, cst.List))
                and max_pair(self.ctx, small.value) is not None
            ):
                self.ctx.handled.add(id(small.value))  # split into two statements by _Split
        if len(node.body) == 1 and isinstance(node.body[0], cst.Expr):
            call = node.body[0].value
            if isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and call.func.attr.value in ("fill_", "zero_"):
                self.ctx.handled.add(id(call))  # rewritten as `x[:] = v` when the statement is left

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        # (there squeeze(d) and permute stay nd's)
        self._in_class += 1

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef) -> cst.ClassDef:
        self._in_class -= 1
        return updated

    def visit_For(self, node: cst.For) -> None:
        it = node.iter
        iterated = [it]
        if isinstance(it, cst.Call) and isinstance(it.func, cst.Name) and it.func.value in ("zip", "enumerate"):
            iterated = [a.value for a in it.args]
        tensors = [code_of(t) for t in iterated if isinstance(t, cst.Name) and self.ctx.is_tensor(t)]
        if tensors:
            self.report(
                node.iter,
                f"iterating over `{tensors[0]}`: an NDArray yields (1,)-shaped NDArrays where a tensor yields 0-d "
                "tensors (comparing two needs equal dtypes; indexing a list with one fails); "
                "iterate over `.asnumpy()` for numbers",
                severity=Severity.WARNING,
            )

    def leave_SimpleStatementLine(self, original, updated):
        split = self._max_statement(original, updated)
        if split is not None:
            return split
        # x.fill_(v) / x.zero_() as statements -> x[:] = v
        if len(original.body) == 1 and isinstance(original.body[0], cst.Expr):
            call_o, call_u = original.body[0].value, updated.body[0].value if isinstance(updated.body[0], cst.Expr) else None
            if (
                isinstance(call_o, cst.Call) and isinstance(call_u, cst.Call)
                and isinstance(call_o.func, cst.Attribute) and isinstance(call_u.func, cst.Attribute)
                and call_o.func.attr.value in ("fill_", "zero_")
                and self.ctx.call_name(call_o) is None
            ):
                m = call_o.func.attr.value
                try:
                    b = bind(call_u, ["value"] if m == "fill_" else [])
                except Unbindable:
                    return None
                if m == "fill_" and "value" not in b:
                    return None
                value = b["value"] if m == "fill_" else cst.Integer("0")
                target = cst.Subscript(
                    value=paren(call_u.func.value),
                    slice=[cst.SubscriptElement(slice=cst.Slice(lower=None, upper=None))],
                )
                return updated.with_changes(body=[cst.Assign(targets=[cst.AssignTarget(target=target)], value=value)])
        return None

    def leave_BinaryOperation(self, original: cst.BinaryOperation, updated):
        if isinstance(original.operator, cst.MatrixMultiply) and (
            self.ctx.is_tensor(original.left) or self.ctx.is_tensor(original.right)
        ):
            return matmul(self.ctx, updated.left, updated.right)
        return None

    def leave_Comparison(self, original: cst.Comparison, updated: cst.Comparison):
        if len(original.comparisons) != 1 or not isinstance(original.comparisons[0].operator, COMPARE_OPS):
            return None
        lo, ro = original.left, original.comparisons[0].comparator
        lt, rt = self.ctx.is_tensor(lo), self.ctx.is_tensor(ro)
        # next to a tensor, the result of an array method (`out.argmax(1)`) is an array too
        lt = lt or (rt and _array_call(lo))
        rt = rt or (lt and _array_call(ro))
        if not (lt and rt):
            if (lt or rt) and not (is_number(lo) or is_number(ro)):
                other = ro if lt else lo
                self.report(
                    original,
                    f"if `{code_of(other)}` is an NDArray too, MXNet refuses the comparison unless both have the same dtype",
                    severity=Severity.INFO,
                )
            return None
        return compare(updated.left, type(original.comparisons[0].operator), updated.comparisons[0].comparator, True).with_changes(
            lpar=updated.lpar or [cst.LeftParen()], rpar=updated.rpar or [cst.RightParen()]
        )

    def visit_Module(self, node: cst.Module) -> None:
        self._gluon_spelled: Set[int] = set()

    def visit_Call(self, node: cst.Call) -> None:
        # MXNet's spelling, as a first pass wrote it: `x.argmax(axis=1).astype("int64")`,
        # `mask.sum().astype("int64")`, `x.sum(axis=1, keepdims=True)`
        func = node.func
        if not isinstance(func, cst.Attribute):
            return
        if func.attr.value in _REDUCING and node.args and all(
            a.keyword is not None and a.keyword.value in ("axis", "keepdims") for a in node.args
        ):
            self._gluon_spelled.add(id(node))
        inner = func.value
        if (
            func.attr.value == "astype" and len(node.args) == 1 and literal(node.args[0].value) == "int64"
            and isinstance(inner, cst.Call) and isinstance(inner.func, cst.Attribute)
            and inner.func.attr.value in ("argmax", "argmin", "sum")
            and all(a.keyword is not None and a.keyword.value in ("axis", "keepdims") for a in inner.args)
        ):
            self._gluon_spelled.add(id(inner))

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        func = updated.func
        if not isinstance(func, cst.Attribute) or not isinstance(original.func, cst.Attribute):
            return None
        if self.ctx.call_name(original) is not None:
            return None  # a torch.* function, not a method
        if id(original) in self._gluon_spelled:
            return None
        m = func.attr.value
        recv_o, recv = original.func.value, func.value
        if self.ctx.value(recv_o).known and not self.ctx.is_tensor(recv_o):
            return None  # a module's function (`nd.concat(..., dim=0)`), a list's method...
        evident = self.ctx.is_tensor(recv_o)
        torch_kw = bool(_kwargs(original) & {"dim", "keepdim"})
        try:
            return self._method(original, updated, m, recv_o, recv, evident, torch_kw)
        except Unbindable as e:
            self.keep(original, f".{m}", str(e))
            return None

    def _method(self, original, updated, m, recv_o, recv, evident, torch_kw):
        ctx = self.ctx
        args = updated.args
        if m == "view":
            return self._view(original, updated)
        if m == "reshape" and evident:
            return self._view(original, updated, "reshape")
        if m == "view_as":
            b = bind(updated, ["other"])
            return meth(recv, "reshape_like", arg(b["other"]))
        if m == "unsqueeze":
            b = bind(updated, ["dim"])
            return meth(recv, "expand_dims", arg(b["dim"], "axis"))
        # numpy's and pandas' `size` is not callable: `x.size(d)` is a tensor's
        if m == "size" and len(args) <= 1:
            b = bind(updated, ["dim"])
            shape = cst.Attribute(value=paren(recv), attr=cst.Name("shape"))
            if "dim" not in b:
                return shape
            return cst.Subscript(value=shape, slice=[cst.SubscriptElement(slice=cst.Index(value=b["dim"]))])
        if m == "numel" and not args:
            return cst.Attribute(value=paren(recv), attr=cst.Name("size"))
        if m == "dim" and not args:
            return cst.Attribute(value=paren(recv), attr=cst.Name("ndim"))
        if m in CAST_METHODS and not args and (m != "int" or evident):
            return astype(recv, CAST_METHODS[m])
        if m == "type" and args and not any(a.star for a in args):
            # x.type(torch.int8, non_blocking) / x.type("torch.FloatTensor"): a cast (non_blocking changes nothing on the CPU)
            bt = bind(original, ["dtype", "non_blocking"])
            if "dtype" in bt:
                named = literal(bt["dtype"])
                if not isinstance(named, str):
                    named = ctx.torch_name(bt["dtype"])  # torch.FloatTensor, the class
                target = DTYPES.get(ctx.torch_name(bt["dtype"]) or "") or (
                    LEGACY_CONSTRUCTORS.get(named[6:]) if isinstance(named, str) and named.startswith("torch.") else None)
                if target is not None:
                    return astype(recv, target)
        if m in ("to", "type") and len(args) == 1 and not args[0].star:
            dtype = ctx.torch_name(args[0].value)
            kw = args[0].keyword.value if args[0].keyword else None
            if dtype in DTYPES and kw in (None, "dtype"):
                return astype(recv, DTYPES[dtype])
            if m == "type":
                raise Unbindable("with an argument that is not a torch dtype written out is not translated")
            return None  # `.to(device)`: T2G801's
        if m == "type" and evident:
            raise Unbindable("without a dtype (torch's type name) has no MXNet twin")
        if m == "type_as" and len(args) == 1 and not args[0].star and (args[0].keyword is None or args[0].keyword.value == "other"):
            if not ctx.is_tensor(cast(cst.Arg, original.args[0]).value):
                raise Unbindable("with an argument not known to be a tensor is not translated")
            return meth(recv, "astype", arg(cst.Attribute(value=paren(args[0].value), attr=cst.Name("dtype"))))
        if m == "permute":
            if len(args) == 1 and args[0].keyword is not None and args[0].keyword.value == "dims":
                dims = args[0].value
            else:
                dims = sizes(updated, "dims")
            if self._in_class or isinstance(dims, (cst.Tuple, cst.List)) and all(
                isinstance(literal(e.value), int) and literal(e.value) >= 0 for e in dims.elements
            ):
                return meth(recv, "transpose", arg(dims))
            # negative dims (nd.transpose refuses them), or dims not written out
            for name, code in (AXES, TRANSPOSE):
                ctx.helper(name, code)
            ndim = cst.Attribute(value=paren(recv), attr=cst.Name("ndim"))
            axes = cst.Call(func=cst.Name("_t2g_axes"), args=[arg(dims), arg(ndim)])
            return cst.Call(func=cst.Name("_t2g_transpose"), args=[arg(recv), arg(axes)])
        if m == "contiguous" and not args:
            return recv
        if m == "t" and not args:
            return cst.Attribute(value=paren(recv), attr=cst.Name("T"))
        if m == "numpy" and not args:
            return self._asnumpy(recv_o, recv)
        if m == "expand" or (m == "broadcast_to" and len(args) == 1 and not args[0].star):
            # MXNet's broadcast_to adds leading dims as torch's does; -1 (keep) it lacks
            new_size = sizes(updated, "size")
            if isinstance(new_size, cst.Tuple) and any(literal(e.value) == -1 for e in new_size.elements):
                raise Unbindable("with -1 (keep this size) has no broadcast_to twin")
            return meth(recv, "broadcast_to", arg(new_size))
        if m == "clamp":
            b = bind(updated, ["min", "max"])
            return clamp(ctx, recv, b.get("min"), b.get("max"))
        if m in ("fill_", "zero_") and id(original) not in ctx.handled:
            raise Unbindable("is in place; only translated as a statement of its own")
        if m in COMPARE_METHODS:
            b = bind(updated, ["other"])
            other_o = bind(original, ["other"])["other"]
            if is_number(other_o):  # (torch's comparisons give bool, MXNet's 0/1 numbers)
                return astype(compare(recv, COMPARE_METHODS[m], b["other"], False), "bool")
            if ctx.is_tensor(other_o):
                return astype(compare(recv, COMPARE_METHODS[m], b["other"], True), "bool")
            raise Unbindable("with an argument not known to be a tensor or a number is not translated (MXNet needs equal dtypes)")
        # -- methods numpy shares: only on evident tensors or with torch keywords
        if not (evident or torch_kw):
            if m == "transpose" and len(args) == 2 and all(a.keyword is None for a in args):
                self.report(
                    original,
                    "`.transpose(a, b)` swaps two axes on a tensor but permutes all axes on a numpy array; "
                    "not known to be a tensor, left as is (use `.swapaxes(a, b)` for a tensor)",
                    severity=Severity.WARNING,
                )
            return None
        if m == "item" and not args:
            if ctx.is_loss(recv_o):
                return None  # T2G301 takes the batch mean
            ctx.handled.add(id(original))
            return meth(meth(recv, "asscalar"), "item")
        if m == "tolist" and not args:
            return meth(self._asnumpy(recv_o, recv), "tolist")
        if m == "clone" and not args:
            return meth(recv, "copy")
        if m in ("sum", "mean", "prod"):
            b = bind(updated, ["dim", "keepdim", "dtype"])
            if "dtype" in b:
                raise Unbindable("with `dtype=` is not translated yet")
            if m == "sum" and ctx.is_bool_tensor(recv_o):
                if (isinstance(recv, cst.Call) and isinstance(recv.func, cst.Attribute) and recv.func.attr.value == "astype"
                        and len(recv.args) == 1 and literal(recv.args[0].value) == "bool"):
                    recv = recv.func.value  # (a comparison's 0/1 cast to bool: counted as it is)
                return meth(astype(recv, "int64"), m, *axis_args(b))  # torch sums booleans as int64 (MXNet's sum of bool is a bool)
            out = meth(recv, m, *axis_args(b))
            if m == "mean" and ctx.is_bool_tensor(recv_o):
                raise Unbindable("of a boolean tensor is an error in torch")
            return out
        if m in ("std", "var"):
            return variance(ctx, recv, updated, ["dim", "unbiased", "keepdim"], m)
        if m in ("argmax", "argmin"):
            b = bind(updated, ["dim", "keepdim"])
            if "dim" not in b or literal(b["dim"]) is None:
                return astype(meth(meth(recv, "reshape", arg(minus_one())), m, arg(cst.Integer("0"), "axis")), "int64")
            return astype(meth(recv, m, *axis_args(b)), "int64")
        if m in ("max", "min"):
            if not args:
                return None
            b = bind(updated, ["dim", "keepdim"])
            b_o = bind(original, ["dim", "keepdim"])
            if "keepdim" not in b and "dim" in b and not is_number(b_o["dim"]) and ctx.is_tensor(b_o["dim"]):
                return ctx.call("mxnet.nd.maximum" if m == "max" else "mxnet.nd.minimum", arg(recv), arg(b["dim"]))
            self._max_unsplit(original, f".{m}")
            return None
        if m in ("softmax", "log_softmax"):
            b = bind(updated, ["dim", "dtype"])
            if "dtype" in b or "dim" not in b:
                raise Unbindable("is translated only with `dim` (and no `dtype`)")
            return meth(recv, m, arg(b["dim"], "axis"))
        if m == "squeeze":
            b = bind(updated, ["dim"])
            if "dim" not in b or self._in_class:
                return meth(recv, "squeeze", *([arg(b["dim"], "axis")] if "dim" in b else []))
            # nd.squeeze(axis=d) raises where dim d is not 1; torch leaves the tensor as it is
            for name, code in (AXES, SQUEEZE):
                ctx.helper(name, code)
            return cst.Call(func=cst.Name("_t2g_squeeze"), args=[arg(recv), arg(b["dim"])])
        if m == "flatten":
            b = bind(updated, ["start_dim", "end_dim"])
            start, end = literal(b.get("start_dim", cst.Integer("0"))), literal(b.get("end_dim", minus_one()))
            if end != -1 or start not in (0, 1):
                raise Unbindable("with these dims is not translated")
            if start == 0:
                return meth(recv, "reshape", arg(minus_one()))
            return meth(recv, "flatten")
        if m == "transpose":
            if len(args) == 1 and not args[0].keyword and isinstance(args[0].value, (cst.Tuple, cst.List)):
                return None  # `x.transpose((1, 0))`: MXNet's (a second pass), not torch's
            b = bind(updated, ["dim0", "dim1"])
            if len(b) == 2:
                return meth(recv, "swapaxes", arg(b["dim0"]), arg(b["dim1"]))
            raise Unbindable("needs the two dims it swaps")
        if m == "repeat":
            return meth(recv, "tile", arg(sizes(updated, "repeats"), "reps"))
        if m in ("sum", "mean") or torch_kw and (m not in METHODS or METHODS[m].custom == self.code):
            raise Unbindable("with `dim=`/`keepdim=` is not translated")  # (the facts table's ops are T2G104's)
        if evident and m in _WITHOUT_ARGUMENTS:
            # translated above only without arguments: on a known tensor, refused (closed
            # world), not passed through (`x.numpy(force=True)` has no MXNet twin)
            raise Unbindable("with arguments is not translated")
        one_shape = len(args) == 1 and args[0].keyword is None and not args[0].star
        if evident and m in METHODS and METHODS[m].custom == self.code and not (
            m in OTHER_RULES_METHODS or (m in SAME_WITHOUT_ARGUMENTS and not args) or (m in SAME_WITH_ONE_SHAPE and one_shape)
        ):
            # the forms above are the verified ones; any other on a known tensor is refused (closed world)
            raise Unbindable("in this form is not translated")
        return None

    def _asnumpy(self, recv_o, recv) -> cst.Call:
        out = meth(recv, "asnumpy")
        if self.ctx.is_bool_tensor(recv_o):  # MXNet comparisons give 0/1 numbers
            out = meth(out, "astype", arg(cst.Name("bool")))
        return out

    def _view(self, original: cst.Call, updated: cst.Call, m: str = "view") -> Optional[cst.BaseExpression]:
        func = updated.func
        args = updated.args
        if m == "reshape" and len(args) == 1 and args[0].keyword is not None and args[0].keyword.value == "shape":
            args = [args[0].with_changes(keyword=None, equal=cst.MaybeSentinel.DEFAULT)]
        if not args or any(a.keyword is not None or a.star == "**" for a in args):
            self.report(original, f"`.{m}` without sizes, or with keywords, is not translated; left as is")
            return None
        for a in args:
            value = a.value
            if isinstance(value, (cst.Attribute, cst.SimpleString)) or self.ctx.torch_name(value):
                self.report(original, f"`.{m}` with a dtype argument is not a reshape; left as is")
                return None
            lit = literal(value)
            if isinstance(lit, int) and (lit == 0 or lit < -1):
                self.report(original, f"`.{m}` size {lit} has a special meaning in MXNet reshape; left as is")
                return None
        if len(args) == 1 and not args[0].star:
            shape: cst.BaseExpression = args[0].value
            if literal_dtype(shape) is DType.INT and not isinstance(shape, (cst.Tuple, cst.List)):
                shape = cst.Tuple(elements=[cst.Element(value=shape)])
        elif len(args) == 1 and args[0].star == "*":
            shape = cst.Call(func=cst.Name("tuple"), args=[arg(args[0].value)])
        elif any(a.star for a in args):
            return None
        else:
            shape = cst.Tuple(elements=[cst.Element(value=a.value) for a in args])
        return updated.with_changes(func=func.with_changes(attr=cst.Name("reshape")), args=[arg(shape)])


_REDUCE = {"torch.sum": "mxnet.nd.sum", "torch.mean": "mxnet.nd.mean"}
_CMP_FUNCS = {f"torch.{k}": v for k, v in COMPARE_METHODS.items()}


class TensorFunctions(_Split, Rule):
    """``torch.*`` tensor functions become ``mxnet.nd`` functions.

    ## What it does
    ``torch.cat(seq, dim)`` -> ``nd.concat(*seq, dim=d)`` (always with the dim:
    ``nd.concat`` defaults to 1, torch to 0), ``torch.stack`` ->
    ``nd.stack(*seq, axis=d)``, ``torch.matmul``/``@`` -> ``nd.dot`` when the
    right operand has at most two axes and ``nd.batch_dot`` otherwise (decided
    at run time), ``torch.std``/``torch.var`` (and the methods) -> sums of
    squared deviations over ``n - correction``, ``torch.mm`` -> ``nd.dot``, ``torch.bmm`` ->
    ``nd.batch_dot``, ``torch.where(c, a, b)`` -> ``nd.where`` (a Python number for a branch: a helper),
    ``clamp``, ``sum/mean/argmax/argmin(x, dim,
    keepdim)``, ``max/min(x)`` and ``max/min(a, b)`` (``nd.maximum``),
    ``v, i = torch.max(x, d)`` (two statements), ``torch.eq/ne/gt/lt/ge/le``.

    ## Why
    Same operations, other names and defaults; argmax indices are cast to
    torch's int64, comparisons cast as in T2G102.

    ## Flags
    ``torch.where(c)`` with one argument or with
    Python numbers for ``a``/``b``, ``torch.max(x, d)`` other than as
    ``v, i = ...``, ``out=``/``dtype=`` arguments.

    ## Fix safety
    Values match. ``nd.exp`` etc. keep an integer input's dtype where torch
    returns floats; full reductions have shape (1,) where torch's is ().
    """

    code = "T2G103"
    name = "tensor-functions"
    summary = "torch.cat/stack/mm/bmm/where/exp/... -> mxnet.nd"
    examples = (
        Example(
            "import torch\na = torch.ones(2, 3)\nb = torch.cat([a, a])\nc = torch.stack((a, a), dim=1)\nd = torch.mm(a, a.t())\n",
            'from mxnet import nd\n\na = nd.ones((2, 3))\nb = nd.concat(a, a, dim=0)\nc = nd.stack(a, a, axis=1)\nd = nd.dot(a, a.T)\n',
            id="cat stack mm",
        ),
        Example(
            "import torch\na = torch.ones(2, 3)\nv, i = torch.max(a, 1)\ns = torch.sum(a, dim=0, keepdim=True)\n",
            'from mxnet import nd\n\na = nd.ones((2, 3))\nv = a.max(axis=1)\ni = a.argmax(axis=1).astype("int64")\ns = nd.sum(a, axis=0, keepdims=True)\n',
            id="max with dim and reductions",
        ),
        Example(
            "import torch\ndef f(a, b):\n    return torch.matmul(a, b), torch.std(a, dim=1)\n",
            "from mxnet import nd\n\n\ndef f(a, b):\n    return (nd.dot(a, b) if b.ndim <= 2 else nd.batch_dot(a, b)), nd.sqrt(\n"
            "        nd.square(a - a.mean(axis=1, keepdims=True)).sum(axis=1) / (a.shape[1] - 1)\n    )\n",
            id="matmul by the right operand's rank; std with Bessel's correction",
        ),
    )

    def leave_SimpleStatementLine(self, original, updated):
        return self._max_statement(original, updated)

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        name = self.ctx.call_name(original)
        if name == "torch.nn.functional.one_hot":
            try:
                b = bind(updated, ["input", "num_classes"])
                if "num_classes" not in b or not (isinstance(literal(b["num_classes"]), int) and literal(b["num_classes"]) >= 0
                                                  or literal(b["num_classes"]) is NotLiteral):
                    raise Unbindable("needs `num_classes` (torch's -1 infers it from the data)")
            except Unbindable as e:
                self.keep(original, name, str(e))
                return None
            # MXNet's one_hot gives float32; torch's int64
            return astype(self.ctx.call("mxnet.nd.one_hot", arg(b["input"]), arg(b["num_classes"], "depth")), "int64")
        if name is None or not name.startswith("torch.") or name.count(".") != 1:
            return None
        try:
            return self._function(original, updated, name)
        except Unbindable as e:
            self.keep(original, name, str(e))
            return None

    def _seq(self, node: cst.BaseExpression) -> List[cst.Arg]:
        if isinstance(node, (cst.List, cst.Tuple)) and not any(isinstance(e, cst.StarredElement) for e in node.elements):
            return [arg(e.value) for e in node.elements]
        return [cst.Arg(value=node, star="*")]

    def _function(self, original, updated, name):
        ctx = self.ctx
        if name in ("torch.cat", "torch.concat"):
            b = bind(updated, ["tensors", "dim", "out"])
            if "out" in b:
                raise Unbindable("argument `out` is not translated")
            return ctx.call("mxnet.nd.concat", *self._seq(b["tensors"]), arg(b.get("dim", cst.Integer("0")), "dim"))
        if name == "torch.stack":
            b = bind(updated, ["tensors", "dim", "out"])
            if "out" in b:
                raise Unbindable("argument `out` is not translated")
            return ctx.call("mxnet.nd.stack", *self._seq(b["tensors"]), arg(b.get("dim", cst.Integer("0")), "axis"))
        if name in ("torch.mm", "torch.bmm"):
            b = bind(updated, ["input", "mat2"])
            return ctx.call("mxnet.nd.dot" if name == "torch.mm" else "mxnet.nd.batch_dot", arg(b["input"]), arg(b["mat2"]))
        if name == "torch.matmul":
            b = bind(updated, ["input", "other", "out"])
            if "out" in b:
                raise Unbindable("argument `out` is not translated")
            return matmul(ctx, b["input"], b["other"])
        if name == "torch.where":
            b = bind(updated, ["condition", "input", "other"])
            if set(b) == {"condition"}:  # torch.nonzero(condition, as_tuple=True)
                ctx.helper(*H.NONZERO)
                return cst.Call(func=cst.Name("_t2g_nonzero"), args=[arg(b["condition"]), arg(cst.Name("True"), "as_tuple")])
            if len(b) != 3:
                raise Unbindable("needs a condition and both branches (or the condition alone)")
            b_o = bind(original, ["condition", "input", "other"])
            if ctx.is_tensor(b_o["input"]) and ctx.is_tensor(b_o["other"]):  # (nd.where: a HybridBlock can take it)
                # (nd.where has no boolean condition: float32 0/1 serves any branch dtype)
                cond = astype(b["condition"], "float32")
                return ctx.call("mxnet.nd.where", arg(cond), arg(b["input"]), arg(b["other"]))
            for helper in (H.OPERANDS, H.BSHAPE, H.WHERE):  # a number (or not known to be a tensor): promoted as torch does
                ctx.helper(*helper)
            return cst.Call(func=cst.Name("_t2g_where"), args=[arg(b["condition"]), arg(b["input"]), arg(b["other"])])
        if name == "torch.clamp":
            b = bind(updated, ["input", "min", "max"])
            return clamp(ctx, b["input"], b.get("min"), b.get("max"))
        if name in _REDUCE:
            b = bind(updated, ["input", "dim", "keepdim", "dtype"])
            if "dtype" in b:
                raise Unbindable("argument `dtype` is not translated")
            if name == "torch.sum" and ctx.is_bool_tensor(bind(original, ["input", "dim", "keepdim", "dtype"])["input"]):
                # torch sums booleans as int64 (MXNet's sum of bool is a bool): cast first
                return ctx.call(_REDUCE[name], arg(astype(b["input"], "int64")), *axis_args(b))
            return ctx.call(_REDUCE[name], arg(b["input"]), *axis_args(b))
        if name in ("torch.std", "torch.var"):
            first = updated.args[0] if updated.args and updated.args[0].keyword is None else None
            if first is None:
                raise Unbindable("without the tensor as the first argument is not translated")
            rest = updated.with_changes(args=updated.args[1:])
            return variance(ctx, first.value, rest, ["dim", "unbiased", "keepdim"], name[6:])
        if name in ("torch.argmax", "torch.argmin"):
            b = bind(updated, ["input", "dim", "keepdim"])
            fn = "mxnet.nd." + name[6:]
            if "dim" not in b or literal(b["dim"]) is None:
                return astype(ctx.call(fn, arg(meth(b["input"], "reshape", arg(minus_one()))), arg(cst.Integer("0"), "axis")), "int64")
            return astype(ctx.call(fn, arg(b["input"]), *axis_args(b)), "int64")
        if name in ("torch.max", "torch.min"):
            b = bind(updated, ["input", "dim", "keepdim"])
            b_o = bind(original, ["input", "dim", "keepdim"])
            if len(b) == 1:
                return ctx.call("mxnet.nd." + name[6:], arg(b["input"]))
            if "keepdim" not in b and not is_number(b_o["dim"]) and ctx.is_tensor(b_o["dim"]):
                return ctx.call("mxnet.nd.maximum" if name == "torch.max" else "mxnet.nd.minimum", arg(b["input"]), arg(b["dim"]))
            if id(original) in ctx.handled:
                return None
            raise Unbindable("with a dim returns (values, indices) in torch and values only in MXNet; write `v, i = torch.max(x, d)`")
        if name in _CMP_FUNCS:
            b = bind(updated, ["input", "other"])
            b_o = bind(original, ["input", "other"])
            if is_number(b_o["other"]):  # (torch's comparisons give bool, MXNet's 0/1 numbers)
                return astype(compare(b["input"], _CMP_FUNCS[name], b["other"], False), "bool")
            if ctx.is_tensor(b_o["other"]):
                return astype(compare(b["input"], _CMP_FUNCS[name], b["other"], True), "bool")
            raise Unbindable("with an argument not known to be a tensor or a number is not translated (MXNet needs equal dtypes)")
        return None
