"""Tables of data cross-checks (大数据比对), in the findings schema.

- `crosscheck_jobs`: background work (an import, a run) with its progress; the queue the
  runner claims from (see `jobs`).
- `dataset_versions` and `dataset_rows`: each upload is a new version of a named dataset; its
  rows are loaded with COPY into one table of typed, normalised columns that rules join on
  (`id_number`, `name_key`, `account`, ...), keyed by (version, line in the file), a partition
  per version. Fields a kind does not use stay NULL; columns of the file that map to no field
  are kept in `extra`.
- `crosscheck_rules`: user-defined rules (declarative specs); the built-in ones live in code.
- `crosscheck_runs`, `crosscheck_run_rules`, `crosscheck_hits`: a run of a rule set over chosen
  dataset versions, each rule as it ran (code, version, parameters, datasets), and its hits.
- `crosscheck_dismissals`: hits dismissed, by rule and the identity of what matched
  (`match_key`) and its content (`content_hash`): the same match with the same data is not
  raised again.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import CHAR, JSONB, UUID
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from services.findings.crosschecks.enums import DatasetKind, HitStatus, JobKind, JobState
from services.findings.models import Base, one_of


def _id() -> Mapped[uuid.UUID]:
    return mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class CrosscheckJob(Base):
    """后台任务: an import or a run, claimed by one worker at a time under a lease."""

    __tablename__ = "crosscheck_jobs"
    __table_args__ = (
        one_of("kind", JobKind),
        one_of("state", JobState),
        CheckConstraint("percent BETWEEN 0 AND 100", name="percent_range"),
        Index(
            "ix_crosscheck_jobs_pending",
            "created_at",
            postgresql_where=text("state IN ('queued', 'running')"),
        ),
    )

    id: Mapped[uuid.UUID] = _id()
    kind: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), server_default=text("'queued'"))
    percent: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    processed: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    total: Mapped[int | None] = mapped_column(BigInteger)
    round_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    host: Mapped[str] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = _now()


class DatasetVersion(Base):
    """数据集版本: one upload of a named dataset, with what it held and who brought it."""

    __tablename__ = "dataset_versions"
    __table_args__ = (
        one_of("kind", DatasetKind),
        UniqueConstraint("dataset", "version"),
        Index("ix_dataset_versions_created_at_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = _id()
    dataset: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(40))
    round_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(CHAR(64))
    row_count: Mapped[int] = mapped_column(Integer)
    bad_rows: Mapped[int] = mapped_column(Integer)
    columns: Mapped[dict[str, Any]] = mapped_column(JSONB)
    job_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    uploaded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()


class DatasetRow(Base):
    """A row of a dataset version, normalised. `line` is its row number in the file (the
    header is row 1), as the file's owner counts it.

    The table is partitioned by version (LIST on `version_id`), a partition per version (see
    `partition_of`), which the import creates as a table of its own, loads, indexes and then
    attaches (`importer.load`); deleting a version drops its partition. Rules read a version's
    partition whole; the one index is a block range index (BRIN) on (version_id, line), a few
    pages a million rows, built once a version's rows are in, which takes a hit to its rows'
    blocks."""

    __tablename__ = "dataset_rows"
    __table_args__ = (
        Index(
            "ix_dataset_rows_version_id_line",
            "version_id",
            "line",
            postgresql_using="brin",
            postgresql_with={"autosummarize": "on"},
        ),
        {"postgresql_partition_by": "LIST (version_id)"},
    )

    version_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    line: Mapped[int] = mapped_column(Integer)
    id_number: Mapped[str | None] = mapped_column(CHAR(18))
    name: Mapped[str | None] = mapped_column(String(100))
    name_key: Mapped[str | None] = mapped_column(String(100))
    related_id: Mapped[str | None] = mapped_column(CHAR(18))
    org: Mapped[str | None] = mapped_column(String(200))
    account: Mapped[str | None] = mapped_column(String(64))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    date1: Mapped[date | None] = mapped_column(Date)
    date2: Mapped[date | None] = mapped_column(Date)
    programme: Mapped[str | None] = mapped_column(String(200))
    relation: Mapped[str | None] = mapped_column(String(50))
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        # (version_id, line) is unique by construction (a file's row numbers), not by a
        # constraint that every row of a million would pay for
        return {"primary_key": [cls.__table__.c.version_id, cls.__table__.c.line]}


def partition_of(version_id: uuid.UUID) -> str:
    """The name of the partition of `dataset_rows` holding a version's rows (no schema)."""
    return f"dataset_rows_{version_id.hex}"


# made by imports, dropped with their versions: data, not schema (services/common/migrations.py)
Base.metadata.info["data_tables"] = r"dataset_rows_[0-9a-f]{32}"


class CrosscheckRule(Base):
    """自定义比对规则: a declarative spec (datasets, joins, conditions), compiled to SQL by
    `spec`; every change is a new version (hits name the version they came from)."""

    __tablename__ = "crosscheck_rules"

    code: Mapped[str] = mapped_column(String(50), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, server_default=text("''"))
    spec: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.version}


class CrosscheckRun(Base):
    """比对运行: rules over chosen dataset versions, for a round, as a background job."""

    __tablename__ = "crosscheck_runs"
    __table_args__ = (Index("ix_crosscheck_runs_created_at_id", "created_at", "id"),)

    id: Mapped[uuid.UUID] = _id()
    round_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    title: Mapped[str] = mapped_column(String(200), server_default=text("''"))
    dataset_version_ids: Mapped[list[str]] = mapped_column(JSONB)
    job_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("crosscheck_jobs.id", ondelete="RESTRICT")
    )
    hit_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()


class CrosscheckRunRule(Base):
    """A rule as it ran: code, version, parameters and the dataset versions bound to its roles;
    `done_at` set in the transaction that stored its hits (a resumed run skips it)."""

    __tablename__ = "crosscheck_run_rules"
    __table_args__ = (UniqueConstraint("run_id", "ordinal"),)

    id: Mapped[uuid.UUID] = _id()
    run_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("crosscheck_runs.id", ondelete="CASCADE")
    )
    ordinal: Mapped[int] = mapped_column(Integer)
    rule_code: Mapped[str] = mapped_column(String(50))
    rule_version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    params: Mapped[dict[str, Any]] = mapped_column(JSONB)
    datasets: Mapped[dict[str, Any]] = mapped_column(JSONB)
    spec: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    hit_count: Mapped[int | None] = mapped_column(Integer)
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CrosscheckHit(Base):
    """疑点: what a rule matched. `rows` names the matched rows ({role, version_id, line});
    `match_key` is who/what matched (e.g. the ID number), `content_hash` what their rows said."""

    __tablename__ = "crosscheck_hits"
    __table_args__ = (
        one_of("status", HitStatus),
        Index("ix_crosscheck_hits_run_id_created_at_id", "run_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = _id()
    # No foreign keys to the run and its rule: hits are written only by the run's own
    # INSERT ... SELECT, after both rows exist, and neither is ever deleted; a check per hit
    # would cost the insert of 10,000 hits as much again as the match itself.
    run_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    run_rule_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    rule_code: Mapped[str] = mapped_column(String(50))
    subject: Mapped[str] = mapped_column(String(200))
    match_key: Mapped[str] = mapped_column(CHAR(32))
    content_hash: Mapped[str] = mapped_column(CHAR(32))
    rows: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(20), server_default=text("'open'"))
    reason: Mapped[str] = mapped_column(Text, server_default=text("''"))
    finding_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("findings.id", ondelete="SET NULL")
    )
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_at: Mapped[datetime] = _now()

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.version}


class CrosscheckDismissal(Base):
    """排除记录: a hit dismissed; the same match on the same data stays dismissed."""

    __tablename__ = "crosscheck_dismissals"

    rule_code: Mapped[str] = mapped_column(String(50), primary_key=True)
    match_key: Mapped[str] = mapped_column(CHAR(32), primary_key=True)
    content_hash: Mapped[str] = mapped_column(CHAR(32), primary_key=True)
    hit_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    reason: Mapped[str] = mapped_column(Text)
    dismissed_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()
