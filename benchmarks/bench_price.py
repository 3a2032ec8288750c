"""What the blend's price buys: held-out wins, ratio and ΔJ of one learned model re-solved at
several blend weights λ.

Usage:
    python benchmarks/bench_price.py [--seeds 0 1] [--notions worst-off rosenbrock]
        [--regimes default flip10 small] [--lambdas 20 60 200] [--jobs 2]
        [--out runs/price]

For every notion, regime and seed (the cells of ``bench_deploy.py``, its seed cache format),
the default pipeline learns one model on the 52 training weeks (its active rounds at the
default λ = 20), then re-solves the 52 held-out weeks at each λ and deploys them by the
default rule (``bootstrap``; ``always`` beside it). λ is the price knob of the blend re-solve
(``J + λ·(price unit / f_scale)·f``): a week whose re-solve leaves the notion's value where it
was (a tie) may be one where the gain was not worth the nominal cost at that price. Rows go to
``OUT/results.jsonl`` (a rerun skips what is there); the report gives the means over seeds.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_deploy import _commit, config_of, seed_config  # noqa: E402

from fairtwin.evaluate import week_metrics  # noqa: E402
from fairtwin.experiments.cache import SeedCache  # noqa: E402
from fairtwin.pipeline import (  # noqa: E402
    deploy_stage,
    load_scenario,
    nominal_indices,
    oracle_of,
    resolve_stage,
    train_rows,
)


def run_one(key: dict, cache_dir: str, lambdas: tuple[float, ...]) -> list[dict]:
    """One learned model's held-out weeks at every λ, by both rules."""
    cfg = config_of(key)
    data = SeedCache(cache_dir).get(seed_config(key))
    scenario = load_scenario(cfg)
    ds, learner, f_scale, _, _ = data.label_and_train(cfg, scenario)
    rows = np.arange(len(train_rows(data.samples)), data.samples.n_contexts)
    oracle, nom = oracle_of(cfg, scenario), nominal_indices(data.samples)
    out = []
    for lam in lambdas:
        c = cfg.override(resolve={"blend_lambda": lam})
        U, _, _ = resolve_stage(learner, f_scale, ds, c, scenario, rows=rows)
        dep = deploy_stage(learner, f_scale, ds, U, c, scenario, rows=rows)
        for rule, decided in (("always", U), ("bootstrap", dep.decisions)):
            ws = [week_metrics(scenario.twin, oracle,
                               scenario.contexts[int(data.samples.context_ids[row])], "held-out",
                               data.samples.decisions[nom[row]], decided[k], data.bound[row])
                  for k, row in enumerate(rows)]
            dR, dR_orc = np.array([w.dR for w in ws]), np.array([w.dR_orc for w in ws])
            out.append({**key, "lambda": lam, "rule": rule,
                        "wins": int(sum(w.win for w in ws)),
                        "losses": int(sum(w.loss for w in ws)),
                        "ratio": float(dR.sum() / dR_orc.sum()) if dR_orc.sum() > 0 else 0.0,
                        "mean_dJ": float(np.mean([w.dJ_price for w in ws])),
                        "max_overflow_rise": float(max(w.guard_sur - w.guard_nom for w in ws)),
                        "model": learner.model_choice_.name})
    return out


def report(rows: list[dict]) -> str:
    """Means over seeds per notion, regime, λ and rule."""
    cells: dict[tuple, list[dict]] = {}
    for r in rows:
        cells.setdefault((r["notion"], r["regime"], r["rule"], r["lambda"]), []).append(r)
    lines = ["| notion | regime | rule | λ | seeds | wins | less fair | ratio | mean ΔJ | "
             "overflow rise |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for (notion, regime, rule, lam), rs in sorted(cells.items()):
        def mean(f: str, rs: list[dict] = rs) -> float:
            return float(np.mean([r[f] for r in rs]))
        lines.append(f"| {notion} | {regime} | {rule} | {lam:g} | {len(rs)} | {mean('wins'):.1f} "
                     f"| {mean('losses'):.1f} | {mean('ratio'):.3f} | {mean('mean_dJ'):.2f} | "
                     f"{max(r['max_overflow_rise'] for r in rs):g} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--notions", nargs="+", default=["worst-off", "rosenbrock"])
    ap.add_argument("--regimes", nargs="+", default=["default", "flip10", "small"])
    ap.add_argument("--lambdas", type=float, nargs="+", default=[20.0, 60.0, 200.0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("runs/price"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = args.out / "results.jsonl"
    done = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
    have = {(r["notion"], r["regime"], r["seed"]) for r in done}
    todo = [{"scenario": "italy-synthetic", "data": None, "notion": n, "regime": g, "seed": s}
            for n in args.notions for g in args.regimes for s in args.seeds
            if (n, g, s) not in have]
    commit = _commit()
    runner = Parallel(n_jobs=args.jobs, return_as="generator_unordered")
    for rows in runner(delayed(run_one)(k, str(args.out / "cache"), tuple(args.lambdas))
                       for k in todo):
        with open(results, "a") as fh:
            for r in rows:
                fh.write(json.dumps({**r, "commit": commit}) + "\n")
        print(f"{rows[0]['notion']} {rows[0]['regime']} seed {rows[0]['seed']}: " + ", ".join(
            f"λ {r['lambda']:g} {r['rule']} {r['wins']}/{r['losses']}" for r in rows), flush=True)
        done += rows
    print("python benchmarks/bench_price.py " + " ".join(sys.argv[1:]))
    print(report(done))


if __name__ == "__main__":
    main()
