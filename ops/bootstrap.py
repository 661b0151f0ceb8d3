"""Database provisioning: one schema and one login role per app, each role confined to its
schema, then every app's Alembic migrations. Idempotent: safe on every start."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

from services.common.migrations import upgrade_to_head

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class App:
    name: str  # also the schema name and the settings prefix
    migrations: Path

    @property
    def role(self) -> str:
        return f"{self.name}_svc"

    @property
    def env_prefix(self) -> str:
        return self.name.upper() + "_"


APPS = (
    App("gateway", ROOT / "gateway" / "migrations"),
    App("rounds", ROOT / "services" / "rounds" / "migrations"),
    App("findings", ROOT / "services" / "findings" / "migrations"),
    App("referrals", ROOT / "services" / "referrals" / "migrations"),
)


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def with_credentials(admin_url: str, user: str, password: str, database: str) -> str:
    """The admin URL's host and port, another role and database, the asyncpg driver."""
    parts = urlsplit(admin_url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{quote(user)}:{quote(password)}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(("postgresql+asyncpg", netloc, "/" + database, parts.query, ""))


def load_passwords(secrets_dir: Path) -> dict[str, str]:
    """One generated password per app role, kept under `secrets_dir` (mode 600)."""
    secrets_dir.mkdir(parents=True, exist_ok=True)
    out = {}
    for app in APPS:
        path = secrets_dir / f"db-{app.name}.password"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(24))
            path.chmod(0o600)
        out[app.name] = path.read_text().strip()
    return out


async def provision(admin_url: str, database: str, passwords: dict[str, str]) -> dict[str, str]:
    """Creates the database, the roles and the schemas; returns each app's database URL."""
    conn = await asyncpg.connect(admin_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await conn.execute(f"CREATE DATABASE {_quote_ident(database)} ENCODING 'UTF8'")
    finally:
        await conn.close()

    parts = urlsplit(admin_url)
    db_admin_url = urlunsplit(parts._replace(path="/" + database))
    conn = await asyncpg.connect(db_admin_url)
    try:
        db = _quote_ident(database)
        await conn.execute(f"REVOKE ALL ON DATABASE {db} FROM PUBLIC")
        await conn.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
        for app in APPS:
            role = _quote_ident(app.role)
            has_role = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", app.role)
            verb = "ALTER" if has_role else "CREATE"
            # Passwords cannot be bound as parameters in DDL; quote them as literals.
            literal = "'" + passwords[app.name].replace("'", "''") + "'"
            await conn.execute(
                f"{verb} ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                f"NOINHERIT PASSWORD {literal}"
            )
            await conn.execute(f"GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {role}")
            schema = _quote_ident(app.name)
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {role}")
            await conn.execute(f"ALTER SCHEMA {schema} OWNER TO {role}")
            await conn.execute(f"REVOKE ALL ON SCHEMA {schema} FROM PUBLIC")
            await conn.execute(f"ALTER ROLE {role} SET search_path = {schema}")
    finally:
        await conn.close()
    return {
        app.name: with_credentials(admin_url, app.role, passwords[app.name], database)
        for app in APPS
    }


def migrate(urls: dict[str, str]) -> None:
    for app in APPS:
        upgrade_to_head(app.migrations, urls[app.name])


def provision_and_migrate(admin_url: str, database: str, secrets_dir: Path) -> dict[str, str]:
    urls = asyncio.run(provision(admin_url, database, load_passwords(secrets_dir)))
    migrate(urls)
    return urls
