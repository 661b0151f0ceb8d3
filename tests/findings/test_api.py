"""The findings service on its own: money is exact, dates are Beijing dates."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from ops.stack import Database
from services.common.auth import KeySet
from services.findings.app import create_app
from services.findings.settings import FindingsSettings
from tests.conftest import MintToken, serve


@pytest.fixture
async def client(
    database: Database, test_keys: KeySet, mint: MintToken
) -> AsyncIterator[httpx.AsyncClient]:
    settings = FindingsSettings(database_url=database.urls["findings"])
    headers = {"Authorization": f"Bearer {mint('findings')}"}
    async with serve(create_app(settings, keys=test_keys), headers=headers) as c:
        yield c


def finding(**over: object) -> dict[str, object]:
    return {
        "target_id": str(uuid.uuid4()),
        "title": "产业扶贫资金闲置",
        "facts": "资金闲置一年以上。",
        "money_involved": "0.10",
        "source": "data_check",
        "discovered_on": "2018-08-01",
        **over,
    }


async def test_money_round_trips_exactly(client: httpx.AsyncClient) -> None:
    for amount, stored in (
        ("0.10", "0.10"),
        ("320000", "320000.00"),
        ("999999999999.99", "999999999999.99"),
    ):
        resp = await client.post("/api/v1/findings", json=finding(money_involved=amount))
        assert resp.status_code == 201, resp.text
        assert resp.json()["money_involved"] == stored
        read = await client.get(f"/api/v1/findings/{resp.json()['id']}")
        assert read.json()["money_involved"] == stored


async def test_too_many_digits_is_422(client: httpx.AsyncClient) -> None:
    resp = await client.post("/api/v1/findings", json=finding(money_involved="1000000000000.00"))
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "money_involved"


async def test_today_in_beijing_is_accepted_tomorrow_is_not(client: httpx.AsyncClient) -> None:
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    ok = await client.post("/api/v1/findings", json=finding(discovered_on=str(today)))
    assert ok.status_code == 201
    late = await client.post(
        "/api/v1/findings", json=finding(discovered_on=str(today + timedelta(days=1)))
    )
    assert late.status_code == 422


async def test_filters_by_target_and_updated_since(client: httpx.AsyncClient) -> None:
    target = str(uuid.uuid4())
    first = (await client.post("/api/v1/findings", json=finding(target_id=target))).json()
    second = (await client.post("/api/v1/findings", json=finding(target_id=target))).json()
    by_target = (await client.get("/api/v1/findings", params={"target_id": target})).json()
    assert [f["id"] for f in by_target["items"]] == [first["id"], second["id"]]
    since = (
        await client.get(
            "/api/v1/findings", params={"target_id": target, "updated_since": first["updated_at"]}
        )
    ).json()
    assert [f["id"] for f in since["items"]] == [second["id"]]
