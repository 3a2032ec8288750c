"""Metrics of learned-cost decisions against the nominal decision and the oracle bound.

Per context: ``R`` (latent unfairness, lower is fairer) and ``J`` (nominal cost, recomputed
from the decision) of the nominal decision ``u_nom``, the learned-cost decision ``u_sur`` and
the oracle bound ``u_orc``. A *win* is ``R(u_sur) < R(u_nom)`` by more than a tie
(:data:`TIE` = 1e-5 of ``max(1, R_nom)``: solver tolerances, not a difference in fairness; a
*loss* the other way). ``ΔR = (R_nom − R_sur)/R_nom`` is the relative fairness improvement
(0 for a tie and for a nominal decision that is fair up to a tie), ``ΔJ = J_sur − J_nom`` the
price of fairness (absolute, and in the twin's price unit, ``ΔJ / price_unit``: for the ICU
twin overflow-patient equivalents; a relative ΔJ is meaningless when ``J_nom = 0``). ``guard``
is the twin's guarded quantity (:meth:`~fairtwin.twin.base.Twin.guarded`; 0 for a twin without
one; patients without a bed for the ICU twin). ``ΔR_sur / ΔR_orc`` is the share of the
reachable gain that was captured.

The names are the same for every twin (they are ``metrics.json``'s keys); the words of one twin
(overflow, beds, weeks) appear only in its own ``totals_sur`` keys. Files written before the
generic names (``overflow_nom``, ``dJ_overflow_equiv``, ``n_weeks``, ...) are read by
:func:`upgrade_metrics`; the old names remain as read-only attributes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fairtwin.oracles import FairnessOracle
from fairtwin.twin.base import Twin

__all__ = ["WeekMetrics", "Summary", "week_metrics", "summarise", "upgrade_metrics", "TIE",
           "relative_gain", "aggregate_ratio"]


@dataclass(frozen=True)
class WeekMetrics:
    """Metrics of one context."""

    week: int
    label: str
    split: str
    category: str
    R_nom: float
    R_sur: float
    R_orc: float
    J_nom: float
    J_sur: float
    win: bool
    dR: float
    dR_orc: float
    dR_ratio: float
    dJ: float
    dJ_price: float
    guard_nom: float
    guard_sur: float
    totals_sur: dict[str, float]
    share_upper_bounds_active: float
    solve_time_s: float
    solve_status: str
    pair_accuracy: float = float("nan")
    loss: bool = False
    deployed: str = ""
    p_preferred: float = float("nan")
    p_low: float = float("nan")
    p_high: float = float("nan")
    proposal_fairer: float = float("nan")
    p_answer: float = float("nan")
    rater_answer: float = float("nan")
    #: ΔR of the oracle bound that holds the guard (the bound a re-solve holding it can reach;
    #: ``dR_orc`` where the bound kept the guard; nan in records written before it existed)
    dR_orc_held: float = float("nan")

    # the names before they were generic (read-only)
    @property
    def dJ_overflow_equiv(self) -> float:
        return self.dJ_price

    @property
    def overflow_nom(self) -> float:
        return self.guard_nom

    @property
    def overflow_sur(self) -> float:
        return self.guard_sur


def candidate_pair_accuracy(learned: NDArray[np.float64], latent: NDArray[np.float64]) -> float:
    """Share of all pairs of a context's candidates that the learned cost orders as the latent
    cost does (pairs the latent cost ties are left out; ``nan`` if none remain)."""
    i, j = np.triu_indices(latent.shape[0], k=1)
    dR = latent[i] - latent[j]
    keep = np.abs(dR) > 1e-12 * max(1.0, float(np.abs(latent).max(initial=0.0)))
    if not keep.any():
        return float("nan")
    return float(np.mean(np.sign(learned[i] - learned[j])[keep] == np.sign(dR[keep])))


#: differences of the latent cost below TIE · max(1, |R_nom|) are ties (module docstring)
TIE = 1e-5


def _tie(R_nom: float) -> float:
    # below this two decisions are equally fair: solver tolerances, not a gain or a loss. A
    # continuous twin's perfectly fair week has a Gini of ~1e-12 that the re-solve's rounding
    # moves by 1e-17, and the guard row's slack of 1e-6 (in the guarded unit) lets a re-solve
    # withhold a gram of 80 tonnes, moving a spread of shares by up to ~2e-6
    return TIE * max(1.0, abs(R_nom))


def relative_gain(before: float, after: float) -> float:
    """The relative fairness gain ``(R_before − R_after) / R_before`` of the metrics (ΔR), with
    their ties: 0 where the decisions are equally fair or the first is already perfectly fair."""
    # a nominal decision that is already perfectly fair (up to the tie) has no relative gain or
    # loss, nor has a decision that ties with it
    if before <= _tie(before) or abs(before - after) <= _tie(before):
        return 0.0
    return (before - after) / before


def week_metrics(
    twin: Twin,
    oracle: FairnessOracle,
    context: Any,
    split: str,
    u_nom: NDArray[np.float64],
    u_sur: NDArray[np.float64],
    u_orc: NDArray[np.float64],
    solve_time_s: float = float("nan"),
    solve_status: str = "",
    candidates: NDArray[np.float64] | None = None,
    candidate_costs: NDArray[np.float64] | None = None,
    u_orc_held: NDArray[np.float64] | None = None,
) -> WeekMetrics:
    """Metrics of one context; with ``candidates`` and their learned ``candidate_costs``, also
    the learned cost's pairwise accuracy on them, judged by the oracle (nobody is asked).
    ``u_orc_held`` is the bound that holds the guard where ``u_orc`` does not (else ``u_orc``
    holds it: the same gain)."""
    R_nom, R_sur, R_orc = (float(v) for v in oracle.cost(np.stack([u_nom, u_sur, u_orc]), context))
    R_orc = min(R_orc, R_sur, R_nom)  # the bound is the best decision seen
    R_held = R_orc if u_orc_held is None else min(
        float(oracle.cost(u_orc_held[None], context)[0]), R_sur, R_nom)
    J_nom = twin.nominal_cost(u_nom, context)
    J_sur = twin.nominal_cost(u_sur, context)
    dR, dR_orc = relative_gain(R_nom, R_sur), relative_gain(R_nom, R_orc)
    upper = twin.build(context).upper[: twin.n_decision]
    has_room = upper > 0
    at_upper = np.abs(u_sur - upper) < 0.5
    totals = twin.decision_totals(u_sur)
    return WeekMetrics(
        week=context.index,
        label=context.label,
        split=split,
        category=twin.category(context),
        R_nom=R_nom,
        R_sur=R_sur,
        R_orc=R_orc,
        J_nom=J_nom,
        J_sur=J_sur,
        win=bool(R_sur < R_nom - _tie(R_nom)),
        loss=bool(R_sur > R_nom + _tie(R_nom)),
        dR=dR,
        dR_orc=dR_orc,
        dR_orc_held=relative_gain(R_nom, R_held),
        dR_ratio=dR / dR_orc if dR_orc > 0 else 0.0,
        dJ=J_sur - J_nom,
        dJ_price=(J_sur - J_nom) / twin.price_unit,
        guard_nom=twin.guarded(u_nom, context),
        guard_sur=twin.guarded(u_sur, context),
        totals_sur=totals,
        share_upper_bounds_active=float(at_upper[has_room].mean()) if has_room.any() else 0.0,
        solve_time_s=solve_time_s,
        solve_status=solve_status,
        pair_accuracy=(candidate_pair_accuracy(np.asarray(candidate_costs),
                                               oracle.cost(candidates, context))
                       if candidates is not None and candidate_costs is not None else float("nan")),
    )


@dataclass(frozen=True)
class Summary:
    """Aggregate of the contexts of one split."""

    split: str
    n_contexts: int
    wins: int
    wins_by_category: dict[str, str]
    median_dR: float
    mean_dR: float
    median_dR_orc: float
    dR_ratio_aggregate: float
    median_dR_ratio: float
    median_dJ: float
    mean_dJ_price: float
    max_guard_rise: float
    median_share_upper_bounds_active: float
    median_solve_time_s: float
    max_solve_time_s: float
    pair_accuracy: float = float("nan")
    losses: int = 0
    deployed: dict[str, int] = field(default_factory=dict)
    reliability: list[dict[str, float]] = field(default_factory=list)
    answer_reliability: list[dict[str, float]] = field(default_factory=list)
    mean_p_answer: float = float("nan")
    #: ``Σ ΔR_sur / Σ ΔR_orc`` against the bound that holds the guard (``dR_orc_held``)
    dR_ratio_held: float = float("nan")

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    # the names before they were generic (read-only)
    @property
    def n_weeks(self) -> int:
        return self.n_contexts

    @property
    def mean_dJ_overflow_equiv(self) -> float:
        return self.mean_dJ_price

    @property
    def max_overflow_rise(self) -> float:
        return self.max_guard_rise


def summarise(weeks: list[WeekMetrics], split: str, categories: tuple[str, ...] | None = None) -> Summary:
    """Aggregate metrics; ``dR_ratio_aggregate = Σ(R_nom − R_sur) / Σ(R_nom − R_orc)`` over
    weeks with relative weights (each week's ΔR and ΔR_orc, so that no week dominates)."""
    ws = [w for w in weeks if w.split == split]
    if not ws:
        raise ValueError(f"no contexts in split {split!r}")
    by_cat = {}
    for cat in categories or tuple(dict.fromkeys(w.category for w in weeks)):
        sel = [w for w in ws if w.category == cat]
        by_cat[cat] = f"{sum(w.win for w in sel)}/{len(sel)}"
    dR = np.array([w.dR for w in ws])
    dR_orc = np.array([w.dR_orc for w in ws])
    return Summary(
        split=split,
        n_contexts=len(ws),
        wins=int(sum(w.win for w in ws)),
        wins_by_category=by_cat,
        median_dR=float(np.median(dR)),
        mean_dR=float(np.mean(dR)),
        median_dR_orc=float(np.median(dR_orc)),
        dR_ratio_aggregate=aggregate_ratio(dR, dR_orc),
        median_dR_ratio=float(np.median([w.dR_ratio for w in ws])),
        median_dJ=float(np.median([w.dJ for w in ws])),
        mean_dJ_price=float(np.mean([w.dJ_price for w in ws])),
        max_guard_rise=float(max(w.guard_sur - w.guard_nom for w in ws)),
        median_share_upper_bounds_active=float(np.median([w.share_upper_bounds_active for w in ws])),
        median_solve_time_s=float(np.nanmedian([w.solve_time_s for w in ws])),
        max_solve_time_s=float(np.nanmax([w.solve_time_s for w in ws])),
        pair_accuracy=_nanmean([w.pair_accuracy for w in ws]),
        losses=int(sum(w.loss for w in ws)),
        deployed={c: sum(w.deployed == c for w in ws)
                  for c in dict.fromkeys(w.deployed for w in ws) if c},
        reliability=reliability_table(ws),
        answer_reliability=reliability_table(ws, "answer"),
        mean_p_answer=_nanmean([w.p_answer for w in ws]),
        dR_ratio_held=aggregate_ratio(dR, np.array([w.dR_orc_held for w in ws])),
    )


def aggregate_ratio(dR: NDArray[np.float64], dR_orc: NDArray[np.float64]) -> float:
    """``Σ dR / Σ dR_orc`` (0 without a gain to reach; nan if a week lacks its bound's)."""
    if np.isnan(dR_orc).any():
        return float("nan")
    return float(dR.sum() / dR_orc.sum()) if dR_orc.sum() > 0 else 0.0


#: edges of the reliability table's bins of the predicted probability
RELIABILITY_BINS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def reliability_table(weeks: list[WeekMetrics], kind: str = "notion") -> list[dict[str, float]]:
    """Calibration of the deployment rule's probabilities, per bin of the prediction: the
    number of weeks, their mean prediction and what the simulated rater does.

    ``kind="notion"``: the posterior probability that the learned notion ranks the re-solve
    proposal fairer than the nominal decision (``p_preferred``, what the rule deploys on)
    against the share of weeks whose proposal the simulated rater's latent cost prefers.
    ``kind="answer"``: the predicted probability that a rater answers for the proposal
    (``p_answer``) against the simulated rater's own probability of answering for it, noise
    included (``rater_answer``)."""
    if kind not in ("notion", "answer"):
        raise ValueError(f"unknown reliability kind {kind!r}; allowed: notion, answer")
    rows = []
    if kind == "notion":
        p = np.array([w.p_preferred for w in weeks])
        y = np.array([w.proposal_fairer for w in weeks])
    else:
        p = np.array([w.p_answer for w in weeks])
        y = np.array([w.rater_answer for w in weeks])
    ok = np.isfinite(p) & np.isfinite(y)
    for lo, hi in zip(RELIABILITY_BINS[:-1], RELIABILITY_BINS[1:], strict=True):
        sel = ok & (p >= lo) & ((p < hi) | (hi == 1.0))
        if sel.any():
            rows.append({"low": lo, "high": hi, "contexts": int(sel.sum()),
                         "predicted": float(p[sel].mean()), "observed": float(y[sel].mean())})
    return rows


def _nanmean(values: list[float]) -> float:
    arr = np.asarray(values, dtype=np.float64)
    return float(np.mean(arr[np.isfinite(arr)])) if np.isfinite(arr).any() else float("nan")


@dataclass(frozen=True)
class Coverage:
    """How well sampled decisions cover the fair region (a diagnostic of the sampler).

    Attributes
    ----------
    share_fairer : float
        Share of sampled (non-nominal) decisions with ``R < R(u_nom)``.
    contexts_with_fairer : int
        Contexts where at least one sample is fairer than the nominal decision.
    median_best_gain : float
        Median over weeks of ``1 − min R / R(u_nom)``.
    median_spread : float
        Median over weeks of ``(max R − min R) / R(u_nom)``.
    mean_decisions : float
        Mean decisions per week (nominal included, duplicates removed).
    """

    n_contexts: int
    share_fairer: float
    contexts_with_fairer: int
    median_best_gain: float
    median_spread: float
    mean_decisions: float

    # the names before they were generic (read-only)
    @property
    def n_weeks(self) -> int:
        return self.n_contexts

    @property
    def weeks_with_fairer(self) -> int:
        return self.contexts_with_fairer


def sample_coverage(oracle: FairnessOracle, contexts: list[Any],
                    decisions_per_week: list[NDArray[np.float64]]) -> Coverage:
    """Coverage of the samples of each week; row 0 of each week is the nominal decision."""
    fairer, best, spread, with_fairer, n = [], [], [], 0, []
    for context, U in zip(contexts, decisions_per_week, strict=True):
        R = oracle.cost(U, context)
        base = max(R[0], 1e-12)
        fairer.extend(R[1:] < R[0])
        with_fairer += int(np.any(R[1:] < R[0]))
        best.append(1 - R.min() / base)
        spread.append((R.max() - R.min()) / base)
        n.append(U.shape[0])
    return Coverage(len(contexts), float(np.mean(fairer)) if fairer else 0.0, with_fairer,
                    float(np.median(best)), float(np.median(spread)), float(np.mean(n)))


#: metrics.json keys before they were generic → their names now (:func:`upgrade_metrics`)
OLD_KEYS = {"overflow_nom": "guard_nom", "overflow_sur": "guard_sur",
            "dJ_overflow_equiv": "dJ_price", "mean_dJ_overflow_equiv": "mean_dJ_price",
            "max_overflow_rise": "max_guard_rise", "n_weeks": "n_contexts",
            "weeks_with_fairer": "contexts_with_fairer"}


def upgrade_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """A ``metrics.json`` written before the generic names, with today's names (a copy; a
    current file comes back unchanged): the keys of :data:`OLD_KEYS`, the list ``weeks`` as
    ``contexts``, and the count ``weeks`` of a split and of a reliability row as ``contexts``."""
    def walk(value: Any, top: bool = False) -> Any:
        if isinstance(value, list):
            return [walk(v) for v in value]
        if not isinstance(value, dict):
            return value
        out = {}
        for k, v in value.items():
            if k == "weeks" and (top or isinstance(v, int)):
                k = "contexts"
            out[OLD_KEYS.get(k, k)] = walk(v)
        return out

    return dict(walk(metrics, top=True))
