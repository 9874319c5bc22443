"""Small builders of MXNet code: method calls, string literals, casts."""

from __future__ import annotations

import libcst as cst

from ..base.syntax import arg, paren


def minus_one() -> cst.UnaryOperation:
    return cst.UnaryOperation(operator=cst.Minus(), expression=cst.Integer("1"))


def meth(value: cst.BaseExpression, name: str, *args: cst.Arg) -> cst.Call:
    return cst.Call(func=cst.Attribute(value=paren(value), attr=cst.Name(name)), args=list(args))


def s(text: str) -> cst.SimpleString:
    return cst.SimpleString(f'"{text}"')


def astype(value: cst.BaseExpression, dtype: str) -> cst.Call:
    return meth(value, "astype", arg(s(dtype)))
