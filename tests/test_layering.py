"""Dependency direction: the twin imports no solver and no torch; each solver package is
imported only by its own adapter module; torch only inside ``learn/``. And no module imports a
private name of another module: what one module offers another is public (the seed cache and
the benchmarks used the pipeline's ``_oracle`` and ``_stage_seed``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "fairtwin"
SOLVER_PACKAGES = {
    "highspy": {"solvers/highs.py", "solvers/highs_oa.py"},
    "pyscipopt": {"solvers/scip.py"},
    "gurobipy": {"solvers/gurobi.py"},
}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_respect_layers(path: Path) -> None:
    rel = str(path.relative_to(SRC))
    roots = imported_roots(path)
    for package, allowed in SOLVER_PACKAGES.items():
        if package in roots:
            assert rel in allowed, f"{rel} imports {package}; only {sorted(allowed)} may"
    if "torch" in roots:
        assert rel.startswith("learn/"), f"{rel} imports torch; only learn/ may"
    if rel.startswith("twin/") or rel == "costs.py":
        later = [m for m in _fairtwin_modules(path)
                 if m.startswith(("fairtwin.solvers", "fairtwin.learn"))]
        assert not later, f"{rel} depends on a later stage: {later}"


def _fairtwin_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    return [
        n.module for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("fairtwin")
    ]


ROOT = Path(__file__).resolve().parents[1]


def _private_imports(path: Path, root: Path = ROOT) -> list[str]:
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fairtwin"):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{path.relative_to(root)}:{node.lineno}: "
                                 f"from {node.module} import {alias.name}")
    return found


def test_no_module_imports_a_private_name_of_another() -> None:
    files = [*(ROOT / "src" / "fairtwin").rglob("*.py"), *(ROOT / "benchmarks").glob("*.py"),
             *(ROOT / "examples").rglob("*.py")]
    assert len(files) > 50
    found = [hit for f in files for hit in _private_imports(f)]
    assert not found, "\n".join(found)


def test_the_check_finds_a_private_import(tmp_path: Path) -> None:
    bad = tmp_path / "probe.py"
    bad.write_text("from fairtwin.pipeline import _hidden, __version__, stage_seed\n")
    assert _private_imports(bad, tmp_path) == ["probe.py:1: from fairtwin.pipeline import _hidden"]
