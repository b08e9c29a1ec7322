"""`opex-crm doctor`: what an operator checks before (re)starting the service, one line per check.

Each check answers ok, warn or FAIL with the reason; any FAIL makes the command exit 1, so that a
monitoring probe or a deployment script can run it. Nothing is changed and no mail is sent (SMTP is
connect + EHLO + QUIT).
"""

from __future__ import annotations

import os
import shutil
import smtplib
import ssl
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from pydantic import ValidationError
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from crm_app.operations import migrate
from crm_app.platform.config import Settings, reset_settings
from crm_app.platform.errors import ConfigError

#: Below this, the disk check fails (a backup, the logs and PostgreSQL's own files need room).
MIN_FREE_BYTES = 1024**3
#: Below this share of the disk free, it warns.
WARN_FREE_RATIO = 0.10
#: Larger gaps between this machine's clock and the database server's fail (tokens, schedules).
MAX_CLOCK_SKEW = 5.0
SMTP_TIMEOUT = 10


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str

    def line(self) -> str:
        return f"{self.status.value:<4}  {self.name:<13} {self.detail}"


@dataclass
class Report:
    checks: list[Check]

    @property
    def failed(self) -> list[Check]:
        return [check for check in self.checks if check.status is Status.FAIL]

    def summary(self) -> str:
        counts = {status: sum(1 for c in self.checks if c.status is status) for status in Status}
        text_ = (
            f"{len(self.checks)} checks: {counts[Status.OK]} ok, {counts[Status.WARN]} warning(s), "
            f"{counts[Status.FAIL]} failed"
        )
        return text_ + (f" ({', '.join(c.name for c in self.failed)})" if self.failed else "")


def run_checks() -> Report:
    """Read the configuration as the service would and run every check. The checks after the first
    go on even when the configuration is refused, so that one run names every problem."""
    reset_settings()
    try:
        settings = Settings()
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]).upper() if error["loc"] else "configuration"
        return Report([Check("configuration", Status.FAIL, f"{name}: {error['msg']}")])
    checks = [_configuration(settings)]
    try:
        url = settings.sqlalchemy_url
    except ConfigError as exc:
        return Report([*checks, Check("database", Status.FAIL, str(exc))])
    connect_args = {"connect_timeout": 5} if url.get_backend_name() == "postgresql" else {}
    engine = create_engine(url, poolclass=NullPool, connect_args=connect_args)
    try:
        database = _database(engine)
        checks.append(database)
        database_ok = database.status is not Status.FAIL
        checks.append(
            _guarded(_migrations, engine)
            if database_ok
            else Check("migrations", Status.FAIL, "not checked: the database does not answer")
        )
        checks += [
            _guarded(_smtp, settings),
            _guarded(_data_dir, settings),
            _guarded(_disk, settings),
            _guarded(_clock, settings, engine if database_ok else None),
        ]
    finally:
        engine.dispose()
    return Report(checks)


def _guarded(check: Callable[..., Check], *args: Any) -> Check:
    try:
        return check(*args)
    except Exception as exc:  # a check that breaks is a failed check, never a traceback
        name = check.__name__.strip("_").replace("_", "-")
        return Check(name, Status.FAIL, f"{type(exc).__name__}: {exc}")


def _configuration(settings: Settings) -> Check:
    try:
        settings.check()
    except ConfigError as exc:
        return Check("configuration", Status.FAIL, str(exc))
    if not settings.is_production:
        return Check("configuration", Status.OK, "development (secrets generated under DATA_DIR when unset)")
    if not settings.base_url.startswith("https://"):
        return Check(
            "configuration",
            Status.WARN,
            "production, secrets strong; BASE_URL is not https:// (cookies are not marked Secure, no HSTS)",
        )
    return Check("configuration", Status.OK, f"production, secrets strong, BASE_URL {settings.base_url}")


def _database(engine: Engine) -> Check:
    url = engine.url.render_as_string(hide_password=True)
    try:
        started = time.perf_counter()
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        latency = (time.perf_counter() - started) * 1000
    except Exception as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return Check("database", Status.FAIL, f"{url} does not answer: {reason}")
    return Check("database", Status.OK, f"{url} answers in {latency:.1f} ms")


def _migrations(engine: Engine) -> Check:

    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    head = migrate.head_revision()
    if current == head:
        return Check("migrations", Status.OK, f"at head {head}")
    script = ScriptDirectory.from_config(migrate.alembic_config())
    try:
        pending = sum(1 for _ in script.iterate_revisions(head, current))
    except CommandError:
        return Check(
            "migrations",
            Status.FAIL,
            f"the database is at {current}, unknown to this version (head {head}): it was migrated by a newer OPEx CRM",
        )
    return Check(
        "migrations",
        Status.FAIL,
        f"{pending} pending (database at {current or 'base'}, head {head}): run `opex-crm db upgrade`",
    )


def _smtp(settings: Settings) -> Check:
    if not settings.smtp_host:
        status = Status.FAIL if settings.is_production else Status.WARN
        return Check("smtp", status, "SMTP_HOST is not set: mail waits in the outbox")
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    context = ssl.create_default_context()
    try:
        client: smtplib.SMTP = (
            smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT, context=context)
            if settings.smtp_secure
            else smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT)
        )
        with client:
            code, _ = client.ehlo()
            if code != 250:
                return Check("smtp", Status.FAIL, f"{where} refused EHLO ({code})")
            tls = "TLS" if settings.smtp_secure else "no TLS offered"
            if not settings.smtp_secure and client.has_extn("starttls"):
                client.starttls(context=context)
                client.ehlo()
                tls = "STARTTLS"
    except ssl.SSLError as exc:
        return Check("smtp", Status.FAIL, f"{where}: TLS failed ({exc.reason or exc})")
    except (OSError, smtplib.SMTPException) as exc:
        return Check("smtp", Status.FAIL, f"{where} does not answer: {exc or type(exc).__name__}")
    if settings.smtp_password and tls == "no TLS offered":
        return Check("smtp", Status.WARN, f"{where} answers EHLO without TLS: the password will not be sent")
    return Check("smtp", Status.OK, f"{where} answers EHLO ({tls})")


def _data_dir(settings: Settings) -> Check:
    root = settings.data_dir.resolve()
    if not root.exists():
        return Check("data-dir", Status.FAIL, f"{root} does not exist")
    if not root.is_dir():
        return Check("data-dir", Status.FAIL, f"{root} is not a directory")
    try:
        for directory in (root, root / "files"):
            directory.mkdir(exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=directory, prefix=".doctor-"):
                pass
    except OSError as exc:
        return Check("data-dir", Status.FAIL, f"{root} is not writable: {exc.strerror or exc}")
    return Check("data-dir", Status.OK, f"{root} writable")


def _disk(settings: Settings) -> Check:
    root = settings.data_dir if settings.data_dir.exists() else Path(os.path.abspath(settings.data_dir)).parent
    usage = shutil.disk_usage(root)
    detail = (
        f"{usage.free / 1e9:.1f} GB free of {usage.total / 1e9:.1f} GB ({usage.free / usage.total:.0%}) "
        f"under {root.resolve()}"
    )
    if usage.free < MIN_FREE_BYTES:
        return Check("disk", Status.FAIL, detail)
    if usage.free / usage.total < WARN_FREE_RATIO:
        return Check("disk", Status.WARN, detail)
    return Check("disk", Status.OK, detail)


def _clock(settings: Settings, engine: Engine | None) -> Check:
    try:
        zone = ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return Check(
            "clock", Status.FAIL, f"TIMEZONE {settings.timezone!r} is not a known time zone (e.g. Europe/Paris)"
        )
    local = datetime.now(zone).strftime("%Y-%m-%d %H:%M:%S %Z")
    if engine is None or engine.dialect.name != "postgresql":  # SQLite runs in this process: one clock
        return Check("clock", Status.OK, f"{local} ({settings.timezone})")
    skew = _skew_with_database(engine)
    detail = f"{local} ({settings.timezone}), {abs(skew):.1f} s from the database server's clock"
    return Check("clock", Status.FAIL if abs(skew) > MAX_CLOCK_SKEW else Status.OK, detail)


def _skew_with_database(engine: Engine) -> float:
    with engine.connect() as connection:
        before = time.time()
        remote = connection.execute(text("SELECT extract(epoch FROM clock_timestamp())")).scalar_one()
        after = time.time()
    return float(remote) - (before + after) / 2
