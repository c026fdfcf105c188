"""What `odlar monitor` prints for each batch: every alert the store recorded, the sample's own
time, and a file's ignored columns said once, not once per batch."""

from __future__ import annotations

from odlar.energy.faults.follow import _report
from odlar.energy.faults.live import MonitorResponse


def _alert(first: int, state: str, cleared: int | None, time: str) -> dict:
    return {
        "id": f"a{first}", "kind": "process", "state": state, "first_sample": first,
        "first_time": time, "cleared_sample": cleared, "score": 2.5, "detail": "",
        "event_class": None, "contributors": [{"variable": "XMEAS(1)", "share": 0.5}],
    }  # fmt: skip


def _batch(first: int, alerts: list[dict]) -> MonitorResponse:
    ignored = {"kind": "columns_ignored", "detail": "not used by the model", "column": "site",
               "rows": 0}  # fmt: skip
    return MonitorResponse(
        stream="s", model_version=1, detector="cva", scored=100, first_sample=first, alarms=20,
        max_score=3.0, alerts=alerts, repairs=[ignored],
    )  # fmt: skip


def test_report_shows_every_alert_and_says_ignored_columns_once() -> None:
    lines: list[str] = []
    totals = {"scored": 0, "alarms": 0, "opened": 0, "cleared": 0}
    said: set[tuple[str, str]] = set()
    batch = _batch(
        0, [_alert(10, "cleared", 20, "2026-11-24T00:30:00"), _alert(30, "open", None, "T1")]
    )
    _report(batch, totals, lines.append, said)
    _report(_batch(100, []), totals, lines.append, said)
    assert totals == {"scored": 200, "alarms": 40, "opened": 2, "cleared": 1}
    assert sum("ALERT" in line for line in lines) == 2
    assert "(2026-11-24T00:30:00)" in lines[0]
    assert sum(line.startswith("repair: columns_ignored") for line in lines) == 1
