"""The four apps as real processes on free ports, against the session's PostgreSQL."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from gateway.identity.enums import Role
from gateway.identity.schemas import UserCreate
from ops.pg import free_port
from ops.stack import Database as Db
from ops.stack import Stack
from ops.users import create_user

T = TypeVar("T")
PASSWORD = "correct horse battery staple"
EVIDENCE_MAX_BYTES = 4 * 1024 * 1024
GATEWAY_MAX_UPLOAD_BYTES = 6 * 1024 * 1024
# what the discipline platform signs its callbacks with (see test_callbacks)
PLATFORM_CALLBACK_SECRET = "whsec_cGxhdGZvcm0tY2FsbGJhY2tzLWUyZS10ZXN0LXNlY3JldCE="


@dataclass
class System:
    stack: Stack
    gateway: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def url(self, app: str) -> str:
        return self.stack.url(app)


@pytest.fixture(scope="session")
def system(database: Db, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    logs = Path(tmp_path_factory.mktemp("logs"))
    ports = {app: free_port() for app in ("gateway", "rounds", "findings", "referrals")}
    stack = Stack(
        db=database,
        ports=ports,
        log_dir=logs,
        extra_env={
            "GATEWAY_UPSTREAM_READ_TIMEOUT": "3",
            "GATEWAY_UPSTREAM_CONNECT_TIMEOUT": "1",
            # small, so that the upload limits can be crossed cheaply (see test_uploads)
            "FINDINGS_EVIDENCE_MAX_BYTES": str(EVIDENCE_MAX_BYTES),
            "GATEWAY_MAX_UPLOAD_BYTES": str(GATEWAY_MAX_UPLOAD_BYTES),
            # webhook receivers in the tests listen on loopback
            "GATEWAY_WEBHOOKS_ALLOW_PRIVATE": "true",
            "GATEWAY_PLATFORM_CALLBACK_SECRET": PLATFORM_CALLBACK_SECRET,
            # retries in fractions of a second, not over three days (see test_webhooks)
            "GATEWAY_WEBHOOK_RETRY_SCHEDULE": "[0.2, 0.2, 0.5]",
            # every test logs in from 127.0.0.1, failures included: the per-address throttle
            # is tested on a gateway of its own (test_owasp_api_top10, API6)
            "GATEWAY_LOGIN_FAILURES_PER_ADDRESS": "100000",
        },
    )
    user = UserCreate(
        username="office1", display_name="巡察办干部", password=PASSWORD, roles=[Role.office]
    )
    asyncio.run(create_user(database.urls["gateway"], database.data_dir, user))
    try:
        stack.start()
        resp = httpx.post(
            stack.url("gateway") + "/api/v1/auth/token",
            data={"grant_type": "password", "username": "office1", "password": PASSWORD},
        )
        assert resp.status_code == 200, resp.text
        yield System(stack=stack, gateway=stack.url("gateway"), token=resp.json()["access_token"])
    finally:
        stack.stop()
        for log in logs.glob("*.log"):
            text = log.read_text(errors="replace")
            assert "Traceback" not in text, f"{log.name} logged an unhandled error:\n{text[-3000:]}"


def fresh_login(system: System, database: Db, *roles: Role, prefix: str = "user") -> str:
    """A fresh person with `roles`, logged in: their access token (the session's may be near
    its expiry, and a test that changes an account must not change another test's)."""
    name = f"{prefix}-{'-'.join(r.value for r in roles)}-{uuid.uuid4().hex[:6]}"
    user = UserCreate(username=name, display_name=name, password=PASSWORD, roles=list(roles))
    asyncio.run(create_user(database.urls["gateway"], database.data_dir, user))
    resp = httpx.post(
        f"{system.gateway}/api/v1/auth/token",
        data={"grant_type": "password", "username": name, "password": PASSWORD},
    )
    assert resp.status_code == 200, resp.text
    token: str = resp.json()["access_token"]
    return token


def eventually(check: Callable[[], T], *, timeout: float = 15.0, every: float = 0.1) -> T:
    """`check()`'s value once it stops raising AssertionError (events take a moment to travel
    outbox → hub → consumer); its last AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(every)


@dataclass
class Placed:
    """An assignment a finding can be recorded on, with a category of its round."""

    target_id: str
    round_id: str
    group_id: str
    assignment_id: str
    category_id: str


def place_a_finding(gw: httpx.Client, target_name: str = "中伙铺镇某村") -> Placed:
    """Through the gateway, as the office: a target, a term, a round, a group, an assignment."""
    tag = uuid.uuid4().hex[:6]
    city = f"赤壁市{tag}"

    def ok(resp: httpx.Response) -> dict[str, Any]:
        assert resp.status_code in (200, 201), resp.text
        body: dict[str, Any] = resp.json()
        return body

    target = ok(
        gw.post(
            "/api/v1/targets", json={"name": target_name, "kind": "village", "jurisdiction": city}
        )
    )
    term = ok(
        gw.post(
            "/api/v1/terms",
            json={
                "name": f"第八届{tag}",
                "starts_on": "2016-10-01",
                "ends_on": "2021-09-30",
                "coverage_kinds": ["village"],
                "jurisdiction": city,
            },
        )
    )
    rnd = ok(
        gw.post(
            "/api/v1/rounds",
            json={
                "term_id": term["id"],
                "number": 1,
                "name": "扶贫领域专项巡察",
                "kind": "special",
            },
        )
    )
    group = ok(
        gw.post(
            "/api/v1/groups",
            json={
                "round_id": rnd["id"],
                "kind": "municipal",
                "name": "第一巡察组",
                "owning_organisation": "中共赤壁市委",
            },
        )
    )
    assignment = ok(
        gw.post(
            "/api/v1/assignments",
            json={
                "round_id": rnd["id"],
                "group_id": group["id"],
                "target_id": target["id"],
                "mode": "pinpoint",
            },
        )
    )
    categories = ok(gw.get(f"/api/v1/rounds/{rnd['id']}/categories"))
    items = categories["items"] if isinstance(categories, dict) else categories
    return Placed(target["id"], rnd["id"], group["id"], assignment["id"], items[0]["id"])
