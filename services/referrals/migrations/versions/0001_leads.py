"""leads: problem clues handed over (问题线索)

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

SCHEMA = "referrals"

RECIPIENTS = (
    "discipline_commission",
    "organisation_department",
    "stationed_discipline_group",
    "other",
)
STATUSES = ("draft", "approved", "transferred", "received", "handling", "case_filed", "concluded")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    op.create_table(
        "leads",
        sa.Column("id", postgresql.UUID(as_uuid=True), server_default=sa.text("gen_random_uuid()")),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("finding_ids", postgresql.ARRAY(postgresql.UUID(as_uuid=True)), nullable=False),
        sa.Column("recipient", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), server_default=sa.text("'draft'"), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name="pk_leads"),
        sa.CheckConstraint(_in("recipient", RECIPIENTS), name="ck_leads_recipient"),
        sa.CheckConstraint(_in("status", STATUSES), name="ck_leads_status"),
        sa.CheckConstraint("cardinality(finding_ids) > 0", name="ck_leads_has_findings"),
        schema=SCHEMA,
    )
    op.create_index("ix_leads_updated_at", "leads", ["updated_at"], schema=SCHEMA)
    op.create_index("ix_leads_created_at_id", "leads", ["created_at", "id"], schema=SCHEMA)
    op.create_index(
        "ix_leads_finding_ids", "leads", ["finding_ids"], postgresql_using="gin", schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_table("leads", schema=SCHEMA)
