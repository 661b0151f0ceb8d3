"""Data cross-checks (大数据比对): jobs, dataset versions and their rows, user-defined rules,
runs, hits and dismissals

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crosscheck_dismissals",
        sa.Column("rule_code", sa.String(length=50), nullable=False),
        sa.Column("match_key", sa.CHAR(length=32), nullable=False),
        sa.Column("content_hash", sa.CHAR(length=32), nullable=False),
        sa.Column("hit_id", sa.UUID(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("dismissed_by", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint(
            "rule_code", "match_key", "content_hash", name=op.f("pk_crosscheck_dismissals")
        ),
        schema="findings",
    )
    op.create_table(
        "crosscheck_jobs",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column(
            "state", sa.String(length=20), server_default=sa.text("'queued'"), nullable=False
        ),
        sa.Column("percent", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("processed", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=True),
        sa.Column("round_id", sa.UUID(), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("error", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("kind IN ('import', 'run')", name=op.f("ck_crosscheck_jobs_kind")),
        sa.CheckConstraint(
            "state IN ('queued', 'running', 'done', 'failed')",
            name=op.f("ck_crosscheck_jobs_state"),
        ),
        sa.CheckConstraint(
            "percent BETWEEN 0 AND 100", name=op.f("ck_crosscheck_jobs_percent_range")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crosscheck_jobs")),
        schema="findings",
    )
    op.create_index(
        "ix_crosscheck_jobs_pending",
        "crosscheck_jobs",
        ["created_at"],
        unique=False,
        schema="findings",
        postgresql_where=sa.text("state IN ('queued', 'running')"),
    )
    op.create_table(
        "crosscheck_rules",
        sa.Column("code", sa.String(length=50), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("spec", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
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
        sa.PrimaryKeyConstraint("code", name=op.f("pk_crosscheck_rules")),
        schema="findings",
    )
    op.create_table(
        "dataset_rows",
        sa.Column("version_id", sa.UUID(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("id_number", sa.CHAR(length=18), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("name_key", sa.String(length=100), nullable=True),
        sa.Column("related_id", sa.CHAR(length=18), nullable=True),
        sa.Column("org", sa.String(length=200), nullable=True),
        sa.Column("account", sa.String(length=64), nullable=True),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("date1", sa.Date(), nullable=True),
        sa.Column("date2", sa.Date(), nullable=True),
        sa.Column("programme", sa.String(length=200), nullable=True),
        sa.Column("relation", sa.String(length=50), nullable=True),
        sa.Column("extra", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        schema="findings",
    )
    op.create_index(
        "ix_dataset_rows_version_id_line",
        "dataset_rows",
        ["version_id", "line"],
        unique=False,
        schema="findings",
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.create_table(
        "dataset_versions",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("dataset", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("round_id", sa.UUID(), nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.CHAR(length=64), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("bad_rows", sa.Integer(), nullable=False),
        sa.Column("columns", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("job_id", sa.UUID(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('loan_recipients', 'subsidy_recipients', 'staff_roster', 'village_cadres', 'deaths', 'social_security', 'vehicles', 'property', 'other')",
            name=op.f("ck_dataset_versions_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_versions")),
        sa.UniqueConstraint("dataset", "version", name=op.f("uq_dataset_versions_dataset_version")),
        schema="findings",
    )
    op.create_index(
        "ix_dataset_versions_created_at_id",
        "dataset_versions",
        ["created_at", "id"],
        unique=False,
        schema="findings",
    )
    op.create_index(
        op.f("ix_dataset_versions_round_id"),
        "dataset_versions",
        ["round_id"],
        unique=False,
        schema="findings",
    )
    op.create_table(
        "crosscheck_hits",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("run_id", sa.UUID(), nullable=False),
        sa.Column("run_rule_id", sa.UUID(), nullable=False),
        sa.Column("rule_code", sa.String(length=50), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("match_key", sa.CHAR(length=32), nullable=False),
        sa.Column("content_hash", sa.CHAR(length=32), nullable=False),
        sa.Column("rows", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=20), server_default=sa.text("'open'"), nullable=False),
        sa.Column("reason", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("finding_id", sa.UUID(), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('open', 'confirmed', 'dismissed')", name=op.f("ck_crosscheck_hits_status")
        ),
        sa.ForeignKeyConstraint(
            ["finding_id"],
            ["findings.findings.id"],
            name=op.f("fk_crosscheck_hits_finding_id_findings"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crosscheck_hits")),
        schema="findings",
    )
    op.create_index(
        "ix_crosscheck_hits_run_id_created_at_id",
        "crosscheck_hits",
        ["run_id", "created_at", "id"],
        unique=False,
        schema="findings",
    )
    op.create_table(
        "crosscheck_runs",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("round_id", sa.UUID(), nullable=False),
        sa.Column("title", sa.String(length=200), server_default=sa.text("''"), nullable=False),
        sa.Column("dataset_version_ids", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("job_id", sa.UUID(), nullable=False),
        sa.Column("hit_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["findings.crosscheck_jobs.id"],
            name=op.f("fk_crosscheck_runs_job_id_crosscheck_jobs"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crosscheck_runs")),
        schema="findings",
    )
    op.create_index(
        "ix_crosscheck_runs_created_at_id",
        "crosscheck_runs",
        ["created_at", "id"],
        unique=False,
        schema="findings",
    )
    op.create_index(
        op.f("ix_crosscheck_runs_round_id"),
        "crosscheck_runs",
        ["round_id"],
        unique=False,
        schema="findings",
    )
    op.create_table(
        "crosscheck_run_rules",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("run_id", sa.UUID(), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("rule_code", sa.String(length=50), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("params", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("datasets", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("spec", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("hit_count", sa.Integer(), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["findings.crosscheck_runs.id"],
            name=op.f("fk_crosscheck_run_rules_run_id_crosscheck_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crosscheck_run_rules")),
        sa.UniqueConstraint(
            "run_id", "ordinal", name=op.f("uq_crosscheck_run_rules_run_id_ordinal")
        ),
        schema="findings",
    )


def downgrade() -> None:
    op.drop_table("crosscheck_run_rules", schema="findings")
    op.drop_index(
        op.f("ix_crosscheck_runs_round_id"), table_name="crosscheck_runs", schema="findings"
    )
    op.drop_index(
        "ix_crosscheck_runs_created_at_id", table_name="crosscheck_runs", schema="findings"
    )
    op.drop_table("crosscheck_runs", schema="findings")
    op.drop_index(
        "ix_crosscheck_hits_run_id_created_at_id", table_name="crosscheck_hits", schema="findings"
    )
    op.drop_table("crosscheck_hits", schema="findings")
    op.drop_index(
        op.f("ix_dataset_versions_round_id"), table_name="dataset_versions", schema="findings"
    )
    op.drop_index(
        "ix_dataset_versions_created_at_id", table_name="dataset_versions", schema="findings"
    )
    op.drop_table("dataset_versions", schema="findings")
    op.drop_index(
        "ix_dataset_rows_version_id_line",
        table_name="dataset_rows",
        schema="findings",
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    op.drop_table("dataset_rows", schema="findings")
    op.drop_table("crosscheck_rules", schema="findings")
    op.drop_index(
        "ix_crosscheck_jobs_pending",
        table_name="crosscheck_jobs",
        schema="findings",
        postgresql_where=sa.text("state IN ('queued', 'running')"),
    )
    op.drop_table("crosscheck_jobs", schema="findings")
    op.drop_table("crosscheck_dismissals", schema="findings")
