"""avoidance overrides register; one leader per group

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "avoidance_overrides",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("group_id", sa.UUID(), nullable=False),
        sa.Column("person_id", sa.UUID(), nullable=False),
        sa.Column("target_id", sa.UUID(), nullable=False),
        sa.Column("assignment_id", sa.UUID(), nullable=True),
        sa.Column("rule", sa.String(length=30), nullable=False),
        sa.Column("via_target_id", sa.UUID(), nullable=False),
        sa.Column("detail", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("overridden_by", sa.String(length=64), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["rounds.assignments.id"],
            name=op.f("fk_avoidance_overrides_assignment_id_assignments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["rounds.groups.id"],
            name=op.f("fk_avoidance_overrides_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["rounds.people.id"],
            name=op.f("fk_avoidance_overrides_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["rounds.targets.id"],
            name=op.f("fk_avoidance_overrides_target_id_targets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_avoidance_overrides")),
        schema="rounds",
    )
    op.create_index(
        op.f("ix_avoidance_overrides_assignment_id"),
        "avoidance_overrides",
        ["assignment_id"],
        unique=False,
        schema="rounds",
    )
    op.create_index(
        op.f("ix_avoidance_overrides_group_id"),
        "avoidance_overrides",
        ["group_id"],
        unique=False,
        schema="rounds",
    )
    op.create_index(
        "uq_group_members_one_leader",
        "group_members",
        ["group_id"],
        unique=True,
        schema="rounds",
        postgresql_where=sa.text("role = 'leader'"),
    )


def downgrade() -> None:
    op.drop_index(
        "uq_group_members_one_leader",
        table_name="group_members",
        schema="rounds",
        postgresql_where=sa.text("role = 'leader'"),
    )
    op.drop_index(
        op.f("ix_avoidance_overrides_group_id"), table_name="avoidance_overrides", schema="rounds"
    )
    op.drop_index(
        op.f("ix_avoidance_overrides_assignment_id"),
        table_name="avoidance_overrides",
        schema="rounds",
    )
    op.drop_table("avoidance_overrides", schema="rounds")
