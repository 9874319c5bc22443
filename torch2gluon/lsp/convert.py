"""From torch2gluon's positions and diagnostics to the editor's, as plain data.

torch2gluon counts lines and columns from 1, columns in code points, on
text with ``\\n`` newlines. LSP counts both from 0, columns in the code
units the client and server agreed on at ``initialize`` (UTF-16 unless the
client offers another), and treats ``\\r\\n``, ``\\r`` and ``\\n`` as line
ends. Nothing here needs pygls: the server turns these tuples into
lsprotocol types.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from typing import Dict, List, Optional, Tuple

from ..base.diagnostics import INTERNAL_ERROR, SYNTAX_ERROR, Diagnostic

__all__ = [
    "normalize",
    "lines_of",
    "position",
    "span",
    "document_end",
    "ignore_edit",
    "suggestion_edit",
]

Position = Tuple[int, int]  # 0-based line, character in the client's code units
Edit = Tuple[Position, Position, str]  # replace start..end with text

_IGNORE = re.compile(r"#\s*torch2gluon:\s*ignore(\[([^\]]*)\])?")


def normalize(text: str) -> str:
    """The text with ``\\n`` newlines, as ``translate()`` wants it (LSP's
    lines are the same: each ``\\r\\n`` or ``\\r`` is one line end)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def lines_of(text: str) -> List[str]:
    return normalize(text).split("\n")


def _units(text: str, encoding: str) -> int:
    if encoding == "utf-8":
        return len(text.encode("utf-8"))
    if encoding == "utf-32":
        return len(text)
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)  # UTF-16


def position(lines: List[str], line: int, column: int, encoding: str = "utf-16") -> Position:
    """The LSP position of 1-based ``line``:``column`` (code points); past
    the end of the document: its end."""
    index = line - 1
    if index >= len(lines):
        return document_end(lines, encoding)
    index = max(index, 0)
    text = lines[index]
    return index, _units(text[: max(column - 1, 0)], encoding)


def span(lines: List[str], diag: Diagnostic, encoding: str = "utf-16") -> Tuple[Position, Position]:
    start = position(lines, diag.line, diag.column, encoding)
    end = position(lines, diag.end_line, diag.end_column, encoding)
    return start, max(start, end)


def document_end(lines: List[str], encoding: str = "utf-16") -> Position:
    return len(lines) - 1, _units(lines[-1], encoding)


def _tokens(text: str) -> List[tokenize.TokenInfo]:
    try:
        return list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return []


def _header_end(tokens: List[tokenize.TokenInfo], line: int) -> Optional[int]:
    """The line of the ``:`` that ends the compound statement header starting on ``line``."""
    depth = 0
    for tok in tokens:
        if tok.start[0] < line or tok.type != tokenize.OP:
            continue
        if tok.string in "([{":
            depth += 1
        elif tok.string in ")]}":
            depth -= 1
        elif tok.string == ":" and depth == 0:
            return tok.start[0]
    return None


def _comment_line(tree: ast.AST, tokens: List[tokenize.TokenInfo], line: int) -> Optional[int]:
    """The line whose comment a suppression for ``line`` must end: the last
    line of the innermost simple statement holding it, or the header line
    (the one with the ``:``) of the compound statement whose header holds it;
    none for a decorator."""
    nodes: List[ast.stmt] = list(getattr(tree, "body", []))
    while nodes:
        node = nodes.pop()
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        last = node.end_lineno or node.lineno
        if not first <= line <= last:
            continue
        if line < node.lineno:
            return None  # a decorator: the engine reads no comment for it
        body = getattr(node, "body", None)
        if not (isinstance(body, list) and body and isinstance(body[0], ast.stmt)):
            return last  # a simple statement
        header = _header_end(tokens, node.lineno)
        if header is None or body[0].lineno == header:
            return None  # `if x: y` on one line: no comment covers only its header
        if line <= header:
            return header
        blocks = [getattr(node, name, None) for name in ("body", "orelse", "finalbody")]
        blocks += [h.body for h in getattr(node, "handlers", [])]
        blocks += [c.body for c in getattr(node, "cases", [])]
        nodes = [s for block in blocks if isinstance(block, list) for s in block if isinstance(s, ast.stmt)]
    return None


def _comments(tokens: List[tokenize.TokenInfo]) -> Dict[int, Tuple[int, str]]:
    """1-based line -> (column of its comment in code points, the comment)."""
    return {tok.start[0]: (tok.start[1], tok.string) for tok in tokens if tok.type == tokenize.COMMENT}


def ignore_edit(text: str, diag: Diagnostic, encoding: str = "utf-16") -> Optional[Edit]:
    """The edit adding ``# torch2gluon: ignore[RULE]`` where it silences
    ``diag`` (the engine reads it on the statement's last line, or a
    compound statement's header line); ``None`` where there is no such place."""
    if diag.rule in (SYNTAX_ERROR, INTERNAL_ERROR) or diag.cell is not None:
        return None
    text = normalize(text)
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    tokens = _tokens(text)
    target = _comment_line(tree, tokens, diag.line)
    if target is None:
        return None
    lines = text.split("\n")
    line = lines[target - 1]
    comment = _comments(tokens).get(target)
    if comment is not None:
        column, existing = comment
        match = _IGNORE.search(existing)
        if match and match.group(1) is None:
            return None  # everything on this statement is ignored already
        if match:
            codes = [c.strip() for c in match.group(2).split(",") if c.strip()]
            if diag.rule in codes:
                return None
            start = column + match.start()
            end = column + match.end()
            new = f"# torch2gluon: ignore[{', '.join(codes + [diag.rule])}]"
            return (
                (target - 1, _units(line[:start], encoding)),
                (target - 1, _units(line[:end], encoding)),
                new,
            )
    code_end = len(line.rstrip())
    return (
        (target - 1, _units(line[:code_end], encoding)),
        (target - 1, _units(line, encoding)),
        f"  # torch2gluon: ignore[{diag.rule}]",
    )


def suggestion_edit(text: str, diag: Diagnostic, encoding: str = "utf-16") -> Optional[Edit]:
    """The edit replacing ``diag``'s range with its suggestion, when the
    document still parses afterwards (a suggestion that is prose, not code,
    is no edit)."""
    if not diag.suggestion or diag.cell is not None:
        return None
    text = normalize(text)
    lines = text.split("\n")
    if not (1 <= diag.line <= diag.end_line <= len(lines)):
        return None
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    begin = starts[diag.line - 1] + diag.column - 1
    finish = starts[diag.end_line - 1] + diag.end_column - 1
    if not 0 <= begin <= finish <= len(text):
        return None
    try:
        ast.parse(text[:begin] + diag.suggestion + text[finish:])
    except (SyntaxError, ValueError):
        return None
    start, end = span(lines, diag, encoding)
    return start, end, diag.suggestion
