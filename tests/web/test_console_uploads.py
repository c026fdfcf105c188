"""Uploads from the console (issue 16): a fleet on the fleet page and a class's answer log
on the education page are kept as datasets of the tenant through `datasets.save_upload`
(validated, students pseudonymised), recorded in the event log as the API's upload is,
then shown with the serving model; a bad file gets a 4xx naming its row and column with
nothing kept; a viewer may not upload."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from odlar.core.privacy import pseudonym

PASSWORD = "console-uploads-test-password"


def _tiny_fleet(cmapss: Path, units: int = 4) -> bytes:
    """The first `units` units of the FD001 test fleet, as C-MAPSS text."""
    lines = (cmapss / "test_FD001.txt").read_bytes().splitlines(keepends=True)
    return b"".join(line for line in lines if int(line.split()[0]) <= units)


def _class_log(students: int = 5, name: str = "pupil") -> pd.DataFrame:
    rows = [{"student": f"{name}-{s}", "item": f"q{(s + k) % 6}", "skill": f"s{k % 3}",
             "correct": int((s * 7 + k) % 3 > 0)}
            for s in range(students) for k in range(12)]  # fmt: skip
    return pd.DataFrame(rows)


@pytest.fixture
def world(home: Path):
    """An operator and a viewer of tenant 'default'; approval is off in tests, so the
    newest version of a task serves."""
    from odlar.governance import accounts
    from odlar.server.app import create_app

    accounts.ensure_admin()
    accounts.create_user("olga", "operator", tenant="default", actor="test", password=PASSWORD)
    accounts.create_user("vera", "viewer", tenant="default", actor="test", password=PASSWORD)
    with TestClient(create_app(), follow_redirects=False) as client:
        yield client


@pytest.fixture
def rul_model(home: Path, cmapss: Path, quick_gbm) -> None:
    from odlar.core import tracking
    from odlar.core.tasks import get_task

    train = get_task("energy.rul").load(cmapss / "train_FD001.txt")
    tracking.log_model_version("energy.rul", quick_gbm, method="gbm", params=quick_gbm.params,
                               metrics={}, data=train)  # fmt: skip


@pytest.fixture
def tracing_model(home: Path) -> None:
    """BKT fitted on 20 other students answering the same questions and skills."""
    from odlar.core import tracking
    from odlar.core.tasks import get_task

    task = get_task("education.tracing")
    log = home.parent / "training.csv"
    _class_log(20, "trainee").to_csv(log, index=False)
    data = task.load(log)
    bkt = task.fit(data, method="bkt", params={"iters": 3}, progress=lambda f, m: None)
    tracking.log_model_version("education.tracing", bkt, method="bkt", params={"iters": 3},
                               metrics={}, data=data)  # fmt: skip


def _as(client: TestClient, user: str) -> TestClient:
    client.cookies.clear()
    r = client.post("/ui/sign-in", data={"user": user, "password": PASSWORD, "tenant": "default"})
    assert r.status_code == 303, r.text
    return client


def _uploads() -> list[dict]:
    from odlar.core import audit

    return [e | {"output": json.loads(e["output"])}
            for e in audit.events("default", action="dataset_upload")]  # fmt: skip


def test_fleet_upload_shows_its_rul_and_bad_files_are_refused(
    world, rul_model, cmapss: Path
) -> None:
    from odlar.core import datasets
    from odlar.core.config import get_settings

    c = _as(world, "vera")
    page = c.get("/ui/energy/rul")
    assert page.status_code == 200 and "Upload fleet" not in page.text
    r = c.post("/ui/energy/rul/upload", files={"file": ("fleet.txt", _tiny_fleet(cmapss))})
    assert r.status_code == 403 and datasets.list_datasets() == []

    c = _as(world, "olga")
    r = c.post("/ui/energy/rul/upload", files={"file": ("north-fleet.txt", _tiny_fleet(cmapss))})
    assert r.status_code == 303, r.text
    fleet = r.headers["location"].split("dataset=", 1)[1]
    page = c.get(r.headers["location"])
    assert page.status_code == 200, page.text
    assert "Model version 1" in page.text
    units = set(re.findall(r'href="/ui/energy/rul/[^/"]+/units/(\d+)"', page.text))
    assert units == {"1", "2", "3", "4"}
    assert f"<code>{fleet}</code>" in page.text and "north-fleet.txt" in page.text
    (event,) = _uploads()
    assert event["actor"] == "olga" and event["target"] == fleet
    assert event["output"]["task"] == "energy.rul" and event["output"]["rows"] > 0

    # a non-numeric cell, then too few columns: the file, line and column named, a 4xx
    lines = _tiny_fleet(cmapss, 1).decode().splitlines()
    fields = lines[2].split()
    fields[6] = "n/a"
    bad = "\n".join([*lines[:2], " ".join(fields), *lines[3:]]) + "\n"
    r = c.post("/ui/energy/rul/upload", files={"file": ("broken.txt", bad.encode())})
    text = html.unescape(r.text)
    assert r.status_code == 422 and "broken.txt:3: column 'sensor_2': 'n/a' is not a number" in text
    assert "broken.txt was not stored" in text and "north-fleet.txt" in text
    r = c.post("/ui/energy/rul/upload", files={"file": ("short.txt", b"1 1 0.5 0.2\n")})
    assert r.status_code == 422 and "expected 26 columns" in r.text
    assert [d["id"] for d in datasets.list_datasets()] == [fleet] and len(_uploads()) == 1
    kept = [p.name for p in get_settings().uploads_dir.iterdir()]
    assert kept == [fleet], "nothing half-stored (no staging folder left either)"


def test_class_upload_appears_with_its_report_and_heat_map(world, tracing_model) -> None:
    from sqlalchemy import select

    from odlar.core import audit, datasets
    from odlar.core.store import LearnerInteraction, session_scope

    log = _class_log().to_csv(index=False).encode()
    c = _as(world, "vera")
    assert "Upload answers" not in c.get("/ui/education").text
    r = c.post("/ui/education/upload", files={"file": ("7b.csv", log)}, data={"class_id": "7B"})
    assert r.status_code == 403

    c = _as(world, "olga")
    r = c.post("/ui/education/upload", files={"file": ("7b.csv", log)})
    text = html.unescape(r.text)
    assert r.status_code == 400 and "7b.csv: the log has no class column" in text
    r = c.post("/ui/education/upload", files={"file": ("7b.csv", log)}, data={"class_id": "7B"})
    assert r.status_code == 303, r.text
    page = c.get(r.headers["location"]).text
    assert "7b.csv: 60 answers of 5 students stored as pseudonyms" in page
    assert 'href="/ui/education/classes/7B"' in page
    with session_scope() as s:
        stored = s.execute(select(LearnerInteraction.student, LearnerInteraction.class_id)).all()
    assert len(stored) == 60 and {x for _, x in stored} == {"7B"}
    assert {st for st, _ in stored} == {pseudonym(f"pupil-{i}") for i in range(5)}
    (record,) = datasets.list_datasets()
    kept = Path(datasets.resolve_source(record["id"])).read_text()
    assert "pupil-" not in kept and pseudonym("pupil-2") in kept, "no raw identifier kept"
    (event,) = _uploads()
    assert event["actor"] == "olga" and event["output"]["task"] == "education.tracing"
    (update,) = audit.events("default", action="mastery_update")  # as `education record`
    assert update["actor"] == "olga" and update["model_version"] == "education.tracing/1"

    heat = c.get("/ui/education/classes/7B")
    assert heat.status_code == 200, heat.text
    assert "Class 7B: mastery, students by skills" in heat.text
    assert pseudonym("pupil-4") in heat.text

    # a class column in the log wins; a bad cell names its line and column, keeps the class
    other = _class_log(3, "learner").astype(str).assign(section="8A")
    other.loc[7, "correct"] = "yes"
    r = c.post("/ui/education/upload", data={"class_id": "8Z"},
               files={"file": ("8a.csv", other.to_csv(index=False).encode())})  # fmt: skip
    text = html.unescape(r.text)
    assert r.status_code == 422 and "8a.csv:9: column 'correct': 'yes' is not 0 or 1" in text
    assert 'value="8Z"' in r.text and "8a.csv was not stored" in text
    # skills the serving model never saw: refused before anything is kept
    alien = other.assign(correct=1, item="x1", skill="unseen")
    r = c.post("/ui/education/upload",
               files={"file": ("alien.csv", alien.to_csv(index=False).encode())})  # fmt: skip
    assert r.status_code == 422 and "known to the serving model v1" in r.text
    assert len(datasets.list_datasets()) == 1 and len(_uploads()) == 1
    # a pyKT sequence file names no class: one must be given, else nothing is kept
    pykt = b"3\n1,2,1\n1,0,1\n"
    r = c.post("/ui/education/upload", files={"file": ("seq.csv", pykt)})
    assert r.status_code == 400 and "has no class column" in r.text
    r = c.post(
        "/ui/education/upload",
        files={"file": ("8a.csv", other.assign(correct=1).to_csv(index=False).encode())},
    )
    assert r.status_code == 303
    page = c.get("/ui/education").text
    assert 'href="/ui/education/classes/8A"' in page and "/classes/8Z" not in page


def test_sequence_students_are_numbered_within_their_dataset(tmp_path: Path) -> None:
    from odlar.education.interactions import read_sequences
    from odlar.education.uploads import answers_of

    path = tmp_path / "seq.csv"
    path.write_text("2\n4,5\n1,0\n1\n5\n1\n")
    answers = answers_of(read_sequences(path), "9C", "abc123")
    assert [(a["student"], a["skills"], a["correct"], a["class"]) for a in answers] == [
        ("abc123-0", "4", 1, "9C"),
        ("abc123-0", "5", 0, "9C"),
        ("abc123-1", "5", 1, "9C"),
    ]
