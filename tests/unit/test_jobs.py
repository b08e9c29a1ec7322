"""The scheduler's job runner: outcome recorded, one run at a time across processes."""

from __future__ import annotations

import zlib
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text

from crm_app import bootstrap
from crm_app.platform import events, settings
from crm_app.platform import scheduler as jobs
from crm_app.platform.db import get_engine, unit_of_work
from crm_app.platform.permissions import SYSTEM_ACTOR


def test_run_job_records_its_outcome(clean_db: None) -> None:
    assert jobs.run_job("session_cleanup") == "ok"
    [status] = [j for j in jobs.status()["jobs"] if j["name"] == "session_cleanup"]
    assert status["last_outcome"] == "ok" and status["last_run_at"] is not None


def test_job_is_skipped_while_another_process_holds_its_lock() -> None:
    key = zlib.crc32(b"opex-crm:job:session_cleanup")
    with get_engine().connect() as other_process:
        assert other_process.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
        try:
            assert jobs.run_job("session_cleanup") == "skipped"
        finally:
            other_process.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
    assert jobs.run_job("session_cleanup") == "ok"


def test_scheduler_starts_and_stops_cleanly() -> None:
    jobs.start()
    try:
        state = jobs.status()
        assert state["state"] == "running"
        assert all(job["next_run_at"] for job in state["jobs"])
    finally:
        jobs.stop()
    assert jobs.status()["state"] == "stopped"


def test_daily_jobs_run_at_their_hour_in_the_configured_time_zone(settings_override: Any) -> None:
    settings_override(TIMEZONE="Europe/Paris")
    jobs.start()
    try:
        runs = {job["name"]: datetime.fromisoformat(job["next_run_at"]) for job in jobs.status()["jobs"]}
    finally:
        jobs.stop()
    retention = runs["retention"].astimezone(ZoneInfo("Europe/Paris"))
    assert (retention.hour, retention.minute) == (2, 0)  # 02:00 in Paris, whatever the machine's zone
    assert runs["retention"].utcoffset() is not None


def _retention_at() -> datetime:
    [job] = [job for job in jobs.status()["jobs"] if job["name"] == "retention"]
    return datetime.fromisoformat(job["next_run_at"])


def test_the_jobs_follow_the_organisations_time_zone(clean_db: None, settings_override: Any) -> None:
    """One source of truth: the hour a job runs at is read in the organisation's time zone (the one
    its "today" is read in), and moves when an administrator changes it."""
    settings_override(TIMEZONE="Europe/Paris")
    with unit_of_work() as session:
        settings.update_section(session, SYSTEM_ACTOR, "organisation", {"timezone": "America/New_York"})
    jobs.start()
    try:
        assert jobs.current_zone() == "America/New_York"
        at = _retention_at().astimezone(ZoneInfo("America/New_York"))
        assert (at.hour, at.minute) == (2, 0)
        committed: list[events.Event] = []
        remove = events.on_commit(committed.append)
        try:
            with unit_of_work() as session:
                settings.update_section(session, SYSTEM_ACTOR, "organisation", {"timezone": "Asia/Tokyo"})
        finally:
            remove()
        [changed] = [e for e in committed if isinstance(e, events.SettingsChanged)]
        bootstrap.follow_settings(changed)  # as the bridge delivers it, in this process and every other
        at = _retention_at().astimezone(ZoneInfo("Asia/Tokyo"))
        assert (at.hour, at.minute) == (2, 0)
        assert not jobs.follow_timezone()  # nothing more to move
    finally:
        jobs.stop()
