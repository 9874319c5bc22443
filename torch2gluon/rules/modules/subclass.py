"""``nn.Module`` subclasses become ``nn.Block`` subclasses."""

from __future__ import annotations

from typing import ClassVar, Dict, List, Optional, Set, Tuple

import libcst as cst

from ...base.diagnostics import Severity
from .._base import Example, Rule
from ._hybrid import HybridPlan, NotHybrid
from ._shared import class_defs, instantiated, instantiation, is_module


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

    ## Options
    ``hybridize`` (``--hybridize``, ``hybridize = true``; off by default): a
    class deriving directly from ``nn.Module`` becomes a ``gluon.HybridBlock``
    when its translated ``forward`` (and the helper methods it calls) can run
    on Symbols: ``forward(self, x)`` becomes ``hybrid_forward(self, F, x,
    w, ...)``, the ``nd.`` functions the translation wrote become ``F.``, an
    operator between two arrays becomes ``F.broadcast_*`` (NDArray operators
    broadcast, Symbol operators do not), a parameter ``self.w.data()``
    (T2G213) becomes the keyword argument ``w`` Gluon passes, a helper that
    calls ``nd`` gets ``F`` as its first argument, and ``model.hybridize()``
    follows ``model.initialize()``. Its children must
    be Gluon layers that are HybridBlocks (``nn.Dense``, ``nn.Conv2D``,
    ``nn.BatchNorm``, ``nn.Dropout``...; see ``HYBRID_LAYERS``) or local
    classes made HybridBlocks before it. Otherwise the class stays a
    ``gluon.Block`` (a faithful translation) and an info diagnostic says why:
    ``forward`` reads ``.shape``/``.size``/``.asnumpy()`` or another attribute a
    Symbol lacks, reads a module-level name that may hold an array, indexes
    a value (on a Symbol that selects an output), has an ``if``/``for``/
    ``while`` that may depend on an array, changes a value in place, calls an ``nd`` function without a Symbol twin (creation,
    random) or anything not known to take Symbols, has more than one input
    (a hybridised block takes arrays only), or the class holds an
    ``nn.Sequential``/``ModuleList`` (Gluon ``Sequential`` is a Block), a
    recurrent layer, a child class that stays a Block, is subclassed in the
    file, or has code left untranslated (``self.training``).

    ## Flags
    See T2G211 for the ``Module`` API Gluon lacks. An instance created
    elsewhere (``return Net()``, an argument) is not initialised here; Gluon
    raises on its first forward pass until ``initialize()`` is called (nor
    hybridised: it then runs the same ``hybrid_forward`` imperatively).

    ## Fix safety
    Safe: same structure; parameters are registered in the same order. With
    ``hybridize``, the hybridised graph computes the same operators
    (tests/test_hybrid.py compares outputs, input gradients and training
    steps with the Block translation and torch).
    """

    code = "T2G210"
    name = "module-subclass"
    summary = "class Net(nn.Module) -> class Net(gluon.Block); net = Net() + net.initialize()"
    examples: ClassVar[Tuple[Example, ...]] = (
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
    # translated with Options(hybridize=True); tests/test_hybrid.py checks them further
    hybrid_examples = (
        Example(
            (
                "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n\n"
                "class Net(nn.Module):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.fc = nn.Linear(4, 2)\n"
                "        self.scale = nn.Parameter(torch.ones(2))\n\n"
                "    def forward(self, x):\n"
                "        x = x.view(-1, 4)\n"
                "        return F.relu(self.fc(x)) * self.scale\n\n\n"
                "net = Net()\n"
            ),
            (
                "from mxnet import gluon, init\n"
                "from mxnet.gluon import nn\n\n\n"
                "class Net(gluon.HybridBlock):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.fc = nn.Dense(\n"
                "            2,\n"
                "            in_units=4,\n"
                "            flatten=False,\n"
                "            weight_initializer=init.Uniform(4**-0.5),\n"
                "            bias_initializer=init.Uniform(4**-0.5),\n"
                "        )\n"
                "        self.scale = self.params.get(\"scale\", shape=(2,), init=init.One())\n\n"
                "    def hybrid_forward(self, F, x, scale):\n"
                "        x = x.reshape((-1, 4))\n"
                "        return F.broadcast_mul(F.relu(self.fc(x)), scale)\n\n\n"
                "net = Net()\n"
                "net.initialize()\n"
                "net.hybridize()\n"
            ),
            id="hybridize: a HybridBlock with F, its parameter as an argument, a broadcasting product",
            options=(("hybridize", True),),
        ),
        Example(
            (
                "import torch.nn as nn\nimport torch.nn.functional as F\n\n\n"
                "class Net(nn.Module):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.fc = nn.Linear(4, 2)\n\n"
                "    def forward(self, x):\n"
                "        x = x.view(x.size(0), -1)\n"
                "        return F.relu(self.fc(x))\n\n\n"
                "net = Net()\n"
            ),
            (
                "from mxnet import gluon, init, nd\n"
                "from mxnet.gluon import nn\n\n\n"
                "class Net(gluon.Block):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.fc = nn.Dense(\n"
                "            2,\n"
                "            in_units=4,\n"
                "            flatten=False,\n"
                "            weight_initializer=init.Uniform(4**-0.5),\n"
                "            bias_initializer=init.Uniform(4**-0.5),\n"
                "        )\n\n"
                "    def forward(self, x):\n"
                "        x = x.reshape((x.shape[0], -1))\n"
                "        return nd.relu(self.fc(x))\n\n\n"
                "net = Net()\n"
                "net.initialize()\n"
            ),
            id="hybridize: forward reads x.shape, the class stays a Block (info note)",
            options=(("hybridize", True),),
        ),
    )
    examples = examples + hybrid_examples

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.classes: Set[str] = set()
        self.hybridize = bool(getattr(ctx.options, "hybridize", False))
        # with Options(hybridize=True): the classes made HybridBlocks so far
        self.hybrid: Set[str] = set()
        self.decided: Set[str] = set()  # the classes T2G210 has left so far
        self._errors: Dict[int, int] = {}  # class -> error count when it was entered
        self._derived: Dict[str, str] = {}  # class -> a local class deriving from it

    def visit_Module(self, node: cst.Module) -> None:
        # known before any statement that instantiates them is left
        self.classes = self.ctx.analysis.module_classes()
        if self.hybridize:
            for d in class_defs(node):
                for base in d.bases:
                    if isinstance(base.value, cst.Name) and base.value.value in self.classes:
                        self._derived.setdefault(base.value.value, d.name.value)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        if self.hybridize:
            self._errors[id(node)] = sum(1 for d in self.ctx.diagnostics if d.severity is Severity.ERROR)

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef) -> Optional[cst.ClassDef]:
        errors = self._errors.pop(id(original), 0)
        bases = list(updated.bases)
        hit = False
        for i, base in enumerate(original.bases):
            if base.keyword is None and is_module(self.ctx, base.value):
                bases[i] = bases[i].with_changes(value=self.ctx.ref("mxnet.gluon.Block"))
                hit = True
        if not hit:
            if self.hybridize and original.name.value in self.classes:
                self.decided.add(original.name.value)
                self._stays_block(original, "it derives from a translated class (only direct `nn.Module` "
                                  "subclasses are hybridised)")
            return None
        out = updated.with_changes(bases=bases)
        if self.hybridize:
            return self._hybridized(original, out, errors)
        return out

    def _stays_block(self, original: cst.ClassDef, why: str) -> None:
        self.report(
            original.name,
            f"`{original.name.value}` stays a gluon.Block, not a HybridBlock: {why}",
            severity=Severity.INFO,
        )

    def _hybridized(self, original: cst.ClassDef, block: cst.ClassDef, errors: int) -> cst.ClassDef:
        """``block`` as a HybridBlock with ``hybrid_forward`` when that is safe, else ``block`` and a note."""
        name = original.name.value
        self.decided.add(name)
        try:
            if len(original.bases) != 1 or original.keywords:
                raise NotHybrid("it has other base classes or class keywords")
            if name in self._derived:
                raise NotHybrid(f"`{self._derived[name]}` derives from it in this file")
            if sum(1 for d in self.ctx.diagnostics if d.severity is Severity.ERROR) != errors:
                raise NotHybrid("part of it is left untranslated")
            plan = HybridPlan(self.ctx, block, self.hybrid, self.decided, self.ctx.names.torch_roots)
            plan.collect()
            plan.check()
            hybrid = plan.rewrite(self.ctx)
        except NotHybrid as why:
            self._stays_block(original, str(why))
            return block
        self.hybrid.add(name)
        base = hybrid.bases[0].with_changes(value=self.ctx.ref("mxnet.gluon.HybridBlock"))
        return hybrid.with_changes(bases=[base])

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        target = instantiation(original, self.classes)
        if target is None:
            return None
        out: List[cst.BaseStatement] = [updated]
        for method in ("initialize", "hybridize")[: 2 if instantiated(original) in self.hybrid else 1]:
            out.append(
                cst.SimpleStatementLine(
                    body=[cst.Expr(cst.Call(func=cst.Attribute(value=cst.Name(target), attr=cst.Name(method))))]
                )
            )
        return out


# -- opt-in HybridBlock (Options.hybridize) -------------------------------------
#
# With ``Options(hybridize=True)`` T2G210 makes a translated class a
# ``gluon.HybridBlock`` when the translated ``forward`` builds the same graph
# from a Symbol as from an NDArray. The checks below run on the *translated*
# class (the other rules have already rewritten its body) and accept only what
# is known to behave the same way; anything else keeps the Block with an INFO
# note saying why. tests/test_hybrid.py checks every name listed here against
# MXNet (both twins exist, the layers are HybridBlocks).


# -- helpers shared by T2G212/T2G213 -------------------------------------------


# -- what the attributes of models and layers hold ------------------------------


