"""A small world for the authorization suite (test_policy.py): one user per role and two
families of records, built through the gateway as the office.

Family A is in the scope of every scoped user: the group leader leads A's group, the group
member and the township group's member work in it, the expert is consulted on A's finding,
the receiver handles A's lead (discipline commission, which the platform reports for too), the
owner is named on A's rectification item. Family B is in nobody's scope but the office's: its
own round, group, findings, a lead to the organisation department, an item of someone else.
Each family maps every path parameter of the API (`finding_id`, `lead_id`, …) to a record of
its own, so a route's path can be filled with either family.
"""

from __future__ import annotations

import asyncio
import io
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from gateway.identity.enums import Role
from gateway.identity.schemas import UserCreate
from ops.stack import Database
from ops.users import create_user
from tests.e2e.conftest import PASSWORD, System, eventually, place_a_finding

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)
# one person in both files, with a valid check digit (GB 11643)
ID_NUMBER = "11010519491231002X"


@dataclass
class User:
    role: str
    id: str
    headers: dict[str, str]


@dataclass
class World:
    users: dict[str, User]
    families: dict[str, dict[str, str]] = field(default_factory=dict)
    # the record a list answers with, by the policy's resource name, per family
    listed: dict[str, dict[str, str]] = field(default_factory=dict)


class Office(httpx.Client):
    """The office's client: every POST carries an Idempotency-Key and is sent again while the
    gateway answers 504 (the tests' upstream timeout is 3 s; a loaded machine crosses it) or
    the first try is still in progress, so the world is built once whatever the load."""

    def request(self, method: str, url: Any, **kwargs: Any) -> httpx.Response:
        if method.upper() == "POST":
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault("Idempotency-Key", uuid.uuid4().hex)
            kwargs["headers"] = headers
        deadline = time.monotonic() + 60
        while True:
            resp = super().request(method, url, **kwargs)
            busy = resp.status_code == 409 and "in-progress" in resp.text
            if (resp.status_code != 504 and not busy) or time.monotonic() > deadline:
                return resp
            time.sleep(0.5)


def ok(resp: httpx.Response, *status: int) -> dict[str, Any]:
    assert resp.status_code in (status or (200, 201)), f"{resp.request.url}: {resp.text}"
    body: dict[str, Any] = resp.json() if resp.content else {}
    return body


def login(system: System, database: Database, role: str) -> User:
    if role == "service":
        resp = httpx.post(
            f"{system.gateway}/api/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "rounds",
                "client_secret": database.client_secrets["rounds"],
            },
        )
        token = ok(resp)["access_token"]
        return User(role, "client:rounds", {"Authorization": f"Bearer {token}"})
    name = f"{role}-{uuid.uuid4().hex[:8]}"
    user = UserCreate(username=name, display_name=name, password=PASSWORD, roles=[Role[role]])
    asyncio.run(create_user(database.urls["gateway"], database.data_dir, user))
    token = ok(
        httpx.post(
            f"{system.gateway}/api/v1/auth/token",
            data={"grant_type": "password", "username": name, "password": PASSWORD},
        )
    )["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    me = ok(httpx.get(f"{system.gateway}/api/v1/auth/me", headers=headers))
    return User(role, str(me["id"]), headers)


def _join(office: httpx.Client, group_id: str, user_id: str | None, role: str) -> str:
    person = ok(
        office.post(
            "/api/v1/people",
            json={
                "name": f"{role}{uuid.uuid4().hex[:6]}",
                "unit": "市委巡察办",
                "user_id": user_id,
            },
        )
    )
    member = ok(
        office.post(
            f"/api/v1/groups/{group_id}/members", json={"person_id": person["id"], "role": role}
        )
    )
    return str(member["id"])


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    for line in (header, *rows):
        out.write(",".join(line) + "\r\n")
    return out.getvalue().encode("utf-8")


def _job(office: httpx.Client, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        job = ok(office.get(f"/api/v1/crosschecks/jobs/{job_id}"))
        if job["state"] in ("done", "failed") or time.monotonic() > deadline:
            assert job["state"] == "done", job
            return job
        time.sleep(0.2)


def build_family(
    office: httpx.Client, name: str, users: dict[str, User], *, scoped: bool
) -> tuple[dict[str, str], dict[str, str]]:
    """One family of records; `scoped`: the scoped users are put in its scope."""
    tag = uuid.uuid4().hex[:6]
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    placed = place_a_finding(office, f"{name}镇第{tag}村")
    p: dict[str, str] = {
        "target_id": placed.target_id,
        "round_id": placed.round_id,
        "group_id": placed.group_id,
        "assignment_id": placed.assignment_id,
        "category_id": placed.category_id,
    }
    rnd = ok(office.get(f"/api/v1/rounds/{placed.round_id}"))
    p["term_id"] = rnd["term_id"]
    plan = ok(office.post(f"/api/v1/rounds/{placed.round_id}/work-plans", json={"body": "方案"}))
    p["version"] = str(plan["version"])
    p["phase"] = "preparation"

    def uid(role: str) -> str | None:
        return users[role].id if scoped else None

    p["member_id"] = _join(office, placed.group_id, uid("group_leader"), "leader")
    _join(office, placed.group_id, uid("group_member"), "member")
    _join(office, placed.group_id, uid("township_group"), "member")
    expert_group = ok(
        office.post(
            "/api/v1/groups",
            json={
                "round_id": placed.round_id,
                "kind": "expert_guidance",
                "name": f"业务指导组{tag}",
                "owning_organisation": "中共赤壁市委",
            },
        )
    )
    expert_id = users["expert"].id if scoped else None
    if expert_id is None:
        # someone else's expert, a user id the world's expert is not
        expert_id = str(uuid.uuid4())
    _join(office, expert_group["id"], expert_id, "member")
    p["expert_id"] = expert_id
    person = ok(office.post("/api/v1/people", json={"name": f"干部{tag}", "unit": f"{name}镇政府"}))
    p["person_id"] = person["id"]
    p["posting_id"] = ok(
        office.post(
            f"/api/v1/people/{person['id']}/postings",
            json={"target_id": placed.target_id, "position": "副镇长", "from_date": "2012-01-01"},
        )
    )["id"]
    p["relation_id"] = ok(
        office.post(
            f"/api/v1/people/{person['id']}/relations",
            json={"target_id": placed.target_id, "relative_name": "赵某某", "relation": "sibling"},
        )
    )["id"]
    if scoped:
        # the template of the family's round: a leader of it reads it
        template = ok(office.get(f"/api/v1/checklists/{rnd['checklist_template_id']}"))
        p["template_id"] = template["id"]
        p["template_category_id"] = template["categories"][0]["id"]
    else:
        # a template no round of the world uses
        template = ok(office.post("/api/v1/checklists", json={"name": f"巡察内容{tag}"}))
        p["template_id"] = template["id"]
        p["template_category_id"] = ok(
            office.post(
                f"/api/v1/checklists/{template['id']}/categories",
                json={"code": f"S{tag[:3]}", "name": "形式主义官僚主义", "kind": "specific"},
            )
        )["id"]

    def finding(title: str, confirm: bool) -> str:
        made = ok(
            office.post(
                "/api/v1/findings",
                json={
                    "assignment_id": placed.assignment_id,
                    "category_id": placed.category_id,
                    "title": title,
                    "facts": f"{title}。",
                    "money_involved": "1000.00",
                    "source": "letters",
                    "discovered_on": today.isoformat(),
                    "persons": [{"name": "李某某", "id_number": ID_NUMBER, "position": "村会计"}],
                },
            )
        )
        if confirm:
            ok(office.post(f"/api/v1/findings/{made['id']}/transitions", json={"to": "confirmed"}))
        return str(made["id"])

    fid = finding(f"{name}村务公开流于形式", confirm=False)
    p["finding_id"] = fid
    ok(office.post(f"/api/v1/findings/{fid}/consultations", json={"expert_id": expert_id}))
    p["evidence_id"] = ok(
        office.post(f"/api/v1/findings/{fid}/evidence", files={"file": ("a.png", PNG)})
    )["id"]
    p["comment_id"] = ok(
        office.post(f"/api/v1/findings/{fid}/comments", json={"body": "请补充会议记录。"})
    )["id"]
    p["link_id"] = ok(
        office.post(
            f"/api/v1/findings/{fid}/responsibility-links",
            json={"body_id": placed.target_id, "duty": "primary"},
        )
    )["id"]
    led = finding(f"{name}村干部虚报冒领扶贫资金", confirm=True)
    fixed = finding(f"{name}低保评定优亲厚友", confirm=True)

    recipient = "discipline_commission" if scoped else "organisation_department"
    lead = ok(
        office.post(
            "/api/v1/leads",
            json={
                "title": f"{name}村支书虚报冒领问题线索",
                "summary": "涉嫌套取产业扶贫资金。",
                "finding_ids": [led],
                "recipient": recipient,
                "subjects": [
                    {"name": "陈某某", "position": "村党支部书记", "rank": "village",
                     "party_member": True},
                ],
            },
        )
    )  # fmt: skip
    for step in ({"to": "approved"}, {"to": "transferred", "transfer_letter_no": f"移〔{tag}〕号"}):
        ok(office.post(f"/api/v1/leads/{lead['id']}/transitions", json=step))
    p["lead_id"] = lead["id"]
    item = ok(
        office.post(
            "/api/v1/rectifications",
            json={
                "title": f"{name}整改低保评定",
                "duties": "查明原因，建立长效机制。",
                "finding_ids": [fixed],
                "owner_type": "responsible_unit",
                "owner_name": f"{name}镇党委",
                "owner_user_id": users["owner"].id if scoped else str(uuid.uuid4()),
                "deadline": (today + timedelta(days=60)).isoformat(),
            },
        )
    )
    p["item_id"] = item["id"]
    p["suggestion_id"] = ok(
        office.post(
            "/api/v1/suggestions",
            json={
                "round_id": placed.round_id,
                "addressed_to": f"{name}镇党委",
                "content": "建议健全村务监督。",
            },
        )
    )["id"]
    p["rule_id"] = ok(
        office.post(
            "/api/v1/rules",
            json={"round_id": placed.round_id, "unit": f"{name}镇", "title": "低保评审公示制度"},
        )
    )["id"]

    # cross-checks: a loan file and a roster with one person in both, in the family's round
    versions = []
    loans = (["借款人姓名", "身份证号码", "贷款金额"], [["李某某", ID_NUMBER, "50000"]])
    roster = (["姓名", "公民身份号码", "工作单位"], [["李某某", ID_NUMBER, "某局"]])
    for kind, (header, rows) in (("loan_recipients", loans), ("staff_roster", roster)):
        job = ok(
            office.post(
                "/api/v1/datasets",
                params={"dataset": f"{kind}{tag}", "kind": kind, "round_id": placed.round_id},
                files={"file": (f"{kind}.csv", _csv(header, rows), "text/csv")},
            ),
            202,
        )
        done = _job(office, job["id"])
        versions.append(done["result"]["dataset_version_id"])
    p["version_id"] = versions[0]
    run = ok(
        office.post(
            "/api/v1/crosschecks/runs",
            json={
                "round_id": placed.round_id,
                "title": "贷款人与财政供养人员比对",
                "dataset_version_ids": versions,
                "rules": [{"code": "recipient_in_roster"}],
            },
        ),
        202,
    )
    p["run_id"] = run["id"]
    p["job_id"] = run["job"]["id"]
    _job(office, p["job_id"])
    hits = ok(office.get(f"/api/v1/crosschecks/runs/{run['id']}/hits"))["items"]
    assert len(hits) == 1, hits
    p["hit_id"] = hits[0]["id"]
    p["code"] = "recipient_in_roster"

    export = ok(
        office.post("/api/v1/exports", json={"round_id": placed.round_id, "recipient": "office"}),
        202,
    )
    p["export_id"] = export["id"]
    listed = {
        "finding": fid,
        "lead": lead["id"],
        "rectification": item["id"],
        "round": placed.round_id,
        "group": placed.group_id,
        "assignment": placed.assignment_id,
        "target": placed.target_id,
        "dataset": versions[0],
        "run": run["id"],
    }
    return p, listed


def build_world(system: System, database: Database) -> World:
    roles = [r.value for r in Role]
    users = {role: login(system, database, role) for role in roles}
    office = Office(base_url=system.gateway, headers=users["office"].headers, timeout=60)
    ok(
        office.put(
            f"/api/v1/leads/receivers/{users['receiver'].id}",
            json={"recipient": "discipline_commission", "name": "市纪委监委第三纪检监察室"},
        )
    )
    sub = ok(
        office.post(
            "/api/v1/hub/subscriptions",
            json={
                "name": f"policy-{uuid.uuid4().hex[:8]}",
                "url": "http://127.0.0.1:9/hook",
                "event_types": ["lead.transferred"],
            },
        )
    )
    world = World(users=users)
    for name, scoped in (("A", True), ("B", False)):
        params, listed = build_family(office, name, users, scoped=scoped)
        params["subscription_id"] = sub["id"]
        params["user_id"] = users["receiver"].id
        params["client_id"] = "rounds"  # a service's API key
        world.families[name] = params
        world.listed[name] = listed

    def delivered() -> str:
        page = ok(office.get(f"/api/v1/hub/subscriptions/{sub['id']}/deliveries"))
        assert page["items"], "no delivery yet"
        return str(page["items"][0]["id"])

    delivery = eventually(delivered, timeout=30)
    for family in world.families.values():
        family["delivery_id"] = delivery
    office.close()
    return world
