"""Shape and linear-algebra tensor ops: pieces, flips, rolls, moves of dims, stacks, products.

See ``ops.py`` for what an entry says, ``ops_shape_helpers.py`` for the runtime
helpers. The methods ``view``/``reshape``/``permute``/``transpose``/``squeeze``...
and the functions ``cat``/``stack``/``mm``/``bmm``/``matmul`` are other rules'
(``ops_custom.py``); here are their other forms. MXNet 1.9's NDArray has no
empty arrays: where torch's result would be empty, the helpers raise a
``ValueError`` saying so. A result torch gives 0-d (``dot``, ``trace``, ``det``
of a matrix) has shape (1,) in MXNet (T2G105 reports it where the shape shows).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Tuple

from . import ops_shape_helpers as H
from .ops import Form, Inputs, Op, P, Result

B = Form.BOTH
F = Form.FUNCTION
M = Form.METHOD
ALL = Form.ALL
NUMBERS = ("float32", "int64")
TRUTHS = ("float32", "int64", "bool")
_EMPTY = "MXNet's NDArray has no empty arrays: a piece torch gives empty raises at run time"

#: names (``torch.<name>`` and methods) whose result has another rank than their input (facts/tensor.py)
RESHAPING = frozenset(
    "chunk split tensor_split unbind unflatten reshape_as hstack vstack dstack column_stack mv dot vdot outer ger "
    "einsum diag diagonal diag_embed trace det linalg.det tile repeat_interleave expand_as kron cross linalg.cross "
    "inverse linalg.inv".split()
)
#: ops whose result torch gives 0-d (MXNet: shape (1,)), reported as full reductions are (facts/tensor.py)
ZERO_D = frozenset("dot vdot trace det linalg.det".split())


_EMPTY_PIECE = "a piece of size 0 is an empty tensor, which MXNet's NDArray does not have"


def _pieces(name: str, params, template: str, helpers, forms: Form = B, **kw) -> Op:
    sizes = params[0].name
    refused = ((f"{sizes}=0", _EMPTY_PIECE), (f"{sizes}~0", _EMPTY_PIECE)) if sizes != "dim" else ()
    return Op(name, params, forms, Result.OTHER, template, helpers=(H.VIA_INT, H.AXES, H.PIECES, *helpers), dtypes=TRUTHS, note=_EMPTY,
              refused_values=refused, **kw)


def _swap(name: str, a: str, b: str, forms: Form = B) -> Op:
    return Op(
        name,
        (P(a), P(b)),
        forms,
        Result.SAME,
        f"_t2g_via_int(_t2g_swap, X, {a}, {b})",
        helpers=(H.AXES, H.TRANSPOSE, H.SWAP),
        checks=("0, 1", f"{a}=1, {b}=0", "-1, 0", "-2, -1"),
        dtypes=TRUTHS,
    )


def _stack_like(name: str) -> Op:
    # (the sequence is the first argument: test_tensor_api.py's checks pass a tensor there, so the
    # checks are in tests/test_numeric_shape.py)
    return Op(name, (), F, Result.PROMOTE, f'_t2g_stack_like(X, "{name}")', helpers=(H.STACKS,), checks=(), dtypes=TRUTHS)


def _movedim(name: str) -> Op:
    return Op(
        name,
        (P("source"), P("destination")),
        B,
        Result.SAME,
        "_t2g_via_int(_t2g_movedim, X, source, destination)",
        helpers=(H.AXES, H.TRANSPOSE, H.MOVEDIM),
        checks=("0, 1", "source=1, destination=0", "-1, 0", "(0, 1), (1, 0)"),
        dtypes=TRUTHS,
    )


def _triangle(name: str, upper: bool) -> Op:
    extra = ", upper=True" if upper else ""
    return Op(
        name,
        (P("diagonal", 0),),
        ALL,
        Result.SAME,
        f"_t2g_triangle(X, diagonal{extra})",
        helpers=(H.TRIANGLE,),
        checks=("", "1", "diagonal=-1", "-2", "3"),
        dtypes=TRUTHS,
    )


def _matrix(name: str, template: str, forms: Form, note: str = "") -> Op:
    # (square matrices: the checks' 3x4 input is refused by torch; tests/test_numeric_shape.py has them)
    return Op(name, (), forms, Result.FLOAT, template, checks=(), dtypes=("float32",), note=note)


OPS: Tuple[Op, ...] = (
    # -- pieces --------------------------------------------------------------------
    _pieces("chunk", (P("chunks"), P("dim", 0)), "_t2g_via_int(_t2g_chunk, X, chunks, dim)", (H.CHUNK,), checks=("2", "3, 1", "chunks=2, dim=-1", "4, 0")),
    _pieces(
        "split",
        (P("split_size_or_sections"), P("dim", 0)),
        "_t2g_via_int(_t2g_split, X, split_size_or_sections, dim)",
        (H.SPLIT,),
        F,
        checks=("2", "3, 1", "split_size_or_sections=[1, 3], dim=1", "[2, 1]", "2, -1"),
    ),
    _pieces("split", (P("split_size"), P("dim", 0)), "_t2g_via_int(_t2g_split, X, split_size, dim)", (H.SPLIT,), M, checks=("2", "3, 1", "split_size=[1, 3], dim=1", "[2, 1]", "2, -1")),
    _pieces(
        "tensor_split",
        (P("indices_or_sections"), P("dim", 0)),
        "_t2g_via_int(_t2g_tensor_split, X, indices_or_sections, dim)",
        (H.TENSOR_SPLIT,),
        # (torch's keywords are its overloads': sections=, indices=, or indices_or_sections= for a tensor, so
        # the generated checks cannot name it: tests/test_numeric_shape.py has them, positionally)
        checks=(),
    ),
    _pieces("unbind", (P("dim", 0),), "_t2g_via_int(_t2g_unbind, X, dim)", (H.UNBIND,), checks=("", "1", "dim=-1", "0")),
    Op(
        "narrow",
        (P("dim"), P("start"), P("length")),
        B,
        Result.SAME,
        "_t2g_via_int(_t2g_narrow, X, dim, start, length)",
        helpers=(H.AXES, H.PIECES, H.NARROW),
        refused_values=(("length=0", "a length of 0 is an empty tensor, which MXNet's NDArray does not have"),),
        checks=("0, 1, 2", "dim=1, start=1, length=3", "-1, -3, 2", "1, 0, 4"),
        dtypes=TRUTHS,
        note=_EMPTY,
    ),
    # -- flips, rolls, repeats -----------------------------------------------------------
    Op(
        "flip",
        (P("dims", varargs=True),),
        B,
        Result.SAME,
        "_t2g_via_int(ND.flip, X, axis=_t2g_axes(dims, X.ndim))",
        helpers=(H.AXES,),
        checks=("[0]", "dims=(0, 1)", "[-1]", "(1, -2)"),
        dtypes=TRUTHS,
    ),
    Op("fliplr", (), B, Result.SAME, "_t2g_via_int(ND.flip, X, axis=1)", dtypes=TRUTHS),
    Op("flipud", (), B, Result.SAME, "_t2g_via_int(ND.flip, X, axis=0)", dtypes=TRUTHS),
    Op(
        "roll",
        (P("shifts"), P("dims", None)),
        B,
        Result.SAME,
        "_t2g_via_int(_t2g_roll, X, shifts, dims)",
        helpers=(H.AXES, H.ROLL),
        checks=("1", "2, 0", "shifts=-1, dims=1", "(1, 2), (0, 1)", "5, -1", "-7"),
        dtypes=TRUTHS,
    ),
    Op(
        "repeat_interleave",
        (P("repeats"), P("dim", None), P("output_size", None, keyword_only=True)),
        B,
        Result.SAME,
        "_t2g_via_int(_t2g_repeat_interleave, X, repeats, dim)",
        helpers=(H.AXES, H.REPEAT_INTERLEAVE),
        refused_values=(("repeats=0", "0 repeats give an empty tensor, which MXNet's NDArray does not have"),),
        checks=("2", "2, 0", "repeats=3, dim=-1", "torch.tensor([1, 0, 2]), 0", "torch.tensor([1, 2, 1, 1]), dim=1", "1, 1, output_size=4"),
        dtypes=TRUTHS,
        note="repeats an int or a tensor/list of counts; output_size is only a hint in torch",
    ),
    Op("tile", (P("dims", varargs=True),), B, Result.SAME, "_t2g_via_int(_t2g_tile, X, dims)", helpers=(H.TILE,),
       checks=("(2,)", "dims=(1, 2)", "(2, 1, 2)", "[1]", "(3, 3, 2, 2)"), dtypes=TRUTHS),
    Op("expand_as", (P("other"),), M, Result.SAME, "_t2g_via_int(_t2g_expand_as, X, other)", helpers=(H.EXPAND_AS,), checks=("other",),
       operands=(("other", "torch.zeros(2, 3, 4)"),), dtypes=TRUTHS),
    # -- dims ----------------------------------------------------------------------
    _movedim("movedim"),
    _movedim("moveaxis"),
    _swap("swapaxes", "axis0", "axis1"),
    _swap("swapdims", "dim0", "dim1"),
    _swap("transpose", "dim0", "dim1", F),
    Op("t", (), F, Result.SAME, "_t2g_transpose(X)", helpers=(H.TRANSPOSE,), dtypes=TRUTHS, note="a 1-d tensor stays as it is, as in torch"),
    Op(
        "permute",
        (P("dims", varargs=True),),
        F,
        Result.SAME,
        "_t2g_transpose(X, _t2g_axes(dims, X.ndim))",
        helpers=(H.AXES, H.TRANSPOSE),
        checks=("(1, 0)", "dims=[1, 0]", "(-1, 0)"),
        dtypes=TRUTHS,
    ),
    Op(
        "squeeze",
        (P("dim", None),),
        F,
        Result.SAME,
        "_t2g_via_int(_t2g_squeeze, X, dim)",
        helpers=(H.AXES, H.SQUEEZE),
        checks=("", "0", "dim=1", "-1"),
        dtypes=TRUTHS,
        note="a dim whose size is not 1 stays, as in torch; squeezed to 0-d: shape (1,)",
    ),
    Op("unsqueeze", (P("dim"),), F, Result.SAME, "_t2g_via_int(ND.expand_dims, X, axis=dim)", checks=("0", "dim=1", "-1", "2", "-3"), dtypes=TRUTHS),
    Op(
        "unflatten",
        (P("dim"), P("sizes")),
        B,
        Result.SAME,
        "_t2g_via_int(_t2g_unflatten, X, dim, sizes)",
        helpers=(H.AXES, H.RESHAPE, H.UNFLATTEN),
        checks=("1, (2, 2)", "dim=0, sizes=(3, 1)", "-1, (2, -1)", "1, [1, 4]"),
        dtypes=TRUTHS,
    ),
    Op("reshape", (P("shape", varargs=True),), F, Result.SAME, "_t2g_via_int(_t2g_reshape, X, shape)", helpers=(H.RESHAPE,),
       checks=("(4, 3)", "shape=(-1,)", "(2, -1, 3)", "[12, 1]"), dtypes=TRUTHS, note="0 and other negative sizes are torch's, not MXNet's codes"),
    Op("reshape_as", (P("other"),), M, Result.SAME, "_t2g_via_int(_t2g_reshape, X, other.shape)", helpers=(H.RESHAPE,), checks=("other",),
       operands=(("other", "torch.zeros(2, 6)"),), dtypes=TRUTHS),
    # -- stacks ------------------------------------------------------------------------
    _stack_like("hstack"),
    _stack_like("vstack"),
    _stack_like("dstack"),
    _stack_like("column_stack"),
    Op("row_stack", (), F, Result.PROMOTE, '_t2g_stack_like(X, "vstack")', helpers=(H.STACKS,), checks=(), dtypes=TRUTHS),
    # -- products --------------------------------------------------------------------------
    Op("mm", (P("mat2"),), M, Result.PROMOTE, "ND.dot(X, mat2)", checks=("mat2",), operands=(("mat2", "torch.ones(4, 2)"),)),
    Op("bmm", (P("mat2"),), M, Result.PROMOTE, "ND.batch_dot(X, mat2)", checks=(), note="3-d operands of equal batch sizes (tests/test_numeric_shape.py)"),
    Op(
        "matmul",
        (P("other"),),
        M,
        Result.PROMOTE,
        "_t2g_matmul(X, other)",
        helpers=(H.MATMUL,),
        checks=("other", "v"),
        operands=(("other", "torch.ones(4, 2)"), ("v", "torch.arange(4.0)")),
        note="batch dims broadcast; 1-d operands as torch's",
    ),
    Op("mv", (P("vec"),), B, Result.PROMOTE, "ND.dot(X, vec)", checks=("vec",), operands=(("vec", "torch.arange(4.0)"),)),
    Op("dot", (P("tensor"),), B, Result.PROMOTE, "ND.dot(X, tensor)", checks=(), note="1-d tensors; shape (1,) for torch's 0-d"),
    Op("vdot", (P("other"),), B, Result.PROMOTE, "ND.dot(X, other)", checks=(), note="real 1-d tensors; shape (1,) for torch's 0-d"),
    Op("outer", (P("vec2"),), B, Result.PROMOTE, "X.reshape((-1, 1)) * vec2.reshape((1, -1))", aliases=("ger",), checks=("vec2",),
       operands=(("vec2", "torch.arange(3.0)"),), note="torch's ger and outer take 1-d tensors; this flattens others"),
    Op(
        "einsum",
        (P("operands", varargs=True),),
        F,
        Result.SAME,  # (X is the equation: nothing to promote; torch's einsum wants operands of one dtype)
        "_t2g_einsum(X, operands)",
        helpers=(H.EINSUM,),
        checks=(),
        note="MXNet's NumPy einsum; the equation comes first (tests/test_numeric_shape.py); a full contraction has shape (1,)",
    ),
    Op("kron", (P("other"),), B, Result.PROMOTE, "_t2g_kron(X, other)", helpers=(H.KRON,), checks=("other",),
       operands=(("other", "torch.tensor([[1.0, -1.0], [0.5, 2.0]])"),)),
    Op("cross", (P("other"), P("dim", None)), B, Result.PROMOTE, "_t2g_cross(X, other, dim)", helpers=(H.AXES, H.CROSS),
       checks=("other", "other, 0", "other=other, dim=-2"), operands=(("other", "torch.arange(12.0).reshape(3, 4)"),),
       note="dim None: the first dim of size 3, as torch's; the operands broadcast"),
    Op("linalg.cross", (P("other"), P("dim", -1, keyword_only=True)), F, Result.PROMOTE, "_t2g_cross(X, other, dim)", helpers=(H.AXES, H.CROSS),
       checks=("other, dim=0", "other, dim=-2"), operands=(("other", "torch.arange(12.0).reshape(3, 4)"),)),
    # -- diagonals and triangles --------------------------------------------------------------
    Op("diag", (P("diagonal", 0),), B, Result.SAME, "_t2g_diag(X, diagonal)", helpers=(H.DIAG,), checks=("", "1", "diagonal=-1", "3", "-2"),
       dtypes=NUMBERS, note="a 1-d tensor gives a matrix, a matrix its diagonal; " + _EMPTY),
    Op(
        "diagonal",
        (P("offset", 0), P("dim1", 0), P("dim2", 1)),
        B,
        Result.SAME,
        "_t2g_diagonal(X, offset, dim1, dim2)",
        helpers=(H.AXES, H.DIAGONAL),
        checks=("", "1", "offset=-1", "0, 1, 0", "-1, -1, -2", "2, dim1=0, dim2=-1"),
        dtypes=NUMBERS,
        note=_EMPTY,
    ),
    Op(
        "diag_embed",
        (P("offset", 0), P("dim1", -2), P("dim2", -1)),
        B,
        Result.SAME,
        "_t2g_diag_embed(X, offset, dim1, dim2)",
        helpers=(H.AXES, H.TRANSPOSE, H.MOVEDIM, H.DIAG_EMBED),
        checks=("", "1", "offset=-2", "0, 0, 2", "1, -1, 0", "-1, dim1=1, dim2=2"),
        dtypes=NUMBERS,
    ),
    _triangle("tril", False),
    _triangle("triu", True),
    Op("trace", (), B, Result.REDUCE, "ND.sum(ND.diag(LONG(X)))", dtypes=NUMBERS, note="integers add up in int64; shape (1,) for torch's 0-d"),
    # -- linear algebra ------------------------------------------------------------------------
    _matrix("det", "ND.linalg.det(X)", B, "float32/float64 (batches too); a matrix's has shape (1,) for torch's 0-d"),
    _matrix("linalg.det", "ND.linalg.det(X)", F, "float32/float64 (batches too); a matrix's has shape (1,) for torch's 0-d"),
    _matrix("inverse", "ND.linalg.inverse(X)", B, "float32/float64 (batches too)"),
    _matrix("linalg.inv", "ND.linalg.inverse(X)", F, "float32/float64 (batches too)"),
)

# booleans go through int32 where MXNet's kernels have none for them (the helper is the entry's)
OPS = tuple(
    replace(op, helpers=(H.VIA_INT, *op.helpers)) if "_t2g_via_int" in (op.template or "") and H.VIA_INT not in op.helpers else op
    for op in OPS
)
