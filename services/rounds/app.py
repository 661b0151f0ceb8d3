"""Rounds service (巡察计划): terms, rounds, groups, targets, assignments."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.common.app import create_service_app
from services.common.auth import KeySet
from services.rounds.api import routers
from services.rounds.models import idempotency_keys, outbox
from services.rounds.settings import RoundsSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: RoundsSettings | None = None, keys: KeySet | None = None) -> FastAPI:
    """`keys` replaces the gateway JWKS (tests sign their own internal tokens)."""
    return create_service_app(
        settings or RoundsSettings(),
        title="巡察计划服务 Rounds",
        description="届次、轮次、巡察组、巡察对象与任务分配。",
        routers=routers,
        migrations_dir=MIGRATIONS,
        idempotency=idempotency_keys,
        outbox=outbox,
        keys=keys,
    )
