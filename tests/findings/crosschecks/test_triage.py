"""Triage of hits: confirming makes a finding (source 大数据比对) with the rows as evidence;
a dismissed match stays dismissed in later runs unless its data changed. Who may do what."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from tests.findings.conftest import World
from tests.findings.crosschecks.conftest import csv_bytes, hits, imported, person_id, run, upload

pytestmark = pytest.mark.usefixtures("fast_jobs")
LOANS = ["姓名", "身份证号", "贷款金额", "发放日期"]
ROSTER = ["姓名", "身份证号", "单位"]


async def _roster_and_loans(world: World, loans_rows: list[list[str]]) -> tuple[str, str]:
    roster = await imported(
        world,
        csv_bytes(
            ROSTER,
            [
                ["张三", person_id(101), "赤壁市人社局"],
                ["李四", person_id(102), "赤壁市财政局"],
            ],
        ),
        kind="staff_roster",
        round_id=world.round_id,
    )
    loans = await imported(
        world,
        csv_bytes(LOANS, loans_rows),
        kind="loan_recipients",
        dataset="创业担保贷款",
        round_id=world.round_id,
    )
    return roster, loans


async def test_confirming_a_hit_creates_a_finding_with_the_rows_as_evidence(world: World) -> None:
    roster, loans = await _roster_and_loans(
        world,
        [
            ["张三", person_id(101), "50000", "2018-05-01"],
            ["张三", person_id(101), "30000", "2018-07-01"],
            ["王五", person_id(103), "50000", "2018-05-01"],
        ],
    )
    r = await run(world, [roster, loans], [{"code": "recipient_in_roster"}])
    [hit] = await hits(world, r["id"])
    leader = world.as_(world.leader_a)
    resp = await world.http.post(
        f"/api/v1/crosschecks/hits/{hit['id']}/confirm",
        json={
            "assignment_id": world.asg_a,
            "category_id": world.categories[0],
        },
        headers=leader,
    )
    assert resp.status_code == 200, resp.text
    finding = resp.json()
    assert finding["source"] == "data_check"
    assert finding["money_involved"] == "80000.00"
    assert finding["status"] == "draft"
    assert [p["id_number"] for p in finding["persons"]] == [person_id(101)]
    assert "张三" in finding["title"]
    assert "财政供养人员" in finding["title"]
    assert "创业担保贷款" in finding["facts"]
    got = (await world.http.get(f"/api/v1/crosschecks/hits/{hit['id']}", headers=leader)).json()
    assert (got["status"], got["finding_id"]) == ("confirmed", finding["id"])
    [evidence] = (
        await world.http.get(f"/api/v1/findings/{finding['id']}/evidence", headers=leader)
    ).json()
    assert evidence["content_type"].endswith("spreadsheetml.sheet")
    data = await world.http.get(
        f"/api/v1/findings/{finding['id']}/evidence/{evidence['id']}", headers=leader
    )
    assert data.status_code == 200
    sheet = load_workbook(io.BytesIO(data.content)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[2][:4] == ["角色", "数据集", "版本", "行号"]
    assert sorted((v[0], v[3]) for v in values[3:]) == [
        ("recipients", 2),
        ("recipients", 3),
        ("roster", 2),
    ]
    again = await world.http.post(
        f"/api/v1/crosschecks/hits/{hit['id']}/confirm",
        json={"assignment_id": world.asg_a, "category_id": world.categories[0]},
        headers=leader,
    )
    assert again.status_code == 409


async def test_a_hit_is_confirmed_only_on_an_assignment_one_may_record_on(world: World) -> None:
    roster, loans = await _roster_and_loans(world, [["李四", person_id(102), "1000", "2018-05-01"]])
    [hit] = await hits(
        world, (await run(world, [roster, loans], [{"code": "recipient_in_roster"}]))["id"]
    )
    resp = await world.http.post(
        f"/api/v1/crosschecks/hits/{hit['id']}/confirm",
        json={
            "assignment_id": world.asg_b,
            "category_id": world.categories[0],
        },
        headers=world.as_(world.leader_a),
    )  # group B's assignment
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "assignment_id"
    assert (
        await world.http.get(f"/api/v1/crosschecks/hits/{hit['id']}", headers=world.office)
    ).json()["status"] == "open"


async def test_a_dismissed_match_does_not_come_back_unless_its_data_changed(world: World) -> None:
    roster, loans = await _roster_and_loans(
        world,
        [
            ["张三", person_id(101), "50000", "2018-05-01"],
            ["李四", person_id(102), "50000", "2018-05-01"],
        ],
    )
    first = await hits(
        world, (await run(world, [roster, loans], [{"code": "recipient_in_roster"}]))["id"]
    )
    assert len(first) == 2
    zhang = next(h for h in first if "张三" in h["subject"])
    resp = await world.http.post(
        f"/api/v1/crosschecks/hits/{zhang['id']}/dismiss",
        json={"reason": "同名同号系借调人员，已核实无误"},
        headers=world.office,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "dismissed"
    second = await hits(
        world, (await run(world, [roster, loans], [{"code": "recipient_in_roster"}]))["id"]
    )
    assert [h["subject"] for h in second] == [
        next(h for h in first if "李四" in h["subject"])["subject"]
    ]
    # a new version of the loans where 张三's loan changed: the match comes back
    changed = await imported(
        world,
        csv_bytes(
            LOANS,
            [
                ["张三", person_id(101), "80000", "2018-05-01"],
                ["李四", person_id(102), "50000", "2018-05-01"],
            ],
        ),
        kind="loan_recipients",
        dataset="创业担保贷款",
        round_id=world.round_id,
    )
    third = await hits(
        world, (await run(world, [roster, changed], [{"code": "recipient_in_roster"}]))["id"]
    )
    assert len(third) == 2
    # the same data uploaded again as a new version: still dismissed
    same = await imported(
        world,
        csv_bytes(
            LOANS,
            [
                ["张三", person_id(101), "50000", "2018-05-01"],
                ["李四", person_id(102), "50000", "2018-05-01"],
            ],
        ),
        kind="loan_recipients",
        dataset="创业担保贷款",
        round_id=world.round_id,
    )
    fourth = await hits(
        world, (await run(world, [roster, same], [{"code": "recipient_in_roster"}]))["id"]
    )
    assert len(fourth) == 1


async def test_the_same_match_open_in_two_runs_can_be_dismissed_in_both(world: World) -> None:
    """Two runs made before anyone triaged: each has the match open; dismissing the second is a
    decision like the first (it was a 500, the dismissal register's key taken), and the match
    stays dismissed in the next run."""
    # a loan of its own: the world's database is shared with the other tests
    roster, loans = await _roster_and_loans(
        world, [["张三", person_id(101), "61000", "2019-03-01"]]
    )
    runs = [
        (await run(world, [roster, loans], [{"code": "recipient_in_roster"}]))["id"]
        for _ in range(2)
    ]
    [first], [second] = [await hits(world, r) for r in runs]
    assert first["match_key"] == second["match_key"]
    assert first["id"] != second["id"]
    # a reason PostgreSQL cannot store (a NUL, a lone surrogate): 422 naming it, nothing changes
    for raw in (b'{"reason": "a\\u0000b"}', b'{"reason": "a\\ud800b"}'):
        bad = await world.http.post(
            f"/api/v1/crosschecks/hits/{first['id']}/dismiss",
            content=raw,
            headers={**world.office, "content-type": "application/json"},
        )
        assert bad.status_code == 422, bad.text
        assert bad.json()["errors"][0]["field"] in ("reason", "body")
    for hit, reason in ((first, "借调人员，已核实"), (second, "同上，第二次比对")):
        resp = await world.http.post(
            f"/api/v1/crosschecks/hits/{hit['id']}/dismiss",
            json={"reason": reason},
            headers={**world.office, "If-Match": f'"v{hit["version"]}"'},
        )
        assert resp.status_code == 200, resp.text
        assert (resp.json()["status"], resp.json()["reason"]) == ("dismissed", reason)
    again = await run(world, [roster, loans], [{"code": "recipient_in_roster"}])
    assert await hits(world, again["id"]) == []


async def test_only_the_office_and_the_rounds_leaders_use_cross_checks(world: World) -> None:
    data = csv_bytes(ROSTER, [["张三", person_id(101), "赤壁市人社局"]])
    member = world.as_(world.member_a)
    status, problem = await upload(
        world, data, kind="staff_roster", headers=member, round_id=world.round_id
    )
    assert status == 403, problem
    leader = world.as_(world.leader_a)
    status, job = await upload(
        world, data, kind="staff_roster", headers=leader, round_id=world.round_id
    )
    assert status == 202, job
    assert job["state"] == "done", job
    # a leader keeps no dataset outside a round, and sees only the round's
    status, _ = await upload(world, data, kind="staff_roster", headers=leader)
    assert status == 403
    office_own = await imported(world, data, kind="staff_roster")
    assert (
        await world.http.get(f"/api/v1/datasets/{office_own}", headers=leader)
    ).status_code == 404
    mine = job["result"]["dataset_version_id"]
    assert (await world.http.get(f"/api/v1/datasets/{mine}", headers=leader)).status_code == 200
    assert (
        await world.http.get(f"/api/v1/crosschecks/jobs/{job['id']}", headers=member)
    ).status_code == 403
