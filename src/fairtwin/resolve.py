"""Re-solve the twin with a learned cost.

Given the learned cost ``f`` of a context (a :class:`~fairtwin.costs.QuadraticCost` over the
decision vector) and ``f_scale``, the median preference gap ``|f(a) − f(b)|`` on training
pairs, three modes build the MIQP:

- ``blend`` (default): ``J + λ · (w_overflow / f_scale) · f``: a typical preference gap is
  worth ``λ`` overflow patients.
- ``guard``: total overflow held at its nominal minimum (a new row group ``overflow_guard``),
  then ``(w_overflow / f_scale) · f`` plus a tiny tie-break ``ε_J · J``.
- ``replace`` (the paper's): ``(w_overflow / f_scale) · f + ε_J · J``; overflow is not in the
  learned decision vector, so it may rise: a warning says by how much.

The tie-break matters: directions outside the PCA span are otherwise free and stall the solver.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fairtwin.costs import QuadraticCost
from fairtwin.exceptions import SolveLimitError, UnknownNameError, ValidationError
from fairtwin.solvers import SolveResult, SolverOptions, Status, get_solver
from fairtwin.twin import Context, ICUTwin

__all__ = ["ResolveConfig", "Resolved", "MODES", "resolve_context"]

log = logging.getLogger(__name__)

MODES = ("blend", "guard", "replace")


@dataclass(frozen=True)
class ResolveConfig:
    """Settings of the re-solve.

    Attributes
    ----------
    mode : {"blend", "guard", "replace"}
    blend_lambda : float
        ``λ`` of the blend mode, in overflow patients per typical preference gap.
    tie_break : float
        ``ε_J``, weight of the nominal cost in guard and replace modes.
    solver : str
        An MIQP-capable solver (``highs-oa``, ``scip``, ``gurobi``).
    time_limit_s, mip_gap : float
    """

    mode: str = "blend"
    blend_lambda: float = 3.0
    tie_break: float = 1e-3
    solver: str = "highs-oa"
    time_limit_s: float = 10.0
    mip_gap: float = 1e-3

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise UnknownNameError("re-solve mode", self.mode, MODES)
        if not self.blend_lambda >= 0:
            raise ValidationError(f"blend_lambda must be non-negative, got {self.blend_lambda}")
        if not self.time_limit_s > 0:
            raise ValidationError(f"time_limit_s must be positive, got {self.time_limit_s}")


@dataclass(frozen=True, eq=False)
class Resolved:
    """The re-solved decision of a context.

    Attributes
    ----------
    decision : ndarray of shape (n_decision,)
    result : SolveResult
    overflow_rise : float
        Patients without a bed beyond the nominal decision's (> 0 only in replace mode).
    """

    decision: NDArray[np.float64]
    result: SolveResult
    overflow_rise: float


def resolve_context(
    twin: ICUTwin,
    context: Context,
    cost: QuadraticCost,
    f_scale: float,
    config: ResolveConfig = ResolveConfig(),
    nominal: NDArray[np.float64] | None = None,
) -> Resolved:
    """Solve a context's MIQP with the learned cost (see the module docstring).

    Parameters
    ----------
    cost : QuadraticCost over the decision vector (n_decision variables)
    f_scale : float
        Median preference gap of the learned cost on training pairs (> 0).
    nominal : ndarray of shape (n_vars,), optional
        The nominal MILP's full solution (a warm start, and the guard's overflow level).
    """
    if cost.n_vars != twin.n_decision:
        raise ValidationError(
            f"the learned cost has {cost.n_vars} variables but the twin's decision has "
            f"{twin.n_decision}; was the model trained on another scenario?"
        )
    if not (np.isfinite(f_scale) and f_scale > 0):
        raise ValidationError(f"f_scale must be positive and finite, got {f_scale}")
    problem = twin.build(context)
    options = SolverOptions(time_limit_s=config.time_limit_s, mip_gap=config.mip_gap)
    if nominal is None:
        nom = get_solver("highs", options).solve(problem)
        if not nom.has_solution:
            raise SolveLimitError(f"no nominal decision for {context.label}: {nom.status.value}")
        nominal = nom.x
    w_over = twin.config.overflow_weight
    weight = w_over / f_scale
    overflow_cols = problem.layout.variables["overflow"]
    nominal_overflow = float(np.sum(nominal[overflow_cols]))
    scale = config.blend_lambda * weight if config.mode == "blend" else weight
    base_c = problem.c if config.mode == "blend" else config.tie_break * problem.c
    if not np.any(cost.H):  # a linear learned cost: fold it into c, the problem stays a MILP
        c = base_c.copy()
        c[problem.decision_index] += scale * cost.q
        p = problem.with_objective(c=c, quadratic=None)
    else:
        p = problem.with_objective(c=base_c, quadratic=cost.scaled(scale))
    if config.mode == "guard":
        row = np.zeros(problem.n_vars)
        row[overflow_cols] = 1.0
        p = p.with_rows("overflow_guard", row, -np.inf, nominal_overflow + 1e-6)
    solver = get_solver(config.solver, options)
    result = solver.solve(p, warm_start=nominal)
    if not result.has_solution:
        raise SolveLimitError(
            f"the re-solve of {context.label} ({config.mode} mode, {config.solver}) returned "
            f"{result.status.value} without a decision; raise the time limit"
        )
    if result.status is Status.TIME_LIMIT:
        log.warning("re-solve of %s stopped at the time limit (gap %.2g); using its best "
                    "decision", context.label, result.gap)
    u = result.x[problem.decision_index]
    rise = float(twin.overflow(u, context).sum()) - nominal_overflow
    if config.mode == "replace" and rise > 0.5:
        log.warning("replace mode raised the overflow of %s by %.0f patients", context.label, rise)
    return Resolved(u, result, max(rise, 0.0))
