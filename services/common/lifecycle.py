"""Stopping an app's background work and connections within the process's grace period."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

# per step of a shutdown; an orchestrator's grace period (Kubernetes: 30 s) covers a few
SHUTDOWN_STEP_SECONDS = 10.0
log = logging.getLogger(__name__)


async def bounded(what: str, step: Awaitable[Any]) -> None:
    """A step of the shutdown, given at most SHUTDOWN_STEP_SECONDS, whatever it does: a
    connection that does not answer (a database slow to acknowledge a close, a peer gone)
    must not keep the process from stopping, nor a step that fails keep the next ones from
    running. A step that overruns is cancelled and left (what it holds goes with the
    process); either case is logged by name."""
    task = asyncio.ensure_future(step)
    done, _ = await asyncio.wait({task}, timeout=SHUTDOWN_STEP_SECONDS)
    if not done:
        task.cancel()
        log.warning("shutdown: %s did not stop within %ss; going on", what, SHUTDOWN_STEP_SECONDS)
    elif not task.cancelled() and (error := task.exception()) is not None:
        log.warning("shutdown: %s failed; going on", what, exc_info=error)


async def cancelled(task: asyncio.Task[Any]) -> None:
    """`task` cancelled and its end awaited (its own failure raised); a cancellation of the
    caller itself is not swallowed."""
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
