"""Every file reader, fuzzed: random bytes, truncations and single-byte edits of valid files.

The only thing allowed to escape a reader is a fairtwin error whose message names the file.
Bounded (a few seconds each) and seeded; ``FAIRTWIN_HYPOTHESIS=explore`` draws fresh examples and
``FAIRTWIN_FUZZ_EXAMPLES`` raises their number.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fairtwin.datasets import PreferenceDataset
from fairtwin.exceptions import FairtwinError
from fairtwin.experiments.runner import ExperimentFolder, ResultRow, RunRecord
from fairtwin.learn import OutcomeCostLearner, load_learner
from fairtwin.pipeline import ExperimentConfig, load_decisions, save_decisions
from fairtwin.twin import Outcomes, italian_regions
from fairtwin.twin.icu.dpc import read_dpc_csv
from tests.conftest import write_dpc_csv

EXAMPLES = int(os.environ.get("FAIRTWIN_FUZZ_EXAMPLES", "30"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def _mutate(original: bytes, data: st.DataObject) -> bytes:
    kind = data.draw(st.sampled_from(["random", "truncate", "edit", "edit"]))
    if kind == "random":
        return data.draw(st.binary(max_size=400))
    if kind == "truncate":
        return original[: data.draw(st.integers(0, len(original)))]
    k = data.draw(st.integers(0, len(original) - 1))
    return original[:k] + bytes([data.draw(st.integers(0, 255))]) + original[k + 1:]


def _only_named_errors(path: Path, read) -> None:  # type: ignore[no-untyped-def]
    try:
        read(path)
    except FairtwinError as exc:
        assert str(path) in str(exc), exc


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    root = tmp_path_factory.mktemp("originals")
    dpc = write_dpc_csv(root / "dpc.csv", n_days=3).read_bytes()
    cfg = root / "exp.toml"
    ExperimentConfig().override(scenario={"n_train": 5}, labels={"oracle": "gini"}).save(cfg)
    rng = np.random.default_rng(0)
    ds = PreferenceDataset(
        decisions=rng.integers(0, 3, size=(12, 4)).astype(float),
        context_ids=np.array([0, 1, 2]), context_features=rng.normal(size=(3, 2)),
        decision_context=np.repeat(np.arange(3), 4),
        comparisons=np.array([[0, 0, 1], [1, 4, 5], [2, 8, 9]]),
        rater=np.zeros(3, dtype=np.int64), round=np.zeros(3, dtype=np.int64), timestamp=np.zeros(3),
    )
    ds_path = ds.save(root / "ds.npz")
    outcomes = Outcomes(np.eye(4), np.zeros(4), ("a", "b", "c", "d"), ("g", "g", "h", "h"))
    model = OutcomeCostLearner().fit(ds, outcomes=[outcomes] * 3)
    model_path = root / "model.npz"
    model.save(model_path)
    decisions = root / "decisions.npz"
    save_decisions(decisions, ds, ds.decisions[:3], np.ones(3), ["optimal"] * 3, 1.5)
    record = RunRecord("k1", "pca", 0, (ResultRow({"r": 2}, 0, "learned", {"wins_train": 3}),),
                       ((0, "train", 0.1),), {"seed": 0})
    exp = root / "exp"
    folder = ExperimentFolder(exp, "pca", [], {})
    folder.save(record)
    return {"dpc": dpc, "toml": cfg.read_bytes(), "dataset": Path(ds_path).read_bytes(),
            "model": model_path.read_bytes(), "decisions": decisions.read_bytes(),
            "record": (exp / "runs" / "k1.json").read_bytes(),
            "manifest": (exp / "experiment.json").read_bytes()}


def _open_experiment(path: Path) -> None:
    folder = path.parent / "exp"
    folder.mkdir(exist_ok=True)
    (folder / "experiment.json").write_bytes(path.read_bytes())
    try:
        ExperimentFolder(folder, "pca", [], {})
    except FairtwinError as exc:  # names the damaged manifest, or the folder (another study)
        assert str(folder) in str(exc), exc


READERS = {
    "dpc": ("dpc.csv", lambda p: read_dpc_csv(p, italian_regions())),
    "toml": ("exp.toml", ExperimentConfig.load),
    "dataset": ("ds.npz", PreferenceDataset.load),
    "model": ("model.npz", lambda p: load_learner(p, None)),
    "decisions": ("decisions.npz", load_decisions),
    "record": ("k1.json", RunRecord.read),
    "manifest": ("experiment.json", _open_experiment),
}


@pytest.mark.parametrize("kind", list(READERS))
@FUZZ
@given(data=st.data())
def test_fuzzed_files(originals: dict[str, bytes], tmp_path: Path, kind: str,
                      data: st.DataObject) -> None:
    """DPC files, experiment configs, datasets and model files."""
    name, read = READERS[kind]
    path = tmp_path / name
    path.write_bytes(_mutate(originals[kind], data))
    _only_named_errors(path, read)
