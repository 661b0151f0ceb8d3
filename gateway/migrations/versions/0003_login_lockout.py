"""users: failed login count and temporary lockout

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("failed_logins", sa.Integer(), server_default=sa.text("0"), nullable=False),
        schema="gateway",
    )
    op.add_column(
        "users",
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        schema="gateway",
    )


def downgrade() -> None:
    op.drop_column("users", "locked_until", schema="gateway")
    op.drop_column("users", "failed_logins", schema="gateway")
