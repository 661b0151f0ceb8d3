"""The standard statistical table (巡察工作情况统计表): the form the office sends upward, in its
order and wording, as JSON rows (序号, 指标, 数值, 单位) or an XLSX sheet.

It is issued only when every reconciliation check of the referrals service passes: figures
that disagree with each other are corrected at the source, never sent upward."""

from __future__ import annotations

import io
from decimal import Decimal

import xlsxwriter

from gateway.dashboard.errors import ReconciliationFailed
from gateway.dashboard.schemas import Dashboard, StatisticalTable, TableRow
from gateway.dashboard.service import Scope

TITLE = "巡察工作情况统计表"
# the recipient bodies' rows, in the form's order ("其中：移交纪委监委N件" …)
RECIPIENTS = (
    "discipline_commission",
    "organisation_department",
    "stationed_discipline_group",
    "other",
)


def _row(number: str, indicator: str, value: int | Decimal, unit: str) -> TableRow:
    return TableRow(number=number, indicator=indicator, value=value, unit=unit)


def rows(d: Dashboard) -> list[TableRow]:
    by_recipient = {r.code: r for r in d.leads.by_recipient}
    recipients = [
        _row(f"8.{n}", f"其中：移交{by_recipient[c].label}", by_recipient[c].handed_over, "件")
        for n, c in enumerate((c for c in RECIPIENTS if c in by_recipient), start=1)
    ]
    return [
        _row("1", "开展巡察轮次", d.rounds.total, "轮"),
        _row("2", "派出巡察组", d.groups.total, "个"),
        _row("3", "巡察党组织（单位）", d.targets.inspected, "个"),
        _row("4", "全覆盖目标对象", d.targets.coverage.goal, "个"),
        _row("5", "其中：已巡察对象", d.targets.coverage.inspected, "个"),
        _row("6", "发现问题", d.findings.confirmed, "个"),
        _row("7", "问题涉及金额", d.findings.confirmed_money_involved, "元"),
        _row("8", "移交问题线索", d.leads.handed_over, "件"),
        *recipients,
        _row("9", "立案", d.leads.cases_filed, "件"),
        _row("10", "给予党政纪处分", d.persons.sanctioned, "人"),
        _row("10.1", "其中：党纪处分", d.persons.party_sanctioned, "人"),
        _row("10.2", "政务处分", d.persons.government_sanctioned, "人"),
        _row("11", "组织处理", d.persons.organisational_handling, "人"),
        _row("12", "移送司法机关", d.persons.judicial_transfers, "人"),
        _row("13", "追回资金", d.money_recovered, "元"),
        _row("14", "反馈整改事项", d.rectification.fed_back, "个"),
        _row("14.1", "其中：已销号", d.rectification.done, "个"),
        _row("14.2", "逾期未销号", d.rectification.overdue, "个"),
        _row("15", "提出意见建议", d.suggestions.total, "条"),
        _row("16", "建立健全制度", d.rules, "项"),
    ]


def scope_label(scope: Scope, d: Dashboard) -> str:
    if scope.everything:
        return "全部届次、轮次"
    parts: list[str] = []
    if scope.jurisdiction is not None:
        parts.append(scope.jurisdiction)
    if scope.term_ids or scope.jurisdiction is not None:
        parts += [t.name for t in d.targets.terms]
    if scope.round_ids:
        parts += [f"第{r.number}轮（{r.name}）" for r in d.rounds.items]
    return "，".join(parts) or "（范围内没有轮次）"


def issue(scope: Scope, d: Dashboard) -> StatisticalTable:
    """The table, or ReconciliationFailed naming every failed check."""
    failed = [c for c in d.checks if not c.ok]
    if failed:
        raise ReconciliationFailed(
            "对账未通过，不出具统计表："
            + "；".join(f"{c.check}（{c.detail}）" for c in failed)
            + "。请先在源数据中更正。",
            failed_checks=[c.model_dump() for c in failed],
        )
    return StatisticalTable(
        title=TITLE,
        scope=d.scope,
        scope_label=scope_label(scope, d),
        as_of=d.as_of,
        generated_at=d.generated_at,
        rows=rows(d),
        summary=d.summary,
        checks=d.checks,
    )


def xlsx(table: StatisticalTable) -> bytes:
    """The table as one sheet: title, scope, the header (frozen), the rows, the summary."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(
        out,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    book.set_properties({"title": TITLE, "subject": table.scope_label})
    sheet = book.add_worksheet("统计表")
    title = book.add_format({"bold": True, "font_size": 16, "align": "center"})
    note = book.add_format({"font_size": 10})
    head = book.add_format(
        {"bold": True, "align": "center", "border": 1, "bg_color": "#DDE4EE", "text_wrap": True}
    )
    cell = book.add_format({"border": 1})
    centre = book.add_format({"border": 1, "align": "center"})
    count = book.add_format({"border": 1, "num_format": "0"})
    money = book.add_format({"border": 1, "num_format": "#,##0.00"})
    sheet.set_column(0, 0, 8)
    sheet.set_column(1, 1, 34)
    sheet.set_column(2, 2, 18)
    sheet.set_column(3, 3, 8)
    sheet.merge_range(0, 0, 0, 3, TITLE, title)
    sheet.merge_range(1, 0, 1, 3, f"统计范围：{table.scope_label}", note)
    sheet.merge_range(2, 0, 2, 3, f"统计截至：{table.as_of:%Y年%m月%d日}", note)
    header_row = 3
    for col, name in enumerate(("序号", "指标", "数值", "单位")):
        sheet.write_string(header_row, col, name, head)
    for n, r in enumerate(table.rows, start=header_row + 1):
        sheet.write_string(n, 0, r.number, centre)
        sheet.write_string(n, 1, r.indicator, cell)
        if isinstance(r.value, Decimal):
            sheet.write_number(n, 2, float(r.value), money)
        else:
            sheet.write_number(n, 2, r.value, count)
        sheet.write_string(n, 3, r.unit, centre)
    last = header_row + len(table.rows) + 2
    sheet.merge_range(last, 0, last, 3, table.summary, book.add_format({"text_wrap": True}))
    sheet.set_row(last, 36)
    sheet.freeze_panes(header_row + 1, 0)
    book.close()
    return out.getvalue()
