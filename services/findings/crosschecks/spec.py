"""User-defined rules (自定义比对规则): a declarative spec, compiled to SQLAlchemy Core.

A spec names up to three roles (each a set of dataset kinds), how they join (field of one role
against a field of another), conditions on fields (against a constant or another field) and
what a hit is grouped by. Fields come from an allow-list (the typed columns of
`dataset_rows`), operators from another; constants are bound parameters of the field's type.
No text a user writes ever becomes SQL: it is names checked against the lists, and values.

    {"roles": {"loans": {"kinds": ["loan_recipients"]}, "cars": {"kinds": ["vehicles"]}},
     "join": [{"left": "loans.id_number", "op": "eq", "right": "cars.id_number"}],
     "where": [{"field": "loans.amount", "op": "ge", "value": "100000"}],
     "key": ["loans.id_number"]}

`name` compares the tolerant name key (全半角、空格、繁简), never the raw spelling.
"""

from __future__ import annotations

import operator
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, model_validator
from sqlalchemy import ColumnElement, FromClause, Select, Text, and_, func

from services.findings.crosschecks.enums import DatasetKind
from services.findings.crosschecks.names import name_key
from services.findings.crosschecks.rules import ROWS, Bindings, Role, grouped, in_versions

FIELDS: dict[str, type] = {
    "id_number": str, "name": str, "related_id": str, "org": str, "account": str,
    "amount": Decimal, "date1": date, "date2": date, "programme": str, "relation": str,
}  # fmt: skip
COMPARE = {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le,
           "gt": operator.gt, "ge": operator.ge}  # fmt: skip
Op = Literal["eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "is_null", "not_null"]
RoleName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,19}$")]
FieldRef = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,19}\.[a-z_0-9]{1,20}$"),
    Field(description="role.field, e.g. loans.id_number; fields: " + ", ".join(FIELDS)),
]
Scalar = str | int | Decimal


class SpecRole(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kinds: list[DatasetKind] = Field(min_length=1, max_length=len(DatasetKind))
    label: str = Field(default="", max_length=100)


class JoinOn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    left: FieldRef
    op: Literal["eq", "ne", "lt", "le", "gt", "ge"] = "eq"
    right: FieldRef


class Condition(BaseModel):
    """`field op value`, or `field op other` (another field); is_null/not_null take neither."""

    model_config = ConfigDict(extra="forbid")

    field: FieldRef
    op: Op
    value: Scalar | list[Scalar] | None = None
    other: FieldRef | None = None


class RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # a role's name must match RoleName: the OpenAPI says so too (not only for the names it has)
    roles: dict[RoleName, SpecRole] = Field(
        min_length=1, max_length=3, json_schema_extra={"additionalProperties": False}
    )
    join: list[JoinOn] = Field(default_factory=list, max_length=6)
    where: list[Condition] = Field(default_factory=list, max_length=20)
    key: list[FieldRef] = Field(
        default_factory=list,
        max_length=3,
        description="一个疑点按哪些字段归并（默认第一个角色的身份证号）",
    )

    @model_validator(mode="after")
    def _consistent(self) -> RuleSpec:
        for ref in self.refs():
            role, fld = ref.split(".", 1)
            if role not in self.roles:
                raise ValueError(f"{ref}: no role {role!r} in `roles`")
            if fld not in FIELDS:
                raise ValueError(f"{ref}: no field {fld!r}; fields are {', '.join(FIELDS)}")
        for j in self.join:
            if j.left.split(".")[0] == j.right.split(".")[0]:
                raise ValueError(f"a join links two roles: {j.left} {j.op} {j.right}")
            if FIELDS[j.left.split(".")[1]] is not FIELDS[j.right.split(".")[1]]:
                raise ValueError(f"{j.left} and {j.right} are not of the same type")
        names = list(self.roles)
        linked = {names[0]}
        changed = True
        while changed:
            changed = False
            for j in self.join:
                a, b = j.left.split(".")[0], j.right.split(".")[0]
                if (a in linked) != (b in linked):
                    linked |= {a, b}
                    changed = True
        if linked != set(names):
            raise ValueError(f"every role must be joined: {', '.join(set(names) - linked)} is not")
        for c in self.where:
            _check_condition(c)
        return self

    def refs(self) -> list[str]:
        out = [r for j in self.join for r in (j.left, j.right)] + list(self.key)
        out += [c.field for c in self.where] + [c.other for c in self.where if c.other]
        return out

    def role_list(self) -> tuple[Role, ...]:
        return tuple(Role(name, tuple(r.kinds), r.label or name) for name, r in self.roles.items())


def _check_condition(c: Condition) -> None:
    kind = FIELDS[c.field.split(".")[1]]
    if c.op in ("is_null", "not_null"):
        if c.value is not None or c.other is not None:
            raise ValueError(f"{c.field} {c.op} takes no value")
        return
    if (c.value is None) == (c.other is None):
        raise ValueError(f"{c.field} {c.op}: give either `value` or `other`")
    if c.other is not None:
        if c.op in ("in", "not_in"):
            raise ValueError(f"{c.op} compares with a list of values, not a field")
        if FIELDS[c.other.split(".")[1]] is not kind:
            raise ValueError(f"{c.field} and {c.other} are not of the same type")
        return
    many = c.op in ("in", "not_in")
    if many != isinstance(c.value, list):
        raise ValueError(f"{c.field} {c.op}: " + ("a list" if many else "one value") + " expected")
    items = c.value if isinstance(c.value, list) else [c.value]
    if many and not 1 <= len(items) <= 500:
        raise ValueError(f"{c.op} takes 1 to 500 values")
    for item in items:
        _typed(kind, item)


def _typed(kind: type, value: Any) -> Any:
    try:
        return TypeAdapter(kind).validate_python(str(value) if kind is not Decimal else value)
    except Exception:
        raise ValueError(f"{value!r} is not a {kind.__name__}") from None


def _column(aliases: dict[str, FromClause], ref: str) -> ColumnElement[Any]:
    role, fld = ref.split(".", 1)
    return aliases[role].c["name_key" if fld == "name" else fld]


def _condition(aliases: dict[str, FromClause], c: Condition) -> ColumnElement[bool]:
    col = _column(aliases, c.field)
    fld = c.field.split(".")[1]
    if c.op == "is_null":
        return col.is_(None)
    if c.op == "not_null":
        return col.is_not(None)
    if c.other is not None:
        return COMPARE[c.op](col, _column(aliases, c.other))
    kind = FIELDS[fld]

    def value(v: Any) -> Any:
        typed = _typed(kind, v)
        return name_key(typed) if fld == "name" else typed

    if c.op in ("in", "not_in"):
        items = [value(v) for v in (c.value if isinstance(c.value, list) else [c.value])]
        return col.in_(items) if c.op == "in" else col.not_in(items)
    return COMPARE[c.op](col, value(c.value))


def compile_spec(code: str, spec: RuleSpec, bindings: Bindings) -> Select[Any]:
    aliases: dict[str, FromClause] = {name: ROWS.alias(name) for name in spec.roles}
    names = list(spec.roles)
    sources: Any = aliases[names[0]]
    joined = {names[0]}
    pending = list(spec.join)
    while len(joined) < len(names):
        for j in pending:
            a, b = j.left.split(".")[0], j.right.split(".")[0]
            new = b if a in joined else a if b in joined else None
            if new is None or new in joined:
                continue
            conditions = [
                COMPARE[x.op](_column(aliases, x.left), _column(aliases, x.right))
                for x in pending
                if {x.left.split(".")[0], x.right.split(".")[0]} <= joined | {new}
                and new in (x.left.split(".")[0], x.right.split(".")[0])
            ]
            sources = sources.join(aliases[new], and_(*conditions))
            joined.add(new)
    # a join between two roles already joined is a condition
    extra = [COMPARE[x.op](_column(aliases, x.left), _column(aliases, x.right)) for x in pending]
    where = [in_versions(aliases[n], bindings[n]) for n in names]
    where += extra + [_condition(aliases, c) for c in spec.where]
    first = aliases[names[0]]
    key = [_column(aliases, k) for k in spec.key] or [first.c.id_number]
    subject = func.concat_ws(" ", first.c.name, first.c.id_number, type_=Text)
    return grouped(code, sources, where, key, subject, [(n, aliases[n]) for n in names])
