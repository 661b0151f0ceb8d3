"""The statistics as the office states them, and the checks that the records agree."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.enums import LabeledEnum
from services.referrals.dates import today
from services.referrals.enums import (
    Adoption,
    GovernmentSanction,
    Handling,
    LeadRecipient,
    OrganisationalHandling,
    PartySanction,
    RectificationStatus,
)
from services.referrals.stats import repository
from services.referrals.stats.schemas import (
    Check,
    LeadFigures,
    PersonFigures,
    RecipientFigures,
    RectificationFigures,
    Stats,
    SuggestionFigures,
    Tally,
)

E = TypeVar("E", bound=LabeledEnum)
CENT = Decimal("0.01")


def _tally(enum: type[E], row: dict[str, Any], prefix: str) -> list[Tally[E]]:
    return [Tally[E](code=m, label=m.label, count=row[f"{prefix}_{m.value}"]) for m in enum]


def _at_most(check: str, part: str, a: int, whole: str, b: int, unit: str) -> Check:
    """`part` cannot exceed `whole`."""
    sign = "≤" if a <= b else ">"
    return Check(check=check, ok=a <= b, detail=f"{part}{a}{unit} {sign} {whole}{b}{unit}")


def _none(check: str, what: str, n: int, unit: str) -> Check:
    """There should be no `what`."""
    return Check(check=check, ok=n == 0, detail=f"{what}{n}{unit}（应为0{unit}）")


def checks(row: dict[str, Any]) -> list[Check]:
    """Each compares counts taken independently from the records (see repository)."""
    handled, awaiting, received = row["handled"], row["awaiting_handling"], row["received"]
    return [
        _at_most(
            "cases_within_handed_over",
            "立案", row["cases_filed"], "移交问题线索", row["handed_over"], "件",
        ),
        _none(
            "cases_after_verification",
            "未经初步核实即立案的线索", row["cases_unverified"], "件",
        ),
        Check(
            check="handlings_add_up_to_received",
            ok=handled + awaiting == received,
            detail=f"四类处置合计{handled}件 + 待确定处置{awaiting}件 "
            f"{'=' if handled + awaiting == received else '≠'} 已接收线索{received}件",
        ),
        _at_most(
            "sanctioned_within_case_subjects",
            "给予党政纪处分", row["sanctioned"],
            "立案涉及人员", row["subjects_of_filed_cases"], "人",
        ),
        _none(
            "sanctions_only_after_case",
            "未立案即给予党政纪处分的人员", row["sanctioned_without_case"], "人",
        ),
        _none(
            "concluded_subjects_have_outcomes",
            "已办结线索中没有处理结果的人员", row["concluded_no_outcome"], "人",
        ),
        _at_most(
            "signed_off_within_items",
            "已销号整改事项", row["signed_off"], "反馈整改事项", row["items"], "个",
        ),
        _none(
            "signed_off_items_dated",
            "已销号但没有销号日期的整改事项", row["signed_off_undated"], "个",
        ),
    ]  # fmt: skip


@dataclass(frozen=True)
class Scope:
    """What the statistics cover: `round_ids` None is every record."""

    round_ids: list[uuid.UUID] | None
    term_ids: list[uuid.UUID] = field(default_factory=list)
    jurisdiction: str | None = None


def build(row: dict[str, Any], scope: Scope) -> Stats:
    leads = LeadFigures(
        handed_over=row["handed_over"],
        received=row["received"],
        awaiting_handling=row["awaiting_handling"],
        handled=row["handled"],
        handlings=_tally(Handling, row, "handling"),
        cases_filed=row["cases_filed"],
        concluded=row["concluded"],
        overdue=row["overdue"],
        by_recipient=[
            RecipientFigures(
                recipient=r,
                label=r.label,
                handed_over=row[f"sent_{r.value}"],
                received=row[f"received_{r.value}"],
                handled=row[f"handled_{r.value}"],
                cases_filed=row[f"case_{r.value}"],
                sanctioned=row[f"sanctioned_{r.value}"],
                money_recovered=Decimal(row[f"money_{r.value}"]).quantize(CENT),
            )
            for r in LeadRecipient
        ],
        money_recovered=Decimal(row["money_recovered"]).quantize(CENT),
    )
    persons = PersonFigures(
        subjects=row["subjects"],
        subjects_of_filed_cases=row["subjects_of_filed_cases"],
        sanctioned=row["sanctioned"],
        party_sanctioned=row["party_sanctioned"],
        party_sanctions=_tally(PartySanction, row, "party"),
        government_sanctioned=row["government_sanctioned"],
        government_sanctions=_tally(GovernmentSanction, row, "government"),
        organisational_handling=row["organisational"],
        organisational_handlings=_tally(OrganisationalHandling, row, "organisational"),
        judicial_transfers=row["judicial_transfers"],
        not_substantiated=row["not_substantiated"],
    )
    rectification = RectificationFigures(
        fed_back=row["items"],
        signed_off=row["signed_off"],
        open=row["items_open"],
        overdue=row["items_overdue"],
        by_status=_tally(RectificationStatus, row, "item"),
    )
    suggestions = SuggestionFigures(
        total=row["suggestions"], by_adoption=_tally(Adoption, row, "adoption")
    )
    found = checks(row)
    return Stats(
        scope="all" if scope.round_ids is None else "rounds",
        round_ids=scope.round_ids or [],
        term_ids=scope.term_ids,
        jurisdiction=scope.jurisdiction,
        as_of=today(),
        leads=leads,
        persons=persons,
        rectification=rectification,
        suggestions=suggestions,
        rules=row["rules"],
        summary=(
            f"移交问题线索{leads.handed_over}件，立案{leads.cases_filed}件，"
            f"给予党政纪处分{persons.sanctioned}人；反馈整改事项{rectification.fed_back}个，"
            f"提出意见建议{suggestions.total}条，建立健全制度{row['rules']}项"
        ),
        checks=found,
        consistent=all(c.ok for c in found),
    )


async def stats(session: AsyncSession, scope: Scope) -> Stats:
    return build(await repository.figures(session, scope.round_ids), scope)
