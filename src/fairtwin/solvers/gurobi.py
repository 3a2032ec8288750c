"""Gurobi adapter (``gurobipy``, optional): LP, MILP, convex QP and convex MIQP.

For licensed users only: the pip licence stops at 200 variables once the objective is
quadratic, so this adapter is never the default. ``pip install gurobipy`` and a licence.
"""

from __future__ import annotations

import time

import numpy as np
from numpy.typing import NDArray

from fairtwin.exceptions import SolverUnavailableError
from fairtwin.solvers.base import Solver, SolveResult, SolverOptions, Status, low_rank_form
from fairtwin.twin.problem import Problem, ProblemKind

__all__ = ["GurobiSolver"]


def _gurobipy():  # type: ignore[no-untyped-def]
    try:
        import gurobipy
    except ImportError as exc:
        raise SolverUnavailableError(
            "the 'gurobi' solver needs gurobipy and a licence: pip install 'fairtwin[gurobi]'"
        ) from exc
    return gurobipy


class GurobiSolver(Solver):
    """Gurobi through ``gurobipy`` (optional, needs a licence for the ICU-sized MIQP)."""

    name = "gurobi"
    capabilities = frozenset(
        {ProblemKind.LP, ProblemKind.MILP, ProblemKind.CONVEX_QP, ProblemKind.MIQP}
    )

    def __init__(self, options: SolverOptions | None = None) -> None:
        super().__init__(options)
        self._gp = _gurobipy()

    def _solve(
        self, problem: Problem, options: SolverOptions, warm_start: NDArray[np.float64] | None
    ) -> SolveResult:
        gp = self._gp
        GRB = gp.GRB
        t0 = time.perf_counter()
        form = low_rank_form(problem)
        env = gp.Env(empty=True)
        env.setParam("OutputFlag", int(options.verbose))
        env.start()
        m = gp.Model(env=env)
        m.Params.TimeLimit = options.time_limit_s
        m.Params.MIPGap = options.mip_gap
        m.Params.Threads = options.threads
        m.Params.Seed = 0
        if options.node_limit is not None:
            m.Params.NodeLimit = options.node_limit
        if not options.heuristics:
            m.Params.Heuristics = 0
        vtype = np.where(problem.integrality, GRB.INTEGER, GRB.CONTINUOUS)
        x = m.addMVar(
            problem.n_vars,
            lb=np.where(np.isfinite(problem.lower), problem.lower, -GRB.INFINITY),
            ub=np.where(np.isfinite(problem.upper), problem.upper, GRB.INFINITY),
            vtype=vtype,
        )
        finite_hi = np.isfinite(problem.row_upper)
        finite_lo = np.isfinite(problem.row_lower)
        if finite_hi.any():
            m.addConstr(problem.A[finite_hi] @ x <= problem.row_upper[finite_hi])
        if finite_lo.any():
            m.addConstr(problem.A[finite_lo] @ x >= problem.row_lower[finite_lo])
        objective = form.c @ x + form.offset
        if form.rank:
            s = m.addMVar(form.rank, lb=-GRB.INFINITY)
            m.addConstr(s == form.factor_rows @ x)
            objective = objective + 0.5 * (s @ s)
        m.setObjective(objective, GRB.MINIMIZE)
        if warm_start is not None:
            x.Start = warm_start
        m.optimize()
        code = m.Status
        has_sol = m.SolCount > 0
        if code == GRB.OPTIMAL:
            status = Status.OPTIMAL
        elif code == GRB.INFEASIBLE:
            status = Status.INFEASIBLE
        elif code in (GRB.UNBOUNDED, GRB.INF_OR_UNBD):
            status = Status.UNBOUNDED if code == GRB.UNBOUNDED else Status.INFEASIBLE
        elif code in (GRB.TIME_LIMIT, GRB.NODE_LIMIT, GRB.ITERATION_LIMIT, GRB.INTERRUPTED):
            status = Status.TIME_LIMIT if has_sol else Status.NO_SOLUTION
        else:
            status = Status.ERROR
        values = np.asarray(x.X) if has_sol and status in (Status.OPTIMAL, Status.TIME_LIMIT) else None
        bound = float(m.ObjBound) if problem.is_mip and has_sol else float("nan")
        result = self._result(problem, status, values, bound, time.perf_counter() - t0, str(code))
        m.dispose()
        env.dispose()
        return result
