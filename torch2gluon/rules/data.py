"""Datasets, transforms and data loaders."""

from __future__ import annotations

from typing import Optional, Set

import libcst as cst

from ..context import arg
from ..diagnostics import Severity
from ._base import Example, Rule, Unbindable, bind, literal

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
}
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
# DataLoader arguments that change speed, not which batches come out.
_LOADER_SPEED_ONLY = ("prefetch_factor", "persistent_workers", "pin_memory_device", "in_order")


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


class Data(Rule):
    """torchvision datasets and transforms and the DataLoader become ``gluon.data``.

    ## What it does
    ``datasets.MNIST(root, train=True, transform=T)`` becomes
    ``datasets.MNIST(root, train=True).transform_first(T)``;
    ``transforms.Compose``/``ToTensor``/``Normalize((m,), (s,))`` become their
    ``gluon.data.vision.transforms`` twins (``Normalize(m, s)``);
    ``torch.utils.data.DataLoader`` becomes ``gluon.data.DataLoader`` with
    ``drop_last`` as ``last_batch``. ``TensorDataset(x, y, ...)`` ->
    ``gluon.data.ArrayDataset(x, y, ...)``; ``Subset(ds, idx)`` ->
    ``gluon.data.SimpleDataset(idx).transform(ds.__getitem__)`` (lazy, like
    ``Subset``); ``CIFAR10`` like ``MNIST``. Transforms: ``Resize(n)`` ->
    ``Resize(n, keep_ratio=True)``, ``Resize((h, w))`` -> ``Resize((w, h))``;
    ``CenterCrop`` and ``RandomHorizontalFlip(p)`` are written out as
    ``nn.Lambda``s (see Why); ``Lambda(f)`` -> ``nn.Lambda(f)``.

    ## Why
    A Gluon dataset's ``transform=`` receives ``(data, label)``;
    ``transform_first`` applies the transform to the image alone, like
    torchvision's ``transform=``. Gluon's DataLoader has no default batch size
    (torch's is 1), so it is written out. Gluon's ``CenterCrop`` floors the
    margin where torchvision rounds it (one pixel off for some sizes), and
    MXNet 1.9.1's ``RandomFlipLeftRight`` leaves the middle column of an odd
    width unwritten, so both are spelled out with torchvision's arithmetic;
    the flip draws from MXNet's seeded generator. Gluon's ``ArrayDataset`` of a
    single array yields bare items where ``TensorDataset`` yields 1-tuples.

    ## Flags
    ``target_transform``, samplers, ``collate_fn``, worker hooks,
    ``random_split`` (torch's generator decides the split), a one-tensor
    ``TensorDataset``, ``Resize``/``CenterCrop`` with a size that is not a
    literal (or with ``interpolation``/``max_size``/``antialias``), image
    transforms placed after ``ToTensor`` (they would see CHW tensors), and
    other transforms are left as is with an error for now. ``download=False`` is
    noted: Gluon downloads a missing dataset itself.

    ## Fix safety
    Safe: the same pixels and labels reach the model (labels are int32 in
    Gluon, int64 in torch), except ``Resize``: OpenCV's bilinear resize and
    PIL's antialiased one give the same shape and close, not equal, values.
    Random flips draw from another generator than torch's. CIFAR-10 files are
    not interchangeable (Gluon reads the binary version from its own root).
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
                "loader = DataLoader(ds, batch_size=4, collate_fn=pad)\n"
            ),
            (
                "from torch.utils.data import DataLoader\n"
                "# torch2gluon: T2G601: `torch.utils.data.DataLoader` argument `collate_fn` is not translated yet; left as is\n"
                "loader = DataLoader(ds, batch_size=4, collate_fn=pad)\n"
            ),
            diagnostics=("T2G601",),
            id="collate_fn is flagged",
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
                "                img.flip(axis=1) if nd.random.uniform().asscalar() < 0.5 else img\n"
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
                "from torch.utils.data import random_split\n"
                "train, val = random_split(ds, [50000, 10000])\n"
            ),
            (
                "from torch.utils.data import random_split\n"
                "# torch2gluon: T2G601: `torch.utils.data.random_split` draws its permutation from torch's generator; "
                "no Gluon call gives the same split (use `torch.utils.data.Subset` with indices of your own); left as is\n"
                "train, val = random_split(ds, [50000, 10000])\n"
            ),
            diagnostics=("T2G601",),
            id="random_split is flagged",
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
                raise Unbindable("draws its permutation from torch's generator; no Gluon call gives the same split "
                                 "(use `torch.utils.data.Subset` with indices of your own)")
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
                return self._loader(updated)
        except Unbindable as e:
            return self.keep(original, name, str(e))
        return None

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._after_tensor: Set[int] = set()

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
                body=cst.Call(func=cst.Attribute(value=img, attr=cst.Name("flip")), args=[arg(cst.Integer("1"), "axis")]),
                orelse=img,
            )
            func = cst.Lambda(params=cst.Parameters(params=[cst.Param(name=img)]), body=flip)
            return self.ctx.call("mxnet.gluon.nn.Lambda", arg(func))
        if short == "CenterCrop":
            return self._center_crop(updated)
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
        size = b.get("size")
        if isinstance(size, (cst.List, cst.Tuple)) and len(size.elements) == 1:
            size = size.elements[0].value
        if isinstance(size, (cst.List, cst.Tuple)) and len(size.elements) == 2:
            h, w = literal(size.elements[0].value), literal(size.elements[1].value)
        else:
            h = w = literal(size)
        if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (h, w)):
            raise Unbindable("is only translated with a literal int or (h, w) size")
        code = (
            f"lambda img: CROP(img, int(round((img.shape[1] - {w}) / 2.0)), "
            f"int(round((img.shape[0] - {h}) / 2.0)), {w}, {h})"
        )
        func = cst.parse_expression(code).visit(_Placeholder("CROP", self.ctx.ref("mxnet.image.fixed_crop")))
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

    def _loader(self, updated: cst.Call) -> cst.BaseExpression:
        b = bind(updated, _LOADER_PARAMS)
        for key in b:
            if key not in ("dataset", "batch_size", "shuffle", "num_workers", "pin_memory", "drop_last") + _LOADER_SPEED_ONLY:
                raise Unbindable(f"argument `{key}` is not translated yet")
        if "dataset" not in b:
            raise Unbindable("needs a dataset")
        args = [arg(b["dataset"]), arg(b.get("batch_size") or cst.Integer("1"), "batch_size")]
        for key in ("shuffle", "num_workers", "pin_memory"):
            if key in b:
                args.append(arg(b[key], key))
        if "drop_last" in b:
            value = literal(b["drop_last"])
            if value is True:
                args.append(arg(cst.SimpleString('"discard"'), "last_batch"))
            elif value is not False:
                args.append(
                    arg(cst.parse_expression(f'"discard" if {cst.Module([]).code_for_node(b["drop_last"])} else "keep"'), "last_batch")
                )
        return self.ctx.call("mxnet.gluon.data.DataLoader", *args)
