"""The Siamese cost network: an MLP of the context that outputs a convex quadratic in ``z``.

For a context ``x0`` the network outputs ``S(x0)`` of shape (r, r) and ``q(x0)`` of shape (r,),
and the cost of a (compressed) decision ``z`` is

.. math::

    f_θ(z, x_0) = ½ z^\\top (S S^\\top + εI) z + q^\\top z,

convex in ``z`` for every ``x0``. Both branches of a comparison are the same module (shared
weights), so swapping A and B flips the sign of ``f(A) − f(B)``.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["SiameseCostNet"]


class SiameseCostNet(nn.Module):
    """MLP ``x0 → (S, q)`` and the quadratic cost it defines.

    Parameters
    ----------
    n_features : int
        Length of the context vector.
    n_latent : int
        ``r``, dimension of ``z``.
    hidden : tuple of int
        Hidden layer widths (the paper: 3 × 20).
    epsilon : float
        ``ε``, the curvature floor of ``H``.
    """

    def __init__(
        self, n_features: int, n_latent: int, hidden: tuple[int, ...] = (20, 20, 20),
        epsilon: float = 1e-3,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.Tanh()]
            width = h
        self.body = nn.Sequential(*layers)
        self.head_S = nn.Linear(width, n_latent * n_latent)
        self.head_q = nn.Linear(width, n_latent)
        self.n_latent = n_latent
        self.epsilon = epsilon
        with torch.no_grad():  # start close to ½ε‖z‖² + small curvature
            self.head_S.weight.mul_(0.1)
            self.head_q.weight.mul_(0.1)

    def parameters_of(self, x0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``S`` of shape (batch, r, r) and ``q`` of shape (batch, r)."""
        h = self.body(x0)
        S = self.head_S(h).view(-1, self.n_latent, self.n_latent) / self.n_latent**0.5
        return S, self.head_q(h)

    def hessian(self, x0: torch.Tensor) -> torch.Tensor:
        """``H = S Sᵀ + εI``, shape (batch, r, r)."""
        S, _ = self.parameters_of(x0)
        eye = torch.eye(self.n_latent, dtype=S.dtype, device=S.device)
        return S @ S.transpose(1, 2) + self.epsilon * eye

    def forward(self, x0: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Cost of decisions ``z`` (batch, r) in contexts ``x0`` (batch, n_features)."""
        S, q = self.parameters_of(x0)
        Sz = torch.einsum("bij,bi->bj", S, z)  # Sᵀz
        return 0.5 * (Sz * Sz).sum(-1) + 0.5 * self.epsilon * (z * z).sum(-1) + (q * z).sum(-1)
