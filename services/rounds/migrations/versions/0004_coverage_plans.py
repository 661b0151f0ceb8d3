"""coverage plans; target names unique per jurisdiction and parent

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # the same name may be used at top level in two jurisdictions (two counties' 民政局)
    op.drop_constraint("uq_targets_parent_id_name", "targets", schema="rounds", type_="unique")
    op.create_unique_constraint(
        "uq_targets_jurisdiction_parent_id_name",
        "targets",
        ["jurisdiction", "parent_id", "name"],
        schema="rounds",
        postgresql_nulls_not_distinct=True,
    )
    op.create_table(
        "coverage_plans",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("term_id", sa.UUID(), nullable=False),
        sa.Column("round_ids", postgresql.ARRAY(sa.UUID()), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column(
            "status", sa.String(length=10), server_default=sa.text("'proposed'"), nullable=False
        ),
        sa.Column(
            "unplaced",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'"),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
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
            "mode IN ('joint', 'cross', 'linked', 'backtrace', 'self', 'data', 'counterpart', 'relay', 'collaborative', 'return_visit', 'pinpoint')",
            name=op.f("ck_coverage_plans_mode"),
        ),
        sa.CheckConstraint(
            "status IN ('proposed', 'accepted', 'discarded')", name=op.f("ck_coverage_plans_status")
        ),
        sa.ForeignKeyConstraint(
            ["term_id"],
            ["rounds.terms.id"],
            name=op.f("fk_coverage_plans_term_id_terms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coverage_plans")),
        schema="rounds",
    )
    op.create_index(
        "ix_coverage_plans_created_at_id",
        "coverage_plans",
        ["created_at", "id"],
        unique=False,
        schema="rounds",
    )
    op.create_index(
        op.f("ix_coverage_plans_term_id"),
        "coverage_plans",
        ["term_id"],
        unique=False,
        schema="rounds",
    )
    op.create_table(
        "coverage_plan_items",
        sa.Column("plan_id", sa.UUID(), nullable=False),
        sa.Column("target_id", sa.UUID(), nullable=False),
        sa.Column("round_id", sa.UUID(), nullable=False),
        sa.Column("group_id", sa.UUID(), nullable=False),
        sa.Column("cluster", sa.String(length=200), server_default=sa.text("''"), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["rounds.groups.id"],
            name=op.f("fk_coverage_plan_items_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["rounds.coverage_plans.id"],
            name=op.f("fk_coverage_plan_items_plan_id_coverage_plans"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["rounds.rounds.id"],
            name=op.f("fk_coverage_plan_items_round_id_rounds"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["rounds.targets.id"],
            name=op.f("fk_coverage_plan_items_target_id_targets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("plan_id", "target_id", name=op.f("pk_coverage_plan_items")),
        schema="rounds",
    )


def downgrade() -> None:
    op.drop_constraint(
        "uq_targets_jurisdiction_parent_id_name", "targets", schema="rounds", type_="unique"
    )
    op.create_unique_constraint(
        "uq_targets_parent_id_name",
        "targets",
        ["parent_id", "name"],
        schema="rounds",
        postgresql_nulls_not_distinct=True,
    )
    op.drop_table("coverage_plan_items", schema="rounds")
    op.drop_index(op.f("ix_coverage_plans_term_id"), table_name="coverage_plans", schema="rounds")
    op.drop_index("ix_coverage_plans_created_at_id", table_name="coverage_plans", schema="rounds")
    op.drop_table("coverage_plans", schema="rounds")
