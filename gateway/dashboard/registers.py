"""The registers (台账) of an export package: their columns, in Chinese, with types, and how a
service's list item becomes a row.

What the receiving office may see decides the columns of the leads register:
- `office` (市委巡察办): the title, summary and subjects of each lead, each subject named with
  their outcome;
- `superior` (上级巡察办): no title, no summary (they name people), no subject's name: the
  outcomes are counted instead (“党纪处分：留党察看1人；政务处分：撤职1人”).
Persons involved in findings (names, resident ID numbers) are never exported: the findings
register counts them. Drafts are not records yet: findings still drafts and leads not yet
handed over (draft, approved) are left out, as the statistics leave them out.

A lead or rectification item made from findings of several rounds has no round of its own
(`round_id` null): like the statistics, a package counts it in each round one of its findings
is of, and names those rounds in its 巡察轮次 column."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from gateway.dashboard.labels import Labels, label
from gateway.dashboard.schemas import Dashboard

SHANGHAI = ZoneInfo("Asia/Shanghai")
Kind = Literal["text", "int", "money", "date", "datetime"]
Value = str | int | Decimal | date | datetime | None
NOT_HANDED_OVER = ("draft", "approved")


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    kind: Kind = "text"
    width: float = 14


@dataclass
class Context:
    """What a row needs besides its item: names of rounds and groups, the enums' labels."""

    recipient: str
    rounds: dict[str, str] = field(default_factory=dict)  # round id -> "第1轮 扶贫领域专项巡察"
    groups: dict[str, str] = field(default_factory=dict)  # group id -> name
    findings_labels: Labels = field(default_factory=dict)
    referrals_labels: Labels = field(default_factory=dict)

    @property
    def names_subjects(self) -> bool:
        return self.recipient == "office"


Row = dict[str, Value]


@dataclass(frozen=True)
class Register:
    name: str
    title: str  # the sheet's name and the register's title
    service: str
    path: str
    columns: Callable[[Context], tuple[Column, ...]]
    row: Callable[[dict[str, Any], Context], Row | None]  # None: not in the register
    counted: Callable[[Dashboard], int]  # its rows, as the statistics of the scope count them
    # its records may have no round (findings of several rounds): see `of_rounds`
    several_rounds: bool = False


def of_rounds(item: dict[str, Any], round_ids: set[str]) -> bool:
    """A record without a round of its own that belongs to one of `round_ids` through a
    finding (each finding's round as the referrals service keeps it, as its statistics do)."""
    return item.get("round_id") is None and any(
        f.get("round_id") in round_ids for f in item.get("findings") or []
    )


def _datetime(raw: str) -> datetime:
    return datetime.fromisoformat(raw).astimezone(SHANGHAI)


def _date(raw: str | None) -> date | None:
    return date.fromisoformat(raw) if raw else None


def _money(raw: str | None) -> Decimal | None:
    return Decimal(raw) if raw is not None else None


def _yes(flag: bool) -> str:
    return "是" if flag else "否"


def _titles(item: dict[str, Any]) -> str:
    return "；".join(f["title"] for f in item.get("findings") or [])


def _round(item: dict[str, Any], ctx: Context) -> str:
    """The record's round; for one made from findings of several rounds, those rounds (the
    ones outside the package as 其他轮次)."""
    if item.get("round_id"):
        return ctx.rounds.get(item["round_id"], item["round_id"])
    found = dict.fromkeys(f["round_id"] for f in item.get("findings") or [] if f.get("round_id"))
    named = [ctx.rounds[r] for r in found if r in ctx.rounds]
    if len(named) < len(found):
        named.append("其他轮次")
    return "（多个轮次）" + "、".join(named)


# ---- findings (问题台账) ----

FINDING_COLUMNS = (
    Column("no", "序号", "int", 7),
    Column("id", "问题编号", "text", 38),
    Column("round", "巡察轮次", "text", 28),
    Column("group", "巡察组", "text", 16),
    Column("target", "巡察对象", "text", 22),
    Column("category", "问题类别", "text", 26),
    Column("title", "问题标题", "text", 36),
    Column("facts", "问题事实", "text", 60),
    Column("money_involved", "涉及金额（元）", "money", 16),
    Column("source", "问题来源", "text", 12),
    Column("severity", "严重程度", "text", 10),
    Column("discovered_on", "发现日期", "date", 12),
    Column("status", "状态", "text", 10),
    Column("recurrent", "屡查屡犯", "text", 10),
    Column("persons", "涉及人员（人）", "int", 14),
    Column("created_at", "登记时间", "datetime", 20),
    Column("updated_at", "更新时间", "datetime", 20),
)


def finding_row(item: dict[str, Any], ctx: Context) -> Row | None:
    if item["status"] == "draft":
        return None
    labels = ctx.findings_labels
    return {
        "id": item["id"],
        "round": ctx.rounds.get(item["round_id"], item["round_id"]),
        "group": ctx.groups.get(item["group_id"], item["group_id"]),
        "target": item["target_name"],
        "category": f"{item['category_code']} {item['category_name']}",
        "title": item["title"],
        "facts": item["facts"],
        "money_involved": _money(item["money_involved"]),
        "source": label(labels, "FindingSource", item["source"]),
        "severity": label(labels, "Severity", item["severity"]),
        "discovered_on": _date(item["discovered_on"]),
        "status": label(labels, "FindingStatus", item["status"]),
        "recurrent": _yes(bool(item.get("recurrent"))),
        "persons": len(item.get("persons") or []),
        "created_at": _datetime(item["created_at"]),
        "updated_at": _datetime(item["updated_at"]),
    }


# ---- leads (问题线索台账) ----


def lead_columns(ctx: Context) -> tuple[Column, ...]:
    named = ctx.names_subjects
    return (
        Column("no", "序号", "int", 7),
        Column("id", "线索编号", "text", 38),
        Column("round", "巡察轮次", "text", 28),
        *((Column("title", "线索标题", "text", 36),) if named else ()),
        *((Column("summary", "线索摘要", "text", 50),) if named else ()),
        Column("findings", "来源问题", "text", 36),
        Column("recipient", "移交对象", "text", 12),
        Column("status", "状态", "text", 10),
        Column("transfer_letter_no", "移交函文号", "text", 22),
        Column("transferred_on", "移交日期", "date", 12),
        Column("feedback_due", "反馈期限", "date", 12),
        Column("overdue", "逾期未办结", "text", 12),
        Column("handling", "处置方式", "text", 12),
        Column("case_number", "立案编号", "text", 22),
        Column("case_filed_on", "立案日期", "date", 12),
        Column("concluded_on", "办结日期", "date", 12),
        Column("money_recovered", "追回资金（元）", "money", 16),
        Column("subject_count", "被反映人数", "int", 12),
        (
            Column("subjects", "被反映人及处理结果", "text", 60)
            if named
            else Column("outcomes", "处理结果（不含姓名）", "text", 50)
        ),
        Column("created_at", "登记时间", "datetime", 20),
    )


def _outcomes(subject: dict[str, Any], labels: Labels) -> list[tuple[str, str]]:
    """(kind, label) of each outcome of one subject."""
    found = []
    if subject.get("party_sanction"):
        found.append(("党纪处分", label(labels, "PartySanction", subject["party_sanction"])))
    if subject.get("government_sanction"):
        found.append(
            ("政务处分", label(labels, "GovernmentSanction", subject["government_sanction"]))
        )
    if subject.get("organisational_handling"):
        found.append(
            (
                "组织处理",
                label(labels, "OrganisationalHandling", subject["organisational_handling"]),
            )
        )
    if subject.get("judicial_transfer"):
        found.append(("移送司法机关", "移送司法机关"))
    if subject.get("not_substantiated"):
        found.append(("问题不属实", "问题不属实"))
    return found


def _named(subjects: list[dict[str, Any]], labels: Labels) -> str:
    parts = []
    for s in subjects:
        who = s["name"] + (f"（{s['position']}）" if s.get("position") else "")
        done = "、".join(lab for _, lab in _outcomes(s, labels)) or "尚无处理结果"
        parts.append(f"{who}：{done}")
    return "；".join(parts)


OUTCOME_KINDS = ("党纪处分", "政务处分", "组织处理", "移送司法机关", "问题不属实")


def _counted(subjects: list[dict[str, Any]], labels: Labels) -> str:
    """The outcomes without a name: per kind, each outcome with its number of persons."""
    by_kind: dict[str, Counter[str]] = {kind: Counter() for kind in OUTCOME_KINDS}
    for s in subjects:
        for kind, lab in _outcomes(s, labels):
            by_kind[kind][lab] += 1
    parts = []
    for kind, found in by_kind.items():
        if not found:
            continue
        if set(found) == {kind}:  # 移送司法机关, 问题不属实: the kind is the outcome
            parts.append(f"{kind}{found[kind]}人")
        else:
            parts.append(kind + "：" + "、".join(f"{lab}{n}人" for lab, n in found.items()))
    if not parts:
        return "尚无处理结果" if subjects else ""
    return "；".join(parts)


def lead_row(item: dict[str, Any], ctx: Context) -> Row | None:
    if item["status"] in NOT_HANDED_OVER:
        return None
    labels = ctx.referrals_labels
    subjects = item.get("subjects") or []
    row: Row = {
        "id": item["id"],
        "round": _round(item, ctx),
        "findings": _titles(item),
        "recipient": label(labels, "LeadRecipient", item["recipient"]),
        "status": label(labels, "LeadStatus", item["status"]),
        "transfer_letter_no": item.get("transfer_letter_no"),
        "transferred_on": _date(item.get("transferred_on")),
        "feedback_due": _date(item.get("feedback_due")),
        "overdue": _yes(bool(item.get("overdue"))),
        "handling": label(labels, "Handling", item.get("handling")),
        "case_number": item.get("case_number"),
        "case_filed_on": _date(item.get("case_filed_on")),
        "concluded_on": _date(item.get("concluded_on")),
        "money_recovered": _money(item.get("money_recovered")),
        "subject_count": item["subject_count"],
        "created_at": _datetime(item["created_at"]),
    }
    if ctx.names_subjects:
        row["title"] = item.get("title")
        row["summary"] = item.get("summary")
        row["subjects"] = _named(subjects, labels)
    else:
        row["outcomes"] = _counted(subjects, labels)
    return row


# ---- rectification items (整改事项台账) ----

ITEM_COLUMNS = (
    Column("no", "序号", "int", 7),
    Column("id", "事项编号", "text", 38),
    Column("round", "巡察轮次", "text", 28),
    Column("title", "整改事项", "text", 36),
    Column("duties", "整改要求", "text", 50),
    Column("findings", "来源问题", "text", 36),
    Column("owner_type", "责任主体类型", "text", 14),
    Column("owner_name", "整改责任单位（人）", "text", 22),
    Column("leader_name", "分管领导", "text", 12),
    Column("unit_head_name", "单位主要负责人", "text", 14),
    Column("deadline", "整改期限", "date", 12),
    Column("status", "状态", "text", 12),
    Column("overdue", "逾期未销号", "text", 12),
    Column("signed_off_on", "销号日期", "date", 12),
    Column("created_at", "登记时间", "datetime", 20),
)


def item_row(item: dict[str, Any], ctx: Context) -> Row | None:
    labels = ctx.referrals_labels
    return {
        "id": item["id"],
        "round": _round(item, ctx),
        "title": item["title"],
        "duties": item["duties"],
        "findings": _titles(item),
        "owner_type": label(labels, "OwnerType", item["owner_type"]),
        "owner_name": item["owner_name"],
        "leader_name": item.get("leader_name"),
        "unit_head_name": item.get("unit_head_name"),
        "deadline": _date(item["deadline"]),
        "status": label(labels, "RectificationStatus", item["status"]),
        "overdue": _yes(bool(item.get("overdue"))),
        "signed_off_on": _date(item.get("signed_off_on")),
        "created_at": _datetime(item["created_at"]),
    }


# ---- suggestions (意见建议台账) and rules established (建立健全制度台账) ----

SUGGESTION_COLUMNS = (
    Column("no", "序号", "int", 7),
    Column("id", "建议编号", "text", 38),
    Column("round", "巡察轮次", "text", 28),
    Column("addressed_to", "提出对象", "text", 22),
    Column("content", "意见建议内容", "text", 60),
    Column("adoption", "采纳情况", "text", 12),
    Column("adoption_note", "采纳说明", "text", 30),
    Column("findings", "关联问题", "text", 36),
    Column("created_at", "登记时间", "datetime", 20),
)


def suggestion_row(item: dict[str, Any], ctx: Context) -> Row | None:
    return {
        "id": item["id"],
        "round": ctx.rounds.get(item["round_id"], item["round_id"]),
        "addressed_to": item["addressed_to"],
        "content": item["content"],
        "adoption": label(ctx.referrals_labels, "Adoption", item["adoption"]),
        "adoption_note": item.get("adoption_note"),
        "findings": _titles(item),
        "created_at": _datetime(item["created_at"]),
    }


RULE_COLUMNS = (
    Column("no", "序号", "int", 7),
    Column("id", "制度编号", "text", 38),
    Column("round", "巡察轮次", "text", 28),
    Column("unit", "制定单位", "text", 22),
    Column("title", "制度名称", "text", 36),
    Column("document_no", "文号", "text", 22),
    Column("issued_on", "印发日期", "date", 12),
    Column("findings", "关联问题", "text", 36),
    Column("created_at", "登记时间", "datetime", 20),
)


def rule_row(item: dict[str, Any], ctx: Context) -> Row | None:
    return {
        "id": item["id"],
        "round": ctx.rounds.get(item["round_id"], item["round_id"]),
        "unit": item["unit"],
        "title": item["title"],
        "document_no": item.get("document_no"),
        "issued_on": _date(item.get("issued_on")),
        "findings": _titles(item),
        "created_at": _datetime(item["created_at"]),
    }


REGISTERS: tuple[Register, ...] = (
    Register(
        "findings", "问题台账", "findings", "/api/v1/findings",
        lambda _: FINDING_COLUMNS, finding_row, lambda d: d.findings.confirmed,
    ),
    Register(
        "leads", "问题线索台账", "referrals", "/api/v1/leads",
        lead_columns, lead_row, lambda d: d.leads.handed_over, several_rounds=True,
    ),
    Register(
        "rectifications", "整改事项台账", "referrals", "/api/v1/rectifications",
        lambda _: ITEM_COLUMNS, item_row, lambda d: d.rectification.fed_back,
        several_rounds=True,
    ),
    Register(
        "suggestions", "意见建议台账", "referrals", "/api/v1/suggestions",
        lambda _: SUGGESTION_COLUMNS, suggestion_row, lambda d: d.suggestions.total,
    ),
    Register(
        "rules", "建立健全制度台账", "referrals", "/api/v1/rules",
        lambda _: RULE_COLUMNS, rule_row, lambda d: d.rules,
    ),
)  # fmt: skip
