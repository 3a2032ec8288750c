"""The ICU twin's own notions of fairness, over post-decision load ratios ``ρ_i``.

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

from functools import lru_cache

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from fairtwin.exceptions import ValidationError
from fairtwin.twin.base import FairnessOracle
from fairtwin.twin.icu.model import Context, ICUTwin

__all__ = [
    "LoadOracle",
    "RosenbrockOracle",
    "GiniOracle",
    "MaxMinOracle",
    "SquaredDeviationOracle",
    "TravelBurdenOracle",
    "ICU_ORACLES",
    "post_decision_loads",
    "ratios_of",
    "national_of",
]


def _net_inflow(twin: ICUTwin) -> sp.csr_matrix:
    """(n_pairs, n_regions) sparse matrix: +1 at a pair's destination, −1 at its source."""
    src, dst = twin.pairs
    return _incidence(twin.n_regions, np.asarray(src, dtype=np.int64).tobytes(),
                      np.asarray(dst, dtype=np.int64).tobytes())


@lru_cache(maxsize=16)
def _incidence(n_regions: int, src_bytes: bytes, dst_bytes: bytes) -> sp.csr_matrix:
    src, dst = np.frombuffer(src_bytes, dtype=np.int64), np.frombuffer(dst_bytes, dtype=np.int64)
    rows = np.arange(src.size)
    return sp.csr_matrix((np.concatenate([-np.ones(src.size), np.ones(src.size)]),
                          (np.concatenate([rows, rows]), np.concatenate([src, dst]))),
                         shape=(src.size, n_regions))


def post_decision_loads(
    twin: ICUTwin, U: ArrayLike, context: Context
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Patients present and beds available per region after each decision.

    Parameters
    ----------
    U : ndarray of shape (n_decisions, n_decision) or (n_decision,)

    Returns
    -------
    load, beds : ndarray of shape (n_decisions, n_regions)
    """
    U = np.atleast_2d(np.asarray(U, dtype=np.float64))
    if U.shape[1] != twin.n_decision:
        raise ValidationError(
            f"decisions must have {twin.n_decision} entries, got {U.shape[1]}"
        )
    R = twin.n_regions
    X = U[:, R:]
    load = context.demand[None, :] + np.asarray(X @ _net_inflow(twin))
    beds = context.capacity[None, :] + U[:, :R]
    return load, beds


def ratios_of(load: NDArray[np.float64], beds: NDArray[np.float64]) -> NDArray[np.float64]:
    """Load ratios ``load / beds`` per region (0 where a region has no bed)."""
    return np.divide(load, beds, out=np.zeros_like(load), where=beds > 0)


def national_of(load: NDArray[np.float64], beds: NDArray[np.float64]) -> NDArray[np.float64]:
    """The national load ratio ``Σ load / Σ beds`` of each decision."""
    return load.sum(axis=1) / np.maximum(beds.sum(axis=1), 1.0)


class LoadOracle(FairnessOracle):
    """A notion of fairness of the ICU twin's post-decision load ratios.

    A subclass defines :meth:`cost_of_loads` (the cost from the patients present and the beds
    available per region) and, if it charges the decision itself linearly, :meth:`linear_cost`;
    the cost of many single-step moves is then computed from the loads' changes
    (:meth:`move_costs`), without forming the moved decisions.
    """

    twin: ICUTwin

    def load_ratios(self, U: ArrayLike, context: Context) -> NDArray[np.float64]:
        """Post-decision load ratios, shape (n_decisions, n_regions); empty regions count 0."""
        return ratios_of(*post_decision_loads(self.twin, U, context))

    def national_ratio(self, U: ArrayLike, context: Context) -> NDArray[np.float64]:
        """``ρ̄``: total patients over total beds after each decision, shape (n_decisions,)."""
        return national_of(*post_decision_loads(self.twin, U, context))

    def cost_of_loads(self, load: NDArray[np.float64], beds: NDArray[np.float64],
                      context: Context) -> NDArray[np.float64]:
        """The cost of decisions given their post-decision loads and beds, (n, n_regions) each."""
        raise NotImplementedError

    def linear_cost(self, context: Context) -> NDArray[np.float64] | None:
        """A per-decision-entry linear charge added to :meth:`cost_of_loads` (default: none)."""
        return None

    def cost(self, U: ArrayLike, context: Context) -> NDArray[np.float64]:
        U = np.atleast_2d(np.asarray(U, dtype=np.float64))
        value = self.cost_of_loads(*post_decision_loads(self.twin, U, context), context)
        lin = self.linear_cost(context)
        return value if lin is None else value + U @ lin

    def move_costs(self, u: NDArray[np.float64], steps: sp.csr_matrix,
                   context: Context) -> NDArray[np.float64]:
        R = self.twin.n_regions
        load, beds = post_decision_loads(self.twin, u, context)
        load = load + (steps[:, R:] @ _net_inflow(self.twin)).toarray()
        beds = beds + steps[:, :R].toarray()
        value = self.cost_of_loads(load, beds, context)
        lin = self.linear_cost(context)
        return value if lin is None else value + (float(u @ lin) + steps @ lin)


class RosenbrockOracle(LoadOracle):
    """Shifted Rosenbrock cost of the load ratios (the paper's simulated human).

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

    def cost_of_loads(self, load: NDArray[np.float64], beds: NDArray[np.float64],
                      context: Context) -> NDArray[np.float64]:
        z = 1.0 + self.kappa * (ratios_of(load, beds) - national_of(load, beds)[:, None])
        return np.sum(100.0 * (z[:, 1:] - z[:, :-1] ** 2) ** 2 + (1.0 - z[:, :-1]) ** 2, axis=1)


class GiniOracle(LoadOracle):
    """Gini coefficient of the load ratios."""

    name = "gini"

    def cost_of_loads(self, load: NDArray[np.float64], beds: NDArray[np.float64],
                      context: Context) -> NDArray[np.float64]:
        rho = np.sort(ratios_of(load, beds), axis=1)
        n = rho.shape[1]
        total = rho.sum(axis=1)
        k = np.arange(1, n + 1)
        g = (2 * (rho * k).sum(axis=1) / np.maximum(total, 1e-12) - (n + 1)) / n
        return np.where(total > 0, g, 0.0)


class MaxMinOracle(LoadOracle):
    """Spread of the load ratios, ``max ρ − min ρ``."""

    name = "max-min"

    def cost_of_loads(self, load: NDArray[np.float64], beds: NDArray[np.float64],
                      context: Context) -> NDArray[np.float64]:
        rho = ratios_of(load, beds)
        return rho.max(axis=1) - rho.min(axis=1)


class SquaredDeviationOracle(LoadOracle):
    """``½ Σ_i (ρ_i − ρ̄)²``."""

    name = "quadratic"

    def cost_of_loads(self, load: NDArray[np.float64], beds: NDArray[np.float64],
                      context: Context) -> NDArray[np.float64]:
        rho = ratios_of(load, beds)
        return 0.5 * np.sum((rho - national_of(load, beds)[:, None]) ** 2, axis=1)


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

    def linear_cost(self, context: Context) -> NDArray[np.float64]:
        patients = max(float(np.sum(context.demand)), 1.0)
        return np.concatenate([np.zeros(self.twin.n_regions),
                               self.per_km * self.long_km / patients])


ICU_ORACLES: dict[str, type[LoadOracle]] = {
    "rosenbrock": RosenbrockOracle,
    "gini": GiniOracle,
    "max-min": MaxMinOracle,
    "quadratic": SquaredDeviationOracle,
    "gini-travel": TravelBurdenOracle,
}
