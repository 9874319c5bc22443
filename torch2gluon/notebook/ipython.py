"""IPython syntax in notebook cells: which lines are Python and which are not.

A code cell is Python plus IPython's own lines, which the kernel rewrites
before Python sees them:

- a cell magic on the first line (``%%time``, ``%%bash`` ...): ``%%time``,
  ``%%timeit`` and ``%%capture`` run their body as Python, the others run it
  as something else (a shell script, a file to write, HTML...);
- line magics and shell lines at the start of a logical line, indented or
  not: ``%matplotlib inline``, ``!pip install x``, ``!!ls``, ``files = !ls``,
  ``t = %timeit -o f()``, help lines (``obj?``, ``??obj``), and their
  backslash continuations.

``split_cell`` separates them: each IPython line becomes a *placeholder*, a
Python statement of the same indentation (``__torch2gluon_ipython__(7)``, or
``files = __torch2gluon_ipython__(7)`` for an assignment, so the name stays
bound), which the translator passes through untouched and ``restore_line``
turns back into the original text. Lines inside strings, brackets and
backslash continuations of Python are Python, so a ``%`` or ``!`` there is
not a magic: a small scanner follows strings, brackets and continuations
line by line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

__all__ = [
    "PYTHON_CELL_MAGICS",
    "PLACEHOLDER",
    "Magic",
    "CellCode",
    "split_cell",
    "restore_line",
    "python_payload",
]

#: cell magics whose body is Python (translated); any other cell magic is left alone
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture"})
#: line magics whose argument is Python code
PYTHON_LINE_MAGICS = frozenset({"time", "timeit", "prun", "debug"})
PLACEHOLDER = "__torch2gluon_ipython__"

_ASSIGN = re.compile(r"^((?:[A-Za-z_][\w.]*)(?:\s*,\s*[A-Za-z_][\w.]*)*)\s*=\s*([!%].*)$")
_PLACEHOLDER_CALL = re.compile(rf"{PLACEHOLDER}\((\d+)[,)]")
_MAGIC_NAME = re.compile(r"^%{1,2}([A-Za-z_][\w.]*)")


@dataclass
class Magic:
    """One IPython line (with its continuation lines) and its placeholder."""

    index: int  # its number in the notebook, the placeholder's argument
    text: str  # the original lines, the first without its indentation, joined by \n
    indent: str  # the first line's indentation
    placeholder: str  # the statement standing for it (without the indentation)
    cell_line: int  # 1-based line in the cell of its first line
    lines: int  # how many lines of the cell it spans
    kind: str  # "shell", "magic" or "help"
    name: str = ""  # the magic's name (``time`` for ``%time``), "" for shell and help lines
    position: int = 0  # its line's index in ``CellCode.lines``


@dataclass
class CellCode:
    """The Python the translator sees for one code cell.

    ``kind``: ``python`` (a plain cell, or the body of ``%%time``/
    ``%%timeit``/``%%capture``) or ``other`` (another cell magic: not
    Python, left alone). ``header`` is the text before the body (blank lines
    and the cell magic line) kept as it is; ``lines`` the body's lines with
    IPython lines replaced by placeholders, and ``cell_lines`` the 1-based
    line in the cell each of them starts at.
    """

    kind: str
    header: str = ""
    cell_magic: str = ""  # the cell magic's name, "" when there is none
    lines: List[str] = field(default_factory=list)
    cell_lines: List[int] = field(default_factory=list)
    magics: List[Magic] = field(default_factory=list)

    def refer(self, magic: Magic, names: Sequence[str]) -> None:
        """Make ``magic``'s placeholder refer to ``names`` (torch names its
        Python part uses): the translator then keeps their imports and
        reports them as left untranslated, as for any other code."""
        call = f"{PLACEHOLDER}({', '.join([str(magic.index), *names])})"
        assign = _ASSIGN.match(magic.text)
        magic.placeholder = f"{assign.group(1)} = {call}" if assign else call
        self.lines[magic.position] = magic.indent + magic.placeholder

    @property
    def python(self) -> str:
        return "".join(line + "\n" for line in self.lines)

    def cell_line(self, line: int) -> int:
        """The cell's line for 1-based ``line`` of ``python`` (past the end: counted on)."""
        if not self.cell_lines:
            return line + self.header.count("\n")
        if 1 <= line <= len(self.cell_lines):
            return self.cell_lines[line - 1]
        if line < 1:
            return self.cell_lines[0]
        return self.cell_lines[-1] + (line - len(self.cell_lines))


class _Scanner:
    """Whether the next line starts a logical line: strings, brackets, ``\\``."""

    def __init__(self) -> None:
        self.depth = 0
        self.quote: Optional[str] = None  # the open string's delimiter
        self.backslash = False

    @property
    def at_start(self) -> bool:
        return self.depth == 0 and self.quote is None and not self.backslash

    def feed(self, line: str) -> None:
        i, n = 0, len(line)
        self.backslash = False
        while i < n:
            ch = line[i]
            if self.quote is not None:
                if ch == "\\":
                    if i == n - 1:
                        self.backslash = len(self.quote) == 1
                    i += 2
                    continue
                if line.startswith(self.quote, i):
                    i += len(self.quote)
                    self.quote = None
                    continue
                i += 1
                continue
            if ch == "#":
                break
            if ch in "([{":
                self.depth += 1
            elif ch in ")]}":
                self.depth = max(0, self.depth - 1)
            elif ch in "'\"":
                triple = ch * 3
                self.quote = triple if line.startswith(triple, i) else ch
                i += len(self.quote)
                continue
            elif ch == "\\" and i == n - 1:
                self.backslash = True
            i += 1
        if self.quote is not None and len(self.quote) == 1 and not self.backslash:
            self.quote = None  # an unterminated string: Python reports it


def _code_part(line: str) -> str:
    """The line without its comment (strings followed, so ``'#'`` is code)."""
    quote: Optional[str] = None
    i = 0
    while i < len(line):
        ch = line[i]
        if quote is not None:
            if ch == "\\":
                i += 2
                continue
            if line.startswith(quote, i):
                i += len(quote)
                quote = None
                continue
        elif ch == "#":
            return line[:i]
        elif ch in "'\"":
            quote = ch * 3 if line.startswith(ch * 3, i) else ch
            i += len(quote)
            continue
        i += 1
    return line


def _ipython_kind(stripped: str) -> Optional[str]:
    """``shell``/``magic``/``help`` when a logical line starting with
    ``stripped`` (its indentation removed) is IPython's, else ``None``."""
    if not stripped:
        return None
    if stripped[0] == "!":
        return "shell"
    if stripped[0] == "%":
        return "magic"
    if stripped[0] == "?":
        return "help"
    assign = _ASSIGN.match(stripped)
    if assign:
        return "shell" if assign.group(2).startswith("!") else "magic"
    code = _code_part(stripped).rstrip()
    if code.endswith("?"):
        return "help"
    return None


def split_cell(source: str, first_index: int = 0) -> CellCode:
    """The Python of one code cell (its source with ``\\n`` newlines).

    ``first_index`` numbers the cell's placeholders after those of the
    cells before it, so that each is unique in the notebook.
    """
    lines = source.split("\n")
    start = 0
    while start < len(lines) and not lines[start].strip():
        start += 1
    cell = CellCode(kind="python")
    if start < len(lines) and lines[start].startswith("%%"):
        match = _MAGIC_NAME.match(lines[start])
        name = match.group(1) if match else ""
        cell.cell_magic = name
        cell.header = "".join(line + "\n" for line in lines[: start + 1])
        if name not in PYTHON_CELL_MAGICS:
            cell.kind = "other"
            return cell
        start += 1
    else:
        start = 0
    scanner = _Scanner()
    i = start
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip()
        kind = _ipython_kind(stripped) if scanner.at_start else None
        if kind is None:
            cell.lines.append(line)
            cell.cell_lines.append(i + 1)
            scanner.feed(line)
            i += 1
            continue
        indent = line[: len(line) - len(stripped)]
        taken = [stripped]
        j = i
        while taken[-1].endswith("\\") and j + 1 < len(lines):  # IPython joins these
            j += 1
            taken.append(lines[j])
        index = first_index + len(cell.magics)
        call = f"{PLACEHOLDER}({index})"
        assign = _ASSIGN.match(stripped)
        placeholder = f"{assign.group(1)} = {call}" if assign else call
        body = assign.group(2) if assign else stripped
        name_match = _MAGIC_NAME.match(body) if kind == "magic" else None
        cell.magics.append(
            Magic(
                index=index,
                text="\n".join(taken),
                indent=indent,
                placeholder=placeholder,
                cell_line=i + 1,
                lines=len(taken),
                kind=kind,
                name=name_match.group(1) if name_match else "",
                position=len(cell.lines),
            )
        )
        cell.lines.append(indent + placeholder)
        cell.cell_lines.append(i + 1)
        i = j + 1
    return cell


def restore_line(line: str, magics: Sequence[Magic]) -> Optional[Tuple[int, str]]:
    """``(index, original text)`` when ``line`` is a placeholder, re-indented
    as the translation indents it; ``None`` when it holds none. Raises
    ``ValueError`` when the placeholder was rewritten."""
    match = _PLACEHOLDER_CALL.search(line)
    if match is None:
        return None
    index = int(match.group(1))
    by_index = {m.index: m for m in magics}
    magic = by_index.get(index)
    stripped = line.lstrip()
    if magic is None or stripped.rstrip() != magic.placeholder:
        raise ValueError(f"an IPython line was rewritten by the translation: {line.strip()!r}")
    indent = line[: len(line) - len(stripped)]
    return index, indent + magic.text


def python_payload(magic: Magic) -> List[str]:
    """The parts of an IPython line that IPython evaluates as Python: the
    argument of ``%time``/``%timeit``/``%prun``/``%debug``, and the
    ``{expression}`` and ``$name`` interpolations of a shell line."""
    text = magic.text
    assign = _ASSIGN.match(text)
    if assign:
        text = assign.group(2)
    if magic.kind == "magic":
        if magic.name in PYTHON_LINE_MAGICS:
            return [text[len(magic.name) + 1:]]
        return []
    if magic.kind == "shell":
        found = re.findall(r"\{([^{}]*)\}", text)
        found += re.findall(r"\$([A-Za-z_]\w*)", text)
        return found
    return []
