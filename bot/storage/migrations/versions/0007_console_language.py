"""Console language preference per operator; unanswered questions marked as covered by a knowledge-base article.

Revision ID: 0007_console_language
Revises: 0006_routing
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa

revision = "0007_console_language"
down_revision = "0006_routing"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("operators") as batch:
        batch.add_column(sa.Column("console_language", sa.String(16), nullable=False, server_default=""))
    with op.batch_alter_table("unanswered_questions") as batch:
        batch.add_column(sa.Column("covered_at", TIME, nullable=True))
        batch.add_column(sa.Column("covered_by", ID, nullable=True))
        batch.add_column(sa.Column("covered_article", sa.String(200), nullable=False, server_default=""))
        batch.create_foreign_key("fk_unanswered_questions_covered_by", "operators", ["covered_by"], ["id"],
                                 ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("unanswered_questions") as batch:
        batch.drop_constraint("fk_unanswered_questions_covered_by", type_="foreignkey")
        batch.drop_column("covered_article")
        batch.drop_column("covered_by")
        batch.drop_column("covered_at")
    with op.batch_alter_table("operators") as batch:
        batch.drop_column("console_language")
