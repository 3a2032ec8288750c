"""Notions of fairness by name, for any twin.

A name is looked up, in order, among

1. the twin's own notions (:meth:`~fairtwin.twin.base.Twin.oracles`; the ICU twin's are
   ``rosenbrock``, ``gini``, ``max-min``, ``quadratic``, ``gini-travel``);
2. the generic notions over one group of the twin's named outcomes, ``NAME`` or
   ``NAME:GROUP`` (default group: the first with more than one outcome):

   - ``gini``: the Gini coefficient of the group's outcomes (mean absolute difference over
     twice the mean); for outcomes that can be negative (such as gaps to an average) the mean
     absolute difference over twice the mean absolute value;
   - ``max-min``: their spread ``max − min``;
   - ``quadratic``: ``½ Σ_i (φ_i − φ̄)²``;

3. a Python callable ``package.module:function``, imported only when named. It is called as
   ``function(values, outcomes, context)`` with ``values`` the outcomes of the decisions,
   shape (n_decisions, n_outcomes), ``outcomes`` the context's
   :class:`~fairtwin.twin.outcomes.Outcomes` (names, groups, units) and returns one latent
   cost per decision (lower is fairer). ``package.module:Class`` may also name a
   :class:`FairnessOracle` subclass, built with the twin.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fairtwin.exceptions import UnknownNameError, ValidationError
from fairtwin.oracles.base import FairnessOracle
from fairtwin.plugins import import_object
from fairtwin.twin.base import Twin

__all__ = [
    "OutcomeGroupOracle",
    "CallableOracle",
    "GENERIC_ORACLES",
    "available_oracles",
    "get_oracle",
]


class OutcomeGroupOracle(FairnessOracle):
    """A spread of one group of the twin's named outcomes (see the module docstring).

    Parameters
    ----------
    twin : Twin
    group : str, optional
        The outcome group (default: the first with more than one outcome).
    """

    name = "outcome-group"

    def __init__(self, twin: Twin, group: str | None = None) -> None:
        super().__init__(twin)
        self.group = group

    def values(self, U: ArrayLike, context: Any) -> NDArray[np.float64]:
        """The group's outcomes of each decision, shape (n_decisions, n_group)."""
        out = self.twin.outcomes(context)
        group = self.group or default_group(out.groups)
        if group not in out.group_names:
            raise UnknownNameError(f"outcome group of {self.name}", group, out.group_names)
        sel = np.array([g == group for g in out.groups])
        U = np.atleast_2d(np.asarray(U, dtype=np.float64))
        return U @ out.matrix[sel].T + out.offset[sel]

    def cost(self, U: ArrayLike, context: Any) -> NDArray[np.float64]:
        raise NotImplementedError


def default_group(groups: tuple[str, ...]) -> str:
    """The first group with more than one outcome (else the first group)."""
    for g in dict.fromkeys(groups):
        if sum(x == g for x in groups) > 1:
            return g
    return groups[0]


class GroupGini(OutcomeGroupOracle):
    name = "gini"

    def cost(self, U: ArrayLike, context: Any) -> NDArray[np.float64]:
        v = self.values(U, context)
        mad = np.abs(v[:, :, None] - v[:, None, :]).mean(axis=(1, 2))
        level = v.mean(axis=1) if np.all(v >= 0) else np.abs(v).mean(axis=1)
        return np.where(level > 0, mad / (2 * np.where(level > 0, level, 1.0)), 0.0)


class GroupSpread(OutcomeGroupOracle):
    name = "max-min"

    def cost(self, U: ArrayLike, context: Any) -> NDArray[np.float64]:
        v = self.values(U, context)
        return v.max(axis=1) - v.min(axis=1)


class GroupSquaredDeviation(OutcomeGroupOracle):
    name = "quadratic"

    def cost(self, U: ArrayLike, context: Any) -> NDArray[np.float64]:
        v = self.values(U, context)
        return 0.5 * np.sum((v - v.mean(axis=1, keepdims=True)) ** 2, axis=1)


GENERIC_ORACLES: dict[str, type[OutcomeGroupOracle]] = {
    "gini": GroupGini,
    "max-min": GroupSpread,
    "quadratic": GroupSquaredDeviation,
}


class CallableOracle(FairnessOracle):
    """A latent cost given as ``function(values, outcomes, context)`` on the named outcomes."""

    def __init__(self, twin: Twin, function: Callable[..., Any], name: str) -> None:
        super().__init__(twin)
        self.function = function
        self.name = name

    def cost(self, U: ArrayLike, context: Any) -> NDArray[np.float64]:
        U = np.atleast_2d(np.asarray(U, dtype=np.float64))
        out = self.twin.outcomes(context)
        try:
            raw = self.function(out(U), out, context)
        except Exception as exc:  # a user's function: say whose error it is
            raise ValidationError(f"the oracle {self.name} raised {type(exc).__name__}: {exc}") from exc
        try:
            values = np.asarray(raw, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise ValidationError(
                f"the oracle {self.name} must return numbers, one per decision; got "
                f"{type(raw).__name__}"
            ) from None
        if values.shape[0] != U.shape[0]:
            raise ValidationError(
                f"the oracle {self.name} returned {values.shape[0]} values for {U.shape[0]} "
                f"decisions; it must return one latent cost per decision (row of values)"
            )
        if not np.all(np.isfinite(values)):
            raise ValidationError(f"the oracle {self.name} returned NaN or inf")
        return values


def available_oracles(twin: Twin) -> list[str]:
    """Names an oracle may be given by for this twin (callables ``module:function`` aside)."""
    return list(dict.fromkeys([*twin.oracles(), *GENERIC_ORACLES]))


def import_oracle(spec: str) -> Any:
    """The object ``package.module:attribute`` names; a clear error if it cannot be imported."""
    return import_object(spec, "oracle")


def get_oracle(name: str, twin: Twin, **kwargs: Any) -> FairnessOracle:
    """Build a notion of fairness by name (see the module docstring); unknown names list the
    allowed values."""
    own = twin.oracles()
    if name in own:
        return own[name](twin, **kwargs)
    base, sep, group = name.partition(":")
    if base in GENERIC_ORACLES:
        if sep and not group:
            raise ValidationError(f"oracle {name!r}: name an outcome group after ':'")
        return GENERIC_ORACLES[base](twin, group=group or None, **kwargs)
    if sep and base and group:
        target = import_oracle(name)
        if isinstance(target, type) and issubclass(target, FairnessOracle):
            return target(twin, **kwargs)
        if callable(target):
            return CallableOracle(twin, target, name)
        raise ValidationError(f"oracle {name!r} is neither a function nor a FairnessOracle class")
    raise UnknownNameError("oracle", name, [*available_oracles(twin), "package.module:function"])
