"""What the question pages draw: a twin's per-member view as one table per decision (with
the differences between A and B marked and one quantity as bars), and the generic outcome
charts; the JSON of a question for the API."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from fairtwin.elicit.i18n import Catalogue
from fairtwin.elicit.study import OutcomeGroupView, OutcomePairView, PairView
from fairtwin.twin.presentation import Fact, MembersView, Quantity

__all__ = ["Cell", "Row", "Panel", "panels", "outcome_chart", "view_json", "fact_text"]


def _esc(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def number(v: float, digits: int = 0) -> str:
    """A readable number: thousands separated, ``∞`` for infinity."""
    if not math.isfinite(v):
        return "∞"
    return f"{v:,.{digits}f}"


def fact_text(f: Fact, t: Catalogue) -> str:
    """``3,615 patients need an ICU bed`` in the page's language."""
    digits = 0 if float(f.value).is_integer() or abs(f.value) >= 100 else 1
    return t("fact", value=number(f.value, digits), name=t.word(f.name))


@dataclass(frozen=True)
class Cell:
    """One quantity of one member after one decision: its text, the text before any decision
    (empty when unchanged or none), the other decision's text where it differs."""

    text: str
    before: str
    other: str
    over: bool  # above the quantity's reference level


@dataclass(frozen=True)
class Row:
    member: str
    cells: list[Cell]
    bar: str  # inline SVG of the chart quantity (empty without one)
    bar_text: str
    differs: bool


@dataclass(frozen=True)
class Panel:
    """One decision's table."""

    key: str
    totals: list[str]
    rows: list[Row]
    moves: list[str]


def _bar(q: Quantity, k: int, mine: list[float], top: float) -> str:
    """A member's bar: before (grey, thin, above) and after this decision (blue, red above
    the reference), on a scale shared by A and B (``top`` is the full width), and the
    reference level as a dashed line. SVG attributes only: the page's CSP forbids styles."""
    def width(v: float) -> float:
        return 100.0 if not math.isfinite(v) else max(0.0, min(v / top, 1.0)) * 100.0

    after = mine[k]
    over = q.reference is not None and after > q.reference + 1e-9
    parts = ['<svg class="bar" viewBox="0 0 100 16" preserveAspectRatio="none" aria-hidden="true">']
    if q.before is not None:
        parts.append(f'<rect class="before" x="0" y="1" width="{width(q.before[k]):.2f}" height="5"/>')
    parts.append(f'<rect class="{"over" if over else "after"}" x="0" y="7" '
                 f'width="{width(after):.2f}" height="8"/>')
    if q.reference is not None and q.reference <= top:
        x = q.reference / top * 100.0
        parts.append(f'<line class="ref" x1="{x:.2f}" x2="{x:.2f}" y1="0" y2="16" '
                     'vector-effect="non-scaling-stroke"/>')
    parts.append("</svg>")
    return "".join(parts)


def panels(mv: MembersView, t: Catalogue) -> list[Panel]:
    """The A and B tables of a per-member view."""
    chart = mv.chart()
    top = chart.top() if chart is not None else 1.0
    cols = [q for q in mv.quantities if q is not chart]
    out = []
    for key in ("a", "b"):
        other_key = "b" if key == "a" else "a"
        rows = []
        for k, name in enumerate(mv.members):
            cells = []
            for q in cols:
                mine, theirs = getattr(q, key)[k], getattr(q, other_key)[k]
                before = q.format(q.before[k]) if q.before is not None else ""
                # the same lines in A's and B's cell, so that their rows stay aligned
                changed = before != "" and {q.format(q.a[k]), q.format(q.b[k])} != {before}
                cells.append(Cell(q.format(mine), before if changed else "",
                                  q.format(theirs) if q.differs(k) else "",
                                  q.reference is not None and mine > q.reference + 1e-9))
            bar, bar_text = "", ""
            if chart is not None:
                mine_c = getattr(chart, key)
                bar = _bar(chart, k, mine_c, top)
                bar_text = (f"{chart.format(chart.before[k])} → " if chart.before is not None
                            else "") + chart.format(mine_c[k])
            differs = any(q.differs(k) for q in mv.quantities)
            rows.append(Row(name, cells, bar, bar_text, differs))
        moves = [t("move", amount=number(m.amount), unit=t.word(mv.move_unit),
                   source=mv.members[m.source], target=mv.members[m.target])
                 for m in getattr(mv, f"moves_{key}")]
        totals = [fact_text(f, t) for f in getattr(mv, f"totals_{key}")]
        out.append(Panel(key, totals, rows, moves))
    return out


def columns(mv: MembersView, t: Catalogue) -> tuple[list[str], str]:
    """The table's column heads (the non-chart quantities) and the chart's head."""
    chart = mv.chart()
    heads = [t.word(q.name) for q in mv.quantities if q is not chart]
    return heads, (f"{t.word(chart.name)} ({t.word(chart.unit)})" if chart is not None else "")


def outcome_chart(g: OutcomeGroupView, which: str) -> str:
    """Horizontal bars of one outcome group for decision ``which`` (the other's as a grey
    tick), on a scale shared by both decisions."""
    values = g.a if which == "a" else g.b
    other = g.b if which == "a" else g.a
    row, label_w, width = 18, 130, 360  # about a phone's width: 12 px text stays ~12 px
    lo = min(0.0, *g.a, *g.b)
    hi = max(0.0, *g.a, *g.b)
    span = (hi - lo) or 1.0
    scale = (width - label_w - 50) / span
    zero = label_w + scale * (0.0 - lo)
    parts = [f'<svg class="loads" viewBox="0 0 {width} {row * len(g.names) + 8}" role="img" '
             f'aria-label="{_esc(g.group)} per outcome">']
    for k, name in enumerate(g.names):
        y = 4 + k * row
        v, o = values[k], other[k]
        x0, x1 = sorted((zero, label_w + scale * (v - lo)))
        parts.append(f'<text x="{label_w - 4}" y="{y + 11}" text-anchor="end">{_esc(name[:20])}</text>')
        parts.append(f'<rect x="{x0:.1f}" y="{y + 3}" width="{max(x1 - x0, 0.5):.1f}" height="9" '
                     'fill="#2e86c1"/>')
        xo = label_w + scale * (o - lo)
        parts.append(f'<line x1="{xo:.1f}" x2="{xo:.1f}" y1="{y + 1}" y2="{y + 14}" stroke="#8a949c" '
                     'stroke-width="2"/>')
        parts.append(f'<text x="{max(x1, zero) + 3:.1f}" y="{y + 12}">{v:.3g}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _finite(values: list[float] | None) -> list[float | None] | None:
    return None if values is None else [v if math.isfinite(v) else None for v in values]


def view_json(view: PairView | OutcomePairView) -> dict[str, object]:
    """A question as JSON (infinities as ``null``)."""
    if isinstance(view, OutcomePairView):
        return {"query_id": view.query.id, "week": view.week_label,
                "groups": [asdict(g) for g in view.groups],
                "cost": {"a": view.cost_a, "b": view.cost_b},
                "guard": {"name": view.guard_name, "a": view.guard_a, "b": view.guard_b},
                "price_unit": view.price_unit_name}
    mv = view.members
    return {
        "query_id": view.query.id, "week": view.week_label, "synthetic": view.synthetic,
        "member": mv.member, "members": mv.members,
        "quantities": [{"name": q.name, "unit": q.unit, "before": _finite(q.before),
                        "a": _finite(q.a), "b": _finite(q.b), "reference": q.reference}
                       for q in mv.quantities],
        "situation": [asdict(f) for f in mv.situation],
        "a": {"totals": [asdict(f) for f in mv.totals_a], "moves": [asdict(m) for m in mv.moves_a]},
        "b": {"totals": [asdict(f) for f in mv.totals_b], "moves": [asdict(m) for m in mv.moves_b]},
        "move_unit": mv.move_unit,
    }
