"""What the referrals service reads from other services, through the gateway, with its own
narrow models of their answers (the owners may add fields; these ignore them)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

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
    status: str = "confirmed"


# A finding is handed over (移交) once the group leader has confirmed it; a draft is not yet the
# group's finding and a closed one has been dealt with (reopen it first).
HANDED_OVER_FROM = ("confirmed", "handed_over")


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
        _error(n, f"no finding {i}", "not_found")
        for n, (i, answer) in enumerate(zip(ids, answers, strict=True))
        if answer is None
    ]
    if errors:
        raise ReferenceInvalid("; ".join(e["message"] for e in errors), errors=errors)
    return [FindingRef.model_validate(a) for a in answers]


def _error(n: int, message: str, code: str) -> dict[str, str]:
    return {"field": f"finding_ids.{n}", "message": message, "code": code}


def handable(refs: Sequence[FindingRef]) -> None:
    """Only confirmed (or already handed-over) findings become leads or rectification items:
    422 naming each one that is not."""
    errors = [
        _error(n, f"finding {r.id} is {r.status}: only a confirmed finding is handed over",
               "not_confirmed")
        for n, r in enumerate(refs)
        if r.status not in HANDED_OVER_FROM
    ]  # fmt: skip
    if errors:
        raise ReferenceInvalid("; ".join(e["message"] for e in errors), errors=errors)


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


async def _every(gateway: GatewayClient, path: str, **params: str) -> list[dict[str, Any]]:
    """Every item of a paginated list (for short lists: terms, rounds of terms)."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = await gateway.get_json(
            path, limit="200", **params, **({"cursor": cursor} if cursor else {})
        )
        if page is None:
            return items
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return items


async def rounds_of_terms(
    gateway: GatewayClient, term_ids: Sequence[uuid.UUID], jurisdiction: str | None
) -> list[uuid.UUID]:
    """The rounds of the terms named and/or of the terms of a jurisdiction (both given: the
    terms that are both), as the rounds service has them. An unknown term is a 422 naming
    `term_id.<n>`."""
    terms = list(dict.fromkeys(term_ids))
    if terms:
        # one listing rather than a request per named term (up to 50 may be named): the terms
        # of all jurisdictions are a short list, five years each
        known = {uuid.UUID(t["id"]) for t in await _every(gateway, "/api/v1/terms")}
        errors = [
            {"field": f"term_id.{n}", "message": f"no term {t}", "code": "not_found"}
            for n, t in enumerate(terms)
            if t not in known
        ]
        if errors:
            raise ReferenceInvalid("; ".join(e["message"] for e in errors), errors=errors)
    if jurisdiction is not None:
        local = {
            uuid.UUID(t["id"])
            for t in await _every(gateway, "/api/v1/terms", jurisdiction=jurisdiction)
        }
        terms = [t for t in terms if t in local] if terms else sorted(local)
    pages = await asyncio.gather(
        *(_every(gateway, "/api/v1/rounds", term_id=str(t)) for t in terms)
    )
    return [uuid.UUID(r["id"]) for page in pages for r in page]
