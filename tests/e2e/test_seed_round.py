"""The seed's special round (2018年第二轮 扶贫领域专项巡察), built through the gateway as the
office would: "3+10" groups, "3+23" targets at once, a joint and a cross assignment, then the
term's coverage read back."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.e2e.conftest import System

pytestmark = pytest.mark.e2e

DEPARTMENTS = ["扶贫办党组", "发改局党组", "民政局党组"]
TOWNSHIPS = [
    "赤马港",
    "蒲圻",
    "陆水湖",
    "中伙铺",
    "官塘驿",
    "新店",
    "赵李桥",
    "茶庵岭",
    "车埠",
    "赤壁镇",
]


def ok(resp: httpx.Response, status: int = 201) -> dict:  # type: ignore[type-arg]
    assert resp.status_code == status, resp.text
    return resp.json()  # type: ignore[no-any-return]


def test_the_seed_special_round_and_its_coverage(system: System) -> None:
    tag = uuid.uuid4().hex[:6]
    city, other = f"赤壁市{tag}", f"通城县{tag}"
    gw = httpx.Client(base_url=system.gateway, headers=system.auth, timeout=30)

    # the registry, in one import: 3 departments, 10 townships, 23 poor villages, a farm, and a
    # unit of another county
    lines = ["名称,类别,辖区,上级单位,风险等级"]
    lines += [f"{d},部门党组（党委）,{city},," for d in DEPARTMENTS]
    lines += [f"{t}党委,乡镇党委,{city},," for t in TOWNSHIPS]
    lines += [f"{TOWNSHIPS[i % 10]}第{i}村,村,{city},{TOWNSHIPS[i % 10]}党委,高" for i in range(23)]
    lines += [f"黄盖湖农场,农场,{city},,", f"通城县住建局党组,部门党组（党委）,{other},,"]
    imported = ok(
        gw.post(
            "/api/v1/targets/import",
            files={"file": ("对象.csv", "\n".join(lines).encode("gb18030"))},
        )
    )
    assert imported["imported"] == 38
    ids = imported["ids"]
    departments, villages = ids[:3], ids[13:36]
    farm, tongcheng = ids[36], ids[37]

    term = ok(
        gw.post(
            "/api/v1/terms",
            json={
                "name": f"中共赤壁市第八届委员会{tag}",
                "starts_on": "2016-10-01",
                "ends_on": "2021-09-30",
                "coverage_kinds": ["department_party_group", "township_committee", "village"],
                "jurisdiction": city,
            },
        )
    )
    rnd = ok(
        gw.post(
            "/api/v1/rounds",
            json={
                "term_id": term["id"],
                "number": 2,
                "name": "2018年第二轮 扶贫领域专项巡察",
                "kind": "special",
                "theme": "脱贫攻坚",
            },
        )
    )

    # "3+10": three municipal groups, ten township sub-groups assisting them, deputies seconded
    # from the discipline commission, and a joint group with the higher level
    def person(name: str, unit: str) -> str:
        return str(ok(gw.post("/api/v1/people", json={"name": name, "unit": unit}))["id"])

    municipal = []
    for n in range(3):
        group = ok(
            gw.post(
                "/api/v1/groups",
                json={
                    "round_id": rnd["id"],
                    "kind": "municipal",
                    "name": f"赤壁市委第{n + 1}巡察组",
                    "owning_organisation": "中共赤壁市委",
                    "capacity": 30,
                },
            )
        )
        municipal.append(group["id"])
        ok(
            gw.post(
                f"/api/v1/groups/{group['id']}/members",
                json={"person_id": person(f"组长{n}", "市委巡察办"), "role": "leader"},
            )
        )
        deputy = ok(
            gw.post(
                f"/api/v1/groups/{group['id']}/members",
                json={
                    "person_id": person(f"副组长{n}", "市纪委监委"),
                    "role": "deputy_leader",
                    "seconded_from": "赤壁市纪委监委",
                },
            )
        )
        assert deputy["seconded_from"] == "赤壁市纪委监委"
    for n, town in enumerate(TOWNSHIPS):
        ok(
            gw.post(
                "/api/v1/groups",
                json={
                    "round_id": rnd["id"],
                    "kind": "township_sub",
                    "name": f"{town}党委巡察小组",
                    "owning_organisation": f"{town}党委",
                    "lead_group_id": municipal[n % 3],
                },
            )
        )
    joint = ok(
        gw.post(
            "/api/v1/groups",
            json={
                "round_id": rnd["id"],
                "kind": "joint",
                "name": "上下联合巡察组",
                "owning_organisation": "中共赤壁市委",
                "higher_level_group": "咸宁市委第二巡察组",
            },
        )
    )
    groups = ok(gw.get("/api/v1/groups", params={"round_id": rnd["id"], "limit": 50}), 200)
    kinds = [g["kind"] for g in groups["items"]]
    assert (kinds.count("municipal"), kinds.count("township_sub"), kinds.count("joint")) == (
        3,
        10,
        1,
    )

    # "3+23": the first group inspects three departments and 23 villages at once
    batch = ok(
        gw.post(
            "/api/v1/assignments/batch",
            json={
                "items": [
                    {
                        "round_id": rnd["id"],
                        "group_id": municipal[0],
                        "target_id": t,
                        "mode": "backtrace",
                    }
                    for t in departments + villages
                ]
            },
        )
    )
    assert len(batch["items"]) == 26
    ok(
        gw.post(
            "/api/v1/assignments",
            json={
                "round_id": rnd["id"],
                "group_id": joint["id"],
                "target_id": farm,
                "mode": "joint",
            },
        )
    )
    ok(
        gw.post(
            "/api/v1/assignments",
            json={
                "round_id": rnd["id"],
                "group_id": municipal[1],
                "target_id": tongcheng,
                "mode": "cross",
            },
        )
    )
    not_cross = gw.post(
        "/api/v1/assignments",
        json={
            "round_id": rnd["id"],
            "group_id": municipal[1],
            "target_id": departments[0],
            "mode": "cross",
        },
    )
    assert not_cross.status_code == 422

    before = ok(gw.get("/api/v1/coverage", params={"term_id": term["id"]}), 200)
    assert before["overall"] == {"total": 36, "inspected": 0, "planned": 26, "remaining": 10}

    for state in ("mobilisation", "stationing"):
        current = ok(gw.get(f"/api/v1/rounds/{rnd['id']}"), 200)
        assert current["state"] != state
        ok(gw.post(f"/api/v1/rounds/{rnd['id']}/transitions", json={"to": state}), 201)
    skipped = gw.post(f"/api/v1/rounds/{rnd['id']}/transitions", json={"to": "archived"})
    assert skipped.status_code == 409

    coverage = ok(gw.get("/api/v1/coverage", params={"term_id": term["id"]}), 200)
    assert coverage["overall"] == {"total": 36, "inspected": 26, "planned": 0, "remaining": 10}
    by_kind = {k["kind"]: (k["total"], k["inspected"]) for k in coverage["by_kind"]}
    assert by_kind == {
        "department_party_group": (3, 3),
        "township_committee": (10, 0),
        "village": (23, 23),
    }
    assert len(coverage["by_township"]) == 11  # ten townships and the county-level units
    gw.close()
