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

With ``guard_limit`` the search stays where a deployment may go when the re-solve holds the
twin's guard: starts above the limit are skipped, and a move that would raise the guarded
quantity (:meth:`~fairtwin.twin.base.Twin.guarded`: the ICU twin's patients without a bed, the
vaccine example's people without a dose) above it is not taken. Without it the bound may reach
its fairness by leaving more people unserved than the nominal decision (on the vaccine example
with the doses-per-resident notion: in every held-out week, 6100 people more on average).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fairtwin.exceptions import ValidationError
from fairtwin.oracles.base import FairnessOracle

__all__ = ["oracle_bound"]


def oracle_bound(
    oracle: FairnessOracle,
    context: Any,
    starts: ArrayLike,
    max_iter: int = 2000,
    guard_limit: float | None = None,
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
    guard_limit : float, optional
        The most the twin's guarded quantity may be (the nominal decision's, to compare with a
        re-solve that holds the guard); at least one start must keep it.

    Returns
    -------
    u : ndarray of shape (n_decision,)
    value : float
        ``R(u)``.
    """
    twin = oracle.twin
    starts = np.atleast_2d(np.asarray(starts, dtype=np.float64))
    values = oracle.cost(starts, context)
    if guard_limit is not None:
        kept = np.array([twin.guarded(s, context) <= guard_limit + 1e-6 for s in starts])
        if not kept.any():
            raise ValidationError(f"no start of the oracle bound of {context} keeps the "
                                  f"{twin.guard_name} at or below {guard_limit:g}; include the "
                                  f"nominal decision")
        values = np.where(kept, values, np.inf)
    k = int(np.argmin(values))
    u, best = starts[k].copy(), float(values[k])
    for _ in range(max_iter):
        steps, checked = twin.move_steps(u, context)
        if steps.shape[0] == 0:
            break
        vals = oracle.move_costs(u, steps, context)
        threshold = best - 1e-12 * max(1.0, abs(best))
        if checked and guard_limit is None:
            j = int(np.argmin(vals))
        else:  # check the improving moves best first, until one is allowed
            j = next((int(k) for k in np.argsort(vals, kind="stable")
                      if vals[k] < threshold
                      and _allowed(twin, u + steps[k].toarray()[0], context, checked,
                                   guard_limit)), -1)
            if j < 0:
                break
        if vals[j] >= threshold:
            break
        u, best = u + steps[j].toarray()[0], float(vals[j])
    return u, best


def _allowed(twin: Any, u: NDArray[np.float64], context: Any, checked: bool,
             guard_limit: float | None) -> bool:
    """Whether the search may move to ``u``: feasible (unless the moves were checked) and,
    with ``guard_limit``, its guarded quantity within it."""
    if not checked and not twin.check(u, context).feasible:
        return False
    return guard_limit is None or twin.guarded(u, context) <= guard_limit + 1e-6
