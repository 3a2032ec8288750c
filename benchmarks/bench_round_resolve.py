"""Do the active rounds need exact re-solves? Held-out quality and time of looser ones.

The active rounds re-solve every training week with the current model to find what to ask
next; the final re-solve is what is deployed. ``labels.round_mip_gap`` and
``labels.round_node_limit`` let the rounds' re-solves stop earlier. For each seed the decisions
are sampled once; then for every notion of fairness and every variant the default pipeline
labels, trains (with its active rounds), re-solves and evaluates on the same samples.

Reported per notion and variant, means over seeds: training and final re-solve time, held-out wins, median ΔR,
mean ΔJ (in overflow patients), max overflow rise, and in-sample wins.

    python benchmarks/bench_round_resolve.py --seeds 0 1 2 --notions rosenbrock gini max-min \
        --variants gap=0,nodes=0 default gap=0.01,nodes=100 --out runs/round-resolve
    python benchmarks/bench_round_resolve.py --dpc dpc-covid19-ita-regioni.csv ...
"""

from __future__ import annotations

import argparse
import copy
import csv
import time
from pathlib import Path

import numpy as np

from fairtwin.pipeline import (
    ExperimentConfig,
    evaluate_stage,
    label_stage,
    load_scenario,
    outcome_maps,
    resolve_stage,
    sample_stage,
    train_stage,
)


def variant_settings(text: str) -> dict[str, float | int]:
    """``default`` or ``gap=0.01,nodes=100`` as LabelConfig settings (``gap=0,nodes=0``: the
    rounds re-solve exactly as the final re-solve does)."""
    if text == "default":
        return {}
    names = {"gap": ("round_mip_gap", float), "nodes": ("round_node_limit", int)}
    out: dict[str, float | int] = {}
    for part in text.split(","):
        key, _, value = part.partition("=")
        name, kind = names[key.strip()]
        out[name] = kind(value)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--notions", nargs="+", default=["rosenbrock", "gini", "max-min"])
    ap.add_argument("--variants", nargs="+", default=["gap=0,nodes=0", "default"])
    ap.add_argument("--scenario", default="italy-synthetic")
    ap.add_argument("--dpc", type=Path, default=None,
                    help="A Civil Protection file: run on italy-dpc's real weeks instead")
    ap.add_argument("--noise", type=float, default=0.0, help="flip rate of the simulated rater")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("runs/round-resolve"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for seed in args.seeds:
        where = ({"name": "italy-dpc", "data_path": str(args.dpc)} if args.dpc
                 else {"name": args.scenario})
        base = ExperimentConfig().override(seed=seed, n_jobs=args.jobs, scenario=where)
        scenario = load_scenario(base)
        samples = sample_stage(base, scenario)
        for notion in args.notions:
            for variant in args.variants:
                config = base.override(labels={"oracle": notion, "noise": args.noise,
                                               **variant_settings(variant)})
                dataset = copy.deepcopy(samples)
                label_stage(dataset, config, scenario)
                t0 = time.perf_counter()
                learner, f_scale, _ = train_stage(dataset, config, scenario)
                train_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                U, t, st = resolve_stage(learner, f_scale, dataset, config, scenario)
                resolve_s = time.perf_counter() - t0
                f = learner.costs_of(dataset, outcome_maps(scenario, dataset))
                m = evaluate_stage(dataset, U, t, st, config, scenario, candidate_costs=f)
                held, train = m["summary"]["held-out"], m["summary"]["train"]
                row = {"seed": seed, "notion": notion, "variant": variant,
                       "train_s": round(train_s, 2), "resolve_s": round(resolve_s, 2),
                       "wins_held_out": held["wins"],
                       "median_dR_held_out": held["median_dR"],
                       "mean_dJ_held_out": held["mean_dJ_price"],
                       "max_overflow_rise": max(held["max_guard_rise"], train["max_guard_rise"]),
                       "wins_train": train["wins"]}
                rows.append(row)
                print(row, flush=True)
    with open(args.out / "results.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"\n{'notion':<12}{'variant':<22}{'train s':>8}{'re-solve s':>11}{'held wins':>10}{'med ΔR':>8}"
          f"{'ΔJ':>7}{'rise':>6}{'in wins':>8}")
    for notion in args.notions:
        for variant in args.variants:
            sel = [r for r in rows if r["notion"] == notion and r["variant"] == variant]

            def mean(key: str, sel: list[dict] = sel) -> float:
                return float(np.mean([r[key] for r in sel]))

            print(f"{notion:<12}{variant:<22}{mean('train_s'):>8.1f}{mean('resolve_s'):>11.1f}"
                  f"{mean('wins_held_out'):>10.1f}"
                  f"{100 * mean('median_dR_held_out'):>7.1f}%{mean('mean_dJ_held_out'):>7.2f}"
                  f"{max(r['max_overflow_rise'] for r in sel):>6.0f}{mean('wins_train'):>8.1f}")


if __name__ == "__main__":
    main()
