"""Email: folded quotes, sanitized HTML and auto-reply marks on messages; a ticket's mention of another.

Revision ID: 0005_email
Revises: 0004_self_service
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa

revision = "0005_email"
down_revision = "0004_self_service"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("html_key", sa.String(128), nullable=False, server_default=""))
        batch.add_column(sa.Column("folded_text", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("automated", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("mentioned_ticket_id", ID, nullable=True))
        batch.create_foreign_key("fk_tickets_mentioned_ticket_id", "tickets", ["mentioned_ticket_id"], ["id"],
                                 ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_constraint("fk_tickets_mentioned_ticket_id", type_="foreignkey")
        batch.drop_column("mentioned_ticket_id")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("automated")
        batch.drop_column("folded_text")
        batch.drop_column("html_key")
