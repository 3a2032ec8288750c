"""Run many configurations × seeds: one task per (configuration, seed), on any engine.

A :class:`RunSpec` is one learning configuration and seed; it trains once and re-solves with one
or more :class:`Variant` s (re-solve settings of the same model, e.g. a sweep of ``λ``), each a
row of the study's table. :func:`execute` runs a spec against the shared :class:`SeedData` and
returns a :class:`RunRecord`; it is a plain function of its arguments, so it runs the same in
this process, in joblib workers and on a Dask cluster (``tcp://host:port``). An
:class:`ExperimentFolder` stores each record atomically as soon as it arrives, resumes an
interrupted study and refuses a folder that holds another study's results.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from tqdm.auto import tqdm

from fairtwin.datasets import atomic_write
from fairtwin.evaluate import summarise, week_metrics
from fairtwin.exceptions import ClusterError, DataFormatError, ExperimentFolderError, ValidationError
from fairtwin.experiments.cache import SeedCache, SeedData, oracle_key
from fairtwin.learn import torch_threads
from fairtwin.pipeline import (
    ExperimentConfig,
    label_stage,
    load_scenario,
    nominal_indices,
    oracle_of,
    outcome_maps,
    resolve_stage,
    train_rows,
    train_stage,
)
from fairtwin.provenance import environment
from fairtwin.resolve import ResolveConfig

__all__ = ["Variant", "RunSpec", "ResultRow", "RunRecord", "execute", "ExperimentFolder",
           "run_specs", "METHODS"]

log = logging.getLogger(__name__)

#: ``learned``: train and re-solve; ``nominal``: the twin's own decision (no learning);
#: ``oracle``: the oracle bound (minimises the latent cost itself, an upper limit).
METHODS = ("learned", "nominal", "oracle")
SPLITS = ("train", "held_out")


@dataclass(frozen=True)
class Variant:
    """One row of a study per seed: its coordinates and the re-solve settings."""

    coords: tuple[tuple[str, Any], ...]
    resolve: ResolveConfig = field(default_factory=ResolveConfig)


@dataclass(frozen=True)
class RunSpec:
    """One configuration and seed (``config.seed``): train once, re-solve per variant."""

    study: str
    config: ExperimentConfig
    variants: tuple[Variant, ...]
    method: str = "learned"
    held_out: bool = True

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValidationError(f"unknown method {self.method!r}; allowed: {list(METHODS)}")
        if not self.variants:
            raise ValidationError("a run needs at least one variant")

    @property
    def key(self) -> str:
        """Hash of everything the run's results depend on: not the engine, ``n_jobs``, the
        study or the rows' coordinates, so studies that ask for the same run share it."""
        cfg = self.config.to_dict()
        cfg.pop("n_jobs")
        if self.method != "learned":  # no labels, learner or re-solve enter these rows
            cfg = {k: cfg[k] for k in ("scenario", "twin", "sampler", "seed") if k in cfg}
            cfg["oracle"] = [self.config.labels.oracle, self.config.labels.kappa]
        data = {"config": cfg, "method": self.method, "held_out": self.held_out,
                "variants": [asdict(v.resolve) for v in self.variants]}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:20]

    @property
    def seed(self) -> int:
        return self.config.seed


@dataclass(frozen=True)
class ResultRow:
    """One configuration × seed: coordinates in the study's grid, and the measured metrics."""

    coords: dict[str, Any]
    seed: int
    method: str
    metrics: dict[str, float]

    def flat(self) -> dict[str, Any]:
        return {**self.coords, "seed": self.seed, "method": self.method, **self.metrics}


@dataclass(frozen=True)
class RunRecord:
    """The results of one :class:`RunSpec`: its rows and the per-week metrics of each row."""

    key: str
    study: str
    seed: int
    rows: tuple[ResultRow, ...]
    weeks: tuple[tuple[dict[str, Any], ...], ...]
    config: dict[str, Any]

    def to_json(self) -> str:
        return json.dumps({
            "format": "fairtwin-run", "version": 1, "key": self.key, "study": self.study,
            "seed": self.seed, "config": self.config,
            "rows": [asdict(r) for r in self.rows], "weeks": [list(w) for w in self.weeks],
            "environment": environment(),  # what produced it (the process that saved it)
        })

    @classmethod
    def from_json(cls, text: str, source: str) -> RunRecord:
        try:
            d = json.loads(text)
            if not isinstance(d, dict) or d.get("format") != "fairtwin-run":
                raise KeyError("format")
            return cls(d["key"], d["study"], int(d["seed"]),
                       tuple(ResultRow(**r) for r in d["rows"]),
                       tuple(tuple(w) for w in d["weeks"]), d["config"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DataFormatError(source, None, None, f"not a fairtwin run record ({exc})") from None

    @classmethod
    def read(cls, path: str | Path) -> RunRecord:
        """The record stored in ``path`` (a ``DataFormatError`` naming it when damaged)."""
        return cls.from_json(_read_text(Path(path)), str(path))


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataFormatError(path, None, None, f"not UTF-8 text ({exc.reason} at byte "
                              f"{exc.start}); the file is damaged") from None


# ---------------------------------------------------------------------- one run
def _true_accuracy(costs: np.ndarray, data: SeedData, rows: Iterable[int]) -> float:
    """Share of all pairs of sampled decisions of ``rows`` that the learned cost orders like R."""
    right = total = 0
    for row in rows:
        idx = data.samples.decisions_of(int(row))
        i, j = np.triu_indices(idx.size, k=1)
        dr = data.latent[idx[i]] - data.latent[idx[j]]
        df = costs[idx[i]] - costs[idx[j]]
        keep = np.abs(dr) > 1e-12 * np.maximum(1.0, np.abs(data.latent[idx[i]]))
        right += int(np.sum(np.sign(dr[keep]) == np.sign(df[keep])))
        total += int(keep.sum())
    return right / total if total else float("nan")


def _score(spec: RunSpec, data: SeedData, scenario, decisions, rows, times, statuses):  # type: ignore[no-untyped-def]
    """Per-week metrics and the per-split summary metrics of one variant."""
    oracle = oracle_of(spec.config, scenario)
    ds = data.samples
    nom = nominal_indices(ds)
    n_train = len(train_rows(ds))
    weeks = []
    for k, row in enumerate(rows):
        context = scenario.contexts[int(ds.context_ids[row])]
        weeks.append(week_metrics(
            scenario.twin, oracle, context, "train" if row < n_train else "held-out",
            ds.decisions[nom[row]], decisions[k], data.bound[row], float(times[k]), statuses[k]))
    metrics: dict[str, float] = {}
    for split in SPLITS:
        name = split.replace("_", "-")
        if not any(w.split == name for w in weeks):
            continue
        s = summarise(weeks, name, scenario.twin.categories)
        for cat in ("overloaded", "normal"):
            won, n = s.wins_by_category.get(cat, "0/0").split("/")
            metrics[f"wins_{cat}_{split}"] = int(won)
            metrics[f"weeks_{cat}_{split}"] = int(n)
        sel = [w for w in weeks if w.split == name]
        metrics.update({
            f"wins_{split}": s.wins, f"weeks_{split}": s.n_contexts,
            f"median_dR_{split}": s.median_dR, f"mean_dR_{split}": s.mean_dR,
            f"dR_ratio_{split}": s.dR_ratio_aggregate,
            f"mean_dJ_{split}": float(np.mean([w.dJ for w in sel])),
            f"mean_dJ_overflow_equiv_{split}": s.mean_dJ_price,
            f"max_overflow_rise_{split}": s.max_guard_rise,
        })
    week_rows = tuple({"week": w.week, "split": w.split, "category": w.category, "win": w.win,
                       "dR": w.dR, "dR_orc": w.dR_orc, "dJ": w.dJ,
                       "dJ_overflow_equiv": w.dJ_price} for w in weeks)
    return metrics, week_rows


def execute(spec: RunSpec, data: SeedData) -> RunRecord:
    """Run one spec on its seed's shared data (a pure function of its arguments)."""
    if data.oracle_key != oracle_key(spec.config):
        raise ValidationError("the seed data given do not belong to this run's settings")
    config = spec.config.override(n_jobs=1)
    scenario = load_scenario(config)
    n = data.samples.n_contexts
    n_train = len(train_rows(data.samples))
    rows = np.arange(n if spec.held_out else n_train)
    out_rows, out_weeks = [], []
    with torch_threads(1):
        if spec.method == "learned":
            ds = data.fresh_dataset()
            t0 = time.perf_counter()
            label_stage(ds, config, scenario)
            t_label = time.perf_counter() - t0
            t0 = time.perf_counter()
            learner, f_scale, rounds = train_stage(ds, config, scenario)
            t_train = time.perf_counter() - t0
            costs = learner.costs_of(data.samples, outcome_maps(scenario, data.samples))
            train_ds = ds.subset_contexts(train_rows(ds))
            common = {
                "n_pairs": ds.n_comparisons,
                "rounds": len([r for r in rounds if r.refit]),
                "train_accuracy": learner.score(train_ds, outcome_maps(scenario, train_ds)),
                "true_accuracy_train": _true_accuracy(costs, data, range(n_train)),
                "true_accuracy_held_out": _true_accuracy(costs, data, range(n_train, n)),
                "n_parameters": learner.n_parameters_,
                "best_epoch": getattr(learner, "best_epoch_", 0),
                "t_label_s": t_label, "t_train_s": t_train,
            }
        for variant in spec.variants:
            t0 = time.perf_counter()
            if spec.method == "learned":
                cfg = replace(config, resolve=variant.resolve)
                U, times, statuses = resolve_stage(learner, f_scale, ds, cfg, scenario, rows)
                extra = dict(common)
            else:
                nom = nominal_indices(data.samples)
                U = (data.samples.decisions[nom[rows]] if spec.method == "nominal"
                     else data.bound[rows])
                times, statuses = np.zeros(len(rows)), ["given"] * len(rows)
                extra = {}
            t_resolve = time.perf_counter() - t0
            t0 = time.perf_counter()
            metrics, weeks = _score(spec, data, scenario, U, rows, times, statuses)
            extra.update(t_resolve_s=t_resolve, t_evaluate_s=time.perf_counter() - t0)
            out_rows.append(ResultRow(dict(variant.coords), spec.seed, spec.method,
                                      {**metrics, **extra}))
            out_weeks.append(weeks)
    return RunRecord(spec.key, spec.study, spec.seed, tuple(out_rows), tuple(out_weeks),
                     spec.config.to_dict())


# ---------------------------------------------------------------------- folder
MANIFEST = "experiment.json"


class ExperimentFolder:
    """An output folder: ``experiment.json`` (what it holds), ``runs/<key>.json``, ``cache/``.

    Opening a folder that holds another study (or is not an experiment folder) raises
    :class:`ExperimentFolderError` unless ``fresh`` (then its earlier results are removed).
    Opening one of the same study resumes it: every finished run whose configuration is asked
    again is kept (runs are stored under the hash of their full configuration, so a changed
    grid reuses exactly the runs it shares), and temporary files of a killed run are removed.
    """

    def __init__(self, path: str | Path, study: str, specs: list[RunSpec],
                 description: dict[str, Any], fresh: bool = False) -> None:
        self.path = Path(path)
        self.study = study
        self.specs = specs
        manifest = {"format": "fairtwin-experiment", "version": 1, "study": study,
                    "description": description, "runs": sorted({s.key for s in specs})}
        self._open(manifest, fresh)

    @property
    def runs_dir(self) -> Path:
        return self.path / "runs"

    def _open(self, manifest: dict[str, Any], fresh: bool) -> None:
        m_path = self.path / MANIFEST
        if self.path.exists() and not self.path.is_dir():
            raise ExperimentFolderError(f"{self.path} exists and is not a folder")
        existing = [p for p in self.path.iterdir()] if self.path.is_dir() else []
        if existing and not m_path.exists():
            if not fresh:
                raise ExperimentFolderError(
                    f"{self.path} is not empty and holds no {MANIFEST}: it is not a fairtwin "
                    "experiment folder; choose an empty or new folder"
                )
        elif m_path.exists():
            try:
                old = json.loads(_read_text(m_path))
            except json.JSONDecodeError as exc:
                raise DataFormatError(m_path, exc.lineno, None,
                                      f"{exc.msg} (column {exc.colno})") from None
            if not isinstance(old, dict) or old.get("format") != "fairtwin-experiment":
                raise DataFormatError(m_path, None, "format", "not a fairtwin experiment manifest")
            if old.get("study") != manifest["study"] and not fresh:
                raise ExperimentFolderError(
                    f"{self.path} holds results of study {old.get('study')!r}, not "
                    f"{manifest['study']!r}; use another --out folder, or --fresh to discard "
                    "the old results"
                )
            if not fresh:
                # Runs are stored under the hash of their full configuration, so a changed grid
                # or base setting reuses exactly the runs it shares and can never mix results.
                done = sum(self.has(s) for s in self.specs)
                if old.get("runs") != manifest["runs"]:
                    log.warning("%s: the grid or settings changed since the last run; %d of the "
                                "%d runs asked are already done and kept", self.path, done,
                                len(manifest["runs"]))
                else:
                    log.info("resuming %s: %d of %d runs already done", self.path, done,
                             len(manifest["runs"]))
        if fresh:
            for p in existing:
                if p.name == "cache":  # keyed by settings: safe to keep
                    continue
                shutil.rmtree(p) if p.is_dir() else p.unlink()
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.runs_dir.glob(".*.json.*"):  # temporary files of a killed run
            stale.unlink(missing_ok=True)
        text = json.dumps(manifest, indent=1)
        atomic_write(m_path, lambda tmp: Path(tmp).write_text(text))

    def _file(self, spec: RunSpec) -> Path:
        return self.runs_dir / f"{spec.key}.json"

    def has(self, spec: RunSpec) -> bool:
        return self._file(spec).exists()

    def load(self, spec: RunSpec) -> RunRecord:
        """The record of ``spec``, its rows labelled with ``spec``'s coordinates."""
        path = self._file(spec)
        record = RunRecord.read(path)
        if record.key != spec.key or len(record.rows) != len(spec.variants):
            raise DataFormatError(path, None, "key", f"holds run {record.key}, not {spec.key}")
        rows = tuple(replace(r, coords=dict(v.coords))
                     for r, v in zip(record.rows, spec.variants, strict=True))
        return replace(record, study=spec.study, rows=rows)

    def save(self, record: RunRecord) -> None:
        text = record.to_json()
        atomic_write(self.runs_dir / f"{record.key}.json", lambda tmp: Path(tmp).write_text(text))

    def records(self) -> list[RunRecord]:
        return [self.load(s) for s in self.specs]


# ---------------------------------------------------------------------- engines
_ADDRESS = re.compile(r"^(tcp|tls|inproc|ucx)://[^\s:/]+(:\d+)?$|^[^\s:/]+:\d+$")


def connect(address: str, timeout_s: float = 10.0):  # type: ignore[no-untyped-def]
    """A Dask ``Client`` for the scheduler at ``address`` (``tcp://host:port``)."""
    if not _ADDRESS.match(address):
        raise ValidationError(
            f"cluster address {address!r} is not of the form tcp://host:port"
        )
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - the dev install has it
        raise ClusterError(
            "--cluster needs the Dask distributed package: pip install 'fairtwin[cluster]'"
        ) from None
    try:
        return Client(address, timeout=f"{timeout_s}s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {address}: {exc}") from None


def _unordered(specs: list[RunSpec], data: dict[str, SeedData], n_jobs: int,
               client: Any) -> Iterator[RunRecord]:
    if client is not None:
        from distributed import as_completed

        shared = {k: client.scatter(v, broadcast=True) for k, v in data.items()}
        futures = [client.submit(execute, s, shared[oracle_key(s.config)], pure=False)
                   for s in specs]
        with client.as_current():  # as_completed looks the client up
            completed = as_completed(futures)
        for fut in completed:
            yield fut.result()
    elif n_jobs == 1 or len(specs) == 1:
        for s in specs:
            yield execute(s, data[oracle_key(s.config)])
    else:
        runner = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
        yield from runner(delayed(execute)(s, data[oracle_key(s.config)]) for s in specs)


def run_specs(
    folder: ExperimentFolder,
    cache: SeedCache,
    n_jobs: int = 1,
    cluster: str | None = None,
    progress: bool = False,
    on_record: Callable[[RunRecord], None] | None = None,
) -> dict[str, float]:
    """Run the folder's missing specs; returns the wall time of each phase (seconds)."""
    pending = list({s.key: s for s in folder.specs if not folder.has(s)}.values())
    client = connect(cluster) if cluster and pending else None  # fail before any long work
    try:
        seen: dict[str, RunSpec] = {}
        for s in pending:
            seen.setdefault(oracle_key(s.config), s)
        t0 = time.perf_counter()
        data = {k: cache.get(s.config) for k, s in
                tqdm(seen.items(), desc="seed data", unit="seed", disable=not progress or not seen)}
        t_cache = time.perf_counter() - t0
        t0 = time.perf_counter()
        bar = tqdm(total=len(pending), desc=f"{folder.study} runs", unit="run",
                   disable=not progress or not pending)
        for record in _unordered(pending, data, n_jobs, client):
            folder.save(record)
            if on_record:
                on_record(record)
            bar.update()
        bar.close()
    finally:
        if client is not None:
            client.close()
    return {"seed_data_s": t_cache, "runs_s": time.perf_counter() - t0,
            "runs_done": float(len(pending)),
            "runs_total": float(len({s.key for s in folder.specs}))}
