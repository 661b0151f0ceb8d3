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
from sqlalchemy import Select, tuple_
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
