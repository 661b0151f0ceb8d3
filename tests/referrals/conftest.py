"""The referrals service in-process against the real PostgreSQL, with the gateway (findings,
rounds, targets and group memberships behind it) replaced by an httpx MockTransport that
answers from `Upstream`, and a clock (`Clock`) the tests move for the routes that act on
"today"."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from ops.stack import Database
from services.common.auth import KeySet
from services.common.gateway_client import GatewayClient
from services.referrals.app import create_app
from services.referrals.dates import current_day, today
from services.referrals.settings import ReferralsSettings
from tests.conftest import MintToken, serve


@dataclass
class Upstream:
    """Findings, rounds, targets and memberships as the gateway would answer for them."""

    findings: dict[str, dict[str, Any]] = field(default_factory=dict)
    rounds: set[str] = field(default_factory=set)
    terms: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> term, its rounds
    targets: set[str] = field(default_factory=set)
    memberships: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def member(self, user_id: str, group_id: str, role: str = "leader") -> None:
        """Puts a user in an inspection group (rounds' memberships), as `role`."""
        self.memberships.setdefault(user_id, []).append(
            {
                "id": str(uuid.uuid4()),
                "group_id": group_id,
                "round_id": str(uuid.uuid4()),
                "group_kind": "regular",
                "user_id": user_id,
                "role": role,
            }
        )

    def finding(self, **over: Any) -> str:
        fid = str(uuid.uuid4())
        self.findings[fid] = {
            "id": fid,
            "target_id": str(uuid.uuid4()),
            "title": "低保评定优亲厚友",
            "facts": "……",
            "money_involved": "12000.00",
            "status": "confirmed",
            **over,
        }
        return fid

    def round(self, term: str | None = None) -> str:
        rid = str(uuid.uuid4())
        self.rounds.add(rid)
        if term is not None:
            self.terms[term]["rounds"].append(rid)
        return rid

    def term(self, jurisdiction: str) -> str:
        tid = str(uuid.uuid4())
        self.terms[tid] = {"id": tid, "jurisdiction": jurisdiction, "rounds": []}
        return tid

    def page(self, items: list[dict[str, Any]], request: httpx.Request) -> httpx.Response:
        """A list as rounds pages it: `limit` a page, `cursor` the offset here."""
        start = int(request.url.params.get("cursor", "0"))
        limit = int(request.url.params.get("limit", "50"))
        more = start + limit < len(items)
        return httpx.Response(
            200,
            json={
                "items": items[start : start + limit],
                "next_cursor": str(start + limit) if more else None,
            },
        )

    def target(self) -> str:
        tid = str(uuid.uuid4())
        self.targets.add(tid)
        return tid

    def handler(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls.append(f"{request.method} {path}")
        if path == "/api/v1/auth/token":
            return httpx.Response(200, json={"access_token": "svc", "expires_in": 900})
        parts = path.strip("/").split("/")
        if request.method == "GET" and path == "/api/v1/groups/memberships":
            return httpx.Response(
                200, json=self.memberships.get(request.url.params.get("user_id", ""), [])
            )
        if request.method == "GET" and len(parts) == 4 and parts[2] == "findings":
            found = self.findings.get(parts[3])
            return httpx.Response(200, json=found) if found else httpx.Response(404)
        if request.method == "GET" and path == "/api/v1/terms":
            place = request.url.params.get("jurisdiction")
            terms = [t for t in self.terms.values() if place in (None, t["jurisdiction"])]
            return self.page([{"id": t["id"]} for t in terms], request)
        if request.method == "GET" and len(parts) == 4 and parts[2] == "terms":
            term = self.terms.get(parts[3])
            return httpx.Response(200, json={"id": term["id"]}) if term else httpx.Response(404)
        if request.method == "GET" and path == "/api/v1/rounds":
            term = self.terms.get(request.url.params.get("term_id", ""))
            return self.page([{"id": r} for r in term["rounds"]] if term else [], request)
        if request.method == "GET" and len(parts) == 4 and parts[2] == "rounds":
            if parts[3] in self.rounds:
                return httpx.Response(200, json={"id": parts[3], "name": "第二轮"})
            return httpx.Response(404)
        if request.method == "GET" and len(parts) == 4 and parts[2] == "targets":
            if parts[3] in self.targets:
                return httpx.Response(200, json={"id": parts[3], "name": "赤马港办事处"})
            return httpx.Response(404)
        return httpx.Response(404)


Auth = Callable[..., dict[str, str]]


@pytest.fixture
def upstream() -> Upstream:
    return Upstream()


@pytest.fixture
def auth(mint: MintToken) -> Auth:
    """Headers of a caller with `roles` (a fresh user id unless `sub` is given)."""

    def _auth(*roles: str, sub: str | None = None) -> dict[str, str]:
        # as the gateway mints them: no groups (the service reads memberships from rounds)
        token = mint("referrals", roles=list(roles), sub=sub or str(uuid.uuid4()), groups=[])
        return {"Authorization": f"Bearer {token}"}

    return _auth


def make_settings(database: Database, **over: Any) -> ReferralsSettings:
    return ReferralsSettings(
        database_url=database.urls["referrals"], client_secret=SecretStr("test"), **over
    )


@dataclass
class Clock:
    """The service's "today" (Asia/Shanghai) for the routes that take it as a dependency;
    the real day unless a test sets `day`."""

    day: date | None = None

    def __call__(self) -> date:
        return self.day or today()

    def move(self, days: int) -> date:
        self.day = self() + timedelta(days=days)
        return self.day


@pytest.fixture
def clock() -> Clock:
    return Clock()


@asynccontextmanager
async def running(
    settings: ReferralsSettings,
    keys: KeySet,
    upstream: Upstream,
    headers: dict[str, str],
    clock: Clock | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, keys=keys)
    if clock is not None:
        app.dependency_overrides[current_day] = clock
    async with serve(app, headers=headers) as client:
        await app.state.gateway.close()
        app.state.gateway = GatewayClient(settings, transport=httpx.MockTransport(upstream.handler))
        yield client


@pytest.fixture
async def client(
    database: Database, test_keys: KeySet, upstream: Upstream, auth: Auth, clock: Clock
) -> AsyncIterator[httpx.AsyncClient]:
    """An office user's client (each request may pass other `headers=`)."""
    settings = make_settings(database)
    async with running(settings, test_keys, upstream, auth("office"), clock) as c:
        yield c


async def sql(database: Database, statement: str, *args: Any) -> Any:
    """Runs one statement straight against the referrals schema (what the API would refuse,
    e.g. a record as an import or the passing of time leaves it); its first value."""
    conn = await asyncpg.connect(database.urls["referrals"].replace("+asyncpg", ""))
    try:
        return await conn.fetchval(statement, *args)
    finally:
        await conn.close()


async def backdate(database: Database, table: str, row_id: str, day: date) -> None:
    """As if the row had been created on `day` (Asia/Shanghai, at noon)."""
    await sql(
        database,
        f"UPDATE referrals.{table} SET created_at = ($1::date + time '12:00')"
        " AT TIME ZONE 'Asia/Shanghai' WHERE id = $2",
        day,
        uuid.UUID(row_id),
    )
