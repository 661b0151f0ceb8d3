"""The referrals service on its own: leads registered from findings."""

from __future__ import annotations

import uuid

import httpx

from tests.referrals.conftest import Upstream


async def test_lead_keeps_its_findings_once_in_order(
    client: httpx.AsyncClient, upstream: Upstream
) -> None:
    a, b = upstream.finding(), upstream.finding(title="虚报冒领扶贫资金")
    resp = await client.post(
        "/api/v1/leads",
        json={
            "title": "村干部优亲厚友",
            "summary": "低保评定优亲厚友。",
            "finding_ids": [a, b, a],
            "recipient": "organisation_department",
        },
    )
    assert resp.status_code == 201, resp.text
    lead = resp.json()
    assert lead["finding_ids"] == [a, b]
    assert [f["title"] for f in lead["findings"]] == ["低保评定优亲厚友", "虚报冒领扶贫资金"]
    assert lead["status"] == "draft"
    assert resp.headers["ETag"] == f'"v{lead["version"]}"'
    for fid in (a, b):
        found = (await client.get("/api/v1/leads", params={"finding_id": fid})).json()
        assert [x["id"] for x in found["items"]] == [lead["id"]]


async def test_missing_lead_is_404(client: httpx.AsyncClient) -> None:
    resp = await client.get(f"/api/v1/leads/{uuid.uuid4()}")
    assert resp.status_code == 404
    assert resp.json()["title"] == "问题线索不存在"
