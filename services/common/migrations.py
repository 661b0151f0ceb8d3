"""Alembic plumbing shared by every app: the version table lives in the app's own schema,
and migrations run over the async driver as the app's own role."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine


def alembic_config(migrations_dir: Path, database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade_to_head(migrations_dir: Path, database_url: str) -> None:
    """Synchronous entry point for the operator tooling and the test session."""
    command.upgrade(alembic_config(migrations_dir, database_url), "head")


def script_heads(migrations_dir: Path) -> set[str]:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    return set(ScriptDirectory.from_config(cfg).get_heads())


def script_revisions(migrations_dir: Path) -> set[str]:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    return {r.revision for r in ScriptDirectory.from_config(cfg).walk_revisions()}


def schema_state(current: set[str], heads: set[str], known: set[str]) -> str:
    """'head'; 'ahead' when the database carries a revision this code does not know (the next
    release migrated it during a rolling update: the old pods keep serving, additive migrations
    being the rule); 'behind' when it is at an older revision this code knows (not ready)."""
    if current == heads:
        return "head"
    if current and not current <= known:
        return "ahead"
    return "behind"


def only_schema(
    schema: str, data_tables: str | None = None
) -> Callable[[str | None, str, Any], bool]:
    """Autogenerate filter: this app's schema, without Alembic's own version table, nor the
    tables the app makes at run time to hold data (`data_tables`, a regular expression of their
    names, kept by the app's metadata as `info["data_tables"]`: findings' partitions of
    `dataset_rows`, one a dataset version), which no migration makes or drops."""
    made_at_run_time = re.compile(data_tables) if data_tables else None

    def include(name: str | None, kind: str, _parent: Any) -> bool:
        if kind == "schema":
            return name == schema
        if kind != "table" or name is None:
            return True
        if made_at_run_time is not None and made_at_run_time.fullmatch(name):
            return False
        return name != "alembic_version"

    return include


def run_env(metadata: MetaData) -> None:
    """Body of every app's migrations/env.py."""
    schema = metadata.schema
    assert schema, "each app's metadata is bound to its own schema"
    url = context.config.attributes.get("database_url") or context.config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise RuntimeError("no database URL given to the migrations")

    def do_run(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table_schema=schema,
            include_schemas=True,
            include_name=only_schema(schema, metadata.info.get("data_tables")),
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        # search_path public: the app's schema is then reflected by its name, as the models name
        # it, and every object the migrations create is schema-qualified.
        engine = create_async_engine(
            url, connect_args={"server_settings": {"search_path": "public"}}
        )
        try:
            async with engine.connect() as conn:
                await conn.run_sync(do_run)
                await conn.commit()
        finally:
            await engine.dispose()

    asyncio.run(run_async())


def revisions_of(connection: Connection, schema: str) -> set[str]:
    ctx = MigrationContext.configure(connection, opts={"version_table_schema": schema})
    return set(ctx.get_current_heads())
