"""Findings service (问题): findings, evidence, responsibility chains, cross-checks."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.common.app import create_service_app
from services.common.auth import KeySet
from services.findings.api import routers
from services.findings.models import idempotency_keys
from services.findings.settings import FindingsSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: FindingsSettings | None = None, keys: KeySet | None = None) -> FastAPI:
    """`keys` replaces the gateway JWKS (tests sign their own internal tokens)."""
    return create_service_app(
        settings or FindingsSettings(),
        title="巡察问题服务 Findings",
        description="问题登记、证据、责任倒查、大数据比对与单位素描像。",
        routers=routers,
        migrations_dir=MIGRATIONS,
        idempotency=idempotency_keys,
        keys=keys,
    )
