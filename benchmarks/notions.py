"""Notions of fairness that the twins' outcome groups do not contain (the ICU twin's, and any twin's).

They exist to test the learner and its deployment rule on notions nobody designed it for; the
product does not ship them. Name them as ``notions:PerResident`` etc. with ``benchmarks/`` on
``PYTHONPATH`` (``bench_deploy.py`` does so).

- :class:`PerResident` uses twin data the outcome groups leave out: the spread of the ICU
  patients present *per resident* (the regions' populations), not per bed.
- :class:`Favoured` favours some members: the squared load gaps of every third region (by the
  twin's order) count four times.
- :class:`WorstOff` is non-smooth: the largest load ratio (only the worst-off region counts),
  plus a step for every region left with more patients than beds.
- :class:`Unexplainable` is no function of the outcomes: each week a fixed random linear
  preference over the raw decision entries, drawn from the week's index. Nothing learned in one
  week carries to another; a learner must see that it fails.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fairtwin.twin.base import FairnessOracle
from fairtwin.twin.icu.notions import LoadOracle, national_of, ratios_of

__all__ = ["PerResident", "Favoured", "WorstOff", "Unexplainable", "TravelAverse", "NOTIONS",
           "AnyUnexplainable", "AnyFavoured", "AnyWorstOff", "VaccinePerResident",
           "GENERIC_NOTIONS", "members_of", "WeeklyFavoured", "Threshold", "TransferAverse",
           "BedsPerResident", "BLIND_NOTIONS", "spread_by_residents", "Neighbours",
           "CappedGaps", "EfficiencyMinded", "NearFull", "BLIND2_NOTIONS"]


class PerResident(LoadOracle):
    """``½ Σ_i (q_i / q̄ − 1)²`` with ``q_i`` the ICU patients present per resident after the
    decision and ``q̄`` the national value."""

    name = "per-resident"

    def cost_of_loads(self, load: NDArray[np.float64], beds: NDArray[np.float64],
                      context: object) -> NDArray[np.float64]:
        return spread_by_residents(load, self.twin.regions.population)


def spread_by_residents(x: NDArray[np.float64], population: ArrayLike) -> NDArray[np.float64]:
    """``½ Σ_i (x_i/p_i ÷ x̄ − 1)²`` per row of ``x`` (regions in columns), with ``p_i`` the
    residents and ``x̄ = Σ x / Σ p`` the national value per resident."""
    pop = np.asarray(population, dtype=np.float64)
    per = x / pop
    mean = x.sum(axis=1, keepdims=True) / pop.sum()
    return 0.5 * np.sum((per / np.maximum(mean, 1e-12) - 1.0) ** 2, axis=1)


class Favoured(LoadOracle):
    """``½ Σ_i w_i (ρ_i − ρ̄)²`` with ``w_i = 4`` for every third region, 1 otherwise."""

    name = "favoured"

    def cost_of_loads(self, load: NDArray[np.float64], beds: NDArray[np.float64],
                      context: object) -> NDArray[np.float64]:
        R = load.shape[1]
        w = np.where(np.arange(R) % 3 == 0, 4.0, 1.0)
        rho = ratios_of(load, beds)
        return 0.5 * np.sum(w * (rho - national_of(load, beds)[:, None]) ** 2, axis=1)


class WorstOff(LoadOracle):
    """``max_i ρ_i + 0.1 · #{i : ρ_i > 1}``: only the worst-off region, and a step per region
    over capacity."""

    name = "worst-off"

    def cost_of_loads(self, load: NDArray[np.float64], beds: NDArray[np.float64],
                      context: object) -> NDArray[np.float64]:
        rho = ratios_of(load, beds)
        return rho.max(axis=1) + 0.1 * np.sum(rho > 1.0, axis=1)


class Unexplainable(LoadOracle):
    """``10⁴ + g_wᵀ u`` with ``g_w`` standard normal, drawn from the week's index (the
    constant keeps the cost positive, as the relative metrics assume)."""

    name = "unexplainable"

    def cost_of_loads(self, load: NDArray[np.float64], beds: NDArray[np.float64],
                      context: object) -> NDArray[np.float64]:
        return np.full(load.shape[0], 1e4)

    def linear_cost(self, context: object) -> NDArray[np.float64]:
        rng = np.random.default_rng([20261206, int(getattr(context, "index", 0))])
        return rng.standard_normal(self.twin.n_decision)


NOTIONS = {c.name: f"notions:{c.__name__}" for c in (PerResident, Favoured, WorstOff, Unexplainable)}


class TravelAverse(LoadOracle):
    """``½ Σ_i (ρ_i − ρ̄)² + γ · patient-km / patients``: even loads, but every kilometre a
    patient travels counts (γ = 0.002 per km, no free distance)."""

    name = "travel-averse"
    per_km = 0.002

    def linear_cost(self, context: object) -> NDArray[np.float64]:
        patients = max(float(np.sum(getattr(context, "demand", 1.0))), 1.0)
        return np.concatenate([np.zeros(self.twin.n_regions),
                               self.per_km * self.twin.pair_km / patients])

    def cost_of_loads(self, load: NDArray[np.float64], beds: NDArray[np.float64],
                      context: object) -> NDArray[np.float64]:
        rho = ratios_of(load, beds)
        return 0.5 * np.sum((rho - national_of(load, beds)[:, None]) ** 2, axis=1)


NOTIONS["travel-averse"] = "notions:TravelAverse"


# Four more, written after the learner was built and not tuned to: a blind check of the
# deployment rule on kinds the team's hidden notions may have.


class WeeklyFavoured(LoadOracle):
    """``½ Σ_i w_i (ρ_i − ρ̄)²`` with ``w_k = 10`` for one region drawn from the week's index,
    1 for the others: a rater who favours one member per week, not knowable from the
    outcomes."""

    name = "weekly-favoured"

    def cost_of_loads(self, load: NDArray[np.float64], beds: NDArray[np.float64],
                      context: object) -> NDArray[np.float64]:
        R = load.shape[1]
        k = np.random.default_rng([20261207, int(getattr(context, "index", 0))]).integers(R)
        w = np.where(np.arange(R) == k, 10.0, 1.0)
        rho = ratios_of(load, beds)
        return 0.5 * np.sum(w * (rho - national_of(load, beds)[:, None]) ** 2, axis=1)


class Threshold(LoadOracle):
    """``10⁻³ + Σ_i max(0, ρ_i − 0.85)²``: only loads above 85 % of the beds count (a hinge;
    the constant keeps the cost positive in quiet weeks)."""

    name = "threshold"

    def cost_of_loads(self, load: NDArray[np.float64], beds: NDArray[np.float64],
                      context: object) -> NDArray[np.float64]:
        rho = ratios_of(load, beds)
        return 1e-3 + np.sum(np.maximum(rho - 0.85, 0.0) ** 2, axis=1)


class TransferAverse(LoadOracle):
    """``½ Σ_i (ρ_i − ρ̄)² + transfers / patients``: even loads, but every patient moved counts
    as much as one patient of the week's total."""

    name = "transfer-averse"

    def linear_cost(self, context: object) -> NDArray[np.float64]:
        patients = max(float(np.sum(getattr(context, "demand", 1.0))), 1.0)
        return np.concatenate([np.zeros(self.twin.n_regions),
                               np.full(self.twin.n_pairs, 1.0 / patients)])

    def cost_of_loads(self, load: NDArray[np.float64], beds: NDArray[np.float64],
                      context: object) -> NDArray[np.float64]:
        rho = ratios_of(load, beds)
        return 0.5 * np.sum((rho - national_of(load, beds)[:, None]) ** 2, axis=1)


class BedsPerResident(LoadOracle):
    """``10⁻³ + ½ Σ_i (b_i/p_i ÷ b̄ − 1)²`` with ``b_i`` the ICU beds after the decision and
    ``p_i`` the region's residents: beds, not patients, spread by population (twin data the
    outcome groups leave out)."""

    name = "beds-per-resident"

    def cost_of_loads(self, load: NDArray[np.float64], beds: NDArray[np.float64],
                      context: object) -> NDArray[np.float64]:
        return 1e-3 + spread_by_residents(beds, self.twin.regions.population)


BLIND_NOTIONS = {c.name: f"notions:{c.__name__}"
                 for c in (WeeklyFavoured, Threshold, TransferAverse, BedsPerResident)}


# Four more, written on 2026-12-06 before any of them was run (commit of this text), not
# tuned to: a second blind check, of kinds none of the notions above has.


class Neighbours(LoadOracle):
    """``10⁻³ + ½ Σ_{i<j near} (ρ_i − ρ_j)²`` over the pairs of regions whose transfer distance
    is below the median: only neighbours are compared (the twin's geography, which the outcome
    groups leave out)."""

    name = "neighbours"

    def cost_of_loads(self, load: NDArray[np.float64], beds: NDArray[np.float64],
                      context: object) -> NDArray[np.float64]:
        src, dst = self.twin.pairs
        near = (self.twin.pair_km < np.median(self.twin.pair_km)) & (src < dst)
        rho = ratios_of(load, beds)
        return 1e-3 + 0.5 * np.sum((rho[:, src[near]] - rho[:, dst[near]]) ** 2, axis=1)


class CappedGaps(LoadOracle):
    """``10⁻³ + Σ_i min((ρ_i − ρ̄)², 0.04)``: a gap beyond 0.2 counts no more than 0.2 (a
    saturating, non-convex notion: narrowing a large gap part of the way gains nothing)."""

    name = "capped-gaps"

    def cost_of_loads(self, load: NDArray[np.float64], beds: NDArray[np.float64],
                      context: object) -> NDArray[np.float64]:
        rho = ratios_of(load, beds)
        gap = (rho - national_of(load, beds)[:, None]) ** 2
        return 1e-3 + np.sum(np.minimum(gap, 0.04), axis=1)


class EfficiencyMinded(LoadOracle):
    """``1 + J(u) / 1000``: a rater who finds the cheapest decision the fairest (the twin's
    nominal cost: overflow, transfers per km, beds deployed). The nominal decision is already
    what this rater wants; any change is less fair."""

    name = "efficiency-minded"

    def linear_cost(self, context: object) -> NDArray[np.float64]:
        return self.twin.nominal_costs()[: self.twin.n_decision] / 1000.0

    def cost_of_loads(self, load: NDArray[np.float64], beds: NDArray[np.float64],
                      context: object) -> NDArray[np.float64]:
        over = np.maximum(load - beds, 0.0).sum(axis=1)
        return 1.0 + self.twin.config.overflow_weight * over / 1000.0


class NearFull(LoadOracle):
    """``Σ_i 1 / (1.05 − min(ρ_i, 1))``: what counts is how close each region is to full, not
    the spread (an absolute level; steep near full, flat beyond it: non-convex)."""

    name = "near-full"

    def cost_of_loads(self, load: NDArray[np.float64], beds: NDArray[np.float64],
                      context: object) -> NDArray[np.float64]:
        rho = ratios_of(load, beds)
        return np.sum(1.0 / (1.05 - np.minimum(rho, 1.0)), axis=1)


BLIND2_NOTIONS = {c.name: f"notions:{c.__name__}"
                  for c in (Neighbours, CappedGaps, EfficiencyMinded, NearFull)}


# ---------------------------------------------------------------------- any twin's notions
# The same kinds for a twin that is not the ICU one (benchmarks on a folder twin: the vaccine
# example). They read the twin's first outcome group of two or more members (its "members":
# the vaccine twin's districts' served shares).


def members_of(oracle: FairnessOracle, U: ArrayLike, context: object) -> NDArray[np.float64]:
    out = oracle.twin.outcomes(context)
    group = next(g for g in out.group_names if out.groups.count(g) > 1)
    sel = np.array([g == group for g in out.groups])
    return out(np.atleast_2d(np.asarray(U, dtype=np.float64)))[:, sel]


class AnyFavoured(FairnessOracle):
    """``½ Σ_i w_i (v_i − v̄)²`` over the first multi-member group, ``w_i = 4`` for every
    third member (by the twin's order), 1 otherwise: some members count more."""

    name = "any-favoured"

    def cost(self, U: ArrayLike, context: object) -> NDArray[np.float64]:
        v = members_of(self, U, context)
        w = np.where(np.arange(v.shape[1]) % 3 == 0, 4.0, 1.0)
        return 1.0 + 0.5 * np.sum(w * (v - v.mean(axis=1, keepdims=True)) ** 2, axis=1)


class AnyWorstOff(FairnessOracle):
    """``max_i (v̄ − v_i) + 0.05 · #{i : v_i < v̄ − 0.1}``: only the worst-off member's shortfall
    below the mean, and a step per member far below it (non-smooth)."""

    name = "any-worst-off"

    def cost(self, U: ArrayLike, context: object) -> NDArray[np.float64]:
        v = members_of(self, U, context)
        below = v.mean(axis=1, keepdims=True) - v
        return 1.0 + below.max(axis=1) + 0.05 * np.sum(below > 0.1, axis=1)


class AnyUnexplainable(FairnessOracle):
    """``10⁴ + g_cᵀ u`` with ``g_c`` standard normal, drawn from the context's index: no
    function of any twin's outcomes."""

    name = "any-unexplainable"

    def cost(self, U: ArrayLike, context: object) -> NDArray[np.float64]:
        rng = np.random.default_rng([20261206, int(getattr(context, "index", 0))])
        g = rng.standard_normal(self.twin.n_decision)
        return 1e4 + np.atleast_2d(np.asarray(U, dtype=np.float64)) @ g


@lru_cache(maxsize=4)
def _districts(path: Path) -> NDArray[np.void]:
    """The vaccine example's districts.csv (read once: the latent cost is evaluated per batch of
    decisions, thousands of times a run)."""
    return np.genfromtxt(path, delimiter=",", names=True, dtype=None, encoding="utf-8")


class VaccinePerResident(FairnessOracle):
    """The vaccine example's doses *per resident* (districts.csv's populations, data its outcome
    groups leave out: they hold the share of each district's demand served): ``½ Σ_i (d_i/p_i ÷
    d̄ − 1)²`` with ``d̄`` the doses per resident of all districts together."""

    name = "vaccine-per-resident"
    districts = Path(__file__).resolve().parent.parent / "examples" / "vaccine" / "districts.csv"

    def cost(self, U: ArrayLike, context: object) -> NDArray[np.float64]:
        pop = _districts(self.districts)["population"].astype(np.float64)
        d = np.atleast_2d(np.asarray(U, dtype=np.float64))
        names = self.twin.decision_names
        doses = d[:, [k for k, n in enumerate(names) if n.startswith("dose(")]]
        per = doses / pop
        mean = doses.sum(axis=1, keepdims=True) / pop.sum()
        return 1.0 + 0.5 * np.sum((per / np.maximum(mean, 1e-12) - 1.0) ** 2, axis=1)


class VaccineOlderFirst(FairnessOracle):
    """The vaccine example's districts of older people first (districts.csv's ``old_share``,
    data its outcome groups leave out): ``1 + Σ_i (1 + 4 o_i/ō) (1 − s_i)²`` with ``s_i`` the
    share of district ``i``'s demand served and ``o_i`` its share of residents over 65 — a
    rater who wants every district served, the older ones most (a level, not a spread)."""

    name = "vaccine-older-first"
    districts = VaccinePerResident.districts

    def cost(self, U: ArrayLike, context: object) -> NDArray[np.float64]:
        table = _districts(self.districts)
        old = dict(zip(table["district"], table["old_share"], strict=True))
        out = self.twin.outcomes(context)
        cols = [k for k, g in enumerate(out.groups) if g == "served"]
        o = np.array([old[out.names[k]] for k in cols], dtype=np.float64)
        s = out(np.atleast_2d(np.asarray(U, dtype=np.float64)))[:, cols]
        return 1.0 + np.sum((1.0 + 4.0 * o / o.mean()) * (1.0 - s) ** 2, axis=1)


GENERIC_NOTIONS = {c.name: f"notions:{c.__name__}"
                   for c in (AnyFavoured, AnyWorstOff, AnyUnexplainable, VaccinePerResident,
                             VaccineOlderFirst)}
