"""Routes of planning (届次、轮次、工作方案、巡察内容): parse, call the service, shape the response.

Writes need the office (or admin) role. Reads: the office sees everything; a group leader sees
the rounds of their groups and the terms, work plans and checklists of those rounds; anyone else
sees nothing (empty lists, 404 on single reads).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status

from services.common.auth import CurrentPrincipal, Principal, require_roles
from services.common.concurrency import IfMatch, set_etag
from services.common.db import DbSession
from services.common.errors import Forbidden, PreconditionFailed, problem_responses
from services.common.fields import Day, UpdatedSince
from services.common.pagination import Page, Paging, encode_cursor, make_page
from services.common.tombstones import deleted_since
from services.rounds import access
from services.rounds.enums import RoundKind, RoundState
from services.rounds.models import ChecklistCategory, Round, RoundPhase, tombstones
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
    CategoryNode,
    CategoryRead,
    ChecklistCreate,
    ChecklistDetail,
    ChecklistRead,
    ChecklistUpdate,
    PhaseDates,
    PhaseRead,
    RoundCategoryRead,
    RoundCreate,
    RoundRead,
    RoundUpdate,
    TermCreate,
    TermRead,
    TermUpdate,
    TransitionCreate,
    TransitionRead,
    WorkPlanCreate,
    WorkPlanRead,
)
from services.rounds.planning.service import (
    ROUND,
    TERM,
    ChecklistService,
    RoundService,
    TermService,
    WorkPlanService,
    next_states,
)

Planner = Annotated[Principal, Depends(require_roles(*access.PLANNERS))]
WRITE = (Forbidden,)
RoundId = Annotated[uuid.UUID, Path(description="轮次 id")]


def _term(term: object, response: Response) -> TermRead:
    read = TermRead.model_validate(term)
    set_etag(response, read.version)
    return read


def _round(round_: Round, phases: Sequence[RoundPhase]) -> RoundRead:
    stored = {p.phase: p for p in phases}
    return RoundRead(
        id=round_.id,
        term_id=round_.term_id,
        number=round_.number,
        name=round_.name,
        kind=round_.kind,
        theme=round_.theme,
        state=round_.state,
        next_states=next_states(round_.state),
        checklist_template_id=round_.checklist_template_id,
        phases=[
            PhaseRead.model_validate(stored[s.value]) if s.value in stored else PhaseRead(phase=s)
            for s in RoundState
        ],
        version=round_.version,
        created_at=round_.created_at,
        updated_at=round_.updated_at,
    )


async def _round_with_etag(service: RoundService, round_: Round, response: Response) -> RoundRead:
    phases = await service.phases([round_])
    set_etag(response, round_.version)
    return _round(round_, phases[round_.id])


def _tree(categories: Sequence[ChecklistCategory]) -> list[CategoryNode]:
    """Nests the flat rows (already in sibling order) under their parents."""
    nodes = {
        c.id: CategoryNode(id=c.id, code=c.code, name=c.name, kind=c.kind, position=c.position)
        for c in categories
    }
    roots: list[CategoryNode] = []
    for c in categories:
        parent = nodes.get(c.parent_id) if c.parent_id else None
        (parent.children if parent else roots).append(nodes[c.id])
    return roots


# ---- terms (届) ----

terms = APIRouter(prefix="/api/v1/terms", tags=["terms"])


@terms.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="新建届次 Create a term",
    responses=problem_responses(*WRITE, TermNameTaken),
)
async def create_term(
    body: TermCreate, session: DbSession, _: Planner, response: Response
) -> TermRead:
    term = await TermService(session).create(body)
    response.headers["Location"] = f"/api/v1/terms/{term.id}"
    return _term(term, response)


@terms.get("", summary="届次列表 List terms")
async def list_terms(
    session: DbSession,
    principal: CurrentPrincipal,
    paging: Paging,
    jurisdiction: Annotated[str | None, Query(max_length=100)] = None,
    active_on: Annotated[Day | None, Query(description="terms running on this day")] = None,
    updated_since: UpdatedSince = None,
) -> Page[TermRead]:
    rows = await TermRepository(session).search(
        paging,
        principal,
        jurisdiction=jurisdiction,
        active_on=active_on,
        updated_since=updated_since,
    )
    page = make_page(rows, paging, TermRead)
    # A deletable term has no rounds, so only planners ever saw one.
    if updated_since is not None and paging.cursor is None and access.sees_all(principal):
        page.deleted = await deleted_since(session, tombstones, TERM, updated_since)
    return page


@terms.get("/{term_id}", summary="查看届次 Read a term", responses=problem_responses(TermNotFound))
async def get_term(
    term_id: uuid.UUID, session: DbSession, principal: CurrentPrincipal, response: Response
) -> TermRead:
    return _term(await TermService(session).get(term_id, principal), response)


@terms.patch(
    "/{term_id}",
    summary="修改届次 Change a term",
    responses=problem_responses(
        *WRITE, TermNotFound, TermNameTaken, TermDatesInvalid, PreconditionFailed
    ),
)
async def update_term(
    term_id: uuid.UUID,
    body: TermUpdate,
    session: DbSession,
    principal: Planner,
    response: Response,
    if_match: IfMatch = None,
) -> TermRead:
    return _term(await TermService(session).update(term_id, body, if_match, principal), response)


@terms.delete(
    "/{term_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="删除届次（无轮次时） Delete a term without rounds",
    responses=problem_responses(*WRITE, TermNotFound, TermInUse, PreconditionFailed),
)
async def delete_term(
    term_id: uuid.UUID, session: DbSession, principal: Planner, if_match: IfMatch = None
) -> None:
    await TermService(session).delete(term_id, if_match, principal)


# ---- rounds (轮次) ----

rounds = APIRouter(prefix="/api/v1/rounds", tags=["rounds"])


@rounds.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="新建巡察轮次 Create a round",
    description="The round starts in preparation (准备). Without `checklist_template_id` it uses "
    "the default checklist (the “3+7”).",
    responses=problem_responses(*WRITE, RoundNumberTaken, RoundReferenceInvalid),
)
async def create_round(
    body: RoundCreate, session: DbSession, principal: Planner, response: Response
) -> RoundRead:
    service = RoundService(session)
    round_ = await service.create(body, principal)
    response.headers["Location"] = f"/api/v1/rounds/{round_.id}"
    return await _round_with_etag(service, round_, response)


@rounds.get("", summary="巡察轮次列表 List rounds")
async def list_rounds(
    session: DbSession,
    principal: CurrentPrincipal,
    paging: Paging,
    term_id: uuid.UUID | None = None,
    kind: RoundKind | None = None,
    state: RoundState | None = None,
    updated_since: UpdatedSince = None,
) -> Page[RoundRead]:
    repo = RoundRepository(session)
    rows = await repo.search(
        paging,
        principal,
        term_id=term_id,
        kind=kind.value if kind else None,
        state=state.value if state else None,
        updated_since=updated_since,
    )
    more = len(rows) > paging.limit
    rows = rows[: paging.limit]
    phases = await repo.phases_of([r.id for r in rows])
    page = Page[RoundRead](
        items=[_round(r, phases[r.id]) for r in rows],
        next_cursor=encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None,
    )
    # A deletable round has no groups, so only planners ever saw one.
    if updated_since is not None and paging.cursor is None and access.sees_all(principal):
        page.deleted = await deleted_since(session, tombstones, ROUND, updated_since)
    return page


@rounds.get(
    "/{round_id}", summary="查看巡察轮次 Read a round", responses=problem_responses(RoundNotFound)
)
async def get_round(
    round_id: RoundId, session: DbSession, principal: CurrentPrincipal, response: Response
) -> RoundRead:
    service = RoundService(session)
    return await _round_with_etag(service, await service.get(round_id, principal), response)


@rounds.patch(
    "/{round_id}",
    summary="修改巡察轮次 Change a round",
    responses=problem_responses(
        *WRITE,
        RoundNotFound,
        RoundNumberTaken,
        RoundReferenceInvalid,
        RoundArchived,
        TemplateLocked,
        PreconditionFailed,
    ),
)
async def update_round(
    round_id: RoundId,
    body: RoundUpdate,
    session: DbSession,
    principal: Planner,
    response: Response,
    if_match: IfMatch = None,
) -> RoundRead:
    service = RoundService(session)
    round_ = await service.update(round_id, body, if_match, principal)
    return await _round_with_etag(service, round_, response)


@rounds.delete(
    "/{round_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="删除巡察轮次（准备阶段且未组建巡察组时） Delete a round still in preparation",
    responses=problem_responses(
        *WRITE, RoundNotFound, RoundInUse, RoundArchived, PreconditionFailed
    ),
)
async def delete_round(
    round_id: RoundId, session: DbSession, principal: Planner, if_match: IfMatch = None
) -> None:
    await RoundService(session).delete(round_id, if_match, principal)


@rounds.put(
    "/{round_id}/phases/{phase}",
    summary="设定阶段计划/实际日期 Set a phase's dates",
    description="Fields left out keep their value; `null` clears one. Actual dates are set by "
    "the transitions; they may be corrected here, never in the future, and only for phases "
    "the round has reached. The round's ETag changes.",
    responses=problem_responses(
        *WRITE, RoundNotFound, RoundArchived, PhaseDatesInvalid, PreconditionFailed
    ),
)
async def set_round_phase(
    round_id: RoundId,
    phase: RoundState,
    body: PhaseDates,
    session: DbSession,
    principal: Planner,
    response: Response,
    if_match: IfMatch = None,
) -> RoundRead:
    service = RoundService(session)
    round_ = await service.set_phase(round_id, phase, body, if_match, principal)
    return await _round_with_etag(service, round_, response)


@rounds.post(
    "/{round_id}/transitions",
    status_code=status.HTTP_201_CREATED,
    summary="推进轮次阶段 Move a round to its next state",
    description="Strictly forward, one step: preparation → mobilisation → stationing → report → "
    "feedback → rectification → archived. Any other move is 409 `illegal-transition` whose "
    "`allowed` lists the legal next state (empty once archived). The phase left ends today and "
    "the phase entered starts today (Asia/Shanghai).",
    responses=problem_responses(*WRITE, RoundNotFound, IllegalTransition, PreconditionFailed),
)
async def create_transition(
    round_id: RoundId,
    body: TransitionCreate,
    session: DbSession,
    principal: Planner,
    response: Response,
    if_match: IfMatch = None,
) -> TransitionRead:
    moved = await RoundService(session).transition(round_id, body, if_match, principal)
    response.headers["Location"] = f"/api/v1/rounds/{round_id}/transitions/{moved.id}"
    return TransitionRead.model_validate(moved)


@rounds.get("/{round_id}/transitions", summary="阶段变更记录 A round's state history")
async def list_transitions(
    round_id: RoundId,
    session: DbSession,
    principal: CurrentPrincipal,
    paging: Paging,
    updated_since: UpdatedSince = None,
) -> Page[TransitionRead]:
    await RoundService(session).get(round_id, principal)
    rows = await RoundRepository(session).transitions(round_id, paging, updated_since=updated_since)
    more = len(rows) > paging.limit
    rows = rows[: paging.limit]
    return Page[TransitionRead](
        items=[TransitionRead.model_validate(r) for r in rows],
        next_cursor=encode_cursor(rows[-1].at, rows[-1].id) if more and rows else None,
    )


@rounds.get(
    "/{round_id}/transitions/{transition_id}",
    summary="查看一次阶段变更 Read one state change",
    responses=problem_responses(RoundNotFound),
)
async def get_transition(
    round_id: RoundId, transition_id: uuid.UUID, session: DbSession, principal: CurrentPrincipal
) -> TransitionRead:
    found = await RoundService(session).transition_of(round_id, transition_id, principal)
    return TransitionRead.model_validate(found)


# ---- work plans (工作方案) ----


@rounds.post(
    "/{round_id}/work-plans",
    status_code=status.HTTP_201_CREATED,
    summary="保存工作方案新版本 Save a new work plan version",
    description="Each save is version n+1 and never changes afterwards; concurrent saves get "
    "consecutive versions.",
    responses=problem_responses(*WRITE, RoundNotFound, RoundArchived),
)
async def save_work_plan(
    round_id: RoundId,
    body: WorkPlanCreate,
    session: DbSession,
    principal: Planner,
    response: Response,
) -> WorkPlanRead:
    plan = await WorkPlanService(session).save(round_id, body, principal)
    response.headers["Location"] = f"/api/v1/rounds/{round_id}/work-plans/{plan.version}"
    set_etag(response, plan.version)
    return WorkPlanRead.model_validate(plan)


@rounds.get(
    "/{round_id}/work-plans",
    summary="工作方案版本列表 List work plan versions",
    description="By version, oldest first.",
    responses=problem_responses(RoundNotFound),
)
async def list_work_plans(
    round_id: RoundId,
    session: DbSession,
    principal: CurrentPrincipal,
    paging: Paging,
    updated_since: UpdatedSince = None,
) -> Page[WorkPlanRead]:
    await RoundService(session).get(round_id, principal)
    rows = await WorkPlanRepository(session).versions(round_id, paging, updated_since=updated_since)
    return make_page(rows, paging, WorkPlanRead)


@rounds.get(
    "/{round_id}/work-plans/latest",
    summary="最新工作方案 Read the latest work plan",
    responses=problem_responses(RoundNotFound, WorkPlanNotFound),
)
async def get_latest_work_plan(
    round_id: RoundId, session: DbSession, principal: CurrentPrincipal, response: Response
) -> WorkPlanRead:
    plan = await WorkPlanService(session).latest(round_id, principal)
    set_etag(response, plan.version)
    return WorkPlanRead.model_validate(plan)


@rounds.get(
    "/{round_id}/work-plans/{version}",
    summary="查看工作方案某一版本 Read one work plan version",
    responses=problem_responses(RoundNotFound, WorkPlanNotFound),
)
async def get_work_plan(
    round_id: RoundId,
    version: Annotated[int, Path(ge=1, le=1_000_000)],
    session: DbSession,
    principal: CurrentPrincipal,
    response: Response,
) -> WorkPlanRead:
    plan = await WorkPlanService(session).version(round_id, version, principal)
    set_etag(response, plan.version)
    return WorkPlanRead.model_validate(plan)


# ---- a round's categories ----


@rounds.post(
    "/{round_id}/categories",
    status_code=status.HTTP_201_CREATED,
    summary="为本轮增加问题类别 Add a category of the round's own",
    description="The code must not be in use by the round's template or the round.",
    responses=problem_responses(
        *WRITE, RoundNotFound, RoundArchived, CategoryCodeTaken, CategoryParentInvalid
    ),
)
async def add_round_category(
    round_id: RoundId,
    body: CategoryCreate,
    session: DbSession,
    principal: Planner,
    response: Response,
) -> RoundCategoryRead:
    category = await ChecklistService(session).add_to_round(round_id, body, principal)
    response.headers["Location"] = f"/api/v1/rounds/{round_id}/categories/{category.id}"
    set_etag(response, category.version)
    return RoundCategoryRead.model_validate(category)


@rounds.get(
    "/{round_id}/categories",
    summary="本轮巡察内容 The round's categories in effect",
    description="The round's template's categories plus its own (`source` tells which); "
    "findings are filed under these.",
    responses=problem_responses(RoundNotFound),
)
async def list_round_categories(
    round_id: RoundId,
    session: DbSession,
    principal: CurrentPrincipal,
    paging: Paging,
    updated_since: UpdatedSince = None,
) -> Page[RoundCategoryRead]:
    round_ = await RoundService(session).get(round_id, principal)
    rows = await ChecklistRepository(session).categories_of_round(
        round_, paging, updated_since=updated_since
    )
    return make_page(rows, paging, RoundCategoryRead)


@rounds.get(
    "/{round_id}/categories/{category_id}",
    summary="查看本轮某一问题类别 Read a category in effect for the round",
    responses=problem_responses(RoundNotFound, CategoryNotFound),
)
async def get_round_category(
    round_id: RoundId,
    category_id: uuid.UUID,
    session: DbSession,
    principal: CurrentPrincipal,
    response: Response,
) -> RoundCategoryRead:
    category = await ChecklistService(session).round_category(round_id, category_id, principal)
    set_etag(response, category.version)
    return RoundCategoryRead.model_validate(category)


# ---- content checklists (巡察内容模板) ----

checklists = APIRouter(prefix="/api/v1/checklists", tags=["checklists"])


@checklists.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="新建巡察内容模板 Create a checklist template",
    responses=problem_responses(*WRITE, ChecklistNameTaken),
)
async def create_checklist(
    body: ChecklistCreate, session: DbSession, _: Planner, response: Response
) -> ChecklistRead:
    template = await ChecklistService(session).create(body)
    response.headers["Location"] = f"/api/v1/checklists/{template.id}"
    set_etag(response, template.version)
    return ChecklistRead.model_validate(template)


@checklists.get(
    "",
    summary="巡察内容模板列表 List checklist templates",
    description="Includes the default template (the “3+7”), created on first use.",
)
async def list_checklists(
    session: DbSession,
    principal: CurrentPrincipal,
    paging: Paging,
    updated_since: UpdatedSince = None,
) -> Page[ChecklistRead]:
    await ensure_default_template(session)
    rows = await ChecklistRepository(session).search(paging, principal, updated_since=updated_since)
    return make_page(rows, paging, ChecklistRead)


@checklists.get(
    "/{template_id}",
    summary="查看巡察内容模板（含类别树） Read a template with its category tree",
    responses=problem_responses(ChecklistNotFound),
)
async def get_checklist(
    template_id: uuid.UUID, session: DbSession, principal: CurrentPrincipal, response: Response
) -> ChecklistDetail:
    template = await ChecklistService(session).get(template_id, principal)
    categories = await ChecklistRepository(session).categories_of_template(template_id)
    set_etag(response, template.version)
    return ChecklistDetail(
        **ChecklistRead.model_validate(template).model_dump(), categories=_tree(categories)
    )


@checklists.patch(
    "/{template_id}",
    summary="修改巡察内容模板 Rename a template",
    responses=problem_responses(*WRITE, ChecklistNotFound, ChecklistNameTaken, PreconditionFailed),
)
async def update_checklist(
    template_id: uuid.UUID,
    body: ChecklistUpdate,
    session: DbSession,
    _: Planner,
    response: Response,
    if_match: IfMatch = None,
) -> ChecklistRead:
    template = await ChecklistService(session).update(template_id, body, if_match)
    set_etag(response, template.version)
    return ChecklistRead.model_validate(template)


@checklists.post(
    "/{template_id}/categories",
    status_code=status.HTTP_201_CREATED,
    summary="为模板增加问题类别 Add a category to a template",
    description="With `parent_id` it refines an existing category (same kind). The template's "
    "ETag changes.",
    responses=problem_responses(
        *WRITE, ChecklistNotFound, CategoryCodeTaken, CategoryParentInvalid
    ),
)
async def add_checklist_category(
    template_id: uuid.UUID,
    body: CategoryCreate,
    session: DbSession,
    _: Planner,
    response: Response,
) -> CategoryRead:
    category = await ChecklistService(session).add_to_template(template_id, body)
    response.headers["Location"] = f"/api/v1/checklists/{template_id}/categories/{category.id}"
    set_etag(response, category.version)
    return CategoryRead.model_validate(category)


@checklists.get(
    "/{template_id}/categories/{category_id}",
    summary="查看模板中的问题类别 Read a template's category",
    responses=problem_responses(ChecklistNotFound, CategoryNotFound),
)
async def get_checklist_category(
    template_id: uuid.UUID,
    category_id: uuid.UUID,
    session: DbSession,
    principal: CurrentPrincipal,
    response: Response,
) -> CategoryRead:
    category = await ChecklistService(session).template_category(
        template_id, category_id, principal
    )
    set_etag(response, category.version)
    return CategoryRead.model_validate(category)


routers: list[APIRouter] = [terms, rounds, checklists]
