"""The policy table (services/common/policy.py) names exactly the routes the apps serve, with
known roles, and docs/POLICY.md is generated from it. What each route answers each role is
tests/e2e/test_policy.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI

from gateway.app import GatewayApp
from gateway.app import create_app as create_gateway
from gateway.identity.enums import Role
from services.common.policy import (
    POLICY,
    ROLE_LABELS,
    ROLES,
    Access,
    document,
    rules_of,
    served_routes,
)
from services.findings.app import create_app as create_findings
from services.referrals.app import create_app as create_referrals
from services.rounds.app import create_app as create_rounds

URL = "postgresql+asyncpg://nobody@127.0.0.1:9/nothing"


@pytest.fixture(scope="module")
def apps() -> dict[str, FastAPI]:
    with pytest.MonkeyPatch.context() as env:
        for app in ("GATEWAY", "ROUNDS", "FINDINGS", "REFERRALS"):
            env.setenv(f"{app}_DATABASE_URL", URL)
        gateway = create_gateway()
        while not isinstance(gateway, GatewayApp):
            gateway = gateway.app  # type: ignore[attr-defined]
        return {
            "gateway": gateway.api,
            "rounds": create_rounds(),
            "findings": create_findings(),
            "referrals": create_referrals(),
        }


@pytest.mark.parametrize("service", ["gateway", "rounds", "findings", "referrals"])
def test_the_table_names_exactly_the_routes_served(apps: dict[str, FastAPI], service: str) -> None:
    served = set(served_routes(apps[service]))
    named = {(r.method, r.path) for r in rules_of(service)}
    assert sorted(served - named) == [], "served but not in the policy table"
    assert sorted(named - served) == [], "in the policy table but not served"


def test_roles_are_the_gateways_and_grants_are_sound() -> None:
    assert set(ROLES) == {r.value for r in Role}
    # services.common may not import the gateway: the table's labels are a copy, kept equal here
    assert dict(ROLE_LABELS) == Role.labels()
    for rule in POLICY:
        if rule.access is Access.token:
            assert rule.grants, f"{rule.method} {rule.path}: a protected route nobody may call"
        else:
            assert not rule.grants, f"{rule.method} {rule.path}: no token, so no role to grant"
    # the lead subjects' routes are never granted to the field or to outsiders
    for rule in POLICY:
        if rule.resource == "lead" and rule.access is Access.token:
            named = {r for r, s in rule.grants.items() if s.value != "figures"}
            outsiders = {"group_member", "township_group", "expert", "owner", "superior"}
            assert not outsiders & named, f"{rule.method} {rule.path}"


def test_policy_doc_is_current() -> None:
    written = (Path(__file__).parent.parent / "docs" / "POLICY.md").read_text(encoding="utf-8")
    assert written == document(), "docs/POLICY.md is stale: run `python -m ops policy-doc`"
