"""PostgreSQL's binary COPY format (`COPY ... FROM STDIN (FORMAT binary)`) for a block of
rows given column by column, built with pyarrow's compute kernels (in C, no loop per row).

PostgreSQL then reads each value as it is stored (a length and the bytes, a date as its day
number, a decimal as its base-10000 digits) instead of finding line ends, undoing escapes and
parsing numbers and dates: about a quarter of its work on a dataset's rows (bench/README.md,
issue 7). And nothing in a text value needs escaping.

The format (PostgreSQL documentation, "COPY", Binary Format): a signature and two 32-bit
words, then per row a 16-bit count of fields and per field a 32-bit length (-1 for NULL)
followed by that many bytes, and a 16-bit -1 at the end; integers in network byte order. The
`pgpq` library encodes Arrow columns so but has no encoder for `numeric`.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"
_BIN = pa.binary()
_NULL = b"\xff\xff\xff\xff"  # a field's length of -1
_DAY_2000 = 10_957  # PostgreSQL counts days from 2000-01-01, Arrow from 1970-01-01
# numeric(14, 2) as 4 base-10000 digits, the first of weight 10000^2: ndigits, weight, sign
# (positive), display scale; PostgreSQL drops leading and trailing zero digits as it reads
_NUMERIC = b"\x00\x00\x00\x10" + b"\x00\x04\x00\x02\x00\x00\x00\x02"


class Kind(enum.Enum):
    INT4 = "int4"  # an integer array
    TEXT = "text"  # text, varchar, char: string or binary (UTF-8)
    NUMERIC = "numeric"  # numeric(14, 2): decimal text as `values.amount` gives it
    DATE = "date"  # date32, or ISO 8601 text
    JSONB = "jsonb"  # JSON text


def be32(numbers: Any) -> Any:
    """32-bit integers as 4 bytes each, big-endian (a binary array)."""
    return _big_endian(pc.cast(numbers, pa.uint32(), safe=False), 4)


def _big_endian(unsigned: Any, width: int) -> Any:
    little = pa.Array.from_buffers(
        pa.binary(width), len(unsigned), [None, unsigned.buffers()[1]], offset=unsigned.offset
    )
    return pc.binary_reverse(little.cast(_BIN))


class _Row:
    """The pieces of a row, joined once: the binary arrays and constants in order, adjacent
    constants merged (each piece costs a step per row)."""

    def __init__(self, fields: int) -> None:
        self.pieces: list[Any] = []
        self.constant(fields.to_bytes(2, "big"))

    def constant(self, value: bytes) -> None:
        if self.pieces and isinstance(self.pieces[-1], bytes):
            self.pieces[-1] += value
        else:
            self.pieces.append(value)

    def array(self, value: Any) -> None:
        self.pieces.append(value)

    def joined(self) -> Any:
        pieces = [pa.scalar(p, _BIN) if isinstance(p, bytes) else p for p in self.pieces]
        if len(pieces) == 1:  # (not for dataset rows: each has its line number)
            raise ValueError("a row of constants only")
        return pc.binary_join_element_wise(*pieces, pa.scalar(b"", _BIN))


def rows(columns: Sequence[tuple[Kind, Any]], count: int) -> Any:
    """`count` rows in binary COPY format, a binary array of one value a row (`data` gives
    the bytes, without the header and trailer); each column is a `pyarrow.Array` (not
    chunked) of `count` values (null: NULL) or None (NULL in every row). Numerics are those
    `values.amount` gives: not negative, at most 12 digits and 2 decimals."""
    if count == 0:
        return pa.array([], _BIN)
    row = _Row(len(columns))
    for kind, values in columns:
        if values is None or values.null_count == count:
            row.constant(_NULL)
        elif kind is Kind.INT4:
            _fixed(row, kind, pc.cast(values, pa.int32()))  # (out of range: ArrowInvalid)
        elif kind is Kind.TEXT or kind is Kind.JSONB:
            _text(row, kind, values)
        else:
            _fixed(row, kind, values)
    return row.joined()


def _text(row: _Row, kind: Kind, values: Any) -> None:
    values = values.cast(_BIN)
    length = pc.binary_length(values)
    if kind is Kind.JSONB:  # the jsonb binary format: a version byte, then the JSON text
        length = pc.add(length, 1)
    if values.null_count:
        row.array(be32(pc.fill_null(length, -1)))
        if kind is Kind.JSONB:
            row.array(pc.if_else(pc.is_valid(values), pa.scalar(b"\x01", _BIN), b""))
        row.array(pc.fill_null(values, b""))
    else:
        shortest, longest = pc.min_max(length).values()
        same_length = shortest == longest  # (ID numbers, often codes and accounts)
        if same_length and pc.all(pc.equal(values, values[0])).as_py():
            # the same value in every row (a programme's or a bank's name, a unit): a constant
            row.constant(shortest.as_py().to_bytes(4, "big"))
            if kind is Kind.JSONB:
                row.constant(b"\x01")
            row.constant(values[0].as_py())
            return
        if same_length:
            row.constant(shortest.as_py().to_bytes(4, "big"))
        else:
            row.array(be32(length))
        if kind is Kind.JSONB:
            row.constant(b"\x01")
        row.array(values)


def _fixed(row: _Row, kind: Kind, values: Any) -> None:
    if kind is Kind.INT4:
        encoded = be32(pc.fill_null(values, 0))
        prefix = b"\x00\x00\x00\x04"
    elif kind is Kind.DATE:
        if not pa.types.is_date32(values.type):
            values = pc.cast(values.cast(pa.string()), pa.date32())
        days = pc.subtract(values.cast(pa.int32()), _DAY_2000)
        encoded = be32(pc.fill_null(days, 0))
        prefix = b"\x00\x00\x00\x04"
    else:
        if not pa.types.is_decimal(values.type):
            values = pc.cast(values.cast(pa.string()), pa.decimal128(14, 2))
        cents = pc.cast(pc.multiply(values, pa.scalar(100, pa.decimal128(3, 0))), pa.int64())
        cents = pc.fill_null(cents, 0)
        whole = pc.divide(cents, 100)
        fraction = pc.subtract(cents, pc.multiply(whole, 100))
        high = pc.divide(whole, 10_000)  # the digits of weight 10000^2 and 10000^1
        top = pc.divide(high, 10_000)
        first = pc.add(pc.shift_left(top, 16), pc.subtract(high, pc.multiply(top, 10_000)))
        units = pc.subtract(whole, pc.multiply(high, 10_000))
        second = pc.add(pc.shift_left(units, 16), pc.multiply(fraction, 100))
        digits = pc.bit_wise_or(pc.shift_left(first, 32), second)  # the 4 digits, 16 bits each
        encoded = _big_endian(pc.cast(digits, pa.uint64()), 8)
        prefix = _NUMERIC
    if values.null_count:
        valid = pc.is_valid(values)
        row.array(pc.if_else(valid, pa.scalar(prefix, _BIN), pa.scalar(_NULL, _BIN)))
        row.array(pc.if_else(valid, encoded, pa.scalar(b"", _BIN)))
    else:
        row.constant(prefix)
        row.array(encoded)


def data(values: Any) -> memoryview | bytes:
    """The values of a binary (or string) array end to end (not copied)."""
    if len(values) == 0:
        return b""
    first, last = bounds(values)
    return memoryview(values.buffers()[2].slice(first, last - first))


def bounds(values: Any) -> tuple[int, int]:
    """Where a binary (or string) array's values start and end in its data buffer."""
    n = len(values)
    offsets = pa.Array.from_buffers(
        pa.int32(), n + 1, [None, values.buffers()[1]], offset=values.offset
    )
    return offsets[0].as_py(), offsets[n].as_py()
