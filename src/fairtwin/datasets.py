"""Preference datasets: contexts and decisions stored once, comparisons as index rows.

A :class:`PreferenceDataset` holds

- ``context_ids`` (n_contexts,): the week index of each context in its scenario, and
  ``context_features`` (n_contexts, n_features): the normalised context vectors ``x0``;
- ``decisions`` (n_decisions, n_decision) and ``decision_context`` (n_decisions,): each decision
  and the row of the context it belongs to;
- ``comparisons`` (n_comparisons, 3): rows ``(context, winner, loser)`` of indices into the
  contexts and decisions (winner first, as in BoTorch), with ``rater`` (int ids into
  ``rater_names``), ``round`` (active-learning round) and ``timestamp`` (Unix seconds) columns;
- ``ties`` (n_ties, 3): rows ``(context, a, b)`` of pairs a rater judged *equally fair*, with
  ``tie_rater``. They are kept apart from ``comparisons`` (whose every row has a winner): the
  outcome learner takes them as evidence (a Davidson model), the other learners ignore them.

File format (``.npz``, NumPy's documented zip of ``.npy`` arrays, read with
``allow_pickle=False``): one array per field above plus ``meta``, a JSON string with
``format`` = ``"fairtwin-preferences"``, ``version``, ``scenario``, ``rater_names`` and free
``info``. Floats are stored as float64, so a save/load round trip is exact. ``ties`` and
``tie_rater`` are optional in a file (files written before them have none).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fairtwin.exceptions import DataFormatError, ValidationError

#: what reading a damaged .npz file can raise (numpy, zipfile, zlib, json); zipfile raises
#: NotImplementedError for a member whose compression method byte is damaged and RuntimeError
#: for one whose flags say "encrypted"
BROKEN_FILE = (OSError, ValueError, KeyError, EOFError, json.JSONDecodeError, zipfile.BadZipFile,
               zlib.error, NotImplementedError, RuntimeError)
__all__ = ["PreferenceDataset", "FORMAT_NAME", "FORMAT_VERSION", "PEOPLE_SOURCE", "atomic_write"]

FORMAT_NAME = "fairtwin-preferences"
FORMAT_VERSION = 1
#: ``info["source"]`` of a dataset exported from a rating study: its answers are people's
PEOPLE_SOURCE = "fairtwin serve"

_ARRAYS = (
    "context_ids",
    "context_features",
    "decisions",
    "decision_context",
    "comparisons",
    "rater",
    "round",
    "timestamp",
)
_OPTIONAL = ("ties", "tie_rater")


def atomic_write(path: str | Path, write: Any, suffix: str = "") -> None:
    """Write through ``write(tmp_path)`` to a temporary file, then rename it into place, so a
    crash never leaves a half-written file at ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _finite(name: str, arr: NDArray[Any]) -> None:
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValidationError(f"{name} contains NaN or inf")


@dataclass(eq=False)
class PreferenceDataset:
    """Decisions per context and pairwise comparisons between them (see the module docstring)."""

    context_ids: NDArray[np.int64]
    context_features: NDArray[np.float64]
    decisions: NDArray[np.float64]
    decision_context: NDArray[np.int64]
    comparisons: NDArray[np.int64] = field(
        default_factory=lambda: np.zeros((0, 3), dtype=np.int64)
    )
    rater: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    round: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    timestamp: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    scenario: str = ""
    rater_names: list[str] = field(default_factory=lambda: ["simulated"])
    info: dict[str, Any] = field(default_factory=dict)
    ties: NDArray[np.int64] = field(default_factory=lambda: np.zeros((0, 3), dtype=np.int64))
    tie_rater: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __post_init__(self) -> None:
        self.context_ids = np.asarray(self.context_ids, dtype=np.int64).reshape(-1)
        self.context_features = np.asarray(self.context_features, dtype=np.float64)
        self.decisions = np.asarray(self.decisions, dtype=np.float64)
        self.decision_context = np.asarray(self.decision_context, dtype=np.int64).reshape(-1)
        self.comparisons = np.asarray(self.comparisons, dtype=np.int64).reshape(-1, 3)
        self.rater = np.asarray(self.rater, dtype=np.int64).reshape(-1)
        self.round = np.asarray(self.round, dtype=np.int64).reshape(-1)
        self.timestamp = np.asarray(self.timestamp, dtype=np.float64).reshape(-1)
        self.ties = np.asarray(self.ties, dtype=np.int64).reshape(-1, 3)
        self.tie_rater = np.asarray(self.tie_rater, dtype=np.int64).reshape(-1)
        self.validate()

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        """Check shapes, index ranges and finiteness; raise :class:`ValidationError`."""
        n_ctx = self.context_ids.shape[0]
        if self.context_features.ndim != 2 or self.context_features.shape[0] != n_ctx:
            raise ValidationError(
                f"context_features must have shape ({n_ctx}, n_features), "
                f"got {self.context_features.shape}"
            )
        if self.decisions.ndim != 2:
            raise ValidationError(f"decisions must be 2-D, got shape {self.decisions.shape}")
        if self.decision_context.shape[0] != self.decisions.shape[0]:
            raise ValidationError(
                f"decision_context has {self.decision_context.shape[0]} entries for "
                f"{self.decisions.shape[0]} decisions"
            )
        for name in ("context_features", "decisions", "timestamp"):
            _finite(name, getattr(self, name))
        if self.decision_context.size and (
            self.decision_context.min() < 0 or self.decision_context.max() >= n_ctx
        ):
            raise ValidationError("decision_context refers to a context that does not exist")
        m = self.comparisons.shape[0]
        for name in ("rater", "round", "timestamp"):
            if getattr(self, name).shape[0] != m:
                raise ValidationError(f"{name} must have one entry per comparison ({m})")
        self._validate_pairs(self.comparisons, self.rater, "comparison")
        self._validate_pairs(self.ties, self.tie_rater, "tie")
        counts = np.bincount(self.decision_context, minlength=n_ctx)
        if n_ctx and counts.min() < 2:
            few = [int(self.context_ids[i]) for i in np.flatnonzero(counts < 2)][:5]
            raise ValidationError(
                f"every context needs at least two decisions to compare; weeks {few} have fewer"
            )

    def _validate_pairs(self, pairs: NDArray[np.int64], rater: NDArray[np.int64], what: str) -> None:
        """Index checks of ``(context, a, b)`` rows and their raters."""
        if rater.shape[0] != pairs.shape[0]:
            raise ValidationError(f"the {what}s' raters must be one per {what} ({pairs.shape[0]})")
        if not pairs.shape[0]:
            return
        c, a, b = pairs.T
        if c.min() < 0 or c.max() >= self.n_contexts:
            raise ValidationError(f"a {what} refers to a context that does not exist")
        if min(a.min(), b.min()) < 0 or max(a.max(), b.max()) >= self.n_decisions:
            raise ValidationError(f"a {what} refers to a decision that does not exist")
        if np.any(self.decision_context[a] != c) or np.any(self.decision_context[b] != c):
            raise ValidationError(f"a {what} pairs decisions of another context")
        if np.any(a == b):
            raise ValidationError(f"a {what} pairs a decision with itself")
        if rater.min() < 0 or rater.max() >= len(self.rater_names):
            raise ValidationError(f"a {what}'s rater id has no name in rater_names")

    # ------------------------------------------------------------------ sizes
    @property
    def n_contexts(self) -> int:
        return int(self.context_ids.shape[0])

    @property
    def n_decisions(self) -> int:
        return int(self.decisions.shape[0])

    @property
    def n_comparisons(self) -> int:
        return int(self.comparisons.shape[0])

    @property
    def n_ties(self) -> int:
        """Pairs judged equally fair (:attr:`ties`)."""
        return int(self.ties.shape[0])

    @property
    def n_vars(self) -> int:
        return int(self.decisions.shape[1])

    def decisions_of(self, context_row: int) -> NDArray[np.int64]:
        """Indices of the decisions of one context."""
        return np.flatnonzero(self.decision_context == context_row)

    # ------------------------------------------------------------------ building
    def add_decisions(self, context_row: int, U: ArrayLike) -> NDArray[np.int64]:
        """Append decisions to a context (reusing identical ones); returns their indices."""
        U = np.atleast_2d(np.asarray(U, dtype=np.float64))
        if U.shape[1] != self.n_vars:
            raise ValidationError(f"decisions must have {self.n_vars} entries, got {U.shape[1]}")
        _finite("decisions", U)
        idx = []
        mine = self.decisions_of(context_row)
        new_rows: list[NDArray[np.float64]] = []
        for u in U:
            hit = mine[np.all(self.decisions[mine] == u, axis=1)] if mine.size else mine
            if hit.size:
                idx.append(int(hit[0]))
                continue
            idx.append(self.n_decisions + len(new_rows))
            new_rows.append(u)
        if new_rows:
            self.decisions = np.vstack([self.decisions, np.array(new_rows)])
            self.decision_context = np.r_[
                self.decision_context, np.full(len(new_rows), context_row, dtype=np.int64)
            ]
        return np.array(idx, dtype=np.int64)

    def add_comparisons(
        self,
        context_rows: ArrayLike,
        winners: ArrayLike,
        losers: ArrayLike,
        rater: int = 0,
        round: int = 0,
        timestamp: float | None = None,
    ) -> None:
        """Append comparisons (validated)."""
        rows = np.column_stack([
            np.asarray(context_rows, dtype=np.int64).reshape(-1),
            np.asarray(winners, dtype=np.int64).reshape(-1),
            np.asarray(losers, dtype=np.int64).reshape(-1),
        ])
        m = rows.shape[0]
        ts = time.time() if timestamp is None else timestamp
        self.comparisons = np.vstack([self.comparisons, rows])
        self.rater = np.r_[self.rater, np.full(m, rater, dtype=np.int64)]
        self.round = np.r_[self.round, np.full(m, round, dtype=np.int64)]
        self.timestamp = np.r_[self.timestamp, np.full(m, ts)]
        self.validate()

    def add_ties(self, context_rows: ArrayLike, a: ArrayLike, b: ArrayLike, rater: int = 0) -> None:
        """Append pairs judged equally fair (validated)."""
        rows = np.column_stack([np.asarray(x, dtype=np.int64).reshape(-1)
                                for x in (context_rows, a, b)])
        self.ties = np.vstack([self.ties, rows])
        self.tie_rater = np.r_[self.tie_rater, np.full(rows.shape[0], rater, dtype=np.int64)]
        self.validate()

    def subset_contexts(self, rows: ArrayLike) -> PreferenceDataset:
        """The dataset restricted to some context rows (decisions and comparisons re-indexed)."""
        rows = np.asarray(rows, dtype=np.int64)
        ctx_map = np.full(self.n_contexts, -1)
        ctx_map[rows] = np.arange(rows.size)
        keep_dec = np.flatnonzero(ctx_map[self.decision_context] >= 0)
        dec_map = np.full(self.n_decisions, -1)
        dec_map[keep_dec] = np.arange(keep_dec.size)
        keep_cmp = np.flatnonzero(ctx_map[self.comparisons[:, 0]] >= 0)
        cmp = self.comparisons[keep_cmp]
        keep_tie = np.flatnonzero(ctx_map[self.ties[:, 0]] >= 0)
        tie = self.ties[keep_tie]
        return PreferenceDataset(
            context_ids=self.context_ids[rows],
            context_features=self.context_features[rows],
            decisions=self.decisions[keep_dec],
            decision_context=ctx_map[self.decision_context[keep_dec]],
            comparisons=np.column_stack([ctx_map[cmp[:, 0]], dec_map[cmp[:, 1]], dec_map[cmp[:, 2]]]),
            rater=self.rater[keep_cmp],
            round=self.round[keep_cmp],
            timestamp=self.timestamp[keep_cmp],
            scenario=self.scenario,
            rater_names=list(self.rater_names),
            info=dict(self.info),
            ties=np.column_stack([ctx_map[tie[:, 0]], dec_map[tie[:, 1]], dec_map[tie[:, 2]]]),
            tie_rater=self.tie_rater[keep_tie],
        )

    # ------------------------------------------------------------------ files
    def write_npz(self, fh: Any) -> None:
        """Write the ``.npz`` bytes to an open binary file (see :meth:`save`)."""
        meta = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "scenario": self.scenario,
            "rater_names": self.rater_names,
            "info": self.info,
        }
        arrays = {name: getattr(self, name) for name in _ARRAYS}
        if self.n_ties:
            arrays.update({name: getattr(self, name) for name in _OPTIONAL})
        np.savez_compressed(fh, meta=np.array(json.dumps(meta)), **arrays)

    def save(self, path: str | Path) -> Path:
        """Write the dataset to ``path`` (``.npz``) atomically."""
        path = Path(path)

        def write(tmp: str) -> None:
            with open(tmp, "wb") as fh:
                self.write_npz(fh)

        atomic_write(path, write, suffix=".npz")
        return path

    @classmethod
    def load(cls, path: str | Path) -> PreferenceDataset:
        """Read a dataset written by :meth:`save` (no code is executed: no pickle)."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                files = set(data.files)
                missing = [n for n in ("meta", *_ARRAYS) if n not in files]
                if missing:
                    raise DataFormatError(path, None, missing[0], "missing array in the dataset file")
                meta = json.loads(str(data["meta"]))
                arrays = {name: data[name] for name in (*_ARRAYS, *_OPTIONAL) if name in files}
        except FileNotFoundError:
            raise DataFormatError(path, None, None, "no such file") from None
        except BROKEN_FILE as exc:
            raise DataFormatError(path, None, None, f"not a fairtwin dataset ({exc})") from None
        if meta.get("format") != FORMAT_NAME:
            raise DataFormatError(path, None, "meta", f"format is {meta.get('format')!r}, "
                                  f"expected {FORMAT_NAME!r}")
        if meta.get("version") != FORMAT_VERSION:
            raise DataFormatError(path, None, "meta", f"unsupported version {meta.get('version')}")
        try:
            return cls(
                **arrays,
                scenario=meta.get("scenario", ""),
                rater_names=list(meta.get("rater_names", ["simulated"])),
                info=dict(meta.get("info", {})),
            )
        except ValidationError as exc:
            raise DataFormatError(path, None, None, str(exc)) from None
