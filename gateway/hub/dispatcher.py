"""Delivering the hub's events: a background task in every gateway replica.

Each turn claims due deliveries (`FOR UPDATE SKIP LOCKED`, so replicas share the work), leasing
them (their next try moves `lease_seconds` ahead: a replica that dies mid-send leaves them to be
retried when the lease runs out), sends them concurrently and records each outcome with a row in
the delivery log. Per subscription and aggregate, a delivery is due only when no earlier one of
the same aggregate is still open, so every subscriber sees an aggregate's events in order.

- A service gets `POST <service>/internal/events` with an internal token of the hub (subject
  `event-hub`); it answers 200 once it has applied the event (or had it already).
- A webhook gets the event signed the Standard Webhooks way: `webhook-id` (the event id, the
  same on every try), `webhook-timestamp`, and `webhook-signature` with one `v1,` signature per
  secret in force (two while a rotated secret is still honoured). 2xx is delivered; 410 means
  the endpoint is gone: the subscription is disabled and the delivery dead-lettered; anything
  else (or no answer) is retried on the schedule, then dead-lettered after the last try.
- Services are retried with capped exponential backoff and jitter (they are ours: they come
  back), webhooks on `webhook_retry_schedule` (about three days).
- Fields the catalogue marks confidential are left out unless the subscription is cleared.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from prometheus_client import Counter, Gauge
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks.webhooks import Webhook

from gateway.hub.models import Event, Subscription
from gateway.hub.urls import UnsafeURL, check_url
from gateway.identity.tokens import Caller
from gateway.keys import Signer
from gateway.proxy.handler import InternalTokens
from gateway.settings import GatewaySettings
from services.common.db import Database
from services.common.events.catalogue import CONSUMERS, redact
from services.common.events.inbox import HUB_SUBJECT, INBOX_PATH

log = logging.getLogger(__name__)

DELIVERIES = Counter(
    "hub_deliveries_total", "Delivery attempts by subscriber, kind and outcome",
    ["subscriber", "kind", "outcome"],
)  # fmt: skip
OPEN = Gauge(
    "hub_deliveries_open", "Deliveries not yet delivered, by subscriber and state",
    ["subscriber", "state"],
)  # fmt: skip
HUB = Caller(subject=HUB_SUBJECT, username=HUB_SUBJECT, roles=("service",), expires_at=0)

CLAIM = text(
    """
    WITH due AS (
        SELECT d.id FROM deliveries d
        WHERE d.state IN ('pending', 'failed') AND d.next_attempt_at <= now()
          AND NOT EXISTS (
              SELECT 1 FROM deliveries p
              WHERE p.subscription_id = d.subscription_id AND p.aggregate_id = d.aggregate_id
                AND p.state IN ('pending', 'failed') AND p.event_seq < d.event_seq)
        ORDER BY d.event_seq
        LIMIT :batch
        FOR UPDATE SKIP LOCKED)
    UPDATE deliveries d
       SET attempts = d.attempts + 1,
           next_attempt_at = now() + make_interval(secs => CAST(:lease AS DOUBLE PRECISION)),
           updated_at = now()
      FROM due WHERE d.id = due.id
    RETURNING d.id, d.event_id, d.subscription_id, d.attempts
    """
)

RECORD = text(
    """
    UPDATE deliveries
       SET state = CAST(:state AS VARCHAR), last_status = CAST(:status AS INTEGER),
           last_error = CAST(:error AS TEXT),
           next_attempt_at = now() + make_interval(secs => CAST(:retry_in AS DOUBLE PRECISION)),
           delivered_at = CASE WHEN CAST(:state AS VARCHAR) = 'delivered' THEN now() END,
           updated_at = now()
     WHERE id = :id AND attempts = :attempt
    """
)
# Taken from the delivery row, so that a try of one deleted (with its subscription) while in
# flight is skipped, instead of its foreign key failing the record of the whole batch.
LOG = text(
    """
    INSERT INTO delivery_attempts (delivery_id, attempt, status, error, duration_ms)
    SELECT id, CAST(:attempt AS INTEGER), CAST(:status AS INTEGER), CAST(:error AS TEXT),
           CAST(:duration_ms AS DOUBLE PRECISION)
      FROM deliveries WHERE id = :id
    """
)


@dataclass
class Outcome:
    delivery_id: uuid.UUID
    attempt: int
    subscription: Subscription
    state: str  # delivered | failed | dead
    status: int | None
    error: str | None
    retry_in: float
    duration_ms: float
    gone: bool = False


def sign_headers(
    secrets: Sequence[str], msg_id: str, body: bytes, now: datetime | None = None
) -> dict[str, str]:
    """Standard Webhooks headers: one `v1,` signature per secret in force."""
    at = now or datetime.now(UTC)
    text_body = body.decode()
    signatures = [Webhook(s).sign(msg_id, at, text_body) for s in secrets]
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
    }


def secrets_in_force(sub: Subscription, now: datetime) -> list[str]:
    found = [sub.secret] if sub.secret else []
    if sub.previous_secret and sub.previous_secret_until and sub.previous_secret_until > now:
        found.append(sub.previous_secret)
    return found


async def ensure_service_subscriptions(session: AsyncSession) -> None:
    """The catalogue's consumers, as subscriptions (their event types kept current)."""
    for service, types in CONSUMERS.items():
        await session.execute(
            text(
                """
                INSERT INTO subscriptions (name, kind, event_types)
                VALUES (:name, 'service', :types)
                ON CONFLICT (name) DO UPDATE
                   SET event_types = EXCLUDED.event_types, active = true, updated_at = now()
                """
            ),
            {"name": f"service:{service}", "types": list(types)},
        )


class Dispatcher:
    def __init__(self, db: Database, settings: GatewaySettings, signer: Signer) -> None:
        self.db = db
        self.settings = settings
        self.tokens = InternalTokens(signer, settings.internal_token_ttl_seconds)
        self.services = {
            "rounds": settings.rounds_url.rstrip("/"),
            "findings": settings.findings_url.rstrip("/"),
            "referrals": settings.referrals_url.rstrip("/"),
        }
        self.http = httpx.AsyncClient(
            timeout=settings.webhook_timeout_seconds,
            follow_redirects=False,
            # idle connections dropped before uvicorn's 5 s keep-alive closes them under a send
            limits=httpx.Limits(max_connections=64, keepalive_expiry=4.0),
        )
        self.failures = 0
        self.last_gauges = 0.0

    async def close(self) -> None:
        await self.http.aclose()

    async def run(self) -> None:
        async with self.db.sessions() as session:
            await ensure_service_subscriptions(session)
            await session.commit()
        while True:
            try:
                done = await self.once()
                self.failures = 0
                if time.monotonic() - self.last_gauges > 5:
                    await self.update_gauges()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away: try again shortly
                self.failures += 1
                delay = random.uniform(0, min(10.0, 0.2 * 2**self.failures))  # noqa: S311
                log.warning("event hub dispatch failed (%s); retry in %.2fs", exc, delay)
                await asyncio.sleep(delay)
                continue
            if done < self.settings.hub_batch:
                await asyncio.sleep(self.settings.hub_poll_seconds)

    async def once(self) -> int:
        async with self.db.sessions() as session:
            claimed = (
                await session.execute(
                    CLAIM,
                    {"batch": self.settings.hub_batch, "lease": self.settings.hub_lease_seconds},
                )
            ).all()
            await session.commit()
            if not claimed:
                return 0
            events = {
                e.id: e
                for e in (
                    await session.scalars(
                        select(Event).where(Event.id.in_({c.event_id for c in claimed}))
                    )
                ).all()
            }
            subs = {
                s.id: s
                for s in (
                    await session.scalars(
                        select(Subscription).where(
                            Subscription.id.in_({c.subscription_id for c in claimed})
                        )
                    )
                ).all()
            }
        outcomes = await asyncio.gather(
            *(
                self.attempt(c.id, c.attempts, subs[c.subscription_id], events[c.event_id])
                for c in claimed
            )
        )
        await self.record(outcomes)
        return len(claimed)

    async def attempt(
        self, delivery_id: uuid.UUID, attempt: int, sub: Subscription, event: Event
    ) -> Outcome:
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            if not sub.active:
                raise UnsafeURL(f"subscription disabled: {sub.disabled_reason or ''}")
            status = await (self.to_service(sub, event) if sub.kind == "service"
                            else self.to_webhook(sub, event))  # fmt: skip
        except UnsafeURL as exc:
            error = f"refused: {exc}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        took = (time.perf_counter() - started) * 1000
        ok = status is not None and 200 <= status < 300
        gone = sub.kind == "webhook" and status == 410
        if ok:
            state, retry_in = "delivered", 0.0
        elif gone or (error or "").startswith("refused"):
            state, retry_in = "dead", 0.0
        else:
            retry = self.retry_after(sub, attempt)
            state, retry_in = ("failed", retry) if retry is not None else ("dead", 0.0)
        DELIVERIES.labels(sub.name, sub.kind, state).inc()
        return Outcome(delivery_id, attempt, sub, state, status, error, retry_in, took, gone)

    def retry_after(self, sub: Subscription, attempt: int) -> float | None:
        """Seconds to the next try after failed try number `attempt`; None: that was the last."""
        if sub.kind == "service":
            if attempt >= self.settings.service_retry_limit:
                return None
            cap = self.settings.service_retry_cap_seconds
            return random.uniform(0, min(cap, 0.1 * 2 ** min(attempt, 30)))  # noqa: S311
        schedule = self.settings.webhook_retry_schedule
        return float(schedule[attempt - 1]) if attempt <= len(schedule) else None

    def body(self, sub: Subscription, event: Event) -> bytes:
        payload = event.payload if sub.confidential else redact(event.type, event.payload)
        return orjson.dumps(
            {
                "id": str(event.id),
                "type": event.type,
                "version": event.version,
                "source": event.source,
                "aggregate_type": event.aggregate_type,
                "aggregate_id": event.aggregate_id,
                "occurred_at": event.occurred_at.isoformat(),
                "payload": payload,
            }
        )

    async def to_service(self, sub: Subscription, event: Event) -> int:
        service = sub.name.removeprefix("service:")
        token = self.tokens.mint(HUB, service, uuid.uuid4().hex).decode()
        resp = await self.http.post(
            self.services[service] + INBOX_PATH,
            content=self.body(sub, event),
            headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
            timeout=self.settings.service_delivery_timeout_seconds,
        )
        return resp.status_code

    async def to_webhook(self, sub: Subscription, event: Event) -> int:
        assert sub.url is not None
        await check_url(sub.url, allow_private=self.settings.webhooks_allow_private)
        body = self.body(sub, event)
        headers = sign_headers(secrets_in_force(sub, datetime.now(UTC)), str(event.id), body)
        resp = await self.http.post(sub.url, content=body, headers=headers)
        return resp.status_code

    async def record(self, outcomes: Sequence[Outcome]) -> None:
        async with self.db.sessions() as session:
            for o in outcomes:
                params: dict[str, Any] = {
                    "id": o.delivery_id,
                    "attempt": o.attempt,
                    "state": o.state,
                    "status": o.status,
                    "error": o.error,
                    "retry_in": o.retry_in,
                }
                await session.execute(RECORD, params)
                await session.execute(
                    LOG,
                    {"id": o.delivery_id, "attempt": o.attempt, "status": o.status,
                     "error": o.error, "duration_ms": o.duration_ms},
                )  # fmt: skip
                if o.gone:
                    await session.execute(
                        text(
                            "UPDATE subscriptions SET active = false, updated_at = now(), "
                            "disabled_reason = :why WHERE id = :id AND active"
                        ),
                        {"id": o.subscription.id, "why": "the endpoint answered 410 Gone"},
                    )
            await session.commit()

    async def update_gauges(self) -> None:
        self.last_gauges = time.monotonic()
        async with self.db.sessions() as session:
            rows = (
                await session.execute(
                    text(
                        "SELECT s.name, d.state, count(*) FROM deliveries d "
                        "JOIN subscriptions s ON s.id = d.subscription_id "
                        "WHERE d.state <> 'delivered' GROUP BY s.name, d.state"
                    )
                )
            ).all()
        OPEN.clear()
        for name, state, count in rows:
            OPEN.labels(name, state).set(count)
