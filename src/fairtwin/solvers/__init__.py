"""Solver adapters behind one interface.

>>> from fairtwin.solvers import get_solver
>>> solver = get_solver("highs")            # doctest: +SKIP
>>> result = solver.solve(problem)          # doctest: +SKIP

Adapters are imported lazily, so that a missing optional solver package only matters when that
solver is asked for. :func:`solve` picks a capable solver and turns infeasible, unbounded and
limit-without-solution outcomes into typed errors that name the context and, for an infeasible
model, the constraint group(s) responsible.
"""

from __future__ import annotations

import importlib
import logging

from numpy.typing import ArrayLike

from fairtwin.exceptions import (
    InfeasibleError,
    SolveLimitError,
    SolverUnavailableError,
    UnboundedError,
    UnknownNameError,
)
from fairtwin.solvers.base import Solver, SolveResult, SolverOptions, Status
from fairtwin.twin.problem import Problem, ProblemKind

__all__ = [
    "SOLVERS",
    "Solver",
    "SolverOptions",
    "SolveResult",
    "Status",
    "available_solvers",
    "get_solver",
    "default_solver_for",
    "solve",
    "diagnose_infeasibility",
]

log = logging.getLogger(__name__)

#: name -> (module, class)
SOLVERS: dict[str, tuple[str, str]] = {
    "highs": ("fairtwin.solvers.highs", "HighsSolver"),
    "highs-oa": ("fairtwin.solvers.highs_oa", "HighsOASolver"),
    "scip": ("fairtwin.solvers.scip", "ScipSolver"),
    "gurobi": ("fairtwin.solvers.gurobi", "GurobiSolver"),
}

#: what :func:`default_solver_for` picks per problem class
DEFAULTS: dict[ProblemKind, str] = {
    ProblemKind.LP: "highs",
    ProblemKind.MILP: "highs",
    ProblemKind.CONVEX_QP: "highs",
    ProblemKind.MIQP: "scip",
}


def get_solver(name: str, options: SolverOptions | None = None) -> Solver:
    """Instantiate a solver adapter by name.

    Raises
    ------
    UnknownNameError
        For a name that is not in :data:`SOLVERS` (the message lists them).
    SolverUnavailableError
        When the solver's package is not installed or licensed.
    """
    if name not in SOLVERS:
        raise UnknownNameError("solver", name, SOLVERS)
    module_name, cls_name = SOLVERS[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SolverUnavailableError(f"solver {name!r} is not available: {exc}") from exc
    cls = getattr(module, cls_name)
    return cls(options)


def available_solvers() -> list[str]:
    """Names of the solvers that can be instantiated here."""
    names = []
    for name in SOLVERS:
        try:
            get_solver(name)
        except SolverUnavailableError:
            continue
        names.append(name)
    return names


def default_solver_for(problem: Problem) -> str:
    return DEFAULTS[problem.kind]


def diagnose_infeasibility(problem: Problem, solver: Solver | None = None) -> list[str]:
    """Constraint groups whose removal alone makes the continuous relaxation feasible.

    When no single group is responsible, the variable bounds are named.
    """
    solver = solver or get_solver("highs")
    probe = problem.relaxed().with_objective(c=problem.c * 0.0, quadratic=None)
    found = []
    for group in problem.layout.constraints:
        result = solver.solve(probe.without_group(group))
        if result.status is Status.OPTIMAL:
            found.append(group)
    if not found:
        if solver.solve(probe).status is Status.OPTIMAL:
            return ["integrality"]
        return ["variable bounds"]
    return found


def solve(
    problem: Problem,
    solver: str | Solver | None = None,
    options: SolverOptions | None = None,
    warm_start: ArrayLike | None = None,
) -> SolveResult:
    """Solve a problem and raise typed errors for outcomes without a usable decision.

    Parameters
    ----------
    problem : Problem
    solver : str or Solver, optional
        A name from :data:`SOLVERS` or an adapter; by default HiGHS for LP/MILP/QP and SCIP for
        MIQP.
    options : SolverOptions, optional
    warm_start : ndarray of shape (n_vars,), optional

    Returns
    -------
    SolveResult
        With ``status`` OPTIMAL or TIME_LIMIT (a feasible solution and its gap); a time-limited
        result is logged as a warning.

    Raises
    ------
    InfeasibleError
        Naming the context (``problem.name``) and the constraint group(s).
    UnboundedError
    SolveLimitError
        When a limit was hit before any feasible solution was found.
    """
    if solver is None:
        solver = default_solver_for(problem)
    adapter = get_solver(solver, options) if isinstance(solver, str) else solver
    result = adapter.solve(problem, options, warm_start)
    if result.status is Status.INFEASIBLE:
        raise InfeasibleError(problem.name, diagnose_infeasibility(problem))
    if result.status is Status.UNBOUNDED:
        raise UnboundedError(problem.name, f"reported by {adapter.name}")
    if result.status is Status.NO_SOLUTION:
        raise SolveLimitError(
            f"{adapter.name} found no feasible solution for {problem.name} within "
            f"{(options or adapter.options).time_limit_s:g} s; raise the time limit"
        )
    if result.status is Status.ERROR:
        raise SolveLimitError(
            f"{adapter.name} failed on {problem.name}: {result.message or 'unknown error'}"
        )
    if result.status is Status.TIME_LIMIT:
        log.warning(
            "%s stopped at its time limit on %s with a gap of %.2g%%",
            adapter.name,
            problem.name,
            100 * result.gap,
        )
    return result
