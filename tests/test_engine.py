"""The engine: name resolution, imports, diagnostics, markers, stability."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider, QualifiedNameProvider, QualifiedNameSource

from torch2gluon import Options, Severity, translate

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = sorted((ROOT / "fixtures").glob("*.py"))


def torch_lines(code: str):
    """Lines of ``code`` that refer to a name imported from torch/torchvision."""
    wrapper = MetadataWrapper(cst.parse_module(code))
    names = wrapper.resolve(QualifiedNameProvider)
    pos = wrapper.resolve(PositionProvider)
    lines = set()
    for node, qs in names.items():
        qs = qs() if callable(qs) else qs  # libcst computes qualified names lazily
        if isinstance(node, cst.Name) and any(
            q.source is QualifiedNameSource.IMPORT and q.name.split(".")[0] in ("torch", "torchvision") for q in qs
        ):
            lines.add(pos[node].start.line)
    return lines


def import_lines(code: str):
    return {i for i, line in enumerate(code.splitlines(), 1) if line.lstrip().startswith(("import ", "from "))}


def assert_torch_flagged(code: str) -> None:
    """Every statement still using torch has a marker right above it."""
    lines = code.splitlines()
    for n in sorted(torch_lines(code) - import_lines(code)):
        i = n - 2
        while i >= 0 and not lines[i].lstrip().startswith("# torch2gluon:"):
            # walk up through the statement's own earlier lines
            if lines[i].strip() == "" or lines[i].lstrip().startswith("#"):
                break
            i -= 1
        assert i >= 0 and lines[i].lstrip().startswith("# torch2gluon:"), f"line {n} uses torch without a marker:\n{code}"


@pytest.mark.parametrize(
    "source, expected",
    [
        pytest.param("import torch\nx = torch.zeros(2)\n", "nd.zeros(2)", id="import torch"),
        pytest.param("import torch as th\nx = th.zeros(2)\n", "nd.zeros(2)", id="import torch as"),
        pytest.param("import torch.nn as nn\nl = nn.Linear(2, 3)\n", "nn.Dense(", id="import torch.nn as nn"),
        pytest.param("import torch.nn\nl = torch.nn.Linear(2, 3)\n", "nn.Dense(", id="import torch.nn"),
        pytest.param("from torch import nn, optim\nl = nn.Linear(2, 3)\no = optim.SGD(l.parameters(), lr=1)\n", "gluon.Trainer(", id="from torch import nn, optim"),
        pytest.param("from torch.nn import Linear as L\nl = L(2, 3)\n", "nn.Dense(", id="from torch.nn import Linear as L"),
        pytest.param("import torchvision.transforms as T\nt = T.ToTensor()\n", "transforms.ToTensor()", id="import torchvision.transforms as T"),
        pytest.param("from torch import ones\nx = ones(2)\n", "nd.ones(2)", id="from torch import ones"),
        pytest.param("import torch\ndef f():\n    from torch import zeros\n    return zeros(3)\n", "nd.zeros(3)", id="import inside a function"),
    ],
)
def test_import_forms_are_resolved(source, expected):
    result = translate(source)
    assert expected in result.code
    assert "torch" not in result.code
    assert result.complete


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("import torch\nnn = make()\nx = nn.Linear(2, 3)\ny = torch.ones(1)\n", id="variable called nn"),
        pytest.param("import torch\ndef f(F):\n    return F.relu(1)\ny = torch.ones(1)\n", id="parameter called F"),
        pytest.param("import torch\nclass torch_like:\n    def ones(self, n): ...\nt = torch_like()\nz = t.ones(3)\ny = torch.ones(1)\n", id="method with a torch name"),
    ],
)
def test_shadowed_names_are_not_torch(source):
    result = translate(source)
    # the non-torch lines are untouched, byte for byte
    for line in source.splitlines()[1:-1]:
        assert line in result.code
    assert "nd.ones(1)" in result.code
    assert not result.diagnostics


def test_file_without_torch_is_returned_unchanged():
    source = "import numpy as np  # comment\nx=np.ones( 3 )\n"
    result = translate(source)
    assert result.code == source and not result.changed and not result.diagnostics


def test_torch_only_in_a_comment_or_string():
    source = "# uses torch later\nx = 'torch.ones(3)'\n"
    assert translate(source).code == source


def test_untouched_code_keeps_comments_and_layout():
    source = (
        "import torch\n"
        "def helper( a,b ):   # odd spacing kept\n"
        "    return {'a':a,\n"
        "            'b':b}\n"
        "\n"
        "x = torch.ones(2,2)   # made here\n"
        "# trailing comment\n"
    )
    code = translate(source).code
    assert "def helper( a,b ):   # odd spacing kept\n    return {'a':a,\n            'b':b}\n" in code
    assert "x = nd.ones((2, 2))  # made here\n# trailing comment\n" in code


def test_changed_statement_inside_untouched_function_is_formatted_alone():
    source = "import torch\ndef f( a ):\n    b = [1,2]\n    return torch.ones(a,a)\n"
    code = translate(source).code
    assert "def f( a ):\n    b = [1,2]\n    return nd.ones((a, a))\n" in code


def test_syntax_error_is_a_diagnostic_with_position():
    source = "import torch\nx = torch.ones(2\ny = 3\n"
    result = translate(source)
    assert result.code == source
    (diag,) = result.diagnostics
    assert diag.rule == "T2G000" and diag.severity is Severity.ERROR
    assert diag.line in (2, 3)
    assert "parse" in diag.message


@pytest.mark.parametrize("source", ["\x00", "import torch\n\x0c\n", "torch" * 3, "import torch\nif True:\n  x = 1\n   y = 2\n", "import torch\n" + "(" * 200 + ")" * 200 + "\n"])
def test_bad_input_never_raises(source):
    result = translate(source)
    assert isinstance(result.code, str)


def test_diagnostic_positions_point_at_the_original_call():
    source = "import torch\n\n\ny = 1\nz = [torch.fft.fft(x), 2]\n"
    result = translate(source)
    (diag,) = result.diagnostics
    assert (diag.rule, diag.line, diag.column) == ("T2G001", 5, 6)
    assert (diag.end_line, diag.end_column) == (5, 19)
    assert "`torch.fft.fft`" in diag.message
    assert result.code.splitlines()[1:] == [
        "",
        "",
        "y = 1",
        "# torch2gluon: T2G001: `torch.fft.fft` has no translation; left as is",
        "z = [torch.fft.fft(x), 2]",
    ]


def test_untranslated_torch_keeps_its_import_and_clashing_names_get_an_alias():
    source = "import torch.nn as nn\nlin = nn.Linear(2, 3)\nbil = nn.Bilinear(2, 2, 3)\n"
    result = translate(source)
    assert "import torch.nn as nn\nfrom mxnet import init\nfrom mxnet.gluon import nn as mx_nn\n" in result.code
    assert "lin = mx_nn.Dense(" in result.code
    assert [d.rule for d in result.diagnostics] == ["T2G001"]
    assert not result.complete
    assert_torch_flagged(result.code)


def test_user_variable_named_like_an_mxnet_module_is_not_shadowed():
    source = "import torch\nnd = 3\nx = torch.ones(nd)\n"
    code = translate(source).code
    assert "from mxnet import nd as mx_nd" in code
    assert "x = mx_nd.ones(nd)" in code


def test_existing_mxnet_import_is_reused():
    source = "import torch\nfrom mxnet import nd\na = nd.ones(2)\nb = torch.ones(2)\n"
    code = translate(source).code
    assert code.count("from mxnet import nd") == 1
    assert "b = nd.ones(2)" in code


def test_comments_above_a_removed_import_are_kept():
    source = "# header\nimport torch  # the framework\n\nx = torch.ones(2)\n"
    code = translate(source).code
    assert code.startswith("# header\nfrom mxnet import nd\n")
    assert "# the framework\n" in code


def test_disabled_rule_is_reported_not_passed_through():
    result = translate("import torch\nx = torch.ones(2)\n", options=Options(disable=("T2G101",)))
    assert "torch.ones(2)" in result.code
    assert [d.rule for d in result.diagnostics] == ["T2G001"]


def test_mxnet_init_option():
    source = "from torch import nn\nfc = nn.Linear(4, 2)\n"
    torch_init = translate(source).code
    mx_init = translate(source, options=Options(init="mxnet"))
    assert "weight_initializer=init.Uniform(4**-0.5)" in torch_init
    assert "initializer" not in mx_init.code
    assert [d.severity for d in mx_init.diagnostics] == [Severity.WARNING]


@pytest.mark.parametrize("path", FIXTURES, ids=[p.name for p in FIXTURES])
def test_fixture_translation_is_stable_and_flags_all_torch(path):
    source = path.read_text(encoding="utf-8")
    once = translate(source)
    compile(once.code, str(path), "exec")
    assert translate(once.code).code == once.code
    assert_torch_flagged(once.code)


def test_reference_tensor_snippet_matches_the_reference():
    source = (ROOT / "fixtures" / "tensor_snippet.py").read_text(encoding="utf-8")
    assert translate(source).code == "from mxnet import nd\n\nx = nd.ones((5, 3))\ny = x + 1\nprint(y)\n"


def test_reference_mlp_translation_has_the_reference_parts():
    code = translate((ROOT / "fixtures" / "reference_mlp.py").read_text(encoding="utf-8")).code
    for part in [
        "from mxnet import autograd, gluon, init",
        "from mxnet.gluon import nn",
        "from mxnet.gluon.data.vision import datasets, transforms",
        "train_data = gluon.data.DataLoader(",
        'datasets.MNIST("data", train=True).transform_first(',
        "transforms.Normalize(0.13, 0.31)",
        "net = nn.Sequential()\nnet.add(",
        "net.initialize()",
        "loss_fn = gluon.loss.SoftmaxCrossEntropyLoss(axis=1)",
        'trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})',
        "        with autograd.record():\n            loss = loss_fn(net(X.reshape((-1, 28 * 28))), y)\n        loss.backward()\n",
        "trainer.step(loss.shape[0])",
        "total_loss += loss.mean().asscalar()",
        # untouched lines keep their spelling
        "    total_loss = .0\n",
        "    print('epoch %d, avg loss %.4f, time %.2f' % (\n        epoch, total_loss/len(train_data), time()-tic))\n",
    ]:
        assert part in code, part
    assert "torch" not in code.replace("# ", "").split("\n", 2)[2]


def test_translate_does_not_import_torch_or_mxnet():
    script = (
        "import sys, torch2gluon\n"
        "r = torch2gluon.translate(open(sys.argv[1]).read())\n"
        "assert r.changed\n"
        "bad = [m for m in ('torch', 'mxnet', 'torchvision', 'numpy') if m in sys.modules]\n"
        "print(bad)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(ROOT / "fixtures" / "reference_mlp.py")],
        capture_output=True, text=True, check=True,
    )
    assert out.stdout.strip() == "[]"


def test_suppression_comment_keeps_the_statement_and_silences_it():
    source = (
        "import torch\n"
        "x = torch.ones(2, 3)  # torch2gluon: ignore\n"
        "z = torch.fft.fft(x)  # torch2gluon: ignore[T2G001]\n"
        "w = torch.eye(2)  # torch2gluon: ignore[T2G001]\n"
    )
    result = translate(source)
    assert "x = torch.ones(2, 3)  # torch2gluon: ignore\n" in result.code
    assert "z = torch.fft.fft(x)  # torch2gluon: ignore[T2G001]\n" in result.code
    assert "w = nd.eye(2)  # torch2gluon: ignore[T2G001]\n" in result.code  # other rules still run
    assert result.diagnostics == ()
    assert "import torch\n" in result.code  # still used by the ignored lines
    assert translate(result.code).code == result.code


def test_suppressing_one_rule_reports_the_line_as_untranslated():
    result = translate("import torch\ny = torch.zeros(2)  # torch2gluon: ignore[T2G101]\n")
    assert "y = torch.zeros(2)" in result.code
    assert [(d.rule, d.line) for d in result.diagnostics] == [("T2G001", 2)]


def test_suppression_on_a_training_step_leaves_the_block_alone():
    source = (
        "import torch\n"
        "for x, y in loader:\n"
        "    opt.zero_grad()\n"
        "    loss = crit(net(x), y)\n"
        "    loss.backward()  # torch2gluon: ignore[T2G501]\n"
        "    opt.step()\n"
    )
    result = translate(source)
    assert "opt.zero_grad()" in result.code and "autograd" not in result.code


def test_a_suppression_that_drops_generated_code_drops_its_import():
    result = translate("import torch\nx = torch.ones(2)  # torch2gluon: ignore\n")
    assert result.code == "import torch\nx = torch.ones(2)  # torch2gluon: ignore\n"


def test_stats_count_torch_references_translated_and_left():
    result = translate("import torch\nfrom torch import nn\nx = torch.fft.fft(torch.ones(3))\nl = nn.Linear(2, 2)\n")
    # torch.fft.fft, torch.ones, nn.Linear: each dotted reference counts once
    assert result.stats == {"torch_references": 3, "translated": 2, "untranslated": 1}
    assert translate("x = 1\n").stats == {}


def test_a_name_that_may_be_torch_or_a_local_value_is_reported_not_translated():
    result = translate("import torch\nif cond:\n    torch = object()\nx = torch.ones(1)\n")
    assert "x = torch.ones(1)" in result.code
    (diag,) = result.diagnostics
    assert diag.rule == "T2G001" and "may be torch" in diag.message and diag.line == 4


def test_helper_definitions_go_after_the_imports_once():
    """A rule that needs a module-level definition (TorchAdadelta) gets it
    once, after the run of imports holding the first torch import."""
    source = (
        '"""Train."""\nfrom __future__ import annotations\nimport os\nimport torch\nimport numpy as np\n'
        "# the model\nnet = torch.nn.Linear(2, 1)\n"
        "a = torch.optim.Adadelta(net.parameters(), lr=0.5)\nb = torch.optim.Adadelta(net.parameters())\n"
    )
    out = translate(source)
    code = out.code
    assert code.count("class TorchAdadelta(") == 1
    lines = code.splitlines()
    helper = lines.index("@mx.optimizer.register")
    last_import = max(i for i, line in enumerate(lines) if line.startswith(("import ", "from ")))
    assert last_import < helper < lines.index("# the model")
    assert lines[helper - 2:helper] == ["", ""]
    ast.parse(code)
    assert translate(code).code == code  # stable


def test_helper_definitions_when_torch_is_imported_in_a_function():
    source = '"""Doc."""\ndef make(net):\n    import torch\n    return torch.optim.Adadelta(net.parameters(), lr=0.5)\n'
    code = translate(source).code
    ast.parse(code)
    lines = code.splitlines()
    assert lines[0] == '"""Doc."""'
    assert lines.index("@mx.optimizer.register") < lines.index("def make(net):")


def test_helper_definitions_are_written_black_formatted():
    """The engine does not run black on them (they are long): they must already be."""
    import black

    source = (
        "import torch\nnet = torch.nn.Linear(2, 1)\n"
        "a = torch.optim.Adadelta(net.parameters(), lr=0.5)\n"
        "b = torch.optim.Adam(net.parameters())\n"
        "c = torch.optim.RMSprop(net.parameters())\n"
        "d = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)\n"
        "e = torch.optim.Adagrad(net.parameters())\n"
    )
    code = translate(source).code
    start = code.index("@mx.optimizer.register")
    end = code.index("\n\n\nnet = ")
    helpers = code[start:end] + "\n"
    assert helpers.count("@mx.optimizer.register") == 5
    assert black.format_str(helpers, mode=black.Mode()) == helpers


# -- a second pass over a translation changes nothing (the pre-commit hook runs
#    on files it translated before); each case is a shape pytorch/examples has


def _marker_above(code: str, statement: str) -> str:
    lines = code.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith(statement))
    return lines[at - 1].strip()


def test_a_marker_inside_a_changed_if_stays_on_its_statement():
    source = (
        "import torch\nimport argparse\nargs = argparse.Namespace(accel=False)\n\n"
        "if args.accel and torch.accelerator.is_available():\n"
        "    device = torch.accelerator.current_accelerator(check_available=True)\n"
        "else:\n    device = torch.device('cpu')\n\nprint(device)\n"
    )
    code = translate(source).code
    assert _marker_above(code, "device = torch.accelerator").startswith("# torch2gluon: T2G801:")
    assert _marker_above(code, "print(device)") == ""
    assert "else:\n    device = mx.cpu()\n" in code  # the else body is formatted, the if's body kept
    assert translate(code).code == code


def test_a_marker_on_the_statement_after_inserted_helpers_stays_there():
    source = (
        "import torch\nimport torchvision.models as models\n"
        "names = sorted(n for n in models.__dict__\n    if n.islower())\n"
        "net = torch.nn.Linear(2, 1)\nopt = torch.optim.Adadelta(net.parameters(), lr=0.5)\n"
    )
    code = translate(source).code
    assert code.index("@mx.optimizer.register") < code.index("names = sorted(")  # the helper went before it
    assert _marker_above(code, "names = sorted(").startswith("# torch2gluon: T2G001:")
    assert "names = sorted(n for n in models.__dict__\n    if n.islower())\n" in code  # its layout kept
    assert translate(code).code == code


def test_a_second_pass_keeps_the_markers_of_a_statement_it_names_differently():
    # the first pass rewrites view() around the refused cauchy_: the second
    # pass's message names reshape(), and the statement has its T2G104 already
    source = (
        "import torch\ndef acc(pred, target):\n"
        "    correct = pred.eq(target.view(1, -1).cauchy_())\n    return correct\n"
    )
    once = translate(source).code
    assert once.count("T2G104") == 1
    assert translate(once).code == once


def test_a_second_pass_leaves_our_own_output_alone():
    source = (
        "import torch\nfrom torch import nn\nfrom torchvision import transforms\n"
        "t = transforms.Compose([transforms.RandomHorizontalFlip(), transforms.ToTensor()])\n"
        "class M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.relu = nn.ReLU()\n\n    def forward(self, x):\n        return self.relu(x) + 1.0\n"
        "def count(pred, target):\n    return pred.eq(target).sum().item()\n"
    )
    once = translate(source)
    assert "nd.flip(img, axis=1)" in once.code
    assert ".asscalar()\n        .item()" in once.code or ".asscalar().item()" in once.code
    again = translate(once.code)
    assert again.code == once.code
    assert not [d for d in again.diagnostics if d.severity is Severity.ERROR]


def test_a_layer_built_in_place_is_a_model_for_its_methods_and_parameters():
    # nn.Conv2d(4, 5, 3).double() and nn.Linear(4, 4).weight: Gluon blocks have no double(),
    # and a layer's parameters exist only after initialize() (the peer suite's crashes)
    from torch2gluon import Severity, translate

    src = "import torch\nimport torch.nn as nn\nmodel = nn.Conv2d(4, 5, 3).double()\nw = nn.Linear(4, 4).weight.abs()\n"
    errors = [d for d in translate(src).diagnostics if d.severity is Severity.ERROR]
    assert [(d.rule, d.line) for d in errors] == [("T2G002", 3), ("T2G002", 4)], errors


def test_a_second_pass_leaves_the_translation_s_helpers_alone():
    # pytorch/examples word_language_model: a second pass read `_t2g_axes`'s body as torch
    # code (`dims = (dims,)` went), and helpers it needed again were defined twice
    from torch2gluon import translate

    src = (
        "import torch\nx = torch.ones(2, 3, 4)\ny = x.permute(2, 0, 1)\nz = x.movedim(0, -1)\n"
        "a = torch.arange(6)\nb = a.float() / a\nq = torch.special.zeta(x, 2.0)\n"  # (left: torch stays)
    )
    first = translate(src).code
    assert "def _t2g_" in first
    again = translate(first)
    assert again.code == first
    names = [line.split("(")[0] for line in first.splitlines() if line.startswith("def _t2g_")]
    assert len(names) == len(set(names))


def test_wrapping_a_name_in_a_tuple_is_not_a_self_assignment():
    # `dims = (dims,)` was taken for `X = X` (what Variable removal leaves, and T2G501 drops):
    # a second pass over pytorch/examples' word_language_model dropped it from a helper
    import libcst as cst

    from torch2gluon.rules.training._statements import is_self_assignment

    def stmt(code):
        return cst.parse_statement(code)

    assert not is_self_assignment(stmt("dims = (dims,)\n"))
    assert not is_self_assignment(stmt("a, b = (a, b),\n"))
    assert is_self_assignment(stmt("X, y = X, y\n")) and is_self_assignment(stmt("x = x\n"))

