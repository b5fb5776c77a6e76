"""Tickets are found by their chat (channel, chat id) along an index.

A web chat visitor's history is read by chat: the messages of the tickets whose channel and chat
id are the visitor's, after the last message the widget has. Without an index on the chat, SQLite
walked the messages table in id order from that message and looked up each message's ticket: a
visitor opening the widget (nothing seen yet) read every message the desk ever stored, about 8 ms
with a few thousand tickets and growing with the desk's history. With the index, the chat's tickets
are found first and their messages along ix_messages_ticket_id.

Revision ID: 0013_ticket_chat_index
Revises: 0012_sla_state
Create Date: 2026-11-23
"""
from alembic import op

revision = "0013_ticket_chat_index"
down_revision = "0012_sla_state"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tickets_channel_chat", "tickets", ["channel", "chat_id"])


def downgrade() -> None:
    op.drop_index("ix_tickets_channel_chat", table_name="tickets")
