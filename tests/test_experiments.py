"""Experiments: every study end to end on a tiny grid, the CSV schema, the reports, resuming,
refusing foreign folders, the statistics, and the Dask path against the serial path.

The tiny grid runs the real pipeline (italy-synthetic, 2 training + 2 held-out weeks, a few
samples and epochs) so the whole ``paper`` study takes well under a minute.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from fairtwin.cli import main
from fairtwin.exceptions import ClusterError, ExperimentFolderError, UnknownNameError, ValidationError
from fairtwin.experiments import (
    STUDIES,
    ExperimentFolder,
    StudySettings,
    active_labels,
    build_specs,
    connect,
    run_experiment,
)
from fairtwin.experiments.report import CSV_FIRST, estimate, paired
from fairtwin.pipeline import ExperimentConfig, LabelConfig

TIMING = ("t_label_s", "t_train_s", "t_resolve_s", "t_evaluate_s")


def tiny_base() -> ExperimentConfig:
    return ExperimentConfig().override(
        scenario={"n_train": 2}, sampler={"n_samples": 3},
        learner={"n_components": 4, "max_epochs": 10, "hidden": (8,)},
        resolve={"time_limit_s": 5.0}, n_jobs=1,
    )


def tiny_settings(**kw: object) -> StudySettings:
    values = dict(seeds=(0,), pairs=(6, 10), noise=(0.0, 0.3), components=(2, 0), pca_pairs=6,
                  n_seeds_distribution=2, distribution_pairs=10, lambdas=(1.0, 3.0),
                  baseline_pairs=10)
    values.update(kw)
    return StudySettings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def paper(tmp_path_factory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("paper")
    result = run_experiment("paper", tiny_base(), tiny_settings(), out=root / "out",
                            n_jobs=2, cache_dir=root / "cache", docs=root / "docs" / "results.md")
    return root, result


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_paper_runs_every_study_and_writes_its_results(paper) -> None:  # type: ignore[no-untyped-def]
    root, result = paper
    specs = build_specs("paper", tiny_base(), tiny_settings())
    assert set(result.tables) == set(STUDIES) - {"paper"}
    assert result.timing["runs_done"] == result.timing["runs_total"] > 0
    for study, group in specs.items():
        folder = root / "out" / study
        rows = read_csv(folder / "results.csv")
        assert len(rows) == sum(len(s.variants) for s in group)  # one row per config × seed
        assert list(rows[0])[:1] == ["study"] and {"seed", "method"} <= set(rows[0])
        assert read_csv(folder / "weeks.csv")
        assert list(folder.glob("*.png")), f"{study} wrote no plot"
        report = (folder / "report.md").read_text()
        assert report.startswith("## Study `" + study)
        assert "Partial" not in report
    docs = (root / "docs" / "results.md").read_text()
    assert "fairtwin experiment paper" in docs and "Where we agree and disagree" in docs
    for png in (root / "docs" / "results").glob("*.png"):
        assert f"(results/{png.name})" in docs


def test_results_csv_schema(paper) -> None:  # type: ignore[no-untyped-def]
    root, _ = paper
    rows = read_csv(root / "out" / "table1" / "results.csv")
    header = list(rows[0])
    assert header[:4] == ["study", "variant", "pairs", "noise"]
    assert header[4:6] == list(CSV_FIRST[1:])
    for col in ("wins_train", "weeks_train", "wins_overloaded_train", "median_dR_train",
                "dR_ratio_train", "mean_dJ_train", "mean_dJ_overflow_equiv_train",
                "true_accuracy_train", "train_accuracy", "n_pairs", "n_parameters", *TIMING):
        assert col in header, col
    assert {(r["variant"], int(r["pairs"]), float(r["noise"])) for r in rows} == {
        (v, p, n) for v in ("random", "active", "outcomes") for p in (6, 10) for n in (0.0, 0.3)}
    for r in rows:
        assert 0 <= int(r["wins_train"]) <= int(r["weeks_train"]) == 2
        # the budget includes active rounds; a round skips a week whose re-solve is the nominal
        if r["variant"] != "active":
            assert int(r["pairs"]) - 3 <= int(r["n_pairs"]) <= int(r["pairs"])  # distinct pairs
        else:
            assert int(r["pairs"]) - 2 <= int(r["n_pairs"]) <= int(r["pairs"])
        assert (int(r["rounds"]) >= 1) == (r["variant"] == "active")
        assert 0 <= int(r["wins_held_out"]) <= int(r["weeks_held_out"]) == 2  # held out too
    learned = {(r["variant"], r["pairs"], r["noise"]): r for r in rows}
    for (variant, p, n), r in learned.items():  # the default learner on the paper's own pairs
        if variant == "outcomes":
            assert r["n_pairs"] == learned[("random", p, n)]["n_pairs"]
            assert int(r["n_parameters"]) < int(learned[("random", p, n)]["n_parameters"])
    base = read_csv(root / "out" / "baselines" / "results.csv")
    methods = {r["baseline"]: r for r in base}
    assert set(methods) == {"full", "guard", "replace", "select", "linear", "diagonal",
                            "no-context", "logistic", "active", "nominal", "oracle",
                            "outcomes-guard", "outcomes-blend", "outcomes-select"}
    for name in ("select", "outcomes-select", "outcomes-guard"):  # overflow held at nominal
        assert float(methods[name]["max_overflow_rise_train"]) <= 1e-6
    assert int(methods["nominal"]["wins_train"]) == 0
    assert float(methods["oracle"]["dR_ratio_train"]) == pytest.approx(1.0) or \
        float(methods["oracle"]["mean_dR_train"]) == 0
    assert int(methods["linear"]["n_parameters"]) < int(methods["diagonal"]["n_parameters"]) \
        < int(methods["full"]["n_parameters"])
    pca = {r["r"]: r for r in read_csv(root / "out" / "pca" / "results.csv")}
    assert set(pca) == {"2", "none"} and pca["none"]["wins_held_out"] != ""


def test_studies_share_runs_and_seed_data(paper) -> None:  # type: ignore[no-untyped-def]
    root, _ = paper
    specs = [s for g in build_specs("paper", tiny_base(), tiny_settings()).values() for s in g]
    keys = {s.key for s in specs}
    assert len(keys) < len(specs)  # e.g. nominal/oracle rows of tradeoff and baselines
    assert len(list((root / "out" / "runs").glob("*.json"))) == len(keys)
    record = json.loads(next((root / "out" / "runs").glob("*.json")).read_text())
    assert record["environment"]["packages"]["numpy"] == np.__version__  # what produced it
    # seed data: one samples file per seed (0 and 1 for the seeds study), one latent file each
    assert len(list((root / "cache").glob("samples-*.npz"))) == 2
    assert len(list((root / "cache").glob("latent-*.npz"))) == 2


def test_rerun_resumes_without_recomputing(paper) -> None:  # type: ignore[no-untyped-def]
    root, _ = paper
    before = (root / "out" / "table1" / "results.csv").read_text()
    again = run_experiment("paper", tiny_base(), tiny_settings(), out=root / "out", n_jobs=1,
                           cache_dir=root / "cache", docs=root / "docs" / "results.md")
    assert again.timing["runs_done"] == 0
    assert (root / "out" / "table1" / "results.csv").read_text() == before


def test_an_interrupted_run_is_completed_and_stale_files_removed(paper, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    root, _ = paper
    out = tmp_path / "out"
    shutil.copytree(root / "out", out)
    runs = sorted((out / "runs").glob("*.json"))
    specs = build_specs("pca", tiny_base(), tiny_settings())["pca"]
    victim = out / "runs" / f"{specs[0].key}.json"
    victim.unlink()  # as if killed before this run was saved
    (out / "runs" / f".{specs[1].key}.json.abc123").write_text('{"half": ')  # a killed write
    # the folder is the paper's: asking for the pca study alone there is refused
    with pytest.raises(ExperimentFolderError, match="holds results of study 'paper', not 'pca'"):
        run_experiment("pca", tiny_base(), tiny_settings(), out=out, cache_dir=root / "cache")
    result = run_experiment("paper", tiny_base(), tiny_settings(), out=out, n_jobs=1,
                            cache_dir=root / "cache", docs=tmp_path / "results.md")
    assert result.timing["runs_done"] == 1
    assert victim.exists() and not list((out / "runs").glob(".*"))
    assert len(list((out / "runs").glob("*.json"))) == len(runs)


def test_foreign_folders_are_refused(tmp_path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ExperimentFolderError, match="not a fairtwin experiment folder"):
        ExperimentFolder(tmp_path, "pca", [], {})
    assert (tmp_path / "notes.txt").read_text() == "mine"  # nothing lost


def test_report_only_marks_a_partial_study(tmp_path) -> None:
    result = run_experiment("pca", tiny_base(), tiny_settings(), out=tmp_path / "o", run=False)
    text = (tmp_path / "o" / "pca" / "report.md").read_text()
    assert "No run has finished yet" in text and "Partial: 2 run(s)" in text
    assert result.timing["runs_total"] == 2


def test_same_seed_same_numbers(paper, tmp_path) -> None:  # type: ignore[no-untyped-def]
    root, _ = paper
    result = run_experiment("pca", tiny_base(), tiny_settings(), out=tmp_path / "o", n_jobs=1,
                            cache_dir=root / "cache")
    mine = read_csv(tmp_path / "o" / "pca" / "results.csv")
    theirs = read_csv(root / "out" / "pca" / "results.csv")
    assert result.timing["runs_done"] == 2
    strip = lambda rows: [{k: v for k, v in r.items() if k not in TIMING} for r in rows]  # noqa: E731
    assert strip(mine) == strip(theirs)


def test_dask_cluster_matches_the_serial_run(paper, tmp_path) -> None:  # type: ignore[no-untyped-def]
    distributed = pytest.importorskip("distributed", reason="the [cluster] extra is not installed")
    root, _ = paper
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        result = run_experiment("tradeoff", tiny_base(), tiny_settings(), out=tmp_path / "o",
                                cluster=cluster.scheduler_address, cache_dir=root / "cache")
    assert result.timing["runs_done"] == 3
    strip = lambda rows: [{k: v for k, v in r.items() if k not in TIMING} for r in rows]  # noqa: E731
    key = lambda r: (r["method"], r["lambda"], r["seed"])  # noqa: E731
    mine = sorted(strip(read_csv(tmp_path / "o" / "tradeoff" / "results.csv")), key=key)
    serial = sorted(strip(read_csv(root / "out" / "tradeoff" / "results.csv")), key=key)
    assert mine == serial


def test_an_unreachable_cluster_is_a_clear_error() -> None:
    pytest.importorskip("distributed", reason="the [cluster] extra is not installed")
    with pytest.raises(ClusterError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        connect("tcp://127.0.0.1:9", timeout_s=1.0)
    with pytest.raises(ValidationError, match="not of the form tcp://host:port"):
        connect("http://example.org/x")


def test_active_labels_fit_the_budget() -> None:
    labels = LabelConfig(challenge=False)
    a = active_labels(labels, 1344, 52, 0.35, 3)
    assert (a.rounds, a.n_best, a.n_pairs) == (3, 2, 1344)
    assert a.n_random(52) == 1344 - 3 * 3 * 52
    c = active_labels(LabelConfig(), 1344, 52, 0.35, 3)  # a challenge asks one more a week
    assert (c.rounds, c.n_best, c.challenge) == (2, 2, True)
    assert c.n_random(52) == 1344 - 2 * 4 * 52
    b = active_labels(labels, 224, 52, 0.35, 3)  # a 3-pair round does not fit: n_best drops to 0
    assert (b.rounds, b.n_best) == (1, 0) and b.n_random(52) == 224 - 52
    with pytest.raises(ValidationError, match="raise the pairs or active_share"):
        active_labels(labels, 100, 52, 0.35, 3)


def test_settings_validate_and_load_from_toml(tmp_path) -> None:
    with pytest.raises(ValidationError, match="noise"):
        StudySettings(noise=(0.0, 0.7))
    with pytest.raises(UnknownNameError, match="'random', 'active'"):
        StudySettings(variants=("random", "greedy"))
    with pytest.raises(UnknownNameError, match="unknown study 'paperz'"):
        build_specs("paperz", tiny_base(), tiny_settings())
    (tmp_path / "s.toml").write_text("[study]\nseeds = [3, 4]\npairs = [448]\n")
    s = StudySettings.load(tmp_path / "s.toml")
    assert s.seeds == (3, 4) and s.pairs == (448,) and s.noise == StudySettings().noise
    (tmp_path / "bad.toml").write_text("[study]\nseedz = [3]\n")
    with pytest.raises(ValidationError, match="unknown study setting"):
        StudySettings.load(tmp_path / "bad.toml")
    assert StudySettings.from_dict(s.to_dict()) == s


def test_estimates_and_paired_differences() -> None:
    x = [40.0, 44.0, 47.0, 43.0, 46.0]
    e = estimate(x)
    low, high = stats.t.interval(0.95, len(x) - 1, loc=np.mean(x), scale=stats.sem(x))
    assert (e.mean, e.n) == (np.mean(x), 5)
    assert e.low == pytest.approx(low) and e.high == pytest.approx(high)
    rows = [{"seed": s, "c": "a", "w": 50 + s} for s in range(4)] + \
        [{"seed": s, "c": "b", "w": 40 + s} for s in range(1, 5)]
    a, b, d = paired(rows, "w", {"c": "a"}, {"c": "b"})
    assert (a.n, b.n, d.n) == (4, 4, 3) and d.mean == pytest.approx(10.0)
    assert estimate([]).fmt() == "–" and estimate([3.0]).fmt() == "3.0"


def test_cli_experiment(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["experiment", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in STUDIES)
    assert main(["experiment", "tabel1"]) == 2
    assert "unknown study 'tabel1'; allowed values: 'table1'" in capsys.readouterr().err
    assert main(["experiment", "pca", "--grid", "pairz=1"]) == 2
    assert "unknown grid setting 'pairz'" in capsys.readouterr().err
    assert main(["experiment", "pca", "--grid", "noise=a"]) == 2
    assert "'a' is not a valid float" in capsys.readouterr().err
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("x")
    assert main(["experiment", "pca", "--out", str(tmp_path / "x"), "--report-only"]) == 1
    assert "not a fairtwin experiment folder" in capsys.readouterr().err
    cfg = tmp_path / "c.toml"
    cfg.write_text('seed = 0\n[scenario]\nn_train = 2\n[study]\nseeds = [0]\ncomponents = [2]\n')
    assert main(["experiment", "pca", "--config", str(cfg), "--out", str(tmp_path / "p"),
                 "--report-only"]) == 0
    manifest = json.loads((tmp_path / "p" / "experiment.json").read_text())
    assert manifest["description"]["settings"]["components"] == [2]
    assert manifest["description"]["base"]["scenario"]["n_train"] == 2
