"""Two model versions side by side on the console: state, data, every metric and parameter
either has, the rows where they differ marked; only the tenant's own versions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from odlar.core import tracking
from odlar.core.tasks import Dataset
from odlar.governance import accounts

PASSWORD = "compare-versions-test-password"


@pytest.fixture
def client(home: Path):
    from odlar.server.app import create_app

    accounts.ensure_admin()
    accounts.set_password("admin", PASSWORD, tenant="default", actor="test")
    accounts.create_tenant("acme", actor="test")
    accounts.create_user("eve", "viewer", tenant="acme", actor="test", password=PASSWORD)
    data = Dataset(frame=None, source="train.csv", sha256="ab" * 32, rows=20631)
    for metrics, params in (
        ({"val_rmse": 15.4321, "val_score": 2431.1}, {"max_iter": 200, "lr": 0.1}),
        ({"val_rmse": 13.9}, {"max_iter": 200, "lr": 0.05, "folds": 5}),
    ):
        tracking.log_model_version("energy.rul", {"w": 1}, method="gbm", params=params,
                                   metrics=metrics, data=data)  # fmt: skip
    with TestClient(create_app(), follow_redirects=False) as c:
        yield c


def _sign_in(c: TestClient, user: str, tenant: str) -> None:
    c.post("/ui/sign-in", data={"user": user, "password": PASSWORD, "tenant": tenant,
                                "next": "/ui/"})  # fmt: skip


def _rows(page: str) -> dict[str, tuple[list[str], bool]]:
    out = {}
    for cls, name, cells in re.findall(
        r'<tr( class="differs")?><th scope="row">([^<]+)</th>(.*?)</tr>', page
    ):
        out[name] = (re.findall(r"<td>([^<]*)</td>", cells), bool(cls))
    return out


def test_two_versions_side_by_side(client: TestClient) -> None:
    _sign_in(client, "admin", "default")
    listing = client.get("/ui/models").text
    assert 'name="v" value="energy.rul/1"' in listing and "Compare the chosen versions" in listing
    page = client.get("/ui/models/compare", params=[("v", "energy.rul/1"),
                                                    ("v", "energy.rul/2")]).text  # fmt: skip
    rows = _rows(page)
    assert rows["val_rmse"] == (["15.43", "13.9"], True)
    assert rows["val_score"] == (["2,431", ""], True)
    assert rows["max_iter"] == (["200", "200"], False)
    assert rows["lr"] == (["0.1", "0.05"], True) and rows["folds"] == (["", "5"], True)
    assert rows["data rows"] == (["20,631", "20,631"], False)
    assert rows["state"] == (["pending", "pending"], False)
    one = client.get("/ui/models/compare", params={"v": "energy.rul/1"})
    assert one.status_code == 400 and "2 to 6 versions" in one.text
    assert client.get("/ui/models/compare", params=[("v", "energy.rul/1"),
                                                    ("v", "energy.rul/9")]).status_code == 404
    assert client.get("/ui/models/compare", params=[("v", "energy.rul/1"),
                                                    ("v", "nonsense")]).status_code == 400


def test_another_tenant_cannot_compare_them(client: TestClient) -> None:
    _sign_in(client, "eve", "acme")
    r = client.get("/ui/models/compare", params=[("v", "energy.rul/1"), ("v", "energy.rul/2")])
    assert r.status_code == 404 and "val_rmse" not in r.text
