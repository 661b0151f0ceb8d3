"""The whole system as it runs: real processes, real HTTP, real PostgreSQL."""

from __future__ import annotations

import time
import uuid
from datetime import date
from typing import Any

import asyncpg
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.keys import Signer, load_or_create
from ops.stack import Database
from tests.e2e.conftest import System, eventually, place_a_finding

pytestmark = pytest.mark.e2e


def test_target_finding_and_lead_through_the_gateway(system: System) -> None:
    with httpx.Client(base_url=system.gateway, headers=system.auth) as gw:
        placed = place_a_finding(gw, f"赤壁市扶贫办党组-{uuid.uuid4().hex[:6]}")
        target = gw.get(f"/api/v1/targets/{placed.target_id}")
        assert target.status_code == 200, target.text
        assert target.headers["x-request-id"]
        finding = gw.post(
            "/api/v1/findings",
            json={
                "assignment_id": placed.assignment_id,
                "category_id": placed.category_id,
                "title": "扶贫资金拨付不及时",
                "facts": "2018年产业扶贫资金32万元滞留未拨付。",
                "money_involved": "320000.00",
                "source": "documents",
                "discovered_on": str(date(2018, 7, 2)),
            },
        )
        assert finding.status_code == 201, finding.text
        assert finding.json()["money_involved"] == "320000.00"
        assert finding.json()["status"] == "draft"
        fid = finding.json()["id"]
        # a draft is not yet handed over; confirmed, it is
        refused = gw.post(
            "/api/v1/leads",
            json={"title": "t", "summary": "s", "finding_ids": [fid], "recipient": "other"},
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == "finding_ids.0"
        confirmed = gw.post(f"/api/v1/findings/{fid}/transitions", json={"to": "confirmed"})
        assert confirmed.status_code in (200, 201), confirmed.text
        lead = gw.post(
            "/api/v1/leads",
            json={
                "title": "某村支书虚报冒领扶贫资金",
                "summary": "涉嫌虚报冒领，建议移交纪委监委。",
                "finding_ids": [finding.json()["id"]],
                "recipient": "discipline_commission",
            },
        )
        assert lead.status_code == 201, lead.text

        for path, created in (("targets", target.json()), ("leads", lead.json())):
            read = gw.get(f"/api/v1/{path}/{created['id']}")
            assert read.status_code == 200
            assert read.json() == created

        # the finding shows what became of it: handed over, by the referrals service, naming
        # the lead
        def handed_over() -> dict[str, Any]:
            history: list[dict[str, Any]] = gw.get(f"/api/v1/findings/{fid}/transitions").json()
            assert history[-1]["to_status"] == "handed_over"
            return history[-1]

        last = eventually(handed_over)
        assert gw.get(f"/api/v1/findings/{fid}").json()["status"] == "handed_over"
        assert (last["from_status"], last["to_status"]) == ("confirmed", "handed_over")
        assert lead.json()["id"] in last["reason"]
        listed = gw.get("/api/v1/leads", params={"finding_id": finding.json()["id"]})
        assert [x["id"] for x in listed.json()["items"]] == [lead.json()["id"]]
        me = gw.get("/api/v1/auth/me")
        assert me.json()["username"] == "office1"


async def test_rows_land_in_the_owning_schema(system: System, database: Database) -> None:
    async with httpx.AsyncClient(base_url=system.gateway, headers=system.auth) as gw:
        target = await gw.post(
            "/api/v1/targets",
            json={
                "name": f"黄盖湖农场-{uuid.uuid4().hex[:6]}",
                "kind": "farm",
                "jurisdiction": "赤壁市",
            },
        )
    conn = await asyncpg.connect(database.urls["rounds"].replace("+asyncpg", ""))
    try:
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM rounds.targets WHERE id = $1", uuid.UUID(target.json()["id"])
            )
            == 1
        )
    finally:
        await conn.close()


@pytest.mark.parametrize("app", ["rounds", "findings", "referrals"])
def test_a_service_port_without_internal_token_is_401(system: System, app: str) -> None:
    resource = {"rounds": "targets", "findings": "findings", "referrals": "leads"}[app]
    direct = httpx.get(f"{system.url(app)}/api/v1/{resource}")
    assert direct.status_code == 401
    assert direct.headers["content-type"] == "application/problem+json"
    # the user's own access token is not an internal token either
    with_user_token = httpx.get(f"{system.url(app)}/api/v1/{resource}", headers=system.auth)
    assert with_user_token.status_code == 401


def _claims(aud: str, **over: object) -> dict[str, object]:
    now = int(time.time())
    base: dict[str, object] = {
        "sub": str(uuid.uuid4()), "name": "x", "roles": ["office"], "groups": [],
        "rid": uuid.uuid4().hex, "iss": "inspection-gateway", "aud": aud,
        "iat": now, "exp": now + 60,
    }  # fmt: skip
    base.update(over)
    return base


def test_forged_expired_or_misaddressed_internal_tokens_are_401(
    system: System, database: Database
) -> None:
    real = Signer(
        load_or_create(database.data_dir / "keys" / "gateway-signing.pem", create=False),
        [],
        issuer="inspection-gateway",
    )
    url = f"{system.url('rounds')}/api/v1/targets"

    def status(token: str) -> int:
        return httpx.get(url, headers={"Authorization": f"Bearer {token}"}).status_code

    # control: a token signed by the gateway's key for this service is accepted
    assert status(real.sign(_claims("rounds"), audience="rounds", ttl=60)) == 200

    forger = Ed25519PrivateKey.generate()
    forged = jwt.encode(_claims("rounds"), forger, algorithm="EdDSA", headers={"kid": real.kid})
    assert status(forged) == 401

    now = int(time.time())
    expired = jwt.encode(
        _claims("rounds", iat=now - 600, exp=now - 300), real.key, algorithm="EdDSA",
        headers={"kid": real.kid},
    )  # fmt: skip
    assert status(expired) == 401

    for_findings = real.sign(_claims("findings"), audience="findings", ttl=60)
    assert status(for_findings) == 401

    unsigned = jwt.encode(_claims("rounds"), None, algorithm="none")
    assert status(unsigned) == 401

    hs = jwt.encode(_claims("rounds"), "guessable-secret-with-enough-bytes-000", algorithm="HS256",
                    headers={"kid": real.kid})  # fmt: skip
    assert status(hs) == 401

    no_rid = jwt.encode(
        {k: v for k, v in _claims("rounds").items() if k != "rid"}, real.key, algorithm="EdDSA",
        headers={"kid": real.kid},
    )  # fmt: skip
    assert status(no_rid) == 401


async def test_each_role_is_confined_to_its_schema(system: System, database: Database) -> None:
    conn = await asyncpg.connect(database.urls["rounds"].replace("+asyncpg", ""))
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetch("SELECT * FROM findings.findings LIMIT 1")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetch("SELECT * FROM gateway.users LIMIT 1")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE TABLE public.sneaky (id int)")
        # the version table is in the service's own schema
        assert await conn.fetchval("SELECT version_num FROM rounds.alembic_version") is not None
    finally:
        await conn.close()


def test_the_request_id_is_echoed_and_passed_on(system: System) -> None:
    rid = "e2e-" + uuid.uuid4().hex
    resp = httpx.get(
        f"{system.gateway}/api/v1/targets/{uuid.uuid4()}",
        headers={**system.auth, "X-Request-ID": rid},
    )
    assert resp.status_code == 404
    assert resp.headers["x-request-id"] == rid
    assert resp.json()["request_id"] == rid  # the service saw the gateway's id


def test_unauthenticated_calls_to_the_gateway_are_401(system: System) -> None:
    assert httpx.get(f"{system.gateway}/api/v1/targets").status_code == 401
    bad = httpx.get(f"{system.gateway}/api/v1/targets", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert bad.json()["type"] == "/problems/invalid-access-token"


def test_health_readiness_and_merged_openapi(system: System) -> None:
    assert httpx.get(f"{system.gateway}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{system.gateway}/readyz")
    assert ready.status_code == 200
    assert ready.json()["services"] == {"rounds": "ok", "findings": "ok", "referrals": "ok"}
    for app in ("rounds", "findings", "referrals"):
        assert httpx.get(f"{system.url(app)}/readyz").json()["migrations"] == "head"
    spec = httpx.get(f"{system.gateway}/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    for path in ("/api/v1/auth/token", "/api/v1/targets", "/api/v1/findings/{finding_id}",
                 "/api/v1/leads"):  # fmt: skip
        assert path in spec["paths"], path
    assert "x-unavailable-services" not in spec
    docs = httpx.get(f"{system.gateway}/docs")
    assert docs.status_code == 200
    assert "/openapi.json" in docs.text
    jwks = httpx.get(f"{system.gateway}/.well-known/jwks.json").json()
    assert jwks["keys"][0]["crv"] == "Ed25519"
    assert "d" not in jwks["keys"][0]


def test_idempotency_key_passes_through_the_gateway(system: System) -> None:
    body = {"name": f"官塘驿镇党委-{uuid.uuid4().hex[:6]}", "kind": "township_committee",
            "jurisdiction": "赤壁市"}  # fmt: skip
    headers = {**system.auth, "Idempotency-Key": uuid.uuid4().hex}
    with httpx.Client(base_url=system.gateway, headers=headers) as gw:
        first = gw.post("/api/v1/targets", json=body)
        retry = gw.post("/api/v1/targets", json=body)
    assert first.status_code == retry.status_code == 201
    assert retry.json()["id"] == first.json()["id"]
    assert retry.headers["idempotent-replayed"] == "true"


def test_enum_labels_of_every_service_in_one_call(system: System) -> None:
    enums = httpx.get(f"{system.gateway}/api/v1/meta/enums").json()
    assert enums["TargetKind"]["township_committee"] == "乡镇党委"
    assert enums["FindingSource"]["data_check"] == "大数据比对"
    assert enums["LeadRecipient"]["discipline_commission"] == "纪委监委"
    assert enums["Role"]["office"] == "市委巡察办"
