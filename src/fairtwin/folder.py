"""Bring your own twin: the folder format, and the ICU twin exported to it.

A twin folder holds::

    twin.toml        name, which variables are the decision, the guard, the price unit, units
    contexts.csv     one row per context: id, optional label, date, category, model; the other
                     columns are numeric features of the context
    models/          one MPS or LP file per context (<id>.mps, <id>.lp, or the `model` column),
                     as written by linopy, Pyomo, JuMP, gurobipy or PuLP
    outcomes.csv     optional: named outcomes as linear expressions over decision variables,
                     one term per line: group, name, variable, coefficient[, unit][, context]
                     (an empty variable is a constant; an empty context means every context)

``twin.toml``::

    name = "vaccine-districts"
    description = "..."                # optional
    decision = ["dose["]              # decision variables by name prefix (file column order)
    # decision_variables = ["a", "b"] # ... or by name
    guard = ["short["]                # optional: columns whose sum must not rise above nominal
    guard_name = "people left unvaccinated"
    price_unit = 1.0                  # ΔJ is reported in units of this much nominal cost
    price_unit_name = "cost units"
    models = "models"                 # optional, the model folder
    drop_infeasible = false           # true: skip (with a warning) contexts without a solution
    categories = ["busy", "quiet"]    # optional: report order of contexts.csv's categories
    oracle = "gini:dose"              # optional: the simulated rater's default notion
    compared = ["dose"]               # optional: outcome groups the learner takes relative to
                                      # their mean (default: every group of two or more)
    extra = ["dose_per_staff"]        # optional: groups the learner weighs only when held-out
                                      # weeks show the answers call for them
    members = "districts.csv"         # optional: a table of members (first column: their names
                                      # in outcomes.csv; other columns: numeric attributes)
    compared_by = {"dose" = "population"}  # optional: a compared group's outcomes minus their
                                      # mean weighted by a members column (doses per 1000 people
                                      # against the rate of all people, not the average of the
                                      # districts' rates); the group is compared whatever
                                      # `compared` says; the weights are the same in every context
    extra_by = {"dose" = ["old_share"]}  # optional: extra level groups "dose*old_share", each
                                      # member's outcome times its members column (for raters
                                      # who favour some members by it; see LEVEL_MARK)
    [units]                           # optional: the unit of each outcome group
    dose = "doses per 1000 people"
    [resolve]                         # optional: the re-solve settings this twin runs with
    mode = "guard"                    # unless the user sets them (names of ResolveConfig)
    [python]                          # optional: behaviour the files cannot carry
    twin = "mypackage.hooks:extend"   # extend(twin, folder, settings) -> Twin
    [python.settings]                 # optional: passed to it as a dict
    data = "extra.csv"

The ``[python]`` hook is for what only code can say: how the sampler aims at fairer decisions
(:meth:`~fairtwin.twin.base.Twin.targeted_problem`), the twin's own notions of fairness, the
oracle bound's moves. It is called with the twin the files describe (a
:class:`~fairtwin.twin.generic.GenericTwin`), the folder and the settings, and returns the
:class:`~fairtwin.twin.base.Twin` to run, typically one that delegates the models and outcomes
to the files' twin (see :mod:`fairtwin.twin.icu.folder`, the hook of an exported ICU twin).
Its module must be importable (installed or on PYTHONPATH) and is imported only when a folder
names it: as with an ``--oracle`` callable, read folders that name a hook only if you trust it.

Every context must have the same decision variables (a variable matching a ``decision``
prefix that the first context lacks is an error, as is a prefix that matches nothing);
everything else (rows, bounds, costs) may change with the context. An ``outcomes.csv``
``context`` must be an id of ``contexts.csv``. With ``drop_infeasible``, the contexts kept
keep their row numbers (:attr:`~fairtwin.twin.scenarios.Scenario.numbers`, ``--week``).
Names are those of the files, without linopy's ``#<label>``
suffixes (``dose(north)#0`` is ``dose(north)``); rows are grouped by their stem
(``need(north)`` and ``need(south)`` are the constraint group ``need``). Files are read with
HiGHS's own reader. Every error names the file (and line and column where there is one) and
what to fix.
"""

from __future__ import annotations

import csv
import logging
import os
from dataclasses import dataclass, fields, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fairtwin.csvfile import csv_rows
from fairtwin.exceptions import DataFormatError, TwinFolderError, UnknownNameError, ValidationError
from fairtwin.solvers import SolverOptions, Status, get_solver
from fairtwin.solvers.highs import read_model_file, write_model_file
from fairtwin.tomlfile import check_setting_types, read_toml
from fairtwin.twin.base import Twin, TwinContext
from fairtwin.twin.generic import (
    GenericTwin,
    OutcomeDefinition,
    OutcomeTerm,
    arrange,
    default_outcomes,
    normalise_name,
    split_name,
)
from fairtwin.twin.outcomes import LEVEL_MARK, Outcomes
from fairtwin.twin.problem import Problem
from fairtwin.twin.scenarios import Scenario

__all__ = ["load_twin_folder", "folder_problems", "export_twin", "complete_with_highs", "FolderModels",
           "MODEL_SUFFIXES"]

log = logging.getLogger(__name__)

MODEL_SUFFIXES = (".mps", ".lp", ".mps.gz", ".lp.gz")
_RESERVED = ("id", "label", "date", "category", "model")
_TOML_KEYS: dict[str, type | tuple[type, ...]] = {
              "name": str, "description": str, "decision": list, "decision_variables": list,
              "guard": list, "guard_name": str, "price_unit": (int, float),
              "price_unit_name": str, "models": str, "contexts": str, "outcomes": str,
              "drop_infeasible": bool, "units": dict, "categories": list, "oracle": str,
              "compared": list, "extra": list, "members": str, "compared_by": dict,
              "extra_by": dict,
              "resolve": dict, "python": dict}


def complete_with_highs(problem: Problem, u: NDArray[np.float64]) -> NDArray[np.float64] | None:
    """The other variables at their cheapest with the decision fixed at ``u`` (HiGHS); ``None``
    if no completion is feasible."""
    d = problem.n_decision
    idx = problem.decision_index
    lower, upper = problem.lower.copy(), problem.upper.copy()
    if np.any(u < lower[idx] - 1e-9) or np.any(u > upper[idx] + 1e-9):
        return None
    lower[idx] = u
    upper[idx] = u
    res = get_solver("highs", SolverOptions(time_limit_s=30.0)).solve(problem.with_bounds(lower, upper))
    if res.status is not Status.OPTIMAL and not (res.status is Status.TIME_LIMIT and res.has_solution):
        return None
    x = np.asarray(res.x, dtype=np.float64).copy()
    x[idx[:d]] = u
    return x


@dataclass(frozen=True)
class FolderModels:
    """The model source of a folder twin: reads (and arranges) a context's model file."""

    decision: tuple[str, ...]
    guard: tuple[str, ...]
    #: the decision prefixes of twin.toml (empty: the decision is named variable by variable)
    prefixes: tuple[str, ...] = ()

    def __call__(self, context: TwinContext) -> tuple[Problem, tuple[str, ...]]:
        path = context.data["model"]
        problem, cols, rows = _read(path)
        names = [normalise_name(c) for c in cols]
        self._no_extra_decision(names, str(path))
        return arrange(problem, names, rows, self.decision, self.guard, where=str(path))

    def _no_extra_decision(self, names: list[str], where: str) -> None:
        """A variable that matches a decision prefix but is not a decision variable of the
        first context (a 16th district on day 5) is an error, not a silent non-decision."""
        known = set(self.decision)
        extra = [c for c in names if c not in known and c.startswith(self.prefixes)]
        if extra:
            shown = ", ".join(map(repr, extra[:5])) + (f" and {len(extra) - 5} more"
                                                       if len(extra) > 5 else "")
            raise ValidationError(
                f"{where}: {shown} {'matches' if len(extra) == 1 else 'match'} the decision "
                f"prefix(es) {', '.join(map(repr, self.prefixes))} but the first context has no "
                f"such decision variable: remove it from this model or add it to every context's "
                f"model (fixed at 0 where it does not apply)")


def _read(path: str | os.PathLike[str]) -> tuple[Problem, tuple[str, ...], tuple[str, ...]]:
    try:
        return read_model_file(path)
    except ValueError as exc:
        raise DataFormatError(path, None, None, f"{exc}; write it with your modelling tool's MPS "
                              f"or LP writer") from None


def _model_file(folder: Path, models: Path, cid: str, given: str, where: str) -> Path:
    if given:
        p = (models / given) if not Path(given).is_absolute() else Path(given)
        if not p.exists():
            p = folder / given
        if not p.exists():
            raise DataFormatError(where, None, "model", f"model file {given!r} of context {cid!r} "
                                  f"does not exist (looked in {models})")
        return p
    for suffix in MODEL_SUFFIXES:
        p = models / f"{cid}{suffix}"
        if p.exists():
            return p
    raise DataFormatError(where, None, "id", f"context {cid!r} has no model file: expected "
                          f"{models / (cid + '.mps')} (or .lp)")


def _collect(errors: list[str] | None, exc: Exception) -> None:
    """Raise ``exc`` (strict reading), or note it in ``errors`` and go on (the check of a
    twin, :func:`folder_problems`, reports every problem at once)."""
    if errors is None:
        raise exc
    errors.append(str(exc))


def _read_contexts(path: Path, folder: Path, models: Path,
                   errors: list[str] | None = None) -> list[TwinContext]:
    """The contexts of contexts.csv; the first problem raises, or with ``errors`` every
    problem is noted there and the rows without one are returned."""
    if not path.exists():
        raise DataFormatError(path, None, None, "missing: write one row per context (id, label, "
                              "features...)")
    with csv_rows(path) as rows:
        header = rows.header
        if "id" not in header:
            raise DataFormatError(path, 1, None, "no 'id' column (the context id, e.g. a week)")
        features = [h for h in header if h not in _RESERVED]
        out: list[TwinContext] = []
        seen: set[str] = set()
        failed: set[str] = set()  # the ids of rows with a problem (their models are no orphans)
        for line, row in rows:
            try:
                out.append(_context_row(path, folder, models, features, seen, line, row, len(out)))
            except DataFormatError as exc:
                _collect(errors, exc)
                failed.add(row.get("id", ""))
    if not out:
        raise DataFormatError(path, None, None, "no contexts")
    used = {Path(c.data["model"]).resolve() for c in out}
    if models.is_dir():
        for p in sorted(models.iterdir()):
            if p.name.endswith(MODEL_SUFFIXES) and p.resolve() not in used \
                    and p.name.split(".")[0] not in failed:
                _collect(errors, DataFormatError(p, None, None, f"a model file without a context: "
                                                 f"add a row for it to {path} or remove it"))
    return out


def _context_row(path: Path, folder: Path, models: Path, features: list[str], seen: set[str],
                 line: int, row: dict[str, str], index: int) -> TwinContext:
    """One row of contexts.csv as a context (its id noted in ``seen``)."""
    cid = row.get("id", "")
    if not cid:
        raise DataFormatError(path, line, "id", "empty context id")
    if cid in seen:
        raise DataFormatError(path, line, "id", f"context {cid!r} appears twice")
    seen.add(cid)
    values = []
    for f in features:
        try:
            values.append(float(row.get(f, "")))
        except ValueError:
            raise DataFormatError(path, line, f, f"feature value {row.get(f)!r} is not a "
                                  f"number") from None
    start = None
    if row.get("date"):
        try:
            start = date.fromisoformat(row["date"])
        except ValueError:
            raise DataFormatError(path, line, "date", f"{row['date']!r} is not a date "
                                  f"like 2021-03-01") from None
    model = _model_file(folder, models, cid, row.get("model", ""), f"{path}, line {line}")
    return TwinContext(index, row.get("label") or cid, np.array(values), start,
                       {"id": cid, "model": str(model), "category": row.get("category", ""),
                        "line": line})


def _every_prefix_matches(toml: Path, prefixes: tuple[str, ...], cols: tuple[str, ...],
                          first: TwinContext) -> None:
    """Each decision prefix names at least one variable of the first context's model (a
    mistyped one among several is an error naming it, not a silently smaller decision)."""
    for p in prefixes:
        if not any(c.startswith(p) for c in cols):
            stems = sorted({split_name(c)[0] for c in cols})
            shown = ", ".join(map(repr, stems[:12])) + (" ..." if len(stems) > 12 else "")
            raise DataFormatError(toml, None, "decision", f"the prefix {p!r} matches no variable "
                                  f"of {first.data['model']} (context {first.data['id']!r}); "
                                  f"its variables start with {shown}: fix or remove the prefix")


def _shown_ids(ids: list[str], limit: int = 10) -> str:
    """Context ids for a message: all of a few, the first ``limit`` of many."""
    shown = ", ".join(map(repr, ids[:limit]))
    return shown + (f", ... ({len(ids)} in all)" if len(ids) > limit else "")


def _read_outcomes(path: Path, units: dict[str, str], ids: list[str],
                   errors: list[str] | None = None) -> OutcomeDefinition:
    """The outcome terms of outcomes.csv; the first problem raises, or with ``errors`` every
    problem is noted there and the rows without one are kept."""
    terms = []
    known = set(ids)
    with csv_rows(path) as rows:
        header = rows.header
        for need in ("group", "name", "variable", "coefficient"):
            if need not in header:
                raise DataFormatError(path, 1, need, "missing column (columns: group, name, "
                                      "variable, coefficient, optional unit and context)")
        for line, row in rows:
            try:
                terms.append(_outcome_row(path, line, row, known, ids))
            except DataFormatError as exc:
                _collect(errors, exc)
    if not terms:
        raise DataFormatError(path, None, None, "no outcome terms")
    return OutcomeDefinition(tuple(terms), dict(units))


def _outcome_row(path: Path, line: int, row: dict[str, str], known: set[str],
                 ids: list[str]) -> OutcomeTerm:
    """One row of outcomes.csv as an outcome term."""
    if not row.get("group") or not row.get("name"):
        raise DataFormatError(path, line, "group" if not row.get("group") else "name", "empty")
    try:
        coef = float(row["coefficient"])
    except ValueError:
        raise DataFormatError(path, line, "coefficient",
                              f"{row['coefficient']!r} is not a number") from None
    if not np.isfinite(coef):
        raise DataFormatError(path, line, "coefficient", "must be finite")
    if row.get("context") and row["context"] not in known:
        raise DataFormatError(path, line, "context", f"{row['context']!r} is not a "
                              f"context id; allowed: an id of contexts.csv "
                              f"({_shown_ids(ids)}), or empty for every context")
    return OutcomeTerm(row["group"], row["name"], row["variable"], coef,
                       row.get("context", ""), row.get("unit", ""), f"{path}, line {line}")


def _decision_problems(toml: Path, cfg: dict[str, Any], cols: tuple[str, ...], first: TwinContext,
                       errors: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The decision variables (``decision_variables``, or the first model's columns that start
    with a ``decision`` prefix) and the prefixes; each prefix that matches nothing is an error."""
    if cfg.get("decision_variables"):
        return tuple(str(v) for v in cfg["decision_variables"]), ()
    prefixes = tuple(str(v) for v in cfg.get("decision", ()))
    for p in prefixes:  # each mistyped prefix named
        try:
            _every_prefix_matches(toml, (p,), cols, first)
        except DataFormatError as exc:
            errors.append(str(exc))
    return tuple(c for c in cols if c.startswith(prefixes)), prefixes


def _declared_groups(folder: Path, toml: Path, cfg: dict[str, Any],
                     outcomes: OutcomeDefinition) -> OutcomeDefinition:
    """``outcomes`` with twin.toml's ``compared``, ``extra`` and ``compared_by`` groups; the
    first problem raises."""
    if "compared" in cfg or "extra" in cfg:
        outcomes = OutcomeDefinition(
            outcomes.terms, outcomes.units,
            tuple(str(g) for g in cfg["compared"]) if "compared" in cfg else outcomes.compared,
            tuple(str(g) for g in cfg.get("extra", ())))
        known = {t.group for t in outcomes.terms}
        unknown = [g for g in outcomes.extra if g not in known]
        if unknown:
            raise DataFormatError(toml, None, "extra", f"names no outcome group: {unknown}; "
                                  f"the groups are {sorted(known)}")
    return _extra_by(folder, toml, cfg, _compared_by(folder, toml, cfg, outcomes))


def _extra_by(folder: Path, toml: Path, cfg: dict[str, Any],
              outcomes: OutcomeDefinition) -> OutcomeDefinition:
    """``outcomes`` with twin.toml's ``extra_by`` groups: for a group ``g`` and a column ``a``
    of the ``members`` table, the extra *level* group ``g*a`` (:data:`~fairtwin.twin.outcomes.
    LEVEL_MARK`), each member's outcome times its ``a`` — what a rater who favours members by
    ``a`` (villages with a clinic, districts of older people) weighs, which the group's spread
    does not say. The first problem raises, naming the file, line and field."""
    by = cfg.get("extra_by", {})
    if not by:
        return outcomes
    if "members" not in cfg:
        raise DataFormatError(toml, None, "extra_by", "needs members = \"<file>.csv\": the "
                              "table of the members (first column: their names in outcomes.csv) "
                              "whose columns the groups are weighed by")
    groups = {t.group for t in outcomes.terms}
    pairs = []
    for g, columns in by.items():
        if str(g) not in groups:
            raise DataFormatError(toml, None, "extra_by", f"names no outcome group: {g!r}; "
                                  f"the groups are {sorted(groups)}")
        columns = [columns] if isinstance(columns, str) else columns
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise DataFormatError(toml, None, "extra_by", f"{g} must name columns of the "
                                  f"members table, as a list of names")
        pairs += [(str(g), c) for c in columns]
    path = folder / str(cfg["members"])
    table = _read_members(path, {c for _, c in pairs}, "extra_by")
    terms, units, extra = list(outcomes.terms), dict(outcomes.units), list(outcomes.extra)
    for g, column in pairs:
        level = f"{g}{LEVEL_MARK}{column}"
        own = [t for t in outcomes.terms if t.group == g]
        missing = sorted({t.name for t in own} - set(table))
        if missing:
            raise DataFormatError(path, None, None, f"no row for member(s) {missing[:5]} of "
                                  f"outcome group {g!r} (extra_by); its first column names "
                                  f"{sorted(table)[:10]}")
        factor = {n: _finite(path, table[n][0], column, table[n][1][column])
                  for n in {t.name for t in own}}
        unit = f"{own[0].unit or outcomes.units.get(g, '')} × {column}"
        terms += [replace(t, group=level, coefficient=t.coefficient * factor[t.name], unit=unit)
                  for t in own]
        units[level] = unit
        extra.append(level)
    return replace(outcomes, terms=tuple(terms), units=units, extra=tuple(dict.fromkeys(extra)))


def _compared_by(folder: Path, toml: Path, cfg: dict[str, Any],
                 outcomes: OutcomeDefinition) -> OutcomeDefinition:
    """``outcomes`` with twin.toml's ``compared_by`` member weights (each group compared against
    its mean weighted by a column of the ``members`` table); the first problem raises, naming
    the file, line and field."""
    by = {str(g): v for g, v in cfg.get("compared_by", {}).items()}
    if not by:
        if "members" in cfg and not cfg.get("extra_by"):
            log.warning("%s: members = %r is read only for compared_by and extra_by, which "
                        "name no group", toml, cfg["members"])
        return outcomes
    stray = [k for k in by if k in _TOML_KEYS]
    if stray:
        raise DataFormatError(toml, None, "compared_by", f"holds {stray}: a setting written "
                              f"below the [compared_by] header belongs to that table; move it "
                              f"above the first [table] header")
    if "members" not in cfg:
        raise DataFormatError(toml, None, "compared_by", "needs members = \"<file>.csv\": the "
                              "table of the members (first column: their names in outcomes.csv) "
                              "whose columns weigh them")
    groups = {t.group for t in outcomes.terms}
    for g, column in by.items():
        if g not in groups:
            raise DataFormatError(toml, None, "compared_by", f"names no outcome group: {g!r}; "
                                  f"the groups are {sorted(groups)}")
        if not isinstance(column, str):
            raise DataFormatError(toml, None, "compared_by", f"{g} must name a column of the "
                                  f"members table, got {type(column).__name__}")
    path = folder / str(cfg["members"])
    table = _read_members(path, set(by.values()))
    weights: dict[str, dict[str, float]] = {}
    for g, column in by.items():
        names = sorted({t.name for t in outcomes.terms if t.group == g})
        if len(names) < 2:
            raise DataFormatError(toml, None, "compared_by", f"group {g!r} has {len(names)} "
                                  f"member: against its own mean it is always 0; compared_by "
                                  f"needs a group of two or more")
        missing = [n for n in names if n not in table]
        if missing:
            raise DataFormatError(path, None, None, f"no row for member(s) {missing[:5]} of "
                                  f"outcome group {g!r} (compared_by); its first column names "
                                  f"{sorted(table)[:10]}")
        weights[g] = {n: _positive(path, table[n][0], column, table[n][1][column])
                      for n in names}
    return replace(outcomes, weights=weights)


def _members_kept(folder: Path, toml: Path, cfg: dict[str, Any], outcomes: OutcomeDefinition,
                  errors: list[str]) -> OutcomeDefinition:
    """``outcomes`` with the ``compared_by`` weights and the ``extra_by`` groups, or without
    those that have a problem, noted in ``errors``."""
    try:
        outcomes = _compared_by(folder, toml, cfg, outcomes)
    except DataFormatError as exc:
        errors.append(str(exc))
    try:
        return _extra_by(folder, toml, cfg, outcomes)
    except DataFormatError as exc:
        errors.append(str(exc))
        return outcomes


def _read_members(path: Path, columns: set[str], key: str = "compared_by"
                  ) -> dict[str, tuple[int, dict[str, str]]]:
    """The members table: by the first column's names, the line and the cells of ``columns``."""
    if not path.exists():
        raise DataFormatError(path, None, None, "missing: twin.toml's members names this file")
    out: dict[str, tuple[int, dict[str, str]]] = {}
    with csv_rows(path) as rows:
        header = list(rows.header)
        if not header:
            raise DataFormatError(path, 1, None, "no header: the first column names the "
                                  "members, the others are their attributes")
        if len(header) == 1 and ";" in header[0]:
            raise DataFormatError(path, 1, None, "one column only: separate the columns with "
                                  "commas, not semicolons")
        for column in sorted(columns):
            if column not in header[1:]:
                raise DataFormatError(path, 1, column, f"no such column ({key}); the "
                                      f"columns are {header[1:]}")
        for line, row in rows:
            name = row[header[0]]
            if name in out:
                raise DataFormatError(path, line, header[0], f"member {name!r} appears twice")
            out[name] = (line, {c: row[c] for c in columns})
    return out


def _finite(path: Path, line: int, column: str, text: str | None) -> float:
    """A members table cell as a finite number."""
    try:
        value = float(text or "")
    except ValueError:
        raise DataFormatError(path, line, column, f"{text!r} is not a number") from None
    if not np.isfinite(value):
        raise DataFormatError(path, line, column, f"must be a finite number, got {text}")
    return value


def _positive(path: Path, line: int, column: str, text: str | None) -> float:
    """A members table cell as a positive finite number."""
    value = _finite(path, line, column, text)
    if value <= 0:
        raise DataFormatError(path, line, column, f"must be positive, got {text}")
    return value


def _outcome_problems(toml: Path, cfg: dict[str, Any], out_path: Path, units: dict[str, str],
                      decision: tuple[str, ...], ids: list[str],
                      errors: list[str]) -> OutcomeDefinition:
    """The outcomes (outcomes.csv, else one per decision variable), their problems and those of
    the groups ``compared`` and ``extra`` name added to ``errors``."""
    outcomes = OutcomeDefinition(default_outcomes(decision).terms, {})
    try:
        if out_path.exists():
            outcomes = _read_outcomes(out_path, units, ids, errors)
            errors += outcomes.problems(decision, ids)
    except DataFormatError as exc:
        errors.append(str(exc))
    groups = {t.group for t in outcomes.terms}
    for key in ("compared", "extra"):
        unknown = [str(g) for g in cfg.get(key, ()) if str(g) not in groups]
        if unknown:
            errors.append(str(DataFormatError(toml, None, key, f"names no outcome group: "
                                              f"{unknown}; the groups are {sorted(groups)}")))
    return outcomes


def _model_problems(source: FolderModels, contexts: list[TwinContext], limit: int,
                    errors: list[str]) -> list[TwinContext]:
    """The contexts whose model reads, with the same decision variables; the others' problems
    (at most ``limit``, then how many more) added to ``errors``."""
    bad, good = [], []
    for ctx in contexts:
        try:
            source(ctx)
            good.append(ctx)
        except (DataFormatError, ValidationError) as exc:
            bad.append(str(exc))
    errors += bad[:limit]
    if len(bad) > limit:
        errors.append(f"... and {len(bad) - limit} more models with a problem")
    return good


def _outcomes_kept(outcomes: OutcomeDefinition, cfg: dict[str, Any], units: dict[str, str],
                   decision: tuple[str, ...], contexts: list[TwinContext],
                   from_file: bool) -> OutcomeDefinition:
    """The outcomes of the contexts kept and the decision variables, with twin.toml's
    ``compared`` and ``extra`` groups and ``units``."""
    kept = {str(c.data["id"]) for c in contexts}
    outcomes = replace(outcomes, terms=tuple(t for t in outcomes.terms
                                             if (not t.context or t.context in kept)
                                             and (not t.variable or t.variable in decision)))
    if "compared" in cfg or "extra" in cfg:
        return OutcomeDefinition(
            outcomes.terms, units,
            tuple(str(g) for g in cfg["compared"]) if "compared" in cfg else outcomes.compared,
            tuple(str(g) for g in cfg.get("extra", ())))
    if not from_file:
        return OutcomeDefinition(outcomes.terms, units)
    return outcomes


def load_twin_folder(folder: str | os.PathLike[str], validate: bool = True) -> Scenario:
    """Read a twin folder (see the module docstring) as a :class:`Scenario`.

    With ``validate``, every context's nominal problem is solved once: a context without a
    solution is an error naming it (and the constraint group that makes it infeasible), or is
    dropped with a warning if ``drop_infeasible = true``. Every problem raises
    :class:`~fairtwin.exceptions.TwinFolderError`.
    """
    try:
        return _load_twin_folder(Path(folder), validate)
    except (DataFormatError, ValidationError) as exc:
        if isinstance(exc, TwinFolderError):
            raise
        raise TwinFolderError(str(exc)) from None


def _load_twin_folder(folder: Path, validate: bool) -> Scenario:
    if not folder.is_dir():
        raise ValidationError(f"twin folder {folder} does not exist")
    toml = folder / "twin.toml"
    if not toml.exists():
        raise DataFormatError(toml, None, None, "missing: a twin folder needs twin.toml (name, "
                              "decision, ...), contexts.csv and one model file per context")
    cfg = _settings_of(toml, read_toml(toml))
    name = cfg.get("name") or folder.name
    models = folder / cfg.get("models", "models")
    contexts = _read_contexts(folder / cfg.get("contexts", "contexts.csv"), folder, models)
    first, cols, _ = _read(contexts[0].data["model"])
    cols = tuple(normalise_name(c) for c in cols)
    if cfg.get("decision_variables"):
        decision = tuple(str(v) for v in cfg["decision_variables"])
    else:
        prefixes = tuple(str(v) for v in cfg["decision"])
        _every_prefix_matches(toml, prefixes, cols, contexts[0])
        decision = tuple(c for c in cols if c.startswith(prefixes))
    units = {str(k): str(v) for k, v in cfg.get("units", {}).items()}
    out_path = folder / cfg.get("outcomes", "outcomes.csv")
    if out_path.exists():
        outcomes = _read_outcomes(out_path, units, [str(c.data["id"]) for c in contexts])
    else:
        outcomes = OutcomeDefinition(default_outcomes(decision).terms, units)
    outcomes = _declared_groups(folder, toml, cfg, outcomes)
    source = FolderModels(decision, tuple(str(g) for g in cfg.get("guard", [])),
                          () if cfg.get("decision_variables") else prefixes)
    settings = _twin_settings(toml, cfg)
    twin = GenericTwin(name, contexts, source, decision, outcomes, completer=complete_with_highs,
                       **settings)
    kept, numbers = contexts, None
    for ctx in contexts:  # decision variables must match in every context (named in the error)
        try:
            twin.build(ctx)
        except ValidationError as exc:
            raise TwinFolderError(f"{exc}; every context must have the decision variables of "
                                  f"{contexts[0].data['model']}") from None
    if validate:
        kept = _solvable(twin, contexts, bool(cfg.get("drop_infeasible", False)))
        if len(kept) < len(contexts):
            numbers = tuple(c.index for c in kept)  # --week N stays row N of contexts.csv
            ids = {str(c.data["id"]) for c in kept}
            outcomes = replace(outcomes, terms=tuple(t for t in outcomes.terms
                                                     if not t.context or t.context in ids))
            twin = GenericTwin(name, _reindex(kept), source, decision, outcomes,
                               completer=complete_with_highs, **settings)
            kept = list(twin.contexts)
    hooked: Twin = _with_hook(toml, folder, twin, cfg["python"]) if "python" in cfg else twin
    return Scenario(name=name, description=cfg.get("description", f"twin folder {folder}"),
                    twin=hooked, contexts=tuple(kept), numbers=numbers)


def _settings_of(toml: Path, cfg: dict[str, Any], errors: list[str] | None = None) -> dict[str, Any]:
    """twin.toml's settings, each a known one of the right type, and a decision named; the
    first problem raises, or with ``errors`` every problem is noted and the good settings kept."""
    good = {}
    for key, value in cfg.items():
        wanted = _TOML_KEYS.get(key)
        if wanted is None:
            _collect(errors, DataFormatError(toml, None, key, f"unknown setting; allowed: "
                                             f"{', '.join(_TOML_KEYS)}"))
        elif not isinstance(value, wanted) or (isinstance(value, bool) and wanted is not bool):
            _collect(errors, DataFormatError(toml, None, key, f"must be a {_kind(wanted)}, got "
                                             f"{type(value).__name__}"))
        else:
            good[key] = value
    if not good.get("decision") and not good.get("decision_variables"):
        _collect(errors, DataFormatError(toml, None, "decision", "say which variables are the "
                                         "decision: decision = [\"prefix\"] or decision_variables "
                                         "= [\"name\", ...]"))
    return good


def _twin_settings(toml: Path, cfg: dict[str, Any], errors: list[str] | None = None) -> dict[str, Any]:
    """The :class:`GenericTwin` settings of twin.toml (its ``[resolve]`` table checked: a
    problem raises, or with ``errors`` is noted there and the table left out)."""
    try:
        resolve = _resolve_table(toml, cfg.get("resolve", {}))
    except (DataFormatError, ValidationError) as exc:
        _collect(errors, exc)
        resolve = {}
    return {"default_resolve": resolve,
            "guard_name": cfg.get("guard_name", "guarded quantity"),
            "price_unit": float(cfg.get("price_unit", 1.0)),
            "price_unit_name": cfg.get("price_unit_name", "cost units"),
            "categories": [str(c) for c in cfg.get("categories", [])],
            "default_oracle": cfg.get("oracle", "gini")}


def folder_problems(folder: str | os.PathLike[str], limit: int = 10) -> tuple[list[str], Scenario | None]:
    """Every problem of a twin folder's files, one line each (naming the file, and the line and
    field where there is one), and the scenario of the contexts whose files have none (``None``
    when no twin can be made of them; the contexts not yet solved: :func:`fairtwin.check.check_twin`
    does that, and finds what only running shows).

    :func:`load_twin_folder` stops at the first problem; this reads on: every setting of
    twin.toml, every row of contexts.csv and outcomes.csv, each decision prefix, every context's
    model and its decision variables (at most ``limit`` models' problems are listed, then how
    many more have one), the groups named by ``compared``, ``extra`` and ``compared_by`` (and
    its members table), ``[resolve]`` and the
    ``[python]`` hook.
    """
    folder = Path(folder)
    errors: list[str] = []
    toml = folder / "twin.toml"
    if not folder.is_dir():
        return [f"twin folder {folder} does not exist"], None
    try:
        cfg = _settings_of(toml, read_toml(toml) if toml.exists() else {}, errors)
        if not toml.exists():
            errors[:] = [str(DataFormatError(toml, None, None, "missing: a twin folder needs "
                                             "twin.toml (name, decision, ...), contexts.csv and "
                                             "one model file per context"))]
            return errors, None
        models = folder / cfg.get("models", "models")
        contexts = _read_contexts(folder / cfg.get("contexts", "contexts.csv"), folder, models, errors)
        _, cols, _ = _read(contexts[0].data["model"])
    except (DataFormatError, ValidationError) as exc:
        return [*errors, str(exc)], None
    cols = tuple(normalise_name(c) for c in cols)
    decision, prefixes = _decision_problems(toml, cfg, cols, contexts[0], errors)
    if not decision:
        return errors, None
    out_path = folder / cfg.get("outcomes", "outcomes.csv")
    units = {str(k): str(v) for k, v in cfg.get("units", {}).items()}
    outcomes = _outcome_problems(toml, cfg, out_path, units, decision,
                                 [str(c.data["id"]) for c in contexts], errors)
    source = FolderModels(decision, tuple(str(g) for g in cfg.get("guard", [])), prefixes)
    good = _model_problems(source, contexts, limit, errors)
    settings = _twin_settings(toml, cfg, errors)
    if not good:
        return errors, None
    # the contexts without a problem still make a twin, to check what only running shows
    contexts = _reindex(good)
    outcomes = _outcomes_kept(outcomes, cfg, units, decision, contexts, out_path.exists())
    outcomes = _members_kept(folder, toml, cfg, outcomes, errors)
    name = cfg.get("name") or folder.name
    try:
        files = GenericTwin(name, contexts, source, decision, outcomes,
                            completer=complete_with_highs, **settings)
    except (DataFormatError, ValidationError) as exc:
        return [*errors, str(exc)], None
    twin: Twin = files
    try:
        twin = _with_hook(toml, folder, files, cfg["python"]) if "python" in cfg else files
    except DataFormatError as exc:  # the files' twin is still checked
        errors.append(str(exc))
    return errors, Scenario(name=name, description=cfg.get("description", f"twin folder {folder}"),
                        twin=twin, contexts=tuple(contexts))


def _kind(t: Any) -> str:
    return {str: "string", list: "list", bool: "boolean", dict: "table"}.get(t, "number")


def _reindex(contexts: list[TwinContext]) -> list[TwinContext]:
    return [TwinContext(k, c.label, c.feature_values, c.start, dict(c.data)) for k, c in enumerate(contexts)]


def _solvable(twin: GenericTwin, contexts: list[TwinContext], drop: bool) -> list[TwinContext]:
    from fairtwin.exceptions import InfeasibleError, UnboundedError
    from fairtwin.solvers import solve

    kept = []
    for ctx in contexts:
        try:
            solve(twin.build(ctx), "highs", SolverOptions(time_limit_s=30.0))
        except (InfeasibleError, UnboundedError) as exc:
            where = f"context {ctx.data['id']!r} ({ctx.data['model']})"
            if not drop:
                raise ValidationError(f"{where}: {exc}; fix the model or set drop_infeasible = "
                                      f"true in twin.toml to run without it") from None
            log.warning("dropping %s: %s", where, exc)
            continue
        kept.append(ctx)
    if not kept:
        raise ValidationError("no context of the twin has a solution")
    return kept


def _with_hook(toml: Path, folder: Path, twin: GenericTwin, table: dict[str, Any]) -> Twin:
    """The twin a ``[python]`` table's hook returns for the files' twin (module docstring)."""
    from fairtwin.plugins import import_object

    for key in table:
        if key not in ("twin", "settings"):
            raise DataFormatError(toml, None, f"python.{key}", "unknown setting; allowed: twin, "
                                  "settings")
    spec = table.get("twin")
    if not isinstance(spec, str):
        raise DataFormatError(toml, None, "python.twin", "name the hook: twin = "
                              "\"package.module:function\"")
    settings = table.get("settings", {})
    if not isinstance(settings, dict):
        raise DataFormatError(toml, None, "python.settings", "must be a table")
    try:
        hook = import_object(spec, "twin hook")
    except ValidationError as exc:
        raise DataFormatError(toml, None, "python.twin", str(exc)) from None
    if not callable(hook):
        raise DataFormatError(toml, None, "python.twin", f"{spec} is not callable")
    try:
        extended = hook(twin, folder, dict(settings))
    except (DataFormatError, ValidationError) as exc:
        raise DataFormatError(toml, None, "python", f"the twin hook {spec}: {exc}") from None
    except Exception as exc:  # a user's hook: say whose error it is
        raise DataFormatError(toml, None, "python", f"the twin hook {spec} raised "
                              f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(extended, Twin):
        raise DataFormatError(toml, None, "python.twin", f"{spec} returned a "
                              f"{type(extended).__name__}, not a fairtwin Twin")
    if tuple(extended.decision_names) != twin.decision_names:
        raise DataFormatError(toml, None, "python.twin", f"the twin {spec} returned has other "
                              f"decision variables than the folder's models")
    return extended


def _resolve_table(toml: Path, values: dict[str, Any]) -> dict[str, Any]:
    """A twin.toml's ``[resolve]`` table, checked as :class:`~fairtwin.resolve.ResolveConfig`
    settings (the file and the setting named in every error)."""
    from fairtwin.resolve import ResolveConfig

    allowed = [f.name for f in fields(ResolveConfig)]
    for key in values:
        if key not in allowed:
            raise DataFormatError(toml, None, f"resolve.{key}",
                                  f"unknown setting; allowed: {', '.join(allowed)}")
    try:
        check_setting_types(ResolveConfig, values, "[resolve]")  # says "[resolve]: ..." itself
    except ValidationError as exc:
        raise DataFormatError(toml, None, None, str(exc)) from None
    try:
        ResolveConfig(**values)
    except (ValidationError, UnknownNameError) as exc:  # a wrong value or mode
        raise DataFormatError(toml, None, None, f"[resolve]: {exc}") from None
    return dict(values)


# ---------------------------------------------------------------------- export
def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name)


def export_twin(scenario: Scenario, out: str | os.PathLike[str], weeks: list[int] | None = None,
                fmt: str = "mps", hooks: bool = True) -> Path:
    """Write a scenario's twin to the folder format (any twin; names made MPS-safe).

    The decision variables keep their order; for the ICU twin they are ``deploy_<region>`` and
    ``transfer_<from>_<to>``, the overflow ``overflow_<region>`` is the guard. Outcomes are
    written per context (their coefficients may depend on it). With ``hooks``, a twin with its
    own Python behaviour (:meth:`~fairtwin.twin.base.Twin.folder_hooks`; the ICU twin's sampler
    targets, notions and bound moves) also writes the files and the ``[python]`` table that
    restore it, so that the folder runs to the same numbers as the twin itself; without, the
    folder is files only (a generic twin of the same models and outcomes).
    """
    import tomli_w

    if fmt not in ("mps", "lp"):
        raise ValidationError(f"unknown model format {fmt!r}; allowed values: 'mps', 'lp'")
    twin: Twin = scenario.twin
    out = Path(out)
    (out / "models").mkdir(parents=True, exist_ok=True)
    idx = list(range(scenario.n_weeks)) if weeks is None else list(weeks)
    contexts = [scenario.context(k) for k in idx]
    ids = [f"c{ctx.index:04d}" for ctx in contexts]
    names, guard, block_names = _export_names(twin, contexts[0])
    feats = contexts[0].features()
    ctx_rows, out_rows = [], []
    for cid, ctx in zip(ids, contexts, strict=True):
        _export_model(twin.build(ctx), out / "models" / f"{cid}.{fmt}", block_names)
        ctx_rows.append([cid, ctx.label, str(getattr(ctx, "start", None) or ""), twin.category(ctx),
                         *[f"{v:.17g}" for v in ctx.features()]])
        out_rows += _outcome_rows(twin.outcomes(ctx), names, cid)
    with open(out / "contexts.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "label", "date", "category", *[f"x{k}" for k in range(feats.size)]])
        w.writerows(ctx_rows)
    with open(out / "outcomes.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["group", "name", "variable", "coefficient", "unit", "context"])
        w.writerows(out_rows)
    first = twin.outcomes(contexts[0])
    toml: dict[str, Any] = {"name": f"{scenario.name}-export",
                            "description": f"{scenario.name} exported by fairtwin export-twin",
                            "decision_variables": names}
    if guard:
        toml.update(guard=[guard], guard_name=twin.guard_name)
    toml.update(price_unit=float(twin.price_unit), price_unit_name=twin.price_unit_name,
                categories=list(twin.categories),
                compared=list(first.compared))  # what the learner compares
    extra = first.extra
    if extra:
        toml["extra"] = list(extra)  # and what it weighs only when the answers call for it
    toml.update(_export_weights(first, out))
    if twin.default_resolve:
        toml["resolve"] = dict(twin.default_resolve)
    table = twin.folder_hooks(out, contexts, ids) if hooks else None
    if table:
        toml["oracle"] = twin.default_oracle  # the twin's own notions come back with the hook
        toml["python"] = table
    (out / "twin.toml").write_text(tomli_w.dumps(toml))
    return out


def _export_weights(outcomes: Outcomes, out: Path) -> dict[str, Any]:
    """The twin.toml settings of member weights (``members``, ``compared_by``), their table
    written to ``out/members.csv`` (a column per weighted group; empty: not its member)."""
    if not outcomes.weights:
        return {}
    cells: dict[str, dict[str, str]] = {}
    for g, w in outcomes.weights.items():
        members = [n for n, gg in zip(outcomes.names, outcomes.groups, strict=True) if gg == g]
        for name, value in zip(members, w, strict=True):
            cells.setdefault(name, {})[f"{g} weight"] = f"{value:.17g}"
    columns = [f"{g} weight" for g in outcomes.weights]
    with open(out / "members.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["member", *columns])
        writer.writerows([name, *(row.get(c, "") for c in columns)] for name, row in cells.items())
    return {"members": "members.csv",
            "compared_by": {g: f"{g} weight" for g in outcomes.weights}}


def _export_model(problem: Problem, path: Path, block_names: list[str]) -> None:
    """One context's model file, its rows named after their constraint group."""
    rows = []
    for group, s in problem.layout.constraints.items():
        rows += [f"{_safe(group)}_{k}" for k in range(s.stop - s.start)]
    cols = [block_names[j] for j in range(problem.n_vars)]
    write_model_file(problem, path, cols, rows)


def _outcome_rows(o: Outcomes, names: list[str], cid: str) -> list[list[str]]:
    """One context's rows of outcomes.csv: a row per non-zero coefficient, and one for the
    offset (when not zero, or when the outcome has no coefficient)."""
    out_rows = []
    for k in range(o.n_outcomes):
        nz = np.flatnonzero(o.matrix[k])
        for j in nz:
            out_rows.append([o.groups[k], o.names[k], names[j], f"{o.matrix[k, j]:.17g}",
                             o.units.get(o.groups[k], ""), cid])
        if o.offset[k] != 0 or not nz.size:
            out_rows.append([o.groups[k], o.names[k], "", f"{o.offset[k]:.17g}",
                             o.units.get(o.groups[k], ""), cid])
    return out_rows


def _export_names(twin: Twin, context: Any) -> tuple[list[str], str, list[str]]:
    """MPS-safe names: decision variables, the guard prefix, and every column's name."""
    problem = twin.build(context)
    n = problem.n_vars
    raw = list(twin.decision_names)
    seen: dict[str, int] = {}
    names = []
    for r in raw:
        s = _safe(r)
        if s in seen:
            seen[s] += 1
            s = f"{s}_{seen[s]}"
        else:
            seen[s] = 0
        names.append(s)
    cols = [""] * n
    for k, j in enumerate(problem.decision_index):
        cols[int(j)] = names[k]
    guard_row = twin.guard_row(problem)
    guard = "guard_" if guard_row is not None else ""
    other = 0
    for j in range(n):
        if cols[j]:
            continue
        if guard_row is not None and guard_row[j] != 0:
            group = next((g for g, s in problem.layout.variables.items() if s.start <= j < s.stop), "g")
            cols[j] = f"guard_{_safe(group)}_{j}"
        else:
            cols[j] = f"aux_{other}"
            other += 1
    return names, guard, cols
