"""finding comments (评论): remarks on a finding by its group, the office and consulted experts

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


def upgrade() -> None:
    op.create_table(
        "finding_comments",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("finding_id", sa.UUID(), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("author_name", sa.String(length=100), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "char_length(body) BETWEEN 1 AND 5000", name=op.f("ck_finding_comments_body_length")
        ),
        sa.ForeignKeyConstraint(
            ["finding_id"],
            ["findings.findings.id"],
            name=op.f("fk_finding_comments_finding_id_findings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finding_comments")),
        schema="findings",
    )
    op.create_index(
        "ix_finding_comments_finding_id_created_at_id",
        "finding_comments",
        ["finding_id", "created_at", "id"],
        unique=False,
        schema="findings",
    )
    op.create_index(
        "ix_finding_comments_finding_id_updated_at",
        "finding_comments",
        ["finding_id", "updated_at"],
        unique=False,
        schema="findings",
    )


def downgrade() -> None:
    op.drop_index(
        "ix_finding_comments_finding_id_updated_at",
        table_name="finding_comments",
        schema="findings",
    )
    op.drop_index(
        "ix_finding_comments_finding_id_created_at_id",
        table_name="finding_comments",
        schema="findings",
    )
    op.drop_table("finding_comments", schema="findings")
