"""The sharding semantics of the translation's DistributedSampler against torch's (T2G903).

The helper is the template the translation defines (``DistributedSampler``
in ``torch2gluon.facts.distributed``), defined here the way a translation
defines it. For every dataset size, number of workers and ``drop_last``,
each worker's indices must be torch's; shuffled, with torch's permutation
put in, too (the helper draws its own permutation with numpy, the one
thing that differs). A Gluon DataLoader given the helper must yield the
batches a torch DataLoader given torch's sampler yields.
"""

from __future__ import annotations

import numpy as np
import pytest

import mxnet as mx
import torch
from torch.utils.data.distributed import DistributedSampler as TorchSampler

from torch2gluon import translate
from torch2gluon.facts import distributed as facts
from torch2gluon.facts.optimizers import shown


def _helpers() -> dict:
    """The helper classes as a translation defines them."""
    namespace = {"mx": mx, "nd": mx.nd}
    for name in (facts.GROUP, facts.SAMPLER):
        exec(compile(shown(facts.HELPERS[name]), f"<{name}>", "exec"), namespace)
    return namespace


HELPERS = _helpers()
Sampler = HELPERS[facts.SAMPLER]


def _torch_shards(n, world, **kw):
    return [list(TorchSampler(range(n), num_replicas=world, rank=r, **kw)) for r in range(world)]


def _mx_shards(n, world, sampler=Sampler, **kw):
    return [list(sampler(range(n), num_replicas=world, rank=r, **kw)) for r in range(world)]


SIZES = [1, 2, 3, 7, 10, 11, 60, 101]
WORLDS = [1, 2, 3, 4, 8]


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("world", WORLDS)
@pytest.mark.parametrize("n", SIZES)
def test_unshuffled_shards_are_torchs(n, world, drop_last):
    kw = dict(shuffle=False, drop_last=drop_last)
    mine = _mx_shards(n, world, **kw)
    assert mine == _torch_shards(n, world, **kw)
    assert [len(Sampler(range(n), num_replicas=world, rank=r, **kw)) for r in range(world)] == [
        len(TorchSampler(range(n), num_replicas=world, rank=r, **kw)) for r in range(world)
    ]


class _TorchPermutation(Sampler):
    """The helper with torch's permutation put in: every other step is the helper's own."""

    def permutation(self):
        g = torch.Generator()
        g.manual_seed(self.seed + self.epoch)
        return torch.randperm(self.length, generator=g).tolist()


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("world", [2, 3, 4])
@pytest.mark.parametrize("n", [7, 10, 60, 101])
def test_shuffled_shards_are_torchs_given_torchs_permutation(n, world, drop_last):
    for epoch in (0, 1, 5):
        torch_samplers = [TorchSampler(range(n), num_replicas=world, rank=r, seed=11, drop_last=drop_last)
                          for r in range(world)]
        mine = [_TorchPermutation(range(n), num_replicas=world, rank=r, seed=11, drop_last=drop_last)
                for r in range(world)]
        for s in (*torch_samplers, *mine):
            s.set_epoch(epoch)
        assert [list(s) for s in mine] == [list(s) for s in torch_samplers]


@pytest.mark.parametrize("world", [2, 3])
def test_shuffled_shards_partition_one_permutation_per_epoch(world):
    """Every worker draws the same permutation (seed + epoch); together the shards
    cover the padded dataset once; set_epoch reshuffles; the seed repeats it."""
    n = 23
    per_epoch = []
    for epoch in range(3):
        shards = []
        for r in range(world):
            s = Sampler(range(n), num_replicas=world, rank=r, seed=4)
            s.set_epoch(epoch)
            shards.append(list(s))
        assert len({len(x) for x in shards}) == 1
        merged = [shards[i % world][i // world] for i in range(len(shards[0]) * world)]
        perm = np.random.RandomState(4 + epoch).permutation(n).tolist()
        assert merged == (perm * 2)[: len(merged)]  # torch's padding: the permutation's head again
        assert sorted(set(merged)) == list(range(n))
        per_epoch.append(merged)
    assert per_epoch[0] != per_epoch[1] != per_epoch[2]
    again = Sampler(range(n), num_replicas=world, rank=0, seed=4)
    again.set_epoch(1)
    assert list(again) == per_epoch[1][0::world]


def test_bad_rank_is_refused_like_torch():
    with pytest.raises(ValueError):
        TorchSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError):
        Sampler(range(4), num_replicas=2, rank=2)


def test_defaults_need_the_launcher():
    """Without num_replicas/rank the sampler asks the KVStore, which only a launched worker has."""
    with pytest.raises(RuntimeError, match="torch2gluon.launch"):
        Sampler(range(4))


@pytest.mark.parametrize("drop_last", [False, True])
def test_gluon_loader_with_the_sampler_gives_torchs_batches(drop_last):
    """The translated DataLoader(..., sampler=DistributedSampler(...)) batches as torch's does."""
    source = (
        "import torch\n"
        "from torch.utils.data import DataLoader, TensorDataset\n"
        "from torch.utils.data.distributed import DistributedSampler\n"
        "x = torch.arange(26, dtype=torch.float32).reshape(13, 2)\n"
        "y = torch.arange(13)\n"
        "ds = TensorDataset(x, y)\n"
        f"sampler = DistributedSampler(ds, num_replicas=3, rank=RANK, shuffle=False, drop_last={drop_last})\n"
        "loader = DataLoader(ds, batch_size=2, sampler=sampler, drop_last=DROP)\n"
        "batches = [(a.tolist(), b.tolist()) for a, b in loader]\n"
    )
    result = translate(source)
    assert not [d for d in result.diagnostics if d.severity.value == "error"], result.diagnostics
    assert "sampler=sampler" in result.code and "import torch" not in result.code
    for rank in range(3):
        for drop in (False, True):
            torch_ns = {"RANK": rank, "DROP": drop}
            exec(source, torch_ns)
            mx_ns = {"RANK": rank, "DROP": drop}
            exec(result.code, mx_ns)
            assert mx_ns["batches"] == [
                ([[float(v) for v in row] for row in a], [int(v) for v in b]) for a, b in torch_ns["batches"]
            ]
