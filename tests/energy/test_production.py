"""energy.production: loader repairs and refusals, Arps fits and EUR, walk-forward without
leakage, the choke what-if, the sector CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import ShuffleSplit
from typer.testing import CliRunner

from odlar.core.errors import DataError, UsageError
from odlar.energy.production.cli import app
from odlar.energy.production.data import load_production
from odlar.energy.production.decline import analyse_well, fit_arps, rate, remaining
from odlar.energy.production.features import add_targets, origin_frame, train_mask
from odlar.energy.production.forecasters import fit_forecaster, walk_forward
from odlar.energy.production.task import ProductionRequest, ProductionTask
from odlar.energy.production.whatif import choke_whatif

HEADER = (
    "DATEPRD,WELL_BORE_CODE,ON_STREAM_HRS,BORE_OIL_VOL,BORE_GAS_VOL,BORE_WAT_VOL,"
    "AVG_CHOKE_SIZE_P,AVG_CHOKE_UOM"
)


def _csv(tmp_path: Path, lines: list[str], name: str = "wells.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *lines]) + "\n")
    return path


def synthetic(days: int = 500, wells: int = 3, seed: int = 0) -> pd.DataFrame:
    """Declining wells whose rates rise with the choke (rate ~ choke^0.6), a few shut-ins."""
    rng = np.random.default_rng(seed)
    rows = []
    for w in range(wells):
        qi, d = 800.0 * (w + 1), 0.002 + 0.001 * w
        choke = 50.0
        for t in range(days):
            if t % 40 == 0:
                choke = float(rng.uniform(30, 70))
            day = pd.Timestamp("2020-01-01") + pd.Timedelta(days=t)
            shut = t % 97 in (50, 51)
            hours = 0.0 if shut else 24.0
            oil = (
                0.0 if shut else qi * np.exp(-d * t) * (choke / 50) ** 0.6 * rng.lognormal(0, 0.03)
            )
            water = 0.0 if shut else oil * (0.2 + t / days) * rng.lognormal(0, 0.03)
            rows.append(
                [
                    f"{day:%Y-%m-%d}",
                    f"W-{w}",
                    hours,
                    oil,
                    oil * 150,
                    water,
                    0 if shut else choke,
                    "%",
                ]
            )
    cols = HEADER.split(",")
    return pd.DataFrame(rows, columns=cols)


@pytest.fixture(scope="module")
def synth_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("synth") / "synthetic.csv"
    synthetic().to_csv(path, index=False)
    return path


# --- loader -------------------------------------------------------------------------


def test_negative_volume_repaired_and_recorded(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        ["2020-01-01,NO A-1,24,100,1000,5,50,%", "2020-01-02,NO A-1,24,99,990,-3.5,50,%"],
    )
    data = load_production(path)
    repair = [r for r in data.summary["repairs"] if r["column"] == "water"]
    assert repair == [
        {"line": 3, "column": "water", "value": -3.5, "action": "set missing",
         "reason": "a volume cannot be negative"}
    ]  # fmt: skip
    assert np.isnan(data.frame["water"].iloc[1]) and data.frame["oil"].iloc[1] == 99
    with pytest.raises(DataError) as e:
        load_production(path, negative="refuse")
    assert str(e.value) == f"{path}:3: column 'water': negative volume -3.5"


def test_on_stream_hours_above_the_day_refused_but_25_at_the_clock_change(tmp_path: Path) -> None:
    ok = _csv(tmp_path, ["2014-10-26,A-1,25,100,1000,5,50,%"], "dst.csv")  # Oslo: 25 h day
    assert load_production(ok).frame["on_stream_hours"].iloc[0] == 25
    bad = _csv(tmp_path, ["2014-10-27,A-1,24,100,1000,5,50,%", "2014-10-28,A-1,25,1,1,1,50,%"])
    with pytest.raises(DataError) as e:
        load_production(bad)
    assert str(e.value).startswith(f"{bad}:3: column 'on_stream_hours': on-stream hours 25")


def test_partial_day_rate_is_normalised_by_hours(tmp_path: Path) -> None:
    path = _csv(tmp_path, ["2020-01-01,A-1,24,100,1000,0,50,%", "2020-01-02,A-1,12,50,500,0,50,%"])
    frame = load_production(path).frame
    assert frame["oil_rate"].tolist() == [100.0, 100.0]
    assert frame["partial"].tolist() == [False, True]


def test_choke_units(tmp_path: Path) -> None:
    in_64 = _csv(tmp_path, ["2020-01-01,A-1,24,100,1000,5,32,1/64"], "c64.csv")
    with pytest.raises(DataError) as e:
        load_production(in_64)
    assert f"{in_64}:2: column 'choke'" in str(e.value) and "choke_full_64ths" in str(e.value)
    data = load_production(in_64, choke_full_64ths=64)
    assert data.frame["choke"].iloc[0] == 50.0
    assert any(r["action"] == "converted" for r in data.summary["repairs"])
    no_unit = tmp_path / "nounit.csv"
    no_unit.write_text("DATEPRD,WELL_BORE_CODE,ON_STREAM_HRS,BORE_OIL_VOL,AVG_CHOKE_SIZE_P\n"
                       "2020-01-01,A-1,24,100,40\n2020-01-02,A-1,24,100,128\n")  # fmt: skip
    with pytest.raises(DataError) as e:
        load_production(no_unit)
    assert str(e.value).startswith(f"{no_unit}:3: column 'choke': choke 128 exceeds 100 %")


def test_missing_days_and_shut_ins_are_visible(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        [
            "2020-01-01,A-1,24,100,1,1,50,%",
            "2020-01-02,A-1,0,0,0,0,0,%",
            "2020-01-05,A-1,24,90,1,1,50,%",
        ],
    )
    data = load_production(path)
    assert data.frame["status"].tolist() == [
        "producing",
        "shut-in",
        "missing",
        "missing",
        "producing",
    ]
    assert any(
        "2 days absent (2020-01-03..2020-01-04)" in r["reason"] for r in data.summary["repairs"]
    )


def test_column_mapping_and_bad_values(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("Day,Well,Hrs,OilVol\n2020-01-01,X,24,10\n2020-01-02,X,24,ten\n")
    with pytest.raises(DataError) as e:
        load_production(
            path, columns={"date": "Day", "well": "Well", "on_stream_hours": "Hrs", "oil": "OilVol"}
        )
    assert str(e.value) == f"{path}:3: column 'oil': 'ten' is not a number"
    with pytest.raises(DataError) as e:
        load_production(path)
    assert "missing column 'date'" in str(e.value)


def test_injectors_told_apart() -> None:
    from conftest import SHARED_DATA

    data = load_production(SHARED_DATA / "energy" / "volve" / "volve_daily.csv")
    wells = data.summary["wells"]
    assert wells["15/9-F-4 AH"]["role"] == "injector"  # its missing days too
    assert wells["15/9-F-4 AH"]["producing"] == 0 and wells["15/9-F-4 AH"]["injecting"] > 3000
    assert wells["15/9-F-5 AH"]["role"] == "producer and injector"
    assert wells["15/9-F-14 H"]["role"] == "producer"
    lines = {r["line"] for r in data.summary["repairs"] if r["column"] == "water"}
    assert lines == {1984, 3504, 5352, 6560}  # the four negative water volumes in Volve
    # every Sm3 of oil is on a producer day: the field total is the README's 10,037,080.61
    from odlar.energy.production.field import field_summary

    assert field_summary(data.frame)["totals"]["oil"] == pytest.approx(10_037_080.6, abs=0.1)


# --- decline curves -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "b"), [("exponential", 0.0), ("hyperbolic", 0.6), ("harmonic", 1.0)]
)
def test_arps_recovers_known_parameters(model: str, b: float) -> None:
    rng = np.random.default_rng(1)
    t = np.arange(0, 900.0)
    q = rate(model, t, 1000.0, 0.004, b, 0.0) * rng.lognormal(0, 0.05, len(t))
    fit = fit_arps(t, q, model)
    assert fit.qi == pytest.approx(1000.0, rel=0.03)
    assert fit.di == pytest.approx(0.004, rel=0.05)
    assert fit.b == pytest.approx(b, abs=0.05)


def test_modified_hyperbolic_turns_exponential_at_the_terminal_decline() -> None:
    t = np.arange(0, 20_000.0)
    q = rate("modified_hyperbolic", t, 1000.0, 0.01, 1.5, 0.06 / 365.25)
    decline = -np.diff(np.log(q))
    assert decline[-1] == pytest.approx(0.06 / 365.25, rel=1e-6)
    assert decline[0] > 5 * decline[-1]


def test_eur_interval_contains_the_truth_on_synthetic_decline() -> None:
    rng = np.random.default_rng(3)
    days = pd.date_range("2020-01-01", periods=700)
    t = np.arange(700.0)
    truth_q = rate("hyperbolic", t, 900.0, 0.003, 0.5, 0.0)
    oil = truth_q * rng.lognormal(0, 0.08, len(t))
    rows = pd.DataFrame(
        {"well": "S-1", "date": days, "status": "producing", "oil": oil, "oil_rate": oil,
         "on_stream_hours": 24.0}
    )  # fmt: skip
    a = analyse_well(rows, boot=150, economic_limit=5.0, years=30.0)
    assert a is not None
    from odlar.energy.production.decline import ArpsFit

    exact = ArpsFit("hyperbolic", 900.0, 0.003, 0.5, 0.0, 0.0, 0.0, np.zeros(1))
    t_now = float((a.last_date - a.segment_start).days)
    true_remaining = remaining(exact, t_now + (a.segment_start - days[0]).days, 1.0, 5.0, 30.0)
    assert a.eur["remaining_low"] <= true_remaining <= a.eur["remaining_high"]
    assert a.eur["eur_low"] < a.eur["eur"] < a.eur["eur_high"]


def test_segments_restart_after_a_workover() -> None:
    days = pd.date_range("2020-01-01", periods=600)
    t = np.arange(600.0)
    q = np.where(t < 300, 1000 * np.exp(-0.004 * t), 900 * np.exp(-0.004 * (t - 300)))
    rows = pd.DataFrame(
        {"well": "S", "date": days, "status": "producing", "oil": q, "oil_rate": q,
         "on_stream_hours": 24.0}
    )  # fmt: skip
    a = analyse_well(rows, boot=0)
    assert a is not None and len(a.segments) == 2
    assert abs((a.segment_start - days[300]).days) <= 31
    assert a.fits[a.best].di == pytest.approx(0.004, rel=0.1)


# --- forecasting --------------------------------------------------------------------


def test_walk_forward_never_trains_on_the_future(synth_path: Path) -> None:
    frame = load_production(synth_path).frame
    _, models = walk_forward(
        frame, "gbm", {"max_iter": 5, "calibration_days": 30, "horizons": [1, 7]},
        start="2020-10-01", stop="2021-01-01", step=30,
    )  # fmt: skip
    assert len(models) == 4
    for m in models:
        assert m.trained_until < m.calibration_start <= m.end
    # the same check on a random split fails: it is a check that can fail
    rows = add_targets(origin_frame(frame), 7)
    rows = rows[rows["oil_target"].notna()].reset_index(drop=True)
    train, test = next(ShuffleSplit(test_size=0.2, random_state=0).split(rows))
    assert rows["target_date"].iloc[train].max() >= rows["date"].iloc[test].min()
    # and train_mask keeps every target before the cut-off
    cut = pd.Timestamp("2020-09-01")
    assert rows.loc[train_mask(rows, cut), "target_date"].max() < cut


def test_intervals_cover_most_of_a_later_period(synth_path: Path) -> None:
    frame = load_production(synth_path).frame
    preds, _ = walk_forward(
        frame, "persistence", {"calibration_days": 60, "horizons": [1]},
        start="2020-12-01", stop="2021-05-01", step=60,
    )  # fmt: skip
    oil = preds[preds["phase"] == "oil"]
    inside = ((oil["truth"] >= oil["lower"]) & (oil["truth"] <= oil["upper"])).mean()
    assert 0.75 <= inside <= 1.0


def test_whatif_is_monotone_in_choke_and_flags_extrapolation(synth_path: Path) -> None:
    frame = load_production(synth_path).frame
    model = fit_forecaster(
        frame, "gbm", {"max_iter": 20, "calibration_days": 60, "horizons": [1, 30]}
    )
    answers = [choke_whatif(model, frame, "W-1", c) for c in (20, 35, 50, 65, 80)]
    for phase in ("oil", "gas", "water"):
        for h in model.horizons:
            series = [
                next(
                    r["rate_at_choke"]
                    for r in a["rates"]
                    if r["phase"] == phase and r["horizon_days"] == h
                )
                for a in answers
            ]
            assert series == sorted(series), (phase, h, series)
            assert min(series) >= 0
    assert all(c["water_cut_at_choke"] >= 0 for a in answers for c in a["water_cut"])
    lo, hi = answers[0]["choke_seen"]
    assert lo >= 29 and hi <= 71
    assert [a["extrapolates"] for a in answers] == [True, False, False, False, True]
    with pytest.raises(UsageError):
        choke_whatif(fit_forecaster(frame, "persistence", {}), frame, "W-1", 50)


def test_predict_round_trip_with_a_choke_whatif(synth_path: Path) -> None:
    task = ProductionTask()
    data = task.load(synth_path)
    model = task.fit(
        data,
        method="gbm",
        params={"max_iter": 20, "calibration_days": 60},
        progress=lambda f, m: None,
    )
    request = task.request_from(data)
    plain = task.predict(model, request)
    assert {r.well for r in plain.predictions} == {"W-0", "W-1", "W-2"}
    assert {r.horizon_days for r in plain.predictions} == {1, 7, 30, 90}
    assert all(r.lower <= r.rate <= r.upper for r in plain.predictions)
    asked = ProductionRequest.model_validate(request.model_dump() | {"choke": {"W-1": 95.0}})
    whatif = task.predict(model, asked)
    w1 = [r for r in whatif.predictions if r.well == "W-1"]
    assert all(r.choke == 95.0 and r.extrapolates for r in w1)
    assert not any(r.extrapolates for r in whatif.predictions if r.well != "W-1")
    short = ProductionRequest.model_validate(
        {
            "wells": [
                {"well": "X", "days": [{"date": "2020-01-01", "oil": 1, "on_stream_hours": 24}]}
            ]
        }
    )
    with pytest.raises(DataError) as e:
        task.predict(model, short)
    assert "forecasts need 30" in str(e.value) and e.value.field == "wells[0].days"


# --- CLI ----------------------------------------------------------------------------


def test_cli_decline_and_errors(synth_path: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["decline", str(synth_path), "--well", "W-0", "--boot", "20", "--json",
                            "--plot", str(tmp_path / "w0.html")])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert '"best"' in r.output and (tmp_path / "w0.html").stat().st_size > 1000
    r = runner.invoke(app, ["decline", str(synth_path), "--map", "oil"])
    assert r.exit_code == 2 and "--map 'oil' is not ours=theirs" in r.output
    r = runner.invoke(app, ["decline", str(tmp_path / "none.csv")])
    assert r.exit_code == 65 and "no such file" in r.output
    r = runner.invoke(app, ["whatif", str(synth_path), "--well", "W-9", "--choke", "50", "--fit",
                            "--max-iter", "5"])  # fmt: skip
    assert r.exit_code == 65 and "no well 'W-9'" in r.output


def test_cli_field_view(synth_path: Path) -> None:
    r = CliRunner().invoke(app, ["field", str(synth_path), "--json"])
    assert r.exit_code == 0, r.output
    import json

    summary = json.loads(r.output)
    shares = [w["share_of_oil"] for w in summary["wells"].values()]
    assert sum(shares) == pytest.approx(1.0, abs=1e-3)
    assert all(0 <= m["water_cut"] <= 1 for m in summary["field"] if m["water_cut"] is not None)


# --- API ----------------------------------------------------------------------------


def test_api_predict_and_whatif(home: Path, synth_path: Path) -> None:
    from fastapi.testclient import TestClient

    from odlar.core import jobs
    from odlar.governance.accounts import ensure_admin
    from odlar.server.app import create_app

    spec = jobs.FitSpec(
        task="energy.production", data=str(synth_path), method="gbm",
        params={"max_iter": 10, "calibration_days": 60},
    )  # fmt: skip
    version = jobs.run(jobs.create(spec).id).result["model"]["version"]
    task = ProductionTask()
    request = task.request_from(task.load(synth_path))
    wells = [json_ready(w.model_dump()) for w in request.wells[:1]]
    url = "/api/v1/tasks/energy.production/predict"
    with TestClient(create_app()) as client:
        client.headers["Authorization"] = f"Bearer {ensure_admin()}"
        r = client.post(url, json={"wells": wells, "horizons": [1, 7], "choke": {"W-0": 99}})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["model_version"] == version
        assert {p["horizon_days"] for p in body["predictions"]} == {1, 7}
        assert all(p["extrapolates"] and p["choke"] == 99 for p in body["predictions"])
        short = [dict(wells[0], days=wells[0]["days"][-5:])]
        r = client.post(url, json={"wells": short})
        assert r.status_code == 422 and r.json()["field"] == "wells[0].days"
        r = client.post(url, json={"wells": wells, "choke": {"W-0": 150}})
        assert r.status_code == 422


def json_ready(well: dict) -> dict:
    return {"well": well["well"], "days": [dict(d, date=str(d["date"])) for d in well["days"]]}


def test_monthly_volve_gives_the_same_eur_as_daily() -> None:
    from conftest import SHARED_DATA

    folder = SHARED_DATA / "energy" / "volve"
    monthly = load_production(folder / "volve_monthly.csv")
    assert monthly.summary["frequency"] == "monthly"
    assert monthly.summary["repairs"][0] == {
        "line": 2, "column": "year", "value": None, "action": "skipped",
        "reason": "a units row, not data",
    }  # fmt: skip
    daily = load_production(folder / "volve_daily.csv").frame
    m = analyse_well(monthly.frame[monthly.frame["well"] == "15/9-F-14"], boot=0, min_days=6)
    d = analyse_well(daily[daily["well"] == "15/9-F-14 H"], boot=0)
    assert m is not None and d is not None
    assert m.cumulative == pytest.approx(d.cumulative, rel=1e-6)  # the same oil, summed
    assert m.eur["eur"] == pytest.approx(d.eur["eur"], rel=0.03)


def test_departure_alert_for_a_well_below_its_band(tmp_path: Path) -> None:
    from odlar.energy.production.field import departures

    raw = synthetic()
    raw = raw[~((raw["WELL_BORE_CODE"] == "W-2") & (raw["DATEPRD"] > "2021-03-01"))]  # stops
    late = (raw["WELL_BORE_CODE"] == "W-0") & (raw["DATEPRD"] > "2021-04-15")
    raw.loc[late, "BORE_OIL_VOL"] *= 0.3  # W-0 loses 70 % of its oil at the end
    path = tmp_path / "late.csv"
    raw.to_csv(path, index=False)
    frame = load_production(path).frame
    model = fit_forecaster(frame, "persistence", {"end": "2021-04-01", "calibration_days": 60})
    alerts = {a.key: a for a in departures(model, frame, days=30)}
    # W-1 may alert too: its choke moves every 40 days and the forecast holds the choke
    assert "W-0" in alerts and "W-2" not in alerts
    assert alerts["W-0"].kind == "production_departure" and "below" in alerts["W-0"].detail
    assert alerts["W-0"].score == max(a.score for a in alerts.values())


def test_excel_workbook_daily_sheet(tmp_path: Path) -> None:
    path = tmp_path / "Volve production data.xlsx"
    with pd.ExcelWriter(path) as book:
        pd.DataFrame({"Wellbore name": ["x"]}).to_excel(book, sheet_name="Monthly Production Data")
        synthetic(days=40, wells=1).to_excel(book, sheet_name="Daily Production Data", index=False)
    data = load_production(path)
    assert data.summary["frequency"] == "daily" and data.rows == 40
    with pytest.raises(DataError) as e:
        load_production(path, sheet="Nope")
    assert "no sheet 'Nope'" in str(e.value)
