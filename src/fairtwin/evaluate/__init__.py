"""Evaluation: metrics against the nominal decision and the oracle bound, sampler coverage, plots."""

from fairtwin.evaluate.metrics import (
    Coverage,
    Summary,
    WeekMetrics,
    sample_coverage,
    summarise,
    week_metrics,
)

__all__ = [
    "Coverage",
    "Summary",
    "WeekMetrics",
    "sample_coverage",
    "summarise",
    "week_metrics",
]
