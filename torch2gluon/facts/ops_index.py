"""Indexing ops (gather, scatter, index_*, masked_*, take, nonzero, where), in-place
fills and random fills, and the elementwise math ``ops_elementwise.py`` leaves out.

See ``ops.py`` for what an entry says, ``ops_index_helpers.py`` for the runtime
helpers. torch's results keep its dtypes: comparisons and logical ops give
bool (MXNet's give float32 0/1, hence ``.astype("bool")``), indices int64,
integer division stays integer; mixed operands are promoted as torch does
(``_t2g_operands``). Results whose size depends on the data (nonzero,
masked_select) are found on the host; an empty one raises at run time
(MXNet 1.9's NDArray has no zero-size arrays).
"""

from __future__ import annotations

from typing import Tuple

from . import ops_index_helpers as H
from .ops import Form, Inputs, Op, P, Result

A = Form.ALL
B = Form.BOTH
INPLACE = Form.INPLACE
NUMBERS = ("float32", "int64")
TRUTHS = ("float32", "int64", "bool")
INTS = ("int64", "bool")
INDEX = "torch.tensor([[0, 2], [1, 0], [2, 1]])"  # fits along dim 0 and 1 of a 3x4 matrix, no duplicates
SCATTER_HELPERS = (H.GRID, H.SCATTER)
MASK_HELPERS = (H.BSHAPE, H.MASK)
OPERAND_HELPERS = (H.OPERANDS, H.BSHAPE)


def _binary(name: str, kind: str, forms: Form = A, dtypes: Tuple[str, ...] = NUMBERS, **kw) -> Op:
    return Op(
        name,
        (P("other"),),
        forms,
        Result.PROMOTE,
        f"_t2g_binary({kind!r}, X, other)",
        helpers=(*OPERAND_HELPERS, H.BINARY),
        dtypes=dtypes,
        **kw,
    )


def _division(name: str, kind: str) -> Op:
    return _binary(
        name,
        kind,
        checks=("other", "2", "-1.5", "other=other"),
        operands=(("other", "torch.tensor([[3.0, -3.0, 2.5, -0.75]])"),),
    )


def _logical(name: str, mx: str) -> Op:
    return Op(
        name,
        (P("other"),),
        B,
        Result.BOOL,
        f'ND.{mx}(_t2g_truth(X), _t2g_truth(other)).astype("bool")',
        helpers=(H.TRUTH,),
        checks=("other", "other=other"),
        operands=(("other", "torch.tensor([[True, False, True, True]])"),),
        dtypes=TRUTHS,
    )


def _bitwise(name: str) -> Op:
    return _binary(
        name,
        name,
        checks=("other", "6", "other=other"),
        operands=(("other", "torch.tensor([[3, 5, -2, 0]])"),),
        inputs=Inputs.INT,
        dtypes=INTS,
        note="integer and boolean tensors (torch refuses floats)",
    )


def _is(name: str) -> Op:
    return Op(name, (), B, Result.BOOL, f"_t2g_np({name!r}, X)", helpers=(H.NUMPY,), dtypes=TRUTHS)


def _compare(name: str, kind: str, forms: Form) -> Op:
    inplace = forms is INPLACE
    return Op(
        name,
        (P("other"),),
        forms,
        Result.SAME if inplace else Result.BOOL,
        f"_t2g_compare({kind!r}, X, other, like=X)" if inplace else f"_t2g_compare({kind!r}, X, other)",
        helpers=(*OPERAND_HELPERS, H.COMPARE),
        checks=("other", "0.5", "other=other"),
        operands=(("other", "torch.tensor([[0.5, -1.0, 2.0, 0.0]])"),),
        dtypes=NUMBERS if inplace else TRUTHS,
        note="compared in the promoted dtype, broadcast" + ("; 1/0 in the tensor's dtype, as torch's in-place form" if inplace else ""),
    )


# (torch's short name, its long name, MXNet's broadcast_* op)
_COMPARISONS = (
    ("eq", "equal", "equal"),
    ("ne", "not_equal", "not_equal"),
    ("gt", "greater", "greater"),
    ("lt", "less", "lesser"),
    ("ge", "greater_equal", "greater_equal"),
    ("le", "less_equal", "lesser_equal"),
)


def _clamp(name: str, forms: Form, aliases: Tuple[str, ...] = ()) -> Op:
    return Op(
        name,
        (P("min", None), P("max", None)),
        forms,
        Result.PROMOTE,
        "_t2g_clamp(X, min=min, max=max)",
        aliases=aliases,
        helpers=(*OPERAND_HELPERS, H.CLAMP),
        checks=("-0.5, 0.5", "min=-1", "max=0.5", "lo, hi", "lo", "max=hi"),
        operands=(("lo", "torch.full((3, 1), -0.5)"), ("hi", "torch.tensor([[0.1, 0.5, 1.0, 2.0]])")),
        dtypes=NUMBERS,
        note="number or tensor bounds, broadcast; where min > max the result is max, as torch's",
    )


OPS: Tuple[Op, ...] = (
    # -- gather / scatter ----------------------------------------------------------
    Op(
        "gather",
        (P("dim"), P("index"), P("sparse_grad", False, keyword_only=True)),
        B,
        Result.SAME,
        "_t2g_gather(X, dim, index)",
        helpers=(H.GRID, H.GATHER),
        checks=("1, index", "0, index", "-1, index", "dim=1, index=index"),
        operands=(("index", INDEX),),
        dtypes=TRUTHS,
        note="index may be smaller than the input outside dim, as torch allows",
    ),
    Op(
        "scatter",
        (P("dim"), P("index"), P("src", None), P("value", None), P("reduce", None, literal=True, keyword_only=True)),
        A,
        Result.SAME,
        "_t2g_scatter(X, dim, index, src)",
        alternatives=(
            (frozenset({"value", "reduce=add"}), "_t2g_scatter(X, dim, index, value, add=True)"),
            (frozenset({"reduce=add"}), "_t2g_scatter(X, dim, index, src, add=True)"),
            (frozenset({"value"}), "_t2g_scatter(X, dim, index, value)"),
        ),
        helpers=SCATTER_HELPERS,
        refused_values=(("reduce=multiply", "MXNet 1.9 has no scatter of products"),),
        checks=("1, index, src", "0, index, src", "-1, index, value=2.5", "dim=1, index=index, src=src", "1, index, src, reduce='add'"),
        operands=(("index", INDEX), ("src", "torch.arange(12.0).reshape(3, 4) * 10")),
        note="a number (value=) or a tensor (src); with duplicate indices the last write wins (torch leaves it unspecified)",
    ),
    Op(
        "scatter_add",
        (P("dim"), P("index"), P("src")),
        A,
        Result.SAME,
        "_t2g_scatter(X, dim, index, src, add=True)",
        helpers=SCATTER_HELPERS,
        checks=("1, index, src", "0, index, src", "-1, index, src", "dim=0, index=index, src=src"),
        operands=(("index", "torch.tensor([[0, 0], [1, 0], [2, 2]])"), ("src", "torch.arange(12.0).reshape(3, 4) * 10")),
        note="duplicate indices add up",
    ),
    Op(
        "scatter_reduce",
        (P("dim"), P("index"), P("src"), P("reduce")),
        A,
        Result.SAME,
        refuse="MXNet 1.9 has no scatter with a reduction (prod, mean, amax, amin) nor its include_self rule",
    ),
    # -- index_* --------------------------------------------------------------------
    Op(
        "index_select",
        (P("dim"), P("index")),
        B,
        Result.SAME,
        "_t2g_index_select(X, dim, index)",
        helpers=(H.INDEX_SELECT,),
        checks=("0, index", "1, index", "-1, index", "dim=0, index=index"),
        operands=(("index", "torch.tensor([2, 0, 2])"),),
        dtypes=TRUTHS,
    ),
    Op(
        "index_add",
        (P("dim"), P("index"), P("source"), P("alpha", 1, keyword_only=True)),
        A,
        Result.SAME,
        "_t2g_scatter(X, dim, _t2g_along(X, dim, index, source), source, add=True)",
        alternatives=((frozenset({"alpha"}), "_t2g_scatter(X, dim, _t2g_along(X, dim, index, source), source * alpha, add=True)"),),
        helpers=(*SCATTER_HELPERS, H.ALONG),
        checks=("1, index, source", "-1, index, source, alpha=2", "dim=1, index=index, source=source"),
        operands=(("index", "torch.tensor([3, 3])"), ("source", "torch.arange(6.0).reshape(3, 2)")),
        note="duplicate indices add up",
    ),
    Op(
        "index_copy",
        (P("dim"), P("index"), P("source")),
        A,
        Result.SAME,
        "_t2g_scatter(X, dim, _t2g_along(X, dim, index, source), source)",
        helpers=(*SCATTER_HELPERS, H.ALONG),
        checks=("1, index, source", "-1, index, source", "dim=1, index=index, source=source"),
        operands=(("index", "torch.tensor([3, 0])"), ("source", "torch.arange(6.0).reshape(3, 2)")),
    ),
    Op(
        "index_fill",
        (P("dim"), P("index"), P("value")),
        A,
        Result.SAME,
        "_t2g_index_fill(X, dim, index, value)",
        helpers=(H.INDEX_FILL,),
        checks=("1, index, -1.5", "0, index, 2", "dim=-1, index=index, value=0.5"),
        operands=(("index", "torch.tensor([2, 0])"),),
        dtypes=NUMBERS,
    ),
    Op(
        "index_put",
        (P("indices"), P("values"), P("accumulate", False)),
        A,
        Result.SAME,
        refuse="a tuple of index tensors (advanced indexing) is not translated yet",
    ),
    # -- masks ----------------------------------------------------------------------
    Op(
        "masked_fill",
        (P("mask"), P("value")),
        A,
        Result.SAME,
        "_t2g_masked_fill(X, mask, value)",
        helpers=(*MASK_HELPERS, H.MASKED_FILL),
        checks=("mask, 2.5", "mask, value=-1", "full, 3", "mask=mask, value=0.0"),
        operands=(
            ("mask", "torch.tensor([[True, False, True, False]])"),
            ("full", "torch.arange(12).reshape(3, 4) % 3 == 0"),
        ),
        dtypes=NUMBERS,
    ),
    Op(
        "masked_select",
        (P("mask"),),
        B,
        Result.SAME,
        "_t2g_masked_select(X, mask)",
        helpers=(*MASK_HELPERS, H.MASKED_SELECT),
        checks=("mask", "full", "mask=mask"),
        operands=(("mask", "torch.tensor([[True, False, True, False]])"), ("full", "torch.arange(12).reshape(3, 4) % 3 == 0")),
        dtypes=TRUTHS,
        note="an empty selection raises at run time (MXNet 1.9's NDArray has no empty arrays)",
    ),
    Op(
        "masked_scatter",
        (P("mask"), P("source")),
        A,
        Result.SAME,
        "_t2g_masked_scatter(X, mask, source)",
        helpers=(*MASK_HELPERS, H.MASKED_SCATTER),
        checks=("mask, source", "full, source", "mask=mask, source=source"),
        operands=(
            ("mask", "torch.tensor([[True, False, True, False]])"),
            ("full", "torch.arange(12).reshape(3, 4) % 3 == 0"),
            ("source", "torch.arange(12.0).reshape(3, 4) * 10"),
        ),
    ),
    # -- flat indices -------------------------------------------------------------------
    Op(
        "take",
        (P("index"),),
        B,
        Result.SAME,
        'ND.take(X.reshape((-1,)), index.astype("int64"), mode="wrap")',
        checks=("index", "index=index"),
        operands=(("index", "torch.tensor([[0, -1], [5, 11]])"),),
        dtypes=TRUTHS,
        note="negative indices count from the end, as torch's",
    ),
    Op(
        "take_along_dim",
        (P("indices"), P("dim", None)),
        B,
        Result.SAME,
        "_t2g_take_along_dim(X, indices, dim)",
        helpers=(H.BSHAPE, H.GRID, H.GATHER, H.TAKE_ALONG_DIM),
        checks=("indices, 1", "indices, dim=0", "indices", "row, 1", "indices=indices, dim=-1"),
        operands=(("indices", INDEX), ("row", "torch.tensor([[2, 0]])")),
        dtypes=TRUTHS,
        note="the input and the indices broadcast outside dim; without dim the input is flattened",
    ),
    Op(
        "put",
        (P("index"), P("source"), P("accumulate", False)),
        A,
        Result.SAME,
        "_t2g_put(X, index, source)",
        alternatives=((frozenset({"accumulate"}), "_t2g_put(X, index, source, accumulate=accumulate)"),),
        helpers=(*SCATTER_HELPERS, H.PUT),
        checks=("index, source", "index, source, True", "index=index, source=source, accumulate=False"),
        operands=(("index", "torch.tensor([1, -1, 5])"), ("source", "torch.tensor([9.0, 8.0, 7.0])")),
    ),
    Op(
        "nonzero",
        (P("as_tuple", False, literal=True, keyword_only=True),),
        B,
        Result.INT,
        "_t2g_nonzero(X)",
        alternatives=((frozenset({"as_tuple"}), "_t2g_nonzero(X, as_tuple=as_tuple)"),),
        helpers=(H.NONZERO,),
        checks=("", "as_tuple=True", "as_tuple=False"),
        dtypes=TRUTHS,
        note="found on the host; no nonzero entry raises at run time (MXNet 1.9's NDArray has no empty arrays)",
    ),
    Op(
        "argwhere",
        (),
        B,
        Result.INT,
        "_t2g_nonzero(X)",
        helpers=(H.NONZERO,),
        dtypes=TRUTHS,
        note="found on the host; no nonzero entry raises at run time (MXNet 1.9's NDArray has no empty arrays)",
    ),
    Op(
        "where",
        (P("condition"), P("other")),
        Form.METHOD,
        Result.PROMOTE,
        "_t2g_where(condition, X, other)",
        helpers=(*OPERAND_HELPERS, H.WHERE),
        checks=("cond, y", "cond, 0.5", "condition=cond, other=y"),
        operands=(("cond", "torch.tensor([[True, False, True, False]])"), ("y", "torch.zeros(3, 1)")),
        dtypes=NUMBERS,
        note="x.where(condition, y) is torch.where(condition, x, y): broadcast, numbers promoted as torch does",
    ),
    # -- fills (in place) ---------------------------------------------------------------
    Op(
        "copy",
        (P("other"), P("non_blocking", False)),
        INPLACE,
        Result.SAME,
        "ND.broadcast_to(other.astype(X.dtype), X.shape)",
        checks=("src", "src, True"),
        operands=(("src", "torch.tensor([[2.5, -1.5, 3.0, 0.0]])"),),
        dtypes=NUMBERS,
    ),
    Op(
        "uniform",
        (P("from_", 0), P("to", 1), P("generator", None, keyword_only=True)),
        INPLACE,
        Result.SAME,
        "from_ + (to - from_) * ND.random.uniform(0, 1, shape=X.shape, dtype=X.dtype, ctx=X.context)",
        refused_params=(("generator", "MXNet's random state is global"),),
        checks=("to=0.0",),  # (random: the checks can only compare a degenerate range)
        note="MXNet's random stream, not torch's; torch's `from=` keyword is not read (a Python keyword)",
    ),
    Op(
        "normal",
        (P("mean", 0), P("std", 1), P("generator", None, keyword_only=True)),
        INPLACE,
        Result.SAME,
        "mean + std * ND.random.normal(0, 1, shape=X.shape, dtype=X.dtype, ctx=X.context)",
        refused_params=(("generator", "MXNet's random state is global"),),
        checks=("1.5, 0.0", "mean=-1.0, std=0.0"),  # (random: only std=0 can be compared)
        note="MXNet's random stream, not torch's",
    ),
    Op(
        "bernoulli",
        (P("p", 0.5), P("generator", None, keyword_only=True)),
        INPLACE,
        Result.SAME,
        "(ND.random.uniform(0, 1, shape=X.shape, ctx=X.context) < p).astype(X.dtype)",
        refused_params=(("generator", "MXNet's random state is global"),),
        checks=("0.0", "1.0", "p=1.0"),  # (random: only p = 0 or 1 can be compared)
        dtypes=NUMBERS,
        note="MXNet's random stream, not torch's",
    ),
    # -- comparisons: torch's other names (eq, gt... are T2G102/T2G103's) and the in-place forms
    # (torch.equal is not elementwise: one Python bool for the whole tensors)
    *(_compare(long, kind, B) for _, long, kind in _COMPARISONS if long != "equal"),
    *(_compare(short, kind, INPLACE) for short, _, kind in _COMPARISONS),
    *(_compare(long, kind, INPLACE) for _, long, kind in _COMPARISONS if long != "equal"),
    # -- elementwise math ---------------------------------------------------------------
    Op("sgn", (), A, Result.SAME, "ND.sign(X)", dtypes=NUMBERS, note="real tensors (for them sgn is sign)"),
    _division("fmod", "fmod"),
    _division("remainder", "remainder"),
    _division("floor_divide", "floor_divide"),
    _logical("logical_and", "broadcast_logical_and"),
    _logical("logical_or", "broadcast_logical_or"),
    _logical("logical_xor", "broadcast_logical_xor"),
    Op("logical_not", (), B, Result.BOOL, '(_t2g_truth(X) == 0).astype("bool")', helpers=(H.TRUTH,), dtypes=TRUTHS),
    _bitwise("bitwise_and"),
    _bitwise("bitwise_or"),
    _bitwise("bitwise_xor"),
    Op("bitwise_not", (), A, Result.SAME, '_t2g_np("bitwise_not", X)', helpers=(H.NUMPY,), inputs=Inputs.INT, dtypes=INTS),
    _is("isnan"),
    _is("isinf"),
    _is("isfinite"),
    _clamp("clip", A),
    _clamp("clamp", INPLACE),
    Op(
        "addcmul",
        (P("tensor1"), P("tensor2"), P("value", 1, keyword_only=True)),
        A,
        Result.PROMOTE,
        "X + tensor1 * tensor2",
        alternatives=((frozenset({"value"}), "X + value * tensor1 * tensor2"),),
        checks=("tensor1, tensor2", "tensor1, tensor2, value=0.5", "tensor1=tensor1, tensor2=tensor2"),
        operands=(("tensor1", "torch.arange(3.0).reshape(3, 1)"), ("tensor2", "torch.tensor([[1.0, -2.0, 0.5, 3.0]])")),
    ),
    Op(
        "addcdiv",
        (P("tensor1"), P("tensor2"), P("value", 1, keyword_only=True)),
        A,
        Result.PROMOTE,
        "X + tensor1 / tensor2",
        alternatives=((frozenset({"value"}), "X + value * tensor1 / tensor2"),),
        checks=("tensor1, tensor2", "tensor1, tensor2, value=0.5", "tensor1=tensor1, tensor2=tensor2"),
        operands=(("tensor1", "torch.arange(3.0).reshape(3, 1)"), ("tensor2", "torch.tensor([[1.0, -2.0, 0.5, 3.0]])")),
    ),
    Op(
        "logaddexp",
        (P("other"),),
        B,
        Result.FLOAT,
        "_t2g_logaddexp(X, other)",
        helpers=(*OPERAND_HELPERS, H.LOGADDEXP),
        checks=("other", "other=other"),
        operands=(("other", "torch.tensor([[0.5, -3.0, 20.0, 1.0]])"),),
        dtypes=NUMBERS,
    ),
    Op(
        "logaddexp2",
        (P("other"),),
        B,
        Result.FLOAT,
        "_t2g_logaddexp(X, other, base2=True)",
        helpers=(*OPERAND_HELPERS, H.LOGADDEXP),
        checks=("other", "other=other"),
        operands=(("other", "torch.tensor([[0.5, -3.0, 20.0, 1.0]])"),),
        dtypes=NUMBERS,
    ),
    Op(
        "xlogy",
        (P("other"),),
        A,
        Result.FLOAT,
        "_t2g_xlogy(X, other)",
        helpers=(*OPERAND_HELPERS, H.XLOGY),
        checks=("other", "2.0", "other=other"),
        operands=(("other", "torch.tensor([[0.5, 3.0, 2.0, 1.0]])"),),
        dtypes=NUMBERS,
        note="0 where x is 0, unless y is NaN, as torch's",
    ),
)
