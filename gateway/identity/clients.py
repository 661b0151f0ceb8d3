"""API keys of machine clients (the discipline platform, the higher-level office's system):
issued, listed, changed, rotated and disabled by the administrator. Flushes, never commits.

A key has roles and scopes. The roles say what the policy table grants it (only the machine
roles `platform` and `superior` are issued here; our own services' keys, role `service`, are
kept by `ops` and refused here with 409); the scopes narrow that to the resources it needs,
`<resource>:read|write` (services/common/policy.py, `scope_name`), each one a scope some route
granted to its roles needs. Every key issued here expires, no later than
`GATEWAY_API_KEY_MAX_DAYS` ahead; its tokens expire no later than the key. The secret is shown
once, when issued or rotated, and stored as an argon2 hash. A key is never deleted: disabled,
it stays on record with who issued it.

Whatever would let a token do more than it could when issued (narrower scopes, an earlier
expiry, a new secret, disabling) refuses the tokens the key holds at once, on every gateway
replica: the trigger of migration 0006 raises the key's token version.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Self

import anyio
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    computed_field,
    model_validator,
)
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.identity.enums import Role
from gateway.identity.models import ApiClient
from gateway.identity.service import hash_password
from gateway.identity.tokens import Caller
from services.common.concurrency import check_if_match, version_at
from services.common.errors import Conflict, NotFound, ValidationFailed, field_error
from services.common.fields import AwareInstant, omit_null, refuse_nulls
from services.common.pagination import PageParams, keyset
from services.common.policy import scopes_for

MACHINE_ROLES = (Role.platform, Role.superior)
SECRET_PREFIX = "xck_"  # noqa: S105 - marks a key's secret in logs and scanners, not a secret

ClientId = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.\-]{2,63}$"),
]
ScopeName = Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,50}:(read|write)$")]


class ApiClientInvalid(ValidationFailed):
    title_en = "The API key has an invalid field"
    title_zh = "API 密钥字段无效"


class ApiClientNotFound(NotFound):
    title_en = "No such API key"
    title_zh = "API 密钥不存在"


class ApiClientTaken(Conflict):
    title_en = "An API key with this client id exists"
    title_zh = "该客户端标识已被使用"


class ManagedByOps(Conflict):
    title_en = "A service's key is kept by the operators' tooling (ops), not changed here"
    title_zh = "内部服务的密钥由运维工具维护，不能在此修改"


Description = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Scopes = Annotated[
    list[ScopeName],
    Field(
        min_length=1,
        max_length=200,
        description="`<resource>:read|write` of the policy table, each needed by a route the "
        "key's roles are granted (docs/POLICY.md)",
    ),
]


class ApiClientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: ClientId = Field(description="how the client names itself when it logs in")
    description: Description = Field(description="who holds the key and what for")
    roles: list[Role] = Field(
        min_length=1, max_length=2, description="machine roles only: platform, superior"
    )
    scopes: Scopes
    expires_at: AwareInstant = Field(
        description="in the future, and no further ahead than the gateway allows (397 days "
        "unless GATEWAY_API_KEY_MAX_DAYS says otherwise)"
    )


class ApiClientUpdate(BaseModel):
    """What is absent stays as it is; `null` is refused."""

    model_config = ConfigDict(extra="forbid")

    description: Description | None = Field(default=None, json_schema_extra=omit_null)
    scopes: Scopes | None = Field(
        default=None,
        json_schema_extra=omit_null,
        description="narrowing them refuses the key's tokens at once",
    )
    expires_at: AwareInstant | None = Field(
        default=None,
        json_schema_extra=omit_null,
        description="an earlier expiry refuses the key's tokens at once",
    )
    is_active: bool | None = Field(
        default=None,
        strict=True,
        json_schema_extra=omit_null,
        description="false disables the key and refuses its tokens at once",
    )

    @model_validator(mode="after")
    def _required_stay(self) -> Self:
        refuse_nulls(self, ("description", "scopes", "expires_at", "is_active"))
        return self


class ApiClientRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    client_id: str
    description: str
    roles: list[Role]
    scopes: list[str]
    expires_at: datetime | None = Field(description="none only for our own services' keys")
    is_active: bool
    last_used_at: datetime | None = Field(description="its last token")
    created_by: str | None
    created_at: datetime
    updated_at: datetime

    @computed_field(description="past its expiry: refused at the token endpoint")  # type: ignore[prop-decorator]
    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= datetime.now(UTC)


class ApiClientCreated(ApiClientRead):
    client_secret: str = Field(description="shown this once; the client logs in with it")


class RotatedClientSecret(BaseModel):
    client_secret: str = Field(
        description="the new secret, shown this once; the old one and its tokens are refused "
        "from now on"
    )


def version_of(client: ApiClient) -> int:
    """The ETag version of a key: its `updated_at` in microseconds."""
    return version_at(client.updated_at)


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


class ApiClients:
    def __init__(self, session: AsyncSession, max_days: int) -> None:
        self.session = session
        self.max_days = max_days

    async def page(self, params: PageParams, *, active: bool | None) -> Sequence[ApiClient]:
        stmt = select(ApiClient)
        if active is not None:
            stmt = stmt.where(ApiClient.is_active.is_(active))
        query = keyset(stmt, params, ApiClient.created_at, ApiClient.id)
        return (await self.session.scalars(query)).all()

    async def get(self, client_id: str, *, lock: bool = False) -> ApiClient:
        stmt = select(ApiClient).where(ApiClient.client_id == client_id)
        if lock:
            stmt = stmt.with_for_update()
        client = await self.session.scalar(stmt)
        if client is None:
            raise ApiClientNotFound(f"no API key {client_id!r}")
        return client

    async def issue(self, body: ApiClientCreate, caller: Caller) -> ApiClientCreated:
        roles = [r.value for r in body.roles]
        for i, role in enumerate(body.roles):
            if role not in MACHINE_ROLES:
                raise field_error(
                    ApiClientInvalid,
                    f"roles[{i}]",
                    "only the machine roles platform and superior are issued API keys",
                    "role_not_for_keys",
                )
        scopes = self._checked_scopes(body.scopes, roles)
        self._check_expiry(body.expires_at)
        secret = new_secret()
        secret_hash = await anyio.to_thread.run_sync(hash_password, secret)
        stmt = (
            insert(ApiClient)
            .values(
                client_id=body.client_id, secret_hash=secret_hash, roles=roles, scopes=scopes,
                description=body.description, expires_at=body.expires_at,
                created_by=caller.username or caller.subject,
            )
            .on_conflict_do_nothing(index_elements=[ApiClient.client_id])
            .returning(ApiClient)
        )  # fmt: skip
        added = await self.session.scalar(stmt)
        if added is None:
            raise ApiClientTaken(f"the client id {body.client_id!r} is taken")
        read = ApiClientRead.model_validate(added)
        return ApiClientCreated(**read.model_dump(exclude={"expired"}), client_secret=secret)

    async def update(
        self, client_id: str, body: ApiClientUpdate, if_match: str | None
    ) -> ApiClient:
        client = await self._managed_here(client_id, if_match)
        if body.description is not None:
            client.description = body.description
        if body.scopes is not None:
            client.scopes = self._checked_scopes(body.scopes, list(client.roles))
        if body.expires_at is not None:
            self._check_expiry(body.expires_at)
            client.expires_at = body.expires_at
        if body.is_active is not None:
            client.is_active = body.is_active
        if self.session.is_modified(client):
            client.updated_at = datetime.now(UTC)
            await self.session.flush()
            await self.session.refresh(client)
        return client

    async def rotate(self, client_id: str, if_match: str | None) -> RotatedClientSecret:
        client = await self._managed_here(client_id, if_match)
        secret = new_secret()
        client.secret_hash = await anyio.to_thread.run_sync(hash_password, secret)
        client.updated_at = datetime.now(UTC)
        await self.session.flush()
        return RotatedClientSecret(client_secret=secret)

    async def _managed_here(self, client_id: str, if_match: str | None) -> ApiClient:
        client = await self.get(client_id, lock=True)
        check_if_match(if_match, version_of(client))
        if Role.service.value in client.roles:
            raise ManagedByOps(f"{client_id!r} is a service's key: rotate it with ops")
        return client

    def _checked_scopes(self, asked: list[str], roles: list[str]) -> list[str]:
        meaningful = set(scopes_for(roles))
        for i, scope in enumerate(asked):
            if scope not in meaningful:
                raise field_error(
                    ApiClientInvalid,
                    f"scopes[{i}]",
                    f"no route granted to the roles {', '.join(roles)} needs {scope}",
                    "scope_not_granted",
                )
        return sorted(set(asked))

    def _check_expiry(self, expires_at: datetime) -> None:
        now = datetime.now(UTC)
        if expires_at <= now:
            raise field_error(
                ApiClientInvalid, "expires_at", "must be in the future", "in_the_past"
            )
        if expires_at > now + timedelta(days=self.max_days):
            raise field_error(
                ApiClientInvalid,
                "expires_at",
                f"at most {self.max_days} days ahead",
                "too_far_ahead",
            )
