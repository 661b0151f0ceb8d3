"""What the referrals service reads from other services, through the gateway, with its own
narrow models of their answers (the owners may add fields; these ignore them)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from services.common.cache import TtlCache
from services.common.gateway_client import GatewayClient
from services.referrals.errors import ReferenceInvalid


class FindingRef(BaseModel):
    """The fields of a finding that leads and rectification items show."""

    model_config = ConfigDict(extra="ignore")

    id: uuid.UUID
    title: str
    target_id: uuid.UUID | None = None
    round_id: uuid.UUID | None = None
    group_id: uuid.UUID | None = None


class MembershipRef(BaseModel):
    """A user's place in an inspection group, as the rounds service keeps it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    group_id: uuid.UUID
    round_id: uuid.UUID
    role: str = "member"  # leader | deputy_leader | member | liaison


async def memberships(gateway: GatewayClient, user_id: uuid.UUID) -> list[MembershipRef]:
    """The groups the user belongs to, in every round (the gateway's tokens carry none)."""
    body = await gateway.get_json("/api/v1/groups/memberships", user_id=str(user_id))
    return [MembershipRef.model_validate(m) for m in body or []]


class MembershipCache(TtlCache[uuid.UUID, list[MembershipRef]]):
    """A user's groups, kept a short while in-process (as the findings service does): every
    read of leads by a non-office user needs them to scope its query, and a change of staffing
    may take `ttl` seconds to be seen here."""

    async def get(self, user_id: uuid.UUID, gateway: GatewayClient) -> list[MembershipRef]:
        return await self.get_or_load(user_id, lambda user: memberships(gateway, user))


async def findings(gateway: GatewayClient, ids: Sequence[uuid.UUID]) -> list[FindingRef]:
    """Each finding, read concurrently; a missing one is a 422 naming `finding_ids.<n>`."""
    answers = await asyncio.gather(*(gateway.get_json(f"/api/v1/findings/{i}") for i in ids))
    errors = [
        {"field": f"finding_ids.{n}", "message": f"no finding {i}", "code": "not_found"}
        for n, (i, answer) in enumerate(zip(ids, answers, strict=True))
        if answer is None
    ]
    if errors:
        raise ReferenceInvalid("; ".join(e["message"] for e in errors), errors=errors)
    return [FindingRef.model_validate(a) for a in answers]


async def check_round(gateway: GatewayClient, round_id: uuid.UUID, field: str = "round_id") -> None:
    if await gateway.get_json(f"/api/v1/rounds/{round_id}") is None:
        raise ReferenceInvalid(
            f"{field}: no round {round_id}",
            errors=[{"field": field, "message": f"no round {round_id}", "code": "not_found"}],
        )


async def check_target(
    gateway: GatewayClient, target_id: uuid.UUID, field: str = "target_id"
) -> None:
    """The inspected unit (巡察对象, in the rounds service's registry) must exist."""
    if await gateway.get_json(f"/api/v1/targets/{target_id}") is None:
        raise ReferenceInvalid(
            f"{field}: no target {target_id}",
            errors=[{"field": field, "message": f"no target {target_id}", "code": "not_found"}],
        )
