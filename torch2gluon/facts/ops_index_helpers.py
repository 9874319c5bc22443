"""Runtime helpers of the indexing and remaining elementwise ops (``ops_index.py``).

Module-level definitions a translation gets once, written over ``ND``
(``mxnet.nd``) and ``MX`` (``mxnet``). Measured facts they rest on (checked
against torch by tests/test_tensor_api.py and tests/test_numeric_index.py):

* ``nd.scatter_nd`` writes the last of duplicate indices (as torch's CPU
  scatter does); ``nd._internal._backward_gather_nd`` sums duplicates (torch's
  scatter_add); both are differentiable.
* MXNet 1.9's NDArray ops need both operands of one dtype and broadcast only in
  their ``broadcast_*`` forms: ``_t2g_operands`` casts both to the dtype torch's
  promotion gives (a Python number only lifts the category: an integer tensor
  and a float give float32, a boolean tensor and an int give int64).
* Indices whose number depends on the data (nonzero, masked_select) are found on
  the host (``asnumpy``): nothing to differentiate there; the values are then
  taken from the array, so its gradient flows.
"""

from __future__ import annotations

from typing import Tuple

Helper = Tuple[str, str]

OPERANDS: Helper = (
    "_t2g_operands",
    '''
def _t2g_operands(*values, ctx=None):
    """values (arrays or Python numbers) as NDArrays of torch's promoted dtype, on the first
    array's context or ctx (numbers become shape-(1,) arrays: use them with broadcast_* ops)."""
    import numpy
    arrays = [v for v in values if isinstance(v, ND.NDArray)]
    rank = lambda d: 0 if numpy.dtype(d) == numpy.bool_ else (2 if numpy.issubdtype(numpy.dtype(d), numpy.floating) else 1)
    top, dtype = -1, None
    if arrays:
        top = sorted(rank(a.dtype) for a in arrays)[-1]  # (not max: scripts rebind min and max)
        dtype = numpy.result_type(*[a.dtype for a in arrays if rank(a.dtype) == top])
        ctx = arrays[0].context
    for v in values:
        if not isinstance(v, ND.NDArray):
            r = 0 if isinstance(v, bool) else (2 if isinstance(v, float) else 1)
            if r > top:
                top, dtype = r, numpy.dtype(("bool", "int64", "float32")[r])
    return [v.astype(dtype) if isinstance(v, ND.NDArray) else ND.full((1,), v, ctx=ctx, dtype=dtype) for v in values]
''',
)

BSHAPE: Helper = (
    "_t2g_bshape",
    '''
def _t2g_bshape(*shapes):
    """The broadcast shape of several shapes (numpy's rules)."""
    n = sorted(len(s) for s in shapes)[-1]  # (not max: scripts rebind min and max)
    out = []
    for i in range(n):
        sizes = {s[len(s) - n + i] for s in shapes if len(s) - n + i >= 0} - {1}
        if len(sizes) > 1:
            raise ValueError("shapes %s do not broadcast" % (shapes,))
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)
''',
)

GRID: Helper = (
    "_t2g_grid",
    '''
def _t2g_grid(index, dim):
    """Coordinates (ndim, *index.shape) that put index's entries along dim, the others in place."""
    grids = []
    for a, n in enumerate(index.shape):
        if a == dim:
            grids.append(index.astype("int64"))
        else:
            shape = [n if b == a else 1 for b in range(index.ndim)]
            grids.append(ND.arange(n, ctx=index.context, dtype="int64").reshape(shape).broadcast_to(index.shape))
    return ND.stack(*grids)
''',
)

GATHER: Helper = (
    "_t2g_gather",
    '''
def _t2g_gather(x, dim, index):
    """torch.gather: x's entries at index along dim (index may be smaller in the other dims)."""
    return ND.gather_nd(x, _t2g_grid(index, dim % x.ndim))
''',
)

SCATTER: Helper = (
    "_t2g_scatter",
    '''
def _t2g_scatter(x, dim, index, src, add=False):
    """torch.scatter (add=False: the last of duplicate indices wins) and scatter_add (they add up);
    src is a tensor (its leading part of index's shape is used) or a number."""
    dim = dim % x.ndim
    grid = _t2g_grid(index, dim)
    if isinstance(src, ND.NDArray):
        src = ND.slice(src, begin=(0,) * src.ndim, end=index.shape).astype(x.dtype)
    else:
        src = ND.full(index.shape, src, ctx=x.context, dtype=x.dtype)
    if add:
        return x + ND._internal._backward_gather_nd(src, grid, shape=x.shape)
    hit = ND.scatter_nd(ND.ones(index.shape, ctx=x.context, dtype="float32"), grid, shape=x.shape)
    return ND.where(hit, ND.scatter_nd(src, grid, shape=x.shape), x)
''',
)

ALONG: Helper = (
    "_t2g_along",
    '''
def _t2g_along(x, dim, index, source):
    """index (1-D, along dim) spread over source's shape: scatter's index for index_add/index_copy."""
    dim = dim % x.ndim
    index = index.reshape((-1,)).astype("int64")
    if source.ndim == 0:
        return index
    shape = [1] * source.ndim
    shape[dim] = index.shape[0]
    return index.reshape(shape).broadcast_to(source.shape)
''',
)

INDEX_FILL: Helper = (
    "_t2g_index_fill",
    '''
def _t2g_index_fill(x, dim, index, value):
    """torch.index_fill: value at the positions index names along dim."""
    dim = dim % x.ndim
    index = index.reshape((-1,)).astype("int64")
    n = x.shape[dim]
    hit = ND.one_hot(index, n).sum(axis=0) > 0
    shape = [1] * x.ndim
    shape[dim] = n
    hit = hit.reshape(shape).broadcast_to(x.shape)
    if isinstance(value, ND.NDArray):
        fill = value.astype(x.dtype).reshape((1,) * x.ndim).broadcast_to(x.shape)
    else:
        fill = ND.full(x.shape, value, ctx=x.context, dtype=x.dtype)
    return ND.where(hit, fill, x)
''',
)

INDEX_SELECT: Helper = (
    "_t2g_index_select",
    '''
def _t2g_index_select(x, dim, index):
    """torch.index_select: the slices index (0-d or 1-D) names along dim."""
    return ND.take(x, index.reshape((-1,)).astype("int64"), axis=dim % x.ndim)
''',
)

MASK: Helper = (
    "_t2g_mask",
    '''
def _t2g_mask(x, mask):
    """x and mask (nonzero: true) broadcast to one shape; the mask as float32 0/1."""
    shape = _t2g_bshape(x.shape, mask.shape)
    return x.broadcast_to(shape), (mask.astype("float32") != 0).broadcast_to(shape)
''',
)

MASKED_FILL: Helper = (
    "_t2g_masked_fill",
    '''
def _t2g_masked_fill(x, mask, value):
    """torch.masked_fill: value (a number or a 0-d/1-element tensor) where mask is true."""
    x, mask = _t2g_mask(x, mask)
    if isinstance(value, ND.NDArray):
        fill = value.astype(x.dtype).reshape((1,) * x.ndim).broadcast_to(x.shape)
    else:
        fill = ND.full(x.shape, value, ctx=x.context, dtype=x.dtype)
    return ND.where(mask, fill, x)
''',
)

MASKED_SELECT: Helper = (
    "_t2g_masked_select",
    '''
def _t2g_masked_select(x, mask):
    """torch.masked_select: the entries where mask is true, as 1-D (row-major order)."""
    x, mask = _t2g_mask(x, mask)
    where = mask.reshape((-1,)).asnumpy().nonzero()[0]
    if where.size == 0:
        raise ValueError("masked_select: the mask selects nothing (MXNet 1.9's NDArray has no empty arrays)")
    return ND.take(x.reshape((-1,)), ND.array(where, ctx=x.context, dtype="int64"))
''',
)

MASKED_SCATTER: Helper = (
    "_t2g_masked_scatter",
    '''
def _t2g_masked_scatter(x, mask, source):
    """torch.masked_scatter: source's entries, in row-major order, where mask is true."""
    x, mask = _t2g_mask(x, mask)
    flat = mask.reshape((-1,))
    order = ND.maximum(ND.cumsum(flat, axis=0) - 1, ND.zeros((1,), ctx=x.context))
    taken = ND.take(source.reshape((-1,)).astype(x.dtype), order.astype("int64")).reshape(x.shape)
    return ND.where(mask, taken, x)
''',
)

TAKE_ALONG_DIM: Helper = (
    "_t2g_take_along_dim",
    '''
def _t2g_take_along_dim(x, indices, dim=None):
    """torch.take_along_dim: x and indices broadcast against each other outside dim; dim=None: x flattened."""
    if dim is None:
        return ND.take(x.reshape((-1,)), indices.reshape((-1,)).astype("int64"), mode="wrap")
    dim = dim % x.ndim
    shape = _t2g_bshape(x.shape[:dim] + (1,) + x.shape[dim + 1:], indices.shape[:dim] + (1,) + indices.shape[dim + 1:])
    x = x.broadcast_to(shape[:dim] + (x.shape[dim],) + shape[dim + 1:])
    indices = indices.broadcast_to(shape[:dim] + (indices.shape[dim],) + shape[dim + 1:])
    indices = ND.where(indices < 0, indices + x.shape[dim], indices)
    return _t2g_gather(x, dim, indices)
''',
)

NONZERO: Helper = (
    "_t2g_nonzero",
    '''
def _t2g_nonzero(x, as_tuple=False):
    """torch.nonzero / argwhere: int64 (n, ndim) indices of the nonzero entries; as_tuple: one 1-D per dim."""
    found = x.asnumpy().nonzero()
    if found[0].size == 0:
        raise ValueError("nonzero: no nonzero entries (MXNet 1.9's NDArray has no empty arrays)")
    rows = [ND.array(i, ctx=x.context, dtype="int64") for i in found]
    if as_tuple:
        return tuple(rows)
    return ND.stack(*rows, axis=1)
''',
)

PUT: Helper = (
    "_t2g_put",
    '''
def _t2g_put(x, index, source, accumulate=False):
    """torch.Tensor.put_: source's entries at the flat (negative: from the end) indices of x."""
    n = x.size
    index = index.reshape((-1,)).astype("int64")
    index = ND.where(index < 0, index + n, index)
    return _t2g_scatter(x.reshape((-1,)), 0, index, source.reshape((-1,)), add=accumulate).reshape(x.shape)
''',
)

WHERE: Helper = (
    "_t2g_where",
    '''
def _t2g_where(condition, x, y):
    """torch.where(condition, x, y): broadcast, numbers as torch promotes them."""
    x, y = _t2g_operands(x, y, ctx=condition.context)
    shape = _t2g_bshape(condition.shape, x.shape, y.shape)
    cond = (condition.astype("float32") != 0).broadcast_to(shape)
    return ND.where(cond, x.broadcast_to(shape), y.broadcast_to(shape))
''',
)

BINARY: Helper = (
    "_t2g_binary",
    '''
def _t2g_binary(kind, x, y):
    """torch's remainder/fmod/floor_divide/true_divide/trunc_divide/power/bitwise ops of two arrays or
    numbers (at least one array), promoted as torch does (true division of integers: float32)."""
    x, y = _t2g_operands(x, y)
    if kind == "remainder":
        return ND.broadcast_mod(x, y)
    if kind == "fmod":
        return ND.broadcast_mul(ND.sign(x), ND.broadcast_mod(ND.abs(x), ND.abs(y)))
    if kind == "floor_divide":
        mod = ND.broadcast_mod(x, y)
        if x.dtype.__name__.startswith("float"):
            # torch's div_floor: (x - fmod(x, y)) / y, one less where the signs differ, then rounded
            shape = _t2g_bshape(x.shape, y.shape)
            x, y = x.broadcast_to(shape), y.broadcast_to(shape)
            fmod = ND.sign(x) * ND.broadcast_mod(ND.abs(x), ND.abs(y))
            div = (x - fmod) / y
            div = ND.where(ND.logical_and(fmod != 0, (y < 0) != (fmod < 0)), div - 1, div)
            floor = ND.floor(div)
            quotient = ND.where(div - floor > 0.5, floor + 1, floor)
            return ND.where(y == 0, x / y, quotient)
        return ND.broadcast_div(ND.broadcast_sub(x, mod), y)
    if kind == "power":
        return ND.broadcast_power(x, y)
    if kind == "true_divide":
        if not x.dtype.__name__.startswith("float"):
            x, y = x.astype("float32"), y.astype("float32")
        return ND.broadcast_div(x, y)
    if kind == "trunc_divide":
        if x.dtype.__name__.startswith("float"):
            return ND.trunc(ND.broadcast_div(x, y))
        return ND.broadcast_div(ND.broadcast_sub(x, ND.broadcast_mul(ND.sign(x), ND.broadcast_mod(ND.abs(x), ND.abs(y)))), y)
    numpy_x, numpy_y = x.as_np_ndarray(), y.as_np_ndarray()
    return getattr(MX.np, kind)(numpy_x, numpy_y).as_nd_ndarray()
''',
)

LOGADDEXP: Helper = (
    "_t2g_logaddexp",
    '''
def _t2g_logaddexp(x, y, base2=False):
    """torch.logaddexp(2): log(e^x + e^y) as max + log1p(e^-|x - y|), exact where x == y (infinities too)."""
    x, y = _t2g_operands(x, y)
    if not x.dtype.__name__.startswith("float"):
        x, y = x.astype("float32"), y.astype("float32")
    top = ND.broadcast_maximum(x, y)
    gap = ND.abs(ND.broadcast_sub(x, y))
    if base2:
        rest = ND.log1p(ND.power(2.0, -gap)) / 0.6931471805599453
        same = top + 1.0
    else:
        rest = ND.log1p(ND.exp(-gap))
        same = top + 0.6931471805599453
    return ND.where(ND.broadcast_equal(x, y), same, top + rest)
''',
)

XLOGY: Helper = (
    "_t2g_xlogy",
    '''
def _t2g_xlogy(x, y):
    """torch.xlogy: x * log(y), 0 where x == 0 unless y is NaN."""
    x, y = _t2g_operands(x, y)
    if not x.dtype.__name__.startswith("float"):
        x, y = x.astype("float32"), y.astype("float32")
    shape = _t2g_bshape(x.shape, y.shape)
    x, y = x.broadcast_to(shape), y.broadcast_to(shape)
    return ND.where(ND.logical_and(x == 0, y == y), ND.zeros_like(x), x * ND.log(y))
''',
)

CLAMP: Helper = (
    "_t2g_clamp",
    '''
def _t2g_clamp(x, min=None, max=None):
    """torch.clamp with number or tensor bounds (broadcast, promoted as torch does); max wins over min."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    bounds = [b for b in (min, max) if b is not None]
    x, *bounds = _t2g_operands(x, *bounds)
    if min is not None:
        x = ND.broadcast_maximum(x, bounds.pop(0))
    if max is not None:
        x = ND.broadcast_minimum(x, bounds.pop(0))
    return x
''',
)

TRUTH: Helper = (
    "_t2g_truth",
    '''
def _t2g_truth(x):
    """x's truth as float32 0/1 (NaN is true, as in torch)."""
    return x.astype("float32") != 0
''',
)

NUMPY: Helper = (
    "_t2g_np",
    '''
def _t2g_np(name, *arrays):
    """MXNet's NumPy-interface op ``name`` on NDArrays, back as an NDArray."""
    return getattr(MX.np, name)(*[a.as_np_ndarray() for a in arrays]).as_nd_ndarray()
''',
)

COMPARE: Helper = (
    "_t2g_compare",
    '''
def _t2g_compare(kind, x, y, like=None):
    """torch's comparison (``kind``: equal, greater...) in the promoted dtype, broadcast: bool,
    or 1/0 in like's dtype (the in-place forms write into like)."""
    x, y = _t2g_operands(x, y)
    out = getattr(ND, "broadcast_" + kind)(x, y)
    return out.astype("bool" if like is None else like.dtype)
''',
)
