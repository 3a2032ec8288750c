"""One orchestration (issue 22): a run's artefacts are named by :mod:`fairtwin.runfolder` only,
no module reaches into another's private names (also through an imported module or class), and
a benchmark that reuses a run's samples runs :func:`~fairtwin.pipeline.run_pipeline` itself."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from fairtwin.datasets import PreferenceDataset
from fairtwin.exceptions import ValidationError
from fairtwin.pipeline import ExperimentConfig, run_pipeline
from fairtwin.runfolder import ARTEFACTS, RunFolder

ROOT = Path(__file__).resolve().parents[1]
FILES = [*(ROOT / "src" / "fairtwin").rglob("*.py"), *(ROOT / "benchmarks").glob("*.py"),
         *(ROOT / "examples").rglob("*.py")]


def artefact_names(path: Path, root: Path = ROOT) -> list[str]:
    """String constants in ``path`` that are a run artefact's file name."""
    names = {name for name, _ in ARTEFACTS.values()}
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [f"{path.relative_to(root)}:{n.lineno}: {n.value!r}" for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value in names]


def test_only_the_run_folder_names_the_artefacts() -> None:
    found = [hit for f in FILES if f.name != "runfolder.py" for hit in artefact_names(f)]
    assert not found, "\n".join(found)


def test_the_name_check_finds_a_hard_coded_artefact(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text('p = run / "metrics.json"\nq = "metrics.json is written"\n')
    assert artefact_names(probe, tmp_path) == ["probe.py:1: 'metrics.json'"]


def private_attributes(path: Path) -> list[str]:
    """``X._name`` where ``X`` is a fairtwin module or object imported into ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fairtwin"):
            imported |= {a.asname or a.name for a in node.names}
        elif isinstance(node, ast.Import):
            imported |= {a.asname or a.name.split(".")[0] for a in node.names
                         if a.name.startswith("fairtwin")}
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                and not node.attr.startswith("__")):
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in imported:
                found.append((node.lineno, f"{path.name}:{node.lineno}: {ast.unparse(node)}"))
    return [text for _, text in sorted(found)]


def test_no_module_reaches_a_private_name_through_an_import() -> None:
    found = [hit for f in FILES for hit in private_attributes(f)]
    assert not found, "\n".join(found)


def test_the_attribute_check_finds_one(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("import fairtwin.pipeline as p\nfrom fairtwin.solvers import Solver\n"
                     "p._oracle(1)\nSolver._result\nx.__class__\nfairtwin_like._y\n")
    assert private_attributes(probe) == ["probe.py:3: p._oracle", "probe.py:4: Solver._result"]


TINY = {"scenario": {"n_train": 2, "n_held_out": 1}, "sampler": {"n_samples": 2},
        "labels": {"n_pairs": 20, "rounds": 0}, "n_jobs": 1}


def test_a_run_on_reused_samples_is_the_same_run(tmp_path: Path) -> None:
    """``run_pipeline(samples=...)`` (``bench_pipeline.py --reuse-samples``) on a run's own
    samples gives that run's decisions, and leaves the samples given unchanged."""
    config = ExperimentConfig().override(**TINY)
    first = run_pipeline(config, tmp_path / "first")
    samples = PreferenceDataset.load(RunFolder(tmp_path / "first").samples)
    again = run_pipeline(config, tmp_path / "again", samples=samples)
    assert samples.n_comparisons == 0
    assert "sample" not in again.stage_times_s and "sample" in first.stage_times_s
    with np.load(RunFolder(tmp_path / "first").decisions) as a, \
            np.load(RunFolder(tmp_path / "again").decisions) as b:
        assert np.array_equal(a["decisions"], b["decisions"])
    for split, summary in first.metrics["summary"].items():
        for key in ("wins", "losses", "median_dR", "median_dJ"):
            assert again.metrics["summary"][split][key] == summary[key], (split, key)
    other = config.override(scenario={"n_train": 3})
    with pytest.raises(ValidationError, match="the samples are not of this run"):
        run_pipeline(other, tmp_path / "other", samples=samples)
