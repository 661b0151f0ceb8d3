"""Every query of the identity module."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select, update

from gateway.identity.models import ApiClient, RefreshToken, User
from services.common.repository import Repository


class UserRepository(Repository[User]):
    model = User

    async def by_username(self, username: str, *, lock: bool = False) -> User | None:
        stmt = select(User).where(func.lower(User.username) == username.lower())
        if lock:  # concurrent failed logins must all be counted
            stmt = stmt.with_for_update()
        return (await self.session.scalars(stmt)).one_or_none()


class RefreshTokenRepository(Repository[RefreshToken]):
    model = RefreshToken

    async def by_hash_for_update(self, token_hash: str) -> RefreshToken | None:
        stmt = select(RefreshToken).where(RefreshToken.token_hash == token_hash).with_for_update()
        return (await self.session.scalars(stmt)).one_or_none()

    async def revoke_family(self, family_id: uuid.UUID, at: datetime) -> None:
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=at)
        )


class ApiClientRepository(Repository[ApiClient]):
    model = ApiClient

    async def by_client_id(self, client_id: str) -> ApiClient | None:
        stmt = select(ApiClient).where(ApiClient.client_id == client_id)
        return (await self.session.scalars(stmt)).one_or_none()
