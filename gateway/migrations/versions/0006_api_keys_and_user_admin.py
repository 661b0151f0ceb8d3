"""api_clients: scopes, expiry, last use, who created the key, and an ETag; users: an ETag

A key's tokens carry its scopes; they are refused once the key expires. Narrowing a key's
scopes or bringing its expiry forward refuses the tokens it holds, as disabling it or changing
its secret or roles already does (the trigger of 0005, replaced here).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TRIGGER = """
CREATE OR REPLACE FUNCTION gateway.api_clients_revoke_access() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    why text;
BEGIN
    IF OLD.is_active AND NOT NEW.is_active THEN
        why := 'disabled';
    ELSIF NEW.secret_hash IS DISTINCT FROM OLD.secret_hash THEN
        why := 'secret_changed';
    ELSIF NEW.roles IS DISTINCT FROM OLD.roles THEN
        why := 'roles_changed';
    ELSIF NOT (NEW.scopes @> OLD.scopes) THEN
        why := 'scopes_narrowed';
    ELSIF NEW.expires_at IS NOT NULL
          AND (OLD.expires_at IS NULL OR NEW.expires_at < OLD.expires_at) THEN
        why := 'expiry_brought_forward';
    ELSE
        RETURN NEW;
    END IF;
    NEW.token_version := OLD.token_version + 1;
    INSERT INTO gateway.access_revocations (subject, min_version, reason)
    VALUES ('client:' || NEW.client_id, NEW.token_version, why);
    RETURN NEW;
END
$$
"""

PREVIOUS = """
CREATE OR REPLACE FUNCTION gateway.api_clients_revoke_access() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    why text;
BEGIN
    IF OLD.is_active AND NOT NEW.is_active THEN
        why := 'disabled';
    ELSIF NEW.secret_hash IS DISTINCT FROM OLD.secret_hash THEN
        why := 'secret_changed';
    ELSIF NEW.roles IS DISTINCT FROM OLD.roles THEN
        why := 'roles_changed';
    ELSE
        RETURN NEW;
    END IF;
    NEW.token_version := OLD.token_version + 1;
    INSERT INTO gateway.access_revocations (subject, min_version, reason)
    VALUES ('client:' || NEW.client_id, NEW.token_version, why);
    RETURN NEW;
END
$$
"""


def _trigger(columns: str) -> None:
    op.execute("DROP TRIGGER revoke_access ON gateway.api_clients")
    op.execute(
        f"CREATE TRIGGER revoke_access BEFORE UPDATE OF {columns} ON gateway.api_clients "
        "FOR EACH ROW EXECUTE FUNCTION gateway.api_clients_revoke_access()"
    )


def upgrade() -> None:
    op.add_column(
        "api_clients",
        sa.Column(
            "scopes",
            postgresql.ARRAY(sa.String(length=64)),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        schema="gateway",
    )
    for name in ("expires_at", "last_used_at"):
        op.add_column(
            "api_clients",
            sa.Column(name, sa.DateTime(timezone=True), nullable=True),
            schema="gateway",
        )
    op.add_column(
        "api_clients",
        sa.Column("created_by", sa.String(length=100), nullable=True),
        schema="gateway",
    )
    op.add_column(
        "api_clients",
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        schema="gateway",
    )
    op.add_column(
        "users",
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        schema="gateway",
    )
    op.execute(TRIGGER)
    _trigger("is_active, secret_hash, roles, scopes, expires_at")


def downgrade() -> None:
    op.drop_column("users", "updated_at", schema="gateway")
    _trigger("is_active, secret_hash, roles")
    op.execute(PREVIOUS)
    for name in ("updated_at", "created_by", "last_used_at", "expires_at", "scopes"):
        op.drop_column("api_clients", name, schema="gateway")
