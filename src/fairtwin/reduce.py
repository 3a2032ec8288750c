"""PCA compression of decisions and exact reconstruction of a cost in the decision space.

Training works on ``z = Wᵀ(u − μ)`` with ``W`` of shape (n_vars, r) (whitened principal
directions: ``W = V Λ^{-1/2}``). A quadratic learned in ``z``,
``f_z(z) = ½ zᵀ H_z z + q_zᵀ z + c_z``, is the quadratic in ``u``

.. math::

    H_u = W H_z W^\\top,\\quad q_u = W q_z − H_u μ,\\quad
    c_u = c_z − q_z^\\top W^\\top μ + ½ μ^\\top H_u μ,

so that ``f_u(u) = f_z(Wᵀ(u − μ))`` for every ``u`` (property-tested). PCA never changes the
optimisation domain: every constraint and integrality stays in the full space.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fairtwin.costs import QuadraticCost
from fairtwin.exceptions import ValidationError

__all__ = ["PCA", "lift"]


class PCA:
    """Principal component analysis with optional whitening (scikit-learn style).

    Parameters
    ----------
    n_components : int or None
        ``r``; ``None`` keeps the identity map (no compression, ``W = I``, ``μ = 0``).
    whiten : bool
        Scale each component to unit variance.

    Attributes
    ----------
    mean_ : ndarray of shape (n_vars,)
    components_ : ndarray of shape (n_vars, r)
        Orthonormal principal directions.
    explained_variance_ : ndarray of shape (r,)
    explained_variance_ratio_ : ndarray of shape (r,)
    W_ : ndarray of shape (n_vars, r)
        The map ``z = W_ᵀ(u − mean_)``.
    """

    def __init__(self, n_components: int | None = 30, whiten: bool = True) -> None:
        self.n_components = n_components
        self.whiten = whiten

    def fit(self, U: ArrayLike) -> PCA:
        U = np.asarray(U, dtype=np.float64)
        if U.ndim != 2 or U.shape[0] < 2:
            raise ValidationError(f"PCA needs at least two decisions of shape (n, d), got {U.shape}")
        if not np.all(np.isfinite(U)):
            raise ValidationError("decisions contain NaN or inf")
        n, d = U.shape
        if self.n_components is None:
            self.mean_ = np.zeros(d)
            self.components_ = np.eye(d)
            self.explained_variance_ = np.ones(d)
            self.explained_variance_ratio_ = np.full(d, 1.0 / d)
            self.W_ = np.eye(d)
            return self
        if self.n_components < 1:
            raise ValidationError(f"n_components must be positive or None, got {self.n_components}")
        self.mean_ = U.mean(axis=0)
        X = U - self.mean_
        _, s, Vt = np.linalg.svd(X, full_matrices=False)
        var = s**2 / max(n - 1, 1)
        total = var.sum()
        keep = min(self.n_components, int(np.sum(var > 1e-10 * max(var.max(initial=0.0), 1e-300))))
        if keep < 1:
            raise ValidationError("all decisions are identical: nothing to compress")
        self.components_ = Vt[:keep].T
        self.explained_variance_ = var[:keep]
        self.explained_variance_ratio_ = var[:keep] / total
        scale = np.sqrt(self.explained_variance_) if self.whiten else np.ones(keep)
        self.W_ = self.components_ / scale
        return self

    @property
    def n_components_(self) -> int:
        return int(self.W_.shape[1])

    def transform(self, U: ArrayLike) -> NDArray[np.float64]:
        """``z = (U − mean_) W_``, shape (n, r)."""
        U = np.asarray(U, dtype=np.float64)
        if U.shape[-1] != self.W_.shape[0]:
            raise ValidationError(
                f"decisions have {U.shape[-1]} entries but the PCA was fitted on {self.W_.shape[0]}"
            )
        return (U - self.mean_) @ self.W_


def lift(cost_z: QuadraticCost, W: ArrayLike, mu: ArrayLike) -> QuadraticCost:
    """The cost in decision space of a cost learned in PCA space (see the module docstring).

    Parameters
    ----------
    cost_z : QuadraticCost over ``r`` variables
    W : ndarray of shape (n_vars, r)
    mu : ndarray of shape (n_vars,)
    """
    W = np.asarray(W, dtype=np.float64)
    mu = np.asarray(mu, dtype=np.float64)
    if W.ndim != 2 or W.shape[1] != cost_z.n_vars or mu.shape != (W.shape[0],):
        raise ValidationError(
            f"W must have shape (n_vars, {cost_z.n_vars}) and mu (n_vars,), got {W.shape}, {mu.shape}"
        )
    Lz = cost_z.low_rank_factor()
    F = W @ Lz
    Wt_mu = W.T @ mu
    F_mu = F.T @ mu
    q_u = W @ cost_z.q - F @ F_mu
    const = cost_z.const - cost_z.q @ Wt_mu + 0.5 * F_mu @ F_mu
    return QuadraticCost.from_factor(F, q_u, const)
