"""Findings service (问题): findings, evidence, comments, responsibility chains, unit portraits."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.common.app import create_service_app
from services.common.auth import KeySet
from services.findings import api, events
from services.findings.clients import MembershipCache
from services.findings.comments import api as comments_api
from services.findings.crosschecks import api as crosschecks_api
from services.findings.evidence import api as evidence_api
from services.findings.models import idempotency_keys, inbox, outbox
from services.findings.settings import FindingsSettings
from services.findings.stats import api as stats_api
from services.findings.tracing import api as tracing_api

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: FindingsSettings | None = None, keys: KeySet | None = None) -> FastAPI:
    """`keys` replaces the gateway JWKS (tests sign their own internal tokens)."""
    settings = settings or FindingsSettings()
    app = create_service_app(
        settings,
        title="巡察问题服务 Findings",
        description="问题登记、证据、评论、责任倒查与单位素描像。",
        # stats first: /api/v1/findings/stats is not a finding id
        routers=[
            *stats_api.routers,
            *api.routers,
            *evidence_api.routers,
            *comments_api.routers,
            *tracing_api.routers,
            *crosschecks_api.routers,
        ],
        migrations_dir=MIGRATIONS,
        idempotency=idempotency_keys,
        outbox=outbox,
        inbox=inbox,
        handlers=events.HANDLERS,
        keys=keys,
    )
    app.state.memberships = MembershipCache(ttl=settings.membership_cache_seconds)
    return app
