"""`nn.Parameter` attributes and parameter reads on layers (T2G213, T2G214)."""

from __future__ import annotations

from typing import Dict, List, Optional, Set, Tuple, cast

import libcst as cst

from ...base.syntax import children
from ...facts.nn import nn_class
from ...rewrite.models import parameter_of
from .._base import Example, Rule, Unbindable, bind, code_of, literal
from ._shared import ClassRule, keyword_arg, methods_of, self_assign, self_attr


# (shape, initializer name, initializer argument, frozen)
_Plan = Tuple[cst.BaseExpression, str, Optional[cst.BaseExpression], bool]

# torch factory -> MXNet initializer giving the same values
_PARAM_INITS = {"torch.randn": "mxnet.init.Normal", "torch.zeros": "mxnet.init.Zero", "torch.ones": "mxnet.init.One"}


class ParameterAttribute(ClassRule):
    """``self.w = nn.Parameter(torch.randn(3, 4))`` becomes ``self.params.get("w", ...)``.

    ## What it does
    In the ``__init__`` of a class translated by T2G210, a statement
    ``self.w = nn.Parameter(<factory>(shape))`` becomes::

        self.w = self.params.get("w", shape=(3, 4), init=init.Normal(1.0))

    where ``<factory>`` is ``torch.randn`` (``init.Normal(1.0)``: N(0, 1)),
    ``torch.zeros`` (``init.Zero()``) or ``torch.ones`` (``init.One()``);
    ``requires_grad=False`` becomes ``grad_req="null"``. In the class's other
    methods ``self.w`` becomes ``self.w.data()``.

    ## Why
    A Gluon ``Parameter`` is not an array: its value is ``data()``, created at
    ``initialize()`` from the parameter's own initializer (which wins over the
    one given to ``initialize``). Assigned to an attribute, the parameter is
    registered and collected before the children, as torch's own parameters
    come before its children's.

    ## Flags
    Any other initial value (``torch.rand``, a scaled ``randn``, a tensor
    built elsewhere, a ``dtype=``), a parameter created outside ``__init__``
    or inside a nested block, and uses of ``self.w`` that ``data()`` would
    change (``self.w.grad``, ``self.w.data``, assigning ``self.w``, reading
    it in ``__init__``) are reported and left as is.

    ## Fix safety
    Safe: same shape, same initial law, same gradient flag.
    """

    code = "T2G213"
    name = "parameter-attribute"
    summary = "self.w = nn.Parameter(torch.randn(...)) -> self.params.get('w', shape, init); self.w -> self.w.data()"
    examples = (
        Example(
            (
                "import torch\nfrom torch import nn\n\n\n"
                "class Affine(nn.Module):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.w = nn.Parameter(torch.randn(3, 4))\n"
                "        self.b = nn.Parameter(torch.zeros(4), requires_grad=False)\n\n"
                "    def forward(self, x):\n"
                "        return torch.mm(x, self.w) + self.b\n"
            ),
            (
                "from mxnet import gluon, init, nd\n\n\n"
                "class Affine(gluon.Block):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.w = self.params.get(\"w\", shape=(3, 4), init=init.Normal(1.0))\n"
                "        self.b = self.params.get(\"b\", shape=(4,), init=init.Zero(), grad_req=\"null\")\n\n"
                "    def forward(self, x):\n"
                "        return nd.dot(x, self.w.data()) + self.b.data()\n"
            ),
            id="randn and zeros parameters, used in forward",
        ),
        Example(
            (
                "import torch\nfrom torch import nn\n\n\n"
                "class Scale(nn.Module):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.s = nn.Parameter(torch.ones((2, 2)))\n"
                "        self.r = nn.Parameter(torch.rand(2))\n\n"
                "    def forward(self, x):\n"
                "        print(self.s.grad)\n"
                "        return x * self.s\n"
            ),
            (
                "from mxnet import gluon, init, nd\nfrom torch import nn\n\n\n"
                "class Scale(gluon.Block):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.s = self.params.get(\"s\", shape=(2, 2), init=init.One())\n"
                "        # torch2gluon: T2G211: `torch.nn.Parameter` is not translated yet (T2G213 translates only "
                "`self.x = nn.Parameter(torch.randn/zeros/ones(shape))` in a Block's `__init__`; "
                "use `self.params.get(...)` in Gluon); left as is\n"
                "        self.r = nn.Parameter(nd.random.uniform(shape=2))\n\n"
                "    def forward(self, x):\n"
                "        # torch2gluon: T2G213: `self.s.grad` reads an attribute of a torch parameter; "
                "a Gluon parameter's value is `self.s.data()`; left as is\n"
                "        print(self.s.grad)\n"
                "        return x * self.s.data()\n"
            ),
            diagnostics=("T2G211", "T2G213"),
            id="rand and grad access are flagged",
        ),
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._rewrite: Set[int] = set()
        self._bad: Dict[int, str] = {}

    def _plan(self, call: cst.Call) -> Optional[_Plan]:
        """(shape, initializer name, initializer argument, frozen) or None."""
        try:
            bound = bind(call, ["data", "requires_grad"])
        except Unbindable:
            return None
        rg = literal(bound.get("requires_grad", cst.Name("True")))
        if rg not in (True, False):
            return None
        data = bound.get("data")
        if not isinstance(data, cst.Call) or self.ctx.call_name(data) not in _PARAM_INITS:
            return None
        if not data.args or any(a.star or a.keyword for a in data.args):
            return None
        if len(data.args) == 1 and isinstance(data.args[0].value, (cst.Tuple, cst.List)):
            elems = data.args[0].value.elements
            if any(isinstance(e, cst.StarredElement) for e in elems):
                return None
            values = [e.value for e in elems]
        else:
            values = [a.value for a in data.args]
        if not values:
            return None
        shape = cst.Tuple(
            elements=[cst.Element(value=v) for v in values],
            lpar=[cst.LeftParen()],
            rpar=[cst.RightParen()],
        )
        name = _PARAM_INITS[cast(str, self.ctx.call_name(data))]  # checked above
        return shape, name, cst.Float("1.0") if name.endswith("Normal") else None, rg is False

    def scan(self, node: cst.ClassDef) -> Dict[str, object]:
        plans: Dict[str, object] = {}
        defining: Set[int] = set()
        for method in methods_of(node):
            if method.name.value != "__init__":
                continue
            for stmt in method.body.body:
                hit = self_assign(stmt)
                if hit is None:
                    continue
                attr, assign = hit
                call = assign.value
                if not (isinstance(call, cst.Call) and nn_class(self.ctx.call_name(call), "Parameter")):
                    continue
                plan = self._plan(call)
                if plan is None or attr in plans:
                    continue  # T2G211 reports it
                self.ctx.handled.add(id(call))  # T2G211 leaves it to this rule
                plans[attr] = (id(stmt), plan)
                defining.add(id(assign.targets[0].target))
        if not plans:
            return plans
        # every other use of self.<param> in the class: rewrite or flag
        stack: List[Tuple[cst.CSTNode, Optional[cst.CSTNode], bool]] = [(node.body, None, False)]
        while stack:
            n, parent, in_init = stack.pop()
            used = self_attr(n)
            if used in plans and id(n) not in defining:
                if in_init:
                    self._bad[id(n)] = f"`self.{used}` is read in `__init__`, before Gluon initialises it"
                elif isinstance(parent, cst.Attribute) and parent.value is n:
                    self._bad[id(n)] = (
                        f"`self.{used}.{parent.attr.value}` reads an attribute of a torch parameter; "
                        f"a Gluon parameter's value is `self.{used}.data()`"
                    )
                elif isinstance(parent, (cst.AssignTarget, cst.AugAssign, cst.AnnAssign, cst.Del)) and (
                    getattr(parent, "target", None) is n
                ):
                    self._bad[id(n)] = f"`self.{used}` is reassigned; a Gluon parameter is set with `set_data`"
                else:
                    self._rewrite.add(id(n))
                continue
            if isinstance(n, cst.FunctionDef) and parent is node.body:  # a method
                in_init = n.name.value == "__init__"
            for c in children(n):
                stack.append((c, n, in_init))
        return plans

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute):
        key = id(original)
        if key in self._bad:
            self.report(original, self._bad.pop(key) + "; left as is")
            return None
        if key in self._rewrite and key not in self.ctx.handled:  # not an nn.init call's argument (T2G230's)
            return cst.Call(func=cst.Attribute(value=updated, attr=cst.Name("data")))
        return None

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        cur = self.current
        if not cur:
            return None
        hit = self_assign(original)
        if hit is None or hit[0] not in cur or cast(tuple, cur[hit[0]])[0] != id(original):
            return None
        attr = hit[0]
        shape, init_name, init_arg, frozen = cast(Tuple[int, _Plan], cur[attr])[1]  # as scan() made it
        init = self.ctx.call(init_name, *([cst.Arg(init_arg)] if init_arg is not None else []))
        args = [
            cst.Arg(cst.SimpleString(f'"{attr}"')),
            keyword_arg(shape, "shape"),
            keyword_arg(init, "init"),
        ]
        if frozen:
            args.append(keyword_arg(cst.SimpleString('"null"'), "grad_req"))
        get = cst.Call(func=cst.parse_expression("self.params.get"), args=args)
        return updated.with_changes(body=[updated.body[0].with_changes(value=get)])


# what stays a tensor when applied to a parameter's value (`w.detach()`)
_TENSOR_KEEPING = ("detach", "clone", "contiguous")


# methods of a torch tensor with a Gluon twin on a parameter's value
_VALUE_METHODS = {"item": ("asscalar", "item"), "tolist": ("asnumpy", "tolist"), "numpy": ("asnumpy",)}


class ParameterAccess(Rule):
    """``net.weight`` of a layer (or ``model.fc.weight``) becomes the Gluon parameter's value.

    ## What it does
    Where ``net`` is known to hold a torch layer (``net = nn.Linear(2, 1)``),
    or an attribute assigned a layer in the ``__init__`` of a translated
    ``Module`` class (``model.fc``, ``self.fc``, ``model.features`` when
    ``model = Net()``), a parameter read through it becomes the Gluon
    parameter's ``data()``, with Gluon's name for it:

    ==============================  ======================================
    torch                           Gluon
    ==============================  ======================================
    ``net.weight``                  ``net.weight.data()``
    ``net.weight.data``             ``net.weight.data()``
    ``net.weight.grad``             ``net.weight.grad()``
    ``bn.weight`` / ``bn.bias``     ``bn.gamma.data()`` / ``bn.beta.data()``
    ``bn.running_mean``             ``bn.running_mean.data()``
    ``<value>.item()``              ``<value>.asscalar().item()``
    ``<value>.numpy()``/``tolist``  ``<value>.asnumpy()``/``.asnumpy().tolist()``
    ==============================  ======================================

    for Linear, Conv1d/2d, ConvTranspose1d/2d, Embedding, BatchNorm1d/2d and
    LayerNorm, and ``model.w`` for a parameter made by T2G213. A submodule
    attribute (``model.features``) is itself a Gluon block, so
    ``model.features.parameters()`` in an optimizer becomes
    ``model.features.collect_params()`` (T2G401).

    ## Why
    A Gluon layer's parameters are ``Parameter`` objects, not arrays: the
    value is ``data()``, the gradient ``grad()``. Gluon's weights have torch's
    layout for these layers (Dense ``(out, in)``, Conv ``(out, in/groups,
    *k)``, transposed conv ``(in, out/groups, *k)``), so the numbers read are
    the same.

    ## Flags
    Assigning a parameter or its ``.data`` (``net.weight.data = t``), an
    in-place method on its value (``net.weight.data.copy_(t)``, except the
    init idioms T2G231 translates), ``requires_grad``, and reading a parameter in ``__init__`` (it does not
    exist before ``initialize()``, unless T2G230 folds an ``nn.init`` call)
    are reported and left as is.

    ## Fix safety
    Safe: the same numbers; ``grad()`` is zeros where torch's ``.grad`` is
    still ``None`` (before the first backward).
    """

    code = "T2G214"
    name = "parameter-access"
    summary = "net.weight / model.fc.bias.data / .grad -> net.weight.data() / model.fc.bias.data() / .grad()"
    examples = (
        Example(
            (
                "from torch import nn\n"
                "net = nn.Linear(2, 1)\n"
                "print(net.weight.data.numpy(), net.bias.data.item(), net.weight.grad)\n"
            ),
            (
                "from mxnet import init\nfrom mxnet.gluon import nn\n\n"
                "net = nn.Dense(\n    1,\n    in_units=2,\n    flatten=False,\n"
                "    weight_initializer=init.Uniform(2**-0.5),\n    bias_initializer=init.Uniform(2**-0.5),\n)\n"
                "net.initialize()\n"
                "print(net.weight.data().asnumpy(), net.bias.data().asscalar().item(), net.weight.grad())\n"
            ),
            id="a layer's parameters",
        ),
        Example(
            (
                "import torch\nfrom torch import nn\n\n\n"
                "class Net(nn.Module):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.bn = nn.BatchNorm1d(4)\n"
                "        self.fc = nn.Linear(4, 4)\n\n"
                "    def forward(self, x):\n"
                "        return self.fc(self.bn(x)) - self.fc.bias\n\n\n"
                "model = Net()\n"
                "g = model.bn.weight.detach().tolist()\n"
                "m = model.bn.running_mean\n"
            ),
            (
                "from mxnet import gluon, init\nfrom mxnet.gluon import nn\n\n\n"
                "class Net(gluon.Block):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        # torch2gluon: T2G205: MXNet's running_var is the biased batch variance (torch: unbiased); "
                "evaluation with running statistics differs slightly\n"
                "        self.bn = nn.BatchNorm(momentum=0.9, in_channels=4)\n"
                "        self.fc = nn.Dense(\n"
                "            4,\n"
                "            in_units=4,\n"
                "            flatten=False,\n"
                "            weight_initializer=init.Uniform(4**-0.5),\n"
                "            bias_initializer=init.Uniform(4**-0.5),\n"
                "        )\n\n"
                "    def forward(self, x):\n"
                "        return self.fc(self.bn(x)) - self.fc.bias.data()\n\n\n"
                "model = Net()\n"
                "model.initialize()\n"
                "g = model.bn.gamma.data().detach().asnumpy().tolist()\n"
                "m = model.bn.running_mean.data()\n"
            ),
            diagnostics=("T2G205",),
            id="submodule parameters, BatchNorm's gamma",
        ),
        Example(
            (
                "from torch import nn\n"
                "net = nn.Linear(2, 1)\n"
                "net.weight.data = net.weight.data * 2\n"
                "net.bias.requires_grad = False\n"
            ),
            (
                "from mxnet import init\nfrom mxnet.gluon import nn\n\n"
                "net = nn.Dense(\n    1,\n    in_units=2,\n    flatten=False,\n"
                "    weight_initializer=init.Uniform(2**-0.5),\n    bias_initializer=init.Uniform(2**-0.5),\n)\n"
                "net.initialize()\n"
                "# torch2gluon: T2G214: `net.weight.data` is assigned; a Gluon parameter is set with "
                "`net.weight.set_data(value)`; left as is\n"
                "net.weight.data = net.weight.data() * 2\n"
                "# torch2gluon: T2G214: `net.bias.requires_grad` has no Gluon twin (a frozen Gluon parameter has "
                "`grad_req = \"null\"`); left as is\n"
                "net.bias.requires_grad = False\n"
            ),
            diagnostics=("T2G214", "T2G214"),
            id="assignments and requires_grad are flagged",
        ),
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.classes: Set[str] = set()
        self._class: List[Optional[str]] = []
        self._method: List[str] = []
        self._targets: Set[int] = set()
        self._bad: Dict[int, str] = {}
        self._inner: Set[int] = set()  # parameters read through `.data`/`.grad`
        self._values: Set[int] = set()  # original nodes whose value is a parameter's array
        self._as_is: Set[int] = set()  # operands of `is (not) None`: compared as objects

    def visit_Module(self, node: cst.Module) -> None:
        self.classes = self.ctx.analysis.module_classes()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._class.append(node.name.value if node.name.value in self.classes else None)

    def leave_ClassDef(self, original, updated) -> None:
        self._class.pop()
        return None

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._method.append(node.name.value)

    def leave_FunctionDef(self, original, updated) -> None:
        self._method.pop()
        return None

    @property
    def _current(self) -> Optional[str]:
        return self._class[-1] if self._class else None

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._targets.add(id(node.target))

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._targets.add(id(node.target))

    def visit_Comparison(self, node: cst.Comparison) -> None:
        # `m.bias is not None`: a Gluon layer without a bias has None there too
        if all(isinstance(c.operator, (cst.Is, cst.IsNot)) for c in node.comparisons):
            for operand in (node.left, *(c.comparator for c in node.comparisons)):
                self._as_is.add(id(operand))

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if id(node) in self._as_is:
            return
        value = node.value
        gluon = parameter_of(self.ctx, node)
        if gluon is not None:
            where = code_of(node)
            if id(node) in self._targets:
                self._bad[id(node)] = f"`{where}` is assigned; a Gluon parameter is set with `set_data`"
            elif self._current is not None and self._method[-1:] == ["__init__"]:
                self._bad[id(node)] = f"`{where}` is read in `__init__`, before Gluon initialises it"
            return
        if parameter_of(self.ctx, value) is None:
            return
        where = code_of(node)
        attr = node.attr.value
        if attr in ("data", "grad"):
            self._inner.add(id(value))
            if id(node) in self._targets:
                self._bad[id(node)] = (
                    f"`{where}` is assigned; a Gluon parameter is set with `{code_of(value)}.set_data(value)`"
                )
            else:
                self._values.add(id(node))
        elif attr == "requires_grad":
            self._inner.add(id(value))
            self._bad[id(node)] = (
                f"`{where}` has no Gluon twin (a frozen Gluon parameter has `grad_req = \"null\"`)"
            )

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute):
        key = id(original)
        if key in self.ctx.handled or key in self._as_is:
            return None  # an nn.init call folded (or reported) by T2G230, or an `is None` test
        if key in self._bad:
            self.report(original, self._bad.pop(key) + "; left as is")
            self.ctx.handled.add(key)
            return None
        if key in self._values:  # X.weight.data / X.weight.grad
            return cst.Call(func=updated)
        gluon = parameter_of(self.ctx, original)
        if gluon is None:
            return None
        self.ctx.handled.add(key)  # T2G002 leaves `net.weight` alone
        renamed = updated.with_changes(attr=cst.Name(gluon)) if gluon != original.attr.value else updated
        if key in self._inner:
            return renamed
        self._values.add(key)
        return cst.Call(func=cst.Attribute(value=renamed, attr=cst.Name("data")))

    def _is_value(self, node: cst.BaseExpression) -> bool:
        if id(node) in self._values:
            return True
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and not node.args:
            return node.func.attr.value in _TENSOR_KEEPING and self._is_value(node.func.value)
        return False

    def leave_Call(self, original: cst.Call, updated: cst.Call):
        func = original.func
        if not (isinstance(func, cst.Attribute) and self._is_value(func.value)):
            return None
        if func.attr.value.endswith("_") and id(original) not in self.ctx.handled:
            self.ctx.handled.add(id(original))
            self.keep(
                original,
                code_of(func),
                "changes a parameter in place; a Gluon parameter is set with `set_data` "
                "(T2G231 translates the init idioms `normal_`/`uniform_`/`zero_`/`fill_`)",
            )
            return None
        if original.args:
            return None
        if func.attr.value in _TENSOR_KEEPING:
            self._values.add(id(original))
            return None
        chain = _VALUE_METHODS.get(func.attr.value)
        new_func = updated.func
        if chain is None or not isinstance(new_func, cst.Attribute) or new_func.attr.value != func.attr.value:
            return None  # another rule translated it already
        inner = new_func.value
        if isinstance(inner, cst.Call) and isinstance(inner.func, cst.Attribute) and inner.func.attr.value in ("asnumpy", "asscalar"):
            return None  # T2G102 already made it `.asnumpy().tolist()`
        self.ctx.handled.add(id(original))  # T2G301 leaves `.item()` alone
        out: cst.BaseExpression = new_func.value
        for m in chain:
            out = cst.Call(func=cst.Attribute(value=out, attr=cst.Name(m)))
        return out
