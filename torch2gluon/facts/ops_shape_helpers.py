"""Runtime helpers of the shape and linear-algebra ops (``ops_shape.py``).

Module-level definitions a translation gets once, written over ``ND``
(``mxnet.nd``) and ``MX`` (``mxnet``). Measured facts they rest on:

* MXNet 1.9's NDArray has no empty arrays (``nd.zeros((0, 4))`` and a slice
  of length 0 raise), so a piece of torch's that would be empty raises a
  ``ValueError`` naming it, instead of giving something else;
* ``nd.transpose`` refuses negative axes, ``nd.reshape`` reads 0, -2, -3, -4 as
  codes (0 copies the input's size), ``nd.squeeze(axis=d)`` raises when dim d
  is not 1 (torch leaves the tensor as it is);
* ``nd.dot`` contracts the last axis of its first operand with the first of
  its second; ``nd.batch_dot`` takes 3-d operands with equal batch sizes only.
"""

from __future__ import annotations

from typing import Tuple

Helper = Tuple[str, str]

VIA_INT: Helper = (
    "_t2g_via_int",
    '''
def _t2g_via_int(fn, x, *args, **kwargs):
    """fn(x, ...) of a boolean x on int32 and back (MXNet's slicing, transposes, concat... of
    booleans fail beyond some ranks with "Unknown type enum 7")."""
    if x.dtype.__name__ != "bool_":
        return fn(x, *args, **kwargs)
    out = fn(x.astype("int32"), *args, **kwargs)
    return tuple(o.astype("bool") for o in out) if isinstance(out, tuple) else out.astype("bool")
''',
)

AXES: Helper = (
    "_t2g_axes",
    '''
def _t2g_axes(dims, ndim):
    """torch's dims (an int or a sequence, negatives from the end) as a tuple of non-negative axes."""
    if isinstance(dims, int):
        dims = (dims,)
    out = []
    for d in dims:
        d = int(d)
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise IndexError("Dimension out of range (expected to be in range of [%d, %d], but got %d)" % (-ndim, ndim - 1, d))
        out.append(d % max(ndim, 1))
    return tuple(out)
''',
)

TRANSPOSE: Helper = (
    "_t2g_transpose",
    '''
def _t2g_transpose(x, axes=None):
    """nd.transpose, booleans included (MXNet's transpose has no boolean kernel)."""
    if x.dtype.__name__ == "bool_":
        return _t2g_transpose(x.astype("int32"), axes).astype("bool")
    return ND.transpose(x, axes=tuple(range(x.ndim))[::-1] if axes is None else axes)
''',
)

SWAP: Helper = (
    "_t2g_swap",
    '''
def _t2g_swap(x, dim0, dim1):
    """torch.transpose(x, dim0, dim1): two dims swapped."""
    a, b = _t2g_axes((dim0, dim1), x.ndim)
    axes = list(range(x.ndim))
    axes[a], axes[b] = b, a
    return _t2g_transpose(x, tuple(axes))
''',
)

PIECES: Helper = (
    "_t2g_pieces",
    '''
def _t2g_pieces(x, dim, bounds, what):
    """The slices [begin, end) of x along dim (a dim of torch's), one per pair of bounds."""
    (dim,) = _t2g_axes(dim, x.ndim)
    if any(end <= begin for begin, end in bounds):
        raise ValueError("%s gives an empty tensor here, which MXNet's NDArray does not have" % what)
    return tuple(ND.slice_axis(x, axis=dim, begin=begin, end=end) for begin, end in bounds)
''',
)

CHUNK: Helper = (
    "_t2g_chunk",
    '''
def _t2g_chunk(x, chunks, dim=0):
    """torch.chunk: pieces of ceil(n / chunks) along dim, the last one smaller (and fewer pieces where they run out)."""
    (axis,) = _t2g_axes(dim, x.ndim)
    n = x.shape[axis]
    if chunks <= 0:
        raise ValueError("chunk expects `chunks` to be greater than 0, got: %d" % chunks)
    size = max(-(-n // chunks), 1)
    return _t2g_pieces(x, axis, [(b, min(b + size, n)) for b in range(0, n, size)], "torch.chunk")
''',
)

SPLIT: Helper = (
    "_t2g_split",
    '''
def _t2g_split(x, split_size, dim=0):
    """torch.split: an int is the size of each piece (the last one smaller), a sequence the sizes themselves."""
    (axis,) = _t2g_axes(dim, x.ndim)
    n = x.shape[axis]
    if isinstance(split_size, int):
        if split_size <= 0:
            raise ValueError("split_size can only be 0 if dimension size is 0, but got dimension size of %d" % n)
        return _t2g_pieces(x, axis, [(b, min(b + split_size, n)) for b in range(0, n, split_size)], "torch.split")
    sizes = [int(s) for s in split_size]
    if sum(sizes) != n or any(s < 0 for s in sizes):
        raise ValueError("split_with_sizes expects split_sizes to sum exactly to %d, but got %r" % (n, sizes))
    bounds, begin = [], 0
    for s in sizes:
        bounds.append((begin, begin + s))
        begin += s
    return _t2g_pieces(x, axis, bounds, "torch.split with a size 0")
''',
)

TENSOR_SPLIT: Helper = (
    "_t2g_tensor_split",
    '''
def _t2g_tensor_split(x, indices_or_sections, dim=0):
    """torch.tensor_split: an int is the number of pieces (the first n % k one longer), a sequence the indices to cut at."""
    (axis,) = _t2g_axes(dim, x.ndim)
    n = x.shape[axis]
    if isinstance(indices_or_sections, int):
        k = indices_or_sections
        if k <= 0:
            raise ValueError("number of sections must be larger than 0, got %d" % k)
        cuts, begin = [], 0
        for i in range(k):
            begin += n // k + (1 if i < n % k else 0)
            cuts.append(begin)
        cuts = cuts[:-1]
    elif hasattr(indices_or_sections, "asnumpy"):
        raise ValueError("torch.tensor_split with a tensor is not translated: its 0-d tensor (sections) "
                         "and a 1-element one (indices) are alike in MXNet")
    else:
        cuts = [int(i) for i in indices_or_sections]
    bounds, begin = [], 0
    for c in cuts + [n]:
        c = min(max(c if c >= 0 else c + n, 0), n)
        bounds.append((begin, max(c, begin)))
        begin = max(c, begin)
    return _t2g_pieces(x, axis, bounds, "torch.tensor_split")
''',
)

UNBIND: Helper = (
    "_t2g_unbind",
    '''
def _t2g_unbind(x, dim=0):
    """torch.unbind: the slices along dim, without it."""
    (axis,) = _t2g_axes(dim, x.ndim)
    if x.ndim == 1:
        raise ValueError("unbind of a 1-d tensor gives 0-d tensors, which MXNet's operators do not take")
    return tuple(ND.slice_axis(x, axis=axis, begin=i, end=i + 1).squeeze(axis=axis) for i in range(x.shape[axis]))
''',
)

NARROW: Helper = (
    "_t2g_narrow",
    '''
def _t2g_narrow(x, dim, start, length):
    """torch.narrow: length entries from start (negative: from the end) along dim."""
    (axis,) = _t2g_axes(dim, x.ndim)
    n = x.shape[axis]
    start, length = [int(v.asscalar()) if hasattr(v, "asscalar") else int(v) for v in (start, length)]
    if start < 0:
        start += n
    if not 0 <= start <= n or length < 0 or start + length > n:
        raise IndexError("start (%d) + length (%d) exceeds dimension size (%d)." % (start, length, n))
    return _t2g_pieces(x, axis, [(start, start + length)], "torch.narrow")[0]
''',
)

ROLL: Helper = (
    "_t2g_roll",
    '''
def _t2g_roll(x, shifts, dims=None):
    """torch.roll: entries shifted along dims (over the flattened tensor without dims), wrapping round."""
    if dims is None:
        (shift,) = shifts if isinstance(shifts, (tuple, list)) else (shifts,)
        return _t2g_roll(x.reshape((-1,)), shift, 0).reshape(x.shape)
    shifts = tuple(shifts) if isinstance(shifts, (tuple, list)) else (shifts,)
    axes = _t2g_axes(dims, x.ndim)
    if len(shifts) != len(axes):
        raise ValueError("shifts and dimensions must align. shifts: %d, dims:%d" % (len(shifts), len(axes)))
    for shift, axis in zip(shifts, axes):
        n = x.shape[axis]
        s = int(shift) % n
        if s:
            x = ND.concat(ND.slice_axis(x, axis=axis, begin=n - s, end=n), ND.slice_axis(x, axis=axis, begin=0, end=n - s), dim=axis)
    return x
''',
)

REPEAT_INTERLEAVE: Helper = (
    "_t2g_repeat_interleave",
    '''
def _t2g_repeat_interleave(x, repeats, dim=None):
    """torch.repeat_interleave: each entry repeats times along dim (of the flattened tensor without dim);
    repeats an int, or one count per entry (a tensor or a list)."""
    if dim is None:
        x, dim = x.reshape((-1,)), 0
    (axis,) = _t2g_axes(dim, x.ndim)
    if isinstance(repeats, int):
        counts = [repeats] * x.shape[axis]
    else:
        counts = repeats.asnumpy().reshape(-1).tolist() if hasattr(repeats, "asnumpy") else list(repeats)
        if len(counts) == 1:
            counts = counts * x.shape[axis]
    if len(counts) != x.shape[axis] or any(int(c) < 0 for c in counts):
        raise ValueError("repeats must have the same size as input along dim, and be non-negative")
    index = [i for i, c in enumerate(counts) for _ in range(int(c))]
    if not index:
        raise ValueError("torch.repeat_interleave gives an empty tensor here, which MXNet's NDArray does not have")
    return ND.take(x, ND.array(index, ctx=x.context, dtype="int64"), axis=axis)
''',
)

MOVEDIM: Helper = (
    "_t2g_movedim",
    '''
def _t2g_movedim(x, source, destination):
    """torch.movedim: the dims source moved to destination, the others in their order."""
    src, dst = _t2g_axes(source, x.ndim), _t2g_axes(destination, x.ndim)
    if len(src) != len(dst) or len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError("movedim: Invalid source or destination dims")
    rest = iter([d for d in range(x.ndim) if d not in src])
    placed = dict(zip(dst, src))
    return _t2g_transpose(x, tuple(placed[i] if i in placed else next(rest) for i in range(x.ndim)))
''',
)

SQUEEZE: Helper = (
    "_t2g_squeeze",
    '''
def _t2g_squeeze(x, dim=None):
    """torch.squeeze: the dims of size 1 (of dim only) taken out; a dim of another size stays, as in torch
    (where MXNet's squeeze raises). All of them gone: shape (1,), MXNet's stand-in for 0-d."""
    axes = tuple(range(x.ndim)) if dim is None else _t2g_axes(dim, x.ndim)
    ones = tuple(sorted({a for a in axes if x.shape[a] == 1}))
    if not ones:
        return x
    if len(ones) == x.ndim:
        return x.reshape((1,))
    return ND.squeeze(x, axis=ones)
''',
)

UNFLATTEN: Helper = (
    "_t2g_unflatten",
    '''
def _t2g_unflatten(x, dim, sizes):
    """torch.unflatten: dim split into sizes (one of them -1 at most)."""
    (axis,) = _t2g_axes(dim, x.ndim)
    sizes = [int(s) for s in sizes]
    n = x.shape[axis]
    if sizes.count(-1) == 1:
        known = 1
        for s in sizes:
            known *= s if s != -1 else 1
        sizes[sizes.index(-1)] = n // known if known else 0
    return _t2g_reshape(x, x.shape[:axis] + tuple(sizes) + x.shape[axis + 1:])
''',
)

RESHAPE: Helper = (
    "_t2g_reshape",
    '''
def _t2g_reshape(x, *shape):
    """torch.reshape: the sizes worked out (one -1 at most) and given as they are (MXNet reads 0, -2... as codes)."""
    if len(shape) == 1 and not isinstance(shape[0], int):
        shape = shape[0]
    shape = [int(s) for s in shape]
    if shape.count(-1) == 1:
        known = 1
        for s in shape:
            known *= s if s != -1 else 1
        shape[shape.index(-1)] = x.size // known if known else 0
    total = 1
    for s in shape:
        total *= s
    if any(s < 0 for s in shape) or total != x.size:
        raise ValueError("shape %r is invalid for input of size %d" % (tuple(shape), x.size))
    if 0 in shape:
        raise ValueError("torch.reshape gives an empty tensor here, which MXNet's NDArray does not have")
    return x.reshape(tuple(shape)) if shape else x.reshape((1,))
''',
)

TILE: Helper = (
    "_t2g_tile",
    '''
def _t2g_tile(x, dims):
    """torch.tile: x repeated dims times along each dim (dims padded with 1s in front, or x's shape);
    one concat per dim (nd.tile fails with "Too many reduction axes" beyond a few dims)."""
    dims = (dims,) if isinstance(dims, int) else tuple(int(d) for d in dims)
    if len(dims) < x.ndim:
        dims = (1,) * (x.ndim - len(dims)) + dims
    elif len(dims) > x.ndim:
        x = x.reshape((1,) * (len(dims) - x.ndim) + x.shape)
    if any(d <= 0 for d in dims):
        raise ValueError("torch.tile gives an empty tensor here, which MXNet's NDArray does not have")
    for axis, d in enumerate(dims):
        if d > 1:
            x = ND.concat(*([x] * d), dim=axis)
    return x
''',
)

EXPAND_AS: Helper = (
    "_t2g_expand_as",
    '''
def _t2g_expand_as(x, other):
    """torch's expand_as: x broadcast to other's shape (new dims in front)."""
    shape = other.shape
    if len(shape) > x.ndim:
        x = x.reshape((1,) * (len(shape) - x.ndim) + x.shape)
    return ND.broadcast_to(x, shape=shape)
''',
)

STACKS: Helper = (
    "_t2g_stack_like",
    '''
def _t2g_stack_like(tensors, how):
    """torch.hstack/vstack/dstack/column_stack of a sequence of tensors."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("%s expects a non-empty TensorList" % how)
    if how == "hstack":
        return ND.concat(*tensors, dim=0 if all(t.ndim == 1 for t in tensors) else 1)
    if how == "column_stack":
        return ND.concat(*[t.reshape((-1, 1)) if t.ndim <= 1 else t for t in tensors], dim=1)
    want = 2 if how == "vstack" else 3
    shaped = []
    for t in tensors:
        if t.ndim == 1:
            t = t.reshape((1, -1) if want == 2 else (1, -1, 1))
        elif t.ndim == 2 and want == 3:
            t = t.reshape(t.shape + (1,))
        shaped.append(t)
    return ND.concat(*shaped, dim=0 if want == 2 else 2)
''',
)

MATMUL: Helper = (
    "_t2g_matmul",
    '''
def _t2g_matmul(a, b):
    """torch.matmul: 1-d operands as a row/column taken out again, batch dims broadcast (nd.batch_dot takes 3-d ones)."""
    if a.ndim == 1 and b.ndim == 1:
        return ND.dot(a, b)  # (MXNet's stand-in for torch's 0-d)
    if b.ndim <= 2:
        return ND.dot(a, b)  # contracts a's last axis with b's first, as torch does
    a2 = a.reshape((1, -1)) if a.ndim == 1 else a
    batch_a, batch_b = a2.shape[:-2], b.shape[:-2]
    n = max(len(batch_a), len(batch_b))
    batch_a, batch_b = (1,) * (n - len(batch_a)) + batch_a, (1,) * (n - len(batch_b)) + batch_b
    batch = tuple(max(i, j) for i, j in zip(batch_a, batch_b))
    if any(i != j and 1 not in (i, j) for i, j in zip(batch_a, batch_b)):
        raise ValueError("matmul: batch dims %r and %r do not broadcast" % (batch_a, batch_b))
    a3 = ND.broadcast_to(a2.reshape(batch_a + a2.shape[-2:]), shape=batch + a2.shape[-2:]).reshape((-1,) + a2.shape[-2:])
    b3 = ND.broadcast_to(b.reshape(batch_b + b.shape[-2:]), shape=batch + b.shape[-2:]).reshape((-1,) + b.shape[-2:])
    out = ND.batch_dot(a3, b3).reshape(batch + (a2.shape[-2], b.shape[-1]))
    return out.squeeze(axis=out.ndim - 2) if a.ndim == 1 else out
''',
)

EINSUM: Helper = (
    "_t2g_einsum",
    '''
def _t2g_einsum(equation, operands):
    """torch.einsum by MXNet's NumPy einsum; a full contraction gets a new axis of size 1 on its first
    operand as its output (shape (1,), MXNet's stand-in for 0-d: mx.np's 0-d arrays do not go back to NDArray)."""
    operands = list(operands) if isinstance(operands, (list, tuple)) else [operands]
    out = MX.np.einsum(equation, *[o.as_np_ndarray() for o in operands])
    if out.ndim:
        return out.as_nd_ndarray()
    lhs = equation.split("->")[0]
    new = [c for c in "zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPONMLKJIHGFEDCBA" if c not in equation][0]
    terms = lhs.split(",")
    terms[0] = new + terms[0].strip()
    first = operands[0].expand_dims(axis=0)
    return MX.np.einsum(",".join(terms) + "->" + new, *[o.as_np_ndarray() for o in [first] + operands[1:]]).as_nd_ndarray()
''',
)

DIAG: Helper = (
    "_t2g_diag",
    '''
def _t2g_diag(x, diagonal=0):
    """torch.diag: a 1-d tensor as the diagonal of a square matrix, a matrix's diagonal as a 1-d tensor."""
    if x.ndim not in (1, 2):
        raise ValueError("diag(): Supports 1D or 2D tensors. Got %dD" % x.ndim)
    if x.ndim == 2 and not -x.shape[0] < diagonal < x.shape[1]:
        raise ValueError("torch.diag gives an empty tensor here, which MXNet's NDArray does not have")
    return ND.diag(x, k=diagonal)
''',
)

DIAGONAL: Helper = (
    "_t2g_diagonal",
    '''
def _t2g_diagonal(x, offset=0, dim1=0, dim2=1):
    """torch.diagonal: the diagonal of dims dim1/dim2 as the last dim."""
    a1, a2 = _t2g_axes((dim1, dim2), x.ndim)
    if a1 == a2:
        raise ValueError("diagonal dimensions cannot be identical %d, %d" % (dim1, dim2))
    if not -x.shape[a1] < offset < x.shape[a2]:
        raise ValueError("torch.diagonal gives an empty tensor here, which MXNet's NDArray does not have")
    return ND.diag(x, k=offset, axis1=a1, axis2=a2)
''',
)

DIAG_EMBED: Helper = (
    "_t2g_diag_embed",
    '''
def _t2g_diag_embed(x, offset=0, dim1=-2, dim2=-1):
    """torch.diag_embed: the last dim as the (offset) diagonals of new dims dim1/dim2."""
    n = x.shape[-1]
    m = n + abs(offset)
    if abs(offset):
        x = ND.concat(x, ND.zeros(x.shape[:-1] + (abs(offset),), ctx=x.context, dtype=x.dtype), dim=x.ndim - 1)
    eye = ND.eye(m, k=offset, ctx=x.context, dtype=x.dtype)
    out = ND.broadcast_mul(x.expand_dims(axis=x.ndim if offset >= 0 else x.ndim - 1), eye)
    d1, d2 = _t2g_axes((dim1, dim2), out.ndim)
    if d1 == d2:
        raise ValueError("diagonal dimensions cannot be identical %d, %d" % (dim1, dim2))
    return _t2g_movedim(out, (out.ndim - 2, out.ndim - 1), (d1, d2))
''',
)

TRIANGLE: Helper = (
    "_t2g_triangle",
    '''
def _t2g_triangle(x, diagonal=0, upper=False):
    """torch.tril / torch.triu of the last two dims (the others are a batch)."""
    if x.ndim < 2:
        raise ValueError("tril/triu: input tensor must have at least 2 dimensions")
    rows, cols = x.shape[-2:]
    i = ND.arange(rows, ctx=x.context, dtype="int64").reshape((-1, 1))
    j = ND.arange(cols, ctx=x.context, dtype="int64").reshape((1, -1))
    keep = ND.broadcast_greater_equal(j - i, ND.full((1, 1), diagonal, ctx=x.context, dtype="int64")) if upper \\
        else ND.broadcast_lesser_equal(j - i, ND.full((1, 1), diagonal, ctx=x.context, dtype="int64"))
    if x.dtype.__name__ == "bool_":
        return ND.broadcast_mul(x.astype("int32"), keep.astype("int32")).astype("bool")
    return ND.broadcast_mul(x, keep.astype(x.dtype))
''',
)

KRON: Helper = (
    "_t2g_kron",
    '''
def _t2g_kron(a, b):
    """torch.kron: every entry of a times b, laid out in blocks (the smaller rank padded with 1s in front)."""
    n = max(a.ndim, b.ndim)
    sa, sb = (1,) * (n - a.ndim) + a.shape, (1,) * (n - b.ndim) + b.shape
    wa = a.reshape(tuple(v for s in sa for v in (s, 1)))
    wb = b.reshape(tuple(v for s in sb for v in (1, s)))
    return ND.broadcast_mul(wa, wb).reshape(tuple(i * j for i, j in zip(sa, sb)))
''',
)

CROSS: Helper = (
    "_t2g_cross",
    '''
def _t2g_cross(a, b, dim=None):
    """torch.cross (dim None: the first dim of size 3) and torch.linalg.cross, operands broadcast."""
    n = max(a.ndim, b.ndim)
    shape = tuple(max(i, j) for i, j in zip((1,) * (n - a.ndim) + a.shape, (1,) * (n - b.ndim) + b.shape))
    a = ND.broadcast_to(a.reshape((1,) * (n - a.ndim) + a.shape), shape=shape)
    b = ND.broadcast_to(b.reshape((1,) * (n - b.ndim) + b.shape), shape=shape)
    if dim is None:
        dim = [d for d, s in enumerate(shape) if s == 3][0]
    (axis,) = _t2g_axes(dim, n)
    if shape[axis] != 3:
        raise ValueError("linalg.cross: inputs dimension %d must have length 3. Got %d" % (dim, shape[axis]))
    p = [ND.slice_axis(a, axis=axis, begin=i, end=i + 1) for i in range(3)]
    q = [ND.slice_axis(b, axis=axis, begin=i, end=i + 1) for i in range(3)]
    return ND.concat(p[1] * q[2] - p[2] * q[1], p[2] * q[0] - p[0] * q[2], p[0] * q[1] - p[1] * q[0], dim=axis)
''',
)
