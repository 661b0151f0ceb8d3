"""Referrals service (移交): leads, rectification items, suggestions, rules, statistics."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.common.app import create_service_app
from services.common.auth import KeySet
from services.referrals.api import routers
from services.referrals.clients import MembershipCache
from services.referrals.models import idempotency_keys, outbox
from services.referrals.settings import ReferralsSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: ReferralsSettings | None = None, keys: KeySet | None = None) -> FastAPI:
    """`keys` replaces the gateway JWKS (tests sign their own internal tokens)."""
    settings = settings or ReferralsSettings()
    app = create_service_app(
        settings,
        title="移交督办服务 Referrals",
        description="问题线索移交与处置、整改督办、意见建议、制度建设与统计。",
        routers=routers,
        migrations_dir=MIGRATIONS,
        idempotency=idempotency_keys,
        outbox=outbox,
        keys=keys,
    )
    app.state.memberships = MembershipCache(ttl=settings.membership_cache_seconds)
    return app
