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

# two masks in a logical op: MXNet's masks are 0/1 arrays of their comparison's dtype
MASK_HELPER = (
    "_t2g_mask_like",
    '''
def _t2g_mask_like(mask, like):
    """A 0/1 mask in the dtype of the mask it meets (MXNet's logical ops need one dtype)."""
    return mask if mask.dtype == like.dtype else mask.astype(like.dtype)
''',
)
