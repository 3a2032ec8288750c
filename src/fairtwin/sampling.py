"""Diverse feasible decisions per context, covering the fair region and not only the nominal one.

For each context the sampler returns the nominal decision plus ``n_samples`` others:

- half by *perturbed nominal costs*: the nominal MILP with log-normally perturbed costs and a
  random subset of deployments and transfers made attractive;
- half *targeted*: an L1 MILP aimed at random per-region load targets
  ``ρ*_i = ρ_i + α_i (ρ̄ − ρ_i)``, ``α_i ~ U(0, 1)``, between today's load ratio and the national
  average, minimising ``Σ_i |load_i − ρ*_i (C_i + y_i)|`` plus a small share of the nominal cost.

Every decision is checked feasible by the twin and duplicates are removed. Work is parallel over
contexts (joblib) with a progress bar; every solver call has a time limit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from numpy.typing import NDArray
from tqdm.auto import tqdm

from fairtwin.exceptions import ValidationError
from fairtwin.solvers import SolverOptions, Status, get_solver
from fairtwin.twin import Context, ICUTwin, Layout, Problem
from fairtwin.twin.scenarios import as_generator

__all__ = ["SamplerConfig", "ContextSamples", "sample_context", "sample_decisions"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SamplerConfig:
    """Settings of the sampler.

    Attributes
    ----------
    n_samples : int
        Decisions asked per context besides the nominal one (before duplicates are removed).
    targeted_share : float
        Share of them aimed at random load targets.
    cost_sigma : float
        Log-normal spread of the perturbed nominal costs.
    time_limit_s : float
        Safety limit of each MILP call (a time limit makes results depend on the machine's
        load; ``node_limit`` is what normally stops a hard sample).
    node_limit : int
        Branch-and-bound nodes per MILP call.
    mip_gap : float
        Gap of each MILP call (samples need not be optimal).
    deviation_weight : float
        Cost per patient of distance to the load target in the targeted MILP.
    """

    n_samples: int = 16
    targeted_share: float = 0.5
    cost_sigma: float = 0.5
    time_limit_s: float = 10.0
    node_limit: int = 20
    mip_gap: float = 0.05
    deviation_weight: float = 20.0

    def __post_init__(self) -> None:
        if self.n_samples < 1:
            raise ValidationError(f"n_samples must be at least 1, got {self.n_samples}")
        if not 0 <= self.targeted_share <= 1:
            raise ValidationError(f"targeted_share must lie in [0, 1], got {self.targeted_share}")
        if not self.time_limit_s > 0:
            raise ValidationError(f"time_limit_s must be positive, got {self.time_limit_s}")


@dataclass(frozen=True, eq=False)
class ContextSamples:
    """Decisions of one context; row 0 is the nominal decision.

    Attributes
    ----------
    context_index : int
    decisions : ndarray of shape (n_decisions, n_decision)
    n_targeted : int
        How many of the rows came from the targeted MILP (after deduplication).
    """

    context_index: int
    decisions: NDArray[np.float64]
    n_targeted: int


def _flow_matrix(twin: ICUTwin, n_vars: int) -> sp.csr_matrix:
    """Rows ``in_i − out_i`` over the problem's columns, shape (n_regions, n_vars)."""
    R, P = twin.n_regions, twin.n_pairs
    src, dst = twin.pairs
    cols = R + np.arange(P)
    return sp.csr_matrix(
        (np.r_[-np.ones(P), np.ones(P)], (np.r_[src, dst], np.r_[cols, cols])), shape=(R, n_vars)
    )


def targeted_problem(
    twin: ICUTwin, context: Context, problem: Problem, targets: NDArray[np.float64], weight: float,
    cost_share: float = 0.01,
) -> Problem:
    """The L1 MILP aiming each region's post-decision load ratio at ``targets``.

    Adds ``n_regions`` deviation columns ``dev_i ≥ |D_i + in_i − out_i − ρ*_i (C_i + y_i)|`` and
    ``2 n_regions`` rows (group ``target``); the objective is ``weight Σ dev + cost_share · J``.
    """
    R = twin.n_regions
    n = problem.n_vars
    flow = _flow_matrix(twin, n)
    y_part = sp.csr_matrix((-targets, (np.arange(R), np.arange(R))), shape=(R, n))
    gap = flow + y_part  # load_i - D_i - rho*_i y_i
    rhs = targets * context.capacity - context.demand
    eye = sp.identity(R, format="csr")
    rows = sp.vstack([sp.hstack([gap, -eye]), sp.hstack([-gap, -eye])], format="csr")
    A = sp.vstack([sp.hstack([problem.A, sp.csr_matrix((problem.n_rows, R))]), rows], format="csr")
    layout = Layout(
        {**problem.layout.variables, "deviation": slice(n, n + R)},
        {**problem.layout.constraints, "target": slice(problem.n_rows, problem.n_rows + 2 * R)},
    )
    return Problem(
        name=f"{problem.name} (targeted)",
        c=np.r_[cost_share * problem.c, np.full(R, weight)],
        A=A,
        row_lower=np.r_[problem.row_lower, np.full(2 * R, -np.inf)],
        row_upper=np.r_[problem.row_upper, rhs, -rhs],
        lower=np.r_[problem.lower, np.zeros(R)],
        upper=np.r_[problem.upper, np.full(R, np.inf)],
        integrality=np.r_[problem.integrality, np.zeros(R, dtype=bool)],
        layout=layout,
        decision_index=problem.decision_index,
    )


def sample_context(
    twin: ICUTwin,
    context: Context,
    config: SamplerConfig = SamplerConfig(),
    random_state: int | np.random.Generator | None = None,
    nominal: NDArray[np.float64] | None = None,
) -> ContextSamples:
    """Sample diverse feasible decisions of one context (row 0: the nominal decision)."""
    rng = as_generator(random_state)
    options = SolverOptions(time_limit_s=config.time_limit_s, mip_gap=config.mip_gap,
                            node_limit=config.node_limit)
    solver = get_solver("highs", options)
    problem = twin.build(context)
    d = twin.n_decision
    if nominal is None:
        res = solver.solve(problem, SolverOptions(time_limit_s=max(5.0, config.time_limit_s)))
        if not res.has_solution:
            raise ValidationError(f"no nominal decision for {context.label}: {res.status.value}")
        nominal = res.x[:d]
    found = [np.asarray(nominal, dtype=np.float64)]
    kinds = [False]
    n_targeted = int(round(config.targeted_share * config.n_samples))
    R = twin.n_regions
    rho = context.demand / np.maximum(context.capacity, 1)
    rho_bar = context.demand.sum() / max(context.capacity.sum() + context.pool, 1)
    base = problem.c
    friendly = config.deviation_weight * 0.5
    for k in range(config.n_samples):
        targeted = k < n_targeted
        if targeted:
            alpha = rng.uniform(0.0, 1.0, size=R) ** rng.uniform(0.3, 1.5)
            targets = rho + alpha * (rho_bar - rho)
            p = targeted_problem(twin, context, problem, targets, config.deviation_weight)
        else:
            c = base * np.exp(config.cost_sigma * rng.normal(size=base.size))
            lure = rng.random(d) < rng.uniform(0.02, 0.2)
            c[:d][lure] -= rng.uniform(0.0, 1.0, size=lure.sum()) * friendly
            p = problem.with_objective(c=c)
        res = solver.solve(p)
        if res.status not in (Status.OPTIMAL, Status.TIME_LIMIT) or not res.has_solution:
            log.debug("sample %d of %s: %s", k, context.label, res.status.value)
            continue
        u = res.x[:d]
        if not twin.check(u, context).feasible:  # pragma: no cover - solvers return feasible x
            log.warning("dropping an infeasible sample of %s", context.label)
            continue
        found.append(u)
        kinds.append(targeted)
    U = np.round(np.array(found))
    _, first = np.unique(U, axis=0, return_index=True)
    keep = np.sort(first)  # keeps row 0 (the nominal decision) first
    return ContextSamples(context.index, U[keep], int(np.sum(np.array(kinds)[keep])))


def _worker(twin, context, config, seed):  # type: ignore[no-untyped-def]
    return sample_context(twin, context, config, np.random.default_rng(seed))


def sample_decisions(
    twin: ICUTwin,
    contexts: list[Context] | tuple[Context, ...],
    config: SamplerConfig = SamplerConfig(),
    random_state: int | np.random.Generator | None = None,
    n_jobs: int = 1,
    progress: bool = False,
) -> list[ContextSamples]:
    """Sample every context; the same seed gives the same decisions whatever ``n_jobs`` is."""
    rng = as_generator(random_state)
    seeds = rng.integers(0, 2**63 - 1, size=len(contexts))
    jobs = (delayed(_worker)(twin, c, config, int(s)) for c, s in zip(contexts, seeds, strict=True))
    runner = Parallel(n_jobs=n_jobs, return_as="generator")
    results = list(
        tqdm(runner(jobs), total=len(contexts), desc="sample", unit="week", disable=not progress)
    )
    return results
