"""Data pipeline mappings run in both frameworks: random_split, custom Dataset
subclasses, DataLoader arguments (collate_fn, num_workers, prefetch hints),
RandomCrop with padding."""

from __future__ import annotations

import numpy as np
import pytest

import mxnet as mx
import torch
from mxnet import nd

from torch2gluon import Severity, translate

from numeric_helpers import assert_same, exec_both

HEADER = "import torch\nfrom torch.utils.data import DataLoader, Dataset, TensorDataset, random_split\n"


def _items(ds):
    return [ds[i] for i in range(len(ds))]


def _first(sample):
    """The feature row of a sample as numpy (torch tensor or NDArray)."""
    x = sample[0]
    return x.numpy() if isinstance(x, torch.Tensor) else x.asnumpy()


# -- random_split ---------------------------------------------------------------

SPLITS = [
    pytest.param(10, "[8, 2]", [8, 2], id="ints"),
    pytest.param(10, "[3, 0, 7]", [3, 0, 7], id="ints-with-empty"),
    pytest.param(10, "[0.3, 0.3, 0.4]", None, id="fractions-exact"),
    pytest.param(7, "[0.5, 0.5]", None, id="fractions-remainder"),
    pytest.param(11, "[0.1] * 10", None, id="fractions-sum-below-1"),
    pytest.param(11, "[0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]", None, id="fractions-ten"),
    pytest.param(5, "(0.25, 0.25, 0.25, 0.25)", None, id="fractions-tuple"),
    pytest.param(20, "[1/3, 1/3, 1/3]", None, id="fractions-thirds"),
]


@pytest.mark.parametrize("n, lengths, sizes", SPLITS)
def test_random_split_sizes_and_cover(n, lengths, sizes):
    """Same sizes as torch (fractions: floor, then round robin), disjoint, covering."""
    if "*" in lengths or "/" in lengths:  # not a literal list: flagged, not translated
        r = translate(HEADER + f"parts = random_split(ds, {lengths})\n")
        assert any(d.severity is Severity.ERROR and d.rule == "T2G601" for d in r.diagnostics), r.code
        return
    rs = np.random.RandomState(3)
    X = rs.randn(n, 2).astype(np.float32)
    src = HEADER + (
        "ds = TensorDataset(X, torch.arange(len(X)))\n"
        f"parts = random_split(ds, {lengths}, generator=torch.Generator().manual_seed(42))\n"
        "sizes = [len(p) for p in parts]\n"
    )
    both = exec_both(src, inputs={"X": X})
    assert any(d.rule == "T2G601" and d.severity is Severity.WARNING for d in both.translation.diagnostics)
    tsizes, msizes = both.torch_ns["sizes"], both.mx_ns["sizes"]
    if sizes is not None:
        assert tsizes == sizes
    assert msizes == tsizes
    # disjoint and covering: the labels are the indices into ds
    labels = [int(np.asarray(s[1]).reshape(())) for p in both.mx_ns["parts"] for s in _items(p)]
    assert sorted(labels) == list(range(n))
    # each item is the dataset's item at that index
    for p in both.mx_ns["parts"]:
        for s in _items(p):
            assert_same(X[int(np.asarray(s[1]).reshape(()))], s[0].asnumpy(), what="split item")
    # the permutation is numpy's, seeded like the script's generator
    perm = np.random.RandomState(42).permutation(n)
    first = [int(np.asarray(s[1]).reshape(())) for s in _items(both.mx_ns["parts"][0])]
    assert first == perm[: msizes[0]].tolist()


@pytest.mark.parametrize("n, fractions", [(10, [0.3, 0.3, 0.4]), (7, [0.5, 0.5]), (13, [0.2, 0.2, 0.2, 0.2, 0.2]),
                                          (101, [0.7, 0.15, 0.15]), (3, [0.5, 0.25, 0.25]), (5, [1, 0]),
                                          (4, [0, 1.0])])
def test_random_split_fraction_sizes_match_torch(n, fractions):
    lengths = repr(fractions)
    src = HEADER + f"parts = random_split(ds, {lengths})\nsizes = [len(p) for p in parts]\n"
    both = exec_both(
        src,
        torch_env={"ds": list(range(n))},
        mx_env={"ds": mx.gluon.data.SimpleDataset(list(range(n)))},
    )
    assert both.mx_ns["sizes"] == both.torch_ns["sizes"], (both.mx_ns["sizes"], both.torch_ns["sizes"])


def test_random_split_follows_the_script_seed():
    """No generator: torch.manual_seed(s) is translated to seed numpy too, so the
    translated split is reproducible from the script's seed."""
    src = HEADER + (
        "torch.manual_seed(7)\n"
        "a, b = random_split(ds, [6, 4])\n"
        "idx = [a[i] for i in range(len(a))]\n"
    )
    both = exec_both(src, torch_env={"ds": list(range(10))}, mx_env={"ds": mx.gluon.data.SimpleDataset(list(range(10)))})
    np.random.seed(7)
    assert both.mx_ns["idx"] == np.random.permutation(10)[:6].tolist()
    assert len(both.torch_ns["idx"]) == len(both.mx_ns["idx"]) == 6


def test_random_split_of_an_expression_evaluates_it_once():
    src = HEADER + (
        "calls = []\n"
        "def make():\n"
        "    calls.append(1)\n"
        "    return list(range(10))\n"
        "a, b = random_split(make(), [0.5, 0.5])\n"
        "n = (len(a), len(b), len(calls))\n"
    )
    both = exec_both(src)
    assert both.torch_ns["n"] == both.mx_ns["n"] == (5, 5, 1)


def test_random_split_other_generators_are_flagged():
    r = translate(HEADER + "g = torch.Generator()\ng.manual_seed(1)\na, b = random_split(ds, [5, 5], generator=g)\n")
    assert any(d.severity is Severity.ERROR and "generator" in d.message for d in r.diagnostics), r.code
    r = translate(HEADER + "a, b = random_split(ds, [0.5, 0.6])\n")
    assert any(d.severity is Severity.ERROR and d.rule == "T2G601" for d in r.diagnostics), r.code


# -- custom Dataset subclasses ------------------------------------------------------

DATASET = HEADER + """
class Pairs(Dataset):
    def __init__(self, n):
        self.x = torch.arange(n * 3, dtype=torch.float32).reshape(n, 3)
        self.y = [i % 3 for i in range(n)]
        self.w = [0.5 * i for i in range(n)]

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i], self.w[i]

ds = Pairs(10)
loader = DataLoader(ds, batch_size=4, drop_last=DROP, num_workers=WORKERS)
batches = [b for b in loader]
n = len(ds)
"""


@pytest.mark.parametrize("drop, workers, sizes", [("False", 0, [4, 4, 2]), ("True", 0, [4, 4]), ("False", 2, [4, 4, 2])])
def test_custom_dataset_batches(drop, workers, sizes):
    """Python int labels batch to int64 and Python floats to float64 in both
    (torch's default_collate, Gluon's default_batchify); tensor rows stack."""
    both = exec_both(DATASET.replace("DROP", drop).replace("WORKERS", str(workers)))
    assert "gluon.data.Dataset" in both.translation.code
    assert both.torch_ns["n"] == both.mx_ns["n"] == 10
    tb, mb = both.torch_ns["batches"], both.mx_ns["batches"]
    assert [len(b[0]) for b in tb] == [b[0].shape[0] for b in mb] == sizes
    for t, m in zip(tb, mb):
        for k, what in enumerate(("features", "int labels", "float weights")):
            assert_same(t[k].numpy(), m[k].asnumpy(), what=what)  # dtype included


def test_custom_dataset_indexing_a_1d_tensor_is_flagged():
    """A 1-D tensor indexed with an int is 0-d in torch and shape (1,) in MXNet:
    the batch is (B, 1) instead of (B,); the translation says so."""
    src = HEADER + """
class Labels(Dataset):
    def __init__(self):
        self.y = torch.arange(6)

    def __len__(self):
        return 6

    def __getitem__(self, i):
        return self.y[i]

batch = next(iter(DataLoader(Labels(), batch_size=3)))
"""
    both = exec_both(src)
    assert tuple(both.torch_ns["batch"].shape) == (3,)
    assert both.mx_ns["batch"].shape == (3, 1)  # the difference the warning is about
    warnings = [d for d in both.translation.diagnostics if d.rule == "T2G601" and d.severity is Severity.WARNING]
    assert warnings and "0-d" in warnings[0].message


def test_custom_dataset_returning_a_dict_is_flagged():
    src = HEADER + "class D(Dataset):\n    def __getitem__(self, i):\n        return {'x': i}\n"
    r = translate(src)
    assert any(d.severity is Severity.ERROR and "dict" in d.message for d in r.diagnostics), r.code


def test_iterable_dataset_is_not_translated():
    r = translate("import torch\nclass S(torch.utils.data.IterableDataset):\n    pass\n")
    assert any(d.severity is Severity.ERROR for d in r.diagnostics), r.code
    assert "gluon.data" not in r.code


# -- DataLoader arguments -----------------------------------------------------------

def test_collate_fn_becomes_batchify_fn():
    """Gluon's batchify_fn, like collate_fn, gets the list of samples."""
    rs = np.random.RandomState(5)
    X = rs.randn(7, 3).astype(np.float32)
    y = np.arange(7, dtype=np.int64)
    src = HEADER + """
seen = []
def collate(batch):
    seen.append(len(batch))
    xs = torch.stack([b[0] for b in batch])
    return xs * 2, xs.sum(0)

loader = DataLoader(TensorDataset(X, Y), batch_size=3, collate_fn=collate)
batches = [b for b in loader]
sizes = list(seen)
"""
    both = exec_both(src, inputs={"X": X, "Y": y})
    assert "batchify_fn=collate" in both.translation.code
    tb, mb = both.torch_ns["batches"], both.mx_ns["batches"]
    assert len(tb) == len(mb) == 3
    for (tx, ts), (mx_, ms) in zip(tb, mb):
        assert_same(tx.numpy(), mx_.asnumpy(), what="collated data")
        assert_same(ts.numpy(), ms.asnumpy(), what="collated sum")
    assert both.torch_ns["sizes"] == [3, 3, 1]
    assert both.mx_ns["sizes"][:3] == [3, 3, 1]


def test_a_collate_fn_returning_a_0d_tensor_is_reported():
    """A batch item that is a 0-d tensor in torch would be shape (1,) in MXNet: reported (T2G105)."""
    src = HEADER + "def collate(batch):\n    xs = torch.stack([b[0] for b in batch])\n    return xs, xs.sum()\n"
    r = translate(src)
    assert [d.rule for d in r.diagnostics if d.severity is Severity.ERROR] == ["T2G105"], r.code


def test_collate_fn_none_is_the_default():
    r = translate(HEADER + "loader = DataLoader(ds, batch_size=2, collate_fn=None)\n")
    assert "batchify_fn" not in r.code and "collate_fn" not in r.code


def test_speed_only_arguments_are_dropped_with_a_note():
    X = np.arange(12, dtype=np.float32).reshape(6, 2)
    src = HEADER + (
        "loader = DataLoader(TensorDataset(X, X), batch_size=4, num_workers=2, pin_memory=True,\n"
        "                    prefetch_factor=3, persistent_workers=True)\n"
        "batches = [b[0] for b in loader]\n"
    )
    both = exec_both(src, inputs={"X": X})
    infos = [d for d in both.translation.diagnostics if d.severity is Severity.INFO and d.rule == "T2G601"]
    assert infos and "prefetch_factor" in infos[0].message and "persistent_workers" in infos[0].message
    for t, m in zip(both.torch_ns["batches"], both.mx_ns["batches"]):
        assert_same(t.numpy(), m.asnumpy(), what="batch")
    assert len(both.torch_ns["batches"]) == len(both.mx_ns["batches"]) == 2


@pytest.mark.parametrize("use_cuda", [False, True])
def test_loader_options_spread_from_a_dict_built_here(use_cuda):
    """pytorch/examples' `DataLoader(ds, **train_kwargs)`, the dict updated on CUDA."""
    X = np.arange(14, dtype=np.float32).reshape(7, 2)
    src = HEADER + f"""
def loaders(use_cuda):
    train_kwargs = {{'batch_size': 3}}
    if use_cuda:
        cuda_kwargs = {{'num_workers': 1, 'pin_memory': False, 'shuffle': False}}
        train_kwargs.update(cuda_kwargs)
    return DataLoader(TensorDataset(X, X), **train_kwargs)

batches = [b[0] for b in loaders({use_cuda})]
"""
    both = exec_both(src, inputs={"X": X})
    assert "gluon.data.DataLoader(" in both.translation.code and "**train_kwargs" in both.translation.code
    assert [t.shape[0] for t in both.torch_ns["batches"]] == [m.shape[0] for m in both.mx_ns["batches"]] == [3, 3, 1]
    for t, m in zip(both.torch_ns["batches"], both.mx_ns["batches"]):
        assert_same(t.numpy(), m.asnumpy(), what="batch")


@pytest.mark.parametrize("accel", [False, True])
def test_loader_options_from_a_conditional_dict_and_speed_only_keys(accel):
    """pytorch/examples' `kwargs = {...} if accel else {}` next to a batch size, and a dict
    that may hold `persistent_workers` (speed only: left out at run time)."""
    X = np.arange(14, dtype=np.float32).reshape(7, 2)
    src = HEADER + f"""
def loaders(accel):
    kwargs = {{'num_workers': 1, 'pin_memory': True}} if accel else {{}}
    fast = {{'batch_size': 2}}
    if accel:
        fast.update({{'num_workers': 1, 'persistent_workers': True, 'shuffle': False}})
    a = DataLoader(TensorDataset(X, X), batch_size=3, shuffle=False, **kwargs)
    b = DataLoader(TensorDataset(X, X), **fast)
    return a, b

a, b = loaders({accel})
batches_a = [x[0] for x in a]
batches_b = [x[0] for x in b]
"""
    both = exec_both(src, inputs={"X": X})
    assert not [d for d in both.translation.diagnostics if d.severity is Severity.ERROR], both.translation.code
    assert "_t2g_loader_kwargs(fast)" in both.translation.code and "**kwargs" in both.translation.code
    for name, sizes in (("batches_a", [3, 3, 1]), ("batches_b", [2, 2, 2, 1])):
        t, m = both.torch_ns[name], both.mx_ns[name]
        assert [x.shape[0] for x in t] == [x.shape[0] for x in m] == sizes
        for tx, mx_ in zip(t, m):
            assert_same(tx.numpy(), mx_.asnumpy(), what=name)


@pytest.mark.parametrize(
    "build, why",
    [
        ("kw = {'batch_size': 2} if c else {'shuffle': True}\n", "batch_size"),
        ("kw = {'batch_size': 2} if c else {'batch_size': 3, 'timeout': 1}\n", "'timeout'"),
        ("kw = {'batch_size': 2}\nkw['drop_last'] = True\n", "'drop_last'"),
        ("kw = {'batch_size': 2}\nkw.update({'sampler': s})\n", "'sampler'"),
        ("kw = {'shuffle': True}\n", "batch_size"),
        ("kw = make_kwargs()\n", "dict literals"),
        ("kw = {'batch_size': 2}\ntweak(kw)\n", "may change it"),
        ("kw = {'batch_size': 2}\nkw.setdefault('drop_last', True)\n", "changed"),
    ],
)
def test_loader_options_spread_from_elsewhere_are_flagged(build, why):
    r = translate(HEADER + build + "loader = DataLoader(ds, **kw)\n")
    errors = [d for d in r.diagnostics if d.severity is Severity.ERROR and d.rule == "T2G601"]
    assert errors and why in errors[0].message, r.diagnostics
    assert "loader = DataLoader(ds, **kw)" in r.code


@pytest.mark.parametrize("arg", ["sampler=s", "batch_sampler=s", "worker_init_fn=f", "generator=g", "timeout=5"])
def test_untranslated_loader_arguments_are_flagged(arg):
    r = translate(HEADER + f"loader = DataLoader(ds, batch_size=2, {arg})\n")
    assert any(d.severity is Severity.ERROR and d.rule == "T2G601" for d in r.diagnostics), r.code


# -- RandomCrop ---------------------------------------------------------------------

CROPS = [
    pytest.param("transforms.RandomCrop(4, padding=2)", (4, 4), (2, 2, 2, 2), "constant", 0, id="int-padding"),
    pytest.param("transforms.RandomCrop((5, 3))", (5, 3), (0, 0, 0, 0), "constant", 0, id="hw-no-padding"),
    pytest.param("transforms.RandomCrop(size=(6, 4), padding=(1, 2), fill=7)", (6, 4), (1, 2, 1, 2), "constant", 7,
                 id="lr-tb-fill"),
    pytest.param("transforms.RandomCrop(6, (1, 2, 3, 0), padding_mode='reflect')", (6, 6), (1, 2, 3, 0), "reflect", 0,
                 id="ltrb-reflect"),
    pytest.param("transforms.RandomCrop(padding_mode='edge', size=5, padding=3)", (5, 5), (3, 3, 3, 3), "edge", 0,
                 id="edge-keywords"),
    pytest.param("transforms.RandomCrop(5, padding=2, padding_mode='symmetric')", (5, 5), (2, 2, 2, 2), "symmetric", 0,
                 id="symmetric"),
]


@pytest.mark.parametrize("expr, hw, ltrb, mode, fill", CROPS)
def test_random_crop_is_a_crop_of_torchs_padded_image(expr, hw, ltrb, mode, fill):
    """Every Gluon output is torch's padded image cropped at some offset, with
    torch's output shape; over many draws more than one offset is used."""
    from PIL import Image
    import torchvision.transforms.functional as TF

    both = exec_both("import torch\nfrom torchvision import transforms\ncrop = " + expr + "\n")
    img = np.random.RandomState(1).randint(0, 256, size=(7, 6, 3)).astype(np.uint8)
    pil = Image.fromarray(img, mode="RGB")
    padded = np.asarray(TF.pad(pil, list(ltrb), fill=fill, padding_mode=mode))
    t_out = np.asarray(both.torch_ns["crop"](pil))
    h, w = hw
    assert t_out.shape == (h, w, 3)
    mx.random.seed(0)
    offsets = set()
    for _ in range(30):
        m_out = both.mx_ns["crop"](nd.array(img, dtype="uint8")).asnumpy()
        assert m_out.shape == t_out.shape and m_out.dtype == np.uint8
        hits = [(i, j) for i in range(padded.shape[0] - h + 1) for j in range(padded.shape[1] - w + 1)
                if np.array_equal(padded[i:i + h, j:j + w], m_out)]
        assert hits, "Gluon's crop is no crop of torch's padded image"
        offsets.update(hits)
    if (padded.shape[0] - h, padded.shape[1] - w) != (0, 0):
        assert len(offsets) > 1


def test_random_crop_pad_if_needed_is_flagged():
    r = translate("from torchvision import transforms\nc = transforms.RandomCrop(32, pad_if_needed=True)\n")
    assert any(d.severity is Severity.ERROR and d.rule == "T2G601" for d in r.diagnostics), r.code


def test_fashion_mnist_maps_to_gluons():
    r = translate("from torchvision import datasets\nds = datasets.FashionMNIST('data', train=False)\n")
    assert "datasets.FashionMNIST(\"data\", train=False)" in r.code and not r.diagnostics
    assert hasattr(mx.gluon.data.vision.datasets, "FashionMNIST")


def test_tensor_dataset_tensors_attribute_is_flagged():
    r = translate(HEADER + "ds = TensorDataset(x, y)\nfirst = ds.tensors[0]\n")
    errors = [d for d in r.diagnostics if d.severity is Severity.ERROR]
    assert [d.rule for d in errors] == ["T2G601"] and "ds.tensors" in errors[0].message
    assert "first = ds.tensors[0]" in r.code
