"""The rounds service's integration events (see services/common/events/catalogue.py)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.events.catalogue import AssignmentCreated
from services.common.events.outbox import Outbox
from services.rounds.models import Assignment, outbox

events = Outbox(outbox)


async def emit_assignments(session: AsyncSession, created: Sequence[Assignment]) -> None:
    await events.emit_many(
        session,
        "assignment.created",
        [
            (
                a.id,
                AssignmentCreated(
                    assignment_id=a.id,
                    round_id=a.round_id,
                    group_id=a.group_id,
                    target_id=a.target_id,
                    mode=a.mode,
                ),
            )
            for a in created
        ],
    )
