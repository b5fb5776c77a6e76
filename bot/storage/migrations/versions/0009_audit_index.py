"""An index on audit events by kind, operator and time.

The audit of reads checks, on every ticket page view, whether this operator's read of this ticket
was recorded within the hour; without the index that check scans every audit row of its kind.

Revision ID: 0009_audit_index
Revises: 0008_operator_loads
Create Date: 2026-11-22
"""
from alembic import op

revision = "0009_audit_index"
down_revision = "0008_operator_loads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_events_kind_operator_at", "audit_events", ["kind", "operator_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_audit_events_kind_operator_at", table_name="audit_events")
