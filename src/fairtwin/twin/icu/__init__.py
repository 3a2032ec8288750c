"""The built-in COVID-19 intensive-care twin, a :class:`~fairtwin.twin.base.Twin` like any user's.

- :mod:`~fairtwin.twin.icu.model`: :class:`ICUTwin`, its settings :class:`TwinConfig` (the
  ``[twin]`` table of a configuration) and its weekly :class:`Context`;
- :mod:`~fairtwin.twin.icu.notions`: its notions of fairness over regional loads;
- :mod:`~fairtwin.twin.icu.scenarios`: ``italy-synthetic``, ``italy-dpc``, ``synthetic-R<N>``
  (registered by name in :data:`fairtwin.twin.scenarios.SCENARIOS`);
- :mod:`~fairtwin.twin.icu.regions`, :mod:`~fairtwin.twin.icu.dpc`: regions and the Civil
  Protection file; :mod:`~fairtwin.twin.icu.folder`: the hook of an exported ICU folder;
  :mod:`~fairtwin.twin.icu.plots`: its figure.

It imports only the generic twin interface; no generic module imports it (``tests/test_layering``).
"""

from fairtwin.twin.icu.model import (
    WEEK_CATEGORIES,
    Allocation,
    Context,
    CostBreakdown,
    ICUTwin,
    TwinConfig,
)
from fairtwin.twin.icu.notions import (
    ICU_ORACLES,
    GiniOracle,
    LoadOracle,
    MaxMinOracle,
    RosenbrockOracle,
    SquaredDeviationOracle,
    TravelBurdenOracle,
    post_decision_loads,
)
from fairtwin.twin.icu.regions import RegionTable, italian_regions, synthetic_regions
from fairtwin.twin.icu.scenarios import italy_dpc, italy_synthetic, synthetic

__all__ = [
    "Allocation",
    "Context",
    "CostBreakdown",
    "GiniOracle",
    "ICUTwin",
    "ICU_ORACLES",
    "LoadOracle",
    "MaxMinOracle",
    "RegionTable",
    "RosenbrockOracle",
    "SquaredDeviationOracle",
    "TravelBurdenOracle",
    "TwinConfig",
    "WEEK_CATEGORIES",
    "italian_regions",
    "italy_dpc",
    "italy_synthetic",
    "post_decision_loads",
    "synthetic",
    "synthetic_regions",
]
