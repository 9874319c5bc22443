"""Runtime helpers: small functions a translation defines after its imports, where
what torch decides at run time (a dtype, a device given as a string) is not known
when translating. Each is ``(name, template)`` for ``Context.helper``; ``MX``
stands for ``mxnet``, ``ND`` for ``mxnet.nd``. Each is checked in the tests of
the rule that uses it.
"""

from __future__ import annotations

# A runtime helper for FLOAT() where the analysis does not know the dtype.
FLOAT_HELPER = (
    "_t2g_float",
    '''
def _t2g_float(x):
    """torch's promotion for a floating-point op: integer and boolean arrays become float32."""
    return x if x.dtype.__name__.startswith("float") else x.astype("float32")
''',
)

# ... and for a binary op between an array of unknown dtype and a floating-point one
LIKE_HELPER = (
    "_t2g_like",
    '''
def _t2g_like(x, y):
    """x as torch promotes it in an op with the floating-point array y: cast to y's dtype unless x is floating-point too."""
    return x if x.dtype.__name__.startswith("float") else x.astype(y.dtype)
''',
)


# a torch device that is a string at run time ("cuda" if ... else "cpu"), as MXNet's context
CONTEXT_HELPER = (
    "_t2g_context",
    '''
def _t2g_context(device):
    """A torch device given as a string ('cpu', 'cuda', 'cuda:1') as the MXNet context."""
    if isinstance(device, MX.Context):
        return device
    kind, _, index = str(device).partition(":")
    if kind == "cuda":
        return MX.gpu(int(index) if index else 0)
    if kind == "cpu":
        return MX.cpu()
    raise ValueError("no MXNet context for the torch device %r" % (device,))
''',
)

# ... and for LONG(): torch's sums accumulate integers and booleans in int64
LONG_HELPER = (
    "_t2g_long",
    '''
def _t2g_long(x):
    """torch's accumulation type for a sum: integer and boolean arrays become int64."""
    return x if x.dtype.__name__.startswith("float") else x.astype("int64")
''',
)

# torch's logical ops on masks: MXNet's nd ops refuse bool arrays and arrays of two dtypes
LOGICAL_HELPER = (
    "_t2g_logical",
    '''
def _t2g_logical(op, a, b=None):
    """torch's &, |, ^ (and ~ without b) of masks: MXNet's logical ops take 0/1 arrays of one
    dtype (comparisons give their inputs' dtype; bool arrays are read as uint8)."""
    def plain(m, like=None):
        if not isinstance(m, ND.NDArray):
            return m
        if m.dtype.__name__ == "bool_":
            m = m.astype("uint8")
        return m if like is None or m.dtype == like.dtype else m.astype(like.dtype)
    a = plain(a)
    return op(a) if b is None else op(a, plain(b, a if isinstance(a, ND.NDArray) else None))
''',
)

# DataLoader(ds, **kwargs) where kwargs may hold options that change only speed
LOADER_KWARGS_HELPER = (
    "_t2g_loader_kwargs",
    '''
def _t2g_loader_kwargs(kwargs):
    """torch DataLoader options without those that change only speed (Gluon's DataLoader lacks them)."""
    return {k: v for k, v in kwargs.items() if k not in ("prefetch_factor", "persistent_workers", "pin_memory_device", "in_order")}
''',
)

# a torch device's `.type` ('cuda', 'cpu') from the MXNet context that stands for it
DEVICE_TYPE_HELPER = (
    "_t2g_device_type",
    '''
def _t2g_device_type(context):
    """torch's `device.type` of the MXNet context standing for the device: 'cuda' for a GPU, else 'cpu'."""
    return "cuda" if context.device_type == "gpu" else "cpu"
''',
)

# a Gluon block built elsewhere (a class of another file), used where torch's module has its
# parameters already: what _t2g_to and _t2g_params call
INITIALIZED_HELPER = (
    "_t2g_initialized",
    '''
def _t2g_initialized(block):
    """The block with its parameters initialised where they are not yet (with the initializers the
    translated layers carry); torch's exist once the module is built. Initialised ones keep their values."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "already initialized, ignoring"
        block.initialize()
    return block
''',
)

# torch's `.to(device)` / `.cuda()` / `.cpu()` on a value the translation cannot tell is an
# array or a model (one built by a class or function of another file)
TO_HELPER = (
    "_t2g_to",
    '''
def _t2g_to(value, context):
    """torch's move to a device: an array is copied to the MXNet context; a Gluon block's parameters
    are initialised where they are not yet (torch's exist once the module is built) and moved there."""
    if isinstance(value, ND.NDArray):
        return value.as_in_context(context)
    if isinstance(value, MX.gluon.Block):
        _t2g_initialized(value).collect_params().reset_ctx(context)
        return value
    raise TypeError(
        "torch2gluon: only an array or a Gluon block moves to an MXNet context, not %s" % type(value).__name__
    )
''',
)

# nn.Dropout2d, whose mask depends on the input's rank
DROPOUT2D_HELPER = (
    "_T2GDropout2d",
    '''
class _T2GDropout2d(MX.gluon.Block):
    """torch's nn.Dropout2d: the mask is shared over H and W of an (N, C, H, W) input, over L of an
    (N, C, L) one (torch's reading of 3-D inputs), and drawn per element of a 2-D one."""

    def __init__(self, rate):
        super().__init__()
        self._rate = rate

    def forward(self, x):
        axes = {4: (2, 3), 3: (2,), 2: ()}.get(x.ndim)
        if axes is None:
            raise ValueError("torch2gluon: Dropout2d of a %d-D input is not translated" % x.ndim)
        return ND.Dropout(x, p=self._rate, axes=axes) if self._rate > 0 else x
''',
)

# `optim.X(model.parameters())` where the model is built elsewhere (a class of another file)
PARAMS_HELPER = (
    "_t2g_params",
    '''
def _t2g_params(model):
    """model.parameters() for an optimizer, of a Gluon block built elsewhere: torch's parameters
    exist once the module is built, Gluon's once it is initialised; those that are not yet are
    initialised (with the initializers the translated layers carry) before the Trainer takes them."""
    if not isinstance(model, MX.gluon.Block):
        raise TypeError("torch2gluon: the parameters of a %s are not a Gluon block's" % type(model).__name__)
    return _t2g_initialized(model).collect_params()
''',
)
