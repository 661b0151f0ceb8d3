"""Dataset rows partitioned by version (LIST on version_id): an import loads its version into a
table of its own, unindexed, with the version id as the column's default (COPY parses none),
builds the block range index once the rows are in and attaches the table as a partition;
deleting a version drops its partition. Existing rows move into one partition per version.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

COLUMNS = """
    version_id uuid NOT NULL,
    line integer NOT NULL,
    id_number char(18),
    name varchar(100),
    name_key varchar(100),
    related_id char(18),
    org varchar(200),
    account varchar(64),
    amount numeric(14, 2),
    date1 date,
    date2 date,
    programme varchar(200),
    relation varchar(50),
    extra jsonb
"""
INDEX = (
    "CREATE INDEX ix_dataset_rows_version_id_line ON findings.dataset_rows "
    "USING brin (version_id, line) WITH (autosummarize = on)"
)


def upgrade() -> None:
    op.execute("ALTER TABLE findings.dataset_rows RENAME TO dataset_rows_unpartitioned")
    op.execute("ALTER INDEX findings.ix_dataset_rows_version_id_line RENAME TO "
               "ix_dataset_rows_unpartitioned")  # fmt: skip
    op.execute(f"CREATE TABLE findings.dataset_rows ({COLUMNS}) PARTITION BY LIST (version_id)")
    op.execute(INDEX)
    # the partitions are named as `crosschecks.models.partition_of` names them
    op.execute("""
        DO $$
        DECLARE v uuid;
        BEGIN
            FOR v IN SELECT DISTINCT version_id FROM findings.dataset_rows_unpartitioned LOOP
                EXECUTE format(
                    'CREATE TABLE findings.%I PARTITION OF findings.dataset_rows '
                    'FOR VALUES IN (%L)', 'dataset_rows_' || replace(v::text, '-', ''), v);
            END LOOP;
        END $$
    """)
    op.execute(
        "INSERT INTO findings.dataset_rows SELECT * FROM findings.dataset_rows_unpartitioned"
    )
    op.execute("DROP TABLE findings.dataset_rows_unpartitioned")


def downgrade() -> None:
    op.execute(f"CREATE TABLE findings.dataset_rows_unpartitioned ({COLUMNS})")
    op.execute(
        "INSERT INTO findings.dataset_rows_unpartitioned SELECT * FROM findings.dataset_rows"
    )
    op.execute("DROP TABLE findings.dataset_rows")  # and its partitions
    op.execute("ALTER TABLE findings.dataset_rows_unpartitioned RENAME TO dataset_rows")
    op.execute(INDEX)
