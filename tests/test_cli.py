"""The CLI: tables and JSON for `solve`, the scenario list, and user errors printed as one
line without a traceback and a non-zero exit status."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fairtwin.cli import main
from tests.conftest import write_dpc_csv


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_solve_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "solve", "--week", "40")
    assert code == 0, err
    assert "Lombardia" in out and "P.A. Trento" in out
    assert "nominal cost J =" in out and "solver highs: optimal" in out
    assert "load0" in out and "beds+" in out


def test_solve_json_is_pure_json() -> None:
    """Run as a real subprocess: no solver banner may reach stdout."""
    proc = subprocess.run(
        [sys.executable, "-m", "fairtwin.cli", "solve", "--week", "40", "--json"],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    assert payload["week"] == 40 and len(payload["regions"]) == 21
    assert payload["solver"]["status"] == "optimal"
    total = payload["cost"]
    assert total["total"] == pytest.approx(total["overflow"] + total["transfer"] + total["deploy"])
    over_before = sum(r["overflow_before"] for r in payload["regions"])
    assert over_before > 0  # week 40 is overloaded
    assert sum(r["deployed"] for r in payload["regions"]) <= payload["pool"]


@pytest.mark.parametrize("solver", ["scip", "highs-oa"])
def test_solve_other_solvers_agree(capsys: pytest.CaptureFixture[str], solver: str) -> None:
    _, out_h, _ = run(capsys, "solve", "--week", "40", "--json")
    code, out_s, err = run(capsys, "solve", "--week", "40", "--json", "--solver", solver)
    assert code == 0, err
    assert json.loads(out_s)["cost"]["total"] == pytest.approx(
        json.loads(out_h)["cost"]["total"], rel=1e-4
    )


def test_scenarios_lists_weeks(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIRTWIN_CACHE", str(tmp_path / "empty-cache"))
    code, out, _ = run(capsys, "scenarios")
    assert code == 0
    assert "italy-synthetic" in out and "--week 0..103" in out
    assert "not cached yet" in out
    data = write_dpc_csv(tmp_path / "d.csv")
    code, out, _ = run(capsys, "scenarios", "--data", str(data))
    assert "weeks: 2 (--week 0..1)" in out


def test_solve_dpc_from_path(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = write_dpc_csv(tmp_path / "d.csv")
    code, out, err = run(capsys, "solve", "--scenario", "italy-dpc", "--data", str(data),
                         "--week", "1")
    assert code == 0, err
    assert "week 1 (2020-03-09)" in out


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["solve", "--week", "104"], 2, "unknown week of scenario 'italy-synthetic' 104; "
                                        "allowed values: '0..103'"),
        (["solve", "--week", "1", "--solver", "cplex"], 2,
         "unknown solver 'cplex'; allowed values: 'highs', 'highs-oa', 'scip', 'gurobi'"),
        (["solve", "--week", "1", "--scenario", "france"], 2,
         "unknown scenario 'france'; allowed values: 'italy-synthetic', 'italy-dpc'"),
        (["solve"], 2, "Missing option '--week'"),
        (["solve", "--week", "x"], 2, "'x' is not a valid integer"),
    ],
)
def test_usage_errors(capsys: pytest.CaptureFixture[str], args: list[str], status: int,
                      message: str) -> None:
    code, out, err = run(capsys, *args)
    assert code == status
    assert message in err
    assert "Traceback" not in err + out


def test_malformed_file_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = write_dpc_csv(tmp_path / "d.csv", n_days=7)
    data.write_text(data.read_text().replace(",03,Lombardia", ",33,Lombardia"))
    code, _, err = run(capsys, "solve", "--scenario", "italy-dpc", "--data", str(data),
                       "--week", "0")
    assert code == 1
    assert f"error: {data}, line 4, column 'codice_regione': unknown region 33" in err


def test_infeasible_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cfg = tmp_path / "strict.toml"
    cfg.write_text("[twin]\nmax_overflow = 0.0\ntransfer_share = 0.0\npool_share = 0.0\n")
    code, _, err = run(capsys, "solve", "--week", "40", "--config", str(cfg))
    assert code == 1
    assert "error: the model of week 40 (2020-12-07) is infeasible; constraint group(s): " \
           "capacity" in err
    assert "Traceback" not in err


def test_subprocess_error_has_no_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "fairtwin.cli", "solve", "--week", "999"],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "allowed values" in proc.stderr


def test_inputs_that_used_to_end_in_a_traceback(capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path) -> None:
    binary = tmp_path / "program.bin"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00\xff\xfe\x00" * 64)
    assert main(["solve", "--scenario", "italy-dpc", "--data", str(binary), "--week", "1"]) == 1
    err = capsys.readouterr().err
    assert "program.bin, line 1: not UTF-8 text" in err and "Traceback" not in err
    nul = tmp_path / "nul.csv"
    nul.write_text("data,stato\n2020-03-02\x00,ITA\n")
    assert main(["solve", "--scenario", "italy-dpc", "--data", str(nul), "--week", "1"]) == 1
    assert "nul.csv, line 2: contains NUL bytes" in capsys.readouterr().err
    toml = tmp_path / "bad.toml"
    toml.write_text('[twin]\npool_share = "lots"\n')
    assert main(["solve", "--week", "1", "--config", str(toml)]) == 2
    assert "bad.toml [twin]: pool_share must be a number, got 'lots'" in capsys.readouterr().err
    toml.write_text('[labels]\nn_pairs = 12.5\n')
    assert main(["run", "--out", str(tmp_path / "r"), "--config", str(toml)]) == 2
    assert "bad.toml [labels]: n_pairs must be an integer, got 12.5" in capsys.readouterr().err
    out = tmp_path / "run"
    assert main(["sample", "--out", str(out), "--train-weeks", "2", "--samples", "2",
                 "--jobs", "1", "--scenario", "italy-synthetic"]) == 0
    good = (out / "samples.npz").read_bytes()
    half = tmp_path / "half.npz"
    half.write_bytes(good[: len(good) // 2])
    capsys.readouterr()
    assert main(["train", "--out", str(out), "--dataset", str(half), "--rounds", "0"]) == 1
    err = capsys.readouterr().err
    assert "half.npz" in err and "not a fairtwin dataset" in err and "Traceback" not in err


def test_an_internal_error_is_one_line_and_a_crash_file(capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import fairtwin.cli.twin as cli_module  # the solve command's module

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("an invariant broke")

    monkeypatch.setattr(cli_module, "get_scenario", broken)
    code = main(["solve", "--week", "1"])
    err = capsys.readouterr().err
    assert code == 70
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "a bug in fairtwin" in err and "RuntimeError: an invariant broke" in err
    path = Path(err.split("the full traceback is in ")[1].split(";")[0])
    report = path.read_text()
    assert "Traceback" in report and "an invariant broke" in report and "command: fairtwin solve" in report
    path.unlink()


def test_progress_bars_only_on_a_terminal(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "fairtwin.cli", "sample", "--train-weeks", "2",
                          "--samples", "2", "--jobs", "1", "--out", str(tmp_path / "s")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "\r" not in out.stderr and "week/s" not in out.stderr  # a log, not progress frames


@pytest.mark.parametrize("stage, missing, writer", [
    ("label", "samples.npz", "sample"),
    ("train", "dataset.npz", "label"),
    ("resolve", "dataset.npz", "label"),
    ("evaluate", "dataset.npz", "label"),
])
def test_a_stage_on_an_empty_run_folder_names_the_command_to_run(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, stage: str, missing: str,
        writer: str) -> None:
    """The run folder owns the artefact names and which stage writes each (RunFolder)."""
    code, out, err = run(capsys, stage, "--out", str(tmp_path))
    assert code != 0
    assert f"{tmp_path / missing} does not exist; run `fairtwin {writer}` first" in err, err
    assert "Traceback" not in err + out


def test_the_run_folder_names_every_artefact_once(tmp_path: Path) -> None:
    from fairtwin.runfolder import ARTEFACTS, RunFolder

    run_dir = RunFolder(tmp_path / "r").make()
    names = [name for name, _ in ARTEFACTS.values()]
    assert len(set(names)) == len(names) and run_dir.path.is_dir()
    assert run_dir.model == tmp_path / "r" / "model.npz"
    assert [stage for _, stage in ARTEFACTS.values()] == sorted(
        (stage for _, stage in ARTEFACTS.values()),
        key=["sample", "label", "train", "resolve", "evaluate"].index)  # in stage order
