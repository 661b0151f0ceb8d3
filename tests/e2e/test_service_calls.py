"""One service calling another through the gateway, as itself (OAuth2 client credentials)."""

from __future__ import annotations

import base64
import uuid

import httpx
import pytest

from ops.stack import Database
from services.common.errors import ServiceUnavailable
from services.common.gateway_client import GatewayClient
from services.common.requestid import request_id_var
from services.findings.settings import FindingsSettings
from tests.e2e.conftest import System

pytestmark = pytest.mark.e2e


def settings(system: System, database: Database, secret: str | None) -> FindingsSettings:
    return FindingsSettings(
        database_url=database.urls["findings"], gateway_url=system.gateway, client_secret=secret
    )


async def test_a_service_reads_another_through_the_gateway(
    system: System, database: Database
) -> None:
    async with httpx.AsyncClient() as http:
        created = await http.post(
            f"{system.gateway}/api/v1/targets",
            headers=system.auth,
            json={
                "name": f"新店镇党委-{uuid.uuid4().hex[:6]}",
                "kind": "township_committee",
                "jurisdiction": "赤壁市",
            },
        )
    target = created.json()  # fmt: skip
    client = GatewayClient(settings(system, database, database.client_secrets["findings"]))
    token = request_id_var.set("svc-call-" + uuid.uuid4().hex)
    try:
        found = await client.get_json(f"/api/v1/targets/{target['id']}")
        assert found is not None
        assert found["name"] == target["name"]
        assert await client.get_json(f"/api/v1/targets/{uuid.uuid4()}") is None
        # the token is cached: a second call does not log in again
        first = client._token
        await client.get_json(f"/api/v1/targets/{target['id']}")
        assert client._token == first
        # a service may read, not plan
        denied = await client.request(
            "POST", "/api/v1/targets", json={"name": "x", "kind": "village", "jurisdiction": "y"}
        )
        assert denied.status_code == 403
    finally:
        request_id_var.reset(token)
        await client.close()


async def test_wrong_client_secret_is_refused(system: System, database: Database) -> None:
    client = GatewayClient(settings(system, database, "not-the-secret"))
    try:
        with pytest.raises(ServiceUnavailable):
            await client.get_json("/api/v1/targets")
    finally:
        await client.close()


def test_client_credentials_by_http_basic_and_no_refresh_token(
    system: System, database: Database
) -> None:
    basic = base64.b64encode(f"referrals:{database.client_secrets['referrals']}".encode()).decode()
    resp = httpx.post(
        f"{system.gateway}/api/v1/auth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert resp.status_code == 200, resp.text
    assert "refresh_token" not in resp.json()
    me = httpx.get(
        f"{system.gateway}/api/v1/auth/me",
        headers={"Authorization": f"Bearer {resp.json()['access_token']}"},
    )
    # a machine client has no user profile: the policy table grants `service` no /auth/me
    assert me.status_code == 403
    assert me.json()["type"] == "/problems/forbidden-by-policy"
    wrong = httpx.post(
        f"{system.gateway}/api/v1/auth/token",
        data={"grant_type": "client_credentials", "client_id": "referrals", "client_secret": "x"},
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_client"
