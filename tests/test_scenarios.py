"""Scenarios: the synthetic waves are reproducible by seed and overload some regions in some
weeks only; the Civil Protection loader aggregates weeks and rejects malformed files by file,
line and column."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from fairtwin.exceptions import (
    DataFormatError,
    DataUnavailableError,
    UnknownNameError,
    ValidationError,
)
from fairtwin.solvers import solve
from fairtwin.twin import get_scenario, italian_regions
from fairtwin.twin.icu.dpc import fetch_dpc_csv, read_dpc_csv, weekly_demand
from tests.conftest import DPC_HEADER, write_dpc_csv


def test_synthetic_shape_and_seed() -> None:
    a = get_scenario("italy-synthetic", seed=3)
    b = get_scenario("italy-synthetic", seed=3)
    c = get_scenario("italy-synthetic", seed=4)
    assert a.n_weeks >= 104
    da = np.array([ctx.demand for ctx in a.contexts])
    np.testing.assert_array_equal(da, np.array([ctx.demand for ctx in b.contexts]))
    assert not np.array_equal(da, np.array([ctx.demand for ctx in c.contexts]))
    train, held_out = a.split()
    assert len(train) == 52 and len(held_out) == 52


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_synthetic_overloads_some_regions_in_some_weeks(seed: int) -> None:
    sc = get_scenario(seed=seed)
    over = np.array([ctx.demand > ctx.capacity for ctx in sc.contexts])
    weeks_over = over.any(axis=1)
    assert 5 <= weeks_over.sum() <= sc.n_weeks - 20
    # when some region is over capacity, others still have room
    assert np.all(over[weeks_over].sum(axis=1) < sc.twin.n_regions)
    assert sc.contexts[0].pool == round(0.1 * italian_regions().icu_beds.sum())


@pytest.mark.parametrize("n", [2, 10, 80])
def test_synthetic_family_of_any_size(n: int) -> None:
    a = get_scenario(f"synthetic-R{n}", seed=1)
    assert a.name == f"synthetic-R{n}" and a.twin.n_regions == n and a.twin.n_decision == n * n
    assert a.n_weeks == 104
    b = get_scenario(f"synthetic-R{n}", seed=1)
    np.testing.assert_array_equal(a.twin.regions.lat, b.twin.regions.lat)
    np.testing.assert_array_equal([c.demand for c in a.contexts], [c.demand for c in b.contexts])
    other = get_scenario(f"synthetic-R{n}", seed=2)
    assert not np.array_equal(a.twin.regions.lat, other.twin.regions.lat)
    if n >= 10:  # waves overload some regions in some weeks, as on the Italian regions
        over = np.array([c.demand > c.capacity for c in a.contexts])
        assert 5 <= over.any(axis=1).sum() <= a.n_weeks - 20
    nominal = solve(a.twin.build(a.contexts[10]), "highs")
    assert a.twin.check(nominal.x[: a.twin.n_decision], a.contexts[10]).feasible


def test_unknown_names() -> None:
    with pytest.raises(UnknownNameError, match="allowed values: 'italy-synthetic', 'italy-dpc'"):
        get_scenario("italy")
    with pytest.raises(UnknownNameError, match="'synthetic-R<N>'"):
        get_scenario("synthetic-R<N>")
    with pytest.raises(ValidationError, match="at least 2 regions"):
        get_scenario("synthetic-R1")
    sc = get_scenario()
    with pytest.raises(UnknownNameError, match=r"0\.\.103"):
        sc.context(104)


def test_dpc_weekly_demand(dpc_csv: Path) -> None:
    sc = get_scenario("italy-dpc", data_path=dpc_csv)
    assert sc.n_weeks == 2
    regions = italian_regions()
    # occupancy = 10 r + d; week 0 covers d = 0..6: mean 10 r + 3; week 1: 10 r + 10
    np.testing.assert_array_equal(sc.contexts[0].demand, 10 * np.arange(21) + 3)
    np.testing.assert_array_equal(sc.contexts[1].demand, 10 * np.arange(21) + 10)
    assert sc.contexts[1].start == date(2020, 3, 9)
    np.testing.assert_array_equal(sc.contexts[0].capacity, regions.icu_beds)


def test_dpc_partial_week_dropped_and_mean_rounded_up(tmp_path: Path) -> None:
    occ = np.zeros((10, 21), dtype=int)
    occ[:7, 0] = [1, 0, 0, 0, 0, 0, 0]  # mean 1/7 -> 1 patient
    path = write_dpc_csv(tmp_path / "f.csv", occupancy=occ)
    days, daily = read_dpc_csv(path, italian_regions())
    weeks = weekly_demand(days, daily)
    assert len(weeks.starts) == 1
    assert weeks.demand[0, 0] == 1


def test_dpc_code_4_resolved_by_name(tmp_path: Path) -> None:
    path = write_dpc_csv(tmp_path / "f.csv", n_days=7)
    text = path.read_text().replace(",21,P.A. Bolzano", ",04,P.A. Bolzano")
    text = text.replace(",22,P.A. Trento", ",04,P.A. Trento")
    path.write_text(text)
    sc = get_scenario("italy-dpc", data_path=path)
    np.testing.assert_array_equal(sc.contexts[0].demand[-2:], [10 * 19 + 3, 10 * 20 + 3])


def _mutate(path: Path, row: int, column: str, value: str) -> None:
    rows = list(csv.reader(path.open()))
    rows[row][DPC_HEADER.index(column)] = value
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)


@pytest.mark.parametrize(
    ("column", "value", "match"),
    [
        ("terapia_intensiva", "many", r"line 6, column 'terapia_intensiva': 'many' is not a number"),
        ("terapia_intensiva", "-3", r"line 6, column 'terapia_intensiva'.*non-negative"),
        ("terapia_intensiva", "", r"line 6, column 'terapia_intensiva': missing value"),
        ("codice_regione", "99", r"line 6, column 'codice_regione': unknown region 99"),
        ("data", "yesterday", r"line 6, column 'data': 'yesterday' is not a date"),
    ],
)
def test_dpc_malformed_values(dpc_csv: Path, column: str, value: str, match: str) -> None:
    _mutate(dpc_csv, 5, column, value)  # row 5 of the list = line 6 of the file
    with pytest.raises(DataFormatError, match=match) as info:
        get_scenario("italy-dpc", data_path=dpc_csv)
    assert str(dpc_csv) in str(info.value)
    assert info.value.line == 6


def test_dpc_missing_column(tmp_path: Path) -> None:
    path = write_dpc_csv(tmp_path / "f.csv", n_days=7)
    text = path.read_text().replace("terapia_intensiva", "icu", 1)
    path.write_text(text)
    with pytest.raises(DataFormatError, match=r"line 1, column 'terapia_intensiva': missing column"):
        get_scenario("italy-dpc", data_path=path)


def test_dpc_duplicate_day(tmp_path: Path) -> None:
    path = write_dpc_csv(tmp_path / "f.csv", n_days=7)
    lines = path.read_text().splitlines(keepends=True)
    lines.append(lines[1])
    path.write_text("".join(lines))
    with pytest.raises(DataFormatError, match=r"line 149, column 'data': duplicate day "
                       r"2020-03-02 for Piemonte \(first seen on line 2\)"):
        get_scenario("italy-dpc", data_path=path)


def test_dpc_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataUnavailableError, match="cannot read"):
        get_scenario("italy-dpc", data_path=tmp_path / "absent.csv")


def test_dpc_download_failure_is_clear_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAIRTWIN_CACHE", str(tmp_path / "cache"))
    # port 9 (discard) on loopback: connection refused at once, like being offline
    with pytest.raises(DataUnavailableError, match=r"could not download .*--data PATH"):
        fetch_dpc_csv(url="http://127.0.0.1:9/dpc.csv", timeout_s=5)
    assert list((tmp_path / "cache").iterdir()) == []


def test_dpc_download_from_file_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    dpc_csv: Path) -> None:
    monkeypatch.setenv("FAIRTWIN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("FAIRTWIN_DPC_URL", dpc_csv.as_uri())
    sc = get_scenario("italy-dpc")
    assert sc.n_weeks == 2
    assert (tmp_path / "cache" / "dpc-covid19-ita-regioni.csv").read_bytes() == dpc_csv.read_bytes()


def test_the_pipeline_runs_on_a_synthetic_family_member(tmp_path: Path) -> None:
    import json

    from fairtwin.cli import main

    out = tmp_path / "r6"
    assert main(["run", "--scenario", "synthetic-R6", "--train-weeks", "5", "--held-out-weeks",
                 "3", "--pairs", "80", "--rounds", "1", "--jobs", "1", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert [w["week"] for w in metrics["contexts"]] == list(range(8))
    held = metrics["summary"]["held-out"]
    assert held["n_contexts"] == 3 and held["max_guard_rise"] <= 1e-6  # the default holds it
