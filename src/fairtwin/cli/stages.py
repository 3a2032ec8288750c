"""The pipeline's stage commands (sample, label, train, resolve, evaluate) and ``run``, the
whole pipeline; their shared options and the run's summary table."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import numpy as np

from fairtwin.cli._common import tty
from fairtwin.exceptions import ValidationError
from fairtwin.runfolder import RunFolder, need_file
from fairtwin.twin import SCENARIOS

if TYPE_CHECKING:
    from fairtwin.pipeline import ExperimentConfig
    from fairtwin.twin import Scenario


def _experiment_options(fn: Any) -> Any:
    """Options that override the experiment configuration (None = keep the config's value).

    Long for a reason: one declaration per option, in the order ``--help`` lists them."""
    opts = [
        click.option("--jobs", "n_jobs", type=int, default=None, help="Parallel workers (default 2)."),
        click.option("--solver", "solver_name", default=None,
                     help="Solver of the re-solve: auto (default: highs-oa for integer "
                          "decisions, highs for continuous ones), highs-oa, scip, gurobi, highs."),
        click.option("--lambda", "blend_lambda", type=float, default=None,
                     help="Blend weight λ (overflow patients per typical preference gap; default 20)."),
        click.option("--mode", default=None,
                     help="Re-solve mode: blend (default), guard, budget, select, replace."),
        click.option("--guard/--no-guard", "guard", default=None,
                     help="Blend mode: hold overflow at most at the nominal decision's "
                          "(default: on; the paper's method: --no-guard --lambda 3)."),
        click.option("--epochs", type=int, default=None, help="Training epochs (default 300)."),
        click.option("--loss", default=None, help="hinge (default) or logistic."),
        click.option("--pca", default=None,
                     help="PCA rank r (default 30), or 'none' for no compression."),
        click.option("--rounds", type=int, default=None,
                     help="Active rounds (default 3; 0 = random pairs only)."),
        click.option("--final-check/--no-final-check", default=None,
                     help="After the rounds, keep the model whose re-solves the rater preferred "
                          "to the nominal decision in the most training weeks (default off)."),
        click.option("--noise", type=float, default=None,
                     help="Flip rate of the simulated rater (0.1: a tenth of the answers "
                          "flipped), or with --rater logistic its temperature T: it prefers A "
                          "with probability σ((R_B − R_A) / (T · mean(|R_A|, |R_B|))), so 0.1 "
                          "errs on pairs within about a tenth of each other's latent cost."),
        click.option("--rater", default=None, help="flip (default) or logistic."),
        click.option("--oracle", default=None,
                     help="Latent fairness cost: the twin's default (rosenbrock for the ICU "
                          "twin, twin.toml's oracle for a folder), gini, max-min, quadratic "
                          "(NAME:GROUP for one outcome group), the ICU twin's gini-travel, or "
                          "package.module:function."),
        click.option("--pairs", "n_pairs", type=int, default=None,
                     help="Total comparisons asked, active rounds included (default 1344)."),
        click.option("--samples", "n_samples", type=int, default=None,
                     help="Sampled decisions per week besides the nominal one (default 16)."),
        click.option("--train-weeks", "--train-contexts", "n_train", type=int, default=None,
                     help="Training weeks or contexts (default 52; half of them when the "
                          "twin has fewer than 104)."),
        click.option("--train-from", "train_from", default=None,
                     help="Date (YYYY-MM-DD) in the first training week (default: the first week)."),
        click.option("--held-out-weeks", "--held-out-contexts", "n_held_out", type=int,
                     default=None,
                     help="Held-out weeks or contexts right after the training ones "
                          "(default: as many)."),
        click.option("--learner", "learner_model", default=None,
                     help="outcomes (default: a shared quadratic over the twin's outcomes) or "
                          "siamese (the paper's PCA + context MLP)."),
        click.option("--data", "data_path", type=click.Path(dir_okay=False), default=None,
                     help="Local Civil Protection file (italy-dpc)."),
        click.option("--scenario", default=None, help=f"One of: {', '.join(SCENARIOS)}."),
        click.option("--twin", "twin_path", type=click.Path(file_okay=False), default=None,
                     help="A twin folder (twin.toml, contexts.csv, models/) instead of a "
                          "built-in scenario."),
        click.option("--scenario-seed", type=int, default=None, help="Seed of the synthetic waves."),
        click.option("--seed", type=int, default=None, help="Seed of the run (default 0)."),
        click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
                     default=None, help="Experiment configuration (TOML)."),
        click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
                     default=Path("runs/latest"), show_default=True, help="Output folder."),
    ]
    for opt in opts:
        fn = opt(fn)
    return fn


def _rater_note(labels: Any) -> str:
    """How the simulated rater errs, for the run's header line."""
    if labels.rater == "logistic":
        return f"logistic, temperature {labels.noise:g}"
    return f"{labels.noise:.0%} of the answers flipped" if labels.noise else "no noise"


def _blend_note(resolve: Any, guard: str | None) -> str:
    """The blend re-solve's settings for the header: λ, and the twin's guarded quantity held
    at its nominal value (said only when the twin has one, in its own words)."""
    if resolve.mode != "blend":
        return ""
    held = f", {guard} held at nominal" if resolve.guard and guard else ""
    return f" (λ = {resolve.blend_lambda:g}{held})"


def _experiment_config(out_dir: Path, config_path: Path | None,
                       kw: dict[str, Any]) -> ExperimentConfig:
    """The run's configuration: ``--config``, else the run folder's own ``config.toml``, else
    the defaults; the options override it; a twin folder's own settings fill what the user
    left unset; then every name is checked (:meth:`ExperimentConfig.check`)."""
    config, user_resolve, named_oracle = _base_config(out_dir, config_path, kw)
    config = config.override(**_option_changes(kw))
    if kw.get("seed") is not None:
        config = config.override(seed=kw["seed"])
    if kw.get("n_jobs") is not None:
        config = config.override(n_jobs=kw["n_jobs"])
    twin = None
    if config.scenario.twin_path:
        from fairtwin.folder import load_twin_folder
        from fairtwin.pipeline import with_oracle, with_twin_defaults

        twin = load_twin_folder(config.scenario.twin_path, validate=False)
        config = with_twin_defaults(config, twin, user_resolve)
        if not named_oracle:  # the twin's own default, recorded as what runs
            config = with_oracle(config, twin)
    config.check(twin)  # before any long work, as run_pipeline does
    return config


def _base_config(out_dir: Path, config_path: Path | None,
                 kw: dict[str, Any]) -> tuple[ExperimentConfig, set[str], bool]:
    """The configuration the options override, the re-solve settings the user set (a twin
    folder's own ``[resolve]`` settings fill the others) and whether the user named the
    notion of fairness (never replaced by the twin's default then)."""
    from dataclasses import fields

    from fairtwin.pipeline import ExperimentConfig
    from fairtwin.resolve import ResolveConfig
    from fairtwin.tomlfile import read_toml

    flags = {"mode": "mode", "blend_lambda": "blend_lambda", "guard": "guard", "solver": "solver_name"}
    user_resolve = {name for name, flag in flags.items() if kw.get(flag) is not None}
    named_oracle = kw.get("oracle") is not None
    run = RunFolder(out_dir)
    if config_path is not None:
        data = read_toml(config_path)
        config = ExperimentConfig.from_dict(data, source=str(config_path))
        user_resolve |= set(data.get("resolve", {}))
        named_oracle |= "oracle" in data.get("labels", {})
    elif run.config.exists():  # a run's own saved settings: complete
        config = ExperimentConfig.load(run.config)
        user_resolve |= {f.name for f in fields(ResolveConfig)}
    else:
        config = ExperimentConfig()
    return config, user_resolve, named_oracle


def _pca_components(pca: str | None) -> int | None:
    """``--pca``: a rank, ``none`` (0: no compression), or unset (``None``)."""
    if pca is None:
        return None
    if str(pca).lower() == "none":
        return 0
    try:
        return int(pca)
    except ValueError:
        raise ValidationError(f"--pca must be a positive integer or 'none', got {pca!r}") from None


def _option_changes(kw: dict[str, Any]) -> dict[str, Any]:
    """The options as :meth:`ExperimentConfig.override` sections (``None``: keep the value)."""
    n_components = _pca_components(kw.get("pca"))
    return {
        "scenario": {"name": kw.get("scenario"), "seed": kw.get("scenario_seed"),
                     "data_path": kw.get("data_path"), "n_train": kw.get("n_train"),
                     "train_from": kw.get("train_from"), "n_held_out": kw.get("n_held_out"),
                     "twin_path": kw.get("twin_path")},
        "sampler": {"n_samples": kw.get("n_samples")},
        "labels": {"n_pairs": kw.get("n_pairs"), "oracle": kw.get("oracle"),
                   "rater": kw.get("rater"), "noise": kw.get("noise"), "rounds": kw.get("rounds"),
                   "final_check": kw.get("final_check")},
        "learner": {"model": kw.get("learner_model"), "n_components": n_components,
                    "loss": kw.get("loss"),
                    "max_epochs": kw.get("epochs")},
        "resolve": {"mode": kw.get("mode"), "blend_lambda": kw.get("blend_lambda"),
                    "guard": kw.get("guard"),
                    "solver": kw.get("solver_name")},
    }


def _config_and_scenario(out_dir: Path, config_path: Path | None,
                         kw: dict[str, Any]) -> tuple[ExperimentConfig, Scenario]:
    """The run's configuration (:func:`_experiment_config`) with its split fitted to the
    scenario (:func:`~fairtwin.pipeline.fit_split`, said when it changes), and the scenario."""
    from fairtwin.pipeline import fit_split, load_scenario

    config = _experiment_config(out_dir, config_path, kw)
    scenario = load_scenario(config)
    config, note = fit_split(config, scenario)
    if note:
        click.echo(note)
    return config, scenario


def _print_summary(metrics: dict[str, Any]) -> None:
    """The summary table of a run, in the twin's own words: its contexts, price unit and
    guarded quantity (no guard row for a twin without one); the ICU twin's are weeks, overflow
    patients and overflow."""
    from fairtwin.evaluate.metrics import upgrade_metrics

    metrics = upgrade_metrics(metrics)  # a file written before the generic names
    summary = metrics["summary"]
    twin = metrics.get("twin", {})
    price = twin.get("price_unit_name", "overflow patients")
    guard = twin.get("guard_name", "patients without an ICU bed")
    word = twin.get("context_word", "weeks")
    icu = price == "overflow patients"
    click.echo("")
    for split, span in metrics.get("splits", {}).items():
        dates = f", {span['from']} to {span['to']}" if span.get("from") else ""
        click.echo(f"{split}: {span['contexts']} {word}, {span['first']} .. {span['last']}{dates}")
    names = {"overloaded": "overloaded weeks", "normal": "normal weeks",
             "near-zero": "near-zero-demand weeks"}
    cats = list(dict.fromkeys(c for s in summary.values() for c in s["wins_by_category"]))
    rows: list[tuple[str, Any]] = [
        ("wins (R_sur < R_nom)", lambda s: f"{s['wins']}/{s['n_contexts']}"),
        ("less fair (R_sur > R_nom)", lambda s: f"{s.get('losses', 0)}/{s['n_contexts']}"),
    ]
    if any(s.get("deployed") for s in summary.values()):
        rows += [(f"  deployed: {c}", lambda s, c=c: str(s.get("deployed", {}).get(c, 0)))
                 for c in ("re-solve", "cautious", "bounded", "select", "nominal")]
    if any(math.isfinite(s.get("mean_p_answer", math.nan)) for s in summary.values()):
        rows.append(("P(rater picks re-solve)", lambda s: f"{s.get('mean_p_answer', math.nan):.2f}"))
    if cats != ["all"]:
        rows += [(f"  {names.get(c, c) if icu else c}",
                  lambda s, c=c: s["wins_by_category"].get(c, "0/0")) for c in cats]
    rows += [
        ("median ΔR", lambda s: f"{100 * s['median_dR']:.1f} %"),
        ("median ΔR oracle bound", lambda s: f"{100 * s['median_dR_orc']:.1f} %"),
        ("ΔR_sur / ΔR_orc", lambda s: f"{s['dR_ratio_aggregate']:.2f}"),
    ]
    if guard and any(math.isfinite(s.get("dR_ratio_held", math.nan)) for s in summary.values()):
        rows.append(("  bound holding the guard", lambda s: f"{s.get('dR_ratio_held', math.nan):.2f}"))
    rows += [
        ("median ΔJ (nominal cost)", lambda s: f"{s['median_dJ']:.0f}"),
        ("mean ΔJ (overflow pat.)" if icu else f"mean ΔJ ({price})",
         lambda s: f"{s['mean_dJ_price']:.2f}"),
    ]
    if guard:
        rows.append(("max overflow rise" if icu else f"max rise of {guard}",
                     lambda s: f"{s['max_guard_rise']:.0f}" if icu else f"{s['max_guard_rise']:.3g}"))
    rows += [
        ("pair accuracy, candidates", lambda s: f"{s.get('pair_accuracy', float('nan')):.3f}"),
        ("median re-solve time", lambda s: f"{1000 * s['median_solve_time_s']:.0f} ms"),
    ]
    width = max(26, *(len(label) + 2 for label, _ in rows))
    click.echo(f"{'':<{width}}" + "".join(f"{split:>16}" for split in summary))
    for label, fmt in rows:
        click.echo(f"{label:<{width}}" + "".join(f"{fmt(s):>16}" for s in summary.values()))
    _print_learning(metrics, word)


def _print_learning(metrics: dict[str, Any], word: str) -> None:
    """What the learner chose and what its answers support, and, for answers from people,
    their own held-out agreement (``word``: the twin's word for its contexts)."""
    chosen = metrics.get("model_choice")
    evidence = metrics.get("evidence")
    if chosen or evidence:
        click.echo("")
    if chosen and chosen["table"]:
        from fairtwin.deploy import describe_rivals
        from fairtwin.learn.evidence import ModelChoice

        click.echo(ModelChoice.from_dict(chosen).describe())
        rivals = describe_rivals(chosen["table"], chosen["name"])
        if rivals:
            click.echo(rivals)
    if evidence:
        click.echo(evidence["message"])
    people = metrics.get("people")
    if people:
        raters = ", ".join(f"{r['rater']} {r['agreement']:.2f} of {r['answers']}"
                           for r in people["by_rater"])
        click.echo(f"people: on {word} held out of the fit, the learned notion agrees with "
                   f"{people['held_out_agreement']:.2f} of the people's own {people['answers']} "
                   f"answers ({raters}); the wins and ΔR above are judged by the simulated "
                   f"notion {people['judged_by']!r}, not by the people")


@click.command("sample")
@_experiment_options
def sample_cmd(out_dir: Path, config_path: Path | None, **kw: Any) -> None:
    """Sample nominal and diverse feasible decisions for the training and held-out weeks."""
    from fairtwin.pipeline import context_word, coverage_stage, sample_stage

    config, scenario = _config_and_scenario(out_dir, config_path, kw)
    dataset = sample_stage(config, scenario, progress=tty())
    cov = coverage_stage(dataset, config, scenario)
    out_dir.mkdir(parents=True, exist_ok=True)
    run = RunFolder(out_dir)
    config.save(run.config)
    dataset.save(run.samples)
    dataset.save(run.dataset)
    word = context_word(config, scenario)
    click.echo(f"{dataset.n_decisions} decisions of {dataset.n_contexts} {word} -> "
               f"{run.dataset}")
    click.echo(f"coverage ({config.labels.oracle} rater): {100 * cov.share_fairer:.0f} % of samples "
               f"fairer than the nominal decision, {cov.contexts_with_fairer}/{cov.n_contexts} "
               f"{word} with one; best sample a median {100 * cov.median_best_gain:.0f} % fairer")


@click.command("label")
@_experiment_options
def label_cmd(out_dir: Path, config_path: Path | None, **kw: Any) -> None:
    """Ask the simulated rater about random pairs of the training weeks."""
    from fairtwin.datasets import PreferenceDataset
    from fairtwin.pipeline import label_stage

    config, scenario = _config_and_scenario(out_dir, config_path, kw)
    run = RunFolder(out_dir)
    dataset = PreferenceDataset.load(run.need("samples"))
    label_stage(dataset, config, scenario)
    config.save(run.config)
    dataset.save(run.dataset)
    click.echo(f"{dataset.n_comparisons} comparisons -> {run.dataset}")


@click.command("train")
@_experiment_options
@click.option("--dataset", "dataset_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Train on this preference dataset instead of OUT/dataset.npz.")
def train_cmd(out_dir: Path, config_path: Path | None, dataset_path: Path | None,
              **kw: Any) -> None:
    """Fit the learned cost (and run the active rounds with the simulated rater)."""
    from fairtwin.datasets import PreferenceDataset
    from fairtwin.pipeline import train_stage

    config, scenario = _config_and_scenario(out_dir, config_path, kw)
    run = RunFolder(out_dir)
    source = need_file(dataset_path, "label") if dataset_path else run.need("dataset")
    dataset = PreferenceDataset.load(source)
    learner, f_scale, rounds = train_stage(dataset, config, scenario, progress=tty())
    out_dir.mkdir(parents=True, exist_ok=True)
    config.save(run.config)
    dataset.save(run.dataset)
    learner.save(run.model)
    for r in rounds:
        duel = "".join(f"; {d.describe()}" for d in r.challenges)
        click.echo(f"active round {r.round}: {r.n_comparisons} comparisons, re-solve fairer than "
                   f"nominal in {r.resolved_fairer_than_nominal} weeks{duel}")
    kept = (f"{learner.best_epoch_} epochs kept" if hasattr(learner, "best_epoch_")
            else f"{learner.n_parameters_} weights over the twin's outcomes")
    click.echo(f"model ({kept}) -> {run.model}")
    chosen = getattr(learner, "model_choice_", None)
    if chosen is not None and chosen.table:
        click.echo(chosen.describe())
    evidence = getattr(learner, "evidence_", None)
    if evidence is not None:
        click.echo(evidence.message)


@click.command("resolve")
@_experiment_options
def resolve_cmd(out_dir: Path, config_path: Path | None, **kw: Any) -> None:
    """Re-solve every week with the learned cost."""
    from fairtwin.datasets import PreferenceDataset
    from fairtwin.learn import load_learner
    from fairtwin.pipeline import (
        deploy_stage,
        outcome_maps,
        preference_scale,
        resolve_stage,
        save_decisions,
        train_rows,
    )

    config, scenario = _config_and_scenario(out_dir, config_path, kw)
    run = RunFolder(out_dir)
    dataset = PreferenceDataset.load(run.need("dataset"))
    learner = load_learner(run.need("model"), scenario.name)
    train = dataset.subset_contexts(train_rows(dataset))
    f_scale = preference_scale(learner, train, outcome_maps(scenario, train))
    U, times, statuses = resolve_stage(learner, f_scale, dataset, config, scenario, progress=tty())
    deployment = deploy_stage(learner, f_scale, dataset, U, config, scenario)
    config.save(run.config)
    save_decisions(run.decisions, dataset, deployment.decisions, times, statuses,
                   f_scale, deployment)
    evidence = getattr(learner, "evidence_", None)
    if evidence is not None:
        click.echo(evidence.message)
    counts = ", ".join(f"{n} {c}" for c, n in deployment.counts().items())
    click.echo(f"{U.shape[0]} re-solved weeks, deployed: {counts} -> {run.decisions}")


@click.command("evaluate")
@_experiment_options
@click.option("--week", "plot_week", type=int, default=None,
              help="Week or context of the figure of one context's decisions (the ICU twin's "
                   "regional loads; default: its worst overloaded training week, else the first).")
def evaluate_cmd(out_dir: Path, config_path: Path | None, plot_week: int | None,
                 **kw: Any) -> None:
    """Compare the re-solved decisions with the nominal ones and the oracle bound."""
    from fairtwin.datasets import PreferenceDataset
    from fairtwin.learn import load_learner
    from fairtwin.pipeline import (
        evaluate_stage,
        load_decisions,
        load_deployment,
        outcome_maps,
    )

    config, scenario = _config_and_scenario(out_dir, config_path, kw)
    run = RunFolder(out_dir)
    dataset = PreferenceDataset.load(run.need("dataset"))
    ids, U, times, statuses, _ = load_decisions(run.need("decisions"))
    if not np.array_equal(ids, dataset.context_ids):
        raise ValidationError(f"{run.decisions} does not match the dataset's weeks; "
                              "run `fairtwin resolve` again")
    costs, learner = None, None
    if run.model.exists():
        learner = load_learner(run.model, scenario.name)
        costs = learner.costs_of(dataset, outcome_maps(scenario, dataset))
    if plot_week is not None:  # the number a user knows the context by → its position
        plot_week = int(scenario.context(plot_week).index)
    metrics = evaluate_stage(dataset, U, times, statuses, config, scenario, out_dir, plot_week,
                             progress=tty(), candidate_costs=costs,
                             deployment=load_deployment(run.decisions),
                             learner=learner)
    _print_summary(metrics)
    click.echo(f"\nmetrics and plots -> {out_dir}")


@click.command("run")
@_experiment_options
def run_cmd(out_dir: Path, config_path: Path | None, **kw: Any) -> None:
    """The whole pipeline on a scenario: sample, label, train (+ active rounds), resolve, evaluate."""
    from fairtwin.pipeline import context_word, guard_of, run_pipeline

    config, scenario = _config_and_scenario(out_dir, config_path, kw)
    unit = context_word(config, scenario)
    click.echo(
        f"fairtwin run: {config.scenario.twin_path or config.scenario.name}, "
        f"{config.scenario.n_train} training + "
        f"{config.scenario.n_weeks - config.scenario.n_train} held-out {unit}, "
        f"{config.labels.n_pairs} comparisons "
        f"({config.labels.rounds} active rounds), {config.labels.oracle} rater "
        f"({_rater_note(config.labels)}), {config.learner.model} learner, {config.resolve.mode} "
        f"re-solve{_blend_note(config.resolve, guard_of(scenario))}, seed {config.seed}"
    )
    result = run_pipeline(  # the twin's own settings are merged with the user's already
        config, out_dir, progress=tty(), scenario=scenario, twin_defaults=False,
        on_stage=lambda name, t: click.echo(f"  {name:<9} {t:7.1f} s", err=True),
    )
    cov = result.metrics["sample_coverage"]
    click.echo(f"samples: {100 * cov['share_fairer']:.0f} % fairer than the nominal decision; "
               f"best a median {100 * cov['median_best_gain']:.0f} % fairer")
    _print_summary(result.metrics)
    asked, got = config.labels.n_pairs, int(result.metrics.get("n_comparisons", 0))
    if 0 < got < asked:
        click.echo(f"answers: {got} of the {asked} asked: an active round does not ask about a "
                   "re-solve that is the nominal decision or a challenger's that is the model's, "
                   "and a context with few candidates has fewer to set against it")
    total = sum(result.stage_times_s.values())
    click.echo(f"\ntotal {total:.1f} s; dataset, model, decisions, metrics.json and plots -> {out_dir}")
