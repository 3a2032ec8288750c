"""Learning the cost from preferences: the only package that imports torch."""

from fairtwin.learn.aggregate import (
    Agreement,
    RaterReliability,
    ReliabilityWeightedLearner,
    rater_agreement,
)
from fairtwin.learn.estimator import LOSSES, EpochRecord, PreferenceCostLearner, load_learner
from fairtwin.learn.model import STRUCTURES, SiameseCostNet
from fairtwin.learn.outcome import OutcomeCostLearner
from fairtwin.learn.threads import torch_threads

__all__ = ["LOSSES", "STRUCTURES", "EpochRecord", "PreferenceCostLearner", "SiameseCostNet",
           "torch_threads", "ReliabilityWeightedLearner", "RaterReliability", "rater_agreement",
           "Agreement", "OutcomeCostLearner", "load_learner"]
