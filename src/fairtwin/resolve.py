"""Re-solve the twin with a learned cost.

Given the learned cost ``f`` of a context (a :class:`~fairtwin.costs.QuadraticCost` over the
decision vector) and ``f_scale``, the median preference gap ``|f(a) − f(b)|`` on training
pairs, three modes build the MIQP:

- ``blend`` (default): ``J + λ · (w / f_scale) · f``: a typical preference gap is worth ``λ``
  price units. With ``guard`` (the default) the guarded quantity is also held at most at the
  nominal decision's (row group ``guard``): ``J`` prices it, but ``λ · f`` could otherwise buy
  fairness with it (on the ICU twin's real weeks, patients left without a bed: up to 68 in a
  week at λ = 10).
- ``guard``: the guarded quantity held at its nominal minimum (a new row group ``guard``),
  then ``(w / f_scale) · f`` plus a tiny tie-break ``ε_J · J``.
- ``replace`` (the paper's): ``(w / f_scale) · f + ε_J · J``; the guarded quantity is not in
  the learned decision vector, so it may rise: a warning says by how much.
- ``select``: no solve; among the context's own candidate decisions (the sampler's, nominal
  included), the one with the lowest learned cost whose guarded quantity is not above the
  nominal decision's. It never leaves the decisions the rater's kind of comparison has checked, so it
  is the floor any re-solve must beat on unseen weeks.
- ``budget``: guard mode with the price of select: the guarded quantity held at its nominal
  minimum and the
  nominal cost ``J`` at most that of select's candidate (row group ``cost_budget``), then the
  learned cost. Select's candidate is feasible for it (and the warm start), so the decision is
  never ranked below it by ``f`` and never costs more; if the solve stops at a limit with a
  worse decision, select's candidate is returned.

Here ``w`` is the twin's price unit (:attr:`~fairtwin.twin.base.Twin.price_unit`; for the ICU
twin one patient without a bed) and the guarded quantity is the twin's
(:meth:`~fairtwin.twin.base.Twin.guard_row`; for the ICU twin its patients without a bed); a
twin without one has no guard rows.

The tie-break matters: directions outside the PCA span are otherwise free and stall the solver.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fairtwin.costs import QuadraticCost
from fairtwin.exceptions import SolveLimitError, UnknownNameError, ValidationError
from fairtwin.solvers import SOLVERS, SolveResult, SolverOptions, Status, get_solver
from fairtwin.twin.base import Twin
from fairtwin.twin.problem import Problem, ProblemKind

__all__ = ["ResolveConfig", "Resolved", "MODES", "DEPLOY_RULES", "POSTERIORS", "resolve_context",
           "select_candidate"]

log = logging.getLogger(__name__)

MODES = ("blend", "guard", "replace", "select", "budget")
#: deployment rules (:mod:`fairtwin.deploy`)
DEPLOY_RULES = ("supported", "always")
#: how the deployment rule draws the learned weights (:meth:`OutcomeCostLearner.posterior_draws`)
POSTERIORS = ("bootstrap", "laplace")


@dataclass(frozen=True)
class ResolveConfig:
    """Settings of the re-solve.

    Attributes
    ----------
    mode : {"guard", "budget", "blend", "replace", "select"}
    blend_lambda : float
        ``λ`` of the blend mode, in price units per typical preference gap.
    guard : bool
        In blend mode, hold the twin's guarded quantity at most at the nominal
        decision's. Guard and budget modes always hold it, replace never; the paper's method
        (blend, λ = 3) did not.
    tie_break : float
        ``ε_J``, weight of the nominal cost in guard and replace modes.
    solver : str
        ``auto`` (default): chosen per context from the re-solve's kind — ``highs-oa`` for an
        MIQP (integer decisions), ``highs`` for a convex QP (continuous decisions) and for a
        MILP/LP; or a solver name (``highs-oa``, ``scip``, ``gurobi``, ``highs``), which refuses
        a kind it cannot solve with a message naming one that can.
    time_limit_s : float
        A safety net only (60 s): the node budget is what stops a hard week, so that the same
        seed gives the same decisions on a busy machine too (with 10 s, two re-solves of a
        default run hit the time limit while other jobs shared the 2 cores).
    mip_gap : float
    node_limit : int
        Branch-and-bound nodes per re-solve (for ``highs-oa``, summed over its MILP rounds; 0
        for no limit):
        the few hard weeks stop after the same work on any machine, with their best decision
        (1000: on the default run a third less re-solve time, objectives at most 0.25 % above
        the proven optimum, in 4 of 104 weeks). ``time_limit_s`` stays as a safety net.
    heuristics : bool
        The MIP solver's primal heuristics (see :class:`~fairtwin.solvers.SolverOptions`); off
        by default: the solve starts from the nominal decision, and with ``highs-oa`` the
        re-solves took a third of the time for objectives within the gap
        (``benchmarks/bench_solvers.py --run DIR``).
    deploy : {"supported", "always"}
        ``supported``: the first rung of the ladder — the re-solve, a cautious re-solve, the
        cautious re-solve within the candidates' range (both skipped in ``select`` mode), the
        context's best own candidate — whose posterior probability of being fairer than the
        nominal decision (``p``) reaches ``min_probability`` is deployed; else the nominal
        decision (:mod:`fairtwin.deploy`; nothing when the evidence finds lack of fit, no
        evidence, or proposals the raters rejected; learners without a posterior deploy
        always). ``always``: deploy the re-solve (the paper's method).
    min_probability : float
        The probability ``supported`` requires.
    rivals : bool
        ``supported`` also asks the chosen model's rivals — the rungs of the model ladder whose
        held-out-week accuracy was higher by more than one standard error without reaching the
        two that choosing them needs (:func:`fairtwin.deploy.rival_rungs`) — and deploys a rung
        only when every rival ranks it fairer than the nominal decision too
        (:func:`fairtwin.deploy.rivals_agree`).
    posterior : {"bootstrap", "laplace"}
        Where ``supported`` draws the weights from: refits on resamples of the training weeks
        (default), or the Laplace approximation of the fit. Measured
        (``benchmarks/bench_deploy.py``, 3 seeds, 36 cells of notions × 156 or 1344 answers):
        neither made a week less fair than nominal; with 156 answers the bootstrap won 50.2
        held-out weeks of 52 on average against 47.3 (per-resident: 52 against 38–39), at a
        lower ratio on the worst-off notion (docs/benchmarks/deploy-posterior.md).
    """

    mode: str = "blend"
    blend_lambda: float = 20.0
    guard: bool = True
    tie_break: float = 1e-3
    solver: str = "auto"
    time_limit_s: float = 60.0
    mip_gap: float = 1e-3
    node_limit: int = 1000
    heuristics: bool = False
    deploy: str = "supported"
    min_probability: float = 0.9
    posterior: str = "bootstrap"
    rivals: bool = True

    def __post_init__(self) -> None:
        if self.solver != "auto" and self.solver not in SOLVERS:
            raise UnknownNameError("solver", self.solver, ["auto", *SOLVERS])
        if self.posterior not in POSTERIORS:
            raise UnknownNameError("posterior", self.posterior, POSTERIORS)
        if self.mode not in MODES:
            raise UnknownNameError("re-solve mode", self.mode, MODES)
        if self.deploy not in DEPLOY_RULES:
            raise UnknownNameError("deployment rule", self.deploy, DEPLOY_RULES)
        if not 0.5 <= self.min_probability < 1:
            raise ValidationError(f"min_probability must lie in [0.5, 1), got {self.min_probability}")
        if not self.blend_lambda >= 0:
            raise ValidationError(f"blend_lambda must be non-negative, got {self.blend_lambda}")
        if not self.time_limit_s > 0:
            raise ValidationError(f"time_limit_s must be positive, got {self.time_limit_s}")
        if self.node_limit < 0:
            raise ValidationError(f"node_limit must be 0 (none) or positive, got {self.node_limit}")

    @property
    def holds_guard(self) -> bool:
        """Whether the re-solve keeps the twin's guarded quantity at most the nominal
        decision's (guard and budget modes, and blend with ``guard``; select's candidates are
        held too, by their filter)."""
        return self.mode in ("guard", "budget", "select") or (self.mode == "blend" and self.guard)


@dataclass(frozen=True, eq=False)
class Resolved:
    """The re-solved decision of a context.

    Attributes
    ----------
    decision : ndarray of shape (n_decision,)
    result : SolveResult or None
        The solve (``None`` in select mode, which solves nothing).
    guard_rise : float
        The guarded quantity beyond the nominal decision's (> 0 only in replace mode; for the
        ICU twin, patients without a bed). ``overflow_rise`` is its old, deprecated name.
    time_s : float
        Wall time of the rule.
    status : str
        The solver's status, or ``selected``.
    """

    decision: NDArray[np.float64]
    result: SolveResult | None
    guard_rise: float
    time_s: float = float("nan")
    status: str = ""

    @property
    def overflow_rise(self) -> float:
        """Deprecated name of :attr:`guard_rise`."""
        warnings.warn("Resolved.overflow_rise is now Resolved.guard_rise", DeprecationWarning,
                      stacklevel=2)
        return self.guard_rise


#: the re-solve's solver per problem kind when ``solver = "auto"``
AUTO_SOLVERS = {ProblemKind.MIQP: "highs-oa", ProblemKind.CONVEX_QP: "highs",
                ProblemKind.MILP: "highs", ProblemKind.LP: "highs"}


def solver_for(name: str, problem: Problem) -> str:
    """The solver a re-solve uses: ``name``, or for ``"auto"`` the one for ``problem.kind``."""
    return AUTO_SOLVERS[problem.kind] if name == "auto" else name


def resolve_context(
    twin: Twin,
    context: Any,
    cost: QuadraticCost,
    f_scale: float,
    config: ResolveConfig = ResolveConfig(),
    nominal: NDArray[np.float64] | None = None,
    candidates: NDArray[np.float64] | None = None,
    region: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]] | None = None,
) -> Resolved:
    """Solve a context's MIQP with the learned cost (see the module docstring).

    ``region = (A, lower, upper)`` (``A`` over the decision entries) adds the row group
    ``trust_region``, ``lower ≤ A u ≤ upper``: the deployment rule's bounded re-solve keeps
    the outcomes within what the context's candidates span (:mod:`fairtwin.deploy`).

    Parameters
    ----------
    cost : QuadraticCost over the decision vector (n_decision variables)
    f_scale : float
        Median preference gap of the learned cost on training pairs (> 0).
    nominal : ndarray of shape (n_vars,), optional
        The nominal MILP's full solution (a warm start, and the guarded quantity's level).
    candidates : ndarray of shape (k, n_decision), optional
        The context's candidate decisions (required by select mode).
    """
    _check_learned_cost(twin, cost, f_scale)
    problem = twin.build(context)
    options = SolverOptions(time_limit_s=config.time_limit_s, mip_gap=config.mip_gap,
                            heuristics=config.heuristics, node_limit=config.node_limit or None)
    if nominal is None:
        nominal = _nominal(problem, options, context.label)
    guard = twin.guard_row(problem)
    nominal_guard = float(guard @ nominal) if guard is not None else 0.0
    if config.mode == "select":
        return select_candidate(twin, context, cost, candidates, nominal_guard)
    floor = None
    if config.mode == "budget":
        floor = select_candidate(twin, context, cost, candidates, nominal_guard)
    weight = twin.price_unit / f_scale
    scale = config.blend_lambda * weight if config.mode == "blend" else weight
    p = _with_limits(_with_learned_cost(problem, cost, scale, config), problem, config, guard,
                     nominal_guard, region)
    start = nominal
    if floor is not None:
        start = twin.complete(floor.decision, context)
        cap = float(problem.c @ start)
        p = p.with_rows("cost_budget", problem.c, -np.inf, cap + 1e-6 * max(1.0, abs(cap)))
    result = _solve_re(p, config, options, start, context.label)
    assert result.x is not None
    u = result.x[problem.decision_index]
    if floor is not None and _ranks_below(twin, context, cost, scale, config, u, floor.decision):
        log.warning("the budget re-solve of %s ranked below select's candidate (%s); keeping "
                    "the candidate", context.label, result.status.value)
        return Resolved(floor.decision, result, 0.0, result.time_s, "selected")
    rise = twin.guarded(u, context) - nominal_guard if guard is not None else 0.0
    if config.mode == "replace" and rise > 0.5:
        log.warning("replace mode raised the %s of %s by %.3g", twin.guard_name, context.label, rise)
    return Resolved(u, result, max(rise, 0.0), result.time_s, result.status.value)


def _check_learned_cost(twin: Twin, cost: QuadraticCost, f_scale: float) -> None:
    """Refuse a learned cost over another number of variables, or a non-positive scale."""
    if cost.n_vars != twin.n_decision:
        raise ValidationError(
            f"the learned cost has {cost.n_vars} variables but the twin's decision has "
            f"{twin.n_decision}; was the model trained on another scenario?"
        )
    if not (np.isfinite(f_scale) and f_scale > 0):
        raise ValidationError(f"f_scale must be positive and finite, got {f_scale}")


def _with_limits(
    p: Problem, problem: Problem, config: ResolveConfig, guard: NDArray[np.float64] | None,
    nominal_guard: float,
    region: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]] | None,
) -> Problem:
    """``p`` with the row groups of the rule: ``guard`` (the guarded quantity at most the
    nominal decision's, plus slack) where the mode holds it, and ``trust_region``."""
    if config.holds_guard and guard is not None:  # (select mode returns before this)
        p = p.with_rows("guard", guard, -np.inf, nominal_guard + guard_slack(problem))
    if region is not None:
        A, lo, hi = region
        rows = np.zeros((A.shape[0], p.n_vars))
        rows[:, problem.decision_index] = A
        p = p.with_rows("trust_region", rows, lo, hi)
    return p


def _ranks_below(twin: Twin, context: Any, cost: QuadraticCost, scale: float,
                 config: ResolveConfig, u: NDArray[np.float64],
                 candidate: NDArray[np.float64]) -> bool:
    """Whether the re-solved ``u`` ranks below select's ``candidate`` on the re-solve's
    objective (beyond a relative 1e-9)."""

    def objective(v: NDArray[np.float64]) -> float:
        return scale * float(cost(v)) + config.tie_break * twin.nominal_cost(v, context)

    return objective(u) > objective(candidate) + 1e-9 * max(1.0, abs(objective(candidate)))


def guard_slack(problem: Problem) -> float:
    """Room the guard row leaves above the nominal decision's guarded quantity.

    None for a problem without integer variables: the nominal decision meets the row exactly and
    the solvers hold it to their feasibility tolerance, while a slack let a continuous re-solve
    withhold that much (the food-bank twin's 1e-6 tonnes: a gram of food in a week with
    enough). ``1e-6`` for a problem with integer variables, below any step of an integral
    guarded quantity (the ICU twin's patients): it absorbs the solver's integrality tolerance.
    """
    return 1e-6 if problem.is_mip else 0.0


def _nominal(problem: Problem, options: SolverOptions, label: str) -> NDArray[np.float64]:
    """The nominal problem's full solution (the re-solve's warm start and guard level)."""
    nom = get_solver("highs", options).solve(problem)
    if nom.x is None:
        raise SolveLimitError(f"no nominal decision for {label}: {nom.status.value}")
    return nom.x


def _with_learned_cost(problem: Problem, cost: QuadraticCost, scale: float,
                       config: ResolveConfig) -> Problem:
    """The problem with the learned cost times ``scale`` added: to the nominal cost (blend), or
    to the nominal cost times the tie-break (the other modes). A linear learned cost is folded
    into ``c``: the problem stays a MILP."""
    base_c = problem.c if config.mode == "blend" else config.tie_break * problem.c
    if cost.is_linear:
        c = base_c.copy()
        c[problem.decision_index] += scale * cost.q
        return problem.with_objective(c=c, quadratic=None)
    return problem.with_objective(c=base_c, quadratic=cost.scaled(scale))


def _solve_re(p: Problem, config: ResolveConfig, options: SolverOptions,
              start: NDArray[np.float64], label: str) -> SolveResult:
    """Solve the re-solve's problem with the configured (or kind-chosen) solver; a result
    without a decision is an error that says what to change."""
    solver = get_solver(solver_for(config.solver, p), options)
    result = solver.solve(p, warm_start=start)
    if not result.has_solution:
        hint = ("raise the time limit ([resolve] time_limit_s)"
                if result.status in (Status.NO_SOLUTION, Status.TIME_LIMIT)
                else "another solver may take it ([resolve] solver)")
        raise SolveLimitError(
            f"the re-solve of {label} ({config.mode} mode, {solver.name}) returned "
            f"{result.status.value} without a decision ({result.message}); {hint}"
        )
    if result.status is Status.TIME_LIMIT:
        log.warning("re-solve of %s stopped at the time limit (gap %.2g); using its best "
                    "decision", label, result.gap)
    return result


def select_candidate(
    twin: Twin,
    context: Any,
    cost: QuadraticCost,
    candidates: NDArray[np.float64] | None,
    nominal_guard: float | None = None,
    *,
    nominal_overflow: float | None = None,
) -> Resolved:
    """The candidate with the lowest learned cost among those whose guarded quantity is not
    above ``nominal_guard`` (select mode; ``nominal_overflow`` is its old, deprecated name)."""
    t0 = time.perf_counter()
    if nominal_overflow is not None:
        warnings.warn("select_candidate(nominal_overflow=...) is now nominal_guard=...",
                      DeprecationWarning, stacklevel=2)
        if nominal_guard is None:
            nominal_guard = nominal_overflow
    if nominal_guard is None:
        raise ValidationError("select_candidate needs nominal_guard, the nominal decision's "
                              "guarded quantity")
    if candidates is None or len(candidates) == 0:
        raise ValidationError(
            f"select mode needs the candidate decisions of {context.label}; none were given"
        )
    U = np.atleast_2d(np.asarray(candidates, dtype=np.float64))
    guarded = np.array([twin.guarded(u, context) for u in U])
    ok = guarded <= nominal_guard + 1e-6
    if not ok.any():
        raise ValidationError(
            f"no candidate of {context.label} keeps the {twin.guard_name} at the nominal decision's "
            f"({nominal_guard:g}); include the nominal decision among the candidates"
        )
    f = np.atleast_1d(cost(U))
    best = int(np.flatnonzero(ok)[np.argmin(f[ok])])
    return Resolved(U[best].copy(), None, 0.0, time.perf_counter() - t0, "selected")
