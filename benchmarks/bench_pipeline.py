"""Quality and speed of the default pipeline (`fairtwin run`) over several seeds.

Usage:
    python benchmarks/bench_pipeline.py [--seeds 0 1 2 3 4] [--set labels.n_pairs=448 ...]
                                        [--reuse-samples DIR] [--out runs/bench] [--json OUT]

Each seed is a full run (sample, label, train with active rounds, resolve, evaluate) on
italy-synthetic: 52 training weeks, 52 held out. Reports per seed and the mean: wins in-sample
and held out (and in overloaded weeks), median ΔR, ΔR_sur/ΔR_orc, ΔJ in overflow-patient
equivalents, pairs asked, and the time of each stage. ``--reuse-samples DIR`` takes the sampled
decisions of an earlier run (``DIR/samples.npz``) instead of sampling again (for quick
comparisons of learning settings; the default run samples); the run is otherwise
``run_pipeline``'s, deployment rule included.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

from fairtwin.datasets import PreferenceDataset
from fairtwin.pipeline import ExperimentConfig, run_pipeline
from fairtwin.runfolder import RunFolder


def parse_sets(items: list[str]) -> dict:
    out: dict = {}
    for item in items:
        key, _, raw = item.partition("=")
        section, _, name = key.partition(".")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        if name:
            out.setdefault(section, {})[name] = tuple(value) if isinstance(value, list) else value
        else:
            out[section] = value
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--set", dest="sets", action="append", default=[],
                    help="override, e.g. labels.n_pairs=448 or resolve.mode=guard")
    ap.add_argument("--reuse-samples", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=Path("runs/bench"))
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    base = ExperimentConfig().override(**parse_sets(args.sets))
    rows = []
    for seed in args.seeds:
        config = base.override(seed=seed)
        t0 = time.perf_counter()
        samples = (PreferenceDataset.load(RunFolder(args.reuse_samples).need("samples"))
                   if args.reuse_samples else None)
        metrics = run_pipeline(config, args.out / f"seed{seed}", samples=samples).metrics
        wall = time.perf_counter() - t0
        tr, ho = metrics["summary"]["train"], metrics["summary"]["held-out"]
        row = {
            "seed": seed,
            "wins_train": tr["wins"], "wins_held_out": ho["wins"],
            "overloaded_train": tr["wins_by_category"]["overloaded"],
            "overloaded_held_out": ho["wins_by_category"]["overloaded"],
            "median_dR_train": tr["median_dR"], "median_dR_held_out": ho["median_dR"],
            "ratio_train": tr["dR_ratio_aggregate"], "ratio_held_out": ho["dR_ratio_aggregate"],
            "dJ_overflow_train": tr["mean_dJ_price"],
            "dJ_overflow_held_out": ho["mean_dJ_price"],
            "pairs": metrics["n_comparisons"],
            "wall_s": wall,
            **{f"t_{k}": v for k, v in metrics["stage_times_s"].items()},
        }
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)

    def frac_sum(key: str) -> str:
        won = sum(int(r[key].split("/")[0]) for r in rows)
        tot = sum(int(r[key].split("/")[1]) for r in rows)
        return f"{won}/{tot}"

    mean = lambda k: statistics.fmean(r[k] for r in rows)  # noqa: E731
    print(f"# Pipeline benchmark: seeds {args.seeds}, overrides {args.sets or 'none'}"
          f"{', reusing samples of ' + str(args.reuse_samples) if args.reuse_samples else ''}")
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    print()
    print("| seed | wins in-sample | wins held out | overloaded in / out | median ΔR in / out | "
          "ΔR_sur/ΔR_orc in / out | ΔJ (overflow pat.) in / out | pairs | wall s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['seed']} | {r['wins_train']}/52 | {r['wins_held_out']}/52 | "
              f"{r['overloaded_train']} / {r['overloaded_held_out']} | "
              f"{100 * r['median_dR_train']:.0f} % / {100 * r['median_dR_held_out']:.0f} % | "
              f"{r['ratio_train']:.2f} / {r['ratio_held_out']:.2f} | "
              f"{r['dJ_overflow_train']:.2f} / {r['dJ_overflow_held_out']:.2f} | {r['pairs']} | "
              f"{r['wall_s']:.0f} |")
    print(f"| **mean** | {mean('wins_train'):.1f}/52 | {mean('wins_held_out'):.1f}/52 | "
          f"{frac_sum('overloaded_train')} / {frac_sum('overloaded_held_out')} | "
          f"{100 * mean('median_dR_train'):.0f} % / {100 * mean('median_dR_held_out'):.0f} % | "
          f"{mean('ratio_train'):.2f} / {mean('ratio_held_out'):.2f} | "
          f"{mean('dJ_overflow_train'):.2f} / {mean('dJ_overflow_held_out'):.2f} | "
          f"{mean('pairs'):.0f} | {mean('wall_s'):.0f} |")
    stages = [k for k in rows[0] if k.startswith("t_")]
    print()
    print("mean stage times: " + ", ".join(f"{k[2:]} {mean(k):.1f} s" for k in stages))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
