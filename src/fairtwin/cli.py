"""Command-line interface: one subcommand per stage.

Every subcommand calls the public library API. User errors (unknown names, malformed files,
infeasible models) are printed as one line on stderr without a traceback; the exit status is 2
for usage errors and 1 for the others.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import click
import numpy as np

from fairtwin import __version__
from fairtwin.exceptions import (
    DataUnavailableError,
    FairtwinError,
    UnknownNameError,
    ValidationError,
)
from fairtwin.runfolder import RunFolder, need_file
from fairtwin.solvers import SOLVERS, SolverOptions, get_solver, solve
from fairtwin.tomlfile import read_toml
from fairtwin.twin import SCENARIOS, Scenario, get_scenario

log = logging.getLogger("fairtwin")


def _tty() -> bool:
    """Progress bars only on a terminal; a log file gets one line per stage."""
    return sys.stderr.isatty()


# ---------------------------------------------------------------------- shared options
def _scenario_options(fn: Any) -> Any:
    fn = click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="TOML file with a [twin] table (transfer_share, pool_share, weights, ...).",
    )(fn)
    fn = click.option(
        "--data",
        "data_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Local copy of the Civil Protection daily file (italy-dpc).",
    )(fn)
    fn = click.option("--seed", type=int, default=0, show_default=True,
                      help="Seed of the synthetic scenario.")(fn)
    fn = click.option("--scenario", default="italy-synthetic", show_default=True,
                      help=f"One of: {', '.join(SCENARIOS)}.")(fn)
    fn = click.option("--twin", "twin_path", type=click.Path(file_okay=False, path_type=Path),
                      default=None, help="A twin folder instead of a built-in scenario.")(fn)
    return fn


def _load_scenario(
    scenario: str, seed: int, data_path: Path | None, config_path: Path | None,
    twin_path: Path | None = None,
) -> Scenario:
    if twin_path is not None:
        from fairtwin.folder import load_twin_folder

        return load_twin_folder(twin_path)
    config = None
    if config_path is not None:
        if not config_path.exists():
            raise DataUnavailableError(f"config file {config_path} does not exist")
        table = read_toml(config_path)  # its [twin] table, which the scenario's twin reads
        config = table.get("twin", table)
    return get_scenario(scenario, seed=seed, data_path=data_path, config=config,
                        source=str(config_path))


# ---------------------------------------------------------------------- the group
@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fairtwin")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """fairtwin: learn what people find fair in a Digital Twin's decisions."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    # joblib's process pool replaces a worker whose memory grew (its leak check) and says so
    # with a warning and a stack line; the job is handed to another worker and nothing is lost
    warnings.filterwarnings("ignore", message="A worker stopped while some jobs",
                            category=UserWarning)


@cli.command("scenarios")
@click.option("--data", "data_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Local copy of the Civil Protection daily file (italy-dpc).")
@click.option("--seed", type=int, default=0, show_default=True)
def scenarios_cmd(data_path: Path | None, seed: int) -> None:
    """List the scenarios and their weeks."""
    for name, (description, _) in SCENARIOS.items():
        click.echo(f"{name}\n  {description}")
        if "<" in name:  # a family: its members are named on the command line
            continue
        try:
            sc = get_scenario(name, seed=seed, data_path=data_path, download=False)
        except DataUnavailableError:
            click.echo("  weeks: not cached yet (downloaded on first use, or pass --data PATH)")
            continue
        n_over = sum(c.overloaded for c in sc.contexts)
        click.echo(
            f"  weeks: {sc.n_weeks} (--week 0..{sc.n_weeks - 1}), "
            f"{sc.contexts[0].label} .. {sc.contexts[-1].label}; "
            f"{n_over} with a region over base capacity"
        )


@cli.command("solve")
@_scenario_options
@click.option("--week", "--context", "week", required=True, type=int,
              help="Week index (see `fairtwin scenarios`), or a twin folder's row in contexts.csv "
                   "(0 the first; kept when infeasible contexts are dropped).")
@click.option("--solver", "solver_name", default="highs", show_default=True,
              help=f"One of: {', '.join(SOLVERS)}.")
@click.option("--time-limit", "time_limit_s", type=float, default=20.0, show_default=True,
              help="Solver time limit in seconds.")
@click.option("--gap", "mip_gap", type=float, default=1e-4, show_default=True,
              help="Relative MIP gap.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def solve_cmd(
    scenario: str,
    twin_path: Path | None,
    seed: int,
    data_path: Path | None,
    config_path: Path | None,
    week: int,
    solver_name: str,
    time_limit_s: float,
    mip_gap: float,
    as_json: bool,
) -> None:
    """Solve the nominal model of one week (context) and print its decision: per region for the
    ICU twin; for a twin folder the decision variables (all of 20 or fewer, else the non-zero
    ones first), the named outcomes, the nominal cost and the guarded quantity."""
    options = SolverOptions(time_limit_s=time_limit_s, mip_gap=mip_gap)
    adapter = get_solver(solver_name, options)  # validate the name before loading data
    sc = _load_scenario(scenario, seed, data_path, config_path, twin_path)
    ctx = sc.context(week)
    problem = sc.twin.build(ctx)
    result = solve(problem, adapter)
    assert result.x is not None  # solve raises for results without a decision
    u = result.x[problem.decision_index]
    report = sc.twin.report(u, ctx)
    if as_json:
        solver = {"name": result.solver, "status": result.status.value,
                  "objective": result.objective,
                  "bound": result.bound if np.isfinite(result.bound) else None,
                  "gap": result.gap if np.isfinite(result.gap) else None, "time_s": result.time_s}
        click.echo(json.dumps({"scenario": sc.name, **report.data, "solver": solver}, indent=2))
        return
    click.echo(f"{sc.name}, {report.lines[0]}")
    for line in report.lines[1:]:
        click.echo(line)
    gap = f", gap {100 * result.gap:.3g}%" if np.isfinite(result.gap) else ""
    click.echo(f"solver {result.solver}: {result.status.value} in {1000 * result.time_s:.1f} ms{gap}")


@cli.command("check-twin")
@click.argument("target")
@click.option("--contexts", "n_contexts", type=int, default=3, show_default=True,
              help="Contexts to build, solve and complete (the first, the last, ones between).")
def check_twin_cmd(target: str, n_contexts: int) -> None:
    """Check a twin before a run and list every problem at once (not only the first).

    TARGET is a twin folder or package.module:object (a Twin with .contexts, a Scenario, or a
    function returning one). Reads every file to the end, builds and solves the nominal problem
    of a few contexts, completes and checks the decision, evaluates the outcomes and the default
    notion of fairness. Exit status 0 when clean, 1 with problems.
    """
    from fairtwin.check import check_twin

    report = check_twin(target, n_contexts)
    for line in report.lines():
        click.echo(line)
    if not report.clean:
        raise click.exceptions.Exit(1)


@cli.command("export-twin")
@_scenario_options
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="The twin folder to write.")
@click.option("--weeks", default=None, help="Weeks to export, e.g. 0-9,30 (default: all).")
@click.option("--format", "fmt", default="mps", show_default=True, help="mps or lp.")
@click.option("--hooks/--no-hooks", default=True, show_default=True,
              help="Also write the twin's own Python behaviour (the ICU twin's sampler targets, "
                   "notions of fairness and bound moves) as a [python] hook, so that the folder "
                   "runs to the same numbers as the twin; --no-hooks: the files only.")
def export_twin_cmd(scenario: str, twin_path: Path | None, seed: int, data_path: Path | None,
                    config_path: Path | None, out_dir: Path, weeks: str | None, fmt: str,
                    hooks: bool) -> None:
    """Write a scenario's twin to the folder format (twin.toml, contexts.csv, models/, outcomes.csv)."""
    from fairtwin.folder import export_twin

    sc = _load_scenario(scenario, seed, data_path, config_path, twin_path)
    if (out_dir / "twin.toml").exists():
        raise ValidationError(f"{out_dir} already holds a twin; choose an empty folder")
    picked = _parse_weeks(weeks, sc) if weeks else None
    export_twin(sc, out_dir, picked, fmt, hooks=hooks)
    n = len(picked) if picked else sc.n_weeks
    click.echo(f"{sc.name}: {n} contexts, {sc.twin.n_decision} decision variables -> {out_dir} "
               f"(run it with: fairtwin run --twin {out_dir})")


def _parse_weeks(text: str, scenario: Any) -> list[int]:
    """``0-9,30`` → the weeks' numbers (each checked by :meth:`Scenario.context`)."""
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        try:
            if "-" in part:
                a, b = (int(x) for x in part.split("-", 1))
                out += list(range(a, b + 1))
            else:
                out.append(int(part))
        except ValueError:
            raise ValidationError(f"--weeks: {part!r} is not a week or a range like 0-9") from None
    for w in out:
        scenario.context(w)  # an unknown number lists the allowed ones
    return sorted(dict.fromkeys(out))


# ---------------------------------------------------------------------- pipeline stages
def _experiment_options(fn: Any) -> Any:
    """Options that override the experiment configuration (None = keep the config's value)."""
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
                     help="Flip rate of the simulated rater (or temperature with --rater logistic)."),
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


def _blend_note(resolve: Any, guard: str | None) -> str:
    """The blend re-solve's settings for the header: λ, and the twin's guarded quantity held
    at its nominal value (said only when the twin has one, in its own words)."""
    if resolve.mode != "blend":
        return ""
    held = f", {guard} held at nominal" if resolve.guard and guard else ""
    return f" (λ = {resolve.blend_lambda:g}{held})"


def _experiment_config(out_dir: Path, config_path: Path | None, kw: dict[str, Any]):  # type: ignore[no-untyped-def]
    from dataclasses import fields

    from fairtwin.pipeline import ExperimentConfig
    from fairtwin.resolve import ResolveConfig
    from fairtwin.tomlfile import read_toml

    # re-solve settings the user set (a twin folder's own [resolve] settings fill the others)
    flags = {"mode": "mode", "blend_lambda": "blend_lambda", "guard": "guard", "solver": "solver_name"}
    user_resolve = {name for name, flag in flags.items() if kw.get(flag) is not None}
    named_oracle = kw.get("oracle") is not None  # the user's, never replaced by another
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
    pca = kw.get("pca")
    n_components = None
    if pca is not None:
        if str(pca).lower() == "none":
            n_components = 0
        else:
            try:
                n_components = int(pca)
            except ValueError:
                raise ValidationError(f"--pca must be a positive integer or 'none', got {pca!r}") from None
    changes: dict[str, Any] = {
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
    config = config.override(**changes)
    if kw.get("seed") is not None:
        config = config.override(seed=kw["seed"])
    if kw.get("n_jobs") is not None:
        config = config.override(n_jobs=kw["n_jobs"])
    # validate names early, before any long work
    from fairtwin.oracles import available_oracles

    oracle = config.labels.oracle
    twin = None
    if config.scenario.twin_path:
        from fairtwin.folder import load_twin_folder
        from fairtwin.pipeline import with_oracle, with_twin_defaults

        twin = load_twin_folder(config.scenario.twin_path, validate=False)
        config = with_twin_defaults(config, twin, user_resolve)
        if not named_oracle:  # the twin's own default, recorded as what runs
            config = with_oracle(config, twin)
        oracle = config.labels.oracle
        allowed = available_oracles(twin.twin)
    else:
        from fairtwin.oracles import GENERIC_ORACLES
        from fairtwin.twin import ICU_ORACLES

        allowed = list(dict.fromkeys([*ICU_ORACLES, *GENERIC_ORACLES]))
    base, sep, rest = oracle.partition(":")
    if base not in allowed:
        if not (sep and base and rest):
            raise UnknownNameError("oracle", oracle, [*allowed, "package.module:function"])
        from fairtwin.oracles.fairness import import_oracle

        import_oracle(oracle)  # a user's callable: importable now, not after the sampling
    if twin is not None:
        from fairtwin.pipeline import check_names

        check_names(config, twin)  # an oracle's or the learner's outcome group, too
    # rater, loss, solver and mode names are checked by the configuration itself
    if config.resolve.solver != "auto":
        get_solver(config.resolve.solver)  # an uninstalled solver: one line now, not after sampling
    config.learner.check_available()
    return config


def _config_and_scenario(out_dir: Path, config_path: Path | None, kw: dict[str, Any]):  # type: ignore[no-untyped-def]
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
    if cats != ["all"]:
        rows += [(f"  {names.get(c, c) if icu else c}",
                  lambda s, c=c: s["wins_by_category"].get(c, "0/0")) for c in cats]
    rows += [
        ("median ΔR", lambda s: f"{100 * s['median_dR']:.1f} %"),
        ("median ΔR oracle bound", lambda s: f"{100 * s['median_dR_orc']:.1f} %"),
        ("ΔR_sur / ΔR_orc", lambda s: f"{s['dR_ratio_aggregate']:.2f}"),
        ("median ΔJ", lambda s: f"{s['median_dJ']:.0f}"),
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
    chosen = metrics.get("model_choice")
    evidence = metrics.get("evidence")
    if chosen or evidence:
        click.echo("")
    if chosen and chosen["table"]:
        from fairtwin.learn.evidence import ModelChoice

        click.echo(ModelChoice.from_dict(chosen).describe())
    if evidence:
        click.echo(evidence["message"])


@cli.command("sample")
@_experiment_options
def sample_cmd(out_dir: Path, config_path: Path | None, **kw: Any) -> None:
    """Sample nominal and diverse feasible decisions for the training and held-out weeks."""
    from fairtwin.pipeline import context_word, coverage_stage, sample_stage

    config, scenario = _config_and_scenario(out_dir, config_path, kw)
    dataset = sample_stage(config, scenario, progress=_tty())
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


@cli.command("label")
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


@cli.command("train")
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
    learner, f_scale, rounds = train_stage(dataset, config, scenario, progress=_tty())
    out_dir.mkdir(parents=True, exist_ok=True)
    config.save(run.config)
    dataset.save(run.dataset)
    learner.save(run.model)
    for r in rounds:
        click.echo(f"active round {r.round}: {r.n_comparisons} comparisons, re-solve fairer than "
                   f"nominal in {r.resolved_fairer_than_nominal} weeks")
    kept = (f"{learner.best_epoch_} epochs kept" if hasattr(learner, "best_epoch_")
            else f"{learner.n_parameters_} weights over the twin's outcomes")
    click.echo(f"model ({kept}) -> {run.model}")
    chosen = getattr(learner, "model_choice_", None)
    if chosen is not None and chosen.table:
        click.echo(chosen.describe())
    evidence = getattr(learner, "evidence_", None)
    if evidence is not None:
        click.echo(evidence.message)


@cli.command("resolve")
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
    U, times, statuses = resolve_stage(learner, f_scale, dataset, config, scenario, progress=_tty())
    deployment = deploy_stage(learner, f_scale, dataset, U, config, scenario)
    config.save(run.config)
    save_decisions(run.decisions, dataset, deployment.decisions, times, statuses,
                   f_scale, deployment)
    evidence = getattr(learner, "evidence_", None)
    if evidence is not None:
        click.echo(evidence.message)
    counts = ", ".join(f"{n} {c}" for c, n in deployment.counts().items())
    click.echo(f"{U.shape[0]} re-solved weeks, deployed: {counts} -> {run.decisions}")


@cli.command("evaluate")
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
                             progress=_tty(), candidate_costs=costs,
                             deployment=load_deployment(run.decisions),
                             learner=learner)
    _print_summary(metrics)
    click.echo(f"\nmetrics and plots -> {out_dir}")


@cli.command("run")
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
        f"({config.labels.rounds} active rounds), {config.labels.oracle} rater with "
        f"noise {config.labels.noise:g}, {config.learner.model} learner, {config.resolve.mode} "
        f"re-solve{_blend_note(config.resolve, guard_of(scenario))}, seed {config.seed}"
    )
    result = run_pipeline(
        config, out_dir, progress=_tty(), scenario=scenario,
        on_stage=lambda name, t: click.echo(f"  {name:<9} {t:7.1f} s", err=True),
    )
    cov = result.metrics["sample_coverage"]
    click.echo(f"samples: {100 * cov['share_fairer']:.0f} % fairer than the nominal decision; "
               f"best a median {100 * cov['median_best_gain']:.0f} % fairer")
    _print_summary(result.metrics)
    total = sum(result.stage_times_s.values())
    click.echo(f"\ntotal {total:.1f} s; dataset, model, decisions, metrics.json and plots -> {out_dir}")


# ---------------------------------------------------------------------- experiments
def _parse_grid(items: tuple[str, ...]) -> dict[str, Any]:
    """``name=v1,v2`` pairs → StudySettings values, typed like the defaults."""
    from dataclasses import fields

    from fairtwin.experiments import StudySettings

    defaults = {f.name: getattr(StudySettings(), f.name) for f in fields(StudySettings)}
    out: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not raw:
            raise ValidationError(f"--grid takes name=value[,value...], got {item!r}")
        if name not in defaults:
            raise UnknownNameError("grid setting", name, sorted(defaults))
        default = defaults[name]
        kind = type(default[0]) if isinstance(default, tuple) else type(default)
        values = []
        for v in raw.split(","):
            v = v.strip()
            try:
                values.append(0 if (name == "components" and v.lower() == "none") else kind(v))
            except ValueError:
                raise ValidationError(
                    f"--grid {name}: {v!r} is not a valid {kind.__name__}") from None
        out[name] = tuple(values) if isinstance(default, tuple) else values[0]
    return out


@cli.command("experiment")
@click.argument("study", required=False)
@click.option("--list", "list_only", is_flag=True, help="List the studies and exit.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default runs/STUDY); an interrupted run there is resumed.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="TOML: pipeline settings, and grid values in a [study] table.")
@click.option("--seeds", default=None, help="Seeds, e.g. 0,1,2 (default 0–4).")
@click.option("--grid", multiple=True,
              help="Grid values, e.g. --grid pairs=224,448 --grid noise=0,0.3 (repeatable).")
@click.option("--jobs", "n_jobs", type=int, default=2, show_default=True,
              help="Configurations run in parallel on this machine (joblib).")
@click.option("--cluster", default=None,
              help="Run the configurations on a Dask cluster: tcp://host:port of its scheduler.")
@click.option("--fresh", is_flag=True,
              help="Discard the results of another experiment found in --out instead of refusing.")
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder of the shared seed data (default OUT/cache).")
@click.option("--docs", "docs_path", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("docs/results.md"), show_default=True,
              help="Where `paper` writes its Markdown results.")
@click.option("--train-weeks", "n_train", type=int, default=None,
              help="Training weeks (default 52; the next as many are held out).")
@click.option("--samples", "n_samples", type=int, default=None,
              help="Sampled decisions per week (default 16).")
@click.option("--epochs", type=int, default=None, help="Training epochs (default 300).")
@click.option("--report-only", is_flag=True,
              help="Only write the reports of the runs already finished in --out.")
@click.option("--scenario", default=None, help=f"One of: {', '.join(SCENARIOS)}.")
@click.option("--data", "data_path", type=click.Path(dir_okay=False), default=None,
              help="Local Civil Protection file (italy-dpc).")
@click.option("--twin", "twin_path", type=click.Path(file_okay=False), default=None,
              help="A twin folder (twin.toml, contexts.csv, models/) instead of a built-in scenario.")
def experiment_cmd(study: str | None, list_only: bool, out_dir: Path | None,
                   config_path: Path | None, seeds: str | None, grid: tuple[str, ...],
                   n_jobs: int, cluster: str | None, fresh: bool, cache_dir: Path | None,
                   docs_path: Path, n_train: int | None, n_samples: int | None,
                   epochs: int | None, report_only: bool, scenario: str | None,
                   data_path: str | None, twin_path: str | None) -> None:
    """Run a named study over configurations × seeds: CSV, plots and a Markdown report.

    Studies: table1, pca, seeds, tradeoff, baselines, and paper (all of them, writing
    docs/results.md). Sampled decisions, their latent costs and the oracle bound are computed
    once per seed and shared by every configuration.
    """
    from fairtwin.experiments import STUDIES, StudySettings, run_experiment
    from fairtwin.pipeline import (
        ExperimentConfig,
        check_weeks,
        fit_split,
        load_scenario,
        with_twin_defaults,
    )
    from fairtwin.tomlfile import read_toml

    if list_only or study is None:
        for name, text in STUDIES.items():
            click.echo(f"{name:<10} {text}")
        if study is None and not list_only:
            raise click.UsageError("give a study, e.g. `fairtwin experiment table1`")
        return
    if study not in STUDIES:
        raise UnknownNameError("study", study, STUDIES)
    if n_jobs < 1:
        raise ValidationError(f"--jobs must be at least 1, got {n_jobs}")
    base, settings = ExperimentConfig(), StudySettings()
    user_resolve: set[str] = set()
    if config_path is not None:
        data = read_toml(config_path)
        settings = StudySettings.from_dict(data.pop("study", {}), source=f"{config_path} [study]")
        base = ExperimentConfig.from_dict(data, source=str(config_path))
        user_resolve = set(data.get("resolve", {}))
    base = base.override(scenario={"n_train": n_train, "name": scenario, "data_path": data_path,
                                   "twin_path": twin_path},
                         sampler={"n_samples": n_samples}, learner={"max_epochs": epochs}, n_jobs=1)
    loaded = load_scenario(base)
    base, note = fit_split(base, loaded)
    if note:
        click.echo(note)
    check_weeks(base, loaded)  # a bad twin, scenario or split: before any work
    base = with_twin_defaults(base, loaded, user_resolve)  # a twin folder's [resolve] settings
    values = _parse_grid(grid)
    if seeds is not None:
        values["seeds"] = _parse_grid((f"seeds={seeds}",))["seeds"]
    settings = settings.with_grid(**values)
    out = out_dir or Path("runs") / study
    command = "fairtwin experiment " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["experiment"] \
        else f"fairtwin experiment {study} --out {out}"
    click.echo(f"fairtwin experiment {study} -> {out}"
               + (f" on the Dask cluster {cluster}" if cluster else f" ({n_jobs} local jobs)"))
    result = run_experiment(study, base, settings, out=out, n_jobs=n_jobs, cluster=cluster,
                            fresh=fresh, cache_dir=cache_dir, docs=docs_path, command=command,
                            progress=_tty(), run=not report_only)
    t = result.timing
    click.echo(f"{int(t['runs_done'])} of {int(t['runs_total'])} runs computed now "
               f"(the rest reused), seed data {t['seed_data_s']:.0f} s, runs {t['runs_s']:.0f} s, "
               f"wall {t['wall_s']:.0f} s")
    for path in result.reports:
        click.echo(f"report -> {path}")


# ---------------------------------------------------------------------- human raters
_DB_OPTION = click.option(
    "--db", default="fairtwin-study.db", show_default=True,
    help="Study database: a SQLite file path, or a database URL (postgresql+psycopg://...).")


@cli.command("serve")
@click.option("--run", "run_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("runs/latest"), show_default=True,
              help="Pipeline run folder whose samples.npz and config.toml are shown to raters.")
@_DB_OPTION
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the pair selection.")
@click.option("--new-admin-token", is_flag=True, help="Issue a new admin token (the old one stops working).")
@click.option("--select", "strategy", default="active", show_default=True,
              help="Next pair: active (ensemble disagreement, refitted in the background) or random.")
@click.option("--refit-every", type=int, default=32, show_default=True,
              help="Answers between two refits of the active selection's ensemble.")
@click.option("--exploration", type=float, default=0.2, show_default=True,
              help="Share of random pairs under active selection.")
@click.option("--secure-cookies", is_flag=True,
              help="Mark the session cookie Secure (serving behind an HTTPS reverse proxy).")
@click.option("--quota", type=int, default=40, show_default=True,
              help="Answers asked of each rater (progress bar, then a done page); 0: no quota.")
@click.option("--goal", default="", help="The study's goal, one paragraph, shown on the intro page.")
def serve_cmd(run_dir: Path, db: str, host: str, port: int, seed: int, new_admin_token: bool,
              strategy: str, refit_every: int, exploration: float, secure_cookies: bool,
              quota: int, goal: str) -> None:
    """Serve the rating web app: people compare pairs of decisions of the run's weeks.

    Add raters with `fairtwin raters add NAME` (prints their invite link) and export the
    answers with `fairtwin raters export` for `fairtwin train --dataset`.
    """
    from fairtwin.elicit import (
        ElicitationStudy,
        PreferenceStore,
        SelectorConfig,
        StudyBrief,
        create_app,
    )
    from fairtwin.extras import require

    uvicorn = require("uvicorn", "serve")

    brief = StudyBrief(quota=quota or None, goal=goal.strip())
    selector = SelectorConfig(strategy=strategy, refit_every=refit_every, exploration=exploration)
    store = PreferenceStore(db)
    study = ElicitationStudy(store, run_dir, seed=seed, selector=selector, brief=brief)
    if new_admin_token or store.get_meta("admin_token_hash") is None:
        click.echo(f"admin token (shown once; for /admin/*): {store.set_admin_token()}")
    click.echo(f"fairtwin serve: {study.n_pairs} pairs of {study.n_weeks} weeks from "
               f"{study.samples_path}; {strategy} selection; "
               f"{f'{quota} answers per rater' if quota else 'no quota'}; database {store.url}")
    click.echo(f"rating app on http://{host}:{port}/ (invite links: fairtwin raters add NAME)")
    warning = exposure_warning(host, secure_cookies)
    if warning:
        click.echo(warning, err=True)
    uvicorn.run(create_app(study, secure_cookies=secure_cookies), host=host, port=port,
                log_level="warning")


def exposure_warning(host: str, secure_cookies: bool) -> str:
    """What to say when the app listens beyond this machine (empty on loopback)."""
    import ipaddress

    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return ""
    text = (f"warning: listening on {host}: the app speaks plain HTTP, so invite tokens and "
            "answers cross the network unencrypted; serve it behind an HTTPS reverse proxy "
            "(README, 'Asking people')")
    if not secure_cookies:
        text += " and add --secure-cookies"
    return text


@cli.group("raters")
def raters_group() -> None:
    """Manage the raters of a study: add (invite links), list, export the answers."""


@raters_group.command("add")
@click.argument("name")
@_DB_OPTION
@click.option("--url", "base_url", default="http://127.0.0.1:8000", show_default=True,
              help="Base address of the rating app, for the invite link.")
@click.option("--expires", default=None,
              help="When the invite stops working: a duration (12h, 30d) or a date (2027-01-31).")
def raters_add_cmd(name: str, db: str, base_url: str, expires: str | None) -> None:
    """Register a rater and print their invite link (it holds their secret token)."""
    from fairtwin.elicit import PreferenceStore

    store = PreferenceStore(db)
    until = _expiry(expires) if expires else None
    rater, token = store.add_rater(name, expires=until)
    if until is not None:
        import datetime as _dt

        click.echo(f"the invite expires {_dt.datetime.fromtimestamp(until).isoformat(timespec='minutes')}")
    click.echo(f"rater {rater.name!r} added; invite link (share it only with them):")
    click.echo(f"{base_url.rstrip('/')}/invite/{token}")


def _expiry(text: str) -> float:
    import datetime as _dt
    import time as _time

    units = {"m": 60, "h": 3600, "d": 86400}
    t = text.strip().lower()
    if t[-1:] in units and t[:-1].replace(".", "", 1).isdigit():
        return _time.time() + float(t[:-1]) * units[t[-1]]
    try:
        day = _dt.date.fromisoformat(t)
    except ValueError:
        raise ValidationError(f"--expires: {text!r} is neither a duration like 12h or 30d nor a "
                              "date like 2027-01-31") from None
    return _dt.datetime.combine(day, _dt.time()).timestamp()


@raters_group.command("revoke")
@click.argument("name")
@_DB_OPTION
def raters_revoke_cmd(name: str, db: str) -> None:
    """Stop a rater's invite token at once (their answers stay in the study)."""
    from fairtwin.elicit import PreferenceStore

    rater = PreferenceStore(db).revoke_rater(name)
    click.echo(f"rater {rater.name!r} revoked; {rater.n_answers} answers kept")


@raters_group.command("list")
@_DB_OPTION
def raters_list_cmd(db: str) -> None:
    """Raters and how many pairs each answered."""
    from fairtwin.elicit import PreferenceStore

    store = PreferenceStore(db)
    raters = store.raters()
    if not raters:
        click.echo("no raters yet: fairtwin raters add NAME")
        return
    click.echo(f"{'rater':<24} {'answers':>8} {'A or B':>7} {'equal':>6} {'unsure':>7}  invite")
    for r in raters:
        click.echo(f"{r.name:<24} {r.n_answers:>8} {r.n_decided:>7} {r.n_equal:>6} "
                   f"{r.n_unsure:>7}  {store.token_state(r.id)}")
    answering = sum(r.n_answers > 0 for r in raters)
    click.echo(f"{len(raters)} rater(s), {answering} with answers; {sum(r.n_answers for r in raters)} "
               "answers (A or B: learned from; equal: 'equally fair'; unsure: 'I can't tell', "
               "not learned from)")


@raters_group.command("export")
@_DB_OPTION
@click.option("--run", "run_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("runs/latest"), show_default=True, help="The run folder the study shows.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("preferences.npz"), show_default=True)
def raters_export_cmd(db: str, run_dir: Path, out_path: Path) -> None:
    """Write the answers as a preference dataset (for `fairtwin train --dataset`)."""
    from fairtwin.elicit import ElicitationStudy, PreferenceStore

    study = ElicitationStudy(PreferenceStore(db), run_dir)
    ds = study.export()
    ds.save(out_path)
    click.echo(f"{ds.n_comparisons} comparisons from {ds.info['raters_answering']} rater(s) "
               f"-> {out_path} (of {ds.info['answers']} answers; not included: "
               f"{ds.info['ties']} 'equally fair', {ds.info['cant_tell']} 'I can't tell'; "
               f"A chosen {ds.info['left_chosen']} times, B {ds.info['right_chosen']})")


@raters_group.command("reliability")
@_DB_OPTION
@click.option("--run", "run_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("runs/latest"), show_default=True, help="The run folder the study shows.")
@click.option("--model", "model_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also save the reliability-weighted aggregate model (.npz) here.")
@click.option("--epochs", type=int, default=150, show_default=True, help="Epochs of each fit.")
@click.option("--seed", type=int, default=0, show_default=True)
def raters_reliability_cmd(db: str, run_dir: Path, model_path: Path | None, epochs: int,
                           seed: int) -> None:
    """Each rater's estimated reliability and weight, and the agreement between raters."""
    from fairtwin.elicit import ElicitationStudy, PreferenceStore
    from fairtwin.learn import ReliabilityWeightedLearner, rater_agreement

    store = PreferenceStore(db)
    ds = ElicitationStudy(store, run_dir).export()
    if ds.n_comparisons == 0:
        raise DataUnavailableError("no A-or-B answers yet ('equally fair' and 'I can't tell' "
                                   "aside); nothing to estimate")
    model = ReliabilityWeightedLearner({"max_epochs": epochs}, random_state=seed).fit(ds)
    fitted = {r.name: r for r in model.reliability_}
    click.echo(f"{'rater':<20} {'answers':>7} {'A or B':>6} {'equal':>5} {'unsure':>6} "
               f"{'agrees':>7} {'accuracy':>8} {'weight':>6}")
    for rec in store.raters():
        if rec.n_answers == 0:
            continue
        counts = f"{rec.name:<20} {rec.n_answers:>7} {rec.n_decided:>6} {rec.n_equal:>5} {rec.n_unsure:>6}"
        r = fitted.get(rec.name)
        if r is None or rec.n_decided == 0:
            click.echo(f"{counts} {'-':>7} {'-':>8} {'-':>6}")
        else:
            click.echo(f"{counts} {r.agreement:>7.2f} {r.accuracy:>8.2f} {r.weight:>6.2f}")
    click.echo("(reliability is estimated from the A-or-B answers only)")
    agreement = rater_agreement(ds)
    names = agreement.names
    pairs = [(i, j) for i in range(len(names)) for j in range(i + 1, len(names))
             if agreement.n_common[i, j] > 0]
    if pairs:
        click.echo("\nagreement on pairs both answered:")
        for i, j in pairs:
            click.echo(f"  {names[i]} / {names[j]}: {agreement.share[i, j]:.2f} "
                       f"on {agreement.n_common[i, j]} pairs")
    if model_path is not None:
        model.learner_.save(model_path)
        click.echo(f"\naggregate model -> {model_path}")


# ---------------------------------------------------------------------- entry point
def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (also used by the ``fairtwin`` script)."""
    try:
        status = cli.main(args=argv, prog_name="fairtwin", standalone_mode=False)
        if isinstance(status, int) and status:  # a command's own exit status (check-twin)
            return status
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return int(exc.exit_code)
    except click.Abort:
        click.echo("aborted", err=True)
        return 1
    except (UnknownNameError, ValidationError) as exc:
        click.echo(f"error: {exc}", err=True)
        return 2
    except FairtwinError as exc:
        click.echo(f"error: {exc}", err=True)
        return 1
    except Exception as exc:  # a bug: one line for the user, the traceback in a file
        path = _write_crash_report(exc, argv)
        click.echo(f"internal error (a bug in fairtwin, not in your input): {type(exc).__name__}: "
                   f"{exc}; the full traceback is in {path}; please report it to the project's "
                   "issue tracker with that file", err=True)
        return 70
    return 0


def _write_crash_report(exc: BaseException, argv: list[str] | None) -> str:
    import tempfile
    import traceback

    args = " ".join(argv if argv is not None else sys.argv[1:])
    text = f"fairtwin {__version__}\ncommand: fairtwin {args}\n\n" + "".join(traceback.format_exception(exc))
    fd, path = tempfile.mkstemp(prefix="fairtwin-crash-", suffix=".txt")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    return path


def _script() -> None:  # pragma: no cover - console entry point
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    _script()
