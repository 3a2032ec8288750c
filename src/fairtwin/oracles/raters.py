"""Simulated raters: pairwise labels from a latent fairness cost, with noise.

- :class:`SimulatedRater` with ``flip_rate = p`` answers like the oracle and then flips each
  label independently with probability ``p`` (the paper's 0/10/20/30 % noise); two decisions
  of exactly the same latent cost get a coin's answer.
- :class:`LogisticRater` is a Bradley–Terry rater: it prefers A with probability
  ``σ((R_B − R_A) / (T · (|R_A| + |R_B|) / 2))``, so its errors grow as the two decisions get
  closer in relative terms; ``T`` is the temperature.

Either answers "equally fair" (:meth:`Rater.judge` returns 0) for pairs whose latent costs lie
within ``tie_margin`` of each other, relative to their mean (``|R_A − R_B| ≤ m (|R_A| + |R_B|) / 2``;
0, the default, never): a rater who cannot see a difference says so instead of guessing.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fairtwin.exceptions import UnknownNameError, ValidationError
from fairtwin.oracles.base import FairnessOracle
from fairtwin.twin.base import ContextLike
from fairtwin.twin.scenarios import as_generator

__all__ = ["Rater", "SimulatedRater", "LogisticRater", "get_rater", "RATERS"]


class Rater:
    """Base class: ``prefers(UA, UB, context)`` → True where A is judged fairer; ``judge``
    adds "equally fair" answers within ``tie_margin``."""

    name = "rater"
    tie_margin: float = 0.0

    def __init__(
        self, oracle: FairnessOracle, random_state: int | np.random.Generator | None = None
    ) -> None:
        self.oracle = oracle
        self.rng = as_generator(random_state)

    def prefers(self, UA: ArrayLike, UB: ArrayLike, context: ContextLike) -> NDArray[np.bool_]:
        raise NotImplementedError

    def judge(self, UA: ArrayLike, UB: ArrayLike, context: ContextLike) -> NDArray[np.int8]:
        """``1`` where A is judged fairer, ``-1`` where B is, ``0`` where the two are judged
        equally fair (within :attr:`tie_margin`). Draws from the generator as :meth:`prefers`
        does, so a margin of 0 answers exactly as it."""
        out = np.where(self.prefers(UA, UB, context), 1, -1).astype(np.int8)
        if self.tie_margin > 0:
            out[self._equal(*self._costs(UA, UB, context))] = 0
        return out

    def answer_probability(self, UA: ArrayLike, UB: ArrayLike, context: ContextLike
                           ) -> NDArray[np.float64]:
        """Probability that the rater's A-or-B answer is A (exact: no draws), shape
        (n_pairs,); ½ for pairs it would call equally fair (within :attr:`tie_margin`). The
        share of its answers that a calibrated prediction of its answers must match."""
        return self.answer_probability_of(*self._costs(UA, UB, context))

    def answer_probability_of(self, ra: ArrayLike, rb: ArrayLike) -> NDArray[np.float64]:
        """:meth:`answer_probability` from the latent costs ``ra``, ``rb`` of the decisions."""
        ra = np.atleast_1d(np.asarray(ra, dtype=np.float64))
        rb = np.atleast_1d(np.asarray(rb, dtype=np.float64))
        p = self._prob_a(ra, rb)
        p[self._equal(ra, rb)] = 0.5
        return p

    def _prob_a(self, ra: NDArray[np.float64], rb: NDArray[np.float64]) -> NDArray[np.float64]:
        raise NotImplementedError

    def _costs(self, UA: ArrayLike, UB: ArrayLike, context: ContextLike
               ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        return (self.oracle.cost(np.atleast_2d(UA), context),
                self.oracle.cost(np.atleast_2d(UB), context))

    def _equal(self, ra: NDArray[np.float64], rb: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Pairs the rater calls equally fair: within :attr:`tie_margin` of their mean."""
        if self.tie_margin <= 0:
            return np.zeros(ra.shape, dtype=bool)
        return np.abs(ra - rb) <= self.tie_margin * _level(ra, rb)


class SimulatedRater(Rater):
    """The oracle's own judgement, each label flipped with probability ``flip_rate``."""

    name = "flip"

    def __init__(
        self,
        oracle: FairnessOracle,
        flip_rate: float = 0.0,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        super().__init__(oracle, random_state)
        if not 0.0 <= flip_rate <= 0.5:
            raise ValidationError(f"flip_rate must lie in [0, 0.5], got {flip_rate}")
        self.flip_rate = flip_rate

    def prefers(self, UA: ArrayLike, UB: ArrayLike, context: ContextLike) -> NDArray[np.bool_]:
        ra, rb = self._costs(UA, UB, context)
        draw = self.rng.random(ra.shape)
        # two decisions exactly as fair (a notion blind to what tells them apart, such as the
        # largest load when the worst-off region is untouched): a forced choice is a coin, not
        # always B; one draw per pair either way, so other pairs' answers do not change
        return np.where(ra == rb, draw < 0.5, (ra < rb) ^ (draw < self.flip_rate))

    def _prob_a(self, ra: NDArray[np.float64], rb: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.where(ra == rb, 0.5, np.where(ra < rb, 1.0 - self.flip_rate, self.flip_rate))


class LogisticRater(Rater):
    """Bradley–Terry rater whose error rate rises as the decisions get closer."""

    name = "logistic"

    def __init__(
        self,
        oracle: FairnessOracle,
        temperature: float = 0.05,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        super().__init__(oracle, random_state)
        if not temperature > 0:
            raise ValidationError(f"temperature must be positive, got {temperature}")
        self.temperature = temperature

    def prob_a(self, UA: ArrayLike, UB: ArrayLike, context: ContextLike) -> NDArray[np.float64]:
        """Probability of preferring A, shape (n_pairs,)."""
        return self._prob_a(*self._costs(UA, UB, context))

    def _prob_a(self, ra: NDArray[np.float64], rb: NDArray[np.float64]) -> NDArray[np.float64]:
        t = (rb - ra) / (self.temperature * _level(ra, rb))
        return 1.0 / (1.0 + np.exp(-np.clip(t, -50, 50)))

    def prefers(self, UA: ArrayLike, UB: ArrayLike, context: ContextLike) -> NDArray[np.bool_]:
        return self.rng.random(np.atleast_2d(UA).shape[0]) < self.prob_a(UA, UB, context)


RATERS = {"flip": SimulatedRater, "logistic": LogisticRater}


def _level(ra: NDArray[np.float64], rb: NDArray[np.float64]) -> NDArray[np.float64]:
    """A pair's mean latent cost: the scale of its relative difference (never 0)."""
    return np.maximum(0.5 * (np.abs(ra) + np.abs(rb)), 1e-12)


def get_rater(
    name: str,
    oracle: FairnessOracle,
    noise: float = 0.0,
    random_state: int | np.random.Generator | None = None,
    tie_margin: float = 0.0,
) -> Rater:
    """``flip`` with ``noise`` = flip rate, or ``logistic`` with ``noise`` = temperature; both
    answer "equally fair" within ``tie_margin`` (see :meth:`Rater.judge`)."""
    if not 0.0 <= tie_margin < 2.0:
        raise ValidationError(f"tie_margin must lie in [0, 2), got {tie_margin}")
    rater: Rater
    if name == "flip":
        rater = SimulatedRater(oracle, flip_rate=noise, random_state=random_state)
    elif name == "logistic":
        rater = LogisticRater(oracle, temperature=noise or 0.05, random_state=random_state)
    else:
        raise UnknownNameError("rater", name, RATERS)
    rater.tie_margin = float(tie_margin)
    return rater
