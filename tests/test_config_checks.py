"""Configuration checks live in :class:`~fairtwin.pipeline.ExperimentConfig` and its sections, so
that a Python user of :func:`~fairtwin.pipeline.run_pipeline` gets the same one-line error as a
user of ``fairtwin run``, before anything runs or is written (issue 22)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from fairtwin.cli import main
from fairtwin.exceptions import FairtwinError
from fairtwin.pipeline import ExperimentConfig, run_pipeline

SMALL_CLI = ["--train-weeks", "2", "--held-out-weeks", "1", "--samples", "2", "--pairs", "20",
             "--rounds", "0", "--jobs", "1"]
SMALL = {"scenario": {"n_train": 2, "n_held_out": 1}, "sampler": {"n_samples": 2},
         "labels": {"n_pairs": 20, "rounds": 0}, "n_jobs": 1}

#: a mistake as CLI options, as configuration changes, and a piece of the expected message
CASES: dict[str, tuple[list[str], dict[str, Any], str]] = {
    "unknown oracle": (["--oracle", "nope"], {"labels": {"oracle": "nope"}},
                       "unknown oracle 'nope'"),
    "oracle not importable": (["--oracle", "nomodule_x:f"], {"labels": {"oracle": "nomodule_x:f"}},
                              "cannot import the module of oracle"),
    "unknown outcome group": (["--oracle", "gini:nogroup"], {"labels": {"oracle": "gini:nogroup"}},
                              "unknown outcome group of oracle"),
    "unknown solver": (["--solver", "nope"], {"resolve": {"solver": "nope"}},
                       "unknown solver 'nope'"),
    "uninstalled solver": (["--solver", "gurobi"], {"resolve": {"solver": "gurobi"}},
                           "pip install 'fairtwin[gurobi]'"),
    "no workers": (["--jobs", "0"], {"n_jobs": 0}, "n_jobs must be a number of parallel workers"),
    "negative seed": (["--seed", "-1"], {"seed": -1}, "seed must be non-negative, got -1"),
    "negative scenario seed": (["--scenario-seed", "-1"], {"scenario": {"seed": -1}},
                               "the scenario's seed must be non-negative"),
    "flip rate": (["--noise", "0.7"], {"labels": {"noise": 0.7}},
                  "noise must lie in [0, 0.5] (the flip rater's flip rate), got 0.7"),
    "temperature": (["--rater", "logistic", "--noise", "-1"],
                    {"labels": {"rater": "logistic", "noise": -1.0}},
                    "noise must be non-negative (the logistic rater's temperature"),
    "pair budget": (["--pairs", "5", "--rounds", "2"], {"labels": {"n_pairs": 5, "rounds": 2}},
                    "leaves no random pairs"),
}


def _python_error(changes: dict[str, Any], out: Path) -> str:
    with pytest.raises(FairtwinError) as info:
        config = ExperimentConfig().override(**SMALL)
        for name, value in changes.items():
            config = config.override(**{name: value})
        run_pipeline(config, out)
    return str(info.value)


@pytest.mark.parametrize("case", list(CASES))
def test_python_users_get_the_clis_one_line_error(case: str, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    args, changes, expected = CASES[case]
    if case == "uninstalled solver" and importlib.util.find_spec("gurobipy") is not None:
        pytest.skip("gurobipy is installed here")
    code = main(["run", *SMALL_CLI, *args, "--out", str(tmp_path / "cli")])
    lines = capsys.readouterr().err.strip().splitlines()
    err = lines[-1]  # the stage timings the run printed before, if any, then one line
    assert code in (1, 2), lines
    assert err.startswith("error: ") and "Traceback" not in "".join(lines), lines
    assert all(line.startswith("  ") or line.split()[0] == "scenario" for line in lines[:-1]), lines
    python = _python_error(changes, tmp_path / "python")
    assert expected in python
    assert err == f"error: {python}"
    assert not (tmp_path / "python").exists()  # checked before the run folder is made


def test_the_oracle_of_a_builtin_scenario_is_checked_before_it_loads() -> None:
    """Without a scenario, a built-in scenario's notion is checked against the ICU twin's and the
    generic ones (the CLI says a wrong name before it downloads italy-dpc); a user's twin is
    checked only once it is given."""
    config = ExperimentConfig().override(scenario={"name": "italy-dpc"}, labels={"oracle": "nope"})
    with pytest.raises(FairtwinError, match="unknown oracle 'nope'.*'gini-travel'"):
        config.check()
    ExperimentConfig().override(scenario={"name": "someones-plugin"},
                                labels={"oracle": "their-own"}).check()
    ExperimentConfig().override(labels={"oracle": "gini:load_gap"}).check()  # a known base


def test_a_toml_file_names_itself_in_the_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("seed = 3\n[labels]\nnoise = 0.9\n")
    with pytest.raises(FairtwinError, match=r"bad.toml \[labels\]: noise must lie in \[0, 0.5\]"):
        ExperimentConfig.load(path)


@pytest.mark.parametrize("oracle", ["nope", "gini:nogroup"])
def test_a_folder_twins_names_are_checked_alike(oracle: str, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A twin folder's own notions and outcome groups: the same line from both routes."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from twin_folders import write_doses_twin

    folder = write_doses_twin(tmp_path / "doses", n_contexts=5)
    code = main(["run", "--twin", str(folder), "--oracle", oracle, "--train-weeks", "3",
                 "--held-out-weeks", "2", "--out", str(tmp_path / "cli")])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2 and "unknown" in err, err
    changes = {"scenario": {"twin_path": str(folder), "n_train": 3, "n_held_out": 2},
               "labels": {"oracle": oracle}}
    assert err == f"error: {_python_error(changes, tmp_path / 'python')}"
    assert not (tmp_path / "python").exists()


def test_an_experiment_checks_its_configurations_before_the_seed_data(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``run_experiment`` (and so ``fairtwin experiment``) checks each configuration like a run:
    an uninstalled solver is one line before any seed data or folder is made."""
    from fairtwin.exceptions import SolverUnavailableError
    from fairtwin.experiments import run_experiment

    if importlib.util.find_spec("gurobipy") is not None:
        pytest.skip("gurobipy is installed here")
    base = ExperimentConfig().override(scenario={"n_train": 2, "n_held_out": 1},
                                       resolve={"solver": "gurobi"})
    with pytest.raises(SolverUnavailableError, match=r"fairtwin\[gurobi\]"):
        run_experiment("table1", base, out=tmp_path / "python")
    assert not (tmp_path / "python").exists()
    cfg = tmp_path / "study.toml"
    cfg.write_text('[resolve]\nsolver = "gurobi"\n')
    code = main(["experiment", "table1", "--config", str(cfg), "--train-weeks", "2",
                 "--out", str(tmp_path / "cli")])
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.startswith("error: ") and "fairtwin[gurobi]" in err, err
    assert not (tmp_path / "cli").exists()
