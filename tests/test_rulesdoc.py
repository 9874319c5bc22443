"""The rules reference: `torch2gluon rules` and docs/rules.md, from the rule modules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from torch2gluon.cli import main
from torch2gluon.rules import all_rules
from torch2gluon.rulesdoc import render_markdown

REPO = Path(__file__).resolve().parents[1]


def test_docs_rules_md_is_in_sync():
    current = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    assert current == render_markdown(), (
        "docs/rules.md is stale: run `python -m torch2gluon.rulesdoc > docs/rules.md`"
    )


def test_markdown_has_every_rule_and_example():
    text = render_markdown()
    for rule in all_rules():
        assert f"## {rule.code} {rule.name}" in text
        for example in rule.examples:
            assert example.before.rstrip("\n") in text
            assert example.after.rstrip("\n") in text


def test_module_entry_point_prints_the_markdown():
    proc = subprocess.run(
        [sys.executable, "-m", "torch2gluon.rulesdoc"],
        capture_output=True, text=True, cwd=REPO, check=True,
    )
    assert proc.stdout == render_markdown()


def test_rules_lists_every_rule(capsys):
    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) == len(all_rules())
    for line, rule in zip(lines, all_rules()):
        assert line.startswith(rule.code) and rule.name in line and line.endswith(rule.summary)


def test_rules_shows_one_rule_with_examples(capsys):
    assert main(["rules", "T2G201"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("T2G201 layers: ")
    assert "## What it does" in out and "`nn.Linear(in, out)`" in out
    assert "  before:\n    from torch import nn\n    fc = nn.Linear(784, 256)" in out
    assert "  after:\n    from mxnet import init" in out


def test_rules_unknown_id(capsys):
    assert main(["rules", "T2G777"]) == 2
    assert "unknown rule id T2G777" in capsys.readouterr().err
