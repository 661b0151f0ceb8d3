"""Routes of the staffing part of the rounds service: parse, call the service, shape the
response. The office (office, admin) writes; reads are scoped inside the queries."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from services.common.auth import CurrentPrincipal, Principal, require_roles
from services.common.concurrency import IfMatch, set_etag
from services.common.db import DbSession
from services.common.errors import Forbidden, PreconditionFailed, problem_responses
from services.common.fields import UpdatedSince
from services.common.pagination import Page, Paging, make_page
from services.rounds import access
from services.rounds.access import PLANNERS
from services.rounds.enums import AssignmentMode, GroupKind, MemberRole, Speciality
from services.rounds.staffing.errors import (
    AlreadyMember,
    AssignmentExists,
    AssignmentNotFound,
    AvoidanceConflict,
    BatchInvalid,
    GroupInUse,
    GroupNameTaken,
    GroupNotFound,
    GroupNotInRound,
    GroupStructureInvalid,
    LeaderTaken,
    MemberNotFound,
    ModeInvalid,
    PeriodInvalid,
    PersonInUse,
    PersonNotFound,
    PersonUserTaken,
    PostingNotFound,
    ReferenceInvalid,
    RelationNotFound,
    StationOverlap,
)
from services.rounds.staffing.repository import (
    ASSIGNMENT,
    GROUP,
    MEMBER,
    PERSON,
    POSTING,
    RELATION,
    AssignmentRepository,
    GroupRepository,
    MemberRepository,
    PersonRepository,
    PostingRepository,
    RelationRepository,
    tombstoned,
)
from services.rounds.staffing.schemas import (
    AssignmentBatchCreate,
    AssignmentBatchCreated,
    AssignmentCreate,
    AssignmentCreated,
    AssignmentRead,
    AssignmentUpdate,
    AvoidanceOverrideRead,
    GroupCreate,
    GroupRead,
    GroupUpdate,
    MemberCreate,
    MemberCreated,
    MemberRead,
    Membership,
    PersonCreate,
    PersonRead,
    PersonUpdate,
    PostingCreate,
    PostingRead,
    RelationCreate,
    RelationRead,
)
from services.rounds.staffing.service import (
    IMMUTABLE_VERSION,
    AssignmentService,
    Created,
    GroupService,
    MemberService,
    PeopleService,
)

Planner = Annotated[Principal, Depends(require_roles(*PLANNERS))]


WRITE = (Forbidden,)
CHANGE = (Forbidden, PreconditionFailed)

people = APIRouter(prefix="/api/v1/people", tags=["people"])
groups = APIRouter(prefix="/api/v1/groups", tags=["groups"])
assignments = APIRouter(prefix="/api/v1/assignments", tags=["assignments"])


# ---- people ---------------------------------------------------------------------------------


@people.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="登记巡察干部 Add a person to the cadre pool",
    responses=problem_responses(*WRITE, PersonUserTaken),
)
async def create_person(
    body: PersonCreate, session: DbSession, _: Planner, response: Response
) -> PersonRead:
    person = await PeopleService(session).create(body)
    response.headers["Location"] = f"/api/v1/people/{person.id}"
    set_etag(response, person.version)
    return PersonRead.model_validate(person)


@people.get(
    "",
    summary="巡察干部库 List people (office: all; others: themselves)",
)
async def list_people(
    session: DbSession,
    principal: CurrentPrincipal,
    paging: Paging,
    speciality: Speciality | None = None,
    unit: Annotated[str | None, Query(max_length=200, description="工作单位（精确匹配）")] = None,
    user_id: uuid.UUID | None = None,
    updated_since: UpdatedSince = None,
) -> Page[PersonRead]:
    repo = PersonRepository(session)
    rows = await repo.list(
        paging,
        principal,
        speciality=speciality.value if speciality else None,
        unit=unit,
        user_id=user_id,
        updated_since=updated_since,
    )
    page = make_page(rows, paging, PersonRead)
    page.deleted = await tombstoned(repo, PERSON, updated_since)
    return page


@people.get(
    "/{person_id}",
    summary="查看巡察干部 Read a person",
    responses=problem_responses(PersonNotFound),
)
async def get_person(
    person_id: uuid.UUID, session: DbSession, principal: CurrentPrincipal, response: Response
) -> PersonRead:
    person = await PeopleService(session).get(person_id, principal)
    set_etag(response, person.version)
    return PersonRead.model_validate(person)


@people.patch(
    "/{person_id}",
    summary="修改巡察干部信息 Update a person",
    responses=problem_responses(*CHANGE, PersonNotFound, PersonUserTaken),
)
async def update_person(
    person_id: uuid.UUID,
    body: PersonUpdate,
    session: DbSession,
    _: Planner,
    response: Response,
    if_match: IfMatch = None,
) -> PersonRead:
    person = await PeopleService(session).update(person_id, body, if_match)
    set_etag(response, person.version)
    return PersonRead.model_validate(person)


@people.delete(
    "/{person_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="删除巡察干部 Delete a person (not while in a group)",
    responses=problem_responses(*CHANGE, PersonNotFound, PersonInUse),
)
async def delete_person(
    person_id: uuid.UUID, session: DbSession, _: Planner, if_match: IfMatch = None
) -> None:
    await PeopleService(session).delete(person_id, if_match)


@people.post(
    "/{person_id}/postings",
    status_code=status.HTTP_201_CREATED,
    summary="登记任职经历（回避依据） Add a posting",
    responses=problem_responses(*WRITE, PersonNotFound, ReferenceInvalid),
)
async def create_posting(
    person_id: uuid.UUID, body: PostingCreate, session: DbSession, _: Planner, response: Response
) -> PostingRead:
    posting = await PeopleService(session).add_posting(person_id, body)
    response.headers["Location"] = f"/api/v1/people/{person_id}/postings/{posting.id}"
    set_etag(response, IMMUTABLE_VERSION)
    return PostingRead.model_validate(posting)


@people.get(
    "/{person_id}/postings",
    summary="任职经历列表 List a person's postings",
    responses=problem_responses(PersonNotFound),
)
async def list_postings(
    person_id: uuid.UUID,
    session: DbSession,
    principal: CurrentPrincipal,
    paging: Paging,
    target_id: uuid.UUID | None = None,
    updated_since: UpdatedSince = None,
) -> Page[PostingRead]:
    await PeopleService(session).get(person_id, principal)
    repo = PostingRepository(session)
    rows = await repo.list_of(person_id, paging, target_id=target_id, updated_since=updated_since)
    page = make_page(rows, paging, PostingRead)
    page.deleted = await tombstoned(repo, POSTING, updated_since)
    return page


@people.get(
    "/{person_id}/postings/{posting_id}",
    summary="查看任职经历 Read a posting",
    responses=problem_responses(PersonNotFound, PostingNotFound),
)
async def get_posting(
    person_id: uuid.UUID,
    posting_id: uuid.UUID,
    session: DbSession,
    principal: CurrentPrincipal,
    response: Response,
) -> PostingRead:
    posting = await PeopleService(session).get_posting(person_id, posting_id, principal)
    set_etag(response, IMMUTABLE_VERSION)
    return PostingRead.model_validate(posting)


@people.delete(
    "/{person_id}/postings/{posting_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="删除任职经历 Delete a posting",
    responses=problem_responses(*CHANGE, PersonNotFound, PostingNotFound),
)
async def delete_posting(
    person_id: uuid.UUID,
    posting_id: uuid.UUID,
    session: DbSession,
    _: Planner,
    if_match: IfMatch = None,
) -> None:
    await PeopleService(session).remove_posting(person_id, posting_id, if_match)


@people.post(
    "/{person_id}/relations",
    status_code=status.HTTP_201_CREATED,
    summary="登记亲属或利害关系（回避依据） Declare a relation",
    responses=problem_responses(*WRITE, PersonNotFound, ReferenceInvalid),
)
async def create_relation(
    person_id: uuid.UUID, body: RelationCreate, session: DbSession, _: Planner, response: Response
) -> RelationRead:
    relation = await PeopleService(session).add_relation(person_id, body)
    response.headers["Location"] = f"/api/v1/people/{person_id}/relations/{relation.id}"
    set_etag(response, IMMUTABLE_VERSION)
    return RelationRead.model_validate(relation)


@people.get(
    "/{person_id}/relations",
    summary="回避关系列表 List a person's declared relations",
    responses=problem_responses(PersonNotFound),
)
async def list_relations(
    person_id: uuid.UUID,
    session: DbSession,
    principal: CurrentPrincipal,
    paging: Paging,
    target_id: uuid.UUID | None = None,
    updated_since: UpdatedSince = None,
) -> Page[RelationRead]:
    await PeopleService(session).get(person_id, principal)
    repo = RelationRepository(session)
    rows = await repo.list_of(person_id, paging, target_id=target_id, updated_since=updated_since)
    page = make_page(rows, paging, RelationRead)
    page.deleted = await tombstoned(repo, RELATION, updated_since)
    return page


@people.get(
    "/{person_id}/relations/{relation_id}",
    summary="查看回避关系 Read a declared relation",
    responses=problem_responses(PersonNotFound, RelationNotFound),
)
async def get_relation(
    person_id: uuid.UUID,
    relation_id: uuid.UUID,
    session: DbSession,
    principal: CurrentPrincipal,
    response: Response,
) -> RelationRead:
    relation = await PeopleService(session).get_relation(person_id, relation_id, principal)
    set_etag(response, IMMUTABLE_VERSION)
    return RelationRead.model_validate(relation)


@people.delete(
    "/{person_id}/relations/{relation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="删除回避关系 Delete a declared relation",
    responses=problem_responses(*CHANGE, PersonNotFound, RelationNotFound),
)
async def delete_relation(
    person_id: uuid.UUID,
    relation_id: uuid.UUID,
    session: DbSession,
    _: Planner,
    if_match: IfMatch = None,
) -> None:
    await PeopleService(session).remove_relation(person_id, relation_id, if_match)


# ---- groups ---------------------------------------------------------------------------------


@groups.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="组建巡察组 Create a group in a round",
    responses=problem_responses(*WRITE, ReferenceInvalid, GroupNameTaken, GroupStructureInvalid),
)
async def create_group(
    body: GroupCreate, session: DbSession, _: Planner, response: Response
) -> GroupRead:
    group = await GroupService(session).create(body)
    response.headers["Location"] = f"/api/v1/groups/{group.id}"
    set_etag(response, group.version)
    return GroupRead.model_validate(group)


@groups.get(
    "/memberships",
    summary="用户所在巡察组 The groups a user belongs to",
    description="For the user themself, the office, and the other services (which scope "
    "findings and leads by group). Read before `/groups/{group_id}` so the path is not an id.",
    responses=problem_responses(Forbidden),
)
async def list_memberships(
    user_id: uuid.UUID, session: DbSession, principal: CurrentPrincipal
) -> list[Membership]:
    if not (access.sees_all(principal) or principal.subject == str(user_id)):
        raise Forbidden("only the user themself, the office or a service may read this")
    rows = await GroupRepository(session).memberships(user_id)
    return [Membership.model_validate(r) for r in rows]


@groups.get("", summary="巡察组列表 List groups (office: all; leaders: their groups)")
async def list_groups(
    session: DbSession,
    principal: CurrentPrincipal,
    paging: Paging,
    round_id: uuid.UUID | None = None,
    kind: GroupKind | None = None,
    lead_group_id: Annotated[
        uuid.UUID | None, Query(description="协助该市委巡察组的乡镇巡察小组")
    ] = None,
    updated_since: UpdatedSince = None,
) -> Page[GroupRead]:
    repo = GroupRepository(session)
    rows = await repo.list(
        paging,
        principal,
        round_id=round_id,
        kind=kind.value if kind else None,
        lead_group_id=lead_group_id,
        updated_since=updated_since,
    )
    page = make_page(rows, paging, GroupRead)
    page.deleted = await tombstoned(repo, GROUP, updated_since)
    return page


@groups.get(
    "/{group_id}",
    summary="查看巡察组 Read a group",
    responses=problem_responses(GroupNotFound),
)
async def get_group(
    group_id: uuid.UUID, session: DbSession, principal: CurrentPrincipal, response: Response
) -> GroupRead:
    group = await GroupService(session).get(group_id, principal)
    set_etag(response, group.version)
    return GroupRead.model_validate(group)


@groups.patch(
    "/{group_id}",
    summary="修改巡察组 Update a group",
    responses=problem_responses(
        *CHANGE, GroupNotFound, ReferenceInvalid, GroupNameTaken, GroupStructureInvalid
    ),
)
async def update_group(
    group_id: uuid.UUID,
    body: GroupUpdate,
    session: DbSession,
    _: Planner,
    response: Response,
    if_match: IfMatch = None,
) -> GroupRead:
    group = await GroupService(session).update(group_id, body, if_match)
    set_etag(response, group.version)
    return GroupRead.model_validate(group)


@groups.delete(
    "/{group_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="撤销巡察组 Delete a group (not while it has assignments or assisting sub-groups)",
    responses=problem_responses(*CHANGE, GroupNotFound, GroupInUse),
)
async def delete_group(
    group_id: uuid.UUID, session: DbSession, _: Planner, if_match: IfMatch = None
) -> None:
    await GroupService(session).delete(group_id, if_match)


@groups.post(
    "/{group_id}/members",
    status_code=status.HTTP_201_CREATED,
    summary="增加巡察组成员（回避与同期进驻检查） Add a member",
    responses=problem_responses(
        *WRITE,
        GroupNotFound,
        ReferenceInvalid,
        PeriodInvalid,
        AlreadyMember,
        LeaderTaken,
        StationOverlap,
        AvoidanceConflict,
    ),
)
async def add_member(
    group_id: uuid.UUID,
    body: MemberCreate,
    session: DbSession,
    principal: Planner,
    response: Response,
) -> MemberCreated:
    member = await MemberService(session).add(group_id, body, principal)
    response.headers["Location"] = f"/api/v1/groups/{group_id}/members/{member.id}"
    set_etag(response, IMMUTABLE_VERSION)
    return member


@groups.get(
    "/{group_id}/avoidance-overrides",
    summary="回避例外登记 Avoidance conflicts the office overrode for a group",
    responses=problem_responses(Forbidden, GroupNotFound),
)
async def list_avoidance_overrides(
    group_id: uuid.UUID, session: DbSession, principal: Planner
) -> list[AvoidanceOverrideRead]:
    await GroupService(session).get(group_id, principal)
    rows = await AssignmentRepository(session).overrides_of_group(group_id)
    return [AvoidanceOverrideRead.model_validate(r) for r in rows]


@groups.get(
    "/{group_id}/members",
    summary="巡察组成员列表 List a group's members",
    responses=problem_responses(GroupNotFound),
)
async def list_members(
    group_id: uuid.UUID,
    session: DbSession,
    principal: CurrentPrincipal,
    paging: Paging,
    role: MemberRole | None = None,
    updated_since: UpdatedSince = None,
) -> Page[MemberRead]:
    await GroupService(session).get(group_id, principal)
    repo = MemberRepository(session)
    rows = await repo.list_of(
        group_id, paging, role=role.value if role else None, updated_since=updated_since
    )
    page = make_page(rows, paging, MemberRead)
    page.deleted = await tombstoned(repo, MEMBER, updated_since)
    return page


@groups.get(
    "/{group_id}/members/{member_id}",
    summary="查看巡察组成员 Read a member",
    responses=problem_responses(GroupNotFound, MemberNotFound),
)
async def get_member(
    group_id: uuid.UUID,
    member_id: uuid.UUID,
    session: DbSession,
    principal: CurrentPrincipal,
    response: Response,
) -> MemberRead:
    row = await MemberService(session).get(group_id, member_id, principal)
    set_etag(response, IMMUTABLE_VERSION)
    return MemberRead.model_validate(row)


@groups.delete(
    "/{group_id}/members/{member_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="移出巡察组成员 Remove a member",
    responses=problem_responses(*CHANGE, GroupNotFound, MemberNotFound),
)
async def remove_member(
    group_id: uuid.UUID,
    member_id: uuid.UUID,
    session: DbSession,
    _: Planner,
    if_match: IfMatch = None,
) -> None:
    await MemberService(session).remove(group_id, member_id, if_match)


# ---- assignments ----------------------------------------------------------------------------

ASSIGNMENT_CHECKS = (AssignmentExists, AvoidanceConflict)


def _created(c: Created) -> AssignmentCreated:
    return AssignmentCreated(
        **AssignmentRead.model_validate(c.assignment).model_dump(), overridden=c.overridden
    )


@assignments.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="分配巡察任务（回避检查） Assign a target to a group",
    responses=problem_responses(
        *WRITE, ReferenceInvalid, GroupNotInRound, ModeInvalid, PeriodInvalid, *ASSIGNMENT_CHECKS
    ),
)
async def create_assignment(
    body: AssignmentCreate, session: DbSession, principal: Planner, response: Response
) -> AssignmentCreated:
    [created] = await AssignmentService(session).create(
        [body], body.override_reason, principal, batch=False
    )
    response.headers["Location"] = f"/api/v1/assignments/{created.assignment.id}"
    set_etag(response, created.assignment.version)
    return _created(created)


@assignments.post(
    "/batch",
    status_code=status.HTTP_201_CREATED,
    summary="批量分配巡察任务（全部成功或全部不建） Assign many targets at once",
    responses=problem_responses(*WRITE, BatchInvalid, *ASSIGNMENT_CHECKS),
)
async def create_assignments(
    body: AssignmentBatchCreate, session: DbSession, principal: Planner
) -> AssignmentBatchCreated:
    created = await AssignmentService(session).create(
        body.items, body.override_reason, principal, batch=True
    )
    return AssignmentBatchCreated(items=[_created(c) for c in created])


@assignments.get(
    "",
    summary="巡察任务列表 List assignments (office: all; group members: their groups')",
)
async def list_assignments(
    session: DbSession,
    principal: CurrentPrincipal,
    paging: Paging,
    round_id: uuid.UUID | None = None,
    group_id: uuid.UUID | None = None,
    target_id: uuid.UUID | None = None,
    mode: AssignmentMode | None = None,
    updated_since: UpdatedSince = None,
) -> Page[AssignmentRead]:
    repo = AssignmentRepository(session)
    rows = await repo.list(
        paging,
        principal,
        round_id=round_id,
        group_id=group_id,
        target_id=target_id,
        mode=mode.value if mode else None,
        updated_since=updated_since,
    )
    page = make_page(rows, paging, AssignmentRead)
    page.deleted = await tombstoned(repo, ASSIGNMENT, updated_since)
    return page


@assignments.get(
    "/{assignment_id}",
    summary="查看巡察任务 Read an assignment",
    responses=problem_responses(AssignmentNotFound),
)
async def get_assignment(
    assignment_id: uuid.UUID, session: DbSession, principal: CurrentPrincipal, response: Response
) -> AssignmentRead:
    assignment = await AssignmentService(session).get(assignment_id, principal)
    set_etag(response, assignment.version)
    return AssignmentRead.model_validate(assignment)


@assignments.patch(
    "/{assignment_id}",
    summary="修改巡察方式或进驻日期 Update an assignment's mode or dates",
    responses=problem_responses(*CHANGE, AssignmentNotFound, ModeInvalid, PeriodInvalid),
)
async def update_assignment(
    assignment_id: uuid.UUID,
    body: AssignmentUpdate,
    session: DbSession,
    _: Planner,
    response: Response,
    if_match: IfMatch = None,
) -> AssignmentRead:
    assignment = await AssignmentService(session).update(assignment_id, body, if_match)
    set_etag(response, assignment.version)
    return AssignmentRead.model_validate(assignment)


@assignments.delete(
    "/{assignment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="取消巡察任务 Delete an assignment",
    responses=problem_responses(*CHANGE, AssignmentNotFound),
)
async def delete_assignment(
    assignment_id: uuid.UUID, session: DbSession, _: Planner, if_match: IfMatch = None
) -> None:
    await AssignmentService(session).delete(assignment_id, if_match)


routers = [people, groups, assignments]
