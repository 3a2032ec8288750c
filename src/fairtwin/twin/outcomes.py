"""Named outcomes: affine expressions of the decision that people look at when they judge.

For a context, a twin describes what a decision *does* as ``m`` named outcomes
``φ(u) = M u + b`` (e.g. "Lombardia: patients per base bed above the national average after the
decision"), each in an outcome *group* with a unit. They are affine in ``u``, so a convex
quadratic in the outcomes is a convex quadratic in the decision (the solver's form), and they
mean the same in every context: a learned cost over them carries to weeks nobody rated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fairtwin.exceptions import ValidationError

__all__ = ["LEVEL_MARK", "Outcomes", "is_level"]

#: A group whose name holds it is a *level* group (a twin folder's ``extra_by`` names them
#: ``g*a``: each member's outcome of group ``g`` times its attribute ``a``): never compared
#: with its own mean, and weighed by a linear term only (the model ladder's rungs with it are
#: fitted with linear weights, its square's weight held at 0): a rater who favours some members
#: wants their level up, which a convex square of the level would charge instead.
LEVEL_MARK = "*"


def is_level(group: str) -> bool:
    """Whether outcome group ``group`` is a level group (:data:`LEVEL_MARK`)."""
    return LEVEL_MARK in group


@dataclass(frozen=True, eq=False)
class Outcomes:
    """The named outcomes of one context, ``φ(u) = matrix @ u + offset``.

    Immutable: ``matrix`` and ``offset`` are read-only copies of what was given, so the views
    derived from them (:meth:`relative`, :meth:`select`) are built once and kept.

    Attributes
    ----------
    matrix : ndarray of shape (m, n_decision)
    offset : ndarray of shape (m,)
    names : tuple of str, one per outcome
    groups : tuple of str, one per outcome (outcomes of a group share a unit and a meaning)
    units : dict of str to str, the unit of each group
    compared : tuple of str
        Groups whose outcomes people compare with each other (served shares of districts, say):
        the learner sees them relative to the group's mean (:meth:`relative`). Groups not
        listed are taken as they are (the ICU twin's load gaps are already gaps to an average).
    extra : tuple of str
        Groups the learner weighs only when the answers call for them (model selection on
        held-out weeks, :func:`fairtwin.learn.evidence.select_groups`): quantities people may
        look at that the twin's core groups leave out (the ICU twin's patients and beds per
        resident, patients received). The other groups form the base model.
    weights : dict of str to ndarray
        Member weights of :attr:`compared` groups (one per member, in the group's order, all
        positive): such a group's outcomes are taken relative to their mean *weighted* by
        them — doses per resident against the rate of all residents, not the average of the
        districts' rates (a twin folder's ``compared_by``).
    """

    matrix: NDArray[np.float64]
    offset: NDArray[np.float64]
    names: tuple[str, ...]
    groups: tuple[str, ...]
    units: dict[str, str] = field(default_factory=dict)
    compared: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    weights: dict[str, NDArray[np.float64]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        M = np.array(self.matrix, dtype=np.float64)  # own, read-only copies (below): the
        b = np.array(self.offset, dtype=np.float64).reshape(-1)  # views built are kept
        if M.ndim != 2 or M.shape[0] != b.shape[0]:
            raise ValidationError(
                f"outcome matrix of shape {M.shape} does not match {b.shape[0]} offsets"
            )
        if len(self.names) != b.shape[0] or len(self.groups) != b.shape[0]:
            raise ValidationError("every outcome needs a name and a group")
        if not (np.all(np.isfinite(M)) and np.all(np.isfinite(b))):
            raise ValidationError("outcome coefficients contain NaN or inf")
        M.setflags(write=False)
        b.setflags(write=False)
        object.__setattr__(self, "matrix", M)
        object.__setattr__(self, "offset", b)
        object.__setattr__(self, "names", tuple(self.names))
        object.__setattr__(self, "groups", tuple(self.groups))
        object.__setattr__(self, "compared", tuple(self.compared))
        object.__setattr__(self, "extra", tuple(self.extra))
        unknown = [g for g in (*self.compared, *self.extra) if g not in self.groups]
        if unknown:
            raise ValidationError(f"compared or extra names unknown outcome group(s) {unknown}")
        if set(self.extra) >= set(self.groups):
            raise ValidationError("every outcome group is extra; the base model needs one")
        object.__setattr__(self, "weights", self._checked_weights())

    def _memo(self) -> dict[object, Outcomes]:
        """Derived outcomes already built (:meth:`relative`, :meth:`select`): the learner asks
        for the same views of every week's outcomes thousands of times a run (each rung, fold
        and refit), and the object is immutable. Not pickled (:meth:`__getstate__`)."""
        memo: dict[object, Outcomes] | None = self.__dict__.get("_cache")
        if memo is None:
            memo = {}
            object.__setattr__(self, "_cache", memo)
        return memo

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state.pop("_cache", None)
        return state

    def _checked_weights(self) -> dict[str, NDArray[np.float64]]:
        """:attr:`weights` as arrays; a group not compared, a count that is not the group's
        or a weight that is not positive raises."""
        out = {}
        for g, w in self.weights.items():
            w = np.asarray(w, dtype=np.float64).reshape(-1)
            n = self.groups.count(g)
            if g not in self.compared:
                raise ValidationError(f"member weights are given for {g!r}, which is not a "
                                      f"compared group; compared: {list(self.compared)}")
            if w.size != n:
                raise ValidationError(f"{w.size} member weights for group {g!r} of {n} members")
            if not np.all(np.isfinite(w) & (w > 0)):
                raise ValidationError(f"the member weights of group {g!r} must be positive")
            out[g] = w
        return out

    @property
    def base_groups(self) -> tuple[str, ...]:
        """The groups of the base model (all but :attr:`extra`), in order."""
        return tuple(g for g in self.group_names if g not in self.extra)

    def select(self, groups: tuple[str, ...] | list[str]) -> Outcomes:
        """The outcomes of ``groups`` only (in this object's order; unknown names raise), none
        of them extra: the selection is the model.

        A name ``"g@"`` adds, after the selected groups, every member of group ``g`` as a group
        of its own (``g@<member name>``): a model that weighs ``g`` and ``g@`` gives each member
        the shared weight plus a non-negative weight of its own, which its penalty shrinks to
        zero unless the answers favour that member (a rung of
        :func:`fairtwin.learn.evidence.select_groups`).
        """
        key = ("select", tuple(groups))
        memo = self._memo()
        if key not in memo:
            memo[key] = self._select(groups)
        return memo[key]

    def _select(self, groups: tuple[str, ...] | list[str]) -> Outcomes:
        plain = [g for g in groups if not g.endswith("@")]
        members = [g[:-1] for g in groups if g.endswith("@")]
        unknown = [g for g in (*plain, *members) if g not in self.group_names]
        if unknown:
            raise ValidationError(
                f"unknown outcome group(s) {unknown}; allowed: {list(self.group_names)}")
        keep = np.array([g in plain for g in self.groups])
        if keep.all() and not members:
            return self
        rows = [int(i) for i in np.flatnonzero(keep)]
        names = [self.names[i] for i in rows]
        group_of = [self.groups[i] for i in rows]
        for g in members:
            for i in np.flatnonzero(np.array(self.groups) == g):
                rows.append(int(i))
                names.append(self.names[i])
                group_of.append(f"{g}@{self.names[i]}")
        idx = np.array(rows, dtype=np.int64)
        units = {g: self.units.get(g.split("@")[0], "") for g in dict.fromkeys(group_of)}
        return Outcomes(self.matrix[idx], self.offset[idx], tuple(names), tuple(group_of),
                        units, tuple(g for g in self.compared if g in plain),
                        weights={g: w for g, w in self.weights.items() if g in plain})

    @property
    def n_outcomes(self) -> int:
        return int(self.offset.shape[0])

    @property
    def n_decision(self) -> int:
        return int(self.matrix.shape[1])

    @property
    def group_names(self) -> tuple[str, ...]:
        """The groups in order of first appearance."""
        return tuple(dict.fromkeys(self.groups))

    def group_index(self) -> NDArray[np.int64]:
        """Index of each outcome's group in :attr:`group_names`, shape (m,)."""
        order = {g: k for k, g in enumerate(self.group_names)}
        return np.array([order[g] for g in self.groups], dtype=np.int64)

    def relative(self) -> Outcomes:
        """The outcomes with every :attr:`compared` group taken relative to its mean (each
        outcome minus the group's average, weighted by :attr:`weights` where it has them; still
        affine in ``u``)."""
        if not self.compared:
            return self
        memo = self._memo()
        if "relative" not in memo:
            memo["relative"] = self._relative()
        return memo["relative"]

    def _relative(self) -> Outcomes:
        M, b = self.matrix.copy(), self.offset.copy()
        groups = np.array(self.groups)
        for g in self.compared:
            sel = groups == g
            if g in self.weights:
                w = self.weights[g] / self.weights[g].sum()
                M[sel] -= w @ M[sel]
                b[sel] -= w @ b[sel]
            else:
                M[sel] -= M[sel].mean(axis=0)
                b[sel] -= b[sel].mean()
        return Outcomes(M, b, self.names, self.groups, dict(self.units), extra=self.extra)

    def __call__(self, U: ArrayLike) -> NDArray[np.float64]:
        """Outcomes of decisions of shape (k, n_decision) (or one decision): shape (k, m)."""
        U = np.atleast_2d(np.asarray(U, dtype=np.float64))
        if U.shape[1] != self.n_decision:
            raise ValidationError(
                f"decisions have {U.shape[1]} entries, the outcomes expect {self.n_decision}"
            )
        # einsum, not BLAS: a threaded BLAS may sum in an order that depends on its thread
        # count, and learned weights would then differ in the last bits between machines
        return np.einsum("ij,kj->ik", U, self.matrix) + self.offset
