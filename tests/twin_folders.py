"""Small twin folders written by hand (LP format), as a modeller would: test fixtures."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np

POPULATION = (120, 80, 200, 60)


def lp_text(demand: list[int], supply: int, km: list[float]) -> str:
    """Doses for four districts: cost per dose by distance, 50 per person left without one."""
    n = len(demand)
    obj = " + ".join([f"{km[i]:g} dose_{i}" for i in range(n)] + [f"50 short_{i}" for i in range(n)])
    rows = [" supply: " + " + ".join(f"dose_{i}" for i in range(n)) + f" <= {supply}"]
    rows += [f" need_{i}: dose_{i} + short_{i} >= {demand[i]}" for i in range(n)]
    bounds = [f" 0 <= dose_{i} <= {demand[i]}" for i in range(n)]
    return "\n".join(["Minimize", " obj: " + obj, "Subject To", *rows, "Bounds", *bounds,
                      "General", " " + " ".join(f"dose_{i}" for i in range(n)), "End", ""])


def write_doses_twin(folder: Path, n_contexts: int = 12, seed: int = 0, outcomes: bool = True,
                     guard: bool = True) -> Path:
    """A folder twin: ``n_contexts`` days, four districts, doses short of demand; with
    ``guard``, the people left without a dose are its guarded quantity."""
    rng = np.random.default_rng(seed)
    (folder / "models").mkdir(parents=True, exist_ok=True)
    km = [1.0, 2.0, 1.5, 4.0]
    lines = ["id,label,date,supply," + ",".join(f"demand_{i}" for i in range(4))]
    for k in range(n_contexts):
        demand = [int(rng.integers(5, 30)) for _ in range(4)]
        supply = int(0.6 * sum(demand))
        (folder / "models" / f"d{k:02d}.lp").write_text(lp_text(demand, supply, km))
        day = date(2021, 3, 1) + timedelta(days=k)
        lines.append(f"d{k:02d},day {k},{day},{supply}," + ",".join(map(str, demand)))
    (folder / "contexts.csv").write_text("\n".join(lines) + "\n")
    guarded = 'guard = ["short_"]\nguard_name = "people without a dose"\n' if guard else ""
    (folder / "twin.toml").write_text(
        'name = "doses"\ndecision = ["dose_"]\n' + guarded + 'price_unit = 50.0\n'
        'price_unit_name = "people without a dose"\noracle = "gini:per_1000"\n'
        '[units]\nper_1000 = "doses per 1000 people"\n')
    if outcomes:
        rows = ["group,name,variable,coefficient"]
        rows += [f"per_1000,district {i},dose_{i},{1000 / POPULATION[i]:.6g}" for i in range(4)]
        rows += [f"doses,district {i},dose_{i},1" for i in range(4)]
        (folder / "outcomes.csv").write_text("\n".join(rows) + "\n")
    return folder


def write_members(folder: Path, population: tuple[int, ...], column: str = "population",
                  members: bool = True, group: str = "per_1000") -> None:
    """A members table of the doses twin's districts (``population`` per district) and
    twin.toml's ``compared_by``: ``group`` against its mean weighted by ``column``."""
    rows = ["district,population,km"]
    rows += [f"district {i},{p},{1.5 * i:g}" for i, p in enumerate(population)]
    (folder / "members.csv").write_text("\n".join(rows) + "\n")
    toml = (folder / "twin.toml").read_text()
    if members:
        toml = toml.replace('name = "doses"\n', 'name = "doses"\nmembers = "members.csv"\n')
    (folder / "twin.toml").write_text(toml + f'[compared_by]\n{group} = "{column}"\n')
