"""Model files of either learner: read without torch unless the file holds the paper's model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from fairtwin.datasets import BROKEN_FILE
from fairtwin.exceptions import DataFormatError, ValidationError
from fairtwin.learn.outcome import OUTCOME_MODEL_FORMAT, OutcomeCostLearner

if TYPE_CHECKING:
    from fairtwin.learn.estimator import PreferenceCostLearner

__all__ = ["load_learner", "read_model_file"]


def load_learner(path: str | Path, scenario: str | None = None) -> PreferenceCostLearner | OutcomeCostLearner:
    """Read a model file of either learner; ``scenario`` checks it was trained on it.

    The paper's learner needs torch (``pip install 'fairtwin[paper]'``); the default one does not.
    """
    path = Path(path)
    header, arrays = read_model_file(path)
    if header.get("format") != OUTCOME_MODEL_FORMAT:
        from fairtwin.extras import require

        require("torch", "paper", f"{path} holds the paper's Siamese model, which")
        from fairtwin.learn.estimator import PreferenceCostLearner

        return PreferenceCostLearner.load(path, scenario)
    model = OutcomeCostLearner.from_arrays(path, header, arrays)
    if scenario is not None and model.scenario_ and model.scenario_ != scenario:
        raise ValidationError(f"{path} was trained on scenario {model.scenario_!r}, not {scenario!r}")
    return model


def read_model_file(path: Path) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
    """The JSON header and the arrays of a model file (no pickle)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(str(data["header"]))
            arrays = {k: data[k] for k in data.files if k != "header"}
    except FileNotFoundError:
        raise DataFormatError(path, None, None, "no such file") from None
    except BROKEN_FILE as exc:
        raise DataFormatError(path, None, None, f"not a fairtwin model ({exc})") from None
    if not isinstance(header, dict):
        raise DataFormatError(path, None, "header", "not a fairtwin model file")
    return header, arrays
