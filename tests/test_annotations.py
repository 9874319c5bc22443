"""T2G108: annotations name the classes the translated values really have.

The translated script is run under MXNet and every annotated parameter of
its step function is checked against the value the script passes: the
annotation must be that value's class (what a type checker or a runtime
checker such as typeguard would see).
"""

from __future__ import annotations

import typing

from torch2gluon import translate
from torch2gluon.base.diagnostics import Severity

SCRIPT = '''\
from typing import List, Optional

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, TensorDataset


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(x)


def step(model: nn.Module, data: DataLoader, optimizer: torch.optim.Optimizer, device: torch.device,
         seen: Optional[List[torch.Tensor]] = None) -> Tensor:
    return torch.ones(1)


def size(ds: Dataset) -> int:
    return len(ds)


model = Net()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
dev = torch.device("cpu")
ds = TensorDataset(torch.ones(8, 4), torch.zeros(8))
loader = DataLoader(ds, batch_size=4)
out = step(model, loader, opt, dev)
n = size(ds)
'''


def test_annotations_are_the_classes_of_the_translated_values():
    import mxnet as mx

    r = translate(SCRIPT)
    assert not [d for d in r.diagnostics if d.severity is Severity.ERROR], r.code
    assert "torch" not in r.code
    ns: dict = {}
    exec(compile(r.code, "<translation>", "exec"), ns)
    hints = typing.get_type_hints(ns["step"])
    values = {"model": ns["model"], "data": ns["loader"], "optimizer": ns["opt"], "device": ns["dev"], "return": ns["out"]}
    for name, value in values.items():
        assert isinstance(value, hints[name]), (name, hints[name], type(value))
    assert hints["seen"] == typing.Optional[typing.List[mx.nd.NDArray]]
    assert isinstance(ns["ds"], typing.get_type_hints(ns["size"])["ds"])
    assert ns["n"] == 8


def test_a_torch_class_without_a_gluon_counterpart_in_an_annotation_is_reported():
    r = translate("import torch\nfrom torch import nn\n\n\ndef f(layer: nn.Linear, t: torch.dtype, w: nn.Parameter):\n    return layer\n")
    errors = {d.message for d in r.diagnostics if d.severity is Severity.ERROR}
    assert any("torch.nn.Linear" in m for m in errors) and any("torch.dtype" in m for m in errors)
    # a translated parameter reaches a function as its array (`.data()`), not as a gluon.Parameter
    assert any("torch.nn.Parameter" in m for m in errors)


def test_names_outside_annotations_are_not_touched():
    r = translate("import torch\nx = torch.ones(2)\nok = isinstance(x, torch.Tensor)\n")
    assert "isinstance(x, torch.Tensor)" in r.code or any(d.severity is Severity.ERROR for d in r.diagnostics)
