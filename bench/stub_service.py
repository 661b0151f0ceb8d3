"""A stand-in for the rounds service that does no work: every request gets the same small JSON
body (the size of a target). `gateway_overhead.py --upstream stub` runs it on the rounds port
to show what the gateway itself costs when the service behind it is nearly free.

    .venv/bin/python -m uvicorn --app-dir bench stub_service:app --loop uvloop --http httptools
"""

from __future__ import annotations

from starlette.types import Receive, Scope, Send

BODY = (
    b'{"id":"0b6f1f3e-6a7c-4c43-9d0e-5d0d6f0f5a11","name":"\\u538b\\u6d4b\\u5355\\u4f4d 00001",'
    b'"kind":"enterprise","jurisdiction":"\\u8d64\\u58c1\\u5e02","parent_id":null,'
    b'"created_by":"6a1f0c1e-2b3d-4e5f-8a9b-0c1d2e3f4a5b",'
    b'"created_at":"2026-01-01T00:00:00.000000Z","updated_at":"2026-01-01T00:00:00.000000Z"}'
)
HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(BODY)).encode()),
]
UNAUTHORIZED = [(b"content-type", b"application/problem+json"), (b"content-length", b"2")]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    if scope["path"] == "/healthz" or any(k == b"authorization" for k, _ in scope["headers"]):
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        await send({"type": "http.response.body", "body": BODY})
    else:
        await send({"type": "http.response.start", "status": 401, "headers": UNAUTHORIZED})
        await send({"type": "http.response.body", "body": b"{}"})
