"""The dashboard and the statistical table, through the gateway, against a known history
(dashboard_history): every figure of the term, of each round and of the jurisdiction; every
cell of the table, as JSON and as XLSX; who may read them; a reconciliation failure stops the
table, naming the failed checks; the figures of a scope are cached briefly, `no-cache` counts
afresh."""

from __future__ import annotations

import asyncio
import io
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import openpyxl
import pytest

from gateway.identity.enums import Role
from ops.stack import Database
from tests.e2e.conftest import System
from tests.e2e.dashboard_history import History, build, login, ok, sql

pytestmark = pytest.mark.e2e

SUMMARY = (
    "移交问题线索2件，立案1件，给予党政纪处分2人；反馈整改事项3个，提出意见建议2条，建立健全制度1项"
)
# every row of the term's statistical table: (序号, 指标, 数值, 单位)
TABLE = [
    ("1", "开展巡察轮次", 2, "轮"),
    ("2", "派出巡察组", 3, "个"),
    ("3", "巡察党组织（单位）", 3, "个"),
    ("4", "全覆盖目标对象", 4, "个"),
    ("5", "其中：已巡察对象", 2, "个"),
    ("6", "发现问题", 4, "个"),
    ("7", "问题涉及金额", "41500.50", "元"),
    ("8", "移交问题线索", 2, "件"),
    ("8.1", "其中：移交纪委监委", 1, "件"),
    ("8.2", "其中：移交组织部", 1, "件"),
    ("8.3", "其中：移交派驻纪检组", 0, "件"),
    ("8.4", "其中：移交其他单位", 0, "件"),
    ("9", "立案", 1, "件"),
    ("10", "给予党政纪处分", 2, "人"),
    ("10.1", "其中：党纪处分", 1, "人"),
    ("10.2", "政务处分", 2, "人"),
    ("11", "组织处理", 0, "人"),
    ("12", "移送司法机关", 0, "人"),
    ("13", "追回资金", "32000.00", "元"),
    ("14", "反馈整改事项", 3, "个"),
    ("14.1", "其中：已销号", 1, "个"),
    ("14.2", "逾期未销号", 1, "个"),
    ("15", "提出意见建议", 2, "条"),
    ("16", "建立健全制度", 1, "项"),
]


@pytest.fixture(scope="module")
def office(system: System) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=system.gateway, headers=system.auth, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def history(office: httpx.Client, database: Database) -> History:
    return build(office, database)


def counts(lines: list[dict[str, Any]]) -> dict[str, int]:
    return {x["code"]: x["count"] for x in lines}


def fresh(client: httpx.Client, path: str, params: dict[str, str], status: int = 200) -> Any:
    return ok(client.get(path, params=params, headers={"Cache-Control": "no-cache"}), status)


def test_every_figure_of_the_term_and_of_its_jurisdiction(
    office: httpx.Client, history: History
) -> None:
    cats = ok(office.get(f"/api/v1/rounds/{history.round1}/categories"), 200)
    cats = cats["items"] if isinstance(cats, dict) else cats
    c0, c1 = cats[0], cats[1]
    for params in ({"term_id": history.term_id}, {"jurisdiction": history.jurisdiction}):
        d = fresh(office, "/api/v1/dashboard", params)
        assert d["scope"]["everything"] is False
        assert d["scope"]["term_ids"] == [history.term_id]
        assert d["scope"]["round_ids"] == [history.round1, history.round2]
        # rounds and their phases
        rounds = d["rounds"]
        assert rounds["total"] == 2
        assert {k: v for k, v in counts(rounds["by_state"]).items() if v} == {
            "stationing": 1, "preparation": 1
        }  # fmt: skip
        assert {k: v for k, v in counts(rounds["by_kind"]).items() if v} == {
            "special": 1, "regular": 1
        }  # fmt: skip
        lines = [
            (r["number"], r["name"], r["state"], r["state_label"], r["groups"], r["members"],
             r["targets"], r["findings"])
            for r in rounds["items"]
        ]  # fmt: skip
        assert lines == [
            (1, "扶贫领域专项巡察", "stationing", "进驻", 2, 3, 2, 5),
            (2, "常规巡察", "preparation", "准备", 1, 0, 1, 0),
        ]
        # groups
        assert (d["groups"]["total"], d["groups"]["members"]) == (3, 3)
        assert {k: v for k, v in counts(d["groups"]["by_kind"]).items() if v} == {
            "municipal": 2, "township_sub": 1
        }  # fmt: skip
        # targets inspected against the coverage goal
        t = d["targets"]
        assert (t["inspected"], t["assignments"]) == (3, 3)
        assert counts(t["by_mode"]) == {"pinpoint": 2, "self": 1}
        assert t["coverage"] == {
            "goal": 4, "inspected": 2, "planned": 1, "remaining": 1, "inspected_percent": 50.0
        }  # fmt: skip
        assert [(x["term_id"], x["name"], x["goal"], x["inspected"]) for x in t["terms"]] == [
            (history.term_id, history.term_name, 4, 2)
        ]
        # findings by category and state
        f = d["findings"]
        assert (f["total"], f["confirmed"]) == (5, 4)
        assert (f["money_involved"], f["confirmed_money_involved"]) == ("41600.50", "41500.50")
        assert counts(f["by_status"]) == {
            "draft": 1, "confirmed": 0, "handed_over": 4, "closed": 0
        }  # fmt: skip
        assert counts(f["by_severity"]) == {"minor": 3, "major": 1, "serious": 1}
        assert [(c["code"], c["name"], c["count"], c["money_involved"]) for c in
                f["by_category"]] == sorted([
            (c0["code"], c0["name"], 3, "32100.00"), (c1["code"], c1["name"], 2, "9500.50")
        ])  # fmt: skip
        # leads and their handling, cases, persons, money
        leads = d["leads"]
        assert (
            leads["handed_over"], leads["received"], leads["awaiting_handling"],
            leads["handled"], leads["cases_filed"], leads["concluded"], leads["overdue"],
        ) == (2, 2, 0, 2, 1, 1, 0)  # fmt: skip
        assert counts(leads["handlings"]) == {
            "talk_inquiry": 1, "preliminary_verification": 1, "shelved": 0, "closed": 0
        }  # fmt: skip
        by_recipient = {
            r["code"]: (r["handed_over"], r["cases_filed"], r["sanctioned"], r["money_recovered"])
            for r in leads["by_recipient"]
        }
        assert by_recipient == {
            "discipline_commission": (1, 1, 2, "32000.00"),
            "organisation_department": (1, 0, 0, "0.00"),
            "stationed_discipline_group": (0, 0, 0, "0.00"),
            "other": (0, 0, 0, "0.00"),
        }
        assert d["cases"] == {"filed": 1, "subjects": 2}
        assert d["persons"] == {
            "subjects": 3, "sanctioned": 2, "party_sanctioned": 1, "government_sanctioned": 2,
            "organisational_handling": 0, "judicial_transfers": 0, "not_substantiated": 0,
        }  # fmt: skip
        assert d["money_recovered"] == "32000.00"
        # rectification items: done, due, overdue, and the overdue one named
        r = d["rectification"]
        assert (r["fed_back"], r["done"], r["due"], r["overdue"]) == (3, 1, 1, 1)
        assert {k: v for k, v in counts(r["by_status"]).items() if v} == {
            "open": 2, "signed_off": 1
        }  # fmt: skip
        assert [
            (i["id"], i["title"], i["owner_name"], i["deadline"], i["days_overdue"])
            for i in r["overdue_items"]
        ] == [
            (history.items["overdue"], "项目验收整改", "官塘驿镇党委",
             str(history.overdue_deadline), 10)
        ]  # fmt: skip
        # suggestions, rules
        assert d["suggestions"]["total"] == 2
        assert {k: v for k, v in counts(d["suggestions"]["by_adoption"]).items() if v} == {
            "adopted": 1, "pending": 1
        }  # fmt: skip
        assert d["rules"] == 1
        assert [(s["step"], s["count"]) for s in d["funnel"]] == [
            ("findings_confirmed", 4), ("handed_over", 2), ("received", 2), ("handled", 2),
            ("cases_filed", 1), ("concluded", 1),
        ]  # fmt: skip
        assert d["summary"] == SUMMARY
        assert d["consistent"] is True
        assert all(c["ok"] for c in d["checks"])


def test_each_round_counts_its_own(office: httpx.Client, history: History) -> None:
    one = fresh(office, "/api/v1/dashboard", {"round_id": history.round1})
    assert one["scope"]["round_ids"] == [history.round1]
    assert (one["rounds"]["total"], one["groups"]["total"], one["targets"]["inspected"]) == (
        1,
        2,
        2,
    )
    # coverage is the term's, whichever of its rounds is asked for
    assert one["targets"]["coverage"]["goal"] == 4
    assert (one["findings"]["total"], one["leads"]["handed_over"]) == (5, 2)
    assert one["summary"] == SUMMARY
    two = fresh(office, "/api/v1/dashboard", {"round_id": history.round2})
    assert (two["rounds"]["total"], two["groups"]["total"], two["targets"]["inspected"]) == (
        1,
        1,
        1,
    )
    assert (two["findings"]["total"], two["leads"]["handed_over"]) == (0, 0)
    assert two["rectification"]["fed_back"] == 0
    assert two["summary"] == (
        "移交问题线索0件，立案0件，给予党政纪处分0人；"
        "反馈整改事项0个，提出意见建议0条，建立健全制度0项"
    )


def test_every_cell_of_the_statistical_table(office: httpx.Client, history: History) -> None:
    table = ok(office.get("/api/v1/dashboard/table", params={"term_id": history.term_id}), 200)
    assert table["title"] == "巡察工作情况统计表"
    assert table["scope_label"] == history.term_name
    assert [(r["序号"], r["指标"], r["数值"], r["单位"]) for r in table["rows"]] == TABLE
    assert table["summary"] == SUMMARY
    assert all(c["ok"] for c in table["checks"])

    resp = office.get(
        "/api/v1/dashboard/table", params={"term_id": history.term_id, "format": "xlsx"}
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    sheet = openpyxl.load_workbook(io.BytesIO(resp.content)).active
    assert sheet is not None
    assert sheet["A1"].value == "巡察工作情况统计表"
    assert sheet["A2"].value == f"统计范围：{history.term_name}"
    assert [c.value for c in sheet[4]] == ["序号", "指标", "数值", "单位"]
    assert sheet.freeze_panes == "A5"
    got = [
        tuple(c.value for c in row) for row in sheet.iter_rows(min_row=5, max_row=4 + len(TABLE))
    ]
    want = [(n, name, float(Decimal(v)) if isinstance(v, str) else v, unit)
            for n, name, v, unit in TABLE]  # fmt: skip
    assert got == want
    money = sheet.cell(row=5 + [r[0] for r in TABLE].index("13"), column=3)
    assert money.number_format == "#,##0.00"
    assert sheet.cell(row=4 + len(TABLE) + 2, column=1).value == SUMMARY


def test_who_may_read_the_figures(
    system: System, database: Database, office: httpx.Client, history: History
) -> None:
    superior = login(system, database, Role.superior)
    got = ok(
        httpx.get(
            f"{system.gateway}/api/v1/dashboard", params={"term_id": history.term_id},
            headers=superior,
        ),
        200,
    )  # fmt: skip
    assert got["summary"] == SUMMARY
    assert "陈某某" not in str(got)
    member = login(system, database, Role.group_member)
    denied = httpx.get(f"{system.gateway}/api/v1/dashboard", headers=member)
    assert denied.status_code == 403
    assert denied.json()["type"] == "/problems/forbidden-by-policy"
    assert httpx.get(f"{system.gateway}/api/v1/dashboard").status_code == 401
    unknown = str(uuid.uuid4())
    bad = office.get("/api/v1/dashboard/table", params={"term_id": unknown})
    assert bad.status_code == 422, bad.text
    assert [e["field"] for e in bad.json()["errors"]] == ["term_id.0"]


def test_a_failed_reconciliation_stops_the_table(
    office: httpx.Client, history: History, database: Database
) -> None:
    # 吴某某's lead was answered by a talk, no case: a sanction on them cannot be right
    wu = uuid.UUID(history.subjects["吴某某"])
    statement = "UPDATE referrals.lead_subjects SET party_sanction = $1 WHERE id = $2"
    asyncio.run(sql(database, "referrals", statement, "warning", wu))
    try:
        params = {"term_id": history.term_id}
        for fmt in ("json", "xlsx"):
            refused = office.get("/api/v1/dashboard/table", params={**params, "format": fmt})
            assert refused.status_code == 409, refused.text
            problem = refused.json()
            assert problem["type"] == "/problems/reconciliation-failed"
            assert problem["title"] == "统计数据对账未通过，不出具统计表"
            failed = {c["check"]: c["detail"] for c in problem["failed_checks"]}
            assert failed == {
                "sanctioned_within_case_subjects": "给予党政纪处分3人 > 立案涉及人员2人",
                "sanctions_only_after_case": "未立案即给予党政纪处分的人员1人（应为0人）",
            }
            assert "sanctions_only_after_case" in problem["detail"]
            assert "rows" not in problem
        # the dashboard still shows the figures, and says they disagree
        d = fresh(office, "/api/v1/dashboard", params)
        assert d["consistent"] is False
        assert d["persons"]["sanctioned"] == 3
    finally:
        asyncio.run(sql(database, "referrals", statement, None, wu))
    assert ok(office.get("/api/v1/dashboard/table", params={"term_id": history.term_id}), 200)


def test_the_figures_of_a_scope_are_cached_briefly(office: httpx.Client, history: History) -> None:
    params = {"jurisdiction": history.jurisdiction}
    first = ok(office.get("/api/v1/dashboard", params=params), 200)
    started = time.monotonic()
    ok(
        office.post(
            "/api/v1/suggestions",
            json={
                "round_id": history.round1,
                "addressed_to": "市财政局",
                "content": "规范资金拨付",
            },
        )
    )
    again = ok(office.get("/api/v1/dashboard", params=params), 200)
    if time.monotonic() - started < 8:  # the gateway keeps a scope's figures 10 s
        assert again["generated_at"] == first["generated_at"]
        assert again["suggestions"]["total"] == first["suggestions"]["total"]
    counted = fresh(office, "/api/v1/dashboard", params)
    assert counted["suggestions"]["total"] == first["suggestions"]["total"] + 1
    # the table never comes from the cache
    table = ok(office.get("/api/v1/dashboard/table", params=params), 200)
    assert table["rows"][-2]["数值"] == first["suggestions"]["total"] + 1
