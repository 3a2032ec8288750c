"""No module imports a private name of another module: what one module offers another is public
(the issue of one orchestration: the seed cache and the benchmarks used the pipeline's
``_oracle`` and ``_stage_seed``)."""

from __future__ import annotations

import ast
from pathlib import Path

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
