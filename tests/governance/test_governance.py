"""Governance: roles on every route and command, tenants kept apart on every route, checks,
approval and revocation, generated documentation, the hash-chained event log, sign-in
limits, personal data at ingestion, and no secret in any log."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import text

from conftest import SHARED_DATA
from odlar.core import audit
from odlar.core.store import get_engine, session_scope
from odlar.governance import accounts
from odlar.governance.roles import ROLES

EDU = SHARED_DATA / "education" / "assist2009"
TRAIN = EDU / "assist2009_pid_test2.csv"
QUICK = {"iters": 5, "max_students": 150}


@pytest.fixture
def gov(home: Path, monkeypatch: pytest.MonkeyPatch):
    """Approval switched on (the default), an app, and one token per role."""
    from odlar.core import config
    from odlar.server.app import create_app

    monkeypatch.setenv("ODLAR_REQUIRE_APPROVAL", "true")
    config.reset_settings()
    accounts.ensure_admin()
    tokens = {}
    for role in ROLES:
        accounts.create_user(f"u-{role}", role, tenant="default", actor="test")
        tokens[role] = accounts.create_token(f"u-{role}", actor="test")
    with TestClient(create_app()) as client:
        yield client, tokens


def _as(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _fit(tenant: str) -> int:
    from odlar.core import jobs

    spec = jobs.FitSpec(task="education.tracing", data=str(TRAIN), method="bkt", params=QUICK)
    job = jobs.create(spec, tenant=tenant, created_by="trainer")
    return int(jobs.run(job.id).result["model"]["version"])


def _routes(app) -> list[APIRoute]:
    """Every API route, also those of included routers (FastAPI >= 0.165 keeps them inside)."""
    out, todo = [], list(app.routes)
    while todo:
        r = todo.pop(0)
        if isinstance(r, APIRoute):
            out.append(r)
        elif hasattr(r, "original_router"):
            todo += r.original_router.routes
    return [r for r in out if r.path.startswith("/api/v1")]


def _permission(route: APIRoute) -> str | None:
    found = [
        d.call.permission.value
        for d in route.dependant.dependencies
        if hasattr(d.call, "permission")
    ]
    assert len(found) <= 1, route.path
    return found[0] if found else None


def _fill(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: "1" if m.group(1) == "version" else "x1", path)


def test_authorisation_matrix_every_route_every_role(gov) -> None:
    client, tokens = gov
    routes = _routes(client.app)
    unauthenticated = [r.path for r in routes if _permission(r) is None]
    assert unauthenticated == ["/api/v1/sign-in"], "every other route names a permission"
    checked = 0
    for route in routes:
        perm = _permission(route)
        if perm is None:
            continue
        for method in route.methods - {"HEAD", "OPTIONS"}:
            url = _fill(route.path)
            anonymous = client.request(method, url, json={})
            assert anonymous.status_code == 401, (method, url)
            for role, token in tokens.items():
                r = client.request(method, url, json={}, headers=_as(token))
                allowed = perm in {p.value for p in ROLES[role]}
                if allowed:
                    assert r.status_code not in (401, 403), (role, method, url, r.text)
                    assert r.status_code < 500, (role, method, url, r.text)
                else:
                    assert r.status_code == 403, (role, method, url, r.status_code)
                    assert role in r.json()["detail"]
                checked += 1
    assert checked > 150


def test_tenants_never_see_each_others_things(gov) -> None:
    from odlar.core.store import AlertRecord

    client, tokens = gov
    a = tokens["admin"]
    accounts.create_tenant("acme", actor="test")
    accounts.create_user("boss", "admin", tenant="acme", actor="test")
    b = accounts.create_token("boss", tenant="acme", actor="test")

    # tenant default owns: a dataset, a job and model, an approval, answers, an alert
    up = client.post(
        "/api/v1/datasets",
        params={"task": "education.tracing"},
        files={"file": ("log.csv", TRAIN.read_bytes())},
        headers=_as(tokens["operator"]),
    )
    assert up.status_code == 201, up.text
    dataset = up.json()["id"]
    version = _fit("default")
    job = client.get("/api/v1/jobs", headers=_as(a)).json()[0]["id"]
    ok = client.post(
        f"/api/v1/models/education.tracing/{version}/approve",
        json={"override": True, "reason": "test of tenancy"},
        headers=_as(tokens["approver"]),
    )
    assert ok.status_code == 200, ok.text
    answers = {"answers": [{"student": "s1", "skills": "10", "correct": 1, "class_id": "c1"}]}
    rec = client.post("/api/v1/tasks/education.tracing/answers", json=answers, headers=_as(a))
    assert rec.status_code == 200 and rec.json()["model_version"] == version
    with session_scope() as s:
        alert = AlertRecord(
            tenant="default", task="energy.faults", stream="w1", key="k", kind="fault",
            detector="pca", statistic="T2",
        )  # fmt: skip
        s.add(alert)
        s.flush()
        alert_id = alert.id
    token_id = next(t["id"] for t in accounts.list_tokens("default") if t["user"] == "u-viewer")

    own = [
        ("GET", f"/api/v1/datasets/{dataset}"),
        ("GET", f"/api/v1/jobs/{job}"),
        ("GET", f"/api/v1/jobs/{job}/events"),
        ("POST", f"/api/v1/jobs/{job}/cancel"),
        ("POST", f"/api/v1/jobs/{job}/retry"),
        ("GET", f"/api/v1/models/education.tracing/{version}"),
        ("GET", f"/api/v1/models/education.tracing/{version}/documentation"),
        ("POST", f"/api/v1/models/education.tracing/{version}/checks"),
        ("POST", f"/api/v1/models/education.tracing/{version}/approve"),
        ("POST", f"/api/v1/models/education.tracing/{version}/revoke"),
        ("GET", f"/api/v1/alerts/{alert_id}"),
        ("POST", f"/api/v1/alerts/{alert_id}/ack"),
        ("GET", f"/api/v1/incidents/{alert_id}"),
        ("POST", f"/api/v1/incidents/{alert_id}/ack"),
        ("GET", "/api/v1/tasks/education.tracing/students/s1/mastery"),
        ("GET", "/api/v1/tasks/education.tracing/students/s1/next"),
        ("GET", "/api/v1/tasks/education.tracing/classes/c1/report"),
        ("POST", f"/api/v1/tokens/{token_id}/revoke"),
    ]
    for method, url in own:  # the addresses are right: the owner reads them
        if method == "GET":
            assert client.get(url, headers=_as(a)).status_code == 200, url
    for method, url in own:
        r = client.request(method, url, json={"reason": "x"}, headers=_as(b))
        # acme has no such thing, and no model of this task either
        assert r.status_code in (404, 409), (method, url, r.status_code, r.text)
        assert "log.csv" not in r.text and "trainer" not in r.text  # nothing of theirs

    from odlar.core.datasets import resolve_source

    stolen = {"task": "education.tracing", "data": str(resolve_source(dataset))}
    r = client.post("/api/v1/jobs", json=stolen, headers=_as(b))
    assert r.status_code == 404, "another tenant's upload is not reachable by its path"
    body = {
        "model_version": version,
        "students": [{"student": "s1", "answers": [{"skills": "10", "correct": 1}]}],
    }
    r = client.post("/api/v1/tasks/education.tracing/predict", json=body, headers=_as(b))
    assert r.status_code == 404, r.text
    for url in [
        "/api/v1/datasets", "/api/v1/jobs", "/api/v1/models", "/api/v1/alerts",
        "/api/v1/incidents", "/api/v1/audit/events", "/api/v1/users", "/api/v1/tokens",
        "/api/v1/tenants",
    ]:  # fmt: skip
        mine = client.get(url, headers=_as(a))
        theirs = client.get(url, headers=_as(b))
        assert mine.status_code == theirs.status_code == 200, url
        for item in theirs.json():
            assert item.get("tenant", "acme") == "acme", (url, item)
            assert item.get("id") not in (dataset, job, alert_id, token_id), url
        assert len(mine.json()) > 0, url
    verify = client.get("/api/v1/audit/verify", headers=_as(b)).json()
    assert verify["ok"] and verify["tenants"] == 1


def test_checks_approval_revocation_and_documentation(gov) -> None:
    client, tokens = gov
    version = _fit("default")
    body = {
        "model_version": version,
        "students": [{"student": "s1", "answers": [{"skills": "10", "correct": 1}]}],
    }
    predict = "/api/v1/tasks/education.tracing/predict"
    r = client.post(predict, json=body, headers=_as(tokens["operator"]))
    assert r.status_code == 409 and "not approved" in r.json()["detail"]

    checks = client.post(
        f"/api/v1/models/education.tracing/{version}/checks", headers=_as(tokens["approver"])
    ).json()
    names = {c["name"] for c in checks["checks"]}
    assert {"metric val_auc", "data integrity", "data quality: rows"} <= names
    assert any(n.startswith("robustness: ") for n in names)
    integrity = next(c for c in checks["checks"] if c["name"] == "data integrity")
    assert integrity["passed"]

    url = f"/api/v1/models/education.tracing/{version}/approve"
    if not checks["passed"]:
        blocked = client.post(url, json={}, headers=_as(tokens["approver"]))
        assert blocked.status_code == 409 and "checks failed" in blocked.json()["detail"]
        no_reason = client.post(url, json={"override": True}, headers=_as(tokens["approver"]))
        assert no_reason.status_code == 400
    ok = client.post(
        url, json={"override": True, "reason": "pilot in two schools"},
        headers=_as(tokens["approver"]),
    )  # fmt: skip
    assert ok.status_code == 200, ok.text
    served = client.post(predict, json=body, headers=_as(tokens["operator"]))
    assert served.status_code == 200 and served.json()["model_version"] == version
    newest = client.post(
        predict, json=body | {"model_version": None}, headers=_as(tokens["operator"])
    )
    assert newest.json()["model_version"] == version

    doc = client.get(
        f"/api/v1/models/education.tracing/{version}/documentation",
        headers=_as(tokens["viewer"]),
    ).json()
    general = doc["1_general_description"]
    assert general["risk_tier"] == "high" and "Annex III" in general["risk_reason"]
    assert general["state"] == "approved" and general["trained_by"] == "trainer"
    assert doc["2_development"]["training_data"]["sha256"]
    assert doc["3_monitoring_and_control"]["decisions"][0]["reason"] == "pilot in two schools"
    assert doc["3_monitoring_and_control"]["predictions_logged"] == 2
    assert doc["5_risk_management"]["latest_checks"]["checks"]
    assert doc["6_limitations"]
    md = client.get(
        f"/api/v1/models/education.tracing/{version}/documentation",
        params={"format": "markdown"}, headers=_as(tokens["viewer"]),
    ).text  # fmt: skip
    assert "## 5. Risk management" in md and "pilot in two schools" in md
    html = client.get(
        f"/api/v1/models/education.tracing/{version}/documentation",
        params={"format": "html"}, headers=_as(tokens["viewer"]),
    ).text  # fmt: skip
    assert html.startswith("<!doctype html>") and "<table>" in html

    revoke = client.post(
        f"/api/v1/models/education.tracing/{version}/revoke",
        json={"reason": "drift found"}, headers=_as(tokens["approver"]),
    )  # fmt: skip
    assert revoke.status_code == 200
    stopped = client.post(predict, json=body, headers=_as(tokens["operator"]))
    assert stopped.status_code == 409, "a revocation stops serving at once"

    log = client.get("/api/v1/audit/events", headers=_as(tokens["auditor"])).json()
    actions = [e["action"] for e in log]
    for action in (
        "predict",
        "model_check",
        "model_approve",
        "model_revoke",
        "job_submit",
        "server_start",
    ):
        assert action in actions, action
    pred = next(e for e in log if e["action"] == "predict")
    assert pred["model_version"] == f"education.tracing/{version}"
    assert len(pred["input_digest"]) == 64
    assert json.loads(pred["output"])["model_version"] == version
    assert client.get("/api/v1/audit/verify", headers=_as(tokens["auditor"])).json()["ok"]


def _chain(n: int) -> None:
    for i in range(n):
        audit.record(tenant="default", actor="t", action="predict", input={"i": i}, output=i)


@pytest.mark.parametrize(
    "tamper, kind, seq",
    [
        ("UPDATE audit_events SET output = '99' WHERE seq = 4", "edited", 4),
        ("DELETE FROM audit_events WHERE seq = 5", "removed", 5),
        ("UPDATE audit_events SET seq = -seq WHERE seq IN (3, 6)", "reordered", 3),
        ("DELETE FROM audit_events WHERE seq = 10", "truncated", 10),
        ("UPDATE audit_events SET actor = 'mallory' WHERE seq = 1", "edited", 1),
    ],
)
def test_audit_verify_finds_tampering(home: Path, tamper: str, kind: str, seq: int) -> None:
    _chain(10)
    assert audit.verify().ok
    with get_engine().begin() as conn:
        conn.execute(text(tamper))
        if "seq = -seq" in tamper:  # swap two records' positions
            conn.execute(text("UPDATE audit_events SET seq = 6 WHERE seq = -3"))
            conn.execute(text("UPDATE audit_events SET seq = 3 WHERE seq = -6"))
    result = audit.verify()
    assert not result.ok
    assert (kind, seq) in [(p.kind, p.seq) for p in result.problems], result.to_dict()


def test_audit_prune_keeps_the_chain_verifiable(home: Path) -> None:
    from datetime import timedelta

    from odlar.core.store import utcnow

    _chain(5)
    removed = audit.prune("default", actor="t", now=utcnow() + timedelta(days=400))
    assert removed == 5
    _chain(2)
    result = audit.verify()
    assert result.ok, result.to_dict()
    assert [e["action"] for e in audit.events("default")] == ["audit_prune", "predict", "predict"]
    with get_engine().begin() as conn:  # removing the first kept record is still found
        conn.execute(text("DELETE FROM audit_events WHERE seq = 6"))
    assert not audit.verify().ok


def test_audit_export_is_complete_json_lines(home: Path, tmp_path: Path) -> None:
    _chain(3)
    out = tmp_path / "log.jsonl"
    assert audit.export("default", out, actor="t") == 3
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["seq"] for r in rows] == [1, 2, 3] and rows[1]["prev_hash"] == rows[0]["hash"]


def test_sign_in_lockout_and_bad_token_limit(gov) -> None:
    client, tokens = gov
    accounts.set_password("u-viewer", "correct horse battery", tenant="default", actor="test")
    ok = client.post(
        "/api/v1/sign-in", json={"user": "u-viewer", "password": "correct horse battery"}
    )
    assert ok.status_code == 200
    me = client.get("/api/v1/me", headers=_as(ok.json()["token"])).json()
    assert me["role"] == "viewer" and me["permissions"] == ["read"]
    for _ in range(5):
        bad = client.post("/api/v1/sign-in", json={"user": "u-viewer", "password": "nope"})
        assert bad.status_code == 401
    locked = client.post(
        "/api/v1/sign-in", json={"user": "u-viewer", "password": "correct horse battery"}
    )
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    failures = audit.events("default", action="sign_in_failed")
    assert len(failures) == 6

    from odlar.server.auth import FAILURES

    FAILURES.clear()
    for _ in range(20):
        assert client.get("/api/v1/tasks", headers=_as("odl_wrong")).status_code == 401
    refused = client.get("/api/v1/tasks", headers=_as("odl_wrong"))
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    # bad guesses are refused; a valid token from the same address still works (issue 13)
    assert client.get("/api/v1/tasks", headers=_as(tokens["admin"])).status_code == 200


def test_secrets_never_reach_any_log(gov, home: Path, caplog) -> None:
    client, tokens = gov
    password = "a-secret-password-123"
    accounts.set_password("u-admin", password, tenant="default", actor="test")
    client.post("/api/v1/sign-in", json={"user": "u-admin", "password": password})
    client.post("/api/v1/sign-in", json={"user": "u-admin", "password": password + "x"})
    client.get("/api/v1/tasks", headers=_as(tokens["viewer"][:-2] + "zz"))
    made = client.post("/api/v1/tokens", json={"user": "u-viewer"}, headers=_as(tokens["admin"]))
    secrets = [*tokens.values(), made.json()["token"], password, password + "x"]
    with session_scope() as s:
        stored = " ".join(str(row) for row in s.execute(text("SELECT * FROM audit_events")))
        stored += " ".join(str(row) for row in s.execute(text("SELECT * FROM api_tokens")))
        stored += " ".join(str(row) for row in s.execute(text("SELECT * FROM users")))
    files = " ".join(p.read_text(errors="replace") for p in home.rglob("*.log"))
    for secret in secrets:
        for where in (stored, files, caplog.text):
            assert secret not in where
            assert secret[:12] not in where


def test_cli_enforces_roles(gov, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from test_cli import odlar

    _, tokens = gov

    def run(token: str, *args: str) -> tuple[int, str]:
        monkeypatch.setenv("ODLAR_TOKEN", token)
        r = odlar(*args, home=home)
        return r.returncode, r.stdout + r.stderr

    code, out = run(tokens["viewer"], "fit", "education.tracing", "--data", str(TRAIN))
    assert code == 77 and "may not operate" in out and "Traceback" not in out
    assert run(tokens["viewer"], "models")[0] == 0
    assert run(tokens["viewer"], "audit", "verify")[0] == 77
    code, out = run(tokens["auditor"], "audit", "verify")
    assert code == 0 and "intact" in out
    code, out = run("odl_not-a-token", "models")
    assert code == 77 and "invalid" in out


def test_upload_masks_personal_data_and_declared_columns(gov) -> None:
    client, tokens = gov
    log = pd.DataFrame(
        {
            "user_id": ["7", "7", "8"],
            "problem_id": ["1", "2", "1"],
            "skill": ["add", "add", "sub"],
            "correct": [1, 0, 1],
            "teacher": ["ali@example.az", "+994 50 123 45 67", "FIN 5ZJ8K2Q"],
        }
    )
    r = client.post(
        "/api/v1/datasets",
        params={"task": "education.tracing"},
        files={"file": ("log.csv", log.to_csv(index=False).encode())},
        headers=_as(tokens["operator"]),
    )
    assert r.status_code == 201, r.text
    privacy = r.json()["summary"]["privacy"]
    assert privacy["findings"]["teacher"] == {"EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1, "AZ_FIN": 1}
    from odlar.core.datasets import resolve_source

    kept = resolve_source(r.json()["id"]).read_text()
    for raw in ("ali@example.az", "123 45 67", "5ZJ8K2Q"):
        assert raw not in kept
    assert "<EMAIL_ADDRESS>" in kept


def test_concurrent_writers_keep_one_chain(home: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def write(worker: int) -> None:
        for i in range(40):
            audit.record(tenant="default", actor=f"w{worker}", action="predict", output=i)

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(write, range(6)))
    result = audit.verify()
    assert result.ok and result.records == 240, result.to_dict()
