"""safety.hotspots and safety.response: loader errors, the published split, baselines,
calibration, the governance checks, the San Francisco siting anchor and dispatch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED_DATA
from odlar.core.errors import DataError
from odlar.core.tasks import get_task
from odlar.safety.hotspots.task import CITIES, published_split
from odlar.safety.response import dispatch
from odlar.safety.response.siting import load_problem, plan_metrics, sf_example, solve

CRIME = SHARED_DATA / "safety" / "crime"
HEADER = "time,category,latitude,longitude\n"


@pytest.fixture(scope="module")
def chicago():
    task = get_task("safety.hotspots")
    return task, task.load(CRIME / "CHI_Crime.zip", skip_first_record=True)


@pytest.fixture(scope="module")
def chicago_ha(chicago):
    task, data = chicago
    spec = CITIES["chicago"]
    params = {"train_until": spec["train_until"], "categories": list(spec["categories"])}
    return task.fit(data, method="ha", params=params, progress=lambda f, m: None)


@pytest.mark.parametrize(
    ("body", "line", "column"),
    [
        ("2017-01-01T10:00,THEFT,41.8,-87.6\nyesterday,THEFT,41.8,-87.6\n", 3, "time"),
        ("2017-01-01T10:00,THEFT,41.8,-87.6\n2017-01-02T10:00,THEFT,95,-87.6\n", 3, "latitude"),
        ("2017-01-01T10:00,THEFT,41.8,east\n", 2, "longitude"),
        ("2017-01-01T10:00,,41.8,-87.6\n", 2, "category"),
    ],
)
def test_loader_names_file_line_and_column(
    tmp_path: Path, body: str, line: int, column: str
) -> None:
    bad = tmp_path / "incidents.csv"
    bad.write_text(HEADER + body)
    with pytest.raises(DataError) as e:
        get_task("safety.hotspots").load(bad)
    assert e.value.line == line and e.value.field == column
    assert str(e.value).startswith(f"{bad}:{line}: column '{column}'")


def test_loader_reads_the_new_york_release_and_refuses_missing_columns(tmp_path: Path) -> None:
    nyc = tmp_path / "nyc.csv"
    nyc.write_text(
        "Occurrence Date,Day of Week,Offense,Sector,Precinct,Latitude,Longitude\n"
        "10/02/2015 12:11:00 PM,Monday,GRAND LARCENY,B,25,40.80,-73.93\n"
    )
    data = get_task("safety.hotspots").load(nyc)
    assert data.rows == 1 and data.frame["category"].iloc[0] == "GRAND LARCENY"
    nocol = tmp_path / "nocol.csv"
    nocol.write_text("time,category,latitude\n2017-01-01,THEFT,41.8\n")
    with pytest.raises(DataError, match="missing column.*longitude"):
        get_task("safety.hotspots").load(nocol)


def test_chicago_split_reproduces_the_published_tensors(chicago) -> None:
    """Shapes and per-category totals of trn.pkl, val.pkl and tst.pkl as the published
    script (STHSL Datasets/CHI_crime/dataProcessing_CHI.py) writes them, read from the
    repository's pickles."""
    _, data = chicago
    split = published_split(data, "chicago")
    assert {k: v.shape for k, v in split.items()} == {
        "train": (14, 12, 609, 4),
        "val": (14, 12, 30, 4),
        "test": (14, 12, 92, 4),
    }
    totals = {k: v.sum(axis=(0, 1, 2)).tolist() for k, v in split.items()}
    assert totals == {
        "train": [102991, 83491, 31763, 50570],
        "val": [5452, 4389, 1783, 2411],
        "test": [16187, 11509, 4426, 6904],
    }


def test_nyc_split_matches_the_published_validation_and_test_tensors() -> None:
    task = get_task("safety.hotspots")
    split = published_split(task.load(CRIME / "NYC_Crime.zip"), "nyc")
    assert split["val"].shape == (16, 16, 30, 4) and split["test"].shape == (16, 16, 92, 4)
    assert split["val"].sum(axis=(0, 1, 2)).tolist() == [1368, 3741, 1519, 1798]
    assert split["test"].sum(axis=(0, 1, 2)).tolist() == [3917, 10601, 4593, 4836]


def test_historical_average_reproduces_the_measured_reference(chicago, chicago_ha) -> None:
    task, data = chicago
    report = task.evaluate(chicago_ha, data)
    assert report.details["days"] == 92 and report.details["first_day"] == "2017-10-01"
    assert report.metrics["mae"] == pytest.approx(1.076, abs=0.0006)  # BENCHMARKS.md s.7


def test_probability_of_an_incident_is_calibrated_on_held_out_days(chicago, chicago_ha) -> None:
    task, data = chicago
    report = task.evaluate(chicago_ha, data)  # the 92 test days: not used for calibration
    assert report.metrics["calibration_error"] < 0.02
    bins = [b for b in report.details["reliability"] if b["cell_days"] >= 500]
    assert len(bins) >= 5
    assert all(abs(b["forecast"] - b["observed"]) < 0.06 for b in bins)


class _WorseInOneDistrict:
    """A forecaster that adds three incidents a day in the cells of district 0."""

    def __init__(self, inner, cells: np.ndarray) -> None:
        self.inner, self.cells = inner, cells

    def mean(self, past, days):
        out = self.inner.mean(past, days).copy()
        out[self.cells] += 3.0
        return out


def test_district_error_audit_fails_a_model_bad_in_one_district(chicago, chicago_ha) -> None:
    import copy

    from odlar.safety.hotspots.audit import district_of_cells

    task, data = chicago
    good = {r.name: r for r in task.robustness(chicago_ha, data)}
    assert good["per-district error audit"].passed
    bad_model = copy.copy(chicago_ha)
    district = district_of_cells(chicago_ha)
    per_cell = published_split(data, "chicago")["train"].sum(axis=(2, 3)).reshape(-1)
    busiest = int(np.bincount(district, weights=per_cell).argmax())  # most incidents
    bad_model.forecaster = _WorseInOneDistrict(chicago_ha.forecaster, district == busiest)
    audit = {r.name: r for r in task.robustness(bad_model, data)}["per-district error audit"]
    assert not audit.passed and audit.value > 1.5 and f"district {busiest}" in audit.detail
    assert "feedback simulation" in good


def test_documentation_states_prohibited_use_and_feedback_failure_mode() -> None:
    task = get_task("safety.hotspots")
    text = " ".join(task.limitations)
    assert "Article 5(1)(d)" in text and "individual person" in text
    assert "Ensign et al. 2018" in text
    assert task.risk.tier.value == "high" and "policing" in task.risk.reason


def test_sf_mclp_anchor_is_reproduced_from_the_wheel_data() -> None:
    problem, _ = load_problem(sf_example())
    assert len(problem.demand_ids) == 205 and len(problem.site_ids) == 16
    sites = solve(problem, "mclp", p=4, radius=5000.0)
    chosen = np.array([problem.site_ids.index(s) for s in sites])
    assert round(plan_metrics(problem, chosen, 5000.0)["coverage_pct"], 2) == 89.76


def test_siting_loader_names_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "costs.csv"
    bad.write_text("demand,site,cost,weight\nd1,s1,10,5\nd1,s2,-3,5\n")
    with pytest.raises(DataError) as e:
        load_problem(bad)
    assert e.value.line == 3 and e.value.field == "cost"


def test_dispatch_sends_the_nearest_free_crew_and_one_incident_at_a_time() -> None:
    # two stations, one crew each; travel minutes from station 0 and station 1
    travel = np.array([[2.0, 9.0], [3.0, 4.0], [5.0, 1.0], [2.0, 2.0]])
    times = np.array([0.0, 1.0, 2.0, 100.0])
    out = dispatch.simulate(times, travel, np.array([0, 1]), on_scene_min=30.0)
    assert out.crew.tolist()[0] == 0  # nearest free
    assert out.crew.tolist()[1] == 1  # crew 0 busy: the free one goes, though farther
    # nobody free at minute 2: the crew able to arrive first, crew 0 (free at 0+2*2+30=34,
    # there at 39) rather than crew 1 (free at 1+2*4+30=39, there at 40)
    assert out.crew[2] == 0 and out.start_min[2] == pytest.approx(34.0)
    assert out.response_min[2] == pytest.approx(34.0 - 2.0 + 5.0)
    for c in (0, 1):  # a crew never starts before it finished its previous incident
        mine = np.flatnonzero(out.crew == c)
        assert np.all(out.start_min[mine][1:] >= out.free_min[mine][:-1])
    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(0, 600, 200))
    tr = rng.uniform(1, 15, (200, 5))
    big = dispatch.simulate(t, tr, dispatch.crews_at(5, 8))
    for c in range(8):
        mine = np.flatnonzero(big.crew == c)
        assert np.all(big.start_min[mine][1:] >= big.free_min[mine][:-1])
    free_when = {}
    for i in range(len(t)):  # when some crew was free, the chosen one was the nearest free
        idle = [c for c in range(8) if free_when.get(c, 0.0) <= t[i]]
        if idle:
            stations = dispatch.crews_at(5, 8)
            assert tr[i, stations[big.crew[i]]] == min(tr[i, stations[c]] for c in idle)
        free_when[big.crew[i]] = big.free_min[i]


def test_cli_site_writes_the_sf_plan_and_refuses_a_bad_file(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from odlar.safety.cli import app

    out = tmp_path / "plan.json"
    ok = CliRunner().invoke(app, ["site", str(sf_example()), "--p", "4", "-o", str(out)])
    assert ok.exit_code == 0, ok.output
    assert "89.76%" in ok.output and json.loads(out.read_text())["metrics"]["sites"] == 4
    bad = tmp_path / "bad.csv"
    bad.write_text("demand,site,cost\nd1,s1,3\n")
    failed = CliRunner().invoke(app, ["site", str(bad)])
    assert failed.exit_code == 65 and "bad.csv" in failed.output and "weight" in failed.output


def test_checks_and_documentation_of_a_hotspots_model(home: Path) -> None:
    from odlar.core import jobs, tracking
    from odlar.governance import checks, documentation

    spec = jobs.FitSpec(task="safety.hotspots", data=str(CRIME / "CHI_Crime.zip"), method="ha",
                        params={"train_until": "2017-10-01"})  # fmt: skip
    job = jobs.create(spec, tenant="default", created_by="test")
    version = int(jobs.run(job.id).result["model"]["version"])
    report = checks.run(tracking.get_version("safety.hotspots", version, tenant="default"))
    names = {c["name"] for c in report["checks"]}
    assert {"robustness: per-district error audit", "robustness: feedback simulation"} <= names
    assert "metric val_calibration_error" in names
    metric_checks = [c for c in report["checks"] if c["name"].startswith("metric")]
    assert len(metric_checks) == 2 and all(c["passed"] for c in metric_checks), metric_checks
    doc = documentation.to_markdown(
        documentation.build("safety.hotspots", version, tenant="default")
    )
    assert "Article 5(1)(d)" in doc and "Ensign et al. 2018" in doc
    assert "per-district error audit" in doc
