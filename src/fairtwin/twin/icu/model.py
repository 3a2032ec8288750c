"""The COVID-19 intensive-care allocation twin (one context = one week, all regions at once).

Decision ``u`` (integers, the vector a learned cost acts on):

- ``y_i`` extra staffed ICU beds deployed to region ``i`` from the national pool ``B``;
- ``x_ij`` patients transferred from region ``i`` to region ``j`` (all ordered pairs, ``i ≠ j``).

Auxiliary (not part of ``u``): overflow ``s_i ≥ 0``, patients without an ICU bed.

Constraints, by group:

- ``pool``: ``Σ_i y_i ≤ B``;
- ``capacity``: ``D_i − Σ_j x_ij + Σ_j x_ji − s_i ≤ C_i + y_i``;
- ``transfer_share``: ``Σ_j x_ij ≤ ⌊τ D_i⌋``;
- bounds: ``0 ≤ y_i ≤ B``, ``0 ≤ x_ij ≤ ⌊τ D_i⌋``, ``0 ≤ s_i ≤ s_max`` (``s_max`` optional).

Nominal cost ``J = w_overflow Σ s_i + w_km Σ d_ij x_ij + w_bed Σ y_i``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from fairtwin.exceptions import ValidationError
from fairtwin.tomlfile import check_setting_types, read_toml
from fairtwin.twin.base import (
    DecisionReport,
    Twin,
    deviation_problem,
)
from fairtwin.twin.icu.regions import RegionTable
from fairtwin.twin.outcomes import Outcomes
from fairtwin.twin.presentation import Fact, MembersView, Move, Quantity
from fairtwin.twin.problem import FeasibilityReport, Layout, Problem

__all__ = ["TwinConfig", "Context", "ICUTwin", "Allocation", "CostBreakdown"]


@dataclass(frozen=True)
class TwinConfig:
    """Settings of the ICU twin (the values that worked in the first prototype).

    Attributes
    ----------
    transfer_share : float
        ``τ``, the share of a region's patients that may be moved in a week.
    pool_share : float
        Size of the national pool of extra beds as a share of total base capacity.
    overflow_weight : float
        Nominal cost per patient without an ICU bed.
    transfer_weight_per_km : float
        Nominal cost per patient and kilometre transferred.
    deploy_weight : float
        Nominal cost per extra bed deployed.
    max_overflow : float or None
        Upper bound on each region's overflow (``0`` demands a bed for everyone, which can make
        a week infeasible); ``None`` for no bound.
    """

    transfer_share: float = 0.10
    pool_share: float = 0.10
    overflow_weight: float = 1000.0
    transfer_weight_per_km: float = 0.1
    deploy_weight: float = 5.0
    max_overflow: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.transfer_share <= 1.0:
            raise ValidationError(
                f"transfer_share must lie in [0, 1], got {self.transfer_share}"
            )
        if self.pool_share < 0:
            raise ValidationError(f"pool_share must be non-negative, got {self.pool_share}")
        for name in ("overflow_weight", "transfer_weight_per_km", "deploy_weight"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ValidationError(f"{name} must be finite and non-negative, got {value}")
        if self.max_overflow is not None and self.max_overflow < 0:
            raise ValidationError(f"max_overflow must be non-negative, got {self.max_overflow}")

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> TwinConfig:
        allowed = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ValidationError(
                f"{source}: unknown twin setting(s) {unknown}; allowed: {sorted(allowed)}"
            )
        check_setting_types(cls, data, f"{source} [twin]")
        try:
            return cls(**data)
        except ValidationError as exc:  # name the file and the section
            raise ValidationError(f"{source} [twin]: {exc}") from None

    @classmethod
    def coerce(cls, value: TwinConfig | Mapping[str, Any] | None,
               source: str = "config") -> TwinConfig | None:
        """``value`` as settings: itself, ``None``, or a ``[twin]`` table read by
        :meth:`from_dict` (errors name ``source``)."""
        if value is None or isinstance(value, cls):
            return value
        if isinstance(value, Mapping):
            return cls.from_dict(dict(value), source)
        raise ValidationError(f"{source} [twin]: expected a table of the ICU twin's settings, "
                              f"got {type(value).__name__}")

    @classmethod
    def from_toml(cls, path: str | Path) -> TwinConfig:
        """Load from a TOML file, from its ``[twin]`` table when present."""
        data = read_toml(path)
        return cls.from_dict(data.get("twin", data), source=str(path))

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True, eq=False)
class Context:
    """One week's situation ``x0``.

    Attributes
    ----------
    index : int
        Position of the week in its scenario.
    label : str
        Human-readable name, e.g. ``"week 5 (2020-04-06)"``.
    demand : ndarray of int, shape (n_regions,)
        ``D_i``, COVID patients needing an ICU bed.
    capacity : ndarray of int, shape (n_regions,)
        ``C_i``, base ICU capacity.
    pool : int
        ``B``, extra staffed beds that can be deployed this week.
    start : date, optional
        First day of the week.
    """

    index: int
    label: str
    demand: NDArray[np.int64]
    capacity: NDArray[np.int64]
    pool: int
    start: date | None = None

    def __post_init__(self) -> None:
        d = np.asarray(self.demand)
        c = np.asarray(self.capacity)
        if d.shape != c.shape or d.ndim != 1:
            raise ValidationError(
                f"{self.label}: demand and capacity must be 1-D of equal length, got "
                f"{d.shape} and {c.shape}"
            )
        for name, arr in (("demand", d), ("capacity", c)):
            if not np.all(np.isfinite(arr)):
                raise ValidationError(f"{self.label}: {name} contains NaN or inf")
            if np.any(arr < 0):
                raise ValidationError(f"{self.label}: {name} must be non-negative")
            if np.any(arr != np.round(arr)):
                raise ValidationError(f"{self.label}: {name} must be whole patients/beds")
        if self.pool < 0:
            raise ValidationError(f"{self.label}: pool must be non-negative, got {self.pool}")
        object.__setattr__(self, "demand", d.astype(np.int64))
        object.__setattr__(self, "capacity", c.astype(np.int64))
        object.__setattr__(self, "pool", int(self.pool))

    @property
    def n_regions(self) -> int:
        return int(self.demand.shape[0])

    @property
    def overloaded(self) -> bool:
        """Whether some region's demand exceeds its base capacity."""
        return bool(np.any(self.demand > self.capacity))

    def features(self) -> NDArray[np.float64]:
        """Normalised context vector for a learner, shape (2 n_regions + 1,).

        Per region the load ratio ``D_i / C_i`` and the demand share ``D_i / Σ D``, then the
        pool relative to total capacity.
        """
        cap = np.maximum(self.capacity, 1).astype(np.float64)
        total = max(float(self.demand.sum()), 1.0)
        return np.concatenate(
            [self.demand / cap, self.demand / total, [self.pool / cap.sum()]]
        ).astype(np.float64)


@dataclass(frozen=True)
class CostBreakdown:
    """The nominal cost terms of a decision."""

    overflow: float
    transfer: float
    deploy: float

    @property
    def total(self) -> float:
        return self.overflow + self.transfer + self.deploy


@dataclass(frozen=True, eq=False)
class Allocation:
    """Per-region outcome of a decision in a context.

    All arrays have shape (n_regions,).
    """

    context: Context
    deployed: NDArray[np.float64]
    transfers: NDArray[np.float64]  # (n_regions, n_regions), [i, j] = patients moved i -> j
    transfers_out: NDArray[np.float64]
    transfers_in: NDArray[np.float64]
    overflow_before: NDArray[np.float64]
    overflow: NDArray[np.float64]
    load_before: NDArray[np.float64]
    load_after: NDArray[np.float64]
    cost: CostBreakdown


def _fmt_ratio(v: float) -> str:
    return "inf" if not np.isfinite(v) else f"{v:.2f}"


def _ratio(num: NDArray[np.float64], den: NDArray[np.float64]) -> NDArray[np.float64]:
    """``num / den`` with ``0/0 = 0`` and ``x/0 = inf`` for ``x > 0``."""
    out = np.zeros_like(num, dtype=np.float64)
    pos = den > 0
    out[pos] = num[pos] / den[pos]
    out[~pos & (num > 0)] = np.inf
    return out


class ICUTwin(Twin):
    """Builds the allocation problem of a context and interprets decisions.

    One implementation of :class:`~fairtwin.twin.base.Twin`: its guarded quantity is the
    overflow (patients without an ICU bed), its price unit one overflow patient
    (``w_overflow``), its weeks are ``overloaded``, ``normal`` or ``near-zero``, its own notions
    of fairness are those of :mod:`fairtwin.twin.icu.notions` and its sampler aims at random
    per-region load targets.

    Parameters
    ----------
    regions : RegionTable
    config : TwinConfig, optional
    """

    name = "icu"
    price_unit_name = "overflow patients"
    guard_name = "patients without an ICU bed"
    default_oracle = "rosenbrock"

    def __init__(self, regions: RegionTable, config: TwinConfig | None = None) -> None:
        self.regions = regions
        self.config = config or TwinConfig()
        R = regions.n_regions
        self._src, self._dst = np.nonzero(~np.eye(R, dtype=bool))
        self._distance = regions.distance_km
        self.pair_km = self._distance[self._src, self._dst]

    # ------------------------------------------------------------------ sizes and layout
    @property
    def n_regions(self) -> int:
        return self.regions.n_regions

    @property
    def n_pairs(self) -> int:
        return int(self._src.size)

    @property
    def n_decision(self) -> int:
        """Length of the decision vector ``u`` = n_regions + n_regions (n_regions − 1)."""
        return self.n_regions + self.n_pairs

    @property
    def decision_names(self) -> tuple[str, ...]:
        names = self.regions.names
        return tuple([f"beds {n}" for n in names]
                     + [f"transfer {names[i]} -> {names[j]}" for i, j in zip(self._src, self._dst,
                                                                             strict=True)])

    @property
    def _residents(self) -> NDArray[np.float64]:
        """The regions' residents (at least 1): what the per-resident outcomes count by."""
        return np.maximum(self.regions.population, 1).astype(np.float64)

    @property
    def price_unit(self) -> float:
        return float(self.config.overflow_weight)

    @property
    def pairs(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Source and destination region of each transfer variable, each of shape (n_pairs,)."""
        return self._src, self._dst

    def layout(self) -> Layout:
        R, P = self.n_regions, self.n_pairs
        return Layout(
            variables={
                "deploy": slice(0, R),
                "transfer": slice(R, R + P),
                "overflow": slice(R + P, 2 * R + P),
            },
            constraints={
                "pool": slice(0, 1),
                "capacity": slice(1, 1 + R),
                "transfer_share": slice(1 + R, 1 + 2 * R),
            },
        )

    def pool_size(self, capacity: ArrayLike) -> int:
        """Default pool ``B = round(pool_share × Σ C)``."""
        return int(round(self.config.pool_share * float(np.sum(capacity))))

    def transferable(self, context: Context) -> NDArray[np.float64]:
        """``⌊τ D_i⌋``, patients each region may send away, shape (n_regions,)."""
        return np.floor(self.config.transfer_share * context.demand + 1e-9)

    # ------------------------------------------------------------------ the problem
    def nominal_costs(self) -> NDArray[np.float64]:
        """Linear cost vector over all variables (deploy, transfer, overflow)."""
        cfg = self.config
        return np.concatenate(
            [
                np.full(self.n_regions, cfg.deploy_weight),
                cfg.transfer_weight_per_km * self.pair_km,
                np.full(self.n_regions, cfg.overflow_weight),
            ]
        )

    def _check_context(self, context: Context) -> None:
        if context.n_regions != self.n_regions:
            raise ValidationError(
                f"{context.label} has {context.n_regions} regions but the twin has "
                f"{self.n_regions}"
            )

    def build(self, context: Context) -> Problem:
        """The nominal MILP of a context in solver-neutral form."""
        self._check_context(context)
        R, P = self.n_regions, self.n_pairs
        n = 2 * R + P
        src, dst = self._src, self._dst
        pair_cols = R + np.arange(P)
        s_cols = R + P + np.arange(R)

        rows: list[NDArray[np.int64]] = []
        cols: list[NDArray[np.int64]] = []
        vals: list[NDArray[np.float64]] = []
        # pool (row 0)
        rows.append(np.zeros(R, dtype=np.int64))
        cols.append(np.arange(R))
        vals.append(np.ones(R))
        # capacity (rows 1..R): -y_i - out_i + in_i - s_i <= C_i - D_i
        cap = 1 + np.arange(R)
        rows += [cap, cap[src], cap[dst], cap]
        cols += [np.arange(R), pair_cols, pair_cols, s_cols]
        vals += [-np.ones(R), -np.ones(P), np.ones(P), -np.ones(R)]
        # transfer share (rows R+1..2R): out_i <= floor(tau D_i)
        share = 1 + R + np.arange(R)
        rows.append(share[src])
        cols.append(pair_cols)
        vals.append(np.ones(P))
        A = sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(1 + 2 * R, n),
        )
        movable = self.transferable(context)
        row_upper = np.concatenate(
            [[context.pool], context.capacity - context.demand, movable]
        ).astype(np.float64)
        row_lower = np.full(1 + 2 * R, -np.inf)
        s_max = np.inf if self.config.max_overflow is None else self.config.max_overflow
        lower = np.zeros(n)
        upper = np.concatenate([np.full(R, float(context.pool)), movable[src], np.full(R, s_max)])
        integrality = np.r_[np.ones(R + P, dtype=bool), np.zeros(R, dtype=bool)]
        return Problem(
            name=context.label,
            c=self.nominal_costs(),
            A=A,
            row_lower=row_lower,
            row_upper=row_upper,
            lower=lower,
            upper=upper,
            integrality=integrality,
            layout=self.layout(),
            decision_index=np.arange(R + P),
        )

    # ------------------------------------------------------------------ decisions
    def _decision(self, u: ArrayLike) -> NDArray[np.float64]:
        return self.decision(u)

    def split(self, u: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Deployed beds, shape (n_regions,), and the transfer matrix, shape (R, R)."""
        u = self._decision(u)
        R = self.n_regions
        T = np.zeros((R, R))
        T[self._src, self._dst] = u[R:]
        return u[:R].copy(), T

    def join(self, deployed: ArrayLike, transfers: ArrayLike) -> NDArray[np.float64]:
        """Inverse of :meth:`split`."""
        T = np.asarray(transfers, dtype=np.float64)
        return np.concatenate([np.asarray(deployed, dtype=np.float64), T[self._src, self._dst]])

    def flows(self, u: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Patients sent out and received per region, each of shape (n_regions,)."""
        u = self._decision(u)
        R = self.n_regions
        x = u[R:]
        out = np.bincount(self._src, weights=x, minlength=R).astype(np.float64, copy=False)
        inn = np.bincount(self._dst, weights=x, minlength=R).astype(np.float64, copy=False)
        return out, inn

    def load_ratios(self, u: ArrayLike, context: Context) -> NDArray[np.float64]:
        """Post-decision load ratios ``ρ_i = (D_i − out_i + in_i) / (C_i + y_i)``."""
        u = self._decision(u)
        out, inn = self.flows(u)
        return _ratio(context.demand - out + inn, context.capacity + u[: self.n_regions])

    def overflow(self, u: ArrayLike, context: Context) -> NDArray[np.float64]:
        """Minimal overflow ``s_i = max(0, D_i − out_i + in_i − C_i − y_i)`` of a decision."""
        u = self._decision(u)
        out, inn = self.flows(u)
        return np.maximum(
            0.0, context.demand - out + inn - context.capacity - u[: self.n_regions]
        )

    def complete(self, u: ArrayLike, context: Context) -> NDArray[np.float64]:
        """Full variable vector (decision plus minimal overflow), shape (n_vars,)."""
        u = self._decision(u)
        return np.concatenate([u, self.overflow(u, context)])

    def check(self, u: ArrayLike, context: Context, tol: float = 1e-6) -> FeasibilityReport:
        """Check a decision (shape (n_decision,)) for feasibility in a context.

        The overflow is completed at its minimum; the report names each violated group.
        """
        self._check_context(context)
        return self.build(context).check(self.complete(u, context), tol=tol)

    def cost_terms(self, u: ArrayLike, context: Context) -> CostBreakdown:
        """Nominal cost terms with the overflow recomputed from ``u``."""
        u = self._decision(u)
        cfg = self.config
        R = self.n_regions
        return CostBreakdown(
            overflow=cfg.overflow_weight * float(self.overflow(u, context).sum()),
            transfer=cfg.transfer_weight_per_km * float(self.pair_km @ u[R:]),
            deploy=cfg.deploy_weight * float(u[:R].sum()),
        )

    def nominal_cost(self, u: ArrayLike, context: Context) -> float:
        """``J(u)``: the nominal cost with the overflow recomputed from ``u``."""
        return self.cost_terms(u, context).total

    def outcomes(self, context: Context) -> Outcomes:
        """The named outcomes of a context's decisions (affine in ``u``), by group:

        - ``load_gap`` (one per region): patients per base ICU bed above the national average
          after the decision, ``(L_i − ρ̄₀ K_i) / C_i`` minus its capacity-weighted mean, with
          ``L_i`` the patients present, ``K_i = C_i + y_i`` the beds and ``ρ̄₀ = ΣD / (ΣC + B)``;
          zero for every region when the loads are even;
        - ``beds_added`` (one per region): extra beds deployed per base bed, ``y_i / C_i``;
        - ``sent_away`` (one per region): patients transferred out per base bed;
        - ``travel``: patient-km of all transfers per ICU patient of the week;
        - ``moved``: share of the week's ICU patients transferred;

        and five *extra* groups (:attr:`~fairtwin.twin.Outcomes.extra`: the learner weighs
        them when the answers call for them), quantities of the rating page, the regions' data
        and the twin's own objective that the five leave out:

        - ``received`` (one per region): patients transferred in per base bed;
        - ``patients_per_resident`` (one per region): ICU patients present per resident after
          the decision, relative to the national value (``L_i / P_i / (ΣD / ΣP) − 1``);
        - ``beds_per_resident`` (one per region): ICU beds per resident after the decision,
          relative to the national value with the whole pool deployed; a *compared* group
          weighted by the residents (:meth:`~fairtwin.twin.Outcomes.relative`), so the
          learner sees each region's beds per resident against Italy's after the decision
          (scaled by the value with the whole pool: a constant of the week);
        - ``spend``: the nominal cost of the beds deployed and of the transfers' kilometres,
          per ICU patient of the week (the overflow term left out: the re-solve's guard holds
          it) — for raters who find the cheaper decision the fairer, whom squared spreads of
          beds and transfers mislead (the second blind check's *efficiency-minded* notion);
        - ``load`` (one per region): ``(L_i − ρ̄₀ y_i) / C_i``, the page's load level, each
          region alike (``load_gap`` is its gap to a capacity-weighted mean): for raters who
          judge how full each region is, which no weight on gaps can say.
        """
        self._check_context(context)
        R, P = self.n_regions, self.n_pairs
        n = self.n_decision
        D = context.demand.astype(np.float64)
        C = np.maximum(context.capacity, 1).astype(np.float64)
        patients = max(float(D.sum()), 1.0)
        pair_cols = R + np.arange(P)
        level, level_b, rho0 = self._load_rows(context, D, C)
        load, load_b = self._load_gap_rows(level, rho0, D, C)
        beds = np.zeros((R, n))
        beds[np.arange(R), np.arange(R)] = 1.0 / C
        sent = np.zeros((R, n))
        sent[self._src, pair_cols] = 1.0 / C[self._src]
        travel = np.zeros((1, n))
        travel[0, R:] = self.pair_km / patients
        moved = np.zeros((1, n))
        moved[0, R:] = 1.0 / patients
        received = np.zeros((R, n))
        received[self._dst, pair_cols] = 1.0 / C[self._dst]
        present, present_b, bed_rows, bed_b = self._per_resident_rows(context, D, C, patients)
        spend = self.nominal_costs()[None, :n] / patients  # beds and transfers, not overflow
        return self._named_outcomes(
            np.vstack([load, beds, sent, travel, moved, received, present, bed_rows, spend,
                       level]),
            np.concatenate([load_b, np.zeros(2 * R + 2), np.zeros(R), present_b, bed_b, [0.0],
                            level_b]))

    def _load_rows(self, context: Context, D: NDArray[np.float64], C: NDArray[np.float64]
                   ) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:
        """The ``load`` rows and offsets and ``ρ̄₀ = ΣD / (ΣC + B)``: patients per base bed
        after the decision, each deployed bed taking ``ρ̄₀`` (``D`` demand, ``C`` base beds
        ≥ 1)."""
        R, P = self.n_regions, self.n_pairs
        rho0 = float(D.sum()) / (float(C.sum()) + float(context.pool))
        pair_cols = R + np.arange(P)
        load = np.zeros((R, self.n_decision))
        load[np.arange(R), np.arange(R)] = -rho0
        load[self._src, pair_cols] -= 1.0
        load[self._dst, pair_cols] += 1.0
        return load / C[:, None], D / C, rho0

    @staticmethod
    def _load_gap_rows(level: NDArray[np.float64], rho0: float, D: NDArray[np.float64],
                       C: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The ``load_gap`` rows and offsets: the ``load`` rows minus ``ρ̄₀``, minus their
        capacity-weighted mean."""
        load_b = (D - rho0 * C) / C
        w = C / C.sum()
        return level - w @ level, load_b - w @ load_b

    def _per_resident_rows(
        self, context: Context, D: NDArray[np.float64], C: NDArray[np.float64], patients: float
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """The ``patients_per_resident`` and ``beds_per_resident`` rows and offsets, relative
        to the national values (``patients`` the week's ICU patients, at least 1)."""
        R, P = self.n_regions, self.n_pairs
        n = self.n_decision
        pair_cols = R + np.arange(P)
        pop = self._residents
        per_patient = patients / float(pop.sum())  # national patients per resident
        present = np.zeros((R, n))
        present[self._src, pair_cols] -= 1.0
        present[self._dst, pair_cols] += 1.0
        present /= (pop * per_patient)[:, None]
        present_b = D / (pop * per_patient) - 1.0
        per_bed = (float(C.sum()) + float(context.pool)) / float(pop.sum())
        bed_rows = np.zeros((R, n))
        bed_rows[np.arange(R), np.arange(R)] = 1.0 / (pop * per_bed)
        bed_b = C / (pop * per_bed) - 1.0
        return present, present_b, bed_rows, bed_b

    def _named_outcomes(self, matrix: NDArray[np.float64],
                        offset: NDArray[np.float64]) -> Outcomes:
        """The outcomes ``matrix u + offset`` with the names, groups and units of
        :meth:`outcomes`."""
        R = self.n_regions
        names = list(self.regions.names)
        return Outcomes(
            matrix=matrix,
            offset=offset,
            names=tuple(names * 3 + ["all regions", "all regions"] + names * 3 + ["all regions"]
                        + names),
            groups=tuple(["load_gap"] * R + ["beds_added"] * R + ["sent_away"] * R
                         + ["travel", "moved"] + ["received"] * R
                         + ["patients_per_resident"] * R + ["beds_per_resident"] * R + ["spend"]
                         + ["load"] * R),
            units={"load_gap": "patients per base bed above the national average",
                   "beds_added": "extra beds per base bed",
                   "sent_away": "patients sent away per base bed",
                   "travel": "km per ICU patient",
                   "moved": "share of ICU patients",
                   "received": "patients received per base bed",
                   "patients_per_resident": "ICU patients per resident, relative to Italy's",
                   "beds_per_resident": "ICU beds per resident, relative to Italy's",
                   "spend": "nominal cost of beds and transfers per ICU patient",
                   "load": "ICU patients per base bed after the decision"},
            extra=("received", "patients_per_resident", "beds_per_resident", "spend", "load"),
            # the beds per resident the notion compares are the regions' against Italy's *after*
            # the decision: the residents' mean, not the value with the whole pool deployed
            compared=("beds_per_resident",),
            weights={"beds_per_resident": self._residents},
        )

    def allocation(self, u: ArrayLike, context: Context) -> Allocation:
        """Per-region outcome of a decision."""
        u = self._decision(u)
        y, T = self.split(u)
        out, inn = self.flows(u)
        D = context.demand.astype(np.float64)
        C = context.capacity.astype(np.float64)
        return Allocation(
            context=context,
            deployed=y,
            transfers=T,
            transfers_out=out,
            transfers_in=inn,
            overflow_before=np.maximum(0.0, D - C),
            overflow=self.overflow(u, context),
            load_before=_ratio(D, C),
            load_after=self.load_ratios(u, context),
            cost=self.cost_terms(u, context),
        )

    def report(self, u: ArrayLike, context: Context) -> DecisionReport:
        """The decision per region (demand, capacity, beds added, transfers, overflow and load
        before and after), its transfers and its nominal cost terms."""
        u = self._decision(u)
        alloc = self.allocation(u, context)
        regions = self.regions
        rows: list[dict[str, Any]] = [{"region": regions.names[i], "code": int(regions.codes[i]),
                 "demand": int(context.demand[i]), "capacity": int(context.capacity[i]),
                 "deployed": int(round(alloc.deployed[i])),
                 "transfers_out": int(round(alloc.transfers_out[i])),
                 "transfers_in": int(round(alloc.transfers_in[i])),
                 "overflow_before": float(alloc.overflow_before[i]),
                 "overflow_after": float(alloc.overflow[i]),
                 "load_before": float(alloc.load_before[i]),
                 "load_after": float(alloc.load_after[i])} for i in range(regions.n_regions)]
        R = self.n_regions
        transfers = [{"from": regions.names[self._src[k]], "to": regions.names[self._dst[k]],
                      "patients": int(round(u[R + k])), "km": round(float(self.pair_km[k]), 1)}
                     for k in np.flatnonzero(u[R:] > 0.5)]
        cost = alloc.cost
        data = {"week": context.index, "label": context.label, "pool": context.pool,
                "cost": {"overflow": cost.overflow, "transfer": cost.transfer,
                         "deploy": cost.deploy, "total": cost.total},
                "regions": rows, "transfers": transfers}
        header = (f"{'region':<22}{'demand':>7}{'cap':>6}{'beds+':>6}{'out':>5}{'in':>5}"
                  f"{'over0':>7}{'over':>6}{'load0':>7}{'load':>6}")
        lines = [f"{context.label}: pool of {context.pool} extra beds", header, "-" * len(header)]
        for r in rows:
            lines.append(
                f"{r['region']:<22}{r['demand']:>7}{r['capacity']:>6}{r['deployed']:>6}"
                f"{r['transfers_out']:>5}{r['transfers_in']:>5}{r['overflow_before']:>7.0f}"
                f"{r['overflow_after']:>6.0f}{_fmt_ratio(r['load_before']):>7}"
                f"{_fmt_ratio(r['load_after']):>6}")
        lines.append("-" * len(header))
        tot = {k: sum(r[k] for r in rows) for k in
               ("demand", "capacity", "deployed", "transfers_out", "transfers_in",
                "overflow_before", "overflow_after")}
        lines.append(
            f"{'total':<22}{tot['demand']:>7}{tot['capacity']:>6}{tot['deployed']:>6}"
            f"{tot['transfers_out']:>5}{tot['transfers_in']:>5}{tot['overflow_before']:>7.0f}"
            f"{tot['overflow_after']:>6.0f}")
        if transfers:
            lines.append("transfers: " + "; ".join(
                f"{t['patients']} {t['from']} -> {t['to']} ({t['km']:.0f} km)" for t in transfers))
        lines.append(f"nominal cost J = {cost.total:.1f}  (overflow {cost.overflow:.1f} + transfer "
                     f"{cost.transfer:.1f} + deployment {cost.deploy:.1f})")
        return DecisionReport(data, tuple(lines))

    # ------------------------------------------------------------------ the twin interface
    def guard_row(self, problem: Problem) -> NDArray[np.float64]:
        """The overflow columns: the guard keeps the patients without a bed at the nominal level."""
        row = np.zeros(problem.n_vars)
        row[problem.layout.variables["overflow"]] = 1.0
        return row

    def guarded(self, u: ArrayLike, context: Context) -> float:
        """Patients without an ICU bed after decision ``u``."""
        return float(self.overflow(u, context).sum())

    @property
    def categories(self) -> tuple[str, ...]:
        return WEEK_CATEGORIES

    def category(self, context: Context, near_zero_share: float = 0.05) -> str:
        """``overloaded`` (a region over base capacity), ``near-zero`` (total demand under
        ``near_zero_share`` of total capacity) or ``normal``."""
        if context.overloaded:
            return "overloaded"
        if context.demand.sum() < near_zero_share * context.capacity.sum():
            return "near-zero"
        return "normal"

    def decision_totals(self, u: ArrayLike) -> dict[str, float]:
        u = self._decision(u)
        R = self.n_regions
        return {"beds": float(u[:R].sum()), "transfers": float(u[R:].sum())}

    def oracles(self) -> dict[str, Any]:
        from fairtwin.twin.icu.notions import ICU_ORACLES

        return dict(ICU_ORACLES)

    def members_view(self, context: Context, u_a: ArrayLike, u_b: ArrayLike) -> MembersView:
        """Per region the patients, ICU beds, patients without a bed and load before and after
        each decision, the transfers from where to where, each decision's totals and the week's
        situation (the ICU rating page)."""
        a, b = self.allocation(u_a, context), self.allocation(u_b, context)
        demand = context.demand.astype(np.float64)
        capacity = context.capacity.astype(np.float64)

        def floats(v: Any) -> list[float]:
            return [float(x) for x in v]

        def patients(x: Allocation) -> list[float]:
            return floats(demand - x.transfers_out + x.transfers_in)

        def totals(x: Allocation) -> list[Fact]:
            return [Fact("extra beds deployed", float(round(x.deployed.sum())), "beds"),
                    Fact("patients transferred", float(round(x.transfers_out.sum())), "patients"),
                    Fact("patient-km travelled", float(np.sum(x.transfers * self._distance)), "km"),
                    Fact("patients without an ICU bed", float(x.overflow.sum()), "patients")]

        def moves(x: Allocation) -> list[Move]:
            return [Move(int(i), int(j), float(x.transfers[i, j]))
                    for i, j in zip(*np.nonzero(x.transfers > 0.5), strict=True)]

        return MembersView(
            member="region", members=list(self.regions.names),
            quantities=[
                Quantity("patients", "patients", floats(demand), patients(a), patients(b)),
                Quantity("ICU beds", "beds", floats(capacity), floats(capacity + a.deployed),
                         floats(capacity + b.deployed)),
                Quantity("without an ICU bed", "patients", floats(a.overflow_before),
                         floats(a.overflow), floats(b.overflow)),
                Quantity("load", "patients per bed", floats(a.load_before), floats(a.load_after),
                         floats(b.load_after), reference=1.0, chart=True, digits=2),
            ],
            situation=[Fact("patients need an ICU bed", float(demand.sum()), "patients"),
                       Fact("ICU beds", float(capacity.sum()), "beds"),
                       Fact("patients without an ICU bed before any decision",
                            float(a.overflow_before.sum()), "patients"),
                       Fact("extra beds in the national pool", float(context.pool), "beds")],
            totals_a=totals(a), totals_b=totals(b), moves_a=moves(a), moves_b=moves(b),
            move_unit="patients")

    def plot_decisions(self, oracle: Any, context: Context,
                       decisions: Mapping[str, NDArray[np.float64]], out_dir: Any) -> Path | None:
        """Regional load ratios (``loads_week<k>.png``) for a notion over the loads."""
        from fairtwin.twin.icu.notions import LoadOracle
        from fairtwin.twin.icu.plots import plot_loads

        if not isinstance(oracle, LoadOracle):
            return None
        return plot_loads(oracle, context, dict(decisions), Path(out_dir) / f"loads_week{context.index}.png")

    def settings(self) -> dict[str, Any]:
        """The ``[twin]`` table of a run: this twin's :class:`TwinConfig`."""
        return self.config.to_dict()

    def folder_hooks(self, out: Path, contexts: Sequence[Context],
                     ids: Sequence[str]) -> dict[str, Any]:
        """Writes the regions and weeks (``icu/``) the folder needs to read back as this twin:
        :func:`fairtwin.twin.icu.folder.attach` restores the sampler, notions and moves."""
        from fairtwin.twin.icu.folder import write_files

        return write_files(self, Path(out), contexts, ids)

    def lure_scale(self, problem: Problem, weight: float = 20.0) -> float:
        """Half the sampler's deviation weight (cost units per patient)."""
        return weight * 0.5

    def targeted_problem(self, context: Context, problem: Problem, nominal: NDArray[np.float64],
                         rng: np.random.Generator, weight: float) -> Problem:
        """The L1 MILP aiming each region's load ratio at a random target
        ``ρ*_i = ρ_i + α_i (ρ̄ − ρ_i)`` between today's and the national average."""
        R = self.n_regions
        rho = context.demand / np.maximum(context.capacity, 1)
        rho_bar = context.demand.sum() / max(context.capacity.sum() + context.pool, 1)
        alpha = rng.uniform(0.0, 1.0, size=R) ** rng.uniform(0.3, 1.5)
        targets = rho + alpha * (rho_bar - rho)
        return self.load_target_problem(context, problem, targets, weight)

    def load_target_problem(self, context: Context, problem: Problem, targets: NDArray[np.float64],
                            weight: float, cost_share: float = 0.01) -> Problem:
        """The L1 MILP aiming each region's post-decision load ratio at ``targets``.

        Adds ``n_regions`` deviation columns ``dev_i ≥ |D_i + in_i − out_i − ρ*_i (C_i + y_i)|``
        and ``2 n_regions`` rows (group ``target``); the objective is
        ``weight Σ dev + cost_share · J``.
        """
        R, P = self.n_regions, self.n_pairs
        n = problem.n_vars
        cols = R + np.arange(P)
        flow = sp.csr_matrix(
            (np.r_[-np.ones(P), np.ones(P)], (np.r_[self._src, self._dst], np.r_[cols, cols])),
            shape=(R, n))
        y_part = sp.csr_matrix((-targets, (np.arange(R), np.arange(R))), shape=(R, n))
        gap = flow + y_part  # load_i - D_i - rho*_i y_i
        rhs = targets * context.capacity - context.demand
        return deviation_problem(problem, gap, rhs, weight, cost_share)

    def moves(self, u: NDArray[np.float64], context: Context) -> tuple[NDArray[np.float64], bool]:
        """All single-step neighbours of ``u`` that stay feasible (known feasible: ``True``):
        one bed more or less in a region (within the pool), one bed moved between regions, one
        patient more or less on a transfer pair (within the transferable share)."""
        steps, checked = self.move_steps(u, context)
        return u[None, :] + steps.toarray(), checked

    def move_steps(self, u: NDArray[np.float64], context: Context) -> tuple[sp.csr_matrix, bool]:
        """:meth:`moves` as sparse steps (at most two non-zeros per row)."""
        R = self.n_regions
        src = self._src
        y = u[:R]
        x = u[R:]
        out = np.bincount(src, weights=x, minlength=R)
        rows: list[NDArray[np.int64]] = []  # per block of moves: row, column and sign of
        cols: list[NDArray[np.int64]] = []  # each non-zero (a bed moved between regions has
        vals: list[NDArray[np.float64]] = []  # two non-zeros in the same row)
        n = 0

        def add(*entries: tuple[NDArray[np.int64], float]) -> None:
            nonlocal n
            size = entries[0][0].size
            for columns, sign in entries:
                rows.append(n + np.arange(size))
                cols.append(columns)
                vals.append(np.full(size, sign))
            n += size

        regions = np.arange(R)
        if context.pool - y.sum() >= 1:
            add((regions, 1.0))
        give = np.flatnonzero(y >= 1)
        add((give, -1.0))
        if give.size:
            gi, gj = np.meshgrid(give, regions, indexing="ij")
            mask = gi != gj
            add((gi[mask], -1.0), (gj[mask], 1.0))
        can_add = out[src] + 1 <= self.transferable(context)[src]
        add((R + np.flatnonzero(can_add), 1.0))
        add((R + np.flatnonzero(x >= 1), -1.0))
        steps = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                              shape=(n, self.n_decision))
        return steps, True


WEEK_CATEGORIES = ("overloaded", "normal", "near-zero")

