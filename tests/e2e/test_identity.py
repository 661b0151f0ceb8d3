"""Logging in, refreshing, and what happens when a refresh token is replayed."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from pydantic import ValidationError

from gateway.identity.enums import Role
from gateway.identity.schemas import UserCreate
from ops.stack import Database
from ops.users import create_user
from tests.e2e.conftest import PASSWORD, System

pytestmark = pytest.mark.e2e


def login(gw: httpx.Client) -> dict[str, str]:
    resp = gw.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": "OFFICE1", "password": PASSWORD},
    )
    assert resp.status_code == 200, resp.text  # usernames are case-insensitive
    body: dict[str, str] = resp.json()
    assert body["token_type"] == "bearer"
    return body


def refresh(gw: httpx.Client, token: str) -> httpx.Response:
    return gw.post(
        "/api/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": token}
    )


def test_refresh_rotates_and_a_replayed_token_revokes_the_family(system: System) -> None:
    with httpx.Client(base_url=system.gateway) as gw:
        first = login(gw)
        second = refresh(gw, first["refresh_token"])
        assert second.status_code == 200
        rotated = second.json()
        assert rotated["refresh_token"] != first["refresh_token"]
        me = gw.get(
            "/api/v1/auth/me", headers={"Authorization": f"Bearer {rotated['access_token']}"}
        )
        assert me.status_code == 200
        assert me.json()["roles"] == ["office"]

        # the first token comes back: stolen or replayed. The whole family dies.
        replay = refresh(gw, first["refresh_token"])
        assert replay.status_code == 400
        assert replay.json()["error"] == "invalid_grant"
        assert refresh(gw, rotated["refresh_token"]).status_code == 400

        # another login is another family and is unaffected
        other = login(gw)
        assert refresh(gw, other["refresh_token"]).status_code == 200


def test_unknown_user_and_wrong_password_look_the_same(system: System) -> None:
    with httpx.Client(base_url=system.gateway) as gw:
        a = gw.post(
            "/api/v1/auth/token",
            data={"grant_type": "password", "username": "nobody", "password": "x"},
        )
        b = gw.post(
            "/api/v1/auth/token",
            data={"grant_type": "password", "username": "office1", "password": "x"},
        )
        assert a.status_code == b.status_code == 400
        assert a.json()["detail"] == b.json()["detail"]
        assert refresh(gw, "made-up").status_code == 400
        assert gw.get("/api/v1/auth/me").status_code == 401


def new_user(database: Database, name: str) -> str:
    password = "Another-Strong-Passphrase-42"
    asyncio.run(
        create_user(
            database.urls["gateway"],
            database.data_dir,
            UserCreate(
                username=name, display_name=name, password=password, roles=[Role.group_member]
            ),
        )
    )
    return password


def attempt(gw: httpx.Client, username: str, password: str) -> httpx.Response:
    return gw.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
    )


def test_five_failed_logins_lock_the_account_for_a_while(
    system: System, database: Database
) -> None:
    name = f"locky{uuid.uuid4().hex[:6]}"
    password = new_user(database, name)
    with httpx.Client(base_url=system.gateway) as gw:
        for _ in range(4):
            assert attempt(gw, name, "wrong").status_code == 400
        assert attempt(gw, name, password).status_code == 200  # success resets the count
        for _ in range(5):
            assert attempt(gw, name, "wrong").status_code == 400
        locked = attempt(gw, name, password)  # even the right password waits
        assert locked.status_code == 429
        assert locked.json()["type"] == "/problems/account-locked"
        assert 0 < int(locked.headers["retry-after"]) <= 15 * 60
        assert attempt(gw, "office1", PASSWORD).status_code == 200  # others are not affected


def test_logout_revokes_the_refresh_token(system: System) -> None:
    with httpx.Client(base_url=system.gateway) as gw:
        session = login(gw)
        assert (
            gw.post(
                "/api/v1/auth/logout", data={"refresh_token": session["refresh_token"]}
            ).status_code
            == 204
        )
        assert refresh(gw, session["refresh_token"]).status_code == 400


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short1A!", "at least 12"),
        ("alllowercaseletters", None),  # a 19-character passphrase is fine
        ("lowercase123", "three of"),
        ("Qwertyuiop12", "too common"),
        ("aaaaaaaaaaaaaaaa", "too common"),
        ("zhangsan-Strong-9", "username"),
    ],
)
def test_password_policy(password: str, why: str | None) -> None:
    if why is None:
        UserCreate(username="zhangsan", display_name="张三", password=password, roles=[Role.office])
        return
    with pytest.raises(ValidationError, match=why):
        UserCreate(username="zhangsan", display_name="张三", password=password, roles=[Role.office])
