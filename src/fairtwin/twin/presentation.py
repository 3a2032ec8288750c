"""What a rating page shows of two decisions of a context, member by member.

A twin whose decisions act on *members* (regions, sites, groups of people) may describe a pair
of decisions as a :class:`MembersView` (:meth:`fairtwin.twin.base.Twin.members_view`): per
member, named quantities with their unit before any decision and after decision A and after
decision B (patients, beds, load, ...), what moves between members (transfers from where to
where), each decision's totals and the context's situation in a few facts. The rating app draws
it (a table per decision, differences between A and B marked, one quantity as bars on a scale
that fits the data); nothing here is specific to one twin. A twin without such a view gets
the generic page of its named outcomes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from fairtwin.exceptions import ValidationError

__all__ = ["Quantity", "Move", "Fact", "MembersView"]


@dataclass(frozen=True)
class Fact:
    """A number with its words: ``value`` ``unit`` — ``name`` (e.g. 40 beds — extra beds in
    the national pool)."""

    name: str
    value: float
    unit: str = ""


@dataclass(frozen=True)
class Quantity:
    """One named quantity per member (lists follow :attr:`MembersView.members`).

    Attributes
    ----------
    name, unit : str
        What it is and its unit (``"load"``, ``"patients per bed"``).
    before : list of float, optional
        Its value before any decision (``None``: a quantity only a decision has, such as beds
        deployed).
    a, b : list of float
        Its value after decision A and after decision B (``inf`` allowed: shown as ∞).
    reference : float, optional
        A level a reader measures against (one patient per bed); values above it are marked.
    chart : bool
        Draw this quantity as bars (one per view is enough).
    digits : int
        Decimals shown.
    """

    name: str
    unit: str
    before: list[float] | None
    a: list[float]
    b: list[float]
    reference: float | None = None
    chart: bool = False
    digits: int = 0

    def differs(self, k: int) -> bool:
        """Whether A and B differ for member ``k`` (at the shown precision)."""
        return self.format(self.a[k]) != self.format(self.b[k])

    def format(self, v: float) -> str:
        if not math.isfinite(v):
            return "∞"
        return f"{v:,.{self.digits}f}"

    def top(self) -> float:
        """The largest finite value of before, A and B (the bars' full width), at least the
        smallest positive value's scale: the scale adapts to the data."""
        values = [v for v in [*(self.before or []), *self.a, *self.b] if math.isfinite(v)]
        top = max(values, default=0.0)
        return top if top > 0 else 1.0


@dataclass(frozen=True)
class Move:
    """``amount`` moved from member ``source`` to member ``target`` (indices of members)."""

    source: int
    target: int
    amount: float


@dataclass(frozen=True)
class MembersView:
    """Two decisions of a context, member by member (see the module docstring).

    Attributes
    ----------
    member : str
        The word for one member (``"region"``).
    members : list of str
    quantities : list of Quantity
    situation : list of Fact
        The context before any decision, in a few facts (one line on the page).
    totals_a, totals_b : list of Fact
        Each decision in a few totals.
    moves_a, moves_b : list of Move
        What each decision moves between members.
    move_unit : str
        The unit of a move (``"patients"``).
    """

    member: str
    members: list[str]
    quantities: list[Quantity]
    situation: list[Fact] = field(default_factory=list)
    totals_a: list[Fact] = field(default_factory=list)
    totals_b: list[Fact] = field(default_factory=list)
    moves_a: list[Move] = field(default_factory=list)
    moves_b: list[Move] = field(default_factory=list)
    move_unit: str = ""

    def __post_init__(self) -> None:
        n = len(self.members)
        for q in self.quantities:
            for side in (q.before, q.a, q.b):
                if side is not None and len(side) != n:
                    raise ValidationError(f"quantity {q.name!r} has {len(side)} values for "
                                          f"{n} members")
        for m in (*self.moves_a, *self.moves_b):
            if not (0 <= m.source < n and 0 <= m.target < n):
                raise ValidationError(f"a move between members {m.source} and {m.target} of {n}")

    def chart(self) -> Quantity | None:
        """The quantity drawn as bars (the first marked so), if any."""
        return next((q for q in self.quantities if q.chart), None)
