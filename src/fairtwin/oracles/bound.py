"""The oracle bound: the lowest latent cost reachable in a context, searched directly on ``R``.

No learned cost can do better than minimising ``R`` itself over the feasible set, so
``ΔR_sur / ΔR_orc`` says how much of the reachable fairness gain a learned cost captured.
The search is an integer local search: from the best of a few starting decisions, repeatedly
take the best of the twin's feasible single-step moves
(:meth:`~fairtwin.twin.base.Twin.move_steps`;
for the ICU twin: one bed more or less in a region, one bed moved between regions, one patient
more or less on a transfer pair), scoring every candidate move at once
(:meth:`~fairtwin.twin.base.FairnessOracle.move_costs`, from the sparse steps), until no move
improves ``R`` or ``max_iter`` moves are made. It uses ``R``, so it is an evaluation tool: the
learner never calls it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fairtwin.oracles.base import FairnessOracle

__all__ = ["oracle_bound"]


def oracle_bound(
    oracle: FairnessOracle,
    context: Any,
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
        steps, checked = twin.move_steps(u, context)
        if steps.shape[0] == 0:
            break
        vals = oracle.move_costs(u, steps, context)
        threshold = best - 1e-12 * max(1.0, abs(best))
        if checked:
            j = int(np.argmin(vals))
        else:  # check the improving moves best first, until a feasible one
            j = next((int(k) for k in np.argsort(vals, kind="stable")
                      if vals[k] < threshold
                      and twin.check(u + steps[k].toarray()[0], context).feasible), -1)
            if j < 0:
                break
        if vals[j] >= threshold:
            break
        u, best = u + steps[j].toarray()[0], float(vals[j])
    return u, best
