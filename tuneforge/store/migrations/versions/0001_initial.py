"""Initial schema: plans, accounts, API keys, credit ledger, jobs, tracks, rounds, nonces, webhooks.

Revision ID: 0001_initial
Revises:
Create Date: 2025-01-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    plans = op.create_table(
        "plans",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("rate_limit_per_minute", sa.Integer, nullable=False),
    )
    op.bulk_insert(plans, [
        {"name": "free", "rate_limit_per_minute": 60},
        {"name": "pro", "rate_limit_per_minute": 300},
        {"name": "premier", "rate_limit_per_minute": 1000},
    ])
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("plan", sa.String(32), sa.ForeignKey("plans.name"), nullable=False),
        sa.Column("credits", sa.BigInteger, nullable=False),
        sa.Column("rate_limit_override", sa.Integer, nullable=True),
        sa.Column("webhook_secret", sa.String(80), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.CheckConstraint("credits >= 0", name="ck_accounts_credits_nonnegative"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("account_id", sa.String(40), sa.ForeignKey("accounts.id"), nullable=False, index=True),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("revoked_at", sa.Float, nullable=True),
    )
    op.create_table(
        "credit_ledger",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(40), sa.ForeignKey("accounts.id"), nullable=False, index=True),
        sa.Column("delta", sa.BigInteger, nullable=False),
        sa.Column("balance_after", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("job_id", sa.String(40), nullable=True, index=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("account_id", sa.String(40), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("cost", sa.Integer, nullable=False),
        sa.Column("refunded", sa.Integer, nullable=False),
        sa.Column("webhook_url", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("started_at", sa.Float, nullable=True),
        sa.Column("finished_at", sa.Float, nullable=True),
    )
    op.create_index("ix_jobs_account_created", "jobs", ["account_id", "created_at"])
    op.create_table(
        "tracks",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("job_id", sa.String(40), nullable=True, index=True),
        sa.Column("variation", sa.Integer, nullable=True),
        sa.Column("round_id", sa.String(80), nullable=True, index=True),
        sa.Column("challenge_id", sa.String(80), nullable=False),
        sa.Column("uid", sa.Integer, nullable=False),
        sa.Column("hotkey", sa.String(64), nullable=False, index=True),
        sa.Column("is_organic", sa.Boolean, nullable=False),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("genre", sa.String(80), nullable=False),
        sa.Column("mood", sa.String(80), nullable=False),
        sa.Column("requested_seconds", sa.Float, nullable=False),
        sa.Column("duration_seconds", sa.Float, nullable=False),
        sa.Column("sample_rate", sa.Integer, nullable=False),
        sa.Column("channels", sa.Integer, nullable=False),
        sa.Column("audio_format", sa.String(8), nullable=False),
        sa.Column("audio_sha256", sa.String(64), nullable=False, index=True),
        sa.Column("model_id", sa.String(200), nullable=True),
        sa.Column("final_score", sa.Float, nullable=False),
        sa.Column("score_breakdown", sa.JSON, nullable=False),
        sa.Column("challenge", sa.JSON, nullable=False),
        sa.Column("rtt_seconds", sa.Float, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_tracks_created_id", "tracks", ["created_at", "id"])
    op.create_index("ix_tracks_score", "tracks", ["final_score"])
    op.create_table(
        "rounds",
        sa.Column("id", sa.String(80), primary_key=True),
        sa.Column("challenge_id", sa.String(80), nullable=False),
        sa.Column("challenge", sa.JSON, nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float, nullable=False),
        sa.Column("num_miners", sa.Integer, nullable=False),
    )
    op.create_table(
        "seen_nonces",
        sa.Column("hotkey", sa.String(64), primary_key=True),
        sa.Column("nonce", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("seen_at", sa.Float, nullable=False, index=True),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(40), nullable=False, index=True),
        sa.Column("account_id", sa.String(40), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.Float, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("delivered_at", sa.Float, nullable=True),
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.Integer, sa.ForeignKey("webhook_deliveries.id"), nullable=False, index=True),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
    )


def downgrade() -> None:
    for table in ("webhook_attempts", "webhook_deliveries", "seen_nonces", "rounds", "tracks", "jobs",
                  "credit_ledger", "api_keys", "accounts", "plans"):
        op.drop_table(table)
