"""``fairtwin experiment``: a named study over configurations x seeds."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from fairtwin.cli._common import tty
from fairtwin.exceptions import UnknownNameError, ValidationError
from fairtwin.twin import SCENARIOS


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


@click.command("experiment")
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
                            progress=tty(), run=not report_only)
    t = result.timing
    click.echo(f"{int(t['runs_done'])} of {int(t['runs_total'])} runs computed now "
               f"(the rest reused), seed data {t['seed_data_s']:.0f} s, runs {t['runs_s']:.0f} s, "
               f"wall {t['wall_s']:.0f} s")
    for path in result.reports:
        click.echo(f"report -> {path}")
