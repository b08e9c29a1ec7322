"""Scheduled reminders and clean-up (DOMAIN.md "Reminders and scheduled jobs"): task alerts and
retention. Jobs call these in their own unit of work; each is safe to run twice, on two servers at
once, or after a crash, because the database (not memory) remembers what was done."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from crm_app.activities.models import OPEN_TASK_STATUSES, Task, TaskAlert, TaskAlertKind
from crm_app.platform import (
    events,  # its subscribers also turn the alerts into notifications
)
from crm_app.platform.models.base import table_of, utcnow
from crm_app.platform.scheduler import Job, cron

DUE_SOON_WINDOW = timedelta(hours=24)
BATCH = 500

_A = table_of(TaskAlert)


def _insert_alerts(session: Session, rows: list[dict[str, Any]]) -> list[Any]:
    """Record the alerts; returns the rows really inserted. INSERT ... ON CONFLICT DO NOTHING: when
    another run got there first (even one not yet committed), its row wins and ours is dropped."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(_A)
        .values(rows)
        .on_conflict_do_nothing(index_elements=[_A.c.task_id, _A.c.kind, _A.c.due_at])
        .returning(_A.c.task_id, _A.c.kind, _A.c.due_at)
    )
    return list(session.connection().execute(statement).all())


def send_task_alerts(session: Session, *, now: datetime | None = None) -> int:
    """Tell assignees about their open tasks due within 24 hours (`due_soon`) and overdue (`overdue`),
    once per task, kind and due date (a new due date arms the alerts again). Returns how many."""
    now = now or utcnow()
    kind = sa.case((col(Task.due_at) <= now, TaskAlertKind.OVERDUE.value), else_=TaskAlertKind.DUE_SOON.value)
    already_sent = sa.exists().where(_A.c.task_id == Task.id, _A.c.kind == kind, _A.c.due_at == Task.due_at)
    candidates = session.exec(
        select(Task.id, Task.title, Task.assignee_id, Task.due_at, kind)  # type: ignore[call-overload]
        .where(
            col(Task.status).in_([s.value for s in OPEN_TASK_STATUSES]),
            col(Task.due_at).is_not(None),
            col(Task.due_at) <= now + DUE_SOON_WINDOW,
            ~already_sent,
        )
        .order_by(col(Task.due_at), col(Task.id))
    ).all()
    by_id = {row[0]: row for row in candidates}
    sent = 0
    for start in range(0, len(candidates), BATCH):
        batch = candidates[start : start + BATCH]
        inserted = _insert_alerts(
            session,
            [
                {"task_id": task_id, "kind": alert_kind, "due_at": due_at, "sent_at": now}
                for task_id, _title, _assignee, due_at, alert_kind in batch
            ],
        )
        for task_id, alert_kind, due_at in inserted:
            _id, title, assignee_id, _due, _kind = by_id[task_id]
            events.publish(
                session,
                events.TaskAlertDue(
                    task_id=task_id, title=title, assignee_id=assignee_id, kind=alert_kind, due_at=due_at
                ),
            )
        sent += len(inserted)
    return sent


JOBS = (
    Job(
        "task_alerts",
        cron(minute="*/5"),
        send_task_alerts,
        "Notify assignees of tasks due within 24 hours and of overdue tasks (once per task, kind, due date).",
    ),
)
