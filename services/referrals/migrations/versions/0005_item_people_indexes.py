"""rectification items: index the leader in charge and the unit head, who see the item as its
owner does (the visibility of items ORs the three user columns)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SCHEMA = "referrals"


def upgrade() -> None:
    op.create_index(
        op.f("ix_rectification_items_leader_user_id"),
        "rectification_items",
        ["leader_user_id"],
        unique=False,
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_rectification_items_unit_head_user_id"),
        "rectification_items",
        ["unit_head_user_id"],
        unique=False,
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_rectification_items_unit_head_user_id"),
        table_name="rectification_items",
        schema=SCHEMA,
    )
    op.drop_index(
        op.f("ix_rectification_items_leader_user_id"),
        table_name="rectification_items",
        schema=SCHEMA,
    )
