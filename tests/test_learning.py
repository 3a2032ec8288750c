"""Learning laws, as properties:

- the learned Hessian is PSD for any context input;
- reconstruction: ``lift(cost_z, W, μ)(u) == cost_z(Wᵀ(u − μ))`` for every ``u``;
- the Siamese network shares its weights: swapping A and B flips every prediction;
- saved models and datasets round-trip exactly, and load without pickle;
- the zero-noise Rosenbrock rater is transitive; noisy raters flip about their rate;
- every sampled decision is feasible.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fairtwin.costs import QuadraticCost
from fairtwin.datasets import PreferenceDataset
from fairtwin.exceptions import DataFormatError, ValidationError
from fairtwin.learn import PreferenceCostLearner
from fairtwin.oracles import SimulatedRater, get_oracle, oracle_bound
from fairtwin.reduce import PCA, lift
from fairtwin.sampling import SamplerConfig, sample_context
from fairtwin.twin import RosenbrockOracle, Scenario


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 15), r=st.integers(1, 6), seed=st.integers(0, 10_000))
def test_lift_identity(n: int, r: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    r = min(r, n)
    cost_z = QuadraticCost.from_factor(rng.normal(size=(r, r)), rng.normal(size=r), rng.normal())
    W = rng.normal(size=(n, r))
    mu = rng.normal(size=n)
    cost_u = lift(cost_z, W, mu)
    U = rng.normal(size=(5, n)) * 3
    np.testing.assert_allclose(cost_u(U), cost_z((U - mu) @ W), rtol=1e-9, atol=1e-9)
    assert cost_u.min_eigenvalue() >= -1e-8 * max(1.0, np.abs(cost_u.H).max())


def test_pca_whitening_and_rank() -> None:
    rng = np.random.default_rng(0)
    U = rng.normal(size=(200, 3)) @ rng.normal(size=(3, 12))  # rank 3
    pca = PCA(n_components=8).fit(U)
    assert pca.n_components_ == 3  # zero-variance directions are dropped
    Z = pca.transform(U)
    np.testing.assert_allclose(Z.var(axis=0, ddof=1), 1.0, rtol=1e-8)
    assert PCA(None).fit(U).W_.shape == (12, 12)
    with pytest.raises(ValidationError, match="at least two decisions"):
        PCA(3).fit(U[:1])


def _toy_dataset(seed: int = 0, n_ctx: int = 6, per: int = 8, d: int = 5,
                 n_cmp: int = 120) -> PreferenceDataset:
    """Contexts with features x, decisions u; the truth prefers u close to x[:d] (a quadratic)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_ctx, d))
    U = rng.normal(size=(n_ctx * per, d)) * 2
    owner = np.repeat(np.arange(n_ctx), per)
    ds = PreferenceDataset(np.arange(n_ctx), X, U, owner, scenario="toy")
    rows, win, lose = [], [], []
    for _ in range(n_cmp):
        c = rng.integers(n_ctx)
        a, b = rng.choice(np.flatnonzero(owner == c), 2, replace=False)
        ra, rb = (np.sum((U[k] - X[c]) ** 2) for k in (a, b))
        rows.append(c)
        win.append(a if ra < rb else b)
        lose.append(b if ra < rb else a)
    ds.add_comparisons(rows, win, lose, timestamp=1.0)
    return ds


@pytest.fixture(scope="module")
def fitted() -> tuple[PreferenceCostLearner, PreferenceDataset]:
    ds = _toy_dataset()
    model = PreferenceCostLearner(n_components=None, hidden=(16, 16), max_epochs=150,
                                  random_state=0).fit(ds)
    return model, ds


def test_a_fit_does_not_depend_on_the_torch_thread_count(fitted) -> None:  # type: ignore[no-untyped-def]
    import torch

    model, ds = fitted
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        again = PreferenceCostLearner(n_components=None, hidden=(16, 16), max_epochs=150,
                                      random_state=0).fit(ds)
        assert torch.get_num_threads() == 2  # the caller's setting is restored
    finally:
        torch.set_num_threads(before)
    np.testing.assert_array_equal(again.costs_of(ds), model.costs_of(ds))


def test_learner_fits_a_quadratic_preference(fitted) -> None:  # type: ignore[no-untyped-def]
    model, ds = fitted
    assert model.score(ds) >= 0.85
    held_out = _toy_dataset(seed=0, n_cmp=300)  # same contexts, fresh pairs
    assert model.score(held_out) >= 0.8
    assert len(model.history_) == 150 and 1 <= model.best_epoch_ <= 150


@settings(max_examples=25, deadline=None)
@given(x=st.lists(st.floats(-50, 50), min_size=5, max_size=5))
def test_learned_hessian_is_psd_for_any_context(fitted, x: list[float]) -> None:  # type: ignore[no-untyped-def]
    model, _ = fitted
    cost = model.cost(np.array(x))
    assert cost.min_eigenvalue() >= -1e-9 * max(1.0, np.abs(cost.H).max())


def test_swapping_a_and_b_flips_every_prediction(fitted) -> None:  # type: ignore[no-untyped-def]
    model, ds = fitted
    swapped = PreferenceDataset(ds.context_ids, ds.context_features, ds.decisions,
                                ds.decision_context, ds.comparisons[:, [0, 2, 1]],
                                ds.rater, ds.round, ds.timestamp)
    f = model.costs_of(ds)
    gaps = f[ds.comparisons[:, 1]] - f[ds.comparisons[:, 2]]
    assert np.all(gaps != 0)
    assert model.score(swapped) == pytest.approx(1 - model.score(ds))


def test_learned_cost_matches_network(fitted) -> None:  # type: ignore[no-untyped-def]
    model, ds = fitted
    f = model.costs_of(ds)
    for k in (0, 9, 30):
        cost = model.cost(ds.context_features[ds.decision_context[k]])
        assert cost(ds.decisions[k]) == pytest.approx(f[k], rel=1e-8, abs=1e-8)


def test_model_round_trip(fitted, tmp_path) -> None:  # type: ignore[no-untyped-def]
    model, ds = fitted
    path = model.save(tmp_path / "m.npz")
    loaded = PreferenceCostLearner.load(path)
    np.testing.assert_array_equal(loaded.costs_of(ds), model.costs_of(ds))
    with np.load(path, allow_pickle=False) as data:  # readable without pickle
        assert "header" in data.files
    with pytest.raises(ValidationError, match="trained on scenario 'toy', not 'italy-synthetic'"):
        PreferenceCostLearner.load(path, scenario="italy-synthetic")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(DataFormatError, match="not a fairtwin model"):
        PreferenceCostLearner.load(tmp_path / "bad.npz")


def test_learner_input_errors(fitted) -> None:  # type: ignore[no-untyped-def]
    model, ds = fitted
    with pytest.raises(ValidationError, match="context features have 3 entries, the model expects 5"):
        model.cost(np.zeros(3))
    with pytest.raises(ValidationError, match="NaN or inf"):
        model.cost(np.full(5, np.nan))
    with pytest.raises(ValidationError, match="not fitted"):
        PreferenceCostLearner().cost(np.zeros(5))
    empty = PreferenceDataset(ds.context_ids, ds.context_features, ds.decisions,
                              ds.decision_context)
    with pytest.raises(ValidationError, match="no comparisons"):
        PreferenceCostLearner().fit(empty)
    other = PreferenceDataset(np.arange(2), np.zeros((2, 5)), np.zeros((4, 7)),
                              np.array([0, 0, 1, 1]), np.array([[0, 0, 1]]), [0], [0], [0.0])
    with pytest.raises(ValidationError, match="have 7 entries, the model expects 5"):
        model.score(other)


def test_dataset_round_trip_and_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ds = _toy_dataset()
    ds.info["note"] = "x"
    loaded = PreferenceDataset.load(ds.save(tmp_path / "d.npz"))
    for name in ("context_ids", "context_features", "decisions", "decision_context",
                 "comparisons", "rater", "round", "timestamp"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(ds, name))
    assert loaded.scenario == "toy" and loaded.info == {"note": "x"}
    with pytest.raises(ValidationError, match="at least two decisions"):
        PreferenceDataset(np.arange(2), np.zeros((2, 1)), np.zeros((3, 4)), np.array([0, 0, 1]))
    with pytest.raises(ValidationError, match="NaN or inf"):
        PreferenceDataset(np.arange(1), np.zeros((1, 1)), np.array([[0.0], [np.inf]]),
                          np.array([0, 0]))
    with pytest.raises(ValidationError, match="another context"):
        ds.add_comparisons([0], [0], [10])
    with pytest.raises(DataFormatError, match="no such file"):
        PreferenceDataset.load(tmp_path / "absent.npz")


def test_zero_noise_rosenbrock_rater_is_transitive(tiny_scenario: Scenario) -> None:
    twin = tiny_scenario.twin
    ctx = tiny_scenario.contexts[3]
    samples = sample_context(twin, ctx, SamplerConfig(n_samples=10), random_state=0)
    U = samples.decisions
    rater = SimulatedRater(RosenbrockOracle(twin), flip_rate=0.0, random_state=0)
    n = U.shape[0]
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    pref = rater.prefers(U[i.ravel()], U[j.ravel()], ctx).reshape(n, n)
    for a in range(n):
        for b in range(n):
            for c in range(n):
                if pref[a, b] and pref[b, c]:
                    assert pref[a, c]


def test_flip_rate_is_respected(tiny_scenario: Scenario) -> None:
    twin = tiny_scenario.twin
    ctx = tiny_scenario.contexts[3]
    U = sample_context(twin, ctx, SamplerConfig(n_samples=10), random_state=0).decisions
    oracle = RosenbrockOracle(twin)
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, U.shape[0], (2, 4000))
    keep = oracle.cost(U[a], ctx) != oracle.cost(U[b], ctx)
    truth = SimulatedRater(oracle, 0.0).prefers(U[a][keep], U[b][keep], ctx)
    noisy = SimulatedRater(oracle, 0.3, random_state=2).prefers(U[a][keep], U[b][keep], ctx)
    assert np.mean(truth != noisy) == pytest.approx(0.3, abs=0.04)


def test_sampled_decisions_are_feasible_and_cover_the_fair_region(tiny_scenario: Scenario) -> None:
    twin = tiny_scenario.twin
    oracle = get_oracle("rosenbrock", twin)
    fairer = 0
    for ctx in tiny_scenario.contexts:
        s = sample_context(twin, ctx, SamplerConfig(n_samples=8), random_state=ctx.index)
        assert s.decisions.shape[0] >= 2
        assert len({tuple(u) for u in s.decisions}) == s.decisions.shape[0]  # no duplicates
        for u in s.decisions:
            assert twin.check(u, ctx).feasible
        R = oracle.cost(s.decisions, ctx)
        fairer += int(np.any(R[1:] < R[0]))
        u_best, r_best = oracle_bound(oracle, ctx, s.decisions)
        assert twin.check(u_best, ctx).feasible and r_best <= R.min()
    assert fairer >= len(tiny_scenario.contexts) // 2


def test_context_validation_split_holds_out_whole_contexts() -> None:
    ds = _toy_dataset(n_ctx=10, n_cmp=200)
    model = PreferenceCostLearner(n_components=None, hidden=(8,), max_epochs=30,
                                  validation_split="contexts", random_state=0).fit(ds)
    assert model.best_epoch_ >= 1
    assert all(np.isfinite(h.valid_accuracy) for h in model.history_)
    with pytest.raises(Exception, match="unknown validation split 'weeks'"):
        PreferenceCostLearner(validation_split="weeks").fit(ds)


def test_sampling_is_reproducible_across_workers(tiny_scenario: Scenario) -> None:
    from fairtwin.sampling import sample_decisions

    a = sample_decisions(tiny_scenario.twin, tiny_scenario.contexts, random_state=5, n_jobs=1)
    b = sample_decisions(tiny_scenario.twin, tiny_scenario.contexts, random_state=5, n_jobs=2)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.decisions, y.decisions)


@pytest.mark.parametrize("structure", ["full", "diagonal", "linear"])
def test_cost_structures_match_the_network_and_round_trip(structure: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ds = _toy_dataset()
    model = PreferenceCostLearner(n_components=3, hidden=(8,), max_epochs=30, structure=structure,
                                  random_state=0).fit(ds)
    f = model.costs_of(ds)
    for k in (0, 17):
        cost_z = model.cost_z(ds.context_features[ds.decision_context[k]])
        H = cost_z.H
        if structure == "linear":
            assert not np.any(H)
        elif structure == "diagonal":
            np.testing.assert_allclose(H, np.diag(np.diag(H)), atol=1e-12)
        else:
            assert np.abs(H - np.diag(np.diag(H))).max() > 1e-8
        cost = model.cost(ds.context_features[ds.decision_context[k]])
        assert cost(ds.decisions[k]) == pytest.approx(f[k], rel=1e-8, abs=1e-8)
    loaded = PreferenceCostLearner.load(model.save(tmp_path / "m.npz"))
    assert loaded.structure == structure and loaded.n_parameters_ == model.n_parameters_
    np.testing.assert_array_equal(loaded.costs_of(ds), f)
    sizes = {"full": 9 + 3, "diagonal": 3 + 3, "linear": 3}
    assert model.n_parameters_ == (5 * 8 + 8) + (8 + 1) * sizes[structure]


def test_context_free_learner_gives_one_cost_for_all_contexts() -> None:
    ds = _toy_dataset()
    model = PreferenceCostLearner(n_components=3, hidden=(8,), max_epochs=20, contextual=False,
                                  random_state=0).fit(ds)
    a, b = model.cost(ds.context_features[0]), model.cost(ds.context_features[5])
    np.testing.assert_array_equal(a.H, b.H)
    np.testing.assert_array_equal(a.q, b.q)


def test_unknown_structure_lists_the_allowed_ones() -> None:
    from fairtwin.exceptions import UnknownNameError

    with pytest.raises(UnknownNameError, match="'full', 'diagonal', 'linear'"):
        PreferenceCostLearner(structure="cubic").fit(_toy_dataset())


def _multi_rater_dataset(seed: int = 0) -> tuple[PreferenceDataset, list[float]]:
    """Toy contexts (truth: u close to x) rated by a clean, a 25 %-flip and a coin-flip rater,
    each on its own random pairs plus a shared block of 40 pairs."""
    rng = np.random.default_rng(seed)
    n_ctx, per, d = 8, 10, 5
    X = rng.normal(size=(n_ctx, d))
    U = rng.normal(size=(n_ctx * per, d)) * 2
    owner = np.repeat(np.arange(n_ctx), per)
    ds = PreferenceDataset(np.arange(n_ctx), X, U, owner, scenario="toy",
                           rater_names=["clean", "noisy", "coin"])
    flips = [0.0, 0.25, 0.5]

    def draw(n: int) -> list[tuple[int, int, int]]:
        out = []
        for _ in range(n):
            c = int(rng.integers(n_ctx))
            a, b = rng.choice(np.flatnonzero(owner == c), 2, replace=False)
            out.append((c, int(a), int(b)))
        return out

    shared = draw(40)
    for r, flip in enumerate(flips):
        for c, a, b in shared + draw(160):
            ra, rb = (np.sum((U[k] - X[c]) ** 2) for k in (a, b))
            a_wins = (ra < rb) ^ (rng.random() < flip)
            ds.add_comparisons([c], [a if a_wins else b], [b if a_wins else a], rater=r,
                               timestamp=1.0)
    return ds, flips


def test_reliability_weighting_ranks_raters_and_ignores_a_coin() -> None:
    from fairtwin.learn import ReliabilityWeightedLearner, rater_agreement, torch_threads

    ds, _ = _multi_rater_dataset()
    with torch_threads(1):
        model = ReliabilityWeightedLearner(
            {"n_components": None, "hidden": (16,), "max_epochs": 40, "batch_size": 64},
            n_iter=2, random_state=0).fit(ds)
    acc = {r.name: r.accuracy for r in model.reliability_}
    assert acc["clean"] > acc["noisy"] > acc["coin"]
    weights = dict(zip(ds.rater_names, model.weights_, strict=True))
    assert weights["coin"] < 0.3 * weights["clean"]
    assert len(model.history_) == 2 and model.learner_.n_vars_ == 5
    agreement = rater_agreement(ds)
    assert agreement.n_common[0, 1] >= 40 and agreement.n_common[0, 0] == 0
    assert agreement.share[0, 1] > agreement.share[0, 2]
    with pytest.raises(ValidationError, match="too few"):
        ReliabilityWeightedLearner().fit(_toy_dataset(n_cmp=3))
