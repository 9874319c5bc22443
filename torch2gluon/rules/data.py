"""Datasets, transforms and data loaders."""

from __future__ import annotations

from typing import Optional

import libcst as cst

from ..context import arg
from ..diagnostics import Severity
from ._base import Example, Rule, Unbindable, bind, literal

_DATASETS = {
    "torchvision.datasets.MNIST": "mxnet.gluon.data.vision.datasets.MNIST",
    "torchvision.datasets.mnist.MNIST": "mxnet.gluon.data.vision.datasets.MNIST",
    "torchvision.datasets.FashionMNIST": "mxnet.gluon.data.vision.datasets.FashionMNIST",
    "torchvision.datasets.mnist.FashionMNIST": "mxnet.gluon.data.vision.datasets.FashionMNIST",
}
_TRANSFORMS = {
    "torchvision.transforms.Compose": "mxnet.gluon.data.vision.transforms.Compose",
    "torchvision.transforms.ToTensor": "mxnet.gluon.data.vision.transforms.ToTensor",
    "torchvision.transforms.transforms.Compose": "mxnet.gluon.data.vision.transforms.Compose",
    "torchvision.transforms.transforms.ToTensor": "mxnet.gluon.data.vision.transforms.ToTensor",
}
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


class Data(Rule):
    """torchvision datasets and transforms and the DataLoader become ``gluon.data``.

    ## What it does
    ``datasets.MNIST(root, train=True, transform=T)`` becomes
    ``datasets.MNIST(root, train=True).transform_first(T)``;
    ``transforms.Compose``/``ToTensor``/``Normalize((m,), (s,))`` become their
    ``gluon.data.vision.transforms`` twins (``Normalize(m, s)``);
    ``torch.utils.data.DataLoader`` becomes ``gluon.data.DataLoader`` with
    ``drop_last`` as ``last_batch``.

    ## Why
    A Gluon dataset's ``transform=`` receives ``(data, label)``;
    ``transform_first`` applies the transform to the image alone, like
    torchvision's ``transform=``. Gluon's DataLoader has no default batch size
    (torch's is 1), so it is written out.

    ## Flags
    ``target_transform``, samplers, ``collate_fn``, worker hooks and other
    transforms are left as is with an error for now. ``download=False`` is
    noted: Gluon downloads a missing dataset itself.

    ## Fix safety
    Safe: the same pixels and labels reach the model (labels are int32 in
    Gluon, int64 in torch).
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
    )

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        name = self.ctx.call_name(original)
        if name is None:
            return None
        try:
            if name in _TRANSFORMS:
                return updated.with_changes(func=self.ctx.ref(_TRANSFORMS[name]))
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
