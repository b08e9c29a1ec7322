"""`opex-crm db reset`: an empty, migrated database for development, after a backup of the old one."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text

from crm_app.operations import migrate
from crm_app.operations.backup import BackupError, create_backup, default_backup_dir
from crm_app.platform.config import Settings, get_settings
from crm_app.platform.db import dispose_engines, get_engine
from crm_app.platform.storage import FILES_DIRNAME


class ResetRefused(BackupError):
    """Reset is for development machines only."""


@dataclass(frozen=True)
class ResetResult:
    backup: Path | None  # None: there was no database yet (SQLite file absent)
    revision: str | None


def reset_database(settings: Settings | None = None) -> ResetResult:
    """Back up, then drop every table (and the stored files) and migrate to head. Refused in production."""

    settings = settings or get_settings()
    if settings.is_production:
        raise ResetRefused("db reset is refused with APP_ENV=production")
    url = settings.sqlalchemy_url
    exists = url.get_backend_name() == "postgresql" or Path(url.database or "").exists()
    backup = create_backup(default_backup_dir(settings), settings=settings).path if exists else None
    dispose_engines()
    if url.get_backend_name() == "postgresql":
        with get_engine().begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    else:
        database = Path(url.database or "")
        for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
            path.unlink(missing_ok=True)
    dispose_engines()
    shutil.rmtree(settings.data_dir / FILES_DIRNAME, ignore_errors=True)
    migrate.upgrade()
    return ResetResult(backup=backup, revision=migrate.current_revision())
