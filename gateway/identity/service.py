"""Passwords, access tokens and rotating refresh tokens. Flushes, never commits."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import anyio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.identity.errors import AccountLocked, InvalidGrant, UsernameTaken
from gateway.identity.models import ApiClient, RefreshToken, User
from gateway.identity.repository import (
    ApiClientRepository,
    RefreshTokenRepository,
    UserRepository,
)
from gateway.identity.schemas import TokenResponse, UserCreate
from gateway.identity.tokens import ACCESS_AUDIENCE
from gateway.keys import Signer
from gateway.settings import GatewaySettings
from services.common.errors import Problem

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
_hasher = PasswordHasher()
# Verified when the username is unknown, so both failures take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _verify(hash_: str, password: str) -> bool:
    try:
        return _hasher.verify(hash_, password)
    except (VerificationError, InvalidHashError):
        return False


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class RefreshReused:
    """A used refresh token came back: its family is revoked and the caller must log in."""

    family_id: uuid.UUID


class IdentityService:
    def __init__(self, session: AsyncSession, signer: Signer, settings: GatewaySettings) -> None:
        self.users = UserRepository(session)
        self.tokens = RefreshTokenRepository(session)
        self.signer = signer
        self.settings = settings

    async def create_user(self, data: UserCreate) -> User:
        if await self.users.by_username(data.username) is not None:
            raise UsernameTaken(f"username {data.username} is taken")
        password_hash = await anyio.to_thread.run_sync(hash_password, data.password)
        user = User(
            username=data.username,
            display_name=data.display_name,
            password_hash=password_hash,
            roles=[r.value for r in data.roles],
        )
        try:
            async with self.users.session.begin_nested():
                return await self.users.add(user)
        except IntegrityError as exc:
            raise UsernameTaken(f"username {data.username} is taken") from exc

    async def login(self, username: str, password: str) -> TokenResponse | Problem:
        """A refused login is returned, not raised, so that the failure count is committed.
        After MAX_FAILED_LOGINS failures in a row the account is locked for LOCKOUT; the
        password is not even checked while it is (no guessing against a locked account)."""
        now = datetime.now(UTC)
        user = await self.users.by_username(username, lock=True)
        if user is not None and user.locked_until is not None and user.locked_until > now:
            wait = int((user.locked_until - now).total_seconds()) + 1
            return AccountLocked(f"try again in {wait} seconds", retry_after=wait)
        hash_ = user.password_hash if user is not None else _DUMMY_HASH
        ok = await anyio.to_thread.run_sync(_verify, hash_, password)
        if user is None or not ok or not user.is_active:
            if user is not None:
                user.failed_logins += 1
                if user.failed_logins >= MAX_FAILED_LOGINS:
                    user.failed_logins = 0
                    user.locked_until = now + LOCKOUT
                await self.users.session.flush()
            return InvalidGrant("invalid username or password", error="invalid_grant")
        user.failed_logins = 0
        user.locked_until = None
        return await self._issue(user, family_id=uuid.uuid4())

    async def logout(self, refresh_token: str) -> None:
        """Ends the login the refresh token belongs to: its whole family is revoked. Access
        tokens already issued expire on their own (15 minutes)."""
        row = await self.tokens.by_hash_for_update(_digest(refresh_token))
        if row is not None:
            await self.tokens.revoke_family(row.family_id, datetime.now(UTC))

    async def client_login(self, client_id: str, secret: str) -> TokenResponse:
        """OAuth2 client credentials (RFC 6749 §4.4): an access token, no refresh token."""
        client = await ApiClientRepository(self.users.session).by_client_id(client_id)
        hash_ = client.secret_hash if client is not None else _DUMMY_HASH
        ok = await anyio.to_thread.run_sync(_verify, hash_, secret)
        if client is None or not ok or not client.is_active:
            raise InvalidGrant("invalid client credentials", error="invalid_client")
        ttl = self.settings.access_token_ttl_seconds
        access = self.signer.sign(
            {"sub": f"client:{client.client_id}", "name": client.client_id,
             "roles": list(client.roles)},
            audience=ACCESS_AUDIENCE,
            ttl=ttl,
        )  # fmt: skip
        return TokenResponse(access_token=access, expires_in=ttl)

    async def ensure_client(
        self, client_id: str, secret: str, roles: list[str], about: str
    ) -> None:
        """Creates the client or resets its secret and roles (operator tooling)."""
        repo = ApiClientRepository(self.users.session)
        secret_hash = await anyio.to_thread.run_sync(hash_password, secret)
        client = await repo.by_client_id(client_id)
        if client is None:
            await repo.add(
                ApiClient(client_id=client_id, secret_hash=secret_hash, roles=roles,
                          description=about)
            )  # fmt: skip
        elif not _verify(client.secret_hash, secret) or list(client.roles) != roles:
            client.secret_hash, client.roles, client.description = secret_hash, roles, about
            await self.users.session.flush()

    async def refresh(self, refresh_token: str) -> TokenResponse | RefreshReused:
        now = datetime.now(UTC)
        row = await self.tokens.by_hash_for_update(_digest(refresh_token))
        if row is None or row.revoked_at is not None or row.expires_at <= now:
            raise InvalidGrant("refresh token is invalid or expired", error="invalid_grant")
        if row.used_at is not None:
            await self.tokens.revoke_family(row.family_id, now)
            return RefreshReused(row.family_id)
        user = await self.users.get(row.user_id)
        if user is None or not user.is_active:
            raise InvalidGrant("account is disabled", error="invalid_grant")
        row.used_at = now
        return await self._issue(user, family_id=row.family_id)

    async def _issue(self, user: User, *, family_id: uuid.UUID) -> TokenResponse:
        ttl = self.settings.access_token_ttl_seconds
        access = self.signer.sign(
            {"sub": str(user.id), "name": user.username, "roles": list(user.roles)},
            audience=ACCESS_AUDIENCE,
            ttl=ttl,
        )
        refresh = secrets.token_urlsafe(32)
        await self.tokens.add(
            RefreshToken(
                family_id=family_id,
                user_id=user.id,
                token_hash=_digest(refresh),
                expires_at=datetime.now(UTC)
                + timedelta(seconds=self.settings.refresh_token_ttl_seconds),
            )
        )
        return TokenResponse(access_token=access, expires_in=ttl, refresh_token=refresh)
