"""The solver-neutral form of one context's optimisation problem.

A :class:`Problem` is

.. math::

    \\min_x\\; c^\\top x + \\text{offset} + f(x_D)
    \\quad\\text{s.t.}\\quad r_l \\le A x \\le r_u,\\; l \\le x \\le u,\\; x_j \\in \\mathbb Z\\ (j \\in I),

where ``x_D = x[decision_index]`` is the decision vector a learned cost acts on and ``f`` an
optional convex :class:`~fairtwin.costs.QuadraticCost`. Rows and columns are grouped by name
(:class:`Layout`), so that feasibility reports and infeasibility diagnoses can name a group.
This module imports no solver.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from fairtwin.costs import QuadraticCost
from fairtwin.exceptions import ValidationError

__all__ = ["Layout", "Problem", "ProblemKind", "FeasibilityReport", "Violation"]


class ProblemKind(enum.Enum):
    """Problem classes, by integrality and objective."""

    LP = "lp"
    MILP = "milp"
    CONVEX_QP = "convex_qp"
    MIQP = "miqp"


@dataclass(frozen=True)
class Layout:
    """Names of the blocks of variables and of constraint rows.

    Attributes
    ----------
    variables : dict of str to slice
        Contiguous column blocks, e.g. ``{"deploy": slice(0, 21), ...}``.
    constraints : dict of str to slice
        Contiguous row blocks (constraint groups), e.g. ``{"pool": slice(0, 1), ...}``.
    """

    variables: dict[str, slice]
    constraints: dict[str, slice]

    def variable_group(self, j: int) -> str:
        return next(name for name, s in self.variables.items() if s.start <= j < s.stop)

    def constraint_group(self, i: int) -> str:
        return next(name for name, s in self.constraints.items() if s.start <= i < s.stop)


@dataclass(frozen=True)
class Violation:
    """The worst violation within one group of a candidate solution."""

    group: str
    count: int
    max_violation: float


@dataclass(frozen=True)
class FeasibilityReport:
    """Result of checking a candidate solution against a :class:`Problem`."""

    violations: tuple[Violation, ...]
    tol: float

    @property
    def feasible(self) -> bool:
        return not self.violations

    def __bool__(self) -> bool:
        return self.feasible

    def describe(self) -> str:
        if self.feasible:
            return "feasible"
        parts = [
            f"{v.group}: {v.count} violated (max {v.max_violation:.3g})" for v in self.violations
        ]
        return "infeasible: " + "; ".join(parts)


def _vec(name: str, value: ArrayLike, n: int) -> NDArray[np.float64]:
    arr = np.asarray(value, dtype=np.float64).reshape(-1)
    if arr.shape[0] != n:
        raise ValidationError(f"{name} must have {n} entries, got {arr.shape[0]}")
    if np.any(np.isnan(arr)):
        raise ValidationError(f"{name} contains NaN")
    return arr


@dataclass(frozen=True, eq=False)
class Problem:
    """A (mixed-integer) linear or convex quadratic problem in matrix form.

    Parameters
    ----------
    name : str
        What the problem is of (a context label such as ``"week 5"``); used in messages.
    c : ndarray of shape (n_vars,)
    A : sparse matrix of shape (n_rows, n_vars)
    row_lower, row_upper : ndarray of shape (n_rows,)
        ``-inf``/``+inf`` for one-sided rows.
    lower, upper : ndarray of shape (n_vars,)
    integrality : ndarray of bool, shape (n_vars,)
    layout : Layout
    decision_index : ndarray of int, shape (n_decision,)
        Columns forming the decision vector ``u`` a quadratic cost acts on.
    quadratic : QuadraticCost, optional
        Convex cost over ``u`` added to the linear objective.
    offset : float
        Constant added to the objective.
    """

    name: str
    c: NDArray[np.float64]
    A: sp.csr_matrix
    row_lower: NDArray[np.float64]
    row_upper: NDArray[np.float64]
    lower: NDArray[np.float64]
    upper: NDArray[np.float64]
    integrality: NDArray[np.bool_]
    layout: Layout
    decision_index: NDArray[np.int64]
    quadratic: QuadraticCost | None = None
    offset: float = 0.0

    def __post_init__(self) -> None:
        A = sp.csr_matrix(self.A, dtype=np.float64)
        m, n = A.shape
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "c", _vec("c", self.c, n))
        if not np.all(np.isfinite(self.c)):
            raise ValidationError("c must be finite")
        object.__setattr__(self, "row_lower", _vec("row_lower", self.row_lower, m))
        object.__setattr__(self, "row_upper", _vec("row_upper", self.row_upper, m))
        object.__setattr__(self, "lower", _vec("lower", self.lower, n))
        object.__setattr__(self, "upper", _vec("upper", self.upper, n))
        integ = np.asarray(self.integrality, dtype=bool).reshape(-1)
        if integ.shape[0] != n:
            raise ValidationError(f"integrality must have {n} entries, got {integ.shape[0]}")
        object.__setattr__(self, "integrality", integ)
        idx = np.asarray(self.decision_index, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise ValidationError("decision_index refers to columns outside the problem")
        object.__setattr__(self, "decision_index", idx)
        if self.quadratic is not None and self.quadratic.n_vars != idx.size:
            raise ValidationError(
                f"the quadratic cost has {self.quadratic.n_vars} variables but the problem's "
                f"decision vector has {idx.size}"
            )

    # ------------------------------------------------------------------ shape
    @property
    def n_vars(self) -> int:
        return int(self.A.shape[1])

    @property
    def n_rows(self) -> int:
        return int(self.A.shape[0])

    @property
    def n_decision(self) -> int:
        return int(self.decision_index.size)

    @property
    def is_mip(self) -> bool:
        return bool(self.integrality.any())

    @property
    def kind(self) -> ProblemKind:
        # max terms become linear rows (:meth:`epigraph`): only the smooth part counts
        quad = self.quadratic is not None and not self.quadratic.smooth.is_linear
        if self.is_mip:
            return ProblemKind.MIQP if quad else ProblemKind.MILP
        return ProblemKind.CONVEX_QP if quad else ProblemKind.LP

    # ------------------------------------------------------------------ derived problems
    def with_objective(
        self,
        c: ArrayLike | None = None,
        quadratic: QuadraticCost | None = None,
        offset: float | None = None,
    ) -> Problem:
        """Same feasible set with another objective; ``quadratic=None`` removes the quadratic."""
        return replace(
            self,
            c=self.c if c is None else np.asarray(c, dtype=np.float64),
            quadratic=quadratic,
            offset=self.offset if offset is None else float(offset),
        )

    @property
    def n_epigraph(self) -> int:
        """Epigraph variables :meth:`epigraph` adds: one per max term of the quadratic cost."""
        return 0 if self.quadratic is None else len(self.quadratic.max_terms)

    def epigraph(self) -> Problem:
        """The same problem with the cost's max terms as epigraph variables and linear rows.

        Each term ``w · max_j (A u + b)_j`` of :attr:`quadratic` becomes a free variable ``t``
        (block ``epigraph``, appended after the problem's columns) with cost ``w``, and the
        rows ``(A u)_j − t ≤ −b_j`` (group ``epigraph``). At the optimum ``t`` is the largest
        piece, so both problems have the same optimal decisions and values; a solution of the
        original is ``x[:n_vars]`` of the epigraph's. Returns ``self`` without max terms.
        """
        k = self.n_epigraph
        if k == 0:
            return self
        assert self.quadratic is not None
        n, d = self.n_vars, self.decision_index
        terms = self.quadratic.max_terms
        blocks, upper = [], []
        for j, term in enumerate(terms):
            rows = sp.lil_matrix((term.A.shape[0], n + k))
            rows[:, d] = term.A
            rows[:, n + j] = -1.0
            blocks.append(rows.tocsr())
            upper.append(-term.b)
        E = sp.vstack(blocks, format="csr")
        A = sp.hstack([self.A, sp.csr_matrix((self.n_rows, k))], format="csr")
        quadratic = self.quadratic.smooth
        return Problem(
            name=self.name,
            c=np.r_[self.c, [t.weight for t in terms]],
            A=sp.vstack([A, E], format="csr"),
            row_lower=np.r_[self.row_lower, np.full(E.shape[0], -np.inf)],
            row_upper=np.r_[self.row_upper, np.concatenate(upper)],
            lower=np.r_[self.lower, np.full(k, -np.inf)],
            upper=np.r_[self.upper, np.full(k, np.inf)],
            integrality=np.r_[self.integrality, np.zeros(k, dtype=bool)],
            layout=Layout(
                {**self.layout.variables, "epigraph": slice(n, n + k)},
                {**self.layout.constraints, "epigraph": slice(self.n_rows, self.n_rows + E.shape[0])},
            ),
            decision_index=d,
            quadratic=quadratic,
            offset=self.offset,
        )

    def epigraph_start(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """A solution ``x`` of this problem extended by its epigraph variables' values."""
        if self.n_epigraph == 0:
            return x
        assert self.quadratic is not None
        u = x[self.decision_index][None, :]
        return np.r_[x, [float(t.affine(u).max()) for t in self.quadratic.max_terms]]

    def with_bounds(self, lower: ArrayLike | None = None, upper: ArrayLike | None = None) -> Problem:
        """Same problem with other variable bounds."""
        return replace(
            self,
            lower=self.lower if lower is None else np.asarray(lower, dtype=np.float64),
            upper=self.upper if upper is None else np.asarray(upper, dtype=np.float64),
        )

    def relaxed(self) -> Problem:
        """The continuous relaxation (no integrality)."""
        return replace(self, integrality=np.zeros(self.n_vars, dtype=bool))

    def with_rows(
        self, group: str, A: ArrayLike, lower: ArrayLike, upper: ArrayLike
    ) -> Problem:
        """The problem with a new constraint group ``lower ≤ A x ≤ upper`` appended."""
        if group in self.layout.constraints:
            raise ValidationError(f"constraint group {group!r} already exists")
        block = sp.csr_matrix(np.atleast_2d(A) if not sp.issparse(A) else A, dtype=np.float64)
        if block.shape[1] != self.n_vars:
            raise ValidationError(f"new rows must have {self.n_vars} columns, got {block.shape[1]}")
        k = block.shape[0]
        return replace(
            self,
            A=sp.vstack([self.A, block], format="csr"),
            row_lower=np.r_[self.row_lower, np.broadcast_to(np.asarray(lower, float), (k,))],
            row_upper=np.r_[self.row_upper, np.broadcast_to(np.asarray(upper, float), (k,))],
            layout=Layout(
                dict(self.layout.variables),
                {**self.layout.constraints, group: slice(self.n_rows, self.n_rows + k)},
            ),
        )

    def without_group(self, group: str) -> Problem:
        """The problem with one constraint group removed (used to diagnose infeasibility)."""
        s = self.layout.constraints[group]
        keep = np.r_[0 : s.start, s.stop : self.n_rows]
        constraints: dict[str, slice] = {}
        shift = s.stop - s.start
        for name, block in self.layout.constraints.items():
            if name == group:
                continue
            if block.start >= s.stop:
                block = slice(block.start - shift, block.stop - shift)
            constraints[name] = block
        return replace(
            self,
            A=self.A[keep],
            row_lower=self.row_lower[keep],
            row_upper=self.row_upper[keep],
            layout=Layout(dict(self.layout.variables), constraints),
        )

    # ------------------------------------------------------------------ evaluation
    def objective(self, x: ArrayLike) -> float:
        """Objective value at a full solution vector of shape (n_vars,)."""
        x = _vec("x", x, self.n_vars)
        value = float(self.c @ x) + self.offset
        if self.quadratic is not None:
            value += float(self.quadratic(x[self.decision_index]))
        return value

    def check(self, x: ArrayLike, tol: float = 1e-6) -> FeasibilityReport:
        """Check a full solution vector against rows, bounds and integrality.

        Violations are reported per constraint group (rows), per variable block (bounds,
        ``"<block> bounds"``) and per variable block (integrality, ``"<block> integrality"``).
        """
        x = _vec("x", x, self.n_vars)
        found: list[Violation] = []
        act = self.A @ x
        row_excess = np.maximum(self.row_lower - act, act - self.row_upper)
        scale_r = tol * np.maximum(1.0, np.abs(act))
        for name, s in self.layout.constraints.items():
            ex = row_excess[s]
            bad = ex > scale_r[s]
            if bad.any():
                found.append(Violation(name, int(bad.sum()), float(ex[bad].max())))
        col_excess = np.maximum(self.lower - x, x - self.upper)
        frac = np.where(self.integrality, np.abs(x - np.round(x)), 0.0)
        for name, s in self.layout.variables.items():
            ex = col_excess[s]
            bad = ex > tol * np.maximum(1.0, np.abs(x[s]))
            if bad.any():
                found.append(Violation(f"{name} bounds", int(bad.sum()), float(ex[bad].max())))
            fr = frac[s]
            bad = fr > tol
            if bad.any():
                found.append(Violation(f"{name} integrality", int(bad.sum()), float(fr.max())))
        return FeasibilityReport(tuple(found), tol)
