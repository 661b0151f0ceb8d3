"""The authorization suite, generated from the policy table (services/common/policy.py): every
route the gateway serves × every role, through the gateway with real tokens, against a record
in the role's scope (family A of tests/e2e/policy_world.py) and one out of it (family B).

For each rule and role the table says what must happen:
- a role the rule does not grant: 403 `/problems/forbidden-by-policy`, whatever the record;
- a public route: never 401/403; a signed route (the platform's callbacks): 401 without the
  signature, whatever the bearer token;
- a granted role, on a record in its scope: never 401/403, and a read never 404;
- a granted role with a narrower scope than "all", on a record out of it: 404, as if absent
  (a comment of someone else's that the caller can see: 403 or 422, never done); in a list,
  family B's record is absent and family A's is present.
The routes are taken from the table; test_policy_table.py checks that the table names exactly
the routes the apps serve. Writes are sent with an empty body and a stale `If-Match`, so that a
granted call stops at validation (422/412/428) instead of changing the world; deletions run last.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from gateway.keys import Signer, load_or_create
from ops.stack import Database
from services.common.policy import POLICY, ROLES, Access, Rule, Scope
from tests.e2e.conftest import System
from tests.e2e.policy_world import World, build_world

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

NARROW = {Scope.led, Scope.groups, Scope.consulted, Scope.recipient, Scope.named}
# The world's records are made by the office user: the only one they are "own" for.
CREATOR = "office"
# office and admin last, so that a granted write that does go through comes after the others
ORDER = [r for r in ROLES if r not in ("office", "admin")] + ["office", "admin"]
NOBODY = "00000000-0000-4000-8000-000000000000"


def _key(rule: Rule) -> tuple[int, int, str, str]:
    last = rule.method == "DELETE"
    # ending a consultation takes the expert's scope away: the very last
    very_last = "consultations" in rule.path and last
    return (last, very_last, rule.path, rule.method)


ROUTED = sorted((r for r in POLICY if r.path.startswith("/api/")), key=_key)


@pytest.fixture(scope="module")
def world(system: System, database: Database) -> World:
    return build_world(system, database)


@pytest.fixture(scope="module")
def http(system: System) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=system.gateway, timeout=30) as client:
        yield client


def in_scope(scope: Scope, role: str, family: str, record: bool) -> bool:
    """Whether the family's record (`record`: the route names one) is in the role's scope."""
    if scope in NARROW:
        return family == "A"
    if scope in (Scope.own, Scope.author):
        return role == CREATOR
    if scope is Scope.self_:
        return not record  # no record of the world is any user's own
    return True


# Valid bodies for the writes on a record, sent for records out of the caller's scope: an empty
# body would stop at validation (422) before the record is looked up, showing nothing.
F = "/api/v1/findings/{finding_id}"
SAMPLE: dict[tuple[str, str], dict[str, object]] = {
    ("POST", f"{F}/comments"): {"body": "请补充材料。"},
    ("PATCH", f"{F}/comments/{{comment_id}}"): {"body": "请补充材料。"},
    ("POST", f"{F}/transitions"): {"to": "confirmed"},
    ("POST", f"{F}/consultations"): {"expert_id": NOBODY},
    ("POST", f"{F}/responsibility-links"): {"body_id": NOBODY, "duty": "primary"},
    ("POST", "/api/v1/leads/{lead_id}/transitions"): {"to": "received"},
    ("POST", "/api/v1/rectifications/{item_id}/progress"): {"note": "已整改。"},
    ("POST", "/api/v1/rectifications/{item_id}/transitions"): {"to": "completion_requested"},
    ("POST", "/api/v1/crosschecks/hits/{hit_id}/dismiss"): {"reason": "同名不同人"},
    ("POST", "/api/v1/crosschecks/hits/{hit_id}/confirm"): {
        "assignment_id": NOBODY,
        "category_id": NOBODY,
    },
}


def call(
    http: httpx.Client, world: World, rule: Rule, role: str | None, family: str
) -> tuple[httpx.Response, bool]:
    """The rule's route with the family's records; whether every path parameter was a real
    record of the world."""
    params = dict(world.families[family])
    if rule.path.startswith("/api/v1/checklists/"):
        params["category_id"] = params["template_category_id"]  # a template's, not a round's
    names = re.findall(r"{(\w+)}", rule.path)
    resolved = all(n in params for n in names)
    path = re.sub(r"{(\w+)}", lambda m: params.get(m.group(1), NOBODY), rule.path)
    headers = dict(world.users[role].headers) if role else {}
    kwargs: dict[str, object] = {}
    if rule.method != "GET":
        sample = SAMPLE.get((rule.method, rule.path))
        kwargs["json"] = sample if sample is not None and family == "B" else {}
    if rule.method in ("PATCH", "DELETE", "PUT"):
        headers["If-Match"] = '"0"'
    deadline = time.monotonic() + 30
    while True:
        resp = http.request(rule.method, path, headers=headers, **kwargs)  # type: ignore[arg-type]
        if resp.status_code != 504 or time.monotonic() > deadline:
            return resp, resolved
        time.sleep(0.5)  # the tests' upstream timeout is 3 s; a loaded machine crosses it


def check(http: httpx.Client, world: World, rule: Rule, role: str) -> list[str]:
    """What is wrong with `rule` for `role` (nothing: an empty list)."""
    wrong: list[str] = []

    def expect(cond: bool, family: str, resp: httpx.Response, what: str) -> None:
        if not cond:
            wrong.append(f"{role} on {family}: {what}, got {resp.status_code} {resp.text[:160]}")

    if rule.access is Access.public:
        resp, _ = call(http, world, rule, role, "A")
        expect(resp.status_code not in (401, 403), "A", resp, "a public route")
        return wrong
    if rule.access is Access.signed:
        resp, _ = call(http, world, rule, role, "A")
        expect(resp.status_code == 401, "A", resp, "401 without the platform's signature")
        return wrong
    scope = rule.grants.get(role)
    if scope is None:
        for family in ("A", "B"):
            resp, _ = call(http, world, rule, role, family)
            expect(
                resp.status_code == 403
                and resp.json().get("type") == "/problems/forbidden-by-policy",
                family,
                resp,
                "403 forbidden-by-policy (not granted)",
            )
        return wrong
    has_path_record = "{" in rule.path
    for family in ("A", "B"):
        resp, resolved = call(http, world, rule, role, family)
        status = resp.status_code
        if in_scope(scope, role, family, has_path_record):
            expect(status not in (401, 403), family, resp, f"granted ({scope})")
            if rule.method == "GET" and resolved:
                expect(status != 404, family, resp, f"a record in scope ({scope})")
        elif has_path_record and scope is Scope.author:
            # someone else's comment: 404 if its finding is out of sight, else 403; never done
            expect(status in (403, 404, 412, 422, 428), family, resp, "not the author's")
        elif has_path_record:
            expect(status == 404, family, resp, f"404 out of scope ({scope})")
        listed = world.listed[family].get(rule.resource)
        if rule.method == "GET" and not has_path_record and listed and scope in NARROW:
            if family == "B":
                expect(listed not in resp.text, family, resp, f"B's {rule.resource} not listed")
            else:
                expect(listed in resp.text, family, resp, f"A's {rule.resource} listed")
    return wrong


@pytest.mark.parametrize("rule", ROUTED, ids=[f"{r.method} {r.path}" for r in ROUTED])
def test_route_answers_every_role_as_the_policy_table_says(
    http: httpx.Client, world: World, rule: Rule
) -> None:
    wrong = [w for role in ORDER for w in check(http, world, rule, role)]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(
    "rule", [r for r in ROUTED if r.access is Access.token], ids=lambda r: f"{r.method} {r.path}"
)
def test_without_a_token_every_protected_route_is_401(http: httpx.Client, rule: Rule) -> None:
    path = re.sub(r"{(\w+)}", NOBODY, rule.path)
    resp = http.request(rule.method, path, json={} if rule.method != "GET" else None)
    assert resp.status_code == 401, resp.text


def test_internal_routes_admit_only_the_hub(system: System, database: Database) -> None:
    """The services' own routes (not routed by the gateway) by the same table: each role with a
    valid internal token, straight to the service."""
    signer = Signer(
        load_or_create(database.data_dir / "keys" / "gateway-signing.pem", create=False),
        [],
        issuer="inspection-gateway",
    )
    internal = [r for r in POLICY if not r.path.startswith("/api/")]
    assert internal, "the table names the services' internal routes"
    for rule in internal:
        for role in ROLES:
            token = signer.sign(
                {"sub": "policy-suite", "roles": [role], "rid": uuid.uuid4().hex},
                audience=rule.service,
                ttl=60,
            )
            resp = httpx.request(
                rule.method,
                system.url(rule.service) + rule.path,
                json={},
                headers={"Authorization": f"Bearer {token}"},
            )
            if role in rule.grants:
                assert resp.status_code not in (401, 403), (role, resp.text)
            else:
                assert resp.status_code == 403, (role, resp.text)
