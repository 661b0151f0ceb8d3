"""Findings in-process: references checked against rounds, money exact, persons' ID numbers
checked and masked, the status machine, If-Match, idempotency, who sees what."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from ops.stack import Database
from services.findings.idnumber import check_character
from tests.findings.conftest import World

VALID_ID = "11010519491231002X"


def id_number(prefix17: str) -> str:
    return prefix17 + check_character(prefix17)


async def test_a_finding_keeps_a_snapshot_of_its_assignment_and_category(world: World) -> None:
    created = await world.create(money_involved="320000")
    assert created["round_id"] == world.round_id
    assert created["group_id"] == world.group_a
    assert created["target_id"] == world.t1
    assert created["target_name"] == "车埠镇一村"
    assert (created["category_code"], created["category_name"]) == ("3.1", "类别3.1")
    assert created["money_involved"] == "320000.00"
    assert created["status"] == "draft"
    read = await world.http.get(
        f"/api/v1/findings/{created['id']}", headers=world.as_(world.member_a)
    )
    assert read.headers["ETag"] == '"v1"'
    assert read.json()["money_involved"] == "320000.00"


async def test_references_that_do_not_exist_are_422_naming_the_field(world: World) -> None:
    member = world.as_(world.member_a)
    for body, field in (
        (world.finding(assignment_id=str(uuid.uuid4())), "assignment_id"),
        (world.finding(category_id=str(uuid.uuid4())), "category_id"),
        # another group's assignment is not one this member can record on: as if absent
        (world.finding(assignment_id=world.asg_b), "assignment_id"),
    ):
        resp = await world.http.post("/api/v1/findings", json=body, headers=member)
        assert resp.status_code == 422, resp.text
        assert resp.json()["type"] == "/problems/reference-invalid"
        assert [e["field"] for e in resp.json()["errors"]] == [field]


async def test_bad_input_is_422_on_the_field(world: World) -> None:
    tomorrow = datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=1)
    cases = [
        ({"money_involved": "1000000000000.00"}, "money_involved"),
        ({"discovered_on": str(tomorrow)}, "discovered_on"),
        ({"location": {"latitude": "91", "longitude": "114"}}, "location.latitude"),
        ({"severity": "catastrophic"}, "severity"),
        ({"persons": [{"name": "张某", "id_number": VALID_ID[:-1] + "5"}]}, "persons.0.id_number"),
        # non-ASCII digits (full-width, Arabic-Indic) are digits to `\d` and to int(), not here
        ({"persons": [{"name": "张某", "id_number": "１" + VALID_ID[1:]}]}, "persons.0.id_number"),
        (
            {
                "persons": [
                    {"name": "张某"},
                    {"name": "李某", "id_number": VALID_ID[:5] + "\u0665" + VALID_ID[6:]},
                ]
            },
            "persons.1.id_number",
        ),
    ]
    for over, field in cases:
        resp = await world.http.post(
            "/api/v1/findings", json=world.finding(**over), headers=world.as_(world.member_a)
        )
        assert resp.status_code == 422, (over, resp.text)
        assert resp.json()["errors"][0]["field"] == field, resp.json()


async def test_id_numbers_are_masked_except_for_the_leader_and_the_office(world: World) -> None:
    other = id_number("42010219800101123")
    created = await world.create(
        persons=[
            {"name": "张某", "position": "村支书", "rank": "村干部", "id_number": VALID_ID.lower()},
            {"name": "李某", "position": "会计", "id_number": other},
            {"name": "王某"},
        ],
        location={"latitude": "29.716543", "longitude": "113.883211"},
    )
    url = f"/api/v1/findings/{created['id']}"
    as_member = (await world.http.get(url, headers=world.as_(world.member_a))).json()
    assert [p["id_number"] for p in as_member["persons"]] == [
        "1101**********002X",
        other[:4] + "*" * 10 + other[-4:],
        None,
    ]
    assert as_member["location"] == {"latitude": "29.716543", "longitude": "113.883211"}
    for who in (world.as_(world.leader_a), world.office):
        persons = (await world.http.get(url, headers=who)).json()["persons"]
        assert [p["id_number"] for p in persons] == [VALID_ID, other, None]
        assert persons[0]["position"] == "村支书"


async def test_a_member_of_group_b_cannot_read_list_or_guess_group_a(world: World) -> None:
    created = await world.create(money_involved="100")
    url = f"/api/v1/findings/{created['id']}"
    member, leader = world.as_(world.member_a), world.as_(world.leader_a)
    # everything that hangs off the finding exists, so a leak would show
    ev = await world.http.post(
        url + "/evidence", files={"file": ("a.pdf", b"%PDF-1.7\n" + b"0" * 100)}, headers=member
    )
    assert ev.status_code == 201, ev.text
    evidence_url = f"{url}/evidence/{ev.json()['id']}"
    linked = await world.http.post(
        url + "/responsibility-links",
        json={"body_id": world.township, "duty": "primary"},
        headers=member,
    )
    assert linked.status_code == 201, linked.text
    consulted = await world.http.post(
        url + "/consultations",
        json={"expert_id": world.rounds.expert(world.round_id)},
        headers=leader,
    )
    assert consulted.status_code == 201, consulted.text
    b = world.as_(world.member_b)
    # a role the policy table grants no finding route: refused before any record is looked up
    stranger = world.as_(roles=["receiver"])
    for path in (
        url,
        url + "/transitions",
        url + "/evidence",
        evidence_url,
        url + "/consultations",
    ):
        refused = await world.http.get(path, headers=stranger)
        assert refused.status_code == 403, path
        assert refused.json()["type"] == "/problems/forbidden-by-policy"
    for who in (b,):
        assert (await world.http.get(url, headers=who)).status_code == 404
        assert (await world.http.get(url + "/transitions", headers=who)).status_code == 404
        assert (await world.http.get(url + "/evidence", headers=who)).status_code == 404
        assert (await world.http.get(evidence_url, headers=who)).status_code == 404
        assert (await world.http.get(url + "/consultations", headers=who)).status_code == 404
        assert (await world.http.get(url + "/responsibility-links", headers=who)).status_code == 404
        patched = await world.http.patch(
            url, json={"title": "x"}, headers={**who, "If-Match": '"v1"'}
        )
        assert patched.status_code == 404
        moved = await world.http.post(url + "/transitions", json={"to": "confirmed"}, headers=who)
        assert moved.status_code == 404
        deleted = await world.http.delete(url, headers={**who, "If-Match": '"v1"'})
        assert deleted.status_code == 404
        village = await world.http.get(f"/api/v1/portraits/{world.t1}", headers=who)
        assert village.status_code == 200, village.text
        assert (village.json()["findings"], village.json()["money_involved"]) == (0, "0.00")
        assert village.json()["by_category"] == []
        town = await world.http.get(f"/api/v1/portraits/{world.township}", headers=who)
        assert town.status_code == 200, town.text
        assert town.json()["responsibility"] == []
        listed = await world.http.get(
            "/api/v1/findings", params={"target_id": world.t1}, headers=who
        )
        assert listed.json()["items"] == []
        by_group = await world.http.get(
            "/api/v1/findings", params={"group_id": world.group_a}, headers=who
        )
        assert by_group.json()["items"] == []
    # the leader and the office do see it, unchanged, with what hangs off it
    for who in (leader, world.office):
        read = await world.http.get(url, headers=who)
        assert read.status_code == 200
        assert (read.json()["status"], read.json()["version"]) == ("draft", 1)
        assert (await world.http.get(evidence_url, headers=who)).status_code == 200
    village = (await world.http.get(f"/api/v1/portraits/{world.t1}", headers=leader)).json()
    assert village["findings"] == 1


async def test_an_expert_sees_only_findings_they_are_consulted_on(world: World) -> None:
    consulted = await world.create(
        persons=[{"name": "张某", "id_number": VALID_ID}, {"name": "王某"}]
    )
    other = await world.create()
    expert = world.rounds.expert(world.round_id)
    as_expert = world.as_(expert, roles=["expert"])
    url = f"/api/v1/findings/{consulted['id']}"
    assert (await world.http.get(url, headers=as_expert)).status_code == 404
    denied = await world.http.post(
        url + "/consultations", json={"expert_id": expert}, headers=world.as_(world.member_a)
    )
    assert denied.status_code == 403
    added = await world.http.post(
        url + "/consultations", json={"expert_id": expert}, headers=world.as_(world.leader_a)
    )
    assert added.status_code == 201, added.text
    assert (await world.http.get(url, headers=as_expert)).status_code == 200
    assert (
        await world.http.get(f"/api/v1/findings/{other['id']}", headers=as_expert)
    ).status_code == 404
    listed = (await world.http.get("/api/v1/findings", headers=as_expert)).json()["items"]
    assert [f["id"] for f in listed] == [consulted["id"]]
    masked = [("张某", "1101**********002X"), ("王某", None)]
    assert [(p["name"], p["id_number"]) for p in listed[0]["persons"]] == masked
    read = (await world.http.get(url, headers=as_expert)).json()
    assert [(p["name"], p["id_number"]) for p in read["persons"]] == masked
    assert VALID_ID not in (await world.http.get(url, headers=as_expert)).text


async def test_only_an_expert_of_the_finding_s_round_can_be_consulted(world: World) -> None:
    created = await world.create()
    url = f"/api/v1/findings/{created['id']}"
    other_round, _ = world.rounds.round("3.1")
    elsewhere = world.rounds.expert(other_round)  # an expert, but of another round
    # a municipal group's member of this very round is no expert either
    municipal = str(uuid.uuid4())
    world.rounds.join(municipal, str(uuid.uuid4()), world.round_id, "member")
    for who in (world.as_(world.leader_a), world.office):
        for user in (world.member_b, elsewhere, municipal, str(uuid.uuid4())):
            resp = await world.http.post(
                url + "/consultations", json={"expert_id": user}, headers=who
            )
            assert resp.status_code == 422, resp.text
            assert resp.headers["content-type"] == "application/problem+json"
            [error] = resp.json()["errors"]
            assert (error["field"], error["code"]) == ("expert_id", "not_an_expert_of_the_round")
    for user in (world.member_b, elsewhere, municipal):
        assert (await world.http.get(url, headers=world.as_(user))).status_code == 404
    listed = await world.http.get(url + "/consultations", headers=world.as_(world.leader_a))
    assert listed.json() == []
    # one of the round's experts can be
    expert = world.rounds.expert(world.round_id)
    added = await world.http.post(
        url + "/consultations", json={"expert_id": expert}, headers=world.as_(world.leader_a)
    )
    assert added.status_code == 201, added.text
    assert (await world.http.get(url, headers=world.as_(expert))).status_code == 200


async def test_adding_the_same_expert_ten_times_at_once_adds_one(world: World) -> None:
    created = await world.create()
    url = f"/api/v1/findings/{created['id']}/consultations"
    expert = world.rounds.expert(world.round_id)
    leader = world.as_(world.leader_a)
    answers = await asyncio.gather(
        *(world.http.post(url, json={"expert_id": expert}, headers=leader) for _ in range(10))
    )
    assert [r.status_code for r in answers] == [201] * 10, [r.text for r in answers]
    assert len({r.json()["created_at"] for r in answers}) == 1
    assert {r.json()["expert_id"] for r in answers} == {expert}
    listed = (await world.http.get(url, headers=leader)).json()
    assert [c["expert_id"] for c in listed] == [expert]


async def test_patch_and_delete_need_if_match_and_a_stale_one_loses_nothing(world: World) -> None:
    created = await world.create()
    url = f"/api/v1/findings/{created['id']}"
    member = world.as_(world.member_a)
    missing = await world.http.patch(url, json={"title": "改"}, headers=member)
    assert missing.status_code == 428
    assert missing.json()["current_etag"] == '"v1"'

    async def patch(title: str) -> int:
        resp = await world.http.patch(
            url, json={"title": title}, headers={**member, "If-Match": '"v1"'}
        )
        return resp.status_code

    statuses = await asyncio.gather(patch("甲"), patch("乙"))
    assert sorted(statuses) == [200, 412]
    winner = "甲" if statuses[0] == 200 else "乙"
    read = await world.http.get(url, headers=member)
    assert read.json()["title"] == winner
    assert read.headers["ETag"] == '"v2"'
    stale = await world.http.delete(url, headers={**member, "If-Match": '"v1"'})
    assert stale.status_code == 412
    assert (await world.http.get(url, headers=member)).json()["title"] == winner

    changed = await world.http.patch(
        url,
        json={"persons": [{"name": "赵某"}], "money_involved": "12.30", "location": None},
        headers={**member, "If-Match": '"v2"'},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["persons"][0]["name"] == "赵某"
    assert changed.json()["money_involved"] == "12.30"
    assert changed.headers["ETag"] == '"v3"'


async def test_the_status_machine(world: World) -> None:
    created = await world.create()
    url = f"/api/v1/findings/{created['id']}"
    member, leader, office = world.as_(world.member_a), world.as_(world.leader_a), world.office

    async def move(to: str, who: dict[str, str], reason: str = "") -> tuple[int, dict]:  # type: ignore[type-arg]
        resp = await world.http.post(
            url + "/transitions", json={"to": to, "reason": reason}, headers=who
        )
        return resp.status_code, resp.json()

    assert (await move("confirmed", member))[0] == 403
    assert (await move("closed", leader))[0] == 409
    code, body = await move("handed_over", office)
    assert code == 409
    assert body["allowed"] == ["confirmed"]
    code, body = await move("confirmed", leader)
    assert (code, body["status"]) == (200, "confirmed")
    # a confirmed finding is part of the record
    assert (
        await world.http.patch(url, json={"title": "x"}, headers={**member, "If-Match": '"v2"'})
    ).status_code == 409
    assert (await world.http.delete(url, headers={**member, "If-Match": '"v2"'})).status_code == 409
    code, body = await move("confirmed", leader)
    assert (code, body["allowed"]) == (409, ["handed_over", "closed"])
    assert (await move("handed_over", leader))[0] == 403
    assert (await move("handed_over", office))[0] == 200
    assert (await move("closed", office))[0] == 200
    # the same body confirms a draft: a closed finding's state asks for a reason (409, naming it)
    code, body = await move("confirmed", office)
    assert (code, body["type"]) == (409, "/problems/reopening-needs-reason")
    assert body["errors"][0]["field"] == "reason"
    assert (await move("confirmed", office, "群众反映整改不到位"))[0] == 200
    history = (await world.http.get(url + "/transitions", headers=member)).json()
    assert [(h["from_status"], h["to_status"]) for h in history] == [
        (None, "draft"),
        ("draft", "confirmed"),
        ("confirmed", "handed_over"),
        ("handed_over", "closed"),
        ("closed", "confirmed"),
    ]
    assert history[-1]["reason"] == "群众反映整改不到位"
    assert history[1]["by"] == world.leader_a


async def test_a_deleted_draft_shows_in_delta_sync(world: World) -> None:
    member = world.as_(world.member_a)
    keep, gone = await world.create(), await world.create()
    since = keep["updated_at"]
    resp = await world.http.delete(
        f"/api/v1/findings/{gone['id']}", headers={**member, "If-Match": '"v1"'}
    )
    assert resp.status_code == 204
    assert (
        await world.http.get(f"/api/v1/findings/{gone['id']}", headers=member)
    ).status_code == 404
    page = (
        await world.http.get(
            "/api/v1/findings",
            params={"updated_since": since},
            headers=member,
        )
    ).json()
    assert keep["id"] in [f["id"] for f in page["items"]]
    assert page["deleted"] == [gone["id"]]
    # another group does not learn of the deletion
    other = (
        await world.http.get(
            "/api/v1/findings", params={"updated_since": since}, headers=world.as_(world.member_b)
        )
    ).json()
    assert other["deleted"] == []


async def test_lists_page_and_filter(world: World) -> None:
    member = world.as_(world.member_a)
    made = [await world.create(severity=s) for s in ("minor", "serious", "serious")]
    await world.create(category_id=world.categories[1])
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, "category_id": world.categories[0], "round_id": world.round_id}
        if cursor:
            params["cursor"] = cursor
        page = (await world.http.get("/api/v1/findings", params=params, headers=member)).json()
        seen += [f["id"] for f in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f["id"] for f in made]
    serious = await world.http.get(
        "/api/v1/findings", params={"severity": "serious"}, headers=member
    )
    assert [f["id"] for f in serious.json()["items"]] == [f["id"] for f in made[1:]]


async def test_fifty_concurrent_retries_with_one_key_create_one_finding(world: World) -> None:
    member = world.as_(world.member_a)
    title = f"并发{uuid.uuid4().hex[:8]}"
    headers = {**member, "Idempotency-Key": f"k-{uuid.uuid4()}"}

    async def post() -> int:
        resp = await world.http.post(
            "/api/v1/findings", json=world.finding(title=title), headers=headers
        )
        return resp.status_code

    statuses = await asyncio.gather(*(post() for _ in range(50)))
    assert set(statuses) <= {201, 409}
    assert 201 in statuses
    again = await world.http.post(
        "/api/v1/findings", json=world.finding(title=title), headers=headers
    )
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    listed = (
        await world.http.get("/api/v1/findings", params={"limit": 200}, headers=world.office)
    ).json()
    cursor, count = listed["next_cursor"], sum(f["title"] == title for f in listed["items"])
    while cursor:
        listed = (
            await world.http.get(
                "/api/v1/findings", params={"limit": 200, "cursor": cursor}, headers=world.office
            )
        ).json()
        count += sum(f["title"] == title for f in listed["items"])
        cursor = listed["next_cursor"]
    assert count == 1


async def test_recurrence_is_flagged_on_confirm(world: World) -> None:
    earlier_round, earlier_cats = world.rounds.round("3.1")
    group0 = str(uuid.uuid4())
    asg0 = world.rounds.assign(earlier_round, group0, world.t1)
    world.rounds.categories[world.round_id][0]["code"] = "3.1"
    first = await world.create(
        headers=world.office,
        assignment_id=asg0,
        category_id=earlier_cats[0],
        discovered_on="2017-05-01",
    )
    moved = await world.http.post(
        f"/api/v1/findings/{first['id']}/transitions",
        json={"to": "confirmed"},
        headers=world.office,
    )
    assert (moved.json()["recurrent"], moved.json()["recurrence_of"]) == (False, None)
    again = await world.create()
    confirmed = await world.http.post(
        f"/api/v1/findings/{again['id']}/transitions",
        json={"to": "confirmed"},
        headers=world.as_(world.leader_a),
    )
    # group A cannot see group 0's finding: it learns of the recurrence, not of the finding
    assert (confirmed.json()["recurrent"], confirmed.json()["recurrence_of"]) == (True, None)
    url = f"/api/v1/findings/{again['id']}"
    for who in (world.as_(world.leader_a), world.as_(world.member_a)):
        read = (await world.http.get(url, headers=who)).json()
        assert (read["recurrent"], read["recurrence_of"]) == (True, None)
        [listed] = (
            await world.http.get("/api/v1/findings", params={"status": "confirmed"}, headers=who)
        ).json()["items"]
        assert (listed["recurrent"], listed["recurrence_of"]) == (True, None)
    # who can see both is told which it repeats
    read = (await world.http.get(url, headers=world.office)).json()
    assert (read["recurrent"], read["recurrence_of"]) == (True, first["id"])
    member0 = str(uuid.uuid4())
    world.rounds.join(member0, group0, earlier_round, "member")
    world.rounds.join(member0, world.group_a, world.round_id, "member")
    read = (await world.http.get(url, headers=world.as_(member0))).json()
    assert (read["recurrent"], read["recurrence_of"]) == (True, first["id"])
    # a different category at the same target is no recurrence
    other = await world.create(category_id=world.categories[1])
    confirmed = await world.http.post(
        f"/api/v1/findings/{other['id']}/transitions",
        json={"to": "confirmed"},
        headers=world.as_(world.leader_a),
    )
    assert (confirmed.json()["recurrent"], confirmed.json()["recurrence_of"]) == (False, None)


async def test_delta_sync_never_skips_a_change_a_long_transaction_commits_late(
    world: World, database: Database
) -> None:
    """A write is stamped with the start of its transaction. One that started before a newer,
    already seen write commits after the client's sync: the newest `updated_at` the client saw
    is past it, but `sync_from` is not, so the next sync brings it."""
    member = world.as_(world.member_a)
    first = await world.create(title="先登记的问题")
    slow = await asyncpg.connect(database.urls["findings"].replace("+asyncpg", ""))
    try:
        tx = slow.transaction()
        await tx.start()
        started = await slow.fetchval("SELECT now()")
        await asyncio.sleep(0.05)
        await slow.execute(
            "UPDATE findings.findings SET title = '迟到的修改', updated_at = now(), "
            "version = version + 1 WHERE id = $1",
            uuid.UUID(first["id"]),
        )
        second = await world.create(title="后登记的问题")  # committed while the first is open
        page = (
            await world.http.get(
                "/api/v1/findings",
                params={"updated_since": first["updated_at"]},
                headers=member,
            )
        ).json()
        seen = {f["id"]: f for f in page["items"]}
        assert seen[first["id"]]["title"] == "先登记的问题"  # the late change is not visible yet
        assert second["id"] in seen
        newest_seen = max(datetime.fromisoformat(f["updated_at"]) for f in seen.values())
        sync_from = datetime.fromisoformat(page["sync_from"])
        assert sync_from <= started < newest_seen
        await tx.commit()
    finally:
        await slow.close()
    # the late change is stamped before what the client saw: only `sync_from` catches it
    after_newest = (
        await world.http.get(
            "/api/v1/findings",
            params={"updated_since": newest_seen.isoformat()},
            headers=member,
        )
    ).json()
    assert first["id"] not in [f["id"] for f in after_newest["items"]]
    after_mark = (
        await world.http.get(
            "/api/v1/findings", params={"updated_since": page["sync_from"]}, headers=member
        )
    ).json()
    late = {f["id"]: f for f in after_mark["items"]}
    assert late[first["id"]]["title"] == "迟到的修改"
    # with nothing open, the mark is simply now: after the newest change
    assert datetime.fromisoformat(after_mark["sync_from"]) >= newest_seen
