"""Simulated raters: latent fairness costs, noisy pairwise labels, and the oracle bound."""

from fairtwin.oracles.base import FairnessOracle
from fairtwin.oracles.bound import oracle_bound
from fairtwin.oracles.fairness import (
    GENERIC_ORACLES,
    CallableOracle,
    OutcomeGroupOracle,
    available_oracles,
    get_oracle,
)
from fairtwin.oracles.raters import RATERS, LogisticRater, Rater, SimulatedRater, get_rater

__all__ = [
    "CallableOracle",
    "FairnessOracle",
    "GENERIC_ORACLES",
    "LogisticRater",
    "OutcomeGroupOracle",
    "RATERS",
    "Rater",
    "SimulatedRater",
    "available_oracles",
    "get_oracle",
    "get_rater",
    "oracle_bound",
]
