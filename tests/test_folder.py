"""Bring your own twin: the folder format, export and round trip, generic notions, errors."""

from __future__ import annotations

import ast
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from fairtwin.check import check_twin
from fairtwin.cli import cli, main
from fairtwin.exceptions import TwinFolderError, UnknownNameError, ValidationError
from fairtwin.folder import export_twin, load_twin_folder
from fairtwin.oracles import get_oracle, oracle_bound
from fairtwin.pipeline import ExperimentConfig, load_scenario, oracle_name
from fairtwin.solvers import solve
from fairtwin.twin import GenericTwin, Twin, get_scenario

sys.path.insert(0, str(Path(__file__).parent))
from twin_folders import POPULATION, lp_text, write_doses_twin, write_members  # noqa: E402

SRC = Path(__file__).parent.parent / "src" / "fairtwin"


@pytest.fixture()
def doses(tmp_path: Path) -> Path:
    return write_doses_twin(tmp_path / "doses")


def test_only_the_twin_package_knows_the_icu_twin() -> None:
    """No module outside twin/ imports the ICU twin's modules: everything else uses the
    interface."""
    icu_modules = {"fairtwin.twin.icu", "fairtwin.twin.icu.model", "fairtwin.twin.icu.notions",
                   "fairtwin.twin.icu.regions", "fairtwin.twin.icu.dpc"}
    offenders = []
    for path in SRC.rglob("*.py"):
        if "twin" in path.relative_to(SRC).parts[:1]:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                if node.module == "fairtwin.twin":
                    names += [a.name for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            bad = [n for n in names if n in icu_modules or n in ("ICUTwin", "Allocation")]
            if bad:
                offenders.append((str(path.relative_to(SRC)), bad))
    assert offenders == []


def test_folder_twin_reads_lp_files_and_outcomes(doses: Path) -> None:
    sc = load_twin_folder(doses)
    twin = sc.twin
    assert isinstance(twin, GenericTwin) and isinstance(twin, Twin)
    assert twin.decision_names == ("dose_0", "dose_1", "dose_2", "dose_3")
    assert sc.n_weeks == 12 and sc.contexts[3].label == "day 3"
    assert str(sc.contexts[3].start) == "2021-03-04"
    ctx = sc.contexts[0]
    problem = twin.build(ctx)
    assert set(problem.layout.constraints) == {"supply", "need"}
    res = solve(problem, "highs")
    u = res.x[problem.decision_index]
    assert twin.nominal_cost(u, ctx) == pytest.approx(res.objective)
    demand = ctx.features()[1:]
    assert twin.guarded(u, ctx) == pytest.approx(demand.sum() - u.sum())  # people without a dose
    out = twin.outcomes(ctx)
    assert out.group_names == ("per_1000", "doses")
    np.testing.assert_allclose(out(u)[0, :4], 1000 * u / np.array(POPULATION), rtol=1e-5)
    assert out.units["per_1000"] == "doses per 1000 people"
    bad = u.copy()
    bad[0] = demand[0] + 1  # above its bound
    assert not twin.check(bad, ctx).feasible
    assert twin.check(u, ctx).feasible


def test_generic_notions_and_a_callable(doses: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sc = load_twin_folder(doses)
    ctx = sc.contexts[0]
    even = np.full(4, 5.0) * np.array(POPULATION) / 100  # equal doses per person
    uneven = np.array([12.0, 0.0, 0.0, 0.0])
    for name in ("gini:per_1000", "max-min:per_1000", "quadratic:per_1000"):
        R = get_oracle(name, sc.twin).cost(np.stack([even, uneven]), ctx)
        assert 0 <= R[0] < 1e-4 * R[1], name  # equal up to the file's 6 significant digits
    assert oracle_name(ExperimentConfig(), sc) == "gini:per_1000"  # the folder's default notion
    with pytest.raises(UnknownNameError, match="per_1000"):
        get_oracle("gini:nope", sc.twin).cost(even[None, :], ctx)
    (tmp_path / "my_rater.py").write_text(
        "import numpy as np\n"
        "def worst(values, outcomes, context):\n"
        "    sel = [g == 'per_1000' for g in outcomes.groups]\n"
        "    return -np.asarray(values)[:, sel].min(axis=1)\n"
        "def wrong(values, outcomes, context):\n"
        "    return [1.0]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    oracle = get_oracle("my_rater:worst", sc.twin)
    assert oracle.cost(np.stack([even, uneven]), ctx)[0] < 0 == oracle.cost(uneven[None, :], ctx)[0]
    with pytest.raises(ValidationError, match="one latent cost per decision"):
        get_oracle("my_rater:wrong", sc.twin).cost(np.stack([even, uneven]), ctx)
    with pytest.raises(ValidationError, match="cannot import"):
        get_oracle("no_such_module_here:f", sc.twin)


def test_pipeline_runs_on_a_folder_twin(doses: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["run", "--twin", str(doses), "--train-weeks", "8",
                                      "--held-out-weeks", "4", "--pairs", "150", "--rounds", "1",
                                      "--jobs", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    import json

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["twin"]["oracle"] == "gini:per_1000"
    assert metrics["twin"]["price_unit_name"] == "people without a dose"
    env = metrics["environment"]  # what produced the numbers
    assert env["packages"]["numpy"] == np.__version__ and env["cpu"] and env["n_jobs"] == 1
    assert metrics["splits"]["train"]["to"] == "2021-03-08"  # daily contexts
    train = metrics["summary"]["train"]
    assert train["wins"] >= 6, train  # of 8 days: the learned cost is fairer than nominal
    assert list(out.glob("outcomes_week*.png")) and (out / "weeks.png").exists()
    for w in metrics["contexts"]:
        assert w["R_orc"] <= w["R_nom"] + 1e-12
        assert w["dR_orc_held"] <= w["dR_orc"] + 1e-12  # a bound within the guard gains less
    assert train["dR_ratio_held"] >= train["dR_ratio_aggregate"] - 1e-12
    assert "bound holding the guard" in result.output
    # the stages one by one read the same folder from the saved configuration
    again = CliRunner().invoke(cli, ["evaluate", "--out", str(out)])
    assert again.exit_code == 0, again.output


def test_an_experiment_runs_on_a_folder_twin(doses: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "exp"
    args = ["experiment", "tradeoff", "--twin", str(doses), "--train-weeks", "6", "--seeds", "0",
            "--grid", "baseline_pairs=90", "--grid", "lambdas=3,10", "--epochs", "10",
            "--jobs", "1", "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    import csv

    with open(out / "tradeoff" / "results.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["method"] for r in rows} == {"learned", "nominal", "oracle"}
    assert all(int(r["weeks_train"]) == 6 and int(r["weeks_held_out"]) == 6 for r in rows)
    nominal = [r for r in rows if r["method"] == "nominal"]
    assert nominal and all(int(r["wins_train"]) == 0 for r in nominal)  # never beats itself
    oracle = [r for r in rows if r["method"] == "oracle"]
    assert oracle and all(int(r["wins_train"]) >= 1 for r in oracle)
    code, err = _exit_and_message(["experiment", "tradeoff", "--twin", str(tmp_path / "none"),
                                   "--out", str(tmp_path / "x")], capsys)
    assert code == 2 and "does not exist" in err and not (tmp_path / "x").exists()


def test_icu_twin_round_trip_through_the_folder_format(tmp_path: Path) -> None:
    """The files alone (no Python hook) carry the ICU twin's models, costs, guard and outcomes."""
    sc = get_scenario()
    weeks = [0, 30, 40, 60]  # near-zero, normal and overloaded weeks
    export_twin(sc, tmp_path / "icu", weeks, hooks=False)
    back = load_twin_folder(tmp_path / "icu")
    assert isinstance(back.twin, GenericTwin) and not (tmp_path / "icu" / "icu").exists()
    assert back.twin.n_decision == sc.twin.n_decision
    assert back.twin.categories == sc.twin.categories
    assert back.twin.price_unit == sc.twin.price_unit
    for k, w in enumerate(weeks):
        a, b = sc.context(w), back.contexts[k]
        np.testing.assert_allclose(a.features(), b.features())
        assert back.twin.category(b) == sc.twin.category(a)
        ra = solve(sc.twin.build(a), "highs")
        rb = solve(back.twin.build(b), "highs")
        ua, ub = ra.x[: sc.twin.n_decision], rb.x[: sc.twin.n_decision]
        np.testing.assert_array_equal(np.round(ua), np.round(ub))  # the same nominal decision
        assert rb.objective == pytest.approx(ra.objective)
        assert back.twin.nominal_cost(ub, b) == pytest.approx(sc.twin.nominal_cost(ua, a))
        assert back.twin.guarded(ub, b) == pytest.approx(sc.twin.guarded(ua, a))
        np.testing.assert_allclose(back.twin.outcomes(b)(ub), sc.twin.outcomes(a)(ua), atol=1e-9)
        moved = ua.copy()
        moved[0] += 1  # one more bed: a different decision, still the same outcomes
        np.testing.assert_allclose(back.twin.outcomes(b)(moved), sc.twin.outcomes(a)(moved), atol=1e-9)


def test_icu_twin_round_trip_gives_the_same_learned_cost_and_decisions(tmp_path: Path) -> None:
    """Downstream of the sampler and the rater, the files alone make the built-in twin: from the
    same sampled decisions and the same answers, training, the re-solve (blend with its guard,
    select) and the price give identical numbers. (What the files cannot carry, the ICU twin's
    load-target sampler, notions of fairness and bound moves, comes back with the hook: next
    test.)"""
    from dataclasses import replace as dc_replace

    from fairtwin.pipeline import label_stage, resolve_stage, sample_stage, train_stage

    sc = get_scenario()
    weeks = list(range(30, 40))  # normal and overloaded weeks
    export_twin(sc, tmp_path / "icu", weeks, hooks=False)
    back = load_twin_folder(tmp_path / "icu")
    cfg = ExperimentConfig().override(
        scenario={"n_train": 7, "n_held_out": 3, "train_from": str(sc.context(30).start)},
        sampler={"n_samples": 5}, labels={"n_pairs": 80, "rounds": 0},
        learner={"max_epochs": 60}, resolve={"time_limit_s": 600.0}, n_jobs=1)  # node budget only
    icu_data = label_stage(sample_stage(cfg, sc), cfg, sc)
    exported = dc_replace(icu_data, context_ids=icu_data.context_ids - 30, scenario=back.name,
                          info=dict(icu_data.info))
    np.testing.assert_allclose(exported.context_features,
                               [c.features() for c in back.contexts])
    assert back.twin.outcomes(back.contexts[0]).compared == sc.twin.outcomes(sc.context(30)).compared
    results = []
    for scenario, data in ((sc, icu_data), (back, exported)):
        learner, f_scale, _ = train_stage(data, cfg, scenario)
        costs = learner.costs_of(data, [scenario.twin.outcomes(scenario.contexts[int(i)])
                                        for i in data.context_ids])
        U_blend, _, _ = resolve_stage(learner, f_scale, data, cfg, scenario)
        U_select, _, _ = resolve_stage(learner, f_scale, data,
                                       cfg.override(resolve={"mode": "select"}), scenario)
        price = [scenario.twin.nominal_cost(u, scenario.contexts[int(i)])
                 for u, i in zip(U_blend, data.context_ids, strict=True)]
        results.append((f_scale, costs, U_blend, U_select, price))
    (fa, ca, ba, sa, pa), (fb, cb, bb, sb, pb) = results
    assert fa == pytest.approx(fb, rel=1e-9)
    np.testing.assert_allclose(ca, cb, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(sa, sb)
    np.testing.assert_array_equal(ba, bb)
    np.testing.assert_allclose(pa, pb, rtol=1e-9)
    assert np.any(ba != icu_data.decisions[icu_data.decision_context == 0][:1])  # not trivial


def test_exported_icu_twin_runs_to_the_same_metrics(tmp_path: Path) -> None:
    """fairtwin export-twin writes the ICU twin's own behaviour as a [python] hook; read back,
    the folder runs the whole pipeline (sample, label, train with an active round, re-solve,
    evaluate with the oracle bound) to the same numbers and decisions as the built-in twin."""
    import json

    from fairtwin.twin.icu.folder import ICUFolderTwin

    folder = tmp_path / "icu"
    done = CliRunner().invoke(cli, ["export-twin", "--weeks", "0-33", "--out", str(folder)])
    assert done.exit_code == 0, done.output
    assert isinstance(load_twin_folder(folder).twin, ICUFolderTwin)
    args = ["--train-from", "2020-08-17", "--train-weeks", "6", "--held-out-weeks", "4",
            "--samples", "6", "--pairs", "150", "--rounds", "1", "--jobs", "2"]
    metrics = []
    for source, out in (([], tmp_path / "builtin"), (["--twin", str(folder)], tmp_path / "folder")):
        done = CliRunner().invoke(cli, ["run", *source, *args, "--out", str(out)])
        assert done.exit_code == 0, done.output
        m = json.loads((out / "metrics.json").read_text())
        for key in ("stage_times_s", "environment", "twin", "config"):
            m.pop(key, None)
        for w in m["contexts"]:
            w.pop("solve_time_s")
        for s in m["summary"].values():
            for key in [k for k in s if "time" in k]:
                s.pop(key)
        metrics.append(m)
        assert [p.name for p in out.glob("*_week*.png")] == ["loads_week24.png"]  # the ICU's own
        m["decisions"] = np.load(out / "decisions.npz")["decisions"].tolist()
        m["bound"] = np.load(out / "oracle_bound.npz")["decisions"].tolist()
    assert metrics[0] == metrics[1]
    assert metrics[0]["summary"]["train"]["wins"] >= 1  # the numbers compared are not trivial


def test_an_exported_icu_twins_hook_files_are_checked(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "icu"
    export_twin(get_scenario(), folder, [0, 1, 2])
    weeks = folder / "icu" / "weeks.csv"
    lines = weeks.read_text().splitlines()
    weeks.write_text("\n".join(lines[:3]) + "\n")  # the row of c0002 is gone
    code, err = _exit_and_message(["solve", "--twin", str(folder), "--week", "0"], capsys)
    assert code == 2 and "weeks.csv" in err and "'c0002' has no row" in err, err
    weeks.write_text("\n".join([lines[0], lines[1].replace(",", ",many", 1), *lines[2:]]) + "\n")
    code, err = _exit_and_message(["solve", "--twin", str(folder), "--week", "0"], capsys)
    assert code == 2 and "weeks.csv, line 2, column 'pool'" in err and "not a number" in err, err
    cells = lines[2].split(",")
    cells[1] = str(int(cells[1]) + 7)  # another pool in week c0001 than its model's
    weeks.write_text("\n".join([lines[0], lines[1], ",".join(cells), *lines[3:]]) + "\n")
    code, err = _exit_and_message(["solve", "--twin", str(folder), "--week", "0"], capsys)
    assert code == 2 and "c0001.mps is not the model this file describes" in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_an_exported_icu_twin_presents_itself_as_the_icu_twin(tmp_path: Path) -> None:
    """Through its hook the exported folder shows the ICU twin's own solve table, rating page
    data and load figure, not the generic outcome views."""
    from fairtwin.oracles import get_oracle

    sc = get_scenario()
    export_twin(sc, tmp_path / "icu", [40, 41])
    back = load_twin_folder(tmp_path / "icu")
    a, b = sc.context(40), back.contexts[0]
    u = solve(sc.twin.build(a), "highs").x[: sc.twin.n_decision]
    v = u.copy()
    v[0] += 1
    assert back.twin.report(u, b).lines == sc.twin.report(u, a).lines
    assert back.twin.report(u, b).data["regions"] == sc.twin.report(u, a).data["regions"]
    assert back.twin.members_view(b, u, v) == sc.twin.members_view(a, u, v)
    view = back.twin.members_view(b, u, v)
    assert view is not None and any(q.a != q.b for q in view.quantities)
    path = back.twin.plot_decisions(get_oracle("rosenbrock", back.twin), b, {"nominal": u},
                                    tmp_path)
    assert path is not None and path.name == "loads_week0.png" and path.exists()
    plain = load_twin_folder(export_twin(sc, tmp_path / "plain", [40], hooks=False))
    assert plain.twin.members_view(plain.contexts[0], u, v) is None  # files only: generic page


def test_twin_path_in_toml(doses: Path, tmp_path: Path) -> None:
    cfg_file = tmp_path / "exp.toml"
    cfg_file.write_text(f'[twin]\npath = "{doses}"\n')
    cfg = ExperimentConfig.load(cfg_file)
    assert cfg.scenario.twin_path == str(doses)
    assert load_scenario(cfg.override(scenario={"n_train": 6})).name == "doses"


def _exit_and_message(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    err = capsys.readouterr().err
    return code, err


@pytest.mark.parametrize("breakage, expected", [
    ("no_toml", "twin.toml"),
    ("bad_model", "d03.lp"),
    ("other_decision", "d05.lp"),
    ("missing_model", "d07"),
    ("orphan_model", "extra.lp"),
    ("unknown_variable", "outcomes.csv, line 3"),
    ("bad_feature", "contexts.csv, line 4"),
    ("infeasible", "d02"),
    ("bad_resolve_mode", "twin.toml: [resolve]: unknown re-solve mode 'fair'"),
    ("bad_resolve_key", "twin.toml, column 'resolve.lambda'"),
    ("bad_resolve_type", "twin.toml: [resolve]: blend_lambda must be a number"),
    ("hook_key", "twin.toml, column 'python.module'"),
    ("hook_import", "cannot import the module of twin hook 'no_such_module_xyz:extend'"),
    ("hook_raises", "the twin hook os.path:join raised TypeError"),
    ("hook_not_a_twin", "builtins:slice returned a slice, not a fairtwin Twin"),
    ("members_not_given", "twin.toml, column 'compared_by': needs members"),
    ("members_column", "members.csv, line 1, column 'residents': no such column"),
    ("members_row", "members.csv: no row for member(s) ['district 3'] of outcome group "
                    "'per_1000'"),
    ("members_value", "members.csv, line 3, column 'population': must be positive, got -80"),
    ("members_group", "twin.toml, column 'compared_by': names no outcome group: 'per_100'"),
    ("members_below", "twin.toml, column 'compared_by': holds ['members']: a setting written "
                      "below the [compared_by] header"),
    ("members_single", "twin.toml, column 'compared_by': group 'total' has 1 member"),
    ("extra_by_members", "twin.toml, column 'extra_by': needs members"),
    ("extra_by_group", "twin.toml, column 'extra_by': names no outcome group: 'per_100'"),
    ("extra_by_column", "members.csv, line 1, column 'age': no such column (extra_by)"),
    ("extra_by_value", "members.csv, line 2, column 'km': 'far' is not a number"),
])
def test_bad_twin_folders_get_one_clear_line(doses: Path, breakage: str, expected: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    _break(doses, breakage)
    code, err = _exit_and_message(["solve", "--twin", str(doses), "--week", "0"], capsys)
    assert code == 2, err
    assert expected in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    report = check_twin(doses)  # check-twin finds it too, in the same words
    assert not report.clean and any(expected in p for p in report.problems), report.problems


def _break(doses: Path, breakage: str) -> None:
    """Break the doses twin folder as a modeller might (the cases above)."""
    models = doses / "models"
    if breakage == "no_toml":
        (doses / "twin.toml").unlink()
    elif breakage == "bad_model":
        (models / "d03.lp").write_text("this is not a model\n")
    elif breakage == "other_decision":
        (models / "d05.lp").write_text(lp_text([5, 6, 7, 8], 10, [1, 1, 1, 1]).replace("dose_2", "dosis_2"))
    elif breakage == "missing_model":
        (models / "d07.lp").unlink()
    elif breakage == "orphan_model":
        shutil.copy(models / "d00.lp", models / "extra.lp")
    elif breakage == "unknown_variable":
        lines = (doses / "outcomes.csv").read_text().splitlines()
        lines[2] = lines[2].replace("dose_1", "short_1")
        (doses / "outcomes.csv").write_text("\n".join(lines) + "\n")
    elif breakage == "bad_feature":
        lines = (doses / "contexts.csv").read_text().splitlines()
        parts = lines[3].split(",")
        parts[3] = "many"
        lines[3] = ",".join(parts)
        (doses / "contexts.csv").write_text("\n".join(lines) + "\n")
    elif breakage == "infeasible":
        text = (models / "d02.lp").read_text().replace("General", " dose_0 >= 1000\nGeneral")
        (models / "d02.lp").write_text(text)
    elif breakage.startswith("bad_resolve"):
        table = {"bad_resolve_mode": 'mode = "fair"', "bad_resolve_key": "lambda = 3",
                 "bad_resolve_type": 'blend_lambda = "high"'}[breakage]
        with open(doses / "twin.toml", "a") as fh:
            fh.write(f"[resolve]\n{table}\n")
    elif breakage.startswith("members"):
        rows = {"members_row": POPULATION[:3],
                "members_value": (120, -80, 200, 60)}.get(breakage, POPULATION)
        write_members(doses, rows, "residents" if breakage == "members_column" else "population",
                      members=breakage not in ("members_not_given", "members_below"),
                      group="per_100" if breakage == "members_group" else "per_1000")
        if breakage == "members_single":
            with open(doses / "outcomes.csv", "a") as fh:
                fh.write("total,all districts,dose_0,1\n")
            (doses / "twin.toml").write_text((doses / "twin.toml").read_text().replace(
                'per_1000 = "population"', 'total = "population"'))
        if breakage == "members_below":
            with open(doses / "twin.toml", "a") as fh:
                fh.write('members = "members.csv"\n')
    elif breakage.startswith("extra_by"):
        write_members(doses, POPULATION)
        toml = (doses / "twin.toml").read_text()
        if breakage == "extra_by_members":
            toml = toml.replace('members = "members.csv"\n', "").replace(
                '[compared_by]\nper_1000 = "population"\n', "")
        column = "age" if breakage == "extra_by_column" else "km"
        group = "per_100" if breakage == "extra_by_group" else "doses"
        (doses / "twin.toml").write_text(toml.replace(
            'name = "doses"\n', f'name = "doses"\nextra_by = {{"{group}" = ["{column}"]}}\n'))
        if breakage == "extra_by_value":
            table = (doses / "members.csv").read_text()
            (doses / "members.csv").write_text(table.replace("district 0,120,0", "district 0,120,far"))
    elif breakage.startswith("hook"):
        table = {"hook_key": 'twin = "os.path:join"\nmodule = "os"',
                 "hook_import": 'twin = "no_such_module_xyz:extend"',
                 "hook_raises": 'twin = "os.path:join"',
                 "hook_not_a_twin": 'twin = "builtins:slice"'}[breakage]
        with open(doses / "twin.toml", "a") as fh:
            fh.write(f"[python]\n{table}\n")


def test_compared_by_weighs_a_groups_mean_by_a_members_column(doses: Path,
                                                              tmp_path: Path) -> None:
    plain = load_twin_folder(doses).twin
    write_members(doses, POPULATION, "population")
    sc = load_twin_folder(doses)
    ctx = sc.contexts[0]
    out = sc.twin.outcomes(ctx)
    assert out.compared == ("per_1000", "doses")
    np.testing.assert_array_equal(out.weights["per_1000"], POPULATION)
    u = np.array([[10.0, 3.0, 8.0, 1.0], [0.0, 9.0, 4.0, 7.0]])
    rate = 1000 * u.sum(axis=1) / sum(POPULATION)  # doses per 1000 of all residents
    z = out.relative()(u)[:, :4]
    np.testing.assert_allclose(z, 1000 * u / np.array(POPULATION) - rate[:, None], rtol=1e-5)
    before = plain.outcomes(ctx).relative()(u)[:, :4]  # the districts' average rate
    assert not np.allclose(before, z, rtol=1e-3)
    assert check_twin(doses).clean
    back = load_twin_folder(export_twin(sc, tmp_path / "exported", hooks=False))
    np.testing.assert_array_equal(back.twin.outcomes(back.contexts[0]).weights["per_1000"],
                                  POPULATION)


def test_extra_by_adds_a_level_group_of_each_members_outcome_times_its_attribute(
        doses: Path, tmp_path: Path) -> None:
    """``extra_by = {"doses" = ["km"]}``: the extra group ``doses*km``, each district's doses
    times its km from the members table — never compared with its mean, not aimed at by the
    sampler, and its rungs fitted with linear weights."""
    from fairtwin.learn.evidence import rung_learner
    from fairtwin.learn.outcome import OutcomeCostLearner
    from fairtwin.twin.outcomes import LEVEL_MARK

    plain = load_twin_folder(doses)
    write_members(doses, POPULATION)
    toml = (doses / "twin.toml").read_text()
    (doses / "twin.toml").write_text(toml.replace(
        'name = "doses"\n', 'name = "doses"\nextra_by = {"doses" = ["km"]}\n'))
    sc = load_twin_folder(doses)
    out = sc.twin.outcomes(sc.contexts[0])
    assert out.extra == ("doses*km",) and LEVEL_MARK in "doses*km"
    assert "doses*km" not in out.compared and out.base_groups == ("per_1000", "doses")
    assert out.units["doses*km"].endswith("× km")
    u = np.array([[10.0, 3.0, 8.0, 1.0], [0.0, 9.0, 4.0, 7.0]])
    level = out(u)[:, [g == "doses*km" for g in out.groups]]
    np.testing.assert_allclose(level, u * np.array([0.0, 1.5, 3.0, 4.5]))
    np.testing.assert_allclose(out.relative()(u)[:, 8:], level)  # a level, not a gap
    assert rung_learner(lambda g: OutcomeCostLearner(groups=g), "base+doses*km",
                        ("per_1000", "doses", "doses*km")).linear
    assert not rung_learner(lambda g: OutcomeCostLearner(groups=g), "base",
                            ("per_1000", "doses")).linear
    rng_a, rng_b = np.random.default_rng(4), np.random.default_rng(4)
    ctx = sc.contexts[0]
    problem = sc.twin.build(ctx)
    nominal = solve(problem, "highs").x[problem.decision_index]
    aimed = sc.twin.targeted_problem(ctx, sc.twin.build(ctx), nominal, rng_a, 20.0)
    before = plain.twin.targeted_problem(plain.contexts[0], plain.twin.build(plain.contexts[0]),
                                         nominal, rng_b, 20.0)
    np.testing.assert_array_equal(aimed.c, before.c)  # the sampler aims as without it
    assert check_twin(doses).clean
    back = load_twin_folder(export_twin(sc, tmp_path / "exported", hooks=False))
    again = back.twin.outcomes(back.contexts[0])
    assert "doses*km" in again.groups and "doses*km" not in again.compared
    np.testing.assert_allclose(again(u)[:, [g == "doses*km" for g in again.groups]], level)


def test_the_oracle_bound_can_hold_the_guard(doses: Path) -> None:
    sc = load_twin_folder(doses)
    twin, oracle = sc.twin, get_oracle("gini:per_1000", sc.twin)
    raised = 0
    for ctx in sc.contexts[:4]:
        problem = twin.build(ctx)
        u0 = solve(problem, "highs").x[problem.decision_index]
        limit = twin.guarded(u0, ctx)
        free, r_free = oracle_bound(oracle, ctx, u0[None])
        kept, r_kept = oracle_bound(oracle, ctx, u0[None], guard_limit=limit)
        assert twin.check(kept, ctx).feasible and twin.guarded(kept, ctx) <= limit + 1e-6
        assert r_free <= r_kept + 1e-12 and r_kept <= oracle.cost(u0[None], ctx)[0]
        raised += twin.guarded(free, ctx) > limit + 1e-6
    assert raised >= 1  # unheld, the bound leaves more people without a dose somewhere
    with pytest.raises(ValidationError, match="no start of the oracle bound"):
        oracle_bound(oracle, ctx, u0[None], guard_limit=limit - 1)


def test_infeasible_contexts_can_be_dropped(doses: Path) -> None:
    text = (doses / "models" / "d02.lp").read_text().replace("General", " dose_0 >= 1000\nGeneral")
    (doses / "models" / "d02.lp").write_text(text)
    with pytest.raises(ValidationError, match="d02"):
        load_twin_folder(doses)
    toml = doses / "twin.toml"
    toml.write_text(toml.read_text().replace("[units]", "drop_infeasible = true\n[units]"))
    sc = load_twin_folder(doses)
    assert sc.n_weeks == 11 and "d02" not in [c.data["id"] for c in sc.contexts]
    assert [c.index for c in sc.contexts] == list(range(11))
    report = check_twin(doses)  # the folder allows it: no problem, said
    assert report.clean and any("1 dropped (drop_infeasible = true): context 'day 2'" in c
                                for c in report.checked), report.lines()


def test_dropped_contexts_keep_their_numbers(doses: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """With d02 dropped, --week 7 is still day 7 (row 7 of contexts.csv), and --week 2 says
    which numbers there are; the positions the pipeline uses stay contiguous."""
    text = (doses / "models" / "d02.lp").read_text().replace("General", " dose_0 >= 1000\nGeneral")
    (doses / "models" / "d02.lp").write_text(text)
    toml = doses / "twin.toml"
    toml.write_text(toml.read_text().replace("[units]", "drop_infeasible = true\n[units]"))
    sc = load_twin_folder(doses)
    assert sc.context(7).label == "day 7" and sc.context(1).label == "day 1"
    assert [sc.number(c) for c in sc.contexts] == [0, 1, *range(3, 12)]
    code = main(["solve", "--twin", str(doses), "--week", "7"])
    out, err = capsys.readouterr()
    assert code == 0 and out.startswith("doses, day 7\n"), out
    code, err = _exit_and_message(["solve", "--twin", str(doses), "--week", "2"], capsys)
    assert code == 2 and "'0..1', '3..11'" in err and "dropped" in err, err
    exported = export_twin(sc, doses.parent / "export", [3, 11], hooks=False)
    labels = [line.split(",")[1] for line in (exported / "contexts.csv").read_text().splitlines()[1:]]
    assert labels == ["day 3", "day 11"]


def test_an_extra_decision_variable_in_a_later_context_is_an_error(
        doses: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A fifth district on day 5 matches the prefix 'dose_' but is no decision variable of the
    first context: an error naming the file, the variable and the fix (it was a silent
    non-decision variable)."""
    (doses / "models" / "d05.lp").write_text(lp_text([5, 6, 7, 8, 9], 20, [1, 1, 1, 1, 1]))
    code, err = _exit_and_message(["solve", "--twin", str(doses), "--week", "0"], capsys)
    assert code == 2 and "d05.lp" in err and "'dose_4'" in err, err
    assert "add it to every context's model" in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


@pytest.mark.parametrize("outcomes", [True, False])
def test_a_mistyped_decision_prefix_is_named(tmp_path: Path, outcomes: bool,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """One of several prefixes that matches nothing is an error naming it and twin.toml, not a
    silently smaller decision (without outcomes.csv) nor an error blaming outcomes.csv."""
    folder = write_doses_twin(tmp_path / "f", n_contexts=3, outcomes=outcomes)
    toml = folder / "twin.toml"
    toml.write_text(toml.read_text().replace('decision = ["dose_"]',
                                             'decision = ["dose_0", "dose_1", "dose_2", "dos_3"]'))
    code, err = _exit_and_message(["solve", "--twin", str(folder), "--week", "0"], capsys)
    assert code == 2, err
    assert "twin.toml, column 'decision'" in err and "'dos_3' matches no variable" in err, err
    assert "d00.lp" in err and "'dose'" in err and "outcomes.csv" not in err, err


@pytest.mark.parametrize("command", ["solve", "run"])
def test_an_unknown_context_in_outcomes_csv_is_named(doses: Path, command: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """A typo in outcomes.csv's context column names the file, line, field and the ids (it
    was: no outcomes and exit 0 for solve, an internal error for run)."""
    (doses / "outcomes.csv").write_text(
        "group,name,variable,coefficient,context\n"
        "doses,district 0,dose_0,1,\ndoses,district 1,dose_1,1,d3\n")
    args = ["--week", "3"] if command == "solve" else ["--out", str(doses.parent / "run")]
    code, err = _exit_and_message([command, "--twin", str(doses), *args], capsys)
    assert code == 2, err
    assert "outcomes.csv, line 3, column 'context'" in err and "'d3' is not a context id" in err
    assert "'d00', 'd01'" in err and "(12 in all)" in err, err
    assert not (doses.parent / "run").exists()


def test_a_python_twins_outcomes_name_existing_contexts(doses: Path) -> None:
    from fairtwin.twin.generic import OutcomeDefinition, OutcomeTerm

    sc = load_twin_folder(doses, validate=False)
    terms = (OutcomeTerm("doses", "a", "dose_0", 1.0), OutcomeTerm("doses", "b", "dose_1", 1.0, "d99"))
    with pytest.raises(ValidationError, match="context 'd99', which is not a context id"):
        GenericTwin("t", sc.contexts, sc.twin.problem_and_columns, sc.twin.decision_names,
                    OutcomeDefinition(terms))


def test_unknown_oracle_for_a_folder_lists_its_notions(doses: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _exit_and_message(["run", "--twin", str(doses), "--oracle", "rosenbrok"], capsys)
    assert code == 2 and "gini" in err and "package.module:function" in err
    code, err = _exit_and_message(["run", "--twin", str(doses), "--oracle", "nowhere_mod:f"], capsys)
    assert code == 2 and "cannot import" in err


def test_an_icu_notion_on_a_folder_twin_is_an_error(doses: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """--oracle rosenbrock (or the same in a --config file) on a folder twin lists the twin's
    notions before any work, instead of silently running its default; without --oracle, the
    default that runs is what config.toml and the printout say."""
    out = tmp_path / "run"
    code, err = _exit_and_message(["run", "--twin", str(doses), "--oracle", "rosenbrock",
                                   "--out", str(out)], capsys)
    assert code == 2 and "unknown oracle 'rosenbrock'" in err, err
    assert "'gini', 'max-min', 'quadratic'" in err and not out.exists(), err
    cfg = tmp_path / "mine.toml"
    cfg.write_text('[labels]\noracle = "rosenbrock"\n')
    code, err = _exit_and_message(["run", "--twin", str(doses), "--config", str(cfg),
                                   "--out", str(out)], capsys)
    assert code == 2 and "unknown oracle 'rosenbrock'" in err and not out.exists(), err
    done = CliRunner().invoke(cli, ["sample", "--twin", str(doses), "--train-weeks", "4",
                                    "--held-out-weeks", "2", "--samples", "2", "--jobs", "1",
                                    "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert "coverage (gini:per_1000 rater)" in done.output, done.output
    assert ExperimentConfig.load(out / "config.toml").labels.oracle == "gini:per_1000"


@pytest.mark.parametrize("labels, learner, expected", [
    ({"oracle": "gini:nope"}, {}, "unknown outcome group of oracle 'gini:nope' 'nope'"),
    ({"oracle": "max-min:dose"}, {}, "allowed values: 'per_1000', 'doses'"),
    ({}, {"groups": ("per_1000", "nope")}, "unknown outcome group(s) ['nope']"),
    ({}, {"groups": ("doses", "per_1000^")}, "term(s) ['per_1000^'] (a peak g^, a harm"),
    ({}, {"groups": ("doses", "per_1000+")}, "term(s) ['per_1000+'] (a peak g^, a harm"),
])
def test_unknown_names_are_found_before_any_work(doses: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str],
                                                 labels: dict, learner: dict, expected: str) -> None:
    """An oracle's or the learner's outcome group that the twin lacks: an error before any
    sampling, from run_pipeline and from the CLI (it came 13 s in, after the sampling)."""
    from fairtwin.pipeline import run_pipeline

    sc = load_twin_folder(doses)
    cfg = ExperimentConfig().override(scenario={"n_train": 6, "n_held_out": 6}, labels=labels,
                                      learner=learner, n_jobs=1)
    with pytest.raises((UnknownNameError, ValidationError)) as info:
        run_pipeline(cfg, tmp_path / "py", scenario=sc)
    assert expected in str(info.value) and not (tmp_path / "py").exists()
    toml = tmp_path / "c.toml"  # a saved configuration names its oracle: one of the twin's
    cfg.override(scenario={"twin_path": str(doses)},
                 labels={"oracle": labels.get("oracle", "gini")}).save(toml)
    code, err = _exit_and_message(["run", "--config", str(toml), "--out", str(tmp_path / "cli")],
                                  capsys)
    assert code == 2 and expected in err and not (tmp_path / "cli").exists(), err


def test_a_peak_term_of_a_named_group_passes_the_name_check(doses: Path) -> None:
    from fairtwin.pipeline import check_names

    sc = load_twin_folder(doses)
    check_names(ExperimentConfig().override(learner={"groups": ("per_1000", "per_1000^")}), sc)


def test_an_unknown_group_of_the_icu_twin_is_found_before_sampling(tmp_path: Path) -> None:
    from fairtwin.pipeline import run_pipeline

    cfg = ExperimentConfig().override(labels={"oracle": "max-min:nope"}, n_jobs=1)
    with pytest.raises(UnknownNameError, match="outcome group of oracle 'max-min:nope'"):
        run_pipeline(cfg, tmp_path / "icu")
    assert not (tmp_path / "icu").exists()


@pytest.mark.parametrize("n, split", [(30, (15, 15)), (80, (40, 40)), (300, (52, 52)),
                                      (3, (1, 1))])
def test_the_default_split_fits_the_number_of_contexts(tmp_path: Path, n: int,
                                                       split: tuple[int, int]) -> None:
    from fairtwin.pipeline import check_weeks, fit_split

    sc = load_twin_folder(write_doses_twin(tmp_path / "f", n_contexts=n), validate=False)
    fitted, note = fit_split(ExperimentConfig(), sc)
    assert (fitted.scenario.n_train, fitted.scenario.n_weeks - fitted.scenario.n_train) == split
    check_weeks(fitted, sc)
    assert bool(note) == (n < 104)
    if note:
        assert f"{n} contexts" in note and f"running {split[0]} training + {split[1]} held-out " \
            "contexts" in note and "weeks" not in note.replace("--train-weeks", "") \
            .replace("--held-out-weeks", ""), note
    mine = ExperimentConfig().override(scenario={"n_train": 20})  # a split the user chose stays
    assert fit_split(mine, sc)[0] == mine
    if n < 40:
        with pytest.raises(ValidationError, match=f"has {n} contexts .*; 20 training \\+ 20 held-out "
                                                  "contexts need 40: lower --train-weeks"):
            check_weeks(mine, sc)


def test_a_twin_of_30_contexts_runs_on_the_defaults(tmp_path: Path) -> None:
    """No split given: 15 training + 15 held-out contexts, said in the printout and recorded in
    config.toml (it was: "52 training + 52 held-out weeks need 104")."""
    folder = write_doses_twin(tmp_path / "f", n_contexts=30)
    out = tmp_path / "run"
    done = CliRunner().invoke(cli, ["run", "--twin", str(folder), "--jobs", "1", "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert "running 15 training + 15 held-out contexts" in done.output
    assert "15 training + 15 held-out contexts, 1344 comparisons" in done.output
    saved = ExperimentConfig.load(out / "config.toml").scenario
    assert (saved.n_train, saved.n_held_out) == (15, 15)
    import json

    summary = json.loads((out / "metrics.json").read_text())["summary"]
    assert summary["train"]["n_contexts"] == 15 and summary["held-out"]["n_contexts"] == 15
    assert summary["held-out"]["wins"] >= 10, summary["held-out"]  # measured: 14/15


def test_a_folder_without_outcomes_uses_the_decision(tmp_path: Path) -> None:
    folder = write_doses_twin(tmp_path / "plain", n_contexts=3, outcomes=False)
    sc = load_twin_folder(folder)
    out = sc.twin.outcomes(sc.contexts[0])
    assert out.group_names == ("dose",) and out.names == ("0", "1", "2", "3")
    with pytest.raises(TwinFolderError, match="no 'id' column"):
        (folder / "contexts.csv").write_text("label\nx\n")
        load_twin_folder(folder)


EXAMPLE = Path(__file__).parent.parent / "examples" / "vaccine"


def _linopy_models(n: int = 10, seed: int = 0) -> list:
    linopy = pytest.importorskip("linopy", reason="the linopy door needs the [linopy] extra (in dev)")
    import pandas as pd

    rng = np.random.default_rng(seed)
    idx = pd.Index(["north", "south", "east", "west"], name="district")
    models = []
    for _ in range(n):
        demand = rng.integers(5, 30, size=4)
        m = linopy.Model()
        dose = m.add_variables(lower=0, upper=pd.Series(demand, index=idx), coords=[idx], name="dose",
                               integer=True)
        short = m.add_variables(lower=0, coords=[idx], name="short")
        m.add_constraints(dose.sum() <= int(0.6 * demand.sum()), name="supply")
        m.add_constraints(dose + short >= pd.Series(demand, index=idx), name="need")
        m.add_objective((pd.Series([1.0, 2.0, 1.5, 4.0], index=idx) * dose).sum() + 50 * short.sum())
        models.append(m)
    return models


def test_linopy_door_builds_a_twin_that_runs_and_matches_its_folder(tmp_path: Path) -> None:
    from fairtwin.linopy_twin import twin_from_linopy, write_twin_folder
    from fairtwin.pipeline import run_pipeline

    models = _linopy_models()
    sc = twin_from_linopy(models, decision=["dose"], guard=["short"], name="doses-linopy",
                          price_unit=50.0, default_resolve={"mode": "guard"})
    twin = sc.twin
    assert twin.decision_names == ("dose(north)", "dose(south)", "dose(east)", "dose(west)")
    ctx = sc.contexts[0]
    problem = twin.build(ctx)
    assert set(problem.layout.constraints) == {"supply", "need"}
    res = solve(problem, "highs")
    models[0].solve(solver_name="highs")
    assert res.objective == pytest.approx(float(models[0].objective.value))  # the same optimum
    u = res.x[:4]
    assert twin.guarded(u, ctx) == pytest.approx(float(models[0].variables["short"].solution.sum()))
    # the same models saved as a folder read back as the same twin
    folder = write_twin_folder(models, tmp_path / "f", decision=["dose("], guard=["short("], name="f")
    back = load_twin_folder(folder)
    assert back.twin.decision_names == twin.decision_names
    assert solve(back.twin.build(back.contexts[0]), "highs").objective == pytest.approx(res.objective)
    cfg = ExperimentConfig().override(scenario={"n_train": 6, "n_held_out": 4},
                                      labels={"n_pairs": 100, "rounds": 1}, n_jobs=1)
    result = run_pipeline(cfg, tmp_path / "run", scenario=sc)
    assert result.metrics["summary"]["train"]["n_contexts"] == 6
    assert result.metrics["twin"]["oracle"] == "gini"
    # the twin's own re-solve settings, as the CLI applies them; a caller's own are kept whole
    from fairtwin.runfolder import RunFolder

    assert ExperimentConfig.load(RunFolder(tmp_path / "run").config).resolve.mode == "guard"
    own = cfg.override(resolve={"blend_lambda": 5.0})
    run_pipeline(own, tmp_path / "own", scenario=sc)
    kept = ExperimentConfig.load(RunFolder(tmp_path / "own").config).resolve
    assert (kept.mode, kept.blend_lambda) == ("blend", 5.0)
    with pytest.raises(ValidationError, match="no variable 'dosis'"):
        twin_from_linopy(models, decision=["dosis"])


def test_a_linopy_model_with_an_extra_decision_variable_is_an_error() -> None:
    """A fifth district in the third model: named (it was silently no decision variable)."""
    import linopy
    import pandas as pd

    from fairtwin.linopy_twin import twin_from_linopy

    models = _linopy_models(3)
    idx = pd.Index(["north", "south", "east", "west", "centre"], name="district")
    m = linopy.Model()
    dose = m.add_variables(lower=0, upper=10, coords=[idx], name="dose", integer=True)
    m.add_constraints(dose.sum() <= 20, name="supply")
    m.add_objective(-1.0 * dose.sum())
    with pytest.raises(ValidationError, match=r"context 2: 'dose\(centre\)' is a decision "
                                              r"variable the first model lacks"):
        twin_from_linopy([*models[:2], m], decision=["dose"])


def test_the_vaccine_example_runs_end_to_end(tmp_path: Path) -> None:
    sc = load_twin_folder(EXAMPLE)
    assert sc.n_weeks == 104 and sc.twin.n_decision == 20
    assert sc.twin.categories == ("short", "enough")
    out = sc.twin.outcomes(sc.contexts[10])
    assert out.group_names == ("served", "per_1000", "delivery") and out.compared == ("served", "per_1000")
    result = CliRunner().invoke(cli, ["run", "--twin", str(EXAMPLE), "--train-weeks", "10",
                                      "--held-out-weeks", "6", "--pairs", "200", "--rounds", "1",
                                      "--jobs", "1", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert "short" in result.output and "pair accuracy" in result.output
    # the example's twin.toml asks for the guard re-solve ([resolve] mode = "guard") ...
    assert sc.twin.default_resolve == {"mode": "guard"}
    assert ExperimentConfig.load(tmp_path / "run" / "config.toml").resolve.mode == "guard"
    assert "guard re-solve" in result.output


def test_a_twins_own_resolve_settings_yield_to_the_users(doses: Path, tmp_path: Path) -> None:
    """``[resolve]`` in twin.toml fills only the settings the user did not set (flag or TOML)."""
    with open(doses / "twin.toml", "a") as fh:
        fh.write('[resolve]\nmode = "guard"\nblend_lambda = 7.0\n')
    args = ["sample", "--twin", str(doses), "--train-weeks", "4", "--held-out-weeks", "2",
            "--samples", "2", "--jobs", "1"]
    for extra, mode, lam in (([], "guard", 7.0), (["--mode", "blend"], "blend", 7.0),
                             (["--lambda", "2"], "guard", 2.0)):
        out = tmp_path / f"run-{len(extra)}-{mode}-{lam}"
        result = CliRunner().invoke(cli, [*args, *extra, "--out", str(out)])
        assert result.exit_code == 0, result.output
        saved = ExperimentConfig.load(out / "config.toml").resolve
        assert (saved.mode, saved.blend_lambda) == (mode, lam), extra
    cfg = tmp_path / "mine.toml"
    cfg.write_text('[resolve]\nmode = "select"\n')
    out = tmp_path / "run-toml"
    result = CliRunner().invoke(cli, [*args, "--config", str(cfg), "--out", str(out)])
    assert result.exit_code == 0, result.output
    saved = ExperimentConfig.load(out / "config.toml").resolve
    assert (saved.mode, saved.blend_lambda) == ("select", 7.0)


def test_the_vaccine_generator_writes_the_shipped_folder(tmp_path: Path) -> None:
    pytest.importorskip("linopy", reason="the generator needs the [linopy] extra (in dev)")
    import subprocess

    subprocess.run([sys.executable, str(EXAMPLE / "make_example.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True)
    for name in ("twin.toml", "contexts.csv", "outcomes.csv", "districts.csv"):
        assert (tmp_path / name).read_text() == (EXAMPLE / name).read_text(), name
    a, b = load_twin_folder(tmp_path), load_twin_folder(EXAMPLE)
    for k in (0, 50, 103):
        pa, pb = a.twin.build(a.contexts[k]), b.twin.build(b.contexts[k])
        np.testing.assert_array_equal(pa.c, pb.c)
        assert (pa.A != pb.A).nnz == 0


@pytest.fixture()
def doses_run(doses: Path, tmp_path: Path) -> Path:
    """A run folder of the doses twin with its samples (what `fairtwin serve --run` needs)."""
    from fairtwin.pipeline import sample_stage

    out = tmp_path / "doses-run"
    out.mkdir()
    cfg = ExperimentConfig().override(scenario={"twin_path": str(doses), "n_train": 4,
                                                "n_held_out": 2}, sampler={"n_samples": 4}, n_jobs=1)
    cfg.save(out / "config.toml")
    sample_stage(cfg, load_scenario(cfg)).save(out / "samples.npz")
    return out


def test_the_rating_page_shows_any_twins_outcomes(doses_run: Path, tmp_path: Path) -> None:
    from fairtwin.elicit.app import create_app
    from fairtwin.elicit.store import PreferenceStore
    from fairtwin.elicit.study import ElicitationStudy, OutcomePairView
    from test_elicit import form_of, login

    with __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("ignore")
        from starlette.testclient import TestClient
    store = PreferenceStore(tmp_path / "s.db")
    study = ElicitationStudy(store, doses_run, seed=0)
    rater, token = store.add_rater("gina")
    client = TestClient(create_app(study))
    login(client, token)
    page = client.get("/rate")
    assert page.status_code == 200
    for text in ("Decision A", "Decision B", "per_1000", "doses per 1000 people", "district 2",
                 "people without a dose", "nominal cost", "<svg"):
        assert text in page.text, text
    form = form_of(page.text)
    view = study.view(next(q for q in [store.query(int(form["query_id"]))] if q))
    assert isinstance(view, OutcomePairView) and [g.group for g in view.groups] == ["per_1000", "doses"]
    resp = client.post("/rate/answer", data={**form, "choice": "a", "response_ms": "500"},
                       follow_redirects=False)
    assert resp.status_code == 303 and store.n_answers(rater.id) == 1
    api = client.get("/api/next", headers={"authorization": f"Bearer {token}"})
    assert api.status_code == 200 and api.json()["groups"][0]["group"] == "per_1000"
    assert study.export().n_comparisons == 1


def test_browser_rates_a_folder_twin(doses_run: Path, tmp_path: Path) -> None:
    from test_elicit import CHROMIUM, CHROMIUM_ARGS, playwright_or_skip, serving

    sync_api = playwright_or_skip()

    from fairtwin.elicit.store import PreferenceStore
    from fairtwin.elicit.study import ElicitationStudy

    store = PreferenceStore(tmp_path / "live.db")
    study = ElicitationStudy(store, doses_run, seed=3)
    rater, token = store.add_rater("hugo")
    with serving(study) as base, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{base}/invite/{token}")
            page.click("#start")
            page.click("#begin")
            sync_api.expect(page.locator("h1")).to_contain_text("which decision is fairer?")
            sync_api.expect(page.locator("#decision-a h3").first).to_contain_text("per_1000")
            a_box = page.locator("#decision-a").bounding_box()
            b_box = page.locator("#decision-b").bounding_box()
            assert abs(a_box["y"] - b_box["y"]) < 1  # side by side
            page.wait_for_load_state("load")
            page.keyboard.press("b")
            sync_api.expect(page.locator("#progress")).to_have_text("1 answered")
            phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True,
                                     has_touch=True)
            phone.goto(f"{base}/invite/{token}")
            phone.click("#start")  # a rater with answers goes straight to the question
            sync_api.expect(phone.locator("#decision-a")).to_be_visible()
            sync_api.expect(phone.locator("#decision-b")).to_be_hidden()  # one tap away
            phone.click("#tab-b")
            sync_api.expect(phone.locator("#decision-b")).to_be_visible()
            for key in ("a", "b", "tie", "unsure"):
                box = phone.locator(f"#choose-{key}").bounding_box()
                assert box["y"] >= 0 and box["y"] + box["height"] <= 844, key
            assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        finally:
            browser.close()
    assert [a.choice for a in store.answers()] == ["b"]


_FILES = ("twin.toml", "contexts.csv", "outcomes.csv", "models/d01.lp")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_doses_twin(tmp_path_factory.mktemp("pristine") / "doses", n_contexts=4)


def _mutated(pristine: Path, where: Path, name: str, data: bytes) -> Path:
    folder = where / "f"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(pristine, folder)
    (folder / name).write_bytes(data)
    return folder


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=int(os.environ.get("FAIRTWIN_FUZZ_EXAMPLES", "40")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(_FILES), data=st.data())
def test_fuzzed_twin_folders_fail_only_with_a_named_file(pristine: Path, tmp_path: Path,
                                                         name: str, data: st.DataObject) -> None:
    """Random bytes, truncations and single-byte edits of each file of a valid twin folder: it
    loads, or fails with a TwinFolderError naming the file at fault (never another exception)."""
    original = (pristine / name).read_bytes()
    kind = data.draw(st.sampled_from(["random", "truncate", "edit"]))
    if kind == "random":
        blob = data.draw(st.binary(max_size=300))
    elif kind == "truncate":
        blob = original[: data.draw(st.integers(0, len(original)))]
    else:
        k = data.draw(st.integers(0, len(original) - 1))
        blob = original[:k] + bytes([data.draw(st.integers(0, 255))]) + original[k + 1:]
    folder = _mutated(pristine, tmp_path, name, blob)
    try:
        load_twin_folder(folder)
    except TwinFolderError as exc:
        assert str(folder) in str(exc), exc


@pytest.mark.parametrize("guard", [True, False], ids=["guard", "no-guard"])
def test_solve_shows_a_folder_twins_decision(tmp_path: Path, guard: bool,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 24, finding 10: `solve --twin` shows the decision variables' values (it showed the
    outcomes only; --json had them, with -0.0), and the guard only for a twin with one."""
    import json

    folder = write_doses_twin(tmp_path / "d", n_contexts=4, guard=guard)
    assert main(["solve", "--twin", str(folder), "--week", "3"]) == 0
    text = capsys.readouterr().out
    assert main(["solve", "--twin", str(folder), "--week", "3", "--json"]) == 0
    raw = capsys.readouterr().out
    data = json.loads(raw)
    decision = data["decision"]
    assert list(decision) == [f"dose_{i}" for i in range(4)]
    assert "-0.0" not in raw and "-0 " not in text
    assert "decision (4 variables, " in text
    for name, value in decision.items():  # every variable on its line, with the solver's value
        assert any(line.split() == [name, f"{value:g}"] for line in text.splitlines()), name
    doses = {o["name"]: o["value"] for o in data["outcomes"] if o["group"] == "doses"}
    assert [doses[f"district {i}"] for i in range(4)] == list(decision.values())
    assert ("people without a dose" in data) == guard
    assert ("people without a dose:" in text) == guard and "guarded quantity" not in raw + text


def test_a_large_decision_shows_its_non_zero_variables_first() -> None:
    from fairtwin.twin.base import decision_lines

    values = [0.0] * 30
    values[7], values[21] = 2.0, 0.5
    lines = decision_lines([f"x{k}" for k in range(30)], values)
    assert lines[0] == "decision (30 variables, 2 non-zero, the non-zero ones)"
    assert [line.split() for line in lines[1:3]] == [["x7", "2"], ["x21", "0.5"]]
    assert lines[-1].strip() == "(28 at 0)"
    assert len(decision_lines([f"x{k}" for k in range(5)], [0.0, 1.0, 0.0, 0.0, 0.0])) == 6


def test_check_twin_is_clean_on_the_example_and_an_exported_icu_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-twin", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1] == "clean" and "FAIL" not in out
    assert "3 of 104 contexts" in out and "every context's nominal problem" in out
    assert main(["export-twin", "--out", str(tmp_path / "icu"), "--weeks", "0,40,60"]) == 0
    capsys.readouterr()
    assert main(["check-twin", str(tmp_path / "icu"), "--contexts", "2"]) == 0
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1] == "clean" and "default oracle 'rosenbrock'" in out


def test_check_twin_lists_every_problem_of_a_folder_at_once(
        doses: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 24: check-twin reports every problem in one run (a run stops at the first)."""
    for breakage in ("bad_model", "other_decision", "missing_model", "orphan_model",
                     "unknown_variable", "bad_feature", "bad_resolve_key", "hook_import"):
        _break(doses, breakage)
    text = (doses / "models" / "d09.lp").read_text().replace("General", " dose_0 >= 1000\nGeneral")
    (doses / "models" / "d09.lp").write_text(text)
    toml = (doses / "twin.toml").read_text()
    (doses / "twin.toml").write_text(toml.replace('decision = ["dose_"]',
                                                  'decision = ["dose_", "dsoe_"]\ncolour = "red"'))
    with open(doses / "outcomes.csv", "a") as fh:  # a context column, and a term for no context
        fh.write("doses,district 0,dose_0,1,,x07\n")
    (doses / "outcomes.csv").write_text((doses / "outcomes.csv").read_text().replace(
        "group,name,variable,coefficient\n", "group,name,variable,coefficient,unit,context\n"))
    with pytest.raises(TwinFolderError):  # loading stops at the first
        load_twin_folder(doses)
    assert main(["check-twin", str(doses)]) == 1
    out = capsys.readouterr().out
    expected = ["twin.toml, column 'colour': unknown setting",
                "twin.toml, column 'decision': the prefix 'dsoe_' matches no variable",
                "d03.lp", "d05.lp: decision variable 'dose_2' is not in the model",
                "contexts.csv, line 9, column 'id': context 'd07' has no model file",
                "extra.lp: a model file without a context",
                "outcomes.csv, line 3: outcome per_1000/district 1 names 'short_1'",
                "outcomes.csv, line 10, column 'context': 'x07' is not a context id",
                "contexts.csv, line 4, column 'supply'",
                "twin.toml, column 'resolve.lambda'",
                "context 'day 9': its nominal problem has no solution",
                "cannot import the module of twin hook 'no_such_module_xyz:extend'"]
    fails = [line for line in out.splitlines() if line.startswith("  FAIL ")]
    for text in expected:
        assert sum(text in line for line in fails) == 1, (text, out)
    assert len(fails) == len(expected) and out.strip().endswith(f"{len(expected)} problems"), out


def test_check_twin_takes_a_python_twin(doses: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """``module:object`` (a Scenario, a Twin with contexts, or a function returning one) or the
    object itself; what is no twin, or cannot be imported, is one problem, not a traceback."""
    (tmp_path / "my_twins.py").write_text(
        "from fairtwin.folder import load_twin_folder\n"
        f"scenario = load_twin_folder({str(doses)!r})\n"
        "twin = scenario.twin\n"
        "def make():\n    return scenario\n"
        "not_a_twin = 3\n"
        "def broken():\n    raise RuntimeError('no data')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for spec in ("my_twins:scenario", "my_twins:twin", "my_twins:make"):
        report = check_twin(spec)
        assert report.clean and report.name == "doses", (spec, report.problems)
    assert check_twin(load_twin_folder(doses), n_contexts=12).checked[-3].startswith("12 of 12")
    for spec, said in (("my_twins:not_a_twin", "is a int, not a fairtwin Twin"),
                       ("my_twins:broken", "my_twins:broken raised RuntimeError: no data"),
                       ("no_such_module_xyz:t", "cannot import the module"),
                       ("nowhere", "neither a twin folder nor package.module:object")):
        report = check_twin(spec)
        assert [said in p for p in report.problems] == [True], (spec, report.problems)


def test_the_twin_says_what_is_required_and_which_capabilities_it_has(
        doses: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 24: the narrow interface in code: REQUIRED members, optional CAPABILITIES; a twin
    says which it has (the ICU twin all, a folder twin those its files give); check-twin lists
    them, and names the required members a Python twin lacks."""
    from fairtwin.twin import get_scenario
    from fairtwin.twin.base import CAPABILITIES, REQUIRED, Twin, missing_required

    assert REQUIRED == ("decision_names", "build", "complete", "outcomes")
    assert get_scenario().twin.capabilities() == tuple(CAPABILITIES)
    lines = check_twin(doses).checked
    assert lines[-1] == ("capabilities: guard (people without a dose); presentation "
                         "(fairtwin's generic ones for: categories, sampler targets, oracle-bound "
                         "moves, notions, folder hooks, settings)"), lines
    no_guard = write_doses_twin(tmp_path / "plain", n_contexts=4, guard=False)
    assert check_twin(no_guard).checked[-1].startswith(
        "capabilities: presentation (fairtwin's generic ones for: guard")

    class Half(Twin):
        def build(self, context):  # type: ignore[no-untyped-def]
            raise NotImplementedError

    assert missing_required(Half) == ["decision_names", "complete", "outcomes"]
    (tmp_path / "half_twin.py").write_text(
        "from fairtwin.twin import Twin\n"
        "class Half(Twin):\n    def build(self, context): ...\n"
        "class Duck:\n    def build(self, context): ...\n    def outcomes(self, context): ...\n"
        "duck = Duck()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert check_twin("half_twin:Half").problems == [
        "half_twin:Half is the twin class Half, which lacks the required decision_names, "
        "complete, outcomes: name an instance of it, or a function returning one"]
    [said] = check_twin("half_twin:duck").problems
    assert said.endswith("implements decision_names, build, complete, outcomes (it lacks "
                         "decision_names, complete)"), said


def test_the_python_route_takes_ids_per_context_outcomes_and_one_naming(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """Issue 24, finding 9: ``ids=``; per-context coefficients in the dict form of
    ``outcomes=`` (a list, one per model) or as rows naming a context; ``decision=["dose"]`` and
    ``["dose("]`` mean the same to both functions; the writers print nothing."""
    from fairtwin.linopy_twin import twin_from_linopy, write_twin_folder

    models = _linopy_models(3)
    ids = ["mon", "tue", "wed"]
    per_context = [{"per_staff": {d: {f"dose({d})": 1.0 / (k + 1)} for d in ("north", "south")}}
                   for k in range(3)]
    capfd.readouterr()
    sc = twin_from_linopy(models, decision=["dose"], guard=["short("], ids=ids,
                          outcomes=per_context, outcome_rows=[("total", "all", "dose(east)", 2.0,
                                                                "doses", "tue")])
    folder = write_twin_folder(models, tmp_path / "f", decision=["dose"], guard=["short"],
                               name="f", ids=ids, outcomes=per_context,
                               outcome_rows=[("total", "all", "dose(east)", 2.0, "doses", "tue")])
    printed = capfd.readouterr()
    assert printed.out == "" and "Writing the model" not in printed.err, printed
    assert [c.data["id"] for c in sc.contexts] == ids
    assert sorted(p.name for p in (folder / "models").iterdir()) == ["mon.mps", "tue.mps", "wed.mps"]
    back = load_twin_folder(folder)
    assert back.twin.decision_names == sc.twin.decision_names == twin_from_linopy(
        models, decision=["dose("]).twin.decision_names
    for k in range(3):
        mine, theirs = sc.twin.outcomes(sc.contexts[k]), back.twin.outcomes(back.contexts[k])
        assert mine.names == theirs.names and mine.groups == theirs.groups
        np.testing.assert_allclose(mine.matrix, theirs.matrix)
        assert mine.matrix[0, 0] == pytest.approx(1.0 / (k + 1))  # each context its own
        assert ("total" in mine.groups) == (ids[k] == "tue")
    assert back.twin.guard_row(back.twin.build(back.contexts[0])) is not None
    with pytest.raises(ValidationError, match="outcomes has 2 entries for 3 models"):
        twin_from_linopy(models, decision=["dose"], outcomes=per_context[:2])
    with pytest.raises(ValidationError, match="ids must be distinct"):
        twin_from_linopy(models, decision=["dose"], ids=["a", "a", "b"])
    with pytest.raises(ValidationError, match="'thu', which is not a context id"):
        twin_from_linopy(models, decision=["dose"], ids=ids,
                         outcome_rows=[("g", "x", "dose(east)", 1.0, "", "thu")])


def test_an_installed_package_registers_a_scenario_by_name(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The entry-point group ``fairtwin.scenarios``: a package's scenario is found by name by
    ``get_scenario``, the pipeline and the CLI (a distribution written here, as pip would)."""
    from fairtwin.pipeline import ExperimentConfig, load_scenario
    from fairtwin.twin import get_scenario

    site = tmp_path / "site"
    (site / "doses_plugin-0.1.dist-info").mkdir(parents=True)
    (site / "doses_plugin-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: doses-plugin\nVersion: 0.1\n")
    (site / "doses_plugin-0.1.dist-info" / "entry_points.txt").write_text(
        "[fairtwin.scenarios]\ndoses-days = doses_plugin:scenario\nbroken = doses_plugin:nothing\n")
    folder = write_doses_twin(tmp_path / "doses", n_contexts=6)
    (site / "doses_plugin.py").write_text(
        "from fairtwin.folder import load_twin_folder\n"
        f"def scenario(seed=0):\n    return load_twin_folder({str(folder)!r})\n"
        "nothing = 42\n")
    monkeypatch.syspath_prepend(str(site))
    sc = get_scenario("doses-days")
    assert sc.twin.n_decision == 4 and len(sc.contexts) == 6
    cfg = ExperimentConfig().override(scenario={"name": "doses-days", "n_train": 3,
                                                "n_held_out": 3}, labels={"oracle": "gini"})
    assert load_scenario(cfg).name == sc.name
    with pytest.raises(UnknownNameError, match="'doses-days', 'broken'"):
        get_scenario("nope")
    with pytest.raises(ValidationError, match="scenario 'broken' .* gave a int, not a fairtwin Scenario"):
        get_scenario("broken")
    code, err = _exit_and_message(["solve", "--scenario", "doses-days", "--week", "2"], capsys)
    assert code == 0, err


def test_generic_flag_names_for_contexts(doses: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """A user's twin has contexts, not weeks: --train-contexts, --held-out-contexts and
    --context name the same settings as the ICU twin's --train-weeks, --held-out-weeks, --week."""
    code, err = _exit_and_message(["sample", "--twin", str(doses), "--train-contexts", "4",
                                   "--held-out-contexts", "3", "--samples", "2", "--jobs", "1",
                                   "--out", str(tmp_path / "s")], capsys)
    assert code == 0, err
    saved = ExperimentConfig.load(tmp_path / "s" / "config.toml").scenario
    assert (saved.n_train, saved.n_held_out) == (4, 3)
    code, err = _exit_and_message(["solve", "--twin", str(doses), "--context", "2"], capsys)
    assert code == 0, err
