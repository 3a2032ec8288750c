"""Scenarios: a twin plus a sequence of weekly contexts.

Built in:

- ``italy-synthetic`` (default, offline): 104 weeks (two 52-week blocks, for in-sample and
  held-out evaluation) of per-region epidemic waves generated from a seed and scaled so that
  some weeks overflow the base capacity of some regions and not of others.
- ``italy-dpc``: weekly contexts from the official Civil Protection daily file (see
  :mod:`fairtwin.twin.dpc`).
- ``synthetic-R<N>`` (e.g. ``synthetic-R80``): the same kind of waves over ``N`` made-up regions
  (:func:`~fairtwin.twin.regions.synthetic_regions`), ``N² `` decisions, for scale studies.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from fairtwin.exceptions import DataUnavailableError, UnknownNameError, ValidationError
from fairtwin.twin.base import Twin
from fairtwin.twin.dpc import (
    DPC_FILE_NAME,
    cache_dir,
    fetch_dpc_csv,
    read_dpc_csv,
    weekly_demand,
)
from fairtwin.twin.icu import Context, ICUTwin, TwinConfig
from fairtwin.twin.regions import RegionTable, italian_regions, synthetic_regions

__all__ = [
    "Scenario",
    "SCENARIOS",
    "DEFAULT_SCENARIO",
    "get_scenario",
    "italy_synthetic",
    "italy_dpc",
    "synthetic",
    "as_generator",
]

log = logging.getLogger(__name__)

DEFAULT_SCENARIO = "italy-synthetic"


def as_generator(random_state: int | np.random.Generator | None) -> np.random.Generator:
    """Turn a seed, a generator or ``None`` into a :class:`numpy.random.Generator`."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or isinstance(random_state, (int, np.integer)):
        return np.random.default_rng(random_state)
    raise ValidationError(
        f"random_state must be an int, a numpy Generator or None, got {type(random_state).__name__}"
    )


@dataclass(frozen=True, eq=False)
class Scenario:
    """A twin and its weekly contexts.

    Attributes
    ----------
    name : str
    description : str
    twin : Twin
        The built-in scenarios' :class:`ICUTwin`, or any modeller's twin.
    contexts : tuple
        The twin's contexts (:class:`Context` for the ICU twin).
    numbers : tuple of int, optional
        The number a user names each context by (``--week``), when it is not its position:
        a twin folder's row in ``contexts.csv`` once infeasible contexts are dropped, so that
        the numbers stay those of the files. ``None``: the position.
    """

    name: str
    description: str
    twin: Twin
    contexts: tuple[Any, ...]
    numbers: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.numbers is not None and len(self.numbers) != len(self.contexts):
            raise ValidationError(f"scenario {self.name!r}: {len(self.numbers)} numbers for "
                                  f"{len(self.contexts)} contexts")

    @property
    def n_weeks(self) -> int:
        return len(self.contexts)

    def context(self, week: int) -> Context:
        """The context numbered ``week`` (its position, 0-based, or its entry of
        :attr:`numbers`); an error lists the allowed values."""
        if isinstance(week, bool) or not isinstance(week, (int, np.integer)):
            raise ValidationError(f"week must be an integer, got {week!r}")
        if self.numbers is None:
            if not 0 <= week < self.n_weeks:
                raise UnknownNameError(
                    f"week of scenario {self.name!r}", week, [f"0..{self.n_weeks - 1}"]
                )
            return self.contexts[int(week)]
        if int(week) not in self.numbers:
            exc = UnknownNameError(f"context of scenario {self.name!r}", int(week),
                                   _spans(self.numbers))
            exc.args = (f"{exc} (contexts keep the number of their row in the twin's files; a "
                        f"dropped one has none)",)
            raise exc
        return self.contexts[self.numbers.index(int(week))]

    def number(self, context: Context) -> int:
        """The number a user names ``context`` by (the inverse of :meth:`context`)."""
        k = int(context.index)
        return k if self.numbers is None else self.numbers[k]


    def split(self, n_train: int = 52) -> tuple[tuple[Context, ...], tuple[Context, ...]]:
        """The first ``n_train`` weeks (in-sample) and the next ``n_train`` (held out)."""
        return self.contexts[:n_train], self.contexts[n_train : 2 * n_train]


def _spans(numbers: tuple[int, ...]) -> list[str]:
    """``(0, 1, 3, 4, 5)`` → ``["0..1", "3..5"]``."""
    out: list[str] = []
    start = prev = numbers[0]
    for n in (*numbers[1:], None):
        if n is not None and n == prev + 1:
            prev = n
            continue
        out.append(f"{start}..{prev}" if prev > start else str(start))
        if n is not None:
            start = prev = n
    return out


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


SCENARIOS: dict[str, tuple[str, Callable[..., Scenario]]] = {
    "italy-synthetic": (
        "104 weeks of synthetic epidemic waves over the 21 Italian regions (offline, seeded)",
        italy_synthetic,
    ),
    "italy-dpc": (
        "weekly ICU demand of the 21 Italian regions from the Civil Protection daily file "
        "(downloaded into the cache, or --data PATH)",
        italy_dpc,
    ),
    "synthetic-R<N>": (
        "104 weeks of synthetic waves over N made-up regions (N² decisions; e.g. synthetic-R80; "
        "offline, seeded; for scale studies)",
        synthetic,
    ),
}

_SYNTHETIC = re.compile(r"synthetic-R(\d+)")


def is_builtin(name: str) -> bool:
    """Whether ``name`` is a built-in scenario (:data:`SCENARIOS`, ``synthetic-R<N>`` sized),
    i.e. one of the ICU twin's, which the ``[twin]`` settings configure."""
    return bool(_SYNTHETIC.fullmatch(name)) or (name in SCENARIOS and "<" not in name)


def get_scenario(
    name: str = DEFAULT_SCENARIO,
    *,
    seed: int = 0,
    data_path: str | Path | None = None,
    config: TwinConfig | None = None,
    download: bool = True,
) -> Scenario:
    """Build a scenario by name.

    Parameters
    ----------
    name : {"italy-synthetic", "italy-dpc", "synthetic-R<N>"} or a registered name
        A name an installed package registers (:func:`fairtwin.plugins.registered_scenarios`)
        gives that package's scenario (built with ``seed``).
    seed : int
        Seed of the synthetic waves (and regions of ``synthetic-R<N>``).
    data_path : path, optional
        Local Civil Protection file (``italy-dpc`` only).
    config : TwinConfig, optional
    download : bool
        Whether ``italy-dpc`` may download the file when it is not cached.
    """
    sized = _SYNTHETIC.fullmatch(name) if isinstance(name, str) else None
    if sized:
        return synthetic(int(sized.group(1)), seed=seed, config=config)
    if name not in SCENARIOS or name == "synthetic-R<N>":
        from fairtwin.plugins import load_registered_scenario, registered_scenarios

        registered = registered_scenarios()
        if name in registered:
            return load_registered_scenario(name, seed=seed)  # type: ignore[no-any-return]
        raise UnknownNameError("scenario", name, [*SCENARIOS, *registered])
    if name == "italy-synthetic":
        return italy_synthetic(seed=seed, config=config)
    return italy_dpc(data_path=data_path, config=config, download=download)
