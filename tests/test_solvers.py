"""Solver adapters: each against tiny models with known optima (parametrised over the
installed solvers), declared capabilities and refusals, limits, warm starts, the low-rank form,
and typed errors for infeasible contexts."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp

from fairtwin.costs import MaxAffine, QuadraticCost
from fairtwin.exceptions import CapabilityError, InfeasibleError, SolverUnavailableError
from fairtwin.solvers import (
    SOLVERS,
    SolverOptions,
    Status,
    available_solvers,
    get_solver,
    solve,
)
from fairtwin.solvers.base import low_rank_form, split_shared_rows
from fairtwin.twin import Context, ICUTwin, Layout, Problem, ProblemKind, TwinConfig, get_scenario
from tests.conftest import tiny_regions

INSTALLED = available_solvers()


def knapsack(quadratic: QuadraticCost | None = None, integer: bool = True) -> Problem:
    """max 5a + 4b + 3c  s.t. 2a + 3b + c <= 5, 4a + b + 2c <= 11, 3a + 4b + 2c <= 8, 0 <= a,b,c <= 10.

    Integer optimum (a, b, c) = (2, 0, 1), value 13; LP optimum the same vertex."""
    A = sp.csr_matrix(np.array([[2.0, 3, 1], [4, 1, 2], [3, 4, 2]]))
    return Problem(
        name="knapsack",
        c=-np.array([5.0, 4, 3]),
        A=A,
        row_lower=np.full(3, -np.inf),
        row_upper=np.array([5.0, 11, 8]),
        lower=np.zeros(3),
        upper=np.full(3, 10.0),
        integrality=np.full(3, integer),
        layout=Layout({"abc": slice(0, 3)}, {"first": slice(0, 1), "rest": slice(1, 3)}),
        decision_index=np.arange(3),
        quadratic=quadratic,
    )


def capable(kind: ProblemKind) -> list[str]:
    return [n for n in INSTALLED if kind in get_solver(n).capabilities]


def test_core_solvers_installed() -> None:
    assert {"highs", "scip", "highs-oa"} <= set(INSTALLED)


@pytest.mark.parametrize("name", capable(ProblemKind.MILP))
def test_milp_known_optimum(name: str) -> None:
    res = get_solver(name).solve(knapsack())
    assert res.status is Status.OPTIMAL
    np.testing.assert_allclose(res.x, [2, 0, 1])
    assert res.objective == pytest.approx(-13)
    assert res.bound == pytest.approx(-13, abs=1e-3)
    assert res.time_s > 0 and res.solver == name


@pytest.mark.parametrize("name", capable(ProblemKind.LP))
def test_lp_known_optimum(name: str) -> None:
    res = get_solver(name).solve(knapsack(integer=False))
    assert res.status is Status.OPTIMAL
    assert res.objective == pytest.approx(-13)


def _miqp_problem() -> Problem:
    """min ½‖u − (1.4, 2.6, 0)‖² over integers in the box [0, 10]³ with the knapsack rows
    dropped: the optimum rounds to (1, 3, 0) with value ½(0.16 + 0.16) = 0.16."""
    target = np.array([1.4, 2.6, 0.0])
    quad = QuadraticCost.from_factor(np.eye(3), -target, 0.5 * target @ target)
    p = knapsack(quadratic=quad)
    return p.with_objective(c=np.zeros(3), quadratic=quad)


@pytest.mark.parametrize("name", capable(ProblemKind.MIQP))
def test_miqp_known_optimum(name: str) -> None:
    p = _miqp_problem()
    p = p.with_bounds(upper=np.full(3, 10.0))
    # the knapsack rows still hold at (1, 3, 0)? 2+9=11 > 5: use a problem without rows
    free = Problem(p.name, p.c, sp.csr_matrix((0, 3)), np.zeros(0), np.zeros(0), p.lower,
                   p.upper, p.integrality, Layout({"abc": slice(0, 3)}, {}), p.decision_index,
                   p.quadratic)
    res = get_solver(name).solve(free)
    assert res.status is Status.OPTIMAL
    np.testing.assert_allclose(res.x, [1, 3, 0])
    assert res.objective == pytest.approx(0.16, abs=1e-6)


@pytest.mark.parametrize("name", capable(ProblemKind.CONVEX_QP))
def test_convex_qp_known_optimum(name: str) -> None:
    """Projection of (1.4, 2.6, 0) onto 2a + 3b + c <= 5 (and the other rows, inactive)."""
    target = np.array([1.4, 2.6, 0.0])
    quad = QuadraticCost.from_factor(np.eye(3), -target, 0.5 * target @ target)
    p = knapsack(quadratic=quad, integer=False).with_objective(c=np.zeros(3), quadratic=quad)
    res = get_solver(name).solve(p)
    a = np.array([2.0, 3, 1])
    proj = target - max(0.0, (a @ target - 5) / (a @ a)) * a
    proj = np.maximum(proj, 0)  # c would go negative: clip and re-project on (a, b)
    a2 = a[:2]
    proj[:2] = target[:2] - (a2 @ target[:2] - 5) / (a2 @ a2) * a2
    assert res.status is Status.OPTIMAL
    np.testing.assert_allclose(res.x, proj, atol=1e-5)


def test_highs_refuses_miqp_naming_scip() -> None:
    with pytest.raises(CapabilityError, match=r"highs cannot solve MIQP \(integer variables "
                       r"with a quadratic objective\); use 'scip'"):
        get_solver("highs").solve(_miqp_problem())


def test_highs_oa_refuses_continuous_qp() -> None:
    target = np.ones(3)
    quad = QuadraticCost.from_factor(np.eye(3), -target)
    with pytest.raises(CapabilityError, match="highs-oa cannot solve convex QP; use 'highs'"):
        get_solver("highs-oa").solve(knapsack(quadratic=quad, integer=False))


def test_gurobi_missing_or_present() -> None:
    try:
        solver = get_solver("gurobi")
    except SolverUnavailableError as exc:
        assert "pip install" in str(exc)
    else:
        assert ProblemKind.MIQP in solver.capabilities


def test_low_rank_form_keeps_the_factor_small() -> None:
    """A rank-30 quadratic on the 441-variable ICU decision reaches the solvers as 30 rows."""
    sc = get_scenario()
    p = sc.twin.build(sc.context(40))
    rng = np.random.default_rng(0)
    F = rng.normal(size=(p.n_decision, 30))
    form = low_rank_form(p.with_objective(quadratic=QuadraticCost.from_factor(F, np.zeros(441))))
    assert form.rank == 30
    assert form.factor_rows.shape == (30, p.n_vars)
    u = rng.normal(size=p.n_vars)
    np.testing.assert_allclose(form.factor_rows @ u, F.T @ u[:441])


def _outcome_miqp(week: int = 40, integer: bool = True) -> tuple[Problem, np.ndarray]:
    """A learned-like cost: a weighted sum of squares of the ICU twin's outcomes, whose load
    gaps (a region's load minus the national mean) use every region's deployed beds."""
    sc = get_scenario()
    ctx = sc.context(week)
    p = sc.twin.build(ctx)
    if not integer:
        p = replace(p, integrality=np.zeros(p.n_vars, dtype=bool))
    nominal = solve(p, "highs").x
    out = sc.twin.outcomes(ctx)
    out = out.select(out.base_groups)  # what the default learner weighs
    a = np.random.default_rng(1).uniform(0.5, 2.0, size=len(out.names))
    quad = QuadraticCost.from_factor(out.matrix.T * np.sqrt(a), out.matrix.T @ (a * out.offset),
                                     0.5 * out.offset @ (a * out.offset))
    lam = 1000.0 / max(1e-9, quad(nominal[: p.n_decision]))
    return p.with_objective(quadratic=quad.scaled(lam)), nominal


def test_factor_rows_share_their_dense_part() -> None:
    """Load gaps minus a national mean: every load row uses every region's deployed beds (through
    the mean); the solver rows become sparse + one shared row, exactly. Rounding left by
    cancellation is dropped; rows without a shared part (random dense ones) stay as they are."""
    p, _ = _outcome_miqp()
    form = low_rank_form(p)
    F = form.factor_rows
    beds = p.decision_index[:21]
    assert (np.diff(F[:, beds].indptr) >= 21).sum() >= 21  # the 21 load rows
    top = abs(F).max(axis=1).toarray().ravel()
    assert np.all(abs(F).multiply(1 / top[:, None]).tocsr().data > 1e-12)  # no rounding kept
    split = form.shared
    assert split.k >= 1
    rebuilt = split.sparse + split.weight @ split.shared
    assert abs(rebuilt - F).max() <= 1e-12 * abs(F).max()
    assert (np.diff(split.sparse[:, beds].indptr) > 1).sum() == 0  # each keeps its own bed only
    assert split.sparse.nnz + split.shared.nnz + split.weight.nnz < F.nnz
    x = np.random.default_rng(0).normal(size=p.n_vars)
    np.testing.assert_allclose(form.aux_values(x)[: form.rank], form.factor_rows @ x)
    # two groups, each compared with its own weighted mean, and two rows of noise: two shared rows
    rng = np.random.default_rng(0)
    groups = []
    for _ in range(2):
        L = np.zeros((30, 600))
        for j in range(600):
            i, k = rng.choice(30, 2, replace=False)
            L[i, j], L[k, j] = -rng.random(), rng.random()
        w = rng.dirichlet(np.ones(30))
        groups.append((L - np.outer(np.ones(30), w @ L)) * rng.uniform(0.5, 2, (30, 1)))
    R = sp.csr_matrix(np.vstack([*groups, rng.normal(size=(2, 600))]))
    two = split_shared_rows(R)
    assert two.k == 2
    assert abs(two.sparse + two.weight @ two.shared - R).max() <= 1e-12 * abs(R).max()
    assert two.sparse.nnz + two.shared.nnz + two.weight.nnz < R.nnz / 5
    noise = low_rank_form(p.with_objective(
        quadratic=QuadraticCost.from_factor(rng.normal(size=(p.n_decision, 12)), np.zeros(441))))
    assert noise.shared.k == 0 and (noise.shared.sparse != noise.factor_rows).nnz == 0


@pytest.mark.parametrize("integer", [True, False])
def test_solvers_agree_on_an_outcome_cost(integer: bool) -> None:
    """HiGHS's auxiliary columns for the shared rows give the same optimum as SCIP's exact rows
    (MIQP through highs-oa; the continuous QP through highs)."""
    p, nominal = _outcome_miqp(integer=integer)
    opts = SolverOptions(time_limit_s=60, mip_gap=1e-5)
    ours = get_solver("highs-oa" if integer else "highs", opts).solve(p, warm_start=nominal)
    ref = get_solver("scip", opts).solve(p, warm_start=nominal)
    assert ours.status is Status.OPTIMAL and ref.status is Status.OPTIMAL
    assert p.check(ours.x).feasible
    assert ours.objective == pytest.approx(ref.objective, rel=2e-5, abs=1e-6)


def _random_miqp(week: int, seed: int = 0) -> tuple[Problem, np.ndarray]:
    sc = get_scenario()
    ctx = sc.context(week)
    p = sc.twin.build(ctx)
    nominal = solve(p, "highs").x
    rng = np.random.default_rng(seed)
    n = p.n_decision
    W, _ = np.linalg.qr(rng.normal(size=(n, 30)))
    F = W @ rng.normal(size=(30, 30)) / np.sqrt(30)
    mu = rng.uniform(0, 1, n) * np.clip(p.upper[:n], 0, 20)
    H = F @ F.T
    lam = 1000.0 / (0.5 * (nominal[:n] - mu) @ H @ (nominal[:n] - mu))
    quad = QuadraticCost.from_factor(F * np.sqrt(lam), -lam * H @ mu, 0.5 * lam * mu @ H @ mu)
    return p.with_objective(quadratic=quad), nominal


def test_miqp_solvers_agree_on_an_icu_week() -> None:
    p, nominal = _random_miqp(week=40)
    opts = SolverOptions(time_limit_s=60, mip_gap=1e-4)
    results = {n: get_solver(n, opts).solve(p, warm_start=nominal) for n in capable(ProblemKind.MIQP)}
    objs = {n: r.objective for n, r in results.items()}
    for name, res in results.items():
        assert res.status is Status.OPTIMAL, name
        assert p.check(res.x).feasible
        assert res.objective <= p.objective(nominal) + 1e-6
    best = min(objs.values())
    for name, value in objs.items():
        assert value <= best + 1e-3 * max(1.0, abs(best)), (name, objs)


@pytest.mark.parametrize("name", ["highs-oa", "scip"])
def test_miqp_without_heuristics_agrees_with_heuristics(name: str) -> None:
    p, nominal = _random_miqp(week=40, seed=3)
    opts = SolverOptions(time_limit_s=60, mip_gap=1e-4)
    on = get_solver(name, opts).solve(p, warm_start=nominal)
    off = get_solver(name, replace(opts, heuristics=False)).solve(p, warm_start=nominal)
    assert on.status is Status.OPTIMAL and off.status is Status.OPTIMAL
    assert p.check(off.x).feasible
    assert abs(off.objective - on.objective) <= 2e-4 * max(1.0, abs(on.objective))


def test_outer_approximation_node_budget_is_shared_and_reproducible() -> None:
    p, nominal = _random_miqp(week=40, seed=4)
    opts = SolverOptions(time_limit_s=60, mip_gap=1e-6, node_limit=3, heuristics=False)
    a = get_solver("highs-oa", opts).solve(p, warm_start=nominal)
    b = get_solver("highs-oa", opts).solve(p, warm_start=nominal)
    assert a.has_solution and p.check(a.x).feasible
    assert a.objective <= p.objective(nominal) + 1e-6  # never worse than the start
    np.testing.assert_array_equal(a.x, b.x)  # the same work, the same decision
    full = get_solver("highs-oa", replace(opts, node_limit=None)).solve(p, warm_start=nominal)
    assert full.objective <= a.objective + 1e-6
    from fairtwin.resolve import ResolveConfig

    with pytest.raises(ValueError, match="node_limit must be 0"):
        ResolveConfig(node_limit=-1)


def test_heuristics_option_reaches_highs() -> None:
    from fairtwin.solvers.highs import new_highs

    h = new_highs(SolverOptions(heuristics=False))
    assert h.getOptionValue("mip_heuristic_run_rins")[1] is False
    assert h.getOptionValue("mip_allow_restart")[1] is False
    assert new_highs(SolverOptions()).getOptionValue("mip_heuristic_run_rins")[1] is True


def test_time_limit_is_reported() -> None:
    p, nominal = _random_miqp(week=40, seed=1)
    res = get_solver("scip", SolverOptions(time_limit_s=0.01)).solve(p, warm_start=nominal)
    assert res.status in (Status.TIME_LIMIT, Status.OPTIMAL)
    assert res.has_solution  # the warm start is kept
    if res.status is Status.TIME_LIMIT:
        assert res.hit_limit and (np.isnan(res.gap) or res.gap >= 0)


def test_infeasible_context_names_week_and_group() -> None:
    twin = ICUTwin(tiny_regions(), TwinConfig(max_overflow=0.0))
    ctx = Context(index=7, label="week 7", demand=np.array([500, 3, 10, 0]),
                  capacity=np.array([30, 5, 80, 40]), pool=10)
    with pytest.raises(InfeasibleError, match=r"the model of week 7 is infeasible; "
                       r"constraint group\(s\): capacity") as info:
        solve(twin.build(ctx), "highs")
    assert info.value.groups == ["capacity"]


def test_unknown_solver_lists_allowed() -> None:
    with pytest.raises(Exception, match="allowed values: 'highs', 'highs-oa', 'scip', 'gurobi'"):
        get_solver("cplex")
    assert list(SOLVERS) == ["highs", "highs-oa", "scip", "gurobi"]


def test_solver_options_validated() -> None:
    with pytest.raises(ValueError, match="time_limit_s must be positive"):
        SolverOptions(time_limit_s=0)


def test_node_limit_is_passed_on() -> None:
    p, nominal = _random_miqp(week=40, seed=2)
    milp = p.with_objective(quadratic=None)
    for name in ("highs", "scip"):
        res = get_solver(name, SolverOptions(node_limit=1)).solve(milp)
        assert res.has_solution and p.check(res.x).feasible
    with pytest.raises(ValueError, match="node_limit must be positive"):
        SolverOptions(node_limit=0)


@pytest.mark.parametrize("integer", [True, False])
def test_max_terms_are_solved_exactly(integer: bool) -> None:
    """A cost with convex piecewise-linear terms (the largest member's value) on the knapsack:
    every capable solver agrees, and on integers with a brute-force enumeration of the box."""
    rng = np.random.default_rng(3)
    terms = [MaxAffine(2.0, np.array([[1.0, -1, 0], [0, 1, -1], [-1, 0, 1]]), np.zeros(3)),
             MaxAffine(1.0, rng.normal(size=(4, 3)), rng.normal(size=4))]
    quad = QuadraticCost.from_factor(0.3 * np.eye(3), np.zeros(3), max_terms=terms)
    p = knapsack(quadratic=quad, integer=integer)
    kind = ProblemKind.MIQP if integer else ProblemKind.CONVEX_QP
    values = {}
    for name in capable(kind):
        res = get_solver(name).solve(p)
        assert res.status is Status.OPTIMAL and res.x.shape == (3,), name
        assert res.objective == pytest.approx(p.objective(res.x))
        values[name] = res.objective
    assert len(values) >= 2 and max(values.values()) - min(values.values()) < 1e-4
    if integer:
        grid = np.array(np.meshgrid(*[np.arange(11.0)] * 3)).reshape(3, -1).T
        ok = [x for x in grid if p.check(x).feasible]
        assert min(values.values()) == pytest.approx(min(p.objective(x) for x in ok), abs=1e-5)
    # without its quadratic part the problem is a MILP (or an LP): linear rows only
    linear = p.with_objective(quadratic=QuadraticCost.from_factor(np.zeros((3, 0)), np.zeros(3),
                                                                  max_terms=terms))
    assert linear.kind is (ProblemKind.MILP if integer else ProblemKind.LP)
    assert get_solver("highs").solve(linear).status is Status.OPTIMAL


def test_the_re_solve_chooses_its_solver_from_the_problem_kind(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A twin with continuous decisions re-solves on the defaults (``solver = "auto"``: HiGHS's
    QP), where ``highs-oa`` refuses a convex QP naming the solver that can."""
    from fairtwin.folder import load_twin_folder
    from fairtwin.resolve import ResolveConfig, resolve_context
    from tests.twin_folders import write_doses_twin

    folder = write_doses_twin(tmp_path / "doses", n_contexts=3)
    for lp in (folder / "models").glob("*.lp"):  # continuous doses: no General section
        text = lp.read_text().replace("General\n dose_0 dose_1 dose_2 dose_3\n", "")
        lp.write_text(text)
    scenario = load_twin_folder(folder)
    twin, context = scenario.twin, scenario.contexts[0]
    assert not twin.build(context).is_mip
    cost = QuadraticCost.from_factor(0.1 * np.eye(4), -np.ones(4))
    done = resolve_context(twin, context, cost, 1.0, ResolveConfig())
    assert done.result is not None and done.result.solver == "highs"
    assert done.result.status is Status.OPTIMAL
    with pytest.raises(CapabilityError, match="highs-oa cannot solve convex QP; use 'highs'"):
        resolve_context(twin, context, cost, 1.0, ResolveConfig(solver="highs-oa"))
    # integer doses: the outer approximation, as before
    icu = write_doses_twin(tmp_path / "int", n_contexts=3)
    sc = load_twin_folder(icu)
    done = resolve_context(sc.twin, sc.contexts[0], cost, 1.0, ResolveConfig())
    assert done.result is not None and done.result.solver == "highs-oa"
