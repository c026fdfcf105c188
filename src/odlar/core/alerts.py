"""Alerts raised by live monitors: stored, listed, acknowledged. Any task with a monitor
hands its alert changes here, so every sector's alerts look and behave the same."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from odlar.core.errors import Conflict, NotFound, UsageError
from odlar.core.store import AlertRecord, as_utc, session_scope, utcnow

STATES = ("open", "cleared")


@dataclass
class Change:
    action: str  # "open" | "update" | "clear"
    kind: str
    key: str
    sample: int
    time: str | None
    score: float = 0.0
    contributors: list[dict[str, Any]] = field(default_factory=list)
    event_class: int | None = None
    event_probability: float | None = None
    detail: str = ""
    #: what was measured, when the alert is neither a process statistic nor a sensor check
    statistic: str | None = None


def to_dict(a: AlertRecord) -> dict[str, Any]:
    return {
        "id": a.id,
        "task": a.task,
        "stream": a.stream,
        "kind": a.kind,
        "state": a.state,
        "model_version": a.model_version,
        "detector": a.detector,
        "statistic": a.statistic,
        "score": round(a.score, 4),
        "threshold": a.threshold,
        "contributors": a.contributors.get("top", []),
        "event_class": a.event_class,
        "event_probability": a.event_probability,
        "detail": a.detail,
        "first_sample": a.first_sample,
        "first_time": a.first_time,
        "cleared_sample": a.cleared_sample,
        "cleared_time": a.cleared_time,
        "opened_at": as_utc(a.opened_at).isoformat(),
        "cleared_at": a.cleared_at and as_utc(a.cleared_at).isoformat(),
        "acknowledged_at": a.acknowledged_at and as_utc(a.acknowledged_at).isoformat(),
        "acknowledged_by": a.acknowledged_by,
        "note": a.note,
    }


def apply(
    changes: list[Any],
    *,
    tenant: str,
    task: str,
    stream: str,
    model_version: int | None,
    detector: str,
    statistic: str,
) -> list[dict[str, Any]]:
    """Store a batch's alert changes in one transaction; returns every alert touched, in the
    order first touched (an alert that opens and clears within the batch is one of them)."""
    if not changes:
        return []
    current_of: dict[str, AlertRecord] = {}  # each key's alert as of the change being applied
    touched: list[AlertRecord] = []
    with session_scope() as s:
        for c in changes:
            current = current_of.get(c.key) or s.scalar(
                select(AlertRecord).where(
                    AlertRecord.tenant == tenant,
                    AlertRecord.stream == stream,
                    AlertRecord.key == c.key,
                    AlertRecord.state == "open",
                )
            )
            if current is not None and current.state != "open":
                current = None
            now = utcnow()
            if c.action == "open" and current is None:
                current = AlertRecord(
                    tenant=tenant,
                    task=task,
                    stream=stream,
                    key=c.key,
                    kind=c.kind,
                    state="open",  # column defaults only apply at flush
                    model_version=model_version,
                    detector=detector,
                    statistic=c.statistic
                    or (statistic if c.kind == "process" else "sensor check"),
                    score=c.score,
                    contributors={"top": c.contributors},
                    event_class=c.event_class,
                    event_probability=c.event_probability,
                    detail=c.detail,
                    first_sample=c.sample,
                    first_time=c.time,
                    opened_at=now,
                    updated_at=now,
                )
                s.add(current)
            elif c.action in ("open", "update") and current is not None:
                current.score = max(current.score, c.score)
                current.contributors = {"top": c.contributors}
                if c.event_class is not None:
                    current.event_class, current.event_probability = (
                        c.event_class,
                        c.event_probability,
                    )
                current.updated_at = now
            elif c.action == "clear" and current is not None:
                current.state, current.cleared_at = "cleared", now
                current.cleared_sample, current.cleared_time = c.sample, c.time
            else:
                continue
            current_of[c.key] = current
            if all(a is not current for a in touched):
                touched.append(current)
        s.flush()
        return [to_dict(a) for a in touched]


def list_alerts(
    *, tenant: str, state: str | None = None, stream: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    if state is not None and state not in STATES:
        raise UsageError(f"state must be one of {', '.join(STATES)}, not '{state}'")
    query = select(AlertRecord).where(AlertRecord.tenant == tenant)
    if state:
        query = query.where(AlertRecord.state == state)
    if stream:
        query = query.where(AlertRecord.stream == stream)
    with session_scope() as s:
        rows = s.scalars(query.order_by(AlertRecord.opened_at.desc()).limit(limit)).all()
        return [to_dict(a) for a in rows]


#: alerts read to build incidents: enough for any live episode (a fault trips at most one
#: process alert and one check per sensor)
INCIDENT_WINDOW = 2000


def list_incidents(
    *, tenant: str, state: str | None = None, stream: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Incidents (see `incidents`) as the console, `odlar alerts list` and
    GET /api/v1/incidents show them. Grouped over the latest alerts whatever their state,
    so an open incident keeps its cleared sensor findings; `state` filters incidents."""
    if state is not None and state not in STATES:
        raise UsageError(f"state must be one of {', '.join(STATES)}, not '{state}'")
    rows = list_alerts(tenant=tenant, stream=stream, limit=INCIDENT_WINDOW)
    found = [i for i in incidents(rows) if state is None or i["state"] == state]
    return found[:limit]


def incident_of(alert_id: str, *, tenant: str) -> dict[str, Any]:
    """The incident an alert belongs to (an incident's id is its lead alert's)."""
    alert = get(alert_id, tenant=tenant)
    for found in list_incidents(tenant=tenant, stream=alert["stream"], limit=INCIDENT_WINDOW):
        if alert_id in found["alert_ids"]:
            return found
    return _incident(alert["stream"], [alert])  # older than the window: on its own


def acknowledge_incident(
    alert_id: str, *, tenant: str, by: str, note: str | None = None
) -> dict[str, Any]:
    """Acknowledge the whole incident an alert belongs to; 409 when nothing is left. The
    answer is the incident after, with the ids acknowledged now."""
    found = incident_of(alert_id, tenant=tenant)
    if not found["unacknowledged"]:
        who = ", ".join(sorted({a["acknowledged_by"] for a in found["alerts"]}))
        raise Conflict(f"incident {found['id']} was already acknowledged by {who}")
    done = acknowledge_all(found["unacknowledged"], tenant=tenant, by=by, note=note)
    return incident_of(alert_id, tenant=tenant) | {"acknowledged_now": [a["id"] for a in done]}


def incidents(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Related alerts as one incident each: per stream, alerts whose sample ranges overlap
    form one episode (one fault trips the process statistic and many sensor checks at
    once). The process alert leads, the sensor findings sit inside it grouped by kind;
    open incidents first, then process before sensor-only, then the highest score."""
    out: list[dict[str, Any]] = []
    by_stream: dict[str, list[dict[str, Any]]] = {}
    for a in alerts:
        by_stream.setdefault(a["stream"], []).append(a)
    for stream, rows in by_stream.items():
        rows.sort(key=lambda a: a["first_sample"])
        episode: list[dict[str, Any]] = []
        end = -1.0
        for a in rows:
            if episode and a["first_sample"] > end:
                out.append(_incident(stream, episode))
                episode, end = [], -1.0
            episode.append(a)
            stop = a["cleared_sample"] if a["state"] == "cleared" else None
            end = float("inf") if stop is None else max(end, stop)
        if episode:
            out.append(_incident(stream, episode))
    out.sort(key=lambda i: (i["state"] != "open", i["severity"] != "process", -i["score"]))
    return out


def _incident(stream: str, alerts: list[dict[str, Any]]) -> dict[str, Any]:
    process = [a for a in alerts if a["kind"] == "process"]
    lead = max(process or alerts, key=lambda a: a["score"])
    findings: dict[str, list[str]] = {}
    for a in alerts:
        if a is not lead:
            # a sensor check names its one sensor as its only contributor
            where = a["contributors"][0]["variable"] if a["contributors"] else a["detail"]
            findings.setdefault(a["kind"], []).append(where)
    return {
        "id": lead["id"],
        "stream": stream,
        "lead": lead,
        "severity": "process" if process else "sensor",
        "state": "open" if any(a["state"] == "open" for a in alerts) else "cleared",
        "score": lead["score"],
        "opened_at": min(a["opened_at"] for a in alerts),
        "first_time": min((a["first_time"] for a in alerts if a["first_time"]), default=None),
        "first_sample": min(a["first_sample"] for a in alerts),
        "findings": findings,
        "alert_ids": [a["id"] for a in alerts],
        "unacknowledged": [a["id"] for a in alerts if not a["acknowledged_by"]],
        "alerts": alerts,
    }


def acknowledge_all(
    alert_ids: list[str], *, tenant: str, by: str, note: str | None = None
) -> list[dict[str, Any]]:
    """Acknowledge an incident at once: each of its alerts not yet acknowledged (all are
    checked to exist in the tenant first, so a bad id acknowledges none)."""
    with session_scope() as s:
        for alert_id in alert_ids:
            _find(s, alert_id, tenant)
    return [
        acknowledge(alert_id, tenant=tenant, by=by, note=note)
        for alert_id in alert_ids
        if get(alert_id, tenant=tenant)["acknowledged_by"] is None
    ]


def get(alert_id: str, *, tenant: str) -> dict[str, Any]:
    with session_scope() as s:
        return to_dict(_find(s, alert_id, tenant))


def acknowledge(alert_id: str, *, tenant: str, by: str, note: str | None = None) -> dict[str, Any]:
    with session_scope() as s:
        alert = _find(s, alert_id, tenant)
        if alert.acknowledged_at is not None:
            raise Conflict(f"alert {alert_id} was already acknowledged by {alert.acknowledged_by}")
        alert.acknowledged_at, alert.acknowledged_by, alert.note = utcnow(), by, note
        s.flush()
        out = to_dict(alert)
    from odlar.core import audit  # every channel (API, CLI, console) logs it here

    audit.record(
        tenant=tenant, actor=by, action="alert_ack", target=alert_id, output={"note": note}
    )
    return out


def _find(s: Any, alert_id: str, tenant: str) -> AlertRecord:
    alert = s.get(AlertRecord, alert_id)
    if alert is None or alert.tenant != tenant:
        raise NotFound(f"no alert '{alert_id}'")
    return alert
