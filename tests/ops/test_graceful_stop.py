"""SIGTERM (what `systemctl stop` and `restart` send) during a long CSV import through the REST API: the
server stops taking connections, lets the import finish, stops the scheduler and closes its pools,
then exits 0 within the unit's TimeoutStopSec. The import is all or nothing: never a part of it."""

from __future__ import annotations

import configparser
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, text
from sqlmodel import select

from crm_app.institutions.models import Institution
from crm_app.platform.db import get_engine, unit_of_work
from crm_app.platform.models.people import Role
from tests.factories import PASSWORD, make_user
from tests.servers import running_server

ROWS = 2500
UNIT = Path(__file__).resolve().parents[2] / "systemd" / "opex-crm.service"


def _timeout_stop_sec() -> int:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.read(UNIT)
    return int(parser["Service"]["TimeoutStopSec"])


def _csv() -> bytes:
    lines = ["Nom;Type;Code postal;Ville;Lits"]
    lines += [
        f"Clinique Arrêt-Propre {n:05d};Clinique privée;{10000 + n:05d};Commune {n:05d};{50 + n % 300}"
        for n in range(ROWS)
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


def _count() -> int:
    with unit_of_work() as session:
        return int(
            session.exec(
                select(func.count())
                .select_from(Institution)
                .where(Institution.name.startswith("Clinique Arrêt-Propre"))
            ).one()
        )


def _import_is_writing() -> bool:
    """An open transaction of another process of the CRM that has written (has a transaction id)."""
    with get_engine().connect() as connection:
        return bool(
            connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
                )
            ).scalar_one()
        )


def test_sigterm_during_an_import_loses_nothing_and_exits_cleanly(clean_db: None) -> None:
    with unit_of_work() as session:
        make_user(session, role=Role.MANAGER, email="import.manager@example.org")
    content = _csv()
    outcome: dict[str, Any] = {}
    with running_server(SCHEDULER_ENABLED="true") as server:
        token = httpx.post(
            f"{server.url}/api/auth/login",
            timeout=10,
            json={"email": "import.manager@example.org", "password": PASSWORD},
        ).json()["access_token"]

        def upload() -> None:
            try:
                response = httpx.post(
                    f"{server.url}/api/institutions/import",
                    timeout=120,
                    headers={"Authorization": f"Bearer {token}"},
                    files={"file": ("etablissements.csv", content, "text/csv")},
                )
                outcome["status"], outcome["body"] = response.status_code, response.json()
            except httpx.HTTPError as exc:
                outcome["error"] = exc

        sender = threading.Thread(target=upload)
        sender.start()
        deadline = time.monotonic() + 60
        while not _import_is_writing():  # SIGTERM while the rows are being written, uncommitted
            assert time.monotonic() < deadline and sender.is_alive(), (outcome, server.log())
            time.sleep(0.01)
        assert _count() == 0  # nothing visible before the commit
        stopped_at = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        code = server.process.wait(timeout=_timeout_stop_sec())
        stop_seconds = time.monotonic() - stopped_at
        sender.join(timeout=30)
        log = server.log()

    assert code == 0, log
    assert stop_seconds < _timeout_stop_sec()
    count = _count()
    assert count in (0, ROWS)  # all or nothing
    # uvicorn lets the request in flight finish: the import completed and its client got the report.
    assert outcome.get("status") == 200, (outcome, log)
    assert outcome["body"]["created"] == ROWS == count
    assert '"message": "scheduler stopped"' in log and '"message": "OPEx CRM stopped"' in log
