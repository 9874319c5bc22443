"""``nn.Module`` subclasses become ``nn.Block`` subclasses."""

from __future__ import annotations

from typing import Dict, List, Optional, Set, Tuple

import libcst as cst

from .._cst import children
from ._base import Example, Rule, Unbindable, bind, literal
from .layers import torch_nn_name

_MODULE_NAMES = ("torch.nn.Module", "torch.nn.modules.Module", "torch.nn.modules.module.Module")


def _class_defs(module: cst.Module):
    """Every class statement, walking statements only (expressions hold none)."""
    stack: List[cst.CSTNode] = [module]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.ClassDef):
            yield n
        if isinstance(n, (cst.SimpleStatementLine, cst.BaseExpression)):
            continue
        stack.extend(c for c in children(n) if not isinstance(c, cst.BaseExpression))


def _instantiation(stmt: cst.BaseStatement, classes: Set[str]) -> Optional[str]:
    """``name = Cls(...)`` with ``Cls`` one of ``classes`` -> ``name``."""
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return None
    assign = stmt.body[0]
    if not isinstance(assign, cst.Assign) or len(assign.targets) != 1:
        return None
    target = assign.targets[0].target
    value = assign.value
    if (
        isinstance(target, cst.Name)
        and isinstance(value, cst.Call)
        and isinstance(value.func, cst.Name)
        and value.func.value in classes
    ):
        return target.value
    return None


def _is_module(ctx, node: cst.BaseExpression) -> bool:
    return ctx.torch_name(node) in _MODULE_NAMES


def module_classes(ctx, module: cst.Module) -> Set[str]:
    """Names of the classes deriving from nn.Module, directly or through a local class.

    Several rules ask; it is worked out once per translation.
    """
    cached = ctx.memo.get("module_classes")
    if cached is not None:
        return cached
    classes: Set[str] = set()
    defs = list(_class_defs(module))
    changed = True
    while changed:
        changed = False
        for d in defs:
            if d.name.value in classes:
                continue
            for base in d.bases:
                value = base.value
                if base.keyword is None and (
                    _is_module(ctx, value) or (isinstance(value, cst.Name) and value.value in classes)
                ):
                    classes.add(d.name.value)
                    changed = True
                    break
    ctx.memo["module_classes"] = classes
    return classes


class ModuleSubclass(Rule):
    """``class Net(nn.Module)`` becomes ``class Net(nn.Block)``; instances get ``initialize()``.

    ## What it does
    A class whose base resolves to ``torch.nn.Module`` (any import spelling)
    gets ``gluon.Block`` (the same class as ``gluon.nn.Block``) as that base. ``__init__``, ``super()``
    calls and ``forward`` stay; the layers assigned to attributes are
    translated by the layer rules. Where such a class (or a subclass of it
    defined in the same file) is instantiated as a plain statement
    ``model = Net(...)``, ``model.initialize()`` follows it, and ``model`` is
    known as a model to the other rules (T2G002, T2G501).

    ## Why
    A Gluon ``Block`` registers child blocks assigned to attributes and calls
    ``forward`` from ``__call__``, like a torch ``Module``; parameters are
    collected in the order the layers are assigned, as in torch. Its
    parameters exist only after ``initialize()`` (the explicit initializers
    the layer rules write keep torch's initial distributions). The spelling
    ``gluon.Block`` does not clash with torch's ``nn`` when that is still
    imported for code left untranslated.

    ## Flags
    See T2G211 for the ``Module`` API Gluon lacks. An instance created
    elsewhere (``return Net()``, an argument) is not initialised here; Gluon
    raises on its first forward pass until ``initialize()`` is called.

    ## Fix safety
    Safe: same structure; parameters are registered in the same order.
    """

    code = "T2G210"
    name = "module-subclass"
    summary = "class Net(nn.Module) -> class Net(gluon.Block); net = Net() + net.initialize()"
    examples = (
        Example(
            (
                "import torch.nn as nn\n"
                "import torch.nn.functional as F\n\n\n"
                "class Net(nn.Module):\n"
                "    def __init__(self):\n"
                "        super(Net, self).__init__()\n"
                "        self.fc = nn.Linear(4, 2)\n\n"
                "    def forward(self, x):\n"
                "        # the only layer\n"
                "        return F.relu(self.fc(x))\n\n\n"
                "model = Net()\n"
            ),
            (
                "from mxnet import gluon, init, nd\n"
                "from mxnet.gluon import nn\n\n\n"
                "class Net(gluon.Block):\n"
                "    def __init__(self):\n"
                "        super(Net, self).__init__()\n"
                "        self.fc = nn.Dense(\n"
                "            2,\n"
                "            in_units=4,\n"
                "            flatten=False,\n"
                "            weight_initializer=init.Uniform(4**-0.5),\n"
                "            bias_initializer=init.Uniform(4**-0.5),\n"
                "        )\n\n"
                "    def forward(self, x):\n"
                "        # the only layer\n"
                "        return nd.relu(self.fc(x))\n\n\n"
                "model = Net()\n"
                "model.initialize()\n"
            ),
            id="module subclass and its instance",
        ),
        Example(
            (
                "from torch.nn import Module\n\n\n"
                "class Base(Module):\n"
                "    pass\n\n\n"
                "class Head(Base):\n"
                "    pass\n\n\n"
                "def build():\n"
                "    head = Head()\n"
                "    return head\n"
            ),
            (
                "from mxnet import gluon\n\n\n"
                "class Base(gluon.Block):\n"
                "    pass\n\n\n"
                "class Head(Base):\n"
                "    pass\n\n\n"
                "def build():\n"
                "    head = Head()\n"
                "    head.initialize()\n"
                "    return head\n"
            ),
            id="subclass of a translated class, in a function",
        ),
        Example(
            (
                "import torch\n\n\n"
                "class Net(torch.nn.Module):\n"
                "    pass\n\n\n"
                "net = Net()\n"
                "state = net.state_dict()\n"
            ),
            (
                "from mxnet import gluon\n\n\n"
                "class Net(gluon.Block):\n"
                "    pass\n\n\n"
                "net = Net()\n"
                "net.initialize()\n"
                "# torch2gluon: T2G002: `net.state_dict` (a torch model method) has no translation yet; left as is\n"
                "state = net.state_dict()\n"
            ),
            diagnostics=("T2G002",),
            id="the instance is a model for T2G002",
        ),
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.classes: Set[str] = set()

    def visit_Module(self, node: cst.Module) -> None:
        # known before any statement that instantiates them is left
        self.classes = module_classes(self.ctx, node)

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef) -> Optional[cst.ClassDef]:
        bases = list(updated.bases)
        hit = False
        for i, base in enumerate(original.bases):
            if base.keyword is None and _is_module(self.ctx, base.value):
                bases[i] = bases[i].with_changes(value=self.ctx.ref("mxnet.gluon.Block"))
                hit = True
        if not hit:
            return None
        return updated.with_changes(bases=bases)

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        target = _instantiation(original, self.classes)
        if target is None:
            return None
        self.ctx.bindings[target] = "model"
        init = cst.SimpleStatementLine(
            body=[cst.Expr(cst.Call(func=cst.Attribute(value=cst.Name(target), attr=cst.Name("initialize"))))]
        )
        return [updated, init]


# torch.nn.Module API that gluon.nn.Block lacks or gives another meaning
_MODULE_ONLY = {
    "add_module": "use `self.register_child(block, name)` or an attribute",
    "register_module": "use `self.register_child(block, name)` or an attribute",
    "register_buffer": "a buffer is a Gluon parameter with `grad_req='null'`",
    "register_parameter": "use `self.params.get(...)`",
    "parameters": "use `self.collect_params()`",
    "named_parameters": "use `self.collect_params()`",
    "buffers": "Gluon has no buffers",
    "named_buffers": "Gluon has no buffers",
    "children": "Gluon has no `children()`",
    "named_children": "Gluon has no `named_children()`",
    "modules": "Gluon has no `modules()`",
    "named_modules": "Gluon has no `named_modules()`",
    "state_dict": "use `save_parameters`",
    "load_state_dict": "use `load_parameters`",
    "train": "Gluon's mode is `autograd.record()`",
    "eval": "Gluon's mode is `autograd.record()`",
    "training": "Gluon's mode is `autograd.is_training()`",
    "to": "devices are not translated yet",
    "cuda": "devices are not translated yet",
    "cpu": "devices are not translated yet",
    "float": "use `self.cast('float32')`",
    "double": "use `self.cast('float64')`",
    "half": "use `self.cast('float16')`",
    "requires_grad_": "set `grad_req` on the parameters",
    "zero_grad": "gradients are overwritten on each backward",
}
# read-only properties of a Gluon Block: a torch attribute of that name clashes
_BLOCK_PROPERTIES = ("name", "prefix", "params")
_CONTAINERS = ("ModuleList", "ModuleDict", "Parameter", "ParameterList", "ParameterDict", "Module")


class ModuleInternals(Rule):
    """torch ``Module`` API without a Gluon ``Block`` twin is reported.

    ## What it does
    ``nn.ModuleList``, ``nn.ModuleDict``, ``nn.Parameter``,
    ``nn.ParameterList``/``ParameterDict`` and a bare ``nn.Module()`` are left
    as is with an error. Inside a class translated to ``nn.Block`` (T2G210),
    ``self.add_module``, ``self.register_buffer``, ``self.parameters()``,
    ``self.training`` and the other ``Module`` methods Gluon lacks are
    reported with an error too, and so are attributes called ``name``,
    ``prefix`` or ``params`` (read-only properties of a Gluon ``Block``).

    ## Why
    A Gluon ``Block`` does not register blocks held in a Python list or dict,
    and has no buffers, named module iterators or ``training`` flag: such code
    would fail at run time or, worse, train fewer parameters than torch.

    ## Fix safety
    Nothing is changed.
    """

    code = "T2G211"
    name = "module-internals"
    summary = "nn.ModuleList/ModuleDict/Parameter, self.add_module/register_buffer/...: reported"
    examples = (
        Example(
            (
                "from torch import nn\n\n\n"
                "class Net(nn.Module):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.layers = nn.ModuleDict({'a': nn.ReLU()})\n"
                "        self.register_buffer('steps', None)\n\n"
                "    def forward(self, x):\n"
                "        return x\n"
            ),
            (
                "from torch import nn\n"
                "from mxnet import gluon\n"
                "from mxnet.gluon import nn as mx_nn\n\n\n"
                "class Net(gluon.Block):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        # torch2gluon: T2G211: `torch.nn.ModuleDict` is not translated yet "
                "(Gluon does not register blocks held in a dict: use attributes); left as is\n"
                "        self.layers = nn.ModuleDict({\"a\": mx_nn.Activation(\"relu\")})\n"
                "        # torch2gluon: T2G211: `self.register_buffer` is torch `Module` API that Gluon's `Block` lacks "
                "(a buffer is a Gluon parameter with `grad_req='null'`); left as is\n"
                "        self.register_buffer('steps', None)\n\n"
                "    def forward(self, x):\n"
                "        return x\n"
            ),
            diagnostics=("T2G211", "T2G211"),
            id="module dict and buffers are flagged",
        ),
        Example(
            (
                "import torch\nfrom torch import nn\n\n\n"
                "class Scale(nn.Module):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.w = nn.Parameter(torch.ones(3))\n\n"
                "    def forward(self, x):\n"
                "        if self.training:\n"
                "            return x * self.w\n"
                "        return x\n"
            ),
            (
                "from mxnet import gluon, init\n\n\n"
                "class Scale(gluon.Block):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.w = self.params.get(\"w\", shape=(3,), init=init.One())\n\n"
                "    def forward(self, x):\n"
                "        # torch2gluon: T2G211: `self.training` is torch `Module` API that Gluon's `Block` lacks "
                "(Gluon's mode is `autograd.is_training()`); left as is\n"
                "        if self.training:\n"
                "            return x * self.w.data()\n"
                "        return x\n"
            ),
            diagnostics=("T2G211",),
            id="training flag is flagged, the parameter is translated (T2G213)",
        ),
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._stack: List[bool] = []
        self.classes: Set[str] = set()

    def visit_Module(self, node: cst.Module) -> None:
        self.classes = module_classes(self.ctx, node)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._stack.append(node.name.value in self.classes)

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef) -> None:
        self._stack.pop()
        return None

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> None:
        if id(original) in self.ctx.handled:
            return None  # translated by T2G212/T2G213, or reported there
        name = self.ctx.call_name(original)
        kind = torch_nn_name(name, *_CONTAINERS)
        if kind is None:
            return None
        why = {
            "ModuleList": "Gluon does not register blocks held in a list: use `nn.Sequential` or attributes",
            "ModuleDict": "Gluon does not register blocks held in a dict: use attributes",
            "Parameter": "T2G213 translates only `self.x = nn.Parameter(torch.randn/zeros/ones(shape))` "
            "in a Block's `__init__`; use `self.params.get(...)` in Gluon",
            "ParameterList": "use `self.params.get(...)` in Gluon",
            "ParameterDict": "use `self.params.get(...)` in Gluon",
            "Module": "use `nn.Block()`",
        }[kind]
        return self.keep(original, name, f"is not translated yet ({why})")

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> None:
        if not (self._stack and self._stack[-1]):
            return None
        value = original.value
        attr = original.attr.value
        if not (isinstance(value, cst.Name) and value.value == "self"):
            return None
        if attr in _MODULE_ONLY:
            self.report(
                original,
                f"`self.{attr}` is torch `Module` API that Gluon's `Block` lacks ({_MODULE_ONLY[attr]}); left as is",
            )
        elif attr in _BLOCK_PROPERTIES:
            self.report(
                original,
                f"`self.{attr}` is a read-only property of Gluon's `Block`; rename the attribute; left as is",
            )
        return None


# -- helpers shared by T2G212/T2G213 -------------------------------------------


def _self_attr(node: cst.CSTNode) -> Optional[str]:
    """``self.x`` -> ``"x"``."""
    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == "self":
        return node.attr.value
    return None


def _self_assign(stmt: cst.CSTNode) -> Optional[Tuple[str, cst.Assign]]:
    """``self.x = <value>`` as the only statement of a line -> ``("x", assign)``."""
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return None
    assign = stmt.body[0]
    if not isinstance(assign, cst.Assign) or len(assign.targets) != 1:
        return None
    attr = _self_attr(assign.targets[0].target)
    return (attr, assign) if attr is not None else None


def _methods(cls: cst.ClassDef):
    for stmt in cls.body.body:
        if isinstance(stmt, cst.FunctionDef):
            yield stmt


def _line(*exprs: cst.BaseExpression) -> cst.SimpleStatementLine:
    return cst.SimpleStatementLine(body=[cst.Expr(e) for e in exprs])


class _ClassRule(Rule):
    """Tracks whether the class being visited is translated by T2G210."""

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.classes: Set[str] = set()
        self._stack: List[Optional[Dict[str, object]]] = []

    def visit_Module(self, node: cst.Module) -> None:
        self.classes = module_classes(self.ctx, node)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._stack.append(self.scan(node) if node.name.value in self.classes else None)

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef) -> None:
        self._stack.pop()
        return None

    @property
    def current(self) -> Optional[Dict[str, object]]:
        return self._stack[-1] if self._stack else None

    def scan(self, node: cst.ClassDef) -> Dict[str, object]:  # pragma: no cover - overridden
        return {}


class ModuleList(_ClassRule):
    """``self.x = nn.ModuleList([...])`` becomes a Gluon ``nn.Sequential`` used as a container.

    ## What it does
    In a method of a class translated by T2G210, ``self.x = nn.ModuleList(blocks)``
    becomes::

        self.x = nn.Sequential()
        self.x.add(a, b)          # a list literal
        self.x.add(*blocks)       # any other iterable

    and ``self.x.append(m)`` / ``self.x.extend(ms)`` become ``self.x.add(m)`` /
    ``self.x.add(*ms)``.

    ## Why
    A Gluon ``Block`` registers a child ``Sequential`` and, through it, every
    block added to it, with the structural keys torch uses (``x.0.weight``).
    In MXNet 1.9.1 ``Sequential`` supports ``len``, ``x[i]`` (negative indices,
    slices) and ``for b in x`` (through ``__getitem__``), as ``ModuleList``
    does. Nothing calls the container itself in working torch code (a
    ``ModuleList`` has no ``forward``).

    ## Flags
    ``self.x.insert(...)`` (Gluon's ``Sequential`` cannot insert), a
    ``ModuleList`` anywhere else (a local variable, nested in another call)
    and ``nn.ModuleDict`` (Gluon has no dict container that registers its
    blocks) are reported and left as is (T2G211).

    ## Fix safety
    Safe: the same blocks are registered in the same order under the same keys.
    """

    code = "T2G212"
    name = "module-list"
    summary = "self.x = nn.ModuleList([...]) -> nn.Sequential() + add; append/extend -> add"
    examples = (
        Example(
            (
                "from torch import nn\n\n\n"
                "class Net(nn.Module):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.layers = nn.ModuleList([nn.Linear(4, 4), nn.ReLU()])\n"
                "        self.layers.append(nn.ReLU())\n\n"
                "    def forward(self, x):\n"
                "        for layer in self.layers:\n"
                "            x = layer(x)\n"
                "        return self.layers[0](x)\n"
            ),
            (
                "from mxnet import gluon, init\n"
                "from mxnet.gluon import nn\n\n\n"
                "class Net(gluon.Block):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.layers = nn.Sequential()\n"
                "        self.layers.add(\n"
                "            nn.Dense(\n"
                "                4,\n"
                "                in_units=4,\n"
                "                flatten=False,\n"
                "                weight_initializer=init.Uniform(4**-0.5),\n"
                "                bias_initializer=init.Uniform(4**-0.5),\n"
                "            ),\n"
                "            nn.Activation(\"relu\"),\n"
                "        )\n"
                "        self.layers.add(nn.Activation(\"relu\"))\n\n"
                "    def forward(self, x):\n"
                "        for layer in self.layers:\n"
                "            x = layer(x)\n"
                "        return self.layers[0](x)\n"
            ),
            id="module list from a list literal, append",
        ),
        Example(
            (
                "from torch import nn\n\n\n"
                "class Net(nn.Module):\n"
                "    def __init__(self, n):\n"
                "        super().__init__()\n"
                "        self.acts = nn.ModuleList(nn.ReLU() for _ in range(n))\n"
                "        self.acts.extend([nn.Tanh()])\n"
                "        self.acts.insert(0, nn.ReLU())\n"
            ),
            (
                "from mxnet import gluon\n"
                "from mxnet.gluon import nn\n\n\n"
                "class Net(gluon.Block):\n"
                "    def __init__(self, n):\n"
                "        super().__init__()\n"
                "        self.acts = nn.Sequential()\n"
                "        self.acts.add(*(nn.Activation(\"relu\") for _ in range(n)))\n"
                "        self.acts.add(*[nn.Activation(\"tanh\")])\n"
                "        # torch2gluon: T2G212: `self.acts.insert` has no Gluon `Sequential` twin "
                "(it cannot insert); left as is\n"
                "        self.acts.insert(0, nn.Activation(\"relu\"))\n"
            ),
            diagnostics=("T2G212",),
            id="module list from a generator, extend, insert is flagged",
        ),
        Example(
            (
                "from torch import nn\n\n\n"
                "class Net(nn.Module):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.heads = nn.ModuleDict({'a': nn.ReLU()})\n"
            ),
            (
                "from torch import nn\n"
                "from mxnet import gluon\n"
                "from mxnet.gluon import nn as mx_nn\n\n\n"
                "class Net(gluon.Block):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        # torch2gluon: T2G211: `torch.nn.ModuleDict` is not translated yet "
                "(Gluon does not register blocks held in a dict: use attributes); left as is\n"
                "        self.heads = nn.ModuleDict({\"a\": mx_nn.Activation(\"relu\")})\n"
            ),
            diagnostics=("T2G211",),
            id="module dict stays flagged",
        ),
    )

    def scan(self, node: cst.ClassDef) -> Dict[str, object]:
        found: Dict[str, object] = {}
        for method in _methods(node):
            for stmt in method.body.body:
                hit = _self_assign(stmt)
                if hit is None:
                    continue
                attr, assign = hit
                call = assign.value
                if not (isinstance(call, cst.Call) and torch_nn_name(self.ctx.call_name(call), "ModuleList")):
                    continue
                try:
                    bind(call, ["modules"])
                except Unbindable:
                    continue
                self.ctx.handled.add(id(call))
                found[attr] = id(stmt)
        return found

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        cur = self.current
        if not cur:
            return None
        hit = _self_assign(original)
        if hit is None or cur.get(hit[0]) != id(original):
            return None
        target = updated.body[0].targets[0].target
        call = updated.body[0].value
        first = updated.with_changes(
            body=[updated.body[0].with_changes(value=cst.Call(func=self.ctx.ref("mxnet.gluon.nn.Sequential")))]
        )
        args = list(call.args)
        if not args:
            return first
        value = args[0].value
        if isinstance(value, (cst.List, cst.Tuple)) and not any(
            isinstance(e, cst.StarredElement) for e in value.elements
        ):
            add_args = [cst.Arg(value=e.value) for e in value.elements]
        else:
            if isinstance(value, cst.GeneratorExp) and not value.lpar:
                value = value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
            add_args = [cst.Arg(value=value, star="*")]
        if not add_args:
            return first
        add = cst.Call(func=cst.Attribute(value=target, attr=cst.Name("add")), args=add_args)
        return [first, _line(add)]

    def leave_Call(self, original: cst.Call, updated: cst.Call):
        cur = self.current
        func = original.func
        if not cur or not isinstance(func, cst.Attribute):
            return None
        attr = _self_attr(func.value)
        if attr not in cur:
            return None
        method = func.attr.value
        if method == "append" and len(updated.args) == 1 and not updated.args[0].star and not updated.args[0].keyword:
            return updated.with_changes(func=updated.func.with_changes(attr=cst.Name("add")))
        if method == "extend" and len(updated.args) == 1 and not updated.args[0].star and not updated.args[0].keyword:
            return updated.with_changes(
                func=updated.func.with_changes(attr=cst.Name("add")),
                args=[cst.Arg(value=updated.args[0].value, star="*")],
            )
        if method in ("insert", "append", "extend", "__iadd__"):
            self.report(original, f"`self.{attr}.{method}` has no Gluon `Sequential` twin (it cannot insert); left as is"
                        if method == "insert" else f"`self.{attr}.{method}` with these arguments is not translated; left as is")
        return None


# torch factory -> MXNet initializer giving the same values
_PARAM_INITS = {"torch.randn": "mxnet.init.Normal", "torch.zeros": "mxnet.init.Zero", "torch.ones": "mxnet.init.One"}


class ParameterAttribute(_ClassRule):
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

    def _plan(self, call: cst.Call) -> Optional[Tuple[cst.BaseExpression, str, Optional[cst.BaseExpression], bool]]:
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
        name = _PARAM_INITS[self.ctx.call_name(data)]
        return shape, name, cst.Float("1.0") if name.endswith("Normal") else None, rg is False

    def scan(self, node: cst.ClassDef) -> Dict[str, object]:
        plans: Dict[str, object] = {}
        defining: Set[int] = set()
        for method in _methods(node):
            if method.name.value != "__init__":
                continue
            for stmt in method.body.body:
                hit = _self_assign(stmt)
                if hit is None:
                    continue
                attr, assign = hit
                call = assign.value
                if not (isinstance(call, cst.Call) and torch_nn_name(self.ctx.call_name(call), "Parameter")):
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
            attr = _self_attr(n)
            if attr in plans and id(n) not in defining:
                if in_init:
                    self._bad[id(n)] = f"`self.{attr}` is read in `__init__`, before Gluon initialises it"
                elif isinstance(parent, cst.Attribute) and parent.value is n:
                    self._bad[id(n)] = (
                        f"`self.{attr}.{parent.attr.value}` reads an attribute of a torch parameter; "
                        f"a Gluon parameter's value is `self.{attr}.data()`"
                    )
                elif isinstance(parent, (cst.AssignTarget, cst.AugAssign, cst.AnnAssign, cst.Del)) and (
                    getattr(parent, "target", None) is n
                ):
                    self._bad[id(n)] = f"`self.{attr}` is reassigned; a Gluon parameter is set with `set_data`"
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
        if key in self._rewrite:
            return cst.Call(func=cst.Attribute(value=updated, attr=cst.Name("data")))
        return None

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        cur = self.current
        if not cur:
            return None
        hit = _self_assign(original)
        if hit is None or hit[0] not in cur or cur[hit[0]][0] != id(original):
            return None
        attr = hit[0]
        shape, init_name, init_arg, frozen = cur[attr][1]
        init = self.ctx.call(init_name, *([cst.Arg(init_arg)] if init_arg is not None else []))
        args = [
            cst.Arg(cst.SimpleString(f'"{attr}"')),
            _kw(shape, "shape"),
            _kw(init, "init"),
        ]
        if frozen:
            args.append(_kw(cst.SimpleString('"null"'), "grad_req"))
        get = cst.Call(func=cst.parse_expression("self.params.get"), args=args)
        return updated.with_changes(body=[updated.body[0].with_changes(value=get)])


def _kw(value: cst.BaseExpression, keyword: str) -> cst.Arg:
    from ..context import arg

    return arg(value, keyword)
