"""Tensor creation and tensor methods."""

from __future__ import annotations

from typing import Dict, List, Optional

import libcst as cst

from ..analysis.kinds import Kind
from ..base.syntax import arg
from ..base.diagnostics import Severity
from ..facts.catalog import literal_dtype
from ..facts.dtypes import DTYPES
from ._base import Example, Rule, Unbindable, bind, code_of, literal


def _literal_kind(node: cst.BaseExpression) -> Optional[str]:
    """'int', 'float', 'bool' for a literal number/bool or nested list/tuple of them."""
    found = literal_dtype(node)
    return found.value if found is not None else None


# Keyword arguments that only place or pin memory; their translation belongs to
# the device rules. Until then a call using them is reported, not guessed.
_SIZE_FUNCS = {"torch.ones": "mxnet.nd.ones", "torch.zeros": "mxnet.nd.zeros"}
_RANDOM_FUNCS = {"torch.rand": "mxnet.nd.random.uniform", "torch.randn": "mxnet.nd.random.normal"}
_LIKE_FUNCS = {
    "torch.ones_like": "mxnet.nd.ones_like",
    "torch.zeros_like": "mxnet.nd.zeros_like",
    "torch.rand_like": "mxnet.nd.random.uniform_like",
    "torch.randn_like": "mxnet.nd.random.normal_like",
}
_LIKE_FROM_SHAPE = {
    "torch.ones_like": "mxnet.nd.ones",
    "torch.zeros_like": "mxnet.nd.zeros",
    "torch.rand_like": "mxnet.nd.random.uniform",
    "torch.randn_like": "mxnet.nd.random.normal",
}


_TORCH_DEFAULT = {"int": "int64", "float": None, "bool": "bool"}


class TensorCreation(Rule):
    """Tensor creation functions become ``mxnet.nd`` functions.

    ## What it does
    Rewrites ``torch.ones``/``zeros``/``full``/``eye``/``arange``/``tensor``/
    ``from_numpy``/``rand``/``randn``/``randint`` and the ``*_like`` functions
    (random ones draw from MXNet's generator: same distribution, other numbers;
    ``randint``'s [low, high) and int64 are torch's).

    ## Why
    ``nd`` takes a shape as one tuple (``nd.ones((5, 3))``), and its dtype
    defaults differ: ``torch.tensor([1, 2])``, ``torch.arange(5)`` and
    ``torch.full((2,), 7)`` are int64 in torch but float32 in MXNet unless the
    dtype is written out, so the rule writes it out. ``nd.random.normal(2, 3)``
    means loc=2, scale=3, so shapes go to ``shape=``.

    ## Flags
    A dtype torch decides from run-time data (``torch.tensor(values)``) is a
    warning; ``device=``, ``requires_grad=``, ``out=`` and other placement
    arguments are left untranslated with an error. ``torch.from_numpy`` shares
    memory with the array, ``nd.array`` copies it: a warning.

    ## Fix safety
    Values and dtypes match; random values come from another generator.
    """

    code = "T2G101"
    name = "tensor-creation"
    summary = "torch tensor creation -> mxnet.nd"
    examples = (
        Example(
            "import torch\ny = torch.randint(0, 10, (8,))\nz = torch.randint(5, size=(2, 2))\n",
            'from mxnet import nd\n\ny = nd.random.randint(0, 10, shape=(8,), dtype="int64")\n'
            'z = nd.random.randint(0, 5, shape=(2, 2), dtype="int64")\n',
            id="randint: low defaults to 0, int64 as in torch",
        ),
        Example(
            "import torch\nx = torch.ones(5,3)\ny = x + 1\nprint(y)\n",
            "from mxnet import nd\n\nx = nd.ones((5, 3))\ny = x + 1\nprint(y)\n",
            id="reference tensor snippet",
        ),
        Example(
            "import torch\na = torch.zeros((2, 3), dtype=torch.float64)\nb = torch.eye(3)\n",
            "from mxnet import nd\n\na = nd.zeros((2, 3), dtype=\"float64\")\nb = nd.eye(3)\n",
            id="shape tuple and dtype",
        ),
        Example(
            "import torch\nt = torch.tensor([1, 2])\nu = torch.tensor([1.5, 2])\nr = torch.arange(5)\nf = torch.full((2,), 7)\n",
            'from mxnet import nd\n\nt = nd.array([1, 2], dtype="int64")\nu = nd.array([1.5, 2])\nr = nd.arange(5, dtype="int64")\nf = nd.full((2,), 7, dtype="int64")\n',
            id="integer literals keep torch's int64",
        ),
        Example(
            "import torch as T\nn = T.randn(2, 3)\nm = T.rand_like(n)\n",
            "from mxnet import nd\n\nn = nd.random.normal(shape=(2, 3))\nm = nd.random.uniform_like(n)\n",
            id="random with alias",
        ),
        Example(
            "import torch\nimport numpy as np\na = torch.from_numpy(np.arange(6, dtype=np.int32))\n",
            "from mxnet import nd\nimport numpy as np\n\n# torch2gluon: T2G101: torch.from_numpy shares memory with the numpy array; the NDArray is a copy\na = nd.from_numpy(np.arange(6, dtype=np.int32), zero_copy=False)\n",
            diagnostics=("T2G101",),
            id="from_numpy keeps the dtype, copies",
        ),
        Example(
            "import torch\nx = torch.ones(3, device='cuda')\n",
            "import torch\n# torch2gluon: T2G101: `torch.ones` argument `device` is not translated yet; left as is\nx = torch.ones(3, device='cuda')\n",
            diagnostics=("T2G101",),
            id="device argument is flagged",
        ),
        Example(
            "import torch\ndef f(values):\n    return torch.tensor(values)\n",
            "from mxnet import nd\n\n\ndef f(values):\n    # torch2gluon: T2G101: torch infers the dtype of `values` at run time (int64 for integers); nd.array gives float32 unless dtype= is passed\n    return nd.array(values)\n",
            diagnostics=("T2G101",),
            id="run-time dtype is a warning",
        ),
    )

    def _dtype(self, node: Optional[cst.BaseExpression]) -> Optional[cst.BaseExpression]:
        if node is None:
            return None
        name = self.ctx.torch_name(node)
        if name in DTYPES:
            return cst.SimpleString(f'"{DTYPES[name]}"')
        if name is None and isinstance(node, cst.SimpleString):
            return node
        raise Unbindable("its dtype cannot be mapped")

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        name = self.ctx.call_name(original)
        if name is None:
            return None
        try:
            if name in _SIZE_FUNCS or name in _RANDOM_FUNCS:
                return self._sized(original, updated, name)
            if name == "torch.full":
                return self._full(original, updated)
            if name == "torch.randint":
                return self._randint(updated)
            if name == "torch.eye":
                b = self._bind(updated, ["n", "m"])
                args = [arg(b["n"])] + ([arg(b["m"])] if "m" in b else [])
                return self._with_dtype(self.ctx.call("mxnet.nd.eye", *args), b, None)
            if name == "torch.arange":
                return self._arange(original, updated)
            if name in ("torch.tensor", "torch.as_tensor"):
                b = self._bind(updated, ["data"])
                kind = _literal_kind(b["data"])
                default = _TORCH_DEFAULT.get(kind) if kind else None
                if kind is None and "dtype" not in b:
                    self.report(
                        original,
                        f"torch infers the dtype of `{_short(b['data'])}` at run time (int64 for integers); "
                        "nd.array gives float32 unless dtype= is passed",
                        severity=Severity.WARNING,
                    )
                data = b["data"]
                if isinstance(literal(data), (int, float)) or self._number(original):
                    # a number: torch's 0-d tensor; MXNet's stand-in has shape (1,)
                    # (nd.array(3) has shape () in MXNet 1.9, which its operators refuse)
                    data = cst.List(elements=[cst.Element(value=data)])
                return self._with_dtype(self.ctx.call("mxnet.nd.array", arg(data)), b, default)
            if name == "torch.from_numpy":
                b = bind(updated, ["ndarray"])
                self.report(
                    original,
                    "torch.from_numpy shares memory with the numpy array; the NDArray is a copy",
                    severity=Severity.WARNING,
                )
                # from_numpy keeps the array's dtype (nd.array would make it float32)
                return self.ctx.call("mxnet.nd.from_numpy", arg(b["ndarray"]), arg(cst.Name("False"), "zero_copy"))
            if name in _LIKE_FUNCS:
                b = self._bind(updated, ["input"])
                if "dtype" not in b:
                    return self.ctx.call(_LIKE_FUNCS[name], arg(b["input"]))
                # nd.*_like ignore or refuse dtype=: build from the shape instead
                x = b["input"]
                if not isinstance(x, cst.Name):
                    raise Unbindable("with `dtype=` on an input that is not a plain name is not translated")
                shape = cst.Attribute(value=x, attr=cst.Name("shape"))
                target = _LIKE_FROM_SHAPE[name]
                shape_arg = arg(shape, "shape") if "random" in target else arg(shape)
                return self._with_dtype(self.ctx.call(target, shape_arg), b, None)
            if name == "torch.full_like":
                b = self._bind(updated, ["input", "fill_value"])
                x = b["input"]
                if not isinstance(x, cst.Name):
                    raise Unbindable("its input is not a plain name")
                shape = cst.Attribute(value=x, attr=cst.Name("shape"))
                dtype = b.get("dtype")
                call = self.ctx.call(
                    "mxnet.nd.full",
                    arg(shape),
                    arg(b["fill_value"]),
                    arg(self._dtype(dtype) or cst.Attribute(value=x, attr=cst.Name("dtype")), "dtype"),
                )
                return call
        except Unbindable as e:
            self.keep(original, name, str(e))
            return None
        return None

    def _number(self, original: cst.Call) -> bool:
        """Whether the data of ``torch.tensor(data)`` is known to be a Python number."""
        data = self._bind(original, ["data"])["data"]
        return self.ctx.kind(data) is Kind.NUMBER

    def _bind(self, call: cst.Call, params: List[str]) -> Dict[str, cst.BaseExpression]:
        b = bind(call, params + ["dtype", "device", "requires_grad", "out", "layout", "pin_memory", "generator"])
        for bad in ("device", "requires_grad", "out", "layout", "pin_memory", "generator"):
            if bad in b:
                raise Unbindable(f"argument `{bad}` is not translated yet")
        return b

    def _with_dtype(self, call: cst.Call, b, default: Optional[str]) -> cst.Call:
        dtype = self._dtype(b.get("dtype")) if "dtype" in b else None
        if dtype is None and default is not None:
            dtype = cst.SimpleString(f'"{default}"')
        if dtype is not None:
            call = call.with_changes(args=[*call.args, arg(dtype, "dtype")])
        return call

    def _shape_from(self, call: cst.Call):
        """torch's ``*size`` (or one sequence, or ``size=``) as one shape expression."""
        positional = [a for a in call.args if a.keyword is None]
        rest = [a for a in call.args if a.keyword is not None]
        size_kw = [a for a in rest if a.keyword is not None and a.keyword.value == "size"]
        if size_kw:
            if positional:
                raise Unbindable("size given twice")
            return size_kw[0].value, [a for a in rest if a.keyword is not None and a.keyword.value != "size"]
        if not positional:
            raise Unbindable("no size given")
        if len(positional) == 1 and not positional[0].star:
            return positional[0].value, rest
        if len(positional) == 1 and positional[0].star == "*":
            return cst.Call(func=cst.Name("tuple"), args=[arg(positional[0].value)]), rest
        if any(a.star for a in positional):
            raise Unbindable("starred sizes mixed with other sizes cannot be matched")
        elements = [cst.Element(value=a.value) for a in positional]
        return cst.Tuple(elements=elements), rest

    def _sized(self, original: cst.Call, updated: cst.Call, name: str) -> cst.Call:
        shape, rest = self._shape_from(updated)
        b = self._bind(updated.with_changes(args=rest), [])
        if name in _SIZE_FUNCS:
            call = self.ctx.call(_SIZE_FUNCS[name], arg(shape))
        else:
            call = self.ctx.call(_RANDOM_FUNCS[name], arg(shape, "shape"))
        return self._with_dtype(call, b, None)

    def _randint(self, updated: cst.Call) -> cst.Call:
        """``torch.randint([low=0,] high, size)`` -> ``nd.random.randint(low, high, shape=size, dtype="int64")``."""
        positional = [a for a in updated.args if a.keyword is None]
        if any(a.star for a in updated.args):
            raise Unbindable("`*` arguments cannot be matched statically")
        keywords = {a.keyword.value for a in updated.args if a.keyword is not None}
        params = ["low", "high", "size"] if len(positional) >= 3 or "low" in keywords else ["high", "size"]
        b = self._bind(updated, params)
        if "high" not in b or "size" not in b:
            raise Unbindable("needs `high` and `size`")
        call = self.ctx.call(
            "mxnet.nd.random.randint", arg(b.get("low") or cst.Integer("0")), arg(b["high"]), arg(b["size"], "shape")
        )
        return self._with_dtype(call, b, "int64")  # torch's default dtype for randint

    def _full(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        b = self._bind(updated, ["size", "fill_value"])
        kind = _literal_kind(b["fill_value"])
        if kind is None and "dtype" not in b:
            self.report(
                original,
                "torch takes the dtype of torch.full from the fill value at run time; nd.full gives float32",
                severity=Severity.WARNING,
            )
        call = self.ctx.call("mxnet.nd.full", arg(b["size"]), arg(b["fill_value"]))
        return self._with_dtype(call, b, _TORCH_DEFAULT.get(kind) if kind else None)

    def _arange(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        positional = [a for a in updated.args if a.keyword is None]
        names = ["start", "end", "step"] if len(positional) >= 2 else ["end"]
        b = self._bind(updated, names + (["start", "step"] if len(positional) < 2 else []))
        values = [b[k] for k in ("start", "end", "step") if k in b]
        kinds = {_literal_kind(v) for v in values}
        default = None
        if None in kinds:
            if "dtype" not in b:
                self.report(
                    original,
                    "torch.arange is int64 when all its arguments are integers, decided at run time; nd.arange gives float32",
                    severity=Severity.WARNING,
                )
        elif kinds == {"int"}:
            default = "int64"
        args = []
        if "start" in b:
            args.append(arg(b["start"]))
            args.append(arg(b["end"]))
        else:
            args.append(arg(b["end"]))
        if "step" in b:
            args.append(arg(b["step"], "step"))
        return self._with_dtype(self.ctx.call("mxnet.nd.arange", *args), b, default)


def _short(node: cst.CSTNode) -> str:
    text = " ".join(code_of(node).split())
    return text if len(text) <= 40 else text[:37] + "..."
