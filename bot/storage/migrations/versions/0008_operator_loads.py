"""Operator loads: open tickets each operator holds per channel, kept by the database itself.

Assignment orders a queue's operators by how busy they are; counting tickets for that on every
decision scanned every open ticket. Triggers on `tickets` keep `operator_loads` in step within the
writing transaction, whoever writes (actions, CLI, another process), so the count is never stale.
A later migration that rebuilds `tickets` on SQLite (batch_alter_table) drops these triggers and
must create them again (see `create_triggers`).

Revision ID: 0008_operator_loads
Revises: 0007_console_language
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa

revision = "0008_operator_loads"
down_revision = "0007_console_language"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
HELD = "('new', 'open', 'waiting')"  # bot.storage.routing_queries.OPEN_STATUSES

_SQLITE_ADD = ("INSERT INTO operator_loads (operator_id, channel, held) VALUES (NEW.assignee_id, NEW.channel, 1) "
               "ON CONFLICT (operator_id, channel) DO UPDATE SET held = held + 1;")
_SQLITE_REMOVE = "UPDATE operator_loads SET held = held - 1 WHERE operator_id = OLD.assignee_id AND channel = OLD.channel;"
_NEW_HELD = f"NEW.assignee_id IS NOT NULL AND NEW.status IN {HELD}"
_OLD_HELD = f"OLD.assignee_id IS NOT NULL AND OLD.status IN {HELD}"
_SAME = "NEW.assignee_id IS OLD.assignee_id AND NEW.channel = OLD.channel"

SQLITE_TRIGGERS = (
    f"CREATE TRIGGER tickets_load_insert AFTER INSERT ON tickets WHEN {_NEW_HELD} BEGIN {_SQLITE_ADD} END",
    f"CREATE TRIGGER tickets_load_delete AFTER DELETE ON tickets WHEN {_OLD_HELD} BEGIN {_SQLITE_REMOVE} END",
    # An update counts as leaving the old (operator, channel) and joining the new one, unless both are held alike.
    f"CREATE TRIGGER tickets_load_leave AFTER UPDATE OF assignee_id, status, channel ON tickets "
    f"WHEN {_OLD_HELD} AND NOT ({_NEW_HELD} AND {_SAME}) BEGIN {_SQLITE_REMOVE} END",
    f"CREATE TRIGGER tickets_load_join AFTER UPDATE OF assignee_id, status, channel ON tickets "
    f"WHEN {_NEW_HELD} AND NOT ({_OLD_HELD} AND {_SAME}) BEGIN {_SQLITE_ADD} END",
)
SQLITE_TRIGGER_NAMES = ("tickets_load_insert", "tickets_load_delete", "tickets_load_leave", "tickets_load_join")

POSTGRES_FUNCTION = f"""
CREATE OR REPLACE FUNCTION tickets_track_load() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_held boolean := TG_OP <> 'INSERT' AND OLD.assignee_id IS NOT NULL AND OLD.status IN {HELD};
    new_held boolean := TG_OP <> 'DELETE' AND NEW.assignee_id IS NOT NULL AND NEW.status IN {HELD};
    same boolean := TG_OP = 'UPDATE' AND NEW.assignee_id IS NOT DISTINCT FROM OLD.assignee_id
                    AND NEW.channel = OLD.channel;
BEGIN
    IF old_held AND NOT (new_held AND same) THEN
        UPDATE operator_loads SET held = held - 1 WHERE operator_id = OLD.assignee_id AND channel = OLD.channel;
    END IF;
    IF new_held AND NOT (old_held AND same) THEN
        INSERT INTO operator_loads (operator_id, channel, held) VALUES (NEW.assignee_id, NEW.channel, 1)
        ON CONFLICT (operator_id, channel) DO UPDATE SET held = operator_loads.held + 1;
    END IF;
    RETURN NULL;
END $$
"""
POSTGRES_TRIGGER = ("CREATE TRIGGER tickets_track_load AFTER INSERT OR DELETE OR UPDATE OF assignee_id, status, channel "
                    "ON tickets FOR EACH ROW EXECUTE FUNCTION tickets_track_load()")


def create_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        op.execute(POSTGRES_TRIGGER)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def upgrade() -> None:
    op.create_table(
        "operator_loads",
        sa.Column("operator_id", ID, nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("held", sa.Integer(), nullable=False, server_default="0"),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("operator_id", "channel"),
    )
    op.execute(f"INSERT INTO operator_loads (operator_id, channel, held) SELECT assignee_id, channel, count(*) "
               f"FROM tickets WHERE assignee_id IS NOT NULL AND status IN {HELD} GROUP BY assignee_id, channel")
    create_triggers()
    # Live offers are counted from the tickets at decision time: this index finds an operator's quickly.
    op.create_index("ix_tickets_offered_to_id", "tickets", ["offered_to_id", "assignee_id", "offer_expires_at"])


def downgrade() -> None:
    op.drop_index("ix_tickets_offered_to_id", table_name="tickets")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS tickets_track_load ON tickets")
        op.execute("DROP FUNCTION IF EXISTS tickets_track_load()")
    else:
        for name in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("operator_loads")
