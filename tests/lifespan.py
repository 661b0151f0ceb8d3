"""Running an ASGI app's lifespan in-process (the gateway's is under its middleware, not a
FastAPI app's router)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

from starlette.types import ASGIApp

# far above any shutdown's own bounds (services.common.lifecycle): a hang fails here, named
SHUTDOWN_WAIT_SECONDS = 60


class Lifespan:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outbox: asyncio.Queue[MutableMapping[str, Any]] = asyncio.Queue()
        self.task: asyncio.Future[None] | None = None

    async def _send(self, message: MutableMapping[str, Any]) -> None:
        await self.outbox.put(message)

    async def startup(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
        self.task = asyncio.ensure_future(self.app(scope, self.inbox.get, self._send))
        await self.inbox.put({"type": "lifespan.startup"})
        assert (await self.outbox.get())["type"] == "lifespan.startup.complete"

    async def shutdown(self) -> str:
        """The type of the app's answer (`lifespan.shutdown.complete` when all went well)."""
        assert self.task is not None
        await self.inbox.put({"type": "lifespan.shutdown"})
        try:
            answer = await asyncio.wait_for(self.outbox.get(), SHUTDOWN_WAIT_SECONDS)
            await asyncio.wait_for(self.task, SHUTDOWN_WAIT_SECONDS)
        except TimeoutError:
            raise AssertionError(
                f"the app did not shut down within {SHUTDOWN_WAIT_SECONDS}s"
            ) from None
        return str(answer["type"])


@asynccontextmanager
async def lifespan(app: ASGIApp) -> AsyncIterator[None]:
    span = Lifespan(app)
    await span.startup()
    try:
        yield
    finally:
        assert await span.shutdown() == "lifespan.shutdown.complete"
