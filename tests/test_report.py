"""The conversion report: call-site counts, summary line, JSON (schema), SARIF, -j."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from torch2gluon.cli import EXIT_CHANGED, EXIT_ERROR, EXIT_OK, format_summary, main
from torch2gluon.report import CallCounts, count_calls
from torch2gluon import translate

REPO = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((REPO / "docs" / "report.schema.json").read_text(encoding="utf-8"))

# A tree whose counts are known by hand.
PARTIAL = (  # 3 torch call sites; torch.fft.fft stays (1 left, 1 flagged)
    "import torch\n"
    "from torch import nn\n"
    "x = torch.ones(5, 3)\n"
    "y = torch.fft.fft(x)\n"
    "fc = nn.Linear(3, 2)\n"
)
ALIASED = "import torch as T\nz = T.zeros(2)\nz.view(2)\n"  # 1 call site (z.view is a method)
PLAIN = "import os\nprint(os.sep)\n"
BROKEN = "import torch\nx = torch.ones(5, 3\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def tree(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".git").mkdir()  # no configuration from above
    write(tmp_path / "src" / "a_partial.py", PARTIAL)
    write(tmp_path / "src" / "b_plain.py", PLAIN)
    write(tmp_path / "src" / "pkg" / "c_aliased.py", ALIASED)
    write(tmp_path / "src" / "d_broken.py", BROKEN)
    return tmp_path


# ---------------------------------------------------------------------------
# Counting
# ---------------------------------------------------------------------------


def test_call_sites_follow_imports_not_spelling():
    assert count_calls(translate(ALIASED)).found == 1
    assert count_calls(translate("from torch.nn import Linear as L\nL(1, 2)\n")).found == 1
    rebound = count_calls(translate("import torch\ntorch = object()\ntorch.ones(1)\n"))
    assert (rebound.translated, rebound.flagged) == (0, 1), "may be torch, may not: reported, not translated"
    assert count_calls(translate(PLAIN)).found == 0
    assert count_calls(translate(BROKEN)).found == 0


def test_count_calls_of_one_translation():
    result = translate(PARTIAL)
    counts = count_calls(result)
    assert counts == CallCounts(found=3, translated=2, left=1, flagged=1)
    assert counts.rate == pytest.approx(2 / 3)


def test_summary_line_with_calls():
    calls = CallCounts(found=4, translated=3, left=1, flagged=1)
    assert format_summary(2, 1, 1, 2, 1, calls=calls) == (
        "2 files translated, 1 file left unchanged, 1 file failed; 2 diagnostics "
        "(1 untranslated); 4 torch call sites found, 3 translated (75%)"
    )
    assert format_summary(0, 1, 0, 0, 0, check=True, calls=CallCounts()).endswith(
        "; 0 torch call sites found, 0 would be translated"
    )


# ---------------------------------------------------------------------------
# JSON report
# ---------------------------------------------------------------------------


def _validate(report: dict) -> None:
    try:
        import jsonschema
    except ImportError:  # a structural check of the same contract
        assert set(report) == set(SCHEMA["required"])
        for entry in report["files"]:
            assert set(entry) == set(SCHEMA["$defs"]["file"]["required"])
            for diag in entry["diagnostics"]:
                assert set(diag) == set(SCHEMA["$defs"]["diagnostic"]["required"])
                assert diag["line"] >= 1 and diag["column"] >= 1
        return
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.Draft202012Validator(SCHEMA).validate(report)


def test_json_report_counts_and_schema(tree, capsys):
    assert main(["--check", "src", "--report", "report.json"]) == EXIT_ERROR  # d_broken fails
    _, err = capsys.readouterr()
    assert err.splitlines()[-1] == (
        "2 files would be translated, 1 file would be left unchanged, 1 file failed; "
        "2 diagnostics (1 untranslated); 4 torch call sites found, 3 would be translated (75%)"
    )
    report = json.loads((tree / "report.json").read_text(encoding="utf-8"))
    _validate(report)
    assert report["mode"] == "check"
    assert report["summary"] == {
        "files": {"changed": 2, "unchanged": 1, "failed": 1},
        "calls": {"found": 4, "translated": 3, "left": 1, "flagged": 1},
        "conversion_rate": 0.75,
        "diagnostics": {"error": 2, "warning": 0, "info": 0},
    }
    files = {Path(f["path"]).name: f for f in report["files"]}
    assert [Path(f["path"]).as_posix() for f in report["files"]] == [
        "src/a_partial.py", "src/b_plain.py", "src/d_broken.py", "src/pkg/c_aliased.py",
    ]
    partial = files["a_partial.py"]
    assert partial["status"] == "changed"
    assert partial["calls"] == {"found": 3, "translated": 2, "left": 1, "flagged": 1}
    assert partial["counts"] == {"error": 1, "warning": 0, "info": 0}
    (diag,) = partial["diagnostics"]
    assert (diag["rule"], diag["line"], diag["column"], diag["end_line"], diag["end_column"]) == (
        "T2G001", 4, 5, 4, 18,
    )
    assert files["c_aliased.py"]["calls"] == {"found": 1, "translated": 1, "left": 0, "flagged": 0}
    assert files["b_plain.py"]["status"] == "unchanged"
    broken = files["d_broken.py"]
    assert broken["status"] == "failed" and broken["error"]
    assert broken["diagnostics"][0]["rule"] == "T2G000"


def test_report_lists_missing_files_and_info_diagnostics(tree, capsys):
    assert main(["--check", "src/a_partial.py", "nope.py", "--report", "r.json"]) == EXIT_ERROR
    report = json.loads((tree / "r.json").read_text(encoding="utf-8"))
    _validate(report)
    missing = [f for f in report["files"] if f["path"] == "nope.py"]
    assert missing and missing[0]["status"] == "failed"
    assert "no such file" in missing[0]["error"]


def test_report_needs_format_only_with_report(tree, capsys):
    assert main(["--check", "src", "--format", "sarif"]) == EXIT_ERROR
    assert "--format applies to --report" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# SARIF
# ---------------------------------------------------------------------------


def test_sarif_report(tree, capsys):
    import sarif_pydantic  # the test extra installs it
    assert main(["--check", "src", "--report", "out.sarif", "--format", "sarif"]) == EXIT_ERROR
    text = (tree / "out.sarif").read_text(encoding="utf-8")
    log = sarif_pydantic.Sarif.model_validate_json(text)
    assert log.version == "2.1.0"
    (run,) = log.runs
    assert run.tool.driver.name == "torch2gluon"
    rule_ids = [r.id for r in run.tool.driver.rules]
    assert "T2G001" in rule_ids and "T2G201" in rule_ids and "T2G000" in rule_ids
    by_rule = {r.rule_id: r for r in run.results}
    t2g001 = by_rule["T2G001"]
    assert t2g001.message.text == "`torch.fft.fft` has no translation; left as is"
    assert t2g001.level.value == "error"
    assert rule_ids[t2g001.rule_index] == "T2G001"
    location = t2g001.locations[0].physical_location
    assert location.artifact_location.uri == "src/a_partial.py"
    region = location.region
    assert (region.start_line, region.start_column, region.end_line, region.end_column) == (4, 5, 4, 18)
    assert by_rule["T2G000"].locations[0].physical_location.artifact_location.uri == "src/d_broken.py"
    raw = json.loads(text)
    assert raw["runs"][0]["columnKind"] == "unicodeCodePoints"
    assert raw["runs"][0]["invocations"][0]["executionSuccessful"] is False


# ---------------------------------------------------------------------------
# -j and the progress bar
# ---------------------------------------------------------------------------


def _many(tree: Path) -> None:
    for i in range(6):
        write(tree / "src" / "many" / f"m{i}.py", PARTIAL if i % 2 else ALIASED)


@pytest.mark.parametrize("flags", [["--check", "--diff"], ["-v", "--check"]])
def test_jobs_output_equals_serial(tree, capsys, flags):
    _many(tree)
    code = main([*flags, "src", "--report", "serial.json"])
    serial = capsys.readouterr()
    assert main([*flags, "src", "-j", "2", "--report", "parallel.json"]) == code
    parallel = capsys.readouterr()
    assert parallel.out == serial.out
    assert parallel.err == serial.err
    assert (tree / "parallel.json").read_text() == (tree / "serial.json").read_text()


def test_jobs_writes_the_same_tree(tree, capsys):
    _many(tree)
    assert main(["src", "-o", "out1"]) == EXIT_ERROR
    serial = capsys.readouterr()
    assert main(["src", "-o", "out2", "-j", "2"]) == EXIT_ERROR
    parallel = capsys.readouterr()
    assert parallel.err == serial.err
    one = sorted(p.relative_to(tree / "out1") for p in (tree / "out1").rglob("*.py"))
    two = sorted(p.relative_to(tree / "out2") for p in (tree / "out2").rglob("*.py"))
    assert one == two and len(one) == 9  # the broken file is not written
    for rel in one:
        assert (tree / "out1" / rel).read_bytes() == (tree / "out2" / rel).read_bytes()


def test_progress_bar_only_on_a_terminal(tree, capsys, monkeypatch):
    import sys

    _many(tree)
    assert main(["--check", "src/many"]) == EXIT_CHANGED
    assert "\r[" not in capsys.readouterr().err
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["--check", "src/many"]) == EXIT_CHANGED
    err = capsys.readouterr().err
    assert "\r[" in err and "6/6 files" in err
    assert main(["--check", "--no-progress", "src/many"]) == EXIT_CHANGED
    assert "\r[" not in capsys.readouterr().err


def test_exit_non_zero_on_fix(tree, capsys):
    target = write(tree / "fix.py", "import torch\nx = torch.ones(2)\n")
    assert main(["--in-place", "--exit-non-zero-on-fix", "fix.py"]) == EXIT_CHANGED
    assert "nd.ones" in target.read_text()
    assert main(["--in-place", "--exit-non-zero-on-fix", "fix.py"]) == EXIT_OK


def test_readme_editor_example():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("### In an editor plugin", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    source = "import torch\nx = torch.ones(5, 3)\ny = torch.fft.fft(x)\n"
    (diag,) = namespace["lsp_diagnostics"](source)
    assert diag["range"] == {
        "start": {"line": 2, "character": 4},
        "end": {"line": 2, "character": 17},
    }
    assert diag["code"] == "T2G001" and diag["severity"] == 1
    assert source.split("\n")[2][4:17] == "torch.fft.fft"
    edit = namespace["translate_document_edit"](source)
    assert edit["newText"] == translate(source).code
    assert edit["range"]["end"] == {"line": 3, "character": 0}
    assert namespace["translate_document_edit"]("import os\n") is None
