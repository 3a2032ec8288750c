"""Many raters with different fairness notions and noise: what the aggregate learns.

Usage:
    python benchmarks/bench_multi_rater.py [--seed 0] [--answers 200] [--shared 40]
                                           [--cache runs/paper/cache] [--json OUT]

Five simulated raters answer pairs of the 52 training weeks of italy-synthetic (seed 0
samples): ``fair`` (the Rosenbrock oracle, clean), ``fair-20`` and ``fair-35`` (20 % and 35 %
flipped labels), ``gini`` (a different notion: the Gini coefficient of the loads, clean) and
``coin`` (a coin flip). Each answers ``--answers`` pairs, ``--shared`` of them the same for all.
Reported: each rater's estimated accuracy and weight (one-coin Dawid–Skene by cross-fitting),
its true agreement with the Rosenbrock and Gini orders, the raters' agreement on shared pairs,
and the training-week wins — judged by the Rosenbrock and by the Gini oracle — of three learned
costs: all answers pooled, reliability-weighted, and the clean rater alone.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from fairtwin.datasets import PreferenceDataset
from fairtwin.experiments import SeedCache
from fairtwin.learn import PreferenceCostLearner, ReliabilityWeightedLearner, rater_agreement, torch_threads
from fairtwin.oracles import SimulatedRater, get_oracle
from fairtwin.pipeline import (
    ExperimentConfig,
    load_scenario,
    nominal_indices,
    preference_scale,
    resolve_stage,
    train_rows,
)

RATERS = [("fair", "rosenbrock", 0.0), ("fair-20", "rosenbrock", 0.2), ("fair-35", "rosenbrock", 0.35),
          ("gini", "gini", 0.0), ("coin", "rosenbrock", 0.5)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--answers", type=int, default=200)
    ap.add_argument("--shared", type=int, default=40)
    ap.add_argument("--cache", type=Path, default=Path("runs/bench-multi/cache"))
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    config = ExperimentConfig()
    scenario = load_scenario(config)
    data = SeedCache(args.cache, n_jobs=2).get(config)
    base = data.fresh_dataset()
    rows = train_rows(base)
    twin = scenario.twin
    oracles = {"rosenbrock": get_oracle("rosenbrock", twin), "gini": get_oracle("gini", twin)}
    rng = np.random.default_rng(args.seed)
    pool = []
    for row in rows:
        idx = base.decisions_of(int(row))
        i, j = np.triu_indices(idx.size, k=1)
        pool.append(np.column_stack([np.full(i.size, row), idx[i], idx[j]]))
    pairs = np.vstack(pool)
    order = rng.permutation(pairs.shape[0])
    shared = pairs[order[: args.shared]]
    own_pool = pairs[order[args.shared:]]
    ds = PreferenceDataset(base.context_ids, base.context_features, base.decisions,
                           base.decision_context, scenario=base.scenario,
                           rater_names=[r[0] for r in RATERS], info=dict(base.info))
    truth_agree = {}
    for k, (name, oracle_name, flip) in enumerate(RATERS):
        rater = SimulatedRater(oracles[oracle_name], flip, rng)
        own = own_pool[rng.choice(own_pool.shape[0], args.answers - args.shared, replace=False)]
        chosen = np.vstack([shared, own])
        agree = {"rosenbrock": 0, "gini": 0}
        for c, a, b in chosen:
            context = scenario.contexts[int(ds.context_ids[c])]
            a_wins = bool(rater.prefers(ds.decisions[a], ds.decisions[b], context)[0])
            w, lo = (a, b) if a_wins else (b, a)
            ds.add_comparisons([c], [w], [lo], rater=k, timestamp=0.0)
            for o in agree:
                r = oracles[o].cost(np.stack([ds.decisions[w], ds.decisions[lo]]), context)
                agree[o] += int(r[0] < r[1])
        truth_agree[name] = {o: v / len(chosen) for o, v in agree.items()}

    def wins(learner: PreferenceCostLearner, train: PreferenceDataset) -> dict[str, int]:
        f_scale = preference_scale(learner, train)
        U, _, _ = resolve_stage(learner, f_scale, ds, config, scenario, rows)
        nom = nominal_indices(ds)
        out = {}
        for o, oracle in oracles.items():
            n = 0
            for k, row in enumerate(rows):
                context = scenario.contexts[int(ds.context_ids[row])]
                r = oracle.cost(np.stack([ds.decisions[nom[row]], U[k]]), context)
                n += int(r[1] < r[0] * (1 - 1e-9))
            out[o] = n
        return out

    params = {"max_epochs": 300}
    with torch_threads(1):
        train = ds.subset_contexts(rows)
        pooled = PreferenceCostLearner(**params, random_state=args.seed).fit(train)
        weighted = ReliabilityWeightedLearner(params, n_iter=2, random_state=args.seed).fit(train)
        keep = train.rater == 0
        clean = PreferenceDataset(train.context_ids, train.context_features, train.decisions,
                                  train.decision_context, train.comparisons[keep], train.rater[keep],
                                  train.round[keep], train.timestamp[keep], train.scenario,
                                  train.rater_names, train.info)
        alone = PreferenceCostLearner(**params, random_state=args.seed).fit(clean)
        results = {"pooled": wins(pooled, train), "weighted": wins(weighted.learner_, train),
                   "fair rater alone": wins(alone, clean)}
    agreement = rater_agreement(ds)
    print(f"# {len(RATERS)} simulated raters × {args.answers} answers ({args.shared} shared), "
          f"seed {args.seed}")
    print("| rater | notion | flipped | estimated accuracy | weight | agrees with Rosenbrock | with Gini |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for (name, oracle_name, flip), rel in zip(RATERS, weighted.reliability_, strict=True):
        print(f"| {name} | {oracle_name} | {flip:.0%} | {rel.accuracy:.2f} | {rel.weight:.2f} | "
              f"{truth_agree[name]['rosenbrock']:.2f} | {truth_agree[name]['gini']:.2f} |")
    print("\nagreement on the shared pairs:")
    for i in range(len(RATERS)):
        print("  " + " ".join(f"{agreement.share[i, j]:.2f}" for j in range(len(RATERS)))
              + f"  {RATERS[i][0]}")
    print("\n| learned from | wins/52 by Rosenbrock | wins/52 by Gini |")
    print("|---|---:|---:|")
    for name, w in results.items():
        print(f"| {name} | {w['rosenbrock']} | {w['gini']} |")
    print(f"\nwall {time.perf_counter() - t_start:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({
            "reliability": [vars(r) for r in weighted.reliability_], "truth_agreement": truth_agree,
            "agreement": agreement.share.tolist(), "wins": results}, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
