"""`odlar data fetch`: a clear line offline; an archive is verified before it is installed."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from odlar.core import datasets
from odlar.core.errors import DataError, Unavailable


def _nasa_style_zip(cmapss: Path, path: Path, corrupt: bool = False) -> Path:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        for name in ("train_FD001.txt", "test_FD001.txt", "RUL_FD001.txt"):
            data = (cmapss / name).read_bytes()
            z.writestr(f"CMAPSSData/{name}", data[:-10] if corrupt and name[0] == "R" else data)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(
            "6. Turbofan Engine Degradation Simulation Data Set/CMAPSSData.zip", inner.getvalue()
        )
    return path


def test_offline_download_fails_with_one_line(home: Path, monkeypatch) -> None:
    import odlar.energy  # noqa: F401  (registers the fetcher)

    fetcher = datasets.FETCHERS["cmapss"]
    # a closed port on loopback stands in for an unreachable publisher
    monkeypatch.setitem(
        datasets.FETCHERS,
        "cmapss",
        fetcher.__class__(**{**fetcher.__dict__, "url": "http://127.0.0.1:9/x"}),
    )
    with pytest.raises(Unavailable) as e:
        datasets.fetch("cmapss", dest=home / "cmapss")
    assert "\n" not in str(e.value) and "--from" in str(e.value)
    assert not any((home / "cmapss").glob("*.txt"))


def test_install_from_archive_verifies(home: Path, cmapss: Path, tmp_path: Path) -> None:
    archive = _nasa_style_zip(cmapss, tmp_path / "nasa.zip")
    files = datasets.fetch("cmapss", source_file=archive, dest=home / "cm")
    assert {"train_FD001.txt", "RUL_FD001.txt"} <= set(files)
    assert (home / "cm" / "train_FD001.txt").read_bytes() == (
        cmapss / "train_FD001.txt"
    ).read_bytes()

    bad = _nasa_style_zip(cmapss, tmp_path / "bad.zip", corrupt=True)
    with pytest.raises(DataError, match="checksum mismatch"):
        datasets.fetch("cmapss", source_file=bad, dest=home / "cm2")
    assert not any((home / "cm2").glob("*.txt")), "nothing installed from a bad archive"
