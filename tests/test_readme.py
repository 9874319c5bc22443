"""The README's rules table lists every rule, as the rule modules describe it."""

from pathlib import Path

from torch2gluon.rules import all_rules

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_rules_table_matches_the_rule_modules():
    for rule in all_rules():
        assert f"| {rule.code} | {rule.name} | {rule.summary} |" in README, rule.code
