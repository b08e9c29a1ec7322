"""Backups of the database and of the stored files in one archive, and their restore.

An archive is `opex-crm-backup-<UTC time>.tar.gz` holding:

* `manifest.json`: format, application version, database kind, Alembic schema revision, creation
  time, and the size and SHA-256 of every other member;
* `database.dump` (PostgreSQL, `pg_dump` custom format, one consistent snapshot) or
  `database.sqlite3` (SQLite, copied with SQLite's online backup API, consistent while the server
  writes);
* `files/...`: everything under `DATA_DIR/files` (logos, stored PDFs).

A restore extracts and checks the whole archive (checksums, schema revision known to this code,
same database kind) before it touches anything. PostgreSQL is then replaced in one transaction
(`psql --single-transaction`: the schema is emptied and the dump replayed; any error rolls all of it
back); SQLite through the backup API in one step, which is atomic and safe with the WAL files; the
files directory is swapped by renames. A corrupt archive therefore leaves the database and the files
as they were.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import text
from sqlalchemy.engine import URL

from crm_app import __version__
from crm_app.operations import migrate
from crm_app.platform.config import Settings, get_settings
from crm_app.platform.db import dispose_engines, get_engine
from crm_app.platform.storage import FILES_DIRNAME

FORMAT = "opex-crm-backup/1"
MANIFEST = "manifest.json"
PG_DUMP = "database.dump"
SQLITE_COPY = "database.sqlite3"
ARCHIVE_PREFIX = "opex-crm-backup-"
ARCHIVE_SUFFIX = ".tar.gz"
_STAMP = "%Y%m%dT%H%M%SZ"
_NAME = re.compile(rf"^{ARCHIVE_PREFIX}(\d{{8}}T\d{{6}}Z)(-\d+)?{re.escape(ARCHIVE_SUFFIX)}$")
_CHUNK = 1024 * 1024


class BackupError(Exception):
    """A backup or restore that cannot go on; the message is one line for the operator."""


@dataclass(frozen=True)
class Manifest:
    database: str  # "postgresql" or "sqlite"
    revision: str | None
    created_at: str
    app_version: str
    members: dict[str, dict[str, Any]] = field(default_factory=dict)  # name → {"sha256", "size"}
    format: str = FORMAT

    @property
    def file_count(self) -> int:
        return sum(1 for name in self.members if name.startswith(f"{FILES_DIRNAME}/"))

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": self.format,
                "app_version": self.app_version,
                "database": self.database,
                "revision": self.revision,
                "created_at": self.created_at,
                "members": self.members,
            },
            indent=2,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            data = json.loads(raw)
            if data.get("format") != FORMAT:
                raise BackupError(f"not an OPEx CRM backup archive (format {data.get('format')!r})")
            return cls(
                database=str(data["database"]),
                revision=data["revision"],
                created_at=str(data["created_at"]),
                app_version=str(data["app_version"]),
                members=dict(data["members"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BackupError(f"the archive's manifest is not readable ({exc})") from None


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: Manifest
    pruned: list[Path]


# --- backup --------------------------------------------------------------------------------------


def default_backup_dir(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).data_dir / "backups"


def create_backup(
    output_dir: Path | None = None, *, keep_days: int = 0, settings: Settings | None = None
) -> BackupResult:
    """Write a new archive into `output_dir` (default DATA_DIR/backups); with `keep_days` > 0, then
    delete the archives there older than that many days."""
    settings = settings or get_settings()
    output_dir = output_dir or default_backup_dir(settings)
    output_dir.mkdir(parents=True, exist_ok=True)
    created = datetime.now(UTC).replace(microsecond=0)
    with tempfile.TemporaryDirectory(prefix=".backup-", dir=output_dir) as staging_name:
        staging = Path(staging_name)
        url = settings.sqlalchemy_url
        if url.get_backend_name() == "postgresql":
            _pg_dump(url, staging / PG_DUMP)
            database, revision = "postgresql", _current_revision()
            members = [PG_DUMP]
        else:
            revision = _sqlite_copy(Path(url.database or ""), staging / SQLITE_COPY)
            database, members = "sqlite", [SQLITE_COPY]
        files_root = settings.data_dir / FILES_DIRNAME
        file_members = [f"{FILES_DIRNAME}/{p.relative_to(files_root).as_posix()}" for p in _stored_files(files_root)]
        digests = {name: _digest(staging / name) for name in members}
        digests.update({name: _digest(settings.data_dir / name) for name in file_members})
        manifest = Manifest(
            database=database,
            revision=revision,
            created_at=created.isoformat(),
            app_version=__version__,
            members=digests,
        )
        (staging / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
        target = _free_name(output_dir, created)
        partial = staging / "archive.partial"
        with tarfile.open(partial, "w:gz", compresslevel=6) as tar:
            tar.add(staging / MANIFEST, arcname=MANIFEST)  # first: a reader sees what follows
            for name in members:
                tar.add(staging / name, arcname=name)
            for name in file_members:
                tar.add(settings.data_dir / name, arcname=name)
        partial.chmod(0o600)  # password hashes and customer data: readable by the service user only
        with open(partial, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, target)
    pruned = prune_backups(output_dir, keep_days=keep_days, keep=target) if keep_days > 0 else []
    return BackupResult(path=target, manifest=manifest, pruned=pruned)


def prune_backups(
    directory: Path, *, keep_days: int, keep: Path | None = None, now: datetime | None = None
) -> list[Path]:
    """Delete the archives of `directory` made more than `keep_days` days ago (by the time in their
    name); never `keep`. Returns what was deleted."""
    limit = (now or datetime.now(UTC)) - timedelta(days=keep_days)
    deleted = []
    for path in sorted(directory.glob(f"{ARCHIVE_PREFIX}*{ARCHIVE_SUFFIX}")):
        match = _NAME.match(path.name)
        if not match or path == keep:
            continue
        made = datetime.strptime(match.group(1), _STAMP).replace(tzinfo=UTC)
        if made < limit:
            path.unlink(missing_ok=True)
            deleted.append(path)
    return deleted


def _free_name(directory: Path, created: datetime) -> Path:
    stem = f"{ARCHIVE_PREFIX}{created.strftime(_STAMP)}"
    candidate, number = directory / f"{stem}{ARCHIVE_SUFFIX}", 1
    while candidate.exists():
        number += 1
        candidate = directory / f"{stem}-{number}{ARCHIVE_SUFFIX}"
    return candidate


def _stored_files(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    # Files being written by storage.write_file are `.tmp-*` until renamed: not part of the data.
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".tmp-"))


def _digest(path: Path) -> dict[str, Any]:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            sha.update(chunk)
    return {"sha256": sha.hexdigest(), "size": path.stat().st_size}


def _current_revision() -> str | None:

    return migrate.current_revision()


# --- PostgreSQL ----------------------------------------------------------------------------------


def libpq_env(url: URL) -> dict[str, str]:
    """The environment for pg_dump, pg_restore and psql: the password never on a command line."""
    env = {
        **os.environ,
        "PGHOST": url.host or "localhost",
        "PGPORT": str(url.port or 5432),
        "PGUSER": url.username or "",
        "PGDATABASE": url.database or "",
    }
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    if "sslmode" in url.query:
        env["PGSSLMODE"] = str(url.query["sslmode"])
    env.pop("PGSERVICE", None)
    return env


def pg_binary(name: str) -> str:
    """`name` (pg_dump, pg_restore, psql) of the server's major version when installed, else from PATH:
    an older pg_dump refuses a newer server."""
    with get_engine().connect() as connection:
        major = int(connection.execute(text("SHOW server_version_num")).scalar_one()) // 10000
    for candidate in (f"/usr/lib/postgresql/{major}/bin/{name}", shutil.which(name)):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise BackupError(
        f"`{name}` is not installed: install the PostgreSQL {major} client (apt-get install postgresql-client-{major})"
    )


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or [f"exit code {result.returncode}"])[-1]
        raise BackupError(f"{what} failed: {reason}")


def _pg_dump(url: URL, target: Path) -> None:
    _run(
        [pg_binary("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={target}"],
        libpq_env(url),
        "pg_dump",
    )


def _pg_restore(url: URL, dump: Path, work: Path) -> None:
    # pg_restore turns the whole dump into SQL first: a damaged dump fails here, before any change.
    script = work / "restore.sql"
    _run(
        [pg_binary("pg_restore"), "--no-owner", "--no-privileges", f"--file={script}", str(dump)],
        libpq_env(url),
        "pg_restore",
    )
    preamble = work / "preamble.sql"
    # The schema is emptied inside the same transaction: tables of a later migration do not survive
    # next to the restored ones, and any error rolls the drop back too.
    preamble.write_text("DROP SCHEMA IF EXISTS public CASCADE;\nCREATE SCHEMA public;\n", encoding="utf-8")
    _refuse_when_in_use(url)
    dispose_engines()
    _run(
        [
            pg_binary("psql"),
            "--no-psqlrc",
            "--quiet",
            "--set=ON_ERROR_STOP=1",
            "--single-transaction",
            f"--file={preamble}",
            f"--file={script}",
        ],
        libpq_env(url),
        "the restore (rolled back)",
    )


def _refuse_when_in_use(url: URL) -> None:
    dispose_engines()
    with get_engine().connect() as connection:
        others = connection.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = 'opex-crm' AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    if others:
        raise BackupError(
            f"{others} connection(s) of a running OPEx CRM use {url.database}: stop the service "
            "first (systemctl stop opex-crm)"
        )


# --- SQLite --------------------------------------------------------------------------------------


def _sqlite_copy(source: Path, target: Path) -> str | None:
    if not source.exists():
        raise BackupError(f"the SQLite database {source} does not exist")
    with _sqlite(source) as src, _sqlite(target) as dst:
        src.backup(dst)  # a consistent copy even while the server writes
    with _sqlite(target) as copy:
        try:
            row = copy.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError:
            row = None
    return str(row[0]) if row else None


@contextmanager
def _sqlite(path: Path) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(path, timeout=30)
    try:
        yield connection
    finally:
        connection.close()


def _sqlite_restore(staged: Path, live: Path) -> None:
    with _sqlite(staged) as copy:
        try:
            verdict = copy.execute("PRAGMA integrity_check").fetchone()
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"the archived SQLite database is damaged: {exc}") from None
    if not verdict or verdict[0] != "ok":
        raise BackupError(f"the archived SQLite database is damaged: {verdict}")
    dispose_engines()
    live.parent.mkdir(parents=True, exist_ok=True)
    # The backup API writes every page in one step under SQLite's write lock: atomic, and correct with
    # the live database's WAL files (renaming a file over a WAL database could replay a stale log).
    with _sqlite(staged) as src, _sqlite(live) as dst:
        src.backup(dst)


# --- restore -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RestoreResult:
    manifest: Manifest
    head: str | None


@contextmanager
def verified_archive(archive: Path, settings: Settings | None = None) -> Iterator[tuple[Manifest, Path]]:
    """Extract `archive` into a scratch directory beside the data and check it completely: every
    member's checksum, the format, a schema revision this code knows, the database kind in use.
    Yields the manifest and the directory; raises BackupError before anything is changed."""
    settings = settings or get_settings()
    if not archive.is_file():
        raise BackupError(f"{archive} does not exist")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=settings.data_dir))
    try:
        found = _extract(archive, staging)
        if MANIFEST not in found:
            raise BackupError(f"{archive} has no {MANIFEST}: not an OPEx CRM backup")
        manifest = Manifest.from_json((staging / MANIFEST).read_bytes())
        found.pop(MANIFEST)
        for name, expected in manifest.members.items():
            if name not in found:
                raise BackupError(f"{archive} is incomplete: {name} is missing")
            if found[name] != expected.get("sha256"):
                raise BackupError(f"{archive} is corrupt: the checksum of {name} does not match")
        if extra := sorted(set(found) - set(manifest.members)):
            raise BackupError(f"{archive} holds members that its manifest does not list: {', '.join(extra[:3])}")
        _check_compatible(manifest, settings)
        yield manifest, staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def restore_backup(archive: Path, settings: Settings | None = None) -> RestoreResult:
    """Replace the database and the stored files by the archive's (see the module's docstring)."""

    settings = settings or get_settings()
    with verified_archive(archive, settings) as (manifest, staging):
        staged_files = staging / FILES_DIRNAME
        staged_files.mkdir(exist_ok=True)
        url = settings.sqlalchemy_url
        if manifest.database == "postgresql":
            _pg_restore(url, staging / PG_DUMP, staging)
        else:
            _sqlite_restore(staging / SQLITE_COPY, Path(url.database or ""))
        _swap_files(staged_files, settings.data_dir / FILES_DIRNAME, staging / "files.previous")
        dispose_engines()
        return RestoreResult(manifest=manifest, head=migrate.head_revision())


def _extract(archive: Path, staging: Path) -> dict[str, str]:
    """Extract regular files only, under `staging`; returns name → SHA-256."""
    found: dict[str, str] = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                if member.isdir():
                    continue
                name = _safe_name(member.name)
                if not member.isfile():
                    raise BackupError(f"{archive} holds {name}, which is not a regular file")
                source = tar.extractfile(member)
                if source is None:
                    raise BackupError(f"{archive}: {name} cannot be read")
                target = staging.joinpath(*PurePosixPath(name).parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                sha = hashlib.sha256()
                with open(target, "wb") as out:
                    while chunk := source.read(_CHUNK):
                        sha.update(chunk)
                        out.write(chunk)
                found[name] = sha.hexdigest()
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise BackupError(f"{archive} is corrupt or truncated ({exc or type(exc).__name__})") from None
    except OSError as exc:  # gzip.BadGzipFile and friends
        raise BackupError(f"{archive} cannot be read ({exc})") from None
    return found


def _safe_name(name: str) -> str:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise BackupError(f"the archive holds an unsafe path: {name!r}")
    return path.as_posix()


def _check_compatible(manifest: Manifest, settings: Settings) -> None:

    kind = settings.sqlalchemy_url.get_backend_name()
    if manifest.database != kind:
        raise BackupError(f"the archive holds a {manifest.database} database; this configuration uses {kind}")
    if manifest.revision is not None:
        script = ScriptDirectory.from_config(migrate.alembic_config())
        try:
            script.get_revision(manifest.revision)
        except CommandError:
            raise BackupError(
                f"the archive's schema revision {manifest.revision} is unknown to OPEx CRM "
                f"{__version__} (newest known: {script.get_current_head()}): it comes from a newer "
                f"version (archive made by {manifest.app_version}); install that version to "
                "restore it"
            ) from None


def _swap_files(new: Path, live: Path, previous: Path) -> None:
    if live.exists():
        os.replace(live, previous)
    try:
        os.replace(new, live)
    except OSError:
        with suppress(OSError):
            os.replace(previous, live)
        raise


def describe(manifest: Manifest) -> str:
    database = next(
        (
            f"{name} ({_size(info['size'])})"
            for name, info in manifest.members.items()
            if not name.startswith(f"{FILES_DIRNAME}/")
        ),
        "no database",
    )
    return (
        f"made {manifest.created_at} by OPEx CRM {manifest.app_version}: {manifest.database} database at "
        f"revision {manifest.revision or 'base'}, {database}, {manifest.file_count} stored file(s)"
    )


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{count} B"


def archive_size(path: Path) -> str:
    return _size(path.stat().st_size)
