"""Numeric checks of ModuleList (T2G212), Parameter (T2G213) and nn.init (T2G230).

Each test translates real torch source with ``translate()`` (complete: no
ERROR diagnostic, no torch left), runs both sides and compares: outputs and
gradients with the weights copied across, or, for random initial values, the
law (bounds, standard deviation) against torch's formula; deterministic
initial values are compared exactly.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import mxnet as mx  # noqa: E402
import torch  # noqa: E402
from mxnet import autograd, nd  # noqa: E402

from numeric_helpers import assert_same, copy_state, exec_both  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

HEADER = "import math\nimport torch\nfrom torch import nn\nimport torch.nn.functional as F\n"


def _fb(torch_net, gluon_net, x, atol=1e-6):
    xt = torch.from_numpy(x.copy()).requires_grad_()
    out = torch_net(xt)
    out.sum().backward()
    xm = nd.array(x)
    xm.attach_grad()
    with autograd.record():
        om = gluon_net(xm)
        total = om.sum()
    total.backward()
    assert_same(out.detach().numpy(), om.asnumpy(), rtol=1e-5, atol=atol, what="output")
    assert_same(xt.grad.numpy(), xm.grad.asnumpy(), rtol=1e-5, atol=atol, what="input gradient")


# --------------------------------------------------------------------------
# ModuleList (T2G212)
# --------------------------------------------------------------------------

MODULE_LIST = HEADER + """
class Net(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(4, 6), nn.ReLU()])
        self.layers.append(nn.Linear(6, 6))
        self.layers.extend([nn.Tanh() for _ in range(n)])
        self.heads = nn.ModuleList()
        self.heads.append(nn.Linear(6, 3))

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        x = self.layers[-1](x) + self.layers[len(self.layers) - 1](x)
        return self.heads[0](x)


net = Net(2)
"""


def test_module_list_registers_iterates_and_indexes():
    both = exec_both(MODULE_LIST)
    tnet, gnet = both.torch_ns["net"], both.mx_ns["net"]
    assert "nn.Sequential()" in both.translation.code
    tkeys = [k for k, _ in tnet.named_parameters()]
    gkeys = list(gnet._collect_params_with_prefix())
    assert gkeys == tkeys  # same structural keys, same order
    assert len(gnet.layers) == len(tnet.layers) == 5
    copy_state(tnet, gnet)
    _fb(tnet, gnet, np.random.RandomState(0).randn(7, 4).astype(np.float32))


# --------------------------------------------------------------------------
# Parameter (T2G213)
# --------------------------------------------------------------------------

PARAMETER = HEADER + """
class Affine(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(300, 400))
        self.b = nn.Parameter(torch.zeros(400), requires_grad=False)
        self.s = nn.Parameter(data=torch.ones((1, 400)))

    def forward(self, x):
        return torch.mm(x, self.w) * self.s + self.b


net = Affine()
"""


def test_parameter_initial_values_and_gradients():
    both = exec_both(PARAMETER)
    tnet, gnet = both.torch_ns["net"], both.mx_ns["net"]
    tw, gw = tnet.w.detach().numpy(), gnet.w.data().asnumpy()
    for what, w in (("torch", tw), ("gluon", gw)):
        assert w.shape == (300, 400) and w.dtype == np.float32, what
        assert abs(w.mean()) < 0.01, what
        assert abs(w.std() - 1.0) < 0.01, what  # N(0, 1): 120000 draws
    np.testing.assert_array_equal(gnet.b.data().asnumpy(), tnet.b.detach().numpy())
    np.testing.assert_array_equal(gnet.s.data().asnumpy(), tnet.s.detach().numpy())
    assert (tnet.b.requires_grad, gnet.b.grad_req) == (False, "null")
    assert (tnet.w.requires_grad, gnet.w.grad_req) == (True, "write")
    assert [n for n, _ in tnet.named_parameters()] == list(gnet._collect_params_with_prefix())
    # forward/backward with the same values, and the parameter gradient
    gnet.w.set_data(nd.array(tw))
    x = np.random.RandomState(1).randn(5, 300).astype(np.float32)
    _fb(tnet, gnet, x, atol=1e-4)  # sums of 300 products of size ~20: float32 order
    assert_same(tnet.w.grad.numpy(), gnet.w.grad().asnumpy(), rtol=1e-5, atol=1e-5, what="w gradient")


# --------------------------------------------------------------------------
# nn.init (T2G230)
# --------------------------------------------------------------------------

FAN_IN, FAN_OUT = 400, 300  # Linear(400, 300)
CONV_IN, CONV_OUT = 16 * 9, 32 * 9  # Conv2d(16, 32, 3)


def _u(bound):
    return ("uniform", bound)


def _n(std):
    return ("normal", std)


def _xavier(gain, fi, fo):
    return gain * math.sqrt(6 / (fi + fo)), gain * math.sqrt(2 / (fi + fo))


def _kaiming_gain(a, nl="leaky_relu"):
    return {"relu": math.sqrt(2), "tanh": 5 / 3, "linear": 1.0}.get(nl, math.sqrt(2 / (1 + a * a)))


INIT_CASES = [
    # (statement on `layer.weight`, law for Linear(400, 300), law for Conv2d(16, 32, 3))
    pytest.param("nn.init.xavier_uniform_(W)", _u(_xavier(1, FAN_IN, FAN_OUT)[0]), _u(_xavier(1, CONV_IN, CONV_OUT)[0]), id="xavier_uniform-default"),
    pytest.param("nn.init.xavier_uniform_(W, 2.0)", _u(_xavier(2, FAN_IN, FAN_OUT)[0]), _u(_xavier(2, CONV_IN, CONV_OUT)[0]), id="xavier_uniform-positional"),
    pytest.param("nn.init.xavier_uniform_(gain=nn.init.calculate_gain('tanh'), tensor=W)", _u(_xavier(5 / 3, FAN_IN, FAN_OUT)[0]), _u(_xavier(5 / 3, CONV_IN, CONV_OUT)[0]), id="xavier_uniform-shuffled-calculate_gain"),
    pytest.param("nn.init.xavier_normal_(W, gain=0.5)", _n(_xavier(0.5, FAN_IN, FAN_OUT)[1]), _n(_xavier(0.5, CONV_IN, CONV_OUT)[1]), id="xavier_normal-keyword"),
    pytest.param("nn.init.kaiming_uniform_(W)", _u(_kaiming_gain(0) * math.sqrt(3 / FAN_IN)), _u(_kaiming_gain(0) * math.sqrt(3 / CONV_IN)), id="kaiming_uniform-default"),
    pytest.param("nn.init.kaiming_uniform_(W, a=math.sqrt(5))", _u(_kaiming_gain(math.sqrt(5)) * math.sqrt(3 / FAN_IN)), _u(_kaiming_gain(math.sqrt(5)) * math.sqrt(3 / CONV_IN)), id="kaiming_uniform-a-sqrt5"),
    pytest.param("nn.init.kaiming_uniform_(W, 0.2, 'fan_out', 'leaky_relu')", _u(_kaiming_gain(0.2) * math.sqrt(3 / FAN_OUT)), _u(_kaiming_gain(0.2) * math.sqrt(3 / CONV_OUT)), id="kaiming_uniform-positional-fan_out"),
    pytest.param("nn.init.kaiming_normal_(W, mode='fan_out', nonlinearity='relu')", _n(math.sqrt(2 / FAN_OUT)), _n(math.sqrt(2 / CONV_OUT)), id="kaiming_normal-relu-fan_out"),
    pytest.param("nn.init.kaiming_normal_(nonlinearity='tanh', tensor=W)", _n(5 / 3 / math.sqrt(FAN_IN)), _n(5 / 3 / math.sqrt(CONV_IN)), id="kaiming_normal-shuffled-tanh"),
    pytest.param("nn.init.normal_(W, 0.0, 0.02)", _n(0.02), _n(0.02), id="normal-positional"),
    pytest.param("nn.init.normal_(std=0.5, tensor=W)", _n(0.5), _n(0.5), id="normal-shuffled"),
    pytest.param("nn.init.normal_(W)", _n(1.0), _n(1.0), id="normal-default"),
    pytest.param("nn.init.uniform_(W, -0.3, 0.3)", _u(0.3), _u(0.3), id="uniform-symmetric"),
    pytest.param("nn.init.constant_(W, 0.25)", ("exact", 0.25), ("exact", 0.25), id="constant"),
    pytest.param("nn.init.zeros_(W)", ("exact", 0.0), ("exact", 0.0), id="zeros"),
    pytest.param("nn.init.ones_(tensor=W)", ("exact", 1.0), ("exact", 1.0), id="ones-keyword"),
]


def _check_law(w: np.ndarray, law, what: str) -> None:
    kind, value = law
    if kind == "exact":
        np.testing.assert_array_equal(w, np.full_like(w, value), err_msg=what)
    elif kind == "uniform":
        assert np.abs(w).max() <= value * (1 + 1e-6), f"{what}: max {np.abs(w).max()} > bound {value}"
        assert np.abs(w).max() >= value * 0.99, f"{what}: max {np.abs(w).max()} << bound {value}"
        assert abs(w.std() / (value / math.sqrt(3)) - 1) < 0.03, f"{what}: std {w.std()} vs {value / math.sqrt(3)}"
    else:
        assert abs(w.mean()) < 0.05 * value, f"{what}: mean {w.mean()}"
        assert abs(w.std() / value - 1) < 0.03, f"{what}: std {w.std()} vs {value}"


def _block_src(layer: str, stmt: str) -> str:
    return HEADER + (
        "\nclass Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        f"        self.layer = {layer}\n"
        f"        {stmt.replace('W', 'self.layer.weight')}\n"
        "        nn.init.constant_(self.layer.bias, -0.5)\n\n"
        "    def forward(self, x):\n"
        "        return self.layer(x)\n\n\n"
        "net = Net()\n"
    )


@pytest.mark.parametrize("stmt, linear_law, conv_law", INIT_CASES)
def test_init_in_block(stmt, linear_law, conv_law):
    for layer, law, shape in (
        ("nn.Linear(400, 300)", linear_law, (300, 400)),
        ("nn.Conv2d(16, 32, 3)", conv_law, (32, 16, 3, 3)),
    ):
        both = exec_both(_block_src(layer, stmt))
        assert "nn.init" not in both.translation.code
        tw = both.torch_ns["net"].layer.weight.detach().numpy()
        gw = both.mx_ns["net"].layer.weight.data().asnumpy()
        assert tw.shape == gw.shape == shape
        _check_law(tw, law, f"torch {layer} {stmt}")  # the formula is torch's
        _check_law(gw, law, f"gluon {layer} {stmt}")
        gb = both.mx_ns["net"].layer.bias.data().asnumpy()
        np.testing.assert_array_equal(gb, both.torch_ns["net"].layer.bias.detach().numpy())


def test_init_at_module_level_and_global_initializer_does_not_override():
    src = HEADER + (
        "fc = nn.Linear(400, 300)\n"
        "nn.init.xavier_normal_(fc.weight)\n"
        "nn.init.ones_(fc.bias)\n"
    )
    both = exec_both(src)
    gfc = both.mx_ns["fc"]
    _check_law(gfc.weight.data().asnumpy(), _n(_xavier(1, FAN_IN, FAN_OUT)[1]), "gluon")
    # a later initialize(init=...) keeps the parameters' own initializers
    gfc.initialize(mx.init.Constant(7.0), force_reinit=True)
    np.testing.assert_array_equal(gfc.bias.data().asnumpy(), np.ones(300, np.float32))
    _check_law(gfc.weight.data().asnumpy(), _n(_xavier(1, FAN_IN, FAN_OUT)[1]), "gluon reinit")


# --------------------------------------------------------------------------
# nn.init in a function given to model.apply (T2G231)
# --------------------------------------------------------------------------

APPLY = HEADER + """
def init_weights(m):
    if isinstance(m, nn.Linear):
        nn.init.xavier_uniform_(m.weight, gain=2.0)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif type(m) in (nn.Conv2d,):
        nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
        m.bias.data.fill_(0.25)
    elif isinstance(m, nn.BatchNorm2d):
        m.weight.data.normal_(0.0, 0.02)
        nn.init.constant_(m.bias, -1.5)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(16, 32, 3)
        self.bn = nn.BatchNorm2d(32)
        self.fc = nn.Linear(400, 300)
        self.out = nn.Linear(300, 10, bias=False)


net = Net()
net.apply(init_weights)
"""


def test_apply_init_function_gives_the_same_laws():
    both = exec_both(APPLY)
    code = both.translation.code
    assert "nn.init" not in code and ".data.normal_" not in code
    assert "isinstance(m, nn.Dense)" in code and "type(m) in (nn.Conv2D,)" in code
    t, g = both.torch_ns["net"], both.mx_ns["net"]
    for side, net, val in (("torch", t, lambda p: p.detach().numpy()), ("gluon", g, lambda p: p.data().asnumpy())):
        _check_law(val(net.fc.weight), _u(_xavier(2, FAN_IN, FAN_OUT)[0]), f"{side} fc.weight")
        np.testing.assert_array_equal(val(net.fc.bias), np.zeros(300, np.float32))
        _check_law(val(net.out.weight), _u(_xavier(2, 300, 10)[0]), f"{side} out.weight")
        _check_law(val(net.conv.weight), _n(math.sqrt(2 / CONV_OUT)), f"{side} conv.weight")
        np.testing.assert_array_equal(val(net.conv.bias), np.full(32, 0.25, np.float32))
        np.testing.assert_array_equal(val(net.bn.bias if side == "torch" else net.bn.beta), np.full(32, -1.5, np.float32))
    # 32 draws of N(0, 0.02): loose bounds on both
    for w in (t.bn.weight.detach().numpy(), g.bn.gamma.data().asnumpy()):
        assert 0.005 < w.std() < 0.04 and np.abs(w).max() < 0.1
    assert g.out.bias is None


def test_apply_in_init_as_a_method():
    src = HEADER + """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(400, 300)
        self.apply(self._init_weights)

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(mean=0.0, std=0.02)
            module.bias.data.zero_()

    def forward(self, x):
        return self.fc(x)


net = Net()
"""
    both = exec_both(src)
    for w in (both.torch_ns["net"].fc.weight.detach().numpy(), both.mx_ns["net"].fc.weight.data().asnumpy()):
        _check_law(w, _n(0.02), "weight")
    np.testing.assert_array_equal(both.mx_ns["net"].fc.bias.data().asnumpy(), np.zeros(300, np.float32))


def test_apply_unguarded_or_ambiguous_is_flagged():
    from torch2gluon import translate

    src = HEADER + """
def init_weights(m):
    if isinstance(m, nn.BatchNorm1d):
        nn.init.ones_(m.weight)
    nn.init.zeros_(m.bias)


net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2), nn.BatchNorm2d(2))
net.apply(init_weights)
"""
    r = translate(src)
    rules = sorted(d.rule for d in r.diagnostics if d.severity.value == "error")
    # BatchNorm1d and 2d are both Gluon BatchNorm: the guard is left as is (T2G001);
    # the unguarded call is reported (T2G230)
    assert "T2G001" in rules and rules.count("T2G230") == 2, r.diagnostics


@pytest.mark.parametrize(
    "layer, stmt, attr, law",
    [
        ("nn.ConvTranspose2d(16, 32, 3)", "nn.init.xavier_uniform_(L.weight)", "weight",
         _u(_xavier(1, 32 * 9, 16 * 9)[0])),  # torch: fan_in = size(1) * k = 32*9
        ("nn.ConvTranspose1d(64, 32, 5)", "nn.init.kaiming_normal_(L.weight, nonlinearity='relu')", "weight",
         _n(math.sqrt(2 / (32 * 5)))),  # 10240 draws
        ("nn.Embedding(1000, 64)", "nn.init.normal_(L.weight, std=0.1)", "weight", _n(0.1)),
        ("nn.Embedding(1000, 64)", "nn.init.xavier_normal_(L.weight)", "weight", _n(_xavier(1, 64, 1000)[1])),
        ("nn.BatchNorm2d(64)", "nn.init.constant_(L.weight, 0.5)", "weight", ("exact", 0.5)),
        ("nn.BatchNorm1d(64)", "nn.init.zeros_(L.bias)", "bias", ("exact", 0.0)),
        ("nn.LayerNorm(64)", "nn.init.constant_(L.bias, 0.1)", "bias", ("exact", 0.1)),
    ],
)
def test_init_on_more_layers(layer, stmt, attr, law):
    both = exec_both(HEADER + f"L = {layer}\n{stmt}\n")
    assert "nn.init" not in both.translation.code
    gluon_attr = {"BatchNorm": {"weight": "gamma", "bias": "beta"}, "LayerNorm": {"weight": "gamma", "bias": "beta"}}
    g = both.mx_ns["L"]
    name = gluon_attr.get(type(g).__name__, {}).get(attr, attr)
    tw = getattr(both.torch_ns["L"], attr).detach().numpy()
    gw = getattr(g, name).data().asnumpy()
    assert tw.shape == gw.shape
    _check_law(tw, law, f"torch {layer} {stmt}")
    _check_law(gw, law, f"gluon {layer} {stmt}")


def test_in_place_init_of_known_layers():
    """d2l's idiom on a Sequential's layer, and nn.init through a model's attribute."""
    src = HEADER + """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(400, 300)
        self.fc.bias.data.zero_()

    def forward(self, x):
        return self.fc(x)


net = nn.Sequential(nn.Linear(400, 300), nn.ReLU(), nn.Linear(300, 10))
net[0].weight.data.normal_(0, 0.01)
net[0].bias.data.fill_(0.5)
net[-1].weight.data.uniform_(-0.2, 0.2)
model = Net()
nn.init.xavier_normal_(model.fc.weight)
"""
    both = exec_both(src)
    assert "force_reinit=True" in both.translation.code
    for side, ns, val in (("torch", both.torch_ns, lambda p: p.detach().numpy()),
                          ("gluon", both.mx_ns, lambda p: p.data().asnumpy())):
        net, model = ns["net"], ns["model"]
        _check_law(val(net[0].weight), _n(0.01), f"{side} net[0].weight")
        np.testing.assert_array_equal(val(net[0].bias), np.full(300, 0.5, np.float32))
        _check_law(val(net[2].weight), _u(0.2), f"{side} net[2].weight")
        _check_law(val(model.fc.weight), _n(_xavier(1, FAN_IN, FAN_OUT)[1]), f"{side} model.fc.weight")
        np.testing.assert_array_equal(val(model.fc.bias), np.zeros(300, np.float32))


def test_other_in_place_changes_of_parameters_are_flagged():
    from torch2gluon import translate

    r = translate(HEADER + "net = nn.Linear(2, 1)\nnet.weight.data.copy_(torch.ones(1, 2))\n")
    assert any(d.rule == "T2G214" and "in place" in d.message for d in r.diagnostics), r.diagnostics
