"""Layers and ``nn.Sequential`` models."""

from __future__ import annotations

from typing import List, Optional

import libcst as cst

from ..context import arg
from ..diagnostics import Severity
from ._base import Example, Rule, Unbindable, bind, literal


class Layers(Rule):
    """``torch.nn`` layers become ``mxnet.gluon.nn`` layers with the same semantics.

    ## What it does
    ``nn.Linear(in, out)`` becomes ``nn.Dense(out, in_units=in, flatten=False)``
    and ``nn.ReLU()`` becomes ``nn.Activation("relu")``.

    ## Why
    ``Dense`` flattens every axis after the first by default, ``Linear`` acts
    on the last axis only: ``flatten=False`` keeps torch's meaning for inputs of
    any rank (for 2-D inputs both are the same). Giving ``in_units`` lets the
    weights exist before the first forward pass, like torch's.

    PyTorch initialises a Linear layer's weight and bias from
    U(-1/sqrt(in), 1/sqrt(in)); Gluon's default is U(-0.07, 0.07) with zero
    biases. With the default option ``init="torch"`` the layer gets torch's
    distributions as explicit initializers, so the translated model starts from
    the same distribution. ``init="mxnet"`` keeps Gluon's and warns.

    ## Flags
    ``device=``/``dtype=`` arguments are left untranslated.

    ## Fix safety
    Safe: outputs and gradients match when the weights are copied across.
    """

    code = "T2G201"
    name = "layers"
    summary = "nn.Linear -> nn.Dense, nn.ReLU -> nn.Activation"
    examples = (
        Example(
            "from torch import nn\nfc = nn.Linear(784, 256)\nact = nn.ReLU()\n",
            "from mxnet import init\nfrom mxnet.gluon import nn\n\nfc = nn.Dense(\n    256,\n    in_units=784,\n    flatten=False,\n    weight_initializer=init.Uniform(784**-0.5),\n    bias_initializer=init.Uniform(784**-0.5),\n)\nfc.initialize()\nact = nn.Activation(\"relu\")\n",
            id="linear keeps torch's initial distribution",
        ),
        Example(
            "from torch.nn import Linear as L\nfc = L(in_features=4, out_features=2, bias=False)\n",
            "from mxnet import init\nfrom mxnet.gluon import nn\n\nfc = nn.Dense(\n    2,\n    in_units=4,\n    flatten=False,\n    use_bias=False,\n    weight_initializer=init.Uniform(4**-0.5),\n)\nfc.initialize()\n",
            id="aliased import and keywords",
        ),
    )

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        name = self.ctx.call_name(original)
        if name == "torch.nn.Linear":
            try:
                b = bind(updated, ["in_features", "out_features", "bias", "device", "dtype"])
                if "device" in b or "dtype" in b:
                    raise Unbindable("arguments `device`/`dtype` are not translated yet")
                if "in_features" not in b or "out_features" not in b:
                    raise Unbindable("needs in_features and out_features")
            except Unbindable as e:
                return self.keep(original, name, str(e))
            args = [arg(b["out_features"]), arg(b["in_features"], "in_units"), arg(cst.Name("False"), "flatten")]
            bias = b.get("bias")
            if bias is not None and literal(bias) is not True:
                args.append(arg(bias, "use_bias"))
            if self.ctx.options.init == "torch":
                bound = cst.BinaryOperation(
                    left=_parens_if_needed(b["in_features"]),
                    operator=cst.Power(),
                    right=cst.UnaryOperation(operator=cst.Minus(), expression=cst.Float("0.5")),
                )
                args.append(arg(self.ctx.call("mxnet.init.Uniform", arg(bound)), "weight_initializer"))
                if bias is None or literal(bias) is not False:
                    args.append(arg(self.ctx.call("mxnet.init.Uniform", arg(bound)), "bias_initializer"))
            else:
                self.report(
                    original,
                    "Gluon's default initialisation (uniform ±0.07, zero bias) differs from torch's",
                    severity=Severity.WARNING,
                )
            return self.ctx.call("mxnet.gluon.nn.Dense", *args)
        if name == "torch.nn.ReLU":
            try:
                bind(updated, ["inplace"])
            except Unbindable as e:
                return self.keep(original, name, str(e))
            return self.ctx.call("mxnet.gluon.nn.Activation", arg(cst.SimpleString('"relu"')))
        return None


    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        """``lin = nn.Linear(...)`` on its own: Gluon needs ``lin.initialize()``.

        (Inside ``nn.Sequential`` the Sequential's initialize covers it; a layer
        initialised here and added to a Sequential later is not initialised
        twice: Gluon skips parameters that already have values.)
        """
        if len(original.body) != 1 or not isinstance(original.body[0], cst.Assign):
            return None
        assign = original.body[0]
        if len(assign.targets) != 1 or not isinstance(assign.targets[0].target, cst.Name):
            return None
        if self.ctx.call_name(assign.value) != "torch.nn.Linear":
            return None
        new_value = updated.body[0].value  # type: ignore[union-attr]
        if not (isinstance(new_value, cst.Call) and self.ctx.call_name(new_value) is None and _is_dense(new_value)):
            return None  # left untranslated (and reported)
        target = assign.targets[0].target.value
        self.ctx.bindings[target] = "model"
        init = cst.SimpleStatementLine(
            body=[cst.Expr(cst.Call(func=cst.Attribute(value=cst.Name(target), attr=cst.Name("initialize"))))]
        )
        return [updated, init]


def _is_dense(call: cst.Call) -> bool:
    func = call.func
    return isinstance(func, cst.Attribute) and func.attr.value == "Dense"


def _parens_if_needed(node: cst.BaseExpression) -> cst.BaseExpression:
    if isinstance(node, (cst.Name, cst.Integer, cst.Attribute, cst.Call, cst.Subscript)):
        return node
    return node.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


class Sequential(Rule):
    """``net = nn.Sequential(a, b)`` becomes ``Sequential()``, ``add`` and ``initialize``.

    ## What it does
    ``net = nn.Sequential(layers...)`` becomes three statements::

        net = nn.Sequential()
        net.add(layers...)
        net.initialize()

    ## Why
    Gluon's ``Sequential`` takes no layers in its constructor, and its
    parameters exist only after ``initialize()``.

    ## Flags
    ``nn.Sequential(...)`` anywhere but on the right of a plain ``name = ``
    (nested in another call, assigned to an attribute), an empty Sequential,
    or one built from an ``OrderedDict``, is left as is with an error.

    ## Fix safety
    Safe: same layers in the same order, so parameter keys keep their indices.
    """

    code = "T2G202"
    name = "sequential"
    summary = "nn.Sequential(...) -> Sequential() + add + initialize"
    examples = (
        Example(
            "from torch import nn\n\nnet = nn.Sequential(\n    nn.ReLU(),\n    nn.ReLU()\n)\n",
            "from mxnet.gluon import nn\n\nnet = nn.Sequential()\nnet.add(nn.Activation(\"relu\"), nn.Activation(\"relu\"))\nnet.initialize()\n",
            id="sequential add initialize",
        ),
        Example(
            "import torch.nn as nn\nclass M:\n    def __init__(self):\n        self.body = nn.Sequential(nn.ReLU())\n",
            "import torch.nn as nn\nfrom mxnet.gluon import nn as mx_nn\n\n\nclass M:\n    def __init__(self):\n        # torch2gluon: T2G202: `nn.Sequential(...)` is only translated as `name = nn.Sequential(...)`; left as is\n        self.body = nn.Sequential(mx_nn.Activation(\"relu\"))\n",
            diagnostics=("T2G202",),
            id="sequential in an attribute is flagged",
        ),
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._statement_form: set = set()

    def _statement_call(self, stmt: cst.SimpleStatementLine) -> Optional[cst.Call]:
        if len(stmt.body) != 1 or not isinstance(stmt.body[0], cst.Assign):
            return None
        assign = stmt.body[0]
        if len(assign.targets) != 1 or not isinstance(assign.targets[0].target, cst.Name):
            return None
        value = assign.value
        if isinstance(value, cst.Call) and self.ctx.call_name(value) == "torch.nn.Sequential":
            return value
        return None

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        call = self._statement_call(node)
        if call is not None:
            self._statement_form.add(id(call))

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        if self.ctx.call_name(original) == "torch.nn.Sequential" and id(original) not in self._statement_form:
            self.report(original, "`nn.Sequential(...)` is only translated as `name = nn.Sequential(...)`; left as is")
            self.ctx.explained.add(id(original.func))
        return None

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        call = self._statement_call(original)
        if call is None:
            return None
        target = original.body[0].targets[0].target.value  # type: ignore[union-attr]
        new_call = updated.body[0].value  # type: ignore[union-attr]
        if not isinstance(new_call, cst.Call):
            return None
        args = list(new_call.args)
        why = None
        if not args:
            why = "an empty `nn.Sequential()` filled later is not translated yet"
        elif any(a.keyword is not None or a.star for a in args):
            why = "`nn.Sequential` with keyword or starred arguments is not translated yet"
        elif any(isinstance(a.value, cst.Call) and (self.ctx.torch_name(a.value.func) or "").endswith("OrderedDict") for a in args):
            why = "`nn.Sequential(OrderedDict(...))` is not translated yet"
        if why:
            self.report(call, why + "; left as is")
            self.ctx.explained.add(id(call.func))
            return None
        self.ctx.bindings[target] = "model"
        args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        ctor = cst.Call(func=self.ctx.ref("mxnet.gluon.nn.Sequential"))
        first = updated.with_changes(body=[updated.body[0].with_changes(value=ctor)])  # type: ignore[union-attr]
        add = cst.SimpleStatementLine(
            body=[cst.Expr(cst.Call(func=cst.Attribute(value=cst.Name(target), attr=cst.Name("add")), args=args))]
        )
        init = cst.SimpleStatementLine(
            body=[cst.Expr(cst.Call(func=cst.Attribute(value=cst.Name(target), attr=cst.Name("initialize"))))]
        )
        return [first, add, init]
