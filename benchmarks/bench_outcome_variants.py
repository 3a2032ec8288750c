"""How well the outcome learner ranks the candidates of weeks nobody rated, per setting.

Usage:
    python benchmarks/bench_outcome_variants.py SAMPLES.npz [--notions ...] [--label-seeds 0 1]
        [--alphas 0 0.001 0.01 0.1 1] [--pairs 1344]

SAMPLES.npz is a run's ``samples.npz`` (italy-synthetic, scenario seed 0: e.g. from
``fairtwin sample --out runs/a``). For each notion and label seed: ``--pairs`` random clean pairs
of the 52 training weeks, the outcome learner fitted with and without linear weights for each
``alpha``, and its pairwise accuracy on all pairs of the 52 held-out weeks' candidates (judged by
the latent cost; nobody is asked about those weeks). No active rounds, no solver: seconds.
"""

from __future__ import annotations

import argparse

import numpy as np

from fairtwin.datasets import PreferenceDataset
from fairtwin.evaluate.metrics import candidate_pair_accuracy
from fairtwin.learn import OutcomeCostLearner
from fairtwin.oracles import get_oracle
from fairtwin.pipeline import outcome_maps, pair_pool
from fairtwin.twin import get_scenario


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("samples")
    ap.add_argument("--notions", nargs="+",
                    default=["rosenbrock", "quadratic", "gini", "max-min", "gini-travel"])
    ap.add_argument("--label-seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--alphas", type=float, nargs="+", default=[0.0, 1e-3, 1e-2, 1e-1, 1.0])
    ap.add_argument("--pairs", type=int, default=1344)
    ap.add_argument("--n-train", type=int, default=52)
    args = ap.parse_args()
    scenario = get_scenario("italy-synthetic", seed=0)
    base = PreferenceDataset.load(args.samples)
    maps = outcome_maps(scenario, base)
    n = args.n_train
    held = range(n, base.n_contexts)
    print(f"held-out pair accuracy, mean over label seeds {args.label_seeds}, {args.pairs} pairs")
    print("| notion | linear | " + " | ".join(f"α = {a:g}" for a in args.alphas) + " |")
    print("|---|---|" + "---:|" * len(args.alphas))
    for name in args.notions:
        oracle = get_oracle(name, scenario.twin)
        R = np.empty(base.n_decisions)
        for row in range(base.n_contexts):
            idx = base.decisions_of(row)
            R[idx] = oracle.cost(base.decisions[idx], scenario.contexts[int(base.context_ids[row])])
        pool = pair_pool(base, np.arange(n))
        acc: dict[tuple[bool, float], list[float]] = {}
        for seed in args.label_seeds:
            pick = pool[np.random.default_rng(seed).choice(len(pool), args.pairs, replace=False)]
            first = R[pick[:, 1]] <= R[pick[:, 2]]
            ds = PreferenceDataset(base.context_ids, base.context_features, base.decisions,
                                   base.decision_context, scenario=base.scenario, info=dict(base.info))
            ds.add_comparisons(pick[:, 0], np.where(first, pick[:, 1], pick[:, 2]),
                               np.where(first, pick[:, 2], pick[:, 1]))
            train = ds.subset_contexts(np.arange(n))
            for linear in (False, True):
                for alpha in args.alphas:
                    model = OutcomeCostLearner(alpha=alpha, linear=linear).fit(train, outcomes=maps[:n])
                    f = model.costs_of(ds, maps)
                    acc.setdefault((linear, alpha), []).append(float(np.nanmean([
                        candidate_pair_accuracy(f[base.decisions_of(r)], R[base.decisions_of(r)])
                        for r in held])))
        for linear in (False, True):
            cells = " | ".join(f"{np.mean(acc[(linear, a)]):.3f}" for a in args.alphas)
            print(f"| {name} | {'on' if linear else 'off'} | {cells} |")


if __name__ == "__main__":
    main()
