"""A known history, built through the gateway as the office would, in a jurisdiction of its own
so that every figure of its term is exact: the dashboard, statistical table, export and results
page tests each build one and check what they show against `Expected`.

Term (goal: a township committee and three villages) with two rounds:
- round 1, special, in stationing: groups 第一巡察组 (municipal; leader + member) and
  官塘驿镇巡察小组 (township sub-group; one member), assigned to two villages;
  five findings: four confirmed (32000.00, 8000.00, 0.00, 1500.50 yuan), one left a draft;
  lead 1 (discipline commission, two subjects) through case and conclusion: 32000.00 recovered,
  陈某某 留党察看 + 撤职, 周某某 记过; lead 2 (organisation department, 吴某某) received and
  answered by a talk; lead 3 a draft; rectification items: one signed off, one overdue (its
  deadline moved into the past with SQL), one open; two suggestions; one rule;
- round 2, regular, in preparation: one group assigned to the township committee;
- the third village is not assigned at all.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from gateway.identity.enums import Role
from gateway.identity.schemas import UserCreate
from ops.stack import Database
from ops.users import create_user
from tests.e2e.conftest import PASSWORD, System, eventually, fresh_login


def ok(resp: httpx.Response, status: int = 201) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()


def post(gw: httpx.Client, path: str, body: dict[str, Any], status: int = 201) -> Any:
    """A POST with an Idempotency-Key, sent again (same key, same body) while the gateway says
    the service was slow or busy: on a loaded machine a 3 s upstream timeout can strike, and the
    retry must not make a second record."""
    key = uuid.uuid4().hex
    for attempt in range(6):
        resp = gw.post(path, json=body, headers={"Idempotency-Key": key})
        if resp.status_code not in (409, 502, 503, 504) or attempt == 5:
            break
        if resp.status_code == 409 and "idempot" not in resp.text.lower():
            break  # a real conflict, not "the first try is still running"
        time.sleep(1 + attempt)
    return ok(resp, status)


async def sql(database: Database, app: str, statement: str, *args: Any) -> Any:
    """One statement as the app's own database role (what the API would refuse)."""
    conn = await asyncpg.connect(database.urls[app].replace("+asyncpg", ""))
    try:
        return await conn.fetchval(statement, *args)
    finally:
        await conn.close()


@dataclass
class History:
    tag: str
    jurisdiction: str
    term_id: str
    term_name: str
    round1: str
    round2: str
    groups: dict[str, str] = field(default_factory=dict)  # name -> id
    findings: dict[str, str] = field(default_factory=dict)  # title -> id
    leads: list[str] = field(default_factory=list)
    subjects: dict[str, str] = field(default_factory=dict)  # name -> subject id
    items: dict[str, str] = field(default_factory=dict)  # signed_off | overdue | open -> id
    overdue_deadline: date | None = None
    today: date = field(default_factory=lambda: datetime.now(ZoneInfo("Asia/Shanghai")).date())


def build(gw: httpx.Client, database: Database) -> History:
    tag = uuid.uuid4().hex[:6]
    city = f"测试市{tag}"
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()

    def target(name: str, kind: str, parent: str | None = None) -> str:
        body = {"name": name, "kind": kind, "jurisdiction": city, "parent_id": parent}
        return str(post(gw, "/api/v1/targets", body)["id"])

    town = target("官塘驿镇党委", "township_committee")
    v1 = target("石头口村", "village", town)
    v2 = target("杨家湾村", "village", town)
    target("新桥村", "village", town)
    term = post(
        gw,
        "/api/v1/terms",
        {
            "name": f"中共测试市第八届委员会{tag}",
            "starts_on": "2016-10-01",
            "ends_on": "2021-09-30",
            "coverage_kinds": ["township_committee", "village"],
            "jurisdiction": city,
        },
    )

    def round_(number: int, name: str, kind: str) -> str:
        body = {"term_id": term["id"], "number": number, "name": name, "kind": kind}
        return str(post(gw, "/api/v1/rounds", body)["id"])

    r1 = round_(1, "扶贫领域专项巡察", "special")
    r2 = round_(2, "常规巡察", "regular")
    h = History(tag, city, str(term["id"]), term["name"], r1, r2, today=today)

    def group(rnd: str, kind: str, name: str) -> str:
        body = {"round_id": rnd, "kind": kind, "name": name, "owning_organisation": "中共测试市委"}
        h.groups[name] = gid = str(post(gw, "/api/v1/groups", body)["id"])
        return gid

    g1 = group(r1, "municipal", "第一巡察组")
    g2 = group(r1, "township_sub", "官塘驿镇巡察小组")
    g3 = group(r2, "municipal", "第二巡察组")
    for gid, role in ((g1, "leader"), (g1, "member"), (g2, "member")):
        body = {"name": f"干部{uuid.uuid4().hex[:4]}", "unit": "市委巡察办"}
        person = post(gw, "/api/v1/people", body)
        post(gw, f"/api/v1/groups/{gid}/members", {"person_id": person["id"], "role": role})

    def assign(rnd: str, gid: str, tid: str, mode: str) -> str:
        body = {"round_id": rnd, "group_id": gid, "target_id": tid, "mode": mode}
        return str(post(gw, "/api/v1/assignments", body)["id"])

    a1 = assign(r1, g1, v1, "pinpoint")
    a2 = assign(r1, g2, v2, "self")
    assign(r2, g3, town, "pinpoint")
    for to in ("mobilisation", "stationing"):
        post(gw, f"/api/v1/rounds/{r1}/transitions", {"to": to})
    cats = ok(gw.get(f"/api/v1/rounds/{r1}/categories"), 200)
    cats = cats["items"] if isinstance(cats, dict) else cats
    c0, c1 = cats[0]["id"], cats[1]["id"]

    def finding(assignment: str, category: str, title: str, money: str, *, confirm: bool = True,
                severity: str = "minor") -> str:  # fmt: skip
        made = post(
            gw,
            "/api/v1/findings",
            {
                "assignment_id": assignment,
                "category_id": category,
                "title": title,
                "facts": f"{title}。经查属实。",
                "money_involved": money,
                "source": "letters",
                "severity": severity,
                "discovered_on": today.isoformat(),
            },
        )
        if confirm:
            post(gw, f"/api/v1/findings/{made['id']}/transitions", {"to": "confirmed"}, 200)
        h.findings[title] = fid = str(made["id"])
        return fid

    f1 = finding(a1, c0, "村干部虚报冒领扶贫资金", "32000.00", severity="serious")
    f2 = finding(a1, c1, "低保评定优亲厚友", "8000.00", severity="major")
    f3 = finding(a2, c0, "村务公开流于形式", "0.00")
    f4 = finding(a2, c1, "扶贫项目验收走过场", "1500.50")
    finding(a2, c0, "尚待核实的问题", "100.00", confirm=False)

    def lead(fid: str, title: str, recipient: str, subjects: list[dict[str, Any]]) -> str:
        made = post(
            gw,
            "/api/v1/leads",
            {
                "title": title,
                "summary": f"{title}，详见来源问题。",
                "finding_ids": [fid],
                "recipient": recipient,
                "subjects": subjects,
            },
        )
        h.leads.append(lid := str(made["id"]))
        return lid

    def step(path: str, to: str, **body: Any) -> Any:
        return post(gw, f"{path}/transitions", {"to": to, **body})

    l1 = lead(f1, "村支书虚报冒领扶贫资金问题线索", "discipline_commission", [
        {"name": "陈某某", "position": "村党支部书记", "rank": "village", "party_member": True},
        {"name": "周某某", "position": "村会计", "rank": "none", "party_member": False},
    ])  # fmt: skip
    l2 = lead(f2, "村主任为亲属违规办理低保问题线索", "organisation_department", [
        {"name": "吴某某", "position": "村委会主任", "rank": "village", "party_member": True},
    ])  # fmt: skip
    lead(f1, "尚未审批的线索", "discipline_commission", [
        {"name": "郑某某", "position": "村文书", "rank": "none", "party_member": False},
    ])  # fmt: skip
    for n, lid in enumerate((l1, l2)):
        path = f"/api/v1/leads/{lid}"
        step(path, "approved")
        step(path, "transferred", transfer_letter_no=f"测巡移〔2018〕{tag}-{n}号")
        step(path, "received")
    p1 = f"/api/v1/leads/{l1}"
    step(p1, "handling", handling="preliminary_verification")
    step(p1, "case_filed", case_number=f"测纪立〔2018〕{tag}号")
    seen = ok(gw.get(p1), 200)
    h.subjects = {s["name"]: s["id"] for s in seen["subjects"]}
    step(
        p1, "concluded",
        money_recovered="32000.00",
        outcomes=[
            {"subject_id": h.subjects["陈某某"], "party_sanction": "probation",
             "government_sanction": "dismissal_from_post"},
            {"subject_id": h.subjects["周某某"], "government_sanction": "demerit"},
        ],
    )  # fmt: skip
    step(f"/api/v1/leads/{l2}", "handling", handling="talk_inquiry")
    h.subjects["吴某某"] = ok(gw.get(f"/api/v1/leads/{l2}"), 200)["subjects"][0]["id"]

    def item(fid: str, title: str) -> str:
        made = post(
            gw,
            "/api/v1/rectifications",
            {
                "title": title,
                "duties": "查明原因，限期整改，建立长效机制。",
                "finding_ids": [fid],
                "owner_type": "responsible_unit",
                "owner_name": "官塘驿镇党委",
                "deadline": (today + timedelta(days=60)).isoformat(),
            },
        )
        return str(made["id"])

    h.items["signed_off"] = item(f3, "村务公开整改")
    h.items["overdue"] = item(f4, "项目验收整改")
    h.items["open"] = item(f1, "扶贫资金管理整改")
    signed = f"/api/v1/rectifications/{h.items['signed_off']}"
    step(signed, "completion_requested")
    step(signed, "signed_off", note="整改到位，予以销号")
    h.overdue_deadline = today - timedelta(days=10)
    asyncio.run(
        sql(
            database, "referrals",
            "UPDATE referrals.rectification_items SET deadline = $1 WHERE id = $2",
            h.overdue_deadline, uuid.UUID(h.items["overdue"]),
        )
    )  # fmt: skip

    for content, adoption in (("健全村级财务公开制度", "adopted"), ("加强低保动态管理", "pending")):
        post(
            gw, "/api/v1/suggestions",
            {"round_id": r1, "addressed_to": "市民政局", "content": content,
             "adoption": adoption, "finding_ids": [f2]},
        )  # fmt: skip
    post(
        gw, "/api/v1/rules",
        {"round_id": r1, "unit": "官塘驿镇", "title": "村级财务管理办法",
         "document_no": f"官政发〔2018〕{tag}号", "issued_on": today.isoformat(),
         "finding_ids": [f3]},
    )  # fmt: skip

    # the findings move to handed_over when the referrals service's events arrive
    def handed_over() -> None:
        for fid in (f1, f2, f3, f4):
            assert ok(gw.get(f"/api/v1/findings/{fid}"), 200)["status"] == "handed_over"

    eventually(handed_over, timeout=60)
    return h


def login(system: System, database: Database, role: Role) -> dict[str, str]:
    """A fresh user with `role`: its Authorization header."""
    return {"Authorization": f"Bearer {fresh_login(system, database, role)}"}


def user(database: Database, role: Role) -> tuple[str, str]:
    """A fresh user with `role`: its name and password."""
    name = f"{role.value}-{uuid.uuid4().hex[:8]}"
    data = UserCreate(username=name, display_name=name, password=PASSWORD, roles=[role])
    asyncio.run(create_user(database.urls["gateway"], database.data_dir, data))
    return name, PASSWORD
