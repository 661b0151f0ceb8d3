"""Whatever a client sends through the gateway, it gets a 4xx problem+json and nothing changes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from ops.stack import Database
from tests.e2e.conftest import System

pytestmark = pytest.mark.e2e


def count(database: Database) -> dict[str, int]:
    async def run() -> dict[str, int]:
        out = {}
        for app, table in (("rounds", "targets"), ("findings", "findings"), ("referrals", "leads")):
            conn = await asyncpg.connect(database.urls[app].replace("+asyncpg", ""))
            try:
                out[table] = await conn.fetchval(f"SELECT count(*) FROM {app}.{table}")
            finally:
                await conn.close()
        return out

    return asyncio.run(run())


VALID_FINDING = {
    "target_id": "7d7cf5a4-6f1b-4a52-9c55-0cbf0b0b6f11",
    "title": "t",
    "facts": "f",
    "source": "talk",
    "discovered_on": "2018-07-02",
}

CASES = [
    # (path, raw body or json, expected status, field named in the errors or None)
    ("/api/v1/targets", b'{"name": "x", "kind": ', 422, "body"),
    ("/api/v1/targets", b"\xff\xfe not json", 400, None),
    ("/api/v1/targets", {"name": 12, "kind": "village", "jurisdiction": "赤壁市"}, 422, "name"),
    ("/api/v1/targets", {"name": "x", "kind": "village", "jurisdiction": "赤壁市", "extra": 1}, 422,
     "extra"),
    ("/api/v1/targets", {"name": "", "kind": "village", "jurisdiction": "赤壁市"}, 422, "name"),
    ("/api/v1/targets", [1, 2, 3], 422, "body"),
    ("/api/v1/targets", {"name": "x", "kind": "village", "jurisdiction": "赤壁市",
                         "parent_id": "not-a-uuid"}, 422, "parent_id"),
    ("/api/v1/findings", {**VALID_FINDING, "money_involved": "12.345"}, 422, "money_involved"),
    ("/api/v1/findings", {**VALID_FINDING, "money_involved": "-1"}, 422, "money_involved"),
    ("/api/v1/findings", {**VALID_FINDING, "money_involved": "1e999"}, 422, "money_involved"),
    ("/api/v1/findings", {**VALID_FINDING, "source": "rumour"}, 422, "source"),
    ("/api/v1/findings", {**VALID_FINDING, "discovered_on": "2999-01-01"}, 422, "discovered_on"),
    ("/api/v1/findings", {**VALID_FINDING, "discovered_on": "02/07/2018"}, 422, "discovered_on"),
    ("/api/v1/leads", {"title": "t", "summary": "s", "finding_ids": [],
                       "recipient": "discipline_commission"}, 422, "finding_ids"),
    ("/api/v1/leads", {"title": "t", "summary": "s", "finding_ids": ["x"],
                       "recipient": "discipline_commission"}, 422, "finding_ids.0"),
    ("/api/v1/leads", {"title": "t", "summary": "s", "finding_ids": [VALID_FINDING["target_id"]],
                       "recipient": "the press"}, 422, "recipient"),
]  # fmt: skip


@pytest.fixture
def unchanged(database: Database) -> Iterator[None]:
    before = count(database)
    yield
    assert count(database) == before


@pytest.mark.parametrize(("path", "body", "status", "field"), CASES)
def test_bad_body_is_a_problem_naming_the_field(
    system: System, unchanged: None, path: str, body: object, status: int, field: str | None
) -> None:
    headers = {**system.auth, "Content-Type": "application/json"}
    if isinstance(body, bytes):
        resp = httpx.post(system.gateway + path, content=body, headers=headers)
    else:
        resp = httpx.post(system.gateway + path, json=body, headers=system.auth)
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    problem = resp.json()
    assert problem["status"] == status
    assert "Traceback" not in resp.text
    if field is None:  # not even text: there is no field to name
        assert problem["type"] == "/problems/bad-request"
        return
    assert problem["type"] == "/problems/validation-failed"
    assert field in [e["field"] for e in problem["errors"]], problem


def test_oversized_body_is_413_before_reaching_the_service(system: System, unchanged: None) -> None:
    big = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'", "kind": "village", "jurisdiction": "a"}'
    resp = httpx.post(
        system.gateway + "/api/v1/targets",
        content=big,
        headers={**system.auth, "Content-Type": "application/json"},
    )
    assert resp.status_code == 413
    assert resp.json()["type"] == "/problems/payload-too-large"


def test_oversized_chunked_body_is_413(system: System, unchanged: None) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(40):
            yield b"x" * 64 * 1024
        yield b'", "kind": "village", "jurisdiction": "a"}'

    resp = httpx.post(
        system.gateway + "/api/v1/targets",
        content=chunks(),
        headers={**system.auth, "Content-Type": "application/json"},
    )
    assert resp.status_code == 413


def test_wrong_types_in_query_and_path_are_422(system: System) -> None:
    with httpx.Client(base_url=system.gateway, headers=system.auth) as gw:
        assert gw.get("/api/v1/targets/not-a-uuid").status_code == 422
        limit = gw.get("/api/v1/targets", params={"limit": "100000"})
        assert limit.status_code == 422
        assert limit.json()["errors"][0]["field"] == "query.limit"
        since = gw.get("/api/v1/findings", params={"updated_since": "yesterday"})
        assert since.status_code == 422


def test_unknown_route_and_method_are_problems(system: System) -> None:
    with httpx.Client(base_url=system.gateway, headers=system.auth) as gw:
        nowhere = gw.get("/api/v1/nowhere")
        assert nowhere.status_code == 404
        assert nowhere.headers["content-type"] == "application/problem+json"
        wrong = gw.delete("/api/v1/targets")
        assert wrong.status_code == 405
        assert wrong.headers["content-type"] == "application/problem+json"


def test_login_with_bad_form_is_4xx(system: System) -> None:
    with httpx.Client(base_url=system.gateway) as gw:
        assert gw.post("/api/v1/auth/token", data={"grant_type": "magic"}).status_code == 422
        wrong = gw.post(
            "/api/v1/auth/token",
            data={"grant_type": "password", "username": "office1", "password": "wrong"},
        )
        assert wrong.status_code == 400
        assert wrong.json()["error"] == "invalid_grant"
        assert gw.post("/api/v1/auth/token", content=b"\x00\x01").status_code == 422
