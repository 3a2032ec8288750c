"""How the default run's cost grows with the size of the twin: synthetic-R<N> for several N.

Usage:
    python benchmarks/bench_scale.py [--regions 10 21 40 80] [--seed 0] [--jobs 2]
                                     [--out runs/scale] [--json OUT]

Each size is one `fairtwin run --scenario synthetic-R<N>` (defaults otherwise: 104 weeks, 1344
comparisons, outcome learner, blend re-solve) in its own process. The process tree's resident
memory (the run and its joblib workers, summed) is sampled every 0.2 s; its peak is reported.
Per stage: the wall time from the run's metrics.json, and the growth exponent ``k`` of a
least-squares fit ``time ∝ N^k`` over the sizes (``k = 2`` grows like the number of decisions,
``N²``). The held-out wins and median ΔR are printed beside, to show that the bigger twins are
learned too and not only run.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from fairtwin.runfolder import RunFolder

try:
    import psutil
except ImportError:  # pragma: no cover - installed with the dev extra
    sys.exit("bench_scale needs psutil: pip install psutil (it comes with fairtwin[dev])")

STAGES = ("sample", "train", "resolve", "evaluate")


def peak_rss(proc: subprocess.Popen, stop: threading.Event, out: list[float]) -> None:
    """Sample the summed RSS of ``proc`` and its children until ``stop`` is set."""
    try:
        root = psutil.Process(proc.pid)
    except psutil.NoSuchProcess:
        return
    peak = 0.0
    while not stop.is_set():
        total = 0
        try:
            for p in [root, *root.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
        except psutil.NoSuchProcess:
            break
        peak = max(peak, total / 2**20)
        stop.wait(0.2)
    out.append(peak)


def fairtwin_command() -> list[str]:
    exe = Path(sys.executable).with_name("fairtwin")
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-c", "import sys; from fairtwin.cli import main; sys.exit(main())"]


def run_size(n: int, seed: int, jobs: int, out: Path) -> dict:
    folder = out / f"R{n}"
    cmd = fairtwin_command() + ["run", "--scenario", f"synthetic-R{n}", "--seed", str(seed),
                                "--jobs", str(jobs), "--out", str(folder)]
    t0 = time.perf_counter()
    stop = threading.Event()
    peaks: list[float] = []
    with open(out / f"R{n}.log", "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        watcher = threading.Thread(target=peak_rss, args=(proc, stop, peaks), daemon=True)
        watcher.start()
        code = proc.wait()
        stop.set()
        watcher.join()
    wall = time.perf_counter() - t0
    if code != 0:
        raise SystemExit(f"synthetic-R{n} failed (exit {code}); see {out / f'R{n}.log'}")
    metrics = json.loads(RunFolder(folder).need("metrics").read_text())
    held = metrics["summary"]["held-out"]
    return {
        "regions": n, "decisions": n * n, "wall_s": wall, "peak_mb": peaks[0] if peaks else float("nan"),
        "stages_s": {k: metrics["stage_times_s"].get(k, 0.0) for k in STAGES},
        "held_out_wins": held["wins"], "held_out_weeks": held["n_contexts"],
        "held_out_median_dR": held["median_dR"],
        "median_resolve_ms": 1000 * held.get("median_solve_time_s", float("nan")),
    }


def exponent(ns: list[int], ts: list[float]) -> float:
    ok = [(n, t) for n, t in zip(ns, ts, strict=True) if t > 0]
    if len(ok) < 2:
        return float("nan")
    x, y = np.log([n for n, _ in ok]), np.log([t for _, t in ok])
    return float(np.polyfit(x, y, 1)[0])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--regions", type=int, nargs="+", default=[10, 21, 40, 80])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("runs/scale"))
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in args.regions:
        row = run_size(n, args.seed, args.jobs, args.out)
        rows.append(row)
        print(f"R = {n}: {row['wall_s']:.0f} s, peak {row['peak_mb']:.0f} MB, "
              + ", ".join(f"{k} {v:.1f} s" for k, v in row["stages_s"].items()), flush=True)
    ns = [r["regions"] for r in rows]
    print()
    print(f"# Scale: `python benchmarks/bench_scale.py --regions {' '.join(map(str, ns))} "
          f"--seed {args.seed} --jobs {args.jobs}` ({platform.machine()}, {psutil.cpu_count()} "
          f"CPUs, Python {platform.python_version()})")
    print()
    print("| regions | decisions | " + " | ".join(f"{s} s" for s in STAGES)
          + " | total s | peak memory MB | held-out wins | held-out median ΔR |")
    print("|---:|---:|" + "---:|" * (len(STAGES) + 4))
    for r in rows:
        print(f"| {r['regions']} | {r['decisions']} | "
              + " | ".join(f"{r['stages_s'][s]:.1f}" for s in STAGES)
              + f" | {r['wall_s']:.1f} | {r['peak_mb']:.0f} | {r['held_out_wins']}/{r['held_out_weeks']} "
              f"| {100 * r['held_out_median_dR']:.0f} % |")
    exps = {s: exponent(ns, [r["stages_s"][s] for r in rows]) for s in STAGES}
    exps["total"] = exponent(ns, [r["wall_s"] for r in rows])
    exps["peak memory"] = exponent(ns, [r["peak_mb"] for r in rows])
    print("| growth exponent k (∝ N^k) | | " + " | ".join(f"{exps[s]:.2f}" for s in STAGES)
          + f" | {exps['total']:.2f} | {exps['peak memory']:.2f} | | |")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "exponents": exps}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
