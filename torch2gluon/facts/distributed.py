"""torch.distributed on MXNet's distributed KVStore: the facts and the runtime helpers.

A DistributedDataParallel script becomes a data-parallel MXNet script whose
workers meet on a ``dist_sync`` KVStore (one scheduler, servers that sum what
the workers push; ``python -m torch2gluon.launch`` starts them). The helpers
below are templates the translation defines after its imports (``MX`` stands
for ``mxnet``, ``ND`` for ``mxnet.nd``; see ``Context.helper``):

- ``KVStoreGroup``: torch's default process group. One kvstore per worker,
  made at ``init_process_group`` (or first use); rank and world size from
  the kvstore (the scheduler hands out ranks, not the launch order);
  ``all_reduce`` (sum, average), ``broadcast``, ``barrier`` and ``spawn``.
- ``DistributedTrainer``: a ``gluon.Trainer`` on that kvstore with DDP's
  semantics (gradients averaged over the workers, every worker starting
  from rank 0's parameters).
- ``DistributedSampler``: torch's ``DistributedSampler`` as a Gluon sampler.

What was measured on MXNet 1.9.1 (2 workers, 1 server, loopback) and shaped
these helpers:

- ``gluon.Trainer(..., kvstore=kv)`` must have ``update_on_kvstore=False``:
  otherwise the servers run the optimizer on every key, the keys
  ``all_reduce`` uses included, and it returns optimizer-updated values.
- The kvstore *sums* the gradients the workers push; DDP *averages* them.
  ``rescale_grad = 1 / num_workers`` in the optimizer's parameters (the
  Trainer multiplies in ``1 / batch_size`` at each step) gives torch's
  update (tests/test_distributed_run.py compares it with torch's DDP).
- With ``update_on_kvstore=False`` the Trainer broadcasts rank 0's weights
  lazily, at its first step, and that broadcast races with the first
  gradient push on the same keys: a worker can start from the gradient sum
  as its weights. Broadcasting when the Trainer is made (kvstore and
  parameters initialised, ``nd.waitall()``, a barrier) fixes it; that needs
  the Trainer's private ``_init_kvstore``/``_init_params`` and the kvstore's
  ``_barrier``, which only ``DistributedTrainer`` calls.
- A server sums floating-point values only: an int64 push aborts the server
  (every worker then waits forever), and float64 values arrive at float32
  precision (``2**40 + 1`` pushed by each of two workers sums to ``2**41``).
  Integer tensors are therefore summed as two float32 halves (exact while
  the sum's magnitude stays below ``2**36``; beyond, ``OverflowError``).
- At exit the kvstore waits for every worker (ps-lite's finalize is a
  barrier): a worker that raised would wait for workers waiting for it.
  ``KVStoreGroup`` makes an uncaught exception end the worker at once
  (traceback, then ``os._exit(1)``), and the launcher stops the others.
- ``kv.init(key, ...)`` waits for every worker; ``pushpull`` is
  asynchronous: a worker that never reads the result runs ahead and may
  exit before the others are served, so ``all_reduce`` waits for it.
"""

from __future__ import annotations

from typing import Dict

# torch.distributed names (the translated ones and the refused ones)
DIST = "torch.distributed."
DDP_CLASSES = ("torch.nn.parallel.DistributedDataParallel", "torch.nn.parallel.distributed.DistributedDataParallel")
SAMPLER_CLASSES = ("torch.utils.data.distributed.DistributedSampler", "torch.utils.data.DistributedSampler")
SPAWN = ("torch.multiprocessing.spawn", "torch.multiprocessing.spawn.spawn")

# torch.distributed calls and what they give (for the analysis)
RANK_CALLS = ("torch.distributed.get_rank", "torch.distributed.get_world_size")
BOOL_CALLS = ("torch.distributed.is_initialized", "torch.distributed.is_available")
NONE_CALLS = (
    "torch.distributed.init_process_group", "torch.distributed.destroy_process_group",
    "torch.distributed.all_reduce", "torch.distributed.broadcast", "torch.distributed.barrier",
)

# ReduceOp members all_reduce translates: torch's op -> the helper's
REDUCE_OPS = {"SUM": "sum", "AVG": "avg"}

# torch.distributed functions that have no counterpart on the KVStore, with the reason
REFUSED: Dict[str, str] = {
    **{
        DIST + name: "has no counterpart on MXNet's KVStore, which only sums (all_reduce with SUM or AVG, "
        "broadcast and barrier are translated)"
        for name in (
            "all_gather", "all_gather_into_tensor", "all_gather_object", "gather", "gather_object", "scatter",
            "scatter_object_list", "reduce", "reduce_scatter", "reduce_scatter_tensor", "all_to_all",
            "all_to_all_single", "broadcast_object_list", "send", "recv", "isend", "irecv", "batch_isend_irecv",
            "P2POp", "monitored_barrier",
        )
    },
    DIST + "new_group": "creates a process group of its own: the KVStore has one group, all workers",
    DIST + "new_subgroups": "creates process groups of their own: the KVStore has one group, all workers",
    DIST + "get_backend": "names a torch backend; the translation runs on MXNet's KVStore",
    DIST + "get_global_rank": "maps ranks of a process group of its own: the KVStore has one group",
    DIST + "get_process_group_ranks": "lists the ranks of a process group: the KVStore has one group",
    DIST + "is_nccl_available": "asks for NCCL, which the translation does not use",
    DIST + "is_gloo_available": "asks for Gloo, which the translation does not use",
    DIST + "is_mpi_available": "asks for MPI, which the translation does not use",
    DIST + "device_mesh": "is a DTensor/FSDP feature with no MXNet counterpart",
}

# DistributedDataParallel arguments
DDP_PARAMS = [
    "module", "device_ids", "output_device", "dim", "broadcast_buffers", "process_group", "bucket_cap_mb",
    "find_unused_parameters", "check_reduction", "gradient_as_bucket_view", "static_graph",
    "delay_all_reduce_named_params", "param_to_hook_all_reduce", "mixed_precision", "device_mesh", "init_sync",
]
# ... that change where or how fast the work is done, not what it computes
DDP_DROPPED = (
    "device_ids", "output_device", "bucket_cap_mb", "find_unused_parameters", "check_reduction",
    "gradient_as_bucket_view", "static_graph", "broadcast_buffers",
)
DDP_REFUSED = {
    "process_group": "a process group of its own (the KVStore has one group, all workers)",
    "mixed_precision": "DDP's mixed precision (no MXNet counterpart)",
    "device_mesh": "a device mesh (no MXNet counterpart)",
    "delay_all_reduce_named_params": "delayed all-reduce of some parameters",
    "param_to_hook_all_reduce": "an all-reduce hook on a parameter",
}
# methods of a DDP model with no counterpart
DDP_METHODS_REFUSED = {
    "no_sync": "skips the gradient all-reduce for some steps; a DistributedTrainer sums at every step",
    "join": "handles uneven inputs; the KVStore needs every worker at every step",
    "register_comm_hook": "customises gradient communication, which the KVStore does itself",
    "join_hook": "handles uneven inputs; the KVStore needs every worker at every step",
}

# gradient clipping (T2G502 translates it; under DDP torch clips the averaged gradients)
CLIP_NORM = ("torch.nn.utils.clip_grad_norm_", "torch.nn.utils.clip_grad.clip_grad_norm_")
CLIP_VALUE = ("torch.nn.utils.clip_grad_value_", "torch.nn.utils.clip_grad.clip_grad_value_")

INIT_PARAMS = ["backend", "init_method", "timeout", "world_size", "rank", "store", "group_name", "pg_options", "device_id"]
ALL_REDUCE_PARAMS = ["tensor", "op", "group", "async_op"]
BROADCAST_PARAMS = ["tensor", "src", "group", "async_op", "group_src"]
BARRIER_PARAMS = ["group", "async_op", "device_ids"]
SPAWN_PARAMS = ["fn", "args", "nprocs", "join", "daemon", "start_method"]
SAMPLER_PARAMS = ["dataset", "num_replicas", "rank", "shuffle", "seed", "drop_last"]

# environment variables torchrun sets that only the scheduler knows here
ENV_RANK = {"RANK": "get_rank"}

# names of the helpers in the translation
GROUP = "KVStoreGroup"
TRAINER = "DistributedTrainer"
SAMPLER = "DistributedSampler"

LAUNCH_HEADER = (
    "# torch2gluon: data-parallel training on MXNet's distributed KVStore (dist_sync).",
    "# Launch it with N workers (instead of torchrun --nproc_per_node=N / mp.spawn):",
    "#     python -m torch2gluon.launch -n {workers} SCRIPT.py [ARGS]",
    "# Several hosts: the DMLC_* variables, see `python -m torch2gluon.launch --help`.",
)

KVSTORE_GROUP_CLASS = '''
class KVStoreGroup:
    """torch.distributed's default process group on MXNet's distributed
    KVStore (added by torch2gluon).

    Start the script with ``python -m torch2gluon.launch -n N script.py``:
    the launcher starts a scheduler and servers and sets the DMLC_*
    variables every worker reads. The kvstore ("dist_sync") is made once per
    worker; the scheduler hands out the ranks. Collectives push to keys of
    their own, far above the parameter indices a Trainer uses: one per
    shape and dtype, initialised once per worker (which waits for all).
    The servers sum float32 exactly and float64 at float32 precision;
    integer tensors are summed as two float32 halves (exact below 2**36).
    """

    kv = None
    keys = {}
    first_key = 1 << 30
    trainers = 0

    @classmethod
    def kvstore(cls):
        if cls.kv is None:
            import os

            if os.environ.get("DMLC_ROLE") != "worker":
                raise RuntimeError(
                    "this script trains on MXNet's distributed KVStore: start it with "
                    "`python -m torch2gluon.launch -n NUM_WORKERS script.py [args]`"
                )
            cls.kv = MX.kv.create("dist_sync")
            cls.fail_fast()
        return cls.kv

    @classmethod
    def fail_fast(cls):
        """A worker that raises leaves at once: the kvstore would wait at exit for
        the other workers, which wait for this one; the launcher stops them. At a
        normal exit the kvstore is closed before the interpreter winds down."""
        import atexit
        import os
        import sys

        report = sys.excepthook

        def leave(kind, value, traceback):
            report(kind, value, traceback)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(1)

        def close():
            sys.excepthook = report
            cls.kv = None

        sys.excepthook = leave
        atexit.register(close)

    @classmethod
    def init_process_group(cls, rank=None, world_size=None):
        kv = cls.kvstore()
        if world_size is not None and world_size not in (-1, kv.num_workers):
            raise ValueError(
                f"the script asks for {world_size} workers; the launcher started "
                f"{kv.num_workers} (python -m torch2gluon.launch -n {world_size} ...)"
            )
        if rank is not None and rank not in (-1, kv.rank):
            raise ValueError(
                f"rank {rank} was passed, but the scheduler made this worker rank {kv.rank}"
            )

    @classmethod
    def is_initialized(cls):
        return cls.kv is not None

    @classmethod
    def get_rank(cls):
        return cls.kvstore().rank

    @classmethod
    def get_world_size(cls):
        return cls.kvstore().num_workers

    @classmethod
    def sum_floats(cls, array):
        """Every worker's ``array`` (floating point) summed, in place."""
        kv = cls.kvstore()
        signature = (tuple(array.shape), str(array.dtype))
        key = cls.keys.get(signature)
        if key is None:
            key = cls.first_key + len(cls.keys)
            cls.keys[signature] = key
            kv.init(key, ND.zeros(array.shape, array.context, dtype=array.dtype))
        kv.pushpull(key, array, out=array)
        array.wait_to_read()

    @classmethod
    def all_reduce(cls, tensor, op="sum"):
        """``dist.all_reduce(tensor, op)`` with op SUM or AVG: in place."""
        import numpy

        if numpy.issubdtype(numpy.dtype(tensor.dtype), numpy.floating):
            cls.sum_floats(tensor)
        else:
            # the servers sum floats only: exact integer halves in float32
            wide = tensor.astype("float64")
            high = ND.floor(wide / 4096).reshape(-1)
            low = wide.reshape(-1) - high * 4096
            halves = ND.stack(high, low, axis=0).astype("float32")
            cls.sum_floats(halves)
            high, low = halves[0].astype("float64"), halves[1].astype("float64")
            if high.size and ND.abs(high).max().asscalar() >= 2**24:
                raise OverflowError("all_reduce: an integer sum beyond 2**36")
            total = high * 4096 + low
            tensor[:] = total.reshape(tensor.shape).astype(tensor.dtype)
        if op == "avg":
            tensor[:] = tensor / cls.get_world_size()
        tensor.wait_to_read()

    @classmethod
    def broadcast(cls, tensor, src=0):
        """``dist.broadcast(tensor, src)``: every worker gets rank ``src``'s values."""
        if cls.get_rank() != src:
            tensor[:] = 0
        cls.all_reduce(tensor)

    @classmethod
    def barrier(cls):
        cls.kvstore()._barrier()

    @classmethod
    def spawn(cls, fn, args=(), nprocs=1):
        """``mp.spawn(fn, args, nprocs)``: the launcher started the processes;
        this one runs ``fn(rank, *args)``."""
        kv = cls.kvstore()
        if nprocs != kv.num_workers:
            raise ValueError(
                f"the script spawns {nprocs} processes; the launcher started "
                f"{kv.num_workers} (python -m torch2gluon.launch -n {nprocs} ...)"
            )
        fn(kv.rank, *args)
'''.lstrip()


DISTRIBUTED_TRAINER_CLASS = '''
class DistributedTrainer(MX.gluon.Trainer):
    """A gluon.Trainer for a DistributedDataParallel model (added by torch2gluon).

    Gradients are summed over the workers by the distributed KVStore and the
    optimizer runs on every worker (update_on_kvstore=False: the servers only
    sum); ``rescale_grad = 1 / num_workers`` makes the sum DDP's average.
    Rank 0's parameters are broadcast to every worker here, as DDP does when
    it wraps the model (the Trainer would otherwise broadcast them at its
    first step, racing with the first gradient push).
    """

    def __init__(self, params, optimizer, optimizer_params=None, **kwargs):
        kv = KVStoreGroup.kvstore()
        if KVStoreGroup.trainers:
            raise RuntimeError(
                "one DistributedTrainer per process: the Trainers' keys would overlap"
            )
        KVStoreGroup.trainers += 1
        optimizer_params = dict(optimizer_params or {})
        scale = optimizer_params.get("rescale_grad", 1.0)
        optimizer_params["rescale_grad"] = scale / kv.num_workers
        kwargs.update(kvstore=kv, update_on_kvstore=False)
        super().__init__(params, optimizer, optimizer_params, **kwargs)
        deferred = [p.name for p in self._params if p._deferred_init]
        if deferred:
            raise RuntimeError(
                "parameters must be initialised before their DistributedTrainer is made "
                f"(give the layers their input sizes): {', '.join(deferred)}"
            )
        self._init_kvstore()
        self._init_params()
        ND.waitall()
        kv._barrier()
'''.lstrip()


DISTRIBUTED_SAMPLER_CLASS = '''
class DistributedSampler(MX.gluon.data.Sampler):
    """torch.utils.data.distributed.DistributedSampler for a Gluon DataLoader
    (added by torch2gluon): each of ``num_replicas`` workers gets every
    ``num_replicas``-th index from ``rank`` on, of a permutation drawn from
    ``seed + epoch`` (the same on every worker; ``set_epoch`` reshuffles),
    padded by repeating it to a multiple of ``num_replicas`` (or cut,
    ``drop_last``). The permutation is numpy's, so it is not torch's.
    """

    def __init__(
        self,
        dataset,
        num_replicas=None,
        rank=None,
        shuffle=True,
        seed=0,
        drop_last=False,
    ):
        if num_replicas is None:
            num_replicas = KVStoreGroup.get_world_size()
        if rank is None:
            rank = KVStoreGroup.get_rank()
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"rank {rank} is not in [0, {num_replicas - 1}]")
        self.length = len(dataset)
        self.num_replicas = num_replicas
        self.rank = rank
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.epoch = 0
        if drop_last and self.length % num_replicas:
            self.num_samples = -(-(self.length - num_replicas) // num_replicas)
        else:
            self.num_samples = -(-self.length // num_replicas)
        self.total_size = self.num_samples * num_replicas

    def set_epoch(self, epoch):
        self.epoch = epoch

    @staticmethod
    def of(loader):
        """The sampler of a Gluon DataLoader (torch's ``loader.sampler``)."""
        batches = getattr(loader, "_batch_sampler", None)
        return loader.sampler if batches is None else batches._sampler

    def permutation(self):
        import numpy

        draw = numpy.random.RandomState(self.seed + self.epoch)
        return draw.permutation(self.length).tolist()

    def __iter__(self):
        indices = self.permutation() if self.shuffle else list(range(self.length))
        missing = self.total_size - len(indices)
        if missing > 0:
            indices += (indices * -(-missing // len(indices)))[:missing]
        else:
            indices = indices[: self.total_size]
        return iter(indices[self.rank : self.total_size : self.num_replicas])

    def __len__(self):
        return self.num_samples
'''.lstrip()


HELPERS = {
    GROUP: KVSTORE_GROUP_CLASS,
    TRAINER: DISTRIBUTED_TRAINER_CLASS,
    SAMPLER: DISTRIBUTED_SAMPLER_CLASS,
}
