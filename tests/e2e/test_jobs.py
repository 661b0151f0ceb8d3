"""Scheduled jobs against the running system."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from ops.jobs import run_escalations
from ops.stack import Database
from tests.e2e.conftest import System, place_a_finding

pytestmark = pytest.mark.e2e


def test_the_daily_escalation_runs_as_the_referrals_client_and_issues_once(
    system: System, database: Database
) -> None:
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    with httpx.Client(base_url=system.gateway, headers=system.auth, timeout=30) as gw:
        placed = place_a_finding(gw, "赵李桥镇某村")
        finding = gw.post(
            "/api/v1/findings",
            json={
                "assignment_id": placed.assignment_id,
                "category_id": placed.category_id,
                "title": "村务公开不及时",
                "facts": "2018年上半年未公开。",
                "source": "visit",
                "discovered_on": str(today),
            },
        )
        assert finding.status_code == 201, finding.text
        confirm = f"/api/v1/findings/{finding.json()['id']}/transitions"
        assert gw.post(confirm, json={"to": "confirmed"}).status_code in (200, 201)
        item = gw.post(
            "/api/v1/rectifications",
            json={
                "title": "限期公开村务",
                "duties": "补充公开并建立制度",
                "owner_type": "responsible_unit",
                "finding_ids": [finding.json()["id"]],
                "owner_name": "赵李桥镇某村村委会",
                "deadline": str(today + timedelta(days=15)),
            },
        )
        assert item.status_code == 201, item.text
    secret = database.client_secrets["referrals"]
    first = asyncio.run(run_escalations(system.gateway, secret, today))
    mine = [n for n in first["created"] if n["item_id"] == item.json()["id"]]
    assert len(mine) == 1  # 15 days before the deadline: the owner's rung (20 days) only
    again = asyncio.run(run_escalations(system.gateway, secret, today))
    assert [n for n in again["created"] if n["item_id"] == item.json()["id"]] == []
    assert date.fromisoformat(again["on"]) == today
