"""Tensor creation: ``torch.tensor``, ``zeros``/``ones``/``empty``/``full``, the random
ones, ``arange``/``linspace``/``logspace``/``eye``, the ``*_like`` functions and the
legacy ``torch.Tensor``/``FloatTensor``/``LongTensor``... constructors."""

from __future__ import annotations

import math
from typing import Dict, List, Optional, Tuple, cast

import libcst as cst

from ..analysis.kinds import Kind
from ..base.diagnostics import Severity
from ..base.syntax import arg
from ..facts.catalog import literal_dtype
from ..facts.dtypes import DTYPES
from ..facts.ops_create import LEGACY_CONSTRUCTORS, REFUSED_DTYPES
from ..facts.ops_create_helpers import (
    ARANGE_HELPER,
    FULL_HELPER,
    FULL_LIKE_HELPER,
    GRAD_HELPER,
    LEGACY_HELPER,
    NORMAL_HELPER,
    RANDINT_LIKE_HELPER,
    SAME_HELPER,
    TENSOR_HELPER,
)
from ..rewrite.build import meth
from ..rewrite.devices import device_of
from ._base import Example, Rule, Unbindable, bind, code_of, literal, paren


def _literal_kind(node: cst.BaseExpression) -> Optional[str]:
    """'int', 'float', 'bool' for a literal number/bool or nested list/tuple of them."""
    found = literal_dtype(node)
    return found.value if found is not None else None


# torch.empty's values are whatever memory holds: zeros are one such
_SIZE_FUNCS = {"torch.ones": "mxnet.nd.ones", "torch.zeros": "mxnet.nd.zeros", "torch.empty": "mxnet.nd.zeros"}
_RANDOM_FUNCS = {"torch.rand": "mxnet.nd.random.uniform", "torch.randn": "mxnet.nd.random.normal"}
_LIKE_FUNCS = {
    "torch.ones_like": "mxnet.nd.ones_like",
    "torch.zeros_like": "mxnet.nd.zeros_like",
    "torch.empty_like": "mxnet.nd.zeros_like",
    "torch.rand_like": "mxnet.nd.random.uniform_like",
    "torch.randn_like": "mxnet.nd.random.normal_like",
}
_RANDOM_LIKE = ("torch.rand_like", "torch.randn_like")
_LEGACY = {"torch." + k: v for k, v in LEGACY_CONSTRUCTORS.items()}
_NAMES = frozenset({
    *_SIZE_FUNCS, *_RANDOM_FUNCS, *_LIKE_FUNCS, *_LEGACY,
    *("torch." + n for n in ("full", "full_like", "randint", "randint_like", "randperm", "normal", "eye", "arange", "range",
                             "linspace", "logspace", "tensor", "as_tensor", "from_numpy", "Size")),
})
_FLOATS = ("float16", "float32", "float64")
# the tensor types an annotation may name (`x: torch.Tensor`): MXNet's NDArray
# dtype=float / int / bool: torch's float64, int64, bool
_PYTHON_DTYPES = {"float": "float64", "int": "int64", "bool": "bool"}
_MEMORY_FORMATS = ("torch.preserve_format", "torch.contiguous_format")
# keywords that place the tensor (checked by _placement, never passed on)
_PLACEMENT = ("device", "requires_grad", "layout", "pin_memory", "memory_format", "out", "generator", "non_blocking")
_REFUSED_KEYWORDS = {
    "out": "writes into a given tensor",
    "generator": "MXNet's random generator is global (mx.random.seed)",
}

_TORCH_DEFAULT = {"int": "int64", "float": None, "bool": "bool"}


class TensorCreation(Rule):
    """Tensor creation functions become ``mxnet.nd`` functions, with torch's dtypes.

    ## What it does
    Rewrites ``torch.tensor``/``as_tensor``/``from_numpy``, ``ones``/``zeros``/
    ``empty``/``full`` (sizes as varargs, a tuple, a list, a ``torch.Size`` or
    ``size=``), ``eye``/``arange``/``range``/``linspace``/``logspace``, the
    random ``rand``/``randn``/``randint``/``randperm``/``normal`` (MXNet's
    generator: same distribution, other numbers), the ``*_like`` functions and
    the legacy constructors ``torch.Tensor``/``FloatTensor``/``DoubleTensor``/
    ``HalfTensor``/``LongTensor``/``IntTensor``/``CharTensor``/``ByteTensor``/
    ``BoolTensor`` (sizes, or data). ``device=`` becomes ``ctx=`` (or
    ``as_in_context``), ``requires_grad=True`` an ``attach_grad()`` (the
    ``_t2g_grad`` helper), ``layout=torch.strided`` and the memory formats
    that change nothing are dropped. ``torch.empty``'s memory is zeros.

    ## Why
    ``nd`` takes a shape as one tuple (``nd.ones((5, 3))``), and its dtype
    defaults differ: ``torch.tensor([1, 2])``, ``torch.arange(5)`` and
    ``torch.full((2,), 7)`` are int64 in torch but float32 in MXNet unless the
    dtype is written out, so the rule writes it out; where torch decides it
    from values known only at run time (``torch.tensor(values)``,
    ``torch.arange(n)``, ``torch.full(s, v)``) a small helper does what torch
    does. ``nd.random.normal(2, 3)`` means loc=2, scale=3, so shapes go to
    ``shape=``. A number given to ``torch.tensor`` is MXNet's (1,)-shaped
    stand-in for torch's 0-d tensor.

    ## Flags
    Dtypes MXNet 1.9 lacks (int16, bfloat16, complex), ``out=``,
    ``generator=``, sizes of 0 (MXNet's nd cannot make empty arrays), other
    layouts and memory formats, devices that are not known device
    expressions, a tensor given to a legacy constructor (torch shares its
    storage). ``torch.from_numpy`` shares memory with the array, ``nd.array``
    copies it: a warning.

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
            "import torch\nw = torch.zeros(3, device='cpu', requires_grad=True)\nl = torch.LongTensor(2, 3)\n",
            'import mxnet as mx\nfrom mxnet import nd\n\n\ndef _t2g_grad(x, requires_grad=True):\n'
            '    """requires_grad=True: the new array records its gradient (attach_grad), and is returned."""\n'
            '    if requires_grad:\n        x.attach_grad()\n    return x\n\n\nw = _t2g_grad(nd.zeros(3, ctx=mx.cpu()))\n'
            'l = nd.zeros((2, 3), dtype="int64")\n',
            id="device, requires_grad, a legacy constructor",
        ),
        Example(
            "import torch\nx = torch.ones(3, dtype=torch.int16)\n",
            "import torch\n# torch2gluon: T2G101: `torch.ones` with dtype `torch.int16` is not translated (MXNet 1.9 has no int16 arrays); left as is\n"
            "# torch2gluon: T2G001: `torch.int16` has no translation; left as is\n"
            "x = torch.ones(3, dtype=torch.int16)\n",
            diagnostics=("T2G101", "T2G001"),
            id="a dtype MXNet lacks is flagged",
        ),
    )

    # -- dtypes and the keywords every creation function takes ---------------------
    def _dtype(self, node: Optional[cst.BaseExpression]) -> Optional[cst.BaseExpression]:
        if node is None or literal(node) is None:
            return None
        name = self.ctx.torch_name(node)
        if name in DTYPES:
            return cst.SimpleString(f'"{DTYPES[name]}"')
        if name in REFUSED_DTYPES:
            raise Unbindable(f"with dtype `{name}` is not translated ({REFUSED_DTYPES[name]})")
        if name is None and isinstance(node, cst.Name) and node.value in _PYTHON_DTYPES and self.ctx.value(node).kind is not Kind.TENSOR:
            return cst.SimpleString(f'"{_PYTHON_DTYPES[node.value]}"')
        raise Unbindable(f"with dtype `{code_of(node)}` (not a torch dtype written out) is not translated")

    def _bind(self, call: cst.Call, params: List[str], original: Optional[cst.Call] = None) -> Dict[str, cst.BaseExpression]:
        """The arguments by name; the placement keywords are checked (``_placement``) and left out."""
        b = bind(call, params + ["dtype", *_PLACEMENT])
        b_o = bind(original, params + ["dtype", *_PLACEMENT]) if original is not None else b
        self._place = self._placement(b_o)
        for k in _PLACEMENT:
            b.pop(k, None)
        if "dtype" in b and literal(b["dtype"]) is None:
            del b["dtype"]  # dtype=None: torch's default
        return b

    def _placement(self, b: Dict[str, cst.BaseExpression]) -> Tuple[Optional[cst.BaseExpression], object]:
        """(the MXNet context of ``device=``, whether ``requires_grad=True``) from the original arguments."""
        for name, why in _REFUSED_KEYWORDS.items():
            if name in b:
                raise Unbindable(f"with `{name}=` is not translated ({why})")
        if "layout" in b and literal(b["layout"]) is not None and self.ctx.torch_name(b["layout"]) != "torch.strided":
            raise Unbindable("with a layout other than torch.strided is not translated (MXNet's nd arrays are dense)")
        if "memory_format" in b and self.ctx.torch_name(b["memory_format"]) not in _MEMORY_FORMATS:
            raise Unbindable("with a memory format other than preserve/contiguous is not translated")
        for flag in ("pin_memory", "non_blocking"):
            if flag in b and literal(b[flag]) is not False:
                raise Unbindable(f"with `{flag}=` other than False is not translated")
        grad: object = False
        if "requires_grad" in b:
            g = literal(b["requires_grad"])
            # a literal True/False, or an expression the helper reads at run time
            grad = g if isinstance(g, bool) else b["requires_grad"]
        device = None
        if "device" in b and literal(b["device"]) is not None:
            device = device_of(self.ctx, b["device"])
            if device is None:
                raise Unbindable(f"with the device `{code_of(b['device'])}` is not translated (not a device expression torch2gluon knows)")
        return device, grad

    def _finish(self, call: cst.BaseExpression, b: Dict[str, cst.BaseExpression], default: Optional[str] = None,
                ctx_keyword: bool = True) -> cst.BaseExpression:
        """``call`` with torch's dtype (given, or ``default``), the device and ``requires_grad``."""
        dtype = self._dtype(b.get("dtype")) if "dtype" in b else None
        if dtype is None and default is not None:
            dtype = cst.SimpleString(f'"{default}"')
        device, grad = self._place
        if isinstance(call, cst.Call) and ctx_keyword:
            extra = ([arg(dtype, "dtype")] if dtype is not None else []) + ([arg(device, "ctx")] if device is not None else [])
            call = call.with_changes(args=[*call.args, *extra])
        else:
            if dtype is not None:
                call = meth(call, "astype", arg(dtype))
            if device is not None:
                call = meth(call, "as_in_context", arg(device))
        if grad is True:
            self.ctx.helper(*GRAD_HELPER)
            call = cst.Call(func=cst.Name("_t2g_grad"), args=[arg(call)])
        elif isinstance(grad, cst.BaseExpression):
            self.ctx.helper(*GRAD_HELPER)
            call = cst.Call(func=cst.Name("_t2g_grad"), args=[arg(call), arg(grad)])
        return call

    # -- the calls ---------------------------------------------------------------------
    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        name = self.ctx.call_name(original)
        if name is None or name not in _NAMES:
            return None
        self._place = (None, False)
        try:
            return self._create(name, original, updated)
        except Unbindable as e:
            self.keep(original, name, str(e))
            return None

    def _create(self, name: str, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        if name in _SIZE_FUNCS or name in _RANDOM_FUNCS:
            return self._sized(original, updated, name)
        if name == "torch.Size":
            # a torch.Size is a tuple of ints; MXNet's shapes are plain tuples
            b = bind(updated, ["sizes"])
            return cst.Call(func=cst.Name("tuple"), args=[arg(b["sizes"])] if "sizes" in b else [])
        if name in _LEGACY:
            return self._legacy(original, updated, name)
        if name == "torch.full":
            return self._full(original, updated)
        if name == "torch.randint":
            return self._randint(original, updated)
        if name == "torch.randperm":
            b = self._bind(updated, ["n"], original)
            _no_zero(b["n"], "n")
            arange = self._finish(self.ctx.call("mxnet.nd.arange", arg(b["n"])), b, "int64")
            return self.ctx.call("mxnet.nd.random.shuffle", arg(arange))
        if name == "torch.normal":
            return self._normal(original, updated)
        if name == "torch.eye":
            b = self._bind(updated, ["n", "m"], original)
            _no_zero(b["n"], "n")
            args = [arg(b["n"])] + ([arg(b["m"])] if "m" in b and literal(b["m"]) is not None else [])
            bool_eye = isinstance(self._dtype(b.get("dtype")), cst.SimpleString) and literal(self._dtype(b.get("dtype"))) == "bool"
            if bool_eye:  # nd.eye has no bool dtype: the identity in int8, cast
                b.pop("dtype")
                call = self.ctx.call("mxnet.nd.eye", *args, arg(cst.SimpleString('"int8"'), "dtype"))
                return meth(self._finish(call, b), "astype", arg(cst.SimpleString('"bool"')))
            return self._finish(self.ctx.call("mxnet.nd.eye", *args), b)
        if name in ("torch.arange", "torch.range"):
            return self._arange(original, updated, name)
        if name in ("torch.linspace", "torch.logspace"):
            return self._linspace(original, updated, name)
        if name in ("torch.tensor", "torch.as_tensor"):
            return self._tensor(original, updated, name)
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
            b = self._bind(updated, ["input"], original)
            x = b["input"]
            dtype = self._dtype(b.get("dtype"))
            if dtype is None or name not in _RANDOM_LIKE:
                # zeros/ones keep the input's dtype; a given dtype is a cast of the result
                return self._finish(self.ctx.call(_LIKE_FUNCS[name], arg(x)), b, ctx_keyword=False)
            # a random draw in another dtype: draw like the input cast to it
            b.pop("dtype")
            return self._finish(self.ctx.call(_LIKE_FUNCS[name], arg(meth(x, "astype", arg(dtype)))), b, ctx_keyword=False)
        if name == "torch.full_like":
            b = self._bind(updated, ["input", "fill_value"], original)
            # torch casts the fill value to the input's dtype (2.7 -> 2 for an int64 input), or dtype='s, as nd.full does
            dtype = self._dtype(b.pop("dtype", None))
            return self._finish(self._full_like(b["input"], b["fill_value"], dtype), b, ctx_keyword=False)
        if name == "torch.randint_like":
            positional = [a for a in updated.args if a.keyword is None]
            keywords = {a.keyword.value for a in updated.args if a.keyword is not None}
            low_given = len(positional) >= 3 or "low" in keywords or "high" in keywords and len(positional) == 2
            params = ["input", "low", "high"] if low_given else ["input", "high"]
            b = self._bind(updated, params, original)
            x = b["input"]
            if not isinstance(x, cst.Name):
                self.ctx.helper(*RANDINT_LIKE_HELPER)
                given = self._dtype(b.pop("dtype", None))
                args = [arg(x), arg(b.get("low") or cst.Integer("0")), arg(b["high"])] + ([arg(given)] if given else [])
                return self._finish(cst.Call(func=cst.Name("_t2g_randint_like"), args=args), b, ctx_keyword=False)
            call = self.ctx.call(
                "mxnet.nd.random.randint", arg(b.get("low") or cst.Integer("0")), arg(b["high"]),
                arg(cst.Attribute(value=x, attr=cst.Name("shape")), "shape"), arg(cst.SimpleString('"int64"'), "dtype"),
            )
            cast_to = self._dtype(b.pop("dtype", None)) or cst.Attribute(value=x, attr=cst.Name("dtype"))
            return self._finish(meth(call, "astype", arg(cast_to)), b, ctx_keyword=False)
        return None

    def _full_like(self, x: cst.BaseExpression, value: cst.BaseExpression,
                   dtype: Optional[cst.BaseExpression]) -> cst.BaseExpression:
        """torch.full_like(x, v): v in x's dtype and shape (``nd.full`` needs the shape; the input is read once)."""
        if not isinstance(x, cst.Name):
            self.ctx.helper(*FULL_LIKE_HELPER)
            return cst.Call(func=cst.Name("_t2g_full_like"), args=[arg(x), arg(value)] + ([arg(dtype)] if dtype else []))
        return self.ctx.call(
            "mxnet.nd.full", arg(cst.Attribute(value=x, attr=cst.Name("shape"))), arg(value),
            arg(dtype or cst.Attribute(value=x, attr=cst.Name("dtype")), "dtype"),
        )

    def _tensor(self, original: cst.Call, updated: cst.Call, name: str) -> cst.BaseExpression:
        b = self._bind(updated, ["data"], original)
        data_o = self._bind(original, ["data"])["data"]
        self._place = self._placement(bind(original, ["data", "dtype", *_PLACEMENT]))
        kind = _literal_kind(data_o)
        data = b["data"]
        if kind is None:
            # data not written out: torch infers its dtype at run time, and so does the helper
            if name == "torch.as_tensor":
                self.report(original, "torch.as_tensor shares memory with its input where it can; the NDArray is a copy",
                            severity=Severity.WARNING)
            self.ctx.helper(*TENSOR_HELPER)
            dtype = self._dtype(b.pop("dtype", None))
            call = cst.Call(func=cst.Name("_t2g_tensor"), args=[arg(data)] + ([arg(dtype)] if dtype is not None else []))
            return self._finish(call, b, ctx_keyword=False)
        if isinstance(literal(data_o), (int, float)):
            # a number: torch's 0-d tensor; MXNet's stand-in has shape (1,)
            # (nd.array(3) has shape () in MXNet 1.9, which its operators refuse)
            data = cst.List(elements=[cst.Element(value=data)])
        return self._finish(self.ctx.call("mxnet.nd.array", arg(data)), b, _TORCH_DEFAULT.get(kind))

    def _legacy(self, original: cst.Call, updated: cst.Call, name: str) -> cst.BaseExpression:
        """``torch.Tensor(2, 3)`` (sizes), ``torch.LongTensor([1, 2])`` (data), ``torch.Tensor()`` (empty)."""
        dtype = _LEGACY[name]
        positional = [a for a in updated.args if a.keyword is None]
        keywords = [a for a in original.args if a.keyword is not None]
        self._place = self._placement({cast(cst.Name, a.keyword).value: a.value for a in keywords})
        if any(a.keyword is not None and a.keyword.value not in _PLACEMENT for a in keywords):
            raise Unbindable("with a keyword other than device/requires_grad is not translated")
        b: Dict[str, cst.BaseExpression] = {}
        default = cst.SimpleString(f'"{dtype}"')
        pos_o = [a for a in original.args if a.keyword is None]
        if not positional:
            return self._finish(self.ctx.call("mxnet.nd.array", arg(cst.List(elements=[])), arg(default, "dtype")), b)
        if any(a.star for a in positional):
            self.ctx.helper(*TENSOR_HELPER)
            self.ctx.helper(*LEGACY_HELPER)
            return self._finish(cst.Call(func=cst.Name("_t2g_legacy"), args=[arg(default), *positional]), b, ctx_keyword=False)
        kinds = [self.ctx.value(a.value).kind for a in pos_o]
        lits = [literal(a.value) for a in pos_o]
        ints = all(isinstance(v, int) and not isinstance(v, bool) or k is Kind.NUMBER for v, k in zip(lits, kinds))
        if ints:
            for a in pos_o:
                _no_zero(a.value, "size")
            shape = cst.Tuple(elements=[cst.Element(value=a.value) for a in positional])
            return self._finish(self.ctx.call("mxnet.nd.zeros", arg(shape), arg(default, "dtype")), b)
        if len(positional) != 1:
            raise Unbindable("with several arguments that are not all sizes is not translated")
        one, one_o = positional[0].value, pos_o[0].value
        if kinds[0] is Kind.SIZE:
            return self._finish(self.ctx.call("mxnet.nd.zeros", arg(one), arg(default, "dtype")), b)
        if kinds[0] is Kind.TENSOR:
            # torch.Tensor(t) is t itself (its memory, its dtype); FloatTensor(t)... too, for a t of its dtype
            if name == "torch.Tensor":
                return self._finish(one, b, ctx_keyword=False)
            self.ctx.helper(*SAME_HELPER)
            return self._finish(cst.Call(func=cst.Name("_t2g_same"), args=[arg(one), arg(default)]), b, ctx_keyword=False)
        if _literal_kind(one_o) is not None and isinstance(one_o, (cst.List, cst.Tuple)):
            return self._finish(self.ctx.call("mxnet.nd.array", arg(one), arg(default, "dtype")), b)
        if isinstance(one_o, (cst.List, cst.Tuple)) or kinds[0] is Kind.TUPLE:
            self.ctx.helper(*TENSOR_HELPER)
            return self._finish(cst.Call(func=cst.Name("_t2g_tensor"), args=[arg(one), arg(default)]), b, ctx_keyword=False)
        # sizes or data? decided at run time (integers: sizes; a list or numpy array: data)
        self.ctx.helper(*TENSOR_HELPER)
        self.ctx.helper(*LEGACY_HELPER)
        self.report(original, f"`{name}({_short(one_o)})`: sizes or data is decided at run time (a tuple is refused then)",
                    severity=Severity.WARNING)
        return self._finish(cst.Call(func=cst.Name("_t2g_legacy"), args=[arg(default), arg(one)]), b, ctx_keyword=False)

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
            raise Unbindable("with no size is not translated")
        if len(positional) == 1 and not positional[0].star:
            return positional[0].value, rest
        if len(positional) == 1 and positional[0].star == "*":
            return cst.Call(func=cst.Name("tuple"), args=[arg(positional[0].value)]), rest
        if any(a.star for a in positional):
            raise Unbindable("starred sizes mixed with other sizes cannot be matched")
        elements = [cst.Element(value=a.value) for a in positional]
        return cst.Tuple(elements=elements), rest

    def _sized(self, original: cst.Call, updated: cst.Call, name: str) -> cst.BaseExpression:
        shape, rest = self._shape_from(updated)
        shape_o, rest_o = self._shape_from(original)
        _no_zero(shape_o, "size")
        b = self._bind(updated.with_changes(args=rest), [], original.with_changes(args=rest_o))
        if name in _SIZE_FUNCS:
            call = self.ctx.call(_SIZE_FUNCS[name], arg(shape))
        else:
            given = self._dtype(b.get("dtype"))
            if isinstance(given, cst.SimpleString) and given.value.strip('"') not in _FLOATS:
                raise Unbindable("with an integer or boolean dtype is an error in torch")
            call = self.ctx.call(_RANDOM_FUNCS[name], arg(shape, "shape"))
        return self._finish(call, b)

    def _randint(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        """``torch.randint([low=0,] high, size)`` -> ``nd.random.randint(low, high, shape=size, dtype="int64")``."""
        positional = [a for a in updated.args if a.keyword is None]
        if any(a.star for a in updated.args):
            raise Unbindable("`*` arguments cannot be matched statically")
        keywords = {a.keyword.value for a in updated.args if a.keyword is not None}
        low_given = (len(positional) >= 3 or "low" in keywords or "high" in keywords and len(positional) >= 1
                     or "size" in keywords and len(positional) == 2)
        params = ["low", "high", "size"] if low_given else ["high", "size"]
        b = self._bind(updated, params, original)
        if "high" not in b or "size" not in b:
            raise Unbindable("needs `high` and `size`")
        _no_zero(b["size"], "size")
        dtype = self._dtype(b.pop("dtype", None))
        call: cst.BaseExpression = self.ctx.call(
            "mxnet.nd.random.randint", arg(b.get("low") or cst.Integer("0")), arg(b["high"]), arg(b["size"], "shape"),
            arg(cst.SimpleString('"int64"'), "dtype"),
        )
        if isinstance(dtype, cst.SimpleString) and dtype.value != '"int64"':
            if dtype.value == '"int32"' and isinstance(call, cst.Call):
                call = call.with_changes(args=[*call.args[:-1], arg(dtype, "dtype")])
            else:
                call = meth(call, "astype", arg(dtype))  # nd.random.randint draws int32/int64 only
        return self._finish(call, b)

    def _normal(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        b = self._bind(updated, ["mean", "std", "size"], original)
        b_o = bind(original, ["mean", "std", "size", "dtype", *_PLACEMENT])
        mean, std = b.get("mean", cst.Float("0.0")), b.get("std", cst.Float("1.0"))
        numbers = all(k not in b_o or isinstance(literal(b_o[k]), (int, float)) or self.ctx.value(b_o[k]).kind is Kind.NUMBER
                      for k in ("mean", "std"))
        if "size" in b:
            if not numbers:
                raise Unbindable("with `size` and a tensor mean or std is not translated")
            _no_zero(b["size"], "size")
            return self._finish(self.ctx.call("mxnet.nd.random.normal", arg(mean), arg(std), arg(b["size"], "shape")), b)
        if numbers or "dtype" in b:
            raise Unbindable("of numbers needs `size`")
        self.ctx.helper(*NORMAL_HELPER)
        return self._finish(cst.Call(func=cst.Name("_t2g_normal"), args=[arg(mean), arg(std)]), b, ctx_keyword=False)

    def _full(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        b = self._bind(updated, ["size", "fill_value"], original)
        b_o = bind(original, ["size", "fill_value", "dtype", *_PLACEMENT])
        _no_zero(b_o["size"], "size")
        size = b["size"]
        if isinstance(literal(b_o["size"]), int):
            size = cst.Tuple(elements=[cst.Element(value=size)])
        kind = _literal_kind(b_o["fill_value"])
        if kind is None and "dtype" not in b:
            # torch takes the dtype from the fill value at run time (int64 for an integer)
            self.ctx.helper(*FULL_HELPER)
            return self._finish(cst.Call(func=cst.Name("_t2g_full"), args=[arg(size), arg(b["fill_value"])]), b)
        call = self.ctx.call("mxnet.nd.full", arg(size), arg(b["fill_value"]))
        return self._finish(call, b, _TORCH_DEFAULT.get(kind) if kind else None)

    def _arange(self, original: cst.Call, updated: cst.Call, name: str) -> cst.BaseExpression:
        positional = [a for a in updated.args if a.keyword is None]
        names = ["start", "end", "step"] if len(positional) >= 2 else ["end", "start", "step"]
        b = self._bind(updated, names, original)
        b_o = bind(original, names + ["dtype", *_PLACEMENT])
        values: Dict[str, object] = {k: literal(b_o[k]) for k in ("start", "end", "step") if k in b_o}
        if name == "torch.range":
            # deprecated, end included, float32 by default whatever the arguments
            if "start" not in b or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values.values()):
                raise Unbindable("is translated only with start and end (and step) written out as numbers")
            start, end, step = (cast(float, values["start"]), cast(float, values["end"]), cast(float, values.get("step", 1)))
            if step == 0 or (end - start) / step < 0:
                raise Unbindable("with an empty or endless range is not translated")
            count = math.floor((end - start) / step) + 1  # as torch counts (a true division, then floor)
            counted = self._finish(self.ctx.call("mxnet.nd.arange", arg(cst.Integer(str(count)))), b, "float32")
            return _linear(counted, b.get("step"), b["start"])
        args = [arg(b["start"]), arg(b["end"])] if "start" in b else [arg(b["end"])]
        if "step" in b:
            args.append(arg(b["step"], "step"))
        if "dtype" not in b and not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values.values()):
            # the result's dtype (int64 for integer bounds) is decided at run time
            self.ctx.helper(*ARANGE_HELPER)
            return self._finish(cst.Call(func=cst.Name("_t2g_arange"), args=args), b)
        if all(isinstance(v, (int, float)) for v in values.values()):
            _arange_length(values)
        ints = all(isinstance(v, int) for v in values.values())
        return self._finish(self.ctx.call("mxnet.nd.arange", *args), b, "int64" if ints else None)

    def _linspace(self, original: cst.Call, updated: cst.Call, name: str) -> cst.BaseExpression:
        params = ["start", "end", "steps"] + (["base"] if name == "torch.logspace" else [])
        b = self._bind(updated, params, original)
        if "steps" not in b:
            raise Unbindable("needs `steps`")
        steps = literal(b["steps"])
        if isinstance(steps, int) and steps <= 0:
            raise Unbindable("with no steps gives an empty tensor, which MXNet's nd cannot make")
        target = self._dtype(b["dtype"]) if "dtype" in b else cst.SimpleString('"float32"')
        if name == "torch.linspace":
            call = self.ctx.call("mxnet.nd.linspace", arg(b["start"]), arg(b["end"]), arg(b["steps"]))
            return self._finish(call, b, "float32")
        # base ** linspace, computed in float64 and cast (torch truncates to an integer dtype)
        exponents = self.ctx.call("mxnet.nd.linspace", arg(b["start"]), arg(b["end"]), arg(b["steps"]),
                                  arg(cst.SimpleString('"float64"'), "dtype"))
        power = self.ctx.call("mxnet.nd.power", arg(b.get("base", cst.Float("10.0"))), arg(exponents))
        b.pop("dtype", None)
        call = meth(power, "astype", arg(cast(cst.BaseExpression, target)))
        return self._finish(call, b, ctx_keyword=False)


def _linear(call: cst.BaseExpression, step: Optional[cst.BaseExpression], start: cst.BaseExpression) -> cst.BaseExpression:
    """``call * step + start`` (``step`` left out when not given)."""
    out: cst.BaseExpression = call
    if step is not None:
        out = cst.BinaryOperation(left=out, operator=cst.Multiply(), right=paren(step))
    return cst.BinaryOperation(left=out, operator=cst.Add(), right=paren(start))


def _arange_length(values: Dict[str, object]) -> None:
    start = values.get("start", 0)
    end, step = values["end"], values.get("step", 1)
    assert isinstance(start, (int, float)) and isinstance(end, (int, float)) and isinstance(step, (int, float))
    if step == 0:
        raise Unbindable("with step 0 is an error in torch")
    if math.ceil((end - start) / step) <= 0:
        raise Unbindable("with an empty range gives an empty tensor, which MXNet's nd cannot make")


def _no_zero(node: cst.BaseExpression, what: str) -> None:
    """A literal size of 0 (``torch.zeros(0, 3)``): MXNet 1.9's nd cannot make arrays with an empty axis."""
    values = [literal(e.value) for e in node.elements] if isinstance(node, (cst.Tuple, cst.List)) else [literal(node)]
    if any(isinstance(v, int) and not isinstance(v, bool) and v == 0 for v in values):
        raise Unbindable(f"with a {what} of 0 gives an empty tensor, which MXNet 1.9's nd cannot make")


def _short(node: cst.CSTNode) -> str:
    text = " ".join(code_of(node).split())
    return text if len(text) <= 40 else text[:37] + "..."
