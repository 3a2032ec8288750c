"""The Digital Twin: the twin interface, the folder/linopy twin and the scenario registry.

:class:`Twin` is the extension point (see :mod:`fairtwin.twin.base`); :class:`GenericTwin` is
any MILP family read from a folder or built from linopy models. The built-in COVID-19
intensive-care twin is the package :mod:`fairtwin.twin.icu`, which implements the interface like
any user's twin; its names (:class:`ICUTwin`, :class:`TwinConfig`, ...) are also importable from
here, loaded when first used, so that nothing generic imports it. Nothing in this package
imports a solver or torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from fairtwin.twin.base import ContextLike, FairnessOracle, Twin, TwinContext
from fairtwin.twin.generic import GenericTwin, OutcomeDefinition, OutcomeTerm
from fairtwin.twin.outcomes import Outcomes
from fairtwin.twin.problem import FeasibilityReport, Layout, Problem, ProblemKind, Violation
from fairtwin.twin.scenarios import DEFAULT_SCENARIO, SCENARIOS, Scenario, get_scenario

#: names of the ICU twin offered here too (from :mod:`fairtwin.twin.icu`, imported on first use)
_ICU_NAMES = ("Allocation", "Context", "CostBreakdown", "GiniOracle", "ICUTwin", "ICU_ORACLES",
              "LoadOracle", "MaxMinOracle", "RegionTable", "RosenbrockOracle",
              "SquaredDeviationOracle", "TravelBurdenOracle", "TwinConfig", "italian_regions",
              "post_decision_loads")


def __getattr__(name: str) -> Any:
    if name in _ICU_NAMES:
        return getattr(importlib.import_module("fairtwin.twin.icu"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ContextLike",
    "DEFAULT_SCENARIO",
    "FairnessOracle",
    "FeasibilityReport",
    "GenericTwin",
    "Layout",
    "OutcomeDefinition",
    "OutcomeTerm",
    "Outcomes",
    "Problem",
    "ProblemKind",
    "SCENARIOS",
    "Scenario",
    "Twin",
    "TwinContext",
    "Violation",
    "get_scenario",
    *_ICU_NAMES,
]
