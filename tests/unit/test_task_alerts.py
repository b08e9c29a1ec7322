"""Task alerts (every 5 minutes) and retention (daily): once per task, kind and due date, re-armed by
a new due date, never doubled by overlapping runs; old security log entries and notifications purged."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session, col, select

from crm_app.activities import alerts as reminders
from crm_app.activities import tasks
from crm_app.activities.models import TaskAlert
from crm_app.institutions import timeline
from crm_app.operations import migrate
from crm_app.platform import notifications, retention, security_log
from crm_app.platform import scheduler as jobs
from crm_app.platform.db import get_engine, unit_of_work
from crm_app.platform.models.audit import SecurityAction, SecurityEvent, Severity
from crm_app.platform.models.base import utcnow
from crm_app.platform.models.notifications import Notification
from tests.activity_factories import Org, make_org, make_task, notifications_of
from tests.institution_factories import make_institution


@pytest.fixture
def org(db: Session) -> Org:
    return make_org(db)


def _alerts(db: Session, person: object) -> list[tuple[str, str]]:
    return [(n.kind, n.params["title"]) for n in notifications_of(db, person)]  # type: ignore[arg-type]


def test_alerts_are_not_repeated_over_three_runs(db: Session, org: Org) -> None:
    now = utcnow()
    make_task(db, org.rep_a.actor, title="Soon", due_at=now + timedelta(hours=3))
    make_task(db, org.rep_a.actor, title="Late", due_at=now - timedelta(hours=3))
    make_task(db, org.rep_a.actor, title="Next month", due_at=now + timedelta(days=30))
    make_task(db, org.rep_a.actor, title="Undated")
    make_task(db, org.rep_a.actor, title="Done", due_at=now - timedelta(hours=1), status="done")
    make_task(db, org.rep_a.actor, title="Cancelled", due_at=now + timedelta(hours=1), status="cancelled")
    assert [reminders.send_task_alerts(db) for _run in range(3)] == [2, 0, 0]
    assert sorted(_alerts(db, org.rep_a)) == [("task.due_soon", "Soon"), ("task.overdue", "Late")]


def test_a_task_due_soon_is_alerted_again_once_overdue(db: Session, org: Org, clock: Callable[..., datetime]) -> None:
    make_task(db, org.rep_a.actor, title="Visit", due_at=utcnow() + timedelta(hours=23))
    assert reminders.send_task_alerts(db) == 1
    clock(hours=22)
    assert reminders.send_task_alerts(db) == 0
    clock(hours=2)
    assert reminders.send_task_alerts(db) == 1
    assert reminders.send_task_alerts(db) == 0
    assert _alerts(db, org.rep_a) == [("task.due_soon", "Visit"), ("task.overdue", "Visit")]


def test_a_new_due_date_re_arms_the_alerts(db: Session, org: Org, clock: Callable[..., datetime]) -> None:
    task = make_task(
        db, org.manager_a.actor, title="Relance", assignee_id=org.rep_a.id, due_at=utcnow() - timedelta(hours=1)
    )
    assert reminders.send_task_alerts(db) == 1
    clock(minutes=5)
    tasks.update_task(db, org.rep_a.actor, task.id, {"due_at": utcnow() + timedelta(hours=5)}, expected_version=1)
    assert reminders.send_task_alerts(db) == 1
    assert reminders.send_task_alerts(db) == 0
    clock(hours=6)
    assert reminders.send_task_alerts(db) == 1
    kinds = [kind for kind, _title in _alerts(db, org.rep_a) if kind != "task.assigned"]
    assert kinds == ["task.overdue", "task.due_soon", "task.overdue"]
    db.flush()
    assert len(db.exec(select(TaskAlert).where(TaskAlert.task_id == task.id)).all()) == 3


def test_alerts_go_to_the_assignee_and_link_to_the_task(db: Session, org: Org) -> None:
    task = make_task(db, org.manager_a.actor, assignee_id=org.rep_a2.id, due_at=utcnow() + timedelta(hours=1))
    reminders.send_task_alerts(db)
    alert = next(n for n in notifications_of(db, org.rep_a2) if n.kind == "task.due_soon")
    assert alert.link == f"/tasks/{task.id}" and alert.actor_id is None
    assert notifications_of(db, org.manager_a) == []


def test_the_job_runs_under_its_name(clean_db: None) -> None:
    with unit_of_work() as session:
        org = make_org(session)
        make_task(session, org.rep_a.actor, due_at=utcnow() + timedelta(hours=1))
    assert [jobs.run_job("task_alerts") for _run in range(3)] == ["ok", "ok", "ok"]
    with unit_of_work() as session:
        assert [n.kind for n in notifications_of(session, org.rep_a)] == ["task.due_soon"]


def _waiting_on_a_lock() -> bool:
    with get_engine().connect() as connection:
        return bool(
            connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar()
        )


def test_two_overlapping_runs_do_not_double_the_alert(clean_db: None) -> None:
    """Two servers run the job at once (no advisory lock here): the second run's insert waits for the
    first run's uncommitted row, then gives way to it."""
    with unit_of_work() as session:
        org = make_org(session)
        make_task(session, org.rep_a.actor, title="Shared", due_at=utcnow() + timedelta(hours=1))
    first_inserted, second_started = threading.Event(), threading.Event()
    sent: dict[str, int] = {}
    overlapped: list[bool] = []
    errors: list[BaseException] = []

    def first_run() -> None:
        try:
            with unit_of_work() as session:
                sent["first"] = reminders.send_task_alerts(session)
                first_inserted.set()
                assert second_started.wait(10)
                deadline = time.monotonic() + 10
                while not _waiting_on_a_lock() and time.monotonic() < deadline:
                    time.sleep(0.02)
                overlapped.append(_waiting_on_a_lock())
        except BaseException as exc:
            errors.append(exc)
            first_inserted.set()

    def second_run() -> None:
        try:
            assert first_inserted.wait(10)
            with unit_of_work() as session:
                second_started.set()
                sent["second"] = reminders.send_task_alerts(session)
        except BaseException as exc:
            errors.append(exc)
            second_started.set()

    threads = [threading.Thread(target=first_run), threading.Thread(target=second_run)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert overlapped == [True]  # the second run was really blocked inside the first one's transaction
    assert sent == {"first": 1, "second": 0}
    with unit_of_work() as session:
        assert [n.kind for n in notifications_of(session, org.rep_a)] == ["task.due_soon"]


# --------------------------------------------------------------------------------------------
# Retention


def test_retention_purges_the_security_log_by_severity_and_old_read_notifications(
    db: Session, org: Org, clock: Callable[..., datetime]
) -> None:
    def log(name: str, severity: Severity) -> None:
        security_log.record(db, SecurityAction.LOGIN_FAILED, severity=severity, email=f"{name}@example.org")

    log("low-old", Severity.LOW)
    log("high-old", Severity.HIGH)
    log("medium-old", Severity.MEDIUM)
    notifications.notify(db, [org.rep_a.id], kind="task.overdue", params={"title": "read"})
    notifications.notify(db, [org.rep_a.id], kind="task.overdue", params={"title": "unread"})
    read = next(n for n in notifications.list_notifications(db, org.rep_a.actor).items if n.params["title"] == "read")
    notifications.mark_read(db, org.rep_a.actor, read.id)
    clock(days=2)
    log("low-new", Severity.LOW)
    log("high-new", Severity.HIGH)
    db.flush()

    def remaining() -> set[str]:
        db.flush()
        return {
            e.email.split("@")[0]
            for e in db.exec(select(SecurityEvent).where(col(SecurityEvent.email).like("%-%@example.org"))).all()
            if e.email
        }

    clock(days=89)  # 91 and 89 days
    assert retention.apply_retention(db) == {"security_events": 1, "notifications": 0}
    assert remaining() == {"high-old", "medium-old", "low-new", "high-new"}
    clock(days=90)  # 181 days
    assert retention.apply_retention(db) == {"security_events": 1, "notifications": 1}
    assert [
        n.params["title"] for n in db.exec(select(Notification).where(Notification.recipient_id == org.rep_a.id)).all()
    ] == ["unread"]
    clock(days=185)  # 366 and 364 days
    retention.apply_retention(db)
    assert remaining() == {"high-new"}


def test_alerts_and_the_timeline_work_on_sqlite(tmp_path: Path, settings_override: Callable[..., None]) -> None:
    """The embedded default database: INSERT ... ON CONFLICT DO NOTHING and the timeline's UNION ALL."""
    settings_override(database_url=f"sqlite:///{tmp_path / 'alerts.sqlite3'}")
    migrate.upgrade()
    with unit_of_work() as session:
        org = make_org(session)
        institution = make_institution(session, org.rep_a.actor)
        make_task(
            session, org.rep_a.actor, title="Soon", due_at=utcnow() + timedelta(hours=1), institution_id=institution.id
        )
    for expected in (1, 0, 0):
        with unit_of_work() as session:
            assert reminders.send_task_alerts(session) == expected
    with unit_of_work() as session:
        assert [n.kind for n in notifications_of(session, org.rep_a)] == ["task.due_soon"]
        entries = timeline.timeline(session, org.rep_a.actor, institution.id).items
        assert [e.kind for e in entries] == ["task", "change"] and entries[0].at.tzinfo is not None
