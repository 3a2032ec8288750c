"""Commands on a twin itself: list the scenarios, solve one context's nominal model, check a
twin before a run, export a scenario to the folder format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import numpy as np

from fairtwin.exceptions import DataUnavailableError, ValidationError
from fairtwin.solvers import SOLVERS, SolverOptions, get_solver, solve
from fairtwin.tomlfile import read_toml
from fairtwin.twin import SCENARIOS, Scenario, get_scenario


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


@click.command("scenarios")
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


@click.command("solve")
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


@click.command("check-twin")
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


@click.command("export-twin")
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
