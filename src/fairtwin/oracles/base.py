"""Latent fairness costs ``R(u, x0)`` (lower is fairer) and the raters built on them.

An :class:`FairnessOracle` evaluates the latent cost of decisions; a :class:`Rater` turns it
into pairwise labels, with optional noise. The learner never sees ``R``: only labels.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fairtwin.exceptions import ValidationError
from fairtwin.twin import Context, ICUTwin

__all__ = ["FairnessOracle", "post_decision_loads"]


def _net_inflow(twin: ICUTwin) -> NDArray[np.float64]:
    """(n_pairs, n_regions) matrix: +1 at a pair's destination, −1 at its source."""
    src, dst = twin.pairs
    return _incidence(twin.n_regions, np.asarray(src, dtype=np.int64).tobytes(),
                      np.asarray(dst, dtype=np.int64).tobytes())


@lru_cache(maxsize=16)
def _incidence(n_regions: int, src_bytes: bytes, dst_bytes: bytes) -> NDArray[np.float64]:
    src, dst = np.frombuffer(src_bytes, dtype=np.int64), np.frombuffer(dst_bytes, dtype=np.int64)
    E = np.zeros((src.size, n_regions))
    E[np.arange(src.size), src] -= 1.0
    E[np.arange(src.size), dst] += 1.0
    E.setflags(write=False)
    return E


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
    load = context.demand[None, :] + X @ _net_inflow(twin)
    beds = context.capacity[None, :] + U[:, :R]
    return load, beds


class FairnessOracle(ABC):
    """A latent fairness cost of decisions in a context (lower is fairer).

    Parameters
    ----------
    twin : ICUTwin
    """

    name: str = "oracle"

    def __init__(self, twin: ICUTwin) -> None:
        self.twin = twin

    def load_ratios(self, U: ArrayLike, context: Context) -> NDArray[np.float64]:
        """Post-decision load ratios, shape (n_decisions, n_regions); empty regions count 0."""
        load, beds = post_decision_loads(self.twin, U, context)
        return np.divide(load, beds, out=np.zeros_like(load), where=beds > 0)

    def national_ratio(self, U: ArrayLike, context: Context) -> NDArray[np.float64]:
        """``ρ̄``: total patients over total beds after each decision, shape (n_decisions,)."""
        load, beds = post_decision_loads(self.twin, U, context)
        return load.sum(axis=1) / np.maximum(beds.sum(axis=1), 1.0)

    @abstractmethod
    def cost(self, U: ArrayLike, context: Context) -> NDArray[np.float64]:
        """Latent cost of each decision, shape (n_decisions,)."""

    def __call__(self, U: ArrayLike, context: Context) -> NDArray[np.float64] | float:
        U = np.asarray(U, dtype=np.float64)
        values = self.cost(np.atleast_2d(U), context)
        return float(values[0]) if U.ndim == 1 else values
