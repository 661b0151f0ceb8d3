"""Optimistic concurrency: every mutable row has a `version` (SQLAlchemy's version_id_col, bumped
on each UPDATE); reads send it as a strong ETag and PATCH/DELETE honour If-Match (412 if stale).
A concurrent update that slips between read and write is caught by the version check in the
UPDATE itself and answered 412 too (see errors.install_problem_handlers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Header, Response

from services.common.errors import PreconditionFailed, PreconditionRequired


def version_at(updated_at: datetime) -> int:
    """An ETag version from a row's `updated_at` (every change sets it): its microseconds."""
    return (updated_at - _EPOCH) // timedelta(microseconds=1)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def etag(version: int) -> str:
    return f'"v{version}"'


IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="the ETag you read; the change is refused with 412 if the resource changed",
        max_length=200,
    ),
]


def check_if_match(if_match: str | None, version: int, *, required: bool = False) -> None:
    """`*` or the current ETag: proceed; another ETag: 412. No header: 428 when `required`
    (the findings service, whose offline clients must not overwrite each other), else the
    last writer wins."""
    if if_match is None:
        if required:
            raise PreconditionRequired(
                "send If-Match with the ETag you read", current_etag=etag(version)
            )
        return
    tags = {t.strip().removeprefix("W/") for t in if_match.split(",")}
    if "*" in tags or etag(version) in tags:
        return
    raise PreconditionFailed(
        f"If-Match {if_match} does not match the current version {etag(version)}",
        current_etag=etag(version),
    )


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)
