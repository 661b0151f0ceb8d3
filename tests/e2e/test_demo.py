"""The demo city loads through the public API, once, and the dashboard and the statistical
table show it: leads, rectification items, suggestions and rules established included."""

from __future__ import annotations

import httpx
import pytest

from ops.demo import TERM, Loader
from ops.stack import Database
from tests.e2e.conftest import PASSWORD, System

pytestmark = pytest.mark.e2e


def test_the_demo_city_loads_once_and_reads_back(system: System, database: Database) -> None:
    loaded = Loader(system.gateway, "office1", PASSWORD).load()
    assert loaded == {
        "targets": 60, "findings": 12, "leads": 4, "rectifications": 6,
        "suggestions": 14, "rules": 7,
    }  # fmt: skip
    assert Loader(system.gateway, "office1", PASSWORD).load() == {}

    with httpx.Client(base_url=system.gateway, headers=system.auth) as gw:
        term = next(
            t
            for t in gw.get("/api/v1/terms", params={"limit": 200}).json()["items"]
            if t["name"] == TERM
        )
        coverage = gw.get("/api/v1/coverage", params={"term_id": term["id"]}).json()
        # 8 departments, 10 townships, 40 villages; round 1 (rectification) inspected 3
        # departments, round 2 (stationing) 3 departments, 23 villages and 4 townships
        # (other tests of the session may add units to the same city: only ours are exact)
        overall = coverage["overall"]
        assert (overall["inspected"], overall["planned"]) == (33, 0)
        assert overall["total"] >= 58
        assert overall["remaining"] == overall["total"] - 33
        leads = gw.get("/api/v1/leads", params={"limit": 50}).json()["items"]
        assert {lead["status"] for lead in leads} >= {"concluded", "transferred", "draft"}

        # the dashboard of the term counts every record the demo made, fresh
        dashboard = gw.get(
            "/api/v1/dashboard",
            params={"term_id": term["id"]},
            headers={"Cache-Control": "no-cache"},
        ).json()
        assert dashboard["consistent"] is True
        assert dashboard["suggestions"]["total"] == 14
        adoption = {x["code"]: x["count"] for x in dashboard["suggestions"]["by_adoption"]}
        assert adoption == {
            "pending": 5, "adopted": 6, "partially_adopted": 3, "not_adopted": 0
        }  # fmt: skip
        assert dashboard["rules"] == 7
        assert dashboard["leads"]["handed_over"] == 3  # the fourth is still a draft
        assert dashboard["rectification"]["fed_back"] == 6
        assert dashboard["rectification"]["done"] == 2
        # each round's own: the first round's departments, the special round's findings
        rounds = {r["number"]: r["id"] for r in dashboard["rounds"]["items"]}
        for number, suggestions, rules in ((1, 6, 4), (2, 8, 3)):
            one = gw.get("/api/v1/dashboard", params={"round_id": rounds[number]}).json()
            assert (one["suggestions"]["total"], one["rules"]) == (suggestions, rules), number

        # the statistical table is issued (the demo reconciles) with the same figures
        table = gw.get("/api/v1/dashboard/table", params={"term_id": term["id"]})
        assert table.status_code == 200, table.text
        rows = {r["指标"]: r["数值"] for r in table.json()["rows"]}
        assert (rows["提出意见建议"], rows["建立健全制度"]) == (14, 7)
        assert table.json()["summary"] == (
            "移交问题线索3件，立案2件，给予党政纪处分1人；"
            "反馈整改事项6个，提出意见建议14条，建立健全制度7项"
        )
        rules = gw.get("/api/v1/rules", params={"round_id": rounds[2], "limit": 50}).json()
        cited = {r["title"]: len(r["suggestion_ids"]) for r in rules["items"]}
        assert cited["赤壁市产业扶贫资金拨付管理办法"] == 2
