"""The conversion report: call-site counts, the JSON report and SARIF 2.1.0.

How torch uses are counted (``Translation.stats``, counted by the engine
while it translates):

``found``
    references in the *original*, outside import statements, to names that
    resolve through the file's imports to ``torch`` or ``torchvision``
    (``torch.ones``, ``nn.Linear`` after ``from torch import nn``, ``L`` after
    ``from torch.nn import Linear as L``); a dotted reference counts once.
    Method calls on objects (``x.view(...)``, ``loss.backward()``) are not
    counted: nothing names torch there.
``left``
    those references still in the *translation* (each one is reported).
``translated``
    ``found - left``.
``flagged``
    error diagnostics of the file: constructs left untranslated and marked
    inline (any rule; ``T2G000`` syntax errors and ``T2G999`` crashes are
    failures, not flags). A flag may concern a method call, so ``flagged`` is
    not a subset of ``found``.
``conversion rate``
    ``translated / found`` over all files (``null`` when nothing was found).

A file that failed (unreadable, undecodable, a syntax error, a crash) counts
no call sites. A notebook counts as one file (its code cells are one
program); its diagnostics carry ``cell``, the 1-based cell number. The JSON report's schema is ``docs/report.schema.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from . import __version__
from .api import Translation
from .base.diagnostics import INTERNAL_ERROR, SYNTAX_ERROR, Diagnostic, Severity

__all__ = [
    "CallCounts",
    "FileReport",
    "count_calls",
    "build_json_report",
    "build_sarif",
    "REPORT_VERSION",
]

REPORT_VERSION = 1
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


@dataclass
class CallCounts:
    found: int = 0
    translated: int = 0
    left: int = 0
    flagged: int = 0

    def add(self, other: "CallCounts") -> None:
        self.found += other.found
        self.translated += other.translated
        self.left += other.left
        self.flagged += other.flagged

    @property
    def rate(self) -> Optional[float]:
        return self.translated / self.found if self.found else None

    def to_dict(self) -> Dict[str, int]:
        return {
            "found": self.found,
            "translated": self.translated,
            "left": self.left,
            "flagged": self.flagged,
        }


def count_calls(translation: "Translation") -> CallCounts:
    """The counts of one translated file (see the module docstring)."""
    stats = translation.stats
    flagged = sum(
        1
        for d in translation.diagnostics
        if d.severity is Severity.ERROR and d.rule not in (SYNTAX_ERROR, INTERNAL_ERROR)
    )
    return CallCounts(
        found=stats.get("torch_references", 0),
        translated=stats.get("translated", 0),
        left=stats.get("untranslated", 0),
        flagged=flagged,
    )


@dataclass
class FileReport:
    """What happened to one file; ``status`` is changed, unchanged or failed."""

    path: str
    status: str
    diagnostics: Tuple[Diagnostic, ...] = ()
    calls: CallCounts = field(default_factory=CallCounts)
    error: Optional[str] = None  # why it failed, when it did

    def to_dict(self) -> Dict[str, Any]:
        counts = {s.value: 0 for s in Severity}
        for d in self.diagnostics:
            counts[d.severity.value] += 1
        return {
            "path": self.path,
            "status": self.status,
            "error": self.error,
            "calls": self.calls.to_dict(),
            "counts": counts,
            "diagnostics": [d.to_dict() for d in self.diagnostics],
        }


def _totals(files: Sequence[FileReport]) -> Tuple[Dict[str, int], CallCounts, Dict[str, int]]:
    status = {"changed": 0, "unchanged": 0, "failed": 0}
    calls = CallCounts()
    severities = {s.value: 0 for s in Severity}
    for f in files:
        status[f.status] += 1
        calls.add(f.calls)
        for d in f.diagnostics:
            severities[d.severity.value] += 1
    return status, calls, severities


def build_json_report(files: Sequence[FileReport], *, mode: str) -> Dict[str, Any]:
    """The JSON report (schema: ``docs/report.schema.json``). ``mode`` is the
    CLI mode: ``stdout``, ``output``, ``in-place`` or ``check``; in ``check``
    mode ``changed`` means *would* change."""
    status, calls, severities = _totals(files)
    rate = calls.rate
    return {
        "version": REPORT_VERSION,
        "tool": {"name": "torch2gluon", "version": __version__},
        "mode": mode,
        "summary": {
            "files": status,
            "calls": calls.to_dict(),
            "conversion_rate": None if rate is None else round(rate, 4),
            "diagnostics": severities,
        },
        "files": [f.to_dict() for f in files],
    }


_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _rule_descriptors() -> List[Dict[str, Any]]:
    from .rules import all_rules

    descriptors = [
        {
            "id": SYNTAX_ERROR,
            "name": "syntax-error",
            "shortDescription": {"text": "the source does not parse; left unchanged"},
        }
    ]
    for rule in all_rules():
        descriptor: Dict[str, Any] = {
            "id": rule.code,
            "name": rule.name,
            "shortDescription": {"text": rule.summary},
        }
        if rule.__doc__:
            descriptor["fullDescription"] = {"text": " ".join(rule.__doc__.split("\n\n")[0].split())}
        descriptors.append(descriptor)
    descriptors.append(
        {
            "id": INTERNAL_ERROR,
            "name": "internal-error",
            "shortDescription": {"text": "the translator failed on this input (a bug)"},
        }
    )
    return descriptors


def _uri(path: str) -> str:
    return path.replace("\\", "/")


def build_sarif(files: Sequence[FileReport]) -> Dict[str, Any]:
    """A SARIF 2.1.0 log with one run: every diagnostic is a result with its
    rule id, level, message and region (1-based lines and columns, columns
    in Unicode code points; in a notebook, within the cell that the result's
    ``properties.cell`` names); files that failed without a diagnostic
    become tool execution notifications."""
    rules = _rule_descriptors()
    index = {r["id"]: i for i, r in enumerate(rules)}
    results: List[Dict[str, Any]] = []
    notifications: List[Dict[str, Any]] = []
    for f in files:
        for d in f.diagnostics:
            result: Dict[str, Any] = {
                "ruleId": d.rule,
                "level": _LEVELS[d.severity],
                "message": {"text": d.message + (f" (suggestion: {d.suggestion})" if d.suggestion else "")},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": _uri(f.path)},
                            "region": {
                                "startLine": d.line,
                                "startColumn": d.column,
                                "endLine": d.end_line,
                                "endColumn": d.end_column,
                            },
                        }
                    }
                ],
            }
            if d.rule in index:
                result["ruleIndex"] = index[d.rule]
            if d.cell is not None:  # a notebook: the region is within this cell
                result["properties"] = {"cell": d.cell}
            results.append(result)
        if f.status == "failed" and f.error and not f.diagnostics:
            notifications.append(
                {
                    "level": "error",
                    "message": {"text": f.error},
                    "locations": [
                        {"physicalLocation": {"artifactLocation": {"uri": _uri(f.path)}}}
                    ],
                }
            )
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "torch2gluon",
                        "version": __version__,
                        "rules": rules,
                    }
                },
                "columnKind": "unicodeCodePoints",
                "invocations": [
                    {
                        "executionSuccessful": not any(f.status == "failed" for f in files),
                        "toolExecutionNotifications": notifications,
                    }
                ],
                "results": results,
            }
        ],
    }


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def format_summary(
    translated: int,
    unchanged: int,
    failed: int,
    diagnostics: int,
    untranslated: int,
    *,
    check: bool = False,
    calls: Optional[CallCounts] = None,
) -> str:
    """The one-line report printed at the end of a run.

    With ``calls``, it ends with the torch call sites found and translated
    and the conversion rate (see ``torch2gluon.report`` for how they are
    counted; the flagged ones are the "untranslated" diagnostics)."""
    if check:
        text = (
            f"{_plural(translated, 'file')} would be translated, "
            f"{_plural(unchanged, 'file')} would be left unchanged"
        )
        if failed:
            text += f", {_plural(failed, 'file')} failed"
    else:
        text = (
            f"{_plural(translated, 'file')} translated, "
            f"{_plural(unchanged, 'file')} left unchanged, "
            f"{_plural(failed, 'file')} failed"
        )
    text = f"{text}; {_plural(diagnostics, 'diagnostic')} ({untranslated} untranslated)"
    if calls is not None:
        verb = "would be translated" if check else "translated"
        text += f"; {_plural(calls.found, 'torch call site')} found, {calls.translated} {verb}"
        if calls.rate is not None:
            text += f" ({calls.rate:.0%})"
    return text
