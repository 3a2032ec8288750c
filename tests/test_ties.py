"""Answers "equally fair" as evidence.

- a dataset keeps its ties through subsets and a save/load round trip, and files without ties
  still load; a tie that points nowhere is refused;
- without ties the outcome learner's fit is exactly Bradley–Terry's, and ``ties="drop"`` is
  the fit on the answers with a winner only;
- Davidson's likelihood: its gradient is right, its fitted tie propensity grows with the share
  of ties, and with ties of a small gap it recovers a planted weight ratio at least as well as
  dropping them;
- the simulated rater's ``judge`` answers as ``prefers`` with no margin and ties exactly the
  pairs within the margin;
- held-out weeks choose the tie rule: Davidson for ties of a small gap, ``drop`` for the ties of
  a rater blind to one group (they contradict the held-out winners).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import check_grad

from fairtwin.datasets import PreferenceDataset
from fairtwin.exceptions import ValidationError
from fairtwin.learn import OutcomeCostLearner
from fairtwin.learn.evidence import choose_tie_rule
from fairtwin.learn.outcome import _Answers, _objective
from fairtwin.oracles import get_oracle, get_rater
from fairtwin.pipeline import LearnerConfig
from fairtwin.twin import Outcomes, Scenario
from tests.test_deploy import K, synthetic


def planted_with_ties(seed: int, n_pairs: int, margin: float, relative_to: str = "spread"
                      ) -> tuple[PreferenceDataset, list[Outcomes], PreferenceDataset, list[Outcomes]]:
    """Training weeks answered by a planted quadratic (weights 1 and ½ on two groups) that says
    "equally fair" within ``margin`` of the week's cost spread (``spread``) or of the pair's
    mean cost (``mean``), and unanswered test weeks."""
    ds, outs = synthetic(30, 0, seed=seed)
    test, test_outs = synthetic(30, 0, seed=seed + 1000)
    cost = planted_cost(ds, outs)
    spread = np.array([np.std(cost[ds.decisions_of(r)]) for r in range(ds.n_contexts)])
    rng = np.random.default_rng(seed + 7)
    rows = rng.integers(0, ds.n_contexts, size=n_pairs)
    a = rows * K + rng.integers(0, K, size=n_pairs)
    b = rows * K + (a - rows * K + 1 + rng.integers(0, K - 1, size=n_pairs)) % K
    level = spread[rows] if relative_to == "spread" else 0.5 * (cost[a] + cost[b])
    close = np.abs(cost[a] - cost[b]) <= margin * level
    a_wins = cost[a] < cost[b]
    ds.add_comparisons(rows[~close], np.where(a_wins, a, b)[~close], np.where(a_wins, b, a)[~close])
    ds.add_ties(rows[close], a[close], b[close])
    return ds, outs, test, test_outs


def planted_cost(ds: PreferenceDataset, outs: list[Outcomes]) -> np.ndarray:
    return np.array([0.5 * np.sum(outs[c](u)[0, :2] ** 2) + 0.25 * np.sum(outs[c](u)[0, 2:] ** 2)
                     for u, c in zip(ds.decisions, ds.decision_context, strict=True)])


def test_a_dataset_keeps_its_ties(tmp_path: Path) -> None:
    ds, _, _, _ = planted_with_ties(0, 60, 0.5)
    assert ds.n_ties > 0
    back = PreferenceDataset.load(ds.save(tmp_path / "d.npz"))
    assert np.array_equal(back.ties, ds.ties) and np.array_equal(back.tie_rater, ds.tie_rater)
    rows = np.arange(10, 20)
    sub = ds.subset_contexts(rows)
    kept = ds.ties[np.isin(ds.ties[:, 0], rows)]
    assert sub.n_ties == len(kept)
    # the same decisions, re-indexed
    assert np.array_equal(sub.decisions[sub.ties[:, 1]], ds.decisions[kept[:, 1]])
    # a file without ties (as written before they existed) loads with none
    plain = PreferenceDataset(context_ids=ds.context_ids, context_features=ds.context_features,
                              decisions=ds.decisions, decision_context=ds.decision_context,
                              comparisons=ds.comparisons, rater=ds.rater, round=ds.round,
                              timestamp=ds.timestamp)
    with np.load(plain.save(tmp_path / "p.npz")) as data:
        assert "ties" not in data.files
    assert PreferenceDataset.load(tmp_path / "p.npz").n_ties == 0
    with pytest.raises(ValidationError, match="a tie pairs decisions of another context"):
        ds.add_ties([0], [0], [K])  # decision K belongs to week 1


def test_without_ties_the_fit_is_bradley_terry() -> None:
    ds, outs, _, _ = planted_with_ties(1, 120, 0.5)
    assert ds.n_ties > 0
    winners_only = ds.subset_contexts(np.arange(ds.n_contexts))
    winners_only.ties = np.zeros((0, 3), dtype=np.int64)
    winners_only.tie_rater = np.zeros(0, dtype=np.int64)
    dropped = OutcomeCostLearner(ties="drop").fit(ds, outcomes=outs)
    plain = OutcomeCostLearner(ties="davidson").fit(winners_only, outcomes=outs)
    assert np.array_equal(dropped.theta_, plain.theta_)
    assert dropped.tie_propensity_ == plain.tie_propensity_ == 0.0 and dropped.n_ties_ == 0
    used = OutcomeCostLearner().fit(ds, outcomes=outs)
    assert used.n_ties_ == ds.n_ties and used.tie_propensity_ > 0
    assert not np.allclose(used.theta_, dropped.theta_)
    with pytest.raises(ValidationError, match="allowed: davidson, drop"):
        OutcomeCostLearner(ties="keep").fit(ds, outcomes=outs)


def test_davidson_gradient_and_bradley_terry_limit() -> None:
    rng = np.random.default_rng(3)
    answers = _Answers(rng.normal(size=(40, 3)), np.ones(40), np.arange(40) % 5,
                       rng.normal(size=(9, 3)) * 0.2, np.ones(9), np.arange(9) % 5).normalised()
    for _ in range(3):
        x = rng.normal(size=4)
        assert check_grad(lambda v: _objective(v, answers, 0.01)[0],
                          lambda v: _objective(v, answers, 0.01)[1], x) < 1e-5
    # a vanishing tie propensity gives Bradley–Terry's loss on the answers with a winner
    winners = _Answers(answers.dF, answers.w, answers.week, answers.dT[:0], answers.wt[:0],
                       answers.tie_week[:0])
    no_ties = _Answers(answers.dF, answers.w, answers.week, answers.dT, 0 * answers.wt,
                       answers.tie_week)
    x = np.r_[rng.normal(size=3), -40.0]
    assert _objective(x, no_ties, 0.0)[0] == pytest.approx(_objective(x, winners, 0.0)[0], rel=1e-12)


def test_the_tie_propensity_grows_with_the_share_of_ties() -> None:
    nus = []
    for margin in (0.2, 0.6, 1.2):
        ds, outs, _, _ = planted_with_ties(2, 150, margin)
        nus.append(OutcomeCostLearner().fit(ds, outcomes=outs).tie_propensity_)
    assert nus[0] < nus[1] < nus[2]


def held_out_accuracy(model: OutcomeCostLearner, test: PreferenceDataset,
                      outs: list[Outcomes]) -> float:
    f, R = model.costs_of(test, outs), planted_cost(test, outs)
    acc = []
    for r in range(test.n_contexts):
        idx = test.decisions_of(r)
        i, j = np.triu_indices(idx.size, 1)
        acc.append(np.mean(np.sign(f[idx][i] - f[idx][j]) == np.sign(R[idx][i] - R[idx][j])))
    return float(np.mean(acc))


def test_ties_of_a_small_gap_help_recover_the_planted_ratio() -> None:
    err = {"davidson": [], "drop": []}
    acc = {"davidson": [], "drop": []}
    for seed in range(12):  # a third of the answers ties
        ds, outs, test, test_outs = planted_with_ties(seed, 80, 0.6)
        for rule in err:
            m = OutcomeCostLearner(ties=rule).fit(ds, outcomes=outs)
            err[rule].append(abs(np.log(m.quadratic_[1] / m.quadratic_[0] / 0.5)))
            acc[rule].append(held_out_accuracy(m, test, test_outs))
    assert np.mean(err["davidson"]) < np.mean(err["drop"])
    assert np.mean(acc["davidson"]) > np.mean(acc["drop"])


def blind_rater_ties(seed: int, n_pairs: int, margin: float
                     ) -> tuple[PreferenceDataset, list[Outcomes]]:
    """Winners by the planted cost, but "equally fair" whenever the first group's part differs
    by at most ``margin`` of its week's spread: a rater blind to the second group's
    differences when calling pairs equal."""
    ds, outs = synthetic(30, 0, seed=seed)
    cost = planted_cost(ds, outs)
    g1 = np.array([0.5 * np.sum(outs[c](u)[0, :2] ** 2)
                   for u, c in zip(ds.decisions, ds.decision_context, strict=True)])
    spread = np.array([np.std(g1[ds.decisions_of(r)]) for r in range(ds.n_contexts)])
    rng = np.random.default_rng(seed + 7)
    rows = rng.integers(0, ds.n_contexts, size=n_pairs)
    a = rows * K + rng.integers(0, K, size=n_pairs)
    b = rows * K + (a - rows * K + 1 + rng.integers(0, K - 1, size=n_pairs)) % K
    close = np.abs(g1[a] - g1[b]) <= margin * spread[rows]
    a_wins = cost[a] < cost[b]
    ds.add_comparisons(rows[~close], np.where(a_wins, a, b)[~close], np.where(a_wins, b, a)[~close])
    ds.add_ties(rows[close], a[close], b[close])
    return ds, outs


@pytest.mark.parametrize("blind", [False, True])
def test_held_out_weeks_choose_the_tie_rule(blind: bool) -> None:
    """Ties of a small gap are what Davidson's model says: kept. Ties of a rater blind to one
    group contradict the winners held out: dropped."""
    if blind:
        ds, outs = blind_rater_ties(0, 150, 0.5)
    else:
        ds, outs, _, _ = planted_with_ties(5, 150, 0.6)
    rule, table = choose_tie_rule(lambda t: OutcomeCostLearner(ties=t), ds, outs)
    assert {r["rule"] for r in table} == {"davidson", "drop"}
    assert rule == ("drop" if blind else "davidson"), table


def test_judge_ties_exactly_the_pairs_within_the_margin(tiny_scenario: Scenario) -> None:
    from tests.test_outcomes import _random_decision

    ctx = tiny_scenario.contexts[3]
    twin = tiny_scenario.twin
    rng = np.random.default_rng(0)
    UA = np.stack([_random_decision(twin, ctx, rng) for _ in range(40)])
    UB = np.stack([_random_decision(twin, ctx, rng) for _ in range(40)])
    oracle = get_oracle("rosenbrock", twin)
    plain = get_rater("flip", oracle, 0.1, random_state=4).prefers(UA, UB, ctx)
    judged = get_rater("flip", oracle, 0.1, random_state=4).judge(UA, UB, ctx)
    assert np.array_equal(judged == 1, plain)
    with_margin = get_rater("flip", oracle, 0.1, random_state=4, tie_margin=0.2).judge(UA, UB, ctx)
    ra, rb = oracle.cost(UA, ctx), oracle.cost(UB, ctx)
    close = np.abs(ra - rb) <= 0.2 * 0.5 * (np.abs(ra) + np.abs(rb))
    assert 0 < close.sum() < 40
    assert np.array_equal(with_margin == 0, close)
    assert np.array_equal(with_margin[~close] == 1, plain[~close])
    with pytest.raises(ValidationError, match="tie_margin"):
        get_rater("flip", oracle, tie_margin=-0.1)
    # the exact answer probability: the share of a rater's A-or-B answers that are A
    flip = get_rater("flip", oracle, 0.1, tie_margin=0.2).answer_probability(UA, UB, ctx)
    np.testing.assert_allclose(flip, np.where(close, 0.5, np.where(ra < rb, 0.9, 0.1)))
    logistic = get_rater("logistic", oracle, 0.1, random_state=5)
    p = logistic.answer_probability(UA, UB, ctx)
    np.testing.assert_allclose(p, logistic.prob_a(UA, UB, ctx))
    draws = np.mean([get_rater("logistic", oracle, 0.1, random_state=s).prefers(UA, UB, ctx)
                     for s in range(400)], axis=0)
    assert np.max(np.abs(draws - p)) < 0.1  # 400 draws: 4 SE of a coin is 0.1


def test_a_flip_rater_answers_exactly_equal_decisions_by_a_coin(tiny_scenario: Scenario) -> None:
    from tests.test_outcomes import _random_decision

    ctx = tiny_scenario.contexts[3]
    twin = tiny_scenario.twin
    rng = np.random.default_rng(1)
    U = np.stack([_random_decision(twin, ctx, rng) for _ in range(200)])
    oracle = get_oracle("rosenbrock", twin)
    other = np.roll(U, 1, axis=0)
    for flip in (0.0, 0.2):
        same = get_rater("flip", oracle, flip, random_state=3).prefers(U, U, ctx)
        assert 0.35 < same.mean() < 0.65  # was always False (B)
        np.testing.assert_allclose(
            get_rater("flip", oracle, flip).answer_probability(U, U, ctx), 0.5)
        # pairs that differ keep their answers: one draw per pair either way
        mixed = np.r_[U[:100], U[100:]], np.r_[other[:100], U[100:]]
        both = get_rater("flip", oracle, flip, random_state=3).prefers(*mixed, ctx)
        apart = get_rater("flip", oracle, flip, random_state=3).prefers(U, other, ctx)
        assert np.array_equal(both[:100], apart[:100])


def test_the_learner_config_checks_its_tie_rule() -> None:
    from fairtwin.exceptions import UnknownNameError

    with pytest.raises(UnknownNameError, match="'auto', 'davidson', 'drop'"):
        LearnerConfig(ties="keep")
    assert LearnerConfig().make(0).ties == "davidson"  # type: ignore[attr-defined]
    assert LearnerConfig(ties="drop").make(0).ties == "drop"  # type: ignore[attr-defined]


def test_a_run_with_a_rater_who_says_equally_fair_learns_from_the_ties() -> None:
    from fairtwin.pipeline import label_stage, load_scenario, sample_stage, train_stage
    from tests.test_pipeline import tiny_config

    config = tiny_config(tie_margin=0.2).override(scenario={"n_train": 6})  # ties in the round too
    scenario = load_scenario(config)
    ds = sample_stage(config, scenario)
    label_stage(ds, config, scenario)
    assert ds.n_ties > 0 and ds.n_comparisons + ds.n_ties >= config.labels.n_random(6)
    learner, _, _ = train_stage(ds, config, scenario)
    assert isinstance(learner, OutcomeCostLearner)
    choice = learner.model_choice_
    assert choice.ties in ("davidson", "drop") and len(choice.tie_table) == 2
    assert learner.ties == choice.ties and "ties: " in choice.describe()
    assert learner.n_ties_ == (ds.subset_contexts(np.arange(6)).n_ties if choice.ties == "davidson"
                               else 0)
