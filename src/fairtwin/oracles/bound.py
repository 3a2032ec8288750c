"""The oracle bound: the lowest latent cost reachable in a context, searched directly on ``R``.

No learned cost can do better than minimising ``R`` itself over the feasible set, so
``ΔR_sur / ΔR_orc`` says how much of the reachable fairness gain a learned cost captured.
The search is an integer local search: from the best of a few starting decisions, repeatedly
take the best single move among

- one bed more or less in a region (within the pool),
- one bed moved from a region to another,
- one patient more or less on a transfer pair (within the transferable share),

evaluating every candidate move at once, until no move improves ``R`` or ``max_iter`` moves
are made. It uses ``R``, so it is an evaluation tool: the learner never calls it.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fairtwin.oracles.base import FairnessOracle
from fairtwin.twin import Context

__all__ = ["oracle_bound"]


@cache
def _eye(d: int) -> NDArray[np.float64]:
    eye = np.eye(d)
    eye.setflags(write=False)
    return eye


def _moves(twin, context: Context, u: NDArray[np.float64]) -> NDArray[np.float64]:
    """All single-step neighbours of ``u`` that stay feasible, shape (n_moves, n_decision)."""
    R = twin.n_regions
    d = twin.n_decision
    src, _ = twin.pairs
    y = u[:R]
    x = u[R:]
    movable = twin.transferable(context)
    out = np.bincount(src, weights=x, minlength=R)
    steps = []
    eye = _eye(d)
    pool_left = context.pool - y.sum()
    # +1 / -1 bed
    if pool_left >= 1:
        steps.append(eye[:R])
    steps.append(-eye[:R][y >= 1])
    # move a bed i -> j
    give = np.flatnonzero(y >= 1)
    if give.size:
        gi, gj = np.meshgrid(give, np.arange(R), indexing="ij")
        mask = gi != gj
        m = np.zeros((mask.sum(), d))
        m[np.arange(m.shape[0]), gi[mask]] = -1
        m[np.arange(m.shape[0]), gj[mask]] = 1
        steps.append(m)
    # +1 / -1 patient on a pair
    can_add = out[src] + 1 <= movable[src]
    steps.append(eye[R:][can_add])
    steps.append(-eye[R:][x >= 1])
    delta = np.concatenate(steps, axis=0)
    return u[None, :] + delta


def oracle_bound(
    oracle: FairnessOracle,
    context: Context,
    starts: ArrayLike,
    max_iter: int = 2000,
) -> tuple[NDArray[np.float64], float]:
    """Best decision found by local search on the latent cost.

    Parameters
    ----------
    oracle : FairnessOracle
    context : Context
    starts : ndarray of shape (n_starts, n_decision)
        Feasible starting decisions (e.g. the sampled decisions); the best one is the start.
    max_iter : int
        Cap on the number of moves.

    Returns
    -------
    u : ndarray of shape (n_decision,)
    value : float
        ``R(u)``.
    """
    twin = oracle.twin
    starts = np.atleast_2d(np.asarray(starts, dtype=np.float64))
    values = oracle.cost(starts, context)
    k = int(np.argmin(values))
    u, best = starts[k].copy(), float(values[k])
    for _ in range(max_iter):
        cand = _moves(twin, context, u)
        if cand.shape[0] == 0:
            break
        vals = oracle.cost(cand, context)
        j = int(np.argmin(vals))
        if vals[j] >= best - 1e-12 * max(1.0, abs(best)):
            break
        u, best = cand[j], float(vals[j])
    return u, best
