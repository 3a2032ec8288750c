"""The check round: people judge what the run deployed against the nominal decision.

The learned notion's agreement with the people's own answers (``evaluate``'s ``people`` line)
says how well it predicts them; it does not say whether the people prefer what was *deployed*.
The check round asks exactly that, per week: "the deployed decision or the nominal one?".

:func:`write_check_round` turns a finished run (its samples or dataset, ``decisions.npz`` and
``config.toml``) into a small run folder of its own whose samples hold, for each week of the
chosen split where the deployed decision differs from the nominal one, just those two decisions
(nominal first); ``fairtwin serve --run CHECK`` then asks them like any study (random side, each
pair once per rater), and :func:`verdict` counts the answers: per week and overall, the share of
the people's A-or-B answers that chose the deployed decision, with a 90 % Wilson interval. That
share is the people's verdict, not a simulated rater's.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fairtwin.datasets import PreferenceDataset
from fairtwin.elicit.store import PreferenceStore, decided
from fairtwin.exceptions import ValidationError
from fairtwin.pipeline import load_decisions, nominal_indices, train_rows
from fairtwin.runfolder import RunFolder

__all__ = ["CHECK_SPLITS", "Verdict", "check_samples", "verdict", "write_check_round"]

#: the weeks a check round can ask about
CHECK_SPLITS = ("held-out", "train", "all")


def check_samples(run_dir: str | Path, split: str = "held-out") -> PreferenceDataset:
    """The check round's samples of a finished run: per week of ``split`` whose deployed
    decision differs from the nominal one, the nominal decision (index 0 of the week) and the
    deployed one (index 1); every week is one the study asks (``info["n_train"]``)."""
    if split not in CHECK_SPLITS:
        raise ValidationError(f"unknown split {split!r}; allowed: {', '.join(CHECK_SPLITS)}")
    run = RunFolder(run_dir)
    source = run.samples if run.samples.exists() else run.need("dataset")
    data = PreferenceDataset.load(source)
    ids, deployed, _, _, _ = load_decisions(run.need("decisions"))
    if not np.array_equal(ids, data.context_ids):
        raise ValidationError(f"{run.file('decisions')} and {source} hold other weeks; "
                              "run `fairtwin resolve` again")
    nom = nominal_indices(data)
    n_train = len(train_rows(data))
    rows = {"train": range(n_train), "held-out": range(n_train, data.n_contexts),
            "all": range(data.n_contexts)}[split]
    keep = [r for r in rows if not np.array_equal(data.decisions[nom[r]], deployed[r])]
    if not keep:
        raise ValidationError(f"the run deployed its nominal decision in every {split} week: "
                              "nothing to check")
    k = len(keep)
    return PreferenceDataset(
        context_ids=data.context_ids[keep], context_features=data.context_features[keep],
        decisions=np.vstack([np.stack([data.decisions[nom[r]], deployed[r]]) for r in keep]),
        decision_context=np.repeat(np.arange(k), 2), scenario=data.scenario,
        info={"n_train": k, "check_round": split, "source_run": str(run.path.resolve())})


def write_check_round(run_dir: str | Path, out_dir: str | Path, split: str = "held-out") -> Path:
    """Write the check round's run folder (its ``samples.npz`` and the run's ``config.toml``)
    to serve with ``fairtwin serve --run out_dir``; returns its path."""
    samples = check_samples(run_dir, split)
    out = RunFolder(out_dir).make()
    if out.samples.exists():
        raise ValidationError(f"{out.samples} exists; choose a new folder for the check round")
    samples.save(out.samples)
    config = RunFolder(run_dir).config
    if config.exists():
        shutil.copyfile(config, out.config)
    return out.path


@dataclass(frozen=True)
class Verdict:
    """The people's answers on a check round.

    Attributes
    ----------
    weeks : list of dict
        Per week (``week``: its index in the scenario): ``deployed`` and ``nominal`` (A-or-B
        answers for each), ``equal`` ("equally fair"), ``unsure``, ``share`` (of the A-or-B
        answers, those for the deployed decision; ``nan`` without any).
    deployed, nominal, equal, unsure : int
        The totals.
    share, low, high : float
        The share of A-or-B answers for the deployed decision and its 90 % Wilson interval.
    """

    weeks: list[dict[str, Any]] = field(default_factory=list)
    deployed: int = 0
    nominal: int = 0
    equal: int = 0
    unsure: int = 0
    share: float = math.nan
    low: float = math.nan
    high: float = math.nan

    def lines(self) -> list[str]:
        """The verdict as printed by ``fairtwin raters verdict``."""
        n = self.deployed + self.nominal
        if n == 0:
            return ["no A-or-B answers on the check round yet"]
        preferred = sum(1 for w in self.weeks if w["deployed"] > w["nominal"])
        return [f"the people's verdict: {self.share:.2f} of {n} A-or-B answers chose the deployed "
                f"decision over the nominal one (90 % interval {self.low:.2f}–{self.high:.2f}; "
                f"{self.equal} 'equally fair', {self.unsure} 'I can't tell'); the deployed "
                f"decision had more answers in {preferred} of {len(self.weeks)} weeks"] + [
            f"  week {w['week']}: deployed {w['deployed']}, nominal {w['nominal']}, equal "
            f"{w['equal']}, unsure {w['unsure']}" for w in self.weeks]


def verdict(store: PreferenceStore, samples: PreferenceDataset) -> Verdict:
    """Count the answers of ``store`` on the check round whose samples are ``samples`` (see
    :func:`check_samples`: the second decision of each week is the deployed one)."""
    weeks: dict[int, dict[str, Any]] = {
        row: {"week": int(samples.context_ids[row]), "deployed": 0, "nominal": 0, "equal": 0,
              "unsure": 0} for row in range(samples.n_contexts)}
    for a in store.answers():
        w = weeks.get(int(a.context_row))
        if w is None:
            raise ValidationError(f"answer {a.id} is of week row {a.context_row}, which the check "
                                  "round does not have: is this the check round's database?")
        choice = decided(a)
        if choice is None:
            w["equal" if a.choice == "tie" else "unsure"] += 1
            continue
        w["deployed" if choice[0] == 2 * a.context_row + 1 else "nominal"] += 1
    for w in weeks.values():
        n = w["deployed"] + w["nominal"]
        w["share"] = w["deployed"] / n if n else math.nan
    total = {k: sum(w[k] for w in weeks.values()) for k in ("deployed", "nominal", "equal", "unsure")}
    n = total["deployed"] + total["nominal"]
    share, low, high = (math.nan,) * 3
    if n:
        share = total["deployed"] / n
        low, high = _wilson(total["deployed"], n, 1.6449)
    return Verdict([weeks[r] for r in sorted(weeks)], **total, share=share, low=low, high=high)


def _wilson(k: int, n: int, z: float) -> tuple[float, float]:
    """Wilson score interval of ``k`` successes in ``n`` at normal quantile ``z``."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)
