"""Evaluation: metrics against the nominal decision and the oracle bound, plots."""

from fairtwin.evaluate.metrics import (
    CATEGORIES,
    Summary,
    WeekMetrics,
    summarise,
    week_category,
    week_metrics,
)

__all__ = ["CATEGORIES", "Summary", "WeekMetrics", "summarise", "week_category", "week_metrics"]
