"""`opex-crm jobs list` and `opex-crm jobs run NAME` (run as a real process)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import timedelta

from crm_app.platform import outbox as mail
from crm_app.platform.db import unit_of_work
from crm_app.platform.models.base import utcnow
from tests.activity_factories import make_org, make_task, notifications_of


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crm_app.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )


def _closed_port() -> int:
    """A loopback port where nothing listens (an SMTP server that is down)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_jobs_list_names_every_job() -> None:
    result = _cli("jobs", "list")
    assert result.returncode == 0
    assert {"task_alerts", "retention", "session_cleanup"} <= set(result.stdout.split())


def test_jobs_run_runs_the_job_now(clean_db: None) -> None:
    with unit_of_work() as session:
        org = make_org(session)
        make_task(session, org.rep_a.actor, title="Rappeler", due_at=utcnow() + timedelta(hours=2))
    first, second = _cli("jobs", "run", "task_alerts"), _cli("jobs", "run", "task_alerts")
    assert (first.returncode, first.stdout.strip()) == (0, "task_alerts: ok"), first.stderr
    assert second.returncode == 0
    with unit_of_work() as session:
        assert [n.kind for n in notifications_of(session, org.rep_a)] == ["task.due_soon"]
    assert _cli("jobs", "run", "retention").stdout.strip() == "retention: ok"


def test_an_unknown_job_ends_with_one_line_and_a_failure_code() -> None:
    result = _cli("jobs", "run", "coffee")
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("opex-crm: unknown job 'coffee' (known: ") and "task_alerts" in line


def test_jobs_list_shows_each_schedule_last_run_and_next_run(clean_db: None) -> None:
    assert _cli("jobs", "run", "retention").returncode == 0
    lines = _cli("jobs", "list").stdout.splitlines()
    [retention] = [line for line in lines if line.startswith("retention ")]
    assert "cron hour=2 minute=0" in retention and " ok " in f"{retention} "
    assert retention.rstrip().endswith(" 02:00")  # the next run, at 02:00 in the configured zone
    [never] = [line for line in lines if line.startswith("session_cleanup ")]
    assert "never run" in never
    assert lines[-1] == "(times in Europe/Paris)"


def test_mail_left_unsent_makes_the_outbox_job_fail_and_say_why(clean_db: None) -> None:
    with unit_of_work() as session:
        mail.enqueue(session, to="claire@example.org", subject="Devis", text="Bonjour")
    down = _cli("jobs", "run", "mail_outbox", SMTP_HOST="127.0.0.1", SMTP_PORT=str(_closed_port()))
    assert down.returncode == 1
    assert "mail_outbox failed: 0 sent, 1 to retry later, 0 given up; claire@example.org:" in down.stderr
    unset = _cli("jobs", "run", "mail_outbox", SMTP_HOST="")
    assert unset.returncode == 1 and "SMTP_HOST is not set" in unset.stderr
    assert "mail_outbox " in _cli("jobs", "list").stdout  # the failed run is recorded with its reason
    assert "failed: SMTP_HOST is not set" in _cli("jobs", "list").stdout
