"""Feedback: surveys, follow-ups, complaints, client segments, digest deliveries; quick replies on messages.

Revision ID: 0003_feedback
Revises: 0002
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa

revision = "0003_feedback"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("choices", sa.JSON(), nullable=False, server_default="[]"))
    op.bulk_insert(sa.table("counters", sa.column("name", sa.String), sa.column("value", sa.BigInteger)),
                   [{"name": "complaint_number", "value": 1000}])
    op.create_table(
        "surveys",
        sa.Column("id", ID, nullable=False),
        sa.Column("ticket_id", ID, nullable=False),
        sa.Column("client_id", ID, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("due_at", TIME, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("queue_id", ID, nullable=True),
        sa.Column("operator_id", ID, nullable=True),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("message_id", ID, nullable=True),
        sa.Column("token_hash", sa.String(64), nullable=True),
        sa.Column("expires_at", TIME, nullable=True),
        sa.Column("sent_at", TIME, nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("answered_at", TIME, nullable=True),
        sa.Column("answered_via", sa.String(16), nullable=False),
        sa.Column("comment_until", TIME, nullable=True),
        sa.Column("skip_reason", sa.String(48), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["queue_id"], ["queues.id"]),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"]),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_surveys_due", "surveys", ["status", "due_at"])
    op.create_index("ix_surveys_client", "surveys", ["client_id", "sent_at"])
    op.create_table(
        "follow_ups",
        sa.Column("id", ID, nullable=False),
        sa.Column("ticket_id", ID, nullable=False),
        sa.Column("survey_id", ID, nullable=True),
        sa.Column("queue_id", ID, nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("done_at", TIME, nullable=True),
        sa.Column("done_by", ID, nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["survey_id"], ["surveys.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["queue_id"], ["queues.id"]),
        sa.ForeignKeyConstraint(["done_by"], ["operators.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_follow_ups_ticket_id", "follow_ups", ["ticket_id"])
    op.create_index("ix_follow_ups_status_queue", "follow_ups", ["status", "queue_id"])
    op.create_table(
        "complaints",
        sa.Column("id", ID, nullable=False),
        sa.Column("reference", sa.String(24), nullable=False),
        sa.Column("ticket_id", ID, nullable=False),
        sa.Column("client_id", ID, nullable=False),
        sa.Column("queue_id", ID, nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("category", sa.String(48), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("owner_id", ID, nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("resolution", sa.Text(), nullable=False),
        sa.Column("survey_id", ID, nullable=True),
        sa.Column("due_at", TIME, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("resolved_at", TIME, nullable=True),
        sa.Column("closed_at", TIME, nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["queue_id"], ["queues.id"]),
        sa.ForeignKeyConstraint(["owner_id"], ["operators.id"]),
        sa.ForeignKeyConstraint(["survey_id"], ["surveys.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reference"),
    )
    op.create_index("ix_complaints_ticket_id", "complaints", ["ticket_id"])
    op.create_index("ix_complaints_client_id", "complaints", ["client_id"])
    op.create_index("ix_complaints_status_due", "complaints", ["status", "due_at"])
    op.create_index("ix_complaints_created", "complaints", ["created_at"])
    op.create_table(
        "client_segments",
        sa.Column("client_id", ID, nullable=False),
        sa.Column("segment", sa.String(16), nullable=False),
        sa.Column("computed", sa.String(16), nullable=False),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("client_id"),
    )
    op.create_table(
        "segment_changes",
        sa.Column("id", ID, nullable=False),
        sa.Column("client_id", ID, nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("old_segment", sa.String(16), nullable=False),
        sa.Column("new_segment", sa.String(16), nullable=False),
        sa.Column("old_tags", sa.JSON(), nullable=False),
        sa.Column("new_tags", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("operator_id", ID, nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_segment_changes_client_id", "segment_changes", ["client_id"])
    op.create_table(
        "digest_deliveries",
        sa.Column("id", ID, nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("every", sa.String(8), nullable=False),
        sa.Column("period_start", TIME, nullable=False),
        sa.Column("period_end", TIME, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TIME, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("sent_at", TIME, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("recipient", "every", "period_start"),
    )


def downgrade() -> None:
    op.drop_table("digest_deliveries")
    op.drop_table("segment_changes")
    op.drop_table("client_segments")
    op.drop_table("complaints")
    op.drop_table("follow_ups")
    op.drop_table("surveys")
    op.execute("DELETE FROM counters WHERE name = 'complaint_number'")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("choices")
