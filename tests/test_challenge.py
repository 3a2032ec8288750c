"""Head-to-head challenges between the model ladder's rungs (:mod:`fairtwin.learn.challenge`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fairtwin.exceptions import UnknownNameError, ValidationError
from fairtwin.learn import load_learner
from fairtwin.learn.challenge import (
    challengers_left,
    most_doubtful,
    next_challenger,
    not_ruled_out,
    plausibility,
    settle_choice,
    settling_order,
    verdict,
)
from fairtwin.learn.evidence import ModelChoice
from fairtwin.pipeline import (
    RANDOM_PER_WEEK,
    LabelConfig,
    label_stage,
    load_scenario,
    sample_stage,
    train_stage,
)
from tests.test_pipeline import tiny_config


def rung(name: str, acc: float, loss: float = 0.6, groups: tuple[str, ...] = ("a",)) -> dict:
    return {"name": name, "groups": list(groups), "cv_accuracy": acc, "cv_log_loss": loss,
            "gain_se": 0.01}


TABLE = [rung("base", 0.70), rung("base+x", 0.74, groups=("a", "x")),
         rung("only:x", 0.73, groups=("x",)), rung("base+y", 0.70, groups=("a", "y")),
         rung("base+z", 0.72, groups=("a", "z"))]


def bout(incumbent: str, challenger: str, wins: int, answers: int = 52) -> dict:
    said = verdict(wins, answers)
    loser = {"challenger": incumbent, "incumbent": challenger}.get(said, "")
    return {"round": 1, "incumbent": incumbent, "challenger": challenger, "wins": wins,
            "answers": answers, "verdict": said, "loser": loser,
            "holder": challenger if said == "challenger" else incumbent}


def test_a_challenge_is_decided_one_standard_error_of_a_coin_away_from_half() -> None:
    # 52 answers: half is 26, one standard error of a fair coin √52 / 2 ≈ 3.6
    assert verdict(30, 52) == "challenger"
    assert verdict(29, 52) == verdict(23, 52) == "undecided"
    assert verdict(22, 52) == "incumbent"
    assert verdict(0, 0) == "undecided"
    assert verdict(29, 52, z=0.5) == "challenger"


def test_the_challenger_is_the_most_accurate_rung_that_has_not_met_the_incumbent() -> None:
    assert next_challenger(TABLE, "base")["name"] == "base+x"
    assert next_challenger(TABLE, "base", [bout("base", "base+x", 26)])["name"] == "only:x"
    # a beaten rung never challenges again; nor does a rung the answers cannot tell apart
    # from the incumbent (base+y: the same accuracy and log-loss as the base)
    played = [bout("base", "base+x", 26), bout("base", "only:x", 10), bout("base", "base+z", 27)]
    assert next_challenger(TABLE, "base", played) is None
    assert next_challenger(TABLE, "base+z", played)["name"] == "base+x"
    assert next_challenger(TABLE, "base+x", played)["name"] == "base+z"


def test_the_doubt_order_challenges_with_the_rung_that_doubts_the_proposals_most() -> None:
    # the random pairs rule out rungs trailing the model by more than two standard errors
    # (base+x at 0.74, gain_se 0.01: base at 0.70 is out, base+z at 0.72 is not)
    left = challengers_left(TABLE, "base+x")
    assert [r["name"] for r in not_ruled_out(TABLE, left, "base+x")] == ["only:x", "base+z"]
    assert [r["name"] for r in not_ruled_out(TABLE, left, "base+x", z=4.0)] == [
        "base", "only:x", "base+y", "base+z"]
    near = not_ruled_out(TABLE, left, "base+x")
    # the rung that ranks more of the model's re-solves less fair than nominal challenges,
    # weighed by how plausibly it is as accurate as the model: only:x (0.73, one standard
    # error behind: 0.16) and base+z (0.72, two behind: 0.023)
    assert plausibility(TABLE, near[0], "base+x") == pytest.approx(0.1587, abs=1e-4)
    assert plausibility(TABLE, TABLE[1], "base+x") == 0.5
    assert most_doubtful(TABLE, near, "base+x", {"only:x": 0.1, "base+z": 0.8})["name"] == "base+z"
    assert most_doubtful(TABLE, near, "base+x", {"only:x": 0.2, "base+z": 0.8})["name"] == "only:x"
    assert most_doubtful(TABLE, near, "base+x", {})["name"] == "only:x"  # the more accurate
    assert most_doubtful(TABLE, [], "base+x", {"only:x": 1.0}) is None
    with pytest.raises(UnknownNameError, match="'accuracy', 'doubt'"):
        LabelConfig(challenge_order="loudest")


def test_the_raters_verdict_overrides_the_accuracy_choice_once_it_is_decided() -> None:
    choice = ModelChoice(("a", "x"), "base+x", TABLE)
    undecided = settle_choice(choice, [bout("base+x", "only:x", 27)])
    assert (undecided.name, undecided.groups) == ("base+x", ("a", "x"))
    assert len(undecided.challenges) == 1
    taken = settle_choice(choice, [bout("base+x", "only:x", 40), bout("only:x", "base+z", 25)])
    assert (taken.name, taken.groups) == ("only:x", ("x",))
    # withstanding a challenge says nothing against a rung never met: the accuracy stands
    kept = settle_choice(ModelChoice(("a", "z"), "base+z", TABLE), [bout("base+x", "only:x", 10)])
    assert kept.name == "base+z"
    # a take-over does: the raters preferred the challenger to the model of the time
    won = settle_choice(ModelChoice(("a", "z"), "base+z", TABLE), [bout("base+x", "only:x", 40)])
    assert (won.name, won.groups) == ("only:x", ("x",))
    beaten = settle_choice(ModelChoice(("a", "z"), "base+z", TABLE),
                           [bout("base+z", "base+x", 40), bout("base+x", "only:x", 26)])
    assert (beaten.name, beaten.groups) == ("base+x", ("a", "x"))  # the holder
    assert settle_choice(choice, []) == choice
    assert "only:x preferred to base+x in 40 of 52 head-to-head answers (takes over)" in taken.describe()


def test_a_level_rung_that_takes_over_keeps_its_linear_weights() -> None:
    """A rung weighing a level group is fitted with linear weights (its square is held at 0)
    whether the accuracy chose it or a take-over did: without them it weighs nothing."""
    table = [*TABLE, rung("base+x*age", 0.71, groups=("a", "x*age"))]
    won = settle_choice(ModelChoice(("a",), "base", table), [bout("base", "base+x*age", 40)])
    assert (won.name, won.groups, won.linear) == ("base+x*age", ("a", "x*age"), True)
    plain = settle_choice(ModelChoice(("a",), "base", table), [bout("base", "base+x", 40)])
    assert not plain.linear


def test_of_two_challengers_that_take_over_the_one_preferred_more_often_holds() -> None:
    choice = ModelChoice(("a",), "base", TABLE)
    taker, undecided = bout("base", "base+x", 33), bout("base", "only:x", 27)
    for bouts in ([taker, undecided], [undecided, taker]):
        assert settle_choice(choice, settling_order(bouts)).name == "base+x"
    stronger = bout("base", "only:x", 40)
    for bouts in ([taker, stronger], [stronger, taker]):
        assert settle_choice(choice, settling_order(bouts)).name == "only:x"
    beaten = bout("base", "base+z", 15)  # the model withstood both: it stays
    assert settle_choice(choice, settling_order([beaten, undecided])).name == "base"


def tiny_train(challenge: bool, n_best: int = 2,  # type: ignore[no-untyped-def]
               order: str = "accuracy"):
    config = tiny_config(oracle="quadratic", rounds=2, n_best=n_best, final_check=False,
                         n_pairs=90, challenge=challenge, challengers=2, challenge_order=order
                         ).override(scenario={"n_train": 6})
    scenario = load_scenario(config)
    ds = sample_stage(config, scenario)
    label_stage(ds, config, scenario)
    learner, _, rounds = train_stage(ds, config, scenario)
    return config, ds, learner, rounds


def test_a_challenge_needs_the_model_ladder_and_one_comparison_a_week_per_challenger() -> None:
    config = tiny_config(rounds=2, n_best=2, n_pairs=90, final_check=False, challengers=2)
    assert config.labels.challenge and config.labels.per_round(6) == 5  # two challengers
    assert config.labels.n_random(6) == 90 - 2 * 5 * 6
    fixed = config.override(learner={"groups": ["load_gap"]})  # no ladder: nothing to challenge
    assert not fixed.labels.challenge and fixed.labels.n_random(6) == 90 - 2 * 3 * 6
    assert fixed.labels.n_challengers(6) == 0


def test_a_round_holds_one_challenger_when_two_would_leave_too_few_random_pairs() -> None:
    labels = LabelConfig(n_pairs=260, rounds=1, challengers=2)  # 52 weeks: two leave none
    assert labels.n_challengers(52) == 1 and labels.n_random(52) == 260 - 4 * 52
    two = LabelConfig(challengers=2)  # 1344 answers, 3 rounds: 564 random pairs left
    assert two.n_challengers(52) == 2 and two.n_random(52) == 1344 - 3 * 5 * 52
    # the floor: two random pairs a week
    edge = 3 * 5 * 52 + RANDOM_PER_WEEK * 52
    assert LabelConfig(n_pairs=edge, challengers=2).n_challengers(52) == 2
    assert LabelConfig(n_pairs=edge - 1, challengers=2).n_challengers(52) == 1
    assert LabelConfig(challengers=3).n_challengers(52) == 3
    with pytest.raises(ValidationError, match="challengers must be at least 1"):
        LabelConfig(challengers=0)


@pytest.mark.parametrize("order", ["accuracy", "doubt"])
def test_active_rounds_challenge_the_model_within_the_budget(
        tmp_path: Path, order: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="fairtwin"):
        config, ds, learner, rounds = tiny_train(True, order=order)
    # the doubt order fits the rungs within reach and says which doubts the proposals most
    assert any("challenger by doubt" in r.getMessage() for r in caplog.records) == (
        order == "doubt")
    assert ds.n_comparisons <= config.labels.n_pairs
    bouts = learner.model_choice_.challenges
    duels = [d for r in rounds for d in r.challenges]
    assert duels, "no round held a challenge"
    assert all(len([d for d in r.challenges if d.head_to_head]) <= 2 for r in rounds)
    assert [d.challenger for d in duels] == [b["challenger"] for b in bouts]  # "same" too
    for d, b in zip(duels, bouts, strict=True):
        assert d.challenger == b["challenger"] != b["incumbent"]
        assert 0 <= d.head_to_head <= 6  # at most one answer a week
        assert 0 <= d.challenger_wins <= d.head_to_head
        assert d.verdict == (verdict(d.challenger_wins, d.head_to_head) if d.head_to_head
                             else "same")
    for r in rounds:  # a round's challengers are distinct rungs, all against the same model
        assert len({d.challenger for d in r.challenges}) == len(r.challenges)
        assert len({b["incumbent"] for b in bouts if b["round"] == r.round}) <= 1
    beaten = {b["loser"] for b in bouts if b["loser"]}
    assert learner.model_choice_.name not in beaten
    if any(b["verdict"] == "challenger" for b in bouts):
        assert learner.model_choice_.name == bouts[-1]["holder"]
    learner.save(tmp_path / "model.npz")
    assert load_learner(tmp_path / "model.npz").model_choice_.challenges == bouts


def test_without_challenges_the_rounds_ask_only_about_the_models_re_solves() -> None:
    _, _, learner, rounds = tiny_train(False)
    assert not any(r.challenges for r in rounds)
    assert learner.model_choice_.challenges == []


def test_a_challenger_that_takes_over_is_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    import fairtwin.learn.challenge as challenge

    monkeypatch.setattr(challenge, "CHALLENGE_Z", -np.inf)  # every challenger takes over
    _, _, learner, rounds = tiny_train(True)
    last = [d for r in rounds for d in r.challenges if d.head_to_head][-1]
    assert last.verdict == "challenger"
    choice = learner.model_choice_
    assert choice.challenges[-1]["holder"] == choice.name == last.challenger
    row = next(r for r in choice.table if r["name"] == last.challenger)
    assert choice.groups == tuple(row["groups"])
