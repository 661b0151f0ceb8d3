"""Through the gateway, the real processes: a finding (findings service) becomes a lead
(referrals service, which reads the finding back through the gateway as itself); the office
approves and transfers it; a receiver of the discipline commission takes it to a case and
concludes it with a sanction per subject. A group member sees none of it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from gateway.identity.enums import Role
from gateway.identity.schemas import UserCreate
from ops.stack import Database
from ops.users import create_user
from tests.e2e.conftest import PASSWORD, System, place_a_finding

pytestmark = pytest.mark.e2e


def ok(resp: httpx.Response, status: int = 201) -> dict:  # type: ignore[type-arg]
    assert resp.status_code == status, resp.text
    return resp.json()  # type: ignore[no-any-return]


def login(system: System, database: Database, role: Role) -> tuple[str, dict[str, str]]:
    """A fresh user with `role`: its id and its Authorization header."""
    name = f"{role.value}-{uuid.uuid4().hex[:8]}"
    user = UserCreate(username=name, display_name=name, password=PASSWORD, roles=[role])
    asyncio.run(create_user(database.urls["gateway"], database.data_dir, user))
    token = ok(
        httpx.post(
            f"{system.gateway}/api/v1/auth/token",
            data={"grant_type": "password", "username": name, "password": PASSWORD},
        ),
        200,
    )["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    me = ok(httpx.get(f"{system.gateway}/api/v1/auth/me", headers=headers), 200)
    return str(me["id"]), headers


def test_a_finding_becomes_a_lead_handled_to_a_case_with_sanctions(
    system: System, database: Database
) -> None:
    tag = uuid.uuid4().hex[:6]
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    office = httpx.Client(base_url=system.gateway, headers=system.auth, timeout=30)
    placed = place_a_finding(office, f"中伙铺镇第{tag}村")
    target = {"id": placed.target_id}
    finding = ok(
        office.post(
            "/api/v1/findings",
            json={
                "assignment_id": placed.assignment_id,
                "category_id": placed.category_id,
                "title": "村干部虚报冒领扶贫资金",
                "facts": "村支书以亲属名义虚报产业扶贫项目，套取资金。",
                "money_involved": "32000.00",
                "source": "letters",
                "discovered_on": today.isoformat(),
            },
        )
    )
    receiver_id, receiver = login(system, database, Role.receiver)
    _, member = login(system, database, Role.group_member)
    ok(
        office.put(
            f"/api/v1/leads/receivers/{receiver_id}",
            json={"recipient": "discipline_commission", "name": "市纪委监委第三纪检监察室"},
        )
    )

    # a lead from an unknown finding is refused, naming it
    bad = office.post(
        "/api/v1/leads",
        json={
            "title": "x", "summary": "x", "recipient": "discipline_commission",
            "finding_ids": [finding["id"], str(uuid.uuid4())],
        },
    )  # fmt: skip
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["finding_ids.1"]

    lead = ok(
        office.post(
            "/api/v1/leads",
            headers={"Idempotency-Key": f"lead-{tag}"},
            json={
                "title": "村支书虚报冒领扶贫资金问题线索",
                "summary": "涉嫌套取产业扶贫资金 3.2 万元。",
                "finding_ids": [finding["id"]],
                "recipient": "discipline_commission",
                "subjects": [
                    {
                        "name": "陈某某",
                        "position": "村党支部书记",
                        "rank": "village",
                        "party_member": True,
                    },
                    {"name": "周某某", "position": "村会计", "rank": "none", "party_member": False},
                ],
            },
        )
    )
    assert lead["findings"][0]["title"] == "村干部虚报冒领扶贫资金"
    assert lead["findings"][0]["target_id"] == target["id"]
    url = f"/api/v1/leads/{lead['id']}"

    def step(client: httpx.Client, to: str, **body: object) -> None:
        ok(client.post(f"{url}/transitions", json={"to": to, **body}))

    # before transfer the receiver does not see it
    assert httpx.get(f"{system.gateway}{url}", headers=receiver).status_code == 404
    step(office, "approved")
    step(office, "transferred", transfer_letter_no=f"赤巡移〔2018〕{tag}号")
    transferred = ok(office.get(url), 200)
    assert transferred["feedback_due"] is not None
    assert date.fromisoformat(transferred["feedback_due"]) > today
    assert transferred["overdue"] is False

    handler = httpx.Client(base_url=system.gateway, headers=receiver, timeout=30)
    seen = ok(handler.get(url), 200)
    assert [s["name"] for s in seen["subjects"]] == ["陈某某", "周某某"]
    step(handler, "received")
    step(handler, "handling", handling="preliminary_verification")
    step(handler, "case_filed", case_number=f"赤纪立〔2018〕{tag}号")
    chen, zhou = (s["id"] for s in seen["subjects"])
    step(
        handler,
        "concluded",
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

    # a group member sees neither the lead nor a name
    stranger = httpx.Client(base_url=system.gateway, headers=member, timeout=30)
    assert stranger.get(url).status_code == 404
    listed = ok(stranger.get("/api/v1/leads", params={"finding_id": finding["id"]}), 200)
    assert listed["items"] == []
