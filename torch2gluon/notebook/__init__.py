"""Jupyter notebooks: every code cell translated as one program.

``translate_notebook(text)`` is ``translate()`` for a ``.ipynb`` file: pure,
no I/O, never raises on bad input (an unreadable notebook is one ``T2G000``
diagnostic, like a syntax error), and the result is a ``Translation`` whose
``source`` and ``code`` are the notebook's JSON text.

- The code cells, in order, are translated as one program, so an import in
  cell 1 is known in cell 5. Each cell is preceded by a sentinel statement
  (``__torch2gluon_cell__(3)``) that the translator passes through, and the
  output is cut back into cells at the sentinels; any doubt (a sentinel or
  an IPython placeholder missing, moved or rewritten) refuses the notebook
  with an internal error rather than mixing up cells.
- IPython lines (magics, shell lines, help) stand in the program as
  placeholders and come back as they were (``torch2gluon.notebook.ipython``).
  ``%%time``/``%%timeit``/``%%capture`` bodies are Python and translated;
  other cell magics (``%%bash``, ``%%writefile``...) are left alone. An
  IPython line whose Python part (``%timeit f(x)``, ``!echo {x}``) uses a
  name a torch import bound is left as is and reported (T2G001), with a
  marker above it.
- A file that is not JSON, or not an nbformat 4 notebook, is one ``T2G000``
  diagnostic (at the JSON error's line and column); nbformat validates a
  notebook that mentions torch before it is translated (one that does not
  is left alone without nbformat).
- Diagnostics carry ``cell`` (1-based, counting every cell, markdown too)
  and line/column within the cell.
- Markdown and raw cells, cell ids and metadata, the notebook's metadata
  (kernel spec) are kept; a code cell that changed loses its outputs and
  execution count (they belong to the old code); every other cell is
  written as it was read. The file is written the way nbformat (and so
  Jupyter) writes it: indent 1, sorted keys, UTF-8 unescaped, a final
  newline. A notebook whose translation is unchanged (one without torch)
  comes back as the same text.

Reading, validating and writing go through ``nbformat`` (the ``notebook``
extra: ``pip install 'torch2gluon[notebook]'``); without it,
``translate_notebook`` raises ``NotebookSupportMissing``.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import warnings
from dataclasses import dataclass, replace
from typing import Any, Dict, List, Optional, Set, Tuple

from ..api import Options, Translation, translate
from ..base.diagnostics import INTERNAL_ERROR, SYNTAX_ERROR, Diagnostic, Severity
from ..base.parse_errors import syntax_error
from ..files import unified_diff
from .ipython import CellCode, Magic, python_payload, restore_line, split_cell

__all__ = [
    "NOTEBOOK_SUFFIX",
    "CellChange",
    "NotebookSupportMissing",
    "NotebookTranslation",
    "is_notebook",
    "notebook_diff",
    "translate_notebook",
]

NOTEBOOK_SUFFIX = ".ipynb"
SENTINEL = "__torch2gluon_cell__"
_SENTINEL_LINE = re.compile(rf"^{SENTINEL}\((\d+)\)$")
UNSUPPORTED = "T2G001"
INSTALL_HINT = "pip install 'torch2gluon[notebook]'"


class NotebookSupportMissing(ImportError):
    """nbformat is not installed."""

    def __init__(self) -> None:
        super().__init__(f"reading notebooks needs nbformat: {INSTALL_HINT}")


def is_notebook(path: str) -> bool:
    return path.lower().endswith(NOTEBOOK_SUFFIX)


@dataclass(frozen=True)
class CellChange:
    """A code cell whose source the translation changed."""

    number: int  # 1-based, counting every cell
    old: str
    new: str


@dataclass(frozen=True)
class NotebookTranslation(Translation):
    """A ``Translation`` of a notebook's text, with the cells that changed."""

    cells: Tuple[CellChange, ...] = ()


def _nbformat() -> Any:
    try:
        import nbformat
    except ImportError:
        raise NotebookSupportMissing() from None
    return nbformat


def _error(message: str, line: int = 1, column: int = 1, cell: Optional[int] = None) -> Diagnostic:
    return Diagnostic(
        rule=SYNTAX_ERROR,
        severity=Severity.ERROR,
        message=message,
        line=line,
        column=column,
        end_line=line,
        end_column=column + 1,
        cell=cell,
    )


def _failed(text: str, *diagnostics: Diagnostic) -> NotebookTranslation:
    return NotebookTranslation(source=text, code=text, diagnostics=tuple(diagnostics))


def _language(metadata: Any) -> Optional[str]:
    if not isinstance(metadata, dict):
        return None
    for key, field_name in (("kernelspec", "language"), ("language_info", "name")):
        table = metadata.get(key)
        if isinstance(table, dict) and isinstance(table.get(field_name), str):
            return table[field_name].lower()
    return None


def _fill_missing_ids(data: Dict[str, Any]) -> None:
    """nbformat 4.5 cells need ids; nbformat would invent random ones (and
    warn), which would make two translations of one file differ. Missing
    ids are derived from the cell's position and source instead."""
    if not (isinstance(data.get("nbformat_minor"), int) and data["nbformat_minor"] >= 5):
        return
    cells = data.get("cells")
    if not isinstance(cells, list):
        return
    taken = {c.get("id") for c in cells if isinstance(c, dict)}
    for number, cell in enumerate(cells, start=1):
        if isinstance(cell, dict) and "id" not in cell:
            salt = 0
            while True:
                digest = hashlib.sha1(f"{number}:{salt}:{cell.get('source')!r}".encode("utf-8")).hexdigest()[:8]
                if digest not in taken:
                    break
                salt += 1
            cell["id"] = digest
            taken.add(digest)


def _parse(text: str) -> Tuple[Optional[Dict[str, Any]], Optional[Diagnostic]]:
    """The notebook's JSON (version 4), or the diagnostic why not."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, _error(f"cannot read notebook: invalid JSON: {exc.msg}", exc.lineno, exc.colno)
    if not isinstance(data, dict) or not isinstance(data.get("nbformat"), int):
        return None, _error("cannot read notebook: not a Jupyter notebook (no `nbformat` version)")
    if data["nbformat"] != 4:
        return None, _error(
            f"cannot read notebook: nbformat {data['nbformat']} notebooks are not supported, only "
            "version 4 (`jupyter nbconvert --to notebook` converts one)"
        )
    return data, None


def _validated(data: Dict[str, Any]) -> Tuple[Optional[Any], Optional[Diagnostic]]:
    """The notebook as nbformat reads it (a NotebookNode), validated."""
    nbformat = _nbformat()
    _fill_missing_ids(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            nb = nbformat.v4.to_notebook_json(data)
            nbformat.validate(nb)
        except nbformat.ValidationError as exc:
            first = str(getattr(exc, "message", exc)).strip().splitlines()[0][:300]
            return None, _error(f"cannot read notebook: not a valid nbformat 4 notebook: {first}")
        except Exception as exc:  # malformed beyond what the schema reports
            return None, _error(f"cannot read notebook: not a valid nbformat 4 notebook: {type(exc).__name__}: {exc}")
    return nb, None


def _write(nb: Any) -> str:
    nbformat = _nbformat()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = nbformat.writes(nb, version=nbformat.NO_CONVERT)
    return out if out.endswith("\n") else out + "\n"


def _torch_names(program: str) -> Set[str]:
    """Names the program's torch imports bind (``torch``, ``nn``, ``F``...)."""
    names: Set[str] = set()
    try:
        tree = ast.parse(program)
    except (SyntaxError, ValueError):
        return names
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in ("torch", "torchvision"):
                    names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] in ("torch", "torchvision"):
                names.update(alias.asname or alias.name for alias in node.names if alias.name != "*")
    return names


def _refer_to_torch(cells: List["_Cell"], names: Set[str]) -> None:
    """Placeholders of IPython lines whose Python part uses torch names
    refer to those names (``__torch2gluon_ipython__(7, torch)``)."""
    if not names:
        return
    pattern = re.compile(r"(?<![\w.])(" + "|".join(sorted(map(re.escape, names))) + r")\b")
    for cell in cells:
        for magic in cell.code.magics:
            used: List[str] = []
            for part in python_payload(magic):
                for match in pattern.finditer(part):
                    if match.group(1) not in used:
                        used.append(match.group(1))
            if used:
                cell.code.refer(magic, used)


@dataclass
class _Cell:
    number: int  # 1-based, counting every cell
    source: str  # as read (newlines normalised)
    code: CellCode


_Where = Tuple[int, int, Optional[Magic]]  # cell number, cell line, the IPython line there


def _program(cells: List[_Cell]) -> Tuple[str, List[_Where]]:
    """The combined program and, per program line, where it comes from."""
    lines: List[str] = []
    where: List[_Where] = []
    for cell in cells:
        lines.append(f"{SENTINEL}({cell.number})")
        where.append((cell.number, cell.code.cell_line(1), None))
        magics = {m.position: m for m in cell.code.magics}
        for i, (line, cell_line) in enumerate(zip(cell.code.lines, cell.code.cell_lines)):
            lines.append(line)
            where.append((cell.number, cell_line, magics.get(i)))
    return "".join(line + "\n" for line in lines), where


def _map(diag: Diagnostic, where: List[_Where]) -> Diagnostic:
    """A diagnostic of the program, placed in its cell (on an IPython line:
    over the whole line as the cell has it)."""

    def at(line: int) -> _Where:
        if 1 <= line <= len(where):
            return where[line - 1]
        cell, last, _ = where[-1]
        return cell, last + line - len(where), None

    cell, line, magic = at(diag.line)
    end_cell, end_line, _ = at(diag.end_line)
    if end_cell != cell or end_line < line:
        end_line = line
    if magic is not None:
        column = len(magic.indent) + 1
        first = magic.text.split("\n", 1)[0]
        return replace(diag, line=line, column=column, end_line=line, end_column=column + len(first), cell=cell)
    return replace(diag, line=line, end_line=end_line, cell=cell)


def _strip_blank_edges(lines: List[str]) -> List[str]:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


def _split_output(code: str, cells: List[_Cell]) -> Dict[int, List[str]]:
    """The translated program cut back into cells (cell number -> lines)."""
    chunks: Dict[int, List[str]] = {}
    order: List[int] = []
    current: List[str] = []
    before: List[str] = []
    for line in code.split("\n"):
        match = _SENTINEL_LINE.match(line)
        if match:
            number = int(match.group(1))
            if number in chunks:
                raise ValueError(f"cell {number}'s sentinel appears twice in the translation")
            current = chunks.setdefault(number, [])
            order.append(number)
        elif order:
            current.append(line)
        else:
            before.append(line)
    if order != [c.number for c in cells]:
        raise ValueError("the cells' sentinels are missing or out of order in the translation")
    if _strip_blank_edges(before):  # code put before the first cell belongs to it
        chunks[order[0]][:0] = before
    return chunks


def _cell_text(cell: _Cell, lines: List[str]) -> str:
    out: List[str] = []
    seen: Set[int] = set()
    for line in _strip_blank_edges(lines):
        restored = restore_line(line, cell.code.magics)
        if restored is None:
            out.append(line)
            continue
        index, text = restored
        if index in seen:
            raise ValueError(f"an IPython line appears twice in the translation: {text!r}")
        seen.add(index)
        out.append(text)
    if seen != {m.index for m in cell.code.magics}:
        raise ValueError("an IPython line is missing from the translation")
    return "\n".join(out)


def translate_notebook(text: str, *, options: Optional[Options] = None) -> NotebookTranslation:
    """Translate the code cells of a notebook (its JSON text) as one program."""
    options = options or Options()
    data, problem = _parse(text)
    if data is None or problem is not None:
        return _failed(text, *filter(None, [problem]))
    if "torch" not in text:  # cannot import it: unchanged, like a .py file
        return NotebookTranslation(source=text, code=text)
    nb, problem = _validated(data)
    if nb is None or problem is not None:
        return _failed(text, *filter(None, [problem]))
    if (_language(nb.metadata) or "python") != "python":  # an R or Julia notebook
        return NotebookTranslation(source=text, code=text)

    cells: List[_Cell] = []
    magic_count = 0
    errors: List[Diagnostic] = []
    for number, node in enumerate(nb.cells, start=1):
        if node.cell_type != "code":
            continue
        source = node.source.replace("\r\n", "\n").replace("\r", "\n")
        code = split_cell(source, magic_count)
        magic_count += len(code.magics)
        if code.kind != "python":
            continue
        error = syntax_error(code.python)
        if error is not None:
            errors.append(replace(error, line=code.cell_line(error.line), end_line=code.cell_line(error.end_line), cell=number))
        cells.append(_Cell(number, source, code))
    if errors:
        return _failed(text, *errors)
    _refer_to_torch(cells, _torch_names("".join(c.code.python for c in cells)))
    program, where = _program(cells)
    if not cells or "torch" not in program:
        return NotebookTranslation(source=text, code=text)

    result = translate(program, options=options)
    if not result.changed and not result.diagnostics:
        return NotebookTranslation(source=text, code=text, stats=dict(result.stats))
    if any(d.rule == INTERNAL_ERROR for d in result.diagnostics):
        return _failed(text, *(replace(d, cell=None) for d in result.diagnostics if d.rule == INTERNAL_ERROR))
    diagnostics = [_map(d, where) for d in result.diagnostics]
    if any(d.rule == SYNTAX_ERROR for d in diagnostics):
        return _failed(text, *diagnostics)

    diagnostics.sort(key=lambda d: (d.cell or 0, d.line, d.column, d.rule))

    try:
        chunks = _split_output(result.code, cells)
        new_sources = {c.number: _cell_text(c, chunks[c.number]) for c in cells}
    except ValueError as exc:
        return _failed(text, Diagnostic(
            rule=INTERNAL_ERROR, severity=Severity.ERROR,
            message=f"internal error: the translated notebook cannot be cut back into cells ({exc})",
            line=1, column=1, end_line=1, end_column=1,
        ))

    changes: List[CellChange] = []
    for cell in cells:
        body = cell.source[len(cell.code.header):]
        old_body = "\n".join(_strip_blank_edges(body.split("\n")))
        new_body = new_sources[cell.number]
        if new_body == old_body:
            continue
        node = nb.cells[cell.number - 1]
        new_source = cell.code.header + new_body
        if node.source.endswith("\n"):
            new_source += "\n"
        changes.append(CellChange(cell.number, node.source, new_source))
        node.source = new_source
        node.outputs = []
        node.execution_count = None
    stats = dict(result.stats)
    if not changes:
        return NotebookTranslation(source=text, code=text, diagnostics=tuple(diagnostics), stats=stats)
    return NotebookTranslation(
        source=text, code=_write(nb), diagnostics=tuple(diagnostics), stats=stats, cells=tuple(changes)
    )


def notebook_diff(result: NotebookTranslation, path: str) -> str:
    """A unified diff per changed cell, named ``path:cell N`` (a cell is not a
    file: a missing final newline is not worth a line of its own)."""

    def lines(text: str) -> str:
        return text if text.endswith("\n") else text + "\n"

    return "".join(unified_diff(lines(c.old), lines(c.new), f"{path}:cell {c.number}") for c in result.cells)
