"""findings on assignments: persons, history, consultations, evidence, responsibility links

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


SCHEMA = "findings"
SEVERITIES = ("minor", "major", "serious")


def upgrade() -> None:
    # A finding now belongs to an assignment; rows recorded before cannot be placed on one.
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM findings.findings) THEN "
        "RAISE EXCEPTION 'findings recorded without an assignment must be removed first'; "
        "END IF; END $$"
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
        schema="findings",
    )
    op.create_index(
        "ix_tombstones_entity_deleted_at",
        "tombstones",
        ["entity", "deleted_at"],
        unique=False,
        schema="findings",
    )
    op.create_table(
        "consultations",
        sa.Column("finding_id", sa.UUID(), nullable=False),
        sa.Column("expert_id", sa.String(length=64), nullable=False),
        sa.Column("added_by", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["finding_id"],
            ["findings.findings.id"],
            name=op.f("fk_consultations_finding_id_findings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("finding_id", "expert_id", name=op.f("pk_consultations")),
        schema="findings",
    )
    op.create_index(
        op.f("ix_consultations_expert_id"),
        "consultations",
        ["expert_id"],
        unique=False,
        schema="findings",
    )
    op.create_table(
        "evidence",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("finding_id", sa.UUID(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["finding_id"],
            ["findings.findings.id"],
            name=op.f("fk_evidence_finding_id_findings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence")),
        schema="findings",
    )
    op.create_index(
        "ix_evidence_finding_id_created_at",
        "evidence",
        ["finding_id", "created_at"],
        unique=False,
        schema="findings",
    )
    op.create_table(
        "finding_persons",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("finding_id", sa.UUID(), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.String(length=200), server_default=sa.text("''"), nullable=False),
        sa.Column("rank", sa.String(length=100), server_default=sa.text("''"), nullable=False),
        sa.Column("id_number", sa.String(length=18), nullable=True),
        sa.ForeignKeyConstraint(
            ["finding_id"],
            ["findings.findings.id"],
            name=op.f("fk_finding_persons_finding_id_findings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finding_persons")),
        schema="findings",
    )
    op.create_index(
        op.f("ix_finding_persons_finding_id"),
        "finding_persons",
        ["finding_id"],
        unique=False,
        schema="findings",
    )
    op.create_table(
        "finding_transitions",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("finding_id", sa.UUID(), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["finding_id"],
            ["findings.findings.id"],
            name=op.f("fk_finding_transitions_finding_id_findings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finding_transitions")),
        schema="findings",
    )
    op.create_index(
        op.f("ix_finding_transitions_finding_id"),
        "finding_transitions",
        ["finding_id"],
        unique=False,
        schema="findings",
    )
    op.create_table(
        "responsibility_links",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("finding_id", sa.UUID(), nullable=False),
        sa.Column("body_id", sa.UUID(), nullable=False),
        sa.Column("body_name", sa.String(length=200), nullable=False),
        sa.Column("duty", sa.String(length=30), nullable=False),
        sa.Column("note", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "duty IN ('primary', 'supervisory', 'assistance', 'pairing_assistance', 'approval', 'acceptance', 'poverty_alleviation', 'collective_assets', 'resident_team')",
            name=op.f("ck_responsibility_links_duty"),
        ),
        sa.ForeignKeyConstraint(
            ["finding_id"],
            ["findings.findings.id"],
            name=op.f("fk_responsibility_links_finding_id_findings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_responsibility_links")),
        schema="findings",
    )
    op.create_index(
        "ix_responsibility_links_body_id_created_at",
        "responsibility_links",
        ["body_id", "created_at"],
        unique=False,
        schema="findings",
    )
    op.create_index(
        op.f("ix_responsibility_links_finding_id"),
        "responsibility_links",
        ["finding_id"],
        unique=False,
        schema="findings",
    )
    op.create_index(
        "uq_responsibility_links_finding_body_duty",
        "responsibility_links",
        ["finding_id", "body_id", "duty"],
        unique=True,
        schema="findings",
    )
    op.add_column(
        "findings", sa.Column("assignment_id", sa.UUID(), nullable=False), schema="findings"
    )
    op.add_column("findings", sa.Column("round_id", sa.UUID(), nullable=False), schema="findings")
    op.add_column("findings", sa.Column("group_id", sa.UUID(), nullable=False), schema="findings")
    op.add_column(
        "findings",
        sa.Column("target_name", sa.String(length=200), nullable=False),
        schema="findings",
    )
    op.add_column(
        "findings", sa.Column("category_id", sa.UUID(), nullable=False), schema="findings"
    )
    op.add_column(
        "findings",
        sa.Column("category_code", sa.String(length=20), nullable=False),
        schema="findings",
    )
    op.add_column(
        "findings",
        sa.Column("category_name", sa.String(length=200), nullable=False),
        schema="findings",
    )
    op.add_column(
        "findings",
        sa.Column(
            "severity", sa.String(length=20), server_default=sa.text("'minor'"), nullable=False
        ),
        schema="findings",
    )
    op.add_column(
        "findings",
        sa.Column("latitude", sa.Numeric(precision=9, scale=6), nullable=True),
        schema="findings",
    )
    op.add_column(
        "findings",
        sa.Column("longitude", sa.Numeric(precision=9, scale=6), nullable=True),
        schema="findings",
    )
    op.add_column(
        "findings", sa.Column("recurrence_of", sa.UUID(), nullable=True), schema="findings"
    )
    op.add_column(
        "findings",
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        schema="findings",
    )
    op.drop_index(op.f("ix_findings_target_id"), table_name="findings", schema="findings")
    op.create_index(
        "ix_findings_group_id_created_at",
        "findings",
        ["group_id", "created_at"],
        unique=False,
        schema="findings",
    )
    op.create_index(
        op.f("ix_findings_round_id"), "findings", ["round_id"], unique=False, schema="findings"
    )
    op.create_index(
        "ix_findings_target_id_category_code",
        "findings",
        ["target_id", "category_code"],
        unique=False,
        schema="findings",
    )
    op.create_check_constraint(
        "ck_findings_severity",
        "findings",
        "severity IN (" + ", ".join(f"'{s}'" for s in SEVERITIES) + ")",
        schema=SCHEMA,
    )
    op.create_check_constraint(
        "ck_findings_point_complete",
        "findings",
        "(latitude IS NULL) = (longitude IS NULL)",
        schema=SCHEMA,
    )
    op.create_check_constraint(
        "ck_findings_latitude_range", "findings", "latitude BETWEEN -90 AND 90", schema=SCHEMA
    )
    op.create_check_constraint(
        "ck_findings_longitude_range", "findings", "longitude BETWEEN -180 AND 180", schema=SCHEMA
    )
    op.create_foreign_key(
        op.f("fk_findings_recurrence_of_findings"),
        "findings",
        "findings",
        ["recurrence_of"],
        ["id"],
        source_schema="findings",
        referent_schema="findings",
        ondelete="SET NULL",
    )


def downgrade() -> None:
    for name in ("severity", "point_complete", "latitude_range", "longitude_range"):
        op.drop_constraint(f"ck_findings_{name}", "findings", schema=SCHEMA, type_="check")
    op.drop_constraint(
        op.f("fk_findings_recurrence_of_findings"),
        "findings",
        schema="findings",
        type_="foreignkey",
    )
    op.drop_index("ix_findings_target_id_category_code", table_name="findings", schema="findings")
    op.drop_index(op.f("ix_findings_round_id"), table_name="findings", schema="findings")
    op.drop_index("ix_findings_group_id_created_at", table_name="findings", schema="findings")
    op.create_index(
        op.f("ix_findings_target_id"), "findings", ["target_id"], unique=False, schema="findings"
    )
    op.drop_column("findings", "version", schema="findings")
    op.drop_column("findings", "recurrence_of", schema="findings")
    op.drop_column("findings", "longitude", schema="findings")
    op.drop_column("findings", "latitude", schema="findings")
    op.drop_column("findings", "severity", schema="findings")
    op.drop_column("findings", "category_name", schema="findings")
    op.drop_column("findings", "category_code", schema="findings")
    op.drop_column("findings", "category_id", schema="findings")
    op.drop_column("findings", "target_name", schema="findings")
    op.drop_column("findings", "group_id", schema="findings")
    op.drop_column("findings", "round_id", schema="findings")
    op.drop_column("findings", "assignment_id", schema="findings")
    op.drop_index(
        "uq_responsibility_links_finding_body_duty",
        table_name="responsibility_links",
        schema="findings",
    )
    op.drop_index(
        op.f("ix_responsibility_links_finding_id"),
        table_name="responsibility_links",
        schema="findings",
    )
    op.drop_index(
        "ix_responsibility_links_body_id_created_at",
        table_name="responsibility_links",
        schema="findings",
    )
    op.drop_table("responsibility_links", schema="findings")
    op.drop_index(
        op.f("ix_finding_transitions_finding_id"),
        table_name="finding_transitions",
        schema="findings",
    )
    op.drop_table("finding_transitions", schema="findings")
    op.drop_index(
        op.f("ix_finding_persons_finding_id"), table_name="finding_persons", schema="findings"
    )
    op.drop_table("finding_persons", schema="findings")
    op.drop_index("ix_evidence_finding_id_created_at", table_name="evidence", schema="findings")
    op.drop_table("evidence", schema="findings")
    op.drop_index(op.f("ix_consultations_expert_id"), table_name="consultations", schema="findings")
    op.drop_table("consultations", schema="findings")
    op.drop_index("ix_tombstones_entity_deleted_at", table_name="tombstones", schema="findings")
    op.drop_table("tombstones", schema="findings")
