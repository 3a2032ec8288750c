"""Learning the cost from preferences.

The default learner (:class:`OutcomeCostLearner`) needs numpy and scipy only. The paper's
Siamese learner (:class:`PreferenceCostLearner`, :class:`SiameseCostNet`) and the many-rater
:class:`ReliabilityWeightedLearner`'s fit (built on it) need torch (``pip install 'fairtwin[paper]'``);
they are imported on first use, and a missing torch is one line naming that extra.
"""

from __future__ import annotations

from typing import Any

from fairtwin.learn.aggregate import (
    Agreement,
    RaterReliability,
    ReliabilityWeightedLearner,
    rater_agreement,
)
from fairtwin.learn.io import load_learner
from fairtwin.learn.names import LOSSES, STRUCTURES
from fairtwin.learn.outcome import OutcomeCostLearner
from fairtwin.learn.threads import torch_threads

__all__ = ["LOSSES", "STRUCTURES", "EpochRecord", "PreferenceCostLearner", "SiameseCostNet",
           "torch_threads", "ReliabilityWeightedLearner", "RaterReliability", "rater_agreement",
           "Agreement", "OutcomeCostLearner", "load_learner"]

# names that need torch → their module
_TORCH = {
    "PreferenceCostLearner": "fairtwin.learn.estimator",
    "EpochRecord": "fairtwin.learn.estimator",
    "SiameseCostNet": "fairtwin.learn.model",
}


def __getattr__(name: str) -> Any:
    if name not in _TORCH:
        raise AttributeError(f"module 'fairtwin.learn' has no attribute {name!r}")
    from fairtwin.extras import require

    require("torch", "paper", f"fairtwin.learn.{name}")
    import importlib

    return getattr(importlib.import_module(_TORCH[name]), name)
