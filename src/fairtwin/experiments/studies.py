"""The named studies: which configurations × seeds each runs.

=============  ================================================================================
study          grid
=============  ================================================================================
``table1``     pairs × flipped-label rate × {random pairs, active rounds} (the paper's Table 1)
``pca``        PCA rank ``r`` (``0`` = no PCA) at ``pca_pairs`` random pairs
``seeds``      the default learning setting over ``n_seeds_distribution`` seeds, ΔR per week
``tradeoff``   a sweep of the blend weight ``λ`` of ``J + λ f_θ`` on the same trained models
``baselines``  nominal, linear cost, diagonal H, no context, logistic loss, active rounds,
               guard / blend / replace / select, the outcome learner (today's default) with
               guard / blend / select, the oracle bound: all on the same pairs
``paper``      all of the above, and ``docs/results.md``
=============  ================================================================================

The grid values live in :class:`StudySettings` (frozen, loadable from the ``[study]`` table of a
TOML file); the base pipeline settings are an :class:`~fairtwin.pipeline.ExperimentConfig`.
Every study runs the paper's method as the reference (:func:`paper_reference`: the Siamese
PCA learner re-solved in blend mode, λ = 3), whatever the pipeline's defaults; ``baselines`` puts the
pipeline's default learner and rule beside it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from fairtwin.exceptions import UnknownNameError, ValidationError
from fairtwin.experiments.runner import RunSpec, Variant
from fairtwin.learn import LOSSES, STRUCTURES
from fairtwin.pipeline import ExperimentConfig, LabelConfig
from fairtwin.resolve import ResolveConfig
from fairtwin.tomlfile import read_toml

__all__ = ["StudySettings", "STUDIES", "build_specs", "active_labels", "BASELINES",
           "paper_reference"]

VARIANTS = ("random", "active", "outcomes")
BASELINES = ("nominal", "linear", "diagonal", "no-context", "logistic", "full", "active",
             "guard", "replace", "select", "outcomes-guard", "outcomes-blend", "outcomes-select",
             "oracle")


#: The blend weight of the paper's method as shipped (the outcome learner's default is larger).
PAPER_LAMBDA = 3.0


def paper_reference(base: ExperimentConfig) -> ExperimentConfig:
    """The paper's method: the Siamese PCA learner, re-solved in blend mode with λ = 3 (the
    blend weight it was shipped and measured with) and no overflow guard; its active rounds
    re-solve as exactly as the final re-solve (as in docs/results.md; the pipeline's rounds
    stop at a 5 % gap or 20 nodes since)."""
    return base.override(learner={"model": "siamese"},
                         labels={"round_mip_gap": 0.0, "round_node_limit": 0},
                         resolve={"mode": "blend", "blend_lambda": PAPER_LAMBDA, "guard": False})


def default_rule(base: ExperimentConfig) -> ResolveConfig:
    """The pipeline's default re-solve rule (mode, λ, guard), other settings as in ``base``."""
    return replace(base.resolve, mode=ResolveConfig.mode, blend_lambda=ResolveConfig.blend_lambda,
                   guard=ResolveConfig.guard)


@dataclass(frozen=True)
class StudySettings:
    """Grid values of the studies (defaults: the paper's settings).

    Attributes
    ----------
    seeds : seeds of every study but ``seeds``
    pairs, noise, variants : the ``table1`` grid (noise = share of flipped labels)
    active_share : share of the pair budget the active rounds may ask
    max_rounds : cap on the number of active rounds
    components : PCA ranks of ``pca`` (``0`` = no PCA)
    pca_pairs : random pairs of ``pca``
    n_seeds_distribution : seeds of ``seeds`` (0, 1, …)
    distribution_pairs : random pairs of ``seeds``
    lambdas : blend weights of ``tradeoff``
    baseline_pairs : random pairs of ``tradeoff`` and ``baselines``
    held_out : studies that also re-solve and score the held-out weeks
    """

    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    pairs: tuple[int, ...] = (224, 448, 896, 1344)
    noise: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3)
    variants: tuple[str, ...] = VARIANTS
    active_share: float = 0.35
    max_rounds: int = 3
    components: tuple[int, ...] = (5, 10, 20, 30, 50, 0)
    pca_pairs: int = 448
    n_seeds_distribution: int = 10
    distribution_pairs: int = 1344
    lambdas: tuple[float, ...] = (0.3, 1.0, 3.0, 10.0, 30.0)
    baseline_pairs: int = 1344
    held_out: tuple[str, ...] = ("table1", "pca", "seeds", "tradeoff", "baselines")

    def __post_init__(self) -> None:
        for name in ("seeds", "pairs", "noise", "variants", "components", "lambdas", "held_out"):
            value = getattr(self, name)
            if isinstance(value, (str, int, float)):
                value = (value,)
            object.__setattr__(self, name, tuple(value))
            if not getattr(self, name):
                raise ValidationError(f"study setting {name} is empty")
        bad = [v for v in self.variants if v not in VARIANTS]
        if bad:
            raise UnknownNameError("table1 variant", bad[0], VARIANTS)
        if any(p < 1 for p in self.pairs + (self.pca_pairs, self.distribution_pairs,
                                            self.baseline_pairs)):
            raise ValidationError("pair counts must be positive")
        if any(not 0 <= x <= 0.5 for x in self.noise):
            raise ValidationError(f"noise (flipped-label rates) must lie in [0, 0.5], got {self.noise}")
        if any(c < 0 for c in self.components):
            raise ValidationError(f"PCA ranks must be ≥ 0 (0 = no PCA), got {self.components}")
        if any(not lam >= 0 for lam in self.lambdas):
            raise ValidationError(f"λ values must be non-negative, got {self.lambdas}")
        if self.n_seeds_distribution < 2:
            raise ValidationError("n_seeds_distribution must be at least 2")
        if not 0 < self.active_share < 1:
            raise ValidationError(f"active_share must lie in (0, 1), got {self.active_share}")
        bad = [s for s in self.held_out if s not in STUDY_NAMES]
        if bad:
            raise UnknownNameError("study", bad[0], STUDY_NAMES)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
                for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "settings") -> StudySettings:
        names = {f.name for f in fields(cls)}
        bad = sorted(set(data) - names)
        if bad:
            raise ValidationError(f"{source}: unknown study setting(s) {bad}; allowed: {sorted(names)}")
        return cls(**data)

    @classmethod
    def load(cls, path: str | Path) -> StudySettings:
        """The ``[study]`` table of a TOML file (the rest of the file is the pipeline config)."""
        return cls.from_dict(read_toml(path).get("study", {}), source=f"{path} [study]")

    def with_grid(self, **values: Any) -> StudySettings:
        """A copy with grid values replaced (names as the attributes)."""
        bad = sorted(set(values) - {f.name for f in fields(self)})
        if bad:
            raise UnknownNameError("grid setting", bad[0], [f.name for f in fields(self)])
        return replace(self, **values)


def active_labels(labels: LabelConfig, n_pairs: int, n_train: int, share: float,
                  max_rounds: int) -> LabelConfig:
    """Labels with active rounds inside a budget of ``n_pairs``.

    At most ``share`` of the budget goes to active rounds; each round asks
    :meth:`~fairtwin.pipeline.LabelConfig.per_round` comparisons per training week, and
    ``n_best`` drops to 0, then the challenge, when a round would not fit. A round holds one
    challenger at most: the studies' active variant is the one their tables measured (two
    would also take a round from the paper's learner, which holds none, at 1344 pairs).
    """
    budget = share * n_pairs
    for n_best, challenge in dict.fromkeys(((labels.n_best, labels.challenge),
                                            (0, labels.challenge), (0, False))):
        trial = replace(labels, n_pairs=n_pairs, n_best=n_best, challenge=challenge,
                        challengers=1, final_check=False)
        rounds = min(max_rounds, int(budget // (n_train * trial.per_round())))
        if rounds >= 1:
            return replace(trial, rounds=rounds)
    raise ValidationError(
        f"{n_pairs} pairs leave {budget:.0f} for active rounds, fewer than the {n_train} "
        "training weeks one round asks about; raise the pairs or active_share"
    )


def _random(base: ExperimentConfig, n_pairs: int, noise: float | None = None) -> ExperimentConfig:
    labels: dict[str, Any] = {"n_pairs": n_pairs, "rounds": 0, "final_check": False}
    if noise is not None:
        labels["noise"] = noise
    return base.override(labels=labels)


def _coords(**kw: Any) -> tuple[tuple[str, Any], ...]:
    return tuple(kw.items())


def _table1(base: ExperimentConfig, s: StudySettings) -> list[RunSpec]:
    specs = []
    for seed in s.seeds:
        for variant in s.variants:
            for pairs in s.pairs:
                for noise in s.noise:
                    cfg = _random(base, pairs, noise).override(seed=seed)
                    if variant == "active":
                        cfg = replace(cfg, labels=active_labels(
                            cfg.labels, pairs, base.scenario.n_train, s.active_share, s.max_rounds))
                    resolve = base.resolve
                    if variant == "outcomes":  # the default learner and re-solve, same pairs
                        cfg = cfg.override(learner={"model": "outcomes"})
                        resolve = default_rule(base)
                    v = Variant(_coords(variant=variant, pairs=pairs, noise=noise), resolve)
                    specs.append(RunSpec("table1", cfg, (v,), held_out="table1" in s.held_out))
    return specs


def _pca(base: ExperimentConfig, s: StudySettings) -> list[RunSpec]:
    return [
        RunSpec("pca", _random(base, s.pca_pairs).override(seed=seed, learner={"n_components": r}),
                (Variant(_coords(r="none" if r == 0 else r), base.resolve),),
                held_out="pca" in s.held_out)
        for seed in s.seeds for r in s.components
    ]


def _seeds(base: ExperimentConfig, s: StudySettings) -> list[RunSpec]:
    return [
        RunSpec("seeds", _random(base, s.distribution_pairs).override(seed=seed),
                (Variant(_coords(setting=f"{s.distribution_pairs} random pairs"), base.resolve),),
                held_out="seeds" in s.held_out)
        for seed in range(s.n_seeds_distribution)
    ]


def _tradeoff(base: ExperimentConfig, s: StudySettings) -> list[RunSpec]:
    specs = []
    for seed in s.seeds:
        cfg = _random(base, s.baseline_pairs).override(seed=seed)
        variants = tuple(Variant(_coords(method="learned", **{"lambda": lam}),
                                 replace(base.resolve, mode="blend", blend_lambda=lam))
                         for lam in s.lambdas)
        specs.append(RunSpec("tradeoff", cfg, variants, held_out="tradeoff" in s.held_out))
        for method in ("nominal", "oracle"):
            specs.append(RunSpec("tradeoff", cfg, (Variant(_coords(method=method, **{"lambda": None})),),
                                 method=method, held_out="tradeoff" in s.held_out))
    return specs


def _baselines(base: ExperimentConfig, s: StudySettings) -> list[RunSpec]:
    specs = []
    held = "baselines" in s.held_out
    for seed in s.seeds:
        cfg = _random(base, s.baseline_pairs).override(seed=seed)
        blend = replace(base.resolve, mode="blend")
        specs.append(RunSpec("baselines", cfg, (
            Variant(_coords(baseline="full"), blend),
            Variant(_coords(baseline="guard"), replace(base.resolve, mode="guard")),
            Variant(_coords(baseline="replace"), replace(base.resolve, mode="replace")),
            Variant(_coords(baseline="select"), replace(base.resolve, mode="select")),
        ), held_out=held))
        specs.append(RunSpec("baselines", cfg.override(learner={"model": "outcomes"}), (
            Variant(_coords(baseline="outcomes-guard"), replace(base.resolve, mode="guard")),
            Variant(_coords(baseline="outcomes-blend"), default_rule(base)),
            Variant(_coords(baseline="outcomes-select"), replace(base.resolve, mode="select")),
        ), held_out=held))
        learner_variants: dict[str, dict[str, Any]] = {
            "linear": {"structure": "linear"},
            "diagonal": {"structure": "diagonal"},
            "no-context": {"contextual": False},
            "logistic": {"loss": "logistic"},
        }
        for name, change in learner_variants.items():
            specs.append(RunSpec("baselines", cfg.override(learner=change),
                                 (Variant(_coords(baseline=name), blend),), held_out=held))
        active = replace(cfg, labels=active_labels(cfg.labels, s.baseline_pairs,
                                                   base.scenario.n_train, s.active_share,
                                                   s.max_rounds))
        specs.append(RunSpec("baselines", active, (Variant(_coords(baseline="active"), blend),),
                             held_out=held))
        for method in ("nominal", "oracle"):
            specs.append(RunSpec("baselines", cfg, (Variant(_coords(baseline=method)),),
                                 method=method, held_out=held))
    return specs


_BUILDERS: dict[str, Callable[[ExperimentConfig, StudySettings], list[RunSpec]]] = {
    "table1": _table1,
    "pca": _pca,
    "seeds": _seeds,
    "tradeoff": _tradeoff,
    "baselines": _baselines,
}
STUDY_NAMES = (*_BUILDERS, "paper")
STUDIES = {
    "table1": "pairs × flipped labels × random/active: wins, ΔR, ΔJ, accuracy (Table 1)",
    "pca": "PCA rank r at a fixed number of pairs: wins, ΔR, training time, parameters",
    "seeds": "ΔR per week across many seeds (Figure 2a)",
    "tradeoff": "blend weight λ sweep: the fairness/efficiency Pareto curve",
    "baselines": "nominal, linear, diagonal, no context, logistic, active, guard/replace, oracle",
    "paper": "every study at the paper's settings, and docs/results.md",
}


def build_specs(study: str, base: ExperimentConfig, settings: StudySettings) -> dict[str, list[RunSpec]]:
    """The specs of a study (``paper``: of every study), by study name."""
    if study not in STUDY_NAMES:
        raise UnknownNameError("study", study, STUDY_NAMES)
    if base.learner.loss not in LOSSES or base.learner.structure not in STRUCTURES:
        raise ValidationError(f"loss must be one of {LOSSES}, structure one of {STRUCTURES}")
    names = list(_BUILDERS) if study == "paper" else [study]
    base = paper_reference(base)
    return {name: _BUILDERS[name](base, settings) for name in names}
