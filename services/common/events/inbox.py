"""Consuming the hub's deliveries: `POST /internal/events` on a service (not routed by the
gateway; only the hub's internal token is accepted). The event id goes into the service's
`inbox` table in the same transaction as the handler's change, so a delivery repeated (the hub
retries until it hears 200) is recognised and changes nothing twice."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter
from sqlalchemy import Column, DateTime, MetaData, String, Table, func
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import CurrentPrincipal
from services.common.db import DbSession
from services.common.errors import Forbidden
from services.common.events.catalogue import Envelope

HUB_SUBJECT = "event-hub"
INBOX_PATH = "/internal/events"

Handler = Callable[[AsyncSession, Envelope], Awaitable[None]]


def inbox_table(metadata: MetaData) -> Table:
    return Table(
        "inbox",
        metadata,
        Column("event_id", UUID(as_uuid=True), primary_key=True),
        Column("type", String(100), nullable=False),
        Column("received_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    )


def inbox_router(table: Table, handlers: Mapping[str, Handler]) -> APIRouter:
    router = APIRouter()

    @router.post(INBOX_PATH, include_in_schema=False)
    async def receive(
        envelope: Envelope, session: DbSession, principal: CurrentPrincipal
    ) -> dict[str, str]:
        if principal.subject != HUB_SUBJECT:
            raise Forbidden("only the event hub delivers events")
        first = (
            await session.execute(
                insert(table)
                .values(event_id=envelope.id, type=envelope.type)
                .on_conflict_do_nothing()
                .returning(table.c.event_id)
            )
        ).first()
        if first is None:
            return {"status": "duplicate"}
        handler = handlers.get(envelope.type)
        if handler is not None:
            await handler(session, envelope)
        return {"status": "applied" if handler else "ignored"}

    return router
