"""Queue memberships carry their operator's load and turn, so a queue's operators are read in choice order.

The choice reads a queue's operators least busy first (level, tickets held, longest since last
assigned, id) or by turn (level, longest since last assigned, id). With the load in operator_loads
and the turn on operators, every decision counted the load of every member and sorted them: about
300 operators a decision with 1,000 operators, the whole of its time. Here each membership row
mirrors its operator's total held (operator_loads summed over channels) and turn
(operators.last_assigned_at, the epoch when never assigned, so the order needs no NULLS FIRST),
triggers keep both in step whoever writes, and one index per order hands out a page by reading
a page. A later migration that rebuilds operator_queues, operators or operator_loads on SQLite
(batch_alter_table) drops these triggers and must create them again (see `create_triggers`).

Revision ID: 0011_queue_load_order
Revises: 0010_file_key_index
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = "0011_queue_load_order"
down_revision = "0010_file_key_index"
branch_labels = None
depends_on = None

SQLITE_EPOCH = "'1970-01-01 00:00:00.000000'"  # SQLAlchemy's SQLite datetime text, so it sorts first
INDEXES = {"ix_operator_queues_load_order": ["queue_id", "level", "held", "turn_at", "operator_id"],
           "ix_operator_queues_turn_order": ["queue_id", "level", "turn_at", "operator_id"]}

# Loads change by upsert (INSERT ... ON CONFLICT DO UPDATE): the update path fires the update trigger.
SQLITE_TRIGGERS = {
    "operator_loads_queue_insert": "AFTER INSERT ON operator_loads BEGIN "
    "UPDATE operator_queues SET held = held + NEW.held WHERE operator_id = NEW.operator_id; END",
    "operator_loads_queue_update": "AFTER UPDATE OF operator_id, held ON operator_loads BEGIN "
    "UPDATE operator_queues SET held = held - (CASE WHEN operator_id = OLD.operator_id THEN OLD.held ELSE 0 END) "
    "+ (CASE WHEN operator_id = NEW.operator_id THEN NEW.held ELSE 0 END) "
    "WHERE operator_id IN (OLD.operator_id, NEW.operator_id); END",
    "operator_loads_queue_delete": "AFTER DELETE ON operator_loads BEGIN "
    "UPDATE operator_queues SET held = held - OLD.held WHERE operator_id = OLD.operator_id; END",
    "operators_queue_turn": "AFTER UPDATE OF last_assigned_at ON operators BEGIN "
    f"UPDATE operator_queues SET turn_at = coalesce(NEW.last_assigned_at, {SQLITE_EPOCH}) "
    "WHERE operator_id = NEW.id; END",
    "operator_queues_join": "AFTER INSERT ON operator_queues BEGIN "
    "UPDATE operator_queues SET held = (SELECT coalesce(sum(held), 0) FROM operator_loads "
    "WHERE operator_id = NEW.operator_id), "
    f"turn_at = coalesce((SELECT last_assigned_at FROM operators WHERE id = NEW.operator_id), {SQLITE_EPOCH}) "
    "WHERE operator_id = NEW.operator_id AND queue_id = NEW.queue_id; END",
}

POSTGRES_FUNCTIONS = {
    "operator_loads_track_queues": """
        BEGIN
            IF TG_OP = 'UPDATE' AND NEW.operator_id = OLD.operator_id THEN
                IF NEW.held <> OLD.held THEN
                    UPDATE operator_queues SET held = held + NEW.held - OLD.held WHERE operator_id = NEW.operator_id;
                END IF;
                RETURN NULL;
            END IF;
            IF TG_OP <> 'INSERT' THEN
                UPDATE operator_queues SET held = held - OLD.held WHERE operator_id = OLD.operator_id;
            END IF;
            IF TG_OP <> 'DELETE' THEN
                UPDATE operator_queues SET held = held + NEW.held WHERE operator_id = NEW.operator_id;
            END IF;
            RETURN NULL;
        END""",
    "operators_track_queue_turn": """
        BEGIN
            UPDATE operator_queues SET turn_at = coalesce(NEW.last_assigned_at, 'epoch') WHERE operator_id = NEW.id;
            RETURN NULL;
        END""",
    "operator_queues_fill_mirror": """
        BEGIN
            NEW.held := (SELECT coalesce(sum(held), 0) FROM operator_loads WHERE operator_id = NEW.operator_id);
            NEW.turn_at := coalesce((SELECT last_assigned_at FROM operators WHERE id = NEW.operator_id), 'epoch');
            RETURN NEW;
        END""",
}
POSTGRES_TRIGGERS = {
    "operator_loads_track_queues": "AFTER INSERT OR DELETE OR UPDATE OF operator_id, held ON operator_loads "
    "FOR EACH ROW EXECUTE FUNCTION operator_loads_track_queues()",
    "operators_track_queue_turn": "AFTER UPDATE OF last_assigned_at ON operators FOR EACH ROW "
    "WHEN (NEW.last_assigned_at IS DISTINCT FROM OLD.last_assigned_at) EXECUTE FUNCTION operators_track_queue_turn()",
    "operator_queues_fill_mirror": "BEFORE INSERT ON operator_queues FOR EACH ROW "
    "EXECUTE FUNCTION operator_queues_fill_mirror()",
}
POSTGRES_TABLES = {"operator_loads_track_queues": "operator_loads", "operators_track_queue_turn": "operators",
                   "operator_queues_fill_mirror": "operator_queues"}


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
    postgres = op.get_bind().dialect.name == "postgresql"
    epoch = sa.text("'epoch'") if postgres else sa.text(SQLITE_EPOCH)
    op.add_column("operator_queues", sa.Column("held", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("operator_queues", sa.Column("turn_at", sa.DateTime(timezone=True), nullable=False,
                                               server_default=epoch))
    op.execute("UPDATE operator_queues SET held = (SELECT coalesce(sum(held), 0) FROM operator_loads "
               "WHERE operator_loads.operator_id = operator_queues.operator_id), "
               f"turn_at = coalesce((SELECT last_assigned_at FROM operators WHERE operators.id = "
               f"operator_queues.operator_id), {epoch.text})")
    create_triggers()
    for name, columns in INDEXES.items():
        op.create_index(name, "operator_queues", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="operator_queues")
    drop_triggers()
    op.drop_column("operator_queues", "turn_at")
    op.drop_column("operator_queues", "held")
