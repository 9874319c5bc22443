"""Project configuration: the ``[tool.torch2gluon]`` table of ``pyproject.toml``.

Example::

    [tool.torch2gluon]
    include = ["*.py", "*.ipynb"]      # globs of the files to translate (the default)
    exclude = ["legacy/*", "**/_vendor/*"]
    disable = ["T2G101"]               # rule ids to switch off
    init = "torch"                     # or "mxnet"
    hybridize = false                  # true: HybridBlocks where forward allows

The file is found like black finds its own: starting from the common
directory of the input paths (the current directory for stdin), walk up to
the first ``pyproject.toml`` that *has* a ``[tool.torch2gluon]`` table,
stopping at the repository root (a directory holding ``.git`` or ``.hg``).
``--config PATH`` names the file instead. Command-line flags override the
file's values (``--disable``, ``--include``, ``--exclude`` replace the
file's lists; ``--init`` its choice; ``--hybridize``/``--no-hybridize``
its ``hybridize``).

Globs are matched against a file's path relative to the directory of the
``pyproject.toml`` (``/``-separated), with ``fnmatch`` rules: ``*`` also
crosses ``/``, so ``legacy/*`` covers everything below ``legacy/``. A glob
matches a file if it matches the file's path or the path of one of the
directories it is in, and a leading ``**/`` also matches at the top level.
Both lists apply to every file, those named on the command line too (so a
pre-commit hook, which names files one by one, follows them).

Everything here is pure except ``find_config`` and ``load_config``, which
read the file system.
"""

from __future__ import annotations

import fnmatch
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional, Sequence, Tuple

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - black depends on tomli for Python < 3.11
    import tomli as tomllib

__all__ = [
    "Config",
    "ConfigError",
    "DEFAULT_INCLUDE",
    "parse_config",
    "find_config",
    "load_config",
    "path_selected",
]

DEFAULT_INCLUDE: Tuple[str, ...] = ("*.py", "*.ipynb")
INIT_CHOICES = ("torch", "mxnet")
KEYS = ("include", "exclude", "disable", "init", "hybridize")


class ConfigError(ValueError):
    """A configuration file that cannot be read or holds invalid values."""


@dataclass(frozen=True)
class Config:
    """The settings of one ``[tool.torch2gluon]`` table (defaults when absent).

    ``root`` is the directory globs are relative to; ``path`` the file they
    came from (``None``: no file, all defaults).
    """

    include: Tuple[str, ...] = DEFAULT_INCLUDE
    exclude: Tuple[str, ...] = ()
    disable: Tuple[str, ...] = ()
    init: Optional[str] = None
    hybridize: Optional[bool] = None
    root: str = "."
    path: Optional[str] = None
    keys: Tuple[str, ...] = field(default=(), compare=False)  # keys the file set


def _string_list(table: Mapping[str, Any], key: str, where: str) -> Tuple[str, ...]:
    value = table[key]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: `{key}` must be a list of strings")
    return tuple(value)


def parse_config(
    data: Mapping[str, Any],
    *,
    root: str = ".",
    path: Optional[str] = None,
    known_rules: Optional[Iterable[str]] = None,
) -> Optional[Config]:
    """The ``Config`` of a parsed ``pyproject.toml`` (a dict), or ``None``
    when it has no ``[tool.torch2gluon]`` table.

    Raises ``ConfigError`` for unknown keys, wrong types, an unknown ``init``
    and, when ``known_rules`` is given, rule ids that do not exist.
    """
    tool = data.get("tool")
    if not isinstance(tool, dict) or "torch2gluon" not in tool:
        return None
    table = tool["torch2gluon"]
    where = f"{path or 'pyproject.toml'}: [tool.torch2gluon]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(KEYS)})"
        )
    values: dict = {}
    for key in ("include", "exclude", "disable"):
        if key in table:
            values[key] = _string_list(table, key, where)
    if "disable" in values:
        values["disable"] = tuple(rule.strip().upper() for rule in values["disable"])
        if known_rules is not None:
            known = set(known_rules)
            bad = [rule for rule in values["disable"] if rule not in known]
            if bad:
                raise ConfigError(f"{where}: unknown rule id(s) in `disable`: {', '.join(bad)}")
    if "init" in table:
        if table["init"] not in INIT_CHOICES:
            raise ConfigError(f"{where}: `init` must be one of {', '.join(INIT_CHOICES)}")
        values["init"] = table["init"]
    if "hybridize" in table:
        if not isinstance(table["hybridize"], bool):
            raise ConfigError(f"{where}: `hybridize` must be true or false")
        values["hybridize"] = table["hybridize"]
    return Config(root=root, path=path, keys=tuple(sorted(table)), **values)


def load_config(path: str, known_rules: Optional[Iterable[str]] = None) -> Optional[Config]:
    """Read and parse one ``pyproject.toml``; ``None`` if it has no table."""
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    root = os.path.dirname(os.path.abspath(path))
    return parse_config(data, root=root, path=path, known_rules=known_rules)


def _start_directory(paths: Sequence[str]) -> str:
    dirs = []
    for p in paths:
        p = os.path.abspath(p)
        dirs.append(p if os.path.isdir(p) else os.path.dirname(p))
    if not dirs:
        return os.getcwd()
    try:
        return os.path.commonpath(dirs)
    except ValueError:  # different drives
        return dirs[0]


def find_config(paths: Sequence[str], known_rules: Optional[Iterable[str]] = None) -> Optional[Config]:
    """The configuration that applies to ``paths`` (``"-"`` counts as the
    current directory), or ``None`` when no ``pyproject.toml`` up to the
    repository root has a ``[tool.torch2gluon]`` table."""
    start = _start_directory([os.getcwd() if p == "-" else p for p in paths])
    directory = start
    while True:
        candidate = os.path.join(directory, "pyproject.toml")
        if os.path.isfile(candidate):
            config = load_config(candidate, known_rules)
            if config is not None:
                return config
        if os.path.exists(os.path.join(directory, ".git")) or os.path.exists(
            os.path.join(directory, ".hg")
        ):
            return None
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def _matches(relpath: str, patterns: Iterable[str]) -> bool:
    parts = relpath.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        pattern = pattern.replace(os.sep, "/").rstrip("/")
        alternatives = [pattern]
        if pattern.startswith("**/"):
            alternatives.append(pattern[3:])
        for alt in alternatives:
            if any(fnmatch.fnmatchcase(c, alt) for c in candidates):
                return True
    return False


def _relative(path: str, root: str) -> str:
    rel = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
    return rel.replace(os.sep, "/")


def path_selected(path: str, include: Sequence[str], exclude: Sequence[str], root: str) -> bool:
    """Whether ``path`` is matched by ``include`` and not by ``exclude``.

    ``include`` globs are matched against the file's relative path (and its
    name alone, so the default ``*.py`` works at any depth); ``exclude``
    globs also against each of its parent directories.
    """
    rel = _relative(path, root)
    name = rel.rsplit("/", 1)[-1]
    included = any(
        fnmatch.fnmatchcase(rel, p) or fnmatch.fnmatchcase(name, p)
        or (p.startswith("**/") and fnmatch.fnmatchcase(rel, p[3:]))
        for p in (q.replace(os.sep, "/") for q in include)
    )
    return included and not _matches(rel, exclude)
