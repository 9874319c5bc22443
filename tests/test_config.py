"""[tool.torch2gluon] in pyproject.toml: parsing, discovery, CLI overrides."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from torch2gluon.cli import EXIT_CHANGED, EXIT_ERROR, EXIT_OK, main
from torch2gluon.config import (
    Config,
    ConfigError,
    find_config,
    load_config,
    parse_config,
    path_selected,
)
from torch2gluon.rules import all_rules

TORCH_SRC = "import torch\nx = torch.ones(5, 3)\n"
LINEAR_SRC = "from torch import nn\nfc = nn.Linear(4, 2)\n"
KNOWN = [r.code for r in all_rules()]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def project(tmp_path: Path, table: str) -> Path:
    """A repository root (with .git, so discovery stops there) and its pyproject."""
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    write(root / "pyproject.toml", "[project]\nname = 'x'\n\n[tool.torch2gluon]\n" + table)
    return root


# ---------------------------------------------------------------------------
# Pure parsing
# ---------------------------------------------------------------------------


def test_parse_full_table():
    data = {
        "tool": {
            "torch2gluon": {
                "include": ["src/*.py"],
                "exclude": ["legacy/*"],
                "disable": ["t2g101"],
                "init": "mxnet",
            }
        }
    }
    config = parse_config(data, root="/r", known_rules=KNOWN)
    assert config == Config(
        include=("src/*.py",), exclude=("legacy/*",), disable=("T2G101",), init="mxnet", root="/r"
    )


def test_parse_without_table_is_none():
    assert parse_config({"tool": {"black": {}}}) is None
    assert parse_config({}) is None


@pytest.mark.parametrize(
    "table, message",
    [
        pytest.param({"disabled": ["T2G101"]}, "unknown key", id="unknown key"),
        pytest.param({"disable": "T2G101,T2G201"}, "unknown rule id", id="comma string is not a list of ids"),
        pytest.param({"disable": ["T2G123"]}, "unknown rule id", id="unknown rule"),
        pytest.param({"exclude": [1]}, "list of strings", id="wrong type"),
        pytest.param({"init": "paddle"}, "`init` must be one of", id="bad init"),
    ],
)
def test_parse_errors(table, message):
    with pytest.raises(ConfigError, match=message):
        parse_config({"tool": {"torch2gluon": table}}, known_rules=KNOWN)


def test_path_selection_globs():
    root = "/r"
    assert path_selected("/r/a.py", ("*.py",), (), root)
    assert path_selected("/r/deep/down/a.py", ("*.py",), (), root), "*.py matches names at any depth"
    assert not path_selected("/r/legacy/old/a.py", ("*.py",), ("legacy",), root), "a directory"
    assert not path_selected("/r/legacy/a.py", ("*.py",), ("legacy/*",), root)
    assert not path_selected("/r/a_test.py", ("*.py",), ("**/*_test.py",), root), "**/ at top level"
    assert not path_selected("/r/pkg/a_test.py", ("*.py",), ("**/*_test.py",), root)
    assert path_selected("/r/src/m.py", ("src/*",), (), root)
    assert not path_selected("/r/other/m.py", ("src/*",), (), root)


# ---------------------------------------------------------------------------
# Discovery
# ---------------------------------------------------------------------------


def test_found_by_walking_up_past_pyprojects_without_the_table(tmp_path):
    root = project(tmp_path, 'disable = ["T2G101"]\n')
    write(root / "pkg" / "pyproject.toml", "[tool.black]\nline-length = 100\n")
    src = write(root / "pkg" / "deep" / "m.py", TORCH_SRC)
    config = find_config([str(src)], KNOWN)
    assert config is not None
    assert config.path == str(root / "pyproject.toml")
    assert config.root == str(root)
    assert config.disable == ("T2G101",)


def test_search_stops_at_the_repository_root(tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.torch2gluon]\ninit = 'mxnet'\n")
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    src = write(repo / "m.py", TORCH_SRC)
    assert find_config([str(src)], KNOWN) is None


def test_load_config_reports_bad_toml(tmp_path):
    bad = write(tmp_path / "pyproject.toml", "[tool.torch2gluon\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(str(bad))


# ---------------------------------------------------------------------------
# Through the CLI
# ---------------------------------------------------------------------------


def test_disable_from_config_and_cli_override(tmp_path, capsys):
    root = project(tmp_path, 'disable = ["T2G101"]\n')
    src = write(root / "m.py", TORCH_SRC)
    assert main(["--check", str(src)]) == EXIT_CHANGED
    _, err = capsys.readouterr()
    assert ": error T2G" in err, "a disabled rule's construct is reported as untranslated"
    # --disable on the command line replaces the configuration's list.
    assert main(["--check", "--disable", "T2G201", str(src)]) == EXIT_CHANGED
    _, err = capsys.readouterr()
    assert ": error " not in err
    assert "1 file would be translated" in err
    # --no-config ignores the file altogether.
    assert main(["--check", "--no-config", str(src)]) == EXIT_CHANGED
    _, err = capsys.readouterr()
    assert ": error " not in err


def test_init_from_config_and_cli_override(tmp_path, capsys):
    root = project(tmp_path, 'init = "mxnet"\n')
    src = write(root / "m.py", LINEAR_SRC)
    assert main([str(src)]) == EXIT_OK
    out, _ = capsys.readouterr()
    assert "weight_initializer" not in out, "Gluon's own defaults"
    assert main(["--init", "torch", str(src)]) == EXIT_OK
    out, _ = capsys.readouterr()
    assert "weight_initializer=init.Uniform(4**-0.5)" in out


def test_include_and_exclude(tmp_path, capsys):
    root = project(tmp_path, 'exclude = ["legacy", "**/*_old.py"]\n')
    write(root / "src" / "a.py", TORCH_SRC)
    write(root / "src" / "b_old.py", TORCH_SRC)
    write(root / "legacy" / "c.py", TORCH_SRC)
    assert main(["--check", "-v", str(root)]) == EXIT_CHANGED
    _, err = capsys.readouterr()
    assert "a.py" in err and "b_old.py" not in err and "c.py" not in err
    assert "1 file would be translated" in err

    # A file named on the command line is excluded too (pre-commit names files).
    assert main(["--check", str(root / "legacy" / "c.py")]) == EXIT_OK
    _, err = capsys.readouterr()
    assert "no Python files to translate" in err

    # --exclude on the command line replaces the configuration's list.
    assert main(["--check", "--exclude", "legacy", str(root)]) == EXIT_CHANGED
    _, err = capsys.readouterr()
    assert "a.py" in err and "b_old.py" in err and "c.py" not in err
    assert "2 files would be translated" in err

    # --include narrows the files (the configuration's exclude still applies).
    write(root / "tools" / "d.py", TORCH_SRC)
    assert main(["--check", "--include", "src/*", str(root)]) == EXIT_CHANGED
    _, err = capsys.readouterr()
    assert "1 file would be translated" in err and "a.py" in err and "d.py" not in err


def test_include_from_config(tmp_path, capsys):
    root = project(tmp_path, 'include = ["src/*"]\n')
    write(root / "src" / "a.py", TORCH_SRC)
    write(root / "tools" / "b.py", TORCH_SRC)
    assert main(["--check", str(root)]) == EXIT_CHANGED
    _, err = capsys.readouterr()
    assert "would translate" in err and "a.py" in err and "b.py" not in err


def test_explicit_config_path(tmp_path, capsys):
    conf = write(tmp_path / "elsewhere" / "pyproject.toml", '[tool.torch2gluon]\ndisable = ["T2G101"]\n')
    src = write(tmp_path / "m.py", TORCH_SRC)
    assert main(["--check", "--config", str(conf), str(src)]) == EXIT_CHANGED
    _, err = capsys.readouterr()
    assert ": error T2G" in err
    empty = write(tmp_path / "other" / "pyproject.toml", "[tool.black]\n")
    assert main(["--check", "--config", str(empty), str(src)]) == EXIT_ERROR
    _, err = capsys.readouterr()
    assert "no [tool.torch2gluon] table" in err


def test_invalid_config_is_a_usage_error(tmp_path, capsys):
    root = project(tmp_path, 'disable = ["T2G777"]\n')
    src = write(root / "m.py", TORCH_SRC)
    assert main(["--check", str(src)]) == EXIT_ERROR
    _, err = capsys.readouterr()
    assert "unknown rule id(s) in `disable`: T2G777" in err
    assert str(root / "pyproject.toml") in err


def test_stdin_uses_the_configuration_of_the_current_directory(tmp_path, capsys, monkeypatch):
    import io

    root = project(tmp_path, 'disable = ["T2G101"]\n')
    monkeypatch.chdir(root)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(TORCH_SRC.encode())))
    assert main(["-"]) == EXIT_CHANGED
