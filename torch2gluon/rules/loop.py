"""The training step: autograd.record, backward, trainer.step(batch size)."""

from __future__ import annotations

from typing import List, Optional, Set

import libcst as cst

from .._cst import PreservingTransformer
from ..context import arg, names_in
from ..diagnostics import Severity
from ._base import Example, Rule, Unbindable, bind, code_of, literal

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
    ``with torch.no_grad():`` becomes ``with autograd.pause():``, and
    ``model.train()``/``model.eval()`` statements go (an info note says so):
    Gluon runs a model in training mode inside ``autograd.record()`` and in
    inference mode outside it, which is where the torch script trains and
    evaluates.

    ## Why
    A Gluon loss is one value per sample and ``backward`` sums them, so
    ``trainer.step(n)`` must divide by the number of samples in *this* batch:
    ``loss.shape[0]`` is that number, also for the smaller last batch. (When the
    script reduces the loss itself, ``loss.shape[0]`` is 1 and the division is
    a no-op, which is again right.) Where the script reads the loss, the mean
    over the batch gives torch's value.

    ## Flags
    ``torch.no_grad()`` in a script that never calls ``.eval()`` is a warning:
    the forward pass then runs in inference mode in Gluon.
    A block with two ``backward`` calls, ``zero_grad`` or ``step`` away from
    the block that calls ``backward`` (gradient accumulation), a loss computed
    outside the block, and other uses of the per-sample loss are reported.

    ## Fix safety
    Safe for the one-backward-per-step loop; the rest is reported.
    """

    code = "T2G501"
    name = "training-loop"
    summary = "zero_grad/backward/step -> autograd.record + trainer.step(batch size)"
    examples = (
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
            id="gradient accumulation is flagged",
        ),
    )

    def _mode_switch(self, stmt: cst.BaseStatement) -> Optional[cst.Attribute]:
        """``model.train()`` / ``model.eval()`` / ``model.train(False)`` as a statement."""
        for method in ("train", "eval"):
            call = _method_call(stmt, method)
            if call is None:
                continue
            recv = _receiver(call)
            if recv is None or self.ctx.bindings.get(recv) != "model":
                return None
            if method == "eval" and call.args:
                return None
            if method == "train" and call.args and literal(call.args[0].value) not in (True, False):
                return None
            return call.func  # type: ignore[return-value]
        return None

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        attr = self._mode_switch(node)
        if attr is not None:
            self.ctx.handled.add(id(attr))  # this rule removes it; T2G002 need not report it

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        attr = self._mode_switch(original)
        if attr is None:
            return None
        self.report(
            original,
            f"`{code_of(attr)}()` removed: Gluon runs a model in training mode inside "
            "`autograd.record()` and in inference mode outside it",
            severity=Severity.INFO,
        )
        return cst.RemovalSentinel.REMOVE

    def leave_WithItem(self, original: cst.WithItem, updated: cst.WithItem) -> Optional[cst.WithItem]:
        if self.ctx.call_name(original.item) != "torch.no_grad" or not isinstance(updated.item, cst.Call):
            return None
        if updated.item.args:
            return None
        if not self._has_eval:
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
        if not steps:
            self.report(
                body[b],
                f"no optimizer step follows `{loss}.backward()` in this block (gradient accumulation is not translated yet); left as is",
            )
            return body if changed else None

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
        after = [self._after_backward(s, loss) for s in body[b + 1 :]]
        return [*body[:start], with_stmt, body[b], *after]

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

    def _after_backward(self, stmt: cst.BaseStatement, loss: str) -> cst.BaseStatement:
        step = _method_call(stmt, "step")
        if step is not None and not step.args:
            new_call = step.with_changes(args=[arg(cst.parse_expression(f"{loss}.shape[0]"))])
            small = stmt.body[0].with_changes(value=new_call)  # type: ignore[union-attr]
            new = stmt.with_changes(body=[small])  # type: ignore[union-attr]
            self.ctx.origin[id(new)] = (new, self.ctx.original(stmt))
            return new
        fixer = _LossReads(loss, self, stmt)
        new = stmt.visit(fixer)
        return new  # type: ignore[return-value]


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
        if self._is_loss(node.value) and node.attr.value in ("item", "mean", "shape", "backward", "detach"):
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
