"""Webhooks out, between the real processes and a real HTTP receiver on loopback in this process.

The receiver checks every request's Standard Webhooks signature with each secret it was given
(`standardwebhooks.Webhook(secret).verify`), refuses one that no secret verifies with 401, and
otherwise answers what the test tells it (500 for the first tries, 410, 200...). The gateway
of the e2e stack retries on a schedule of fractions of a second (`GATEWAY_WEBHOOK_RETRY_SCHEDULE`
in conftest: 0.2, 0.2, 0.5), so four tries in all before a delivery is dead-lettered.

Events are made the way users make them: a round moved from preparation to mobilisation is
`round.published`; a lead transferred is `lead.transferred`, whose subjects' names only a
subscription cleared for confidential fields receives."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from gateway.identity.enums import Role
from gateway.identity.schemas import UserCreate
from ops.stack import Database
from ops.users import create_user
from tests.e2e.conftest import PASSWORD, System, eventually, place_a_finding

pytestmark = pytest.mark.e2e

TRIES = 4  # the first and one per entry of the e2e retry schedule
HUB = "/api/v1/hub"


def ok(resp: httpx.Response, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json() if resp.content else None


def fields_of(resp: httpx.Response) -> list[str]:
    assert resp.status_code == 422, resp.text
    return [e["field"] for e in resp.json()["errors"]]


# ---- the receiver ----


@dataclass
class Hit:
    """One request the receiver got."""

    event_id: str  # the webhook-id header
    body: bytes
    signatures: int  # `v1,` signatures in webhook-signature
    valid: list[bool]  # per secret the receiver knows: does one of the signatures verify
    status: int  # what it answered

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


Answer = Callable[[str, int], int]  # (event id, its try number) -> HTTP status


@dataclass
class Receiver:
    answer: Answer = field(default=lambda event_id, n: 200)
    secrets: list[str] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                status = receiver.take(dict(self.headers.items()), body)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def take(self, headers: dict[str, str], body: bytes) -> int:
        valid = []
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers)
                valid.append(True)
            except WebhookVerificationError:
                valid.append(False)
        lower = {k.lower(): v for k, v in headers.items()}
        event_id = lower.get("webhook-id", "")
        signatures = lower.get("webhook-signature", "").count("v1,")
        with self.lock:
            tries = 1 + sum(1 for h in self.hits if h.event_id == event_id)
            status = self.answer(event_id, tries) if any(valid) else 401
            self.hits.append(Hit(event_id, body, signatures, valid, status))
        return status

    def about(self, key: str, value: str) -> list[Hit]:
        """The requests whose event's payload has `key` = `value`, in order."""
        with self.lock:
            return [h for h in self.hits if h.event["payload"].get(key) == value]

    def one(self, key: str, value: str) -> Hit:
        """The one request about it (AssertionError, for `eventually`, until it came)."""
        hits = self.about(key, value)
        assert len(hits) == 1, hits
        return hits[0]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---- helpers ----


class Hub:
    """Registers subscriptions for a test and deletes them (and stops the receivers) after."""

    def __init__(self, office: httpx.Client) -> None:
        self.office = office
        self.made: list[str] = []
        self.receivers: list[Receiver] = []

    def register(self, receiver: Receiver, **body: Any) -> dict[str, Any]:
        self.receivers.append(receiver)
        sent = {"name": f"receiver-{uuid.uuid4().hex[:8]}", "url": receiver.url, **body}
        made: dict[str, Any] = ok(self.office.post(f"{HUB}/subscriptions", json=sent), 201)
        self.made.append(made["id"])
        receiver.secrets = [made["secret"]]
        return made

    def deliveries(self, sub: dict[str, Any], **params: str) -> list[dict[str, Any]]:
        page = ok(self.office.get(f"{HUB}/subscriptions/{sub['id']}/deliveries", params=params))
        items: list[dict[str, Any]] = page["items"]
        return items

    def delivery_of(self, sub: dict[str, Any], event_id: str) -> dict[str, Any]:
        found = [d for d in self.deliveries(sub) if d["event_id"] == event_id]
        assert len(found) == 1, found
        return found[0]

    def subscriber_status(self, sub: dict[str, Any]) -> dict[str, Any]:
        status = ok(self.office.get(f"{HUB}/status"))
        [mine] = [s for s in status["subscribers"] if s["id"] == sub["id"]]
        return mine  # type: ignore[no-any-return]

    def close(self) -> None:
        for sub_id in self.made:
            gone = self.office.delete(f"{HUB}/subscriptions/{sub_id}")
            assert gone.status_code in (204, 404), gone.text
        for receiver in self.receivers:
            receiver.close()


class Patient(httpx.HTTPTransport):
    """The machine the tests run on is shared and busy at times, and the e2e gateway gives a
    service 3 s: a write can be cut off with 504 and still complete. So every POST carries an
    Idempotency-Key, and a 502/504 (or a 409 "still in progress") is retried with the same key:
    the service answers with the first outcome, never a second effect."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and "idempotency-key" not in request.headers:
            request.headers["Idempotency-Key"] = uuid.uuid4().hex
        deadline = time.monotonic() + 30
        while True:
            response = super().handle_request(request)
            body = response.read()
            response.close()
            again = response.status_code in (502, 504) or (
                response.status_code == 409 and b"request-in-progress" in body
            )
            if not again or time.monotonic() > deadline:
                # the body was read (decoded) here, so it goes on as it is now
                headers = [
                    (k, v)
                    for k, v in response.headers.multi_items()
                    if k.lower() not in ("content-encoding", "content-length")
                ]
                return httpx.Response(
                    response.status_code, headers=headers, content=body, request=request
                )
            time.sleep(0.5)


@pytest.fixture
def office(system: System) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=system.gateway, headers=system.auth, timeout=30, transport=Patient()
    ) as client:
        yield client


@pytest.fixture
def admin(system: System, database: Database) -> Iterator[httpx.Client]:
    name = f"admin-{uuid.uuid4().hex[:8]}"
    user = UserCreate(username=name, display_name=name, password=PASSWORD, roles=[Role.admin])
    asyncio.run(create_user(database.urls["gateway"], database.data_dir, user))
    token = httpx.post(
        f"{system.gateway}/api/v1/auth/token",
        data={"grant_type": "password", "username": name, "password": PASSWORD},
    ).json()["access_token"]
    with httpx.Client(
        base_url=system.gateway,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
        transport=Patient(),
    ) as client:
        yield client


@pytest.fixture
def hub(office: httpx.Client) -> Iterator[Hub]:
    made = Hub(office)
    try:
        yield made
    finally:
        made.close()


def publish_round(office: httpx.Client) -> str:
    """A term and a round, moved to mobilisation: `round.published`. The round's id."""
    tag = uuid.uuid4().hex[:8]
    term = ok(
        office.post(
            "/api/v1/terms",
            json={
                "name": f"第九届{tag}",
                "starts_on": "2021-10-01",
                "ends_on": "2026-09-30",
                "coverage_kinds": ["village"],
                "jurisdiction": f"咸宁市{tag}",
            },
        ),
        201,
    )
    rnd = ok(
        office.post(
            "/api/v1/rounds",
            json={"term_id": term["id"], "number": 1, "name": "常规巡察", "kind": "regular"},
        ),
        201,
    )
    ok(office.post(f"/api/v1/rounds/{rnd['id']}/transitions", json={"to": "mobilisation"}), 201)
    return str(rnd["id"])


ROUNDS = ["round.published"]


# ---- the tests ----


def test_an_endpoint_failing_twice_gets_the_event_on_the_third_try_every_one_signed(
    office: httpx.Client, hub: Hub
) -> None:
    receiver = Receiver(answer=lambda event_id, n: 500 if n <= 2 else 200)
    sub = hub.register(receiver, event_types=ROUNDS)
    round_id = publish_round(office)

    def arrived() -> list[Hit]:
        hits = receiver.about("round_id", round_id)
        assert [h.status for h in hits] == [500, 500, 200]
        return hits

    hits = eventually(arrived)
    assert all(h.valid == [True] and h.signatures == 1 for h in hits)
    # the same webhook-id on every try: the event's id, which the body carries too
    [event_id] = {h.event_id for h in hits}
    assert hits[0].event["id"] == event_id
    assert hits[0].event["type"] == "round.published"

    def recorded() -> dict[str, Any]:
        delivery = hub.delivery_of(sub, event_id)
        assert delivery["state"] == "delivered"
        return delivery

    delivery = eventually(recorded)
    assert delivery["attempts"] == 3
    assert delivery["next_attempt_at"] is None
    assert delivery["event_type"] == "round.published"
    detail = ok(office.get(f"{HUB}/deliveries/{delivery['id']}"))
    assert [(a["attempt"], a["status"]) for a in detail["log"]] == [(1, 500), (2, 500), (3, 200)]
    assert detail["event"]["payload"]["round_id"] == round_id
    only_delivered = hub.deliveries(sub, state="delivered")
    assert event_id in {d["event_id"] for d in only_delivered}
    assert hub.deliveries(sub, state="dead") == []


def test_dead_letters_are_replayed_one_by_one_and_in_bulk_and_operators_see_it_all(
    system: System, office: httpx.Client, hub: Hub
) -> None:
    up = threading.Event()
    receiver = Receiver(answer=lambda event_id, n: 200 if up.is_set() else 503)
    sub = hub.register(receiver, event_types=ROUNDS)
    rounds = [publish_round(office), publish_round(office)]

    def dead_lettered() -> list[dict[str, Any]]:
        dead = hub.deliveries(sub, state="dead")
        assert len(dead) == 2
        return dead

    dead = eventually(dead_lettered)
    assert [d["attempts"] for d in dead] == [TRIES, TRIES]
    assert {d["last_status"] for d in dead} == {503}
    for round_id in rounds:
        hits = receiver.about("round_id", round_id)
        assert [h.status for h in hits] == [503] * TRIES
        assert all(h.valid == [True] for h in hits)
    mine = hub.subscriber_status(sub)
    assert (mine["dead"], mine["delivered"], mine["pending"], mine["failed"]) == (2, 0, 0, 0)
    assert mine["active"] is True

    name = sub["name"]

    def counted() -> None:
        metrics = httpx.get(f"{system.gateway}/metrics").text
        assert (
            f'hub_deliveries_total{{kind="webhook",outcome="dead",subscriber="{name}"}} 2.0'
            in metrics
        )
        assert f'hub_deliveries_open{{state="dead",subscriber="{name}"}} 2.0' in metrics

    eventually(counted)  # the open gauge is refreshed every few seconds

    # the endpoint is fixed: one replayed by hand...
    up.set()
    first, second = dead
    replayed = ok(office.post(f"{HUB}/deliveries/{first['id']}/replay"), 202)
    assert (replayed["state"], replayed["attempts"]) == ("pending", TRIES)

    def delivered(delivery_id: str, attempts: int) -> None:
        detail = ok(office.get(f"{HUB}/deliveries/{delivery_id}"))
        assert detail["state"] == "delivered"
        assert detail["attempts"] == attempts
        assert [a["attempt"] for a in detail["log"]] == list(range(1, attempts + 1))
        assert detail["log"][-1]["status"] == 200

    eventually(lambda: delivered(first["id"], TRIES + 1))
    assert ok(office.get(f"{HUB}/deliveries/{second['id']}"))["state"] == "dead"

    # ...the rest in bulk: nothing dead before the hub had them, then the one left
    before = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    bulk = f"{HUB}/subscriptions/{sub['id']}/replay"
    assert ok(office.post(bulk, json={"until": before}), 202) == {"replayed": 0}
    assert ok(office.post(bulk, json={}), 202) == {"replayed": 1}
    eventually(lambda: delivered(second["id"], TRIES + 1))
    # delivered ones can be sent again too (a receiver that lost its data)
    assert ok(office.post(bulk, json={"state": "delivered", "since": before}), 202) == {
        "replayed": 2
    }
    eventually(lambda: delivered(first["id"], TRIES + 2))
    eventually(lambda: delivered(second["id"], TRIES + 2))
    for round_id in rounds:
        hits = receiver.about("round_id", round_id)
        assert [h.status for h in hits] == [503] * TRIES + [200, 200]
        assert all(h.valid == [True] for h in hits)

    mine = hub.subscriber_status(sub)
    assert (mine["dead"], mine["delivered"], mine["pending"], mine["failed"]) == (0, 2, 0, 0)
    assert mine["oldest_open_at"] is None


def test_an_endpoint_answering_410_is_disabled_until_an_operator_enables_it(
    office: httpx.Client, hub: Hub
) -> None:
    gone = threading.Event()
    gone.set()
    receiver = Receiver(answer=lambda event_id, n: 410 if gone.is_set() else 200)
    sub = hub.register(receiver, event_types=ROUNDS)
    round_id = publish_round(office)

    def disabled() -> dict[str, Any]:
        read = ok(office.get(f"{HUB}/subscriptions/{sub['id']}"))
        assert read["active"] is False
        return read  # type: ignore[no-any-return]

    read = eventually(disabled)
    assert "410" in read["disabled_reason"]
    [hit] = receiver.about("round_id", round_id)  # never retried
    [delivery] = hub.deliveries(sub)
    assert (delivery["state"], delivery["attempts"], delivery["last_status"]) == ("dead", 1, 410)
    refused = office.post(f"{HUB}/deliveries/{delivery['id']}/replay")
    assert refused.status_code == 409
    assert refused.json()["type"] == "/problems/subscription-inactive"
    assert hub.subscriber_status(sub)["disabled_reason"] == read["disabled_reason"]

    # the receiver is back: enabled again (the reason goes), then its dead letter replayed
    gone.clear()
    enabled = ok(office.patch(f"{HUB}/subscriptions/{sub['id']}", json={"active": True}))
    assert (enabled["active"], enabled["disabled_reason"]) == (True, None)
    assert ok(office.post(f"{HUB}/subscriptions/{sub['id']}/replay"), 202) == {"replayed": 1}

    def redelivered() -> None:
        assert [h.status for h in receiver.about("round_id", round_id)] == [410, 200]
        assert hub.delivery_of(sub, hit.event_id)["state"] == "delivered"

    eventually(redelivered)


def test_a_rotated_secret_signs_alongside_the_new_one_during_its_grace(
    office: httpx.Client, hub: Hub
) -> None:
    receiver = Receiver()
    sub = hub.register(receiver, event_types=ROUNDS)
    old = sub["secret"]
    url = f"{HUB}/subscriptions/{sub['id']}/rotate-secret"
    rotated = ok(office.post(url, json={"grace_hours": 1}))
    new = rotated["secret"]
    assert new.startswith("whsec_")
    assert new != old
    until = datetime.fromisoformat(rotated["previous_secret_until"])
    assert timedelta(minutes=59) < until - datetime.now(UTC) <= timedelta(hours=1)
    read = ok(office.get(f"{HUB}/subscriptions/{sub['id']}"))
    assert "secret" not in read
    assert "previous_secret" not in read
    assert datetime.fromisoformat(read["previous_secret_until"]) == until

    # during the grace: two signatures; a receiver still on the old secret accepts, one
    # already on the new accepts too
    receiver.secrets = [old, new]
    during = publish_round(office)

    hit = eventually(lambda: receiver.one("round_id", during))
    assert (hit.status, hit.signatures, hit.valid) == (200, 2, [True, True])

    # a rotation without grace: only the newest signs from now on
    newest = ok(office.post(url, json={"grace_hours": 0}))
    assert newest["previous_secret_until"] is None
    receiver.secrets = [newest["secret"], new, old]
    after = publish_round(office)

    hit = eventually(lambda: receiver.one("round_id", after))
    assert (hit.status, hit.signatures, hit.valid) == (200, 1, [True, False, False])


def test_subjects_names_reach_only_a_subscriber_cleared_for_them(
    office: httpx.Client, hub: Hub, admin: httpx.Client
) -> None:
    plain, cleared = Receiver(), Receiver()
    hub.register(plain, event_types=["lead.transferred"])
    # clearing a subscriber for names is the administrator's decision, not the office's
    refused = office.post(
        f"{HUB}/subscriptions",
        json={"name": f"r-{uuid.uuid4().hex[:8]}", "url": cleared.url, "confidential": True},
    )
    assert refused.status_code == 403, refused.text
    hub.office = admin
    cleared_sub = hub.register(cleared, event_types=["lead.transferred"], confidential=True)
    hub.office = office
    assert cleared_sub["confidential"] is True
    tag = uuid.uuid4().hex[:6]
    placed = place_a_finding(office, f"官塘驿镇第{tag}村")
    finding = ok(
        office.post(
            "/api/v1/findings",
            json={
                "assignment_id": placed.assignment_id,
                "category_id": placed.category_id,
                "title": "村集体资金被挪用",
                "facts": "村集体资金被挪用。",
                "money_involved": "12000.00",
                "source": "letters",
                "discovered_on": datetime.now(UTC).date().isoformat(),
            },
        ),
        201,
    )
    ok(office.post(f"/api/v1/findings/{finding['id']}/transitions", json={"to": "confirmed"}))
    names = [f"王{tag}", f"李{tag}"]
    lead = ok(
        office.post(
            "/api/v1/leads",
            json={
                "title": "村集体资金被挪用问题线索",
                "summary": "涉嫌挪用村集体资金 1.2 万元。",
                "finding_ids": [finding["id"]],
                "recipient": "discipline_commission",
                "subjects": [
                    {"name": names[0], "position": "村党支部书记", "rank": "village",
                     "party_member": True},
                    {"name": names[1], "position": "村会计", "rank": "none",
                     "party_member": False},
                ],
            },
        ),
        201,
    )  # fmt: skip
    for to, extra in (("approved", {}), ("transferred", {"transfer_letter_no": f"咸巡移{tag}号"})):
        ok(office.post(f"/api/v1/leads/{lead['id']}/transitions", json={"to": to, **extra}), 201)

    def transferred(receiver: Receiver) -> Hit:
        hit = receiver.one("lead_id", lead["id"])
        assert hit.status == 200
        return hit

    seen_plain = eventually(lambda: transferred(plain))
    seen_cleared = eventually(lambda: transferred(cleared))
    assert seen_plain.event["type"] == seen_cleared.event["type"] == "lead.transferred"
    assert seen_plain.event["payload"]["subject_count"] == 2
    assert "subjects" not in seen_plain.event["payload"]
    assert not any(name.encode() in seen_plain.body for name in names)
    subjects = seen_cleared.event["payload"]["subjects"]
    assert [s["name"] for s in subjects] == names
    # the operators' delivery log never shows them, whoever the subscriber
    delivery = hub.delivery_of(cleared_sub, seen_cleared.event_id)
    detail = ok(office.get(f"{HUB}/deliveries/{delivery['id']}"))
    assert "subjects" not in detail["event"]["payload"]


def test_the_operator_api_refuses_bad_input_naming_the_field(
    office: httpx.Client, hub: Hub
) -> None:
    subs = f"{HUB}/subscriptions"
    good = {"name": f"receiver-{uuid.uuid4().hex[:8]}", "url": "http://127.0.0.1:9/hook"}
    unknown = office.post(subs, json={**good, "event_types": ["round.published", "round.eaten"]})
    assert fields_of(unknown) == ["event_types.1"]
    assert fields_of(office.post(subs, json={**good, "url": "ftp://127.0.0.1/x"})) == ["url"]
    assert fields_of(office.post(subs, json={**good, "url": "http://u:p@127.0.0.1/"})) == ["url"]
    assert fields_of(office.post(subs, json={**good, "name": "service:mine"})) == ["name"]
    assert fields_of(office.post(subs, json={**good, "secret": "whsec_mine"})) == ["secret"]

    receiver = Receiver()
    sub = hub.register(receiver, name=good["name"], event_types=ROUNDS)
    again = office.post(subs, json=good)
    assert again.status_code == 409
    assert again.json()["type"] == "/problems/subscription-name-taken"

    # never a secret in a read
    page = ok(office.get(subs, params={"kind": "webhook", "limit": 200}))
    assert all("secret" not in s for s in page["items"])
    read = office.get(f"{subs}/{sub['id']}")
    assert "secret" not in ok(read)

    # If-Match: a stale version is refused, the current one passes
    url = f"{subs}/{sub['id']}"
    stale = office.patch(url, json={"event_types": []}, headers={"If-Match": '"v1"'})
    assert stale.status_code == 412
    etag = read.headers["etag"]
    changed = ok(office.patch(url, json={"event_types": []}, headers={"If-Match": etag}))
    assert changed["event_types"] == []
    assert fields_of(office.patch(url, json={"url": None})) == ["url"]
    assert fields_of(office.patch(url, json={"event_types": ["nope"]})) == ["event_types.0"]
    paused = ok(office.patch(url, json={"active": False}))
    assert paused["active"] is False
    assert paused["disabled_reason"].startswith("paused by")
    assert fields_of(office.post(f"{url}/rotate-secret", json={"grace_hours": 169})) == [
        "grace_hours"
    ]
    bulk = f"{url}/replay"
    assert fields_of(office.post(bulk, json={"state": "pending"})) == ["state"]
    assert fields_of(office.post(bulk, json={"since": "2026-01-01T00:00:00"})) == ["since"]
    backwards = {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}
    assert fields_of(office.post(bulk, json=backwards)) == ["until"]
    deliveries = f"{url}/deliveries"
    assert fields_of(office.get(deliveries, params={"cursor": "nonsense"})) == ["query.cursor"]
    assert fields_of(office.get(deliveries, params={"state": "lost"})) == ["query.state"]
    assert office.get(f"{HUB}/deliveries/{uuid.uuid4()}").status_code == 404
    assert office.post(f"{HUB}/deliveries/{uuid.uuid4()}/replay").status_code == 404
    assert office.get(f"{subs}/{uuid.uuid4()}").status_code == 404

    # the services' subscriptions follow the catalogue: not changed, rotated or deleted here
    services = ok(office.get(subs, params={"kind": "service"}))["items"]
    findings = next(s for s in services if s["name"] == "service:findings")
    assert findings["url"] is None
    for resp in (
        office.patch(f"{subs}/{findings['id']}", json={"active": False}),
        office.post(f"{subs}/{findings['id']}/rotate-secret"),
        office.delete(f"{subs}/{findings['id']}"),
    ):
        assert resp.status_code == 409, resp.text
        assert resp.json()["type"] == "/problems/managed-by-catalogue"
