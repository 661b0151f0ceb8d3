"""Loading a dataset file: every row checked and normalised, loaded with COPY into a table of
the version's own that becomes its partition of `dataset_rows` (see `load`).

The file (already on disk, see `upload`) is read in blocks of a few MiB in a thread of its own,
a few blocks ahead; each block becomes a block of rows in PostgreSQL's binary COPY format
(`copybinary`: values as PostgreSQL stores them, nothing to escape, no dates or decimals for it
to parse), which the event loop streams to PostgreSQL while the thread prepares the next ones:
the checks run on one core while PostgreSQL stores on the other, and memory holds a few blocks
whatever the file's size.

A block is read column by column first (`Columns`: pyarrow's CSV reader and compute kernels,
in C): ID check digits, amounts, dates, accounts, lengths and name keys
for the shapes nearly every file holds, the same values the row-by-row checks give; a row with
a cell in another shape, or a bad one, goes to those checks (`Converter.convert`), which say
what is wrong with it. A block that is not one record a line, or holds a NUL or a carriage
return alone, is read row by row whole: a line is split on the delimiter with byte operations; a
line holding a quote character is parsed by the csv module (a quoted cell may hold the
delimiter or span lines). The cells then go through `values` (ID check digits, dates, amounts,
accounts, lengths), each with a fast path for the common shape. Row numbers are those a
spreadsheet shows (the header is row 1; a record whose quoted cell spans lines is one row).
Line ends are LF or CRLF, mixed or not: a CRLF is read as LF, between records and inside quoted
cells alike; a carriage return alone inside quotes is kept, outside quotes it makes its row bad
(it is not a line end of this file).

All or nothing by default: after the first bad row nothing more is sent, every row is still
checked (the report counts them all and lists the first 1,000), and the transaction is rolled
back: nothing is stored. With `partial` the good rows are kept and the bad ones reported.
"""

from __future__ import annotations

import calendar
import codecs
import csv
import functools
import os
import queue
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

import anyio
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.errors import UnsupportedMediaType
from services.common.tabular import SNIFF_BYTES, XLSX_MAGIC, detect_encoding, read_rows
from services.findings.crosschecks import copybinary, values
from services.findings.crosschecks.enums import DatasetKind, Field
from services.findings.crosschecks.errors import ColumnsMissing, ImportRejected
from services.findings.crosschecks.jobs import JobContext
from services.findings.crosschecks.kinds import ALIASES, KINDS, match_columns
from services.findings.crosschecks.models import DatasetVersion, partition_of
from services.findings.crosschecks.names import TRADITIONAL, name_key

MAX_LISTED_ERRORS = 1000
Chunk = bytes | memoryview  # rows in binary COPY format, a block's worth
Row = tuple[Any, ...]  # a row's values in COPY_COLUMNS order (None: NULL), the line number first
BLOCK_BYTES = 4 * 1024 * 1024
# the columns rules join, group and filter on (a name as its key): those with statistics
STATISTICS = [
    "version_id", "id_number", "name_key", "related_id", "org", "account", "amount", "date1",
    "date2", "programme", "relation",
]  # fmt: skip
# The sample ANALYZE reads is 300 rows per unit of target: 30 (PostgreSQL's default is 100)
# reads 9,000 rows of a million-row version instead of its every page (30,000 rows are more
# than its pages), 0.1 s instead of 0.35-0.45, twice per import. What the rules' plans rest on
# stays: ID numbers seen unique, names and accounts as many distinct values, a histogram of 30
# buckets for amounts and dates, the 30 commonest programmes, units and relations
# (bench/README.md, issue 7: the run's ratio to the hand-written join is unchanged).
STATISTICS_TARGET = 30
# (the version id is the column's default in the version's own table: not in each row). The
# columns a file often has the same in every row (a programme, a bank, a unit) or lacks come
# last, next to each other: the encoder writes such a run of values once for every row
# (`copybinary`)
COPY_COLUMNS = [
    "line", "id_number", "name", "name_key", "account", "amount", "date1", "date2",
    "org", "programme", "relation", "related_id", "extra",
]  # fmt: skip
_K = copybinary.Kind
COPY_KINDS = [_K.INT4, _K.TEXT, _K.TEXT, _K.TEXT, _K.TEXT, _K.NUMERIC, _K.DATE, _K.DATE,
              _K.TEXT, _K.TEXT, _K.TEXT, _K.TEXT, _K.JSONB]  # fmt: skip
F = Field
# in COPY order (name_key follows name; extra comes last)
ORDER = (F.id_number, F.person_name, F.account, F.amount, F.date1, F.date2, F.org, F.programme,
         F.relation, F.related_id)  # fmt: skip


def _text(limit: int) -> Callable[[bytes], bytes]:
    return lambda cell: values.text(cell, limit)


NAME_LIMIT = 100  # characters, as `dataset_rows.name` and `name_key` hold
CHECKS: dict[Field, Callable[[bytes], bytes]] = {
    F.id_number: values.id_number,
    F.related_id: values.id_number,
    F.person_name: _text(NAME_LIMIT),
    F.org: _text(200),
    F.account: values.account,
    F.amount: values.amount,
    F.date1: values.day,
    F.date2: values.day,
    F.programme: _text(200),
    F.relation: _text(50),
}


@dataclass(frozen=True)
class Layout:
    """What the header row says: format, encoding, delimiter, and which column is which."""

    xlsx: bool
    encoding: str
    delimiter: str
    header: list[str]
    columns: dict[Field, int]
    header_bytes: int = 0  # CSV: where the data rows start
    total_rows: int | None = None  # XLSX: the sheet's extent

    def to_json(self) -> dict[str, Any]:
        return {
            "header": self.header,
            "mapping": {f.value: self.header[i] for f, i in self.columns.items()},
            "encoding": "xlsx" if self.xlsx else self.encoding,
            "delimiter": self.delimiter,
        }


def inspect(path: Path, filename: str, kind: DatasetKind, mapping: dict[Field, str]) -> Layout:
    """Reads the header row only; the file must have every column the kind requires."""
    with path.open("rb") as f:
        head = f.read(SNIFF_BYTES)
    if head.startswith(XLSX_MAGIC) or filename.lower().endswith(".xlsx"):
        layout = _xlsx_layout(path)
    elif b"\x00" in head:
        raise UnsupportedMediaType("the file is neither CSV text nor an XLSX workbook")
    else:
        layout = _csv_layout(head)
    try:
        columns = match_columns(layout.header, mapping)
    except KeyError as exc:
        raise ColumnsMissing(
            f"the mapping names a column the file does not have: {exc.args[0]}",
            errors=[{"field": "mapping", "message": f"no column {exc.args[0]!r}",
                     "code": "column_missing"}],
        ) from None  # fmt: skip
    missing = [f for f in KINDS[kind].required if f not in columns]
    if missing:
        names = "、".join(f"{f.label}({ALIASES[f][0]})" for f in missing)
        raise ColumnsMissing(
            f"缺少必需的列 missing columns: {names}",
            errors=[{"field": f.value, "message": f"no column for {f.label}; headers: "
                     f"{', '.join(layout.header)}", "code": "column_missing"} for f in missing],
        )  # fmt: skip
    return Layout(
        layout.xlsx, layout.encoding, layout.delimiter, layout.header, columns,
        layout.header_bytes, layout.total_rows,
    )  # fmt: skip


def _csv_layout(head: bytes) -> Layout:
    encoding = detect_encoding(head)
    end = head.find(b"\n")
    first = head if end < 0 else head[: end + 1]
    try:
        line = first.decode(encoding).strip("\r\n")
    except UnicodeDecodeError:
        raise ColumnsMissing(
            "the header row is not readable text",
            errors=[{"field": "file", "message": f"not {encoding} text", "code": "file_invalid"}],
        ) from None
    delimiter = "\t" if line.count("\t") > line.count(",") else ","
    header = [h.strip() for h in next(csv.reader([line], delimiter=delimiter), [])]
    if not any(header):
        raise ColumnsMissing(
            "the file is empty",
            errors=[{"field": "file", "message": "no header row", "code": "file_invalid"}],
        )
    return Layout(False, encoding, delimiter, header, {}, len(first))


def _xlsx_layout(path: Path) -> Layout:
    from openpyxl import load_workbook  # only XLSX uploads pay for it

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception:  # openpyxl raises many types for a damaged workbook
        raise ColumnsMissing(
            "the workbook cannot be read",
            errors=[{"field": "file", "message": "damaged or not an XLSX workbook",
                     "code": "file_invalid"}],
        ) from None  # fmt: skip
    try:
        sheet = workbook.worksheets[0]
        first = next(sheet.iter_rows(max_row=1, values_only=True), ())
        header = ["" if v is None else str(v).strip() for v in first]
        total = max((sheet.max_row or 1) - 1, 0)
    finally:
        workbook.close()
    if not any(header):
        raise ColumnsMissing(
            "the workbook is empty",
            errors=[{"field": "file", "message": "no header row", "code": "file_invalid"}],
        )
    return Layout(True, "xlsx", "", header, {}, 0, total)


# -- the rows -------------------------------------------------------------------------------


@dataclass
class Report:
    rows: int = 0
    good: int = 0
    bad: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def error(self, row: int, column: str, fld: str, message: str) -> None:
        if len(self.errors) < MAX_LISTED_ERRORS:
            self.errors.append({"row": row, "column": column, "field": fld, "message": message})


class Converter:
    """Row (its cells as UTF-8 bytes) -> its values to store (a `Row`), or errors reported."""

    def __init__(self, layout: Layout, kind: DatasetKind, version_id: uuid.UUID) -> None:
        self.layout = layout
        required = set(KINDS[kind].required)
        self.plan = [
            (f, layout.columns.get(f, -1), CHECKS[f], f in required,
             layout.header[layout.columns[f]] if f in layout.columns else f.label)
            for f in ORDER
        ]  # fmt: skip
        mapped = set(layout.columns.values())
        self.extra = [(i, h) for i, h in enumerate(layout.header) if i not in mapped and h]
        # the JSON of the unmapped columns, cut around their values: no quote, backslash or
        # control character can be in a value that takes the fast path
        keys = [orjson.dumps(h) for _, h in self.extra]
        self.extra_parts = (
            [b"{" + keys[0] + b':"'] + [b'",' + k + b':"' for k in keys[1:]] + [b'"}']
            if self.extra
            else []
        )
        self.names: dict[bytes, bytes] = {}
        self.width = len(layout.header)
        self.report = Report()
        self._fast, self._fast_cells = self._compile()

    def name_key(self, cell: bytes) -> bytes:
        """The name's key, at most as long as a name may be (NFKC can make a name longer:
        ㍿ is 株式会社; a key cut there still matches the same name)."""
        key = self.names.get(cell)
        if key is None:
            key = name_key(cell.decode("utf-8"))[:NAME_LIMIT].encode()
            if len(self.names) > 50_000:  # bounded: memory flat in the file size
                self.names.clear()
            self.names[cell] = key
        return key

    def fast(
        self, lines: list[bytes], start: int, stop: int, base: int
    ) -> tuple[list[Row], list[tuple[int, list[bytes], bool]]]:
        """lines[start:stop], all plain: their rows, and those that need a closer look
        (anything not in the common shape; `convert` checks them and says what is wrong)."""
        good, slow = self._fast(lines, start, stop, base)
        self.report.rows += len(good)
        self.report.good += len(good)
        return good, slow

    def _compile(self) -> tuple[Callable[..., Any], Callable[..., Any]]:
        """The fast path as functions made for this file's columns: no call per cell, no loop
        over the fields, the caches of dates, birth dates and name keys read inline. `fast`
        takes a run of plain lines and splits them; `fast_cells` takes rows the csv module
        parsed (quoted cells), free of quotes, backslashes and control characters."""
        body: list[str] = []
        args: list[str] = ["number"]
        skip = "defer((number, c, True)); continue"
        for n, (fld, col, _check, required, _column) in enumerate(self.plan):
            v = f"v{n}"
            if col < 0:
                args.append("None")
                if fld is F.person_name:
                    args.append("None")
                continue
            # cells checked byte by byte are not stripped: a space fails the check, and the
            # slow path strips
            stripped = fld in (F.person_name, F.org, F.programme, F.relation)
            body.append(f"{v} = c[{col}]" + (".strip()" if stripped else ""))
            if required:
                body.append(f"if not {v}: {skip}")
                indent = ""
            else:
                body.append(f"if not {v}: {v} = None")
                body.append("else:")
                indent = "    "
            if fld in (F.id_number, F.related_id):
                body.append(
                    f"{indent}if not (len({v}) == 18 and (h := {v}[:17]).isdigit() and "
                    f"CHECK[2 * int(h, 13) % 11] == {v}[17] and "
                    f"(BIRTHS.get(b := {v}[6:14]) or BIRTH(b))): {skip}"
                )
            elif fld is F.amount:
                body.append(f"{indent}if not {v}.isdigit() or len({v}) > 12:")
                body.append(f"{indent}    p = {v}.find(b'.')")
                body.append(
                    f"{indent}    if not (0 < p <= 12 and len({v}) - p <= 3 and "
                    f"{v}[:p].isdigit() and (p + 1 == len({v}) or {v}[p + 1:].isdigit())):"
                )
                body.append(f"{indent}        {v} = AMOUNT({v})")  # ¥, 元, thousands ...
                body.append(f"{indent}        if {v} is None: {skip}")
            elif fld is F.account:
                body.append(f"{indent}if not ({v}.isdigit() and 4 <= len({v}) <= 64): {skip}")
            elif fld in (F.date1, F.date2):
                body.append(f"{indent}{v} = DATES.get({v}) or DAY({v})")
                body.append(f"{indent}if {v}.__class__ is not bytes: {skip}")
            else:
                limit = {F.person_name: 100, F.org: 200, F.programme: 200, F.relation: 50}[fld]
                body.append(f"{indent}if len({v}) > {limit}: {skip}")
            args.append(v)
            if fld is F.person_name:
                body.append(f"k{n} = NAMES.get({v}) or NAME_KEY({v}) if {v} is not None else None")
                args.append(f"k{n}")
        if self.extra:
            extra = [f"c[{i}].strip()" for i, _ in self.extra]
            args.append(f"EXTRA % ({', '.join(extra)},)")
        else:
            args.append("None")
        body.append(f"put(({', '.join(args)}))")
        rows = "\n".join("        " + line for line in body)
        src = f"""
def fast(lines, start, stop, base):
    good = []; slow = []; put = good.append; defer = slow.append
    for k in range(start, stop):
        line = lines[k]
        if not line: continue
        number = base + k + 1
        c = line.split(DELIM)
        if len(c) != WIDTH: defer((number, c, True)); continue
{rows}
    return good, slow

def fast_cells(records):
    good = []; slow = []; put = good.append; defer = slow.append
    for number, c in records:
        if len(c) != WIDTH: defer((number, c, True)); continue
{rows}
    return good, slow
"""
        scope: dict[str, Any] = {
            "DELIM": self.layout.delimiter.encode(),
            "WIDTH": self.width,
            "CHECK": b"10X98765432",
            "BIRTHS": values._births,
            "BIRTH": values.real_birth_date,
            "DAY": values.day_or_none,
            "DATES": values._dates,
            "AMOUNT": values.amount_or_none,
            "NAMES": self.names,
            "NAME_KEY": self.name_key,
            "EXTRA": b"%s".join(p.replace(b"%", b"%%") for p in self.extra_parts),
        }
        exec(compile(src, "<crosscheck fast path>", "exec"), scope)  # noqa: S102
        return scope["fast"], scope["fast_cells"]

    def fast_records(
        self, records: list[tuple[int, list[bytes]]]
    ) -> tuple[list[Row], list[tuple[int, list[bytes], bool]]]:
        good, slow = self._fast_cells(records)
        self.report.rows += len(good)
        self.report.good += len(good)
        return good, slow

    def convert(self, number: int, cells: list[bytes], plain: bool) -> Row | None:
        """`plain`: no cell holds a quote, backslash or control character (checked on the
        whole line by the caller), so the JSON of the unmapped cells may be put together
        around them."""
        report = self.report
        if len(cells) == 1 and not cells[0].strip():
            return None  # a blank line
        report.rows += 1
        if len(cells) != self.width:
            if len(cells) < self.width:
                cells = cells + [b""] * (self.width - len(cells))
            elif any(c.strip() for c in cells[self.width :]):
                report.bad += 1
                report.error(number, "", "", f"列数({len(cells)})多于表头({self.width}) more "
                             "cells than the header has columns")  # fmt: skip
                return None
        out: list[Any] = [number]
        bad = False
        for fld, col, check, required, column in self.plan:
            cell = cells[col].strip() if col >= 0 else b""
            if not cell:
                if required:
                    bad = True
                    report.error(number, column, fld.value, f"{fld.label}不能为空 required")
                out.append(None)
                if fld is F.person_name:
                    out.append(None)
                continue
            try:
                if not plain and b"\x00" in cell:
                    raise values.BadValue(_NUL)
                value = check(cell)
            except values.BadValue as exc:
                bad = True
                report.error(number, column, fld.value, str(exc))
                value = None
            out.append(value)
            if fld is F.person_name:
                out.append(self.name_key(cell))
        if not plain:
            for i, header in self.extra:
                if b"\x00" in cells[i]:
                    bad = True
                    report.error(number, header, "", _NUL)
        if bad:
            report.bad += 1
            return None
        if not self.extra:
            out.append(None)
        elif plain:
            parts = self.extra_parts
            joined = [parts[0]]
            for (i, _), part in zip(self.extra, parts[1:], strict=True):
                joined.append(cells[i].strip())
                joined.append(part)
            out.append(b"".join(joined))
        else:
            doc = {h: cells[i].strip().decode("utf-8") for i, h in self.extra}
            out.append(orjson.dumps(doc))
        report.good += 1
        return tuple(out)


# PostgreSQL's text (and JSON's) cannot hold the character U+0000
_NUL = "含有空字符(U+0000) the cell holds a NUL character"


def encode(rows: list[Row]) -> Chunk:
    """Rows in binary COPY format (`copybinary`), through columns."""
    if not rows:
        return b""
    columns = [
        pa.array(column, pa.int32() if kind is _K.INT4 else pa.binary())
        for kind, column in zip(COPY_KINDS, zip(*rows, strict=True), strict=True)
    ]
    return binary_rows(columns, len(rows))


def binary_rows(columns: list[Any], count: int) -> Chunk:
    """`count` rows given as columns in COPY_COLUMNS order (None: NULL in every row), in
    binary COPY format."""
    return copybinary.data(copybinary.rows(list(zip(COPY_KINDS, columns, strict=True)), count))


class CsvRows:
    """The file's data rows, block by block. Each block is cut at its last line break; its
    lines free of quotes, backslashes and control characters ("plain", nearly all of them) go
    in runs to the converter's fast path, split on the delimiter; the others are parsed by
    the csv module (a quoted cell may hold the delimiter, or go on over the next lines)."""

    def __init__(self, f: IO[bytes], layout: Layout, block_bytes: int | None = None) -> None:
        self.f = f
        self.layout = layout
        self.block_bytes = block_bytes or BLOCK_BYTES
        self.delimiter = layout.delimiter.encode()
        self.number = 1  # the header
        self.carry = b""
        self.eof = False
        self.read = layout.header_bytes
        f.seek(layout.header_bytes)
        transcode = layout.encoding not in ("utf-8", "utf-8-sig")
        self.decoder = codecs.getincrementaldecoder(layout.encoding)() if transcode else None
        # what makes a line not plain (line feeds separate lines; a tab separates cells in a
        # tab-separated file)
        others = rb"\x00-\x08\x0b-\x1f" if self.delimiter == b"\t" else rb"\x00-\x09\x0b-\x1f"
        self.special = re.compile(rb'["\\' + others + rb"]")
        self.columns: Columns | None = None
        # what a parsed record's cells may hold that the JSON of the unmapped cells would need
        # escaped, or the checks report: a quote ("" in the line), a line feed, a NUL ...
        self.escapes = re.compile(rb'""|[\\' + others + rb"\n]")
        self.bad_lines: list[tuple[int, str]] = []
        self.pending: list[bytes] = []  # a quoted record's first lines, from the last block

    def blocks(self, converter: Converter) -> Iterator[Chunk]:
        """Per block, its rows in binary COPY format (the bad ones reported to `converter`)."""
        self.columns = Columns(converter, self.layout.delimiter)
        while not self.eof:
            yield self._block(converter)

    def _block(self, converter: Converter) -> Chunk:
        chunk = self.f.read(self.block_bytes)
        self.read += len(chunk)
        if chunk:
            cut = chunk.rfind(b"\n") + 1  # (the carry holds no line feed)
            data = b"".join((self.carry, memoryview(chunk)[:cut])) if cut else b""
            self.carry = chunk[cut:] if cut else self.carry + chunk
        else:
            self.eof = True
            data, self.carry = self.carry, b""
            if data and not data.endswith(b"\n"):
                data += b"\n"
        if not self.pending and (copied := self._columnar(data)) is not None:
            return copied
        text = self._utf8(data)
        if text is None:  # some line is not text in the file's encoding: line by line
            lines: list[bytes | None] = [*self.pending, *self._utf8_lines(data)]
            odd = list(range(len(lines)))
        else:
            if self.pending:
                text = b"\n".join(self.pending) + b"\n" + text
            if b"\r" in text:
                text = text.replace(b"\r\n", b"\n")
            lines = text.split(b"\n")  # type: ignore[assignment]
            lines.pop()
            odd = self._special_lines(text)
        self.pending = []
        # lines[k] is row `base + k + 1` as a spreadsheet counts rows (a quoted cell going on
        # over several lines is one row): `base` drops by the lines such a row took up
        base = self.number
        out: list[Row] = []
        rows: list[tuple[int, list[bytes], bool]] = []
        records: list[tuple[int, list[bytes]]] = []
        i, n = 0, len(lines)
        for s in [*odd, n]:
            if s < i:
                continue  # a line of a quoted record already read
            if s > i:
                good, slow = converter.fast(lines, i, s, base)  # type: ignore[arg-type]
                out += good
                rows += slow
            if s == n:
                break
            i = self._record(lines, s, base, rows, records)
            if i < 0:  # the record goes on in the next block
                self.pending = [x or b"" for x in lines[s:]]
                n = s
                break
            base -= i - s - 1
        self.number = base + n
        if records:
            good, slow = converter.fast_records(records)
            out += good
            rows += slow
        rows.sort(key=lambda row: row[0])  # bad rows reported in row order
        out += [
            row for number, cells, plain in rows if (row := converter.convert(number, cells, plain))
        ]
        return encode(out)

    def _columnar(self, data: bytes) -> Chunk | None:
        """The block through `Columns`, if it is one record a line free of what the row-by-row
        checks read differently (a carriage return but in CRLF) or report (a NUL)."""
        if self.columns is None:
            return None
        if self.decoder is None:
            text = data  # UTF-8: pyarrow checks it as it reads
        else:
            try:  # a block ends at a line end: the decoder is left with nothing pending
                text = self.decoder.decode(data).encode("utf-8")
            except UnicodeDecodeError:
                self.decoder.reset()
                return None
        if b"\r" in text:
            text = text.replace(b"\r\n", b"\n")
        if b"\r" in text or b"\x00" in text:
            return None
        rows = text.count(b"\n")
        copied = self.columns.block(text, self.number + 1, rows)
        if copied is not None:
            self.number += rows
        return copied

    def _special_lines(self, text: bytes) -> list[int]:
        """The indexes of the lines holding a special character: one search a line, on from
        the next line once one is found (not one step per quote)."""
        found: list[int] = []
        line, last, search = 0, 0, self.special.search
        while (match := search(text, last)) is not None:
            at = match.start()
            line += text.count(b"\n", last, at)
            found.append(line)
            last = text.find(b"\n", at) + 1
            if last == 0:
                break
            line += 1
        return found

    def _record(
        self,
        lines: list[bytes | None],
        s: int,
        base: int,
        rows: list[tuple[int, list[bytes], bool]],
        records: list[tuple[int, list[bytes]]],
    ) -> int:
        """The record starting at lines[s] added to `records` (free of what JSON escapes) or
        `rows` (or reported); the index after it, or -1 if it is not complete in this block."""
        number = base + s + 1
        line = lines[s]
        if line is None:
            self.bad_lines.append(
                (number, f"该行不是有效的文本编码 not valid {self.layout.encoding} text")
            )
            return s + 1
        end = s + 1
        if line.count(b'"') % 2:  # a quoted cell goes on over the next lines
            parts = [line]
            quotes = line.count(b'"')
            while end < len(lines) and quotes % 2:
                nxt = lines[end] or b""
                parts.append(nxt)
                quotes += nxt.count(b'"')
                end += 1
            if quotes % 2:
                if not self.eof:
                    return -1
                self.bad_lines.append((number, "引号不成对 a quote is not closed"))
                return end
            line = b"\n".join(parts)
        if not line.strip():
            return end
        try:
            cells = next(csv.reader([line.decode("utf-8")], delimiter=self.layout.delimiter), [])
        except csv.Error:  # a carriage return alone, outside quotes
            self.bad_lines.append(
                (
                    number,
                    "回车符位于引号之外，无法分行 a carriage return "
                    "outside quotes: save the file with CRLF or LF line ends",
                )
            )
            return end
        if any(c.strip() for c in cells):
            encoded = [c.encode("utf-8") for c in cells]
            # (in a tab-separated file the line is full of tabs: a cell's own is seen in it; a
            # quote inside a cell that does not start with one is kept by the csv module, and
            # is not "" in the line)
            if self.escapes.search(line) is None and not any(
                b'"' in c or (self.delimiter == b"\t" and b"\t" in c) for c in encoded
            ):
                records.append((number, encoded))
            else:
                rows.append((number, encoded, False))
        return end

    def _utf8(self, data: bytes) -> bytes | None:
        """The block as UTF-8 (transcoded from GB18030); None if some line cannot be."""
        try:
            if self.decoder is None:
                data.decode("utf-8")
                return data
            return self.decoder.decode(data).encode("utf-8")
        except UnicodeDecodeError:
            return None

    def _utf8_lines(self, data: bytes) -> list[bytes | None]:
        out: list[bytes | None] = []
        encoding = self.layout.encoding if self.decoder else "utf-8"
        for raw in data.split(b"\n")[:-1]:
            try:
                out.append(raw.decode(encoding).rstrip("\r").encode("utf-8"))
            except UnicodeDecodeError:
                out.append(None)
        return out


class XlsxRows:
    """The first sheet's rows in blocks, through `tabular` (openpyxl, read-only)."""

    def __init__(self, f: IO[bytes], layout: Layout, block_rows: int = 20_000) -> None:
        self.rows = read_rows(f, "data.xlsx")
        self.header = layout.header
        self.block_rows = block_rows
        self.done = 0
        self.bad_lines: list[tuple[int, str]] = []

    def blocks(self, converter: Converter) -> Iterator[Chunk]:
        block: list[Row] = []
        for number, row in self.rows:
            cells = [row.get(h, "").encode("utf-8") for h in self.header]
            if converted := converter.convert(number, cells, False):
                block.append(converted)
            self.done += 1
            if self.done % self.block_rows == 0:
                yield encode(block)
                block = []
        yield encode(block)


class ImportWork:
    """The whole read-check-normalise loop over one file; `next_chunk` runs in a thread."""

    def __init__(
        self, path: Path, layout: Layout, kind: DatasetKind, version_id: uuid.UUID, partial: bool
    ) -> None:
        self.version_id = version_id
        self.f = path.open("rb")
        self.size = path.stat().st_size
        self.layout = layout
        self.partial = partial
        self.converter = Converter(layout, kind, version_id)
        self.source: CsvRows | XlsxRows = (
            XlsxRows(self.f, layout) if layout.xlsx else CsvRows(self.f, layout)
        )
        self.blocks = self.source.blocks(self.converter)

    @property
    def report(self) -> Report:
        return self.converter.report

    def next_chunk(self) -> Chunk | None:
        """The next block of rows in binary COPY format (possibly empty); None at the end."""
        copied = next(self.blocks, None)
        if copied is None:
            return None
        report = self.report
        for number, message in self.source.bad_lines:
            report.rows += 1
            report.bad += 1
            report.error(number, "", "", message)
        self.source.bad_lines.clear()
        if report.bad and not self.partial:
            return b""  # nothing of this file will be kept: stop sending, keep checking
        return copied

    def progress(self) -> tuple[int, int | None, float]:
        if isinstance(self.source, XlsxRows):
            total = self.layout.total_rows or 0
            return self.report.rows, total, 100 * self.source.done / total if total else 0
        return self.report.rows, None, 100 * self.source.read / max(self.size, 1)

    def close(self) -> None:
        self.f.close()


async def driver_connection(session: AsyncSession) -> Any:
    """The session's asyncpg connection, inside the session's transaction. SQLAlchemy begins
    the transaction on the connection only with its first statement: until then, what is sent
    on the raw connection would commit on its own."""
    await session.execute(select(1))
    conn = await session.connection()
    return (await conn.get_raw_connection()).driver_connection


def new_version_id() -> uuid.UUID:
    """A UUID version 7 (RFC 9562): the time in its first 48 bits, so versions made later sort
    later, and the rows of a version, loaded together, sit together under the table's block
    range index on (version_id, line)."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & (2**48 - 1)) << 80 | 0x7 << 76 | (rand >> 62 & 0xFFF) << 64
    value |= 0b10 << 62 | rand & (2**62 - 1)
    return uuid.UUID(int=value)


class Ahead:
    """`produce()` called over and over in a thread of its own, up to `depth` results ahead of
    `get` (until it returns None): the next blocks are converted while PostgreSQL stores the
    previous ones, whatever the wait for the socket, and memory holds `depth` + 2 blocks."""

    def __init__(self, produce: Callable[[], Chunk | None], depth: int = 2) -> None:
        self.produce = produce
        self.results: queue.Queue[tuple[Chunk | None, BaseException | None]] = queue.Queue(depth)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="dataset-import", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                result: tuple[Chunk | None, BaseException | None] = (self.produce(), None)
            except BaseException as exc:  # handed to `get`, raised there
                result = (None, exc)
            while not self.stopping.is_set():
                try:
                    self.results.put(result, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if result[0] is None:
                return

    def get(self) -> Chunk | None:
        chunk, error = self.results.get()
        if error is not None:
            raise error
        return chunk

    def stop(self) -> None:
        """Stops producing (after the block in hand) and waits for the thread."""
        self.stopping.set()
        self.thread.join()


async def load(ctx: JobContext, work: ImportWork, raw: Any) -> None:
    """The version's rows into a table of its own on the asyncpg connection `raw` (in the
    caller's transaction): created with the version id as the column's default, COPY of the
    converted blocks (the next ones prepared in a thread while the previous one is sent), then
    its block range index built and the table attached to `dataset_rows` as the version's
    partition, and its statistics made for the rules' plans. Until it is attached no other
    transaction sees the table; if the import fails it goes with the rollback."""
    table = partition_of(work.version_id)
    vid = str(work.version_id)  # a UUID's text: nothing to quote
    # the check is the partition's constraint: ATTACH then need not read the rows to prove it
    await raw.execute(
        f"CREATE TABLE findings.{table} (LIKE findings.dataset_rows INCLUDING DEFAULTS, "
        f"CONSTRAINT {table}_version CHECK (version_id = '{vid}')); "
        f"ALTER TABLE findings.{table} ALTER COLUMN version_id SET DEFAULT '{vid}'"
    )

    # four blocks in hand: PostgreSQL, the slower of the two now, is never kept waiting when
    # the checks of a block take longer than its predecessors' (about 40 MiB)
    ahead = Ahead(work.next_chunk, depth=4)

    async def source() -> AsyncIterator[Chunk]:
        yield copybinary.HEADER
        while True:
            chunk = await anyio.to_thread.run_sync(ahead.get)
            ctx.progress(*work.progress())
            if chunk is None:
                yield copybinary.TRAILER
                return
            if chunk:
                yield chunk

    try:
        await raw.copy_to_table(
            table,
            schema_name="findings",
            columns=COPY_COLUMNS,
            source=source(),
            format="binary",
        )
    finally:
        await anyio.to_thread.run_sync(ahead.stop)
    if work.report.good and (work.partial or not work.report.bad):
        await raw.execute(
            f"CREATE INDEX ix_{table} ON findings.{table} USING brin (version_id, line) "
            "WITH (autosummarize = on); "
            f"ALTER TABLE findings.dataset_rows ATTACH PARTITION findings.{table} "
            f"FOR VALUES IN ('{vid}'); "
            f"ALTER TABLE findings.{table} DROP CONSTRAINT {table}_version"
        )
        # statistics for what rules join and filter on (a name as its key, `name_key`): the raw
        # name, the line number and the unmapped columns are only ever read back, and their
        # statistics would be half of ANALYZE's work, on the import's critical path. From a
        # sample of 300 x STATISTICS_TARGET rows
        await raw.execute(
            f"SET LOCAL default_statistics_target = {STATISTICS_TARGET}; "
            + "".join(
                f"ALTER TABLE findings.{table} ALTER COLUMN {c} SET STATISTICS 0; "
                for c in ("line", "name", "extra")
            )
            + f"ANALYZE findings.{table}"
        )
        # and the statistics of the whole table (all versions), without reading every
        # partition again: the planner estimates joins and groups over `dataset_rows` with
        # these, not with a partition's
        await raw.execute(f"ANALYZE ONLY findings.dataset_rows ({', '.join(STATISTICS)})")


async def run_import(ctx: JobContext) -> None:
    """The job: load the file, then (all or nothing) record the version; the file is removed
    once the job has an outcome."""
    p = ctx.payload
    path = Path(p["path"])
    kind = DatasetKind.of(p["kind"])
    mapping = {Field.of(k): v for k, v in (p.get("mapping") or {}).items()}
    try:
        layout = await anyio.to_thread.run_sync(inspect, path, p["filename"], kind, mapping)
        version_id = new_version_id()
        work = ImportWork(path, layout, kind, version_id, p.get("partial", False))
        try:
            async with ctx.sessions() as session, session.begin():
                raw = await driver_connection(session)
                await load(ctx, work, raw)
                report = work.report
                if report.bad and not p.get("partial"):
                    raise ImportRejected(
                        f"{report.bad} of {report.rows} rows are invalid; nothing was imported",
                        rows=report.rows,
                        rejected_rows=report.bad,
                        errors=report.errors,
                    )
                if report.good == 0:
                    raise ImportRejected(
                        "the file has no valid rows; nothing was imported",
                        rows=report.rows,
                        rejected_rows=report.bad,
                        errors=report.errors,
                    )
                # one version number per dataset name at a time
                await session.execute(
                    select(func.pg_advisory_xact_lock(func.hashtext("dataset:" + p["dataset"])))
                )
                number = await session.scalar(
                    select(func.coalesce(func.max(DatasetVersion.version), 0) + 1).where(
                        DatasetVersion.dataset == p["dataset"]
                    )
                )
                session.add(
                    DatasetVersion(
                        id=version_id,
                        dataset=p["dataset"],
                        version=number,
                        kind=kind.value,
                        round_id=ctx.round_id,
                        filename=p["filename"],
                        size=p["size"],
                        sha256=p["sha256"],
                        row_count=report.good,
                        bad_rows=report.bad,
                        columns=layout.to_json(),
                        job_id=ctx.job_id,
                        uploaded_by=ctx.created_by,
                    )
                )
                await session.flush()
                ctx.progress(report.rows, report.rows)
                await ctx.finish(
                    session,
                    {
                        "dataset_version_id": str(version_id),
                        "dataset": p["dataset"],
                        "version": number,
                        "rows": report.good,
                        "rejected_rows": report.bad,
                        "errors": report.errors,
                    },
                )
        finally:
            work.close()
    except Exception:
        await anyio.to_thread.run_sync(_remove, path)
        raise
    # (cancelled, by a shutdown or a lost lease: the file stays for the next attempt)
    await anyio.to_thread.run_sync(_remove, path)


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


# -- the columnar fast path ---------------------------------------------------------------------

_SPACES = " \t\n\r\x0b\x0c"  # what bytes.strip() strips
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = pa.array([ord(c) for c in "10X98765432"], pa.uint16())
_NOT_DIGITS = 2000  # above any weighted sum of 17 digits
_ID_FILLER = pa.scalar("1" * 18)  # any 18 bytes: keeps every cell of the matrix 18 long
_PLAIN_AMOUNT = r"^[0-9]{1,12}(\.[0-9]{0,2})?$"
_AMOUNT_NOISE = ",¥￥元"  # what `values.amount` drops from ¥12,345.00 and 12345元
_TEXT_LIMITS = {F.person_name: 100, F.org: 200, F.programme: 200, F.relation: 50}


def _own_key_pattern() -> str:
    """Names made only of simplified CJK ideographs (U+4E00-U+9FFF, which NFKC leaves alone),
    digits and lower-case letters: `name_key` gives them back unchanged."""
    ranges, start = [], 0x4E00
    for c in sorted({ord(c) for c in TRADITIONAL if 0x4E00 <= ord(c) <= 0x9FFF}):
        if c > start:
            ranges.append(f"\\x{{{start:04x}}}-\\x{{{c - 1:04x}}}")
        start = c + 1
    ranges.append(f"\\x{{{start:04x}}}-\\x{{9fff}}")
    return "^[0-9a-z" + "".join(ranges) + "]*$"


_OWN_KEY = _own_key_pattern()


class Columns:
    """A block of CSV text checked and normalised column by column (pyarrow, in C): the same
    values the row-by-row path stores, for the shapes that make up nearly every file.

    A cell in another shape (or a bad one) sends its row to `Converter.convert`, which says
    what is wrong with it, in row order; a block this would not read as the csv module does
    (a record over several lines, a blank line, a row of another width: anything but one
    record a line) is left to the row-by-row path whole."""

    def __init__(self, converter: Converter, delimiter: str) -> None:
        self.converter = converter
        self.names = [f"c{i}" for i in range(converter.width)]
        self.read = pacsv.ReadOptions(column_names=self.names, block_size=1 << 30,
                                      use_threads=False)  # fmt: skip
        self.parse = pacsv.ParseOptions(delimiter=delimiter)
        self.types = pacsv.ConvertOptions(
            column_types=dict.fromkeys(self.names, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        )
        self.tab = delimiter == "\t"
        mapped = set(converter.layout.columns.values())
        self.extra = [i for i, h in enumerate(converter.layout.header) if i not in mapped and h]
        self.extra_parts = [p.decode() for p in converter.extra_parts]
        if self.extra_parts:
            self.extra_parts[-1] += "\n"

    def block(self, text: bytes, first: int, rows: int) -> Chunk | None:
        """The rows of `text` in binary COPY format (`rows` complete lines free of NULs and
        carriage returns; the first is row `first`), or None if it is not for this path."""
        try:
            table = pacsv.read_csv(pa.BufferReader(text), self.read, self.parse, self.types)
        except pa.ArrowInvalid:  # a row of another width, a quote not closed, not UTF-8
            return None
        if table.num_rows != rows or rows == 0:  # a record over several lines, a blank line
            return None
        table = table.combine_chunks()
        cells = [table.column(i).chunk(0) for i in range(len(self.names))]
        if any(c in text for c in (b" ", b"\t", b"\x0b", b"\x0c")):
            trimmed = [pc.utf8_trim(c, _SPACES) for c in cells]
        else:
            trimmed = cells
        ok: Any = None
        out: list[Any] = [pc.cumulative_sum(pa.repeat(pa.scalar(1, pa.int32()), rows),
                                            start=first - 1)]  # fmt: skip
        for fld, col, _check, required, _column in self.converter.plan:
            if col < 0:
                out.append(None)
                if fld is F.person_name:
                    out.append(None)
                continue
            cell = trimmed[col]
            present = pc.not_equal(pc.binary_length(cell), 0)
            value, good = self._value(fld, cell)
            right = pc.and_(present, good) if required else pc.or_(pc.invert(present), good)
            ok = right if ok is None else pc.and_(ok, right)
            out.append(value if required else _where(present, value))
            if fld is F.person_name:
                key = self._name_keys(cell)
                out.append(key if required else _where(present, key))
        if self.extra:
            parts: list[Any] = [self.extra_parts[0]]
            for i, part in zip(self.extra, self.extra_parts[1:], strict=True):
                value = trimmed[i]
                # a control character JSON would need escaped: the row goes by the slow path
                plain = pc.invert(pc.match_substring_regex(value, r"[\x00-\x1f]"))
                ok = plain if ok is None else pc.and_(ok, plain)
                if b"\\" in text:  # escaped for JSON
                    value = pc.replace_substring(value, "\\", "\\\\")
                if b'"' in text:
                    value = pc.replace_substring(value, '"', '\\"')
                parts += [value, part]
            out.append(pc.binary_join_element_wise(*parts, ""))
        else:
            out.append(None)
        report = self.converter.report
        if ok is not None and not pc.all(ok).as_py():  # the bad rows by the row-by-row checks
            out = [column if column is None else pc.filter(column, ok) for column in out]
            odd = pc.indices_nonzero(pc.invert(ok))
            slow = [
                converted
                for k, row in zip(odd.to_pylist(), table.take(odd).to_pylist(), strict=True)
                if (converted := self.converter.convert(
                    first + k, [row[n].encode() for n in self.names], False)) is not None
            ]  # fmt: skip
        else:
            slow = []
        good = len(out[0])
        report.rows += good
        report.good += good
        chunk = binary_rows(out, good)
        return b"".join((chunk, encode(slow))) if slow else chunk

    def _value(self, fld: Field, cell: Any) -> tuple[Any, Any]:
        """The normalised column and where it is right (read only where the cell is not
        empty)."""
        if fld in (F.id_number, F.related_id):
            return _id_numbers(cell)
        if fld is F.amount:
            return _amounts(cell)
        if fld is F.account:
            length = pc.binary_length(cell)
            digits = pc.and_(pc.greater_equal(length, 4), pc.less_equal(length, 64))
            return cell, pc.and_(digits, pc.ascii_is_decimal(cell))
        if fld in (F.date1, F.date2):
            return _by_distinct(cell, _date_or_none, pa.date32())
        return cell, pc.less_equal(pc.utf8_length(cell), _TEXT_LIMITS[fld])

    def _name_keys(self, cell: Any) -> Any:
        """Most names are their own key; the others' keys are made once per distinct name."""
        own = pc.match_substring_regex(cell, _OWN_KEY)
        if pc.all(own).as_py():
            return cell
        keys, _ = _by_distinct(cell, self.converter.name_key)
        return pc.if_else(own, cell, keys)


def _by_distinct(cell: Any, convert: Callable[[bytes], Any], type_: Any = None) -> tuple[Any, Any]:
    """`convert` once per distinct cell (dates and names repeat): the converted column (of
    `type_`, text by default), and where `convert` gave a value (not None)."""
    encoded = pc.dictionary_encode(cell)
    done = [convert(v.encode()) for v in encoded.dictionary.to_pylist()]
    column = pc.take(pa.array(done, type_ or pa.string()), encoded.indices)
    return column, pc.is_valid(column)


def _date_or_none(cell: bytes) -> date | None:
    day = values.day_or_none(cell)
    return None if day is None else date.fromisoformat(day.decode())


def _amounts(cell: Any) -> tuple[Any, Any]:
    """Plain decimals as they are; ¥12,345.00 and 12345元 without their ¥, 元 and commas
    (`values.amount` reads them so); anything else to `values.amount`, row by row."""
    plain = pc.match_substring_regex(cell, _PLAIN_AMOUNT)
    if pc.all(plain).as_py():
        return cell, plain
    other = pc.invert(plain)
    cleaned = pc.filter(cell, other)
    for noise in _AMOUNT_NOISE:  # (a literal replacement each: several times a regex's speed)
        cleaned = pc.replace_substring(cleaned, noise, "")
    right = pc.match_substring_regex(cleaned, _PLAIN_AMOUNT)
    return pc.replace_with_mask(cell, other, cleaned), pc.replace_with_mask(plain, other, right)


@functools.cache
def _id_tables() -> tuple[list[Any], Any, Any, Any]:
    """Lookup tables over two bytes of an ID number read as one little-endian uint16 (the
    first byte low): per pair of positions, its part of the weighted sum (or `_NOT_DIGITS`);
    a pair of digits as a number; validity of a month and day (1, or 2 for February 29) and of
    a year (1, or 2 for a leap year)."""
    pairs = [(a, b) for a in range(10) for b in range(10)]
    sums = []
    for p in range(9):
        table = [_NOT_DIGITS] * 65536
        for a, b in pairs:
            if p < 8:
                table[48 + a | (48 + b) << 8] = _ID_WEIGHTS[2 * p] * a + _ID_WEIGHTS[2 * p + 1] * b
            else:  # the last digit and the check character
                for c in range(256):
                    table[48 + a | c << 8] = _ID_WEIGHTS[16] * a
        sums.append(pa.array(table, pa.uint16()))
    numbers = [0] * 65536
    for a, b in pairs:
        numbers[48 + a | (48 + b) << 8] = 10 * a + b
    month_days = [0] * 10_000
    for month in range(1, 13):
        for d in range(1, 32):
            try:
                date(2000, month, d)
            except ValueError:
                continue
            month_days[100 * month + d] = 2 if (month, d) == (2, 29) else 1
    years = [0] + [2 if calendar.isleap(y) else 1 for y in range(1, 10_000)]
    return (sums, pa.array(numbers, pa.uint16()), pa.array(month_days, pa.uint8()),
            pa.array(years, pa.uint8()))  # fmt: skip


def _id_numbers(cell: Any) -> tuple[Any, Any]:
    """Resident ID numbers of 17 digits and a check character (a digit, X or x) that is right
    (GB 11643: Σ dᵢ·wᵢ mod 11), with a real birth date; x upper-cased. The cells are read as a
    matrix of 9 two-byte numbers a row, looked up in `_id_tables`."""
    sums, numbers, month_days, years = _id_tables()
    n = len(cell)
    eighteen = pc.equal(pc.binary_length(cell), 18)
    fixed = pc.if_else(eighteen, cell, _ID_FILLER)
    start, _ = copybinary.bounds(fixed)
    matrix = pa.FixedSizeListArray.from_arrays(
        pa.Array.from_buffers(pa.uint16(), n * 9, [None, fixed.buffers()[2].slice(start)]), 9
    )
    flat = matrix.values
    rows = pc.multiply(pc.cumulative_sum(pa.repeat(pa.scalar(1, pa.int32()), n), start=-1), 9)
    pair = [pc.take(flat, pc.add(rows, i)) for i in range(9)]
    total = pc.take(sums[0], pair[0])
    for i in range(1, 9):
        total = pc.add(total, pc.take(sums[i], pair[i]))
    digits = pc.and_(eighteen, pc.less(total, _NOT_DIGITS))
    check = pc.take(_ID_CHECK, _mod(total, 11))
    last = pc.shift_right(pair[8], 8)
    lower_x = pc.equal(last, ord("x"))
    right = pc.or_(pc.equal(last, check), pc.and_(lower_x, pc.equal(check, ord("X"))))
    year = pc.add(pc.multiply(pc.take(numbers, pair[3]), 100), pc.take(numbers, pair[4]))
    month_day = pc.add(pc.multiply(pc.take(numbers, pair[5]), 100), pc.take(numbers, pair[6]))
    day_kind, year_kind = pc.take(month_days, month_day), pc.take(years, year)
    real = pc.and_(
        pc.not_equal(year_kind, 0),
        pc.or_(pc.equal(day_kind, 1), pc.and_(pc.equal(day_kind, 2), pc.equal(year_kind, 2))),
    )
    value = pc.ascii_upper(cell) if pc.any(lower_x).as_py() else cell
    return value, pc.and_(digits, pc.and_(right, real))


def _mod(values_: Any, m: int) -> Any:
    return pc.subtract(values_, pc.multiply(pc.divide(values_, m), m))


def _where(present: Any, values_: Any) -> Any:
    """The values where `present`, else null (NULL)."""
    return pc.if_else(present, values_, pa.scalar(None, values_.type))
