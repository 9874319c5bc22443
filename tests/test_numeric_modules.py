"""Numeric checks of model definitions: Sequential attributes (T2G202),
submodules and parameter access (T2G214, T2G002).

Each test translates real torch source with ``translate()`` (complete: no
ERROR diagnostic, no torch left), runs both sides and compares outputs, input
gradients and the parameter values read through the translated expressions,
with the torch weights copied into the Gluon block.
"""

from __future__ import annotations

import numpy as np
import pytest

import mxnet as mx  # noqa: E402
import torch  # noqa: E402
from mxnet import autograd, nd  # noqa: E402

from numeric_helpers import assert_same, check_translation, copy_state, exec_both, random_array  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

HEADER = "import torch\nfrom torch import nn\nimport torch.nn.functional as F\n"
MARK = "# --- after the weights are copied ---\n"


def _fb(torch_net, gluon_net, x, atol=1e-6):
    """Outputs and input gradients of both nets on ``x`` (sum of the outputs)."""
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


def _two_phase(source: str, net: str, x: np.ndarray):
    """Run ``source`` up to MARK on both sides, copy torch's weights across,
    run one forward/backward on ``x``, then run the rest on both sides."""
    r = check_translation(source)
    assert MARK.strip() in r.code, r.code
    t_first, t_rest = source.split(MARK)
    m_first, m_rest = r.code.split(MARK.strip())
    tns, mns = {"__name__": "t"}, {"__name__": "m"}
    exec(compile(t_first, "<torch>", "exec"), tns)
    exec(compile(m_first, "<gluon>", "exec"), mns)
    copy_state(tns[net], mns[net])
    _fb(tns[net], mns[net], x)
    exec(compile(t_rest, "<torch rest>", "exec"), tns)
    exec(compile(m_rest, "<gluon rest>", "exec"), mns)
    return r, tns, mns


# --------------------------------------------------------------------------
# self.x = nn.Sequential(...) in a module (T2G202) and its submodules (T2G002)
# --------------------------------------------------------------------------

TWO_PARTS = HEADER + """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.ReLU())
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        return self.head(self.features(x))


model = Net()
feature_opt = torch.optim.SGD(model.features.parameters(), lr=0.5, momentum=0.9)
head_opt = torch.optim.Adam(model.head.parameters(), lr=0.1)
"""


def test_sequential_attribute_registers_under_the_block():
    both = exec_both(TWO_PARTS)
    code = both.translation.code
    assert "self.features = nn.Sequential()\n" in code and "self.features.add(" in code
    assert "model.features.collect_params()" in code and "model.head.collect_params()" in code
    tnet, gnet = both.torch_ns["model"], both.mx_ns["model"]
    # same structural keys in the same order: features.1.weight, ..., head.bias
    assert list(gnet._collect_params_with_prefix()) == [k for k, _ in tnet.named_parameters()]
    # each optimizer holds exactly its submodule's parameters
    ft = [p.shape for p in tnet.features.parameters()]
    fg = [tuple(p.shape) for p in both.mx_ns["feature_opt"]._params]
    assert sorted(tuple(s) for s in ft) == sorted(fg) == [(8,), (8, 12)]  # the Trainer sorts by name
    assert sorted(tuple(p.shape) for p in both.mx_ns["head_opt"]._params) == [(3,), (3, 8)]
    copy_state(tnet, gnet)
    _fb(tnet, gnet, random_array((5, 3, 4), 0))


def test_two_optimizers_train_the_same():
    """Both optimizers step their own submodule: 3 steps, parameters equal."""
    torch.manual_seed(0)
    src = TWO_PARTS + MARK + "\n"
    r, tns, mns = _two_phase(src, "model", random_array((4, 12), 1))
    tnet, gnet = tns["model"], mns["model"]
    copy_state(tnet, gnet)
    for opt in ("feature_opt", "head_opt"):
        tns[opt].zero_grad()
    start = {k: v.detach().numpy().copy() for k, v in tnet.named_parameters()}
    x = random_array((6, 12), 2)
    y = np.array([0, 1, 2, 0, 1, 2])
    for _ in range(3):
        for opt in ("feature_opt", "head_opt"):
            tns[opt].zero_grad()
        loss_t = torch.nn.functional.cross_entropy(tnet(torch.from_numpy(x)), torch.from_numpy(y))
        loss_t.backward()
        for opt in ("feature_opt", "head_opt"):
            tns[opt].step()
        with autograd.record():
            nn_loss = mx.gluon.loss.SoftmaxCrossEntropyLoss()(gnet(nd.array(x)), nd.array(y))
        nn_loss.backward()
        for opt in ("feature_opt", "head_opt"):
            mns[opt].step(x.shape[0])
    tparams = dict(tnet.named_parameters())
    for key, p in gnet._collect_params_with_prefix().items():
        moved = np.abs(tparams[key].detach().numpy() - start[key]).max()
        assert moved > 1e-2, f"{key} did not train"
        # float32 rounding over 3 momentum steps of lr 0.5 (Adam is TorchAdam: torch's eps placement)
        assert_same(tparams[key].detach().numpy(), p.data().asnumpy(), rtol=1e-5, atol=1e-5, what=key)


# --------------------------------------------------------------------------
# parameter access (T2G214)
# --------------------------------------------------------------------------

READS = """
w = layer.weight.data.numpy()
w2 = layer.weight.detach().numpy()
w3 = layer.weight.data.tolist()
b = layer.bias.data
g = layer.weight.grad.numpy()
"""


@pytest.mark.parametrize(
    "ctor, shape",
    [
        ("nn.Linear(4, 3)", (5, 4)),
        ("nn.Linear(in_features=4, out_features=3)", (2, 7, 4)),
        ("nn.Conv2d(3, 4, 3, padding=1)", (2, 3, 5, 5)),
        ("nn.Conv2d(4, 4, 3, groups=2)", (2, 4, 5, 5)),
        ("nn.Conv1d(3, 4, 2)", (2, 3, 6)),
        ("nn.ConvTranspose2d(3, 4, 3, stride=2)", (2, 3, 4, 4)),
        ("nn.ConvTranspose2d(4, 6, 2, groups=2)", (2, 4, 3, 3)),
        ("nn.ConvTranspose1d(3, 2, 3)", (2, 3, 5)),
        ("nn.LayerNorm(6)", (3, 6)),
    ],
)
def test_layer_parameters_read_the_same(ctor, shape):
    src = HEADER + f"layer = {ctor}\n" + MARK + READS
    r, tns, mns = _two_phase(src, "layer", random_array(shape, 3))
    for name in ("w", "w2", "w3", "b", "g"):
        assert_same(np.asarray(tns[name]), np.asarray(mns[name].asnumpy() if isinstance(mns[name], nd.NDArray) else mns[name]),
                    rtol=1e-5, atol=1e-6, what=f"{ctor}: {name}")
    assert isinstance(mns["w3"], list)


def test_linear_regression_prints_the_same_numbers():
    """The fixture's last line: weight as numpy, bias as a Python float."""
    src = HEADER + "net = nn.Linear(2, 1)\n" + MARK + "w = net.weight.data.numpy().ravel()\nb = net.bias.data.item()\n"
    r, tns, mns = _two_phase(src, "net", random_array((3, 2), 4))
    assert "net.bias.data().asscalar().item()" in r.code
    assert_same(tns["w"], mns["w"], what="weight")
    assert type(mns["b"]) is float and mns["b"] == pytest.approx(tns["b"], rel=1e-7)


def test_batchnorm_and_embedding_parameters():
    src = HEADER + """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 4)
        self.bn = nn.BatchNorm1d(4)

    def forward(self, i):
        return self.bn(self.emb(i)) * self.bn.weight + self.emb.weight[0]


model = Net()
""" + MARK + """
gamma = model.bn.weight.detach().numpy()
beta = model.bn.bias.data.numpy()
rm = model.bn.running_mean.numpy()
rv = model.bn.running_var.numpy()
e = model.emb.weight.data.numpy()
ge = model.emb.weight.grad.numpy()
gg = model.bn.weight.grad.numpy()
"""
    tns = {"__name__": "t"}
    r = check_translation(src)
    t_first, t_rest = src.split(MARK)
    m_first, m_rest = r.code.split(MARK.strip())
    mns = {"__name__": "m"}
    exec(t_first, tns)
    exec(m_first, mns)
    tnet, gnet = tns["model"], mns["model"]
    with torch.no_grad():  # non-trivial gamma/beta
        tnet.bn.weight.uniform_(0.5, 1.5)
        tnet.bn.bias.uniform_(-1, 1)
    copy_state(tnet, gnet)
    idx = np.array([1, 3, 3, 7, 0, 9])
    out_t = tnet(torch.from_numpy(idx))
    out_t.sum().backward()
    with autograd.record():
        out_m = gnet(nd.array(idx))
    out_m.backward()
    assert_same(out_t.detach().numpy(), out_m.asnumpy(), rtol=1e-5, atol=1e-5, what="output")
    exec(t_rest, tns)
    exec(m_rest, mns)
    for name in ("gamma", "beta", "rm", "e", "ge", "gg"):
        assert_same(tns[name], mns[name], rtol=1e-5, atol=1e-5, what=name)
    # running_var: MXNet keeps the biased variance (mapping-facts §2.12)
    np.testing.assert_allclose(mns["rv"], tns["rv"], rtol=0.05)


def test_submodule_parameter_in_forward_and_outside():
    src = HEADER + """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.out = nn.Linear(4, 2)

    def forward(self, x):
        return self.out(torch.tanh(self.fc(x)) + self.fc.bias * 2)


model = Net()
""" + MARK + "w = model.out.weight.data.numpy()\ngb = model.fc.bias.grad.numpy()\n"
    r, tns, mns = _two_phase(src, "model", random_array((3, 4), 5))
    assert "self.fc.bias.data() * 2" in r.code
    assert_same(tns["w"], mns["w"], what="weight")
    assert_same(tns["gb"], mns["gb"], rtol=1e-5, atol=1e-6, what="bias gradient")


@pytest.mark.parametrize(
    "line, message",
    [
        ("net.weight.data = net.weight.data * 2", "is assigned"),
        ("net.weight = None", "is assigned"),
        ("net.bias.requires_grad = False", "requires_grad"),
    ],
)
def test_parameter_writes_are_flagged(line, message):
    from torch2gluon import translate

    r = translate(HEADER + "net = nn.Linear(2, 1)\n" + line + "\n")
    errors = [d for d in r.diagnostics if d.rule == "T2G214"]
    assert errors and message in errors[0].message


def test_parameter_read_in_init_is_flagged():
    from torch2gluon import translate

    src = HEADER + """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        print(self.fc.weight.shape)
"""
    r = translate(src)
    assert any(d.rule == "T2G214" and "before Gluon initialises it" in d.message for d in r.diagnostics)


def test_layer_names_not_from_a_constructor_are_left_alone():
    """`weight` of an unknown object is not touched (no guessing)."""
    from torch2gluon import translate

    r = translate(HEADER + "def f(layer):\n    return layer.weight.data.numpy()\n")
    assert "layer.weight.data.asnumpy()" in r.code or "layer.weight.data.numpy()" in r.code
    assert "data()" not in r.code


# --------------------------------------------------------------------------
# a model built and moved in one statement (T2G801)
# --------------------------------------------------------------------------


def test_model_built_and_moved_in_one_statement():
    src = HEADER + """
class Net(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.fc = nn.Linear(n, 3)

    def forward(self, x):
        return F.relu(self.fc(x))


device = torch.device('cpu')
model = Net(4).to(device)
lin = nn.Linear(3, 2).to(device)
seq = nn.Sequential(nn.Linear(4, 3), nn.Tanh()).to(device)
"""
    both = exec_both(src)
    code = both.translation.code
    assert "model = Net(4)\nmodel.initialize()\nmodel.collect_params().reset_ctx(device)\n" in code
    assert "lin.initialize()\nlin.collect_params().reset_ctx(device)" in code
    assert "seq.initialize()\nseq.collect_params().reset_ctx(device)" in code
    copy_state(both.torch_ns["seq"], both.mx_ns["seq"])
    _fb(both.torch_ns["seq"], both.mx_ns["seq"], random_array((5, 4), 8))
    for name in ("model", "lin"):
        t, g = both.torch_ns[name], both.mx_ns[name]
        copy_state(t, g)
        assert all(p.list_ctx() == [mx.cpu()] for p in g.collect_params().values())
    x = random_array((5, 4), 6)
    _fb(both.torch_ns["model"], both.mx_ns["model"], x)
    _fb(both.torch_ns["lin"], both.mx_ns["lin"], random_array((5, 3), 7))


# --------------------------------------------------------------------------
# nn.ModuleDict and add_module (T2G215)
# --------------------------------------------------------------------------

MODULE_DICT = HEADER + """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Linear(4, 6)
        self.heads = nn.ModuleDict({'cls': nn.Linear(6, 3), 'reg': nn.Linear(6, 1)})
        for i in range(2):
            self.add_module('extra%d' % i, nn.Linear(6, 6))

    def forward(self, x):
        h = torch.tanh(self.stem(x))
        h = self.extra1(self.extra0(h))
        outs = [head(h) for name, head in self.heads.items()]
        return torch.cat(outs, dim=1) + self.heads['reg'](h)


net = Net()
"""


def test_module_dict_and_add_module_register_with_torch_keys():
    both = exec_both(MODULE_DICT)
    tnet, gnet = both.torch_ns["net"], both.mx_ns["net"]
    assert "register_child(self.heads[\"cls\"], \"heads.cls\")" in both.translation.code and "setattr(" in both.translation.code
    assert list(gnet._collect_params_with_prefix()) == [k for k, _ in tnet.named_parameters()]
    assert list(gnet.heads) == list(tnet.heads)
    copy_state(tnet, gnet)
    _fb(tnet, gnet, random_array((5, 4), 8))
    # the registered heads train: their gradients exist and match
    for key, p in gnet._collect_params_with_prefix().items():
        assert_same(dict(tnet.named_parameters())[key].grad.numpy(), p.grad().asnumpy(), rtol=1e-5, atol=1e-6, what=key)


def test_a_function_parameter_shadowing_a_layer_name_is_left_alone():
    from torch2gluon import translate

    r = translate(HEADER + "net = nn.Linear(2, 1)\nw = net.weight\n\n\ndef f(net):\n    return net.weight\n")
    assert "w = net.weight.data()" in r.code
    assert "    return net.weight\n" in r.code
