"""Reading TOML settings files with errors that name the file."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from fairtwin.exceptions import DataFormatError

__all__ = ["read_toml"]


def read_toml(path: str | Path) -> dict[str, Any]:
    """The tables of a TOML file; a missing or malformed file raises :class:`DataFormatError`
    naming the file (and the line and column of a syntax error)."""
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise DataFormatError(path, None, None, "no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise DataFormatError(path, getattr(exc, "lineno", None), getattr(exc, "colno", None),
                              f"invalid TOML: {exc}") from None
