"""The shape every service app shares: problem handlers, request ids, internal-token check,
health and readiness probes, database lifecycle."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy import Table, text

from services.common.auth import InternalAuthMiddleware, KeySet, TokenVerifier, get_principal
from services.common.db import Database
from services.common.errors import document_problems, install_problem_handlers
from services.common.events.inbox import Handler, inbox_router
from services.common.events.outbox import Relay
from services.common.gateway_client import GatewayClient
from services.common.idempotency import IdempotencyMiddleware
from services.common.lifecycle import bounded, cancelled
from services.common.migrations import (
    revisions_of,
    schema_state,
    script_heads,
    script_revisions,
)
from services.common.observability import (
    ObservabilityMiddleware,
    configure_logging,
    configure_tracing,
    register_pool_metrics,
)
from services.common.policy import PolicyGuard, document_policy
from services.common.requestid import RequestIdMiddleware
from services.common.routing import LiteralPathsFirst
from services.common.settings import AppSettings


def operation_id(route: APIRoute) -> str:
    """`{tag}-{name}` so generated clients read well."""
    tag = route.tags[0] if route.tags else "default"
    return f"{tag}-{route.name}"


def create_service_app(
    settings: AppSettings,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    migrations_dir: Path,
    idempotency: Table,
    keys: KeySet | None = None,
    outbox: Table | None = None,
    inbox: Table | None = None,
    handlers: Mapping[str, Handler] | None = None,
) -> FastAPI:
    """`outbox`: the service's outbox table, relayed to the event hub while the app runs;
    `inbox` and `handlers`: the events it consumes, at `POST /internal/events`."""
    configure_logging(settings.service_name)
    configure_tracing(settings.service_name)
    heads = script_heads(migrations_dir)
    known = script_revisions(migrations_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.db = Database(settings)
        app.state.gateway = GatewayClient(settings)
        relay: asyncio.Task[None] | None = None
        if outbox is not None and settings.outbox_relay:
            relay = asyncio.create_task(
                Relay(
                    app.state.db.engine,
                    outbox,
                    lambda: app.state.gateway,
                    settings.client_id or settings.service_name,
                    poll_seconds=settings.outbox_poll_seconds,
                ).run(),
                name=f"{settings.service_name}-outbox-relay",
            )
        try:
            yield
        finally:
            if relay is not None:
                await bounded("the outbox relay", cancelled(relay))
            await bounded("the gateway client", app.state.gateway.close())
            await bounded("the database pool", app.state.db.dispose())

    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        # the policy table's function-level check, before any other dependency of a route
        dependencies=[Depends(PolicyGuard(settings.service_name, get_principal))],
        generate_unique_id_function=operation_id,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    install_problem_handlers(app)
    for router in routers:
        app.include_router(router)
    if inbox is not None:
        app.include_router(inbox_router(inbox, handlers or {}))
    document_problems(app)
    document_policy(app, settings.service_name)

    @app.get("/healthz", tags=["health"], include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], include_in_schema=False)
    async def readyz() -> Any:
        db: Database = app.state.db
        try:
            async with db.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
                current = await conn.run_sync(lambda c: revisions_of(c, settings.db_schema))
        except Exception as exc:  # any database failure means not ready, with the reason
            return JSONResponse(
                {"status": "unavailable", "database": type(exc).__name__}, status_code=503
            )
        state = schema_state(current, heads, known)
        if state == "behind":
            return JSONResponse(
                {
                    "status": "unavailable",
                    "database": "ok",
                    "migrations": {"current": sorted(current), "head": sorted(heads)},
                },
                status_code=503,
            )
        return {"status": "ok", "database": "ok", "migrations": state}

    verifier = TokenVerifier(
        keys or KeySet(settings.effective_jwks_url),
        issuer=settings.token_issuer,
        audience=settings.service_name,
    )
    # outermost last: request id, then the internal-token check, then idempotency, then
    # literal paths' 405s
    app.add_middleware(LiteralPathsFirst, api=app)
    app.add_middleware(IdempotencyMiddleware, table=idempotency)
    app.add_middleware(InternalAuthMiddleware, verifier=verifier)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(ObservabilityMiddleware, app_name=settings.service_name)
    register_pool_metrics(settings.service_name, app)
    return app
