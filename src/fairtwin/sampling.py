"""Diverse feasible decisions per context, covering the fair region and not only the nominal one.

For each context the sampler returns the nominal decision plus ``n_samples`` others:

- half by *perturbed nominal costs*: the nominal MILP with log-normally perturbed costs and a
  random subset of deployments and transfers made attractive;
- half *targeted*: an L1 MILP aimed at a random fairer-looking decision, built by the twin
  (:meth:`~fairtwin.twin.base.Twin.targeted_problem`). The ICU twin aims at random per-region
  load targets ``ρ*_i = ρ_i + α_i (ρ̄ − ρ_i)``, ``α_i ~ U(0, 1)``, between today's load ratio and
  the national average, minimising ``Σ_i |load_i − ρ*_i (C_i + y_i)|`` plus a small share of the
  nominal cost; any other twin aims one group of its named outcomes at points between their
  nominal values and the group's mean.

Integer decision variables are rounded, every decision is checked feasible by the twin and
duplicates are removed. Work is parallel over
contexts (joblib) with a progress bar; every solver call has a time limit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from numpy.typing import NDArray
from tqdm.auto import tqdm

from fairtwin.exceptions import ValidationError
from fairtwin.solvers import SolverOptions, Status, get_solver
from fairtwin.twin.base import Twin
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
    heuristics : bool
        The MILP solver's primal heuristics (see :class:`~fairtwin.solvers.SolverOptions`);
        off by default: a sample needs a good decision, not the best, and the targeted MILPs
        took 2.6× longer with them.
    """

    n_samples: int = 16
    targeted_share: float = 0.5
    cost_sigma: float = 0.5
    time_limit_s: float = 10.0
    node_limit: int = 20
    mip_gap: float = 0.05
    deviation_weight: float = 20.0
    heuristics: bool = False

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


def sample_context(
    twin: Twin,
    context: Any,
    config: SamplerConfig = SamplerConfig(),
    random_state: int | np.random.Generator | None = None,
    nominal: NDArray[np.float64] | None = None,
) -> ContextSamples:
    """Sample diverse feasible decisions of one context (row 0: the nominal decision)."""
    rng = as_generator(random_state)
    options = SolverOptions(time_limit_s=config.time_limit_s, mip_gap=config.mip_gap,
                            node_limit=config.node_limit, heuristics=config.heuristics)
    solver = get_solver("highs", options)
    problem = twin.build(context)
    d = twin.n_decision
    dec = problem.decision_index
    if nominal is None:
        res = solver.solve(problem, SolverOptions(time_limit_s=max(5.0, config.time_limit_s)))
        if not res.has_solution:
            raise ValidationError(f"no nominal decision for {context.label}: {res.status.value}")
        assert res.x is not None
        nominal = res.x[dec]
    nominal = np.asarray(nominal, dtype=np.float64)
    found = [nominal]
    kinds = [False]
    n_targeted = int(round(config.targeted_share * config.n_samples))
    base = problem.c
    friendly = twin.lure_scale(problem, config.deviation_weight)
    for k in range(config.n_samples):
        targeted = k < n_targeted
        if targeted:
            p = twin.targeted_problem(context, problem, nominal, rng, config.deviation_weight)
        else:
            c = base * np.exp(config.cost_sigma * rng.normal(size=base.size))
            lure = rng.random(d) < rng.uniform(0.02, 0.2)
            c[dec[lure]] -= rng.uniform(0.0, 1.0, size=lure.sum()) * friendly
            p = problem.with_objective(c=c)
        res = solver.solve(p)
        if res.status not in (Status.OPTIMAL, Status.TIME_LIMIT) or not res.has_solution:
            log.debug("sample %d of %s: %s", k, context.label, res.status.value)
            continue
        assert res.x is not None
        u = res.x[dec]
        if not twin.check(u, context).feasible:  # pragma: no cover - solvers return feasible x
            log.warning("dropping an infeasible sample of %s", context.label)
            continue
        found.append(u)
        kinds.append(targeted)
    U = np.array(found)
    integral = problem.integrality[dec]
    U[:, integral] = np.round(U[:, integral])
    _, first = np.unique(np.round(U, 9), axis=0, return_index=True)
    keep = np.sort(first)  # keeps row 0 (the nominal decision) first
    return ContextSamples(context.index, U[keep], int(np.sum(np.array(kinds)[keep])))


def _worker(twin, context, config, seed):  # type: ignore[no-untyped-def]
    return sample_context(twin, context, config, np.random.default_rng(seed))


def sample_decisions(
    twin: Twin,
    contexts: list[Any] | tuple[Any, ...],
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
