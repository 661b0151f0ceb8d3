"""The rounds service on its own: targets created, read and listed in schema `rounds`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from ops.stack import Database
from services.common.auth import KeySet
from services.rounds.app import create_app
from services.rounds.settings import RoundsSettings
from tests.conftest import MintToken, serve


@pytest.fixture
async def client(
    database: Database, test_keys: KeySet, mint: MintToken
) -> AsyncIterator[httpx.AsyncClient]:
    settings = RoundsSettings(database_url=database.urls["rounds"])
    headers = {"Authorization": f"Bearer {mint('rounds')}"}
    async with serve(create_app(settings, keys=test_keys), headers=headers) as c:
        yield c


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


async def test_create_read_list_target(client: httpx.AsyncClient, database: Database) -> None:
    township = await client.post(
        "/api/v1/targets",
        json={
            "name": unique("赤马港办事处党工委"),
            "kind": "township_committee",
            "jurisdiction": "赤壁市",
        },
    )
    assert township.status_code == 201, township.text
    village = await client.post(
        "/api/v1/targets",
        json={
            "name": unique("石头口村"),
            "kind": "village",
            "jurisdiction": "赤壁市",
            "parent_id": township.json()["id"],
        },
    )
    assert village.status_code == 201, village.text
    body = village.json()
    assert village.headers["location"] == f"/api/v1/targets/{body['id']}"
    assert body["parent_id"] == township.json()["id"]

    read = await client.get(f"/api/v1/targets/{body['id']}")
    assert read.status_code == 200
    assert read.json() == body

    children = await client.get("/api/v1/targets", params={"parent_id": township.json()["id"]})
    assert [t["id"] for t in children.json()["items"]] == [body["id"]]

    # stored in the rounds schema, by the rounds role
    conn = await asyncpg.connect(database.urls["rounds"].replace("+asyncpg", ""))
    try:
        name = await conn.fetchval(
            "SELECT name FROM rounds.targets WHERE id = $1", uuid.UUID(body["id"])
        )
    finally:
        await conn.close()
    assert name == body["name"]


async def test_cursor_pagination_walks_every_row_once(client: httpx.AsyncClient) -> None:
    jurisdiction = unique("通城县")
    created = []
    for i in range(7):
        resp = await client.post(
            "/api/v1/targets",
            json={"name": f"村{i}", "kind": "village", "jurisdiction": jurisdiction},
        )
        assert resp.status_code == 201
        created.append(resp.json()["id"])
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"jurisdiction": jurisdiction, "limit": "3"}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/targets", params=params)).json()
        pages += 1
        seen += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == created
    assert pages == 3


async def test_duplicate_name_under_same_parent_is_409(client: httpx.AsyncClient) -> None:
    payload = {
        "name": unique("民政局党组"),
        "kind": "department_party_group",
        "jurisdiction": "赤壁市",
    }
    assert (await client.post("/api/v1/targets", json=payload)).status_code == 201
    again = await client.post("/api/v1/targets", json=payload)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["type"] == "/problems/target-already-exists"


async def test_unknown_parent_is_422_naming_the_field(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        "/api/v1/targets",
        json={
            "name": unique("村"),
            "kind": "village",
            "jurisdiction": "赤壁市",
            "parent_id": str(uuid.uuid4()),
        },
    )
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "parent_id"


async def test_missing_target_is_404_problem(client: httpx.AsyncClient) -> None:
    resp = await client.get(f"/api/v1/targets/{uuid.uuid4()}", headers={"Accept-Language": "en"})
    assert resp.status_code == 404
    problem = resp.json()
    assert problem["type"] == "/problems/target-not-found"
    assert problem["title"] == "Inspection target not found"
    assert problem["status"] == 404


async def test_invalid_kind_and_cursor_are_422(client: httpx.AsyncClient) -> None:
    bad_kind = await client.post(
        "/api/v1/targets", json={"name": "x", "kind": "castle", "jurisdiction": "赤壁市"}
    )
    assert bad_kind.status_code == 422
    assert bad_kind.json()["errors"][0]["field"] == "kind"
    bad_cursor = await client.get("/api/v1/targets", params={"cursor": "not-a-cursor"})
    assert bad_cursor.status_code == 422
    assert bad_cursor.json()["errors"][0]["field"] == "query.cursor"


async def test_enum_labels_are_in_the_openapi(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    labels = spec["components"]["schemas"]["TargetKind"]["x-enum-labels"]
    assert labels["township_committee"] == "乡镇党委"
    assert labels["village"] == "村"
