"""The twin interface: what every stage of fairtwin needs to know about an optimisation model.

A twin is a family of (mixed-integer) linear problems, one per *context* (a week, a day, a
situation), that share their *decision* variables. fairtwin asks only this of it:

- :meth:`Twin.build`: the solver-neutral :class:`~fairtwin.twin.problem.Problem` of a context
  (its ``decision_index`` names the decision columns ``u``);
- :meth:`Twin.complete`: the full variable vector of a decision (the other variables at their
  cheapest feasible values), from which the nominal cost :meth:`Twin.nominal_cost` and the
  feasibility check :meth:`Twin.check` follow;
- :meth:`Twin.outcomes`: the named outcomes, affine in ``u``, that people look at when they
  judge (what the learner, the raters, the rating page and the plots use);
- optionally a *guarded* quantity (:meth:`Twin.guard_row`), e.g. patients without a bed, that a
  fairer decision must not raise above the nominal decision's; a price unit to express cost
  differences in (:attr:`Twin.price_unit`); week categories; the twin's own notions of fairness
  for simulated raters; and how the sampler aims at diverse decisions.

A context is any object with ``index`` (its position), ``label``, ``start`` (a date or ``None``)
and ``features()`` (a numeric vector); :class:`TwinContext` is the plain one. The built-in ICU
twin (the package :mod:`fairtwin.twin.icu`) and the folder/linopy twin
(:class:`~fairtwin.twin.generic.GenericTwin`) implement this class; nothing downstream knows
more than it, and nothing here knows the ICU twin. This module imports no solver.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from fairtwin.exceptions import ValidationError
from fairtwin.twin.outcomes import Outcomes, is_level
from fairtwin.twin.presentation import MembersView
from fairtwin.twin.problem import FeasibilityReport, Layout, Problem

__all__ = ["ContextLike", "TwinContext", "Twin", "FairnessOracle", "DecisionReport", "REQUIRED",
           "CAPABILITIES", "missing_required"]

#: what every twin implements (abstract in :class:`Twin`)
REQUIRED: tuple[str, ...] = ("decision_names", "build", "complete", "outcomes")

#: the optional capabilities of a twin, each with the members that provide it; :class:`Twin`
#: has a generic default for each, a twin that overrides one of them has the capability
#: (:meth:`Twin.capabilities`)
CAPABILITIES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "guard": ("guard_row",),
    "categories": ("categories", "category"),
    "presentation": ("decision_totals", "report", "describe", "plot_decisions", "members_view"),
    "sampler targets": ("lure_scale", "targeted_problem"),
    "oracle-bound moves": ("neighbours", "moves", "move_steps"),
    "notions": ("oracles",),
    "folder hooks": ("folder_hooks",),
    "settings": ("settings",),
})


def missing_required(obj: Any) -> list[str]:
    """The members of :data:`REQUIRED` that ``obj`` (a twin, or its class) lacks or leaves
    abstract: what :func:`fairtwin.check.check_twin` reports of an incomplete twin."""
    cls = obj if isinstance(obj, type) else type(obj)
    abstract: frozenset[str] = getattr(cls, "__abstractmethods__", frozenset())
    return [n for n in REQUIRED if n in abstract or not hasattr(cls, n)]


@runtime_checkable
class ContextLike(Protocol):
    """What fairtwin reads of a context."""

    index: int
    label: str
    start: date | None

    def features(self) -> NDArray[np.float64]: ...


@dataclass(frozen=True, eq=False)
class TwinContext:
    """A context of a user's twin: its position, label, optional date and numeric features.

    Attributes
    ----------
    index : int
    label : str
    feature_values : ndarray of shape (n_features,)
    start : date, optional
    data : dict
        Anything else the twin keeps about the context (e.g. its model file).
    """

    index: int
    label: str
    feature_values: NDArray[np.float64]
    start: date | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        v = np.asarray(self.feature_values, dtype=np.float64).reshape(-1)
        if not np.all(np.isfinite(v)):
            raise ValidationError(f"{self.label}: features contain NaN or inf")
        object.__setattr__(self, "feature_values", v)

    def features(self) -> NDArray[np.float64]:
        return self.feature_values.copy()


@dataclass(frozen=True)
class DecisionReport:
    """A twin's own account of one decision in a context (what ``fairtwin solve`` shows).

    Attributes
    ----------
    data : dict
        JSON-ready facts (the CLI adds the scenario and the solver's).
    lines : tuple of str
        The same as a text table, line by line.
    """

    data: dict[str, Any]
    lines: tuple[str, ...]


class Twin(ABC):
    """A family of MILPs over shared decision variables (see the module docstring).

    **Required** — what every twin implements:

    - :attr:`decision_names` (the decision vector ``u``), :meth:`build` (a context's
      :class:`~fairtwin.twin.problem.Problem`), :meth:`complete` (the full variable vector of a
      decision) and :meth:`outcomes` (the named outcomes people judge by).

    **Data** — class attributes with defaults: :attr:`name`, :attr:`price_unit` and
    :attr:`price_unit_name` (the unit prices are reported in), :attr:`guard_name`,
    :attr:`default_oracle`, :attr:`default_resolve`.

    **Optional capabilities** — generic defaults a twin may override:

    - a guarded quantity the re-solve must not raise: :meth:`guard_row` (none by default);
    - how results are broken down and shown: :attr:`categories` / :meth:`category`,
      :meth:`decision_totals`, :meth:`report`, :meth:`describe`, :meth:`plot_decisions`,
      :meth:`members_view` (the rating page's per-member view,
      :class:`~fairtwin.twin.presentation.MembersView`);
    - the sampler's aimed decisions: :meth:`lure_scale`, :meth:`targeted_problem`;
    - the oracle bound's local moves: :meth:`neighbours`, :meth:`moves`, :meth:`move_steps`;
    - the twin's own notions of fairness: :meth:`oracles`; files an exported folder needs:
      :meth:`folder_hooks`; its own settings, as a run's ``[twin]`` table records them:
      :meth:`settings`.

    The same in code: :data:`REQUIRED`, :data:`CAPABILITIES` (the groups above, by name) and
    :meth:`capabilities` (those a twin has). :func:`fairtwin.check.check_twin` (``fairtwin
    check-twin``) exercises a twin on a few contexts, reports every problem at once (a missing
    required member among them) and lists the twin's capabilities.
    """

    name: str = "twin"
    #: what one unit of :attr:`price_unit` is called in reports
    price_unit_name: str = "cost units"
    #: the name of the guarded quantity (see :meth:`guard_row`)
    guard_name: str = "guarded quantity"
    #: the notion of fairness simulated raters use unless told otherwise
    default_oracle: str = "gini"
    #: re-solve settings this twin runs with unless the user sets them (names and values of
    #: :class:`~fairtwin.resolve.ResolveConfig`, e.g. ``{"mode": "guard"}``); empty: the defaults
    default_resolve: Mapping[str, Any] = MappingProxyType({})

    @property
    @abstractmethod
    def decision_names(self) -> tuple[str, ...]:
        """Names of the decision variables, in the order of ``u``."""

    @property
    def n_decision(self) -> int:
        return len(self.decision_names)

    @property
    def price_unit(self) -> float:
        """Nominal cost of one unit in which price differences ``ΔJ`` are reported (1 here)."""
        return 1.0

    @abstractmethod
    def build(self, context: Any) -> Problem:
        """The context's problem; ``problem.decision_index`` are the columns of ``u``."""

    @abstractmethod
    def complete(self, u: ArrayLike, context: Any) -> NDArray[np.float64]:
        """The full variable vector of decision ``u`` (the other variables at their cheapest)."""

    @abstractmethod
    def outcomes(self, context: Any) -> Outcomes:
        """The named outcomes of the context's decisions."""

    def capabilities(self) -> tuple[str, ...]:
        """The optional capabilities (:data:`CAPABILITIES`) this twin's class provides: those
        one of whose members it overrides. A twin whose data decide (a folder's guard or
        categories) declares them all the same; ``check_twin`` says which its contexts use."""
        cls = type(self)
        return tuple(name for name, members in CAPABILITIES.items()
                     if any(hasattr(cls, m) and hasattr(Twin, m) and inspect.getattr_static(cls, m)
                            is not inspect.getattr_static(Twin, m) for m in members))

    # ------------------------------------------------------------------ generic defaults
    def decision(self, u: ArrayLike) -> NDArray[np.float64]:
        """``u`` as a float vector of the right shape; a clear error otherwise."""
        arr = np.asarray(u, dtype=np.float64)
        if arr.ndim != 1 or arr.shape[0] != self.n_decision:
            raise ValidationError(f"a decision must have shape ({self.n_decision},), got {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValidationError("the decision contains NaN or inf")
        return arr

    def check(self, u: ArrayLike, context: Any, tol: float = 1e-6) -> FeasibilityReport:
        """Feasibility of a decision in a context, per constraint group."""
        return self.build(context).check(self.complete(u, context), tol=tol)

    def nominal_cost(self, u: ArrayLike, context: Any) -> float:
        """``J(u)``: the nominal objective of the completed decision."""
        return self.build(context).objective(self.complete(u, context))

    def guard_row(self, problem: Problem) -> NDArray[np.float64] | None:
        """Coefficients over the problem's columns of the guarded quantity, or ``None``.

        The guard and select re-solve modes keep it at most at the nominal decision's value.
        """
        return None

    def guarded(self, u: ArrayLike, context: Any) -> float:
        """Value of the guarded quantity for decision ``u`` (0 without a guard)."""
        problem = self.build(context)
        row = self.guard_row(problem)
        return 0.0 if row is None else float(row @ self.complete(u, context))

    @property
    def categories(self) -> tuple[str, ...]:
        """The kinds of context results are broken down by."""
        return ("all",)

    def category(self, context: Any) -> str:
        """The kind of a context (one of :attr:`categories`)."""
        return "all"

    def decision_totals(self, u: ArrayLike) -> dict[str, float]:
        """Sum of the decision per variable block of the layout (e.g. beds, transfers)."""
        return {"decision": float(np.sum(self.decision(u)))}

    def oracles(self) -> dict[str, Any]:
        """The twin's own notions of fairness for simulated raters: name → class taking the
        twin (generic notions over outcome groups are added by :mod:`fairtwin.oracles`)."""
        return {}

    def lure_scale(self, problem: Problem, weight: float) -> float:
        """How much cheaper the sampler may make a random decision variable (perturbed-cost
        samples): half the median nonzero nominal cost of the decision columns."""
        c = np.abs(problem.c[problem.decision_index])
        c = c[c > 0]
        return 0.5 * float(np.median(c)) if c.size else 1.0

    def targeted_problem(self, context: Any, problem: Problem, nominal: NDArray[np.float64],
                         rng: np.random.Generator, weight: float) -> Problem:
        """A problem aimed at a random fairer-looking decision (the sampler's targeted half).

        Generic: one outcome group of two or more members at random (not a level group,
        :data:`~fairtwin.twin.outcomes.LEVEL_MARK`: its mean is no target); each of its
        outcomes is aimed at a random point between its nominal value and the group's mean,
        ``t_i = φ_i + α_i (φ̄ − φ_i)``; the
        objective is ``weight · Σ_i |φ_i(u) − t_i| / s`` (``s`` the group's spread at the nominal
        decision) plus 1 % of the nominal cost, relative to the nominal decision's.
        """
        out = self.outcomes(context)
        groups = [g for g in out.group_names
                  if sum(x == g for x in out.groups) > 1 and not is_level(g)]
        if not groups:
            groups = list(out.group_names)
        g = groups[int(rng.integers(len(groups)))]
        sel = np.array([x == g for x in out.groups])
        M, b = out.matrix[sel], out.offset[sel]
        phi = M @ nominal + b
        alpha = rng.uniform(0.0, 1.0, size=phi.size) ** rng.uniform(0.3, 1.5)
        targets = phi + alpha * (phi.mean() - phi)
        spread = float(np.std(phi)) or float(np.abs(phi).max(initial=0.0)) or 1.0
        x_nom = self.complete(nominal, context)
        j_nom = max(abs(problem.objective(x_nom)), 1e-9)
        dec = problem.decision_index
        to_columns = sp.csr_matrix((np.ones(dec.size), (np.arange(dec.size), dec)),
                                   shape=(dec.size, problem.n_vars))
        return deviation_problem(problem, sp.csr_matrix(M) @ to_columns, targets - b,
                                 weight / spread, 0.01 / j_nom)

    def neighbours(self, u: NDArray[np.float64], context: Any) -> NDArray[np.float64]:
        """Feasible single-step neighbours of a decision: :meth:`moves`, each kept when the
        completed decision is feasible (unless the moves are known feasible)."""
        cand, checked = self.moves(u, context)
        if checked:
            return cand
        return cand[[k for k, v in enumerate(cand) if self.check(v, context).feasible]]

    def moves(self, u: NDArray[np.float64], context: Any) -> tuple[NDArray[np.float64], bool]:
        """Single-step moves from ``u`` (the oracle bound's local search) and whether they are
        known feasible; twins with a faster feasibility test override it (the ICU twin does).

        Generic: one unit (of each integer variable; 5 % of its range for a continuous one)
        more or less of one decision variable, and for up to 64 decision variables one unit
        moved between two of them; moves that leave the variable bounds or break a row that
        involves only decision variables are dropped, the rest still need a check.
        """
        cache = self.__dict__.setdefault("_moves", {})
        key = int(getattr(context, "index", id(context)))
        if key not in cache:
            cache[key] = _move_data(self.build(context))
        steps, lo, hi, A_only, row_lo, row_hi, exact = cache[key]
        cand = u[None, :] + steps
        cand = cand[np.all((cand >= lo - 1e-9) & (cand <= hi + 1e-9), axis=1)]
        if A_only is not None:
            act = (A_only @ cand.T).T
            tol = 1e-6 * np.maximum(1.0, np.abs(act))
            cand = cand[np.all((act >= row_lo - tol) & (act <= row_hi + tol), axis=1)]
        return cand, exact

    def move_steps(self, u: NDArray[np.float64], context: Any) -> tuple[sp.csr_matrix, bool]:
        """:meth:`moves` as sparse steps (``moves = u + steps``), shape (n_moves, n_decision),
        and whether they are known feasible: what the oracle bound's local search uses, so
        that a large twin never forms its dense neighbour matrix (the ICU twin overrides it)."""
        cand, checked = self.moves(u, context)
        return sp.csr_matrix(cand - u[None, :]), checked

    def plot_decisions(self, oracle: FairnessOracle, context: Any,
                       decisions: Mapping[str, NDArray[np.float64]], out_dir: Any) -> Any:
        """The twin's own figure of a context's decisions (label → decision), judged by
        ``oracle``, written into ``out_dir``; its path, or ``None`` (the default) for the
        generic figure of the named outcomes. The ICU twin draws its regional loads."""
        return None

    def members_view(self, context: Any, u_a: ArrayLike, u_b: ArrayLike) -> MembersView | None:
        """Two decisions member by member (quantities before and after each, moves between
        members, totals, the situation) for the rating page; ``None`` (the default): the page
        shows the named outcomes side by side."""
        return None

    def settings(self) -> dict[str, Any]:
        """The twin's own settings as the ``[twin]`` table of a run's ``config.toml`` records
        them (:class:`~fairtwin.pipeline.ExperimentConfig`); ``{}`` (the default): none."""
        return {}

    def folder_hooks(self, out: Any, contexts: Sequence[Any], ids: Sequence[str]) -> dict[str, Any] | None:
        """For a folder export (:func:`fairtwin.folder.export_twin`, contexts ``ids`` written to
        the folder ``out``): write the files this twin's own Python behaviour needs (its sampler
        targets, notions, moves) into ``out`` and return the ``[python]`` table of ``twin.toml``
        that restores it, ``{"twin": "package.module:function", "settings": {...}}``; ``None``
        (the default): the folder's models, contexts and outcomes say everything."""
        return None

    def report(self, u: ArrayLike, context: Any) -> DecisionReport:
        """A decision's variables (:func:`decision_lines`), named outcomes, nominal cost and
        guarded quantity, if the twin has one (twins with a richer presentation override it:
        the ICU twin's is a table per region). No value is ``-0.0``."""
        rows = [(g, n, _plain(v), unit) for g, n, v, unit in self.describe(u, context)]
        J = _plain(self.nominal_cost(u, context))
        values = [_plain(v) for v in self.decision(u)]
        data: dict[str, Any] = {"context": int(context.index), "label": context.label,
                                "nominal_cost": J}
        guarded = None
        if self.guard_row(self.build(context)) is not None:
            guarded = _plain(self.guarded(u, context))
            data[self.guard_name] = guarded
        data["decision"] = dict(zip(self.decision_names, values, strict=True))
        data["outcomes"] = [{"group": g, "name": n, "value": v, "unit": unit}
                            for g, n, v, unit in rows]
        lines = [str(context.label), *decision_lines(self.decision_names, values)]
        width = max((len(n) for _, n, _, _ in rows), default=0) + 2
        group = None
        for g, n, v, unit in rows:
            if g != group:
                lines.append(f"{g} ({unit})" if unit else g)
                group = g
            lines.append(f"  {n:<{width}}{v:>12.4g}")
        held = "" if guarded is None else f"; {self.guard_name}: {guarded:.6g}"
        lines.append(f"nominal cost J = {J:.6g}{held}")
        return DecisionReport(data, tuple(lines))

    def describe(self, u: ArrayLike, context: Any) -> list[tuple[str, str, float, str]]:
        """Rows ``(group, name, value, unit)`` of a decision's outcomes (tables, pages)."""
        out = self.outcomes(context)
        values = out(self.decision(u))[0]
        return [(g, n, float(v), out.units.get(g, "")) for g, n, v in
                zip(out.groups, out.names, values, strict=True)]


def _plain(value: float, tol: float = 1e-9) -> float:
    """A float for people: solver noise below ``tol`` and ``-0.0`` shown as ``0.0``."""
    v = float(value)
    return 0.0 if abs(v) < tol else v


def decision_lines(names: Sequence[str], values: Sequence[float], few: int = 20,
                   shown: int = 40) -> list[str]:
    """A decision as text, a variable a line: all of ``few`` or fewer variables in their order;
    of more, the non-zero ones first (at most ``shown``), then how many are left out and how
    many are 0."""
    nonzero = [k for k, v in enumerate(values) if v != 0.0]
    head = (f"decision ({len(values)} variables, {len(nonzero)} non-zero"
            f"{'' if len(values) <= few else ', the non-zero ones'})")
    picked = list(range(len(values))) if len(values) <= few else nonzero[:shown]
    width = max((len(names[k]) for k in picked), default=0) + 2
    lines = [head] + [f"  {names[k]:<{width}}{values[k]:>12.6g}" for k in picked]
    if len(values) > few:
        more = len(nonzero) - len(picked)
        rest = f"{more} more non-zero and " if more > 0 else ""
        lines.append(f"  ({rest}{len(values) - len(nonzero)} at 0)")
    return lines


def _move_data(problem: Problem) -> tuple[Any, ...]:
    """What :meth:`Twin.moves` needs of a context's problem (computed once per context)."""
    dec = problem.decision_index
    d = dec.size
    lo, hi = problem.lower[dec], problem.upper[dec]
    span = np.where(np.isfinite(hi - lo), hi - lo, 1.0)
    step = np.where(problem.integrality[dec], 1.0, np.maximum(0.05 * span, 1e-6))
    eye = np.diag(step)
    steps = [eye, -eye]
    if d <= 64:
        i, j = np.nonzero(~np.eye(d, dtype=bool))
        m = np.zeros((i.size, d))
        m[np.arange(i.size), i] = step[i]
        m[np.arange(i.size), j] = -step[i]
        steps.append(m)
    A = problem.A.tocsc()
    other = np.setdiff1d(np.arange(problem.n_vars), dec)
    rows_other = np.unique(A[:, other].indices) if other.size else np.zeros(0, dtype=int)
    only = np.setdiff1d(np.arange(problem.n_rows), rows_other)
    A_only = A[only][:, dec].tocsr() if only.size else None
    return (np.concatenate(steps), lo, hi, A_only, problem.row_lower[only], problem.row_upper[only],
            other.size == 0)


def deviation_problem(problem: Problem, rows: sp.spmatrix, rhs: NDArray[np.float64], weight: float,
                      cost_share: float, group: str = "target", label: str = "targeted") -> Problem:
    """``problem`` with deviation columns ``dev_k ≥ |rows_k x − rhs_k|`` (``rows`` over the
    problem's columns; row group ``group``, column block ``deviation``) and the objective
    ``weight · Σ dev + cost_share · c x``."""
    n = problem.n_vars
    rows = sp.csr_matrix(rows)
    k = rows.shape[0]
    eye = sp.identity(k, format="csr")
    block = sp.vstack([sp.hstack([rows, -eye]), sp.hstack([-rows, -eye])], format="csr")
    A = sp.vstack([sp.hstack([problem.A, sp.csr_matrix((problem.n_rows, k))]), block], format="csr")
    layout = Layout({**problem.layout.variables, "deviation": slice(n, n + k)},
                    {**problem.layout.constraints, group: slice(problem.n_rows, problem.n_rows + 2 * k)})
    return Problem(
        name=f"{problem.name} ({label})",
        c=np.r_[cost_share * problem.c, np.full(k, weight)],
        A=A,
        row_lower=np.r_[problem.row_lower, np.full(2 * k, -np.inf)],
        row_upper=np.r_[problem.row_upper, rhs, -rhs],
        lower=np.r_[problem.lower, np.zeros(k)],
        upper=np.r_[problem.upper, np.full(k, np.inf)],
        integrality=np.r_[problem.integrality, np.zeros(k, dtype=bool)],
        layout=layout,
        decision_index=problem.decision_index,
    )


class FairnessOracle(ABC):
    """A latent fairness cost ``R(u, x0)`` of decisions in a context (lower is fairer).

    Parameters
    ----------
    twin : Twin
    """

    name: str = "oracle"

    def __init__(self, twin: Twin) -> None:
        self.twin = twin

    @abstractmethod
    def cost(self, U: ArrayLike, context: Any) -> NDArray[np.float64]:
        """Latent cost of each decision, shape (n_decisions,)."""

    def move_costs(self, u: NDArray[np.float64], steps: sp.csr_matrix,
                   context: Any) -> NDArray[np.float64]:
        """Latent cost of each moved decision ``u + steps[k]``, shape (n_steps,): the oracle
        bound's local search scores all of a decision's single-step moves with it. By default
        the moved decisions are formed in blocks; notions that can follow a sparse step's effect
        (the ICU twin's, through the loads) override it."""
        out = np.empty(steps.shape[0])
        block = max(1, 2**22 // max(u.size, 1))
        for start in range(0, steps.shape[0], block):
            rows = steps[start:start + block]
            out[start:start + rows.shape[0]] = self.cost(u[None, :] + rows.toarray(), context)
        return out

    def __call__(self, U: ArrayLike, context: Any) -> NDArray[np.float64] | float:
        U = np.asarray(U, dtype=np.float64)
        values = self.cost(np.atleast_2d(U), context)
        return float(values[0]) if U.ndim == 1 else values
