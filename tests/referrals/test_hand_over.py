"""A lead or a rectification item is made only from confirmed findings, and it says so with an
integration event written in its own transaction (`lead.registered`, `rectification.assigned`,
carrying the findings): the findings service moves them to handed over when the event reaches
it (tests/e2e/test_events.py). Nothing is written, event included, when the request fails."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from ops.stack import Database
from tests.referrals.conftest import Upstream, sql

LEAD = {"title": "扶贫资金优亲厚友", "summary": "村干部为亲属违规办理低保。", "recipient": "other"}


def item_body(finding_ids: list[str]) -> dict[str, object]:
    deadline = datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=60)
    return {
        "title": "低保评定不规范整改",
        "duties": "重新评定全村低保户。",
        "owner_type": "responsible_unit",
        "owner_name": "车埠镇民政办",
        "deadline": date.isoformat(deadline),
        "finding_ids": finding_ids,
    }


async def events_of(database: Database, aggregate_id: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(database.urls["referrals"].replace("+asyncpg", ""))
    try:
        rows = await conn.fetch(
            "SELECT type, version, payload::text AS payload, published_at FROM referrals.outbox "
            "WHERE aggregate_id = $1 ORDER BY seq",
            aggregate_id,
        )
    finally:
        await conn.close()
    return [{**dict(r), "payload": json.loads(r["payload"])} for r in rows]


async def test_a_lead_says_which_findings_it_takes_over(
    client: httpx.AsyncClient, upstream: Upstream, database: Database
) -> None:
    a, b = upstream.finding(), upstream.finding(status="handed_over")
    resp = await client.post("/api/v1/leads", json={**LEAD, "finding_ids": [a, b]})
    assert resp.status_code == 201, resp.text
    [event] = await events_of(database, resp.json()["id"])
    assert (event["type"], event["version"]) == ("lead.registered", 1)
    assert event["payload"]["finding_ids"] == [a, b]
    assert event["payload"]["recipient"] == "other"
    # no call to the findings service: it learns from the event
    assert not [c for c in upstream.calls if c.startswith("POST /api/v1/findings")]


async def test_a_rectification_item_says_which_findings_it_takes_over(
    client: httpx.AsyncClient, upstream: Upstream, database: Database
) -> None:
    a = upstream.finding()
    resp = await client.post("/api/v1/rectifications", json=item_body([a]))
    assert resp.status_code == 201, resp.text
    [event] = await events_of(database, resp.json()["id"])
    assert event["type"] == "rectification.assigned"
    assert event["payload"]["finding_ids"] == [a]
    assert event["payload"]["owner_name"] == "车埠镇民政办"


async def test_lead_steps_are_events_and_names_only_go_with_the_transfer(
    client: httpx.AsyncClient, upstream: Upstream, database: Database
) -> None:
    subjects = [{"name": "张三", "position": "村党支部书记", "rank": "village",
                 "party_member": True}]  # fmt: skip
    lead = (
        await client.post(
            "/api/v1/leads",
            json={**LEAD, "finding_ids": [upstream.finding()], "subjects": subjects},
        )
    ).json()
    url = f"/api/v1/leads/{lead['id']}/transitions"
    for body in (
        {"to": "approved"},
        {"to": "transferred", "transfer_letter_no": f"赤巡移〔2018〕{uuid.uuid4().hex[:6]}号"},
        {"to": "received"},
        {"to": "handling", "handling": "preliminary_verification"},
        {"to": "case_filed", "case_number": f"赤纪立〔2018〕{uuid.uuid4().hex[:6]}号"},
    ):
        assert (await client.post(url, json=body)).status_code == 201
    subject = (await client.get(f"/api/v1/leads/{lead['id']}")).json()["subjects"][0]["id"]
    resp = await client.post(
        url,
        json={"to": "concluded", "money_recovered": "100.00",
              "outcomes": [{"subject_id": subject, "party_sanction": "warning"}]},
    )  # fmt: skip
    assert resp.status_code == 201, resp.text
    found = await events_of(database, lead["id"])
    assert [e["type"] for e in found] == [
        "lead.registered", "lead.transferred", "lead.handling_chosen", "lead.case_filed",
        "lead.concluded",
    ]  # fmt: skip
    transferred, concluded = found[1]["payload"], found[4]["payload"]
    assert transferred["subjects"][0]["name"] == "张三"  # confidential: the hub strips it
    assert transferred["subject_count"] == 1
    assert "张三" not in str(concluded)
    assert concluded["outcomes"][0]["party_sanction"] == "warning"
    assert concluded["money_recovered"] == "100.00"


@pytest.mark.parametrize("status", ["draft", "closed"])
@pytest.mark.parametrize("path", ["/api/v1/leads", "/api/v1/rectifications"])
async def test_only_confirmed_findings_are_handed_over(
    client: httpx.AsyncClient, upstream: Upstream, database: Database, status: str, path: str
) -> None:
    ok, unconfirmed = upstream.finding(), upstream.finding(status=status)
    ids = [ok, unconfirmed]
    body = {**LEAD, "finding_ids": ids} if path.endswith("leads") else item_body(ids)
    table = "leads" if path.endswith("leads") else "rectification_items"
    before = await sql(database, f"SELECT count(*) FROM referrals.{table}")
    events_before = await sql(database, "SELECT count(*) FROM referrals.outbox")
    resp = await client.post(path, json=body)
    assert resp.status_code == 422, resp.text
    [error] = resp.json()["errors"]
    assert (error["field"], error["code"]) == ("finding_ids.1", "not_confirmed")
    assert await sql(database, f"SELECT count(*) FROM referrals.{table}") == before
    assert await sql(database, "SELECT count(*) FROM referrals.outbox") == events_before
