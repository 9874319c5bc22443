"""Numeric checks of OneCycleLR (T2G402): stepped after every batch, the
learning rate (and Adam's beta1, SGD's or RMSprop's momentum when momentum
is cycled) must equal torch's at every step, and the parameters must follow
torch's."""

from __future__ import annotations

import numpy as np
import pytest

import torch

from numeric_helpers import assert_same, exec_both
from test_numeric_mappings import _case
from torch2gluon import translate

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

EPOCHS = 4  # 5 batches each: 20 steps

LOOP = """\
import torch
from torch import nn
net = nn.Linear(4, 3)
set_initial(net)
loss_fn = nn.CrossEntropyLoss()
opt = {optimizer}
sched = {scheduler}
losses = []
lrs = [lr_of(opt)]
beta1s = [beta1_of(opt)]
for epoch in range({epochs}):
    for X, y in batches:
        opt.zero_grad()
        loss = loss_fn(net(X), y)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        lrs.append(lr_of(opt))
        beta1s.append(beta1_of(opt))
last = sched.get_last_lr()[0]
"""


def _run(optimizer, scheduler, epochs=EPOCHS):
    import test_numeric_mappings as base
    from mxnet import nd

    batches = base._batches_np()
    initial = base._initial_np()
    src = LOOP.format(optimizer=optimizer, scheduler=scheduler, epochs=epochs)
    return exec_both(
        src,
        torch_env={
            "batches": [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches],
            "set_initial": base._set_initial_torch(initial),
            "lr_of": lambda opt: opt.param_groups[0]["lr"],
            "beta1_of": lambda opt: opt.param_groups[0].get("betas", (opt.param_groups[0].get("momentum"),))[0],
        },
        mx_env={
            "batches": [(nd.array(x), nd.array(y, dtype=y.dtype)) for x, y in batches],
            "set_initial": base._set_initial_mx(initial),
            "lr_of": lambda trainer: trainer.learning_rate,
            "beta1_of": lambda trainer: getattr(trainer.optimizer, "beta1", getattr(trainer.optimizer, "momentum", None)),
        },
    )


ONE_CYCLE = [
    _case("torch.optim.SGD(net.parameters(), lr=0.1)",
          "torch.optim.lr_scheduler.OneCycleLR(opt, 0.5, 20, None, None, 0.3, 'cos', False)", id="sgd-positional"),
    _case("torch.optim.SGD(net.parameters(), lr=0.1)",
          "torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.5, total_steps=20, cycle_momentum=False)", id="sgd-keyword"),
    _case("torch.optim.SGD(net.parameters(), lr=0.1)",
          "torch.optim.lr_scheduler.OneCycleLR(cycle_momentum=False, steps_per_epoch=5, optimizer=opt, epochs=4, max_lr=0.5)",
          id="sgd-shuffled-epochs"),
    _case("torch.optim.SGD(net.parameters(), lr=0.1)",
          "torch.optim.lr_scheduler.OneCycleLR(opt, 0.5, total_steps=20, cycle_momentum=False, anneal_strategy='linear', "
          "pct_start=0.25, div_factor=10.0, final_div_factor=100.0)", id="sgd-linear-options"),
    _case("torch.optim.SGD(net.parameters(), lr=0.1)",
          "torch.optim.lr_scheduler.OneCycleLR(opt, 0.5, total_steps=20, cycle_momentum=False, three_phase=True)",
          id="sgd-three-phase"),
    _case("torch.optim.SGD(net.parameters(), lr=0.1)",
          "torch.optim.lr_scheduler.OneCycleLR(opt, 0.5, total_steps=23, cycle_momentum=False, three_phase=True, "
          "anneal_strategy='linear')", id="sgd-three-phase-linear-not-finished"),
    _case("torch.optim.Adam(net.parameters(), lr=0.01)",
          "torch.optim.lr_scheduler.OneCycleLR(opt, 0.05, total_steps=20)", id="adam-cycles-beta1"),
    _case("torch.optim.Adam(net.parameters(), lr=0.01, betas=(0.8, 0.99))",
          "torch.optim.lr_scheduler.OneCycleLR(opt, 0.05, total_steps=20, base_momentum=0.7, max_momentum=0.9, "
          "three_phase=True)", id="adam-cycles-beta1-options"),
    _case("torch.optim.Adam(net.parameters(), lr=0.01)",
          "torch.optim.lr_scheduler.OneCycleLR(opt, 0.05, total_steps=20, cycle_momentum=False)", id="adam-no-cycle"),
    _case("torch.optim.RMSprop(net.parameters())",
          "torch.optim.lr_scheduler.OneCycleLR(opt, 0.02, epochs=4, steps_per_epoch=5, cycle_momentum=False)",
          id="rmsprop-no-cycle"),
    _case("torch.optim.Adagrad(net.parameters())",
          "torch.optim.lr_scheduler.OneCycleLR(opt, 0.2, total_steps=20, cycle_momentum=False)", id="adagrad-no-cycle"),
    # TorchSGD / TorchRMSprop read `momentum` at every update: torch's momentum cycling
    _case("torch.optim.SGD(net.parameters(), lr=0.1)",
          "torch.optim.lr_scheduler.OneCycleLR(opt, 0.5, 20)", id="sgd-cycles-momentum-from-zero"),
    _case("torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2)",
          "torch.optim.lr_scheduler.OneCycleLR(opt, 0.5, total_steps=20, base_momentum=0.5, max_momentum=0.9)",
          id="nesterov-wd-cycles-momentum"),
    _case("torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)",
          "torch.optim.lr_scheduler.OneCycleLR(opt, 0.5, 20, cycle_momentum=False)", id="momentum-sgd-no-cycle"),
    _case("torch.optim.RMSprop(net.parameters())",
          "torch.optim.lr_scheduler.OneCycleLR(opt, 0.02, total_steps=20)", id="rmsprop-cycles-momentum"),
    _case("torch.optim.RMSprop(net.parameters(), momentum=0.5, centered=True)",
          "torch.optim.lr_scheduler.OneCycleLR(optimizer=opt, max_lr=0.02, total_steps=20, three_phase=True)",
          id="centered-rmsprop-cycles-momentum"),
    _case("torch.optim.AdamW(net.parameters(), lr=0.01, amsgrad=True)",
          "torch.optim.lr_scheduler.OneCycleLR(opt, 0.05, total_steps=20)", id="adamw-amsgrad-cycles-beta1"),
]


@pytest.mark.parametrize("optimizer, scheduler", ONE_CYCLE)
def test_one_cycle_matches_torch_at_every_step(optimizer, scheduler):
    both = _run(optimizer, scheduler)
    t_lrs = np.array(both.torch_ns["lrs"], dtype=np.float64)
    m_lrs = np.array(both.mx_ns["lrs"], dtype=np.float64)
    assert len(t_lrs) == 21 and len(set(t_lrs.tolist())) > 10
    np.testing.assert_allclose(m_lrs, t_lrs, rtol=1e-12, atol=0, err_msg="learning rate per step")
    assert both.mx_ns["last"] == pytest.approx(both.torch_ns["last"], rel=1e-12)
    # Adam's beta1, SGD's/RMSprop's momentum
    t_beta1 = both.torch_ns["beta1s"]
    if "Adagrad" not in optimizer:
        m_beta1 = both.mx_ns["beta1s"]
        cycles = "cycle_momentum=False" not in scheduler and "'cos', False" not in scheduler
        assert len(set(t_beta1)) == 1 if not cycles else len(set(t_beta1)) > 5
        np.testing.assert_allclose(
            np.array(m_beta1, dtype=float), np.array(t_beta1, dtype=float), rtol=1e-12, atol=0, err_msg="beta1/momentum per step"
        )
    t_losses = np.array(both.torch_ns["losses"], dtype=np.float64)
    m_losses = np.array([float(v) for v in both.mx_ns["losses"]], dtype=np.float64)
    np.testing.assert_allclose(m_losses, t_losses, rtol=1e-5, atol=1e-5, err_msg="per-step losses")
    t_params = [p.detach().numpy() for p in both.torch_ns["net"].parameters()]
    m_params = [p.data().asnumpy() for p in both.mx_ns["net"].collect_params().values()]
    for t, m in zip(t_params, m_params):
        assert_same(t, m, rtol=1e-6, atol=1e-5, what="final parameters (20 float32 steps)")


@pytest.mark.parametrize(
    "optimizer, scheduler, why",
    [
        _case("torch.optim.Adagrad(net.parameters())", "torch.optim.lr_scheduler.OneCycleLR(opt, 0.5, 20)",
              "ValueError", id="adagrad-cycle"),
        _case("torch.optim.Adam(net.parameters())", "torch.optim.lr_scheduler.OneCycleLR(opt, [0.1, 0.2], 20)",
              "list of `max_lr`", id="max-lr-list"),
        _case("torch.optim.Adam(net.parameters())", "torch.optim.lr_scheduler.OneCycleLR(opt, 0.1)",
              "total_steps", id="no-total-steps"),
        _case("torch.optim.Adam(net.parameters())", "torch.optim.lr_scheduler.OneCycleLR(opt, 0.1, 20, anneal_strategy=s)",
              "anneal_strategy", id="strategy-variable"),
        _case("torch.optim.Adam(net.parameters())", "torch.optim.lr_scheduler.OneCycleLR(opt, 0.1, 20, last_epoch=4)",
              "last_epoch", id="last-epoch"),
        _case("torch.optim.Adam([{'params': a.parameters()}, {'params': b.parameters(), 'lr': 0.1}])",
              "torch.optim.lr_scheduler.OneCycleLR(opt, 0.1, 20)", "parameter groups", id="groups"),
    ],
)
def test_unsupported_one_cycle_is_an_error(optimizer, scheduler, why):
    result = translate(f"import torch\nopt = {optimizer}\nsched = {scheduler}\nsched.step()\n")
    errors = [d for d in result.diagnostics if d.severity.value == "error"]
    assert [d.rule for d in errors] == ["T2G402"], result.diagnostics
    assert why in errors[0].message
    assert "sched = torch.optim.lr_scheduler.OneCycleLR(" in result.code
