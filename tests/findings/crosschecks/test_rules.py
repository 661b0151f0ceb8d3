"""Each built-in rule on small hand-made datasets: the right hits, and near-misses that must
not match."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest
from sqlalchemy.dialects import postgresql

from ops.stack import Database
from services.findings.crosschecks.models import CrosscheckRunRule, partition_of
from services.findings.crosschecks.rules import PRESENT_IN_MAX_ROWS
from services.findings.crosschecks.runs import rule_select
from tests.findings.conftest import World
from tests.findings.crosschecks.conftest import csv_bytes, hits, imported, person_id, run

pytestmark = pytest.mark.usefixtures("fast_jobs")
PAY = ["姓名", "身份证号", "金额", "发放日期", "银行账号", "项目"]


def subjects(found: list[dict]) -> set[str]:  # type: ignore[type-arg]
    return {h["subject"] for h in found}


def ids(found: list[dict]) -> set[str]:  # type: ignore[type-arg]
    return {
        r["id_number"]
        for h in found
        for r in h["rows"]
        if r["role"] in ("recipients", "payments", "claims")
    }


async def test_recipient_in_roster_by_id_and_by_tolerant_name(world: World) -> None:
    a, b, c, d = person_id(11), person_id(12), person_id(13), person_id(14)
    loans = await imported(
        world,
        csv_bytes(
            PAY,
            [
                ["张三", a, "50000", "2018-05-01", "", ""],
                [
                    "张三",
                    a,
                    "20000",
                    "2018-09-01",
                    "",
                    "",
                ],  # the same person twice: one hit, two rows
                ["李四", b, "30000", "2018-05-01", "", ""],
                ["王五", c, "30000", "2018-05-01", "", ""],
            ],
        ),
        kind="loan_recipients",
    )
    roster = await imported(
        world,
        csv_bytes(
            ["姓名", "身份证号", "单位", "入职日期", "离职日期"],
            [
                ["張三", a, "赤壁市财政局", "2010-01-01", ""],
                ["王 五", d, "赤壁市民政局", "2010-01-01", "2017-12-31"],  # near-miss: another ID
                ["赵六", person_id(15), "赤壁市教育局", "2010-01-01", ""],
            ],
        ),
        kind="staff_roster",
    )
    by_id = await run(world, [loans, roster], [{"code": "recipient_in_roster"}])
    found = await hits(world, by_id["id"])
    assert ids(found) == {a}
    [hit] = found
    assert sorted((r["role"], r["line"]) for r in hit["rows"]) == [
        ("recipients", 2),
        ("recipients", 3),
        ("roster", 2),
    ]
    assert hit["rule_code"] == "recipient_in_roster"
    assert hit["rule_version"] == 1
    assert {r["dataset_version_id"] for r in hit["rows"]} == {loans, roster}
    # by name: 王 五 (spaces) is 王五, 張三 (traditional) is 张三; 李四 and 赵六 are not there
    by_name = await run(
        world, [loans, roster], [{"code": "recipient_in_roster", "params": {"match_on": "name"}}]
    )
    assert {h["subject"].split()[0] for h in await hits(world, by_name["id"])} == {"张三", "王五"}
    # ID and name: 張三/张三 still one person; 王五 has another ID
    both = await run(
        world,
        [loans, roster],
        [{"code": "recipient_in_roster", "params": {"match_on": "id_number_and_name"}}],
    )
    assert ids(await hits(world, both["id"])) == {a}


async def test_recipient_in_roster_only_while_employed(world: World) -> None:
    a, b = person_id(21), person_id(22)
    loans = await imported(
        world,
        csv_bytes(
            PAY,
            [
                ["甲", a, "1000", "2018-05-01", "", ""],
                ["乙", b, "1000", "2018-05-01", "", ""],  # paid after leaving: a near-miss
            ],
        ),
        kind="loan_recipients",
    )
    roster = await imported(
        world,
        csv_bytes(
            ["姓名", "身份证号", "入职日期", "离职日期"],
            [
                ["甲", a, "2015-01-01", ""],
                ["乙", b, "2010-01-01", "2017-06-30"],
            ],
        ),
        kind="staff_roster",
    )
    found = await hits(
        world,
        (
            await run(
                world,
                [loans, roster],
                [{"code": "recipient_in_roster", "params": {"during_employment": True}}],
            )
        )["id"],
    )
    assert ids(found) == {a}


async def test_paid_after_death(world: World) -> None:
    a, b, c = person_id(31), person_id(32), person_id(33)
    pay = await imported(
        world,
        csv_bytes(
            PAY,
            [
                ["甲", a, "200", "2018-06-01", "", "高龄津贴"],
                ["甲", a, "200", "2018-04-01", "", "高龄津贴"],  # before death: not a matched row
                ["乙", b, "200", "2018-03-01", "", "高龄津贴"],  # paid on the day of death: no hit
                ["丙", c, "200", "2018-03-20", "", "高龄津贴"],  # within the grace days below
            ],
        ),
        kind="subsidy_recipients",
    )
    deaths = await imported(
        world,
        csv_bytes(
            ["姓名", "身份证号", "死亡日期"],
            [
                ["甲", a, "2018年5月3日"],
                ["乙", b, "2018-03-01"],
                ["丙", c, "2018-03-10"],
            ],
        ),
        kind="deaths",
    )
    found = await hits(
        world, (await run(world, [pay, deaths], [{"code": "paid_after_death"}]))["id"]
    )
    assert ids(found) == {a, c}
    [hit_a] = [h for h in found if a in h["subject"]]
    assert sorted((r["role"], r["line"]) for r in hit_a["rows"]) == [("deaths", 2), ("payments", 2)]
    grace = await hits(
        world,
        (
            await run(
                world, [pay, deaths], [{"code": "paid_after_death", "params": {"grace_days": 15}}]
            )
        )["id"],
    )
    assert ids(grace) == {a}


async def test_two_programmes_in_one_period(world: World) -> None:
    a, b, c = person_id(41), person_id(42), person_id(43)
    training = await imported(
        world,
        csv_bytes(
            PAY,
            [
                ["甲", a, "1500", "2018-03-01", "", "技能培训补贴"],
                ["乙", b, "1500", "2018-03-01", "", "技能培训补贴"],
                ["丙", c, "1500", "2018-03-01", "", "技能培训补贴"],
                [
                    "丙",
                    c,
                    "1500",
                    "2018-08-01",
                    "",
                    "技能培训补贴",
                ],  # the same programme twice: no hit
            ],
        ),
        kind="subsidy_recipients",
        dataset="培训补贴",
    )
    loans = await imported(
        world,
        csv_bytes(
            ["姓名", "身份证号", "金额", "发放日期"],
            [
                [
                    "甲",
                    a,
                    "50000",
                    "2018-11-20",
                ],  # the same year: a hit (the loans file is a programme)
                ["乙", b, "50000", "2019-01-05"],  # the next year: no hit
            ],
        ),
        kind="loan_recipients",
        dataset="创业担保贷款",
    )
    found = await hits(
        world, (await run(world, [training, loans], [{"code": "two_programmes_one_period"}]))["id"]
    )
    assert ids(found) == {a}
    monthly = await hits(
        world,
        (
            await run(
                world,
                [training, loans],
                [{"code": "two_programmes_one_period", "params": {"period": "month"}}],
            )
        )["id"],
    )
    assert monthly == []


async def test_recipient_is_a_cadre_or_a_declared_relative(world: World) -> None:
    cadre, wife, cousin, other = person_id(51), person_id(52), person_id(53), person_id(54)
    pay = await imported(
        world,
        csv_bytes(
            PAY,
            [
                ["村支书", cadre, "3000", "2018-05-01", "", "危房改造补助"],
                ["支书妻", wife, "3000", "2018-05-01", "", "危房改造补助"],
                ["某甲", other, "3000", "2018-05-01", "", "危房改造补助"],
            ],
        ),
        kind="subsidy_recipients",
    )
    cadres = await imported(
        world,
        csv_bytes(
            ["姓名", "身份证号", "关联人身份证号", "与村干部关系", "所在村"],
            [
                ["村支书", cadre, "", "本人", "车埠镇一村"],
                ["支书妻", wife, cadre, "配偶", "车埠镇一村"],
                ["表亲", cousin, cadre, "表兄弟", "车埠镇一村"],  # declared but received nothing
            ],
        ),
        kind="village_cadres",
    )
    found = await hits(
        world, (await run(world, [pay, cadres], [{"code": "recipient_is_cadre_or_relative"}]))["id"]
    )
    assert ids(found) == {cadre, wife}
    relation = {
        r["id_number"]: r["relation"] for h in found for r in h["rows"] if r["role"] == "cadres"
    }
    assert relation == {cadre: "本人", wife: "配偶"}
    only = await hits(
        world,
        (
            await run(
                world,
                [pay, cadres],
                [
                    {
                        "code": "recipient_is_cadre_or_relative",
                        "params": {"include_relatives": False},
                    }
                ],
            )
        )["id"],
    )
    assert ids(only) == {cadre}


async def test_one_account_shared_by_several_recipients(world: World) -> None:
    rows = [[f"人{n}", person_id(60 + n), "1000", "2018-05-01", "62220001", ""] for n in range(3)]
    rows += [[f"人{n}", person_id(70 + n), "1000", "2018-05-01", "62220002", ""] for n in range(2)]
    rows += [
        ["人9", person_id(79), "1000", "2018-05-01", "62220003", ""],
        ["人9", person_id(79), "1000", "2018-06-01", "62220003", ""],
    ]  # one person, twice
    pay = await imported(world, csv_bytes(PAY, rows), kind="loan_recipients")
    found = await hits(world, (await run(world, [pay], [{"code": "shared_account"}]))["id"])
    assert subjects(found) == {"账号 62220001"}
    assert len(found[0]["rows"]) == 3
    two = await hits(
        world,
        (await run(world, [pay], [{"code": "shared_account", "params": {"min_recipients": 2}}]))[
            "id"
        ],
    )
    assert subjects(two) == {"账号 62220001", "账号 62220002"}


async def test_amount_over_the_cap(world: World) -> None:
    a, b, c = person_id(81), person_id(82), person_id(83)
    loans = await imported(
        world,
        csv_bytes(
            ["姓名", "身份证号", "金额", "发放日期", "项目"],
            [
                ["甲", a, "150000.01", "2018-05-01", "个人创业"],
                ["乙", b, "150000.00", "2018-05-01", "个人创业"],  # at the cap: not above it
                ["丙", c, "300000", "2018-05-01", "合伙创业"],
            ],
        ),
        kind="loan_recipients",
    )
    found = await hits(
        world,
        (await run(world, [loans], [{"code": "amount_over_cap", "params": {"cap": "150000"}}]))[
            "id"
        ],
    )
    assert ids(found) == {a, c}
    one = await hits(
        world,
        (
            await run(
                world,
                [loans],
                [{"code": "amount_over_cap", "params": {"cap": "150000", "programme": "个人创业"}}],
            )
        )["id"],
    )
    assert ids(one) == {a}


async def test_a_rule_needs_its_datasets_and_valid_parameters(world: World) -> None:
    loans = await imported(
        world,
        csv_bytes(PAY, [["甲", person_id(91), "1", "2018-05-01", "", ""]]),
        kind="loan_recipients",
    )
    for rules, field in (
        ([{"code": "recipient_in_roster"}], "rules.0.datasets.roster"),
        ([{"code": "amount_over_cap"}], "rules.0.params"),
        ([{"code": "shared_account", "params": {"min_recipients": 1}}], "rules.0.params"),
        ([{"code": "no_such_rule"}], "rules.0.code"),
    ):
        resp = await world.http.post(
            "/api/v1/crosschecks/runs",
            json={
                "round_id": world.round_id,
                "dataset_version_ids": [loans],
                "rules": rules,
            },
            headers=world.office,
        )
        assert resp.status_code == 422, resp.text
        assert resp.json()["errors"][0]["field"] == field


@pytest.mark.parametrize(
    ("code", "params", "datasets", "small"),
    [
        ("recipient_in_roster", {"match_on": "id_number"}, ("recipients", "roster"), "roster"),
        ("recipient_in_roster", {"match_on": "name"}, ("recipients", "roster"), "roster"),
        ("paid_after_death", {}, ("payments", "deaths"), "deaths"),
        ("recipient_is_cadre_or_relative", {}, ("recipients", "cadres"), "cadres"),
    ],
)
async def test_the_larger_dataset_is_filtered_by_a_hashed_lookup_when_the_other_is_small(
    database: Database, code: str, params: dict[str, Any], datasets: tuple[str, str], small: str
) -> None:
    """The join's keys looked up in a hash of the smaller side's, before the larger side's
    rows are read whole (what made the run 1.9x the hand-written join); not when that side
    is too large to hash (a subquery read again for every row) or its size is unknown."""
    rule = CrosscheckRunRule(
        id=uuid.uuid4(), run_id=uuid.uuid4(), ordinal=0, rule_code=code, rule_version=1,
        title=code, params=params, datasets={role: [str(uuid.uuid4())] for role in datasets},
    )  # fmt: skip
    larger = next(role for role in datasets if role != small)

    async def plan(rows: dict[str, int] | None) -> str:
        sql = rule_select(rule, rows).compile(
            dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
        )
        conn = await asyncpg.connect(database.urls["findings"].replace("+asyncpg", ""))
        empty = conn.transaction()  # the versions' partitions, empty, rolled back
        await empty.start()
        try:
            await conn.execute("SET LOCAL search_path = findings; SET LOCAL work_mem = '64MB'")
            for [version] in rule.datasets.values():
                await conn.execute(
                    f"CREATE TABLE {partition_of(uuid.UUID(version))} PARTITION OF "
                    f"dataset_rows FOR VALUES IN ('{version}')"
                )
            return "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN {sql}"))
        finally:
            await empty.rollback()
            await conn.close()

    assert "hashed SubPlan" in await plan({larger: 1_000_000, small: 100_000})
    assert "SubPlan" not in await plan({larger: 1_000_000, small: PRESENT_IN_MAX_ROWS + 1})
    assert "SubPlan" not in await plan(None)
