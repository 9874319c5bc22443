"""Translating distributed scripts (T2G901-T2G903): what maps, what is flagged, the launch header.

The numbers are checked elsewhere: tests/test_numeric_distributed.py (the
sampler's shards against torch's), tests/test_distributed_run.py (both
frameworks with two workers: gradient scale, initial broadcast,
collectives, the DDP MNIST script).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from torch2gluon import Severity, translate

from numeric_helpers import torch_names_in

ROOT = Path(__file__).resolve().parents[1]
HEAD = "import torch\nimport torch.distributed as dist\nfrom torch.nn.parallel import DistributedDataParallel as DDP\n"


def _errors(result):
    return [d for d in result.diagnostics if d.severity is Severity.ERROR]


@pytest.mark.parametrize("name", ["ddp_mnist.py", "ddp_semantics.py"])
def test_the_ddp_fixtures_translate_completely(name):
    result = translate((ROOT / "fixtures" / name).read_text(encoding="utf-8"))
    assert not _errors(result), result.diagnostics
    assert not torch_names_in(result.code)
    code = result.code
    assert "python -m torch2gluon.launch -n N SCRIPT.py [ARGS]" in code
    assert code.count("class KVStoreGroup:") == 1 and code.count("class DistributedTrainer(") == 1
    assert "DistributedTrainer(" in code.split("class DistributedTrainer", 1)[1].split("\n\n\n", 1)[1]
    assert "destroy_process_group" not in code
    ast.parse(code)


def test_the_mnist_script_keeps_rank_0_printing_and_checkpointing():
    code = translate((ROOT / "fixtures" / "ddp_mnist.py").read_text(encoding="utf-8")).code
    assert "    if rank == 0:\n        ddp_model.save_parameters(args.checkpoint)\n" in code
    assert '        if rank == 0:\n            print(f"epoch {epoch} train loss {mean_loss:.4f}")\n' in code
    assert "sampler = DistributedSampler(\n" in code and "sampler.set_epoch(epoch)" in code
    assert "gluon.data.DataLoader(\n        train_set, batch_size=args.batch_size, sampler=sampler\n    )" in code
    assert "KVStoreGroup.all_reduce(running)" in code


def test_the_header_follows_the_scripts_own_and_names_the_spawned_count():
    source = (
        "#!/usr/bin/env python\n# Train on two processes.\nimport torch.distributed as dist\nimport torch.multiprocessing as mp\n\n"
        "def run(rank, n):\n    dist.init_process_group('gloo', rank=rank, world_size=n)\n\n"
        "mp.spawn(run, args=(3,), nprocs=3)\n"
    )
    lines = translate(source).code.splitlines()
    assert lines[:3] == ["#!/usr/bin/env python", "# Train on two processes.", ""]
    assert lines[3].startswith("# torch2gluon: data-parallel training on MXNet's distributed KVStore")
    assert "#     python -m torch2gluon.launch -n 3 SCRIPT.py [ARGS]" in lines
    assert "KVStoreGroup.spawn(run, (3,), 3)" in lines


def test_no_header_without_distributed_code():
    code = translate("import torch\nx = torch.ones(2)\n").code
    assert "torch2gluon.launch" not in code


REFUSED = [
    ("dist.all_gather(parts, t)", "T2G901", "has no counterpart on MXNet's KVStore"),
    ("dist.gather(t, dst=0)", "T2G901", "has no counterpart"),
    ("dist.scatter(t, src=0)", "T2G901", "has no counterpart"),
    ("dist.reduce(t, dst=0)", "T2G901", "has no counterpart"),
    ("dist.send(t, dst=1)", "T2G901", "has no counterpart"),
    ("dist.all_gather_object(out, obj)", "T2G901", "has no counterpart"),
    ("g = dist.new_group([0, 1])", "T2G901", "process group of its own"),
    ("dist.all_reduce(t, op=dist.ReduceOp.MAX)", "T2G901", "the KVStore only sums"),
    ("dist.all_reduce(t, group=g)", "T2G901", "process group of its own"),
    ("work = dist.all_reduce(t, async_op=True)", "T2G901", "async_op"),
    ("dist.broadcast(t, 0, group=g)", "T2G901", "process group of its own"),
    ("r = dist.get_rank(group=g)", "T2G901", "process group of its own"),
    ("b = dist.get_backend()", "T2G901", "names a torch backend"),
    ("ok = dist.is_nccl_available()", "T2G901", "NCCL"),
    ("dist.init_process_group('gloo', store=store, rank=0, world_size=2)", "T2G901", "store"),
    ("m = DDP(net, process_group=pg)", "T2G902", "process group of its own"),
    ("m = DDP(net, mixed_precision=mp_config)", "T2G902", "mixed precision"),
]


@pytest.mark.parametrize("line, rule, why", REFUSED, ids=[r[0] for r in REFUSED])
def test_what_cannot_map_is_flagged_with_position_and_rule(line, rule, why):
    source = HEAD + "\n" + line + "\n"
    result = translate(source)
    errors = [d for d in _errors(result) if d.rule == rule]
    assert errors, result.diagnostics
    assert why in errors[0].message
    assert errors[0].line == 5 and errors[0].column >= 1
    assert f"# torch2gluon: {rule}:" in result.code  # marked, left as is
    assert line.split("(", 1)[0].split("=")[-1].strip() in result.code


def test_ddp_methods_without_counterpart_are_flagged():
    source = HEAD + "net = torch.nn.Linear(2, 2)\nddp = DDP(net)\nwith ddp.no_sync():\n    pass\nddp.join()\n"
    result = translate(source)
    errors = _errors(result)
    assert [(d.rule, d.line) for d in errors] == [("T2G902", 6), ("T2G902", 8)], result.diagnostics
    assert "no_sync" in errors[0].message and "T2G002" not in {d.rule for d in result.diagnostics}


def test_spawn_without_join_is_flagged():
    source = "import torch.multiprocessing as mp\nimport torch.distributed as dist\nctx = mp.spawn(run, nprocs=2, join=False)\n"
    (error,) = _errors(translate(source))
    assert error.rule == "T2G901" and "join=False" in error.message and error.line == 3


def test_a_second_distributed_optimizer_is_flagged():
    source = (
        HEAD + "a = torch.nn.Linear(2, 2)\nb = torch.nn.Linear(2, 2)\nda = DDP(a)\ndb = DDP(b)\n"
        "oa = torch.optim.SGD(da.parameters(), lr=0.1)\nob = torch.optim.SGD(db.parameters(), lr=0.1)\n"
    )
    result = translate(source)
    (error,) = _errors(result)
    assert error.rule == "T2G902" and error.line == 9 and "second optimizer" in error.message
    assert "oa = DistributedTrainer(" in result.code


def test_an_optimizer_of_an_unwrapped_model_stays_local_with_a_warning():
    source = (
        HEAD + "a = torch.nn.Linear(2, 2)\nhead = torch.nn.Linear(2, 2)\nda = DDP(a)\n"
        "oa = torch.optim.SGD(da.parameters(), lr=0.1)\nlocal = torch.optim.SGD(head.parameters(), lr=0.1)\n"
    )
    result = translate(source)
    assert not _errors(result)
    (warning,) = [d for d in result.diagnostics if d.severity is Severity.WARNING]
    assert warning.rule == "T2G902" and warning.line == 8 and "stays a local Trainer" in warning.message
    assert "local = gluon.Trainer(" in result.code and "oa = DistributedTrainer(" in result.code


def test_without_ddp_an_optimizer_stays_a_plain_trainer():
    source = "import torch\nimport torch.distributed as dist\nnet = torch.nn.Linear(2, 2)\nopt = torch.optim.SGD(net.parameters(), lr=0.1)\n"
    result = translate(source)
    assert "opt = gluon.Trainer(" in result.code and "DistributedTrainer" not in result.code
    assert not result.diagnostics


def test_the_rank_from_the_environment_becomes_the_kvstores():
    source = (
        "import os\nimport torch.distributed as dist\n"
        "rank = int(os.environ['RANK'])\nr2 = os.environ.get('RANK', '0')\nlocal = int(os.environ['LOCAL_RANK'])\n"
        "dist.init_process_group('nccl', init_method='env://')\n"
    )
    result = translate(source)
    assert "rank = KVStoreGroup.get_rank()\n" in result.code
    assert "r2 = str(KVStoreGroup.get_rank())\n" in result.code
    assert "local = int(os.environ['LOCAL_RANK'])\n" in result.code  # the launcher sets it, as torchrun does
    assert not result.diagnostics


def test_init_method_is_dropped_with_a_warning():
    source = "import torch.distributed as dist\ndist.init_process_group('gloo', init_method='tcp://10.0.0.1:23456', rank=r, world_size=2)\n"
    result = translate(source)
    (warning,) = result.diagnostics
    assert warning.rule == "T2G901" and warning.severity is Severity.WARNING and "init_method" in warning.message
    assert "KVStoreGroup.init_process_group(rank=r, world_size=2)" in result.code


def test_ddp_arguments_that_only_place_the_work_are_dropped_with_a_note():
    source = HEAD + "net = torch.nn.Linear(2, 2)\nddp = DDP(net, device_ids=[0], output_device=0, find_unused_parameters=True)\n"
    result = translate(source)
    (note,) = result.diagnostics
    assert note.rule == "T2G902" and note.severity is Severity.INFO
    assert "`device_ids`, `output_device`, `find_unused_parameters`" in note.message
    assert "ddp = net\n" in result.code


def test_loading_through_ddp_module_loads_the_model():
    source = HEAD + "net = torch.nn.Linear(2, 2)\nddp = DDP(net)\nddp.module.load_state_dict(torch.load('m.pt'))\n"
    result = translate(source)
    assert not _errors(result)
    assert "ddp.load_parameters(\"m.pt\")" in result.code


def test_disabling_the_rules_leaves_distributed_code_reported():
    from torch2gluon import Options

    source = (ROOT / "fixtures" / "ddp_mnist.py").read_text(encoding="utf-8")
    result = translate(source, options=Options(disable=("T2G901", "T2G902", "T2G903")))
    flagged = {d.message.split("`")[1] for d in _errors(result)}
    assert {"torch.distributed.init_process_group", "torch.nn.parallel.DistributedDataParallel",
            "torch.utils.data.DistributedSampler"} <= flagged  # (the documented name)
    assert "torch2gluon.launch" not in result.code


def test_a_model_wrapped_inside_a_class_the_analysis_cannot_follow():
    """`self.model = DDP(model)` in a method (callers' arguments are not followed): the
    optimizer is taken to train it, with a warning; `self.loader.sampler.set_epoch` is
    taken to be a DataLoader's sampler, with a note."""
    source = (
        "import torch\nfrom torch.nn.parallel import DistributedDataParallel as DDP\n"
        "from torch.utils.data import DataLoader\nfrom torch.utils.data.distributed import DistributedSampler\n\n\n"
        "class Runner:\n"
        "    def __init__(self, model, loader):\n"
        "        self.model = DDP(model)\n"
        "        self.loader = loader\n\n"
        "    def epoch(self, e):\n"
        "        self.loader.sampler.set_epoch(e)\n\n\n"
        "net = torch.nn.Linear(2, 2)\n"
        "opt = torch.optim.SGD(net.parameters(), lr=0.1)\n"
        "runner = Runner(net, DataLoader(ds, batch_size=4, sampler=DistributedSampler(ds)))\n"
    )
    result = translate(source)
    assert not _errors(result), result.diagnostics
    by_rule = {d.rule: d for d in result.diagnostics}
    assert by_rule["T2G902"].severity is Severity.WARNING and "taken to train" in by_rule["T2G902"].message
    assert by_rule["T2G903"].severity is Severity.INFO and by_rule["T2G903"].line == 13
    assert "opt = DistributedTrainer(" in result.code
    assert "        DistributedSampler.of(self.loader).set_epoch(e)\n" in result.code


CLIP_LOOP = (
    HEAD + "net = torch.nn.Linear(2, 1)\nddp = DDP(net)\nopt = torch.optim.SGD(ddp.parameters(), lr=0.1)\n"
    "for x, y in batches:\n"
    "    opt.zero_grad()\n"
    "    loss = ((ddp(x) - y) ** 2).mean()\n"
    "    loss.backward()\n"
    "    {clip}\n"
    "    opt.step()\n"
)


def test_clipping_by_norm_clips_the_averaged_gradients():
    result = translate(CLIP_LOOP.format(clip="torch.nn.utils.clip_grad_norm_(ddp.parameters(), 1.0)"))
    assert not _errors(result), result.diagnostics
    code = result.code
    assert (
        "    opt.allreduce_grads()\n    gluon.utils.clip_global_norm(\n"
        "        [p.grad() for p in ddp.collect_params().values() if p.grad_req != \"null\"],\n"
        "        1.0 * KVStoreGroup.get_world_size(),\n    )\n    opt.update(1)\n"
    ) in code
    assert "opt.step(" not in code.split("for x, y in batches:")[1]


def test_clipping_by_value_under_ddp_is_flagged():
    result = translate(CLIP_LOOP.format(clip="torch.nn.utils.clip_grad_value_(ddp.parameters(), 0.1)"))
    errors = [d for d in _errors(result) if d.rule == "T2G902"]
    assert len(errors) == 1 and errors[0].line == 11 and "averaged" in errors[0].message
