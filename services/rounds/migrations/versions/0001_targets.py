"""targets: the inspection target registry (巡察对象)

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

SCHEMA = "rounds"

KINDS = (
    "department_party_group",
    "township_committee",
    "village",
    "community",
    "farm",
    "enterprise",
    "institution",
    "other",
)


def upgrade() -> None:
    op.create_table(
        "targets",
        sa.Column(
            "id",
            postgresql.UUID(as_uuid=True),
            server_default=sa.text("gen_random_uuid()"),
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("jurisdiction", sa.String(100), nullable=False),
        sa.Column(
            "parent_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey(
                f"{SCHEMA}.targets.id", ondelete="RESTRICT", name="fk_targets_parent_id_targets"
            ),
            nullable=True,
        ),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name="pk_targets"),
        sa.UniqueConstraint(
            "parent_id",
            "name",
            name="uq_targets_parent_id_name",
            postgresql_nulls_not_distinct=True,
        ),
        sa.CheckConstraint(
            "kind IN (" + ", ".join(f"'{k}'" for k in KINDS) + ")", name="ck_targets_kind"
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_targets_parent_id", "targets", ["parent_id"], schema=SCHEMA)
    op.create_index("ix_targets_updated_at", "targets", ["updated_at"], schema=SCHEMA)
    op.create_index("ix_targets_created_at_id", "targets", ["created_at", "id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("targets", schema=SCHEMA)
