"""Loading a dataset file: every row checked and normalised in Python, loaded with COPY.

The file (already on disk, see `upload`) is read in blocks of a few MiB in a worker thread;
each block becomes a block of COPY text-format lines for `dataset_rows`, which the event loop
streams to PostgreSQL while the thread prepares the next one: Python checks on one core while
PostgreSQL stores on the other, and memory holds two blocks whatever the file's size.

A line is split on the delimiter with byte operations; a line holding a quote character is
parsed by the csv module (a quoted cell may hold the delimiter or span lines). The cells then
go through `values` (ID check digits, dates, amounts, accounts, lengths), each with a fast path
for the common shape. Row numbers are those a spreadsheet shows (the header is row 1; a record
whose quoted cell spans lines is one row). Line ends are LF or CRLF, mixed or not: a CRLF is
read as LF, between records and inside quoted cells alike; a carriage return alone inside
quotes is kept, outside quotes it makes its row bad (it is not a line end of this file).

All or nothing by default: after the first bad row nothing more is sent, every row is still
checked (the report counts them all and lists the first 1,000), and the transaction is rolled
back: nothing is stored. With `partial` the good rows are kept and the bad ones reported.
"""

from __future__ import annotations

import codecs
import csv
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import anyio
import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.errors import UnsupportedMediaType
from services.common.tabular import SNIFF_BYTES, XLSX_MAGIC, detect_encoding, read_rows
from services.findings.crosschecks import values
from services.findings.crosschecks.enums import DatasetKind, Field
from services.findings.crosschecks.errors import ColumnsMissing, ImportRejected
from services.findings.crosschecks.jobs import JobContext
from services.findings.crosschecks.kinds import ALIASES, KINDS, match_columns
from services.findings.crosschecks.models import DatasetVersion
from services.findings.crosschecks.names import name_key

MAX_LISTED_ERRORS = 1000
BLOCK_BYTES = 4 * 1024 * 1024
NULL = b"\\N"
COPY_COLUMNS = [
    "version_id", "line", "id_number", "name", "name_key", "related_id", "org", "account",
    "amount", "date1", "date2", "programme", "relation", "extra",
]  # fmt: skip
F = Field
# in COPY order (name_key follows name; extra comes last)
ORDER = (F.id_number, F.person_name, F.related_id, F.org, F.account, F.amount, F.date1, F.date2,
         F.programme, F.relation)  # fmt: skip


def _text(limit: int) -> Callable[[bytes], bytes]:
    return lambda cell: values.text(cell, limit)


CHECKS: dict[Field, Callable[[bytes], bytes]] = {
    F.id_number: values.id_number,
    F.related_id: values.id_number,
    F.person_name: _text(100),
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

_ESCAPES = {ord("\\"): "\\\\", ord("\t"): "\\t", ord("\n"): "\\n", ord("\r"): "\\r"}


def _escape(value: bytes) -> bytes:
    """COPY text format: backslash, tab and line breaks escaped."""
    return value.decode("utf-8").translate(_ESCAPES).encode()


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
    """Row (its cells as UTF-8 bytes) -> one line of COPY text format, or errors reported."""

    def __init__(self, layout: Layout, kind: DatasetKind, version_id: uuid.UUID) -> None:
        self.layout = layout
        self.vid = str(version_id).encode()
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
        keys = [_escape(orjson.dumps(h)) for _, h in self.extra]
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
        key = self.names.get(cell)
        if key is None:
            key = name_key(cell.decode("utf-8")).encode()
            if len(self.names) > 50_000:  # bounded: memory flat in the file size
                self.names.clear()
            self.names[cell] = key
        return key

    def fast(
        self, lines: list[bytes], start: int, stop: int, base: int
    ) -> tuple[list[bytes], list[tuple[int, list[bytes], bool]]]:
        """lines[start:stop], all plain: their COPY lines, and the rows that need a closer look
        (anything not in the common shape; `convert` checks them and says what is wrong)."""
        good, slow = self._fast(lines, start, stop, base)
        self.report.rows += len(good)
        self.report.good += len(good)
        return good, slow

    def _compile(self) -> tuple[Callable[..., Any], Callable[..., Any]]:
        """The fast path as functions made for this file's columns: no call per cell, no loop
        over the fields, the caches of dates, birth dates and name keys read inline. `fast`
        takes a run of plain lines and splits them; `fast_cells` takes rows the csv module
        parsed (quoted cells), free of anything COPY would need escaped."""
        body: list[str] = []
        args: list[str] = ["number"]
        fmt = [self.vid.replace(b"%", b"%%"), b"%d"]
        skip = "defer((number, c, True)); continue"
        for n, (fld, col, _check, required, _column) in enumerate(self.plan):
            v = f"v{n}"
            if col < 0:
                fmt.append(NULL)
                if fld is F.person_name:
                    fmt.append(NULL)
                continue
            # cells checked byte by byte are not stripped: a space fails the check, and the
            # slow path strips
            stripped = fld in (F.person_name, F.org, F.programme, F.relation)
            body.append(f"{v} = c[{col}]" + (".strip()" if stripped else ""))
            if required:
                body.append(f"if not {v}: {skip}")
                indent = ""
            else:
                body.append(f"if not {v}: {v} = NULL")
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
            fmt.append(b"%s")
            if fld is F.person_name:
                body.append(f"k{n} = NAMES.get({v}) or NAME_KEY({v}) if {v} is not NULL else NULL")
                args.append(f"k{n}")
                fmt.append(b"%s")
        if self.extra:
            fmt.append(b"%s".join(p.replace(b"%", b"%%") for p in self.extra_parts))
            args += [f"c[{i}].strip()" for i, _ in self.extra]
        else:
            fmt.append(NULL)
        body.append(f"put(FORMAT % ({', '.join(args)},))")
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
            "NULL": NULL,
            "CHECK": b"10X98765432",
            "BIRTHS": values._births,
            "BIRTH": values.real_birth_date,
            "DAY": values.day_or_none,
            "DATES": values._dates,
            "AMOUNT": values.amount_or_none,
            "NAMES": self.names,
            "NAME_KEY": self.name_key,
            "FORMAT": b"\t".join(fmt),
        }
        exec(compile(src, "<crosscheck fast path>", "exec"), scope)  # noqa: S102
        return scope["fast"], scope["fast_cells"]

    def fast_records(
        self, records: list[tuple[int, list[bytes]]]
    ) -> tuple[list[bytes], list[tuple[int, list[bytes], bool]]]:
        good, slow = self._fast_cells(records)
        self.report.rows += len(good)
        self.report.good += len(good)
        return good, slow

    def convert(self, number: int, cells: list[bytes], plain: bool) -> bytes | None:
        """`plain`: no cell holds a quote, backslash or control character (checked on the
        whole line by the caller), so values need no escaping."""
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
        out = [self.vid, b"%d" % number]
        bad = False
        for fld, col, check, required, column in self.plan:
            cell = cells[col].strip() if col >= 0 else b""
            if not cell:
                if required:
                    bad = True
                    report.error(number, column, fld.value, f"{fld.label}不能为空 required")
                out.append(NULL)
                if fld is F.person_name:
                    out.append(NULL)
                continue
            try:
                value = check(cell)
            except values.BadValue as exc:
                bad = True
                report.error(number, column, fld.value, str(exc))
                value = NULL
            out.append(value if plain or value is NULL else _escape(value))
            if fld is F.person_name:
                key = self.name_key(cell)
                out.append(key if plain else _escape(key))
        if bad:
            report.bad += 1
            return None
        if not self.extra:
            out.append(NULL)
        elif plain:
            parts = self.extra_parts
            joined = [parts[0]]
            for (i, _), part in zip(self.extra, parts[1:], strict=True):
                joined.append(cells[i].strip())
                joined.append(part)
            out.append(b"".join(joined))
        else:
            doc = {h: cells[i].strip().decode("utf-8") for i, h in self.extra}
            out.append(_escape(orjson.dumps(doc)))
        report.good += 1
        return b"\t".join(out)


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
        # what a parsed record's cells may hold that COPY (or the JSON of the unmapped cells)
        # would need escaped: a quote ("" in the line), a line feed inside a quoted cell ...
        self.escapes = re.compile(rb'""|[\\' + others + rb"\n]")
        self.bad_lines: list[tuple[int, str]] = []
        self.pending: list[bytes] = []  # a quoted record's first lines, from the last block

    def blocks(self, converter: Converter) -> Iterator[list[bytes]]:
        """Per block, its rows as COPY lines (the bad ones reported to `converter`)."""
        while not self.eof:
            yield self._block(converter)

    def _block(self, converter: Converter) -> list[bytes]:
        chunk = self.f.read(self.block_bytes)
        self.read += len(chunk)
        data = self.carry + chunk
        if chunk:
            cut = data.rfind(b"\n") + 1
            data, self.carry = data[:cut], data[cut:]
        else:
            self.eof = True
            self.carry = b""
            if data and not data.endswith(b"\n"):
                data += b"\n"
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
        out: list[bytes] = []
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
        out += [
            line
            for number, cells, plain in rows
            if (line := converter.convert(number, cells, plain))
        ]
        return out

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
        """The record starting at lines[s] added to `records` (free of what COPY escapes) or
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
            if self.escapes.search(line) is None:
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

    def blocks(self, converter: Converter) -> Iterator[list[bytes]]:
        block: list[bytes] = []
        for number, row in self.rows:
            cells = [row.get(h, "").encode("utf-8") for h in self.header]
            if line := converter.convert(number, cells, False):
                block.append(line)
            self.done += 1
            if self.done % self.block_rows == 0:
                yield block
                block = []
        yield block


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

    def next_chunk(self) -> bytes | None:
        """The next block of COPY lines (possibly empty); None at the end of the file."""
        lines = next(self.blocks, None)
        if lines is None:
            return None
        report = self.report
        for number, message in self.source.bad_lines:
            report.rows += 1
            report.bad += 1
            report.error(number, "", "", message)
        self.source.bad_lines.clear()
        if report.bad and not self.partial:
            return b""  # nothing of this file will be kept: stop sending, keep checking
        return b"\n".join(lines) + b"\n" if lines else b""

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


async def load(ctx: JobContext, work: ImportWork, raw: Any) -> None:
    """COPY the converted blocks into `dataset_rows` on the asyncpg connection `raw` (in the
    caller's transaction), the next block prepared in a thread while the previous one is sent;
    then the new rows' block ranges summarised for the index, and the statistics refreshed
    for the rules' plans."""

    async def source() -> AsyncIterator[bytes]:
        while True:
            chunk = await anyio.to_thread.run_sync(work.next_chunk)
            ctx.progress(*work.progress())
            if chunk is None:
                return
            if chunk:
                yield chunk

    await raw.copy_to_table(
        "dataset_rows",
        schema_name="findings",
        columns=COPY_COLUMNS,
        source=source(),
        format="text",
    )
    if work.report.good and (work.partial or not work.report.bad):
        await raw.execute(
            "SELECT brin_summarize_new_values('findings.ix_dataset_rows_version_id_line'); "
            "ANALYZE findings.dataset_rows"
        )


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
