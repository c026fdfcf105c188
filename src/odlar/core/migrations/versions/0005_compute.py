"""compute: declared resources, placement and accounting of jobs; tenant quotas

Revision ID: 0005_compute
Revises: 0004
Create Date: 2026-12-04 18:40:00
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0005_compute"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.add_column(sa.Column("cpus", sa.Float(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("gpus", sa.Float(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("memory_mb", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("external_id", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("node", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("wall_seconds", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("cpu_seconds", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("gpu_seconds", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("peak_memory_mb", sa.Float(), nullable=True))
        batch_op.create_index("ix_jobs_tenant_created", ["tenant", "created_at"], unique=False)
    op.create_table(
        "tenant_quotas",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("max_jobs", sa.Integer(), nullable=True),
        sa.Column("max_cpus", sa.Float(), nullable=True),
        sa.Column("max_gpus", sa.Float(), nullable=True),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant"),
    )
    lock = op.create_table(
        "scheduler_lock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(lock, [{"id": 1, "at": datetime.now(UTC)}])


def downgrade() -> None:
    op.drop_table("scheduler_lock")
    op.drop_table("tenant_quotas")
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_index("ix_jobs_tenant_created")
        for name in ("peak_memory_mb", "gpu_seconds", "cpu_seconds", "wall_seconds", "node",
                     "external_id", "dispatched_at", "memory_mb", "gpus", "cpus"):  # fmt: skip
            batch_op.drop_column(name)
