"""`odlar bench`'s tables in a narrow terminal: no scenario name or figure is cut, and
figures read as numbers (2431, not 2.431e+03)."""

from __future__ import annotations

import io

from rich.console import Console

from odlar.core import bench
from odlar.core.figures import figure

METRICS = (
    "delay", "published", "delay_sd", "delay_resco_code", "trip_time", "waiting_time",
    "queue", "queue_max", "throughput", "never_inserted", "teleports", "deadlocks",
)  # fmt: skip
SOURCE = "Ault & Sharon 2021 (RESCO), NeurIPS Datasets and Benchmarks"


def _result() -> dict:
    ours = [
        {"method": f"{c} ({s})", "metrics": {k: 2431.123 + i for i, k in enumerate(METRICS)},
         "predict_seconds": 12.5}
        for c in ("fixed", "max_pressure") for s in ("cologne1", "ingolstadt21")
    ]  # fmt: skip
    anchors = [{"method": "best published: idqn (cologne1)", "metrics": {"delay": 26.05},
                "source": SOURCE}]  # fmt: skip
    return {"task": "mobility.signals", "dataset": "resco", "protocol": "RESCO delay",
            "results": ours, "anchors": anchors}  # fmt: skip


def _rendered(width: int) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width)
    for t in bench.tables(_result(), width):
        console.print(t)
    return out.getvalue()


def test_narrow_terminal_keeps_names_and_figures_whole() -> None:
    text = _rendered(80)
    assert "…" not in text
    assert "max_pressure (ingolstadt21)" in text and "best published: idqn (cologne1)" in text
    for k in METRICS:
        assert k in text
    assert "2431" in text and "e+03" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "(1 of " in text


def test_wide_terminal_gets_one_table() -> None:
    assert len(bench.tables(_result(), 400)) == 1


def test_figures() -> None:
    assert figure(2431.123) == "2431"
    assert figure(2431.123, 3) == "2431"
    assert figure(24.311) == "24.31"
    assert figure(0.000123) == "0.000123"
    assert figure(float("nan")) == "nan"
