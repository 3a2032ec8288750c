"""Which signal would have refused a run's losing re-solves? A diagnostic for one bench_deploy run.

    python benchmarks/probe_refusals.py --results runs/deploy/results.jsonl \
        --notion relief-no-harm --regime default --seed 0 [--cache runs/deploy/cache] [--rungs 8]

Retrains the run (the same seed data, labels and model ladder as ``bench_deploy.py``), re-solves
its held-out weeks, and compares three signals with the held-out weeks the run's row in
``--results`` (a ``bench_deploy.py`` results file) records as won and lost:

- **other rungs of the ladder**: each of the ``--rungs`` most accurate rungs is fitted on the
  same answers and asked whether it ranks each re-solve fairer than the nominal decision (what a
  consensus of models would refuse; the rule asks only the rivals ahead by one standard error);
- **outside the candidates**: how many re-solves leave the range the week's own candidates span
  in some outcome of the twin (extra groups included) by more than 5 % of that range, or in
  some group's sum (the bounded rung's trust region);
- **rejected nearby**: with active rounds, the share of on-policy answers that preferred the
  re-solve in the ``k`` training weeks nearest in the twin's context features (standardised),
  for k = 3, 5, 10, and which held-out weeks a threshold of ½ would keep nominal.

It prints counts only; it changes nothing. Used for the third blind check
(docs/explanation/learner-history.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_deploy import config_of, seed_config, train_rows  # noqa: E402

from fairtwin.experiments.cache import SeedCache  # noqa: E402
from fairtwin.learn.evidence import rung_learner  # noqa: E402
from fairtwin.pipeline import (  # noqa: E402
    load_scenario,
    nominal_indices,
    outcome_maps,
    resolve_stage,
)


def rung_refusals(cfg, learner, ds, maps, U, rows, lost, won, n_rungs: int) -> None:  # type: ignore[no-untyped-def]
    """Per rung: how many held-out re-solves it ranks fairer, and of the lost and won weeks how
    many it would refuse."""
    nom = nominal_indices(ds)
    choice = learner.model_choice_
    print(f"chosen rung: {choice.name}")
    for r in sorted(choice.table, key=lambda r: -r["cv_accuracy"])[:n_rungs]:
        model = rung_learner(lambda g: cfg.learner.make(0, g, learner.ties), r["name"],
                             tuple(r["groups"])).fit(ds, outcomes=maps)
        fairer = np.empty(len(rows), dtype=bool)
        for k, row in enumerate(rows):
            f = model.learned_costs(maps[row], np.stack([U[k], ds.decisions[nom[row]]]),
                                    ds.decisions[ds.decisions_of(row)])
            fairer[k] = f[0] < f[1]
        print(f"  {r['name']:28s} held-out accuracy {r['cv_accuracy']:.3f}: ranks fairer "
              f"{fairer.sum()}/{fairer.size}; refuses {np.sum(~fairer & lost)} of "
              f"{lost.sum()} lost, {np.sum(~fairer & won)} of {won.sum()} won")


def outside_candidates(ds, maps, U, rows, lost, won) -> None:  # type: ignore[no-untyped-def]
    """Share of lost and won weeks whose re-solve leaves the candidates' range."""
    flags = []
    for k, row in enumerate(rows):
        out = maps[row]
        gidx = out.group_index()
        S = np.zeros((int(gidx.max()) + 1, out.n_outcomes))
        S[gidx, np.arange(out.n_outcomes)] = 1.0
        A = np.vstack([out.matrix, S @ out.matrix])
        b = np.r_[out.offset, S @ out.offset]
        V = ds.decisions[ds.decisions_of(row)] @ A.T + b
        v = U[k] @ A.T + b
        lo, hi = V.min(axis=0), V.max(axis=0)
        excess = np.maximum(np.maximum(lo - v, v - hi), 0.0) / np.maximum(hi - lo, 1e-9)
        flags.append((bool(np.any(excess > 0.05)), bool(np.any(excess[out.n_outcomes:] > 0.05))))
    f = np.array(flags)
    for tag, sel in (("lost", lost), ("won", won)):
        if sel.any():
            print(f"  {tag}: {f[sel, 0].sum()} of {sel.sum()} re-solves outside the candidates' "
                  f"range in some outcome, {f[sel, 1].sum()} in some group's sum")


def rejected_nearby(ds, scenario, samples, n_train: int, lost, won) -> None:  # type: ignore[no-untyped-def]
    """Held-out weeks whose nearest training weeks' raters turned the re-solves down."""
    nom = nominal_indices(ds)
    comps = ds.comparisons
    vs_nom = (ds.round > 0) & ((comps[:, 1] == nom[comps[:, 0]]) | (comps[:, 2] == nom[comps[:, 0]]))
    if not vs_nom.any():
        print("  no on-policy answers (no active rounds)")
        return
    took = comps[vs_nom, 2] == nom[comps[vs_nom, 0]]
    week = comps[vs_nom, 0]
    X = np.array([scenario.contexts[int(c)].features() for c in samples.context_ids])
    Z = (X - X[:n_train].mean(axis=0)) / (X[:n_train].std(axis=0) + 1e-9)
    weeks = np.unique(week)
    share = np.array([took[week == w].mean() for w in weeks])
    count = np.array([(week == w).sum() for w in weeks])
    print(f"  {vs_nom.sum()} on-policy answers, {took.mean():.2f} took the re-solve; "
          f"{np.sum(share == 0)} of {weeks.size} training weeks turned every one down")
    for k in (3, 5, 10):
        local = np.array([_near(Z, weeks, share, count, i, k) for i in range(n_train, len(Z))])
        keep = local < 0.5
        print(f"  k = {k}: keeps {keep.sum()} weeks nominal: {np.sum(keep & lost)} of "
              f"{lost.sum()} lost, {np.sum(keep & won)} of {won.sum()} won")


def _near(Z: NDArray[np.float64], weeks: NDArray[np.int64], share: NDArray[np.float64],
          count: NDArray[np.int64], i: int, k: int) -> float:
    nearest = np.argsort(np.linalg.norm(Z[weeks] - Z[i], axis=1))[:k]
    return float(np.sum(share[nearest] * count[nearest]) / np.sum(count[nearest]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--results", type=Path, required=True)
    ap.add_argument("--notion", required=True)
    ap.add_argument("--regime", required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--scenario", default="italy-synthetic")
    ap.add_argument("--cache", type=Path, default=None, help="default: beside --results")
    ap.add_argument("--rungs", type=int, default=8)
    args = ap.parse_args()
    key = {"scenario": args.scenario, "data": None, "notion": args.notion,
           "regime": args.regime, "seed": args.seed}
    rows = [json.loads(line) for line in args.results.read_text().splitlines()]
    row = next(r for r in rows if r["split"] == "held-out" and r["rule"] == "bootstrap"
               and all(r[k] == key[k] for k in ("scenario", "notion", "regime", "seed")))
    lost, won = np.array(row["weeks"]["loss"]), np.array(row["weeks"]["win"])
    cfg = config_of(key)
    data = SeedCache(str(args.cache or args.results.parent / "cache")).get(seed_config(key))
    scenario = load_scenario(cfg)
    ds, learner, f_scale, _, _ = data.label_and_train(cfg, scenario)
    n, n_train = data.samples.n_contexts, len(train_rows(data.samples))
    held = np.arange(n_train, n)
    U, _, _ = resolve_stage(learner, f_scale, ds, cfg, scenario, rows=held)
    maps = outcome_maps(scenario, ds)
    print(f"{args.notion}, {args.regime}, seed {args.seed}: {won.sum()} won, {lost.sum()} lost")
    rung_refusals(cfg, learner, ds, maps, U, held, lost, won, args.rungs)
    outside_candidates(ds, maps, U, held, lost, won)
    rejected_nearby(ds, scenario, data.samples, n_train, lost, won)


if __name__ == "__main__":
    main()
