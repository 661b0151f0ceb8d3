"""Coverage of a term and the planner, on data built straight in the rounds schema."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date

import httpx
import pytest
from sqlalchemy import text

from ops.stack import Database
from services.common.auth import KeySet
from services.common.db import Database as Engine
from services.rounds.app import create_app
from services.rounds.coverage.planner import Candidate, Slot, plan
from services.rounds.models import (
    Assignment,
    Group,
    GroupMember,
    Person,
    PersonPosting,
    Round,
    Target,
    Term,
)
from services.rounds.settings import RoundsSettings
from tests.conftest import MintToken, serve


@pytest.fixture
async def client(
    database: Database, test_keys: KeySet, mint: MintToken
) -> AsyncIterator[httpx.AsyncClient]:
    settings = RoundsSettings(database_url=database.urls["rounds"])
    headers = {"Authorization": f"Bearer {mint('rounds')}"}
    async with serve(create_app(settings, keys=test_keys), headers=headers) as c:
        yield c


@dataclass
class City:
    term: uuid.UUID
    round1: uuid.UUID
    round2: uuid.UUID
    towns: list[uuid.UUID]
    villages: dict[uuid.UUID, list[uuid.UUID]]
    departments: list[uuid.UUID]
    group_b: uuid.UUID
    group_c: uuid.UUID
    person_c: uuid.UUID


@pytest.fixture
async def city(database: Database) -> AsyncIterator[City]:
    """Two townships of three villages and two departments; round 1 (stationing) has inspected
    township 1 and its villages, round 2 (preparation) has planned department 1. In round 2,
    group B has room for 2 more, group C for 5 but a member once worked in township 2."""
    j = f"赤壁市-{uuid.uuid4().hex[:6]}"
    engine = Engine(RoundsSettings(database_url=database.urls["rounds"]))
    try:
        async with engine.sessions() as s:
            term = Term(name=f"第八届-{j}", starts_on=date(2016, 10, 1), ends_on=date(2021, 9, 30),
                        coverage_kinds=["township_committee", "village", "department_party_group"],
                        jurisdiction=j)  # fmt: skip
            s.add(term)
            towns, villages = [], {}
            for n in range(2):
                town = Target(
                    name=f"镇{n}", kind="township_committee", jurisdiction=j, created_by="t"
                )
                s.add(town)
                await s.flush()
                towns.append(town.id)
                vs = [Target(name=f"镇{n}村{i}", kind="village", jurisdiction=j, parent_id=town.id,
                             created_by="t", risk_class="high" if n == 1 else "medium")
                      for i in range(3)]  # fmt: skip
                s.add_all(vs)
                await s.flush()
                villages[town.id] = [v.id for v in vs]
            depts = [
                Target(name=f"局{i}", kind="department_party_group", jurisdiction=j, created_by="t")
                for i in range(2)
            ]
            elsewhere = Target(
                name="外县村", kind="village", jurisdiction="通城县-" + j, created_by="t"
            )
            enterprise = Target(name="国企", kind="enterprise", jurisdiction=j, created_by="t")
            s.add_all([*depts, elsewhere, enterprise])
            await s.flush()
            r1 = Round(term_id=term.id, number=1, name="第一轮", kind="special", state="stationing")
            r2 = Round(term_id=term.id, number=2, name="第二轮", kind="regular")
            s.add_all([r1, r2])
            await s.flush()
            a = Group(round_id=r1.id, kind="municipal", name="一组", owning_organisation="市委")
            b = Group(
                round_id=r2.id,
                kind="municipal",
                name="二组",
                owning_organisation="市委",
                capacity=3,
            )
            c = Group(
                round_id=r2.id,
                kind="municipal",
                name="三组",
                owning_organisation="市委",
                capacity=5,
            )
            s.add_all([a, b, c])
            await s.flush()
            s.add_all(
                [Assignment(round_id=r1.id, group_id=a.id, target_id=t, mode="linked",
                            created_by="t")
                 for t in [towns[0], *villages[towns[0]]]]
                + [Assignment(round_id=r2.id, group_id=b.id, target_id=depts[0].id, mode="linked",
                              created_by="t")]
            )  # fmt: skip
            person = Person(name="王某", unit="市财政局")
            s.add(person)
            await s.flush()
            s.add_all([
                GroupMember(group_id=c.id, person_id=person.id, role="member"),
                PersonPosting(person_id=person.id, target_id=towns[1], position="副镇长"),
            ])  # fmt: skip
            await s.commit()
            yield City(term.id, r1.id, r2.id, towns, villages, [d.id for d in depts], b.id, c.id,
                       person.id)  # fmt: skip
    finally:
        await engine.dispose()


async def test_coverage_counts_inspected_planned_and_remaining(
    client: httpx.AsyncClient, city: City
) -> None:
    resp = await client.get("/api/v1/coverage", params={"term_id": str(city.term)})
    assert resp.status_code == 200, resp.text
    cov = resp.json()
    assert cov["overall"] == {"total": 10, "inspected": 4, "planned": 1, "remaining": 5}
    kinds = {
        k["kind"]: (k["label"], k["total"], k["inspected"], k["planned"]) for k in cov["by_kind"]
    }
    assert kinds == {
        "department_party_group": ("部门党组（党委）", 2, 0, 1),
        "township_committee": ("乡镇党委", 2, 1, 0),
        "village": ("村", 6, 3, 0),
    }
    towns = {
        t["township"]: (t["total"], t["inspected"], t["remaining"]) for t in cov["by_township"]
    }
    assert towns == {"镇0": (4, 4, 0), "镇1": (4, 0, 4), "县直单位及其他": (2, 0, 1)}


async def test_planner_respects_avoidance_capacity_and_keeps_clusters(
    client: httpx.AsyncClient, city: City, database: Database
) -> None:
    resp = await client.post(
        "/api/v1/coverage/plans",
        json={"term_id": str(city.term), "round_ids": [str(city.round2)], "mode": "linked"},
    )
    assert resp.status_code == 201, resp.text
    proposal = resp.json()
    placed = {g["group_id"]: set(g["target_ids"]) for g in proposal["groups"]}
    township2 = {city.towns[1], *city.villages[city.towns[1]]}
    # group C has a member who worked in township 2: none of it goes to C
    assert not {str(t) for t in township2} & placed.get(str(city.group_c), set())
    # B had room for two: two units of township 2 (high risk first), the rest cannot be placed
    assert len(placed[str(city.group_b)]) == 2
    assert placed[str(city.group_b)] <= {str(t) for t in township2}
    assert len(proposal["unplaced"]) == 2
    assert all(u["reason"].startswith("avoidance") for u in proposal["unplaced"])
    # the remaining department goes to C
    assert placed[str(city.group_c)] == {str(city.departments[1])}
    # nothing assigned yet
    cov = (await client.get("/api/v1/coverage", params={"term_id": str(city.term)})).json()
    assert cov["overall"]["planned"] == 1

    accepted = await client.post(
        f"/api/v1/coverage/plans/{proposal['id']}/accept",
        headers={"If-Match": resp.headers["etag"]},
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    cov = (await client.get("/api/v1/coverage", params={"term_id": str(city.term)})).json()
    assert cov["overall"] == {"total": 10, "inspected": 4, "planned": 4, "remaining": 2}
    # each assignment the plan made is announced, in the same transaction
    engine = Engine(RoundsSettings(database_url=database.urls["rounds"]))
    try:
        async with engine.engine.connect() as conn:
            announced = (
                (
                    await conn.execute(
                        text(
                            "SELECT payload->>'target_id' FROM rounds.outbox "
                            "WHERE type = 'assignment.created' AND payload->>'round_id' = :r"
                        ),
                        {"r": str(city.round2)},
                    )
                )
                .scalars()
                .all()
            )
    finally:
        await engine.dispose()
    assert sorted(announced) == sorted(t for ts in placed.values() for t in ts)
    again = await client.post(f"/api/v1/coverage/plans/{proposal['id']}/accept")
    assert again.status_code == 409
    assert again.json()["type"] == "/problems/plan-not-open"


async def test_accepting_an_outdated_plan_is_refused(
    client: httpx.AsyncClient, city: City, database: Database
) -> None:
    proposal = (
        await client.post(
            "/api/v1/coverage/plans",
            json={"term_id": str(city.term), "round_ids": [str(city.round2)], "mode": "linked"},
        )
    ).json()
    # meanwhile the member of group C declares a posting at the department C was given
    engine = Engine(RoundsSettings(database_url=database.urls["rounds"]))
    try:
        async with engine.sessions() as s:
            s.add(PersonPosting(person_id=city.person_c, target_id=city.departments[1]))
            await s.commit()
    finally:
        await engine.dispose()
    refused = await client.post(f"/api/v1/coverage/plans/{proposal['id']}/accept")
    assert refused.status_code == 409
    assert refused.json()["type"] == "/problems/plan-outdated"
    assert refused.json()["conflicts"] == [
        {"group_id": str(city.group_c), "target_id": str(city.departments[1])}
    ]
    cov = (await client.get("/api/v1/coverage", params={"term_id": str(city.term)})).json()
    assert cov["overall"]["planned"] == 1  # nothing was assigned


async def test_plans_only_for_open_rounds_of_the_term(
    client: httpx.AsyncClient, city: City
) -> None:
    resp = await client.post(
        "/api/v1/coverage/plans",
        json={"term_id": str(city.term), "round_ids": [str(city.round1), str(uuid.uuid4())],
              "mode": "linked"},
    )  # fmt: skip
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "round_ids"


async def test_coverage_is_for_the_office_only(
    client: httpx.AsyncClient, city: City, mint: MintToken
) -> None:
    leader = {"Authorization": f"Bearer {mint('rounds', roles=['group_leader'])}"}
    resp = await client.get("/api/v1/coverage", params={"term_id": str(city.term)}, headers=leader)
    assert resp.status_code == 403
    missing = await client.get("/api/v1/coverage", params={"term_id": str(uuid.uuid4())})
    assert missing.status_code == 404


def test_a_cluster_too_big_for_any_group_spans_as_few_groups_as_possible() -> None:
    town = uuid.uuid4()
    cluster = [Candidate(uuid.uuid4(), f"村{i}", town, "medium") for i in range(7)]
    slots = [Slot(uuid.uuid4(), 1, uuid.uuid4(), room) for room in (4, 3, 3)]
    result = plan(cluster, slots, blocked=set())
    sizes = sorted(len(s.placed) for s in result.slots)
    assert sizes == [0, 3, 4]
    assert result.unplaced == []


def test_whole_clusters_go_to_the_roomiest_group_and_balance() -> None:
    slots = [Slot(uuid.uuid4(), 1, uuid.uuid4(), 6), Slot(uuid.uuid4(), 2, uuid.uuid4(), 6)]
    targets = []
    for n in range(4):
        town = uuid.uuid4()
        targets += [Candidate(uuid.uuid4(), f"镇{n}村{i}", town, "low") for i in range(3)]
    result = plan(targets, slots, blocked=set())
    assert [len(s.placed) for s in result.slots] == [6, 6]
    for s in result.slots:  # each township whole in one group
        towns = {t.township_id for t in targets if t.id in s.placed}
        assert len(towns) == 2
