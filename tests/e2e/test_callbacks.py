"""Callbacks in from the discipline inspection network platform (纪检监察网络平台), through the
real processes: a signed report moves a lead transferred to the discipline commission (its
history says `platform` did it); a bad or malformed signature, a timestamp five minutes old and
a replayed webhook id are refused and change nothing; the same report under a new webhook id
changes nothing twice; leads the platform does not handle are 404, as if absent."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from tests.e2e.conftest import PLATFORM_CALLBACK_SECRET, System, place_a_finding

pytestmark = pytest.mark.e2e

BASE = "/api/v1/integrations/platform/leads"
OTHER_SECRET = "whsec_" + "b3RoZXItc2VjcmV0LW9mLTMyLWJ5dGVzLWxvbmctLS0t"


def ok(resp: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body: dict[str, Any] = resp.json()
    return body


def sign(
    body: bytes, msg_id: str, *, secret: str = PLATFORM_CALLBACK_SECRET, at: float | None = None
) -> dict[str, str]:
    when = datetime.fromtimestamp(time.time() if at is None else at, UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, when, body.decode()),
        "content-type": "application/json",
    }


def encode(report: dict[str, Any]) -> bytes:
    return json.dumps(report, ensure_ascii=False).encode()


class Platform:
    """The platform's side: signed callbacks, each with a new webhook id unless told."""

    def __init__(self, system: System) -> None:
        self.http = httpx.Client(base_url=system.gateway, timeout=30)

    def report(
        self, lead_id: str, kind: str, report: dict[str, Any], msg_id: str | None = None
    ) -> httpx.Response:
        body = encode(report)
        headers = sign(body, msg_id or f"msg_{uuid.uuid4().hex}")
        return self.http.post(f"{BASE}/{lead_id}/{kind}", content=body, headers=headers)


class Office:
    def __init__(self, system: System) -> None:
        self.http = httpx.Client(base_url=system.gateway, headers=system.auth, timeout=30)

    def post(self, url: str, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
        """POST with an Idempotency-Key, tried again while the gateway times out or the first
        try still runs: on a loaded machine the first request of a fresh service (which fetches
        its own token first) can outlast the 3 s upstream timeout of these processes; the retry
        gets the first response, as any client would."""
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        for _ in range(30):
            resp = self.http.post(url, json=body, headers=headers)
            retry = resp.status_code == 504 or (
                resp.status_code == 409 and resp.json()["type"] == "/problems/request-in-progress"
            )
            if not retry:
                break
            time.sleep(0.5)
        return ok(resp, status)

    def lead(self, recipient: str = "discipline_commission") -> dict[str, Any]:
        """A lead with two subjects (one a party member), transferred to `recipient`."""
        tag = uuid.uuid4().hex[:8]
        placed = place_a_finding(self.http, f"车埠镇第{tag}村")
        finding = self.post(
            "/api/v1/findings",
            {
                "assignment_id": placed.assignment_id,
                "category_id": placed.category_id,
                "title": "村干部虚报冒领扶贫资金",
                "facts": "虚报冒领产业扶贫资金。",
                "money_involved": "32000.00",
                "source": "letters",
                "discovered_on": datetime.now(UTC).date().isoformat(),
            },
        )
        self.post(f"/api/v1/findings/{finding['id']}/transitions", {"to": "confirmed"}, 200)
        lead = self.post(
            "/api/v1/leads",
            {
                "title": "村支书虚报冒领扶贫资金问题线索",
                "summary": "涉嫌套取产业扶贫资金 3.2 万元。",
                "finding_ids": [finding["id"]],
                "recipient": recipient,
                "subjects": [
                    {"name": "陈某某", "position": "村党支部书记", "rank": "village",
                     "party_member": True},
                    {"name": "周某某", "position": "村会计", "rank": "none",
                     "party_member": False},
                ],
            },
        )  # fmt: skip
        url = f"/api/v1/leads/{lead['id']}/transitions"
        self.post(url, {"to": "approved"})
        self.post(url, {"to": "transferred", "transfer_letter_no": f"赤巡移〔2024〕{tag}号"})
        return self.read(lead["id"])

    def read(self, lead_id: str) -> dict[str, Any]:
        return ok(self.http.get(f"/api/v1/leads/{lead_id}"), 200)

    def history(self, lead_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = ok(
            self.http.get(f"/api/v1/leads/{lead_id}/transitions"), 200
        )["items"]
        return items

    def state(self, lead_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Everything a callback could change: the lead (its version too) and its history."""
        return self.read(lead_id), self.history(lead_id)


def problem(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = resp.json()
    assert body["type"] == f"/problems/{code}", body
    return body


def test_signed_reports_take_a_lead_to_its_conclusion_as_the_platform(system: System) -> None:
    office, platform = Office(system), Platform(system)
    lead = office.lead()
    assert lead["status"] == "transferred"

    # choosing a handling implies receipt: a transferred lead is received, then handled
    msg_id = f"msg_{uuid.uuid4().hex}"
    handling = {"handling": "preliminary_verification", "note": "经研究，予以初步核实"}
    done = ok(platform.report(lead["id"], "handling", handling, msg_id), 200)
    assert done["applied"] is True
    assert done["transitions"] == ["received", "handling"]
    assert (done["lead_id"], done["status"], done["webhook_id"]) == (lead["id"], "handling", msg_id)
    now = office.read(lead["id"])
    assert (now["status"], now["handling"]) == ("handling", "preliminary_verification")
    history = office.history(lead["id"])
    assert [(h["to_state"], h["by"]) for h in history[-2:]] == [
        ("received", "platform"), ("handling", "platform")
    ]  # fmt: skip
    assert msg_id in history[-1]["note"]
    assert "经研究，予以初步核实" in history[-1]["note"]

    # the platform sends the same report again under a new id: 200, and nothing changes twice
    before = office.state(lead["id"])
    again = ok(platform.report(lead["id"], "handling", handling), 200)
    assert (again["applied"], again["transitions"], again["status"]) == (False, [], "handling")
    assert office.state(lead["id"]) == before
    # a different handling is not the same report: the service's 409, passed on, nothing changes
    other = platform.report(lead["id"], "handling", {"handling": "closed"})
    assert problem(other, 409, "illegal-lead-transition")["allowed"] == ["case_filed", "concluded"]
    assert office.state(lead["id"]) == before

    case = {"case_number": f"赤纪立〔2024〕{uuid.uuid4().hex[:6]}号"}
    filed = ok(platform.report(lead["id"], "case-filing", case), 200)
    assert (filed["status"], filed["transitions"]) == ("case_filed", ["case_filed"])
    now = office.read(lead["id"])
    assert (now["status"], now["case_number"]) == ("case_filed", case["case_number"])
    assert now["case_filed_on"] is not None
    before = office.state(lead["id"])
    assert ok(platform.report(lead["id"], "case-filing", case), 200)["applied"] is False
    assert office.state(lead["id"]) == before

    chen, zhou = (s["id"] for s in now["subjects"])
    # a flag is true or false, not 1 (422 naming it; nothing changes)
    loose = {"outcomes": [{"subject_id": chen, "judicial_transfer": 1}]}
    refused = problem(platform.report(lead["id"], "outcomes", loose), 422, "validation-failed")
    assert refused["errors"][0]["field"] == "outcomes.0.judicial_transfer"
    assert office.state(lead["id"]) == before
    outcomes = {
        "money_recovered": "32000.00",
        "outcomes": [
            {"subject_id": chen, "party_sanction": "probation",
             "government_sanction": "dismissal_from_post", "note": "留党察看一年"},
            {"subject_id": zhou, "government_sanction": "demerit"},
        ],
    }  # fmt: skip
    concluded = ok(platform.report(lead["id"], "outcomes", outcomes), 200)
    assert (concluded["status"], concluded["applied"]) == ("concluded", True)
    now = office.read(lead["id"])
    assert now["status"] == "concluded"
    assert now["money_recovered"] == "32000.00"
    assert [(s["party_sanction"], s["government_sanction"]) for s in now["subjects"]] == [
        ("probation", "dismissal_from_post"),
        (None, "demerit"),
    ]
    history = office.history(lead["id"])
    assert [(h["to_state"], h["by"]) for h in history] == [
        ("approved", history[0]["by"]), ("transferred", history[0]["by"]),
        ("received", "platform"), ("handling", "platform"), ("case_filed", "platform"),
        ("concluded", "platform"),
    ]  # fmt: skip

    # the outcomes again, under a new id: nothing twice; other outcomes: refused, unchanged
    before = office.state(lead["id"])
    assert ok(platform.report(lead["id"], "outcomes", outcomes), 200)["applied"] is False
    changed = {**outcomes, "money_recovered": "1.00"}
    problem(platform.report(lead["id"], "outcomes", changed), 409, "illegal-lead-transition")
    assert office.state(lead["id"]) == before


def test_bad_signatures_stale_timestamps_and_malformed_headers_change_nothing(
    system: System,
) -> None:
    office, platform = Office(system), Platform(system)
    lead = office.lead()
    before = office.state(lead["id"])
    url = f"{BASE}/{lead['id']}/received"
    body = encode({"note": "已登记"})

    def post(headers: dict[str, str], content: bytes = body) -> httpx.Response:
        return platform.http.post(url, content=content, headers=headers)

    fresh = f"msg_{uuid.uuid4().hex}"
    # signed with another secret, or the body changed after signing
    problem(post(sign(body, fresh, secret=OTHER_SECRET)), 401, "invalid-signature")
    problem(post(sign(body, fresh), encode({"note": "已登记。"})), 401, "invalid-signature")
    # past five minutes old, or as far in the future (a margin for a loaded machine: a second
    # more was crossed by the time a slow request arrived)
    for at in (time.time() - 330, time.time() + 330):
        problem(post(sign(body, fresh, at=at)), 401, "stale-timestamp")
    # malformed or missing headers: a 401 problem, never a 5xx
    good = sign(body, fresh)
    for broken in (
        {},
        {"content-type": "application/json"},
        {**good, "webhook-signature": "garbage"},
        {**good, "webhook-signature": "v1,not base64!"},
        {**good, "webhook-signature": "v1,a,b"},
        {**good, "webhook-signature": ""},
        {**good, "webhook-timestamp": "yesterday"},
        {**good, "webhook-timestamp": "nan"},
        {**good, "webhook-id": "x" * 300},
        {k: v for k, v in good.items() if k != "webhook-id"},
    ):
        problem(post(broken), 401, "invalid-signature")
    # a body that is not even UTF-8, signed or not
    problem(post(good, b"\xff\xfe{}"), 401, "invalid-signature")
    assert office.state(lead["id"]) == before

    # once accepted, the same webhook id is a replay: refused, even re-signed with a new time
    # and another report, and nothing changes
    ok(post(good), 200)
    received = office.state(lead["id"])
    assert received[0]["status"] == "received"
    problem(post(good), 409, "callback-replayed")
    handling = encode({"handling": "talk_inquiry"})
    replay = platform.http.post(
        f"{BASE}/{lead['id']}/handling", content=handling, headers=sign(handling, fresh)
    )
    problem(replay, 409, "callback-replayed")
    assert office.state(lead["id"]) == received


def test_leads_the_platform_does_not_handle_are_404_and_refusals_leave_no_trace(
    system: System,
) -> None:
    office, platform = Office(system), Platform(system)
    handling = {"handling": "preliminary_verification"}
    for unknown in (str(uuid.uuid4()), "not-a-lead"):
        problem(platform.report(unknown, "handling", handling), 404, "lead-not-found")
    # a lead sent to a stationed discipline group is not the platform's: as if absent. (Not
    # the organisation department: tests/referrals/test_leads.py expects that body's receivers
    # to find no transferred lead in the session's database.)
    foreign = office.lead("stationed_discipline_group")
    before = office.state(foreign["id"])
    problem(platform.report(foreign["id"], "handling", handling), 404, "lead-not-found")
    assert office.state(foreign["id"]) == before

    lead = office.lead()
    before = office.state(lead["id"])
    bad = problem(platform.report(lead["id"], "handling", {"handling": "forgotten"}), 422,
                  "validation-failed")  # fmt: skip
    assert [e["field"] for e in bad["errors"]] == ["handling"]
    assert office.state(lead["id"]) == before

    # a case reported before the handling is refused (the service's 409, passed on); the same
    # message, once the handling is in, is accepted: a refused callback is not spent
    msg_id = f"msg_{uuid.uuid4().hex}"
    case = {"case_number": f"赤纪立〔2024〕{uuid.uuid4().hex[:6]}号"}
    early = platform.report(lead["id"], "case-filing", case, msg_id)
    assert problem(early, 409, "illegal-lead-transition")["allowed"] == ["received"]
    assert office.state(lead["id"]) == before
    ok(platform.report(lead["id"], "handling", handling), 200)
    later = ok(platform.report(lead["id"], "case-filing", case, msg_id), 200)
    assert (later["status"], later["webhook_id"]) == ("case_filed", msg_id)
    problem(platform.report(lead["id"], "case-filing", case, msg_id), 409, "callback-replayed")
