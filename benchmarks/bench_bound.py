"""ΔR_sur/ΔR_orc against an oracle bound that holds the guard, for cells already benchmarked.

Usage:
    python benchmarks/bench_bound.py --results runs/deploy/results.jsonl [more.jsonl ...]
        --cache runs/deploy/cache [--rule bootstrap] [--jobs 2]

The oracle bound of ``bench_deploy.py`` (and of ``fairtwin run``) is a local search on the
latent cost over every feasible decision: it may reach its fairness by leaving more people
unserved than the nominal decision (the ICU twin's patients without a bed, the vaccine
example's people without a dose), which the default re-solve never does (it holds the guard).
For every held-out cell of the results files (the rule given; a cell run twice counts its later
row) this script searches, in each week where the cached bound raises the guarded quantity
above the nominal decision's, the bound that holds it (``oracle_bound(guard_limit=...)``, from
the week's samples; where the cell's deployed decision is fairer still, that decision, as in
``week_metrics``), and reports the cell's ratio against both bounds, with how many weeks'
bounds broke the guard and by how much. (``fairtwin run`` also starts the search from the
week's deployed decision and prints the ratio as "bound holding the guard".) The bound depends
on the notion, the seed and the week only, so it is searched once for every regime and rule of
a notion and seed. The seed data come
from the cache (a missing seed is computed, as in ``bench_deploy.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_deploy import config_of, seed_config  # noqa: E402

from fairtwin.evaluate.metrics import relative_gain  # noqa: E402
from fairtwin.experiments.cache import SeedCache  # noqa: E402
from fairtwin.pipeline import (  # noqa: E402
    guard_held_bounds,
    load_scenario,
    nominal_indices,
    oracle_of,
    train_rows,
)


def held_bounds(key: dict, cache: str) -> dict:
    """Per held-out week: the nominal latent cost, the cached bound's and the guard-holding
    bound's (:func:`fairtwin.pipeline.guard_held_bounds`, from the week's samples: its
    nominal decision is one of them), and the cached bound's rise of the guarded quantity."""
    cfg = config_of(key)
    data = SeedCache(cache).get(seed_config(key))
    scenario = load_scenario(cfg)
    twin, oracle = scenario.twin, oracle_of(cfg, scenario)
    rows = np.arange(len(train_rows(data.samples)), data.samples.n_contexts)
    held_out = data.samples.subset_contexts(rows)
    nominal = held_out.decisions[nominal_indices(held_out)]
    bounds = [data.bound[r] for r in rows]
    held = guard_held_bounds(oracle, held_out, nominal, bounds, scenario, cfg)
    out: dict[str, list[float]] = {"R_nom": [], "R_orc": [], "R_held": [], "rise": []}
    for k, row in enumerate(rows):
        ctx = scenario.contexts[int(data.samples.context_ids[row])]
        u_held = bounds[k] if held[k] is None else held[k]
        r_nom, r_orc, r_held = oracle.cost(np.stack([nominal[k], bounds[k], u_held]), ctx)
        rise = twin.guarded(bounds[k], ctx) - twin.guarded(nominal[k], ctx)
        for name, value in (("R_nom", r_nom), ("R_orc", r_orc), ("R_held", r_held),
                            ("rise", rise)):
            out[name].append(float(value))
    return {"key": key, **out}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--results", type=Path, nargs="+", required=True)
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--rule", default="bootstrap")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    rows: dict[tuple, dict] = {}
    for path in args.results:
        for line in path.read_text().splitlines():
            r = json.loads(line)
            if r.get("split") == "held-out" and r.get("rule") == args.rule and "weeks" in r:
                rows[(r["scenario"], r["data"], r["notion"], r["regime"], r["seed"])] = r
    keys = {(s, d, n, seed) for s, d, n, _, seed in rows}
    found = Parallel(n_jobs=args.jobs)(
        delayed(held_bounds)({"scenario": s, "data": d, "notion": n, "regime": "default",
                              "seed": seed}, str(args.cache)) for s, d, n, seed in sorted(keys))
    bounds = {(b["key"]["scenario"], b["key"]["data"], b["key"]["notion"], b["key"]["seed"]): b
              for b in found}
    cells: dict[tuple, list[tuple[float, float, int, float]]] = {}
    for (s, d, n, g, seed), r in sorted(rows.items()):
        b = bounds[(s, d, n, seed)]
        dR = np.array(r["weeks"]["dR"])
        rise = np.array(b["rise"])  # weeks whose bound kept the guard: the row's own gain
        held = np.array([relative_gain(rn, rh) if up > 1e-6 else orc for rn, rh, up, orc in
                         zip(b["R_nom"], b["R_held"], rise, r["weeks"]["dR_orc"], strict=True)])
        held = np.maximum(held, dR)  # the bound is the best decision seen (as week_metrics')
        ratio_held = float(dR.sum() / held.sum()) if held.sum() > 0 else 0.0
        cells.setdefault((s, n, g), []).append(
            (r["ratio"], ratio_held, int((rise > 1e-6).sum()), float(rise.max())))
    print("python benchmarks/bench_bound.py " + " ".join(sys.argv[1:]))
    print("\n| scenario | notion | regime | seeds | ΔR_sur/ΔR_orc | the same, bound holding the "
          "guard | weeks whose bound broke the guard (mean) | largest rise |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for (s, n, g), vals in sorted(cells.items()):
        a = np.array(vals)
        print(f"| {s} | {n} | {g} | {len(vals)} | {a[:, 0].mean():.3f} | {a[:, 1].mean():.3f} | "
              f"{a[:, 2].mean():.1f} | {a[:, 3].max():g} |")


if __name__ == "__main__":
    main()
