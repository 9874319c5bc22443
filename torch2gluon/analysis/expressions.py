"""What an expression holds: the expression half of the analysis.

``Expressions`` is mixed into ``values.Analysis``; it evaluates an expression
in an environment (name -> ``Value``), records the value of every expression
it evaluates (by the node's identity), binds assignment targets and looks
names up the way Python does. What torch APIs give comes from the catalog.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Dict, List, Optional, Protocol, Sequence, Set, Tuple, Union

import libcst as cst

from ..base.syntax import children, literal
from .kinds import BOOL, NONE, NUMBER, STR, UNKNOWN, DType, Kind, Value, join, sequence, tensor
from .names import Names
from .scopes import UNBOUND, ClassInfo, FunctionInfo, is_static


ArgValue = Callable[[cst.BaseExpression], Value]


class Catalog(Protocol):
    """What the facts layer tells the analysis about torch's API."""

    def call(self, name: str, call: cst.Call, value_of: ArgValue) -> Optional[Value]:
        """The result of calling the torch API ``name`` (a function or class)."""

    def attribute(self, name: str) -> Optional[Value]:
        """The value of the torch name ``name`` itself (``torch.float32``)."""

    def method(self, receiver: Value, method: str, call: cst.Call, value_of: ArgValue) -> Optional[Value]:
        """The result of ``receiver.method(...)``; ``receiver`` may be unknown."""

    def member(self, owner: Value, attr: str) -> Optional[Value]:
        """The value of ``owner.attr`` for a known torch object."""

    def call_object(self, callee: Value, call: cst.Call, value_of: ArgValue) -> Optional[Value]:
        """The result of calling a value: a module, a loss function."""

    def iterate(self, value: Value) -> Optional[Value]:
        """What iterating over ``value`` yields."""


# progress-bar wrappers that yield what they wrap (resolved through the imports)
_PROGRESS_WRAPPERS = ("tqdm.tqdm", "tqdm.auto.tqdm", "tqdm.notebook.tqdm", "tqdm.std.tqdm")


_ORDERING = (cst.Equal, cst.NotEqual, cst.GreaterThan, cst.LessThan, cst.GreaterThanEqual, cst.LessThanEqual)


_TRUE_DIVISION = (cst.Divide,)


def _indexed_ndim(ndim: Optional[int], node: cst.Subscript, value_of: Callable[[cst.CSTNode], Value]) -> Optional[int]:
    """The rank of ``x[...]`` for a tensor of known rank: each integer index takes an
    axis away, a slice keeps one, ``None`` adds one; anything else is unknown."""
    if ndim is None:
        return None
    out = ndim
    for element in node.slice:
        s = element.slice
        if not isinstance(s, cst.Index):
            continue  # a slice keeps its axis
        index = s.value
        if isinstance(index, cst.Name) and index.value == "None":
            out += 1
            continue
        v = value_of(index)
        if v.kind is Kind.NUMBER and not isinstance(literal(index), bool):
            out -= 1
        else:
            return None  # a tensor index, a mask, an ellipsis...
    return out if out >= 0 else None


def broadcast_ndim(*values: Value) -> Optional[int]:
    """The rank of an elementwise op of these values (numbers count as 0-d), where all are known."""
    ranks = []
    for v in values:
        if v.is_tensor():
            if v.ndim is None:
                return None
            ranks.append(v.ndim)
        elif v.kind in (Kind.NUMBER, Kind.BOOL):
            ranks.append(0)
        else:
            return None
    return max(ranks) if ranks else None


_AUGMENTED: Dict[type, Callable[[], cst.BaseBinaryOp]] = {
    cst.AddAssign: cst.Add, cst.SubtractAssign: cst.Subtract, cst.MultiplyAssign: cst.Multiply,
    cst.DivideAssign: cst.Divide, cst.FloorDivideAssign: cst.FloorDivide, cst.ModuloAssign: cst.Modulo,
    cst.PowerAssign: cst.Power, cst.MatrixMultiplyAssign: cst.MatrixMultiply, cst.BitAndAssign: cst.BitAnd,
    cst.BitOrAssign: cst.BitOr, cst.BitXorAssign: cst.BitXor, cst.LeftShiftAssign: cst.LeftShift,
    cst.RightShiftAssign: cst.RightShift,
}


def binary(left: Value, op: Union[cst.BaseBinaryOp, cst.BaseAugOp], right: Value) -> Value:
    """The value of ``left op right`` (``x op= y`` is ``x = x op y``)."""
    if isinstance(op, cst.BaseAugOp):
        op = _AUGMENTED[type(op)]()
    if isinstance(op, cst.MatrixMultiply):
        return tensor(_promote(left, right)) if left.is_tensor() or right.is_tensor() else UNKNOWN
    if left.is_tensor() or right.is_tensor():
        ndim = broadcast_ndim(left, right)
        if isinstance(op, _TRUE_DIVISION):
            return tensor(DType.FLOAT if _promote(left, right) in (DType.FLOAT, DType.INT) else None, ndim=ndim)
        return tensor(_promote(left, right), ndim=ndim)
    if left.kind is Kind.NUMBER and right.kind is Kind.NUMBER:
        return NUMBER
    if left.kind is Kind.STR and (isinstance(op, cst.Modulo) or (isinstance(op, cst.Add) and right.kind is Kind.STR)):
        return STR
    if left.kind is Kind.TUPLE and right.kind is Kind.TUPLE and isinstance(op, cst.Add):
        return sequence(join(left.element or UNKNOWN, right.element or UNKNOWN))
    return UNKNOWN


def with_number(left: Value, lnode: cst.BaseExpression, right: Value, rnode: cst.BaseExpression) -> Optional[DType]:
    """The dtype class of ``tensor op number`` where the number is written out: torch
    promotes to the number's class where it is higher (``int_tensor + 2.5`` is float,
    ``bool_tensor & 1`` is int64), else keeps the tensor's."""
    order = [DType.BOOL, DType.INT, DType.FLOAT]
    for t, n in ((left, rnode), (right, lnode)):
        other = right if t is left else left
        if t.is_tensor() and t.dtype is not None and not other.is_tensor():
            lit = literal(n)
            c = DType.BOOL if isinstance(lit, bool) else DType.INT if isinstance(lit, int) else DType.FLOAT if isinstance(lit, float) else None
            return None if c is None else max(t.dtype, c, key=order.index)
    return None


def _promote(a: Value, b: Value) -> Optional[DType]:
    """The dtype class of ``a op b`` where both are known (torch's promotion classes)."""

    def cls(v: Value) -> Optional[DType]:
        if v.is_tensor():
            return v.dtype
        if v.kind is Kind.NUMBER:
            return None  # a Python number: int or float is not known here
        if v.kind is Kind.BOOL:
            return DType.BOOL
        return None

    ca, cb = cls(a), cls(b)
    if a.is_tensor() and not b.is_tensor():
        return ca if b.kind is not Kind.NUMBER or ca is DType.FLOAT else None
    if b.is_tensor() and not a.is_tensor():
        return cb if a.kind is not Kind.NUMBER or cb is DType.FLOAT else None
    if ca is None or cb is None:
        return None
    order = [DType.BOOL, DType.INT, DType.FLOAT]
    return max(ca, cb, key=order.index)


def unpacked(value: Value, index: int, count: int, starred: bool, element: Callable[[Value], Value]) -> Value:
    if value.kind is Kind.TUPLE and value.items is not None and not starred and len(value.items) == count:
        return value.items[index]
    if value.is_tensor():
        return tensor(value.dtype)  # unpacked along the first axis
    if value.kind in (Kind.TUPLE, Kind.SEQUENCE):
        return value.element or UNKNOWN
    return element(value) if value.known else UNKNOWN


def common(items: Sequence[Value]) -> Optional[Value]:
    if not items:
        return None
    out = items[0]
    for v in items[1:]:
        out = join(out, v)
    return out


class Expressions:
    """Evaluation and binding; the state is ``values.Analysis``'s."""

    names: Names
    catalog: "Catalog"
    classes: Dict[str, ClassInfo]
    _values: Dict[int, Value]
    _targets: Dict[int, Value]
    _by_name: Dict[str, FunctionInfo]
    _module_assigned: Dict[str, Value]
    _globals_declared: Set[str]
    _class_stack: List[ClassInfo]
    _scope_stack: List[Tuple[FunctionInfo, Dict[str, Value]]]
    _recording: bool
    _backward: List[Set[str]]

    def value(self, node: Optional[cst.CSTNode]) -> Value:  # the query, defined by Analysis
        raise NotImplementedError

    def members(self, cls: str) -> Dict[str, Value]:  # defined by Analysis
        raise NotImplementedError

    def _as_loss(self, name: str, value: Value) -> Value:
        """A name the block calls ``.backward()`` on holds a loss, when nothing else is known of it."""
        if value.kind is Kind.UNKNOWN and self._backward and name in self._backward[-1]:
            return tensor(DType.FLOAT, loss=True)
        return value

    # -- binding -----------------------------------------------------------------
    def _bind(self, target: cst.CSTNode, value: Value, env: Dict[str, Value], evaluate: bool = True) -> None:
        if isinstance(target, cst.Name):
            if self._recording:
                self._targets[id(target)] = value
                self._values[id(target)] = value
            self._bind_name(target.value, value, env)
        elif isinstance(target, (cst.Tuple, cst.List)):
            elements = target.elements
            starred = any(isinstance(e, cst.StarredElement) for e in elements)
            for i, e in enumerate(elements):
                if isinstance(e, cst.StarredElement):
                    self._bind(e.value, sequence(self._element(value)), env)
                    continue
                self._bind(e.value, unpacked(value, i, len(elements), starred, self._element), env)
        elif isinstance(target, cst.Attribute):
            if evaluate:
                self._eval(target.value, env)
            if self._recording:
                self._targets[id(target)] = value
            owner = target.value
            if isinstance(owner, cst.Name) and self._class_stack and self._is_self(owner):
                info = self._class_stack[-1]
                attr = target.attr.value
                old = info.members.get(attr)
                info.members[attr] = value if old is None else join(old, value)
        elif isinstance(target, cst.Subscript):
            if evaluate:
                self._eval(target.value, env)
                for s in target.slice:
                    self._eval_slice(s.slice, env)
        elif isinstance(target, cst.StarredElement):
            self._bind(target.value, sequence(self._element(value)), env)

    def _bind_name(self, name: str, value: Value, env: Dict[str, Value]) -> None:
        value = self._as_loss(name, value)
        env[name] = value
        if not self._scope_stack and self._recording:
            old = self._module_assigned.get(name)
            self._module_assigned[name] = value if old is None else join(old, value)

    def _is_self(self, node: cst.Name) -> bool:
        if not self._scope_stack:
            return False
        info = self._scope_stack[-1][0]
        return info.owner is not None and bool(info.params) and info.params[0] == node.value and not is_static(info.node)

    def _lookup(self, name: str, env: Dict[str, Value]) -> Value:
        if name in env:
            v = env[name]
            return UNKNOWN if v is UNBOUND else v
        # the enclosing functions (their values at the end), then the module
        parent = self._scope_stack[-1][0].parent if self._scope_stack else None
        while parent is not None:
            if name in parent.locals:
                v = parent.final_env.get(name, UNBOUND)
                return UNKNOWN if v is UNBOUND else v
            parent = parent.parent
        if self._scope_stack:
            if name in self._globals_declared:
                return UNKNOWN
            assigned = self._module_assigned.get(name)
            return assigned if assigned is not None else UNKNOWN
        return UNKNOWN

    # -- expressions ---------------------------------------------------------------
    def _eval(self, node: cst.BaseExpression, env: Dict[str, Value]) -> Value:
        v = self._compute(node, env)
        if self._recording:
            self._values[id(node)] = v
        return v

    def _compute(self, node: cst.BaseExpression, env: Dict[str, Value]) -> Value:
        if isinstance(node, cst.Name):
            if node.value in ("True", "False"):
                return BOOL
            if node.value == "None":
                return NONE
            qual = self.names.torch_name(node)
            if qual is not None:
                return self.catalog.attribute(qual) or UNKNOWN
            return self._as_loss(node.value, self._lookup(node.value, env))
        if isinstance(node, cst.Attribute):
            qual = self.names.torch_name(node)
            if qual is not None:
                return self.catalog.attribute(qual) or UNKNOWN
            owner = self._eval(node.value, env)
            return self._member(owner, node.attr.value)
        if isinstance(node, cst.Call):
            return self._call(node, env)
        if isinstance(node, cst.Subscript):
            owner = self._eval(node.value, env)
            for s in node.slice:
                self._eval_slice(s.slice, env)
            return self._subscript(owner, node)
        if isinstance(node, cst.BinaryOperation):
            left = self._eval(node.left, env)
            right = self._eval(node.right, env)
            out = binary(left, node.operator, right)
            if out.is_tensor() and out.dtype is None and not isinstance(node.operator, _TRUE_DIVISION):
                out = replace(out, dtype=with_number(left, node.left, right, node.right))
            return out
        if isinstance(node, cst.UnaryOperation):
            operand = self._eval(node.expression, env)
            if isinstance(node.operator, cst.Not):
                return BOOL
            if operand.is_tensor():
                return tensor(operand.dtype, ndim=operand.ndim)
            return operand if operand.kind is Kind.NUMBER else UNKNOWN
        if isinstance(node, cst.BooleanOperation):
            left = self._eval(node.left, env)
            right = self._eval(node.right, env)
            return join(left, right)
        if isinstance(node, cst.Comparison):
            left = self._eval(node.left, env)
            others = [self._eval(c.comparator, env) for c in node.comparisons]
            if len(node.comparisons) == 1 and isinstance(node.comparisons[0].operator, _ORDERING):
                if left.is_tensor() or others[0].is_tensor():
                    return tensor(DType.BOOL, ndim=broadcast_ndim(left, others[0]))
            return BOOL if not any(v.is_tensor() for v in [left, *others]) else UNKNOWN
        if isinstance(node, cst.IfExp):
            self._eval(node.test, env)
            return join(self._eval(node.body, env), self._eval(node.orelse, env))
        if isinstance(node, (cst.Integer, cst.Float, cst.Imaginary)):
            return NUMBER
        if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
            for c in children(node):
                if isinstance(c, cst.BaseExpression):
                    self._eval(c, env)
            return STR
        if isinstance(node, cst.FormattedString):
            for part in node.parts:
                if isinstance(part, cst.FormattedStringExpression):
                    self._eval(part.expression, env)
                    if part.format_spec:
                        for sp in part.format_spec:
                            if isinstance(sp, cst.FormattedStringExpression):
                                self._eval(sp.expression, env)
            return STR
        if isinstance(node, (cst.Tuple, cst.List)):
            items = []
            starred = False
            for e in node.elements:
                if isinstance(e, cst.StarredElement):
                    self._eval(e.value, env)
                    starred = True
                else:
                    items.append(self._eval(e.value, env))
            if starred:
                return sequence(UNKNOWN)
            return Value(Kind.TUPLE, items=tuple(items), element=common(items))
        if isinstance(node, (cst.ListComp, cst.SetComp, cst.GeneratorExp)):
            inner = dict(env)
            self._comp_for(node.for_in, inner)
            return sequence(self._eval(node.elt, inner))
        if isinstance(node, cst.DictComp):
            inner = dict(env)
            self._comp_for(node.for_in, inner)
            self._eval(node.key, inner)
            self._eval(node.value, inner)
            return UNKNOWN
        if isinstance(node, cst.NamedExpr):
            v = self._eval(node.value, env)
            self._bind(node.target, v, env)
            return v
        if isinstance(node, cst.Lambda):
            inner = dict(env)
            for p in (*node.params.posonly_params, *node.params.params, *node.params.kwonly_params):
                if p.default is not None:
                    self._eval(p.default, env)
                inner[p.name.value] = UNKNOWN
            for extra in (node.params.star_arg, node.params.star_kwarg):
                if isinstance(extra, cst.Param):
                    inner[extra.name.value] = UNKNOWN
            self._eval(node.body, inner)
            return Value(Kind.FUNCTION)
        # anything else (dicts, sets, await, yield, starred...): look inside
        for c in children(node):
            if isinstance(c, cst.BaseExpression):
                self._eval(c, env)
            elif isinstance(c, (cst.DictElement, cst.StarredDictElement, cst.Element, cst.StarredElement)):
                for cc in children(c):
                    if isinstance(cc, cst.BaseExpression):
                        self._eval(cc, env)
        if isinstance(node, (cst.Yield,)) and self._scope_stack:
            self._scope_stack[-1][0].is_generator = True
        return UNKNOWN

    def _comp_for(self, comp: cst.CompFor, env: Dict[str, Value]) -> None:
        it = self._eval(comp.iter, env)
        self._bind(comp.target, self._element(it), env)
        for cond in comp.ifs:
            self._eval(cond.test, env)
        if comp.inner_for_in is not None:
            self._comp_for(comp.inner_for_in, env)

    def _eval_slice(self, s: cst.BaseSlice, env: Dict[str, Value]) -> None:
        if isinstance(s, cst.Index):
            self._eval(s.value, env)
        elif isinstance(s, cst.Slice):
            for part in (s.lower, s.upper, s.step):
                if part is not None:
                    self._eval(part, env)

    def _call(self, node: cst.Call, env: Dict[str, Value]) -> Value:
        func = node.func
        qual = self.names.torch_name(func)
        callee: Optional[Value] = None
        receiver: Optional[Value] = None
        if qual is None:
            if isinstance(func, cst.Attribute):
                receiver = self._eval(func.value, env)
                if self._recording:
                    self._values[id(func)] = UNKNOWN
            else:
                callee = self._eval(func, env)
        args = [self._eval(a.value, env) for a in node.args]
        value_of = self.value_of_arg(node, args)
        if qual is not None:
            made = self.catalog.call(qual, node, value_of)
            return made if made is not None else UNKNOWN
        if args and self.names.imported_name(func) in _PROGRESS_WRAPPERS:
            return sequence(self._element(args[0]))  # tqdm(loader, ...) yields the loader's batches
        if receiver is not None:
            assert isinstance(func, cst.Attribute)
            method = func.attr.value
            cls = receiver.local_class()
            if cls is not None:
                info = self._method(cls, method)
                if info is not None and method != "forward":
                    return info.returns if info.returns is not UNBOUND else UNKNOWN
            result = self.catalog.method(receiver, method, node, value_of)
            if result is None and cls is not None and method == "forward":
                result = self._forward_result(cls)
            return result if result is not None else UNKNOWN
        assert callee is not None
        if callee.kind is Kind.FUNCTION and isinstance(func, cst.Name):
            info = self._by_name.get(func.value)
            if info is not None and callee.origin is info.node:
                self._record_call(info, node, args)
                return info.returns if info.returns is not UNBOUND else UNKNOWN
            return UNKNOWN
        if callee.kind is Kind.CLASS and callee.cls in self.classes:
            info_c = self.classes[callee.cls]
            if info_c.is_module:
                return Value(Kind.MODULE, cls="class:" + info_c.name, origin=node)
            return Value(Kind.UNKNOWN, cls="class:" + info_c.name, origin=node)
        if callee.kind in (Kind.MODULE, Kind.LOSS_FN):
            cls = callee.local_class()
            if cls is not None:
                forward = self._forward_result(cls)
                if forward is not None and forward.known:
                    return forward
            made = self.catalog.call_object(callee, node, value_of)
            return made if made is not None else UNKNOWN
        if isinstance(func, cst.Name) and func.value not in env and not self._is_bound_anywhere(func.value):
            return self._builtin(func.value, node, args)
        return UNKNOWN

    def value_of_arg(self, node: cst.Call, args: List[Value]) -> ArgValue:
        by_id = {id(a.value): v for a, v in zip(node.args, args)}

        def value_of(expr: cst.BaseExpression) -> Value:
            found = by_id.get(id(expr))
            if found is not None:
                return found
            return self.value(expr)

        return value_of

    def _is_bound_anywhere(self, name: str) -> bool:
        """``name`` is the script's own here (not a builtin): a local, an enclosing function's, or a global."""
        if name in self._module_assigned:
            return True
        if not self._scope_stack:
            return False
        info: Optional[FunctionInfo] = self._scope_stack[-1][0]
        while info is not None:
            if name in info.locals:
                return True
            info = info.parent
        return False

    def _record_call(self, info: FunctionInfo, node: cst.Call, args: List[Value]) -> None:
        if not self._recording:
            return
        positional: List[Value] = []
        keywords: Dict[str, Value] = {}
        for a, v in zip(node.args, args):
            if a.star:
                info.star_called = True
                return
            if a.keyword is None:
                positional.append(v)
            else:
                keywords[a.keyword.value] = v
        info.calls.append((positional, keywords))

    def _method(self, cls: str, method: str) -> Optional[FunctionInfo]:
        seen: Set[str] = set()
        stack = [cls]
        while stack:
            c = stack.pop(0)
            if c in seen or c not in self.classes:
                continue
            seen.add(c)
            info = self.classes[c]
            if method in info.methods:
                return info.methods[method]
            stack.extend(info.bases)
        return None

    def _forward_result(self, cls: str) -> Optional[Value]:
        info = self._method(cls, "forward")
        if info is None or info.returns is UNBOUND:
            return None
        return info.returns

    def _builtin(self, name: str, node: cst.Call, args: List[Value]) -> Value:
        first = args[0] if args else UNKNOWN
        if name in ("len", "int", "float", "round", "abs", "hash", "ord") and not (name in ("abs", "round") and first.is_tensor()):
            return NUMBER
        if name in ("str", "repr", "format", "chr"):
            return STR
        if name in ("bool", "isinstance", "issubclass", "callable", "hasattr", "all", "any"):
            return BOOL
        if name == "enumerate" and args:
            return sequence(Value(Kind.TUPLE, items=(NUMBER, self._element(first))))
        if name == "zip" and args:
            items = tuple(self._element(a) for a in args)
            return sequence(Value(Kind.TUPLE, items=items))
        if name == "range":
            return sequence(NUMBER)
        if name in ("list", "tuple", "sorted", "reversed", "iter", "set") and args:
            return sequence(self._element(first))
        if name == "next" and args:
            return self._element(first)
        if name in ("max", "min", "sum") and args:
            if len(args) == 1:
                return self._element(first) if first.kind in (Kind.SEQUENCE, Kind.TUPLE) else UNKNOWN
            return join(args[0], args[1]) if len(args) == 2 else UNKNOWN
        if name == "super":
            if self._class_stack:
                owner = self._class_stack[-1]
                if owner.is_module:
                    return Value(Kind.MODULE, cls="super:" + owner.name)
            return UNKNOWN
        return UNKNOWN

    def _member(self, owner: Value, attr: str) -> Value:
        cls = owner.local_class()
        if cls is not None:
            members = self.members(cls)
            if attr in members:
                return members[attr]
            if self._method(cls, attr) is not None:
                return Value(Kind.FUNCTION)
        found = self.catalog.member(owner, attr)
        return found if found is not None else UNKNOWN

    def _subscript(self, owner: Value, node: cst.Subscript) -> Value:
        if owner.is_tensor():
            return tensor(owner.dtype, ndim=_indexed_ndim(owner.ndim, node, self.value))
        index: object = None
        if len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
            index = literal(node.slice[0].slice.value)
        if owner.kind in (Kind.TUPLE, Kind.MODULE) and owner.items is not None:
            if isinstance(index, int) and not isinstance(index, bool) and -len(owner.items) <= index < len(owner.items):
                return owner.items[index]
            if owner.kind is Kind.TUPLE:
                return owner.element or UNKNOWN
        if owner.kind is Kind.TUPLE or owner.kind is Kind.SEQUENCE:
            return owner.element or UNKNOWN
        if owner.kind is Kind.SIZE:
            if len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Slice):
                return owner
            return NUMBER
        if owner.kind is Kind.MODULE and owner.element is not None:
            return owner.element
        return UNKNOWN

    def _element(self, value: Value) -> Value:
        if value.kind is Kind.SEQUENCE or value.kind is Kind.TUPLE:
            return value.element or UNKNOWN
        found = self.catalog.iterate(value)
        return found if found is not None else UNKNOWN
