"""governance: tenants, users, model decisions, event log

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 02:40:00
"""

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("password_hash", sa.String(length=300), nullable=True),
        sa.Column("failed_sign_ins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant", "name", name="uq_users_tenant_name"),
    )
    op.create_index("ix_users_tenant", "users", ["tenant"])
    op.create_table(
        "model_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("task", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("overridden", sa.Boolean(), nullable=False),
        sa.Column("checks", sa.JSON(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_decisions_model", "model_decisions", ["tenant", "task", "version", "id"])
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("model_version", sa.String(length=120), nullable=False),
        sa.Column("input_digest", sa.String(length=64), nullable=False),
        sa.Column("output", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant", "seq", name="uq_audit_tenant_seq"),
    )
    op.create_index("ix_audit_tenant_at", "audit_events", ["tenant", "at"])
    op.create_table(
        "audit_heads",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("anchor_seq", sa.Integer(), nullable=False),
        sa.Column("anchor_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("tenant"),
    )
    with op.batch_alter_table("api_tokens") as batch_op:
        batch_op.add_column(sa.Column("user_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_api_tokens_user_id", ["user_id"])

    # Every tenant named anywhere becomes a tenant row; every older token gets its user.
    conn = op.get_bind()
    now = datetime.now(UTC)
    names = {"default"}
    for table in ("api_tokens", "datasets", "jobs", "alerts", "learner_interactions"):
        names |= {r[0] for r in conn.execute(sa.text(f"SELECT DISTINCT tenant FROM {table}"))}
    tenants = sa.table("tenants", sa.column("id"), sa.column("name"), sa.column("created_at"))
    op.bulk_insert(tenants, [{"id": t, "name": t, "created_at": now} for t in sorted(names)])
    users = sa.table(
        "users",
        *(sa.column(c) for c in ("id", "tenant", "name", "role", "failed_sign_ins", "created_at")),
    )
    tokens = conn.execute(sa.text("SELECT id, name, role, tenant FROM api_tokens")).fetchall()
    for token_id, name, role, tenant in tokens:
        user_id = uuid.uuid4().hex[:12]
        taken = conn.execute(
            sa.text("SELECT id FROM users WHERE tenant = :t AND name = :n"),
            {"t": tenant, "n": name},
        ).first()
        if taken:
            user_id = taken[0]
        else:
            op.bulk_insert(
                users,
                [
                    {
                        "id": user_id,
                        "tenant": tenant,
                        "name": name,
                        "role": role,
                        "failed_sign_ins": 0,
                        "created_at": now,
                    }
                ],
            )
        conn.execute(
            sa.text("UPDATE api_tokens SET user_id = :u WHERE id = :i"),
            {"u": user_id, "i": token_id},
        )


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch_op:
        batch_op.drop_index("ix_api_tokens_user_id")
        batch_op.drop_column("expires_at")
        batch_op.drop_column("user_id")
    op.drop_table("audit_heads")
    op.drop_index("ix_audit_tenant_at", "audit_events")
    op.drop_table("audit_events")
    op.drop_index("ix_decisions_model", "model_decisions")
    op.drop_table("model_decisions")
    op.drop_index("ix_users_tenant", "users")
    op.drop_table("users")
    op.drop_table("tenants")
