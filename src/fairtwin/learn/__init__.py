"""Learning the cost from preferences: the only package that imports torch."""

from fairtwin.learn.estimator import LOSSES, EpochRecord, PreferenceCostLearner
from fairtwin.learn.model import SiameseCostNet

__all__ = ["LOSSES", "EpochRecord", "PreferenceCostLearner", "SiameseCostNet"]
