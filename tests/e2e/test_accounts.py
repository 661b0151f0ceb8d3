"""The administrator's accounts of people over the API, through the real processes: created
under the password policy, changed, disabled, given a new password; each change refuses at once
the access tokens it makes obsolete; only the administrator may."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from gateway.identity.enums import Role
from ops.stack import Database
from tests.e2e.conftest import PASSWORD, System, eventually, fresh_login

pytestmark = pytest.mark.e2e
USERS = "/api/v1/admin/users"
NEW_PASSWORD = "巡察办 Another-passphrase 2026!"


def login(system: System, username: str, password: str = PASSWORD) -> httpx.Response:
    return httpx.post(
        f"{system.gateway}/api/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
    )


def bearer(resp: httpx.Response) -> dict[str, str]:
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


@pytest.fixture(scope="module")
def admin(system: System, database: Database) -> httpx.Client:
    token = fresh_login(system, database, Role.admin, prefix="accounts")
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.Client(base_url=system.gateway, headers=headers, timeout=30)


def create(admin: httpx.Client, roles: list[str], **fields: Any) -> dict[str, Any]:
    body = {
        "username": f"acc-{uuid.uuid4().hex[:8]}",
        "display_name": "王巡察",
        "password": PASSWORD,
        "roles": roles,
        **fields,
    }
    resp = admin.post(USERS, json=body)
    assert resp.status_code == 201, resp.text
    assert resp.headers["Location"] == f"{USERS}/{resp.json()['id']}"
    created: dict[str, Any] = resp.json()
    return created


def patch(admin: httpx.Client, user_id: str, body: dict[str, Any]) -> httpx.Response:
    etag = admin.get(f"{USERS}/{user_id}").headers["ETag"]
    return admin.patch(f"{USERS}/{user_id}", json=body, headers={"If-Match": etag})


def refused(system: System, headers: dict[str, str]) -> None:
    def check() -> None:
        resp = httpx.get(f"{system.gateway}/api/v1/auth/me", headers=headers)
        assert resp.status_code == 401, resp.text

    eventually(check)


def test_an_account_is_created_under_the_password_policy(
    system: System, admin: httpx.Client
) -> None:
    user = create(admin, ["group_member"])
    assert "password" not in user
    assert "password_hash" not in user
    assert user["roles"] == ["group_member"]
    assert user["is_active"] is True
    me = httpx.get(
        f"{system.gateway}/api/v1/auth/me", headers=bearer(login(system, user["username"]))
    )
    assert me.json()["id"] == user["id"]
    for body, field in (
        ({"password": "password1234"}, "body"),  # common: the policy's model check
        ({"roles": ["service"]}, "roles[0]"),
        ({"roles": []}, "roles"),
        ({"username": "a b"}, "username"),
        ({"is_active": False}, "is_active"),  # not a field of creation
    ):
        resp = admin.post(
            USERS,
            json={"username": f"acc-{uuid.uuid4().hex[:8]}", "display_name": "x",
                  "password": PASSWORD, "roles": ["office"], **body},
        )  # fmt: skip
        assert resp.status_code == 422, resp.text
        assert field in [e["field"] for e in resp.json()["errors"]], resp.text
    taken = admin.post(
        USERS,
        json={"username": user["username"].upper(), "display_name": "x", "password": PASSWORD,
              "roles": ["office"]},
    )  # fmt: skip
    assert taken.status_code == 409, taken.text


def test_the_list_filters_by_role_state_and_name(admin: httpx.Client) -> None:
    marker = uuid.uuid4().hex[:6]
    owner = create(admin, ["owner"], display_name=f"整改责任人{marker}")
    expert = create(admin, ["expert"], display_name=f"专家{marker}")
    found = admin.get(USERS, params={"q": marker, "limit": 50}).json()["items"]
    assert {u["id"] for u in found} == {owner["id"], expert["id"]}
    owners = admin.get(USERS, params={"q": marker, "role": "owner"}).json()["items"]
    assert [u["id"] for u in owners] == [owner["id"]]
    assert patch(admin, expert["id"], {"is_active": False}).status_code == 200
    enabled = admin.get(USERS, params={"q": marker, "active": "true"}).json()["items"]
    assert [u["id"] for u in enabled] == [owner["id"]]
    # a wildcard in the search is a character, not a pattern
    assert admin.get(USERS, params={"q": "%"}).json()["items"] == []
    assert admin.get(USERS, params={"role": "nobody"}).status_code == 422


def test_changes_refuse_the_tokens_they_make_obsolete(system: System, admin: httpx.Client) -> None:
    user = create(admin, ["group_member"])
    held = bearer(login(system, user["username"]))
    stale = admin.patch(f"{USERS}/{user['id']}", json={"display_name": "王某"},
                        headers={"If-Match": '"1"'})  # fmt: skip
    assert stale.status_code == 412
    renamed = patch(admin, user["id"], {"display_name": "王某某"})
    assert renamed.json()["display_name"] == "王某某"
    assert httpx.get(f"{system.gateway}/api/v1/auth/me", headers=held).status_code == 200
    promoted = patch(admin, user["id"], {"roles": ["group_leader"]})
    assert promoted.json()["roles"] == ["group_leader"]
    refused(system, held)
    held = bearer(login(system, user["username"]))
    assert patch(admin, user["id"], {"is_active": False}).json()["is_active"] is False
    refused(system, held)
    assert login(system, user["username"]).status_code == 400
    assert patch(admin, user["id"], {"is_active": True}).status_code == 200
    held = bearer(login(system, user["username"]))
    assert patch(admin, user["id"], {"roles": None}).status_code == 422
    assert patch(admin, user["id"], {"roles": ["service"]}).status_code == 422
    assert admin.get(f"{USERS}/{uuid.uuid4()}").status_code == 404


def test_a_new_password_ends_every_login_and_lifts_a_lockout(
    system: System, admin: httpx.Client
) -> None:
    user = create(admin, ["expert"])
    held = bearer(login(system, user["username"]))
    for _ in range(5):
        assert login(system, user["username"], "wrong password 123").status_code == 400
    locked = login(system, user["username"])
    assert locked.status_code == 429, locked.text
    assert admin.get(f"{USERS}/{user['id']}").json()["locked_until"] is not None
    weak = admin.post(f"{USERS}/{user['id']}/password", json={"password": user["username"] + "X1!"})
    assert weak.status_code == 422, weak.text
    assert weak.json()["errors"][0]["field"] == "password"
    reset = admin.post(f"{USERS}/{user['id']}/password", json={"password": NEW_PASSWORD})
    assert reset.status_code == 200, reset.text
    assert reset.json()["locked_until"] is None
    refused(system, held)
    assert login(system, user["username"]).status_code == 400
    assert bearer(login(system, user["username"], NEW_PASSWORD))


def test_only_the_administrator_keeps_accounts(system: System, database: Database) -> None:
    office = httpx.Client(base_url=system.gateway, headers=system.auth, timeout=30)
    for method, path in (("GET", USERS), ("POST", USERS), ("GET", f"{USERS}/{uuid.uuid4()}")):
        resp = office.request(method, path, json={} if method == "POST" else None)
        assert resp.status_code == 403, resp.text
        assert resp.json()["type"] == "/problems/forbidden-by-policy"
