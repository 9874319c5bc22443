"""Distributed data-parallel training: torch.distributed, DDP and DistributedSampler on MXNet's KVStore."""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Set, Tuple, cast

import libcst as cst

from ..analysis.kinds import Kind
from ..base.diagnostics import Severity
from ..base.syntax import arg, walk
from ..facts import distributed as facts
from ..facts.catalog import LOADERS
from ..facts.optimizers import shown
from ..rewrite.context import Context
from ..rewrite.optimizers import is_trainer
from ._base import Example, Rule, Unbindable, bind, code_of, literal

_KEY_DDP = "distributed:wrapped"  # ctx.memo: ids of the origins of the modules DDP wraps
_KEY_WORKERS = "distributed:workers"
_KEY_SAMPLERS = "distributed:samplers"  # ctx.memo: the file makes a DistributedSampler  # ctx.memo: the literal process count of mp.spawn, if any


def _translated(imports: str, helpers: Sequence[str], body: str, workers: str = "N") -> str:
    """What the examples translate into: the launch header, the imports, the helpers, the code."""
    header = "".join(line.format(workers=workers) + "\n" for line in facts.LAUNCH_HEADER)
    defined = "".join(shown(facts.HELPERS[h]) + "\n\n" for h in (facts.GROUP, *helpers))
    return header + imports + "\n\n" + defined + body


def _helpers(ctx: Context, *names: str) -> cst.Name:
    """Defines the helpers ``names`` (and the process group they use); a Name of the first."""
    for name in (facts.GROUP, *names):
        ctx.helper(name, facts.HELPERS[name])
    return cst.Name(names[0] if names else facts.GROUP)


def _group_call(ctx: Context, method: str, *args: cst.Arg) -> cst.Call:
    """``KVStoreGroup.<method>(args)``."""
    return cst.Call(func=cst.Attribute(value=_helpers(ctx), attr=cst.Name(method)), args=list(args))


def _ddp_calls(ctx: Context) -> Tuple[Set[int], bool]:
    """ids of the constructor calls of the modules a DistributedDataParallel wraps,
    and whether one wraps a module the analysis cannot follow (``self.model =
    DDP(model)`` in a method: what callers pass a method is not followed).
    Computed once."""
    found = ctx.memo.get(_KEY_DDP)
    if found is None:
        origins: Set[int] = set()
        unfollowed = False
        if "DistributedDataParallel" in (ctx.source or "DistributedDataParallel"):
            for node in walk(ctx.module):
                if isinstance(node, cst.Call) and ctx.call_name(node) in facts.DDP_CLASSES:
                    value = ctx.value(node)
                    if value.origin is not None:
                        origins.add(id(value.origin))
                    unfollowed = unfollowed or value.origin is node or value.origin is None
        found = ctx.memo[_KEY_DDP] = (origins, unfollowed)
    return found  # type: ignore[return-value]


def _wrapped(ctx: Context) -> Set[int]:
    return _ddp_calls(ctx)[0]


def _unfollowed(ctx: Context) -> bool:
    return _ddp_calls(ctx)[1]


def _is_wrapped(ctx: Context, node: cst.BaseExpression) -> bool:
    """``node`` (original) holds a module that a DistributedDataParallel in this file wraps."""
    value = ctx.value(node)
    return value.kind is Kind.MODULE and value.origin is not None and id(value.origin) in _wrapped(ctx)


def _not_none(node: Optional[cst.BaseExpression]) -> bool:
    return node is not None and literal(node) is not None


class _Dropping(Rule):
    """Statements this rule drops become a marked ``pass``; ``leave_block`` removes it
    unless the block would be empty."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._dropped: Set[int] = set()

    def _drop(self, updated: cst.SimpleStatementLine) -> cst.SimpleStatementLine:
        stmt = updated.with_changes(body=[cst.Pass()])
        self._dropped.add(id(stmt))
        return stmt

    def leave_block(self, original: cst.CSTNode, body: List[cst.BaseStatement]):
        if not any(id(s) in self._dropped for s in body):
            return None
        kept = [s for s in body if id(s) not in self._dropped]
        if not kept:
            return body[:1]
        # comments above a dropped statement stay, above the next one kept
        out: List[cst.BaseStatement] = []
        carried: List[cst.EmptyLine] = []
        for s in body:
            lines: Sequence[cst.EmptyLine] = getattr(s, "leading_lines", ())
            if id(s) in self._dropped:
                carried += [line for line in lines if line.comment is not None]
                continue
            if carried:
                entry = self.ctx.origin.get(id(s))
                s = s.with_changes(leading_lines=[*carried, *lines])
                if entry is not None:  # markers and formatting find its original
                    self.ctx.origin[id(s)] = (s, entry[1])
                carried = []
            out.append(s)
        return out


class ProcessGroup(_Dropping):
    """torch.distributed's process group becomes MXNet's distributed KVStore.

    ## What it does
    A script that trains with ``torch.distributed`` becomes a script whose
    workers meet on MXNet's distributed KVStore (``dist_sync``): the
    translation defines ``KVStoreGroup`` (one kvstore per worker, made once)
    after its imports, and its header says how to launch it (``python -m
    torch2gluon.launch -n N script.py``, which starts the scheduler and the
    servers and sets the ``DMLC_*`` variables).

    - ``dist.init_process_group(backend, ...)`` ->
      ``KVStoreGroup.init_process_group()``, which makes the kvstore; a
      ``rank``/``world_size`` passed is checked against the kvstore's at run
      time. The backend (gloo, nccl, mpi) and ``init_method`` are dropped:
      the launcher's variables say where the scheduler is.
    - ``dist.get_rank()`` / ``dist.get_world_size()`` / ``dist.is_initialized()``
      -> ``KVStoreGroup.get_rank()`` (``kv.rank``: the scheduler hands out
      the ranks, not the launch order) / ``get_world_size()``
      (``kv.num_workers``) / ``is_initialized()``; ``dist.is_available()``
      -> ``True``; ``os.environ["RANK"]`` -> ``str(KVStoreGroup.get_rank())``
      (``int(os.environ["RANK"])`` -> ``KVStoreGroup.get_rank()``). The
      launcher sets ``WORLD_SIZE``, ``LOCAL_RANK`` and ``LOCAL_WORLD_SIZE`` as
      torchrun does.
    - ``dist.all_reduce(t)`` (``op=ReduceOp.SUM`` or ``AVG``) ->
      ``KVStoreGroup.all_reduce(t)`` (``"avg"``): ``pushpull`` on a key of its
      own, in place, waiting for the result. ``dist.broadcast(t, src)`` ->
      ``KVStoreGroup.broadcast(t, src)``; ``dist.barrier()`` ->
      ``KVStoreGroup.barrier()``.
    - ``mp.spawn(fn, args=(...), nprocs=n)`` ->
      ``KVStoreGroup.spawn(fn, (...), n)``: the launcher starts the
      processes, each runs ``fn(rank, *args)`` (and checks that ``n`` workers
      were started).
    - ``dist.destroy_process_group()`` statements go (the kvstore closes when
      the worker exits).

    ## Why
    DDP's collectives run on the KVStore's servers, which sum what every
    worker pushes: all_reduce with SUM is a push and a pull of the sum,
    average divides by the number of workers, broadcast from rank ``src``
    is the sum of ``src``'s values and everyone else's zeros. The servers
    sum floating-point values only (an int64 push aborts the server, and
    float64 arrives at float32 precision): integer tensors are summed as two
    float32 halves, exactly while the sum's magnitude is below 2**36.

    ## Flags
    ``gather``/``all_gather``/``scatter``/``reduce``/``all_to_all``/send and
    receive and the object collectives, ``new_group`` and any ``group=``
    (the KVStore has one group: all workers), ``async_op=True``, reduce
    operations other than SUM and AVG, ``mp.spawn(..., join=False)`` and
    every other ``torch.distributed`` call are left as is with an error.

    ## Fix safety
    all_reduce, broadcast and barrier give torch's values (float64 at
    float32 precision); the launch changes from torchrun or ``mp.spawn`` to
    ``torch2gluon.launch``.
    """

    code = "T2G901"
    name = "process-group"
    summary = "torch.distributed init/rank/world size/all_reduce/broadcast/barrier, mp.spawn -> KVStoreGroup on a dist_sync KVStore"
    examples = (
        Example(
            "import torch\nimport torch.distributed as dist\n\n"
            "dist.init_process_group(backend='gloo')\n"
            "rank = dist.get_rank()\n"
            "world_size = dist.get_world_size()\n"
            "total = torch.zeros(2)\n"
            "dist.all_reduce(total, op=dist.ReduceOp.SUM)\n"
            "if rank == 0:\n"
            "    print(total[0].item() / world_size)\n"
            "dist.barrier()\n"
            "dist.destroy_process_group()\n",
            _translated(
                "import mxnet as mx\nfrom mxnet import nd\n",
                (),
                "KVStoreGroup.init_process_group()\n"
                "rank = KVStoreGroup.get_rank()\n"
                "world_size = KVStoreGroup.get_world_size()\n"
                "total = nd.zeros(2)\n"
                "KVStoreGroup.all_reduce(total)\n"
                "if rank == 0:\n"
                "    print(total[0].asscalar().item() / world_size)\n"
                "KVStoreGroup.barrier()\n",
            ),
            id="the usual calls; the header says how to launch the translation",
        ),
        Example(
            "import os\nimport torch\nimport torch.distributed as dist\nimport torch.multiprocessing as mp\n\n\n"
            "def run(rank, world_size):\n"
            "    dist.init_process_group('gloo', rank=rank, world_size=world_size)\n"
            "    t = torch.ones(3) * rank\n"
            "    dist.broadcast(t, src=1)\n"
            "    dist.all_reduce(t, op=dist.ReduceOp.AVG)\n"
            "    dist.destroy_process_group()\n\n\n"
            "if __name__ == '__main__':\n"
            "    os.environ['MASTER_ADDR'] = 'localhost'\n"
            "    mp.spawn(run, args=(2,), nprocs=2, join=True)\n",
            _translated(
                "import os\nimport mxnet as mx\nfrom mxnet import nd\n",
                (),
                "def run(rank, world_size):\n"
                "    KVStoreGroup.init_process_group(rank=rank, world_size=world_size)\n"
                "    t = nd.ones(3) * rank\n"
                "    KVStoreGroup.broadcast(t, 1)\n"
                '    KVStoreGroup.all_reduce(t, "avg")\n\n\n'
                "if __name__ == '__main__':\n"
                "    os.environ['MASTER_ADDR'] = 'localhost'\n"
                "    KVStoreGroup.spawn(run, (2,), 2)\n",
                workers="2",
            ),
            id="mp.spawn: the launcher starts the workers, each runs fn(rank, *args); broadcast, AVG",
        ),
        Example(
            "import os\nimport torch\nimport torch.distributed as dist\n\n"
            "rank = int(os.environ['RANK'])\n"
            "x = torch.zeros(2)\n"
            "dist.all_reduce(x, op=dist.ReduceOp.MAX)\n"
            "dist.all_gather([torch.zeros(2), torch.zeros(2)], x)\n",
            _translated(
                "import os\nimport mxnet as mx\nfrom mxnet import nd\nimport torch.distributed as dist\n",
                (),
                "rank = KVStoreGroup.get_rank()\n"
                "x = nd.zeros(2)\n"
                "# torch2gluon: T2G901: `torch.distributed.all_reduce` with `op=dist.ReduceOp.MAX` is not translated: "
                "the KVStore only sums (SUM and AVG are translated); left as is\n"
                "dist.all_reduce(x, op=dist.ReduceOp.MAX)\n"
                "# torch2gluon: T2G901: `torch.distributed.all_gather` has no counterpart on MXNet's KVStore, which "
                "only sums (all_reduce with SUM or AVG, broadcast and barrier are translated); left as is\n"
                "dist.all_gather([nd.zeros(2), nd.zeros(2)], x)\n",
            ),
            diagnostics=("T2G901", "T2G901"),
            id="the rank from the scheduler; MAX and gathers are flagged",
        ),
    )

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._rank_env: Set[int] = set()  # os.environ["RANK"] nodes rewritten

    # -- calls --------------------------------------------------------------
    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        if self._is_int_of_rank(original):
            return _group_call(self.ctx, "get_rank")
        name = self.ctx.call_name(original)
        if name is None:
            env = self._env_get(original)
            return _str(_group_call(self.ctx, "get_rank")) if env else None
        try:
            if name in facts.SPAWN:
                return self._spawn(updated)
            if not name.startswith(facts.DIST):
                return None
            short = name[len(facts.DIST):]
            if name in facts.REFUSED:
                return _kept(self, original, name, facts.REFUSED[name])
            if short == "init_process_group":
                return self._init(original, updated)
            if short in ("get_rank", "get_world_size"):
                b = bind(updated, ["group"])
                if _not_none(b.get("group")):
                    raise Unbindable("with a process group of its own is not translated (the KVStore has one group)")
                return _group_call(self.ctx, short)
            if short == "is_initialized" and not updated.args:
                return _group_call(self.ctx, "is_initialized")
            if short == "is_available" and not updated.args:
                return cst.Name("True")
            if short == "all_reduce":
                return self._all_reduce(original, updated)
            if short == "broadcast":
                b = bind(updated, facts.BROADCAST_PARAMS)
                self._common(b)
                if "tensor" not in b or "src" not in b or "group_src" in b:
                    raise Unbindable("is translated with a tensor and a source rank `src`")
                return _group_call(self.ctx, "broadcast", arg(b["tensor"]), arg(b["src"]))
            if short == "barrier":
                b = bind(updated, facts.BARRIER_PARAMS)
                self._common(b)
                return _group_call(self.ctx, "barrier")
            if short == "destroy_process_group":
                return None  # the statement goes (leave_SimpleStatementLine); elsewhere T2G001 reports it
        except Unbindable as e:
            return _kept(self, original, name, str(e))
        return _kept(self, original, name, "is not translated")

    def _common(self, b: Dict[str, cst.BaseExpression]) -> None:
        if _not_none(b.get("group")):
            raise Unbindable("with a process group of its own is not translated (the KVStore has one group: all workers)")
        if "async_op" in b and literal(b["async_op"]) is not False:
            raise Unbindable("with `async_op` is not translated (the KVStore helper waits for the result)")

    def _init(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        b = bind(updated, facts.INIT_PARAMS)
        if _not_none(b.get("store")):
            raise Unbindable("with a `store` of its own is not translated (the launcher's scheduler is the rendezvous)")
        init_method = b.get("init_method")
        if init_method is not None and literal(init_method) not in (None, "env://"):
            self.report(
                original,
                "`init_method` is dropped: the launcher's DMLC_* variables say where the KVStore's scheduler is",
                severity=Severity.WARNING,
            )
        args = [arg(b[k], k) for k in ("rank", "world_size") if k in b]
        return _group_call(self.ctx, "init_process_group", *args)

    def _all_reduce(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        b = bind(updated, facts.ALL_REDUCE_PARAMS)
        b_orig = bind(original, facts.ALL_REDUCE_PARAMS)
        self._common(b)
        if "tensor" not in b:
            raise Unbindable("needs a tensor")
        op = "sum"
        if "op" in b_orig:
            torch_op = self.ctx.torch_name(b_orig["op"]) or ""
            member = torch_op.rsplit(".", 1)[-1]
            if torch_op.rsplit(".", 2)[-2:-1] not in (["ReduceOp"], ["reduce_op"]) or member not in facts.REDUCE_OPS:
                self.ctx.explained.add(id(b_orig["op"]))
                raise Unbindable(
                    f"with `op={code_of(b_orig['op'])}` is not translated: the KVStore only sums (SUM and AVG are translated)"
                )
            op = facts.REDUCE_OPS[member]
        args = [arg(b["tensor"])]
        if op != "sum":
            args.append(arg(cst.SimpleString(f'"{op}"')))
        return _group_call(self.ctx, "all_reduce", *args)

    def _spawn(self, updated: cst.Call) -> cst.BaseExpression:
        b = bind(updated, facts.SPAWN_PARAMS)
        if "fn" not in b:
            raise Unbindable("needs the function to run")
        if "join" in b and literal(b["join"]) is not True:
            raise Unbindable("with `join=False` is not translated (each worker runs the function to the end)")
        n = b.get("nprocs")
        workers = literal(n) if n is not None else 1
        if isinstance(workers, int) and not isinstance(workers, bool):
            self.ctx.memo[_KEY_WORKERS] = workers
        args = [arg(b["fn"]), arg(b.get("args") or cst.Tuple([])), arg(n or cst.Integer("1"))]
        return _group_call(self.ctx, "spawn", *args)

    # -- os.environ["RANK"] ----------------------------------------------------
    def _env_key(self, node: cst.BaseExpression) -> bool:
        """``os.environ["RANK"]`` (a subscript of the os module's environ)."""
        if not isinstance(node, cst.Subscript) or len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
            return False
        return (
            self.ctx.imported_name(node.value) == "os.environ"
            and literal(node.slice[0].slice.value) in facts.ENV_RANK
            and self._distributed()
        )

    def _env_get(self, node: cst.Call) -> bool:
        """``os.environ.get("RANK"[, default])`` or ``os.getenv("RANK"[, default])``."""
        f = node.func
        if not node.args or literal(node.args[0].value) not in facts.ENV_RANK or not self._distributed():
            return False
        if isinstance(f, cst.Attribute) and f.attr.value == "get" and self.ctx.imported_name(f.value) == "os.environ":
            return True
        return self.ctx.imported_name(f) == "os.getenv"

    def _is_int_of_rank(self, node: cst.Call) -> bool:
        if not (isinstance(node.func, cst.Name) and node.func.value == "int" and len(node.args) == 1):
            return False
        inner = node.args[0].value
        return self._env_key(inner) or (isinstance(inner, cst.Call) and self._env_get(inner))

    def _distributed(self) -> bool:
        # torch.distributed, `from torch import distributed`, DistributedDataParallel
        return "istributed" in (self.ctx.source or "")

    def leave_Subscript(self, original: cst.Subscript, updated: cst.Subscript) -> Optional[cst.BaseExpression]:
        if self._env_key(original):
            return _str(_group_call(self.ctx, "get_rank"))
        return None

    # -- statements and the header ----------------------------------------------
    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        if len(original.body) == 1 and isinstance(original.body[0], cst.Expr):
            call = original.body[0].value
            if isinstance(call, cst.Call) and self.ctx.call_name(call) == facts.DIST + "destroy_process_group":
                if call.args:
                    return None  # with a group: T2G001 reports it
                return self._drop(updated)
        return None

    def leave_Module(self, original: cst.Module, updated: cst.Module) -> Optional[cst.Module]:
        if facts.GROUP not in self.ctx.helpers:
            return None
        workers = self.ctx.memo.get(_KEY_WORKERS, "N")
        lines = [cst.EmptyLine(comment=cst.Comment(text.format(workers=workers))) for text in facts.LAUNCH_HEADER]
        header = list(updated.header)
        if header and header[-1].comment is not None:
            header.append(cst.EmptyLine())
        return updated.with_changes(header=[*header, *lines])


def _kept(rule: Rule, original: cst.Call, name: str, why: str) -> Optional[cst.BaseExpression]:
    """``rule.keep(...)``: the call is reported and left as is."""
    rule.keep(original, name, why)
    return None


def _argument(call: cst.Call, name: str, position: int) -> Optional[cst.BaseExpression]:
    """The argument ``name`` of ``call`` (keyword, or positional at ``position``)."""
    for i, a in enumerate(call.args):
        if a.keyword is not None and a.keyword.value == name:
            return a.value
        if a.keyword is None and not a.star and i == position:
            return a.value
    return None


def _step_of(stmt: cst.BaseStatement) -> Optional[str]:
    """``opt`` of the statement ``opt.step(...)``."""
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1 or not isinstance(stmt.body[0], cst.Expr):
        return None
    call = stmt.body[0].value
    if (
        isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and call.func.attr.value == "step"
        and isinstance(call.func.value, cst.Name)
    ):
        return call.func.value.value
    return None


def _parenthesized(node: cst.BaseExpression) -> cst.BaseExpression:
    if isinstance(node, (cst.Name, cst.Attribute, cst.Call, cst.Integer, cst.Float, cst.Subscript)):
        return node
    return node.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


def _str(node: cst.BaseExpression) -> cst.Call:
    return cst.Call(func=cst.Name("str"), args=[arg(node)])


class DataParallelModel(_Dropping):
    """``DistributedDataParallel(model)`` becomes the model; its optimizer a ``DistributedTrainer``.

    ## What it does
    ``DDP(model, device_ids=[rank])`` -> ``model``, ``ddp.module`` ->
    ``ddp``, and ``model = DDP(model)`` goes. The optimizer of a wrapped
    model (``torch.optim.SGD(ddp.parameters(), ...)``, or over the wrapped
    model's own parameters) becomes a ``DistributedTrainer``, a
    ``gluon.Trainer`` defined after the imports that:

    - aggregates the gradients on the distributed KVStore
      (``update_on_kvstore=False``: the optimizer runs on the workers, the
      servers only sum, so ``all_reduce`` on the same kvstore returns sums);
    - multiplies ``rescale_grad`` by ``1 / num_workers``: the KVStore sums
      the gradients, DDP averages them (with the Trainer's ``1 /
      batch_size`` the step is over the mean of the global batch when the
      workers' batches have one size, as a DistributedSampler gives them);
    - broadcasts rank 0's parameters to every worker when it is made, as
      DDP does when it wraps the model.

    Gradient clipping by norm (``clip_grad_norm_``, which T2G502 translates)
    acts on the averaged gradients in torch: before it the translation sums
    them (``trainer.allreduce_grads()``), clips the sum to ``max_norm *
    num_workers`` (the sum is ``num_workers`` times the average) and then
    updates without summing again (``trainer.update(...)`` instead of
    ``step``).

    ## Why
    MXNet's data parallelism is a Trainer on a distributed kvstore. Left to
    itself, a Trainer with ``update_on_kvstore=False`` broadcasts the initial
    weights at its first step, racing with the first gradient push on the
    same keys: a worker can start from the gradient sum (measured: losses
    2.14 instead of 1.52 with one worker). ``DistributedTrainer`` initialises
    the kvstore and the parameters, waits for them and meets the other
    workers at a barrier before anyone trains.

    ## Flags
    ``process_group=``, ``mixed_precision=``, ``device_mesh=``,
    ``ddp.no_sync()``, ``join()`` and communication hooks are left as is
    with an error; ``device_ids``/``output_device``/bucket and graph options
    are dropped (a note). Clipping by value, and clipping by norm whose
    optimizer step is not in the same block, are flagged (torch clips the
    averaged gradients). A second optimizer over wrapped models (the
    Trainers' keys would overlap on the kvstore) is left as is with an
    error; in a file that wraps a model, an optimizer whose parameters are
    not known to be the wrapped model's stays a local Trainer, with a
    warning.

    ## Fix safety
    The same updates as DDP for a model whose parameters all take part in
    every step. Buffers (BatchNorm's running statistics) are broadcast from
    rank 0 once, at the start; afterwards each worker keeps its own, and
    rank 0's are what DDP's ``broadcast_buffers`` gives every worker.
    """

    code = "T2G902"
    name = "distributed-data-parallel"
    summary = "DistributedDataParallel(model) -> model; its optimizer -> DistributedTrainer (gradients averaged on the KVStore)"
    examples = (
        Example(
            "import torch\nfrom torch.nn.parallel import DistributedDataParallel as DDP\n\n"
            "ddp = DDP(model, device_ids=[rank])\n"
            "opt = torch.optim.SGD(ddp.parameters(), lr=0.1)\n"
            "if rank == 0:\n"
            "    torch.save(ddp.module.state_dict(), 'model.pt')\n",
            _translated(
                "import mxnet as mx\nfrom mxnet import nd\n",
                (facts.TRAINER,),
                "ddp = model\n"
                'opt = DistributedTrainer(ddp.collect_params(), "sgd", {"learning_rate": 0.1})\n'
                "if rank == 0:\n"
                '    ddp.save_parameters("model.pt")\n',
            ),
            id="DDP(model) is the model, its optimizer a DistributedTrainer, ddp.module the model",
        ),
        Example(
            "import torch\nfrom torch import nn\n\n"
            "model = nn.Linear(4, 2)\n"
            "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
            "# wrap it\n"
            "model = nn.parallel.DistributedDataParallel(model)\n"
            "with model.no_sync():\n"
            "    pass\n",
            _translated(
                "import mxnet as mx\nfrom mxnet import init, nd\nfrom mxnet.gluon import nn\n",
                (facts.TRAINER,),
                "model = nn.Dense(\n    2,\n    in_units=4,\n    flatten=False,\n"
                "    weight_initializer=init.Uniform(4**-0.5),\n    bias_initializer=init.Uniform(4**-0.5),\n)\n"
                "model.initialize()\n"
                'opt = DistributedTrainer(model.collect_params(), "sgd", {"learning_rate": 0.1})\n'
                "# wrap it\n"
                "# torch2gluon: T2G902: `model.no_sync` skips the gradient all-reduce for some steps; "
                "a DistributedTrainer sums at every step; left as is\n"
                "with model.no_sync():\n"
                "    pass\n",
            ),
            diagnostics=("T2G902",),
            id="model = DDP(model) goes; an optimizer made before wrapping averages too; no_sync is flagged",
        ),
    )

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._modules: Set[int] = set()  # original `ddp.module` attributes
        self._methods: Set[int] = set()  # original `ddp.no_sync` etc.
        self._trainers = 0
        self._clips: Dict[int, cst.Call] = {}  # id(T2G502's clip_global_norm call) -> original clip

    def visit_Attribute(self, node: cst.Attribute) -> None:
        attr = node.attr.value
        if attr != "module" and attr not in facts.DDP_METHODS_REFUSED:
            return
        if not _is_wrapped(self.ctx, node.value):
            return
        owner = self.ctx.value(node.value).local_class()
        if owner is not None and attr in self.ctx.analysis.members(owner):
            return  # the class's own `module`
        self.ctx.handled.add(id(node))  # T2G002 leaves it to this rule
        (self._modules if attr == "module" else self._methods).add(id(node))

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> Optional[cst.BaseExpression]:
        if id(original) in self._modules:
            return updated.value
        return None

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        if isinstance(original.func, cst.Attribute) and id(original.func) in self._methods:
            method = original.func.attr.value
            self.report(original, f"`{code_of(original.func)}` {facts.DDP_METHODS_REFUSED[method]}; left as is")
            return None
        name = self.ctx.call_name(original)
        if name is None:
            return None
        if name in facts.DDP_CLASSES:
            return self._ddp(original, updated, name)
        if name in facts.CLIP_NORM + facts.CLIP_VALUE and (_wrapped(self.ctx) or _unfollowed(self.ctx)):
            if name in facts.CLIP_NORM and id(updated) in self.ctx.clips:
                self._clips[id(updated)] = original  # made exact in leave_block
            elif name in facts.CLIP_VALUE:
                self.report(
                    original,
                    f"`{name}` with DistributedDataParallel is not translated yet: torch clips the averaged "
                    "gradients, the translation would clip each worker's own",
                )
            return None
        if name.startswith("torch.optim.") and not name.startswith("torch.optim.lr_scheduler"):
            return self._optimizer(original, updated, name)
        return None

    def _ddp(self, original: cst.Call, updated: cst.Call, name: str) -> Optional[cst.BaseExpression]:
        try:
            b = bind(updated, facts.DDP_PARAMS)
        except Unbindable as e:
            return _kept(self, original, name, str(e))
        for key, why in facts.DDP_REFUSED.items():
            if _not_none(b.get(key)):
                return _kept(self, original, name, f"with {why} is not translated")
        if "dim" in b and literal(b["dim"]) != 0:
            return _kept(self, original, name, "with a batch dimension other than 0 is not translated")
        if "init_sync" in b and literal(b["init_sync"]) is not True:
            return _kept(self, original, name, "with `init_sync=False` is not translated (the parameters are always broadcast)")
        if "module" not in b:
            return _kept(self, original, name, "needs the module")
        dropped = [k for k in facts.DDP_DROPPED if k in b]
        if dropped:
            self.report(
                original,
                "DistributedDataParallel argument(s) " + ", ".join(f"`{k}`" for k in dropped)
                + " dropped: the parameters stay where the model is, the KVStore moves the gradients",
                severity=Severity.INFO,
            )
        return b["module"]

    def _optimizer(self, original: cst.Call, updated: cst.Call, name: str) -> Optional[cst.BaseExpression]:
        if not isinstance(updated, cst.Call) or not is_trainer(updated):
            return None  # T2G401 left it as is (and said why)
        receivers = [
            n.func.value for n in walk(original)
            if isinstance(n, cst.Call) and isinstance(n.func, cst.Attribute) and n.func.attr.value == "parameters"
        ]
        if not receivers:
            return None
        if not any(_is_wrapped(self.ctx, r) for r in receivers) and _unfollowed(self.ctx):
            self.report(
                original,
                "taken to train the DistributedDataParallel model, whose module the analysis cannot follow here: "
                "a DistributedTrainer (gradients averaged over the workers)",
                severity=Severity.WARNING,
            )
        elif not any(_is_wrapped(self.ctx, r) for r in receivers):
            if _wrapped(self.ctx):
                self.report(
                    original,
                    "this optimizer's parameters are not known to be those of the DistributedDataParallel model: "
                    "it stays a local Trainer (its gradients are not averaged over the workers)",
                    severity=Severity.WARNING,
                )
            return None
        self._trainers += 1
        if self._trainers > 1:
            return _kept(self, 
                original,
                name,
                "is a second optimizer over a DistributedDataParallel model: one DistributedTrainer per worker "
                "is translated (the Trainers' keys would overlap on the KVStore)",
            )
        return updated.with_changes(func=_helpers(self.ctx, facts.TRAINER))

    def leave_block(self, original: cst.CSTNode, body: List[cst.BaseStatement]):
        if self._clips:
            clipped = self._clip_averages(body)
            if clipped is not None:
                return super().leave_block(original, clipped) or clipped
        return super().leave_block(original, body)

    def _clip_averages(self, body: List[cst.BaseStatement]) -> Optional[List[cst.BaseStatement]]:
        """``clip_global_norm(grads, m)`` ... ``opt.step(n)`` -> ``opt.allreduce_grads()``,
        ``clip_global_norm(grads, m * num_workers)`` ... ``opt.update(n)``."""
        out = list(body)
        changed = False
        for i, stmt in enumerate(body):
            found = [n for n in walk(stmt) if isinstance(n, cst.Call) and id(n) in self._clips]
            if not found:
                continue
            clip = found[0]
            original = self._clips.pop(id(clip))
            step = next((j for j in range(i + 1, len(body)) if _step_of(body[j]) is not None), None)
            if step is None:
                self.report(
                    original,
                    "gradient clipping with DistributedDataParallel is only translated with the optimizer step "
                    "after it in the same block (torch clips the averaged gradients); left as the local clip",
                )
                continue
            trainer = _step_of(body[step])
            assert trainer is not None
            scaled = cst.BinaryOperation(
                left=_parenthesized(clip.args[1].value), operator=cst.Multiply(),
                right=_group_call(self.ctx, "get_world_size"),
            )
            new_clip = clip.with_changes(args=[clip.args[0], clip.args[1].with_changes(value=scaled)])
            mine = id(clip)

            class _Scale(cst.CSTTransformer):
                def leave_Call(self, o: cst.Call, u: cst.Call) -> cst.BaseExpression:
                    return new_clip if id(o) == mine else u

            reduce_first = cst.SimpleStatementLine(
                body=[cst.Expr(cst.Call(func=cst.Attribute(value=cst.Name(trainer), attr=cst.Name("allreduce_grads"))))],
                leading_lines=getattr(stmt, "leading_lines", ()),
            )
            new_stmt = cast(cst.BaseStatement, stmt.visit(_Scale()))
            if isinstance(new_stmt, cst.SimpleStatementLine) or isinstance(new_stmt, cst.BaseCompoundStatement):
                new_stmt = new_stmt.with_changes(leading_lines=())
            step_stmt = body[step]
            assert isinstance(step_stmt, cst.SimpleStatementLine)
            call = cast(cst.Call, cast(cst.Expr, step_stmt.body[0]).value)
            func = cast(cst.Attribute, call.func)
            update = step_stmt.with_changes(body=[cst.Expr(call.with_changes(func=func.with_changes(attr=cst.Name("update"))))])
            for old, new in ((stmt, new_stmt), (step_stmt, update)):
                self.ctx.origin[id(new)] = (new, self.ctx.original(old))
            out[out.index(stmt)] = new_stmt
            out[out.index(step_stmt)] = update
            out.insert(out.index(new_stmt), reduce_first)
            changed = True
        return out if changed else None

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        if len(original.body) == 1 and isinstance(original.body[0], cst.Assign):
            small = original.body[0]
            value = small.value
            if (
                isinstance(value, cst.Call) and self.ctx.call_name(value) in facts.DDP_CLASSES
                and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name)
                and isinstance(updated.body[0], cst.Assign) and isinstance(updated.body[0].value, cst.Name)
                and updated.body[0].value.value == small.targets[0].target.value
            ):
                return self._drop(updated)  # model = DDP(model)
        if not self._modules:
            return None
        # rules that rebuilt the statement from original nodes (torch.save(ddp.module.state_dict()))
        mine = self._modules
        if not any(id(n) in mine for n in walk(updated)):
            return None

        class _Unwrap(cst.CSTTransformer):
            def leave_Attribute(self, o: cst.Attribute, u: cst.Attribute) -> cst.BaseExpression:
                return u.value if id(o) in mine else u

        return updated.visit(_Unwrap())


class DataShards(Rule):
    """``DistributedSampler(dataset, ...)`` becomes a Gluon sampler with the same shards.

    ## What it does
    ``DistributedSampler(dataset, num_replicas, rank, shuffle, seed,
    drop_last)`` -> ``DistributedSampler(...)`` with the same arguments: a
    ``gluon.data.Sampler`` defined after the imports, given to the Gluon
    ``DataLoader`` as its ``sampler`` (T2G601 passes it on).
    ``sampler.set_epoch(epoch)`` works as in torch; ``loader.sampler`` of such
    a loader -> ``DistributedSampler.of(loader)``.

    ## Why
    torch's sampler pads the dataset by repeating it to a multiple of the
    number of workers (or cuts it, ``drop_last``) and gives worker ``rank``
    every ``num_replicas``-th index from ``rank`` on, of a permutation drawn
    from ``seed + epoch`` (the same on every worker). The helper does the
    same; numbers of samples, padding, which positions each worker takes and
    the unshuffled shards are torch's (tests/test_numeric_distributed.py).
    ``num_replicas`` and ``rank`` default to the KVStore's.

    ## Fix safety
    The permutation is drawn by numpy (``RandomState(seed + epoch)``), so a
    shuffled epoch visits the samples in another order than torch's.
    """

    code = "T2G903"
    name = "distributed-sampler"
    summary = "DistributedSampler(dataset, ...) -> a Gluon sampler with torch's shards; set_epoch reshuffles"
    examples = (
        Example(
            "from torch.utils.data import DataLoader\n"
            "from torch.utils.data.distributed import DistributedSampler\n\n"
            "sampler = DistributedSampler(train_set, shuffle=True, seed=3)\n"
            "loader = DataLoader(train_set, batch_size=32, sampler=sampler)\n"
            "for epoch in range(3):\n"
            "    sampler.set_epoch(epoch)\n",
            _translated(
                "import mxnet as mx\nfrom mxnet import gluon, nd\n",
                (facts.SAMPLER,),
                "sampler = DistributedSampler(train_set, shuffle=True, seed=3)\n"
                "loader = gluon.data.DataLoader(train_set, batch_size=32, sampler=sampler)\n"
                "for epoch in range(3):\n"
                "    sampler.set_epoch(epoch)\n",
            ),
            id="a sharding sampler for a Gluon DataLoader",
        ),
        Example(
            "import torch\n\n"
            "loader = torch.utils.data.DataLoader(ds, batch_size=8, shuffle=False,\n"
            "                                     sampler=torch.utils.data.DistributedSampler(ds))\n"
            "for epoch in range(3):\n"
            "    loader.sampler.set_epoch(epoch)\n",
            _translated(
                "import mxnet as mx\nfrom mxnet import gluon, nd\n",
                (facts.SAMPLER,),
                "loader = gluon.data.DataLoader(\n    ds, batch_size=8, shuffle=False, sampler=DistributedSampler(ds)\n)\n"
                "for epoch in range(3):\n"
                "    DistributedSampler.of(loader).set_epoch(epoch)\n",
            ),
            id="loader.sampler of a loader given a DistributedSampler",
        ),
    )

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._epochs: Set[int] = set()  # `x.sampler` of `x.sampler.set_epoch(...)`, x unknown

    def visit_Call(self, node: cst.Call) -> None:
        f = node.func
        if (
            isinstance(f, cst.Attribute) and f.attr.value == "set_epoch"
            and isinstance(f.value, cst.Attribute) and f.value.attr.value == "sampler"
            and not self.ctx.value(f.value.value).known and self._shards()
        ):
            self._epochs.add(id(f.value))

    def _shards(self) -> bool:
        """The file makes a DistributedSampler (computed once)."""
        found = self.ctx.memo.get(_KEY_SAMPLERS)
        if found is None:
            found = self.ctx.memo[_KEY_SAMPLERS] = "DistributedSampler" in (self.ctx.source or "") and any(
                isinstance(n, cst.Call) and self.ctx.call_name(n) in facts.SAMPLER_CLASSES for n in walk(self.ctx.module)
            )
        return bool(found)

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        name = self.ctx.call_name(original)
        if name not in facts.SAMPLER_CLASSES:
            return None
        try:
            b = bind(updated, facts.SAMPLER_PARAMS)
        except Unbindable as e:
            return _kept(self, original, name, str(e))
        if "dataset" not in b:
            return _kept(self, original, name, "needs a dataset")
        return updated.with_changes(func=_helpers(self.ctx, facts.SAMPLER))

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> Optional[cst.BaseExpression]:
        if original.attr.value != "sampler":
            return None
        if id(original) in self._epochs:
            self.report(
                original,
                f"`{code_of(original.value)}` is taken to be a DataLoader given a DistributedSampler",
                severity=Severity.INFO,
            )
            helper = _helpers(self.ctx, facts.SAMPLER)
            return cst.Call(func=cst.Attribute(value=helper, attr=cst.Name("of")), args=[arg(updated.value)])
        loader = self.ctx.value(original.value)
        call = loader.origin
        if loader.kind is not Kind.LOADER or not isinstance(call, cst.Call) or self.ctx.call_name(call) not in LOADERS:
            return None
        sampler = _argument(call, "sampler", 3)
        if sampler is None or self.ctx.kind(sampler) is not Kind.SAMPLER:
            return None
        helper = _helpers(self.ctx, facts.SAMPLER)
        return cst.Call(func=cst.Attribute(value=helper, attr=cst.Name("of")), args=[arg(updated.value)])
