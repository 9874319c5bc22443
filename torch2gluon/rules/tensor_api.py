"""The tensor API from the facts table, and the closed world around it."""

from __future__ import annotations

import ast
import functools
from typing import Dict, List, Optional, Set, Tuple, Union, cast

import libcst as cst

from ..analysis.kinds import DType, Kind, Value
from ..base.diagnostics import Severity
from ..base.syntax import NotLiteral, Unbindable, arg, code_of, literal, paren
from ..facts.dtypes import DTYPES
from ..facts.ops import REQUIRED, Form, Op
from ..facts.ops_table import REGISTRY
from ..facts.mxnet import GLUON_BLOCKS
from ..facts.runtime import FLOAT_HELPER, LIKE_HELPER, LONG_HELPER
from ..facts.tensor import Result
from ..facts.tensor_names import MXNET_ARRAY_NAMES, TENSOR_ATTRIBUTES, TENSOR_NAMES, TENSOR_ONLY
from ..rewrite.context import Context
from ..rewrite.templates import inline
from ._base import Example, Rule

# attributes of a tensor (not calls) and what they become
_ATTRIBUTES = {
    "shape": None,  # the same (a tuple; torch.Size is one too)
    "T": None,
    "ndim": None,
    "grad": None,
    "dtype": None,
    "data": "detach",  # x.data: the values, detached from the graph
    "device": "context",
}
_ATTRIBUTE_REFUSALS = {
    "requires_grad": "has no MXNet twin (an array records gradients after `attach_grad()`)",
    "is_cuda": "has no MXNet twin (use `x.context.device_type == \"gpu\"`)",
    "grad_fn": "has no MXNet twin (MXNet does not expose the graph)",
    "is_leaf": "has no MXNet twin",
}


# the fields of torch's named tuples of two: (values, indices), aminmax's (min, max)
_NAMED_ITEMS = {"values": 0, "indices": 1, "min": 0, "max": 1}

_PROMOTING = (cst.Divide, cst.Add, cst.Subtract, cst.Multiply, cst.Power)


@functools.lru_cache(maxsize=None)
def _parse(template: str) -> cst.BaseExpression:
    return cst.parse_expression(template)


class TensorApi(Rule):
    """Tensor functions and methods become MXNet expressions, from the facts table; the rest is refused.

    ## What it does
    A ``torch.<op>(x, ...)`` call, an ``x.<op>(...)`` method call on a value
    the analysis knows to be a tensor (or on anything, when only tensors have
    a method of that name), and an in-place ``x.<op>_(...)`` statement are
    looked up in the facts table (``torch2gluon/facts/ops_*.py``): an entry
    with a template is translated (``x.log1p()`` -> ``nd.log1p(x)``,
    ``x.sign()`` -> ``nd.sign(x)``); an entry of
    another rule is left to it (``view``, ``sum``, ``max``...). Attributes:
    ``x.data`` -> ``x.detach()``, ``x.device`` -> ``x.context``.

    ## Why
    The closed world: a method of a tensor either has a verified mapping or
    is reported. Passed through, it would fail at run time (``'NDArray' object
    has no attribute 'div'``) or, worse, mean something else.

    Floating-point ops of integer tensors give float32 in torch and keep the
    integer dtype in MXNet (``nd.exp`` of int64 truncates); the translation
    casts where torch would, from the dtype the analysis knows, or through
    the small ``_t2g_float`` helper where it does not.

    ## Flags
    A tensor method with no entry, an entry that is refused (with its
    reason), ``out=`` and other refused arguments, ``*args``/``**kwargs`` that
    cannot be matched, in-place methods inside an expression, and tensor
    attributes without a twin (``requires_grad``, ``is_cuda``, ``grad_fn``).

    ## Fix safety
    Each template is checked against torch (``tests/test_tensor_api.py``).
    """

    code = "T2G104"
    name = "tensor-api"
    summary = "torch tensor functions/methods -> mxnet.nd from the facts table; unknown tensor methods are reported"
    examples = (
        Example(
            "import torch\nx = torch.ones(2, 3)\ny = x.log1p()\nz = torch.expm1(x)\nw = x.log2()\n",
            'from mxnet import nd\n\nx = nd.ones((2, 3))\ny = nd.log1p(x)\nz = nd.expm1(x)\nw = nd.log2(x)\n',
            id="templates from the facts table",
        ),
        Example(
            "import torch\nt = torch.tensor([1, 2, 3])\nh = t.sqrt()\nq = t / 2\n",
            'from mxnet import nd\n\nt = nd.array([1, 2, 3], dtype="int64")\nh = nd.sqrt(t.astype("float32"))\nq = t.astype("float32") / 2\n',
            id="an integer tensor is promoted where torch promotes it",
        ),
        Example(
            "import torch\ndef f(x):\n    return x.cauchy_()\n",
            "def f(x):\n    # torch2gluon: T2G104: `x.cauchy_` (a torch tensor method) has no translation yet; left as is\n    return x.cauchy_()\n",
            diagnostics=("T2G104",),
            id="a method only tensors have, without a mapping, is reported",
        ),
        Example(
            "import torch\nout = torch.ones(2, 3)\nv = out.data\ngrad = out.requires_grad\n",
            "from mxnet import nd\n\nout = nd.ones((2, 3))\nv = out.detach()\n"
            "# torch2gluon: T2G104: `out.requires_grad` has no MXNet twin (an array records gradients after `attach_grad()`); left as is\n"
            "grad = out.requires_grad\n",
            diagnostics=("T2G104",),
            id="tensor attributes",
        ),
    )

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._statement_calls: Set[int] = set()  # in-place calls that are a statement of their own
        self._callees: Set[int] = set()  # Attribute nodes that are the func of a call
        self._targets: Set[int] = set()  # Attribute nodes assigned to
        self._inplace: Dict[int, Tuple[cst.BaseExpression, cst.BaseExpression]] = {}
        # inside the methods of an nn.Module subclass, a tensor of unknown dtype is
        # taken as floating-point: the layers compute in float (and a helper call
        # would keep the class from becoming a HybridBlock)
        self._in_module = 0
        # inside a class that derives from a Gluon block already (a second pass over a
        # translation), a method NDArray has too is MXNet's (`x.swapaxes(1, 2)`)
        self._in_gluon = 0
        self._module_classes: Set[str] = set()

    def visit_Module(self, node: cst.Module) -> None:
        self._module_classes = self.ctx.analysis.module_classes()

    def _is_module_class(self, node: cst.ClassDef) -> bool:
        # a Gluon block too: a second pass over our own output reads it the same way
        return node.name.value in self._module_classes or any(
            (self.ctx.imported_name(b.value) or "").startswith(GLUON_BLOCKS) for b in node.bases
        )

    def _is_gluon_class(self, node: cst.ClassDef) -> bool:
        return any((self.ctx.imported_name(b.value) or "").startswith(GLUON_BLOCKS) for b in node.bases)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        if self._is_module_class(node):
            self._in_module += 1
        if self._is_gluon_class(node):
            self._in_gluon += 1

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef) -> None:
        if self._is_module_class(original):
            self._in_module -= 1
        if self._is_gluon_class(original):
            self._in_gluon -= 1
        return None

    # -- where calls stand -------------------------------------------------------
    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        if len(node.body) == 1 and isinstance(node.body[0], cst.Expr) and isinstance(node.body[0].value, cst.Call):
            self._statement_calls.add(id(node.body[0].value))
        # `y = x.op_(...)`: x changes and y is x (or, x a fresh tensor, y is the result)
        body = node.body[0] if len(node.body) == 1 else None
        if isinstance(body, cst.Assign) and len(body.targets) == 1 and isinstance(body.value, cst.Call):
            func = body.value.func
            if isinstance(func, cst.Attribute) and (_plain(func.value) or isinstance(func.value, cst.Call)):
                self._statement_calls.add(id(body.value))

    def visit_Call(self, node: cst.Call) -> None:
        self._callees.add(id(node.func))

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._targets.add(id(node.target))

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._targets.add(id(node.target))

    # -- attributes ------------------------------------------------------------------
    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> Optional[cst.BaseExpression]:
        if id(original) in self._callees or id(original) in self.ctx.handled:
            return None
        attr = original.attr.value
        value = self.ctx.value(original.value)
        if value.kind is Kind.TUPLE and attr in _NAMED_ITEMS and value.items is not None and len(value.items) == 2:
            # torch's (values, indices) and (min, max) named tuples are plain tuples in the translation
            index = cst.Integer(str(_NAMED_ITEMS[attr]))
            return cst.Subscript(value=paren(updated.value), slice=[cst.SubscriptElement(slice=cst.Index(value=index))])
        if value.kind is not Kind.TENSOR:  # parameters are T2G214's
            return None
        if attr in _ATTRIBUTE_REFUSALS:
            self.ctx.explained.add(id(original))
            self.report(original, f"`{code_of(original)}` {_ATTRIBUTE_REFUSALS[attr]}; left as is")
            return None
        if attr in _ATTRIBUTES:
            new = _ATTRIBUTES[attr]
            if new is None:
                return None
            if id(original) in self._targets:
                # `x.data = t` swaps the storage (its shape may change): no MXNet assignment does that
                self.report(original, f"assigning `{code_of(original)}` is not translated; left as is")
                return None
            if new == "detach":
                return cst.Call(func=cst.Attribute(value=paren(updated.value), attr=cst.Name("detach")))
            return updated.with_changes(attr=cst.Name(new))
        if attr in TENSOR_NAMES and id(original) not in self._targets:
            self.report(original, f"`{code_of(original)}` (a torch tensor attribute) has no translation yet; left as is")
        return None

    # -- operators ----------------------------------------------------------------------
    def leave_BinaryOperation(self, original: cst.BinaryOperation, updated: cst.BinaryOperation):
        """torch's promotion for ``a / b``, and for ``+ - * **`` with a float number:
        MXNet divides integer arrays as integers and keeps their dtype with a float."""
        operator = original.operator
        if not isinstance(operator, _PROMOTING):
            return None
        lv, rv = self.ctx.value(original.left), self.ctx.value(original.right)
        if not (lv.is_tensor() or rv.is_tensor()):
            return None
        values = {"a": updated.left, "b": updated.right}
        infos = {"a": (original.left, lv), "b": (original.right, rv)}
        if isinstance(operator, cst.Divide):
            out = self._true_division(values, infos)
        else:
            out = self._promoted(values, infos)
        if out["a"] is values["a"] and out["b"] is values["b"]:
            return None
        return updated.with_changes(left=paren(out["a"]), right=paren(out["b"]))

    def _true_division(self, values, infos) -> Dict[str, cst.BaseExpression]:
        floats = [k for k, (_, v) in infos.items() if v.is_tensor() and v.dtype is DType.FLOAT]
        out = dict(values)
        for k, (node, v) in infos.items():
            if not v.is_tensor() or v.dtype is DType.FLOAT:
                continue
            if v.dtype in (DType.INT, DType.BOOL):
                target = (
                    cst.Attribute(value=paren(values[floats[0]]), attr=cst.Name("dtype")) if floats else cst.SimpleString('"float32"')
                )
                out[k] = cst.Call(func=cst.Attribute(value=paren(values[k]), attr=cst.Name("astype")), args=[arg(target)])
            elif self._in_module:
                continue
            elif floats:
                self.ctx.helper(*LIKE_HELPER)
                out[k] = cst.Call(func=cst.Name("_t2g_like"), args=[arg(values[k]), arg(values[floats[0]])])
            else:
                self.ctx.helper(*FLOAT_HELPER)
                out[k] = cst.Call(func=cst.Name("_t2g_float"), args=[arg(values[k])])
        return out

    # -- calls -------------------------------------------------------------------------
    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        if id(original) in self.ctx.handled:
            return None
        name = self.ctx.call_name(original)
        if name is not None:
            op = REGISTRY.functions.get(name)
            if op is None:
                return None  # any other torch name: T2G001 reports what stays
            return self._translate(op, Form.FUNCTION, original, updated, name)
        func = original.func
        if not isinstance(func, cst.Attribute) or not isinstance(updated.func, cst.Attribute):
            return None
        method = func.attr.value
        receiver = self.ctx.value(func.value)
        if receiver.kind is Kind.PARAMETER:
            return None  # a parameter's value: T2G214 (and its closed world)
        if method in TENSOR_ATTRIBUTES or (method in MXNET_ARRAY_NAMES and (method not in TENSOR_NAMES or self._in_gluon)):
            return None  # `p.grad()`, `x.asscalar()`: not torch's calls (MXNet's, in a second pass)
        known = receiver.kind is Kind.TENSOR
        if not known and (method not in TENSOR_ONLY or receiver.known):
            return None  # not a tensor's, as far as anything says
        op = REGISTRY.methods.get(method)
        form = Form.METHOD
        if op is None and method in REGISTRY.inplace:
            op, form = REGISTRY.inplace[method], Form.INPLACE
        if op is None:
            if method in TENSOR_NAMES or known:
                what = "a torch tensor method" if method in TENSOR_NAMES else "not an MXNet array method"
                self._refuse(original, f"{code_of(func)}", f"({what}) has no translation yet")
            return None
        if not known and not _fits(op, original):
            return None  # `F.relu(x)` with F a parameter: not a tensor method's call
        return self._translate(op, form, original, updated, func)  # (its code is printed only for a report)

    def _refuse(self, original: cst.Call, name: object, why: str) -> None:
        """Report a call left as is (``name`` as the script spells it), and nothing else."""
        self.report(original, f"`{name}` {why}; left as is")
        self.ctx.explained.add(id(original.func))

    def _translate(self, op: Op, form: Form, original: cst.Call, updated: cst.Call, name: Union[str, cst.CSTNode]):
        # printing the receiver costs as much as the chain it ends: only done for a report
        shown = _Shown(name)
        if op.custom is not None and form & op.custom_forms:
            return None  # that rule's code translates it (or reports it)
        if op.refuse:
            self._refuse(original, shown, f"is not translated: {op.refuse}")
            return None
        if op.template is None and not op.alternatives:
            self._refuse(original, shown, "has no translation yet")
            return None
        if form is Form.INPLACE and id(original) not in self._statement_calls:
            self._refuse(original, shown, "changes a tensor in place inside an expression; only translated as a statement of its own")
            return None
        try:
            bound_u, bound_o, x_u, x_o = self._bind(op, form, original, updated)
            template = self._template(op, bound_o)
            expr = self._render(op, template, bound_u, bound_o, x_u, x_o)
        except Unbindable as e:
            self._refuse(original, shown, str(e))
            return None
        if op.warn:
            self.report(original, f"`{shown}` is translated, but {op.warn}", severity=Severity.WARNING)
        if form is Form.INPLACE:
            self._inplace[id(original)] = (x_u, expr)  # the statement becomes `x[:] = expr`
            return None
        return expr

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        if len(original.body) != 1 or not isinstance(original.body[0], (cst.Expr, cst.Assign)):
            return None
        planned = self._inplace.pop(id(original.body[0].value), None)
        if planned is None:
            return None
        x, value = planned
        assign = updated.body[0]
        if isinstance(assign, cst.Assign) and isinstance(x, cst.Call):  # a fresh tensor changed in place: the result
            return updated.with_changes(body=[assign.with_changes(value=value)])
        target = cst.Subscript(value=paren(x), slice=[cst.SubscriptElement(slice=cst.Slice(lower=None, upper=None))])
        line = updated.with_changes(body=[cst.Assign(targets=[cst.AssignTarget(target=target)], value=value)])
        if isinstance(assign, cst.Assign):  # `y = x.op_(...)`: x changes, y is x
            return cst.FlattenSentinel([line, updated.with_changes(body=[assign.with_changes(value=x)], leading_lines=[])])
        return line

    # -- arguments ---------------------------------------------------------------------
    def _bind(self, op: Op, form: Form, original: cst.Call, updated: cst.Call):
        if form is Form.FUNCTION:
            params = ("input",) + tuple(p.name for p in op.params)
        else:
            params = tuple(p.name for p in op.params)
        bound_u = _bind(updated, params, op)
        bound_o = _bind(original, params, op)
        for name, why in op.refused_params:
            if name in bound_o:
                raise Unbindable(f"with `{name}=` is not translated ({why})")
        for need, why in op.refused_values:
            if _given(need, bound_o):
                shown = "` holding `".join(need.split("~", 1))
                raise Unbindable(f"with `{shown}` is not translated ({why})")
        for p in op.params:
            if p.default is REQUIRED and p.name not in bound_o:
                raise Unbindable(f"needs `{p.name}`")
            if p.literal and p.name in bound_o and literal(bound_o[p.name]) is NotLiteral:
                raise Unbindable(f"with `{p.name}` that is not a literal is not translated")
        if form is Form.FUNCTION:
            if "input" not in bound_o:
                raise Unbindable("needs its tensor argument")
            x_u, x_o = bound_u.pop("input"), bound_o.pop("input")
        else:
            assert isinstance(updated.func, cst.Attribute) and isinstance(original.func, cst.Attribute)
            x_u, x_o = updated.func.value, original.func.value
        return bound_u, bound_o, x_u, x_o

    def _template(self, op: Op, bound: Dict[str, cst.BaseExpression]) -> str:
        for needs, template in op.alternatives:
            if all(_given(n, bound) for n in needs):
                return template
        if op.template is None:
            raise Unbindable("is not translated with these arguments")
        return op.template

    # -- the template ---------------------------------------------------------------------
    def _render(self, op: Op, template: str, bound_u, bound_o, x_u, x_o) -> cst.BaseExpression:
        values: Dict[str, cst.BaseExpression] = {"X": x_u}
        x_value = self.ctx.value(x_o)
        if not x_value.is_tensor():  # torch.op's input, a tensor method's receiver: a tensor of unknown dtype
            x_value = Value(Kind.TENSOR)
        infos: Dict[str, Tuple[cst.BaseExpression, Value]] = {"X": (x_o, x_value)}
        for p in op.params:
            if p.name in bound_u:
                values[p.name] = bound_u[p.name]
                infos[p.name] = (bound_o[p.name], self.ctx.value(bound_o[p.name]))
        expr = _parse(template)
        if op.result is Result.PROMOTE:
            values = self._promoted(values, infos)
        expr = cast(cst.BaseExpression, expr.visit(_Pseudo(self, op, values, infos)))
        omitted = {p.name: p for p in op.params if p.name not in values}
        expr = cast(cst.BaseExpression, expr.visit(_Omit(omitted)))
        used = {n.value for n in _names(expr)}  # (keyword and attribute names too: harmless extras)
        values = {k: v for k, v in values.items() if k in used}
        if any(name in used for name, _ in op.helpers):
            for name, code in op.helpers:  # all of them: they may call each other
                self.ctx.helper(name, code)
        expr = cast(cst.BaseExpression, expr.visit(_Modules(self.ctx)))
        out = inline(expr, values, lambda: self.ctx.ref("mxnet.nd"))
        return out

    def _promoted(self, values: Dict[str, cst.BaseExpression], infos) -> Dict[str, cst.BaseExpression]:
        """torch's type promotion for an op of several tensors/numbers: MXNet refuses
        arrays of different dtypes and keeps an integer array's dtype with a float
        number, so the operand torch would promote is cast to what torch computes in."""
        tensors = {k: v for k, (_, v) in infos.items() if v.is_tensor()}
        numbers = {k: node for k, (node, v) in infos.items() if not v.is_tensor()}
        float_number = any(isinstance(literal(node), float) for node in numbers.values())
        floats = [k for k, v in tensors.items() if v.dtype is DType.FLOAT]
        out = dict(values)
        for k, v in tensors.items():
            if v.dtype in (DType.INT, DType.BOOL) and (floats or float_number):
                like = out[floats[0]] if floats else None
                target = cst.Attribute(value=paren(like), attr=cst.Name("dtype")) if like is not None else cst.SimpleString('"float32"')
                out[k] = cst.Call(func=cst.Attribute(value=paren(values[k]), attr=cst.Name("astype")), args=[arg(target)])
            elif v.dtype is None and self._in_module:
                continue
            elif v.dtype is None and floats:
                self.ctx.helper(*LIKE_HELPER)
                out[k] = cst.Call(func=cst.Name("_t2g_like"), args=[arg(values[k]), arg(values[floats[0]])])
            elif v.dtype is None and float_number:
                self.ctx.helper(*FLOAT_HELPER)
                out[k] = cst.Call(func=cst.Name("_t2g_float"), args=[arg(values[k])])
        return out

    def float_of(self, name: str, infos) -> cst.BaseExpression:
        """What ``FLOAT(name)`` becomes for the value bound to ``name``."""
        node, value = infos[name]
        placeholder = cst.Name(name)
        if value.kind is Kind.NUMBER or isinstance(literal(node), (int, float)):
            return placeholder
        if value.is_tensor() and value.dtype is DType.FLOAT:
            return placeholder
        if value.is_tensor() and value.dtype in (DType.INT, DType.BOOL):
            return cst.parse_expression(f'{name}.astype("float32")')
        if self._in_module:
            return placeholder
        self.ctx.helper(*FLOAT_HELPER)
        return cst.parse_expression(f"_t2g_float({name})")

    def long_of(self, name: str, infos) -> cst.BaseExpression:
        """What ``LONG(name)`` becomes: torch's sums accumulate integers and booleans in int64."""
        _, value = infos[name]
        placeholder = cst.Name(name)
        if value.is_tensor() and value.dtype is DType.FLOAT:
            return placeholder
        if value.is_tensor() and value.dtype in (DType.INT, DType.BOOL):
            return cst.parse_expression(f'{name}.astype("int64")')
        if self._in_module:
            return placeholder
        self.ctx.helper(*LONG_HELPER)
        return cst.parse_expression(f"_t2g_long({name})")

    def axis_of(self, name: str, infos) -> cst.BaseExpression:
        """What ``AXIS(name)`` becomes: the dim as a non-negative axis (a negative literal
        of a tensor whose rank is known is worked out, anything else is taken modulo the rank)."""
        node, _ = infos[name]
        d = literal(node)
        ndim = infos["X"][1].ndim
        if isinstance(d, int) and not isinstance(d, bool):
            if d >= 0:
                return cst.Name(name)
            if ndim is not None and -ndim <= d:
                return cst.Integer(str(ndim + d))
        return cst.parse_expression(f"{name} % X.ndim")

    def dtype_of(self, name: str, infos) -> cst.BaseExpression:
        node, _ = infos[name]
        torch_name = self.ctx.torch_name(node)
        if torch_name in DTYPES:
            return cst.SimpleString(f'"{DTYPES[torch_name]}"')
        raise Unbindable(f"with a `{name}` that is not a torch dtype written out is not translated")


class _Shown:
    """A call's name as the script spells it, printed when a message needs it."""

    def __init__(self, name: Union[str, cst.CSTNode]) -> None:
        self.name = name

    def __str__(self) -> str:
        if not isinstance(self.name, str):
            self.name = code_of(self.name)
        return self.name

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def _fits(op: Op, call: cst.Call) -> bool:
    """The call's arguments fit the op's method signature (for a receiver that may not be a tensor)."""
    try:
        _bind(call, tuple(p.name for p in op.params), op)
    except Unbindable:
        return False
    return all(p.name in {a.keyword.value for a in call.args if a.keyword} or i < sum(1 for a in call.args if a.keyword is None)
               for i, p in enumerate(op.params) if p.default is REQUIRED and not p.keyword_only)


def _given(need: str, bound: Dict[str, cst.BaseExpression]) -> bool:
    """``"dim"``: the call gives dim; ``"rounding_mode=floor"``, ``"p=2"``, ``"stable=True"``:
    it gives that literal value (a string, or the number/bool/None the text spells)."""
    if "~" in need:  # "sizes~0": the call gives sizes as a tuple/list written out with that item
        name, _, item = need.partition("~")
        node = bound.get(name)
        want = ast.literal_eval(item)
        return isinstance(node, (cst.Tuple, cst.List)) and any(
            isinstance(e, cst.Element) and literal(e.value) == want for e in node.elements
        )
    name, _, value = need.partition("=")
    if name not in bound:
        return False
    if not value:
        return True
    given = literal(bound[name])
    if isinstance(given, str) or given is NotLiteral:
        return given == value
    try:
        want = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return False
    return isinstance(given, bool) == isinstance(want, bool) and given == want


def _bind(call: cst.Call, params: Tuple[str, ...], op: Op) -> Dict[str, cst.BaseExpression]:
    keyword_only = {p.name for p in op.params if p.keyword_only}
    positional_names = [p for p in params if p not in keyword_only]
    varargs = next((p.name for p in op.params if p.varargs), None)
    bound: Dict[str, cst.BaseExpression] = {}
    rest: List[cst.BaseExpression] = []  # the positional arguments a varargs parameter takes
    i = 0
    for a in call.args:
        if a.star:
            raise Unbindable(f"with `{a.star}` arguments is not translated (they cannot be matched statically)")
        if a.keyword is None:
            if varargs is not None and i < len(positional_names) and positional_names[i] == varargs:
                rest.append(a.value)
                continue
            if i >= len(positional_names):
                raise Unbindable("with too many positional arguments is not translated")
            bound[positional_names[i]] = a.value
            i += 1
        else:
            key = a.keyword.value
            if key in ("self", "tensor", "tensors") and "input" in params and key not in params:
                key = "input"  # (torch.split names its tensor `tensor`, hstack its `tensors`)
            if key not in params and key not in dict(op.refused_params):
                raise Unbindable(f"with the argument `{key}` is not translated")
            if key in bound:
                raise Unbindable(f"with `{key}` given twice is not translated")
            bound[key] = a.value
    if rest:
        assert varargs is not None
        if varargs in bound:
            raise Unbindable(f"with `{varargs}` given twice is not translated")
        if len(rest) == 1 and not isinstance(literal(rest[0]), int):
            bound[varargs] = rest[0]  # one tuple, list or name: the sizes themselves
        else:
            bound[varargs] = cst.Tuple(elements=[cst.Element(value=v) for v in rest])
    return bound


def _plain(node: cst.BaseExpression) -> bool:
    """A name or a chain of attributes of one (``x``, ``self.buf``): safe to read twice."""
    while isinstance(node, cst.Attribute):
        node = node.value
    return isinstance(node, cst.Name)


def _names(node: cst.CSTNode) -> List[cst.Name]:
    out = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.Name):
            out.append(n)
        stack.extend(n.children)
    return out


class _Placeholders(cst.CSTTransformer):
    """A transformer of a template's placeholder names (not keywords, not attribute names)."""

    def __init__(self) -> None:
        super().__init__()
        self._not_placeholders: Set[int] = set()

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.keyword is not None:
            self._not_placeholders.add(id(node.keyword))

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._not_placeholders.add(id(node.attr))

    def is_placeholder(self, node: cst.Name) -> bool:
        return id(node) not in self._not_placeholders


class _Modules(cst.CSTTransformer):
    """``NP`` / ``MX`` in a template: ``mx.np`` / ``mx`` (``ND`` is put in by ``inline``)."""

    def __init__(self, ctx: Context) -> None:
        super().__init__()
        self.ctx = ctx

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.BaseExpression:
        if updated.value == "MX":
            return self.ctx.ref("mxnet")
        if updated.value == "NP":
            return cst.Attribute(value=self.ctx.ref("mxnet"), attr=cst.Name("np"))
        return updated


class _Pseudo(cst.CSTTransformer):
    """FLOAT(n) / DTYPE(n) in a template, decided from what the analysis knows of n."""

    def __init__(self, rule: TensorApi, op: Op, values, infos) -> None:
        super().__init__()
        self.rule, self.op, self.values, self.infos = rule, op, values, infos

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        pseudo = updated.func.value if isinstance(updated.func, cst.Name) else None
        if pseudo not in ("FLOAT", "DTYPE", "LONG", "AXIS"):
            return updated
        (a,) = updated.args
        if not isinstance(a.value, cst.Name):
            raise ValueError("FLOAT()/DTYPE()/LONG()/AXIS() take a placeholder")
        name = a.value.value
        if name not in self.infos:
            raise Unbindable(f"needs `{name}`")
        if pseudo == "FLOAT":
            return self.rule.float_of(name, self.infos)
        if pseudo == "LONG":
            return self.rule.long_of(name, self.infos)
        if pseudo == "AXIS":
            return self.rule.axis_of(name, self.infos)
        return self.rule.dtype_of(name, self.infos)


class _Omit(_Placeholders):
    """Keyword arguments of parameters the call left out go; other uses get torch's default."""

    def __init__(self, omitted) -> None:
        super().__init__()
        self.omitted = omitted

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        # (read on the original arguments: leave_Name has put the defaults in the updated ones)
        args = [
            u for o, u in zip(original.args, updated.args)
            if not (
                o.keyword is not None and isinstance(o.value, cst.Name)
                and o.value.value in self.omitted and self.omitted[o.value.value].omit
            )
        ]
        if len(args) != len(updated.args) and args:
            args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return updated.with_changes(args=args)

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.BaseExpression:
        p = self.omitted.get(updated.value)
        if p is None or p.default is REQUIRED or not self.is_placeholder(original):
            return updated
        return cst.parse_expression(repr(p.default))
