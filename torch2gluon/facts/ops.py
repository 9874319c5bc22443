"""The tensor API as data: one ``Op`` per torch tensor function or method.

An entry says how torch spells the call (its parameters after the tensor,
with torch's defaults), which forms exist (``torch.name(x, ...)``,
``x.name(...)``, the in-place ``x.name_(...)``), what it gives (``Result``,
read by the analysis), and its MXNet form: a *template*, an expression over

* ``X`` -- the tensor (the receiver, or the first argument of the function),
* the parameters by their torch names,
* ``ND`` / ``NP`` / ``MX`` -- ``mxnet.nd`` / ``mxnet.np`` / ``mxnet``: MXNet's
  NumPy interface works on an NDArray through ``X.as_np_ndarray()`` and back
  with ``.as_nd_ndarray()`` (same memory, autograd included) for results that
  are not 0-d; templates use it where ``nd`` has no such op,
* ``FLOAT(e)`` -- ``e`` as torch promotes it for a floating-point op: an
  integer or boolean tensor becomes float32, a floating one stays as it is,
* ``DTYPE(e)`` -- a torch dtype written in the script, as MXNet's dtype string,
* ``NDARRAY(e)`` -- ``e`` where MXNet needs an array: a Python number
  becomes ``nd.array([e])`` (broadcasting like a 0-d tensor),
* ``LONG(e)`` -- ``e`` as torch's sums accumulate it (cumsum, cumprod,
  nansum): an integer or boolean tensor becomes int64, a floating one stays,
* ``AXIS(d)`` -- the dim ``d`` as a non-negative axis (``nd.cumsum`` fails on
  negative ones): ``d % X.ndim`` unless ``d`` is a literal that needs none,
* names of runtime helpers the entry defines in ``helpers`` (module-level
  functions the translation gets once, written over ``ND``/``MX``),

or ``None`` with ``custom`` naming the rule whose code translates it, or
``refuse`` saying why it is not translated. ``alternatives`` choose a template
by which optional parameters the call gives. Every template is checked
numerically against torch by ``tests/test_tensor_api.py`` on the entry's
``checks`` (argument lists in the shapes real code writes them), in each
form and call shape.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Dict, FrozenSet, Iterable, Optional, Tuple


class Result(enum.Enum):
    """What a tensor API call gives, in terms of its inputs."""

    SAME = "same"  # a tensor of the (first) input's dtype class
    FLOAT = "float"  # a floating-point tensor whatever the input (exp, mean, std...)
    INT = "int"  # an integer tensor (argmax, long())
    BOOL = "bool"  # a boolean tensor (comparisons)
    PROMOTE = "promote"  # torch's promotion of the tensor inputs (mm, where, cat)
    CREATE = "create"  # a new tensor whose dtype the creation rules decide
    REDUCE = "reduce"  # sum/prod: a bool input gives int64, else the input's class
    VALUES_INDICES = "values_indices"  # (values, indices) with a dim, else SAME
    PAIR = "pair"  # always (values, indices): sort, topk, kthvalue...
    MIN_MAX = "min_max"  # (min, max), both of the input's class: aminmax
    FLOAT_PAIR = "float_pair"  # two floating-point tensors: var_mean, std_mean
    UNIQUE = "unique"  # unique's values, or a tuple with the int64 inverse/counts the call asks for
    NUMBER = "number"  # a Python number (item, dim, numel)
    SIZE = "size"  # a torch.Size (size() without a dim; size(d) is a number)
    NONE = "none"  # nothing (backward)
    OTHER = "other"  # a value of another kind (numpy(), tolist())


REQUIRED = object()  # a parameter without a default


@dataclass(frozen=True)
class Param:
    name: str
    default: object = REQUIRED
    #: the default means the same in the template as leaving the keyword out
    #: (a keyword argument whose value is this parameter is dropped when the
    #: call does not give it)
    omit: bool = True
    #: the value must be a literal (True/False, a number, a string)
    literal: bool = False
    #: a keyword-only parameter (after ``*`` in torch's signature)
    keyword_only: bool = False
    #: torch's ``*sizes``-style parameter: the positional arguments from here on
    #: (or one tuple/list, or the keyword), as one tuple in the template
    varargs: bool = False


class Form(enum.Flag):
    FUNCTION = enum.auto()  # torch.name(x, ...)
    METHOD = enum.auto()  # x.name(...)
    INPLACE = enum.auto()  # x.name_(...), as a statement of its own
    ALL = FUNCTION | METHOD | INPLACE
    BOTH = FUNCTION | METHOD


class Inputs(enum.Enum):
    """What the numeric checks feed an op."""

    FLOAT = "float"  # a float32 matrix of mixed signs
    POSITIVE = "positive"  # values in (0.1, 2]
    UNIT = "unit"  # values in (-0.9, 0.9) (asin, atanh)
    INT = "int"  # an int64 matrix
    BOOL = "bool"
    ABOVE_ONE = "above_one"  # values in [1.1, 3] (acosh)
    DISTINCT = "distinct"  # no two values equal (where the order of equal values is torch's choice)


@dataclass(frozen=True)
class Op:
    name: str
    params: Tuple[Param, ...] = ()
    forms: Form = Form.ALL
    result: Result = Result.SAME
    template: Optional[str] = None
    #: (parameters the call must give, template) tried in order before ``template``
    alternatives: Tuple[Tuple[FrozenSet[str], str], ...] = ()
    #: the rule whose own code translates this name in ``custom_forms`` (the
    #: closed world leaves those to it)
    custom: Optional[str] = None
    custom_forms: Form = Form.ALL
    #: why it is not translated (shown in the diagnostic and the coverage page)
    refuse: Optional[str] = None
    #: translated, with a WARNING saying where the result may differ from torch's
    warn: Optional[str] = None
    #: runtime helpers the templates call: (name, module-level definition over ND/MX)
    helpers: Tuple[Tuple[str, str], ...] = ()
    #: parameters that are refused when given (e.g. ``out``), with the reason
    refused_params: Tuple[Tuple[str, str], ...] = (("out", "writes into a given tensor"),)
    #: literal argument values that are refused (``"sorted=False"``, as in ``alternatives``; ``"sizes~0"``:
    #: a tuple/list written out holding 0), with the reason
    refused_values: Tuple[Tuple[str, str], ...] = ()
    #: names of the same op (torch.absolute for torch.abs)
    aliases: Tuple[str, ...] = ()
    #: argument lists the numeric checks call it with, e.g. ("", "1", "dim=1, keepdim=True")
    checks: Tuple[str, ...] = ("",)
    inputs: Inputs = Inputs.FLOAT
    #: extra tensors the checks pass as ``other``/``index``... (name -> torch expression)
    operands: Tuple[Tuple[str, str], ...] = ()
    #: which dtypes the checks cover
    dtypes: Tuple[str, ...] = ("float32",)
    note: str = ""

    @property
    def names(self) -> Tuple[str, ...]:
        return (self.name, *self.aliases)

    def param(self, name: str) -> Optional[Param]:
        for p in self.params:
            if p.name == name:
                return p
        return None


def P(name: str, default: object = REQUIRED, **flags: bool) -> Param:
    return Param(name, default, **flags)


# -- the registry -----------------------------------------------------------------


@dataclass
class Registry:
    methods: Dict[str, Op] = field(default_factory=dict)
    functions: Dict[str, Op] = field(default_factory=dict)  # qualified: "torch.abs"
    inplace: Dict[str, Op] = field(default_factory=dict)  # "abs_" -> abs

    def add(self, ops: Iterable[Op]) -> None:
        for op in ops:
            for n in op.names:
                if op.forms & Form.METHOD:
                    self._put(self.methods, n, op)
                if op.forms & Form.FUNCTION:
                    self._put(self.functions, "torch." + n, op)
                if op.forms & Form.INPLACE:
                    self._put(self.inplace, n + "_", op)

    @staticmethod
    def _put(table: Dict[str, Op], key: str, op: Op) -> None:
        if key in table and table[key] is not op:
            raise ValueError(f"tensor op {key} is defined twice")
        table[key] = op
