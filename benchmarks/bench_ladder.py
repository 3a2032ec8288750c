"""The model ladder with every rung on (the linear one included): each rung's held-out gain.

Usage:
    python benchmarks/bench_ladder.py [--regime small] [--seeds 0 1 2]
        [--notions travel-averse rosenbrock gini per-resident worst-off max-min favoured
                   gini-travel quadratic unexplainable] [--out runs/ladder.jsonl]

For every notion and seed the simulated rater of ``--regime`` (as in ``bench_deploy.py``, without
active rounds) answers about the 52 training weeks, and
:func:`fairtwin.learn.evidence.select_groups` with ``linear=True`` scores every rung by whole
weeks held out: its pair accuracy and its gain over the base model in standard errors of the
paired difference. One JSON line per notion and seed goes to ``--out`` as it finishes; a table
of the linear rung and the best rung follows.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_deploy import REGIMES, config_of, seed_config  # noqa: E402

from fairtwin.experiments.cache import SeedCache  # noqa: E402
from fairtwin.learn.evidence import select_groups  # noqa: E402
from fairtwin.pipeline import (  # noqa: E402
    label_stage,
    load_scenario,
    outcome_maps,
    stage_seed,
    train_rows,
)

NOTIONS = ["travel-averse", "rosenbrock", "gini", "per-resident", "worst-off", "max-min",
           "favoured", "gini-travel", "quadratic", "unexplainable"]


def probe(notion: str, seed: int, regime: str, cache: str) -> dict:
    key = {"scenario": "italy-synthetic", "data": None, "notion": notion, "regime": regime,
           "seed": seed}
    cfg = config_of(key).override(labels={"rounds": 0})
    data = SeedCache(cache).get(seed_config(key))
    scenario = load_scenario(cfg)
    ds = data.fresh_dataset()
    label_stage(ds, cfg, scenario)
    train = ds.subset_contexts(train_rows(ds))
    choice = select_groups(lambda g: cfg.learner.make(0, g), train, outcome_maps(scenario, train),
                           linear=True, random_state=stage_seed(cfg, "select"))
    base = choice.table[0]["cv_accuracy"]
    rungs = [(r["name"], round(r["cv_accuracy"], 3),
              round((r["cv_accuracy"] - base) / r["gain_se"], 2) if r["gain_se"] > 0 else 0.0)
             for r in choice.table[1:]]
    return {"notion": notion, "seed": seed, "regime": regime, "chosen": choice.name,
            "base": round(base, 3), "rungs": rungs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--regime", default="small", choices=list(REGIMES))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--notions", nargs="+", default=NOTIONS)
    ap.add_argument("--out", type=Path, default=Path("runs/ladder.jsonl"))
    ap.add_argument("--cache", default="runs/deploy/cache")
    args = ap.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    print("| notion | seed | chosen | base | linear (acc., SE) | best rung (acc., SE) |")
    print("|---|---:|---|---:|---|---|")
    for notion in args.notions:
        for seed in args.seeds:
            row = probe(notion, seed, args.regime, args.cache)
            with open(args.out, "a") as fh:
                fh.write(json.dumps(row) + "\n")
            linear = next(r for r in row["rungs"] if r[0] == "base+linear")
            best = max(row["rungs"], key=lambda r: r[2])
            print(f"| {notion} | {seed} | {row['chosen']} | {row['base']:.3f} | {linear[1]:.3f}, "
                  f"{linear[2]:+.2f} | {best[0]} {best[1]:.3f}, {best[2]:+.2f} |", flush=True)


if __name__ == "__main__":
    main()
