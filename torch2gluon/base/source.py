"""Source bytes to text and back, the way the interpreter reads them.

``decode_source`` honours a PEP 263 coding cookie or a UTF-8 BOM (UTF-8
otherwise) and normalises newlines; ``encode_source`` puts the encoding, the
BOM and the newline style back.
"""

from __future__ import annotations

import codecs
import io
import re
import tokenize
from typing import Optional, Tuple


class SourceDecodeError(ValueError):
    """Source bytes that cannot be decoded; ``line``/``column`` are 1-based."""

    def __init__(
        self, encoding: str, reason: str, line: int = 1, column: int = 1
    ) -> None:
        super().__init__(f"cannot decode file as {encoding}: {reason}")
        self.encoding = encoding
        self.reason = reason
        self.line = line
        self.column = column


_NEWLINE_RE = re.compile(r"\r\n|\r|\n")
_NEWLINE_BYTES_RE = re.compile(rb"\r\n|\r|\n")


def detect_newline(text: str) -> str:
    """The newline style of ``text``: that of its first line ending (``\\n`` if none)."""
    match = _NEWLINE_RE.search(text)
    return match.group() if match else "\n"


def _find_cookie(data: bytes) -> Optional[Tuple[str, int]]:
    """The PEP 263 coding cookie in the first two lines, as (name, line)."""
    lines = data.split(b"\n", 2)[:2]
    for number, raw in enumerate(lines, start=1):
        match = tokenize.cookie_re.match(raw.decode("latin-1"))
        if match:
            return match.group(1), number
        if not tokenize.blank_re.match(raw):
            return None
    return None


def _position(data: bytes, offset: int, encoding: str) -> Tuple[int, int]:
    """1-based (line, column) of byte ``offset`` in ``data``."""
    prefix = data[:offset]
    line = len(_NEWLINE_BYTES_RE.findall(prefix)) + 1
    starts = [m.end() for m in _NEWLINE_BYTES_RE.finditer(prefix)]
    line_start = starts[-1] if starts else 0
    column = len(prefix[line_start:].decode(encoding, errors="replace")) + 1
    return line, column


def _ascii_compatible(encoding: str) -> bool:
    """Whether ``encoding`` writes ASCII as ASCII (UTF-16/32 do not; rot13
    and other text transforms are no byte codecs at all)."""
    sample = "#-*- coding: x -*-\nimport a.b as c\n"
    try:
        return sample.encode(encoding) == sample.encode("ascii")
    except (LookupError, UnicodeError):
        return False


def decode_source(data: bytes) -> Tuple[str, str, str, bool]:
    """Decode Python source bytes the way the interpreter does.

    Returns ``(text, encoding, newline, bom)``: ``text`` with ``\\n`` newlines
    and without the BOM, the codec name (PEP 263 cookie, else UTF-8), the
    newline style of the first line ending, and whether a UTF-8 BOM was
    present. Raises ``SourceDecodeError`` carrying the line and column of the
    first undecodable byte.
    """
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        message = exc.msg if isinstance(exc.msg, str) else str(exc)
        cookie = _find_cookie(data)
        if message.startswith("invalid or missing encoding declaration"):
            # A byte that is not UTF-8 in the first two lines. If a cookie is
            # there after all, honour it; otherwise decode as UTF-8 below,
            # which pinpoints the bad byte.
            encoding = "utf-8"
            if cookie is not None:
                try:
                    encoding = codecs.lookup(cookie[0]).name
                except LookupError:
                    raise SourceDecodeError(
                        cookie[0], "unknown encoding", cookie[1]
                    ) from None
            if data.startswith(codecs.BOM_UTF8) and encoding == "utf-8":
                encoding = "utf-8-sig"
        else:
            name, line = cookie if cookie is not None else ("utf-8", 1)
            if message.startswith("unknown encoding"):
                raise SourceDecodeError(name, "unknown encoding", line) from None
            raise SourceDecodeError(name, message, line) from None

    bom = encoding == "utf-8-sig"
    if bom:
        encoding = "utf-8"
        data = data[len(codecs.BOM_UTF8) :]
    if not _ascii_compatible(encoding):
        # Python reads source through an ASCII-compatible codec only and
        # rejects a file declaring another ("encoding problem: utf-16")
        name, line = _find_cookie(data) or (encoding, 1)
        raise SourceDecodeError(
            name, "encoding problem: not ASCII-compatible, Python cannot read it", line
        )
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line, column = _position(data, exc.start, encoding)
        bad = data[exc.start : exc.start + 1]
        reason = f"{exc.reason} (0x{bad.hex()})" if bad else exc.reason
        raise SourceDecodeError(encoding, reason, line, column) from None
    except LookupError as exc:  # a codec that exists but cannot decode bytes
        raise SourceDecodeError(encoding, str(exc)) from None

    newline = detect_newline(text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text, encoding, newline, bom


def encode_source(
    text: str, encoding: str = "utf-8", newline: str = "\n", bom: bool = False
) -> bytes:
    """The inverse of ``decode_source``: ``\\n`` newlines become ``newline``,
    the text is encoded with ``encoding`` and the BOM is put back.

    Raises ``UnicodeEncodeError`` when the text has characters the encoding
    cannot represent.
    """
    if newline != "\n":
        text = text.replace("\n", newline)
    data = text.encode(encoding)
    return codecs.BOM_UTF8 + data if bom else data
