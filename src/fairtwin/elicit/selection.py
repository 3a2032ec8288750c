"""Which pair to ask next: random, or active (ensemble disagreement on the current answers).

The active selector keeps a small bootstrap ensemble of learners fitted on the answers so far
(the pipeline's default, :class:`~fairtwin.learn.OutcomeCostLearner`, over the twin's named
outcomes; or the paper's :class:`~fairtwin.learn.PreferenceCostLearner`), refitted every
``refit_every`` answers in a background thread (requests never wait for a fit: they use the
last finished ensemble). For every candidate pair it scores

    u(a, b) = 1 − | mean_m tanh((f_m(a) − f_m(b)) / s_m) |,

where ``s_m`` is member ``m``'s median preference gap: ``u`` is high when the members disagree
on the order or all predict a small margin. The next pair is the highest-scoring one not yet
asked (ties broken at random), except with probability ``exploration`` a uniformly random one;
before ``min_answers`` answers every choice is random.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fairtwin.datasets import PreferenceDataset
from fairtwin.exceptions import UnknownNameError, ValidationError
from fairtwin.twin.outcomes import Outcomes

__all__ = ["SelectorConfig", "PairSelector", "STRATEGIES", "SELECTOR_LEARNERS"]

log = logging.getLogger(__name__)

STRATEGIES = ("random", "active")
SELECTOR_LEARNERS = ("outcomes", "siamese")


@dataclass(frozen=True)
class SelectorConfig:
    """Settings of the pair selection.

    Attributes
    ----------
    strategy : {"random", "active"}
    learner : {"outcomes", "siamese"}
        The ensemble members' learner: the outcome cost (convex, deterministic, under a second
        per fit; needs the twin's outcomes) or the paper's Siamese net (torch).
    ensemble : members of the bootstrap ensemble
    refit_every : answers between two refits
    min_answers : answers before the first fit (random until then)
    exploration : share of random choices once the ensemble exists
    max_epochs, n_components : of each Siamese member (small, so a refit takes seconds)
    """

    strategy: str = "active"
    learner: str = "outcomes"
    ensemble: int = 3
    refit_every: int = 32
    min_answers: int = 32
    exploration: float = 0.2
    max_epochs: int = 150
    n_components: int = 30

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise UnknownNameError("selection strategy", self.strategy, STRATEGIES)
        if self.learner not in SELECTOR_LEARNERS:
            raise UnknownNameError("selection learner", self.learner, SELECTOR_LEARNERS)
        if self.ensemble < 1 or self.refit_every < 1 or self.min_answers < 1:
            raise ValidationError("ensemble, refit_every and min_answers must be positive")
        if not 0 <= self.exploration <= 1:
            raise ValidationError(f"exploration must lie in [0, 1], got {self.exploration}")


def _fit_member(samples: PreferenceDataset, weights: NDArray[np.float64], seed: int,
                config: SelectorConfig, outcomes: Sequence[Outcomes] | None
                ) -> tuple[NDArray[np.float64], float]:
    """One member's learned cost of every sampled decision and its median gap."""
    from fairtwin.learn import OutcomeCostLearner, PreferenceCostLearner

    learner = (OutcomeCostLearner(random_state=seed) if config.learner == "outcomes" else
               PreferenceCostLearner(n_components=config.n_components,
                                     max_epochs=config.max_epochs, random_state=seed))
    learner.fit(samples, sample_weight=weights, outcomes=outcomes)
    f = learner.costs_of(samples, outcomes)
    gaps = np.abs(f[samples.comparisons[:, 1]] - f[samples.comparisons[:, 2]])
    scale = float(np.median(gaps))
    return f, scale if scale > 0 else 1.0


class PairSelector:
    """Chooses pairs among ``pool`` (rows: context row, decision i, decision j).

    Parameters
    ----------
    pool : ndarray of shape (n_pairs, 3)
    config : SelectorConfig
    seed : int
    background : bool
        Refit in a background thread (the server); ``False`` refits inline (benchmarks and
        tests, where reproducibility matters more than latency).
    outcomes : sequence of Outcomes, optional
        The twin's outcomes of every context row of the samples (required by the outcome
        learner's active selection).
    """

    def __init__(self, pool: NDArray[np.int64], config: SelectorConfig | None = None,
                 seed: int = 0, background: bool = True,
                 outcomes: Sequence[Outcomes] | None = None) -> None:
        self.pool = np.asarray(pool, dtype=np.int64)
        self.config = config or SelectorConfig()
        if (self.config.strategy == "active" and self.config.learner == "outcomes"
                and outcomes is None):
            raise ValidationError("active selection with the outcome learner needs the twin's "
                                  "outcomes of every context (outcomes=...)")
        self.outcomes = outcomes
        self.seed = seed
        self.background = background
        self._lock = threading.Lock()
        self._scores: NDArray[np.float64] | None = None
        self._fitted_at = 0
        self._fitting: threading.Thread | None = None
        self.n_fits = 0

    @property
    def scores(self) -> NDArray[np.float64] | None:
        """Informativeness of every pool pair under the last finished ensemble."""
        with self._lock:
            return self._scores

    def due(self, n_answers: int) -> bool:
        """Whether ``n_answers`` answers call for a refit (active selection only)."""
        c = self.config
        if c.strategy != "active" or n_answers < c.min_answers:
            return False
        return self._scores is None or n_answers - self._fitted_at >= c.refit_every

    def observe(self, answers: PreferenceDataset) -> None:
        """Refit when ``refit_every`` answers arrived since the last fit (active only).

        ``answers`` holds the samples and every non-tie comparison so far.
        """
        n = answers.n_comparisons
        if not self.due(n):
            return
        with self._lock:
            if self._fitting is not None and self._fitting.is_alive():
                return
            self._fitted_at = n
            if not self.background:
                self._fitting = None
            else:
                self._fitting = threading.Thread(target=self._refit, args=(answers, n),
                                                 daemon=True, name="fairtwin-refit")
                self._fitting.start()
                return
        self._refit(answers, n)

    def wait(self, timeout: float | None = None) -> None:
        """Block until a background refit (if any) has finished."""
        t = self._fitting
        if t is not None:
            t.join(timeout)

    def _refit(self, answers: PreferenceDataset, n: int) -> None:
        try:
            rng = np.random.default_rng([self.seed, n])
            members = []
            for _ in range(self.config.ensemble):
                weights = rng.poisson(1.0, size=answers.n_comparisons).astype(np.float64)
                if weights.sum() == 0:
                    weights[:] = 1.0
                members.append(_fit_member(answers, weights, int(rng.integers(2**31 - 1)),
                                           self.config, self.outcomes))
            src = self.pool
            votes = np.mean([np.tanh((f[src[:, 1]] - f[src[:, 2]]) / s) for f, s in members], axis=0)
            scores = 1.0 - np.abs(votes)
            with self._lock:
                self._scores = scores
                self.n_fits += 1
            log.info("refitted the selection ensemble on %d answers", n)
        except Exception:  # a failed refit must not take the server down
            log.exception("refit of the selection ensemble failed; keeping the previous one")

    def choose(self, candidates: NDArray[np.int64], rng: np.random.Generator) -> int:
        """Index (into ``pool``) of the pair to ask among ``candidates`` (pool indices)."""
        if candidates.size == 0:
            raise ValidationError("no candidate pairs left")
        scores = self.scores
        if (self.config.strategy == "random" or scores is None
                or rng.random() < self.config.exploration):
            return int(candidates[rng.integers(candidates.size)])
        s = scores[candidates]
        best = np.flatnonzero(s >= s.max() - 1e-12)
        return int(candidates[best[rng.integers(best.size)]])
