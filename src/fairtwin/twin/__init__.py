"""The Digital Twin: scenarios, region facts and the solver-neutral ICU allocation problem.

Nothing in this package imports a solver or torch.
"""

from fairtwin.twin.icu import Allocation, Context, CostBreakdown, ICUTwin, TwinConfig
from fairtwin.twin.outcomes import Outcomes
from fairtwin.twin.problem import FeasibilityReport, Layout, Problem, ProblemKind, Violation
from fairtwin.twin.regions import RegionTable, italian_regions
from fairtwin.twin.scenarios import DEFAULT_SCENARIO, SCENARIOS, Scenario, get_scenario

__all__ = [
    "Allocation",
    "Context",
    "CostBreakdown",
    "DEFAULT_SCENARIO",
    "FeasibilityReport",
    "ICUTwin",
    "Layout",
    "Outcomes",
    "Problem",
    "ProblemKind",
    "RegionTable",
    "SCENARIOS",
    "Scenario",
    "TwinConfig",
    "Violation",
    "get_scenario",
    "italian_regions",
]
