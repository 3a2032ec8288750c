"""The one cost type that flows from oracle to learner to solver.

A :class:`QuadraticCost` is the convex quadratic

.. math::

    f(u) = \\tfrac12 u^\\top H u + q^\\top u + c, \\qquad H \\succeq 0,

over a decision vector ``u``. It may carry a low-rank factor ``F`` with ``H = F F^\\top``; solvers
use that factor to add ``r`` auxiliary variables ``s = F^\\top u`` and the separable term
``\\tfrac12 \\lVert s \\rVert^2`` instead of a dense ``n × n`` Hessian.

It may also carry convex piecewise-linear terms (:class:`MaxAffine`),

.. math::

    f(u) = \\tfrac12 u^\\top H u + q^\\top u + c + \\sum_k w_k \\max_j (A_k u + b_k)_j,
    \\qquad w_k \\ge 0,

such as the largest member's value of an outcome group. Every open solver takes them
exactly through epigraph variables: ``t_k ≥ (A_k u + b_k)_j`` for every ``j`` and the linear
cost ``w_k t_k`` (:meth:`fairtwin.twin.problem.Problem.epigraph`), so a cost with such terms
keeps the problem an MIQP (or a MILP without a quadratic part).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fairtwin.exceptions import ValidationError

__all__ = ["MaxAffine", "QuadraticCost"]

FloatArray = NDArray[np.float64]


def _finite(name: str, value: FloatArray) -> None:
    if not np.all(np.isfinite(value)):
        raise ValidationError(f"{name} contains NaN or inf")


class MaxAffine:
    """A convex piecewise-linear term ``weight · max_j (A u + b)_j`` (``weight ≥ 0``).

    Parameters
    ----------
    weight : float
        Non-negative weight (a negative one would make the term concave).
    A : ndarray of shape (k, n)
        One affine piece per row, over the same decision vector as the quadratic.
    b : ndarray of shape (k,)
    name : str
        What the term is (``"max load"``); used in messages and layouts.

    Examples
    --------
    The largest of three members' values, and the positive part of one:

    >>> import numpy as np
    >>> peak = MaxAffine(2.0, np.eye(3), np.zeros(3))
    >>> float(peak(np.array([1.0, 4.0, 2.0])))
    8.0
    >>> over = MaxAffine(1.0, np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]), np.array([-1.0, 0.0]))
    >>> float(over(np.array([0.0, 0.5, 0.0])))
    0.0
    """

    __slots__ = ("weight", "A", "b", "name")
    weight: float
    A: FloatArray
    b: FloatArray
    name: str

    def __init__(self, weight: float, A: ArrayLike, b: ArrayLike, name: str = "max") -> None:
        Am = np.atleast_2d(np.asarray(A, dtype=np.float64))
        bv = np.asarray(b, dtype=np.float64).reshape(-1)
        if Am.ndim != 2 or Am.shape[0] != bv.shape[0] or Am.shape[0] == 0:
            raise ValidationError(
                f"a max term needs A of shape (k, n) and b of shape (k,) with k ≥ 1, got "
                f"{Am.shape} and {bv.shape}")
        _finite("A", Am)
        _finite("b", bv)
        if not (np.isfinite(weight) and weight >= 0):
            raise ValidationError(f"a max term's weight must be finite and ≥ 0, got {weight}")
        object.__setattr__(self, "weight", float(weight))
        object.__setattr__(self, "A", Am)
        object.__setattr__(self, "b", bv)
        object.__setattr__(self, "name", str(name))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"MaxAffine is immutable; cannot set {name}")

    def __getstate__(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.__slots__}

    def __setstate__(self, state: dict[str, object]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        return f"MaxAffine({self.name!r}, weight={self.weight:g}, pieces={self.A.shape[0]})"

    @property
    def n_vars(self) -> int:
        return int(self.A.shape[1])

    def affine(self, U: NDArray[np.float64]) -> NDArray[np.float64]:
        """Every piece's value at decisions of shape (m, n): shape (m, k)."""
        return np.einsum("ij,kj->ik", U, self.A) + self.b

    def __call__(self, u: ArrayLike) -> FloatArray | float:
        """``weight · max_j (A u + b)_j`` at one decision (shape (n,)) or a batch (m, n)."""
        U = np.asarray(u, dtype=np.float64)
        values = self.weight * self.affine(np.atleast_2d(U)).max(axis=1)
        return float(values[0]) if U.ndim == 1 else values

    def scaled(self, alpha: float) -> MaxAffine:
        return MaxAffine(self.weight * alpha, self.A, self.b, self.name)


class QuadraticCost:
    """Convex quadratic cost ``f(u) = ½ uᵀHu + qᵀu + const`` (lower is better).

    Parameters
    ----------
    H : ndarray of shape (n, n), or None
        Symmetric positive semi-definite Hessian; ``None`` when ``factor`` is given.
    q : ndarray of shape (n,)
        Linear term.
    const : float
        Constant offset; it does not change the minimiser.
    factor : ndarray of shape (n, r), optional
        A factor with ``H = factor @ factor.T``. Built with :meth:`from_factor`; when absent,
        :meth:`low_rank_factor` computes one from the eigen-decomposition of ``H``.

    Notes
    -----
    A cost built from a factor never forms the dense ``n × n`` Hessian for evaluation,
    gradients, scaling or solvers (at 80 regions it would be 6400 × 6400, 330 MB); reading
    :attr:`H` forms it once and keeps it (not pickled).
    """

    __slots__ = ("_H", "q", "const", "factor", "max_terms")
    _H: FloatArray | None
    q: FloatArray
    const: float
    factor: FloatArray | None
    max_terms: tuple[MaxAffine, ...]

    def __init__(self, H: ArrayLike | None, q: ArrayLike, const: float = 0.0,
                 factor: ArrayLike | None = None, max_terms: Sequence[MaxAffine] = ()) -> None:
        qv = np.asarray(q, dtype=np.float64).reshape(-1)
        _finite("q", qv)
        if not np.isfinite(const):
            raise ValidationError("const must be finite")
        F = None
        if factor is not None:
            F = np.asarray(factor, dtype=np.float64)
            if F.ndim != 2 or F.shape[0] != qv.shape[0]:
                raise ValidationError(
                    f"factor must have shape (n, r) with n = {qv.shape[0]}, got {F.shape}"
                )
            _finite("factor", F)
        Hm = None
        if H is None:
            if F is None:
                raise ValidationError("give H or a factor of H")
        else:
            Hm = np.asarray(H, dtype=np.float64)
            if Hm.ndim != 2 or Hm.shape[0] != Hm.shape[1]:
                raise ValidationError(f"H must be a square matrix, got shape {Hm.shape}")
            if Hm.shape[0] != qv.shape[0]:
                raise ValidationError(
                    f"H has shape {Hm.shape} but q has {qv.shape[0]} entries; they must agree"
                )
            _finite("H", Hm)
            scale = max(1.0, float(np.abs(Hm).max(initial=0.0)))
            if not np.allclose(Hm, Hm.T, atol=1e-9 * scale):
                raise ValidationError("H must be symmetric")
            Hm = 0.5 * (Hm + Hm.T)
        object.__setattr__(self, "_H", Hm)
        object.__setattr__(self, "q", qv)
        object.__setattr__(self, "const", float(const))
        object.__setattr__(self, "factor", F)
        terms = tuple(max_terms)
        for term in terms:
            if not isinstance(term, MaxAffine) or term.n_vars != qv.shape[0]:
                raise ValidationError(
                    f"max_terms must be MaxAffine terms over {qv.shape[0]} variables, got {term!r}")
        object.__setattr__(self, "max_terms", terms)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"QuadraticCost is immutable; cannot set {name}")

    def __getstate__(self) -> dict[str, object]:
        # a Hessian formed from the factor is not shipped to worker processes
        H = None if self.factor is not None else self._H
        return {"_H": H, "q": self.q, "const": self.const, "factor": self.factor,
                "max_terms": self.max_terms}

    def __setstate__(self, state: dict[str, object]) -> None:
        object.__setattr__(self, "max_terms", ())
        for name, value in state.items():
            object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        rank = "dense" if self.factor is None else f"rank {self.factor.shape[1]}"
        terms = f", {len(self.max_terms)} max terms" if self.max_terms else ""
        return f"QuadraticCost(n={self.n_vars}, {rank}, const={self.const:g}{terms})"

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_factor(cls, factor: ArrayLike, q: ArrayLike, const: float = 0.0,
                    max_terms: Sequence[MaxAffine] = ()) -> QuadraticCost:
        """Build ``f`` from a factor ``F`` of shape (n, r) with ``H = F Fᵀ`` (PSD by construction)."""
        F = np.asarray(factor, dtype=np.float64)
        if F.ndim != 2:
            raise ValidationError(f"factor must be 2-D of shape (n, r), got shape {F.shape}")
        return cls(None, np.asarray(q, dtype=np.float64), const, factor=F, max_terms=max_terms)

    @classmethod
    def linear(cls, q: ArrayLike, const: float = 0.0) -> QuadraticCost:
        """A purely linear cost ``qᵀu + const`` (``H = 0``)."""
        q = np.asarray(q, dtype=np.float64).reshape(-1)
        return cls(None, q, const, factor=np.zeros((q.shape[0], 0)))

    # ------------------------------------------------------------------ properties
    @property
    def H(self) -> FloatArray:
        """The dense Hessian (formed from the factor on first use)."""
        if self._H is None:
            F = self.factor
            assert F is not None
            object.__setattr__(self, "_H", F @ F.T)
        return self._H  # type: ignore[return-value]

    @property
    def n_vars(self) -> int:
        """Dimension ``n`` of the decision vector."""
        return int(self.q.shape[0])

    @property
    def is_linear(self) -> bool:
        """Whether ``H = 0`` and there are no max terms (the cost is ``qᵀu + const``)."""
        if self.max_terms:
            return False
        if self.factor is not None:
            return not np.any(self.factor)
        return not np.any(self.H)

    def __call__(self, u: ArrayLike) -> FloatArray | float:
        """Evaluate ``f`` at one decision (shape (n,)) or a batch (shape (m, n))."""
        U = np.asarray(u, dtype=np.float64)
        single = U.ndim == 1
        U = np.atleast_2d(U)
        if U.shape[1] != self.n_vars:
            raise ValidationError(
                f"decision has {U.shape[1]} entries but the cost expects {self.n_vars}"
            )
        # einsum, not BLAS: the same bits whatever the thread count (rankings of near ties
        # must not depend on the machine)
        if self.factor is not None:
            S = np.einsum("ij,jk->ik", U, self.factor)
            quad = 0.5 * np.einsum("ij,ij->i", S, S)
        else:
            quad = 0.5 * np.einsum("ij,jk,ik->i", U, self.H, U)
        values = quad + np.einsum("ij,j->i", U, self.q) + self.const
        for term in self.max_terms:
            values = values + term(U)
        return float(values[0]) if single else values

    def gradient(self, u: ArrayLike) -> FloatArray:
        """Gradient ``H u + q`` at a decision of shape (n,) (a subgradient with max terms:
        each term's largest piece)."""
        v = np.asarray(u, dtype=np.float64)
        if self.factor is not None:
            g = self.factor @ (self.factor.T @ v) + self.q
        else:
            g = self.H @ v + self.q
        for term in self.max_terms:
            g = g + term.weight * term.A[int(np.argmax(term.affine(v[None, :])[0]))]
        return g

    @property
    def smooth(self) -> QuadraticCost:
        """The quadratic part alone (no max terms)."""
        if not self.max_terms:
            return self
        return QuadraticCost(None if self.factor is not None else self._H, self.q, self.const,
                             factor=self.factor)

    def min_eigenvalue(self) -> float:
        """Smallest eigenvalue of ``H`` (≥ 0 up to round-off for a convex cost)."""
        n = self.n_vars
        if n == 0:
            return 0.0
        if self.factor is not None:
            F = self.factor
            if F.shape[1] < n:
                return 0.0
            return float(np.linalg.eigvalsh(F.T @ F)[0])
        return float(np.linalg.eigvalsh(self.H)[0])

    def low_rank_factor(self, rtol: float = 1e-10) -> FloatArray:
        """A factor ``F`` of shape (n, r) with ``H ≈ F Fᵀ`` and the smallest ``r`` that keeps
        eigenvalues above ``rtol × λ_max``.

        Returns the stored factor when the cost was built from one. Negative eigenvalues beyond
        round-off raise :class:`~fairtwin.exceptions.ValidationError` (the cost is not convex).
        """
        if self.factor is not None:
            return self.factor
        n = self.n_vars
        if n == 0 or not np.any(self.H):
            return np.zeros((n, 0))
        w, V = np.linalg.eigh(self.H)
        top = float(w[-1])
        if w[0] < -1e-8 * max(1.0, top):
            raise ValidationError(
                f"H is not positive semi-definite (smallest eigenvalue {w[0]:.3g}); "
                "a convex quadratic is required"
            )
        keep = w > rtol * top
        return V[:, keep] * np.sqrt(w[keep])

    def scaled(self, alpha: float) -> QuadraticCost:
        """``alpha · f`` for ``alpha ≥ 0``."""
        if alpha < 0 or not np.isfinite(alpha):
            raise ValidationError(f"scale must be finite and non-negative, got {alpha}")
        terms = tuple(term.scaled(alpha) for term in self.max_terms)
        if self.factor is not None:
            return QuadraticCost(None, self.q * alpha, self.const * alpha,
                                 self.factor * np.sqrt(alpha), terms)
        return QuadraticCost(self.H * alpha, self.q * alpha, self.const * alpha, max_terms=terms)
