"""Live monitoring over the API and the CLI: one StreamMonitor per (tenant, stream), alerts
stored in the platform's alert table in the same call that scores the readings."""

from __future__ import annotations

import threading
from typing import Any

from pydantic import BaseModel, Field

from odlar.core import alerts, audit
from odlar.energy.faults.fault_model import FaultModel
from odlar.energy.faults.monitor import StreamMonitor
from odlar.energy.faults.streams import Table
from odlar.energy.faults.task import readings_table
from odlar.governance import serving

TASK = "energy.faults"


class MonitorResponse(BaseModel):
    stream: str
    model_version: int
    detector: str
    scored: int = Field(description="Samples scored in this batch")
    first_sample: int = Field(description="Stream index of the first sample scored")
    alarms: int = Field(description="Samples above the threshold")
    max_score: float | None
    alerts: list[dict[str, Any]] = Field(description="Alerts opened, updated or cleared")
    repairs: list[dict[str, Any]] = Field(description="Changes made to the readings")


def restore(monitor: StreamMonitor, *, tenant: str, stream: str) -> None:
    """A new monitor (first batch, or after a restart) continues the stream's open alerts, so
    they clear when the process returns to normal instead of staying open forever."""
    for a in alerts.list_alerts(tenant=tenant, state="open", stream=stream, limit=1000):
        if a["kind"] == "process":
            monitor.process_open = True
        else:
            monitor.sensor_open.add(f"{a['kind']}:{a['contributors'][0]['variable']}")


def score_and_store(
    monitor: StreamMonitor,
    table: Table,
    *,
    tenant: str,
    stream: str,
    model_version: int | None,
    actor: str = "odlar",
) -> MonitorResponse:
    """Score a batch, store the alert changes and log the decision in the event log."""
    model: FaultModel = monitor.model
    result = monitor.push(table.values, table.time)
    stored = alerts.apply(
        result.changes,
        tenant=tenant,
        task=TASK,
        stream=stream,
        model_version=model_version,
        detector=model.method,
        statistic=model.detector.statistic,
    )
    out = MonitorResponse(
        stream=stream,
        model_version=model_version or 0,
        detector=model.method,
        scored=len(result.scores),
        first_sample=result.first_sample,
        alarms=int(result.alarms.sum()),
        max_score=round(float(result.scores.max()), 4) if len(result.scores) else None,
        alerts=stored,
        repairs=[r.to_dict() for r in [*table.repairs, *result.repairs]],
    )
    audit.record(
        tenant=tenant, actor=actor, action="monitor", target=f"{TASK}:{stream}",
        model_version=f"{TASK}/{model_version}", input_digest=audit.digest(table.values.tobytes()),
        output=out.model_dump(mode="json"),
    )  # fmt: skip
    return out


class MonitorHub:
    """Monitors kept in this process; each stream's batches are scored one at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: dict[tuple[str, str], tuple[int, StreamMonitor, threading.Lock]] = {}

    def monitor_for(
        self, *, tenant: str, stream: str, model_version: int | None = None
    ) -> tuple[int, StreamMonitor, threading.Lock]:
        """The stream's monitor (new on first use, or when another model version is asked)."""
        mv, model = serving.load_model(TASK, model_version, tenant=tenant)
        key = (tenant, stream)
        with self._lock:
            entry = self._streams.get(key)
            if entry is None or entry[0] != mv.version:
                monitor = StreamMonitor(model)
                restore(monitor, tenant=tenant, stream=stream)
                entry = (mv.version, monitor, threading.Lock())
                self._streams[key] = entry
        return entry

    def push(
        self,
        *,
        tenant: str,
        stream: str,
        readings: list[dict[str, Any]],
        model_version: int | None = None,
        actor: str = "odlar",
    ) -> MonitorResponse:
        version, monitor, lock = self.monitor_for(
            tenant=tenant, stream=stream, model_version=model_version
        )
        table = readings_table(readings, monitor.model.variables)
        with lock:
            return score_and_store(
                monitor, table, tenant=tenant, stream=stream, model_version=version, actor=actor
            )


HUB = MonitorHub()
