"""T2G501, part 2: the blocks that call backward: record, step by batch size, accumulation."""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple, cast

import libcst as cst

from ...analysis.kinds import Kind
from ...base.diagnostics import Severity
from ...base.syntax import PreservingTransformer, Statement, arg, names_in
from ...base.syntax import walk as _walk
from ...rewrite.training import free_name
from .._base import Rule, code_of
from ._statements import assigned_names, is_dotted, is_record, is_self_assignment, is_trainer_assignment, method_call, receiver_name, statement_like


class BlockRewrite(Rule):
    """The rewrite of each block that calls backward (see TrainingLoop)."""

    _accum: Optional[Tuple[str, str]]
    _quiet: Set[int]
    _receiver_is: Callable[[cst.Call, Kind], bool]  # ModeSwitches's, in TrainingLoop

    def leave_block(self, original_block: cst.CSTNode, body: List[cst.BaseStatement]):
        result = self._accumulate(original_block, body) if self._accum is not None else self._block(body)
        if isinstance(original_block, cst.Module):
            self._unscaled_clips()
        return result

    def _unscaled_clips(self) -> None:
        """Report the gradient clips (T2G502) made where the gradients are not torch's."""
        pending = self.ctx.clips
        if self._accum is None:
            for original in pending.values():
                self.report(
                    original,
                    "the gradients clipped here are not known to be torch's (Gluon's are the sum over the batch "
                    "until `trainer.step(n)`): clip between `loss.backward()` and the optimizer step of one block",
                )
        pending.clear()
        updates = self.ctx.updates
        for update, _ in updates.values():
            self.report(
                update,
                "the gradients read in this update are not known to be torch's (Gluon's are the sum over the batch "
                "until `trainer.step(n)`): update after `loss.backward()` in the same block, and zero the gradients there",
            )
        updates.clear()

    def _updates_in(self, stmts: List[cst.BaseStatement]) -> List[int]:
        pending = self.ctx.updates
        return [id(n) for s in stmts for n in _walk(s) if id(n) in pending] if pending else []

    def _clips_in(self, stmts: List[cst.BaseStatement]) -> List[int]:
        pending = self.ctx.clips
        return [id(n) for s in stmts for n in _walk(s) if id(n) in pending] if pending else []

    def _exact_backward(self, stmt: cst.BaseStatement, loss: str) -> cst.BaseStatement:
        """``loss.backward(out_grad=nd.ones_like(loss) / loss.shape[0])``: the
        gradient of the batch mean, torch's, whatever the batch size."""
        grad = cst.BinaryOperation(
            left=cst.Call(func=self.ctx.ref("mxnet.nd.ones_like"), args=[arg(cst.Name(loss))]),
            operator=cst.Divide(),
            right=cst.parse_expression(f"{loss}.shape[0]"),
        )
        call = cast(cst.Call, method_call(stmt, "backward"))  # stmt is a `loss.backward()` line
        new_call = call.with_changes(args=[arg(grad, "out_grad")])
        new = stmt.with_changes(body=[cast(cst.SimpleStatementLine, stmt).body[0].with_changes(value=new_call)])
        self.ctx.origin[id(new)] = (new, self.ctx.original(stmt))
        return new

    def _block(self, body: List[cst.BaseStatement]):
        backward = [i for i, s in enumerate(body) if method_call(s, "backward") is not None]
        changed = False
        if any(is_self_assignment(s) for s in body):
            body = self._drop([s for s in body if not is_self_assignment(s)], body)
            backward = [i for i, s in enumerate(body) if method_call(s, "backward") is not None]
            changed = True
        if not backward:
            self._stray(body)
            return body if changed else None
        if len(backward) > 1:
            for i in backward:
                self.report(body[i], "two `backward()` calls in one block (gradient accumulation) are not translated yet; left as is")
            return body if changed else None
        b = backward[0]
        call = cast(cst.Call, method_call(body[b], "backward"))  # body[b] is a backward() line
        loss = receiver_name(call)
        if b > 0 and is_record(body[b - 1]):
            return body if changed else None  # already Gluon (a second pass: its backward may have out_grad)
        if loss is None or call.args:
            self.report(body[b], "only `name.backward()` without arguments is translated; left as is")
            return body if changed else None

        # The optimizers: receivers of step() after backward, plus known ones.
        steps = [
            i for i in range(b + 1, len(body))
            if (c := method_call(body[i], "step")) is not None and not c.args
            and (receiver_name(c) in self._optimizers(body) or self._receiver_is(c, Kind.OPTIMIZER))
        ]
        updates = self._updates_in(body[b + 1 :])
        if not steps and not updates:
            self.report(
                body[b],
                f"no optimizer step follows `{loss}.backward()` in this block (gradient accumulation is not translated yet); left as is",
            )
            return body if changed else None
        if updates and not (
            any(self.ctx.updates[k][1] for k in updates)
            or any(method_call(s, "zero_grad") is not None for s in body)
        ):
            # torch would add each backward's gradient to the last
            self.report(
                body[b],
                f"nothing zeroes the gradients the update after `{loss}.backward()` reads (torch accumulates them, "
                "Gluon overwrites them); left as is",
            )
            for key in updates:
                self.ctx.updates.pop(key)
            return body if changed else None
        for key in updates:
            self.ctx.updates.pop(key)

        # Clipping between backward and step needs torch's gradients there.
        clips = self._clips_in(body[b + 1 : steps[-1] if steps else len(body)])
        for key in clips:
            self.ctx.clips.pop(key)
        clips = clips + updates

        # Drop zero_grad: Gluon overwrites gradients on every backward.
        zero = {i for i, s in enumerate(body) if method_call(s, "zero_grad") is not None}
        keep = [s for i, s in enumerate(body) if i not in zero]
        body = self._drop(keep, body)
        b = next(i for i, s in enumerate(body) if method_call(s, "backward") is not None)

        start = self._region_start(body, b, loss)
        if start == b:
            self.report(
                body[b],
                f"`{loss}` is not computed in this block, so its forward pass cannot be wrapped in `autograd.record()`; left as is",
            )
            return body if changed or zero else None
        region = body[start:b]
        first = cast(cst.SimpleStatementLine, region[0])  # as _region_start found it
        inner = first.with_changes(leading_lines=[])
        with_stmt = cst.With(
            items=[cst.WithItem(item=cst.Call(func=self.ctx.ref("mxnet.autograd.record")))],
            body=cst.IndentedBlock(body=[inner, *region[1:]]),
            leading_lines=first.leading_lines,
        )
        self.ctx.origin[id(with_stmt)] = (with_stmt, self.ctx.original(first))
        self.ctx.origin[id(inner)] = (inner, self.ctx.original(first))  # its markers go inside
        after = [self._after_backward(s, loss, exact=bool(clips)) for s in body[b + 1 :]]
        back = self._exact_backward(body[b], loss) if clips else body[b]
        return [*body[:start], with_stmt, back, *after]

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
            call = cast(cst.Call, n.value)  # it has a call name
            first = next((a.value for a in call.args if a.keyword is None or a.keyword.value == "params"), None)
            if (
                isinstance(first, cst.Call) and not first.args and isinstance(first.func, cst.Attribute)
                and first.func.attr.value == "parameters" and is_dotted(first.func.value)
            ):
                model = code_of(first.func.value)
            opts[n.targets[0].target.value] = model
        accumulates = None
        for body in blocks:
            backward = [
                i for i, s in enumerate(body)
                if (c := method_call(s, "backward")) is not None and not c.args and receiver_name(c) is not None
            ]
            if not backward:
                continue
            stepped = any(
                (c := method_call(s, "step")) is not None and not c.args and receiver_name(c) in opts
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
        self.ctx.accumulates = True

    def _accumulate(self, original_block: cst.CSTNode, body: List[cst.BaseStatement]):
        """The accumulating script: parameters get ``grad_req = "add"``, each
        ``loss.backward()`` adds torch's (batch-mean) gradient, ``zero_grad``
        zeroes them explicitly and ``step`` applies them as they are."""
        opt, model = self._accum  # type: ignore[misc]
        out: List[cst.BaseStatement] = []
        changed = False
        for s in body:
            c = method_call(s, "zero_grad")
            if c is not None and not c.args and receiver_name(c) in (opt, model):
                new = statement_like(s, f"{model}.collect_params().zero_grad()")
                self.ctx.origin[id(new)] = (new, self.ctx.original(s))
                out.append(new)
                changed = True
                continue
            c = method_call(s, "step")
            if c is not None and not c.args and receiver_name(c) == opt:
                # the gradients are torch's already (see the backward below)
                new = statement_like(s, f"{opt}.step(1)")
                self.ctx.origin[id(new)] = (new, self.ctx.original(s))
                out.append(new)
                changed = True
                continue
            out.append(s)
            if is_trainer_assignment(s, opt) and not self._grad_req_set:
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
        backward = [i for i, s in enumerate(body) if method_call(s, "backward") is not None]
        # compound statements whose blocks call backward on a loss computed here
        backward += [
            i for i, s in enumerate(body)
            if not isinstance(s, cst.SimpleStatementLine) and any(id(n) in self._deferred for n in _walk(s))
        ]
        backward.sort()
        if backward and not (backward[0] > 0 and is_record(body[backward[0] - 1])):
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
        loss: Optional[str]
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
            call = cast(cst.Call, method_call(body[b], "backward"))  # body[b] is a backward() line
            loss = receiver_name(call)
            if loss is None or call.args:
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
            hoisted = [s for s in region if method_call(s, "zero_grad") is not None]
            region = [s for s in region if method_call(s, "zero_grad") is None]
            out.extend(hoisted)
            first = cast(cst.SimpleStatementLine, region[0])  # as _region_start found it
            inner = first.with_changes(leading_lines=[])
            with_stmt = cst.With(
                items=[cst.WithItem(item=cst.Call(func=self.ctx.ref("mxnet.autograd.record")))],
                body=cst.IndentedBlock(body=[inner, *region[1:]]),
                leading_lines=first.leading_lines,
            )
            self.ctx.origin[id(with_stmt)] = (with_stmt, self.ctx.original(first))
            self.ctx.origin[id(inner)] = (inner, self.ctx.original(first))  # its markers go inside
            out.append(with_stmt)
            if method_call(body[b], "backward") is not None:
                back = self._exact_backward(body[b], loss)
            else:
                back = body[b].visit(ExactNested(self, loss))  # type: ignore[assignment]
            out.append(back)
            end = plans[k + 1][0] if k + 1 < len(plans) else len(body)
            for s in body[b + 1 : end]:
                if method_call(s, "step") is not None or method_call(s, "zero_grad") is not None:
                    out.append(s)
                else:
                    out.append(s.visit(LossReads(loss, self, s)))  # type: ignore[arg-type]
        return out

    def _optimizers(self, body: List[cst.BaseStatement]) -> Set[str]:
        """Receivers of zero_grad() in this block: optimizers (or models)."""
        out: Set[str] = set()
        for s in body:
            c = method_call(s, "zero_grad")
            name = receiver_name(c) if c is not None else None
            if name:
                out.add(name)
        return out

    def _stray(self, body: List[cst.BaseStatement]) -> None:
        both = self._optimizers(body) & {
            receiver_name(c) for s in body if (c := method_call(s, "step")) is not None
        }
        for s in body:
            for method in ("zero_grad", "step"):
                c = method_call(s, method)
                if c is None or c.args:
                    continue
                recv = receiver_name(c)
                if recv and (recv in both or self._receiver_is(c, Kind.OPTIMIZER)):
                    self.report(
                        s,
                        f"`{recv}.{method}()` is not in the block that calls backward (gradient accumulation is not translated yet); left as is",
                    )

    def _drop(self, keep: List[cst.BaseStatement], body: Sequence[cst.BaseStatement]) -> List[cst.BaseStatement]:
        """``keep`` with the comments of dropped statements moved to the next kept one."""
        kept_ids = {id(s) for s in keep}
        out: List[cst.BaseStatement] = []
        carry: List[cst.EmptyLine] = []
        for s in cast(Sequence[Statement], body):  # what a block holds
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
            if method_call(s, "step") is not None or method_call(s, "backward") is not None:
                break
            assigned = assigned_names(s)
            if assigned & needed:
                needed |= set(names_in(s))
                start = j
        return start

    def _after_backward(self, stmt: cst.BaseStatement, loss: str, exact: bool = False) -> cst.BaseStatement:
        step = method_call(stmt, "step")
        if step is not None and not step.args:
            size = cst.Integer("1") if exact else cst.parse_expression(f"{loss}.shape[0]")
            new_call = step.with_changes(args=[arg(size)])
            small = cast(cst.SimpleStatementLine, stmt).body[0].with_changes(value=new_call)  # a `opt.step()` line
            new = stmt.with_changes(body=[small])
            self.ctx.origin[id(new)] = (new, self.ctx.original(stmt))
            return new
        fixer = LossReads(loss, self, stmt)
        return cast(cst.BaseStatement, stmt.visit(fixer))


class ExactNested(cst.CSTTransformer):
    """Makes the deferred backward calls inside a compound statement exact."""

    def __init__(self, rule: "BlockRewrite", loss: str) -> None:
        super().__init__()
        self.rule = rule
        self.loss = loss

    def leave_SimpleStatementLine(self, original, updated):
        if id(original) in self.rule._deferred:
            del self.rule._deferred[id(original)]
            return self.rule._exact_backward(original, self.loss)
        return updated


class LossReads(PreservingTransformer):
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
