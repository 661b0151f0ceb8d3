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


async def change_user(
    gateway_db_url: str,
    data_dir: Path,
    username: str,
    *,
    active: bool | None = None,
    roles: list[Role] | None = None,
    password: str | None = None,
) -> None:
    """Disables or enables an account, replaces its roles or sets its password. The gateway's
    trigger on `users` revokes the access tokens this makes obsolete, on every replica."""
    settings = GatewaySettings(
        database_url=gateway_db_url, signing_key_file=data_dir / "keys" / "gateway-signing.pem"
    )
    db = Database(settings)
    try:
        async with db.sessions() as session:
            identity = IdentityService(session, make_signer(settings), settings)
            if active is not None:
                await identity.set_active(username, active)
            if roles is not None:
                await identity.set_roles(username, roles)
            if password is not None:
                await identity.set_password(username, password)
            await session.commit()
    finally:
        await db.dispose()


SERVICE_CLIENTS = ("rounds", "findings", "referrals")


def service_client_secrets(data_dir: Path) -> dict[str, str]:
    """Each service's client secret for calling others through the gateway (generated once)."""
    out = {}
    for name in SERVICE_CLIENTS:
        path = data_dir / "secrets" / f"client-{name}.secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        out[name] = path.read_text().strip()
    return out


async def ensure_service_clients(gateway_db_url: str, data_dir: Path) -> dict[str, str]:
    settings = GatewaySettings(
        database_url=gateway_db_url, signing_key_file=data_dir / "keys" / "gateway-signing.pem"
    )
    secrets_by_name = service_client_secrets(data_dir)
    db = Database(settings)
    try:
        async with db.sessions() as session:
            identity = IdentityService(session, make_signer(settings), settings)
            for name, secret in secrets_by_name.items():
                await identity.ensure_client(
                    name, secret, [Role.service.value], f"the {name} service"
                )
            await session.commit()
    finally:
        await db.dispose()
    return secrets_by_name


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
