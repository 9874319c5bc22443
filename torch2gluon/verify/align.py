"""Aligned mode, child side: make a torch run and an MXNet run comparable step by step.

Installed in the child process before the script starts (never imported by
``import torch2gluon``):

* **Same start.** torch: at each optimizer's first step (before it updates),
  its parameters are saved, in order, to ``ALIGN_DIR/init_<k>.npz``, k being
  the order in which the optimizers were made. MXNet: when the k-th
  ``gluon.Trainer`` is made, those values are copied into its trainable
  parameters by order, after checking that the shapes agree (the translation
  makes one Trainer per optimizer, in the same order).
* **Same samples in the same order.** ``RandomSampler`` of both frameworks
  yields, for the k-th iteration of the i-th sampler made,
  ``numpy.random.RandomState(seed + 1000 * i + k).permutation(n)``.
* **No dropout.** torch's ``F.dropout*`` and MXNet's ``nd.Dropout`` (and
  ``sym.Dropout``, for hybridised models) become the identity.
* **Randomness that cannot be aligned.** A framework random function called
  after training started (``randn_like`` in a forward pass, random data
  augmentation) is noted in the record as ``unaligned``; the comparison then
  reports the run as not alignable instead of passing or failing it. Random
  numbers drawn to initialise a model (torch.nn.init, an MXNet Initializer)
  do not count: a model built during training, say to load a checkpoint
  into, is either loaded (and the draws do not matter) or used as it is (and
  its different start shows in the compared values).
"""

from __future__ import annotations

import functools
import os
from typing import Any, Callable, List

INIT_FILE = "init_{}.npz"


class AlignState:
    def __init__(self, directory: str, seed: int, rec: Any) -> None:
        self.directory = directory
        self.seed = seed
        self.rec = rec
        self.samplers = 0
        self.optimizers = 0  # torch optimizers / gluon Trainers made so far
        self.initializing = 0  # inside a parameter initialiser
        self.unaligned: List[str] = []
        self.notes: List[str] = []

    def init_path(self, k: int) -> str:
        return os.path.join(self.directory, INIT_FILE.format(k))

    def permutation(self, sampler: Any, n: int):
        import numpy as np

        idx = getattr(sampler, "_t2g_sampler_index", None)
        if idx is None:
            idx = self.samplers
            self.samplers += 1
            try:
                object.__setattr__(sampler, "_t2g_sampler_index", idx)
            except Exception:  # noqa: BLE001
                pass
        k = getattr(sampler, "_t2g_epoch", 0)
        try:
            object.__setattr__(sampler, "_t2g_epoch", k + 1)
        except Exception:  # noqa: BLE001
            pass
        return np.random.RandomState(self.seed + 1000 * idx + k).permutation(n)

    def training(self) -> bool:
        return self.rec.total_backwards > 0

    def random_call(self, name: str) -> None:
        if self.training() and not self.initializing and not self.unaligned:
            self.unaligned.append(f"{name} called during training (after {len(self.rec.steps)} steps)")


def _watch(module: Any, names: List[str], state: AlignState, prefix: str) -> None:
    for name in names:
        orig = getattr(module, name, None)
        if orig is None or getattr(orig, "_t2g_watched", False):
            continue

        def make(orig: Callable, name: str) -> Callable:
            @functools.wraps(orig)
            def wrapped(*args: Any, **kwargs: Any) -> Any:
                state.random_call(prefix + name)
                return orig(*args, **kwargs)

            wrapped._t2g_watched = True  # type: ignore[attr-defined]
            return wrapped

        try:
            setattr(module, name, make(orig, name))
        except (AttributeError, TypeError):
            pass


def _initializing(func: Callable, state: AlignState) -> Callable:
    """``func`` with the random draws it makes marked as initialisation."""

    @functools.wraps(func)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        state.initializing += 1
        try:
            return func(*args, **kwargs)
        finally:
            state.initializing -= 1

    return wrapped


def _identity(x: Any, *args: Any, **kwargs: Any) -> Any:
    return x


# ---------------------------------------------------------------------------
# torch
# ---------------------------------------------------------------------------


def install_torch(state: AlignState) -> None:
    import numpy as np
    import torch
    import torch.nn.functional as F
    import torch.utils.data
    from torch.optim.optimizer import register_optimizer_step_pre_hook

    def sampler_iter(self: Any) -> Any:
        if getattr(self, "replacement", False) or getattr(self, "_num_samples", None) not in (None, len(self.data_source)):
            state.unaligned.append("a RandomSampler with replacement or num_samples cannot be aligned")
            return iter(torch.randperm(len(self.data_source)).tolist())
        return iter(int(i) for i in state.permutation(self, len(self.data_source)))

    torch.utils.data.RandomSampler.__iter__ = sampler_iter  # type: ignore[method-assign]

    for name in ("dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"):
        if hasattr(F, name):
            setattr(F, name, _identity)

    opt_init = torch.optim.Optimizer.__init__

    @functools.wraps(opt_init)
    def optimizer_init(self: Any, *args: Any, **kwargs: Any) -> None:
        opt_init(self, *args, **kwargs)
        if not hasattr(self, "_t2g_index"):
            self._t2g_index = state.optimizers
            state.optimizers += 1

    torch.optim.Optimizer.__init__ = optimizer_init  # type: ignore[method-assign]

    def pre_hook(opt: Any, args: Any, kwargs: Any) -> None:
        if getattr(opt, "_t2g_saved", False):
            return
        opt._t2g_saved = True
        path = state.init_path(getattr(opt, "_t2g_index", 0))
        arrays = [p.detach().cpu().numpy() for group in opt.param_groups for p in group["params"]]
        tmp = f"{path}.{os.getpid()}.tmp.npz"  # distributed: every worker saves (the same values)
        np.savez(tmp, *arrays)
        os.replace(tmp, path)

    register_optimizer_step_pre_hook(pre_hook)
    import torch.nn.init as torch_init

    for name in dir(torch_init):
        func = getattr(torch_init, name)
        if not name.startswith("_") and callable(func) and getattr(func, "__module__", "") == torch_init.__name__:
            setattr(torch_init, name, _initializing(func, state))
    _watch(torch, ["rand", "randn", "rand_like", "randn_like", "randint", "randint_like", "bernoulli",
                   "normal", "multinomial", "poisson"], state, "torch.")
    _watch(torch.Tensor, ["normal_", "uniform_", "bernoulli_", "exponential_", "geometric_", "cauchy_",
                          "log_normal_"], state, "Tensor.")


# ---------------------------------------------------------------------------
# mxnet
# ---------------------------------------------------------------------------


def install_mxnet(state: AlignState) -> None:
    import numpy as np
    import mxnet
    import mxnet.gluon
    import mxnet.ndarray
    from mxnet.gluon.data import sampler as mx_sampler

    def sampler_iter(self: Any) -> Any:
        return iter(int(i) for i in state.permutation(self, self._length))

    mx_sampler.RandomSampler.__iter__ = sampler_iter
    mxnet.ndarray.Dropout = _identity  # gluon's nn.Dropout looks it up at call time
    import mxnet.symbol

    mxnet.symbol.Dropout = _identity  # the same in a hybridised graph (F is mxnet.symbol)

    trainer_cls = mxnet.gluon.Trainer
    orig_init = trainer_cls.__init__

    @functools.wraps(orig_init)
    def trainer_init(self: Any, *args: Any, **kwargs: Any) -> None:
        orig_init(self, *args, **kwargs)
        # The Trainer sorts a ParameterDict by name; the model's order (the
        # order torch's parameters() has) is the dict's own insertion order.
        given: Any = args[0] if args else kwargs.get("params")
        ordered = list(given.values()) if hasattr(given, "values") else list(self._params)
        k = state.optimizers
        state.optimizers += 1
        path = state.init_path(k)
        if not os.path.exists(path):
            which = "" if k == 0 else f" for optimizer {k + 1}"
            state.unaligned.append(f"the torch run saved no initial parameters{which} (did it take an optimizer step?)")
            return
        with np.load(path) as data:
            values = [data[f"arr_{i}"] for i in range(len(data.files))]
        params = [p for p in ordered if p.grad_req != "null"]
        if len(params) != len(values):
            state.unaligned.append(
                f"parameter count differs: torch optimizer has {len(values)}, gluon Trainer has {len(params)}"
            )
            return
        for i, (p, v) in enumerate(zip(params, values)):
            shape = tuple(p.shape) if p.shape is not None else ()
            if len(shape) != v.ndim or any(s not in (0, -1, t) for s, t in zip(shape, v.shape)):
                state.unaligned.append(f"parameter {i} ({p.name}) has shape {shape}, torch's has {v.shape}")
                return
            p.set_data(mxnet.nd.array(v, dtype=v.dtype))
        state.notes.append(f"copied {len(values)} initial parameters from the torch run" + (f" (optimizer {k + 1})" if k else ""))

    trainer_cls.__init__ = trainer_init
    initializer = mxnet.initializer.Initializer
    initializer.__call__ = _initializing(initializer.__call__, state)

    _watch(mxnet.ndarray.random, ["uniform", "normal", "randint", "randn", "exponential", "gamma", "poisson",
                                  "multinomial", "shuffle", "bernoulli", "uniform_like", "normal_like"],
           state, "nd.random.")
