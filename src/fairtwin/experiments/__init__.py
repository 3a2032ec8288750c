"""Experiments: named studies over configurations × seeds, shared seed data, any engine.

``run_experiment("table1", base_config, settings, out="runs/table1")`` runs a study (resuming
an interrupted one), and writes its tidy CSVs, plots and Markdown report; ``"paper"`` runs every
study and writes ``docs/results.md``. The CLI is ``fairtwin experiment STUDY``.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from fairtwin.datasets import atomic_write
from fairtwin.experiments.cache import SeedCache, SeedData
from fairtwin.experiments.report import StudyTables, collect, write_results_md, write_study
from fairtwin.experiments.runner import (
    ExperimentFolder,
    ResultRow,
    RunRecord,
    RunSpec,
    Variant,
    connect,
    execute,
    run_specs,
)
from fairtwin.experiments.studies import STUDIES, StudySettings, active_labels, build_specs
from fairtwin.pipeline import ExperimentConfig

__all__ = ["run_experiment", "ExperimentResult", "StudySettings", "STUDIES", "build_specs",
           "active_labels", "SeedCache", "SeedData", "RunSpec", "Variant", "ResultRow",
           "RunRecord", "ExperimentFolder", "execute", "run_specs", "connect", "StudyTables"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExperimentResult:
    """What :func:`run_experiment` produced.

    Attributes
    ----------
    out_dir : Path
    tables : dict of study name → StudyTables
    timing : dict
        Wall seconds of the seed data and of the runs of this invocation, runs done and total.
    reports : list of Path
        The Markdown reports written (``docs/results.md`` for ``paper``).
    """

    out_dir: Path
    tables: dict[str, StudyTables]
    timing: dict[str, float]
    reports: list[Path]


def _paper_run(out: Path, command: str, wall: float, run: bool) -> tuple[str, float]:
    """The command and wall time the paper's results name: this run's (recorded in
    ``out/paper-run.json``), or with ``run=False`` the last recorded run's."""
    record = out / "paper-run.json"  # the command and wall time of the last real run
    command = command or f"fairtwin experiment paper --out {out}"
    if run:
        text = json.dumps({"command": command, "wall_s": wall})
        atomic_write(record, lambda tmp: Path(tmp).write_text(text))
    elif record.exists():
        try:
            last = json.loads(record.read_text(encoding="utf-8"))
            command, wall = str(last["command"]), float(last["wall_s"])
        except (ValueError, KeyError, TypeError) as exc:  # damaged: keep the defaults
            log.warning("%s is damaged (%s); the report names no earlier command", record, exc)
    return command, wall


def _check_configs(specs: list[RunSpec]) -> None:
    """Each configuration's names, solver and learner packages
    (:meth:`~fairtwin.pipeline.ExperimentConfig.check`), before any seed data are computed: the
    paper's learner needs ``fairtwin[paper]``, said now rather than after the sampling."""
    seen = set()
    for spec in specs:
        c = spec.config
        key = (c.scenario.name, c.scenario.twin_path, c.labels.oracle, c.resolve.solver,
               c.learner.model)
        if key not in seen:
            seen.add(key)
            c.check()


def run_experiment(
    study: str,
    base: ExperimentConfig | None = None,
    settings: StudySettings | None = None,
    out: str | Path = "runs/experiment",
    n_jobs: int = 1,
    cluster: str | None = None,
    fresh: bool = False,
    cache_dir: str | Path | None = None,
    docs: str | Path | None = None,
    command: str = "",
    progress: bool = False,
    run: bool = True,
) -> ExperimentResult:
    """Run a study (or ``paper``: all of them) and write its results into ``out``.

    Parameters
    ----------
    study : one of :data:`STUDIES`
    base : pipeline settings every configuration starts from (default: the defaults)
    settings : grid values (default: the paper's)
    n_jobs : configurations run in parallel locally (joblib), ignored with ``cluster``
    cluster : address of a Dask scheduler, ``tcp://host:port``
    fresh : discard the results of another experiment found in ``out`` instead of refusing
    cache_dir : where seed data are kept (default ``out/cache``); may be shared by folders
    docs : for ``paper``, the Markdown file to write (default ``docs/results.md``)
    run : ``False`` only writes the reports of the runs already finished in ``out``
    """
    base = base or ExperimentConfig()
    settings = settings or StudySettings()
    by_study = build_specs(study, base, settings)
    specs = [s for group in by_study.values() for s in group]
    if run:
        _check_configs(specs)
    out = Path(out)
    folder = ExperimentFolder(out, study, specs,
                              {"base": base.to_dict(), "settings": settings.to_dict()}, fresh=fresh)
    cache = SeedCache(cache_dir or out / "cache", n_jobs=n_jobs if not cluster else 1,
                      progress=progress)
    t0 = time.perf_counter()
    if run:
        timing = run_specs(folder, cache, n_jobs=n_jobs, cluster=cluster, progress=progress)
    else:
        keys = {s.key for s in specs}
        timing = {"seed_data_s": 0.0, "runs_s": 0.0, "runs_done": 0.0,
                  "runs_total": float(len(keys))}
    wall = time.perf_counter() - t0
    tables = {name: collect(name, group, folder) for name, group in by_study.items()}
    reports = []
    if study == "paper":
        command, wall = _paper_run(out, command, wall, run)  # --report-only: the last run's
        reports.append(write_results_md(tables, out, Path(docs or "docs/results.md"), command,
                                        wall, settings.to_dict()))
    else:
        for name, t in tables.items():
            write_study(t, out / name)
            reports.append(out / name / "report.md")
    log.info("experiment %s: %d runs in %.0f s", study, int(timing["runs_done"]), wall)
    return ExperimentResult(out, tables, {**timing, "wall_s": wall}, reports)
