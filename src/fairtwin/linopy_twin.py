"""The Python door: a twin from one linopy ``Model`` per context (``pip install fairtwin[linopy]``).

::

    from fairtwin.linopy_twin import twin_from_linopy

    scenario = twin_from_linopy(models, decision=["dose"], guard=["short"],
                                ids=[f"w{k:03d}" for k in range(len(models))],
                                labels=[f"week {k}" for k in range(len(models))],
                                features=X, outcomes={"doses_per_1000": {
                                    "north": {"dose(north)": 1000 / 120_000}, ...}})
    fairtwin.pipeline.run_pipeline(config, out, scenario=scenario)

Each model is written with linopy's own MPS writer (coordinate names kept) and read back with
HiGHS, so a linopy twin is exactly the folder twin :func:`write_twin_folder` would save (both
take the same arguments, and neither prints HiGHS's lines). Variables are named
``<variable>(<coordinates>)``, e.g. ``dose(north)``; ``decision`` and ``guard`` name linopy
variables (all their coordinates; ``"dose"``, or ``"dose("`` as a folder's prefix) or single
columns (``"dose(north)"``).

Outcomes come in one of three forms:

- ``{group: {outcome: {column: coefficient}}}``: the same for every context (the column ``""``
  is a constant term);
- a list of such dicts, one per model: each context's own coefficients;
- ``outcome_rows``: rows ``(group, name, variable, coefficient[, unit[, context]])`` as in a
  folder's ``outcomes.csv``, ``context`` one of ``ids`` (empty: every context).
"""

from __future__ import annotations

import csv
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fairtwin.exceptions import ValidationError
from fairtwin.folder import complete_with_highs
from fairtwin.solvers.highs import read_model_file
from fairtwin.twin.base import TwinContext
from fairtwin.twin.generic import (
    GenericTwin,
    OutcomeDefinition,
    OutcomeTerm,
    arrange,
    default_outcomes,
    normalise_name,
)
from fairtwin.twin.problem import Problem
from fairtwin.twin.scenarios import Scenario

__all__ = ["twin_from_linopy", "write_twin_folder", "OutcomeSpec"]

#: group → outcome name → {column name: coefficient} (the key ``""`` is a constant term)
OutcomeSpec = Mapping[str, Mapping[str, Mapping[str, float]]]


@contextmanager
def _quiet() -> Iterator[None]:
    """Standard output closed at its file descriptor: HiGHS, through which linopy writes MPS
    files, prints "Running HiGHS ..." and "Writing the model to ..." from C++ for every file."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):  # no standard output to silence
        yield
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)


def _write(model: Any, path: Path) -> None:
    with _quiet():
        model.to_file(path, explicit_coordinate_names=True)


def _linopy() -> Any:
    try:
        import linopy
    except ImportError:
        raise ValidationError("the linopy door needs linopy: pip install 'fairtwin[linopy]'") from None
    return linopy


@dataclass(frozen=True)
class StoredModels:
    """The model source of a linopy twin: the converted problems, by context index."""

    problems: tuple[tuple[Problem, tuple[str, ...]], ...]

    def __call__(self, context: TwinContext) -> tuple[Problem, tuple[str, ...]]:
        return self.problems[int(context.index)]


def _columns(prefixes: Sequence[str], cols: Sequence[str]) -> tuple[str, ...]:
    """The columns each name stands for: a linopy variable (``"dose"`` or ``"dose("``, all its
    coordinates) or a column (``"dose(north)"``)."""
    out = []
    for p in prefixes:
        p = p[:-1] if p.endswith("(") else p
        hits = [c for c in cols if c == p or c.startswith(f"{p}(")]
        if not hits:
            raise ValidationError(f"no variable {p!r} in the model; its variables are "
                                  f"{sorted({c.split('(')[0] for c in cols})}")
        out += hits
    return tuple(dict.fromkeys(out))


def _no_extra_decision(found: tuple[str, ...], first: tuple[str, ...], label: str) -> None:
    """A later model's decision variable that the first model lacks is an error (it would
    silently be no decision variable)."""
    known = set(first)
    extra = [c for c in found if c not in known]
    if extra:
        what = "is a decision variable" if len(extra) == 1 else "are decision variables"
        raise ValidationError(f"{label}: {', '.join(map(repr, extra[:5]))} {what} the first "
                              f"model lacks; every model must have the same decision variables: "
                              f"add them to every model (fixed at 0 where they do not apply) "
                              f"or remove them")


Outcomes = OutcomeSpec | Sequence[OutcomeSpec] | OutcomeDefinition | None


def _outcome_rows(spec: Outcomes, rows: Sequence[Sequence[Any]],
                  ids: Sequence[str]) -> list[tuple[str, str, str, float, str, str]]:
    """Outcomes in any of the module docstring's forms as rows ``(group, name, variable,
    coefficient, unit, context)``."""
    out = []
    if isinstance(spec, Mapping):
        specs: list[tuple[str, OutcomeSpec]] = [("", spec)]
    elif spec is None or isinstance(spec, OutcomeDefinition):
        specs = []
    else:
        specs = list(zip(ids, spec, strict=False))
        if len(specs) != len(ids) or len(spec) != len(ids):
            raise ValidationError(f"outcomes has {len(spec)} entries for {len(ids)} models "
                                  "(one {group: {outcome: {column: coefficient}}} per model)")
    for cid, one in specs:
        for group, named in one.items():
            for name, coefs in named.items():
                for var, coef in coefs.items():
                    out.append((str(group), str(name), str(var), float(coef), "", cid))
    for k, row in enumerate(rows):
        if not 4 <= len(row) <= 6:
            raise ValidationError(f"outcome_rows[{k}]: {len(row)} fields; give group, name, "
                                  "variable, coefficient and optionally unit and context")
        full = [*row, "", ""][:6]
        out.append((str(full[0]), str(full[1]), str(full[2]), float(full[3]), str(full[4]),
                    str(full[5])))
    return out


def _outcomes(spec: Outcomes, rows: Sequence[Sequence[Any]], ids: Sequence[str],
              decision: Sequence[str], units: Mapping[str, str] | None) -> OutcomeDefinition:
    if isinstance(spec, OutcomeDefinition):
        return spec
    terms = [OutcomeTerm(g, n, v, c, context=cid, unit=u, where=f"outcomes of context {cid!r}"
                         if cid else "")
             for g, n, v, c, u, cid in _outcome_rows(spec, rows, ids)]
    if not terms:
        terms = list(default_outcomes(decision).terms)
    return OutcomeDefinition(tuple(terms), dict(units or {}))


def _ids(ids: Sequence[str] | None, n: int) -> list[str]:
    """The contexts' ids: given (distinct, one per model) or ``c0000``, ``c0001``, ..."""
    if ids is None:
        return [f"c{k:04d}" for k in range(n)]
    out = [str(i) for i in ids]
    if len(out) != n:
        raise ValidationError(f"ids has {len(out)} entries for {n} models")
    twice = sorted({i for i in out if out.count(i) > 1})
    if twice or "" in out:
        raise ValidationError(f"ids must be distinct and non-empty; repeated: {twice or ['']}")
    return out


def _read_linopy(model: Any, where: str) -> tuple[Problem, tuple[str, ...], tuple[str, ...]]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.mps"
        _write(model, path)
        problem, cols, rows = read_model_file(path)
    cols = tuple(normalise_name(c) for c in cols)
    return replace(problem, name=where), cols, rows


def twin_from_linopy(
    models: Sequence[Any],
    decision: Sequence[str],
    *,
    name: str = "linopy-twin",
    ids: Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
    features: ArrayLike | None = None,
    dates: Sequence[date | None] | None = None,
    categories: Sequence[str] | None = None,
    outcomes: Outcomes = None,
    outcome_rows: Sequence[Sequence[Any]] = (),
    units: Mapping[str, str] | None = None,
    guard: Sequence[str] = (),
    guard_name: str = "guarded quantity",
    price_unit: float = 1.0,
    price_unit_name: str = "cost units",
    default_oracle: str = "gini",
    default_resolve: Mapping[str, Any] | None = None,
) -> Scenario:
    """A scenario whose contexts are linopy models (see the module docstring).

    Parameters
    ----------
    models : sequence of linopy.Model
        One per context; every model must have the same decision variables.
    decision, guard : sequence of str
        Linopy variable names (all coordinates: ``"dose"`` or ``"dose("``) or column names
        such as ``dose(north)``; the same as :func:`write_twin_folder` takes.
    ids : sequence of str, optional
        The contexts' ids (default ``c0000``, ``c0001``, ...): what per-context outcome rows
        name, and a folder's model file names.
    features : array of shape (n_contexts, n_features), optional
        What the learner may know of each context (default: none).
    outcomes : mapping, list of mappings or OutcomeDefinition, optional
        ``{group: {outcome: {column: coefficient}}}`` for every context, or a list of them,
        one per model (module docstring); default: every decision variable.
    outcome_rows : sequence of rows, optional
        ``(group, name, variable, coefficient[, unit[, context]])``, as in ``outcomes.csv``.
    default_resolve : mapping, optional
        Re-solve settings for this twin (e.g. ``{"mode": "guard"}``); the CLI applies them
        unless the user sets them, from Python :func:`fairtwin.pipeline.with_twin_defaults`.
    """
    _linopy()
    if not models:
        raise ValidationError("twin_from_linopy needs at least one model")
    n = len(models)
    context_ids = _ids(ids, n)
    X = _context_features(features, n, labels, dates, categories)
    names = [labels[k] if labels is not None else f"context {k}" for k in range(n)]
    converted, decision_cols = _arranged(models, decision, guard, names)
    contexts = [TwinContext(k, names[k], X[k], dates[k] if dates is not None else None,
                            {"id": context_ids[k], "category": categories[k] if categories else ""})
                for k in range(n)]
    definition = _outcomes(outcomes, outcome_rows, context_ids, decision_cols, units)
    twin = GenericTwin(name, contexts, StoredModels(tuple(converted)), decision_cols,
                       definition, completer=complete_with_highs,
                       guard_name=guard_name, price_unit=price_unit, price_unit_name=price_unit_name,
                       default_oracle=default_oracle, default_resolve=default_resolve)
    return Scenario(name=name, description=f"{n} linopy models", twin=twin, contexts=tuple(contexts))


def _context_features(features: ArrayLike | None, n: int, labels: Sequence[str] | None,
                      dates: Sequence[date | None] | None,
                      categories: Sequence[str] | None) -> NDArray[np.float64]:
    """The features of ``n`` contexts (none by default), each per-context sequence checked to
    have ``n`` entries."""
    X = np.zeros((n, 0)) if features is None else np.atleast_2d(np.asarray(features, dtype=np.float64))
    if X.shape[0] != n:
        raise ValidationError(f"features has {X.shape[0]} rows for {n} models")
    for seq, what in ((labels, "labels"), (dates, "dates"), (categories, "categories")):
        if seq is not None and len(seq) != n:
            raise ValidationError(f"{what} has {len(seq)} entries for {n} models")
    return X


def _arranged(models: Sequence[Any], decision: Sequence[str], guard: Sequence[str],
              labels: list[str]) -> tuple[list[tuple[Problem, tuple[str, ...]]], tuple[str, ...]]:
    """Each model as :func:`~fairtwin.twin.generic.arrange` makes it (decision variables first,
    the guard's columns found), and the decision columns: the first model's, which every other
    model must have, and no more."""
    converted, decision_cols = [], None
    for model, label in zip(models, labels, strict=True):
        problem, cols, rows = _read_linopy(model, label)
        if decision_cols is None:
            decision_cols = _columns(decision, cols)
        else:
            _no_extra_decision(_columns(decision, cols), decision_cols, label)
        guard_cols = _columns(guard, cols) if guard else ()
        converted.append(arrange(problem, cols, rows, decision_cols, guard_cols, where=label))
    assert decision_cols is not None
    return converted, decision_cols


def write_twin_folder(
    models: Sequence[Any],
    out: str | os.PathLike[str],
    decision: Sequence[str],
    *,
    name: str,
    ids: Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
    features: Mapping[str, Sequence[float]] | None = None,
    dates: Sequence[date | None] | None = None,
    categories: Sequence[str] | None = None,
    outcomes: Outcomes = None,
    outcome_rows: Sequence[Sequence[Any]] = (),
    units: Mapping[str, str] | None = None,
    guard: Sequence[str] = (),
    settings: Mapping[str, Any] | None = None,
    resolve: Mapping[str, Any] | None = None,
) -> Path:
    """Save linopy models as a twin folder (:mod:`fairtwin.folder`): ``models/<id>.mps`` with
    linopy's writer (quietly), ``contexts.csv``, ``outcomes.csv`` (rows ``group, name,
    variable, coefficient, unit, context``) and ``twin.toml``. ``decision``, ``guard``, ``ids``,
    ``outcomes`` and ``outcome_rows`` are those of :func:`twin_from_linopy` (``decision`` and
    ``guard`` become twin.toml's prefixes: ``"dose"`` → ``"dose("``); ``settings`` are more
    top-level keys of ``twin.toml``, ``resolve`` its ``[resolve]`` table (the re-solve settings
    the twin runs with unless the user sets them, e.g. ``{"mode": "guard"}``)."""
    _linopy()
    out = Path(out)
    (out / "models").mkdir(parents=True, exist_ok=True)
    n = len(models)
    ids = _ids(ids, n)
    for model, cid in zip(models, ids, strict=True):
        _write(model, out / "models" / f"{cid}.mps")
    cols = tuple(normalise_name(c) for c in read_model_file(out / "models" / f"{ids[0]}.mps")[1])
    decision = _prefixes(decision, cols)
    guard = _prefixes(guard, cols)
    _outcome_rows(None, outcome_rows, ids)  # each row well formed (written as given)
    outcome_rows = [*_outcome_rows(outcomes, (), ids), *outcome_rows]
    _write_contexts(out / "contexts.csv", ids, labels, dates, categories, dict(features or {}))
    if outcome_rows:
        with open(out / "outcomes.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["group", "name", "variable", "coefficient", "unit", "context"])
            w.writerows(outcome_rows)
    (out / "twin.toml").write_text(_twin_toml(name, decision, guard, settings, units, resolve))
    return out


def _write_contexts(path: Path, ids: list[str], labels: Sequence[str] | None,
                    dates: Sequence[date | None] | None, categories: Sequence[str] | None,
                    feats: dict[str, Sequence[float]]) -> None:
    """contexts.csv: id, label, date, category and the features of each context."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "label", "date", "category", *feats])
        for k, cid in enumerate(ids):
            w.writerow([cid, labels[k] if labels else cid, str(dates[k] or "") if dates else "",
                        categories[k] if categories else "",
                        *[f"{float(v[k]):.12g}" for v in feats.values()]])


def _twin_toml(name: str, decision: list[str], guard: list[str],
               settings: Mapping[str, Any] | None, units: Mapping[str, str] | None,
               resolve: Mapping[str, Any] | None) -> str:
    """The text of twin.toml: name, decision and guard prefixes, more settings, ``[units]``
    and ``[resolve]``."""
    lines = [f'name = "{name}"', "decision = [" + ", ".join(f'"{d}"' for d in decision) + "]"]
    if guard:
        lines.append("guard = [" + ", ".join(f'"{g}"' for g in guard) + "]")
    for key, value in (settings or {}).items():
        lines.append(f"{key} = {_toml(value)}")
    if units:
        lines.append("[units]")
        lines += [f'{g} = "{u}"' for g, u in units.items()]
    if resolve:
        lines.append("[resolve]")
        lines += [f"{k} = {_toml(v)}" for k, v in resolve.items()]
    return "\n".join(lines) + "\n"


def _prefixes(names: Sequence[str], cols: Sequence[str]) -> list[str]:
    """twin.toml's decision (or guard) prefixes of linopy variable or column names: a variable
    with coordinates ``"dose"`` → ``"dose("``; a column, or a prefix ending in ``(``, as it is."""
    _columns(names, cols)  # each names a variable or a column (else one clear line)
    return [n if n.endswith("(") or n in cols else f"{n}(" for n in names]


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, Mapping):  # an inline table
        return "{" + ", ".join(f"{_toml(str(k))} = {_toml(v)}" for k, v in value.items()) + "}"
    return '"' + str(value).replace('"', '\\"') + '"'
