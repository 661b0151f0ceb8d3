"""The target registry: concurrency, deletion, delta sync, bulk import, who sees what."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest
from openpyxl import Workbook

from ops.stack import Database
from services.common.auth import KeySet
from services.common.db import Database as Engine
from services.rounds.app import create_app
from services.rounds.models import Assignment, Group, GroupMember, Person, Round, Term
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


def tag() -> str:
    return uuid.uuid4().hex[:8]


async def make(client: httpx.AsyncClient, **body: object) -> dict[str, object]:
    payload = {"kind": "village", "jurisdiction": "赤壁市", **body}
    resp = await client.post("/api/v1/targets", json=payload)
    assert resp.status_code == 201, resp.text
    data: dict[str, object] = resp.json()
    return data


async def test_patch_honours_if_match_and_changes_the_etag(client: httpx.AsyncClient) -> None:
    target = await make(client, name=f"村-{tag()}")
    read = await client.get(f"/api/v1/targets/{target['id']}")
    etag = read.headers["etag"]
    changed = await client.patch(
        f"/api/v1/targets/{target['id']}", json={"risk_class": "high"}, headers={"If-Match": etag}
    )
    assert changed.status_code == 200
    assert changed.json()["risk_class"] == "high"
    assert changed.headers["etag"] != etag
    stale = await client.patch(
        f"/api/v1/targets/{target['id']}", json={"risk_class": "low"}, headers={"If-Match": etag}
    )
    assert stale.status_code == 412
    assert stale.json()["current_etag"] == changed.headers["etag"]
    assert (await client.get(f"/api/v1/targets/{target['id']}")).json()["risk_class"] == "high"


async def test_a_target_cannot_move_under_its_own_village(client: httpx.AsyncClient) -> None:
    township = await make(client, name=f"镇-{tag()}", kind="township_committee")
    village = await make(client, name=f"村-{tag()}", parent_id=township["id"])
    resp = await client.patch(
        f"/api/v1/targets/{township['id']}", json={"parent_id": village["id"]}
    )
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "parent_id"


async def test_delete_refuses_a_parent_and_reports_deletions_to_delta_sync(
    client: httpx.AsyncClient,
) -> None:
    township = await make(client, name=f"镇-{tag()}", kind="township_committee")
    village = await make(client, name=f"村-{tag()}", parent_id=township["id"])
    in_use = await client.delete(f"/api/v1/targets/{township['id']}")
    assert in_use.status_code == 409
    assert in_use.json()["type"] == "/problems/target-in-use"
    since = village["created_at"]
    assert (await client.delete(f"/api/v1/targets/{village['id']}")).status_code == 204
    assert (await client.get(f"/api/v1/targets/{village['id']}")).status_code == 404
    delta = (await client.get("/api/v1/targets", params={"updated_since": since})).json()
    assert village["id"] in delta["deleted"]
    assert village["id"] not in [t["id"] for t in delta["items"]]


async def test_only_the_office_writes(client: httpx.AsyncClient, mint: MintToken) -> None:
    member = {"Authorization": f"Bearer {mint('rounds', roles=['group_member'])}"}
    resp = await client.post(
        "/api/v1/targets",
        json={"name": "x", "kind": "village", "jurisdiction": "y"},
        headers=member,
    )
    assert resp.status_code == 403


CSV_HEADER = "名称,类别,辖区,上级单位,风险等级\n"


async def import_file(
    client: httpx.AsyncClient, content: bytes, name: str = "targets.csv", partial: bool = False
) -> httpx.Response:
    return await client.post(
        "/api/v1/targets/import",
        files={"file": (name, content, "text/csv")},
        params={"partial": str(partial).lower()},
    )


async def test_import_csv_in_gbk_with_parents_in_the_file(client: httpx.AsyncClient) -> None:
    j = f"通城县-{tag()}"
    text = CSV_HEADER + (
        f"石南镇党委,乡镇党委,{j},,中\n"
        f"石南村,村,{j},石南镇党委,高\n"
        f"新桥村,village,{j},石南镇党委,\n"
        f"通城县住建局党组,部门党组（党委）,{j},,低\n"
    )
    resp = await import_file(client, text.encode("gbk"))
    assert resp.status_code == 201, resp.text
    report = resp.json()
    assert report["imported"] == 4
    assert report["errors"] == []
    township_id = report["ids"][0]
    villages = (await client.get("/api/v1/targets", params={"parent_id": township_id})).json()
    names = {v["name"]: v["risk_class"] for v in villages["items"]}
    assert names == {"石南村": "high", "新桥村": "medium"}


async def test_import_utf8_bom_and_tabs(client: httpx.AsyncClient) -> None:
    j = f"赤壁市-{tag()}"
    text = f"name\tkind\tjurisdiction\n黄盖湖农场\tfarm\t{j}\n"
    resp = await import_file(client, b"\xef\xbb\xbf" + text.encode())
    assert resp.status_code == 201, resp.text
    listed = (await client.get("/api/v1/targets", params={"jurisdiction": j})).json()
    assert [t["name"] for t in listed["items"]] == ["黄盖湖农场"]


async def test_import_is_all_or_nothing_and_lists_every_bad_row(client: httpx.AsyncClient) -> None:
    j = f"赤壁市-{tag()}"
    text = CSV_HEADER + (
        f"好村,村,{j},,\n"
        f",村,{j},,\n"  # row 3: no name
        f"坏村,城堡,{j},,\n"  # row 4: unknown kind
        f"孤村,村,{j},不存在的镇,\n"  # row 5: no such parent
        f"好村,村,{j},,\n"  # row 6: duplicate of row 2
        f"险村,村,{j},,极高\n"  # row 7: unknown risk
    )
    resp = await import_file(client, text.encode())
    assert resp.status_code == 422
    problem = resp.json()
    assert problem["rejected_rows"] == 5
    assert {(e["row"], e["column"]) for e in problem["row_errors"]} == {
        (3, "name"), (4, "kind"), (5, "parent"), (6, "name"), (7, "risk_class"),
    }  # fmt: skip
    listed = (await client.get("/api/v1/targets", params={"jurisdiction": j})).json()
    assert listed["items"] == []

    partial = await import_file(client, text.encode(), partial=True)
    assert partial.status_code == 201
    assert partial.json()["imported"] == 1
    assert partial.json()["rejected_rows"] == 5


async def test_import_xlsx(client: httpx.AsyncClient) -> None:
    j = f"赤壁市-{tag()}"
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["单位名称", "对象类别", "所属辖区", "上级单位"])
    sheet.append(["官塘驿镇党委", "乡镇党委", j, None])
    sheet.append(["杨家湾村", "村", j, "官塘驿镇党委"])
    buffer = io.BytesIO()
    book.save(buffer)
    resp = await import_file(client, buffer.getvalue(), name="对象.xlsx")
    assert resp.status_code == 201, resp.text
    assert resp.json()["imported"] == 2


async def test_import_rejects_a_file_without_the_required_columns(
    client: httpx.AsyncClient,
) -> None:
    resp = await import_file(client, "名称,辖区\n某村,赤壁市\n".encode())
    assert resp.status_code == 422
    assert resp.json()["row_errors"] == [{"row": 1, "column": "kind", "message": "column missing"}]


async def test_group_leader_sees_only_assigned_targets_others_none(
    client: httpx.AsyncClient, database: Database, mint: MintToken
) -> None:
    mine = await make(client, name=f"村-{tag()}")
    other = await make(client, name=f"村-{tag()}")
    leader_user, member_user = uuid.uuid4(), uuid.uuid4()
    engine = Engine(RoundsSettings(database_url=database.urls["rounds"]))
    try:
        async with engine.sessions() as session:
            term = Term(name=f"届-{tag()}", starts_on=date(2016, 10, 1), ends_on=date(2021, 9, 30),
                        coverage_kinds=["village"], jurisdiction="赤壁市")  # fmt: skip
            session.add(term)
            await session.flush()
            rnd = Round(term_id=term.id, number=1, name="第一轮", kind="special")
            session.add(rnd)
            await session.flush()
            group = Group(
                round_id=rnd.id, kind="municipal", name="第一巡察组", owning_organisation="市委"
            )
            session.add(group)
            leader = Person(name="组长", unit="市委巡察办", user_id=leader_user)
            member = Person(name="组员", unit="市财政局", user_id=member_user)
            session.add_all([leader, member])
            await session.flush()
            session.add_all([
                GroupMember(group_id=group.id, person_id=leader.id, role="leader"),
                GroupMember(group_id=group.id, person_id=member.id, role="member"),
                Assignment(round_id=rnd.id, group_id=group.id, target_id=uuid.UUID(str(mine["id"])),
                           mode="pinpoint", created_by="test"),
            ])  # fmt: skip
            await session.commit()
    finally:
        await engine.dispose()

    as_leader = {
        "Authorization": f"Bearer {mint('rounds', roles=['group_leader'], sub=str(leader_user))}"
    }
    listed = (await client.get("/api/v1/targets", headers=as_leader)).json()
    assert [t["id"] for t in listed["items"]] == [mine["id"]]
    assert (
        await client.get(f"/api/v1/targets/{other['id']}", headers=as_leader)
    ).status_code == 404

    as_member = {
        "Authorization": f"Bearer {mint('rounds', roles=['group_member'], sub=str(member_user))}"
    }
    # a plain member is not granted the registry at all: refused by the policy table
    for path in ("/api/v1/targets", f"/api/v1/targets/{mine['id']}"):
        refused = await client.get(path, headers=as_member)
        assert refused.status_code == 403, path
        assert refused.json()["type"] == "/problems/forbidden-by-policy"
