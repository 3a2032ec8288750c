"""QuadraticCost: evaluation against its formula, factor laws (H = F Fᵀ is PSD and reproduced
by ``low_rank_factor``), validation errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fairtwin.costs import MaxAffine, QuadraticCost
from fairtwin.exceptions import ValidationError


def test_value_matches_formula() -> None:
    H = np.array([[2.0, 1.0], [1.0, 3.0]])
    q = np.array([-1.0, 4.0])
    f = QuadraticCost(H, q, const=2.5)
    u = np.array([1.0, -2.0])
    assert f(u) == pytest.approx(0.5 * u @ H @ u + q @ u + 2.5)
    batch = f(np.stack([u, 2 * u]))
    assert batch.shape == (2,)
    assert batch[1] == pytest.approx(0.5 * 4 * u @ H @ u + 2 * q @ u + 2.5)
    np.testing.assert_allclose(f.gradient(u), H @ u + q)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 12), r=st.integers(1, 6), seed=st.integers(0, 10_000))
def test_factor_gives_psd_and_round_trips(n: int, r: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    F = rng.normal(size=(n, r))
    f = QuadraticCost.from_factor(F, rng.normal(size=n))
    assert f.min_eigenvalue() >= -1e-9 * max(1.0, np.abs(f.H).max())
    dense = QuadraticCost(f.H, f.q)
    G = dense.low_rank_factor()
    assert G.shape[1] <= min(n, r)
    np.testing.assert_allclose(G @ G.T, f.H, atol=1e-8 * max(1.0, np.abs(f.H).max()))


def test_non_psd_factor_request_is_refused() -> None:
    f = QuadraticCost(np.diag([1.0, -2.0]), np.zeros(2))
    with pytest.raises(ValidationError, match="not positive semi-definite"):
        f.low_rank_factor()


@pytest.mark.parametrize(
    ("H", "q", "match"),
    [
        (np.ones((2, 3)), np.zeros(2), "square"),
        (np.eye(2), np.zeros(3), "must agree"),
        (np.array([[1.0, 2.0], [0.0, 1.0]]), np.zeros(2), "symmetric"),
        (np.array([[np.nan, 0.0], [0.0, 1.0]]), np.zeros(2), "NaN or inf"),
    ],
)
def test_invalid_inputs(H: np.ndarray, q: np.ndarray, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        QuadraticCost(H, q)


def test_wrong_decision_length() -> None:
    f = QuadraticCost.linear(np.ones(3))
    with pytest.raises(ValidationError, match="expects 3"):
        f(np.ones(4))


def test_scaled() -> None:
    rng = np.random.default_rng(1)
    f = QuadraticCost.from_factor(rng.normal(size=(4, 2)), rng.normal(size=4), 1.0)
    g = f.scaled(3.0)
    u = rng.normal(size=4)
    assert g(u) == pytest.approx(3 * f(u))
    np.testing.assert_allclose(g.low_rank_factor() @ g.low_rank_factor().T, g.H, atol=1e-10)
    with pytest.raises(ValidationError, match="non-negative"):
        f.scaled(-1.0)


def test_a_factored_cost_never_needs_its_dense_hessian() -> None:
    import pickle

    rng = np.random.default_rng(2)
    F = rng.normal(size=(50, 3))
    f = QuadraticCost.from_factor(F, rng.normal(size=50), 0.5)
    U = rng.normal(size=(4, 50))
    H = F @ F.T
    expected = 0.5 * np.einsum("ij,jk,ik->i", U, H, U) + U @ f.q + 0.5
    np.testing.assert_allclose(f(U), expected)
    np.testing.assert_allclose(f.gradient(U[0]), H @ U[0] + f.q)
    assert f._H is None  # nothing above formed the 50 × 50 matrix
    assert f.min_eigenvalue() == 0.0 and not f.is_linear
    assert f.scaled(2.0)._H is None
    np.testing.assert_allclose(f.H, H)  # formed on demand ...
    back = pickle.loads(pickle.dumps(f))
    assert back._H is None  # ... and not shipped to workers
    np.testing.assert_allclose(back(U), f(U))
    assert QuadraticCost.linear(np.ones(3)).is_linear
    with pytest.raises(AttributeError, match="immutable"):
        f.const = 1.0
    with pytest.raises(ValidationError, match="give H or a factor"):
        QuadraticCost(None, np.zeros(2))


def _max_terms(n: int, rng: np.random.Generator) -> list[MaxAffine]:
    return [MaxAffine(float(rng.uniform(0.1, 2.0)), rng.normal(size=(k, n)), rng.normal(size=k))
            for k in (1, 3, 5)]


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 8), seed=st.integers(0, 10_000))
def test_epigraph_form_equals_the_piecewise_linear_cost(n: int, seed: int) -> None:
    """At any decision, the epigraph problem (decision fixed, epigraph variables free) has the
    value of the cost with its max terms: each ``t`` settles on its largest piece."""
    from fairtwin.solvers import get_solver
    from fairtwin.twin import Layout, Problem

    rng = np.random.default_rng(seed)
    terms = _max_terms(n, rng)
    cost = QuadraticCost.from_factor(rng.normal(size=(n, 2)), rng.normal(size=n), 0.7,
                                     max_terms=terms)
    u = rng.normal(size=n) * 3
    expected = 0.5 * np.sum((cost.factor.T @ u) ** 2) + cost.q @ u + 0.7 + sum(
        t.weight * np.max(t.A @ u + t.b) for t in terms)
    assert cost(u) == pytest.approx(expected)
    fixed = Problem("fixed", np.zeros(n), np.zeros((0, n)), np.zeros(0), np.zeros(0), u, u,
                    np.zeros(n, dtype=bool), Layout({"u": slice(0, n)}, {}), np.arange(n),
                    cost)
    ep = fixed.epigraph()
    assert ep.n_vars == n + 3 and ep.quadratic is not None and ep.quadratic.max_terms == ()
    assert ep.layout.constraints["epigraph"] == slice(0, 9)
    res = get_solver("highs").solve(ep)
    assert res.objective == pytest.approx(expected, rel=1e-7, abs=1e-7)
    # the epigraph variables take the largest piece of each term
    np.testing.assert_allclose(res.x[n:], [np.max(t.A @ u + t.b) for t in terms], atol=1e-6)
    np.testing.assert_allclose(ep.objective(fixed.epigraph_start(u)), expected, rtol=1e-9)
    # the same through the solver interface on the original problem, x without the epigraph
    direct = get_solver("highs").solve(fixed)
    assert direct.x.shape == (n,) and direct.objective == pytest.approx(expected, rel=1e-7)


def test_max_terms_scale_pickle_and_subgradient() -> None:
    import pickle

    rng = np.random.default_rng(1)
    cost = QuadraticCost.from_factor(rng.normal(size=(4, 2)), rng.normal(size=4),
                                     max_terms=_max_terms(4, rng))
    u = rng.normal(size=4)
    assert not cost.is_linear and cost.smooth.max_terms == ()
    assert cost.scaled(2.5)(u) == pytest.approx(2.5 * cost(u))
    assert pickle.loads(pickle.dumps(cost))(u) == cost(u)
    # a subgradient: f(v) ≥ f(u) + g·(v − u) for a convex f
    g = cost.gradient(u)
    for v in rng.normal(size=(50, 4)) * 2:
        assert cost(v) >= cost(u) + g @ (v - u) - 1e-9
    with pytest.raises(ValidationError, match="weight must be finite and ≥ 0"):
        MaxAffine(-1.0, np.eye(2), np.zeros(2))
    with pytest.raises(ValidationError, match="max_terms must be MaxAffine terms over 4"):
        QuadraticCost(None, np.zeros(4), factor=np.zeros((4, 0)),
                      max_terms=[MaxAffine(1.0, np.eye(3), np.zeros(3))])
