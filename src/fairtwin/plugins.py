"""Python objects named by the user as ``package.module:attribute`` (an ``--oracle`` callable, a
twin folder's ``[python]`` hook), imported only when named."""

from __future__ import annotations

import importlib
from typing import Any

from fairtwin.exceptions import ValidationError

__all__ = ["import_object"]


def import_object(spec: str, what: str) -> Any:
    """The object ``package.module:attribute`` names (``what`` says what it is for, in errors);
    one clear line if the spec is malformed or the module or attribute cannot be found."""
    module_name, sep, attr = spec.partition(":")
    if not (sep and module_name and attr):
        raise ValidationError(f"{what} {spec!r}: write it as package.module:attribute")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValidationError(
            f"cannot import the module of {what} {spec!r}: {exc}; is it installed or on PYTHONPATH?"
        ) from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ValidationError(f"module {module_name!r} has no {attr!r} ({what} {spec!r})") from None
