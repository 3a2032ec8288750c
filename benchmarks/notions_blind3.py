"""A third blind check: five notions of fairness written by someone who has not tuned the learner.

Like :mod:`notions` (whose interface they share) they are simulated raters for benchmarks, not
part of the product. Name them as ``notions_blind3:HostBurden`` etc. with ``benchmarks/`` on
``PYTHONPATH``. None of them was run through the learner before it was written down. The ICU
context exposes no earlier weeks, so "history" here means where the week started: its demand
before the decision.

ICU twin (:data:`BLIND3_NOTIONS`):

- :class:`HostBurden` (``host-burden``) counts the spread of the load ratios plus, for every
  region that *receives* patients, the patients it takes in per base bed times how far it ends up
  above a reserve line 10 points below the national load: solidarity is fine, but the hosts
  should not pay for it with their own reserve (an interaction of two quantities; reads the
  transfers, not only the loads). A panel of hospital managers asked to take in patients might
  hold it.
- :class:`ReliefNoHarm` (``relief-no-harm``) counts, for the regions that start the week above
  the national load, how far they end from the post-decision national load, and for the others
  only how far they end up *above where they started*, four times as much: relieve the
  over-burdened, but do no harm to the bystanders. Learnable from how full the regions are and
  the week's demand; a panel with a "first, do no harm" ethic might hold it.
- :class:`MacroAreas` (``macro-areas``) counts only the gaps between the pooled load ratios of
  Italy's three macro-areas (North, Centre, South and islands; ISTAT's grouping of the region
  codes), weighted by their beds: how loads are spread *within* an area is that area's own
  business. A national panel that reads the North/South divide in every allocation might hold
  it; no per-region weighting can say it.
- :class:`LeximinUnserved` (``leximin-unserved``) is lexicographic in flavour: an ordered
  weighted sum (weights 1, ½, ¼, …, largest first) of the patients without an ICU bed per
  100,000 residents of each region, and far below it the same ordered sum of the load ratios:
  first the residents of the worst-served region, then the next; only when no one lacks a bed
  does how full the regions are decide. Uses the regions' populations; a Rawlsian panel would
  hold it.

The small constants of the ICU notions keep every cost positive (as the relative metrics
assume); each is about a tenth of its notion's value in a quiet week, or less.

Any twin (:data:`BLIND3_GENERIC`):

- :class:`AnyPrioritarian` (``any-prioritarian``) is prioritarian over the first multi-member
  outcome group: the reciprocal of its Atkinson equally distributed equivalent ``(mean_i √v_i)²``,
  so the *level* counts as well as the spread, and a gain to a member who has little counts more
  than the same gain to one who has much (larger values are taken to be better, as
  ``any-worst-off`` does; negative values count as nothing; the unit of the group does not
  matter). A panel that wants as many served as possible, but with priority to those who get
  least, might hold it.
"""

from __future__ import annotations

import numpy as np
from notions import members_of
from numpy.typing import ArrayLike, NDArray

from fairtwin.twin.base import FairnessOracle
from fairtwin.twin.icu.notions import LoadOracle, national_of, post_decision_loads, ratios_of

__all__ = ["HostBurden", "ReliefNoHarm", "MacroAreas", "LeximinUnserved", "AnyPrioritarian",
           "BLIND3_NOTIONS", "BLIND3_GENERIC", "ordered_weighted"]


def ordered_weighted(x: NDArray[np.float64], ratio: float = 0.5) -> NDArray[np.float64]:
    """``Σ_k ratio^k x_(k)`` per row, with ``x_(0) ≥ x_(1) ≥ …`` the row sorted largest first."""
    s = -np.sort(-x, axis=1)
    return s @ (ratio ** np.arange(x.shape[1]))


class HostBurden(FairnessOracle):
    """``10⁻⁴ + ½ Σ_i (ρ_i − ρ̄)² + 2 Σ_j r_j · max(0, ρ_j − ρ̄ + 0.1)`` with ``r_j`` the patients
    region ``j`` receives per base bed: transfers are welcome, unless they leave their host
    without a reserve (less than 10 points below the national load, or above it)."""

    name = "host-burden"
    weight = 2.0
    reserve = 0.1

    def cost(self, U: ArrayLike, context: object) -> NDArray[np.float64]:
        U = np.atleast_2d(np.asarray(U, dtype=np.float64))
        twin = self.twin
        R = twin.n_regions
        load, beds = post_decision_loads(twin, U, context)
        rho = ratios_of(load, beds)
        gap = rho - national_of(load, beds)[:, None]
        _, dst = twin.pairs
        received = U[:, R:] @ np.eye(R)[dst]  # patients received per region
        per_bed = received / np.maximum(context.capacity, 1)[None, :]
        return (1e-4 + 0.5 * np.sum(gap ** 2, axis=1)
                + self.weight * np.sum(per_bed * np.maximum(gap + self.reserve, 0.0), axis=1))


class ReliefNoHarm(LoadOracle):
    """``10⁻⁴ + ½ Σ_{i ∈ O} (ρ_i − ρ̄)² + 2 Σ_{i ∉ O} max(0, ρ_i − ρ⁰_i)²`` with ``ρ⁰_i = D_i/C_i``
    the load before the decision and ``O`` the regions that start above the national load
    ``ΣD / ΣC``: the over-burdened should come down to the country's level, and no other region
    should end fuller than it started (four times the weight of the first term)."""

    name = "relief-no-harm"
    harm_weight = 2.0

    def cost_of_loads(self, load: NDArray[np.float64], beds: NDArray[np.float64],
                      context: object) -> NDArray[np.float64]:
        demand = np.asarray(context.demand, dtype=np.float64)
        capacity = np.asarray(context.capacity, dtype=np.float64)
        start = ratios_of(demand[None, :], capacity[None, :])[0]
        over = start > demand.sum() / max(capacity.sum(), 1.0)
        rho = ratios_of(load, beds)
        relief = 0.5 * np.sum(((rho - national_of(load, beds)[:, None]) ** 2)[:, over], axis=1)
        harm = np.sum((np.maximum(rho - start[None, :], 0.0) ** 2)[:, ~over], axis=1)
        return 1e-4 + relief + self.harm_weight * harm


#: ISTAT's macro-areas by Civil Protection region code (21 Bolzano and 22 Trento in the North)
NORTH = (1, 2, 3, 5, 6, 7, 8, 21, 22)
CENTRE = (9, 10, 11, 12)


def macro_areas(twin: object) -> NDArray[np.int64]:
    """Each region's macro-area, 0 North, 1 Centre, 2 South and islands; for a twin whose
    regions are not Italy's (``synthetic-R<N>``), three bands of latitude of equal size."""
    regions = twin.regions
    codes = np.asarray(regions.codes)
    if regions.n_regions == 21 and set(codes.tolist()) == set(range(1, 23)) - {4}:
        return np.where(np.isin(codes, NORTH), 0, np.where(np.isin(codes, CENTRE), 1, 2))
    rank = np.argsort(np.argsort(-np.asarray(regions.lat)))
    return (3 * rank // regions.n_regions).astype(np.int64)


class MacroAreas(LoadOracle):
    """``10⁻⁶ + Σ_a w_a (ρ_a − ρ̄)²`` over the macro-areas ``a`` (North, Centre, South and
    islands), with ``ρ_a`` an area's patients over its beds after the decision and ``w_a`` its
    share of the beds: only the gaps between the areas count, none within an area."""

    name = "macro-areas"

    def cost_of_loads(self, load: NDArray[np.float64], beds: NDArray[np.float64],
                      context: object) -> NDArray[np.float64]:
        area = macro_areas(self.twin)
        member = (area[:, None] == np.arange(3)[None, :]).astype(np.float64)  # (R, 3)
        area_load = load @ member
        area_beds = beds @ member
        rho = np.divide(area_load, area_beds, out=np.zeros_like(area_load),
                        where=area_beds > 0)
        total = np.maximum(area_beds.sum(axis=1, keepdims=True), 1.0)
        gap = rho - national_of(load, beds)[:, None]
        return 1e-6 + np.sum(area_beds / total * gap ** 2, axis=1)


class LeximinUnserved(LoadOracle):
    """``10⁻⁴ + OWA(s) + 0.01 · OWA(ρ)`` with ``s_i`` the patients without an ICU bed per
    100,000 residents of region ``i`` and ``OWA`` the sum of a row sorted largest first with
    weights 1, ½, ¼, …: the worst-served residents first, then the fullest regions."""

    name = "leximin-unserved"
    tie_weight = 0.01

    def cost_of_loads(self, load: NDArray[np.float64], beds: NDArray[np.float64],
                      context: object) -> NDArray[np.float64]:
        pop = np.maximum(np.asarray(self.twin.regions.population, dtype=np.float64), 1.0)
        unserved = 1e5 * np.maximum(load - beds, 0.0) / pop[None, :]
        return (1e-4 + ordered_weighted(unserved)
                + self.tie_weight * ordered_weighted(ratios_of(load, beds)))


class AnyPrioritarian(FairnessOracle):
    """``1 / A(v)`` with ``A(v) = (mean_i √v_i)²`` the Atkinson (``ε = ½``) equally distributed
    equivalent of the first multi-member group (negative values taken as 0; ``A`` at least
    10⁻⁹): more for everyone and more equal are both fairer, and a gain counts more the less the
    member has. ``A`` is homogeneous of degree one, so the ranking of decisions and their relative
    cost differences do not depend on the group's unit."""

    name = "any-prioritarian"
    floor = 1e-9

    def cost(self, U: ArrayLike, context: object) -> NDArray[np.float64]:
        v = np.maximum(members_of(self, U, context), 0.0)
        ede = np.mean(np.sqrt(v), axis=1) ** 2
        return 1.0 / np.maximum(ede, self.floor)


BLIND3_NOTIONS = {cls.name: f"notions_blind3:{cls.__name__}"
                  for cls in (HostBurden, ReliefNoHarm, MacroAreas, LeximinUnserved)}
BLIND3_GENERIC = {cls.name: f"notions_blind3:{cls.__name__}" for cls in (AnyPrioritarian,)}
