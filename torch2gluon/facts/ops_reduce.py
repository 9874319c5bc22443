"""Reductions, sorting and cumulative tensor ops.

See ``ops.py`` for what an entry says, ``ops_reduce_helpers.py`` for the runtime
helpers the templates call where MXNet 1.9's NDArray has no op of torch's
meaning. A full reduction is 0-d in torch and has shape (1,) in MXNet (T2G105
reports it where the shape can be seen). torch accumulates sums of integers and
booleans in int64 (``LONG``); its floating-point reductions of integers give
float32 (``FLOAT``), or refuse them (norm, var_mean).
"""

from __future__ import annotations

from typing import Tuple

from . import ops_reduce_helpers as H
from .ops import Form, Inputs, Op, P, Result

B = Form.BOTH
F = Form.FUNCTION
DIM_KEEP = (P("dim", None), P("keepdim", False))
NUMBERS = ("float32", "int64")
TRUTHS = ("float32", "int64", "bool")
_TIES = (
    "the indices of equal values may differ from torch's: torch leaves their order unspecified "
    "(its CPU selection picks them in another order than MXNet's sort)"
)


def _sort_like(name: str, template: str, result: Result, helpers=H.SORTING, **kw) -> Op:
    return Op(
        name,
        (P("dim", -1), P("descending", False), P("stable", False, keyword_only=True)),
        B,
        result,
        template,
        helpers=helpers,
        dtypes=TRUTHS if result is Result.INT else NUMBERS,
        **kw,
    )


def _cumulative(name: str, template: str, dtype_template: str, helpers=()) -> Op:
    return Op(
        name,
        (P("dim"), P("dtype", None, keyword_only=True)),
        Form.ALL,
        Result.REDUCE,
        template,
        alternatives=((frozenset({"dtype"}), dtype_template),),
        helpers=helpers,
        checks=("1", "dim=0", "-1", "0, dtype=torch.float64"),
        dtypes=TRUTHS,
        note="integers and booleans accumulate in int64, as in torch",
    )


def _logsumexp(name: str, forms: Form) -> Op:
    return Op(
        name,
        (P("dim"), P("keepdim", False)),
        forms,
        Result.FLOAT,
        "_t2g_logsumexp(FLOAT(X), dim, keepdim=keepdim)",
        helpers=(H.LOGSUMEXP,),
        checks=("1", "dim=0, keepdim=True", "(0, 1)", "-1, True"),
        dtypes=NUMBERS,
        note="shifted by the max (0 where it is infinite), as torch computes it",
    )


def _norm(name: str, forms: Form) -> Op:
    return Op(
        name,
        (P("p", "fro"), P("dim", None), P("keepdim", False), P("dtype", None)),
        forms,
        Result.FLOAT,
        "_t2g_norm(X, p=p, dim=dim, keepdim=keepdim)",
        helpers=(*H.EXTREMES, H.NORM),
        refused_params=(("out", "writes into a given tensor"), ("dtype", "computes in another dtype")),
        checks=("", "2", "1, 1", "p=2, dim=-1, keepdim=True", "dim=(0, 1)", "'fro', 0", "float('inf'), 1", "3, 0", "0, 1"),
        dtypes=NUMBERS,
        note="vector norms (matrix norms such as 'nuc' raise at run time); the gradient is 0 where the norm is 0, as torch's",
    )


def _unique(name: str, forms: Form) -> Op:
    return Op(
        name,
        (P("sorted", True), P("return_inverse", False), P("return_counts", False), P("dim", None)),
        forms,
        Result.UNIQUE,
        "_t2g_unique(X, sorted=sorted, return_inverse=return_inverse, return_counts=return_counts, dim=dim)",
        helpers=(H.UNIQUE,),
        checks=("", "return_inverse=True", "True, True, True", "return_counts=True, dim=0", "sorted=False, return_inverse=True, dim=1"),
        dtypes=TRUTHS,
        note="sorted (torch's CPU sorts with sorted=False too); NaNs are kept one by one as torch's; dim with NaN slices raises",
    )


def _var_mean(name: str, std: bool) -> Op:
    extra = ", std=True" if std else ""
    return Op(
        name,
        (P("dim", None), P("unbiased", None), P("keepdim", False), P("correction", None, keyword_only=True)),
        F,
        Result.FLOAT_PAIR,
        f"_t2g_var_mean(X, dim=dim, unbiased=unbiased, keepdim=keepdim, correction=correction{extra})",
        helpers=(H.VAR_MEAN,),
        # (`var_mean(x, False)`, torch's (input, unbiased) overload, is in tests/test_numeric_reduce.py:
        # as a keyword it would be dim=False)
        checks=("", "1", "dim=0, keepdim=True", "1, False", "(0, 1), correction=0", "0, True, True"),
        note="torch's overloads: (dim, unbiased, keepdim), (unbiased), correction=",
    )


OPS: Tuple[Op, ...] = (
    # -- reductions ----------------------------------------------------------------
    Op(
        "amax",
        (P("dim", ()), P("keepdim", False)),
        B,
        Result.SAME,
        "_t2g_amax(X, dim=dim, keepdim=keepdim)",
        helpers=H.EXTREMES,
        checks=("", "1", "dim=0, keepdim=True", "(0, 1)", "-1, True"),
        dtypes=TRUTHS,
        note="NaN propagates; where several entries reach the max they share its gradient evenly, as in torch",
    ),
    Op(
        "amin",
        (P("dim", ()), P("keepdim", False)),
        B,
        Result.SAME,
        "_t2g_amax(X, dim=dim, keepdim=keepdim, smallest=True)",
        helpers=H.EXTREMES,
        checks=("", "1", "dim=0, keepdim=True", "(0, 1)", "-1, True"),
        dtypes=TRUTHS,
        note="NaN propagates; where several entries reach the min they share its gradient evenly, as in torch",
    ),
    Op(
        "aminmax",
        (P("dim", None, keyword_only=True), P("keepdim", False, keyword_only=True)),
        B,
        Result.MIN_MAX,
        "_t2g_aminmax(X, dim=dim, keepdim=keepdim)",
        helpers=(*H.EXTREMES, H.AMINMAX),
        checks=("", "dim=1", "dim=0, keepdim=True", "keepdim=True, dim=-1"),
        dtypes=NUMBERS,
    ),
    Op(
        "all",
        DIM_KEEP,
        B,
        Result.BOOL,
        'ND.min(X != 0, axis=dim, keepdims=keepdim).astype("bool")',
        checks=("", "1", "dim=0, keepdim=True", "(0, 1)"),
        dtypes=TRUTHS,
        note="bool (torch gives uint8 for a uint8 input)",
    ),
    Op(
        "any",
        DIM_KEEP,
        B,
        Result.BOOL,
        'ND.max(X != 0, axis=dim, keepdims=keepdim).astype("bool")',
        checks=("", "1", "dim=0, keepdim=True", "(0, 1)"),
        dtypes=TRUTHS,
        note="bool (torch gives uint8 for a uint8 input)",
    ),
    Op(
        "nansum",
        (P("dim", None), P("keepdim", False), P("dtype", None, keyword_only=True)),
        B,
        Result.REDUCE,
        "ND.nansum(LONG(X), axis=dim, keepdims=keepdim)",
        alternatives=((frozenset({"dtype"}), "ND.nansum(X.astype(DTYPE(dtype)), axis=dim, keepdims=keepdim)"),),
        checks=("", "1", "dim=0, keepdim=True", "(0, 1)", "dtype=torch.float64"),
        dtypes=TRUTHS,
    ),
    Op(
        "count_nonzero",
        (P("dim", None),),
        B,
        Result.INT,
        'ND.sum((X != 0).astype("int64"), axis=dim)',
        checks=("", "1", "dim=0", "(0, 1)"),
        dtypes=TRUTHS,
    ),
    _logsumexp("logsumexp", B),
    _logsumexp("special.logsumexp", F),
    _norm("norm", B),
    _norm("functional.norm", F),
    _var_mean("var_mean", std=False),
    _var_mean("std_mean", std=True),
    Op(
        "median",
        DIM_KEEP,
        B,
        Result.VALUES_INDICES,
        "_t2g_median(X, dim=dim, keepdim=keepdim)",
        helpers=(*H.SORTING, H.EVENLY, H.MEDIAN),
        checks=("", "1", "dim=0, keepdim=True", "-1, True"),
        dtypes=NUMBERS,
        note="the lower of the two middle values (torch does not average); NaN where there is one; "
        "with a dim (values, indices), the index a stable sort gives, as torch's",
    ),
    Op(
        "mode",
        (P("dim", -1), P("keepdim", False)),
        B,
        Result.PAIR,
        "_t2g_mode(X, dim=dim, keepdim=keepdim)",
        helpers=(H.GRID, H.TAKE_ALONG, H.MODE),
        checks=("", "0", "dim=1, keepdim=True", "-1, True"),
        dtypes=TRUTHS,
        note="the smallest of the most frequent values and the index torch's sort puts last among them",
    ),
    Op(
        "kthvalue",
        (P("k"), P("dim", -1), P("keepdim", False)),
        B,
        Result.PAIR,
        "_t2g_kthvalue(X, k, dim=dim, keepdim=keepdim)",
        helpers=(*H.SORTING, H.KTHVALUE),
        warn=_TIES,
        checks=("2", "1, 0", "k=3, dim=1, keepdim=True", "2, -1, True"),
        inputs=Inputs.DISTINCT,
        dtypes=NUMBERS,
        note=f"NaN is the largest, as in torch; {_TIES}",
    ),
    # -- sorting -----------------------------------------------------------------------
    _sort_like(
        "sort",
        "_t2g_sort(X, dim=dim, descending=descending, stable=stable)",
        Result.PAIR,
        checks=("", "1", "0, True", "dim=-1, descending=True", "stable=True", "dim=0, descending=True, stable=True"),
        note="NaN is the largest and equal values come in torch's order (stable=True: their own)",
    ),
    _sort_like(
        "argsort",
        "_t2g_sort(X, dim=dim, descending=descending, stable=stable)[1]",
        Result.INT,
        checks=("", "1", "0, True", "dim=-1, descending=True", "stable=True", "dim=0, descending=True, stable=True"),
        note="int64; NaN is the largest and equal values come in torch's order (stable=True: their own)",
    ),
    Op("msort", (), Form.BOTH, Result.SAME, "_t2g_sort(X, 0)[0]", helpers=H.SORTING, dtypes=TRUTHS),
    Op(
        "topk",
        (P("k"), P("dim", -1), P("largest", True), P("sorted", True, literal=True)),
        B,
        Result.PAIR,
        "_t2g_topk(X, k, dim=dim, largest=largest)",
        helpers=(H.SORT_KEY, H.GRID, H.TAKE_ALONG, H.TOPK),
        refused_values=(("sorted=False", "torch then gives the k values in its selection's order, MXNet's are sorted"),),
        warn=_TIES + " where k * 64 > the dim's length",
        checks=("2", "1, 0", "k=3, dim=1, largest=False", "2, -1, True, True", "1, largest=False, sorted=True"),
        inputs=Inputs.DISTINCT,
        dtypes=NUMBERS,
        note="NaN is the largest, as in torch; equal values come in torch's order where k * 64 <= the dim's length",
    ),
    # -- cumulative --------------------------------------------------------------------
    _cumulative("cumsum", "ND.cumsum(LONG(X), axis=AXIS(dim))", "ND.cumsum(X.astype(DTYPE(dtype)), axis=AXIS(dim))"),
    _cumulative("cumprod", "_t2g_cumprod(LONG(X), dim)", "_t2g_cumprod(X.astype(DTYPE(dtype)), dim)", helpers=(H.CUMPROD,)),
    Op(
        "cummax",
        (P("dim"),),
        B,
        Result.PAIR,
        "_t2g_cummax(X, dim)",
        helpers=(H.CUMMAX,),
        checks=("1", "dim=0", "-1"),
        dtypes=NUMBERS,
        note="an entry equal to the running max takes over (the later index) and a NaN stays, as in torch",
    ),
    Op(
        "cummin",
        (P("dim"),),
        B,
        Result.PAIR,
        "_t2g_cummax(X, dim, smallest=True)",
        helpers=(H.CUMMAX,),
        checks=("1", "dim=0", "-1"),
        dtypes=NUMBERS,
        note="an entry equal to the running min takes over (the later index) and a NaN stays, as in torch",
    ),
    # -- unique ------------------------------------------------------------------------
    _unique("unique", B),
    _unique("functional.unique", F),
)
