"""Responsibility links (倒查) and the unit portrait (素描像)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from tests.findings.conftest import World


async def test_trace_to_a_township_across_rounds_and_its_portrait(world: World) -> None:
    member, leader = world.as_(world.member_a), world.as_(world.leader_a)
    first = await world.create(money_involved="1000.10", severity="serious")
    second = await world.create(money_involved="0.25", category_id=world.categories[1])
    later_round, later_cats = world.rounds.round("3.1")
    asg = world.rounds.assign(later_round, world.group_a, world.t1)
    third = await world.create(assignment_id=asg, category_id=later_cats[0], money_involved="3")
    url = f"/api/v1/findings/{first['id']}/responsibility-links"

    bad = await world.http.post(
        url, json={"body_id": str(uuid.uuid4()), "duty": "primary"}, headers=member
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "body_id"
    for f, duty in ((first, "primary"), (first, "collective_assets"), (third, "primary")):
        resp = await world.http.post(
            f"/api/v1/findings/{f['id']}/responsibility-links",
            json={"body_id": world.township, "duty": duty, "note": "镇党委未履行主体责任"},
            headers=member,
        )
        assert resp.status_code == 201, resp.text
        assert resp.json()["body_name"] == "车埠镇党委"
    dup = await world.http.post(
        url, json={"body_id": world.township, "duty": "primary"}, headers=member
    )
    assert dup.status_code == 409

    traced = (
        await world.http.get(
            "/api/v1/responsibility-links", params={"target_id": world.township}, headers=leader
        )
    ).json()
    assert [(t["finding_id"], t["duty"]) for t in traced["items"]] == [
        (first["id"], "primary"),
        (first["id"], "collective_assets"),
        (third["id"], "primary"),
    ]
    assert {t["round_id"] for t in traced["items"]} == {world.round_id, later_round}
    hidden = (
        await world.http.get(
            "/api/v1/responsibility-links",
            params={"target_id": world.township},
            headers=world.as_(world.member_b),
        )
    ).json()
    assert hidden["items"] == []

    await world.http.post(
        f"/api/v1/findings/{second['id']}/transitions", json={"to": "confirmed"}, headers=leader
    )
    for to in ("confirmed", "closed"):
        await world.http.post(
            f"/api/v1/findings/{first['id']}/transitions", json={"to": to}, headers=world.office
        )
    village = (await world.http.get(f"/api/v1/portraits/{world.t1}", headers=leader)).json()
    assert village["target_name"] == "车埠镇一村"
    assert (village["findings"], village["open"], village["closed"]) == (3, 2, 1)
    assert village["rounds"] == 2
    assert Decimal(village["money_involved"]) == Decimal("1003.35")
    assert village["money_involved"] == "1003.35"
    assert village["by_severity"] == {"minor": 2, "major": 0, "serious": 1}
    assert [(c["category_code"], c["severity"], c["count"]) for c in village["by_category"]] == [
        ("3.1", "minor", 1),
        ("3.1", "serious", 1),
        ("3.2", "minor", 1),
    ]

    town = (
        await world.http.get(f"/api/v1/portraits/{world.township}", headers=world.office)
    ).json()
    assert town["target_name"] == "车埠镇党委"
    assert town["findings"] == 0
    duties = {d["duty"]: d for d in town["responsibility"]}
    assert duties["primary"]["count"] == 2
    assert sorted(duties["primary"]["findings"]) == sorted([first["id"], third["id"]])
    assert duties["collective_assets"]["findings"] == [first["id"]]
    assert (
        await world.http.get(f"/api/v1/portraits/{uuid.uuid4()}", headers=world.office)
    ).status_code == 404
