"""Active vs random pair selection in `fairtwin serve`, driven through its JSON API.

Usage:
    python benchmarks/bench_elicit.py [--seeds 0 1] [--checkpoints 112 224 448]
                                      [--cache runs/paper/cache] [--json OUT]

A simulated rater (the Rosenbrock oracle, no noise) answers pairs of the 52 training weeks of
italy-synthetic (seed 0 samples) through GET /api/next and POST /api/answer of the real app
(in-process Starlette client, SQLite file). At each checkpoint the answers are exported, the
default learner is fitted on them, every training week is re-solved with the learned cost
(the default re-solve) and the weeks where the re-solve is fairer than the nominal decision are
counted. Active selection: ensemble of 2 of the default (outcome) learner, refitted inline
every 32 answers, 20 % exploration.
Target: active reaches the wins of 448 random pairs with ≤ 224 queries.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from fairtwin.elicit import ElicitationStudy, PreferenceStore, SelectorConfig, create_app
from fairtwin.experiments import SeedCache
from fairtwin.learn import torch_threads
from fairtwin.oracles import SimulatedRater
from fairtwin.pipeline import (
    ExperimentConfig,
    nominal_indices,
    oracle_of,
    outcome_maps,
    preference_scale,
    resolve_stage,
    train_rows,
)
from fairtwin.runfolder import RunFolder

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


def wins_of(study: ElicitationStudy, config: ExperimentConfig, seed: int) -> int:
    ds = study.export()
    rows = train_rows(ds)
    train = ds.subset_contexts(rows)
    maps = outcome_maps(study.scenario, train)
    learner = config.learner.make(seed).fit(train, outcomes=maps)
    f_scale = preference_scale(learner, train, maps)
    U, _, _ = resolve_stage(learner, f_scale, ds, config.override(n_jobs=2), study.scenario, rows)
    oracle = oracle_of(config, study.scenario)
    nom = nominal_indices(ds)
    wins = 0
    for k, row in enumerate(rows):
        context = study.scenario.contexts[int(ds.context_ids[row])]
        r = oracle.cost(np.stack([ds.decisions[nom[row]], U[k]]), context)
        wins += int(r[1] < r[0] * (1 - 1e-9))
    return wins


def run(strategy: str, seed: int, run_dir: Path, checkpoints: list[int],
        config: ExperimentConfig) -> tuple[dict[int, int], float]:
    selector = SelectorConfig(strategy=strategy, ensemble=2, refit_every=32, min_answers=32,
                              exploration=0.2, max_epochs=100)
    with tempfile.TemporaryDirectory() as tmp:
        store = PreferenceStore(Path(tmp) / "study.db")
        study = ElicitationStudy(store, run_dir, seed=seed, selector=selector, background=False)
        _, token = store.add_rater("simulated")
        client = TestClient(create_app(study))
        auth = {"Authorization": f"Bearer {token}"}
        rater = SimulatedRater(oracle_of(config, study.scenario), 0.0, seed)
        ds = study.dataset
        out: dict[int, int] = {}
        t_select = 0.0
        for n in range(1, max(checkpoints) + 1):
            t0 = time.perf_counter()
            q = client.get("/api/next", headers=auth).json()
            t_select += time.perf_counter() - t0
            query = store.query(q["query_id"])
            context = study.scenario.contexts[int(ds.context_ids[query.context_row])]
            a = bool(rater.prefers(ds.decisions[query.left], ds.decisions[query.right], context)[0])
            t0 = time.perf_counter()
            res = client.post("/api/answer", headers=auth,
                              json={"query_id": q["query_id"], "choice": "a" if a else "b"})
            t_select += time.perf_counter() - t0
            assert res.json()["outcome"] == "recorded"
            if n in checkpoints:
                out[n] = wins_of(study, config, seed)
                print(f"  {strategy:<6} seed {seed} {n:>4} queries: {out[n]} wins/52", flush=True)
        store.close()
    return out, t_select


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--checkpoints", type=int, nargs="+", default=[112, 224, 448])
    ap.add_argument("--cache", type=Path, default=Path("runs/bench-elicit/cache"))
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    config = ExperimentConfig()
    data = SeedCache(args.cache, n_jobs=2).get(config)
    run = RunFolder(tempfile.mkdtemp(prefix="fairtwin-elicit-run-"))
    run_dir = run.path
    config.save(run.config)
    data.samples.save(run.samples)
    results: dict[str, dict[int, list[int]]] = {"random": {}, "active": {}}
    timing: dict[str, float] = {}
    with torch_threads(1):
        for strategy in ("random", "active"):
            t0 = time.perf_counter()
            for seed in args.seeds:
                wins, _ = run(strategy, seed, run_dir, sorted(args.checkpoints), config)
                for n, w in wins.items():
                    results[strategy].setdefault(n, []).append(w)
            timing[strategy] = time.perf_counter() - t0
    print(f"# active vs random selection through the API: seeds {args.seeds}, "
          f"{platform.machine()}, Python {platform.python_version()}")
    print("| queries | random wins/52 | active wins/52 |")
    print("|---:|---:|---:|")
    for n in sorted(args.checkpoints):
        r, a = results["random"][n], results["active"][n]
        print(f"| {n} | {np.mean(r):.1f} ({', '.join(map(str, r))}) | "
              f"{np.mean(a):.1f} ({', '.join(map(str, a))}) |")
    top = max(args.checkpoints)
    ref = float(np.mean(results["random"][top]))
    reach = [n for n in sorted(args.checkpoints) if np.mean(results["active"][n]) >= ref]
    print(f"random at {top} queries: {ref:.1f} wins; active reaches it at "
          f"{reach[0] if reach else 'none of the checkpoints'}"
          f"{' queries' if reach else ''} (target: ≤ {top // 2})")
    print(f"wall: random {timing['random']:.0f} s, active {timing['active']:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"results": results, "timing_s": timing,
                                         "reference": ref, "reached_at": reach[:1]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
