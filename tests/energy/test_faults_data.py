"""Imperfect sensor data: every repair is recorded, everything else is refused with the file,
line and column; live, frozen and dead sensors raise their own alerts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from odlar.core.errors import DataError
from odlar.energy.faults.fault_model import fit_faults
from odlar.energy.faults.monitor import StreamMonitor
from odlar.energy.faults.streams import MAX_FILL, load_table

QUIET = lambda f, m: None  # noqa: E731


def _frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, 1))
    return pd.DataFrame(
        {
            "timestamp": pd.date_range("2026-01-01", periods=n, freq="s").astype(str),
            "flow": base[:, 0] + 0.1 * rng.normal(size=n),
            "pressure": 2 * base[:, 0] + 0.1 * rng.normal(size=n),
            "temp": rng.normal(size=n),
        }
    )


def _write(tmp_path: Path, frame: pd.DataFrame, name: str = "s.csv") -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def _kinds(table) -> dict[str, object]:
    return {r.kind: r for r in table.repairs}


def test_missing_values_filled_and_recorded(tmp_path: Path) -> None:
    f = _frame()
    f.loc[[5, 6, 7], "flow"] = np.nan
    f.loc[100 : 100 + MAX_FILL + 5, "temp"] = np.nan
    t = load_table(_write(tmp_path, f))
    kinds = [(r.kind, r.column, r.rows) for r in t.repairs]
    assert ("gaps_filled", "flow", 3) in kinds
    assert ("long_gap_filled", "temp", MAX_FILL + 6) in kinds
    assert np.isfinite(t.values).all()
    assert t.values[6, t.variables.index("flow")] == f.loc[4, "flow"]  # carried forward


def test_out_of_order_and_duplicate_timestamps(tmp_path: Path) -> None:
    f = _frame()
    f = pd.concat([f.iloc[10:20], f.iloc[:10], f.iloc[20:], f.iloc[[50]]], ignore_index=True)
    t = load_table(_write(tmp_path, f))
    kinds = _kinds(t)
    assert kinds["sorted_by_time"].rows > 0
    assert kinds["duplicate_timestamps_dropped"].rows == 1
    assert len(t.values) == 300 and (np.diff(t.time) > np.timedelta64(0)).all()


def test_dead_and_frozen_sensors_dropped_at_training(tmp_path: Path) -> None:
    f = _frame()
    f["dead"] = np.nan
    f["stuck"] = 4.2
    t = load_table(_write(tmp_path, f))
    assert t.variables == ["flow", "pressure", "temp"]
    details = {r.column: r.detail for r in t.repairs if r.kind == "sensor_dropped"}
    assert "dead sensor" in details["dead"] and "frozen sensor" in details["stuck"]


@pytest.mark.parametrize(
    ("edit", "message", "line", "column"),
    [
        (
            lambda f: f.assign(flow=f["flow"].astype(object).where(f.index != 7, "n/a")),
            "'n/a' is not a number",
            9,
            "flow",
        ),
        (
            lambda f: f.assign(timestamp=f["timestamp"].where(f.index != 3, "yesterday")),
            "'yesterday' is not a timestamp",
            5,
            "timestamp",
        ),
        (
            lambda f: f.assign(flow=f["flow"].where(f.index != 4, np.inf)),
            "value is infinite",
            6,
            "flow",
        ),
    ],
)
def test_bad_values_refused_with_line_and_column(tmp_path, edit, message, line, column) -> None:
    path = _write(tmp_path, edit(_frame()))
    with pytest.raises(DataError) as e:
        load_table(path)
    assert message in str(e.value) and e.value.line == line and e.value.field == column
    assert str(path) in str(e.value)


def test_empty_and_header_only_files(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header.csv").write_text("timestamp,flow\n")
    with pytest.raises(DataError, match="empty"):
        load_table(tmp_path / "empty.csv")
    with pytest.raises(DataError, match="no rows"):
        load_table(tmp_path / "header.csv")


def test_unknown_and_missing_columns_at_prediction(tmp_path: Path) -> None:
    model = fit_faults([load_table(_write(tmp_path, _frame()))], "pca", {"components": 2}, QUIET)
    extra = _frame(seed=1).assign(vibration=1.0)
    t = load_table(_write(tmp_path, extra, "extra.csv"), variables=model.variables)
    ignored = _kinds(t)["columns_ignored"]
    assert ignored.column == "vibration"
    with pytest.raises(DataError) as e:
        load_table(
            _write(tmp_path, _frame().drop(columns="pressure"), "less.csv"),
            variables=model.variables,
        )
    assert e.value.field == "pressure" and "missing sensor column" in str(e.value)


def test_live_frozen_dead_sensor_alerts_and_late_rows(tmp_path: Path) -> None:
    model = fit_faults(
        [load_table(_write(tmp_path, _frame(2000)))], "pca", {"components": 2}, QUIET
    )
    monitor = StreamMonitor(model)
    live = _frame(600, seed=3)[model.variables].to_numpy().copy()
    live[100:400, 2] = live[100, 2]  # temp freezes for 300 samples
    live[450:480, 0] = np.nan  # flow stops reporting for 30 samples
    times = np.datetime64("2026-02-01T00:00:00") + np.arange(600).astype("timedelta64[s]")
    changes, repairs = [], []
    for start in range(0, 600, 50):
        r = monitor.push(live[start : start + 50], times[start : start + 50])
        changes += r.changes
        repairs += r.repairs
    events = [(c.action, c.key) for c in changes if c.kind != "process"]
    assert ("open", "sensor_frozen:temp") in events and ("clear", "sensor_frozen:temp") in events
    assert ("open", "sensor_dead:flow") in events and ("clear", "sensor_dead:flow") in events
    assert sum(r.rows for r in repairs if r.kind == "gaps_filled") == 30
    late = monitor.push(live[:5], times[:5])  # replayed rows are dropped, and say so
    assert len(late.scores) == 0 and late.repairs[0].kind == "late_rows_dropped"
