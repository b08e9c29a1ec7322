"""A week calendar: seven day columns by hours, each event placed by its start and end in the user's
time zone (events that overlap share the column side by side; an event over midnight shows on each
day it covers). The page loads the week's events in SQL and hands them over; this only lays them out."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel import dates as babel_dates
from nicegui import ui

from crm_app.platform.i18n import current_locale
from crm_app.platform.i18n import gettext as _

HOUR_HEIGHT = 48  # pixels
DAY_START, DAY_END = 8, 19  # hours always shown; the grid widens to fit earlier or later events


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def parse_week(value: str | None, today: date) -> date:
    """The Monday of an ISO week (`2026-W10`) or of the week holding a date (`2026-03-04`); this week
    when the value is missing or unreadable."""
    text = (value or "").strip()
    try:
        if "W" in text.upper():
            year, week = text.upper().split("-W")
            return date.fromisocalendar(int(year), int(week), 1)
        if text:
            return monday_of(date.fromisoformat(text))
    except ValueError:
        pass
    return monday_of(today)


def week_param(monday: date) -> str:
    year, week, _day = monday.isocalendar()
    return f"{year}-W{week:02d}"


def week_window(monday: date, zone: str) -> tuple[datetime, datetime]:
    """The week as an aware interval [Monday 00:00, next Monday 00:00) in `zone`."""
    tz = ZoneInfo(zone)
    return (
        datetime.combine(monday, time.min, tzinfo=tz),
        datetime.combine(monday + timedelta(days=7), time.min, tzinfo=tz),
    )


@dataclass(frozen=True)
class CalendarEvent:
    id: uuid.UUID
    title: str
    starts_at: datetime
    ends_at: datetime
    detail: str = ""
    color: str = "primary"
    struck: bool = False  # cancelled: shown crossed out


@dataclass(frozen=True)
class Placed:
    """One event's piece on one day: minutes from midnight, and its lane among overlapping events."""

    event: CalendarEvent
    day: date
    start_minute: int
    end_minute: int
    lane: int = 0
    lanes: int = 1
    continues_before: bool = False
    continues_after: bool = False


def _pieces(event: CalendarEvent, days: list[date], tz: ZoneInfo) -> list[Placed]:
    start, end = event.starts_at.astimezone(tz), event.ends_at.astimezone(tz)
    pieces = []
    for day in days:
        day_start = datetime.combine(day, time.min, tzinfo=tz)
        day_end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
        if end <= day_start or start >= day_end:
            continue
        first, last = max(start, day_start), min(end, day_end)
        pieces.append(
            Placed(
                event,
                day,
                int((first - day_start).total_seconds() // 60),
                int((last - day_start).total_seconds() // 60),
                continues_before=start < day_start,
                continues_after=end > day_end,
            )
        )
    return pieces


def _lanes(pieces: list[Placed]) -> list[Placed]:
    """Give overlapping pieces of one day side-by-side lanes (a cluster shares its lane count)."""
    pieces = sorted(pieces, key=lambda p: (p.start_minute, -p.end_minute, p.event.title))
    placed: list[Placed] = []
    cluster: list[tuple[Placed, int]] = []
    cluster_end = -1

    def close_cluster() -> None:
        count = max((lane for _piece, lane in cluster), default=-1) + 1
        placed.extend(
            Placed(p.event, p.day, p.start_minute, p.end_minute, lane, count, p.continues_before, p.continues_after)
            for p, lane in cluster
        )

    for piece in pieces:
        if cluster and piece.start_minute >= cluster_end:
            close_cluster()
            cluster, cluster_end = [], -1
        busy = {lane for other, lane in cluster if other.end_minute > piece.start_minute}
        lane = next(i for i in range(len(cluster) + 1) if i not in busy)
        cluster.append((piece, lane))
        cluster_end = max(cluster_end, piece.end_minute)
    close_cluster()
    return placed


def lay_out(events: Iterable[CalendarEvent], monday: date, zone: str) -> dict[date, list[Placed]]:
    """Each day of the week starting `monday` with the pieces of events it shows."""
    tz = ZoneInfo(zone)
    days = [monday + timedelta(days=i) for i in range(7)]
    by_day: dict[date, list[Placed]] = {day: [] for day in days}
    for event in events:
        for piece in _pieces(event, days, tz):
            by_day[piece.day].append(piece)
    return {day: _lanes(pieces) for day, pieces in by_day.items()}


def _hours(by_day: dict[date, list[Placed]]) -> tuple[int, int]:
    starts = [p.start_minute // 60 for pieces in by_day.values() for p in pieces]
    ends = [-(-p.end_minute // 60) for pieces in by_day.values() for p in pieces]
    return min([DAY_START, *starts]), max([DAY_END, *ends])


class WeekCalendar:
    """The grid; `show(monday, zone, events)` draws a week, `on_open(event_id)` is called on a click."""

    def __init__(self, on_open: Callable[[uuid.UUID], Any]) -> None:
        self.on_open = on_open
        self.monday: date | None = None
        self.root = ui.element("div").classes("w-full overflow-x-auto").mark("week-calendar")

    def show(self, monday: date, zone: str, events: Iterable[CalendarEvent], *, today: date | None = None) -> None:
        self.monday = monday
        by_day = lay_out(events, monday, zone)
        first_hour, last_hour = _hours(by_day)
        height = (last_hour - first_hour) * HOUR_HEIGHT
        locale = current_locale()
        self.root.clear()
        with (
            self.root,
            ui.element("div")
            .classes("grid min-w-[56rem]")
            .style("grid-template-columns: 3.5rem repeat(7, minmax(0, 1fr))"),
        ):
            ui.element("div")
            for day in by_day:
                label = babel_dates.format_date(day, "EEE d MMM", locale=locale)
                ui.label(label).classes(
                    "text-center text-weight-medium q-pb-xs" + (" text-primary" if day == today else "")
                ).mark(f"calendar-head-{day}")
            with ui.element("div").classes("relative").style(f"height: {height}px"):
                for hour in range(first_hour, last_hour):
                    moment = time(hour, 0)
                    ui.label(babel_dates.format_time(moment, "short", locale=locale)).classes(
                        "absolute text-caption text-grey-7 q-pr-xs text-right w-full"
                    ).style(f"top: {(hour - first_hour) * HOUR_HEIGHT - 8}px")
            for day, pieces in by_day.items():
                self._day(day, pieces, (first_hour, last_hour), today=today)

    def _day(self, day: date, pieces: list[Placed], hours: tuple[int, int], *, today: date | None) -> None:
        first_hour, last_hour = hours
        height = (last_hour - first_hour) * HOUR_HEIGHT
        column = (
            ui.element("div")
            .classes("relative border-l" + (" bg-blue-1" if day == today else ""))
            .style(f"height: {height}px")
            .mark(f"calendar-day calendar-day-{day.isoformat()}")
        )
        with column:
            for hour in range(first_hour, last_hour):
                ui.element("div").classes("absolute w-full border-t border-grey-3").style(
                    f"top: {(hour - first_hour) * HOUR_HEIGHT}px"
                )
            for piece in pieces:
                self._event(piece, first_hour)

    def _event(self, piece: Placed, first_hour: int) -> None:
        event = piece.event
        top = (piece.start_minute - first_hour * 60) * HOUR_HEIGHT / 60
        tall = max((piece.end_minute - piece.start_minute) * HOUR_HEIGHT / 60, 18)
        width = 100 / piece.lanes
        box = (
            ui.element("div")
            .classes(
                f"absolute rounded-borders q-px-xs overflow-hidden cursor-pointer "
                f"bg-{event.color} text-white text-caption"
            )
            .style(
                f"top: {top}px; height: {tall}px; left: calc({piece.lane * width}% + 2px); width: calc({width}% - 4px)"
            )
            .mark(f"calendar-event calendar-event-{event.id}")
        )
        box.on("click", lambda: self.on_open(event.id))
        with box:
            ui.label(event.title).classes("text-weight-medium ellipsis" + (" line-through" if event.struck else ""))
            if event.detail:
                ui.label(event.detail).classes("ellipsis")
        box.tooltip(" · ".join(p for p in (event.title, event.detail) if p))


def week_title(monday: date) -> str:
    """ "Week 10 · 2 – 8 Mar 2026" in the current locale."""
    locale = current_locale()
    sunday = monday + timedelta(days=6)
    span = babel_dates.format_interval(monday, sunday, "yMMMd", locale=locale)
    return _("Week {number} · {span}", number=monday.isocalendar()[1], span=span)
