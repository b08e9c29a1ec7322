"""`opex-crm db reset`: development only, explicit, and never without a backup of what it deletes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func
from sqlmodel import select

from crm_app.operations import migrate
from crm_app.operations.backup import restore_backup
from crm_app.platform import storage
from crm_app.platform.db import dispose_engines, unit_of_work
from crm_app.platform.models.people import User
from tests.factories import make_user


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crm_app.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )


def _user_count() -> int:
    with unit_of_work() as session:
        return int(session.exec(select(func.count()).select_from(User)).one())


def test_reset_is_refused_in_production_and_without_confirmation(clean_db: None) -> None:
    with unit_of_work() as session:
        make_user(session, email="keep@example.org")
    production = _cli(
        "db",
        "reset",
        "--yes-i-know",
        APP_ENV="production",
        JWT_SECRET="j" * 40,
        JWT_REFRESH_SECRET="r" * 40,
        STORAGE_SECRET="s" * 40,
    )
    assert production.returncode == 1
    assert production.stderr.strip() == "opex-crm: db reset is refused with APP_ENV=production"
    unconfirmed = _cli("db", "reset")
    assert unconfirmed.returncode == 1
    assert unconfirmed.stderr.strip() == (
        "opex-crm: db reset deletes every row and stored file: add --yes-i-know to go on"
    )
    assert _user_count() == 1


def test_reset_backs_up_then_leaves_an_empty_migrated_database(
    settings_override: Callable[..., None], tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    settings_override(database_url="", data_dir=str(data_dir))
    migrate.upgrade()
    with unit_of_work() as session:
        make_user(session, email="before.reset@example.org")
    storage.write_file("logos/company.png", b"\x89PNG logo")

    result = _cli("db", "reset", "--yes-i-know", DATABASE_URL="", DATA_DIR=str(data_dir))
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.splitlines()
    assert first.startswith(f"backup written to {data_dir / 'backups'}/opex-crm-backup-")
    assert second == f"database emptied and at revision {migrate.head_revision()}"
    dispose_engines()  # this process's pool still holds the deleted file open
    assert _user_count() == 0
    assert not list(storage.files_dir().rglob("*"))

    restore_backup(Path(first.removeprefix("backup written to ")))
    assert _user_count() == 1
    assert storage.read_file("logos/company.png") == b"\x89PNG logo"
