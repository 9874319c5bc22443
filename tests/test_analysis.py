"""The analysis: what each expression holds, one source of facts at a time.

Each test analyses a small program in the shape real training scripts have
and asks for the value of the arguments of ``reveal(...)`` calls (an unknown
function, so the analysis evaluates its arguments like any other code), the
way mypy's ``reveal_type`` works.
"""

from __future__ import annotations

import textwrap
from typing import List

import libcst as cst
import numpy as np
import pytest
from libcst.metadata import MetadataWrapper, ScopeProvider

from torch2gluon import Options, translate
from torch2gluon.analysis.kinds import DType, Kind, Value
from torch2gluon.analysis.names import Names
from torch2gluon.analysis.values import analyze
from torch2gluon.engine import imports
from torch2gluon.facts.catalog import catalog

HEADER = """\
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader
"""


def reveal(source: str) -> List[Value]:
    """The values of every ``reveal(expr)`` argument, in source order."""
    module = cst.parse_module(HEADER + textwrap.dedent(source))
    scopes = MetadataWrapper(module, unsafe_skip_copy=True).resolve(ScopeProvider)
    roots = {b.name.split(".")[0] for b in imports.find_torch_imports(scopes)}
    names = Names(scopes, roots)
    analysis = analyze(module, names, catalog(names.torch_name))
    out = []
    stack: List[cst.CSTNode] = [module]
    while stack:  # pre-order, in source order
        n = stack.pop()
        if isinstance(n, cst.Call) and isinstance(n.func, cst.Name) and n.func.value == "reveal":
            out.append(analysis.value(n.args[0].value))
        stack.extend(reversed(list(n.children)))
    return out


def one(source: str) -> Value:
    (v,) = reveal(source)
    return v


# -- constructors and factory calls -------------------------------------------

@pytest.mark.parametrize(
    "expr, kind, cls",
    [
        ("nn.Linear(2, 3)", Kind.MODULE, "torch.nn.Linear"),
        ("nn.Sequential(nn.Linear(2, 3), nn.ReLU())", Kind.MODULE, "torch.nn.Sequential"),
        ("nn.CrossEntropyLoss()", Kind.LOSS_FN, "torch.nn.CrossEntropyLoss"),
        ("torch.optim.SGD(net.parameters(), lr=0.1)", Kind.OPTIMIZER, "torch.optim.SGD"),
        ("torch.optim.lr_scheduler.StepLR(opt, 1)", Kind.SCHEDULER, "torch.optim.lr_scheduler.StepLR"),
        ("DataLoader(ds, batch_size=4)", Kind.LOADER, "torch.utils.data.DataLoader"),
        ("torch.utils.data.TensorDataset(x, y)", Kind.DATASET, "torch.utils.data.TensorDataset"),
        ("torch.device('cuda' if ok else 'cpu')", Kind.DEVICE, None),
        ("torch.accelerator.current_accelerator()", Kind.DEVICE, None),
        ("torch.float32", Kind.DTYPE, None),
        ("nn.Parameter(torch.zeros(3))", Kind.PARAMETER, None),
    ],
)
def test_constructors(expr, kind, cls):
    v = one(f"reveal({expr})\n")
    assert v.kind is kind
    if cls is not None:
        assert v.cls == cls


@pytest.mark.parametrize(
    "expr, dtype",
    [
        ("torch.ones(2, 3)", DType.FLOAT),
        ("torch.tensor([1, 2])", DType.INT),
        ("torch.tensor([1.5, 2])", DType.FLOAT),
        ("torch.tensor([True, False])", DType.BOOL),
        ("torch.arange(5)", DType.INT),
        ("torch.zeros(3, dtype=torch.int64)", DType.INT),
        ("torch.randint(0, 10, (4,))", DType.INT),
        ("torch.tensor(values)", None),
    ],
)
def test_creation_dtypes(expr, dtype):
    v = one(f"reveal({expr})\n")
    assert v.kind is Kind.TENSOR and v.dtype is dtype


# -- tensor functions and methods ------------------------------------------------

def test_tensor_method_results():
    values = reveal(
        """
        x = torch.ones(4, 3)
        reveal(x.long())
        reveal(x.float())
        reveal(x > 0)
        reveal((x > 0).sum())
        reveal(x.argmax(1))
        reveal(x.item())
        reveal(x.shape)
        reveal(x.size(0))
        reveal(x.size())
        reveal(x.mean())
        reveal(x.T)
        reveal(x[0])
        reveal(x @ x.t())
        reveal(-x)
        """
    )
    kinds = [(v.kind, v.dtype) for v in values]
    assert kinds == [
        (Kind.TENSOR, DType.INT),
        (Kind.TENSOR, DType.FLOAT),
        (Kind.TENSOR, DType.BOOL),
        (Kind.TENSOR, DType.INT),
        (Kind.TENSOR, DType.INT),
        (Kind.NUMBER, None),
        (Kind.SIZE, None),
        (Kind.NUMBER, None),
        (Kind.SIZE, None),
        (Kind.TENSOR, DType.FLOAT),
        (Kind.TENSOR, DType.FLOAT),
        (Kind.TENSOR, DType.FLOAT),
        (Kind.TENSOR, DType.FLOAT),
        (Kind.TENSOR, DType.FLOAT),
    ]


def test_methods_only_tensors_have_make_a_tensor_of_an_unknown_receiver():
    values = reveal(
        """
        def f(a):
            reveal(a.view(-1, 4))
            reveal(a.sum(dim=1))
            reveal(a.sum(1))
            reveal(a.tolist())
        """
    )
    assert [v.kind for v in values] == [Kind.TENSOR, Kind.TENSOR, Kind.UNKNOWN, Kind.UNKNOWN]


def test_max_with_a_dim_gives_values_and_indices():
    values = reveal(
        """
        x = torch.ones(4, 3)
        v, i = torch.max(x, 1)
        reveal(v)
        reveal(i)
        reveal(x.max(dim=1).indices)
        reveal(torch.max(x))
        reveal(torch.max(x, x))
        """
    )
    assert [(v.kind, v.dtype) for v in values] == [
        (Kind.TENSOR, DType.FLOAT),
        (Kind.TENSOR, DType.INT),
        (Kind.TENSOR, DType.INT),
        (Kind.TENSOR, DType.FLOAT),
        (Kind.TENSOR, DType.FLOAT),
    ]


# -- models, losses and what calling them gives -------------------------------------

def test_model_calls_losses_and_moves():
    values = reveal(
        """
        net = nn.Linear(4, 2).to(device)
        crit = nn.CrossEntropyLoss()
        out = net(torch.ones(3, 4))
        loss = crit(out, target)
        reveal(net)
        reveal(out)
        reveal(loss)
        reveal(F.cross_entropy(out, target))
        reveal(F.cross_entropy(out, target, reduction="none"))
        reveal(net.parameters())
        """
    )
    net, out, loss, fl, none, params = values
    assert net.kind is Kind.MODULE and net.cls == "torch.nn.Linear"
    assert out.kind is Kind.TENSOR and not out.loss
    assert loss.kind is Kind.TENSOR and loss.loss
    assert fl.loss and not none.loss
    assert params.kind is Kind.PARAMETERS


def test_recurrent_layers_give_output_and_state():
    h, c = reveal(
        """
        lstm = nn.LSTM(4, 8, batch_first=True)
        out, (h, c) = lstm(torch.ones(2, 5, 4))
        reveal(h)
        reveal(c)
        """
    )
    assert h.kind is Kind.TENSOR and c.kind is Kind.TENSOR


def test_members_assigned_in_init_and_inherited():
    values = reveal(
        """
        class Base(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 2)
                self.p = 0.5

        class Net(Base):
            def forward(self, x):
                reveal(self.fc)
                reveal(self.p)
                return self.fc(x)

        model = Net()
        reveal(model)
        reveal(model.fc.weight)
        reveal(model(torch.ones(1, 4)))
        """
    )
    fc, p, model, weight, out = values
    assert fc.kind is Kind.MODULE and fc.cls == "torch.nn.Linear"
    assert p.kind is Kind.NUMBER
    assert model.kind is Kind.MODULE and model.local_class() == "Net"
    assert weight.kind is Kind.PARAMETER
    assert out.kind is Kind.TENSOR


def test_forward_returning_a_tuple():
    mu, logvar = reveal(
        """
        class VAE(nn.Module):
            def forward(self, x):
                return self.dec(x), F.relu(x), F.relu(x)

        model = VAE()
        recon, mu, logvar = model(torch.ones(2, 4))
        reveal(mu)
        reveal(logvar)
        """
    )
    assert mu.kind is Kind.TENSOR and logvar.kind is Kind.TENSOR


def test_sequential_items_and_indexing():
    first, second = reveal(
        """
        net = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
        reveal(net[0])
        reveal(net[1])
        """
    )
    assert first.cls == "torch.nn.Linear" and second.cls == "torch.nn.ReLU"


# -- loops, unpacking, comprehensions ------------------------------------------------

def test_loop_targets_over_loaders():
    values = reveal(
        """
        from tqdm import tqdm
        loader = DataLoader(ds, batch_size=4)
        for x, y in loader:
            reveal(x)
        for i, (x, y) in enumerate(loader):
            reveal(i)
            reveal(y)
        for batch in tqdm(loader, desc="train"):
            inputs, labels = batch
            reveal(labels)
        for p in net.parameters():
            reveal(p)
        for name, p in net.named_parameters():
            reveal(name)
        """
    )
    assert [v.kind for v in values] == [Kind.TENSOR, Kind.NUMBER, Kind.TENSOR, Kind.TENSOR, Kind.UNKNOWN, Kind.UNKNOWN]


def test_loop_targets_over_a_known_models_parameters():
    p, name = reveal(
        """
        net = nn.Linear(2, 2)
        for p in net.parameters():
            reveal(p)
        for name, q in net.named_parameters():
            reveal(name)
        """
    )
    assert p.kind is Kind.PARAMETER and name.kind is Kind.STR


def test_unpacking_comprehensions_and_walrus():
    values = reveal(
        """
        a, b = torch.ones(2), nn.ReLU()
        reveal(a)
        reveal(b)
        params = [p for p in nn.Linear(2, 2).parameters()]
        reveal(params[0])
        if (n := torch.zeros(3)) is not None:
            reveal(n)
        """
    )
    assert [v.kind for v in values] == [Kind.TENSOR, Kind.MODULE, Kind.PARAMETER, Kind.TENSOR]


def test_with_targets_are_unknown_and_bodies_are_analysed():
    target, inner = reveal(
        """
        with open("f") as fh:
            x = torch.ones(2)
            reveal(fh)
            reveal(x)
        """
    )
    assert target.kind is Kind.UNKNOWN and inner.kind is Kind.TENSOR


# -- control flow ---------------------------------------------------------------------

def test_branches_join_and_isinstance_narrows():
    values = reveal(
        """
        if cond:
            m = nn.Linear(2, 2)
        else:
            m = nn.Linear(3, 3)
        reveal(m)
        if cond:
            v = torch.ones(2)
        else:
            v = [1, 2]
        reveal(v)

        def init(m):
            if isinstance(m, nn.Conv2d):
                reveal(m)
            reveal(m)
        """
    )
    same, mixed, narrowed, plain = values
    assert same.kind is Kind.MODULE and same.cls == "torch.nn.Linear"
    assert mixed.kind is Kind.UNKNOWN
    assert narrowed.kind is Kind.MODULE and narrowed.cls == "torch.nn.Conv2d"
    assert plain.kind is Kind.UNKNOWN


def test_a_loop_that_rebinds_a_name_joins_its_values():
    before, inside = reveal(
        """
        x = torch.ones(2)
        reveal(x)
        for _ in range(3):
            reveal(x)
            x = x.numpy()
        """
    )
    assert before.kind is Kind.TENSOR
    assert inside.kind is Kind.UNKNOWN  # a tensor on the first iteration, an array after


def test_backward_marks_a_loss_when_nothing_else_is_known():
    (loss,) = reveal(
        """
        for x, y in data:
            loss = crit(model(x), y) / 4
            loss.backward()
            reveal(loss)
        """
    )
    assert loss.loss


# -- functions: parameters from callers, returns, closures, globals -----------------

@pytest.mark.parametrize(
    "body, expected",
    [
        pytest.param(
            "class Net(nn.Module):\n    pass\n"
            "def train(model, opt, loader):\n    reveal(model)\n    reveal(opt)\n    reveal(loader)\n"
            "model = Net()\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\ntrain(model, opt, [])\n",
            [Kind.MODULE, Kind.OPTIMIZER, Kind.TUPLE],
            id="function defined before its caller",
        ),
        pytest.param(
            "def run(loader, sched):\n    reveal(loader)\n    reveal(sched)\n"
            "opt = torch.optim.SGD(net.parameters(), lr=0.1)\n"
            "run(DataLoader([], batch_size=2), torch.optim.lr_scheduler.StepLR(opt, 1))\n",
            [Kind.LOADER, Kind.SCHEDULER],
            id="loaders and schedulers",
        ),
        pytest.param(
            "def run(device, other):\n    reveal(device)\n    reveal(other)\n"
            "device = torch.device('cuda' if use_cuda else 'cpu')\n"
            "run(device, torch.device('cuda') if use_cuda else nn.ReLU())\n",
            [Kind.DEVICE, Kind.UNKNOWN],
            id="devices, and a conditional that may be two things",
        ),
        pytest.param(
            "def run(net):\n    reveal(net)\nrun(nn.Sequential(nn.Linear(2, 2)))\nrun(net=nn.Linear(2, 2).to('cpu'))\n",
            [Kind.MODULE],
            id="expressions and keywords",
        ),
        pytest.param(
            "def run(net):\n    reveal(net)\nrun(nn.ReLU())\nrun(object())\n",
            [Kind.UNKNOWN],
            id="callers disagree",
        ),
        pytest.param(
            "def run(net, crit=None):\n    reveal(crit)\nrun(nn.ReLU())\n",
            [Kind.UNKNOWN],
            id="a default left out is unknown",
        ),
        pytest.param("def run(net):\n    reveal(net)\nrun(*args)\n", [Kind.UNKNOWN], id="star arguments"),
        pytest.param(
            "def train(m):\n    reveal(m)\n"
            "def main():\n    model = nn.ReLU()\n    model = model.to('cpu')\n    train(model)\n",
            [Kind.MODULE],
            id="a caller's local, reassigned through .to()",
        ),
        pytest.param(
            "def train(m, crit):\n    reveal(m)\n    reveal(crit)\n"
            "def main(net):\n    train(net, nn.CrossEntropyLoss())\nmain(nn.ReLU())\n",
            [Kind.MODULE, Kind.LOSS_FN],
            id="passed on through another function's parameter",
        ),
        pytest.param(
            "def f(x):\n    reveal(x)\n    if x.dim() > 1:\n        return f(x[0])\n    return x\nf(torch.ones(2, 2))\n",
            [Kind.TENSOR],
            id="a recursive function",
        ),
    ],
)
def test_parameters_take_what_every_caller_passes(body, expected):
    assert [v.kind for v in reveal(body)] == expected


def test_returns_closures_and_globals():
    values = reveal(
        """
        def make():
            return nn.Linear(2, 2)

        def outer(criterion):
            def inner(out, y):
                return criterion(out, y)
            reveal(inner(a, b))

        def use():
            reveal(model)
            reveal(make())

        model = make()
        outer(nn.MSELoss())
        """
    )
    closed, global_model, made = values
    assert closed.loss
    assert global_model.kind is Kind.MODULE
    assert made.kind is Kind.MODULE


def test_a_parameter_named_like_a_global_is_its_own():
    (net,) = reveal(
        """
        net = nn.Linear(2, 2)
        def report(net):
            reveal(net)
        report(object())
        """
    )
    assert net.kind is Kind.UNKNOWN


# -- through the translator ---------------------------------------------------------------

NET = HEADER + """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Flatten(), nn.ReLU())

    def forward(self, x):
        return self.features(x)
"""


def test_a_function_before_its_caller_has_its_eval_removed():
    source = NET + textwrap.dedent(
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
    source = NET + textwrap.dedent(
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
    assert "nothing says `model` is a model" in warning.message


@pytest.mark.parametrize("disabled", [(), ("T2G214",), ("T2G231",), ("T2G214", "T2G231"), ("T2G210", "T2G214", "T2G231")])
def test_what_a_value_is_does_not_depend_on_the_rules_that_run(disabled):
    """A submodule read through an instance (``net.features``) is a Gluon block
    whatever other rules run: T2G002 never reports it as a torch method."""
    source = NET + "net = Net()\nparams = list(net.features.parameters())\nfirst = net.features[0]\n"
    out = translate(source, options=Options(disable=disabled))
    assert not [d for d in out.diagnostics if d.rule == "T2G002" and "net.features`" in d.message]


# -- where torch defines an API and where it documents it ---------------------------------

def _private_paths():
    """Every (module path, name) the alias table maps, enumerated from torch itself."""
    import importlib
    import pkgutil

    import torch

    mods = ["torch.nn.modules", "torch.nn.parameter", "torch.functional", "torch._tensor"]
    mods += [f"torch.nn.modules.{m.name}" for m in pkgutil.iter_modules(torch.nn.modules.__path__)]
    mods += [f"torch.optim.{m.name}" for m in pkgutil.iter_modules(torch.optim.__path__)]
    mods += [f"torch.utils.data.{m}" for m in ("dataloader", "dataset", "sampler", "distributed", "_utils.collate")]
    for path in mods:
        module = importlib.import_module(path)
        for name in dir(module):
            if not name.startswith("_"):
                yield path, name, getattr(module, name)


def test_a_private_path_is_renamed_only_to_the_same_object():
    import importlib

    from torch2gluon.analysis.names import public_name

    renamed = 0
    for path, name, obj in _private_paths():
        public = public_name(f"{path}.{name}")
        if public == f"{path}.{name}":
            continue
        owner, _, last = public.rpartition(".")
        if not hasattr(importlib.import_module(owner), last):
            # renamed to nothing torch has: unknown under both names, so only for what is not the
            # module's public API (`torch.nn.modules.linear.Tensor`, an import); lr_scheduler's
            # StepLR, say, must keep its own name
            module = importlib.import_module(path)
            assert name not in getattr(module, "__all__", ()), f"{path}.{name} renamed to {public}, which is not torch's"
            continue
        assert getattr(importlib.import_module(owner), last) is obj, f"{path}.{name} is not {public}"
        renamed += 1
    assert renamed > 200  # the table covers torch.nn's layers, the optimizers and the data classes


@pytest.mark.parametrize(
    "source, public",
    [
        ("from torch.nn.modules.linear import Linear\nreveal(Linear)\n", "torch.nn.Linear"),
        ("import torch.nn.modules as M\nreveal(M.Conv2d)\n", "torch.nn.Conv2d"),
        ("from torch.functional import split\nreveal(split)\n", "torch.split"),
        ("reveal(torch.functional.einsum)\n", "torch.einsum"),
        ("from torch.utils.data.dataloader import default_collate\nreveal(default_collate)\n",
         "torch.utils.data.default_collate"),
        ("from torch.optim.adam import Adam\nreveal(Adam)\n", "torch.optim.Adam"),
        ("from torch.optim.lr_scheduler import StepLR\nreveal(StepLR)\n", "torch.optim.lr_scheduler.StepLR"),
        ("from torch.nn.modules.utils import _pair\nreveal(_pair)\n", "torch.nn.modules.utils._pair"),
    ],
)
def test_names_through_the_defining_module_resolve_to_the_documented_one(source, public):
    module = cst.parse_module(HEADER + source)
    scopes = MetadataWrapper(module, unsafe_skip_copy=True).resolve(ScopeProvider)
    roots = {b.name.split(".")[0] for b in imports.find_torch_imports(scopes)}
    names = Names(scopes, roots)
    call = module.body[-1].body[0].value
    assert names.torch_name(call.args[0].value) == public


def test_a_layer_imported_from_its_defining_module_translates_like_the_documented_one():
    from numeric_helpers import exec_both

    source = (
        "import torch\nfrom torch.nn.modules.linear import Linear\nfrom torch.functional import split\n"
        "torch.manual_seed(0)\nlayer = Linear(4, 3)\nx = torch.arange(8.0).reshape(2, 4)\n"
        "a, b = split(x, 2, dim=1)\nresult = (a * b).sum(dim=1)\nn = layer.weight.shape[0]\n"
    )
    both = exec_both(source)
    (t_r, t_n), (m_r, m_n) = both.values(["result", "n"])
    np.testing.assert_allclose(np.asarray(t_r), np.asarray(m_r), rtol=1e-6)
    assert t_n == m_n == 3
