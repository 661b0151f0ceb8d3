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

from gateway.identity.enums import Role
from gateway.identity.errors import (
    AccountLocked,
    InvalidGrant,
    UsernameTaken,
    UserNotFound,
    WeakPassword,
)
from gateway.identity.models import ApiClient, RefreshToken, User
from gateway.identity.repository import (
    ApiClientRepository,
    RefreshTokenRepository,
    UserRepository,
)
from gateway.identity.schemas import TokenResponse, UserCreate, password_problem
from gateway.identity.tokens import ACCESS_AUDIENCE
from gateway.keys import Signer
from gateway.settings import GatewaySettings
from services.common.errors import Problem, field_error
from services.common.policy import scopes_for

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
    user_id: uuid.UUID


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

    # ---- account changes. Each one revokes access tokens through the trigger on `users`
    # (migration 0005): disabling and a new password end every login, new roles end the access
    # tokens that carry the old ones (the next refresh carries the new).

    async def _user(self, username: str) -> User:
        user = await self.users.by_username(username, lock=True)
        if user is None:
            raise UserNotFound(f"no user {username}")
        return user

    async def _changed(self, user: User) -> User:
        user.updated_at = datetime.now(UTC)
        await self.users.session.flush()
        await self.users.session.refresh(user)  # the version the trigger raised
        return user

    async def set_active(self, username: str, active: bool) -> User:
        user = await self._user(username)
        user.is_active = active
        return await self._changed(user)

    async def set_roles(self, username: str, roles: list[Role]) -> User:
        if not roles:
            raise ValueError("a user needs at least one role")
        user = await self._user(username)
        user.roles = [r.value for r in roles]
        return await self._changed(user)

    async def set_password(self, username: str, password: str) -> User:
        user = await self._user(username)
        problem = (
            password_problem(password, user.username)
            if 12 <= len(password) <= 256
            else "12 to 256 characters"
        )
        if problem:
            raise field_error(WeakPassword, "password", problem, "weak_password")
        user.password_hash = await anyio.to_thread.run_sync(hash_password, password)
        user.failed_logins = 0
        user.locked_until = None
        return await self._changed(user)

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

    async def logout(self, refresh_token: str) -> RefreshToken | None:
        """Ends the login the refresh token belongs to: its whole family is revoked, and the
        access tokens issued to it are refused from the commit on (their `sid`). Returns the
        token's row if this revoked it."""
        row = await self.tokens.by_hash_for_update(_digest(refresh_token))
        if row is None or row.revoked_at is not None:
            return None
        await self.tokens.revoke_family(row.family_id, row.user_id, datetime.now(UTC), "logout")
        return row

    async def client_login(
        self, client_id: str, secret: str, scope: str | None = None
    ) -> TokenResponse:
        """OAuth2 client credentials (RFC 6749 §4.4): an access token, no refresh token. It
        carries the key's scopes, or those asked for (`scope`, space-separated, a subset of the
        key's: else `invalid_scope`), and expires no later than the key."""
        client = await ApiClientRepository(self.users.session).by_client_id(client_id)
        hash_ = client.secret_hash if client is not None else _DUMMY_HASH
        ok = await anyio.to_thread.run_sync(_verify, hash_, secret)
        if client is None or not ok or not client.is_active:
            raise InvalidGrant("invalid client credentials", error="invalid_client")
        now = datetime.now(UTC)
        if client.expires_at is not None and client.expires_at <= now:
            raise InvalidGrant(
                f"the API key expired at {client.expires_at.isoformat()}", error="invalid_client"
            )
        scopes = list(client.scopes)
        if scope is not None:
            asked = scope.split(" ")
            beyond = [s for s in asked if s not in scopes]
            if beyond or not asked:
                raise InvalidGrant(
                    f"scope beyond the key's: {' '.join(beyond) or '(none asked)'}",
                    error="invalid_scope",
                )
            scopes = sorted(set(asked))
        ttl = self.settings.access_token_ttl_seconds
        if client.expires_at is not None:
            ttl = max(1, min(ttl, int((client.expires_at - now).total_seconds())))
        client.last_used_at = now
        granted = " ".join(scopes)
        access = self.signer.sign(
            {"sub": f"client:{client.client_id}", "name": client.client_id,
             "roles": list(client.roles), "ver": client.token_version, "scope": granted},
            audience=ACCESS_AUDIENCE,
            ttl=ttl,
        )  # fmt: skip
        return TokenResponse(access_token=access, expires_in=ttl, scope=granted)

    async def ensure_client(
        self, client_id: str, secret: str, roles: list[str], about: str
    ) -> None:
        """Creates one of our services' keys or resets its secret, roles and scopes (operator
        tooling): every scope its roles have, no expiry (ops rotates it)."""
        repo = ApiClientRepository(self.users.session)
        secret_hash = await anyio.to_thread.run_sync(hash_password, secret)
        scopes = list(scopes_for(roles))
        client = await repo.by_client_id(client_id)
        if client is None:
            await repo.add(
                ApiClient(client_id=client_id, secret_hash=secret_hash, roles=roles,
                          scopes=scopes, description=about, created_by="ops")
            )  # fmt: skip
            return
        if not _verify(client.secret_hash, secret):
            client.secret_hash = secret_hash
        if list(client.roles) != roles or list(client.scopes) != scopes:
            client.roles, client.scopes, client.description = roles, scopes, about
        if self.users.session.is_modified(client):
            client.updated_at = datetime.now(UTC)
            await self.users.session.flush()

    async def refresh(self, refresh_token: str) -> TokenResponse | RefreshReused:
        now = datetime.now(UTC)
        row = await self.tokens.by_hash_for_update(_digest(refresh_token))  # and its user's
        if row is None or row.revoked_at is not None or row.expires_at <= now:
            raise InvalidGrant("refresh token is invalid or expired", error="invalid_grant")
        if row.used_at is not None:
            await self.tokens.revoke_family(row.family_id, row.user_id, now, "refresh_reused")
            return RefreshReused(row.family_id, row.user_id)
        if await self.tokens.family_revoked(row.family_id):
            raise InvalidGrant("refresh token is invalid or expired", error="invalid_grant")
        # locked with the token: no token is issued with a version a concurrent change of the
        # account has just made obsolete
        user = await self.users.get(row.user_id)
        if user is None or not user.is_active:
            raise InvalidGrant("account is disabled", error="invalid_grant")
        row.used_at = now
        return await self._issue(user, family_id=row.family_id)

    async def _issue(self, user: User, *, family_id: uuid.UUID) -> TokenResponse:
        ttl = self.settings.access_token_ttl_seconds
        access = self.signer.sign(
            {
                "sub": str(user.id),
                "name": user.username,
                "roles": list(user.roles),
                "sid": str(family_id),  # logout and a replayed refresh token revoke it
                "ver": user.token_version,  # a disabled account, new password or roles do
            },
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
