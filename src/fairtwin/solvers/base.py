"""The solver interface: options, typed results, declared capabilities.

Each adapter (one file per solver) subclasses :class:`Solver`, declares which
:class:`~fairtwin.twin.problem.ProblemKind` values it supports and refuses the others with a
message naming a solver that can. A quadratic cost reaches an adapter in factor form
``H = F Fᵀ`` (``F`` of shape (n, r)) and is modelled with ``r`` auxiliary variables
``s = Fᵀu`` and the separable term ``½‖s‖²``, never as a dense ``n × n`` matrix; the HiGHS
adapters write rows of ``Fᵀ`` that share a dense part (outcomes compared with a mean) as sparse
rows plus a few shared ones (:class:`SharedRows`).
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from fairtwin.exceptions import CapabilityError, ValidationError
from fairtwin.twin.problem import Problem, ProblemKind

__all__ = [
    "Status",
    "SolverOptions",
    "SolveResult",
    "Solver",
    "LowRankForm",
    "SharedRows",
    "low_rank_form",
    "split_shared_rows",
]


class Status(enum.Enum):
    """Outcome of a solve."""

    OPTIMAL = "optimal"
    """Solved to optimality within the gap tolerance."""
    TIME_LIMIT = "time_limit"
    """Stopped at the time limit with a feasible solution (see ``gap``)."""
    NO_SOLUTION = "no_solution"
    """Stopped at a limit before finding any feasible solution."""
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    ERROR = "error"


@dataclass(frozen=True)
class SolverOptions:
    """Settings shared by all solvers.

    Attributes
    ----------
    time_limit_s : float
        Wall-clock limit of one solve; every call has one.
    mip_gap : float
        Relative optimality gap at which a MIP solve stops.
    threads : int
        Threads the solver may use.
    node_limit : int or None
        Branch-and-bound nodes after which a MIP solve stops with its best solution. Unlike a
        time limit it does not depend on the machine's load, so results stay reproducible.
    verbose : bool
        Let the solver print its log.
    heuristics : bool
        Let a MIP solver run its primal heuristics (HiGHS: RINS, RENS, feasibility jump, root
        reduced cost, and root restarts; SCIP and Gurobi: all heuristics). Off is faster when
        the caller gives a good start or needs only a good decision: the re-solve and the
        sampler turn them off (``benchmarks/bench_solvers.py --run DIR``).
    """

    time_limit_s: float = 20.0
    mip_gap: float = 1e-4
    threads: int = 1
    node_limit: int | None = None
    verbose: bool = False
    heuristics: bool = True

    def __post_init__(self) -> None:
        if not self.time_limit_s > 0:
            raise ValidationError(f"time_limit_s must be positive, got {self.time_limit_s}")
        if not 0 <= self.mip_gap < 1:
            raise ValidationError(f"mip_gap must lie in [0, 1), got {self.mip_gap}")
        if self.node_limit is not None and self.node_limit < 1:
            raise ValidationError(f"node_limit must be positive, got {self.node_limit}")
        if self.threads < 1:
            raise ValidationError(f"threads must be at least 1, got {self.threads}")


@dataclass(frozen=True, eq=False)
class SolveResult:
    """Typed outcome of one solve.

    Attributes
    ----------
    status : Status
    x : ndarray of shape (n_vars,) or None
        The best solution found, over the problem's variables (auxiliary variables of the
        adapter removed).
    objective : float
        Objective value of ``x`` (``nan`` without a solution), recomputed from the problem.
    bound : float
        Best proven lower bound (``nan`` when unknown).
    gap : float
        Relative gap ``(objective − bound) / max(1, |objective|)`` (``0`` at optimality).
    time_s : float
        Wall-clock time of the solve.
    solver : str
    message : str
        The solver's own status text.
    """

    status: Status
    x: NDArray[np.float64] | None
    objective: float
    bound: float
    gap: float
    time_s: float
    solver: str
    message: str = ""

    @property
    def has_solution(self) -> bool:
        return self.x is not None

    @property
    def hit_limit(self) -> bool:
        """Whether the solve stopped at a limit instead of proving optimality."""
        return self.status in (Status.TIME_LIMIT, Status.NO_SOLUTION)


def relative_gap(objective: float, bound: float) -> float:
    if not (np.isfinite(objective) and np.isfinite(bound)):
        return float("nan")
    return max(0.0, objective - bound) / max(1.0, abs(objective))


@dataclass(frozen=True, eq=False)
class LowRankForm:
    """A problem's quadratic in the auxiliary-variable form an adapter builds.

    ``½ uᵀHu = ½‖Fᵀu‖²`` with ``F`` of shape (n_decision, r): the adapter adds ``r`` free
    variables ``s`` and the rows ``s − Fᵀu = 0`` (stored here as a sparse (r, n_vars) block
    over the problem's columns), then the term ``½ Σ s_k²``. The linear part ``q`` is folded
    into ``c``.
    """

    c: NDArray[np.float64]
    offset: float
    factor_rows: sp.csr_matrix
    rank: int

    @cached_property
    def shared(self) -> SharedRows:
        """The factor rows as a sparse part plus a few shared dense rows (see :class:`SharedRows`)."""
        return split_shared_rows(self.factor_rows)

    def aux_values(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """The auxiliary columns ``s = Fᵀu`` then ``z = M u`` of :attr:`shared` at ``x``."""
        return np.r_[self.factor_rows @ x, self.shared.shared @ x]


#: Factor-row entries at most this share of their row's largest are rounding, not structure.
ROUNDING = 1e-12


@dataclass(frozen=True, eq=False)
class SharedRows:
    """Factor rows ``Fᵀ = P + W M``: a sparse ``P``, and ``k`` rows ``M`` shared by many rows.

    The ICU twin's load gaps are taken against the national mean, which every region's deployed
    beds change: each of the 80 load rows at 80 regions uses all 80 bed columns (238 non-zeros
    where 159 are its own), an 80 × 80 dense block in every LP of a branch and bound; outcomes
    of a ``compared`` group (relative to the group's mean) make whole rows dense the same way.
    Written as ``s = P u + W z`` with ``k`` auxiliary columns ``z = M u``, such a block costs
    one row. ``k = 0`` when no row has such a part; the split is exact up to entries below
    :data:`ROUNDING` of their row's largest.
    """

    sparse: sp.csr_matrix  # P, shape (r, n_vars)
    weight: sp.csr_matrix  # W, shape (r, k)
    shared: sp.csr_matrix  # M, shape (k, n_vars)

    @property
    def k(self) -> int:
        return self.shared.shape[0]


def split_shared_rows(rows: sp.csr_matrix, max_shared: int = 4, min_rows: int = 3) -> SharedRows:
    """Peel up to ``max_shared`` rows shared (up to a scale) by at least ``min_rows`` rows.

    Only the heavy columns can hold a shared part: those used by at least ``min_rows`` rows and
    a quarter of all rows (the ICU twin's deployed beds, in every load gap through the national
    mean). Each pass takes the rows that use more than half of them and one such row as
    reference (the densest first; the next when it shares nothing with at least ``min_rows``;
    at most 16 are tried); a row's scale is the median ratio to the reference over the heavy
    columns both use (a row whose ratio is not that median in most of them is no copy), the
    shared row the median over those rows of ``row / scale`` (exact when, in every column,
    fewer than half of the rows have a part of their own there). A row takes the split only
    when what remains of its heavy part has at most a quarter of its non-zeros; nothing changes
    for rows without such a part.
    """
    rows = sp.csr_matrix(rows)
    r, n = rows.shape
    empty = SharedRows(rows, sp.csr_matrix((r, 0)), sp.csr_matrix((0, n)))
    if n == 0 or r < min_rows:
        return empty
    found = _heavy_part(rows, min_rows)
    if found is None:
        return empty
    heavy, dense, X = found
    big = row_max(rows)
    scale = big[dense]
    h = heavy.size
    W = np.zeros((r, max_shared))
    shared: list[NDArray[np.float64]] = []
    todo = np.arange(dense.size)
    density = (X != 0).sum(axis=1)
    tried: set[int] = set()
    while len(tried) < 16 and len(shared) < max_shared and todo.size >= min_rows:
        left = [k for k in todo if k not in tried]
        if not left:
            break
        ref = int(max(left, key=lambda k: (density[k], -k)))
        tried.add(ref)
        ratio = _copy_ratios(X, todo, ref, h)
        members = todo[ratio != 0]
        d = ratio[ratio != 0]
        if members.size < min_rows:
            continue
        m = np.median(X[members] / d[:, None], axis=0)
        rest = X[members] - d[:, None] * m[None, :]
        rest[np.abs(rest) <= ROUNDING * scale[members, None]] = 0.0
        ok = (rest != 0).sum(axis=1) * 4 <= (X[members] != 0).sum(axis=1)
        if ok.sum() < min_rows:  # this reference shares nothing: try the next
            continue
        W[dense[members[ok]], len(shared)] = d[ok]
        full = np.zeros(n)
        full[heavy] = m
        shared.append(full)
        todo = np.setdiff1d(todo, members[ok])
    k = len(shared)
    if k == 0:
        return empty
    Wk, M = sp.csr_matrix(W[:, :k]), sp.csr_matrix(np.vstack(shared))
    # a row takes one shared row at most, so (W M)_ij = d m_j: P = rows − W M exactly
    return SharedRows(drop_rounding(sp.csr_matrix(rows - Wk @ M), big), Wk, M)


def _heavy_part(rows: sp.csr_matrix, min_rows: int
                ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]] | None:
    """The heavy columns (used by at least ``min_rows`` rows and a quarter of all), the rows
    that use more than half of them, and those rows' heavy part as a dense array; ``None``
    when fewer than ``min_rows`` rows do."""
    r, n = rows.shape
    heavy = np.flatnonzero(np.bincount(rows.indices, minlength=n) >= max(min_rows, r / 4))
    if heavy.size == 0:
        return None
    H = rows[:, heavy]
    dense = np.flatnonzero(np.diff(H.indptr) > heavy.size // 2)
    if dense.size < min_rows:
        return None
    return heavy, dense, H[dense].toarray()


def _copy_ratios(X: NDArray[np.float64], todo: NDArray[np.int64], ref: int, h: int
                 ) -> NDArray[np.float64]:
    """Per row of ``todo``, its scale as a copy of row ``ref`` of ``X`` (the median ratio over
    the more than ``h // 4`` columns both use, when most ratios are that median), else 0."""
    ratio = np.zeros(todo.size)
    for i, row in enumerate(todo):
        both = (X[row] != 0) & (X[ref] != 0)
        if both.sum() > h // 4:
            q = X[row, both] / X[ref, both]
            med = np.median(q)
            if np.mean(np.abs(q - med) <= 1e-9 * abs(med)) > 0.5:  # a scaled copy, mostly
                ratio[i] = med
    return ratio


def row_max(rows: sp.csr_matrix) -> NDArray[np.float64]:
    """The largest absolute entry of each row."""
    return abs(rows).max(axis=1).toarray().ravel()


def drop_rounding(rows: sp.csr_matrix, big: NDArray[np.float64]) -> sp.csr_matrix:
    """Drop, in place, the entries at most :data:`ROUNDING` times their row's ``big``."""
    rows.data[np.abs(rows.data) <= ROUNDING * np.repeat(big, np.diff(rows.indptr))] = 0.0
    rows.eliminate_zeros()
    return rows


def low_rank_form(problem: Problem) -> LowRankForm:
    """Fold a problem's quadratic cost into linear costs plus a factor block."""
    c = problem.c.copy()
    offset = problem.offset
    if problem.quadratic is None:
        return LowRankForm(c, offset, sp.csr_matrix((0, problem.n_vars)), 0)
    quad = problem.quadratic
    c[problem.decision_index] += quad.q
    offset += quad.const
    F = quad.low_rank_factor()
    r = F.shape[1]
    rows = sp.csr_matrix(
        (F.T.reshape(-1), (np.repeat(np.arange(r), F.shape[0]), np.tile(problem.decision_index, r))),
        shape=(r, problem.n_vars),
    )
    # entries below ROUNDING of their row's largest are rounding left by cancellation (the ICU
    # twin's load gaps: moving a patient leaves the capacity-weighted mean unchanged, up to
    # 1e-17 per variable): 272k of the 291k non-zeros at 80 regions, dropped
    return LowRankForm(c, offset, drop_rounding(rows, row_max(rows)), r)


class Solver(ABC):
    """Base class of the solver adapters.

    Subclasses set ``name`` and ``capabilities`` and implement :meth:`_solve`.
    """

    name: ClassVar[str]
    capabilities: ClassVar[frozenset[ProblemKind]]
    #: Solver to suggest per kind this solver refuses.
    alternatives: ClassVar[dict[ProblemKind, str]] = {
        ProblemKind.MIQP: "scip",
        ProblemKind.MILP: "highs",
        ProblemKind.LP: "highs",
        ProblemKind.CONVEX_QP: "highs",
    }

    def __init__(self, options: SolverOptions | None = None) -> None:
        self.options = options or SolverOptions()

    def supports(self, kind: ProblemKind) -> bool:
        return kind in self.capabilities

    def check_supported(self, problem: Problem) -> None:
        """Raise :class:`CapabilityError` when this solver cannot handle ``problem``."""
        kind = problem.kind
        if kind in self.capabilities:
            return
        what = {
            ProblemKind.MIQP: "MIQP (integer variables with a quadratic objective)",
            ProblemKind.MILP: "MILP (integer variables)",
            ProblemKind.CONVEX_QP: "convex QP",
            ProblemKind.LP: "LP",
        }[kind]
        raise CapabilityError(
            f"{self.name} cannot solve {what}; use {self.alternatives[kind]!r}"
        )

    def solve(
        self,
        problem: Problem,
        options: SolverOptions | None = None,
        warm_start: ArrayLike | None = None,
    ) -> SolveResult:
        """Solve a problem.

        Parameters
        ----------
        problem : Problem
        options : SolverOptions, optional
            Overrides the solver's own options for this call.
        warm_start : ndarray of shape (n_vars,), optional
            A feasible solution to start from (for example the nominal MILP's).
        """
        self.check_supported(problem)
        if warm_start is not None:
            warm_start = np.asarray(warm_start, dtype=np.float64).reshape(-1)
            if warm_start.shape[0] != problem.n_vars:
                raise ValidationError(
                    f"warm_start must have {problem.n_vars} entries, got {warm_start.shape[0]}"
                )
        if problem.n_epigraph == 0:
            return self._solve(problem, options or self.options, warm_start)
        # the cost's max terms, exactly, as epigraph variables and rows (every adapter)
        start = None if warm_start is None else problem.epigraph_start(warm_start)
        result = self._solve(problem.epigraph(), options or self.options, start)
        if result.x is None:
            return result
        # x without the epigraph columns, its objective and gap on the problem as given
        return self._result(problem, result.status, result.x, result.bound, result.time_s,
                            result.message)

    @abstractmethod
    def _solve(
        self, problem: Problem, options: SolverOptions, warm_start: NDArray[np.float64] | None
    ) -> SolveResult: ...

    def _result(
        self,
        problem: Problem,
        status: Status,
        x: NDArray[np.float64] | None,
        bound: float,
        time_s: float,
        message: str,
    ) -> SolveResult:
        """Build a result, recomputing the objective from the problem itself."""
        if x is not None:
            x = np.asarray(x, dtype=np.float64)[: problem.n_vars].copy()
            # snap integers that the solver returns as 2.9999999
            ints = problem.integrality
            x[ints] = np.round(x[ints])
            objective = problem.objective(x)
        else:
            objective = float("nan")
        gap = relative_gap(objective, bound)
        if status is Status.OPTIMAL and not np.isfinite(gap):
            gap = 0.0
        return SolveResult(status, x, objective, bound, gap, time_s, self.name, message)
