"""What a report of the platform does to a lead, and when it has done it already.

Each report names the state it moves the lead to. The lead is read first (as the platform sees
it): if it already stands as reported, nothing is moved and the answer is 200 with
`applied: false`. This is how a report sent again under a new webhook id (the platform retrying
after a lost answer) changes nothing twice; the same webhook id again is refused earlier, as a
replay. Otherwise the steps are taken, each one a transition of the referrals service recorded
with `by` = `platform` and the webhook id in its note. A 409 from a step is checked against the
lead again: a concurrent delivery of the same report may have just taken it (then 200, not
applied); any other refusal is the platform's to see.

"Already as reported":
- received: the lead is received or any later state (receipt is implied by what follows);
- handling: the same handling is recorded and the lead is handling, case filed or concluded;
- case filing: the same case number (and date, if given), the lead case filed or concluded;
- outcomes: concluded, with every reported subject's outcome (and the money, if given) equal.

A handling reported for a lead still `transferred` receives it first: the platform reports the
handling chosen, and choosing one implies the lead was received. The two steps are two
transactions of the referrals service; if the second fails the lead stays received, the
callback is not recorded, and the platform's retry takes the remaining step.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from gateway.integrations.clients import Referrals, Refused
from gateway.integrations.schemas import (
    CallbackResult,
    CaseFilingReport,
    HandlingReport,
    OutcomesReport,
    ReceivedReport,
    Report,
)

AFTER_RECEIPT = ("received", "handling", "case_filed", "concluded")
AFTER_HANDLING = ("handling", "case_filed", "concluded")
AFTER_CASE = ("case_filed", "concluded")
OUTCOME_FIELDS = (
    "party_sanction",
    "government_sanction",
    "organisational_handling",
    "judicial_transfer",
    "not_substantiated",
)


@dataclass(frozen=True)
class Kind:
    """A kind of report: its name in `platform_callbacks.kind` and its body."""

    name: str
    report: type[Report]


RECEIVED = Kind("received", ReceivedReport)
HANDLING = Kind("handling", HandlingReport)
CASE_FILING = Kind("case_filing", CaseFilingReport)
OUTCOMES = Kind("outcomes", OutcomesReport)


def already(report: Report, lead: dict[str, Any]) -> bool:
    """The lead already stands as `report` says."""
    status = lead.get("status")
    match report:
        case ReceivedReport():
            return status in AFTER_RECEIPT
        case HandlingReport():
            return status in AFTER_HANDLING and lead.get("handling") == report.handling
        case CaseFilingReport():
            on = report.case_filed_on
            return (
                status in AFTER_CASE
                and lead.get("case_number") == report.case_number
                and (on is None or lead.get("case_filed_on") == on.isoformat())
            )
        case OutcomesReport():
            if status != "concluded":
                return False
            money, recorded = report.money_recovered, lead.get("money_recovered")
            if money is not None and (recorded is None or Decimal(str(recorded)) != money):
                return False
            subjects = {s["id"]: s for s in lead.get("subjects") or []}
            for outcome in report.outcomes:
                subject = subjects.get(str(outcome.subject_id))
                if subject is None or subject.get("outcome_note") != outcome.note:
                    return False
                if any(subject.get(f) != getattr(outcome, f) for f in OUTCOME_FIELDS):
                    return False
            return True
    raise TypeError(type(report).__name__)


def steps(report: Report, lead: dict[str, Any], note: str) -> list[dict[str, Any]]:
    """The transitions (bodies of `POST /api/v1/leads/{id}/transitions`) that make it so."""
    match report:
        case ReceivedReport():
            return [{"to": "received", "note": note}]
        case HandlingReport():
            receive = [{"to": "received", "note": note}] if lead["status"] == "transferred" else []
            return [*receive, {"to": "handling", "handling": report.handling, "note": note}]
        case CaseFilingReport():
            return [
                {
                    "to": "case_filed",
                    "case_number": report.case_number,
                    "case_filed_on": report.case_filed_on and report.case_filed_on.isoformat(),
                    "note": note,
                }
            ]
        case OutcomesReport():
            money = report.money_recovered
            return [
                {
                    "to": "concluded",
                    "outcomes": [o.model_dump(mode="json") for o in report.outcomes],
                    "money_recovered": None if money is None else str(money),
                    "note": note,
                }
            ]
    raise TypeError(type(report).__name__)


def note_of(report: Report, webhook_id: str) -> str:
    where = f"纪检监察网络平台回调 {webhook_id}"
    return f"{report.note}（{where}）" if report.note else where


async def apply(
    referrals: Referrals, lead_id: str, report: Report, webhook_id: str
) -> CallbackResult:
    """Brings the lead to where `report` says it stands; Refused (the referrals service's 4xx,
    e.g. 404 for a lead not sent to the discipline commission, 409, 422) when it cannot."""
    lead = await referrals.lead(lead_id)

    def result(moved: list[str], status: str) -> CallbackResult:
        return CallbackResult(
            lead_id=lead["id"], status=status, applied=bool(moved), transitions=moved,
            webhook_id=webhook_id,
        )  # fmt: skip

    if already(report, lead):
        return result([], lead["status"])
    moved: list[str] = []
    for step in steps(report, lead, note_of(report, webhook_id)):
        try:
            await referrals.move(lead_id, step)
        except Refused as refused:
            if refused.status == 409:
                now = await referrals.lead(lead_id)
                if already(report, now):
                    return result(moved, now["status"])
            raise
        moved.append(step["to"])
    return result(moved, moved[-1])
