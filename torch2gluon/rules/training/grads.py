"""Code that reads or changes gradients between ``backward`` and ``step``."""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple, cast

import libcst as cst

from ...base.syntax import arg
from ...rewrite.models import is_model_or_submodule
from ...rewrite.training import free_name, params_owner
from .._base import Example, Rule, Unbindable, bind, code_of, literal

_NORM = ("torch.nn.utils.clip_grad_norm_", "torch.nn.utils.clip_grad.clip_grad_norm_")
_VALUE = ("torch.nn.utils.clip_grad_value_", "torch.nn.utils.clip_grad.clip_grad_value_")


def grads_of(owner: cst.BaseExpression) -> cst.BaseExpression:
    """``[p.grad() for p in owner.collect_params().values() if p.grad_req != "null"]``."""
    return cst.parse_expression(
        f'[p.grad() for p in {code_of(owner)}.collect_params().values() if p.grad_req != "null"]'
    )


class GradientClipping(Rule):
    """``clip_grad_norm_`` / ``clip_grad_value_`` clip Gluon's gradients the same way.

    ## What it does
    ``torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)`` becomes
    ``gluon.utils.clip_global_norm([p.grad() for p in
    model.collect_params().values() if p.grad_req != "null"], max_norm)``,
    which returns the total norm before clipping as a NumPy float32 (torch: a
    0-d tensor; ``float()`` and ``.item()`` work on both). The statement
    ``torch.nn.utils.clip_grad_value_(model.parameters(), c)`` becomes a loop
    that clips each gradient to [-c, c] in place.

    ## Why
    Trainer's ``clip_gradient`` is an element-wise clip, not a global norm.
    A Gluon gradient is the sum over the batch (batch size times torch's mean
    gradient) until ``trainer.step(n)`` divides it, so a threshold compared
    with it would clip a different amount: the training-loop rule (T2G501)
    therefore backpropagates the batch mean in that block
    (``loss.backward(out_grad=nd.ones_like(loss) / loss.shape[0])``) and steps
    with ``trainer.step(1)``; the gradients being clipped are then torch's.

    ## Flags
    ``norm_type`` other than 2, ``error_if_nonfinite=True``, parameters other
    than ``model.parameters()``, ``clip_grad_value_`` used as a value, and a
    clip that is not between ``loss.backward()`` and the optimizer step of the
    same block (or in a script that accumulates gradients) are reported.

    ## Fix safety
    torch divides by ``total_norm + 1e-6``, MXNet by ``total_norm + 1e-8``:
    the clipped gradients differ by a relative ~1e-6/total_norm, below 1e-5
    for any threshold above 0.1.
    """

    code = "T2G502"
    name = "gradient-clipping"
    summary = "clip_grad_norm_/clip_grad_value_ -> gluon.utils.clip_global_norm / clip on the gradients"
    examples = (
        Example(
            (
                "import torch\n"
                "for x, y in loader:\n"
                "    opt.zero_grad()\n"
                "    loss = crit(model(x), y)\n"
                "    loss.backward()\n"
                "    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n"
                "    opt.step()\n"
            ),
            (
                "from mxnet import autograd, gluon, nd\n\n"
                "for x, y in loader:\n"
                "    with autograd.record():\n"
                "        loss = crit(model(x), y)\n"
                "    loss.backward(out_grad=nd.ones_like(loss) / loss.shape[0])\n"
                "    gluon.utils.clip_global_norm(\n"
                '        [p.grad() for p in model.collect_params().values() if p.grad_req != "null"], 1.0\n'
                "    )\n"
                "    opt.step(1)\n"
            ),
            id="clip_grad_norm_ between backward and step",
        ),
        Example(
            (
                "from torch.nn.utils import clip_grad_value_\n"
                "for x, y in loader:\n"
                "    opt.zero_grad()\n"
                "    loss = crit(model(x), y)\n"
                "    loss.backward()\n"
                "    clip_grad_value_(model.parameters(), clip_value=0.5)\n"
                "    opt.step()\n"
            ),
            (
                "from mxnet import autograd, nd\n\n"
                "for x, y in loader:\n"
                "    with autograd.record():\n"
                "        loss = crit(model(x), y)\n"
                "    loss.backward(out_grad=nd.ones_like(loss) / loss.shape[0])\n"
                "    for g in [\n"
                '        p.grad() for p in model.collect_params().values() if p.grad_req != "null"\n'
                "    ]:\n"
                "        nd.clip(g, -0.5, 0.5, out=g)\n"
                "    opt.step(1)\n"
            ),
            id="clip_grad_value_, keyword",
        ),
        Example(
            (
                "import torch\n"
                "def clip(model):\n"
                "    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n"
            ),
            (
                "from mxnet import gluon\n\n\n"
                "def clip(model):\n"
                "    # torch2gluon: T2G501: the gradients clipped here are not known to be torch's (Gluon's are the sum over the batch until `trainer.step(n)`): clip between `loss.backward()` and the optimizer step of one block\n"
                "    gluon.utils.clip_global_norm(\n"
                '        [p.grad() for p in model.collect_params().values() if p.grad_req != "null"], 1.0\n'
                "    )\n"
            ),
            diagnostics=("T2G501",),
            id="clip away from the training step is flagged",
        ),
        Example(
            "import torch\ntorch.nn.utils.clip_grad_norm_(model.parameters(), 1.0, norm_type=1)\n",
            "import torch\n# torch2gluon: T2G502: `torch.nn.utils.clip_grad_norm_` with `norm_type` other than 2 is not translated; left as is\ntorch.nn.utils.clip_grad_norm_(model.parameters(), 1.0, norm_type=1)\n",
            diagnostics=("T2G502",),
            id="norm_type 1 is flagged",
        ),
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._statement_calls: Dict[int, cst.Call] = {}

    def visit_Call(self, node: cst.Call) -> None:
        if self.ctx.call_name(node) in _NORM + _VALUE:
            # `net.parameters()` in the call is this rule's to translate
            for i, a in enumerate(node.args):
                if (a.keyword is None and i == 0) or (a.keyword is not None and a.keyword.value == "parameters"):
                    if isinstance(a.value, cst.Call) and isinstance(a.value.func, cst.Attribute):
                        self.ctx.handled.add(id(a.value.func))

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        if len(node.body) == 1 and isinstance(node.body[0], cst.Expr) and isinstance(node.body[0].value, cst.Call):
            self._statement_calls[id(node.body[0].value)] = node.body[0].value

    def _bound(self, original: cst.Call, updated: cst.Call, name: str, params):
        b = bind(updated, params)
        owner = params_owner(b.get("parameters"))
        if owner is None:
            raise Unbindable("with parameters other than `model.parameters()` is not translated yet")
        return b, owner

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        name = self.ctx.call_name(original)
        if name not in _NORM + _VALUE:
            return None
        try:
            if name in _NORM:
                b, owner = self._bound(
                    original, updated, name, ["parameters", "max_norm", "norm_type", "error_if_nonfinite", "foreach"]
                )
                if "max_norm" not in b:
                    raise Unbindable("without `max_norm` cannot be matched")
                if "norm_type" in b and literal(b["norm_type"]) not in (2, 2.0):
                    raise Unbindable("with `norm_type` other than 2 is not translated")
                if "error_if_nonfinite" in b and literal(b["error_if_nonfinite"]) is not False:
                    raise Unbindable("with `error_if_nonfinite` is not translated")
            else:
                b, owner = self._bound(original, updated, name, ["parameters", "clip_value", "foreach"])
                if "clip_value" not in b:
                    raise Unbindable("without `clip_value` cannot be matched")
                if id(original) not in self._statement_calls:
                    raise Unbindable("is translated only as a statement of its own")
        except Unbindable as e:
            self.keep(original, name, str(e))
            return None
        if name in _VALUE:
            return None  # the statement hook below makes the loop
        new = self.ctx.call(
            "mxnet.gluon.utils.clip_global_norm",
            arg(grads_of(owner)),
            arg(b["max_norm"]),
        )
        self.ctx.clips[id(new)] = original
        return new

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        if len(original.body) != 1 or not isinstance(original.body[0], cst.Expr):
            return None
        call = original.body[0].value
        if not isinstance(call, cst.Call) or self.ctx.call_name(call) not in _VALUE:
            return None
        new_call = cast(cst.Expr, updated.body[0]).value  # an expression line, as checked on the original
        if not isinstance(new_call, cst.Call) or self.ctx.torch_name(new_call.func) is None:
            return None  # already reported
        try:
            b, owner = self._bound(call, new_call, "", ["parameters", "clip_value", "foreach"])
        except Unbindable:
            return None
        value = b["clip_value"]
        atom = isinstance(value, (cst.Name, cst.Attribute, cst.Integer, cst.Float))
        neg = cst.UnaryOperation(
            operator=cst.Minus(),
            expression=value if atom else value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()]),
        )
        g = free_name(self.ctx.source, ("g", "grad", "grad_", "clipped_grad"))
        clip_call = self.ctx.call("mxnet.nd.clip", arg(cst.Name(g)), arg(neg), arg(value), arg(cst.Name(g), "out"))
        loop = cst.For(
            target=cst.Name(g),
            iter=grads_of(owner),
            body=cst.IndentedBlock(body=[cst.SimpleStatementLine(body=[cst.Expr(clip_call)])]),
            leading_lines=original.leading_lines,
        )
        self.ctx.clips[id(loop)] = call
        return loop


def _params_loop(node: cst.For) -> Optional[cst.BaseExpression]:
    """``owner`` of ``for p in owner.parameters():`` (no else, a plain target)."""
    if not isinstance(node.target, cst.Name) or node.orelse is not None or node.asynchronous is not None:
        return None
    if not isinstance(node.body, cst.IndentedBlock):
        return None
    return params_owner(node.iter)


def _loop_name(node: cst.For) -> str:
    """``p`` of ``for p in owner.parameters():``, a loop ``_params_loop`` matched."""
    return cast(cst.Name, node.target).value


def _is_attr(node: cst.CSTNode, p: str, *attrs: str) -> bool:
    """``p.a1.a2...`` exactly."""
    for a in reversed(attrs):
        if not (isinstance(node, cst.Attribute) and node.attr.value == a):
            return False
        node = node.value
    return isinstance(node, cst.Name) and node.value == p


def _freeze(stmt: cst.CSTNode, p: str) -> Optional[cst.BaseExpression]:
    """The requires_grad value ``stmt`` gives ``p``, if that is all it does."""
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return None
    small = stmt.body[0]
    if isinstance(small, cst.Assign) and len(small.targets) == 1 and _is_attr(small.targets[0].target, p, "requires_grad"):
        return small.value
    if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call) and _is_attr(small.value.func, p, "requires_grad_"):
        call = small.value
        try:
            b = bind(call, ["requires_grad"])
        except Unbindable:
            return None
        return b.get("requires_grad", cst.Name("True"))
    return None


class Freezing(Rule):
    """Freezing parameters: ``requires_grad = False`` becomes ``grad_req = "null"``.

    ## What it does
    ``for p in model.features.parameters(): p.requires_grad = False`` (or
    ``p.requires_grad_(False)``) becomes ``for p in
    model.features.collect_params().values(): p.grad_req = "null"``;
    ``True`` gives ``"write"`` back (``"add"`` when the script accumulates
    gradients, see T2G501), and a value known only at run time gives
    ``"write" if value else "null"``. ``model.requires_grad_(False)`` on a
    translated model or submodule becomes
    ``model.collect_params().setattr("grad_req", "null")`` (the same values).

    ## Why
    A Gluon parameter with ``grad_req = "null"`` gets no gradient and
    ``Trainer.step`` leaves it alone, as torch's optimizers skip parameters
    without a gradient (weight decay and momentum included).

    ## Flags
    A loop over the parameters that does anything else with them as well, and
    ``named_parameters()`` (Gluon's parameter names differ), are left to
    other rules and reported.

    ## Fix safety
    Safe.
    """

    code = "T2G503"
    name = "freezing"
    summary = "p.requires_grad = False over model.parameters() -> p.grad_req = 'null' over collect_params()"
    examples = (
        Example(
            (
                "import torch\n"
                "for p in model.features.parameters():\n"
                "    p.requires_grad = False\n"
                "for param in model.classifier.parameters():\n"
                "    param.requires_grad_(True)\n"
            ),
            (
                "for p in model.features.collect_params().values():\n"
                '    p.grad_req = "null"\n'
                "for param in model.classifier.collect_params().values():\n"
                '    param.grad_req = "write"\n'
            ),
            id="freeze and unfreeze",
        ),
        Example(
            (
                "import torch\n"
                "for p in model.parameters():\n"
                "    p.requires_grad = train_all\n"
            ),
            (
                "for p in model.collect_params().values():\n"
                '    p.grad_req = "write" if train_all else "null"\n'
            ),
            id="a flag known at run time",
        ),
        Example(
            (
                "import torch\nfrom torch import nn\n"
                "net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))\n"
                "net[0].requires_grad_(False)\n"
            ),
            (
                "from mxnet import init\nfrom mxnet.gluon import nn\n\nnet = nn.Sequential()\nnet.add(\n"
                "    nn.Dense(\n        2,\n        in_units=2,\n        flatten=False,\n"
                "        weight_initializer=init.Uniform(2**-0.5),\n        bias_initializer=init.Uniform(2**-0.5),\n    ),\n"
                "    nn.Dense(\n        1,\n        in_units=2,\n        flatten=False,\n"
                "        weight_initializer=init.Uniform(2**-0.5),\n        bias_initializer=init.Uniform(2**-0.5),\n    ),\n"
                ")\nnet.initialize()\n"
                'net[0].collect_params().setattr("grad_req", "null")\n'
            ),
            id="a whole module",
        ),
    )

    def _plan(self, node: cst.For) -> Optional[cst.BaseExpression]:
        owner = _params_loop(node)
        if owner is None:
            return None
        p = _loop_name(node)
        body = node.body.body
        if body and all(_freeze(s, p) is not None for s in body):
            return owner
        return None

    def visit_For(self, node: cst.For) -> None:
        if self._plan(node) is not None:
            self.ctx.handled.add(id(cast(cst.Call, node.iter).func))  # `owner.parameters()`

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        found = _whole_model(self.ctx, node)
        if found is not None:
            call = cast(cst.Call, cast(cst.Expr, node.body[0]).value)  # as _whole_model found it
            self.ctx.handled.add(id(call.func))  # T2G002: ours

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        found = _whole_model(self.ctx, original)
        if found is None:
            return None
        owner, value = found
        on = '"add"' if self.ctx.accumulates else '"write"'
        flag = True if value is None else literal(value)
        if flag is True:
            req = on
        elif flag is False:
            req = '"null"'
        else:
            req = f'{on} if {code_of(value)} else "null"'  # type: ignore[arg-type]
        return _line(original, f'{code_of(owner)}.collect_params().setattr("grad_req", {req})')

    def leave_For(self, original: cst.For, updated: cst.For) -> Optional[cst.For]:
        owner = self._plan(original)
        if owner is None:
            return None
        p = _loop_name(original)
        on = '"add"' if self.ctx.accumulates else '"write"'
        stmts = []
        for s in original.body.body:
            value = _freeze(s, p)
            flag = literal(value)
            if flag is True:
                req = on
            elif flag is False:
                req = '"null"'
            else:
                req = f'{on} if {code_of(value)} else "null"'  # type: ignore[arg-type]
            stmts.append(_line(s, f"{p}.grad_req = {req}"))
        return updated.with_changes(
            iter=cst.parse_expression(f"{code_of(owner)}.collect_params().values()"),
            body=updated.body.with_changes(body=stmts),
        )


def _whole_model(ctx, stmt: cst.SimpleStatementLine) -> Optional[Tuple[cst.BaseExpression, Optional[cst.BaseExpression]]]:
    """``model.requires_grad_(flag)`` as a statement on a known model or submodule -> (model, flag)."""
    if len(stmt.body) != 1 or not isinstance(stmt.body[0], cst.Expr):
        return None
    call = stmt.body[0].value
    if not (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and call.func.attr.value == "requires_grad_"):
        return None
    if len(call.args) > 1 or any(a.star or (a.keyword and a.keyword.value != "requires_grad") for a in call.args):
        return None
    owner = call.func.value
    known = is_model_or_submodule(ctx, owner)
    if not known:
        return None
    return owner, (call.args[0].value if call.args else None)


def _line(like: cst.CSTNode, code: str) -> cst.SimpleStatementLine:
    new = cst.parse_statement(code)
    assert isinstance(new, cst.SimpleStatementLine)
    if isinstance(like, cst.SimpleStatementLine):
        new = new.with_changes(leading_lines=like.leading_lines, trailing_whitespace=like.trailing_whitespace)
    return new


_OPS = {cst.Add: "+", cst.Subtract: "-", cst.Multiply: "*", cst.Divide: "/", cst.Power: "**"}
_AUG = {cst.AddAssign: "+", cst.SubtractAssign: "-", cst.MultiplyAssign: "*", cst.DivideAssign: "/"}


class _Update:
    """Translates the body of ``for p in model.parameters():`` when it only
    updates ``p`` from ``p.grad`` with arithmetic (else ``ok`` is False)."""

    def __init__(self, rule: Rule, p: str) -> None:
        self.rule = rule
        self.p = p
        self.zeroes = False
        self.ok = True

    def expr(self, node: cst.BaseExpression) -> Optional[str]:
        p = self.p
        if isinstance(node, cst.Name):
            if node.value == p:
                return f"{p}.data()"
            if node.value in self.rule.ctx.names.torch_roots:
                return None
            return node.value
        if _is_attr(node, p, "data"):
            return f"{p}.data()"
        if _is_attr(node, p, "grad") or _is_attr(node, p, "grad", "data"):
            return f"{p}.grad()"
        if isinstance(node, (cst.Integer, cst.Float)):
            return node.value
        if isinstance(node, cst.Attribute):
            root: cst.BaseExpression = node
            while isinstance(root, cst.Attribute):
                root = root.value
            if isinstance(root, cst.Name) and root.value not in self.rule.ctx.names.torch_roots and root.value != p:
                return code_of(node.with_changes(lpar=[], rpar=[]))
            return None
        if isinstance(node, cst.BinaryOperation) and type(node.operator) in _OPS:
            left, right = self.expr(node.left), self.expr(node.right)
            if left is None or right is None:
                return None
            return f"({left} {_OPS[type(node.operator)]} {right})"
        if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
            inner = self.expr(node.expression)
            return None if inner is None else f"(-{inner})"
        return None

    def target(self, node: cst.BaseExpression) -> bool:
        return (isinstance(node, cst.Name) and node.value == self.p) or _is_attr(node, self.p, "data")

    def statement(self, stmt: cst.BaseStatement) -> Optional[List[cst.BaseStatement]]:
        p = self.p
        if isinstance(stmt, cst.If) and stmt.orelse is None and isinstance(stmt.body, cst.IndentedBlock):
            t = stmt.test
            if (
                isinstance(t, cst.Comparison) and len(t.comparisons) == 1
                and _is_attr(t.left, p, "grad") and isinstance(t.comparisons[0].operator, cst.IsNot)
                and isinstance(t.comparisons[0].comparator, cst.Name) and t.comparisons[0].comparator.value == "None"
            ):
                inner = self.block(stmt.body.body)
                if inner is None:
                    return None
                head = cast(cst.If, cst.parse_statement(f'if {p}.grad_req != "null":\n    pass\n'))
                return [head.with_changes(body=head.body.with_changes(body=inner), leading_lines=stmt.leading_lines)]
            return None
        if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
            return None
        small = stmt.body[0]
        code = None
        if isinstance(small, cst.AugAssign) and type(small.operator) in _AUG and self.target(small.target):
            e = self.expr(small.value)
            if e is not None:
                code = f"{p}.set_data({p}.data() {_AUG[type(small.operator)]} {e})"
        elif isinstance(small, cst.Assign) and len(small.targets) == 1:
            t = small.targets[0].target
            if _is_attr(t, p, "grad") and isinstance(small.value, cst.Name) and small.value.value == "None":
                code, self.zeroes = f"{p}.zero_grad()", True
            elif _is_attr(t, p, "data"):
                e = self.expr(small.value)
                if e is not None:
                    code = f"{p}.set_data({e})"
        elif isinstance(small, cst.Expr) and isinstance(small.value, cst.Call) and isinstance(small.value.func, cst.Attribute):
            call, method = small.value, small.value.func.attr.value
            recv = call.func.value  # type: ignore[attr-defined]
            if method == "zero_" and not call.args and (_is_attr(recv, p, "grad") or _is_attr(recv, p, "grad", "data")):
                code, self.zeroes = f"{p}.zero_grad()", True
            elif self.target(recv) and method in ("add_", "sub_", "mul_", "div_", "copy_"):
                try:
                    b = bind(call, ["other", "alpha"] if method in ("add_", "sub_") else ["other"])
                except Unbindable:
                    return None
                e = self.expr(b["other"]) if "other" in b else None
                if e is not None and "alpha" in b:
                    a = self.expr(b["alpha"])
                    e = None if a is None else f"({a} * {e})"
                if e is not None:
                    op = {"add_": "+", "sub_": "-", "mul_": "*", "div_": "/"}.get(method)
                    code = f"{p}.set_data({e})" if op is None else f"{p}.set_data({p}.data() {op} {e})"
        if code is None:
            return None
        new = cst.parse_statement(code)
        return [new.with_changes(leading_lines=stmt.leading_lines, trailing_whitespace=stmt.trailing_whitespace)]

    def block(self, body) -> Optional[List[cst.BaseStatement]]:
        out: List[cst.BaseStatement] = []
        for s in body:
            new = self.statement(s)
            if new is None:
                return None
            out.extend(new)
        return out


class ManualUpdates(Rule):
    """A hand-written update over ``model.parameters()`` becomes ``set_data``.

    ## What it does
    In ``for p in model.parameters():`` (usually under ``torch.no_grad()``),
    ``p -= lr * p.grad``, ``p.data -= lr * p.grad.data``,
    ``p.add_(p.grad, alpha=-lr)``, ``p.data.sub_(lr * p.grad)`` and the like
    become ``p.set_data(p.data() - lr * p.grad())`` over
    ``model.collect_params().values()``; ``p.grad.zero_()`` and
    ``p.grad = None`` become ``p.zero_grad()``; ``if p.grad is not None:``
    becomes ``if p.grad_req != "null":``.

    ## Why
    A Gluon parameter is not an array: its value is ``p.data()``, its
    gradient ``p.grad()``, and ``set_data`` writes it. The gradient read here
    must be torch's (the batch mean), so the training-loop rule (T2G501)
    backpropagates ``loss`` with ``out_grad = 1 / batch size`` in that block.

    ## Flags
    Any other use of ``p`` in the loop (a torch function, a method call, an
    index) is left as is and reported, as is an update whose gradients torch
    would accumulate (nothing zeroes them in that block).

    ## Fix safety
    Safe: only arithmetic on the value and the gradient is translated.
    """

    code = "T2G504"
    name = "manual-updates"
    summary = "p -= lr * p.grad over model.parameters() -> p.set_data(p.data() - lr * p.grad())"
    examples = (
        Example(
            (
                "import torch\n"
                "for x, y in loader:\n"
                "    loss = crit(model(x), y)\n"
                "    loss.backward()\n"
                "    with torch.no_grad():\n"
                "        for p in model.parameters():\n"
                "            p -= lr * p.grad\n"
                "            p.grad.zero_()\n"
            ),
            (
                "from mxnet import autograd, nd\n\n"
                "for x, y in loader:\n"
                "    with autograd.record():\n"
                "        loss = crit(model(x), y)\n"
                "    loss.backward(out_grad=nd.ones_like(loss) / loss.shape[0])\n"
                "    with autograd.pause():\n"
                "        for p in model.collect_params().values():\n"
                "            p.set_data(p.data() - (lr * p.grad()))\n"
                "            p.zero_grad()\n"
            ),
            id="plain SGD by hand",
        ),
        Example(
            (
                "import torch\n"
                "def step(model, lr):\n"
                "    for p in model.parameters():\n"
                "        if p.grad is not None:\n"
                "            p.data.add_(p.grad.data, alpha=-lr)\n"
            ),
            (
                "def step(model, lr):\n"
                "    # torch2gluon: T2G501: the gradients read in this update are not known to be torch's (Gluon's are the sum over the batch until `trainer.step(n)`): update after `loss.backward()` in the same block, and zero the gradients there\n"
                "    for p in model.collect_params().values():\n"
                '        if p.grad_req != "null":\n'
                "            p.set_data(p.data() + ((-lr) * p.grad()))\n"
            ),
            diagnostics=("T2G501",),
            id="away from backward it is flagged",
        ),
        Example(
            (
                "import torch\n"
                "for p in model.parameters():\n"
                "    p -= lr * torch.copysign(p.grad, p)\n"
            ),
            (
                "import torch\n"
                "# torch2gluon: T2G504: a loop over `model.parameters()` is translated only when it freezes the parameters or updates them with arithmetic on `p`, `p.data` and `p.grad`; left as is\n"
                "for p in model.parameters():\n"
                "    # torch2gluon: T2G001: `torch.copysign` has no translation; left as is\n"
                "    p -= lr * torch.copysign(p.grad, p)\n"
            ),
            diagnostics=("T2G504", "T2G001"),
            id="a torch function in the update is left as is",
        ),
    )

    def _plan(self, node: cst.For):
        owner = _params_loop(node)
        if owner is None:
            return None
        body = node.body.body
        if not body or all(_freeze(s, _loop_name(node)) is not None for s in body):
            return None  # T2G503's
        upd = _Update(self, _loop_name(node))
        new = upd.block(body)
        if new is None:
            return None
        return owner, upd, new

    def _unknown(self, node: cst.For) -> bool:
        """A loop over ``X.parameters()`` neither this rule nor T2G503 translates."""
        if self._plan(node) is not None or params_owner(node.iter) is None:
            return False
        body = node.body.body if isinstance(node.body, cst.IndentedBlock) else ()
        return not (body and isinstance(node.target, cst.Name) and all(_freeze(s, node.target.value) is not None for s in body))

    def visit_For(self, node: cst.For) -> None:
        if self._plan(node) is not None or self._unknown(node):
            self.ctx.handled.add(id(cast(cst.Call, node.iter).func))  # `X.parameters()`

    def leave_For(self, original: cst.For, updated: cst.For) -> Optional[cst.For]:
        if self._unknown(original):
            self.report(
                original.iter,
                f"a loop over `{code_of(original.iter)}` is translated only when it freezes the parameters or "
                "updates them with arithmetic on `p`, `p.data` and `p.grad`; left as is",
            )
            return None
        plan = self._plan(original)
        if plan is None:
            return None
        owner, upd, new = plan
        loop = updated.with_changes(
            iter=cst.parse_expression(f"{code_of(owner)}.collect_params().values()"),
            body=updated.body.with_changes(body=new),
        )
        self.ctx.updates[id(loop)] = (original, upd.zeroes)
        return loop


# what a comprehension over a model's parameters may read of each one
_PARAM_READS = {
    "numel": "{p}.data().size",
    "dim": "len({p}.shape)",
}


class _ParamReads(cst.CSTTransformer):
    """Rewrites ``p.numel()``, ``p.dim()``, ``p.requires_grad``, ``p.shape`` of the
    loop variable ``p``; any other use of ``p`` makes it give up."""

    def __init__(self, p: str) -> None:
        self.p = p
        self.ok = True

    def _is_p(self, node: cst.CSTNode) -> bool:
        return isinstance(node, cst.Name) and node.value == self.p

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        f = original.func
        if isinstance(f, cst.Attribute) and self._is_p(f.value) and f.attr.value in _PARAM_READS and not original.args:
            return cst.parse_expression(_PARAM_READS[f.attr.value].format(p=self.p))
        return updated

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.BaseExpression:
        if self._is_p(original.value):
            attr = original.attr.value
            if attr == "requires_grad":
                return cst.parse_expression(f'({self.p}.grad_req != "null")')
            # T2G102 has already made `p.numel()` `p.size` and `p.dim()` `p.ndim` (an NDArray's)
            if attr == "size":
                return cst.parse_expression(f"{self.p}.data().size")
            if attr == "ndim":
                return cst.parse_expression(f"len({self.p}.shape)")
            if attr not in ("shape", *_PARAM_READS):
                self.ok = False
        return updated


class ParameterCounts(Rule):
    """Comprehensions that count a model's parameters read Gluon's parameters.

    ## What it does
    ``sum(p.numel() for p in model.parameters() if p.requires_grad)`` becomes
    ``sum(p.data().size for p in model.collect_params().values() if
    p.grad_req != "null")``: over a translated model (or submodule), a
    generator or list comprehension whose only uses of the loop variable are
    ``p.numel()``, ``p.dim()``, ``p.shape`` and ``p.requires_grad``.

    ## Why
    Gluon's parameters are ``Parameter`` objects, not arrays: their array is
    ``p.data()``; a frozen parameter has ``grad_req == "null"``. The counts
    are torch's (Gluon holds the same parameters, in the same shapes).

    ## Flags
    Other uses of the parameters stay as they are and T2G002 reports
    ``model.parameters``.

    ## Fix safety
    Safe.
    """

    code = "T2G505"
    name = "parameter-counts"
    summary = "sum(p.numel() for p in model.parameters()) -> over collect_params().values()"
    examples = (
        Example(
            (
                "import torch\nfrom torch import nn\nnet = nn.Sequential(nn.Linear(4, 2))\n"
                "n = sum(p.numel() for p in net.parameters() if p.requires_grad)\n"
                "shapes = [tuple(p.shape) for p in net[0].parameters()]\n"
            ),
            (
                "from mxnet import init\nfrom mxnet.gluon import nn\n\nnet = nn.Sequential()\nnet.add(\n"
                "    nn.Dense(\n        2,\n        in_units=4,\n        flatten=False,\n"
                "        weight_initializer=init.Uniform(4**-0.5),\n        bias_initializer=init.Uniform(4**-0.5),\n    )\n"
                ")\nnet.initialize()\n"
                'n = sum(p.data().size for p in net.collect_params().values() if (p.grad_req != "null"))\n'
                "shapes = [tuple(p.shape) for p in net[0].collect_params().values()]\n"
            ),
            id="counting and listing a model's parameters",
        ),
    )

    def _plan(self, node) -> Optional[Tuple[cst.BaseExpression, str]]:
        comp = node.for_in
        if comp.inner_for_in is not None or not isinstance(comp.target, cst.Name):
            return None
        owner = params_owner(comp.iter)
        if owner is None:
            return None
        known = is_model_or_submodule(self.ctx, owner)
        if not known:
            return None
        reads = _ParamReads(comp.target.value)
        node.visit(reads)
        return (owner, comp.target.value) if reads.ok else None

    def _visit(self, node) -> None:
        if self._plan(node) is not None:
            self.ctx.handled.add(id(node.for_in.iter.func))

    def _leave(self, original, updated):
        plan = self._plan(original)
        if plan is None:
            return None
        owner, p = plan
        rewritten = updated.visit(_ParamReads(p))
        comp = rewritten.for_in.with_changes(iter=cst.parse_expression(f"{code_of(owner)}.collect_params().values()"))
        return rewritten.with_changes(for_in=comp)

    def visit_GeneratorExp(self, node: cst.GeneratorExp) -> None:
        self._visit(node)

    def visit_ListComp(self, node: cst.ListComp) -> None:
        self._visit(node)

    def leave_GeneratorExp(self, original: cst.GeneratorExp, updated: cst.GeneratorExp):
        return self._leave(original, updated)

    def leave_ListComp(self, original: cst.ListComp, updated: cst.ListComp):
        return self._leave(original, updated)
