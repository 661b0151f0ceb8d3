"""The rules: a library of built-in ones, each with its parameters and a Chinese description,
and the shape every rule (built-in or user-defined, see `spec`) compiles to.

A rule binds each of its roles (e.g. `recipients`, `roster`) to dataset versions of the kinds
the role accepts, and compiles to ONE set-based SELECT over `dataset_rows`, grouped by what the
hit is about (a person's ID number, a bank account ...). Each group is a hit:

- `subject`: what a person reads first (name and ID number, or the account);
- `match_key`: md5 of the rule's code and the group key: who or what matched, the same from
  run to run while the data says the same;
- `content_hash`: md5 of the normalised content of every matched row: it changes when their
  data does (a dismissed hit comes back only then);
- `rows`: the matched rows, each as {role, version_id, line}.

`Run` wraps that SELECT in `INSERT INTO crosscheck_hits ... SELECT ... WHERE NOT EXISTS (a
dismissal of the same rule, match_key and content_hash)`: the database does the whole match in
one statement, nothing is fetched into Python.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    FromClause,
    Select,
    String,
    Text,
    and_,
    cast,
    func,
    literal,
    or_,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import JSONB

from services.findings.crosschecks.enums import DatasetKind
from services.findings.crosschecks.kinds import PAYMENTS
from services.findings.crosschecks.models import DatasetRow, DatasetVersion

K = DatasetKind
ROWS = DatasetRow.__table__
CONTENT_COLUMNS = ("id_number", "name_key", "related_id", "org", "account", "amount", "date1",
                   "date2", "programme", "relation")  # fmt: skip


@dataclass(frozen=True)
class Role:
    name: str
    kinds: tuple[DatasetKind, ...]
    label: str


def const(value: str) -> ColumnElement[str]:
    """A string as a typed bind parameter (asyncpg cannot infer the type of an untyped one
    in jsonb_build_object's arguments)."""
    return cast(literal(value), Text)


def ref(role: str, alias: FromClause) -> ColumnElement[Any]:
    return func.jsonb_build_object(
        const("role"), const(role), const("version_id"), alias.c.version_id,
        const("line"), alias.c.line, type_=JSONB,
    )  # fmt: skip


def content_hash64(alias: FromClause) -> ColumnElement[int]:
    """A 64-bit hash of the row's normalised content (not its version or line: the same data
    in a later upload hashes the same). PostgreSQL's extended hash of the record, the one hash
    partitioning relies on, so it stays the same across upgrades."""
    return func.hash_record_extended(
        tuple_(*(alias.c[c] for c in CONTENT_COLUMNS)), literal(0, BigInteger),
        type_=BigInteger,
    )  # fmt: skip


def person(alias: FromClause) -> ColumnElement[str]:
    return func.concat_ws(const(" "), alias.c.name, alias.c.id_number, type_=Text)


def grouped(
    code: str,
    sources: FromClause,
    where: Sequence[ColumnElement[bool]],
    key: Sequence[ColumnElement[Any]],
    subject: ColumnElement[str],
    roles: Sequence[tuple[str, FromClause]],
    having: ColumnElement[bool] | None = None,
) -> Select[Any]:
    """The hits of a rule: one per group of `key` over the joined `sources`."""
    key_text = func.concat_ws(const("|"), *[cast(k, Text) for k in key], type_=Text)
    rows: ColumnElement[Any] | None = None
    contents: ColumnElement[Any] | None = None
    for role, alias in roles:
        # no DISTINCT or ORDER BY in the aggregates (each would sort every group): the rows
        # in the order the plan gives them (a row joined twice is named twice; readers sort
        # and de-duplicate), the content as the sum of a 64-bit hash of each row's, which no
        # order changes
        agg = func.jsonb_agg(ref(role, alias), type_=JSONB)
        rows = agg if rows is None else rows.op("||")(agg)
        text_ = cast(func.sum(content_hash64(alias)), Text)
        contents = text_ if contents is None else contents + const("#") + text_
    assert rows is not None
    assert contents is not None
    stmt = (
        select(
            func.left(func.min(subject), 200).label("subject"),
            func.md5(const(code + "|") + key_text).label("match_key"),
            func.md5(contents).label("content_hash"),
            rows.label("rows"),
        )
        .select_from(sources)
        .where(*where)
        .group_by(*key)
    )
    if having is not None:
        stmt = stmt.having(having)
    return stmt


def in_versions(alias: FromClause, versions: Sequence[uuid.UUID]) -> ColumnElement[bool]:
    return alias.c.version_id.in_(list(versions))


# -- parameters -----------------------------------------------------------------------------

MatchOn = Literal["id_number", "id_number_and_name", "name"]


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PersonMatch(Params):
    match_on: MatchOn = Field(
        default="id_number",
        description="按什么认定同一人：id_number 身份证号；id_number_and_name 身份证号且姓名"
        "（姓名容许全半角、空格、繁简差异）；name 仅姓名（名册无身份证号时）",
    )


class InRoster(PersonMatch):
    during_employment: bool = Field(
        default=False,
        description="仅当发放日期在名册的在职期间（入职日期至离职日期）内",
    )


class AfterDeath(Params):
    grace_days: int = Field(
        default=0, ge=0, le=3650, description="死亡后多少天内的发放不算（如当月已结算的）"
    )


class TwoProgrammes(Params):
    period: Literal["month", "quarter", "year"] = Field(
        default="year", description="同一期间：month 同月；quarter 同季度；year 同年度"
    )
    min_programmes: int = Field(default=2, ge=2, le=20, description="至少几个不同项目")


class CadreOrRelative(PersonMatch):
    include_relatives: bool = Field(
        default=True, description="包括村干部的近亲属（否则仅村干部本人）"
    )


class SharedAccount(Params):
    min_recipients: int = Field(
        default=3, ge=2, le=1000, description="同一账号至少对应几个不同的领取人"
    )


class OverCap(Params):
    cap: Decimal = Field(
        gt=0, max_digits=14, decimal_places=2, description="上限金额（元），超过即为疑点"
    )
    programme: str | None = Field(
        default=None, max_length=200, description="只看该项目的发放（默认全部）"
    )


# -- the built-in rules -------------------------------------------------------------------------


class Bindings(dict[str, list[uuid.UUID]]):
    """Each role's dataset versions; `rows`: how many rows each role's versions hold, where
    the caller knows it (a run does), for the choices that depend on it (`present_in`)."""

    rows: dict[str, int]

    def __init__(self, roles: dict[str, list[uuid.UUID]], rows: dict[str, int] | None = None):
        super().__init__(roles)
        self.rows = rows or {}


Builder = Callable[[str, Any, Bindings], Select[Any]]

# At most this many rows on the side whose keys `present_in` looks up: their hash table stays
# well within the hash memory a run's statement has (work_mem 64 MB x hash_mem_multiplier 2;
# about 60 bytes an entry), so PostgreSQL hashes the subquery. Above it (or not known), the
# filter is left out: unhashed, it would be read again for every row.
PRESENT_IN_MAX_ROWS = 1_000_000


def present_in(
    key: ColumnElement[Any], column: str, role: str, b: Bindings
) -> list[ColumnElement[bool]]:
    """`key` is among the values of `column` in the role's versions: implied by a rule's join
    on it, and written again as a filter so that the scan of the other (larger) dataset
    applies it before it reads the rest of each row (a hashed subquery: one lookup a row).
    With only the join, every row of a million-row dataset is read whole and carried to the
    join (the content hashed for dismissals, the subject) although a few thousand match: 0.8
    s of the statement's 1.2 (bench/README.md, issue 7). `IS TRUE` keeps the planner from
    turning the subquery into a semi-join, which would read every row whole first. Left out
    (an empty list) unless the role's rows are known and few enough to hash."""
    rows = b.rows.get(role)
    if rows is None or rows > PRESENT_IN_MAX_ROWS:
        return []
    other = ROWS.alias(f"{role}_keys")
    keys = select(other.c[column]).where(in_versions(other, b[role]))
    return [key.in_(keys).is_(True)]


@dataclass(frozen=True)
class BuiltinRule:
    code: str
    version: int
    title: str
    description: str
    roles: tuple[Role, ...]
    params: type[Params]
    build: Builder


def _same_person(a: FromClause, b: FromClause, match_on: str) -> ColumnElement[bool]:
    if match_on == "name":
        return a.c.name_key == b.c.name_key
    same_id = a.c.id_number == b.c.id_number
    return and_(same_id, a.c.name_key == b.c.name_key) if match_on != "id_number" else same_id


def _person_key(alias: FromClause, match_on: str) -> ColumnElement[Any]:
    return alias.c[_person_column(match_on)]


def _person_column(match_on: str) -> str:
    return "name_key" if match_on == "name" else "id_number"


def _in_roster(code: str, p: InRoster, b: Bindings) -> Select[Any]:
    r, s = ROWS.alias("r"), ROWS.alias("s")
    column = _person_column(p.match_on)
    where = [
        in_versions(r, b["recipients"]),
        in_versions(s, b["roster"]),
        *present_in(r.c[column], column, "roster", b),
    ]
    if p.during_employment:
        where += [
            r.c.date1.is_not(None),
            or_(s.c.date1.is_(None), r.c.date1 >= s.c.date1),
            or_(s.c.date2.is_(None), r.c.date1 <= s.c.date2),
        ]
    return grouped(
        code,
        r.join(s, _same_person(r, s, p.match_on)),
        where,
        [_person_key(r, p.match_on)],
        person(r),
        [("recipients", r), ("roster", s)],
    )


def _after_death(code: str, p: AfterDeath, b: Bindings) -> Select[Any]:
    r, d = ROWS.alias("r"), ROWS.alias("d")
    return grouped(
        code,
        r.join(d, r.c.id_number == d.c.id_number),
        [
            in_versions(r, b["payments"]),
            in_versions(d, b["deaths"]),
            *present_in(r.c.id_number, "id_number", "deaths", b),
            r.c.date1 > d.c.date1 + p.grace_days,
        ],
        [r.c.id_number],
        person(r),
        [("payments", r), ("deaths", d)],
    )


def _two_programmes(code: str, p: TwoProgrammes, b: Bindings) -> Select[Any]:
    r = ROWS.alias("r")
    v = DatasetVersion.__table__.alias("v")
    # a file without a programme column is one programme: the dataset's
    programme = func.coalesce(r.c.programme, v.c.dataset)
    period = cast(func.date_trunc(p.period, r.c.date1), String)
    return grouped(
        code,
        r.join(v, v.c.id == r.c.version_id),
        [in_versions(r, b["claims"]), r.c.date1.is_not(None), r.c.id_number.is_not(None)],
        [r.c.id_number, func.date_trunc(p.period, r.c.date1)],
        func.concat_ws(const(" "), r.c.name, r.c.id_number, func.left(period, 10), type_=Text),
        [("claims", r)],
        having=func.count(programme.distinct()) >= p.min_programmes,
    )


def _cadre(code: str, p: CadreOrRelative, b: Bindings) -> Select[Any]:
    r, c = ROWS.alias("r"), ROWS.alias("c")
    column = _person_column(p.match_on)
    where = [
        in_versions(r, b["recipients"]),
        in_versions(c, b["cadres"]),
        *present_in(r.c[column], column, "cadres", b),
    ]
    if not p.include_relatives:
        where.append(or_(c.c.related_id.is_(None), c.c.related_id == c.c.id_number))
    return grouped(
        code,
        r.join(c, _same_person(r, c, p.match_on)),
        where,
        [_person_key(r, p.match_on)],
        person(r),
        [("recipients", r), ("cadres", c)],
    )


def _shared_account(code: str, p: SharedAccount, b: Bindings) -> Select[Any]:
    r = ROWS.alias("r")
    return grouped(
        code,
        r,
        [in_versions(r, b["recipients"]), r.c.account.is_not(None)],
        [r.c.account],
        func.concat_ws(const(" "), const("账号"), r.c.account, type_=Text),
        [("recipients", r)],
        having=func.count(func.coalesce(r.c.id_number, r.c.name_key).distinct())
        >= p.min_recipients,
    )


def _over_cap(code: str, p: OverCap, b: Bindings) -> Select[Any]:
    r = ROWS.alias("r")
    where = [in_versions(r, b["recipients"]), r.c.amount > p.cap]
    if p.programme:
        where.append(r.c.programme == p.programme)
    return grouped(
        code,
        r,
        where,
        [func.coalesce(r.c.id_number, r.c.name_key)],
        person(r),
        [("recipients", r)],
    )


RECIPIENTS = Role("recipients", PAYMENTS, "领取人（贷款、补贴、社保发放名单）")
BUILTIN: dict[str, BuiltinRule] = {
    r.code: r
    for r in (
        BuiltinRule(
            "recipient_in_roster", 1, "领取人为财政供养人员",
            "贷款、补贴等的领取人出现在财政供养人员（公职人员）名册中：公职人员不得享受的"
            "创业担保贷款、培训补贴等被违规获取。按身份证号（或姓名）比对。",
            (RECIPIENTS, Role("roster", (K.staff_roster,), "财政供养人员名册")),
            InRoster, _in_roster,
        ),
        BuiltinRule(
            "paid_after_death", 1, "死亡后仍在领取",
            "发放日期晚于死亡名单中的死亡日期：冒领、继续发放已死亡人员的补贴或待遇。",
            (Role("payments", PAYMENTS, "发放记录"), Role("deaths", (K.deaths,), "死亡人员名单")),
            AfterDeath, _after_death,
        ),
        BuiltinRule(
            "two_programmes_one_period", 1, "同一期间重复享受不同项目",
            "同一人在同一期间（年、季、月）领取了两个及以上不同项目的补贴或贷款：重复申领。"
            "文件没有项目列时，以数据集名称为项目。",
            (Role("claims", (K.subsidy_recipients, K.loan_recipients), "补贴、贷款发放名单"),),
            TwoProgrammes, _two_programmes,
        ),
        BuiltinRule(
            "recipient_is_cadre_or_relative", 1, "领取人为村干部或其近亲属",
            "领取人是村干部本人或其申报的近亲属：优亲厚友、雁过拔毛。",
            (RECIPIENTS, Role("cadres", (K.village_cadres,), "村干部及近亲属名单")),
            CadreOrRelative, _cadre,
        ),
        BuiltinRule(
            "shared_account", 1, "多人共用同一银行账号",
            "同一银行账号收取多名不同领取人的款项：资金可能被集中截留、套取。",
            (RECIPIENTS,),
            SharedAccount, _shared_account,
        ),
        BuiltinRule(
            "amount_over_cap", 1, "金额超过项目上限",
            "单笔发放金额超过项目规定的上限（如创业担保贷款个人最高额度）。",
            (RECIPIENTS,),
            OverCap, _over_cap,
        ),
    )
}  # fmt: skip
