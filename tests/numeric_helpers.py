"""Run a PyTorch snippet and its translation side by side and compare values.

Like PaConvert's ``apibase``: the torch source is executed as is, then
translated with :func:`torch2gluon.translate`, the translation is checked to be
complete (no ERROR diagnostics, no torch left) and executed in a fresh
namespace; the requested names are read from both namespaces and converted to
numpy so values, dtypes and shapes can be compared.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from torch2gluon import Options, Severity, translate

TORCH_ROOTS = {"torch", "torchvision"}


def torch_names_in(code: str) -> List[str]:
    """Names or imports of torch/torchvision left in ``code`` (comments ignored)."""
    tree = ast.parse(code)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in TORCH_ROOTS]
        elif isinstance(node, ast.ImportFrom):
            if node.module and node.module.split(".")[0] in TORCH_ROOTS:
                found.append(node.module)
        elif isinstance(node, ast.Name) and node.id in TORCH_ROOTS:
            found.append(node.id)
    return found


def check_translation(source: str, options: Optional[Options] = None):
    """Translate and assert the result is complete and torch-free."""
    r = translate(source, options=options)
    errors = [d for d in r.diagnostics if d.severity is Severity.ERROR]
    assert not errors, f"translation has errors: {errors}\n--- code ---\n{r.code}"
    left = torch_names_in(r.code)
    assert not left, f"translation still references {left}\n--- code ---\n{r.code}"
    return r


def to_numpy(value: Any) -> Any:
    """torch tensor / mx NDArray / nested lists of them -> numpy (others as is)."""
    import mxnet as mx
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, mx.nd.NDArray):
        return value.asnumpy()
    if isinstance(value, list):
        return [to_numpy(v) for v in value]
    if isinstance(value, tuple):  # torch's named tuples (values, indices) too
        return tuple(to_numpy(v) for v in value)
    if isinstance(value, (float, int, np.generic)):
        return np.asarray(value)
    return value


def torch_inputs(arrays: Mapping[str, np.ndarray]) -> Dict[str, Any]:
    import torch

    return {k: torch.from_numpy(np.array(v, copy=True)) for k, v in arrays.items()}


def mx_inputs(arrays: Mapping[str, np.ndarray]) -> Dict[str, Any]:
    import mxnet as mx

    return {k: mx.nd.array(v, dtype=v.dtype) for k, v in arrays.items()}


@dataclass
class Both:
    translation: Any
    torch_ns: Dict[str, Any]
    mx_ns: Dict[str, Any]

    def values(self, names: Sequence[str]) -> Tuple[List[Any], List[Any]]:
        return ([to_numpy(self.torch_ns[n]) for n in names], [to_numpy(self.mx_ns[n]) for n in names])


def exec_both(
    torch_src: str,
    *,
    inputs: Optional[Mapping[str, np.ndarray]] = None,
    torch_env: Optional[Mapping[str, Any]] = None,
    mx_env: Optional[Mapping[str, Any]] = None,
    options: Optional[Options] = None,
) -> Both:
    """Execute ``torch_src`` and its translation; return both namespaces.

    ``inputs`` are numpy arrays given to both sides (as torch tensors / NDArrays
    of the same dtype); ``torch_env``/``mx_env`` are extra names per side.
    """
    tns: Dict[str, Any] = {"__name__": "torch_snippet"}
    tns.update(torch_inputs(inputs or {}))
    tns.update(torch_env or {})
    exec(compile(torch_src, "<torch snippet>", "exec"), tns)

    r = check_translation(torch_src, options)
    mns: Dict[str, Any] = {"__name__": "gluon_snippet"}
    mns.update(mx_inputs(inputs or {}))
    mns.update(mx_env or {})
    try:
        exec(compile(r.code, "<translated snippet>", "exec"), mns)
    except Exception as e:  # pragma: no cover - show the code on failure
        raise AssertionError(f"translated code failed: {type(e).__name__}: {e}\n--- code ---\n{r.code}") from e
    return Both(r, tns, mns)


def run_both(torch_src: str, names: Iterable[str], **kw) -> Tuple[List[Any], List[Any]]:
    """Values of ``names`` after running ``torch_src`` and its translation, as numpy."""
    return exec_both(torch_src, **kw).values(list(names))


def assert_same(t: Any, m: Any, *, rtol: float = 1e-5, atol: float = 1e-6, dtype: bool = True, what: str = "") -> None:
    """Same shape, (optionally) same dtype, and close values."""
    t, m = np.asarray(t), np.asarray(m)
    assert t.shape == m.shape, f"{what}: shape torch {t.shape} vs gluon {m.shape}"
    if dtype:
        assert t.dtype == m.dtype, f"{what}: dtype torch {t.dtype} vs gluon {m.dtype}"
    np.testing.assert_allclose(m.astype(np.float64), t.astype(np.float64), rtol=rtol, atol=atol, err_msg=what)


def copy_params(torch_module, gluon_block, *, initialize: bool = True) -> None:
    """Copy a torch module's parameters into a Gluon block, by order.

    Initialises the block first if its parameters do not exist yet. Torch
    ``Linear`` and Gluon ``Dense`` both store the weight as (out, in).
    """
    import mxnet as mx

    gparams = list(gluon_block.collect_params().values())
    if initialize:
        try:
            for p in gparams:
                p.data()
        except RuntimeError:
            gluon_block.initialize()
    tparams = list(torch_module.parameters())
    assert len(tparams) == len(gparams), f"{len(tparams)} torch vs {len(gparams)} gluon parameters"
    for tp, gp in zip(tparams, gparams):
        value = tp.detach().numpy()
        assert tuple(gp.shape) == value.shape, f"{gp.name}: gluon {gp.shape} vs torch {value.shape}"
        gp.set_data(mx.nd.array(value, dtype=value.dtype))


_GLUON_TO_TORCH_LEAF = {"gamma": "weight", "beta": "bias"}


def copy_state(torch_module, gluon_block) -> None:
    """Copy a torch module's parameters *and buffers* into a Gluon block, by key.

    Keys are structural on both sides (``0.weight``, ``conv1.bias``); a
    BatchNorm's ``weight``/``bias`` are Gluon's ``gamma``/``beta``, its running
    statistics have the same names, and ``num_batches_tracked`` has no twin.
    """
    import mxnet as mx

    state = torch_module.state_dict()
    gparams = gluon_block._collect_params_with_prefix()
    used = set()
    for key, gp in gparams.items():
        prefix, _, leaf = key.rpartition(".")
        tkey = (prefix + "." if prefix else "") + _GLUON_TO_TORCH_LEAF.get(leaf, leaf)
        assert tkey in state, f"gluon {key}: no torch {tkey} in {sorted(state)}"
        value = state[tkey].detach().cpu().numpy()
        assert tuple(gp.shape) == value.shape, f"{key}: gluon {gp.shape} vs torch {value.shape}"
        gp.set_data(mx.nd.array(value, dtype=value.dtype))
        used.add(tkey)
    left = {k for k in state if k not in used and not k.endswith("num_batches_tracked")}
    assert not left, f"torch state without a Gluon twin: {sorted(left)}"


# -- shared by the layer tests ------------------------------------------------

LAYER_HEADER = "import torch\nfrom torch import nn\nimport torch.nn.functional as F\n"


def layer_pair(line: str):
    """torch layer and its translation, from ``layer = <line>``."""
    both = exec_both(LAYER_HEADER + f"layer = {line}\n")
    return both.torch_ns["layer"], both.mx_ns["layer"], both.translation


def random_array(shape, seed: int) -> np.ndarray:
    """Standard-normal float32 values, the same for a given shape and seed."""
    return np.random.RandomState(seed).randn(*shape).astype(np.float32)
