"""The referrals service on its own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from ops.stack import Database
from services.common.auth import KeySet
from services.referrals.app import create_app
from services.referrals.settings import ReferralsSettings
from tests.conftest import MintToken, serve


@pytest.fixture
async def client(
    database: Database, test_keys: KeySet, mint: MintToken
) -> AsyncIterator[httpx.AsyncClient]:
    settings = ReferralsSettings(database_url=database.urls["referrals"])
    headers = {"Authorization": f"Bearer {mint('referrals')}"}
    async with serve(create_app(settings, keys=test_keys), headers=headers) as c:
        yield c


async def test_lead_keeps_its_findings_once_in_order(client: httpx.AsyncClient) -> None:
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
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
    assert lead["status"] == "draft"
    for fid in (a, b):
        found = (await client.get("/api/v1/leads", params={"finding_id": fid})).json()
        assert [x["id"] for x in found["items"]] == [lead["id"]]


async def test_missing_lead_is_404(client: httpx.AsyncClient) -> None:
    resp = await client.get(f"/api/v1/leads/{uuid.uuid4()}")
    assert resp.status_code == 404
    assert resp.json()["title"] == "问题线索不存在"
