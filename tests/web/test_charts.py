"""Each console chart answers one question (issue 16): metrics with unrelated units each on
their own axis, skills as categories, a unit's trends only for the sensors a model uses,
traffic scenarios by name, not by their install path."""

from __future__ import annotations

from conftest import SHARED_DATA
from odlar.education.web import mastery_figure
from odlar.web.pages import metric_panels


def test_job_metrics_each_on_their_own_axis() -> None:
    figure = metric_panels({"val_score": 2433.0, "rmse": 13.2, "nasa_score": 310.0}, "m")
    axes = [(t["xaxis"], t["yaxis"]) for t in figure["data"]]
    assert len(set(axes)) == 3, "one panel per metric, none sharing an axis"
    assert figure["layout"]["grid"]["pattern"] == "independent"
    assert [t["y"] for t in figure["data"]] == [[2433.0], [13.2], [310.0]]


def test_student_mastery_skills_are_categories() -> None:
    figure = mastery_figure([{"skill": 41, "mastery": 0.2, "answers": 4},
                             {"skill": 7, "mastery": 0.6, "answers": 1}])  # fmt: skip
    assert figure["layout"]["yaxis"]["type"] == "category"
    assert figure["data"][0]["y"] == ["41", "7"]
    assert figure["data"][0]["text"] == ["4 answers", "1 answer"]


def test_unit_trends_only_the_sensors_a_model_uses() -> None:
    from odlar.energy.cmapss import load_fleet
    from odlar.energy.web import sensor_panels, trend_sensors

    frame = load_fleet(SHARED_DATA / "energy" / "cmapss" / "train_FD001.txt").frame
    sensors = trend_sensors(frame)
    assert sensors and not any(c.startswith("setting") for c in sensors)
    assert len(sensors) < len(frame.columns) - 2 - 3  # flat FD001 sensors left out too
    unit = frame[frame["unit"] == frame["unit"].iloc[0]]
    figure = sensor_panels(unit, sensors, "t")
    assert len({t["yaxis"] for t in figure["data"]}) == len(sensors)


def test_traffic_scenarios_by_name(tmp_path, home) -> None:
    from odlar.mobility.scenarios import display_name, resco_dir

    assert display_name(str(resco_dir() / "cologne1")) == "resco:cologne1"
    assert display_name(str(resco_dir() / "cologne1" / "cologne1.net.xml")) == "resco:cologne1"
    assert display_name(str(tmp_path / "mine")) == str(tmp_path / "mine")
    assert display_name(None) == "-"
