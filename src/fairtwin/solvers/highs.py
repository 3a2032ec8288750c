"""HiGHS adapter (``highspy``): LP, MILP and continuous convex QP.

HiGHS refuses integer variables with a quadratic objective; for MIQP use ``scip`` or the
outer-approximation adapter ``highs-oa``.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

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
    import highspy
except ImportError as exc:  # pragma: no cover - highspy is a core dependency
    raise ImportError("the HiGHS adapter needs highspy: pip install highspy") from exc

__all__ = ["HighsSolver", "new_highs", "build_highs_lp", "read_model_file", "write_model_file"]

_banner_lock = threading.Lock()
_banner_done = False


#: HiGHS options switched off by ``SolverOptions(heuristics=False)``.
_HEURISTICS = ("mip_heuristic_run_rins", "mip_heuristic_run_rens",
               "mip_heuristic_run_feasibility_jump", "mip_heuristic_run_root_reduced_cost",
               "mip_allow_restart")


def new_highs(options: SolverOptions) -> highspy.Highs:
    """A configured, silent ``Highs`` instance.

    HiGHS prints a banner to the C-level stdout the first time an instance is created in a
    process; that would corrupt machine-readable output (``--json``), so the first instance is
    created with file descriptor 1 pointed at ``/dev/null``.
    """
    global _banner_done
    with _banner_lock:
        if not _banner_done and not options.verbose:
            sys.stdout.flush()
            saved = os.dup(1)
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, 1)
                h = highspy.Highs()
            finally:
                os.dup2(saved, 1)
                os.close(saved)
                os.close(devnull)
        else:
            h = highspy.Highs()
        _banner_done = True
    h.setOptionValue("output_flag", bool(options.verbose))
    h.setOptionValue("time_limit", float(options.time_limit_s))
    h.setOptionValue("mip_rel_gap", float(options.mip_gap))
    h.setOptionValue("threads", int(options.threads))
    h.setOptionValue("random_seed", 0)
    if options.node_limit is not None:
        h.setOptionValue("mip_max_nodes", int(options.node_limit))
    if not options.heuristics:
        for name in _HEURISTICS:
            h.setOptionValue(name, False)
    return h


def build_highs_lp(
    problem: Problem, form: LowRankForm, integer: bool = True
) -> tuple[highspy.HighsLp, int]:
    """The problem as a ``HighsLp`` with auxiliary columns appended: ``s = Fᵀu`` (``form.rank``
    of them), then ``z = M u`` for the dense rows the factor rows share (``form.shared.k``),
    with ``s = P u + W z`` (see :class:`~fairtwin.solvers.base.SharedRows`).
    ``form.aux_values(x)`` gives both blocks' values at a point.

    Returns the LP and the number of columns.
    """
    n, r = problem.n_vars, form.rank
    A = problem.A
    row_lower, row_upper = problem.row_lower, problem.row_upper
    k = 0
    if r:
        split = form.shared
        k = split.k
        aux = sp.vstack([
            sp.hstack([-split.sparse, sp.identity(r), -split.weight]),
            sp.hstack([-split.shared, sp.csr_matrix((k, r)), sp.identity(k)]),
        ], format="csr")
        A = sp.vstack([sp.hstack([A, sp.csr_matrix((A.shape[0], r + k))]), aux], format="csr")
        row_lower = np.r_[row_lower, np.zeros(r + k)]
        row_upper = np.r_[row_upper, np.zeros(r + k)]
    A = sp.csc_matrix(A)
    a = r + k
    lp = highspy.HighsLp()
    lp.num_col_ = n + a
    lp.num_row_ = A.shape[0]
    lp.col_cost_ = np.r_[form.c, np.zeros(a)]
    lp.offset_ = float(form.offset)
    inf = highspy.kHighsInf
    lp.col_lower_ = np.r_[np.where(np.isfinite(problem.lower), problem.lower, -inf), np.full(a, -inf)]
    lp.col_upper_ = np.r_[np.where(np.isfinite(problem.upper), problem.upper, inf), np.full(a, inf)]
    lp.row_lower_ = np.where(np.isfinite(row_lower), row_lower, -inf)
    lp.row_upper_ = np.where(np.isfinite(row_upper), row_upper, inf)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data.astype(np.float64)
    if integer and problem.is_mip:
        kinds = [
            highspy.HighsVarType.kInteger if flag else highspy.HighsVarType.kContinuous
            for flag in problem.integrality
        ] + [highspy.HighsVarType.kContinuous] * a
        lp.integrality_ = kinds
    return lp, n + a


def highs_status(h: highspy.Highs) -> tuple[Status, str]:
    """Map HiGHS's model status (and whether a feasible point exists) to :class:`Status`."""
    ms = h.getModelStatus()
    text = h.modelStatusToString(ms)
    S = highspy.HighsModelStatus
    has_point = h.getInfo().primal_solution_status == 2  # kSolutionStatusFeasible
    if ms == S.kOptimal:
        return Status.OPTIMAL, text
    if ms == S.kInfeasible:
        return Status.INFEASIBLE, text
    if ms == S.kUnbounded:
        return Status.UNBOUNDED, text
    if ms in (S.kTimeLimit, S.kIterationLimit, S.kInterrupt, S.kSolutionLimit,
              S.kObjectiveBound, S.kObjectiveTarget):
        return (Status.TIME_LIMIT if has_point else Status.NO_SOLUTION), text
    return Status.ERROR, text


#: primal feasibility tolerance of the one retry after a QP "solve error" (HiGHS's default: 1e-7)
QP_RETRY_TOLERANCE = 1e-4


def _qp_retry(h: highspy.Highs, problem: Problem) -> tuple[Status, str]:
    """Retry a convex QP that HiGHS ended with "solve error".

    HiGHS's QP solver can stop at its optimum and then reject it for primal infeasibilities of
    about 1e-5 in the factor rows ``z = F'u`` (entries in the hundreds) next to a near-empty
    guard row (a continuous network twin's week with nothing unmet: ``Σ unmet ≤ 1e-6``). The
    retry accepts those with a looser tolerance; its point counts as optimal only if the
    problem's own rows and bounds hold to :meth:`~fairtwin.twin.problem.Problem.check`'s 1e-6.
    """
    h.setOptionValue("primal_feasibility_tolerance", QP_RETRY_TOLERANCE)
    h.run()
    status, text = highs_status(h)
    if status is Status.OPTIMAL:
        x = np.asarray(h.getSolution().col_value)[: problem.n_vars]
        if not problem.check(x).feasible:
            return Status.ERROR, "Solve error (the QP's retry point violates the problem's rows)"
        text = f"{text} (retried with primal feasibility tolerance {QP_RETRY_TOLERANCE:g})"
    return status, text


class HighsSolver(Solver):
    """HiGHS through ``highspy``: LP, MILP and continuous convex QP."""

    name = "highs"
    capabilities = frozenset({ProblemKind.LP, ProblemKind.MILP, ProblemKind.CONVEX_QP})

    def _solve(
        self, problem: Problem, options: SolverOptions, warm_start: NDArray[np.float64] | None
    ) -> SolveResult:
        t0 = time.perf_counter()
        form = low_rank_form(problem)
        lp, n_cols = build_highs_lp(problem, form)
        h = new_highs(options)
        r = form.rank
        if r:
            model = highspy.HighsModel()
            model.lp_ = lp
            hess = highspy.HighsHessian()
            hess.dim_ = n_cols
            hess.format_ = highspy.HessianFormat.kTriangular
            diag = np.r_[np.zeros(problem.n_vars), np.ones(r), np.zeros(n_cols - problem.n_vars - r)]
            hess.start_ = np.r_[0, np.cumsum(diag > 0)].astype(np.int32)
            hess.index_ = np.flatnonzero(diag).astype(np.int32)
            hess.value_ = diag[diag > 0]
            model.hessian_ = hess
            h.passModel(model)
        else:
            h.passModel(lp)
        if warm_start is not None:
            start = np.r_[warm_start, form.aux_values(warm_start)] if r else warm_start
            sol = highspy.HighsSolution()
            sol.col_value = list(start)
            sol.value_valid = True
            h.setSolution(sol)
        h.run()
        status, text = highs_status(h)
        if h.getModelStatus() == highspy.HighsModelStatus.kUnboundedOrInfeasible:
            # presolve could not tell which: ask again without it
            h.setOptionValue("presolve", "off")
            h.run()
            status, text = highs_status(h)
        if r and h.getModelStatus() == highspy.HighsModelStatus.kSolveError:
            status, text = _qp_retry(h, problem)
        x = None
        if status in (Status.OPTIMAL, Status.TIME_LIMIT):
            x = np.asarray(h.getSolution().col_value)[: problem.n_vars]
        info = h.getInfo()
        if problem.is_mip:
            bound = float(info.mip_dual_bound)
        elif status is Status.OPTIMAL:
            bound = float(info.objective_function_value)
        else:
            bound = float("nan")
        return self._result(problem, status, x, bound, time.perf_counter() - t0, text)


def read_model_file(path: str | os.PathLike[str]) -> tuple[Problem, tuple[str, ...], tuple[str, ...]]:
    """Read an MPS or LP file with HiGHS's own reader.

    Returns the problem (minimisation: a maximisation is negated; every column in one block
    ``all``, every row in one group ``all``; ``decision_index`` empty), the column names and the
    row names. Raises ``ValueError`` naming the file when HiGHS cannot read it.
    """
    from fairtwin.twin.problem import Layout

    path = os.fspath(path)
    h = new_highs(SolverOptions())
    status = h.readModel(path)
    if status != highspy.HighsStatus.kOk:
        raise ValueError(f"HiGHS cannot read {path}: not a valid MPS or LP file")
    lp = h.getLp()
    n, m = int(lp.num_col_), int(lp.num_row_)
    a = lp.a_matrix_
    start = np.asarray(a.start_, dtype=np.int64)
    index = np.asarray(a.index_, dtype=np.int64)
    value = np.asarray(a.value_, dtype=np.float64)
    if a.format_ == highspy.MatrixFormat.kRowwise:
        A = sp.csr_matrix((value, index, start), shape=(m, n))
    else:
        A = sp.csc_matrix((value, index, start), shape=(m, n)).tocsr()
    c = np.asarray(lp.col_cost_, dtype=np.float64)
    offset = float(lp.offset_)
    if lp.sense_ == highspy.ObjSense.kMaximize:
        c, offset = -c, -offset
    inf = highspy.kHighsInf

    def fin(v: ArrayLike) -> NDArray[np.float64]:
        v = np.asarray(v, dtype=np.float64)
        return np.where(v >= inf, np.inf, np.where(v <= -inf, -np.inf, v))

    integ = np.zeros(n, dtype=bool)
    if len(lp.integrality_):
        kinds = list(lp.integrality_)
        integ = np.array([k in (highspy.HighsVarType.kInteger, highspy.HighsVarType.kSemiInteger)
                          for k in kinds], dtype=bool)
    cols = tuple(lp.col_names_) if len(lp.col_names_) == n else tuple(f"c{j}" for j in range(n))
    rows = tuple(lp.row_names_) if len(lp.row_names_) == m else tuple(f"r{i}" for i in range(m))
    problem = Problem(
        name=os.path.basename(path), c=c, A=A, row_lower=fin(lp.row_lower_),
        row_upper=fin(lp.row_upper_), lower=fin(lp.col_lower_), upper=fin(lp.col_upper_),
        integrality=integ, layout=Layout({"all": slice(0, n)}, {"all": slice(0, m)} if m else {}),
        decision_index=np.zeros(0, dtype=np.int64), offset=offset,
    )
    return problem, cols, rows


def write_model_file(problem: Problem, path: str | os.PathLike[str], col_names: list[str],
                     row_names: list[str]) -> None:
    """Write a problem's linear part as an MPS (``.mps``) or LP (``.lp``) file with HiGHS."""
    if problem.quadratic is not None:
        raise ValueError("only linear problems can be written to a model file")
    lp, _ = build_highs_lp(problem, low_rank_form(problem))
    lp.col_names_ = list(col_names)
    lp.row_names_ = list(row_names)
    h = new_highs(SolverOptions())
    h.passModel(lp)
    status = h.writeModel(os.fspath(path))
    if status != highspy.HighsStatus.kOk:
        raise OSError(f"HiGHS could not write {path}")
