"""Webhook subscriptions and their deliveries, as the operators manage them (Web 回调订阅):
register an endpoint, change or pause it, rotate its signing secret, read its delivery log,
replay one delivery or many. Schemas, errors, queries and rules of that part of the hub; the
routes are in `api.py`, the sending in `dispatcher.py`.

Secrets: `whsec_` + base64 of 32 random bytes (the Standard Webhooks form), shown once, in the
answer to the registration or the rotation, never in a read. A rotation keeps signing with the
previous secret for `grace_hours` besides the new one (the dispatcher sends one `v1,` signature
per secret in force), so the receiver switches over without losing a delivery; rotating again
within the grace forgets the oldest.

Replay and the attempt counter: `deliveries.attempts` only ever grows. It numbers the tries in the
delivery log, and it is the fence the dispatcher records an outcome against (its RECORD matches
on it, so the outcome of a try that a later claim has overtaken changes nothing). A replay keeps
the counter and the log and makes the delivery due now (state `pending`). The retry schedule is
indexed by the try number, so a replayed delivery gets what is left of it: one dead-lettered
after the whole schedule has its one try and is dead again if that fails (replay it again once
the endpoint is fixed); nothing is retried for days behind the operator's back.

Service subscriptions (kind `service`) follow the event catalogue: they are listed and their
deliveries can be replayed, but they are not changed, paused or deleted here."""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import Row, Select, case, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.hub.models import OPEN_STATES, Delivery, DeliveryAttempt, Event, Subscription
from gateway.hub.urls import UnsafeURL, check_url
from gateway.identity.tokens import Caller
from services.common.concurrency import check_if_match, version_at
from services.common.enums import LabeledEnum
from services.common.errors import Conflict, Forbidden, NotFound, ValidationFailed, field_error
from services.common.events.catalogue import CATALOGUE, redact
from services.common.pagination import PageParams, keyset

SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret
RESERVED_PREFIX = "service:"  # the names of the services' subscriptions


# ---- enums ----


class SubscriptionKind(LabeledEnum):
    service = ("service", "内部服务")
    webhook = ("webhook", "外部回调地址")


class DeliveryState(LabeledEnum):
    pending = ("pending", "待投递")
    failed = ("failed", "投递失败待重试")
    delivered = ("delivered", "已送达")
    dead = ("dead", "死信（已停止重试）")


class ReplayableState(LabeledEnum):
    """Deliveries in this state are replayed (pending ones are about to be tried anyway)."""

    dead = ("dead", "死信")
    failed = ("failed", "投递失败待重试")
    delivered = ("delivered", "已送达")


# ---- errors (class name = stable code) ----


class SubscriptionNotFound(NotFound):
    title_en = "Subscription not found"
    title_zh = "订阅不存在"


class DeliveryNotFound(NotFound):
    title_en = "Delivery not found"
    title_zh = "投递记录不存在"


class SubscriptionInvalid(ValidationFailed):
    title_en = "The subscription has an invalid field"
    title_zh = "订阅字段无效"


class SubscriptionNameTaken(Conflict):
    title_en = "A subscription of this name exists"
    title_zh = "订阅名称已存在"


class ManagedByCatalogue(Conflict):
    title_en = "A service's subscription follows the event catalogue and is not changed here"
    title_zh = "内部服务的订阅由事件目录维护，不能在此修改或删除"


class SubscriptionInactive(Conflict):
    title_en = "The subscription is disabled: enable it before replaying"
    title_zh = "订阅已停用，请先启用再重新投递"


def refuse(field: str, message: str, code: str) -> SubscriptionInvalid:
    """A 422 naming the field, as the request validation does."""
    return field_error(SubscriptionInvalid, field, message, code)


# ---- schemas ----

# the catalogue's names as an enum in the OpenAPI; the check itself is `_check_types` (a 422
# naming the position, like the other refusals of a subscription)
EventTypeName = Annotated[
    str, Field(min_length=1, max_length=100, json_schema_extra={"enum": sorted(CATALOGUE)})
]
EVENT_TYPES_DOC = "event types of the catalogue (GET /api/v1/events/catalogue); empty: every event"


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="unique; `service:` is reserved")
    url: str = Field(
        min_length=1,
        max_length=2000,
        description="http(s), no credentials; refused when its host is not a public address",
    )
    event_types: list[EventTypeName] = Field(
        default_factory=list, max_length=100, description=EVENT_TYPES_DOC
    )
    confidential: bool = Field(
        default=False,
        strict=True,
        description="cleared for the catalogue's confidential fields (lead subjects' names); "
        "without it they are left out of every delivery",
    )


class SubscriptionUpdate(BaseModel):
    """Only the fields sent change."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, min_length=1, max_length=2000)
    event_types: list[EventTypeName] | None = Field(
        default=None, max_length=100, description=EVENT_TYPES_DOC
    )
    active: bool | None = Field(
        default=None,
        strict=True,
        description="false pauses the endpoint (no new deliveries; open ones are dead-lettered "
        "at their next try, to be replayed later); true enables it again and clears "
        "`disabled_reason`",
    )


class SubscriptionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    kind: SubscriptionKind
    url: str | None
    event_types: list[str] = Field(description="empty: every event")
    confidential: bool
    active: bool
    disabled_reason: str | None = Field(description="why it is inactive (e.g. it answered 410)")
    previous_secret_until: datetime | None = Field(
        description="after a rotation: the previous secret is signed with until then"
    )
    created_by: str | None
    created_at: datetime
    updated_at: datetime


class SubscriptionCreated(SubscriptionRead):
    secret: str = Field(
        description="the signing secret, shown this once: the receiver verifies with it"
    )


class SecretRotation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grace_hours: int = Field(
        default=24,
        strict=True,
        ge=0,
        le=168,
        description="hours the previous secret is still signed with (0: from now on only the new)",
    )


class RotatedSecret(BaseModel):
    secret: str = Field(description="the new signing secret, shown this once")
    previous_secret_until: datetime | None = Field(
        description="the previous secret is signed with until then (absent with no grace)"
    )


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    subscription_id: uuid.UUID
    event_id: uuid.UUID = Field(description="also the `webhook-id` header of every try")
    event_type: str
    aggregate_id: str
    state: DeliveryState
    attempts: int = Field(description="tries so far; a replay continues the count")
    next_attempt_at: datetime | None = Field(description="when it is tried next (open ones only)")
    last_status: int | None = Field(description="HTTP status of the last try")
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    updated_at: datetime


class AttemptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempt: int
    at: datetime
    status: int | None = Field(description="HTTP status answered; absent when none came")
    error: str | None
    duration_ms: float


class EventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    type: str
    version: int
    source: str
    aggregate_type: str
    aggregate_id: str
    occurred_at: datetime
    received_at: datetime
    payload: dict[str, Any] = Field(
        description="without the catalogue's confidential fields, whoever the subscriber"
    )


class DeliveryDetail(DeliveryRead):
    event: EventRead
    log: list[AttemptRead] = Field(description="the delivery log: one entry per try, in order")


class BulkReplay(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: ReplayableState = ReplayableState.dead
    since: AwareDatetime | None = Field(
        default=None, description="deliveries made (the event reached the hub) at or after"
    )
    until: AwareDatetime | None = Field(default=None, description="... and before")


class Replayed(BaseModel):
    replayed: int = Field(description="deliveries made due now")


# ---- queries ----


def version_of(sub: Subscription) -> int:
    """The ETag version of a subscription: its `updated_at` in microseconds (every change,
    the dispatcher's disabling on 410 included, sets it)."""
    return version_at(sub.updated_at)


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _delivery_columns() -> Select[Any]:
    return select(
        Delivery.id,
        Delivery.subscription_id,
        Delivery.event_id,
        Event.type.label("event_type"),
        Delivery.aggregate_id,
        Delivery.state,
        Delivery.attempts,
        case((Delivery.state.in_(OPEN_STATES), Delivery.next_attempt_at)).label("next_attempt_at"),
        Delivery.last_status,
        Delivery.last_error,
        Delivery.delivered_at,
        Delivery.created_at,
        Delivery.updated_at,
    ).join(Event, Event.id == Delivery.event_id)


_DUE_NOW: dict[str, Any] = {
    "state": "pending",
    "next_attempt_at": func.now(),
    "delivered_at": None,
    "updated_at": func.now(),
}


class HubRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def subscription(
        self, subscription_id: uuid.UUID, *, for_update: bool = False
    ) -> Subscription | None:
        stmt = select(Subscription).where(Subscription.id == subscription_id)
        if for_update:
            stmt = stmt.with_for_update()
        found: Subscription | None = await self.session.scalar(stmt)
        return found

    async def subscriptions(
        self, params: PageParams, kind: SubscriptionKind | None
    ) -> Sequence[Subscription]:
        stmt = select(Subscription)
        if kind is not None:
            stmt = stmt.where(Subscription.kind == kind.value)
        query = keyset(stmt, params, Subscription.created_at, Subscription.id)
        return (await self.session.scalars(query)).all()

    async def add_webhook(self, values: dict[str, Any]) -> Subscription | None:
        """The new subscription; None when the name is taken."""
        stmt = (
            insert(Subscription)
            .values(kind=SubscriptionKind.webhook.value, **values)
            .on_conflict_do_nothing(index_elements=[Subscription.name])
            .returning(Subscription)
        )
        added: Subscription | None = await self.session.scalar(stmt)
        return added

    async def deliveries(
        self, subscription_id: uuid.UUID, state: DeliveryState | None, params: PageParams
    ) -> Sequence[Row[Any]]:
        stmt = _delivery_columns().where(Delivery.subscription_id == subscription_id)
        if state is not None:
            stmt = stmt.where(Delivery.state == state.value)
        query = keyset(stmt, params, Delivery.created_at, Delivery.id)
        return (await self.session.execute(query)).all()

    async def delivery(self, delivery_id: uuid.UUID) -> Row[Any] | None:
        stmt = _delivery_columns().where(Delivery.id == delivery_id)
        return (await self.session.execute(stmt)).first()

    async def event(self, event_id: uuid.UUID) -> Event:
        found: Event = await self.session.get_one(Event, event_id)
        return found

    async def log(self, delivery_id: uuid.UUID) -> Sequence[DeliveryAttempt]:
        stmt = (
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id == delivery_id)
            .order_by(DeliveryAttempt.attempt, DeliveryAttempt.id)
        )
        return (await self.session.scalars(stmt)).all()

    async def subscription_of_delivery(self, delivery_id: uuid.UUID) -> Subscription | None:
        stmt = select(Subscription).join(Delivery, Delivery.subscription_id == Subscription.id)
        found: Subscription | None = await self.session.scalar(
            stmt.where(Delivery.id == delivery_id)
        )
        return found

    async def replay(self, delivery_id: uuid.UUID) -> None:
        stmt = update(Delivery).where(Delivery.id == delivery_id).values(**_DUE_NOW)
        await self.session.execute(stmt.execution_options(synchronize_session=False))

    async def replay_many(
        self,
        subscription_id: uuid.UUID,
        state: ReplayableState,
        since: datetime | None,
        until: datetime | None,
    ) -> int:
        """One set-based UPDATE; the number of deliveries it made due."""
        stmt = update(Delivery).where(
            Delivery.subscription_id == subscription_id, Delivery.state == state.value
        )
        if since is not None:
            stmt = stmt.where(Delivery.created_at >= since)
        if until is not None:
            stmt = stmt.where(Delivery.created_at < until)
        result = await self.session.execute(
            stmt.values(**_DUE_NOW).execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0))


# ---- rules ----


class WebhookService:
    """Flushes, never commits: the request commits."""

    def __init__(self, session: AsyncSession, *, allow_private: bool) -> None:
        self.session = session
        self.repo = HubRepository(session)
        self.allow_private = allow_private

    async def _check_url(self, url: str) -> None:
        try:
            await check_url(url, allow_private=self.allow_private)
        except UnsafeURL as exc:
            raise refuse("url", str(exc), "unsafe_url") from exc

    @staticmethod
    def _check_types(types: Sequence[str]) -> list[str]:
        for n, name in enumerate(types):
            if name not in CATALOGUE:
                raise refuse(f"event_types.{n}", f"{name} is not in the catalogue", "unknown_event")
        return list(dict.fromkeys(types))

    async def register(self, data: SubscriptionCreate, by: Caller) -> SubscriptionCreated:
        if data.name.startswith(RESERVED_PREFIX):
            raise refuse("name", f"`{RESERVED_PREFIX}` is reserved for services", "reserved_name")
        if data.confidential and "admin" not in by.roles:
            raise Forbidden("only an administrator clears a subscriber for lead subjects' names")
        types = self._check_types(data.event_types)
        await self._check_url(data.url)
        secret = new_secret()
        sub = await self.repo.add_webhook(
            {
                "name": data.name,
                "url": data.url,
                "event_types": types,
                "confidential": data.confidential,
                "secret": secret,
                "created_by": by.username or by.subject,
            }
        )
        if sub is None:
            raise SubscriptionNameTaken(f"a subscription named {data.name} exists")
        return SubscriptionCreated.model_validate(
            {**SubscriptionRead.model_validate(sub).model_dump(), "secret": secret}
        )

    async def get(self, subscription_id: uuid.UUID, *, for_update: bool = False) -> Subscription:
        sub = await self.repo.subscription(subscription_id, for_update=for_update)
        if sub is None:
            raise SubscriptionNotFound(f"subscription {subscription_id} not found")
        return sub

    async def _webhook_for_change(
        self, subscription_id: uuid.UUID, if_match: str | None
    ) -> Subscription:
        sub = await self.get(subscription_id, for_update=True)
        if sub.kind != SubscriptionKind.webhook.value:
            raise ManagedByCatalogue(f"{sub.name} is a service's subscription")
        check_if_match(if_match, version_of(sub))
        return sub

    async def update(
        self, subscription_id: uuid.UUID, data: SubscriptionUpdate, if_match: str | None, by: Caller
    ) -> Subscription:
        sub = await self._webhook_for_change(subscription_id, if_match)
        sent = data.model_dump(exclude_unset=True)
        for field, value in sent.items():
            if value is None:
                raise refuse(field, "may not be null", "null")
        if "event_types" in sent:
            sub.event_types = self._check_types(sent["event_types"])
        if "url" in sent:
            await self._check_url(sent["url"])
            sub.url = sent["url"]
        if sent.get("active") is True and not sub.active:
            # DNS may have changed while it was off
            assert sub.url is not None
            await self._check_url(sub.url)
            sub.active, sub.disabled_reason = True, None
        elif sent.get("active") is False and sub.active:
            sub.active, sub.disabled_reason = False, f"paused by {by.username or by.subject}"
        await self.session.flush()
        await self.session.refresh(sub)
        return sub

    async def delete(self, subscription_id: uuid.UUID, if_match: str | None) -> None:
        """With its deliveries and their log (the endpoint is gone for good)."""
        sub = await self._webhook_for_change(subscription_id, if_match)
        await self.session.delete(sub)
        await self.session.flush()

    async def rotate(
        self, subscription_id: uuid.UUID, grace_hours: int, if_match: str | None
    ) -> RotatedSecret:
        sub = await self._webhook_for_change(subscription_id, if_match)
        secret = new_secret()
        if grace_hours > 0:
            until: datetime | None = datetime.now(UTC) + timedelta(hours=grace_hours)
            sub.previous_secret, sub.previous_secret_until = sub.secret, until
        else:
            until = None
            sub.previous_secret, sub.previous_secret_until = None, None
        sub.secret = secret
        await self.session.flush()
        return RotatedSecret(secret=secret, previous_secret_until=until)

    async def delivery(self, delivery_id: uuid.UUID) -> DeliveryDetail:
        row = await self.repo.delivery(delivery_id)
        if row is None:
            raise DeliveryNotFound(f"delivery {delivery_id} not found")
        event = await self.repo.event(row.event_id)
        log = await self.repo.log(delivery_id)
        shown = EventRead.model_validate(event).model_copy(
            update={"payload": redact(event.type, event.payload)}
        )
        return DeliveryDetail.model_validate(
            {
                **DeliveryRead.model_validate(row).model_dump(),
                "event": shown,
                "log": [AttemptRead.model_validate(a) for a in log],
            }
        )

    async def replay(self, delivery_id: uuid.UUID) -> DeliveryRead:
        sub = await self.repo.subscription_of_delivery(delivery_id)
        if sub is None:
            raise DeliveryNotFound(f"delivery {delivery_id} not found")
        if not sub.active:
            raise SubscriptionInactive(f"{sub.name} is disabled: {sub.disabled_reason or ''}")
        await self.repo.replay(delivery_id)
        row = await self.repo.delivery(delivery_id)
        assert row is not None
        return DeliveryRead.model_validate(row)

    async def replay_many(self, subscription_id: uuid.UUID, data: BulkReplay) -> Replayed:
        if data.since is not None and data.until is not None and data.until <= data.since:
            raise refuse("until", "must be after since", "range_order")
        sub = await self.get(subscription_id)
        if not sub.active:
            raise SubscriptionInactive(f"{sub.name} is disabled: {sub.disabled_reason or ''}")
        count = await self.repo.replay_many(subscription_id, data.state, data.since, data.until)
        return Replayed(replayed=count)
