"""`nn.Module` API that Gluon's `Block` lacks (T2G211)."""

from __future__ import annotations

from typing import List, Set

import libcst as cst

from ...facts.nn import nn_class
from .._base import Example, Rule


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
    ``nn.ParameterList``/``ParameterDict`` and a bare ``nn.Module()`` that
    T2G212/T2G213/T2G215 do not translate are left as is with an error. Inside a class translated to ``nn.Block`` (T2G210),
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
                "        self.layers = nn.ModuleDict(dict(a=nn.ReLU()))\n"
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
                "(Gluon does not register blocks held in a dict; T2G215 translates only "
                "`self.x = nn.ModuleDict({'name': layer, ...})` with string keys in a Block's `__init__`); left as is\n"
                "        self.layers = nn.ModuleDict(dict(a=mx_nn.Activation(\"relu\")))\n"
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
        self.classes = self.ctx.analysis.module_classes()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._stack.append(node.name.value in self.classes)

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef) -> None:
        self._stack.pop()
        return None

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> None:
        if id(original) in self.ctx.handled:
            return None  # translated by T2G212/T2G213, or reported there
        name = self.ctx.call_name(original)
        kind = nn_class(name, *_CONTAINERS)
        if name is None or kind is None:
            return None
        why = {
            "ModuleList": "Gluon does not register blocks held in a list: use `nn.Sequential` or attributes",
            "ModuleDict": "Gluon does not register blocks held in a dict; T2G215 translates only "
            "`self.x = nn.ModuleDict({'name': layer, ...})` with string keys in a Block's `__init__`",
            "Parameter": "T2G213 translates only `self.x = nn.Parameter(torch.randn/zeros/ones(shape))` "
            "in a Block's `__init__`; use `self.params.get(...)` in Gluon",
            "ParameterList": "use `self.params.get(...)` in Gluon",
            "ParameterDict": "use `self.params.get(...)` in Gluon",
            "Module": "use `nn.Block()`",
        }[kind]
        self.keep(original, name, f"is not translated yet ({why})")
        return None

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> None:
        if not (self._stack and self._stack[-1]):
            return None
        if id(original) in self.ctx.handled:
            return None  # translated by T2G215
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
