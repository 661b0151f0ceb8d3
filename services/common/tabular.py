"""Reading the tables offices send: CSV (UTF-8 with or without BOM, or GB18030/GBK; comma or
tab) and XLSX, row by row without holding the file in memory. Rows come out as
(row number as a spreadsheet user counts it, {header: text}); headers are stripped."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from typing import IO

from services.common.errors import UnsupportedMediaType, ValidationFailed

SNIFF_BYTES = 64 * 1024
XLSX_MAGIC = b"PK\x03\x04"

Row = tuple[int, dict[str, str]]


def detect_encoding(head: bytes) -> str:
    """UTF-8 when the head decodes as UTF-8 (a BOM is dropped), else GB18030 (a superset of
    GBK and GB2312, what Chinese offices' Excel writes as "CSV")."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        return "gb18030"


def read_rows(stream: IO[bytes], filename: str = "") -> Iterator[Row]:
    head = stream.read(SNIFF_BYTES)
    stream.seek(0)
    if head.startswith(XLSX_MAGIC) or filename.lower().endswith(".xlsx"):
        yield from _xlsx_rows(stream)
        return
    if b"\x00" in head:
        raise UnsupportedMediaType("the file is neither CSV text nor an XLSX workbook")
    yield from _csv_rows(stream, detect_encoding(head), head)


def _csv_rows(stream: IO[bytes], encoding: str, head: bytes) -> Iterator[Row]:
    sample = head.decode(encoding, errors="ignore")
    first_line = sample.splitlines()[0] if sample else ""
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    text = io.TextIOWrapper(stream, encoding=encoding, newline="", errors="strict")
    reader = csv.reader(text, delimiter=delimiter)
    try:
        header = next(reader, None)
        if header is None:
            raise ValidationFailed("the file is empty", errors=[_file_error("empty file")])
        names = [h.strip() for h in header]
        for number, values in enumerate(reader, start=2):
            if not any(v.strip() for v in values):
                continue
            yield (
                number,
                {n: (values[i].strip() if i < len(values) else "") for i, n in enumerate(names)},
            )
    except UnicodeDecodeError as exc:
        raise ValidationFailed(
            f"the file is not valid {encoding} text", errors=[_file_error(f"not {encoding} text")]
        ) from exc
    finally:
        text.detach()


def _xlsx_rows(stream: IO[bytes]) -> Iterator[Row]:
    from openpyxl import load_workbook  # imported lazily: only XLSX uploads pay for it

    try:
        workbook = load_workbook(stream, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged workbook
        raise ValidationFailed(
            "the workbook cannot be read", errors=[_file_error("damaged or not an XLSX workbook")]
        ) from exc
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise ValidationFailed("the workbook is empty", errors=[_file_error("empty sheet")])
        names = [str(h).strip() if h is not None else "" for h in header]
        for number, values in enumerate(rows, start=2):
            cells = ["" if v is None else _cell_text(v) for v in values]
            if not any(cells):
                continue
            yield number, {n: (cells[i] if i < len(cells) else "") for i, n in enumerate(names)}
    finally:
        workbook.close()


def _cell_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "date") and hasattr(value, "isoformat"):
        return value.isoformat()[:10] if getattr(value, "hour", 0) == 0 else value.isoformat()
    return str(value).strip()


def _file_error(message: str) -> dict[str, str]:
    return {"field": "file", "message": message, "code": "file_invalid"}
