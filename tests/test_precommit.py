"""The hooks in .pre-commit-hooks.yaml, run by the real pre-commit tool.

The working tree of this checkout (uncommitted files included, .venv and
.git left out) is copied into a temporary git repository that serves as the
hook repository; pre-commit builds the hook's own virtualenv from it (pip,
from the package index) once per test session, in a session-scoped
PRE_COMMIT_HOME.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PRE_COMMIT = Path(sys.executable).with_name("pre-commit")
GIT = shutil.which("git")

# The test extra installs pre-commit next to this interpreter; git is on the
# machine. Both missing is a broken set-up, so it fails rather than skips.
assert GIT is not None, "git is needed for the pre-commit tests"
assert PRE_COMMIT.exists(), f"{PRE_COMMIT} missing: install the test extra"

TORCH_SRC = "import torch\nx = torch.ones(5, 3)\n"
PLAIN_SRC = "import os\n\nprint(os.sep)\n"
IGNORED = shutil.ignore_patterns(
    ".git", ".venv", "venv", "__pycache__", "*.egg-info", ".pytest_cache", "build", "dist"
)


def _env(home: Path) -> dict:
    env = dict(os.environ)
    env.update(
        PRE_COMMIT_HOME=str(home),
        GIT_AUTHOR_NAME="t2g",
        GIT_AUTHOR_EMAIL="t2g@example.invalid",
        GIT_COMMITTER_NAME="t2g",
        GIT_COMMITTER_EMAIL="t2g@example.invalid",
        GIT_CONFIG_NOSYSTEM="1",
        HOME=str(home),  # no user git config / hooks leak in
    )
    env.pop("VIRTUAL_ENV", None)
    return env


def _git(cwd: Path, env: dict, *args: str) -> str:
    proc = subprocess.run(
        [GIT, *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return proc.stdout.strip()


@pytest.fixture(scope="module")
def hooks(tmp_path_factory):
    """(project dir, env): a git repo configured with both hooks, envs installed."""
    base = tmp_path_factory.mktemp("precommit")
    env = _env(base / "home")
    hook_repo = base / "hook-repo"
    shutil.copytree(REPO, hook_repo, ignore=IGNORED, symlinks=True)
    _git(hook_repo, env, "init", "-q")
    _git(hook_repo, env, "add", "-A")
    _git(hook_repo, env, "commit", "-q", "-m", "hook repo snapshot")
    rev = _git(hook_repo, env, "rev-parse", "HEAD")

    project = base / "project"
    project.mkdir()
    _git(project, env, "init", "-q")
    (project / ".pre-commit-config.yaml").write_text(
        "repos:\n"
        f"  - repo: {hook_repo}\n"
        f"    rev: {rev}\n"
        "    hooks:\n"
        "      - id: torch2gluon\n"
        "      - id: torch2gluon-check\n",
        encoding="utf-8",
    )
    proc = subprocess.run(
        [str(PRE_COMMIT), "install-hooks"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return project, env


def _run_hook(project: Path, env: dict, hook: str, *files: str) -> subprocess.CompletedProcess:
    _git(project, env, "add", "-A")
    return subprocess.run(
        [str(PRE_COMMIT), "run", hook, "--files", *files],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_fix_hook_rewrites_a_staged_torch_file_and_fails(hooks):
    project, env = hooks
    target = project / "train_fix.py"
    target.write_text(TORCH_SRC, encoding="utf-8")
    proc = _run_hook(project, env, "torch2gluon", "train_fix.py")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    code = target.read_text(encoding="utf-8")
    assert "nd.ones((5, 3))" in code and "torch" not in code
    assert "translated train_fix.py" in proc.stdout
    # Run again: nothing left to do, the hook passes.
    proc = _run_hook(project, env, "torch2gluon", "train_fix.py")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_check_hook_fails_and_changes_nothing(hooks):
    project, env = hooks
    target = project / "train_check.py"
    target.write_text(TORCH_SRC, encoding="utf-8")
    proc = _run_hook(project, env, "torch2gluon-check", "train_check.py")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert target.read_text(encoding="utf-8") == TORCH_SRC
    assert "would translate train_check.py" in proc.stdout


def test_clean_file_passes_both_hooks(hooks):
    project, env = hooks
    target = project / "clean.py"
    target.write_text(PLAIN_SRC, encoding="utf-8")
    for hook in ("torch2gluon", "torch2gluon-check"):
        proc = _run_hook(project, env, hook, "clean.py")
        assert proc.returncode == 0, (hook, proc.stdout + proc.stderr)
        assert "Passed" in proc.stdout
    assert target.read_text(encoding="utf-8") == PLAIN_SRC


def test_untranslatable_code_fails_the_fix_hook(hooks):
    project, env = hooks
    target = project / "partial.py"
    target.write_text("import torch\nx = torch.ones(2)\ny = torch.fft.fft(x)\n", encoding="utf-8")
    proc = _run_hook(project, env, "torch2gluon", "partial.py")
    assert proc.returncode == 1
    assert "T2G001" in proc.stdout
    proc = _run_hook(project, env, "torch2gluon", "partial.py")
    assert proc.returncode == 1, "left untranslated code keeps failing"


NOTEBOOK = Path(__file__).resolve().parents[1] / "fixtures" / "mlp_notebook.ipynb"


def test_hooks_on_a_notebook(hooks):
    """A staged notebook: the check hook fails and writes nothing, the fix
    hook rewrites its code cells (and fails, so the result can be looked at),
    then both pass."""
    import json

    project, env = hooks
    target = project / "notebooks" / "train.ipynb"
    target.parent.mkdir(exist_ok=True)
    original = NOTEBOOK.read_bytes()
    target.write_bytes(original)
    proc = _run_hook(project, env, "torch2gluon-check", "notebooks/train.ipynb")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "would translate notebooks/train.ipynb" in proc.stdout
    assert target.read_bytes() == original
    proc = _run_hook(project, env, "torch2gluon", "notebooks/train.ipynb")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "translated notebooks/train.ipynb" in proc.stdout
    cells = json.loads(target.read_text(encoding="utf-8"))["cells"]
    assert "".join(cells[5]["source"]).startswith("class Net(gluon.Block):")
    for hook in ("torch2gluon", "torch2gluon-check"):
        proc = _run_hook(project, env, hook, "notebooks/train.ipynb")
        assert proc.returncode == 0, (hook, proc.stdout + proc.stderr)
