"""Bulk import of targets from CSV/XLSX: every row checked, then all inserted or none.

Headers may be Chinese or English. A parent is named by its name (a village's township): it may
be a row of the same file or a target already registered in the same jurisdiction. Rows are
inserted generation by generation (parents first), one multi-row INSERT per generation.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import IO, Any

from services.common.auth import Principal
from services.common.tabular import read_rows
from services.rounds.enums import RiskClass, TargetKind
from services.rounds.registry.errors import ImportRejected
from services.rounds.registry.repository import TargetRepository
from services.rounds.registry.schemas import ImportReport, RowError

MAX_LISTED_ERRORS = 1000
COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("名称", "单位名称", "对象名称", "name"),
    "kind": ("类别", "类型", "对象类别", "kind"),
    "jurisdiction": ("辖区", "所属辖区", "jurisdiction"),
    "parent": ("上级单位", "所属乡镇", "上级", "parent"),
    "risk_class": ("风险等级", "risk_class", "risk"),
}
REQUIRED = ("name", "kind", "jurisdiction")


def _lookup(enum: type[TargetKind] | type[RiskClass]) -> dict[str, str]:
    out = {m.value: m.value for m in enum}
    out.update({m.label: m.value for m in enum})
    return out


KINDS = _lookup(TargetKind) | {
    "部门党组": "department_party_group",
    "党组": "department_party_group",
    "乡镇": "township_committee",
    "村委会": "village",
}
RISKS = _lookup(RiskClass) | {"高风险": "high", "中风险": "medium", "低风险": "low"}


@dataclass(eq=False)
class Row:
    number: int
    name: str
    kind: str
    jurisdiction: str
    parent_name: str
    risk_class: str
    parent_id: uuid.UUID | None = None
    parent_row: Row | None = None
    id: uuid.UUID | None = None
    children: list[Row] = field(default_factory=list)


class TargetImport:
    def __init__(self, repo: TargetRepository, by: Principal) -> None:
        self.repo = repo
        self.by = by
        self.errors: list[RowError] = []
        self.bad_rows: set[int] = set()

    def _error(self, row: int, column: str, message: str) -> None:
        self.bad_rows.add(row)
        if len(self.errors) < MAX_LISTED_ERRORS:
            self.errors.append(RowError(row=row, column=column, message=message))

    async def run(self, stream: IO[bytes], filename: str, *, partial: bool) -> ImportReport:
        rows = self._parse(stream, filename)
        await self._resolve_parents(rows)
        await self._check_duplicates(rows)
        good = self._without_bad(rows)
        if self.bad_rows and not partial:
            raise ImportRejected(
                f"{len(self.bad_rows)} of {len(rows)} rows are invalid; nothing was imported",
                rejected_rows=len(self.bad_rows),
                row_errors=[e.model_dump() for e in self.errors],
            )
        ids = await self._insert(good)
        return ImportReport(
            imported=len(ids), rejected_rows=len(self.bad_rows), errors=self.errors,
            ids=[r.id for r in good if r.id is not None],
        )  # fmt: skip

    def _parse(self, stream: IO[bytes], filename: str) -> list[Row]:
        rows: list[Row] = []
        columns: dict[str, str] | None = None
        for number, values in read_rows(stream, filename):
            if columns is None:
                columns = self._columns(list(values))
            get = {k: values.get(h, "").strip() for k, h in columns.items()}
            row = Row(number, get["name"], "", get["jurisdiction"], get.get("parent", ""), "medium")
            if not row.name:
                self._error(number, "name", "名称不能为空 name is required")
            elif len(row.name) > 200:
                self._error(number, "name", "名称超过200字 name longer than 200 characters")
            kind = KINDS.get(get["kind"])
            if kind is None:
                self._error(number, "kind", f"未知类别 unknown kind: {get['kind']!r}")
            else:
                row.kind = kind
            if not row.jurisdiction:
                self._error(number, "jurisdiction", "辖区不能为空 jurisdiction is required")
            if get.get("risk_class"):
                risk = RISKS.get(get["risk_class"])
                if risk is None:
                    self._error(
                        number, "risk_class", f"未知风险等级 unknown: {get['risk_class']!r}"
                    )
                else:
                    row.risk_class = risk
            rows.append(row)
        if columns is None:
            raise ImportRejected("the file has no data rows", rejected_rows=0, row_errors=[])
        return rows

    @staticmethod
    def _columns(headers: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for key, aliases in COLUMNS.items():
            for header in headers:
                if header.strip().lower() in {a.lower() for a in aliases}:
                    found[key] = header
                    break
        missing = [k for k in REQUIRED if k not in found]
        if missing:
            names = ", ".join(f"{COLUMNS[k][0]}({k})" for k in missing)
            raise ImportRejected(
                f"missing columns: {names}",
                rejected_rows=0,
                row_errors=[{"row": 1, "column": k, "message": "column missing"} for k in missing],
            )
        return found

    async def _resolve_parents(self, rows: list[Row]) -> None:
        in_file: dict[tuple[str, str], list[Row]] = {}
        for row in rows:
            in_file.setdefault((row.jurisdiction, row.name), []).append(row)
        wanted = {(r.jurisdiction, r.parent_name) for r in rows if r.parent_name}
        existing = await self.repo.ids_by_name(wanted)
        for row in rows:
            if not row.parent_name:
                continue
            key = (row.jurisdiction, row.parent_name)
            candidates = len(in_file.get(key, [])) + len(existing.get(key, []))
            if candidates == 0:
                self._error(
                    row.number, "parent", f"上级单位不存在 no such parent: {row.parent_name}"
                )
            elif candidates > 1:
                self._error(
                    row.number, "parent", f"上级单位名称不唯一 ambiguous parent: {row.parent_name}"
                )
            elif key in in_file:
                row.parent_row = in_file[key][0]
                if row.parent_row is row:
                    self._error(
                        row.number, "parent", "不能以自身为上级 a unit cannot be its own parent"
                    )
                    row.parent_row = None
                else:
                    row.parent_row.children.append(row)
            else:
                row.parent_id = existing[key][0]
        for row in rows:  # a cycle inside the file never reaches a root
            seen: set[int] = set()
            node: Row | None = row
            while node is not None and node.parent_row is not None:
                if node.number in seen:
                    self._error(row.number, "parent", "上级关系成环 parent links form a cycle")
                    break
                seen.add(node.number)
                node = node.parent_row

    async def _check_duplicates(self, rows: list[Row]) -> None:
        seen: dict[tuple[str, Any, str], int] = {}
        for row in rows:
            parent = row.parent_id or (row.parent_row.number if row.parent_row else None)
            key = (row.jurisdiction, parent, row.name)
            if key in seen:
                self._error(row.number, "name", f"与第{seen[key]}行重复 duplicates row {seen[key]}")
            else:
                seen[key] = row.number
        existing = await self.repo.taken(
            {(r.jurisdiction, r.parent_id, r.name) for r in rows if r.parent_row is None}
        )
        for row in rows:
            if row.parent_row is None and (row.jurisdiction, row.parent_id, row.name) in existing:
                self._error(row.number, "name", f"已登记 already registered: {row.name}")

    def _without_bad(self, rows: list[Row]) -> list[Row]:
        """Bad rows, and rows under a bad parent row (their parent will not exist)."""

        def bad(row: Row) -> bool:
            node: Row | None = row
            depth = 0
            while node is not None and depth <= len(rows):
                if node.number in self.bad_rows:
                    return True
                node, depth = node.parent_row, depth + 1
            return False

        good = []
        for row in rows:
            if bad(row):
                if row.number not in self.bad_rows:
                    self._error(
                        row.number, "parent", "上级单位所在行有错误 the parent's row is invalid"
                    )
            else:
                good.append(row)
        return good

    async def _insert(self, rows: list[Row]) -> list[uuid.UUID]:
        ids: list[uuid.UUID] = []
        keep = {r.number for r in rows}
        generation = [r for r in rows if r.parent_row is None]
        while generation:
            values = [
                {"name": r.name, "kind": r.kind, "jurisdiction": r.jurisdiction,
                 "parent_id": r.parent_id, "risk_class": r.risk_class,
                 "created_by": self.by.subject}
                for r in generation
            ]  # fmt: skip
            new_ids = await self.repo.insert_many(values)
            for row, new_id in zip(generation, new_ids, strict=True):
                row.id = new_id
                for child in row.children:
                    child.parent_id = new_id
            ids += new_ids
            generation = [c for r in generation for c in r.children if c.number in keep]
        return ids
