"""A model called in torch's training mode outside a training step keeps that mode."""

from __future__ import annotations

from typing import Dict, List, Optional, Set, Tuple

import libcst as cst

from ..analysis.kinds import Kind
from ..base.diagnostics import Severity
from ..base.syntax import children, code_of, literal
from ._base import Example, Rule

# torch layers whose output depends on the module's mode (batch statistics, dropout)
_MODE_LAYERS = (
    "torch.nn.BatchNorm", "torch.nn.SyncBatchNorm", "torch.nn.InstanceNorm", "torch.nn.Dropout",
    "torch.nn.AlphaDropout", "torch.nn.FeatureAlphaDropout", "torch.nn.LazyBatchNorm",
    "torch.nn.LazyInstanceNorm", "torch.nn.Transformer", "torch.nn.MultiheadAttention",
    "torch.nn.RNN", "torch.nn.LSTM", "torch.nn.GRU", "torchvision.models.", "torch.hub.",
)
# scopes whose statements run in their caller's mode
_DEFERRED = (cst.Lambda, cst.GeneratorExp)

TRAIN, EVAL, UNKNOWN = "train", "eval", "unknown"
# MXNet's own mode blocks: code inside them is Gluon's already, in the mode they state
_GLUON_MODES = ("mxnet.autograd.record", "mxnet.autograd.train_mode", "mxnet.autograd.pause", "mxnet.autograd.predict_mode")


class TrainModeCalls(Rule):
    """A model in torch's training mode, called outside a training step, is kept in training mode.

    ## What it does
    A torch module is in training mode from its construction until
    ``.eval()``: its BatchNorm layers normalise with the batch's statistics
    and its dropout drops. A Gluon block is in training mode only inside
    ``autograd.record()`` (or ``autograd.train_mode()``), and the translation
    drops ``.train()``/``.eval()`` (T2G501). So a call of a model that is in
    training mode in torch and runs outside the recorded forward pass of a
    training step -- a layer tried on a batch at module level, a batch of
    samples generated after the optimizer step, a no_grad block without
    ``.eval()`` -- has its statement wrapped in ``with
    autograd.train_mode():``.

    The mode is read from the ``.train()``/``.eval()`` calls on the model (or
    on what holds it: ``net.eval()`` switches ``net.encoder`` too) before the
    call in the same function or module; none means torch's default, training
    mode, where the model was built in the script and the script switches no
    model to evaluation mode anywhere. Calls inside a model's own methods run
    in their caller's mode and are left alone. Nothing is done in a script
    that builds no layer whose output depends on the mode (BatchNorm,
    InstanceNorm, dropout, recurrent and attention layers, pretrained models).

    ## Flags
    A call whose mode is not known (a model passed in, a switch inside a loop
    after the call, ``.train(flag)``), and a call in training mode that cannot
    be wrapped (in an ``if``/``while``/``for`` header, a lambda or a generator
    expression, which run later) are reported.

    ## Fix safety
    Outputs match torch's training mode (batch statistics). torch also
    updates BatchNorm's running statistics on such a call; Gluon does so only
    on ``backward()``.
    """

    code = "T2G506"
    name = "training-mode-calls"
    summary = "a model called in torch's training mode outside a training step -> with autograd.train_mode()"
    examples = (
        Example(
            "import torch\nfrom torch import nn\nbn = nn.BatchNorm1d(4)\nx = torch.randn(8, 4)\ny = bn(x)\n",
            "from mxnet import autograd, nd\nfrom mxnet.gluon import nn\n\n"
            "# torch2gluon: T2G205: MXNet's running_var is the biased batch variance (torch: unbiased); "
            "evaluation with running statistics differs slightly\n"
            "bn = nn.BatchNorm(momentum=0.9, in_channels=4)\nbn.initialize()\nx = nd.random.normal(shape=(8, 4))\n"
            "with autograd.train_mode():\n    y = bn(x)\n",
            diagnostics=("T2G205",),
            id="a layer tried on a batch",
        ),
        Example(
            "import torch\nfrom torch import nn\nbn = nn.BatchNorm1d(4)\nbn.eval()\ny = bn(torch.randn(8, 4))\n",
            "from mxnet import nd\nfrom mxnet.gluon import nn\n\n"
            "# torch2gluon: T2G205: MXNet's running_var is the biased batch variance (torch: unbiased); "
            "evaluation with running statistics differs slightly\n"
            "bn = nn.BatchNorm(momentum=0.9, in_channels=4)\nbn.initialize()\ny = bn(nd.random.normal(shape=(8, 4)))\n",
            diagnostics=("T2G205",),
            id="after eval(): Gluon's inference mode is the same",
        ),
    )

    def visit_Module(self, node: cst.Module) -> None:
        self._wrap: Set[int] = set()
        if not self._mode_layers(node):
            return
        self._module_id = id(node)
        self._any_eval = False
        # per scope: (receiver text, mode, statement, enclosing loops) of every train()/eval() statement
        self._switches: Dict[int, List[Tuple[str, str, cst.CSTNode, Tuple[int, ...]]]] = {}
        # per scope: (function name, position, enclosing loops) of every call of a plain name
        self._named_calls: Dict[int, List[Tuple[str, int, Tuple[int, ...]]]] = {}
        self._scope_name: Dict[int, str] = {}
        self._params: Dict[int, Set[str]] = {}
        self._order: Dict[int, int] = {}
        self._body_of: Dict[int, Tuple[List[cst.BaseStatement], int]] = {}
        calls = []
        stack: List[tuple] = [(node, id(node), (), None, None, False)]
        counter = 0
        while stack:
            n, scope, loops, stmt, deferred, in_class = stack.pop()
            counter += 1
            self._order[id(n)] = counter
            if isinstance(n, cst.ClassDef):
                in_class = True
            if isinstance(n, cst.FunctionDef):
                scope, loops = id(n), ()
                self._scope_name[scope] = n.name.value
                self._params[scope] = {p.name.value for p in (*n.params.posonly_params, *n.params.params, *n.params.kwonly_params)}
            if isinstance(n, (cst.For, cst.While)):
                loops = loops + (id(n),)
            if isinstance(n, _DEFERRED):
                deferred = n
            if isinstance(n, cst.With) and self._gluon_mode(n):
                continue  # a mode Gluon's code states (a second pass over a translation)
            if isinstance(n, (cst.Module, cst.IndentedBlock)):
                body = list(n.body)
                for i, s in enumerate(body):
                    self._body_of[id(s)] = (body, i)
            if isinstance(n, cst.BaseStatement):
                stmt = n
                self._switch(n, scope, loops)
            if isinstance(n, cst.Call):
                if isinstance(n.func, cst.Name):
                    self._named_calls.setdefault(scope, []).append((n.func.value, counter, loops))
                if not in_class and self.ctx.kind(n.func) is Kind.MODULE:
                    calls.append((n, scope, loops, stmt, deferred))
            for c in reversed(children(n)):
                stack.append((c, scope, loops, stmt, deferred, in_class))
        # local functions that switch a mode: calling one changes what follows
        self._switching = {self._scope_name[s] for s in self._switches if s in self._scope_name}
        for call, scope, loops, stmt, deferred in calls:
            self._decide(call, scope, loops, stmt, deferred)

    def _gluon_mode(self, node: cst.With) -> bool:
        return any(
            isinstance(item.item, cst.Call)
            and self.ctx.imported_name(item.item.func) in _GLUON_MODES
            for item in node.items
        )

    def _mode_layers(self, module: cst.Module) -> bool:
        """The script builds a layer whose output depends on the mode (or a model it cannot see into)."""
        found = False

        class Find(cst.CSTVisitor):
            def visit_Attribute(inner, n: cst.Attribute) -> bool:  # noqa: N805
                return inner.check(n)

            def visit_Name(inner, n: cst.Name) -> bool:  # noqa: N805
                return inner.check(n)

            def check(inner, n: cst.CSTNode) -> bool:  # noqa: N805
                nonlocal found
                name = self.ctx.torch_name(n)
                if name is not None and name.startswith(_MODE_LAYERS):
                    found = True
                return not found

        module.visit(Find())
        return found

    def _switch(self, stmt: cst.BaseStatement, scope: int, loops: Tuple[int, ...]) -> None:
        if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
            return
        small = stmt.body[0]
        if not isinstance(small, cst.Expr) or not isinstance(small.value, cst.Call):
            return
        call = small.value
        if not isinstance(call.func, cst.Attribute) or call.func.attr.value not in ("train", "eval"):
            return
        if call.func.attr.value == "eval":
            mode = EVAL if not call.args else UNKNOWN
        elif not call.args:
            mode = TRAIN
        else:
            flag = literal(call.args[0].value)
            mode = TRAIN if flag is True else EVAL if flag is False else UNKNOWN
        if mode != TRAIN:
            self._any_eval = True
        self._switches.setdefault(scope, []).append((code_of(call.func.value), mode, stmt, loops))

    def _mode(self, call: cst.Call, scope: int, loops: Tuple[int, ...]) -> str:
        """torch's mode of the model ``call`` calls: TRAIN, EVAL or UNKNOWN."""
        recv = code_of(call.func)
        here = self._order[id(call)]
        before, since = None, 0
        later: List[Tuple[str, Tuple[int, ...]]] = []
        for target, mode, stmt, s_loops in self._switches.get(scope, ()):
            if target != recv and _covers(recv, target):
                return UNKNOWN  # a part of the model switched: its parts may be in different modes
            if not _covers(target, recv):
                continue
            at = self._order[id(stmt)]
            if at < here:
                before, since = mode, at
            elif set(s_loops) & set(loops):
                later.append((mode, s_loops))
        for mode, s_loops in later:  # after the call, in a loop around both: the next round's mode
            shared = [lp for lp in loops if lp in s_loops]
            if before is None or not self._switched_in(scope, recv, shared[-1], here):
                if mode != (before or TRAIN):
                    return UNKNOWN
        for name, at, c_loops in self._named_calls.get(scope, ()):
            if name in self._switching and (since < at < here or set(c_loops) & set(loops)):
                return UNKNOWN  # a local function that switches modes runs in between
        if before is not None:
            return before
        root = recv.split(".")[0].split("[")[0]
        if scope != self._module_id and (root in self._params.get(scope, ()) or self._any_eval):
            return UNKNOWN  # the caller's mode
        return TRAIN

    def _switched_in(self, scope: int, recv: str, loop: int, here: int) -> bool:
        """A switch inside ``loop``, before the call, sets the mode in every round."""
        for target, _, stmt, s_loops in self._switches.get(scope, ()):
            if loop in s_loops and self._order[id(stmt)] < here and _covers(target, recv):
                return True
        return False

    def _decide(self, call, scope, loops, stmt, deferred) -> None:
        if stmt is None or not self._outside_step(stmt):
            return
        mode = self._mode(call, scope, loops)
        if mode == EVAL:
            return
        shown = code_of(call.func)
        if mode == UNKNOWN:
            self.report(
                call,
                f"`{code_of(call)}` runs outside a training step, and whether `{shown}` is in torch's training "
                "or evaluation mode here is not known (Gluon's mode is `autograd.record()`/`autograd.train_mode()`: "
                f"BatchNorm and dropout would behave as in evaluation); call `{shown}.eval()` or `{shown}.train()` "
                "before it in this function",
            )
            return
        if deferred is not None or not isinstance(stmt, cst.SimpleStatementLine):
            self.report(
                call,
                f"`{shown}` is in torch's training mode here (batch statistics, dropout), which Gluon keeps only "
                "inside `autograd.train_mode()`; this call cannot be wrapped in it where it stands",
            )
            return
        self._wrap.add(id(stmt))
        if self._any_eval:
            self.report(
                call,
                f"`{shown}` is kept in training mode for this call (batch statistics, dropout), but unlike torch "
                "Gluon updates BatchNorm's running statistics only in `backward()`: evaluation mode later sees "
                "statistics without this batch",
                severity=Severity.WARNING,
            )

    def _outside_step(self, stmt: cst.BaseStatement) -> bool:
        """No ``backward()`` follows the statement in its block: its forward pass is not recorded."""
        place = self._body_of.get(id(stmt))
        if place is None:
            return True
        body, i = place
        return not any(_calls_backward(s) for s in body[i + 1:])

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        if id(original) not in self._wrap:
            return None
        inner = updated.with_changes(leading_lines=())
        wrapped = cst.With(
            items=[cst.WithItem(item=cst.Call(func=self.ctx.ref("mxnet.autograd.train_mode")))],
            body=cst.IndentedBlock(body=[inner]),
            leading_lines=updated.leading_lines,
        )
        for node in (wrapped, inner):  # both stand for the statement; its markers go inside
            self.ctx.origin[id(node)] = (node, original)
        return wrapped


def _covers(target: str, recv: str) -> bool:
    """A switch of ``target`` switches ``recv``: the same model or one it holds."""
    return target == recv or recv.startswith((target + ".", target + "["))


def _calls_backward(stmt: cst.CSTNode) -> bool:
    stack = [stmt]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.Call) and isinstance(n.func, cst.Attribute) and n.func.attr.value == "backward":
            return True
        stack.extend(children(n))
    return False
