"""hand-over: the lead lifecycle (subjects with per-subject outcomes, transitions, feedback
deadline), receivers, finding snapshots, rectification items (progress, transitions, escalation
notices), suggestions, rules established, tombstones

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

SCHEMA = "referrals"


def upgrade() -> None:
    op.create_table(
        "finding_snapshots",
        sa.Column("finding_id", sa.UUID(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("target_id", sa.UUID(), nullable=True),
        sa.Column("round_id", sa.UUID(), nullable=True),
        sa.Column("group_id", sa.UUID(), nullable=True),
        sa.Column(
            "refreshed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("finding_id", name=op.f("pk_finding_snapshots")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_finding_snapshots_group_id"),
        "finding_snapshots",
        ["group_id"],
        unique=False,
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_finding_snapshots_round_id"),
        "finding_snapshots",
        ["round_id"],
        unique=False,
        schema=SCHEMA,
    )
    op.create_table(
        "receivers",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("recipient", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), server_default=sa.text("''"), nullable=False),
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
            "recipient IN ('discipline_commission', 'organisation_department', 'stationed_discipline_group', 'other')",
            name=op.f("ck_receivers_recipient"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receivers")),
        sa.UniqueConstraint("user_id", name=op.f("uq_receivers_user_id")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_receivers_created_at_id", "receivers", ["created_at", "id"], unique=False, schema=SCHEMA
    )
    op.create_index(
        op.f("ix_receivers_updated_at"), "receivers", ["updated_at"], unique=False, schema=SCHEMA
    )
    op.create_table(
        "rectification_items",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("duties", sa.Text(), nullable=False),
        sa.Column("finding_ids", postgresql.ARRAY(sa.UUID()), nullable=False),
        sa.Column("round_id", sa.UUID(), nullable=True),
        sa.Column("owner_type", sa.String(length=30), nullable=False),
        sa.Column("owner_name", sa.String(length=200), nullable=False),
        sa.Column("owner_user_id", sa.UUID(), nullable=True),
        sa.Column("leader_name", sa.String(length=100), nullable=True),
        sa.Column("leader_user_id", sa.UUID(), nullable=True),
        sa.Column("unit_head_name", sa.String(length=100), nullable=True),
        sa.Column("unit_head_user_id", sa.UUID(), nullable=True),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=30), server_default=sa.text("'open'"), nullable=False),
        sa.Column("signed_off_on", sa.Date(), nullable=True),
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
            "owner_type IN ('city_leader', 'party_head', 'stationed_discipline_group', 'responsible_unit')",
            name=op.f("ck_rectification_items_owner_type"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'completion_requested', 'sent_back', 'signed_off', 'reopened')",
            name=op.f("ck_rectification_items_status"),
        ),
        sa.CheckConstraint(
            "cardinality(finding_ids) > 0", name=op.f("ck_rectification_items_has_findings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rectification_items")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_rectification_items_created_at_id",
        "rectification_items",
        ["created_at", "id"],
        unique=False,
        schema=SCHEMA,
    )
    op.create_index(
        "ix_rectification_items_finding_ids",
        "rectification_items",
        ["finding_ids"],
        unique=False,
        schema=SCHEMA,
        postgresql_using="gin",
    )
    op.create_index(
        op.f("ix_rectification_items_owner_user_id"),
        "rectification_items",
        ["owner_user_id"],
        unique=False,
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_rectification_items_round_id"),
        "rectification_items",
        ["round_id"],
        unique=False,
        schema=SCHEMA,
    )
    op.create_index(
        "ix_rectification_items_status_deadline",
        "rectification_items",
        ["status", "deadline"],
        unique=False,
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_rectification_items_updated_at"),
        "rectification_items",
        ["updated_at"],
        unique=False,
        schema=SCHEMA,
    )
    op.create_table(
        "rules",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("round_id", sa.UUID(), nullable=False),
        sa.Column("unit", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=True),
        sa.Column(
            "finding_ids",
            postgresql.ARRAY(sa.UUID()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column(
            "suggestion_ids",
            postgresql.ARRAY(sa.UUID()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rules")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_rules_created_at_id", "rules", ["created_at", "id"], unique=False, schema=SCHEMA
    )
    op.create_index(op.f("ix_rules_round_id"), "rules", ["round_id"], unique=False, schema=SCHEMA)
    op.create_index(
        op.f("ix_rules_updated_at"), "rules", ["updated_at"], unique=False, schema=SCHEMA
    )
    op.create_table(
        "suggestions",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("round_id", sa.UUID(), nullable=False),
        sa.Column("addressed_to", sa.String(length=200), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column(
            "adoption", sa.String(length=20), server_default=sa.text("'pending'"), nullable=False
        ),
        sa.Column("adoption_note", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column(
            "finding_ids",
            postgresql.ARRAY(sa.UUID()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
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
            "adoption IN ('pending', 'adopted', 'partially_adopted', 'not_adopted')",
            name=op.f("ck_suggestions_adoption"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suggestions")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_suggestions_created_at_id",
        "suggestions",
        ["created_at", "id"],
        unique=False,
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_suggestions_round_id"), "suggestions", ["round_id"], unique=False, schema=SCHEMA
    )
    op.create_index(
        op.f("ix_suggestions_updated_at"),
        "suggestions",
        ["updated_at"],
        unique=False,
        schema=SCHEMA,
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
        schema=SCHEMA,
    )
    op.create_index(
        "ix_tombstones_entity_deleted_at",
        "tombstones",
        ["entity", "deleted_at"],
        unique=False,
        schema=SCHEMA,
    )
    op.create_table(
        "lead_subjects",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("lead_id", sa.UUID(), nullable=False),
        sa.Column("position_no", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.String(length=200), server_default=sa.text("''"), nullable=False),
        sa.Column("rank", sa.String(length=20), nullable=False),
        sa.Column("party_member", sa.Boolean(), nullable=False),
        sa.Column("party_sanction", sa.String(length=30), nullable=True),
        sa.Column("government_sanction", sa.String(length=30), nullable=True),
        sa.Column("organisational_handling", sa.String(length=30), nullable=True),
        sa.Column(
            "judicial_transfer", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column(
            "not_substantiated", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column("outcome_note", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.CheckConstraint(
            "government_sanction IS NULL OR government_sanction IN ('warning', 'demerit', 'major_demerit', 'demotion', 'dismissal_from_post', 'expulsion')",
            name=op.f("ck_lead_subjects_government_sanction"),
        ),
        sa.CheckConstraint(
            "organisational_handling IS NULL OR organisational_handling IN ('admonishment_talk', 'criticism_education', 'ordered_self_examination', 'circulated_criticism', 'adjusted_post', 'ordered_resignation', 'removal')",
            name=op.f("ck_lead_subjects_organisational_handling"),
        ),
        sa.CheckConstraint(
            "party_sanction IS NULL OR party_sanction IN ('warning', 'serious_warning', 'removal_from_party_post', 'probation', 'expulsion')",
            name=op.f("ck_lead_subjects_party_sanction"),
        ),
        sa.CheckConstraint(
            "rank IN ('none', 'village', 'section_deputy', 'section', 'division_deputy', 'division', 'bureau_deputy', 'bureau', 'other')",
            name=op.f("ck_lead_subjects_rank"),
        ),
        sa.CheckConstraint(
            "NOT not_substantiated OR (party_sanction IS NULL AND government_sanction IS NULL AND organisational_handling IS NULL AND NOT judicial_transfer)",
            name=op.f("ck_lead_subjects_unsubstantiated_alone"),
        ),
        sa.CheckConstraint(
            "party_sanction IS NULL OR party_member",
            name=op.f("ck_lead_subjects_party_sanction_member"),
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["referrals.leads.id"],
            name=op.f("fk_lead_subjects_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_subjects")),
        sa.UniqueConstraint(
            "lead_id", "position_no", name=op.f("uq_lead_subjects_lead_id_position_no")
        ),
        schema=SCHEMA,
    )
    op.create_table(
        "lead_transitions",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("lead_id", sa.UUID(), nullable=False),
        sa.Column("from_state", sa.String(length=20), nullable=False),
        sa.Column("to_state", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["referrals.leads.id"],
            name=op.f("fk_lead_transitions_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_transitions")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_lead_transitions_lead_id"),
        "lead_transitions",
        ["lead_id"],
        unique=False,
        schema=SCHEMA,
    )
    op.create_table(
        "notices",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("item_id", sa.UUID(), nullable=False),
        sa.Column("recipient", sa.String(length=20), nullable=False),
        sa.Column("recipient_name", sa.String(length=200), nullable=True),
        sa.Column("recipient_user_id", sa.UUID(), nullable=True),
        sa.Column("days_before", sa.Integer(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "recipient IN ('owner', 'leader_in_charge', 'unit_head')",
            name=op.f("ck_notices_recipient"),
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["referrals.rectification_items.id"],
            name=op.f("fk_notices_item_id_rectification_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
        sa.UniqueConstraint(
            "item_id",
            "days_before",
            "recipient",
            "deadline",
            name=op.f("uq_notices_item_id_days_before_recipient_deadline"),
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_notices_created_at_id", "notices", ["created_at", "id"], unique=False, schema=SCHEMA
    )
    op.create_index(op.f("ix_notices_item_id"), "notices", ["item_id"], unique=False, schema=SCHEMA)
    op.create_index(
        op.f("ix_notices_recipient_user_id"),
        "notices",
        ["recipient_user_id"],
        unique=False,
        schema=SCHEMA,
    )
    op.create_table(
        "progress_reports",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("item_id", sa.UUID(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["referrals.rectification_items.id"],
            name=op.f("fk_progress_reports_item_id_rectification_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_progress_reports")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_progress_reports_item_id_at",
        "progress_reports",
        ["item_id", "at"],
        unique=False,
        schema=SCHEMA,
    )
    op.create_table(
        "rectification_transitions",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("item_id", sa.UUID(), nullable=False),
        sa.Column("from_state", sa.String(length=30), nullable=False),
        sa.Column("to_state", sa.String(length=30), nullable=False),
        sa.Column("note", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["referrals.rectification_items.id"],
            name=op.f("fk_rectification_transitions_item_id_rectification_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rectification_transitions")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_rectification_transitions_item_id"),
        "rectification_transitions",
        ["item_id"],
        unique=False,
        schema=SCHEMA,
    )
    op.add_column("leads", sa.Column("round_id", sa.UUID(), nullable=True), schema=SCHEMA)
    op.add_column(
        "leads", sa.Column("approved_by", sa.String(length=64), nullable=True), schema=SCHEMA
    )
    op.add_column(
        "leads",
        sa.Column("transfer_letter_no", sa.String(length=100), nullable=True),
        schema=SCHEMA,
    )
    op.add_column("leads", sa.Column("transferred_on", sa.Date(), nullable=True), schema=SCHEMA)
    op.add_column("leads", sa.Column("feedback_due", sa.Date(), nullable=True), schema=SCHEMA)
    op.add_column(
        "leads", sa.Column("handling", sa.String(length=30), nullable=True), schema=SCHEMA
    )
    op.add_column(
        "leads", sa.Column("case_number", sa.String(length=100), nullable=True), schema=SCHEMA
    )
    op.add_column("leads", sa.Column("case_filed_on", sa.Date(), nullable=True), schema=SCHEMA)
    op.add_column("leads", sa.Column("concluded_on", sa.Date(), nullable=True), schema=SCHEMA)
    op.add_column(
        "leads",
        sa.Column(
            "money_recovered",
            sa.Numeric(precision=14, scale=2),
            server_default=sa.text("0"),
            nullable=False,
        ),
        schema=SCHEMA,
    )
    op.add_column(
        "leads",
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_leads_recipient_status", "leads", ["recipient", "status"], unique=False, schema=SCHEMA
    )
    op.create_index(op.f("ix_leads_round_id"), "leads", ["round_id"], unique=False, schema=SCHEMA)
    op.create_unique_constraint(
        op.f("uq_leads_transfer_letter_no"), "leads", ["transfer_letter_no"], schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_constraint(op.f("uq_leads_transfer_letter_no"), "leads", schema=SCHEMA, type_="unique")
    op.drop_index(op.f("ix_leads_round_id"), table_name="leads", schema=SCHEMA)
    op.drop_index("ix_leads_recipient_status", table_name="leads", schema=SCHEMA)
    op.drop_column("leads", "version", schema=SCHEMA)
    op.drop_column("leads", "money_recovered", schema=SCHEMA)
    op.drop_column("leads", "concluded_on", schema=SCHEMA)
    op.drop_column("leads", "case_filed_on", schema=SCHEMA)
    op.drop_column("leads", "case_number", schema=SCHEMA)
    op.drop_column("leads", "handling", schema=SCHEMA)
    op.drop_column("leads", "feedback_due", schema=SCHEMA)
    op.drop_column("leads", "transferred_on", schema=SCHEMA)
    op.drop_column("leads", "transfer_letter_no", schema=SCHEMA)
    op.drop_column("leads", "approved_by", schema=SCHEMA)
    op.drop_column("leads", "round_id", schema=SCHEMA)
    op.drop_index(
        op.f("ix_rectification_transitions_item_id"),
        table_name="rectification_transitions",
        schema=SCHEMA,
    )
    op.drop_table("rectification_transitions", schema=SCHEMA)
    op.drop_index("ix_progress_reports_item_id_at", table_name="progress_reports", schema=SCHEMA)
    op.drop_table("progress_reports", schema=SCHEMA)
    op.drop_index(op.f("ix_notices_recipient_user_id"), table_name="notices", schema=SCHEMA)
    op.drop_index(op.f("ix_notices_item_id"), table_name="notices", schema=SCHEMA)
    op.drop_index("ix_notices_created_at_id", table_name="notices", schema=SCHEMA)
    op.drop_table("notices", schema=SCHEMA)
    op.drop_index(op.f("ix_lead_transitions_lead_id"), table_name="lead_transitions", schema=SCHEMA)
    op.drop_table("lead_transitions", schema=SCHEMA)
    op.drop_table("lead_subjects", schema=SCHEMA)
    op.drop_index("ix_tombstones_entity_deleted_at", table_name="tombstones", schema=SCHEMA)
    op.drop_table("tombstones", schema=SCHEMA)
    op.drop_index(op.f("ix_suggestions_updated_at"), table_name="suggestions", schema=SCHEMA)
    op.drop_index(op.f("ix_suggestions_round_id"), table_name="suggestions", schema=SCHEMA)
    op.drop_index("ix_suggestions_created_at_id", table_name="suggestions", schema=SCHEMA)
    op.drop_table("suggestions", schema=SCHEMA)
    op.drop_index(op.f("ix_rules_updated_at"), table_name="rules", schema=SCHEMA)
    op.drop_index(op.f("ix_rules_round_id"), table_name="rules", schema=SCHEMA)
    op.drop_index("ix_rules_created_at_id", table_name="rules", schema=SCHEMA)
    op.drop_table("rules", schema=SCHEMA)
    op.drop_index(
        op.f("ix_rectification_items_updated_at"), table_name="rectification_items", schema=SCHEMA
    )
    op.drop_index(
        "ix_rectification_items_status_deadline", table_name="rectification_items", schema=SCHEMA
    )
    op.drop_index(
        op.f("ix_rectification_items_round_id"), table_name="rectification_items", schema=SCHEMA
    )
    op.drop_index(
        op.f("ix_rectification_items_owner_user_id"),
        table_name="rectification_items",
        schema=SCHEMA,
    )
    op.drop_index(
        "ix_rectification_items_finding_ids",
        table_name="rectification_items",
        schema=SCHEMA,
        postgresql_using="gin",
    )
    op.drop_index(
        "ix_rectification_items_created_at_id", table_name="rectification_items", schema=SCHEMA
    )
    op.drop_table("rectification_items", schema=SCHEMA)
    op.drop_index(op.f("ix_receivers_updated_at"), table_name="receivers", schema=SCHEMA)
    op.drop_index("ix_receivers_created_at_id", table_name="receivers", schema=SCHEMA)
    op.drop_table("receivers", schema=SCHEMA)
    op.drop_index(
        op.f("ix_finding_snapshots_round_id"), table_name="finding_snapshots", schema=SCHEMA
    )
    op.drop_index(
        op.f("ix_finding_snapshots_group_id"), table_name="finding_snapshots", schema=SCHEMA
    )
    op.drop_table("finding_snapshots", schema=SCHEMA)
