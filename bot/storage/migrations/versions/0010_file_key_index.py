"""Indexes on the columns that name stored files.

Erasure, retention and the store's sweep ask "does any row still name this file?" for batches of
keys; without these indexes each such question reads the whole messages and attachments tables.
Most messages name no original (an empty key), so the message indexes leave those rows out.

Revision ID: 0010_file_key_index
Revises: 0009_audit_index
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = "0010_file_key_index"
down_revision = "0009_audit_index"
branch_labels = None
depends_on = None

NAMED = {"raw_key": sa.text("raw_key != ''"), "html_key": sa.text("html_key != ''")}


def upgrade() -> None:
    op.create_index("ix_attachments_storage_key", "attachments", ["storage_key"])
    for column, where in NAMED.items():
        op.create_index(f"ix_messages_{column}", "messages", [column], sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    for column in NAMED:
        op.drop_index(f"ix_messages_{column}", table_name="messages")
    op.drop_index("ix_attachments_storage_key", table_name="attachments")
