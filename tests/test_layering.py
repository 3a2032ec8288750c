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


# ---------------------------------------------------------------------- words of the ICU twin
#: what only the ICU twin says: its words, its scenario and its ``[twin]`` settings
ICU_WORDS = ("overflow", "beds", "rosenbrock", "regions", "weeks", "italy-synthetic",
             "transfer_share", "pool_share", "overflow_weight", "transfer_weight_per_km",
             "deploy_weight", "max_overflow")


def icu_words(text: str) -> list[str]:
    """The ICU twin's words in ``text``, case-insensitive, as whole words: a word ends at
    anything but a letter or a digit, so ``beds_sur`` and ``n_weeks`` count but ``week``
    does not."""
    import re

    return [w for w in ICU_WORDS
            if re.search(rf"(?<![a-z0-9]){re.escape(w)}(?![a-z0-9])", text, re.IGNORECASE)]


def test_the_word_check_finds_icu_words_in_keys() -> None:
    assert icu_words('{"beds_sur": 1, "n_weeks": 2}') == ["beds", "weeks"]
    assert icu_words("Overflow held; ITALY-SYNTHETIC") == ["overflow", "italy-synthetic"]
    assert icu_words("week 3 of outcomes_week3.png, overflows") == []


@pytest.mark.parametrize("guard", [False, True], ids=["no-guard", "guard"])
def test_a_folder_twins_run_says_nothing_of_the_icu_twin(tmp_path: Path, guard: bool,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 24, finding 7: a folder twin's printout, config.toml and metrics.json hold none of
    the ICU twin's words; the guard is the twin's own (named, or not mentioned at all)."""
    import json
    import sys

    from fairtwin.cli import main

    sys.path.insert(0, str(Path(__file__).parent))
    from twin_folders import write_doses_twin

    folder = write_doses_twin(tmp_path / "doses", n_contexts=5, guard=guard)
    out = tmp_path / "run"
    code = main(["run", "--twin", str(folder), "--train-weeks", "3", "--held-out-weeks", "2",
                 "--samples", "3", "--pairs", "30", "--rounds", "1", "--jobs", "1",
                 "--out", str(out)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    text = printed.out + printed.err
    saved = {"printout": text, "config.toml": (out / "config.toml").read_text(),
             "metrics.json": (out / "metrics.json").read_text()}
    for name, content in saved.items():
        assert icu_words(content) == [], (name, icu_words(content), content)
        assert "guarded quantity" not in content, name
    assert "[twin]" not in saved["config.toml"]
    metrics = json.loads(saved["metrics.json"])
    assert metrics["twin"]["guard_name"] == ("people without a dose" if guard else None)
    assert "train: 3 contexts" in text
    assert "mean ΔJ (people without a dose)" in text  # the price unit's whole name
    if guard:
        assert "people without a dose held at nominal" in text
        assert "max rise of people without a dose" in text
    else:
        assert "held at" not in text and "max rise" not in text
    assert metrics["contexts"][0]["totals_sur"].keys() == {"dose"}  # the twin's own names


def test_a_metrics_file_with_the_old_names_reads_with_the_new() -> None:
    from fairtwin.evaluate.metrics import upgrade_metrics

    old = {"summary": {"train": {"n_weeks": 4, "mean_dJ_overflow_equiv": 1.5,
                                 "max_overflow_rise": 0.0,
                                 "reliability": [{"low": 0.5, "high": 0.6, "weeks": 2}]}},
           "splits": {"train": {"weeks": 4, "first": "w0"}},
           "weeks": [{"week": 0, "overflow_nom": 3.0, "overflow_sur": 2.0, "dJ_overflow_equiv": 1.0}],
           "sample_coverage": {"n_weeks": 4, "weeks_with_fairer": 3}}
    new = upgrade_metrics(old)
    assert new["summary"]["train"] == {"n_contexts": 4, "mean_dJ_price": 1.5, "max_guard_rise": 0.0,
                                       "reliability": [{"low": 0.5, "high": 0.6, "contexts": 2}]}
    assert new["splits"]["train"] == {"contexts": 4, "first": "w0"}
    assert new["contexts"] == [{"week": 0, "guard_nom": 3.0, "guard_sur": 2.0, "dJ_price": 1.0}]
    assert new["sample_coverage"] == {"n_contexts": 4, "contexts_with_fairer": 3}
    assert upgrade_metrics(new) == new and icu_words(str(new)) == []


# ---------------------------------------------------------------------- the ICU twin, a package
#: the ICU twin's package, its names offered by ``fairtwin.twin``, and who may import them: the
#: package itself, the old name of its folder hook (exported folders name it) and the CLI's
#: stages, which list the ICU notions (the default scenario is the ICU twin's)
ICU_PACKAGE = "fairtwin.twin.icu"
ICU_NAMES_OF_TWIN = {"Allocation", "Context", "CostBreakdown", "GiniOracle", "ICUTwin",
                     "ICU_ORACLES", "LoadOracle", "MaxMinOracle", "RegionTable",
                     "RosenbrockOracle", "SquaredDeviationOracle", "TravelBurdenOracle",
                     "TwinConfig", "italian_regions", "post_decision_loads"}
MAY_IMPORT_ICU = ("twin/icu/", "twin/icu_folder.py", "cli/stages.py")


def icu_imports(path: Path) -> list[str]:
    """Where ``path`` imports the ICU twin: its package or a module of it (or an old module name,
    ``fairtwin.twin.icu_*``, ``regions``, ``dpc``), or one of its names from ``fairtwin.twin``,
    at any depth (a function's lazy import counts)."""
    old = ("fairtwin.twin.icu_", "fairtwin.twin.regions", "fairtwin.twin.dpc")
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module]
            if node.module == "fairtwin.twin":
                modules += [f"fairtwin.twin.{a.name}" for a in node.names
                            if a.name in ICU_NAMES_OF_TWIN or a.name == "icu"]
        for m in modules:
            if (m == ICU_PACKAGE or m.startswith((ICU_PACKAGE + ".", *old))
                    or m.removeprefix("fairtwin.twin.") in ICU_NAMES_OF_TWIN):
                found.append(f"{path.name}:{node.lineno}: {m}")
    return found


@pytest.mark.parametrize("path", [p for p in modules() if not str(p.relative_to(SRC)).startswith(
    MAY_IMPORT_ICU)], ids=lambda p: str(p.relative_to(SRC)))
def test_no_generic_module_imports_the_icu_twin(path: Path) -> None:
    """Issue 24: the ICU twin is a package that implements the Twin interface like any user's;
    the interface (twin/base.py), the folder and linopy twins, the scenario registry, the
    pipeline, resolve, deploy, learn/, solvers/, oracles/ (raters.py typed its contexts with the
    ICU ``Context``), evaluate/, elicit/ and experiments/ import nothing of it."""
    assert icu_imports(path) == []


def test_the_icu_check_finds_every_form_of_import(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("import fairtwin.twin.icu\nfrom fairtwin.twin.icu.model import Context\n"
                     "from fairtwin.twin import Scenario, Context\nfrom fairtwin.twin import icu\n"
                     "def f():\n    from fairtwin.twin.icu_notions import LoadOracle\n"
                     "from fairtwin.twin.scenarios import Scenario\nfrom fairtwin.twin.base import Twin\n")
    assert [h.split(": ")[1] for h in icu_imports(probe)] == [
        "fairtwin.twin.icu", "fairtwin.twin.icu.model", "fairtwin.twin.Context",
        "fairtwin.twin.icu", "fairtwin.twin.icu_notions"]


def test_a_folder_twin_loads_and_runs_its_names_without_the_icu_package(tmp_path: Path) -> None:
    """At run time too: loading a folder twin, checking it and the pipeline's, the oracles', the
    re-solve's and the CLI's modules import no module of the ICU twin (nor matplotlib's ICU
    figure); and the ICU package imports first without a cycle."""
    import subprocess
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from twin_folders import write_doses_twin

    folder = write_doses_twin(tmp_path / "doses", n_contexts=4)
    code = (
        "import sys\n"
        "import fairtwin.cli, fairtwin.pipeline, fairtwin.resolve, fairtwin.deploy, fairtwin.check\n"
        "import fairtwin.oracles, fairtwin.evaluate, fairtwin.learn, fairtwin.solvers, fairtwin.folder\n"
        "from fairtwin.check import check_twin\n"
        f"sc = fairtwin.folder.load_twin_folder({str(folder)!r})\n"
        "check_twin(sc)\n"
        "print(sorted(m for m in sys.modules if m.startswith('fairtwin.twin.icu')))\n"
    )
    env = {**__import__("os").environ, "PYTHONPATH": str(SRC.parent)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
    for first in ("fairtwin.twin.icu.model", "fairtwin.twin.icu.scenarios", "fairtwin.twin.icu"):
        out = subprocess.run([sys.executable, "-c", f"import {first}"], capture_output=True,
                             text=True, env=env, check=False)
        assert out.returncode == 0, (first, out.stderr)
