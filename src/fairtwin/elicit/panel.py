"""The panel report: how far raters agree, how reliable each is, and which groups of raters
disagree with each other.

Agreement is measured on the pairs two raters both answered "A is fairer" or "B is fairer"
(whichever side was shown first): the *anchor pairs* every rater is asked
(:attr:`~fairtwin.elicit.study.StudyBrief.anchors`) make sure there are such pairs; "equally
fair" and "I can't tell" answers are counted but are no verdict to agree with. A rater's
reliability is the share of their shared answers that agree with the majority of the *other*
raters on that pair (pairs where the others are split are left out). Raters are grouped by
average-linkage clustering on the agreement: two groups merge while their raters agree on at
least ``threshold`` of their shared pairs on average, so a rater who judges by another notion
ends in a group of their own. With fewer than ``min_shared`` shared answers between two
raters, their agreement is too uncertain to weigh them by: the report says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from fairtwin.elicit.store import PreferenceStore, decided

__all__ = ["PanelReport", "panel_report"]


@dataclass(frozen=True)
class PanelReport:
    """See the module docstring. Matrices are indexed like :attr:`names` (raters with at
    least one A-or-B answer)."""

    names: list[str]
    decided: list[int]
    n_anchor_pairs: int
    anchor_answers: list[int]  # A-or-B answers on anchor pairs, per rater
    agreement: NDArray[np.float64]  # share of shared A-or-B answers that agree (nan: none)
    shared: NDArray[np.int64]  # pairs both answered A or B
    reliability: list[float]  # agreement with the others' majority (nan: no such pair)
    reliability_n: list[int]
    clusters: list[list[str]]
    min_shared: int
    threshold: float
    warnings: list[str] = field(default_factory=list)

    @property
    def enough(self) -> bool:
        """Whether every two raters share at least ``min_shared`` A-or-B answers."""
        n = len(self.names)
        return n >= 2 and all(self.shared[i, j] >= self.min_shared
                              for i in range(n) for j in range(i + 1, n))

    def lines(self) -> list[str]:
        """The report as text (``fairtwin raters report``)."""
        if not self.names:
            return ["no A-or-B answers yet: nothing to compare"]
        width = max(8, *(len(n) for n in self.names)) + 1
        out = [f"{len(self.names)} rater(s) with A-or-B answers; {self.n_anchor_pairs} anchor "
               "pair(s) asked of everyone", "",
               "agreement on pairs both answered A or B (shared pairs in brackets):",
               " " * width + "".join(f"{n[:12]:>14}" for n in self.names)]
        for i, name in enumerate(self.names):
            cells = []
            for j in range(len(self.names)):
                if i == j:
                    cells.append(f"{'-':>14}")
                elif self.shared[i, j] == 0:
                    cells.append(f"{'(0)':>14}")
                else:
                    cells.append(f"{self.agreement[i, j]:>8.2f} ({self.shared[i, j]:>3})")
            out.append(f"{name:<{width}}" + "".join(cells))
        out += ["", f"{'rater':<{width}}{'A or B':>7}{'on anchors':>11}{'reliability':>12}"]
        for k, name in enumerate(self.names):
            rel = self.reliability[k]
            text = "-" if math.isnan(rel) else f"{rel:.2f} ({self.reliability_n[k]})"
            out.append(f"{name:<{width}}{self.decided[k]:>7}{self.anchor_answers[k]:>11}{text:>12}")
        out += ["", f"groups of raters who agree (average agreement >= {self.threshold:.2f}):"]
        out += [f"  {k + 1}: {', '.join(c)}" for k, c in enumerate(self.clusters)]
        out += [f"warning: {w}" for w in self.warnings]
        return out


def panel_report(store: PreferenceStore, anchor_pairs: list[tuple[int, int, int]] | None = None,
                 min_shared: int = 10, threshold: float = 0.7) -> PanelReport:
    """The panel report of a study's answers (see the module docstring).

    Parameters
    ----------
    store : PreferenceStore
    anchor_pairs : list of (context row, decision, decision), optional
        The study's anchor pairs (:attr:`ElicitationStudy.anchor_pairs`), to count answers on
        them.
    min_shared : int
        Shared A-or-B answers two raters need before their agreement is used.
    threshold : float
        Average agreement at which two groups of raters merge.
    """
    names, votes = _votes(store)
    n = len(names)
    agree = np.zeros((n, n))
    shared = np.zeros((n, n), dtype=np.int64)
    hits, seen = np.zeros(n), np.zeros(n, dtype=np.int64)
    anchors = set(anchor_pairs or [])
    decided = np.zeros(n, dtype=np.int64)
    on_anchor = np.zeros(n, dtype=np.int64)
    for pair, by in votes.items():
        raters = list(by)
        for r in raters:
            decided[r] += 1
            on_anchor[r] += pair in anchors
            others = [by[o] for o in raters if o != r]
            for o in raters:
                if o != r:
                    shared[r, o] += 1
                    agree[r, o] += by[o] == by[r]
            if len(others) >= 2:  # the others' majority, when they are not split
                values, counts = np.unique(others, return_counts=True)
                if (counts == counts.max()).sum() == 1:
                    seen[r] += 1
                    hits[r] += values[counts.argmax()] == by[r]
    share = np.divide(agree, shared, out=np.full((n, n), np.nan), where=shared > 0)
    np.fill_diagonal(share, 1.0)
    reliability = [float(hits[k] / seen[k]) if seen[k] else math.nan for k in range(n)]
    clusters = _clusters(share, shared, min_shared, threshold)
    warnings = []
    few = [(names[i], names[j], int(shared[i, j])) for i in range(n) for j in range(i + 1, n)
           if shared[i, j] < min_shared]
    if n < 2:
        warnings.append("fewer than two raters with A-or-B answers: no agreement to measure")
    elif few:
        listed = "; ".join(f"{a} and {b}: {k}" for a, b, k in few[:5])
        more = f" (and {len(few) - 5} more pairs of raters)" if len(few) > 5 else ""
        warnings.append(f"too few shared answers to weigh raters (at least {min_shared} A-or-B "
                        f"answers on the same pairs needed): {listed}{more}"
                        + ("" if anchors else "; ask anchor pairs (fairtwin serve --anchors 0.2)"))
    return PanelReport(names, [int(v) for v in decided], len(anchors),
                       [int(v) for v in on_anchor], share, shared, reliability,
                       [int(v) for v in seen],
                       [[names[k] for k in c] for c in clusters], min_shared, threshold, warnings)


def _votes(store: PreferenceStore) -> tuple[list[str], dict[tuple[int, int, int], dict[int, int]]]:
    """The names of the raters with A-or-B answers, and per pair (context row, the lower and
    the higher decision) the decision each of them chose (by their index in the names)."""
    names: list[str] = []
    index: dict[int, int] = {}
    votes: dict[tuple[int, int, int], dict[int, int]] = {}
    for a in store.answers():
        choice = decided(a)
        if choice is None:
            continue
        if a.rater_id not in index:
            index[a.rater_id] = len(names)
            names.append(str(a.rater))
        pair = (int(a.context_row), min(a.left_decision, a.right_decision),
                max(a.left_decision, a.right_decision))
        votes.setdefault(pair, {})[index[a.rater_id]] = choice[0]
    return names, votes


def _clusters(share: NDArray[np.float64], shared: NDArray[np.int64], min_shared: int,
              threshold: float) -> list[list[int]]:
    """Average-linkage groups: merge the two groups of highest average agreement (over rater
    pairs with at least ``min_shared`` shared answers) while it is at least ``threshold``."""
    groups = [[k] for k in range(share.shape[0])]
    while len(groups) > 1:
        best, pair = -1.0, (0, 0)
        for x in range(len(groups)):
            for y in range(x + 1, len(groups)):
                values = [share[i, j] for i in groups[x] for j in groups[y]
                          if shared[i, j] >= min_shared]
                if values and float(np.mean(values)) > best:
                    best, pair = float(np.mean(values)), (x, y)
        if best < threshold:
            break
        x, y = pair
        groups[x] = sorted(groups[x] + groups[y])
        del groups[y]
    return sorted(groups, key=lambda g: (-len(g), g))
