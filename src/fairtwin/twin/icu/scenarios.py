"""The ICU twin's scenarios: weekly contexts of epidemic waves over regions.

- ``italy-synthetic`` (the default scenario, offline): 104 weeks (two 52-week blocks, for
  in-sample and held-out evaluation) of per-region epidemic waves generated from a seed and
  scaled so that some weeks overflow the base capacity of some regions and not of others.
- ``italy-dpc``: weekly contexts from the official Civil Protection daily file (see
  :mod:`fairtwin.twin.icu.dpc`).
- ``synthetic-R<N>`` (e.g. ``synthetic-R80``): the same kind of waves over ``N`` made-up regions
  (:func:`~fairtwin.twin.icu.regions.synthetic_regions`), ``N²`` decisions, for scale studies.

They are registered by name in :data:`fairtwin.twin.scenarios.SCENARIOS` as
``fairtwin.twin.icu.scenarios:builtin``, like any package's scenario: the generic code imports
nothing of this package until one is named.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from fairtwin.exceptions import DataUnavailableError, UnknownNameError, ValidationError
from fairtwin.twin.icu.dpc import (
    DPC_FILE_NAME,
    cache_dir,
    fetch_dpc_csv,
    read_dpc_csv,
    weekly_demand,
)
from fairtwin.twin.icu.model import Context, ICUTwin, TwinConfig
from fairtwin.twin.icu.notions import ICU_ORACLES
from fairtwin.twin.icu.regions import RegionTable, italian_regions, synthetic_regions
from fairtwin.twin.scenarios import Scenario

__all__ = ["italy_synthetic", "italy_dpc", "synthetic", "builtin", "settings", "notions"]

_SYNTHETIC = re.compile(r"synthetic-R(\d+)")


def notions() -> list[str]:
    """The ICU twin's notions of fairness by name (:func:`fairtwin.twin.scenarios.builtin_notions`)."""
    return list(ICU_ORACLES)


def settings(table: Mapping[str, Any], source: str = "config") -> dict[str, Any]:
    """Every setting of the ICU twin for a ``[twin]`` table (checked, defaults filled in; what
    :func:`fairtwin.twin.scenarios.twin_settings` returns for an ICU scenario)."""
    return asdict(TwinConfig.from_dict(dict(table), source))


def builtin(name: str, *, seed: int = 0, data_path: str | Path | None = None,
            config: TwinConfig | Mapping[str, Any] | None = None, download: bool = True,
            source: str = "config") -> Scenario:
    """The ICU scenario ``name`` (what :func:`fairtwin.twin.scenarios.get_scenario` calls for a
    built-in name); ``config`` is a :class:`TwinConfig` or the ``[twin]`` table of a
    configuration (checked here, errors naming ``source``)."""
    settings = TwinConfig.coerce(config, source)
    sized = _SYNTHETIC.fullmatch(name)
    if sized:
        return synthetic(int(sized.group(1)), seed=seed, config=settings)
    if name == "italy-synthetic":
        return italy_synthetic(seed=seed, config=settings)
    if name == "italy-dpc":
        return italy_dpc(data_path=data_path, config=settings, download=download)
    raise UnknownNameError("ICU scenario", name, ["italy-synthetic", "italy-dpc", "synthetic-R<N>"])


def _gaussian(t: np.ndarray, center: float, width: float) -> np.ndarray:
    return np.exp(-0.5 * ((t - center) / width) ** 2)


def italy_synthetic(
    seed: int = 0,
    n_weeks: int = 104,
    config: TwinConfig | None = None,
    start: date = date(2020, 3, 2),
) -> Scenario:
    """Synthetic epidemic waves over the 21 Italian regions.

    Four national waves (one every ~26 weeks) whose peak, width and height vary with the seed;
    each region follows each wave with its own delay and a log-normal intensity, so that the
    same wave overloads some regions and leaves others with room. Weekly demand is Poisson
    around the expected ICU occupancy. The base capacity is the pre-pandemic ICU bed count; the
    pool is ``pool_share`` of the total.
    """
    contexts, twin = _waves(italian_regions(), seed, n_weeks, config, start)
    return Scenario(
        name="italy-synthetic",
        description=f"synthetic epidemic waves over the 21 Italian regions (seed {seed}, offline)",
        twin=twin,
        contexts=contexts,
    )


def synthetic(
    n_regions: int,
    seed: int = 0,
    n_weeks: int = 104,
    config: TwinConfig | None = None,
    start: date = date(2020, 3, 2),
) -> Scenario:
    """The waves of :func:`italy_synthetic` over ``n_regions`` made-up regions (scale studies).

    Regions (positions, populations, beds) and waves both come from ``seed``; ``n_regions``
    regions give ``n_regions²`` decisions (beds per region, transfers per ordered pair).
    """
    contexts, twin = _waves(synthetic_regions(n_regions, seed), seed, n_weeks, config, start)
    return Scenario(
        name=f"synthetic-R{n_regions}",
        description=f"synthetic epidemic waves over {n_regions} made-up regions (seed {seed})",
        twin=twin,
        contexts=contexts,
    )


def _waves(regions: RegionTable, seed: int, n_weeks: int, config: TwinConfig | None,
           start: date) -> tuple[tuple[Context, ...], ICUTwin]:
    """Weekly contexts of synthetic epidemic waves over ``regions`` (see :func:`italy_synthetic`)."""
    if n_weeks < 1:
        raise ValidationError(f"n_weeks must be positive, got {n_weeks}")
    rng = np.random.default_rng(seed)
    twin = ICUTwin(regions, config)
    R = regions.n_regions
    cap = regions.icu_beds.astype(np.float64)
    t = np.arange(n_weeks, dtype=np.float64)
    n_waves = max(1, int(np.ceil(n_weeks / 26)))
    expected = np.zeros((n_weeks, R))
    for w in range(n_waves):
        center = 26 * w + 8 + rng.uniform(-4, 6)
        width = rng.uniform(2.5, 5.5)
        height = rng.uniform(0.35, 0.8)
        delay = rng.normal(0.0, 1.5, size=R)
        intensity = rng.lognormal(mean=0.0, sigma=0.5, size=R)
        for i in range(R):
            expected[:, i] += cap[i] * height * intensity[i] * _gaussian(t, center + delay[i], width)
    expected += cap * rng.uniform(0.01, 0.04, size=R)
    demand = rng.poisson(expected).astype(np.int64)
    pool = twin.pool_size(cap)
    contexts = tuple(
        Context(
            index=k,
            label=f"week {k} ({start + timedelta(weeks=k)})",
            demand=demand[k],
            capacity=regions.icu_beds.copy(),
            pool=pool,
            start=start + timedelta(weeks=k),
        )
        for k in range(n_weeks)
    )
    return contexts, twin


def italy_dpc(
    data_path: str | Path | None = None,
    config: TwinConfig | None = None,
    start: date = date(2020, 3, 2),
    download: bool = True,
) -> Scenario:
    """Weekly ICU demand from the official Civil Protection file.

    Parameters
    ----------
    data_path : path, optional
        A local copy of ``dpc-covid19-ita-regioni.csv``; when absent, the cached copy, downloaded
        first if needed (``download=True``).
    start : date
        First week kept (its Monday).
    """
    regions = italian_regions()
    twin = ICUTwin(regions, config)
    if data_path is None:
        if not download:
            cached = cache_dir() / DPC_FILE_NAME
            if not cached.exists():
                raise DataUnavailableError(
                    "the Civil Protection file is not cached yet; pass --data PATH or let "
                    "fairtwin download it"
                )
            data_path = cached
        else:
            data_path = fetch_dpc_csv()
    days, occupancy = read_dpc_csv(data_path, regions)
    weeks = weekly_demand(days, occupancy, start=start)
    if not weeks.starts:
        raise ValidationError(f"{data_path}: no complete week on or after {start}")
    pool = twin.pool_size(regions.icu_beds)
    contexts = tuple(
        Context(
            index=k,
            label=f"week {k} ({s})",
            demand=weeks.demand[k],
            capacity=regions.icu_beds.copy(),
            pool=pool,
            start=s,
        )
        for k, s in enumerate(weeks.starts)
    )
    return Scenario(
        name="italy-dpc",
        description="weekly ICU occupancy from the Civil Protection daily regional file",
        twin=twin,
        contexts=contexts,
    )
