"""A user's own twin: any family of MILPs over shared, named decision variables.

:class:`GenericTwin` implements :class:`~fairtwin.twin.base.Twin` from

- a *model source*: a picklable callable ``source(context) -> (Problem, column names)`` giving
  each context's problem with its decision columns first (the folder reader,
  :mod:`fairtwin.folder`, reads MPS/LP files with HiGHS; the linopy door converts models);
- the decision variables' names (the same in every context);
- outcome definitions (:class:`OutcomeDefinition`): named linear expressions over decision
  variables, in groups with units, for every context or for one;
- optionally a guarded quantity (columns by name prefix), a price unit, context categories;
- a *completer*: ``completer(problem, u) -> x or None`` filling the other variables at their
  cheapest given the decision (a MILP with the decision fixed; ``None`` when no completion is
  feasible). It is injected so that this package imports no solver.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fairtwin.exceptions import ValidationError
from fairtwin.twin.base import Twin, TwinContext
from fairtwin.twin.outcomes import Outcomes, is_level
from fairtwin.twin.problem import FeasibilityReport, Layout, Problem, Violation

__all__ = ["OutcomeTerm", "OutcomeDefinition", "GenericTwin", "arrange", "default_outcomes",
           "split_name", "row_group", "normalise_name"]


def normalise_name(name: str) -> str:
    """A column or row name without linopy's ``#<label>`` suffix (``dose(north)#0`` → ``dose(north)``)."""
    head, sep, tail = name.rpartition("#")
    return head if sep and head and tail.isdigit() else name


def split_name(name: str) -> tuple[str, str]:
    """``"dose[3]"`` → ``("dose", "3")``; ``"dose_3"`` → ``("dose", "3")``; else ``(name, name)``."""
    name = normalise_name(name)
    for open_, close in (("[", "]"), ("(", ")")):
        if open_ in name and name.endswith(close):
            head, _, rest = name.partition(open_)
            return head, rest[:-1]
    if "_" in name:
        head, _, rest = name.partition("_")
        return head, rest
    return name, name


@dataclass(frozen=True)
class OutcomeTerm:
    """One term ``coefficient × variable`` (``variable = ""``: a constant) of a named outcome."""

    group: str
    name: str
    variable: str
    coefficient: float
    context: str = ""  # "" = every context, else the id of the only context it applies to
    unit: str = ""
    where: str = ""  # where it was defined (file, line), for messages


@dataclass(frozen=True)
class OutcomeDefinition:
    """Outcomes as linear expressions over decision variable names.

    The outcomes of a context are those defined for every context followed by that context's
    own, in order of first definition; terms of the same outcome add up.
    """

    terms: tuple[OutcomeTerm, ...]
    units: dict[str, str] = field(default_factory=dict)
    #: groups compared within (see :attr:`Outcomes.compared`); None: every group of 2 or more
    #: but level groups (:data:`~fairtwin.twin.outcomes.LEVEL_MARK`)
    compared: tuple[str, ...] | None = None
    #: groups the learner weighs only when the answers call for them (:attr:`Outcomes.extra`)
    extra: tuple[str, ...] = ()
    #: member weights by group and member name: the group is compared against its weighted
    #: mean (:attr:`Outcomes.weights`; a twin folder's ``compared_by``)
    weights: dict[str, dict[str, float]] = field(default_factory=dict)

    def check(self, decision_names: Sequence[str], context_ids: Sequence[str] | None = None) -> None:
        """Every variable an outcome names must be a decision variable, and every context it
        names (when ``context_ids`` are given) a context: the first problem raises."""
        found = self.problems(decision_names, context_ids, first=True)
        if found:
            raise ValidationError(found[0])

    def problems(self, decision_names: Sequence[str], context_ids: Sequence[str] | None = None,
                 first: bool = False) -> list[str]:
        """What :meth:`check` finds, every problem (one line each; only the first with
        ``first``)."""
        known = set(decision_names)
        ids = None if context_ids is None else set(context_ids)
        found: list[str] = []
        for t in self.terms:
            where = f"{t.where}: " if t.where else ""
            if ids is not None and t.context and t.context not in ids:
                shown = ", ".join(map(repr, list(context_ids or ())[:10]))
                more = f" ... ({len(ids)} in all)" if len(ids) > 10 else ""
                found.append(
                    f"{where}outcome {t.group}/{t.name} is given for context {t.context!r}, "
                    f"which is not a context id; allowed: {shown}{more}, or '' for every context")
            if t.variable and t.variable not in known:
                found.append(
                    f"{where}outcome {t.group}/{t.name} names {t.variable!r}, which is not a "
                    f"decision variable (outcomes must be affine in the decision)")
            if first and found:
                break
        return found

    @cached_property
    def _by_context(self) -> dict[str, list[OutcomeTerm]]:
        """The terms of each context id ("" for every context), in order (built once)."""
        out: dict[str, list[OutcomeTerm]] = {"": []}
        for t in self.terms:
            out.setdefault(t.context, []).append(t)
        return out

    def build(self, context_id: str, decision_names: Sequence[str]) -> Outcomes:
        index = {n: j for j, n in enumerate(decision_names)}
        order: OrderedDict[tuple[str, str], int] = OrderedDict()
        picked = self._by_context[""] + self._by_context.get(context_id, [])
        for t in picked:
            order.setdefault((t.group, t.name), len(order))
        M = np.zeros((len(order), len(decision_names)))
        b = np.zeros(len(order))
        units = dict(self.units)
        for t in picked:
            k = order[(t.group, t.name)]
            if t.variable:
                M[k, index[t.variable]] += t.coefficient
            else:
                b[k] += t.coefficient
            if t.unit:
                units.setdefault(t.group, t.unit)
        keys = list(order)
        groups = tuple(k[0] for k in keys)
        compared = self.compared if self.compared is not None else tuple(
            g for g in dict.fromkeys(groups) if groups.count(g) > 1 and not is_level(g))
        compared = (*compared, *(g for g in self.weights if g not in compared))
        return Outcomes(M, b, tuple(k[1] for k in keys), groups,
                        {g: units.get(g, "") for g in dict.fromkeys(groups)},
                        tuple(g for g in compared if g in groups),
                        tuple(g for g in self.extra if g in groups),
                        self._member_weights(keys))

    def _member_weights(self, keys: list[tuple[str, str]]) -> dict[str, NDArray[np.float64]]:
        """The :attr:`weights` of the groups among ``keys`` (group, member), in their order; a
        member without a weight raises, naming it."""
        out = {}
        for g, by_name in self.weights.items():
            members = [name for group, name in keys if group == g]
            missing = [m for m in members if m not in by_name]
            if missing:
                raise ValidationError(f"member(s) {missing[:5]} of outcome group {g!r} have no "
                                      f"weight; weighted: {sorted(by_name)[:10]}")
            if members:
                out[g] = np.array([by_name[m] for m in members], dtype=np.float64)
        return out


def default_outcomes(decision_names: Sequence[str], unit: str = "") -> OutcomeDefinition:
    """Every decision variable is an outcome, grouped by its name's stem (``dose[3]`` → group
    ``dose``, outcome ``3``)."""
    terms = []
    for n in decision_names:
        g, short = split_name(n)
        terms.append(OutcomeTerm(g, short, n, 1.0, unit=unit))
    return OutcomeDefinition(tuple(terms))


def row_group(name: str) -> str:
    """The constraint group of a row name: its stem (``capacity[3]``, ``capacity_3`` and
    ``capacity3`` are all in ``capacity``)."""
    stem = split_name(name)[0].rstrip("0123456789") or name
    return stem


def arrange(
    problem: Problem,
    columns: Sequence[str],
    rows: Sequence[str],
    decision: Sequence[str],
    guard: Sequence[str] = (),
    where: str = "",
) -> tuple[Problem, tuple[str, ...]]:
    """A read model in the form :class:`GenericTwin` needs.

    Columns are reordered: the ``decision`` variables (by name, in that order) first, then the
    columns whose name starts with one of the ``guard`` prefixes (block ``guard``), then the
    rest (block ``other``); rows are grouped by :func:`row_group` (contiguous, first-seen order)
    so that feasibility reports and infeasibility diagnoses name a group.
    """
    index = {c: j for j, c in enumerate(columns)}
    missing = [d for d in decision if d not in index]
    if missing:
        raise ValidationError(f"{where or problem.name}: decision variable {missing[0]!r} is not in "
                              f"the model ({len(missing)} of {len(decision)} missing)")
    dec = [index[d] for d in decision]
    taken = set(dec)
    guarded = [j for j, c in enumerate(columns) if j not in taken and any(c.startswith(g) for g in guard)]
    if guard and not guarded:
        raise ValidationError(f"{where or problem.name}: no column starts with the guard prefix "
                              f"{', '.join(map(repr, guard))}")
    taken |= set(guarded)
    rest = [j for j in range(len(columns)) if j not in taken]
    order = np.array(dec + guarded + rest, dtype=np.int64)
    groups: OrderedDict[str, list[int]] = OrderedDict()
    for i, r in enumerate(rows):
        groups.setdefault(row_group(r), []).append(i)
    row_order = np.array([i for g in groups.values() for i in g], dtype=np.int64)
    blocks = {"decision": slice(0, len(dec))}
    if guarded:
        blocks["guard"] = slice(len(dec), len(dec) + len(guarded))
    if rest:
        blocks["other"] = slice(len(dec) + len(guarded), len(columns))
    cons, k = {}, 0
    for g, members in groups.items():
        cons[g] = slice(k, k + len(members))
        k += len(members)
    A = problem.A[row_order][:, order] if len(rows) else problem.A[:, order]
    arranged = Problem(
        name=problem.name, c=problem.c[order], A=A,
        row_lower=problem.row_lower[row_order], row_upper=problem.row_upper[row_order],
        lower=problem.lower[order], upper=problem.upper[order],
        integrality=problem.integrality[order], layout=Layout(blocks, cons),
        decision_index=np.arange(len(dec)), offset=problem.offset,
    )
    return arranged, tuple(columns[j] for j in order)


ModelSource = Callable[[TwinContext], tuple[Problem, Sequence[str]]]
Completer = Callable[[Problem, NDArray[np.float64]], "NDArray[np.float64] | None"]


class GenericTwin(Twin):
    """A twin from per-context problems over shared decision variables (module docstring).

    Parameters
    ----------
    name : str
    contexts : sequence of TwinContext
    source : callable ``source(context) -> (Problem, column names)``
        Each context's problem, decision columns first (``decision_index = arange(d)``).
    decision_names : sequence of str
    outcomes : OutcomeDefinition, optional
        Default: every decision variable (:func:`default_outcomes`).
    completer : callable ``completer(problem, u) -> x or None``, optional
        Needed when the problems have variables besides the decision.
    guard_name, price_unit_name : str
        What the guarded quantity (the problems' ``guard`` column block, see :func:`arrange`)
        and the price unit are called.
    price_unit : float
        Nominal cost of one unit of price (``ΔJ`` is reported in it).
    categories : sequence of str, optional
        The kinds of context, in report order (each context's is ``context.data["category"]``).
    default_oracle : str
        The notion of fairness simulated raters use unless told otherwise.
    default_resolve : mapping, optional
        Re-solve settings the twin runs with unless the user sets them
        (:attr:`Twin.default_resolve`, e.g. ``{"mode": "guard"}``).
    """

    def __init__(
        self,
        name: str,
        contexts: Sequence[TwinContext],
        source: ModelSource,
        decision_names: Sequence[str],
        outcomes: OutcomeDefinition | None = None,
        completer: Completer | None = None,
        guard_name: str = "guarded quantity",
        price_unit: float = 1.0,
        price_unit_name: str = "cost units",
        categories: Sequence[str] | None = None,
        default_oracle: str = "gini",
        default_resolve: Mapping[str, Any] | None = None,
    ) -> None:
        if not decision_names:
            raise ValidationError(f"twin {name!r} has no decision variables")
        if not price_unit > 0:
            raise ValidationError(f"price_unit must be positive, got {price_unit}")
        self.name = name
        self.contexts = tuple(contexts)
        self._source = source
        self._decision_names = tuple(decision_names)
        self.outcome_definition = outcomes or default_outcomes(self._decision_names)
        self.outcome_definition.check(self._decision_names,
                                      [str(c.data.get("id", c.label)) for c in self.contexts])
        self._completer = completer
        self.guard_name = guard_name
        self._price_unit = float(price_unit)
        self.price_unit_name = price_unit_name
        self.default_oracle = default_oracle
        self.default_resolve = dict(default_resolve or {})
        cats = list(categories or [])
        for c in self.contexts:
            cat = str(c.data.get("category", "") or "all")
            if cat not in cats:
                cats.append(cat)
        self._categories = tuple(cats) or ("all",)
        self._problems: dict[int, tuple[Problem, tuple[str, ...]]] = {}
        self._outcomes: dict[int, Outcomes] = {}
        self._completions: OrderedDict[tuple[int, bytes], NDArray[np.float64] | None] = OrderedDict()

    def __getstate__(self) -> dict[str, Any]:
        """What a worker gets: the caches stay behind, and every context's outcomes travel
        compiled instead of the outcome terms (given per context, as an exported ICU twin's
        are, they are 10^6 objects: 1-2 s to pickle and unpickle for every task)."""
        for c in self.contexts:
            self.outcomes(c)
        state = dict(self.__dict__)
        state["outcome_definition"] = None
        state["_outcomes"] = dict(self._outcomes)
        state["_problems"] = {}
        state["_moves"] = {}
        state["_completions"] = OrderedDict()
        return state

    # ------------------------------------------------------------------ the interface
    @property
    def decision_names(self) -> tuple[str, ...]:
        return self._decision_names

    @property
    def price_unit(self) -> float:
        return self._price_unit

    @property
    def categories(self) -> tuple[str, ...]:
        return self._categories

    def category(self, context: TwinContext) -> str:
        return str(context.data.get("category", "") or "all")

    def problem_and_columns(self, context: TwinContext) -> tuple[Problem, tuple[str, ...]]:
        key = int(context.index)
        if key not in self._problems:
            problem, cols = self._source(context)
            cols = tuple(cols)
            d = self.n_decision
            if cols[:d] != self._decision_names:
                first = next((k for k in range(min(d, len(cols))) if cols[k] != self._decision_names[k]),
                             min(d, len(cols)))
                got = cols[first] if first < len(cols) else "(none)"
                raise ValidationError(
                    f"{context.label}: its decision variables differ from the twin's: column "
                    f"{first} is {got!r}, expected {self._decision_names[first]!r}"
                )
            if not np.array_equal(problem.decision_index, np.arange(d)):
                raise ValidationError(f"{context.label}: the decision columns must come first")
            self._problems[key] = (problem, cols)
        return self._problems[key]

    def build(self, context: TwinContext) -> Problem:
        return self.problem_and_columns(context)[0]

    def columns(self, context: TwinContext) -> tuple[str, ...]:
        """Names of all the context's columns (decision first)."""
        return self.problem_and_columns(context)[1]

    def _completion(self, u: NDArray[np.float64], context: TwinContext) -> NDArray[np.float64] | None:
        problem = self.build(context)
        if problem.n_vars == self.n_decision:
            return u.copy()
        key = (int(context.index), u.tobytes())
        if key in self._completions:
            self._completions.move_to_end(key)
            return self._completions[key]
        if self._completer is None:
            raise ValidationError(
                f"twin {self.name!r} has variables besides the decision but no completer"
            )
        x = self._completer(problem, u)
        self._completions[key] = x
        if len(self._completions) > 4096:
            self._completions.popitem(last=False)
        return x

    def complete(self, u: ArrayLike, context: TwinContext) -> NDArray[np.float64]:
        u = self.decision(u)
        x = self._completion(u, context)
        if x is None:
            raise ValidationError(
                f"{context.label}: no feasible values of the other variables for this decision"
            )
        return x

    def check(self, u: ArrayLike, context: TwinContext, tol: float = 1e-6) -> FeasibilityReport:
        u = self.decision(u)
        problem = self.build(context)
        x = self._completion(u, context)
        if x is None:
            full = np.r_[u, np.clip(np.zeros(problem.n_vars - u.size), problem.lower[u.size:],
                                    problem.upper[u.size:])]
            report = problem.check(full, tol=tol)
            found = report.violations or (Violation("completion", 1, float("inf")),)
            return FeasibilityReport(tuple(found), tol)
        return problem.check(x, tol=tol)

    def outcomes(self, context: TwinContext) -> Outcomes:
        key = int(context.index)
        if key not in self._outcomes:
            if self.outcome_definition is None:  # a worker's copy knows its contexts' only
                raise ValidationError(f"{context.label} is not a context of twin {self.name!r}")
            self._outcomes[key] = self.outcome_definition.build(
                str(context.data.get("id", context.label)), self._decision_names)
        return self._outcomes[key]

    def guard_row(self, problem: Problem) -> NDArray[np.float64] | None:
        """The columns of the ``guard`` block (see :func:`arrange`), if the twin has one."""
        block = problem.layout.variables.get("guard")
        if block is None:
            return None
        row = np.zeros(problem.n_vars)
        row[block] = 1.0
        return row

    def decision_totals(self, u: ArrayLike) -> dict[str, float]:
        u = self.decision(u)
        totals: dict[str, float] = {}
        for n, v in zip(self._decision_names, u, strict=True):
            g = split_name(n)[0]
            totals[g] = totals.get(g, 0.0) + float(v)
        return totals
