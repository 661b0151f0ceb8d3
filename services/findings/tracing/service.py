"""Responsibility chains (倒查) and unit portraits (素描像). Flushes, never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Row

from services.common.errors import Forbidden
from services.common.pagination import PageParams, encode_cursor
from services.findings.enums import DutyType, Severity
from services.findings.errors import ReferenceInvalid
from services.findings.models import ResponsibilityLink
from services.findings.schemas import (
    CategoryCount,
    DutyCount,
    LinkCreate,
    LinkRead,
    Portrait,
    TracedFinding,
    TracedPage,
)
from services.findings.service import FindingService, column_length
from services.findings.tracing.errors import LinkNotFound, PortraitNotFound
from services.findings.tracing.repository import LinkRepository, PortraitRepository

CENTS = Decimal("0.01")
BODY_NAME_MAX = column_length(ResponsibilityLink.__table__, "body_name")


class TracingService:
    def __init__(self, findings: FindingService) -> None:
        self.findings = findings
        self.scope = findings.scope
        self.links = LinkRepository(findings.session)
        self.portraits = PortraitRepository(findings.session)

    async def link(self, finding_id: uuid.UUID, data: LinkCreate) -> ResponsibilityLink:
        finding = await self.findings.get(finding_id)
        if not self.scope.works_in(finding.group_id):
            raise Forbidden("only the finding's group or the office traces responsibility")
        body = await self.findings.rounds.target(data.body_id)
        if body is None:
            raise ReferenceInvalid(
                f"target {data.body_id} does not exist",
                errors=[{"field": "body_id", "message": f"target {data.body_id} not found",
                         "code": "reference_not_found"}],
            )  # fmt: skip
        return await self.links.create(
            ResponsibilityLink(
                finding_id=finding.id,
                body_id=body.id,
                body_name=body.name[:BODY_NAME_MAX],  # a display copy: cut to fit
                duty=data.duty.value,
                note=data.note,
                created_by=self.scope.subject,
            )
        )

    async def links_of(self, finding_id: uuid.UUID) -> Sequence[ResponsibilityLink]:
        finding = await self.findings.get(finding_id)
        return await self.links.of_finding(finding.id)

    async def unlink(self, finding_id: uuid.UUID, link_id: uuid.UUID) -> None:
        finding = await self.findings.get(finding_id)
        if not self.scope.works_in(finding.group_id):
            raise Forbidden("only the finding's group or the office traces responsibility")
        link = await self.links.one(finding.id, link_id)
        if link is None:
            raise LinkNotFound(f"link {link_id} not found")
        await self.findings.session.delete(link)
        await self.findings.session.flush()

    async def tracing_to(
        self, body_id: uuid.UUID, params: PageParams, duty: DutyType | None
    ) -> TracedPage:
        rows = await self.links.tracing_to(
            body_id, self.scope, params, duty.value if duty else None
        )
        shown = rows[: params.limit]
        items = [_traced(r) for r in shown]
        cursor = None
        if len(rows) > params.limit:
            last = shown[-1].ResponsibilityLink
            cursor = encode_cursor(last.created_at, last.id)
        return TracedPage(items=items, next_cursor=cursor)

    async def portrait(self, target_id: uuid.UUID) -> Portrait:
        rows = await self.portraits.findings_at(target_id, self.scope)
        links = await self.portraits.links_to(target_id, self.scope)
        total = next((r for r in rows if r.total), None)
        name = (total.target_name if total else None) or next((r.body_name for r in links), None)
        if name is None:
            target = await self.findings.rounds.target(target_id)
            if target is None:
                raise PortraitNotFound(f"target {target_id} not found")
            name = target.name
        by_severity = {s.value: 0 for s in Severity}
        by_category = []
        for r in rows:
            if r.total:
                continue
            by_severity[r.severity] += r.n
            by_category.append(
                CategoryCount(
                    category_code=r.category_code,
                    category_name=r.category_name,
                    severity=Severity.of(r.severity),
                    count=r.n,
                    money_involved=r.money,
                )
            )
        return Portrait(
            target_id=target_id,
            target_name=name,
            rounds=total.rounds if total else 0,
            findings=total.n if total else 0,
            open=(total.n - total.closed) if total else 0,
            closed=total.closed if total else 0,
            recurrences=total.recurrences if total else 0,
            money_involved=Decimal(total.money if total else 0).quantize(CENTS),
            by_category=by_category,
            by_severity=by_severity,
            responsibility=[
                DutyCount(duty=DutyType.of(r.duty), count=r.n, findings=sorted(r.findings))
                for r in links
            ],
        )


def _traced(row: Row[Any]) -> TracedFinding:
    fields = {k: v for k, v in row._mapping.items() if k != "ResponsibilityLink"}
    link = LinkRead.model_validate(row.ResponsibilityLink).model_dump()
    return TracedFinding.model_validate({**link, **fields})
