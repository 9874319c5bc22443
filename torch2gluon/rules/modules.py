"""``nn.Module`` subclasses become ``nn.Block`` subclasses."""

from __future__ import annotations

from typing import Dict, List, Optional, Set, Tuple

import libcst as cst

from .._cst import children
from ._base import Example, Rule
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
    """Names of the classes deriving from nn.Module, directly or through a local class."""
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
                "        self.layers = nn.ModuleList([nn.ReLU()])\n"
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
                "        # torch2gluon: T2G211: `torch.nn.ModuleList` is not translated yet "
                "(Gluon does not register blocks held in a list: use `nn.Sequential` or attributes); left as is\n"
                "        self.layers = nn.ModuleList([mx_nn.Activation(\"relu\")])\n"
                "        # torch2gluon: T2G211: `self.register_buffer` is torch `Module` API that Gluon's `Block` lacks "
                "(a buffer is a Gluon parameter with `grad_req='null'`); left as is\n"
                "        self.register_buffer('steps', None)\n\n"
                "    def forward(self, x):\n"
                "        return x\n"
            ),
            diagnostics=("T2G211", "T2G211"),
            id="module list and buffers are flagged",
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
                "from mxnet import gluon, nd\n"
                "from torch import nn\n\n\n"
                "class Scale(gluon.Block):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        # torch2gluon: T2G211: `torch.nn.Parameter` is not translated yet "
                "(use `self.params.get(...)` in Gluon); left as is\n"
                "        self.w = nn.Parameter(nd.ones(3))\n\n"
                "    def forward(self, x):\n"
                "        # torch2gluon: T2G211: `self.training` is torch `Module` API that Gluon's `Block` lacks "
                "(Gluon's mode is `autograd.is_training()`); left as is\n"
                "        if self.training:\n"
                "            return x * self.w\n"
                "        return x\n"
            ),
            diagnostics=("T2G211", "T2G211"),
            id="parameter and training flag are flagged",
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
        name = self.ctx.call_name(original)
        kind = torch_nn_name(name, *_CONTAINERS)
        if kind is None:
            return None
        why = {
            "ModuleList": "Gluon does not register blocks held in a list: use `nn.Sequential` or attributes",
            "ModuleDict": "Gluon does not register blocks held in a dict: use attributes",
            "Parameter": "use `self.params.get(...)` in Gluon",
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
