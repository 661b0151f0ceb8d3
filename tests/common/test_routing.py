"""405s as HTTP wants them: `Allow` lists the path's every method, and a literal segment is not
taken for a malformed id of its `{id}` sibling."""

from __future__ import annotations

import uuid

import httpx
from fastapi import APIRouter, FastAPI

from services.common.errors import install_problem_handlers
from services.common.routing import LiteralPathsFirst


def make_app() -> FastAPI:
    router = APIRouter(prefix="/things")

    @router.post("")
    async def create() -> dict[str, str]:
        return {}

    @router.get("")
    async def list_() -> dict[str, str]:
        return {}

    @router.post("/batch")
    async def batch() -> dict[str, str]:
        return {}

    @router.get("/{thing_id}")
    async def read(thing_id: uuid.UUID) -> dict[str, str]:
        return {"id": str(thing_id)}

    @router.delete("/{thing_id}")
    async def delete(thing_id: uuid.UUID) -> None:
        return None

    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(router)
    app.add_middleware(LiteralPathsFirst, api=app)
    return app


async def call(method: str, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.request(method, path)


async def test_allow_names_every_method_of_the_path() -> None:
    resp = await call("PUT", "/things")
    assert resp.status_code == 405
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.headers["allow"] == "GET, HEAD, POST"
    resp = await call("OPTIONS", f"/things/{uuid.uuid4()}")
    assert resp.headers["allow"] == "DELETE, GET, HEAD"


async def test_a_literal_segment_is_405_for_its_missing_methods() -> None:
    for method in ("GET", "DELETE"):
        resp = await call(method, "/things/batch")
        assert resp.status_code == 405, method
        assert resp.headers["allow"] == "POST"
    assert (await call("POST", "/things/batch")).status_code == 200


async def test_a_malformed_id_is_still_a_field_error() -> None:
    resp = await call("GET", "/things/not-a-uuid")
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "path.thing_id"
