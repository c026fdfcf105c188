"""What the platform answers about its core records (tasks, datasets, jobs, model
versions, alerts, event-log records): pydantic views that the API declares as response
models, so /openapi.json describes every answer. Timestamps are ISO 8601 text, exactly as
stored; fields a later version adds pass through (extra="allow")."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class View(BaseModel):
    model_config = ConfigDict(extra="allow")


class RiskView(View):
    tier: str
    reason: str


class TaskView(View):
    name: str
    title: str
    risk: RiskView
    methods: list[str]
    default_method: str
    primary_metric: str


class DatasetView(View):
    id: str
    task: str
    name: str
    rows: int
    sha256: str
    summary: dict[str, Any]
    created_at: str


class JobView(View):
    id: str
    kind: str
    task: str
    state: str
    progress: float
    message: str
    spec: dict[str, Any]
    result: dict[str, Any] | None = None
    error: str | None = None
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    pid: int | None = None


class ModelVersionView(View):
    task: str
    tenant: str
    risk: RiskView
    version: int
    run_id: str
    created_at: str
    method: str
    metrics: dict[str, float]
    params: dict[str, Any]
    data: dict[str, Any]
    job_id: str | None = None
    created_by: str | None = None
    state: str  # pending, approved or revoked


class DecisionView(View):
    decision: str
    actor: str
    reason: str | None = None
    overridden: bool = False


class ModelVersionDetail(ModelVersionView):
    decisions: list[DecisionView]


class AlertView(View):
    id: str
    task: str
    stream: str
    kind: str
    state: str
    score: float
    contributors: list[dict[str, Any]]
    opened_at: str
    cleared_at: str | None = None
    acknowledged_at: str | None = None
    acknowledged_by: str | None = None
    note: str | None = None


class IncidentView(View):
    """Related alerts as one: per stream and episode, the process alert leading."""

    id: str = Field(description="The lead alert's id")
    stream: str
    severity: str = Field(description="process (the process statistic tripped) or sensor")
    state: str = Field(description="open while any of its alerts is open")
    score: float = Field(description="The lead alert's peak score")
    opened_at: str
    first_sample: int
    first_time: str | None = None
    lead: AlertView
    findings: dict[str, list[str]] = Field(description="Sensor findings by kind: sensors")
    alert_ids: list[str]
    unacknowledged: list[str]
    alerts: list[AlertView]


class AuditEventView(View):
    tenant: str
    seq: int
    at: str
    actor: str
    action: str
    target: str | None = None
    model_version: str | None = None
    input_digest: str | None = None
    output: Any = None
    prev_hash: str
    hash: str


class ProblemView(View):
    tenant: str
    seq: int | None = None
    kind: str
    detail: str


class VerificationView(View):
    ok: bool
    records: int
    tenants: int
    problems: list[ProblemView]
    seconds: float
