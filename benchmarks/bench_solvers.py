"""Solve times per week: the nominal MILP, and an MIQP made of it plus a convex quadratic.

Usage:
    python benchmarks/bench_solvers.py [--weeks 52] [--seed 0] [--time-limit 30] [--gap 1e-4]
        [--run DIR] [--json OUT]

Without ``--run`` the quadratic of week w is a random one, ``λ·½(u − μ)ᵀ W Lz Lzᵀ Wᵀ (u − μ)``
with ``W`` a random orthonormal 441 × 30 basis, ``Lz`` a random 30 × 30 factor and ``μ`` a
random point inside the bounds, scaled (λ) so that it costs 1000 (one overflow patient) at the
nominal optimum (the shape of the paper's learned cost after PCA), on italy-synthetic.

With ``--run DIR`` (a folder written by ``fairtwin run``) it is the run's own learned cost of
each week, weighted as the run's re-solve weighs it (blend: ``J + λ·(w/f_scale)·f``), over the
run's weeks (all of them unless ``--weeks``): the MIQPs the pipeline actually solves.

Every MIQP path is timed cold and warm-started from the nominal solution, with the solver's
primal heuristics on and off (``SolverOptions.heuristics``; the re-solve turns them off).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from dataclasses import replace

import numpy as np

from fairtwin.costs import QuadraticCost
from fairtwin.solvers import SolverOptions, get_solver
from fairtwin.twin import get_scenario


def random_quadratic(problem, nominal_u, rng, rank=30):
    n = problem.n_decision
    W, _ = np.linalg.qr(rng.normal(size=(n, rank)))
    F = W @ (rng.normal(size=(rank, rank)) / np.sqrt(rank))
    mu = rng.uniform(0, 1, n) * np.clip(problem.upper[:n], 0, 20)
    d = F.T @ (nominal_u - mu)
    lam = 1000.0 / max(0.5 * d @ d, 1e-9)
    Fs = F * np.sqrt(lam)
    Hmu = Fs @ (Fs.T @ mu)
    return QuadraticCost.from_factor(Fs, -Hmu, 0.5 * mu @ Hmu)


def run_costs(run_dir):
    """The scenario of a run and, per week, its MIQP objective as the run's re-solve builds it."""
    from fairtwin.datasets import PreferenceDataset
    from fairtwin.learn import load_learner
    from fairtwin.pipeline import ExperimentConfig, load_decisions, load_scenario, outcome_maps
    from fairtwin.runfolder import RunFolder

    run = RunFolder(run_dir)
    cfg = ExperimentConfig.load(run.need("config"))
    if cfg.resolve.mode != "blend":
        raise SystemExit(f"{run.path}: --run needs a blend-mode run, this one used "
                         f"{cfg.resolve.mode}")
    scenario = load_scenario(cfg)
    dataset = PreferenceDataset.load(run.need("dataset"))
    learner = load_learner(run.need("model"))
    f_scale = load_decisions(run.need("decisions"))[4]
    maps = outcome_maps(scenario, dataset)
    weight = cfg.resolve.blend_lambda * scenario.twin.price_unit / f_scale
    weeks = [(scenario.contexts[int(dataset.context_ids[row])],
              learner.context_cost(dataset, row, maps).scaled(weight))
             for row in range(dataset.n_contexts)]
    return scenario, weeks


def summarise(times):
    return {"median_ms": 1000 * statistics.median(times), "max_ms": 1000 * max(times),
            "mean_ms": 1000 * statistics.fmean(times)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weeks", type=int, default=None,
                    help="first weeks only (default: 52, or all of the run's)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--time-limit", type=float, default=30.0)
    ap.add_argument("--gap", type=float, default=1e-4, help="relative MIP gap")
    ap.add_argument("--run", default=None,
                    help="a fairtwin run folder: time the MIQPs of its learned costs")
    ap.add_argument("--json", default=None, help="write the raw numbers to this file")
    args = ap.parse_args(argv)

    if args.run:
        sc, learned = run_costs(args.run)
        weeks = learned if args.weeks is None else learned[: args.weeks]
        source = f"the learned costs of {args.run} ({len(weeks)} weeks of {sc.name})"
    else:
        sc = get_scenario("italy-synthetic", seed=args.seed)
        weeks = [(sc.context(w), None) for w in range(args.weeks or 52)]
        source = f"{len(weeks)} weeks of italy-synthetic (seed {args.seed}), random rank-30 costs"
    opts = SolverOptions(time_limit_s=args.time_limit, mip_gap=args.gap, threads=1)
    highs = get_solver("highs", opts)
    scip_milp = get_solver("scip", opts)
    miqp_solvers = {f"{name}{'' if heur else '/no-heur'}":
                    get_solver(name, replace(opts, heuristics=heur))
                    for name in ("scip", "highs-oa") for heur in (True, False)}
    rng = np.random.default_rng(args.seed)
    rows = {"milp/highs": [], "milp/scip": []}
    limits: dict[str, int] = {}
    worst_gap: dict[str, float] = {}
    no_solution: dict[str, int] = {}
    for name in miqp_solvers:
        rows[f"miqp/{name}/cold"] = []
        rows[f"miqp/{name}/warm"] = []
    objective_spread = []
    for week, (ctx, cost) in enumerate(weeks):
        p = sc.twin.build(ctx)
        t0 = time.perf_counter()
        res = highs.solve(p)
        rows["milp/highs"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        scip_milp.solve(p)
        rows["milp/scip"].append(time.perf_counter() - t0)
        quad = cost if cost is not None else random_quadratic(p, res.x[: p.n_decision], rng)
        pq = p.with_objective(quadratic=quad)
        objs = []
        for name, solver in miqp_solvers.items():
            for mode, start in (("cold", None), ("warm", res.x)):
                key = f"miqp/{name}/{mode}"
                t0 = time.perf_counter()
                r = solver.solve(pq, warm_start=start)
                rows[key].append(time.perf_counter() - t0)
                if r.hit_limit:
                    limits[key] = limits.get(key, 0) + 1
                worst_gap[key] = max(worst_gap.get(key, 0.0), r.gap if np.isfinite(r.gap) else 1.0)
                if not r.has_solution:  # e.g. SCIP without heuristics and without a start
                    no_solution[key] = no_solution.get(key, 0) + 1
                    continue
                assert p.check(r.x).feasible, (key, week)
                objs.append(r.objective)
        objective_spread.append((max(objs) - min(objs)) / max(1.0, abs(min(objs))))
        print(f"week {week:3d} {ctx.label} "
              + " ".join(f"{k.split('/', 1)[1]}={1000 * v[-1]:.1f}ms" for k, v in rows.items()),
              file=sys.stderr)
    milp_median = statistics.median(rows["milp/highs"])
    print(f"# Solver benchmark: {source}, gap {args.gap:g}, one thread, "
          f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print()
    print("| solve | median ms | max ms | × MILP median | limit hits | no solution | worst gap |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    report = {}
    for key, times in rows.items():
        s = summarise(times)
        s["ratio_to_milp_median"] = s["median_ms"] / (1000 * milp_median)
        s["limit_hits"] = limits.get(key, 0)
        s["worst_gap"] = worst_gap.get(key, 0.0)
        s["no_solution"] = no_solution.get(key, 0)
        report[key] = s
        print(f"| {key} | {s['median_ms']:.1f} | {s['max_ms']:.1f} | "
              f"{s['ratio_to_milp_median']:.1f} | {s['limit_hits']} | {s['no_solution']} "
              f"| {s['worst_gap']:.1e} |")
    print()
    print(f"largest relative disagreement between the MIQP objectives found in a week: "
          f"{max(objective_spread):.1e}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
