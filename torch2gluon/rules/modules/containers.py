"""`nn.ModuleList` and `nn.ModuleDict` / `add_module` (T2G212, T2G215)."""

from __future__ import annotations

from typing import Dict, List, Optional, cast

import libcst as cst

from ...facts.nn import nn_class
from .._base import Example, Unbindable, bind, literal
from ._shared import ClassRule, line_of, methods_of, self_assign, self_attr, statements_in, walk_all


class ModuleList(ClassRule):
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
                "        self.heads = nn.ModuleDict([('a', nn.ReLU())])\n"
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
                "        self.heads = nn.ModuleDict([(\"a\", mx_nn.Activation(\"relu\"))])\n"
            ),
            diagnostics=("T2G211",),
            id="module dict stays flagged",
        ),
    )

    def scan(self, node: cst.ClassDef) -> Dict[str, object]:
        found: Dict[str, object] = {}
        for method in methods_of(node):
            for stmt in method.body.body:
                hit = self_assign(stmt)
                if hit is None:
                    continue
                attr, assign = hit
                call = assign.value
                if not (isinstance(call, cst.Call) and nn_class(self.ctx.call_name(call), "ModuleList")):
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
        hit = self_assign(original)
        if hit is None or cur.get(hit[0]) != id(original):
            return None
        assign = cast(cst.Assign, updated.body[0])  # `self.x = nn.Sequential(...)`, as scan() found it
        target = assign.targets[0].target
        call = cast(cst.Call, assign.value)
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
        return [first, line_of(add)]

    def leave_Call(self, original: cst.Call, updated: cst.Call):
        cur = self.current
        func = original.func
        if not cur or not isinstance(func, cst.Attribute):
            return None
        attr = self_attr(func.value)
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


class ModuleDictAndAddModule(ClassRule):
    """``self.x = nn.ModuleDict({...})`` and ``self.add_module(name, m)`` register Gluon children.

    ## What it does
    In the ``__init__`` of a class translated by T2G210,
    ``self.heads = nn.ModuleDict({"a": layer_a, "b": layer_b})`` (a dict
    literal with string keys) becomes a plain dict and one
    ``register_child`` per entry::

        self.heads = {"a": layer_a, "b": layer_b}
        self.register_child(self.heads["a"], "heads.a")
        self.register_child(self.heads["b"], "heads.b")

    and, in any method of such a class, ``self.add_module(name, module)`` (or
    ``register_module``) becomes ``setattr(self, name, module)``.

    ## Why
    Gluon 1.9 has no dict container. A block registered with
    ``register_child(block, "heads.a")`` is collected, initialised and saved
    with its parent under torch's structural key (``heads.a.weight``), in
    registration order; the dict keeps ``self.heads["a"]``, ``items()``,
    ``keys()``, ``len`` and iteration working as on a ``ModuleDict``. A
    ``Block`` registers a block assigned to an attribute under the
    attribute's name, so ``setattr`` is ``add_module``.

    ## Flags
    A ``ModuleDict`` built from anything but a dict literal with string keys,
    or changed later (``self.heads["c"] = ...``, ``update``, ``pop``), stays
    reported (T2G211 for the constructor, this rule for the changes).

    ## Fix safety
    Safe: the same blocks are registered in the same order under the same keys.
    """

    code = "T2G215"
    name = "module-dict"
    summary = "self.x = nn.ModuleDict({...}) -> dict + register_child; self.add_module(n, m) -> setattr(self, n, m)"
    examples = (
        Example(
            (
                "from torch import nn\n\n\n"
                "class Net(nn.Module):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.heads = nn.ModuleDict({'a': nn.ReLU(), 'b': nn.Tanh()})\n"
                "        self.add_module('act', nn.ReLU())\n\n"
                "    def forward(self, x, key):\n"
                "        return self.act(self.heads[key](x))\n"
            ),
            (
                "from mxnet import gluon\n"
                "from mxnet.gluon import nn\n\n\n"
                "class Net(gluon.Block):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.heads = {\"a\": nn.Activation(\"relu\"), \"b\": nn.Activation(\"tanh\")}\n"
                "        self.register_child(self.heads[\"a\"], \"heads.a\")\n"
                "        self.register_child(self.heads[\"b\"], \"heads.b\")\n"
                "        setattr(self, \"act\", nn.Activation(\"relu\"))\n\n"
                "    def forward(self, x, key):\n"
                "        return self.act(self.heads[key](x))\n"
            ),
            id="module dict literal and add_module",
        ),
        Example(
            (
                "from torch import nn\n\n\n"
                "class Net(nn.Module):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.heads = nn.ModuleDict({'a': nn.ReLU()})\n"
                "        self.heads['b'] = nn.Tanh()\n"
            ),
            (
                "from mxnet import gluon\n"
                "from mxnet.gluon import nn\n\n\n"
                "class Net(gluon.Block):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.heads = {\"a\": nn.Activation(\"relu\")}\n"
                "        self.register_child(self.heads[\"a\"], \"heads.a\")\n"
                "        # torch2gluon: T2G215: `self.heads` (a ModuleDict) is changed after it is built; "
                "the Gluon dict would not register the block; left as is\n"
                "        self.heads[\"b\"] = nn.Activation(\"tanh\")\n"
            ),
            diagnostics=("T2G215",),
            id="a module dict changed later is flagged",
        ),
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._changes: Dict[int, str] = {}

    def scan(self, node: cst.ClassDef) -> Dict[str, object]:
        found: Dict[str, object] = {}
        for method in methods_of(node):
            for stmt in statements_in(method.body):
                hit = self_assign(stmt)
                if hit is None:
                    continue
                attr, assign = hit
                call = assign.value
                if method.name.value != "__init__" or not (
                    isinstance(call, cst.Call) and nn_class(self.ctx.call_name(call), "ModuleDict")
                ):
                    continue
                try:
                    b = bind(call, ["modules"])
                except Unbindable:
                    continue
                d = b.get("modules")
                names: List[str] = []
                keys: Optional[List[str]] = names
                if isinstance(d, cst.Dict):
                    for e in d.elements:
                        key = literal(e.key) if isinstance(e, cst.DictElement) else None
                        if not isinstance(key, str) or not key.isidentifier():
                            keys = None
                            break
                        names.append(key)
                elif d is not None:
                    keys = None
                if keys is None or len(set(keys)) != len(keys) or attr in found:
                    continue
                self.ctx.handled.add(id(call))
                found[attr] = (id(stmt), keys)
        # later changes of a translated dict: not registered in Gluon
        for n in walk_all(node.body):
            target: Optional[cst.BaseExpression] = None
            if isinstance(n, (cst.AssignTarget, cst.AugAssign)):
                target = n.target
            elif isinstance(n, cst.Del):
                target = n.target
            if isinstance(target, cst.Subscript) and self_attr(target.value) in found:
                self._changes[id(n)] = self_attr(target.value)  # type: ignore[assignment]
            if (
                isinstance(n, cst.Call)
                and isinstance(n.func, cst.Attribute)
                and self_attr(n.func.value) in found
                and n.func.attr.value in ("update", "pop", "clear", "setdefault", "popitem")
            ):
                self._changes[id(n)] = self_attr(n.func.value)  # type: ignore[assignment]
        return found

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if (
            self._stack
            and self._stack[-1] is not None
            and isinstance(func, cst.Attribute)
            and func.attr.value in ("add_module", "register_module")
            and self_attr(func) is not None
        ):
            try:
                b = bind(node, ["name", "module"])
            except Unbindable:
                return
            if len(b) == 2:
                self.ctx.handled.add(id(func))  # T2G211 leaves it to this rule
                self.ctx.handled.add(id(node))

    def _report_change(self, original: cst.CSTNode) -> None:
        attr = self._changes.pop(id(original), None)
        if attr is not None:
            self.report(
                original,
                f"`self.{attr}` (a ModuleDict) is changed after it is built; the Gluon dict would not register "
                "the block; left as is",
            )

    def leave_AssignTarget(self, original, updated):
        self._report_change(original)
        return None

    def leave_AugAssign(self, original, updated):
        self._report_change(original)
        return None

    def leave_Del(self, original, updated):
        self._report_change(original)
        return None

    def leave_Call(self, original: cst.Call, updated: cst.Call):
        self._report_change(original)
        func = original.func
        if id(original) in self.ctx.handled and isinstance(func, cst.Attribute) and func.attr.value in (
            "add_module",
            "register_module",
        ) and id(func) in self.ctx.handled:
            b = bind(updated, ["name", "module"])
            return cst.Call(
                func=cst.Name("setattr"),
                args=[cst.Arg(cst.Name("self")), cst.Arg(b["name"]), cst.Arg(b["module"])],
            )
        return None

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        cur = self.current
        if not cur:
            return None
        hit = self_assign(original)
        if hit is None or hit[0] not in cur or cur[hit[0]][0] != id(original):  # type: ignore[index]
            return None
        attr, keys = hit[0], cur[hit[0]][1]  # type: ignore[index]
        call = cast(cst.Call, cast(cst.Assign, updated.body[0]).value)  # `self.x = nn.ModuleDict(...)`, as scan() found it
        value = call.args[0].value if call.args else cst.Dict(elements=[])
        first = updated.with_changes(body=[updated.body[0].with_changes(value=value)])
        out: List[cst.BaseStatement] = [first]
        for key in keys:
            item = cst.parse_expression(f'self.{attr}["{key}"]')
            register = cst.Call(
                func=cst.parse_expression("self.register_child"),
                args=[cst.Arg(item), cst.Arg(cst.SimpleString(f'"{attr}.{key}"'))],
            )
            out.append(line_of(register))
        return out if len(out) > 1 else first
