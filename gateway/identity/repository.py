"""Every query of the identity module."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select, update

from gateway.identity.models import AccessRevocation, ApiClient, RefreshToken, User
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
        """The token's row, locked, and its user's before it: the order in which the trigger
        on `users` (a disabled account, a new password) locks them, so the two never wait on
        each other in a circle."""
        owner = select(RefreshToken.user_id).where(RefreshToken.token_hash == token_hash)
        user_id = await self.session.scalar(owner)
        if user_id is None:
            return None
        await self.session.get(User, user_id, with_for_update=True)
        stmt = (
            select(RefreshToken)
            .where(RefreshToken.token_hash == token_hash)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.scalars(stmt)).one_or_none()

    async def family_revoked(self, family_id: uuid.UUID) -> bool:
        """Whether any token of the family was revoked: a token rotated in while the family
        was being revoked (a refresh racing a logout) must not outlive it."""
        stmt = select(RefreshToken.id).where(
            RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_not(None)
        )
        return (await self.session.scalar(stmt.limit(1))) is not None

    async def revoke_family(
        self, family_id: uuid.UUID, user_id: uuid.UUID, at: datetime, reason: str
    ) -> None:
        """The family's refresh tokens, and its access tokens (every replica is told)."""
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        self.session.add(
            AccessRevocation(
                subject=str(user_id), session_id=family_id, reason=reason, revoked_at=at
            )
        )
        await self.session.flush()


class ApiClientRepository(Repository[ApiClient]):
    model = ApiClient

    async def by_client_id(self, client_id: str) -> ApiClient | None:
        stmt = select(ApiClient).where(ApiClient.client_id == client_id)
        return (await self.session.scalars(stmt)).one_or_none()
