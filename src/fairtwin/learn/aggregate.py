"""Many raters: estimate each one's reliability and learn one cost weighted by it.

A one-coin Dawid–Skene model: rater ``r`` reports the consensus order of a pair with
probability ``p_r`` and the opposite with ``1 − p_r``, independently. Given ``p_r``, the
optimal weight of the rater's answers is the log-odds ``log(p_r / (1 − p_r))`` (zero at chance,
raters below chance are given zero weight rather than inverted). The consensus is the learned
cost itself; ``p_r`` is estimated by cross-fitting (a rater's answers are predicted by a model
that never saw them) with a Beta prior, and the two steps alternate a few times:

1. fit the cost on all answers weighted by the current rater weights (all 1 at first), per fold;
2. ``p_r`` = (answers of ``r`` the held-out fold's model agrees with + a) / (answers + a + b);
3. weights ← clipped log-odds; repeat; then fit on everything with the final weights.

:class:`ReliabilityWeightedLearner` follows scikit-learn: ``fit`` returns ``self``, learned
state ends in ``_``. :func:`rater_agreement` reports how often two raters agree on the pairs
both answered.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fairtwin.costs import QuadraticCost
from fairtwin.datasets import PreferenceDataset
from fairtwin.exceptions import ValidationError
from fairtwin.twin.scenarios import as_generator

if TYPE_CHECKING:
    from fairtwin.learn.estimator import PreferenceCostLearner

__all__ = ["ReliabilityWeightedLearner", "RaterReliability", "rater_agreement", "Agreement"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RaterReliability:
    """Estimated reliability of one rater.

    Attributes
    ----------
    name : str
    n_answers : int
    agreement : float
        Share of the rater's answers the cross-fitted consensus agrees with.
    accuracy : float
        ``p_r``: the smoothed estimate of the probability the rater reports the consensus order.
    weight : float
        Weight of the rater's answers in the final fit (clipped log-odds).
    """

    name: str
    n_answers: int
    agreement: float
    accuracy: float
    weight: float


@dataclass(frozen=True)
class Agreement:
    """How often two raters agree on the pairs both answered (``nan`` where they share none)."""

    names: list[str]
    share: NDArray[np.float64]
    n_common: NDArray[np.int64]


def rater_agreement(dataset: PreferenceDataset) -> Agreement:
    """Pairwise agreement between raters on the pairs (context, unordered decisions) both rated."""
    n = len(dataset.rater_names)
    votes: dict[tuple[int, int, int], dict[int, int]] = {}
    for (c, w, lo), r in zip(dataset.comparisons, dataset.rater, strict=True):
        key = (int(c), int(min(w, lo)), int(max(w, lo)))
        votes.setdefault(key, {})[int(r)] = int(w)
    agree = np.zeros((n, n))
    common = np.zeros((n, n), dtype=np.int64)
    for answers in votes.values():
        items = list(answers.items())
        for i, (ri, wi) in enumerate(items):
            for rj, wj in items[i + 1:]:
                common[ri, rj] += 1
                common[rj, ri] += 1
                same = float(wi == wj)
                agree[ri, rj] += same
                agree[rj, ri] += same
    share = np.divide(agree, common, out=np.full((n, n), np.nan), where=common > 0)
    np.fill_diagonal(share, 1.0)
    return Agreement(list(dataset.rater_names), share, common)


class ReliabilityWeightedLearner:
    """Learn one cost from many raters, each weighted by its estimated reliability.

    Parameters
    ----------
    learner_params : dict, optional
        Keyword arguments of each :class:`PreferenceCostLearner` fit (``random_state`` aside).
    n_iter : int
        Alternations of (fit, estimate reliabilities).
    n_folds : int
        Folds of the cross-fitting.
    prior : (float, float)
        Beta prior ``(a, b)`` on each rater's accuracy (pseudo-agreements, pseudo-disagreements).
    max_weight : float
        Cap on a rater's log-odds weight (a perfect rater would get an infinite one).
    random_state : int, Generator or None

    Attributes
    ----------
    learner_ : PreferenceCostLearner
        The final fit, on every answer with the final weights.
    reliability_ : list of RaterReliability
    weights_ : ndarray of shape (n_raters,)
    history_ : list of ndarray
        The rater weights after each iteration.
    """

    def __init__(
        self,
        learner_params: dict[str, Any] | None = None,
        n_iter: int = 2,
        n_folds: int = 2,
        prior: tuple[float, float] = (2.0, 2.0),
        max_weight: float = 4.0,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        self.learner_params = learner_params
        self.n_iter = n_iter
        self.n_folds = n_folds
        self.prior = prior
        self.max_weight = max_weight
        self.random_state = random_state

    def _learner(self, rng: np.random.Generator) -> PreferenceCostLearner:
        from fairtwin.extras import require

        require("torch", "paper", "ReliabilityWeightedLearner (it fits the paper's learner per rater)")
        from fairtwin.learn.estimator import PreferenceCostLearner

        params = dict(self.learner_params or {})
        params.pop("random_state", None)
        return PreferenceCostLearner(**params, random_state=int(rng.integers(2**31 - 1)))

    def fit(self, dataset: PreferenceDataset) -> ReliabilityWeightedLearner:
        """Estimate the raters' reliabilities and fit the weighted cost; returns ``self``."""
        if dataset.n_comparisons < 2 * self.n_folds:
            raise ValidationError(
                f"{dataset.n_comparisons} comparisons are too few to estimate reliabilities "
                f"with {self.n_folds} folds"
            )
        if self.n_iter < 1 or self.n_folds < 2:
            raise ValidationError("n_iter must be ≥ 1 and n_folds ≥ 2")
        rng = as_generator(self.random_state)
        n_raters = len(dataset.rater_names)
        m = dataset.n_comparisons
        fold = rng.permutation(m) % self.n_folds
        weights = np.ones(n_raters)
        history = []
        a, b = self.prior
        counts = np.bincount(dataset.rater, minlength=n_raters)
        agree = np.zeros(n_raters)
        for it in range(self.n_iter):
            agree[:] = 0.0
            for k in range(self.n_folds):
                train = np.flatnonzero(fold != k)
                test = np.flatnonzero(fold == k)
                w = weights[dataset.rater]
                if w[train].sum() <= 0:
                    w = np.ones(m)
                fit_w = np.where(fold != k, w, 0.0)
                learner = self._learner(rng).fit(dataset, sample_weight=fit_w)
                f = learner.costs_of(dataset)
                c = dataset.comparisons[test]
                ok = f[c[:, 1]] < f[c[:, 2]]
                np.add.at(agree, dataset.rater[test], ok.astype(float))
            accuracy = (agree + a) / (counts + a + b)
            weights = np.clip(np.log(accuracy / (1 - accuracy)), 0.0, self.max_weight)
            history.append(weights.copy())
            log.info("reliability iteration %d: accuracies %s", it + 1, np.round(accuracy, 3))
        if not np.any(weights[dataset.rater] > 0):
            raise ValidationError("every rater looks no better than chance; nothing to learn from")
        self.learner_ = self._learner(rng).fit(dataset, sample_weight=weights[dataset.rater])
        self.weights_ = weights
        self.history_ = history
        self.reliability_ = [
            RaterReliability(name, int(counts[r]),
                             float(agree[r] / counts[r]) if counts[r] else float("nan"),
                             float(accuracy[r]), float(weights[r]))
            for r, name in enumerate(dataset.rater_names)
        ]
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "learner_"):
            raise ValidationError("this ReliabilityWeightedLearner is not fitted yet; call fit first")

    def cost(self, context_features: ArrayLike) -> QuadraticCost:
        """The aggregated learned cost of a context (decision space)."""
        self._check_fitted()
        return self.learner_.cost(context_features)

    def costs_of(self, dataset: PreferenceDataset) -> NDArray[np.float64]:
        self._check_fitted()
        return self.learner_.costs_of(dataset)
