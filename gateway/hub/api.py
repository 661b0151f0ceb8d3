"""What operators see of the hub (role `admin` or `office`): deliveries per subscriber by state
and each service relay's backlog, as last reported."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy import text

from gateway.identity.tokens import Caller, CurrentCaller
from services.common.db import DbSession
from services.common.errors import Forbidden, problem_responses

router = APIRouter(prefix="/api/v1/hub", tags=["event hub"])
OPERATORS = ("admin", "office")


async def operator(caller: CurrentCaller) -> Caller:
    if not set(caller.roles) & set(OPERATORS):
        raise Forbidden("the event hub is for operators (admin, office)")
    return caller


Operator = Annotated[Caller, Depends(operator)]


class SubscriberStatus(BaseModel):
    name: str
    kind: str
    active: bool
    disabled_reason: str | None
    pending: int = Field(description="never tried, or leased for a try now")
    failed: int = Field(description="failed, waiting for the next try")
    dead: int = Field(description="dead-lettered: every try failed, or the endpoint is gone")
    delivered: int
    oldest_open_at: datetime | None = Field(description="the oldest undelivered event's time")


class RelayStatus(BaseModel):
    source: str
    last_batch_at: datetime
    last_event_at: datetime | None
    pending: int = Field(description="events waiting in the service's outbox, as reported")
    lag_seconds: float = Field(description="age of its oldest unsent event, as reported")
    events_received: int


class HubStatus(BaseModel):
    events: int
    subscribers: list[SubscriberStatus]
    relays: list[RelayStatus]


@router.get(
    "/status",
    summary="事件中心状态 Deliveries per subscriber and relay lag per service",
    responses=problem_responses(Forbidden),
)
async def status(session: DbSession, _: Operator) -> HubStatus:
    subscribers = (
        await session.execute(
            text(
                """
                SELECT s.name, s.kind, s.active, s.disabled_reason,
                       count(*) FILTER (WHERE d.state = 'pending') AS pending,
                       count(*) FILTER (WHERE d.state = 'failed') AS failed,
                       count(*) FILTER (WHERE d.state = 'dead') AS dead,
                       count(*) FILTER (WHERE d.state = 'delivered') AS delivered,
                       min(e.occurred_at) FILTER (WHERE d.state IN ('pending', 'failed'))
                           AS oldest_open_at
                FROM subscriptions s
                LEFT JOIN deliveries d ON d.subscription_id = s.id
                LEFT JOIN events e ON e.id = d.event_id AND d.state IN ('pending', 'failed')
                GROUP BY s.id ORDER BY s.name
                """
            )
        )
    ).mappings()
    relays = (
        await session.execute(
            text(
                "SELECT source, last_batch_at, last_event_at, pending, "
                "oldest_age_seconds AS lag_seconds, events_received FROM relays ORDER BY source"
            )
        )
    ).mappings()
    events = (await session.execute(text("SELECT count(*) FROM events"))).scalar_one()
    return HubStatus(
        events=events,
        subscribers=[SubscriberStatus.model_validate(dict(r)) for r in subscribers],
        relays=[RelayStatus.model_validate(dict(r)) for r in relays],
    )
