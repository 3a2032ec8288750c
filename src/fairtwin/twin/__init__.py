"""The Digital Twin: the twin interface, the built-in ICU twin and its scenarios.

:class:`Twin` is the extension point (see :mod:`fairtwin.twin.base`); :class:`ICUTwin` is the
built-in COVID-19 intensive-care twin, :class:`GenericTwin` any MILP family read from a folder
or built from linopy models. Nothing in this package imports a solver or torch.
"""

from fairtwin.twin.base import ContextLike, FairnessOracle, Twin, TwinContext
from fairtwin.twin.generic import GenericTwin, OutcomeDefinition, OutcomeTerm
from fairtwin.twin.icu import Allocation, Context, CostBreakdown, ICUTwin, TwinConfig
from fairtwin.twin.icu_notions import (
    ICU_ORACLES,
    GiniOracle,
    LoadOracle,
    MaxMinOracle,
    RosenbrockOracle,
    SquaredDeviationOracle,
    TravelBurdenOracle,
    post_decision_loads,
)
from fairtwin.twin.outcomes import Outcomes
from fairtwin.twin.problem import FeasibilityReport, Layout, Problem, ProblemKind, Violation
from fairtwin.twin.regions import RegionTable, italian_regions
from fairtwin.twin.scenarios import DEFAULT_SCENARIO, SCENARIOS, Scenario, get_scenario

__all__ = [
    "Allocation",
    "Context",
    "ContextLike",
    "CostBreakdown",
    "DEFAULT_SCENARIO",
    "FairnessOracle",
    "FeasibilityReport",
    "GenericTwin",
    "GiniOracle",
    "ICUTwin",
    "ICU_ORACLES",
    "Layout",
    "LoadOracle",
    "MaxMinOracle",
    "OutcomeDefinition",
    "OutcomeTerm",
    "Outcomes",
    "Problem",
    "ProblemKind",
    "RegionTable",
    "RosenbrockOracle",
    "SCENARIOS",
    "Scenario",
    "SquaredDeviationOracle",
    "TravelBurdenOracle",
    "Twin",
    "TwinConfig",
    "TwinContext",
    "Violation",
    "get_scenario",
    "italian_regions",
    "post_decision_loads",
]
