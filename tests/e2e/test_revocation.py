"""Access tokens revoked before they expire, through the real processes and on two gateway
replicas: after logout, a replayed refresh token, a disabled account, new roles or a new
password, the old access token is 401 on the gateway that was asked and on the other one (told
by NOTIFY: its safety-net reload is set far apart here), and still after that one restarts."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest

from gateway.audit.writer import asyncpg_dsn
from gateway.identity.enums import Role
from gateway.identity.schemas import UserCreate
from ops.pg import free_port
from ops.stack import Database, Stack
from ops.users import change_user, create_user
from tests.e2e.conftest import PASSWORD, System, eventually

pytestmark = pytest.mark.e2e


@dataclass
class Replicas:
    first: str
    second: str
    stack: Stack  # the second replica's

    @property
    def both(self) -> tuple[str, str]:
        return self.first, self.second


@pytest.fixture(scope="module")
def replicas(
    system: System, database: Database, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Replicas]:
    """A second gateway process on the same database and services; it does not dispatch events
    (the first one does, for the other tests) and reloads its revocations only every 5 minutes,
    so what reaches it within the tests came by NOTIFY or by its start-up load."""
    logs = Path(tmp_path_factory.mktemp("second-gateway-logs"))
    stack = Stack(
        db=database,
        ports={**system.stack.ports, "gateway": free_port()},
        log_dir=logs,
        extra_env={
            **system.stack.extra_env,
            "GATEWAY_HUB_DISPATCH": "false",
            "GATEWAY_REVOCATION_RELOAD_SECONDS": "300",
        },
    )
    stack.start_app("gateway")
    try:
        stack.wait_ready()
        yield Replicas(system.gateway, stack.url("gateway"), stack)
    finally:
        stack.stop()
        for log in logs.glob("*.log"):
            text = log.read_text(errors="replace")
            assert "Traceback" not in text, f"{log.name} logged an unhandled error:\n{text[-3000:]}"


def new_user(database: Database, role: Role = Role.group_member) -> str:
    name = f"rev-{uuid.uuid4().hex[:8]}"
    user = UserCreate(username=name, display_name=name, password=PASSWORD, roles=[role])
    asyncio.run(create_user(database.urls["gateway"], database.data_dir, user))
    return name


def login(gateway: str, name: str, password: str = PASSWORD) -> dict[str, str]:
    resp = httpx.post(
        f"{gateway}/api/v1/auth/token",
        data={"grant_type": "password", "username": name, "password": password},
    )
    assert resp.status_code == 200, resp.text
    body: dict[str, str] = resp.json()
    return body


def login_status(gateway: str, name: str, password: str = PASSWORD) -> int:
    return httpx.post(
        f"{gateway}/api/v1/auth/token",
        data={"grant_type": "password", "username": name, "password": password},
    ).status_code


def refresh(gateway: str, token: str) -> httpx.Response:
    return httpx.post(
        f"{gateway}/api/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": token}
    )


def status(gateway: str, access: str, path: str = "/api/v1/auth/me") -> int:
    """The gateway's own route (/auth/me) or, with `path`, a proxied one."""
    return httpx.get(f"{gateway}{path}", headers={"Authorization": f"Bearer {access}"}).status_code


def refused(gateway: str, access: str) -> None:
    for path in ("/api/v1/auth/me", "/api/v1/targets"):
        resp = httpx.get(f"{gateway}{path}", headers={"Authorization": f"Bearer {access}"})
        assert resp.status_code == 401, (gateway, path, resp.text)
        assert resp.headers["content-type"] == "application/problem+json"
        assert resp.json()["type"] == "/problems/invalid-access-token"


def accepted(gateway: str, access: str) -> None:
    """Authenticated: its own profile, and a proxied request forwarded (the service may still
    refuse the role: the policy table's business, not this test's)."""
    assert status(gateway, access) == 200, gateway
    assert status(gateway, access, "/api/v1/targets") != 401, gateway


def test_logout_refuses_the_login_on_both_replicas_and_after_a_restart(
    replicas: Replicas, database: Database
) -> None:
    name = new_user(database)
    session = login(replicas.first, name)
    other = login(replicas.second, name)  # another login of the same person
    for gw in replicas.both:  # both replicas have verified (and cached) both tokens
        accepted(gw, session["access_token"])
        accepted(gw, other["access_token"])

    out = httpx.post(
        f"{replicas.first}/api/v1/auth/logout", data={"refresh_token": session["refresh_token"]}
    )
    assert out.status_code == 204
    refused(replicas.first, session["access_token"])  # at once, on the replica asked
    eventually(lambda: refused(replicas.second, session["access_token"]), timeout=5)
    assert refresh(replicas.first, session["refresh_token"]).status_code == 400
    for gw in replicas.both:
        accepted(gw, other["access_token"])

    replicas.stack.restart_app("gateway")  # a fresh process loads what is revoked
    refused(replicas.second, session["access_token"])
    accepted(replicas.second, other["access_token"])


def test_a_replayed_refresh_token_refuses_every_access_token_of_its_family(
    replicas: Replicas, database: Database
) -> None:
    name = new_user(database)
    first = login(replicas.first, name)
    rotated = refresh(replicas.first, first["refresh_token"])
    assert rotated.status_code == 200
    second = rotated.json()
    for gw in replicas.both:
        accepted(gw, first["access_token"])
        accepted(gw, second["access_token"])

    # the first refresh token comes back (stolen): the family and its access tokens die
    replay = refresh(replicas.second, first["refresh_token"])
    assert replay.status_code == 400
    for token in (first["access_token"], second["access_token"]):
        refused(replicas.second, token)
        eventually(lambda token=token: refused(replicas.first, token), timeout=5)
    assert refresh(replicas.first, second["refresh_token"]).status_code == 400
    accepted(replicas.second, login(replicas.second, name)["access_token"])  # a new login is


def test_a_disabled_account_is_refused_everywhere_until_enabled_and_logged_in_again(
    replicas: Replicas, database: Database
) -> None:
    name = new_user(database)
    session = login(replicas.first, name)
    for gw in replicas.both:
        accepted(gw, session["access_token"])

    # disabled by the operator's tooling: another process, straight in the database
    asyncio.run(change_user(database.urls["gateway"], database.data_dir, name, active=False))
    for gw in replicas.both:
        eventually(lambda gw=gw: refused(gw, session["access_token"]), timeout=5)
    assert refresh(replicas.first, session["refresh_token"]).status_code == 400
    assert login_status(replicas.second, name) == 400

    asyncio.run(change_user(database.urls["gateway"], database.data_dir, name, active=True))
    again = login(replicas.second, name)
    for gw in replicas.both:
        accepted(gw, again["access_token"])
        refused(gw, session["access_token"])  # the old token stays refused


def test_new_roles_refuse_the_tokens_that_carry_the_old_ones_and_a_refresh_carries_the_new(
    replicas: Replicas, database: Database
) -> None:
    name = new_user(database, Role.office)
    session = login(replicas.first, name)
    for gw in replicas.both:
        accepted(gw, session["access_token"])

    asyncio.run(
        change_user(database.urls["gateway"], database.data_dir, name, roles=[Role.group_member])
    )
    for gw in replicas.both:
        eventually(lambda gw=gw: refused(gw, session["access_token"]), timeout=5)
    renewed = refresh(replicas.second, session["refresh_token"])  # the login itself lives on
    assert renewed.status_code == 200, renewed.text
    access = renewed.json()["access_token"]
    me = httpx.get(
        f"{replicas.first}/api/v1/auth/me", headers={"Authorization": f"Bearer {access}"}
    )
    assert me.json()["roles"] == ["group_member"]
    # an office-only operation is refused with the new token
    for gw in replicas.both:
        round_ = httpx.post(
            f"{gw}/api/v1/terms",
            json={"name": "x", "starts_on": "2021-10-01", "ends_on": "2026-09-30"},
            headers={"Authorization": f"Bearer {access}"},
        )
        assert round_.status_code == 403, round_.text


def test_a_new_password_ends_every_login(replicas: Replicas, database: Database) -> None:
    name = new_user(database)
    sessions = [login(replicas.first, name), login(replicas.second, name)]
    new_password = "Changed-Passphrase-2024!"
    asyncio.run(
        change_user(database.urls["gateway"], database.data_dir, name, password=new_password)
    )
    for session in sessions:
        for gw in replicas.both:
            eventually(lambda gw=gw, s=session: refused(gw, s["access_token"]), timeout=5)
        assert refresh(replicas.first, session["refresh_token"]).status_code == 400
    assert login_status(replicas.first, name) == 400
    accepted(replicas.second, login(replicas.second, name, new_password)["access_token"])


def test_a_token_rotated_in_while_its_family_was_being_revoked_does_not_outlive_it(
    replicas: Replicas, database: Database
) -> None:
    """A refresh racing a logout can add a token to the family after the logout's UPDATE took
    its snapshot: that token stays unrevoked in the table (made so here by hand). It is refused
    all the same, or it would mint tokens again once the revocation is forgotten."""
    name = new_user(database)
    first = login(replicas.first, name)
    second = refresh(replicas.first, first["refresh_token"]).json()
    out = httpx.post(
        f"{replicas.first}/api/v1/auth/logout", data={"refresh_token": first["refresh_token"]}
    )
    assert out.status_code == 204

    async def unrevoke_the_newest() -> int:
        conn = await asyncpg.connect(asyncpg_dsn(database.urls["gateway"]))
        try:
            status: str = await conn.execute(
                "UPDATE gateway.refresh_tokens SET revoked_at = NULL WHERE id = ("
                " SELECT t.id FROM gateway.refresh_tokens t JOIN gateway.users u"
                " ON u.id = t.user_id WHERE u.username = $1 ORDER BY t.issued_at DESC LIMIT 1)",
                name,
            )
            return int(status.split()[-1])
        finally:
            await conn.close()

    assert asyncio.run(unrevoke_the_newest()) == 1
    assert refresh(replicas.second, second["refresh_token"]).status_code == 400
    refused(replicas.first, second["access_token"])
