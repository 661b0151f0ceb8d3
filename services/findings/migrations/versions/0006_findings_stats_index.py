"""The figures of rounds (GET /api/v1/findings/stats) from an index-only scan.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_findings_round_id_category_code_status_severity",
        "findings",
        ["round_id", "category_code", "status", "severity"],
        unique=False,
        schema="findings",
        postgresql_include=["money_involved"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_findings_round_id_category_code_status_severity",
        table_name="findings",
        schema="findings",
    )
