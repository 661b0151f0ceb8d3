"""Writing an export package a page of rows at a time, so that memory stays flat whatever the
number of rows: each register goes to its CSV (UTF-8 with BOM, so Excel reads it right), its
JSON (an array written row by row) and its sheet of one XLSX workbook (xlsxwriter in
constant_memory mode: a row is on disk once the next one starts). Then manifest.json (each
file's SHA-256 and row count) and the ZIP, written from the files in chunks.

Called from a worker thread (see jobs.py): nothing here touches the event loop."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import shutil
import zipfile
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import orjson
import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from gateway.dashboard.registers import Column, Register, Row, Value
from gateway.dashboard.schemas import ManifestFile

CHUNK = 1024 * 1024
ALL_KINDS = frozenset({"csv", "json", "xlsx"})
# A CSV cell starting with one of these is a formula to a spreadsheet (CSV injection): such text
# is written behind an apostrophe, which spreadsheets show as text and do not display.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_text(value: Value, kind: str) -> str:
    if value is None:
        return ""
    if kind == "money":
        assert isinstance(value, Decimal)
        return f"{value:.2f}"
    if kind == "datetime":
        assert isinstance(value, datetime)
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if kind == "date":
        assert isinstance(value, date)
        return value.isoformat()
    text = str(value)
    return "'" + text if kind == "text" and text.startswith(FORMULA_START) else text


def _json_value(value: Value, kind: str) -> Any:
    if value is None:
        return None
    if kind == "money":
        assert isinstance(value, Decimal)
        return f"{value:.2f}"  # money is a decimal string, never a float
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class Formats:
    def __init__(self, book: xlsxwriter.Workbook) -> None:
        self.header = book.add_format(
            {"bold": True, "bg_color": "#DDE4EE", "border": 1, "valign": "vcenter"}
        )
        self.by_kind = {
            "text": None,
            "int": book.add_format({"num_format": "0"}),
            "money": book.add_format({"num_format": "#,##0.00"}),
            "date": book.add_format({"num_format": "yyyy-mm-dd"}),
            "datetime": book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
        }


class RegisterWriter:
    """One register: its CSV, its JSON and its sheet (those of `kinds`), a row at a time."""

    def __init__(
        self,
        register: Register,
        columns: tuple[Column, ...],
        folder: Path,
        sheet: Worksheet | None,
        formats: Formats | None,
        kinds: frozenset[str] = ALL_KINDS,
    ) -> None:
        self.register = register
        self.columns = columns
        self.sheet = sheet
        self.formats = formats
        self.rows = 0
        self.csv_path = folder / f"{register.name}.csv"
        self.json_path = folder / f"{register.name}.json"
        self.paths = [
            (p, k) for p, k in ((self.csv_path, "csv"), (self.json_path, "json")) if k in kinds
        ]
        self._csv: IO[str] | None = None
        self._json: IO[bytes] | None = None
        if "csv" in kinds:
            self._csv = self.csv_path.open("w", encoding="utf-8-sig", newline="")
            self._csv_writer = csv.writer(self._csv)
            self._csv_writer.writerow([c.title for c in columns])
        if "json" in kinds:
            self._json = self.json_path.open("wb")
            head = {
                "register": register.name,
                "title": register.title,
                "columns": [{"key": c.key, "title": c.title, "type": c.kind} for c in columns],
            }
            # the head, then "rows": [ … ] written as they come
            self._json.write(orjson.dumps(head)[:-1] + b',"rows":[')
        if sheet is not None:
            assert formats is not None
            for col, c in enumerate(columns):
                sheet.set_column(col, col, c.width)
                sheet.write_string(0, col, c.title, formats.header)
            sheet.freeze_panes(1, 0)

    def write(self, rows: Iterable[Row]) -> None:
        columns = self.columns
        for row in rows:
            self.rows += 1
            row["no"] = self.rows
            if self._csv is not None:
                self._csv_writer.writerow([_csv_text(row.get(c.key), c.kind) for c in columns])
            if self._json is not None:
                record = {c.key: _json_value(row.get(c.key), c.kind) for c in columns}
                self._json.write((b"\n" if self.rows == 1 else b",\n") + orjson.dumps(record))
            if self.sheet is not None:
                self._cells(self.sheet, self.rows, row)

    def _cells(self, sheet: Worksheet, n: int, row: Row) -> None:
        assert self.formats is not None
        formats = self.formats.by_kind
        for col, c in enumerate(self.columns):
            value = row.get(c.key)
            if value is None or value == "":
                continue
            if c.kind == "text":
                sheet.write_string(n, col, str(value))
            elif c.kind == "money":
                assert isinstance(value, Decimal)
                sheet.write_number(n, col, float(value), formats["money"])
            elif c.kind == "int":
                assert isinstance(value, int)
                sheet.write_number(n, col, value, formats["int"])
            elif c.kind == "datetime":
                assert isinstance(value, datetime)
                sheet.write_datetime(n, col, value.replace(tzinfo=None), formats["datetime"])
            else:
                assert isinstance(value, date)
                sheet.write_datetime(
                    n, col, datetime(value.year, value.month, value.day), formats["date"]
                )

    def close(self) -> None:
        if self.sheet is not None and self.rows:
            self.sheet.autofilter(0, 0, self.rows, len(self.columns) - 1)
        if self._csv is not None:
            self._csv.close()
        if self._json is not None:
            self._json.write(b"\n]}\n")
            self._json.close()


class PackageWriter:
    """The files of one package in `folder`, then the ZIP beside them. `kinds` narrows the
    formats written (the benchmark measures each on its own); a package has them all."""

    XLSX = "registers.xlsx"

    def __init__(self, folder: Path, kinds: frozenset[str] = ALL_KINDS) -> None:
        self.folder = folder
        self.kinds = kinds
        folder.mkdir(parents=True, exist_ok=True)
        self.book: xlsxwriter.Workbook | None = None
        self.formats: Formats | None = None
        if "xlsx" in kinds:
            self.book = xlsxwriter.Workbook(
                str(folder / self.XLSX),
                {
                    "constant_memory": True,
                    "tmpdir": str(folder),
                    "strings_to_formulas": False,
                    "strings_to_urls": False,
                    "strings_to_numbers": False,
                },
            )
            self.formats = Formats(self.book)
        self.registers: list[RegisterWriter] = []
        self.extra: list[tuple[str, str]] = []  # (path, format) of the other files

    def register(self, register: Register, columns: tuple[Column, ...]) -> RegisterWriter:
        sheet = self.book.add_worksheet(register.title) if self.book is not None else None
        writer = RegisterWriter(register, columns, self.folder, sheet, self.formats, self.kinds)
        self.registers.append(writer)
        return writer

    def add_file(self, name: str, data: bytes, fmt: str) -> None:
        (self.folder / name).write_bytes(data)
        self.extra.append((name, fmt))

    def close(self, title: str = "") -> None:
        """Every file complete on disk."""
        for writer in self.registers:
            writer.close()
        if self.book is not None:
            self.book.set_properties({"title": title, "comments": "巡察数据导出包"})
            self.book.close()

    def finish(self, meta: dict[str, Any]) -> tuple[Path, list[ManifestFile]]:
        """Closes the files, writes manifest.json and zips it all; the loose files go."""
        self.close(str(meta.get("title", "")))
        files: list[ManifestFile] = []

        def entry(name: str, fmt: str, **more: Any) -> None:
            path = self.folder / name
            files.append(
                ManifestFile(
                    path=name,
                    format=fmt,
                    bytes=path.stat().st_size,
                    sha256=sha256_of(path),
                    **more,
                )
            )

        if self.book is not None:
            entry(self.XLSX, "xlsx", rows=sum(w.rows for w in self.registers))
        for w in self.registers:
            for path, fmt in w.paths:
                entry(path.name, fmt, content=w.register.name, title=w.register.title, rows=w.rows)
        for name, fmt in self.extra:
            entry(name, fmt)
        manifest = {
            **meta,
            "files": [f.model_dump(exclude_none=True) for f in files],
            "sheets": [
                {"name": w.register.title, "content": w.register.name, "rows": w.rows}
                for w in self.registers
            ],
        }
        (self.folder / "manifest.json").write_bytes(
            orjson.dumps(manifest, option=orjson.OPT_INDENT_2)
        )
        zipped = self.folder.with_suffix(".zip")
        with zipfile.ZipFile(zipped, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            zf.write(self.folder / "manifest.json", "manifest.json")
            for f in files:
                zf.write(self.folder / f.path, f.path)
        shutil.rmtree(self.folder, ignore_errors=True)
        return zipped, files

    def abandon(self) -> None:
        for writer in self.registers:
            with contextlib.suppress(OSError, ValueError):
                writer.close()
        shutil.rmtree(self.folder, ignore_errors=True)
