"""Python operators that MXNet's NDArray lacks or computes otherwise: & | ^ ~ //, and % with a float."""

from __future__ import annotations

from typing import Optional, Union

import libcst as cst

from ..analysis.kinds import DType, Value
from ..base.syntax import arg, code_of, literal, paren
from ..facts.runtime import LOGICAL_HELPER
from ._base import Example, Rule

_LOGICAL = {cst.BitAnd: "logical_and", cst.BitOr: "logical_or", cst.BitXor: "logical_xor"}
_BITWISE = {cst.BitAnd: "bitwise_and", cst.BitOr: "bitwise_or", cst.BitXor: "bitwise_xor"}
_AUGMENTED = {cst.BitAndAssign: cst.BitAnd, cst.BitOrAssign: cst.BitOr, cst.BitXorAssign: cst.BitXor, cst.FloorDivideAssign: cst.FloorDivide}


class TensorOperators(Rule):
    """``a & b``, ``a | b``, ``a ^ b``, ``~a`` and ``a // b`` on tensors become MXNet calls.

    ## What it does
    MXNet 1.9's NDArray has no ``&``, ``^``, ``~`` or ``//`` (its ``|`` is not
    an elementwise or). On boolean tensors (comparisons, masks) ``a & b``,
    ``a | b``, ``a ^ b`` and ``~a`` become ``nd.logical_and/or/xor(a, b)``
    and ``nd.logical_not(a)``; on integer tensors they become MXNet's NumPy
    ``bitwise_and/or/xor/not`` on ``as_np_ndarray()`` views, back as
    NDArrays. ``a // b`` (torch rounds towards minus infinity) becomes
    ``nd.floor(a / b)`` on floating-point tensors and ``(a - a % b) / b``
    on integer ones (MXNet's ``%`` takes the divisor's sign as torch's and
    Python's do, so the difference divides exactly). ``a % 2.5`` on an
    integer tensor computes in float32, as torch does.

    ## Why
    Each of them raises ``TypeError`` on an NDArray, and MXNet's integer
    ``/`` truncates towards zero.

    ## Flags
    Indexing a tensor with a boolean mask (``x[x > 0]``), or with a tensor
    whose dtype is not known, is reported: MXNet's NDArray reads the 0/1
    array as integer indices. An operand whose dtype class the analysis does not know (a parameter, a
    value from elsewhere), and operands of different classes (a boolean with
    an integer tensor) are reported: which MXNet op is right depends on it.

    ## Fix safety
    Same values; the booleans of a translation are 0/1 arrays of the
    comparison's dtype (MXNet has no bool NDArray operators), as everywhere.
    """

    code = "T2G107"
    name = "tensor-operators"
    summary = "bit and logical operators, floor division on tensors -> nd.logical_*, np.bitwise_*, floor"
    examples = (
        Example(
            'import torch\nx = torch.randn(4)\npos = x > 0\nmask = pos & (x < 1)\nkeep = ~mask\nq = x // 0.5\n',
            (
                'from mxnet import nd\n'
                '\n'
                '\n'
                'def _t2g_logical(op, a, b=None):\n'
                '    """torch\'s &, |, ^ (and ~ without b) of masks: MXNet\'s logical ops take 0/1 arrays of one\n'
                '    dtype (comparisons give their inputs\' dtype; bool arrays are read as uint8)."""\n'
                '    def plain(m, like=None):\n'
                '        if not isinstance(m, nd.NDArray):\n'
                '            return m\n'
                '        if m.dtype.__name__ == "bool_":\n'
                '            m = m.astype("uint8")\n'
                '        return m if like is None or m.dtype == like.dtype else m.astype(like.dtype)\n'
                '    a = plain(a)\n'
                '    return op(a) if b is None else op(a, plain(b, a if isinstance(a, nd.NDArray) else None))\n'
                '\n'
                '\n'
                'x = nd.random.normal(shape=4)\n'
                'pos = x > 0\n'
                'mask = _t2g_logical(nd.logical_and, pos, (x < 1))\n'
                'keep = _t2g_logical(nd.logical_not, mask)\n'
                'q = nd.floor(x / 0.5)\n'
            ),
            id="masks and floor division",
        ),
        Example(
            "import torch\nn = torch.arange(6)\nodd = n & 1\nhalf = n // 2\n",
            "import mxnet as mx\nfrom mxnet import nd\n\nn = nd.arange(6, dtype=\"int64\")\n"
            "odd = mx.np.bitwise_and(n.as_np_ndarray(), 1).as_nd_ndarray()\nhalf = (n - n % 2) / 2\n",
            id="integer bit operations and floor division",
        ),
    )

    def leave_BinaryOperation(self, original: cst.BinaryOperation, updated: cst.BinaryOperation):
        op = type(original.operator)
        if op not in _LOGICAL and op is not cst.FloorDivide and op is not cst.Modulo:
            return None
        lv, rv = self.ctx.value(original.left), self.ctx.value(original.right)
        if not (lv.is_tensor() or rv.is_tensor()):
            return None
        if op is cst.Modulo:
            return self._modulo(original, updated, lv, rv)
        return self._binary(original, op, (original.left, updated.left, lv), (original.right, updated.right, rv), updated)

    def leave_AugAssign(self, original: cst.AugAssign, updated: cst.AugAssign):
        """``mask |= other``, ``n //= 2``: the same op, assigned (MXNet has no in-place form of it)."""
        op = _AUGMENTED.get(type(original.operator))
        if op is None:
            return None
        lv, rv = self.ctx.value(original.target), self.ctx.value(original.value)
        if not lv.is_tensor():
            return None
        out = self._binary(original, op, (original.target, updated.target, lv), (original.value, updated.value, rv), None)
        if out is None:
            return None
        return cst.Assign(targets=[cst.AssignTarget(target=updated.target)], value=out)

    def _binary(self, original, op, l_info, r_info, updated: Optional[cst.BinaryOperation]):
        (l_o, left, lv), (r_o, right, rv) = l_info, r_info
        cls = self._class(original, op, lv, l_o, rv, r_o)
        if cls is None:
            return None
        if op is cst.FloorDivide:
            if cls is DType.FLOAT:
                ratio = cst.BinaryOperation(left=paren(left), operator=cst.Divide(), right=paren(right))
                return self.ctx.call("mxnet.nd.floor", arg(ratio))
            if cls is DType.BOOL:
                return self._refuse(original, "floor division of booleans (torch refuses it)")
            rest = cst.BinaryOperation(left=paren(left), operator=cst.Modulo(), right=paren(right))
            diff = cst.BinaryOperation(left=paren(left), operator=cst.Subtract(), right=rest)
            return cst.BinaryOperation(
                left=diff.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()]),
                operator=cst.Divide(),
                right=paren(right),
            ).with_changes(**({"lpar": updated.lpar, "rpar": updated.rpar} if updated is not None else {}))
        if cls is DType.BOOL:
            return self._logical(_LOGICAL[op], left, right)
        if cls is DType.FLOAT:
            return self._refuse(original, "bit operations on floating-point tensors (torch refuses them)")
        return self._numpy(_BITWISE[op], left, right, lv, rv)

    def leave_UnaryOperation(self, original: cst.UnaryOperation, updated: cst.UnaryOperation):
        if not isinstance(original.operator, cst.BitInvert):
            return None
        v = self.ctx.value(original.expression)
        if not v.is_tensor():
            return None
        if v.dtype is DType.BOOL:
            return self._logical("logical_not", updated.expression, None)
        if v.dtype is DType.INT:
            return self._numpy("bitwise_not", updated.expression, None, v, None)
        why = "on a floating-point tensor (torch refuses it)" if v.dtype is DType.FLOAT else (
            f"whose operand's dtype is not known (`{code_of(original.expression)}`: logical on booleans, "
            "bitwise on integers)"
        )
        return self._refuse(original, why)

    def leave_Subscript(self, original: cst.Subscript, updated: cst.Subscript):
        """``x[mask]`` with a boolean tensor: MXNet reads a 0/1 array as integer indices."""
        if not self.ctx.value(original.value).is_tensor():
            return None
        for element in original.slice:
            index = element.slice
            if not isinstance(index, cst.Index):
                continue
            v = self.ctx.value(index.value)
            if not v.is_tensor() or v.dtype is DType.INT:
                continue
            if v.dtype is DType.BOOL:
                why = "indexes with a boolean mask, which MXNet's NDArray reads as the integer indices 0 and 1"
            elif v.dtype is DType.FLOAT:
                why = "indexes with a floating-point tensor (torch refuses it)"
            else:
                why = (f"indexes with `{code_of(index.value)}`, a tensor of a dtype the analysis does not know: "
                       "integer indices translate, a boolean mask would be read as the indices 0 and 1")
            self.report(original, f"`{code_of(original)}` {why}; left as is")
            return None
        return None

    def _class(self, node, op, lv: Value, left, rv: Value, right) -> Optional[DType]:
        """The one dtype class of the operands (numbers count as what they are), else a report."""
        classes = set()
        for v, n in ((lv, left), (rv, right)):
            if v.is_tensor():
                if v.dtype is None:
                    self._refuse(node, f"with `{code_of(n)}` of a dtype the analysis does not know "
                                       "(booleans, integers and floats take different MXNet ops)")
                    return None
                classes.add(v.dtype)
            else:
                lit = literal(n)
                if isinstance(lit, bool):
                    classes.add(DType.BOOL)
                elif isinstance(lit, int):
                    classes.add(DType.INT)
                elif isinstance(lit, float):
                    classes.add(DType.FLOAT)
                else:
                    self._refuse(node, f"with `{code_of(n)}`, which is neither a tensor nor a number written out")
                    return None
        if classes == {DType.INT, DType.FLOAT} and op is cst.FloorDivide:
            return DType.FLOAT if any(v.is_tensor() and v.dtype is DType.FLOAT for v in (lv, rv)) else self._mixed(node)
        if len(classes) != 1:
            return self._mixed(node)
        return classes.pop()

    def _mixed(self, node) -> Optional[DType]:
        """Reported: the operands' classes differ (and the answer is None)."""
        self._refuse(node, "with operands of different dtype classes (torch promotes them; MXNet refuses)")
        return None

    def _logical(self, fn: str, left, right) -> cst.BaseExpression:
        """``_t2g_logical(nd.logical_and, a, b)``: masks as MXNet's logical ops take them."""
        self.ctx.helper(*LOGICAL_HELPER)
        args = [arg(self.ctx.ref(f"mxnet.nd.{fn}")), arg(left)] + ([arg(right)] if right is not None else [])
        return cst.Call(func=cst.Name("_t2g_logical"), args=args)

    def _numpy(self, fn: str, left, right, lv: Value, rv: Optional[Value]) -> cst.BaseExpression:
        """MXNet's NumPy bitwise op on views of the arrays, back as an NDArray."""
        def view(node, v: Optional[Value]):
            if v is not None and v.is_tensor():
                return cst.Call(func=cst.Attribute(value=paren(node), attr=cst.Name("as_np_ndarray")))
            return node

        args = [arg(view(left, lv))] + ([arg(view(right, rv))] if right is not None else [])
        call = self.ctx.call(f"mxnet.np.{fn}", *args)
        return cst.Call(func=cst.Attribute(value=call, attr=cst.Name("as_nd_ndarray")))

    def _modulo(self, original, updated, lv: Value, rv: Value):
        """``int_tensor % 2.5``: torch computes in float32, MXNet in the integers."""
        for v, other in ((lv, original.right), (rv, original.left)):
            if v.is_tensor() and v.dtype in (DType.INT, DType.BOOL) and isinstance(literal(other), float):
                side = "left" if v is lv else "right"
                node = getattr(updated, side)
                cast = cst.Call(func=cst.Attribute(value=paren(node), attr=cst.Name("astype")), args=[arg(cst.SimpleString('"float32"'))])
                return updated.with_changes(**{side: cast})
        return None

    def _refuse(self, node: Union[cst.BinaryOperation, cst.UnaryOperation, cst.AugAssign], why: str) -> None:
        self.report(node, f"`{code_of(node)}` {why}; left as is")
        return None
