"""QuadraticCost: evaluation against its formula, factor laws (H = F Fᵀ is PSD and reproduced
by ``low_rank_factor``), validation errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fairtwin.costs import QuadraticCost
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
