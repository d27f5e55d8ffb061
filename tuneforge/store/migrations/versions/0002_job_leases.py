"""Durable job queue and published validator state: job leases, one track per job variation,
and the ``published_state`` rows a validator writes for API replicas (registered hotkeys, leaderboard).

Revision ID: 0002_job_leases
Revises: 0001_initial
Create Date: 2025-02-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0002_job_leases"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("lease_owner", sa.String(80), nullable=True))
        batch.add_column(sa.Column("lease_expires_at", sa.Float, nullable=True))
    op.create_index("ix_jobs_status_created", "jobs", ["status", "created_at"])
    op.create_index("ix_jobs_status_lease", "jobs", ["status", "lease_expires_at"])
    # A variation is stored once, whichever worker got there first (NULL job ids, validation clips, never clash).
    op.create_index("uq_tracks_job_variation", "tracks", ["job_id", "variation"], unique=True)
    op.create_table(
        "published_state",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("published_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("published_state")
    op.drop_index("uq_tracks_job_variation", table_name="tracks")
    op.drop_index("ix_jobs_status_lease", table_name="jobs")
    op.drop_index("ix_jobs_status_created", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("lease_expires_at")
        batch.drop_column("lease_owner")
