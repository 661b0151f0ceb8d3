"""Security headers on every answer the gateway gives, its own and the services' alike (the
gateway is the one origin clients see; the services are not reachable from outside).

- `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer`
  everywhere;
- under `/api/`: `Cache-Control: no-store` (leads and persons involved must not stay in a
  browser's or a shared proxy's cache) and `Content-Security-Policy: default-src 'none';
  frame-ancestors 'none'` (a JSON answer opened in a browser runs nothing, loads nothing);
- `Strict-Transport-Security` when the gateway's public URL is https.
A header the answer already has is left as it is: the results page (dashboard) sets its own
policy, a download may say how long it may be cached.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

EVERYWHERE: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
API: tuple[tuple[bytes, bytes], ...] = (
    (b"cache-control", b"no-store"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
)
HSTS = (b"strict-transport-security", b"max-age=31536000")


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.elsewhere = (*EVERYWHERE, HSTS) if https else EVERYWHERE
        self.under_api = (*self.elsewhere, *API)
        self.names = frozenset(name for name, _ in self.under_api)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = self.under_api if scope["path"].startswith("/api/") else self.elsewhere
        names = self.names

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers") or []
                # ASGI header names are lower case; usually none of ours is there
                present = [name for name, _ in headers if name in names]
                extra = [h for h in wanted if h[0] not in present] if present else wanted
                message["headers"] = [*headers, *extra]
            await send(message)

        await self.app(scope, receive, with_headers)
