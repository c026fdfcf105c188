"""The fleet loader names the file, line and column of every problem."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from odlar.core.errors import DataError
from odlar.energy.cmapss import CMAPSS_COLUMNS, load_fleet


def _lines(cmapss: Path, n: int) -> list[str]:
    with (cmapss / "train_FD001.txt").open() as f:
        return [next(f) for _ in range(n)]


def test_loads_fd001(cmapss: Path) -> None:
    ds = load_fleet(cmapss / "train_FD001.txt")
    assert ds.rows == 20631
    assert ds.summary["units"] == 100
    assert list(ds.frame.columns) == CMAPSS_COLUMNS
    assert len(ds.sha256) == 64


def test_test_set_finds_truth_beside_it(cmapss: Path) -> None:
    ds = load_fleet(cmapss / "test_FD001.txt")
    assert ds.truth is not None and len(ds.truth) == 100
    assert ds.truth.iloc[0] == 112  # first line of RUL_FD001.txt


def test_wrong_column_count(tmp_path: Path, cmapss: Path) -> None:
    lines = _lines(cmapss, 5)
    lines[3] = " ".join(lines[3].split()[:-2]) + "\n"
    bad = tmp_path / "short.txt"
    bad.write_text("".join(lines))
    with pytest.raises(DataError) as e:
        load_fleet(bad)
    assert e.value.line == 4
    assert "expected 26 columns" in str(e.value) and "found 24" in str(e.value)
    assert str(bad) in str(e.value)


def test_text_in_numeric_column(tmp_path: Path, cmapss: Path) -> None:
    lines = _lines(cmapss, 5)
    fields = lines[2].split()
    fields[7] = "n/a"
    lines[2] = " ".join(fields) + "\n"
    bad = tmp_path / "text.txt"
    bad.write_text("".join(lines))
    with pytest.raises(DataError) as e:
        load_fleet(bad)
    assert (e.value.line, e.value.field) == (3, "sensor_3")
    assert "'n/a' is not a number" in str(e.value)


def test_cycles_must_increase_within_unit(tmp_path: Path, cmapss: Path) -> None:
    lines = _lines(cmapss, 6)
    lines[4], lines[5] = lines[5], lines[4]
    bad = tmp_path / "order.txt"
    bad.write_text("".join(lines))
    with pytest.raises(DataError) as e:
        load_fleet(bad)
    assert (e.value.line, e.value.field) == (6, "cycle")
    assert "cycles must increase" in str(e.value)


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_empty_file(tmp_path: Path, content: str) -> None:
    bad = tmp_path / "empty.txt"
    bad.write_text(content)
    with pytest.raises(DataError, match="empty|no data rows"):
        load_fleet(bad)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        load_fleet(tmp_path / "nope.csv")


def _csv_fleet(tmp_path: Path, cmapss: Path) -> pd.DataFrame:
    return load_fleet(cmapss / "train_FD001.txt").frame.head(400).copy()


def test_csv_round_trip_and_interleaved_units(tmp_path: Path, cmapss: Path) -> None:
    frame = _csv_fleet(tmp_path, cmapss).sample(frac=1.0, random_state=0).sort_values("cycle")
    path = tmp_path / "fleet.csv"
    frame.to_csv(path, index=False)
    ds = load_fleet(path)
    assert ds.rows == 400 and ds.summary["units"] == frame["unit"].nunique()


def test_csv_errors_name_line_and_column(tmp_path: Path, cmapss: Path) -> None:
    frame = _csv_fleet(tmp_path, cmapss)
    text = frame.astype(object)
    text.loc[9, "sensor_4"] = "broken"
    path = tmp_path / "text.csv"
    text.to_csv(path, index=False)
    with pytest.raises(DataError) as e:
        load_fleet(path)
    assert (e.value.line, e.value.field) == (11, "sensor_4")  # header is line 1

    missing = frame.copy()
    missing.loc[20, "sensor_7"] = np.nan
    path = tmp_path / "missing.csv"
    missing.to_csv(path, index=False)
    with pytest.raises(DataError, match="missing value") as e:
        load_fleet(path)
    assert (e.value.line, e.value.field) == (22, "sensor_7")

    path = tmp_path / "nounit.csv"
    frame.drop(columns=["unit"]).to_csv(path, index=False)
    with pytest.raises(DataError, match="missing required column 'unit'"):
        load_fleet(path)

    path = tmp_path / "header_only.csv"
    path.write_text("unit,cycle,sensor_2\n")
    with pytest.raises(DataError, match="no data rows"):
        load_fleet(path)


def test_parquet(tmp_path: Path, cmapss: Path) -> None:
    frame = _csv_fleet(tmp_path, cmapss)
    path = tmp_path / "fleet.parquet"
    frame.to_parquet(path)
    assert load_fleet(path).rows == 400
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DataError, match="not a readable Parquet"):
        load_fleet(broken)


def test_truth_must_match_units(tmp_path: Path, cmapss: Path) -> None:
    truth = tmp_path / "rul.txt"
    truth.write_text("10\n20\n")
    with pytest.raises(DataError, match="2 truth values for 100 units"):
        load_fleet(cmapss / "test_FD001.txt", truth=truth)
