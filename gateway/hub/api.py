"""What operators see and do of the hub (role `admin` or `office`): deliveries per subscriber by
state and each service relay's backlog, as last reported; webhook subscriptions (register, change,
pause, rotate the secret, delete), their delivery log, and replays. The rules are in
`webhooks.py`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import text

from gateway.hub.models import Subscription
from gateway.hub.webhooks import (
    BulkReplay,
    DeliveryDetail,
    DeliveryNotFound,
    DeliveryRead,
    DeliveryState,
    ManagedByCatalogue,
    Replayed,
    RotatedSecret,
    SecretRotation,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionInactive,
    SubscriptionInvalid,
    SubscriptionKind,
    SubscriptionNameTaken,
    SubscriptionNotFound,
    SubscriptionRead,
    SubscriptionUpdate,
    WebhookService,
    version_of,
)
from gateway.identity.tokens import Caller, CurrentCaller
from gateway.settings import GatewaySettings
from services.common.concurrency import IfMatch, set_etag
from services.common.db import DbSession
from services.common.errors import Forbidden, PreconditionFailed, problem_responses
from services.common.pagination import Page, Paging, make_page

router = APIRouter(prefix="/api/v1/hub", tags=["event hub"])
OPERATORS = ("admin", "office")


async def operator(caller: CurrentCaller) -> Caller:
    if not set(caller.roles) & set(OPERATORS):
        raise Forbidden("the event hub is for operators (admin, office)")
    return caller


Operator = Annotated[Caller, Depends(operator)]


async def webhook_service(request: Request, session: DbSession) -> WebhookService:
    settings: GatewaySettings = request.app.state.settings
    return WebhookService(session, allow_private=settings.webhooks_allow_private)


Webhooks = Annotated[WebhookService, Depends(webhook_service)]


class SubscriberStatus(BaseModel):
    id: uuid.UUID = Field(description="its deliveries: /api/v1/hub/subscriptions/{id}/deliveries")
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
                SELECT s.id, s.name, s.kind, s.active, s.disabled_reason,
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


# ---- webhook subscriptions ----

WRITE = (Forbidden, SubscriptionInvalid)


def _read(sub: Subscription, response: Response) -> SubscriptionRead:
    set_etag(response, version_of(sub))
    return SubscriptionRead.model_validate(sub)


@router.post(
    "/subscriptions",
    status_code=201,
    summary="登记 Webhook 订阅 Register a webhook endpoint",
    description="The answer carries the signing secret, this once: deliveries are signed the "
    "Standard Webhooks way (`webhook-id`, `webhook-timestamp`, `webhook-signature`). The URL "
    "is refused (422 naming `url`) when its host is not a public address, unless the gateway "
    "allows private ones (`GATEWAY_WEBHOOKS_ALLOW_PRIVATE`).",
    responses=problem_responses(*WRITE, SubscriptionNameTaken),
)
async def create_subscription(
    body: SubscriptionCreate, caller: Operator, webhooks: Webhooks, response: Response
) -> SubscriptionCreated:
    created = await webhooks.register(body, caller)
    response.headers["Location"] = f"/api/v1/hub/subscriptions/{created.id}"
    return created


@router.get(
    "/subscriptions",
    summary="订阅列表 List subscriptions (never their secrets)",
    responses=problem_responses(Forbidden),
)
async def list_subscriptions(
    _: Operator,
    webhooks: Webhooks,
    paging: Paging,
    kind: Annotated[SubscriptionKind | None, Query(description="only this kind")] = None,
) -> Page[SubscriptionRead]:
    rows = await webhooks.repo.subscriptions(paging, kind)
    return make_page(rows, paging, SubscriptionRead)


@router.get(
    "/subscriptions/{subscription_id}",
    summary="查看订阅 Read a subscription (never its secret)",
    responses=problem_responses(Forbidden, SubscriptionNotFound),
)
async def get_subscription(
    subscription_id: uuid.UUID, _: Operator, webhooks: Webhooks, response: Response
) -> SubscriptionRead:
    return _read(await webhooks.get(subscription_id), response)


@router.patch(
    "/subscriptions/{subscription_id}",
    summary="修改、停用或启用订阅 Change, pause or re-enable a webhook subscription",
    description="`url` is checked as at registration. `active: true` re-enables an endpoint "
    "(one disabled after answering 410 too) and clears `disabled_reason`; its dead-lettered "
    "deliveries are not sent again until replayed. A service's subscription is 409.",
    responses=problem_responses(
        *WRITE, SubscriptionNotFound, ManagedByCatalogue, PreconditionFailed
    ),
)
async def update_subscription(
    subscription_id: uuid.UUID,
    body: SubscriptionUpdate,
    caller: Operator,
    webhooks: Webhooks,
    response: Response,
    if_match: IfMatch = None,
) -> SubscriptionRead:
    return _read(await webhooks.update(subscription_id, body, if_match, caller), response)


@router.delete(
    "/subscriptions/{subscription_id}",
    status_code=204,
    summary="删除 Webhook 订阅 Delete a webhook subscription with its deliveries",
    responses=problem_responses(
        Forbidden, SubscriptionNotFound, ManagedByCatalogue, PreconditionFailed
    ),
)
async def delete_subscription(
    subscription_id: uuid.UUID, _: Operator, webhooks: Webhooks, if_match: IfMatch = None
) -> None:
    await webhooks.delete(subscription_id, if_match)


@router.post(
    "/subscriptions/{subscription_id}/rotate-secret",
    summary="轮换签名密钥 Rotate a webhook's signing secret",
    description="The new secret is in the answer, this once. For `grace_hours` (default 24) "
    "every delivery is signed with the previous secret as well, so the receiver can switch "
    "over without losing one.",
    responses=problem_responses(
        *WRITE, SubscriptionNotFound, ManagedByCatalogue, PreconditionFailed
    ),
)
async def rotate_secret(
    subscription_id: uuid.UUID,
    _: Operator,
    webhooks: Webhooks,
    body: SecretRotation | None = None,
    if_match: IfMatch = None,
) -> RotatedSecret:
    grace = (body or SecretRotation()).grace_hours
    return await webhooks.rotate(subscription_id, grace, if_match)


# ---- deliveries: the log and replays ----


@router.get(
    "/subscriptions/{subscription_id}/deliveries",
    summary="投递记录 A subscription's deliveries, oldest first",
    responses=problem_responses(Forbidden, SubscriptionNotFound),
)
async def list_deliveries(
    subscription_id: uuid.UUID,
    _: Operator,
    webhooks: Webhooks,
    paging: Paging,
    state: Annotated[DeliveryState | None, Query(description="only in this state")] = None,
) -> Page[DeliveryRead]:
    await webhooks.get(subscription_id)
    rows = await webhooks.repo.deliveries(subscription_id, state, paging)
    return make_page(rows, paging, DeliveryRead)


@router.get(
    "/deliveries/{delivery_id}",
    summary="查看投递及其尝试记录 A delivery, its event and every try",
    responses=problem_responses(Forbidden, DeliveryNotFound),
)
async def get_delivery(delivery_id: uuid.UUID, _: Operator, webhooks: Webhooks) -> DeliveryDetail:
    return await webhooks.delivery(delivery_id)


@router.post(
    "/deliveries/{delivery_id}/replay",
    status_code=202,
    summary="重新投递 Replay one delivery",
    description="In any state, delivered and dead-lettered included: it is tried again now. The "
    "log and the try count go on; the retry schedule continues from that count, so a "
    "delivery dead-lettered after the whole schedule gets one more try.",
    responses=problem_responses(Forbidden, DeliveryNotFound, SubscriptionInactive),
)
async def replay_delivery(delivery_id: uuid.UUID, _: Operator, webhooks: Webhooks) -> DeliveryRead:
    return await webhooks.replay(delivery_id)


@router.post(
    "/subscriptions/{subscription_id}/replay",
    status_code=202,
    summary="批量重新投递 Replay a subscription's deliveries in one state",
    description="Every delivery of the subscription in `state` (default `dead`), made in "
    "[`since`, `until`) if given, is tried again now, as a single replay each.",
    responses=problem_responses(*WRITE, SubscriptionNotFound, SubscriptionInactive),
)
async def replay_deliveries(
    subscription_id: uuid.UUID,
    _: Operator,
    webhooks: Webhooks,
    body: BulkReplay | None = None,
) -> Replayed:
    return await webhooks.replay_many(subscription_id, body or BulkReplay())
