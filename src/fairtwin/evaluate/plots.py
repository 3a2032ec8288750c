"""PNG plots of an evaluation (matplotlib, non-interactive backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from numpy.typing import NDArray  # noqa: E402

from fairtwin.evaluate.metrics import WeekMetrics  # noqa: E402
from fairtwin.oracles import FairnessOracle  # noqa: E402
from fairtwin.twin.base import Twin  # noqa: E402

__all__ = ["plot_weeks", "plot_outcomes", "plot_week"]

_COLORS = {"overloaded": "#c0392b", "normal": "#2e86c1", "near-zero": "#95a5a6"}
_OTHER = ("#2e86c1", "#c0392b", "#95a5a6", "#27ae60", "#8e44ad", "#f39c12")


def _colors(weeks: list[WeekMetrics]) -> dict[str, str]:
    cats = list(dict.fromkeys(w.category for w in weeks))
    if all(c in _COLORS for c in cats):
        return _COLORS
    return {c: _OTHER[k % len(_OTHER)] for k, c in enumerate(cats)}


def plot_weeks(weeks: list[WeekMetrics], path: str | Path, price_unit: str = "cost units") -> Path:
    """ΔR (learned and oracle bound) and ΔJ (in the twin's price unit) per context."""
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(12, 6.5), sharex=True)
    x = np.array([w.week for w in weeks])
    palette = _colors(weeks)
    colors = [palette[w.category] for w in weeks]
    ax1.bar(x, [100 * w.dR for w in weeks], color=colors, width=0.8)
    ax1.plot(x, [100 * w.dR_orc for w in weeks], "k.", ms=4, label="oracle bound")
    ax1.set_title("bars: learned cost, coloured by kind of context", fontsize=9)
    ax1.axhline(0, color="k", lw=0.6)
    ax1.set_ylabel("ΔR: fairness gain (%)")
    ax1.set_ylim(max(-100, min(-5, min(100 * w.dR for w in weeks) - 5)), 105)
    kept = [w.week for w in weeks if w.deployed == "nominal"]
    if kept:
        ax1.plot(kept, [0.0] * len(kept), "x", color="0.3", ms=5,
                 label="nominal kept (no supported proposal)")
    ax1.legend(loc="lower left", fontsize=8)
    p = np.array([w.p_preferred for w in weeks])
    if np.isfinite(p).any():
        ax1b = ax1.twinx()
        low, high = np.array([w.p_low for w in weeks]), np.array([w.p_high for w in weeks])
        ok = np.isfinite(low) & np.isfinite(high)
        ax1b.vlines(x[ok], low[ok], high[ok], color="tab:purple", lw=2, alpha=0.25)
        ax1b.plot(x, p, "o", color="tab:purple", ms=3, alpha=0.8)
        ax1b.set_ylim(0, 1.05)
        ax1b.set_ylabel("p: re-solve fairer (posterior);\nbars: P(rater picks it), 90 %",
                        color="tab:purple", fontsize=8)
        ax1b.tick_params(axis="y", colors="tab:purple", labelsize=8)
    split_at = [w.week for w in weeks if w.split == "held-out"]
    for ax in (ax1, ax2):
        if split_at:
            ax.axvline(min(split_at) - 0.5, color="k", ls="--", lw=0.8)
    ax2.bar(x, [w.dJ_price for w in weeks], color=colors, width=0.8)
    ax2.axhline(0, color="k", lw=0.6)
    ax2.set_ylabel(f"ΔJ ({price_unit})")
    ax2.set_xlabel("context (left of the dashed line: training; right: held out)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in palette.values()]
    ax2.legend(handles, list(palette), loc="upper left", fontsize=8, title="kind")
    fig.suptitle("Learned-cost decisions against the nominal decision")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_week(twin: Twin, oracle: FairnessOracle, context: Any,
              decisions: dict[str, NDArray[np.float64]], out_dir: str | Path) -> Path:
    """The figure of one context's decisions: the twin's own
    (:meth:`~fairtwin.twin.base.Twin.plot_decisions`; the ICU twin draws regional loads,
    ``loads_week<k>.png``), else the named outcomes (``outcomes_week<k>.png``)."""
    own = twin.plot_decisions(oracle, context, decisions, out_dir)
    if own is not None:
        return own
    return plot_outcomes(twin, oracle, context, decisions,
                         Path(out_dir) / f"outcomes_week{context.index}.png")


def plot_outcomes(twin: Twin, oracle: FairnessOracle | None, context: Any,
                  decisions: dict[str, NDArray[np.float64]], path: str | Path) -> Path:
    """The named outcomes of several decisions of one context, one panel per outcome group."""
    out = twin.outcomes(context)
    groups = out.group_names
    fig, axes = plt.subplots(len(groups), 1, figsize=(12, 2.6 * len(groups) + 0.6), squeeze=False)
    values = {label: out(u)[0] for label, u in decisions.items()}
    width = 0.8 / max(len(decisions), 1)
    for ax, g in zip(axes[:, 0], groups, strict=True):
        sel = np.flatnonzero(np.array(out.groups) == g)
        for k, (label, v) in enumerate(values.items()):
            tag = label
            if oracle is not None and ax is axes[0, 0]:
                tag = f"{label} (R = {float(oracle.cost(decisions[label][None, :], context)[0]):.3g})"
            ax.bar(np.arange(sel.size) + (k - (len(values) - 1) / 2) * width, v[sel], width, label=tag)
        ax.set_xticks(np.arange(sel.size), [out.names[i] for i in sel],
                      rotation=60 if sel.size > 6 else 0, fontsize=8)
        ax.set_title(f"{g} ({out.units.get(g, '')})", fontsize=9)
        ax.axhline(0, color="k", lw=0.5)
    axes[0, 0].legend(fontsize=8, ncol=3)
    fig.suptitle(f"Outcomes, {context.label}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
