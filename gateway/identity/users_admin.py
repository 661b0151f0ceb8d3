"""The administrator's accounts of people: list, create, change (name, roles, enabled), reset a
password. Flushes, never commits.

What `ops create-user`, `disable-user`, `set-roles` and `set-password` do from a shell, over
the API, for the office's console. The same rules hold: the password policy, argon2 hashes, and
the trigger on `users` (migration 0005) that refuses at once, on every gateway replica, the
access tokens a change makes obsolete (disabling and a new password end every login; new roles
end the tokens that carry the old ones). The role `service` is our services' keys', never a
person's; and no change may leave the system without an enabled administrator.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from sqlalchemy import or_, select, text

from gateway.identity.enums import Role
from gateway.identity.errors import UserNotFound
from gateway.identity.models import User
from gateway.identity.schemas import UserCreate
from gateway.identity.service import IdentityService
from services.common.concurrency import check_if_match, version_at
from services.common.errors import Conflict, ValidationFailed, field_error
from services.common.fields import omit_null, refuse_nulls
from services.common.pagination import PageParams, keyset

PERSONS_ROLES = tuple(r for r in Role if r is not Role.service)


class UserInvalid(ValidationFailed):
    title_en = "The account has an invalid field"
    title_zh = "账号字段无效"


class LastAdministrator(Conflict):
    title_en = "The change would leave no enabled administrator"
    title_zh = "该操作将使系统没有可用的系统管理员"


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    username: str
    display_name: str
    roles: list[Role]
    is_active: bool
    failed_logins: int = Field(description="failed logins in a row")
    locked_until: datetime | None = Field(description="locked after failed logins until then")
    created_at: datetime
    updated_at: datetime


class UserUpdate(BaseModel):
    """What is absent stays as it is; `null` is refused."""

    model_config = ConfigDict(extra="forbid")

    display_name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
        | None
    ) = Field(default=None, json_schema_extra=omit_null)
    roles: list[Role] | None = Field(
        default=None,
        min_length=1,
        json_schema_extra=omit_null,
        description="replaces them; the tokens carrying the old ones are refused at once",
    )
    is_active: bool | None = Field(
        default=None,
        strict=True,
        json_schema_extra=omit_null,
        description="false ends every login of the account at once",
    )

    @model_validator(mode="after")
    def _required_stay(self) -> Self:
        refuse_nulls(self, ("display_name", "roles", "is_active"))
        return self


class PasswordReset(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: Annotated[str, StringConstraints(min_length=12, max_length=256)] = Field(
        description="as at creation: the password policy holds; every login of the account "
        "ends, and a lockout after failed logins is lifted"
    )


def version_of(user: User) -> int:
    return version_at(user.updated_at)


def _persons_roles(roles: list[Role], field: str) -> list[Role]:
    for i, role in enumerate(roles):
        if role not in PERSONS_ROLES:
            message = "the role service is our services' API keys', not a person's"
            raise field_error(UserInvalid, f"{field}[{i}]", message, "not_a_person")
    return roles


class UserAdmin:
    def __init__(self, identity: IdentityService) -> None:
        self.identity = identity
        self.session = identity.users.session

    async def page(
        self, params: PageParams, *, role: Role | None, active: bool | None, q: str | None
    ) -> Sequence[User]:
        stmt = select(User)
        if role is not None:
            stmt = stmt.where(User.roles.contains([role.value]))
        if active is not None:
            stmt = stmt.where(User.is_active.is_(active))
        if q:
            like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            stmt = stmt.where(or_(User.username.ilike(like), User.display_name.ilike(like)))
        return (await self.session.scalars(keyset(stmt, params, User.created_at, User.id))).all()

    async def get(self, user_id: uuid.UUID, *, lock: bool = False) -> User:
        stmt = select(User).where(User.id == user_id)
        if lock:
            stmt = stmt.with_for_update()
        user = await self.session.scalar(stmt)
        if user is None:
            raise UserNotFound(f"no user {user_id}")
        return user

    async def create(self, data: UserCreate) -> User:
        _persons_roles(data.roles, "roles")
        return await self.identity.create_user(data)

    async def update(self, user_id: uuid.UUID, body: UserUpdate, if_match: str | None) -> User:
        # account changes one at a time, before any row is locked: two administrators
        # demoting each other at once cannot both succeed, nor wait on each other
        await self.session.execute(text("SELECT pg_advisory_xact_lock(hashtext('gateway.users'))"))
        user = await self.get(user_id, lock=True)
        check_if_match(if_match, version_of(user))
        roles = _persons_roles(body.roles, "roles") if body.roles is not None else None
        stays_admin = (
            body.is_active is not False
            and user.is_active
            and Role.admin.value in ([r.value for r in roles] if roles else user.roles)
        )
        if Role.admin.value in user.roles and user.is_active and not stays_admin:
            await self._another_admin(user.id)
        if body.display_name is not None and body.display_name != user.display_name:
            user.display_name = body.display_name
            user = await self.identity._changed(user)
        if roles is not None and [r.value for r in roles] != list(user.roles):
            user = await self.identity.set_roles(user.username, roles)
        if body.is_active is not None and body.is_active != user.is_active:
            user = await self.identity.set_active(user.username, body.is_active)
        return user

    async def reset_password(self, user_id: uuid.UUID, body: PasswordReset) -> User:
        user = await self.get(user_id)
        return await self.identity.set_password(user.username, body.password)

    async def _another_admin(self, user_id: uuid.UUID) -> None:
        others = (
            select(User.id)
            .where(User.id != user_id, User.is_active, User.roles.contains([Role.admin.value]))
            .limit(1)
        )
        if await self.session.scalar(others) is None:
            raise LastAdministrator("another enabled administrator is needed first")
