"""Hostile input gets a clear 4xx (or one CLI line), never a 500 or a traceback: physical line
numbers after blank lines, non-UTF-8 files, non-finite floats, huge versions, long names,
oversized uploads and headers (issue 13, findings 4, 5, 9 and 12)."""

from __future__ import annotations

import asyncio
import gzip
import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from odlar.core.errors import DataError
from odlar.core.tasks import get_task
from test_cli import _no_traceback, odlar

FLEET_HEADER = "unit,cycle,sensor_2,sensor_3\n"


@pytest.fixture
def client(home: Path):
    from odlar.governance.accounts import ensure_admin
    from odlar.server.app import create_app

    token = ensure_admin()
    # no lifespan: these requests need neither MLflow warmed nor jobs recovered
    c = TestClient(create_app(), raise_server_exceptions=False)
    c.headers["Authorization"] = f"Bearer {token}"
    return c


def _line_of(exc: pytest.ExceptionInfo[DataError]) -> int | None:
    return exc.value.line


# --- finding 9: errors name the physical line, blank lines included ---------------------


def test_fleet_csv_error_names_the_physical_line(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "fleet.csv"
    # line 1 header, 2 data, 3-4 blank, 5 whitespace only, 6 data, 7 bad
    path.write_text(FLEET_HEADER + "1,1,642.1,1589.7\n\n\n   \n1,2,642.2,1589.8\n1,3,x,1589.9\n")
    with pytest.raises(DataError) as exc:
        get_task("energy.rul").load(path)
    assert _line_of(exc) == 7 and exc.value.field == "sensor_2"


def test_cmapss_text_error_names_the_physical_line(home: Path, tmp_path: Path) -> None:
    row = " ".join(["0.1"] * 24)
    path = tmp_path / "train_blank.txt"
    # cycle 2 then cycle 1 on line 5: cycles must increase
    path.write_text(f"1 1 {row}\n\n1 2 {row}\n\n1 1 {row}\n")
    with pytest.raises(DataError) as exc:
        get_task("energy.rul").load(path)
    assert _line_of(exc) == 5 and exc.value.field == "cycle"


def test_fault_stream_error_names_the_physical_line(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "well.csv"
    path.write_text("timestamp,P-PDG,P-TPT\n2026-01-01 00:00,1,2\n\n\n2026-01-01 00:01,x,2\n")
    with pytest.raises(DataError) as exc:
        get_task("energy.faults").load(path)
    assert _line_of(exc) == 5 and exc.value.field == "P-PDG"


def test_interaction_log_error_names_the_physical_line(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("student,item,skill,correct\ns1,q1,k1,1\n\n\ns1,q2,k1,maybe\n")
    with pytest.raises(DataError) as exc:
        get_task("education.tracing").load(path)
    assert _line_of(exc) == 5 and exc.value.field == "correct"


# --- finding 5: no 500s ---------------------------------------------------------------


def test_non_utf8_csv_is_a_422_naming_line_and_offset(client: TestClient, home: Path) -> None:
    content = FLEET_HEADER.encode() + b"1,1,642.1,1589.7\n1,2,642.2,15\xe9\n"
    r = client.post(
        "/api/v1/datasets", params={"task": "energy.rul"}, files={"file": ("fleet.csv", content)}
    )
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["file"] == "fleet.csv" and body["line"] == 3
    offset = content.index(b"\xe9")
    assert f"byte offset {offset}" in body["detail"]


def test_non_utf8_csv_on_the_cli_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "fleet.csv"
    path.write_bytes(FLEET_HEADER.encode() + b"1,1,642.1,15\xff\n")
    r = odlar("data", "add", "energy.rul", str(path), home=tmp_path / "h")
    assert r.returncode == 65, r.stderr
    _no_traceback(r)
    assert "fleet.csv:2: not UTF-8 text" in r.stderr


def test_non_finite_numbers_in_a_predict_body_are_422(client: TestClient) -> None:
    for number in ("NaN", "Infinity", "-Infinity", "1e999"):
        body = '{"units": [{"unit": "1", "readings": [{"cycle": N}]}]}'.replace("N", number)
        r = client.post(
            "/api/v1/tasks/energy.rul/predict",
            content=body,
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 422, (number, r.text)
        assert r.json()["detail"][0]["loc"][-1] == "cycle"


HUGE = 2**63


HUGE_VERSION_REQUESTS = [
    ("post", "/api/v1/tasks/energy.rul/predict",
     {"model_version": HUGE, "units": [{"unit": "1", "readings": [{"cycle": 1}]}]}),
    ("post", "/api/v1/tasks/energy.faults/predict",
     {"model_version": HUGE, "readings": [{"a": 1}]}),
    ("post", "/api/v1/tasks/energy.faults/monitor/w1",
     {"model_version": HUGE, "readings": [{"a": 1}]}),
    ("post", "/api/v1/tasks/education.tracing/answers",
     {"model_version": HUGE, "answers": [{"student": "s", "skills": "k", "correct": 1}]}),
    ("get", f"/api/v1/tasks/education.tracing/students/s/mastery?model_version={HUGE}", None),
    ("get", f"/api/v1/tasks/education.tracing/classes/c/report?model_version={HUGE}", None),
    ("get", f"/api/v1/models/energy.rul/{HUGE}", None),
]  # fmt: skip


def test_model_versions_beyond_the_store_are_422(client: TestClient) -> None:
    """A version at or above 2^63 overflowed the store's integers (a 500 once a model
    exists); the request models bound it."""
    for method, url, json in HUGE_VERSION_REQUESTS:
        r = client.request(method, url, json=json)
        assert r.status_code == 422, (url, r.text)
        assert "less than or equal" in r.text


def test_a_file_name_over_255_bytes_is_400(client: TestClient) -> None:
    r = client.post(
        "/api/v1/datasets",
        params={"task": "energy.rul"},
        files={"file": ("f" * 300 + ".csv", FLEET_HEADER.encode() + b"1,1,1,1\n")},
    )
    assert r.status_code == 400, r.text
    assert "longer than 255 bytes" in r.json()["detail"]


# --- finding 4: upload size limit, enforced while reading -----------------------------


def test_an_upload_over_the_limit_is_413_and_nothing_is_kept(
    client: TestClient, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ODLAR_MAX_UPLOAD_MB", "1")
    from odlar.core.config import reset_settings

    reset_settings()
    from odlar.governance.accounts import ensure_admin
    from odlar.server.app import create_app

    big = FLEET_HEADER.encode() + b"1,1,642.1,1589.7\n" * 70_000  # 1.2 MB
    c = TestClient(create_app(), raise_server_exceptions=False)
    c.headers.update(client.headers)
    r = c.post("/api/v1/datasets", params={"task": "energy.rul"}, files={"file": ("f.csv", big)})
    assert r.status_code == 413, r.text
    assert "1 MB (ODLAR_MAX_UPLOAD_MB)" in r.json()["detail"]
    # the body passed the limit: refused while it arrived (server/limits.py)
    # 40 kB of gzip that decompresses to 1.2 MB: the decompressed size counts
    packed = gzip.compress(big)
    assert len(packed) < 100_000
    r = c.post(
        "/api/v1/datasets", params={"task": "energy.rul"}, files={"file": ("f.csv.gz", packed)}
    )
    assert r.status_code == 413, r.text
    assert "decompressed" in r.json()["detail"]
    small = gzip.compress(FLEET_HEADER.encode() + b"1,1,642.1,1589.7\n1,2,642.2,1589.8\n")
    r = c.post(
        "/api/v1/datasets", params={"task": "energy.rul"}, files={"file": ("g.csv.gz", small)}
    )
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "g.csv" and r.json()["rows"] == 2
    assert len(c.get("/api/v1/datasets").json()) == 1
    assert ensure_admin() is None
    uploads = home / "datasets"
    assert not [p for p in uploads.iterdir() if p.name.startswith(".staging-")]


def test_the_body_limit_stops_reading_at_the_limit() -> None:
    """The middleware answers 413 once the limit is passed: it does not read the rest."""
    from odlar.server.limits import RequestLimits

    reads = 0
    sent: list[dict] = []

    async def receive() -> dict:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}

    async def send(message: dict) -> None:
        sent.append(message)

    async def app(scope: dict, receive, send) -> None:  # reads the body forever
        while True:
            await receive()

    limits = RequestLimits(app, max_head=64 * 1024, max_body=10 * 1024)
    scope = {"type": "http", "headers": [], "raw_path": b"/", "query_string": b""}
    asyncio.run(limits(scope, receive, send))
    assert sent[0]["status"] == 413
    assert reads == 11, "read one block past the limit, then stopped"


def test_the_cli_refuses_an_oversized_file_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "fleet.csv"
    with path.open("wb") as f:
        f.write(FLEET_HEADER.encode())
        f.write(b"1,1,642.1,1589.7\n" * 70_000)
    monkeypatch.setenv("ODLAR_MAX_UPLOAD_MB", "1")
    r = odlar("data", "add", "energy.rul", str(path), home=tmp_path / "h")
    assert r.returncode == 65, r.stderr
    _no_traceback(r)
    assert "larger than the upload limit of 1 MB" in r.stderr


# --- finding 12: request head size ---------------------------------------------------


def test_oversized_headers_are_431(client: TestClient) -> None:
    r = client.get("/health", headers={"X-Filler": "a" * (65 * 1024)})
    assert r.status_code == 431, r.text
    assert "ODLAR_MAX_HEADER_KB" in r.json()["detail"]
    assert client.get("/health", headers={"X-Filler": "a" * 8000}).status_code == 200


def test_stream_of_bytes_is_copied_in_blocks(home: Path) -> None:
    """save_upload takes a file object, as the API and CLI pass it."""
    from odlar.core.datasets import save_upload

    content = io.BytesIO(FLEET_HEADER.encode() + b"1,1,642.1,1589.7\n1,2,642.2,1589.8\n")
    rec = save_upload("energy.rul", "fleet.csv", content)
    assert rec["rows"] == 2
