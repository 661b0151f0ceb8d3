"""findings: what inspection groups found (问题)

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = "findings"

SOURCES = ("talk", "documents", "visit", "letters", "data_check")
STATUSES = ("draft", "confirmed", "handed_over", "closed")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    op.create_table(
        "findings",
        sa.Column("id", postgresql.UUID(as_uuid=True), server_default=sa.text("gen_random_uuid()")),
        sa.Column("target_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column("money_involved", sa.Numeric(14, 2), server_default=sa.text("0"), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("discovered_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(20), server_default=sa.text("'draft'"), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name="pk_findings"),
        sa.CheckConstraint(_in("source", SOURCES), name="ck_findings_source"),
        sa.CheckConstraint(_in("status", STATUSES), name="ck_findings_status"),
        sa.CheckConstraint("money_involved >= 0", name="ck_findings_money_involved_nonnegative"),
        schema=SCHEMA,
    )
    op.create_index("ix_findings_target_id", "findings", ["target_id"], schema=SCHEMA)
    op.create_index("ix_findings_updated_at", "findings", ["updated_at"], schema=SCHEMA)
    op.create_index("ix_findings_created_at_id", "findings", ["created_at", "id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("findings", schema=SCHEMA)
