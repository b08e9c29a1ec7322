"""Per-day totals of the dashboard's period figures, kept by PostgreSQL as the data is written.

Why: over a year (and the year before it, to compare) the period figures read every closing, quote,
invoice, payment, finished task and new institution of two years: about 500,000 index entries at our
benchmark's volume, 146 ms however well indexed. Per-day totals make the cost depend on the number of
days instead (730 per metric for scope "everyone"), whatever the volume.

How they stay exact (migration 0021 holds the SQL):

- statement-level triggers on opportunities, quotes, invoices, payments, tasks and institutions insert,
  in the writing transaction, the signed change each statement makes to each metric of each local day,
  for everyone, for the record's team and for its salesperson (so a change of salesperson or team moves
  the totals too). Deltas are inserted, never updated in place: concurrent writers never wait on a
  shared row. `compact()` (the `analytics_compact` job) merges them;
- a client's first invoice date is kept beside them (`analytics_first_invoices`) for "new clients";
- the local day is read in the zone the totals were built in (`analytics_zone()` in the database).
  When it is not the organisation's zone (just migrated, the setting or TIMEZONE changed) the dashboard
  computes from the rows, exactly, as it does on SQLite, until `ensure()` rebuilds them: after the
  migrations run, and in the transaction that changes the organisation's time zone.

Anything that writes these tables without firing triggers (`TRUNCATE`, `COPY` with triggers disabled)
must call `rebuild()` afterwards, as the benchmark generators do.
"""

from __future__ import annotations

import functools
import logging
import uuid
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from crm_app.analytics.models import AnalyticsDaily
from crm_app.platform import events
from crm_app.platform.db import fetch_all, is_postgresql, unit_of_work
from crm_app.platform.models.base import table_of
from crm_app.platform.scheduler import Job, cron
from crm_app.platform.settings import section_names, timezone

log = logging.getLogger(__name__)

NIL = uuid.UUID(int=0)  # the subject of the "everyone" rows
_D = table_of(AnalyticsDaily).c

#: The dashboard's period figures (the labels `dashboard._period_kpis` reads, without `_cur`/`_prev`)
#: as (label, metric, column): counts are read from `count`, money (in cents) from `amount`.
FIGURES: tuple[tuple[str, str, str], ...] = (
    ("won", "won", "count"),
    ("lost", "lost", "count"),
    ("won_cents", "won", "amount"),
    ("sent", "quote_sent", "count"),
    ("sent_accepted", "quote_sent_accepted", "count"),
    ("accepted", "quote_accepted", "count"),
    ("invoiced", "invoiced", "amount"),
    ("credited", "credited", "amount"),
    ("collected", "collected", "amount"),
    ("tasks_done", "task_done", "count"),
    ("new_institutions", "institution_created", "count"),
    ("new_clients", "client_first", "count"),
)


def is_available(session: Session) -> bool:
    """True on PostgreSQL once migration 0021 has installed the triggers."""
    if not is_postgresql(session):
        return False
    found = session.connection().execute(sa.text("SELECT to_regproc('analytics_rebuild') IS NOT NULL")).scalar()
    return bool(found)


def built_zone(session: Session) -> str | None:
    """The time zone the totals were built in (None: never built)."""
    zone = session.connection().execute(sa.text("SELECT analytics_zone()")).scalar()
    return None if zone is None else str(zone)


def rebuild(session: Session, zone: str) -> None:
    """Recompute every total from the rows, their days read in `zone` (a few seconds at 100,000
    institutions; writers wait meanwhile)."""
    session.flush()
    session.connection().execute(sa.text("SELECT analytics_rebuild(:zone)"), {"zone": zone})
    log.info("dashboard totals rebuilt", extra={"zone": zone})


def ensure(session: Session) -> bool:
    """Rebuild the totals when they were not built in the organisation's time zone; True if it did."""
    if not is_available(session) or "organisation" not in section_names():
        return False  # (a script that migrates without wiring the settings: the figures come from the rows)
    zone = timezone(session)
    if built_zone(session) == zone:
        return False
    rebuild(session, zone)
    return True


def ensure_now() -> bool:
    """`ensure()` in its own unit of work (after the migrations)."""
    with unit_of_work() as session:
        return ensure(session)


def compact(session: Session) -> str:
    """Merge the deltas of each metric, day and subject into one row (the job)."""
    if not is_available(session):
        return "nothing to compact (PostgreSQL only)"
    merged = session.connection().execute(sa.text("SELECT analytics_compact()")).scalar()
    return f"{merged} rows merged"


def _follow_time_zone(session: Session, event: events.SettingsChanged) -> None:
    """The organisation's section changed: if its time zone did, re-day the totals in the same
    transaction (until it commits, other requests still compute in the old zone consistently)."""
    if event.section == "organisation":
        ensure(session)


SUBSCRIBERS = (events.Subscription(events.SettingsChanged, _follow_time_zone),)

JOBS = (
    Job(
        "analytics_compact",
        cron(minute="*/10"),
        compact,
        "Merge the dashboard's per-day totals written since the last run (PostgreSQL).",
    ),
)


# --------------------------------------------------------------------------------------------
# Reading them


def _figure(metric: str, column: str, days: tuple[Any, Any]) -> Any:
    value = _D.count if column == "count" else _D.amount * 100
    inside = sa.and_(_D.metric == metric, _D.day.between(*days))
    return sa.func.coalesce(sa.func.sum(value).filter(inside), 0)


@functools.cache
def period_part() -> Any:
    """The period figures of both windows from the totals of one scope's subject, and the zone they are
    in (`rollup_zone`): bound parameters `rollup_scope`, `rollup_subject`, and the windows' days
    (`cur_first` .. `cur_last`, `prev_first` .. `prev_last`)."""
    windows: dict[str, tuple[Any, Any]] = {
        key: (sa.bindparam(f"{key}_first"), sa.bindparam(f"{key}_last")) for key in ("cur", "prev")
    }
    columns = [
        _figure(metric, column, days).label(f"{label}_{key}")
        for key, days in windows.items()
        for label, metric, column in FIGURES
    ]
    return sa.select(*columns, sa.func.analytics_zone().label("rollup_zone")).where(
        _D.scope == sa.bindparam("rollup_scope"),
        _D.subject_id == sa.bindparam("rollup_subject"),
        _D.day.between(windows["prev"][0], windows["cur"][1]),
    )


def subject(scope: str, actor_id: uuid.UUID, team_id: uuid.UUID | None) -> dict[str, Any]:
    """The bound parameters naming the rows of a dashboard scope (`all`, `team`, `own`)."""
    if scope == "own":
        return {"rollup_scope": "own", "rollup_subject": actor_id}
    if scope == "team":
        return {"rollup_scope": "team", "rollup_subject": team_id}
    return {"rollup_scope": "all", "rollup_subject": NIL}


def cash_by_month(
    session: Session, spans: list[tuple[date, date]], subject_params: dict[str, Any]
) -> list[tuple[int, int]] | None:
    """(invoiced minus credited, collected) in cents for each span of days, from the totals of one
    scope's subject; None when the totals were never built. These metrics are dated by the documents'
    own dates (issue date, payment date), whatever the time zone."""
    invoiced = sa.case((_D.metric == "credited", -_D.amount), else_=_D.amount) * 100
    columns = []
    for low, high in spans:
        inside = _D.day.between(low, high)
        columns += [
            sa.func.coalesce(sa.func.sum(invoiced).filter(inside, _D.metric.in_(("invoiced", "credited"))), 0),
            sa.func.coalesce(sa.func.sum(_D.amount * 100).filter(inside, _D.metric == "collected"), 0),
        ]
    statement = sa.select(*columns, sa.func.analytics_zone()).where(
        _D.scope == subject_params["rollup_scope"],
        _D.subject_id == subject_params["rollup_subject"],
        _D.day.between(spans[0][0], spans[-1][1]),
    )
    row = fetch_all(session, statement)[0]
    if row[-1] is None:
        return None
    return [(int(row[2 * i]), int(row[2 * i + 1])) for i in range(len(spans))]
