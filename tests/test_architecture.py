"""Architecture as tests: import contracts, and migrations that match the models."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.db import metadata as gateway_metadata
from gateway.identity import models as _identity_models  # noqa: F401
from ops.stack import Database
from services.common.migrations import only_schema
from services.findings.models import metadata as findings_metadata
from services.referrals.models import metadata as referrals_metadata
from services.rounds.models import metadata as rounds_metadata

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_hold() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" in result.stdout
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("app", "metadata"),
    [
        ("gateway", gateway_metadata),
        ("rounds", rounds_metadata),
        ("findings", findings_metadata),
        ("referrals", referrals_metadata),
    ],
)
async def test_migrations_match_the_models(
    database: Database, app: str, metadata: MetaData
) -> None:
    """The schema the migrations built is the one the models describe (no drift either way)."""
    # search_path public: the app's schema is then reflected by its name, as the models name it
    engine = create_async_engine(
        database.urls[app], connect_args={"server_settings": {"search_path": "public"}}
    )
    try:
        async with engine.connect() as conn:

            def diff(sync_conn):  # type: ignore[no-untyped-def]
                ctx = MigrationContext.configure(
                    sync_conn,
                    opts={"compare_type": True, "include_schemas": True,
                          "include_name": only_schema(app, metadata.info.get("data_tables"))},
                )  # fmt: skip
                return compare_metadata(ctx, metadata)

            changes = await conn.run_sync(diff)
    finally:
        await engine.dispose()
    assert changes == [], changes


def test_the_event_catalogue_document_is_current() -> None:
    """docs/EVENTS.md is generated from the catalogue (`python -m ops events-doc`)."""
    from services.common.events.catalogue import document

    written = (Path(__file__).parent.parent / "docs" / "EVENTS.md").read_text(encoding="utf-8")
    assert written == document(), "docs/EVENTS.md is stale: run `python -m ops events-doc`"
