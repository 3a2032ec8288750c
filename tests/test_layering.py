"""Dependency direction (STYLE.md §8): the twin imports no solver and no torch; each solver
package is imported only by its own adapter module; torch only inside ``learn/``."""

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
