"""The four apps as real processes on free ports, against the session's PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gateway.identity.enums import Role
from gateway.identity.schemas import UserCreate
from ops.pg import free_port
from ops.stack import Database as Db
from ops.stack import Stack
from ops.users import create_user

PASSWORD = "correct horse battery staple"


@dataclass
class System:
    stack: Stack
    gateway: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def url(self, app: str) -> str:
        return self.stack.url(app)


@pytest.fixture(scope="session")
def system(database: Db, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    logs = Path(tmp_path_factory.mktemp("logs"))
    ports = {app: free_port() for app in ("gateway", "rounds", "findings", "referrals")}
    stack = Stack(
        db=database,
        ports=ports,
        log_dir=logs,
        extra_env={"GATEWAY_UPSTREAM_READ_TIMEOUT": "3", "GATEWAY_UPSTREAM_CONNECT_TIMEOUT": "1"},
    )
    user = UserCreate(
        username="office1", display_name="巡察办干部", password=PASSWORD, roles=[Role.office]
    )
    asyncio.run(create_user(database.urls["gateway"], database.data_dir, user))
    stack.start()
    try:
        resp = httpx.post(
            stack.url("gateway") + "/api/v1/auth/token",
            data={"grant_type": "password", "username": "office1", "password": PASSWORD},
        )
        assert resp.status_code == 200, resp.text
        yield System(stack=stack, gateway=stack.url("gateway"), token=resp.json()["access_token"])
    finally:
        stack.stop()
        for log in logs.glob("*.log"):
            text = log.read_text(errors="replace")
            assert "Traceback" not in text, f"{log.name} logged an unhandled error:\n{text[-3000:]}"
