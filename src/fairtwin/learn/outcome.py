"""``OutcomeCostLearner``: a convex quadratic over the twin's named outcomes, shared by regions.

The paper's learner (:class:`~fairtwin.learn.PreferenceCostLearner`) compresses the raw decision
vector by PCA and lets an MLP of the context output a full quadratic; it ranks the decisions of
the weeks it was trained on well and those of unseen weeks poorly. This learner works on what a
decision *does*, the twin's named outcomes ``φ(u) = M_x u + b_x`` (affine in ``u``, see
:class:`~fairtwin.twin.Outcomes`), and shares one weight per outcome *group* across its members
(the regions), so the cost means the same in every week and every region
(permutation-equivariant by construction):

.. math::

    f(u; x) = \\frac{1}{s_x} \\sum_g \\Big( \\tfrac{a_g}{2} \\lVert z_g \\rVert^2
              + b_g \\mathbf{1}^\\top z_g \\Big), \\qquad z = φ_x(u) / σ, \\quad a_g ≥ 0,

convex in ``u`` for every context. A group named with a trailing ``^`` in ``groups`` (``"load^"``)
adds the convex piecewise-linear term ``c_g max_{i∈g} z_i / s_x`` (``c_g ≥ 0``: the worst-off
member's value, for notions where only the largest counts); the solver takes it exactly through
an epigraph variable (:class:`~fairtwin.costs.MaxAffine`). The linear weights ``b_g`` are off by
default (``linear=False``: ``b = 0``): without them the held-out pairwise accuracy is higher for
every notion tried (``benchmarks/bench_outcome_variants.py``: rosenbrock 0.79 → 0.89, gini
0.84 → 0.93, gini-travel 0.82 → 0.90).
``σ`` (one per group) is the typical spread of a group's
outcomes between decisions of the same week on the training weeks, and ``s_x`` is the spread
of the scale group's term over the context's own candidate decisions: a uniform rescaling of a
week's cost that changes no ranking within the week, but weighs every week's comparisons alike
in the loss (a quiet week's small differences are as informative as an overloaded week's
large ones) and makes a typical preference gap mean the same in every week of a re-solve.

Fitting is a convex problem (the Bradley–Terry likelihood of ``2 G`` parameters with an L2
penalty ``alpha``, ``a_g ≥ 0``), solved by L-BFGS-B: deterministic, a fraction of a second.
Pairs judged *equally fair* (:attr:`~fairtwin.datasets.PreferenceDataset.ties`) are evidence
too: with ties the likelihood is Davidson's (1970) extension of Bradley–Terry, with ``d`` the
learned cost gap of a pair and ``ν ≥ 0`` a fitted tie propensity,

.. math::

    P(A ≻ B) = \\frac{e^{d/2}}{e^{d/2} + e^{-d/2} + ν}, \\qquad
    P(A = B) = \\frac{ν}{e^{d/2} + e^{-d/2} + ν},

which is Bradley–Terry at ``ν = 0`` and stays jointly convex in the weights and ``log ν``: a
tie says the pair's gap is small, which pins down the weights' *relative* size where
answers with a winner only bound it. Without ties the fit is exactly Bradley–Terry.
No torch is needed; saved models are an ``.npz`` of arrays and a JSON header.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize

from fairtwin.costs import MaxAffine, QuadraticCost
from fairtwin.datasets import PreferenceDataset, atomic_write
from fairtwin.exceptions import DataFormatError, ValidationError
from fairtwin.learn.evidence import Evidence, ModelChoice
from fairtwin.twin.outcomes import Outcomes, is_level

__all__ = ["OutcomeCostLearner", "OUTCOME_MODEL_FORMAT", "check_group_spec", "TIE_RULES"]

log = logging.getLogger(__name__)

OUTCOME_MODEL_FORMAT = "fairtwin-outcome-model"
#: what the outcome learner does with pairs judged equally fair
TIE_RULES = ("davidson", "drop")


class OutcomeCostLearner:
    """Learn a group-shared convex quadratic over named outcomes from pairwise preferences.

    Parameters
    ----------
    alpha : float
        L2 penalty on the weights (in units of the normalised features).
    scale_group : str or None
        The outcome group whose spread over a week's candidates sets ``s_x``; ``None`` takes
        the first group of the outcomes.
    linear : bool
        Also learn the linear weights ``b_g``.
    groups : sequence of str or None
        The outcome groups to weigh; ``None`` takes the twin's base groups (every group but
        its :attr:`~fairtwin.twin.Outcomes.extra` ones). ``"g@"`` adds per-member weights of
        group ``g`` (:meth:`~fairtwin.twin.Outcomes.select`); ``"g^"`` adds the peak term
        ``c_g max_i z_{g,i}`` of group ``g`` (which must be among the groups); ``"g+"`` adds
        the harm term ``c_g Σ_i max(0, z_{g,i}(u) − z_{g,i}(0))``, each member's rise over
        what it would be if nothing were done (group ``g`` among the groups too).
    ties : {"davidson", "drop"}
        What pairs judged equally fair are: evidence of a small gap (Davidson's model, the
        default) or nothing (dropped, as before they were kept).
    random_state : int, Generator or None
        Unused (the fit is deterministic); accepted for the estimator interface.

    Attributes
    ----------
    groups_ : tuple of str
    quadratic_ : ndarray of shape (G,)
        ``a_g ≥ 0``.
    linear_ : ndarray of shape (G,)
        ``b_g``.
    peaks_ : tuple of str
        The piecewise-linear terms, shape (P,): ``"g"`` a peak term (``"g^"`` in ``groups``),
        ``"g+"`` a harm term.
    peak_ : ndarray of shape (P,)
        ``c_g ≥ 0``, their weights.
    group_scale_ : ndarray of shape (G,)
        ``σ_g``.
    scale_floor_ : float
        Smallest ``s_x`` used (a share of the training weeks' median), so that a week whose
        candidates hardly differ does not get an unbounded cost.
    n_vars_ : int
    n_parameters_ : int
    train_accuracy_ : float
    tie_propensity_ : float
        Davidson's ``ν`` fitted to the ties (0 without ties, or with ``ties="drop"``).
    n_ties_ : int
        Ties the fit used.
    scenario_ : str
    """

    model_name = "outcomes"
    # set by train_stage (or a model file), not by fit
    evidence_: Evidence
    model_choice_: ModelChoice

    def __init__(self, alpha: float = 1e-2, scale_group: str | None = None, linear: bool = False,
                 groups: Sequence[str] | None = None, ties: str = "davidson",
                 random_state: int | np.random.Generator | None = None) -> None:
        self.alpha = alpha
        self.scale_group = scale_group
        self.linear = linear
        self.groups = groups
        self.ties = ties
        self.random_state = random_state

    # ------------------------------------------------------------------ helpers
    def _check_fitted(self) -> None:
        if not hasattr(self, "quadratic_"):
            raise ValidationError("this OutcomeCostLearner is not fitted yet; call fit first")

    def model_outcomes(self, out: Outcomes) -> Outcomes:
        """The outcomes as the model sees them: compared groups relative, its groups only."""
        plain = _plain(self.spec_)
        missing = [g for g in plain if g.removesuffix("@") not in out.group_names]
        if missing:
            raise ValidationError(
                f"the outcome groups {list(out.group_names)} lack the model's {missing}; was it "
                "trained on another twin?")
        return out.relative().select(plain)

    def _need_outcomes(self, dataset: PreferenceDataset,
                       outcomes: Sequence[Outcomes] | None) -> Sequence[Outcomes]:
        if outcomes is None:
            raise ValidationError(
                "the outcome learner needs the twin's outcomes of every context "
                "(outcomes=[twin.outcomes(context) for each context of the dataset])"
            )
        if len(outcomes) != dataset.n_contexts:
            raise ValidationError(
                f"{len(outcomes)} outcome maps for {dataset.n_contexts} contexts; give one per context"
            )
        if not hasattr(self, "spec_"):  # fit: choose the groups first
            first = outcomes[0]
            self.spec_ = first.base_groups if self.groups is None else tuple(self.groups)
            self.groups_, self.peaks_ = check_group_spec(first, self.spec_)
        return [self.model_outcomes(o) for o in outcomes]

    def _check_groups(self, out: Outcomes) -> NDArray[np.int64]:
        if out.n_decision != self.n_vars_:
            raise ValidationError(
                f"the outcomes act on {out.n_decision} decision entries, the model on {self.n_vars_}"
            )
        if out.group_names != self.groups_:
            raise ValidationError(
                f"the outcome groups {list(out.group_names)} differ from the model's "
                f"{list(self.groups_)}; was it trained on another twin?"
            )
        return out.group_index()

    def _group_features(self, Z: NDArray[np.float64], gidx: NDArray[np.int64],
                        Z0: NDArray[np.float64]) -> NDArray[np.float64]:
        """Per decision: ½ Σ_{i∈g} z_i² and Σ_{i∈g} z_i for every group, then max_{i∈g} z_i
        for every peak group and Σ_{i∈g} max(0, z_i − z0_i) for every harm group (``Z0``: the
        outcomes of doing nothing, ``u = 0``), shape (k, 2G + P)."""
        G = len(self.groups_)
        Q = np.zeros((Z.shape[0], G))
        L = np.zeros((Z.shape[0], G))
        np.add.at(Q.T, gidx, 0.5 * (Z * Z).T)
        np.add.at(L.T, gidx, Z.T)
        peaks = np.zeros((Z.shape[0], len(self.peaks_)))
        for k, g in enumerate(self.peaks_):
            rows = gidx == self.groups_.index(g.removesuffix("+"))
            peaks[:, k] = (np.maximum(Z[:, rows] - Z0[:, rows], 0.0).sum(axis=1)
                           if g.endswith("+") else Z[:, rows].max(axis=1))
        return np.hstack([Q, L, peaks])

    def _features_of(self, out: Outcomes, U: NDArray[np.float64]) -> NDArray[np.float64]:
        gidx = self._check_groups(out)
        Z = out(U) / self.group_scale_[gidx]
        return self._group_features(Z, gidx, (out.offset / self.group_scale_[gidx])[None, :])

    def _week_scale(self, F: NDArray[np.float64]) -> float:
        return max(_spread(F[:, self._scale_k]), self.scale_floor_)

    # ------------------------------------------------------------------ fit
    def fit(self, dataset: PreferenceDataset, sample_weight: ArrayLike | None = None,
            outcomes: Sequence[Outcomes] | None = None) -> OutcomeCostLearner:
        """Learn from the comparisons of ``dataset``; returns ``self``.

        ``outcomes`` gives the twin's outcomes of each context row of the dataset.
        """
        self._check_fit_options(dataset)
        for attr in ("spec_", "groups_", "peaks_", "quadratic_", "bootstrap_"):  # chosen anew
            self.__dict__.pop(attr, None)
        outcomes = self._need_outcomes(dataset, outcomes)
        m = dataset.n_comparisons
        weights = _sample_weights(sample_weight, m)
        self.n_vars_ = dataset.n_vars
        self.scenario_ = dataset.scenario
        if self.scale_group is not None and self.scale_group not in self.groups_:
            raise ValidationError(
                f"scale_group {self.scale_group!r} is not an outcome group; allowed: {list(self.groups_)}"
            )
        self._scale_k = 0 if self.scale_group is None else self.groups_.index(self.scale_group)
        Fn = self._fit_scales(dataset, outcomes)

        comps = dataset.comparisons
        answers = self._answers(dataset, Fn, weights)
        theta, log_nu = self._fit_theta(answers)
        self._fit_posterior(answers, theta, log_nu, m)
        self.n_comparisons_ = m
        f = Fn @ theta
        self.train_accuracy_ = float(np.mean(f[comps[:, 1]] < f[comps[:, 2]]))
        log.info("outcome cost fitted on %d comparisons and %d ties: training accuracy %.3f; a = %s, "
                 "b = %s, c = %s", m, answers.n_ties, self.train_accuracy_, np.round(self.quadratic_, 3),
                 np.round(self.linear_, 3), np.round(self.peak_, 3))
        return self

    def _check_fit_options(self, dataset: PreferenceDataset) -> None:
        """Refuse a dataset without comparisons, a negative ``alpha`` or an unknown ties rule."""
        if not isinstance(dataset, PreferenceDataset):
            raise ValidationError(f"expected a PreferenceDataset, got {type(dataset).__name__}")
        if dataset.n_comparisons == 0:
            raise ValidationError("the dataset has no comparisons to learn from")
        if not self.alpha >= 0:
            raise ValidationError(f"alpha must be non-negative, got {self.alpha}")
        if self.ties not in TIE_RULES:
            raise ValidationError(f"unknown ties rule {self.ties!r}; allowed: {', '.join(TIE_RULES)}")

    def _answers(self, dataset: PreferenceDataset, Fn: NDArray[np.float64],
                 weights: NDArray[np.float64]) -> _Answers:
        """The answers as feature differences (winner − loser: ``f(winner) < f(loser)`` wanted),
        with the ties when the ties rule is ``davidson`` (each weighted by the mean weight)."""
        comps = dataset.comparisons
        dF = Fn[comps[:, 1]] - Fn[comps[:, 2]]
        tie_rows = dataset.ties if self.ties == "davidson" else np.zeros((0, 3), dtype=np.int64)
        return _Answers(dF, weights, comps[:, 0].copy(),
                        Fn[tie_rows[:, 1]] - Fn[tie_rows[:, 2]],
                        np.full(tie_rows.shape[0], weights.mean()), tie_rows[:, 0].copy())

    def _fit_theta(self, answers: _Answers) -> tuple[NDArray[np.float64], float]:
        """Fit the weights ``(a, b, c)`` (``a, c ≥ 0``; ``b = 0`` unless ``linear``) and the
        log tie propensity; keep the weights and, for bootstrap_draws, the answers."""
        G = len(self.groups_)
        alpha = float(self.alpha)
        P = len(self.peaks_)
        lin: tuple[float | None, float | None] = (None, None) if self.linear else (0.0, 0.0)
        bounds: list[tuple[float | None, float | None]] = (
            [(0.0, None)] * G + [lin] * G + [(0.0, None)] * P)
        theta, log_nu = _fit_weights(answers, alpha, bounds, np.zeros(2 * G + P))
        # kept (not saved) for bootstrap_draws: the answers' features and weeks
        self._train = (answers, bounds)
        self.quadratic_ = theta[:G].copy()
        self.linear_ = theta[G:2 * G].copy()
        self.peak_ = theta[2 * G:].copy()
        return theta, log_nu

    def _fit_posterior(self, answers: _Answers, theta: NDArray[np.float64], log_nu: float,
                       m: int) -> None:
        """The tie propensity, the free parameters and the Laplace posterior (covariance and
        mean) around the fitted weights ``theta``."""
        alpha = float(self.alpha)
        self.n_ties_ = answers.n_ties
        self.tie_propensity_ = float(np.exp(log_nu)) if answers.n_ties else 0.0
        free = self._free()
        self.n_parameters_ = int(free.sum())
        self.covariance_ = _laplace_covariance(answers, theta, log_nu, alpha, free)
        # where the fit stopped at a bound (a_g = 0) the answers push further; the Gaussian is
        # centred on the unconstrained optimum (one Newton step), so its cut at a_g ≥ 0 keeps
        # such a weight near 0 instead of spreading it over the prior's width
        grad = _objective(np.r_[theta, log_nu], answers.normalised(), alpha)[1][:theta.size]
        grad = grad * (m + answers.n_ties)
        grad[~free] = 0.0
        self.posterior_mean_ = theta - self.covariance_ @ grad

    def _fit_scales(self, dataset: PreferenceDataset,
                    outcomes: Sequence[Outcomes]) -> NDArray[np.float64]:
        """Fit the group scales ``σ_g`` and the weeks' scale floor on ``dataset``; return every
        decision's features divided by its week's scale ``s_x``, shape (n_decisions, 2G + P)."""
        first = outcomes[0]
        G = len(self.groups_)
        gidx = self._check_groups(first)
        # outcomes of every decision, and their spread within each week, per group
        Phi = np.zeros((dataset.n_decisions, first.n_outcomes))
        Phi0 = np.zeros_like(Phi)  # doing nothing
        spread = np.zeros(G)
        count = np.zeros(G)
        for row in range(dataset.n_contexts):
            idx = dataset.decisions_of(row)
            self._check_groups(outcomes[row])
            Phi[idx] = outcomes[row](dataset.decisions[idx])
            Phi0[idx] = outcomes[row].offset
            dev = Phi[idx] - Phi[idx].mean(axis=0)
            np.add.at(spread, gidx, (dev * dev).sum(axis=0))
            np.add.at(count, gidx, idx.size)
        sigma = np.sqrt(spread / np.maximum(count, 1))
        self.group_scale_ = np.where(sigma > 1e-12, sigma, 1.0)
        F = self._group_features(Phi / self.group_scale_[gidx], gidx,
                                 Phi0 / self.group_scale_[gidx])
        raw = np.array([_spread(F[dataset.decisions_of(r), self._scale_k])
                        for r in range(dataset.n_contexts)])
        positive = raw[raw > 0]
        self.scale_floor_ = 0.05 * float(np.median(positive)) if positive.size else 1.0
        week = np.maximum(raw, self.scale_floor_)
        return F / week[dataset.decision_context][:, None]

    def _free(self) -> NDArray[np.bool_]:
        """Which of the weights ``(a, b, c)`` the fit moves (``b`` only when ``linear``; a
        level group's ``a`` never: :data:`~fairtwin.twin.outcomes.LEVEL_MARK`)."""
        G, P = len(self.groups_), len(self.peaks_)
        square = np.array([not is_level(g) for g in self.groups_], dtype=bool)
        return np.r_[square, np.full(G, bool(self.linear)), np.ones(P, bool)]

    def _non_negative(self) -> NDArray[np.bool_]:
        """Which weights must stay ``≥ 0`` (``a`` and ``c``: convexity)."""
        G, P = len(self.groups_), len(self.peaks_)
        return np.r_[np.ones(G, bool), np.zeros(G, bool), np.ones(P, bool)]

    # ------------------------------------------------------------------ posterior
    def bootstrap(self, n_draws: int = 200,
                  random_state: int | np.random.Generator | None = 0) -> OutcomeCostLearner:
        """Refit on ``n_draws`` resamples of the training weeks (with replacement, each week's
        comparisons together) and keep the weights as :attr:`bootstrap_` (shape
        (n_draws, 2G + P)); returns ``self``.

        A nonparametric posterior: where the answers separate the compared pairs cleanly, the
        Laplace approximation's curvature vanishes and its width is the penalty's, while the
        fitted *direction* of the weights moves little from one resample of weeks to the next.
        Each refit reuses the fit's features (a warm-started L-BFGS-B: milliseconds). Needs
        the training data of this object's last :meth:`fit` (not kept in the model file; the
        draws are).
        """
        self._check_fitted()
        train = getattr(self, "_train", None)
        if train is None:
            raise ValidationError("bootstrap needs the model's training data: call fit first "
                                  "(a loaded model keeps its draws, not its answers)")
        if n_draws < 2:
            raise ValidationError(f"n_draws must be at least 2, got {n_draws}")
        answers, bounds = train
        rng = np.random.default_rng(random_state)
        weeks, inverse = np.unique(np.r_[answers.week, answers.tie_week], return_inverse=True)
        m = answers.week.size
        start = np.r_[self.theta_, np.log(self.tie_propensity_) if answers.n_ties else 0.0]
        draws = np.zeros((n_draws, self.theta_.size))
        for k in range(n_draws):
            times = np.bincount(rng.integers(0, weeks.size, size=weeks.size), minlength=weeks.size)
            resampled = answers.reweighted(times[inverse[:m]], times[inverse[m:]])
            if resampled.total <= 0:
                draws[k] = self.theta_
                continue
            draws[k] = _fit_weights(resampled, float(self.alpha), bounds, self.theta_,
                                    start_log_nu=float(start[-1]))[0]
        self.bootstrap_ = draws
        return self

    @property
    def theta_(self) -> NDArray[np.float64]:
        """All weights ``(a, b, c)``, shape (2G + P,)."""
        self._check_fitted()
        return np.r_[self.quadratic_, self.linear_, self.peak_]

    def posterior_draws(self, n_draws: int = 1000,
                        random_state: int | np.random.Generator | None = 0,
                        fix_scale: bool = False, method: str = "laplace") -> NDArray[np.float64]:
        """Draws of the weights from the Laplace approximation of their posterior, shape
        (n_draws, 2G + P): ``N(θ̃, H⁻¹)`` with ``H`` the Hessian of the penalised negative
        log-likelihood (a Gaussian prior of precision ``2 α m``) and ``θ̃`` the fitted weights
        moved by one Newton step where the fit stopped at ``a_g = 0``, cut to ``a, c ≥ 0``.

        Weights the answers barely constrain (a direction no compared pair varies) keep a
        wide spread: the prior's. The same seed gives the same draws.

        With ``fix_scale`` the heaviest fitted group's weight is held at its fitted value and
        the others are drawn from their Gaussian conditional on it (bootstrap draws: each is
        rescaled to that weight). A ranking does not change
        when every weight is scaled alike, and a likelihood of well-separated answers pins the
        *direction* of the weights much better than their scale (the penalty sets that): the
        deployment rule asks about rankings, so it draws this way.

        ``method="bootstrap"`` resamples (with replacement) the rows of :attr:`bootstrap_`
        (see :meth:`bootstrap`) instead of the Gaussian.
        """
        self._check_fitted()
        rng = np.random.default_rng(random_state)
        if method == "bootstrap":
            return self._bootstrap_draws(n_draws, rng, fix_scale)
        if method != "laplace":
            raise ValidationError(f"unknown posterior method {method!r}; allowed: laplace, bootstrap")
        cov = getattr(self, "covariance_", None)
        theta = getattr(self, "posterior_mean_", self.theta_).copy()
        if cov is None:
            return np.repeat(theta[None, :], n_draws, axis=0)
        cov = 0.5 * (cov + cov.T)
        if fix_scale and self.quadratic_.max() > 0:
            a = int(np.argmax(self.quadratic_))
            rest = np.flatnonzero(np.arange(theta.size) != a)
            k = cov[rest, a] / cov[a, a] if cov[a, a] > 0 else np.zeros(rest.size)
            theta[rest] += k * (self.quadratic_[a] - theta[a])
            theta[a] = self.quadratic_[a]
            cond = cov[np.ix_(rest, rest)] - np.outer(k, cov[a, rest])
            cov = np.zeros_like(cov)
            cov[np.ix_(rest, rest)] = 0.5 * (cond + cond.T)
        vals, vecs = np.linalg.eigh(cov)
        root = vecs * np.sqrt(np.clip(vals, 0.0, None))
        draws = theta + rng.standard_normal((n_draws, theta.size)) @ root.T
        pos = self._non_negative()
        draws[:, pos] = np.maximum(draws[:, pos], 0.0)
        return draws

    def _bootstrap_draws(self, n_draws: int, rng: np.random.Generator,
                         fix_scale: bool) -> NDArray[np.float64]:
        boot = getattr(self, "bootstrap_", None)
        if boot is None:
            raise ValidationError("this model has no bootstrap draws; call bootstrap() after fit")
        draws = boot[rng.integers(0, boot.shape[0], size=n_draws)].copy()
        if fix_scale and self.quadratic_.max() > 0:
            a = int(np.argmax(self.quadratic_))
            top = draws[:, a]
            ok = top > 0
            draws[ok] *= (self.quadratic_[a] / top[ok])[:, None]
            draws[~ok] = self.theta_
        return draws

    def learned_costs(self, outcomes: Outcomes, U: ArrayLike, candidates: ArrayLike,
                      draws: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
        """The learned cost of decisions ``U`` (shape (k, n_decision)) under the fitted weights
        (shape (k,)) or under each row of ``draws`` (shape (n_draws, k)), in the units of
        :meth:`costs_of` (``candidates``, the context's own, set its scale ``s_x``)."""
        self._check_fitted()
        outcomes = self.model_outcomes(outcomes)
        F = self._features_of(outcomes, np.atleast_2d(np.asarray(U, dtype=np.float64)))
        s = self._week_scale(self._features_of(outcomes, np.atleast_2d(
            np.asarray(candidates, dtype=np.float64))))
        if draws is None:
            return np.einsum("kj,j->k", F / s, self.theta_)
        return np.einsum("kj,sj->sk", F / s, draws)

    def preference_gaps(self, outcomes: Outcomes, UA: ArrayLike, UB: ArrayLike,
                        candidates: ArrayLike, draws: NDArray[np.float64] | None = None
                        ) -> NDArray[np.float64]:
        """``f(B) − f(A)`` of decision pairs (positive: A is fairer), under the fitted weights
        (shape (k,)) or under each row of ``draws`` (shape (n_draws, k)): differences of
        :meth:`learned_costs`."""
        UA = np.atleast_2d(np.asarray(UA, dtype=np.float64))
        f = self.learned_costs(outcomes, np.vstack([UA, np.atleast_2d(UB)]), candidates, draws)
        k = UA.shape[0]
        return f[..., k:] - f[..., :k]

    # ------------------------------------------------------------------ use
    def cost(self, outcomes: Outcomes, candidates: ArrayLike,
             theta: ArrayLike | None = None) -> QuadraticCost:
        """The learned cost of a context in the decision space.

        ``candidates`` (shape (k, n_decision)) are the context's own candidate decisions; their
        spread sets the context's scale ``s_x`` (no ranking depends on it). ``theta`` (shape
        (2G + P,), ``a, c ≥ 0``) replaces the fitted weights (the deployment rule's cautious
        weights). Peak terms with a positive weight become :class:`~fairtwin.costs.MaxAffine`
        terms of the cost; a harm term one per member, ``max(0, a_i·u)`` (its rise over doing
        nothing).
        """
        self._check_fitted()
        outcomes = self.model_outcomes(outcomes)
        gidx = self._check_groups(outcomes)
        U = np.atleast_2d(np.asarray(candidates, dtype=np.float64))
        s = self._week_scale(self._features_of(outcomes, U))
        G = len(self.groups_)
        weights = self.theta_ if theta is None else np.asarray(theta, dtype=np.float64)
        if weights.shape != self.theta_.shape or np.any(weights[self._non_negative()] < 0):
            raise ValidationError(f"theta must hold {self.theta_.size} weights with a, c ≥ 0")
        a = weights[:G][gidx] / s
        b = weights[G:2 * G][gidx] / s
        A = outcomes.matrix / self.group_scale_[gidx][:, None]
        c = outcomes.offset / self.group_scale_[gidx]
        keep = a > 0
        factor = A[keep].T * np.sqrt(a[keep])
        q = np.einsum("ij,i->j", A, a * c + b)  # no threaded BLAS sum: the same bits anywhere
        const = 0.5 * float(c @ (a * c)) + float(b @ c)
        terms = []
        for g, weight in zip(self.peaks_, weights[2 * G:], strict=True):
            rows = gidx == self.groups_.index(g.removesuffix("+"))
            if weight <= 0:
                continue
            if g.endswith("+"):
                zero = np.zeros(A.shape[1])
                terms += [MaxAffine(weight / s, np.vstack([zero, A[i]]), np.zeros(2),
                                    name=f"harm {outcomes.names[i]}") for i in np.flatnonzero(rows)]
            else:
                terms.append(MaxAffine(weight / s, A[rows], c[rows], name=f"max {g}"))
        return QuadraticCost.from_factor(factor, q, const, max_terms=terms)

    def context_cost(self, dataset: PreferenceDataset, row: int,
                     outcomes: Sequence[Outcomes] | None = None,
                     theta: ArrayLike | None = None) -> QuadraticCost:
        """The learned cost of context ``row`` of ``dataset`` (its decisions are the candidates)."""
        if outcomes is None or len(outcomes) != dataset.n_contexts:
            self._need_outcomes(dataset, outcomes)  # raises the error that says what is wrong
        assert outcomes is not None
        return self.cost(outcomes[row], dataset.decisions[dataset.decisions_of(row)], theta)

    def cautious_weights(self, draws: NDArray[np.float64], quantile: float = 0.9) -> NDArray[np.float64]:
        """Weights that charge what the answers leave uncertain: each quadratic weight at its
        ``quantile`` over the posterior ``draws``, all rescaled so that the fitted model's
        heaviest group keeps its fitted weight (only the *relative* weight of uncertain groups
        rises; the linear weights stay as fitted)."""
        self._check_fitted()
        theta = self.theta_.copy()
        pos = self._non_negative()
        upper = np.quantile(draws[:, pos], quantile, axis=0)
        anchor = int(np.argmax(self.quadratic_))
        if upper[anchor] > 0 and self.quadratic_[anchor] > 0:
            upper *= self.quadratic_[anchor] / upper[anchor]
        theta[pos] = np.maximum(upper, 0.0)
        return theta

    def costs_of(self, dataset: PreferenceDataset, outcomes: Sequence[Outcomes] | None = None,
                 rows: ArrayLike | None = None) -> NDArray[np.float64]:
        """Learned cost of every decision of ``dataset``, shape (n_decisions,); with ``rows``
        only of those contexts' decisions (the others' are 0)."""
        self._check_fitted()
        outcomes = self._need_outcomes(dataset, outcomes)
        theta = self.theta_
        f = np.zeros(dataset.n_decisions)
        for row in range(dataset.n_contexts) if rows is None else np.asarray(rows).tolist():
            idx = dataset.decisions_of(row)
            if idx.size == 0:
                continue
            F = self._features_of(outcomes[row], dataset.decisions[idx])
            f[idx] = np.einsum("ij,j->i", F, theta) / self._week_scale(F)
        return f

    def score(self, dataset: PreferenceDataset,
              outcomes: Sequence[Outcomes] | None = None) -> float:
        """Pairwise accuracy: share of comparisons whose winner has the lower learned cost."""
        if dataset.n_comparisons == 0:
            raise ValidationError("the dataset has no comparisons to score")
        f = self.costs_of(dataset, outcomes)
        return float(np.mean(f[dataset.comparisons[:, 1]] < f[dataset.comparisons[:, 2]]))

    # ------------------------------------------------------------------ files
    def save(self, path: str | Path) -> Path:
        """Write the fitted model (arrays + JSON header, no pickle) atomically."""
        self._check_fitted()
        header = {
            "format": OUTCOME_MODEL_FORMAT, "version": 1,
            "params": {"alpha": self.alpha, "scale_group": self.scale_group,
                       "linear": self.linear,
                       "groups": None if self.groups is None else list(self.groups)},
            "groups": list(self.groups_), "spec": list(self.spec_), "peaks": list(self.peaks_),
            "n_vars": self.n_vars_,
            "scenario": self.scenario_,
            "scale_k": self._scale_k, "scale_floor": self.scale_floor_,
            "train_accuracy": self.train_accuracy_,
        }
        evidence = getattr(self, "evidence_", None)
        if evidence is not None:
            header["evidence"] = evidence.to_dict()
        chosen = getattr(self, "model_choice_", None)
        if chosen is not None:
            header["model_choice"] = chosen.to_dict()

        def write(tmp: str) -> None:
            with open(tmp, "wb") as fh:
                np.savez(fh, header=np.array(json.dumps(header)), quadratic=self.quadratic_,
                         linear=self.linear_, peak=self.peak_, group_scale=self.group_scale_,
                         covariance=getattr(self, "covariance_", np.zeros((0, 0))),
                         posterior_mean=getattr(self, "posterior_mean_", np.zeros(0)),
                         bootstrap=getattr(self, "bootstrap_", np.zeros((0, 0))))

        atomic_write(path, write, suffix=".npz")
        return Path(path)

    @classmethod
    def from_arrays(cls, path: Path, header: dict[str, Any],
                    arrays: dict[str, NDArray[np.float64]]) -> OutcomeCostLearner:
        """Rebuild a model from the contents of its file (see :func:`fairtwin.learn.load_learner`)."""
        try:
            model = cls(**header["params"])
            model.groups_ = tuple(header["groups"])
            model.spec_ = tuple(header.get("spec", header["groups"]))
            model.peaks_ = tuple(header.get("peaks", ()))
            model.n_vars_ = int(header["n_vars"])
            model.scenario_ = str(header["scenario"])
            model._scale_k = int(header["scale_k"])
            model.scale_floor_ = float(header["scale_floor"])
            model.train_accuracy_ = float(header["train_accuracy"])
            model.quadratic_ = np.asarray(arrays["quadratic"], dtype=np.float64)
            model.linear_ = np.asarray(arrays["linear"], dtype=np.float64)
            peak = arrays.get("peak")
            model.peak_ = (np.zeros(0) if peak is None else np.asarray(peak, dtype=np.float64))
            model.group_scale_ = np.asarray(arrays["group_scale"], dtype=np.float64)
            if arrays.get("covariance") is not None and arrays["covariance"].size:
                model.covariance_ = np.asarray(arrays["covariance"], dtype=np.float64)
            if arrays.get("bootstrap") is not None and arrays["bootstrap"].size:
                model.bootstrap_ = np.asarray(arrays["bootstrap"], dtype=np.float64)
            if arrays.get("posterior_mean") is not None and arrays["posterior_mean"].size:
                model.posterior_mean_ = np.asarray(arrays["posterior_mean"], dtype=np.float64)
            if header.get("evidence") is not None:
                model.evidence_ = Evidence.from_dict(header["evidence"])
            if header.get("model_choice") is not None:
                model.model_choice_ = ModelChoice.from_dict(header["model_choice"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DataFormatError(path, None, None, f"not a fairtwin outcome model ({exc})") from None
        G = len(model.groups_)
        if not (model.quadratic_.shape == model.linear_.shape == model.group_scale_.shape == (G,)):
            raise DataFormatError(path, None, "quadratic", f"expected {G} weights per array")
        if model.peak_.shape != (len(model.peaks_),):
            raise DataFormatError(path, None, "peak", f"expected {len(model.peaks_)} peak weights")
        model.n_parameters_ = int(model._free().sum())
        return model


@dataclass(frozen=True)
class _Answers:
    """A fit's answers as feature differences: ``dF`` (winner − loser) with weights ``w`` and
    weeks ``week``, and the ties' ``dT`` (either order) with ``wt`` and ``tie_week``."""

    dF: NDArray[np.float64]
    w: NDArray[np.float64]
    week: NDArray[np.int64]
    dT: NDArray[np.float64]
    wt: NDArray[np.float64]
    tie_week: NDArray[np.int64]

    @property
    def n_ties(self) -> int:
        return int(self.dT.shape[0])

    @property
    def total(self) -> float:
        return float(self.w.sum() + self.wt.sum())

    def normalised(self) -> _Answers:
        """The same answers with weights summing to one."""
        t = self.total
        return _Answers(self.dF, self.w / t, self.week, self.dT, self.wt / t, self.tie_week)

    def reweighted(self, times: NDArray[np.int64], tie_times: NDArray[np.int64]) -> _Answers:
        """Each answer's weight times how often its week was drawn (a bootstrap resample)."""
        return _Answers(self.dF, self.w * times, self.week, self.dT, self.wt * tie_times,
                        self.tie_week)


def _objective(x: NDArray[np.float64], answers: _Answers,
               alpha: float) -> tuple[float, NDArray[np.float64]]:
    """The penalised negative log-likelihood of weights ``x = (θ, log ν)`` (answers' weights
    summing to one) and its gradient: Bradley–Terry without ties (``log ν`` unused, gradient
    0), Davidson's model with them. einsum, not BLAS: a threaded BLAS sums in an order that
    depends on its thread count, and the last bits would steer L-BFGS-B elsewhere on another
    machine."""
    theta, eta = x[:-1], float(x[-1])
    if not answers.n_ties:
        loss, grad = _bradley_terry(theta, answers, alpha)
        return loss, np.r_[grad, 0.0]
    t = np.einsum("ij,j->i", answers.dF, theta)
    tt = np.einsum("ij,j->i", answers.dT, theta)
    D, dD, dDeta = _davidson_log_norm(t, eta)
    Dt, dDt, dDteta = _davidson_log_norm(tt, eta)
    loss = (float(np.einsum("i,i->", answers.w, D + 0.5 * t))
            + float(np.einsum("i,i->", answers.wt, Dt - eta)) + alpha * float(theta @ theta))
    grad = (np.einsum("ij,i->j", answers.dF, answers.w * (dD + 0.5))
            + np.einsum("ij,i->j", answers.dT, answers.wt * dDt) + 2 * alpha * theta)
    g_eta = float(answers.w @ dDeta + answers.wt @ (dDteta - 1.0))
    return loss, np.r_[grad, g_eta]


def _bradley_terry(theta: NDArray[np.float64], answers: _Answers,
                   alpha: float) -> tuple[float, NDArray[np.float64]]:
    """The penalised Bradley–Terry loss of the answers with a winner, and its gradient."""
    t = np.einsum("ij,j->i", answers.dF, theta)
    loss = float(np.einsum("i,i->", answers.w, np.logaddexp(0.0, t))) + alpha * float(theta @ theta)
    grad = np.einsum("ij,i->j", answers.dF, answers.w * _sigmoid(t)) + 2 * alpha * theta
    return loss, grad


def _davidson_log_norm(t: NDArray[np.float64], eta: float
                       ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """``D = log(e^{t/2} + e^{−t/2} + e^η)`` and its derivatives in ``t`` and ``η``."""
    D = np.logaddexp(np.logaddexp(0.5 * t, -0.5 * t), eta)
    dD = 0.5 * (np.exp(0.5 * t - D) - np.exp(-0.5 * t - D))
    return D, dD, np.exp(eta - D)


def _sample_weights(sample_weight: ArrayLike | None, m: int) -> NDArray[np.float64]:
    """One checked weight per comparison (ones when ``sample_weight`` is ``None``)."""
    if sample_weight is None:
        return np.ones(m)
    weights = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
    if weights.shape[0] != m:
        raise ValidationError(f"sample_weight has {weights.shape[0]} entries for {m} comparisons")
    if not np.all(np.isfinite(weights)) or weights.min(initial=0) < 0 or weights.sum() <= 0:
        raise ValidationError("sample_weight must be finite, non-negative, not all zero")
    return weights


def _fit_weights(answers: _Answers, alpha: float, bounds: list[tuple[float | None, float | None]],
                 start: NDArray[np.float64], start_log_nu: float = 0.0
                 ) -> tuple[NDArray[np.float64], float]:
    """The weights minimising :func:`_objective` within ``bounds`` (L-BFGS-B), and ``log ν``
    (0 without ties)."""
    normed = answers.normalised()
    options = {"maxiter": 2000, "gtol": 1e-10}
    if not answers.n_ties:  # Bradley–Terry: the weights alone
        res = minimize(_bradley_terry, start, args=(normed, alpha), jac=True, method="L-BFGS-B",
                       bounds=bounds, options=options)
        return np.asarray(res.x, dtype=np.float64), 0.0
    res = minimize(_objective, np.r_[start, start_log_nu], args=(normed, alpha), jac=True,
                   method="L-BFGS-B", bounds=[*bounds, (-20.0, 20.0)], options=options)
    x = np.asarray(res.x, dtype=np.float64)
    return x[:-1], float(x[-1])


def _laplace_covariance(answers: _Answers, theta: NDArray[np.float64], log_nu: float,
                        alpha: float, free: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Inverse Hessian of the penalised negative log-likelihood (summed over the answers, each
    with its weight; ``ν`` held at its fit) at ``theta``, on the ``free`` parameters (the
    others are fixed at 0: zero rows and columns)."""
    m = answers.w.shape[0] + answers.n_ties
    scale = m / answers.total  # weights as counts: the mean weight is one answer
    X = np.vstack([answers.dF, answers.dT])[:, free]
    t = np.einsum("ij,j->i", np.vstack([answers.dF, answers.dT]), theta)
    if answers.n_ties:
        D, dD, _ = _davidson_log_norm(t, log_nu)
        second = 0.25 * (np.exp(0.5 * t - D) + np.exp(-0.5 * t - D)) - dD * dD
    else:
        second = _sigmoid(t) * _sigmoid(-t)
    curv = scale * np.r_[answers.w, answers.wt] * second
    k = int(free.sum())
    H = np.einsum("ij,i,ik->jk", X, curv, X) + 2.0 * alpha * m * np.eye(k)
    cov = np.zeros((theta.size, theta.size))
    cov[np.ix_(free, free)] = np.linalg.inv(H)
    return cov


def check_group_spec(outcomes: Outcomes, spec: Sequence[str]
                     ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The model's groups and piecewise-linear terms that ``spec`` names (see
    :class:`OutcomeCostLearner`'s ``groups``: ``"g"`` for a peak, ``"g+"`` for a harm term); an
    unknown group lists the allowed ones, a term without its group says so."""
    groups = outcomes.relative().select(_plain(spec)).group_names
    peaks = tuple(g.removesuffix("^") for g in spec if g.endswith(("^", "+")))
    stray = [g for g in peaks if g.removesuffix("+") not in groups]
    if stray:
        named = [g if g.endswith("+") else g + "^" for g in stray]
        raise ValidationError(f"piecewise-linear term(s) {named} (a peak g^, a harm term g+) "
                              f"need their group among "
                              f"the model's groups {list(groups)}")
    return groups, peaks


def _plain(spec: Sequence[str]) -> list[str]:
    """A group spec without its piecewise-linear terms (``"g^"``, ``"g+"``): what
    :meth:`Outcomes.select` takes."""
    return [g for g in spec if not g.endswith(("^", "+"))]


def _spread(values: NDArray[np.float64]) -> float:
    """Spread of a week's values: their standard deviation (0 for fewer than two)."""
    return float(np.std(values)) if values.shape[0] > 1 else 0.0


def _sigmoid(t: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.exp(-np.logaddexp(0.0, -t))
