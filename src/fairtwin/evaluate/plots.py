"""PNG plots of an evaluation (matplotlib, non-interactive backend)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from numpy.typing import NDArray  # noqa: E402

from fairtwin.evaluate.metrics import WeekMetrics  # noqa: E402
from fairtwin.oracles import FairnessOracle  # noqa: E402
from fairtwin.twin import Context  # noqa: E402

__all__ = ["plot_weeks", "plot_loads"]

_COLORS = {"overloaded": "#c0392b", "normal": "#2e86c1", "near-zero": "#95a5a6"}


def plot_weeks(weeks: list[WeekMetrics], path: str | Path) -> Path:
    """ΔR (learned and oracle bound) and ΔJ (overflow-patient equivalents) per week."""
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(12, 6.5), sharex=True)
    x = np.array([w.week for w in weeks])
    colors = [_COLORS[w.category] for w in weeks]
    ax1.bar(x, [100 * w.dR for w in weeks], color=colors, width=0.8)
    ax1.plot(x, [100 * w.dR_orc for w in weeks], "k.", ms=4, label="oracle bound")
    ax1.set_title("bars: learned cost, coloured by week type", fontsize=9)
    ax1.axhline(0, color="k", lw=0.6)
    ax1.set_ylabel("ΔR: fairness gain (%)")
    ax1.set_ylim(max(-100, min(-5, min(100 * w.dR for w in weeks) - 5)), 105)
    ax1.legend(loc="lower left", fontsize=8)
    split_at = [w.week for w in weeks if w.split == "held-out"]
    for ax in (ax1, ax2):
        if split_at:
            ax.axvline(min(split_at) - 0.5, color="k", ls="--", lw=0.8)
    ax2.bar(x, [w.dJ_overflow_equiv for w in weeks], color=colors, width=0.8)
    ax2.axhline(0, color="k", lw=0.6)
    ax2.set_ylabel("ΔJ (overflow patients)")
    ax2.set_xlabel("week (left of the dashed line: training weeks; right: held out)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in _COLORS.values()]
    ax2.legend(handles, list(_COLORS), loc="upper left", fontsize=8, title="week")
    fig.suptitle("Learned-cost decisions against the nominal decision")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_loads(
    oracle: FairnessOracle,
    context: Context,
    decisions: dict[str, NDArray[np.float64]],
    path: str | Path,
) -> Path:
    """Per-region load ratios of several decisions of one week, with the national ratio."""
    names = oracle.twin.regions.abbreviations
    R = len(names)
    fig, ax = plt.subplots(figsize=(12, 4.5))
    width = 0.8 / max(len(decisions), 1)
    before = context.demand / np.maximum(context.capacity, 1)
    ax.plot(np.arange(R), before, "kx", label="before (D/C)")
    for k, (label, u) in enumerate(decisions.items()):
        rho = oracle.load_ratios(u[None, :], context)[0]
        R_val = float(oracle.cost(u[None, :], context)[0])
        ax.bar(np.arange(R) + (k - (len(decisions) - 1) / 2) * width, rho, width,
               label=f"{label} (R = {R_val:.3g})")
    rho_bar = context.demand.sum() / (context.capacity.sum() + context.pool)
    ax.axhline(rho_bar, color="k", ls=":", lw=1, label="national ratio with the full pool")
    ax.axhline(1.0, color="r", lw=0.6)
    ax.set_xticks(np.arange(R), names, rotation=60)
    ax.set_ylabel("load ratio ρ")
    ax.set_title(f"Regional loads, {context.label}")
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
