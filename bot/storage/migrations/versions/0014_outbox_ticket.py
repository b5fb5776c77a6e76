"""Outbox rows carry their message's ticket, indexed with their status, for the claim's order check.

The delivery worker claims a row only while no earlier row of its ticket is unsent (pending or
being sent), so two processes never send one ticket's replies side by side (bot/actions/outbox.py).
Found through the messages table, that check walked every unsent row, or every message of the
ticket, for each candidate: with a backlog of a few thousand unsent rows a claim took 40-160 ms,
holding SQLite's write lock. With the ticket on the row and an index on (ticket_id, status, id) it
is a probe of the ticket's unsent rows. No foreign key: the row goes with its message (ON DELETE
CASCADE), and a message never changes ticket.

Revision ID: 0014_outbox_ticket
Revises: 0013_ticket_chat_index
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "0014_outbox_ticket"
down_revision = "0013_ticket_chat_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("ticket_id", sa.BigInteger(), nullable=True))
    op.execute("UPDATE outbox SET ticket_id = (SELECT messages.ticket_id FROM messages WHERE messages.id = outbox.message_id)")
    op.create_index("ix_outbox_ticket_unsent", "outbox", ["ticket_id", "status", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_ticket_unsent", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("ticket_id")
