"""Runtime helpers of the reductions, sorting and cumulative ops (``ops_reduce.py``).

Module-level definitions a translation gets once (``ctx.helper``), written over
``ND`` (``mxnet.nd``) and ``MX`` (``mxnet``), for what MXNet 1.9's NDArray has no
single op for, or where its op differs from torch's: NaN order in sorts, the
gradient of a max over ties, cumulative products and extremes, unique with NaN.

Measured facts they rest on (tests/test_tensor_api.py checks them against torch):

* ``nd.argsort`` on CPU orders equal values exactly as torch's default
  (``stable=False``) sort does: both run ``std::sort`` over the lane with a
  comparison of the values only. With NaN the comparisons differ (torch puts
  NaN above everything), hence the float64 keys of ``_t2g_sort_key``.
* ``nd.topk`` and torch's topk both use ``std::partial_sort`` when ``k * 64 <=
  n``; otherwise torch selects with ``std::nth_element`` and the order of equal
  values differs (the entry warns).
* ``nd.cumsum`` fails on a negative axis; ``nd.max``'s gradient goes whole to
  every entry that reaches the max, torch's amax shares it evenly.
* Indices are computed with autograd paused (a gradient through ``nd.argsort``
  into ``nd.pick``'s index crashes MXNet); values are then gathered from x, so
  its gradient goes to the entries the indices name, as torch's does.
"""

from __future__ import annotations

from typing import Tuple

from .ops_index_helpers import GRID

Helper = Tuple[str, str]

TAKE_ALONG: Helper = (
    "_t2g_take_along",
    '''
def _t2g_take_along(x, index, axis):
    """x's entries at index along axis (numpy's take_along_axis), differentiable in x."""
    return ND.gather_nd(x, _t2g_grid(index, axis % index.ndim))
''',
)

SORT_KEY: Helper = (
    "_t2g_sort_key",
    '''
def _t2g_sort_key(x):
    """Keys MXNet's sort orders as torch orders x: torch puts NaN above everything, so
    floats become float64 with +inf as the largest finite float64 and NaN as +inf (a
    float64 input holding that largest number then ties it with +inf); booleans sort as
    integers (MXNet's argsort has no boolean kernel)."""
    if x.dtype.__name__ == "bool_":
        return x.astype("int32")
    if not x.dtype.__name__.startswith("float"):
        return x
    key = x.astype("float64")
    top = ND.full(key.shape, 1.7976931348623157e308, ctx=key.context, dtype="float64")
    key = ND.where(key == float("inf"), top, key)
    return ND.where(key != key, ND.full(key.shape, float("inf"), ctx=key.context, dtype="float64"), key)
''',
)

SORT: Helper = (
    "_t2g_sort",
    '''
def _t2g_sort(x, dim=-1, descending=False, stable=False):
    """torch.sort: (values, int64 indices) along dim, NaN the largest. Equal values come in
    the order torch's default sort gives them (MXNet's argsort runs the same std::sort);
    stable=True keeps them in their order: a second sort of (group of equal keys, index)."""
    if x.dtype.__name__ == "bool_":  # (MXNet gathers no booleans)
        values, index = _t2g_sort(x.astype("int32"), dim, descending, stable)
        return values.astype("bool"), index
    dim = dim % x.ndim
    n = x.shape[dim]
    with MX.autograd.pause():
        key = _t2g_sort_key(x)
        index = ND.argsort(key, axis=dim, is_ascend=not descending, dtype="int64")
        if stable and n > 1:
            ranked = _t2g_take_along(key, index, dim)
            changed = ND.slice_axis(ranked, axis=dim, begin=1, end=None) != ND.slice_axis(ranked, axis=dim, begin=0, end=n - 1)
            first = ND.zeros_like(ND.slice_axis(index, axis=dim, begin=0, end=1))
            group = ND.cumsum(ND.concat(first, changed.astype("int64"), dim=dim), axis=dim)
            index = _t2g_take_along(index, ND.argsort(group * n + index, axis=dim, dtype="int64"), dim)
    return _t2g_take_along(x, index, dim), index
''',
)

TOPK: Helper = (
    "_t2g_topk",
    '''
def _t2g_topk(x, k, dim=-1, largest=True):
    """torch.topk (sorted): the k largest (smallest) along dim and their int64 indices, NaN the largest."""
    if k < 1:
        raise ValueError("torch.topk with k < 1 gives empty tensors, which MXNet's NDArray does not have")
    with MX.autograd.pause():
        index = ND.topk(_t2g_sort_key(x), axis=dim, k=k, ret_typ="indices", is_ascend=not largest, dtype="int64")
    return _t2g_take_along(x, index, dim), index
''',
)

KTHVALUE: Helper = (
    "_t2g_kthvalue",
    '''
def _t2g_kthvalue(x, k, dim=-1, keepdim=False):
    """torch.kthvalue: the k-th smallest along dim (NaN the largest) and its int64 index
    (of equal values, the k-th in their order)."""
    index = ND.slice_axis(_t2g_sort(x, dim, False, True)[1], axis=dim, begin=k - 1, end=k)
    value = _t2g_take_along(x, index, dim)
    if keepdim:
        return value, index
    return value.squeeze(axis=dim), index.squeeze(axis=dim)
''',
)

EVENLY: Helper = (
    "_T2gEvenly",
    '''
class _T2gEvenly(MX.autograd.Function):
    """A reduction of all of x to one value whose gradient torch shares evenly among the
    entries equal to it (the NaNs where it is NaN), as for median()."""

    def __init__(self, reduce):
        super().__init__()
        self.reduce = reduce

    def forward(self, x):
        value = self.reduce(x)
        self.save_for_backward(x, value)
        return value

    def backward(self, dy):
        x, value = self.saved_tensors
        ones = (1,) * x.ndim
        hit = (x != x) if (value != value).asscalar() else ND.broadcast_equal(x, value.reshape(ones))
        hit = hit.astype(dy.dtype)
        return ND.broadcast_mul(hit / ND.sum(hit), dy.reshape(ones))
''',
)

MEDIAN: Helper = (
    "_t2g_median",
    '''
def _t2g_median(x, dim=None, keepdim=False):
    """torch.median: the lower of the two middle values (torch does not average them), NaN
    where the lane has one; with a dim (values, int64 indices): the index is the value's in
    a stable sort, or the first NaN's, as torch gives them (and its gradient goes there);
    without, torch shares the gradient among the entries equal to the median."""
    if dim is None:
        return _T2gEvenly(lambda flat: _t2g_median(flat.reshape((-1,)), 0)[0])(x)
    dim = dim % x.ndim
    n = x.shape[dim]
    order = _t2g_sort(x, dim, False, True)[1]
    with MX.autograd.pause():
        nans = ND.sum(x != x, axis=dim, keepdims=True)  # NaN sorts last: its first is at n - count
        at = ND.where(nans > 0, n - nans, ND.full(nans.shape, (n - 1) // 2, ctx=x.context, dtype=nans.dtype))
        index = ND.pick(order, at, axis=dim, keepdims=True)
    value = ND.pick(x, index, axis=dim, keepdims=True)
    if keepdim:
        return value, index
    return value.squeeze(axis=dim), index.squeeze(axis=dim)
''',
)

MODE: Helper = (
    "_t2g_mode",
    '''
def _t2g_mode(x, dim=-1, keepdim=False):
    """torch.mode along dim: torch sorts the lane (MXNet's argsort orders it alike, NaN
    included) and takes the first longest run of equal values (NaN equals nothing): its
    value and the index of its last entry in that order."""
    if x.dtype.__name__ == "bool_":  # (MXNet sorts and gathers no booleans)
        value, index = _t2g_mode(x.astype("int32"), dim, keepdim)
        return value.astype("bool"), index
    dim = dim % x.ndim
    n = x.shape[dim]
    with MX.autograd.pause():
        order = ND.argsort(x, axis=dim, dtype="int64")
        ranked = _t2g_take_along(x, order, dim)
        last = ND.ones_like(ND.slice_axis(order, axis=dim, begin=0, end=1))  # where a run ends
        if n > 1:
            differs = ND.slice_axis(ranked, axis=dim, begin=0, end=n - 1) != ND.slice_axis(ranked, axis=dim, begin=1, end=None)
            last = ND.concat(differs.astype("int64"), last, dim=dim)
        shape = [n if a == dim else 1 for a in range(x.ndim)]
        position = ND.arange(n, ctx=x.context, dtype="int64").reshape(shape).broadcast_to(order.shape)
        ends = ND.sort(ND.where(last, position, ND.full(order.shape, n, ctx=x.context, dtype="int64")), axis=dim)
        start = ND.full(last.shape[:dim] + (1,) + last.shape[dim + 1:], -1, ctx=x.context, dtype="int64")
        before = ND.concat(start, ND.slice_axis(ends, axis=dim, begin=0, end=n - 1), dim=dim) if n > 1 else start
        lengths = ND.where(ends < n, ends - before, ND.zeros_like(ends))
        end = ND.pick(ends, ND.argmax(lengths, axis=dim, keepdims=True), axis=dim, keepdims=True)
        index = ND.pick(order, end, axis=dim, keepdims=True)
    value = ND.pick(x, index, axis=dim, keepdims=True)
    if keepdim:
        return value, index
    return value.squeeze(axis=dim), index.squeeze(axis=dim)
''',
)

CUMPROD: Helper = (
    "_t2g_cumprod",
    '''
def _t2g_cumprod(x, dim):
    """torch.cumprod along dim: each entry times the product before it, in order (MXNet
    1.9 has no cumulative product; exp(cumsum(log)) fails on zeros and negatives)."""
    dim = dim % x.ndim
    out = [ND.slice_axis(x, axis=dim, begin=0, end=1)]
    for i in range(1, x.shape[dim]):
        out.append(out[-1] * ND.slice_axis(x, axis=dim, begin=i, end=i + 1))
    return ND.concat(*out, dim=dim) if len(out) > 1 else out[0]
''',
)

CUMMAX: Helper = (
    "_t2g_cummax",
    '''
def _t2g_cummax(x, dim, smallest=False):
    """torch.cummax/cummin along dim: (values, int64 indices) of the running max (min). As
    torch's, an entry equal to it takes over (the later index), and a NaN takes over and stays."""
    dim = dim % x.ndim
    value = ND.slice_axis(x, axis=dim, begin=0, end=1)
    index = ND.zeros(value.shape, ctx=x.context, dtype="int64")
    values, indices = [value], [index]
    for i in range(1, x.shape[dim]):
        item = ND.slice_axis(x, axis=dim, begin=i, end=i + 1)
        better = (item <= value) if smallest else (item >= value)
        take = (item != item) + (value == value) * better
        value = ND.where(take, item, value)
        index = ND.where(take, ND.full(index.shape, i, ctx=x.context, dtype="int64"), index)
        values.append(value)
        indices.append(index)
    if len(values) == 1:
        return value, index
    return ND.concat(*values, dim=dim), ND.concat(*indices, dim=dim)
''',
)

LOGSUMEXP: Helper = (
    "_t2g_logsumexp",
    '''
def _t2g_logsumexp(x, dim, keepdim=False):
    """torch.logsumexp over dim: shifted by the max, which is taken as 0 where it is infinite."""
    top = ND.max(x, axis=dim, keepdims=True)
    top = ND.BlockGrad(ND.where(ND.abs(top) == float("inf"), ND.zeros_like(top), top))
    out = ND.log(ND.sum(ND.exp(ND.broadcast_sub(x, top)), axis=dim, keepdims=keepdim))
    return out + top.reshape(out.shape)
''',
)

EXTREME_FUNCTION: Helper = (
    "_T2gExtreme",
    '''
class _T2gExtreme(MX.autograd.Function):
    """max/min over axes with torch's gradient: shared evenly by the entries that reach it."""

    def __init__(self, axes, keepdim, smallest):
        super().__init__()
        self.axes, self.keepdim, self.smallest = axes, keepdim, smallest

    def forward(self, x):
        reduce = ND.min if self.smallest else ND.max
        top = reduce(x, keepdims=True, **self.axes)
        self.save_for_backward(x, top)
        return reduce(x, keepdims=self.keepdim, **self.axes)

    def backward(self, dy):
        x, top = self.saved_tensors
        hit = ND.broadcast_equal(x, top).astype(dy.dtype)
        return ND.broadcast_mul(hit / ND.sum(hit, keepdims=True, **self.axes), dy.reshape(top.shape))
''',
)

AMAX: Helper = (
    "_t2g_amax",
    '''
def _t2g_amax(x, dim=(), keepdim=False, smallest=False):
    """torch.amax/amin over dim (all dims when it is () or None), NaN propagating, with
    torch's gradient where several entries reach the max."""
    axes = {} if dim is None or (isinstance(dim, (tuple, list)) and not dim) else {"axis": dim}
    return _T2gExtreme(axes, keepdim, smallest)(x)
''',
)

AMINMAX: Helper = (
    "_t2g_aminmax",
    '''
def _t2g_aminmax(x, dim=None, keepdim=False):
    """torch.aminmax: (amin, amax) over dim (all dims when None)."""
    return _t2g_amax(x, dim, keepdim, True), _t2g_amax(x, dim, keepdim)
''',
)

NORM: Helper = (
    "_t2g_norm",
    '''
def _t2g_norm(x, p="fro", dim=None, keepdim=False):
    """torch.norm: the vector p-norm over dim (all of x when None; "fro" is the 2-norm),
    with torch's gradients: 0 where the norm is 0, shared by the maxima for p=inf."""
    axes = {} if dim is None else {"axis": dim}
    if p == "fro" or p is None:
        p = 2
    if isinstance(p, str):
        raise NotImplementedError(f"torch.norm with p={p!r} (a matrix norm) has no MXNet translation")
    if p == float("inf") or p == -float("inf"):
        return _t2g_amax(ND.abs(x), dim, keepdim, p < 0)
    if p == 0:
        return ND.sum(x != 0, keepdims=keepdim, **axes).astype(x.dtype)
    if p == 1:
        return ND.sum(ND.abs(x), keepdims=keepdim, **axes)
    total = ND.sum(ND.square(x) if p == 2 else ND.abs(x) ** p, keepdims=keepdim, **axes)
    return (total + (total == 0)) ** (1.0 / p) * (total != 0)
''',
)

VAR_MEAN: Helper = (
    "_t2g_var_mean",
    '''
def _t2g_var_mean(x, dim=None, unbiased=None, keepdim=False, correction=None, std=False):
    """torch.var_mean/std_mean: (var or std, mean) over dim (all dims when None); the sum
    of squared deviations over max(0, n - correction), correction 1 unless unbiased=False."""
    if isinstance(dim, bool):  # var_mean(x, unbiased)
        dim, unbiased = None, dim
    if correction is None:
        correction = 1 if unbiased is None else int(unbiased)
    axes = {} if dim is None else {"axis": dim}
    mean = ND.mean(x, keepdims=True, **axes)
    var = ND.sum(ND.square(ND.broadcast_sub(x, mean)), keepdims=keepdim, **axes) / max(0, x.size // mean.size - correction)
    return (ND.sqrt(var) if std else var), mean.reshape(var.shape)
''',
)

UNIQUE: Helper = (
    "_t2g_unique",
    '''
def _t2g_unique(x, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """torch.unique: the distinct values sorted (torch's CPU sorts with sorted=False too), or
    with a dim the distinct slices; the int64 inverse (x's shape, or the dim's length) and
    counts when asked for. MXNet's unique drops NaNs; torch keeps each one, last."""
    flag = x.dtype.__name__ == "bool_"
    data = x.astype("int32") if flag else x
    nans = data != data
    if dim is not None:
        if nans.sum().asscalar():
            raise ValueError("torch.unique(dim=...) of slices holding NaN is not translated")
        out = list(MX.np.unique(data.as_np_ndarray(), return_inverse=True, return_counts=True, axis=dim))
    elif nans.sum().asscalar():
        flat, nans = data.reshape((-1,)), nans.reshape((-1,))
        count = int(nans.sum().asscalar())
        extra = ND.full((count,), float("nan"), ctx=x.context, dtype=x.dtype)
        if count == flat.size:
            out = [flat.as_np_ndarray(), None, ND.ones((count,), ctx=x.context, dtype="int64").as_np_ndarray()]
            inverse = ND.arange(count, ctx=x.context, dtype="int64")
        else:
            values, inverse, counts = MX.np.unique(ND.contrib.boolean_mask(flat, 1 - nans).as_np_ndarray(), return_inverse=True, return_counts=True)
            rank = ND.cumsum((1 - nans).astype("int64"), axis=0) - 1
            inverse = ND.where(nans, values.shape[0] + ND.cumsum(nans.astype("int64"), axis=0) - 1,
                               ND.take(inverse.as_nd_ndarray(), ND.maximum(rank, ND.zeros_like(rank))))
            ones = ND.ones((count,), ctx=x.context, dtype="int64")
            out = [ND.concat(values.as_nd_ndarray(), extra, dim=0).as_np_ndarray(), None, ND.concat(counts.as_nd_ndarray(), ones, dim=0).as_np_ndarray()]
        out[1] = inverse.as_np_ndarray()
    else:
        out = list(MX.np.unique(data.as_np_ndarray(), return_inverse=True, return_counts=True))
    values, inverse, counts = (o.as_nd_ndarray() for o in out)
    values = values.astype("bool") if flag else values
    inverse = inverse.astype("int64").reshape(x.shape if dim is None else (x.shape[dim],))
    result = (values,) + ((inverse,) if return_inverse else ()) + ((counts.astype("int64"),) if return_counts else ())
    return result if len(result) > 1 else values
''',
)

SORTING = (GRID, TAKE_ALONG, SORT_KEY, SORT)
EXTREMES = (EXTREME_FUNCTION, AMAX)
