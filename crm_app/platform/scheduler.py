"""APScheduler in the same process: the machinery only. Each area declares its jobs (a `JOBS` tuple of
`Job`) and `crm_app.bootstrap` registers them. Each job runs under a PostgreSQL advisory lock when
several instances share one database, and records its last run for /api/health and `jobs list`."""

from __future__ import annotations

import logging
import os
import socket
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import text
from sqlmodel import Session, select

from crm_app.platform.config import get_settings
from crm_app.platform.db import get_engine, unit_of_work
from crm_app.platform.logs import job_id_var
from crm_app.platform.models.base import table_of, utcnow
from crm_app.platform.models.jobs import JobRun

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Cron:
    """A cron schedule read in the configured time zone (DOMAIN: "times in the configured time
    zone"). The trigger is built when the scheduler starts: a CronTrigger made at import time would
    take the machine's zone, whatever the scheduler's."""

    fields: dict[str, Any]


def cron(**fields: Any) -> Cron:
    return Cron(fields)


class JobFailed(Exception):
    """Raised by a job that ran but could not do its work (every message refused, no SMTP server...):
    its outcome is "failed: <message>", and `opex-crm jobs run` exits non-zero with the message."""


@dataclass(frozen=True)
class Job:
    """A scheduled job as an area declares it: `func(session)` runs in its own unit of work on `trigger`
    (a `Cron` or any APScheduler trigger); `description` says what it does."""

    name: str
    trigger: Any
    func: Callable[[Session], Any]
    description: str


@dataclass
class _JobState:
    job: Job
    last_run_at: datetime | None = None
    last_outcome: str | None = None  # "ok", "skipped" (another instance holds the lock) or "error: ..."
    running: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


_REGISTRY: dict[str, _JobState] = {}
_scheduler: BackgroundScheduler | None = None
_zone_in_use: str | None = None


def _environment_zone() -> str:
    return get_settings().timezone


#: Where the jobs' time zone comes from: `crm_app.bootstrap` points it at the organisation's setting,
#: so that the hour a job runs at and the "today" it works on are read in the same zone.
_zone_source: Callable[[], str] = _environment_zone


def set_timezone_source(source: Callable[[], str]) -> None:
    global _zone_source
    _zone_source = source


def current_zone() -> str:
    """The zone the cron schedules are read in."""
    return _zone_source()


def register(*jobs: Job) -> None:
    """Make jobs known (idempotent: registering the same job again keeps its recorded runs)."""
    for job in jobs:
        state = _REGISTRY.get(job.name)
        if state is None or state.job != job:
            _REGISTRY[job.name] = _JobState(job)


@contextmanager
def _cluster_lock(name: str) -> Iterator[bool]:
    """True when this process may run the job now (always on SQLite: one process owns the file)."""
    engine = get_engine()
    if engine.dialect.name != "postgresql":
        yield True
        return
    key = zlib.crc32(f"opex-crm:job:{name}".encode())
    with engine.connect() as connection:
        acquired = bool(connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
        try:
            yield acquired
        finally:
            if acquired:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            connection.commit()


def run_job(name: str) -> str:
    """Run one job now (scheduler, `opex-crm jobs run`, tests); returns its outcome."""
    record = _REGISTRY[name]
    token = job_id_var.set(name)
    try:
        if not record.lock.acquire(blocking=False):
            return "skipped"
        record.running = True
        try:
            with _cluster_lock(name) as acquired:
                if not acquired:
                    outcome = "skipped"
                else:
                    started = utcnow()
                    try:
                        with unit_of_work() as session:
                            result = record.job.func(session)
                        outcome = "ok"
                        log.info("job finished", extra={"job": name, "result": result})
                    except JobFailed as failure:
                        outcome = f"failed: {failure}"
                        log.warning("job could not do its work", extra={"job": name, "reason": str(failure)})
                    except Exception as exc:
                        log.exception("job failed", extra={"job": name})
                        outcome = f"error: {type(exc).__name__}"
                    _record_run(name, started, outcome)
        except Exception as exc:  # the lock's connection or the run's record: the database is gone
            log.exception("job could not run", extra={"job": name})
            outcome = f"error: {type(exc).__name__}"
        finally:
            record.running = False
            record.lock.release()
        record.last_run_at, record.last_outcome = utcnow(), outcome
        return outcome

    finally:
        job_id_var.reset(token)


_INSTANCE = f"{socket.gethostname()}:{os.getpid()}"[:120]


def _record_run(name: str, started: datetime, outcome: str) -> None:
    """Remember the run in the database (one row per job), whichever instance ran it."""
    values = {"started_at": started, "finished_at": utcnow(), "outcome": outcome[:300], "instance": _INSTANCE}
    table = table_of(JobRun)
    with get_engine().begin() as connection:
        updated = connection.execute(table.update().where(table.c.name == name).values(**values)).rowcount
        if not updated:
            connection.execute(table.insert().values(name=name, **values))


def _trigger(job: Job, zone: str) -> Any:
    return CronTrigger(timezone=zone, **job.trigger.fields) if isinstance(job.trigger, Cron) else job.trigger


def start() -> None:
    """Start the background scheduler with every registered job (idempotent)."""
    global _scheduler, _zone_in_use
    if _scheduler is not None:
        return
    zone = current_zone()
    scheduler = BackgroundScheduler(
        timezone=zone, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600}
    )
    for record in _REGISTRY.values():
        job = record.job
        scheduler.add_job(
            run_job, _trigger(job, zone), args=[job.name], id=job.name, name=job.name, replace_existing=True
        )
    scheduler.start()
    _scheduler, _zone_in_use = scheduler, zone
    log.info("scheduler started", extra={"jobs": sorted(_REGISTRY), "timezone": zone})


def follow_timezone() -> bool:
    """Move the cron schedules to the current zone when it changed (the organisation's time zone was
    changed in the settings); True when they moved."""
    global _zone_in_use
    scheduler, zone = _scheduler, current_zone()
    if scheduler is None or zone == _zone_in_use:
        return False
    for record in _REGISTRY.values():
        if isinstance(record.job.trigger, Cron):
            scheduler.reschedule_job(record.job.name, trigger=_trigger(record.job, zone))
    _zone_in_use = zone
    log.info("scheduler moved to another time zone", extra={"timezone": zone})
    return True


def stop() -> None:
    """Stop taking new runs and wait for the running one to finish (graceful shutdown)."""
    global _scheduler, _zone_in_use
    if _scheduler is None:
        return
    _scheduler.shutdown(wait=True)
    _scheduler, _zone_in_use = None, None
    log.info("scheduler stopped")


def status() -> dict[str, Any]:
    state = "running" if _scheduler is not None and _scheduler.running else "stopped"
    jobs = []
    for record in _REGISTRY.values():
        job = _scheduler.get_job(record.job.name) if _scheduler is not None else None
        jobs.append(
            {
                "name": record.job.name,
                "next_run_at": job.next_run_time.isoformat() if job and job.next_run_time else None,
                "last_run_at": record.last_run_at.isoformat() if record.last_run_at else None,
                "last_outcome": record.last_outcome,
                "running": record.running,
            }
        )
    return {"state": state, "jobs": jobs}


def job_names() -> list[str]:
    return sorted(_REGISTRY)


@dataclass(frozen=True)
class JobView:
    """A job as `opex-crm jobs list` shows it: its schedule, its last run (by any instance) and its next."""

    name: str
    description: str
    schedule: str
    last_started_at: datetime | None
    last_outcome: str | None
    last_instance: str | None
    next_run_at: datetime | None


def describe(trigger: Any) -> str:
    """A schedule in a few words: cron fields ("minute=*/5", "hour=8 minute=0") or an interval."""
    if isinstance(trigger, Cron):
        return "cron " + " ".join(f"{key}={value}" for key, value in trigger.fields.items())
    if isinstance(trigger, IntervalTrigger):
        return f"every {int(trigger.interval.total_seconds())} s"
    return str(trigger)


def _next_run(trigger: Any, now: datetime, zone: str) -> datetime | None:
    built = CronTrigger(timezone=zone, **trigger.fields) if isinstance(trigger, Cron) else trigger
    next_time: datetime | None = built.get_next_fire_time(None, now)
    return next_time


def job_views(session: Session, *, now: datetime | None = None) -> list[JobView]:
    """Every registered job with its last recorded run and its next run time (in the configured zone)."""
    now = now or utcnow()
    zone = current_zone()
    runs = {run.name: run for run in session.exec(select(JobRun)).all()}
    views = []
    for name in job_names():
        job, run = _REGISTRY[name].job, runs.get(name)
        views.append(
            JobView(
                name=name,
                description=job.description,
                schedule=describe(job.trigger),
                last_started_at=run.started_at if run else None,
                last_outcome=run.outcome if run else None,
                last_instance=run.instance if run else None,
                next_run_at=_next_run(job.trigger, now.astimezone(ZoneInfo(zone)), zone),
            )
        )
    return views
