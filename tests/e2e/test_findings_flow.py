"""Field capture through the gateway, on a round planned in rounds: a leader and a member log
in, record findings with evidence on their group's assignments, the leader confirms, the
responsibility is traced from a village to its township, and the township's portrait shows it."""

from __future__ import annotations

import asyncio
import hashlib
import uuid

import httpx
import pytest

from gateway.identity.enums import Role
from gateway.identity.schemas import UserCreate
from ops.stack import Database
from ops.users import create_user
from tests.e2e.conftest import PASSWORD, System

pytestmark = pytest.mark.e2e

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 2048


def ok(resp: httpx.Response, status: int = 201) -> dict:  # type: ignore[type-arg]
    assert resp.status_code == status, resp.text
    return resp.json()  # type: ignore[no-any-return]


def login(system: System, database: Database, username: str, role: Role) -> httpx.Client:
    asyncio.run(
        create_user(
            database.urls["gateway"],
            database.data_dir,
            UserCreate(username=username, display_name=username, password=PASSWORD, roles=[role]),
        )
    )
    token = ok(
        httpx.post(
            f"{system.gateway}/api/v1/auth/token",
            data={"grant_type": "password", "username": username, "password": PASSWORD},
        ),
        200,
    )["access_token"]
    return httpx.Client(
        base_url=system.gateway, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def test_capture_confirm_trace_and_portrait(system: System, database: Database) -> None:
    tag = uuid.uuid4().hex[:6]
    office = httpx.Client(base_url=system.gateway, headers=system.auth, timeout=30)
    leader = login(system, database, f"leader{tag}", Role.group_leader)
    member = login(system, database, f"member{tag}", Role.group_member)
    outsider = login(system, database, f"other{tag}", Role.group_member)
    ids = {c: ok(c.get("/api/v1/auth/me"), 200)["id"] for c in (leader, member)}

    # rounds: a township and its village, a round with its own category, a group, an assignment
    city = f"赤壁市{tag}"
    township = ok(
        office.post(
            "/api/v1/targets",
            json={"name": "车埠镇党委", "kind": "township_committee", "jurisdiction": city},
        )
    )
    village = ok(
        office.post(
            "/api/v1/targets",
            json={
                "name": "车埠镇某村",
                "kind": "village",
                "jurisdiction": city,
                "parent_id": township["id"],
            },
        )
    )
    term = ok(
        office.post(
            "/api/v1/terms",
            json={
                "name": f"第八届{tag}",
                "starts_on": "2016-10-01",
                "ends_on": "2021-09-30",
                "coverage_kinds": ["village"],
                "jurisdiction": city,
            },
        )
    )
    rnd = ok(
        office.post(
            "/api/v1/rounds",
            json={
                "term_id": term["id"],
                "number": 2,
                "name": "2018年第二轮 扶贫领域专项巡察",
                "kind": "special",
            },
        )
    )
    category = ok(
        office.post(
            f"/api/v1/rounds/{rnd['id']}/categories",
            json={"code": f"P{tag[:4]}", "name": "专项扶贫资金管理不规范", "kind": "specific"},
        )
    )
    group = ok(
        office.post(
            "/api/v1/groups",
            json={
                "round_id": rnd["id"],
                "kind": "municipal",
                "name": "赤壁市委第一巡察组",
                "owning_organisation": "中共赤壁市委",
            },
        )
    )
    for who, role in ((leader, "leader"), (member, "member")):
        person = ok(
            office.post(
                "/api/v1/people",
                json={"name": f"{role}{tag}", "unit": "市委巡察办", "user_id": ids[who]},
            )
        )
        ok(
            office.post(
                f"/api/v1/groups/{group['id']}/members",
                json={"person_id": person["id"], "role": role},
            )
        )
    assignment = ok(
        office.post(
            "/api/v1/assignments",
            json={
                "round_id": rnd["id"],
                "group_id": group["id"],
                "target_id": village["id"],
                "mode": "backtrace",
            },
        )
    )
    assignment_id = assignment.get("assignment", assignment)["id"]

    # the member records a finding in the field (retried: still one), with evidence
    body = {
        "assignment_id": assignment_id,
        "category_id": category["id"],
        "title": "扶贫专项资金被挪用",
        "facts": "2017年扶贫专项资金12万元被挪用于村部装修。",
        "money_involved": "120000.00",
        "source": "documents",
        "severity": "serious",
        "discovered_on": "2018-08-01",
        "persons": [{"name": "张某", "position": "村支书", "id_number": "11010519491231002X"}],
    }
    key = {"Idempotency-Key": f"field-{tag}"}
    finding = ok(member.post("/api/v1/findings", json=body, headers=key))
    again = member.post("/api/v1/findings", json=body, headers=key)
    assert again.status_code == 201
    assert again.json()["id"] == finding["id"]
    assert finding["target_name"] == "车埠镇某村"
    assert finding["persons"][0]["id_number"] == "1101**********002X"
    bad = member.post("/api/v1/findings", json={**body, "category_id": str(uuid.uuid4())})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "category_id"

    url = f"/api/v1/findings/{finding['id']}"
    evidence = ok(member.post(f"{url}/evidence", files={"file": ("账本.png", PNG, "image/png")}))
    assert evidence["sha256"] == hashlib.sha256(PNG).hexdigest()
    download = leader.get(f"{url}/evidence/{evidence['id']}")
    assert download.status_code == 200
    assert download.content == PNG

    # the leader sees the ID number and confirms; the member could not; outsiders see nothing
    assert ok(leader.get(url), 200)["persons"][0]["id_number"] == "11010519491231002X"
    assert member.post(f"{url}/transitions", json={"to": "confirmed"}).status_code == 403
    assert outsider.get(url).status_code == 404
    assert ok(outsider.get("/api/v1/findings"), 200)["items"] == []
    confirmed = ok(leader.post(f"{url}/transitions", json={"to": "confirmed"}), 200)
    assert confirmed["status"] == "confirmed"

    # 倒查: from the village's problem back to the township committee's duty
    link = ok(
        member.post(
            f"{url}/responsibility-links",
            json={"body_id": township["id"], "duty": "primary", "note": "镇党委履行主体责任不力"},
        )
    )
    assert link["body_name"] == "车埠镇党委"
    traced = ok(
        office.get("/api/v1/responsibility-links", params={"target_id": township["id"]}), 200
    )
    assert [t["finding_id"] for t in traced["items"]] == [finding["id"]]

    portrait = ok(office.get(f"/api/v1/portraits/{township['id']}"), 200)
    assert portrait["target_name"] == "车埠镇党委"
    [duty] = portrait["responsibility"]
    assert (duty["duty"], duty["findings"]) == ("primary", [finding["id"]])
    village_portrait = ok(leader.get(f"/api/v1/portraits/{village['id']}"), 200)
    assert village_portrait["money_involved"] == "120000.00"
    assert village_portrait["by_severity"]["serious"] == 1
