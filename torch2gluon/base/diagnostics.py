"""Diagnostics: what a translation reports, as plain data.

Positions refer to the *original* source. Lines and columns are 1-based, like
the ``path:line:col`` that compilers, black and ruff print; an editor that
counts from 0 subtracts one from both.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Optional


SYNTAX_ERROR = "T2G000"  # the source does not parse: an input error, code unchanged
INTERNAL_ERROR = "T2G999"  # the translator failed on this input: a bug, code unchanged


class Severity(str, enum.Enum):
    """How much a diagnostic matters.

    ``ERROR``: the code was left untranslated (it still uses torch, or a
    construct the translator cannot map faithfully); the output is incomplete.
    ``WARNING``: translated, but the result may behave differently in a case
    the translator cannot see (a dtype decided at run time, memory sharing).
    ``INFO``: a note on a choice the translator made; no marker is written.
    """

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Diagnostic:
    rule: str
    severity: Severity
    message: str
    line: int
    column: int
    end_line: int
    end_column: int
    suggestion: Optional[str] = None

    @property
    def marked(self) -> bool:
        """Whether the output carries an inline marker for this diagnostic."""
        return self.severity is not Severity.INFO

    def marker(self) -> str:
        return f"# torch2gluon: {self.rule}: {self.message}"

    def format(self, path: str = "<stdin>") -> str:
        """``path:line:col: SEVERITY rule message``, the report line the CLI prints."""
        text = f"{path}:{self.line}:{self.column}: {self.severity.value} {self.rule} {self.message}"
        if self.suggestion:
            text += f" (suggestion: {self.suggestion})"
        return text

    def to_dict(self) -> dict:
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "message": self.message,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "suggestion": self.suggestion,
        }
