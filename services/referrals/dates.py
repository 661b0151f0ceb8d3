"""The office's calendar: days are Asia/Shanghai days, whatever the server's time zone."""

from __future__ import annotations

import calendar
from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends

SHANGHAI = ZoneInfo("Asia/Shanghai")


def today() -> date:
    return datetime.now(SHANGHAI).date()


def current_day() -> date:
    """Today, as a dependency of the routes that act on "today" (the escalation run): a test
    moves this clock with `app.dependency_overrides[current_day]`."""
    return today()


Today = Annotated[date, Depends(current_day)]


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it has no such day."""
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
