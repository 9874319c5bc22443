"""Every rule's own before/after examples, collected from the rule modules."""

from __future__ import annotations

import pytest

from torch2gluon import Options, translate
from torch2gluon.rules import all_rules


def _options(example):
    return Options(**dict(example.options))

CASES = [
    pytest.param(rule, example, id=f"{rule.code}-{example.id or i}")
    for rule in all_rules()
    for i, example in enumerate(rule.examples)
]


def test_every_rule_has_examples_and_docs():
    for rule in all_rules():
        assert rule.examples, rule.code
        assert rule.__doc__ and "## What it does" in rule.__doc__, rule.code
        assert rule.name and rule.summary, rule.code


@pytest.mark.parametrize("rule, example", CASES)
def test_example(rule, example):
    result = translate(example.before, options=_options(example))
    assert result.code == example.after
    assert sorted(d.rule for d in result.diagnostics if d.marked) == sorted(example.diagnostics)


@pytest.mark.parametrize("rule, example", CASES)
def test_example_is_stable(rule, example):
    """Translating the output again changes nothing."""
    once = translate(example.before, options=_options(example)).code
    assert translate(once, options=_options(example)).code == once
