"""The referrals service in-process against the real PostgreSQL, with the gateway (findings,
rounds and targets behind it) replaced by an httpx MockTransport that answers from `Upstream`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from ops.stack import Database
from services.common.auth import KeySet
from services.common.gateway_client import GatewayClient
from services.referrals.app import create_app
from services.referrals.settings import ReferralsSettings
from tests.conftest import MintToken, serve


@dataclass
class Upstream:
    """Findings, rounds and targets as the gateway would answer for them."""

    findings: dict[str, dict[str, Any]] = field(default_factory=dict)
    rounds: set[str] = field(default_factory=set)
    targets: set[str] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)

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

    def round(self) -> str:
        rid = str(uuid.uuid4())
        self.rounds.add(rid)
        return rid

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
        if request.method == "GET" and len(parts) == 4 and parts[2] == "findings":
            found = self.findings.get(parts[3])
            return httpx.Response(200, json=found) if found else httpx.Response(404)
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

    def _auth(
        *roles: str, sub: str | None = None, groups: list[str] | None = None
    ) -> dict[str, str]:
        token = mint(
            "referrals",
            roles=list(roles),
            sub=sub or str(uuid.uuid4()),
            groups=groups or [],
        )
        return {"Authorization": f"Bearer {token}"}

    return _auth


def make_settings(database: Database, **over: Any) -> ReferralsSettings:
    return ReferralsSettings(
        database_url=database.urls["referrals"], client_secret=SecretStr("test"), **over
    )


@asynccontextmanager
async def running(
    settings: ReferralsSettings, keys: KeySet, upstream: Upstream, headers: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, keys=keys)
    async with serve(app, headers=headers) as client:
        await app.state.gateway.close()
        app.state.gateway = GatewayClient(settings, transport=httpx.MockTransport(upstream.handler))
        yield client


@pytest.fixture
async def client(
    database: Database, test_keys: KeySet, upstream: Upstream, auth: Auth
) -> AsyncIterator[httpx.AsyncClient]:
    """An office user's client (each request may pass other `headers=`)."""
    async with running(make_settings(database), test_keys, upstream, auth("office")) as c:
        yield c
