"""Stopping an app's background work and connections within the process's grace period."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import Any

# per step of a shutdown; an orchestrator's grace period (Kubernetes: 30 s) covers a few
SHUTDOWN_STEP_SECONDS = 10.0
log = logging.getLogger(__name__)


async def bounded(what: str, step: Awaitable[Any]) -> None:
    """A step of the shutdown, given at most SHUTDOWN_STEP_SECONDS: a connection that does
    not answer (a database slow to acknowledge a close, a peer gone) must not keep the
    process from stopping; the step is logged by name and the next one runs. What is left
    open goes with the process."""
    try:
        await asyncio.wait_for(step, timeout=SHUTDOWN_STEP_SECONDS)
    except TimeoutError:
        log.warning("shutdown: %s did not stop within %ss; going on", what, SHUTDOWN_STEP_SECONDS)


async def cancelled(task: asyncio.Task[Any]) -> None:
    """`task` cancelled, and its end awaited."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
