"""Diagnostics: what a translation reports, as plain data.

Positions refer to the *original* source. Lines and columns are 1-based, like
the ``path:line:col`` that compilers, black and ruff print; an editor that
counts from 0 subtracts one from both. In a notebook, ``cell`` is the 1-based
number of the cell (counting every cell, markdown too) and the line and
column are within that cell.
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
    #: replacement text for the range (line:column to end_line:end_column), offered
    #: by the editor server as a quick fix and printed by the CLI
    suggestion: Optional[str] = None
    cell: Optional[int] = None  # in a notebook: the 1-based cell number

    @property
    def marked(self) -> bool:
        """Whether the output carries an inline marker for this diagnostic."""
        return self.severity is not Severity.INFO

    def marker(self) -> str:
        return f"# torch2gluon: {self.rule}: {self.message}"

    def format(self, path: str = "<stdin>") -> str:
        """``path:line:col: SEVERITY rule message``, the report line the CLI prints."""
        where = f"{path}:cell {self.cell}" if self.cell is not None else path
        text = f"{where}:{self.line}:{self.column}: {self.severity.value} {self.rule} {self.message}"
        if self.suggestion:
            text += f" (suggestion: {self.suggestion})"
        return text

    def to_dict(self) -> dict:
        """A JSON-ready dict; ``cell`` only for a notebook's diagnostics."""
        out = {
            "rule": self.rule,
            "severity": self.severity.value,
            "message": self.message,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "suggestion": self.suggestion,
        }
        if self.cell is not None:
            out["cell"] = self.cell
        return out
