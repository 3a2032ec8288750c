"""The lean core: the default pipeline runs where torch, the web stack, SCIP and matplotlib
cannot be imported (its figures skipped, in one line), and a feature whose extra is missing
says, in one line, which extra to install."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fairtwin.exceptions import MissingExtraError
from fairtwin.extras import require

#: what a lean install (``pip install fairtwin``, no extras) does not have
OPTIONAL = ("torch", "starlette", "uvicorn", "sqlalchemy", "jinja2", "multipart", "python_multipart",
            "pyscipopt", "linopy", "distributed", "psycopg", "matplotlib")

BLOCKER = textwrap.dedent(f"""
    import importlib.abc, sys
    BLOCKED = {OPTIONAL!r}
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {{name!r}} (blocked by the test)")
            return None
    sys.meta_path.insert(0, Block())
""")


def run_blocked(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "blocked.py"
    script.write_text(BLOCKER + textwrap.dedent(code))
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=600)


def test_the_default_pipeline_runs_without_torch_or_the_web_stack(tmp_path: Path) -> None:
    proc = run_blocked("""
        import sys
        from fairtwin.cli import main
        status = main(["run", "--train-weeks", "6", "--held-out-weeks", "3", "--samples", "6",
                       "--pairs", "90", "--rounds", "1", "--jobs", "1", "--out", "run"])
        loaded = sorted(m for m in BLOCKED if m in sys.modules)
        print("STATUS", status, "LOADED", loaded)
    """, tmp_path)
    assert "STATUS 0 LOADED []" in proc.stdout, proc.stdout + proc.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["summary"]["held-out"]["n_contexts"] == 3
    # no figures without matplotlib, and one line that says so (naming the extra)
    assert not (tmp_path / "run" / "weeks.png").exists()
    skipped = [line for line in proc.stderr.splitlines() if "figures skipped" in line]
    assert len(skipped) == 1 and "pip install 'fairtwin[plots]'" in skipped[0], proc.stderr


@pytest.mark.parametrize(("args", "extra"), [
    (["run", "--learner", "siamese", "--train-weeks", "4", "--held-out-weeks", "2",
      "--samples", "4", "--pairs", "40", "--rounds", "0", "--jobs", "1", "--out", "r"], "paper"),
    (["serve", "--run", "r"], "serve"),
    (["solve", "--week", "3", "--solver", "scip"], "scip"),
])
def test_a_missing_extra_is_one_line_naming_it(tmp_path: Path, args: list[str], extra: str) -> None:
    proc = run_blocked(f"""
        from fairtwin.cli import main
        print("STATUS", main({args!r}))
    """, tmp_path)
    assert "STATUS 1" in proc.stdout or "STATUS 2" in proc.stdout, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"fairtwin[{extra}]" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_require_names_the_extra() -> None:
    assert require("json", "paper").dumps([]) == "[]"
    with pytest.raises(MissingExtraError, match=r"pip install 'fairtwin\[cluster\]'"):
        require("fairtwin_no_such_module", "cluster")
