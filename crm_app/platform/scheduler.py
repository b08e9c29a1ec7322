"""APScheduler in the same process; each job runs under a PostgreSQL advisory lock when several
instances share one database, and records its last run for /api/health."""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import text
from sqlmodel import Session

from crm_app.accounts import auth
from crm_app.activities import alerts as reminders
from crm_app.institutions import service as institutions
from crm_app.platform.config import get_settings
from crm_app.platform.db import get_engine, unit_of_work
from crm_app.platform.logs import job_id_var
from crm_app.platform.models.base import utcnow
from crm_app.sales import reminders as sales_jobs

log = logging.getLogger(__name__)


@dataclass
class JobRecord:
    name: str
    func: Callable[[Session], Any]
    trigger: Any
    last_run_at: datetime | None = None
    last_outcome: str | None = None  # "ok", "skipped" (another instance holds the lock) or "error: ..."
    running: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


_REGISTRY: dict[str, JobRecord] = {}
_scheduler: BackgroundScheduler | None = None


@dataclass(frozen=True)
class Cron:
    """A cron schedule read in the configured time zone (DOMAIN: "times in the configured time
    zone"). The trigger is built when the scheduler starts: a CronTrigger made at import time would
    take the machine's zone, whatever the scheduler's."""

    fields: dict[str, Any]


def cron(**fields: Any) -> Cron:
    return Cron(fields)


def register(name: str, trigger: Any) -> Callable[[Callable[[Session], Any]], Callable[[Session], Any]]:
    """Declare a job: `func(session)` runs in its own unit of work on the trigger."""
    def decorator(func: Callable[[Session], Any]) -> Callable[[Session], Any]:
        _REGISTRY[name] = JobRecord(name=name, func=func, trigger=trigger)
        return func
    return decorator


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
                    with unit_of_work() as session:
                        result = record.func(session)
                    outcome = "ok"
                    log.info("job finished", extra={"job": name, "result": result})
        except Exception as exc:
            log.exception("job failed", extra={"job": name})
            outcome = f"error: {type(exc).__name__}"
        finally:
            record.running = False
            record.lock.release()
        record.last_run_at, record.last_outcome = utcnow(), outcome
        return outcome
    finally:
        job_id_var.reset(token)


def start() -> None:
    """Start the background scheduler with every registered job (idempotent)."""
    global _scheduler
    if _scheduler is not None:
        return
    scheduler = BackgroundScheduler(timezone=get_settings().timezone,
                                    job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600})
    for record in _REGISTRY.values():
        trigger = CronTrigger(timezone=get_settings().timezone, **record.trigger.fields) \
            if isinstance(record.trigger, Cron) else record.trigger
        scheduler.add_job(run_job, trigger, args=[record.name], id=record.name, name=record.name,
                          replace_existing=True)
    scheduler.start()
    _scheduler = scheduler
    log.info("scheduler started", extra={"jobs": sorted(_REGISTRY)})


def stop() -> None:
    """Stop taking new runs and wait for the running one to finish (graceful shutdown)."""
    global _scheduler
    if _scheduler is None:
        return
    _scheduler.shutdown(wait=True)
    _scheduler = None
    log.info("scheduler stopped")


def status() -> dict[str, Any]:
    state = "running" if _scheduler is not None and _scheduler.running else "stopped"
    jobs = []
    for record in _REGISTRY.values():
        job = _scheduler.get_job(record.name) if _scheduler is not None else None
        jobs.append({
            "name": record.name,
            "next_run_at": job.next_run_time.isoformat() if job and job.next_run_time else None,
            "last_run_at": record.last_run_at.isoformat() if record.last_run_at else None,
            "last_outcome": record.last_outcome,
            "running": record.running,
        })
    return {"state": state, "jobs": jobs}


def job_names() -> list[str]:
    return sorted(_REGISTRY)


@register("session_cleanup", cron(hour=3, minute=30))
def session_cleanup(session: Session) -> int:
    """Delete sessions, refresh tokens and login attempts long expired."""
    return auth.purge_expired(session)


@register("task_alerts", cron(minute="*/5"))
def task_alerts(session: Session) -> int:
    """Notify assignees of tasks due within 24 hours and of overdue tasks (once per task, kind, due date)."""
    return reminders.send_task_alerts(session)


@register("retention", cron(hour=2, minute=0))
def retention(session: Session) -> dict[str, int]:
    """Purge old security log entries and old read notifications."""
    return reminders.apply_retention(session)


@register("search_order", cron(hour=3, minute=30))
def search_order(session: Session) -> bool:
    """Keep the institutions' search table in name order (PostgreSQL; see InstitutionSearch)."""
    return institutions.reorder_search_table(session)


@register("quote_expiry", cron(hour=0, minute=5))
def quote_expiry(session: Session) -> int:
    """Sent quotes past their validity date → expired."""
    return sales_jobs.expire_quotes(session)


@register("invoice_overdue", cron(hour=0, minute=10))
def invoice_overdue(session: Session) -> int:
    """Issued or partially paid invoices past their due date → overdue."""
    return sales_jobs.mark_invoices_overdue(session)


@register("quote_reminders", cron(hour=8, minute=0))
def quote_reminders(session: Session) -> dict[str, int]:
    """Remind salespeople of their quotes at j-7, j-3, j0 and j+7 (once per quote and kind)."""
    return sales_jobs.send_quote_reminders(session)


@register("invoice_followup", cron(hour=8, minute=0))
def invoice_followup(session: Session) -> dict[str, int]:
    """Follow up unpaid invoices at the levels of the reminder rules (once per invoice and level)."""
    return sales_jobs.send_invoice_followups(session)


from crm_app.platform import outbox as mail  # noqa: E402, F401 - registers the mail_outbox job wherever jobs are known
