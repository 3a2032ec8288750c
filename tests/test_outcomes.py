"""Named outcomes, the outcome learner, select mode and the gini-travel notion.

- the ICU twin's outcomes are the affine functions of the decision they claim to be;
- the outcome learner recovers a load-evenness rater on unseen contexts, its decision-space cost
  agrees with its own scores, it is permutation-equivariant in the regions, and it round-trips;
- select mode returns one of the candidates, never with more overflow than nominal (property);
- the gini-travel notion charges long transfers only.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fairtwin.costs import QuadraticCost
from fairtwin.exceptions import DataFormatError, ValidationError
from fairtwin.learn import OutcomeCostLearner, load_learner
from fairtwin.oracles import get_oracle
from fairtwin.pipeline import ExperimentConfig, outcome_maps, sample_stage
from fairtwin.resolve import ResolveConfig, resolve_context
from fairtwin.twin import Context, GiniOracle, ICUTwin, Outcomes, Scenario, TwinConfig
from fairtwin.twin.icu.regions import RegionTable


def _random_decision(twin: ICUTwin, context: Context, rng: np.random.Generator) -> np.ndarray:
    """A feasible decision: a few beds and transfers within the limits."""
    y = np.zeros(twin.n_regions)
    y[rng.integers(twin.n_regions)] = min(context.pool, 3)
    movable = twin.transferable(context)
    src, dst = twin.pairs
    x = np.zeros(twin.n_pairs)
    for i in range(twin.n_regions):
        k = rng.choice(np.flatnonzero(src == i))
        x[k] = rng.integers(0, int(movable[i]) + 1)
    return twin.join(y, np.zeros((twin.n_regions,) * 2)) + np.r_[np.zeros(twin.n_regions), x]


def test_icu_outcomes_are_the_quantities_they_name(tiny_scenario: Scenario) -> None:
    twin = tiny_scenario.twin
    rng = np.random.default_rng(0)
    for context in tiny_scenario.contexts:
        out = twin.outcomes(context)
        assert out.base_groups == ("load_gap", "beds_added", "sent_away", "travel", "moved")
        assert out.extra == ("received", "patients_per_resident", "beds_per_resident", "spend",
                             "load")
        assert set(out.units) == set(out.group_names)
        u = _random_decision(twin, context, rng)
        phi = out(u)[0]
        alloc = twin.allocation(u, context)
        C = np.maximum(context.capacity, 1)
        rho0 = context.demand.sum() / (C.sum() + context.pool)
        gap = (context.demand - alloc.transfers_out + alloc.transfers_in
               - rho0 * (C + alloc.deployed)) / C
        level = gap + rho0
        gap -= C @ gap / C.sum()
        g = np.array(out.groups)
        np.testing.assert_allclose(phi[g == "load_gap"], gap, atol=1e-12)
        # the level itself, each deployed bed taking the national average: no centring
        np.testing.assert_allclose(phi[g == "load"], level, atol=1e-12)
        np.testing.assert_allclose(phi[g == "beds_added"], alloc.deployed / C)
        np.testing.assert_allclose(phi[g == "sent_away"], alloc.transfers_out / C)
        patients = max(context.demand.sum(), 1)
        np.testing.assert_allclose(phi[g == "travel"], twin.pair_km @ u[twin.n_regions:] / patients)
        np.testing.assert_allclose(phi[g == "moved"], u[twin.n_regions:].sum() / patients)
        np.testing.assert_allclose(phi[g == "received"], alloc.transfers_in / C)
        pop = twin.regions.population
        present = context.demand - alloc.transfers_out + alloc.transfers_in
        np.testing.assert_allclose(phi[g == "patients_per_resident"],
                                   present / pop / (patients / pop.sum()) - 1, atol=1e-12)
        # the nominal cost without its overflow term (which the guard holds), per patient
        overflow = twin.config.overflow_weight * twin.overflow(u, context).sum()
        np.testing.assert_allclose(phi[g == "spend"],
                                   (twin.nominal_cost(u, context) - overflow) / patients)
        beds_now = C + alloc.deployed
        np.testing.assert_allclose(phi[g == "beds_per_resident"],
                                   beds_now / pop / ((C.sum() + context.pool) / pop.sum()) - 1,
                                   atol=1e-12)
        # compared by residents: against Italy's beds per resident after the decision
        rel = out.relative()(u)[0][g == "beds_per_resident"]
        np.testing.assert_allclose(
            rel, (beds_now / pop - beds_now.sum() / pop.sum()) / ((C.sum() + context.pool)
                                                                  / pop.sum()), atol=1e-12)


def test_load_gap_is_zero_when_loads_are_even(tiny_twin: ICUTwin) -> None:
    cap = np.array([10, 20, 30, 40])
    ctx = Context(index=0, label="even", demand=cap // 2, capacity=cap, pool=0)
    out = tiny_twin.outcomes(ctx)
    phi = out(np.zeros(tiny_twin.n_decision))[0]
    np.testing.assert_allclose(phi[np.array(out.groups) == "load_gap"], 0.0, atol=1e-12)
    # the level is the regions' real load ratio (one patient per two beds), not a gap
    np.testing.assert_allclose(phi[np.array(out.groups) == "load"], 0.5, atol=1e-12)


@pytest.fixture(scope="module")
def learned(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Samples of a 4-region scenario with 16 weeks; a quadratic rater on the first 8."""
    from tests.conftest import tiny_regions

    twin = ICUTwin(tiny_regions(), TwinConfig(transfer_share=0.2))
    rng = np.random.default_rng(1)
    cap = np.array([30, 5, 80, 40])
    contexts = tuple(Context(index=k, label=f"week {k}", demand=rng.integers(0, 70, size=4),
                             capacity=cap, pool=12) for k in range(16))
    scenario = Scenario("tiny16", "four regions, 16 weeks", twin, contexts)
    config = ExperimentConfig().override(scenario={"n_train": 8}, sampler={"n_samples": 10},
                                         n_jobs=1)
    ds = sample_stage(config, scenario)
    oracle = get_oracle("quadratic", twin)
    pool = []
    for row in range(8):
        idx = ds.decisions_of(row)
        R = oracle.cost(ds.decisions[idx], contexts[row])
        i, j = np.triu_indices(idx.size, k=1)
        for a, b in zip(i, j, strict=True):
            if abs(R[a] - R[b]) > 1e-12:
                pool.append((row, idx[a], idx[b]) if R[a] < R[b] else (row, idx[b], idx[a]))
    pool = np.array(pool)
    ds.add_comparisons(pool[:, 0], pool[:, 1], pool[:, 2])
    maps = outcome_maps(scenario, ds)
    model = OutcomeCostLearner().fit(ds.subset_contexts(range(8)), outcomes=maps[:8])
    return scenario, ds, maps, model, oracle


def test_outcome_learner_ranks_unseen_weeks(learned) -> None:  # type: ignore[no-untyped-def]
    scenario, ds, maps, model, oracle = learned
    assert model.quadratic_.min() >= 0  # convex
    assert model.train_accuracy_ > 0.85
    f = model.costs_of(ds, maps)
    agree, total = 0, 0
    for row in range(8, 16):  # weeks nobody compared
        idx = ds.decisions_of(row)
        R = oracle.cost(ds.decisions[idx], scenario.contexts[row])
        i, j = np.triu_indices(idx.size, k=1)
        keep = np.abs(R[i] - R[j]) > 1e-12
        agree += int(np.sum(np.sign(f[idx][i] - f[idx][j])[keep] == np.sign(R[i] - R[j])[keep]))
        total += int(keep.sum())
    assert agree / total > 0.8


def test_costs_of_some_rows_equal_those_of_all(learned) -> None:  # type: ignore[no-untyped-def]
    _, ds, maps, model, _ = learned
    every = model.costs_of(ds, maps)
    some = model.costs_of(ds, maps, rows=[3, 11])
    idx = np.r_[ds.decisions_of(3), ds.decisions_of(11)]
    np.testing.assert_array_equal(some[idx], every[idx])
    rest = np.setdiff1d(np.arange(ds.n_decisions), idx)
    assert np.all(some[rest] == 0.0) and np.any(every[rest] != 0.0)


def test_decision_space_cost_matches_the_scores(learned) -> None:  # type: ignore[no-untyped-def]
    _, ds, maps, model, _ = learned
    f = model.costs_of(ds, maps)
    for row in (0, 11):
        idx = ds.decisions_of(row)
        cost = model.context_cost(ds, row, maps)
        assert isinstance(cost, QuadraticCost) and cost.min_eigenvalue() > -1e-9
        np.testing.assert_allclose(cost(ds.decisions[idx]), f[idx], rtol=1e-9, atol=1e-9)


def test_outcome_learner_is_equivariant_in_the_regions(learned) -> None:  # type: ignore[no-untyped-def]
    scenario, ds, maps, model, _ = learned
    twin = scenario.twin
    perm = np.array([2, 0, 3, 1])
    r = twin.regions
    permuted = ICUTwin(RegionTable(codes=r.codes[perm], names=tuple(np.array(r.names)[perm]),
                                   abbreviations=tuple(np.array(r.abbreviations)[perm]),
                                   lat=r.lat[perm], lon=r.lon[perm], population=r.population[perm],
                                   icu_beds=r.icu_beds[perm]), twin.config)
    for row in (3, 12):
        ctx = scenario.contexts[row]
        pctx = Context(index=ctx.index, label=ctx.label, demand=ctx.demand[perm],
                       capacity=ctx.capacity[perm], pool=ctx.pool)
        U = ds.decisions[ds.decisions_of(row)]
        PU = []
        for u in U:
            y, T = twin.split(u)
            PU.append(permuted.join(y[perm], T[np.ix_(perm, perm)]))
        PU = np.array(PU)
        c = model.cost(twin.outcomes(ctx), U)
        pc = model.cost(permuted.outcomes(pctx), PU)
        np.testing.assert_allclose(c(U), pc(PU), rtol=1e-9, atol=1e-9)


def test_outcome_model_round_trips_and_refuses_bad_files(learned, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, ds, maps, model, _ = learned
    path = model.save(tmp_path / "model.npz")
    back = load_learner(path, "tiny16")
    with pytest.raises(ValidationError, match="trained on scenario"):
        load_learner(path, "italy-synthetic")
    assert isinstance(back, OutcomeCostLearner)
    np.testing.assert_array_equal(back.costs_of(ds, maps), model.costs_of(ds, maps))
    with pytest.raises(ValidationError, match="outcomes"):
        back.costs_of(ds)  # the twin's outcomes are required
    with pytest.raises(ValidationError, match="outcome groups"):
        back.costs_of(ds, [type(m)(m.matrix, m.offset, m.names, ("x",) * m.n_outcomes)
                           for m in maps])
    bad = tmp_path / "bad.npz"
    bad.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(DataFormatError, match="bad.npz"):
        load_learner(bad)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), row=st.integers(0, 15))
def test_select_keeps_a_candidate_and_the_overflow(learned, seed: int, row: int) -> None:  # type: ignore[no-untyped-def]
    scenario, ds, _, _, _ = learned
    twin = scenario.twin
    ctx = scenario.contexts[row]
    U = ds.decisions[ds.decisions_of(row)]
    rng = np.random.default_rng(seed)
    F = rng.normal(size=(twin.n_decision, 3))
    cost = QuadraticCost.from_factor(F, rng.normal(size=twin.n_decision))
    res = resolve_context(twin, ctx, cost, 1.0, ResolveConfig(mode="select"),
                          twin.complete(U[0], ctx), U)
    assert res.status == "selected" and res.result is None
    assert any(np.array_equal(res.decision, u) for u in U)
    assert twin.check(res.decision, ctx).feasible
    assert twin.overflow(res.decision, ctx).sum() <= twin.overflow(U[0], ctx).sum() + 1e-6
    ok = [u for u in U if twin.overflow(u, ctx).sum() <= twin.overflow(U[0], ctx).sum() + 1e-6]
    assert cost(res.decision) <= min(cost(u) for u in ok) + 1e-9


def test_select_needs_candidates(tiny_scenario: Scenario) -> None:
    twin = tiny_scenario.twin
    ctx = tiny_scenario.contexts[1]
    cost = QuadraticCost.linear(np.ones(twin.n_decision))
    with pytest.raises(ValidationError, match="candidate"):
        resolve_context(twin, ctx, cost, 1.0, ResolveConfig(mode="select"))


def test_gini_travel_charges_long_transfers_only(tiny_scenario: Scenario) -> None:
    twin = tiny_scenario.twin
    ctx = tiny_scenario.contexts[1]
    oracle = get_oracle("gini-travel", twin)
    gini = GiniOracle(twin)
    u = np.zeros(twin.n_decision)
    assert oracle(u, ctx) == pytest.approx(gini(u, ctx))
    src, dst = twin.pairs
    far, near = int(np.argmax(twin.pair_km)), int(np.argmin(twin.pair_km))
    for k, charged in ((far, twin.pair_km[far] > 200), (near, twin.pair_km[near] > 200)):
        v = u.copy()
        v[twin.n_regions + k] = 1
        extra = oracle(v, ctx) - gini(v, ctx)
        assert (extra > 0) == bool(charged)


def test_budget_mode_costs_no_more_than_select_and_ranks_no_lower(learned) -> None:  # type: ignore[no-untyped-def]
    scenario, ds, maps, model, _ = learned
    twin = scenario.twin
    for row in (9, 13):  # weeks nobody compared
        ctx = scenario.contexts[row]
        U = ds.decisions[ds.decisions_of(row)]
        cost = model.context_cost(ds, row, maps)
        nominal = twin.complete(U[0], ctx)
        sel = resolve_context(twin, ctx, cost, 1.0, ResolveConfig(mode="select"), nominal, U)
        bud = resolve_context(twin, ctx, cost, 1.0, ResolveConfig(mode="budget"), nominal, U)
        assert twin.check(bud.decision, ctx).feasible
        assert twin.overflow(bud.decision, ctx).sum() <= twin.overflow(U[0], ctx).sum() + 1e-6
        assert twin.nominal_cost(bud.decision, ctx) <= twin.nominal_cost(sel.decision, ctx) + 1e-6
        assert cost(bud.decision) <= cost(sel.decision) + 1e-3 * max(1.0, abs(cost(sel.decision)))


def test_compared_groups_are_seen_relative_to_their_mean() -> None:
    out = Outcomes(np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]), np.array([0.0, 1.0, 5.0]),
                   ("a", "b", "total"), ("share", "share", "sum"), compared=("share",))
    rel = out.relative()
    u = np.array([3.0, 4.0])
    v = out(u)[0]
    np.testing.assert_allclose(rel(u)[0], [v[0] - v[:2].mean(), v[1] - v[:2].mean(), v[2]])
    assert rel(np.array([2.0, 0.5]))[0, :2] == pytest.approx([0.0, 0.0])  # equal shares: zero
    assert Outcomes(out.matrix, out.offset, out.names, out.groups).relative() is not None
    with pytest.raises(ValidationError, match="unknown outcome group"):
        Outcomes(out.matrix, out.offset, out.names, out.groups, compared=("nope",))


def test_views_are_built_once_shared_read_only_and_not_pickled() -> None:
    out = Outcomes(np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]), np.array([0.0, 1.0, 5.0]),
                   ("a", "b", "total"), ("share", "share", "sum"), compared=("share",))
    rel = out.relative()
    assert out.relative() is rel and rel.select(["share"]) is rel.select(("share",))
    assert rel.select(["share", "sum"]) is rel  # every group: the outcomes themselves
    for arrays in (rel.matrix, out.matrix, out.offset):  # what the views were built of too
        with pytest.raises(ValueError, match="read-only"):
            arrays[0] = 9.0
    copy = pickle.loads(pickle.dumps(out))
    assert "_cache" in out.__dict__ and "_cache" not in copy.__dict__
    np.testing.assert_array_equal(copy.relative()(np.ones(2)), out.relative()(np.ones(2)))


def test_a_weighted_group_is_taken_relative_to_its_weighted_mean() -> None:
    rng = np.random.default_rng(3)
    M, b = rng.normal(size=(5, 4)), rng.normal(size=5)
    w = np.array([1.0, 3.0, 6.0])
    out = Outcomes(M, b, ("a", "b", "c", "x", "y"), ("g", "g", "g", "h", "h"),
                   compared=("g", "h"), weights={"g": w})
    u = rng.normal(size=(7, 4))
    z, raw = out.relative()(u), out(u)
    np.testing.assert_allclose(z[:, :3], raw[:, :3] - (raw[:, :3] @ w / w.sum())[:, None])
    np.testing.assert_allclose(z[:, 3:], raw[:, 3:] - raw[:, 3:].mean(axis=1, keepdims=True))
    assert not np.allclose(z[:, :3], raw[:, :3] - raw[:, :3].mean(axis=1, keepdims=True))
    np.testing.assert_array_equal(out.select(["g"]).weights["g"], w)  # kept by a selection
    assert out.select(["h"]).weights == {}


@pytest.mark.parametrize("weights, words", [
    ({"h": [1.0, 2.0]}, "not a compared group"),
    ({"g": [1.0, 2.0]}, "2 member weights for group 'g' of 3 members"),
    ({"g": [1.0, 0.0, 2.0]}, "must be positive"),
])
def test_bad_member_weights_are_named(weights: dict, words: str) -> None:
    M, b = np.eye(5, 4), np.zeros(5)
    with pytest.raises(ValidationError, match=words):
        Outcomes(M, b, ("a", "b", "c", "x", "y"), ("g", "g", "g", "h", "h"), compared=("g",),
                 weights=weights)
