"""No function in ``src/`` over 60 lines (decorators aside, docstring included) unless its
docstring says why it is long (issue 22)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "fairtwin"
LIMIT = 60


def long_functions(path: Path, root: Path = SRC) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            reason = "long for a reason" in (ast.get_docstring(node) or "").lower()
            if length > LIMIT and not reason:
                found.append(f"{path.relative_to(root)}::{node.name}")
    return found


def test_no_long_function_without_a_reason() -> None:
    found = sorted(hit for path in SRC.rglob("*.py") for hit in long_functions(path))
    assert not found, found


def test_the_length_check_counts_lines_and_reads_the_reason(tmp_path: Path) -> None:
    body = "".join(f"    x{k} = {k}\n" for k in range(LIMIT))
    (tmp_path / "m.py").write_text(f'def long():\n{body}\n\ndef fine():\n    """Long for a reason:'
                                   f' a table."""\n{body}\ndef short():\n    return 1\n')
    assert long_functions(tmp_path / "m.py", tmp_path) == ["m.py::long"]
