"""The Siamese cost network: an MLP of the context that outputs a convex quadratic in ``z``.

For a context ``x0`` the network outputs ``S(x0)`` of shape (r, r) and ``q(x0)`` of shape (r,),
and the cost of a (compressed) decision ``z`` is

.. math::

    f_θ(z, x_0) = ½ z^\\top (S S^\\top + εI) z + q^\\top z,

convex in ``z`` for every ``x0``. Both branches of a comparison are the same module (shared
weights), so swapping A and B flips the sign of ``f(A) − f(B)``.

Three structures of the Hessian (the baselines of the experiments):

- ``full``: ``S`` is a full (r, r) matrix (the paper's model);
- ``diagonal``: ``S = diag(s)``, so ``H = diag(s²) + εI``;
- ``linear``: no quadratic term at all, ``f = qᵀz`` (``H = 0``): what the constructive
  preference-elicitation literature learns.
"""

from __future__ import annotations

import torch
from torch import nn

from fairtwin.learn.names import STRUCTURES

__all__ = ["SiameseCostNet", "STRUCTURES"]


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
        ``ε``, the curvature floor of ``H`` (0 for the ``linear`` structure).
    structure : {"full", "diagonal", "linear"}
    """

    def __init__(
        self, n_features: int, n_latent: int, hidden: tuple[int, ...] = (20, 20, 20),
        epsilon: float = 1e-3, structure: str = "full",
    ) -> None:
        super().__init__()
        if structure not in STRUCTURES:
            raise ValueError(f"unknown structure {structure!r}; allowed: {STRUCTURES}")
        layers: list[nn.Module] = []
        width = n_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.Tanh()]
            width = h
        self.body = nn.Sequential(*layers)
        self.structure = structure
        n_S = {"full": n_latent * n_latent, "diagonal": n_latent, "linear": 0}[structure]
        self.head_S = nn.Linear(width, n_S) if n_S else None
        self.head_q = nn.Linear(width, n_latent)
        self.n_latent = n_latent
        self.epsilon = 0.0 if structure == "linear" else epsilon
        with torch.no_grad():  # start close to ½ε‖z‖² + small curvature
            if self.head_S is not None:
                self.head_S.weight.mul_(0.1)
            self.head_q.weight.mul_(0.1)

    @property
    def n_parameters(self) -> int:
        """Number of learned scalars."""
        return int(sum(p.numel() for p in self.parameters()))

    def parameters_of(self, x0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``S`` of shape (batch, r, r) and ``q`` of shape (batch, r)."""
        h = self.body(x0)
        r = self.n_latent
        if self.structure == "full":
            assert self.head_S is not None
            S = self.head_S(h).view(-1, r, r) / r**0.5
        elif self.structure == "diagonal":
            assert self.head_S is not None
            S = torch.diag_embed(self.head_S(h))
        else:
            S = torch.zeros(h.shape[0], r, 0, dtype=h.dtype)
        return S, self.head_q(h)

    def hessian(self, x0: torch.Tensor) -> torch.Tensor:
        """``H = S Sᵀ + εI``, shape (batch, r, r)."""
        S, _ = self.parameters_of(x0)
        eye = torch.eye(self.n_latent, dtype=S.dtype, device=S.device)
        return S @ S.transpose(1, 2) + self.epsilon * eye

    def _cost(self, S: torch.Tensor, q: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        value = (q * z).sum(-1)
        if self.structure == "linear":
            return value
        if self.structure == "diagonal":
            sz = torch.diagonal(S, dim1=1, dim2=2) * z
        else:
            sz = torch.einsum("bij,bi->bj", S, z)  # Sᵀz
        return 0.5 * (sz * sz).sum(-1) + 0.5 * self.epsilon * (z * z).sum(-1) + value

    def forward(self, x0: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Cost of decisions ``z`` (batch, r) in contexts ``x0`` (batch, n_features)."""
        S, q = self.parameters_of(x0)
        return self._cost(S, q, z)

    def compare(
        self, x0: torch.Tensor, z_a: torch.Tensor, z_b: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Costs of two decisions per context, the context's parameters computed once."""
        S, q = self.parameters_of(x0)
        return self._cost(S, q, z_a), self._cost(S, q, z_b)
