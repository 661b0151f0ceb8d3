"""A finding made into a lead or a rectification item moves to handed over (已移交) in the
findings service, through the gateway; only confirmed findings are handed over, and a findings
service that fails the move fails the whole registration (nothing is stored)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

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


async def test_a_lead_hands_its_confirmed_findings_over(
    client: httpx.AsyncClient, upstream: Upstream
) -> None:
    a, b = upstream.finding(), upstream.finding(status="handed_over")
    resp = await client.post("/api/v1/leads", json={**LEAD, "finding_ids": [a, b]})
    assert resp.status_code == 201, resp.text
    # the confirmed one is moved, naming the lead; the one already handed over is left alone
    assert upstream.handed_over == [(a, f"移交问题线索（{resp.json()['id']}）")]
    assert upstream.findings[a]["status"] == "handed_over"


async def test_a_rectification_item_hands_its_findings_over(
    client: httpx.AsyncClient, upstream: Upstream
) -> None:
    a = upstream.finding()
    resp = await client.post("/api/v1/rectifications", json=item_body([a]))
    assert resp.status_code == 201, resp.text
    assert upstream.handed_over == [(a, f"列入整改事项（{resp.json()['id']}）")]
    # a second item from the same finding: it stays handed over, no second move
    again = await client.post("/api/v1/rectifications", json=item_body([a]))
    assert again.status_code == 201, again.text
    assert len(upstream.handed_over) == 1


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
    resp = await client.post(path, json=body)
    assert resp.status_code == 422, resp.text
    [error] = resp.json()["errors"]
    assert (error["field"], error["code"]) == ("finding_ids.1", "not_confirmed")
    assert upstream.handed_over == []
    assert await sql(database, f"SELECT count(*) FROM referrals.{table}") == before


async def test_a_failed_hand_over_stores_nothing(
    client: httpx.AsyncClient, upstream: Upstream, database: Database
) -> None:
    a = upstream.finding()
    upstream.refuse_transitions = 500
    before = await sql(database, "SELECT count(*) FROM referrals.leads")
    resp = await client.post("/api/v1/leads", json={**LEAD, "finding_ids": [a]})
    assert resp.status_code == 503
    assert resp.headers["content-type"] == "application/problem+json"
    assert await sql(database, "SELECT count(*) FROM referrals.leads") == before


async def test_a_finding_moved_meanwhile_is_422(
    client: httpx.AsyncClient, upstream: Upstream
) -> None:
    """Closed by the office between our read and our move: the findings service answers 409,
    the finding is not handed over, so neither is the lead registered."""
    a = upstream.finding()
    upstream.refuse_transitions = 409
    upstream.findings[a]["status"] = "confirmed"  # as read; the move is refused

    resp = await client.post("/api/v1/leads", json={**LEAD, "finding_ids": [a]})
    assert resp.status_code == 422, resp.text
    assert resp.json()["errors"][0]["field"] == "finding_ids.0"
