"""Staffing in the rounds service: the cadre pool, groups and members, assignments, and the
avoidance (回避) and overlapping-station rules, against the real PostgreSQL.

Terms and rounds are inserted with SQL: they belong to the planning part of the service."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import event

from ops.stack import Database
from services.common.auth import KeySet
from services.rounds.app import create_app
from services.rounds.settings import RoundsSettings
from tests.conftest import MintToken, serve

OFFICE = str(uuid.uuid4())


@dataclass
class Api:
    client: httpx.AsyncClient
    mint: MintToken
    statements: list[str]

    def as_user(self, user_id: uuid.UUID | str, roles: list[str]) -> dict[str, str]:
        """A user with the gateway roles they would really have (the policy table refuses a
        token without a role it grants)."""
        token = self.mint("rounds", roles=roles, sub=str(user_id))
        return {"Authorization": f"Bearer {token}"}

    async def post(self, url: str, body: dict[str, Any], expect: int = 201) -> dict[str, Any]:
        resp = await self.client.post(url, json=body)
        assert resp.status_code == expect, resp.text
        data: dict[str, Any] = resp.json()
        return data

    async def target(
        self,
        name: str,
        kind: str = "village",
        jurisdiction: str = "赤壁市",
        parent: str | None = None,
    ) -> str:
        body = {"name": unique(name), "kind": kind, "jurisdiction": jurisdiction}
        if parent:
            body["parent_id"] = parent
        return str((await self.post("/api/v1/targets", body))["id"])

    async def person(self, name: str, **extra: Any) -> str:
        body = {"name": name, "unit": "赤壁市纪委监委", **extra}
        return str((await self.post("/api/v1/people", body))["id"])

    async def group(self, round_id: str, name: str, kind: str = "municipal", **extra: Any) -> str:
        body = {
            "round_id": round_id,
            "kind": kind,
            "name": name,
            "owning_organisation": "中共赤壁市委",
            **extra,
        }
        return str((await self.post("/api/v1/groups", body))["id"])

    async def member(
        self, group_id: str, person_id: str, role: str = "member", **extra: Any
    ) -> Any:
        body = {"person_id": person_id, "role": role, **extra}
        return await self.post(f"/api/v1/groups/{group_id}/members", body)

    async def assign(self, round_id: str, group_id: str, target_id: str, **extra: Any) -> Any:
        body = {"round_id": round_id, "group_id": group_id, "target_id": target_id}
        return await self.post("/api/v1/assignments", {"mode": "pinpoint", **body, **extra})


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
async def api(database: Database, test_keys: KeySet, mint: MintToken) -> AsyncIterator[Api]:
    settings = RoundsSettings(database_url=database.urls["rounds"])
    app = create_app(settings, keys=test_keys)
    headers = {"Authorization": f"Bearer {mint('rounds', roles=['office'], sub=OFFICE)}"}
    statements: list[str] = []
    async with serve(app, headers=headers) as client:

        def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            statements.append(statement)

        event.listen(app.state.db.engine.sync_engine, "before_cursor_execute", count)
        yield Api(client, mint, statements)


@pytest.fixture
async def sql(database: Database) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database.urls["rounds"].replace("+asyncpg", ""))
    try:
        yield conn
    finally:
        await conn.close()


async def new_round(
    sql: asyncpg.Connection,
    jurisdiction: str = "赤壁市",
    stationing: tuple[date, date] | None = None,
) -> str:
    """A term and its round (the planning part owns these; here they are plain rows)."""
    term = await sql.fetchval(
        "INSERT INTO rounds.terms (name, starts_on, ends_on, coverage_kinds, jurisdiction)"
        " VALUES ($1, '2016-10-01', '2021-09-30', '{village}', $2) RETURNING id",
        unique("十四届市委"),
        jurisdiction,
    )
    round_id = await sql.fetchval(
        "INSERT INTO rounds.rounds (term_id, number, name, kind)"
        " VALUES ($1, 2, '2018年第二轮 扶贫领域专项巡察', 'special') RETURNING id",
        term,
    )
    if stationing:
        await sql.execute(
            "INSERT INTO rounds.round_phases (round_id, phase, planned_start, planned_end)"
            " VALUES ($1, 'stationing', $2, $3)",
            round_id,
            *stationing,
        )
    return str(round_id)


def problem(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = resp.json()
    assert body["type"] == f"/problems/{code}", body
    return body


def fields(body: dict[str, Any]) -> list[str]:
    return [e["field"] for e in body["errors"]]


# ---- people ---------------------------------------------------------------------------------


async def test_person_created_read_filtered_and_linked_user_is_unique(api: Api) -> None:
    user = uuid.uuid4()
    unit = unique("赤壁市审计局")
    resp = await api.client.post(
        "/api/v1/people",
        json={
            "name": "刘审计",
            "unit": unit,
            "position": "科长",
            "specialities": ["audit", "finance"],
            "user_id": str(user),
        },
    )
    assert resp.status_code == 201, resp.text
    person = resp.json()
    assert resp.headers["location"] == f"/api/v1/people/{person['id']}"
    read = await api.client.get(f"/api/v1/people/{person['id']}")
    assert read.json() == person
    assert read.headers["etag"] == '"v1"'

    await api.person("李法务", unit=unit, specialities=["law"])
    audit = await api.client.get("/api/v1/people", params={"unit": unit, "speciality": "audit"})
    assert [p["name"] for p in audit.json()["items"]] == ["刘审计"]
    both = await api.client.get("/api/v1/people", params={"unit": unit})
    assert {p["name"] for p in both.json()["items"]} == {"刘审计", "李法务"}

    taken = await api.client.post(
        "/api/v1/people", json={"name": "张三", "unit": unit, "user_id": str(user)}
    )
    assert fields(problem(taken, 409, "person-user-taken")) == ["user_id"]

    bad = await api.client.post(
        "/api/v1/people", json={"name": " ", "unit": unit, "specialities": ["magic"], "age": 3}
    )
    assert set(fields(problem(bad, 422, "validation-failed"))) == {
        "name",
        "specialities.0",
        "age",
    }


async def test_person_patch_honours_if_match_and_delete_leaves_a_tombstone(api: Api) -> None:
    person_id = await api.person("王干部")
    url = f"/api/v1/people/{person_id}"
    etag = (await api.client.get(url)).headers["etag"]
    changed = await api.client.patch(url, json={"position": "副主任"}, headers={"If-Match": etag})
    assert changed.status_code == 200, changed.text
    assert changed.json()["position"] == "副主任"
    assert changed.headers["etag"] == '"v2"'
    stale = await api.client.patch(url, json={"position": "主任"}, headers={"If-Match": etag})
    problem(stale, 412, "precondition-failed")
    null = await api.client.patch(url, json={"name": None})
    assert fields(problem(null, 422, "validation-failed")) == ["name"]

    since = changed.json()["updated_at"]
    problem(await api.client.delete(url, headers={"If-Match": etag}), 412, "precondition-failed")
    assert (await api.client.delete(url, headers={"If-Match": '"v2"'})).status_code == 204
    assert (await api.client.get(url)).status_code == 404
    delta = await api.client.get("/api/v1/people", params={"updated_since": since})
    assert person_id in delta.json()["deleted"]
    assert person_id not in [p["id"] for p in delta.json()["items"]]


async def test_postings_and_relations_belong_to_the_person_and_bump_its_version(
    api: Api,
) -> None:
    person_id = await api.person("赵某")
    township = await api.target("神山镇党委", "township_committee")
    before = (await api.client.get(f"/api/v1/people/{person_id}")).json()
    posting = await api.client.post(
        f"/api/v1/people/{person_id}/postings",
        json={"target_id": township, "position": "副镇长", "from_date": "2012-01-01"},
    )
    assert posting.status_code == 201, posting.text
    assert posting.headers["location"].endswith(posting.json()["id"])
    relation = await api.post(
        f"/api/v1/people/{person_id}/relations",
        {"target_id": township, "relative_name": "赵某某", "relation": "sibling"},
    )
    after = await api.client.get(f"/api/v1/people/{person_id}")
    assert after.json()["version"] == before["version"] + 2

    postings = await api.client.get(
        f"/api/v1/people/{person_id}/postings", params={"updated_since": before["updated_at"]}
    )
    assert [p["position"] for p in postings.json()["items"]] == ["副镇长"]
    relations = await api.client.get(f"/api/v1/people/{person_id}/relations")
    assert relations.json()["items"] == [relation]

    missing = await api.client.post(
        f"/api/v1/people/{person_id}/postings", json={"target_id": str(uuid.uuid4())}
    )
    assert fields(problem(missing, 422, "reference-invalid")) == ["target_id"]
    backwards = await api.client.post(
        f"/api/v1/people/{person_id}/postings",
        json={"target_id": township, "from_date": "2015-01-01", "to_date": "2014-01-01"},
    )
    assert fields(problem(backwards, 422, "validation-failed")) == ["to_date"]

    gone = await api.client.delete(f"/api/v1/people/{person_id}/postings/{posting.json()['id']}")
    assert gone.status_code == 204
    delta = await api.client.get(
        f"/api/v1/people/{person_id}/postings", params={"updated_since": before["updated_at"]}
    )
    assert delta.json()["items"] == []
    assert posting.json()["id"] in delta.json()["deleted"]


# ---- groups and members ---------------------------------------------------------------------


async def test_the_3_plus_10_structure(api: Api, sql: asyncpg.Connection) -> None:
    """3 municipal groups (main force) + 10 township sub-groups assisting them; deputies
    seconded from the discipline commission; members default to the stationing dates."""
    round_id = await new_round(sql, stationing=(date(2018, 9, 3), date(2018, 10, 31)))
    municipal = []
    for n in ("一", "二", "三"):
        group_id = await api.group(round_id, f"赤壁市委第{n}巡察组", capacity=26)
        municipal.append(group_id)
        leader = await api.member(group_id, await api.person(f"组长{n}"), "leader")
        assert (leader["starts_on"], leader["ends_on"]) == ("2018-09-03", "2018-10-31")
        deputy = await api.member(
            group_id,
            await api.person(f"副组长{n}"),
            "deputy_leader",
            seconded_from="赤壁市纪委监委",
        )
        assert deputy["seconded_from"] == "赤壁市纪委监委"
        await api.member(group_id, await api.person(f"联络员{n}"), "liaison")
    townships = [
        "赤马港",
        "陆水湖",
        "蒲圻",
        "赵李桥",
        "茶庵岭",
        "车埠",
        "中伙铺",
        "官塘驿",
        "神山",
        "柳山湖",
    ]
    for i, township in enumerate(townships):
        await api.group(
            round_id,
            f"{township}巡察小组",
            "township_sub",
            owning_organisation=f"中共{township}党委",
            lead_group_id=municipal[i % 3],
        )

    groups = (await api.client.get("/api/v1/groups", params={"round_id": round_id})).json()
    kinds = [g["kind"] for g in groups["items"]]
    assert kinds.count("municipal") == 3
    assert kinds.count("township_sub") == 10
    assisting = await api.client.get("/api/v1/groups", params={"lead_group_id": municipal[0]})
    assert len(assisting.json()["items"]) == 4
    members = await api.client.get(
        f"/api/v1/groups/{municipal[1]}/members", params={"role": "deputy_leader"}
    )
    [deputy] = members.json()["items"]
    assert deputy["person_name"] == "副组长二"
    assert deputy["seconded_from"] == "赤壁市纪委监委"

    # a municipal group with sub-groups assisting it cannot become something else
    stale_kind = await api.client.patch(
        f"/api/v1/groups/{municipal[0]}", json={"kind": "expert_guidance"}
    )
    assert fields(problem(stale_kind, 422, "group-structure-invalid")) == ["kind"]
    in_use = await api.client.delete(f"/api/v1/groups/{municipal[0]}")
    assert problem(in_use, 409, "group-in-use")["assisting_groups"]


async def test_group_rules_are_422_or_409_naming_the_field(
    api: Api, sql: asyncpg.Connection
) -> None:
    round_id = await new_round(sql)
    other_round = await new_round(sql)
    municipal = await api.group(round_id, "赤壁市委第一巡察组")
    elsewhere = await api.group(other_round, "赤壁市委第一巡察组")  # same name, other round: fine
    sub = await api.group(round_id, "神山镇巡察小组", "township_sub", lead_group_id=municipal)

    base = {"round_id": round_id, "owning_organisation": "中共赤壁市委"}
    cases = [
        ({"round_id": str(uuid.uuid4())}, "reference-invalid", "round_id"),
        ({"kind": "joint"}, "group-structure-invalid", "higher_level_group"),
        (
            {"kind": "township_sub", "lead_group_id": elsewhere},
            "group-structure-invalid",
            "lead_group_id",
        ),
        (
            {"kind": "township_sub", "lead_group_id": sub},
            "group-structure-invalid",
            "lead_group_id",
        ),
        (
            {"kind": "municipal", "lead_group_id": municipal},
            "group-structure-invalid",
            "lead_group_id",
        ),
        (
            {"kind": "township_sub", "lead_group_id": str(uuid.uuid4())},
            "reference-invalid",
            "lead_group_id",
        ),
    ]
    for extra, code, field in cases:
        body = {**base, "kind": "municipal", "name": unique("组"), **extra}
        resp = await api.client.post("/api/v1/groups", json=body)
        assert fields(problem(resp, 422, code)) == [field], extra

    dup = await api.client.post(
        "/api/v1/groups", json={**base, "kind": "municipal", "name": "赤壁市委第一巡察组"}
    )
    assert fields(problem(dup, 409, "group-name-taken")) == ["name"]
    negative = await api.client.post(
        "/api/v1/groups", json={**base, "kind": "municipal", "name": "x", "capacity": 0}
    )
    assert fields(problem(negative, 422, "validation-failed")) == ["capacity"]

    url = f"/api/v1/groups/{municipal}"
    etag = (await api.client.get(url)).headers["etag"]
    renamed = await api.client.patch(url, json={"capacity": 12}, headers={"If-Match": etag})
    assert renamed.json()["capacity"] == 12
    stale = await api.client.patch(url, json={"capacity": 9}, headers={"If-Match": etag})
    problem(stale, 412, "precondition-failed")


async def test_one_leader_per_group_and_no_member_twice(api: Api, sql: asyncpg.Connection) -> None:
    round_id = await new_round(sql)
    group_id = await api.group(round_id, "赤壁市委第一巡察组")
    first = await api.person("组长甲")
    await api.member(group_id, first, "leader")
    second = await api.client.post(
        f"/api/v1/groups/{group_id}/members",
        json={"person_id": await api.person("组长乙"), "role": "leader"},
    )
    assert fields(problem(second, 409, "leader-taken")) == ["role"]
    again = await api.client.post(
        f"/api/v1/groups/{group_id}/members", json={"person_id": first, "role": "member"}
    )
    problem(again, 409, "already-member")
    nobody = await api.client.post(
        f"/api/v1/groups/{group_id}/members",
        json={"person_id": str(uuid.uuid4()), "role": "member"},
    )
    assert fields(problem(nobody, 422, "reference-invalid")) == ["person_id"]
    backwards = await api.client.post(
        f"/api/v1/groups/{group_id}/members",
        json={
            "person_id": first,
            "role": "member",
            "starts_on": "2018-09-03",
            "ends_on": "2018-09-01",
        },
    )
    assert fields(problem(backwards, 422, "validation-failed")) == ["ends_on"]


async def test_member_removal_honours_if_match_and_leaves_a_tombstone(
    api: Api, sql: asyncpg.Connection
) -> None:
    round_id = await new_round(sql)
    group_id = await api.group(round_id, "赤壁市委第一巡察组")
    member = await api.member(group_id, await api.person("成员甲"))
    url = f"/api/v1/groups/{group_id}/members/{member['id']}"
    read = await api.client.get(url)
    assert read.headers["etag"] == '"v1"'
    problem(await api.client.delete(url, headers={"If-Match": '"v0"'}), 412, "precondition-failed")
    assert (await api.client.delete(url, headers={"If-Match": '"v1"'})).status_code == 204
    naive = await api.client.get(
        f"/api/v1/groups/{group_id}/members", params={"updated_since": "2000-01-01T00:00:00"}
    )  # in which zone? refused, naming the parameter
    assert problem(naive, 422, "validation-failed")["errors"][0]["field"] == "query.updated_since"
    delta = await api.client.get(
        f"/api/v1/groups/{group_id}/members", params={"updated_since": "2000-01-01T00:00:00+08:00"}
    )
    assert delta.json()["items"] == []
    assert member["id"] in delta.json()["deleted"]


async def test_overlapping_stations_are_refused_naming_the_other_group(
    api: Api, sql: asyncpg.Connection
) -> None:
    autumn = await new_round(sql, stationing=(date(2018, 9, 3), date(2018, 10, 31)))
    winter = await new_round(sql, stationing=(date(2018, 10, 15), date(2018, 12, 15)))
    spring = await new_round(sql, stationing=(date(2019, 3, 1), date(2019, 4, 30)))
    undated = await new_round(sql)
    person = await api.person("钱某")
    first = await api.group(autumn, "赤壁市委第一巡察组")
    await api.member(first, person)

    overlapping = await api.group(winter, "赤壁市委第二巡察组")
    refused = await api.client.post(
        f"/api/v1/groups/{overlapping}/members", json={"person_id": person, "role": "member"}
    )
    body = problem(refused, 409, "station-overlap")
    assert [o["group_id"] for o in body["overlapping"]] == [first]
    assert body["overlapping"][0]["group_name"] == "赤壁市委第一巡察组"
    # the same group of the same round, overlapping too
    same_round = await api.group(autumn, "陆水湖巡察小组", "township_sub", lead_group_id=first)
    problem(
        await api.client.post(
            f"/api/v1/groups/{same_round}/members", json={"person_id": person, "role": "member"}
        ),
        409,
        "station-overlap",
    )
    # own dates after the first station: accepted
    await api.member(overlapping, person, starts_on="2018-11-01", ends_on="2018-12-15")
    # a later round does not overlap
    await api.member(await api.group(spring, "赤壁市委第三巡察组"), person)
    # no dates at all is an open period: it overlaps every station
    open_ended = await api.group(undated, "机动巡察组")
    problem(
        await api.client.post(
            f"/api/v1/groups/{open_ended}/members", json={"person_id": person, "role": "member"}
        ),
        409,
        "station-overlap",
    )
    # the expert guidance group is not stationed anywhere
    experts = await api.group(autumn, "业务指导组", "expert_guidance")
    await api.member(experts, person)


# ---- assignments and avoidance --------------------------------------------------------------


@dataclass
class Village:
    township: str
    village: str


async def township_with_village(api: Api, name: str) -> Village:
    township = await api.target(f"{name}镇党委", "township_committee")
    return Village(township, await api.target(f"{name}村", parent=township))


async def test_avoidance_refuses_with_every_reason_then_override_is_recorded(
    api: Api, sql: asyncpg.Connection
) -> None:
    round_id = await new_round(sql)
    group_id = await api.group(round_id, "赤壁市委第一巡察组")
    place = await township_with_village(api, "车埠")
    worked_here = await api.person("孙某")
    worked_in_township = await api.person("周某")
    relative_here = await api.person("吴某")
    relative_in_township = await api.person("郑某")
    clean = await api.person("冯某")
    await api.post(f"/api/v1/people/{worked_here}/postings", {"target_id": place.village})
    await api.post(
        f"/api/v1/people/{worked_in_township}/postings",
        {"target_id": place.township, "position": "党委副书记"},
    )
    await api.post(
        f"/api/v1/people/{relative_here}/relations",
        {"target_id": place.village, "relative_name": "吴大", "relation": "parent"},
    )
    await api.post(
        f"/api/v1/people/{relative_in_township}/relations",
        {"target_id": place.township, "relative_name": "郑二", "relation": "spouse"},
    )
    for person in (worked_here, worked_in_township, relative_here, relative_in_township, clean):
        await api.member(group_id, person)

    refused = await api.client.post(
        "/api/v1/assignments",
        json={
            "round_id": round_id,
            "group_id": group_id,
            "target_id": place.village,
            "mode": "pinpoint",
        },
    )
    body = problem(refused, 409, "avoidance-conflict")
    found = {(r["person_id"], r["rule"], r["via_target_id"]) for r in body["reasons"]}
    assert found == {
        (worked_here, "posting_at_target", place.village),
        (worked_in_township, "posting_at_parent", place.township),
        (relative_here, "relation_at_target", place.village),
        (relative_in_township, "relation_at_parent", place.township),
    }
    assert all(r["target_id"] == place.village for r in body["reasons"])
    assert "党委副书记" in body["detail"]
    listed = await api.client.get("/api/v1/assignments", params={"group_id": group_id})
    assert listed.json()["items"] == []

    blank = await api.client.post(
        "/api/v1/assignments",
        json={
            "round_id": round_id,
            "group_id": group_id,
            "target_id": place.village,
            "mode": "pinpoint",
            "override_reason": "  ",
        },
    )
    assert fields(problem(blank, 422, "validation-failed")) == ["override_reason"]

    reason = "该村情况特殊，经巡察办主任会议研究，相关人员不参与对该村的谈话和核查"
    created = await api.assign(round_id, group_id, place.village, override_reason=reason)
    assert created["override_reason"] == reason
    assert created["overridden_by"] == OFFICE
    assert len(created["overridden"]) == 4
    stored = (await api.client.get(f"/api/v1/assignments/{created['id']}")).json()
    assert (stored["override_reason"], stored["overridden_by"]) == (reason, OFFICE)
    register = (await api.client.get(f"/api/v1/groups/{group_id}/avoidance-overrides")).json()
    assert len(register) == 4
    assert {r["assignment_id"] for r in register} == {created["id"]}
    assert {r["reason"] for r in register} == {reason}

    # the township itself: only the township posting and relation count (no parent above)
    township = await api.client.post(
        "/api/v1/assignments",
        json={
            "round_id": round_id,
            "group_id": group_id,
            "target_id": place.township,
            "mode": "pinpoint",
        },
    )
    rules = sorted(r["rule"] for r in problem(township, 409, "avoidance-conflict")["reasons"])
    assert rules == ["posting_at_target", "relation_at_target"]

    # a target with no ties is assigned without an override recorded
    elsewhere = await api.target("官塘驿村")
    plain = await api.assign(round_id, group_id, elsewhere, override_reason=reason)
    assert (plain["override_reason"], plain["overridden_by"], plain["overridden"]) == (
        None,
        None,
        [],
    )


async def test_adding_a_member_checks_the_groups_assignments(
    api: Api, sql: asyncpg.Connection
) -> None:
    round_id = await new_round(sql)
    group_id = await api.group(round_id, "赤壁市委第二巡察组")
    place = await township_with_village(api, "中伙铺")
    assignment = await api.assign(round_id, group_id, place.village)
    person = await api.person("陈某")
    await api.post(
        f"/api/v1/people/{person}/relations",
        {"target_id": place.township, "relative_name": "陈二", "relation": "in_law"},
    )
    refused = await api.client.post(
        f"/api/v1/groups/{group_id}/members", json={"person_id": person, "role": "member"}
    )
    [reason] = problem(refused, 409, "avoidance-conflict")["reasons"]
    assert reason["rule"] == "relation_at_parent"
    assert reason["assignment_id"] == assignment["id"]
    assert reason["detail"] == "姻亲 陈二"
    members = await api.client.get(f"/api/v1/groups/{group_id}/members")
    assert members.json()["items"] == []

    added = await api.member(group_id, person, override_reason="仅负责资料整理，不参与该村核查")
    assert added["override"]["overridden_by"] == OFFICE
    assert added["override"]["conflicts"][0]["assignment_id"] == assignment["id"]
    register = (await api.client.get(f"/api/v1/groups/{group_id}/avoidance-overrides")).json()
    assert [(r["person_id"], r["assignment_id"], r["rule"], r["reason"], r["overridden_by"])
            for r in register] == [(person, assignment["id"], "relation_at_parent",
                                    "仅负责资料整理，不参与该村核查", OFFICE)]  # fmt: skip
    # the assignment itself is unchanged: the exception belongs to the member
    after = (await api.client.get(f"/api/v1/assignments/{assignment['id']}")).json()
    assert after["override_reason"] is None
    assert after["version"] == assignment["version"]


async def test_the_3_plus_23_batch_is_one_call_with_few_statements(
    api: Api, sql: asyncpg.Connection
) -> None:
    """One group inspects 3 departments and 23 villages at once; the checks for 26 targets ×
    10 members take a constant number of statements, not one per member × target."""
    round_id = await new_round(sql, stationing=(date(2018, 9, 3), date(2018, 10, 31)))
    group_id = await api.group(round_id, "赤壁市委第一巡察组", capacity=26)
    for n in range(10):
        person = await api.person(f"成员{n}")
        await api.post(
            f"/api/v1/people/{person}/postings",
            {"target_id": await api.target("市直某局", "department_party_group")},
        )
        await api.member(group_id, person, "leader" if n == 0 else "member")
    departments = [
        await api.target(name, "department_party_group") for name in ("扶贫办", "发改局", "民政局")
    ]
    townships = [await api.target(f"第{i}乡镇党委", "township_committee") for i in range(5)]
    villages = [await api.target(f"贫困村{i}", parent=townships[i % 5]) for i in range(23)]
    targets = departments + villages

    items = [
        {"round_id": round_id, "group_id": group_id, "target_id": t, "mode": "linked"}
        for t in targets
    ]
    api.statements.clear()
    resp = await api.client.post("/api/v1/assignments/batch", json={"items": items})
    assert resp.status_code == 201, resp.text
    created = resp.json()["items"]
    assert len(created) == 26
    assert {a["target_id"] for a in created} == set(targets)
    assert {(a["stationing_start"], a["stationing_end"]) for a in created} == {
        ("2018-09-03", "2018-10-31")
    }
    work = [
        s for s in api.statements if not s.lstrip().upper().startswith(("SAVEPOINT", "RELEASE"))
    ]
    assert len(work) <= 8, work
    listed = await api.client.get(
        "/api/v1/assignments", params={"round_id": round_id, "mode": "linked", "limit": 200}
    )
    assert len(listed.json()["items"]) == 26


async def test_a_batch_lands_whole_or_not_at_all(api: Api, sql: asyncpg.Connection) -> None:
    round_id = await new_round(sql)
    other_round = await new_round(sql)
    group_id = await api.group(round_id, "赤壁市委第一巡察组")
    foreign = await api.group(other_round, "赤壁市委第二巡察组")
    place = await township_with_village(api, "赵李桥")
    good = await api.target("羊楼洞村", parent=place.township)
    item = {"round_id": round_id, "group_id": group_id, "mode": "pinpoint"}

    invalid = await api.client.post(
        "/api/v1/assignments/batch",
        json={
            "items": [
                {**item, "target_id": good},
                {**item, "target_id": str(uuid.uuid4())},
                {**item, "target_id": place.village, "group_id": foreign},
                {**item, "target_id": good},
                {**item, "target_id": place.village, "mode": "cross"},
            ]
        },
    )
    body = problem(invalid, 422, "batch-invalid")
    assert fields(body) == [
        "items.1.target_id",
        "items.2.group_id",
        "items.3.target_id",
        "items.4.mode",
    ]

    person = await api.person("褚某")
    await api.post(f"/api/v1/people/{person}/postings", {"target_id": place.township})
    await api.member(group_id, person)
    conflict = await api.client.post(
        "/api/v1/assignments/batch",
        json={"items": [{**item, "target_id": good}, {**item, "target_id": place.village}]},
    )
    reasons = problem(conflict, 409, "avoidance-conflict")["reasons"]
    assert {r["target_id"] for r in reasons} == {good, place.village}
    assert {r["rule"] for r in reasons} == {"posting_at_parent"}
    listed = await api.client.get("/api/v1/assignments", params={"group_id": group_id})
    assert listed.json()["items"] == []

    await api.assign(round_id, group_id, place.township, override_reason="经研究同意")
    duplicate = await api.client.post(
        "/api/v1/assignments/batch",
        json={
            "items": [{**item, "target_id": place.township}],
            "override_reason": "经研究同意",
        },
    )
    assert problem(duplicate, 409, "assignment-exists")["existing"][0]["target_id"] == (
        place.township
    )
    empty = await api.client.post("/api/v1/assignments/batch", json={"items": []})
    assert fields(problem(empty, 422, "validation-failed")) == ["items"]


async def test_joint_and_cross_assignments(api: Api, sql: asyncpg.Connection) -> None:
    """联合式: with 咸宁市委第二巡察组 on 黄盖湖农场; 交叉式: a Chibi group on 通城县住建局."""
    round_id = await new_round(sql, jurisdiction="赤壁市")
    joint = await api.group(
        round_id, "赤壁市委联合巡察组", "joint", higher_level_group="咸宁市委第二巡察组"
    )
    municipal = await api.group(round_id, "赤壁市委第三巡察组")
    farm = await api.target("黄盖湖农场", "farm")
    housing = await api.target("通城县住建局党组", "department_party_group", "通城县")
    own = await api.target("赤壁市住建局党组", "department_party_group")

    assert (await api.assign(round_id, joint, farm, mode="joint"))["mode"] == "joint"
    assert (await api.assign(round_id, municipal, housing, mode="cross"))["mode"] == "cross"

    body = {"round_id": round_id, "group_id": municipal, "target_id": farm, "mode": "joint"}
    not_joint = await api.client.post("/api/v1/assignments", json=body)
    assert fields(problem(not_joint, 422, "mode-invalid")) == ["mode"]
    same_place = await api.client.post(
        "/api/v1/assignments", json={**body, "target_id": own, "mode": "cross"}
    )
    assert fields(problem(same_place, 422, "mode-invalid")) == ["mode"]

    # a group that names a higher-level group may work jointly without being a joint group
    await api.client.patch(
        f"/api/v1/groups/{municipal}", json={"higher_level_group": "咸宁市委第二巡察组"}
    )
    assert (await api.assign(round_id, municipal, farm, mode="joint"))["mode"] == "joint"
    # and cannot drop it while it has joint assignments
    dropped = await api.client.patch(
        f"/api/v1/groups/{municipal}", json={"higher_level_group": None}
    )
    assert fields(problem(dropped, 422, "group-structure-invalid")) == ["higher_level_group"]


async def test_assignment_validation_names_the_field(api: Api, sql: asyncpg.Connection) -> None:
    round_id = await new_round(sql)
    other_round = await new_round(sql)
    group_id = await api.group(round_id, "赤壁市委第一巡察组")
    foreign = await api.group(other_round, "赤壁市委第一巡察组")
    target = await api.target("柳山湖镇党委", "township_committee")
    base = {"round_id": round_id, "group_id": group_id, "target_id": target, "mode": "pinpoint"}
    cases = [
        ({"group_id": foreign}, "group-not-in-round", ["group_id"]),
        ({"round_id": str(uuid.uuid4())}, "reference-invalid", ["round_id", "group_id"]),
        ({"target_id": str(uuid.uuid4())}, "reference-invalid", ["target_id"]),
        ({"mode": "secret"}, "validation-failed", ["mode"]),
        (
            {"stationing_start": "2018-10-01", "stationing_end": "2018-09-01"},
            "validation-failed",
            ["stationing_end"],
        ),
    ]
    for extra, code, names in cases:
        resp = await api.client.post("/api/v1/assignments", json={**base, **extra})
        assert fields(problem(resp, 422, code)) == names, extra

    created = await api.client.post("/api/v1/assignments", json=base)
    assert created.status_code == 201
    assert created.headers["location"] == f"/api/v1/assignments/{created.json()['id']}"
    problem(await api.client.post("/api/v1/assignments", json=base), 409, "assignment-exists")

    url = created.headers["location"]
    etag = (await api.client.get(url)).headers["etag"]
    moved = await api.client.patch(
        url, json={"stationing_start": "2018-09-03"}, headers={"If-Match": etag}
    )
    assert moved.json()["stationing_start"] == "2018-09-03"
    stale = await api.client.patch(url, json={"mode": "data"}, headers={"If-Match": etag})
    problem(stale, 412, "precondition-failed")
    before_start = await api.client.patch(url, json={"stationing_end": "2018-09-01"})
    assert fields(problem(before_start, 422, "period-invalid")) == ["stationing_end"]
    cross = await api.client.patch(url, json={"mode": "cross"})
    assert fields(problem(cross, 422, "mode-invalid")) == ["mode"]

    since = moved.json()["updated_at"]
    assert (
        await api.client.delete(url, headers={"If-Match": moved.headers["etag"]})
    ).status_code == 204
    delta = await api.client.get("/api/v1/assignments", params={"updated_since": since})
    assert created.json()["id"] in delta.json()["deleted"]


# ---- who sees what --------------------------------------------------------------------------


async def test_leader_member_and_expert_see_what_they_may(
    api: Api, sql: asyncpg.Connection
) -> None:
    round_id = await new_round(sql)
    mine = await api.group(round_id, "赤壁市委第一巡察组")
    theirs = await api.group(round_id, "赤壁市委第二巡察组")
    leader_user, member_user, expert_user = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    leader = await api.person("组长", user_id=str(leader_user))
    member = await api.person("组员", user_id=str(member_user))
    stranger = await api.person("他人")
    await api.member(mine, leader, "leader")
    await api.member(mine, member)
    await api.member(theirs, stranger, "leader")
    my_job = await api.assign(round_id, mine, await api.target("石头口村"))
    their_job = await api.assign(round_id, theirs, await api.target("新店村"))

    as_leader = api.as_user(leader_user, ["group_leader"])
    as_member = api.as_user(member_user, ["group_member"])
    as_expert = api.as_user(expert_user, ["expert"])
    get = api.client.get

    # leader: their group, its members and assignments; nothing of the other group
    groups = await get("/api/v1/groups", params={"round_id": round_id}, headers=as_leader)
    assert [g["id"] for g in groups.json()["items"]] == [mine]
    assert (await get(f"/api/v1/groups/{theirs}", headers=as_leader)).status_code == 404
    members = await get(f"/api/v1/groups/{mine}/members", headers=as_leader)
    assert {m["person_id"] for m in members.json()["items"]} == {leader, member}
    assert (await get(f"/api/v1/groups/{theirs}/members", headers=as_leader)).status_code == 404
    jobs = await get("/api/v1/assignments", params={"round_id": round_id}, headers=as_leader)
    assert [a["id"] for a in jobs.json()["items"]] == [my_job["id"]]
    hidden = await get(f"/api/v1/assignments/{their_job['id']}", headers=as_leader)
    assert hidden.status_code == 404

    # member: only their group's assignments (out of their groups: 404)
    jobs = await get("/api/v1/assignments", params={"round_id": round_id}, headers=as_member)
    assert [a["id"] for a in jobs.json()["items"]] == [my_job["id"]]
    assert (await get(f"/api/v1/assignments/{my_job['id']}", headers=as_member)).status_code == 200
    hidden = await get(f"/api/v1/assignments/{their_job['id']}", headers=as_member)
    assert hidden.status_code == 404
    # groups are not granted to a plain member at all: refused by the policy table
    for url in ("/api/v1/groups", f"/api/v1/groups/{mine}", f"/api/v1/groups/{mine}/members"):
        problem(await get(url, headers=as_member), 403, "forbidden-by-policy")

    # expert without a group: no group or assignment route is granted; of the cadre pool
    # only their own record, and they have none
    people = await get("/api/v1/people", headers=as_expert)
    assert people.status_code == 200, people.text
    assert people.json()["items"] == []
    for url in (
        "/api/v1/groups",
        "/api/v1/assignments",
        f"/api/v1/groups/{mine}",
        f"/api/v1/assignments/{my_job['id']}",
    ):
        problem(await get(url, headers=as_expert), 403, "forbidden-by-policy")
    # a caller whose subject is no user id (a machine) matches no person, linked or not: even
    # with the field roles the table grants, it is in no group
    as_machine = api.as_user("report-exporter", ["group_leader", "group_member"])
    for url in ("/api/v1/groups", "/api/v1/assignments"):
        assert (await get(url, headers=as_machine)).json()["items"] == [], url
    assert (await get(f"/api/v1/groups/{mine}", headers=as_machine)).status_code == 404
    assert (await get(f"/api/v1/assignments/{my_job['id']}", headers=as_machine)).status_code == 404

    # writes are the office's
    for method, url, body in [
        ("POST", "/api/v1/people", {"name": "x", "unit": "y"}),
        ("POST", f"/api/v1/groups/{mine}/members", {"person_id": stranger, "role": "member"}),
        ("PATCH", f"/api/v1/assignments/{my_job['id']}", {"mode": "data"}),
        ("DELETE", f"/api/v1/groups/{mine}", None),
    ]:
        resp = await api.client.request(method, url, json=body, headers=as_leader)
        problem(resp, 403, "forbidden-by-policy")


async def test_each_person_reads_their_own_record_only(api: Api) -> None:
    """The cadre pool is the office's; anyone else reads only their own person record
    (PersonRepository.visible). NB: the policy table grants the people routes to READ only
    (admin, office, service), so this fails until the table grants the `self` scope."""
    member_user = uuid.uuid4()
    member = await api.person("组员", user_id=str(member_user))
    leader_user = uuid.uuid4()
    leader = await api.person("组长", user_id=str(leader_user))
    stranger = await api.person("他人")
    as_member = api.as_user(member_user, ["group_member"])
    as_leader = api.as_user(leader_user, ["group_leader"])
    get = api.client.get

    own = await get("/api/v1/people", headers=as_member)
    assert own.status_code == 200, own.text
    assert [p["id"] for p in own.json()["items"]] == [member]
    assert (await get(f"/api/v1/people/{member}", headers=as_member)).status_code == 200
    assert (await get(f"/api/v1/people/{leader}", headers=as_member)).status_code == 404
    assert (await get(f"/api/v1/people/{stranger}/postings", headers=as_leader)).status_code == 404
    # a machine subject matches no person, not every unlinked one
    as_machine = api.as_user("report-exporter", ["group_member"])
    assert (await get("/api/v1/people", headers=as_machine)).json()["items"] == []


async def test_enum_labels_and_problem_types_are_in_the_openapi(api: Api) -> None:
    spec = (await api.client.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    assert schemas["AvoidanceRule"]["x-enum-labels"]["posting_at_parent"] == (
        "曾在被巡察单位的上级单位任职"
    )
    assert schemas["GroupKind"]["x-enum-labels"]["township_sub"] == "乡镇党委巡察小组"
    assert schemas["AssignmentMode"]["x-enum-labels"]["cross"] == "交叉式"
    assert schemas["MemberRole"]["x-enum-labels"]["deputy_leader"] == "副组长"
    assert schemas["Speciality"]["x-enum-labels"]["law"] == "法律"
    members = spec["paths"]["/api/v1/groups/{group_id}/members"]["post"]
    assert "/problems/avoidance-conflict" in members["responses"]["409"]["description"]
    assert "/problems/station-overlap" in members["responses"]["409"]["description"]
    assert members["summary"].startswith("增加巡察组成员")


async def test_memberships_tell_other_services_a_users_groups(
    api: Api, sql: asyncpg.Connection
) -> None:
    round_id = await new_round(sql)
    user = uuid.uuid4()
    person = await api.person("王组长", user_id=str(user))
    group = await api.group(round_id, unique("第一巡察组"))
    await api.member(group, person, role="leader")
    path = f"/api/v1/groups/memberships?user_id={user}"

    as_service = {
        "Authorization": f"Bearer {api.mint('rounds', roles=['service'], sub='client:findings')}"
    }
    for headers in (api.as_user(user, ["group_leader"]), as_service, {}):
        resp = await api.client.get(path, headers=headers)
        assert resp.status_code == 200, resp.text
        assert [(m["group_id"], m["round_id"], m["role"]) for m in resp.json()] == [
            (group, round_id, "leader")
        ]
    other = await api.client.get(path, headers=api.as_user(uuid.uuid4(), ["group_member"]))
    assert other.status_code == 403
