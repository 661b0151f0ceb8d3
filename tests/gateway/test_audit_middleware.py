"""The recorder in front of a stand-in app, writing to the session's database: what is
recorded for which request, that logins leave no password behind, where the client address
comes from, and that nothing is answered when the record cannot be written."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from starlette.types import Receive, Scope, Send

from gateway.audit.middleware import AuditMiddleware, client_ip, login_detail, resource_of
from gateway.audit.writer import AuditWriter, asyncpg_dsn
from gateway.identity.tokens import AccessTokens
from gateway.keys import Signer
from gateway.settings import GatewaySettings
from ops.pg import free_port
from ops.stack import Database
from services.common.requestid import RequestIdMiddleware

SECRET = "Sup3r-secret-passw0rd"  # what must never reach the log


class StandIn:
    """Answers like the gateway would: a lead read, a write, a login; counts calls."""

    def __init__(self, signer: Signer) -> None:
        self.signer = signer
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status = 200
        payload: dict[str, Any] = {"subjects": ["陈某某"]}
        if scope["path"] == "/api/v1/auth/token":
            if SECRET.encode() in body:
                token = self.signer.sign(
                    {"sub": "u-1", "name": "zhang", "roles": ["office"]}, audience="gateway", ttl=60
                )
                payload = {"access_token": token, "expires_in": 60}
            else:
                status, payload = 400, {"type": "/problems/invalid-grant"}
        elif scope["method"] == "POST":
            status = 201
        data = orjson.dumps(payload)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": data[:5], "more_body": True})
        await send({"type": "http.response.body", "body": data[5:]})


def settings(database_url: str, **extra: Any) -> GatewaySettings:
    return GatewaySettings(database_url=database_url, **extra)


@pytest.fixture
async def gateway(
    database: Database, test_signer: Signer
) -> AsyncIterator[tuple[httpx.AsyncClient, StandIn]]:
    inner = StandIn(test_signer)
    s = settings(database.urls["gateway"])
    audit = AuditMiddleware(inner, s, AccessTokens(test_signer))
    transport = httpx.ASGITransport(app=RequestIdMiddleware(audit), client=("203.0.113.7", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        yield client, inner
    await audit.writer.close()


async def entries_of(database: Database, request_id: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(asyncpg_dsn(database.urls["gateway"]))
    try:
        rows = await conn.fetch(
            "SELECT * FROM audit.log WHERE request_id = $1 ORDER BY seq", request_id
        )
    finally:
        await conn.close()
    return [dict(r) for r in rows]


def office_token(signer: Signer) -> str:
    return signer.sign(
        {"sub": "u-office", "name": "office1", "roles": ["office"]}, audience="gateway", ttl=60
    )


async def test_a_read_of_a_lead_is_recorded_with_who_what_and_where(
    gateway: tuple[httpx.AsyncClient, StandIn], database: Database, test_signer: Signer
) -> None:
    client, _ = gateway
    lead = uuid.uuid4()
    rid = f"read-{uuid.uuid4().hex}"
    resp = await client.get(
        f"/api/v1/leads/{lead}?fields=all",
        headers={"Authorization": f"Bearer {office_token(test_signer)}", "X-Request-ID": rid},
    )
    assert resp.status_code == 200
    assert resp.json() == {"subjects": ["陈某某"]}
    [entry] = await entries_of(database, rid)
    assert entry["action"] == "read"
    assert entry["phase"] == "outcome"
    assert (entry["method"], entry["path"], entry["query"]) == (
        "GET", f"/api/v1/leads/{lead}", "fields=all"
    )  # fmt: skip
    assert (entry["resource"], entry["resource_id"], entry["status"]) == ("leads", str(lead), 200)
    assert (entry["actor_id"], entry["actor_name"], entry["actor_roles"]) == (
        "u-office", "office1", ["office"]
    )  # fmt: skip
    assert entry["client_ip"] == "203.0.113.7"
    assert entry["at"].utcoffset().total_seconds() == 0


async def test_reads_of_other_resources_are_not_recorded(
    gateway: tuple[httpx.AsyncClient, StandIn], database: Database
) -> None:
    client, _ = gateway
    rid = f"other-{uuid.uuid4().hex}"
    for path in ("/api/v1/targets", "/api/v1/leadsX", "/healthz"):
        assert (await client.get(path, headers={"X-Request-ID": rid})).status_code == 200
    assert await entries_of(database, rid) == []


async def test_a_write_has_an_intent_and_an_outcome(
    gateway: tuple[httpx.AsyncClient, StandIn], database: Database
) -> None:
    client, _ = gateway
    rid = f"write-{uuid.uuid4().hex}"
    resp = await client.post("/api/v1/rounds", json={}, headers={"X-Request-ID": rid})
    assert resp.status_code == 201
    intent, outcome = await entries_of(database, rid)
    assert (intent["phase"], intent["status"], intent["action"]) == ("intent", None, "write")
    assert (outcome["phase"], outcome["status"]) == ("outcome", 201)
    assert outcome["intent_seq"] == intent["seq"]
    assert outcome["actor_id"] is None  # nobody signed in: on record all the same


async def test_logins_are_recorded_without_the_password(
    gateway: tuple[httpx.AsyncClient, StandIn], database: Database
) -> None:
    client, _ = gateway
    failed, succeeded = f"login-{uuid.uuid4().hex}", f"login-{uuid.uuid4().hex}"
    form = {"grant_type": "password", "username": "zhang"}
    resp = await client.post(
        "/api/v1/auth/token",
        data={**form, "password": "wrong-" + SECRET[:5]},
        headers={"X-Request-ID": failed},
    )
    assert resp.status_code == 400
    resp = await client.post(
        "/api/v1/auth/token", data={**form, "password": SECRET}, headers={"X-Request-ID": succeeded}
    )
    assert resp.status_code == 200
    assert "access_token" in resp.json()  # the held answer reached the client whole
    rows = await entries_of(database, failed) + await entries_of(database, succeeded)
    assert [(r["phase"], r["status"]) for r in rows] == [
        ("intent", None), ("outcome", 400), ("intent", None), ("outcome", 200)
    ]  # fmt: skip
    for row in rows:
        assert orjson.loads(row["detail"]) == form
        text = repr(row)
        assert SECRET not in text
        assert SECRET[:5] not in text
    assert rows[1]["actor_name"] == "zhang"
    assert rows[1]["actor_id"] is None  # a failed login is nobody yet
    assert (rows[3]["actor_id"], rows[3]["actor_roles"]) == ("u-1", ["office"])


async def test_without_its_record_a_read_is_not_answered(
    test_signer: Signer, database: Database
) -> None:
    inner = StandIn(test_signer)
    nowhere = f"postgresql+asyncpg://gateway_svc:x@127.0.0.1:{free_port()}/inspection"
    audit = AuditMiddleware(inner, settings(nowhere), AccessTokens(test_signer))
    transport = httpx.ASGITransport(app=RequestIdMiddleware(audit))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        read = await client.get(f"/api/v1/findings/{uuid.uuid4()}")
        assert inner.calls == 1
        write = await client.post("/api/v1/findings", json={})
        assert inner.calls == 1, "a write that cannot be put on record is not forwarded"
    await audit.writer.close()
    assert read.status_code == write.status_code == 503
    assert read.headers["content-type"] == "application/problem+json"
    assert read.json()["type"] == "/problems/audit-trail-unavailable"
    assert "陈某某" not in read.text
    assert "nothing was done" in write.json()["detail"]


async def test_a_write_whose_outcome_cannot_be_recorded_is_not_acknowledged(
    test_signer: Signer, database: Database
) -> None:
    """The service has done it; the client is not told it succeeded (503), and the intent is
    on record."""

    class FailingOutcomes(AuditWriter):
        async def append(self, entry: Any) -> tuple[int, bytes]:
            if entry.phase == "outcome":
                raise self.failed(entry, OSError("database gone"))
            return await super().append(entry)

    inner = StandIn(test_signer)
    writer = FailingOutcomes(database.urls["gateway"])
    audit = AuditMiddleware(
        inner, settings(database.urls["gateway"]), AccessTokens(test_signer), writer
    )
    rid = f"half-{uuid.uuid4().hex}"
    transport = httpx.ASGITransport(app=RequestIdMiddleware(audit))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        resp = await client.post("/api/v1/rounds", json={}, headers={"X-Request-ID": rid})
    await writer.close()
    assert inner.calls == 1
    assert resp.status_code == 503
    assert "on record as attempted" in resp.json()["detail"]
    [intent] = await entries_of(database, rid)
    assert intent["phase"] == "intent"


def scope_from(peer: str, forwarded: str | None) -> Scope:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return {"type": "http", "client": (peer, 1234), "headers": headers}


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("198.51.100.9", "1.2.3.4", "198.51.100.9"),  # not a trusted proxy: its header is ignored
        ("10.0.0.5", "1.2.3.4", "1.2.3.4"),
        ("10.0.0.5", "6.6.6.6, 1.2.3.4, 10.0.0.8", "1.2.3.4"),  # the client's own claim ignored
        ("10.0.0.5", None, "10.0.0.5"),
        ("10.0.0.5", "10.0.0.9", "10.0.0.9"),  # proxies all the way: the farthest
    ],
)
def test_the_client_address_believes_only_trusted_proxies(
    peer: str, forwarded: str | None, expected: str
) -> None:
    trusted = list(
        settings("postgresql://x", audit_trusted_proxies=["10.0.0.0/8"]).audit_trusted_proxies
    )
    assert client_ip(scope_from(peer, forwarded), trusted) == expected
    assert client_ip(scope_from(peer, forwarded), []) == peer


def test_what_a_login_says_is_only_who() -> None:
    body = b"grant_type=client_credentials&client_id=rounds&client_secret=s3cret"
    assert login_detail(body, "application/x-www-form-urlencoded", None) == {
        "grant_type": "client_credentials", "client_id": "rounds"
    }  # fmt: skip
    refresh = b"grant_type=refresh_token&refresh_token=abc"
    assert login_detail(refresh, "application/x-www-form-urlencoded", None) == {
        "grant_type": "refresh_token"
    }
    assert login_detail(None, "", "Basic cm91bmRzOnMzY3JldA==") == {
        "client_id": "rounds", "form": "too large to read"
    }  # fmt: skip


def test_resources_and_their_ids() -> None:
    fid = uuid.uuid4()
    assert resource_of(f"/api/v1/findings/{fid}/evidence/{uuid.uuid4()}") == ("findings", str(fid))
    assert resource_of("/api/v1/leads/stats/rounds") == ("leads", None)
    assert resource_of("/healthz") == (None, None)
