"""The discipline inspection network platform (纪检监察网络平台, role `platform`, as the gateway
forwards its signed callbacks) takes the receiver's steps of the leads transferred to the
discipline commission, and of no other lead. In-process against the real PostgreSQL."""

from __future__ import annotations

import uuid

import httpx

from tests.referrals.conftest import Auth, Upstream
from tests.referrals.test_leads import move, new_lead, read, walk


async def test_the_platform_moves_the_discipline_commissions_leads_only(
    client: httpx.AsyncClient, upstream: Upstream, auth: Auth
) -> None:
    platform = auth("platform", sub="platform")
    ours = await new_lead(client, upstream)
    organisation = await new_lead(client, upstream, recipient="organisation_department")
    # not before the transfer, and never the office's steps
    assert (await move(client, ours["id"], "approved", headers=platform)).status_code == 404
    await walk(client, ours["id"], "transferred")
    await walk(client, organisation["id"], "transferred")

    seen = await read(client, ours["id"], headers=platform)
    assert seen["view"] == "full"
    listed = (await client.get("/api/v1/leads", headers=platform, params={"limit": 200})).json()
    ids = {x["id"] for x in listed["items"]}
    assert ours["id"] in ids
    assert organisation["id"] not in ids
    assert {x["recipient"] for x in listed["items"]} == {"discipline_commission"}

    # a lead sent to the organisation department is out of its scope: 404, and unchanged
    before = await read(client, organisation["id"])
    for url in (
        f"/api/v1/leads/{organisation['id']}",
        f"/api/v1/leads/{organisation['id']}/transitions",
    ):
        assert (await client.get(url, headers=platform)).status_code == 404
    assert (await move(client, organisation["id"], "received", headers=platform)).status_code == 404
    assert await read(client, organisation["id"]) == before

    outcomes = [{"subject_id": s["id"], "not_substantiated": True} for s in seen["subjects"]]
    for to, body in (
        ("received", {}),
        ("handling", {"handling": "preliminary_verification"}),
        ("case_filed", {"case_number": f"赤纪立〔2018〕{uuid.uuid4().hex[:6]}号"}),
        ("concluded", {"outcomes": outcomes}),
    ):
        resp = await move(client, ours["id"], to, headers=platform, **body)
        assert resp.status_code == 201, (to, resp.text)
        assert resp.json()["by"] == "platform"
    assert (await read(client, ours["id"]))["status"] == "concluded"
