"""The findings' figures in two index-backed statements, never a scan of the table's rows.

1. counts and money GROUP BY (round, category code, status, severity): an index-only scan of
   `ix_findings_round_id_category_code_status_severity` (money in its INCLUDE), so the cost is
   the index entries of the rounds asked for, read in order and aggregated as they stream;
2. the name of each category code found: one index probe per code (a handful), not a DISTINCT
   over the rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Integer, cast, func, literal, select, text, true, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from services.findings.models import Finding


def _in_rounds(round_ids: Sequence[uuid.UUID] | None) -> Any:
    return true() if round_ids is None else Finding.round_id.in_(round_ids)


class StatsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def groups(self, round_ids: Sequence[uuid.UUID] | None) -> Sequence[Any]:
        """(round_id, category_code, status, severity, n, money) rows.

        Without parallel workers (for this transaction only): at 110,000 findings on two cores
        the serial index-only scan took 41-50 ms and the parallel plan 75-80 ms (bench/exports.py);
        the dashboard's other counts run at the same time, on the same cores."""
        await self.session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
        stmt = (
            select(
                Finding.round_id,
                Finding.category_code,
                Finding.status,
                Finding.severity,
                cast(func.count(), Integer).label("n"),
                func.coalesce(func.sum(Finding.money_involved), 0).label("money"),
            )
            .where(_in_rounds(round_ids))
            .group_by(Finding.round_id, Finding.category_code, Finding.status, Finding.severity)
        )
        return (await self.session.execute(stmt)).all()

    async def category_names(
        self, round_ids: Sequence[uuid.UUID] | None, codes: Sequence[str]
    ) -> dict[str, str]:
        """A name per code (the rounds' checklists keep one name per code)."""
        if not codes:
            return {}
        probes = [
            select(
                literal(code).label("code"),
                select(Finding.category_name)
                .where(_in_rounds(round_ids), Finding.category_code == code)
                .limit(1)
                .scalar_subquery()
                .label("name"),
            )
            for code in codes
        ]
        rows = (await self.session.execute(union_all(*probes))).all()
        return {r.code: r.name or r.code for r in rows}
