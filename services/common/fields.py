"""Field types and helpers for requests, so that validation does what the OpenAPI says."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Query
from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field, WithJsonSchema

_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


def _iso_text(value: Any) -> Any:
    """A date or time comes as ISO 8601 text, as the OpenAPI says (`format: date`,
    `date-time`). Pydantic alone would also take a number, or a string of one, as seconds
    since 1970: `0` would be 1970-01-01."""
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("give an ISO 8601 date or time, not a number")
    return value


Day = Annotated[date, BeforeValidator(_iso_text)]
"""A calendar day in a request: `YYYY-MM-DD`."""

Instant = Annotated[datetime, BeforeValidator(_iso_text)]
"""A point in time in a request: ISO 8601 (with an offset)."""

AwareInstant = Annotated[AwareDatetime, BeforeValidator(_iso_text)]
"""A point in time in a request that must carry its offset."""

UpdatedSince = Annotated[
    AwareInstant | None,
    Query(
        description="only what changed at or after this instant, with its offset (delta sync: "
        "pass the previous page's `sync_from`; a record changed exactly then may come back "
        "twice; lists that keep removals name them in `deleted`)"
    ),
]
"""The delta-sync filter of the lists. A time without an offset is refused: in which zone it
was meant (the phone's, Asia/Shanghai, UTC) is a guess that loses or repeats records."""


YUAN_PATTERN = r"^[0-9]{1,12}(\.[0-9]{1,2})?$"
_YUAN = re.compile(YUAN_PATTERN)


def _yuan_text(value: Any) -> Any:
    """Money comes as a decimal string in yuan with at most two places, never a JSON number
    (a float would round)."""
    if isinstance(value, Decimal):
        return value
    if not isinstance(value, str):
        raise ValueError('a sum in yuan is a decimal string ("1234.50"), not a number')
    if not _YUAN.fullmatch(value):
        raise ValueError('a sum in yuan: digits with at most two decimal places ("1234.50")')
    return value


Yuan = Annotated[
    Decimal,
    BeforeValidator(_yuan_text),
    Field(ge=0, max_digits=14, decimal_places=2),
    WithJsonSchema({"type": "string", "pattern": YUAN_PATTERN, "examples": ["1234.50"]}),
]
"""A sum of money in a request, in yuan: `"1234.50"`."""


def omit_null(schema: dict[str, Any]) -> None:
    """`json_schema_extra` of a PATCH field typed `X | None` that may be left out but not set to
    null (a validator refuses None): its schema keeps `X` alone, without the `null` default."""
    if "default" in schema and schema["default"] is None:
        del schema["default"]
    options = schema.pop("anyOf", None)
    if options is None:
        return
    kept = [o for o in options if o.get("type") != "null"]
    if len(kept) == 1:
        schema.update(kept[0])
    else:
        schema["anyOf"] = kept


def refuse_nulls(model: BaseModel, fields: tuple[str, ...]) -> None:
    """In a PATCH model's `model_validator(mode="after")`: these may be left out, but not set
    to null (and their schemas, by `omit_null`, do not offer null)."""
    nulls = [f for f in fields if f in model.model_fields_set and getattr(model, f) is None]
    if nulls:
        raise ValueError(f"{', '.join(nulls)} cannot be null")
