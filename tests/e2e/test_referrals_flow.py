"""Through the gateway, the real processes: three confirmed findings (findings service) become
two leads and three rectification items (referrals service, which reads the findings back and
hands them over through the gateway as itself). A receiver of the discipline commission takes
one lead to a case with two subjects sanctioned; an owner reports progress and gets sign-off;
the statistics of the round, of its term and of its jurisdiction say exactly that. The group's
leader follows the leads without a name; a group member may not read leads at all."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from gateway.identity.enums import Role
from ops.stack import Database
from tests.e2e.conftest import System, eventually, fresh_login, place_a_finding

pytestmark = pytest.mark.e2e


def ok(resp: httpx.Response, status: int = 201) -> dict:  # type: ignore[type-arg]
    assert resp.status_code == status, resp.text
    return resp.json()  # type: ignore[no-any-return]


def login(system: System, database: Database, role: Role) -> tuple[str, dict[str, str]]:
    """A fresh user with `role`: its id and its Authorization header."""
    headers = {"Authorization": f"Bearer {fresh_login(system, database, role)}"}
    me = ok(httpx.get(f"{system.gateway}/api/v1/auth/me", headers=headers), 200)
    return str(me["id"]), headers


def join(office: httpx.Client, group_id: str, user_id: str, role: str) -> None:
    """Puts a user in an inspection group (rounds), as `role`."""
    person = ok(
        office.post(
            "/api/v1/people",
            json={"name": f"{role}{user_id[:6]}", "unit": "市委巡察办", "user_id": user_id},
        )
    )
    ok(
        office.post(
            f"/api/v1/groups/{group_id}/members", json={"person_id": person["id"], "role": role}
        )
    )


def test_findings_become_leads_and_items_handled_to_sanctions_and_sign_off(
    system: System, database: Database
) -> None:
    tag = uuid.uuid4().hex[:6]
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    office = httpx.Client(base_url=system.gateway, headers=system.auth, timeout=30)
    placed = place_a_finding(office, f"中伙铺镇第{tag}村")
    receiver_id, receiver = login(system, database, Role.receiver)
    owner_id, owner = login(system, database, Role.owner)
    leader_id, leader_auth = login(system, database, Role.group_leader)
    member_id, member_auth = login(system, database, Role.group_member)
    join(office, placed.group_id, leader_id, "leader")
    join(office, placed.group_id, member_id, "member")
    ok(
        office.put(
            f"/api/v1/leads/receivers/{receiver_id}",
            json={"recipient": "discipline_commission", "name": "市纪委监委第三纪检监察室"},
        )
    )

    def finding(title: str, money: str) -> str:
        made = ok(
            office.post(
                "/api/v1/findings",
                json={
                    "assignment_id": placed.assignment_id,
                    "category_id": placed.category_id,
                    "title": title,
                    "facts": f"{title}。",
                    "money_involved": money,
                    "source": "letters",
                    "discovered_on": today.isoformat(),
                },
            )
        )
        ok(office.post(f"/api/v1/findings/{made['id']}/transitions", json={"to": "confirmed"}), 200)
        return str(made["id"])

    fraud = finding("村干部虚报冒领扶贫资金", "32000.00")
    favour = finding("低保评定优亲厚友", "8000.00")
    disclosure = finding("村务公开流于形式", "0.00")

    # a lead from an unknown finding is refused, naming it
    bad = office.post(
        "/api/v1/leads",
        json={
            "title": "x", "summary": "x", "recipient": "discipline_commission",
            "finding_ids": [fraud, str(uuid.uuid4())],
        },
    )  # fmt: skip
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["finding_ids.1"]

    # two leads
    lead = ok(
        office.post(
            "/api/v1/leads",
            headers={"Idempotency-Key": f"lead-{tag}"},
            json={
                "title": "村支书虚报冒领扶贫资金问题线索",
                "summary": "涉嫌套取产业扶贫资金 3.2 万元。",
                "finding_ids": [fraud],
                "recipient": "discipline_commission",
                "subjects": [
                    {"name": "陈某某", "position": "村党支部书记", "rank": "village",
                     "party_member": True},
                    {"name": "周某某", "position": "村会计", "rank": "none", "party_member": False},
                ],
            },
        )
    )  # fmt: skip
    assert lead["findings"][0]["title"] == "村干部虚报冒领扶贫资金"
    assert lead["findings"][0]["target_id"] == placed.target_id
    assert lead["round_id"] == placed.round_id
    second = ok(
        office.post(
            "/api/v1/leads",
            json={
                "title": "低保评定优亲厚友问题线索",
                "summary": "村主任为亲属违规办理低保。",
                "finding_ids": [favour],
                "recipient": "discipline_commission",
                "subjects": [{"name": "吴某某", "position": "村委会主任", "rank": "village",
                              "party_member": True}],
            },
        )
    )  # fmt: skip

    # the findings show they were handed over, and by what
    def handed_over(fid: str, made: dict[str, Any]) -> None:
        assert ok(office.get(f"/api/v1/findings/{fid}"), 200)["status"] == "handed_over"
        last = ok(office.get(f"/api/v1/findings/{fid}/transitions"), 200)[-1]
        assert last["to_status"] == "handed_over"
        assert made["id"] in last["reason"]

    for fid, made in ((fraud, lead), (favour, second)):
        eventually(lambda fid=fid, made=made: handed_over(fid, made))

    url = f"/api/v1/leads/{lead['id']}"

    def step(client: httpx.Client, path: str, to: str, **body: object) -> None:
        ok(client.post(f"{path}/transitions", json={"to": to, **body}))

    # before transfer the receiver does not see it
    assert httpx.get(f"{system.gateway}{url}", headers=receiver).status_code == 404
    for n, made in enumerate((lead, second)):
        path = f"/api/v1/leads/{made['id']}"
        step(office, path, "approved")
        step(office, path, "transferred", transfer_letter_no=f"赤巡移〔2018〕{tag}-{n}号")
    transferred = ok(office.get(url), 200)
    assert date.fromisoformat(transferred["feedback_due"]) > today
    assert transferred["overdue"] is False

    handler = httpx.Client(base_url=system.gateway, headers=receiver, timeout=30)
    seen = ok(handler.get(url), 200)
    assert [s["name"] for s in seen["subjects"]] == ["陈某某", "周某某"]
    step(handler, url, "received")
    step(handler, url, "handling", handling="preliminary_verification")
    step(handler, url, "case_filed", case_number=f"赤纪立〔2018〕{tag}号")
    chen, zhou = (s["id"] for s in seen["subjects"])
    step(
        handler, url, "concluded",
        money_recovered="32000.00",
        outcomes=[
            {"subject_id": chen, "party_sanction": "probation",
             "government_sanction": "dismissal_from_post"},
            {"subject_id": zhou, "government_sanction": "demerit"},
        ],
    )  # fmt: skip
    done = ok(handler.get(url), 200)
    assert done["status"] == "concluded"
    assert done["money_recovered"] == "32000.00"
    assert [(s["party_sanction"], s["government_sanction"]) for s in done["subjects"]] == [
        ("probation", "dismissal_from_post"),
        (None, "demerit"),
    ]
    history = ok(office.get(f"{url}/transitions"), 200)["items"]
    assert [h["to_state"] for h in history] == [
        "approved", "transferred", "received", "handling", "case_filed", "concluded"
    ]  # fmt: skip
    assert history[2]["by"] == receiver_id
    # the second lead: received and answered by a talk (谈话函询)
    step(handler, f"/api/v1/leads/{second['id']}", "received")
    step(handler, f"/api/v1/leads/{second['id']}", "handling", handling="talk_inquiry")

    # three rectification items; the owner of one reports progress and gets sign-off
    deadline = (today + timedelta(days=60)).isoformat()
    items = [
        ok(
            office.post(
                "/api/v1/rectifications",
                json={
                    "title": f"整改{n}",
                    "duties": "查明原因，追回资金，建立长效机制。",
                    "finding_ids": [fid],
                    "owner_type": "responsible_unit",
                    "owner_name": "中伙铺镇党委",
                    "owner_user_id": owner_id,
                    "deadline": deadline,
                },
            )
        )
        for n, fid in enumerate((fraud, favour, disclosure))
    ]
    eventually(lambda: handed_over(disclosure, items[2]))
    responsible = httpx.Client(base_url=system.gateway, headers=owner, timeout=30)
    item_url = f"/api/v1/rectifications/{items[0]['id']}"
    ok(responsible.post(f"{item_url}/progress", json={"note": "已追回资金 3.2 万元。"}))
    step(responsible, item_url, "completion_requested")
    step(office, item_url, "signed_off", note="整改到位，予以销号")
    assert ok(responsible.get(item_url), 200)["status"] == "signed_off"

    # statistics: the round, its term, its jurisdiction say exactly what happened
    rnd = ok(office.get(f"/api/v1/rounds/{placed.round_id}"), 200)
    term = ok(office.get(f"/api/v1/terms/{rnd['term_id']}"), 200)
    for params in (
        {"round_id": placed.round_id},
        {"term_id": term["id"]},
        {"jurisdiction": term["jurisdiction"]},
    ):
        got = ok(office.get("/api/v1/leads/stats", params=params), 200)
        assert got["round_ids"] == [placed.round_id], params
        assert got["summary"] == (
            "移交问题线索2件，立案1件，给予党政纪处分2人；"
            "反馈整改事项3个，提出意见建议0条，建立健全制度0项"
        )
        figures = got["leads"]
        assert (figures["received"], figures["handled"], figures["concluded"]) == (2, 2, 1)
        assert {h["code"]: h["count"] for h in figures["handlings"]} == {
            "talk_inquiry": 1, "preliminary_verification": 1, "shelved": 0, "closed": 0
        }  # fmt: skip
        assert figures["money_recovered"] == "32000.00"
        persons = got["persons"]
        assert (persons["subjects"], persons["party_sanctioned"]) == (3, 1)
        assert persons["government_sanctioned"] == 2
        rect = got["rectification"]
        assert (rect["fed_back"], rect["signed_off"], rect["open"]) == (3, 1, 2)
        assert got["consistent"] is True

    # the group's leader follows the leads without a name; a member sees none of them
    leader = httpx.Client(base_url=system.gateway, headers=leader_auth, timeout=30)
    followed = ok(leader.get(url), 200)
    assert followed["subject_names_hidden"] is True
    assert followed["subjects"] is None
    assert followed["status"] == "concluded"
    member = httpx.Client(base_url=system.gateway, headers=member_auth, timeout=30)
    # the policy table grants a group member no lead and no item route at all (403, whatever
    # the record: nothing tells whether one exists)
    for path in (
        *(f"/api/v1/leads/{made['id']}" for made in (lead, second)),
        f"/api/v1/leads?finding_id={fraud}",
        item_url,
    ):
        refused = member.get(path)
        assert refused.status_code == 403, path
        assert refused.json()["type"] == "/problems/forbidden-by-policy"
        assert "陈某某" not in refused.text
    everything = str(ok(leader.get("/api/v1/leads", params={"finding_id": fraud}), 200))
    for name in ("陈某某", "周某某", "吴某某"):
        assert name not in everything
