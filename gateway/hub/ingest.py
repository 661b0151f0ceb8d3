"""`POST /api/v1/events`: what the services' relays send. Each event is stored once (a re-sent
id is counted as a duplicate and changes nothing) and, in the same transaction, one delivery is
made for each active subscription that wants its type. `GET /api/v1/events/catalogue`: the
event catalogue with each payload's JSON schema."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert

from gateway.hub.models import Event, RelayReport
from gateway.identity.tokens import CurrentCaller
from services.common.db import DbSession
from services.common.errors import Forbidden, ValidationFailed, problem_responses
from services.common.events.catalogue import CATALOGUE, CONSUMERS, Envelope

router = APIRouter(prefix="/api/v1/events", tags=["events"])


class Backlog(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pending: int = Field(ge=0)
    oldest_age_seconds: float = Field(ge=0)


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(max_length=32)
    backlog: Backlog | None = None
    events: list[Envelope] = Field(max_length=1000)


class Accepted(BaseModel):
    accepted: int = Field(description="events stored now")
    duplicates: int = Field(description="events the hub already had (changed nothing)")


def _check(batch: EventBatch) -> None:
    errors: list[dict[str, str]] = []
    for n, event in enumerate(batch.events):
        spec = CATALOGUE.get(event.type)
        if spec is None:
            errors.append({"field": f"events.{n}.type", "message": "not in the catalogue",
                           "code": "unknown_event"})  # fmt: skip
            continue
        if event.source != batch.source or spec.source != batch.source:
            errors.append({"field": f"events.{n}.source",
                           "message": f"{event.type} comes from {spec.source}",
                           "code": "wrong_source"})  # fmt: skip
        if event.version != spec.version:
            message = f"version {spec.version} expected"
            errors.append({"field": f"events.{n}.version", "message": message, "code": "version"})
        try:
            spec.payload.model_validate(event.payload)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            errors.append({"field": f"events.{n}.payload.{where}", "message": first["msg"],
                           "code": "invalid_payload"})  # fmt: skip
    if errors:
        raise ValidationFailed("; ".join(e["message"] for e in errors[:5]), errors=errors)


FAN_OUT = text(
    """
    INSERT INTO deliveries (event_id, subscription_id, event_seq, aggregate_id)
    SELECT e.id, s.id, e.seq, e.aggregate_id
    FROM events e
    JOIN subscriptions s
      ON s.active AND (cardinality(s.event_types) = 0 OR e.type = ANY (s.event_types))
    WHERE e.id = ANY (:ids)
    ON CONFLICT DO NOTHING
    """
)


@router.post(
    "",
    summary="接收事件 Events from a service's outbox relay",
    description="For the services' relays only (client credentials, role `service`; a service "
    "sends its own events). Stored once by event id; fanned out to the subscriptions.",
    responses=problem_responses(Forbidden, ValidationFailed),
)
async def ingest(batch: EventBatch, caller: CurrentCaller, session: DbSession) -> Accepted:
    if "service" not in caller.roles or caller.username != batch.source:
        raise Forbidden("only a service's relay sends its own events")
    _check(batch)
    if not batch.events:
        return Accepted(accepted=0, duplicates=0)
    rows: list[dict[str, Any]] = [e.model_dump() for e in batch.events]
    stored = (
        (
            await session.execute(
                insert(Event).values(rows).on_conflict_do_nothing().returning(Event.id)
            )
        )
        .scalars()
        .all()
    )
    if stored:
        await session.execute(FAN_OUT, {"ids": list(stored)})
    newest: datetime = max(e.occurred_at for e in batch.events)
    backlog = batch.backlog or Backlog(pending=0, oldest_age_seconds=0)
    report = {
        "source": batch.source,
        "last_event_at": newest,
        "pending": max(0, backlog.pending - len(batch.events)),
        "oldest_age_seconds": backlog.oldest_age_seconds,
        "events_received": len(stored),
    }
    stmt = insert(RelayReport).values(report)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[RelayReport.source],
            set_={
                "last_batch_at": text("now()"),
                "last_event_at": stmt.excluded.last_event_at,
                "pending": stmt.excluded.pending,
                "oldest_age_seconds": stmt.excluded.oldest_age_seconds,
                "events_received": RelayReport.events_received + stmt.excluded.events_received,
            },
        )
    )
    return Accepted(accepted=len(stored), duplicates=len(batch.events) - len(stored))


@router.get("/catalogue", summary="事件目录 The event catalogue, with each payload's JSON schema")
async def catalogue() -> list[dict[str, Any]]:
    consumers = {t: [s for s, ts in CONSUMERS.items() if t in ts] for t in CATALOGUE}
    return [
        {
            "type": e.name,
            "version": e.version,
            "source": e.source,
            "aggregate": e.aggregate,
            "description": e.description,
            "confidential": list(e.confidential),
            "consumers": consumers[e.name],
            "schema": e.schema(),
        }
        for e in CATALOGUE.values()
    ]
