"""User-defined rules: a declarative spec over allowed fields and operators, compiled to SQL
(never SQL from the user); versioned; run like the built-in ones."""

from __future__ import annotations

import pytest

from tests.findings.conftest import World
from tests.findings.crosschecks.conftest import csv_bytes, hits, imported, person_id, run

pytestmark = pytest.mark.usefixtures("fast_jobs")

BIG_LOAN_WITH_A_CAR = {
    "roles": {"loans": {"kinds": ["loan_recipients"]}, "cars": {"kinds": ["vehicles"]}},
    "join": [{"left": "loans.id_number", "op": "eq", "right": "cars.id_number"}],
    "where": [
        {"field": "loans.amount", "op": "ge", "value": "100000"},
        {"field": "cars.date1", "op": "le", "other": "loans.date1"},
    ],
    "key": ["loans.id_number"],
}


async def test_a_user_rule_runs_like_a_built_in_one(world: World) -> None:
    a, b, c = person_id(201), person_id(202), person_id(203)
    resp = await world.http.post(
        "/api/v1/crosschecks/rules",
        json={
            "code": "big_loan_with_a_car",
            "title": "大额贷款人名下有车",
            "spec": BIG_LOAN_WITH_A_CAR,
        },
        headers=world.office,
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["version"] == 1
    assert resp.json()["builtin"] is False
    loans = await imported(
        world,
        csv_bytes(
            ["姓名", "身份证号", "金额", "发放日期"],
            [
                ["甲", a, "150000", "2018-05-01"],
                ["乙", b, "50000", "2018-05-01"],  # too small
                ["丙", c, "150000", "2018-05-01"],  # the car came later
            ],
        ),
        kind="loan_recipients",
    )
    cars = await imported(
        world,
        csv_bytes(
            ["姓名", "身份证号", "登记日期"],
            [
                ["甲", a, "2017-01-01"],
                ["乙", b, "2017-01-01"],
                ["丙", c, "2019-01-01"],
            ],
        ),
        kind="vehicles",
    )
    r = await run(world, [loans, cars], [{"code": "big_loan_with_a_car"}])
    found = await hits(world, r["id"])
    assert [h["subject"] for h in found] == [f"甲 {a}"]
    assert found[0]["rule_version"] == 1
    # a new version: the threshold lowered; hits name the version they came from
    etag = (
        await world.http.get("/api/v1/crosschecks/rules/big_loan_with_a_car", headers=world.office)
    ).headers["etag"]
    spec = {
        **BIG_LOAN_WITH_A_CAR,
        "where": [
            {"field": "loans.amount", "op": "ge", "value": "10000"},
            BIG_LOAN_WITH_A_CAR["where"][1],
        ],
    }
    changed = await world.http.patch(
        "/api/v1/crosschecks/rules/big_loan_with_a_car",
        json={"spec": spec},
        headers={**world.office, "If-Match": etag},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 2
    again = await hits(
        world, (await run(world, [loans, cars], [{"code": "big_loan_with_a_car"}]))["id"]
    )
    assert sorted(h["subject"] for h in again) == [f"乙 {b}", f"甲 {a}"]
    assert {h["rule_version"] for h in again} == {2}


async def test_names_in_a_spec_compare_tolerantly(world: World) -> None:
    spec = {
        "roles": {"p": {"kinds": ["subsidy_recipients"]}},
        "where": [{"field": "p.name", "op": "in", "value": ["張 三", "王五"]}],
    }
    resp = await world.http.post(
        "/api/v1/crosschecks/rules",
        json={"code": "named_people", "title": "点名核查", "spec": spec},
        headers=world.office,
    )
    assert resp.status_code == 201, resp.text
    pay = await imported(
        world,
        csv_bytes(
            ["姓名", "身份证号", "金额", "项目"],
            [
                ["张三", person_id(211), "100", "低保"],
                ["李四", person_id(212), "100", "低保"],
            ],
        ),
        kind="subsidy_recipients",
    )
    found = await hits(world, (await run(world, [pay], [{"code": "named_people"}]))["id"])
    assert [h["subject"] for h in found] == [f"张三 {person_id(211)}"]


@pytest.mark.parametrize(
    ("spec", "where"),
    [
        (
            {
                "roles": {"a": {"kinds": ["deaths"]}},
                "where": [{"field": "a.salary", "op": "gt", "value": 1}],
            },
            "salary",
        ),
        (
            {
                "roles": {"a": {"kinds": ["deaths"]}},
                "where": [{"field": "a.name", "op": "like", "value": "%"}],
            },
            "op",
        ),
        (
            {
                "roles": {"a": {"kinds": ["deaths"]}},
                "where": [{"field": "a.date1", "op": "gt", "value": "1; DROP TABLE x"}],
            },
            "date",
        ),
        ({"roles": {"a": {"kinds": ["deaths"]}, "b": {"kinds": ["staff_roster"]}}}, "joined"),
        (
            {
                "roles": {"a": {"kinds": ["deaths"]}},
                "where": [{"field": "a.amount", "op": "gt", "other": "a.name"}],
            },
            "type",
        ),
        ({"roles": {"A; --": {"kinds": ["deaths"]}}}, "roles"),
        ({"roles": {"a": {"kinds": ["deaths"]}}, "sql": "SELECT 1"}, "sql"),
    ],
)
async def test_a_spec_outside_the_allow_lists_is_422(world: World, spec: dict, where: str) -> None:  # type: ignore[type-arg]
    resp = await world.http.post(
        "/api/v1/crosschecks/rules",
        json={"code": "bad_rule", "title": "坏规则", "spec": spec},
        headers=world.office,
    )
    assert resp.status_code == 422, resp.text


async def test_only_the_office_writes_rules(world: World) -> None:
    spec = {"roles": {"a": {"kinds": ["deaths"]}}}
    resp = await world.http.post(
        "/api/v1/crosschecks/rules",
        json={"code": "leaders_rule", "title": "组长规则", "spec": spec},
        headers=world.as_(world.leader_a),
    )
    assert resp.status_code == 403
    builtin = await world.http.post(
        "/api/v1/crosschecks/rules",
        json={"code": "shared_account", "title": "重名", "spec": spec},
        headers=world.office,
    )
    assert builtin.status_code == 409
    listed = (
        await world.http.get("/api/v1/crosschecks/rules", headers=world.as_(world.leader_a))
    ).json()
    assert {
        "recipient_in_roster",
        "paid_after_death",
        "two_programmes_one_period",
        "recipient_is_cadre_or_relative",
        "shared_account",
        "amount_over_cap",
    } <= {r["code"] for r in listed}
    assert all(r["description"] for r in listed if r["builtin"])
