"""Self-service: the hand-off marker on tickets, the bot's dialogue per ticket, unanswered questions.

Revision ID: 0004_self_service
Revises: 0003_feedback
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa

revision = "0004_self_service"
down_revision = "0003_feedback"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("handed_off_at", TIME, nullable=True))
        batch.create_index("ix_tickets_handed_off_at", ["handed_off_at"])
    # Tickets from before self-service existed were never the bot's: they count as handed off
    # when they were opened, so the bot never wakes up on an old conversation.
    op.execute("UPDATE tickets SET handed_off_at = created_at")
    op.create_table(
        "bot_dialogues",
        sa.Column("ticket_id", ID, nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("last_message_id", sa.BigInteger(), nullable=False),
        sa.Column("handoff_message_id", sa.BigInteger(), nullable=True),
        sa.Column("handoff_reason", sa.String(32), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("ticket_id"),
    )
    op.create_table(
        "unanswered_questions",
        sa.Column("id", ID, nullable=False),
        sa.Column("ticket_id", ID, nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("article", sa.String(200), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_unanswered_questions_ticket_id", "unanswered_questions", ["ticket_id"])
    op.create_index("ix_unanswered_questions_created_at", "unanswered_questions", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_unanswered_questions_created_at", "unanswered_questions")
    op.drop_index("ix_unanswered_questions_ticket_id", "unanswered_questions")
    op.drop_table("unanswered_questions")
    op.drop_table("bot_dialogues")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_index("ix_tickets_handed_off_at")
        batch.drop_column("handed_off_at")
