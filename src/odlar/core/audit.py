"""The event log: append-only, hash-chained per tenant, keyed, verifiable, exportable,
pruned only by the retention rule.

Each record's ``hash`` is HMAC-SHA256, under a key kept outside the database, over its
fields and the previous record's hash, so an edit, a removal or a reordering breaks the
chain at that record, and someone who can write the database but lacks the key cannot
re-hash the records after an edit. The head row of each tenant holds the newest record, so
records cut from the end are found too. Retention removes the oldest records and leaves
their last hash as the anchor the chain starts from.

The key is ``ODLAR_AUDIT_KEY`` or ``$ODLAR_HOME/audit.key`` (random, mode 0600, made once).
Records written before odlar had a key carry a plain SHA-256 hash: they verify only as the
start of a chain, before its first keyed record; creating the key file appends a keyed
``audit_keyed`` record to every existing chain, so those records are sealed at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from odlar.core.config import get_settings
from odlar.core.errors import NotFound, UsageError
from odlar.core.store import AuditEvent, AuditHead, get_engine, session_scope, utcnow

GENESIS = "0" * 64
MAX_OUTPUT = 16_000  # longer outputs are kept as their digest and size
FIELDS = (
    "seq", "at", "actor", "action", "target", "model_version", "input_digest", "output",
    "prev_hash", "hash",
)  # fmt: skip


def digest(value: Any) -> str:
    """SHA-256 of a value's canonical JSON (keys sorted): the same input, the same digest."""
    data = value if isinstance(value, bytes) else canonical(value).encode()
    return hashlib.sha256(data).hexdigest()


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _output_text(output: Any) -> str:
    if output is None:
        return ""
    text = output if isinstance(output, str) else canonical(output)
    if len(text) > MAX_OUTPUT:
        return canonical({"sha256": digest(text.encode()), "chars": len(text)})
    return text


def chain_hash(tenant: str, row: tuple[Any, ...], key: bytes | None = None) -> str:
    """MAC of one record under the audit key: ``row`` is its FIELDS up to and including
    prev_hash."""
    return hmac.digest(key or audit_key(), canonical([tenant, *row]).encode(), "sha256").hex()


def legacy_hash(tenant: str, row: tuple[Any, ...]) -> str:
    """The unkeyed SHA-256 of records written before odlar had an audit key."""
    return hashlib.sha256(canonical([tenant, *row]).encode()).hexdigest()


#: held while the key is made and the old chains sealed, so no thread of this process
#: writes a record between the two (it would be sealed again)
_KEY_LOCK = threading.Lock()


def audit_key() -> bytes:
    settings = get_settings()
    with _KEY_LOCK:
        return _key(str(settings.home), settings.audit_key)


@lru_cache(maxsize=4)
def _key(home: str, configured: str | None) -> bytes:
    if configured:
        return configured.encode()
    path = Path(home).expanduser() / "audit.key"
    try:  # O_EXCL: two processes starting together cannot each write a different key
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(100):  # another process made it a moment ago: wait for its content
            if key := path.read_text().strip().encode():
                return key
            time.sleep(0.01)
        raise UsageError(f"{path} is empty: restore the audit key from its copy") from None
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32))
    key = path.read_text().strip().encode()
    _seal(key)
    return key


def _seal(key: bytes) -> None:
    """Append a keyed record to every chain that has only unkeyed ones (an installation
    from before the key), so they cannot be rewritten later without the key."""
    with session_scope() as s:
        tenants = [(h.tenant, h.seq) for h in s.scalars(select(AuditHead))]
    for tenant, seq in tenants:
        _append(
            tenant, "odlar", "audit_keyed", "", "", "",
            canonical({"unkeyed_through_seq": seq}), key,
        )  # fmt: skip


def record(
    *,
    tenant: str,
    actor: str,
    action: str,
    target: str = "",
    model_version: str = "",
    input: Any = None,
    output: Any = None,
    input_digest: str | None = None,
) -> int:
    """Append one record to the tenant's chain and return its sequence number."""
    if input_digest is None:
        input_digest = "" if input is None else digest(input)
    text = _output_text(output)
    key = audit_key()
    for attempt in range(20):
        try:
            return _append(
                tenant, actor, action, target[:300], model_version, input_digest, text, key
            )
        except IntegrityError:  # another writer created this tenant's head first: retry
            if attempt == 19:
                raise
    raise AssertionError("unreachable")


_HEAD = AuditHead.__table__
_EVENTS = AuditEvent.__table__
# Built once with bound parameters: constructing a statement per call (literal values
# coerced, cache key generated) cost more than SQLite's work on every prediction.
_TAKE = (
    update(_HEAD).where(_HEAD.c.tenant == bindparam("t")).values(seq=_HEAD.c.seq + 1)
    .returning(_HEAD.c.seq, _HEAD.c.hash)
)  # fmt: skip
_ADD = insert(_EVENTS)
_SET_HASH = update(_HEAD).where(_HEAD.c.tenant == bindparam("t")).values(hash=bindparam("h"))


def _append(
    tenant: str, actor: str, action: str, target: str, model_version: str,
    input_digest: str, output: str, key: bytes,
) -> int:  # fmt: skip
    # SQLAlchemy Core, one transaction: this runs on every prediction. Taking the next
    # number is the transaction's first statement, a write, so the database's lock (SQLite)
    # or the row lock (PostgreSQL) is held from the start: two writers never extend the
    # same head.
    with get_engine(get_settings().db_url).begin() as conn:
        taken = conn.execute(_TAKE, {"t": tenant}).first()
        if taken is None:  # the tenant's first record
            conn.execute(
                insert(_HEAD).values(
                    tenant=tenant, seq=1, hash=GENESIS, anchor_seq=0, anchor_hash=GENESIS
                )
            )
            seq, prev = 1, GENESIS
        else:
            seq, prev = taken.seq, taken.hash
        at = utcnow().isoformat(timespec="microseconds")
        row = (seq, at, actor, action, target, model_version, input_digest, output, prev)
        h = chain_hash(tenant, row, key)
        conn.execute(_ADD, {"tenant": tenant, **dict(zip(FIELDS, (*row, h), strict=True))})
        conn.execute(_SET_HASH, {"t": tenant, "h": h})
    return seq


@dataclass
class Problem:
    tenant: str
    seq: int
    kind: str  # edited | removed | reordered | truncated | unkeyed
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "seq": self.seq, "kind": self.kind, "detail": self.detail}


@dataclass
class Verification:
    records: int = 0
    tenants: int = 0
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "records": self.records,
            "tenants": self.tenants,
            "problems": [p.to_dict() for p in self.problems],
            "seconds": round(self.seconds, 3),
        }


def _rows(tenant: str, batch: int = 20_000) -> Iterator[tuple[Any, ...]]:
    cols = [AuditEvent.id] + [getattr(AuditEvent, f) for f in FIELDS]
    with session_scope() as s:
        stmt = select(*cols).where(AuditEvent.tenant == tenant).order_by(AuditEvent.seq)
        yield from s.execute(stmt.execution_options(yield_per=batch))


def verify(tenant: str | None = None, max_problems: int = 100) -> Verification:
    """Walk each tenant's chain (one tenant, or all) and report every break found."""

    start = time.perf_counter()
    key = audit_key()
    result = Verification()
    with session_scope() as s:
        query = select(AuditHead)
        if tenant is not None:
            query = query.where(AuditHead.tenant == tenant)
        heads = list(s.scalars(query))
    for head in heads:
        result.tenants += 1
        problems = result.problems
        expect_seq, prev, last_id = head.anchor_seq + 1, head.anchor_hash, -1
        keyed, last_keyed = False, True
        for row_id, seq, *rest in _rows(head.tenant):
            result.records += 1
            at, actor, action, target, mv, idg, out, prev_hash, h = rest
            if seq != expect_seq:
                problems.append(
                    Problem(
                        head.tenant,
                        expect_seq,
                        "removed",
                        f"records {expect_seq}..{seq - 1} missing",
                    )
                    if seq > expect_seq
                    else Problem(head.tenant, seq, "reordered", "sequence number repeats")
                )
            elif prev_hash != prev:
                problems.append(
                    Problem(head.tenant, seq, "reordered", "does not follow the record before it")
                )
            row = (seq, at, actor, action, target, mv, idg, out, prev_hash)
            last_keyed = chain_hash(head.tenant, row, key) == h
            if last_keyed:
                keyed = True
            elif legacy_hash(head.tenant, row) != h:
                problems.append(
                    Problem(head.tenant, seq, "edited", "content does not match its hash")
                )
            elif keyed:  # a plain SHA-256 record is trusted only before the first keyed one
                problems.append(
                    Problem(
                        head.tenant, seq, "unkeyed",
                        "hashed without the audit key after keyed records: rewritten",
                    )  # fmt: skip
                )
            if row_id < last_id:
                problems.append(
                    Problem(head.tenant, seq, "reordered", "stored before the record preceding it")
                )
            expect_seq, prev, last_id = seq + 1, h, row_id
            if len(problems) >= max_problems:
                break
        if expect_seq - 1 < head.seq:
            problems.append(
                Problem(
                    head.tenant,
                    expect_seq,
                    "truncated",
                    f"records {expect_seq}..{head.seq} missing at the end",
                )
            )
        elif prev != head.hash and len(problems) < max_problems:
            problems.append(
                Problem(head.tenant, head.seq, "edited", "newest record does not match the head")
            )
        if not last_keyed and len(problems) < max_problems:
            problems.append(
                Problem(
                    head.tenant, expect_seq - 1, "unkeyed",
                    "the newest record has no MAC under this installation's audit key: the "
                    "chain was rewritten without the key, or the key changed",
                )  # fmt: skip
            )
        if len(problems) >= max_problems:
            break
    result.seconds = time.perf_counter() - start
    return result


def events(
    tenant: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    action: str | None = None,
    actor: str | None = None,
    limit: int | None = None,
    newest_first: bool = False,
) -> list[dict[str, Any]]:
    with session_scope() as s:
        q = select(AuditEvent).where(AuditEvent.tenant == tenant)
        if actor:
            q = q.where(AuditEvent.actor == actor)
        if since:
            q = q.where(AuditEvent.at >= since.isoformat(timespec="microseconds"))
        if until:
            q = q.where(AuditEvent.at < until.isoformat(timespec="microseconds"))
        if action:
            q = q.where(AuditEvent.action == action)
        q = q.order_by(AuditEvent.seq.desc() if newest_first else AuditEvent.seq)
        if limit:
            q = q.limit(limit)
        return [_as_dict(e) for e in s.scalars(q)]


def event(tenant: str, seq: int) -> dict[str, Any]:
    """One record of the tenant's log by its sequence number."""
    with session_scope() as s:
        e = s.scalars(
            select(AuditEvent).where(AuditEvent.tenant == tenant, AuditEvent.seq == seq)
        ).first()
        if e is None:
            raise NotFound(f"no event {seq} in the event log")
        return _as_dict(e)


def facets(tenant: str) -> dict[str, list[str]]:
    """The actions and actors that occur in the tenant's log (for filters)."""
    with session_scope() as s:
        return {
            name: sorted(s.scalars(
                select(column).distinct().where(AuditEvent.tenant == tenant)
            ).all())
            for name, column in (("actions", AuditEvent.action), ("actors", AuditEvent.actor))
        }  # fmt: skip


def _as_dict(e: AuditEvent) -> dict[str, Any]:
    return {"tenant": e.tenant, **{f: getattr(e, f) for f in FIELDS}}


def exported(tenant: str, *, actor: str, **filters: Any) -> list[dict[str, Any]]:
    """The tenant's records for an auditor to take away; the export itself is logged."""
    rows = events(tenant, **filters)
    record(tenant=tenant, actor=actor, action="audit_export", output={"records": len(rows)})
    return rows


def export(tenant: str, out: Path, *, actor: str, **filters: Any) -> int:
    """Write the tenant's records as JSON Lines (each with its hashes); returns the count.
    Written to a temporary file first: a failed export leaves no partial file."""
    rows = exported(tenant, actor=actor, **filters)
    tmp = out.with_name(out.name + ".part")
    with tmp.open("w") as f:
        for r in rows:
            f.write(canonical(r) + "\n")
    tmp.replace(out)
    return len(rows)


def prune(tenant: str, *, actor: str, now: datetime | None = None) -> int:
    """Remove the tenant's records older than the retention period; the last removed
    record's hash becomes the anchor. Returns how many were removed (and logs it)."""
    days = get_settings().audit_retention_days
    cutoff = ((now or utcnow()) - timedelta(days=days)).isoformat(timespec="microseconds")
    with session_scope() as s:
        s.execute(update(AuditHead).where(AuditHead.tenant == tenant).values(seq=AuditHead.seq))
        head = s.scalar(select(AuditHead).where(AuditHead.tenant == tenant).with_for_update())
        last = s.execute(
            select(AuditEvent.seq, AuditEvent.hash)
            .where(AuditEvent.tenant == tenant, AuditEvent.at < cutoff)
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        ).first()
        if head is None or last is None:
            return 0
        n = s.execute(
            delete(AuditEvent).where(AuditEvent.tenant == tenant, AuditEvent.seq <= last.seq)
        ).rowcount
        head.anchor_seq, head.anchor_hash = last.seq, last.hash
    record(
        tenant=tenant, actor=actor, action="audit_prune",
        output={"removed": n, "through_seq": last.seq, "retention_days": days},
    )  # fmt: skip
    return int(n or 0)
