"""Runtime helpers of tensor creation (T2G101), where torch decides at run time
what MXNet needs written out: the dtype torch infers from data or a fill value,
whether ``torch.arange``'s bounds are all integers, ``requires_grad=True``.

Each is ``(name, template)`` for ``Context.helper`` (``ND`` is ``mxnet.nd``);
each is checked against torch in ``tests/test_numeric_create.py``.
"""

from __future__ import annotations

# torch.tensor / as_tensor / new_tensor / Tensor(data) of data not written out
TENSOR_HELPER = (
    "_t2g_tensor",
    '''
def _t2g_tensor(data, dtype=None):
    """torch.tensor(data): the dtype torch infers (int64 for Python integers, float32 for Python
    floats, bool for booleans, a numpy array's or an NDArray's own); a number has shape (1,),
    MXNet's stand-in for torch's 0-d tensor."""
    import numpy

    if isinstance(data, (list, tuple)) and any(isinstance(d, ND.NDArray) for d in data):
        raise TypeError("torch.tensor of a sequence of tensors is not translated (their MXNet stand-ins have shape (1,))")
    if isinstance(data, ND.NDArray):
        a = data.asnumpy()
    else:
        a = numpy.asarray(data)
        if not isinstance(data, (numpy.ndarray, numpy.generic)):
            if a.dtype.kind == "f":
                a = a.astype("float32")
            elif a.dtype.kind in "iu":
                a = a.astype("int64")
    if a.dtype.kind not in "biuf":
        raise TypeError("torch.tensor of %s data has no MXNet twin" % a.dtype)
    if dtype is not None:
        a = a.astype(dtype)
    if a.ndim == 0:
        a = a.reshape(1)
    return ND.array(a, dtype=a.dtype)
''',
)

# requires_grad=True on a new tensor
GRAD_HELPER = (
    "_t2g_grad",
    '''
def _t2g_grad(x, requires_grad=True):
    """requires_grad=True: the new array records its gradient (attach_grad), and is returned."""
    if requires_grad:
        x.attach_grad()
    return x
''',
)

# torch.full with a fill value that is not a literal, without dtype=
FULL_HELPER = (
    "_t2g_full",
    '''
def _t2g_full(size, fill_value, **kwargs):
    """torch.full: the dtype torch takes from the fill value (bool, int64 or float32)."""
    import numbers

    if isinstance(fill_value, ND.NDArray):
        fill_value = fill_value.asscalar()
    if isinstance(fill_value, bool):
        dtype = "bool"
    elif isinstance(fill_value, numbers.Integral):
        dtype = "int64"
    elif isinstance(fill_value, numbers.Real):
        dtype = "float32"
    else:
        raise TypeError("torch.full with a fill value of type %s is not translated" % type(fill_value).__name__)
    return ND.full(size, fill_value, dtype=dtype, **kwargs)
''',
)

# torch.arange of bounds that are not literals, without dtype=
ARANGE_HELPER = (
    "_t2g_arange",
    '''
def _t2g_arange(start, end=None, step=1, **kwargs):
    """torch.arange: int64 when start, end and step are all integers, else float32."""
    import numbers

    values = [v.asscalar() if isinstance(v, ND.NDArray) else v for v in (start, end, step)]
    if values[1] is None:
        values = [0, values[0], values[2]]
    if "dtype" not in kwargs:
        ints = all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values)
        kwargs["dtype"] = "int64" if ints else "float32"
    return ND.arange(values[0], values[1], values[2], **kwargs)
''',
)

# torch.normal(mean, std) with a tensor mean or std
NORMAL_HELPER = (
    "_t2g_normal",
    '''
def _t2g_normal(mean, std):
    """torch.normal(mean, std) of tensors: one draw per element, of the mean's (or std's) floating dtype."""
    arrays = [v for v in (mean, std) if isinstance(v, ND.NDArray)]
    if len(arrays) == 2 and mean.shape != std.shape:
        raise ValueError("torch.normal with mean and std of different shapes is not translated")
    floats = [v.dtype for v in arrays if v.dtype.__name__.startswith("float")]
    dtype = floats[0] if floats else "float32"
    mean, std = [v.astype(dtype) if isinstance(v, ND.NDArray) else v for v in (mean, std)]
    return ND.random.normal(0, 1, shape=arrays[0].shape, dtype=dtype) * std + mean
''',
)

# torch.Tensor(x) / torch.FloatTensor(x)... of one argument the analysis cannot place
LEGACY_HELPER = (
    "_t2g_legacy",
    '''
def _t2g_legacy(dtype, *args):
    """torch.Tensor(*sizes) or torch.Tensor(data) (FloatTensor, LongTensor...), decided at run time:
    integers are sizes (a zero-filled array; torch leaves it uninitialised), a list or a numpy
    array is data; a tuple (a torch.Size, or data?) or an NDArray is refused."""
    import numbers
    import numpy

    if args and all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in args):
        return ND.zeros(tuple(args), dtype=dtype)
    if len(args) == 1 and isinstance(args[0], (list, numpy.ndarray)):
        return _t2g_tensor(args[0], dtype)
    raise TypeError("torch.Tensor(...) of %s is not translated (sizes or data cannot be told apart)" % (args,))
''',
)

# torch.FloatTensor(t) / torch.LongTensor(t)... of a tensor
SAME_HELPER = (
    "_t2g_same",
    '''
def _t2g_same(x, dtype):
    """torch.FloatTensor(t) (LongTensor...) of a tensor: t itself, sharing its memory, when its dtype
    is the constructor's (torch refuses another)."""
    import numpy

    if numpy.dtype(x.dtype) != numpy.dtype(dtype):
        raise TypeError("expected a %s tensor, got %s" % (dtype, numpy.dtype(x.dtype)))
    return x
''',
)

# torch.full_like / randint_like of an input that is an expression (read once)
FULL_LIKE_HELPER = (
    "_t2g_full_like",
    '''
def _t2g_full_like(x, fill_value, dtype=None):
    """torch.full_like: x's shape and context, the fill value in x's dtype (or dtype=), cast as torch casts it."""
    return ND.full(x.shape, fill_value, dtype=dtype or x.dtype, ctx=x.context)
''',
)
RANDINT_LIKE_HELPER = (
    "_t2g_randint_like",
    '''
def _t2g_randint_like(x, low, high, dtype=None):
    """torch.randint_like: integers in [low, high) of x's shape, in x's dtype (or dtype=)."""
    return ND.random.randint(low, high, shape=x.shape, dtype="int64", ctx=x.context).astype(dtype or x.dtype)
''',
)
