"""What the findings service reads from rounds, through the gateway, as itself (role `service`).
Narrow models: only the fields a finding keeps or checks."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from pydantic import BaseModel, ConfigDict

from services.common.cache import TtlCache
from services.common.gateway_client import GatewayClient

K = TypeVar("K")
V = TypeVar("V")
PARALLEL_CALLS = 8


class _Ref(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class AssignmentRef(_Ref):
    id: uuid.UUID
    round_id: uuid.UUID
    group_id: uuid.UUID
    target_id: uuid.UUID


class CategoryRef(_Ref):
    id: uuid.UUID
    code: str
    name: str


class TargetRef(_Ref):
    id: uuid.UUID
    name: str
    parent_id: uuid.UUID | None = None


class MembershipRef(_Ref):
    group_id: uuid.UUID
    round_id: uuid.UUID
    group_kind: str = ""
    role: str


class RoundsClient:
    def __init__(self, gateway: GatewayClient) -> None:
        self.gateway = gateway

    async def assignment(self, assignment_id: uuid.UUID) -> AssignmentRef | None:
        body = await self.gateway.get_json(f"/api/v1/assignments/{assignment_id}")
        return None if body is None else AssignmentRef.model_validate(body)

    async def target(self, target_id: uuid.UUID) -> TargetRef | None:
        body = await self.gateway.get_json(f"/api/v1/targets/{target_id}")
        return None if body is None else TargetRef.model_validate(body)

    async def categories(self, round_id: uuid.UUID) -> dict[uuid.UUID, CategoryRef] | None:
        """The round's categories in effect (template + own), all pages; None if no such round."""
        out: dict[uuid.UUID, CategoryRef] = {}
        params: dict[str, str | int] = {"limit": 200}
        while True:
            page = await self.gateway.get_json(f"/api/v1/rounds/{round_id}/categories", **params)
            if page is None:
                return None
            for item in page["items"]:
                ref = CategoryRef.model_validate(item)
                out[ref.id] = ref
            if not page.get("next_cursor"):
                return out
            params["cursor"] = page["next_cursor"]

    async def memberships(self, user_id: uuid.UUID) -> list[MembershipRef]:
        body = await self.gateway.get_json("/api/v1/groups/memberships", user_id=str(user_id))
        return [MembershipRef.model_validate(m) for m in body or []]

    async def assignments(self, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, AssignmentRef | None]:
        return await _each(set(ids), self.assignment)

    async def targets(self, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, TargetRef | None]:
        return await _each(set(ids), self.target)

    async def categories_of(
        self, round_ids: Iterable[uuid.UUID]
    ) -> dict[uuid.UUID, dict[uuid.UUID, CategoryRef] | None]:
        return await _each(set(round_ids), self.categories)


async def _each(keys: set[K], fetch: Callable[[K], Awaitable[V]]) -> dict[K, V]:
    """One call per distinct key (rounds has no bulk lookup), a few at a time."""
    gate = asyncio.Semaphore(PARALLEL_CALLS)

    async def one(key: K) -> tuple[K, V]:
        async with gate:
            return key, await fetch(key)

    return dict(await asyncio.gather(*(one(k) for k in keys)))


class MembershipCache(TtlCache[uuid.UUID, list[MembershipRef]]):
    """A user's groups, kept a short while in-process: every request needs them to scope its
    query, and a change of staffing may take `ttl` seconds to be seen here."""

    async def get(self, user_id: uuid.UUID, rounds: RoundsClient) -> list[MembershipRef]:
        return await self.get_or_load(user_id, rounds.memberships)
