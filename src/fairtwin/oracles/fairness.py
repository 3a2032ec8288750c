"""Built-in latent fairness costs over post-decision load ratios ``ρ_i``.

- ``rosenbrock`` (default, as in the paper): with ``z_i = 1 + κ(ρ_i − ρ̄)``,
  ``R = Σ_{i<n} [100 (z_{i+1} − z_i²)² + (1 − z_i)²]``, zero exactly when every region carries
  the national average load ``ρ̄`` (post-decision). Non-convex on purpose.
- ``gini``: the Gini coefficient of the load ratios.
- ``max-min``: the spread ``max_i ρ_i − min_i ρ_i``.
- ``quadratic``: ``½ Σ_i (ρ_i − ρ̄)²``, a convex-in-ρ reference used in tests.
- ``gini-travel``: the Gini coefficient plus what long transfers cost the patients moved:
  ``γ · Σ_ij max(0, d_ij − d_0) x_ij / Σ_i D_i`` (km beyond ``d_0`` = 200 km per ICU patient of
  the week, ``γ`` = 0.004 per km): a notion that depends on more than where the loads end up.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fairtwin.exceptions import UnknownNameError, ValidationError
from fairtwin.oracles.base import FairnessOracle
from fairtwin.twin import Context, ICUTwin

__all__ = [
    "RosenbrockOracle",
    "GiniOracle",
    "MaxMinOracle",
    "SquaredDeviationOracle",
    "TravelBurdenOracle",
    "ORACLES",
    "get_oracle",
]


class RosenbrockOracle(FairnessOracle):
    """Shifted Rosenbrock cost of the load ratios (DESIGN.md, the paper's simulated human).

    Parameters
    ----------
    twin : ICUTwin
    kappa : float
        ``κ``, the scale of load deviations.
    """

    name = "rosenbrock"

    def __init__(self, twin: ICUTwin, kappa: float = 1.0) -> None:
        super().__init__(twin)
        if not kappa > 0:
            raise ValidationError(f"kappa must be positive, got {kappa}")
        self.kappa = kappa

    def cost(self, U: ArrayLike, context: Context) -> NDArray[np.float64]:
        rho = self.load_ratios(U, context)
        rho_bar = self.national_ratio(U, context)[:, None]
        z = 1.0 + self.kappa * (rho - rho_bar)
        return np.sum(100.0 * (z[:, 1:] - z[:, :-1] ** 2) ** 2 + (1.0 - z[:, :-1]) ** 2, axis=1)


class GiniOracle(FairnessOracle):
    """Gini coefficient of the load ratios."""

    name = "gini"

    def cost(self, U: ArrayLike, context: Context) -> NDArray[np.float64]:
        rho = np.sort(self.load_ratios(U, context), axis=1)
        n = rho.shape[1]
        total = rho.sum(axis=1)
        k = np.arange(1, n + 1)
        g = (2 * (rho * k).sum(axis=1) / np.maximum(total, 1e-12) - (n + 1)) / n
        return np.where(total > 0, g, 0.0)


class MaxMinOracle(FairnessOracle):
    """Spread of the load ratios, ``max ρ − min ρ``."""

    name = "max-min"

    def cost(self, U: ArrayLike, context: Context) -> NDArray[np.float64]:
        rho = self.load_ratios(U, context)
        return rho.max(axis=1) - rho.min(axis=1)


class SquaredDeviationOracle(FairnessOracle):
    """``½ Σ_i (ρ_i − ρ̄)²``."""

    name = "quadratic"

    def cost(self, U: ArrayLike, context: Context) -> NDArray[np.float64]:
        rho = self.load_ratios(U, context)
        rho_bar = self.national_ratio(U, context)[:, None]
        return 0.5 * np.sum((rho - rho_bar) ** 2, axis=1)


class TravelBurdenOracle(GiniOracle):
    """Gini of the load ratios plus a charge on the long part of every transfer.

    Parameters
    ----------
    twin : ICUTwin
    per_km : float
        ``γ``, cost per km beyond ``free_km`` per ICU patient of the week.
    free_km : float
        ``d_0``, distance a patient may be moved at no charge.
    """

    name = "gini-travel"

    def __init__(self, twin: ICUTwin, per_km: float = 0.004, free_km: float = 200.0) -> None:
        super().__init__(twin)
        if not (per_km >= 0 and free_km >= 0):
            raise ValidationError("per_km and free_km must be non-negative")
        self.per_km = per_km
        self.long_km = np.maximum(twin.pair_km - free_km, 0.0)

    def cost(self, U: ArrayLike, context: Context) -> NDArray[np.float64]:
        U = np.atleast_2d(np.asarray(U, dtype=np.float64))
        patients = max(float(np.sum(context.demand)), 1.0)
        travel = U[:, self.twin.n_regions:] @ self.long_km / patients
        return super().cost(U, context) + self.per_km * travel


ORACLES: dict[str, type[FairnessOracle]] = {
    "rosenbrock": RosenbrockOracle,
    "gini": GiniOracle,
    "max-min": MaxMinOracle,
    "quadratic": SquaredDeviationOracle,
    "gini-travel": TravelBurdenOracle,
}


def get_oracle(name: str, twin: ICUTwin, **kwargs: float) -> FairnessOracle:
    """Build an oracle by name; unknown names list the allowed values."""
    if name not in ORACLES:
        raise UnknownNameError("oracle", name, ORACLES)
    return ORACLES[name](twin, **kwargs)
