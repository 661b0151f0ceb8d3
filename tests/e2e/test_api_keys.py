"""API keys of machine clients, through the real processes: issued by the administrator with
roles, scopes and an expiry; the secret shown once and stored hashed; tokens that carry the
scopes, which the gateway and the services enforce from the policy table, and that expire no
later than the key; narrowing, bringing forward, rotating or disabling refuses the tokens the
key holds."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from gateway.audit.writer import asyncpg_dsn
from gateway.identity.enums import Role
from ops.stack import Database
from tests.e2e.conftest import System, eventually, fresh_login

pytestmark = pytest.mark.e2e
KEYS = "/api/v1/admin/api-clients"


@pytest.fixture(scope="module")
def admin(system: System, database: Database) -> httpx.Client:
    token = fresh_login(system, database, Role.admin, prefix="keys")
    return httpx.Client(base_url=system.gateway, headers=bearer_of(token), timeout=30)


def in_days(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def issue(admin: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {
        "client_id": f"platform-{uuid.uuid4().hex[:8]}",
        "description": "纪检监察信息网络平台（测试）",
        "roles": ["platform"],
        "scopes": ["lead:read"],
        "expires_at": in_days(30),
        **fields,
    }
    resp = admin.post(KEYS, json=body)
    assert resp.status_code == 201, resp.text
    created: dict[str, Any] = resp.json()
    return created


def token(system: System, client_id: str, secret: str, scope: str | None = None) -> httpx.Response:
    data = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    if scope is not None:
        data["scope"] = scope
    return httpx.post(f"{system.gateway}/api/v1/auth/token", data=data)


def bearer(resp: httpx.Response) -> dict[str, str]:
    assert resp.status_code == 200, resp.text
    return bearer_of(resp.json()["access_token"])


def bearer_of(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_key_is_issued_once_and_stored_hashed(
    system: System, database: Database, admin: httpx.Client
) -> None:
    key = issue(admin, scopes=["lead:read", "lead:write", "lead:read"])
    assert key["client_secret"].startswith("xck_")
    assert key["scopes"] == ["lead:read", "lead:write"]
    assert key["expired"] is False
    assert key["created_by"].startswith("keys-admin-")
    read = admin.get(f"{KEYS}/{key['client_id']}")
    assert read.status_code == 200
    assert "client_secret" not in read.json()
    assert read.headers["ETag"]
    listed = admin.get(KEYS, params={"limit": 200}).json()["items"]
    mine = [k for k in listed if k["client_id"] == key["client_id"]]
    assert len(mine) == 1
    assert "client_secret" not in mine[0]
    # our services' keys are listed too, with every scope their role has and no expiry
    rounds = next(k for k in listed if k["client_id"] == "rounds")
    assert rounds["expires_at"] is None
    assert "event:write" in rounds["scopes"]

    async def stored() -> str:
        conn = await asyncpg.connect(asyncpg_dsn(database.urls["gateway"]))
        try:
            value: str = await conn.fetchval(
                "SELECT secret_hash FROM gateway.api_clients WHERE client_id = $1",
                key["client_id"],
            )
            return value
        finally:
            await conn.close()

    hashed = asyncio.run(stored())
    assert hashed.startswith("$argon2id$")
    assert key["client_secret"] not in hashed
    # the same client id again: 409, and the first key is unchanged
    again = admin.post(
        KEYS,
        json={
            "client_id": key["client_id"], "description": "x", "roles": ["platform"],
            "scopes": ["lead:read"], "expires_at": in_days(1),
        },
    )  # fmt: skip
    assert again.status_code == 409, again.text
    assert bearer(token(system, key["client_id"], key["client_secret"]))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"roles": ["office"]}, "roles[0]"),
        ({"roles": ["service"]}, "roles[0]"),
        ({"scopes": ["finding:read"]}, "scopes[0]"),
        ({"scopes": ["lead:read", "audit:read"]}, "scopes[1]"),
        ({"scopes": ["lead:delete"]}, "scopes.0"),
        ({"scopes": []}, "scopes"),
        ({"expires_at": in_days(-1)}, "expires_at"),
        ({"expires_at": in_days(400)}, "expires_at"),
        ({"expires_at": "2027-01-01T00:00:00"}, "expires_at"),
        ({"client_id": "X"}, "client_id"),
        ({"is_active": False}, "is_active"),
        ({"secret_hash": "$argon2id$..."}, "secret_hash"),
    ],
)
def test_what_a_key_may_not_be_given_is_refused_naming_the_field(
    admin: httpx.Client, change: dict[str, Any], field: str
) -> None:
    client_id = f"bad-{uuid.uuid4().hex[:8]}"
    body = {
        "client_id": client_id,
        "description": "越权测试",
        "roles": ["platform"],
        "scopes": ["lead:read"],
        "expires_at": in_days(30),
        **change,
    }
    resp = admin.post(KEYS, json=body)
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in resp.json()["errors"]], resp.text
    assert admin.get(f"{KEYS}/{body['client_id']}").status_code in (404, 422)


def test_only_the_administrator_keeps_keys(system: System, database: Database) -> None:
    office = httpx.Client(base_url=system.gateway, headers=system.auth, timeout=30)
    for method, path in (("GET", KEYS), ("POST", KEYS), ("GET", f"{KEYS}/rounds")):
        resp = office.request(method, path, json={} if method == "POST" else None)
        assert resp.status_code == 403, resp.text
        assert resp.json()["type"] == "/problems/forbidden-by-policy"


def test_a_token_reaches_only_what_its_scopes_name(
    system: System, database: Database, admin: httpx.Client
) -> None:
    key = issue(admin, scopes=["lead:read", "session:read"])
    granted = token(system, key["client_id"], key["client_secret"])
    assert granted.json()["scope"] == "lead:read session:read"
    assert "refresh_token" not in granted.json() or granted.json()["refresh_token"] is None
    headers = bearer(granted)
    gw = httpx.Client(base_url=system.gateway, headers=headers, timeout=30)
    # through the gateway to the referrals service, which checks the scope too
    assert gw.get("/api/v1/leads").status_code == 200
    me = gw.get("/api/v1/auth/me")  # session:read: who the key is
    assert me.status_code == 200, me.text
    assert (me.json()["username"], me.json()["roles"]) == (key["client_id"], ["platform"])
    # the role is granted lead transitions, the key is not: 403 naming the scope it needs
    denied = gw.post(
        f"/api/v1/leads/{uuid.uuid4()}/transitions",
        json={"to": "received"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert denied.status_code == 403, denied.text
    assert "lead:write" in denied.json()["detail"]
    # and what its role is not granted stays refused whatever the scopes
    assert gw.get("/api/v1/findings").status_code == 403
    # a token asked for fewer scopes carries only those
    narrow = token(system, key["client_id"], key["client_secret"], scope="session:read")
    assert narrow.json()["scope"] == "session:read"
    narrowed = httpx.get(f"{system.gateway}/api/v1/leads", headers=bearer(narrow))
    assert narrowed.status_code == 403
    # more than the key holds: invalid_scope, no token
    beyond = token(system, key["client_id"], key["client_secret"], scope="lead:write")
    assert beyond.status_code == 400, beyond.text
    assert beyond.json()["error"] == "invalid_scope"
    for malformed in ("leads", "lead:read  session:read"):
        refused = token(system, key["client_id"], key["client_secret"], scope=malformed)
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"] == "invalid_scope"


def _patch(admin: httpx.Client, client_id: str, body: dict[str, Any]) -> dict[str, Any]:
    etag = admin.get(f"{KEYS}/{client_id}").headers["ETag"]
    stale = admin.patch(f"{KEYS}/{client_id}", json=body, headers={"If-Match": '"1"'})
    assert stale.status_code == 412, stale.text
    resp = admin.patch(f"{KEYS}/{client_id}", json=body, headers={"If-Match": etag})
    assert resp.status_code == 200, resp.text
    assert resp.headers["ETag"] != etag
    changed: dict[str, Any] = resp.json()
    return changed


def _refused(system: System, headers: dict[str, str]) -> None:
    def check() -> None:
        resp = httpx.get(f"{system.gateway}/api/v1/leads", headers=headers)
        assert resp.status_code == 401, resp.text

    eventually(check)


def test_narrowing_the_scopes_refuses_the_tokens_it_holds(
    system: System, admin: httpx.Client
) -> None:
    key = issue(admin, scopes=["lead:read", "lead:write"])
    held = bearer(token(system, key["client_id"], key["client_secret"]))
    assert httpx.get(f"{system.gateway}/api/v1/leads", headers=held).status_code == 200
    # widening refuses nothing
    wider = _patch(admin, key["client_id"], {"scopes": ["lead:read", "lead:write", "group:read"]})
    assert wider["scopes"] == ["group:read", "lead:read", "lead:write"]
    assert httpx.get(f"{system.gateway}/api/v1/leads", headers=held).status_code == 200
    _patch(admin, key["client_id"], {"scopes": ["lead:read"]})
    _refused(system, held)
    fresh = token(system, key["client_id"], key["client_secret"])
    assert fresh.json()["scope"] == "lead:read"
    # null is not "no scopes"
    resp = admin.patch(f"{KEYS}/{key['client_id']}", json={"scopes": None})
    assert resp.status_code == 422


def test_a_key_expires_and_its_tokens_with_it(system: System, admin: httpx.Client) -> None:
    key = issue(admin)
    held = bearer(token(system, key["client_id"], key["client_secret"]))
    soon = (datetime.now(UTC) + timedelta(seconds=4)).isoformat()
    assert _patch(admin, key["client_id"], {"expires_at": soon})["expired"] is False
    _refused(system, held)  # brought forward: what it held is refused at once
    short = token(system, key["client_id"], key["client_secret"])
    assert short.status_code == 200, short.text
    assert short.json()["expires_in"] <= 4
    time.sleep(5)
    late = token(system, key["client_id"], key["client_secret"])
    assert late.status_code == 400, late.text
    assert late.json()["error"] == "invalid_client"
    assert "expired" in late.json()["detail"]
    _refused(system, bearer(short))  # past its own expiry (and the 5 s leeway for clocks)
    assert admin.get(f"{KEYS}/{key['client_id']}").json()["expired"] is True
    # extended, it works again
    _patch(admin, key["client_id"], {"expires_at": in_days(7)})
    assert bearer(token(system, key["client_id"], key["client_secret"]))


def test_rotating_or_disabling_a_key_refuses_the_old_secret_and_tokens(
    system: System, admin: httpx.Client
) -> None:
    key = issue(admin)
    held = bearer(token(system, key["client_id"], key["client_secret"]))
    rotated = admin.post(f"{KEYS}/{key['client_id']}/rotate-secret")
    assert rotated.status_code == 200, rotated.text
    secret = rotated.json()["client_secret"]
    assert secret != key["client_secret"]
    _refused(system, held)
    assert token(system, key["client_id"], key["client_secret"]).status_code == 400
    held = bearer(token(system, key["client_id"], secret))
    used = admin.get(f"{KEYS}/{key['client_id']}").json()
    assert used["last_used_at"] is not None
    assert _patch(admin, key["client_id"], {"is_active": False})["is_active"] is False
    _refused(system, held)
    assert token(system, key["client_id"], secret).status_code == 400
    disabled = admin.get(KEYS, params={"active": "false", "limit": 200}).json()["items"]
    assert key["client_id"] in [k["client_id"] for k in disabled]


def test_our_services_keys_are_kept_by_ops_not_here(admin: httpx.Client) -> None:
    etag = admin.get(f"{KEYS}/rounds").headers["ETag"]
    for method, path, body in (
        ("PATCH", f"{KEYS}/rounds", {"is_active": False}),
        ("POST", f"{KEYS}/rounds/rotate-secret", None),
    ):
        resp = admin.request(method, path, json=body, headers={"If-Match": etag})
        assert resp.status_code == 409, resp.text
    assert admin.get(f"{KEYS}/rounds").json()["is_active"] is True
    assert admin.get(f"{KEYS}/nobody-here").status_code == 404
