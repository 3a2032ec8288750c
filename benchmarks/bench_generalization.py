"""Decisions for weeks nobody rated: learners × decision rules × notions of fairness × seeds.

Usage:
    python benchmarks/bench_generalization.py [--seeds 0 1 2 3 4]
        [--notions rosenbrock quadratic gini max-min gini-travel] [--noise 0.1]
        [--dpc PATH] [--jobs 2] [--out runs/generalization] [--report-only]

For every notion (the simulated rater's latent cost) and seed: the default budget of clean
comparisons on the 52 training weeks (3 active rounds included), one model per learner — the
paper's (``siamese``: PCA + context MLP) and ``outcomes`` (group-shared quadratic over the
twin's named outcomes) — and every decision rule applied to the same model on all 104 weeks:
``select`` (the best candidate by the learned cost, overflow held), ``blend`` (λ = 3) and, for
the outcome learner, ``blend@30`` (λ = 30). Other rules are written ``mode@value``
(``guard``, ``guard@0.01`` for a J tie-break of 0.01, ``budget``) in ``LEARNERS``; guard
rules with the default outcome cost often reach the MIQP time limit (minutes per model).
``--learners checked`` is the outcome learner trained with 52 fewer random pairs, which pay for
one check question per held-out week: rule ``blend+check`` asks the rater (with the run's
noise) whether the blend decision is fairer than the nominal one and deploys the nominal
decision when it says no (the issue's optional check, reported apart; ``blend`` beside it is the
same model without the check). ``--noise 0.1`` adds rosenbrock
with 10 % flipped labels; ``--dpc PATH`` adds rosenbrock on the real Civil Protection weeks.

Each model's active rounds re-solve with that learner's default rule (siamese: blend, the
paper's method as shipped; outcomes: the pipeline's default). Per split: wins against the
nominal decision, median ΔR, ΔR_sur/ΔR_orc, the learned cost's pairwise accuracy on *all*
pairs of the week's candidates (judged by the latent cost: nobody is asked), mean ΔJ in
overflow-patient equivalents and the largest overflow rise. Rows are appended to
``OUT/results.jsonl`` as each model finishes (a rerun skips the rules already there and
retrains, deterministically, only for the missing ones; ``--rules`` picks the outcome
learner's rules); ``OUT/report.md``
gives the means over seeds; ``OUT/pareto.png`` plots held-out ΔR against ΔJ per rule.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

from fairtwin.evaluate import week_metrics
from fairtwin.evaluate.metrics import candidate_pair_accuracy
from fairtwin.experiments.cache import SeedCache
from fairtwin.learn import torch_threads
from fairtwin.oracles import get_rater
from fairtwin.pipeline import (
    ExperimentConfig,
    load_scenario,
    nominal_indices,
    oracle_of,
    outcome_maps,
    resolve_stage,
    train_rows,
)

LEARNERS = {"siamese": ("paper", ("select", "paper")),
            "outcomes": (None, ("select", "blend", "blend@30")),
            # the default learner with 52 fewer random pairs: they pay for one check question
            # per deployed (held-out) week, the optional item, reported apart
            "checked": (None, ("blend", "blend+check"))}
CHECK = "+check"


def rule_settings(rule: str) -> dict:
    """``blend@10`` is blend mode with λ = 10, ``guard@0.01`` guard mode with a tie-break
    weight of 0.01 on ``J``; ``paper`` the paper's blend (λ = 3, no overflow guard); other
    rules are mode names."""
    if rule == "paper":
        return {"mode": "blend", "blend_lambda": 3.0, "guard": False}
    mode, _, value = rule.partition("@")
    if not value:
        return {"mode": mode}
    return {"mode": mode, ("blend_lambda" if mode == "blend" else "tie_break"): float(value)}


def base_config(scenario: str, data: str | None, notion: str, noise: float, seed: int) -> ExperimentConfig:
    cfg = ExperimentConfig().override(labels={"oracle": notion, "noise": noise}, seed=seed, n_jobs=1)
    if scenario == "italy-dpc":
        cfg = cfg.override(scenario={"name": "italy-dpc", "data_path": data})
    return cfg


def pair_accuracy(f: np.ndarray, latent: np.ndarray, samples, rows) -> float:  # type: ignore[no-untyped-def]
    """Mean over weeks of the learned cost's accuracy on all pairs of the week's candidates."""
    accs = np.array([candidate_pair_accuracy(f[idx], latent[idx])
                     for idx in (samples.decisions_of(int(row)) for row in rows)])
    return float(np.mean(accs[np.isfinite(accs)])) if np.isfinite(accs).any() else float("nan")


def run_one(key: dict, cache_dir: str, rules: tuple[str, ...]) -> list[dict]:
    with torch_threads(1):
        cfg = base_config(key["scenario"], key["data"], key["notion"], key["noise"], key["seed"])
        cfg = cfg.override(learner={"model": "outcomes" if key["learner"] == "checked"
                                    else key["learner"]})
        if key["learner"] == "checked":
            cfg = cfg.override(labels={"n_pairs": cfg.labels.n_pairs - cfg.scenario.n_held_out})
        train_mode = LEARNERS[key["learner"]][0]
        if train_mode:
            cfg = cfg.override(resolve=rule_settings(train_mode))
        data = SeedCache(cache_dir).get(cfg)
        scenario = load_scenario(cfg)
        ds, learner, f_scale, _, t_train = data.label_and_train(cfg, scenario)
        f = learner.costs_of(data.samples, outcome_maps(scenario, data.samples))
        n = data.samples.n_contexts
        n_train = len(train_rows(data.samples))
        acc = {"train": pair_accuracy(f, data.latent, data.samples, range(n_train)),
               "held-out": pair_accuracy(f, data.latent, data.samples, range(n_train, n))}
        oracle = oracle_of(cfg, scenario)
        nom = nominal_indices(data.samples)
        rows_out = []
        for rule in rules:
            t0 = time.perf_counter()
            U, times, _ = resolve_stage(learner, f_scale, ds,
                                        cfg.override(resolve=rule_settings(rule.removesuffix(CHECK))),
                                        scenario, rows=np.arange(n))
            refused = 0
            if rule.endswith(CHECK):  # ask once per held-out week: proposed or nominal?
                rater = get_rater(cfg.labels.rater, oracle, cfg.labels.noise,
                                  np.random.default_rng([key["seed"], 7]))
                for row in range(n_train, n):
                    ctx = scenario.contexts[int(data.samples.context_ids[row])]
                    nominal = data.samples.decisions[nom[row]]
                    if not rater.prefers(U[row][None, :], nominal[None, :], ctx)[0]:
                        U[row], refused = nominal, refused + 1  # the rater said no: keep nominal
            t_rule = time.perf_counter() - t0
            for split, rows in (("train", range(n_train)), ("held-out", range(n_train, n))):
                ws = []
                for row in rows:
                    ctx = scenario.contexts[int(data.samples.context_ids[row])]
                    ws.append(week_metrics(scenario.twin, oracle, ctx, split,
                                           data.samples.decisions[nom[row]], U[row], data.bound[row]))
                dR = np.array([w.dR for w in ws])
                dR_orc = np.array([w.dR_orc for w in ws])
                rows_out.append({
                    **key, "rule": rule, "split": split, "n_weeks": len(ws),
                    "wins": int(sum(w.win for w in ws)),
                    "overloaded_wins": int(sum(w.win for w in ws if w.category == "overloaded")),
                    "overloaded": int(sum(w.category == "overloaded" for w in ws)),
                    "median_dR": float(np.median(dR)),
                    "ratio": float(dR.sum() / dR_orc.sum()) if dR_orc.sum() > 0 else 0.0,
                    "pair_accuracy": acc[split],
                    "mean_dJ": float(np.mean([w.dJ_price for w in ws])),
                    "max_overflow_rise": float(max(w.guard_sur - w.guard_nom for w in ws)),
                    "t_train_s": t_train, "t_rule_s": t_rule,
                    "checks_refused": refused if split == "held-out" else 0,
                })
        return rows_out


def key_id(k: dict) -> tuple:
    return (k["scenario"], k["notion"], k["noise"], k["seed"], k["learner"])


def report(rows: list[dict], out: Path, command: str) -> str:
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["scenario"], r["notion"], r["noise"], r["learner"], r["rule"], r["split"]),
                          []).append(r)
    lines = [
        "# Decisions for unseen weeks: learners × rules × notions",
        "",
        f"`{command}` ({platform.machine()}, Python {platform.python_version()}). Means over "
        "seeds (the number of seeds in the last column); held-out weeks are the 52 after the "
        "training weeks, which nobody was asked about. ΔJ in overflow-patient equivalents.",
        "",
        "| scenario | notion | noise | learner | rule | wins in / out | median ΔR in / out "
        "| ΔR_sur/ΔR_orc in / out | pair acc. in / out | mean ΔJ in / out | max overflow rise | seeds |",
        "|---|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    keys = sorted({k[:5] for k in groups}, key=lambda k: (k[0], k[1], k[2], k[3] != "siamese", k[3], k[4]))
    for k in keys:
        tr, ho = groups.get((*k, "train"), []), groups.get((*k, "held-out"), [])
        if not tr or not ho:
            continue

        def m(rs: list[dict], f: str) -> float:
            return float(np.mean([r[f] for r in rs]))

        rise = max(r["max_overflow_rise"] for r in tr + ho)
        lines.append(
            f"| {k[0]} | {k[1]} | {k[2]:g} | {k[3]} | {k[4]} | {m(tr, 'wins'):.1f} / {m(ho, 'wins'):.1f} "
            f"| {100 * m(tr, 'median_dR'):.0f} % / {100 * m(ho, 'median_dR'):.0f} % "
            f"| {m(tr, 'ratio'):.2f} / {m(ho, 'ratio'):.2f} "
            f"| {m(tr, 'pair_accuracy'):.3f} / {m(ho, 'pair_accuracy'):.3f} "
            f"| {m(tr, 'mean_dJ'):.2f} / {m(ho, 'mean_dJ'):.2f} | {rise:.1f} | {len(ho)} |"
        )
    text = "\n".join(lines) + "\n"
    (out / "report.md").write_text(text)
    _pareto(groups, out / "pareto.png")
    return text


def _pareto(groups: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    notions = sorted({(k[0], k[1], k[2]) for k in groups})
    fig, axes = plt.subplots(1, len(notions), figsize=(3.2 * len(notions), 3.2), squeeze=False)
    for ax, nk in zip(axes[0], notions, strict=True):
        for k, rs in groups.items():
            if k[:3] != nk or k[5] != "held-out":
                continue
            x = np.mean([r["mean_dJ"] for r in rs])
            y = 100 * np.mean([r["median_dR"] for r in rs])
            ax.scatter(x, y, marker="o" if k[3] == "outcomes" else "s")
            ax.annotate(f"{k[3][:3]}/{k[4]}", (x, y), fontsize=7)
        ax.set_title(f"{nk[1]} ({nk[0]}, noise {nk[2]:g})", fontsize=8)
        ax.set_xlabel("mean ΔJ (overflow patients)")
        ax.set_ylabel("median held-out ΔR (%)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--notions", nargs="+",
                    default=["rosenbrock", "quadratic", "gini", "max-min", "gini-travel"])
    ap.add_argument("--learners", nargs="+", default=["siamese", "outcomes"], choices=list(LEARNERS))
    ap.add_argument("--noise", type=float, nargs="*", default=[0.1],
                    help="extra rosenbrock runs with this share of flipped labels")
    ap.add_argument("--dpc", default=None, help="Civil Protection CSV: adds rosenbrock on italy-dpc")
    ap.add_argument("--rules", nargs="+", default=None,
                    help="decision rules for the outcome learner (mode or mode@value; default: "
                    + " ".join(LEARNERS["outcomes"][1]) + ")")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("runs/generalization"))
    ap.add_argument("--report-only", action="store_true")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = args.out / "results.jsonl"
    done = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
    have = {(*key_id(r), r["rule"]) for r in done}
    cells = [("italy-synthetic", None, n, 0.0) for n in args.notions]
    cells += [("italy-synthetic", None, "rosenbrock", z) for z in args.noise]
    if args.dpc:
        cells.append(("italy-dpc", args.dpc, "rosenbrock", 0.0))
    keys = [{"scenario": s, "data": d, "notion": n, "noise": z, "seed": seed, "learner": lr}
            for s, d, n, z in cells for seed in args.seeds for lr in args.learners]
    def rules_of(k: dict) -> tuple[str, ...]:
        wanted = LEARNERS[k["learner"]][1] if k["learner"] != "outcomes" or not args.rules else args.rules
        return tuple(r for r in wanted if (*key_id(k), r) not in have)

    todo = [k for k in keys if rules_of(k)]
    cache = str(args.out / "cache")
    if todo and not args.report_only:
        # seed data first (samples once per scenario and seed, latent costs once per notion)
        first = {}
        for k in todo:
            first.setdefault((k["scenario"], k["seed"]), k)

        def warm(ks: list[dict]) -> None:
            Parallel(n_jobs=args.jobs)(
                delayed(SeedCache(cache).get)(
                    base_config(k["scenario"], k["data"], k["notion"], k["noise"], k["seed"]))
                for k in ks)

        t0 = time.perf_counter()
        warm(list(first.values()))
        warm(list({(k["scenario"], k["notion"], k["seed"]): k for k in todo}.values()))
        print(f"seed data ready in {time.perf_counter() - t0:.0f} s", flush=True)
        runner = Parallel(n_jobs=args.jobs, return_as="generator_unordered")
        for rows in runner(delayed(run_one)(k, cache, rules_of(k)) for k in todo):
            with open(results, "a") as fh:
                for r in rows:
                    fh.write(json.dumps(r) + "\n")
            r = rows[-1]
            print(f"{r['notion']} noise {r['noise']} seed {r['seed']} {r['learner']}: "
                  + ", ".join(f"{x['rule']} {x['wins']}/52 {100 * x['median_dR']:.0f} %"
                              for x in rows if x["split"] == "held-out"), flush=True)
            done += rows
    command = "python benchmarks/bench_generalization.py " + " ".join(
        a for a in __import__("sys").argv[1:])
    print(report(done, args.out, command.strip()))


if __name__ == "__main__":
    main()
