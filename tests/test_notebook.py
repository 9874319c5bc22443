"""Jupyter notebooks through the CLI, the report and translate_notebook(),
on real .ipynb files (fixtures/mlp_notebook.ipynb: markdown, raw, IPython
magics and shell lines, a model cell and a %%time training cell with
outputs, a %%bash cell)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from torch2gluon import translate
from torch2gluon.cli import EXIT_CHANGED, EXIT_ERROR, EXIT_OK, main
from torch2gluon.notebook import translate_notebook
from torch2gluon.notebook.ipython import split_cell

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "fixtures" / "mlp_notebook.ipynb"
SCHEMA = json.loads((REPO / "docs" / "report.schema.json").read_text(encoding="utf-8"))
CHANGED = {3, 5, 6, 8}  # the code cells that use torch (1-based, every cell counted)


def notebook(*cells, metadata=None, minor=5) -> str:
    """A notebook's text as Jupyter writes it; cells are (type, source) or
    (type, source, extra fields)."""
    nb = nbformat.v4.new_notebook()
    nb.nbformat_minor = minor
    nb.metadata = metadata if metadata is not None else {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
    }
    for i, spec in enumerate(cells, start=1):
        kind, source = spec[0], spec[1]
        make = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell, "raw": nbformat.v4.new_raw_cell}[kind]
        cell = make(source, **(spec[2] if len(spec) > 2 else {}))
        cell["id"] = f"cell-{i}"
        nb.cells.append(cell)
    return nbformat.writes(nb) + "\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


def cell_json(cell) -> str:
    """A cell as nbformat writes it inside a notebook (indent 1, at depth 2)."""
    text = json.dumps(cell, indent=1, sort_keys=True, ensure_ascii=False, separators=(",", ": "))
    return "\n".join("  " + line if i else line for i, line in enumerate(text.split("\n")))


def python_of(nb, skip_ipython=True) -> str:
    """The code cells' Python, in order, IPython lines left out."""
    parts = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if source.startswith("%%time\n"):
            source = source.split("\n", 1)[1]
        elif source.startswith("%%"):
            continue
        lines = [
            line for line in source.split("\n")
            if not (skip_ipython and (line.lstrip().startswith(("%", "!")) or line.rstrip().endswith("?")))
        ]
        parts.append("\n".join(lines))
    return "\n".join(parts) + "\n"


# ---------------------------------------------------------------------------
# The fixture notebook through the CLI
# ---------------------------------------------------------------------------


@pytest.fixture
def translated(tmp_path, capsys):
    out = tmp_path / "mlp_gluon.ipynb"
    assert main([str(FIXTURE), "-o", str(out)]) == EXIT_OK
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == (
        "1 file translated, 0 files left unchanged, 0 files failed; 0 diagnostics (0 untranslated); "
        "11 torch call sites found, 11 translated (100%)"
    )
    return out


def test_code_cells_are_translated_and_everything_else_is_kept(translated, capsys):
    old = json.loads(FIXTURE.read_text(encoding="utf-8"))
    new = json.loads(translated.read_text(encoding="utf-8"))
    assert new["metadata"] == old["metadata"]  # kernel spec, language info
    assert (new["nbformat"], new["nbformat_minor"]) == (old["nbformat"], old["nbformat_minor"])
    assert [c["id"] for c in new["cells"]] == [c["id"] for c in old["cells"]]
    assert [c["cell_type"] for c in new["cells"]] == [c["cell_type"] for c in old["cells"]]
    for number, (a, b) in enumerate(zip(old["cells"], new["cells"]), start=1):
        assert a["metadata"] == b["metadata"], number
        if number in CHANGED:
            assert a["source"] != b["source"], number
            assert b["outputs"] == [] and b["execution_count"] is None, number
        else:
            assert a == b, number
    source = {n: "".join(c["source"]) for n, c in enumerate(new["cells"], start=1)}
    assert "from mxnet import autograd, gluon, init, nd" in source[3] and "torch" not in source[3]
    assert "class Net(gluon.Block):" in source[6] and "model.initialize()" in source[6]
    assert "gluon.Trainer(model.collect_params()" in source[6]
    assert source[8].startswith("%%time\nlosses = []\n")  # the cell magic stays first
    assert "with autograd.record():" in source[8] and "optimizer.step(loss.shape[0])" in source[8]
    assert source[2] == "%matplotlib inline\n!pip install -q torchvision\n%load_ext autoreload"
    assert source[10].startswith("%%bash\n")
    assert "torch" not in "".join(source[n] for n in CHANGED)


def test_unchanged_cells_are_byte_identical_in_the_written_file(translated):
    old_text = FIXTURE.read_text(encoding="utf-8")
    new_text = translated.read_text(encoding="utf-8")
    old = json.loads(old_text)
    for number, cell in enumerate(old["cells"], start=1):
        if number not in CHANGED:
            assert cell_json(cell) in old_text, number  # the helper is right...
            assert cell_json(cell) in new_text, number  # ...and the cell is there as it was


def test_written_as_nbformat_writes(translated):
    data = translated.read_bytes()
    text = data.decode("utf-8")
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert "×" in text and "\\u00d7" not in text  # UTF-8, not escaped
    assert text.startswith('{\n "cells": [\n  {\n   "cell_type"')  # indent 1, sorted keys
    nb = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
    nbformat.validate(nb)
    assert nbformat.writes(nb) + "\n" == text


def test_cells_are_one_program(translated):
    """The translated cells are the translation of all cells as one script:
    an import in cell 3 is known in cell 8."""
    old = json.loads(FIXTURE.read_text(encoding="utf-8"))
    new = json.loads(translated.read_text(encoding="utf-8"))

    def lines(code):
        return [line for line in code.split("\n") if line.strip()]

    assert lines(python_of(new)) == lines(translate(python_of(old)).code)


def test_the_translated_notebook_runs_under_mxnet(translated):
    """The code cells of the translation, run in order (IPython lines left
    out), train the model: three epochs, each loss finite."""
    new = json.loads(translated.read_text(encoding="utf-8"))
    script = python_of(new) + "import math\nassert len(losses) == 3 and all(math.isfinite(v) for v in losses), losses\n"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.findall(r"^epoch (\d): loss \d+\.\d{4}$", proc.stdout, re.M) == ["0", "1", "2"], proc.stdout


def test_translation_is_stable(translated, capsys):
    assert main(["--check", str(translated)]) == EXIT_OK
    again = translate_notebook(translated.read_text(encoding="utf-8"))
    assert not again.changed and again.complete


# ---------------------------------------------------------------------------
# --check, --diff, --in-place, trees, stdin
# ---------------------------------------------------------------------------


def test_check_exit_codes_and_writes_nothing(tmp_path, capsys):
    nb = write(tmp_path / "nb.ipynb", FIXTURE.read_text(encoding="utf-8"))
    plain = write(tmp_path / "plain.ipynb", notebook(("code", "print(1)")))
    before = nb.read_bytes()
    assert main(["--check", str(nb)]) == EXIT_CHANGED
    assert f"would translate {nb}" in capsys.readouterr().err
    assert nb.read_bytes() == before
    assert main(["--check", str(plain)]) == EXIT_OK


def test_diff_is_per_cell(tmp_path, capsys):
    nb = write(tmp_path / "nb.ipynb", FIXTURE.read_text(encoding="utf-8"))
    assert main(["--diff", str(nb)]) == EXIT_CHANGED
    out = capsys.readouterr().out
    name = str(nb).lstrip("/")
    headers = re.findall(r"^--- a/(.*)$", out, re.M)
    assert headers == [f"{name}:cell {n}" for n in sorted(CHANGED)]
    assert f"+++ b/{name}:cell 8\n" in out
    assert "-        optimizer.zero_grad()\n" in out and "+        with autograd.record():\n" in out
    assert '"cell_type"' not in out and "No newline" not in out  # cells, not JSON


def test_in_place_and_a_tree(tmp_path, capsys):
    tree = tmp_path / "project"
    nb = write(tree / "notebooks" / "train.ipynb", FIXTURE.read_text(encoding="utf-8"))
    write(tree / "notebooks" / ".ipynb_checkpoints" / "train-checkpoint.ipynb", FIXTURE.read_text(encoding="utf-8"))
    script = write(tree / "train.py", "import torch\nx = torch.ones(5, 3)\n")
    plain = write(tree / "plain.ipynb", notebook(("markdown", "no code")))
    old = 1_000_000_000_000_000_000
    os.utime(plain, ns=(old, old))
    assert main(["--in-place", str(tree)]) == EXIT_OK
    err = capsys.readouterr().err
    assert "2 files translated, 1 file left unchanged" in err
    assert "nd.ones((5, 3))" in script.read_text()
    assert "gluon.Trainer" in nb.read_text(encoding="utf-8")
    assert "checkpoint" not in err  # hidden directories are skipped
    assert os.stat(plain).st_mtime_ns == old
    assert sorted(os.listdir(nb.parent)) == [".ipynb_checkpoints", "train.ipynb"]  # no temp files


def test_stdin_with_a_notebook_name(monkeypatch, capsys):
    import io

    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(FIXTURE.read_bytes())))
    assert main(["-", "--stdin-filename", "nb.ipynb"]) == EXIT_OK
    out = capsys.readouterr().out
    assert json.loads(out)["cells"][5]["source"][0] == "class Net(gluon.Block):\n"


# ---------------------------------------------------------------------------
# Byte identity, bad notebooks
# ---------------------------------------------------------------------------


def test_a_notebook_without_torch_is_byte_identical(tmp_path, capsys):
    # not as nbformat writes (indent 2, escaped unicode, no final newline):
    # nothing to translate, so nothing is rewritten
    data = {
        "cells": [
            {"cell_type": "code", "execution_count": 3, "id": "a", "metadata": {},
             "outputs": [{"name": "stdout", "output_type": "stream", "text": ["caf\u00e9\n"]}],
             "source": ["import numpy as np\n", "print('café')"]},
            {"cell_type": "markdown", "id": "b", "metadata": {}, "source": "Uses numpy, not the other one."},
        ],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    src = tmp_path / "np.ipynb"
    src.write_bytes(json.dumps(data, indent=2).encode("ascii"))
    out = tmp_path / "out.ipynb"
    assert main([str(src), "-o", str(out)]) == EXIT_OK
    assert out.read_bytes() == src.read_bytes()
    # torch mentioned only in markdown: read and validated, still unchanged
    data["cells"][1]["source"] = "Not torch."
    src.write_bytes(json.dumps(data, indent=2).encode("ascii"))
    assert main([str(src), "-o", str(out)]) == EXIT_OK
    assert out.read_bytes() == src.read_bytes()


@pytest.mark.parametrize(
    "text, position, message",
    [
        ('{\n "cells": [\n  {"cell_type": "code",,}\n ]\n}\n', "3:24", "invalid JSON: Expecting property name"),
        ('["import torch"]\n', "1:1", "not a Jupyter notebook"),
        ('{"nbformat": 3, "nbformat_minor": 0, "worksheets": [], "metadata": {}}\n', "1:1", "nbformat 3 notebooks are not supported"),
        ('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code", "source": "import torch"}]}\n',
         "1:1", "not a valid nbformat 4 notebook"),
    ],
)
def test_a_bad_notebook_fails_alone(tmp_path, capsys, text, position, message):
    bad = write(tmp_path / "src" / "bad.ipynb", text)
    write(tmp_path / "src" / "good.py", "import torch\nx = torch.ones(5, 3)\n")
    out = tmp_path / "out"
    assert main([str(tmp_path / "src"), "-o", str(out)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert re.search(rf"^{re.escape(str(bad))}:{position}: error T2G000 cannot read notebook: {message}", err, re.M), err
    assert not (out / "bad.ipynb").exists()
    assert "nd.ones" in (out / "good.py").read_text()
    assert "1 file translated, 0 files left unchanged, 1 file failed" in err


def test_a_syntax_error_names_the_cell(tmp_path, capsys):
    text = notebook(("markdown", "# title"), ("code", "import torch"), ("code", "%time x = 1\ny = torch.ones(2\nz = 3"))
    nb = write(tmp_path / "nb.ipynb", text)
    assert main(["--in-place", str(nb)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert f"{nb}:cell 3:2:15: error T2G000 cannot parse: '(' was never closed" in err
    assert nb.read_text(encoding="utf-8") == text


def test_without_nbformat_a_notebook_fails_with_the_install_hint(tmp_path):
    nb = write(tmp_path / "nb.ipynb", FIXTURE.read_text(encoding="utf-8"))
    plain = write(tmp_path / "plain.ipynb", notebook(("code", "print(1)")))
    script = (
        "import sys\nsys.modules['nbformat'] = None  # as if it were not installed\n"
        "from torch2gluon.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run(
        [sys.executable, "-c", script, "--check", str(nb), str(plain)],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert proc.returncode == EXIT_ERROR, proc.stderr
    assert f"{nb}: error: reading notebooks needs nbformat: pip install 'torch2gluon[notebook]'" in proc.stderr
    assert "1 file would be left unchanged, 1 file failed" in proc.stderr  # a notebook without torch needs no nbformat


def test_missing_cell_ids_are_filled_the_same_way_every_time(tmp_path, capsys):
    data = json.loads(notebook(("code", "import torch\nx = torch.ones(5, 3)"), ("markdown", "m")))
    for cell in data["cells"]:
        del cell["id"]
    src = write(tmp_path / "noid.ipynb", json.dumps(data))
    outs = []
    for name in ("a.ipynb", "b.ipynb"):
        assert main([str(src), "-o", str(tmp_path / name)]) == EXIT_OK
        outs.append((tmp_path / name).read_bytes())
    assert outs[0] == outs[1]
    ids = [c["id"] for c in json.loads(outs[0])["cells"]]
    assert len(set(ids)) == 2 and all(re.fullmatch(r"[0-9a-f]{8}", i) for i in ids)


def test_a_notebook_in_another_language_is_left_alone(tmp_path, capsys):
    text = notebook(("code", "library(torch)\nx <- torch_ones(2)"), metadata={
        "kernelspec": {"display_name": "R", "language": "R", "name": "ir"}})
    nb = write(tmp_path / "r.ipynb", text)
    assert main(["--check", str(nb)]) == EXIT_OK


# ---------------------------------------------------------------------------
# Diagnostics and markers name the cell; the reports carry it
# ---------------------------------------------------------------------------

PARTIAL = notebook(
    ("markdown", "# Partial"),
    ("code", "import torch"),
    ("markdown", "An FFT has no Gluon twin."),
    ("code", "x = torch.ones(4)\ny = torch.fft.fft(x)"),
    ("code", "print(y)"),
)


def test_diagnostics_and_markers_are_in_their_cell(tmp_path, capsys):
    nb = write(tmp_path / "nb.ipynb", PARTIAL)
    out = tmp_path / "out.ipynb"
    assert main([str(nb), "-o", str(out), "--report", str(tmp_path / "r.json")]) == EXIT_CHANGED
    err = capsys.readouterr().err
    assert f"{nb}:cell 4:2:5: error T2G001 `torch.fft.fft` has no translation; left as is" in err
    cells = json.loads(out.read_text(encoding="utf-8"))["cells"]
    assert "".join(cells[3]["source"]) == (
        "x = nd.ones(4)\n# torch2gluon: T2G001: `torch.fft.fft` has no translation; left as is\ny = torch.fft.fft(x)"
    )
    assert "".join(cells[1]["source"]).startswith("import torch\n")  # still used
    assert "".join(cells[4]["source"]) == "print(y)"

    import jsonschema

    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(SCHEMA).validate(report)
    (diag,) = report["files"][0]["diagnostics"]
    assert (diag["cell"], diag["line"], diag["column"], diag["end_line"], diag["end_column"]) == (4, 2, 5, 2, 18)


def test_sarif_carries_the_cell(tmp_path, capsys):
    import sarif_pydantic

    nb = write(tmp_path / "nb.ipynb", PARTIAL)
    assert main(["--check", str(nb), "--report", str(tmp_path / "r.sarif"), "--format", "sarif"]) == EXIT_CHANGED
    text = (tmp_path / "r.sarif").read_text(encoding="utf-8")
    sarif_pydantic.Sarif.model_validate_json(text)
    (result,) = json.loads(text)["runs"][0]["results"]
    assert result["properties"] == {"cell": 4}
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 2


# ---------------------------------------------------------------------------
# IPython syntax
# ---------------------------------------------------------------------------


def test_ipython_lines_are_found_where_ipython_finds_them():
    cell = split_cell(
        "%matplotlib inline\n"
        "files = !ls -1\n"
        "x.shape?\n"
        "??len\n"
        "!echo one \\\n"
        "  two\n"
        "s = '''\n"
        "%d is in a string\n"
        "!not a shell line\n"
        "'''\n"
        "t = (3\n"
        "     % 2)\n"
        "for i in range(2):\n"
        "    !echo $i\n"
        "y = 1 % 2  # a comment?\n"
    )
    kinds = [(m.cell_line, m.kind, m.text) for m in cell.magics]
    assert kinds == [
        (1, "magic", "%matplotlib inline"),
        (2, "shell", "files = !ls -1"),
        (3, "help", "x.shape?"),
        (4, "help", "??len"),
        (5, "shell", "!echo one \\\n  two"),
        (14, "shell", "!echo $i"),
    ]
    assert cell.lines[1] == "files = __torch2gluon_ipython__(1)"  # the name stays bound
    assert cell.lines[12] == "    __torch2gluon_ipython__(5)"  # indented like the line
    compile(cell.python, "<cell>", "exec")
    assert cell.cell_line(6) == 7  # the continuation line took one line of the cell


def test_magics_in_translated_code_survive(tmp_path, capsys):
    text = notebook(
        ("code", "import torch\nfrom torch import nn"),
        ("code", "net = nn.Linear(3, 2)\nopt = torch.optim.SGD(net.parameters(), lr=0.1)\nlossf = nn.MSELoss()\nX, Y = torch.ones(4, 3), torch.zeros(4, 2)"),
        ("code", "for step in range(2):\n    !echo step $step\n    opt.zero_grad()\n    loss = lossf(net(X), Y)\n    loss.backward()\n    opt.step()\n    %time print(step)"),
        ("code", "%%capture captured\nz = torch.zeros(2)\n!echo {z}"),
        ("code", "%%writefile train.py\nimport torch\nx = torch.ones(2)"),
    )
    result = translate_notebook(text)
    assert result.complete, result.diagnostics
    cells = [c.source for c in nbformat.reads(result.code, as_version=4).cells]
    loop = cells[2]
    assert "    !echo step $step\n" in loop and loop.endswith("    %time print(step)")
    assert "with autograd.record():" in loop
    assert cells[3] == "%%capture captured\nz = nd.zeros(2)\n!echo {z}"
    assert cells[4] == "%%writefile train.py\nimport torch\nx = torch.ones(2)"  # not Python: left alone


def test_an_ipython_line_that_uses_torch_is_reported_and_keeps_its_import(tmp_path, capsys):
    text = notebook(
        ("code", "import torch as T"),
        ("markdown", "timing"),
        ("code", "x = T.ones(3)\n%timeit T.ones(3)\n!pip install torch"),
    )
    nb = write(tmp_path / "nb.ipynb", text)
    assert main(["--in-place", str(nb)]) == EXIT_CHANGED
    err = capsys.readouterr().err
    assert re.search(rf"^{re.escape(str(nb))}:cell 3:2:1: error T2G001 `torch` has no translation", err, re.M), err
    cells = [c.source for c in nbformat.read(str(nb), as_version=4).cells]
    assert cells[0].startswith("import torch as T\n")  # %timeit still needs it
    assert cells[2] == (
        "x = nd.ones(3)\n# torch2gluon: T2G001: `torch` has no translation; left as is\n"
        "%timeit T.ones(3)\n!pip install torch"
    )
    assert main(["--in-place", str(nb)]) == EXIT_CHANGED  # still incomplete, but stable
    assert [c.source for c in nbformat.read(str(nb), as_version=4).cells] == cells
