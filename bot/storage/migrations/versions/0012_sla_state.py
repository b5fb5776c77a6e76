"""A ticket's SLA light row also keeps where its timeline left the clocks, so a follow-up syncs from one row.

Every SLA sync used to read all of a ticket's messages and its resolve/reopen audits to replay the
timeline (router/sla.py); with a busy chat that was a growing read on every client message. Now
`ticket_sla` stores the replayed state (router.sla.SlaState) and triggers keep it whoever writes:

- a client message carries the state on in SQL (router.sla.client_wrote) when it is later than
  every event the state holds;
- anything else that changes the timeline (an operator reply, a resolve or reopen audit, a message
  moved, re-dated or deleted, an out-of-order client message) only counts an event, which tells
  the next sync to replay the whole timeline again, as before.

`events` counts timeline changes; the stored state is good while `seen` equals it (bot/actions/sla.py
writes `seen` from the `events` it read before reading the timeline, so a message committed in
between leaves them apart). Existing rows start with `seen = -1`: the first sync replays and
stores, so nothing needs filling here. The triggers sit on messages and audit_events; a later
migration that rebuilds either on SQLite (batch_alter_table) must create them again
(`create_triggers`).

Revision ID: 0012_sla_state
Revises: 0011_queue_load_order
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "0012_sla_state"
down_revision = "0011_queue_load_order"
branch_labels = None
depends_on = None

COLUMNS = ("events", "seen", "seen_at", "started_at", "awaiting_at", "running_since", "answered", "resolved", "spent")
KINDS = "('resolved', 'reopened')"  # audit kinds in the timeline (bot.storage.routing_queries.timelines)
CLIENT = "direction = 'in' AND author_kind = 'client'"
REPLY = "direction = 'out' AND author_kind = 'operator'"


def _carry(new: str, false: str) -> str:
    """The UPDATE of ticket_sla a client message makes (`new`: the message row's alias). Every right-hand
    side reads the row as it was, so the state moves on only if it was good and older than the message."""
    return (f"UPDATE ticket_sla SET seen = CASE WHEN seen = events AND seen_at < {new}.created_at "
            f"THEN seen + 1 ELSE seen END, events = events + 1, seen_at = {new}.created_at, "
            f"awaiting_at = coalesce(awaiting_at, {new}.created_at), "
            f"running_since = coalesce(running_since, {new}.created_at), resolved = {false} "
            f"WHERE ticket_id = {new}.ticket_id")


def _count(ticket: str) -> str:
    return f"UPDATE ticket_sla SET events = events + 1 WHERE ticket_id = {ticket}"


SQLITE_TRIGGERS = {
    "messages_sla_client": f"AFTER INSERT ON messages WHEN NEW.{CLIENT.replace(' AND ', ' AND NEW.')} "
                           f"BEGIN {_carry('NEW', '0')}; END",
    "messages_sla_reply": f"AFTER INSERT ON messages WHEN NEW.{REPLY.replace(' AND ', ' AND NEW.')} "
                          f"BEGIN {_count('NEW.ticket_id')}; END",
    "messages_sla_change": "AFTER UPDATE OF ticket_id, created_at, direction, author_kind ON messages "
                           "BEGIN " + _count("OLD.ticket_id") + "; " + _count("NEW.ticket_id")
                           + " AND NEW.ticket_id <> OLD.ticket_id; END",
    "messages_sla_delete": f"AFTER DELETE ON messages BEGIN {_count('OLD.ticket_id')}; END",
    "audit_events_sla_insert": f"AFTER INSERT ON audit_events WHEN NEW.kind IN {KINDS} "
                               f"BEGIN {_count('NEW.ticket_id')}; END",
    "audit_events_sla_change": "AFTER UPDATE OF ticket_id, at, kind ON audit_events "
                               f"WHEN OLD.kind IN {KINDS} OR NEW.kind IN {KINDS} "
                               "BEGIN " + _count("OLD.ticket_id") + "; " + _count("NEW.ticket_id")
                               + " AND NEW.ticket_id IS NOT OLD.ticket_id; END",
    "audit_events_sla_delete": f"AFTER DELETE ON audit_events WHEN OLD.kind IN {KINDS} "
                               f"BEGIN {_count('OLD.ticket_id')}; END",
}

POSTGRES_FUNCTIONS = {
    "messages_track_sla": f"""
        BEGIN
            IF TG_OP = 'INSERT' THEN
                IF NEW.{CLIENT.replace(' AND ', ' AND NEW.')} THEN
                    {_carry('NEW', 'false')};
                ELSIF NEW.{REPLY.replace(' AND ', ' AND NEW.')} THEN
                    {_count('NEW.ticket_id')};
                END IF;
                RETURN NULL;
            END IF;
            {_count('OLD.ticket_id')};
            IF TG_OP = 'UPDATE' AND NEW.ticket_id <> OLD.ticket_id THEN
                {_count('NEW.ticket_id')};
            END IF;
            RETURN NULL;
        END""",
    "audit_events_track_sla": f"""
        BEGIN
            IF TG_OP <> 'INSERT' AND OLD.kind IN {KINDS} THEN
                {_count('OLD.ticket_id')};
            END IF;
            IF TG_OP <> 'DELETE' AND NEW.kind IN {KINDS}
                    AND (TG_OP = 'INSERT' OR OLD.kind NOT IN {KINDS} OR NEW.ticket_id IS DISTINCT FROM OLD.ticket_id) THEN
                {_count('NEW.ticket_id')};
            END IF;
            RETURN NULL;
        END""",
}
POSTGRES_TRIGGERS = {
    "messages_track_sla": "AFTER INSERT OR DELETE OR UPDATE OF ticket_id, created_at, direction, author_kind "
                          "ON messages FOR EACH ROW EXECUTE FUNCTION messages_track_sla()",
    "audit_events_track_sla": "AFTER INSERT OR DELETE OR UPDATE OF ticket_id, at, kind ON audit_events "
                              "FOR EACH ROW EXECUTE FUNCTION audit_events_track_sla()",
}
POSTGRES_TABLES = {"messages_track_sla": "messages", "audit_events_track_sla": "audit_events"}


def create_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, body in POSTGRES_FUNCTIONS.items():
            op.execute(f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $${body}\n$$")
        for name, definition in POSTGRES_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {definition}")
    else:
        for name, definition in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {definition}")


def drop_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, table in POSTGRES_TABLES.items():
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")


def upgrade() -> None:
    add = op.add_column
    add("ticket_sla", sa.Column("events", sa.Integer(), nullable=False, server_default="0"))
    add("ticket_sla", sa.Column("seen", sa.Integer(), nullable=False, server_default="-1"))
    for name in ("seen_at", "started_at", "awaiting_at", "running_since"):
        add("ticket_sla", sa.Column(name, sa.DateTime(timezone=True), nullable=True))
    for name in ("answered", "resolved"):
        add("ticket_sla", sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false()))
    add("ticket_sla", sa.Column("spent", sa.JSON(), nullable=True))
    create_triggers()


def downgrade() -> None:
    drop_triggers()
    for name in reversed(COLUMNS):
        op.drop_column("ticket_sla", name)
