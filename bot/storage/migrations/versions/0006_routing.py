"""Routing: decisions and corrections, operator presence and capacity, queue levels, offers, SLA, notifications.

Revision ID: 0006_routing
Revises: 0005_email
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa

revision = "0006_routing"
down_revision = "0005_email"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("operator_queues") as batch:
        batch.add_column(sa.Column("level", sa.Integer(), nullable=False, server_default="1"))
    with op.batch_alter_table("operators") as batch:
        batch.add_column(sa.Column("status", sa.String(16), nullable=False, server_default="offline"))
        batch.add_column(sa.Column("status_at", TIME, nullable=True))
        batch.add_column(sa.Column("seen_at", TIME, nullable=True))
        batch.add_column(sa.Column("capacity", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
        batch.add_column(sa.Column("last_assigned_at", TIME, nullable=True))
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("manager_id", ID, nullable=True))
        batch.create_foreign_key("fk_clients_manager_id", "operators", ["manager_id"], ["id"], ondelete="SET NULL")
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("routed_at", TIME, nullable=True))
        batch.add_column(sa.Column("queued_at", TIME, nullable=True))
        batch.add_column(sa.Column("assigned_at", TIME, nullable=True))
        batch.add_column(sa.Column("offered_to_id", ID, nullable=True))
        batch.add_column(sa.Column("offer_expires_at", TIME, nullable=True))
        batch.add_column(sa.Column("relaxed", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="0"))
        batch.create_foreign_key("fk_tickets_offered_to_id", "operators", ["offered_to_id"], ["id"], ondelete="SET NULL")
        batch.create_index("ix_tickets_routed_at", ["routed_at"])
        batch.create_index("ix_tickets_offer_expires_at", ["offer_expires_at"])
    # Tickets from before the router existed stay where they are: they count as routed when opened.
    op.execute("UPDATE tickets SET routed_at = created_at, queued_at = created_at")
    op.create_table(
        "routing_decisions",
        sa.Column("id", ID, nullable=False),
        sa.Column("ticket_id", ID, nullable=False),
        sa.Column("queue", sa.String(48), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("rule", sa.String(48), nullable=True),
        sa.Column("label", sa.String(48), nullable=True),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("decided_at", TIME, nullable=False),
        sa.Column("corrected_queue", sa.String(48), nullable=True),
        sa.Column("correction", sa.String(16), nullable=False),
        sa.Column("corrected_at", TIME, nullable=True),
        sa.Column("corrected_by", ID, nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["corrected_by"], ["operators.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_routing_decisions_ticket_id", "routing_decisions", ["ticket_id"])
    op.create_table(
        "offer_refusals",
        sa.Column("id", ID, nullable=False),
        sa.Column("ticket_id", ID, nullable=False),
        sa.Column("operator_id", ID, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_offer_refusals_ticket_id", "offer_refusals", ["ticket_id"])
    op.create_table(
        "ticket_sla",
        sa.Column("ticket_id", ID, nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("clock", sa.String(24), nullable=False),
        sa.Column("yellow_at", TIME, nullable=True),
        sa.Column("red_at", TIME, nullable=True),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("ticket_id"),
    )
    op.create_table(
        "sla_deadlines",
        sa.Column("id", ID, nullable=False),
        sa.Column("ticket_id", ID, nullable=False),
        sa.Column("key", sa.String(120), nullable=False),
        sa.Column("clock", sa.String(24), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("due_at", TIME, nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("lease_until", TIME, nullable=True),
        sa.Column("fired_at", TIME, nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id", "key"),
    )
    op.create_index("ix_sla_deadlines_due", "sla_deadlines", ["state", "due_at"])
    op.create_table(
        "notifications",
        sa.Column("id", ID, nullable=False),
        sa.Column("operator_id", ID, nullable=False),
        sa.Column("ticket_id", ID, nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("read_at", TIME, nullable=True),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_notifications_operator", "notifications", ["operator_id", "read_at"])


def downgrade() -> None:
    op.drop_index("ix_notifications_operator", "notifications")
    op.drop_table("notifications")
    op.drop_index("ix_sla_deadlines_due", "sla_deadlines")
    op.drop_table("sla_deadlines")
    op.drop_table("ticket_sla")
    op.drop_index("ix_offer_refusals_ticket_id", "offer_refusals")
    op.drop_table("offer_refusals")
    op.drop_index("ix_routing_decisions_ticket_id", "routing_decisions")
    op.drop_table("routing_decisions")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_index("ix_tickets_offer_expires_at")
        batch.drop_index("ix_tickets_routed_at")
        batch.drop_constraint("fk_tickets_offered_to_id", type_="foreignkey")
        for column in ("version", "relaxed", "offer_expires_at", "offered_to_id", "assigned_at", "queued_at", "routed_at"):
            batch.drop_column(column)
    with op.batch_alter_table("clients") as batch:
        batch.drop_constraint("fk_clients_manager_id", type_="foreignkey")
        batch.drop_column("manager_id")
    with op.batch_alter_table("operators") as batch:
        for column in ("last_assigned_at", "capacity", "seen_at", "status_at", "status"):
            batch.drop_column(column)
    with op.batch_alter_table("operator_queues") as batch:
        batch.drop_column("level")
