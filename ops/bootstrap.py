"""Database provisioning: one schema and one login role per app, each role confined to its
schema, then every app's Alembic migrations. Idempotent: safe on every start.

Also the audit trail's schema `audit` (see `AUDIT_DDL`), which is deliberately not an Alembic
migration of the gateway: the gateway's migrations run as `gateway_svc`, and the point is that
this role must not own (and so could not alter, disable triggers on, or drop) the audit log. The
schema, the log, its triggers and `audit.append` belong to the NOLOGIN role `audit_owner`; only
an administrator can make or change them, and that is who runs this module."""

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
        gateway = next(app for app in APPS if app.name == "gateway")
        await provision_audit(conn, gateway_role=gateway.role)
    finally:
        await conn.close()
    return {
        app.name: with_credentials(admin_url, app.role, passwords[app.name], database)
        for app in APPS
    }


AUDIT_OWNER = "audit_owner"

# Idempotent: run on every provisioning. A later change is added here the same way (ADD COLUMN
# IF NOT EXISTS, CREATE OR REPLACE FUNCTION) and, if it changes what an entry is, bumps
# gateway/audit/chain.py FORMAT_VERSION. The table mirrors gateway/audit/models.py (a test
# compares them).
AUDIT_DDL = (
    """
    CREATE TABLE IF NOT EXISTS audit.log (
        seq bigint NOT NULL,
        at timestamptz NOT NULL,
        request_id text NOT NULL,
        action text NOT NULL,
        phase text NOT NULL,
        actor_id text,
        actor_name text,
        actor_roles text[] NOT NULL,
        client_ip text,
        method text NOT NULL,
        path text NOT NULL,
        query text NOT NULL,
        resource text,
        resource_id text,
        status integer,
        intent_seq bigint,
        detail jsonb NOT NULL,
        prev_hash bytea NOT NULL,
        hash bytea NOT NULL,
        CONSTRAINT pk_log PRIMARY KEY (seq),
        CONSTRAINT ck_log_action CHECK (action IN ('read', 'write')),
        CONSTRAINT ck_log_phase CHECK (phase IN ('intent', 'outcome')),
        CONSTRAINT ck_log_hashes CHECK (length(prev_hash) = 32 AND length(hash) = 32)
    )
    """,
    "CREATE INDEX IF NOT EXISTS ix_log_actor_name_seq ON audit.log (actor_name, seq)",
    "CREATE INDEX IF NOT EXISTS ix_log_actor_id_seq ON audit.log (actor_id, seq)",
    "CREATE INDEX IF NOT EXISTS ix_log_resource_resource_id_seq "
    "ON audit.log (resource, resource_id, seq)",
    "CREATE INDEX IF NOT EXISTS ix_log_request_id ON audit.log (request_id)",
    "CREATE INDEX IF NOT EXISTS ix_log_at ON audit.log USING brin (at)",
    # Defence in depth: even the owner (and so a SECURITY DEFINER function) cannot change or
    # remove an entry. Only a superuser can get past it (session_replication_role, or ALTER
    # TABLE ... DISABLE TRIGGER as the owner): that is what the verifier is for.
    """
    CREATE OR REPLACE FUNCTION audit.refuse_change() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog AS $$
    BEGIN
        RAISE EXCEPTION 'the audit log is append-only (% refused)', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END $$
    """,
    # The one way in: a batch of entries (a JSON array, in order) appended under the chain lock,
    # each given the next seq, the previous hash and its own hash = sha256(prev_hash || seq
    # (8 bytes, big-endian) || digest), as gateway/audit/chain.py computes it. One statement per
    # batch: one round trip and one commit (the lock is held through it) for many requests.
    # plpgsql takes a fresh snapshot per statement: the head read after the lock is the latest.
    # One lock key for every append, whichever gateway replica makes it: the chain is linear.
    """
    CREATE OR REPLACE FUNCTION audit.append(p_entries jsonb)
    RETURNS TABLE (appended_seq bigint, appended_hash bytea)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    DECLARE
        e jsonb;
        digest bytea;
        last_seq bigint;
        last_hash bytea;
    BEGIN
        PERFORM pg_advisory_xact_lock(hashtextextended('audit.log', 0));
        SELECT l.seq, l.hash INTO last_seq, last_hash
            FROM audit.log l ORDER BY l.seq DESC LIMIT 1;
        last_seq := coalesce(last_seq, 0);
        last_hash := coalesce(last_hash, decode(repeat('00', 32), 'hex'));
        FOR e IN SELECT x.value FROM jsonb_array_elements(p_entries) WITH ORDINALITY AS x
                 ORDER BY x.ordinality LOOP
            digest := decode(e->>'digest', 'hex');
            IF digest IS NULL OR length(digest) <> 32 THEN
                RAISE EXCEPTION 'an entry digest is 32 bytes';
            END IF;
            appended_seq := last_seq + 1;
            appended_hash := sha256(last_hash || int8send(appended_seq) || digest);
            INSERT INTO audit.log (
                seq, at, request_id, action, phase, actor_id, actor_name, actor_roles,
                client_ip, method, path, query, resource, resource_id, status, intent_seq,
                detail, prev_hash, hash
            ) VALUES (
                appended_seq, (e->>'at')::timestamptz, e->>'request_id', e->>'action',
                e->>'phase', e->>'actor_id', e->>'actor_name',
                ARRAY(SELECT jsonb_array_elements_text(e->'actor_roles')), e->>'client_ip',
                e->>'method', e->>'path', e->>'query', e->>'resource', e->>'resource_id',
                (e->>'status')::integer, (e->>'intent_seq')::bigint, e->'detail',
                last_hash, appended_hash
            );
            last_seq := appended_seq;
            last_hash := appended_hash;
            RETURN NEXT;
        END LOOP;
    END $$
    """,
)
AUDIT_APPEND_SIGNATURE = "audit.append(jsonb)"
AUDIT_TRIGGERS = {
    "log_no_update_or_delete": "BEFORE UPDATE OR DELETE ON audit.log FOR EACH ROW",
    "log_no_truncate": "BEFORE TRUNCATE ON audit.log FOR EACH STATEMENT",
}


async def provision_audit(conn: asyncpg.Connection, gateway_role: str) -> None:
    """The audit schema, owned by NOLOGIN `audit_owner`. The gateway's role may read the log
    and call `audit.append`, nothing else: no INSERT (a row's seq and links are the database's
    to set), no UPDATE, DELETE or TRUNCATE."""
    owner = _quote_ident(AUDIT_OWNER)
    gateway = _quote_ident(gateway_role)
    async with conn.transaction():
        if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", AUDIT_OWNER):
            await conn.execute(f"CREATE ROLE {owner} NOLOGIN")
        await conn.execute(f"ALTER ROLE {owner} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE")
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS audit AUTHORIZATION {owner}")
        await conn.execute(f"ALTER SCHEMA audit OWNER TO {owner}")
        await conn.execute("REVOKE ALL ON SCHEMA audit FROM PUBLIC")
        for statement in AUDIT_DDL:
            await conn.execute(statement)
        await conn.execute(f"ALTER TABLE audit.log OWNER TO {owner}")
        await conn.execute(f"ALTER FUNCTION audit.refuse_change() OWNER TO {owner}")
        await conn.execute(f"ALTER FUNCTION {AUDIT_APPEND_SIGNATURE} OWNER TO {owner}")
        for name, when in AUDIT_TRIGGERS.items():
            exists = await conn.fetchval(
                "SELECT 1 FROM pg_trigger WHERE tgname = $1 AND tgrelid = 'audit.log'::regclass",
                name,
            )
            if not exists:
                await conn.execute(
                    f"CREATE TRIGGER {name} {when} EXECUTE FUNCTION audit.refuse_change()"
                )
            # a trigger someone disabled (ALTER TABLE ... DISABLE TRIGGER) is enabled again
            await conn.execute(f"ALTER TABLE audit.log ENABLE ALWAYS TRIGGER {name}")
        await conn.execute("REVOKE ALL ON ALL TABLES IN SCHEMA audit FROM PUBLIC")
        await conn.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA audit FROM {gateway}")
        await conn.execute("REVOKE ALL ON FUNCTION audit.refuse_change() FROM PUBLIC")
        await conn.execute(f"REVOKE ALL ON FUNCTION {AUDIT_APPEND_SIGNATURE} FROM PUBLIC")
        await conn.execute(f"GRANT USAGE ON SCHEMA audit TO {gateway}")
        await conn.execute(f"GRANT SELECT ON audit.log TO {gateway}")
        await conn.execute(f"GRANT EXECUTE ON FUNCTION {AUDIT_APPEND_SIGNATURE} TO {gateway}")


def migrate(urls: dict[str, str]) -> None:
    for app in APPS:
        upgrade_to_head(app.migrations, urls[app.name])


def provision_and_migrate(admin_url: str, database: str, secrets_dir: Path) -> dict[str, str]:
    urls = asyncio.run(provision(admin_url, database, load_passwords(secrets_dir)))
    migrate(urls)
    return urls
