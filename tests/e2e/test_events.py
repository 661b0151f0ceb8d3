"""Integration events between the real processes: what the hub accepts from a relay, the
catalogue it serves, a rename in rounds reaching the findings' snapshots, a delivery repeated
changing nothing twice, and what operators see (status and metrics)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from gateway.keys import Signer, load_or_create
from ops.stack import Database
from services.common.events.catalogue import CATALOGUE
from tests.e2e.conftest import System, eventually, place_a_finding

pytestmark = pytest.mark.e2e


def client_token(system: System, database: Database, service: str) -> dict[str, str]:
    resp = httpx.post(
        f"{system.gateway}/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": service,
            "client_secret": database.client_secrets[service],
        },
    )
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def envelope(event_type: str, payload: dict[str, Any], **over: Any) -> dict[str, Any]:
    spec = CATALOGUE[event_type]
    return {
        "id": str(uuid.uuid4()),
        "type": event_type,
        "version": spec.version,
        "source": spec.source,
        "aggregate_type": spec.aggregate,
        "aggregate_id": str(uuid.uuid4()),
        "occurred_at": datetime.now(UTC).isoformat(),
        "payload": payload,
        **over,
    }


def signed_payload() -> dict[str, Any]:
    return {"item_id": str(uuid.uuid4()), "signed_off_on": "2018-10-01", "finding_ids": []}


def test_the_hub_takes_each_event_once_and_only_from_its_source(
    system: System, database: Database
) -> None:
    referrals = client_token(system, database, "referrals")
    hub = f"{system.gateway}/api/v1/events"
    event = envelope("rectification.signed_off", signed_payload())
    batch = {"source": "referrals", "events": [event]}
    first = httpx.post(hub, json=batch, headers=referrals)
    assert first.status_code == 200, first.text
    assert first.json() == {"accepted": 1, "duplicates": 0}
    again = httpx.post(hub, json=batch, headers=referrals)  # a relay re-sending after a crash
    assert again.json() == {"accepted": 0, "duplicates": 1}

    # another service may not send referrals' events, nor a person any
    rounds = client_token(system, database, "rounds")
    assert httpx.post(hub, json=batch, headers=rounds).status_code == 403
    assert httpx.post(hub, json=batch, headers=system.auth).status_code == 403
    assert httpx.post(hub, json=batch).status_code == 401
    # what is not in the catalogue, or not as the catalogue says, is 422 naming it
    cases = [
        (envelope("rectification.signed_off", signed_payload(), type="lead.vanished"),
         "events.0.type"),
        (envelope("rectification.signed_off", signed_payload(), version=9), "events.0.version"),
        (envelope("rectification.signed_off", {"item_id": "x"}), "events.0.payload.item_id"),
        (envelope("round.published", {}, source="referrals"), "events.0.source"),
    ]  # fmt: skip
    for bad, field in cases:
        resp = httpx.post(hub, json={"source": "referrals", "events": [bad]}, headers=referrals)
        assert resp.status_code == 422, resp.text
        assert resp.json()["errors"][0]["field"] == field


def test_the_catalogue_documents_every_event(system: System) -> None:
    resp = httpx.get(f"{system.gateway}/api/v1/events/catalogue", headers=system.auth)
    assert resp.status_code == 200
    listed = {e["type"]: e for e in resp.json()}
    assert set(listed) == set(CATALOGUE)
    for required in (
        "round.published", "assignment.created", "finding.confirmed", "finding.handed_over",
        "lead.transferred", "lead.handling_chosen", "lead.case_filed", "lead.concluded",
        "rectification.assigned", "rectification.escalated", "rectification.signed_off",
    ):  # fmt: skip
        assert required in listed
        assert listed[required]["schema"]["type"] == "object"
        assert listed[required]["description"]
    assert listed["lead.transferred"]["confidential"] == ["subjects"]
    assert listed["lead.registered"]["consumers"] == ["findings"]


def test_a_rename_in_rounds_reaches_the_findings_snapshot(system: System) -> None:
    office = httpx.Client(base_url=system.gateway, headers=system.auth, timeout=30)
    placed = place_a_finding(office, f"官塘驿镇第{uuid.uuid4().hex[:6]}村")
    made = office.post(
        "/api/v1/findings",
        json={
            "assignment_id": placed.assignment_id,
            "category_id": placed.category_id,
            "title": "村级债务底数不清",
            "facts": "未建立债务台账。",
            "source": "documents",
            "discovered_on": "2018-06-01",
        },
    )
    assert made.status_code == 201, made.text
    finding = made.json()
    target = office.get(f"/api/v1/targets/{placed.target_id}")
    new_name = f"官塘驿镇改名村{uuid.uuid4().hex[:4]}"
    renamed = office.patch(
        f"/api/v1/targets/{placed.target_id}",
        json={"name": new_name},
        headers={"If-Match": target.headers["etag"]},
    )
    assert renamed.status_code == 200, renamed.text

    def follows() -> dict[str, Any]:
        now: dict[str, Any] = office.get(f"/api/v1/findings/{finding['id']}").json()
        assert now["target_name"] == new_name
        return now

    now = eventually(follows)
    assert now["version"] == finding["version"] + 1  # phones pick the new name up by sync
    synced = office.get("/api/v1/findings", params={"updated_since": finding["updated_at"]})
    assert finding["id"] in [f["id"] for f in synced.json()["items"]]


def test_a_repeated_delivery_changes_nothing_twice(system: System, database: Database) -> None:
    office = httpx.Client(base_url=system.gateway, headers=system.auth, timeout=30)
    placed = place_a_finding(office, f"茶庵岭镇第{uuid.uuid4().hex[:6]}村")
    finding = office.post(
        "/api/v1/findings",
        json={
            "assignment_id": placed.assignment_id,
            "category_id": placed.category_id,
            "title": "危房改造资金被挪用",
            "facts": "挪用危改资金。",
            "source": "visit",
            "discovered_on": "2018-06-01",
        },
    ).json()
    fid = finding["id"]
    moved = office.post(f"/api/v1/findings/{fid}/transitions", json={"to": "confirmed"})
    assert moved.status_code == 200, moved.text

    signer = Signer(
        load_or_create(database.data_dir / "keys" / "gateway-signing.pem", create=False),
        [],
        issuer="inspection-gateway",
    )

    def token(subject: str) -> dict[str, str]:
        now = int(time.time())
        claims = {"sub": subject, "name": subject, "roles": ["service"], "groups": [],
                  "rid": uuid.uuid4().hex, "iat": now}  # fmt: skip
        return {"Authorization": f"Bearer {signer.sign(claims, audience='findings', ttl=60)}"}

    event = envelope(
        "lead.registered",
        {"lead_id": str(uuid.uuid4()), "finding_ids": [fid], "round_id": None,
         "recipient": "discipline_commission"},
    )  # fmt: skip
    inbox = f"{system.url('findings')}/internal/events"
    answers = [httpx.post(inbox, json=event, headers=token("event-hub")).json() for _ in range(3)]
    assert answers == [{"status": "applied"}, {"status": "duplicate"}, {"status": "duplicate"}]
    history = office.get(f"/api/v1/findings/{fid}/transitions").json()
    assert [h["to_status"] for h in history].count("handed_over") == 1
    # only the hub delivers
    assert (
        httpx.post(inbox, json=envelope("target.renamed", {}), headers=token("x")).status_code
        == 403
    )
    assert httpx.post(inbox, json=event).status_code == 401


def test_operators_see_the_hub_and_its_metrics(system: System) -> None:
    def delivered() -> dict[str, Any]:
        status = httpx.get(f"{system.gateway}/api/v1/hub/status", headers=system.auth)
        assert status.status_code == 200, status.text
        body: dict[str, Any] = status.json()
        findings = next(s for s in body["subscribers"] if s["name"] == "service:findings")
        assert findings["delivered"] > 0, json.dumps(body, ensure_ascii=False)
        assert {r["source"] for r in body["relays"]} >= {"rounds", "referrals"}
        return body

    body = eventually(delivered)
    assert body["events"] > 0
    for app in ("rounds", "findings", "referrals"):
        metrics = httpx.get(f"{system.url(app)}/metrics").text
        for name in ("outbox_pending_events", "outbox_lag_seconds", "outbox_published_total"):
            assert name in metrics, (app, name)
    gateway = httpx.get(f"{system.gateway}/metrics").text
    assert (
        'hub_deliveries_total{kind="service",outcome="delivered",subscriber="service:findings"}'
        in gateway
    )


def hub_events(database: Database, aggregate_id: str) -> list[tuple[str, dict[str, Any]]]:
    async def run() -> list[tuple[str, dict[str, Any]]]:
        conn = await asyncpg.connect(database.urls["gateway"].replace("+asyncpg", ""))
        try:
            rows = await conn.fetch(
                "SELECT type, payload::text AS payload FROM gateway.events "
                "WHERE aggregate_id = $1 ORDER BY seq",
                aggregate_id,
            )
        finally:
            await conn.close()
        return [(r["type"], json.loads(r["payload"])) for r in rows]

    return asyncio.run(run())


def test_rounds_and_findings_announce_what_happened(system: System, database: Database) -> None:
    office = httpx.Client(base_url=system.gateway, headers=system.auth, timeout=30)
    placed = place_a_finding(office, f"赵李桥镇第{uuid.uuid4().hex[:6]}村")
    rnd = office.get(f"/api/v1/rounds/{placed.round_id}")
    published = office.post(
        f"/api/v1/rounds/{placed.round_id}/transitions",
        json={"to": "mobilisation"},
        headers={"If-Match": rnd.headers["etag"]},
    )
    assert published.status_code in (200, 201), published.text
    finding = office.post(
        "/api/v1/findings",
        json={
            "assignment_id": placed.assignment_id,
            "category_id": placed.category_id,
            "title": "违规发放津补贴",
            "facts": "超标准发放。",
            "money_involved": "5000.00",
            "source": "documents",
            "discovered_on": "2018-06-01",
        },
    ).json()
    office.post(f"/api/v1/findings/{finding['id']}/transitions", json={"to": "confirmed"})
    office.post(
        f"/api/v1/findings/{finding['id']}/transitions",
        json={"to": "handed_over", "reason": "移交市纪委监委"},
    )

    def announced(aggregate_id: str, count: int) -> list[tuple[str, dict[str, Any]]]:
        found = hub_events(database, aggregate_id)
        assert len(found) == count, found
        return found

    [(kind, assignment)] = eventually(lambda: announced(placed.assignment_id, 1))
    assert kind == "assignment.created"
    assert (assignment["group_id"], assignment["target_id"]) == (placed.group_id, placed.target_id)
    [(kind, round_)] = eventually(lambda: announced(placed.round_id, 1))
    assert (kind, round_["name"]) == ("round.published", "扶贫领域专项巡察")
    steps = eventually(lambda: announced(finding["id"], 2))
    assert [k for k, _ in steps] == ["finding.confirmed", "finding.handed_over"]
    assert steps[0][1]["money_involved"] == "5000.00"
    assert steps[1][1]["reason"] == "移交市纪委监委"
