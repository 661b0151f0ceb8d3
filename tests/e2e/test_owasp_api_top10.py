"""The OWASP API Security Top 10 (2023), one test per item, as each applies to this system: an
inspection office's platform holding clues about named officials before any case is opened.

Most run against the real processes (`system`), as the people who use them: the office, a
member and a leader of one inspection group, a receiver of another body than the lead's, the
higher-level office. Where the test stack deliberately differs from production (it allows
webhook URLs on loopback for its own receivers, and does not throttle logins per address, since
every test logs in from 127.0.0.1), the item is tested on a gateway built in-process with the
production defaults (`edge`), against the same database."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.routing import iter_route_contexts
from standardwebhooks.webhooks import Webhook
from starlette.types import ASGIApp

from gateway.app import create_app as create_gateway
from gateway.identity.enums import Role
from gateway.identity.schemas import UserCreate
from gateway.keys import Signer, load_or_create, public_jwk
from gateway.proxy.routes import PREFIX, ROUTES
from gateway.settings import GatewaySettings
from ops.pg import free_port
from ops.stack import Database
from ops.users import create_user
from services.common.auth import InvalidToken, KeySet, TokenVerifier
from services.findings.app import create_app as create_findings
from services.findings.schemas import MAX_BATCH
from services.findings.settings import FindingsSettings
from services.referrals.app import create_app as create_referrals
from services.referrals.settings import ReferralsSettings
from services.rounds.app import create_app as create_rounds
from services.rounds.settings import RoundsSettings
from tests.e2e.conftest import (
    GATEWAY_MAX_UPLOAD_BYTES,
    PASSWORD,
    PLATFORM_CALLBACK_SECRET,
    Placed,
    System,
    eventually,
    place_a_finding,
)
from tests.lifespan import lifespan

pytestmark = pytest.mark.e2e

ISSUER = "inspection-gateway"
ID_NUMBER = "11010519491231002X"  # a valid resident ID number (GB 11643 check digit)
SUBJECTS = ("陈某某", "周某某")


# ---- people, records and helpers ------------------------------------------------------------


def ok(resp: httpx.Response, status: int = 201) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()


def problem(resp: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json", resp.headers
    body: dict[str, Any] = resp.json()
    if code is not None:
        assert body["type"] == f"/problems/{code}", body
    return body


def post(client: httpx.Client, url: str, body: dict[str, Any], status: int = 201) -> Any:
    """A write with an Idempotency-Key, tried again while the busy test machine makes the
    gateway give up on the service (504) or the first try still runs: the retry gets the first
    answer, never a second effect."""
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    for _ in range(30):
        resp = client.post(url, json=body, headers=headers)
        in_progress = resp.status_code == 409 and "request-in-progress" in resp.text
        if resp.status_code != 504 and not in_progress:
            break
        time.sleep(0.5)
    return ok(resp, status)


def client_for(system: System, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=system.gateway, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def log_in(gateway: str, username: str, password: str = PASSWORD) -> dict[str, str]:
    resp = httpx.post(
        f"{gateway}/api/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
    )
    body: dict[str, str] = ok(resp, 200)
    return body


def new_user(database: Database, role: Role) -> str:
    name = f"owasp-{role.value}-{uuid.uuid4().hex[:6]}"
    user = UserCreate(username=name, display_name=name, password=PASSWORD, roles=[role])
    asyncio.run(create_user(database.urls["gateway"], database.data_dir, user))
    return name


@dataclass
class Person:
    id: str
    username: str
    http: httpx.Client


def person(system: System, database: Database, role: Role) -> Person:
    name = new_user(database, role)
    http = client_for(system, log_in(system.gateway, name)["access_token"])
    return Person(str(ok(http.get("/api/v1/auth/me"), 200)["id"]), name, http)


def join(office: httpx.Client, group_id: str, user_id: str, role: str) -> None:
    """Puts a user in an inspection group (rounds service), as `role`."""
    someone = post(
        office,
        "/api/v1/people",
        {"name": f"{role}{user_id[:6]}", "unit": "市委巡察办", "user_id": user_id},
    )
    post(office, f"/api/v1/groups/{group_id}/members", {"person_id": someone["id"], "role": role})


def a_finding(office: httpx.Client, placed: Placed, title: str = "村干部虚报冒领扶贫资金") -> Any:
    return post(
        office,
        "/api/v1/findings",
        {
            "assignment_id": placed.assignment_id,
            "category_id": placed.category_id,
            "title": title,
            "facts": "虚报冒领产业扶贫资金。",
            "money_involved": "32000.00",
            "source": "letters",
            "discovered_on": date.today().isoformat(),
            "persons": [{"name": "张某", "position": "村支书", "id_number": ID_NUMBER}],
        },
    )


def a_lead(office: httpx.Client, placed: Placed, *, transfer: bool = True) -> Any:
    """A lead with two named subjects from a confirmed finding, transferred to the discipline
    commission (or left a draft)."""
    finding = a_finding(office, placed)
    post(office, f"/api/v1/findings/{finding['id']}/transitions", {"to": "confirmed"}, 200)
    lead = post(
        office,
        "/api/v1/leads",
        {
            "title": "村支书虚报冒领扶贫资金问题线索",
            "summary": "涉嫌套取产业扶贫资金 3.2 万元。",
            "finding_ids": [finding["id"]],
            "recipient": "discipline_commission",
            "subjects": [
                {
                    "name": SUBJECTS[0],
                    "position": "村党支部书记",
                    "rank": "village",
                    "party_member": True,
                },
                {"name": SUBJECTS[1], "position": "村会计", "rank": "none", "party_member": False},
            ],
        },
    )
    if transfer:
        steps = f"/api/v1/leads/{lead['id']}/transitions"
        post(office, steps, {"to": "approved"})
        letter = f"赤巡移〔2024〕{uuid.uuid4().hex[:6]}号"
        post(office, steps, {"to": "transferred", "transfer_letter_no": letter})
    return ok(office.get(f"/api/v1/leads/{lead['id']}"), 200)


@dataclass
class World:
    """Two inspection groups' findings, a transferred lead from group A's, and people."""

    office: httpx.Client
    a: Placed
    b: Placed
    finding_a: dict[str, Any]
    finding_b: dict[str, Any]
    lead: dict[str, Any]
    member: Person  # of group A
    leader: Person  # of group A
    receiver: Person  # of the stationed discipline group, not the lead's body
    expert: Person
    superior: Person


@pytest.fixture(scope="module")
def world(system: System, database: Database) -> World:
    office = httpx.Client(base_url=system.gateway, headers=system.auth, timeout=30)
    tag = uuid.uuid4().hex[:6]
    a = place_a_finding(office, f"官塘驿镇第{tag}村")
    b = place_a_finding(office, f"柳山湖镇第{tag}村")
    member, leader = (
        person(system, database, Role.group_member),
        person(system, database, Role.group_leader),
    )
    join(office, a.group_id, member.id, "member")
    join(office, a.group_id, leader.id, "leader")
    receiver = person(system, database, Role.receiver)
    office.put(
        f"/api/v1/leads/receivers/{receiver.id}",
        json={"recipient": "stationed_discipline_group", "name": "市纪委监委派驻第二纪检组"},
    ).raise_for_status()
    return World(
        office=office,
        a=a,
        b=b,
        finding_a=a_finding(office, a),
        finding_b=a_finding(office, b),
        lead=a_lead(office, a),
        member=member,
        leader=leader,
        receiver=receiver,
        expert=person(system, database, Role.expert),
        superior=person(system, database, Role.superior),
    )


# ---- a gateway in-process, with the production defaults ------------------------------------


@dataclass
class Edge:
    """A gateway as production configures it by default (private webhook URLs refused, logins
    throttled per address) but for a small per-address limit; its services' ports are closed."""

    app: ASGIApp
    office: str  # an office user's access token, issued by this gateway
    login_limit: int

    def client(self, address: str = "203.0.113.5", token: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app, client=(address, 40000)),
            base_url="http://testserver",
            headers=headers,
        )


@pytest.fixture(scope="module")
async def edge(database: Database, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Edge]:
    closed = {
        name: f"http://127.0.0.1:{free_port()}" for name in ("rounds", "findings", "referrals")
    }
    settings = GatewaySettings(
        database_url=database.urls["gateway"],
        signing_key_file=Path(tmp_path_factory.mktemp("edge")) / "gateway-signing.pem",
        rounds_url=closed["rounds"],
        findings_url=closed["findings"],
        referrals_url=closed["referrals"],
        hub_dispatch=False,
        login_failures_per_address=5,
    )
    name = f"owasp-edge-office-{uuid.uuid4().hex[:6]}"
    await create_user(
        database.urls["gateway"],
        database.data_dir,
        UserCreate(username=name, display_name=name, password=PASSWORD, roles=[Role.office]),
    )
    app = create_gateway(settings)
    async with lifespan(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("192.0.2.1", 40000)),
            base_url="http://testserver",
        ) as anonymous:
            token = await anonymous.post(
                "/api/v1/auth/token",
                data={"grant_type": "password", "username": name, "password": PASSWORD},
            )
        assert token.status_code == 200, token.text
        yield Edge(app, token.json()["access_token"], settings.login_failures_per_address)


# ---- API1: broken object level authorization ------------------------------------------------


def test_API1_broken_object_level_authorization(system: System, world: World) -> None:
    """Findings, leads and rectification items are addressed by id in the path. An id known
    or guessed gives nothing: each service puts the caller's scope (their groups from the
    rounds service, their recipient body) into the query itself, and a record out of scope is
    answered 404 exactly like one that does not exist, for reads and writes alike: no oracle
    telling that a lead about someone exists."""
    member, receiver, leader = world.member.http, world.receiver.http, world.leader.http
    own, other = world.finding_a["id"], world.finding_b["id"]

    # a group member reads their group's finding, not another group's
    assert ok(member.get(f"/api/v1/findings/{own}"), 200)["id"] == own
    absent = problem(member.get(f"/api/v1/findings/{uuid.uuid4()}"), 404, "finding-not-found")
    foreign = problem(member.get(f"/api/v1/findings/{other}"), 404, "finding-not-found")
    assert foreign.keys() == absent.keys()
    assert foreign["title"] == absent["title"]
    # nor changes or deletes it, nor finds it in a list, nor reaches it under another resource
    edit = member.patch(
        f"/api/v1/findings/{other}", json={"title": "改"}, headers={"If-Match": '"v1"'}
    )
    problem(edit, 404, "finding-not-found")
    problem(member.delete(f"/api/v1/findings/{other}", headers={"If-Match": '"v1"'}), 404)
    problem(member.get(f"/api/v1/findings/{other}/evidence"), 404)
    problem(member.get(f"/api/v1/findings/{other}/transitions"), 404)
    listed = {
        f["id"] for f in ok(member.get("/api/v1/findings", params={"limit": 200}), 200)["items"]
    }
    assert own in listed
    assert other not in listed
    problem(leader.get(f"/api/v1/findings/{other}"), 404)  # leading group A is not leading B
    assert ok(world.office.get(f"/api/v1/findings/{other}"), 200)["id"] == other  # it exists

    # a receiver of one body cannot read a lead transferred to another
    lead = world.lead["id"]
    assert world.lead["recipient"] == "discipline_commission"
    problem(receiver.get(f"/api/v1/leads/{lead}"), 404, "lead-not-found")
    problem(receiver.get(f"/api/v1/leads/{lead}/transitions"), 404, "lead-not-found")
    step = receiver.post(f"/api/v1/leads/{lead}/transitions", json={"to": "received"})
    problem(step, 404, "lead-not-found")
    leads = ok(receiver.get("/api/v1/leads", params={"limit": 200}), 200)["items"]
    assert lead not in {item["id"] for item in leads}
    # and a group member reads no lead at all, not even one made from their group's finding
    # (their role has no right to leads: refused as a function, or as a record, never shown)
    for path in (f"/api/v1/leads/{lead}", f"/api/v1/leads/{lead}/transitions"):
        refused = member.get(path)
        assert refused.status_code in (403, 404), refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert not any(name in refused.text for name in SUBJECTS)
    assert ok(world.office.get(f"/api/v1/leads/{lead}"), 200)["status"] == "transferred"


# ---- API2: broken authentication -----------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs256(claims: dict[str, Any], secret: bytes, kid: str) -> str:
    """HS256 signed by hand: PyJWT itself refuses a PEM public key as an HMAC secret, an
    attacker's tool does not."""
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    body = _b64(json.dumps(claims).encode())
    signature = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(signature)}"


def _eddsa(claims: dict[str, Any], key: Ed25519PrivateKey, header: dict[str, Any]) -> str:
    """Signed by hand, with a header PyJWT would not write."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{_b64(key.sign(signing_input.encode()))}"


def _claims(audience: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": str(uuid.uuid4()),
        "name": "intruder",
        "roles": ["office"],
        "groups": [],
        "rid": uuid.uuid4().hex,
        "iss": ISSUER,
        "aud": audience,
        "iat": now,
        "exp": now + 300,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def forgeries(real: Signer, audience: str) -> dict[str, str]:
    """Tokens that must be refused by whoever expects `audience`, each named by its flaw."""
    key, kid = real.key, real.kid
    good = _claims(audience)

    def signed(claims: dict[str, Any], signing_key: Any = key, **headers: Any) -> str:
        return jwt.encode(claims, signing_key, algorithm="EdDSA", headers={"kid": kid, **headers})

    public = real.key.public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    head, _, sig = signed(good).split(".")
    promoted = _b64(json.dumps({**good, "roles": ["admin", "office"]}).encode())
    intruder = Ed25519PrivateKey.generate()
    intruder_jwk = public_jwk(intruder.public_key())
    other_audience = "rounds" if audience != "rounds" else "findings"
    return {
        "alg none": jwt.encode(good, None, algorithm="none", headers={"kid": kid}),
        "HS256 keyed with the public key (PEM)": _hs256(good, pem, kid),
        "HS256 keyed with the public key (raw)": _hs256(good, raw, kid),
        "HS256 keyed with the public JWK's x": _hs256(good, real.jwk["x"].encode(), kid),
        "wrong audience": signed(_claims(other_audience)),
        "an access token where an internal one is due, or the reverse": signed(
            _claims("gateway" if audience != "gateway" else "rounds")
        ),
        "wrong issuer": signed(_claims(audience, iss="https://evil.example")),
        "expired": signed(
            _claims(audience, iat=int(time.time()) - 1200, exp=int(time.time()) - 600)
        ),
        "not yet valid": signed(_claims(audience, nbf=int(time.time()) + 600)),
        "no expiry": signed(_claims(audience, exp=None)),
        "tampered payload (roles raised)": f"{head}.{promoted}.{sig}",
        "signature stripped": f"{head}.{promoted}.",
        "unknown kid": jwt.encode(good, key, algorithm="EdDSA", headers={"kid": "nobody's"}),
        "kid not a string": _eddsa(good, key, {"alg": "EdDSA", "typ": "JWT", "kid": [kid]}),
        "no kid": jwt.encode(good, key, algorithm="EdDSA"),
        "the real kid, another key": signed(good, intruder),
        "its own key embedded (jwk header)": jwt.encode(
            good,
            intruder,
            algorithm="EdDSA",
            headers={"kid": intruder_jwk["kid"], "jwk": intruder_jwk},
        ),
        "its own key set (jku header)": jwt.encode(
            good,
            intruder,
            algorithm="EdDSA",
            headers={"kid": intruder_jwk["kid"], "jku": "https://evil.example/jwks.json"},
        ),
        "garbage": "not.a.token",
    }


def test_API2_broken_authentication(system: System, database: Database) -> None:
    """Two kinds of bearer token exist: the gateway's access tokens (audience `gateway`, 15
    minutes) and the internal tokens it mints per forwarded request (audience = one service,
    60 s). Both are EdDSA JWTs verified against the gateway's keys by key id, with the
    algorithm pinned (never read from the token), issuer, audience and expiry required. Every
    classic forgery is 401 at the gateway (its own routes and the proxied ones) and at a
    service port called directly, while the genuine token passes (so the test can fail)."""
    real = Signer(
        load_or_create(database.data_dir / "keys" / "gateway-signing.pem", create=False),
        [],
        issuer=ISSUER,
    )
    service = f"{system.url('rounds')}/api/v1/targets"
    places = {
        "gateway, proxied": (f"{system.gateway}/api/v1/targets", "gateway"),
        "gateway, its own route": (f"{system.gateway}/api/v1/hub/status", "gateway"),
        "rounds service, directly": (service, "rounds"),
    }

    def call(url: str, token: str) -> httpx.Response:
        return httpx.get(url, headers={"Authorization": f"Bearer {token}"})

    for place, (url, audience) in places.items():
        genuine = real.sign(_claims(audience), audience=audience, ttl=60)
        assert call(url, genuine).status_code == 200, place
        for flaw, token in forgeries(real, audience).items():
            refused = call(url, token)
            assert refused.status_code == 401, (place, flaw, refused.text)
            assert refused.headers["content-type"] == "application/problem+json", (place, flaw)
        for header in (
            {},
            {"Authorization": ""},
            {"Authorization": "Bearer"},
            {"Authorization": "Bearer null"},
            {"Authorization": f"Basic {_b64(b'office1:' + PASSWORD.encode())}"},
        ):
            assert httpx.get(url, headers=header).status_code == 401, (place, header)
    # a real user's access token is no internal token, even for a service it could reach
    assert call(service, system.token).status_code == 401


# ---- API3: broken object property level authorization ---------------------------------------


def test_API3_broken_object_property_level_authorization(system: System, world: World) -> None:
    """Mass assignment: every request body is a schema that forbids unknown members, so fields
    the server owns (status, created_by, version, id, the group a finding belongs to, a lead's
    money recovered) are refused with 422 naming them, and nothing changes; a status moves only
    through its transitions. There is no self-service profile update (roles are the operator's:
    `python -m ops set-roles`), and extra form fields on the token endpoint are ignored.
    Excessive data exposure: a group member sees persons' resident ID numbers masked (only the
    office and the group's leaders see them whole), a group leader follows a lead without its
    title, summary or subjects' names, and nobody's profile carries its password hash."""
    office, member, leader = world.office, world.member.http, world.leader.http
    draft = a_finding(office, world.a, "村务公开流于形式")
    url = f"/api/v1/findings/{draft['id']}"
    before = ok(office.get(url), 200)
    etag = office.get(url).headers["etag"]
    protected = {
        "status": "confirmed",
        "created_by": world.member.id,
        "version": 99,
        "id": str(uuid.uuid4()),
        "group_id": world.b.group_id,
        "round_id": world.b.round_id,
        "created_at": "2020-01-01T00:00:00Z",
    }
    for field, value in protected.items():
        for client in (office, member):
            refused = client.patch(
                url, json={"title": "改", field: value}, headers={"If-Match": etag}
            )
            body = problem(refused, 422, "validation-failed")
            assert [e["field"] for e in body["errors"]] == [field], body
    create = {
        k: v
        for k, v in draft.items()
        if k in ("assignment_id", "category_id", "title", "facts", "source", "discovered_on")
    }
    sneaky = office.post("/api/v1/findings", json={**create, "status": "handed_over"})
    assert "status" in [e["field"] for e in problem(sneaky, 422)["errors"]]
    assert ok(office.get(url), 200) == before

    lead_url = f"/api/v1/leads/{world.lead['id']}"
    lead_etag = office.get(lead_url).headers["etag"]
    for field, value in {
        "status": "concluded",
        "money_recovered": "0.00",
        "created_by": world.member.id,
    }.items():
        refused = office.patch(lead_url, json={field: value}, headers={"If-Match": lead_etag})
        assert [e["field"] for e in problem(refused, 422)["errors"]] == [field]
    assert ok(office.get(lead_url), 200)["status"] == "transferred"

    # roles: no route lets a user change their own account, and the token endpoint takes none
    me = "/api/v1/auth/me"
    for method in ("PATCH", "PUT", "POST"):
        problem(member.request(method, me, json={"roles": ["admin"]}), 405)
    stuffed = httpx.post(
        f"{system.gateway}/api/v1/auth/token",
        data={
            "grant_type": "password",
            "username": world.member.username,
            "password": PASSWORD,
            "roles": "admin",
            "scope": "admin office",
        },
    )
    escalated = client_for(system, ok(stuffed, 200)["access_token"])
    assert ok(escalated.get(me), 200)["roles"] == ["group_member"]
    problem(escalated.get("/api/v1/audit/entries"), 403)
    profile = ok(member.get(me), 200)
    assert set(profile) == {"id", "username", "display_name", "roles"}

    # excessive data exposure: ID numbers, lead subjects
    masked = ok(member.get(f"/api/v1/findings/{world.finding_a['id']}"), 200)["persons"][0]
    assert masked["id_number"] != ID_NUMBER
    assert masked["id_number"].startswith("1101")
    assert masked["id_number"].endswith("002X")
    listed = ok(member.get("/api/v1/findings", params={"limit": 200}), 200)
    assert ID_NUMBER not in json.dumps(listed)
    whole = ok(leader.get(f"/api/v1/findings/{world.finding_a['id']}"), 200)["persons"][0]
    assert whole["id_number"] == ID_NUMBER
    followed = ok(leader.get(lead_url), 200)
    assert followed["subject_names_hidden"] is True
    assert followed["subjects"] is None
    assert followed["title"] is None
    assert followed["summary"] is None
    leads_seen = leader.get("/api/v1/leads", params={"limit": 200})
    history = leader.get(f"{lead_url}/transitions")
    for seen in (followed, ok(leads_seen, 200), ok(history, 200)):
        text = json.dumps(seen, ensure_ascii=False)
        assert not any(name in text for name in SUBJECTS), text
        assert "村支书虚报冒领扶贫资金问题线索" not in text
    named = ok(office.get(lead_url), 200)
    assert [s["name"] for s in named["subjects"]] == list(SUBJECTS)  # the office sees them


# ---- API4: unrestricted resource consumption ------------------------------------------------


def raw_head(system: System, method: str, path: str, headers: dict[str, str]) -> bytes:
    """Sends only a request's head (announcing a body it never sends) and reads the answer:
    a limit is applied to the declared length before any of the body is read."""
    url = urlsplit(system.gateway)
    lines = [f"{method} {path} HTTP/1.1", f"Host: {url.netloc}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
            if b"\r\n\r\n" in reply and b'"status"' in reply:
                break
    return reply


def test_API4_unrestricted_resource_consumption(
    system: System, database: Database, world: World
) -> None:
    """A client must not make the system read, hold, compute or return without bound: JSON
    bodies are limited (1 MiB) and file uploads too (the gateway's limit, then the service's
    exact one), both judged on the declared length before the body is read; every list is
    paged with at most 200 items; a batch takes at most MAX_BATCH findings; field lengths are
    bounded; and password guessing is throttled (five failures lock the account for 15
    minutes, and every password check is an argon2 hash, so guessing is slow as well)."""
    auth = {"Authorization": system.auth["Authorization"]}
    json_head = raw_head(
        system,
        "POST",
        "/api/v1/targets",
        {**auth, "Content-Type": "application/json", "Content-Length": str(1024 * 1024 + 1)},
    )
    assert json_head.startswith(b"HTTP/1.1 413"), json_head[:300]
    assert b"application/problem+json" in json_head
    upload = f"/api/v1/findings/{world.finding_a['id']}/evidence"
    upload_head = raw_head(
        system,
        "POST",
        upload,
        {
            **auth,
            "Content-Type": "multipart/form-data; boundary=x",
            "Content-Length": str(GATEWAY_MAX_UPLOAD_BYTES + 1),
        },
    )
    assert upload_head.startswith(b"HTTP/1.1 413"), upload_head[:300]

    office = world.office
    for path in (
        "/api/v1/findings",
        "/api/v1/leads",
        "/api/v1/targets",
        "/api/v1/rounds",
        "/api/v1/audit/entries",
        "/api/v1/hub/subscriptions",
    ):
        too_many = problem(office.get(path, params={"limit": 201}), 422, "validation-failed")
        assert [e["field"] for e in too_many["errors"]] == ["query.limit"], path
        assert office.get(path, params={"limit": 200}).status_code == 200, path
    item = {
        "assignment_id": world.a.assignment_id,
        "category_id": world.a.category_id,
        "title": "x",
        "facts": "x",
        "source": "letters",
        "discovered_on": date.today().isoformat(),
    }
    batch = [{**item, "idempotency_key": f"k{n}"} for n in range(MAX_BATCH + 1)]
    too_big = office.post("/api/v1/findings/batch", json={"items": batch})
    assert [e["field"] for e in problem(too_big, 422)["errors"]] == ["items"]
    long_title = office.post("/api/v1/findings", json={**item, "title": "长" * 301})
    assert [e["field"] for e in problem(long_title, 422)["errors"]] == ["title"]

    name = new_user(database, Role.group_member)
    guesses = [
        httpx.post(
            f"{system.gateway}/api/v1/auth/token",
            data={"grant_type": "password", "username": name, "password": f"guess{n}"},
        )
        for n in range(5)
    ]
    assert [g.status_code for g in guesses] == [400] * 5
    locked = httpx.post(
        f"{system.gateway}/api/v1/auth/token",
        data={"grant_type": "password", "username": name, "password": PASSWORD},
    )
    problem(locked, 429, "account-locked")
    assert 0 < int(locked.headers["retry-after"]) <= 15 * 60


# ---- API5: broken function level authorization ----------------------------------------------


def test_API5_broken_function_level_authorization(system: System, world: World) -> None:
    """Functions are the office's (planning rounds and groups, the target registry, naming
    who receives leads, statistics and export packages, the audit trail, the event hub), the
    administrator's (clearing a webhook subscriber for lead subjects' names) or a group's. A
    user of another role calling one gets 403 and nothing is done; the office's control calls
    succeed, so the 403s are about the role."""
    tag = uuid.uuid4().hex[:6]
    term = {
        "name": f"第九届{tag}",
        "starts_on": "2021-10-01",
        "ends_on": "2026-09-30",
        "coverage_kinds": ["village"],
        "jurisdiction": f"赤壁市{tag}",
    }
    hook = {
        "name": f"hook-{tag}",
        "url": "https://93.184.216.34/in",
        "event_types": ["round.published"],
    }
    office_only: list[tuple[str, str, dict[str, Any] | None]] = [
        ("POST", "/api/v1/terms", term),
        (
            "POST",
            "/api/v1/rounds",
            {"term_id": str(uuid.uuid4()), "number": 1, "name": "x", "kind": "regular"},
        ),
        (
            "POST",
            "/api/v1/groups",
            {
                "round_id": world.a.round_id,
                "kind": "municipal",
                "name": f"第九组{tag}",
                "owning_organisation": "中共赤壁市委",
            },
        ),
        ("POST", "/api/v1/targets", {"name": f"村{tag}", "kind": "village", "jurisdiction": "x"}),
        ("GET", "/api/v1/leads/receivers", None),
        (
            "PUT",
            f"/api/v1/leads/receivers/{world.member.id}",
            {"recipient": "discipline_commission", "name": "冒充的承办部门"},
        ),
        ("GET", "/api/v1/dashboard", None),
        ("POST", "/api/v1/exports", {"round_id": world.a.round_id}),
        ("GET", "/api/v1/audit/entries", None),
        ("GET", "/api/v1/audit/verify", None),
        ("GET", "/api/v1/hub/status", None),
        ("POST", "/api/v1/hub/subscriptions", hook),
        ("POST", "/api/v1/notices/escalations", {}),
    ]
    for who in (world.member, world.leader, world.receiver, world.expert):
        for method, path, body in office_only:
            refused = who.http.request(method, path, json=body)
            assert refused.status_code == 403, (who.username, method, path, refused.text)
            assert refused.headers["content-type"] == "application/problem+json"
    # nothing was done by the refused calls
    terms = ok(world.office.get("/api/v1/terms", params={"limit": 200}), 200)["items"]
    assert term["name"] not in {t["name"] for t in terms}
    receivers = ok(world.office.get("/api/v1/leads/receivers"), 200)
    assert world.member.id not in json.dumps(receivers)
    subscriptions = ok(world.office.get("/api/v1/hub/subscriptions", params={"limit": 200}), 200)
    assert hook["name"] not in json.dumps(subscriptions)
    # the administrator's own decision: the office may not clear a subscriber for names
    cleared = world.office.post("/api/v1/hub/subscriptions", json={**hook, "confidential": True})
    problem(cleared, 403)
    # controls: the office may
    assert world.office.get("/api/v1/audit/entries", params={"limit": 1}).status_code == 200
    assert world.office.get("/api/v1/leads/receivers").status_code == 200
    assert world.office.get("/api/v1/hub/status").status_code == 200


# ---- API6: unrestricted access to sensitive business flows ---------------------------------


async def test_API6_unrestricted_access_to_sensitive_business_flows(
    edge: Edge, database: Database
) -> None:
    """The flows whose abuse harms most: handing a lead over (approval and transfer are the
    office's alone; only the receiving body takes the next steps), the bulk export of every
    register (the office's and the higher-level office's, and the latter never with names),
    and logging in, where credential stuffing tries many accounts a few times each: after
    `login_failures_per_address` failures from one address (IPv6: one /64) every login from
    it waits, whatever account and even with a right password, while other addresses are not
    affected; unknown users and wrong passwords answer alike. The stack the other tests share
    does not throttle per address (every test logs in from 127.0.0.1), so this part runs on a
    gateway built with the production setting."""
    names = [f"owasp-stuffed-{n}-{uuid.uuid4().hex[:6]}" for n in range(2)]
    for name in names:
        await create_user(
            database.urls["gateway"],
            database.data_dir,
            UserCreate(username=name, display_name=name, password=PASSWORD, roles=[Role.expert]),
        )

    def form(username: str, password: str) -> dict[str, str]:
        return {"grant_type": "password", "username": username, "password": password}

    async with edge.client("203.0.113.77") as attacker, edge.client("2001:db8:7:7::1") as ipv6:
        # one try per account (no account reaches its own lockout), half of them unknown
        tried = [f"nobody-{n}" if n % 2 else names[0] for n in range(edge.login_limit)]
        answers = [
            await attacker.post("/api/v1/auth/token", data=form(u, "Summer2024!")) for u in tried
        ]
        assert {a.status_code for a in answers} == {400}
        assert len({a.json()["detail"] for a in answers}) == 1  # no user enumeration
        throttled = await attacker.post("/api/v1/auth/token", data=form(names[1], PASSWORD))
        body = problem(throttled, 429, "too-many-login-failures")
        assert 0 < int(throttled.headers["retry-after"]) <= 600
        assert "access_token" not in body
        creds = {"grant_type": "client_credentials", "client_id": "rounds", "client_secret": "x"}
        problem(await attacker.post("/api/v1/auth/token", data=creds), 429)
        # IPv6: the attacker's neighbours in the /64 are the attacker
        for n in range(edge.login_limit):
            await ipv6.post("/api/v1/auth/token", data=form(f"nobody-{n}", "x"))
    async with edge.client("2001:db8:7:7:ffff::2") as same_prefix:
        problem(await same_prefix.post("/api/v1/auth/token", data=form(names[1], PASSWORD)), 429)
    async with edge.client("198.51.100.20") as colleague:  # another address logs in
        assert (
            await colleague.post("/api/v1/auth/token", data=form(names[1], PASSWORD))
        ).status_code == 200


def test_API6_lead_hand_over_and_bulk_export_are_reserved(system: System, world: World) -> None:
    """(API6, continued on the shared stack) Moving a lead is not for those who merely see
    it; bulk export packages are for the office, and the higher-level office's come without
    names."""
    draft = a_lead(world.office, world.a, transfer=False)
    steps = f"/api/v1/leads/{draft['id']}/transitions"
    assert ok(world.leader.http.get(f"/api/v1/leads/{draft['id']}"), 200)["status"] == "draft"
    for to in (
        {"to": "approved"},
        {"to": "transferred", "transfer_letter_no": "赤巡移〔2024〕0号"},
    ):
        problem(world.leader.http.post(steps, json=to), 403)
    problem(world.receiver.http.post(steps, json={"to": "approved"}), 404)
    transferred = f"/api/v1/leads/{world.lead['id']}/transitions"
    problem(world.leader.http.post(transferred, json={"to": "received"}), 403)
    assert ok(world.office.get(f"/api/v1/leads/{draft['id']}"), 200)["status"] == "draft"
    assert ok(world.office.get(f"/api/v1/leads/{world.lead['id']}"), 200)["status"] == "transferred"

    export = {"round_id": world.a.round_id}
    for who in (world.member, world.leader, world.receiver):
        problem(who.http.post("/api/v1/exports", json=export), 403)
    named = world.superior.http.post("/api/v1/exports", json={**export, "recipient": "office"})
    problem(named, 403, "recipient-not-allowed")


# ---- API7: server side request forgery ------------------------------------------------------


class Redirecting:
    """A webhook endpoint answering every delivery with a redirect to `to`."""

    def __init__(self, to: str) -> None:
        self.hits: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                owner.hits.append(self.path)
                self.send_response(307)
                self.send_header("location", to)
                self.send_header("content-length", "0")
                self.end_headers()

            do_GET = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def test_API7_server_side_request_forgery(edge: Edge, database: Database) -> None:
    """The one place the system fetches a URL a user gives is webhook delivery (the office
    registers subscribers' URLs). A URL whose host is, or resolves to, anything but a public
    unicast address (loopback, private networks, link-local as the cloud metadata service,
    carrier-grade NAT, IPv4 written as IPv6 or as one number) is refused at registration and
    again at each delivery. The test stack allows private addresses for its own receivers, so
    the guard is tested here on a gateway with the production default (it is the default)."""
    assert GatewaySettings(database_url=database.urls["gateway"]).webhooks_allow_private is False
    body = {"name": f"ssrf-{uuid.uuid4().hex[:6]}", "event_types": ["round.published"]}
    refused = [
        "http://127.0.0.1:8000/hook",
        "http://127.1/hook",
        "http://2130706433/hook",  # 127.0.0.1 as one number
        "http://localhost:8000/hook",  # a name that resolves to loopback
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://100.100.100.200/latest/meta-data/",  # Alibaba Cloud metadata (CGNAT range)
        "http://10.1.2.3/hook",
        "http://172.16.5.4/hook",
        "http://192.168.1.1/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",  # IPv4-mapped IPv6
        "http://[::ffff:a9fe:a9fe]/latest/meta-data/",  # 169.254.169.254, mapped, in hex
        "http://[fd00::1]/hook",
        "http://0.0.0.0/hook",
        "file:///etc/passwd",
        "gopher://93.184.216.34:70/_x",
        "http://user:secret@93.184.216.34/hook",
    ]
    async with edge.client(token=edge.office) as office:
        for url in refused:
            resp = await office.post("/api/v1/hub/subscriptions", json={**body, "url": url})
            assert resp.status_code == 422, (url, resp.text)
            assert [e["field"] for e in resp.json()["errors"]] == ["url"], url
        made = await office.post(
            "/api/v1/hub/subscriptions", json={**body, "url": "https://93.184.216.34/hook"}
        )
        assert made.status_code == 201, made.text  # a public address is fine
        sub = made.json()["id"]
        try:
            moved = await office.patch(
                f"/api/v1/hub/subscriptions/{sub}", json={"url": "http://[::ffff:10.0.0.1]/in"}
            )
            assert moved.status_code == 422, moved.text
        finally:
            assert (await office.delete(f"/api/v1/hub/subscriptions/{sub}")).status_code == 204


def test_API7_a_webhook_redirect_is_not_followed(system: System, world: World) -> None:
    """(API7, continued on the shared stack) A public endpoint that answers with a redirect
    must not lead the gateway to an address the guard would refuse: redirects are not
    followed, the redirect counts as a failed delivery."""
    inside = Redirecting("http://127.0.0.1:1/never")  # what the redirect points at
    outside = Redirecting(inside.url)
    office = world.office
    try:
        sub = post(
            office,
            "/api/v1/hub/subscriptions",
            {
                "name": f"redirect-{uuid.uuid4().hex[:6]}",
                "url": outside.url,
                "event_types": ["round.published"],
            },
        )
        try:
            tag = uuid.uuid4().hex[:6]
            term = post(
                office,
                "/api/v1/terms",
                {
                    "name": f"第十届{tag}",
                    "starts_on": "2021-10-01",
                    "ends_on": "2026-09-30",
                    "coverage_kinds": ["village"],
                    "jurisdiction": f"咸宁市{tag}",
                },
            )
            rnd = post(
                office,
                "/api/v1/rounds",
                {"term_id": term["id"], "number": 1, "name": "常规巡察", "kind": "regular"},
            )
            post(office, f"/api/v1/rounds/{rnd['id']}/transitions", {"to": "mobilisation"})

            def delivered_once() -> list[dict[str, Any]]:
                assert outside.hits, "no delivery yet"
                deliveries = ok(
                    office.get(f"/api/v1/hub/subscriptions/{sub['id']}/deliveries"), 200
                )["items"]
                assert deliveries, "no delivery recorded yet"
                assert all(d["attempts"] >= 1 for d in deliveries), deliveries
                return list(deliveries)

            deliveries = eventually(delivered_once, timeout=20)
            assert all(d["state"] != "delivered" for d in deliveries), deliveries
            time.sleep(1)  # a follower would have reached `inside` by now
            assert inside.hits == []
        finally:
            office.delete(f"/api/v1/hub/subscriptions/{sub['id']}").raise_for_status()
    finally:
        outside.close()
        inside.close()


# ---- API8: security misconfiguration -------------------------------------------------------

LEAKS = ("Traceback", 'File "', '.py"', "site-packages", "sqlalchemy", "asyncpg", "uvicorn")


def no_leak(resp: httpx.Response) -> None:
    for leak in LEAKS:
        assert leak not in resp.text, (leak, resp.text)


def test_API8_security_misconfiguration(system: System, database: Database, world: World) -> None:
    """The gateway is the one origin clients see. It sends security headers on every answer
    (its own and the services' passed through), names no server or version, answers no CORS
    request (no origin is allowed unless configured), refuses TRACE and methods it does not
    serve, ignores method-override headers, and its errors (422 for bad input, 5xx for a
    service it cannot reach) are problem documents without stack traces or internals. Out of
    development it generates no signing key and serves no API explorer (API9)."""
    office = world.office
    answers = {
        "own route": office.get("/api/v1/auth/me"),
        "proxied route": office.get("/api/v1/targets", params={"limit": 1}),
        "401": httpx.get(f"{system.gateway}/api/v1/targets"),
        "404 of a service": office.get(f"/api/v1/findings/{uuid.uuid4()}"),
        "422 of a service": office.get("/api/v1/findings", params={"limit": "many"}),
        "422 of the gateway": httpx.post(f"{system.gateway}/api/v1/auth/token", data={}),
    }
    for what, resp in answers.items():
        headers = resp.headers
        assert headers["x-content-type-options"] == "nosniff", what
        assert headers["x-frame-options"] == "DENY", what
        assert headers["referrer-policy"] == "no-referrer", what
        assert headers["cache-control"] == "no-store", what
        assert "default-src 'none'" in headers["content-security-policy"], what
        assert "server" not in headers, (what, headers.get("server"))
        assert "x-powered-by" not in headers, what
        no_leak(resp)
    for what in ("422 of a service", "422 of the gateway"):
        assert answers[what].headers["content-type"] == "application/problem+json", what
        assert answers[what].json()["errors"], what
    assert "x-content-type-options" in httpx.get(f"{system.gateway}/healthz").headers

    # CORS is closed: no origin is told it may read, not even after a preflight
    evil = {"Origin": "https://evil.example"}
    for resp in (
        office.get("/api/v1/targets", headers=evil),
        office.get("/api/v1/auth/me", headers=evil),
        httpx.options(
            f"{system.gateway}/api/v1/targets",
            headers={
                **evil,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
        ),
    ):
        assert not any(h.startswith("access-control-") for h in resp.headers), resp.headers

    # TRACE echoes nothing, unknown methods are not served, method overrides are ignored
    for path in ("/api/v1/auth/me", "/api/v1/targets", "/healthz"):
        traced = office.request("TRACE", path)
        problem(traced, 405)
        assert system.token not in traced.text
    assert raw_head(system, "FOO", "/api/v1/targets", {}).startswith(b"HTTP/1.1 400")
    target = post(
        office,
        "/api/v1/targets",
        {"name": f"车埠镇{uuid.uuid4().hex[:6]}村", "kind": "village", "jurisdiction": "赤壁市"},
    )
    overridden = office.get(
        f"/api/v1/targets/{target['id']}",
        headers={"X-HTTP-Method-Override": "DELETE", "X-Method-Override": "DELETE"},
    )
    assert ok(overridden, 200)["id"] == target["id"]
    assert office.get(f"/api/v1/targets/{target['id']}").status_code == 200

    # production refuses to make up a signing key
    with pytest.raises(FileNotFoundError):
        create_gateway(
            GatewaySettings(
                database_url=database.urls["gateway"],
                environment="production",
                signing_key_file=Path(f"/nonexistent/{uuid.uuid4().hex}/key.pem"),
            )
        )


async def test_API8_an_unreachable_service_is_a_problem_without_internals(edge: Edge) -> None:
    """(API8, continued) A 5xx is a problem document too: the gateway in-process, whose
    services' ports are closed, says the service is unreachable, without a trace, an exception
    from a library or the address it tried."""
    async with edge.client(token=edge.office) as client:
        down = await client.get("/api/v1/targets")
    assert down.status_code in (502, 503, 504), down.text
    assert down.headers["content-type"] == "application/problem+json"
    assert down.headers["x-content-type-options"] == "nosniff"
    assert "127.0.0.1" not in down.text
    for leak in LEAKS:
        assert leak not in down.text, leak


# ---- API9: improper inventory management ----------------------------------------------------


def served_routes(
    database: Database, tmp_path: Path, environment: str = "dev"
) -> dict[str, set[tuple[str, str]]]:
    """Every (method, path) under /api/ each app serves, from the apps' own routers."""
    key = tmp_path / "gateway-signing.pem"
    load_or_create(key, create=True)
    gateway = create_gateway(
        GatewaySettings(
            database_url=database.urls["gateway"], signing_key_file=key, environment=environment
        )
    )
    while not hasattr(gateway, "api"):  # the FastAPI app under the gateway's middleware
        gateway = gateway.app  # type: ignore[attr-defined]
    apps = {
        "gateway": gateway.api,  # type: ignore[attr-defined]
        "rounds": create_rounds(RoundsSettings(database_url=database.urls["rounds"])),
        "findings": create_findings(FindingsSettings(database_url=database.urls["findings"])),
        "referrals": create_referrals(ReferralsSettings(database_url=database.urls["referrals"])),
    }
    served: dict[str, set[tuple[str, str]]] = {}
    for name, app in apps.items():
        served[name] = {
            (method, route.path_format)
            for route in iter_route_contexts(app.routes)
            if route.path_format and route.path_format.startswith("/api/")
            for method in (route.methods or ())
            if method != "HEAD"
        }
    return served


def test_API9_improper_inventory_management(
    system: System, database: Database, tmp_path: Path
) -> None:
    """The inventory is the merged OpenAPI document at the gateway: every operation the
    gateway or a service serves under /api/ is in it, and everything in it is served, by the
    service the gateway's route table sends its resource to (nothing documented but
    unreachable, nothing reachable but undocumented). There is one version (/api/v1); other
    prefixes lead nowhere; a service's own port documents nothing to an unauthenticated
    caller; and a production gateway serves no API explorer."""
    served = served_routes(database, tmp_path)
    everything = set().union(*served.values())
    spec = ok(httpx.get(f"{system.gateway}/openapi.json"), 200)
    assert "x-unavailable-services" not in spec
    verbs = {"get", "put", "post", "delete", "patch", "options", "trace"}
    documented = {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in verbs
    }
    assert everything - documented == set(), "served but not in the OpenAPI"
    assert documented - everything == set(), "in the OpenAPI but served by nobody"
    for name in ("rounds", "findings", "referrals"):
        for method, path in served[name]:
            resource = path[len(PREFIX) :].split("/", 1)[0]
            assert ROUTES.get(resource) == name, f"{method} {path} is unreachable via the gateway"
    for _method, path in served["gateway"]:
        assert path[len(PREFIX) :].split("/", 1)[0] not in ROUTES, f"{path} shadowed by a service"

    for stale in ("/api/v0/targets", "/api/v2/findings", "/api/targets", "/v1/leads"):
        problem(httpx.get(f"{system.gateway}{stale}", headers=system.auth), 404)
    for app in ("rounds", "findings", "referrals"):
        assert httpx.get(f"{system.url(app)}/openapi.json").status_code == 401
        assert httpx.get(f"{system.url(app)}/docs").status_code in (401, 404)

    assert httpx.get(f"{system.gateway}/docs").status_code == 200  # the test stack is dev
    production = served_routes(database, tmp_path, environment="production")
    assert production == served  # the same API, only no explorer:
    key = tmp_path / "gateway-signing.pem"
    app = create_gateway(
        GatewaySettings(
            database_url=database.urls["gateway"], signing_key_file=key, environment="production"
        )
    )

    async def docs() -> int:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client:
            return (await client.get("/docs")).status_code

    assert asyncio.run(docs()) == 404


# ---- API10: unsafe consumption of APIs -----------------------------------------------------


def sign(
    body: bytes, msg_id: str, *, secret: str = PLATFORM_CALLBACK_SECRET, at: float | None = None
) -> dict[str, str]:
    when = datetime.fromtimestamp(time.time() if at is None else at, UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, when, body.decode()),
        "content-type": "application/json",
    }


class JwksServer:
    """Answers the JWKS URL with whatever the test sets, as a compromised or broken gateway
    (or something in between) might."""

    def __init__(self) -> None:
        self.body = b"{}"
        self.content_type = "application/json"
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("content-type", owner.content_type)
                self.send_header("content-length", str(len(owner.body)))
                self.end_headers()
                self.wfile.write(owner.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def test_API10_a_malformed_jwks_answer_makes_no_token_pass() -> None:
    """(API10) The services consume the gateway's JWKS to trust its tokens. Whatever that URL
    answers (not JSON, JSON of the wrong shape, a symmetric key, a key that does not parse, a
    key id that is not a string), no token passes that the genuine keys would not pass, and a
    malformed answer is a refused token (401), never an error of the service."""
    server = JwksServer()
    genuine = Signer(Ed25519PrivateKey.generate(), [], issuer=ISSUER)
    secret = b"attacker-chosen-hmac-secret-of-32-bytes!"
    symmetric = {"kty": "oct", "kid": "attacker", "alg": "HS256", "k": _b64(secret)}
    answers: list[tuple[str, Any]] = [
        ("not JSON", b"<html>gateway restarting</html>"),
        ("a JSON list", [genuine.jwk]),
        ("keys not a list", {"keys": "everything"}),
        ("entries not objects", {"keys": [1, "two", None]}),
        ("a symmetric key", {"keys": [symmetric]}),
        ("a key without x", {"keys": [{**genuine.jwk, "x": None}]}),
        ("a key that does not parse", {"keys": [{**genuine.jwk, "x": "!!not base64!!"}]}),
        ("a key id that is not a string", {"keys": [{**genuine.jwk, "kid": {"$ne": ""}}]}),
        ("nothing", {}),
    ]
    hs_token = _hs256(_claims("rounds"), secret, "attacker")
    eddsa_token = genuine.sign(_claims("rounds"), audience="rounds", ttl=60)
    intruder = Signer(Ed25519PrivateKey.generate(), [], issuer=ISSUER)
    intruder_token = intruder.sign(_claims("rounds"), audience="rounds", ttl=60)
    try:
        for _what, answer in answers:
            server.body = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
            verifier = TokenVerifier(
                KeySet(server.url, min_refresh_seconds=0), issuer=ISSUER, audience="rounds"
            )
            for token in (hs_token, eddsa_token, intruder_token):
                with pytest.raises(InvalidToken):  # refused, not an exception of another kind
                    await verifier.verify(token)

        # keys held are kept when the next answer is not a JWKS at all
        server.body = b"<html>gateway restarting</html>"
        keys = KeySet(server.url, min_refresh_seconds=0)
        keys.load(genuine.jwks)
        verifier = TokenVerifier(keys, issuer=ISSUER, audience="rounds")
        with pytest.raises(InvalidToken):
            await verifier.verify(intruder_token)  # unknown key id: the JWKS is fetched again
        assert (await verifier.verify(eddsa_token)).roles == ("office",)

        server.body = json.dumps(genuine.jwks).encode()  # control: the genuine answer works
        verifier = TokenVerifier(
            KeySet(server.url, min_refresh_seconds=0), issuer=ISSUER, audience="rounds"
        )
        assert (await verifier.verify(eddsa_token)).roles == ("office",)
        for token in (hs_token, intruder_token):
            with pytest.raises(InvalidToken):
                await verifier.verify(token)
    finally:
        server.close()


def test_API10_unsafe_consumption_of_apis(system: System, world: World) -> None:
    """The discipline inspection network platform calls back with how leads were handled:
    data from a third party, consumed only signed (Standard Webhooks: HMAC over id, time and
    body with the shared secret), fresh (five minutes), once (a webhook id seen is a replay),
    validated like any input (unknown fields refused) and only for the leads it handles. A
    callback failing any of these changes nothing."""
    lead = a_lead(world.office, world.a)
    base = f"{system.gateway}/api/v1/integrations/platform/leads/{lead['id']}"

    def state() -> tuple[Any, Any]:
        url = f"/api/v1/leads/{lead['id']}"
        return ok(world.office.get(url), 200), ok(world.office.get(f"{url}/transitions"), 200)

    before = state()
    body = json.dumps({"note": "已登记"}).encode()
    msg = f"msg_{uuid.uuid4().hex}"
    other_secret = "whsec_" + base64.b64encode(b"someone-elses-secret-32-bytes-long!").decode()
    refusals = [
        (sign(body, msg, secret=other_secret), body, 401),  # signed by someone else
        (sign(body, msg), json.dumps({"note": "已登记。"}).encode(), 401),  # body changed
        (sign(body, msg, at=time.time() - 400), body, 401),  # too old
        (sign(body, msg, at=time.time() + 400), body, 401),  # from the future
        ({"content-type": "application/json"}, body, 401),  # not signed at all
    ]
    for headers, content, status in refusals:
        problem(httpx.post(f"{base}/received", content=content, headers=headers), status)
    extra = json.dumps({"note": "已登记", "status": "concluded"}).encode()
    unknown_field = httpx.post(f"{base}/received", content=extra, headers=sign(extra, msg + "x"))
    problem(unknown_field, 422)
    assert state() == before

    assert httpx.post(f"{base}/received", content=body, headers=sign(body, msg)).status_code == 200
    after = state()
    assert after[0]["status"] == "received"
    replay = httpx.post(f"{base}/received", content=body, headers=sign(body, msg))
    problem(replay, 409, "callback-replayed")
    assert state() == after
