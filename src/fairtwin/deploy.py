"""Deploy only what the answers support.

The re-solve proposes the decision that is best under the *fitted* weights; an optimiser seeks
out a learned model's errors, and with few or unexplained answers the fitted weights can be far
from the raters' notion. Before a proposal replaces the nominal decision of a context, the
posterior over the weights (the learner's :meth:`posterior_draws`) and the calibration of the
learned cost on unseen weeks (:class:`~fairtwin.learn.evidence.Evidence`) give the probability
that the raters prefer it:

.. math::

    p = \\mathbb{E}_{θ \\sim \\text{posterior}} \\, σ\\big(τ \\, (f_θ(u_\\text{nom}) − f_θ(u))\\big),

with ``τ`` the out-of-week calibration temperature (0 when the answers are not explained by
the outcomes: then ``p = ½`` for every proposal). The rule ``supported`` (default) walks a
ladder of proposals, boldest first — the re-solve, then the best of the context's own
candidates (decisions of the kind raters compared) — and deploys the first whose ``p`` reaches
``min_probability``; a context with none keeps its nominal decision (a tie, not a loss). The
rule ``always`` deploys the re-solve (the paper's method, and the active rounds, which ask
about proposals precisely to learn where they are wrong).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["Support", "Deployment", "support_of", "choose", "CHOICES"]

#: what a context deploys: the re-solve, its best own candidate, or the nominal decision
CHOICES = ("re-solve", "select", "nominal")


@dataclass(frozen=True)
class Support:
    """The posterior's view of one proposal against the nominal decision.

    Attributes
    ----------
    probability : float
        ``p``: probability that the raters prefer the proposal (posterior mean).
    low, high : float
        The 5 % and 95 % quantiles of that probability over the posterior.
    better : float
        Posterior probability that the learned notion ranks the proposal fairer at all.
    """

    probability: float
    low: float
    high: float
    better: float


def support_of(gaps: NDArray[np.float64], temperature: float) -> Support:
    """Support from posterior draws of ``f(nominal) − f(proposal)`` (shape (n_draws,)).

    ``temperature`` 0 (lack of fit, or no evidence) gives no support: probability ½.
    """
    g = np.asarray(gaps, dtype=np.float64).reshape(-1)
    p = 1.0 / (1.0 + np.exp(-np.clip(temperature * g, -50.0, 50.0)))
    lo, hi = np.quantile(p, [0.05, 0.95])
    better = float(np.mean(g > 0)) if temperature > 0 else 0.5
    return Support(float(p.mean()), float(lo), float(hi), better)


def choose(supports: list[Support], min_probability: float) -> int:
    """Index of the first proposal whose posterior probability of being fairer reaches
    ``min_probability`` (the ladder is ordered boldest first), or -1: keep the nominal
    decision."""
    for k, s in enumerate(supports):
        if s.better >= min_probability:
            return k
    return -1


@dataclass(frozen=True, eq=False)
class Deployment:
    """What the rule deployed in each context (rows of a dataset).

    Attributes
    ----------
    decisions : ndarray of shape (n_rows, n_decision)
        The deployed decisions.
    proposed : ndarray of shape (n_rows, n_decision)
        The re-solve's proposals (deployed or not).
    choice : list of str
        One of :data:`CHOICES` per row.
    probability, low, high : ndarray of shape (n_rows,)
        The re-solve proposal's :class:`Support` (probability that raters prefer it to the
        nominal decision, and its 90 % interval over the posterior).
    """

    decisions: NDArray[np.float64]
    proposed: NDArray[np.float64]
    choice: list[str]
    probability: NDArray[np.float64]
    low: NDArray[np.float64]
    high: NDArray[np.float64]

    def counts(self, rows: NDArray[np.int64] | None = None) -> dict[str, int]:
        """How many rows (of ``rows``, default all) deployed each choice."""
        sel = range(len(self.choice)) if rows is None else rows
        chosen = [self.choice[int(i)] for i in sel]
        return {c: chosen.count(c) for c in CHOICES}
