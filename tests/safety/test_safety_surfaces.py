"""The safety sector's API routes and console pages: a day's forecast as GeoJSON and on a
map, stationing plans compared by dispatch replay, documented 4xx errors in JSON and in
the page, roles, and tenant isolation. Data: Chicago's recorded incidents of September to
December 2017 (the ST-HSL release), a historical-average model on them."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conftest import SHARED_DATA
from odlar.governance import accounts

PASSWORD = "safety-surfaces-password"


@pytest.fixture(scope="module")
def autumn(tmp_path_factory: pytest.TempPathFactory):
    """Chicago's incidents from 2017-09-01 as a Parquet upload (typed columns: the upload's
    personal-data scan reads only its text column, the categories), and an ha model."""
    from odlar.core.tasks import get_task
    from odlar.safety.incidents import load_incidents

    frame, _, _ = load_incidents(SHARED_DATA / "safety" / "crime" / "CHI_Crime.zip")
    path = tmp_path_factory.mktemp("chicago") / "chicago-autumn-2017.parquet"
    frame[frame["time"] >= "2017-09-01"].drop(columns="line").to_parquet(path, index=False)
    task = get_task("safety.hotspots")
    data = task.load(path)
    model = task.fit(data, method="ha", params={}, progress=lambda f, m: None)
    return path, data, model


@pytest.fixture
def city(home: Path, autumn):
    """Tenant 'acme' owns the incidents and safety.hotspots version 1; 'default' neither."""
    from odlar.core import datasets, tracking
    from odlar.server.app import create_app

    path, data, model = autumn
    admin = accounts.ensure_admin()
    accounts.create_tenant("acme", actor="test")
    accounts.create_user("eve", "operator", tenant="acme", actor="test", password=PASSWORD)
    accounts.create_user("val", "viewer", tenant="acme", actor="test", password=PASSWORD)
    accounts.set_password("admin", PASSWORD, tenant="default", actor="test")
    rec = datasets.save_upload("safety.hotspots", path.name, path.read_bytes(), tenant="acme")
    tracking.log_model_version(
        "safety.hotspots", model, method="ha", params=model.params, metrics={}, data=data,
        tenant="acme",
    )  # fmt: skip
    with TestClient(create_app(), follow_redirects=False) as client:
        yield {
            "client": client,
            "id": rec["id"],
            "eve": accounts.create_token("eve", tenant="acme", actor="test"),
            "val": accounts.create_token("val", tenant="acme", actor="test"),
            "admin": admin,
        }


def _as(city: dict, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {city[who]}"}


def test_api_routes(city: dict) -> None:
    """Both routes with one platform state (each fixture start costs seconds)."""
    _forecast_geojson_route(city)
    _stationing_plans_route(city)


def _forecast_geojson_route(city: dict) -> None:
    c, ref = city["client"], city["id"]
    r = c.get("/api/v1/safety/forecast", headers=_as(city, "eve"),
              params={"data": ref, "category": "theft", "top": 5})  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["type"] == "FeatureCollection" and body["day"] == "2018-01-01"
    assert body["model_version"] == 1 and body["grid"] == {"rows": 14, "cols": 12}
    props = [f["properties"] for f in body["features"]]
    assert len(props) == 5 and {p["category"] for p in props} == {"THEFT"}
    assert [p["expected"] for p in props] == sorted((p["expected"] for p in props), reverse=True)
    ring = body["features"][0]["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) == 5  # a closed square, [lon, lat]
    assert -88.0 < ring[0][0] < -87.4 and 41.6 < ring[0][1] < 42.1
    # a chosen day forecasts from the days before it only
    day = c.get("/api/v1/safety/forecast", headers=_as(city, "eve"),
                params={"data": ref, "day": "2017-12-01", "top": 1})  # fmt: skip
    assert day.status_code == 200 and day.json()["day"] == "2017-12-01"
    # documented errors: one line each, 4xx
    for params, status, words in (
        ({"data": ref, "category": "arson"}, 400, "the model forecasts THEFT"),
        ({"data": ref, "day": "2019-05-01"}, 400, "choose a day from 2017-10-01 to 2018-01-01"),
        ({"data": ref, "dayy": "2017-12-01"}, 400, "unknown query parameter"),
        ({"data": "no/such/file.csv"}, 404, "not found"),
    ):
        bad = c.get("/api/v1/safety/forecast", headers=_as(city, "eve"), params=params)
        assert bad.status_code == status and words in bad.json()["detail"], bad.text
    viewer = c.get("/api/v1/safety/forecast", headers=_as(city, "val"), params={"data": ref})
    assert viewer.status_code == 403
    # tenant isolation: acme's upload is unknown to tenant default, which has no model
    other = c.get("/api/v1/safety/forecast", headers=_as(city, "admin"), params={"data": ref})
    assert other.status_code == 404
    chicago = c.get("/api/v1/safety/forecast", headers=_as(city, "admin"),
                    params={"data": "safety/crime/CHI_Crime.zip"})  # fmt: skip
    assert chicago.status_code == 404 and "safety.hotspots" in chicago.json()["detail"]
    from odlar.core import audit

    logged = [e for e in audit.events(tenant="acme") if e["action"] == "predict"]
    assert len(logged) == 2 and all(e["target"] == "safety.hotspots" for e in logged)


def _stationing_plans_route(city: dict) -> None:
    c, ref = city["client"], city["id"]
    body = {"data": ref, "methods": ["pmedian", "lscp"], "stations": 6, "crews": 20,
            "replay_days": 2}  # fmt: skip
    r = c.post("/api/v1/safety/plans", headers=_as(city, "eve"), json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["replay_from"] == "2017-12-30" and out["demand_day"] == "2017-12-30"
    assert out["incidents"] > 100 and out["demand_cells"] > 50
    pmedian, lscp = out["plans"]
    assert pmedian["method"] == "pmedian" and pmedian["stations"] == 6
    assert sum(s["crews"] for s in pmedian["stations_at"]) == 20
    assert lscp["weighted_coverage_pct"] == 100.0  # set covering reaches every demand cell
    for plan in out["plans"]:
        assert 0 <= plan["within_8min_pct"] <= plan["within_12min_pct"] <= 100
        assert plan["incidents"] == out["incidents"]
    for change, words in (
        ({"crews": 3}, "every station needs a crew"),
        ({"replay_from": "2017-12-30", "replay_days": 5}, "runs past the data's last day"),
    ):
        bad = c.post("/api/v1/safety/plans", headers=_as(city, "eve"), json=body | change)
        assert bad.status_code == 400 and words in bad.json()["detail"], bad.text
    assert c.post("/api/v1/safety/plans", headers=_as(city, "eve"),
                  json=body | {"methods": ["kmeans"]}).status_code == 422  # fmt: skip
    assert c.post("/api/v1/safety/plans", headers=_as(city, "val"), json=body).status_code == 403


def _signed_in(client: TestClient, user: str, tenant: str) -> TestClient:
    r = client.post(
        "/ui/sign-in", data={"user": user, "password": PASSWORD, "tenant": tenant, "next": "/ui/"}
    )
    assert r.status_code == 303, r.text
    return client


def test_console_map_and_stationing_pages(city: dict) -> None:
    c, ref = _signed_in(city["client"], "eve", "acme"), city["id"]
    page = c.get("/ui/safety/forecast", params={"data": ref})
    assert page.status_code == 200, page.text
    assert 'href="/ui/safety/forecast"' in page.text and 'href="/ui/safety/stations"' in page.text
    assert "Hot spots: THEFT" in page.text and '"type": "heatmap"' in page.text.replace(
        "&#34;", '"'
    )
    assert "mapbox" not in page.text and "https://" not in page.text  # no tiles, no CDN
    # the form's empty boxes are what a browser sends: `day=&category=`
    empty = c.get("/ui/safety/forecast", params={"data": ref, "day": "", "category": ""})
    assert empty.status_code == 200 and "Hot spots: THEFT" in empty.text
    baddate = c.get("/ui/safety/forecast", params={"data": ref, "day": "2017-13-01"})
    assert baddate.status_code == 400 and "day: &#39;2017-13-01&#39; is not a date" in baddate.text
    bad = c.get("/ui/safety/forecast", params={"data": ref, "category": "arson"})
    assert bad.status_code == 400 and 'role="alert"' in bad.text
    assert "the model forecasts THEFT" in bad.text
    plans = c.get("/ui/safety/stations",
                  params={"data": ref, "stations": 6, "crews": 20, "replay_days": 2})  # fmt: skip
    assert plans.status_code == 200, plans.text
    assert plans.text.count("<tr data-method=") == 3 and "within 12 min" in plans.text
    blank = c.get("/ui/safety/stations", params={"data": ref, "stations": "0", "replay_from": ""})
    assert blank.status_code == 400 and "stations 0: choose from 1 to 500" in blank.text
    refused = c.get("/ui/safety/stations", params={"data": ref, "crews": 3})
    assert refused.status_code == 400 and "every station needs a crew" in refused.text
    # a viewer sees the page but runs no forecast
    v = _signed_in(city["client"], "val", "acme")
    assert v.get("/ui/safety/forecast").status_code == 200
    assert v.get("/ui/safety/forecast", params={"data": ref}).status_code == 403
    # another tenant cannot read acme's incidents through the console either
    a = _signed_in(city["client"], "admin", "default")
    other = a.get("/ui/safety/forecast", params={"data": ref})
    assert other.status_code == 404 and "Hot spots" not in other.text
