"""The audit trail through the real gateway: reads of leads and findings and every write are on
record with who, what, when, from where and the request id; logins without their password;
concurrent requests keep one linear chain; a tampered entry is named by
`GET /api/v1/audit/verify`; the head comes signed (endpoint and `python -m ops audit-head`)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson
import pytest

from gateway.identity.enums import Role
from gateway.identity.schemas import UserCreate
from ops.stack import Database
from ops.users import create_user
from tests.e2e.conftest import PASSWORD, System, place_a_finding
from tests.gateway.test_audit_store import tampered

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def ok(resp: httpx.Response, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()


def rid(what: str) -> dict[str, str]:
    return {"X-Request-ID": f"{what}-{uuid.uuid4().hex}"}


def on_record(office: httpx.Client, request_id: str) -> list[dict[str, Any]]:
    """The entries of one request, oldest first."""
    page = ok(office.get("/api/v1/audit/entries", params={"request_id": request_id}))
    return sorted(page["items"], key=lambda e: e["seq"])


def user_with(system: System, database: Database, role: Role) -> dict[str, str]:
    name = f"{role.value}-{uuid.uuid4().hex[:8]}"
    user = UserCreate(username=name, display_name=name, password=PASSWORD, roles=[role])
    asyncio.run(create_user(database.urls["gateway"], database.data_dir, user))
    token = ok(
        httpx.post(
            f"{system.gateway}/api/v1/auth/token",
            data={"grant_type": "password", "username": name, "password": PASSWORD},
        )
    )["access_token"]
    return {"Authorization": f"Bearer {token}"}


def created(client: httpx.Client, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    """POST until it is answered: a service's first call through the gateway logs it in first
    (argon2), which on a busy machine can outlast the e2e upstream timeout (3 s)."""
    headers = {**headers, "Idempotency-Key": uuid.uuid4().hex}
    deadline = time.monotonic() + 60
    while True:
        resp = client.post(path, json=body, headers=headers)
        if resp.status_code not in (409, 503, 504) or time.monotonic() > deadline:
            return ok(resp, 201)
        time.sleep(0.5)


@pytest.fixture
def office(system: System) -> httpx.Client:
    return httpx.Client(base_url=system.gateway, headers=system.auth, timeout=30)


def test_reads_of_leads_and_findings_and_writes_are_on_record(
    system: System, office: httpx.Client
) -> None:
    placed = place_a_finding(office)
    made = created(
        office,
        "/api/v1/findings",
        {
            "assignment_id": placed.assignment_id,
            "category_id": placed.category_id,
            "title": "村干部虚报冒领扶贫资金",
            "facts": "虚报冒领。",
            "money_involved": "32000.00",
            "source": "letters",
            "discovered_on": date.today().isoformat(),
        },
        {},
    )
    ok(office.post(f"/api/v1/findings/{made['id']}/transitions", json={"to": "confirmed"}))
    write = rid("lead-write")
    lead = created(
        office,
        "/api/v1/leads",
        {
            "title": "村支书虚报冒领扶贫资金问题线索",
            "summary": "涉嫌套取产业扶贫资金。",
            "finding_ids": [made["id"]],
            "recipient": "discipline_commission",
            "subjects": [{"name": "陈某某", "position": "村党支部书记", "rank": "village",
                          "party_member": True}],
        },
        write,
    )  # fmt: skip
    read_lead, read_finding, listing = rid("lead-read"), rid("finding-read"), rid("list")
    ok(office.get(f"/api/v1/leads/{lead['id']}", headers=read_lead))
    ok(office.get(f"/api/v1/findings/{made['id']}", headers=read_finding))
    ok(office.get("/api/v1/findings", params={"limit": 5}, headers=listing))

    entries = on_record(office, write["X-Request-ID"])
    # the referrals service read the finding back through the gateway: same request id, on record
    assert any(
        (e["actor_name"], e["method"], e["resource_id"]) == ("referrals", "GET", made["id"])
        for e in entries
    ), entries
    mine = {e["seq"]: e for e in entries if e["actor_name"] == "office1"}
    # (tries answered 504 or 409 before it, if any, are on record too, each with its intent)
    [outcome] = [e for e in mine.values() if e["status"] == 201]
    intent = mine[outcome["intent_seq"]]
    assert (intent["phase"], intent["status"]) == ("intent", None)
    assert outcome["phase"] == "outcome"
    assert (outcome["method"], outcome["path"], outcome["resource"]) == (
        "POST", "/api/v1/leads", "leads"
    )  # fmt: skip

    [lead_read] = on_record(office, read_lead["X-Request-ID"])  # nothing else behind it
    assert (lead_read["action"], lead_read["method"], lead_read["status"]) == ("read", "GET", 200)
    assert (lead_read["resource"], lead_read["resource_id"]) == ("leads", lead["id"])
    assert lead_read["actor_name"] == "office1"
    assert lead_read["actor_roles"] == ["office"]
    assert lead_read["client_ip"] == "127.0.0.1"
    assert lead_read["at"].endswith(("Z", "+00:00"))

    [finding_read] = on_record(office, read_finding["X-Request-ID"])
    assert (finding_read["resource"], finding_read["resource_id"]) == ("findings", made["id"])
    [list_read] = on_record(office, listing["X-Request-ID"])
    assert (list_read["path"], list_read["query"]) == ("/api/v1/findings", "limit=5")


def test_a_failed_login_is_on_record_without_the_password(
    system: System, office: httpx.Client
) -> None:
    attempt = rid("login")
    password = f"Not-the-{uuid.uuid4().hex[:10]}"
    resp = httpx.post(
        f"{system.gateway}/api/v1/auth/token",
        data={"grant_type": "password", "username": "office1", "password": password},
        headers=attempt,
    )
    assert resp.status_code in (400, 401)
    entries = on_record(office, attempt["X-Request-ID"])
    assert [(e["phase"], e["status"]) for e in entries] == [
        ("intent", None), ("outcome", resp.status_code)
    ]  # fmt: skip
    for entry in entries:
        assert entry["path"] == "/api/v1/auth/token"
        assert entry["actor_name"] == "office1"
        assert entry["actor_id"] is None
        assert entry["detail"] == {"grant_type": "password", "username": "office1"}
        assert password not in orjson.dumps(entry).decode()


def test_reading_the_audit_trail_is_itself_on_record_and_for_the_office_only(
    system: System, database: Database, office: httpx.Client
) -> None:
    looked = rid("audit-read")
    ok(office.get("/api/v1/audit/entries", params={"resource": "leads"}, headers=looked))
    [entry] = on_record(office, looked["X-Request-ID"])
    assert (entry["resource"], entry["query"], entry["status"]) == ("audit", "resource=leads", 200)

    member = user_with(system, database, Role.group_member)
    superior = user_with(system, database, Role.superior)
    gw = system.gateway
    for path in ("/api/v1/audit/entries", "/api/v1/audit/verify", "/api/v1/audit/head"):
        assert httpx.get(gw + path, headers=member).status_code == 403
        assert httpx.get(gw + path).status_code == 401
    assert httpx.get(gw + "/api/v1/audit/entries", headers=superior).status_code == 403
    assert httpx.get(gw + "/api/v1/audit/head", headers=superior).status_code == 200


def test_concurrent_requests_keep_one_linear_chain(system: System, office: httpx.Client) -> None:
    before = ok(office.get("/api/v1/audit/head"))["seq"]

    async def burst() -> list[str]:
        async with httpx.AsyncClient(
            base_url=system.gateway, headers=system.auth, timeout=60
        ) as client:

            async def one(n: int) -> str:
                headers = rid(f"burst{n}")
                if n % 3 == 0:
                    resp = await client.post(
                        "/api/v1/targets",
                        headers=headers,
                        json={"name": f"村{n}", "kind": "village", "jurisdiction": "赤壁市"},
                    )
                    assert resp.status_code == 201, resp.text
                else:
                    resp = await client.get(f"/api/v1/leads/{uuid.uuid4()}", headers=headers)
                    assert resp.status_code == 404, resp.text
                return headers["X-Request-ID"]

            return await asyncio.gather(*(one(n) for n in range(36)))

    ids = asyncio.run(burst())
    seqs = [e["seq"] for request_id in ids for e in on_record(office, request_id)]
    assert len(seqs) == 36 + 12  # a read each, a write two
    assert len(set(seqs)) == len(seqs)
    assert min(seqs) > before
    result = ok(office.get("/api/v1/audit/verify"))
    assert result["ok"], result
    assert result["checked"] == result["head_seq"] >= max(seqs)


def test_a_tampered_entry_is_named_by_the_endpoint(
    system: System, database: Database, office: httpx.Client
) -> None:
    probe = rid("probe")
    office.get(f"/api/v1/leads/{uuid.uuid4()}", headers=probe)
    ok(office.get("/api/v1/audit/head"))  # one more entry after it
    [entry] = on_record(office, probe["X-Request-ID"])
    seq = entry["seq"]

    async def check(change: str, reason: str) -> None:
        async with tampered(database, seq, change):
            result = (await asyncio.to_thread(office.get, "/api/v1/audit/verify")).json()
            assert result["ok"] is False
            assert result["first_broken"]["seq"] == seq
            assert reason in result["first_broken"]["reason"]

    asyncio.run(check("UPDATE audit.log SET status = 200 WHERE seq = $1", "does not match"))
    asyncio.run(check("DELETE FROM audit.log WHERE seq = $1", "missing"))
    assert ok(office.get("/api/v1/audit/verify"))["ok"]


def test_the_head_is_signed_by_the_gateway(
    system: System, database: Database, office: httpx.Client
) -> None:
    jwks = ok(httpx.get(system.gateway + "/.well-known/jwks.json"))
    keys = {k["kid"]: jwt.PyJWK(k).key for k in jwks["keys"]}

    def claims_of(head: dict[str, Any]) -> dict[str, Any]:
        kid = jwt.get_unverified_header(head["signed"])["kid"]
        claims: dict[str, Any] = jwt.decode(head["signed"], keys[kid], algorithms=["EdDSA"])
        assert (claims["seq"], claims["hash"], claims["at"]) == (
            head["seq"], head["hash"], head["at"]
        )  # fmt: skip
        return claims

    served = ok(office.get("/api/v1/audit/head"))
    assert claims_of(served)["sub"] == "audit-head"
    assert served["seq"] >= 1

    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "GATEWAY_DATABASE_URL": database.urls["gateway"],
        "GATEWAY_SIGNING_KEY_FILE": str(database.data_dir / "keys" / "gateway-signing.pem"),
    }
    printed = subprocess.run(
        [sys.executable, "-m", "ops", "audit-head"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    head = orjson.loads(printed.stdout)
    assert claims_of(head)["seq"] >= served["seq"] + 1  # the read of the head came after it
    verified = ok(
        office.get("/api/v1/audit/verify", params={"seq": head["seq"], "hash": head["hash"]})
    )
    assert verified["ok"], verified
