"""Fields the Telegram and email channels need: reachability, phone, source, edits, raw originals.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("phone", sa.String(32), nullable=False, server_default=""))
    with op.batch_alter_table("channel_identities") as batch:
        batch.add_column(sa.Column("unreachable", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("unreachable_reason", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("source", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("previous_ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True))
        batch.create_foreign_key("fk_tickets_previous_ticket_id", "tickets", ["previous_ticket_id"], ["id"])
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("raw_key", sa.String(128), nullable=False, server_default=""))
    op.create_table(
        "channel_state",
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "key"),
    )


def downgrade() -> None:
    op.drop_table("channel_state")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("raw_key")
        batch.drop_column("edited_at")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_constraint("fk_tickets_previous_ticket_id", type_="foreignkey")
        batch.drop_column("previous_ticket_id")
        batch.drop_column("source")
    with op.batch_alter_table("channel_identities") as batch:
        batch.drop_column("unreachable_reason")
        batch.drop_column("unreachable")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("phone")
