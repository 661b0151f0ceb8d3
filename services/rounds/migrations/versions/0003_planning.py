"""planning: terms, rounds and phases, work plans, checklists, people, groups, assignments

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "checklist_templates",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("is_default", sa.Boolean(), server_default=sa.text("false"), nullable=False),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checklist_templates")),
        sa.UniqueConstraint("name", name=op.f("uq_checklist_templates_name")),
        schema="rounds",
    )
    op.create_table(
        "people",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("unit", sa.String(length=200), nullable=False),
        sa.Column("position", sa.String(length=100), server_default=sa.text("''"), nullable=False),
        sa.Column(
            "specialities",
            postgresql.ARRAY(sa.String(length=20)),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("user_id", sa.UUID(), nullable=True),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people")),
        sa.UniqueConstraint("user_id", name=op.f("uq_people_user_id")),
        schema="rounds",
    )
    op.create_index(
        "ix_people_created_at_id", "people", ["created_at", "id"], unique=False, schema="rounds"
    )
    op.create_table(
        "terms",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("coverage_kinds", postgresql.ARRAY(sa.String(length=40)), nullable=False),
        sa.Column("jurisdiction", sa.String(length=100), nullable=False),
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
        sa.CheckConstraint("ends_on > starts_on", name=op.f("ck_terms_dates_ordered")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_terms")),
        sa.UniqueConstraint("name", name=op.f("uq_terms_name")),
        schema="rounds",
    )
    op.create_index(
        "ix_terms_created_at_id", "terms", ["created_at", "id"], unique=False, schema="rounds"
    )
    op.create_table(
        "tombstones",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("entity_id", sa.UUID(), nullable=False),
        sa.Column(
            "deleted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tombstones")),
        schema="rounds",
    )
    op.create_index(
        "ix_tombstones_entity_deleted_at",
        "tombstones",
        ["entity", "deleted_at"],
        unique=False,
        schema="rounds",
    )
    op.create_table(
        "person_postings",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("person_id", sa.UUID(), nullable=False),
        sa.Column("target_id", sa.UUID(), nullable=False),
        sa.Column("position", sa.String(length=100), server_default=sa.text("''"), nullable=False),
        sa.Column("from_date", sa.Date(), nullable=True),
        sa.Column("to_date", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["rounds.people.id"],
            name=op.f("fk_person_postings_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["rounds.targets.id"],
            name=op.f("fk_person_postings_target_id_targets"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_postings")),
        schema="rounds",
    )
    op.create_index(
        op.f("ix_person_postings_person_id"),
        "person_postings",
        ["person_id"],
        unique=False,
        schema="rounds",
    )
    op.create_index(
        op.f("ix_person_postings_target_id"),
        "person_postings",
        ["target_id"],
        unique=False,
        schema="rounds",
    )
    op.create_table(
        "person_relations",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("person_id", sa.UUID(), nullable=False),
        sa.Column("target_id", sa.UUID(), nullable=False),
        sa.Column("relative_name", sa.String(length=100), nullable=False),
        sa.Column("relation", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.CheckConstraint(
            "relation IN ('spouse', 'parent', 'child', 'sibling', 'in_law', 'other')",
            name=op.f("ck_person_relations_relation"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["rounds.people.id"],
            name=op.f("fk_person_relations_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["rounds.targets.id"],
            name=op.f("fk_person_relations_target_id_targets"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_relations")),
        schema="rounds",
    )
    op.create_index(
        op.f("ix_person_relations_person_id"),
        "person_relations",
        ["person_id"],
        unique=False,
        schema="rounds",
    )
    op.create_index(
        op.f("ix_person_relations_target_id"),
        "person_relations",
        ["target_id"],
        unique=False,
        schema="rounds",
    )
    op.create_table(
        "rounds",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("term_id", sa.UUID(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("theme", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column(
            "state", sa.String(length=20), server_default=sa.text("'preparation'"), nullable=False
        ),
        sa.Column("checklist_template_id", sa.UUID(), nullable=True),
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
            "kind IN ('regular', 'special', 'mobile', 'follow_up')", name=op.f("ck_rounds_kind")
        ),
        sa.CheckConstraint(
            "state IN ('preparation', 'mobilisation', 'stationing', 'report', 'feedback', 'rectification', 'archived')",
            name=op.f("ck_rounds_state"),
        ),
        sa.CheckConstraint("number > 0", name=op.f("ck_rounds_number_positive")),
        sa.ForeignKeyConstraint(
            ["checklist_template_id"],
            ["rounds.checklist_templates.id"],
            name=op.f("fk_rounds_checklist_template_id_checklist_templates"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["term_id"],
            ["rounds.terms.id"],
            name=op.f("fk_rounds_term_id_terms"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rounds")),
        sa.UniqueConstraint("term_id", "number", name=op.f("uq_rounds_term_id_number")),
        schema="rounds",
    )
    op.create_index(
        "ix_rounds_created_at_id", "rounds", ["created_at", "id"], unique=False, schema="rounds"
    )
    op.create_index(op.f("ix_rounds_term_id"), "rounds", ["term_id"], unique=False, schema="rounds")
    op.create_table(
        "checklist_categories",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("template_id", sa.UUID(), nullable=True),
        sa.Column("round_id", sa.UUID(), nullable=True),
        sa.Column("parent_id", sa.UUID(), nullable=True),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("position", sa.Integer(), server_default=sa.text("0"), nullable=False),
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
            "kind IN ('common', 'specific')", name=op.f("ck_checklist_categories_kind")
        ),
        sa.CheckConstraint(
            "(template_id IS NULL) <> (round_id IS NULL)",
            name=op.f("ck_checklist_categories_one_owner"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["rounds.checklist_categories.id"],
            name=op.f("fk_checklist_categories_parent_id_checklist_categories"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["rounds.rounds.id"],
            name=op.f("fk_checklist_categories_round_id_rounds"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["rounds.checklist_templates.id"],
            name=op.f("fk_checklist_categories_template_id_checklist_templates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checklist_categories")),
        sa.UniqueConstraint(
            "template_id",
            "round_id",
            "code",
            name=op.f("uq_checklist_categories_template_id_round_id_code"),
            postgresql_nulls_not_distinct=True,
        ),
        schema="rounds",
    )
    op.create_index(
        op.f("ix_checklist_categories_round_id"),
        "checklist_categories",
        ["round_id"],
        unique=False,
        schema="rounds",
    )
    op.create_index(
        op.f("ix_checklist_categories_template_id"),
        "checklist_categories",
        ["template_id"],
        unique=False,
        schema="rounds",
    )
    op.create_table(
        "groups",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("round_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("owning_organisation", sa.String(length=200), nullable=False),
        sa.Column("lead_group_id", sa.UUID(), nullable=True),
        sa.Column("higher_level_group", sa.String(length=200), nullable=True),
        sa.Column("capacity", sa.Integer(), server_default=sa.text("8"), nullable=False),
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
            "kind IN ('municipal', 'township_sub', 'joint', 'expert_guidance')",
            name=op.f("ck_groups_kind"),
        ),
        sa.CheckConstraint("capacity > 0", name=op.f("ck_groups_capacity_positive")),
        sa.ForeignKeyConstraint(
            ["lead_group_id"],
            ["rounds.groups.id"],
            name=op.f("fk_groups_lead_group_id_groups"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["rounds.rounds.id"],
            name=op.f("fk_groups_round_id_rounds"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groups")),
        sa.UniqueConstraint("round_id", "name", name=op.f("uq_groups_round_id_name")),
        schema="rounds",
    )
    op.create_index(
        "ix_groups_created_at_id", "groups", ["created_at", "id"], unique=False, schema="rounds"
    )
    op.create_index(
        op.f("ix_groups_round_id"), "groups", ["round_id"], unique=False, schema="rounds"
    )
    op.create_table(
        "round_phases",
        sa.Column("round_id", sa.UUID(), nullable=False),
        sa.Column("phase", sa.String(length=20), nullable=False),
        sa.Column("planned_start", sa.Date(), nullable=True),
        sa.Column("planned_end", sa.Date(), nullable=True),
        sa.Column("actual_start", sa.Date(), nullable=True),
        sa.Column("actual_end", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "phase IN ('preparation', 'mobilisation', 'stationing', 'report', 'feedback', 'rectification', 'archived')",
            name=op.f("ck_round_phases_phase"),
        ),
        sa.CheckConstraint(
            "actual_end IS NULL OR actual_start IS NULL OR actual_end >= actual_start",
            name=op.f("ck_round_phases_actual_ordered"),
        ),
        sa.CheckConstraint(
            "planned_end IS NULL OR planned_start IS NULL OR planned_end >= planned_start",
            name=op.f("ck_round_phases_planned_ordered"),
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["rounds.rounds.id"],
            name=op.f("fk_round_phases_round_id_rounds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("round_id", "phase", name=op.f("pk_round_phases")),
        schema="rounds",
    )
    op.create_table(
        "round_transitions",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("round_id", sa.UUID(), nullable=False),
        sa.Column("from_state", sa.String(length=20), nullable=False),
        sa.Column("to_state", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["rounds.rounds.id"],
            name=op.f("fk_round_transitions_round_id_rounds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_round_transitions")),
        schema="rounds",
    )
    op.create_index(
        op.f("ix_round_transitions_round_id"),
        "round_transitions",
        ["round_id"],
        unique=False,
        schema="rounds",
    )
    op.create_table(
        "work_plans",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("round_id", sa.UUID(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["rounds.rounds.id"],
            name=op.f("fk_work_plans_round_id_rounds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_plans")),
        sa.UniqueConstraint("round_id", "version", name=op.f("uq_work_plans_round_id_version")),
        schema="rounds",
    )
    op.create_table(
        "assignments",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("round_id", sa.UUID(), nullable=False),
        sa.Column("group_id", sa.UUID(), nullable=False),
        sa.Column("target_id", sa.UUID(), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("stationing_start", sa.Date(), nullable=True),
        sa.Column("stationing_end", sa.Date(), nullable=True),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("overridden_by", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
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
            name=op.f("ck_assignments_mode"),
        ),
        sa.CheckConstraint(
            "stationing_end IS NULL OR stationing_start IS NULL OR stationing_end >= stationing_start",
            name=op.f("ck_assignments_dates_ordered"),
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["rounds.groups.id"],
            name=op.f("fk_assignments_group_id_groups"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["rounds.rounds.id"],
            name=op.f("fk_assignments_round_id_rounds"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["rounds.targets.id"],
            name=op.f("fk_assignments_target_id_targets"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignments")),
        sa.UniqueConstraint(
            "round_id",
            "group_id",
            "target_id",
            name=op.f("uq_assignments_round_id_group_id_target_id"),
        ),
        schema="rounds",
    )
    op.create_index(
        "ix_assignments_created_at_id",
        "assignments",
        ["created_at", "id"],
        unique=False,
        schema="rounds",
    )
    op.create_index(
        op.f("ix_assignments_group_id"), "assignments", ["group_id"], unique=False, schema="rounds"
    )
    op.create_index(
        op.f("ix_assignments_round_id"), "assignments", ["round_id"], unique=False, schema="rounds"
    )
    op.create_index(
        "ix_assignments_target_id_round_id",
        "assignments",
        ["target_id", "round_id"],
        unique=False,
        schema="rounds",
    )
    op.create_table(
        "group_members",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("group_id", sa.UUID(), nullable=False),
        sa.Column("person_id", sa.UUID(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("seconded_from", sa.String(length=200), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "role IN ('leader', 'deputy_leader', 'member', 'liaison')",
            name=op.f("ck_group_members_role"),
        ),
        sa.CheckConstraint(
            "ends_on IS NULL OR starts_on IS NULL OR ends_on >= starts_on",
            name=op.f("ck_group_members_dates_ordered"),
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["rounds.groups.id"],
            name=op.f("fk_group_members_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["rounds.people.id"],
            name=op.f("fk_group_members_person_id_people"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_members")),
        sa.UniqueConstraint(
            "group_id", "person_id", name=op.f("uq_group_members_group_id_person_id")
        ),
        schema="rounds",
    )
    op.create_index(
        op.f("ix_group_members_group_id"),
        "group_members",
        ["group_id"],
        unique=False,
        schema="rounds",
    )
    op.create_index(
        op.f("ix_group_members_person_id"),
        "group_members",
        ["person_id"],
        unique=False,
        schema="rounds",
    )
    op.add_column(
        "targets",
        sa.Column(
            "risk_class", sa.String(length=10), server_default=sa.text("'medium'"), nullable=False
        ),
        schema="rounds",
    )
    op.add_column(
        "targets",
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        schema="rounds",
    )


def downgrade() -> None:
    op.drop_column("targets", "version", schema="rounds")
    op.drop_column("targets", "risk_class", schema="rounds")
    op.drop_index(op.f("ix_group_members_person_id"), table_name="group_members", schema="rounds")
    op.drop_index(op.f("ix_group_members_group_id"), table_name="group_members", schema="rounds")
    op.drop_table("group_members", schema="rounds")
    op.drop_index("ix_assignments_target_id_round_id", table_name="assignments", schema="rounds")
    op.drop_index(op.f("ix_assignments_round_id"), table_name="assignments", schema="rounds")
    op.drop_index(op.f("ix_assignments_group_id"), table_name="assignments", schema="rounds")
    op.drop_index("ix_assignments_created_at_id", table_name="assignments", schema="rounds")
    op.drop_table("assignments", schema="rounds")
    op.drop_table("work_plans", schema="rounds")
    op.drop_index(
        op.f("ix_round_transitions_round_id"), table_name="round_transitions", schema="rounds"
    )
    op.drop_table("round_transitions", schema="rounds")
    op.drop_table("round_phases", schema="rounds")
    op.drop_index(op.f("ix_groups_round_id"), table_name="groups", schema="rounds")
    op.drop_index("ix_groups_created_at_id", table_name="groups", schema="rounds")
    op.drop_table("groups", schema="rounds")
    op.drop_index(
        op.f("ix_checklist_categories_template_id"),
        table_name="checklist_categories",
        schema="rounds",
    )
    op.drop_index(
        op.f("ix_checklist_categories_round_id"), table_name="checklist_categories", schema="rounds"
    )
    op.drop_table("checklist_categories", schema="rounds")
    op.drop_index(op.f("ix_rounds_term_id"), table_name="rounds", schema="rounds")
    op.drop_index("ix_rounds_created_at_id", table_name="rounds", schema="rounds")
    op.drop_table("rounds", schema="rounds")
    op.drop_index(
        op.f("ix_person_relations_target_id"), table_name="person_relations", schema="rounds"
    )
    op.drop_index(
        op.f("ix_person_relations_person_id"), table_name="person_relations", schema="rounds"
    )
    op.drop_table("person_relations", schema="rounds")
    op.drop_index(
        op.f("ix_person_postings_target_id"), table_name="person_postings", schema="rounds"
    )
    op.drop_index(
        op.f("ix_person_postings_person_id"), table_name="person_postings", schema="rounds"
    )
    op.drop_table("person_postings", schema="rounds")
    op.drop_index("ix_tombstones_entity_deleted_at", table_name="tombstones", schema="rounds")
    op.drop_table("tombstones", schema="rounds")
    op.drop_index("ix_terms_created_at_id", table_name="terms", schema="rounds")
    op.drop_table("terms", schema="rounds")
    op.drop_index("ix_people_created_at_id", table_name="people", schema="rounds")
    op.drop_table("people", schema="rounds")
    op.drop_table("checklist_templates", schema="rounds")
