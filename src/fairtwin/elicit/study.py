"""An elicitation study: the decisions of a pipeline run shown to people, pair by pair.

A study binds a :class:`~fairtwin.elicit.store.PreferenceStore` to the sampled decisions of a
pipeline run folder (``samples.npz`` and ``config.toml``, from ``fairtwin sample`` or
``fairtwin run``). It chooses the next pair for a rater, describes a pair for display (loads
before and after per region, beds, transfers, overflow) and exports the answers in the
pipeline's preference-dataset format, so ``fairtwin train --dataset`` learns from people.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from fairtwin.datasets import PEOPLE_SOURCE, PreferenceDataset
from fairtwin.elicit.selection import PairSelector, SelectorConfig
from fairtwin.elicit.store import Outcome, PreferenceStore, Query, decided
from fairtwin.exceptions import DataFormatError, DataUnavailableError, ValidationError
from fairtwin.pipeline import (
    ExperimentConfig,
    load_scenario,
    outcome_maps,
    pair_pool,
    train_rows,
)
from fairtwin.runfolder import RunFolder
from fairtwin.twin import Scenario
from fairtwin.twin.presentation import MembersView

__all__ = ["ElicitationStudy", "PairView", "OutcomePairView", "StudyBrief"]

log = logging.getLogger(__name__)


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class PairView:
    """One question on a twin with a per-member view: the context's label, whether its data
    are synthetic, and decisions A and B member by member, in the order shown."""

    query: Query
    week_label: str
    members: MembersView
    synthetic: bool = False


@dataclass(frozen=True)
class OutcomeGroupView:
    """One group of a twin's named outcomes for both decisions of a question."""

    group: str
    unit: str
    names: list[str]
    a: list[float]
    b: list[float]


@dataclass(frozen=True)
class OutcomePairView:
    """One question on any twin: the named outcomes of A and B side by side, group by group,
    with their nominal cost and guarded quantity."""

    query: Query
    week_label: str
    groups: list[OutcomeGroupView]
    cost_a: float
    cost_b: float
    guard_name: str
    guard_a: float | None
    guard_b: float | None
    price_unit_name: str


@dataclass(frozen=True)
class StudyBrief:
    """What raters are told before the first question, and how much is asked of each.

    Parameters
    ----------
    quota : int, optional
        Answers asked of each rater; after that they see the done page (``None``: until every
        pair was shown to them).
    goal : str
        The study's goal in the organiser's words, shown on the intro page.
    seconds_per_answer : float
        Time per answer for the intro's estimate until 10 answers give a measured median.
    lang : str
        The pages' language (a catalogue's code, ``en``, ``it``), or ``auto``: the browser's
        ``Accept-Language``. A rater may switch either way.
    anchors : float
        Share of each rater's quota asked on *anchor pairs*, the same pairs for everyone, so
        that raters' agreement and reliability can be measured (0: none; without a quota, a
        share of 40 answers).
    """

    quota: int | None = None
    goal: str = ""
    seconds_per_answer: float = 20.0
    lang: str = "auto"
    anchors: float = 0.0

    def n_anchors(self, n_pairs: int) -> int:
        """How many anchor pairs (at most the pairs there are)."""
        return min(n_pairs, int(round(self.anchors * (self.quota or 40))))

    def __post_init__(self) -> None:
        if self.quota is not None and not (isinstance(self.quota, int) and self.quota >= 1):
            raise ValidationError(f"the quota must be a positive number of answers, got {self.quota!r}")
        if len(self.goal) > 2000:
            raise ValidationError("the study's goal must be at most 2000 characters")
        if not self.seconds_per_answer > 0:
            raise ValidationError("seconds_per_answer must be positive")
        if not 0.0 <= self.anchors < 1.0:
            raise ValidationError(f"anchors is a share of the quota in [0, 1), got {self.anchors}")
        from fairtwin.elicit.i18n import languages

        if self.lang != "auto" and self.lang not in languages():
            raise ValidationError(f"no texts in language {self.lang!r}: choose auto or one of "
                                  f"{', '.join(languages())}")


class ElicitationStudy:
    """Pairs to ask, their display, and the export of the answers.

    Parameters
    ----------
    store : PreferenceStore
    run_dir : path
        A pipeline run folder with ``samples.npz`` (or ``dataset.npz``) and ``config.toml``.
    seed : int
        Seed of the pair selection.
    selector : SelectorConfig, optional
        Random pairs (the default) or active selection.
    background : bool
        Refit the active selector in a background thread (``False``: inline).
    brief : StudyBrief, optional
        The intro's goal and the per-rater quota (default: no goal, no quota).
    """

    def __init__(self, store: PreferenceStore, run_dir: str | Path, seed: int = 0,
                 selector: SelectorConfig | None = None, background: bool = True,
                 brief: StudyBrief | None = None) -> None:
        self.store = store
        self.brief = brief or StudyBrief()
        run = RunFolder(run_dir)
        samples = run.samples if run.samples.exists() else run.dataset
        if not samples.exists():
            raise DataUnavailableError(
                f"{run.path} holds no {run.samples.name} or {run.dataset.name}; run `fairtwin "
                f"sample --out {run.path}` first"
            )
        digest = _file_hash(samples)
        known = store.get_meta("samples_sha256")
        if known is None:
            store.set_meta("samples_sha256", digest)
            store.set_meta("samples_path", str(samples.resolve()))
        elif known != digest:
            raise DataFormatError(
                samples, None, None,
                "differs from the samples this study's answers refer to "
                f"({store.get_meta('samples_path')}); use the original file or a new database",
            )
        self.samples_path = samples
        self.dataset = PreferenceDataset.load(samples)
        self.config = ExperimentConfig.load(run.config) if run.config.exists() else ExperimentConfig()
        self.scenario: Scenario = load_scenario(self.config)
        # the built-in synthetic scenarios carry real-looking dates: the page says so
        self.synthetic = "synthetic" in f"{self.scenario.name} {self.scenario.description}".lower()
        self.seed = seed
        self._rows = train_rows(self.dataset)
        self._pool: NDArray[np.int64] = pair_pool(self.dataset, self._rows)
        self._keys: list[tuple[int, int, int]] = [(int(p[0]), int(p[1]), int(p[2]))
                                                  for p in self._pool]
        self._next_lock = threading.Lock()
        self.selector = PairSelector(self._pool, selector or SelectorConfig(strategy="random"),
                                     seed=seed, background=background,
                                     outcomes=outcome_maps(self.scenario, self.dataset))
        self.anchor_pairs: list[tuple[int, int, int]] = self._anchor_pairs()
        self.store.secret()  # create it before concurrent requests need it

    def _anchor_pairs(self) -> list[tuple[int, int, int]]:
        """The pairs asked of every rater (see :attr:`StudyBrief.anchors`): drawn once from
        the pool by the study seed and kept in the database, so a restart asks the same."""
        n = self.brief.n_anchors(self.n_pairs)
        if n == 0:
            return []
        known = set(self._keys)
        stored = self.store.get_meta("anchor_pairs")
        if stored is not None:
            keys = [(int(r), int(i), int(j)) for r, i, j in json.loads(stored)]
            if len(keys) == n and all(k in known for k in keys):
                return keys
            log.warning("the study asks %d anchor pairs now (%d before): a new set is drawn; "
                        "agreement is measured on pairs raters share either way", n, len(keys))
        rng = np.random.default_rng([self.seed, 104729])
        keys = [self._keys[int(k)] for k in rng.choice(self.n_pairs, size=n, replace=False)]
        self.store.set_meta("anchor_pairs", json.dumps(keys))
        return keys

    def _due_anchor(self, rater_id: int, asked: set[tuple[int, int, int]]) -> tuple[int, int, int] | None:
        """The rater's next anchor pair when one is due: anchors are spread over the quota
        (one in ``1/share`` questions, the first at once), in an order of the rater's own."""
        if not self.anchor_pairs:
            return None
        done = sum(k in asked for k in self.anchor_pairs)
        if done >= len(self.anchor_pairs) or done > self.brief.anchors * len(asked) + 1e-9:
            return None
        order = np.random.default_rng([self.seed, rater_id, 104729]).permutation(len(self.anchor_pairs))
        return next(self.anchor_pairs[k] for k in order if self.anchor_pairs[k] not in asked)

    @property
    def n_weeks(self) -> int:
        """Weeks whose pairs are asked (the run's training weeks)."""
        return int(self._rows.size)

    @property
    def n_pairs(self) -> int:
        """Distinct pairs available to ask (training weeks)."""
        return int(self._pool.shape[0])

    def pairs(self) -> list[tuple[int, int, int]]:
        """The pairs the study asks: (context row, decision, decision), the smaller first."""
        return list(self._keys)

    # ------------------------------------------------------------------ selection
    def next_query(self, rater_id: int) -> Query | None:
        """The rater's open query, or a new pair they were not asked yet (None when exhausted).

        The pair comes from the selector (random, or active: the most informative under the
        current ensemble, preferring pairs nobody answered yet), in a random shown order, from
        a generator seeded by the study seed, the rater and the number of pairs they were asked.
        """
        with self._next_lock:  # one new query per rater at a time
            open_q = self.store.open_query(rater_id)
            if open_q is not None:
                return open_q
            if self.quota_reached(rater_id):
                return None
            asked = self.store.asked_pairs(rater_id)
            rng = np.random.default_rng([self.seed, rater_id, len(asked)])
            anchor = self._due_anchor(rater_id, asked)
            if anchor is not None:
                row, i, j = anchor
            else:
                anchors = set(self.anchor_pairs)
                fresh = np.array([k for k, key in enumerate(self._keys)
                                  if key not in asked and key not in anchors], dtype=np.int64)
                if fresh.size == 0:
                    anchor = next((k for k in self.anchor_pairs if k not in asked), None)
                    if anchor is None:
                        return None
                    row, i, j = anchor
                else:
                    if self.selector.config.strategy == "active":
                        anyone = self.store.asked_pairs()
                        unseen = np.array([k for k in fresh if self._keys[k] not in anyone],
                                          dtype=np.int64)
                        if unseen.size:
                            fresh = unseen
                    row, i, j = self._keys[self.selector.choose(fresh, rng)]
            left, right = (i, j) if rng.random() < 0.5 else (j, i)
            return self.store.add_query(rater_id, row, left, right)

    def quota_reached(self, rater_id: int) -> bool:
        """Whether the rater gave the quota's answers (never, without a quota)."""
        quota = self.brief.quota
        return quota is not None and self.store.n_answers(rater_id) >= quota

    def minutes_estimate(self) -> int:
        """Minutes a rater needs for the quota (or for every pair): the answers' median
        response time once 10 exist, else the brief's ``seconds_per_answer``; at least 1."""
        times = [a.response_ms for a in self.store.answers() if a.response_ms is not None]
        seconds = (float(np.median(times)) / 1000.0 if len(times) >= 10
                   else self.brief.seconds_per_answer)
        n = self.brief.quota if self.brief.quota is not None else self.n_pairs
        return max(1, int(np.ceil(n * seconds / 60.0)))

    def answer(self, rater_id: int, query_id: int, choice: str,
               response_ms: float | None = None) -> Outcome:
        """Record an answer (see :meth:`PreferenceStore.record_answer`) and let the selector
        refit when enough new answers arrived."""
        outcome = self.store.record_answer(rater_id, query_id, choice, response_ms)
        if outcome is Outcome.RECORDED and self.selector.due(self.store.n_answers()):
            answers = self.export()  # only A-or-B answers are comparisons
            if answers.n_comparisons:
                self.selector.observe(answers)
        return outcome

    # ------------------------------------------------------------------ display
    def view(self, query: Query) -> PairView | OutcomePairView:
        """What the rater sees: the twin's per-member view
        (:meth:`~fairtwin.twin.base.Twin.members_view`, the ICU twin's), or its named outcomes
        (:class:`OutcomePairView`)."""
        ds, twin = self.dataset, self.scenario.twin
        context = self.scenario.contexts[int(ds.context_ids[query.context_row])]
        view = twin.members_view(context, ds.decisions[query.left], ds.decisions[query.right])
        if view is None:
            return self._outcome_view(query, context)
        return PairView(query, context.label, view, self.synthetic)

    def _outcome_view(self, query: Query, context: object) -> OutcomePairView:
        ds, twin = self.dataset, self.scenario.twin
        out = twin.outcomes(context)
        ua, ub = ds.decisions[query.left], ds.decisions[query.right]
        va, vb = out(ua)[0], out(ub)[0]
        groups = []
        for g in out.group_names:
            sel = [k for k, x in enumerate(out.groups) if x == g]
            groups.append(OutcomeGroupView(g, out.units.get(g, ""), [out.names[k] for k in sel],
                                           [float(va[k]) for k in sel], [float(vb[k]) for k in sel]))
        has_guard = twin.guard_row(twin.build(context)) is not None
        return OutcomePairView(
            query, context.label, groups, twin.nominal_cost(ua, context),  # type: ignore[attr-defined]
            twin.nominal_cost(ub, context), twin.guard_name,
            twin.guarded(ua, context) if has_guard else None,
            twin.guarded(ub, context) if has_guard else None, twin.price_unit_name)

    # ------------------------------------------------------------------ export
    def export(self) -> PreferenceDataset:
        """The answers as a preference dataset (ties as :attr:`~PreferenceDataset.ties`)."""
        return export_answers(self.store, self.dataset)


def export_answers(store: PreferenceStore, samples: PreferenceDataset) -> PreferenceDataset:
    """Build the pipeline's dataset from the samples and every A-or-B answer of the store.

    "Equally fair" (``tie``) answers become the dataset's :attr:`~PreferenceDataset.ties`
    (evidence for the outcome learner); "can't tell" (``unsure``) answers are kept in the store
    and counted in ``info`` (``ties``, ``cant_tell``, and ``answers``, every answer), not learned.
    ``rater_names`` lists every registered rater (``rater`` indexes it); ``info["raters_answering"]``
    counts those with at least one answer.
    """
    raters = store.raters()
    index = {r.id: k for k, r in enumerate(raters)}
    out = PreferenceDataset(
        context_ids=samples.context_ids, context_features=samples.context_features,
        decisions=samples.decisions, decision_context=samples.decision_context,
        scenario=samples.scenario, rater_names=[r.name for r in raters] or ["nobody"],
        info={**samples.info, "source": PEOPLE_SOURCE},
    )
    shown_a = 0
    skipped = {"tie": 0, "unsure": 0}
    rows, win, lose, rater, ts = [], [], [], [], []
    ties: list[tuple[int, int, int]] = []
    tie_rater: list[int] = []
    for a in store.answers():
        if a.left_decision >= samples.n_decisions or a.right_decision >= samples.n_decisions:
            raise ValidationError(f"answer {a.id} refers to a decision the samples do not have")
        choice = decided(a)
        if choice is None:  # "equally fair" or "I can't tell"
            skipped[a.choice] += 1
            if a.choice == "tie":
                ties.append((a.context_row, a.left_decision, a.right_decision))
                tie_rater.append(index[a.rater_id])
            continue
        shown_a += a.choice == "a"
        w, lo = choice
        rows.append(a.context_row)
        win.append(w)
        lose.append(lo)
        rater.append(index[a.rater_id])
        ts.append(a.created)
    if rows:
        out.comparisons = np.column_stack([rows, win, lose]).astype(np.int64)
        out.rater = np.array(rater, dtype=np.int64)
        out.round = np.zeros(len(rows), dtype=np.int64)
        out.timestamp = np.array(ts, dtype=np.float64)
    if ties:
        out.ties = np.array(ties, dtype=np.int64)
        out.tie_rater = np.array(tie_rater, dtype=np.int64)
    if rows or ties:
        out.validate()
    out.info.update({"answers": sum(r.n_answers for r in raters), "ties": skipped["tie"],
                     "cant_tell": skipped["unsure"], "left_chosen": int(shown_a),
                     "right_chosen": int(len(rows) - shown_a),
                     "raters_answering": sum(r.n_answers > 0 for r in raters)})
    return out
