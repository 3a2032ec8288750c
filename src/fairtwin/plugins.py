"""Python objects named by the user as ``package.module:attribute`` (an ``--oracle`` callable, a
twin folder's ``[python]`` hook), imported only when named; and scenarios that installed
packages register by name (the entry-point group ``fairtwin.scenarios``)."""

from __future__ import annotations

import importlib
import inspect
from importlib.metadata import entry_points
from typing import Any

from fairtwin.exceptions import ValidationError

__all__ = ["import_object", "registered_scenarios", "load_registered_scenario", "SCENARIO_GROUP"]

#: the entry-point group in which a package registers scenarios by name
SCENARIO_GROUP = "fairtwin.scenarios"


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


def registered_scenarios() -> dict[str, str]:
    """Scenarios that installed packages register, name → ``module:attribute``.

    A package adds one in its ``pyproject.toml``::

        [project.entry-points."fairtwin.scenarios"]
        ambulances = "ambulance_twin:scenario"

    where ``scenario`` is a :class:`~fairtwin.twin.Scenario`, or a function returning one
    (called with ``seed=`` when it takes a ``seed`` argument). ``fairtwin run --scenario
    ambulances`` and ``get_scenario("ambulances")`` then find it; nothing is imported until
    it is named.
    """
    return {ep.name: ep.value for ep in entry_points(group=SCENARIO_GROUP)}


def load_registered_scenario(name: str, seed: int = 0) -> Any:
    """The scenario an installed package registers as ``name`` (see
    :func:`registered_scenarios`); one clear line when it cannot be loaded or is no scenario."""
    from fairtwin.twin.scenarios import Scenario

    found = [ep for ep in entry_points(group=SCENARIO_GROUP) if ep.name == name]
    if not found:
        raise ValidationError(f"no installed package registers scenario {name!r}")
    target = import_object(found[0].value, f"scenario {name!r}")
    if callable(target) and not isinstance(target, Scenario):
        takes_seed = "seed" in inspect.signature(target).parameters
        target = target(seed=seed) if takes_seed else target()
    if not isinstance(target, Scenario):
        raise ValidationError(f"scenario {name!r} ({found[0].value}) gave a "
                              f"{type(target).__name__}, not a fairtwin Scenario")
    return target
