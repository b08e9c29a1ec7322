"""`opex-crm jobs list` and `opex-crm jobs run NAME` (run as a real process)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

from crm_app.platform.db import unit_of_work
from crm_app.platform.models.base import utcnow
from tests.activity_factories import make_org, make_task, notifications_of


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "crm_app.cli", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=120, check=False)


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
