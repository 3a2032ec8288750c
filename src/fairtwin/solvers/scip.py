"""SCIP adapter (``pyscipopt``): LP, MILP, convex QP and convex MIQP.

A quadratic ``½ uᵀHu + qᵀu`` with ``H = F Fᵀ`` is modelled as ``r`` free variables
``s = Fᵀu`` (``r`` linear rows), an epigraph variable ``t ≥ ½ Σ s_k²`` (one convex quadratic
constraint) and the linear objective ``cᵀx + qᵀu + t``. Handing SCIP the dense ``n × n``
Hessian instead made it find no solution in 60 s on the ICU twin.
"""

from __future__ import annotations

import time

import numpy as np
from numpy.typing import NDArray

from fairtwin.solvers.base import (
    LowRankForm,
    Solver,
    SolveResult,
    SolverOptions,
    Status,
    low_rank_form,
)
from fairtwin.twin.problem import Problem, ProblemKind

try:
    import pyscipopt
except ImportError as exc:
    raise ImportError("the SCIP adapter needs pyscipopt: pip install 'fairtwin[scip]'") from exc

__all__ = ["ScipSolver"]

_STATUS = {
    "optimal": Status.OPTIMAL,
    "gaplimit": Status.OPTIMAL,
    "infeasible": Status.INFEASIBLE,
    "unbounded": Status.UNBOUNDED,
    "timelimit": Status.TIME_LIMIT,
    "nodelimit": Status.TIME_LIMIT,
    "totalnodelimit": Status.TIME_LIMIT,
    "stallnodelimit": Status.TIME_LIMIT,
    "memlimit": Status.TIME_LIMIT,
    "sollimit": Status.TIME_LIMIT,
    "bestsollimit": Status.TIME_LIMIT,
    "userinterrupt": Status.TIME_LIMIT,
}


class ScipSolver(Solver):
    """SCIP through ``pyscipopt``: LP, MILP, convex QP and convex MIQP (low-rank form)."""

    name = "scip"
    capabilities = frozenset(
        {ProblemKind.LP, ProblemKind.MILP, ProblemKind.CONVEX_QP, ProblemKind.MIQP}
    )

    def _solve(
        self, problem: Problem, options: SolverOptions, warm_start: NDArray[np.float64] | None
    ) -> SolveResult:
        t0 = time.perf_counter()
        form = low_rank_form(problem)
        m = _new_model(options)
        xs = _add_variables_and_rows(m, problem)
        objective = pyscipopt.quicksum(
            float(form.c[j]) * xs[j] for j in np.flatnonzero(form.c)
        )
        s_vars, t_var = _add_epigraph(m, form, xs)
        if t_var is not None:
            objective = objective + t_var
        m.setObjective(objective, "minimize")
        if form.offset:
            m.addObjoffset(float(form.offset))
        if warm_start is not None:
            _add_start(m, form, warm_start, xs, s_vars, t_var)
        m.optimize()
        raw = m.getStatus()
        status = _STATUS.get(raw, Status.ERROR)
        if raw == "inforunbd":
            status = Status.INFEASIBLE if m.getNSols() == 0 else Status.UNBOUNDED
        x = None
        if m.getNSols() > 0 and status in (Status.OPTIMAL, Status.TIME_LIMIT):
            best = m.getBestSol()
            x = np.array([m.getSolVal(best, v) for v in xs])
        elif status is Status.TIME_LIMIT:
            status = Status.NO_SOLUTION
        try:
            dual = float(m.getDualbound())
        except Exception:  # noqa: BLE001 - SCIP has no bound before the solve starts
            dual = float("nan")
        if abs(dual) >= m.infinity():
            dual = float("nan")
        return self._result(problem, status, x, dual, time.perf_counter() - t0, raw)


def _new_model(options: SolverOptions) -> pyscipopt.Model:
    """An empty SCIP model with the options' limits, seed and heuristics."""
    m = pyscipopt.Model()
    if not options.verbose:
        m.hideOutput()
    m.setParam("limits/time", float(options.time_limit_s))
    m.setParam("limits/gap", float(options.mip_gap))
    m.setParam("randomization/randomseedshift", 0)
    if options.node_limit is not None:
        m.setParam("limits/nodes", int(options.node_limit))
    if not options.heuristics:
        m.setHeuristics(pyscipopt.SCIP_PARAMSETTING.OFF)
    return m


def _add_variables_and_rows(m: pyscipopt.Model, problem: Problem) -> list[pyscipopt.Variable]:
    """The problem's variables (with bounds and integrality) and rows; returns the variables."""

    def bound(v: float) -> float | None:
        return None if not np.isfinite(v) else float(v)

    xs = [
        m.addVar(
            name=f"x{j}",
            vtype="I" if problem.integrality[j] else "C",
            lb=bound(problem.lower[j]),
            ub=bound(problem.upper[j]),
        )
        for j in range(problem.n_vars)
    ]
    A = problem.A
    for i in range(problem.n_rows):
        lo, hi = A.indptr[i], A.indptr[i + 1]
        expr = pyscipopt.quicksum(
            float(v) * xs[j] for j, v in zip(A.indices[lo:hi], A.data[lo:hi], strict=True)
        )
        if np.isfinite(problem.row_lower[i]) and problem.row_lower[i] == problem.row_upper[i]:
            m.addCons(expr == float(problem.row_upper[i]), name=f"row{i}")
            continue
        if np.isfinite(problem.row_lower[i]):
            m.addCons(expr >= float(problem.row_lower[i]), name=f"row{i}_lo")
        if np.isfinite(problem.row_upper[i]):
            m.addCons(expr <= float(problem.row_upper[i]), name=f"row{i}")
    return xs


def _add_epigraph(m: pyscipopt.Model, form: LowRankForm, xs: list[pyscipopt.Variable]
                  ) -> tuple[list[pyscipopt.Variable], pyscipopt.Variable | None]:
    """``s = Fᵀx`` and one epigraph variable ``t >= ½‖s‖²`` (none without a quadratic part)."""
    s_vars: list[pyscipopt.Variable] = []
    if not form.rank:
        return s_vars, None
    F = form.factor_rows
    for k in range(form.rank):
        s_k = m.addVar(name=f"s{k}", vtype="C", lb=None, ub=None)
        lo, hi = F.indptr[k], F.indptr[k + 1]
        m.addCons(
            s_k
            == pyscipopt.quicksum(
                float(v) * xs[j]
                for j, v in zip(F.indices[lo:hi], F.data[lo:hi], strict=True)
            ),
            name=f"factor{k}",
        )
        s_vars.append(s_k)
    t_var = m.addVar(name="t", vtype="C", lb=0.0, ub=None)
    m.addCons(0.5 * pyscipopt.quicksum(s * s for s in s_vars) <= t_var, name="epigraph")
    return s_vars, t_var


def _add_start(m: pyscipopt.Model, form: LowRankForm, warm_start: NDArray[np.float64],
               xs: list[pyscipopt.Variable], s_vars: list[pyscipopt.Variable],
               t_var: pyscipopt.Variable | None) -> None:
    """The warm start as a solution of the model (``s`` and ``t`` completed, ``t`` a hair above
    ``½‖s‖²`` so that the epigraph row holds)."""
    sol = m.createSol()
    for j, v in enumerate(warm_start):
        m.setSolVal(sol, xs[j], float(v))
    if form.rank:
        assert t_var is not None
        s_val = form.factor_rows @ warm_start
        for s_k, v in zip(s_vars, s_val, strict=True):
            m.setSolVal(sol, s_k, float(v))
        m.setSolVal(sol, t_var, float(0.5 * s_val @ s_val) * (1 + 1e-9) + 1e-9)
    m.addSol(sol, free=True)
