"""The whole pipeline, stage by stage, with configuration as data and artefacts on disk.

Stages (each reads and writes files in one output folder, so a run can resume anywhere and a
user can bring their own preferences into ``label``/``train``):

====================  ============================================  =========================
stage                 does                                          writes
====================  ============================================  =========================
``sample``            nominal + diverse decisions for every week    ``dataset.npz``
``label``             random pairs of training weeks, rated         ``dataset.npz``
``train``             fit the learner (+ active rounds)             ``model.npz``, ``dataset.npz``
``resolve``           re-solve every week with the learned cost     ``decisions.npz``
``evaluate``          oracle bound, metrics, plots                  ``metrics.json``, ``*.png``
====================  ============================================  =========================

``config.toml`` in the folder records the :class:`ExperimentConfig` of the run.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np
import tomli_w
from joblib import Parallel, delayed
from numpy.typing import NDArray
from tqdm.auto import tqdm

from fairtwin.datasets import BROKEN_FILE, PEOPLE_SOURCE, PreferenceDataset, atomic_write
from fairtwin.deploy import Deployment, Support, choose, rival_rungs, rivals_agree, support_of
from fairtwin.evaluate import Coverage, WeekMetrics, sample_coverage, summarise, week_metrics
from fairtwin.exceptions import (
    DataFormatError,
    SolveLimitError,
    UnknownNameError,
    ValidationError,
)
from fairtwin.extras import has_extra, missing_extra_line, require
from fairtwin.learn import OutcomeCostLearner
from fairtwin.learn.challenge import (
    bout,
    challengers_left,
    most_doubtful,
    next_challenger,
    not_ruled_out,
    settle_choice,
    settling_order,
)
from fairtwin.learn.evidence import (
    Evidence,
    ModelChoice,
    assess_evidence,
    choose_tie_rule,
    people_agreement,
    rung_learner,
    select_groups,
)
from fairtwin.learn.names import LOSSES
from fairtwin.learn.outcome import TIE_RULES, check_group_spec
from fairtwin.oracles import (
    GENERIC_ORACLES,
    RATERS,
    FairnessOracle,
    OutcomeGroupOracle,
    Rater,
    available_oracles,
    get_oracle,
    get_rater,
    oracle_bound,
)
from fairtwin.oracles.fairness import import_oracle
from fairtwin.provenance import environment
from fairtwin.resolve import ResolveConfig, resolve_context, select_candidate
from fairtwin.runfolder import RunFolder
from fairtwin.sampling import SamplerConfig, sample_decisions
from fairtwin.solvers import get_solver
from fairtwin.tomlfile import check_setting_types, read_toml
from fairtwin.twin import Outcomes, Scenario, Twin, get_scenario
from fairtwin.twin.scenarios import builtin_notions, is_builtin, twin_settings

if TYPE_CHECKING:
    from fairtwin.learn.estimator import PreferenceCostLearner

Learner = Union["PreferenceCostLearner", OutcomeCostLearner]

__all__ = [
    "rung_or_nominal",
    "ScenarioConfig",
    "LabelConfig",
    "LearnerConfig",
    "ExperimentConfig",
    "RunResult",
    "load_scenario",
    "sample_stage",
    "label_stage",
    "train_stage",
    "resolve_stage",
    "evaluate_stage",
    "guard_held_bounds",
    "coverage_stage",
    "deploy_stage",
    "run_pipeline",
    "reuse_samples",
    "oracle_of",
    "stage_seed",
]

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------- configuration
@dataclass(frozen=True)
class ScenarioConfig:
    """Which scenario, and which weeks train and which are held out.

    The ``n_train`` training weeks start at the week that contains ``train_from`` (an ISO date,
    ``""`` for the scenario's first week); the ``n_held_out`` weeks right after them are held
    out (``0``: as many as ``n_train``). The default split (52 + 52) adapts to a scenario with
    fewer contexts: half and half (:func:`fit_split`). ``twin_path`` names a twin folder (see
    :mod:`fairtwin.folder`; ``[twin] path`` in TOML, ``--twin`` in the CLI); it replaces the
    built-in scenario ``name``.
    """

    name: str = "italy-synthetic"
    seed: int = 0
    data_path: str = ""
    twin_path: str = ""
    n_train: int = 52
    train_from: str = ""
    n_held_out: int = 0

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise ValidationError(f"the scenario's seed must be non-negative, got {self.seed}")
        if self.n_train < 1 or self.n_held_out < 0:
            raise ValidationError(
                f"n_train must be positive and n_held_out non-negative, got {self.n_train} and "
                f"{self.n_held_out}"
            )
        if self.train_from:
            try:
                date.fromisoformat(self.train_from)
            except (TypeError, ValueError):
                raise ValidationError(
                    f"train_from must be a date like 2021-03-01, got {self.train_from!r}"
                ) from None

    @property
    def n_weeks(self) -> int:
        """Training plus held-out weeks."""
        return self.n_train + (self.n_held_out or self.n_train)

    def first_week(self, scenario: Scenario) -> int:
        """Index of the first training week in ``scenario`` (the week containing ``train_from``)."""
        if not self.train_from:
            return 0
        day = date.fromisoformat(self.train_from)
        starts = [c.start for c in scenario.contexts]
        if any(s is None for s in starts):
            raise ValidationError(f"scenario {scenario.name!r} has no dates; leave train_from empty")
        first, last = starts[0], starts[-1] + timedelta(days=6)
        if not first <= day <= last:
            raise ValidationError(
                f"train_from {day} is outside the data of scenario {scenario.name!r}, which "
                f"covers {first} to {last}"
            )
        return max(k for k, s in enumerate(starts) if s <= day)


#: Random pairs per training week below which an active round holds fewer challengers
#: (:meth:`LabelConfig.n_challengers`). A floor, not a tuned value: two challengers a round leave
#: 10.8 a week of 1344 answers with three rounds, and none of 260 answers with one round.
RANDOM_PER_WEEK = 2

#: How an active round picks its challengers: the most accurate rungs not yet tried
#: (``accuracy``, the default), or among the rungs the random pairs do not rule out, those
#: that most plausibly rank the model's re-solves less fair than nominal (``doubt``, opt-in)
CHALLENGE_ORDERS = ("accuracy", "doubt")


@dataclass(frozen=True)
class LabelConfig:
    """The simulated rater and the pair budget.

    ``n_pairs`` is the total number of comparisons asked, active rounds included; each of the
    ``rounds`` active rounds asks ``1 + n_best`` comparisons per training week (one more per
    challenger with ``challenge``: :meth:`per_round`), and the final check (``final_check``) one
    more per week.
    ``tie_margin`` (0: never) lets the rater answer "equally fair" for pairs whose latent costs
    differ by at most that share of their mean (:meth:`~fairtwin.oracles.Rater.judge`); the
    outcome learner takes such answers as evidence (``[learner] ties``). The active rounds
    re-solve the training weeks to find what to ask; ``round_mip_gap`` and ``round_node_limit``
    (0: the re-solve's own) let those re-solves stop earlier than the final one: they only pick
    what to ask. Measured (``benchmarks/bench_round_resolve.py``, 3 seeds; 5 notions, 10 %
    flipped labels and the real weeks): a 5 % gap and 20 nodes train 3–5× faster than exact
    rounds with the same held-out wins, median ΔR within 0.3 points and mean ΔJ within 0.03
    overflow patients.
    With ``challenge`` each round also re-solves its weeks with ``challengers`` challengers, the
    most accurate rungs of the model ladder that have not met the model yet, and asks one more
    comparison per week for each: the challenger's re-solve against the model's. The raters
    decide, head to head, which rung proposes the fairer decisions
    (:mod:`fairtwin.learn.challenge`); a round holds fewer challengers when the random pairs
    would drop below :data:`RANDOM_PER_WEEK` a week (:meth:`n_challengers`). Measured on a blind
    check's notions (``benchmarks/bench_deploy.py``; docs/explanation/learner-history.md).
    ``challenge_order`` (:data:`CHALLENGE_ORDERS`) picks the challengers: ``accuracy`` the most
    accurate rungs on held-out weeks; ``doubt``, among the rungs whose accuracy trails the
    model's by at most two standard errors, the one that most plausibly ranks the round's model
    re-solves less fair than their nominal decisions (the share of weeks it does, times the
    chance its accuracy is the model's or better: :func:`~fairtwin.learn.challenge.
    most_doubtful`). Measured on the third blind check's notions and ours, ``doubt`` moved
    weeks less fair between cells more than it removed them (relief-no-harm with 260 answers
    7.2 → 1.8 a run, with flipped labels 1.8 → 5.6) and cost the per-resident notion with 260
    answers 0.11 of the bound's gain: ``accuracy`` stays the default
    (docs/explanation/learner-history.md, "Challengers by doubt").
    """

    oracle: str = "rosenbrock"
    kappa: float = 1.0
    rater: str = "flip"
    noise: float = 0.0
    n_pairs: int = 1344
    rounds: int = 3
    n_best: int = 2
    final_check: bool = False
    challenge: bool = True
    challengers: int = 1
    challenge_order: str = "accuracy"
    round_mip_gap: float = 0.05
    round_node_limit: int = 20
    tie_margin: float = 0.0

    def __post_init__(self) -> None:
        if self.rater not in RATERS:
            raise UnknownNameError("rater", self.rater, RATERS)
        if not 0.0 <= self.tie_margin < 2.0:
            raise ValidationError(f"tie_margin must lie in [0, 2), got {self.tie_margin}")
        if self.noise < 0 or (self.rater == "flip" and self.noise > 0.5):
            what = ("lie in [0, 0.5] (the flip rater's flip rate)" if self.rater == "flip"
                    else "be non-negative (the logistic rater's temperature; 0: 0.05)")
            raise ValidationError(f"noise must {what}, got {self.noise:g}")
        if self.n_pairs < 1:
            raise ValidationError(f"n_pairs must be positive, got {self.n_pairs}")
        if self.rounds < 0 or self.n_best < 0:
            raise ValidationError("rounds and n_best must be non-negative")
        if self.challengers < 1:
            raise ValidationError(f"challengers must be at least 1 (challenge = false: none), "
                                  f"got {self.challengers}")
        if self.challenge_order not in CHALLENGE_ORDERS:
            raise UnknownNameError("challenge_order", self.challenge_order, CHALLENGE_ORDERS)
        if self.round_mip_gap < 0 or self.round_node_limit < 0:
            raise ValidationError("round_mip_gap and round_node_limit must be non-negative "
                                  "(0: the re-solve's own)")

    def round_resolve(self) -> dict[str, Any]:
        """The re-solve settings the active rounds change (none when both are 0)."""
        out: dict[str, Any] = {}
        if self.round_mip_gap:
            out["mip_gap"] = self.round_mip_gap
        if self.round_node_limit:
            out["node_limit"] = self.round_node_limit
        return out

    def n_challengers(self, n_train: int | None = None) -> int:
        """Challengers an active round holds (none without ``challenge``): ``challengers``, or
        fewer (one at least) while the random pairs left for ``n_train`` training weeks would
        number fewer than :data:`RANDOM_PER_WEEK` a week — the random pairs choose the ladder's
        rungs, which the challengers are. Without ``n_train``: ``challengers``."""
        if not self.challenge:
            return 0
        if n_train is None:
            return self.challengers
        for k in range(self.challengers, 1, -1):
            if self._random_left(n_train, k) >= RANDOM_PER_WEEK * n_train:
                return k
        return 1

    def per_round(self, n_train: int | None = None) -> int:
        """Comparisons an active round asks per training week: the re-solve against the nominal
        decision and the ``n_best`` best-rated samples, and with ``challenge`` against each
        challenger's re-solve (:meth:`n_challengers`; without ``n_train`` their most)."""
        return 1 + self.n_best + self.n_challengers(n_train)

    def _per_week(self, challengers: int) -> int:
        """Comparisons the active rounds and the final check ask per training week, with
        ``challengers`` a round."""
        return (self.rounds * (1 + self.n_best + challengers)
                + (1 if self.rounds and self.final_check else 0))

    def _random_left(self, n_train: int, challengers: int) -> int:
        return self.n_pairs - self._per_week(challengers) * n_train

    def n_random(self, n_train: int) -> int:
        """Random pairs asked before the active rounds, within the total budget."""
        per_week = self._per_week(self.n_challengers(n_train))
        n = self.n_pairs - per_week * n_train
        if n < 1:
            raise ValidationError(
                f"n_pairs = {self.n_pairs} leaves no random pairs after {self.rounds} active "
                f"rounds ({per_week} pairs per week, final check included) for {n_train} weeks; "
                "raise n_pairs or lower rounds"
            )
        return n


LEARNER_MODELS = ("outcomes", "siamese")


@dataclass(frozen=True)
class LearnerConfig:
    """Which learner, and its hyper-parameters.

    ``model = "outcomes"`` (default) is :class:`~fairtwin.learn.OutcomeCostLearner` (a
    group-shared quadratic over the twin's named outcomes; uses ``alpha``, ``linear`` and
    ``groups``); ``model = "siamese"`` is the paper's
    :class:`~fairtwin.learn.PreferenceCostLearner` (PCA + context MLP; uses every other setting).
    ``groups = ()`` (default) lets held-out weeks of the answers choose the outcome groups
    among the twin's base groups and its extra ones
    (:func:`~fairtwin.learn.evidence.select_groups`); names fix them. ``ties`` is what the
    outcome learner does with answers "equally fair": ``"davidson"`` (evidence of a small gap),
    ``"drop"``, or ``"auto"`` (default: whichever predicts held-out weeks' answers better,
    :func:`~fairtwin.learn.evidence.choose_tie_rule`). ``harm`` adds the harm rungs to the
    model ladder (``base+harm:g``: each member's rise over doing nothing; off by default while
    it is measured, docs/explanation/learner-history.md).
    """

    model: str = "outcomes"
    alpha: float = 0.01
    linear: bool = False
    harm: bool = False
    groups: tuple[str, ...] = ()
    ties: str = "auto"
    n_components: int = 30
    hidden: tuple[int, ...] = (20, 20, 20)
    loss: str = "hinge"
    margin: float = 0.1
    epsilon: float = 1e-3
    learning_rate: float = 1e-3
    batch_size: int = 32
    max_epochs: int = 300
    validation_fraction: float = 0.2
    validation_split: str = "pairs"
    weight_decay: float = 0.0
    structure: str = "full"
    contextual: bool = True

    def __post_init__(self) -> None:
        if self.model not in LEARNER_MODELS:
            raise UnknownNameError("learner model", self.model, LEARNER_MODELS)
        if self.loss not in LOSSES:
            raise UnknownNameError("loss", self.loss, LOSSES)
        if self.ties not in ("auto", *TIE_RULES):
            raise UnknownNameError("ties rule", self.ties, ("auto", *TIE_RULES))
        if self.n_components < 0:
            raise ValidationError(f"n_components must be non-negative (0: no PCA), got "
                                  f"{self.n_components}")

    def check_available(self) -> None:
        """Raise :class:`~fairtwin.exceptions.MissingExtraError` now, before any work, when
        the learner needs a package that is not installed (the paper's needs torch)."""
        if self.model == "siamese":
            require("torch", "paper", "the paper's Siamese learner (learner model 'siamese')")

    def make(self, random_state: np.random.Generator | int | None,
             groups: tuple[str, ...] | None = None, ties: str | None = None,
             linear: bool = False) -> Learner:
        """A fresh learner; ``groups`` and ``ties`` (the outcome learner's) override
        :attr:`groups` and :attr:`ties` (``"auto"`` alone makes a Davidson learner);
        ``linear`` adds linear weights (as :attr:`linear` does)."""
        if self.model == "outcomes":
            chosen = groups if groups is not None else (tuple(self.groups) or None)
            rule = ties or ("davidson" if self.ties == "auto" else self.ties)
            return OutcomeCostLearner(alpha=self.alpha, linear=self.linear or linear,
                                      groups=chosen, ties=rule, random_state=random_state)
        require("torch", "paper", "the paper's Siamese learner (learner model 'siamese')")
        from fairtwin.learn.estimator import PreferenceCostLearner

        params = asdict(self)
        for outcome_only in ("model", "alpha", "linear", "harm", "groups", "ties"):
            del params[outcome_only]
        params["hidden"] = tuple(params["hidden"])
        params["n_components"] = None if self.n_components <= 0 else self.n_components
        return PreferenceCostLearner(**params, random_state=random_state)


_SECTIONS: dict[str, type] = {
    "scenario": ScenarioConfig,
    "twin": dict,
    "sampler": SamplerConfig,
    "labels": LabelConfig,
    "learner": LearnerConfig,
    "resolve": ResolveConfig,
}


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything a run depends on; saved as ``config.toml`` in the output folder."""

    scenario: ScenarioConfig = field(default_factory=ScenarioConfig)
    #: the ``[twin]`` table: the twin's own settings, which the scenario's twin interprets (the
    #: ICU scenarios': :class:`~fairtwin.twin.icu.TwinConfig`'s fields); ``{}``: its defaults
    twin: dict[str, Any] = field(default_factory=dict)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    labels: LabelConfig = field(default_factory=LabelConfig)
    learner: LearnerConfig = field(default_factory=LearnerConfig)
    resolve: ResolveConfig = field(default_factory=ResolveConfig)
    seed: int = 0
    n_jobs: int = 2

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise ValidationError(f"seed must be non-negative, got {self.seed}")
        if self.n_jobs == 0:
            raise ValidationError("n_jobs must be a number of parallel workers (1 or more; "
                                  "-1: one per CPU), got 0")
        if self.labels.challenge and (self.learner.model != "outcomes" or self.learner.groups):
            # a challenge is between rungs of the model ladder, which only the outcome model
            # climbs (its groups not fixed): nothing to ask, so no comparisons set aside for it
            object.__setattr__(self, "labels", replace(self.labels, challenge=False))

    def check(self, scenario: Scenario | None = None) -> None:
        """Check, before any work, what no single section can check alone; raise the one-line
        error the CLI prints.

        The notion of fairness is one the twin has, as named (an unknown name lists them; a
        user's ``package.module:function`` is imported now): with ``scenario``, its twin's
        notions and outcome groups (:func:`check_names`; call it after :func:`with_oracle`,
        which names the twin's default instead of the built-in default ``rosenbrock``); without
        one, for a built-in scenario, the ICU twin's and the generic notions (so that a wrong
        name is said before the data loads); a user's twin is checked once it is given. The
        re-solve's solver and the learner's
        packages are installed (:class:`~fairtwin.exceptions.SolverUnavailableError`,
        :class:`~fairtwin.exceptions.MissingExtraError`). :func:`run_pipeline` and the CLI call
        it; the sections' own ``__post_init__`` check the rest (names, ranges)."""
        if scenario is not None:
            _check_oracle_name(self.labels.oracle, available_oracles(scenario.twin))
            check_names(self, scenario)
        elif not self.scenario.twin_path and is_builtin(self.scenario.name):
            _check_oracle_name(self.labels.oracle, list(dict.fromkeys(
                [*builtin_notions(self.scenario.name), *GENERIC_ORACLES])))
        if self.resolve.solver != "auto":
            get_solver(self.resolve.solver)
        self.learner.check_available()

    def to_dict(self) -> dict[str, Any]:
        """The settings as TOML-ready tables. A user's twin (a folder, or a scenario of another
        name) is recorded without the built-in scenarios' settings: no scenario name, seed or
        data file for a folder, no ``[twin]`` table (the built-in twin's settings) unless the
        scenario is a built-in one (:func:`~fairtwin.twin.scenarios.is_builtin`) and settings
        are given (a run records its twin's, :meth:`~fairtwin.twin.base.Twin.settings`); they
        read back as the defaults, which such a twin ignores."""
        out: dict[str, Any] = {"seed": self.seed, "n_jobs": self.n_jobs}
        own_twin = bool(self.scenario.twin_path) or not is_builtin(self.scenario.name)
        for name in _SECTIONS:
            if name == "twin" and own_twin:
                continue
            section = dict(self.twin) if name == "twin" else asdict(getattr(self, name))
            if name == "twin" and not section:
                continue
            if name == "scenario" and self.scenario.twin_path:
                for key in ("name", "seed", "data_path"):
                    del section[key]
            out[name] = {k: (list(v) if isinstance(v, tuple) else v)
                         for k, v in section.items() if v is not None}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> ExperimentConfig:
        allowed = set(_SECTIONS) | {"seed", "n_jobs"}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ValidationError(f"{source}: unknown section(s) {unknown}; allowed: {sorted(allowed)}")
        kwargs: dict[str, Any] = {k: data[k] for k in ("seed", "n_jobs") if k in data}
        for k, v in kwargs.items():
            if isinstance(v, bool) or not isinstance(v, int):
                raise ValidationError(f"{source}: {k} must be an integer, got {v!r}")
        data = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
        twin_path = data.get("twin", {}).pop("path", None) if isinstance(data.get("twin"), dict) else None
        if twin_path is not None:  # ``[twin] path = DIR`` names a twin folder
            if not isinstance(twin_path, str):
                raise ValidationError(f"{source} [twin]: path must be a string, got {twin_path!r}")
            data.setdefault("scenario", {})["twin_path"] = twin_path
        for name, section_cls in _SECTIONS.items():
            if name == "twin":  # the twin's own settings: checked by the scenario's twin
                table = data.get(name, {})
                if not isinstance(table, dict):
                    raise ValidationError(f"{source} [twin]: expected a table, got {table!r}")
                sc_table: dict[str, Any] = (data["scenario"] if isinstance(data.get("scenario"), dict)
                                            else {})
                scenario_name = sc_table.get("name", ScenarioConfig.name)
                if not sc_table.get("twin_path") and isinstance(scenario_name, str):
                    twin_settings(scenario_name, table, source)  # errors name the file
                kwargs[name] = dict(table)
                continue
            values = dict(data.get(name, {}))
            names = {f.name for f in fields(section_cls)}
            bad = sorted(set(values) - names)
            if bad:
                raise ValidationError(
                    f"{source}: unknown setting(s) {bad} in [{name}]; allowed: {sorted(names)}"
                )
            check_setting_types(section_cls, values, f"{source} [{name}]")
            for key in ("hidden", "groups"):
                if key in values and name == "learner":
                    values[key] = tuple(values[key])
            try:
                kwargs[name] = section_cls(**values)
            except UnknownNameError as exc:  # name the file and the section
                raise UnknownNameError(f"{exc.kind} in {source} [{name}]", exc.name,
                                       exc.allowed) from None
            except ValidationError as exc:
                raise ValidationError(f"{source} [{name}]: {exc}") from None
        return cls(**kwargs)

    def save(self, path: str | Path) -> None:
        text = tomli_w.dumps(self.to_dict())
        atomic_write(path, lambda tmp: Path(tmp).write_text(text), suffix=".toml")

    @classmethod
    def load(cls, path: str | Path) -> ExperimentConfig:
        return cls.from_dict(read_toml(path), source=str(path))

    def override(self, **sections: Any) -> ExperimentConfig:
        """A copy with some settings replaced, e.g. ``override(labels={"n_pairs": 448})``."""
        changes: dict[str, Any] = {}
        for name, values in sections.items():
            if name in ("seed", "n_jobs"):
                changes[name] = values
                continue
            values = {k: v for k, v in values.items() if v is not None}
            if values and name == "twin":
                changes[name] = {**self.twin, **values}
            elif values:
                changes[name] = replace(getattr(self, name), **values)
        return replace(self, **changes)


def _check_oracle_name(oracle: str, allowed: list[str]) -> None:
    """``oracle`` is one of ``allowed`` (``NAME:GROUP`` of one), or an importable callable."""
    base, sep, rest = oracle.partition(":")
    if base not in allowed:
        if not (sep and base and rest):
            raise UnknownNameError("oracle", oracle, [*allowed, "package.module:function"])
        import_oracle(oracle)  # a user's callable: importable now, not after the sampling


# ---------------------------------------------------------------------- helpers
def load_scenario(config: ExperimentConfig) -> Scenario:
    """The scenario of a configuration: a twin folder (``twin_path``) or a built-in scenario."""
    sc = config.scenario
    if sc.twin_path:
        from fairtwin.folder import load_twin_folder

        scenario = load_twin_folder(sc.twin_path)
    else:
        scenario = get_scenario(sc.name, seed=sc.seed, data_path=sc.data_path or None,
                                config=config.twin or None)
    check_weeks(fit_split(config, scenario)[0], scenario)
    check_names(config, scenario)
    return scenario


def fit_split(config: ExperimentConfig, scenario: Scenario) -> tuple[ExperimentConfig, str]:
    """The configuration with the default split fitted to the scenario, and a note saying so.

    The default split (``n_train = 52``, ``n_held_out = 0``: 52 training and 52 held-out
    contexts) needs 104 contexts from the first training one; a scenario with fewer is split
    in half instead (``n // 2`` each; a twin of 30 contexts runs 15 + 15, one of 80 runs
    40 + 40). A split the user chose is kept (:func:`check_weeks` says if it does not fit).
    The note is ``""`` when nothing changed.
    """
    sc = config.scenario
    if (sc.n_train, sc.n_held_out) != (ScenarioConfig.n_train, ScenarioConfig.n_held_out):
        return config, ""
    first = sc.first_week(scenario)
    available = scenario.n_weeks - first
    half = available // 2
    if available >= sc.n_weeks or half < 1:
        return config, ""
    where = f" from {scenario.contexts[first].start}" if sc.train_from else ""
    unit = context_word(config, scenario)
    note = (f"{scenario.name}: {available} {unit}{where}, fewer than the default "
            f"{sc.n_train} training + {sc.n_train} held-out need; running {half} training + "
            f"{half} held-out {unit} (choose with --train-{unit} and --held-out-{unit}, or "
            f"[scenario] n_train and n_held_out)")
    return config.override(scenario={"n_train": half, "n_held_out": half}), note


def check_names(config: ExperimentConfig, scenario: Scenario) -> None:
    """Every name of the configuration that the twin defines is one of it, checked now, before
    any work: the oracle (an unknown name lists the twin's notions; a callable is imported),
    the outcome group an oracle ``NAME:GROUP`` or the learner's ``groups`` name (the groups of
    the first context's outcomes)."""
    oracle = oracle_of(config, scenario)
    outcomes = scenario.twin.outcomes(scenario.contexts[0])
    group = getattr(oracle, "group", None)
    if isinstance(oracle, OutcomeGroupOracle) and group and group not in outcomes.group_names:
        raise UnknownNameError(f"outcome group of oracle {oracle_name(config, scenario)!r}",
                               group, outcomes.group_names)
    if config.learner.model == "outcomes" and config.learner.groups:
        check_group_spec(outcomes, config.learner.groups)  # unknown groups list the allowed ones


def with_oracle(config: ExperimentConfig, scenario: Scenario) -> ExperimentConfig:
    """The configuration naming the notion of fairness that runs (:func:`oracle_name`), so that
    the saved ``config.toml``, the printout and ``metrics.json`` say the same."""
    return config.override(labels={"oracle": oracle_name(config, scenario)})


def check_weeks(config: ExperimentConfig, scenario: Scenario) -> None:
    """The scenario has the training and held-out weeks the configuration asks for."""
    sc = config.scenario
    first = sc.first_week(scenario)
    if scenario.n_weeks < first + sc.n_weeks:
        start = scenario.contexts[first].start
        last = scenario.contexts[-1].start
        where = f" from {start}" if sc.train_from else ""
        unit = context_word(config, scenario)
        dates = f" (its last {unit[:-1]} starts {last})" if last else ""
        raise ValidationError(
            f"scenario {scenario.name!r} has {scenario.n_weeks - first} {unit}{where}{dates}; "
            f"{sc.n_train} training + {sc.n_weeks - sc.n_train} held-out {unit} need "
            f"{sc.n_weeks}: lower --train-weeks or --held-out-weeks ([scenario] n_train, "
            f"n_held_out)"
        )


def context_word(config: ExperimentConfig, scenario: Scenario) -> str:
    """What the scenario's contexts are called in messages: ``"weeks"`` for a built-in
    scenario, ``"contexts"`` for a user's twin (a folder or one given to :func:`run_pipeline`)."""
    builtin = not config.scenario.twin_path and is_builtin(scenario.name)
    return "weeks" if builtin else "contexts"


def guard_of(scenario: Scenario) -> str | None:
    """The name of the twin's guarded quantity (:attr:`~fairtwin.twin.base.Twin.guard_name`),
    or ``None`` when the twin has no guard (its first context's problem has no guard row):
    what the printout and ``metrics.json`` call it, if anything."""
    twin = scenario.twin
    if twin.guard_row(twin.build(scenario.contexts[0])) is None:
        return None
    return twin.guard_name


def split_dates(dataset: PreferenceDataset, scenario: Scenario) -> dict[str, dict[str, Any]]:
    """Which weeks each split covers: first and last label (and dates), and the count."""
    n_train = len(train_rows(dataset))
    out = {}
    starts = [c.start for c in scenario.contexts if c.start is not None]
    # a context lasts until the next one starts (a week for the built-in scenarios)
    gaps = [(b - a).days for a, b in zip(starts, starts[1:], strict=False) if b > a]
    span = timedelta(days=max(int(np.median(gaps)) - 1, 0) if gaps else 6)
    for split, rows in (("train", range(n_train)), ("held-out", range(n_train, dataset.n_contexts))):
        ctx = [scenario.contexts[int(dataset.context_ids[r])] for r in rows]
        if ctx:
            out[split] = {"contexts": len(ctx), "first": ctx[0].label, "last": ctx[-1].label,
                          "from": str(ctx[0].start or ""),
                          "to": str(ctx[-1].start + span) if ctx[-1].start else ""}
    return out


def stage_seed(config: ExperimentConfig, stage: str) -> np.random.Generator:
    """An independent generator per stage, derived from the run seed."""
    key = [config.seed] + [ord(ch) for ch in stage]
    return np.random.default_rng(key)


def _check_dataset_matches(dataset: PreferenceDataset, scenario: Scenario) -> None:
    if dataset.n_vars != scenario.twin.n_decision:
        raise ValidationError(
            f"the dataset's decisions have {dataset.n_vars} entries but scenario "
            f"{scenario.name!r} has {scenario.twin.n_decision}"
        )
    if dataset.scenario and dataset.scenario != scenario.name:
        raise ValidationError(
            f"the dataset was made on scenario {dataset.scenario!r}, not {scenario.name!r}"
        )
    if dataset.context_ids.max(initial=-1) >= scenario.n_weeks:
        raise ValidationError("the dataset refers to weeks the scenario does not have")


def nominal_indices(dataset: PreferenceDataset) -> NDArray[np.int64]:
    """Index of the nominal decision of each context (the first decision of each context)."""
    firsts = np.full(dataset.n_contexts, -1, dtype=np.int64)
    for i in range(dataset.n_decisions - 1, -1, -1):
        firsts[dataset.decision_context[i]] = i
    return firsts


def train_rows(dataset: PreferenceDataset) -> NDArray[np.int64]:
    n = int(dataset.info.get("n_train", dataset.n_contexts))
    return np.arange(min(n, dataset.n_contexts))


# ---------------------------------------------------------------------- stages
def sample_stage(
    config: ExperimentConfig, scenario: Scenario, progress: bool = False
) -> PreferenceDataset:
    """Nominal plus diverse decisions for the training and held-out weeks."""
    first = config.scenario.first_week(scenario)
    contexts = scenario.contexts[first : first + config.scenario.n_weeks]
    samples = sample_decisions(scenario.twin, contexts, config.sampler,
                               stage_seed(config, "sample"), n_jobs=config.n_jobs,
                               progress=progress)
    decisions = np.vstack([s.decisions for s in samples])
    decision_context = np.concatenate(
        [np.full(s.decisions.shape[0], k) for k, s in enumerate(samples)]
    )
    return PreferenceDataset(
        context_ids=np.array([c.index for c in contexts]),
        context_features=np.array([c.features() for c in contexts]),
        decisions=decisions,
        decision_context=decision_context,
        scenario=scenario.name,
        info={"n_train": config.scenario.n_train,
              "n_targeted": [s.n_targeted for s in samples]},
    )


def reuse_samples(samples: PreferenceDataset, config: ExperimentConfig,
                  scenario: Scenario) -> PreferenceDataset:
    """A copy of an earlier run's sampled decisions to run ``config`` on, in place of
    :func:`sample_stage`: they must be of the scenario, the weeks and the split the
    configuration asks for, and hold no comparisons yet."""
    _check_dataset_matches(samples, scenario)
    first = config.scenario.first_week(scenario)
    weeks = [c.index for c in scenario.contexts[first : first + config.scenario.n_weeks]]
    if samples.n_comparisons or not np.array_equal(samples.context_ids, weeks) \
            or len(train_rows(samples)) != config.scenario.n_train:
        raise ValidationError(
            f"the samples are not of this run: {samples.n_contexts} contexts from "
            f"{samples.context_ids[:1]} ({len(train_rows(samples))} training), "
            f"{samples.n_comparisons} comparisons; the configuration asks for "
            f"{len(weeks)} from [{weeks[0]}] ({config.scenario.n_train} training) and none")
    return samples.subset_contexts(np.arange(samples.n_contexts))


def _rater(config: ExperimentConfig, scenario: Scenario, rng: np.random.Generator,
           oracle: FairnessOracle | None = None) -> Rater:
    """The run's simulated rater (of ``oracle``, default the run's notion)."""
    return get_rater(config.labels.rater, oracle if oracle is not None else oracle_of(config, scenario),
                     config.labels.noise, rng, tie_margin=config.labels.tie_margin)


def _ask(dataset, scenario, rater, ctx_rows, a, b, round_):  # type: ignore[no-untyped-def]
    """Ask the rater about pairs (a[k], b[k]) of context rows ctx_rows[k]; store the answers
    (pairs judged equally fair as ties) and return the verdicts (1: a, −1: b, 0: equal)."""
    said = np.empty(len(a), dtype=np.int8)
    for row in np.unique(ctx_rows):
        sel = np.flatnonzero(ctx_rows == row)
        context = scenario.contexts[int(dataset.context_ids[row])]
        said[sel] = rater.judge(dataset.decisions[a[sel]], dataset.decisions[b[sel]], context)
    won = said != 0
    winners = np.where(said > 0, a, b)[won]
    losers = np.where(said > 0, b, a)[won]
    dataset.add_comparisons(np.asarray(ctx_rows)[won], winners, losers, round=round_)
    if not won.all():
        dataset.add_ties(np.asarray(ctx_rows)[~won], np.asarray(a)[~won], np.asarray(b)[~won])
    return said


def label_stage(
    dataset: PreferenceDataset,
    config: ExperimentConfig,
    scenario: Scenario,
    n_pairs: int | None = None,
    rng: np.random.Generator | None = None,
) -> PreferenceDataset:
    """Ask the simulated rater about ``n_pairs`` random pairs of the training weeks (round 0).

    Pairs are drawn uniformly without replacement from all pairs of decisions of the same week.
    """
    rng = rng or stage_seed(config, "label")
    _check_dataset_matches(dataset, scenario)
    labels = config.labels
    if n_pairs is None:
        n_pairs = labels.n_random(len(train_rows(dataset)))
    rater = _rater(config, scenario, rng)
    pairs = pair_pool(dataset, train_rows(dataset))
    if n_pairs > pairs.shape[0]:
        log.warning("only %d distinct pairs exist; asking all of them instead of %d",
                    pairs.shape[0], n_pairs)
        n_pairs = pairs.shape[0]
    chosen = pairs[rng.choice(pairs.shape[0], size=n_pairs, replace=False)]
    _ask(dataset, scenario, rater, chosen[:, 0], chosen[:, 1], chosen[:, 2], 0)
    return dataset


def pair_pool(dataset: PreferenceDataset, rows: NDArray[np.int64]) -> NDArray[np.int64]:
    """Every unordered pair of decisions of the same context, for the context ``rows``.

    Returns an array of shape (n_pairs, 3): context row, decision i, decision j (i < j).
    """
    pool = []
    for row in rows:
        idx = dataset.decisions_of(int(row))
        i, j = np.triu_indices(idx.size, k=1)
        pool.append(np.column_stack([np.full(i.size, row), idx[i], idx[j]]))
    return np.vstack(pool).astype(np.int64)


def outcome_maps(scenario: Scenario, dataset: PreferenceDataset) -> list[Outcomes]:
    """The twin's named outcomes of every context row of ``dataset``."""
    return [scenario.twin.outcomes(scenario.contexts[int(i)]) for i in dataset.context_ids]


def preference_scale(learner: Learner, dataset: PreferenceDataset,
                     outcomes: list[Outcomes] | None = None) -> float:
    """Median ``|f(winner) − f(loser)|`` of the learned cost on the dataset's comparisons."""
    f = learner.costs_of(dataset, outcomes)
    gaps = np.abs(f[dataset.comparisons[:, 1]] - f[dataset.comparisons[:, 2]])
    scale = float(np.median(gaps))
    return scale if scale > 0 else 1.0


def _resolve_one(twin, context, cost, f_scale, config, nominal, candidates):  # type: ignore[no-untyped-def]
    res = resolve_context(twin, context, cost, f_scale, config, nominal, candidates)
    return res.decision, res.time_s, res.status


def resolve_stage(
    learner: Learner,
    f_scale: float,
    dataset: PreferenceDataset,
    config: ExperimentConfig,
    scenario: Scenario,
    rows: NDArray[np.int64] | None = None,
    progress: bool = False,
    desc: str = "resolve",
) -> tuple[NDArray[np.float64], NDArray[np.float64], list[str]]:
    """Re-solve contexts (rows of ``dataset``) with the learned cost.

    Returns the decisions (n_rows, n_decision), the solve times and statuses.
    """
    _check_dataset_matches(dataset, scenario)
    rows = np.arange(dataset.n_contexts) if rows is None else np.asarray(rows)
    nom = nominal_indices(dataset)
    twin = scenario.twin
    maps = outcome_maps(scenario, dataset)
    jobs = []
    for row in rows:
        context = scenario.contexts[int(dataset.context_ids[row])]
        cost = learner.context_cost(dataset, int(row), maps)
        nominal = twin.complete(dataset.decisions[nom[row]], context)
        candidates = dataset.decisions[dataset.decisions_of(int(row))]
        jobs.append(delayed(_resolve_one)(twin, context, cost, f_scale, config.resolve, nominal,
                                          candidates))
    runner = Parallel(n_jobs=config.n_jobs, return_as="generator")
    out = list(tqdm(runner(jobs), total=len(jobs), desc=desc, unit="week", disable=not progress))
    U = np.array([o[0] for o in out]).reshape(len(rows), twin.n_decision)
    return U, np.array([o[1] for o in out]), [o[2] for o in out]


def deploy_stage(
    learner: Learner,
    f_scale: float,
    dataset: PreferenceDataset,
    proposed: NDArray[np.float64],
    config: ExperimentConfig,
    scenario: Scenario,
    rows: NDArray[np.int64] | None = None,
) -> Deployment:
    """Decide, per context, what to deploy (:mod:`fairtwin.deploy`): the re-solve's proposal,
    a cautious re-solve, the cautious re-solve within the outcomes the context's candidates span,
    the context's best own candidate, or the nominal decision — the first the posterior supports.
    ``f_scale`` prices the learned cost as in :func:`resolve_stage`; a rung is solved only when
    the ones above it are not supported.

    With ``resolve.deploy = "always"``, or a learner without a posterior (the paper's), every
    proposal is deployed; the probabilities are then ``nan``. Without support in the evidence
    (lack of fit, or no agreement with unseen weeks), every context keeps its nominal decision.
    """
    rows = np.arange(dataset.n_contexts) if rows is None else np.asarray(rows)
    n, nan = len(rows), np.full(len(rows), np.nan)
    evidence: Evidence | None = getattr(learner, "evidence_", None)
    if (config.resolve.deploy == "always" or evidence is None
            or not isinstance(learner, OutcomeCostLearner)):
        return Deployment(proposed.copy(), proposed.copy(), ["re-solve"] * n, nan, nan.copy(),
                          nan.copy(), nan.copy())
    nom = nominal_indices(dataset)
    if not evidence.supported:
        half = np.full(n, 0.5)
        return Deployment(dataset.decisions[nom[rows]], proposed.copy(), ["nominal"] * n, half,
                          half.copy(), half.copy(), half.copy())
    maps = outcome_maps(scenario, dataset)
    method = config.resolve.posterior
    if method == "bootstrap" and getattr(learner, "bootstrap_", None) is None:
        log.warning("the model has no bootstrap draws (trained before they were kept): the "
                    "deployment rule uses its Laplace posterior; retrain it for the bootstrap")
        method = "laplace"
    draws = learner.posterior_draws(1000, random_state=stage_seed(config, "deploy"),
                                    fix_scale=True, method=method)
    cautious = learner.cautious_weights(draws)
    rivals = _rival_models(learner, dataset, maps, config) if config.resolve.rivals else []
    decisions = proposed.copy()
    choice: list[str] = []
    prob, low, high, answer = nan.copy(), nan.copy(), nan.copy(), nan.copy()
    jobs = []
    for k, row in enumerate(map(int, rows)):
        jobs.append(delayed(_deploy_one)(
            learner, f_scale, scenario.twin, scenario.contexts[int(dataset.context_ids[row])],
            maps[row], dataset.decisions[dataset.decisions_of(row)], dataset.decisions[nom[row]],
            proposed[k], draws, cautious, evidence, config.resolve, rivals))
    refused = 0
    for k, (first, name, u) in enumerate(Parallel(n_jobs=config.n_jobs)(jobs)):
        prob[k], low[k], high[k], answer[k] = first.better, first.low, first.high, first.probability
        refused += int(not first.agreed and first.better >= config.resolve.min_probability)
        choice.append(name)
        decisions[k] = u
    log.info("%d rival model(s) refused %d supported re-solve(s) of %d", len(rivals), refused, n)
    return Deployment(decisions, proposed.copy(), choice, prob, low, high, answer)


def _rival_models(learner: OutcomeCostLearner, dataset: PreferenceDataset,
                  maps: list[Outcomes], config: ExperimentConfig) -> list[OutcomeCostLearner]:
    """The chosen model's rivals (:func:`fairtwin.deploy.rival_rungs`), fitted on the same
    answers (:func:`fairtwin.deploy.rivals_agree`)."""
    choice: ModelChoice | None = getattr(learner, "model_choice_", None)
    if choice is None:  # a fixed model: no ladder climbed
        return []
    rows = rival_rungs(choice.table, choice.name)
    if rows:
        log.info("rival models of %s: %s", choice.name, ", ".join(r["name"] for r in rows))
    return [_fit_rung(config, r, learner.ties, dataset, maps) for r in rows]


def _fit_rung(config: ExperimentConfig, row: dict[str, Any], ties: str | None,
              dataset: PreferenceDataset, maps: list[Outcomes]) -> OutcomeCostLearner:
    """The rung of a model ladder's table ``row`` (its name and groups), with the tie rule
    ``ties``, fitted on ``dataset``'s answers: a rival model or a challenger."""
    return rung_learner(lambda groups: config.learner.make(0, groups, ties), row["name"],
                        tuple(row["groups"])).fit(dataset, outcomes=maps)


def _deploy_one(learner: OutcomeCostLearner, f_scale: float, twin: Twin, context: Any,
                outcomes: Outcomes, candidates: NDArray[np.float64], u_nom: NDArray[np.float64],
                proposal: NDArray[np.float64], draws: NDArray[np.float64],
                cautious: NDArray[np.float64], evidence: Evidence, resolve: ResolveConfig,
                rivals: Sequence[OutcomeCostLearner] = ()
                ) -> tuple[Support, str, NDArray[np.float64]]:
    """One context's ladder: the proposal's support, the rung deployed and its decision (a job:
    it gets only its own context's data)."""

    def support(u: NDArray[np.float64]) -> Support:
        pair = np.stack([u, u_nom])
        f = learner.learned_costs(outcomes, pair, candidates, draws)
        s = support_of(f[:, 0], f[:, 1], evidence.answer_link.probability, evidence.supported)
        agreed = rivals_agree(r.learned_costs(outcomes, pair, candidates) for r in rivals)
        return replace(s, agreed=agreed)

    def careful(region: bool) -> NDArray[np.float64]:
        cost = learner.cost(outcomes, candidates, cautious)
        box = _candidate_box(learner, outcomes, candidates) if region else None
        return resolve_context(twin, context, cost, f_scale, resolve,
                               twin.complete(u_nom, context), candidates, region=box).decision

    def best_candidate() -> NDArray[np.float64]:
        cost = learner.cost(outcomes, candidates)
        return select_candidate(twin, context, cost, candidates,
                                twin.guarded(u_nom, context)).decision

    first = support(proposal)
    ladder: list[tuple[str, Callable[[], NDArray[np.float64]]]] = [("re-solve", lambda: proposal)]
    if resolve.mode != "select":
        ladder += [("cautious", lambda: careful(False)), ("bounded", lambda: careful(True))]
    ladder.append(("select", best_candidate))
    tried: list[NDArray[np.float64]] = []

    def supports() -> Iterator[Support]:
        """Each rung's support, solving it only when asked (the rungs above were refused); a
        rung that is the nominal decision (or whose solve failed) supports nothing."""
        for k, (name, make) in enumerate(ladder):
            u = rung_or_nominal(make, u_nom, name, context.label)
            tried.append(u)
            if np.array_equal(u, u_nom):
                yield Support(0.5, 0.5, 0.5, 0.0)
            else:
                yield first if k == 0 else support(u)

    j = choose(supports(), resolve.min_probability)
    if j < 0:
        return first, "nominal", u_nom.copy()
    return first, ladder[j][0], tried[j]


def rung_or_nominal(solve: Callable[[], NDArray[np.float64]], u_nom: NDArray[np.float64],
                    rung: str, label: str) -> NDArray[np.float64]:
    """The decision of a lower rung of the deployment ladder (``solve()``), or the nominal
    decision ``u_nom`` — which supports nothing, so the ladder goes on to the next rung — when
    the solver ends without a decision (:class:`~fairtwin.exceptions.SolveLimitError`, logged
    as a warning). A lower rung is a more careful alternative to a re-solve the posterior did
    not support; its solve failing is no reason to stop the run (the food-bank twin, the
    prioritarian notion, 1344 answers, seed 4: HiGHS's QP solver ended the cautious re-solve
    of week 78 with a solve error, its retry too, and the whole run stopped)."""
    try:
        return solve()
    except SolveLimitError as err:
        log.warning("%s: the %s rung has no decision (%s); the ladder goes on to the next rung",
                    label, rung, err)
        return np.array(u_nom, dtype=np.float64, copy=True)


def _candidate_box(learner: OutcomeCostLearner, outcomes: Outcomes, candidates: NDArray[np.float64]
                   ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """``(A, lower, upper)``: the learner's outcomes (``A u + b``), and each group's sum, kept
    within the range its context's candidates span (the bounded re-solve's trust region: a box
    per outcome alone lets every member reach its largest value at once)."""
    out = learner.model_outcomes(outcomes)
    gidx = out.group_index()
    G = int(gidx.max()) + 1
    S = np.zeros((G, out.n_outcomes))
    S[gidx, np.arange(out.n_outcomes)] = 1.0
    A = np.vstack([out.matrix, S @ out.matrix])
    b = np.r_[out.offset, S @ out.offset]
    values = candidates @ A.T + b
    return A, values.min(axis=0) - b - 1e-9, values.max(axis=0) - b + 1e-9


@dataclass(frozen=True)
class Duel:
    """One challenge of an active round: the ``challenger`` rung, how many of the
    ``head_to_head`` answers with a winner preferred its re-solve to the model's
    (``challenger_wins``), and the ``verdict`` (:func:`~fairtwin.learn.challenge.verdict`)."""

    challenger: str
    challenger_wins: int
    head_to_head: int
    verdict: str

    def describe(self) -> str:
        """The duel in words, for the run's printout."""
        if self.verdict == "same":
            return f"challenger {self.challenger} proposed the model's decisions"
        return (f"challenger {self.challenger} preferred head to head in {self.challenger_wins} "
                f"of {self.head_to_head} answers ({self.verdict})")


@dataclass(frozen=True)
class RoundRecord:
    """One active round.

    ``resolved_fairer_than_nominal`` counts the training weeks where the rater preferred the
    re-solve of the model used in this round (fitted before it) to the nominal decision;
    ``selected`` marks the model that :func:`train_stage` kept. The last record with
    ``refit = False`` is the final check of the last model. ``challenges`` are the round's
    head-to-head bouts (:mod:`fairtwin.learn.challenge`), in the order they were settled.
    """

    round: int
    n_comparisons: int
    train_accuracy: float
    resolved_fairer_than_nominal: int
    refit: bool = True
    selected: bool = False
    challenges: tuple[Duel, ...] = ()


def train_stage(
    dataset: PreferenceDataset,
    config: ExperimentConfig,
    scenario: Scenario,
    progress: bool = False,
) -> tuple[Learner, float, list[RoundRecord]]:
    """Fit on the training weeks, then run the active rounds.

    Each round re-solves the training weeks with the current model, asks the rater to compare
    each re-solved decision with the nominal one and the ``n_best`` best-rated samples, and
    refits. With ``final_check`` the last model's re-solves are compared with the nominal
    decisions too, and the model whose re-solves the rater preferred in the most weeks is kept
    (later models win ties): active rounds can also make a model worse. Answers from people
    (:func:`from_people`) get no active rounds: the simulated rater's answers would join theirs.
    """
    _check_dataset_matches(dataset, scenario)
    if from_people(dataset) and config.labels.rounds:
        log.info("the answers come from people: no simulated active rounds (labels.rounds = %d "
                 "ignored)", config.labels.rounds)
        config = config.override(labels={"rounds": 0})
    rows = train_rows(dataset)
    fit = _Fitter(dataset, rows, config, scenario)
    rater = _rater(config, scenario, stage_seed(config, "active"))
    labels = config.labels
    history: list[RoundRecord] = []
    round_config = config.override(resolve=labels.round_resolve())

    def ask_round(learner: Learner, f_scale: float, r: int, n_best: int, challengers: int = 0
                  ) -> tuple[int, list[tuple[str, int, int]]]:
        rival = (lambda U: _rival_resolves(fit, U, r, round_config, progress, challengers)) \
            if challengers else None
        return _ask_round(learner, f_scale, dataset, rows, round_config, scenario, rater, r, n_best,
                          progress, rival)

    learner, f_scale, acc = fit(choose=True)
    candidates: list[tuple[int, int, Learner, float]] = []
    for r in range(1, labels.rounds + 1):
        fairer, duels = ask_round(learner, f_scale, r, labels.n_best,
                                  labels.n_challengers(len(rows)))
        candidates.append((fairer, r - 1, learner, f_scale))
        if duels:
            fit.settle(r, duels)
        # the final model chooses anew; after a challenge, so does the next round's
        learner, f_scale, acc = fit(choose=r == labels.rounds or bool(duels))
        history.append(RoundRecord(r, dataset.n_comparisons, acc, fairer,
                                   challenges=fit.duels(r)))
        log.info("active round %d: %d comparisons, re-solve judged fairer than nominal in %d "
                 "weeks, training accuracy %.3f", r, dataset.n_comparisons, fairer, acc)
    if labels.rounds and labels.final_check:
        r = labels.rounds + 1
        fairer, _ = ask_round(learner, f_scale, r, 0)
        candidates.append((fairer, r - 1, learner, f_scale))
        history.append(RoundRecord(r, dataset.n_comparisons, acc, fairer, refit=False))
        learner, f_scale, history = _keep_best(candidates, history, len(rows))
    if isinstance(learner, OutcomeCostLearner):
        _assess(learner, dataset.subset_contexts(rows), config, scenario)
    return learner, f_scale, history


class _Fitter:
    """Fits a learner on the training weeks ``rows`` of ``dataset`` (one seed for all fits,
    drawn in turn); called with ``choose``, held-out weeks first choose the outcome groups
    (kept for the later fits). Returns the learner, f_scale and the training accuracy."""

    def __init__(self, dataset: PreferenceDataset, rows: NDArray[np.int64],
                 config: ExperimentConfig, scenario: Scenario) -> None:
        self.dataset, self.rows, self.config, self.scenario = dataset, rows, config, scenario
        self.rng = stage_seed(config, "train")
        self.choosing = config.learner.model == "outcomes" and not config.learner.groups
        self.choice: ModelChoice | None = None
        self.ties: tuple[str, list[dict[str, Any]]] | None = None  # the rule held-out weeks chose
        self.bouts: list[dict[str, Any]] = []  # the active rounds' challenges
        self.order: list[dict[str, Any]] = []  # the latest ladder, whose rungs challenge

    def __call__(self, choose: bool = False) -> tuple[Learner, float, float]:
        config = self.config
        train = self.dataset.subset_contexts(self.rows)
        maps = outcome_maps(self.scenario, train)
        if choose and self.choosing:
            self.choice = select_groups(lambda g: config.learner.make(0, g), train, maps,
                                        harm=config.learner.harm,
                                        random_state=stage_seed(config, "select"),
                                        n_jobs=config.n_jobs)
            self.order = self.choice.table
            self.choice = settle_choice(self.choice, self.bouts)
        if (choose and train.n_ties and config.learner.ties == "auto"
                and config.learner.model == "outcomes"):
            self._choose_ties(train, maps)
        choice = self.choice
        learner = config.learner.make(int(self.rng.integers(0, 2**31 - 1)),
                                      choice.groups if choice else None,
                                      self.ties[0] if self.ties else None,
                                      linear=bool(choice and choice.linear))
        learner.fit(train, outcomes=maps)
        if choice and isinstance(learner, OutcomeCostLearner):
            learner.model_choice_ = choice
        return learner, preference_scale(learner, train, maps), learner.score(train, maps)


    def challenger(self, skip: Collection[str] = (), U: NDArray[np.float64] | None = None
                   ) -> tuple[str, Learner, float] | None:
        """The next challenger of the model among the latest ladder's rungs not named in
        ``skip``: with ``challenge_order = "accuracy"`` (or without the model's re-solves ``U``
        of the training weeks) :func:`~fairtwin.learn.challenge.next_challenger`, with
        ``"doubt"`` :meth:`_doubter`. Its name, and its model fitted on the answers so far with
        its ``f_scale``; ``None`` without a ladder or when no rung is left."""
        if self.choice is None or not self.order:
            return None
        order = [row for row in self.order if row["name"] not in skip]
        train = self.dataset.subset_contexts(self.rows)
        maps = outcome_maps(self.scenario, train)
        ties = self.ties[0] if self.ties else None
        fitted: OutcomeCostLearner | None = None
        if U is not None and self.config.labels.challenge_order == "doubt":
            row, fitted = self._doubter(order, U, train, maps, ties)
        else:
            row = next_challenger(order, self.choice.name, self.bouts)
        if row is None:
            return None
        model = fitted if fitted is not None else _fit_rung(self.config, row, ties, train, maps)
        return str(row["name"]), model, preference_scale(model, train, maps)

    def _doubter(self, order: list[dict[str, Any]], U: NDArray[np.float64],
                 train: PreferenceDataset, maps: list[Outcomes], ties: str | None
                 ) -> tuple[dict[str, Any] | None, OutcomeCostLearner | None]:
        """The rung left to challenge (:func:`~fairtwin.learn.challenge.challengers_left`) that
        the random pairs do not rule out (:func:`~fairtwin.learn.challenge.not_ruled_out`) and
        that, fitted on the answers so far, most plausibly ranks the model's re-solves ``U``
        less fair than their weeks' nominal decisions (:func:`~fairtwin.learn.challenge.
        most_doubtful`), with its fitted model; the most accurate rung left, not yet fitted,
        when none is within reach."""
        assert self.choice is not None
        left = challengers_left(order, self.choice.name, self.bouts)
        near = not_ruled_out(self.order, left, self.choice.name)
        if not near:
            return next_challenger(order, self.choice.name, self.bouts), None
        nom = nominal_indices(train)
        fitted = {str(r["name"]): _fit_rung(self.config, r, ties, train, maps) for r in near}
        doubt = {}
        for name, model in fitted.items():
            worse = [model.preference_gaps(maps[k], U[k], train.decisions[nom[k]],
                                           train.decisions[train.decisions_of(k)])[0] < 0
                     for k in range(train.n_contexts)]
            doubt[name] = float(np.mean(worse))
        row = most_doubtful(self.order, near, self.choice.name, doubt)
        assert row is not None
        log.info("challenger by doubt: %s (ranks %.2f of the model's re-solves less fair than "
                 "nominal; %s)", row["name"], doubt[str(row["name"])],
                 ", ".join(f"{n} {d:.2f}" for n, d in doubt.items()))
        return row, fitted[str(row["name"])]

    def settle(self, r: int, duels: Sequence[tuple[str, int, int]]) -> None:
        """Round ``r``'s challenges of the model (each challenger's name, the head-to-head
        answers it won and those given with a winner: :func:`~fairtwin.learn.challenge.bout`),
        recorded in their :func:`~fairtwin.learn.challenge.settling_order`; a round that held
        one re-chooses the ladder next, and :func:`~fairtwin.learn.challenge.settle_choice`
        hands the model to the winner."""
        assert self.choice is not None
        for said in settling_order([bout(r, self.choice.name, *d) for d in duels]):
            self.bouts.append(said)
            log.info("round %d: challenger %s preferred to %s in %d of %d answers: %s", r,
                     said["challenger"], said["incumbent"], said["wins"], said["answers"],
                     said["verdict"])
        self.choice = replace(self.choice, challenges=[dict(b) for b in self.bouts])

    def duels(self, r: int) -> tuple[Duel, ...]:
        """Round ``r``'s bouts as :class:`Duel` records, those of challengers that proposed
        the model's decisions included."""
        return tuple(Duel(b["challenger"], b["wins"], b["answers"], b["verdict"])
                     for b in self.bouts if b["round"] == r)

    def _choose_ties(self, train: PreferenceDataset, maps: list[Outcomes]) -> None:
        """Held-out weeks choose whether answers "equally fair" are evidence (Davidson) or
        dropped (:func:`choose_tie_rule`); the model choice records it."""
        config, choice = self.config, self.choice
        groups, linear = (choice.groups, choice.linear) if choice else (None, False)
        self.ties = choose_tie_rule(lambda t: config.learner.make(0, groups, t, linear=linear),
                                    train, maps, random_state=stage_seed(config, "ties"))
        if choice:
            self.choice = replace(choice, ties=self.ties[0], tie_table=self.ties[1])


def _keep_best(candidates: list[tuple[int, int, Learner, float]], history: list[RoundRecord],
               n_weeks: int) -> tuple[Learner, float, list[RoundRecord]]:
    """The final check's choice: the model whose re-solves the rater preferred to the nominal
    decision in the most weeks (the later on ties), its f_scale, and the rounds marked."""
    best = max(candidates, key=lambda c: (c[0], c[1]))
    _, index, learner, f_scale = best
    history = [replace(h, selected=(h.round - 1 == index)) for h in history]
    log.info("kept the model of round %d (re-solve fairer than nominal in %d of %d weeks)",
             index, best[0], n_weeks)
    return learner, f_scale, history


#: Rungs a round tries for each of its challengers, at most, when their re-solves are the
#: model's own
MAX_TRIES = 3


def _rival_resolves(fit: _Fitter, U: NDArray[np.float64], r: int, config: ExperimentConfig,
                    progress: bool, challengers: int = 1) -> list[tuple[str, NDArray[np.float64]]]:
    """Round ``r``'s challengers, ``challengers`` at most, and their re-solves (under
    ``config``) of the fitter's training weeks: the next challengers of the model
    (:meth:`_Fitter.challenger`) whose re-solves differ from the model's ``U`` in some week —
    one that proposes the same decisions everywhere is recorded as such (it has met the model)
    and the next is tried, :data:`MAX_TRIES` at most for each; empty when no rung is left."""
    found: list[tuple[str, NDArray[np.float64]]] = []
    tries = 0
    while len(found) < challengers and tries < MAX_TRIES * challengers:
        rival = fit.challenger(skip=[name for name, _ in found], U=U)
        if rival is None:
            break
        tries += 1
        V = resolve_stage(rival[1], rival[2], fit.dataset, config, fit.scenario, fit.rows,
                          progress, desc=f"active round {r}, challenger {len(found) + 1}")[0]
        if np.any(V != U):
            found.append((rival[0], V))
        else:
            fit.settle(r, [(rival[0], 0, 0)])
    return found


def _ask_round(learner: Learner, f_scale: float, dataset: PreferenceDataset,
               rows: NDArray[np.int64], config: ExperimentConfig, scenario: Scenario,
               rater: Any, r: int, n_best: int, progress: bool,
               rival: Callable[[NDArray[np.float64]], list[tuple[str, NDArray[np.float64]]]]
               | None = None) -> tuple[int, list[tuple[str, int, int]]]:
    """One active round: re-solve the training weeks ``rows`` with ``learner``, ask the rater to
    compare each re-solve with the nominal decision and the ``n_best`` best-rated samples (the
    answers join ``dataset``). With a ``rival`` (given the model's re-solves, the challengers'
    names and re-solves: :func:`_rival_resolves`) one more comparison a week per challenger
    asks whether its re-solve is fairer than the model's. Returns the weeks where the re-solve
    beat the nominal one, and for each challenger its name, the head-to-head answers it won
    and those given with a winner."""
    nom = nominal_indices(dataset)
    U, _, _ = resolve_stage(learner, f_scale, dataset, config, scenario, rows, progress,
                            desc=f"active round {r}")
    found = [] if rival is None else rival(U)
    pairs: list[tuple[int, int, int, int]] = []  # week, a, b, and the challenger's (-1: none)
    for k, row in enumerate(map(int, rows)):
        sur, n = int(dataset.add_decisions(row, U[k])[0]), int(nom[row])
        chs = [int(dataset.add_decisions(row, V[k])[0]) for _, V in found]
        wins = _copeland(dataset, row)
        ranked = [i for i in sorted(wins, key=lambda i: -wins[i]) if i not in (sur, n, *chs)]
        pairs += [(row, sur, opp, -1) for opp in [n] + ranked[:n_best] if opp != sur]
        pairs += [(row, ch, sur, j) for j, ch in enumerate(chs) if ch not in (sur, n)]
    if not pairs:
        return 0, [(name, 0, 0) for name, _ in found]
    ctx_arr, a_arr, b_arr, duel = (np.array(c) for c in zip(*pairs, strict=True))
    said = _ask(dataset, scenario, rater, ctx_arr, a_arr, b_arr, r)
    fairer = int(np.sum((said > 0) & (b_arr == nom[ctx_arr]) & (duel < 0)))
    return fairer, [(name, int(np.sum((said > 0) & (duel == j))),
                     int(np.sum((said != 0) & (duel == j)))) for j, (name, _) in enumerate(found)]


def _assess(learner: OutcomeCostLearner, train: PreferenceDataset, config: ExperimentConfig,
            scenario: Scenario) -> None:
    """What the training answers support (:func:`assess_evidence`) and the bootstrap posterior
    (200 refits on resampled weeks), kept on the learner."""
    learner.evidence_ = assess_evidence(
        _refit(learner, config), train, outcome_maps(scenario, train), nominal_indices(train),
        random_state=stage_seed(config, "evidence"))
    learner.bootstrap(200, random_state=stage_seed(config, "bootstrap"))


def _refit(learner: OutcomeCostLearner, config: ExperimentConfig) -> Callable[[], Learner]:
    """A maker of fresh, unfitted learners of ``learner``'s model (its groups and peaks, tie
    rule and linear weights), for the held-out fits that judge it."""
    return lambda: config.learner.make(0, learner.spec_, learner.ties, linear=learner.linear)


def _copeland(dataset: PreferenceDataset, row: int) -> dict[int, int]:
    """Wins minus losses of each decision of a context in the comparisons so far."""
    score = {int(i): 0 for i in dataset.decisions_of(row)}
    sel = dataset.comparisons[dataset.comparisons[:, 0] == row]
    for _, w, lo in sel:
        score[int(w)] += 1
        score[int(lo)] -= 1
    return score


def coverage_stage(dataset: PreferenceDataset, config: ExperimentConfig,
                   scenario: Scenario) -> Coverage:
    """Diagnostic: how many samples are fairer than the nominal decision (uses the oracle)."""
    oracle = oracle_of(config, scenario)
    contexts = [scenario.contexts[int(i)] for i in dataset.context_ids]
    per_week = [dataset.decisions[dataset.decisions_of(row)] for row in range(dataset.n_contexts)]
    return sample_coverage(oracle, contexts, per_week)


def oracle_name(config: ExperimentConfig, scenario: Scenario) -> str:
    """The notion of fairness of a run: the configured one, or the twin's default
    (:attr:`~fairtwin.twin.base.Twin.default_oracle`) when the configuration keeps the built-in
    default ``rosenbrock`` and the twin has no such notion."""
    name = config.labels.oracle
    if name == LabelConfig.oracle and name not in scenario.twin.oracles():
        return scenario.twin.default_oracle
    return name


def with_twin_defaults(config: ExperimentConfig, scenario: Scenario,
                       keep: frozenset[str] | set[str] = frozenset()) -> ExperimentConfig:
    """The configuration with the twin's own re-solve settings
    (:attr:`~fairtwin.twin.base.Twin.default_resolve`, a twin folder's ``[resolve]`` table), except
    the settings named in ``keep`` (those the user set: they win)."""
    own = {k: v for k, v in scenario.twin.default_resolve.items() if k not in keep}
    return config.override(resolve=own) if own else config


def oracle_of(config: ExperimentConfig, scenario: Scenario) -> FairnessOracle:
    """The simulated rater's notion of fairness of a run (:func:`oracle_name`, with ``kappa``)."""
    name = oracle_name(config, scenario)
    kwargs = {"kappa": config.labels.kappa} if name == "rosenbrock" else {}
    return get_oracle(name, scenario.twin, **kwargs)


def _bound_one(oracle, context, starts):  # type: ignore[no-untyped-def]
    return oracle_bound(oracle, context, starts)[0]


def evaluate_stage(
    dataset: PreferenceDataset,
    decisions: NDArray[np.float64],
    times: NDArray[np.float64],
    statuses: list[str],
    config: ExperimentConfig,
    scenario: Scenario,
    out_dir: Path | None = None,
    plot_week: int | None = None,
    progress: bool = False,
    candidate_costs: NDArray[np.float64] | None = None,
    deployment: Deployment | None = None,
    learner: Learner | None = None,
) -> dict[str, Any]:
    """Metrics of every week (training and held out), the oracle bound, plots.

    ``candidate_costs`` (the learned cost of every decision of ``dataset``) adds the learned
    cost's pairwise accuracy on each week's candidates, judged by the simulated rater's latent
    cost: on held-out weeks this measures how the ranking carries to weeks nobody rated.
    ``deployment`` (what :func:`deploy_stage` chose; ``decisions`` are then its deployed
    decisions) adds each week's choice, the proposal's predicted probabilities, whether the
    simulated rater's latent cost prefers the proposal and how likely the simulated rater
    answers for it (the two reliability tables). ``learner``
    adds what the outcome learner knows of its answers: its evidence and its model choice.
    """
    oracle = oracle_of(config, scenario)
    bounds = _oracle_bounds(oracle, dataset, decisions, scenario, config.n_jobs, progress)
    held = guard_held_bounds(oracle, dataset, decisions, bounds, scenario, config)
    rater = None if from_people(dataset) else _rater(config, scenario, np.random.default_rng(0),
                                                     oracle)
    weeks = _weeks(oracle, dataset, decisions, bounds, times, statuses, scenario,
                   candidate_costs, deployment, rater, held)
    summaries = {s: summarise(weeks, s, scenario.twin.categories).to_dict() for s in ("train", "held-out")
                 if any(w.split == s for w in weeks)}
    twin = scenario.twin
    result = {"summary": summaries, "splits": split_dates(dataset, scenario),
              "twin": {"name": twin.name, "oracle": oracle_name(config, scenario),
                       "price_unit": twin.price_unit, "price_unit_name": twin.price_unit_name,
                       "guard_name": guard_of(scenario),
                       "context_word": context_word(config, scenario)},
              "contexts": [asdict(w) for w in weeks],
              "environment": environment(config.n_jobs)}
    if learner is not None:
        for key, attr in (("evidence", "evidence_"), ("model_choice", "model_choice_")):
            known = getattr(learner, attr, None)
            result[key] = known.to_dict() if known is not None else None
        if from_people(dataset) and isinstance(learner, OutcomeCostLearner):
            result["people"] = _people(learner, dataset, config, scenario)
    if out_dir is not None:
        _write_evaluation(RunFolder(out_dir).make(), result, weeks, bounds, dataset, decisions,
                          scenario, oracle, plot_week)
    return result


def from_people(dataset: PreferenceDataset) -> bool:
    """Whether the answers of ``dataset`` come from people (a rating study's export)."""
    return dataset.info.get("source") == PEOPLE_SOURCE


def _people(learner: OutcomeCostLearner, dataset: PreferenceDataset, config: ExperimentConfig,
            scenario: Scenario) -> dict[str, Any]:
    """People's held-out agreement with the learned notion (their own answers on the training
    weeks, by folds of weeks), and the simulated notion the other metrics are judged by."""
    train = dataset.subset_contexts(train_rows(dataset))
    agreement = people_agreement(_refit(learner, config), train, outcome_maps(scenario, train),
                                 random_state=stage_seed(config, "people"))
    return {**agreement, "judged_by": oracle_name(config, scenario)}


def _oracle_bounds(oracle: FairnessOracle, dataset: PreferenceDataset,
                   decisions: NDArray[np.float64], scenario: Scenario, n_jobs: int,
                   progress: bool) -> list[NDArray[np.float64]]:
    """The oracle bound's decision of every week, searched from its samples and its decision
    (in ``n_jobs`` processes)."""
    jobs = [
        delayed(_bound_one)(oracle, scenario.contexts[int(dataset.context_ids[row])],
                            np.vstack([dataset.decisions[dataset.decisions_of(row)],
                                       decisions[row][None, :]]))
        for row in range(dataset.n_contexts)
    ]
    runner = Parallel(n_jobs=n_jobs, return_as="generator")
    return list(tqdm(runner(jobs), total=len(jobs), desc="oracle bound", unit="week",
                     disable=not progress))


def guard_held_bounds(oracle: FairnessOracle, dataset: PreferenceDataset,
                      decisions: NDArray[np.float64], bounds: Sequence[NDArray[np.float64]],
                      scenario: Scenario, config: ExperimentConfig
                      ) -> list[NDArray[np.float64] | None]:
    """Where the re-solve holds the guard and a week's oracle bound does not (it leaves more
    people unserved than the nominal decision), the bound that holds it
    (:func:`~fairtwin.oracles.oracle_bound` with ``guard_limit``, from the week's samples and
    its decision); ``None`` elsewhere (the bound holds it: the same)."""
    twin, nom = scenario.twin, nominal_indices(dataset)
    out: list[NDArray[np.float64] | None] = [None] * dataset.n_contexts
    if not config.resolve.holds_guard:
        return out
    jobs = {}
    for row in range(dataset.n_contexts):
        context = scenario.contexts[int(dataset.context_ids[row])]
        limit = twin.guarded(dataset.decisions[nom[row]], context)
        if twin.guarded(bounds[row], context) > limit + 1e-6:
            starts = np.vstack([dataset.decisions[dataset.decisions_of(row)], decisions[row]])
            jobs[row] = delayed(_held_one)(oracle, context, starts, limit)
    for row, u in zip(jobs, Parallel(n_jobs=config.n_jobs)(jobs.values()), strict=True):
        out[row] = u
    return out


def _held_one(oracle, context, starts, limit):  # type: ignore[no-untyped-def]
    return oracle_bound(oracle, context, starts, guard_limit=limit)[0]


def _weeks(oracle: FairnessOracle, dataset: PreferenceDataset, decisions: NDArray[np.float64],
           bounds: list[NDArray[np.float64]], times: NDArray[np.float64], statuses: list[str],
           scenario: Scenario, candidate_costs: NDArray[np.float64] | None,
           deployment: Deployment | None, rater: Rater | None = None,
           held: list[NDArray[np.float64] | None] | None = None) -> list[WeekMetrics]:
    """Every week's metrics (:func:`~fairtwin.evaluate.week_metrics`), with its deployment
    (and, with the simulated ``rater``, how likely it answers for each proposal; with
    ``held``, the bound that holds the guard where the oracle bound does not)."""
    nom = nominal_indices(dataset)
    n_train = len(train_rows(dataset))
    weeks: list[WeekMetrics] = []
    for row in range(dataset.n_contexts):
        context = scenario.contexts[int(dataset.context_ids[row])]
        idx = dataset.decisions_of(row)
        weeks.append(week_metrics(
            scenario.twin, oracle, context, "train" if row < n_train else "held-out",
            dataset.decisions[nom[row]], decisions[row], bounds[row],
            float(times[row]), statuses[row], dataset.decisions[idx],
            None if candidate_costs is None else candidate_costs[idx],
            None if held is None else held[row],
        ))
        if deployment is not None:
            weeks[-1] = _with_deployment(weeks[-1], deployment, row, oracle, context,
                                         dataset.decisions[nom[row]], rater)
    return weeks


def _with_deployment(week: WeekMetrics, deployment: Deployment, row: int,
                     oracle: FairnessOracle, context: Any, nominal: NDArray[np.float64],
                     rater: Rater | None) -> WeekMetrics:
    """A week's metrics with what the deployment rule chose, the proposal's probabilities,
    whether the simulated rater's latent cost prefers the proposal and how likely the simulated
    ``rater`` answers for it (nan without a probability, or without a simulated rater)."""
    fairer = answered = float("nan")
    if np.isfinite(deployment.probability[row]):
        r = oracle.cost(np.stack([nominal, deployment.proposed[row]]), context)
        fairer = float(r[1] < r[0] * (1 - 1e-9))
        if rater is not None:
            answered = float(rater.answer_probability_of(r[1], r[0])[0])
    return replace(week, deployed=deployment.choice[row],
                   p_preferred=float(deployment.probability[row]),
                   p_low=float(deployment.low[row]), p_high=float(deployment.high[row]),
                   p_answer=float(deployment.answer[row]), rater_answer=answered,
                   proposal_fairer=fairer)


def _write_evaluation(run: RunFolder, result: dict[str, Any], weeks: list[WeekMetrics],
                      bounds: list[NDArray[np.float64]], dataset: PreferenceDataset,
                      decisions: NDArray[np.float64], scenario: Scenario,
                      oracle: FairnessOracle, plot_week: int | None) -> None:
    """metrics.json (atomically), the oracle bound's decisions, the weeks plot and one
    context's plot (``plot_week``, or the overloaded training week with the largest guarded
    quantity)."""
    text = json.dumps(result, indent=2)
    atomic_write(run.metrics, lambda tmp: Path(tmp).write_text(text))
    np.savez(run.file("oracle_bound"), decisions=np.array(bounds))
    if not has_extra("plots"):
        log.warning("figures skipped (weeks.png and the week's plot): %s", missing_extra_line("plots"))
        return
    from fairtwin.evaluate.plots import plot_week as plot_context
    from fairtwin.evaluate.plots import plot_weeks

    plot_weeks(weeks, run.file("weeks_plot"), scenario.twin.price_unit_name)
    if plot_week is None:
        over = [w for w in weeks if w.category == "overloaded" and w.split == "train"]
        plot_week = max(over, key=lambda w: w.guard_nom).week if over else weeks[0].week
    row = int(np.flatnonzero(dataset.context_ids == plot_week)[0]) \
        if plot_week in dataset.context_ids else 0
    context = scenario.contexts[int(dataset.context_ids[row])]
    nom = nominal_indices(dataset)
    plot_context(scenario.twin, oracle, context,
                 {"nominal": dataset.decisions[nom[row]], "learned": decisions[row],
                  "oracle bound": bounds[row]}, run.path)


# ---------------------------------------------------------------------- whole run
@dataclass
class RunResult:
    """What :func:`run_pipeline` produced."""

    out_dir: Path
    metrics: dict[str, Any]
    stage_times_s: dict[str, float]
    rounds: list[RoundRecord]


def run_pipeline(
    config: ExperimentConfig,
    out_dir: str | Path,
    progress: bool = False,
    on_stage: Callable[[str, float], None] | None = None,
    scenario: Scenario | None = None,
    samples: PreferenceDataset | None = None,
    twin_defaults: bool = True,
) -> RunResult:
    """Run every stage and write the artefacts into ``out_dir``; the configuration is checked
    (:meth:`ExperimentConfig.check`) before anything runs.

    ``twin_defaults``: re-solve settings left all at the defaults take the twin's own (a folder's
    ``[resolve]``), as on the CLI (which merges them itself); any set by the caller are kept whole.
    ``scenario`` (e.g. from :func:`fairtwin.linopy_twin.twin_from_linopy`) replaces the
    configuration's scenario; the stages then need it passed again, the CLI cannot reload it.
    ``samples`` (an earlier run's ``samples.npz`` of the same scenario, weeks and split, no
    comparisons) replaces the sample stage (:func:`reuse_samples` checks them; left unchanged)."""
    if scenario is None:  # a built-in scenario's names, before its data loads
        config.check()
    times: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        value = fn()
        times[name] = time.perf_counter() - t0
        if on_stage:
            on_stage(name, times[name])
        return value

    given = scenario
    scenario = timed("scenario", lambda: given if given is not None else load_scenario(config))
    config = _fitted(config, scenario, twin_defaults)
    run = RunFolder(out_dir).make()
    config.save(run.config)
    if samples is None:
        dataset = timed("sample", lambda: sample_stage(config, scenario, progress))
    else:
        dataset = reuse_samples(samples, config, scenario)
    dataset.save(run.samples)
    coverage = coverage_stage(dataset, config, scenario)
    timed("label", lambda: label_stage(dataset, config, scenario))
    learner, f_scale, rounds = timed("train", lambda: train_stage(dataset, config, scenario, progress))
    dataset.save(run.dataset)
    learner.save(run.model)
    proposed, t, st = timed("resolve", lambda: resolve_stage(learner, f_scale, dataset, config,
                                                             scenario, progress=progress))
    deployment = timed("deploy", lambda: deploy_stage(learner, f_scale, dataset, proposed, config,
                                                      scenario))
    save_decisions(run.decisions, dataset, deployment.decisions, t, st, f_scale, deployment)
    f = learner.costs_of(dataset, outcome_maps(scenario, dataset))
    metrics = timed("evaluate", lambda: evaluate_stage(
        dataset, deployment.decisions, t, st, config, scenario, run.path, progress=progress,
        candidate_costs=f, deployment=deployment, learner=learner))
    metrics.update(stage_times_s=times, active_rounds=[asdict(r) for r in rounds],
                   n_comparisons=dataset.n_comparisons, f_scale=f_scale,
                   sample_coverage=asdict(coverage))
    text = json.dumps(metrics, indent=2)
    atomic_write(run.metrics, lambda tmp: Path(tmp).write_text(text))
    return RunResult(run.path, metrics, times, rounds)


def _fitted(config: ExperimentConfig, scenario: Scenario, twin_defaults: bool = False
            ) -> ExperimentConfig:
    """The configuration of a run on ``scenario`` as ``config.toml`` records it (the scenario's
    name, the notion of fairness that runs, the split fitted, with ``twin_defaults`` the twin's
    re-solve settings if the configuration's are all the defaults), checked: the weeks, the
    names and the pair budget, before anything is written."""
    if twin_defaults and config.resolve == ResolveConfig():
        config = with_twin_defaults(config, scenario)
    if not config.scenario.twin_path:  # config.toml names the scenario that ran, and its twin's settings
        config = config.override(scenario={"name": scenario.name}, twin=scenario.twin.settings())
    config, note = fit_split(with_oracle(config, scenario), scenario)
    if note:
        log.info(note)
    check_weeks(config, scenario)
    config.check(scenario)
    config.labels.n_random(config.scenario.n_train)
    return config


def save_decisions(path: Path, dataset: PreferenceDataset, U: NDArray[np.float64],
                   times: NDArray[np.float64], statuses: list[str], f_scale: float,
                   deployment: Deployment | None = None) -> None:
    """Write the deployed decisions (and, with ``deployment``, the proposals and their
    support) atomically."""
    extra: dict[str, Any] = {}
    if deployment is not None:
        extra = {"proposed": deployment.proposed, "choice": np.array(deployment.choice),
                 "probability": deployment.probability, "low": deployment.low,
                 "high": deployment.high, "answer": deployment.answer}

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, context_ids=dataset.context_ids, decisions=U, solve_time_s=times,
                     status=np.array(statuses), f_scale=np.array(f_scale), **extra)
    atomic_write(path, write, suffix=".npz")


def load_deployment(path: Path) -> Deployment | None:
    """The deployment record of a decisions file (``None`` for files written without one)."""
    try:
        with np.load(path, allow_pickle=False) as d:
            if "choice" not in d.files:
                return None
            answer = d["answer"] if "answer" in d.files else np.full(len(d["choice"]), np.nan)
            return Deployment(d["decisions"], d["proposed"], [str(c) for c in d["choice"]],
                              d["probability"], d["low"], d["high"], answer)
    except FileNotFoundError:
        raise DataFormatError(path, None, None, "no such file; run `fairtwin resolve` first") from None
    except (*BROKEN_FILE, KeyError) as exc:
        raise DataFormatError(path, None, None, f"not a fairtwin decisions file ({exc})") from None


def load_decisions(path: Path) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64],
                                        list[str], float]:
    try:
        with np.load(path, allow_pickle=False) as d:
            return (d["context_ids"], d["decisions"], d["solve_time_s"], [str(s) for s in d["status"]],
                    float(d["f_scale"]))
    except FileNotFoundError:
        raise DataFormatError(path, None, None, "no such file; run `fairtwin resolve` first") from None
    except BROKEN_FILE as exc:
        raise DataFormatError(path, None, None, f"not a fairtwin decisions file ({exc})") from None

