"""Outer approximation on HiGHS (``highs-oa``): convex MIQP as a sequence of MILPs.

With ``H = F Fᵀ`` the objective ``cᵀx + ½‖s‖²``, ``s = Fᵀu``, is separable in ``s``. Each
``½ s_k²`` gets an epigraph variable ``t_k`` and tangent cuts ``t_k ≥ a s_k − ½ a²``, which
under-estimate it everywhere, so every MILP is a relaxation and its dual bound is a valid lower
bound of the MIQP. The method:

1. Kelley rounds on the LP relaxation (cheap) add cuts until the relaxation's own gap closes;
2. MILP rounds add cuts at each incumbent's ``s`` until the best true objective and the MILP
   bound are within the gap tolerance (or the time limit is reached).

Cuts depend only on ``F``, not on the linear costs, so a caller re-solving with other linear
costs could keep them; this adapter starts fresh each call.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fairtwin.solvers.base import (
    LowRankForm,
    Solver,
    SolveResult,
    SolverOptions,
    Status,
    low_rank_form,
    relative_gap,
)
from fairtwin.solvers.highs import build_highs_lp, highs_status, new_highs
from fairtwin.twin.problem import Problem, ProblemKind

try:
    import highspy
except ImportError as exc:  # pragma: no cover - highspy is a core dependency
    raise ImportError("the highs-oa adapter needs highspy: pip install highspy") from exc

__all__ = ["HighsOASolver"]

log = logging.getLogger(__name__)


class HighsOASolver(Solver):
    """Convex MIQP (and MILP) by outer approximation with HiGHS MILP solves.

    Parameters
    ----------
    options : SolverOptions, optional
    max_rounds : int
        Cap on MILP rounds.
    lp_rounds : int
        Cap on Kelley rounds on the LP relaxation before the first MILP.

    ``SolverOptions.node_limit`` is one budget of branch-and-bound nodes for all MILP rounds
    together: a hard week stops after as much work on any machine (a time limit would depend on
    the machine's load), with its best decision and the gap it reached.

    With ``SolverOptions(heuristics=False)`` (the re-solve's setting) each MILP round skips
    HiGHS's primal heuristics and restarts: every round starts from the best decision so far,
    and on the ICU twin's re-solves the heuristics took most of a round's time.
    """

    name = "highs-oa"
    capabilities = frozenset({ProblemKind.MILP, ProblemKind.MIQP})

    def __init__(
        self, options: SolverOptions | None = None, max_rounds: int = 50, lp_rounds: int = 30
    ) -> None:
        super().__init__(options)
        self.max_rounds = max_rounds
        self.lp_rounds = lp_rounds

    def _solve(
        self, problem: Problem, options: SolverOptions, warm_start: NDArray[np.float64] | None
    ) -> SolveResult:
        t0 = time.perf_counter()
        deadline = t0 + options.time_limit_s
        form = low_rank_form(problem)
        lp, n_cols = build_highs_lp(problem, form)
        h = new_highs(options)
        if form.rank == 0:
            return self._solve_linear(problem, h, lp, warm_start, t0)
        epi = _Epigraph.attach(h, lp, form, problem.n_vars, n_cols)
        best = _Incumbent()
        if warm_start is not None:
            epi.add_cuts(form.factor_rows @ warm_start)
            best = _Incumbent(warm_start.copy(), problem.objective(warm_start))
        n_lp = self._kelley_rounds(epi, problem, lp.integrality_ if problem.is_mip else [],
                                   deadline, options.mip_gap)
        t_lp = time.perf_counter() - t0
        status, bound, text, n_milp = self._milp_rounds(epi, options, deadline, best)
        log.debug("outer approximation: %d LP rounds (%.3f s), %d MILP rounds, %d cuts, %s in "
                  "%.3f s", n_lp, t_lp, n_milp, h.getNumRow() - lp.num_row_, status.value,
                  time.perf_counter() - t0)
        x = best.x if status in (Status.OPTIMAL, Status.TIME_LIMIT) else None
        result_bound = min(bound, best.objective) if status is Status.OPTIMAL else bound
        return self._result(problem, status, x, float(result_bound),
                            time.perf_counter() - t0, f"outer approximation: {text}")

    def _solve_linear(self, problem: Problem, h: highspy.Highs, lp: highspy.HighsLp,
                      warm_start: NDArray[np.float64] | None, t0: float) -> SolveResult:
        """A problem without a quadratic part: one HiGHS solve of the LP or MILP."""
        h.passModel(lp)
        if warm_start is not None:
            self._set_start(h, warm_start)
        h.run()
        status, text = highs_status(h)
        x = np.asarray(h.getSolution().col_value)[:problem.n_vars] if status in (
            Status.OPTIMAL, Status.TIME_LIMIT) else None
        return self._result(problem, status, x, float(h.getInfo().mip_dual_bound),
                            time.perf_counter() - t0, text)

    def _kelley_rounds(self, epi: _Epigraph, problem: Problem, integ: list[Any], deadline: float,
                       mip_gap: float) -> int:
        """Step 1: cut the LP relaxation (integrality dropped, then restored) until its own gap
        closes, the round cap or the deadline; returns the rounds run."""
        h, n = epi.h, epi.n
        if problem.is_mip:
            h.changeColsIntegrality(n, np.arange(n, dtype=np.int32),
                                    np.array([highspy.HighsVarType.kContinuous] * n))
        n_lp = 0
        for _ in range(self.lp_rounds):
            if time.perf_counter() > deadline:
                break
            n_lp += 1
            h.setOptionValue("time_limit", max(1e-3, deadline - time.perf_counter()))
            h.run()
            if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                break
            s, viol = epi.violation(np.asarray(h.getSolution().col_value))
            lp_obj = h.getInfo().objective_function_value
            if viol.sum() <= mip_gap * max(1.0, abs(lp_obj)):
                break
            epi.add_cuts(s, viol > 1e-9 * max(1.0, abs(lp_obj)))
        if problem.is_mip:
            h.changeColsIntegrality(n, np.arange(n, dtype=np.int32), np.array(integ[:n]))
        return n_lp

    def _milp_rounds(self, epi: _Epigraph, options: SolverOptions, deadline: float,
                     best: _Incumbent) -> tuple[Status, float, str, int]:
        """Step 2: MILP rounds, each from the best decision so far (``best``, updated), cut at
        each incumbent's ``s`` until the gap closes or a limit stops them: the status, the
        best MILP bound, HiGHS's last word and the rounds run."""
        h, n, r = epi.h, epi.n, epi.form.rank
        bound = -np.inf
        text = ""
        status = Status.NO_SOLUTION
        n_milp = nodes_used = 0
        for _ in range(self.max_rounds):
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                break
            n_milp += 1
            h.setOptionValue("time_limit", remaining)
            if options.node_limit is not None:  # one budget for all rounds: deterministic
                left = options.node_limit - nodes_used
                if left < 1:
                    break
                h.setOptionValue("mip_max_nodes", int(left))
            if best.x is not None:
                aux = epi.form.aux_values(best.x[:n])
                self._set_start(h, np.r_[best.x[:n], aux, 0.5 * aux[:r] ** 2])
            h.run()
            st, text = highs_status(h)
            nodes_used += int(h.getInfo().mip_node_count)
            if st in (Status.INFEASIBLE, Status.UNBOUNDED, Status.ERROR):
                status = st
                break
            info = h.getInfo()
            if np.isfinite(info.mip_dual_bound):
                bound = max(bound, float(info.mip_dual_bound))
            if st in (Status.OPTIMAL, Status.TIME_LIMIT):
                sol = np.asarray(h.getSolution().col_value)
                obj = epi.true_objective(sol)
                if obj < best.objective:
                    best.objective, best.x = obj, sol[:n].copy()
                s, viol = epi.violation(sol)
            if relative_gap(best.objective, bound) <= options.mip_gap:
                status = Status.OPTIMAL
                break
            if st is not Status.OPTIMAL:  # MILP itself stopped at the limit
                status = Status.TIME_LIMIT if best.x is not None else Status.NO_SOLUTION
                break
            tol = 1e-9 * max(1.0, abs(best.objective))
            if not np.any(viol > tol):
                status = Status.OPTIMAL
                break
            epi.add_cuts(s, viol > tol)
        else:
            status = Status.TIME_LIMIT if best.x is not None else Status.NO_SOLUTION
        if status is Status.NO_SOLUTION and best.x is not None:
            status = Status.TIME_LIMIT
        return status, bound, text, n_milp

    @staticmethod
    def _set_start(h: highspy.Highs, values: NDArray[np.float64]) -> None:
        sol = highspy.HighsSolution()
        sol.col_value = list(values)
        sol.value_valid = True
        h.setSolution(sol)


@dataclass
class _Incumbent:
    """The best decision found so far and its true objective."""

    x: NDArray[np.float64] | None = None
    objective: float = np.inf


@dataclass
class _Epigraph:
    """The model with an epigraph column ``t_k`` (cost 1) per ``½ s_k²``, cut by tangents."""

    h: highspy.Highs
    form: LowRankForm
    n: int
    s_cols: NDArray[np.int32]
    t_cols: NDArray[np.int32]

    @classmethod
    def attach(cls, h: highspy.Highs, lp: highspy.HighsLp, form: LowRankForm, n: int,
               n_cols: int) -> _Epigraph:
        """Pass ``lp`` to ``h`` with columns ``t_k >= 0`` after its ``n_cols`` and the cuts at
        ``s = 0``."""
        r = form.rank
        h.passModel(lp)
        h.addVars(r, np.zeros(r), np.full(r, highspy.kHighsInf))
        t_cols = np.arange(n_cols, n_cols + r, dtype=np.int32)
        s_cols = np.arange(n, n + r, dtype=np.int32)
        h.changeColsCost(r, t_cols, np.ones(r))
        epi = cls(h, form, n, s_cols, t_cols)
        epi.add_cuts(np.zeros(r))
        return epi

    def add_cuts(self, points: NDArray[np.float64], ks: NDArray[np.bool_] | None = None) -> None:
        """``t_k - a_k s_k >= -a_k² / 2`` at ``a = points`` for the ``k`` the mask ``ks`` selects."""
        if ks is not None:
            points = points[ks]
        m = points.size
        if m == 0:
            return
        tc, sc = (self.t_cols, self.s_cols) if ks is None else (self.t_cols[ks], self.s_cols[ks])
        starts = np.arange(0, 2 * m, 2, dtype=np.int32)
        index = np.column_stack([tc, sc]).reshape(-1).astype(np.int32)
        value = np.column_stack([np.ones(m), -points]).reshape(-1)
        self.h.addRows(m, -0.5 * points**2, np.full(m, highspy.kHighsInf), 2 * m, starts, index,
                       value)

    def true_objective(self, x_full: NDArray[np.float64]) -> float:
        """The MIQP objective ``cᵀx + offset + ½‖s‖²`` of a solution of the model."""
        s = x_full[self.n : self.n + self.form.rank]
        return float(self.form.c @ x_full[: self.n] + self.form.offset + 0.5 * s @ s)

    def violation(self, sol: NDArray[np.float64]) -> tuple[NDArray[np.float64],
                                                          NDArray[np.float64]]:
        """``s`` of a solution and how far each ``½ s_k²`` lies above its ``t_k``."""
        s, t = sol[self.s_cols], sol[self.t_cols]
        return s, 0.5 * s**2 - t
