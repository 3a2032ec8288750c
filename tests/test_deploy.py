"""The posterior, the evidence and the deployment rule.

- the Laplace posterior narrows as answers accumulate, and the probability that a truly fairer
  proposal is fairer rises with the evidence;
- a weight no compared pair informs keeps a wide posterior;
- the evidence flags answers that are consistent within weeks but not explained by the outcomes
  (lack of fit), and does not flag answers from a planted outcome model;
- a week with no supported improvement keeps its nominal decision;
- the evidence and the covariance survive a save/load round trip.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from fairtwin.datasets import PreferenceDataset
from fairtwin.deploy import (
    Support,
    choose,
    describe_rivals,
    rival_rungs,
    rivals_agree,
    support_of,
)
from fairtwin.exceptions import ValidationError
from fairtwin.learn import OutcomeCostLearner, load_learner
from fairtwin.learn.evidence import (
    UNCHECKED,
    AnswerLink,
    ModelChoice,
    assess_evidence,
    beats_coin,
    best_rung,
    fit_link,
    fit_temperature,
)
from fairtwin.twin import Outcomes

N_DEC, K = 6, 8  # decision entries, decisions per week


def synthetic(n_weeks: int, n_pairs: int, rater: str = "planted", seed: int = 0,
              weights: tuple[float, float] = (1.0, 0.5)
              ) -> tuple[PreferenceDataset, list[Outcomes]]:
    """Weeks of random decisions with two outcome groups; answers from a planted quadratic over
    the outcomes (``planted``) or from a random per-week linear preference over the raw
    decision that no outcome explains (``unexplained``)."""
    rng = np.random.default_rng(seed)
    outs = []
    for _ in range(n_weeks):
        M = rng.normal(size=(4, N_DEC))
        outs.append(Outcomes(M, rng.normal(size=4) * 0.1, names=("a", "b", "c", "d"),
                             groups=("g1", "g1", "g2", "g2")))
    U = rng.normal(size=(n_weeks * K, N_DEC))
    ctx = np.repeat(np.arange(n_weeks), K)
    ds = PreferenceDataset(context_ids=np.arange(n_weeks), context_features=np.zeros((n_weeks, 1)),
                           decisions=U, decision_context=ctx, scenario="synthetic")
    gweek = rng.normal(size=(n_weeks, N_DEC))
    rows = rng.integers(0, n_weeks, size=n_pairs)
    a = rows * K + rng.integers(0, K, size=n_pairs)
    b = rows * K + (a - rows * K + 1 + rng.integers(0, K - 1, size=n_pairs)) % K
    if rater == "planted":
        cost = np.array([0.5 * weights[0] * np.sum(outs[c](u)[0, :2] ** 2)
                         + 0.5 * weights[1] * np.sum(outs[c](u)[0, 2:] ** 2)
                         for u, c in zip(U, ctx, strict=True)])
    else:
        cost = np.einsum("ij,ij->i", U, gweek[ctx])
    a_wins = cost[a] < cost[b]
    winners, losers = np.where(a_wins, a, b), np.where(a_wins, b, a)
    ds.add_comparisons(rows, winners, losers)
    return ds, outs


@pytest.mark.parametrize("method", ["laplace", "bootstrap"])
def test_the_posterior_narrows_and_support_rises_with_the_evidence(method: str) -> None:
    spreads, betters = [], []
    for n_pairs in (40, 160, 640):
        ds, outs = synthetic(20, n_pairs)
        model = OutcomeCostLearner().fit(ds, outcomes=outs).bootstrap(200, random_state=0)
        if method == "laplace":
            spreads.append(float(np.sqrt(np.diag(model.covariance_)[:2]).sum()))
        else:  # the direction's spread: the weights' ratio
            ratio = model.bootstrap_[:, 1] / np.maximum(model.bootstrap_[:, 0], 1e-12)
            spreads.append(float(np.std(ratio)))
        # a proposal that the planted cost ranks fairer than the "nominal" one, in week 0
        cand = ds.decisions[ds.decisions_of(0)]
        draws = model.posterior_draws(2000, random_state=0, method=method)
        u_bad = cand[0] + 3.0
        gaps = model.preference_gaps(outs[0], np.zeros((1, N_DEC)), u_bad[None, :], cand, draws)
        f = model.learned_costs(outs[0], np.stack([np.zeros(N_DEC), u_bad]), cand, draws)
        np.testing.assert_allclose(f[:, 1] - f[:, 0], gaps[:, 0], rtol=1e-9, atol=1e-12)
        betters.append(support_of(f[:, 0], f[:, 1], AnswerLink("absolute", 1.0).probability).better)
    assert spreads[0] > spreads[1] > spreads[2]
    assert betters[0] <= betters[1] <= betters[2]
    assert betters[2] > 0.99


def test_bootstrap_draws_are_reproducible_rescaled_and_saved(tmp_path: Path) -> None:
    ds, outs = synthetic(20, 300)
    model = OutcomeCostLearner().fit(ds, outcomes=outs)
    with pytest.raises(ValidationError, match="no bootstrap draws; call bootstrap"):
        model.posterior_draws(10, method="bootstrap")
    with pytest.raises(ValidationError, match="allowed: laplace, bootstrap"):
        model.posterior_draws(10, method="gibbs")
    model.bootstrap(50, random_state=1)
    again = OutcomeCostLearner().fit(ds, outcomes=outs).bootstrap(50, random_state=1)
    np.testing.assert_array_equal(model.bootstrap_, again.bootstrap_)
    assert model.bootstrap_.shape == (50, 4) and model.bootstrap_[:, :2].min() >= 0
    assert np.ptp(model.bootstrap_[:, 0]) > 0  # resamples of weeks move the fit
    fixed = model.posterior_draws(100, random_state=0, fix_scale=True, method="bootstrap")
    anchor = int(np.argmax(model.quadratic_))
    np.testing.assert_allclose(fixed[:, anchor], model.quadratic_[anchor])
    back = load_learner(model.save(tmp_path / "m.npz"))
    np.testing.assert_array_equal(back.bootstrap_, model.bootstrap_)
    with pytest.raises(ValidationError, match="a loaded model keeps its draws"):
        back.bootstrap(10)


def test_an_uninformed_weight_keeps_a_wide_posterior() -> None:
    ds, outs = synthetic(20, 400)
    # the second group never varies between decisions: the answers say nothing about it
    flat = [Outcomes(np.vstack([o.matrix[:2], np.zeros((2, N_DEC))]), o.offset, o.names, o.groups)
            for o in outs]
    model = OutcomeCostLearner().fit(ds, outcomes=flat)
    sd = np.sqrt(np.diag(model.covariance_))
    prior_sd = 1.0 / np.sqrt(2 * model.alpha * ds.n_comparisons)
    assert sd[1] == pytest.approx(prior_sd)  # the prior's spread, untouched by the answers
    assert sd[0] < 0.5 * prior_sd


def test_the_evidence_flags_answers_the_outcomes_do_not_explain() -> None:
    ds, outs = synthetic(30, 900, rater="planted")
    ok = assess_evidence(lambda: OutcomeCostLearner(), ds, outs, random_state=0)
    assert not ok.lack_of_fit and ok.supported and ok.cv_accuracy > 0.85
    ds, outs = synthetic(30, 900, rater="unexplained")
    bad = assess_evidence(lambda: OutcomeCostLearner(), ds, outs, random_state=0)
    assert not bad.supported
    assert bad.flexible_accuracy > bad.pair_accuracy + 0.1


def test_too_few_judged_pairs_leave_the_fit_untested() -> None:
    """Few answers judge few pairs (both decisions compared in other folds): the line says the
    fit is untested rather than that it fits; with many, it says what the test found."""
    from fairtwin.learn.evidence import MIN_FIT_PAIRS

    ds, outs = synthetic(30, 120, rater="planted")
    few = assess_evidence(lambda: OutcomeCostLearner(), ds, outs, random_state=0)
    assert 0 < few.pair_n < MIN_FIT_PAIRS and not few.lack_of_fit
    assert f"fit untested: only {few.pair_n} held-out pairs" in few.message
    assert "no lack of fit" not in few.message
    ds, outs = synthetic(30, 900, rater="planted")
    many = assess_evidence(lambda: OutcomeCostLearner(), ds, outs, random_state=0)
    assert many.pair_n >= MIN_FIT_PAIRS and "no lack of fit" in many.message


def test_lack_of_fit_is_judged_on_pairs_the_free_scores_can_score() -> None:
    """Answers about decisions compared once (an active round's re-solves) say nothing to a free
    score per decision, while the outcome model can rank them: scored on every pair, 900 such
    answers that agree with the outcome model would hide the lack of fit of the other 900; the
    test leaves them out, and the unexplained answers stay flagged."""
    ds, outs = synthetic(30, 900, rater="unexplained")
    before = assess_evidence(lambda: OutcomeCostLearner(), ds, outs, random_state=0)
    assert before.lack_of_fit and 0.8 * 900 < before.pair_n <= 900
    model = OutcomeCostLearner().fit(ds, outcomes=outs)
    rng = np.random.default_rng(5)
    rows = np.repeat(np.arange(30), 30)
    once = np.array([int(ds.add_decisions(int(r), rng.normal(size=N_DEC))[0]) for r in rows])
    old = rows * K + rng.integers(0, K, size=rows.size)
    f = model.costs_of(ds, outs)
    won = f[once] < f[old]  # the answers side with the outcome model
    ds.add_comparisons(rows, np.where(won, once, old), np.where(won, old, once), round=1)
    after = assess_evidence(lambda: OutcomeCostLearner(), ds, outs, random_state=0)
    assert after.n_comparisons == 1800
    assert after.pair_n <= 900  # none of the pairs of a decision compared once
    assert after.lack_of_fit and not after.supported
    assert f"of {after.pair_n} held-out pairs" in after.message


def test_calibration_temperature() -> None:
    rng = np.random.default_rng(0)
    t = rng.normal(size=4000) * 2.0
    y = rng.random(4000) < 1 / (1 + np.exp(-0.5 * t))  # the truth is half as confident
    tau = fit_temperature(np.where(y, t, -t))
    assert 0.4 < tau < 0.6
    assert fit_temperature(rng.normal(size=1000)) < 0.2  # no signal: (nearly) nothing


@pytest.mark.parametrize("rater", ["lapse", "relative"])
def test_the_answer_link_is_chosen_and_calibrated_by_held_out_answers(rater: str) -> None:
    """Answers of a rater who slips (a fifth of the answers flipped, whatever the gap) give a
    lapse of ~0.4; a rater whose certainty follows relative gaps gets the relative link; in both
    the fitted probabilities match the rater's own within 0.05 in every decile."""
    rng = np.random.default_rng(1)
    n = 6000
    f_a = np.exp(rng.normal(size=n) * 1.5)  # learned costs of two decisions, many scales
    f_b = f_a * np.exp(rng.normal(size=n) * 0.5)
    if rater == "lapse":
        truth = 0.2 + 0.6 / (1 + np.exp(-3.0 * (f_b - f_a)))
    else:
        truth = 1 / (1 + np.exp(-4.0 * (f_b - f_a) / (0.5 * (f_a + f_b))))
    a_won = rng.random(n) < truth
    link = fit_link(np.where(a_won, f_a, f_b), np.where(a_won, f_b, f_a))
    if rater == "lapse":
        assert link.kind == "absolute" and abs(link.lapse - 0.4) < 0.05
        assert 1.5 < link.temperature < 4.5  # weakly pinned: most gaps are far from 0
    else:
        assert link.kind == "relative" and link.lapse < 0.05
    p = link.probability(f_a, f_b)
    for lo, hi in zip(np.arange(0, 1, 0.1), np.arange(0.1, 1.1, 0.1), strict=True):
        sel = (p >= lo) & (p < hi)
        if sel.sum() > 100:
            assert abs(truth[sel].mean() - p[sel].mean()) < 0.05
    # answers that say nothing: every probability ½
    coin = rng.random(n) < 0.5
    none = fit_link(np.where(coin, f_a, f_b), np.where(coin, f_b, f_a))
    assert np.allclose(none.probability(f_a, f_b), 0.5, atol=0.03)


def test_evidence_needs_agreement_beyond_chance_and_a_link_that_is_not_a_coin() -> None:
    """Unseen weeks' answers count as evidence when the learned cost agrees with more of them
    than chance allows *and* its gaps predict them better than a coin: 0.59 of 156 answers is
    beyond chance (0.58) but not evidence with a coin's answer model; 0.57 is not evidence with
    any."""
    assert beats_coin(0.59, 156, 2.0) and beats_coin(0.59, 156)
    assert not beats_coin(0.59, 156, 0.0)
    assert not beats_coin(0.57, 156, 2.0)
    assert beats_coin(0.53, 10_000, 2.0)  # more answers, a narrower chance band


def test_on_policy_answers_calibrate_the_answer_model() -> None:
    """With 30 or more answers of a later round against a week's nominal decision, the answer
    model is fitted on them alone: a rater who slips on a fifth of them (whatever the gap) gets a
    lapse near 0.4 there, where the planted answers alone get none."""
    ds, outs = synthetic(40, 600, seed=3)
    plain = assess_evidence(lambda: OutcomeCostLearner(), ds, outs, random_state=0)
    assert not plain.link_on_policy and plain.lapse < 0.1
    assert plain.supported and plain.message.endswith(UNCHECKED)  # no answer on a proposal
    rng = np.random.default_rng(3)
    nominal = np.arange(40) * K  # each week's first decision plays the nominal one
    cost = np.array([0.5 * np.sum(outs[c](u)[0, :2] ** 2) + 0.25 * np.sum(outs[c](u)[0, 2:] ** 2)
                     for u, c in zip(ds.decisions, ds.decision_context, strict=True)])
    rows = np.repeat(np.arange(40), 2)
    other = _proposals(ds, rows * K + rng.integers(1, K, size=rows.size), rng)
    cost = np.r_[cost, [0.5 * np.sum(outs[c](ds.decisions[i])[0, :2] ** 2)
                        + 0.25 * np.sum(outs[c](ds.decisions[i])[0, 2:] ** 2)
                        for i, c in zip(other, rows, strict=True)]]
    fairer = cost[other] < cost[nominal[rows]]
    slip = rng.random(rows.size) < 0.2
    other_wins = fairer ^ slip
    ds.add_comparisons(rows, np.where(other_wins, other, nominal[rows]),
                       np.where(other_wins, nominal[rows], other), round=1)
    ev = assess_evidence(lambda: OutcomeCostLearner(), ds, outs, nominal=nominal, random_state=0)
    assert ev.on_policy_n == 80 and ev.link_on_policy
    assert UNCHECKED not in ev.message
    assert 0.25 < ev.lapse < 0.55


def _proposals(ds: PreferenceDataset, near: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A later round's proposals: new decisions (near the candidates ``near``) added to their
    weeks, as an active round adds its re-solves; their indices."""
    rows = ds.decision_context[near]
    return np.array([int(ds.add_decisions(int(r), ds.decisions[i] + rng.normal(0, 0.3, N_DEC))[0])
                     for r, i in zip(rows, near, strict=True)])


def test_candidates_a_round_sets_against_the_nominal_are_no_proposals() -> None:
    """Where a round's re-solve is the nominal decision the round sets the nominal against the
    week's best-rated candidates: those answers are not on-policy (they closed the *rejected*
    gate on the vaccine twin's proposals until this was mended); a proposal's are."""
    ds, outs = synthetic(40, 600, seed=5)
    nominal = np.arange(40) * K
    rng = np.random.default_rng(5)
    rows = np.repeat(np.arange(40), 2)
    candidates = rows * K + rng.integers(1, K, size=rows.size)
    ds.add_comparisons(rows, nominal[rows], candidates, round=1)  # the nominal wins them all
    ev = assess_evidence(lambda: OutcomeCostLearner(), ds, outs, nominal=nominal, random_state=0)
    assert ev.on_policy_n == 0 and not ev.rejected and ev.supported
    proposals = _proposals(ds, candidates, rng)
    ds.add_comparisons(rows, proposals, nominal[rows], round=2)  # the proposals win them all
    ev = assess_evidence(lambda: OutcomeCostLearner(), ds, outs, nominal=nominal, random_state=0)
    assert ev.on_policy_n == 80 and ev.on_policy_observed == 1.0 and not ev.rejected


def test_proposals_the_raters_turned_down_are_rejected() -> None:
    """On-policy answers where the nominal decision beat the proposals in most weeks (the
    random pairs well explained all the same) reject the learned cost — with fewer than 30 such
    answers when the posterior puts 0.9 on the raters taking them less often than not (1 of 6:
    yes; 10 of 20: no); where the proposals won, or with fewer than 5 answers, they do not."""
    ds0, outs = synthetic(40, 600, seed=4)
    nominal = np.arange(40) * K
    rng = np.random.default_rng(4)
    rows = np.repeat(np.arange(40), 2)
    other = _proposals(ds0, rows * K + rng.integers(1, K, size=rows.size), rng)
    for share_for_proposal, n, rejected in ((0.2, 80, True), (0.8, 80, False), (0.2, 20, True),
                                            (0.5, 20, False), (1 / 6, 6, True), (0.25, 4, False)):
        ds = ds0.subset_contexts(np.arange(40))
        won = rng.permutation(n) < share_for_proposal * n
        r, o = rows[:n], other[:n]
        ds.add_comparisons(r, np.where(won, o, nominal[r]), np.where(won, nominal[r], o), round=1)
        ev = assess_evidence(lambda: OutcomeCostLearner(), ds, outs, nominal=nominal,
                             random_state=0)
        assert ev.on_policy_n == n and ev.rejected is rejected
        assert ev.supported is not rejected and not ev.lack_of_fit
        assert ev.message.startswith("rejected:") is rejected


def test_a_week_without_supported_improvement_keeps_its_nominal_decision() -> None:
    link = AnswerLink("absolute", 1.0).probability
    no = support_of(np.zeros(4), np.array([1.0, -1.0, 2.0, -2.0]), link)
    yes = support_of(np.zeros(100), np.full(100, 3.0), link)
    unexplained = support_of(np.zeros(100), np.full(100, 3.0), link, supported=False)
    assert no.better == 0.5 and yes.better == 1.0 and unexplained.better == 0.5
    assert choose([no, no], 0.9) == -1
    assert choose([no, yes], 0.9) == 1
    assert choose([yes, yes], 0.9) == 0
    assert choose([unexplained], 0.9) == -1


def test_the_answer_probability_is_the_calibrated_link_at_the_median_draw() -> None:
    # the link was fitted on unseen weeks' predictions, whose errors hold the weights'
    # uncertainty already: averaging over the posterior again would pull p toward a coin
    link = AnswerLink("absolute", 2.0)
    gaps = np.random.default_rng(0).normal(1.0, 3.0, size=401)
    s = support_of(np.zeros(401), gaps, link.probability)
    assert s.probability == pytest.approx(float(link.probability(0.0, np.median(gaps))))
    assert s.probability > float(np.mean(link.probability(np.zeros(401), gaps))) + 0.1
    assert s.low <= s.probability <= s.high
    # a few heavy draws against the proposal do not turn it: most draws prefer it
    heavy = np.r_[np.full(300, 1.0), np.full(101, -10.0)]
    s = support_of(np.zeros(401), heavy, link.probability)
    assert s.better > 0.7 and s.probability > 0.5 > float(link.probability(0.0, heavy.mean()))


def test_a_rival_model_that_ranks_a_proposal_less_fair_refuses_it() -> None:
    link = AnswerLink("absolute", 1.0).probability
    yes = support_of(np.zeros(100), np.full(100, 3.0), link)
    refused = replace(yes, agreed=False)
    assert choose([refused, yes], 0.9) == 1 and choose([refused], 0.9) == -1
    assert rivals_agree([]) and rivals_agree([np.array([0.0, 1.0])])
    assert not rivals_agree([np.array([0.0, 1.0]), np.array([1.0, 0.0])])
    assert not rivals_agree([np.array([1.0, 1.0])])  # a tie is not fairer


def test_a_rival_is_a_rung_ahead_of_the_chosen_one_by_more_than_a_standard_error() -> None:
    table = [{"name": "base", "cv_accuracy": 0.719, "gain_se": 0.0},
             {"name": "near", "cv_accuracy": 0.735, "gain_se": 0.0163},  # 0.98 s.e. ahead
             {"name": "ahead", "cv_accuracy": 0.746, "gain_se": 0.0167},  # 1.6 s.e. ahead
             {"name": "behind", "cv_accuracy": 0.700, "gain_se": 0.01}]
    assert [r["name"] for r in rival_rungs(table, "base")] == ["ahead"]
    assert rival_rungs(table, "ahead") == []
    assert rival_rungs(table, "not climbed") == []
    line = describe_rivals(table, "base")
    assert line is not None and "ahead 0.746 (+1.6 s.e.)" in line and "near" not in line
    assert describe_rivals(table, "ahead") is None and describe_rivals(table, "nope") is None


def test_the_deploy_stage_deploys_only_what_the_rival_models_rank_fairer(tiny_run) -> None:  # type: ignore[no-untyped-def]
    import copy

    from fairtwin.pipeline import deploy_stage, nominal_indices, outcome_maps, resolve_stage

    scenario, config, ds, trained, f_scale = tiny_run
    learner = copy.copy(trained)
    learner.evidence_ = replace(trained.evidence_, supported=True, lack_of_fit=False)
    chosen = learner.model_choice_
    blind = ("beds_added", "sent_away", "travel", "moved")  # a rival without the load gaps
    learner.model_choice_ = ModelChoice(chosen.groups, chosen.name, [
        {"name": chosen.name, "groups": list(chosen.groups), "cv_accuracy": 0.6},
        {"name": "blind", "groups": list(blind), "cv_accuracy": 0.7},
        {"name": "worse", "groups": ["moved"], "cv_accuracy": 0.5}])  # not a rival
    U, _, _ = resolve_stage(learner, f_scale, ds, config, scenario)
    alone = deploy_stage(learner, f_scale, ds, U, config.override(resolve={"rivals": False}),
                         scenario)
    dep = deploy_stage(learner, f_scale, ds, U, config, scenario)
    rival = config.learner.make(0, blind, learner.ties)
    maps = outcome_maps(scenario, ds)
    rival.fit(ds, outcomes=maps)
    nom = nominal_indices(ds)
    refused = 0
    for row in range(ds.n_contexts):
        cand = ds.decisions[ds.decisions_of(row)]
        f = rival.learned_costs(maps[row], np.stack([dep.decisions[row], ds.decisions[nom[row]]]),
                                cand)
        assert dep.choice[row] == "nominal" or f[0] < f[1]
        g = rival.learned_costs(maps[row], np.stack([U[row], ds.decisions[nom[row]]]), cand)
        if alone.choice[row] == "re-solve" and g[0] >= g[1]:
            refused += 1
            assert dep.choice[row] != "re-solve"
    assert refused > 0  # the rival did refuse re-solves the model alone deployed
    np.testing.assert_array_equal(dep.probability, alone.probability)  # p stays the model's


def test_the_deploy_stage_keeps_nominal_without_support(tiny_run) -> None:  # type: ignore[no-untyped-def]
    from fairtwin.pipeline import deploy_stage, nominal_indices, resolve_stage

    scenario, config, ds, learner, f_scale = tiny_run
    U, _, _ = resolve_stage(learner, f_scale, ds, config, scenario)
    dep = deploy_stage(learner, f_scale, ds, U, config, scenario)
    assert len(dep.choice) == ds.n_contexts and np.all(np.isfinite(dep.probability))
    # a rater's answer probability, its posterior mean and 90 % interval
    assert np.all((dep.low <= dep.high) & (dep.answer >= 0) & (dep.answer <= 1))
    learner.evidence_ = replace(learner.evidence_, supported=False, lack_of_fit=True)
    none = deploy_stage(learner, f_scale, ds, U, config, scenario)
    nom = nominal_indices(ds)
    assert none.choice == ["nominal"] * ds.n_contexts
    np.testing.assert_array_equal(none.probability, 0.5)  # p: nothing supported
    np.testing.assert_array_equal(none.answer, 0.5)  # nor any rater's answer
    np.testing.assert_array_equal(none.decisions, ds.decisions[nom])
    always = deploy_stage(learner, f_scale, ds, U, config.override(resolve={"deploy": "always"}),
                          scenario)
    np.testing.assert_array_equal(always.decisions, U)


def test_evidence_and_posterior_round_trip(tiny_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    learner = tiny_run[3]
    back = load_learner(learner.save(tmp_path / "m.npz"))
    assert back.evidence_ == learner.evidence_
    np.testing.assert_array_equal(back.covariance_, learner.covariance_)
    np.testing.assert_array_equal(back.posterior_draws(50, random_state=3),
                                  learner.posterior_draws(50, random_state=3))


@pytest.fixture(scope="module")
def tiny_run():  # type: ignore[no-untyped-def]
    from fairtwin.pipeline import label_stage, load_scenario, sample_stage, train_stage
    from tests.test_pipeline import tiny_config

    config = tiny_config().override(scenario={"n_train": 6}, labels={"oracle": "quadratic"})
    scenario = load_scenario(config)
    ds = sample_stage(config, scenario)
    label_stage(ds, config, scenario)
    learner, f_scale, _ = train_stage(ds, config, scenario)
    return scenario, config, ds, learner, f_scale


def answer(ds: PreferenceDataset, cost: np.ndarray, n_pairs: int,
           rng: np.random.Generator) -> None:
    """Add ``n_pairs`` comparisons of two different decisions of a random week, the one of lower
    ``cost`` winning (weeks of ``K`` decisions each)."""
    rows = rng.integers(0, ds.n_contexts, size=n_pairs)
    a = rows * K + rng.integers(0, K, size=n_pairs)
    b = rows * K + (a - rows * K + 1 + rng.integers(0, K - 1, size=n_pairs)) % K
    a_wins = cost[a] < cost[b]
    ds.add_comparisons(rows, np.where(a_wins, a, b), np.where(a_wins, b, a))


def synthetic_with_extra(n_weeks: int, n_pairs: int, planted: str,
                         seed: int = 0) -> tuple[PreferenceDataset, list[Outcomes]]:
    """Like :func:`synthetic`, with a third, extra group ``g3`` that the planted cost ignores
    (``planted = "base"``), weighs beside the base groups (``"base+g3"``) or weighs alone
    (``"only:g3"``: a notion of data the base groups leave out, which they only blur)."""
    ds, outs = synthetic(n_weeks, 0, seed=seed)
    rng = np.random.default_rng(seed + 100)
    extended = [Outcomes(np.vstack([o.matrix, rng.normal(size=(2, N_DEC))]),
                         np.r_[o.offset, 0.0, 0.0], (*o.names, "e", "f"),
                         (*o.groups, "g3", "g3"), extra=("g3",)) for o in outs]
    w3 = 0.0 if planted == "base" else 3.0
    w0 = 0.0 if planted == "only:g3" else 1.0
    cost = np.array([w0 * (0.5 * np.sum(phi[:2] ** 2) + 0.25 * np.sum(phi[2:4] ** 2))
                     + 0.5 * w3 * np.sum(phi[4:] ** 2)
                     for phi in (extended[c](u)[0] for u, c in zip(ds.decisions, ds.decision_context,
                                                                     strict=True))])
    answer(ds, cost, n_pairs, rng)
    return ds, extended


@pytest.mark.parametrize("planted", ["base", "base+g3", "only:g3"])
def test_model_selection_picks_the_planted_family(planted: str) -> None:
    from fairtwin.learn.evidence import select_groups

    ds, outs = synthetic_with_extra(30, 900, planted)
    choice = select_groups(lambda g: OutcomeCostLearner(groups=g), ds, outs, random_state=0)
    assert choice.name == planted
    assert choice.groups == {"base": ("g1", "g2"), "base+g3": ("g1", "g2", "g3"),
                             "only:g3": ("g3",)}[planted]
    assert [r["name"] for r in choice.table] == ["base", "base+g3", "only:g3", "base+max:g1",
                                                 "base+max:g2"]
    model = OutcomeCostLearner().fit(ds, outcomes=outs)  # no groups: the base only
    assert model.groups_ == ("g1", "g2")


def test_model_selection_in_two_processes_equals_one() -> None:
    """The rungs dealt to two processes give the ladder table of one, number for number."""
    from fairtwin.learn.evidence import select_groups

    ds, outs = synthetic_with_extra(30, 600, "base+g3")
    one, two = (select_groups(lambda g: OutcomeCostLearner(groups=g), ds, outs, random_state=1,
                              n_jobs=n) for n in (1, 2))
    assert two.name == one.name == "base+g3"
    assert two.table == one.table


@pytest.mark.parametrize("planted", [True, False])
def test_model_selection_adds_linear_weights_only_when_planted(planted: bool) -> None:
    """A notion that counts every unit of a group alike (a price per unit, like every
    patient-km) is linear in the outcomes: the ladder's linear rung (opt-in) is chosen for it,
    and not for a quadratic notion."""
    from fairtwin.learn.evidence import select_groups

    ds, outs = synthetic(30, 0)
    rng = np.random.default_rng(5)
    phi = np.array([outs[c](u)[0] for u, c in zip(ds.decisions, ds.decision_context, strict=True)])
    cost = 0.5 * np.sum(phi[:, :2] ** 2, axis=1) + 0.25 * np.sum(phi[:, 2:] ** 2, axis=1)
    if planted:
        cost = cost + 2.0 * phi[:, 2:].sum(axis=1)
    answer(ds, cost, 900, rng)
    choice = select_groups(lambda g: OutcomeCostLearner(groups=g), ds, outs, linear=True,
                           random_state=0)
    assert choice.name == ("base+linear" if planted else "base") and choice.linear == planted
    assert ModelChoice.from_dict(choice.to_dict()) == choice


def two_groups(n_weeks: int, n_pairs: int, seed: int, offset: float,
               term: Callable[[NDArray[np.float64], NDArray[np.float64]], NDArray[np.float64]]
               ) -> tuple[PreferenceDataset, list[Outcomes]]:
    """Weeks of random decisions over two groups of four members, the outcomes' offsets (doing
    nothing) of scale ``offset``; the planted cost is a quadratic over both plus ``term(φ,
    rise)`` of every decision's outcomes and their rise over doing nothing, answered."""
    rng = np.random.default_rng(seed)
    outs = [Outcomes(rng.normal(size=(8, N_DEC)), rng.normal(size=8) * offset,
                     names=tuple("abcdefgh"), groups=("g1",) * 4 + ("g2",) * 4)
            for _ in range(n_weeks)]
    U = rng.normal(size=(n_weeks * K, N_DEC))
    ctx = np.repeat(np.arange(n_weeks), K)
    ds = PreferenceDataset(context_ids=np.arange(n_weeks), context_features=np.zeros((n_weeks, 1)),
                           decisions=U, decision_context=ctx, scenario="synthetic")
    phi = np.array([outs[c](u)[0] for u, c in zip(U, ctx, strict=True)])
    rise = phi - np.array([outs[c].offset for c in ctx])
    cost = 0.1 * np.sum(phi[:, :4] ** 2, axis=1) + 0.5 * np.sum(phi[:, 4:] ** 2, axis=1) \
        + term(phi, rise)
    answer(ds, cost, n_pairs, rng)
    return ds, outs


def synthetic_peak(n_weeks: int, n_pairs: int, peak: float, seed: int = 0
                   ) -> tuple[PreferenceDataset, list[Outcomes]]:
    """:func:`two_groups` plus ``peak`` times the largest member of ``g1`` (non-smooth)."""
    return two_groups(n_weeks, n_pairs, seed, 0.1, lambda phi, _: peak * phi[:, :4].max(axis=1))


def synthetic_harm(n_weeks: int, n_pairs: int, harm: float, seed: int = 0
                   ) -> tuple[PreferenceDataset, list[Outcomes]]:
    """:func:`two_groups` plus ``harm`` times the rises of ``g1``'s members over doing nothing
    (``u = 0``: the outcomes' offset)."""
    return two_groups(n_weeks, n_pairs, seed, 1.0,
                      lambda _, rise: harm * np.maximum(rise[:, :4], 0.0).sum(axis=1))


#: a planted piecewise-linear term: its synthetic answers, its rung, the model's terms and how
#: many max terms the learned cost carries
PLANTED = {"peak": (synthetic_peak, "base+max:g1", ("g1",), 1),
           "harm": (synthetic_harm, "base+harm:g1", ("g1+",), 4)}


@pytest.mark.parametrize(("kind", "weight"), [("peak", 3.0), ("peak", 0.0), ("harm", 3.0),
                                              ("harm", 0.0)])
def test_model_selection_adds_a_piecewise_linear_term_only_when_planted(
        kind: str, weight: float, tmp_path: Path) -> None:
    """The largest member (a peak) and each member's rise over doing nothing (harm, the
    opt-in rung) are chosen when planted and not otherwise; the learned cost carries them as
    max terms (harm: one per member) that rank decisions exactly as the model does."""
    from fairtwin.learn.evidence import select_groups

    synthetic, rung, terms, n_max = PLANTED[kind]
    ds, outs = synthetic(30, 1200, weight)
    choice = select_groups(lambda g: OutcomeCostLearner(groups=g), ds, outs,
                           harm=kind == "harm", random_state=0)
    assert rung in [r["name"] for r in choice.table]
    assert choice.name == (rung if weight else "base")
    if not weight:
        return
    model = OutcomeCostLearner(groups=choice.groups).fit(ds, outcomes=outs)
    assert model.peaks_ == terms and model.peak_[0] > 0
    base = OutcomeCostLearner().fit(ds, outcomes=outs)
    held, held_outs = synthetic(30, 1200, weight, seed=1)
    assert model.score(held, held_outs) > base.score(held, held_outs) + 0.02
    cands = ds.decisions[ds.decisions_of(0)]
    cost = model.cost(outs[0], cands)
    assert len(cost.max_terms) == n_max and cost.smooth.max_terms == ()
    f = model.costs_of(ds, outs)[ds.decisions_of(0)]
    np.testing.assert_allclose(np.asarray(cost(cands)) - cost(cands[0]), f - f[0], atol=1e-9)
    # posterior draws keep the term's weight non-negative; the file keeps the term
    assert model.posterior_draws(200, random_state=0)[:, -1].min() >= 0
    back = load_learner(model.save(tmp_path / "model.npz"))
    assert back.peaks_ == terms
    np.testing.assert_array_equal(back.peak_, model.peak_)
    np.testing.assert_allclose(back.cost(outs[0], cands)(cands), cost(cands))


def test_a_peak_needs_its_group() -> None:
    ds, outs = synthetic_peak(4, 20, 0.0)
    with pytest.raises(ValidationError,
                       match=r"term\(s\) \['g1\^'\] \(a peak g\^, a harm term g\+\) need"):
        OutcomeCostLearner(groups=("g2", "g1^")).fit(ds, outcomes=outs)


@pytest.mark.parametrize("favoured", [True, False])
def test_per_member_weights_recover_a_planted_favourite(favoured: bool) -> None:
    rng = np.random.default_rng(5)
    n_weeks, n_pairs = 40, 2000
    outs = [Outcomes(rng.normal(size=(4, N_DEC)), np.zeros(4), names=("m1", "m2", "m3", "m4"),
                     groups=("g",) * 4) for _ in range(n_weeks)]
    U = rng.normal(size=(n_weeks * K, N_DEC))
    ctx = np.repeat(np.arange(n_weeks), K)
    ds = PreferenceDataset(context_ids=np.arange(n_weeks), context_features=np.zeros((n_weeks, 1)),
                           decisions=U, decision_context=ctx, scenario="synthetic")
    w = np.array([1.0, 1.0, 1.0, 6.0 if favoured else 1.0])
    cost = np.array([0.5 * np.sum(w * outs[c](u)[0] ** 2) for u, c in zip(U, ctx, strict=True)])
    answer(ds, cost, n_pairs, rng)
    model = OutcomeCostLearner(groups=("g", "g@")).fit(ds, outcomes=outs)
    assert model.groups_ == ("g", "g@m1", "g@m2", "g@m3", "g@m4")
    shared, own = model.quadratic_[0], model.quadratic_[1:]
    if favoured:
        assert own[3] > shared and own[3] > 3 * own[:3].max()
    else:
        assert own.max() < 0.5 * shared  # shrunk to the shared weight


def week_whim(values, outcomes, context):  # type: ignore[no-untyped-def]
    """A rater whose notion changes every week at random: no function of the outcomes that
    holds across weeks explains it (positive, as the relative metrics assume)."""
    g = np.random.default_rng([7, int(context.index)]).standard_normal(values.shape[1])
    return 1e3 + values @ g


@pytest.mark.slow  # 30-80 s: the bound's local search calls the Python rater per move
def test_a_run_on_unexplainable_answers_says_so_and_keeps_nominal(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from fairtwin.cli import main

    assert main(["run", "--oracle", "tests.test_deploy:week_whim", "--train-weeks", "10",
                 "--held-out-weeks", "4", "--samples", "6", "--pairs", "250", "--rounds", "1",
                 "--jobs", "1", "--out", str(tmp_path / "run")]) == 0
    printed = capsys.readouterr().out
    assert "lack of fit" in printed or "no evidence" in printed
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert not metrics["evidence"]["supported"]
    held = metrics["summary"]["held-out"]
    assert held["deployed"] == {"nominal": 4} and held["losses"] == 0


def test_unexplainable_answers_deploy_nothing() -> None:
    """The same through the pipeline's stages, without the bound (seconds): the evidence finds
    nothing to deploy, and every week keeps its nominal decision."""
    from fairtwin.pipeline import (
        deploy_stage,
        label_stage,
        load_scenario,
        nominal_indices,
        sample_stage,
        train_stage,
    )
    from tests.test_pipeline import tiny_config

    config = tiny_config().override(scenario={"n_train": 10}, labels={
        "oracle": "tests.test_deploy:week_whim", "n_pairs": 250})
    scenario = load_scenario(config)
    ds = sample_stage(config, scenario)
    label_stage(ds, config, scenario)
    learner, f_scale, _ = train_stage(ds, config, scenario)
    assert not learner.evidence_.supported
    last = np.array([ds.decisions_of(r)[-1] for r in range(ds.n_contexts)])
    dep = deploy_stage(learner, f_scale, ds, ds.decisions[last], config, scenario)
    assert dep.choice == ["nominal"] * ds.n_contexts
    np.testing.assert_array_equal(dep.decisions, ds.decisions[nominal_indices(ds)])
    np.testing.assert_array_equal(dep.probability, 0.5)


def test_the_evaluation_tables_both_probabilities_against_the_simulated_rater(tiny_run) -> None:  # type: ignore[no-untyped-def]
    """Each deployed week carries the predicted answer probability and the simulated rater's
    own (exact) probability of answering for the proposal; the summary tables both."""
    from fairtwin.pipeline import deploy_stage, evaluate_stage, resolve_stage

    scenario, config, ds, learner, f_scale = tiny_run
    U, times, statuses = resolve_stage(learner, f_scale, ds, config, scenario)
    dep = deploy_stage(learner, f_scale, ds, U, config, scenario)
    result = evaluate_stage(ds, dep.decisions, times, statuses, config, scenario, deployment=dep)
    weeks = result["contexts"]
    answered = np.array([w["rater_answer"] for w in weeks])
    fairer = np.array([w["proposal_fairer"] for w in weeks])
    np.testing.assert_allclose([w["p_answer"] for w in weeks], dep.answer)
    # the run's rater flips labels at rate `noise`: it answers for a fairer proposal with 1 − noise
    noise = config.labels.noise
    np.testing.assert_allclose(answered, np.where(fairer == 1.0, 1 - noise, noise))
    for split in result["summary"].values():
        table = split["answer_reliability"]
        assert sum(r["contexts"] for r in table) == split["n_contexts"]
        for r in table:
            assert r["low"] <= r["predicted"] <= r["high"] and 0 <= r["observed"] <= 1


def test_the_ladder_breaks_ties_in_accuracy_by_the_held_out_log_loss() -> None:
    """A rung within one standard error of the most accurate one, with the lower log-loss,
    is chosen (worst-off, 156 answers, seed 4); a clear lead, or no rung past the base model's
    two standard errors, decides as before."""
    base = {"name": "base", "cv_accuracy": 0.577, "cv_log_loss": 0.693, "gain_se": 0.0}
    level = {"name": "only:load", "cv_accuracy": 0.744, "cv_log_loss": 0.699, "gain_se": 0.046}
    peak = {"name": "base+max:load_gap", "cv_accuracy": 0.724, "cv_log_loss": 0.656,
            "gain_se": 0.041}
    assert best_rung([base, level, peak]) == "base+max:load_gap"
    assert best_rung([base, level, {**peak, "cv_accuracy": 0.68}]) == "only:load"  # 1.6 s.e. behind
    assert best_rung([base, {**level, "cv_accuracy": 0.60}]) == "base"  # 0.5 s.e. past the base
    assert best_rung([base]) == "base"


def test_a_lower_rung_whose_solve_fails_hands_the_ladder_the_nominal_decision(caplog):
    """A cautious or bounded re-solve that ends without a decision is a rung that supports
    nothing (the ladder goes on), not a reason to stop the run; a rung that solves is kept."""
    from fairtwin.exceptions import SolveLimitError
    from fairtwin.pipeline import rung_or_nominal

    u_nom = np.array([1.0, 2.0, 3.0])

    def fails() -> np.ndarray:
        raise SolveLimitError("the re-solve of week 78 (blend mode, highs) returned error "
                              "without a decision")

    with caplog.at_level("WARNING", logger="fairtwin.pipeline"):
        got = rung_or_nominal(fails, u_nom, "cautious", "week 78")
    np.testing.assert_array_equal(got, u_nom)
    assert got is not u_nom
    assert "week 78: the cautious rung has no decision" in caplog.text
    # a nominal decision yields a support that no threshold accepts: the next rung is asked
    assert choose([Support(0.5, 0.5, 0.5, 0.0), Support(0.9, 0.8, 1.0, 0.95)], 0.9) == 1
    np.testing.assert_array_equal(
        rung_or_nominal(lambda: np.array([0.0, 2.0, 4.0]), u_nom, "bounded", "week 1"),
        [0.0, 2.0, 4.0])
