"""Ties as evidence: learning from "equally fair" answers against dropping them, held out.

Usage:
    python benchmarks/bench_ties.py [--seeds 0 1 2] [--notions rosenbrock gini]
        [--regimes small default] [--margins 0.1] [--jobs 2] [--out runs/ties]
        [--report-only] [--docs docs/benchmarks/ties.md]

The simulated rater answers "equally fair" for every pair whose latent costs differ by at most
``margin`` of their mean (``[labels] tie_margin``), and like the regime's rater otherwise. The
same answers are learned three times: with ties as evidence (``[learner] ties =
"davidson"``), with ties dropped (``"drop"``, what fairtwin did before) and with the rule that
held-out training weeks choose (``"auto"``, the default). The active rounds (in the default
regime) ask about each learner's own proposals, so the runs' later answers differ. Per run,
on the 52 held-out weeks: the learned cost's pairwise accuracy over every pair
of each week's candidates (judged by the latent cost; pairs it ranks equal are left out), and
what the default deployment rule deploys there (wins, weeks less fair than nominal, ΔR_sur/ΔR_orc).
Rows go to ``OUT/results.jsonl`` as each run finishes (a rerun skips what is there).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_deploy import REGIMES, _commit  # noqa: E402
from notions import NOTIONS  # noqa: E402

from fairtwin.evaluate import week_metrics  # noqa: E402
from fairtwin.experiments.cache import SeedCache  # noqa: E402
from fairtwin.pipeline import (  # noqa: E402
    ExperimentConfig,
    deploy_stage,
    load_scenario,
    nominal_indices,
    oracle_of,
    outcome_maps,
    resolve_stage,
    train_rows,
)

RULES = ("auto", "davidson", "drop")


def config_of(key: dict) -> ExperimentConfig:
    oracle = NOTIONS.get(key["notion"], key["notion"])
    return ExperimentConfig().override(
        labels={"oracle": oracle, **REGIMES[key["regime"]], "tie_margin": key["margin"]},
        learner={"ties": key["rule"]}, seed=key["seed"], n_jobs=1)


def seed_config(key: dict) -> ExperimentConfig:
    return ExperimentConfig().override(labels={"oracle": NOTIONS.get(key["notion"], key["notion"])},
                                       seed=key["seed"], n_jobs=1)


def pair_accuracy(f: np.ndarray, R: np.ndarray) -> tuple[int, int]:
    """Correctly ranked pairs and pairs, of one week's candidates (latent ties left out)."""
    i, j = np.triu_indices(R.size, 1)
    dR = R[i] - R[j]
    real = np.abs(dR) > 1e-9 * np.maximum(1.0, np.abs(R[i]) + np.abs(R[j]))
    right = np.sign(f[i] - f[j]) == np.sign(dR)
    return int(np.sum(right & real)), int(np.sum(real))


def run_one(key: dict, cache_dir: str) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    cfg = config_of(key)
    data = SeedCache(cache_dir).get(seed_config(key))
    scenario = load_scenario(cfg)
    ds, learner, f_scale, _, t_train = data.label_and_train(cfg, scenario)
    n_train = len(train_rows(data.samples))
    held = np.arange(n_train, data.samples.n_contexts)
    f = learner.costs_of(ds, outcome_maps(scenario, ds))
    right = total = 0
    for row in held:
        idx = ds.decisions_of(int(row))
        r, t = pair_accuracy(f[idx], data.latent[idx])
        right, total = right + r, total + t
    U, _, _ = resolve_stage(learner, f_scale, ds, cfg, scenario, rows=held)
    dep = deploy_stage(learner, f_scale, ds, U, cfg, scenario, rows=held)
    oracle = oracle_of(cfg, scenario)
    nom = nominal_indices(data.samples)
    ws = [week_metrics(scenario.twin, oracle, scenario.contexts[int(ds.context_ids[row])],
                       "held-out", data.samples.decisions[nom[row]], dep.decisions[k],
                       data.bound[row]) for k, row in enumerate(held)]
    dR_orc = sum(w.dR_orc for w in ws)
    return {**key, "answers": ds.n_comparisons + ds.n_ties, "ties": ds.n_ties,
            "tie_propensity": float(getattr(learner, "tie_propensity_", 0.0)),
            "pair_accuracy": right / max(total, 1), "pairs": total,
            "wins": int(sum(w.win for w in ws)), "losses": int(sum(w.loss for w in ws)),
            "ratio": float(sum(w.dR for w in ws) / dR_orc) if dR_orc > 0 else 0.0,
            "deployed": dep.counts(), "evidence": learner.evidence_.message,
            "model": learner.model_choice_.name, "tie_rule": learner.ties, "t_train_s": t_train}


def key_id(k: dict) -> tuple:
    return (k["notion"], k["regime"], k["margin"], k["seed"], k["rule"])


def report(rows: list[dict], out: Path, command: str, docs: Path | None) -> str:
    groups: dict[tuple, dict[str, list[dict]]] = {}
    for r in rows:
        groups.setdefault((r["notion"], r["regime"], r["margin"]), {}).setdefault(r["rule"], []).append(r)
    commit = ", ".join(sorted({r["commit"] for r in rows if r.get("commit")})) or _commit()
    lines = [
        "# Benchmark: ties as evidence",
        "",
        "Generated by `benchmarks/bench_ties.py` (do not edit by hand). The simulated rater "
        "answers *equally fair* when two decisions' latent costs differ by at most the margin "
        "(a share of their mean); the outcome learner either learns from those answers "
        "(Davidson's model, `[learner] ties = \"davidson\"`), drops them (`\"drop\"`), or "
        "lets held-out training weeks choose between the two (`\"auto\"`, the default). "
        "Regimes as in [the deployment benchmark](deploy-posterior.md): *default* "
        "1344 answers with 3 active rounds, *small* 156 answers from a logistic rater at "
        "temperature 0.1. Held out (52 weeks): *pair acc.* is the learned cost's accuracy over "
        "every pair of each week's candidates, judged by the latent cost; wins, *less fair* "
        "and the ratio ΔR_sur/ΔR_orc are what the default deployment rule deploys.",
        "",
        f"`{command}` (commit {commit}, {platform.machine()}, Python "
        f"{platform.python_version()}). Means over seeds (Δ acc.: the rule's pair accuracy "
        "minus drop's, per seed; worst: the lowest of them; auto chose: per seed).",
        "",
        "| notion | regime | margin | ties / answers | rule | auto chose | pair acc. | Δ acc. vs drop "
        "(worst) | wins | less fair | ΔR_sur/ΔR_orc | seeds |",
        "|---|---|---:|---:|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for k in sorted(groups):
        drop = {r["seed"]: r for r in groups[k].get("drop", [])}
        for rule in RULES:
            rs = [r for r in groups[k].get(rule, []) if r["seed"] in drop]
            if not rs:
                continue
            diffs = [r["pair_accuracy"] - drop[r["seed"]]["pair_accuracy"] for r in rs]

            def m(f: str, rs: list[dict] = rs) -> float:
                return float(np.mean([r[f] for r in rs]))

            chose = "/".join(r.get("tie_rule", "-") for r in rs) if rule == "auto" else ""
            delta = "" if rule == "drop" else f"{np.mean(diffs):+.3f} ({min(diffs):+.3f})"
            lines.append(
                f"| {k[0]} | {k[1]} | {k[2]:g} | {m('ties'):.0f} / {m('answers'):.0f} | {rule} "
                f"| {chose} | {m('pair_accuracy'):.3f} | {delta} | {m('wins'):.1f} "
                f"| {m('losses'):.1f} | {m('ratio'):.2f} | {len(rs)} |")
    text = "\n".join(lines) + "\n"
    (out / "report.md").write_text(text)
    if docs is not None:
        docs.write_text(text)
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--notions", nargs="+", default=["rosenbrock", "gini"])
    ap.add_argument("--regimes", nargs="+", default=["small", "default"], choices=list(REGIMES))
    ap.add_argument("--margins", type=float, nargs="+", default=[0.1])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("runs/ties"))
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--docs", type=Path, default=None)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = args.out / "results.jsonl"
    done = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
    have = {key_id(r) for r in done}
    keys = [{"notion": n, "regime": g, "margin": mg, "seed": s, "rule": rule}
            for n in args.notions for g in args.regimes for mg in args.margins
            for s in args.seeds for rule in RULES]
    todo = [k for k in keys if key_id(k) not in have]
    cache = str(args.out / "cache")
    if todo and not args.report_only:
        t0 = time.perf_counter()
        Parallel(n_jobs=args.jobs)(delayed(SeedCache(cache).get)(seed_config(k)) for k in
                                   {(k["notion"], k["seed"]): k for k in todo}.values())
        print(f"seed data ready in {time.perf_counter() - t0:.0f} s", flush=True)
        commit = _commit()
        runner = Parallel(n_jobs=args.jobs, return_as="generator_unordered")
        for row in runner(delayed(run_one)(k, cache) for k in todo):
            row["commit"] = commit
            with open(results, "a") as fh:
                fh.write(json.dumps(row) + "\n")
            print(f"{row['notion']} {row['regime']} m={row['margin']:g} seed {row['seed']} "
                  f"{row['rule']}: {row['ties']}/{row['answers']} ties, pair acc. "
                  f"{row['pair_accuracy']:.3f}, {row['wins']}/{row['losses']}, ratio "
                  f"{row['ratio']:.2f}", flush=True)
            done.append(row)
    shown = [a for a in sys.argv[1:] if a != "--report-only"]
    if "--docs" in shown:
        i = shown.index("--docs")
        del shown[i:i + 2]
    print(report(done, args.out, ("python benchmarks/bench_ties.py " + " ".join(shown)).strip(),
                 args.docs))


if __name__ == "__main__":
    main()
