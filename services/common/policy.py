"""Who may do what: the one authorization table of the system (role × action × resource, with
the scope each role has), for every route the gateway and the three services serve.

The table is enforced in two layers, and each layer reads it from here:
- **function level**, by `PolicyGuard` on every app (a dependency that runs before any other
  of the route's, even before the body is read): a caller whose roles the route's rule does not
  grant gets 403 `/problems/forbidden-by-policy`; a route missing from the table is refused
  the same way, and `uncovered()` lists such routes so that the tests fail on them;
- **object level**, by the services' queries (`services/*/access.py`): the scope a rule names
  is the WHERE clause the service puts into its SQL, so a record out of the caller's scope is
  never read and is answered 404, as if absent. Field-level rules (ID numbers masked, lead
  subjects withheld) are the services' too, and are named in the scopes' descriptions.

The test suite is generated from this table (tests/e2e/test_policy.py): every route × every
role, against records in and out of scope. `python -m ops policy-doc` writes docs/POLICY.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from fastapi import FastAPI, Request

from services.common.errors import Forbidden

# The roles of ../shared/DOMAIN.md ("Who uses the product"), as the gateway's tokens name them.
ROLES: tuple[str, ...] = (
    "admin",
    "office",
    "group_leader",
    "group_member",
    "township_group",
    "expert",
    "receiver",
    "owner",
    "superior",
    "platform",
    "service",
)


class Scope(StrEnum):
    """Which records of a resource a granted role reaches."""

    all = "all"
    led = "led"
    groups = "groups"
    consulted = "consulted"
    recipient = "recipient"
    named = "named"
    own = "own"
    author = "author"
    self_ = "self"
    figures = "figures"


SCOPE_LABELS: Mapping[Scope, str] = MappingProxyType(
    {
        Scope.all: "全部 — every record",
        Scope.led: "所领导的巡察组 — the rounds, groups, targets, datasets and leads of the "
        "inspection groups the caller leads (leader or deputy leader, from the rounds service)",
        Scope.groups: "所在的巡察组 — records of the inspection groups the caller works in "
        "(any membership); resident ID numbers masked unless the caller leads the group",
        Scope.consulted: "受邀咨询的问题 — the findings the caller is consulted on as an "
        "expert, and what hangs off them; ID numbers masked",
        Scope.recipient: "移交本单位的线索 — the leads transferred to the caller's recipient "
        "body (the platform: the discipline commission's), with subjects",
        Scope.named: "本人负责的整改事项 — the rectification items naming the caller",
        Scope.own: "本人创建的 — the records the caller created (export packages)",
        Scope.author: "本人撰写的 — comments the caller wrote (the office: every comment)",
        Scope.self_: "本人 — the caller's own account, cadre record (with postings and relatives), "
        "memberships and notices",
        Scope.figures: "统计数字 — figures only, no record and no name",
    }
)


class Access(StrEnum):
    """How a route authenticates its caller."""

    token = "token"  # noqa: S105 - a bearer token (gateway) or the gateway's internal token (services)
    public = "public"  # none: logging in and out, the enum labels and the event catalogue
    signed = "signed"  # a signature of the body (the discipline platform's callbacks)


@dataclass(frozen=True, slots=True)
class Rule:
    service: str
    method: str
    path: str
    resource: str
    action: str
    grants: Mapping[str, Scope]
    access: Access = Access.token

    def scope_of(self, roles: Iterable[str]) -> Scope | None:
        """The broadest scope the caller's roles are granted, or None."""
        found = [self.grants[r] for r in roles if r in self.grants]
        if not found:
            return None
        return Scope.all if Scope.all in found else found[0]


A = Scope.all
ADMIN = {"admin": A}
OFFICE = {**ADMIN, "office": A}
READ = {**OFFICE, "service": A}  # the office, and the services checking references
FIELD = {"group_leader": Scope.groups, "group_member": Scope.groups, "township_group": Scope.groups}
FIGURES = dict.fromkeys(FIELD, Scope.figures)
LEADER = {"group_leader": Scope.led}
EXPERT = {"expert": Scope.consulted}
HANDLER = {"receiver": Scope.recipient, "platform": Scope.recipient}
OWNER = {"owner": Scope.named}
SUPERIOR = {"superior": Scope.figures}
EVERYONE = dict.fromkeys(ROLES, A)
PEOPLE = {r: Scope.self_ for r in ROLES if r != "service"}


def _rules(service: str, resource: str, *rows: tuple[Any, ...]) -> list[Rule]:
    out = []
    for row in rows:
        method, path, action, grants, *access = row
        out.append(
            Rule(service, method, path, resource, action, MappingProxyType(dict(grants)), *access)
        )
    return out


V = "/api/v1"
FINDING = f"{V}/findings/{{finding_id}}"
LEAD = f"{V}/leads/{{lead_id}}"
ITEM = f"{V}/rectifications/{{item_id}}"
ROUND = f"{V}/rounds/{{round_id}}"
PERSON = f"{V}/people/{{person_id}}"
GROUP = f"{V}/groups/{{group_id}}"
SUB = f"{V}/hub/subscriptions/{{subscription_id}}"
CALLBACK = f"{V}/integrations/platform/leads/{{lead_id}}"
FINDING_READ = {**READ, **FIELD, **EXPERT}

# fmt: off
POLICY: tuple[Rule, ...] = (
    # ---- gateway: identity, events, hub, integrations, reports, audit, meta ----
    *_rules(
        "gateway",
        "session",
        ("POST", f"{V}/auth/token", "log in", {}, Access.public),
        ("POST", f"{V}/auth/logout", "log out", {}, Access.public),
        ("GET", f"{V}/auth/me", "read", PEOPLE),
    ),
    *_rules(
        "gateway",
        "api_key",
        ("POST", f"{V}/admin/api-clients", "issue", ADMIN),
        ("GET", f"{V}/admin/api-clients", "list", ADMIN),
        ("GET", f"{V}/admin/api-clients/{{client_id}}", "read", ADMIN),
        ("PATCH", f"{V}/admin/api-clients/{{client_id}}", "update", ADMIN),
        ("POST", f"{V}/admin/api-clients/{{client_id}}/rotate-secret", "rotate secret", ADMIN),
    ),
    *_rules(
        "gateway",
        "account",
        ("POST", f"{V}/admin/users", "create", ADMIN),
        ("GET", f"{V}/admin/users", "list", ADMIN),
        ("GET", f"{V}/admin/users/{{user_id}}", "read", ADMIN),
        ("PATCH", f"{V}/admin/users/{{user_id}}", "update", ADMIN),
        ("POST", f"{V}/admin/users/{{user_id}}/password", "reset password", ADMIN),
    ),
    *_rules(
        "gateway",
        "event",
        ("POST", f"{V}/events", "publish", {"service": A}),
        ("GET", f"{V}/events/catalogue", "read catalogue", {}, Access.public),
    ),
    *_rules(
        "gateway",
        "subscription",
        ("GET", f"{V}/hub/status", "read status", OFFICE),
        ("POST", f"{V}/hub/subscriptions", "create", OFFICE),
        ("GET", f"{V}/hub/subscriptions", "list", OFFICE),
        ("GET", SUB, "read", OFFICE),
        ("PATCH", SUB, "update", OFFICE),
        ("DELETE", SUB, "delete", OFFICE),
        ("POST", f"{SUB}/rotate-secret", "rotate secret", OFFICE),
        ("GET", f"{SUB}/deliveries", "list deliveries", OFFICE),
        ("GET", f"{V}/hub/deliveries/{{delivery_id}}", "read delivery", OFFICE),
        ("POST", f"{V}/hub/deliveries/{{delivery_id}}/replay", "replay", OFFICE),
        ("POST", f"{SUB}/replay", "replay", OFFICE),
    ),
    *_rules(
        "gateway",
        "lead",
        ("POST", f"{CALLBACK}/received", "report received", {}, Access.signed),
        ("POST", f"{CALLBACK}/handling", "report handling", {}, Access.signed),
        ("POST", f"{CALLBACK}/case-filing", "report case filed", {}, Access.signed),
        ("POST", f"{CALLBACK}/outcomes", "report outcomes", {}, Access.signed),
    ),
    *_rules(
        "gateway",
        "report",
        ("GET", f"{V}/dashboard", "read dashboard", {**OFFICE, **SUPERIOR}),
        ("GET", f"{V}/dashboard/table", "read statistical table", {**OFFICE, **SUPERIOR}),
    ),
    *_rules(
        "gateway",
        "export",
        ("GET", f"{V}/exports", "list", dict.fromkeys(("admin", "office", "superior"), Scope.own)),
        ("POST", f"{V}/exports", "create", OFFICE | {"superior": A}),
        *(
            (m, f"{V}/exports/{{export_id}}{tail}", action, dict.fromkeys(("admin", "office", "superior"), Scope.own))
            for m, tail, action in (("GET", "", "read"), ("DELETE", "", "delete"), ("GET", "/download", "download"))
        ),
    ),
    *_rules(
        "gateway",
        "audit",
        ("GET", f"{V}/audit/entries", "list", OFFICE),
        ("GET", f"{V}/audit/verify", "verify", OFFICE),
        ("GET", f"{V}/audit/head", "read head", {**OFFICE, "superior": A}),
    ),
    *_rules("gateway", "enum", ("GET", f"{V}/meta/enums", "list", {}, Access.public)),
    # ---- rounds: the plan ----
    *_rules("rounds", "round", ("GET", f"{V}/rounds/summary", "read summary", {**READ, "superior": A})),
    *_rules(
        "rounds",
        "target",
        ("POST", f"{V}/targets", "create", OFFICE),
        ("GET", f"{V}/targets", "list", {**READ, **LEADER}),
        ("POST", f"{V}/targets/import", "import", OFFICE),
        ("GET", f"{V}/targets/{{target_id}}", "read", {**READ, **LEADER}),
        ("PATCH", f"{V}/targets/{{target_id}}", "update", OFFICE),
        ("DELETE", f"{V}/targets/{{target_id}}", "delete", OFFICE),
    ),
    *_rules(
        "rounds",
        "term",
        ("POST", f"{V}/terms", "create", OFFICE),
        ("GET", f"{V}/terms", "list", {**READ, **LEADER}),
        ("GET", f"{V}/terms/{{term_id}}", "read", {**READ, **LEADER}),
        ("PATCH", f"{V}/terms/{{term_id}}", "update", OFFICE),
        ("DELETE", f"{V}/terms/{{term_id}}", "delete", OFFICE),
    ),
    *_rules(
        "rounds",
        "round",
        ("POST", f"{V}/rounds", "create", OFFICE),
        ("GET", f"{V}/rounds", "list", {**READ, **LEADER}),
        ("GET", ROUND, "read", {**READ, **LEADER}),
        ("PATCH", ROUND, "update", OFFICE),
        ("DELETE", ROUND, "delete", OFFICE),
        ("PUT", f"{ROUND}/phases/{{phase}}", "schedule phase", OFFICE),
        ("POST", f"{ROUND}/transitions", "move", OFFICE),
        ("GET", f"{ROUND}/transitions", "list moves", {**READ, **LEADER}),
        ("GET", f"{ROUND}/transitions/{{transition_id}}", "read move", {**READ, **LEADER}),
        ("POST", f"{ROUND}/work-plans", "write work plan", OFFICE),
        ("GET", f"{ROUND}/work-plans", "list work plans", {**READ, **LEADER}),
        ("GET", f"{ROUND}/work-plans/latest", "read work plan", {**READ, **LEADER}),
        ("GET", f"{ROUND}/work-plans/{{version}}", "read work plan", {**READ, **LEADER}),
        ("POST", f"{ROUND}/categories", "add category", OFFICE),
        ("GET", f"{ROUND}/categories", "list categories", {**READ, **LEADER}),
        ("GET", f"{ROUND}/categories/{{category_id}}", "read category", {**READ, **LEADER}),
    ),
    *_rules(
        "rounds",
        "checklist",
        ("POST", f"{V}/checklists", "create", OFFICE),
        ("GET", f"{V}/checklists", "list", {**READ, **LEADER}),
        ("GET", f"{V}/checklists/{{template_id}}", "read", {**READ, **LEADER}),
        ("PATCH", f"{V}/checklists/{{template_id}}", "update", OFFICE),
        ("POST", f"{V}/checklists/{{template_id}}/categories", "add category", OFFICE),
        ("GET", f"{V}/checklists/{{template_id}}/categories/{{category_id}}", "read category", {**READ, **LEADER}),
    ),
    *_rules(
        "rounds",
        "person",
        ("POST", f"{V}/people", "create", OFFICE),
        ("GET", f"{V}/people", "list", {**PEOPLE, **READ}),
        ("GET", PERSON, "read", {**PEOPLE, **READ}),
        ("PATCH", PERSON, "update", OFFICE),
        ("DELETE", PERSON, "delete", OFFICE),
        ("POST", f"{PERSON}/postings", "add posting", OFFICE),
        ("GET", f"{PERSON}/postings", "list postings", {**PEOPLE, **READ}),
        ("GET", f"{PERSON}/postings/{{posting_id}}", "read posting", {**PEOPLE, **READ}),
        ("DELETE", f"{PERSON}/postings/{{posting_id}}", "delete posting", OFFICE),
        ("POST", f"{PERSON}/relations", "declare relation", OFFICE),
        ("GET", f"{PERSON}/relations", "list relations", {**PEOPLE, **READ}),
        ("GET", f"{PERSON}/relations/{{relation_id}}", "read relation", {**PEOPLE, **READ}),
        ("DELETE", f"{PERSON}/relations/{{relation_id}}", "delete relation", OFFICE),
    ),
    *_rules(
        "rounds",
        "group",
        ("POST", f"{V}/groups", "create", OFFICE),
        ("GET", f"{V}/groups", "list", {**READ, **LEADER}),
        ("GET", f"{V}/groups/memberships", "list memberships", {**READ, **PEOPLE, **OFFICE}),
        ("GET", GROUP, "read", {**READ, **LEADER}),
        ("PATCH", GROUP, "update", OFFICE),
        ("DELETE", GROUP, "delete", OFFICE),
        ("POST", f"{GROUP}/members", "add member", OFFICE),
        ("GET", f"{GROUP}/members", "list members", {**READ, **LEADER}),
        ("GET", f"{GROUP}/avoidance-overrides", "list avoidance overrides", OFFICE),
        ("GET", f"{GROUP}/members/{{member_id}}", "read member", {**READ, **LEADER}),
        ("DELETE", f"{GROUP}/members/{{member_id}}", "remove member", OFFICE),
    ),
    *_rules(
        "rounds",
        "assignment",
        ("POST", f"{V}/assignments", "create", OFFICE),
        ("GET", f"{V}/assignments", "list", {**READ, **FIELD}),
        ("POST", f"{V}/assignments/batch", "create many", OFFICE),
        ("GET", f"{V}/assignments/{{assignment_id}}", "read", {**READ, **FIELD}),
        ("PATCH", f"{V}/assignments/{{assignment_id}}", "update", OFFICE),
        ("DELETE", f"{V}/assignments/{{assignment_id}}", "delete", OFFICE),
    ),
    *_rules(
        "rounds",
        "coverage",
        ("GET", f"{V}/coverage", "read", OFFICE),
        ("POST", f"{V}/coverage/plans", "plan", OFFICE),
        ("GET", f"{V}/coverage/plans/{{plan_id}}", "read plan", OFFICE),
        ("POST", f"{V}/coverage/plans/{{plan_id}}/accept", "accept plan", OFFICE),
        ("POST", f"{V}/coverage/plans/{{plan_id}}/discard", "discard plan", OFFICE),
    ),
    # ---- findings: what the groups find, and the data cross-checks ----
    *_rules(
        "findings",
        "finding",
        ("GET", f"{V}/findings/stats", "read statistics", {**READ, **SUPERIOR}),
        ("POST", f"{V}/findings", "record", {**OFFICE, **FIELD}),
        ("GET", f"{V}/findings", "list", FINDING_READ),
        ("POST", f"{V}/findings/batch", "record many", {**OFFICE, **FIELD}),
        ("GET", FINDING, "read", FINDING_READ),
        ("PATCH", FINDING, "update", {**OFFICE, **FIELD}),
        ("DELETE", FINDING, "delete", {**OFFICE, **FIELD}),
        ("POST", f"{FINDING}/transitions", "move", {**OFFICE, **FIELD}),
        ("GET", f"{FINDING}/transitions", "list moves", FINDING_READ),
        ("POST", f"{FINDING}/consultations", "consult an expert", {**OFFICE, **LEADER}),
        ("GET", f"{FINDING}/consultations", "list consultations", FINDING_READ),
        ("DELETE", f"{FINDING}/consultations/{{expert_id}}", "end consultation", {**OFFICE, **LEADER}),
        ("POST", f"{FINDING}/evidence", "add evidence", {**OFFICE, **FIELD}),
        ("GET", f"{FINDING}/evidence", "list evidence", FINDING_READ),
        ("GET", f"{FINDING}/evidence/{{evidence_id}}", "read evidence", FINDING_READ),
        ("DELETE", f"{FINDING}/evidence/{{evidence_id}}", "delete evidence", {**OFFICE, **FIELD}),
        ("POST", f"{FINDING}/comments", "comment", {**OFFICE, **FIELD, **EXPERT}),
        ("GET", f"{FINDING}/comments", "list comments", FINDING_READ),
        ("GET", f"{FINDING}/comments/{{comment_id}}", "read comment", FINDING_READ),
        ("PATCH", f"{FINDING}/comments/{{comment_id}}", "edit comment", dict.fromkeys(("admin", "office", *FIELD, "expert"), Scope.author)),
        ("DELETE", f"{FINDING}/comments/{{comment_id}}", "delete comment", {**OFFICE, **dict.fromkeys((*FIELD, "expert"), Scope.author)}),
        ("POST", f"{FINDING}/responsibility-links", "trace responsibility", {**OFFICE, **FIELD}),
        ("GET", f"{FINDING}/responsibility-links", "list responsibility", FINDING_READ),
        ("DELETE", f"{FINDING}/responsibility-links/{{link_id}}", "delete responsibility", {**OFFICE, **FIELD}),
    ),
    *_rules(
        "findings",
        "responsibility",
        ("GET", f"{V}/responsibility-links", "list by body", {**READ, **FIELD}),
        # a unit's portrait counts the findings the caller may see: figures, whoever asks
        ("GET", f"{V}/portraits/{{target_id}}", "read portrait", {**READ, **FIGURES, **SUPERIOR}),
    ),
    *_rules(
        "findings",
        "dataset",
        ("POST", f"{V}/datasets", "import", {**OFFICE, **LEADER}),
        ("GET", f"{V}/datasets", "list", {**OFFICE, **LEADER}),
        ("GET", f"{V}/datasets/kinds", "list kinds", EVERYONE),
        ("GET", f"{V}/datasets/{{version_id}}", "read", {**OFFICE, **LEADER}),
        ("DELETE", f"{V}/datasets/{{version_id}}", "delete", OFFICE),
        ("GET", f"{V}/datasets/{{version_id}}/rows", "read rows", {**OFFICE, **LEADER}),
    ),
    *_rules(
        "findings",
        "crosscheck",
        ("GET", f"{V}/crosschecks/rules", "list rules", {**OFFICE, "group_leader": A}),
        ("POST", f"{V}/crosschecks/rules", "define rule", OFFICE),
        ("GET", f"{V}/crosschecks/rules/{{code}}", "read rule", {**OFFICE, "group_leader": A}),
        ("PATCH", f"{V}/crosschecks/rules/{{code}}", "update rule", OFFICE),
        ("POST", f"{V}/crosschecks/runs", "run", {**OFFICE, **LEADER}),
        ("GET", f"{V}/crosschecks/runs", "list runs", {**OFFICE, **LEADER}),
        ("GET", f"{V}/crosschecks/runs/{{run_id}}", "read run", {**OFFICE, **LEADER}),
        ("GET", f"{V}/crosschecks/runs/{{run_id}}/hits", "list hits", {**OFFICE, **LEADER}),
        ("GET", f"{V}/crosschecks/hits/{{hit_id}}", "read hit", {**OFFICE, **LEADER}),
        ("POST", f"{V}/crosschecks/hits/{{hit_id}}/confirm", "confirm hit", {**OFFICE, **LEADER}),
        ("POST", f"{V}/crosschecks/hits/{{hit_id}}/dismiss", "dismiss hit", {**OFFICE, **LEADER}),
        ("GET", f"{V}/crosschecks/jobs/{{job_id}}", "read job", {**OFFICE, **LEADER}),
        ("GET", f"{V}/crosschecks/jobs", "list jobs", {**OFFICE, **LEADER}),
    ),
    *_rules("findings", "event", ("POST", "/internal/events", "deliver", {"service": A})),
    # ---- referrals: leads, rectification, results ----
    *_rules(
        "referrals",
        "lead",
        ("GET", f"{V}/leads/stats", "read statistics", {**READ, "superior": Scope.figures}),
        ("GET", f"{V}/leads/receivers", "list receivers", OFFICE),
        ("GET", f"{V}/leads/receivers/{{user_id}}", "read receiver", OFFICE),
        ("PUT", f"{V}/leads/receivers/{{user_id}}", "appoint receiver", OFFICE),
        ("DELETE", f"{V}/leads/receivers/{{user_id}}", "remove receiver", OFFICE),
        ("POST", f"{V}/leads", "draft", OFFICE),
        ("GET", f"{V}/leads", "list", {**OFFICE, **LEADER, **HANDLER}),
        ("GET", LEAD, "read", {**OFFICE, **LEADER, **HANDLER}),
        ("PATCH", LEAD, "update", OFFICE),
        ("DELETE", LEAD, "delete", OFFICE),
        ("POST", f"{LEAD}/transitions", "move", {**OFFICE, **HANDLER}),
        ("GET", f"{LEAD}/transitions", "list moves", {**OFFICE, **LEADER, **HANDLER}),
    ),
    *_rules(
        "referrals",
        "rectification",
        ("POST", f"{V}/rectifications", "assign", OFFICE),
        ("GET", f"{V}/rectifications", "list", {**OFFICE, **OWNER}),
        ("GET", ITEM, "read", {**OFFICE, **OWNER}),
        ("PATCH", ITEM, "update", OFFICE),
        ("POST", f"{ITEM}/progress", "report progress", {**OFFICE, **OWNER}),
        ("GET", f"{ITEM}/progress", "list progress", {**OFFICE, **OWNER}),
        ("POST", f"{ITEM}/transitions", "move", {**OFFICE, **OWNER}),
        ("GET", f"{ITEM}/transitions", "list moves", {**OFFICE, **OWNER}),
        ("POST", f"{V}/notices/escalations", "escalate overdue", READ),
        ("GET", f"{V}/notices", "list notices", dict.fromkeys(ROLES, Scope.self_)),
    ),
    *_rules(
        "referrals",
        "result",
        ("POST", f"{V}/suggestions", "propose", OFFICE),
        ("GET", f"{V}/suggestions", "list", {**READ, "superior": A}),
        ("GET", f"{V}/suggestions/{{suggestion_id}}", "read", {**READ, "superior": A}),
        ("PATCH", f"{V}/suggestions/{{suggestion_id}}", "update", OFFICE),
        ("DELETE", f"{V}/suggestions/{{suggestion_id}}", "delete", OFFICE),
        ("POST", f"{V}/rules", "record rule", OFFICE),
        ("GET", f"{V}/rules", "list rules", {**READ, "superior": A}),
        ("GET", f"{V}/rules/{{rule_id}}", "read rule", {**READ, "superior": A}),
        ("PATCH", f"{V}/rules/{{rule_id}}", "update rule", OFFICE),
        ("DELETE", f"{V}/rules/{{rule_id}}", "delete rule", OFFICE),
    ),
)
# fmt: on

_BY_KEY: Mapping[tuple[str, str, str], Rule] = MappingProxyType(
    {(r.service, r.method, r.path): r for r in POLICY}
)
assert len(_BY_KEY) == len(POLICY), "a route is in the policy table twice"
assert all(role in ROLES for r in POLICY for role in r.grants), "an unknown role is granted"


def scope_name(rule: Rule) -> str:
    """The OAuth2 scope an API key needs for the rule's route: `<resource>:read` for reads,
    `<resource>:write` for anything else. A key holds the scopes it was issued with; its token
    reaches a route only if the route's rule grants one of the key's roles *and* the key holds
    the route's scope."""
    return f"{rule.resource}:{'read' if rule.method in ('GET', 'HEAD') else 'write'}"


def scopes_for(roles: Iterable[str]) -> tuple[str, ...]:
    """Every scope meaningful to a key with these roles: a route the roles are granted needs it."""
    held = set(roles)
    return tuple(
        sorted(
            {
                scope_name(r)
                for r in POLICY
                if r.access is Access.token and not held.isdisjoint(r.grants)
            }
        )
    )


def rules_of(service: str) -> list[Rule]:
    return [r for r in POLICY if r.service == service]


def rule_for(service: str, method: str, path: str) -> Rule | None:
    return _BY_KEY.get((service, method, path))


def governed(path: str) -> bool:
    """The paths the table governs: the API and the services' internal routes."""
    return path.startswith(("/api/", "/internal/"))


def served_routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    """(method, path template) of every route `app` serves under governed paths."""
    for route in app.router.routes:
        contexts = (
            route.effective_route_contexts()
            if hasattr(route, "effective_route_contexts")
            else [route]
        )
        for ctx in contexts:
            path = str(getattr(ctx, "path_format", None) or getattr(ctx, "path", None) or "")
            methods = getattr(ctx, "methods", None) or ()
            if path and governed(path):
                for method in sorted(set(methods) - {"HEAD", "OPTIONS"}):
                    yield method, path


def uncovered(service: str, app: FastAPI) -> list[str]:
    """Routes `app` serves that the table does not name (the suite fails on any)."""
    return [f"{m} {p}" for m, p in served_routes(app) if rule_for(service, m, p) is None]


class ForbiddenByPolicy(Forbidden):
    """403 `/problems/forbidden-by-policy`: the policy table grants none of the caller's roles
    this action (or does not name the route at all)."""

    title_en = "Not allowed for your role"
    title_zh = "您的角色无权执行此操作"


class PolicyGuard:
    """The function-level check, a dependency of every route of an app: the route's rule must
    grant one of the caller's roles, and a caller limited to scopes (an API key's token) must
    hold the route's scope (`scope_name`). `caller_of(request)` gives the caller, anything with
    `roles` and `scopes` (None: not limited), raising 401 when there is no valid caller; public
    and signed routes are not checked here."""

    def __init__(self, service: str, caller_of: Any) -> None:
        self.service = service
        self.caller_of = caller_of

    async def __call__(self, request: Request) -> None:
        route = request.scope.get("route")
        path = str(getattr(route, "path_format", None) or getattr(route, "path", None) or "")
        if not governed(path):
            return
        rule = rule_for(self.service, request.method, path)
        if rule is None:
            raise ForbiddenByPolicy(f"{request.method} {path} is not in the policy table")
        if rule.access is not Access.token:
            return
        caller = await self.caller_of(request)
        roles: tuple[str, ...] = caller.roles
        scope = rule.scope_of(roles)
        if scope is None:
            raise ForbiddenByPolicy(
                f"{rule.resource}: {rule.action} is not granted to the roles "
                f"{', '.join(roles) or '(none)'}"
            )
        held: tuple[str, ...] | None = caller.scopes
        if held is not None and scope_name(rule) not in held:
            raise ForbiddenByPolicy(
                f"{rule.resource}: {rule.action} needs the scope {scope_name(rule)}, "
                "which this API key does not hold"
            )
        request.state.policy_scope = scope


def document_policy(app: FastAPI, service: str) -> None:
    """Each operation of the OpenAPI says who may call it (`x-policy`: resource, action, and
    the scope of every granted role), so that the merged document is the reviewable table."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        for path, item in schema.get("paths", {}).items():
            for method, operation in item.items():
                rule = rule_for(service, method.upper(), path)
                if rule is None or not isinstance(operation, dict):
                    continue
                operation["x-policy"] = {
                    "resource": rule.resource,
                    "action": rule.action,
                    "access": rule.access.value,
                    "grants": {role: scope.value for role, scope in rule.grants.items()},
                }
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


ROLE_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "admin": "系统管理员",
        "office": "市委巡察办",
        "group_leader": "巡察组组长",
        "group_member": "巡察组成员",
        "township_group": "乡镇党委巡察小组",
        "expert": "业务指导组专家",
        "receiver": "线索承办单位",
        "owner": "整改责任人",
        "superior": "上级巡察办",
        "platform": "纪检监察信息网络平台",
        "service": "系统内部服务",
    }
)


def document() -> str:
    """docs/POLICY.md: the table for people to review (`python -m ops policy-doc`)."""
    lines = [
        "# Who may do what (访问控制策略表)",
        "",
        "Generated from `services/common/policy.py` by `python -m ops policy-doc`; a test fails",
        "when this file is stale. Every route of the gateway and the services is a row; a cell",
        "names the scope a role has, empty means refused (403). Out-of-scope records are 404.",
        "",
        "## Roles",
        "",
        "| role | 中文 |",
        "|---|---|",
        *(f"| `{r}` | {ROLE_LABELS[r]} |" for r in ROLES),
        "",
        "## Scopes",
        "",
        "| scope | meaning |",
        "|---|---|",
        *(f"| `{s.value}` | {SCOPE_LABELS[s]} |" for s in Scope),
        "",
        "An API key (a machine client's OAuth2 client credentials) is issued with scopes as",
        "well as roles: its token reaches a route only if a role of the key is granted there",
        "*and* the key holds the route's scope, `<resource>:read` for GET and",
        "`<resource>:write` for any other method (the `resource` column).",
        "",
        "Routes marked *public* need no token (logging in and out, the enum labels, the event",
        "catalogue); *signed* routes are authenticated by the discipline platform's signature",
        "(Standard Webhooks), not a token.",
        "",
    ]
    for service in ("gateway", "rounds", "findings", "referrals"):
        lines += [
            f"## {service}",
            "",
            "| route | resource | action | " + " | ".join(ROLES) + " |",
            "|---|---|---|" + "---|" * len(ROLES),
        ]
        for rule in rules_of(service):
            if rule.access is Access.token:
                cells = [rule.grants[r].value if r in rule.grants else "" for r in ROLES]
            else:
                cells = [f"*{rule.access.value}*", *[""] * (len(ROLES) - 1)]
            lines.append(
                f"| `{rule.method} {rule.path}` | {rule.resource} | {rule.action} | "
                + " | ".join(cells)
                + " |"
            )
        lines.append("")
    return "\n".join(lines)
