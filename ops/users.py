"""User administration from the command line, straight against the gateway's schema."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

from sqlalchemy import func, select

from gateway.app import make_signer
from gateway.identity.enums import Role
from gateway.identity.models import User
from gateway.identity.schemas import UserCreate
from gateway.identity.service import IdentityService
from gateway.settings import GatewaySettings
from services.common.db import Database

DEV_ADMIN = "admin"


async def create_user(
    gateway_db_url: str, data_dir: Path, data: UserCreate, *, only_if_no_users: bool = False
) -> bool:
    settings = GatewaySettings(
        database_url=gateway_db_url, signing_key_file=data_dir / "keys" / "gateway-signing.pem"
    )
    db = Database(settings)
    try:
        async with db.sessions() as session:
            if only_if_no_users and await session.scalar(select(func.count()).select_from(User)):
                return False
            await IdentityService(session, make_signer(settings), settings).create_user(data)
            await session.commit()
            return True
    finally:
        await db.dispose()


def ensure_dev_admin(gateway_db_url: str, data_dir: Path) -> tuple[str, str]:
    """First run in development: an administrator whose password is kept under .data/secrets."""
    path = data_dir / "secrets" / "dev-admin.password"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(12))
        path.chmod(0o600)
    password = path.read_text().strip()
    data = UserCreate(
        username=DEV_ADMIN,
        display_name="开发管理员",
        password=password,
        roles=[Role.admin, Role.office],
    )
    asyncio.run(create_user(gateway_db_url, data_dir, data, only_if_no_users=True))
    return DEV_ADMIN, password
