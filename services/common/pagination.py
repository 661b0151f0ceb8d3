"""Keyset (cursor) pagination over (created_at, id): stable under inserts, no OFFSET scans.

A cursor is opaque to clients: base64url of the last row's sort key. Lists also accept
`updated_since` so a mobile client can fetch only what changed since its last sync.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from services.common.errors import ValidationFailed

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        default=None, description="pass as `cursor` to get the next page; absent on the last page"
    )
    deleted: list[uuid.UUID] | None = Field(
        default=None, description="with `updated_since`: ids deleted since then (delta sync)"
    )
    sync_from: datetime | None = Field(
        default=None,
        description="on the first page of a list that supports delta sync: send it as "
        "`updated_since` next time. Everything changed before it is in this answer (or was "
        "deleted); a change still being written when this was answered is at or after it. "
        "Use it rather than the newest `updated_at` seen, which can skip such a change.",
    )


class PageParams(BaseModel):
    cursor: str | None = None
    limit: int = 50


async def page_params(
    cursor: Annotated[str | None, Query(max_length=200, description="from `next_cursor`")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="items per page")] = 50,
) -> PageParams:
    return PageParams(cursor=cursor, limit=limit)


Paging = Annotated[PageParams, Depends(page_params)]


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    raw = orjson.dumps([created_at.isoformat(), str(row_id)])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, rid = orjson.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(created, str) or not isinstance(rid, str):
            raise TypeError("cursor parts must be strings")
        parsed = datetime.fromisoformat(created)
        if parsed.tzinfo is None:
            raise ValueError("naive timestamp")
        return parsed, uuid.UUID(rid)
    except (ValueError, TypeError) as exc:
        raise ValidationFailed(
            "cursor is not one this API issued",
            errors=[
                {"field": "query.cursor", "message": "invalid cursor", "code": "cursor_invalid"}
            ],
        ) from exc


def keyset(
    stmt: Select[Any],
    params: PageParams,
    created_col: InstrumentedAttribute[datetime],
    id_col: InstrumentedAttribute[uuid.UUID],
) -> Select[Any]:
    """Applies the cursor, the order and limit+1 (the extra row tells if a next page exists)."""
    if params.cursor:
        created, rid = decode_cursor(params.cursor)
        stmt = stmt.where(tuple_(created_col, id_col) > tuple_(created, rid))
    return stmt.order_by(created_col, id_col).limit(params.limit + 1)


def make_page(rows: Sequence[Any], params: PageParams, item: type[M]) -> Page[M]:
    """Turns the limit+1 rows of `keyset` into a page; rows need `created_at` and `id`."""
    more = len(rows) > params.limit
    rows = rows[: params.limit]
    next_cursor = encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
    return Page[M](items=[item.model_validate(r) for r in rows], next_cursor=next_cursor)


# The oldest start of any transaction of this role that is still open, else now: every row whose
# `updated_at` (= now(), the start of the transaction that wrote it) is earlier has committed.
# A long transaction can commit a row stamped before a newer one a client has already seen;
# a watermark taken from the rows seen would skip it, this one cannot. Sessions of the same
# role are visible in pg_stat_activity without any extra privilege.
_WATERMARK = text(
    "SELECT least(now(), coalesce(min(xact_start), now())) FROM pg_stat_activity "
    "WHERE datname = current_database() AND usename = current_user "
    "AND xact_start IS NOT NULL AND pid <> pg_backend_pid()"
)


async def sync_watermark(session: AsyncSession) -> datetime:
    """Where the next delta sync must start from; taken before the rows are read."""
    mark: datetime = (await session.execute(_WATERMARK)).scalar_one()
    return mark
