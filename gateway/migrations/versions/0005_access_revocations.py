"""Access tokens revoked before they expire: token versions, revocations, their triggers

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27

`users.token_version` and `api_clients.token_version` are raised by a trigger whenever an
account is disabled or its password (secret) or roles change, whoever makes the change (the
operator tooling, a future API, an administrator in psql): a revocation row names the subject's
new lowest valid version, and for a disabled account or a new password its refresh tokens are
revoked too (a new role set keeps the logins, whose next refresh carries the new roles). Each
revocation row is announced with NOTIFY (delivered on commit) to every gateway replica, which
then reads the table; see gateway/identity/revocations.py.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

CHANNEL = "gateway_access_revocations"

FUNCTIONS = [
    f"""
    CREATE FUNCTION gateway.access_revocations_notify() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        -- a wake-up call: the gateways read the table (anyone may NOTIFY, not write it)
        PERFORM pg_notify('{CHANNEL}', NEW.id::text);
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE FUNCTION gateway.users_revoke_access() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
        why text;
    BEGIN
        IF OLD.is_active AND NOT NEW.is_active THEN
            why := 'disabled';
        ELSIF NEW.password_hash IS DISTINCT FROM OLD.password_hash THEN
            why := 'password_changed';
        ELSIF NEW.roles IS DISTINCT FROM OLD.roles THEN
            why := 'roles_changed';
        ELSE
            RETURN NEW;
        END IF;
        NEW.token_version := OLD.token_version + 1;
        INSERT INTO gateway.access_revocations (subject, min_version, reason)
        VALUES (NEW.id::text, NEW.token_version, why);
        IF why <> 'roles_changed' THEN
            UPDATE gateway.refresh_tokens SET revoked_at = now()
            WHERE user_id = NEW.id AND revoked_at IS NULL;
        END IF;
        RETURN NEW;
    END
    $$
    """,
    """
    CREATE FUNCTION gateway.api_clients_revoke_access() RETURNS trigger
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
    """,
]

TRIGGERS = [
    """
    CREATE TRIGGER notify_gateways AFTER INSERT ON gateway.access_revocations
    FOR EACH ROW EXECUTE FUNCTION gateway.access_revocations_notify()
    """,
    """
    CREATE TRIGGER revoke_access BEFORE UPDATE OF is_active, password_hash, roles
    ON gateway.users FOR EACH ROW EXECUTE FUNCTION gateway.users_revoke_access()
    """,
    """
    CREATE TRIGGER revoke_access BEFORE UPDATE OF is_active, secret_hash, roles
    ON gateway.api_clients FOR EACH ROW EXECUTE FUNCTION gateway.api_clients_revoke_access()
    """,
]


def upgrade() -> None:
    for table in ("users", "api_clients"):
        op.add_column(
            table,
            sa.Column("token_version", sa.Integer(), server_default=sa.text("0"), nullable=False),
            schema="gateway",
        )
    op.create_table(
        "access_revocations",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("subject", sa.String(length=100), nullable=False),
        sa.Column("session_id", sa.UUID(), nullable=True),
        sa.Column("min_version", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column(
            "revoked_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "session_id IS NOT NULL OR min_version IS NOT NULL",
            name=op.f("ck_access_revocations_session_or_version"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_revocations")),
        schema="gateway",
    )
    op.create_index(
        "ix_access_revocations_revoked_at",
        "access_revocations",
        ["revoked_at"],
        unique=False,
        schema="gateway",
    )
    for statement in (*FUNCTIONS, *TRIGGERS):
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TRIGGER revoke_access ON gateway.api_clients")
    op.execute("DROP TRIGGER revoke_access ON gateway.users")
    op.drop_table("access_revocations", schema="gateway")  # its trigger goes with it
    for function in (
        "api_clients_revoke_access",
        "users_revoke_access",
        "access_revocations_notify",
    ):
        op.execute(f"DROP FUNCTION gateway.{function}()")
    for table in ("api_clients", "users"):
        op.drop_column(table, "token_version", schema="gateway")
