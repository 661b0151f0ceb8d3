"""The hub's tables (schema `gateway`).

- `events`: every event once (its id is the producer's), with an arrival `seq`.
- `subscriptions`: who gets what: a service (kind `service`, from the catalogue's consumers) or a
  webhook endpoint (kind `webhook`: URL, signing secrets, the event types, whether it is cleared
  for confidential fields).
- `deliveries`: one per event and subscription, with its own state, attempts and next try;
  `event_seq` and `aggregate_id` are copied from the event so that the next deliverable one of an
  aggregate is found without a join.
- `delivery_attempts`: the delivery log, one row per try.
- `relays`: what each service's relay last reported (its backlog), for the operators' view.
- `platform_callbacks`: every signed callback from the platform accepted, by its webhook id, so
  a replay is recognised.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base

DELIVERY_STATES = ("pending", "failed", "delivered", "dead")
OPEN_STATES = ("pending", "failed")


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_type_seq", "type", "seq"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), unique=True)
    type: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(32))
    aggregate_type: Mapped[str] = mapped_column(String(50))
    aggregate_id: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = _now()
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)


class Subscription(Base):
    __tablename__ = "subscriptions"
    __table_args__ = (
        CheckConstraint("kind IN ('service', 'webhook')", name="kind"),
        CheckConstraint("kind = 'service' OR url IS NOT NULL", name="webhook_url"),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    url: Mapped[str | None] = mapped_column(String(2000))
    event_types: Mapped[list[str]] = mapped_column(ARRAY(String(100)), server_default=text("'{}'"))
    secret: Mapped[str | None] = mapped_column(String(200))
    previous_secret: Mapped[str | None] = mapped_column(String(200))
    previous_secret_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confidential: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "subscription_id"),
        CheckConstraint("state IN ('pending', 'failed', 'delivered', 'dead')", name="state"),
        Index(
            "ix_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("state IN ('pending', 'failed')"),
        ),
        Index(
            "ix_deliveries_open_by_aggregate",
            "subscription_id",
            "aggregate_id",
            "event_seq",
            postgresql_where=text("state IN ('pending', 'failed')"),
        ),
        Index("ix_deliveries_subscription_state", "subscription_id", "state"),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )
    event_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("events.id", ondelete="CASCADE")
    )
    subscription_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("subscriptions.id", ondelete="CASCADE")
    )
    event_seq: Mapped[int] = mapped_column(BigInteger)
    aggregate_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(10), server_default=text("'pending'"))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    next_attempt_at: Mapped[datetime] = _now()
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempts"
    __table_args__ = (Index("ix_delivery_attempts_delivery_id", "delivery_id", "attempt"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("deliveries.id", ondelete="CASCADE")
    )
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = _now()
    status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float] = mapped_column(Float)


class RelayReport(Base):
    __tablename__ = "relays"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_batch_at: Mapped[datetime] = _now()
    last_event_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    pending: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    oldest_age_seconds: Mapped[float] = mapped_column(Float, server_default=text("0"))
    events_received: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))


class PlatformCallback(Base):
    __tablename__ = "platform_callbacks"

    webhook_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    received_at: Mapped[datetime] = _now()
    lead_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    kind: Mapped[str] = mapped_column(String(50))
    status: Mapped[int] = mapped_column(Integer)
