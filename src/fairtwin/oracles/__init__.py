"""Simulated raters: latent fairness costs, noisy pairwise labels, and the oracle bound."""

from fairtwin.oracles.base import FairnessOracle, post_decision_loads
from fairtwin.oracles.bound import oracle_bound
from fairtwin.oracles.fairness import (
    ORACLES,
    GiniOracle,
    MaxMinOracle,
    RosenbrockOracle,
    SquaredDeviationOracle,
    TravelBurdenOracle,
    get_oracle,
)
from fairtwin.oracles.raters import RATERS, LogisticRater, Rater, SimulatedRater, get_rater

__all__ = [
    "FairnessOracle",
    "GiniOracle",
    "LogisticRater",
    "MaxMinOracle",
    "ORACLES",
    "RATERS",
    "Rater",
    "RosenbrockOracle",
    "SimulatedRater",
    "SquaredDeviationOracle",
    "TravelBurdenOracle",
    "get_oracle",
    "get_rater",
    "oracle_bound",
    "post_decision_loads",
]
