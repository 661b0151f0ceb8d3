"""What each kind of dataset holds: its fields, which are required, and the column headers
offices use for them. A file's columns are matched to fields by these headers (Chinese or
English, case and spaces ignored) unless the upload maps them itself."""

from __future__ import annotations

from dataclasses import dataclass

from services.findings.crosschecks.enums import DatasetKind, Field

K = DatasetKind
F = Field

ALIASES: dict[Field, tuple[str, ...]] = {
    F.id_number: ("身份证号", "身份证号码", "公民身份号码", "证件号码", "身份证", "id_number"),
    F.person_name: ("姓名", "名字", "户主姓名", "借款人", "借款人姓名", "领取人", "领取人姓名",
             "人员姓名", "死者姓名", "name"),
    F.related_id: ("关联人身份证号", "村干部身份证号", "户主身份证号", "related_id"),
    F.org: ("单位", "工作单位", "所在单位", "所在村", "村", "经办银行", "缴费单位", "org"),
    F.account: ("银行账号", "账号", "银行卡号", "卡号", "收款账号", "社保卡号", "account"),
    F.amount: ("金额", "贷款金额", "发放金额", "补贴金额", "缴费金额", "金额（元）", "金额(元)",
               "amount"),
    F.date1: ("日期", "发放日期", "放款日期", "贷款日期", "死亡日期", "入职日期", "登记日期",
              "缴费月份", "期间起", "date1"),
    F.date2: ("到期日期", "离职日期", "期间止", "注销日期", "date2"),
    F.programme: ("项目", "项目名称", "补贴项目", "补贴类别", "贷款类别", "险种", "programme"),
    F.relation: ("关系", "与村干部关系", "亲属关系", "relation"),
}  # fmt: skip


@dataclass(frozen=True)
class KindSpec:
    """The fields a kind requires, and what its two dates mean."""

    required: tuple[Field, ...]
    date1: str = "日期"
    date2: str = "第二日期"

    def label(self, field: Field) -> str:
        return {Field.date1: self.date1, Field.date2: self.date2}.get(field, field.label)


KINDS: dict[DatasetKind, KindSpec] = {
    K.loan_recipients: KindSpec((F.id_number, F.person_name, F.amount), "发放日期", "到期日期"),
    K.subsidy_recipients: KindSpec(
        (F.id_number, F.person_name, F.amount, F.programme), "发放日期", "期间止"
    ),
    K.staff_roster: KindSpec((F.id_number, F.person_name), "入职日期", "离职日期"),
    K.village_cadres: KindSpec((F.id_number, F.person_name)),
    K.deaths: KindSpec((F.id_number, F.person_name, F.date1), "死亡日期"),
    K.social_security: KindSpec((F.id_number, F.person_name), "缴费月份"),
    K.vehicles: KindSpec((F.id_number, F.person_name), "登记日期", "注销日期"),
    K.property: KindSpec((F.id_number, F.person_name), "登记日期", "注销日期"),
    K.other: KindSpec((F.person_name,)),
}

# kinds whose rows are payments to people (the "recipients" side of most rules)
PAYMENTS = (K.loan_recipients, K.subsidy_recipients, K.social_security)


def _fold(header: str) -> str:
    return "".join(header.split()).lower()


def match_columns(header: list[str], mapping: dict[Field, str] | None) -> dict[Field, int]:
    """Field -> column index: the explicit `mapping` (field -> header) first, then the
    aliases. A header mapped explicitly that is not in the file raises KeyError naming it."""
    folded = [_fold(h) for h in header]
    out: dict[Field, int] = {}
    for field, column in (mapping or {}).items():
        try:
            out[field] = folded.index(_fold(column))
        except ValueError:
            raise KeyError(column) from None
    taken = set(out.values())
    for field, aliases in ALIASES.items():
        if field in out:
            continue
        for alias in aliases:
            f = _fold(alias)
            if f in folded and folded.index(f) not in taken:
                out[field] = folded.index(f)
                taken.add(out[field])
                break
    return out
