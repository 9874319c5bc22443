"""Numeric checks of T2G220-T2G227: recurrent layers and their calls, Embedding,
LayerNorm, Conv1d/ConvTranspose, GELU/Softmax/LogSoftmax/Identity, LazyLinear.

Like tests/test_numeric_layers.py: real torch source is translated with
``translate()`` (complete: no ERROR diagnostic, no torch left), both sides run,
weights are copied torch -> Gluon by order, and outputs, input gradients and
(for recurrent layers) final states are compared. Each API is exercised all
positional, all keyword, with shuffled keywords and with defaults left out.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import mxnet as mx  # noqa: E402
import torch  # noqa: E402
from mxnet import autograd, nd  # noqa: E402

from numeric_helpers import LAYER_HEADER, layer_pair, random_array, assert_same, check_translation, copy_params, exec_both  # noqa: E402
from torch2gluon import Severity, translate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

HEADER = LAYER_HEADER


def _case(*values, id: str):
    return pytest.param(*values, id=id)






def _compare_fb(torch_fn, mx_fn, x, *, what, rtol=1e-5, atol=1e-5):
    xt = torch.from_numpy(x.copy()).requires_grad_()
    out = torch_fn(xt)
    w = random_array(tuple(out.shape), 99)
    (out * torch.from_numpy(w)).sum().backward()
    xm = nd.array(x)
    xm.attach_grad()
    with autograd.record():
        out_m = mx_fn(xm)
        total = (out_m * nd.array(w)).sum()
    total.backward()
    assert_same(out.detach().numpy(), out_m.asnumpy(), rtol=rtol, atol=atol, what=f"{what}: output")
    assert_same(xt.grad.numpy(), xm.grad.asnumpy(), rtol=rtol, atol=atol, what=f"{what}: input gradient")


def _errors(source):
    return [d.rule for d in translate(source).diagnostics if d.severity is Severity.ERROR]


def _check_uniform(values, bound):
    for v in values:
        assert np.abs(v).max() <= bound + 1e-7
        assert np.abs(v).max() > (0.98 if v.size >= 1000 else 0.5) * bound, "uses the whole range"
        if v.size >= 1000:
            assert abs(v.std() / (bound / math.sqrt(3)) - 1) < 0.1


# --------------------------------------------------------------------------
# LSTM / GRU / RNN layers (T2G220)
# --------------------------------------------------------------------------

RNN_CALLS = [
    _case("nn.LSTM(5, 7)", False, 1, 1, id="lstm-defaults"),
    _case("nn.LSTM(5, 7, 2, True, True, 0.0, True, 0)", True, 2, 2, id="lstm-all-positional"),
    _case("nn.LSTM(input_size=5, hidden_size=7, num_layers=2, batch_first=True)", True, 2, 1, id="lstm-keyword"),
    _case("nn.LSTM(bidirectional=True, batch_first=False, hidden_size=7, input_size=5)", False, 1, 2,
          id="lstm-shuffled-bidirectional"),
    _case("nn.GRU(5, 7)", False, 1, 1, id="gru-defaults"),
    _case("nn.GRU(5, 7, 2, True, True, 0.0, True)", True, 2, 2, id="gru-all-positional"),
    _case("nn.GRU(bidirectional=True, hidden_size=7, batch_first=True, input_size=5, num_layers=3)", True, 3, 2,
          id="gru-shuffled"),
    _case("nn.RNN(5, 7)", False, 1, 1, id="rnn-defaults-tanh"),
    _case("nn.RNN(5, 7, 2, 'relu', True, True, 0.0, True)", True, 2, 2, id="rnn-all-positional-relu"),
    _case("nn.RNN(input_size=5, hidden_size=7, nonlinearity='tanh', batch_first=True)", True, 1, 1, id="rnn-keyword"),
    _case("nn.RNN(nonlinearity='relu', num_layers=2, input_size=5, hidden_size=7)", False, 2, 1, id="rnn-shuffled"),
]


def _seq(batch_first, seed=1):
    n, t, c = 3, 6, 5
    return random_array((n, t, c) if batch_first else (t, n, c), seed)


@pytest.mark.parametrize("line, batch_first, layers, dirs", RNN_CALLS)
def test_recurrent_layer_matches_torch(line, batch_first, layers, dirs):
    torch.manual_seed(0)
    rnn_t, rnn_m, _ = layer_pair(line)
    copy_params(rnn_t, rnn_m, initialize=False)  # initialize() was emitted
    x = _seq(batch_first)
    # output and input gradient, without states
    _compare_fb(lambda v: rnn_t(v)[0], rnn_m, x, what=line)
    # parameter gradients
    for tp, (name, mp) in zip(rnn_t.parameters(), rnn_m.collect_params().items()):
        assert_same(tp.grad.numpy(), mp.grad().asnumpy(), rtol=1e-4, atol=1e-5, what=f"{line}: {name} gradient")
    # with zero states from begin_state: same final states, shape (L*dirs, N, H)
    n = x.shape[0] if batch_first else x.shape[1]
    out_t, h_t = rnn_t(torch.from_numpy(x))
    states = rnn_m.begin_state(batch_size=n)
    out_m, h_m = rnn_m(nd.array(x), states)
    h_t = list(h_t) if isinstance(h_t, tuple) else [h_t]
    assert len(h_t) == len(h_m) == (2 if "LSTM" in line else 1)
    for t_state, m_state, s0 in zip(h_t, h_m, states):
        assert t_state.shape == (layers * dirs, n, 7) == m_state.shape == s0.shape
        assert_same(t_state.detach().numpy(), m_state.asnumpy(), rtol=1e-5, atol=1e-6, what=f"{line}: final state")
    assert_same(out_t.detach().numpy(), out_m.asnumpy(), rtol=1e-5, atol=1e-6, what=f"{line}: output with states")
    # given (non-zero) initial states
    s0 = [random_array(tuple(s.shape), 7 + i) for i, s in enumerate(states)]
    out_t, _ = rnn_t(torch.from_numpy(x), tuple(torch.from_numpy(s) for s in s0) if len(s0) == 2
                     else torch.from_numpy(s0[0]))
    out_m, _ = rnn_m(nd.array(x), [nd.array(s) for s in s0])
    assert_same(out_t.detach().numpy(), out_m.asnumpy(), rtol=1e-5, atol=1e-6, what=f"{line}: given states")


@pytest.mark.parametrize(
    "line, hidden",
    [
        _case("nn.LSTM(10, 32)", 32, id="lstm"),
        _case("nn.GRU(16, 64, num_layers=2, bidirectional=True)", 64, id="gru-2-layers-bidirectional"),
        _case("nn.RNN(8, 50)", 50, id="rnn"),
    ],
)
def test_recurrent_initial_distribution_is_torchs(line, hidden):
    torch.manual_seed(0)
    mx.random.seed(0)
    rnn_t, rnn_m, _ = layer_pair(line)
    bound = 1 / math.sqrt(hidden)
    t_params = [p.detach().numpy() for p in rnn_t.parameters()]
    m_params = [p.data().asnumpy() for p in rnn_m.collect_params().values()]
    assert [t.shape for t in t_params] == [m.shape for m in m_params]
    _check_uniform(t_params, bound)
    _check_uniform(m_params, bound)  # biases too: Gluon's default ones are zero


@pytest.mark.parametrize(
    "line",
    ["nn.LSTM(5, 7, bias=False)", "nn.LSTM(5, 7, proj_size=3)", "nn.GRU(5, 7, device='cpu')",
     "nn.RNN(5, 7, nonlinearity='gelu')", "nn.LSTM(5)"],
)
def test_recurrent_flags(line):
    assert _errors(HEADER + f"layer = {line}\n") == ["T2G220"]


def test_why_recurrent_dropout_gets_a_warning():
    """MXNet 1.9's CPU (oneDNN) RNN kernel ignores dropout between layers, even in training mode."""
    r = translate(HEADER + "layer = nn.LSTM(5, 7, 2, dropout=0.5)\n")
    assert [(d.rule, d.severity) for d in r.diagnostics] == [("T2G220", Severity.WARNING)]
    _, rnn_m, _ = layer_pair("nn.LSTM(5, 7, 2, dropout=0.9)")
    x = nd.array(_seq(False))
    with autograd.record():
        a = rnn_m(x)
    assert np.abs(a.asnumpy() - rnn_m(x).asnumpy()).max() < 1e-6, "MXNet now applies RNN dropout: drop the warning"
    torch.manual_seed(0)
    rnn_t = torch.nn.LSTM(5, 7, 2, dropout=0.9)
    xt = torch.from_numpy(_seq(False))
    assert (rnn_t(xt)[0] - rnn_t.eval()(xt)[0]).abs().max() > 1e-3  # torch drops in training


# --------------------------------------------------------------------------
# Calls of recurrent layers inside a Module (T2G221)
# --------------------------------------------------------------------------

RNN_MODULE = HEADER + """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(5, 7, num_layers=2, batch_first={bf})
        self.gru = nn.GRU(7, 4, batch_first={bf})

    def forward(self, x):
        a, _ = self.lstm(x)
        b, (h, c) = self.lstm(x)
        d, h2 = self.gru(b)
        e, h3 = self.gru(a, h2)
        f = self.lstm(x)[0]
        g, hc = self.lstm(x, (h, c))
        return a, b, f, g, d, e, h, c, h2, h3, hc[0], hc[1]


net = Net()
"""


@pytest.mark.parametrize("batch_first", [True, False])
def test_recurrent_call_forms_match_torch(batch_first):
    torch.manual_seed(0)
    both = exec_both(RNN_MODULE.format(bf=batch_first))
    code = both.translation.code
    assert "begin_state(batch_size=x.shape[%d]" % (0 if batch_first else 1) in code
    assert "e, [h3] = self.gru(a, h2)" in code
    net_t, net_m = both.torch_ns["net"], both.mx_ns["net"]
    copy_params(net_t, net_m, initialize=False)
    x = _seq(batch_first, 3)
    res_t = net_t(torch.from_numpy(x))
    res_m = net_m(nd.array(x))
    for i, (t, m) in enumerate(zip(res_t, res_m)):
        assert_same(t.detach().numpy(), m.asnumpy(), rtol=1e-5, atol=1e-6, what=f"result {i}")


@pytest.mark.parametrize(
    "body",
    [
        _case("y = self.lstm(x)\n        return y[0]", id="tuple-kept"),
        _case("return self.lstm(x)", id="returned"),
        _case("return self.lstm(x)[1]", id="states-by-index"),
        _case("out, (h, c) = self.lstm(x * 2)\n        return out", id="states-needed-for-an-expression"),
    ],
)
def test_recurrent_call_flags(body):
    src = HEADER + (
        "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.lstm = nn.LSTM(5, 7)\n\n    def forward(self, x):\n        " + body + "\n"
    )
    assert _errors(src) == ["T2G221"]


def test_module_level_recurrent_layer_calls():
    src = HEADER + "lstm = nn.LSTM(5, 7)\nx = torch.ones(4, 3, 5)\nout, (h, c) = lstm(x)\ny, _ = lstm(x)\n"
    both = exec_both(src)
    assert both.mx_ns["out"].shape == (4, 3, 7) and both.mx_ns["h"].shape == (1, 3, 7)
    assert both.mx_ns["y"].shape == (4, 3, 7)


# --------------------------------------------------------------------------
# Embedding (T2G222)
# --------------------------------------------------------------------------

EMB_CALLS = [
    _case("nn.Embedding(10, 4)", id="defaults"),
    _case("nn.Embedding(10, 4, None, None, 2.0, False, False)", id="all-positional"),
    _case("nn.Embedding(num_embeddings=10, embedding_dim=4, padding_idx=None)", id="keyword"),
    _case("nn.Embedding(sparse=False, embedding_dim=4, num_embeddings=10)", id="shuffled"),
]


@pytest.mark.parametrize("line", EMB_CALLS)
def test_embedding_matches_torch(line):
    torch.manual_seed(0)
    emb_t, emb_m, r = layer_pair(line)
    assert any(d.rule == "T2G222" and d.severity is Severity.WARNING for d in r.diagnostics)
    copy_params(emb_t, emb_m, initialize=False)
    idx = np.array([[1, 3, 3], [9, 0, 2]])
    out_t = emb_t(torch.from_numpy(idx))
    w = random_array(tuple(out_t.shape), 5)
    (out_t * torch.from_numpy(w)).sum().backward()
    with autograd.record():
        out_m = emb_m(nd.array(idx))
        (out_m * nd.array(w)).sum().backward()
    assert_same(out_t.detach().numpy(), out_m.asnumpy(), what="embedding output")
    assert_same(emb_t.weight.grad.numpy(), emb_m.weight.grad().asnumpy(), what="embedding gradient (repeated index)")


def test_embedding_initial_distribution_is_standard_normal():
    torch.manual_seed(0)
    mx.random.seed(0)
    emb_t, emb_m, _ = layer_pair("nn.Embedding(1000, 64)")
    for v in (emb_t.weight.detach().numpy(), emb_m.weight.data().asnumpy()):
        assert abs(v.mean()) < 0.01 and abs(v.std() - 1) < 0.01


def test_why_embedding_indices_get_a_warning():
    """MXNet reads a row for an index out of range; torch raises."""
    _, emb_m, _ = layer_pair("nn.Embedding(10, 4)")
    rows = emb_m(nd.array([12, -1])).asnumpy()
    table = emb_m.weight.data().asnumpy()
    assert np.array_equal(rows, table[[9, 0]])
    with pytest.raises(IndexError):
        torch.nn.Embedding(10, 4)(torch.tensor([12]))


@pytest.mark.parametrize(
    "line",
    ["nn.Embedding(10, 4, padding_idx=0)", "nn.Embedding(10, 4, max_norm=1.0)", "nn.Embedding(10, 4, sparse=True)",
     "nn.Embedding(10, 4, scale_grad_by_freq=True)", "nn.Embedding(10)"],
)
def test_embedding_flags(line):
    assert _errors(HEADER + f"layer = {line}\n") == ["T2G222"]


# --------------------------------------------------------------------------
# LayerNorm (T2G223)
# --------------------------------------------------------------------------

LN_CALLS = [
    _case("nn.LayerNorm(6)", id="defaults"),
    _case("nn.LayerNorm(6, 1e-3, True, True)", id="all-positional"),
    _case("nn.LayerNorm(normalized_shape=(6,), eps=1e-6, elementwise_affine=False)", id="keyword-tuple-no-affine"),
    _case("nn.LayerNorm(bias=False, normalized_shape=[6])", id="shuffled-list-no-bias"),
    _case("nn.LayerNorm(d)", id="variable"),
]


@pytest.mark.parametrize("line", LN_CALLS)
def test_layernorm_matches_torch(line):
    both = exec_both(HEADER + f"layer = {line}\n", torch_env={"d": 6}, mx_env={"d": 6})
    ln_t, ln_m = both.torch_ns["layer"], both.mx_ns["layer"]
    rs = np.random.RandomState(3)
    with torch.no_grad():  # non-trivial affine parameters
        for p in ln_t.parameters():
            p.copy_(torch.from_numpy(rs.uniform(0.5, 1.5, tuple(p.shape)).astype(np.float32)))
    # without affine parameters Gluon keeps gamma = 1 / beta = 0 as fixed (grad_req 'null') parameters
    trained = [p for p in ln_m.collect_params().values() if p.grad_req != "null"]
    assert len(trained) == len(list(ln_t.parameters()))
    for tp, mp in zip(ln_t.parameters(), trained):
        mp.set_data(nd.array(tp.detach().numpy()))
    x = random_array((2, 3, 6), 4) * 3 + 1
    _compare_fb(ln_t, ln_m, x, what=line)
    for tp, mp in zip(ln_t.parameters(), trained):
        assert_same(tp.grad.numpy(), mp.grad().asnumpy(), rtol=1e-4, atol=1e-5, what=f"{line}: parameter gradient")


@pytest.mark.parametrize("line", ["nn.LayerNorm([4, 6])", "nn.LayerNorm((4, 6), eps=1e-5)", "nn.LayerNorm(6, device='cpu')"])
def test_layernorm_flags(line):
    assert _errors(HEADER + f"layer = {line}\n") == ["T2G223"]


# --------------------------------------------------------------------------
# Conv1d / ConvTranspose1d / ConvTranspose2d (T2G224)
# --------------------------------------------------------------------------

CONV_CALLS = [
    _case("nn.Conv1d(3, 8, 3)", (2, 3, 11), id="conv1d-defaults"),
    _case("nn.Conv1d(4, 8, 3, 2, 1, 2, 2, False, 'zeros')", (2, 4, 11), id="conv1d-all-positional"),
    _case("nn.Conv1d(in_channels=3, out_channels=6, kernel_size=(5,), stride=1, padding='valid')", (2, 3, 11),
          id="conv1d-keyword"),
    _case("nn.Conv1d(groups=3, padding=2, kernel_size=3, out_channels=6, in_channels=3, dilation=2)", (2, 3, 11),
          id="conv1d-shuffled"),
    _case("nn.ConvTranspose2d(4, 6, 3)", (2, 4, 5, 6), id="deconv-defaults"),
    _case("nn.ConvTranspose2d(4, 6, 3, 2, 1, 1, 2, True, 1, 'zeros')", (2, 4, 5, 6), id="deconv-all-positional"),
    _case("nn.ConvTranspose2d(in_channels=4, out_channels=2, kernel_size=(3, 2), stride=(2, 1), padding=(1, 0))",
          (2, 4, 5, 6), id="deconv-keyword"),
    _case("nn.ConvTranspose2d(dilation=2, bias=False, kernel_size=4, out_channels=3, in_channels=4, stride=2, "
          "output_padding=1)", (2, 4, 5, 6), id="deconv-shuffled-dilated-no-bias"),
    _case("nn.ConvTranspose1d(4, 6, 3, stride=2, output_padding=1, groups=2)", (2, 4, 7), id="deconv1d"),
]


@pytest.mark.parametrize("line, shape", CONV_CALLS)
def test_convolution_matches_torch(line, shape):
    torch.manual_seed(0)
    conv_t, conv_m, _ = layer_pair(line)
    copy_params(conv_t, conv_m, initialize=False)
    _compare_fb(conv_t, conv_m, random_array(shape, 1), what=line, rtol=1e-4, atol=1e-5)
    for tp, mp in zip(conv_t.parameters(), conv_m.collect_params().values()):
        assert_same(tp.grad.numpy(), mp.grad().asnumpy(), rtol=1e-4, atol=1e-4, what=f"{line}: parameter gradient")


@pytest.mark.parametrize(
    "line, fan_in, has_bias",
    [
        _case("nn.Conv1d(16, 32, 5)", 16 * 5, True, id="conv1d"),
        _case("nn.Conv1d(16, 32, 3, groups=4)", 4 * 3, True, id="conv1d-grouped"),
        _case("nn.ConvTranspose2d(64, 16, 4)", 16 * 16, True, id="deconv: fan_in from out channels"),
        _case("nn.ConvTranspose2d(64, 32, (3, 5), groups=4, bias=False)", 8 * 15, False, id="deconv-grouped"),
    ],
)
def test_convolution_initial_distribution_is_torchs(line, fan_in, has_bias):
    torch.manual_seed(0)
    mx.random.seed(0)
    conv_t, conv_m, _ = layer_pair(line)
    bound = 1 / math.sqrt(fan_in)
    t_params = [p.detach().numpy() for p in conv_t.parameters()]
    m_params = [p.data().asnumpy() for p in conv_m.collect_params().values()]
    assert len(t_params) == len(m_params) == (2 if has_bias else 1)
    assert [t.shape for t in t_params] == [m.shape for m in m_params]
    _check_uniform(t_params, bound)
    _check_uniform(m_params, bound)


@pytest.mark.parametrize(
    "line",
    ["nn.Conv1d(3, 8, 3, padding='same')", "nn.Conv1d(3, 8, 3, padding_mode='reflect')",
     "nn.ConvTranspose2d(3, 8, 3, device='cpu')", "nn.ConvTranspose2d(3, 8)"],
)
def test_convolution_flags(line):
    assert _errors(HEADER + f"layer = {line}\n") == ["T2G224"]


# --------------------------------------------------------------------------
# GELU, Softmax, LogSoftmax, Identity (T2G225)
# --------------------------------------------------------------------------

FREE_CALLS = [
    _case("nn.GELU()", id="gelu-defaults"),
    _case("nn.GELU('none')", id="gelu-positional"),
    _case("nn.GELU(approximate='tanh')", id="gelu-tanh"),
    _case("nn.Softmax(1)", id="softmax-positional"),
    _case("nn.Softmax(dim=-1)", id="softmax-keyword"),
    _case("nn.LogSoftmax(dim=0)", id="log-softmax-axis-0"),
    _case("nn.LogSoftmax(1)", id="log-softmax"),
    _case("nn.Identity()", id="identity"),
    _case("nn.Identity(54, unused_argument=0.1)", id="identity-ignores-arguments"),
]


@pytest.mark.parametrize("line", FREE_CALLS)
def test_parameter_free_layer_matches_torch(line):
    layer_t, layer_m, _ = layer_pair(line)
    x = random_array((3, 4, 5), 2) * 2
    _compare_fb(layer_t, layer_m, x, what=line, rtol=1e-5, atol=1e-6)


def test_why_gelu_tanh_is_not_plain_gelu():
    x = np.linspace(-4, 4, 33).astype(np.float32)
    exact = mx.gluon.nn.GELU()(nd.array(x)).asnumpy()
    assert np.abs(exact - torch.nn.GELU()(torch.from_numpy(x)).numpy()).max() < 1e-6
    assert np.abs(exact - torch.nn.GELU(approximate="tanh")(torch.from_numpy(x)).numpy()).max() > 1e-4


@pytest.mark.parametrize("line", ["nn.Softmax()", "nn.LogSoftmax(dim=None)", "nn.GELU(approximate=mode)"])
def test_parameter_free_flags(line):
    assert _errors(HEADER + f"layer = {line}\n") == ["T2G225"]


# --------------------------------------------------------------------------
# LazyLinear (T2G226)
# --------------------------------------------------------------------------

@pytest.mark.parametrize(
    "line, has_bias",
    [
        _case("nn.LazyLinear(5)", True, id="defaults"),
        _case("nn.LazyLinear(5, False)", False, id="positional"),
        _case("nn.LazyLinear(out_features=5, bias=True)", True, id="keyword"),
        _case("nn.LazyLinear(bias=False, out_features=5)", False, id="shuffled"),
    ],
)
def test_lazy_linear_matches_torch(line, has_bias):
    torch.manual_seed(0)
    lin_t, lin_m, r = layer_pair(line)
    warned = [d.rule for d in r.diagnostics if d.severity is Severity.WARNING]
    assert warned == (["T2G226"] if has_bias else [])
    x = random_array((2, 3, 40), 6)
    lin_t(torch.from_numpy(x))  # infer in_features on both sides
    lin_m(nd.array(x))
    copy_params(lin_t, lin_m, initialize=False)
    _compare_fb(lin_t, lin_m, x, what=line)


def test_lazy_linear_initial_weight_distribution_is_torchs():
    torch.manual_seed(0)
    mx.random.seed(0)
    lin_t, lin_m, _ = layer_pair("nn.LazyLinear(64)")
    x = random_array((2, 400), 6)
    lin_t(torch.from_numpy(x))
    lin_m(nd.array(x))
    bound = 1 / math.sqrt(400)
    _check_uniform([lin_t.weight.detach().numpy()], bound)
    _check_uniform([lin_m.weight.data().asnumpy()], bound)
    _check_uniform([lin_t.bias.detach().numpy()], bound)
    assert not lin_m.bias.data().asnumpy().any(), "Gluon's bias starts at zero: the warning is right"


# --------------------------------------------------------------------------
# The LSTM fixture
# --------------------------------------------------------------------------

def test_lstm_fixture_translates_completely():
    source = (ROOT / "fixtures" / "lstm_model.py").read_text(encoding="utf-8")
    r = check_translation(source)
    assert r.complete and not r.diagnostics
    assert "begin_state(batch_size=x.shape[0], ctx=x.context)" in r.code
    assert translate(r.code).code == r.code
