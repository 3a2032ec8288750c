"""A run's folder: the artefacts every stage reads and writes, by one set of names.

``fairtwin run`` and the stage commands (``sample``, ``label``, ``train``, ``resolve``,
``evaluate``), :func:`fairtwin.pipeline.run_pipeline` and the rating app all find a run's files
here, in the stage order of :data:`ARTEFACTS`; an artefact that a later stage needs and that is
missing names the command that writes it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from fairtwin.exceptions import DataUnavailableError

__all__ = ["ARTEFACTS", "RunFolder", "need_file"]

#: artefact → (file name, the stage that writes it), in stage order
ARTEFACTS: dict[str, tuple[str, str]] = {
    "config": ("config.toml", "sample"),
    "samples": ("samples.npz", "sample"),
    "dataset": ("dataset.npz", "label"),
    "model": ("model.npz", "train"),
    "decisions": ("decisions.npz", "resolve"),
    "metrics": ("metrics.json", "evaluate"),
    "oracle_bound": ("oracle_bound.npz", "evaluate"),
    "weeks_plot": ("weeks.png", "evaluate"),
}


def need_file(path: Path, stage: str) -> Path:
    """``path``, which ``fairtwin stage`` writes; a missing one names that command."""
    if not path.exists():
        raise DataUnavailableError(f"{path} does not exist; run `fairtwin {stage}` first")
    return path


@dataclass(frozen=True)
class RunFolder:
    """The folder of one run (``runs/latest``, say).

    Attributes
    ----------
    path : Path
    """

    path: Path

    def __init__(self, path: str | os.PathLike[str]) -> None:
        object.__setattr__(self, "path", Path(path))

    def file(self, artefact: str) -> Path:
        """The path of ``artefact`` (a key of :data:`ARTEFACTS`), whether or not it exists."""
        return self.path / ARTEFACTS[artefact][0]

    def need(self, artefact: str) -> Path:
        """The path of an artefact a stage reads; a missing one names the command to run."""
        return need_file(self.file(artefact), ARTEFACTS[artefact][1])

    def make(self) -> RunFolder:
        """Create the folder (and its parents) if needed; returns ``self``."""
        self.path.mkdir(parents=True, exist_ok=True)
        return self

    @property
    def config(self) -> Path:
        return self.file("config")

    @property
    def samples(self) -> Path:
        return self.file("samples")

    @property
    def dataset(self) -> Path:
        return self.file("dataset")

    @property
    def model(self) -> Path:
        return self.file("model")

    @property
    def decisions(self) -> Path:
        return self.file("decisions")

    @property
    def metrics(self) -> Path:
        return self.file("metrics")
