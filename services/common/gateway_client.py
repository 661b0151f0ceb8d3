"""Calls from one service to another, always through the gateway (DESIGN: "Services talk over
REST through the gateway"). The service authenticates as itself with OAuth2 client credentials;
its access token is cached until shortly before it expires and renewed once on a 401. The
current request id travels along so one user action can be followed across services."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

import httpx
from fastapi import Depends, Request

from services.common.errors import GatewayTimeout, ServiceUnavailable
from services.common.observability import inject_trace
from services.common.requestid import current_request_id
from services.common.settings import AppSettings

RENEW_BEFORE_SECONDS = 60


class GatewayClient:
    def __init__(
        self, settings: AppSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.client_id = settings.client_id or settings.service_name
        self.secret = settings.client_secret.get_secret_value() if settings.client_secret else None
        self.http = httpx.AsyncClient(
            base_url=settings.gateway_url.rstrip("/"),
            timeout=httpx.Timeout(10.0, connect=2.0),
            transport=transport,
        )
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        await self.http.aclose()

    async def _access_token(self, *, renew: bool = False) -> str:
        async with self._lock:
            if not renew and self._token and time.monotonic() < self._expires:
                return self._token
            if self.secret is None:
                raise ServiceUnavailable(
                    f"{self.client_id} has no client secret to call other services"
                )
            resp = await self.http.post(
                "/api/v1/auth/token",
                data={"grant_type": "client_credentials", "client_id": self.client_id,
                      "client_secret": self.secret},
            )  # fmt: skip
            if resp.status_code != 200:
                raise ServiceUnavailable(
                    f"the gateway refused {self.client_id}'s credentials ({resp.status_code})"
                )
            body = resp.json()
            self._token = str(body["access_token"])
            self._expires = time.monotonic() + int(body["expires_in"]) - RENEW_BEFORE_SECONDS
            return self._token

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The response as the owning service gave it (404s included: the caller decides);
        an unreachable or failing gateway or service is a 503/504 problem for our caller."""
        for attempt in (0, 1):
            token = await self._access_token(renew=attempt == 1)
            headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
            rid = current_request_id()
            if rid:
                headers["X-Request-ID"] = rid
            inject_trace(headers)
            try:
                resp = await self.http.request(method, path, headers=headers, **kwargs)
            except httpx.TimeoutException as exc:
                raise GatewayTimeout(f"{method} {path} through the gateway timed out") from exc
            except httpx.TransportError as exc:
                raise ServiceUnavailable(f"the gateway is not reachable for {path}") from exc
            if resp.status_code == 401 and attempt == 0:
                continue
            if resp.status_code >= 500:
                raise ServiceUnavailable(f"{method} {path} failed upstream ({resp.status_code})")
            return resp
        return resp

    async def get_json(self, path: str, **params: Any) -> Any | None:
        """The JSON of a GET, or None when the resource does not exist (404)."""
        resp = await self.request("GET", path, params=params or None)
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise ServiceUnavailable(f"GET {path} answered {resp.status_code}")
        return resp.json()


def gateway_client(request: Request) -> GatewayClient:
    client: GatewayClient = request.app.state.gateway
    return client


Gateway = Annotated[GatewayClient, Depends(gateway_client)]
