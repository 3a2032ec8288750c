"""Command-line interface: one subcommand per stage.

Every subcommand calls the public library API. User errors (unknown names, malformed files,
infeasible models) are printed as one line on stderr without a traceback; the exit status is 2
for usage errors and 1 for the others.
"""

from __future__ import annotations

import logging
import sys
import warnings

import click

from fairtwin import __version__
from fairtwin.cli._common import write_crash_report
from fairtwin.cli.experiment import experiment_cmd
from fairtwin.cli.serve import exposure_warning, raters_group, serve_cmd
from fairtwin.cli.stages import (
    evaluate_cmd,
    label_cmd,
    resolve_cmd,
    run_cmd,
    sample_cmd,
    train_cmd,
)
from fairtwin.cli.twin import check_twin_cmd, export_twin_cmd, scenarios_cmd, solve_cmd
from fairtwin.exceptions import FairtwinError, UnknownNameError, ValidationError

__all__ = ["cli", "exposure_warning", "main"]

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


for _command in (scenarios_cmd, solve_cmd, check_twin_cmd, export_twin_cmd, sample_cmd, label_cmd,
                 train_cmd, resolve_cmd, evaluate_cmd, run_cmd, experiment_cmd, serve_cmd,
                 raters_group):
    cli.add_command(_command)


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
        path = write_crash_report(exc, argv)
        click.echo(f"internal error (a bug in fairtwin, not in your input): {type(exc).__name__}: "
                   f"{exc}; the full traceback is in {path}; please report it to the project's "
                   "issue tracker with that file", err=True)
        return 70
    return 0


def _script() -> None:  # pragma: no cover - console entry point
    sys.exit(main())
