"""Function parameters take the meaning of what every caller passes (flow.py)."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from torch2gluon import translate
from torch2gluon.analysis.flow import parameter_kinds
from torch2gluon.analysis.names import Names
from torch2gluon.api import Options
from torch2gluon.rewrite.context import Context
from torch2gluon.rules.modules import module_classes
from libcst.metadata import MetadataWrapper, ScopeProvider


def kinds(source: str):
    module = cst.parse_module(textwrap.dedent(source))
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    names = Names(wrapper.resolve(ScopeProvider), {"torch", "nn", "optim"})
    ctx = Context(module, names, lambda: None, Options())
    found = parameter_kinds(ctx, module, module_classes(ctx, module))
    names = {}
    for node in module.body:
        if isinstance(node, cst.FunctionDef):
            names[node.name.value] = found.get(id(node), {})
    return names


HEADER = """
import torch
import torch.nn as nn

class Net(nn.Module):
    def forward(self, x):
        return x
"""


@pytest.mark.parametrize(
    "body, expected",
    [
        pytest.param(
            "def train(model, opt, loader):\n    pass\n"
            "model = Net()\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\ntrain(model, opt, [])\n",
            {"model": "model", "opt": "optimizer", "loader": None},
            id="function defined before its caller",
        ),
        pytest.param(
            "def run(loader, sched):\n    pass\n"
            "opt = torch.optim.SGD(Net().parameters(), lr=0.1)\n"
            "run(torch.utils.data.DataLoader([], batch_size=2), torch.optim.lr_scheduler.StepLR(opt, 1))\n",
            {"loader": "loader", "sched": "scheduler"},
            id="loaders and schedulers",
        ),
        pytest.param(
            "def run(device, other):\n    pass\n"
            "use_cuda = torch.cuda.is_available()\n"
            "device = torch.device('cuda' if use_cuda else 'cpu')\n"
            "run(device, torch.device('cuda') if use_cuda else Net())\n",
            {"device": "device", "other": None},
            id="devices, and a conditional that may be two things",
        ),
        pytest.param(
            "def run(net):\n    pass\nrun(nn.Sequential(nn.Linear(2, 2)))\nrun(net=Net().to('cpu'))\n",
            {"net": "model"},
            id="expressions and keywords",
        ),
        pytest.param(
            "def run(net):\n    pass\nrun(Net())\nrun(object())\n",
            {"net": None},
            id="callers disagree",
        ),
        pytest.param(
            "def run(net, crit=None):\n    pass\nrun(Net())\n",
            {"net": "model", "crit": None},
            id="a default left out is unknown",
        ),
        pytest.param(
            "def run(net):\n    pass\nrun(*args)\n",
            {"net": None},
            id="star arguments",
        ),
        pytest.param(
            "def train(m):\n    pass\n"
            "def main():\n    model = Net()\n    model = model.to('cpu')\n    train(model)\n",
            {"train": {"m": "model"}, "main": {}},
            id="a caller's local, reassigned through .to()",
        ),
        pytest.param(
            "def train(m, crit):\n    pass\n"
            "def main(net):\n    train(net, nn.CrossEntropyLoss())\nmain(Net())\n",
            {"train": {"m": "model", "crit": "loss_fn"}, "main": {"net": "model"}},
            id="passed on through another function's parameter",
        ),
    ],
)
def test_parameter_kinds(body, expected):
    found = kinds(HEADER + body)
    if all(isinstance(v, dict) for v in expected.values()):
        for fname, params in expected.items():
            assert {k: found[fname].get(k) for k in params} == params
    else:
        (fname,) = [n for n in found if n != "forward"]
        assert {k: found[fname].get(k) for k in expected} == expected


def test_a_function_before_its_caller_has_its_eval_removed():
    source = HEADER + textwrap.dedent(
        """
        def evaluate(model, x):
            model.eval()
            with torch.no_grad():
                return model(x)

        net = Net()
        evaluate(net, torch.ones(2, 3))
        """
    )
    out = translate(source)
    assert ".eval()" not in out.code
    assert any(d.rule == "T2G501" and "removed" in d.message for d in out.diagnostics)


def test_a_parameter_named_like_a_global_model_does_not_borrow_its_meaning():
    source = HEADER + textwrap.dedent(
        """
        model = Net()

        def report(model):
            model.eval()

        report(object())
        """
    )
    out = translate(source)
    assert "model.eval()" in out.code
    (warning,) = [d for d in out.diagnostics if d.rule == "T2G501"]
    assert warning.severity.value == "warning" and "nothing says `model` is a model" in warning.message
