"""The training step: autograd.record, backward, trainer.step(batch size)."""

from __future__ import annotations

from typing import Dict, List, Optional, Set, Tuple

import libcst as cst

from ..base.syntax import PreservingTransformer
from ..base.syntax import walk as _walk
from ..base.syntax import arg, names_in
from ..base.diagnostics import Severity
from ._base import Example, Rule, Unbindable, bind, code_of, literal
from .grads import ACCUMULATES, CLIPS, UPDATES, free_name, params_owner

_VARIABLE = ("torch.autograd.Variable", "torch.autograd.variable.Variable")


def _method_call(stmt: cst.BaseStatement, method: str) -> Optional[cst.Call]:
    """``recv.method(...)`` as a whole statement -> the Call, else None."""
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return None
    small = stmt.body[0]
    if not isinstance(small, cst.Expr) or not isinstance(small.value, cst.Call):
        return None
    call = small.value
    if isinstance(call.func, cst.Attribute) and call.func.attr.value == method:
        return call
    return None


def _receiver(call: cst.Call) -> Optional[str]:
    value = call.func.value  # type: ignore[union-attr]
    return value.value if isinstance(value, cst.Name) else None


def _assigned(stmt: cst.BaseStatement) -> Set[str]:
    out: Set[str] = set()
    if not isinstance(stmt, cst.SimpleStatementLine):
        return out
    for small in stmt.body:
        targets: List[cst.BaseExpression] = []
        if isinstance(small, cst.Assign):
            targets = [t.target for t in small.targets]
        elif isinstance(small, (cst.AugAssign, cst.AnnAssign)):
            targets = [small.target]
        for t in targets:
            out.update(names_in(t))
    return out


def _is_self_assignment(stmt: cst.BaseStatement) -> bool:
    """``X, y = X, y`` (what Variable removal leaves behind) is a no-op."""
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return False
    small = stmt.body[0]
    if not isinstance(small, cst.Assign) or len(small.targets) != 1:
        return False

    def names(node):
        if isinstance(node, cst.Name):
            return [node.value]
        if isinstance(node, cst.Tuple) and all(isinstance(e.value, cst.Name) for e in node.elements):
            return [e.value.value for e in node.elements]
        return None

    left, right = names(small.targets[0].target), names(small.value)
    return left is not None and left == right


def _dotted(node: cst.BaseExpression) -> bool:
    """``model`` or ``self.model``: a plain name or attribute chain."""
    while isinstance(node, cst.Attribute):
        node = node.value
    return isinstance(node, cst.Name)


def _statement(like: Optional[cst.BaseStatement], code: str) -> cst.SimpleStatementLine:
    """``code`` as a statement line, with ``like``'s comments and trailing whitespace."""
    new = cst.parse_statement(code)
    assert isinstance(new, cst.SimpleStatementLine)
    if like is not None and isinstance(like, cst.SimpleStatementLine):
        new = new.with_changes(leading_lines=like.leading_lines, trailing_whitespace=like.trailing_whitespace)
    return new


def _is_trainer_assignment(stmt: cst.BaseStatement, name: str) -> bool:
    """``name = gluon.Trainer(...)`` (what T2G401 made of the optimizer)."""
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return False
    small = stmt.body[0]
    return (
        isinstance(small, cst.Assign) and len(small.targets) == 1
        and isinstance(small.targets[0].target, cst.Name) and small.targets[0].target.value == name
        and isinstance(small.value, cst.Call) and isinstance(small.value.func, cst.Attribute)
        and small.value.func.attr.value == "Trainer"
    )


def _is_record(stmt: cst.BaseStatement) -> bool:
    if not isinstance(stmt, cst.With) or len(stmt.items) != 1:
        return False
    item = stmt.items[0].item
    return (
        isinstance(item, cst.Call)
        and isinstance(item.func, cst.Attribute)
        and item.func.attr.value == "record"
    )


class TrainingLoop(Rule):
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

    def _mode_call(self, stmt: cst.BaseStatement) -> Optional[cst.Call]:
        """``x.train()`` / ``x.eval()`` / ``x.train(flag)`` as a statement, on anything."""
        for method in ("train", "eval"):
            call = _method_call(stmt, method)
            if call is None:
                continue
            if (method == "eval" and call.args) or len(call.args) > 1 or any(
                a.star or (a.keyword is not None and a.keyword.value != "mode") for a in call.args
            ):
                return None
            return call
        return None

    def _mode_switch(self, stmt: cst.BaseStatement) -> Optional[cst.Attribute]:
        """The mode switch of a known model with a literal flag (this rule removes it)."""
        call = self._mode_call(stmt)
        if call is None or self.ctx.bindings.get(_receiver(call) or "") != "model":
            return None
        if call.args and literal(call.args[0].value) not in (True, False):
            return None
        return call.func  # type: ignore[return-value]

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        attr = self._mode_switch(node)
        if attr is not None:
            self.ctx.handled.add(id(attr))  # this rule removes it; T2G002 need not report it

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        attr = self._mode_switch(original)
        if attr is None:
            unknown = self._mode_call(original)
            if unknown is not None:
                recv = code_of(unknown.func.value)  # type: ignore[union-attr]
                if self.ctx.bindings.get(_receiver(unknown) or "") != "model":  # a model's: T2G002 reports it
                    self.report(
                        original,
                        f"`{code_of(unknown.func)}()` left as is: nothing says `{recv}` is a model; if it is, remove "
                        "the call (a Gluon block has no train/eval switch: `autograd.record()` decides)",
                        severity=Severity.WARNING,
                    )
            return None
        self.report(
            original,
            f"`{code_of(attr)}()` removed: Gluon runs a model in training mode inside "
            "`autograd.record()` and in inference mode outside it",
            severity=Severity.INFO,
        )
        return cst.RemovalSentinel.REMOVE

    def visit_With(self, node: cst.With) -> None:
        # a no_grad block that only loops over parameters (a hand-written
        # update) runs no model: no mode to warn about
        body = node.body.body if isinstance(node.body, cst.IndentedBlock) else ()
        if body and all(isinstance(s, cst.For) and params_owner(s.iter) is not None for s in body):
            self._quiet.update(id(i.item) for i in node.items)

    def _is_no_grad(self, item: cst.BaseExpression) -> bool:
        """``torch.no_grad()``, ``torch.inference_mode()``, ``torch.set_grad_enabled(False)``."""
        name = self.ctx.call_name(item)
        if name is None or not isinstance(item, cst.Call):
            return False
        if name in ("torch.no_grad", "torch.autograd.no_grad"):
            return not item.args
        if name in ("torch.inference_mode", "torch.autograd.grad_mode.inference_mode"):
            return not item.args or (len(item.args) == 1 and literal(item.args[0].value) is True)
        if name in ("torch.set_grad_enabled", "torch.autograd.set_grad_enabled"):
            return len(item.args) == 1 and literal(item.args[0].value) is False
        return False

    def leave_FunctionDef(self, original: cst.FunctionDef, updated: cst.FunctionDef) -> Optional[cst.FunctionDef]:
        """``@torch.no_grad()`` on a function: its body runs under ``autograd.pause()``."""
        keep, hit, shown = [], False, ""
        for d_o, d_u in zip(original.decorators, updated.decorators):
            dec = d_o.decorator
            if isinstance(dec, (cst.Name, cst.Attribute)) and self.ctx.torch_name(dec) in ("torch.no_grad", "torch.inference_mode"):
                dec = cst.Call(func=dec)  # the bare decorator form
            if self._is_no_grad(dec):
                hit, shown = True, code_of(d_o.decorator)
                continue
            keep.append(d_u)
        if not hit or not isinstance(updated.body, cst.IndentedBlock):
            return None
        body = list(updated.body.body)
        doc = []
        if body and isinstance(body[0], cst.SimpleStatementLine) and isinstance(body[0].body[0], cst.Expr) and isinstance(
            body[0].body[0].value, (cst.SimpleString, cst.ConcatenatedString)
        ):
            doc, body = [body[0]], body[1:]
        if not body:
            body = [cst.SimpleStatementLine(body=[cst.Pass()])]
        wrapped = cst.With(
            items=[cst.WithItem(item=self.ctx.call("mxnet.autograd.pause"))],
            body=cst.IndentedBlock(body=body),
        )
        self.report(
            original,
            f"`@{shown}` became `with autograd.pause():` around the body (MXNet's pause is no decorator)",
            severity=Severity.INFO,
        )
        leading = list(original.leading_lines)
        if not keep and original.decorators:
            leading = list(original.decorators[0].leading_lines) + leading
        return updated.with_changes(decorators=keep, body=updated.body.with_changes(body=[*doc, wrapped]), leading_lines=leading)

    def leave_WithItem(self, original: cst.WithItem, updated: cst.WithItem) -> Optional[cst.WithItem]:
        name = self.ctx.call_name(original.item)
        if name in ("torch.set_grad_enabled", "torch.autograd.set_grad_enabled") and not self._is_no_grad(original.item):
            self.keep(
                original.item, name,
                "with a flag other than a literal False is not translated (`autograd.record()` would also "
                "switch the model to training mode)",
            )
            return None
        if not self._is_no_grad(original.item) or not isinstance(updated.item, cst.Call):
            return None
        if not self._has_eval and id(original.item) not in self._quiet:
            self.report(
                original,
                "outside `autograd.record()` Gluon runs the model in inference mode (dropout off, BatchNorm "
                "running statistics); torch's no_grad keeps the model's train/eval mode",
                severity=Severity.WARNING,
            )
        return updated.with_changes(item=self.ctx.call("mxnet.autograd.pause"))

    @property
    def _has_eval(self) -> bool:
        """Whether the script switches some model to eval mode (a textual hint)."""
        return ".eval()" in self.ctx.source

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        name = self.ctx.call_name(original)
        if name not in _VARIABLE:
            return None
        try:
            b = bind(updated, ["data", "requires_grad", "volatile"])
            if set(b) != {"data"}:
                raise Unbindable("with `requires_grad`/`volatile` is not translated yet")
        except Unbindable as e:
            return self.keep(original, name, str(e))
        return b["data"]

    def leave_block(self, original_block: cst.CSTNode, body: List[cst.BaseStatement]):
        result = self._accumulate(original_block, body) if self._accum is not None else self._block(body)
        if isinstance(original_block, cst.Module):
            self._unscaled_clips()
        return result

    def _unscaled_clips(self) -> None:
        """Report the gradient clips (T2G502) made where the gradients are not torch's."""
        pending = self.ctx.memo.get(CLIPS) or {}
        if self._accum is None:
            for original in pending.values():  # type: ignore[union-attr]
                self.report(
                    original,
                    "the gradients clipped here are not known to be torch's (Gluon's are the sum over the batch "
                    "until `trainer.step(n)`): clip between `loss.backward()` and the optimizer step of one block",
                )
        pending.clear()  # type: ignore[union-attr]
        updates = self.ctx.memo.get(UPDATES) or {}
        for original, _ in updates.values():  # type: ignore[union-attr]
            self.report(
                original,
                "the gradients read in this update are not known to be torch's (Gluon's are the sum over the batch "
                "until `trainer.step(n)`): update after `loss.backward()` in the same block, and zero the gradients there",
            )
        updates.clear()  # type: ignore[union-attr]

    def _updates_in(self, stmts: List[cst.BaseStatement]) -> List[int]:
        pending = self.ctx.memo.get(UPDATES) or {}
        return [id(n) for s in stmts for n in _walk(s) if id(n) in pending] if pending else []

    def _clips_in(self, stmts: List[cst.BaseStatement]) -> List[int]:
        pending = self.ctx.memo.get(CLIPS) or {}
        return [id(n) for s in stmts for n in _walk(s) if id(n) in pending] if pending else []

    def _exact_backward(self, stmt: cst.BaseStatement, loss: str) -> cst.BaseStatement:
        """``loss.backward(out_grad=nd.ones_like(loss) / loss.shape[0])``: the
        gradient of the batch mean, torch's, whatever the batch size."""
        grad = cst.BinaryOperation(
            left=cst.Call(func=self.ctx.ref("mxnet.nd.ones_like"), args=[arg(cst.Name(loss))]),
            operator=cst.Divide(),
            right=cst.parse_expression(f"{loss}.shape[0]"),
        )
        call = _method_call(stmt, "backward")
        new_call = call.with_changes(args=[arg(grad, "out_grad")])  # type: ignore[union-attr]
        new = stmt.with_changes(body=[stmt.body[0].with_changes(value=new_call)])  # type: ignore[union-attr]
        self.ctx.origin[id(new)] = (new, self.ctx.original(stmt))
        return new

    def _block(self, body: List[cst.BaseStatement]):
        backward = [i for i, s in enumerate(body) if _method_call(s, "backward") is not None]
        changed = False
        if any(_is_self_assignment(s) for s in body):
            body = self._drop([s for s in body if not _is_self_assignment(s)], body)
            backward = [i for i, s in enumerate(body) if _method_call(s, "backward") is not None]
            changed = True
        if not backward:
            self._stray(body)
            return body if changed else None
        if len(backward) > 1:
            for i in backward:
                self.report(body[i], "two `backward()` calls in one block (gradient accumulation) are not translated yet; left as is")
            return body if changed else None
        b = backward[0]
        call = _method_call(body[b], "backward")
        loss = _receiver(call)  # type: ignore[arg-type]
        if loss is None or call.args:  # type: ignore[union-attr]
            self.report(body[b], "only `name.backward()` without arguments is translated; left as is")
            return body if changed else None
        if b > 0 and _is_record(body[b - 1]):
            return body if changed else None  # already Gluon

        # The optimizers: receivers of step() after backward, plus known ones.
        steps = [
            i for i in range(b + 1, len(body))
            if (c := _method_call(body[i], "step")) is not None and not c.args
            and (_receiver(c) in self._optimizers(body) or self.ctx.bindings.get(_receiver(c) or "") == "optimizer")
        ]
        updates = self._updates_in(body[b + 1 :])
        if not steps and not updates:
            self.report(
                body[b],
                f"no optimizer step follows `{loss}.backward()` in this block (gradient accumulation is not translated yet); left as is",
            )
            return body if changed else None
        if updates and not (
            any(self.ctx.memo[UPDATES][k][1] for k in updates)  # type: ignore[index]
            or any(_method_call(s, "zero_grad") is not None for s in body)
        ):
            # torch would add each backward's gradient to the last
            self.report(
                body[b],
                f"nothing zeroes the gradients the update after `{loss}.backward()` reads (torch accumulates them, "
                "Gluon overwrites them); left as is",
            )
            for key in updates:
                self.ctx.memo[UPDATES].pop(key)  # type: ignore[union-attr]
            return body if changed else None
        for key in updates:
            self.ctx.memo[UPDATES].pop(key)  # type: ignore[union-attr]

        # Clipping between backward and step needs torch's gradients there.
        clips = self._clips_in(body[b + 1 : steps[-1] if steps else len(body)])
        for key in clips:
            self.ctx.memo[CLIPS].pop(key)  # type: ignore[union-attr]
        clips = clips + updates

        # Drop zero_grad: Gluon overwrites gradients on every backward.
        zero = {i for i, s in enumerate(body) if _method_call(s, "zero_grad") is not None}
        keep = [s for i, s in enumerate(body) if i not in zero]
        body = self._drop(keep, body)
        b = next(i for i, s in enumerate(body) if _method_call(s, "backward") is not None)

        start = self._region_start(body, b, loss)
        if start == b:
            self.report(
                body[b],
                f"`{loss}` is not computed in this block, so its forward pass cannot be wrapped in `autograd.record()`; left as is",
            )
            return body if changed or zero else None
        region = body[start:b]
        first = region[0]
        with_stmt = cst.With(
            items=[cst.WithItem(item=cst.Call(func=self.ctx.ref("mxnet.autograd.record")))],
            body=cst.IndentedBlock(body=[first.with_changes(leading_lines=[]), *region[1:]]),
            leading_lines=first.leading_lines,
        )
        self.ctx.origin[id(with_stmt)] = (with_stmt, self.ctx.original(first))
        after = [self._after_backward(s, loss, exact=bool(clips)) for s in body[b + 1 :]]
        back = self._exact_backward(body[b], loss) if clips else body[b]
        return [*body[:start], with_stmt, back, *after]

    # -- gradient accumulation ------------------------------------------------
    _accum: Optional[Tuple[str, str]] = None  # (optimizer name, model code)
    _quiet: Set[int] = set()

    def visit_Module(self, node: cst.Module) -> None:
        """Decide once whether the script accumulates gradients.

        It does when some block calls ``backward`` twice, or calls it without
        an optimizer step following in the same block. With exactly one
        optimizer built from ``model.parameters()`` the whole script is then
        translated with ``grad_req = "add"`` (see ``_accumulate``); otherwise
        the blocks are reported as before.
        """
        self._accum = None
        self._quiet = set()
        # id(statement) -> (statement, loss): a backward whose loss is not
        # computed in its own block, for the block around it to take over
        self._deferred: Dict[int, Tuple[cst.BaseStatement, str]] = {}
        self._accum_at: Optional[cst.CSTNode] = None
        self._grad_req_set = False
        opts: Dict[str, Optional[str]] = {}
        blocks: List[List[cst.BaseStatement]] = [list(node.body)]
        for n in _walk(node):
            if isinstance(n, cst.IndentedBlock):
                blocks.append(list(n.body))
            if not isinstance(n, cst.Assign) or len(n.targets) != 1 or not isinstance(n.targets[0].target, cst.Name):
                continue
            name = self.ctx.call_name(n.value) or ""
            if not name.startswith("torch.optim.") or name.startswith("torch.optim.lr_scheduler"):
                continue
            model = None
            call = n.value
            first = next((a.value for a in call.args if a.keyword is None or a.keyword.value == "params"), None)  # type: ignore[union-attr]
            if (
                isinstance(first, cst.Call) and not first.args and isinstance(first.func, cst.Attribute)
                and first.func.attr.value == "parameters" and _dotted(first.func.value)
            ):
                model = code_of(first.func.value)
            opts[n.targets[0].target.value] = model
        accumulates = None
        for body in blocks:
            backward = [
                i for i, s in enumerate(body)
                if (c := _method_call(s, "backward")) is not None and not c.args and _receiver(c) is not None
            ]
            if not backward:
                continue
            stepped = any(
                (c := _method_call(s, "step")) is not None and not c.args and _receiver(c) in opts
                for s in body[backward[0] + 1 :]
            )
            if len(backward) > 1 or not stepped:
                accumulates = body[backward[0]]
                break
        if accumulates is None or len(opts) != 1:
            return
        (opt, model), = opts.items()
        if model is None:
            return
        self._accum = (opt, model)
        self._accum_at = accumulates
        self.ctx.memo[ACCUMULATES] = True

    def _accumulate(self, original_block: cst.CSTNode, body: List[cst.BaseStatement]):
        """The accumulating script: parameters get ``grad_req = "add"``, each
        ``loss.backward()`` adds torch's (batch-mean) gradient, ``zero_grad``
        zeroes them explicitly and ``step`` applies them as they are."""
        opt, model = self._accum  # type: ignore[misc]
        out: List[cst.BaseStatement] = []
        changed = False
        for s in body:
            c = _method_call(s, "zero_grad")
            if c is not None and not c.args and _receiver(c) in (opt, model):
                new = _statement(s, f"{model}.collect_params().zero_grad()")
                self.ctx.origin[id(new)] = (new, self.ctx.original(s))
                out.append(new)
                changed = True
                continue
            c = _method_call(s, "step")
            if c is not None and not c.args and _receiver(c) == opt:
                # the gradients are torch's already (see the backward below)
                new = _statement(s, f"{opt}.step(1)")
                self.ctx.origin[id(new)] = (new, self.ctx.original(s))
                out.append(new)
                changed = True
                continue
            out.append(s)
            if _is_trainer_assignment(s, opt) and not self._grad_req_set:
                # frozen parameters ("null") stay frozen
                p = free_name(self.ctx.source, ("p", "param", "parameter", "p_"))
                out.append(
                    cst.parse_statement(
                        f"for {p} in {model}.collect_params().values():\n"
                        f'    if {p}.grad_req != "null":\n'
                        f'        {p}.grad_req = "add"\n'
                    )
                )
                self._grad_req_set = True
                changed = True
        body = out
        backward = [i for i, s in enumerate(body) if _method_call(s, "backward") is not None]
        # compound statements whose blocks call backward on a loss computed here
        backward += [
            i for i, s in enumerate(body)
            if not isinstance(s, cst.SimpleStatementLine) and any(id(n) in self._deferred for n in _walk(s))
        ]
        backward.sort()
        if backward and not (backward[0] > 0 and _is_record(body[backward[0] - 1])):
            new_body = self._record_each(body, backward)
            if new_body is not None:
                body, changed = new_body, True
        if isinstance(original_block, cst.Module):
            for stmt, loss in self._deferred.values():
                self.report(
                    stmt,
                    f"`{loss}` is not computed in this block or a block around it, so its forward pass cannot "
                    "be wrapped in `autograd.record()`; left as is",
                )
            self._deferred.clear()
        if isinstance(original_block, cst.Module) and not self._grad_req_set:
            self.report(
                self._accum_at,  # type: ignore[arg-type]
                f"gradient accumulation needs `grad_req = \"add\"` on the parameters of `{model}`, but no "
                f"`gluon.Trainer` assignment to `{opt}` was found to set it after; the translation would "
                "overwrite the gradients",
            )
        return body if changed else None

    def _record_each(self, body: List[cst.BaseStatement], backward: List[int]) -> Optional[List[cst.BaseStatement]]:
        """Wrap each backward's forward pass in ``autograd.record()``; backward
        of the per-sample loss with ``out_grad = 1/n`` gives torch's gradient of
        the batch mean, whatever the size of each micro-batch."""
        plans = []
        for b in backward:
            nested = [v for n in _walk(body[b]) if (v := self._deferred.get(id(n))) is not None]
            if nested:  # an if/else that calls backward in its blocks
                losses = {loss for _, loss in nested}
                loss = losses.pop()
                start = self._region_start(body, b, loss) if not losses else b
                if start == b:
                    continue  # perhaps a block further out computes it (else reported at the end)
                plans.append((start, b, loss))
                continue
            call = _method_call(body[b], "backward")
            loss = _receiver(call)  # type: ignore[arg-type]
            if loss is None or call.args:  # type: ignore[union-attr]
                self.report(body[b], "only `name.backward()` without arguments is translated; left as is")
                return None
            start = self._region_start(body, b, loss)
            if start == b:
                # perhaps computed in a block around this one (if/else on the step)
                self._deferred[id(body[b])] = (body[b], loss)
                continue
            plans.append((start, b, loss))
        if not plans:
            return None
        out: List[cst.BaseStatement] = list(body[: plans[0][0]])
        for k, (start, b, loss) in enumerate(plans):
            region = body[start:b]
            # zeroing gradients is no part of the forward pass
            hoisted = [s for s in region if _method_call(s, "zero_grad") is not None]
            region = [s for s in region if _method_call(s, "zero_grad") is None]
            out.extend(hoisted)
            first = region[0]
            with_stmt = cst.With(
                items=[cst.WithItem(item=cst.Call(func=self.ctx.ref("mxnet.autograd.record")))],
                body=cst.IndentedBlock(body=[first.with_changes(leading_lines=[]), *region[1:]]),
                leading_lines=first.leading_lines,
            )
            self.ctx.origin[id(with_stmt)] = (with_stmt, self.ctx.original(first))
            out.append(with_stmt)
            if _method_call(body[b], "backward") is not None:
                back = self._exact_backward(body[b], loss)
            else:
                back = body[b].visit(_ExactNested(self, loss))  # type: ignore[assignment]
            out.append(back)
            end = plans[k + 1][0] if k + 1 < len(plans) else len(body)
            for s in body[b + 1 : end]:
                if _method_call(s, "step") is not None or _method_call(s, "zero_grad") is not None:
                    out.append(s)
                else:
                    out.append(s.visit(_LossReads(loss, self, s)))  # type: ignore[arg-type]
        return out

    def _optimizers(self, body: List[cst.BaseStatement]) -> Set[str]:
        """Receivers of zero_grad() in this block: optimizers (or models)."""
        out = set()
        for s in body:
            c = _method_call(s, "zero_grad")
            if c is not None and _receiver(c):
                out.add(_receiver(c))
        return out

    def _stray(self, body: List[cst.BaseStatement]) -> None:
        both = self._optimizers(body) & {
            _receiver(c) for s in body if (c := _method_call(s, "step")) is not None
        }
        for s in body:
            for method in ("zero_grad", "step"):
                c = _method_call(s, method)
                if c is None or c.args:
                    continue
                recv = _receiver(c)
                if recv and (recv in both or self.ctx.bindings.get(recv) == "optimizer"):
                    self.report(
                        s,
                        f"`{recv}.{method}()` is not in the block that calls backward (gradient accumulation is not translated yet); left as is",
                    )

    def _drop(self, keep: List[cst.BaseStatement], body: List[cst.BaseStatement]) -> List[cst.BaseStatement]:
        """``keep`` with the comments of dropped statements moved to the next kept one."""
        kept_ids = {id(s) for s in keep}
        out: List[cst.BaseStatement] = []
        carry: List[cst.EmptyLine] = []
        for s in body:
            if id(s) not in kept_ids:
                carry.extend(line for line in s.leading_lines if line.comment is not None)
                continue
            if carry:
                s = s.with_changes(leading_lines=[*carry, *s.leading_lines])
                carry = []
            out.append(s)
        if carry and out:
            # nothing follows: keep the comments on a pass statement
            out.append(cst.SimpleStatementLine(body=[cst.Pass()], leading_lines=carry))
        return out

    def _region_start(self, body: List[cst.BaseStatement], b: int, loss: str) -> int:
        needed = {loss}
        start = b
        for j in range(b - 1, -1, -1):
            s = body[j]
            if not isinstance(s, cst.SimpleStatementLine):
                break
            if _method_call(s, "step") is not None or _method_call(s, "backward") is not None:
                break
            assigned = _assigned(s)
            if assigned & needed:
                needed |= set(names_in(s))
                start = j
        return start

    def _after_backward(self, stmt: cst.BaseStatement, loss: str, exact: bool = False) -> cst.BaseStatement:
        step = _method_call(stmt, "step")
        if step is not None and not step.args:
            size = cst.Integer("1") if exact else cst.parse_expression(f"{loss}.shape[0]")
            new_call = step.with_changes(args=[arg(size)])
            small = stmt.body[0].with_changes(value=new_call)  # type: ignore[union-attr]
            new = stmt.with_changes(body=[small])  # type: ignore[union-attr]
            self.ctx.origin[id(new)] = (new, self.ctx.original(stmt))
            return new
        fixer = _LossReads(loss, self, stmt)
        new = stmt.visit(fixer)
        return new  # type: ignore[return-value]


class _ExactNested(cst.CSTTransformer):
    """Makes the deferred backward calls inside a compound statement exact."""

    def __init__(self, rule: "TrainingLoop", loss: str) -> None:
        super().__init__()
        self.rule = rule
        self.loss = loss

    def leave_SimpleStatementLine(self, original, updated):
        if id(original) in self.rule._deferred:
            del self.rule._deferred[id(original)]
            return self.rule._exact_backward(original, self.loss)
        return updated


class _LossReads(PreservingTransformer):
    """After backward: ``loss.item()`` -> ``loss.mean().asscalar()``;
    ``total += loss.mean()`` -> ``total += loss.mean().asscalar()``;
    any other read of the per-sample loss is reported."""

    def __init__(self, loss: str, rule: Rule, stmt: cst.BaseStatement) -> None:
        super().__init__(rule.ctx)
        self.loss = loss
        self.rule = rule
        self.stmt = stmt
        self.ok: Set[int] = set()
        self.reported = False

    def _is_loss(self, node: cst.BaseExpression) -> bool:
        return isinstance(node, cst.Name) and node.value == self.loss

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self.ok.add(id(node.attr))
        if self._is_loss(node.value) and node.attr.value in ("item", "mean", "shape", "backward", "detach", "asscalar"):
            self.ok.add(id(node.value))

    def visit_Name(self, node: cst.Name) -> None:
        if node.value == self.loss and id(node) not in self.ok and not self.reported:
            self.reported = True
            self.rule.report(
                self.stmt,
                f"`{self.loss}` holds one loss per sample in Gluon (torch: the batch mean); use `{self.loss}.mean()` here",
                severity=Severity.WARNING,
            )

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        func = updated.func
        if isinstance(func, cst.Attribute) and self._is_loss(func.value) and not updated.args:
            if func.attr.value == "item":
                return cst.parse_expression(f"{self.loss}.mean().asscalar()")
            if func.attr.value == "asscalar":  # another rule's translation of .item()
                return cst.parse_expression(f"{self.loss}.mean().asscalar()")
        return updated

    def leave_AugAssign(self, original: cst.AugAssign, updated: cst.AugAssign) -> cst.AugAssign:
        v = updated.value
        if (
            isinstance(v, cst.Call)
            and isinstance(v.func, cst.Attribute)
            and v.func.attr.value == "mean"
            and self._is_loss(v.func.value)
            and not v.args
        ):
            return updated.with_changes(value=cst.Call(func=cst.Attribute(value=v, attr=cst.Name("asscalar"))))
        return updated
