"""Do the same seed's numbers depend on the thread settings? Full runs compared field by field.

Usage:
    python benchmarks/bench_reproducible.py [--seeds 0 1 2] [--out runs/reproducible]
        [--extra ARG ...]

For every seed, `fairtwin run` (defaults; ``--extra`` adds options, e.g. ``--extra=--learner
--extra=siamese``) runs twice in its own process: once with 1 joblib worker and every BLAS/OpenMP
and torch thread pool at 1 thread, once with 2 workers and 2 threads. Then every number of the
two metrics.json files is compared (stage times, solve times and the environment record
excepted, which are expected to differ) and the decisions files are compared entry by entry.
Prints, per seed, how many numbers differ and the largest difference.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from fairtwin.runfolder import RunFolder

SETTINGS = {"1 worker, 1 thread": (1, 1), "2 workers, 2 threads": (2, 2)}
SKIP = ("stage_times_s", "environment", "solve_time", "time_s", "median_solve_time_s")


def flatten(value: object, prefix: str = "") -> dict[str, object]:
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for k, v in value.items():
            if any(s in str(k) for s in SKIP):
                continue
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, list):
        out = {}
        for i, v in enumerate(value):
            out.update(flatten(v, f"{prefix}[{i}]"))
        return out
    return {prefix: value}


def run(seed: int, jobs: int, threads: int, folder: Path, extra: list[str]) -> None:
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(threads)
    exe = Path(sys.executable).with_name("fairtwin")
    cmd = [str(exe), "run", "--seed", str(seed), "--jobs", str(jobs), "--out", str(folder), *extra]
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)


def compare(a: Path, b: Path) -> tuple[int, int, float]:
    fa = flatten(json.loads(RunFolder(a).need("metrics").read_text()))
    fb = flatten(json.loads(RunFolder(b).need("metrics").read_text()))
    differ, worst = 0, 0.0
    for key in sorted(set(fa) | set(fb)):
        x, y = fa.get(key), fb.get(key)
        if x == y:
            continue
        differ += 1
        if isinstance(x, (int, float)) and isinstance(y, (int, float)):
            worst = max(worst, abs(float(x) - float(y)))
        else:
            worst = float("inf")
    with np.load(RunFolder(a).need("decisions")) as da, \
            np.load(RunFolder(b).need("decisions")) as db:
        changed = int(np.sum(np.any(da["decisions"] != db["decisions"], axis=1)))
    return differ, changed, worst


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--out", type=Path, default=Path("runs/reproducible"))
    ap.add_argument("--extra", action="append", default=[],
                    help="an option passed on to fairtwin run (repeatable)")
    args = ap.parse_args(argv)
    print(f"# Same seed, other thread settings: `python benchmarks/bench_reproducible.py "
          f"--seeds {' '.join(map(str, args.seeds))}"
          + "".join(f" --extra={e}" for e in args.extra) + "`")
    print()
    print("| seed | numbers in metrics.json that differ | weeks whose re-solved decision differs "
          "| largest difference |")
    print("|---:|---:|---:|---:|")
    for seed in args.seeds:
        folders = []
        for jobs, threads in SETTINGS.values():
            folder = args.out / f"seed{seed}-{jobs}w{threads}t"
            run(seed, jobs, threads, folder, args.extra)
            folders.append(folder)
        differ, changed, worst = compare(*folders)
        print(f"| {seed} | {differ} | {changed} | {worst:g} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
