"""The package's shape: layers with one-way doors, checked on its import graph.

Every import in ``torch2gluon`` (at module level and inside functions) is
read with ``ast``; the graph must have no cycles, no rule module may import
another rule module, no module may import a private name (``_x``) of another
module, and no source file may be longer than ``MAX_LINES``. The layer order
itself is checked by import-linter's contracts in ``pyproject.toml``, and again
here on the graph. The last two tests run the real tools, mypy (with
``[tool.mypy]``) and import-linter, so ``.ci/run``'s pytest enforces both.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Set, Tuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "torch2gluon"
MAX_LINES = 900

# Lowest first; a module may import from its own layer or the ones before it.
LAYERS: Tuple[Tuple[str, ...], ...] = (
    ("torch2gluon.base",),
    ("torch2gluon.analysis",),
    ("torch2gluon.facts",),
    ("torch2gluon.rewrite",),
    ("torch2gluon.rules",),
    ("torch2gluon.engine",),
    ("torch2gluon.api",),
    (
        "torch2gluon.cli",
        "torch2gluon.files",
        "torch2gluon.config",
        "torch2gluon.report",
        "torch2gluon.rulesdoc",
        "torch2gluon.verify",
        "torch2gluon.lsp",
        "torch2gluon.notebook",
        "torch2gluon.launch",
        "torch2gluon.__main__",
    ),
)


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> Dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(current: str, is_package: bool, level: int, target: str) -> str:
    if level == 0:
        return target
    base = current.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def imports_of(name: str, path: Path, known: Set[str]) -> List[Tuple[str, str, int]]:
    """(imported module, imported name or "", line) for every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    found: List[Tuple[str, str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append((alias.name, "", node.lineno))
        elif isinstance(node, ast.ImportFrom):
            mod = _resolve(name, is_package, node.level, node.module or "")
            for alias in node.names:
                sub = f"{mod}.{alias.name}"
                if sub in known:  # `from . import engine`: a module, not a name
                    found.append((sub, "", node.lineno))
                else:
                    found.append((mod, alias.name, node.lineno))
    return found


def graph() -> Dict[str, Set[str]]:
    mods = modules()
    known = set(mods)
    edges: Dict[str, Set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        for target, _, _ in imports_of(name, path, known):
            # importing a.b.c imports a and a.b too, but a package's
            # __init__ importing its children is not a cycle worth the name;
            # count the module itself only
            if target in known and target != name:
                edges[name].add(target)
    return edges


def cycles(edges: Dict[str, Set[str]]) -> List[List[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on: Set[str] = set()
    out: List[List[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            strong(v)
    return out


def _is_package_parent(importer: str, target: str) -> bool:
    return importer.startswith(target + ".")


def test_no_import_cycles():
    edges = graph()
    # a package's __init__ may re-export from its children; a child importing
    # its own package __init__ for that would close a loop, so drop
    # parent-package edges from the child side
    trimmed = {m: {t for t in ts if not _is_package_parent(m, t)} for m, ts in edges.items()}
    assert cycles(trimmed) == []


def _rule_modules() -> Set[str]:
    """The modules that define rules: every module under ``rules`` (packages
    included) but package ``__init__`` files and private (``_x``) modules,
    which hold what the rules of a package share."""
    mods = modules()
    return {
        m
        for m, p in mods.items()
        if m.startswith("torch2gluon.rules.") and not m.split(".")[-1].startswith("_") and p.name != "__init__.py"
    }


def test_no_rule_imports_another_rule():
    rules = _rule_modules()
    bad = []
    mods = modules()
    for name in sorted(rules):
        for target, _, line in imports_of(name, mods[name], set(mods)):
            if target in rules and target != name:
                bad.append(f"{name}:{line} imports {target}")
    assert bad == []


def test_every_rule_module_is_a_rule_module():
    """What the rule test checks is what the engine runs: each module it
    calls a rule module defines a rule, and each rule lives in one."""
    from torch2gluon.rules import all_rules

    defining = {r.__module__ for r in all_rules()}
    assert defining == _rule_modules()


def test_no_private_names_across_modules():
    mods = modules()
    bad = []
    for name, path in mods.items():
        for target, imported, line in imports_of(name, path, set(mods)):
            if not target.startswith("torch2gluon"):
                continue
            private = imported.startswith("_") and not imported.startswith("__")
            private_module = any(p.startswith("_") and not p.startswith("__") for p in target.split(".")[1:])
            # a package may use its own private modules (rules._base, base._cst)
            if private_module:
                pkg = ".".join(p for p in target.split(".") if not p.startswith("_") or p.startswith("__"))
                owner = target.rsplit(".", 1)[0]
                if name == owner or name.startswith(owner + "."):
                    private_module = False
                del pkg
            if private or private_module:
                bad.append(f"{name}:{line} imports {target}{'.' + imported if imported else ''}")
    assert bad == []


def test_no_file_over_the_limit():
    long = {
        str(p.relative_to(ROOT)): n
        for p in sorted(PACKAGE.rglob("*.py"))
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_the_import_linter_contract_lists_every_rule_module():
    """The independence contract in pyproject.toml names the modules by hand: it must name them all."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    (independence,) = [c for c in contracts if c["type"] == "independence"]
    assert set(independence["modules"]) == _rule_modules()


def _layer(mod: str) -> int:
    for i, names in enumerate(LAYERS):
        if any(mod == n or mod.startswith(n + ".") for n in names):
            return i
    return -1


def test_layers_import_downwards_only():
    mods = modules()
    unplaced = sorted(m for m in mods if m != "torch2gluon" and _layer(m) < 0)
    assert unplaced == [], "every module belongs to a layer"
    bad = []
    for name, path in mods.items():
        here = _layer(name)
        if here < 0:
            continue
        for target, _, line in imports_of(name, path, set(mods)):
            if target in mods and target != "torch2gluon" and _layer(target) > here:
                bad.append(f"{name}:{line} imports {target} (a higher layer)")
    assert bad == []


def test_the_core_never_imports_torch_or_mxnet():
    mods = modules()
    bad = []
    for name, path in mods.items():
        if name.startswith("torch2gluon.verify") or name.startswith("torch2gluon.launch"):
            continue
        for target, _, line in imports_of(name, path, set(mods)):
            if target.split(".")[0] in ("torch", "torchvision", "mxnet"):
                bad.append(f"{name}:{line} imports {target}")
    assert bad == []


def _run_tool(args: List[str]) -> subprocess.CompletedProcess:
    """A tool run by this test's interpreter from the repository root, with
    the package importable, its output printed when it fails."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    if done.returncode != 0:
        print(done.stdout)
    return done


def test_mypy_passes():
    """mypy with the settings of ``[tool.mypy]`` in pyproject.toml (the files,
    check_untyped_defs, warn_unused_ignores): no errors."""
    done = _run_tool(["-m", "mypy", "--config-file", str(ROOT / "pyproject.toml")])
    assert done.returncode == 0, done.stdout[-4000:]


def test_import_linter_contracts_are_kept():
    """import-linter's contracts in pyproject.toml (the layers, the rule
    modules' independence). ``python -m importlinter.cli`` runs nothing (the
    module has no main), so the entry point the ``lint-imports`` script calls
    is called."""
    done = _run_tool([
        "-c", "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())",
        "--config", str(ROOT / "pyproject.toml"), "--no-cache",
    ])
    assert done.returncode == 0, done.stdout[-4000:]
    assert "0 broken" in done.stdout, done.stdout[-4000:]


if __name__ == "__main__":  # figures for a note: python tests/test_architecture.py
    edges = graph()
    trimmed = {m: {t for t in ts if not _is_package_parent(m, t)} for m, ts in edges.items()}
    print("cycles:", cycles(trimmed))
    mods = modules()
    rules = _rule_modules()
    pairs = set()
    names = 0
    for name in rules:
        for target, imported, _ in imports_of(name, mods[name], set(mods)):
            if target in rules and target != name:
                pairs.add((name, target))
                names += 1
    print("rule->rule module pairs:", len(pairs), "names:", names)
    sizes = sorted(((len(p.read_text().splitlines()), str(p.relative_to(ROOT))) for p in PACKAGE.rglob("*.py")), reverse=True)
    print("largest:", sizes[:6])
    print("over", MAX_LINES, ":", sum(1 for n, _ in sizes if n > MAX_LINES))
    os._exit(0)
