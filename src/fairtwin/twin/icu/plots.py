"""The ICU twin's own figure: per-region load ratios of a week's decisions (matplotlib)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from numpy.typing import NDArray  # noqa: E402

from fairtwin.twin.icu.notions import LoadOracle  # noqa: E402

__all__ = ["plot_loads"]


def plot_loads(
    oracle: LoadOracle,
    context: Any,
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
