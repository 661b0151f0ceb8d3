"""Logging in, refreshing, and what happens when a refresh token is replayed."""

from __future__ import annotations

import httpx
import pytest

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
