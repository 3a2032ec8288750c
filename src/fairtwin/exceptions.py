"""Errors raised at fairtwin's boundaries.

Every error a user can cause derives from :class:`FairtwinError`; the CLI prints its message
without a traceback and exits with status 2 (usage) or 1 (everything else).
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "FairtwinError",
    "ValidationError",
    "UnknownNameError",
    "DataFormatError",
    "DataUnavailableError",
    "SolverUnavailableError",
    "MissingExtraError",
    "CapabilityError",
    "InfeasibleError",
    "UnboundedError",
    "SolveLimitError",
]


class FairtwinError(Exception):
    """Base class of all errors a user of fairtwin can cause."""


class ValidationError(FairtwinError, ValueError):
    """An argument has the wrong shape, type or value."""


class UnknownNameError(FairtwinError, KeyError):
    """A name (scenario, solver, week, oracle, ...) is not one of the allowed values."""

    def __init__(self, kind: str, name: object, allowed: Iterable[object]) -> None:
        self.kind = kind
        self.name = name
        self.allowed = list(allowed)
        shown = ", ".join(repr(a) if isinstance(a, str) else str(a) for a in self.allowed)
        super().__init__(f"unknown {kind} {name!r}; allowed values: {shown}")

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class DataFormatError(FairtwinError, ValueError):
    """A data file is malformed. The message names the file, the line and the column."""

    def __init__(self, path: object, line: int | None, column: str | None, problem: str) -> None:
        self.path = str(path)
        self.line = line
        self.column = column
        where = self.path
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {problem}")


class TwinFolderError(ValidationError):
    """A twin folder (``--twin``) is incomplete or malformed; the message names the file (and
    line and column) and the fix. A usage error: the CLI exits with status 2."""


class DataUnavailableError(FairtwinError, OSError):
    """Data could not be read or downloaded (offline, missing file)."""


class SolverUnavailableError(FairtwinError, ImportError):
    """A solver's Python package is not installed or not licensed."""


class MissingExtraError(FairtwinError, ImportError):
    """A feature needs an optional dependency that is not installed; the message names the
    extra to install (``pip install 'fairtwin[EXTRA]'``)."""


class CapabilityError(FairtwinError, ValueError):
    """A solver was asked for a problem class it does not support."""


class InfeasibleError(FairtwinError):
    """A context's model has no feasible decision.

    Attributes
    ----------
    context : str
        The context (week) whose model is infeasible.
    groups : list of str
        The constraint groups found responsible (dropping any one of them restores
        feasibility), when they could be identified.
    """

    def __init__(self, context: str, groups: list[str], detail: str = "") -> None:
        self.context = context
        self.groups = list(groups)
        named = ", ".join(self.groups) if self.groups else "not identified"
        msg = f"the model of {context} is infeasible; constraint group(s): {named}"
        if detail:
            msg += f" ({detail})"
        super().__init__(msg)


class UnboundedError(FairtwinError):
    """A context's model has an objective unbounded below."""

    def __init__(self, context: str, detail: str = "") -> None:
        self.context = context
        msg = f"the model of {context} is unbounded: the objective can decrease without limit"
        if detail:
            msg += f" ({detail})"
        super().__init__(msg)


class SolveLimitError(FairtwinError):
    """A solve hit a limit (time, iterations) before finding any feasible decision."""


class ClusterError(FairtwinError):
    """A compute cluster cannot be reached or used."""


class ExperimentFolderError(FairtwinError):
    """An experiment output folder holds results that do not belong to the requested study."""
