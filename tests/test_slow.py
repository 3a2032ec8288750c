"""Slow experiments (``pytest -m slow``): the default pipeline on the built-in scenario.

Kept out of the default run (about 2.5 minutes on 2 cores); numbers are reported by
``benchmarks/bench_pipeline.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fairtwin.pipeline import ExperimentConfig, run_pipeline


@pytest.mark.slow
def test_default_pipeline_on_italy_synthetic(tmp_path: Path) -> None:
    result = run_pipeline(ExperimentConfig(), tmp_path)
    train = result.metrics["summary"]["train"]
    held = result.metrics["summary"]["held-out"]
    assert result.metrics["n_comparisons"] <= 1344
    # measured 49/52 and 38/52 with seed 0; the margins absorb solver time-limit effects
    assert train["wins"] >= 44
    assert held["wins"] >= 32
    assert train["max_overflow_rise"] <= 0
    for name in ("dataset.npz", "model.npz", "decisions.npz", "metrics.json", "weeks.png"):
        assert (tmp_path / name).exists()
