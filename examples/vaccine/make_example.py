"""Generate the vaccine-districts twin folder with linopy (``pip install 'fairtwin[linopy]'``).

Scarce vaccine doses are shared among 20 districts of a fictional province for 104 weeks. Each
week a district has people asking for a first dose (``demand``), its clinics can give at most
``capacity`` doses, and the province receives fewer doses than asked in most weeks.

The planner's model (one MILP per week, in units of 100 doses):

    minimise    Σ_i (1 + 0.05 km_i) dose_i  +  20 Σ_i short_i       delivery cost + unmet demand
    subject to  Σ_i dose_i ≤ supply                                 (supply)
                dose_i + short_i ≥ demand_i                         (need)
                0 ≤ dose_i ≤ min(capacity_i, demand_i), integer;  short_i ≥ 0

It is efficient and unfair: every dose goes where delivery is cheapest, so in a short week the
far, rural districts get nothing. Whether doses should follow demand, population or the share of
old people is exactly what people argue about; the simulated rater's default notion is an equal
share of each district's demand served (``gini:served``); ``benchmarks/notions.py`` has one
that puts the old first (``vaccine-older-first``, learned when twin.toml declares
``extra_by = {"served" = ["old_share"]}``).

Usage: ``python examples/vaccine/make_example.py [--out examples/vaccine] [--seed 0]``
"""

from __future__ import annotations

import argparse
import csv
import shutil
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from fairtwin.linopy_twin import write_twin_folder

NAMES = ("Harbour", "Old Town", "Riverside", "Castle Hill", "Northgate", "Millbrook", "Eastfield",
         "Westmoor", "Lakeside", "Highfield", "Pinecrest", "Stonebridge", "Fairview", "Oakdale",
         "Redcliff", "Greenvale", "Ashford", "Brackenridge", "Hollowmere", "Far Glen")


def districts(rng: np.random.Generator) -> pd.DataFrame:
    n = len(NAMES)
    km = np.sort(rng.uniform(2, 40, n)) * np.linspace(1, 4.5, n)  # the last ones are remote
    population = np.round(rng.lognormal(np.log(90_000), 0.7, n) * np.linspace(1.4, 0.4, n), -3)
    old = np.clip(rng.normal(0.18, 0.03, n) + np.linspace(-0.03, 0.08, n), 0.1, 0.35)
    return pd.DataFrame({"district": [f"D{k + 1:02d}" for k in range(n)], "name": NAMES,
                         "population": population.astype(int), "km": km.round(1),
                         "old_share": old.round(3)})


def weeks(d: pd.DataFrame, rng: np.random.Generator, n_weeks: int = 104) -> list[dict]:
    t = np.arange(n_weeks)
    # eligibility opens in waves (older first), then demand fades
    wave = np.exp(-0.5 * ((t - 14) / 7) ** 2) + 0.8 * np.exp(-0.5 * ((t - 40) / 10) ** 2) \
        + 0.5 * np.exp(-0.5 * ((t - 75) / 8) ** 2) + 0.05
    out = []
    supply_share = 0.65
    for k in t:
        tilt = (d.old_share / 0.2) ** (2.0 if k < 25 else 0.5)
        demand = np.round(d.population.to_numpy() / 100 * 0.06 * wave[k] * tilt.to_numpy()
                          * rng.lognormal(0, 0.15, len(d))).astype(int)
        capacity = np.round(d.population.to_numpy() / 100 * 0.05
                            * rng.uniform(0.8, 1.2, len(d))).astype(int)
        supply_share = float(np.clip(supply_share + rng.normal(0.01, 0.06), 0.45, 1.05))
        supply = int(supply_share * demand.sum())
        out.append({"week": int(k), "start": date(2021, 1, 4) + timedelta(weeks=int(k)),
                    "demand": demand, "capacity": capacity, "supply": supply})
    return out


def model(d: pd.DataFrame, w: dict):  # type: ignore[no-untyped-def]
    import linopy

    idx = pd.Index(d.district, name="district")
    demand = pd.Series(w["demand"], index=idx)
    upper = pd.Series(np.minimum(w["capacity"], w["demand"]), index=idx)
    m = linopy.Model()
    dose = m.add_variables(lower=0, upper=upper, coords=[idx], name="dose", integer=True)
    short = m.add_variables(lower=0, coords=[idx], name="short")
    m.add_constraints(dose.sum() <= w["supply"], name="supply")
    m.add_constraints(dose + short >= demand, name="need")
    delivery = pd.Series(1 + 0.05 * d.km.to_numpy(), index=idx)
    m.add_objective((delivery * dose).sum() + 20 * short.sum())
    return m


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).parent)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    d = districts(rng)
    ws = weeks(d, rng)
    out = args.out
    if (out / "models").exists():
        shutil.rmtree(out / "models")
    d.to_csv(out / "districts.csv", index=False)
    rows = []
    for w in ws:
        cid = f"w{w['week']:03d}"
        for i, name in enumerate(d.district):
            col = f"dose({name})"
            if w["demand"][i] > 0:
                rows.append(["served", name, col, f"{1 / w['demand'][i]:.17g}",
                             "share of the week's demand served", cid])
            else:  # nobody asked: fully served whatever happens
                rows.append(["served", name, "", "1", "share of the week's demand served", cid])
        for i, name in enumerate(d.district):
            rows.append(["per_1000", name, f"dose({name})", f"{100_000 / d.population[i]:.8g}",
                         "doses per 1000 residents", cid])
        for i, name in enumerate(d.district):
            rows.append(["delivery", "km per 100 doses", f"dose({name})",
                         f"{d.km[i] / max(w['supply'], 1):.8g}", "km per 100 doses of supply", cid])
    total = np.array([w["demand"].sum() for w in ws])
    features = {"supply_share": [w["supply"] / max(w["demand"].sum(), 1) for w in ws],
                "demand_per_1000": list(1e5 * total / d.population.sum())}
    for i, name in enumerate(d.district):
        features[f"share_{name}"] = [w["demand"][i] / max(w["demand"].sum(), 1) for w in ws]
    write_twin_folder(
        [model(d, w) for w in ws], out, decision=["dose("], name="vaccine-districts",
        ids=[f"w{w['week']:03d}" for w in ws],
        labels=[f"week {w['week']} ({w['start']})" for w in ws],
        dates=[w["start"] for w in ws],
        categories=["short" if w["supply"] < w["demand"].sum() else "enough" for w in ws],
        features=features, outcome_rows=rows, guard=["short("],
        settings={"description": "Vaccine doses for 20 districts over 104 weeks (fairtwin example)",
                  "guard_name": "people left without a dose (hundreds)",
                  "price_unit": 20.0, "price_unit_name": "hundred people without a dose",
                  "categories": ["short", "enough"], "oracle": "gini:served",
                  # doses per 1000 residents against the rate of all residents (the
                  # population-weighted mean), not the average of the districts' rates
                  "members": "districts.csv", "compared_by": {"per_1000": "population"}},
        resolve={"mode": "guard"})  # measured best for this twin (README, the second example)
    with open(out / "contexts.csv", newline="") as fh:
        n = sum(1 for _ in csv.reader(fh)) - 1
    print(f"{n} weeks, {len(d)} districts -> {out}")


if __name__ == "__main__":
    main()
