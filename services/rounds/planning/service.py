"""Business rules of planning: terms, rounds and their state machine, work plans, checklists.
Flushes, never commits.

The round's state machine is strictly forward, one step at a time:
preparation → mobilisation → stationing → report → feedback → rectification → archived.
Going back is refused like any other illegal move: the transitions are the round's official
record (the history and the actual dates other services report on), so a mistaken move is put
right by correcting the phase's actual dates (PUT .../phases/{phase}), not by rewinding history.
Every change to a round locks its row first, so two concurrent moves cannot both succeed.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.concurrency import check_if_match
from services.common.errors import Problem
from services.common.events.catalogue import RoundPublished
from services.common.tombstones import record_deletion
from services.rounds.enums import RoundState
from services.rounds.events import events
from services.rounds.models import (
    ChecklistCategory,
    ChecklistTemplate,
    Round,
    RoundPhase,
    RoundTransition,
    Term,
    WorkPlan,
    tombstones,
)
from services.rounds.planning.checklist_seed import ensure_default_template
from services.rounds.planning.errors import (
    CategoryCodeTaken,
    CategoryNotFound,
    CategoryParentInvalid,
    ChecklistNameTaken,
    ChecklistNotFound,
    IllegalTransition,
    PhaseDatesInvalid,
    RoundArchived,
    RoundInUse,
    RoundNotFound,
    RoundNumberTaken,
    RoundReferenceInvalid,
    TemplateLocked,
    TermDatesInvalid,
    TermInUse,
    TermNameTaken,
    TermNotFound,
    WorkPlanNotFound,
)
from services.rounds.planning.repository import (
    ChecklistRepository,
    RoundRepository,
    TermRepository,
    WorkPlanRepository,
)
from services.rounds.planning.schemas import (
    CategoryCreate,
    ChecklistCreate,
    ChecklistUpdate,
    PhaseDates,
    RoundCreate,
    RoundUpdate,
    TermCreate,
    TermUpdate,
    TransitionCreate,
    WorkPlanCreate,
)

P = TypeVar("P", bound=Problem)
TERM = "term"
ROUND = "round"
SHANGHAI = ZoneInfo("Asia/Shanghai")
STATES: tuple[RoundState, ...] = tuple(RoundState)
STATE_CODES: tuple[str, ...] = tuple(s.value for s in STATES)
# The template decides what findings may be filed under; once stationing starts it is fixed.
TEMPLATE_CHANGEABLE = (RoundState.preparation.value, RoundState.mobilisation.value)


def today() -> date:
    """The office's calendar day (Asia/Shanghai), whatever the server's time zone."""
    return datetime.now(SHANGHAI).date()


def next_states(state: str) -> list[RoundState]:
    i = STATE_CODES.index(state)
    return list(STATES[i + 1 : i + 2])


def _field_error(cls: type[P], field: str, message: str, code: str) -> P:
    """A 422-style problem naming the offending field, as the request validation does."""
    return cls(f"{field}: {message}", errors=[{"field": field, "message": message, "code": code}])


class TermService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = TermRepository(session)

    async def create(self, data: TermCreate) -> Term:
        term = Term(
            name=data.name,
            starts_on=data.starts_on,
            ends_on=data.ends_on,
            coverage_kinds=list(dict.fromkeys(k.value for k in data.coverage_kinds)),
            jurisdiction=data.jurisdiction,
        )
        try:
            async with self.session.begin_nested():
                return await self.repo.add(term)
        except IntegrityError as exc:
            raise TermNameTaken(f"a term named {data.name} already exists") from exc

    async def get(self, term_id: uuid.UUID, principal: Principal) -> Term:
        term = await self.repo.get_visible(term_id, principal)
        if term is None:
            raise TermNotFound(f"term {term_id} not found")
        return term

    async def update(
        self, term_id: uuid.UUID, data: TermUpdate, if_match: str | None, by: Principal
    ) -> Term:
        term = await self.get(term_id, by)
        check_if_match(if_match, term.version)
        changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None}
        starts = changes.get("starts_on", term.starts_on)
        ends = changes.get("ends_on", term.ends_on)
        if ends <= starts:
            field = "ends_on" if "ends_on" in changes else "starts_on"
            raise _field_error(
                TermDatesInvalid, field, "ends_on must be after starts_on", "dates_ordered"
            )
        if "coverage_kinds" in changes:
            changes["coverage_kinds"] = list(
                dict.fromkeys(k.value for k in data.coverage_kinds or [])
            )
        for field, value in changes.items():
            setattr(term, field, value)
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError as exc:
            raise TermNameTaken("another term has this name") from exc
        await self.session.refresh(term)
        return term

    async def delete(self, term_id: uuid.UUID, if_match: str | None, by: Principal) -> None:
        term = await self.get(term_id, by)
        check_if_match(if_match, term.version)
        if await self.repo.has_rounds(term_id):
            raise TermInUse(f"term {term_id} has rounds")
        try:
            async with self.session.begin_nested():
                await self.session.delete(term)
                await self.session.flush()
        except IntegrityError as exc:  # a round was added meanwhile
            raise TermInUse(f"term {term_id} has rounds") from exc
        await record_deletion(self.session, tombstones, TERM, [term_id])


class RoundService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = RoundRepository(session)
        self.checklists = ChecklistRepository(session)

    async def create(self, data: RoundCreate, by: Principal) -> Round:
        if not await TermRepository(self.session).exists(data.term_id):
            raise _field_error(
                RoundReferenceInvalid, "term_id", f"no term {data.term_id}", "not_found"
            )
        template_id = data.checklist_template_id
        if template_id is None:
            template_id = await ensure_default_template(self.session)
        elif not await self.checklists.exists(template_id):
            raise _field_error(
                RoundReferenceInvalid,
                "checklist_template_id",
                f"no checklist template {template_id}",
                "not_found",
            )
        round_ = Round(
            term_id=data.term_id,
            number=data.number,
            name=data.name,
            kind=data.kind.value,
            theme=data.theme,
            checklist_template_id=template_id,
        )
        try:
            async with self.session.begin_nested():
                await self.repo.add(round_)
        except IntegrityError as exc:
            raise RoundNumberTaken(f"the term already has round number {data.number}") from exc
        # A round is in preparation from the day it is created.
        await self.repo.upsert_phase(
            round_.id, RoundState.preparation.value, {"actual_start": today()}
        )
        return round_

    async def get(self, round_id: uuid.UUID, principal: Principal) -> Round:
        round_ = await self.repo.get_visible(round_id, principal)
        if round_ is None:
            raise RoundNotFound(f"round {round_id} not found")
        return round_

    async def for_change(
        self, round_id: uuid.UUID, principal: Principal, if_match: str | None = None
    ) -> Round:
        """The round locked for a change: it must match If-Match and not be archived."""
        round_ = await self.repo.get_visible(round_id, principal, for_update=True)
        if round_ is None:
            raise RoundNotFound(f"round {round_id} not found")
        check_if_match(if_match, round_.version)
        if round_.state == RoundState.archived.value:
            raise RoundArchived(f"round {round_id} is archived")
        return round_

    async def phases(self, rounds: list[Round]) -> dict[uuid.UUID, list[RoundPhase]]:
        return await self.repo.phases_of([r.id for r in rounds])

    async def update(
        self, round_id: uuid.UUID, data: RoundUpdate, if_match: str | None, by: Principal
    ) -> Round:
        round_ = await self.for_change(round_id, by, if_match)
        changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None}
        template_id = changes.get("checklist_template_id")
        if template_id is not None and template_id != round_.checklist_template_id:
            if round_.state not in TEMPLATE_CHANGEABLE:
                raise TemplateLocked(f"round {round_id} is in {round_.state}")
            if not await self.checklists.exists(template_id):
                raise _field_error(
                    RoundReferenceInvalid,
                    "checklist_template_id",
                    f"no checklist template {template_id}",
                    "not_found",
                )
            own_codes = select(ChecklistCategory.code).where(ChecklistCategory.round_id == round_id)
            if await self.checklists.template_codes_clash(template_id, own_codes):
                raise CategoryCodeTaken(
                    "the new template has a category code the round already uses for its own"
                )
        for field, value in changes.items():
            setattr(round_, field, value.value if field == "kind" else value)
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError as exc:
            raise RoundNumberTaken(f"the term already has round number {data.number}") from exc
        await self.session.refresh(round_)
        return round_

    async def set_phase(
        self,
        round_id: uuid.UUID,
        phase: RoundState,
        data: PhaseDates,
        if_match: str | None,
        by: Principal,
    ) -> Round:
        round_ = await self.for_change(round_id, by, if_match)
        sent = data.model_dump(exclude_unset=True)
        if not sent:
            return round_
        stored = await self.repo.phase(round_id, phase.value)
        merged = {
            k: sent[k] if k in sent else (getattr(stored, k) if stored else None)
            for k in ("planned_start", "planned_end", "actual_start", "actual_end")
        }
        self._check_phase_dates(round_, phase, sent, merged)
        await self.repo.upsert_phase(round_id, phase.value, sent)
        # The phases are part of the round's representation: its version (ETag) moves too.
        round_.updated_at = func.now()
        await self.session.flush()
        await self.session.refresh(round_)
        return round_

    @staticmethod
    def _check_phase_dates(
        round_: Round, phase: RoundState, sent: dict[str, Any], merged: dict[str, Any]
    ) -> None:
        """Ends not before starts (checked on the stored dates merged with the sent ones);
        actual dates are facts: not in the future, and only for phases the round has reached."""

        def fail(field: str, message: str, code: str) -> PhaseDatesInvalid:
            return _field_error(PhaseDatesInvalid, field, message, code)

        for start, end in (("planned_start", "planned_end"), ("actual_start", "actual_end")):
            if merged[start] and merged[end] and merged[end] < merged[start]:
                # name the field the client sent (the end if both were)
                field = end if end in sent else start
                raise fail(field, f"{end} is before {start}", "dates_ordered")
        current = STATE_CODES.index(round_.state)
        reached = STATES.index(phase)
        for field in ("actual_start", "actual_end"):
            value = sent.get(field)
            if value is None:
                continue
            if value > today():
                raise fail(field, "an actual date cannot be in the future", "future_date")
            if reached > current:
                raise fail(field, f"the round has not reached {phase.value} yet", "not_reached")
            if field == "actual_end" and reached == current:
                raise fail(field, f"{phase.value} is the current phase", "still_running")

    async def transition(
        self, round_id: uuid.UUID, data: TransitionCreate, if_match: str | None, by: Principal
    ) -> RoundTransition:
        round_ = await self.repo.get_visible(round_id, by, for_update=True)
        if round_ is None:
            raise RoundNotFound(f"round {round_id} not found")
        check_if_match(if_match, round_.version)
        allowed = next_states(round_.state)
        if data.to not in allowed:
            if allowed:
                detail = (
                    f"a round in {round_.state} can only move to {allowed[0].value}"
                    f" ({allowed[0].label}), not to {data.to.value}"
                )
            else:
                detail = f"a round in {round_.state} is closed and cannot change state"
            raise IllegalTransition(
                detail, current=round_.state, allowed=[s.value for s in allowed]
            )
        left, entered, day = round_.state, data.to.value, today()
        round_.state = entered
        await self.session.flush()
        if left == RoundState.preparation.value:
            await events.emit(
                self.session,
                "round.published",
                round_.id,
                RoundPublished(
                    round_id=round_.id,
                    term_id=round_.term_id,
                    number=round_.number,
                    name=round_.name,
                    kind=round_.kind,
                ),
            )
        await self.repo.upsert_phase(round_id, left, {"actual_end": day})
        await self.repo.upsert_phase(round_id, entered, {"actual_start": day, "actual_end": None})
        return await self.repo.add_transition(
            RoundTransition(
                round_id=round_id, from_state=left, to_state=entered, note=data.note, by=by.subject
            )
        )

    async def delete(self, round_id: uuid.UUID, if_match: str | None, by: Principal) -> None:
        round_ = await self.for_change(round_id, by, if_match)
        if round_.state != RoundState.preparation.value or await self.repo.has_staffing(round_id):
            raise RoundInUse(f"round {round_id} is under way or has groups or assignments")
        try:
            async with self.session.begin_nested():
                await self.session.delete(round_)
                await self.session.flush()
        except IntegrityError as exc:  # a group was added meanwhile
            raise RoundInUse(f"round {round_id} has groups or assignments") from exc
        await record_deletion(self.session, tombstones, ROUND, [round_id])

    async def transition_of(
        self, round_id: uuid.UUID, transition_id: uuid.UUID, principal: Principal
    ) -> RoundTransition:
        await self.get(round_id, principal)
        found = await self.repo.transition(round_id, transition_id)
        if found is None:
            raise RoundNotFound(f"round {round_id} has no transition {transition_id}")
        return found


class WorkPlanService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = WorkPlanRepository(session)
        self.rounds = RoundService(session)

    async def save(self, round_id: uuid.UUID, data: WorkPlanCreate, by: Principal) -> WorkPlan:
        # The round's row lock serialises concurrent saves, so `next_version` is never taken
        # twice; unique (round_id, version) stays as the database's guarantee.
        await self.rounds.for_change(round_id, by)
        version = await self.repo.next_version(round_id)
        return await self.repo.add(
            WorkPlan(
                round_id=round_id,
                version=version,
                body=data.body,
                note=data.note,
                created_by=by.subject,
            )
        )

    async def latest(self, round_id: uuid.UUID, principal: Principal) -> WorkPlan:
        await self.rounds.get(round_id, principal)
        plan = await self.repo.latest(round_id)
        if plan is None:
            raise WorkPlanNotFound(f"round {round_id} has no work plan yet")
        return plan

    async def version(self, round_id: uuid.UUID, version: int, principal: Principal) -> WorkPlan:
        await self.rounds.get(round_id, principal)
        plan = await self.repo.by_version(round_id, version)
        if plan is None:
            raise WorkPlanNotFound(f"round {round_id} has no work plan version {version}")
        return plan


class ChecklistService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = ChecklistRepository(session)

    async def create(self, data: ChecklistCreate) -> ChecklistTemplate:
        # the default first, so that no one can take its name
        await ensure_default_template(self.session)
        try:
            async with self.session.begin_nested():
                return await self.repo.add(ChecklistTemplate(name=data.name))
        except IntegrityError as exc:
            raise ChecklistNameTaken(f"a template named {data.name} already exists") from exc

    async def get(self, template_id: uuid.UUID, principal: Principal) -> ChecklistTemplate:
        template = await self.repo.get_visible(template_id, principal)
        if template is None:
            raise ChecklistNotFound(f"checklist template {template_id} not found")
        return template

    async def _locked(self, template_id: uuid.UUID, if_match: str | None) -> ChecklistTemplate:
        template = await self.session.scalar(
            select(ChecklistTemplate)
            .where(ChecklistTemplate.id == template_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if template is None:
            raise ChecklistNotFound(f"checklist template {template_id} not found")
        check_if_match(if_match, template.version)
        return template

    async def update(
        self, template_id: uuid.UUID, data: ChecklistUpdate, if_match: str | None
    ) -> ChecklistTemplate:
        template = await self._locked(template_id, if_match)
        if data.name is not None:
            template.name = data.name
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError as exc:
            raise ChecklistNameTaken(f"a template named {data.name} already exists") from exc
        await self.session.refresh(template)
        return template

    async def add_to_template(
        self, template_id: uuid.UUID, data: CategoryCreate
    ) -> ChecklistCategory:
        template = await self._locked(template_id, None)
        owner = ChecklistCategory.template_id == template_id
        await self._check_parent(data, owner)
        # A round using this template must not already have its own category with the code.
        users = select(Round.id).where(Round.checklist_template_id == template_id)
        if await self.repo.code_in_use(owner, data.code) or await self.repo.code_in_use(
            ChecklistCategory.round_id.in_(users), data.code
        ):
            raise CategoryCodeTaken(f"code {data.code} is already in use")
        category = await self._add(data, template_id=template_id)
        # the template's tree is part of its representation: its ETag moves
        template.updated_at = func.now()
        await self.session.flush()
        return category

    async def add_to_round(
        self, round_id: uuid.UUID, data: CategoryCreate, by: Principal
    ) -> ChecklistCategory:
        round_ = await RoundService(self.session).for_change(round_id, by)
        effective = self.repo.effective(round_)
        await self._check_parent(data, effective)
        if await self.repo.code_in_use(effective, data.code):
            raise CategoryCodeTaken(f"code {data.code} is already in use in this round")
        return await self._add(data, round_id=round_id)

    async def _check_parent(self, data: CategoryCreate, owner: Any) -> None:
        if data.parent_id is None:
            return
        parent = await self.session.scalar(
            select(ChecklistCategory).where(ChecklistCategory.id == data.parent_id, owner)
        )
        if parent is None:
            raise _field_error(
                CategoryParentInvalid,
                "parent_id",
                "the parent category is not in this checklist",
                "not_found",
            )
        if parent.kind != data.kind.value:
            raise _field_error(
                CategoryParentInvalid,
                "kind",
                f"a sub-category has its parent's kind ({parent.kind})",
                "kind_mismatch",
            )

    async def _add(
        self,
        data: CategoryCreate,
        *,
        template_id: uuid.UUID | None = None,
        round_id: uuid.UUID | None = None,
    ) -> ChecklistCategory:
        category = ChecklistCategory(
            template_id=template_id,
            round_id=round_id,
            parent_id=data.parent_id,
            code=data.code,
            name=data.name,
            kind=data.kind.value,
            position=data.position,
        )
        try:
            async with self.session.begin_nested():
                return await self.repo.add_category(category)
        except IntegrityError as exc:
            raise CategoryCodeTaken(f"code {data.code} is already in use") from exc

    async def template_category(
        self, template_id: uuid.UUID, category_id: uuid.UUID, principal: Principal
    ) -> ChecklistCategory:
        await self.get(template_id, principal)
        category = await self.repo.category(category_id)
        if category is None or category.template_id != template_id:
            raise CategoryNotFound(f"category {category_id} not found in this template")
        return category

    async def round_category(
        self, round_id: uuid.UUID, category_id: uuid.UUID, principal: Principal
    ) -> ChecklistCategory:
        round_ = await RoundService(self.session).get(round_id, principal)
        category = await self.repo.category(category_id)
        if category is None or not (
            category.round_id == round_id
            or (
                category.template_id is not None
                and category.template_id == round_.checklist_template_id
            )
        ):
            raise CategoryNotFound(f"category {category_id} is not in effect for this round")
        return category
