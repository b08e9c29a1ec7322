"""Ranges of local days (the organisation's time zone) as conditions on timestamp columns: a list
filtered "created from 1 March to 31 March" holds what happened on those days there, not in UTC."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from crm_app.platform.settings import organisation


def within_days(column: Any, first: date | None, last: date | None) -> list[Any]:
    """SQL conditions: `column` (a timestamp) falls on the days `first` to `last`, both included,
    in the organisation's time zone (none when neither end is set)."""
    if first is None and last is None:
        return []
    zone = ZoneInfo(organisation()["timezone"])
    conditions = []
    if first is not None:
        conditions.append(column >= datetime.combine(first, time.min, tzinfo=zone))
    if last is not None:
        conditions.append(column < datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone))
    return conditions
