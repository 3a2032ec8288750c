"""Deploy only what the answers support.

The re-solve proposes the decision that is best under the *fitted* weights; an optimiser seeks
out a learned model's errors, and with few or unexplained answers the fitted weights can be far
from the raters' notion. Before a proposal ``u`` replaces the nominal decision of a context, the
posterior over the weights (the learner's :meth:`posterior_draws`) gives the probability that
the learned notion ranks it fairer,

.. math::

    p = P_{θ \\sim \text{posterior}}\big(f_θ(u) < f_θ(u_\text{nom})\big),

which stays low where the proposal leaves what the answers inform (a weight they barely pin
down, features far beyond the compared decisions') — and ``p = ½`` for every proposal when the
out-of-week evidence finds the answers unexplained by the outcomes
(:class:`~fairtwin.learn.evidence.Evidence`: lack of fit, no agreement on unseen weeks, or
proposals the raters rejected in the active rounds).

The rule ``supported`` (default) walks a ladder, boldest first — the re-solve; the re-solve
with *cautious* weights (each quadratic weight at its posterior 90 % quantile, rescaled so that
the heaviest group keeps its fitted weight: what the answers leave uncertain is charged, not
assumed free); the same within what the context's candidates span (``bounded``: a trust region
of decisions like those raters compared); the best of the context's own candidates (``select``) —
and deploys the first whose ``p`` reaches ``min_probability``; a context with none keeps its
nominal decision (a tie, not a loss). The rule ``always`` deploys the re-solve (the paper's
method, and the active rounds, which ask about proposals precisely to learn where they are
wrong). :class:`Support` also carries the probability a noisy rater answers for the proposal,
``P(u ≻ u_nom | f_θ)`` at the posterior's median draw with the answer model that unseen weeks'
answers calibrated (:class:`~fairtwin.learn.evidence.AnswerLink`: temperature, lapse, absolute
or relative gaps; fitted on predictions of models that never saw those weeks, so their errors
already hold the weights' uncertainty), and its 90 % interval over the posterior.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["Support", "Deployment", "support_of", "choose", "rival_rungs", "rivals_agree",
           "describe_rivals", "CHOICES"]

#: what a context deploys: the re-solve, its best own candidate, or the nominal decision
CHOICES = ("re-solve", "cautious", "bounded", "select", "nominal")


@dataclass(frozen=True)
class Support:
    """The posterior's view of one proposal against the nominal decision.

    Attributes
    ----------
    probability : float
        Probability that a rater answers for the proposal (the answer model of the evidence,
        :class:`~fairtwin.learn.evidence.AnswerLink`, at the posterior's median draw: the
        median of that probability over the draws).
    low, high : float
        The 5 % and 95 % quantiles of that probability over the posterior.
    better : float
        ``p``: posterior probability that the learned notion ranks the proposal fairer (½
        without evidence); the rule deploys on it.
    agreed : bool
        Whether every rival model (:func:`rivals_agree`) ranks the proposal fairer too; the
        rule deploys only what they all do.
    """

    probability: float
    low: float
    high: float
    better: float
    agreed: bool = True


def support_of(f_proposal: NDArray[np.float64], f_nominal: NDArray[np.float64],
               answer: Callable[[NDArray[np.float64], NDArray[np.float64]], NDArray[np.float64]],
               supported: bool = True) -> Support:
    """Support from posterior draws of the learned costs of the proposal and of the nominal
    decision (each of shape (n_draws,)); ``answer(f_a, f_b)`` is the probability that a rater
    answers for A (:meth:`~fairtwin.learn.evidence.AnswerLink.probability`).

    Without ``supported`` (lack of fit, or no agreement with unseen weeks) every probability is
    ½: nothing is supported.
    """
    fa = np.asarray(f_proposal, dtype=np.float64).reshape(-1)
    fb = np.asarray(f_nominal, dtype=np.float64).reshape(-1)
    g = fb - fa
    if not supported:
        return Support(0.5, 0.5, 0.5, 0.5)
    # the answer model was fitted on unseen weeks' predictions, whose errors already hold the
    # weights' uncertainty: at the posterior's median draw, not averaged over the posterior
    # again (and not at the mean costs, which a few heavy draws can turn against the proposal
    # that most draws prefer); the link is monotone in the gap, so this is the draws' median
    lo, p, hi = np.quantile(answer(fa, fb), [0.05, 0.5, 0.95])
    return Support(float(p), float(lo), float(hi), float(np.mean(g > 0)))


def choose(supports: Iterable[Support], min_probability: float) -> int:
    """Index of the first proposal whose posterior probability of being fairer reaches
    ``min_probability`` and that every rival model ranks fairer too (the ladder is ordered
    boldest first), or -1: keep the nominal decision. ``supports`` may be a generator: it is
    not read past the chosen rung."""
    for k, s in enumerate(supports):
        if s.better >= min_probability and s.agreed:
            return k
    return -1


def rival_rungs(table: Iterable[dict], chosen: str) -> list[dict]:
    """The rows of a model ladder's table (:attr:`~fairtwin.learn.evidence.ModelChoice.table`:
    ``name``, ``cv_accuracy``, ``gain_se``) that are the ``chosen`` rung's rivals: ahead of it
    in held-out-week accuracy by more than one standard error of their paired gain over the
    base model (a rung ahead by less is noise: with the ICU twin's ``load`` group,
    ``base+load`` ahead of the base by 0.001, 0.1 standard errors, kept 8 of 52 held-out weeks
    of the travel-averse notion at nominal, seed 2). Empty when ``chosen`` is not in the
    table (no ladder was climbed)."""
    rows = list(table)
    best = _accuracy_of(rows, chosen)
    if best is None:
        return []
    return [r for r in rows if r["cv_accuracy"] - best > r.get("gain_se", 0.0)]


def _accuracy_of(rows: list[dict], name: str) -> float | None:
    """The held-out accuracy of rung ``name`` in a ladder's table (``None`` if absent)."""
    return next((r["cv_accuracy"] for r in rows if r["name"] == name), None)


def describe_rivals(table: Iterable[dict], chosen: str) -> str | None:
    """One line naming the ``chosen`` rung's rivals (:func:`rival_rungs`) with their
    held-out-week accuracy and lead in standard errors, for a run's printout; ``None``
    without rivals."""
    rows = list(table)
    rivals = rival_rungs(rows, chosen)
    best = _accuracy_of(rows, chosen)
    if not rivals or best is None:
        return None
    named = ", ".join(f"{r['name']} {r['cv_accuracy']:.3f} "
                      f"(+{(r['cv_accuracy'] - best) / r['gain_se']:.1f} s.e.)" for r in rivals)
    return (f"rivals of {chosen} (ahead on held-out contexts by more than one standard error; "
            f"with [resolve] rivals = true a context deploys only what they rank fairer too): "
            f"{named}")


def rivals_agree(costs: Iterable[NDArray[np.float64]]) -> bool:
    """Whether every rival model's learned costs ``[f(proposal), f(nominal)]`` rank the
    proposal fairer (true without rivals).

    A posterior over one model's weights is confident about what that model gets wrong: with
    260 answers of the per-resident notion the base model (which lacks patients per resident)
    re-solved six held-out weeks at ``p`` 0.90–0.95 into decisions less fair than nominal. Its
    rivals — the rungs of the model ladder whose held-out-week accuracy was *higher* than the
    chosen model's by more than one standard error, and less than the two that choosing them
    needs — are models the answers favour without ruling the chosen one out; a proposal one of
    them ranks less fair than nominal is not supported by the answers.
    """
    return all(float(f[0]) < float(f[1]) for f in costs)


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
    probability : ndarray of shape (n_rows,)
        The re-solve proposal's ``better``: the posterior probability that the raters' notion,
        as learned, prefers it to the nominal decision (what the rule deploys on).
    low, high, answer : ndarray of shape (n_rows,)
        The 90 % interval and the mean over the posterior of the probability that a rater
        answers for the re-solve proposal against the nominal decision
        (:attr:`Support.probability`; nan in records written before it was kept).
    """

    decisions: NDArray[np.float64]
    proposed: NDArray[np.float64]
    choice: list[str]
    probability: NDArray[np.float64]
    low: NDArray[np.float64]
    high: NDArray[np.float64]
    answer: NDArray[np.float64]

    def counts(self, rows: NDArray[np.int64] | None = None) -> dict[str, int]:
        """How many rows (of ``rows``, default all) deployed each choice."""
        sel = range(len(self.choice)) if rows is None else rows
        chosen = [self.choice[int(i)] for i in sel]
        return {c: chosen.count(c) for c in CHOICES}
