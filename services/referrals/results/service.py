"""Business rules of suggestions (意见建议) and rules established (建立健全制度). Flushes, never
commits.

Both belong to a round (checked through the gateway; fixed once recorded) and may concern one
inspected unit (target, checked likewise) and some findings, which must be of that round and,
when a target is named, of that target. A rule may cite the suggestions behind it, of the same
round; a cited suggestion cannot be deleted until no rule cites it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.concurrency import check_if_match
from services.common.errors import NotFound
from services.common.gateway_client import GatewayClient
from services.common.tombstones import record_deletion
from services.referrals import clients, snapshots
from services.referrals.clients import FindingRef
from services.referrals.dates import today
from services.referrals.errors import ReferenceInvalid, field_error
from services.referrals.models import EstablishedRule, Suggestion, tombstones
from services.referrals.results.errors import (
    ResultInvalid,
    RuleNotFound,
    SuggestionInUse,
    SuggestionNotFound,
)
from services.referrals.results.repository import (
    ResultRepository,
    RuleRepository,
    SuggestionRepository,
)
from services.referrals.results.schemas import (
    RuleCreate,
    RuleRead,
    RuleUpdate,
    SuggestionCreate,
    SuggestionRead,
    SuggestionUpdate,
)
from services.referrals.schemas import FindingSummary

SUGGESTION = "suggestion"
RULE = "rule"

Row = TypeVar("Row", Suggestion, EstablishedRule)
Read = TypeVar("Read", SuggestionRead, RuleRead)


def _fit(refs: Sequence[FindingRef], round_id: uuid.UUID, target_id: uuid.UUID | None) -> None:
    """Every finding is of the round and, when a target is named, of that target."""
    errors = []
    for n, ref in enumerate(refs):
        if ref.round_id is not None and ref.round_id != round_id:
            errors.append(
                {
                    "field": f"finding_ids.{n}",
                    "message": f"finding {ref.id} is of round {ref.round_id}, not {round_id}",
                    "code": "other_round",
                }
            )
        elif target_id is not None and ref.target_id is not None and ref.target_id != target_id:
            errors.append(
                {
                    "field": f"finding_ids.{n}",
                    "message": f"finding {ref.id} concerns target {ref.target_id}, not {target_id}",
                    "code": "other_target",
                }
            )
    if errors:
        raise ReferenceInvalid("; ".join(e["message"] for e in errors), errors=errors)


class _ResultService(Generic[Row, Read]):
    """What suggestions and rules share: references, presentation, locking, deletion."""

    entity: str
    read: type[Read]
    not_found: type[NotFound]
    repo: ResultRepository[Row]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, row_id: uuid.UUID) -> Row:
        row = await self.repo.get(row_id)
        if row is None:
            raise self.not_found(f"{self.entity} {row_id} not found")
        return row

    async def present(self, rows: Sequence[Row]) -> list[Read]:
        found = await snapshots.of(self.session, (f for r in rows for f in r.finding_ids))
        out = []
        for r in rows:
            fields: dict[str, Any] = {
                k: getattr(r, k) for k in self.read.model_fields if hasattr(r, k)
            }
            fields["findings"] = [
                FindingSummary.model_validate(found[f]) for f in r.finding_ids if f in found
            ]
            out.append(self.read.model_validate(fields))
        return out

    async def _references(
        self,
        gateway: GatewayClient,
        round_id: uuid.UUID,
        target_id: uuid.UUID | None,
        finding_ids: list[uuid.UUID],
        *,
        new_round: bool,
        new_target: bool,
    ) -> None:
        """Checks what changed against the services that own it and keeps the findings'
        snapshots."""
        if new_round:
            await clients.check_round(gateway, round_id)
        if new_target and target_id is not None:
            await clients.check_target(gateway, target_id)
        if finding_ids:
            refs = await clients.findings(gateway, finding_ids)
            _fit(refs, round_id, target_id)
            await snapshots.save(self.session, refs)

    async def _for_change(self, row_id: uuid.UUID, if_match: str | None) -> Row:
        row = await self.repo.locked(row_id)
        if row is None:
            raise self.not_found(f"{self.entity} {row_id} not found")
        check_if_match(if_match, row.version, required=True)
        return row

    async def _apply(self, row: Row, sent: dict[str, Any], gateway: GatewayClient) -> Row:
        """Sets the fields sent, checking the target and findings when either changes."""
        if "finding_ids" in sent:
            sent["finding_ids"] = list(dict.fromkeys(sent["finding_ids"]))
        target_id = sent.get("target_id", row.target_id)
        finding_ids = sent.get("finding_ids", row.finding_ids)
        if "target_id" in sent or "finding_ids" in sent:
            await self._references(
                gateway,
                row.round_id,
                target_id,
                finding_ids,
                new_round=False,
                new_target="target_id" in sent and target_id != row.target_id,
            )
        for field, value in sent.items():
            setattr(row, field, value.value if field == "adoption" else value)
        await self.session.flush()
        await self.session.refresh(row)
        return row

    async def _delete(self, row: Row) -> None:
        row_id = row.id
        await self.session.delete(row)
        await self.session.flush()
        await record_deletion(self.session, tombstones, self.entity, [row_id])


class SuggestionService(_ResultService[Suggestion, SuggestionRead]):
    entity = SUGGESTION
    read = SuggestionRead
    not_found = SuggestionNotFound
    repo: SuggestionRepository

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        self.repo = SuggestionRepository(session)

    async def create(
        self, data: SuggestionCreate, by: Principal, gateway: GatewayClient
    ) -> Suggestion:
        ids = list(dict.fromkeys(data.finding_ids))
        await self._references(
            gateway, data.round_id, data.target_id, ids, new_round=True, new_target=True
        )
        fields = data.model_dump(exclude={"finding_ids", "adoption"})
        row = Suggestion(
            **fields, adoption=data.adoption.value, finding_ids=ids, created_by=by.subject
        )
        return await self.repo.add(row)

    async def update(
        self,
        row_id: uuid.UUID,
        data: SuggestionUpdate,
        if_match: str | None,
        gateway: GatewayClient,
    ) -> Suggestion:
        row = await self._for_change(row_id, if_match)
        return await self._apply(row, data.model_dump(exclude_unset=True), gateway)

    async def delete(self, row_id: uuid.UUID, if_match: str | None) -> None:
        row = await self._for_change(row_id, if_match)
        rules = await self.repo.citing_rules(row_id)
        if rules:
            raise SuggestionInUse(
                f"{len(rules)} rule(s) established cite suggestion {row_id}",
                rules=[str(r) for r in rules],
            )
        await self._delete(row)


class RuleService(_ResultService[EstablishedRule, RuleRead]):
    entity = RULE
    read = RuleRead
    not_found = RuleNotFound
    repo: RuleRepository

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        self.repo = RuleRepository(session)
        self.suggestions = SuggestionRepository(session)

    async def _cited(self, round_id: uuid.UUID, ids: list[uuid.UUID]) -> list[uuid.UUID]:
        """The suggestions cited, each existing and of the round (locked until commit)."""
        ids = list(dict.fromkeys(ids))
        rounds = await self.suggestions.rounds_of(ids)
        errors = []
        for n, sid in enumerate(ids):
            if sid not in rounds:
                errors.append((n, f"no suggestion {sid}", "not_found"))
            elif rounds[sid] != round_id:
                errors.append((n, f"suggestion {sid} is of round {rounds[sid]}", "other_round"))
        if errors:
            raise ReferenceInvalid(
                "; ".join(m for _, m, _ in errors),
                errors=[
                    {"field": f"suggestion_ids.{n}", "message": m, "code": c} for n, m, c in errors
                ],
            )
        return ids

    @staticmethod
    def _issued(data: RuleCreate | RuleUpdate) -> None:
        if data.issued_on is not None and data.issued_on > today():
            raise field_error(ResultInvalid, "issued_on", "is in the future", "future_date")

    async def create(
        self, data: RuleCreate, by: Principal, gateway: GatewayClient
    ) -> EstablishedRule:
        self._issued(data)
        ids = list(dict.fromkeys(data.finding_ids))
        await self._references(
            gateway, data.round_id, data.target_id, ids, new_round=True, new_target=True
        )
        cited = await self._cited(data.round_id, data.suggestion_ids)
        fields = data.model_dump(exclude={"finding_ids", "suggestion_ids"})
        row = EstablishedRule(
            **fields, finding_ids=ids, suggestion_ids=cited, created_by=by.subject
        )
        return await self.repo.add(row)

    async def update(
        self,
        row_id: uuid.UUID,
        data: RuleUpdate,
        if_match: str | None,
        gateway: GatewayClient,
    ) -> EstablishedRule:
        self._issued(data)
        row = await self._for_change(row_id, if_match)
        sent = data.model_dump(exclude_unset=True)
        if "suggestion_ids" in sent:
            sent["suggestion_ids"] = await self._cited(row.round_id, sent["suggestion_ids"])
        return await self._apply(row, sent, gateway)

    async def delete(self, row_id: uuid.UUID, if_match: str | None) -> None:
        await self._delete(await self._for_change(row_id, if_match))
