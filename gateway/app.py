"""The gateway: the one entry point. Identity, routing to the services, merged API docs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import text
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.audit import api as audit_api
from gateway.audit.middleware import AuditMiddleware
from gateway.dashboard.api import install as install_dashboard
from gateway.headers import SecurityHeadersMiddleware
from gateway.hub import api as hub_api
from gateway.hub import ingest as hub_ingest
from gateway.hub.dispatcher import Dispatcher
from gateway.identity import clients_api, users_api
from gateway.identity.api import auth
from gateway.identity.revocations import Revocations
from gateway.identity.throttle import LoginThrottle
from gateway.identity.tokens import AccessTokens, current_caller
from gateway.integrations import api as integrations_api
from gateway.keys import Signer, load_or_create
from gateway.openapi import MergedOpenAPI
from gateway.proxy.handler import Proxy
from gateway.proxy.routes import PREFIX, SERVICES, service_for
from gateway.proxy.transport import Upstreams
from gateway.settings import GatewaySettings
from services.common.app import operation_id
from services.common.db import Database
from services.common.errors import document_problems, install_problem_handlers
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
    with_current_trace,
)
from services.common.policy import PolicyGuard, document_policy
from services.common.requestid import RequestIdMiddleware

MIGRATIONS = Path(__file__).parent / "migrations"


def make_signer(settings: GatewaySettings) -> Signer:
    active = load_or_create(settings.signing_key_file, create=settings.environment == "dev")
    retired = [load_or_create(p, create=False) for p in settings.previous_signing_key_files]
    return Signer(active, retired, issuer=settings.token_issuer)


class GatewayApp:
    """Routed resources go to the proxy; everything else to the gateway's own FastAPI app."""

    def __init__(self, api: FastAPI, proxy: Proxy) -> None:
        self.api = api
        self.proxy = proxy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            service = service_for(scope["path"])
            if service is not None:
                # metrics by resource, not by id; the service continues the gateway's trace
                scope["proxy_route"] = "/api/v1/" + scope["path"][len(PREFIX) :].split("/", 1)[0]
                scope["headers"] = with_current_trace(scope["headers"])
                await self.proxy(scope, receive, send, service)
                return
        await self.api(scope, receive, send)


def create_app(settings: GatewaySettings | None = None) -> ASGIApp:
    settings = settings or GatewaySettings()
    configure_logging("gateway")
    configure_tracing("gateway")
    signer = make_signer(settings)
    upstreams = Upstreams(settings)
    revocations = Revocations(
        settings.database_url,
        access_ttl_seconds=settings.access_token_ttl_seconds,
        reload_seconds=settings.revocation_reload_seconds,
    )
    access_tokens = AccessTokens(signer, revocations)
    merged = MergedOpenAPI(upstreams, signer)
    heads = script_heads(MIGRATIONS)
    known = script_revisions(MIGRATIONS)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.db = Database(settings)
        await revocations.start()
        await upstreams.start()
        dispatcher = Dispatcher(app.state.db, settings, signer)
        hub: asyncio.Task[None] | None = None
        if settings.hub_dispatch:
            hub = asyncio.create_task(dispatcher.run(), name="event-hub-dispatcher")
        try:
            yield
        finally:
            if hub is not None:
                await bounded("the event hub's dispatcher", cancelled(hub))
            await bounded("the webhook client", dispatcher.close())
            await bounded("the services' clients", upstreams.close())
            await bounded("the revocation listener", revocations.stop())
            await bounded("the database pool", app.state.db.dispose())

    api = FastAPI(
        title="巡察数据综合管理系统 API",
        description=(
            "Inspection office platform: rounds (巡察计划), findings (问题), referrals (移交督办). "
            "Log in at `/api/v1/auth/token`, then send `Authorization: Bearer <access_token>`. "
            "Errors are RFC 9457 problem+json; money is a decimal string in yuan."
        ),
        version="1.0.0",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        # the policy table's function-level check, before any other dependency of a route
        dependencies=[Depends(PolicyGuard("gateway", current_caller))],
    )
    api.state.settings = settings
    api.state.signer = signer
    api.state.access_tokens = access_tokens
    api.state.login_throttle = LoginThrottle(
        settings.login_failures_per_address, settings.login_failure_window_seconds
    )
    install_problem_handlers(api)
    api.include_router(auth)
    api.include_router(clients_api.router)
    api.include_router(users_api.router)
    api.include_router(hub_ingest.router)
    api.include_router(hub_api.router)
    api.include_router(integrations_api.router)
    install_dashboard(api, upstreams)  # dashboard, statistical table, exports, /results
    api.include_router(audit_api.router)
    document_problems(api)
    document_policy(api, "gateway")

    @api.get("/.well-known/jwks.json", include_in_schema=False)
    async def jwks() -> dict[str, Any]:
        return signer.jwks

    @api.get("/openapi.json", include_in_schema=False)
    async def openapi() -> Response:
        doc = await merged.document(api.openapi())
        return Response(orjson.dumps(doc), media_type="application/json")

    @api.get(
        "/api/v1/meta/enums",
        tags=["meta"],
        summary="枚举值与中文名称 Every enum's codes and Chinese labels",
    )
    async def enums() -> dict[str, dict[str, str]]:
        """From the merged OpenAPI of all services: {EnumName: {code: 中文名称}}."""
        doc = await merged.document(api.openapi())
        schemas = doc.get("components", {}).get("schemas", {})
        return {
            name: schema["x-enum-labels"]
            for name, schema in sorted(schemas.items())
            if "x-enum-labels" in schema
        }

    if settings.environment == "dev":  # an API explorer is for developers, not production

        @api.get("/docs", include_in_schema=False)
        async def docs() -> HTMLResponse:
            return get_swagger_ui_html(
                openapi_url="/openapi.json", title="巡察数据综合管理系统 API"
            )

    @api.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    async def service_ready(name: str) -> str:
        try:
            upstream, resp = await asyncio.wait_for(
                upstreams.request(name, "GET", "/readyz", b"", [], None), timeout=3.0
            )
        except Exception:  # unreachable, timed out or failing: all mean "not ready"
            return "unavailable"
        resp.release()
        return "ok" if upstream.status == 200 else "unavailable"

    @api.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        db: Database = request.app.state.db
        try:
            async with db.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
                current = await conn.run_sync(lambda c: revisions_of(c, settings.db_schema))
            state = schema_state(current, heads, known)
            database = "ok" if state != "behind" else "migrations not at head"
        except Exception as exc:  # any database failure means not ready
            database = f"unavailable ({type(exc).__name__})"
        states = await asyncio.gather(*(service_ready(s) for s in SERVICES))
        services = dict(zip(SERVICES, states, strict=True))
        # Before its first load of the revoked access tokens it refuses every one (503).
        revoked = "ok" if revocations.loaded else "loading"
        # The gateway is ready when it can serve: a service that is down costs its own routes
        # (503 there), not the gateway's place behind the load balancer. The body tells all.
        if database != "ok" or revoked != "ok":
            status, code = "unavailable", 503
        elif all(s == "ok" for s in states):
            status, code = "ok", 200
        else:
            status, code = "degraded", 200
        return JSONResponse(
            {"status": status, "database": database, "revocations": revoked, "services": services},
            status_code=code,
        )

    proxy = Proxy(settings, signer, access_tokens, upstreams)
    register_pool_metrics("gateway", api)
    app: ASGIApp = SecurityHeadersMiddleware(
        RequestIdMiddleware(AuditMiddleware(GatewayApp(api, proxy), settings, access_tokens)),
        https=settings.public_url.startswith("https://"),
    )
    if not settings.observability:
        return app
    return ObservabilityMiddleware(app, app_name="gateway")
