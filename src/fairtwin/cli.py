"""Command-line interface: one subcommand per stage.

Every subcommand calls the public library API. User errors (unknown names, malformed files,
infeasible models) are printed as one line on stderr without a traceback; the exit status is 2
for usage errors and 1 for the others.
"""

from __future__ import annotations

import json
import logging
import sys
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
from fairtwin.solvers import SOLVERS, SolverOptions, get_solver, solve
from fairtwin.twin import SCENARIOS, Allocation, Scenario, TwinConfig, get_scenario

log = logging.getLogger("fairtwin")


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
    return fn


def _load_scenario(
    scenario: str, seed: int, data_path: Path | None, config_path: Path | None
) -> Scenario:
    config = None
    if config_path is not None:
        if not config_path.exists():
            raise DataUnavailableError(f"config file {config_path} does not exist")
        config = TwinConfig.from_toml(config_path)
    return get_scenario(scenario, seed=seed, data_path=data_path, config=config)


# ---------------------------------------------------------------------- the group
@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fairtwin")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """fairtwin: learn what people find fair in a Digital Twin's decisions."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)


@cli.command("scenarios")
@click.option("--data", "data_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Local copy of the Civil Protection daily file (italy-dpc).")
@click.option("--seed", type=int, default=0, show_default=True)
def scenarios_cmd(data_path: Path | None, seed: int) -> None:
    """List the scenarios and their weeks."""
    for name, (description, _) in SCENARIOS.items():
        click.echo(f"{name}\n  {description}")
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


def _allocation_rows(scenario: Scenario, alloc: Allocation) -> list[dict[str, Any]]:
    regions = scenario.twin.regions
    ctx = alloc.context
    rows = []
    for i in range(regions.n_regions):
        rows.append(
            {
                "region": regions.names[i],
                "code": int(regions.codes[i]),
                "demand": int(ctx.demand[i]),
                "capacity": int(ctx.capacity[i]),
                "deployed": int(round(alloc.deployed[i])),
                "transfers_out": int(round(alloc.transfers_out[i])),
                "transfers_in": int(round(alloc.transfers_in[i])),
                "overflow_before": float(alloc.overflow_before[i]),
                "overflow_after": float(alloc.overflow[i]),
                "load_before": float(alloc.load_before[i]),
                "load_after": float(alloc.load_after[i]),
            }
        )
    return rows


def _fmt_ratio(v: float) -> str:
    return "inf" if not np.isfinite(v) else f"{v:.2f}"


@cli.command("solve")
@_scenario_options
@click.option("--week", required=True, type=int, help="Week index (see `fairtwin scenarios`).")
@click.option("--solver", "solver_name", default="highs", show_default=True,
              help=f"One of: {', '.join(SOLVERS)}.")
@click.option("--time-limit", "time_limit_s", type=float, default=20.0, show_default=True,
              help="Solver time limit in seconds.")
@click.option("--gap", "mip_gap", type=float, default=1e-4, show_default=True,
              help="Relative MIP gap.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def solve_cmd(
    scenario: str,
    seed: int,
    data_path: Path | None,
    config_path: Path | None,
    week: int,
    solver_name: str,
    time_limit_s: float,
    mip_gap: float,
    as_json: bool,
) -> None:
    """Solve the nominal model of one week and print the decision per region."""
    options = SolverOptions(time_limit_s=time_limit_s, mip_gap=mip_gap)
    adapter = get_solver(solver_name, options)  # validate the name before loading data
    sc = _load_scenario(scenario, seed, data_path, config_path)
    ctx = sc.context(week)
    problem = sc.twin.build(ctx)
    result = solve(problem, adapter)
    u = result.x[problem.decision_index]
    alloc = sc.twin.allocation(u, ctx)
    rows = _allocation_rows(sc, alloc)
    src, dst = sc.twin.pairs
    moved = np.flatnonzero(u[sc.twin.n_regions :] > 0.5)
    transfers = [
        {
            "from": sc.twin.regions.names[src[k]],
            "to": sc.twin.regions.names[dst[k]],
            "patients": int(round(u[sc.twin.n_regions + k])),
            "km": round(float(sc.twin.pair_km[k]), 1),
        }
        for k in moved
    ]
    cost = alloc.cost
    if as_json:
        payload = {
            "scenario": sc.name,
            "week": ctx.index,
            "label": ctx.label,
            "pool": ctx.pool,
            "solver": {
                "name": result.solver,
                "status": result.status.value,
                "objective": result.objective,
                "bound": result.bound if np.isfinite(result.bound) else None,
                "gap": result.gap if np.isfinite(result.gap) else None,
                "time_s": result.time_s,
            },
            "cost": {
                "overflow": cost.overflow,
                "transfer": cost.transfer,
                "deploy": cost.deploy,
                "total": cost.total,
            },
            "regions": rows,
            "transfers": transfers,
        }
        click.echo(json.dumps(payload, indent=2))
        return
    click.echo(f"{sc.name}, {ctx.label}: pool of {ctx.pool} extra beds")
    header = (f"{'region':<22}{'demand':>7}{'cap':>6}{'beds+':>6}{'out':>5}{'in':>5}"
              f"{'over0':>7}{'over':>6}{'load0':>7}{'load':>6}")
    click.echo(header)
    click.echo("-" * len(header))
    for r in rows:
        click.echo(
            f"{r['region']:<22}{r['demand']:>7}{r['capacity']:>6}{r['deployed']:>6}"
            f"{r['transfers_out']:>5}{r['transfers_in']:>5}{r['overflow_before']:>7.0f}"
            f"{r['overflow_after']:>6.0f}{_fmt_ratio(r['load_before']):>7}"
            f"{_fmt_ratio(r['load_after']):>6}"
        )
    click.echo("-" * len(header))
    tot = {k: sum(r[k] for r in rows) for k in
           ("demand", "capacity", "deployed", "transfers_out", "transfers_in",
            "overflow_before", "overflow_after")}
    click.echo(
        f"{'total':<22}{tot['demand']:>7}{tot['capacity']:>6}{tot['deployed']:>6}"
        f"{tot['transfers_out']:>5}{tot['transfers_in']:>5}{tot['overflow_before']:>7.0f}"
        f"{tot['overflow_after']:>6.0f}"
    )
    if transfers:
        click.echo("transfers: " + "; ".join(
            f"{t['patients']} {t['from']} -> {t['to']} ({t['km']:.0f} km)" for t in transfers))
    click.echo(
        f"nominal cost J = {cost.total:.1f}  (overflow {cost.overflow:.1f} + transfer "
        f"{cost.transfer:.1f} + deployment {cost.deploy:.1f})"
    )
    gap = f", gap {100 * result.gap:.3g}%" if np.isfinite(result.gap) else ""
    click.echo(
        f"solver {result.solver}: {result.status.value} in {1000 * result.time_s:.1f} ms{gap}"
    )


# ---------------------------------------------------------------------- entry point
def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (also used by the ``fairtwin`` script)."""
    try:
        cli.main(args=argv, prog_name="fairtwin", standalone_mode=False)
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
    return 0


def _script() -> None:  # pragma: no cover - console entry point
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    _script()
