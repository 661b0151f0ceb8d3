"""No change of accounts leaves the system without an enabled administrator. Against the test
database, in a transaction rolled back (the other tests' administrators are disabled inside it
only). Two administrators demoting each other at once are serialised by a transaction-level
advisory lock taken before any row (users_admin.UserAdmin.update)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.app import make_signer
from gateway.identity.enums import Role
from gateway.identity.models import User
from gateway.identity.schemas import UserCreate
from gateway.identity.service import IdentityService
from gateway.identity.users_admin import LastAdministrator, UserAdmin, UserUpdate
from gateway.settings import GatewaySettings
from ops.stack import Database
from services.common.db import Database as Sessions

PASSWORD = "correct horse battery staple"


@pytest.fixture
async def sessions(database: Database) -> AsyncIterator[Sessions]:
    settings = GatewaySettings(
        database_url=database.urls["gateway"],
        signing_key_file=database.data_dir / "keys" / "gateway-signing.pem",
    )
    db = Sessions(settings)
    db.settings = settings  # type: ignore[attr-defined]
    try:
        yield db
    finally:
        await db.dispose()


def admin_of(session: AsyncSession, settings: GatewaySettings) -> UserAdmin:
    return UserAdmin(IdentityService(session, make_signer(settings), settings))


async def only_admins(session: AsyncSession, admin: UserAdmin, count: int) -> list[User]:
    """Inside the session's transaction: every other administrator disabled, `count` new."""
    await session.execute(
        update(User).where(User.roles.contains([Role.admin.value])).values(is_active=False)
    )
    made = []
    for _ in range(count):
        name = f"last-admin-{uuid.uuid4().hex[:8]}"
        data = UserCreate(username=name, display_name=name, password=PASSWORD, roles=[Role.admin])
        made.append(await admin.create(data))
    return made


async def test_the_last_administrator_cannot_be_disabled_or_demoted(sessions: Sessions) -> None:
    settings: GatewaySettings = sessions.settings  # type: ignore[attr-defined]
    async with sessions.sessions() as session:
        admin = admin_of(session, settings)
        [last] = await only_admins(session, admin, 1)
        for change in (
            UserUpdate(is_active=False),
            UserUpdate(roles=[Role.office]),
            UserUpdate(roles=[Role.office], display_name="巡察办"),
        ):
            with pytest.raises(LastAdministrator):
                await admin.update(last.id, change, None)
        # keeping the role among others, or changing the name, is allowed
        kept = await admin.update(last.id, UserUpdate(roles=[Role.admin, Role.office]), None)
        assert kept.roles == ["admin", "office"]
        assert kept.is_active
        await session.rollback()
