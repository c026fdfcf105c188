"""Alert changes reach the store, and every alert a batch touched comes back from it."""

from __future__ import annotations

from pathlib import Path

from odlar.core import alerts
from odlar.core.alerts import Change


def test_an_alert_opened_and_cleared_within_one_batch_is_returned(home: Path) -> None:
    changes = [
        Change("open", "process", "process", 10, "2026-11-24T00:30:00", score=3.0),
        Change("clear", "process", "process", 20, "2026-11-24T01:00:00"),
        Change("open", "process", "process", 30, "2026-11-24T01:30:00", score=2.0),
    ]
    touched = alerts.apply(
        changes, tenant="default", task="energy.faults", stream="s", model_version=1,
        detector="cva", statistic="T2",
    )  # fmt: skip
    stored = alerts.list_alerts(tenant="default", stream="s")
    assert len(stored) == 2
    assert [a["first_sample"] for a in touched] == [10, 30]
    assert [a["state"] for a in touched] == ["cleared", "open"]
    assert {a["id"] for a in touched} == {a["id"] for a in stored}
