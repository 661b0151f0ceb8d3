"""suggestions and rules established: the inspected unit (target) they concern, the rule's
document number, and GIN indexes on their finding and suggestion links

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SCHEMA = "referrals"


def upgrade() -> None:
    op.add_column("suggestions", sa.Column("target_id", sa.UUID(), nullable=True), schema=SCHEMA)
    op.create_index(
        op.f("ix_suggestions_target_id"), "suggestions", ["target_id"], unique=False, schema=SCHEMA
    )
    op.create_index(
        "ix_suggestions_finding_ids",
        "suggestions",
        ["finding_ids"],
        unique=False,
        schema=SCHEMA,
        postgresql_using="gin",
    )
    op.add_column("rules", sa.Column("target_id", sa.UUID(), nullable=True), schema=SCHEMA)
    op.add_column(
        "rules", sa.Column("document_no", sa.String(length=100), nullable=True), schema=SCHEMA
    )
    op.create_index(op.f("ix_rules_target_id"), "rules", ["target_id"], unique=False, schema=SCHEMA)
    op.create_index(
        "ix_rules_finding_ids",
        "rules",
        ["finding_ids"],
        unique=False,
        schema=SCHEMA,
        postgresql_using="gin",
    )
    op.create_index(
        "ix_rules_suggestion_ids",
        "rules",
        ["suggestion_ids"],
        unique=False,
        schema=SCHEMA,
        postgresql_using="gin",
    )


def downgrade() -> None:
    op.drop_index("ix_rules_suggestion_ids", table_name="rules", schema=SCHEMA)
    op.drop_index("ix_rules_finding_ids", table_name="rules", schema=SCHEMA)
    op.drop_index(op.f("ix_rules_target_id"), table_name="rules", schema=SCHEMA)
    op.drop_column("rules", "document_no", schema=SCHEMA)
    op.drop_column("rules", "target_id", schema=SCHEMA)
    op.drop_index("ix_suggestions_finding_ids", table_name="suggestions", schema=SCHEMA)
    op.drop_index(op.f("ix_suggestions_target_id"), table_name="suggestions", schema=SCHEMA)
    op.drop_column("suggestions", "target_id", schema=SCHEMA)
