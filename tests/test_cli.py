"""Tests for the torch2gluon command line, run in-process on real files."""

from __future__ import annotations

import io
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from torch2gluon import __version__
from torch2gluon.cli import (
    EXIT_CHANGED,
    EXIT_ERROR,
    EXIT_INTERNAL,
    EXIT_OK,
    SourceDecodeError,
    decode_source,
    encode_source,
    format_summary,
    iter_python_files,
    main,
    unified_diff,
)

REPO = Path(__file__).resolve().parents[1]

TORCH_SRC = "import torch\nx = torch.ones(5, 3)\n"
PLAIN_SRC = "import os\n\n\ndef f(x):\n    return os.path.join(x, 'y')\n"
UNTRANSLATED_SRC = "import torch\nx = torch.frobnicate(1)\n"
SYNTAX_ERROR_SRC = "import torch\nx = torch.ones(5, 3\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


def assert_translated(code: str) -> None:
    assert "nd.ones((5, 3))" in code
    assert "torch" not in code


def set_stdin(monkeypatch, data: bytes) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))


# ---------------------------------------------------------------------------
# Pure helpers
# ---------------------------------------------------------------------------


def test_decode_plain_utf8():
    assert decode_source(b"x = 1\n") == ("x = 1\n", "utf-8", "\n", False)


def test_decode_crlf_and_bom_round_trip():
    data = b"\xef\xbb\xbfx = 'caf\xc3\xa9'\r\ny = 2\r\n"
    text, encoding, newline, bom = decode_source(data)
    assert text == "x = 'café'\ny = 2\n"
    assert (encoding, newline, bom) == ("utf-8", "\r\n", True)
    assert encode_source(text, encoding, newline, bom) == data


def test_decode_newline_is_that_of_the_first_line():
    assert decode_source(b"a = 1\nb = 2\r\n")[2] == "\n"
    assert decode_source(b"a = 1\r\nb = 2\n")[2] == "\r\n"
    assert decode_source(b"a = 1")[2] == "\n"


def test_decode_coding_cookie_round_trip():
    data = b"# -*- coding: latin-1 -*-\ns = 'caf\xe9'\n"
    text, encoding, newline, bom = decode_source(data)
    assert "café" in text
    assert encoding == "iso-8859-1"
    assert encode_source(text, encoding, newline, bom) == data


@pytest.mark.parametrize(
    "data, line, column",
    [
        (b"x = 1\ny = 2\nz = 'caf\xe9'\n", 3, 9),
        (b"s = '\xff'\n", 1, 6),
        (b"a = 1\r\nb = 2\r\n\r\n# \x80\r\n", 4, 3),
        (b"\xef\xbb\xbfa = 1\nb = '\xc3'\n", 2, 6),
    ],
)
def test_decode_error_points_at_the_bad_byte(data, line, column):
    with pytest.raises(SourceDecodeError) as info:
        decode_source(data)
    assert info.value.encoding == "utf-8"
    assert (info.value.line, info.value.column) == (line, column)


def test_decode_unknown_cookie():
    with pytest.raises(SourceDecodeError) as info:
        decode_source(b"#!/usr/bin/env python\n# coding: no-such-codec\nx = 1\n")
    assert info.value.encoding == "no-such-codec"
    assert info.value.line == 2


def test_unified_diff_format():
    diff = unified_diff("a = 1\nb = 2\n", "a = 1\nb = 3\n", "pkg/m.py")
    assert diff.splitlines()[:2] == ["--- a/pkg/m.py", "+++ b/pkg/m.py"]
    assert "-b = 2\n+b = 3\n" in diff
    assert unified_diff("same\n", "same\n", "m.py") == ""
    assert unified_diff("a", "b", "m.py").endswith("+b\n\\ No newline at end of file\n")


def test_summary_pluralisation():
    assert format_summary(1, 2, 0, 1, 1) == (
        "1 file translated, 2 files left unchanged, 0 files failed; 1 diagnostic (1 untranslated)"
    )
    assert format_summary(3, 1, 1, 0, 0) == (
        "3 files translated, 1 file left unchanged, 1 file failed; 0 diagnostics (0 untranslated)"
    )
    assert format_summary(1, 0, 0, 2, 0, check=True) == (
        "1 file would be translated, 0 files would be left unchanged; 2 diagnostics (0 untranslated)"
    )


def test_iter_python_files_skips_and_sorts(tmp_path):
    for rel in [
        "b.py",
        "a.py",
        "notes.txt",
        "pkg/z.py",
        "pkg/sub/y.py",
        ".hidden/h.py",
        "__pycache__/c.py",
        "venv/v.py",
        ".venv/v.py",
        "build/b.py",
        "dist/d.py",
        "pkg/build/x.py",
    ]:
        write(tmp_path / rel, "x = 1\n")
    found = [os.path.relpath(p, tmp_path) for p in iter_python_files(str(tmp_path))]
    assert found == [
        "a.py",
        "b.py",
        os.path.join("pkg", "z.py"),
        os.path.join("pkg", "sub", "y.py"),
    ]


# ---------------------------------------------------------------------------
# One file to stdout
# ---------------------------------------------------------------------------


def test_single_file_to_stdout(tmp_path, capsys):
    src = write(tmp_path / "train.py", TORCH_SRC)
    assert main([str(src)]) == EXIT_OK
    out, err = capsys.readouterr()
    assert_translated(out)
    assert "1 file translated, 0 files left unchanged, 0 files failed" in err
    assert src.read_text() == TORCH_SRC  # the input is untouched


def test_file_without_torch_is_printed_unchanged(tmp_path, capsys):
    src = write(tmp_path / "util.py", PLAIN_SRC)
    assert main([str(src)]) == EXIT_OK
    out, err = capsys.readouterr()
    assert out == PLAIN_SRC
    assert "0 files translated, 1 file left unchanged" in err


def test_untranslated_api_is_reported_and_exits_1(tmp_path, capsys):
    src = write(tmp_path / "m.py", UNTRANSLATED_SRC)
    assert main([str(src)]) == EXIT_CHANGED
    _, err = capsys.readouterr()
    assert re.search(
        rf"^{re.escape(str(src))}:2:\d+: error T2G\d{{3}} ", err, re.M
    ), err
    assert re.search(r"; \d+ diagnostics? \([1-9]\d* untranslated\)", err), err


def test_quiet_prints_errors_only(tmp_path, capsys):
    good = write(tmp_path / "good.py", TORCH_SRC)
    bad = write(tmp_path / "bad.py", UNTRANSLATED_SRC)
    assert main(["-q", str(good)]) == EXIT_OK
    out, err = capsys.readouterr()
    assert_translated(out)
    assert err == ""
    assert main(["-q", str(bad)]) == EXIT_CHANGED
    _, err = capsys.readouterr()
    lines = err.splitlines()
    assert lines and all(": error " in line for line in lines), err


def test_verbose_lists_unchanged_files(tmp_path, capsys):
    write(tmp_path / "src" / "util.py", PLAIN_SRC)
    assert main(["-v", "--check", str(tmp_path / "src")]) == EXIT_OK
    _, err = capsys.readouterr()
    assert f"would leave {tmp_path / 'src' / 'util.py'} unchanged" in err
    assert main(["--check", str(tmp_path / "src")]) == EXIT_OK
    _, err = capsys.readouterr()
    assert "util.py" not in err


# ---------------------------------------------------------------------------
# -o
# ---------------------------------------------------------------------------


def test_output_file(tmp_path, capsys):
    src = write(tmp_path / "train.py", TORCH_SRC)
    dest = tmp_path / "out" / "train_mx.py"
    assert main([str(src), "-o", str(dest)]) == EXIT_OK
    out, _ = capsys.readouterr()
    assert out == ""
    assert_translated(dest.read_text())
    assert src.read_text() == TORCH_SRC


def test_output_directory_mirrors_tree(tmp_path, capsys):
    src = tmp_path / "src"
    write(src / "train.py", TORCH_SRC)
    write(src / "pkg" / "model.py", TORCH_SRC)
    util = write(src / "pkg" / "util.py", PLAIN_SRC)
    write(src / ".hidden" / "h.py", TORCH_SRC)
    write(src / "__pycache__" / "c.py", TORCH_SRC)
    write(src / "build" / "b.py", TORCH_SRC)
    out = tmp_path / "out"

    assert main([str(src), "-o", str(out)]) == EXIT_OK
    _, err = capsys.readouterr()

    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == ["pkg/model.py", "pkg/util.py", "train.py"]
    assert_translated((out / "train.py").read_text())
    assert_translated((out / "pkg" / "model.py").read_text())
    assert (out / "pkg" / "util.py").read_bytes() == util.read_bytes()
    assert "2 files translated, 1 file left unchanged, 0 files failed" in err


def test_output_directory_inside_input_is_not_walked(tmp_path, capsys):
    write(tmp_path / "train.py", TORCH_SRC)
    out = tmp_path / "converted"
    assert main([str(tmp_path), "-o", str(out)]) == EXIT_OK
    assert main([str(tmp_path), "-o", str(out)]) == EXIT_OK
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.py")) == [
        "train.py"
    ]


def test_several_inputs_mirror_below_common_directory(tmp_path, capsys):
    a = write(tmp_path / "proj" / "a.py", TORCH_SRC)
    b = write(tmp_path / "proj" / "lib" / "b.py", PLAIN_SRC)
    out = tmp_path / "out"
    assert main([str(a), str(b), "-o", str(out)]) == EXIT_OK
    assert_translated((out / "a.py").read_text())
    assert (out / "lib" / "b.py").read_text() == PLAIN_SRC


def test_output_must_be_a_directory_for_a_tree(tmp_path, capsys):
    write(tmp_path / "src" / "a.py", TORCH_SRC)
    target = write(tmp_path / "out.py", "")
    assert main([str(tmp_path / "src"), "-o", str(target)]) == EXIT_ERROR
    assert "-o must name a directory" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# --check and --diff
# ---------------------------------------------------------------------------


def test_check_exits_1_when_torch_code_present(tmp_path, capsys):
    src = write(tmp_path / "train.py", TORCH_SRC)
    write(tmp_path / "util.py", PLAIN_SRC)
    assert main(["--check", str(tmp_path)]) == EXIT_CHANGED
    out, err = capsys.readouterr()
    assert out == ""
    assert f"would translate {src}" in err
    assert "1 file would be translated, 1 file would be left unchanged" in err
    assert src.read_text() == TORCH_SRC


def test_check_exits_0_when_clean(tmp_path, capsys):
    write(tmp_path / "util.py", PLAIN_SRC)
    write(tmp_path / "pkg" / "more.py", "x = 1\n")
    assert main(["--check", str(tmp_path)]) == EXIT_OK
    _, err = capsys.readouterr()
    assert "0 files would be translated, 2 files would be left unchanged" in err


def test_diff_prints_unified_diff_and_changes_nothing(tmp_path, capsys):
    src = write(tmp_path / "train.py", TORCH_SRC)
    clean = write(tmp_path / "util.py", PLAIN_SRC)
    assert main(["--diff", str(src), str(clean)]) == EXIT_CHANGED
    out, _ = capsys.readouterr()
    name = str(src).lstrip("/")
    assert out.startswith(f"--- a/{name}\n+++ b/{name}\n@@ ")
    assert "-x = torch.ones(5, 3)\n" in out
    assert re.search(r"^\+.*nd\.ones\(\(5, 3\)\)", out, re.M)
    assert "util.py" not in out
    assert src.read_text() == TORCH_SRC


@pytest.mark.parametrize("flag", [["-o", "out"], ["--in-place"]])
def test_check_cannot_write(tmp_path, capsys, flag):
    src = write(tmp_path / "train.py", TORCH_SRC)
    assert main(["--check", str(src), *flag]) == EXIT_ERROR
    assert src.read_text() == TORCH_SRC


# ---------------------------------------------------------------------------
# --in-place
# ---------------------------------------------------------------------------


def test_in_place(tmp_path, capsys):
    src = write(tmp_path / "train.py", TORCH_SRC)
    clean = write(tmp_path / "util.py", PLAIN_SRC)
    os.chmod(src, 0o640)
    old = 1_000_000_000_000_000_000  # 2001, in nanoseconds
    os.utime(clean, ns=(old, old))

    assert main(["--in-place", str(tmp_path)]) == EXIT_OK

    assert_translated(src.read_text())
    assert stat.S_IMODE(os.stat(src).st_mode) == 0o640
    assert clean.read_text() == PLAIN_SRC
    assert os.stat(clean).st_mtime_ns == old
    assert sorted(os.listdir(tmp_path)) == ["train.py", "util.py"]  # no temp files left
    _, err = capsys.readouterr()
    assert f"translated {src}" in err


def test_in_place_follows_symlink(tmp_path, capsys):
    real = write(tmp_path / "real.py", TORCH_SRC)
    link = tmp_path / "link.py"
    link.symlink_to(real)
    assert main(["--in-place", str(link)]) == EXIT_OK
    assert link.is_symlink()
    assert_translated(real.read_text())


def test_crlf_file_keeps_crlf(tmp_path, capsys):
    src = tmp_path / "train.py"
    src.write_bytes(TORCH_SRC.replace("\n", "\r\n").encode())
    assert main(["--in-place", str(src)]) == EXIT_OK
    data = src.read_bytes()
    assert b"\r\n" in data
    assert data.count(b"\n") == data.count(b"\r\n")
    assert_translated(data.decode().replace("\r\n", "\n"))


def test_latin1_file_keeps_its_encoding(tmp_path, capsys):
    src = tmp_path / "train.py"
    src.write_bytes(
        b"# -*- coding: latin-1 -*-\nimport torch\n# caf\xe9\nx = torch.ones(5, 3)\n"
    )
    assert main(["--in-place", str(src)]) == EXIT_OK
    data = src.read_bytes()
    assert data.startswith(b"# -*- coding: latin-1 -*-\n")
    assert b"# caf\xe9\n" in data
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert_translated(data.decode("latin-1"))


def test_bom_is_kept(tmp_path, capsys):
    src = tmp_path / "train.py"
    src.write_bytes(b"\xef\xbb\xbf" + TORCH_SRC.encode())
    assert main(["--in-place", str(src)]) == EXIT_OK
    data = src.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and not data.startswith(b"\xef\xbb\xbf" * 2)
    assert_translated(data[3:].decode())


# ---------------------------------------------------------------------------
# stdin
# ---------------------------------------------------------------------------


def test_stdin_to_stdout(monkeypatch, capsys):
    set_stdin(monkeypatch, TORCH_SRC.encode())
    assert main(["-"]) == EXIT_OK
    out, _ = capsys.readouterr()
    assert_translated(out)


def test_stdin_diagnostics_name(monkeypatch, capsys):
    set_stdin(monkeypatch, UNTRANSLATED_SRC.encode())
    assert main(["-"]) == EXIT_CHANGED
    assert re.search(r"^<stdin>:2:\d+: error T2G", capsys.readouterr().err, re.M)

    set_stdin(monkeypatch, UNTRANSLATED_SRC.encode())
    assert main(["-", "--stdin-filename", "pkg/train.py"]) == EXIT_CHANGED
    assert re.search(r"^pkg/train\.py:2:\d+: error T2G", capsys.readouterr().err, re.M)


def test_stdin_syntax_error(monkeypatch, capsys):
    set_stdin(monkeypatch, SYNTAX_ERROR_SRC.encode())
    assert main(["-"]) == EXIT_ERROR
    out, err = capsys.readouterr()
    assert out == ""
    assert re.search(r"^<stdin>:\d+:\d+: error T2G000 ", err, re.M)


def test_stdin_without_torch_is_echoed_byte_for_byte(monkeypatch, capsys):
    set_stdin(monkeypatch, b"x = 1\r\ny = 2\n")
    assert main(["-"]) == EXIT_OK
    assert capsys.readouterr().out == "x = 1\r\ny = 2\n"


def test_stdin_must_be_alone(tmp_path, capsys):
    src = write(tmp_path / "a.py", TORCH_SRC)
    assert main(["-", str(src)]) == EXIT_ERROR
    assert main(["-", "--in-place"]) == EXIT_ERROR


# ---------------------------------------------------------------------------
# Input errors: each file fails on its own, the others are still processed
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, line",
    [
        (b"import torch\nx = torch.ones(5, 3)\ns = 'caf\xe9'\n", 3),
        (b"# caf\xe9\nimport torch\n", 1),
    ],
)
def test_undecodable_file(tmp_path, capsys, data, line):
    bad = tmp_path / "bad.py"
    bad.write_bytes(data)
    good = write(tmp_path / "good.py", TORCH_SRC)
    out = tmp_path / "out"
    assert main([str(bad), str(good), "-o", str(out)]) == EXIT_ERROR
    _, err = capsys.readouterr()
    assert re.search(
        rf"^{re.escape(str(bad))}:{line}:\d+: error: cannot decode file as utf-8: ",
        err,
        re.M,
    ), err
    assert not (out / "bad.py").exists()
    assert_translated((out / "good.py").read_text())
    assert "1 file failed" in err


def test_syntax_error_fails_that_file_only(tmp_path, capsys):
    bad = write(tmp_path / "src" / "bad.py", SYNTAX_ERROR_SRC)
    write(tmp_path / "src" / "good.py", TORCH_SRC)
    out = tmp_path / "out"
    assert main([str(tmp_path / "src"), "-o", str(out)]) == EXIT_ERROR
    _, err = capsys.readouterr()
    assert re.search(rf"^{re.escape(str(bad))}:\d+:\d+: error T2G000 ", err, re.M), err
    assert not (out / "bad.py").exists()
    assert_translated((out / "good.py").read_text())
    assert "1 file translated, 0 files left unchanged, 1 file failed" in err


def test_syntax_error_in_place_leaves_file_alone(tmp_path, capsys):
    bad = write(tmp_path / "bad.py", SYNTAX_ERROR_SRC)
    good = write(tmp_path / "good.py", TORCH_SRC)
    assert main(["--in-place", str(bad), str(good)]) == EXIT_ERROR
    assert bad.read_text() == SYNTAX_ERROR_SRC
    assert_translated(good.read_text())


def test_missing_file(tmp_path, capsys):
    good = write(tmp_path / "good.py", TORCH_SRC)
    missing = tmp_path / "missing.py"
    assert main(["--in-place", str(missing), str(good)]) == EXIT_ERROR
    _, err = capsys.readouterr()
    assert f"{missing}: error: no such file or directory" in err
    assert_translated(good.read_text())


def test_missing_single_file_to_stdout(tmp_path, capsys):
    assert main([str(tmp_path / "nope.py")]) == EXIT_ERROR
    out, err = capsys.readouterr()
    assert out == ""
    assert "nope.py: error: no such file or directory" in err


def test_highest_exit_code_wins(tmp_path, capsys):
    untranslated = write(tmp_path / "m.py", UNTRANSLATED_SRC)
    assert (
        main(["--check", str(untranslated), str(tmp_path / "missing.py")]) == EXIT_ERROR
    )


def test_internal_error_exits_123_and_others_still_processed(
    tmp_path, capsys, monkeypatch
):
    # The one fault-injection test: translate() promises never to raise, so a
    # crash can only be simulated. Everything else runs the real engine.
    import torch2gluon.cli as cli

    real_translate = cli.translate

    def crashing(source, *, options=None):
        if "crash" in source:
            raise RuntimeError("boom")
        return real_translate(source, options=options)

    monkeypatch.setattr(cli, "translate", crashing)
    crash = write(tmp_path / "crash.py", "import torch\ncrash = 1\n")
    good = write(tmp_path / "good.py", TORCH_SRC)
    assert (
        main(["--in-place", str(crash), str(good), str(tmp_path / "missing.py")])
        == EXIT_INTERNAL
    )
    _, err = capsys.readouterr()
    assert f"{crash}: internal error: RuntimeError: boom" in err
    assert crash.read_text() == "import torch\ncrash = 1\n"
    assert_translated(good.read_text())


# ---------------------------------------------------------------------------
# Usage
# ---------------------------------------------------------------------------


def test_several_files_need_an_output_flag(tmp_path, capsys):
    a = write(tmp_path / "a.py", TORCH_SRC)
    b = write(tmp_path / "b.py", TORCH_SRC)
    assert main([str(a), str(b)]) == EXIT_ERROR
    out, err = capsys.readouterr()
    assert out == ""
    for option in ("-o DIR", "--in-place", "--diff", "--check"):
        assert option in err
    assert a.read_text() == TORCH_SRC


def test_directory_needs_an_output_flag(tmp_path, capsys):
    write(tmp_path / "a.py", TORCH_SRC)
    assert main([str(tmp_path)]) == EXIT_ERROR
    assert "-o DIR" in capsys.readouterr().err


def test_no_paths_is_a_usage_error(capsys):
    assert main([]) == EXIT_ERROR


def test_output_and_in_place_are_exclusive(tmp_path, capsys):
    src = write(tmp_path / "a.py", TORCH_SRC)
    assert main([str(src), "-o", str(tmp_path / "o.py"), "--in-place"]) == EXIT_ERROR


def test_empty_directory(tmp_path, capsys):
    assert main(["--check", str(tmp_path)]) == EXIT_OK
    assert "no Python files" in capsys.readouterr().err


def test_help_lists_exit_codes(capsys):
    assert main(["--help"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "exit codes" in out and "123" in out


def test_version_in_process(capsys):
    assert main(["--version"]) == EXIT_OK
    assert capsys.readouterr().out.strip() == f"torch2gluon {__version__}"


def test_python_m_version():
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(
            filter(None, [str(REPO), os.environ.get("PYTHONPATH")])
        ),
    )
    proc = subprocess.run(
        [sys.executable, "-m", "torch2gluon", "--version"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"torch2gluon {__version__}"


LBFGS_SRC = """\
import torch
from torch import nn

model = nn.Linear(2, 1)
x, y = torch.ones(8, 2), torch.zeros(8, 1)
optimizer = torch.optim.LBFGS(model.parameters(), lr=1)


def closure():
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    return loss


for _ in range(5):
    optimizer.step(closure)
"""


def test_an_unsupported_optimizer_makes_the_translation_incomplete(tmp_path, capsys):
    """LBFGS with a closure (issue 5): a diagnostic naming file and line, a marker
    above the statement, and the exit code of an incomplete translation."""
    src = write(tmp_path / "lbfgs.py", LBFGS_SRC)
    out = tmp_path / "out.py"
    code = main([str(src), "-o", str(out)])
    err = capsys.readouterr().err
    assert code == EXIT_CHANGED  # 1: the translation is incomplete
    assert re.search(r"lbfgs\.py:6:\d+: error T2G401 .*LBFGS.*closure", err), err
    text = out.read_text()
    assert "# torch2gluon: T2G401:" in text and "optimizer = torch.optim.LBFGS(" in text
