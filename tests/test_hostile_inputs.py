"""Hostile inputs through the CLI (issue 18): read-only targets, FIFOs,
symlink loops, deeply nested code, a worker that dies, NUL bytes and odd
encodings. Each case checks the message (with the path, and the line where
one applies), the exit code, and that nothing else was lost: the other files
are translated and files that must not change are byte for byte the same.

Runs that could hang or crash the interpreter if the fix regressed (FIFOs,
code nested deeper than CPython accepts) run in a subprocess with a timeout.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import torch2gluon.cli as cli
from torch2gluon import translate
from torch2gluon.cli import EXIT_CHANGED, EXIT_ERROR, EXIT_INTERNAL, EXIT_OK, main

ROOT = Path(__file__).resolve().parent.parent
TORCH_SRC = "import torch\nx = torch.ones(2)\n"

posix_only = pytest.mark.skipif(os.name != "posix", reason="FIFOs, modes and symlinks")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


def assert_translated(path: Path) -> None:
    code = path.read_text()
    assert "nd.ones(2)" in code and "import torch" not in code


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """``python -m torch2gluon`` on this checkout, killed if it hangs."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "torch2gluon", "--no-config", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env,
    )


# -- read-only files and --in-place ------------------------------------------------


@posix_only
def test_in_place_refuses_a_read_only_file(tmp_path, capsys):
    ro = write(tmp_path / "ro.py", TORCH_SRC)
    ro.chmod(0o444)
    ok = write(tmp_path / "ok.py", TORCH_SRC)
    before = ro.read_bytes()
    assert main(["--no-config", "--in-place", str(ro), str(ok)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert f"{ro}: error: read-only file, not rewritten (--force rewrites it)" in err
    assert ro.read_bytes() == before
    assert stat.S_IMODE(ro.stat().st_mode) == 0o444
    assert_translated(ok)  # the other file is still processed
    assert "1 file translated" in err and "1 file failed" in err


@posix_only
def test_force_rewrites_a_read_only_file_and_keeps_its_mode(tmp_path, capsys):
    ro = write(tmp_path / "ro.py", TORCH_SRC)
    ro.chmod(0o444)
    assert main(["--no-config", "--in-place", "--force", str(ro)]) == EXIT_OK
    assert_translated(ro)
    assert stat.S_IMODE(ro.stat().st_mode) == 0o444


def test_force_applies_to_in_place_only(tmp_path, capsys):
    src = write(tmp_path / "a.py", TORCH_SRC)
    assert main(["--no-config", "--force", str(src)]) == EXIT_ERROR
    assert "--force applies to --in-place" in capsys.readouterr().err


@posix_only
def test_unchanged_read_only_file_is_no_error(tmp_path, capsys):
    plain = write(tmp_path / "plain.py", "import os\n")
    plain.chmod(0o444)
    assert main(["--no-config", "--in-place", str(plain)]) == EXIT_OK


# -- FIFOs and symlink loops -------------------------------------------------------


@posix_only
def test_a_fifo_named_on_the_command_line_is_refused_not_read(tmp_path):
    fifo = tmp_path / "x.py"
    os.mkfifo(fifo)
    ok = write(tmp_path / "ok.py", TORCH_SRC)
    out = tmp_path / "out"
    proc = run_cli(str(fifo), str(ok), "-o", str(out), timeout=90)
    assert proc.returncode == EXIT_ERROR, proc.stderr
    assert f"{fifo}: error: not a regular file (a FIFO); skipped" in proc.stderr
    assert_translated(out / "ok.py")
    assert not (out / "x.py").exists()


@posix_only
def test_a_fifo_in_a_tree_is_skipped(tmp_path):
    tree = tmp_path / "src"
    write(tree / "a.py", TORCH_SRC)
    os.mkfifo(tree / "f.py")
    write(tree / "z.py", TORCH_SRC)
    out = tmp_path / "out"
    proc = run_cli(str(tree), "-o", str(out), "-j", "2", timeout=90)
    assert proc.returncode == EXIT_OK, proc.stderr
    assert f"{tree / 'f.py'}: skipped: not a regular file (a FIFO)" in proc.stderr
    assert_translated(out / "a.py")
    assert_translated(out / "z.py")
    assert not (out / "f.py").exists()


@posix_only
def test_a_file_linking_to_itself_is_a_symlink_loop(tmp_path, capsys):
    link = tmp_path / "self.py"
    link.symlink_to("self.py")
    ok = write(tmp_path / "ok.py", TORCH_SRC)
    assert main(["--no-config", "--in-place", str(link), str(ok)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert f"{link}: error: symlink loop (too many levels of symbolic links)" in err
    assert "no such file" not in err
    assert_translated(ok)
    assert os.readlink(link) == "self.py"


@posix_only
def test_symlink_loops_in_a_tree_are_reported_and_the_rest_translated(tmp_path, capsys):
    tree = tmp_path / "src"
    write(tree / "a.py", TORCH_SRC)
    (tree / "loop1.py").symlink_to("loop2.py")
    (tree / "loop2.py").symlink_to("loop1.py")
    (tree / "up").symlink_to("..")  # a link to a directory is not followed
    out = tmp_path / "out"
    assert main(["--no-config", str(tree), "-o", str(out)]) == EXIT_ERROR
    err = capsys.readouterr().err
    for name in ("loop1.py", "loop2.py"):
        assert f"{tree / name}: error: symlink loop (too many levels of symbolic links)" in err
    assert "no such file" not in err
    assert_translated(out / "a.py")
    assert sorted(p.name for p in out.iterdir()) == ["a.py"]


# -- depth -------------------------------------------------------------------------

DEEP = {
    "150 nested lists": "y = " + "[" * 150 + "]" * 150,
    "a 500-term sum": "y = " + "+".join(["1"] * 500),
    "500 unary minuses": "y = " + "-" * 500 + "1",
    "500 elif branches": "v = 0\nif v == 0:\n    y = 0\n"
    + "".join(f"elif v == {i}:\n    y = {i}" + "\n" for i in range(1, 500)),
    "1,000 chained method calls": "y = 'a'" + ".strip()" * 1000,
    "1,000 adjacent string literals": "y = " + " ".join(['"a"'] * 1000),
    "400 and terms": "y = " + " and ".join(["x"] * 400),
}


@pytest.mark.parametrize("name", list(DEEP))
def test_deep_valid_code_translates(name):
    source = TORCH_SRC + DEEP[name] + "\n"
    limit = sys.getrecursionlimit()
    result = translate(source)
    assert [d.rule for d in result.diagnostics] == []
    assert "nd.ones(2)" in result.code
    compile(result.code, "<out>", "exec")
    assert sys.getrecursionlimit() == limit  # raised only while translating


def test_deep_code_through_the_cli(tmp_path, capsys):
    deep = write(tmp_path / "deep.py", TORCH_SRC + DEEP["a 500-term sum"] + "\n")
    assert main(["--no-config", "--in-place", str(deep)]) == EXIT_OK
    assert_translated(deep)


def test_code_deeper_than_cpython_accepts_is_a_syntax_error_not_a_crash(tmp_path):
    tree = tmp_path / "src"
    deep = write(tree / "deep.py", TORCH_SRC + "y = " + "(" * 1500 + "1" + ")" * 1500 + "\n")
    write(tree / "ok.py", TORCH_SRC)
    before = deep.read_bytes()
    out = tmp_path / "out"
    proc = run_cli(str(tree), "-o", str(out), timeout=120)
    assert proc.returncode == EXIT_ERROR, proc.stderr  # not -11 (SIGSEGV)
    assert f"{deep}:3:205: error T2G000 cannot parse: too many nested parentheses" in proc.stderr
    assert_translated(out / "ok.py")
    assert not (out / "deep.py").exists()
    assert deep.read_bytes() == before


@posix_only
def test_a_worker_that_dies_costs_only_its_own_file(tmp_path, capsys, monkeypatch):
    real = cli.translate

    def crashing(source, *, options=None):  # a crash in native code, as a segfault
        if "CRASH" in source:
            os.kill(os.getpid(), signal.SIGSEGV)
        return real(source, options=options)

    monkeypatch.setattr(cli, "translate", crashing)  # the workers are forked
    tree = tmp_path / "src"
    for i in range(1, 6):
        write(tree / f"f{i}.py", TORCH_SRC)
    write(tree / "f3.py", "import torch\n# CRASH\nx = torch.ones(2)\n")
    out = tmp_path / "out"
    assert main(["--no-config", str(tree), "-o", str(out), "-j", "2", "--no-progress"]) == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert (
        f"{tree / 'f3.py'}: internal error: the translator's process died on this file "
        "(killed by signal 11)" in err
    )
    for i in (1, 2, 4, 5):
        assert_translated(out / f"f{i}.py")
        assert f"translated {tree / f'f{i}.py'}" in err
    assert not (out / "f3.py").exists()
    assert "4 files translated, 0 files left unchanged, 1 file failed" in err
    # in the order of the files, as a serial run prints them
    assert err.index("f2.py") < err.index("f3.py") < err.index("translated " + str(tree / "f4.py"))


# -- NUL bytes, encodings, newlines ------------------------------------------------


def test_a_nul_byte_on_line_2_is_reported_on_line_2(tmp_path, capsys):
    nul = tmp_path / "nul.py"
    nul.write_bytes(b"import torch\nx = 1\x00\n")
    ok = write(tmp_path / "ok.py", TORCH_SRC)
    assert main(["--no-config", "--in-place", str(nul), str(ok)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert f"{nul}:2:6: error T2G000 cannot parse: source code string cannot contain null bytes" in err
    assert nul.read_bytes() == b"import torch\nx = 1\x00\n"
    assert_translated(ok)


@pytest.mark.parametrize("codec", ["utf-16", "utf-32", "utf-16-le"])
def test_a_cookie_python_cannot_read_is_reported_not_unchanged(tmp_path, capsys, codec):
    data = f"# -*- coding: {codec} -*-\n{TORCH_SRC}".encode("ascii")
    bad = tmp_path / "bad.py"
    bad.write_bytes(data)
    ok = write(tmp_path / "ok.py", TORCH_SRC)
    assert main(["--no-config", "--in-place", str(bad), str(ok)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert f"{bad}:1:1: error: cannot decode file as {codec}: encoding problem" in err
    assert "unchanged" not in err.split("\n")[0]
    assert bad.read_bytes() == data
    assert_translated(ok)


def test_undecodable_bytes_in_place_leave_the_file_alone(tmp_path, capsys):
    bad = tmp_path / "bad.py"
    data = b"import torch\nx = torch.ones(2)\ns = '\xff'\n"
    bad.write_bytes(data)
    ok = write(tmp_path / "ok.py", TORCH_SRC)
    assert main(["--no-config", "--in-place", str(bad), str(ok)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert f"{bad}:3:6: error: cannot decode file as utf-8: invalid start byte (0xff)" in err
    assert bad.read_bytes() == data
    assert_translated(ok)


def test_bom_and_crlf_are_kept_in_place(tmp_path, capsys):
    src = tmp_path / "bom.py"
    src.write_bytes(b"\xef\xbb\xbfimport torch\r\nx = torch.ones(2)\r\n")
    assert main(["--no-config", "--in-place", str(src)]) == EXIT_OK
    data = src.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"nd.ones(2)" in data
    assert data.count(b"\r\n") == data.count(b"\n")  # every line ends in CRLF


def test_mixed_newlines_take_the_first_lines_style_as_black_does(tmp_path, capsys):
    src = tmp_path / "mixed.py"
    src.write_bytes(b"import torch\r\nx = torch.ones(2)\ny = 1\r\n")
    plain = tmp_path / "plain.py"
    plain_data = b"import os\r\nx = 1\ny = 2\r"
    plain.write_bytes(plain_data)
    assert main(["--no-config", "--in-place", str(src), str(plain)]) == EXIT_OK
    data = src.read_bytes()
    assert b"nd.ones(2)" in data and data.count(b"\r\n") == data.count(b"\n")
    assert plain.read_bytes() == plain_data  # no torch: byte for byte alone


def test_stdin_with_a_nul_byte(monkeypatch, capsys):
    import io

    class Stdin:
        buffer = io.BytesIO(b"import torch\n\x00\n")

    monkeypatch.setattr(sys, "stdin", Stdin())
    assert main(["--no-config", "-"]) == EXIT_ERROR
    assert "<stdin>:2:1: error T2G000" in capsys.readouterr().err


def test_exit_codes_are_the_documented_ones():
    assert (EXIT_OK, EXIT_CHANGED, EXIT_ERROR, EXIT_INTERNAL) == (0, 1, 2, 123)


# -- the command line killed while its workers run ----------------------------------


def _children(pid: int) -> list:
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                kids.append(int(entry))
    return kids


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
def test_workers_exit_when_the_command_line_is_killed(tmp_path):
    import time

    tree = tmp_path / "src"
    slow = TORCH_SRC + "y = x" + ".abs()" * 150 + "\n"  # a few seconds each
    originals = {}
    for i in range(4):
        originals[i] = write(tree / f"k{i}.py", slow).read_bytes()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "torch2gluon", "--no-config", "--in-place", "-j", "2", "-q", str(tree)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    workers: list = []
    try:
        deadline = time.monotonic() + 30
        while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
            workers = _children(proc.pid)
        assert len(workers) >= 2, "the workers did not start"
        time.sleep(1.0)  # now translating
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 15
        while any(_running(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        alive = [w for w in workers if _running(w)]
    finally:
        for w in workers:
            if _running(w):
                os.kill(w, signal.SIGKILL)
    assert alive == [], "orphaned workers kept running"
    for i, data in originals.items():  # each file original or completely translated
        now = (tree / f"k{i}.py").read_bytes()
        if now != data:
            compile(now, f"k{i}.py", "exec")
            assert b"import torch" not in now
    assert [p.name for p in tree.iterdir() if p.name.endswith(".tmp")] == []


# -- empty files, form feeds and tabs, unreadable files, stdin -------------------------


def test_empty_file_and_form_feeds_and_tabs(tmp_path, capsys):
    empty = tmp_path / "empty.py"
    empty.write_bytes(b"")
    ff = tmp_path / "ff.py"
    ff.write_bytes(b"import torch\n\x0c\nif True:\n\tx = torch.ones(2)\n")
    assert main(["--no-config", "--in-place", str(empty), str(ff)]) == EXIT_OK
    assert empty.read_bytes() == b""
    assert ff.read_bytes().endswith(b"\n\x0c\nif True:\n\tx = nd.ones(2)\n")


def test_an_unreadable_file_fails_alone(tmp_path, capsys, monkeypatch):
    import builtins

    locked = write(tmp_path / "locked.py", TORCH_SRC)
    ok = write(tmp_path / "ok.py", TORCH_SRC)
    real_open = builtins.open

    def fake_open(file, *args, **kwargs):  # tests may run as root, who reads 0000 files
        if str(file) == str(locked):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    assert main(["--no-config", "--in-place", str(locked), str(ok)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert f"{locked}: error: cannot read file: Permission denied" in err
    assert locked.read_bytes() == TORCH_SRC.encode()
    assert_translated(ok)


def test_undecodable_stdin(monkeypatch, capsys):
    import io

    class Stdin:
        buffer = io.BytesIO(b"import torch\nx = '\xff'\n")

    monkeypatch.setattr(sys, "stdin", Stdin())
    assert main(["--no-config", "-"]) == EXIT_ERROR
    captured = capsys.readouterr()
    assert "<stdin>:2:6: error: cannot decode file as utf-8: invalid start byte (0xff)" in captured.err
    assert captured.out == ""
