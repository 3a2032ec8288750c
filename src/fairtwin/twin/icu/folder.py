"""The ICU twin read back from its folder export: the hook ``fairtwin export-twin`` names.

A twin folder carries the models, the contexts and the outcomes. What only Python says of the
ICU twin — its load-target sampler, its notions of fairness over load ratios and the bed and
transfer moves of its oracle bound — comes back through the ``[python]`` table of the exported
``twin.toml``::

    oracle = "rosenbrock"
    [python]
    twin = "fairtwin.twin.icu.folder:attach"
    [python.settings]
    regions = "icu/regions.csv"   # code, name, abbreviation, lat, lon, population, icu_beds
    weeks = "icu/weeks.csv"       # id, pool, demand_<abbreviation>..., capacity_<abbreviation>...
    transfer_share = 0.1          # ... and the other TwinConfig settings

:func:`attach` rebuilds the ICU twin from those files and returns an :class:`ICUFolderTwin`:
the models the solvers see, the features, outcomes, guard, price and categories stay the
folder's; the sampler's targets, the notions, the moves and the completion of a decision (the
overflow in closed form, not by an LP) are the ICU twin's, on the week of the same id. Read
back so, the export runs the pipeline to the same numbers as the built-in twin
(``tests/test_folder.py``).
"""

from __future__ import annotations

import csv
import functools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from fairtwin.csvfile import csv_rows
from fairtwin.exceptions import DataFormatError, ValidationError
from fairtwin.twin.base import DecisionReport, FairnessOracle, Twin
from fairtwin.twin.icu.model import Context, ICUTwin, TwinConfig
from fairtwin.twin.icu.regions import RegionTable
from fairtwin.twin.outcomes import Outcomes
from fairtwin.twin.presentation import MembersView
from fairtwin.twin.problem import FeasibilityReport, Problem

__all__ = ["ICUFolderTwin", "attach", "write_files"]

_REGION_COLUMNS = ("code", "name", "abbreviation", "lat", "lon", "population", "icu_beds")


def write_files(twin: ICUTwin, out: Path, contexts: Sequence[Context],
                ids: Sequence[str]) -> dict[str, Any]:
    """Write ``icu/regions.csv`` and ``icu/weeks.csv`` into ``out``; the ``[python]`` table
    that reads them back (see the module docstring)."""
    folder = out / "icu"
    folder.mkdir(parents=True, exist_ok=True)
    reg = twin.regions
    with open(folder / "regions.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(_REGION_COLUMNS)
        for i in range(reg.n_regions):
            w.writerow([int(reg.codes[i]), reg.names[i], reg.abbreviations[i], f"{reg.lat[i]:.17g}",
                        f"{reg.lon[i]:.17g}", int(reg.population[i]), int(reg.icu_beds[i])])
    with open(folder / "weeks.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "pool", *[f"demand_{a}" for a in reg.abbreviations],
                    *[f"capacity_{a}" for a in reg.abbreviations]])
        for cid, ctx in zip(ids, contexts, strict=True):
            w.writerow([cid, ctx.pool, *map(int, ctx.demand), *map(int, ctx.capacity)])
    return {"twin": f"{__name__}:attach",
            "settings": {"regions": "icu/regions.csv", "weeks": "icu/weeks.csv",
                         **twin.config.to_dict()}}


def _rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    if not path.exists():
        raise DataFormatError(path, None, None, "missing: export the ICU twin again with "
                              "fairtwin export-twin")
    with csv_rows(path) as rows:
        return list(rows)


def _number(path: Path, line: int, row: dict[str, str], column: str, kind: type = float) -> Any:
    try:
        value = float(row[column])
    except KeyError:
        raise DataFormatError(path, 1, column, "missing column") from None
    except ValueError:
        raise DataFormatError(path, line, column, f"{row[column]!r} is not a number") from None
    if kind is int:
        if not value.is_integer():
            raise DataFormatError(path, line, column, f"{row[column]!r} is not a whole number")
        return int(value)
    return value


def _regions(path: Path) -> RegionTable:
    rows = _rows(path)
    if not rows:
        raise DataFormatError(path, None, None, "no regions")
    for column in ("name", "abbreviation"):
        if column not in rows[0][1]:
            raise DataFormatError(path, 1, column, "missing column")
    return RegionTable(
        codes=np.array([_number(path, n, r, "code", int) for n, r in rows], dtype=np.int64),
        names=tuple(r["name"] for _, r in rows),
        abbreviations=tuple(r["abbreviation"] for _, r in rows),
        lat=np.array([_number(path, n, r, "lat") for n, r in rows]),
        lon=np.array([_number(path, n, r, "lon") for n, r in rows]),
        population=np.array([_number(path, n, r, "population", int) for n, r in rows], dtype=np.int64),
        icu_beds=np.array([_number(path, n, r, "icu_beds", int) for n, r in rows], dtype=np.int64),
    )


def _weeks(path: Path, regions: RegionTable) -> dict[str, tuple[int, NDArray[np.int64],
                                                                NDArray[np.int64]]]:
    weeks = {}
    for line, row in _rows(path):
        cid = row.get("id", "")
        if not cid:
            raise DataFormatError(path, line, "id", "empty context id")
        demand = [_number(path, line, row, f"demand_{a}", int) for a in regions.abbreviations]
        capacity = [_number(path, line, row, f"capacity_{a}", int) for a in regions.abbreviations]
        weeks[cid] = (_number(path, line, row, "pool", int), np.array(demand), np.array(capacity))
    return weeks


def attach(twin: Twin, folder: str | os.PathLike[str], settings: Mapping[str, Any]) -> ICUFolderTwin:
    """The folder twin with the ICU twin's own behaviour (the module docstring): the hook of an
    exported ICU twin's ``[python]`` table, called as ``attach(twin, folder, settings)``."""
    folder = Path(folder)
    settings = dict(settings)
    files = {}
    for key in ("regions", "weeks"):
        if not isinstance(settings.get(key), str):
            raise ValidationError(f"[python.settings] needs {key} = \"<file>\" (the ICU twin's "
                                  f"{key}, as fairtwin export-twin writes it)")
        files[key] = folder / settings.pop(key)
    config = TwinConfig.from_dict(settings, source="[python.settings]")
    regions = _regions(files["regions"])
    weeks = _weeks(files["weeks"], regions)
    icu = ICUTwin(regions, config)
    contexts = {}
    for ctx in getattr(twin, "contexts", ()):
        cid = str(ctx.data.get("id", ctx.label))
        if cid not in weeks:
            raise DataFormatError(files["weeks"], None, "id", f"context {cid!r} has no row")
        pool, demand, capacity = weeks[cid]
        contexts[cid] = Context(ctx.index, ctx.label, demand, capacity, pool, ctx.start)
        _same_model(twin.build(ctx), icu.build(contexts[cid]), ctx, files["weeks"])
    return ICUFolderTwin(twin, icu, contexts)


def _same_model(files: Problem, icu: Problem, context: Any, weeks: Path) -> None:
    """The ICU week must describe the context's model: the hook judges and completes decisions
    with it, so a model edited after the export (or other weeks) would be judged wrongly."""
    where = context.data.get("model", context.label) if hasattr(context, "data") else context.label
    same = (files.n_vars == icu.n_vars and files.n_rows == icu.n_rows
            and all(np.allclose(getattr(files, k), getattr(icu, k), rtol=1e-12, atol=1e-9)
                    for k in ("c", "lower", "upper", "row_lower", "row_upper"))
            and np.array_equal(files.integrality, icu.integrality)
            and abs(files.A - icu.A).max() <= 1e-9)
    if not same:
        raise DataFormatError(weeks, None, None, f"{where} is not the model this file describes "
                              f"(rows, bounds or costs differ): export the twin again, or remove "
                              f"the [python] table of twin.toml to run the folder as files only")


def _notion(twin: ICUFolderTwin, notion: type[FairnessOracle], **kwargs: Any) -> FolderNotion:
    return FolderNotion(twin, notion(twin.icu, **kwargs))


class FolderNotion(FairnessOracle):
    """One of the ICU twin's notions of fairness, judging a folder context by its ICU week."""

    twin: ICUFolderTwin

    def __init__(self, twin: ICUFolderTwin, inner: FairnessOracle) -> None:
        super().__init__(twin)
        self.inner = inner
        self.name = inner.name

    def cost(self, U: ArrayLike, context: Any) -> NDArray[np.float64]:
        return self.inner.cost(U, self.twin.week(context))

    def move_costs(self, u: NDArray[np.float64], steps: sp.csr_matrix,
                   context: Any) -> NDArray[np.float64]:
        return self.inner.move_costs(u, steps, self.twin.week(context))


class ICUFolderTwin(Twin):
    """A folder twin (``files``) with the ICU twin's sampler targets, notions of fairness and
    bound moves, each applied to the ICU week of a context's id.

    Parameters
    ----------
    files : Twin
        The twin the folder's files describe (its models, outcomes, guard, price, categories).
    icu : ICUTwin
        The ICU twin rebuilt from the folder's ``icu/`` files.
    weeks : mapping of str to Context
        The ICU week of each context id of ``files``.
    """

    def __init__(self, files: Twin, icu: ICUTwin, weeks: Mapping[str, Context]) -> None:
        if files.n_decision != icu.n_decision:
            raise ValidationError(
                f"the folder's models have {files.n_decision} decision variables but its ICU "
                f"files describe {icu.n_regions} regions ({icu.n_decision} decision variables)"
            )
        self.files = files
        self.icu = icu
        self.weeks = dict(weeks)
        self.contexts = getattr(files, "contexts", ())
        self.name = files.name
        self.price_unit_name = files.price_unit_name
        self.guard_name = files.guard_name
        self.default_oracle = files.default_oracle
        self.default_resolve = files.default_resolve

    def week(self, context: Any) -> Context:
        """The ICU week of a folder context."""
        cid = str(context.data.get("id", context.label)) if hasattr(context, "data") else None
        if cid not in self.weeks:
            raise ValidationError(f"{getattr(context, 'label', context)} is not a context of "
                                  f"twin {self.name!r}")
        return self.weeks[cid]

    # ------------------------------------------------------------------ the folder's
    @property
    def decision_names(self) -> tuple[str, ...]:
        return self.files.decision_names

    @property
    def price_unit(self) -> float:
        return self.files.price_unit

    @property
    def categories(self) -> tuple[str, ...]:
        return self.files.categories

    def category(self, context: Any) -> str:
        return self.files.category(context)

    def build(self, context: Any) -> Problem:
        return self.files.build(context)

    def outcomes(self, context: Any) -> Outcomes:
        return self.files.outcomes(context)

    def guard_row(self, problem: Problem) -> NDArray[np.float64] | None:
        return self.files.guard_row(problem)

    # ------------------------------------------------------------------ the ICU twin's
    def complete(self, u: ArrayLike, context: Any) -> NDArray[np.float64]:
        """The overflow in closed form (the files' twin solves an LP for it: the same values,
        8x slower runs)."""
        return self.icu.complete(u, self.week(context))

    def check(self, u: ArrayLike, context: Any, tol: float = 1e-6) -> FeasibilityReport:
        return self.icu.check(u, self.week(context), tol)

    def nominal_cost(self, u: ArrayLike, context: Any) -> float:
        return self.icu.nominal_cost(u, self.week(context))

    def guarded(self, u: ArrayLike, context: Any) -> float:
        return self.icu.guarded(u, self.week(context))

    def decision_totals(self, u: ArrayLike) -> dict[str, float]:
        return self.icu.decision_totals(u)

    def oracles(self) -> dict[str, Any]:
        return {name: functools.partial(_notion, notion=cls) for name, cls in self.icu.oracles().items()}

    def lure_scale(self, problem: Problem, weight: float) -> float:
        return self.icu.lure_scale(problem, weight)

    def targeted_problem(self, context: Any, problem: Problem, nominal: NDArray[np.float64],
                         rng: np.random.Generator, weight: float) -> Problem:
        return self.icu.targeted_problem(self.week(context), problem, nominal, rng, weight)

    def moves(self, u: NDArray[np.float64], context: Any) -> tuple[NDArray[np.float64], bool]:
        return self.icu.moves(u, self.week(context))

    def move_steps(self, u: NDArray[np.float64], context: Any) -> tuple[sp.csr_matrix, bool]:
        return self.icu.move_steps(u, self.week(context))

    def plot_decisions(self, oracle: FairnessOracle, context: Any,
                       decisions: Mapping[str, NDArray[np.float64]], out_dir: Any) -> Any:
        if not isinstance(oracle, FolderNotion):
            return None
        return self.icu.plot_decisions(oracle.inner, self.week(context), decisions, out_dir)

    def members_view(self, context: Any, u_a: ArrayLike, u_b: ArrayLike) -> MembersView:
        return self.icu.members_view(self.week(context), u_a, u_b)

    def report(self, u: ArrayLike, context: Any) -> DecisionReport:
        return self.icu.report(u, self.week(context))

    def folder_hooks(self, out: Any, contexts: Sequence[Any], ids: Sequence[str]) -> dict[str, Any]:
        return self.icu.folder_hooks(out, [self.week(c) for c in contexts], ids)
