"""Recurrent layers (``nn.LSTM``/``nn.GRU``/``nn.RNN``) and the way they are called."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Set, Union

import libcst as cst

from ..base.syntax import arg
from ..base.diagnostics import Severity
from ._base import Example, Rule, Unbindable, bind, code_of, literal
from ..base.syntax import is_literal
from ..facts.nn import nn_class
from ..rewrite.layers import with_parens

_KINDS = ("LSTM", "GRU", "RNN")

# torch's positional parameters (nn.RNN takes `nonlinearity` fourth)
_PARAMS = {
    "LSTM": ["input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout", "bidirectional",
             "proj_size", "device", "dtype"],
    "GRU": ["input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout", "bidirectional",
            "device", "dtype"],
    "RNN": ["input_size", "hidden_size", "num_layers", "nonlinearity", "bias", "batch_first", "dropout",
            "bidirectional", "device", "dtype"],
}


class RecurrentLayers(Rule):
    """``nn.LSTM/GRU/RNN`` become ``gluon.rnn.LSTM/GRU/RNN`` with torch's layout and start.

    ## What it does
    ``nn.LSTM(input_size, hidden_size, num_layers, batch_first=True, dropout,
    bidirectional)`` becomes ``gluon.rnn.LSTM(hidden_size,
    num_layers=num_layers, layout="NTC", dropout=dropout,
    bidirectional=bidirectional, input_size=input_size)``; the same for
    ``GRU``. ``nn.RNN(..., nonlinearity)`` becomes ``gluon.rnn.RNN(...,
    activation=nonlinearity)`` with torch's default ``"tanh"`` written out
    (Gluon's default is ``"relu"``). ``batch_first=True`` is ``layout="NTC"``
    (Gluon's default ``"TNC"`` is torch's ``batch_first=False``).

    ## Why
    Gate order, weight shapes and parameter order are the same in both
    (``weight_ih_l0`` is ``l0_i2h_weight``, ``weight_hh_l0`` ``l0_h2h_weight``,
    then the two biases; ``_reverse`` is ``r0``), so copied weights give the
    same outputs and final states (measured ≤ 1e-6). torch starts every weight
    and bias from U(±1/sqrt(hidden_size)); Gluon's default biases are zero.
    With ``init="torch"`` (the default) the four initializers are written out.
    How the layer is *called* differs too: see T2G221.

    ## Flags
    A non-zero ``dropout`` gets a warning: MXNet 1.9's CPU build runs the
    oneDNN RNN kernel, which silently ignores the dropout between layers
    (measured: outputs under ``autograd.record()`` equal inference outputs to
    5e-10 with p=0.9); with ``MXNET_USE_MKLDNN_RNN=0`` it is applied.
    ``bias=False`` (Gluon's recurrent layers always have biases),
    ``proj_size`` (not translated), ``device``/``dtype``: errors. Gluon
    takes no unbatched (2-D) input.

    ## Fix safety
    Safe: same outputs, states and gradients with the same weights.
    """

    code = "T2G220"
    name = "recurrent-layers"
    summary = "nn.LSTM/GRU/RNN -> gluon.rnn.LSTM/GRU/RNN(hidden, layout=..., input_size=...)"
    examples = (
        Example(
            "from torch import nn\nlstm = nn.LSTM(28, 64, batch_first=True)\n",
            "from mxnet import gluon, init\n\n"
            "lstm = gluon.rnn.LSTM(\n    64,\n    layout=\"NTC\",\n    input_size=28,\n"
            "    i2h_weight_initializer=init.Uniform(64**-0.5),\n"
            "    h2h_weight_initializer=init.Uniform(64**-0.5),\n"
            "    i2h_bias_initializer=init.Uniform(64**-0.5),\n"
            "    h2h_bias_initializer=init.Uniform(64**-0.5),\n)\nlstm.initialize()\n",
            id="batch-first lstm",
        ),
        Example(
            "import torch\nrnn = torch.nn.RNN(8, 16, 2, dropout=0.1, bidirectional=True)\n",
            "from mxnet import gluon, init\n\n"
            "# torch2gluon: T2G220: MXNet 1.9's CPU (oneDNN) RNN kernel ignores `dropout` between layers unless "
            "the environment sets MXNET_USE_MKLDNN_RNN=0; torch applies it in training\n"
            "rnn = gluon.rnn.RNN(\n    16,\n    num_layers=2,\n    activation=\"tanh\",\n    dropout=0.1,\n"
            "    bidirectional=True,\n    input_size=8,\n"
            "    i2h_weight_initializer=init.Uniform(16**-0.5),\n"
            "    h2h_weight_initializer=init.Uniform(16**-0.5),\n"
            "    i2h_bias_initializer=init.Uniform(16**-0.5),\n"
            "    h2h_bias_initializer=init.Uniform(16**-0.5),\n)\nrnn.initialize()\n",
            diagnostics=("T2G220",),
            id="rnn: tanh written out, dropout warned",
        ),
        Example(
            "from torch import nn\ngru = nn.GRU(8, 16, bias=False)\n",
            "from torch import nn\n# torch2gluon: T2G220: `torch.nn.GRU` with `bias=False` is not translated "
            "(Gluon's recurrent layers always have biases); left as is\ngru = nn.GRU(8, 16, bias=False)\n",
            diagnostics=("T2G220",),
            id="no bias is flagged",
        ),
    )

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> Optional[cst.BaseExpression]:
        name = self.ctx.call_name(original)
        kind = nn_class(name, *_KINDS)
        if name is None or kind is None:
            return None
        try:
            b = bind(updated, _PARAMS[kind])
            for key in ("input_size", "hidden_size"):
                if key not in b:
                    raise Unbindable(f"needs `{key}`")
            for key in ("device", "dtype"):
                if key in b and not is_literal(b[key], None):
                    raise Unbindable(f"argument `{key}` is not translated yet")
            if "bias" in b and not is_literal(b["bias"], True):
                raise Unbindable("with `bias=False` is not translated (Gluon's recurrent layers always have biases)")
            if "proj_size" in b and not is_literal(b["proj_size"], 0):
                raise Unbindable("with `proj_size` is not translated yet")
            nonlinearity = b.get("nonlinearity")
            if nonlinearity is not None and literal(nonlinearity) not in ("tanh", "relu") and isinstance(
                literal(nonlinearity), str
            ):
                raise Unbindable(f"with `nonlinearity={literal(nonlinearity)!r}` is not valid")
        except Unbindable as e:
            self.keep(original, name, str(e))
            return None
        args = [arg(b["hidden_size"])]
        layers = b.get("num_layers")
        if layers is not None and not is_literal(layers, 1):
            args.append(arg(layers, "num_layers"))
        if kind == "RNN":
            args.append(arg(nonlinearity or cst.SimpleString('"tanh"'), "activation"))
        batch_first = b.get("batch_first")
        if batch_first is not None:
            if is_literal(batch_first, True):
                layout: cst.BaseExpression = cst.SimpleString('"NTC"')
            elif is_literal(batch_first, False):
                layout = cst.SimpleString('"TNC"')
            else:
                layout = cst.parse_expression(f'"NTC" if {code_of(with_parens(batch_first))} else "TNC"')
            args.append(arg(layout, "layout"))
        dropout = b.get("dropout")
        if dropout is not None and not (is_literal(dropout, 0.0) or is_literal(dropout, 0)):
            args.append(arg(dropout, "dropout"))
            self.report(
                original,
                "MXNet 1.9's CPU (oneDNN) RNN kernel ignores `dropout` between layers unless the environment sets "
                "MXNET_USE_MKLDNN_RNN=0; torch applies it in training",
                severity=Severity.WARNING,
            )
        bidirectional = b.get("bidirectional")
        if bidirectional is not None and not is_literal(bidirectional, False):
            args.append(arg(bidirectional, "bidirectional"))
        args.append(arg(b["input_size"], "input_size"))
        if self.ctx.options.init == "torch":
            bound = code_of(with_parens(b["hidden_size"])) + " ** -0.5"
            for key in ("i2h_weight", "h2h_weight", "i2h_bias", "h2h_bias"):
                args.append(arg(self.ctx.call("mxnet.init.Uniform", arg(cst.parse_expression(bound))),
                                f"{key}_initializer"))
        else:
            self.report(
                original,
                "Gluon's default initialisation (uniform ±0.07, zero biases) differs from torch's",
                severity=Severity.WARNING,
            )
        return self.ctx.call(f"mxnet.gluon.rnn.{kind}", *args)


# ---------------------------------------------------------------------------
# Calls
# ---------------------------------------------------------------------------


@dataclass
class _Layer:
    kind: str  # LSTM, GRU, RNN
    batch_axis: Optional[int]  # 0 (batch_first), 1, or None (decided at run time)


def _recurrent_assignments(ctx, body: cst.CSTNode, attr_of_self: bool) -> Dict[str, _Layer]:
    """``self.x = nn.LSTM(...)`` (or ``x = ...``) anywhere in ``body`` -> {"x": layer}."""
    found: Dict[str, _Layer] = {}
    stack: List[cst.CSTNode] = [body]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.Assign) and len(n.targets) == 1 and isinstance(n.value, cst.Call):
            kind = nn_class(ctx.call_name(n.value), *_KINDS)
            target = n.targets[0].target
            key = None
            if attr_of_self and isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name) \
                    and target.value.value == "self":
                key = target.attr.value
            elif not attr_of_self and isinstance(target, cst.Name):
                key = target.value
            if kind is not None and key is not None:
                try:
                    b = bind(n.value, _PARAMS[kind])
                    bf = b.get("batch_first")
                except Unbindable:
                    bf = None
                if bf is None or is_literal(bf, False):
                    axis: Optional[int] = 1
                elif is_literal(bf, True):
                    axis = 0
                else:
                    axis = None
                found[key] = _Layer(kind, axis)
            continue
        if not attr_of_self and isinstance(n, (cst.FunctionDef, cst.ClassDef)):
            continue  # module level only
        if isinstance(n, cst.BaseExpression):
            continue
        stack.extend(n.children)
    return found


@dataclass
class _Plan:
    """How one statement ``a, b = layer(x[, hx])`` is rewritten, or why not."""

    call: cst.Call
    why: Optional[str] = None


_Target = Union[cst.Tuple, cst.List]


class RecurrentCalls(Rule):
    """Calls of a recurrent layer get Gluon's calling convention.

    ## What it does
    For a layer of T2G220 held in ``self.<attr>`` (assigned anywhere in the
    class) or in a module-level name:

    * ``out, _ = self.lstm(x)`` becomes ``out = self.lstm(x)``, and
      ``self.lstm(x)[0]`` becomes ``self.lstm(x)``;
    * ``out, (h, c) = self.lstm(x)`` (any target for the states) becomes
      ``out, (h, c) = self.lstm(x, self.lstm.begin_state(batch_size=x.shape[0],
      ctx=x.context))`` (``x.shape[1]`` for layout ``"TNC"``);
    * with states, ``out, (h, c) = self.lstm(x, (h0, c0))`` stays;
    * for a GRU/RNN, whose torch state is one tensor, ``out, h = self.gru(x,
      h0)`` becomes ``out, [h] = self.gru(x, h0)``.

    ## Why
    Called without states, a Gluon recurrent layer returns only the output;
    called with states it returns ``(output, [states])``, a list even when
    there is a single state. torch always returns ``(output, h_n)`` with an
    LSTM's ``h_n`` a tuple ``(h, c)``. Zero initial states are torch's default
    too; both have the shape (layers × directions, batch, hidden).

    ## Flags
    Any other use of the layer (``y = self.lstm(x)`` keeping the tuple,
    ``return self.lstm(x)``, ``self.lstm(x)[1]``, an input that is not a name
    or attribute where states must be created, a ``batch_first`` decided at run
    time) is left as is with an error.

    ## Fix safety
    Safe: same outputs and states.
    """

    code = "T2G221"
    name = "recurrent-calls"
    summary = "out, (h, c) = self.lstm(x) -> Gluon's calling convention (begin_state, list of states)"
    examples = (
        Example(
            (
                "from torch import nn\n\n\n"
                "class Net(nn.Module):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.lstm = nn.LSTM(28, 64, batch_first=True)\n"
                "        self.gru = nn.GRU(64, 32)\n\n"
                "    def forward(self, x):\n"
                "        out, _ = self.lstm(x)\n"
                "        out, (h, c) = self.lstm(x)\n"
                "        y, h = self.gru(out, h)\n"
                "        return self.lstm(x)[0] + y\n"
            ),
            (
                "from mxnet import gluon, init\n\n\n"
                "class Net(gluon.Block):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.lstm = gluon.rnn.LSTM(\n"
                "            64,\n"
                "            layout=\"NTC\",\n"
                "            input_size=28,\n"
                "            i2h_weight_initializer=init.Uniform(64**-0.5),\n"
                "            h2h_weight_initializer=init.Uniform(64**-0.5),\n"
                "            i2h_bias_initializer=init.Uniform(64**-0.5),\n"
                "            h2h_bias_initializer=init.Uniform(64**-0.5),\n"
                "        )\n"
                "        self.gru = gluon.rnn.GRU(\n"
                "            32,\n"
                "            input_size=64,\n"
                "            i2h_weight_initializer=init.Uniform(32**-0.5),\n"
                "            h2h_weight_initializer=init.Uniform(32**-0.5),\n"
                "            i2h_bias_initializer=init.Uniform(32**-0.5),\n"
                "            h2h_bias_initializer=init.Uniform(32**-0.5),\n"
                "        )\n\n"
                "    def forward(self, x):\n"
                "        out = self.lstm(x)\n"
                "        out, (h, c) = self.lstm(\n"
                "            x, self.lstm.begin_state(batch_size=x.shape[0], ctx=x.context)\n"
                "        )\n"
                "        y, [h] = self.gru(out, h)\n"
                "        return self.lstm(x) + y\n"
            ),
            id="the common call forms",
        ),
        Example(
            (
                "from torch import nn\n\n\n"
                "class Net(nn.Module):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.rnn = nn.RNN(4, 8)\n\n"
                "    def forward(self, x):\n"
                "        return self.rnn(x)\n"
            ),
            (
                "from mxnet import gluon, init\n\n\n"
                "class Net(gluon.Block):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.rnn = gluon.rnn.RNN(\n"
                "            8,\n"
                "            activation=\"tanh\",\n"
                "            input_size=4,\n"
                "            i2h_weight_initializer=init.Uniform(8**-0.5),\n"
                "            h2h_weight_initializer=init.Uniform(8**-0.5),\n"
                "            i2h_bias_initializer=init.Uniform(8**-0.5),\n"
                "            h2h_bias_initializer=init.Uniform(8**-0.5),\n"
                "        )\n\n"
                "    def forward(self, x):\n"
                "        # torch2gluon: T2G221: `self.rnn(...)` returns (output, h_n) in torch but only the output in "
                "Gluon when called without states; only `out, _ = ...`, `out, h = ...` and `...[0]` are translated; "
                "left as is\n"
                "        return self.rnn(x)\n"
            ),
            diagnostics=("T2G221",),
            id="other call forms are flagged",
        ),
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.globals: Dict[str, _Layer] = {}
        self.classes: List[Dict[str, _Layer]] = []
        self.handled: Set[int] = set()

    # -- which names hold recurrent layers ------------------------------------
    def visit_Module(self, node: cst.Module) -> None:
        self.globals = _recurrent_assignments(self.ctx, node, attr_of_self=False)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.classes.append(_recurrent_assignments(self.ctx, node.body, attr_of_self=True))

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef) -> None:
        self.classes.pop()
        return None

    def _layer(self, call: cst.BaseExpression) -> Optional[_Layer]:
        if not isinstance(call, cst.Call):
            return None
        func = call.func
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == "self":
            if self.classes:
                return self.classes[-1].get(func.attr.value)
            return None
        if isinstance(func, cst.Name):
            return self.globals.get(func.value)
        return None

    # -- the statement form -------------------------------------------------
    def _statement(self, stmt: cst.SimpleStatementLine):
        if len(stmt.body) != 1 or not isinstance(stmt.body[0], cst.Assign):
            return None
        assign = stmt.body[0]
        if len(assign.targets) != 1:
            return None
        layer = self._layer(assign.value)
        if layer is None:
            return None
        target = assign.targets[0].target
        if not isinstance(target, (cst.Tuple, cst.List)) or len(target.elements) != 2:
            return None
        if any(isinstance(e, cst.StarredElement) for e in target.elements):
            return None
        return assign, layer

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        found = self._statement(node)
        if found is not None:
            self.handled.add(id(found[0].value))

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if self._layer(node.value) is not None and _index(node) == 0:
            self.handled.add(id(node.value))

    def leave_Subscript(self, original: cst.Subscript, updated: cst.Subscript) -> Optional[cst.BaseExpression]:
        if id(original.value) not in self.handled or _index(original) != 0:
            return None
        call = original.value
        assert isinstance(call, cst.Call)
        try:
            b = bind(call, ["input", "hx"])
        except Unbindable:
            return None  # reported by leave_Call
        if "hx" in b and not is_literal(b["hx"], None):
            return None  # (output, states) in Gluon too
        new = updated.value
        assert isinstance(new, cst.Call)
        return new.with_changes(args=[new.args[0].with_changes(comma=cst.MaybeSentinel.DEFAULT)])

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> None:
        if id(original) in self.handled or self._layer(original) is None:
            return None
        try:
            b = bind(original, ["input", "hx"])
        except Unbindable:
            b = {}
        if "hx" in b and not is_literal(b["hx"], None):
            return None  # (output, states) in both; the states are a list in Gluon
        self.report(
            original,
            f"`{code_of(original.func)}(...)` returns (output, h_n) in torch but only the output in Gluon when "
            "called without states; only `out, _ = ...`, `out, h = ...` and `...[0]` are translated; left as is",
        )
        return None

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        found = self._statement(original)
        if found is None:
            return None
        assign, layer = found
        call = assign.value
        assert isinstance(call, cst.Call)
        new_assign = updated.body[0]
        assert isinstance(new_assign, cst.Assign)
        new_call = new_assign.value
        new_target = new_assign.targets[0].target
        assert isinstance(new_call, cst.Call) and isinstance(new_target, (cst.Tuple, cst.List))
        try:
            b = bind(call, ["input", "hx"])
            if "input" not in b:
                raise Unbindable("needs the input")
        except Unbindable as e:
            self.report(original, f"`{code_of(call.func)}(...)`: {e}; left as is")
            return None
        first, second = new_target.elements
        states_target = second.value
        has_states = "hx" in b and not is_literal(b["hx"], None)
        if not has_states and isinstance(states_target, cst.Name) and states_target.value == "_":
            # the output only
            args = [new_call.args[0].with_changes(comma=cst.MaybeSentinel.DEFAULT)]
            value = new_call.with_changes(args=args)
            target = first.value
            return updated.with_changes(
                body=[new_assign.with_changes(targets=[new_assign.targets[0].with_changes(target=target)],
                                              value=value)]
            )
        if layer.kind != "LSTM":
            if isinstance(states_target, cst.Name) and states_target.value != "_":
                # one state tensor in torch, a list of one in Gluon
                second = second.with_changes(value=cst.List(elements=[cst.Element(value=states_target)]))
            elif not (isinstance(states_target, cst.Name) and states_target.value == "_"):
                self.report(original, f"`{code_of(call.func)}(...)`: this target for a {layer.kind}'s state "
                            "is not translated; left as is")
                return None
        if has_states:
            new_value = new_call
        else:
            inp = b["input"]
            if not isinstance(inp, (cst.Name, cst.Attribute)):
                self.report(original, f"`{code_of(call.func)}(...)`: initial states are created from the input's "
                            "shape, so the input must be a name here; left as is")
                return None
            if layer.batch_axis is None:
                self.report(original, f"`{code_of(call.func)}(...)`: `batch_first` is decided at run time, so the "
                            "batch size of the initial states is unknown; left as is")
                return None
            inp_code = code_of(inp)
            begin = cst.parse_expression(
                f"{code_of(call.func)}.begin_state(batch_size={inp_code}.shape[{layer.batch_axis}], "
                f"ctx={inp_code}.context)"
            )
            args = [new_call.args[0].with_changes(comma=cst.MaybeSentinel.DEFAULT), arg(begin)]
            new_value = new_call.with_changes(args=args)
        elements = [first, second] if layer.kind != "LSTM" else list(new_target.elements)
        target = new_target.with_changes(elements=elements)
        return updated.with_changes(
            body=[new_assign.with_changes(targets=[new_assign.targets[0].with_changes(target=target)],
                                          value=new_value)]
        )


def _index(node: cst.Subscript) -> Optional[int]:
    if len(node.slice) != 1:
        return None
    s = node.slice[0].slice
    if isinstance(s, cst.Index):
        value = literal(s.value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None
