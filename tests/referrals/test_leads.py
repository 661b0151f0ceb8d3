"""Leads (问题线索): the lifecycle and its rules, per-subject outcomes, the feedback deadline,
who sees what, and concurrency. In-process against the real PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from ops.stack import Database
from services.common.auth import KeySet
from services.referrals.dates import add_months
from tests.conftest import MintToken
from tests.referrals.conftest import Auth, Upstream, backdate, make_settings, running

SUBJECTS = [
    {"name": "张三", "position": "村党支部书记", "rank": "village", "party_member": True},
    {"name": "李四", "position": "村委会委员", "rank": "village", "party_member": False},
]
ALL = ["draft", "approved", "transferred", "received", "handling", "case_filed", "concluded"]
NEXT = {
    "draft": ["approved"],
    "approved": ["transferred", "draft"],
    "transferred": ["received"],
    "received": ["handling"],
    "handling": ["case_filed", "concluded"],
    "case_filed": ["concluded"],
    "concluded": [],
}


def today() -> date:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


def letter() -> str:
    return f"赤巡移〔2018〕{uuid.uuid4().hex[:8]}号"


async def new_lead(client: httpx.AsyncClient, upstream: Upstream, **over: Any) -> dict[str, Any]:
    body = {
        "title": "扶贫资金优亲厚友",
        "summary": "村干部为亲属违规办理低保。",
        "finding_ids": [upstream.finding()],
        "recipient": "discipline_commission",
        "subjects": SUBJECTS,
        **over,
    }
    resp = await client.post("/api/v1/leads", json=body)
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


async def move(
    client: httpx.AsyncClient,
    lead_id: str,
    to: str,
    headers: dict[str, str] | None = None,
    **body: Any,
) -> httpx.Response:
    return await client.post(
        f"/api/v1/leads/{lead_id}/transitions", json={"to": to, **body}, headers=headers
    )


async def walk(client: httpx.AsyncClient, lead_id: str, until: str, **extra: Any) -> None:
    """Moves a lead forward along the main path (via a case) up to `until`."""
    steps: dict[str, dict[str, Any]] = {
        "approved": {},
        "transferred": {"transfer_letter_no": letter(), **extra},
        "received": {},
        "handling": {"handling": "preliminary_verification"},
        "case_filed": {"case_number": f"赤纪立〔2018〕{uuid.uuid4().hex[:6]}号"},
    }
    for state in ALL[1 : ALL.index(until) + 1]:
        resp = await move(client, lead_id, state, **steps.get(state, {}))
        assert resp.status_code == 201, resp.text


async def read(
    client: httpx.AsyncClient, lead_id: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    resp = await client.get(f"/api/v1/leads/{lead_id}", headers=headers)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


async def test_a_lead_goes_to_a_case_and_concludes_with_an_outcome_per_subject(
    client: httpx.AsyncClient, upstream: Upstream
) -> None:
    lead = await new_lead(client, upstream)
    await walk(client, lead["id"], "case_filed")
    subjects = (await read(client, lead["id"]))["subjects"]
    resp = await move(
        client,
        lead["id"],
        "concluded",
        note="审查调查终结",
        money_recovered="32000.50",
        outcomes=[
            {
                "subject_id": subjects[0]["id"],
                "party_sanction": "serious_warning",
                "government_sanction": "dismissal_from_post",
            },
            {"subject_id": subjects[1]["id"], "organisational_handling": "admonishment_talk"},
        ],
    )
    assert resp.status_code == 201, resp.text
    done = await read(client, lead["id"])
    assert done["status"] == "concluded"
    assert done["next_states"] == []
    assert done["money_recovered"] == "32000.50"
    assert done["concluded_on"] == today().isoformat()
    first, second = done["subjects"]
    assert (first["name"], first["party_sanction"], first["government_sanction"]) == (
        "张三", "serious_warning", "dismissal_from_post"
    )  # fmt: skip
    assert (second["party_sanction"], second["organisational_handling"]) == (
        None, "admonishment_talk"
    )  # fmt: skip
    history = (await client.get(f"/api/v1/leads/{lead['id']}/transitions")).json()["items"]
    assert [(h["from_state"], h["to_state"]) for h in history] == list(itertools.pairwise(ALL))
    assert history[-1]["note"] == "审查调查终结"
    assert all(h["by"] for h in history)


async def test_every_illegal_transition_is_409_naming_the_allowed_states(
    client: httpx.AsyncClient, upstream: Upstream
) -> None:
    lead = await new_lead(client, upstream)
    subjects = lead["subjects"]
    needs: dict[str, dict[str, Any]] = {
        "transferred": {"transfer_letter_no": letter()},
        "handling": {"handling": "preliminary_verification"},
        "case_filed": {"case_number": uuid.uuid4().hex[:10]},
        "concluded": {
            "outcomes": [{"subject_id": s["id"], "not_substantiated": True} for s in subjects]
        },
    }
    for state in ALL:
        if state != "draft":
            resp = await move(client, lead["id"], state, **needs.get(state, {}))
            assert resp.status_code == 201, resp.text
        for target in ALL:
            if target in NEXT[state]:
                continue
            resp = await move(client, lead["id"], target)
            assert resp.status_code == 409, (state, target, resp.text)
            problem = resp.json()
            assert problem["type"] == "/problems/illegal-lead-transition"
            assert problem["current"] == state
            assert problem["allowed"] == NEXT[state]


async def test_approval_can_be_withdrawn_but_needs_subjects(
    client: httpx.AsyncClient, upstream: Upstream
) -> None:
    bare = await new_lead(client, upstream, subjects=[])
    resp = await move(client, bare["id"], "approved")
    assert resp.status_code == 409
    assert resp.json()["errors"][0]["field"] == "subjects"
    lead = await new_lead(client, upstream)
    assert (await move(client, lead["id"], "approved")).status_code == 201
    assert (await read(client, lead["id"]))["approved_by"]
    assert (await move(client, lead["id"], "draft", note="补充材料")).status_code == 201
    again = await read(client, lead["id"])
    assert (again["status"], again["approved_by"]) == ("draft", None)


async def test_steps_check_what_they_need(client: httpx.AsyncClient, upstream: Upstream) -> None:
    lead = await new_lead(client, upstream)
    await walk(client, lead["id"], "approved")
    resp = await move(client, lead["id"], "transferred")
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "transfer_letter_no"
    future = (today() + timedelta(days=1)).isoformat()
    resp = await move(
        client, lead["id"], "transferred", transfer_letter_no=letter(), transferred_on=future
    )
    assert resp.json()["errors"][0]["field"] == "transferred_on"
    number = letter()
    assert (
        await move(client, lead["id"], "transferred", transfer_letter_no=number)
    ).status_code == 201
    other = await new_lead(client, upstream)
    await walk(client, other["id"], "approved")
    resp = await move(client, other["id"], "transferred", transfer_letter_no=number)
    assert resp.status_code == 409
    assert resp.json()["type"] == "/problems/letter-number-taken"
    assert (await read(client, other["id"]))["status"] == "approved"

    await move(client, lead["id"], "received")
    resp = await move(client, lead["id"], "handling")
    assert resp.json()["errors"][0]["field"] == "handling"
    resp = await move(client, lead["id"], "handling", handling="bogus")
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "handling"
    assert (await move(client, lead["id"], "handling", handling="talk_inquiry")).status_code == 201
    # a case follows preliminary verification, not a talk
    resp = await move(client, lead["id"], "case_filed", case_number="X-1")
    assert resp.status_code == 409
    assert resp.json()["type"] == "/problems/case-needs-verification"
    subjects = (await read(client, lead["id"]))["subjects"]
    # a sanction without a case is refused and changes nothing
    resp = await move(
        client,
        lead["id"],
        "concluded",
        outcomes=[
            {"subject_id": subjects[0]["id"], "party_sanction": "warning"},
            {"subject_id": subjects[1]["id"], "not_substantiated": True},
        ],
    )
    assert resp.status_code == 422
    assert resp.json()["errors"][0] == {
        "field": "outcomes.0.party_sanction",
        "message": "a sanction needs a filed case (立案) first",
        "code": "no_case",
    }
    # every subject needs an outcome
    only_first = [{"subject_id": subjects[0]["id"], "organisational_handling": "admonishment_talk"}]
    resp = await move(client, lead["id"], "concluded", outcomes=only_first)
    assert resp.json()["errors"][0]["field"] == "outcomes"
    resp = await move(
        client, lead["id"], "concluded",
        outcomes=[{"subject_id": str(uuid.uuid4()), "not_substantiated": True}],
    )  # fmt: skip
    assert resp.json()["errors"][0]["field"] == "outcomes.0.subject_id"
    # an outcome is one kind of result or "not substantiated" alone
    resp = await move(
        client, lead["id"], "concluded",
        outcomes=[{"subject_id": subjects[0]["id"], "not_substantiated": True,
                   "judicial_transfer": True}],
    )  # fmt: skip
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "outcomes.0"
    resp = await move(client, lead["id"], "concluded", outcomes=[{"subject_id": subjects[0]["id"]}])
    assert resp.json()["errors"][0]["field"] == "outcomes.0"
    assert (await read(client, lead["id"]))["status"] == "handling"


async def test_a_party_sanction_needs_a_party_member(
    client: httpx.AsyncClient, upstream: Upstream
) -> None:
    lead = await new_lead(client, upstream)
    await walk(client, lead["id"], "case_filed")
    subjects = (await read(client, lead["id"]))["subjects"]
    resp = await move(
        client,
        lead["id"],
        "concluded",
        outcomes=[
            {"subject_id": subjects[0]["id"], "judicial_transfer": True},
            {"subject_id": subjects[1]["id"], "party_sanction": "warning"},
        ],
    )
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "outcomes.1.party_sanction"


async def test_unknown_findings_and_rounds_are_422_naming_the_field(
    client: httpx.AsyncClient, upstream: Upstream
) -> None:
    known, missing = upstream.finding(), str(uuid.uuid4())
    body = {"title": "t", "summary": "s", "recipient": "other", "finding_ids": [known, missing]}
    resp = await client.post("/api/v1/leads", json=body)
    assert resp.status_code == 422
    assert [e["field"] for e in resp.json()["errors"]] == ["finding_ids.1"]
    resp = await client.post(
        "/api/v1/leads", json={**body, "finding_ids": [known], "round_id": str(uuid.uuid4())}
    )
    assert resp.json()["errors"][0]["field"] == "round_id"
    resp = await client.post("/api/v1/leads", json={**body, "finding_ids": []})
    assert resp.json()["errors"][0]["field"] == "finding_ids"
    resp = await client.post(
        "/api/v1/leads",
        json={
            **body,
            "finding_ids": [known],
            "subjects": [{"name": "王五", "rank": "科级", "party_member": True}],
        },
    )
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "subjects.0.rank"
    assert (await client.get("/api/v1/leads", params={"finding_id": known})).json()["items"] == []


async def test_the_round_comes_from_the_findings_when_they_agree(
    client: httpx.AsyncClient, upstream: Upstream
) -> None:
    rnd = upstream.round()
    a, b = upstream.finding(round_id=rnd), upstream.finding(round_id=rnd)
    assert (await new_lead(client, upstream, finding_ids=[a, b]))["round_id"] == rnd
    c = upstream.finding(round_id=upstream.round())
    assert (await new_lead(client, upstream, finding_ids=[a, c]))["round_id"] is None
    assert (await new_lead(client, upstream, finding_ids=[a, c], round_id=rnd))["round_id"] == rnd


async def test_feedback_deadline_and_overdue_at_the_boundary_day(
    database: Database, test_keys: KeySet, upstream: Upstream, auth: Auth, client: httpx.AsyncClient
) -> None:
    assert add_months(date(2018, 11, 30), 3) == date(2019, 2, 28)
    # transferred three months ago to the day: due today, not yet overdue
    due_today = today()
    start = add_months(due_today, -3)
    while add_months(start, 3) != due_today:  # a month-end clamp: find a day that lands today
        start -= timedelta(days=1)
    lead = await new_lead(client, upstream)
    await backdate(database, "leads", lead["id"], start - timedelta(days=1))
    await walk(client, lead["id"], "transferred", transferred_on=start.isoformat())
    on_time = await read(client, lead["id"])
    assert (on_time["feedback_due"], on_time["overdue"]) == (due_today.isoformat(), False)
    # a day earlier: due yesterday, overdue today
    late = await new_lead(client, upstream)
    await backdate(database, "leads", late["id"], start - timedelta(days=1))
    await walk(
        client, late["id"], "transferred", transferred_on=(start - timedelta(days=1)).isoformat()
    )
    overdue = await read(client, late["id"])
    assert date.fromisoformat(overdue["feedback_due"]) < due_today
    assert overdue["overdue"] is True
    listed = (await client.get("/api/v1/leads", params={"overdue": True, "limit": 200})).json()
    ids = {x["id"] for x in listed["items"]}
    assert late["id"] in ids
    assert lead["id"] not in ids
    # the office extends the deadline: no longer overdue
    resp = await client.patch(
        f"/api/v1/leads/{late['id']}",
        json={"feedback_due": due_today.isoformat()},
        headers={"If-Match": f'"v{overdue["version"]}"'},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["overdue"] is False
    # a concluded lead is never overdue
    await move(client, late["id"], "received")
    await move(client, late["id"], "handling", handling="closed")
    subjects = overdue["subjects"]
    outcomes = [{"subject_id": s["id"], "not_substantiated": True} for s in subjects]
    assert (await move(client, late["id"], "concluded", outcomes=outcomes)).status_code == 201
    # the deadline is configurable
    settings = make_settings(database, feedback_months=6)
    async with running(settings, test_keys, upstream, auth("office")) as six:
        other = await new_lead(six, upstream)
        await backdate(database, "leads", other["id"], date(2018, 8, 31))
        await walk(six, other["id"], "transferred", transferred_on="2018-08-31")
        assert (await read(six, other["id"]))["feedback_due"] == "2019-02-28"


async def test_receivers_see_only_leads_transferred_to_their_body(
    client: httpx.AsyncClient, upstream: Upstream, auth: Auth
) -> None:
    receiver, org_receiver = str(uuid.uuid4()), str(uuid.uuid4())
    for uid, body in (
        (receiver, "discipline_commission"),
        (org_receiver, "organisation_department"),
    ):
        resp = await client.put(
            f"/api/v1/leads/receivers/{uid}", json={"recipient": body, "name": "信访室"}
        )
        assert resp.status_code == 201, resp.text
    mine = auth("receiver", sub=receiver)
    theirs = auth("receiver", sub=org_receiver)
    lead = await new_lead(client, upstream)
    draft = await new_lead(client, upstream)
    # not before the transfer
    assert (await client.get(f"/api/v1/leads/{lead['id']}", headers=mine)).status_code == 404
    await walk(client, lead["id"], "transferred")
    seen = await read(client, lead["id"], headers=mine)
    assert seen["subject_names_hidden"] is False
    assert [s["name"] for s in seen["subjects"]] == ["张三", "李四"]
    listed = (await client.get("/api/v1/leads", headers=mine, params={"limit": 200})).json()[
        "items"
    ]
    ids = {x["id"] for x in listed}
    assert lead["id"] in ids
    assert draft["id"] not in ids
    assert all(x["recipient"] == "discipline_commission" for x in listed)
    # the organisation department's receiver, a receiver not on the list, a leader of no group
    # (roles the table grants leads to, each in its scope): nothing, as if absent; a leader
    # is not granted moving a lead at all (403 there)
    for headers, moving in ((theirs, 404), (auth("receiver"), 404), (auth("group_leader"), 403)):
        assert (await client.get(f"/api/v1/leads/{lead['id']}", headers=headers)).status_code == 404
        others = await client.get("/api/v1/leads", headers=headers, params={"limit": 200})
        # the organisation department's receiver sees its own body's leads (other tests of the
        # session may have sent some), never this one; the rest see none
        assert lead["id"] not in {x["id"] for x in others.json()["items"]}
        allowed = {"organisation_department"} if headers is theirs else set()
        assert {x["recipient"] for x in others.json()["items"]} <= allowed
        assert (await move(client, lead["id"], "received", headers=headers)).status_code == moving
    # anyone else (roles the table does not grant leads to): refused before any record is read
    for role in ("group_member", "owner", "service"):
        headers = auth(role)
        for resp in (
            await client.get(f"/api/v1/leads/{lead['id']}", headers=headers),
            await client.get("/api/v1/leads", headers=headers, params={"limit": 200}),
            await move(client, lead["id"], "received", headers=headers),
        ):
            assert resp.status_code == 403, (role, resp.text)
            assert resp.json()["type"] == "/problems/forbidden-by-policy"
    # the receiver takes the steps of the receiver, not of the office
    resp = await move(client, lead["id"], "received", headers=mine)
    assert resp.status_code == 201, resp.text
    assert resp.json()["by"] == receiver
    body = {"title": "t", "summary": "s", "finding_ids": [upstream.finding()], "recipient": "other"}
    assert (await client.post("/api/v1/leads", headers=mine, json=body)).status_code == 403
    resp = await client.patch(
        f"/api/v1/leads/{lead['id']}", json={"title": "x"}, headers={**mine, "If-Match": "*"}
    )
    assert resp.status_code == 403
    # receivers are the office's list
    assert (await client.get("/api/v1/leads/receivers", headers=mine)).status_code == 403


def leader_of(upstream: Upstream, auth: Auth, group: str, role: str = "leader") -> dict[str, str]:
    """A user whose membership (in rounds, through the gateway) makes them `role` of `group`."""
    uid = str(uuid.uuid4())
    upstream.member(uid, group, role)
    return auth("group_leader", sub=uid)


async def add_receiver(client: httpx.AsyncClient, auth: Auth, body: str) -> dict[str, str]:
    uid = str(uuid.uuid4())
    resp = await client.put(
        f"/api/v1/leads/receivers/{uid}", json={"recipient": body, "name": "室"}
    )
    assert resp.status_code == 201, resp.text
    return auth("receiver", sub=uid)


async def test_group_leaders_see_leads_from_their_groups_findings_by_membership(
    client: httpx.AsyncClient, upstream: Upstream, auth: Auth, mint: MintToken
) -> None:
    group = str(uuid.uuid4())
    lead = await new_lead(client, upstream, finding_ids=[upstream.finding(group_id=group)])
    url = f"/api/v1/leads/{lead['id']}"
    for role in ("leader", "deputy_leader"):
        seen = await read(client, lead["id"], headers=leader_of(upstream, auth, group, role))
        assert (seen["id"], seen["view"], seen["subject_names_hidden"]) == (
            lead["id"], "follow_up", True
        )  # fmt: skip
    leader = leader_of(upstream, auth, group)
    listed = (await client.get("/api/v1/leads", headers=leader)).json()["items"]
    assert [x["id"] for x in listed] == [lead["id"]]
    # a member or liaison of the group, the leader of another group: nothing
    for headers in (
        leader_of(upstream, auth, group, "member"),
        leader_of(upstream, auth, group, "liaison"),
        leader_of(upstream, auth, str(uuid.uuid4())),
    ):
        assert (await client.get(url, headers=headers)).status_code == 404
        assert (await client.get("/api/v1/leads", headers=headers)).json()["items"] == []
    # a token naming the group is not a membership (the gateway sends none; it is not trusted)
    token = mint("referrals", roles=["group_leader"], sub=str(uuid.uuid4()), groups=[group])
    assert (await client.get(url, headers={"Authorization": f"Bearer {token}"})).status_code == 404
    # the memberships are read once per user for a while, not on every request
    uid = str(uuid.uuid4())
    upstream.member(uid, group)
    asked = len([c for c in upstream.calls if c.endswith("/groups/memberships")])
    for _ in range(3):
        await read(client, lead["id"], headers=auth("group_leader", sub=uid))
    assert len([c for c in upstream.calls if c.endswith("/groups/memberships")]) == asked + 1


async def test_group_leaders_follow_a_lead_without_whom_or_what_came_of_it(
    client: httpx.AsyncClient, upstream: Upstream, auth: Auth
) -> None:
    group = str(uuid.uuid4())
    finding = upstream.finding(group_id=group, title="低保评定优亲厚友")
    lead = await new_lead(
        client, upstream, title="张三优亲厚友", summary="张三为其兄违规办理低保。",
        finding_ids=[finding],
    )  # fmt: skip
    await walk(client, lead["id"], "case_filed")
    subjects = (await read(client, lead["id"]))["subjects"]
    resp = await move(
        client, lead["id"], "concluded", note="给予张三严重警告处分", money_recovered="1200.00",
        outcomes=[
            {"subject_id": subjects[0]["id"], "party_sanction": "serious_warning",
             "note": "张三严重警告"},
            {"subject_id": subjects[1]["id"], "not_substantiated": True},
        ],
    )  # fmt: skip
    assert resp.status_code == 201, resp.text
    full = await read(client, lead["id"])
    leader = leader_of(upstream, auth, group)
    seen = await read(client, lead["id"], headers=leader)
    listed = (await client.get("/api/v1/leads", headers=leader)).json()["items"]
    assert listed == [seen]
    withheld = (
        "title", "summary", "subjects", "approved_by", "transfer_letter_no", "handling",
        "case_number", "money_recovered", "created_by",
    )  # fmt: skip
    assert {k: seen[k] for k in withheld} == dict.fromkeys(withheld)
    assert "张三" not in str(seen)
    assert "serious_warning" not in str(seen)
    shown = (
        "id", "finding_ids", "findings", "round_id", "recipient", "status", "transferred_on",
        "feedback_due", "case_filed_on", "concluded_on", "overdue", "version",
    )  # fmt: skip
    assert {k: seen[k] for k in shown} == {k: full[k] for k in shown}
    assert (seen["view"], seen["subject_count"], seen["status"]) == ("follow_up", 2, "concluded")
    assert [f["title"] for f in seen["findings"]] == ["低保评定优亲厚友"]
    # nor in the history: the states and days, not the notes
    url = f"/api/v1/leads/{lead['id']}/transitions"
    history = (await client.get(url, headers=leader)).json()["items"]
    assert [h["to_state"] for h in history] == ALL[1:]
    assert {h["note"] for h in history} == {None}
    # the office and the lead's receiver see it all
    assert (full["view"], full["title"], full["subjects"][0]["name"]) == (
        "full",
        "张三优亲厚友",
        "张三",
    )
    assert full["subjects"][0]["outcome_note"] == "张三严重警告"
    receiver = await add_receiver(client, auth, "discipline_commission")
    theirs = await read(client, lead["id"], headers=receiver)
    assert (theirs["view"], theirs["summary"]) == ("full", "张三为其兄违规办理低保。")
    notes = [h["note"] for h in (await client.get(url, headers=receiver)).json()["items"]]
    assert notes[-1] == "给予张三严重警告处分"


async def test_receiver_steps_are_the_receivers_or_the_offices_only(
    client: httpx.AsyncClient, upstream: Upstream, auth: Auth
) -> None:
    group = str(uuid.uuid4())
    lead = await new_lead(client, upstream, finding_ids=[upstream.finding(group_id=group)])
    leader = leader_of(upstream, auth, group)
    wrong_body = await add_receiver(client, auth, "organisation_department")
    mine = await add_receiver(client, auth, "discipline_commission")
    # the office's steps: not the group leader's, and the receiver does not see a draft
    assert (await move(client, lead["id"], "approved", headers=leader)).status_code == 403
    assert (await move(client, lead["id"], "approved", headers=mine)).status_code == 404
    await walk(client, lead["id"], "transferred")
    subjects = (await read(client, lead["id"]))["subjects"]
    outcomes = [{"subject_id": s["id"], "not_substantiated": True} for s in subjects]
    steps: list[tuple[str, dict[str, Any]]] = [
        ("received", {}),
        ("handling", {"handling": "preliminary_verification"}),
        ("case_filed", {"case_number": uuid.uuid4().hex[:10]}),
        ("concluded", {"outcomes": outcomes}),
    ]
    for to, body in steps:
        before = await read(client, lead["id"])
        # a group leader who sees the lead may not record a step of the recipient body
        resp = await move(client, lead["id"], to, headers=leader, **body)
        assert resp.status_code == 403, (to, resp.text)
        # a receiver of another body does not see it at all
        resp = await move(client, lead["id"], to, headers=wrong_body, **body)
        assert resp.status_code == 404, (to, resp.text)
        assert await read(client, lead["id"]) == before
        # the lead's receiver takes it
        resp = await move(client, lead["id"], to, headers=mine, **body)
        assert resp.status_code == 201, (to, resp.text)
    assert (await read(client, lead["id"]))["status"] == "concluded"
    # the office records a paper feedback for the receiver
    other = await new_lead(client, upstream)
    await walk(client, other["id"], "received")
    assert (await read(client, other["id"]))["status"] == "received"


async def test_lead_dates_stay_between_registration_and_today(
    client: httpx.AsyncClient, upstream: Upstream, database: Database
) -> None:
    lead = await new_lead(client, upstream)
    registered = today() - timedelta(days=10)
    await backdate(database, "leads", lead["id"], registered)
    await walk(client, lead["id"], "approved")
    for day in (registered - timedelta(days=1), today() + timedelta(days=1), date(1800, 1, 1)):
        resp = await move(
            client, lead["id"], "transferred", transfer_letter_no=letter(),
            transferred_on=day.isoformat(),
        )  # fmt: skip
        assert resp.status_code == 422, (day, resp.text)
        assert resp.json()["errors"][0]["field"] == "transferred_on"
    resp = await move(
        client, lead["id"], "transferred", transfer_letter_no=letter(),
        transferred_on=registered.isoformat(),
    )  # fmt: skip
    assert resp.status_code == 201, resp.text
    url = f"/api/v1/leads/{lead['id']}"
    for day in (date(1800, 1, 1), registered - timedelta(days=1)):
        etag = (await client.get(url)).headers["ETag"]
        resp = await client.patch(
            url, json={"feedback_due": day.isoformat()}, headers={"If-Match": etag}
        )
        assert resp.status_code == 422, (day, resp.text)
        assert resp.json()["errors"][0]["field"] == "feedback_due"
    etag = (await client.get(url)).headers["ETag"]
    resp = await client.patch(
        url, json={"feedback_due": registered.isoformat()}, headers={"If-Match": etag}
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["feedback_due"] == registered.isoformat()


async def test_delta_sync_includes_a_lead_changed_at_that_very_instant(
    client: httpx.AsyncClient, upstream: Upstream
) -> None:
    lead = await new_lead(client, upstream)
    resp = await client.get(
        "/api/v1/leads", params={"updated_since": lead["updated_at"], "limit": 200}
    )
    assert lead["id"] in {x["id"] for x in resp.json()["items"]}


async def test_concurrent_moves_of_a_lead_one_wins_the_other_is_409(
    client: httpx.AsyncClient, upstream: Upstream
) -> None:
    lead = await new_lead(client, upstream)
    first, second = await asyncio.gather(
        move(client, lead["id"], "approved"), move(client, lead["id"], "approved")
    )
    assert sorted([first.status_code, second.status_code]) == [201, 409]
    loser = first if first.status_code == 409 else second
    assert loser.json()["type"] == "/problems/illegal-lead-transition"
    assert loser.json()["current"] == "approved"
    a, b = await asyncio.gather(
        move(client, lead["id"], "transferred", transfer_letter_no=letter()),
        move(client, lead["id"], "transferred", transfer_letter_no=letter()),
    )
    assert sorted([a.status_code, b.status_code]) == [201, 409]
    won = a if a.status_code == 201 else b
    history = (await client.get(f"/api/v1/leads/{lead['id']}/transitions")).json()["items"]
    assert [h["to_state"] for h in history] == ["approved", "transferred"]
    assert history[-1]["id"] == won.json()["id"]


async def test_concurrent_transfers_with_one_letter_number_one_wins(
    client: httpx.AsyncClient, upstream: Upstream
) -> None:
    one, two = await new_lead(client, upstream), await new_lead(client, upstream)
    for lead in (one, two):
        await walk(client, lead["id"], "approved")
    number = letter()
    a, b = await asyncio.gather(
        move(client, one["id"], "transferred", transfer_letter_no=number),
        move(client, two["id"], "transferred", transfer_letter_no=number),
    )
    assert sorted([a.status_code, b.status_code]) == [201, 409], (a.text, b.text)
    loser = a if a.status_code == 409 else b
    assert loser.json()["type"] == "/problems/letter-number-taken"
    states = sorted([(await read(client, x["id"]))["status"] for x in (one, two)])
    assert states == ["approved", "transferred"]
    numbers = [(await read(client, x["id"]))["transfer_letter_no"] for x in (one, two)]
    assert sorted(numbers, key=lambda n: n is None) == [number, None]


async def test_changes_need_the_current_etag(client: httpx.AsyncClient, upstream: Upstream) -> None:
    lead = await new_lead(client, upstream)
    url = f"/api/v1/leads/{lead['id']}"
    resp = await client.patch(url, json={"title": "新标题"})
    assert resp.status_code == 428
    assert resp.json()["current_etag"] == f'"v{lead["version"]}"'
    resp = await client.patch(
        url,
        json={"title": "新标题", "subjects": [SUBJECTS[0]]},
        headers={"If-Match": f'"v{lead["version"]}"'},
    )
    assert resp.status_code == 200, resp.text
    changed = resp.json()
    assert changed["version"] > lead["version"]
    assert [s["name"] for s in changed["subjects"]] == ["张三"]
    resp = await client.patch(
        url, json={"title": "再改"}, headers={"If-Match": f'"v{lead["version"]}"'}
    )
    assert resp.status_code == 412
    assert (await client.delete(url)).status_code == 428
    assert (
        await client.delete(url, headers={"If-Match": f'"v{lead["version"]}"'})
    ).status_code == 412
    # stale transition
    resp = await move(client, lead["id"], "approved", headers={"If-Match": '"v1"'})
    assert resp.status_code == 412
    etag = (await client.get(url)).headers["ETag"]
    assert (await client.delete(url, headers={"If-Match": etag})).status_code == 204
    assert (await client.get(url)).status_code == 404


async def test_what_can_change_depends_on_the_state(
    client: httpx.AsyncClient, upstream: Upstream
) -> None:
    lead = await new_lead(client, upstream)
    await walk(client, lead["id"], "approved")
    url = f"/api/v1/leads/{lead['id']}"
    current = await read(client, lead["id"])
    resp = await client.patch(
        url, json={"recipient": "other"}, headers={"If-Match": f'"v{current["version"]}"'}
    )
    assert resp.status_code == 409
    assert resp.json()["errors"][0]["field"] == "recipient"
    resp = await client.patch(
        url, json={"feedback_due": "2030-01-01"}, headers={"If-Match": f'"v{current["version"]}"'}
    )
    assert resp.json()["errors"][0]["field"] == "feedback_due"
    resp = await client.delete(url, headers={"If-Match": f'"v{current["version"]}"'})
    assert resp.status_code == 409


@pytest.mark.parametrize("body", [{"recipient": "其他"}, {"name": ""}])
async def test_receiver_input_is_checked(client: httpx.AsyncClient, body: dict[str, str]) -> None:
    resp = await client.put(
        f"/api/v1/leads/receivers/{uuid.uuid4()}", json={"recipient": "other", "name": "x", **body}
    )
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == next(iter(body))
