"""Every query of the planning part. Visibility is part of each query (see rounds/access.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, exists, func, or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert

from services.common.auth import Principal
from services.common.errors import ValidationFailed
from services.common.pagination import PageParams, decode_cursor, keyset
from services.common.repository import Repository
from services.rounds import access
from services.rounds.models import (
    Assignment,
    ChecklistCategory,
    ChecklistTemplate,
    Group,
    Round,
    RoundPhase,
    RoundTransition,
    Term,
    WorkPlan,
)


class TermRepository(Repository[Term]):
    model = Term

    def scoped(self, principal: Principal) -> Select[Any]:
        stmt = select(Term)
        if not access.sees_all(principal):
            stmt = stmt.where(
                Term.id.in_(
                    select(Round.term_id).where(Round.id.in_(access.visible_round_ids(principal)))
                )
            )
        return stmt

    async def get_visible(self, term_id: uuid.UUID, principal: Principal) -> Term | None:
        stmt = self.scoped(principal).where(Term.id == term_id)
        return (await self.session.scalars(stmt)).one_or_none()

    async def exists(self, term_id: uuid.UUID) -> bool:
        return bool(await self.session.scalar(select(exists().where(Term.id == term_id))))

    async def has_rounds(self, term_id: uuid.UUID) -> bool:
        return bool(await self.session.scalar(select(exists().where(Round.term_id == term_id))))

    async def search(
        self,
        params: PageParams,
        principal: Principal,
        *,
        jurisdiction: str | None = None,
        active_on: date | None = None,
        updated_since: datetime | None = None,
    ) -> Sequence[Term]:
        stmt = self.scoped(principal)
        if jurisdiction is not None:
            stmt = stmt.where(Term.jurisdiction == jurisdiction)
        if active_on is not None:
            stmt = stmt.where(Term.starts_on <= active_on, Term.ends_on >= active_on)
        if updated_since is not None:
            stmt = stmt.where(Term.updated_at > updated_since)
        return await self.page(stmt, params)


class RoundRepository(Repository[Round]):
    model = Round

    def scoped(self, principal: Principal) -> Select[Any]:
        stmt = select(Round)
        if not access.sees_all(principal):
            stmt = stmt.where(Round.id.in_(access.visible_round_ids(principal)))
        return stmt

    async def get_visible(
        self, round_id: uuid.UUID, principal: Principal, *, for_update: bool = False
    ) -> Round | None:
        """`for_update` locks the row until the end of the transaction: every change to a round
        (and the numbering of its work plans) is serialised on it."""
        stmt = self.scoped(principal).where(Round.id == round_id)
        if for_update:
            stmt = stmt.with_for_update(of=Round).execution_options(populate_existing=True)
        return (await self.session.scalars(stmt)).one_or_none()

    async def search(
        self,
        params: PageParams,
        principal: Principal,
        *,
        term_id: uuid.UUID | None = None,
        kind: str | None = None,
        state: str | None = None,
        updated_since: datetime | None = None,
    ) -> Sequence[Round]:
        stmt = self.scoped(principal)
        if term_id is not None:
            stmt = stmt.where(Round.term_id == term_id)
        if kind is not None:
            stmt = stmt.where(Round.kind == kind)
        if state is not None:
            stmt = stmt.where(Round.state == state)
        if updated_since is not None:
            stmt = stmt.where(Round.updated_at > updated_since)
        return await self.page(stmt, params)

    async def has_staffing(self, round_id: uuid.UUID) -> bool:
        """Groups or assignments exist: the round is being worked on and cannot be deleted."""
        stmt = select(
            or_(
                exists().where(Group.round_id == round_id),
                exists().where(Assignment.round_id == round_id),
            )
        )
        return bool(await self.session.scalar(stmt))

    # ---- phases ----

    async def phases_of(self, round_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[RoundPhase]]:
        """The stored phases of many rounds in one query."""
        out: dict[uuid.UUID, list[RoundPhase]] = {rid: [] for rid in round_ids}
        if not round_ids:
            return out
        rows = await self.session.scalars(
            select(RoundPhase)
            .where(RoundPhase.round_id.in_(list(round_ids)))
            .execution_options(populate_existing=True)
        )
        for phase in rows:
            out[phase.round_id].append(phase)
        return out

    async def phase(self, round_id: uuid.UUID, phase: str) -> RoundPhase | None:
        return await self.session.get(RoundPhase, (round_id, phase), populate_existing=True)

    async def upsert_phase(self, round_id: uuid.UUID, phase: str, values: dict[str, Any]) -> None:
        stmt = insert(RoundPhase).values(round_id=round_id, phase=phase, **values)
        if values:
            stmt = stmt.on_conflict_do_update(
                index_elements=[RoundPhase.round_id, RoundPhase.phase],
                set_={k: stmt.excluded[k] for k in values},
            )
        else:
            stmt = stmt.on_conflict_do_nothing()
        await self.session.execute(stmt)

    # ---- transitions ----

    async def add_transition(self, transition: RoundTransition) -> RoundTransition:
        self.session.add(transition)
        await self.session.flush()
        await self.session.refresh(transition)
        return transition

    async def transitions(
        self, round_id: uuid.UUID, params: PageParams, *, updated_since: datetime | None = None
    ) -> Sequence[RoundTransition]:
        """Oldest first: the round's history as it happened."""
        stmt = select(RoundTransition).where(RoundTransition.round_id == round_id)
        if updated_since is not None:
            stmt = stmt.where(RoundTransition.at > updated_since)
        return (
            await self.session.scalars(keyset(stmt, params, RoundTransition.at, RoundTransition.id))
        ).all()

    async def transition(
        self, round_id: uuid.UUID, transition_id: uuid.UUID
    ) -> RoundTransition | None:
        return await self.session.scalar(
            select(RoundTransition).where(
                RoundTransition.round_id == round_id, RoundTransition.id == transition_id
            )
        )


class WorkPlanRepository(Repository[WorkPlan]):
    model = WorkPlan

    async def next_version(self, round_id: uuid.UUID) -> int:
        """Call with the round row locked, so that no other save can take the same number."""
        current = await self.session.scalar(
            select(func.coalesce(func.max(WorkPlan.version), 0)).where(
                WorkPlan.round_id == round_id
            )
        )
        return int(current or 0) + 1

    async def by_version(self, round_id: uuid.UUID, version: int) -> WorkPlan | None:
        return await self.session.scalar(
            select(WorkPlan).where(WorkPlan.round_id == round_id, WorkPlan.version == version)
        )

    async def latest(self, round_id: uuid.UUID) -> WorkPlan | None:
        return await self.session.scalar(
            select(WorkPlan)
            .where(WorkPlan.round_id == round_id)
            .order_by(WorkPlan.version.desc())
            .limit(1)
        )

    async def versions(
        self, round_id: uuid.UUID, params: PageParams, *, updated_since: datetime | None = None
    ) -> Sequence[WorkPlan]:
        """By version number. The cursor (the shared format) names the last row seen; the page
        continues after that row's version, which concurrent saves may order differently from
        their `created_at` (the transaction start)."""
        stmt = select(WorkPlan).where(WorkPlan.round_id == round_id)
        if updated_since is not None:
            stmt = stmt.where(WorkPlan.created_at > updated_since)
        if params.cursor:
            _, last_id = decode_cursor(params.cursor)
            stmt = stmt.where(
                WorkPlan.version
                > select(WorkPlan.version).where(WorkPlan.id == last_id).scalar_subquery()
            )
        stmt = stmt.order_by(WorkPlan.version).limit(params.limit + 1)
        return (await self.session.scalars(stmt)).all()


class ChecklistRepository(Repository[ChecklistTemplate]):
    model = ChecklistTemplate

    def scoped(self, principal: Principal) -> Select[Any]:
        """Planners see every template; a leader sees those their rounds use."""
        stmt = select(ChecklistTemplate)
        if not access.sees_all(principal):
            stmt = stmt.where(
                ChecklistTemplate.id.in_(
                    select(Round.checklist_template_id).where(
                        Round.id.in_(access.visible_round_ids(principal))
                    )
                )
            )
        return stmt

    async def get_visible(
        self, template_id: uuid.UUID, principal: Principal
    ) -> ChecklistTemplate | None:
        stmt = self.scoped(principal).where(ChecklistTemplate.id == template_id)
        return (await self.session.scalars(stmt)).one_or_none()

    async def exists(self, template_id: uuid.UUID) -> bool:
        return bool(
            await self.session.scalar(select(exists().where(ChecklistTemplate.id == template_id)))
        )

    async def search(
        self,
        params: PageParams,
        principal: Principal,
        *,
        updated_since: datetime | None = None,
    ) -> Sequence[ChecklistTemplate]:
        stmt = self.scoped(principal)
        if updated_since is not None:
            stmt = stmt.where(ChecklistTemplate.updated_at > updated_since)
        return await self.page(stmt, params)

    # ---- categories ----

    async def categories_of_template(self, template_id: uuid.UUID) -> Sequence[ChecklistCategory]:
        """All levels of a template's tree in one query, siblings in display order."""
        stmt = (
            select(ChecklistCategory)
            .where(ChecklistCategory.template_id == template_id)
            .order_by(ChecklistCategory.position, ChecklistCategory.code)
        )
        return (await self.session.scalars(stmt)).all()

    @staticmethod
    def effective(round_: Round) -> Any:
        """A round's categories: its template's plus its own."""
        own = ChecklistCategory.round_id == round_.id
        if round_.checklist_template_id is None:
            return own
        return or_(ChecklistCategory.template_id == round_.checklist_template_id, own)

    async def categories_of_round(
        self, round_: Round, params: PageParams, *, updated_since: datetime | None = None
    ) -> Sequence[ChecklistCategory]:
        """The template's categories first, then the round's own, each in display order. The
        cursor (the shared format) names the last row seen; the page continues after its key."""
        own = ChecklistCategory.round_id.is_not(None)
        key = (own, ChecklistCategory.position, ChecklistCategory.code, ChecklistCategory.id)
        stmt = select(ChecklistCategory).where(self.effective(round_))
        if updated_since is not None:
            stmt = stmt.where(ChecklistCategory.updated_at > updated_since)
        if params.cursor:
            _, last_id = decode_cursor(params.cursor)
            last = await self.session.get(ChecklistCategory, last_id)
            if last is None:
                raise ValidationFailed(
                    "cursor is not one this API issued",
                    errors=[{"field": "query.cursor", "message": "invalid cursor",
                             "code": "cursor_invalid"}],
                )  # fmt: skip
            after = (last.round_id is not None, last.position, last.code, last.id)
            stmt = stmt.where(tuple_(*key) > tuple_(*after))
        stmt = stmt.order_by(*key).limit(params.limit + 1)
        return (await self.session.scalars(stmt)).all()

    async def category(self, category_id: uuid.UUID) -> ChecklistCategory | None:
        return await self.session.get(ChecklistCategory, category_id)

    async def code_in_use(self, owner: Any, code: str) -> bool:
        return bool(
            await self.session.scalar(select(exists().where(owner, ChecklistCategory.code == code)))
        )

    async def template_codes_clash(self, template_id: uuid.UUID, round_codes: Any) -> bool:
        """Whether any of `round_codes` (a subquery of codes) is also a code of the template."""
        stmt = select(
            exists().where(
                ChecklistCategory.template_id == template_id,
                ChecklistCategory.code.in_(round_codes),
            )
        )
        return bool(await self.session.scalar(stmt))

    async def add_category(self, category: ChecklistCategory) -> ChecklistCategory:
        self.session.add(category)
        await self.session.flush()
        await self.session.refresh(category)
        return category
