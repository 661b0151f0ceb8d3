"""Queries of responsibility links (倒查) and unit portraits (素描像), scoped like findings."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Row, Select, func, literal_column, select
from sqlalchemy.exc import IntegrityError

from services.common.pagination import PageParams, keyset
from services.common.repository import Repository
from services.findings.access import Scope
from services.findings.enums import FindingStatus
from services.findings.models import Finding, ResponsibilityLink
from services.findings.tracing.errors import LinkExists

TRACED = (
    ResponsibilityLink,
    Finding.round_id,
    Finding.target_id,
    Finding.target_name,
    Finding.category_code,
    Finding.category_name,
    Finding.title,
    Finding.status,
    Finding.severity,
    Finding.money_involved,
)


class LinkRepository(Repository[ResponsibilityLink]):
    model = ResponsibilityLink

    async def create(self, link: ResponsibilityLink) -> ResponsibilityLink:
        try:
            async with self.session.begin_nested():
                return await self.add(link)
        except IntegrityError as exc:
            raise LinkExists("this body is already linked to the finding with this duty") from exc

    async def of_finding(self, finding_id: uuid.UUID) -> Sequence[ResponsibilityLink]:
        return (
            await self.session.scalars(
                select(ResponsibilityLink)
                .where(ResponsibilityLink.finding_id == finding_id)
                .order_by(ResponsibilityLink.created_at, ResponsibilityLink.id)
            )
        ).all()

    async def one(self, finding_id: uuid.UUID, link_id: uuid.UUID) -> ResponsibilityLink | None:
        return (
            await self.session.scalars(
                select(ResponsibilityLink).where(
                    ResponsibilityLink.id == link_id, ResponsibilityLink.finding_id == finding_id
                )
            )
        ).one_or_none()

    async def tracing_to(
        self, body_id: uuid.UUID, scope: Scope, params: PageParams, duty: str | None
    ) -> Sequence[Row[Any]]:
        """Every visible finding that traces back to the body, across rounds, with its link."""
        stmt = (
            select(*TRACED)
            .join(Finding, Finding.id == ResponsibilityLink.finding_id)
            .where(ResponsibilityLink.body_id == body_id, scope.visible())
        )
        if duty is not None:
            stmt = stmt.where(ResponsibilityLink.duty == duty)
        query = keyset(
            cast(Select[Any], stmt), params, ResponsibilityLink.created_at, ResponsibilityLink.id
        )
        return (await self.session.execute(query)).all()


class PortraitRepository:
    def __init__(self, session: Any) -> None:
        self.session = session

    async def findings_at(self, target_id: uuid.UUID, scope: Scope) -> Sequence[Row[Any]]:
        """One pass: a row per (category, severity), and a grand-total row (grouping() = 1)."""
        closed = Finding.status == FindingStatus.closed.value
        stmt = (
            select(
                func.grouping(Finding.category_code, Finding.severity).label("total"),
                Finding.category_code,
                func.max(Finding.category_name).label("category_name"),
                Finding.severity,
                func.count().label("n"),
                func.coalesce(func.sum(Finding.money_involved), 0).label("money"),
                func.count().filter(closed).label("closed"),
                func.count(Finding.recurrence_of).label("recurrences"),
                func.count(func.distinct(Finding.round_id)).label("rounds"),
                func.max(Finding.target_name).label("target_name"),
            )
            .where(Finding.target_id == target_id, scope.visible())
            .group_by(
                func.grouping_sets(
                    literal_column("(findings.category_code, findings.severity)"),
                    literal_column("()"),
                )
            )
            .order_by(Finding.category_code, Finding.severity)
        )
        return (await self.session.execute(stmt)).all()

    async def links_to(self, target_id: uuid.UUID, scope: Scope) -> Sequence[Row[Any]]:
        stmt = (
            select(
                ResponsibilityLink.duty,
                func.count().label("n"),
                func.array_agg(func.distinct(ResponsibilityLink.finding_id)).label("findings"),
                func.max(ResponsibilityLink.body_name).label("body_name"),
            )
            .join(Finding, Finding.id == ResponsibilityLink.finding_id)
            .where(ResponsibilityLink.body_id == target_id, scope.visible())
            .group_by(ResponsibilityLink.duty)
            .order_by(ResponsibilityLink.duty)
        )
        return (await self.session.execute(stmt)).all()
