"""Elementwise tensor ops: math on one tensor, arithmetic on two, logic.

See ``ops.py`` for what an entry says. torch computes floating-point ops of
integer or boolean tensors in float32 (``FLOAT``); MXNet keeps the input's
dtype, so the templates cast where torch would.
"""

from __future__ import annotations

from typing import Tuple

from .ops import Form, Inputs, Op, P, Result
from .ops_index_helpers import BINARY, BSHAPE, NUMPY, OPERANDS

F = Form.ALL
ALPHA = P("alpha", 1)


def _unary_float(name: str, mx: str, inputs: Inputs = Inputs.FLOAT, aliases: Tuple[str, ...] = ()) -> Op:
    return Op(name, (), F, Result.FLOAT, f"ND.{mx}(FLOAT(X))", aliases=aliases, inputs=inputs, dtypes=("float32", "int64"))


def _unary_same(name: str, mx: str, aliases: Tuple[str, ...] = (), dtypes: Tuple[str, ...] = ("float32", "int64")) -> Op:
    return Op(name, (), F, Result.SAME, f"ND.{mx}(X)", aliases=aliases, dtypes=dtypes)


OPS: Tuple[Op, ...] = (
    # -- one tensor, a floating-point result ----------------------------------
    _unary_float("exp", "exp"),
    _unary_float("log", "log", Inputs.POSITIVE),
    _unary_float("sqrt", "sqrt", Inputs.POSITIVE),
    _unary_float("log2", "log2", Inputs.POSITIVE),
    _unary_float("log10", "log10", Inputs.POSITIVE),
    _unary_float("log1p", "log1p", Inputs.POSITIVE),
    _unary_float("expm1", "expm1"),
    _unary_float("rsqrt", "rsqrt", Inputs.POSITIVE),
    _unary_float("sin", "sin"),
    _unary_float("cos", "cos"),
    _unary_float("tan", "tan", Inputs.UNIT),
    _unary_float("asin", "arcsin", Inputs.UNIT, aliases=("arcsin",)),
    _unary_float("acos", "arccos", Inputs.UNIT, aliases=("arccos",)),
    _unary_float("atan", "arctan", aliases=("arctan",)),
    _unary_float("sinh", "sinh"),
    _unary_float("cosh", "cosh"),
    _unary_float("asinh", "arcsinh", aliases=("arcsinh",)),
    _unary_float("acosh", "arccosh", Inputs.ABOVE_ONE, aliases=("arccosh",)),
    _unary_float("atanh", "arctanh", Inputs.UNIT, aliases=("arctanh",)),
    _unary_float("erf", "erf"),
    _unary_float("erfinv", "erfinv", Inputs.UNIT),
    _unary_float("lgamma", "gammaln", Inputs.POSITIVE),
    _unary_float("reciprocal", "reciprocal", Inputs.POSITIVE),
    _unary_float("deg2rad", "radians"),
    _unary_float("rad2deg", "degrees"),
    Op("exp2", (), F, Result.FLOAT, "ND.power(2.0, FLOAT(X))", dtypes=("float32", "int64")),
    Op("square", (), F, Result.SAME, "ND.square(X)", dtypes=("float32", "int64")),
    Op("abs", (), F, Result.SAME, "ND.abs(X)", aliases=("absolute",), dtypes=("float32", "int64")),
    Op("neg", (), F, Result.SAME, "-X", aliases=("negative",), dtypes=("float32", "int64")),
    Op("sign", (), F, Result.SAME, "ND.sign(X)", dtypes=("float32", "int64")),
    _unary_same("floor", "floor", dtypes=("float32",)),
    _unary_same("ceil", "ceil", dtypes=("float32",)),
    _unary_same("trunc", "trunc", aliases=("fix",), dtypes=("float32",)),
    # torch rounds halves to even; MXNet's round rounds them away from zero and its
    # rint towards -inf (measured: rint(1.5) = 1, rint(-0.5) = -1): floor(x + 0.5),
    # one less where that is odd and x was a half
    Op(
        "round",
        (P("decimals", 0, literal=True, keyword_only=True),),
        F,
        Result.SAME,
        "ND.floor(X + 0.5) - (ND.floor(X + 0.5) - X == 0.5) * (ND.floor(X + 0.5) % 2 == 1)",
        alternatives=(
            (
                frozenset({"decimals"}),
                "(ND.floor(X * 10.0**decimals + 0.5) - (ND.floor(X * 10.0**decimals + 0.5) - X * 10.0**decimals == 0.5)"
                " * (ND.floor(X * 10.0**decimals + 0.5) % 2 == 1)) / 10.0**decimals",
            ),
        ),
        checks=("", "decimals=2"),
        dtypes=("float32",),
        note="exact halves in the input round to even, as torch's",
    ),
    Op("frac", (), F, Result.SAME, "X - ND.trunc(X)", dtypes=("float32",)),
    Op("sigmoid", (), F, Result.FLOAT, "ND.sigmoid(FLOAT(X))", custom="T2G701", custom_forms=Form.FUNCTION, dtypes=("float32", "int64")),
    Op("relu", (), F, Result.SAME, "ND.relu(X)", custom="T2G701", custom_forms=Form.FUNCTION, dtypes=("float32",)),
    Op("tanh", (), F, Result.FLOAT, "ND.tanh(FLOAT(X))", custom="T2G701", custom_forms=Form.FUNCTION, dtypes=("float32", "int64")),
    Op("logit", (), F, Result.FLOAT, "ND.log(FLOAT(X) / (1 - FLOAT(X)))", inputs=Inputs.UNIT),
    # -- two tensors (or a tensor and a number) -----------------------------------
    Op(
        "add",
        (P("other"), P("alpha", 1, keyword_only=True)),
        F,
        Result.PROMOTE,
        "X + other",
        alternatives=((frozenset({"alpha"}), "X + other * alpha"),),
        checks=("other", "2", "other, alpha=2"),
        operands=(("other", "torch.ones(3, 4)"),),
    ),
    Op(
        "sub",
        (P("other"), P("alpha", 1, keyword_only=True)),
        F,
        Result.PROMOTE,
        "X - other",
        alternatives=((frozenset({"alpha"}), "X - other * alpha"),),
        aliases=("subtract",),
        checks=("other", "2", "other, alpha=2"),
        operands=(("other", "torch.ones(3, 4)"),),
    ),
    Op(
        "mul",
        (P("other"),),
        F,
        Result.PROMOTE,
        "X * other",
        aliases=("multiply",),
        checks=("other", "3"),
        operands=(("other", "torch.full((3, 4), 2.0)"),),
    ),
    Op(
        "div",
        (P("other"), P("rounding_mode", None, literal=True, keyword_only=True)),
        F,
        Result.FLOAT,
        "FLOAT(X) / FLOAT(other)",
        aliases=("divide", "true_divide"),
        alternatives=(
            (frozenset({"rounding_mode=floor"}), '_t2g_binary("floor_divide", X, other)'),
            (frozenset({"rounding_mode=trunc"}), '_t2g_binary("trunc_divide", X, other)'),
        ),
        helpers=(OPERANDS, BSHAPE, BINARY),
        checks=("other", "2", "other, rounding_mode='floor'", "other, rounding_mode='trunc'", "ints", "ints, rounding_mode='floor'"),
        operands=(
            ("other", "torch.full((3, 4), 0.75)"),
            ("ints", "torch.tensor([[3, -3, 2, -4]])"),
        ),
        dtypes=("float32", "int64"),
        note="integers divide to float32; with a rounding mode integers stay integers (MXNet refuses operands of two float widths)",
    ),
    Op(
        "pow",
        (P("exponent"),),
        F,
        Result.PROMOTE,
        "ND.power(X, exponent)",
        checks=("2", "exponent"),
        operands=(("exponent", "torch.full((3, 4), 2.0)"),),
        inputs=Inputs.POSITIVE,
        dtypes=("float32", "int64"),
    ),
    Op(
        "atan2",
        (P("other"),),
        F,
        Result.FLOAT,
        "_t2g_np(\"arctan2\", FLOAT(X), FLOAT(other))",
        aliases=("arctan2",),
        helpers=(NUMPY,),
        checks=("other", "other=other"),
        operands=(("other", "torch.tensor([[1.0, -1.0, 0.0, -2.0]])"),),
        dtypes=("float32", "int64"),
        note="MXNet's NumPy arctan2 (nd has none; arctan(y / x) would lose the quadrant)",
    ),
    Op(
        "maximum",
        (P("other"),),
        Form.BOTH,
        Result.PROMOTE,
        "ND.maximum(X, other)",
        checks=("other",),
        operands=(("other", "torch.zeros(3, 4)"),),
    ),
    Op(
        "minimum",
        (P("other"),),
        Form.BOTH,
        Result.PROMOTE,
        "ND.minimum(X, other)",
        checks=("other",),
        operands=(("other", "torch.zeros(3, 4)"),),
    ),
    Op(
        "hypot",
        (P("other"),),
        F,
        Result.FLOAT,
        "ND.sqrt(ND.square(FLOAT(X)) + ND.square(FLOAT(other)))",
        checks=("other",),
        operands=(("other", "torch.full((3, 4), 0.5)"),),
    ),
    Op(
        "clamp_min",
        (P("min"),),
        F,
        Result.SAME,
        "ND.maximum(X, min)",
        checks=("0.5",),
    ),
    Op(
        "clamp_max",
        (P("max"),),
        F,
        Result.SAME,
        "ND.minimum(X, max)",
        checks=("0.5",),
    ),
    Op(
        "lerp",
        (P("end"), P("weight")),
        F,
        Result.SAME,
        "X + weight * (end - X)",
        checks=("end, 0.3",),
        operands=(("end", "torch.ones(3, 4)"),),
    ),
)
