"""The demo city loads through the public API, once."""

from __future__ import annotations

import httpx
import pytest

from ops.demo import TERM, Loader
from ops.stack import Database
from tests.e2e.conftest import PASSWORD, System

pytestmark = pytest.mark.e2e


def test_the_demo_city_loads_once_and_reads_back(system: System, database: Database) -> None:
    loaded = Loader(system.gateway, "office1", PASSWORD).load()
    assert loaded == {"targets": 60, "findings": 12, "leads": 4, "rectifications": 6}
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
