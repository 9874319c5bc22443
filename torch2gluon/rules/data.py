"""Datasets, transforms and data loaders."""

from __future__ import annotations

import math
from typing import List, Optional, Set, Tuple, cast

import libcst as cst

from ..base.syntax import walk
from ..base.syntax import arg
from ..base.diagnostics import Severity
from ..analysis.kinds import Kind
from ..facts.runtime import LOADER_KWARGS_HELPER
from ._base import Example, Rule, Unbindable, bind, code_of, literal

_DATASETS = {
    "torchvision.datasets.MNIST": "mxnet.gluon.data.vision.datasets.MNIST",
    "torchvision.datasets.mnist.MNIST": "mxnet.gluon.data.vision.datasets.MNIST",
    "torchvision.datasets.FashionMNIST": "mxnet.gluon.data.vision.datasets.FashionMNIST",
    "torchvision.datasets.mnist.FashionMNIST": "mxnet.gluon.data.vision.datasets.FashionMNIST",
    "torchvision.datasets.CIFAR10": "mxnet.gluon.data.vision.datasets.CIFAR10",
    "torchvision.datasets.cifar.CIFAR10": "mxnet.gluon.data.vision.datasets.CIFAR10",
}
_TRANSFORMS = {
    "torchvision.transforms.Compose": "mxnet.gluon.data.vision.transforms.Compose",
    "torchvision.transforms.ToTensor": "mxnet.gluon.data.vision.transforms.ToTensor",
    "torchvision.transforms.transforms.Compose": "mxnet.gluon.data.vision.transforms.Compose",
    "torchvision.transforms.transforms.ToTensor": "mxnet.gluon.data.vision.transforms.ToTensor",
}
# torchvision transforms that act on the image before ToTensor -> gluon's twin
_IMAGE_TRANSFORMS = {
    "Resize": "mxnet.gluon.data.vision.transforms.Resize",
    "CenterCrop": "mxnet.image.fixed_crop",  # written out: see _center_crop
    "RandomHorizontalFlip": "mxnet.gluon.nn.Lambda",  # written out: see _image_transform
    "RandomCrop": "mxnet.image.fixed_crop",  # written out: see _random_crop (Gluon 1.9 has none)
}
# torchvision padding_mode -> OpenCV border type (mx.image.copyMakeBorder)
_BORDERS = {"constant": 0, "edge": 1, "reflect": 4, "symmetric": 2}
_TENSOR_DATASETS = ("torch.utils.data.TensorDataset", "torch.utils.data.dataset.TensorDataset")
_SUBSETS = ("torch.utils.data.Subset", "torch.utils.data.dataset.Subset")
_RANDOM_SPLITS = ("torch.utils.data.random_split", "torch.utils.data.dataset.random_split")
_NORMALIZE = ("torchvision.transforms.Normalize", "torchvision.transforms.transforms.Normalize")
_LOADERS = ("torch.utils.data.DataLoader", "torch.utils.data.dataloader.DataLoader")
_LOADER_PARAMS = [
    "dataset", "batch_size", "shuffle", "sampler", "batch_sampler", "num_workers", "collate_fn",
    "pin_memory", "drop_last", "timeout", "worker_init_fn", "multiprocessing_context", "generator",
    "prefetch_factor", "persistent_workers", "pin_memory_device", "in_order",
]
# DataLoader arguments Gluon's DataLoader takes under the same name and meaning
_SAME_IN_GLUON = ("batch_size", "shuffle", "num_workers", "pin_memory")
# DataLoader arguments that change speed, not which batches come out.
_LOADER_SPEED_ONLY = ("prefetch_factor", "persistent_workers", "pin_memory_device", "in_order")
_DATASET_BASES = ("torch.utils.data.Dataset", "torch.utils.data.dataset.Dataset")
_GENERATORS = ("torch.Generator", "torch._C.Generator")


def _unwrap_single(node: cst.BaseExpression) -> cst.BaseExpression:
    """``(0.13,)`` -> ``0.13``: Gluon's Normalize takes a float per channel set."""
    if isinstance(node, (cst.Tuple, cst.List)) and len(node.elements) == 1:
        element = node.elements[0]
        if not isinstance(element, cst.StarredElement):
            return element.value.with_changes(lpar=[], rpar=[])
    return node


def _paren(node: cst.BaseExpression) -> cst.BaseExpression:
    if isinstance(node, (cst.Name, cst.Attribute, cst.Call, cst.Subscript)) or node.lpar:
        return node
    return node.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


class _Placeholder(cst.CSTTransformer):
    def __init__(self, name: str, replacement: cst.BaseExpression) -> None:
        super().__init__()
        self.name, self.replacement = name, replacement

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.BaseExpression:
        return self.replacement if original.value == self.name else updated


def _crop_size(size: Optional[cst.BaseExpression]) -> Tuple[int, int]:
    """torchvision's crop ``size`` (an int, ``(s,)`` or ``(h, w)``, literals) -> (h, w)."""
    if isinstance(size, (cst.List, cst.Tuple)) and len(size.elements) == 1:
        size = size.elements[0].value
    if isinstance(size, (cst.List, cst.Tuple)) and len(size.elements) == 2:
        h, w = literal(size.elements[0].value), literal(size.elements[1].value)
    else:
        h = w = literal(size)
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (h, w)):
        raise Unbindable("is only translated with a literal int or (h, w) size")
    return h, w


def _getitem_returns(cls: cst.ClassDef):
    """The values ``__getitem__`` of ``cls`` returns (its own returns, not nested functions')."""
    for stmt in cls.body.body:
        if isinstance(stmt, cst.FunctionDef) and stmt.name.value == "__getitem__":
            stack: List[cst.CSTNode] = list(stmt.body.body) if isinstance(stmt.body, cst.IndentedBlock) else [stmt.body]
            while stack:
                node = stack.pop()
                if isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
                    continue
                if isinstance(node, cst.Return) and node.value is not None:
                    yield node.value
                    continue
                stack.extend(node.children)


class Data(Rule):
    """torchvision datasets and transforms and the DataLoader become ``gluon.data``.

    ## What it does
    ``datasets.MNIST(root, train=True, transform=T)`` becomes
    ``datasets.MNIST(root, train=True).transform_first(T)``;
    ``transforms.Compose``/``ToTensor``/``Normalize((m,), (s,))`` become their
    ``gluon.data.vision.transforms`` twins (``Normalize(m, s)``);
    ``torch.utils.data.DataLoader`` becomes ``gluon.data.DataLoader`` with
    ``drop_last`` as ``last_batch`` and ``collate_fn`` as ``batchify_fn``
    (both get the list of samples); ``num_workers`` and ``pin_memory`` are
    kept, ``prefetch_factor``/``persistent_workers``/``pin_memory_device``/
    ``in_order`` (speed only) are dropped with a note. ``DataLoader(ds,
    **kwargs)`` keeps the ``**kwargs`` when the dict is built in the same
    function from dict literals (``kwargs = {...}``, ``{...} if c else {...}``,
    ``kwargs.update({...})``, ``kwargs["k"] = v``) and every key it may hold
    is one Gluon's DataLoader takes with the same meaning (``batch_size``,
    ``shuffle``, ``num_workers``, ``pin_memory``) or one that changes only
    speed (left out at run time by a small helper, with a note),
    ``batch_size`` always among them; otherwise it is flagged. ``TensorDataset(x, y, ...)`` ->
    ``gluon.data.ArrayDataset(x, y, ...)``; ``Subset(ds, idx)`` ->
    ``gluon.data.SimpleDataset(idx).transform(ds.__getitem__)`` (lazy, like
    ``Subset``); ``random_split(ds, lengths)`` -> a list of such subsets, cut
    from a numpy permutation; ``class D(torch.utils.data.Dataset)`` ->
    ``class D(gluon.data.Dataset)``; ``CIFAR10``/``FashionMNIST`` like
    ``MNIST``. Transforms: ``Resize(n)`` ->
    ``Resize(n, keep_ratio=True)``, ``Resize((h, w))`` -> ``Resize((w, h))``;
    ``CenterCrop``, ``RandomCrop`` and ``RandomHorizontalFlip(p)`` are written
    out as ``nn.Lambda``s (see Why); ``Lambda(f)`` -> ``nn.Lambda(f)``.

    ## Why
    A Gluon dataset's ``transform=`` receives ``(data, label)``;
    ``transform_first`` applies the transform to the image alone, like
    torchvision's ``transform=``. Gluon's DataLoader has no default batch size
    (torch's is 1), so it is written out. Gluon's ``CenterCrop`` floors the
    margin where torchvision rounds it (one pixel off for some sizes),
    MXNet 1.9.1's ``RandomFlipLeftRight`` leaves the middle column of an odd
    width unwritten, and Gluon 1.9 has no ``RandomCrop``: they are spelled out
    with torchvision's arithmetic (``RandomCrop`` pads with
    ``mx.image.copyMakeBorder``, the OpenCV border of the same
    ``padding_mode``); random draws come from MXNet's seeded generator.
    Gluon's ``ArrayDataset`` of a single array yields bare items where
    ``TensorDataset`` yields 1-tuples. ``random_split``'s lengths follow
    torch's rule (fractions: floor each, then one more to each split, round
    robin, until the remainder is used up); its permutation comes from numpy
    (``np.random``, seeded by the translated ``torch.manual_seed``, or
    ``RandomState(s)`` for ``generator=torch.Generator().manual_seed(s)``).
    Torch's default collate and Gluon's default batchify both make int64
    batches of Python ints and float64 batches of Python floats.

    ## Flags
    ``target_transform``, samplers (but a ``DistributedSampler``, which
    T2G903 translates, is passed on as ``sampler=``), worker hooks, the loader's ``generator``
    and ``timeout``, ``random_split`` with lengths that are not a literal list
    or with another generator, a one-tensor ``TensorDataset``,
    ``Resize``/``CenterCrop``/``RandomCrop`` with a size that is not a literal
    (or with ``interpolation``/``max_size``/``antialias``/``pad_if_needed``),
    image transforms placed after ``ToTensor`` (they would see CHW tensors),
    a ``Dataset`` whose ``__getitem__`` returns a dict (Gluon's batchify does
    not collate dicts), and other transforms are left as is with an error.
    ``loader.dataset`` becomes ``loader._dataset`` (where Gluon's DataLoader
    keeps it; MXNet 1.x has no public name for it).
    ``.tensors`` of a ``TensorDataset`` (Gluon's ``ArrayDataset`` has no
    such attribute) is reported. Warnings: ``random_split`` holds other samples than torch's; a
    ``Dataset``'s ``__getitem__`` returning indexed items or calls (MXNet has
    no 0-d arrays: a 0-d item is shape (1,), so its batch is (B, 1) where
    torch's is (B,)). ``download=False`` is noted: Gluon downloads a missing
    dataset itself.

    ## Fix safety
    Safe: the same pixels and labels reach the model (labels are int32 in
    Gluon, int64 in torch), except ``Resize``: OpenCV's bilinear resize and
    PIL's antialiased one give the same shape and close, not equal, values.
    Random flips, crops and splits draw from another generator than torch's.
    CIFAR-10 files are not interchangeable (Gluon reads the binary version
    from its own root).
    """

    code = "T2G601"
    name = "data"
    summary = "torchvision datasets/transforms, DataLoader -> gluon.data"
    examples = (
        Example(
            (
                "import torch\n"
                "from torchvision import datasets, transforms\n\n"
                "train_data = torch.utils.data.DataLoader(\n"
                "    datasets.MNIST('data', train=True, download=True, transform=transforms.Compose([\n"
                "         transforms.ToTensor(),\n"
                "         transforms.Normalize((0.13,), (0.31,))])),\n"
                "    batch_size=128, shuffle=True, num_workers=4)\n"
            ),
            (
                "from mxnet import gluon\n"
                "from mxnet.gluon.data.vision import datasets, transforms\n\n"
                "train_data = gluon.data.DataLoader(\n"
                "    datasets.MNIST(\"data\", train=True).transform_first(\n"
                "        transforms.Compose([transforms.ToTensor(), transforms.Normalize(0.13, 0.31)])\n"
                "    ),\n"
                "    batch_size=128,\n"
                "    shuffle=True,\n"
                "    num_workers=4,\n"
                ")\n"
            ),
            id="reference data pipeline",
        ),
        Example(
            (
                "from torch.utils.data import DataLoader\n"
                "loader = DataLoader(ds, drop_last=True)\n"
            ),
            (
                "from mxnet import gluon\n\n"
                "loader = gluon.data.DataLoader(ds, batch_size=1, last_batch=\"discard\")\n"
            ),
            id="torch defaults written out, drop_last",
        ),
        Example(
            (
                "from torch.utils.data import DataLoader\n"
                "loader = DataLoader(ds, batch_size=4, collate_fn=pad, persistent_workers=True)\n"
            ),
            (
                "from mxnet import gluon\n\n"
                "loader = gluon.data.DataLoader(ds, batch_size=4, batchify_fn=pad)\n"
            ),
            id="collate_fn becomes batchify_fn, speed-only arguments dropped",
        ),
        Example(
            (
                "from torch.utils.data import DataLoader\n"
                "loader = DataLoader(ds, batch_size=4, sampler=s)\n"
            ),
            (
                "from torch.utils.data import DataLoader\n"
                "# torch2gluon: T2G601: `torch.utils.data.DataLoader` argument `sampler` is not translated yet; left as is\n"
                "loader = DataLoader(ds, batch_size=4, sampler=s)\n"
            ),
            diagnostics=("T2G601",),
            id="sampler is flagged",
        ),
        Example(
            (
                "import torch\n\ndef make(ds, cuda):\n    kwargs = {'batch_size': 64}\n    if cuda:\n"
                "        kwargs.update({'num_workers': 1, 'pin_memory': True})\n"
                "    return torch.utils.data.DataLoader(ds, **kwargs)\n"
            ),
            (
                "from mxnet import gluon\n\n\ndef make(ds, cuda):\n    kwargs = {'batch_size': 64}\n    if cuda:\n"
                "        kwargs.update({'num_workers': 1, 'pin_memory': True})\n"
                "    return gluon.data.DataLoader(ds, **kwargs)\n"
            ),
            id="options spread from a dict built here, every key the same in Gluon",
        ),
        Example(
            "import torch\nloader = torch.utils.data.DataLoader(ds, batch_size=8)\nn = len(loader.dataset)\n",
            "from mxnet import gluon\n\nloader = gluon.data.DataLoader(ds, batch_size=8)\nn = len(loader._dataset)\n",
            id="a loader's dataset",
        ),
        Example(
            (
                "import torch\n"
                "from torch.utils.data import Dataset\n\n\n"
                "class Pairs(Dataset):\n"
                "    def __init__(self, x, y):\n"
                "        self.x, self.y = x, y\n\n"
                "    def __len__(self):\n"
                "        return len(self.y)\n\n"
                "    def __getitem__(self, i):\n"
                "        return self.x[i], self.y[i]\n"
            ),
            (
                "from mxnet import gluon\n\n\n"
                "# torch2gluon: T2G601: MXNet has no 0-d arrays: an item that is a 0-d tensor in torch (`t[i]` of a "
                "1-D tensor, `torch.tensor(label)`) is a shape-(1,) NDArray here, so its batch is (B, 1) where "
                "torch's is (B,); return a Python or numpy scalar for scalar items (`.asscalar()`)\n"
                "class Pairs(gluon.data.Dataset):\n"
                "    def __init__(self, x, y):\n"
                "        self.x, self.y = x, y\n\n"
                "    def __len__(self):\n"
                "        return len(self.y)\n\n"
                "    def __getitem__(self, i):\n"
                "        return self.x[i], self.y[i]\n"
            ),
            diagnostics=("T2G601",),
            id="Dataset subclass, with the 0-d item warning",
        ),
        Example(
            (
                "from torchvision import transforms\n"
                "t = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.ToTensor()])\n"
            ),
            (
                "import mxnet as mx\n"
                "from mxnet import nd\n"
                "from mxnet.gluon import nn\n"
                "from mxnet.gluon.data.vision import transforms\n\n"
                "t = transforms.Compose(\n"
                "    [\n"
                "        nn.Lambda(\n"
                "            lambda img: (\n"
                "                lambda p: mx.image.fixed_crop(\n"
                "                    p,\n"
                "                    int(nd.random.randint(0, p.shape[1] - 32 + 1).asscalar()),\n"
                "                    int(nd.random.randint(0, p.shape[0] - 32 + 1).asscalar()),\n"
                "                    32,\n"
                "                    32,\n"
                "                )\n"
                "            )(mx.image.copyMakeBorder(img, 4, 4, 4, 4, type=0))\n"
                "        ),\n"
                "        transforms.ToTensor(),\n"
                "    ]\n"
                ")\n"
            ),
            id="RandomCrop with padding written out",
        ),
        Example(
            (
                "from torch.utils.data import Subset, TensorDataset\n"
                "ds = TensorDataset(x, y)\n"
                "val = Subset(ds, range(10))\n"
            ),
            (
                "from mxnet import gluon\n\n"
                "ds = gluon.data.ArrayDataset(x, y)\n"
                "val = gluon.data.SimpleDataset(range(10)).transform(ds.__getitem__)\n"
            ),
            id="tensor dataset and subset",
        ),
        Example(
            (
                "from torchvision import transforms\n"
                "t = transforms.Compose([transforms.Resize((32, 48)), transforms.RandomHorizontalFlip(),\n"
                "                        transforms.ToTensor(), transforms.Lambda(lambda x: x * 2)])\n"
            ),
            (
                "from mxnet import nd\n"
                "from mxnet.gluon import nn\n"
                "from mxnet.gluon.data.vision import transforms\n\n"
                "t = transforms.Compose(\n"
                "    [\n"
                "        transforms.Resize((48, 32)),\n"
                "        nn.Lambda(\n"
                "            lambda img: (\n"
                "                nd.flip(img, axis=1) if nd.random.uniform().asscalar() < 0.5 else img\n"
                "            )\n"
                "        ),\n"
                "        transforms.ToTensor(),\n"
                "        nn.Lambda(lambda x: x * 2),\n"
                "    ]\n"
                ")\n"
            ),
            id="image transforms: (h, w) swapped, flip written out",
        ),
        Example(
            (
                "import torch\n"
                "from torch.utils.data import random_split\n"
                "train, val = random_split(ds, [50000, 10000], generator=torch.Generator().manual_seed(42))\n"
            ),
            (
                "import numpy as np\n"
                "from mxnet import gluon\n\n"
                "# torch2gluon: T2G601: `torch.utils.data.random_split` draws its permutation from numpy's generator "
                "here, not torch's: the splits have the same sizes, but hold other samples\n"
                "train, val = [\n"
                "    gluon.data.SimpleDataset(split_idx.tolist()).transform(ds.__getitem__)\n"
                "    for split_idx in np.split(np.random.RandomState(42).permutation(len(ds)), [50000])\n"
                "]\n"
            ),
            diagnostics=("T2G601",),
            id="random_split with lengths and a seeded generator",
        ),
        Example(
            (
                "from torch.utils.data import random_split\n"
                "train, val = random_split(ds, [0.8, 0.2])\n"
            ),
            (
                "import numpy as np\n"
                "from mxnet import gluon\n\n"
                "# torch2gluon: T2G601: `torch.utils.data.random_split` draws its permutation from numpy's generator "
                "here, not torch's: the splits have the same sizes, but hold other samples\n"
                "train, val = [\n"
                "    gluon.data.SimpleDataset(split_idx.tolist()).transform(ds.__getitem__)\n"
                "    for split_sizes in [np.floor(len(ds) * np.array([0.8, 0.2])).astype(\"int64\")]\n"
                "    for split_idx in np.split(\n"
                "        np.random.permutation(len(ds)),\n"
                "        np.cumsum(\n"
                "            split_sizes\n"
                "            + (len(ds) - split_sizes.sum()) // 2\n"
                "            + (np.arange(2) < (len(ds) - split_sizes.sum()) % 2)\n"
                "        )[:-1],\n"
                "    )\n"
                "]\n"
            ),
            diagnostics=("T2G601",),
            id="random_split with fractions: torch's floor and round-robin remainder",
        ),
    )

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        name = self.ctx.call_name(original)
        if name is None:
            return None
        try:
            if name in _TRANSFORMS:
                return updated.with_changes(func=self.ctx.ref(_TRANSFORMS[name]))
            short = name.rsplit(".", 1)[-1]
            if short in _IMAGE_TRANSFORMS and name in (f"torchvision.transforms.{short}", f"torchvision.transforms.transforms.{short}"):
                if id(original) in self._after_tensor:
                    raise Unbindable("after `ToTensor` acts on a CHW tensor; Gluon's twin needs an HWC image (put it before `ToTensor`)")
                return self._image_transform(updated, short)
            if name in ("torchvision.transforms.Lambda", "torchvision.transforms.transforms.Lambda"):
                b = bind(updated, ["lambd"])
                return self.ctx.call("mxnet.gluon.nn.Lambda", arg(b["lambd"]))
            if name in _TENSOR_DATASETS:
                if len(updated.args) < 2 or any(a.star or a.keyword for a in updated.args):
                    raise Unbindable("is only translated with two or more tensors (Gluon's `ArrayDataset` of one array yields bare items, not 1-tuples)")
                return self.ctx.call("mxnet.gluon.data.ArrayDataset", *[arg(a.value) for a in updated.args])
            if name in _SUBSETS:
                b = bind(updated, ["dataset", "indices"])
                if set(b) != {"dataset", "indices"}:
                    raise Unbindable("needs a dataset and indices")
                # lazy, like Subset: item i is dataset[indices[i]], looked up when read
                getitem = cst.Attribute(value=_paren(b["dataset"]), attr=cst.Name("__getitem__"))
                indices = self.ctx.call("mxnet.gluon.data.SimpleDataset", arg(b["indices"]))
                return cst.Call(func=cst.Attribute(value=indices, attr=cst.Name("transform")), args=[arg(getitem)])
            if name in _RANDOM_SPLITS:
                return self._random_split(original, updated)
            if name in _NORMALIZE:
                b = bind(updated, ["mean", "std", "inplace"])
                if "mean" not in b or "std" not in b:
                    raise Unbindable("needs mean and std")
                return self.ctx.call(
                    "mxnet.gluon.data.vision.transforms.Normalize",
                    arg(_unwrap_single(b["mean"])),
                    arg(_unwrap_single(b["std"])),
                )
            if name in _DATASETS:
                return self._dataset(original, updated, name)
            if name in _LOADERS:
                return self._loader(original, updated)
        except Unbindable as e:
            self.keep(original, name, str(e))
            return None
        return None

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._after_tensor: Set[int] = set()
        self._bodies: List[cst.CSTNode] = []  # the module and the functions the pass is in

    def visit_Module(self, node: cst.Module) -> None:
        self._bodies.append(node)

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> Optional[cst.Attribute]:
        value = original.value
        if original.attr.value == "dataset" and isinstance(value, cst.Name) and self.ctx.kind(value) is Kind.LOADER:
            # Gluon's DataLoader keeps its dataset as `_dataset` (MXNet 1.x has no public name for it)
            return updated.with_changes(attr=cst.Name("_dataset"))
        if original.attr.value == "tensors" and isinstance(value, cst.Name) and self.ctx.value(value).cls in _TENSOR_DATASETS:
            self.report(
                original,
                f"`{value.value}.tensors`: Gluon's ArrayDataset keeps no `.tensors` (and turns 1-D arrays into "
                "numpy); keep the arrays in variables; left as is",
            )
        return None

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._bodies.append(node.body)

    def leave_FunctionDef(self, original: cst.FunctionDef, updated: cst.FunctionDef) -> None:
        self._bodies.pop()
        return None

    def _dict_keys(self, name: str, seen: Tuple[str, ...] = ()) -> Tuple[Set[str], Set[str]]:
        """The keys a ``**name`` may spread: (keys it always has, keys it may have).

        ``name`` must be built in the enclosing function (or module) from dict
        literals with string keys: ``name = {...}``, ``name.update({...})`` or
        ``name.update(other)`` with ``other`` such a dict, ``name["k"] = v``.
        Any other use that could change it raises Unbindable.
        """
        body = self._bodies[-1] if self._bodies else None
        if body is None:
            raise Unbindable("`**` arguments cannot be matched statically")
        always: Optional[Set[str]] = None
        maybe: Set[str] = set()

        def literal_keys(node: cst.BaseExpression) -> Set[str]:
            return branch_keys(node)[1]

        def branch_keys(node: cst.BaseExpression) -> Tuple[Set[str], Set[str]]:
            """(keys every branch has, keys some branch has) of `{...} if c else {...}`."""
            if isinstance(node, cst.IfExp):
                a, b = branch_keys(node.body), branch_keys(node.orelse)
                return a[0] & b[0], a[1] | b[1]
            keys = dict_keys(node)
            return keys, keys

        def dict_keys(node: cst.BaseExpression) -> Set[str]:
            if isinstance(node, cst.Dict):
                keys = set()
                for e in node.elements:
                    k = literal(e.key) if isinstance(e, cst.DictElement) else None
                    if not isinstance(k, str):
                        raise Unbindable(f"`**{name}`: a key that is not a string literal")
                    keys.add(k)
                return keys
            if isinstance(node, cst.Name) and node.value not in seen + (name,):
                return self._dict_keys(node.value, seen + (name,))[1]
            raise Unbindable(f"`**{name}` is not built from dict literals here")

        for node in walk(body):
            if isinstance(node, cst.Assign):
                for t in node.targets:
                    if isinstance(t.target, cst.Name) and t.target.value == name:
                        has, may = branch_keys(node.value)
                        always = has if always is None else always & has
                        maybe |= may
                    elif isinstance(t.target, cst.Subscript) and isinstance(t.target.value, cst.Name) and t.target.value.value == name:
                        k = literal(t.target.slice[0].slice.value) if isinstance(t.target.slice[0].slice, cst.Index) else None
                        if not isinstance(k, str):
                            raise Unbindable(f"`**{name}`: a key that is not a string literal")
                        maybe.add(k)
            elif isinstance(node, (cst.AugAssign, cst.AnnAssign)) and isinstance(node.target, cst.Name) and node.target.value == name:
                raise Unbindable(f"`**{name}` is changed in a way torch2gluon does not follow")
            elif isinstance(node, cst.Call):
                f = node.func
                if isinstance(f, cst.Attribute) and isinstance(f.value, cst.Name) and f.value.value == name:
                    if f.attr.value == "update" and len(node.args) == 1 and not node.args[0].star and node.args[0].keyword is None:
                        maybe |= literal_keys(node.args[0].value)
                    elif f.attr.value not in ("get", "items", "keys", "values", "copy"):
                        raise Unbindable(f"`**{name}` is changed in a way torch2gluon does not follow")
                elif not (isinstance(f, cst.Attribute) and f.attr.value == "update") and any(
                    isinstance(a.value, cst.Name) and a.value.value == name and not a.star for a in node.args
                ):  # another dict's `.update(name)` leaves it as it is
                    raise Unbindable(f"`**{name}` is passed to a function that may change it")
        if always is None:
            raise Unbindable(f"`**{name}` is not built from dict literals here")
        return always, maybe


    def visit_Call(self, node: cst.Call) -> None:
        """Image transforms listed after ``ToTensor`` in a ``Compose([...])``."""
        if self.ctx.call_name(node) not in ("torchvision.transforms.Compose", "torchvision.transforms.transforms.Compose"):
            return
        if not node.args or not isinstance(node.args[0].value, (cst.List, cst.Tuple)):
            return
        seen_tensor = False
        for element in node.args[0].value.elements:
            name = self.ctx.call_name(element.value) or ""
            if name.endswith(".ToTensor"):
                seen_tensor = True
            elif seen_tensor and name.rsplit(".", 1)[-1] in _IMAGE_TRANSFORMS:
                self._after_tensor.add(id(element.value))

    def _image_transform(self, updated: cst.Call, short: str) -> cst.BaseExpression:
        target = _IMAGE_TRANSFORMS[short]
        if short == "RandomHorizontalFlip":
            # Gluon's RandomFlipLeftRight leaves the middle column of an odd
            # width unwritten (MXNet 1.9.1: [0 3 6 9 12] -> [12 9 0 3 0]), so
            # the flip is written out, as torch does it: flip when a uniform
            # draw (MXNet's seeded generator) is below p.
            b = bind(updated, ["p"])
            p = b.get("p", cst.Float("0.5"))
            img = cst.Name("img")
            draw = cst.Call(func=cst.Attribute(value=self.ctx.call("mxnet.nd.random.uniform"), attr=cst.Name("asscalar")))
            flip = cst.IfExp(
                test=cst.Comparison(left=draw, comparisons=[cst.ComparisonTarget(operator=cst.LessThan(), comparator=p)]),
                # nd.flip, not img.flip: a method named like torch's would be read as torch's again
                body=self.ctx.call("mxnet.nd.flip", arg(img), arg(cst.Integer("1"), "axis")),
                orelse=img,
            )
            func = cst.Lambda(params=cst.Parameters(params=[cst.Param(name=img)]), body=flip)
            return self.ctx.call("mxnet.gluon.nn.Lambda", arg(func))
        if short == "CenterCrop":
            return self._center_crop(updated)
        if short == "RandomCrop":
            return self._random_crop(updated)
        params = ["size", "interpolation", "max_size", "antialias"]
        b = bind(updated, params)
        if set(b) != {"size"}:
            raise Unbindable("is only translated with `size` alone (interpolation differs)")
        size = b["size"]
        if isinstance(size, (cst.List, cst.Tuple)) and len(size.elements) == 1:
            size = size.elements[0].value
        if isinstance(size, (cst.List, cst.Tuple)):
            if len(size.elements) != 2 or any(isinstance(e, cst.StarredElement) for e in size.elements):
                raise Unbindable("with a size that is not an int or (h, w)")
            h, w = size.elements[0].value, size.elements[1].value
            # torch reads (h, w), Gluon (w, h)
            return self.ctx.call(target, arg(cst.Tuple([cst.Element(w), cst.Element(h)])))
        value = literal(size)
        if not (isinstance(value, int) and not isinstance(value, bool)):
            raise Unbindable("with a size that is not a literal int or (h, w) (torch reads (h, w), Gluon (w, h))")
        if short == "Resize":
            # torch resizes the shorter side and keeps the aspect ratio
            return self.ctx.call(target, arg(size), arg(cst.Name("True"), "keep_ratio"))
        return self.ctx.call(target, arg(size))

    def _center_crop(self, updated: cst.Call) -> cst.BaseExpression:
        """torchvision's CenterCrop written out with its own rounding.

        Gluon's ``CenterCrop`` floors the margin where torchvision rounds it
        (a 7-pixel side cropped to 4 starts at 1 in Gluon, at 2 in torch).
        """
        b = bind(updated, ["size"])
        h, w = _crop_size(b.get("size"))
        code = (
            f"lambda img: CROP(img, int(round((img.shape[1] - {w}) / 2.0)), "
            f"int(round((img.shape[0] - {h}) / 2.0)), {w}, {h})"
        )
        func = cast(
            cst.BaseExpression, cst.parse_expression(code).visit(_Placeholder("CROP", self.ctx.ref("mxnet.image.fixed_crop")))
        )
        return self.ctx.call("mxnet.gluon.nn.Lambda", arg(func))

    def _random_crop(self, updated: cst.Call) -> cst.BaseExpression:
        """torchvision's RandomCrop: pad (OpenCV border), then crop at a random offset.

        The offsets are drawn from MXNet's seeded generator (other values than
        torch's); sizes, padding and padding mode are torch's.
        """
        b = bind(updated, ["size", "padding", "pad_if_needed", "fill", "padding_mode"])
        h, w = _crop_size(b.get("size"))
        if literal(b.get("pad_if_needed", cst.Name("False"))) is not False:
            raise Unbindable("is not translated with `pad_if_needed`")
        padding = b.get("padding")
        pads = None if padding is None else literal(padding)
        if isinstance(padding, (cst.List, cst.Tuple)):
            pads = [literal(e.value) if not isinstance(e, cst.StarredElement) else None for e in padding.elements]
        if pads is None:
            left = top = right = bottom = 0
        elif isinstance(pads, int) and not isinstance(pads, bool):
            left = top = right = bottom = pads
        elif isinstance(pads, list) and len(pads) in (1, 2, 4) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in pads
        ):
            if len(pads) == 1:
                left = top = right = bottom = pads[0]
            elif len(pads) == 2:
                left = right = pads[0]
                top = bottom = pads[1]
            else:
                left, top, right, bottom = pads
        else:
            raise Unbindable("is only translated with a literal int, (lr, tb) or (l, t, r, b) padding")
        mode = literal(b.get("padding_mode", cst.SimpleString("'constant'")))
        if mode not in _BORDERS:
            raise Unbindable("is only translated with a literal `padding_mode`")
        fill = literal(b.get("fill", cst.Integer("0")))
        if not (isinstance(fill, (int, float)) and not isinstance(fill, bool)):
            raise Unbindable("is only translated with a literal number as `fill`")
        if (left, top, right, bottom) == (0, 0, 0, 0):
            padded = "img"
        else:
            extra = ", value=" + repr(fill) if fill and mode == "constant" else ""
            padded = f"PAD(img, {top}, {bottom}, {left}, {right}, type={_BORDERS[mode]}{extra})"
        code = (
            f"lambda img: (lambda p: CROP(p, int(RANDINT(0, p.shape[1] - {w} + 1).asscalar()), "
            f"int(RANDINT(0, p.shape[0] - {h} + 1).asscalar()), {w}, {h}))({padded})"
        )
        ctx = self.ctx

        class _Fill(cst.CSTTransformer):
            def leave_Name(inner, o: cst.Name, u: cst.Name) -> cst.BaseExpression:
                target = {"PAD": "mxnet.image.copyMakeBorder", "CROP": "mxnet.image.fixed_crop",
                          "RANDINT": "mxnet.nd.random.randint"}.get(o.value)
                return ctx.ref(target) if target else u

        func = cast(cst.BaseExpression, cst.parse_expression(code).visit(_Fill()))
        return self.ctx.call("mxnet.gluon.nn.Lambda", arg(func))

    def _dataset(self, original: cst.Call, updated: cst.Call, name: str) -> cst.BaseExpression:
        b = bind(updated, ["root", "train", "transform", "target_transform", "download"])
        if "target_transform" in b:
            raise Unbindable("argument `target_transform` is not translated yet")
        download = b.get("download")
        if download is not None and literal(download) is not True:
            self.report(
                original,
                "Gluon downloads a missing dataset itself; `download=False` is dropped",
                severity=Severity.INFO,
            )
        args = []
        if "root" in b:
            args.append(arg(b["root"]))
        if "train" in b:
            args.append(arg(b["train"], "train"))
        call: cst.BaseExpression = self.ctx.call(_DATASETS[name], *args)
        transform = b.get("transform")
        if transform is not None and literal(transform) is not None:
            call = cst.Call(func=cst.Attribute(value=call, attr=cst.Name("transform_first")), args=[arg(transform)])
        return call

    def _loader(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        spread = [a for a in updated.args if a.star == "**"]
        if spread:
            # The canonical examples' `DataLoader(ds, **train_kwargs)`: kept as
            # it is when every key the dict may hold means the same in Gluon.
            if len(spread) != 1 or not isinstance(spread[0].value, cst.Name) or any(a.star == "*" for a in updated.args):
                raise Unbindable("`**` arguments cannot be matched statically")
            always, maybe = self._dict_keys(spread[0].value.value)
            other = sorted(maybe - set(_SAME_IN_GLUON) - set(_LOADER_SPEED_ONLY))
            if other:
                raise Unbindable(f"`**{spread[0].value.value}` may hold {', '.join(map(repr, other))}, which is not passed on as it is")
            rest = updated.with_changes(args=[a for a in updated.args if a.star != "**"])
            b = bind(rest, _LOADER_PARAMS)
            if set(b) - {"dataset", "batch_size", "shuffle", "num_workers", "pin_memory"} or "dataset" not in b:
                raise Unbindable("`**` arguments next to other options are not translated")
            if "batch_size" not in b and "batch_size" not in always:
                raise Unbindable(f"`**{spread[0].value.value}` may lack `batch_size` (torch's default 1; Gluon needs it)")
            speed = sorted(maybe & set(_LOADER_SPEED_ONLY))
            if speed:
                self.report(
                    original,
                    f"`**{spread[0].value.value}` may hold " + ", ".join(f"`{k}`" for k in speed)
                    + ", which change speed, not the batches; left out at run time (Gluon's DataLoader lacks them)",
                    severity=Severity.INFO,
                )
                self.ctx.helper(*LOADER_KWARGS_HELPER)
                spread = [spread[0].with_changes(value=cst.Call(func=cst.Name("_t2g_loader_kwargs"), args=[arg(spread[0].value)]))]
            return self.ctx.call("mxnet.gluon.data.DataLoader", *rest.args, spread[0])
        b = bind(updated, _LOADER_PARAMS)
        # a sampler the analysis knows (torch's DistributedSampler, which
        # T2G903 translates into a Gluon sampler) is passed on as it is
        sampler = bind(original, _LOADER_PARAMS).get("sampler")
        known_sampler = sampler is not None and self.ctx.kind(sampler) is Kind.SAMPLER
        for key in b:
            if key == "sampler" and known_sampler:
                continue
            if key not in ("dataset", "batch_size", "shuffle", "num_workers", "pin_memory", "drop_last", "collate_fn") + _LOADER_SPEED_ONLY:
                raise Unbindable(f"argument `{key}` is not translated yet")
        dropped = [key for key in _LOADER_SPEED_ONLY if key in b]
        if dropped:
            self.report(
                original,
                "DataLoader argument(s) " + ", ".join(f"`{k}`" for k in dropped)
                + " change speed, not the batches; dropped (Gluon prefetches `2 * num_workers` batches)",
                severity=Severity.INFO,
            )
        if "dataset" not in b:
            raise Unbindable("needs a dataset")
        args = [arg(b["dataset"]), arg(b.get("batch_size") or cst.Integer("1"), "batch_size")]
        for key in ("shuffle", "num_workers", "pin_memory"):
            if key in b:
                args.append(arg(b[key], key))
        if known_sampler:
            args.append(arg(b["sampler"], "sampler"))
        if "collate_fn" in b and literal(b["collate_fn"]) is not None:
            # Gluon's batchify_fn, like collate_fn, gets the list of samples
            args.append(arg(b["collate_fn"], "batchify_fn"))
        if "drop_last" in b:
            value = literal(b["drop_last"])
            if value is True:
                args.append(arg(cst.SimpleString('"discard"'), "last_batch"))
            elif value is not False:
                args.append(
                    arg(cst.parse_expression(f'"discard" if {cst.Module([]).code_for_node(b["drop_last"])} else "keep"'), "last_batch")
                )
        return self.ctx.call("mxnet.gluon.data.DataLoader", *args)

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef) -> Optional[cst.ClassDef]:
        """``class D(torch.utils.data.Dataset)`` -> ``class D(gluon.data.Dataset)``."""
        bases = list(updated.bases)
        hit = False
        for i, base in enumerate(original.bases):
            if base.keyword is None and self.ctx.torch_name(base.value) in _DATASET_BASES:
                bases[i] = bases[i].with_changes(value=self.ctx.ref("mxnet.gluon.data.Dataset"))
                hit = True
        if not hit:
            return None
        for ret in _getitem_returns(original):
            items = [e.value for e in ret.elements] if isinstance(ret, (cst.Tuple, cst.List)) else [ret]
            if isinstance(ret, cst.Dict):
                self.report(
                    original,
                    "`__getitem__` returns a dict: Gluon's default batchify does not collate dicts "
                    "(torch's does); return a tuple",
                )
            elif any(isinstance(e, (cst.Subscript, cst.Call)) for e in items):
                self.report(
                    original,
                    "MXNet has no 0-d arrays: an item that is a 0-d tensor in torch (`t[i]` of a 1-D tensor, "
                    "`torch.tensor(label)`) is a shape-(1,) NDArray here, so its batch is (B, 1) where torch's "
                    "is (B,); return a Python or numpy scalar for scalar items (`.asscalar()`)",
                    severity=Severity.WARNING,
                )
                break
        return updated.with_changes(bases=bases)

    def _random_split(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        """``random_split(ds, lengths, generator)`` as index lists into ``ds``.

        The permutation comes from numpy's generator (``np.random``, which the
        translated ``torch.manual_seed`` seeds, or a ``RandomState`` seeded
        like the script's ``torch.Generator().manual_seed(s)``): the splits
        are disjoint, cover the dataset and have torch's sizes (fractions:
        floor, then the remainder one by one, round robin), but hold other
        samples than torch's.
        """
        b = bind(updated, ["dataset", "lengths", "generator"])
        if "dataset" not in b or "lengths" not in b:
            raise Unbindable("needs a dataset and lengths")
        lengths = b["lengths"]
        if not isinstance(lengths, (cst.List, cst.Tuple)) or not lengths.elements or any(
            isinstance(e, cst.StarredElement) for e in lengths.elements
        ):
            raise Unbindable("is only translated with a literal list of lengths or fractions")
        values = [literal(e.value) for e in lengths.elements]
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        if numbers and math.isclose(sum(values), 1) and sum(values) <= 1:
            fractions = True  # torch's test: even [1, 0] are fractions
        elif numbers and all(isinstance(v, int) for v in values):
            fractions = False
        else:
            raise Unbindable("is only translated with literal int lengths or literal fractions that sum to 1")
        seed = self._generator_seed(b.get("generator"))
        dataset = b["dataset"]
        pre = ""
        if isinstance(dataset, (cst.Name, cst.Attribute)):
            ds = code_of(dataset)
        else:
            ds = "split_ds"
            pre = f"for split_ds in [{code_of(dataset)}] "
        rng = "NP.random" if seed is None else f"NP.random.RandomState({code_of(seed)})"
        perm = f"{rng}.permutation(len({ds}))"
        if fractions:
            fr = ", ".join(code_of(e.value.with_changes(lpar=[], rpar=[])) for e in lengths.elements)
            rest = f"(len({ds}) - split_sizes.sum())"
            pre += f"for split_sizes in [NP.floor(len({ds}) * NP.array([{fr}])).astype('int64')] "
            cuts = (
                f"NP.cumsum(split_sizes + {rest} // {len(values)} "
                f"+ (NP.arange({len(values)}) < {rest} % {len(values)}))[:-1]"
            )
        else:
            offsets, total = [], 0
            for v in values[:-1]:
                total += v
                offsets.append(str(total))
            cuts = f"[{', '.join(offsets)}]"
        code = (
            f"[SIMPLE(split_idx.tolist()).transform({ds}.__getitem__) "
            f"{pre}for split_idx in NP.split({perm}, {cuts})]"
        )
        names: list = []

        class _Fill(cst.CSTTransformer):
            def leave_Name(inner, o: cst.Name, u: cst.Name) -> cst.BaseExpression:
                if o.value == "NP":
                    names.append(cst.Name("np"))
                    return names[-1]
                if o.value == "SIMPLE":
                    return self.ctx.ref("mxnet.gluon.data.SimpleDataset")
                return u

        result = cast(cst.BaseExpression, cst.parse_expression(code).visit(_Fill()))
        self.ctx.plain_import("numpy", "np", names)
        self.report(
            original,
            "`torch.utils.data.random_split` draws its permutation from numpy's generator here, not torch's: "
            "the splits have the same sizes, but hold other samples",
            severity=Severity.WARNING,
        )
        return result

    def _generator_seed(self, node: Optional[cst.BaseExpression]) -> Optional[cst.BaseExpression]:
        """``torch.Generator().manual_seed(s)`` -> ``s``; no generator -> None."""
        if node is None or literal(node) is None:
            return None
        if (
            isinstance(node, cst.Call)
            and isinstance(node.func, cst.Attribute)
            and node.func.attr.value == "manual_seed"
            and isinstance(node.func.value, cst.Call)
            and not node.func.value.args
            and self.ctx.torch_name(node.func.value.func) in _GENERATORS
            and len(node.args) == 1
            and not node.args[0].star
            and node.args[0].keyword in (None,)
        ):
            return node.args[0].value
        raise Unbindable("is only translated with `generator=torch.Generator().manual_seed(seed)` or no generator")
