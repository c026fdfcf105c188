"""Skill names where the data has them (ASSIST2009's skill map beside its sequence files, a
log's skill_name column): shown by the API, the CLI and the console; the ids stay the keys,
and data without names shows its ids."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from conftest import SHARED_DATA
from odlar.core.errors import DataError
from odlar.education.interactions import from_log, read_log, read_sequences

A09 = SHARED_DATA / "education" / "assist2009"
SKILL_MAP = json.loads((A09 / "assist2009_pid_skill.json").read_text())
NAME_OF = {str(v): k for k, v in SKILL_MAP.items()}


def test_sequence_files_take_names_from_the_skill_map_beside_them() -> None:
    data = read_sequences(A09 / "assist2009_pid_test1.csv")
    assert data.skill_names and set(data.skill_names) <= set(data.skill_ids)
    assert data.skill_names == {k: NAME_OF[k] for k in data.skill_ids if k in NAME_OF}
    assert data.skill_names["37"] == "Addition Whole Numbers"
    # ASSIST2015's folder ships no skill map: its ids are its only names
    a15 = SHARED_DATA / "education" / "assist2015" / "assist2015_test1.csv"
    assert read_sequences(a15).skill_names == {}


def test_a_broken_skill_map_is_refused_naming_it(tmp_path: Path) -> None:
    shutil.copy(A09 / "assist2009_pid_test1.csv", tmp_path / "assist2009_pid_test1.csv")
    (tmp_path / "assist2009_pid_skill.json").write_text('{"Mean": "nine"}')
    with pytest.raises(DataError, match="assist2009_pid_skill.json"):
        read_sequences(tmp_path / "assist2009_pid_test1.csv")


def test_log_skill_name_column(tmp_path: Path, home: Path) -> None:
    path = tmp_path / "raw.csv"
    pd.DataFrame(
        [
            {"user_id": "a", "problem_id": "p1", "skill_id": "10", "skill_name": "Mean",
             "correct": 1},
            {"user_id": "a", "problem_id": "p2", "skill_id": "11", "skill_name": "Median",
             "correct": 0},
            {"user_id": "b", "problem_id": "p3", "skill_id": "12", "skill_name": "",
             "correct": 1},
        ]  # fmt: skip
    ).to_csv(path, index=False)
    data = from_log(read_log(path), str(path))
    assert set(data.skill_ids) == {"10", "11", "12"}, "the ids stay the keys"
    assert data.skill_names == {"10": "Mean", "11": "Median"}
    alone = from_log(read_log(path).drop(columns=["skill_id"]).iloc[:2], str(path))
    assert set(alone.skill_ids) == {"Mean", "Median"} and alone.skill_names == {}


@pytest.fixture
def served(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A BKT model fitted on 40 real ASSIST2009 students (their fold file and the skill map
    beside it) and served as version 1 (no registry: its loading is tested elsewhere), one
    pupil's answers recorded through the API."""
    from odlar.core.tasks import get_task
    from odlar.education.service import Tracker
    from odlar.governance.accounts import ensure_admin
    from odlar.server.app import create_app

    folder = tmp_path / "a09"
    folder.mkdir()
    lines = (A09 / "assist2009_pid_test2.csv").read_text().splitlines()[: 4 * 40]
    (folder / "assist2009_pid_small.csv").write_text("\n".join(lines) + "\n")
    shutil.copy(A09 / "assist2009_pid_skill.json", folder)
    task = get_task("education.tracing")
    data = task.load(folder / "assist2009_pid_small.csv")
    model = task.fit(data, method="bkt", params={"iters": 3}, progress=lambda f, m: None)
    monkeypatch.setattr(Tracker, "model", lambda self, tenant, version: (1, model))
    problems, skills, correct = (lines[1].split(","), lines[2].split(","), lines[3].split(","))
    answers = [
        {"student": "pupil-1", "item": p, "skills": s, "correct": int(c), "class_id": "7B"}
        for p, s, c in list(zip(problems, skills, correct, strict=True))[:30]
    ]
    token = ensure_admin()
    with TestClient(create_app()) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        r = client.post("/api/v1/tasks/education.tracing/answers", json={"answers": answers})
        assert r.status_code == 200, r.text
        yield client, set(skills[:30])


def test_api_cli_and_console_show_skill_names(served) -> None:
    from odlar.cli import app

    client, practised = served
    base = "/api/v1/tasks/education.tracing"
    m = client.get(f"{base}/students/pupil-1/mastery").json()
    assert {s["skill"] for s in m["skills"]} == practised, "ids stay the keys"
    assert all(s["name"] == NAME_OF[s["skill"]] for s in m["skills"])
    nxt = client.get(f"{base}/students/pupil-1/next").json()["exercises"]
    assert nxt and all(e["skill_names"] == [NAME_OF[k] for k in e["skills"]] for e in nxt)
    report = client.get(f"{base}/classes/7B/report").json()
    assert all(r["name"] == NAME_OF[r["skill"]] for r in report["weakest_skills"])

    shown = CliRunner().invoke(app, ["education", "mastery", "pupil-1"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert all(NAME_OF[s["skill"]] in shown.output for s in m["skills"])

    from odlar.education.web import labels, mastery_figure

    figure = mastery_figure(m["skills"])
    assert figure["data"][0]["y"] == [NAME_OF[s["skill"]] for s in m["skills"]]
    assert labels(["1", "2", "3"], ["Mean", None, "Mean"]) == ["Mean (1)", "2", "Mean (3)"]
