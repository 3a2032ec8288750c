"""Wall time of the full Table 1 grid (pairs × flipped labels × seeds) and where it goes.

Usage:
    python benchmarks/bench_table1.py [--seeds 0 1 2 3 4] [--variants random]
                                      [--jobs 2] [--cache DIR] [--out runs/bench-table1]
                                      [--json OUT] [--dask]

Runs ``fairtwin experiment table1`` in a fresh folder (``--out`` is emptied first) with the
default pipeline settings and reports: the wall time of the seed data (sampling and oracle
bound, once per seed) and of the runs, the core-seconds of each stage summed over runs, and the
mean in-sample wins of each configuration. ``--cache`` reuses seed data computed earlier (then
the seed-data time is not measured: say so when reporting). ``--dask`` runs the same grid on a
Dask ``LocalCluster`` of ``--jobs`` single-threaded worker processes (the ``--cluster`` path of
``fairtwin experiment``) instead of joblib, to compare the two. Target: 16 configurations ×
5 seeds in ≤ 15 minutes on 2 cores, seed data included; Dask within 10 % of joblib.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from fairtwin.experiments import StudySettings, run_experiment


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--variants", nargs="+", default=["random"])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=Path("runs/bench-table1"))
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--dask", action="store_true",
                    help="Run on a Dask LocalCluster of --jobs worker processes instead of joblib.")
    args = ap.parse_args(argv)
    if args.out.exists():
        shutil.rmtree(args.out)
    settings = StudySettings(seeds=tuple(args.seeds), variants=tuple(args.variants))
    with contextlib.ExitStack() as stack:
        cluster = None
        t0 = time.perf_counter()
        if args.dask:  # the cluster's start-up counts: a user pays it too
            from distributed import LocalCluster

            cluster = stack.enter_context(LocalCluster(
                n_workers=args.jobs, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address=None)).scheduler_address
        result = run_experiment("table1", settings=settings, out=args.out, n_jobs=args.jobs,
                                cluster=cluster, cache_dir=args.cache, progress=True)
        wall = time.perf_counter() - t0
    rows = result.tables["table1"].rows
    stages = {s: float(np.sum([r[f"t_{s}_s"] for r in rows]))
              for s in ("label", "train", "resolve", "evaluate")}
    configs = sorted({(r["variant"], r["pairs"], r["noise"]) for r in rows})
    wins = {f"{v} {p} pairs {n:.0%}": float(np.mean([r["wins_train"] for r in rows
                                                    if (r["variant"], r["pairs"], r["noise"]) == (v, p, n)]))
            for v, p, n in configs}
    report = {
        "machine": f"{platform.machine()}, Python {platform.python_version()}, jobs {args.jobs}",
        "executor": "dask LocalCluster" if args.dask else "joblib",
        "configurations": len(configs), "seeds": args.seeds, "runs": len(rows),
        "wall_s": wall, "seed_data_s": result.timing["seed_data_s"],
        "runs_s": result.timing["runs_s"], "seed_data_cached": args.cache is not None,
        "stage_core_s": stages, "mean_wins_train": wins,
    }
    print(f"# table1: {len(configs)} configurations × {len(args.seeds)} seeds = {len(rows)} runs, "
          f"{args.jobs} {'Dask workers' if args.dask else 'joblib jobs'}")
    print(f"wall {wall / 60:.1f} min (seed data {result.timing['seed_data_s'] / 60:.1f} min"
          f"{', from --cache' if args.cache else ''}; runs {result.timing['runs_s'] / 60:.1f} min)")
    print("core-seconds per stage: " + ", ".join(f"{k} {v:.0f}" for k, v in stages.items()))
    for name, w in wins.items():
        print(f"  {name:<24} {w:5.1f} wins/52")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
