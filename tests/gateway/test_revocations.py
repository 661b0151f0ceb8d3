"""The revoked access tokens of one gateway replica (gateway/identity/revocations.py) against the
real database: what the triggers record when an account changes, how a revocation reaches a
listening replica, what it catches up on after its connection was cut, what it forgets."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from gateway.audit.writer import asyncpg_dsn
from gateway.identity.enums import Role
from gateway.identity.revocations import Revocations, RevocationsUnknown
from gateway.identity.schemas import UserCreate
from ops.stack import Database
from ops.users import change_user, create_user

PASSWORD = "correct horse battery staple"
TTL = 900


@asynccontextmanager
async def gateway_connection(database: Database) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(asyncpg_dsn(database.urls["gateway"]))
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def gateway_db(database: Database) -> AsyncIterator[asyncpg.Connection]:
    async with gateway_connection(database) as conn:
        yield conn


@pytest.fixture
async def revocations(database: Database) -> AsyncIterator[Revocations]:
    # reloads far apart: what arrives in a test arrived by NOTIFY or by a reconnect's load
    revoked = Revocations(database.urls["gateway"], access_ttl_seconds=TTL, reload_seconds=300)
    await revoked.start()
    try:
        yield revoked
    finally:
        await revoked.stop()


async def soon(check: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        await asyncio.sleep(0.02)


async def revoke_session(conn: asyncpg.Connection, subject: str, sid: uuid.UUID) -> None:
    await conn.execute(
        "INSERT INTO gateway.access_revocations (subject, session_id, reason) "
        "VALUES ($1, $2, 'logout')",
        subject,
        sid,
    )


async def new_user(database: Database) -> tuple[str, str]:
    name = f"rev-{uuid.uuid4().hex[:8]}"
    user = UserCreate(username=name, display_name=name, password=PASSWORD, roles=[Role.expert])
    await create_user(database.urls["gateway"], database.data_dir, user)
    return name, PASSWORD


async def test_nothing_is_accepted_before_the_first_load(database: Database) -> None:
    revoked = Revocations(database.urls["gateway"], access_ttl_seconds=TTL, reload_seconds=300)
    with pytest.raises(RevocationsUnknown):
        revoked.refuses(str(uuid.uuid4()), None, 0)
    await revoked.start()
    try:
        assert revoked.loaded
        assert revoked.refuses(str(uuid.uuid4()), str(uuid.uuid4()), 0) is False
    finally:
        await revoked.stop()


async def test_a_committed_revocation_reaches_a_listening_replica_a_rolled_back_one_does_not(
    revocations: Revocations, gateway_db: asyncpg.Connection
) -> None:
    subject, sid, other = str(uuid.uuid4()), uuid.uuid4(), uuid.uuid4()
    async with gateway_db.transaction():
        await revoke_session(gateway_db, subject, sid)
        await asyncio.sleep(0.2)
        assert not revocations.refuses(subject, str(sid), 0)  # not before the commit
    await soon(lambda: revocations.refuses(subject, str(sid), 0))
    assert not revocations.refuses(subject, str(other), 0)  # the user's other login is fine

    tx = gateway_db.transaction()
    await tx.start()
    await revoke_session(gateway_db, subject, other)
    await tx.rollback()
    await revoke_session(gateway_db, subject, marker := uuid.uuid4())  # notices keep order
    await soon(lambda: revocations.refuses(subject, str(marker), 0))
    assert not revocations.refuses(subject, str(other), 0)


async def test_account_changes_raise_the_version_and_end_logins_as_they_should(
    database: Database, revocations: Revocations, gateway_db: asyncpg.Connection
) -> None:
    name, _ = await new_user(database)
    user_id = await gateway_db.fetchval("SELECT id FROM gateway.users WHERE username = $1", name)
    subject = str(user_id)
    family = uuid.uuid4()
    await gateway_db.execute(
        "INSERT INTO gateway.refresh_tokens (family_id, user_id, token_hash, expires_at) "
        "VALUES ($1, $2, $3, now() + interval '1 day')",
        family,
        user_id,
        uuid.uuid4().hex,
    )

    async def state() -> tuple[int, bool]:
        version = await gateway_db.fetchval(
            "SELECT token_version FROM gateway.users WHERE id = $1", user_id
        )
        live = await gateway_db.fetchval(
            "SELECT count(*) FROM gateway.refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL",
            user_id,
        )
        return version, live > 0

    # a change that touches none of them (the lockout bookkeeping) revokes nothing
    await gateway_db.execute("UPDATE gateway.users SET failed_logins = 3 WHERE id = $1", user_id)
    assert await state() == (0, True)
    assert not revocations.refuses(subject, str(family), 0)

    # new roles: tokens carrying the old ones are refused; the login lives on (a refresh
    # carries the new roles)
    await change_user(database.urls["gateway"], database.data_dir, name, roles=[Role.office])
    assert await state() == (1, True)
    await soon(lambda: revocations.refuses(subject, str(family), 0))
    assert not revocations.refuses(subject, str(family), 1)

    # a new password ends every login
    await change_user(
        database.urls["gateway"], database.data_dir, name, password="Another-Passphrase-2024!"
    )
    assert await state() == (2, False)
    await soon(lambda: revocations.refuses(subject, None, 1))
    assert not revocations.refuses(subject, None, 2)

    # disabled, then enabled again: only the disabling revokes
    await change_user(database.urls["gateway"], database.data_dir, name, active=False)
    assert (await state())[0] == 3
    await soon(lambda: revocations.refuses(subject, None, 2))
    await change_user(database.urls["gateway"], database.data_dir, name, active=True)
    assert (await state())[0] == 3
    reasons = await gateway_db.fetch(
        "SELECT reason, min_version FROM gateway.access_revocations WHERE subject = $1 ORDER BY id",
        subject,
    )
    assert [(r["reason"], r["min_version"]) for r in reasons] == [
        ("roles_changed", 1),
        ("password_changed", 2),
        ("disabled", 3),
    ]


async def test_a_machine_clients_new_secret_or_roles_refuse_its_tokens(
    revocations: Revocations, gateway_db: asyncpg.Connection
) -> None:
    client_id = f"platform-{uuid.uuid4().hex[:6]}"
    await gateway_db.execute(
        "INSERT INTO gateway.api_clients (client_id, secret_hash, roles) VALUES ($1, 'x', $2)",
        client_id,
        ["platform"],
    )
    await gateway_db.execute(
        "UPDATE gateway.api_clients SET secret_hash = 'y' WHERE client_id = $1", client_id
    )
    await soon(lambda: revocations.refuses(f"client:{client_id}", None, 0))
    assert not revocations.refuses(f"client:{client_id}", None, 1)


async def test_what_was_revoked_while_the_connection_was_cut_is_caught_up_on(
    database: Database, revocations: Revocations, gateway_db: asyncpg.Connection
) -> None:
    assert database.admin_url is not None
    admin = await asyncpg.connect(database.admin_url.rsplit("/", 1)[0] + "/inspection")
    try:
        pid = revocations.listener_pid
        assert pid is not None
        subject, sid = str(uuid.uuid4()), uuid.uuid4()
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        await revoke_session(gateway_db, subject, sid)  # announced to nobody listening
        await soon(lambda: revocations.refuses(subject, str(sid), 0))
        assert revocations.listener_pid != pid  # it reconnected and loaded the table
        # and listens again
        await revoke_session(gateway_db, subject, later := uuid.uuid4())
        await soon(lambda: revocations.refuses(subject, str(later), 0))
    finally:
        await admin.close()


async def test_a_notice_is_a_wake_up_call_not_a_revocation(
    database: Database, revocations: Revocations
) -> None:
    """Any role that may connect may NOTIFY: another service's role, forging a notice that
    names someone, refuses nobody; only a row the gateway's role wrote does."""
    subject, sid = str(uuid.uuid4()), uuid.uuid4()
    forged = json.dumps({"sub": subject, "sid": str(sid), "ver": 2**31 - 1, "at": 4e9})
    rounds = await asyncpg.connect(asyncpg_dsn(database.urls["rounds"]))
    try:
        for payload in (forged, "not json", ""):
            await rounds.execute("SELECT pg_notify('gateway_access_revocations', $1)", payload)
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await revoke_session(rounds, subject, sid)
    finally:
        await rounds.close()
    await asyncio.sleep(0.5)
    assert not revocations.refuses(subject, str(sid), 0)
    assert not revocations.refuses(subject, None, 5)
    pid = revocations.listener_pid
    async with gateway_connection(database) as conn:
        await revoke_session(conn, subject, sid)
    await soon(lambda: revocations.refuses(subject, str(sid), 0))
    assert revocations.listener_pid == pid  # the same connection, still listening


async def test_revocations_older_than_any_live_token_are_forgotten_and_trimmed(
    database: Database, gateway_db: asyncpg.Connection
) -> None:
    revoked = Revocations(database.urls["gateway"], access_ttl_seconds=60, reload_seconds=300)
    now = datetime.now(UTC)
    rows = {
        "fresh": now - timedelta(seconds=30),
        "past every token, kept a while": now - timedelta(seconds=revoked.retention + 10),
        "long past": now - timedelta(seconds=2 * revoked.retention + 10),
    }
    subjects = {label: str(uuid.uuid4()) for label in rows}
    for label, at in rows.items():
        await gateway_db.execute(
            "INSERT INTO gateway.access_revocations (subject, min_version, reason, revoked_at) "
            "VALUES ($1, 1, 'disabled', $2)",
            subjects[label],
            at,
        )
    await revoked.start()
    try:
        assert revoked.refuses(subjects["fresh"], None, 0)
        assert not revoked.refuses(subjects["past every token, kept a while"], None, 0)
        assert not revoked.refuses(subjects["long past"], None, 0)
    finally:
        await revoked.stop()
    left = await gateway_db.fetch(
        "SELECT subject FROM gateway.access_revocations WHERE subject = ANY($1::text[])",
        list(subjects.values()),
    )
    assert {r["subject"] for r in left} == {
        subjects["fresh"],
        subjects["past every token, kept a while"],
    }
