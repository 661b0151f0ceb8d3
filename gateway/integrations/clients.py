"""The referrals service, called straight from the gateway (it is the gateway's own call, not a
proxied one) with an internal token whose caller is the platform: subject `platform`, role
`platform`. The referrals service lets that role take the receiver's steps of the leads sent
to the discipline commission, and no others (services/referrals/access.py)."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from gateway.identity.tokens import Caller
from gateway.keys import Signer
from gateway.proxy.handler import InternalTokens
from gateway.settings import GatewaySettings
from services.common.errors import BadGateway, GatewayTimeout, ServiceUnavailable
from services.common.requestid import current_request_id

PLATFORM = Caller(subject="platform", username="platform", roles=("platform",), expires_at=0)
AUDIENCE = "referrals"


class Refused(Exception):
    """The referrals service said no (a 4xx): its problem document, to pass on as it is."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(f"{status} {problem.get('type')}")
        self.status = status
        self.problem = problem


class Referrals:
    def __init__(
        self, settings: GatewaySettings, signer: Signer, accept_language: str | None = None
    ) -> None:
        self.base = settings.referrals_url.rstrip("/")
        self.tokens = InternalTokens(signer, settings.internal_token_ttl_seconds)
        self.accept_language = accept_language
        self.http = httpx.AsyncClient(
            timeout=httpx.Timeout(
                settings.upstream_read_timeout, connect=settings.upstream_connect_timeout
            ),
            follow_redirects=False,
        )

    async def __aenter__(self) -> Referrals:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.http.aclose()

    async def lead(self, lead_id: str) -> dict[str, Any]:
        """The lead as the platform sees it (the full view of a discipline commission lead)."""
        return await self._call("GET", f"/api/v1/leads/{lead_id}")

    async def move(self, lead_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """A transition of the lead (`{to, …}`); the transition recorded."""
        return await self._call("POST", f"/api/v1/leads/{lead_id}/transitions", body)

    async def _call(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        rid = current_request_id()
        headers = {
            "authorization": "Bearer " + self.tokens.mint(PLATFORM, AUDIENCE, rid).decode(),
            "x-request-id": rid,
        }
        if self.accept_language:
            headers["accept-language"] = self.accept_language
        content = None
        if body is not None:
            content = orjson.dumps(body)
            headers["content-type"] = "application/json"
        try:
            resp = await self.http.request(
                method, self.base + path, content=content, headers=headers
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise ServiceUnavailable("the referrals service is unavailable; retry later") from exc
        except httpx.TimeoutException as exc:
            raise GatewayTimeout("the referrals service did not answer in time") from exc
        except httpx.HTTPError as exc:
            raise BadGateway("the referrals service failed to answer") from exc
        if resp.is_success:
            found: dict[str, Any] = resp.json()
            return found
        if resp.status_code == 503:
            raise ServiceUnavailable("the referrals service is unavailable; retry later")
        if resp.status_code >= 500 or resp.status_code == 401:
            # 401: the service refused the gateway's own token, nothing the platform can fix
            raise BadGateway(f"the referrals service answered {resp.status_code}")
        try:
            problem = resp.json()
        except ValueError:
            problem = None
        raise Refused(resp.status_code, problem if isinstance(problem, dict) else {})
