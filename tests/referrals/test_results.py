"""Suggestions (意见建议), rules established (建立健全制度) and the statistics (统计) with their
reconciliation checks. In-process against the real PostgreSQL; the gateway (rounds, targets,
findings) is faked by `Upstream`."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from ops.stack import Database
from tests.referrals.conftest import Auth, Upstream, sql
from tests.referrals.test_leads import move as move_lead
from tests.referrals.test_leads import read as read_lead
from tests.referrals.test_leads import walk
from tests.referrals.test_rectifications import move as move_item
from tests.referrals.test_rectifications import new_item

PROBLEM = "application/problem+json"


def today() -> date:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


def etag(resp: httpx.Response) -> dict[str, str]:
    return {"If-Match": resp.headers["ETag"]}


def fields(resp: httpx.Response) -> list[tuple[str, str]]:
    assert resp.headers["content-type"].startswith(PROBLEM), resp.text
    return [(e["field"], e["code"]) for e in resp.json()["errors"]]


async def new_suggestion(client: httpx.AsyncClient, round_id: str, **over: Any) -> httpx.Response:
    body = {
        "round_id": round_id,
        "addressed_to": "市民政局",
        "content": "建立低保对象动态管理机制，定期开展比对核查。",
        **over,
    }
    return await client.post("/api/v1/suggestions", json=body)


async def new_rule(client: httpx.AsyncClient, round_id: str, **over: Any) -> httpx.Response:
    body = {
        "round_id": round_id,
        "unit": "赤马港办事处",
        "title": "低保评审公示制度",
        "document_no": "赤马办发〔2018〕12号",
        "issued_on": today().isoformat(),
        **over,
    }
    return await client.post("/api/v1/rules", json=body)


# ---- suggestions and rules ----


async def test_suggestion_crud_with_etags_and_delta_sync(
    client: httpx.AsyncClient, upstream: Upstream
) -> None:
    rnd, target = upstream.round(), upstream.target()
    finding = upstream.finding(round_id=rnd, target_id=target, title="低保优亲厚友")
    since = datetime.now(ZoneInfo("Asia/Shanghai")) - timedelta(seconds=1)
    created = await new_suggestion(client, rnd, target_id=target, finding_ids=[finding, finding])
    assert created.status_code == 201, created.text
    s = created.json()
    assert created.headers["Location"] == f"/api/v1/suggestions/{s['id']}"
    assert created.headers["ETag"] == '"v1"'
    assert (s["round_id"], s["target_id"], s["adoption"]) == (rnd, target, "pending")
    assert s["finding_ids"] == [finding]  # once, in order
    assert [f["title"] for f in s["findings"]] == ["低保优亲厚友"]
    other = (await new_suggestion(client, rnd)).json()
    assert (other["target_id"], other["finding_ids"]) == (None, [])

    url = f"/api/v1/suggestions/{s['id']}"
    got = await client.get(url)
    assert (got.status_code, got.headers["ETag"]) == (200, '"v1"')
    change = {"adoption": "adopted", "adoption_note": "已出台《低保动态管理办法》"}
    missing = await client.patch(url, json=change)
    assert missing.status_code == 428, missing.text
    assert missing.headers["content-type"].startswith(PROBLEM)
    changed = await client.patch(url, json=change, headers=etag(got))
    assert changed.status_code == 200, changed.text
    assert (changed.json()["adoption"], changed.headers["ETag"]) == ("adopted", '"v2"')
    stale = await client.patch(url, json={"adoption": "not_adopted"}, headers=etag(got))
    assert stale.status_code == 412, stale.text
    nulled = await client.patch(url, json={"content": None}, headers=etag(changed))
    assert nulled.status_code == 422, nulled.text
    moved = await client.patch(url, json={"round_id": upstream.round()}, headers=etag(changed))
    assert moved.status_code == 422, moved.text  # the round is fixed

    listed = await client.get("/api/v1/suggestions", params={"round_id": rnd, "target_id": target})
    assert [x["id"] for x in listed.json()["items"]] == [s["id"]]
    by_finding = await client.get("/api/v1/suggestions", params={"finding_id": finding})
    assert [x["id"] for x in by_finding.json()["items"]] == [s["id"]]
    adopted = await client.get(
        "/api/v1/suggestions", params={"round_id": rnd, "adoption": "adopted"}
    )
    assert [x["id"] for x in adopted.json()["items"]] == [s["id"]]
    first = await client.get("/api/v1/suggestions", params={"round_id": rnd, "limit": 1})
    second = await client.get(
        "/api/v1/suggestions",
        params={"round_id": rnd, "limit": 1, "cursor": first.json()["next_cursor"]},
    )
    assert [x["id"] for x in first.json()["items"] + second.json()["items"]] == [
        s["id"],
        other["id"],
    ]
    assert second.json()["next_cursor"] is None

    assert (await client.delete(url)).status_code == 428
    assert (await client.delete(url, headers=etag(got))).status_code == 412
    assert (await client.delete(url, headers=etag(changed))).status_code == 204
    assert (await client.get(url)).status_code == 404
    delta = await client.get(
        "/api/v1/suggestions", params={"round_id": rnd, "updated_since": since.isoformat()}
    )
    assert [x["id"] for x in delta.json()["items"]] == [other["id"]]
    assert s["id"] in delta.json()["deleted"]


async def test_rule_crud_and_links(client: httpx.AsyncClient, upstream: Upstream) -> None:
    rnd, target = upstream.round(), upstream.target()
    finding = upstream.finding(round_id=rnd, target_id=target)
    suggestion = (await new_suggestion(client, rnd)).json()
    created = await new_rule(
        client, rnd, target_id=target, finding_ids=[finding], suggestion_ids=[suggestion["id"]]
    )
    assert created.status_code == 201, created.text
    rule = created.json()
    assert (rule["unit"], rule["document_no"], rule["issued_on"]) == (
        "赤马港办事处", "赤马办发〔2018〕12号", today().isoformat()
    )  # fmt: skip
    assert (rule["finding_ids"], rule["suggestion_ids"]) == ([finding], [suggestion["id"]])
    assert created.headers["ETag"] == '"v1"'

    url = f"/api/v1/rules/{rule['id']}"
    assert (await client.patch(url, json={"title": "新标题"})).status_code == 428
    stale = await client.patch(url, json={"title": "新标题"}, headers={"If-Match": '"v9"'})
    assert stale.status_code == 412
    assert stale.headers["content-type"].startswith(PROBLEM)
    # a cited suggestion cannot be deleted while the rule cites it
    s_url = f"/api/v1/suggestions/{suggestion['id']}"
    in_use = await client.delete(s_url, headers={"If-Match": '"v1"'})
    assert in_use.status_code == 409, in_use.text
    assert in_use.json()["rules"] == [rule["id"]]
    cited = await client.get("/api/v1/rules", params={"suggestion_id": suggestion["id"]})
    assert [x["id"] for x in cited.json()["items"]] == [rule["id"]]
    changed = await client.patch(
        url,
        json={"title": "低保评审公示办法", "suggestion_ids": [], "target_id": None},
        headers={"If-Match": created.headers["ETag"]},
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["title"], changed.json()["suggestion_ids"]) == ("低保评审公示办法", [])
    assert changed.json()["target_id"] is None
    assert (await client.delete(s_url, headers={"If-Match": '"v1"'})).status_code == 204
    listed = await client.get("/api/v1/rules", params={"round_id": rnd})
    assert [x["id"] for x in listed.json()["items"]] == [rule["id"]]
    assert (await client.delete(url, headers=etag(changed))).status_code == 204
    assert (await client.get(url)).status_code == 404


async def test_references_are_checked_and_named(
    client: httpx.AsyncClient, upstream: Upstream
) -> None:
    rnd, other_round, target = upstream.round(), upstream.round(), upstream.target()
    unknown = str(uuid.uuid4())
    resp = await new_rule(client, unknown)
    assert resp.status_code == 422
    assert fields(resp) == [("round_id", "not_found")]
    assert fields(await new_suggestion(client, unknown)) == [("round_id", "not_found")]
    resp = await new_rule(client, rnd, target_id=unknown)
    assert fields(resp) == [("target_id", "not_found")]
    resp = await new_rule(client, rnd, finding_ids=[upstream.finding(round_id=rnd), unknown])
    assert fields(resp) == [("finding_ids.1", "not_found")]
    elsewhere = upstream.finding(round_id=other_round)
    assert fields(await new_suggestion(client, rnd, finding_ids=[elsewhere])) == [
        ("finding_ids.0", "other_round")
    ]
    other_unit = upstream.finding(round_id=rnd, target_id=str(uuid.uuid4()))
    assert fields(await new_rule(client, rnd, target_id=target, finding_ids=[other_unit])) == [
        ("finding_ids.0", "other_target")
    ]
    foreign = (await new_suggestion(client, other_round)).json()["id"]
    resp = await new_rule(client, rnd, suggestion_ids=[foreign, unknown])
    assert fields(resp) == [("suggestion_ids.0", "other_round"), ("suggestion_ids.1", "not_found")]
    future = (today() + timedelta(days=1)).isoformat()
    assert fields(await new_rule(client, rnd, issued_on=future)) == [("issued_on", "future_date")]
    # nothing was recorded by the refused requests
    listed = await client.get("/api/v1/rules", params={"round_id": rnd})
    assert listed.json()["items"] == []
    rule = (await new_rule(client, rnd)).json()
    resp = await client.patch(
        f"/api/v1/rules/{rule['id']}", json={"target_id": unknown}, headers={"If-Match": '"v1"'}
    )
    assert fields(resp) == [("target_id", "not_found")]


async def test_only_the_office_records_results_and_few_read_them(
    client: httpx.AsyncClient, upstream: Upstream, auth: Auth
) -> None:
    rnd = upstream.round()
    suggestion = (await new_suggestion(client, rnd)).json()
    rule = (await new_rule(client, rnd)).json()
    admin = auth("admin")
    made = await client.post(
        "/api/v1/rules",
        json={"round_id": rnd, "unit": "市民政局", "title": "救助资金监管办法"},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    for role in ("superior", "service"):
        reader = auth(role)
        assert (await client.get("/api/v1/suggestions", headers=reader)).status_code == 200
        got = await client.get(f"/api/v1/rules/{rule['id']}", headers=reader)
        assert got.status_code == 200
        denied = await client.post(
            "/api/v1/suggestions",
            json={"round_id": rnd, "addressed_to": "x", "content": "y"},
            headers=reader,
        )
        assert denied.status_code == 403
        assert denied.headers["content-type"].startswith(PROBLEM)
    for role in ("group_leader", "receiver", "owner", "inspector"):
        other = auth(role)
        for path in (
            "/api/v1/suggestions",
            f"/api/v1/suggestions/{suggestion['id']}",
            "/api/v1/rules",
            f"/api/v1/rules/{rule['id']}",
        ):
            assert (await client.get(path, headers=other)).status_code == 403, (role, path)
        resp = await client.patch(
            f"/api/v1/rules/{rule['id']}",
            json={"title": "改"},
            headers={**other, "If-Match": '"v1"'},
        )
        assert resp.status_code == 403
        resp = await client.delete(
            f"/api/v1/suggestions/{suggestion['id']}", headers={**other, "If-Match": '"v1"'}
        )
        assert resp.status_code == 403
    assert (await client.get(f"/api/v1/suggestions/{suggestion['id']}")).status_code == 200


# ---- statistics ----


async def lead_in(
    client: httpx.AsyncClient,
    upstream: Upstream,
    rnd: str,
    recipient: str,
    subjects: list[dict[str, Any]],
) -> dict[str, Any]:
    resp = await client.post(
        "/api/v1/leads",
        json={
            "title": "扶贫资金优亲厚友",
            "summary": "村干部为亲属违规办理低保。",
            "finding_ids": [upstream.finding(round_id=rnd)],
            "round_id": rnd,
            "recipient": recipient,
            "subjects": subjects,
        },
    )
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def person(name: str, party_member: bool = True) -> dict[str, Any]:
    return {
        "name": name,
        "position": "村党支部书记",
        "rank": "village",
        "party_member": party_member,
    }


async def conclude(
    client: httpx.AsyncClient, lead_id: str, money: str, *outcomes: dict[str, Any]
) -> None:
    subjects = (await read_lead(client, lead_id))["subjects"]
    resp = await move_lead(
        client,
        lead_id,
        "concluded",
        money_recovered=money,
        outcomes=[{"subject_id": s["id"], **o} for s, o in zip(subjects, outcomes, strict=True)],
    )
    assert resp.status_code == 201, resp.text


async def stats(
    client: httpx.AsyncClient, *rounds: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    resp = await client.get(
        "/api/v1/leads/stats", params=[("round_id", r) for r in rounds], headers=headers
    )
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def tallies(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {r["code"]: r["count"] for r in rows if r["count"]}


async def test_statistics_show_exactly_what_happened(
    client: httpx.AsyncClient, upstream: Upstream, database: Database
) -> None:
    rnd, other = upstream.round(), upstream.round()
    # A: to the discipline commission, verified, a case, two subjects sanctioned
    pair = [person("张三"), person("李四", False)]
    a = await lead_in(client, upstream, rnd, "discipline_commission", pair)
    await walk(client, a["id"], "case_filed")
    await conclude(
        client, a["id"], "9999999999.99",
        {"party_sanction": "serious_warning", "government_sanction": "demerit",
         "judicial_transfer": True},
        {"government_sanction": "warning"},
    )  # fmt: skip
    # B: to the organisation department, a talk and an admonishment, no case
    b = await lead_in(client, upstream, rnd, "organisation_department", [person("王五")])
    await walk(client, b["id"], "received")
    await move_lead(client, b["id"], "handling", handling="talk_inquiry")
    await conclude(client, b["id"], "0.02", {"organisational_handling": "admonishment_talk"})
    # C: shelved; D: received, no handling yet; E: transferred only; F: a draft
    c = await lead_in(client, upstream, rnd, "discipline_commission", [person("赵六")])
    await walk(client, c["id"], "received")
    assert (await move_lead(client, c["id"], "handling", handling="shelved")).status_code == 201
    d = await lead_in(client, upstream, rnd, "discipline_commission", [person("钱七")])
    await walk(client, d["id"], "received")
    e = await lead_in(client, upstream, rnd, "stationed_discipline_group", [person("孙八")])
    await walk(client, e["id"], "transferred")
    await lead_in(client, upstream, rnd, "discipline_commission", [person("周九")])
    # another round: one lead transferred
    g = await lead_in(client, upstream, other, "other", [person("吴十")])
    await walk(client, g["id"], "transferred")

    # rectification items: one signed off, one open, one overdue
    items = [
        await new_item(client, upstream, round_id=rnd, finding_ids=[upstream.finding(round_id=rnd)])
        for _ in range(3)
    ]
    done = items[0]["id"]
    assert (await move_item(client, done, "completion_requested")).status_code == 201
    assert (await move_item(client, done, "signed_off")).status_code == 201
    conn = await asyncpg.connect(database.urls["referrals"].replace("+asyncpg", ""))
    try:
        await conn.execute(
            "UPDATE referrals.rectification_items SET deadline = $1 WHERE id = $2",
            today() - timedelta(days=1),
            uuid.UUID(items[2]["id"]),
        )
    finally:
        await conn.close()
    # suggestions (one adopted) and a rule
    first = (await new_suggestion(client, rnd, adoption="adopted")).json()
    await new_suggestion(client, rnd)
    await new_suggestion(client, other)
    assert (await new_rule(client, rnd, suggestion_ids=[first["id"]])).status_code == 201

    got = await stats(client, rnd)
    assert got["round_ids"] == [rnd]
    assert got["as_of"] == today().isoformat()
    leads = got["leads"]
    assert {k: v for k, v in leads.items() if isinstance(v, int)} == {
        "handed_over": 5,  # A B C D E (F is a draft)
        "received": 4,
        "awaiting_handling": 1,
        "handled": 3,
        "cases_filed": 1,
        "concluded": 2,
        "overdue": 0,
    }
    assert tallies(leads["handlings"]) == {
        "talk_inquiry": 1, "preliminary_verification": 1, "shelved": 1
    }  # fmt: skip
    assert [(h["code"], h["label"]) for h in leads["handlings"]] == [
        ("talk_inquiry", "谈话函询"),
        ("preliminary_verification", "初步核实"),
        ("shelved", "暂存待查"),
        ("closed", "予以了结"),
    ]
    assert [
        (r["recipient"], r["label"], r["handed_over"], r["received"], r["handled"],
         r["cases_filed"], r["sanctioned"], r["money_recovered"])
        for r in leads["by_recipient"]
    ] == [
        ("discipline_commission", "纪委监委", 3, 3, 2, 1, 2, "9999999999.99"),
        ("organisation_department", "组织部", 1, 1, 1, 0, 0, "0.02"),
        ("stationed_discipline_group", "派驻纪检组", 1, 0, 0, 0, 0, "0.00"),
        ("other", "其他单位", 0, 0, 0, 0, 0, "0.00"),
    ]  # fmt: skip
    assert leads["money_recovered"] == "10000000000.01"  # exact: no float on the way
    persons = got["persons"]
    assert {k: v for k, v in persons.items() if isinstance(v, int)} == {
        "subjects": 6,
        "subjects_of_filed_cases": 2,
        "sanctioned": 2,  # 张三 (party and government) counts once, 李四
        "party_sanctioned": 1,
        "government_sanctioned": 2,
        "organisational_handling": 1,
        "judicial_transfers": 1,
        "not_substantiated": 0,
    }
    assert tallies(persons["party_sanctions"]) == {"serious_warning": 1}
    assert tallies(persons["government_sanctions"]) == {"demerit": 1, "warning": 1}
    assert tallies(persons["organisational_handlings"]) == {"admonishment_talk": 1}
    assert [t["label"] for t in persons["party_sanctions"]] == [
        "警告", "严重警告", "撤销党内职务", "留党察看", "开除党籍"
    ]  # fmt: skip
    rect = got["rectification"]
    assert (rect["fed_back"], rect["signed_off"], rect["open"], rect["overdue"]) == (3, 1, 2, 1)
    assert tallies(rect["by_status"]) == {"open": 2, "signed_off": 1}
    assert got["suggestions"]["total"] == 2
    assert tallies(got["suggestions"]["by_adoption"]) == {"adopted": 1, "pending": 1}
    assert got["rules"] == 1
    assert got["summary"] == (
        "移交问题线索5件，立案1件，给予党政纪处分2人；"
        "反馈整改事项3个，提出意见建议2条，建立健全制度1项"
    )
    assert [(c["check"], c["ok"]) for c in got["checks"]] == [
        ("cases_within_handed_over", True),
        ("cases_after_verification", True),
        ("handlings_add_up_to_received", True),
        ("sanctioned_within_case_subjects", True),
        ("sanctions_only_after_case", True),
        ("concluded_subjects_have_outcomes", True),
        ("signed_off_within_items", True),
        ("signed_off_items_dated", True),
    ]
    assert got["checks"][0]["detail"] == "立案1件 ≤ 移交问题线索5件"
    assert got["checks"][3]["detail"] == "给予党政纪处分2人 ≤ 立案涉及人员2人"
    assert got["consistent"] is True

    # two rounds add up; the other round alone is just its own
    both = await stats(client, rnd, other, rnd)
    assert both["round_ids"] == [rnd, other]
    assert (both["leads"]["handed_over"], both["suggestions"]["total"]) == (6, 3)
    assert both["leads"]["by_recipient"][3]["handed_over"] == 1
    alone = await stats(client, other)
    assert alone["summary"] == (
        "移交问题线索1件，立案0件，给予党政纪处分0人；"
        "反馈整改事项0个，提出意见建议1条，建立健全制度0项"
    )
    assert alone["leads"]["money_recovered"] == "0.00"
    # every record, whatever its round
    everything = await stats(client)
    assert (everything["scope"], everything["round_ids"]) == ("all", [])
    # every record: each figure counted from its own table (a count of no table would be 1)
    for figure, table in (("rules", "rules"), ("suggestions", "suggestions")):
        counted = await sql(database, f"SELECT count(*) FROM referrals.{table}")
        got = everything[figure] if figure == "rules" else everything[figure]["total"]
        assert got == counted, figure
    assert everything["leads"]["handed_over"] >= 6


async def test_failing_reconciliation_checks_are_shown_not_corrected(
    client: httpx.AsyncClient, upstream: Upstream, database: Database
) -> None:
    rnd, rnd2 = upstream.round(), upstream.round()
    round_id, finding = uuid.UUID(rnd), uuid.uuid4()
    conn = await asyncpg.connect(database.urls["referrals"].replace("+asyncpg", ""))
    try:  # rows the API would refuse: written straight into the tables (e.g. a bad import)
        sanctioned_without_case = await conn.fetchval(
            "INSERT INTO referrals.leads (title, summary, finding_ids, round_id, recipient,"
            " status, handling, concluded_on, created_by)"
            " VALUES ('线索甲', '……', $1, $2, 'discipline_commission', 'concluded', 'closed',"
            " current_date, 'import') RETURNING id",
            [finding], round_id,
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO referrals.lead_subjects (lead_id, position_no, name, rank, party_member,"
            " party_sanction) VALUES ($1, 0, '张三', 'village', true, 'warning'),"
            " ($1, 1, '李四', 'village', false, NULL)",  # 李四: concluded without an outcome
            sanctioned_without_case,
        )
        await conn.execute(  # a handling chosen before the lead was even received
            "INSERT INTO referrals.leads (title, summary, finding_ids, round_id, recipient,"
            " status, handling, created_by) VALUES ('线索乙', '……', $1, $2,"
            " 'organisation_department', 'transferred', 'talk_inquiry', 'import')",
            [finding], round_id,
        )  # fmt: skip
        await conn.execute(  # signed off, but no day of sign-off
            "INSERT INTO referrals.rectification_items (title, duties, finding_ids, round_id,"
            " owner_type, owner_name, deadline, status, created_by) VALUES ('事项', '……', $1,"
            " $2, 'responsible_unit', '某单位', $3, 'signed_off', 'import')",
            [finding], round_id, today() + timedelta(days=30),
        )  # fmt: skip
        await conn.execute(  # another round: a case on a lead never handed over nor verified
            "INSERT INTO referrals.leads (title, summary, finding_ids, round_id, recipient,"
            " status, handling, case_number, created_by) VALUES ('线索丙', '……', $1, $2,"
            " 'discipline_commission', 'approved', 'talk_inquiry', '赤纪立〔2018〕1号', 'import')",
            [finding], uuid.UUID(rnd2),
        )  # fmt: skip
    finally:
        await conn.close()

    got = await stats(client, rnd)
    failed = {c["check"]: c["detail"] for c in got["checks"] if not c["ok"]}
    assert failed == {
        "handlings_add_up_to_received": "四类处置合计2件 + 待确定处置0件 ≠ 已接收线索1件",
        "sanctioned_within_case_subjects": "给予党政纪处分1人 > 立案涉及人员0人",
        "sanctions_only_after_case": "未立案即给予党政纪处分的人员1人（应为0人）",
        "concluded_subjects_have_outcomes": "已办结线索中没有处理结果的人员1人（应为0人）",
        "signed_off_items_dated": "已销号但没有销号日期的整改事项1个（应为0个）",
    }
    assert got["consistent"] is False
    # the figures are what the records say, not adjusted to pass
    assert (got["persons"]["sanctioned"], got["persons"]["subjects_of_filed_cases"]) == (1, 0)
    assert (got["leads"]["handed_over"], got["leads"]["handled"]) == (2, 2)
    assert got["summary"].startswith("移交问题线索2件，立案0件，给予党政纪处分1人；")

    other = await stats(client, rnd2)
    assert {c["check"]: c["detail"] for c in other["checks"] if not c["ok"]} == {
        "cases_within_handed_over": "立案1件 > 移交问题线索0件",
        "cases_after_verification": "未经初步核实即立案的线索1件（应为0件）",
        "handlings_add_up_to_received": "四类处置合计1件 + 待确定处置0件 ≠ 已接收线索0件",
    }
    assert other["summary"].startswith("移交问题线索0件，立案1件，")
    # both rounds together: the aggregate comparison of cases (1 ≤ 2) hides the bad case,
    # the row-level check still shows it
    both = await stats(client, rnd, rnd2)
    assert [c["check"] for c in both["checks"] if not c["ok"]] == [
        "cases_after_verification",
        "handlings_add_up_to_received",
        "sanctioned_within_case_subjects",
        "sanctions_only_after_case",
        "concluded_subjects_have_outcomes",
        "signed_off_items_dated",
    ]


@pytest.mark.parametrize(("roles", "code"), [
    (("office",), 200), (("admin",), 200), (("superior",), 200), (("service",), 200),
    (("group_leader",), 403), (("receiver",), 403), (("owner",), 403), (("inspector",), 403),
])  # fmt: skip
async def test_who_reads_statistics(
    client: httpx.AsyncClient, auth: Auth, roles: tuple[str, ...], code: int
) -> None:
    resp = await client.get("/api/v1/leads/stats", headers=auth(*roles))
    assert resp.status_code == code, resp.text
    if code != 200:
        assert resp.headers["content-type"].startswith(PROBLEM)


async def test_statistics_input_is_checked(client: httpx.AsyncClient) -> None:
    resp = await client.get("/api/v1/leads/stats", params={"round_id": "第二轮"})
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith(PROBLEM)


async def test_a_lead_of_several_rounds_counts_in_each_of_them_once(
    client: httpx.AsyncClient, upstream: Upstream
) -> None:
    """A lead or item made from findings of two rounds has no round of its own; it is neither
    dropped from the rounds' statistics nor counted twice when both are asked together."""
    one, two, three = upstream.round(), upstream.round(), upstream.round()
    both = [upstream.finding(round_id=one), upstream.finding(round_id=two)]
    resp = await client.post(
        "/api/v1/leads",
        json={
            "title": "跨轮次线索", "summary": "两轮巡察发现的同一问题。", "finding_ids": both,
            "recipient": "discipline_commission", "subjects": [person("郑十一")],
        },
    )  # fmt: skip
    assert resp.status_code == 201, resp.text
    lead = resp.json()
    assert lead["round_id"] is None
    await walk(client, lead["id"], "transferred")
    item = await new_item(client, upstream, finding_ids=both)
    assert item["round_id"] is None
    own = await lead_in(client, upstream, one, "organisation_department", [person("王五")])
    await walk(client, own["id"], "transferred")

    def figures(got: dict[str, Any]) -> tuple[int, int, int]:
        return (
            got["leads"]["handed_over"], got["persons"]["subjects"],
            got["rectification"]["fed_back"],
        )  # fmt: skip

    assert figures(await stats(client, one)) == (2, 2, 1)
    assert figures(await stats(client, two)) == (1, 1, 1)
    assert figures(await stats(client, one, two)) == (2, 2, 1)
    assert figures(await stats(client, three)) == (0, 0, 0)


async def test_delta_sync_includes_a_suggestion_changed_at_that_very_instant(
    client: httpx.AsyncClient, upstream: Upstream
) -> None:
    created = (await new_suggestion(client, upstream.round())).json()
    resp = await client.get(
        "/api/v1/suggestions", params={"updated_since": created["updated_at"], "limit": 200}
    )
    assert created["id"] in {x["id"] for x in resp.json()["items"]}


async def test_statistics_per_term_and_jurisdiction(
    client: httpx.AsyncClient, upstream: Upstream
) -> None:
    """A term counts its rounds, a jurisdiction the rounds of its terms (as rounds has them);
    together they narrow each other; a scope with no rounds counts nothing, never everything."""
    city, county = f"赤壁市{uuid.uuid4().hex[:6]}", f"嘉鱼县{uuid.uuid4().hex[:6]}"
    eighth, ninth, elsewhere = upstream.term(city), upstream.term(city), upstream.term(county)
    r1, r2 = upstream.round(term=eighth), upstream.round(term=eighth)
    r3, r4 = upstream.round(term=ninth), upstream.round(term=elsewhere)
    for rnd, n in ((r1, 1), (r2, 2), (r3, 4), (r4, 8)):
        for _ in range(n):
            lead = await lead_in(client, upstream, rnd, "discipline_commission", [person("某")])
            await walk(client, lead["id"], "transferred")

    async def handed_over(**params: Any) -> tuple[int, str, list[str]]:
        resp = await client.get("/api/v1/leads/stats", params=params)
        assert resp.status_code == 200, resp.text
        got = resp.json()
        return got["leads"]["handed_over"], got["scope"], sorted(got["round_ids"])

    assert await handed_over(term_id=eighth) == (3, "rounds", sorted([r1, r2]))
    assert (await handed_over(term_id=[eighth, ninth]))[0] == 7
    assert await handed_over(jurisdiction=city) == (7, "rounds", sorted([r1, r2, r3]))
    assert (await handed_over(jurisdiction=county))[0] == 8
    assert (await handed_over(jurisdiction=city, term_id=ninth))[0] == 4
    assert (await handed_over(term_id=eighth, round_id=r2))[0] == 2
    # scopes that hold no rounds: nothing, not everything
    assert await handed_over(jurisdiction=county, term_id=eighth) == (0, "rounds", [])
    assert (await handed_over(jurisdiction="没有届次的辖区"))[0] == 0
    assert (await handed_over(term_id=eighth, round_id=r4))[0] == 0
    # an unknown term names itself
    resp = await client.get("/api/v1/leads/stats", params={"term_id": [eighth, str(uuid.uuid4())]})
    assert resp.status_code == 422
    assert [e["field"] for e in resp.json()["errors"]] == ["term_id.1"]
