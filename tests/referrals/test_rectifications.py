"""Rectification items (整改事项): progress, completion request, sign-off (销号) or send-back,
reopening at a follow-up (回头看), who sees them, and the escalation ladder with a clock the test
controls (`Clock`, the service's "today")."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy.dialects import postgresql

from ops.stack import Database
from services.common.auth import KeySet
from services.referrals.rectifications.repository import NoticeRepository
from services.referrals.settings import DEFAULT_LADDER
from tests.referrals.conftest import (
    Auth,
    Clock,
    Upstream,
    backdate,
    make_settings,
    running,
    sql,
)

ALL = ["open", "completion_requested", "sent_back", "signed_off", "reopened"]
NEXT = {
    "open": ["completion_requested"],
    "sent_back": ["completion_requested"],
    "reopened": ["completion_requested"],
    "completion_requested": ["signed_off", "sent_back"],
    "signed_off": ["reopened"],
}


def today() -> date:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


async def new_item(client: httpx.AsyncClient, upstream: Upstream, **over: Any) -> dict[str, Any]:
    body = {
        "title": "低保评定不规范",
        "duties": "全面清理低保对象，建立动态管理台账。",
        "finding_ids": [upstream.finding()],
        "owner_type": "responsible_unit",
        "owner_name": "赤马港办事处",
        "owner_user_id": str(uuid.uuid4()),
        "leader_name": "王副市长",
        "leader_user_id": str(uuid.uuid4()),
        "unit_head_name": "刘书记",
        "deadline": (today() + timedelta(days=90)).isoformat(),
        **over,
    }
    resp = await client.post("/api/v1/rectifications", json=body)
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


async def move(
    client: httpx.AsyncClient,
    item_id: str,
    to: str,
    headers: dict[str, str] | None = None,
    **body: Any,
) -> httpx.Response:
    return await client.post(
        f"/api/v1/rectifications/{item_id}/transitions", json={"to": to, **body}, headers=headers
    )


async def test_owner_reports_asks_for_sign_off_is_sent_back_then_signed_off(
    client: httpx.AsyncClient, upstream: Upstream, auth: Auth
) -> None:
    item = await new_item(client, upstream)
    assert (item["status"], item["next_states"], item["overdue"]) == (
        "open",
        ["completion_requested"],
        False,
    )
    owner = auth("owner", sub=item["owner_user_id"])
    url = f"/api/v1/rectifications/{item['id']}"
    resp = await client.post(
        f"{url}/progress", json={"note": "已清退不符合条件低保户 12 户"}, headers=owner
    )
    assert resp.status_code == 201, resp.text
    assert (
        await move(client, item["id"], "completion_requested", headers=owner)
    ).status_code == 201
    # the owner cannot sign off their own item
    assert (await move(client, item["id"], "signed_off", headers=owner)).status_code == 403
    # a send-back needs a reason
    resp = await move(client, item["id"], "sent_back")
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "note"
    assert (await move(client, item["id"], "sent_back", note="台账未建立")).status_code == 201
    await client.post(f"{url}/progress", json={"note": "动态管理台账已建立"}, headers=owner)
    await move(client, item["id"], "completion_requested", headers=owner)
    resp = await move(client, item["id"], "signed_off", note="整改到位，予以销号")
    assert resp.status_code == 201
    done = (await client.get(url, headers=owner)).json()
    assert (done["status"], done["signed_off_on"]) == ("signed_off", today().isoformat())
    progress = (await client.get(f"{url}/progress", headers=owner)).json()["items"]
    assert [p["note"] for p in progress] == ["已清退不符合条件低保户 12 户", "动态管理台账已建立"]
    history = (await client.get(f"{url}/transitions")).json()["items"]
    assert [h["to_state"] for h in history] == [
        "completion_requested", "sent_back", "completion_requested", "signed_off"
    ]  # fmt: skip
    assert history[1]["note"] == "台账未建立"
    # signed off: no more progress or changes, until a follow-up reopens it
    assert (
        await client.post(f"{url}/progress", json={"note": "x"}, headers=owner)
    ).status_code == 409
    new_deadline = (today() + timedelta(days=30)).isoformat()
    resp = await move(client, item["id"], "reopened", deadline=new_deadline)
    assert resp.status_code == 422  # the reason is missing
    resp = await move(client, item["id"], "reopened", note="回头看发现反弹", deadline=new_deadline)
    assert resp.status_code == 201, resp.text
    again = (await client.get(url)).json()
    assert (again["status"], again["deadline"], again["signed_off_on"]) == (
        "reopened",
        new_deadline,
        None,
    )


async def test_every_illegal_item_transition_is_409(
    client: httpx.AsyncClient, upstream: Upstream
) -> None:
    item = await new_item(client, upstream)
    path = [
        "open",
        "completion_requested",
        "sent_back",
        "completion_requested",
        "signed_off",
        "reopened",
    ]
    for i, state in enumerate(path):
        if i:
            note = {"note": "原因"} if state in ("sent_back", "reopened") else {}
            assert (await move(client, item["id"], state, **note)).status_code == 201
        for target in ALL:
            if target in NEXT[state]:
                continue
            resp = await move(client, item["id"], target, note="原因")
            assert resp.status_code == 409, (state, target)
            assert resp.json()["allowed"] == NEXT[state]
            assert resp.json()["type"] == "/problems/illegal-rectification-transition"


async def test_only_people_named_on_an_item_see_it(
    client: httpx.AsyncClient, upstream: Upstream, auth: Auth
) -> None:
    item = await new_item(client, upstream)
    url = f"/api/v1/rectifications/{item['id']}"
    for uid in (item["owner_user_id"], item["leader_user_id"]):
        assert (await client.get(url, headers=auth("owner", sub=uid))).status_code == 200
    stranger = auth("owner")
    assert (await client.get(url, headers=stranger)).status_code == 404
    assert (await client.get("/api/v1/rectifications", headers=stranger)).json()["items"] == []
    assert (
        await client.post(f"{url}/progress", json={"note": "x"}, headers=stranger)
    ).status_code == 404
    # the leader in charge sees it but does not report for the owner
    leader = auth("owner", sub=item["leader_user_id"])
    assert (
        await client.post(f"{url}/progress", json={"note": "x"}, headers=leader)
    ).status_code == 403
    assert (
        await move(client, item["id"], "completion_requested", headers=leader)
    ).status_code == 403
    owner = auth("owner", sub=item["owner_user_id"])
    resp = await client.patch(url, json={"title": "x"}, headers={**owner, "If-Match": "*"})
    assert resp.status_code == 403


async def test_input_errors_name_the_field(client: httpx.AsyncClient, upstream: Upstream) -> None:
    base = {
        "title": "t", "duties": "d", "finding_ids": [upstream.finding()],
        "owner_type": "party_head", "owner_name": "某局党组书记",
        "deadline": (today() + timedelta(days=10)).isoformat(),
    }  # fmt: skip
    for over, field in (
        ({"owner_type": "一把手"}, "owner_type"),
        ({"deadline": (today() - timedelta(days=1)).isoformat()}, "deadline"),
        ({"finding_ids": [str(uuid.uuid4())]}, "finding_ids.0"),
        ({"owner_name": " "}, "owner_name"),
        ({"extra": 1}, "extra"),
    ):
        resp = await client.post("/api/v1/rectifications", json={**base, **over})
        assert resp.status_code == 422, over
        assert resp.json()["errors"][0]["field"] == field


async def test_changes_need_the_current_etag(client: httpx.AsyncClient, upstream: Upstream) -> None:
    item = await new_item(client, upstream)
    url = f"/api/v1/rectifications/{item['id']}"
    assert (await client.patch(url, json={"title": "新"})).status_code == 428
    stale = {"If-Match": f'"v{item["version"]}"'}
    resp = await client.patch(url, json={"owner_name": "赤马港办事处党工委"}, headers=stale)
    assert resp.status_code == 200
    assert resp.headers["ETag"] != f'"v{item["version"]}"'
    assert (await client.patch(url, json={"title": "再改"}, headers=stale)).status_code == 412
    assert (
        await move(client, item["id"], "completion_requested", headers=stale)
    ).status_code == 412


async def test_overdue_is_the_day_after_the_deadline(
    client: httpx.AsyncClient, upstream: Upstream, database: Database
) -> None:
    import asyncpg

    due_today = await new_item(client, upstream, deadline=today().isoformat())
    late = await new_item(client, upstream, deadline=today().isoformat())
    conn = await asyncpg.connect(database.urls["referrals"].replace("+asyncpg", ""))
    try:  # a deadline in the past cannot be entered; the calendar moved on instead
        await conn.execute(
            "UPDATE referrals.rectification_items SET deadline = $1 WHERE id = $2",
            today() - timedelta(days=1),
            uuid.UUID(late["id"]),
        )
    finally:
        await conn.close()
    assert (await client.get(f"/api/v1/rectifications/{due_today['id']}")).json()[
        "overdue"
    ] is False
    assert (await client.get(f"/api/v1/rectifications/{late['id']}")).json()["overdue"] is True
    listed = (
        await client.get("/api/v1/rectifications", params={"overdue": True, "limit": 200})
    ).json()
    ids = {x["id"] for x in listed["items"]}
    assert late["id"] in ids
    assert due_today["id"] not in ids


async def escalate(
    client: httpx.AsyncClient,
    clock: Clock,
    on: date,
    ids: set[str],
    headers: dict[str, str] | None = None,
) -> list[tuple[str, str, int]]:
    """The day's run as the scheduler makes it: the clock set to `on`, no day given."""
    clock.day = on
    resp = await client.post("/api/v1/notices/escalations", json={}, headers=headers)
    assert resp.status_code == 200, resp.text
    assert resp.json()["on"] == on.isoformat()
    return [
        (n["item_id"], n["recipient"], n["days_before"])
        for n in resp.json()["created"]
        if n["item_id"] in ids
    ]


async def test_escalation_ladder_each_rung_once(
    client: httpx.AsyncClient, upstream: Upstream, auth: Auth, clock: Clock
) -> None:
    deadline = today() + timedelta(days=3000 + uuid.uuid4().int % 1000)
    item = await new_item(client, upstream, deadline=deadline.isoformat())
    ids = {item["id"]}
    i = item["id"]
    assert await escalate(client, clock, deadline - timedelta(days=21), ids) == []
    assert await escalate(client, clock, deadline - timedelta(days=20), ids) == [(i, "owner", 20)]
    assert await escalate(client, clock, deadline - timedelta(days=20), ids) == []  # same day again
    assert await escalate(client, clock, deadline - timedelta(days=11), ids) == []
    assert await escalate(client, clock, deadline - timedelta(days=10), ids) == [
        (i, "leader_in_charge", 10)
    ]
    assert await escalate(client, clock, deadline, ids) == []
    assert await escalate(client, clock, deadline + timedelta(days=1), ids) == [
        (i, "unit_head", -1)
    ]
    assert await escalate(client, clock, deadline + timedelta(days=30), ids) == []
    listed = (await client.get("/api/v1/notices", params={"item_id": i})).json()["items"]
    assert [(n["recipient"], n["recipient_name"], n["issued_on"]) for n in listed] == [
        ("owner", "赤马港办事处", (deadline - timedelta(days=20)).isoformat()),
        ("leader_in_charge", "王副市长", (deadline - timedelta(days=10)).isoformat()),
        ("unit_head", "刘书记", (deadline + timedelta(days=1)).isoformat()),
    ]
    assert "已逾期 1 天" in listed[2]["reason"]
    assert listed[0]["recipient_user_id"] == item["owner_user_id"]
    # the owner sees the notices of their item; others see none
    owner = auth("owner", sub=item["owner_user_id"])
    assert (
        len(
            (await client.get("/api/v1/notices", headers=owner, params={"item_id": i})).json()[
                "items"
            ]
        )
        == 3
    )
    assert (
        await client.get("/api/v1/notices", headers=auth("owner"), params={"item_id": i})
    ).json()["items"] == []
    # only the office or a scheduler (service) runs the check
    assert (
        await client.post("/api/v1/notices/escalations", json={}, headers=owner)
    ).status_code == 403


async def test_escalation_late_handover_sign_off_and_reopening(
    client: httpx.AsyncClient, upstream: Upstream, clock: Clock
) -> None:
    deadline = today() + timedelta(days=5000 + uuid.uuid4().int % 1000)
    late = await new_item(client, upstream, deadline=deadline.isoformat())
    done = await new_item(client, upstream, deadline=deadline.isoformat())
    await move(client, done["id"], "completion_requested")
    ids = {late["id"], done["id"]}
    # handed over five days before the deadline: both rungs reached at once; waiting for
    # sign-off is not chased
    assert sorted(await escalate(client, clock, deadline - timedelta(days=5), ids)) == sorted(
        [(late["id"], "owner", 20), (late["id"], "leader_in_charge", 10)]
    )
    await move(client, done["id"], "signed_off")
    assert await escalate(client, clock, deadline + timedelta(days=2), ids) == [
        (late["id"], "unit_head", -1)
    ]
    # reopened with a new deadline: the ladder starts again for it
    new_deadline = deadline + timedelta(days=60)
    resp = await move(
        client, done["id"], "reopened", note="回头看", deadline=new_deadline.isoformat()
    )
    assert resp.status_code == 201
    assert await escalate(client, clock, new_deadline - timedelta(days=20), ids) == [
        (done["id"], "owner", 20)
    ]


async def test_the_ladder_is_configurable(
    database: Database, test_keys: KeySet, upstream: Upstream, auth: Auth, clock: Clock
) -> None:
    ladder = [{"days_before": 3, "notify": "unit_head"}]
    settings = make_settings(database, escalation_ladder=ladder)
    async with running(settings, test_keys, upstream, auth("office"), clock) as c:
        deadline = today() + timedelta(days=7000 + uuid.uuid4().int % 1000)
        item = await new_item(c, upstream, deadline=deadline.isoformat())
        ids = {item["id"]}
        assert await escalate(c, clock, deadline - timedelta(days=20), ids) == []
        assert await escalate(c, clock, deadline - timedelta(days=3), ids) == [
            (item["id"], "unit_head", 3)
        ]


async def test_no_escalation_run_for_a_day_to_come(
    client: httpx.AsyncClient, upstream: Upstream, clock: Clock
) -> None:
    """A run for a later day would spend rungs before they are due: refused, naming `on`."""
    deadline = today() + timedelta(days=30)
    item = await new_item(client, upstream, deadline=deadline.isoformat())
    for ahead in (1, 10):
        resp = await client.post(
            "/api/v1/notices/escalations",
            json={"on": (today() + timedelta(days=ahead)).isoformat()},
        )
        assert resp.status_code == 422, resp.text
        assert resp.json()["errors"][0]["field"] == "on"
    notices = (await client.get("/api/v1/notices", params={"item_id": item["id"]})).json()
    assert notices["items"] == []  # the owner's rung (20 days) is still to come
    # the clock the service goes by decides what "later" is
    clock.day = today() + timedelta(days=10)
    resp = await client.post("/api/v1/notices/escalations", json={"on": clock.day.isoformat()})
    assert resp.status_code == 200, resp.text
    assert [(n["recipient"], n["issued_on"]) for n in resp.json()["created"]
            if n["item_id"] == item["id"]] == [("owner", clock.day.isoformat())]  # fmt: skip


async def test_a_missed_day_is_caught_up_with_the_notices_of_that_day(
    client: httpx.AsyncClient, upstream: Upstream, clock: Clock, database: Database
) -> None:
    deadline = today() + timedelta(days=9000 + uuid.uuid4().int % 1000)
    item = await new_item(client, upstream, deadline=deadline.isoformat())
    ids = {item["id"]}
    # the scheduler missed the day 20 days before the deadline; the office catches it up
    clock.day = deadline - timedelta(days=5)
    resp = await client.post(
        "/api/v1/notices/escalations", json={"on": (deadline - timedelta(days=20)).isoformat()}
    )
    assert resp.status_code == 200, resp.text
    created = [n for n in resp.json()["created"] if n["item_id"] in ids]
    assert [(n["recipient"], n["issued_on"]) for n in created] == [
        ("owner", (deadline - timedelta(days=20)).isoformat())
    ]
    assert "距期限 20 天" in created[0]["reason"]
    # today's run issues what is due today and not yet issued
    assert await escalate(client, clock, clock.day, ids) == [(item["id"], "leader_in_charge", 10)]
    # a day before the item was handed over issues nothing for it
    late = await new_item(client, upstream, deadline=deadline.isoformat())
    await backdate(database, "rectification_items", late["id"], deadline - timedelta(days=6))
    resp = await client.post(
        "/api/v1/notices/escalations", json={"on": (deadline - timedelta(days=7)).isoformat()}
    )
    assert [n for n in resp.json()["created"] if n["item_id"] == late["id"]] == []


async def test_delta_sync_includes_an_item_changed_at_that_very_instant(
    client: httpx.AsyncClient, upstream: Upstream
) -> None:
    item = await new_item(client, upstream)
    resp = await client.get(
        "/api/v1/rectifications", params={"updated_since": item["updated_at"], "limit": 200}
    )
    assert item["id"] in {x["id"] for x in resp.json()["items"]}


async def test_the_queries_of_items_have_their_indexes(database: Database) -> None:
    """Each person named on an item finds it by index; the daily escalation reads a range of
    the (status, deadline) index rather than every open item."""
    indexes = await sql(
        database,
        "SELECT array_agg(indexdef) FROM pg_indexes"
        " WHERE schemaname = 'referrals' AND tablename = 'rectification_items'",
    )
    for column in ("owner_user_id", "leader_user_id", "unit_head_user_id"):
        assert any(d.endswith(f"({column})") for d in indexes), column
    stmt = NoticeRepository(None).escalation(today(), DEFAULT_LADDER)  # type: ignore[arg-type]
    query = str(stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    plan = await explain(database, query)
    used = plan.split("ix_rectification_items_status_deadline", 1)
    assert len(used) == 2, plan
    assert "Index Cond" in used[1], plan
    assert "deadline <=" in used[1], plan


async def explain(database: Database, query: str) -> str:
    """The plan of `query`, as if the table were large (no sequential scan when avoidable)."""
    import asyncpg

    conn = await asyncpg.connect(database.urls["referrals"].replace("+asyncpg", ""))
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL enable_seqscan = off")
            rows = await conn.fetch(f"EXPLAIN {query}")
    finally:
        await conn.close()
    return "\n".join(r[0] for r in rows)
