"""The command line: exit codes for user mistakes, one clear line, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SHARED_DATA


def odlar(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, "ODLAR_HOME": str(home), "ODLAR_DATA": str(SHARED_DATA)}
    return subprocess.run(
        [sys.executable, "-m", "odlar", *args], env=env, capture_output=True, text=True, timeout=600
    )


def _no_traceback(r: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in r.stderr + r.stdout
    assert r.stderr.strip().startswith("error:"), r.stderr
    assert len(r.stderr.strip().splitlines()) <= 2


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["fit", "energy.nope", "--data", "x"], 66, "unknown task 'energy.nope'"),
        (["fit", "energy.rul", "--data", "missing.txt"], 66, "data 'missing.txt' not found"),
        (
            ["fit", "energy.rul", "--data", "energy/cmapss/train_FD001.txt", "--method", "magic"],
            2,
            "no method 'magic'",
        ),
        (
            ["fit", "energy.rul", "--data", "energy/cmapss/train_FD001.txt", "--param", "cap"],
            2,
            "must look like name=value",
        ),
        (
            ["predict", "energy.rul", "--data", "energy/cmapss/test_FD001.txt"],
            66,
            "no trained model yet",
        ),
        (["jobs", "show", "nope"], 66, "no job 'nope'"),
        (["data", "fetch", "nope"], 66, "unknown dataset"),
    ],
)
def test_user_mistakes(tmp_path: Path, args: list[str], code: int, text: str) -> None:
    r = odlar(*args, home=tmp_path)
    assert r.returncode == code, r.stderr
    _no_traceback(r)
    assert text in r.stderr.replace("\n", " ")


def test_broken_data_exit_65_names_line(tmp_path: Path) -> None:
    bad = tmp_path / "fleet.txt"  # beside ODLAR_HOME: a file inside it is odlar's state
    bad.write_text("1 1 0 0 100 1 2\n")
    r = odlar("fit", "energy.rul", "--data", str(bad), home=tmp_path / "home")
    assert r.returncode == 65
    _no_traceback(r)
    assert "fleet.txt:1" in r.stderr and "expected 26 columns" in r.stderr
    r = odlar("jobs", home=tmp_path / "home")
    assert "failed" in r.stdout, "the failed fit is recorded as a job"


def test_fit_predict_models_round_trip(tmp_path: Path) -> None:
    r = odlar(
        "fit",
        "energy.rul",
        "--data",
        "energy/cmapss/train_FD001.txt",
        "--method",
        "gbm",
        "--param",
        "folds=2",
        "--param",
        "max_iter=30",
        "--param",
        "cuts_per_unit=2",
        "--eval",
        "energy/cmapss/test_FD001.txt",
        home=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert "energy.rul v1" in r.stdout and "test_rmse" in r.stdout
    predict = ("predict", "energy.rul", "--data", "energy/cmapss/test_FD001.txt")
    r = odlar(*predict, home=tmp_path)
    assert r.returncode == 75 and "no approved model version" in r.stderr, "pending: no serving"
    r = odlar("models", "check", "energy.rul", "1", home=tmp_path)
    assert "data integrity" in r.stdout and "robustness: sensor noise 5%" in r.stdout
    r = odlar(
        "models", "approve", "energy.rul", "1", "--override", "--reason", "cli test",
        home=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = tmp_path / "pred.csv"
    r = odlar(
        "predict",
        "energy.rul",
        "--data",
        "energy/cmapss/test_FD001.txt",
        "--out",
        str(out),
        home=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "unit,last_cycle,rul,lower,upper" and len(lines) == 101
    r = odlar("models", "list", "energy.rul", home=tmp_path)
    assert "gbm" in r.stdout and "val_rmse" in r.stdout and "approved" in r.stdout
    r = odlar("models", "doc", "energy.rul", "1", home=tmp_path)
    assert "# Technical documentation: energy.rul/1" in r.stdout and "cli test" in r.stdout
    r = odlar("audit", "verify", home=tmp_path)
    assert r.returncode == 0 and "intact" in r.stdout


def test_bench_quick_writes_protocol_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    r = odlar(
        "bench",
        "energy.rul",
        "--data",
        str(SHARED_DATA / "energy/cmapss"),
        "--quick",
        "--out",
        str(out),
        home=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    result = json.loads(out.read_text())
    assert result["task"] == "energy.rul" and result["dataset"] == "cmapss/FD001"
    assert {row["method"].split()[0] for row in result["results"]} == {"gbm", "sequence", "blend"}
    for row in result["results"]:
        assert {"rmse", "score", "coverage90"} <= set(row["metrics"])
        assert row["metrics"]["rmse"] > 0 and row["fit_seconds"] > 0
        assert row["predict_units"] == 100
    assert any(a["metrics"] == {"rmse": 10.97, "score": 175.36} for a in result["anchors"])
    assert result["environment"]["packages"]["torch"].startswith("2.")
    assert "10.97" in r.stdout  # the published figure is printed beside ours
