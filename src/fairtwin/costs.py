"""The one cost type that flows from oracle to learner to solver.

A :class:`QuadraticCost` is the convex quadratic

.. math::

    f(u) = \\tfrac12 u^\\top H u + q^\\top u + c, \\qquad H \\succeq 0,

over a decision vector ``u``. It may carry a low-rank factor ``F`` with ``H = F F^\\top``; solvers
use that factor to add ``r`` auxiliary variables ``s = F^\\top u`` and the separable term
``\\tfrac12 \\lVert s \\rVert^2`` instead of a dense ``n × n`` Hessian.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fairtwin.exceptions import ValidationError

__all__ = ["QuadraticCost"]

FloatArray = NDArray[np.float64]


def _finite(name: str, value: FloatArray) -> None:
    if not np.all(np.isfinite(value)):
        raise ValidationError(f"{name} contains NaN or inf")


@dataclass(frozen=True, eq=False)
class QuadraticCost:
    """Convex quadratic cost ``f(u) = ½ uᵀHu + qᵀu + const`` (lower is better).

    Parameters
    ----------
    H : ndarray of shape (n, n)
        Symmetric positive semi-definite Hessian.
    q : ndarray of shape (n,)
        Linear term.
    const : float
        Constant offset; it does not change the minimiser.
    factor : ndarray of shape (n, r), optional
        A factor with ``H = factor @ factor.T``. Built with :meth:`from_factor`; when absent,
        :meth:`low_rank_factor` computes one from the eigen-decomposition of ``H``.
    """

    H: FloatArray
    q: FloatArray
    const: float = 0.0
    factor: FloatArray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        H = np.asarray(self.H, dtype=np.float64)
        q = np.asarray(self.q, dtype=np.float64).reshape(-1)
        if H.ndim != 2 or H.shape[0] != H.shape[1]:
            raise ValidationError(f"H must be a square matrix, got shape {H.shape}")
        if H.shape[0] != q.shape[0]:
            raise ValidationError(
                f"H has shape {H.shape} but q has {q.shape[0]} entries; they must agree"
            )
        _finite("H", H)
        _finite("q", q)
        if not np.isfinite(self.const):
            raise ValidationError("const must be finite")
        scale = max(1.0, float(np.abs(H).max(initial=0.0)))
        if not np.allclose(H, H.T, atol=1e-9 * scale):
            raise ValidationError("H must be symmetric")
        object.__setattr__(self, "H", 0.5 * (H + H.T))
        object.__setattr__(self, "q", q)
        object.__setattr__(self, "const", float(self.const))
        if self.factor is not None:
            F = np.asarray(self.factor, dtype=np.float64)
            if F.ndim != 2 or F.shape[0] != q.shape[0]:
                raise ValidationError(
                    f"factor must have shape (n, r) with n = {q.shape[0]}, got {F.shape}"
                )
            _finite("factor", F)
            object.__setattr__(self, "factor", F)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_factor(cls, factor: ArrayLike, q: ArrayLike, const: float = 0.0) -> QuadraticCost:
        """Build ``f`` from a factor ``F`` of shape (n, r) with ``H = F Fᵀ`` (PSD by construction)."""
        F = np.asarray(factor, dtype=np.float64)
        if F.ndim != 2:
            raise ValidationError(f"factor must be 2-D of shape (n, r), got shape {F.shape}")
        return cls(H=F @ F.T, q=np.asarray(q, dtype=np.float64), const=const, factor=F)

    @classmethod
    def linear(cls, q: ArrayLike, const: float = 0.0) -> QuadraticCost:
        """A purely linear cost ``qᵀu + const`` (``H = 0``)."""
        q = np.asarray(q, dtype=np.float64).reshape(-1)
        n = q.shape[0]
        return cls(H=np.zeros((n, n)), q=q, const=const, factor=np.zeros((n, 0)))

    # ------------------------------------------------------------------ properties
    @property
    def n_vars(self) -> int:
        """Dimension ``n`` of the decision vector."""
        return int(self.q.shape[0])

    def __call__(self, u: ArrayLike) -> FloatArray | float:
        """Evaluate ``f`` at one decision (shape (n,)) or a batch (shape (m, n))."""
        U = np.asarray(u, dtype=np.float64)
        single = U.ndim == 1
        U = np.atleast_2d(U)
        if U.shape[1] != self.n_vars:
            raise ValidationError(
                f"decision has {U.shape[1]} entries but the cost expects {self.n_vars}"
            )
        values = 0.5 * np.einsum("ij,jk,ik->i", U, self.H, U) + U @ self.q + self.const
        return float(values[0]) if single else values

    def gradient(self, u: ArrayLike) -> FloatArray:
        """Gradient ``H u + q`` at a decision of shape (n,)."""
        return self.H @ np.asarray(u, dtype=np.float64) + self.q

    def min_eigenvalue(self) -> float:
        """Smallest eigenvalue of ``H`` (≥ 0 up to round-off for a convex cost)."""
        if self.n_vars == 0:
            return 0.0
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
        factor = None if self.factor is None else self.factor * np.sqrt(alpha)
        return QuadraticCost(self.H * alpha, self.q * alpha, self.const * alpha, factor)
