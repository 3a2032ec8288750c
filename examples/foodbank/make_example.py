"""Generate the food-bank network twin folder with PuLP (``pip install pulp``).

A regional food bank ships food parcels (in tonnes) from 3 warehouses over a road network with 5
cross-docks to the distribution points of 20 districts, for 80 weeks. Each week the warehouses
hold what was donated (``supply``), each district's need follows its number of households in
need and the season, and one road of the network is sometimes closed (capacity 0). Donations
cover the need in fewer than half of the weeks.

The planner's model (one LP per week; continuous flows on the network's arcs, cost in euros):

    minimise    Σ_a (5 + 1.0 km_a) flow_a  +  400 Σ_i unmet_i       transport + unmet need
    subject to  Σ_{a out of w} flow_a ≤ supply_w                     (supply)  per warehouse
                Σ_{a into h} flow_a = Σ_{a out of h} flow_a          (node)    per cross-dock
                Σ_{a into i} flow_a + unmet_i = need_i               (need)    per district
                0 ≤ flow_a ≤ capacity_a;  unmet_i ≥ 0

It is efficient and unfair: every tonne goes where delivery is cheapest, so in a short week the
districts near the warehouses get all they need and the far, rural ones little or nothing. The
example's outcomes per district are the share of its need met (``met``, the default notion is
its Gini coefficient, ``gini:met``) and the kilograms delivered per resident (``per_resident``);
``haul`` is the week's tonne-kilometres.

Only PuLP and the standard library write the folder (fairtwin is not imported): the models are
LP files written by PuLP's ``writeLP``, the rest plain CSV and TOML, to show that the folder
format does not depend on the modelling tool. ``districts.csv`` and ``arcs.csv`` describe the
network for readers; fairtwin does not read them.

Usage: ``python examples/foodbank/make_example.py [--out examples/foodbank] [--seed 0]``
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import shutil
from datetime import date, timedelta
from pathlib import Path

N_WEEKS = 80
PENALTY = 400.0  # euros per tonne of need not met
START = date(2025, 1, 6)

WAREHOUSES = {"W1": ("Port", 12.0, 30.0), "W2": ("Northgate", 28.0, 42.0), "W3": ("Airfield", 30.0, 18.0)}
HUBS = {"H1": ("City", 20.0, 30.0), "H2": ("Millbrook", 48.0, 40.0), "H3": ("Southfields", 52.0, 14.0),
        "H4": ("Upland", 78.0, 46.0), "H5": ("Marsh", 84.0, 10.0)}
NAMES = ("Harbour", "Old Town", "Riverside", "Castle Hill", "Docklands", "Westmoor", "Eastfield",
         "Lakeside", "Highfield", "Pinecrest", "Stonebridge", "Fairview", "Oakdale", "Redcliff",
         "Greenvale", "Ashford", "Brackenridge", "Hollowmere", "Far Glen", "Saltmarsh")


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Road kilometres: the straight line times 1.3."""
    return round(1.3 * math.hypot(a[0] - b[0], a[1] - b[1]), 1)


def districts(rng: random.Random) -> list[dict]:
    """20 districts: 8 in the city, 7 in the towns around it, 5 far out."""
    out = []
    for k, name in enumerate(NAMES):
        if k < 8:
            r, pop = rng.uniform(2, 10), rng.uniform(35_000, 70_000)
        elif k < 15:
            r, pop = rng.uniform(18, 40), rng.uniform(15_000, 35_000)
        else:
            r, pop = rng.uniform(55, 75), rng.uniform(5_000, 15_000)
        angle = rng.uniform(-1.2, 1.2)  # east of the city, where the cross-docks are
        x, y = 20.0 + r * math.cos(angle), 30.0 + r * math.sin(angle)
        out.append({"district": f"D{k + 1:02d}", "name": name, "x": round(x, 1), "y": round(y, 1),
                    "population": int(round(pop, -2)),
                    "in_need": round(min(max(rng.gauss(0.07, 0.02) + 0.01 * (k >= 15), 0.03), 0.14), 3)})
    return out


def arcs(d: list[dict]) -> list[dict]:
    """The road network: warehouse → cross-dock, cross-dock ↔ cross-dock, cross-dock →
    district (its two nearest), warehouse → district (within 12 km)."""
    places = {k: (v[1], v[2]) for k, v in {**WAREHOUSES, **HUBS}.items()}
    places |= {r["district"]: (r["x"], r["y"]) for r in d}
    out = []

    def add(a: str, b: str, capacity: float) -> None:
        out.append({"arc": f"{a}_{b}", "tail": a, "head": b, "km": _km(places[a], places[b]),
                    "capacity": capacity})

    for w in WAREHOUSES:
        near = sorted(HUBS, key=lambda h: _km(places[w], places[h]))[:3]
        for h in sorted(near):
            add(w, h, 60.0)
    for h in HUBS:
        for g in HUBS:
            if h != g and _km(places[h], places[g]) < 45:
                add(h, g, 40.0)
    for r in d:
        i = r["district"]
        for h in sorted(sorted(HUBS, key=lambda h: _km(places[i], places[h]))[:2]):
            add(h, i, 12.0)
        for w in WAREHOUSES:
            if _km(places[w], places[i]) < 12:
                add(w, i, 12.0)
    return out


def weeks(d: list[dict], a: list[dict], rng: random.Random) -> list[dict]:
    """Need by the season (more in winter) and a slow rise; donations by the season (food
    drives before Christmas and at harvest) around a share of the need; a closed road in some
    weeks."""
    closable = [r["arc"] for r in a if not r["head"].startswith("D")]
    out = []
    for k in range(N_WEEKS):
        start = START + timedelta(weeks=k)
        season = math.cos(2 * math.pi * (start.timetuple().tm_yday - 15) / 365.25)  # 1 in January
        level = 1.0 + 0.12 * season + 0.15 * k / N_WEEKS
        need = {r["district"]: round(r["population"] * r["in_need"] * 1.5e-3 * level
                                     * rng.lognormvariate(0, 0.12), 2) for r in d}  # 1.5 kg a person
        yday = start.timetuple().tm_yday
        drive = (0.25 * math.exp(-0.5 * ((yday - 345) / 12) ** 2)
                 + 0.12 * math.exp(-0.5 * ((yday - 275) / 12) ** 2))
        share = min(max(rng.gauss(0.88, 0.12) + drive - 0.1 * season, 0.55), 1.3)
        total = share * sum(need.values())
        split = [rng.uniform(0.8, 1.2) * s for s in (0.45, 0.3, 0.25)]
        supply = {w: round(total * s / sum(split), 2) for w, s in zip(WAREHOUSES, split, strict=True)}
        closed = rng.choice(closable) if rng.random() < 0.15 else ""
        out.append({"week": k, "start": start, "need": need, "supply": supply, "closed": closed})
    return out


def model(a: list[dict], d: list[dict], w: dict):  # type: ignore[no-untyped-def]
    import pulp

    m = pulp.LpProblem(f"foodbank_week_{w['week']}", pulp.LpMinimize)
    flow = {r["arc"]: pulp.LpVariable(f"flow({r['arc']})", lowBound=0,
                                      upBound=0.0 if r["arc"] == w["closed"] else r["capacity"])
            for r in a}
    unmet = {r["district"]: pulp.LpVariable(f"unmet({r['district']})", lowBound=0) for r in d}
    m += (pulp.lpSum((5 + 1.0 * r["km"]) * flow[r["arc"]] for r in a)
          + PENALTY * pulp.lpSum(unmet.values()))
    for wh in WAREHOUSES:
        m += pulp.lpSum(flow[r["arc"]] for r in a if r["tail"] == wh) <= w["supply"][wh], f"supply({wh})"
    for h in HUBS:
        m += (pulp.lpSum(flow[r["arc"]] for r in a if r["head"] == h)
              == pulp.lpSum(flow[r["arc"]] for r in a if r["tail"] == h)), f"node({h})"
    for r in d:
        i = r["district"]
        m += (pulp.lpSum(flow[x["arc"]] for x in a if x["head"] == i) + unmet[i] == w["need"][i],
              f"need({i})")
    return m


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(header)
        out.writerows(rows)


TWIN_TOML = """\
name = "foodbank-network"
description = "Food parcels from 3 warehouses over roads to 20 districts, 80 weeks (fairtwin example)"
decision = ["flow("]
guard = ["unmet("]
guard_name = "tonnes of need not met"
price_unit = {penalty}
price_unit_name = "tonne of need not met"
categories = ["short", "enough"]
oracle = "gini:met"
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).parent)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    d = districts(rng)
    a = arcs(d)
    ws = weeks(d, a, rng)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    if (out / "models").exists():
        shutil.rmtree(out / "models")
    (out / "models").mkdir()
    (out / "twin.toml").write_text(TWIN_TOML.format(penalty=PENALTY))
    _write_csv(out / "districts.csv", list(d[0]), [list(r.values()) for r in d])
    _write_csv(out / "arcs.csv", list(a[0]), [list(r.values()) for r in a])
    ids = [f"w{w['week']:03d}" for w in ws]
    for cid, w in zip(ids, ws, strict=True):
        model(a, d, w).writeLP(str(out / "models" / f"{cid}.lp"))
    # contexts: the week's supply against its need, and each district's share of the need
    header = ["id", "label", "date", "category", "supply_share", "need_kg_per_resident", "closed_roads",
              *(f"share_{r['district']}" for r in d)]
    population = sum(r["population"] for r in d)
    rows = []
    for cid, w in zip(ids, ws, strict=True):
        need, supply = sum(w["need"].values()), sum(w["supply"].values())
        rows.append([cid, f"week {w['week']} ({w['start']})", w["start"].isoformat(),
                     "short" if supply < need else "enough", f"{supply / need:.12g}",
                     f"{1e3 * need / population:.12g}", int(bool(w["closed"])),
                     *(f"{w['need'][r['district']] / need:.12g}" for r in d)])
    _write_csv(out / "contexts.csv", header, rows)
    # outcomes: share of need met (per week: 1 / need), kg per resident and tonne-km (every week)
    into = {r["district"]: [x["arc"] for x in a if x["head"] == r["district"]] for r in d}
    rows = []
    for cid, w in zip(ids, ws, strict=True):
        for r in d:
            i = r["district"]
            rows += [["met", i, f"flow({arc})", f"{1 / w['need'][i]:.12g}", "share of the week's need met",
                      cid] for arc in into[i]]
    for r in d:
        i = r["district"]
        rows += [["per_resident", i, f"flow({arc})", f"{1e6 / r['population']:.12g}",
                  "grams per resident", ""] for arc in into[i]]
    rows += [["haul", "tonne-km", f"flow({x['arc']})", f"{x['km']:.12g}", "tonne-km", ""] for x in a]
    _write_csv(out / "outcomes.csv", ["group", "name", "variable", "coefficient", "unit", "context"], rows)
    print(f"{len(ws)} weeks, {len(d)} districts, {len(a)} arcs -> {out}")


if __name__ == "__main__":
    main()
