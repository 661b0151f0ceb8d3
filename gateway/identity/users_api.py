"""The administrator's accounts of people (rules in `users_admin.py`)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from gateway.identity.enums import Role
from gateway.identity.errors import UsernameTaken, UserNotFound, WeakPassword
from gateway.identity.models import User
from gateway.identity.schemas import UserCreate
from gateway.identity.service import IdentityService
from gateway.identity.users_admin import (
    LastAdministrator,
    PasswordReset,
    UserAdmin,
    UserInvalid,
    UserRead,
    UserUpdate,
    version_of,
)
from services.common.concurrency import IfMatch, set_etag
from services.common.db import DbSession
from services.common.errors import Forbidden, PreconditionFailed, problem_responses
from services.common.pagination import Page, Paging, make_page

router = APIRouter(prefix="/api/v1/admin/users", tags=["accounts"])


async def user_admin(request: Request, session: DbSession) -> UserAdmin:
    app = request.app
    return UserAdmin(IdentityService(session, app.state.signer, app.state.settings))


Admin = Annotated[UserAdmin, Depends(user_admin)]


def _read(user: User, response: Response) -> UserRead:
    set_etag(response, version_of(user))
    return UserRead.model_validate(user)


@router.post(
    "",
    status_code=201,
    summary="新建账号 Create a person's account",
    description="The password policy holds (12+ characters mixing three kinds, or 16+; not "
    "common, not the username). The role `service` is refused: it is our services' keys'.",
    responses=problem_responses(Forbidden, UserInvalid, WeakPassword, UsernameTaken),
)
async def create_user(body: UserCreate, admin: Admin, response: Response) -> UserRead:
    user = await admin.create(body)
    response.headers["Location"] = f"/api/v1/admin/users/{user.id}"
    return _read(user, response)


@router.get(
    "",
    summary="账号列表 List accounts",
    responses=problem_responses(Forbidden),
)
async def list_users(
    admin: Admin,
    paging: Paging,
    role: Annotated[Role | None, Query(description="only accounts with this role")] = None,
    active: Annotated[bool | None, Query(description="only enabled, or only disabled")] = None,
    q: Annotated[
        str | None, Query(max_length=64, description="in the username or the name")
    ] = None,
) -> Page[UserRead]:
    return make_page(await admin.page(paging, role=role, active=active, q=q), paging, UserRead)


@router.get(
    "/{user_id}",
    summary="查看账号 Read an account",
    responses=problem_responses(Forbidden, UserNotFound),
)
async def get_user(user_id: uuid.UUID, admin: Admin, response: Response) -> UserRead:
    return _read(await admin.get(user_id), response)


@router.patch(
    "/{user_id}",
    summary="修改、停用或启用账号 Change an account's name or roles; disable or enable it",
    description="New roles refuse the tokens carrying the old ones at once; disabling ends "
    "every login of the account. 409 when no enabled administrator would be left.",
    responses=problem_responses(
        Forbidden, UserInvalid, UserNotFound, LastAdministrator, PreconditionFailed
    ),
)
async def update_user(
    user_id: uuid.UUID, body: UserUpdate, admin: Admin, response: Response, if_match: IfMatch = None
) -> UserRead:
    return _read(await admin.update(user_id, body, if_match), response)


@router.post(
    "/{user_id}/password",
    summary="重置密码 Set a new password for an account",
    description="Every login of the account ends; a lockout after failed logins is lifted.",
    responses=problem_responses(Forbidden, UserNotFound, WeakPassword),
)
async def reset_password(
    user_id: uuid.UUID, body: PasswordReset, admin: Admin, response: Response
) -> UserRead:
    return _read(await admin.reset_password(user_id, body), response)
