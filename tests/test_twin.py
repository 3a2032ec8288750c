"""The ICU twin: sizes, the feasibility checker (each constraint group detected by name),
the nominal cost, and consistency between the problem's objective and the cost terms."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest

from fairtwin.exceptions import ValidationError
from fairtwin.solvers import solve
from fairtwin.twin import Context, ICUTwin, TwinConfig, get_scenario, italian_regions


def test_italian_sizes() -> None:
    twin = ICUTwin(italian_regions())
    assert twin.n_regions == 21
    assert twin.n_decision == 21 + 420
    problem = twin.build(get_scenario().context(0))
    assert problem.n_vars == 441 + 21
    assert problem.n_decision == 441
    assert set(problem.layout.constraints) == {"pool", "capacity", "transfer_share"}
    assert problem.integrality[:441].all() and not problem.integrality[441:].any()


def test_distances_are_great_circle() -> None:
    regions = italian_regions()
    d = regions.distance_km
    rome = regions.names.index("Lazio")
    milan = regions.names.index("Lombardia")
    assert d[rome, milan] == pytest.approx(477, abs=10)  # Rome–Milan ≈ 477 km
    np.testing.assert_allclose(d, d.T)
    assert np.all(np.diag(d) == 0)


def _ctx(demand: list[int], capacity: list[int], pool: int = 10) -> Context:
    return Context(index=0, label="week 0", demand=np.array(demand), capacity=np.array(capacity),
                   pool=pool)


def test_zero_decision_is_feasible(tiny_twin: ICUTwin) -> None:
    ctx = _ctx([50, 3, 10, 0], [30, 5, 80, 40])
    u = np.zeros(tiny_twin.n_decision)
    report = tiny_twin.check(u, ctx)
    assert report.feasible, report.describe()
    np.testing.assert_allclose(tiny_twin.overflow(u, ctx), [20, 0, 0, 0])
    assert tiny_twin.nominal_cost(u, ctx) == pytest.approx(20 * 1000.0)


@pytest.mark.parametrize(
    ("edit", "group"),
    [
        ("pool", "pool"),
        ("share", "transfer_share"),
        ("negative", "deploy bounds"),
        ("fraction", "deploy integrality"),
    ],
)
def test_checker_names_the_violated_group(tiny_twin: ICUTwin, edit: str, group: str) -> None:
    ctx = _ctx([50, 3, 10, 0], [30, 5, 80, 40], pool=10)
    y = np.zeros(4)
    T = np.zeros((4, 4))
    if edit == "pool":
        y[:] = [6, 0, 6, 0]
    elif edit == "share":
        T[0, 2] = 8  # floor(0.2 * 50) = 10 allowed in total, 8 per pair ok
        T[0, 3] = 8
    elif edit == "negative":
        y[1] = -1
    elif edit == "fraction":
        y[0] = 0.5
    report = tiny_twin.check(tiny_twin.join(y, T), ctx)
    assert not report.feasible
    assert group in {v.group for v in report.violations}, report.describe()


def test_capacity_group_when_overflow_is_capped() -> None:
    from tests.conftest import tiny_regions

    twin = ICUTwin(tiny_regions(), TwinConfig(max_overflow=0.0))
    ctx = _ctx([50, 3, 10, 0], [30, 5, 80, 40], pool=10)
    report = twin.build(ctx).check(np.r_[np.zeros(twin.n_decision), np.zeros(4)])
    assert {v.group for v in report.violations} == {"capacity"}


def test_split_join_flows_and_loads(tiny_twin: ICUTwin) -> None:
    ctx = _ctx([50, 3, 10, 0], [30, 5, 80, 40], pool=10)
    y = np.array([4, 0, 0, 0])
    T = np.zeros((4, 4))
    T[0, 2] = 6
    T[0, 3] = 4
    u = tiny_twin.join(y, T)
    y2, T2 = tiny_twin.split(u)
    np.testing.assert_array_equal(y2, y)
    np.testing.assert_array_equal(T2, T)
    out, inn = tiny_twin.flows(u)
    np.testing.assert_array_equal(out, [10, 0, 0, 0])
    np.testing.assert_array_equal(inn, [0, 0, 6, 4])
    np.testing.assert_allclose(tiny_twin.load_ratios(u, ctx), [40 / 34, 3 / 5, 16 / 80, 4 / 40])
    assert tiny_twin.check(u, ctx).feasible
    alloc = tiny_twin.allocation(u, ctx)
    np.testing.assert_allclose(alloc.overflow, [6, 0, 0, 0])
    np.testing.assert_allclose(alloc.overflow_before, [20, 0, 0, 0])


def test_problem_objective_equals_cost_terms_at_minimal_overflow(tiny_twin: ICUTwin) -> None:
    ctx = _ctx([50, 3, 10, 0], [30, 5, 80, 40], pool=10)
    rng = np.random.default_rng(3)
    problem = tiny_twin.build(ctx)
    for _ in range(5):
        u = np.zeros(tiny_twin.n_decision)
        u[:4] = rng.integers(0, 3, 4)
        x = tiny_twin.complete(u, ctx)
        assert problem.objective(x) == pytest.approx(tiny_twin.nominal_cost(u, ctx))


def test_nominal_optimum_on_a_hand_solved_week(tiny_twin: ICUTwin) -> None:
    """Piemonte (cap 30) has 50 patients and the pool 10 beds. All 10 beds go to Piemonte
    (5 each, cheaper than any transfer); the 10 patients left over are all it may move
    (⌊0.2·50⌋). Valle d'Aosta (≈ 80 km) has room for 2, Lombardia (≈ 126 km) for the rest;
    one more bed in Valle d'Aosta would cost 5, more than the 4.6 saved per patient."""
    ctx = _ctx([50, 3, 10, 0], [30, 5, 80, 40], pool=10)
    res = solve(tiny_twin.build(ctx), "highs")
    u = res.x[: tiny_twin.n_decision]
    y, T = tiny_twin.split(u)
    np.testing.assert_array_equal(y, [10, 0, 0, 0])
    assert T[0, 1] == 2 and T[0, 2] == 8 and T.sum() == 10
    d = tiny_twin.regions.distance_km
    assert res.objective == pytest.approx(50 + 0.1 * (2 * d[0, 1] + 8 * d[0, 2]), rel=1e-9)
    assert tiny_twin.overflow(u, ctx).sum() == 0


def test_bad_decision_shape(tiny_twin: ICUTwin) -> None:
    ctx = _ctx([1, 1, 1, 1], [1, 1, 1, 1])
    with pytest.raises(ValidationError, match=r"shape \(16,\)"):
        tiny_twin.check(np.zeros(3), ctx)


def test_bad_context() -> None:
    with pytest.raises(ValidationError, match="non-negative"):
        _ctx([-1, 1], [1, 1])
    with pytest.raises(ValidationError, match="equal length"):
        _ctx([1, 1, 1], [1, 1])
    twin = ICUTwin(italian_regions())
    with pytest.raises(ValidationError, match="has 2 regions"):
        twin.build(_ctx([1, 1], [1, 1]))


def test_twin_config_from_toml(tmp_path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[twin]\ntransfer_share = 0.2\noverflow_weight = 500.0\n")
    cfg = TwinConfig.from_toml(path)
    assert cfg.transfer_share == 0.2 and cfg.overflow_weight == 500.0
    path.write_text("[twin]\ntransfer_shares = 0.2\n")
    with pytest.raises(ValidationError, match="unknown twin setting"):
        TwinConfig.from_toml(path)
    with pytest.raises(ValidationError, match="transfer_share must lie"):
        TwinConfig(transfer_share=2.0)


def test_the_twin_table_is_the_twins_own_settings(tmp_path) -> None:
    """Issue 24: the ``[twin]`` table is a plain table the scenario's twin reads (the pipeline
    knows no TwinConfig): the ICU scenarios check it when the configuration is read (errors name
    the file), fill in their defaults when they build, and a run records its twin's settings."""
    from fairtwin.pipeline import ExperimentConfig
    from fairtwin.twin.scenarios import twin_settings

    cfg = ExperimentConfig.from_dict({"twin": {"transfer_share": 0.2}})
    assert cfg.twin == {"transfer_share": 0.2} and ExperimentConfig().twin == {}
    assert ExperimentConfig.from_dict(cfg.to_dict()) == cfg
    assert "twin" not in ExperimentConfig().to_dict()  # nothing given: nothing recorded
    full = twin_settings("italy-synthetic", cfg.twin)
    assert full == {**asdict(TwinConfig()), "transfer_share": 0.2}
    assert twin_settings("my-own", {"crews": 3}) == {"crews": 3}  # another twin's: as given
    with pytest.raises(ValidationError, match=r"c.toml \[twin\]: transfer_share must lie"):
        ExperimentConfig.from_dict({"twin": {"transfer_share": 2.0}}, source="c.toml")
    with pytest.raises(ValidationError, match="unknown twin setting"):
        ExperimentConfig.from_dict({"twin": {"beds": 2}}, source="c.toml")
    sc = get_scenario("italy-synthetic", config=cfg.twin)
    assert sc.twin.config == TwinConfig(transfer_share=0.2)
    assert sc.twin.settings() == TwinConfig(transfer_share=0.2).to_dict()
    assert cfg.override(twin=sc.twin.settings()).twin == sc.twin.settings()


@pytest.mark.parametrize("notion", ["rosenbrock", "gini", "max-min", "quadratic", "gini-travel"])
def test_move_costs_follow_the_loads_exactly(tiny_twin: ICUTwin, notion: str) -> None:
    """The oracle bound scores sparse single-step moves through the loads' changes: the same
    costs as forming each moved decision, and the same moves as :meth:`ICUTwin.moves`."""
    from fairtwin.oracles import get_oracle
    from fairtwin.twin.base import FairnessOracle

    ctx = _ctx([50, 3, 10, 0], [30, 5, 80, 40], pool=10)
    rng = np.random.default_rng(3)
    u = np.zeros(tiny_twin.n_decision)
    u[:4] = [2, 0, 1, 3]  # some beds deployed, some patients moved
    u[4 + rng.choice(12, size=3, replace=False)] = 1
    assert tiny_twin.check(u, ctx).feasible
    steps, checked = tiny_twin.move_steps(u, ctx)
    moved, checked_dense = tiny_twin.moves(u, ctx)
    assert checked and checked_dense
    np.testing.assert_array_equal(moved, u[None, :] + steps.toarray())
    assert np.all(np.abs(steps).sum(axis=1) >= 1) and steps.shape[0] > 20
    assert all(tiny_twin.check(v, ctx).feasible for v in moved)
    oracle = get_oracle(notion, tiny_twin)
    fast = oracle.move_costs(u, steps, ctx)
    np.testing.assert_allclose(fast, oracle.cost(moved, ctx), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(FairnessOracle.move_costs(oracle, u, steps, ctx), fast,
                               rtol=1e-12, atol=1e-12)
