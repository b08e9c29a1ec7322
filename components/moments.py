"""Moments as the user sees and types them: the signed-in user's time zone, and the conversions between
a stored (aware, UTC) moment and what the date and time inputs of a form hold in that zone."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from nicegui import app

from components.backend import call
from crm_app.accounts import users
from crm_app.platform.config import get_settings

ZONE_KEY = "timezone"
END_OF_DAY = time(23, 59, 59)  # a due date given without a time


def user_zone() -> Awaitable[str]:
    """The signed-in user's time zone (their profile's, else the configured one), read once per tab.
    The tab is taken when this is called, so it may be awaited inside `asyncio.gather`."""
    storage = app.storage.client
    profile_read = None if isinstance(storage.get(ZONE_KEY), str) else call(users.get_profile)

    async def zone() -> str:
        if profile_read is not None:
            profile = await profile_read
            storage[ZONE_KEY] = profile.timezone if profile is not None else get_settings().timezone
        return str(storage[ZONE_KEY])

    return zone()


def local_input(value: datetime | None, zone: str) -> str:
    """A moment as a `datetime-local` input shows it (`2026-03-04T14:30`) in `zone`."""
    return value.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M") if value is not None else ""


def from_local_input(text: str | None, zone: str) -> datetime | str | None:
    """What a `datetime-local` input holds, as an aware moment in `zone`; text that is not a date and time
    is returned as is, for the service to refuse it next to the field."""
    raw = (text or "").strip()
    if not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return raw
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=ZoneInfo(zone))


def split_moment(value: datetime | None, zone: str) -> tuple[str, str]:
    """A stored moment as separate date (YYYY-MM-DD) and time (HH:MM, empty for "end of day") inputs."""
    if value is None:
        return "", ""
    local = value.astimezone(ZoneInfo(zone))
    return local.date().isoformat(), "" if local.time() == END_OF_DAY else local.strftime("%H:%M")


def join_moment(day: str | None, clock: str | None, zone: str) -> datetime | str | None:
    """The date and time typed in separate inputs, as an aware moment in `zone` (a date alone: its end).
    What cannot be read goes to the service as typed, to be refused next to the date."""
    day, clock = (day or "").strip(), (clock or "").strip()
    if not day:
        return clock or None
    try:
        moment = (
            datetime.fromisoformat(f"{day}T{clock}") if clock else datetime.combine(date.fromisoformat(day), END_OF_DAY)
        )
    except ValueError:
        return f"{day} {clock}".strip()
    return moment.replace(tzinfo=ZoneInfo(zone))
