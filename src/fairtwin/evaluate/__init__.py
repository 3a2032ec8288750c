"""Evaluation: metrics against the nominal decision and the oracle bound, sampler coverage, plots."""

from fairtwin.evaluate.metrics import (
    CATEGORIES,
    Coverage,
    Summary,
    WeekMetrics,
    sample_coverage,
    summarise,
    week_category,
    week_metrics,
)

__all__ = [
    "CATEGORIES",
    "Coverage",
    "Summary",
    "WeekMetrics",
    "sample_coverage",
    "summarise",
    "week_category",
    "week_metrics",
]
