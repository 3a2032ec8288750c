"""Reading TOML settings files with errors that name the file."""

from __future__ import annotations

import tomllib
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

from fairtwin.exceptions import DataFormatError, ValidationError

__all__ = ["read_toml", "check_setting_types"]


def check_setting_types(cls: type, values: dict[str, Any], where: str) -> None:
    """Refuse settings whose type does not match the default's (a string where a number
    belongs, ...) with one line naming ``where`` and the setting."""
    for f in fields(cls):
        if f.name not in values or f.default is MISSING or f.default is None:
            continue
        value, default = values[f.name], f.default
        if isinstance(default, bool):
            ok = isinstance(value, bool)
            kind = "true or false"
        elif isinstance(default, (int, float)):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            if isinstance(default, int) and ok:
                ok = float(value).is_integer()
            kind = "an integer" if isinstance(default, int) else "a number"
        elif isinstance(default, str):
            ok, kind = isinstance(value, str), "a string"
        elif isinstance(default, tuple):
            ok, kind = isinstance(value, (list, tuple)), "a list"
        else:
            continue
        if not ok:
            raise ValidationError(f"{where}: {f.name} must be {kind}, got {value!r}")


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
    except UnicodeDecodeError:
        raise DataFormatError(path, None, None, "not a UTF-8 text file") from None
