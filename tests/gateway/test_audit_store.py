"""The audit log in the database, as ops/bootstrap.py provisions it: appends from several
gateway replicas form one linear chain; the gateway's role cannot change or remove an entry;
an entry changed or deleted behind everyone's back (as a superuser) is named by the verifier,
in-process and by `python -m ops verify-audit`."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import jwt
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.audit.chain import GENESIS, Entry, link, now
from gateway.audit.models import metadata as audit_metadata
from gateway.audit.verify import Head, current_head, signed_head, verify
from gateway.audit.writer import AppendFailed, AuditWriter, asyncpg_dsn
from gateway.keys import Signer
from ops.bootstrap import AUDIT_TRIGGERS
from ops.stack import Database
from services.common.migrations import only_schema

ROOT = Path(__file__).resolve().parents[2]


def an_entry(**changes: Any) -> Entry:
    fields: dict[str, Any] = {
        "at": now(),
        "request_id": uuid.uuid4().hex,
        "action": "read",
        "phase": "outcome",
        "method": "GET",
        "path": f"/api/v1/leads/{uuid.uuid4()}",
        "actor_id": str(uuid.uuid4()),
        "actor_name": "office1",
        "actor_roles": ("office",),
        "client_ip": "127.0.0.1",
        "resource": "leads",
        "status": 200,
        "detail": {"note": "测试"},
    }
    return Entry(**{**fields, **changes})


@asynccontextmanager
async def writer(database: Database) -> AsyncIterator[AuditWriter]:
    w = AuditWriter(database.urls["gateway"])
    try:
        yield w
    finally:
        await w.close()


async def as_gateway(database: Database) -> asyncpg.Connection:
    return await asyncpg.connect(asyncpg_dsn(database.urls["gateway"]))


async def as_superuser(database: Database) -> asyncpg.Connection:
    assert database.admin_url is not None
    return await asyncpg.connect(database.admin_url.rsplit("/", 1)[0] + "/inspection")


async def verification(database: Database, **kwargs: Any) -> Any:
    engine = create_async_engine(database.urls["gateway"])
    try:
        async with engine.connect() as conn:
            return await verify(conn, batch=7, **kwargs)  # small batches: keyset paging is used
    finally:
        await engine.dispose()


async def test_the_provisioned_log_is_the_one_the_model_reads(database: Database) -> None:
    engine = create_async_engine(
        database.urls["gateway"], connect_args={"server_settings": {"search_path": "public"}}
    )
    try:
        async with engine.connect() as conn:

            def diff(sync_conn):  # type: ignore[no-untyped-def]
                ctx = MigrationContext.configure(
                    sync_conn,
                    opts={"compare_type": True, "include_schemas": True,
                          "include_name": only_schema("audit")},
                )  # fmt: skip
                return compare_metadata(ctx, audit_metadata)

            assert await conn.run_sync(diff) == []
    finally:
        await engine.dispose()


async def test_appends_from_two_replicas_make_one_linear_chain(database: Database) -> None:
    """Two writers (two pools, as two gateway replicas), 120 appends at once."""
    async with writer(database) as one, writer(database) as two:
        before = (await one.append(an_entry()))[0]
        results = await asyncio.gather(
            *(w.append(an_entry(path=f"/api/v1/leads/{n}")) for n in range(60) for w in (one, two))
        )
    seqs = sorted(seq for seq, _ in results)
    assert seqs == list(range(before + 1, before + 121)), "seq is gap-free and unique"
    conn = await as_gateway(database)
    try:
        rows = await conn.fetch(
            "SELECT seq, prev_hash, hash FROM audit.log WHERE seq >= $1 ORDER BY seq", before
        )
    finally:
        await conn.close()
    for prev, row in itertools.pairwise(rows):
        assert row["prev_hash"] == prev["hash"]
    result = await verification(database)
    assert result.ok, result.broken
    assert result.checked == result.head_seq >= before + 120


async def test_an_entry_the_database_refuses_fails_alone(database: Database) -> None:
    """Entries that arrive together are committed together; one the database cannot take
    (a status out of range) fails on its own, the others are written."""
    async with writer(database) as w:
        results = await asyncio.gather(
            w.append(an_entry()),
            w.append(an_entry(status=2**40)),
            *(w.append(an_entry()) for _ in range(4)),
            return_exceptions=True,
        )
    assert isinstance(results[1], AppendFailed)
    written = [r for n, r in enumerate(results) if n != 1]
    assert all(isinstance(r, tuple) for r in written), results
    assert (await verification(database)).ok


async def test_the_database_computes_the_hash_the_verifier_expects(database: Database) -> None:
    entry = an_entry(detail={"username": "张三"}, actor_roles=("office", "admin"), status=None)
    async with writer(database) as w:
        seq, digest = await w.append(entry)
    conn = await as_gateway(database)
    try:
        row = await conn.fetchrow("SELECT * FROM audit.log WHERE seq = $1", seq)
    finally:
        await conn.close()
    assert row is not None
    assert digest == row["hash"] == link(row["prev_hash"], seq, entry.digest())
    stored = Entry.from_row(type("Row", (), dict(row))())
    stored_detail = stored.detail
    assert stored_detail == {"username": "张三"}
    assert stored.canonical() == entry.canonical()
    assert seq > 1 or row["prev_hash"] == GENESIS


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit.log SET status = 200 WHERE seq = (SELECT max(seq) FROM audit.log)",
        "DELETE FROM audit.log WHERE seq = (SELECT max(seq) FROM audit.log)",
        "TRUNCATE audit.log",
        "INSERT INTO audit.log SELECT * FROM audit.log WHERE seq = 1",
        "ALTER TABLE audit.log DISABLE TRIGGER ALL",
        "DROP TABLE audit.log",
        "CREATE TABLE audit.shadow (seq bigint)",
    ],
)
async def test_the_gateway_role_cannot_change_the_log(database: Database, statement: str) -> None:
    async with writer(database) as w:
        await w.append(an_entry())
    conn = await as_gateway(database)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError) as refused:
            await conn.execute(statement)
    finally:
        await conn.close()
    assert "permission denied" in str(refused.value) or "must be owner" in str(refused.value)


async def test_not_even_the_owner_can_change_an_entry(database: Database) -> None:
    """The trigger: defence in depth should the owner role ever be used (it cannot log in)."""
    async with writer(database) as w:
        seq, _ = await w.append(an_entry())
    conn = await as_superuser(database)
    try:
        await conn.execute("SET ROLE audit_owner")
        for statement in (
            f"UPDATE audit.log SET status = 500 WHERE seq = {seq}",
            f"DELETE FROM audit.log WHERE seq = {seq}",
            "TRUNCATE audit.log",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                await conn.execute(statement)
        # nor does a replica session get past it (the triggers are ENABLE ALWAYS)
        await conn.execute(
            "RESET ROLE; SET session_replication_role = replica; SET ROLE audit_owner"
        )
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await conn.execute(f"DELETE FROM audit.log WHERE seq = {seq}")
    finally:
        await conn.close()


async def enable_triggers(conn: asyncpg.Connection) -> None:
    for name in AUDIT_TRIGGERS:
        await conn.execute(f"ALTER TABLE audit.log ENABLE ALWAYS TRIGGER {name}")


@asynccontextmanager
async def tampered(database: Database, seq: int, statement: str) -> AsyncIterator[None]:
    """`statement` run as a superuser with the triggers off (and on again in the same
    transaction); afterwards the entry is put back exactly as it was, for the other tests."""
    conn = await as_superuser(database)
    original = await conn.fetchrow("SELECT * FROM audit.log WHERE seq = $1", seq)
    assert original is not None
    try:
        async with conn.transaction():
            await conn.execute("ALTER TABLE audit.log DISABLE TRIGGER USER")
            await conn.execute(statement, seq)
            await enable_triggers(conn)
        yield
    finally:
        async with conn.transaction():
            await conn.execute("ALTER TABLE audit.log DISABLE TRIGGER USER")
            await conn.execute("DELETE FROM audit.log WHERE seq = $1", seq)
            columns = list(original.keys())
            await conn.execute(
                f"INSERT INTO audit.log ({', '.join(columns)}) "
                f"VALUES ({', '.join(f'${n}' for n in range(1, len(columns) + 1))})",
                *original.values(),
            )
            await enable_triggers(conn)
        await conn.close()


def verify_command(database: Database) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GATEWAY_DATABASE_URL": database.urls["gateway"], "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "ops", "verify-audit"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
async def middle(database: Database) -> int:
    """An entry with others after it, in a chain that verifies."""
    async with writer(database) as w:
        seq, _ = await w.append(an_entry())
        for _ in range(3):
            await w.append(an_entry())
    assert (await verification(database)).ok
    return seq


async def test_a_changed_entry_is_named_by_the_verifier_and_the_command(
    database: Database, middle: int
) -> None:
    change = "UPDATE audit.log SET actor_name = 'someone else' WHERE seq = $1"
    async with tampered(database, middle, change):
        result = await verification(database)
        assert result.broken is not None
        assert result.broken.seq == middle
        assert "does not match its hash" in result.broken.reason
        command = await asyncio.to_thread(verify_command, database)
        assert command.returncode == 1, command.stdout + command.stderr
        assert f"broken at seq {middle}" in command.stdout
    command = await asyncio.to_thread(verify_command, database)
    assert command.returncode == 0, command.stdout + command.stderr
    assert "intact" in command.stdout


async def test_a_deleted_entry_is_named(database: Database, middle: int) -> None:
    async with tampered(database, middle, "DELETE FROM audit.log WHERE seq = $1"):
        result = await verification(database)
        assert result.broken is not None
        assert result.broken.seq == middle
        assert "missing" in result.broken.reason
        command = await asyncio.to_thread(verify_command, database)
        assert command.returncode == 1
        assert f"broken at seq {middle}" in command.stdout
    assert (await verification(database)).ok


async def test_an_entry_rewritten_with_a_fresh_hash_breaks_the_next_link(
    database: Database, middle: int
) -> None:
    """Whoever rewrites an entry and recomputes its hash still cannot make the next entry
    point at it: the break is named right after the rewritten entry."""
    conn = await as_gateway(database)
    try:
        row = await conn.fetchrow("SELECT * FROM audit.log WHERE seq = $1", middle)
    finally:
        await conn.close()
    assert row is not None
    forged = Entry.from_row(type("Row", (), {**dict(row), "status": 404})())
    new_hash = link(row["prev_hash"], middle, forged.digest())
    change = f"UPDATE audit.log SET status = 404, hash = '\\x{new_hash.hex()}' WHERE seq = $1"
    async with tampered(database, middle, change):
        result = await verification(database)
        assert result.broken is not None
        assert result.broken.seq == middle + 1
        assert f"does not link to entry {middle}" in result.broken.reason


async def test_a_head_held_elsewhere_shows_a_cut_off_tail(database: Database) -> None:
    async with writer(database) as w:
        seq, digest = await w.append(an_entry())
    assert (await verification(database, held=(seq, digest))).ok
    result = await verification(database, held=(seq, bytes(32)))
    assert result.broken is not None
    assert result.broken.seq == seq
    result = await verification(database, held=(seq + 10**9, digest))
    assert result.broken is not None
    assert "no longer in the log" in result.broken.reason


async def test_the_signed_head_verifies_with_the_gateway_key(
    database: Database, test_signer: Signer
) -> None:
    async with writer(database) as w:
        seq, _ = await w.append(an_entry())
    engine = create_async_engine(database.urls["gateway"])
    try:
        async with engine.connect() as conn:
            head: Head = await current_head(conn)
    finally:
        await engine.dispose()
    assert head.seq >= seq
    signed = signed_head(head, test_signer)
    key = jwt.PyJWK(signed["public_key"]).key
    claims = jwt.decode(signed["signed"], key, algorithms=["EdDSA"])
    assert claims["sub"] == "audit-head"
    assert (claims["seq"], claims["hash"]) == (head.seq, head.hash.hex())
    assert signed["public_key"]["kid"] == test_signer.kid
