"""T2G501, part 1: train()/eval() switches, no_grad and its kin, Variable."""

from __future__ import annotations

from typing import Optional, Set, cast

import libcst as cst

from ...analysis.kinds import Kind
from ...base.diagnostics import Severity
from ...rewrite.training import params_owner
from .._base import Rule, Unbindable, bind, code_of, literal
from ._statements import VARIABLE, method_call


class ModeSwitches(Rule):
    """train()/eval() switches, no_grad blocks and decorators, Variable (see TrainingLoop)."""

    _quiet: Set[int]

    def _mode_call(self, stmt: cst.BaseStatement) -> Optional[cst.Call]:
        """``x.train()`` / ``x.eval()`` / ``x.train(flag)`` as a statement, on anything."""
        for method in ("train", "eval"):
            call = method_call(stmt, method)
            if call is None:
                continue
            if (method == "eval" and call.args) or len(call.args) > 1 or any(
                a.star or (a.keyword is not None and a.keyword.value != "mode") for a in call.args
            ):
                return None
            return call
        return None

    def _receiver_is(self, call: cst.Call, kind: Kind) -> bool:
        """The receiver of ``recv.method()`` (an original node) holds a value of ``kind``."""
        return isinstance(call.func, cst.Attribute) and self.ctx.kind(call.func.value) is kind

    def _mode_switch(self, stmt: cst.BaseStatement) -> Optional[cst.Attribute]:
        """The mode switch of a known model with a literal flag (this rule removes it)."""
        call = self._mode_call(stmt)
        if call is None or not self._receiver_is(call, Kind.MODULE):
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
                recv = code_of(cast(cst.Attribute, unknown.func).value)  # a method call, as _mode_call found it
                if not self._receiver_is(unknown, Kind.MODULE):  # a model's: T2G002 reports it
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
        if body and isinstance(body[0], (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            # the wrapper stands for the statements it holds: the formatter enters it,
            # so their markers stay on them
            self.ctx.origin[id(wrapped)] = (wrapped, self.ctx.original(body[0]))
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
                cast(cst.Call, original.item), name,  # a call: it has a call name
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
        if name not in VARIABLE:
            return None
        try:
            b = bind(updated, ["data", "requires_grad", "volatile"])
            if set(b) != {"data"}:
                raise Unbindable("with `requires_grad`/`volatile` is not translated yet")
        except Unbindable as e:
            self.keep(original, name, str(e))
            return None
        return b["data"]
