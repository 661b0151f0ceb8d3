"""The binary COPY encoder against PostgreSQL itself: what it reads back is what was meant,
for every kind of column, NULLs, empty text, the limits of numeric(14, 2) and of dates, and
text that the text format would have had to escape."""

from __future__ import annotations

import io
import json
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg
import pyarrow as pa
import pytest

from ops.stack import Database
from services.findings.crosschecks import copybinary
from services.findings.crosschecks.copybinary import Kind

TEXTS = ["", "a\tb", "line\nbreak\r\n", "back\\slash", 'quote"', "张三", "𠀀 emoji 😀", None]
AMOUNTS = ["0", "0.01", "0.1", "12", "10000.5", "100000000.00", "999999999999.99", None]
DATES = ["0001-01-01", "1999-12-31", "2000-01-01", "2000-01-02", "2024-02-29", "9999-12-31",
         "1970-01-01", None]  # fmt: skip
DOCS = [{"序号": "1"}, {"a": 'q"\\'}, {}, {"x": "\t"}, {"k": ""}, {"n": "张"}, {"z": "😀"}, None]
IDS = ["42128119800101001X"] * 7 + [None]
INTS = [0, -1, 2**31 - 1, -(2**31), None, 258, 1, 2]


async def _read_back(database: Database, columns: list[tuple[Kind, Any]], count: int) -> list[Any]:
    conn = await asyncpg.connect(database.urls["findings"].replace("+asyncpg", ""))
    try:
        async with conn.transaction():
            await conn.execute(
                "CREATE TEMPORARY TABLE t (n int, s text, c char(18), v varchar(20), "
                "a numeric(14, 2), d date, j jsonb, never text, i int)"
            )
            body = copybinary.data(copybinary.rows(columns, count))
            await conn.copy_to_table(
                "t",
                source=io.BytesIO(copybinary.HEADER + bytes(body) + copybinary.TRAILER),
                format="binary",
            )
            return [tuple(r) for r in await conn.fetch("SELECT * FROM t ORDER BY n")]
    finally:
        await conn.close()


async def test_every_kind_of_value_reads_back_as_meant(database: Database) -> None:
    count = len(TEXTS)
    columns = [
        (Kind.INT4, pa.array(range(count), pa.int32())),
        (Kind.TEXT, pa.array(TEXTS, pa.string())),
        (Kind.TEXT, pa.array(IDS, pa.binary())),  # of one length but for the NULL
        (Kind.TEXT, pa.array([t and t[:20] for t in TEXTS], pa.binary())),
        (Kind.NUMERIC, pa.array(AMOUNTS, pa.string())),
        (Kind.DATE, pa.array(DATES, pa.string())),
        (Kind.JSONB, pa.array([None if d is None else json.dumps(d) for d in DOCS])),
        (Kind.TEXT, None),
        (Kind.INT4, pa.array(INTS, pa.int64())),
    ]
    got = await _read_back(database, columns, count)
    assert [r[0] for r in got] == list(range(count))
    assert [r[1] for r in got] == TEXTS
    assert [r[2] for r in got] == IDS
    assert [r[4] for r in got] == [None if a is None else Decimal(a) for a in AMOUNTS]
    assert [r[5] for r in got] == [None if d is None else date.fromisoformat(d) for d in DATES]
    assert [None if r[6] is None else json.loads(r[6]) for r in got] == DOCS
    assert {r[7] for r in got} == {None}
    assert [r[8] for r in got] == INTS


async def test_columns_without_nulls_and_of_one_length(database: Database) -> None:
    """The constant pieces (a length the same in every row, a column without NULLs) merge
    into the row's other constants: the values must still land in their columns."""
    count = 3
    columns = [
        (Kind.INT4, pa.array([7, 8, 9], pa.int64())),
        (Kind.TEXT, pa.array(["abc", "def", "ghi"])),
        (Kind.TEXT, None),
        (Kind.TEXT, pa.array(["x", "yy", "zzz"])),
        (Kind.NUMERIC, pa.array(["1.5", "2", "3.25"])),
        (Kind.DATE, pa.array([date(2018, 5, 1), date(1949, 10, 1), date(2000, 1, 1)])),
        (Kind.JSONB, pa.array(['{"a":1}', '{"b":2}', '{"c":3}'])),
        (Kind.TEXT, None),
        (Kind.INT4, None),
    ]
    got = await _read_back(database, columns, count)
    assert got == [
        (7, "abc", None, "x", Decimal("1.50"), date(2018, 5, 1), '{"a": 1}', None, None),
        (8, "def", None, "yy", Decimal("2.00"), date(1949, 10, 1), '{"b": 2}', None, None),
        (9, "ghi", None, "zzz", Decimal("3.25"), date(2000, 1, 1), '{"c": 3}', None, None),
    ]


def test_an_integer_out_of_int4_is_refused_not_wrapped() -> None:
    with pytest.raises(pa.ArrowInvalid):
        copybinary.rows([(Kind.INT4, pa.array([2**31], pa.int64()))], 1)


def test_no_rows_is_no_bytes() -> None:
    assert copybinary.data(copybinary.rows([(Kind.INT4, pa.array([], pa.int32()))], 0)) == b""
