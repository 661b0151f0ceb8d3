"""Deleting a dataset version: the office only, If-Match required, refused while a run over it
has not finished; its rows go, open hits on them go, decided hits keep a copy of their rows
(and a confirmed hit's finding keeps its evidence)."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from ops.stack import Database
from tests.findings.conftest import World
from tests.findings.crosschecks.conftest import csv_bytes, hits, imported, person_id, run

pytestmark = pytest.mark.usefixtures("fast_jobs")
LOANS = ["姓名", "身份证号", "贷款金额", "发放日期"]
ROSTER = ["姓名", "身份证号", "单位"]


async def _sql(database: Database, query: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database.urls["findings"].replace("+asyncpg", ""))
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def _rows_of(database: Database, version: str) -> int:
    [found] = await _sql(
        database,
        "SELECT count(*) AS n FROM findings.dataset_rows WHERE version_id = $1",
        uuid.UUID(version),
    )
    return int(found["n"])


async def _etag(world: World, version: str) -> str:
    resp = await world.http.get(f"/api/v1/datasets/{version}", headers=world.office)
    assert resp.status_code == 200, resp.text
    return resp.headers["etag"]


async def test_deleting_a_version_takes_its_rows_and_wants_the_etag(
    world: World, database: Database
) -> None:
    loans = csv_bytes(LOANS, [["甲", person_id(1), "100", "2018-05-01"],
                              ["乙", person_id(2), "200", "2018-05-02"]])  # fmt: skip
    version = await imported(world, loans, kind="loan_recipients", dataset="待删除")
    other = await imported(world, loans, kind="loan_recipients", dataset="待删除")
    etag = await _etag(world, version)
    url = f"/api/v1/datasets/{version}"

    resp = await world.http.delete(url, headers=world.office)
    assert resp.status_code == 428
    assert resp.headers["content-type"].startswith("application/problem+json")
    resp = await world.http.delete(url, headers={**world.office, "If-Match": '"v9"'})
    assert resp.status_code == 412
    assert await _rows_of(database, version) == 2

    resp = await world.http.delete(url, headers={**world.office, "If-Match": etag})
    assert resp.status_code == 204, resp.text
    assert (await world.http.get(url, headers=world.office)).status_code == 404
    assert await _rows_of(database, version) == 0
    # the other version of the same dataset is untouched
    assert await _rows_of(database, other) == 2
    listed = await world.http.get(
        "/api/v1/datasets", params={"dataset": "待删除"}, headers=world.office
    )
    assert [v["id"] for v in listed.json()["items"]] == [other]
    resp = await world.http.delete(url, headers={**world.office, "If-Match": etag})
    assert resp.status_code == 404


async def test_only_the_office_deletes(world: World, database: Database) -> None:
    version = await imported(
        world,
        csv_bytes(ROSTER, [["张三", person_id(5), "赤壁市财政局"]]),
        kind="staff_roster",
        round_id=world.round_id,
    )
    etag = await _etag(world, version)
    leader = world.as_(world.leader_a)
    # the round's leader sees it, and may use it, but not delete it
    assert (await world.http.get(f"/api/v1/datasets/{version}", headers=leader)).status_code == 200
    resp = await world.http.delete(
        f"/api/v1/datasets/{version}", headers={**leader, "If-Match": etag}
    )
    assert resp.status_code == 403
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert await _rows_of(database, version) == 1
    assert (await world.http.get(f"/api/v1/datasets/{version}", headers=leader)).status_code == 200


async def test_a_version_a_run_still_uses_is_not_deleted(world: World, database: Database) -> None:
    roster = await imported(
        world,
        csv_bytes(ROSTER, [["张三", person_id(11), "赤壁市人社局"]]),
        kind="staff_roster",
        round_id=world.round_id,
    )
    loans = await imported(
        world,
        csv_bytes(LOANS, [["张三", person_id(11), "50000", "2018-05-01"]]),
        kind="loan_recipients",
        round_id=world.round_id,
    )
    done = await run(world, [roster, loans], [{"code": "recipient_in_roster"}])
    # a second run over the roster, as a worker has it: claimed and running
    [job] = await _sql(
        database,
        "SELECT id FROM findings.crosscheck_jobs WHERE id = $1",
        uuid.UUID(done["job"]["id"]),
    )
    await _sql(
        database,
        "UPDATE findings.crosscheck_jobs SET state = 'running', "
        "lease_until = now() + interval '1 hour' WHERE id = $1",
        job["id"],
    )
    etag = await _etag(world, roster)
    try:
        resp = await world.http.delete(
            f"/api/v1/datasets/{roster}",
            headers={**world.office, "If-Match": etag, "Accept-Language": "zh-CN"},
        )
        assert resp.status_code == 409
        problem = resp.json()
        assert problem["type"] == "/problems/dataset-in-use"
        assert problem["runs"] == [done["id"]]
        assert "尚未完成" in problem["detail"]
        assert await _rows_of(database, roster) == 1
    finally:
        await _sql(
            database,
            "UPDATE findings.crosscheck_jobs SET state = 'done', lease_until = NULL WHERE id = $1",
            job["id"],
        )
    resp = await world.http.delete(
        f"/api/v1/datasets/{roster}", headers={**world.office, "If-Match": etag}
    )
    assert resp.status_code == 204, resp.text


async def test_decided_hits_keep_their_rows_and_open_hits_go(
    world: World, database: Database
) -> None:
    roster = await imported(
        world,
        csv_bytes(
            ROSTER,
            [
                ["张三", person_id(21), "赤壁市人社局"],
                ["李四", person_id(22), "赤壁市财政局"],
                ["王五", person_id(23), "赤壁市水利局"],
            ],
        ),
        kind="staff_roster",
        round_id=world.round_id,
    )
    loans_file = csv_bytes(LOANS, [["张三", person_id(21), "50000", "2018-05-01"],
                                   ["李四", person_id(22), "30000", "2018-06-01"],
                                   ["王五", person_id(23), "20000", "2018-07-01"]])  # fmt: skip
    loans = await imported(
        world, loans_file, kind="loan_recipients", dataset="删除后的疑点", round_id=world.round_id
    )
    first = await run(world, [roster, loans], [{"code": "recipient_in_roster"}])
    by_person = {h["rows"][0]["id_number"]: h for h in await hits(world, first["id"])}
    assert len(by_person) == 3
    confirmed, dismissed, left_open = (by_person[person_id(n)] for n in (21, 22, 23))
    leader = world.as_(world.leader_a)
    resp = await world.http.post(
        f"/api/v1/crosschecks/hits/{confirmed['id']}/confirm",
        json={"assignment_id": world.asg_a, "category_id": world.categories[0]},
        headers=leader,
    )
    assert resp.status_code == 200, resp.text
    finding = resp.json()
    resp = await world.http.post(
        f"/api/v1/crosschecks/hits/{dismissed['id']}/dismiss",
        json={"reason": "已核实为同名不同人"},
        headers=leader,
    )
    assert resp.status_code == 200, resp.text
    before = {h: (await world.http.get(f"/api/v1/crosschecks/hits/{h}", headers=leader)).json()
              for h in (confirmed["id"], dismissed["id"])}  # fmt: skip

    resp = await world.http.delete(
        f"/api/v1/datasets/{loans}",
        headers={**world.office, "If-Match": await _etag(world, loans)},
    )
    assert resp.status_code == 204, resp.text
    assert await _rows_of(database, loans) == 0

    for hit_id, read in before.items():
        after = (await world.http.get(f"/api/v1/crosschecks/hits/{hit_id}", headers=leader)).json()
        assert after["rows"] == read["rows"]  # the loans' rows, kept in the hit
        assert after["status"] == read["status"]
    loan_row = next(r for r in before[confirmed["id"]]["rows"] if r["role"] == "recipients")
    assert (loan_row["dataset"], loan_row["amount"], loan_row["date1"]) == (
        "删除后的疑点", "50000.00", "2018-05-01")  # fmt: skip
    gone = await world.http.get(f"/api/v1/crosschecks/hits/{left_open['id']}", headers=leader)
    assert gone.status_code == 404
    got = (await world.http.get(f"/api/v1/crosschecks/runs/{first['id']}", headers=leader)).json()
    assert got["hit_count"] == 2
    # the finding keeps its evidence file
    [evidence] = (
        await world.http.get(f"/api/v1/findings/{finding['id']}/evidence", headers=leader)
    ).json()
    data = await world.http.get(
        f"/api/v1/findings/{finding['id']}/evidence/{evidence['id']}", headers=leader
    )
    assert data.status_code == 200

    # the same data again: the open match comes back, the dismissed one stays dismissed
    again = await imported(
        world, loans_file, kind="loan_recipients", dataset="删除后的疑点", round_id=world.round_id
    )
    second = await run(world, [roster, again], [{"code": "recipient_in_roster"}])
    assert sorted(h["rows"][0]["id_number"] for h in await hits(world, second["id"])) == [
        person_id(21),
        person_id(23),
    ]
