"""Scenarios: a twin plus its sequence of contexts, and the registry of scenarios by name.

A scenario is named by the registry of built-in ones (:data:`SCENARIOS`, whose builders are
``module:function`` names imported only when one is built: the ICU twin's, see
:mod:`fairtwin.twin.icu.scenarios`) or by an installed package (the entry-point group
``fairtwin.scenarios``, :mod:`fairtwin.plugins`). Nothing here imports a twin.
"""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fairtwin.exceptions import UnknownNameError, ValidationError
from fairtwin.twin.base import Twin

__all__ = [
    "Scenario",
    "SCENARIOS",
    "DEFAULT_SCENARIO",
    "get_scenario",
    "is_builtin",
    "builtin_notions",
    "twin_settings",
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
    """A twin and its contexts.

    Attributes
    ----------
    name : str
    description : str
    twin : Twin
        Any twin (the built-in scenarios' is the ICU twin, :mod:`fairtwin.twin.icu`).
    contexts : tuple
        The twin's contexts (:class:`~fairtwin.twin.base.ContextLike`).
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

    def context(self, week: int) -> Any:
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

    def number(self, context: Any) -> int:
        """The number a user names ``context`` by (the inverse of :meth:`context`)."""
        k = int(context.index)
        return k if self.numbers is None else self.numbers[k]


    def split(self, n_train: int = 52) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
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


#: The built-in scenarios: name → (description, builder as ``module:function``). A builder is
#: called as ``builder(name, seed=, data_path=, config=, download=, source=)`` (``config``: the
#: ``[twin]`` table of the configuration, which the twin interprets) and returns a
#: :class:`Scenario`; its module's ``settings(table, source)`` checks a ``[twin]`` table
#: (:func:`twin_settings`). Both are imported only when they are used.
SCENARIOS: dict[str, tuple[str, str]] = {
    "italy-synthetic": (
        "104 weeks of synthetic epidemic waves over the 21 Italian regions (offline, seeded)",
        "fairtwin.twin.icu.scenarios:builtin",
    ),
    "italy-dpc": (
        "weekly ICU demand of the 21 Italian regions from the Civil Protection daily file "
        "(downloaded into the cache, or --data PATH)",
        "fairtwin.twin.icu.scenarios:builtin",
    ),
    "synthetic-R<N>": (
        "104 weeks of synthetic waves over N made-up regions (N² decisions; e.g. synthetic-R80; "
        "offline, seeded; for scale studies)",
        "fairtwin.twin.icu.scenarios:builtin",
    ),
}

#: sized built-in names and the entry of :data:`SCENARIOS` that builds them
_SIZED = ((re.compile(r"synthetic-R(\d+)"), "synthetic-R<N>"),)


def _builtin_entry(name: str) -> str | None:
    """The :data:`SCENARIOS` entry that builds ``name`` (itself, or a sized pattern's), or ``None``."""
    if not isinstance(name, str):
        return None
    if name in SCENARIOS and "<" not in name:
        return name
    return next((entry for pattern, entry in _SIZED if pattern.fullmatch(name)), None)


def is_builtin(name: str) -> bool:
    """Whether ``name`` is a built-in scenario (:data:`SCENARIOS`, ``synthetic-R<N>`` sized),
    whose twin the ``[twin]`` settings configure."""
    return _builtin_entry(name) is not None


def twin_settings(name: str, table: Mapping[str, Any] | None,
                  source: str = "config") -> dict[str, Any]:
    """The ``[twin]`` table of a configuration as the twin of scenario ``name`` reads it: for a
    built-in scenario, every setting of its twin (checked, the defaults filled in; errors name
    ``source``), by the ``settings(table, source)`` function of its builder's module; for
    another, the table as given (its twin interprets it when it is built)."""
    entry = _builtin_entry(name)
    if entry is None:
        return dict(table or {})
    module = importlib.import_module(SCENARIOS[entry][1].partition(":")[0])
    return dict(module.settings(dict(table or {}), source))


def builtin_notions(name: str) -> list[str]:
    """The names of the notions of fairness the twin of built-in scenario ``name`` defines (by
    the ``notions()`` function of its builder's module; ``[]`` for another scenario): what a
    configuration's oracle may name before the scenario's data load."""
    entry = _builtin_entry(name)
    if entry is None:
        return []
    module = importlib.import_module(SCENARIOS[entry][1].partition(":")[0])
    return list(module.notions())


def get_scenario(
    name: str = DEFAULT_SCENARIO,
    *,
    seed: int = 0,
    data_path: str | Path | None = None,
    config: Mapping[str, Any] | Any | None = None,
    download: bool = True,
    source: str = "config",
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
    config : mapping or the twin's settings object, optional
        The ``[twin]`` table of a configuration, which the scenario's twin interprets (for the
        ICU scenarios a mapping of :class:`~fairtwin.twin.icu.TwinConfig`'s settings, or one).
    download : bool
        Whether ``italy-dpc`` may download the file when it is not cached.
    source : str
        Where ``config`` comes from, for errors (a file name).
    """
    entry = _builtin_entry(name)
    if entry is None:
        from fairtwin.plugins import load_registered_scenario, registered_scenarios

        registered = registered_scenarios()
        if name in registered:
            return load_registered_scenario(name, seed=seed)  # type: ignore[no-any-return]
        raise UnknownNameError("scenario", name, [*SCENARIOS, *registered])
    module, _, function = SCENARIOS[entry][1].partition(":")
    builder = getattr(importlib.import_module(module), function)
    scenario = builder(name, seed=seed, data_path=data_path, config=config, download=download,
                       source=source)
    if not isinstance(scenario, Scenario):
        raise ValidationError(f"scenario {name!r}: its builder returned a "
                              f"{type(scenario).__name__}, not a Scenario")
    return scenario
