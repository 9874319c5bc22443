"""The facts the analysis needs: what each torch API call or attribute gives.

``CATALOG`` implements ``analysis.values.Catalog`` from the tables of this
layer; the engine hands it to the analysis (the analysis never imports the
facts).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Optional

import libcst as cst

from ..analysis.kinds import (
    BOOL,
    DEVICE,
    DTYPE,
    NONE,
    NUMBER,
    SIZE,
    STR,
    UNKNOWN,
    DType,
    Kind,
    Value,
    sequence,
    tensor,
)
from ..analysis.expressions import ArgValue, broadcast_ndim
from ..base.syntax import NotLiteral, literal
from . import distributed, dtypes, nn, tensor as tensor_facts
from .ops import Result

_OPTIM = "torch.optim."
_SCHED = "torch.optim.lr_scheduler."
LOADERS = ("torch.utils.data.DataLoader", "torch.utils.data.dataloader.DataLoader")
DATASET_FACTORIES = (
    "torch.utils.data.TensorDataset", "torch.utils.data.dataset.TensorDataset",
    "torch.utils.data.Subset", "torch.utils.data.dataset.Subset",
    "torch.utils.data.ConcatDataset", "torch.utils.data.dataset.ConcatDataset",
)
RANDOM_SPLITS = ("torch.utils.data.random_split", "torch.utils.data.dataset.random_split")
DEVICE_FACTORIES = ("torch.device", "torch.accelerator.current_accelerator", "torch.get_default_device")
AVAILABILITY = ("torch.cuda.is_available", "torch.accelerator.is_available", "torch.backends.mps.is_available")


# methods other objects have too, but in a torch script a call of them is a tensor's
# (numpy's view takes a dtype; modules' float()/double()/half() return the module,
# handled before this is asked)
_TENSOR_WHEN_CALLED = frozenset({"view", "float", "double", "half", "long", "int", "eq", "ne", "gt", "lt", "ge", "le"})


def literal_dtype(node: cst.BaseExpression) -> Optional[DType]:
    """bool/int/float for a literal number/bool or a nested list/tuple of them."""
    if isinstance(node, (cst.List, cst.Tuple)):
        kinds = {literal_dtype(e.value) for e in node.elements if not isinstance(e, cst.StarredElement)}
        if not kinds or None in kinds or len(node.elements) == 0:
            return None
        if kinds == {DType.BOOL}:
            return DType.BOOL
        if DType.BOOL in kinds:
            return None
        return DType.FLOAT if DType.FLOAT in kinds else DType.INT
    value = literal(node)
    if value is NotLiteral:
        return None
    if isinstance(value, bool):
        return DType.BOOL
    if isinstance(value, int):
        return DType.INT
    if isinstance(value, float):
        return DType.FLOAT
    return None


def _literal_rank(node: cst.BaseExpression, sizes: bool = False) -> Optional[int]:
    """The nesting depth of a literal (a number: 0, [1, 2]: 1, [[1], [2]]: 2); for
    ``sizes``, the number of sizes in a tuple/list."""
    if isinstance(node, (cst.Tuple, cst.List)):
        if sizes:
            return len(node.elements)
        if not node.elements or any(isinstance(e, cst.StarredElement) for e in node.elements):
            return None
        ranks = {_literal_rank(e.value) for e in node.elements}
        if len(ranks) != 1 or None in ranks:
            return None
        inner = ranks.pop()
        return None if inner is None else inner + 1
    if isinstance(literal(node), (int, float, bool)):
        return 0
    return None


def _keyword(call: cst.Call, name: str) -> Optional[cst.BaseExpression]:
    for a in call.args:
        if a.keyword is not None and a.keyword.value == name:
            return a.value
    return None


def _dtype_arg(call: cst.Call, names) -> Optional[DType]:
    node = _keyword(call, "dtype")
    if node is None:
        return None
    torch_name = names(node)
    return dtypes.dtype_class(dtypes.DTYPES.get(torch_name)) if torch_name else None


class _Catalog:
    """The implementation of ``analysis.values.Catalog`` (see there)."""

    def __init__(self) -> None:
        self.names: Callable[[cst.CSTNode], Optional[str]] = lambda node: None  # set per translation: resolves torch names (dtype=)

    # -- torch functions and classes -----------------------------------------
    def call(self, name: str, call: cst.Call, value_of: ArgValue) -> Optional[Value]:
        entry = tensor_facts.FUNCTIONS.get(name)
        if entry is not None:
            return self._tensor_result(entry.result, name[6:], call, value_of, first_arg=True)
        if name.startswith("torch.nn.functional."):
            if name in nn.FUNCTIONAL_LOSSES:
                reduction = _keyword(call, "reduction")
                return tensor(DType.FLOAT, loss=reduction is None or literal(reduction) != "none")
            if name == "torch.nn.functional.one_hot":
                return tensor(DType.INT)
            return tensor()
        if name in distributed.DDP_CLASSES:
            # DDP(model) trains the model it wraps: the translation gives the model itself
            wrapped = value_of(call.args[0].value) if call.args and call.args[0].keyword is None else UNKNOWN
            return wrapped if wrapped.kind is Kind.MODULE else Value(Kind.MODULE, cls=name, origin=call)
        if name in distributed.SAMPLER_CLASSES:
            return Value(Kind.SAMPLER, cls=name, origin=call)
        if name in distributed.RANK_CALLS:
            return NUMBER
        if name in distributed.BOOL_CALLS:
            return BOOL
        if name in distributed.NONE_CALLS:
            return NONE
        if name in ("torch.nn.Parameter", "torch.nn.parameter.Parameter"):
            return Value(Kind.PARAMETER, origin=call)
        if nn.is_loss_class(name):
            return Value(Kind.LOSS_FN, cls=name, origin=call)
        if nn.is_layer_class(name):
            return Value(Kind.MODULE, cls=name, origin=call, items=self._container_items(name, call, value_of))
        if name.startswith(_SCHED):
            return Value(Kind.SCHEDULER, cls=name, origin=call) if name[len(_SCHED):][:1].isupper() else None
        if name.startswith(_OPTIM) and name.count(".") == 2 and name[len(_OPTIM):][:1].isupper():
            return Value(Kind.OPTIMIZER, cls=name, origin=call)
        if name in LOADERS:
            return Value(Kind.LOADER, cls=LOADERS[0], origin=call)
        if name in DATASET_FACTORIES or (name.startswith("torchvision.datasets.") and name.rsplit(".", 1)[-1][:1].isupper()):
            return Value(Kind.DATASET, cls=name, origin=call)
        if name in RANDOM_SPLITS:
            return sequence(Value(Kind.DATASET))
        if name in DEVICE_FACTORIES:
            return DEVICE
        if name in AVAILABILITY:
            return BOOL
        if name == "torch.Size":
            return SIZE
        if name in ("torch.is_tensor", "torch.is_floating_point"):
            return BOOL
        return None

    def _container_items(self, name: str, call: cst.Call, value_of: ArgValue):
        cls = nn.nn_class(name)
        if cls == "Sequential":
            if any(a.star or a.keyword is not None for a in call.args):
                return None
            return tuple(value_of(a.value) for a in call.args)
        if cls == "ModuleList":
            if len(call.args) != 1 or call.args[0].keyword is not None:
                return None
            arg0 = call.args[0].value
            if isinstance(arg0, (cst.List, cst.Tuple)) and not any(isinstance(e, cst.StarredElement) for e in arg0.elements):
                return tuple(value_of(e.value) for e in arg0.elements)
        return None

    def attribute(self, name: str) -> Optional[Value]:
        if name in dtypes.DTYPES:
            return DTYPE
        return None

    # -- objects -------------------------------------------------------------
    def method(self, receiver: Value, method: str, call: cst.Call, value_of: ArgValue) -> Optional[Value]:
        kind = receiver.kind
        if kind in (Kind.MODULE, Kind.LOSS_FN):
            return self._module_method(receiver, method, call)
        if kind is Kind.OPTIMIZER:
            return NONE if method in ("step", "zero_grad") else None
        if kind is Kind.SCHEDULER:
            if method == "get_last_lr":
                return sequence(NUMBER)
            return NONE if method == "step" else None
        if kind is Kind.SIZE:
            return NUMBER if method in ("numel", "index", "count") else None
        if kind is Kind.SAMPLER:
            return NONE if method == "set_epoch" else None
        if kind in (Kind.DEVICE, Kind.DTYPE, Kind.IMPORTED, Kind.CLASS, Kind.FUNCTION, Kind.STR, Kind.NUMBER):
            return None
        entry = tensor_facts.METHODS.get(method)
        if entry is None:
            return None
        keywords = {a.keyword.value for a in call.args if a.keyword is not None}
        evident = (
            receiver.is_tensor()
            or method in tensor_facts.TENSOR_ONLY
            or method in _TENSOR_WHEN_CALLED
            or (keywords & tensor_facts.TORCH_KEYWORDS and method in tensor_facts.TENSOR_RESULT)
        )
        if not evident:
            return None
        source = receiver if receiver.is_tensor() else tensor()
        return self._tensor_result(entry.result, method, call, value_of, receiver=source)

    def _module_method(self, receiver: Value, method: str, call: cst.Call) -> Optional[Value]:
        if method in nn.SELF_RETURNING:
            return receiver
        if method == "parameters":
            return sequence(Value(Kind.PARAMETER)).with_kind(Kind.PARAMETERS)
        if method == "named_parameters":
            return sequence(Value(Kind.TUPLE, items=(STR, Value(Kind.PARAMETER))))
        if method in ("children", "modules"):
            return sequence(Value(Kind.MODULE))
        if method in ("named_children", "named_modules"):
            return sequence(Value(Kind.TUPLE, items=(STR, Value(Kind.MODULE))))
        if method == "forward":
            return tensor()
        if method in ("zero_grad", "load_state_dict"):
            return None
        return None

    def member(self, owner: Value, attr: str) -> Optional[Value]:
        kind = owner.kind
        if owner.is_tensor():
            if attr in ("data", "T", "mT", "H", "grad"):
                return tensor(owner.dtype)
            if attr == "shape":
                return SIZE
            if attr == "dtype":
                return DTYPE
            if attr == "device":
                return DEVICE
            if attr in ("ndim",):
                return NUMBER
            if attr in ("requires_grad", "is_cuda", "is_leaf"):
                return BOOL
            return None
        if kind is Kind.MODULE:
            cls = owner.torch_class()
            if cls is not None:
                params = nn.LAYER_PARAMETERS.get(cls, {})
                if attr in params:
                    return Value(Kind.PARAMETER)
            if attr == "training":
                return BOOL
            if attr == "module":
                return owner  # DistributedDataParallel's wrapped module (DDP(m) is given m's value)
            return None
        if kind is Kind.LOADER:
            if attr == "dataset":
                return Value(Kind.DATASET)
            if attr == "batch_size":
                return NUMBER
            return None
        if kind is Kind.TUPLE and owner.items is not None and len(owner.items) == 2:
            # torch.max(x, dim) gives a named tuple (values, indices)
            if attr == "values":
                return owner.items[0]
            if attr == "indices":
                return owner.items[1]
        if kind is Kind.OPTIMIZER and attr == "param_groups":
            return sequence(UNKNOWN)
        return None

    def call_object(self, callee: Value, call: cst.Call, value_of: ArgValue) -> Optional[Value]:
        if callee.kind is Kind.LOSS_FN:
            return tensor(DType.FLOAT, loss=True)
        if callee.kind is Kind.MODULE:
            # torch layers compute in floating point (integer inputs are an error, or indices: Embedding)
            cls = callee.torch_class()
            out = tensor(DType.FLOAT)
            if cls in nn.RECURRENT:
                state = Value(Kind.TUPLE, items=(out, out)) if cls == "LSTM" else out
                return Value(Kind.TUPLE, items=(out, state))
            return out
        return None

    def iterate(self, value: Value) -> Optional[Value]:
        if value.kind is Kind.LOADER:
            return tensor()  # a batch: a tensor or a tuple of tensors (unpacking gives tensors)
        if value.is_tensor():
            return tensor(value.dtype)
        if value.kind is Kind.PARAMETERS:
            return Value(Kind.PARAMETER)
        if value.kind is Kind.MODULE and value.items is not None:
            items = value.items
            out = items[0] if items else None
            for v in items[1:]:
                out = out if out == v else Value(Kind.MODULE)
            return out
        if value.kind is Kind.MODULE and nn.nn_class(value.cls) in ("Sequential", "ModuleList"):
            return Value(Kind.MODULE)
        if value.kind is Kind.SIZE:
            return NUMBER
        return None

    # -- tensor results ------------------------------------------------------
    def _tensor_result(
        self,
        result: Result,
        name: str,
        call: cst.Call,
        value_of: ArgValue,
        receiver: Optional[Value] = None,
        first_arg: bool = False,
    ) -> Value:
        out = self._tensor_kind(result, name, call, value_of, receiver, first_arg)
        if out.kind is Kind.TENSOR and out.ndim is None:
            ndim = self._result_ndim(result, name, call, value_of, receiver, first_arg)
            if ndim is not None:
                out = replace(out, ndim=ndim)
        elif out.kind is Kind.TUPLE and out.items and name in tensor_facts.REDUCTIONS:
            # (values, indices), (min, max), (var, mean) of a reduction: both of its rank
            ndim = self._result_ndim(result, name, call, value_of, receiver, first_arg)
            if ndim is not None:
                out = replace(out, items=tuple(replace(i, ndim=ndim) for i in out.items))
        return out

    def _result_ndim(self, result, name, call, value_of, receiver, first_arg) -> Optional[int]:
        """The rank of a tensor op's result, where the inputs' ranks and the arguments tell."""
        args = [a.value for a in call.args if a.keyword is None and not a.star]
        if receiver is None and first_arg:
            given = _keyword(call, "input")
            if not args and given is None:
                return None
            source = value_of(args[0] if args else given)
            rest = args[1:] if args else []
        else:
            source = receiver if receiver is not None else UNKNOWN
            rest = args
        if result is Result.CREATE:
            return self._created_ndim(name, call)
        if name in tensor_facts.REDUCTIONS:
            # where dim and keepdim stand among the positional arguments (the entry's
            # parameters say, where it lists them: norm's p comes first, aminmax's are keywords)
            entry = tensor_facts.METHODS.get(name) or tensor_facts.FUNCTIONS.get("torch." + name)
            positional = [p.name for p in entry.params if not p.keyword_only] if entry is not None and entry.params else ["dim", "keepdim"]
            at_dim = positional.index("dim") if "dim" in positional else None
            at_keep = positional.index("keepdim") if "keepdim" in positional else None
            dim = _keyword(call, "dim") or _keyword(call, "axis")  # (numpy's names: torch takes them too, MXNet's)
            if dim is None and at_dim is not None and len(rest) > at_dim:
                if name in ("max", "min") and value_of(rest[0]).is_tensor():
                    return broadcast_ndim(source, value_of(rest[0]))  # torch.max(a, b): elementwise
                dim = rest[at_dim]
            default = entry.param("dim") if entry is not None else None
            if dim is None and default is not None and isinstance(default.default, int):
                dim = cst.Integer(str(default.default)) if default.default >= 0 else cst.parse_expression(str(default.default))
            if dim is None or literal(dim) is None:
                return 0  # over all dims (not given, or None): a 0-d result
            keep = _keyword(call, "keepdim") or _keyword(call, "keepdims")
            if keep is None and at_keep is not None and len(rest) > at_keep:
                keep = rest[at_keep]
            kept = literal(keep) if keep is not None else False
            dims = [literal(e.value) for e in dim.elements] if isinstance(dim, (cst.Tuple, cst.List)) else [literal(dim)]
            if source.ndim is None or not isinstance(kept, bool) or not dims:
                return None
            if not all(isinstance(d, int) and not isinstance(d, bool) and -source.ndim <= d < source.ndim for d in dims):
                return None
            return source.ndim if kept else source.ndim - len({d % source.ndim for d in dims})
        if name in tensor_facts.RESHAPING or not source.is_tensor():
            return None
        if result is Result.PROMOTE:
            values = [source] + [value_of(a) for a in rest]
            return broadcast_ndim(*values)
        if result in (Result.SAME, Result.FLOAT, Result.INT, Result.BOOL, Result.REDUCE):
            return source.ndim
        return None

    def _created_ndim(self, name: str, call: cst.Call) -> Optional[int]:
        args = [a for a in call.args if a.keyword is None]
        if name in ("tensor", "as_tensor"):
            return _literal_rank(args[0].value) if args and not args[0].star else None
        if name in ("ones", "zeros", "rand", "randn", "empty"):
            size = _keyword(call, "size")
            if size is not None:
                return _literal_rank(size, sizes=True)
            if len(args) == 1 and not args[0].star:
                one = args[0].value
                return len(one.elements) if isinstance(one, (cst.Tuple, cst.List)) else (1 if isinstance(literal(one), int) else None)
            return len(args) if args and not any(a.star for a in args) else None
        if name in ("arange", "linspace", "logspace"):
            return 1
        if name == "eye":
            return 2
        if name == "full":
            size = args[0].value if args else _keyword(call, "size")
            return len(size.elements) if isinstance(size, (cst.Tuple, cst.List)) else None
        return None

    def _tensor_kind(
        self,
        result: Result,
        name: str,
        call: cst.Call,
        value_of: ArgValue,
        receiver: Optional[Value] = None,
        first_arg: bool = False,
    ) -> Value:
        args = [a for a in call.args if a.keyword is None and not a.star]
        source = receiver
        if source is None and first_arg and args:
            source = value_of(args[0].value)
        src_dtype = source.dtype if source is not None and source.is_tensor() else None
        if result is Result.SAME:
            if name in ("to", "type"):
                cast = self._cast_target(call)
                if cast is not None:
                    return tensor(cast)
            if name == "type_as":  # the other tensor's dtype
                other = value_of(call.args[0].value) if call.args else None
                return tensor(other.dtype if other is not None and other.is_tensor() else None)
            return tensor(src_dtype)
        if result is Result.FLOAT:
            return tensor(DType.FLOAT)
        if result is Result.INT:
            return tensor(DType.INT)
        if result is Result.BOOL:
            return tensor(DType.BOOL)
        if result is Result.REDUCE:
            return tensor(DType.INT if src_dtype is DType.BOOL else src_dtype)
        if result is Result.VALUES_INDICES:
            has_dim = len(args) >= (1 if receiver is not None else 2) or _keyword(call, "dim") is not None
            if has_dim:
                # torch.max(a, b) of two tensors is elementwise
                other = value_of(args[1 if receiver is None else 0].value) if len(args) >= (2 if receiver is None else 1) else None
                if other is not None and other.is_tensor():
                    return tensor(src_dtype)
                return Value(Kind.TUPLE, items=(tensor(src_dtype), tensor(DType.INT)))
            return tensor(src_dtype)
        if result is Result.PAIR:
            return Value(Kind.TUPLE, items=(tensor(src_dtype), tensor(DType.INT)))
        if result is Result.MIN_MAX:
            return Value(Kind.TUPLE, items=(tensor(src_dtype), tensor(src_dtype)))
        if result is Result.FLOAT_PAIR:
            return Value(Kind.TUPLE, items=(tensor(DType.FLOAT), tensor(DType.FLOAT)))
        if result is Result.UNIQUE:
            return _unique(call, receiver is not None, src_dtype)
        if result is Result.PROMOTE:
            return tensor(None)
        if result is Result.CREATE:
            return tensor(self._created_dtype(name, call, value_of))
        if result is Result.NUMBER:
            return NUMBER
        if result is Result.SIZE:
            return NUMBER if args or _keyword(call, "dim") is not None else SIZE
        if result is Result.NONE:
            return NONE
        return UNKNOWN

    def _cast_target(self, call: cst.Call) -> Optional[DType]:
        for a in call.args:
            torch_name = self.names(a.value)
            if torch_name in dtypes.DTYPES:
                return dtypes.dtype_class(dtypes.DTYPES[torch_name])
        return None

    def _created_dtype(self, name: str, call: cst.Call, value_of: ArgValue) -> Optional[DType]:
        explicit = _dtype_arg(call, self.names)
        if explicit is not None:
            return explicit
        args = [a for a in call.args if a.keyword is None and not a.star]
        if name in ("tensor", "as_tensor"):
            return literal_dtype(args[0].value) if args else None
        if name in ("ones", "zeros", "rand", "randn", "eye", "full") and _keyword(call, "dtype") is None:
            if name == "full":
                fill = args[1].value if len(args) > 1 else _keyword(call, "fill_value")
                return literal_dtype(fill) if fill is not None else None
            return DType.FLOAT
        if name == "arange":
            values = [a.value for a in args]
            kinds = {literal_dtype(v) for v in values}
            if kinds == {DType.INT}:
                return DType.INT
            return DType.FLOAT if DType.FLOAT in kinds else None
        if name == "randint":
            return DType.INT
        if name.endswith("_like") and args:
            src = value_of(args[0].value)
            return src.dtype if src.is_tensor() else None
        return None


def _unique(call: cst.Call, method: bool, dtype: Optional[DType]) -> Value:
    """torch.unique(input, sorted, return_inverse, return_counts, dim): the values, with
    the int64 inverse and counts after them when the call asks for them."""
    positional = [a.value for a in call.args if a.keyword is None and not a.star]
    if not method:
        positional = positional[1:]
    if any(a.star for a in call.args):
        return UNKNOWN
    items = [tensor(dtype)]
    for i, flag in ((1, "return_inverse"), (2, "return_counts")):
        node = _keyword(call, flag)
        if node is None and len(positional) > i:
            node = positional[i]
        given = literal(node) if node is not None else False
        if not isinstance(given, bool):
            return UNKNOWN  # a tensor or a tuple: the call decides at run time
        if given:
            items.append(tensor(DType.INT))
    return items[0] if len(items) == 1 else Value(Kind.TUPLE, items=tuple(items))


def catalog(names) -> _Catalog:
    """A catalog whose ``dtype=`` lookups resolve names with ``names`` (node -> torch name)."""
    c = _Catalog()
    c.names = names
    return c
