"""The training step: autograd.record, backward, trainer.step(batch size)."""

from __future__ import annotations

from typing import Optional, Set, Tuple


from .._base import Example
from ._blocks import BlockRewrite
from ._modes import ModeSwitches


class TrainingLoop(ModeSwitches, BlockRewrite):
    """The training step becomes Gluon's: record the forward pass, step by batch size.

    ## What it does
    In a block that calls ``loss.backward()``:

    - the statements that compute ``loss`` are wrapped in
      ``with autograd.record():``;
    - ``optimizer.zero_grad()`` is dropped (Gluon overwrites gradients on each
      backward);
    - ``optimizer.step()`` becomes ``optimizer.step(loss.shape[0])``;
    - ``loss.item()`` becomes ``loss.mean().asscalar()`` and an accumulated
      ``loss.mean()`` gets ``.asscalar()``.

    ``torch.autograd.Variable(x)`` becomes ``x`` everywhere.
    ``with torch.no_grad():`` (and ``torch.inference_mode()``,
    ``torch.set_grad_enabled(False)``) becomes ``with autograd.pause():``
    (as a decorator: the function's body is wrapped in it), and
    ``model.train()``/``model.eval()`` statements go (an info note says so):
    Gluon runs a model in training mode inside ``autograd.record()`` and in
    inference mode outside it, which is where the torch script trains and
    evaluates.

    Gradient accumulation (a block that calls ``backward`` twice, or without
    an optimizer step after it, e.g. ``if (i + 1) % k == 0: opt.step();
    opt.zero_grad()``), in a script with one optimizer built from
    ``model.parameters()``:

    - right after the ``gluon.Trainer`` is made, the parameters that are not
      frozen get ``grad_req = "add"`` so that backward adds to the gradients;
    - each ``loss.backward()`` becomes
      ``loss.backward(out_grad=nd.ones_like(loss) / loss.shape[0])``: the
      gradient of the batch mean, torch's, whatever the size of each
      micro-batch (a fixed ``step(n)`` cannot rescale micro-batches of
      different sizes);
    - ``opt.zero_grad()`` / ``model.zero_grad()`` become
      ``model.collect_params().zero_grad()`` and ``opt.step()`` becomes
      ``opt.step(1)``: torch's summed micro-batch gradients, applied as is.

    The same exact backward and ``step(1)`` are used in a block that clips the
    gradients (T2G502) or updates the parameters by hand (T2G504) after
    ``backward``, so that the gradients seen there are torch's.

    ## Why
    A Gluon loss is one value per sample and ``backward`` sums them, so
    ``trainer.step(n)`` must divide by the number of samples in *this* batch:
    ``loss.shape[0]`` is that number, also for the smaller last batch. (When the
    script reduces the loss itself, ``loss.shape[0]`` is 1 and the division is
    a no-op, which is again right.) Where the script reads the loss, the mean
    over the batch gives torch's value.

    ## Flags
    ``torch.no_grad()`` in a script that never calls ``.eval()`` is a warning:
    the forward pass then runs in inference mode in Gluon. ``x.eval()`` /
    ``x.train()`` on something not known to be a model (a parameter its
    callers pass different things to) is left with a warning: on a Gluon
    block the call would fail.
    Gradient accumulation with several optimizers or an optimizer over other
    parameters, a loss computed outside the block that calls ``backward``,
    a clip or a hand-written update away from the block that calls
    ``backward``, a hand-written update whose gradients nothing zeroes, and
    other uses of the per-sample loss are reported.

    ## Fix safety
    Safe for the one-backward-per-step loop and for the accumulation forms
    above (checked numerically, micro-batches of different sizes); the rest is
    reported.
    """

    code = "T2G501"
    name = "training-loop"
    summary = "zero_grad/backward/step -> autograd.record + trainer.step(batch size)"
    examples = (
        Example(
            "import torch\n\n\n@torch.no_grad()\ndef evaluate(model, x):\n    \"\"\"Scores.\"\"\"\n    return model(x)\n",
            "from mxnet import autograd\n\n\ndef evaluate(model, x):\n    \"\"\"Scores.\"\"\"\n    with autograd.pause():\n"
            "        return model(x)\n",
            id="a no_grad decorator wraps the body",
        ),
        Example(
            "import torch\ndef evaluate(m, x):\n    m.eval()\n    return m(x)\nevaluate(make_model(), torch.ones(2))\n",
            "from mxnet import nd\n\n\ndef evaluate(m, x):\n    # torch2gluon: T2G501: `m.eval()` left as is: nothing says `m` "
            "is a model; if it is, remove the call (a Gluon block has no train/eval switch: `autograd.record()` decides)\n"
            "    m.eval()\n    return m(x)\nevaluate(make_model(), nd.ones(2))\n",
            diagnostics=("T2G501",),
            id="eval on something not known to be a model is a warning",
        ),
        Example(
            (
                "import torch\n"
                "for X, y in train_data:\n"
                "    X, y = torch.autograd.Variable(X), torch.autograd.Variable(y)\n"
                "    trainer.zero_grad()\n"
                "    loss = loss_fn(net(X), y)\n"
                "    loss.backward()\n"
                "    trainer.step()\n"
                "    total_loss += loss.mean()\n"
            ),
            (
                "from mxnet import autograd\n\n"
                "for X, y in train_data:\n"
                "    with autograd.record():\n"
                "        loss = loss_fn(net(X), y)\n"
                "    loss.backward()\n"
                "    trainer.step(loss.shape[0])\n"
                "    total_loss += loss.mean().asscalar()\n"
            ),
            id="reference training loop",
        ),
        Example(
            (
                "import torch\n"
                "def train(model, opt, loader):\n"
                "    for x, y in loader:\n"
                "        out = model(x)\n"
                "        # the loss\n"
                "        loss = crit(out, y)\n"
                "        opt.zero_grad()\n"
                "        loss.backward()\n"
                "        opt.step()\n"
                "        print(loss.item())\n"
            ),
            (
                "from mxnet import autograd\n\n\n"
                "def train(model, opt, loader):\n"
                "    for x, y in loader:\n"
                "        with autograd.record():\n"
                "            out = model(x)\n"
                "            # the loss\n"
                "            loss = crit(out, y)\n"
                "        loss.backward()\n"
                "        opt.step(loss.shape[0])\n"
                "        print(loss.mean().asscalar())\n"
            ),
            id="zero_grad after the forward pass, item",
        ),
        Example(
            (
                "import torch\n"
                "from torch import nn\n"
                "net = nn.Sequential(nn.ReLU())\n"
                "def evaluate(x):\n"
                "    net.eval()\n"
                "    with torch.no_grad():\n"
                "        out = net(x)\n"
                "    net.train()\n"
                "    return out\n"
            ),
            (
                "from mxnet import autograd\n"
                "from mxnet.gluon import nn\n\n"
                "net = nn.Sequential()\n"
                "net.add(nn.Activation(\"relu\"))\n"
                "net.initialize()\n"
                "def evaluate(x):\n"
                "    with autograd.pause():\n"
                "        out = net(x)\n"
                "    return out\n"
            ),
            id="evaluation under no_grad",
        ),
        Example(
            (
                "import torch\n"
                "for i, (x, y) in enumerate(loader):\n"
                "    loss = crit(model(x), y)\n"
                "    loss.backward()\n"
                "    if i % 4 == 0:\n"
                "        opt.step()\n"
                "        opt.zero_grad()\n"
            ),
            (
                "for i, (x, y) in enumerate(loader):\n"
                "    loss = crit(model(x), y)\n"
                "    # torch2gluon: T2G501: no optimizer step follows `loss.backward()` in this block (gradient accumulation is not translated yet); left as is\n"
                "    loss.backward()\n"
                "    if i % 4 == 0:\n"
                "        # torch2gluon: T2G501: `opt.step()` is not in the block that calls backward (gradient accumulation is not translated yet); left as is\n"
                "        opt.step()\n"
                "        # torch2gluon: T2G501: `opt.zero_grad()` is not in the block that calls backward (gradient accumulation is not translated yet); left as is\n"
                "        opt.zero_grad()\n"
            ),
            diagnostics=("T2G501", "T2G501", "T2G501"),
            id="gradient accumulation without a known optimizer is flagged",
        ),
        Example(
            (
                "import torch\n"
                "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
                "for epoch in range(2):\n"
                "    opt.zero_grad()\n"
                "    for i, (x, y) in enumerate(loader):\n"
                "        loss = crit(model(x), y) / 4\n"
                "        loss.backward()\n"
                "        if (i + 1) % 4 == 0:\n"
                "            opt.step()\n"
                "            opt.zero_grad()\n"
                "            print(loss.item() * 4)\n"
            ),
            (
                "from mxnet import autograd, gluon, nd\n\n"
                "opt = gluon.Trainer(model.collect_params(), \"sgd\", {\"learning_rate\": 0.1})\n"
                "for p in model.collect_params().values():\n"
                "    if p.grad_req != \"null\":\n"
                "        p.grad_req = \"add\"\n"
                "for epoch in range(2):\n"
                "    model.collect_params().zero_grad()\n"
                "    for i, (x, y) in enumerate(loader):\n"
                "        with autograd.record():\n"
                "            loss = crit(model(x), y) / 4\n"
                "        loss.backward(out_grad=nd.ones_like(loss) / loss.shape[0])\n"
                "        if (i + 1) % 4 == 0:\n"
                "            opt.step(1)\n"
                "            model.collect_params().zero_grad()\n"
                "            print(loss.mean().asscalar() * 4)\n"
            ),
            id="gradient accumulation",
        ),
        Example(
            (
                "import torch\n"
                "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
                "for x, y in loader:\n"
                "    opt.zero_grad()\n"
                "    loss = crit(model(x), y)\n"
                "    loss.backward()\n"
                "    loss2 = crit(model(2 * x), y)\n"
                "    loss2.backward()\n"
                "    opt.step()\n"
            ),
            (
                "from mxnet import autograd, gluon, nd\n\n"
                "opt = gluon.Trainer(model.collect_params(), \"sgd\", {\"learning_rate\": 0.1})\n"
                "for p in model.collect_params().values():\n"
                "    if p.grad_req != \"null\":\n"
                "        p.grad_req = \"add\"\n"
                "for x, y in loader:\n"
                "    model.collect_params().zero_grad()\n"
                "    with autograd.record():\n"
                "        loss = crit(model(x), y)\n"
                "    loss.backward(out_grad=nd.ones_like(loss) / loss.shape[0])\n"
                "    with autograd.record():\n"
                "        loss2 = crit(model(2 * x), y)\n"
                "    loss2.backward(out_grad=nd.ones_like(loss2) / loss2.shape[0])\n"
                "    opt.step(1)\n"
            ),
            id="two backward calls before one step",
        ),
        Example(
            (
                "import torch\n"
                "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
                "for i, (x, y) in enumerate(loader):\n"
                "    loss = crit(model(x), y) / k\n"
                "    if (i + 1) % k == 0:\n"
                "        loss.backward()\n"
                "        opt.step()\n"
                "        model.zero_grad()\n"
                "    else:\n"
                "        loss.backward()\n"
            ),
            (
                "from mxnet import autograd, gluon, nd\n\n"
                "opt = gluon.Trainer(model.collect_params(), \"sgd\", {\"learning_rate\": 0.1})\n"
                "for p in model.collect_params().values():\n"
                "    if p.grad_req != \"null\":\n"
                "        p.grad_req = \"add\"\n"
                "for i, (x, y) in enumerate(loader):\n"
                "    with autograd.record():\n"
                "        loss = crit(model(x), y) / k\n"
                "    if (i + 1) % k == 0:\n"
                "        loss.backward(out_grad=nd.ones_like(loss) / loss.shape[0])\n"
                "        opt.step(1)\n"
                "        model.collect_params().zero_grad()\n"
                "    else:\n"
                "        loss.backward(out_grad=nd.ones_like(loss) / loss.shape[0])\n"
            ),
            id="gradient accumulation, backward in both branches",
        ),
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        # gradient accumulation: (optimizer name, model code) when T2G501 translates it
        self._accum: Optional[Tuple[str, str]] = None
        # no_grad blocks that only update parameters by hand: no mode warning
        self._quiet: Set[int] = set()


