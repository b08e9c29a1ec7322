"""`opex-crm backup` and `restore`: a round trip gives back every row of every table and every stored
file, on PostgreSQL and on SQLite; an archive that is damaged, tampered with or made by a newer schema
is refused before anything changes."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from crm_app.operations import migrate
from crm_app.operations.backup import BackupError, create_backup, prune_backups, restore_backup
from crm_app.platform import storage
from crm_app.platform.db import dispose_engines, get_engine, unit_of_work
from crm_app.platform.models.people import Role
from tests.factories import make_team, make_user
from tests.institution_factories import make_contact, make_institution
from tests.postgres import PostgresServer

Snapshot = dict[str, tuple[int, str]]


@pytest.fixture
def scratch_postgres(
    pg_server: PostgresServer, settings_override: Callable[..., None], tmp_path: Path
) -> Iterator[str]:
    """A database of its own (the round trip drops it), migrated, with some data and stored files."""
    url = pg_server.create_database("opex_backup")
    settings_override(database_url=url.render_as_string(hide_password=False), data_dir=str(tmp_path / "data"))
    try:
        _populate()
        yield url.database or ""
    finally:
        dispose_engines()
        pg_server.drop_database(url)


@pytest.fixture
def scratch_sqlite(settings_override: Callable[..., None], tmp_path: Path) -> Path:
    settings_override(database_url="", data_dir=str(tmp_path / "data"))
    _populate()
    return tmp_path / "data" / "opex-crm.sqlite3"


def _populate() -> None:
    migrate.upgrade()
    with unit_of_work() as session:
        team = make_team(session, "Occitanie")
        make_user(session, role=Role.MANAGER, team=team, email="manager@example.org", name="Marie Fabre")
        make_user(session, team=team, email="rep@example.org", name="Paul Girard")
        for number in range(3):
            institution = make_institution(session, name=f"Clinique Saint-Roch {number}", city="Montpellier")
            make_contact(session, institution, first_name="Anne", last_name=f"Roux {number}")
    storage.write_file("logos/company.png", b"\x89PNG\r\n\x1a\n" + os.urandom(2048))
    storage.write_file("documents/2026/FAC-2026-00001.pdf", b"%PDF-1.7\n" + os.urandom(4096))


def _tables_snapshot() -> Snapshot:
    """Row count and a checksum of the sorted rows, per table."""
    engine = get_engine()
    snapshot: Snapshot = {}
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            tables = (
                connection.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"))
                .scalars()
                .all()
            )
            for table in tables:
                count, digest = connection.execute(
                    text(
                        f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "  # noqa: S608
                        f'FROM "{table}" t'
                    )
                ).one()
                snapshot[table] = (int(count), str(digest))
        else:
            tables = (
                connection.execute(text("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1"))
                .scalars()
                .all()
            )
            for table in tables:
                rows = sorted(repr(tuple(row)) for row in connection.execute(text(f'SELECT * FROM "{table}"')))  # noqa: S608
                snapshot[table] = (len(rows), hashlib.sha256("|".join(rows).encode()).hexdigest())
    return snapshot


def _files_snapshot() -> dict[str, str]:
    root = storage.files_dir()
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _state() -> tuple[Snapshot, dict[str, str]]:
    return _tables_snapshot(), _files_snapshot()


def _change_everything() -> None:
    with unit_of_work() as session:
        make_institution(session, name="Centre hospitalier de Sète", city="Sète")
    storage.delete_file("logos/company.png")
    storage.write_file("logos/other.png", b"\x89PNG other")


def test_postgresql_round_trip_gives_back_every_row_and_file(
    scratch_postgres: str, pg_server: PostgresServer, tmp_path: Path
) -> None:
    before = _state()
    assert before[0]["users"][0] == 2 and before[0]["institutions"][0] == 3 and before[0]["contacts"][0] == 3
    assert before[0]["alembic_version"][0] == 1 and len(before[1]) == 2

    result = create_backup(tmp_path / "backups")
    assert result.path.name.startswith("opex-crm-backup-") and result.path.stat().st_mode & 0o777 == 0o600
    assert result.manifest.database == "postgresql"
    assert result.manifest.revision == migrate.head_revision()
    assert set(result.manifest.members) == {
        "database.dump",
        "files/logos/company.png",
        "files/documents/2026/FAC-2026-00001.pdf",
    }

    _change_everything()
    assert _state() != before
    restore_backup(result.path)
    assert _state() == before

    # Drop: the database is gone, made again empty, and the archive fills it.
    dispose_engines()
    with pg_server._connect() as connection:
        connection.execute(f'DROP DATABASE "{scratch_postgres}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{scratch_postgres}"')
    restore_backup(result.path)
    assert _state() == before


def test_sqlite_round_trip_gives_back_every_row_and_file(scratch_sqlite: Path, tmp_path: Path) -> None:
    before = _state()
    assert before[0]["users"][0] == 2 and before[0]["institutions"][0] == 3

    result = create_backup(tmp_path / "backups")
    assert result.manifest.database == "sqlite" and "database.sqlite3" in result.manifest.members

    _change_everything()
    assert _state() != before
    restore_backup(result.path)
    assert _state() == before

    dispose_engines()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{scratch_sqlite}{suffix}").unlink(missing_ok=True)
    restore_backup(result.path)
    assert _state() == before


def _rewrite(archive: Path, target: Path, change: Callable[[str, bytes], bytes]) -> Path:
    """A copy of `archive` with each member's content passed through `change(name, content)`."""
    with tarfile.open(archive, "r:gz") as source, tarfile.open(target, "w:gz") as out:
        for member in source:
            handle = source.extractfile(member)
            content = change(member.name, handle.read() if handle else b"")
            member.size = len(content)
            out.addfile(member, io.BytesIO(content))
    return target


def _newer_manifest(name: str, content: bytes) -> bytes:
    if name != "manifest.json":
        return content
    manifest = json.loads(content)
    manifest["revision"] = "0999_from_the_future"
    return json.dumps(manifest).encode()


def test_a_damaged_tampered_or_newer_archive_is_refused_with_nothing_changed(
    scratch_postgres: str, tmp_path: Path
) -> None:
    good = create_backup(tmp_path / "backups").path
    _change_everything()
    before = _state()
    raw = good.read_bytes()
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(raw[: len(raw) // 2])
    flipped = tmp_path / "flipped.tar.gz"
    flipped.write_bytes(raw[:2000] + bytes([raw[2000] ^ 0xFF]) + raw[2001:])
    tampered = _rewrite(
        good,
        tmp_path / "tampered.tar.gz",
        lambda name, content: content + b"x" if name.startswith("files/logos") else content,
    )
    newer = _rewrite(good, tmp_path / "newer.tar.gz", _newer_manifest)
    expected = {
        truncated: "is corrupt or truncated",
        flipped: "is corrupt",
        tampered: "is corrupt: the checksum of files/logos/company.png does not match",
        newer: "the archive's schema revision 0999_from_the_future is unknown to OPEx CRM",
    }
    for archive, message in expected.items():
        with pytest.raises(BackupError, match=message.replace("(", r"\(")):
            restore_backup(archive)
        assert _state() == before, archive.name
    assert not [p for p in Path(storage.files_dir()).parent.iterdir() if p.name.startswith(".restore-")]


def test_archives_older_than_keep_days_are_pruned(tmp_path: Path) -> None:
    now = datetime(2026, 3, 20, 2, 0, tzinfo=UTC)
    names = [
        f"opex-crm-backup-{(now - timedelta(days=age)).strftime('%Y%m%dT%H%M%SZ')}.tar.gz" for age in (0, 13, 15, 40)
    ]
    for name in [*names, "notes.txt"]:
        (tmp_path / name).write_bytes(b"x")
    deleted = prune_backups(tmp_path, keep_days=14, now=now)
    assert [p.name for p in deleted] == sorted(names[2:])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*names[:2], "notes.txt"])


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crm_app.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )


def test_restore_asks_for_confirmation_and_only_checks_the_archive_without_it(
    scratch_sqlite: Path, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": "", "DATA_DIR": str(scratch_sqlite.parent)}
    made = _cli("backup", "--output", str(tmp_path / "backups"), **env)
    assert made.returncode == 0, made.stderr
    line = made.stdout.strip()
    assert line.startswith(f"backup written to {tmp_path / 'backups'}/opex-crm-backup-")
    assert line.endswith(f"; sqlite at revision {migrate.head_revision()}, 2 stored file(s))")
    archive = next((tmp_path / "backups").glob("*.tar.gz"))
    before = _state()

    checked = _cli("restore", str(archive), **env)
    assert checked.returncode == 1
    assert checked.stdout.startswith(f"{archive.name} is complete: made ")
    assert checked.stderr.strip() == (
        "opex-crm: nothing restored: add --yes-i-know to replace the database and the stored files"
    )
    assert _state() == before

    (tmp_path / "broken.tar.gz").write_bytes(archive.read_bytes()[:500])
    refused = _cli("restore", str(tmp_path / "broken.tar.gz"), "--yes-i-know", **env)
    assert refused.returncode == 1
    assert refused.stderr.startswith("opex-crm: restore refused, nothing changed: ")
    assert "broken.tar.gz is corrupt or truncated" in refused.stderr
