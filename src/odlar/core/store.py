"""Platform state that MLflow does not model: tenants, users, API tokens, datasets, jobs
(with quotas and accounting), alerts, learner interactions, model approvals, the event log.

SQLAlchemy 2 over any URL (SQLite under $ODLAR_HOME by default); the schema is owned by
the Alembic migrations in `odlar/core/migrations`, applied on first use.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from odlar.core.config import get_settings

DEFAULT_TENANT = "default"


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every time odlar stores is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def new_id() -> str:
    return uuid.uuid4().hex[:12]


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, datetime: DateTime(timezone=True)}


class Tenant(Base):
    """An organisation sharing the installation (ministry, company, university); nothing of
    one tenant is visible to another."""

    __tablename__ = "tenants"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    """A person (or service) of one tenant, with one role. Passwords are stored as scrypt
    hashes; failed sign-ins in a row lock the user out for a while."""

    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str | None] = mapped_column(String(300), default=None)
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (UniqueConstraint("tenant", "name", name="uq_users_tenant_name"),)


class ApiToken(Base):
    """A bearer token of a user; only its SHA-256 is stored. Role and tenant are the
    user's, copied so that authentication is one indexed lookup."""

    __tablename__ = "api_tokens"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    prefix: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(32), default="admin")
    tenant: Mapped[str] = mapped_column(String(64), default=DEFAULT_TENANT)
    user_id: Mapped[str | None] = mapped_column(String(32), default=None, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class ModelDecision(Base):
    """An approval or revocation of one model version; the newest decides whether it serves."""

    __tablename__ = "model_decisions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    task: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    decision: Mapped[str] = mapped_column(String(16))  # approved | revoked
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    overridden: Mapped[bool] = mapped_column(Boolean, default=False)
    checks: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_decisions_model", "tenant", "task", "version", "id"),)


class AuditEvent(Base):
    """One record of the append-only event log. Each tenant's records form a hash chain:
    ``hash`` covers the record's fields and the previous record's hash."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(300), default="")
    model_version: Mapped[str] = mapped_column(String(120), default="")
    input_digest: Mapped[str] = mapped_column(String(64), default="")
    output: Mapped[str] = mapped_column(Text, default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        UniqueConstraint("tenant", "seq", name="uq_audit_tenant_seq"),
        Index("ix_audit_tenant_at", "tenant", "at"),
    )


class AuditHead(Base):
    """Each tenant's newest record (to notice records cut from the end) and the anchor left
    by retention (the last pruned record, from which verification starts)."""

    __tablename__ = "audit_heads"
    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64))
    anchor_seq: Mapped[int] = mapped_column(Integer, default=0)
    anchor_hash: Mapped[str] = mapped_column(String(64))


class DatasetRecord(Base):
    """A validated dataset a user brought in (uploaded or registered from a path)."""

    __tablename__ = "datasets"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant: Mapped[str] = mapped_column(String(64), default=DEFAULT_TENANT, index=True)
    task: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(300))
    path: Mapped[str] = mapped_column(Text)
    rows: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class JobRecord(Base):
    """A unit of work (fit, bench) whose state survives any restart of the server."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_tenant_created", "tenant", "created_at"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant: Mapped[str] = mapped_column(String(64), default=DEFAULT_TENANT, index=True)
    kind: Mapped[str] = mapped_column(String(32))
    task: Mapped[str] = mapped_column(String(100))
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    backend: Mapped[str] = mapped_column(String(16), default="local")
    pid: Mapped[int | None] = mapped_column(Integer, default=None)
    host: Mapped[str | None] = mapped_column(String(200), default=None)
    created_by: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)
    # compute: what the job asked for, where it ran, what it used (core/compute, core/usage)
    cpus: Mapped[float] = mapped_column(Float, default=1.0)
    gpus: Mapped[float] = mapped_column(Float, default=0.0)
    memory_mb: Mapped[int | None] = mapped_column(Integer, default=None)
    dispatched_at: Mapped[datetime | None] = mapped_column(default=None)
    external_id: Mapped[str | None] = mapped_column(String(100), default=None)
    node: Mapped[str | None] = mapped_column(String(200), default=None)
    wall_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    cpu_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    gpu_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    peak_memory_mb: Mapped[float | None] = mapped_column(Float, default=None)


class TenantQuota(Base):
    """Limits on what one tenant's jobs may hold at once; None means no limit."""

    __tablename__ = "tenant_quotas"
    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    max_jobs: Mapped[int | None] = mapped_column(Integer, default=None)
    max_cpus: Mapped[float | None] = mapped_column(Float, default=None)
    max_gpus: Mapped[float | None] = mapped_column(Float, default=None)
    updated_by: Mapped[str] = mapped_column(String(200), default="odlar")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SchedulerLock(Base):
    """One row, updated first by every scheduling pass: the store's own write lock makes
    passes from several processes (server, ending jobs, other nodes) take turns."""

    __tablename__ = "scheduler_lock"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertRecord(Base):
    """An alert raised by a live monitor: open until the stream returns to normal, then
    cleared; acknowledged by a person independently of its state."""

    __tablename__ = "alerts"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant: Mapped[str] = mapped_column(String(64), default=DEFAULT_TENANT, index=True)
    task: Mapped[str] = mapped_column(String(100))
    stream: Mapped[str] = mapped_column(String(200), index=True)
    key: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default="open", index=True)
    model_version: Mapped[int | None] = mapped_column(Integer, default=None)
    detector: Mapped[str] = mapped_column(String(100))
    statistic: Mapped[str] = mapped_column(String(200))
    score: Mapped[float] = mapped_column(Float, default=0.0)
    threshold: Mapped[float] = mapped_column(Float, default=1.0)
    contributors: Mapped[dict[str, Any]] = mapped_column(default=dict)
    event_class: Mapped[int | None] = mapped_column(Integer, default=None)
    event_probability: Mapped[float | None] = mapped_column(Float, default=None)
    detail: Mapped[str] = mapped_column(Text, default="")
    first_sample: Mapped[int] = mapped_column(Integer, default=0)
    first_time: Mapped[str | None] = mapped_column(String(64), default=None)
    cleared_sample: Mapped[int | None] = mapped_column(Integer, default=None)
    cleared_time: Mapped[str | None] = mapped_column(String(64), default=None)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    cleared_at: Mapped[datetime | None] = mapped_column(default=None)
    acknowledged_at: Mapped[datetime | None] = mapped_column(default=None)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200), default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)


class LearnerInteraction(Base):
    """One answer of a learner; the learner is stored only as a keyed pseudonym."""

    __tablename__ = "learner_interactions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64), default=DEFAULT_TENANT)
    student: Mapped[str] = mapped_column(String(64))
    class_id: Mapped[str | None] = mapped_column(String(200), default=None, index=True)
    item: Mapped[str] = mapped_column(String(200))
    skills: Mapped[str] = mapped_column(Text)
    correct: Mapped[int] = mapped_column(Integer)
    occurred: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_learner_tenant_student", "tenant", "student", "id"),)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets the server read while a job process writes progress; busy_timeout waits
    # for the writer instead of failing with "database is locked".
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # WAL with synchronous=NORMAL: a commit survives a crash of odlar; only a power loss may
    # lose the newest commits. It keeps event logging off the predict path's latency.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def migrate(url: str) -> None:
    """Bring the schema at `url` to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(cfg, "head")


_engine_lock = threading.Lock()


def get_engine(url: str | None = None) -> Engine:
    """The engine of a URL (default: the configured store), created and migrated once."""
    return _engine(url or get_settings().db_url)


@lru_cache(maxsize=4)
def _engine(url: str) -> Engine:
    with _engine_lock:  # threads starting together must not migrate at the same time
        return _create_engine(url)


def _create_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    # a network database may drop idle connections: ping on checkout; a SQLite file never
    # does, and the ping would cost every request on the predict path
    engine = create_engine(url, pool_pre_ping=not url.startswith("sqlite"))
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    migrate(url)
    return engine


@lru_cache(maxsize=4)
def _sessionmaker(url: str) -> sessionmaker[Session]:
    return sessionmaker(get_engine(url), expire_on_commit=False)


@contextmanager
def session_scope() -> Iterator[Session]:
    """A transaction: committed on success, rolled back on any error (no half-written rows)."""
    session = _sessionmaker(get_settings().db_url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def reset_store() -> None:
    """Drop cached engines (tests point ODLAR_HOME elsewhere between cases)."""
    _engine.cache_clear()
    _sessionmaker.cache_clear()
