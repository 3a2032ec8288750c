"""A user's twin through every stage: one model per seed, every decision rule on all contexts.

Usage:
    python benchmarks/bench_twin_example.py [--twin examples/vaccine] [--seeds 0 1 2]
        [--rules select blend blend@10 guard] [--oracle NAME] [--jobs 2] [--out runs/twin-example]

Per seed: the default pipeline (samples, 1344 comparisons with 3 active rounds, outcome
learner; the default split, halved for a twin of fewer than 104 contexts as ``fairtwin run``
does) on the folder twin, then each rule re-solves every context with the same model. Per
split and context category: wins against the nominal decision, median ΔR, ΔR_sur/ΔR_orc,
pair accuracy of the learned cost on the contexts' candidates, mean ΔJ (in the twin's price
unit) and the largest rise of its guarded quantity. Writes ``OUT/report.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_generalization import rule_settings  # noqa: E402

from fairtwin.evaluate import week_metrics  # noqa: E402
from fairtwin.evaluate.metrics import candidate_pair_accuracy  # noqa: E402
from fairtwin.pipeline import (  # noqa: E402
    ExperimentConfig,
    fit_split,
    label_stage,
    load_scenario,
    nominal_indices,
    oracle_bound,
    oracle_name,
    oracle_of,
    outcome_maps,
    resolve_stage,
    sample_stage,
    train_rows,
    train_stage,
)


def run_seed(twin: str, seed: int, rules: list[str], oracle: str | None, jobs: int = 2) -> list[dict]:
    cfg = ExperimentConfig().override(scenario={"twin_path": twin}, seed=seed, n_jobs=jobs)
    if oracle:
        cfg = cfg.override(labels={"oracle": oracle})
    scenario = load_scenario(cfg)
    cfg, note = fit_split(cfg, scenario)
    if note:
        print(note, flush=True)
    ds = sample_stage(cfg, scenario)
    label_stage(ds, cfg, scenario)
    t0 = time.perf_counter()
    learner, f_scale, _ = train_stage(ds, cfg, scenario)
    t_train = time.perf_counter() - t0
    notion = oracle_of(cfg, scenario)
    nom = nominal_indices(ds)
    f = learner.costs_of(ds, outcome_maps(scenario, ds))
    n_train = len(train_rows(ds))
    rows = []
    bounds = {}
    for rule in rules:
        U, _, _ = resolve_stage(learner, f_scale, ds, cfg.override(resolve=rule_settings(rule)), scenario)
        for row in range(ds.n_contexts):
            ctx = scenario.contexts[int(ds.context_ids[row])]
            idx = ds.decisions_of(row)
            if row not in bounds:
                bounds[row] = oracle_bound(notion, ctx, ds.decisions[idx])[0]
            w = week_metrics(scenario.twin, notion, ctx, "train" if row < n_train else "held-out",
                             ds.decisions[nom[row]], U[row], bounds[row])
            acc = candidate_pair_accuracy(f[idx], notion.cost(ds.decisions[idx], ctx))
            rows.append({"seed": seed, "rule": rule, "split": w.split, "category": w.category,
                         "win": w.win, "dR": w.dR, "dR_orc": w.dR_orc, "acc": acc,
                         "dJ": w.dJ_price, "rise": w.guard_sur - w.guard_nom,
                         "t_train": t_train, "oracle": oracle_name(cfg, scenario)})
    return rows


def report(rows: list[dict], command: str, categories: tuple[str, ...]) -> str:
    lines = [f"`{command}`; means over seeds {sorted({r['seed'] for r in rows})}, notion "
             f"{rows[0]['oracle']}; wins and ΔR per category, ΔJ in the twin's price unit.", "",
             "| rule | split | category | contexts | wins | median ΔR | ΔR_sur/ΔR_orc | pair acc. "
             "| mean ΔJ | max guard rise |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for rule in dict.fromkeys(r["rule"] for r in rows):
        for split in ("train", "held-out"):
            for cat in ("all", *categories):
                sel = [r for r in rows if r["rule"] == rule and r["split"] == split
                       and (cat == "all" or r["category"] == cat)]
                if not sel:
                    continue
                seeds = sorted({r["seed"] for r in sel})
                n = len(sel) / len(seeds)
                wins = sum(r["win"] for r in sel) / len(seeds)
                med = np.mean([np.median([r["dR"] for r in sel if r["seed"] == s]) for s in seeds])
                dr = sum(r["dR"] for r in sel)
                do = sum(r["dR_orc"] for r in sel)
                acc = np.nanmean([r["acc"] for r in sel])
                lines.append(f"| {rule} | {split} | {cat} | {n:.0f} | {wins:.1f} | {100 * med:.0f} % "
                             f"| {dr / do if do > 0 else 0:.2f} | {acc:.3f} "
                             f"| {np.mean([r['dJ'] for r in sel]):.2f} | {max(r['rise'] for r in sel):.3g} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--twin", default="examples/vaccine")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--rules", nargs="+", default=["select", "blend", "blend@10", "guard"])
    ap.add_argument("--oracle", default=None)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("runs/twin-example"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for seed in args.seeds:
        rows += run_seed(args.twin, seed, args.rules, args.oracle, args.jobs)
        print(f"seed {seed} done", flush=True)
    cats = tuple(dict.fromkeys(r["category"] for r in rows))
    text = report(rows, "python benchmarks/bench_twin_example.py " + " ".join(sys.argv[1:]), cats)
    (args.out / "report.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
